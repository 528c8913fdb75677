#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kernel's own livepatch selftests (tools/testing/selftests/livepatch: bash scripts and
# their test modules) with modsym loaded and its acceleration on (the kernel's module address
# lookups through modsym's index), then modsym's parity check with it off (KTAP, one test
# per script). `make payload` puts them in ../livepatch; KLP_SELFTESTS_DIR overrides.
# Needs root, bash and CONFIG_LIVEPATCH. On a busybox userland, thin adapters (klp-shims/;
# `make payload` builds its insmod.c) supply the GNU/kmod options and messages the scripts
# use; GNU systems run them as they are.
# shellcheck shell=dash disable=SC2317 # tests run through ktap_run
# shellcheck source=ktap.sh
. "$(dirname "$0")/ktap.sh"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ktap_print_header

KLP_DIR=${KLP_SELFTESTS_DIR:-$selftests_dir/../livepatch}
[ "$(id -u)" = 0 ] || ktap_skip_suite "must be root"
[ -f "$KLP_DIR/functions.sh" ] || ktap_skip_suite "no livepatch selftests in $KLP_DIR"
command -v bash >/dev/null || ktap_skip_suite "no bash"
[ -d /sys/kernel/livepatch ] || ktap_skip_suite "no CONFIG_LIVEPATCH"

# Adapters for busybox tools, only where the tool lacks what the scripts use. The scripts
# call /bin/stat by path, so a busybox /bin/stat link is swapped for the adapter meanwhile.
shims=/tmp/modsym-klp-shims
rm -rf "$shims" && mkdir -p "$shims"
probe_ko=$(find "$KLP_DIR/test_modules" -name '*.ko' | head -n 1)
date --rfc-3339=ns >/dev/null 2>&1 || cp "$selftests_dir/klp-shims/date" "$shims/"
sysctl --values kernel.ostype >/dev/null 2>&1 || cp "$selftests_dir/klp-shims/sysctl" "$shims/"
modinfo "$probe_ko" 2>/dev/null | grep -q '^name:' || cp "$selftests_dir/klp-shims/modinfo" "$shims/"
[ "$(readlink /bin/insmod 2>/dev/null)" != /bin/busybox ] || cp "$selftests_dir/klp-shims/insmod" "$shims/"
diff --label a -upr /dev/null /dev/null >/dev/null 2>&1 || cp "$selftests_dir/klp-shims/diff" "$shims/"
getconf _NPROCESSORS_ONLN >/dev/null 2>&1 || cp "$selftests_dir/klp-shims/getconf" "$shims/"
stat_swapped=
if ! /bin/stat --format %A / >/dev/null 2>&1 && [ "$(readlink /bin/stat)" = /bin/busybox ]; then
	mv /bin/stat /bin/stat.modsym-busybox && cp "$selftests_dir/klp-shims/stat" /bin/stat && stat_swapped=1
fi
restore() {
	[ -z "$stat_swapped" ] || mv /bin/stat.modsym-busybox /bin/stat
	rm -rf "$shims"
}
trap restore EXIT
adapters=$(cd "$shims" && find . -type f | sed 's|^\./||' | tr '\n' ' ')
[ -z "$adapters$stat_swapped" ] || ktap_msg "busybox adapters: $adapters${stat_swapped:+/bin/stat}"

# run_klp SCRIPT: one kernel selftest script, its output as KTAP comments.
run_klp() {
	(cd "$KLP_DIR" && PATH=$shims:$PATH KDIR=$KLP_DIR bash "./$1") >/tmp/klp.out 2>&1
	status=$?
	sed 's/^/# /' /tmp/klp.out
	loaded modsym || {
		ktap_msg "modsym is no longer loaded"
		return 1
	}
	return "$status"
}

accelerate() {
	accel_set 1 && expect_eq "acceleration" "$(accel_state)" 1
}
decelerate() {
	ktap_msg "answered while on: $(accel_counts)"
	accel_set 0
}

scripts=$(cd "$KLP_DIR" && ls test-*.sh)
load modsym || exit 1
ktap_set_plan $(($(echo "$scripts" | wc -w) + 3))
ktap_run "modsym's acceleration switched on" accelerate
for s in $scripts; do
	ktap_run "kernel livepatch selftest $s with modsym's acceleration on" run_klp "$s"
done
ktap_run "modsym's acceleration switched off" decelerate
ktap_run "modsym verify: 0 mismatches after the livepatch selftests" verify_clean
rmmod modsym
ktap_finish

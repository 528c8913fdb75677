#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# modsym under load (KTAP): readers hammer every debugfs file while other processes load and
# unload modules (one whose init fails, one that waits in init); then modsym itself is
# removed while readers hold its files open. STRESS_SECONDS (default 60) bounds the storm.
# shellcheck shell=dash disable=SC2317 # tests run through ktap_run
# shellcheck source=ktap.sh
. "$(dirname "$0")/ktap.sh"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ktap_print_header

[ "$(id -u)" = 0 ] || ktap_skip_suite "must be root"
seconds=${STRESS_SECONDS:-60}
work=$(mktemp -d)

resolve_once() {
	# shellcheck disable=SC2046 # one argument per address
	resolve $(module_functions | head -n 500) >"$work/resolve.out" 2>/dev/null || return 1
	lines=$(wc -l <"$work/resolve.out")
	echo "$lines" >>"$work/lookups"
}
lookup_once() { query lookup dup_helper >/dev/null 2>&1; }
symbols_once() { cat "$MODSYM_DEBUGFS/symbols" >/dev/null 2>&1; }
verify_once() {
	cat "$MODSYM_DEBUGFS/verify" >"$work/verify.out" 2>/dev/null || return 1
	# Mismatches are expected only for modules that went away mid-check; log them for the record.
	awk '$1 == "mismatches" && $2 != 0 { print "# verify under churn: " $0 }' "$work/verify.out"
}

# unload_held NAME: unload NAME. The lookup worker's first lookup of a module holds it while it
# builds the module's name index, and an rmmod in that moment fails with EAGAIN (see the
# README): retried for up to 5 s.
unload_held() { wait_for 5 unload "$1" 2>/dev/null || unload "$1"; }

load_cycle() {
	# Unloaded without waiting: its GOING event may come before its index is built.
	load_only modsym_test && unload_held modsym_test || return 1
	! load modsym_test fail=1 2>/dev/null || return 1
	load modsym_test wait=1 &
	wait_for 30 test -e "$TEST_RELEASE" || return 1
	a=$(kallsyms_addr modsym_test_init_helper modsym_test)
	[ -z "$a" ] || resolve "$(hex "$a")" >/dev/null
	echo 1 >"$TEST_RELEASE"
	wait && unload_held modsym_test
}
ext4_cycle() { load_ext4 && unload_ext4; }

t_storm() {
	cpus=$(grep -c '^processor' /proc/cpuinfo)
	ktap_msg "storm on $cpus CPUs"
	[ "$cpus" -ge 2 ] || {
		ktap_msg "readers and writers need 2 CPUs or more to interleave"
		return 1
	}
	load modsym || return 1
	rm -f "$work/stop" "$work/lookups"
	worker resolve resolve_once &
	worker resolve2 resolve_once &
	worker lookup lookup_once &
	worker symbols symbols_once &
	worker verify verify_once &
	worker loads load_cycle &
	worker ext4 ext4_cycle &
	sleep "$seconds"
	touch "$work/stop"
	wait
	served=$(awk '{ s += $1 } END { print s + 0 }' "$work/lookups")
	ktap_msg "storm ${seconds}s: $served addresses resolved in $(cat "$work/resolve.count") + $(cat "$work/resolve2.count") batches," \
		"$(cat "$work/lookup.count") lookups, $(cat "$work/symbols.count") symbols listings, $(cat "$work/verify.count") verify runs," \
		"$(cat "$work/loads.count") modsym_test cycles (ok + failed + waiting init), $(cat "$work/ext4.count") ext4 stack cycles"
	[ "$(cat "$work/loads.count")" -gt 0 ] && [ "$(cat "$work/ext4.count")" -gt 0 ] && [ "$served" -gt 0 ]
}

t_after_storm() {
	unload modsym_test && unload_ext4 || return 1
	modules_exact && verify_clean
}

# rmmod modsym while readers hold its files open and others keep opening and querying:
# rmmod says the module is in use (an open debugfs file pins its module) and readers see no
# error; once everyone has closed, it unloads, a new open fails cleanly, and it reloads.
# (The openers stop before the final rmmod: an open racing with a successful unload can hit
# the kernel's "debugfs file owner did not clean up at exit" WARN, from the window in
# try_stop_module() between dropping the module's refcount and setting MODULE_STATE_GOING,
# whatever the module.)
t_rmmod_under_load() {
	local f job holders=''
	load_ext4 || return 1
	rm -f "$work/stop"
	for f in resolve symbols verify; do
		(
			command exec 3<"$MODSYM_DEBUGFS/$f" || exit 1
			while [ ! -e "$work/stop" ]; do
				cat <&3 >/dev/null || exit 1
			done
		) &
		holders="$holders $!"
	done
	(
		n=0
		while [ ! -e "$work/stop" ]; do
			resolve 0x0 >/dev/null || exit 1
			n=$((n + 1))
		done
		echo "$n" >"$work/openers.count"
	) &
	holders="$holders $!"
	sleep 3
	if rmmod modsym 2>"$work/rmmod.err"; then
		ktap_msg "rmmod succeeded with files open"
		return 1
	fi
	ktap_msg "rmmod with open files: $(cat "$work/rmmod.err")"
	sleep 2
	touch "$work/stop"
	# Each exits 0 only if every read, open and query it made succeeded.
	for job in $holders; do
		wait "$job" || return 1
	done
	ktap_msg "an opener queried $(cat "$work/openers.count") times while rmmod was refused"
	rmmod modsym || return 1
	if (exec 3<"$MODSYM_DEBUGFS/resolve") 2>/dev/null; then
		ktap_msg "resolve still opens after rmmod"
		return 1
	fi
	load modsym || return 1
	expect_eq "ext4 after reload" "$(module_state ext4)" live || return 1
	verify_clean || return 1
	rmmod modsym && unload_ext4
}

ktap_set_plan 3
ktap_run "storm: readers on every file while modules load and unload" t_storm
ktap_run "after the storm: modules lists exactly the loaded modules, verify clean" t_after_storm
ktap_run "rmmod modsym with open files and busy readers, then reload" t_rmmod_under_load
rm -rf "$work"
ktap_finish

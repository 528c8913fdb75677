#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# modsym when its allocations fail (KTAP), with the kernel's fault injection: failslab and
# fail_page_alloc, restricted to allocations made from module code (require-start/end,
# CONFIG_FAULT_INJECTION_STACKTRACE_FILTER), so that the shell and the kernel around modsym
# keep working.
#  - modsym's init with each of its allocations failing in turn (/proc/self/fail-nth), and a
#    first `lookup` write running out of memory at each of its allocations in turn: a
#    refused operation leaves nothing behind;
#  - reads of `verify`, `symbols` and `modules` running out of memory the same way: the
#    read fails with ENOMEM or gives the whole listing;
#  - a storm of module loads and unloads and reads of every file while a share of modsym's
#    allocations fail (FAULT_PERCENT, default 20, for FAULT_SECONDS, default 20);
#  - then, with injection off and one more module event: `modules` lists exactly the loaded
#    modules and `verify` is clean.
# Kernel reports fail the run as in every suite (qemu/run lets through only the stack traces
# of allocation failures, between this suite's kmsg markers, which the kernel prints for
# its own allocations under modsym's); modsym's own large allocations fail quietly (no
# `vmalloc error`), and kmemleak.sh, run after this suite on the debug kernel, finds leaks.
# Skips where fault injection is not configured.
# shellcheck shell=dash disable=SC2317 # tests run through ktap_run
# shellcheck source=ktap.sh
. "$(dirname "$0")/ktap.sh"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ktap_print_header

[ "$(id -u)" = 0 ] || ktap_skip_suite "must be root"
[ "$(uname -m)" = x86_64 ] || ktap_skip_suite "the module space below is x86_64's"
faults=/sys/kernel/debug
for attr in failslab fail_page_alloc; do
	[ -e "$faults/$attr/require-start" ] ||
		ktap_skip_suite "no $attr with a stack filter (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC, CONFIG_FAULT_INJECTION_STACKTRACE_FILTER)"
done
percent=${FAULT_PERCENT:-20}
seconds=${FAULT_SECONDS:-20}
work=$(mktemp -d)
# Module space on x86_64: a stack through any module's code (modsym's alone, while only
# modsym's code runs in the task).
MODULES_START=0xffffffffa0000000
MODULES_END=0xfffffffffeffffff

# set_faults NAME VALUE: sets NAME of both fault attributes.
set_faults() {
	echo "$2" >"$faults/failslab/$1" && echo "$2" >"$faults/fail_page_alloc/$1"
}

# Budget for injected failures, so that their number can be read back (each one decrements
# `times`, in fail-nth mode too).
TIMES=1000000
injected() {
	echo $((2 * TIMES - $(cat "$faults/failslab/times") - $(cat "$faults/fail_page_alloc/times")))
}

# fail_in START END: from now on, only allocations with [START, END) on the stack may fail;
# marks the start in the kernel log (see qemu/run).
fail_in() {
	set_faults require-start "$1" && set_faults require-end "$2" && set_faults times "$TIMES" &&
		echo "modsym-faults: injecting" >/dev/kmsg
}

# fail_done: marks the end of injection in the kernel log, and fails if a `vmalloc error`
# was logged since it started: modsym allocates its indexes and write buffers with
# __GFP_NOWARN, since it handles and logs their failure itself.
fail_done() {
	echo "modsym-faults: stopped" >/dev/kmsg
	expect_eq "vmalloc errors logged while injecting" "$(dmesg | awk '
		/modsym-faults: injecting/ { on = 1; n = 0 } on && /vmalloc error: / { n++ }
		END { print n + 0 }')" 0
}

t_setup() {
	loaded modsym || load modsym || return 1
	# GFP_KERNEL allocations too, pages of any order, no stack dumps.
	echo N >"$faults/failslab/ignore-gfp-wait" || return 1
	echo N >"$faults/fail_page_alloc/ignore-gfp-wait" || return 1
	echo 0 >"$faults/fail_page_alloc/min-order" || return 1
	set_faults verbose 0 && set_faults probability 0 && set_faults interval 1 || return 1
	set_faults task-filter N && set_faults stacktrace-depth 32
}

# fail_nth_sweep WHAT RUN CHECK: runs `RUN N` for N = 1, 2, ... (the operation, with its Nth
# allocation from module code failing; it returns the operation's status), then `CHECK
# STATUS`, which must pass; until a run sees no failure.
fail_nth_sweep() {
	local what=$1 run=$2 check=$3 n=0 before status refused=0
	fail_in "$MODULES_START" "$MODULES_END" || return 1
	while [ "$n" -lt 2000 ]; do
		n=$((n + 1))
		before=$(injected)
		"$run" "$n"
		status=$?
		[ "$status" -eq 0 ] || refused=$((refused + 1))
		"$check" "$status" || {
			ktap_msg "$what with allocation $n failing: status $status"
			fail_done
			return 1
		}
		[ "$(injected)" -gt "$before" ] || break
	done
	ktap_msg "$what: $((n - 1)) allocations from module code, each failed in turn: $refused refused"
	fail_done && [ "$n" -gt 1 ]
}

# modsym's init fails at each of its allocations in turn: the load is refused cleanly
# (nothing left behind), or succeeds (debugfs is optional, an index can wait for the next
# event) and lists every module exactly once the next event came. The insmod of klp-shims/
# tries once (busybox's retries a failed finit_module() with init_module(), which would
# load modsym the second time).
insmod_modsym() {
	sh -c 'echo "$0" >/proc/self/fail-nth && exec "$1" "$2"' "$1" "$selftests_dir/klp-shims/insmod" \
		"$modsym_ko" >/dev/null 2>&1
}
modsym_checked() {
	if [ "$1" -ne 0 ]; then
		! loaded modsym && [ ! -e "$MODSYM_DEBUGFS" ]
		return
	fi
	load modsym_test && unload modsym_test || return 1
	[ ! -e "$MODSYM_DEBUGFS" ] || modules_exact || return 1
	rmmod modsym
}
t_init_fails() {
	[ -x "$selftests_dir/klp-shims/insmod" ] || return "$KSFT_SKIP"
	modsym_ko=$(find_ko modsym) || return 1
	rmmod modsym || return 1
	fail_nth_sweep "insmod modsym.ko" insmod_modsym modsym_checked
	status=$?
	load modsym || return 1
	return "$status"
}

# A first `lookup` write (it builds the name index) runs out of memory at each of its
# allocations in turn, that one and every later one failing (a single failure is absorbed:
# a failed kmalloc() of a kvmalloc() falls back to vmalloc()): a refused write stores no
# query (reading answers nothing), an accepted one answers exactly.
write_lookup() {
	command exec 3<>"$MODSYM_DEBUGFS/lookup" || return 1
	# In this shell, since fail-nth is per task (and reset by fork): printf is a builtin.
	# Once fail-nth has fired, make-it-fail and probability 100 fail the rest.
	set_faults probability 100
	echo 1 >/proc/self/make-it-fail
	echo "$1" >/proc/self/fail-nth
	printf 'modsym_test:dup_helper\n' >&3 2>/dev/null
	set -- $?
	echo 0 >/proc/self/fail-nth
	echo 0 >/proc/self/make-it-fail
	set_faults probability 0
	return "$1"
}
lookup_checked() {
	answer=$(cat <&3)
	exec 3<&-
	if [ "$1" -ne 0 ]; then
		expect_eq "answer after a refused write" "$answer" ""
		return
	fi
	expect_eq "dup_helper entries" "$(echo "$answer" | grep -c ' dup_helper \[modsym_test\]$')" 2
}
t_lookup_refused() {
	# A fresh modsym and test module: no name index built yet.
	rmmod modsym && load modsym || return 1
	unload modsym_test && load modsym_test || return 1
	set_faults task-filter Y || return 1
	fail_nth_sweep "first lookup write out of memory" write_lookup lookup_checked
	status=$?
	set_faults task-filter N
	return "$status"
}

# Reads of `verify`, `symbols` and `modules` out of memory at each of modsym's allocations
# in turn, that one and every later one failing: the open or a read fails with ENOMEM
# after a beginning of the listing (no line skipped before the error), or the read gives
# the whole listing, as without failures. Never a shorter listing that ends as if complete.
read_file() {
	sh -c 'echo 1 >/proc/self/make-it-fail && echo "$0" >/proc/self/fail-nth && exec cat "$1"' \
		"$1" "$MODSYM_DEBUGFS/$reading" >"$work/out" 2>"$work/err"
}
read_checked() {
	if [ "$1" -ne 0 ]; then
		grep -q "Cannot allocate memory" "$work/err" &&
			head -c "$(wc -c <"$work/out")" "$work/whole" | cmp -s - "$work/out" && return
		ktap_msg "$reading: failed with '$(cat "$work/err")' after $(wc -l <"$work/out") lines: not ENOMEM after the listing's first lines"
		return 1
	fi
	cmp -s "$work/out" "$work/whole" && return
	ktap_msg "$reading: $(wc -l <"$work/out") lines, not the $(wc -l <"$work/whole") of a read without failures"
	return 1
}
t_read_refused() {
	status=0
	set_faults task-filter Y && set_faults probability 100 || status=1
	for reading in verify symbols modules; do
		[ "$status" = 0 ] || break
		if ! cat "$MODSYM_DEBUGFS/$reading" >"$work/whole" ||
			! fail_nth_sweep "a read of $reading out of memory" read_file read_checked; then
			status=1
			break
		fi
	done
	set_faults probability 0
	set_faults task-filter N
	return "$status"
}

# The storm: workers loop until the stop file appears.
worker() {
	while [ ! -e "$work/stop" ]; do "$@"; done
}
cycle_test() {
	load modsym_test && unload modsym_test
	load modsym_test fail=1
	load modsym_test wait=1 &
	wait_for 30 test -e "$TEST_RELEASE" && echo 1 >"$TEST_RELEASE"
	wait
	unload modsym_test
}
cycle_big() { load modsym_bulk20k && load modsym_gen1k_1 && unload modsym_gen1k_1 && unload modsym_bulk20k; }
cycle_ext4() { load_ext4 && unload_ext4; }
read_files() {
	for f in modules symbols verify; do cat "$MODSYM_DEBUGFS/$f" >/dev/null; done
	query lookup modsym_bulk20k:modsym_bulk_fn7 >/dev/null
	# shellcheck disable=SC2046 # one argument per address
	resolve $(module_functions | head -n 200) >/dev/null
}

t_storm() {
	# modsym's code, from its own listing: start of its first text symbol to the end of
	# its last (module addresses have 16 digits: they sort as strings).
	awk '$NF == "[modsym]" && $3 ~ /^[tT]$/ { print $1, $2 }' "$MODSYM_DEBUGFS/symbols" |
		sort >"$work/text" || return 1
	read -r lo _ <"$work/text" || return 1
	read -r last size <<EOF_LAST
$(tail -n 1 "$work/text")
EOF_LAST
	hi=$(printf '0x%x' $((last + size)))
	ktap_msg "modsym's text: $lo-$hi; $percent% of its allocations fail for ${seconds}s"
	fail_in "$lo" "$hi" || return 1
	set_faults probability "$percent"
	rm -f "$work/stop"
	worker cycle_test 2>/dev/null >/dev/null &
	worker cycle_big 2>/dev/null >/dev/null &
	worker cycle_ext4 2>/dev/null >/dev/null &
	worker read_files 2>/dev/null >/dev/null &
	worker read_files 2>/dev/null >/dev/null &
	sleep "$seconds"
	touch "$work/stop"
	wait
	set_faults probability 0
	ktap_msg "$(injected) allocations failed; modsym logged $(dmesg | grep -c 'modsym: cannot index') modules it could not index"
	fail_done && [ "$(injected)" -gt 0 ]
}

t_after_storm() {
	set_faults require-start 0 && set_faults require-end 0xffffffffffffffff || return 1
	loaded modsym || load modsym || return 1
	for m in modsym_test modsym_gen1k_1 modsym_bulk20k; do unload "$m" || return 1; done
	unload_ext4 || return 1
	# One more event: modsym catches up with whatever it could not index.
	load modsym_test || return 1
	modules_exact || return 1
	verify_clean || return 1
	unload modsym_test
}

ktap_set_plan 6
ktap_run "fault injection set up: failslab and fail_page_alloc, stack-filtered" t_setup
ktap_run "insmod modsym with each of its init allocations failing: refused cleanly or exact" t_init_fails
ktap_run "a first lookup write out of memory at each allocation: a refused write stores nothing" t_lookup_refused
ktap_run "reads out of memory at each allocation: ENOMEM or the whole listing, never a short one" t_read_refused
ktap_run "storm: loads, unloads and readers while modsym's allocations fail" t_storm
ktap_run "after the storm and one more event: modules lists exactly the loaded modules, verify clean" t_after_storm
rm -rf "$work"
ktap_finish

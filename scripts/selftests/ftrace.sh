#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kernel's own ftrace selftests (tools/testing/selftests/ftrace: ftracetest and its
# test.d cases) with modules loaded and modsym's acceleration on, then modsym's parity check
# with it off (KTAP, one test per case). The cases are those that resolve module symbols
# through the functions modsym replaces (function names in the trace and in filters, stack
# traces, kprobe events by symbol and by `mod:sym`) or that put other ftrace users on
# ftrace sites beside modsym's hook, and that run in modsym's guests. `make payload` puts
# ftracetest in ../ftrace; FTRACE_SELFTESTS_DIR overrides. FTRACE_CASES=modules runs only
# the cases about module symbols and stack traces (the debug kernel, where each case takes a
# minute, runs these).
# shellcheck shell=dash disable=SC2317 # tests run through ktap_run
# shellcheck source=ktap.sh
. "$(dirname "$0")/ktap.sh"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ktap_print_header

FTRACE_DIR=${FTRACE_SELFTESTS_DIR:-$selftests_dir/../ftrace}
[ "$(id -u)" = 0 ] || ktap_skip_suite "must be root"
[ -x "$FTRACE_DIR/ftracetest" ] || ktap_skip_suite "no ftrace selftests in $FTRACE_DIR"
# bash, not busybox sh: its applets (modprobe) would bypass the adapter in PATH.
command -v bash >/dev/null || ktap_skip_suite "no bash"
tracing=/sys/kernel/tracing
[ -e "$tracing/available_filter_functions" ] || mount -t tracefs tracefs "$tracing" 2>/dev/null
[ -e "$tracing/available_filter_functions" ] || ktap_skip_suite "no dynamic ftrace"

# About two minutes in the x86_64 guest. Left out: cases that need what the test kernels
# lack (snapshots, the stack tracer, the function profiler, fprobes, BTF, eprobes, synthetic
# events, uprobes on a real binary, trace_marker_raw, tracefs ownership options, kretprobe
# maxactive), cases about neither symbols nor ftrace sites, and the slowest (basic2's every
# tracer, fgraph-multi*, multiple_kprobes: 20-40 s each under TCG).
CASES="
00basic/basic1.tc
00basic/basic3.tc
00basic/basic4.tc
00basic/trace_pipe.tc
ftrace/fgraph-filter.tc
ftrace/func-filter-glob.tc
ftrace/func-filter-stacktrace.tc
ftrace/func_event_triggers.tc
ftrace/func_mod_trace.tc
ftrace/func_set_ftrace_file.tc
ftrace/func_traceonoff_triggers.tc
kprobe/add_and_remove.tc
kprobe/kprobe_args_symbol.tc
kprobe/kprobe_module.tc
kprobe/kprobe_non_uniq_symbol.tc
kprobe/kprobe_syntax_errors.tc
kprobe/kretprobe_args.tc
kprobe/probepoint.tc
dynevent/add_remove_kprobe.tc
"
[ "${FTRACE_CASES:-}" != modules ] || CASES="
ftrace/func_mod_trace.tc
ftrace/func-filter-stacktrace.tc
kprobe/kprobe_module.tc
kprobe/kprobe_non_uniq_symbol.tc
"
# The module cases load the kernel's trace-printk sample (`modprobe trace-printk`), which
# `make payload` builds beside ftracetest; ftrace-shims/modprobe loads it from there.
export MODSYM_FTRACE_MODULES="$FTRACE_DIR"

# run_case CASE: one ftracetest case, its output as KTAP comments; skipped where ftracetest
# finds the kernel lacks what it needs (UNSUPPORTED), failed otherwise unless it passed.
run_case() {
	(cd "$FTRACE_DIR" && PATH=$selftests_dir/ftrace-shims:$PATH bash ./ftracetest -l /tmp/ftrace-logs "test.d/$1") \
		>/tmp/ftrace.out 2>&1
	status=$?
	sed 's/^/# /' /tmp/ftrace.out
	loaded modsym || {
		ktap_msg "modsym is no longer loaded"
		return 1
	}
	grep -q '\[UNSUPPORTED\]' /tmp/ftrace.out && return "$KSFT_SKIP"
	[ "$status" = 0 ] && grep -q '\[PASS\]' /tmp/ftrace.out
}

accelerate() {
	load_ext4 && { loaded modsym_test || load modsym_test; } || return 1
	accel_set 1 && expect_eq "acceleration" "$(accel_state)" 1
}
decelerate() {
	# What a failed case may have left behind, for the suites after this one.
	echo nop >"$tracing/current_tracer" && echo 0 >"$tracing/events/enable" &&
		echo >"$tracing/set_ftrace_filter" || return 1
	[ ! -e "$tracing/kprobe_events" ] || echo >"$tracing/kprobe_events" || return 1
	unload trace_printk || return 1
	counts=$(accel_counts)
	ktap_msg "answered while on: $counts"
	accel_set 0 || return 1
	[ "$(echo "$counts" | awk '{ print $2 + $4 }')" -gt 0 ] || {
		ktap_msg "no module address lookup went through modsym"
		return 1
	}
}

load modsym || exit 1
# shellcheck disable=SC2086 # a list of cases
ktap_set_plan $(($(echo $CASES | wc -w) + 3))
ktap_run "modsym's acceleration switched on (ext4 and modsym_test loaded)" accelerate
for c in $CASES; do
	ktap_run "kernel ftrace selftest $c with modsym's acceleration on" run_case "$c"
done
ktap_run "modsym's acceleration switched off; module lookups went through it" decelerate
ktap_run "modsym verify: 0 mismatches after the ftrace selftests" verify_clean
unload modsym_test && unload_ext4 && rmmod modsym
ktap_finish

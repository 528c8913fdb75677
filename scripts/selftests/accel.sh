#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Acceleration (KTAP): writing 1 to modsym's `accelerate` routes the kernel's own module
# address lookups (find_kallsyms_symbol(): %pS, stack traces, available_filter_functions)
# through modsym's index; every answer must stay byte-identical, and 0 switches it off.
# Needs ftrace (CONFIG_DYNAMIC_FTRACE_WITH_ARGS); without it those tests skip and the
# refusal (EOPNOTSUPP) is tested instead. Loads and unloads modules; leaves modsym unloaded.
# ACCEL_SECONDS (default STRESS_SECONDS, else 60) bounds the switching storm.
# shellcheck shell=dash disable=SC2317 # tests run through ktap_run
# shellcheck source=ktap.sh
. "$(dirname "$0")/ktap.sh"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ktap_print_header

[ "$(id -u)" = 0 ] || ktap_skip_suite "must be root"
seconds=${ACCEL_SECONDS:-${STRESS_SECONDS:-60}}
work=$(mktemp -d)

tracing=/sys/kernel/tracing
if [ -d "$tracing" ] && [ ! -e "$tracing/available_filter_functions" ]; then
	mount -t tracefs tracefs "$tracing" 2>/dev/null
fi
[ -e "$tracing/available_filter_functions" ] || tracing=/sys/kernel/debug/tracing
# modsym_test_names's file: names written, the kernel's values (kallsyms_lookup_name()) read.
NAMES_LOOKUP=/sys/kernel/debug/modsym_test_names/lookup
# have_ftrace: the kernel has dynamic ftrace (its function listing exists).
have_ftrace() { [ -e "$tracing/available_filter_functions" ]; }

# accel_count WHAT: `indexed` or `scanned`, as a number (0 when off).
accel_count() { awk -v w="$1" '$1 == w { n = $2 } END { print n + 0 }' "$ACCEL"; }

# same_files WHAT A B: A and B are byte-identical, else the first differences are logged.
same_files() {
	cmp -s "$2" "$3" && return 0
	ktap_msg "$1 differ ($(wc -l <"$2") and $(wc -l <"$3") lines):"
	diff "$2" "$3" | head -n 10 | while read -r line; do ktap_msg "$line"; done
	return 1
}

# listing NAME: available_filter_functions into $work/NAME.aff, and
# available_filter_functions_addrs into $work/NAME.addrs where the kernel has it.
listing() {
	local us
	us=$(timed sh -c "cat $tracing/available_filter_functions >$work/$1.aff") || return 1
	ktap_msg "available_filter_functions, acceleration $(accel_state): $((us / 1000)) ms, $(wc -l <"$work/$1.aff") lines"
	: >"$work/$1.addrs"
	[ ! -e "$tracing/available_filter_functions_addrs" ] ||
		cat "$tracing/available_filter_functions_addrs" >"$work/$1.addrs"
}

# listings_match: the listings (and set_ftrace_filter for ext4's functions) are
# byte-identical with acceleration off and on; acceleration is off afterwards.
listings_match() {
	accel_set 0 && listing off && mod_filter off || return 1
	accel_set 1 || return 1
	listing on && mod_filter on || return 1
	ktap_msg "answered while on: $(accel_counts)"
	accel_set 0 || return 1
	same_files available_filter_functions "$work/off.aff" "$work/on.aff" &&
		same_files available_filter_functions_addrs "$work/off.addrs" "$work/on.addrs" &&
		same_files "set_ftrace_filter of *:mod:ext4" "$work/off.filter" "$work/on.filter"
}

# mod_filter NAME: set_ftrace_filter after selecting ext4's functions (the kernel looks up
# every function record to match them), into $work/NAME.filter; the filter is emptied again.
mod_filter() {
	echo '*:mod:ext4' >"$tracing/set_ftrace_filter" || return 1
	cat "$tracing/set_ftrace_filter" >"$work/$1.filter"
	echo >"$tracing/set_ftrace_filter"
	[ -s "$work/$1.filter" ] || {
		ktap_msg "set_ftrace_filter is empty after *:mod:ext4"
		return 1
	}
}

have_livepatch() { have_module livepatch-sample && [ -d /sys/kernel/livepatch ]; }
unload_livepatch() {
	loaded livepatch_sample || return 0
	if [ -d /sys/kernel/livepatch/livepatch_sample ]; then
		echo 0 >/sys/kernel/livepatch/livepatch_sample/enabled || return 1
		wait_for 60 test ! -d /sys/kernel/livepatch/livepatch_sample || return 1
	fi
	unload livepatch_sample
}

# (a) Off at load; 1 and 0 switch and `accelerate` says so; writing the current state again
# is fine; anything else is refused; while on, modsym holds itself (as an enabled livepatch
# does): rmmod modsym is refused and changes nothing, and works once switched off.
t_switch() {
	have_ftrace || return "$KSFT_SKIP"
	unload modsym && load modsym || return 1
	expect_eq "state at load" "$(accel_state)" 0 || return 1
	accel_set 1 || {
		ktap_msg "switching on failed: $(tr '\n' ' ' <"$ACCEL")"
		return 1
	}
	expect_eq "state after 1" "$(accel_state)" 1 || return 1
	# The check at switch-on went through the replacement.
	[ "$(($(accel_count indexed) + $(accel_count scanned)))" -gt 0 ] || {
		ktap_msg "no lookup answered while on: $(tr '\n' ' ' <"$ACCEL")"
		return 1
	}
	accel_set 1 && expect_eq "state after 1 again" "$(accel_state)" 1 || return 1
	# On one open file, the read after a write starts over at the state's line.
	command exec 3<>"$ACCEL" || return 1
	cat <&3 >/dev/null && echo 0 >&3 && after=$(cat <&3)
	status=$?
	exec 3<&-
	[ "$status" = 0 ] && expect_eq "read after writing 0 on one open file" "$(echo "$after" | head -n 1)" 0 || return 1
	accel_set 0 && expect_eq "state after 0" "$(accel_state)" 0 || return 1
	accel_set 0 && expect_eq "state after 0 again" "$(accel_state)" 0 || return 1
	for bad in 2 on 01 "1 1" -1; do
		if accel_set "$bad" 2>/dev/null; then
			ktap_msg "writing '$bad' succeeded"
			return 1
		fi
	done
	# An empty write, and one over the limit.
	if printf '\n' >"$ACCEL" 2>/dev/null || printf '%0100d' 1 >"$ACCEL" 2>/dev/null; then
		ktap_msg "an empty or a 100-byte write succeeded"
		return 1
	fi
	expect_eq "state after bad writes" "$(accel_state)" 0 || return 1
	expect_eq "modsym's references while off" "$(refcount modsym)" 0 || return 1
	accel_set 1 && expect_eq "modsym's references while on" "$(refcount modsym)" 1 || return 1
	if rmmod modsym 2>/dev/null; then
		ktap_msg "rmmod modsym succeeded while on"
		return 1
	fi
	expect_eq "state after a refused rmmod" "$(accel_state)" 1 || return 1
	accel_set 0 && expect_eq "modsym's references once off" "$(refcount modsym)" 0 || return 1
	rmmod modsym && load modsym && expect_eq "state after reload" "$(accel_state)" 0
}

# (b) available_filter_functions (and its _addrs variant, and a :mod: filter) byte-identical
# off and on, with ext4, the 20,000-function module, modsym_test and livepatch-sample loaded.
t_listing() {
	have_ftrace || return "$KSFT_SKIP"
	loaded modsym || load modsym || return 1
	load_ext4 && { loaded modsym_bulk20k || load modsym_bulk20k; } || return 1
	loaded modsym_test || load modsym_test || return 1
	if have_livepatch; then
		loaded livepatch_sample || load livepatch-sample || return 1
		wait_for 60 grep -q "live patched" /proc/cmdline || return 1
	else
		ktap_msg "no livepatch-sample here"
	fi
	listings_match || return 1
	for m in ext4 modsym_test; do
		grep -q "\\[$m\\]\$" "$work/on.aff" || {
			ktap_msg "the listing lacks $m's functions"
			return 1
		}
	done
	unload_livepatch
}

# (c) %pS without /proc/kallsyms: the kernel's names for the function records of modules
# (available_filter_functions_addrs) are modsym's `resolve` answers for those addresses,
# off and on; and /proc/PID/stack of a task waiting in the init text of a COMING module
# (the kernel scans its init-time table there) names the same frames off and on.
t_pS() {
	have_ftrace || return "$KSFT_SKIP"
	loaded modsym || load modsym || return 1
	load_ext4 && { loaded modsym_test || load modsym_test; } || return 1
	if [ -e "$tracing/available_filter_functions_addrs" ]; then
		for state in 0 1; do
			accel_set "$state" && names_are_modsyms "$state" || return 1
		done
	else
		ktap_msg "no available_filter_functions_addrs here"
	fi
	accel_set 0 || return 1
	unload modsym_test || return 1
	load modsym_test wait=1 &
	wait_for 30 test -e "$TEST_RELEASE" || return 1
	status=0
	coming_stacks || status=1
	echo 1 >"$TEST_RELEASE"
	wait || return 1
	return "$status"
}

# names_are_modsyms STATE: each [ext4] or [modsym_test] line of available_filter_functions_addrs
# names the symbol modsym resolves its address to, in that module.
names_are_modsyms() {
	# (Records the kernel cannot name, which it lists as __ftrace_invalid_address___*, left out.)
	awk '($3 == "[ext4]" || $3 == "[modsym_test]") && $2 !~ /^__ftrace_invalid_address__/ { print $1, $2, $3 }' \
		"$tracing/available_filter_functions_addrs" >"$work/records"
	[ -s "$work/records" ] || {
		ktap_msg "no ext4 or modsym_test records"
		return 1
	}
	awk '{ print "0x" $1 }' "$work/records" >"$work/record-addrs"
	resolve_file "$work/record-addrs" >"$work/record-names" || return 1
	awk 'NR == FNR { name[++n] = $2; mod[n] = $3; next }
		{ got++; sym = $2; sub(/\+0x[0-9a-f]+\/0x[0-9a-f]+$/, "", sym) }
		sym != name[got] || $NF != mod[got] {
			if (++bad < 4) print "# record " name[got] " " mod[got] ", modsym: " $0 }
		END { if (got != n) { print "# " got " answers for " n " records"; exit 1 }
			exit bad > 0 }' "$work/records" "$work/record-names" || return 1
	ktap_msg "acceleration $1: $(wc -l <"$work/records") function records named as modsym resolves them"
}

# stack_sample STACK OUT: copies /proc/PID/stack STACK to OUT if it holds frames. The x86
# unwinder gives none while the task runs on another CPU, as the waiting insmod does for a
# moment every 10 ms (its init polls with msleep()).
stack_sample() { cat "$1" >"$2" 2>/dev/null && [ -s "$2" ]; }

# coming_stacks: the [modsym_test] frames of the waiting insmod's /proc/PID/stack, off and on.
coming_stacks() {
	stack=$(grep -l '\[modsym_test\]' /proc/[0-9]*/stack 2>/dev/null | head -n 1)
	[ -n "$stack" ] || {
		ktap_msg "no task has a [modsym_test] frame"
		return 1
	}
	for state in 0 1; do
		accel_set "$state" || return 1
		wait_for 5 stack_sample "$stack" "$work/sample" || {
			ktap_msg "$stack: no frames for 5 s"
			return 1
		}
		grep '\[modsym_test\]' "$work/sample" >"$work/stack.$state"
	done
	accel_set 0 || return 1
	ktap_msg "$stack: $(tr '\n' ' ' <"$work/stack.1")"
	grep -q 'modsym_test_init_helper+0x[0-9a-f]*/0x[0-9a-f]* \[modsym_test\]' "$work/stack.0" || {
		ktap_msg "no modsym_test_init_helper frame"
		return 1
	}
	same_files "[modsym_test] frames" "$work/stack.0" "$work/stack.1"
}

# (c2) Name lookups (module_kallsyms_lookup_name(): `mod:sym` in kprobes and BPF) give the
# same value off and on: every symbol /proc/kallsyms lists for ext4, modsym_test and
# modsym_gen1k_1 as `mod:sym`, modsym_test's also plain (the kernel then tries every
# module in list order), and names that miss (no such symbol, no such module, empty);
# modsym_test has two static `dup_helper`s, of which the kernel takes the first in symtab
# order. Kprobe events on a `modsym_test:` function and on a plain module function name
# land on the same addresses off and on. Needs kprobes (to find kallsyms_lookup_name); skipped
# where the kernel's name lookup is not replaceable (`names off:` in `accelerate`).
t_names() {
	have_ftrace && have_module modsym_test_names || return "$KSFT_SKIP"
	loaded modsym || load modsym || return 1
	load_ext4 && { loaded modsym_test || load modsym_test; } || return 1
	{ loaded modsym_gen1k_1 || load modsym_gen1k_1; } && load modsym_test_names || return 1
	awk '$4 == "[ext4]" || $4 == "[modsym_test]" || $4 == "[modsym_gen1k_1]" {
			m = substr($4, 2, length($4) - 2); print m ":" $3
			if (m == "modsym_test") print $3 }' /proc/kallsyms >"$work/names"
	grep -q '^modsym_test:dup_helper$' "$work/names" || {
		ktap_msg "/proc/kallsyms lists no modsym_test:dup_helper"
		return 1
	}
	printf '%s
' modsym_no_such_symbol modsym_test:modsym_no_such_symbol \
		modsym_no_such_module:dup_helper modsym_test: : "" ext4:ext4 >>"$work/names"
	for state in 0 1; do
		accel_set "$state" || return 1
		if [ "$state" = 1 ] && grep -q '^names off:' "$ACCEL"; then
			ktap_msg "$(grep '^names off:' "$ACCEL")"
			accel_set 0
			unload modsym_test_names
			return "$KSFT_SKIP"
		fi
		before=$(accel_count names_indexed)
		cat "$work/names" >"$NAMES_LOOKUP" && cat "$NAMES_LOOKUP" >"$work/values.$state" &&
			kprobe_events "$state" || return 1
		[ "$state" = 0 ] || [ "$(accel_count names_indexed)" -gt "$before" ] || {
			ktap_msg "the name index answered none of the lookups: $(accel_counts)"
			return 1
		}
	done
	ktap_msg "$(tail -n 1 "$work/values.0" | cut -c3-) off, $(tail -n 1 "$work/values.1" | cut -c3-) on; answered while on: $(accel_counts)"
	accel_set 0 && unload modsym_test_names && unload modsym_gen1k_1 || return 1
	# The lookups found what /proc/kallsyms lists (nonzero), and the same values off and on.
	awk '$2 == "modsym_test:dup_helper" && $1 != "0" { f = 1 } END { exit !f }' "$work/values.0" || {
		ktap_msg "modsym_test:dup_helper not found"
		return 1
	}
	sed '$d' "$work/values.0" >"$work/v0" && sed '$d' "$work/values.1" >"$work/v1" &&
		same_files "values of $(wc -l <"$work/names") names" "$work/v0" "$work/v1" &&
		same_files "kprobe events on modsym_test's functions" "$work/kprobes.0" "$work/kprobes.1"
}

# A module built before acceleration switches on and published after (build_delay_ms holds
# the publication back): the switch's catch-up cannot see it (not published yet), so its
# publication builds its name index, and its name lookups use it rather than a scan.
t_names_pending() {
	have_ftrace && have_module modsym_test_names || return "$KSFT_SKIP"
	accel_set 0 && { loaded modsym_test_names || load modsym_test_names; } || return 1
	unload modsym_test && unload modsym || return 1
	# Long enough for the switch to build every other loaded module's names first.
	load modsym build_delay_ms=20000 && load_only modsym_test || return 1
	names_pending_checks
	status=$?
	accel_set 0
	unload modsym_test && unload modsym_test_names && unload modsym || return 1
	load modsym && load modsym_test || return 1
	return "$status"
}
names_pending_checks() {
	# Its build (50 ms after the insmod, on modsym's build thread) has read the switch, off.
	sleep 1
	accel_set 1 || return 1
	if grep -q '^names off:' "$ACCEL"; then
		ktap_msg "$(grep '^names off:' "$ACCEL")"
		return "$KSFT_SKIP"
	fi
	index_pending modsym_test || {
		ktap_msg "modsym_test's index was published before acceleration was on: $(grep modsym_test "$MODSYM_DEBUGFS/modules")"
		return 1
	}
	wait_indexed modsym_test || return 1
	scanned=$(accel_count names_scanned)
	indexed=$(accel_count names_indexed)
	printf 'modsym_test:modsym_test_core_fn\nmodsym_test:dup_helper\n' >"$NAMES_LOOKUP" &&
		cat "$NAMES_LOOKUP" >"$work/pending.values" || return 1
	ktap_msg "$(tr '\n' ' ' <"$work/pending.values")"
	expect_eq "name lookups scanned" "$(accel_count names_scanned)" "$scanned" || return 1
	[ "$(accel_count names_indexed)" -ge $((indexed + 2)) ] || {
		ktap_msg "name lookups from the index: $indexed before, $(accel_count names_indexed) after"
		return 1
	}
}

# kprobe_events STATE: kprobe events on a `modsym_test:` function and on a plain module
# function name, as the kernel resolved them (kprobes/list), into $work/kprobes.STATE; the
# events are removed again. Nothing where the kernel has no kprobe events. (Kprobe events
# refuse names that are not unique, such as dup_helper.)
kprobe_events() {
	: >"$work/kprobes.$1"
	[ -e "$tracing/kprobe_events" ] || return 0
	if ! echo 'p:modsym_names_mod modsym_test:modsym_test_core_fn' >"$tracing/kprobe_events" ||
		! echo 'p:modsym_names_plain modsym_test_dup_caller' >>"$tracing/kprobe_events"; then
		ktap_msg "cannot add kprobe events on modsym_test: $(cat "$tracing/kprobe_events")"
		return 1
	fi
	grep ' modsym_test ' /sys/kernel/debug/kprobes/list >"$work/kprobes.$1"
	echo >"$tracing/kprobe_events"
	[ "$(wc -l <"$work/kprobes.$1")" = 2 ] || {
		ktap_msg "kprobes on modsym_test, acceleration $1: $(tr '\n' ' ' <"$work/kprobes.$1")"
		return 1
	}
}

# (d) NMI context: sysrq's backtraces of every CPU, taken while modsym_test's kthread spins
# in modsym_test_spin(), name the same [modsym_test] frames off and on, and while on the
# replacement answered them (its indexed count grew).
t_nmi() {
	have_ftrace || return "$KSFT_SKIP"
	[ -e /proc/sysrq-trigger ] || {
		ktap_msg "no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ)"
		return "$KSFT_SKIP"
	}
	loaded modsym || load modsym || return 1
	unload modsym_test && load modsym_test spin=1 || return 1
	status=0
	for state in 0 1; do
		nmi_frames "$state" || status=1
	done
	accel_set 0 && unload modsym_test || return 1
	[ "$status" = 0 ] &&
		same_files "[modsym_test] frames of the NMI backtraces" "$work/nmi.0" "$work/nmi.1"
}

# nmi_frames STATE: sysrq l with acceleration STATE, up to 5 times until the spinner's CPU
# is caught in it; the reliable [modsym_test] frames of the backtraces, offsets dropped (the
# spinner moves on), into $work/nmi.STATE. The console lines between the two markers are
# the backtraces the harness expects, not a report.
nmi_frames() {
	local mark before nmis try=1
	accel_set "$1" || return 1
	before=$(accel_count indexed)
	nmis=$(nmi_count)
	while :; do
		mark="modsym-accel: backtraces with acceleration $1, try $try"
		echo "$mark" >/dev/kmsg
		echo l >/proc/sysrq-trigger
		# Printed from NMI context, the lines reach the log a little later.
		wait_for 10 spinner_named "$mark" && sleep 1
		echo "modsym-accel: backtraces taken" >/dev/kmsg
		dmesg | awk -v m="$mark" 'index($0, m) { on = 1 } on' | reliable >"$work/nmi.log"
		# The spinner may have been preempted just then (the debug kernel's background work).
		grep -q 'modsym_test_spin+' "$work/nmi.log" || [ "$try" -ge 5 ] || {
			try=$((try + 1))
			continue
		}
		break
	done
	grep -o '[A-Za-z0-9_.]*+0x[0-9a-f]*/0x[0-9a-f]* \[modsym_test\]' "$work/nmi.log" |
		sed 's|+0x[0-9a-f]*/|/|' | sort -u >"$work/nmi.$1"
	ktap_msg "acceleration $1, try $try: $(grep -c 'NMI backtrace for cpu' "$work/nmi.log") CPU backtraces," \
		"backtrace interrupts +$(($(nmi_count) - nmis))$(dmesg | grep -q 'Pseudo-NMIs enabled' && echo ' (pseudo-NMIs)')," \
		"frames: $(tr '\n' ' ' <"$work/nmi.$1")"
	grep -q '^modsym_test_spin/' "$work/nmi.$1" || {
		ktap_msg "no backtrace names modsym_test_spin:"
		grep -E 'backtrace|RIP|pc :|modsym_test' "$work/nmi.log" | head -n 8 | while read -r line; do ktap_msg "$line"; done
		return 1
	}
	[ "$1" = 0 ] || [ "$(accel_count indexed)" -gt "$before" ] || {
		ktap_msg "the replacement answered none of the backtraces' lookups: $(accel_counts)"
		return 1
	}
}

# nmi_count: the interrupts that deliver other CPUs' backtraces, taken so far on every CPU
# (x86_64's NMIs, arm64's CPU backtrace IPIs: NMIs where pseudo-NMIs are enabled).
nmi_count() {
	awk '/Non-maskable interrupts|CPU backtrace interrupts/ {
		for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i } END { print n + 0 }' /proc/interrupts
}

# spinner_named MARK: the log after MARK names modsym_test_spin.
spinner_named() { dmesg | awk -v m="$1" 'index($0, m) { on = 1 } on' | reliable | grep -q 'modsym_test_spin+'; }

# reliable: backtrace lines without the unwinder's "? " guesses (stale return addresses on
# the stack, which differ from one backtrace to the next).
reliable() { grep -v '\] *? '; }

toggle_once() {
	accel_set 1 2>>"$work/toggle.err" && accel_set 0 2>>"$work/toggle.err" && return 0
	echo fail >>"$work/toggle.failed"
	return 1
}
listing_once() { cat "$tracing/available_filter_functions" >/dev/null; }
resolve_once() {
	module_functions | head -n 500 >"$work/storm-addrs" && resolve_file "$work/storm-addrs" >/dev/null
}
load_cycle() {
	load_only modsym_test && unload modsym_test || return 1
	! load_only modsym_test fail=1 2>/dev/null || return 1
	load_only modsym_test wait=1 &
	wait_for 30 test -e "$TEST_RELEASE" || return 1
	grep -h '\[modsym_test\]' /proc/[0-9]*/stack >/dev/null 2>&1
	echo 1 >"$TEST_RELEASE"
	wait && unload modsym_test
}
ext4_cycle() { load_ext4 && unload_ext4; }
# names_once: name lookups of modules that come and go (and of one that stays), where
# modsym_test_names is loaded.
names_once() {
	[ -e "$NAMES_LOOKUP" ] || return 0
	printf '%s\n' modsym_test:dup_helper dup_helper ext4:ext4_fill_super jbd2:jbd2_journal_start \
		modsym_gen1k_1:modsym_gen1k_1_fn7 >"$NAMES_LOOKUP" && cat "$NAMES_LOOKUP" >/dev/null
}

# (e) Switching on and off in a loop while modules load and unload (one whose init fails,
# one that waits in init) and readers list available_filter_functions, resolve, and look up
# names (modsym_test_names, where kprobes are); then
# off, the listings are identical off and on again and modsym is exact.
t_storm() {
	have_ftrace || return "$KSFT_SKIP"
	loaded modsym || load modsym || return 1
	unload modsym_test && unload modsym_bulk20k && unload_ext4 || return 1
	{ loaded modsym_gen1k_1 || load modsym_gen1k_1; } || return 1
	! have_module modsym_test_names || loaded modsym_test_names || load modsym_test_names || return 1
	rm -f "$work/stop" "$work/toggle.failed" "$work/toggle.err"
	worker toggles toggle_once &
	worker listings listing_once &
	worker resolves resolve_once &
	worker loads load_cycle &
	worker ext4 ext4_cycle &
	worker names names_once &
	sleep "$seconds"
	touch "$work/stop"
	wait
	ktap_msg "storm ${seconds}s: $(cat "$work/toggles.count") on/off cycles, $(cat "$work/listings.count") listings," \
		"$(cat "$work/resolves.count") resolve batches, $(cat "$work/loads.count") modsym_test cycles," \
		"$(cat "$work/ext4.count") ext4 stack cycles, $(cat "$work/names.count") name lookup batches"
	[ ! -e "$work/toggle.failed" ] || {
		ktap_msg "$(wc -l <"$work/toggle.failed") switches failed: $(sort -u "$work/toggle.err" | head -n 3 | tr '\n' ' ')"
		return 1
	}
	[ "$(cat "$work/toggles.count")" -gt 0 ] && [ "$(cat "$work/listings.count")" -gt 0 ] || return 1
	accel_set 0 && expect_eq "state after the storm" "$(accel_state)" 0 || return 1
	unload modsym_test_names && unload modsym_gen1k_1 || return 1
	unload modsym_test && load_ext4 && load modsym_test || return 1
	listings_match && modules_exact && verify_clean
}

# (f) An IPMODIFY kprobe on find_kallsyms_symbol and the acceleration exclude each other:
# switching on beside one is refused with EBUSY (and `accelerate` says why), one loaded while
# on is not attached, and either works once the other is gone.
t_ebusy() {
	have_ftrace && have_module modsym_test_kprobe || return "$KSFT_SKIP"
	loaded modsym || load modsym || return 1
	accel_set 0 || return 1
	if ! load_only modsym_test_kprobe 2>"$work/kprobe.err"; then
		ktap_msg "modsym_test_kprobe: $(cat "$work/kprobe.err")"
		grep -qi 'not supported' "$work/kprobe.err" || return 1
		ktap_msg "kprobes do not use ftrace here: nothing to exclude"
		return "$KSFT_SKIP"
	fi
	status=0
	if accel_set 1 2>"$work/ebusy.err"; then
		ktap_msg "switching on succeeded beside an IPMODIFY kprobe"
		accel_set 0
		status=1
	else
		ktap_msg "write 1: $(cat "$work/ebusy.err"); accelerate: $(tr '\n' ' ' <"$ACCEL")"
		grep -qi 'busy' "$work/ebusy.err" && grep -q '^refused EBUSY: ' "$ACCEL" &&
			expect_eq "state after the refusal" "$(accel_state)" 0 || status=1
	fi
	unload modsym_test_kprobe && accel_set 1 || return 1
	if load_only modsym_test_kprobe 2>"$work/kprobe.err"; then
		# 7.3's __register_kprobe() drops arm_kprobe()'s error: the probe is not armed,
		# yet register_kprobe() returns 0. What matters holds: it is not attached.
		ktap_msg "insmod while on succeeded: the kernel's register_kprobe() ignored its arming error"
		ktap_msg "ftrace users of find_kallsyms_symbol: $(grep find_kallsyms_symbol "$tracing/enabled_functions")"
		if ! grep find_kallsyms_symbol "$tracing/enabled_functions" | grep -q '(1).*modsym' ||
			grep -q find_kallsyms_symbol /sys/kernel/debug/kprobes/list 2>/dev/null; then
			ktap_msg "the kprobe is attached beside the acceleration"
			status=1
		fi
		unload modsym_test_kprobe || status=1
	else
		ktap_msg "insmod while on: $(cat "$work/kprobe.err")"
		grep -qi 'busy' "$work/kprobe.err" || status=1
	fi
	expect_eq "state after it" "$(accel_state)" 1 || status=1
	accel_set 0 && return "$status"
}

# (g) Other ftrace users of find_kallsyms_symbol beside the acceleration: the function
# tracer and a kprobe event on it see its calls, and the listing stays identical.
t_coexist() {
	have_ftrace && [ -e "$tracing/kprobe_events" ] || return "$KSFT_SKIP"
	loaded modsym || load modsym || return 1
	load_ext4 || return 1
	accel_set 0 && listing off || return 1
	status=0
	{
		echo find_kallsyms_symbol >"$tracing/set_ftrace_filter" &&
			echo 'p:modsym_fks find_kallsyms_symbol' >"$tracing/kprobe_events" &&
			echo 1 >"$tracing/events/kprobes/modsym_fks/enable" &&
			echo function >"$tracing/current_tracer" && echo >"$tracing/trace" &&
			accel_set 1 && listing on
	} || status=1
	# Counted before the tracer changes: that empties the buffer.
	calls=$(grep -c ': find_kallsyms_symbol <-' "$tracing/trace")
	probes=$(awk '$1 == "modsym_fks" { print $2 }' "$tracing/kprobe_profile")
	accel_set 0 || status=1
	echo nop >"$tracing/current_tracer"
	echo 0 >"$tracing/events/kprobes/modsym_fks/enable"
	echo '-:modsym_fks' >>"$tracing/kprobe_events"
	echo >"$tracing/set_ftrace_filter"
	ktap_msg "traced while on: $calls calls by the function tracer, $probes kprobe hits"
	[ "$status" = 0 ] && [ "$calls" -gt 0 ] && [ "${probes:-0}" -gt 0 ] &&
		same_files available_filter_functions "$work/off.aff" "$work/on.aff"
}

# (h) Without ftrace, switching on is refused with EOPNOTSUPP, `accelerate` says why, and
# modsym keeps answering.
t_refusal() {
	have_ftrace && return "$KSFT_SKIP"
	loaded modsym || load modsym || return 1
	loaded modsym_test || load modsym_test || return 1
	if accel_set 1 2>"$work/refusal.err"; then
		ktap_msg "switching on succeeded without ftrace"
		return 1
	fi
	ktap_msg "write 1: $(cat "$work/refusal.err"); accelerate: $(tr '\n' ' ' <"$ACCEL")"
	grep -qi "not supported" "$work/refusal.err" || return 1
	expect_eq "state after the refusal" "$(accel_state)" 0 || return 1
	grep -q '^refused EOPNOTSUPP: ' "$ACCEL" || return 1
	accel_set 0 || return 1
	a=$(hex "$(kallsyms_addr modsym_test_core_fn modsym_test)")
	case $(resolve "$a") in
	"$a modsym_test_core_fn+0x0/0x"*" [modsym_test]") ;;
	*) ktap_msg "resolve after the refusal: $(resolve "$a")" && return 1 ;;
	esac
	verify_clean
}

t_cleanup() {
	unload modsym_test_kprobe && unload modsym_test_names && unload modsym_gen1k_1 && unload_livepatch && unload modsym_test && unload modsym_bulk20k && unload_ext4 && unload modsym
}

ktap_set_plan 11
ktap_run "accelerate switches on and off, refuses bad input, holds modsym while on (rmmod refused)" t_switch
ktap_run "available_filter_functions byte-identical off and on (ext4, modsym_bulk20k, livepatch-sample)" t_listing
ktap_run "%pS off and on: function records named as modsym resolves them, COMING init frames" t_pS
ktap_run "name lookups (mod:sym) give the same values off and on, from the name index" t_names
ktap_run "a module published after the switch to on gets its name index: its name lookups use it" t_names_pending
ktap_run "NMI backtraces of a CPU spinning in a module function name it identically off and on" t_nmi
ktap_run "switching on and off while modules load and unload and readers list and resolve" t_storm
ktap_run "an IPMODIFY kprobe on find_kallsyms_symbol and the acceleration exclude each other (EBUSY)" t_ebusy
ktap_run "the function tracer and a kprobe on find_kallsyms_symbol beside the acceleration" t_coexist
ktap_run "without ftrace, switching on is refused with EOPNOTSUPP and modsym keeps answering" t_refusal
ktap_run "unload everything" t_cleanup
rm -rf "$work"
ktap_finish

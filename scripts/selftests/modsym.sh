#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# modsym functional selftests (KTAP). Needs root, debugfs, modsym.ko and the test modules
# (modsym_test, modsym_bulk20k; ext4 with jbd2 and mbcache; livepatch-sample), found through
# MODSYM_MODULE_PATH or modprobe. Loads and unloads modules; leaves modsym unloaded.
# shellcheck shell=dash disable=SC2317 # tests run through ktap_run
# shellcheck source=ktap.sh
. "$(dirname "$0")/ktap.sh"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ktap_print_header

[ "$(id -u)" = 0 ] || ktap_skip_suite "must be root"

# Modules loaded before modsym: it must index them when it starts.
t_preloaded_modules() {
	load_ext4 || return 1
	load modsym || return 1
	for m in $EXT4_STACK modsym; do
		expect_eq "state of $m" "$(module_state "$m")" live || return 1
	done
}

t_debugfs_files() {
	for f in resolve lookup modules symbols verify bench; do
		[ -e "$MODSYM_DEBUGFS/$f" ] || {
			ktap_msg "missing $MODSYM_DEBUGFS/$f"
			return 1
		}
	done
}

# resolves_kallsyms_functions MODULE LIMIT [NAME-PATTERN]: up to LIMIT function symbols of
# MODULE that are alone at their address (and match the awk pattern), written to `resolve`
# in one go, each resolve to itself at +0x0 in [MODULE], in order.
resolves_kallsyms_functions() {
	mod=$1 limit=$2 pattern=${3:-.}
	# Mapping symbols ($x, .L*, L0*) are listed by /proc/kallsyms but never the answer.
	kallsyms_lines "$mod" | awk -v p="$pattern" '$3 !~ /^(\$|\.L|L0)/ && $3 ~ p {
			n[$1]++; t[$1] = $2; s[$1] = $3 }
		END { for (a in n) if (n[a] == 1 && t[a] ~ /^[tT]$/) print a, s[a] }' |
		head -n "$limit" >/tmp/expect
	[ -s /tmp/expect ] || {
		ktap_msg "no function symbols of $mod in /proc/kallsyms"
		return 1
	}
	# Cut anywhere by cat's chunks when large.
	awk '{ print "0x" $1 }' /tmp/expect >/tmp/addrs
	resolve_file /tmp/addrs >/tmp/got || return 1
	awk -v m="[$mod]" 'NR == FNR { a = $1; sub(/^0+/, "", a); want[++n] = "0x" a " " $2 "+0x0/0x"; next }
		{ got++ }
		index($0, want[got]) != 1 || $NF != m { if (++bad < 4) print "# got " $0 ", want " want[got] "... " m }
		END { if (got != n) { print "# " got " answers for " n " addresses"; exit 1 }
			exit bad > 0 }' /tmp/expect /tmp/got || return 1
	checked=$(wc -l </tmp/expect)
	ktap_msg "$mod: $checked function addresses resolve to their /proc/kallsyms names"
}

t_resolve_preloaded() { resolves_kallsyms_functions ext4 100000; }

# One address per open file, as a user at a shell would; one byte further is +0x1.
t_resolve_one_by_one() {
	resolves_kallsyms_functions ext4 10 || return 1
	while read -r addr name; do
		a=$(hex "$addr")
		got=$(resolve "$a")
		case $got in
		"$a $name+0x0/0x"*" [ext4]") ;;
		*) ktap_msg "resolve $a: got '$got', want '$a $name+0x0/0x... [ext4]'" && return 1 ;;
		esac
	done </tmp/expect
	case $(resolve "$(printf '0x%x' $((a + 1)))") in
	*"+0x1/0x"*" [ext4]") ;;
	*) ktap_msg "address+1 does not resolve to +0x1" && return 1 ;;
	esac
}

t_loaded_after() {
	load modsym_test || return 1
	expect_eq "state" "$(module_state modsym_test)" live || return 1
	a=$(hex "$(kallsyms_addr modsym_test_core_fn modsym_test)")
	case $(resolve "$a") in
	"$a modsym_test_core_fn+0x0/0x"*" [modsym_test]") ;;
	*) ktap_msg "modsym_test_core_fn: $(resolve "$a")" && return 1 ;;
	esac
}


# An init that waits: init text resolves while COMING, and no longer once LIVE (as the kernel).
t_coming_init() {
	unload modsym_test || return 1
	load modsym_test wait=1 &
	wait_for 30 test -e "$TEST_RELEASE" || return 1
	expect_eq "/proc/modules state" "$(proc_modules_state modsym_test)" Loading || return 1
	expect_eq "modsym state" "$(module_state modsym_test)" coming || return 1
	a=$(hex "$(kallsyms_addr modsym_test_init_helper modsym_test)")
	[ "$a" != 0x0 ] || return 1
	case $(resolve "$a") in
	"$a modsym_test_init_helper+0x0/0x"*" [modsym_test]") ;;
	*) ktap_msg "while coming: $(resolve "$a")" && return 1 ;;
	esac
	verify_clean || return 1
	echo 1 >"$TEST_RELEASE"
	wait || return 1
	expect_eq "modsym state" "$(module_state modsym_test)" live || return 1
	expect_eq "init text once live" "$(resolve "$a")" "$a ?" || return 1
	verify_clean
}

# A module COMING when modsym loads: adopted with its init part, or, where nothing marks its
# COMING chain as done (no sysfs), answered by the kernel's own scan until its LIVE event.
t_coming_at_load() {
	unload modsym_test && rmmod modsym || return 1
	load modsym_test wait=1 &
	wait_for 30 test -e "$TEST_RELEASE" || return 1
	load modsym || return 1
	ktap_msg "modsym's state of the waiting module: '$(module_state modsym_test)'"
	a=$(hex "$(kallsyms_addr modsym_test_init_helper modsym_test)")
	case $(resolve "$a") in
	"$a modsym_test_init_helper+0x0/0x"*" [modsym_test]") ;;
	*) ktap_msg "while coming: $(resolve "$a")" && return 1 ;;
	esac
	echo 1 >"$TEST_RELEASE"
	wait || return 1
	expect_eq "modsym state" "$(module_state modsym_test)" live || return 1
	expect_eq "init text once live" "$(resolve "$a")" "$a ?"
}

t_failed_init() {
	unload modsym_test || return 1
	if load modsym_test fail=1 2>/dev/null; then
		ktap_msg "insmod fail=1 succeeded"
		return 1
	fi
	expect_eq "entry after failed init" "$(module_state modsym_test)" "" || return 1
	load modsym_test && verify_clean
}

t_livepatch() {
	have_module livepatch-sample || return "$KSFT_SKIP"
	[ -d /sys/kernel/livepatch ] || return "$KSFT_SKIP"
	load livepatch-sample || return 1
	wait_for 30 grep -q "live patched" /proc/cmdline || return 1
	resolves_kallsyms_functions livepatch_sample 10 || return 1
	verify_clean || return 1
	echo 0 >/sys/kernel/livepatch/livepatch_sample/enabled
	wait_for 30 test ! -d /sys/kernel/livepatch/livepatch_sample || return 1
	unload livepatch_sample || return 1
	expect_eq "entry after unload" "$(module_state livepatch_sample)" "" || return 1
	verify_clean
}

# 20,000 exported functions: every one resolves to itself (380 KB of addresses, written in
# chunks that cut addresses anywhere). The next test verifies it with sprint_symbol().
t_bulk() {
	load modsym_bulk20k || return 1
	resolves_kallsyms_functions modsym_bulk20k 30000 '^modsym_bulk_fn' || return 1
	expect_eq "functions resolved" "$checked" 20000
}

# Index builds run on modsym's thread after the COMING event, not in insmod (here each waits
# build_delay_ms first): until one is published, `modules` lists the module as pending and
# its addresses resolve exactly by the kernel's own scan; a module unloaded while its build
# is queued or running leaves nothing behind; the index is published with its time from
# the event (`ready_ns`).
t_deferred_build() {
	delay_ms=15000
	unload modsym_test && unload modsym_bulk20k && unload modsym || return 1
	load modsym build_delay_ms=$delay_ms || return 1
	deferred_build_checks
	status=$?
	# Whatever failed: modsym without the delay, and the modules the next tests expect.
	unload modsym_test && unload modsym_bulk20k && rmmod modsym || return 1
	load modsym && load modsym_bulk20k && load modsym_test || return 1
	return "$status"
}
deferred_build_checks() {
	# The 20,000-function module's build starts at once and sleeps; modsym_test's waits.
	load_only modsym_bulk20k && load_only modsym_test || return 1
	for m in modsym_bulk20k modsym_test; do
		index_pending $m || {
			ktap_msg "$m not pending after insmod: $(grep modsym_ "$MODSYM_DEBUGFS/modules")"
			return 1
		}
	done
	unload modsym_test && unload modsym_bulk20k || return 1
	expect_eq "modsym_test listed after rmmod with a queued build" "$(module_state modsym_test)" "" || return 1
	expect_eq "modsym_bulk20k listed after rmmod with a running build" "$(module_state modsym_bulk20k)" "" || return 1
	modules_exact || return 1
	# While pending: resolve and lookup answer by scanning, `symbols` lists nothing of it.
	load_only modsym_test || return 1
	a=$(hex "$(kallsyms_addr modsym_test_core_fn modsym_test)")
	got=$(resolve "$a")
	found=$(query lookup modsym_test:modsym_test_core_fn)
	listed=$(grep -c '\[modsym_test\]' "$MODSYM_DEBUGFS/symbols")
	index_pending modsym_test || {
		ktap_msg "modsym_test's index was published before the checks ended"
		return 1
	}
	case $got in
	"$a modsym_test_core_fn+0x0/0x"*" [modsym_test]") ;;
	*) ktap_msg "resolve while pending: $got" && return 1 ;;
	esac
	size=${got##*/}
	size=${size%% *}
	case $found in
	"$a $size "[tT]" modsym_test_core_fn [modsym_test]") ;;
	*) ktap_msg "lookup while pending: '$found', want '$a $size t modsym_test_core_fn [modsym_test]'" && return 1 ;;
	esac
	expect_eq "symbols of modsym_test while pending" "$listed" 0 || return 1
	wait_indexed modsym_test || return 1
	line=$(awk '$1 == "modsym_test"' "$MODSYM_DEBUGFS/modules")
	ktap_msg "published: $line"
	ready=$(echo "$line" | awk '{ print $7 }')
	[ "${ready:-0}" -ge $((delay_ms * 1000000)) ] || return 1
	expect_eq "resolve once published" "$(resolve "$a")" "$got" || return 1
	expect_eq "lookup once published" "$(query lookup modsym_test:modsym_test_core_fn)" "$found" || return 1
	verify_clean
}

# rmmod modsym while a build reads a module that is unloaded meanwhile: modsym's exit stops
# the builds while its notifier still hears that module's GOING, so the unload waits for the
# build instead of freeing the module under it (KASAN reports the use after free on the
# debug kernel otherwise).
t_unload_during_build() {
	unload modsym_test && rmmod modsym || return 1
	load modsym build_delay_ms=3000 && load_only modsym_test || return 1
	index_pending modsym_test || return 1
	rmmod modsym &
	exiting=$!
	sleep 1
	unload modsym_test || return 1
	wait "$exiting" || return 1
	load modsym && load modsym_test
}

# build_thread: the pid of modsym's build thread, modsym-build (fails if there is none).
build_thread() {
	local d
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = modsym-build ] && echo "${d#/proc/}" && return 0
	done
	return 1
}

# build_thread_gone: modsym has no build thread.
build_thread_gone() { ! build_thread >/dev/null; }

# thread_nice PID: the nice value of task PID (/proc/PID/stat, field 19).
thread_nice() { awk '{ print $19 }' "/proc/$1/stat"; }

# Index builds run on modsym's own thread, modsym-build, at nice 19, so that every ordinary
# task, the insmod that queued the build first, runs before them. The thread is at nice 0
# otherwise, and while rmmod waits for the build of its module (a load that starves the build
# must not keep rmmod waiting). It leaves with modsym.
t_build_thread() {
	unload modsym_test && rmmod modsym || return 1
	# Stopped by rmmod; reaped by kthreadd a moment later.
	wait_for 5 build_thread_gone || { ktap_msg "modsym-build still there 5 s after rmmod modsym"; return 1; }
	load modsym build_delay_ms=5000 || return 1
	pid=$(build_thread) || { ktap_msg "no modsym-build thread"; return 1; }
	expect_eq "nice of modsym-build, idle" "$(thread_nice "$pid")" 0 || return 1
	load_only modsym_test || return 1
	# The build starts once module events have been quiet for 50 ms, then sleeps 5 s.
	sleep 1
	expect_eq "nice of modsym-build while it builds" "$(thread_nice "$pid")" 19 || return 1
	rmmod modsym_test &
	going=$!
	seen=never
	while kill -0 "$going" 2>/dev/null; do
		[ "$(thread_nice "$pid")" = 0 ] && seen=0 && break
		sleep 0.1
	done
	wait "$going" || return 1
	expect_eq "nice of modsym-build while rmmod waits for it" "$seen" 0 || return 1
	expect_eq "nice of modsym-build after rmmod" "$(thread_nice "$pid")" 0 || return 1
	rmmod modsym && load modsym && load modsym_test
}

# held_indexes: the `modules` file's last line, "N BYTES" (every index modsym holds).
held_indexes() { awk '$2 == "held:" { print $3, $5 }' "$MODSYM_DEBUGFS/modules"; }

# rmmod of the largest module returns its index memory within seconds, with no other module
# event (its last snapshot is freed by an RCU callback, not by the next event).
t_unload_frees() {
	query lookup modsym_bulk20k:modsym_bulk_fn1 >/dev/null || return 1
	mine=$(awk '$1 == "modsym_bulk20k" { print $5 }' "$MODSYM_DEBUGFS/modules")
	read -r tables bytes <<EOF_HELD
$(held_indexes)
EOF_HELD
	ktap_msg "held with modsym_bulk20k: $tables indexes, $bytes bytes (modsym_bulk20k: $mine)"
	[ "${mine:-0}" -gt 100000 ] || return 1
	unload modsym_bulk20k || return 1
	i=0
	while :; do
		read -r t b <<EOF_HELD
$(held_indexes)
EOF_HELD
		[ "$t" -eq $((tables - 1)) ] && [ $((bytes - b)) -ge $((mine - 1024)) ] && break
		i=$((i + 1))
		[ "$i" -lt 50 ] || {
			ktap_msg "5 s after rmmod: $t indexes, $b bytes held"
			return 1
		}
		sleep 0.1
	done
	ktap_msg "$((i * 100)) ms after rmmod: $t indexes, $b bytes held"
	load modsym_bulk20k
}

# centiseconds since boot.
uptime_cs() {
	read -r up _ </proc/uptime
	echo "${up%.*}${up#*.}"
}

# Module events do not wait for readers: insmod and rmmod of a small module both return
# while verify runs and a first lookup builds the 20,000-function module's name index.
# Ordered by the scheduler, not by a clock: both readers are pinned to CPU 1 from their
# start, the lookup at nice 19 behind verify (it gets almost no CPU until verify is done),
# and the events have CPU 0; had an event waited for a reader, that reader would have ended
# first.
t_events_beside_readers() {
	[ "$(grep -c '^processor' /proc/cpuinfo)" -ge 2 ] || return "$KSFT_SKIP"
	unload modsym_test || return 1
	rm -f /tmp/lookup.end /tmp/verify.end
	(taskset 2 cat "$MODSYM_DEBUGFS/verify" >/dev/null && touch /tmp/verify.end) &
	verify=$!
	# shellcheck disable=SC2016 # expanded by that shell
	(taskset 2 sh -c 'renice -n 19 -p $$ >/dev/null && exec 3<>"$1" && printf "%s\n" "$2" >&3 &&
		cat <&3 >"$3"' sh "$MODSYM_DEBUGFS/lookup" modsym_bulk20k:modsym_bulk_fn19999 \
		/tmp/lookup.out && touch /tmp/lookup.end) &
	lookup=$!
	t0=$(uptime_cs)
	load_only modsym_test && wait_indexed modsym_test || return 1
	insmod_ms=$((($(uptime_cs) - t0) * 10))
	t1=$(uptime_cs)
	unload modsym_test || return 1
	rmmod_ms=$((($(uptime_cs) - t1) * 10))
	running=$([ -e /tmp/verify.end ] || printf verify; [ -e /tmp/lookup.end ] || printf ' lookup')
	wait "$lookup" || return 1
	wait "$verify" || return 1
	ktap_msg "insmod (and indexing) took $insmod_ms ms, rmmod $rmmod_ms ms; still running after both: $running"
	load modsym_test || return 1
	expect_eq "lookup answer" "$(awk '{ print $4 }' /tmp/lookup.out)" modsym_bulk_fn19999 || return 1
	expect_eq "readers still running after insmod and rmmod" "$running" "verify lookup"
}

# verify over at least 100,000 addresses: six 1,000-function modules are small enough for
# every boundary to be checked (large symtabs are sampled, sprint_symbol() being linear).
GEN1K="modsym_gen1k_1 modsym_gen1k_2 modsym_gen1k_3 modsym_gen1k_4 modsym_gen1k_5 modsym_gen1k_6"
t_verify_100k() {
	for m in $GEN1K; do load "$m" || return 1; done
	verify_clean || return 1
	# Text symbols only without CONFIG_KALLSYMS_ALL: a third of the boundaries.
	want=100000
	kallsyms_all || want=30000
	[ "$checked" -ge "$want" ] || {
		ktap_msg "verify checked $checked addresses, want at least $want"
		return 1
	}
	for m in $GEN1K; do unload "$m" || return 1; done
}

# lookup: both static dup_helper functions of modsym_test, in symtab (= /proc/kallsyms) order.
t_lookup_duplicates() {
	want=$(kallsyms_lines modsym_test | awk '$3 == "dup_helper" { printf "0x%s ", $1 }')
	got=$(query lookup modsym_test:dup_helper | awk '{ printf "%s ", $1 }')
	expect_eq "dup_helper addresses" "$(echo "$got" | wc -w)" 2 || return 1
	expect_eq "dup_helper order" "$got" "$(for a in $want; do printf '%s ' "$(hex "${a#0x}")"; done)" || return 1
	line=$(query lookup modsym_test_core_fn | head -n 1)
	case $line in
	"$(hex "$(kallsyms_addr modsym_test_core_fn modsym_test)") 0x"*" "[tT]" modsym_test_core_fn [modsym_test]") ;;
	*) ktap_msg "lookup modsym_test_core_fn: '$line'" && return 1 ;;
	esac
	expect_eq "no such symbol" "$(query lookup ext4:no_such_symbol_here)" "" || return 1
	# Queries one after the other on one open file: each read answers the query written
	# before it from its first line, not from where the previous read stopped.
	command exec 3<>"$MODSYM_DEBUGFS/lookup" || return 1
	printf 'modsym_test:dup_helper\n' >&3 && cat <&3 >/tmp/query.1 &&
		printf 'modsym_test:modsym_test_core_fn\n' >&3 && cat <&3 >/tmp/query.2
	status=$?
	exec 3<&-
	[ "$status" = 0 ] || return 1
	expect_eq "first query on one open file" "$(wc -l </tmp/query.1)" 2 || return 1
	expect_eq "second query on the same file" "$(cat /tmp/query.2)" \
		"$(query lookup modsym_test:modsym_test_core_fn)"
}

t_symbols() {
	awk '$NF == "[ext4]" { print $1 }' "$MODSYM_DEBUGFS/symbols" >/tmp/sym || return 1
	[ -s /tmp/sym ] || return 1
	# In address order (compare as numbers: same width hex, so a string sort is numeric).
	sort -c /tmp/sym || return 1
	ktap_msg "symbols lists $(wc -l </tmp/sym) ext4 symbols in address order"
}

# expect_error FILE INPUT ERRNO-TEXT: one write of INPUT fails with that error.
expect_error() {
	local out
	printf '%s' "$2" >/tmp/input
	# dd reads the regular file whole and writes it with one write(), naming the error.
	out=$(dd if=/tmp/input of="$MODSYM_DEBUGFS/$1" bs=1M 2>&1)
	case $out in
	*"$3"*) return 0 ;;
	esac
	ktap_msg "$1 <- '$(echo "$2" | cut -c1-40)': want '$3', got '$out'"
	return 1
}

# A write of only a newline (a shell cannot make an empty write(): it writes nothing).
newline='
'
t_bad_input() {
	vmlinux=$(awk '$4 == "" && $2 ~ /^[tT]$/ { print $1; exit }' /proc/kallsyms)
	for a in 0x0 0 0xffffffffffffffff "0x$vmlinux" 0x1234; do
		expect_eq "resolve $a" "$(resolve "$a")" "$(printf '0x%x ?' "$a")" || return 1
	done
	ok=0
	expect_error resolve "xyz" "Invalid argument" &&
		expect_error resolve "0x12 0xgg" "Invalid argument" &&
		expect_error resolve "0x12345678123456781" "Invalid argument" &&
		expect_error resolve " " "Invalid argument" &&
		expect_error resolve "$(head -c 300000 /dev/zero | tr '\0' 1)" "Argument list too long" &&
		expect_error lookup "$newline" "Invalid argument" &&
		expect_error lookup "a b" "Invalid argument" &&
		expect_error lookup ":name" "Invalid argument" &&
		expect_error lookup "$(head -c 600 /dev/zero | tr '\0' a)" "Argument list too long" &&
		expect_error bench "abc" "Invalid argument" &&
		expect_error bench "0" "Invalid argument" &&
		expect_error bench "99999999" "Argument list too long" && ok=1
	[ "$ok" = 1 ] || return 1
	# A bad write leaves nothing half-done and the open file usable.
	a=$(hex "$(kallsyms_addr modsym_test_core_fn modsym_test)")
	command exec 3<>"$MODSYM_DEBUGFS/resolve" || return 1
	echo "$a" >&3
	(echo "$a 0xzz" >&3) 2>/dev/null && return 1
	echo 0x0 >&3
	got=$(cat <&3 | awk '{ printf "%s;", $2 }')
	exec 3<&-
	expect_eq "answers after a rejected write" "$got" "$(resolve "$a" | cut -d' ' -f2);?;"
}

# A write of 0 bytes (no shell redirection makes one) is accepted and changes nothing: the
# query or addresses written before it are still what the file answers.
t_empty_write() {
	writes=$selftests_dir/tools/writes
	q=modsym_test:dup_helper
	expect_eq "lookup: a query, then 0 bytes" "$("$writes" "$MODSYM_DEBUGFS/lookup" "$q" "")" \
		"$(printf 'write: %d\nwrite: 0\n' ${#q}; query lookup "$q")" || return 1
	expect_eq "resolve: 0 bytes, an address, 0 bytes" "$("$writes" "$MODSYM_DEBUGFS/resolve" "" 0x0 "")" \
		"$(printf 'write: 0\nwrite: 3\nwrite: 0\n0x0 ?')"
}

t_bench() {
	# One round: the numbers are for `make bench`; this checks the file's shape.
	query bench 1 >/tmp/bench || return 1
	while read -r line; do ktap_msg "bench: $line"; done </tmp/bench
	awk '$1 == "modsym_bulk20k" && $NF ~ /^[0-9.]+x$/ { found = 1 } END { exit !found }' /tmp/bench
}


# The module list walk at load: the list head it stopped at is vmlinux's `modules` (from
# /proc/kallsyms), and it indexed exactly the modules of /proc/modules (log_walk=1 logs
# both). A walk that took the head for a module would index vmlinux bytes.
t_walk() {
	unload modsym || return 1
	echo "modsym-selftest: walk" >/dev/kmsg
	load modsym log_walk=1 || return 1
	dmesg | sed -n '/modsym-selftest: walk/,$p' >/tmp/walk
	head=$(sed -n 's/.*modsym: walk: module list head at 0x\([0-9a-f]*\)$/\1/p' /tmp/walk)
	[ -n "$head" ] || return 1
	if kallsyms_all; then
		want=$(awk '$3 == "modules" && NF == 3 { print $1; exit }' /proc/kallsyms)
		expect_eq "list head" "$(hex "$head")" "$(hex "$want")" || return 1
	else
		ktap_msg "no data symbols in /proc/kallsyms (CONFIG_KALLSYMS_ALL=n): head 0x$head not compared"
	fi
	sed -n 's/.*modsym: walk: indexed \(.*\)$/\1/p' /tmp/walk >/tmp/walked
	# Without sysfs, modsym itself is COMING during its own init and not adopted until
	# its LIVE event (see README: kernels without CONFIG_SYSFS).
	[ -d /sys/module ] || echo modsym >>/tmp/walked
	sort -o /tmp/walked /tmp/walked
	awk '{ print $1 }' /proc/modules | sort >/tmp/loaded
	diff /tmp/walked /tmp/loaded >/tmp/diff || {
		while read -r line; do ktap_msg "walk vs /proc/modules: $line"; done </tmp/diff
		return 1
	}
}

# A symbol name of 600 bytes (KSYM_NAME_LEN is 512): the kernel's own %pS cannot print it
# (it writes before its buffer), so verify and bench must never ask it, and resolve prints
# the name cut to 511 bytes, as /proc/kallsyms does.
t_long_name() {
	load modsym_test_longname || return 1
	line=$(awk '$3 ~ /^modsym_long_/ && $4 == "[modsym_test_longname]" { print $1, $3; exit }' /proc/kallsyms)
	addr=${line%% *} name=${line#* }
	expect_eq "length of the name in /proc/kallsyms" "${#name}" 511 || return 1
	got=$(resolve "$(hex "$addr")")
	case $got in
	"$(hex "$addr") $name+0x0/0x"*" [modsym_test_longname]") ;;
	*)
		ktap_msg "resolve: got $(echo "$got" | cut -c1-60)... $(echo "$got" | awk '{ print $NF }')"
		return 1
		;;
	esac
	cat "$MODSYM_DEBUGFS/verify" >/tmp/verify || return 1
	ktap_msg "verify: $(tr '\n' ' ' </tmp/verify)"
	expect_eq mismatches "$(awk '$1 == "mismatches" { print $2 }' /tmp/verify)" 0 || return 1
	# v-1, v, v+1 and next-1 of the long symbol at least.
	[ "$(awk '$1 == "skipped" { print $2 }' /tmp/verify)" -ge 3 ] || return 1
	query bench 1 >/tmp/bench || return 1
	unload modsym_test_longname
}

# kptr_restrict: symbols and lookup show addresses exactly where /proc/kallsyms does (to
# root: at 0 and 1, not at 2), and an unprivileged user can open none of the files.
t_kptr_restrict() {
	old=$(cat /proc/sys/kernel/kptr_restrict)
	rc=0
	mkdir -p /etc
	grep -qs '^nobody:' /etc/passwd || echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>/etc/passwd
	grep -qs '^nogroup:' /etc/group || echo 'nogroup:x:65534:' >>/etc/group
	expect_eq "uid under su nobody" "$(su -s /bin/sh nobody -c 'id -u')" 65534 || return 1
	for k in 0 1 2; do
		echo "$k" >/proc/sys/kernel/kptr_restrict
		want=$(hex "$(kallsyms_addr ext4_fill_super ext4)")
		sym=$(awk '$4 == "ext4_fill_super" && $5 == "[ext4]" { print $1; exit }' "$MODSYM_DEBUGFS/symbols")
		look=$(query lookup ext4:ext4_fill_super | awk '{ print $1; exit }')
		ktap_msg "kptr_restrict=$k: /proc/kallsyms $want, symbols $sym, lookup $look"
		expect_eq "symbols at kptr_restrict=$k" "$sym" "$want" || rc=1
		expect_eq "lookup at kptr_restrict=$k" "$look" "$want" || rc=1
		for f in modules symbols; do
			if su -s /bin/sh nobody -c "cat $MODSYM_DEBUGFS/$f" >/dev/null 2>&1; then
				ktap_msg "an unprivileged user read $f at kptr_restrict=$k"
				rc=1
			fi
		done
		nobody=$(su -s /bin/sh nobody -c "grep ' ext4_fill_super' /proc/kallsyms" | awk '{ print $1; exit }')
		expect_eq "/proc/kallsyms to an unprivileged user at kptr_restrict=$k" "$(hex "${nobody:-0}")" 0x0 || rc=1
	done
	echo "$old" >/proc/sys/kernel/kptr_restrict
	return "$rc"
}

# A bench read asked for 1,000,000 rounds ends within 2 s of a SIGKILL.
# A reader stopped and continued during a read of bench (Ctrl-Z, then fg) gets the whole
# table: the read starts over. Each module is timed for at least 100 ms a side, so the
# stop lands while the read runs (or, on a slow start, before it: the same table).
t_bench_stopped() {
	cat "$MODSYM_DEBUGFS/bench" >/tmp/bench.stopped 2>&1 &
	pid=$!
	sleep 0.3
	kill -STOP "$pid" || return 1
	sleep 0.3
	kill -CONT "$pid" || return 1
	wait "$pid" || {
		ktap_msg "cat after a stop: $(cat /tmp/bench.stopped)"
		return 1
	}
	# The modules of a read left alone (the times differ from one read to the next).
	expect_eq "modules after a stop" "$(awk '{ print $1 }' /tmp/bench.stopped)" \
		"$(awk '{ print $1 }' "$MODSYM_DEBUGFS/bench")"
}

t_bench_killed() {
	(
		exec 3<>"$MODSYM_DEBUGFS/bench"
		echo 1000000 >&3
		exec cat <&3 >/dev/null
	) &
	pid=$!
	sleep 2
	kill -0 "$pid" 2>/dev/null || {
		ktap_msg "the bench read ended before the kill"
		return 1
	}
	start=$(cut -d' ' -f1 /proc/uptime)
	kill -9 "$pid"
	wait "$pid"
	took=$(awk -v s="$start" '{ print $1 - s }' /proc/uptime)
	ktap_msg "the killed bench read ended after ${took}s"
	awk -v t="$took" 'BEGIN { exit !(t < 2) }'
}

t_unload_all() {
	for m in modsym_bulk20k modsym_test ext4 jbd2 mbcache crc16; do
		unload "$m" || return 1
		expect_eq "entry of $m" "$(module_state "$m")" "" || return 1
	done
	verify_clean || return 1
	rmmod modsym || return 1
	[ ! -e "$MODSYM_DEBUGFS" ]
}

ktap_set_plan 29
ktap_run "modsym indexes modules loaded before it, and itself" t_preloaded_modules
ktap_run "debugfs files exist" t_debugfs_files
ktap_run "the module list walk stops at vmlinux's list head and finds every module" t_walk
ktap_run "resolve: ext4's functions in one write, answered in order with their /proc/kallsyms names" t_resolve_preloaded
ktap_run "resolve: one address per open file, and +1 gives +0x1" t_resolve_one_by_one
ktap_run "resolve: a module loaded after modsym" t_loaded_after
ktap_run "verify: 0 mismatches against sprint_symbol()" verify_clean
ktap_run "init text resolves while COMING and not once LIVE" t_coming_init
ktap_run "a module COMING when modsym loads: its init text resolves, and not once LIVE" t_coming_at_load
ktap_run "failed init leaves no entry" t_failed_init
ktap_run "livepatch-sample patches and unloads with exact resolution" t_livepatch
ktap_run "20,000-function module resolves exactly" t_bulk
ktap_run "index builds after insmod: pending, exact by the kernel's scan meanwhile, nothing left by an early rmmod" t_deferred_build
ktap_run "rmmod modsym while a build reads a module being unloaded: no use after free" t_unload_during_build
ktap_run "builds run on modsym-build at nice 19, at nice 0 while rmmod waits for one; it leaves with modsym" t_build_thread
ktap_run "rmmod of the 20,000-function module frees its index without another module event" t_unload_frees
ktap_run "insmod and rmmod do not wait for a first lookup or verify of the 20,000-function module" t_events_beside_readers
ktap_run "verify: 0 mismatches over at least 100,000 addresses (30,000 without data symbols)" t_verify_100k
ktap_run "lookup: duplicates in symtab order; queries one after the other on one open file" t_lookup_duplicates
ktap_run "symbols: address order" t_symbols
ktap_run "bad input: documented errors, '?' and a usable file" t_bad_input
ktap_run "a write of 0 bytes is accepted and changes nothing" t_empty_write
ktap_run "bench prints a ratio per module" t_bench
ktap_run "bench: a read of 1,000,000 rounds ends within 2 s of SIGKILL" t_bench_killed
ktap_run "bench: a read stopped and continued starts over and prints the whole table" t_bench_stopped
ktap_run "a 600-byte symbol name: resolve cuts it to 511 bytes, verify and bench never ask sprint_symbol()" t_long_name
ktap_run "kptr_restrict 0, 1, 2: addresses exactly where /proc/kallsyms shows them" t_kptr_restrict
ktap_run "modules file lists exactly the loaded modules" modules_exact
ktap_run "unloading everything, then modsym itself" t_unload_all
ktap_finish

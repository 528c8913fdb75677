#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A generated bad-input corpus against modsym's debugfs files (KTAP): random bytes, random
# token soup, huge writes, addresses cut across writes, concurrent writers on one open file,
# seeks, reads before any write. Every write must succeed or fail with the documented
# EINVAL / E2BIG, answers must stay exact, and the kernel must not complain (the harness
# fails the run on any report). CORPUS_ROUNDS (default 200) random inputs per file.
# shellcheck shell=dash disable=SC2317 # tests run through ktap_run
# shellcheck source=ktap.sh
. "$(dirname "$0")/ktap.sh"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ktap_print_header

[ "$(id -u)" = 0 ] || ktap_skip_suite "must be root"
rounds=${CORPUS_ROUNDS:-200}
work=$(mktemp -d)
tried=0 accepted=0 einval=0 e2big=0

# A fixed-seed generator, so a failing input can be reproduced: next_random N sets rnd to
# a number below N.
seed=1
next_random() {
	seed=$(((seed * 1103515245 + 12345) % 2147483648))
	rnd=$((seed / 65536 % $1))
}

# try FILE INPUT-FILE: one write() of the whole input; count how it ended.
try() {
	local out
	tried=$((tried + 1))
	out=$(dd if="$2" of="$MODSYM_DEBUGFS/$1" bs=16M 2>&1) && {
		accepted=$((accepted + 1))
		return 0
	}
	case $out in
	*"Invalid argument"*) einval=$((einval + 1)) ;;
	*"Argument list too long"*) e2big=$((e2big + 1)) ;;
	*)
		ktap_msg "$1 <- $(wc -c <"$2") bytes: unexpected '$out'"
		return 1
		;;
	esac
}

# A known module function and modsym's answer for it, to check files stay usable.
probe_setup() {
	probe=$(hex "$(kallsyms_addr modsym_test_core_fn modsym_test)")
	probe_answer=$(resolve "$probe")
	case $probe_answer in
	"$probe modsym_test_core_fn+0x0/0x"*) ;;
	*) ktap_msg "probe: '$probe_answer'" && return 1 ;;
	esac
}
still_exact() { expect_eq "resolve after the corpus" "$(resolve "$probe")" "$probe_answer"; }

t_random_bytes() {
	local i=0 f
	while [ "$i" -lt "$rounds" ]; do
		for f in resolve lookup bench; do
			next_random 4096
			dd if=/dev/urandom of="$work/in" bs=$((rnd + 1)) count=1 2>/dev/null
			try "$f" "$work/in" || return 1
		done
		i=$((i + 1))
	done
	still_exact
}

# Token soup: valid and broken addresses, names, separators and control bytes.
t_token_soup() {
	local i=0 f
	while [ "$i" -lt "$rounds" ]; do
		awk -v seed="$i" 'BEGIN {
			srand(seed)
			n = int(rand() * 40)
			split("0x 0X ffffffff 0 1 g zz 0x0x - : :: ext4: modsym_test: a\tb \n \t \r ;", bits, " ")
			for (k = 0; k < n; k++) {
				r = rand()
				if (r < 0.3) printf "0x%x%08x", int(rand() * 2147483648), int(rand() * 4294967296)
				else if (r < 0.5) printf "%s", bits[int(rand() * 20) + 1]
				else if (r < 0.6) for (j = int(rand() * 30); j > 0; j--) printf "f"
				else if (r < 0.7) printf "%c", int(rand() * 256)
				else printf "dup_helper"
				printf (rand() < 0.8 ? " " : "")
			}
		}' >"$work/in"
		for f in resolve lookup bench; do try "$f" "$work/in" || return 1; done
		i=$((i + 1))
	done
	still_exact
}

t_huge_writes() {
	local size f before=$e2big
	for size in 262145 1048576 8388608; do
		head -c "$size" /dev/zero | tr '\0' 7 >"$work/in"
		for f in resolve lookup bench; do
			try "$f" "$work/in" || return 1
		done
	done
	# Over every file's limit: all nine writes must have said E2BIG.
	expect_eq "E2BIG answers to huge writes" $((e2big - before)) 9 || return 1
	still_exact
}

# The same addresses written whole and cut at random points give the same answers.
t_cut_writes() {
	local i=0 pos steps piece
	kallsyms_lines modsym_test | awk '{ printf "0x%s ", $1 }' >"$work/addrs"
	resolve "$(cat "$work/addrs")" >"$work/whole" || return 1
	len=$(wc -c <"$work/addrs")
	while [ "$i" -lt 20 ]; do
		# Random piece lengths of 1 to 13 bytes; awk cuts the pieces, one per line (the
		# input has no newline), and the shell's printf writes each with one write().
		pos=0 steps=''
		while [ "$pos" -lt "$len" ]; do
			next_random 13
			steps="$steps $((rnd + 1))"
			pos=$((pos + rnd + 1))
		done
		awk -v steps="$steps" '{ n = split(steps, step, " ")
			for (k = 1; k <= n; k++) { print substr($0, 1, step[k]); $0 = substr($0, step[k] + 1) } }' \
			"$work/addrs" >"$work/pieces"
		command exec 3<>"$MODSYM_DEBUGFS/resolve" || return 1
		while IFS= read -r piece; do
			tried=$((tried + 1))
			printf '%s' "$piece" >&3 || return 1
		done <"$work/pieces"
		cat <&3 >"$work/cut"
		exec 3<&-
		cmp -s "$work/whole" "$work/cut" || {
			ktap_msg "cut writes answered differently (round $i)"
			return 1
		}
		i=$((i + 1))
	done
}

# Writers sharing one open file: every address is answered once, none is lost.
t_concurrent_writers() {
	kallsyms_lines modsym_test | awk '{ print "0x" $1 }' >"$work/addrs"
	per=$(wc -l <"$work/addrs")
	command exec 3<>"$MODSYM_DEBUGFS/resolve" || return 1
	for _ in 1 2 3 4; do
		(for _ in 1 2 3 4 5; do cat "$work/addrs" >&3; done) &
	done
	wait
	tried=$((tried + 20))
	answers=$(cat <&3 | wc -l)
	exec 3<&-
	expect_eq "answers from 4 concurrent writers" "$answers" $((per * 20))
}

# Seeks and reads before writes: no error, nothing invented.
t_seeks_and_reads() {
	local f
	for f in resolve lookup; do
		expect_eq "$f read before any write" "$(wc -c <"$MODSYM_DEBUGFS/$f")" 0 || return 1
	done
	dd if="$MODSYM_DEBUGFS/modules" bs=7 skip=3 count=2 2>/dev/null >/dev/null || return 1
	dd if="$MODSYM_DEBUGFS/symbols" bs=4096 skip=1000000 count=1 2>/dev/null >/dev/null || return 1
	# A write after a seek: offsets mean nothing to a write, it is taken or refused cleanly.
	printf '%s\n' "$probe" >"$work/in"
	out=$(dd if="$work/in" of="$MODSYM_DEBUGFS/resolve" bs=64 seek=100 conv=notrunc 2>&1) ||
		case $out in
		*"Illegal seek"* | *"Invalid argument"*) ;;
		*) ktap_msg "write after seek: '$out'" && return 1 ;;
		esac
	# A read after a seek continues from there.
	command exec 3<>"$MODSYM_DEBUGFS/resolve" || return 1
	printf '%s\n' "$probe" >&3
	got=$(dd bs=1 skip=5 <&3 2>/dev/null)
	exec 3<&-
	tried=$((tried + 6))
	expect_eq "answer read from offset 5" "$got" "${probe_answer#?????}" || return 1
	still_exact
}

load modsym || exit 1
load modsym_test || exit 1
ktap_set_plan 7
ktap_run "a known address resolves (the probe for the rest)" probe_setup
ktap_run "random bytes: written whole, documented errors only" t_random_bytes
ktap_run "token soup: documented errors only, answers stay exact" t_token_soup
ktap_run "huge writes: E2BIG on every file" t_huge_writes
ktap_run "addresses cut at random points: same answers" t_cut_writes
ktap_run "concurrent writers on one open file: nothing lost" t_concurrent_writers
ktap_run "seeks and reads before writes" t_seeks_and_reads
ktap_msg "corpus: $tried inputs tried: $accepted accepted, $einval EINVAL, $e2big E2BIG"
unload modsym_test
rmmod modsym
rm -rf "$work"
ktap_finish

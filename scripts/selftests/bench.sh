#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# modsym's in-guest performance measurements (`make bench`). Prints `bench:` lines that
# scripts/bench turns into a table; runs on any guest with modsym.ko and the generated
# modules (built with MODSYM_BENCH=1). Loads and unloads modules; leaves modsym unloaded.
#   BENCH_REPEAT=20  insmod timings per module and setting (median, quartiles and extremes
#                    are reported)
# shellcheck shell=dash
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ktap_msg() { echo "# $*"; }

REPEAT=${BENCH_REPEAT:-20}
# The generated modules by size (about 5k, 50k, 100k and 250k symtab entries on x86_64),
# then a real one.
SIZED="modsym_gen1k_1 modsym_gen10k modsym_bulk20k modsym_gen50k"
MODULES="$SIZED ext4"

[ "$(id -u)" = 0 ] || {
	echo "bench: must be root" >&2
	exit 4
}
for m in modsym $SIZED $EXT4_STACK; do
	have_module "$m" || {
		echo "bench: $m.ko not found (build with MODSYM_BENCH=1)" >&2
		exit 4
	}
done

# timed CMD...: run CMD, print the microseconds it took. The clock is the printk
# timestamp of two marks written to /dev/kmsg at debug level (kept off the console);
# busybox's date has no sub-second format.
timed() {
	echo "<7>modsym-bench: t0" >/dev/kmsg
	"$@" >/dev/null || return 1
	echo "<7>modsym-bench: t1" >/dev/kmsg
	dmesg | sed -n 's/^\[ *\([0-9]*\)\.\([0-9]\{6\}\)\] modsym-bench: t\([01]\)$/\3 \1\2/p' |
		awk '{ t[$1] = $2 } END { print t[1] - t[0] }'
}

# spread: "median p25 p75 min max" of the numbers on stdin.
spread() {
	sort -n | awk '{ v[NR] = $1 }
		END { print v[int((NR + 1) / 2)], v[int((NR + 3) / 4)], v[int((3 * NR + 3) / 4)], v[1], v[NR] }'
}

# load_time_us MODULE: insmod times of MODULE over REPEAT loads (see spread). Only insmod
# is timed; with modsym, the index is built on a workqueue after it, and waited for before
# the rmmod so that the next load starts on an idle guest.
load_time_us() {
	local i=0
	while [ "$i" -lt "$REPEAT" ]; do
		timed load_only "$1" || return 1
		wait_indexed "$1" && unload "$1" || return 1
		i=$((i + 1))
	done | spread
}

aff=/sys/kernel/tracing/available_filter_functions
ktap_msg "available_filter_functions, nothing extra loaded"
echo "bench: aff_base_us $(timed cat "$aff")"

load_ext4 && unload ext4 || exit 1
for m in $MODULES; do
	ktap_msg "insmod $m without modsym, $REPEAT times"
	echo "bench: load_us $m plain $(load_time_us "$m")"
done
load modsym || exit 1
for m in $MODULES; do
	ktap_msg "insmod $m with modsym, $REPEAT times"
	echo "bench: load_us $m modsym $(load_time_us "$m")"
done

for m in $MODULES; do load "$m" || exit 1; done
awk -v list=" $MODULES " 'index(list, " " $1 " ") { print "bench: module", $0 }' "$MODSYM_DEBUGFS/modules"
ktap_msg "bench: ns per lookup, modsym and sprint_symbol() on the same addresses (each side timed for at least 100 ms)"
query bench 1 | awk -v list=" $MODULES " 'index(list, " " $1 " ") { print "bench: lookup", $0 }'

# The upstream workload: every function of the 20k-function module.
for m in $MODULES; do [ "$m" = modsym_bulk20k ] || unload "$m" || exit 1; done
kallsyms_lines modsym_bulk20k | awk '$3 ~ /^modsym_bulk_fn/ { print "0x" $1 }' >/tmp/bulk-addrs
ktap_msg "resolve every function of modsym_bulk20k ($(wc -l </tmp/bulk-addrs) addresses), one write"
resolve_all() { resolve_file /tmp/bulk-addrs >/tmp/bulk-answers; }
echo "bench: resolve_us $(wc -l </tmp/bulk-addrs) $(timed resolve_all)"
[ "$(grep -c ' modsym_bulk_fn' /tmp/bulk-answers)" = "$(wc -l </tmp/bulk-addrs)" ] || {
	echo "bench: resolve answered $(grep -c ' modsym_bulk_fn' /tmp/bulk-answers) of $(wc -l </tmp/bulk-addrs)" >&2
	exit 1
}
ktap_msg "available_filter_functions with modsym_bulk20k loaded"
echo "bench: aff_bulk_us $(timed cat "$aff")"
unload modsym_bulk20k && unload_ext4 && unload modsym

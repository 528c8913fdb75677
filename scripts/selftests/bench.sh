#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# modsym's in-guest performance measurements (`make bench`). Prints `bench:` lines that
# scripts/bench turns into a table; runs on any guest with modsym.ko and the generated
# modules (built with MODSYM_BENCH=1). Loads and unloads modules; leaves modsym unloaded.
#   BENCH_REPEAT=20  insmod timings per module and setting (median, quartiles and extremes
#                    are reported)
#   BENCH_LOOKUP_ROUNDS=5  rounds of `bench` with acceleration off, then on (medians)
#   BENCH_LISTING_ROUNDS=3  the same for each available_filter_functions listing
# shellcheck shell=dash
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ktap_msg() { echo "# $*"; }

REPEAT=${BENCH_REPEAT:-20}
LOOKUP_ROUNDS=${BENCH_LOOKUP_ROUNDS:-5}
LISTING_ROUNDS=${BENCH_LISTING_ROUNDS:-3}
# The generated modules by size (about 5k, 50k, 100k and 250k symtab entries on x86_64),
# then a real one; and an amdgpu-shaped one (45k entries, 14,000 ftrace sites), loaded once
# because its ftrace sites make each insmod slow.
SIZED="modsym_gen1k_1 modsym_gen10k modsym_bulk20k modsym_gen50k"
MODULES="$SIZED ext4"
GPU=modsym_gpu45k

[ "$(id -u)" = 0 ] || {
	echo "bench: must be root" >&2
	exit 4
}
for m in modsym $SIZED $GPU $EXT4_STACK; do
	have_module "$m" || {
		echo "bench: $m.ko not found (build with MODSYM_BENCH=1)" >&2
		exit 4
	}
done

# spread: "median p25 p75 min max" of the numbers on stdin.
spread() {
	sort -n | awk '{ v[NR] = $1 }
		END { print v[int((NR + 1) / 2)], v[int((NR + 3) / 4)], v[int((3 * NR + 3) / 4)], v[1], v[NR] }'
}
# median: the median of the numbers on stdin.
median() { spread | cut -d ' ' -f 1; }

# load_time_us MODULE SETTING: time one insmod of MODULE, appended to /tmp/load.MODULE.SETTING.
# Only insmod is timed, and each starts on an idle guest: with modsym, the index is built on
# modsym's thread after it and waited for before the rmmod; and the next load waits SETTLE s
# after the rmmod, which leaves work behind in either setting (the kernel frees module memory
# lazily, modsym the module's index after a grace period). On a 2-CPU guest a load right after
# an rmmod pays for some of it, and more with modsym: up to 2 ms in x86_64 guests.
SETTLE=0.5
load_time_us() {
	timed load_only "$1" >>"/tmp/load.$1.$2" && wait_indexed "$1" && unload "$1" && sleep "$SETTLE"
}

aff=/sys/kernel/tracing/available_filter_functions
# restarts KEY KIND: the part of the listing that is ftrace's own walk, not the lookups: at
# every read (one 4 KB page), t_start() walks the function records from the first one again
# up to the read's position, so a read takes longer the more records come before it. The
# slope (ns per record walked) is fitted over the reads that hold KIND lines only (`module`
# or `vmlinux`: lines that cost alike to show), from tools/readtimes; then
# `bench: KEY_restart_us RESTART_US READS SLOPE_NS WALKED`, RESTART = SLOPE x WALKED, the
# records walked in all restarts.
restarts() {
	"$selftests_dir/tools/readtimes" "$aff" >/tmp/aff.reads || return 1
	awk -v key="$1" -v kind="$2" '
		{ reads++; walked += $1 }
		$2 >= 20 && (kind == "module" ? $3 == $2 : $3 == 0) {
			k++; sx += $1; sy += $4; sxx += $1 * $1; sxy += $1 * $4 }
		END {
			if (k < 10 || k * sxx == sx * sx) exit 1
			slope = (k * sxy - sx * sy) / (k * sxx - sx * sx)
			printf "bench: %s_restart_us %d %d %.1f %d\n", key, slope * walked / 1000, reads, slope, walked }' /tmp/aff.reads
}
ktap_msg "available_filter_functions, nothing extra loaded, median of $LISTING_ROUNDS"
rm -f /tmp/aff.base.us
round=0
while [ "$round" -lt "$LISTING_ROUNDS" ]; do
	timed cat "$aff" >>/tmp/aff.base.us || exit 1
	round=$((round + 1))
done
echo "bench: aff_base_us $(median </tmp/aff.base.us)"
restarts aff_base vmlinux || exit 1

load_ext4 && unload ext4 || exit 1
# Rounds of one load of each module without modsym, then one with: a slow drift of the
# guest's speed affects both settings alike. Loading and unloading modsym leaves work
# behind (its adoption builds, freeing its indexes after a grace period): a pause lets it
# finish before the next timed load. And the first load after modsym loads or leaves is
# slower, whichever it is, so it is not timed: one of a module the loop does not time
# (with modsym, its first event runs code TCG has not translated yet, +1.2 ms on x86_64;
# the first load after modsym leaves took twice the median on arm64).
untimed_load() { load modsym_gen1k_2 && unload modsym_gen1k_2 && sleep "$SETTLE"; }
ktap_msg "insmod of each module without and with modsym, $REPEAT rounds"
rm -f /tmp/load.*
round=0
while [ "$round" -lt "$REPEAT" ]; do
	untimed_load || exit 1
	for m in $MODULES; do load_time_us "$m" plain || exit 1; done
	load modsym && sleep 2 && untimed_load || exit 1
	for m in $MODULES; do load_time_us "$m" modsym || exit 1; done
	unload modsym && sleep 2 || exit 1
	round=$((round + 1))
done
for m in $MODULES; do
	for setting in plain modsym; do
		echo "bench: load_us $m $setting $(spread <"/tmp/load.$m.$setting")"
	done
done
load modsym || exit 1

for m in $MODULES $GPU; do load "$m" || exit 1; done
awk -v list=" $MODULES $GPU " 'index(list, " " $1 " ") { print "bench: module", $0 }' "$MODSYM_DEBUGFS/modules"
# lookups KEY: `bench`'s ns per lookup of every bench module, appended to /tmp/lookups as
# `KEY` lines.
lookups() {
	query bench 1 | awk -v list=" $MODULES $GPU " -v key="$1" 'index(list, " " $1 " ") { print key, $0 }' \
		>>/tmp/lookups
}
# One reading of each side swings by 2x in TCG guests: rounds of acceleration off then on,
# and the median of each module's ns per lookup over them, as `bench: KEY` lines.
ktap_msg "bench: ns per lookup, modsym and sprint_symbol() on the same addresses (each side timed for at least 100 ms), acceleration off then on (sprint_symbol() through modsym's index), median of $LOOKUP_ROUNDS rounds"
rm -f /tmp/lookups
round=0
while [ "$round" -lt "$LOOKUP_ROUNDS" ]; do
	lookups lookup
	accel_set 1 || exit 1
	lookups lookup_accel
	accel_set 0 || exit 1
	round=$((round + 1))
done
# lookup_median KEY NAME FIELD: the median of FIELD over the rounds' KEY lines of module NAME.
lookup_median() {
	awk -v k="$1" -v n="$2" -v f="$3" '$1 == k && $2 == n { print $f }' /tmp/lookups | median
}
# KEY NAME SYMTAB ADDRESSES MODSYM_NS KERNEL_NS RATIO: medians per KEY and NAME, in order.
awk '!seen[$1 " " $2]++ { print $1, $2, $3, $4 }' /tmp/lookups | while read -r key name symtab addresses; do
	modsym_ns=$(lookup_median "$key" "$name" 5) kernel_ns=$(lookup_median "$key" "$name" 6)
	ratio=$(awk -v m="$modsym_ns" -v k="$kernel_ns" 'BEGIN { printf "%.1fx", k / (m ? m : 1) }')
	echo "bench: $key $name $symtab $addresses $modsym_ns $kernel_ns $ratio"
done

# listing KEY: `bench: KEY_us` and `bench: KEY_accel_us`, the time of available_filter_functions
# with acceleration off and on, the median of $LISTING_ROUNDS rounds of off then on; the
# listings must be identical.
listing() {
	ktap_msg "available_filter_functions, $2, acceleration off then on, median of $LISTING_ROUNDS rounds"
	rm -f /tmp/aff.off.us /tmp/aff.on.us
	round=0
	while [ "$round" -lt "$LISTING_ROUNDS" ]; do
		timed sh -c "cat $aff >/tmp/aff.off" >>/tmp/aff.off.us || return 1
		accel_set 1 || return 1
		timed sh -c "cat $aff >/tmp/aff.on" >>/tmp/aff.on.us || return 1
		accel_set 0 || return 1
		cmp -s /tmp/aff.off /tmp/aff.on || {
			echo "bench: available_filter_functions differs with acceleration on" >&2
			return 1
		}
		round=$((round + 1))
	done
	echo "bench: ${1}_us $(median </tmp/aff.off.us)"
	echo "bench: ${1}_accel_us $(median </tmp/aff.on.us)"
	accel_set 1 || return 1
	restarts "${1}_accel" module || return 1
	accel_set 0
}
for m in $MODULES; do unload "$m" || exit 1; done
listing aff_gpu "$GPU loaded" || exit 1

# Name lookups: 1,000 `mod:sym` of $GPU's symbols through module_kallsyms_lookup_name(),
# acceleration off then on, as `bench: names COUNT OFF_NS ON_NS` (the kernel's time in the
# lookups, from modsym_test_names); the values must be identical. And what a lookup costs
# before any module symtab is searched (vmlinux's names first, then the module by name):
# 1,000 lookups in modsym_test_names' own few symbols, as `bench: names_fixed COUNT NS`.
names_lookup() {
	lookups=/sys/kernel/debug/modsym_test_names/lookup
	have_module modsym_test_names || {
		ktap_msg "no modsym_test_names (needs kprobes): name lookups not timed"
		return 0
	}
	load modsym_test_names || return 1
	kallsyms_lines "$GPU" | awk -v m="$GPU" 'NR % 45 == 1 { print m ":" $3 }' | head -n 1000 >/tmp/names
	ktap_msg "$(wc -l </tmp/names) name lookups (mod:sym) in $GPU, acceleration off then on"
	for state in 0 1; do
		accel_set "$state" && cat /tmp/names >"$lookups" && cat "$lookups" >"/tmp/names.$state" || return 1
	done
	accel_set 0 || return 1
	kallsyms_lines modsym_test_names | awk '{ n[NR] = "modsym_test_names:" $3 }
		END { for (i = 0; i < 1000; i++) print n[i % NR + 1] }' >/tmp/names.fixed
	cat /tmp/names.fixed >"$lookups" && cat "$lookups" >/tmp/names.fixed.out || return 1
	echo "bench: names_fixed $(tail -n 1 /tmp/names.fixed.out | awk '{ print $3, $5 }')"
	unload modsym_test_names || return 1
	sed '$d' /tmp/names.1 >/tmp/names.1.values
	sed '$d' /tmp/names.0 | cmp -s - /tmp/names.1.values || {
		echo "bench: name lookups differ with acceleration on" >&2
		return 1
	}
	echo "bench: names $(tail -n 1 /tmp/names.0 | awk '{ print $3, $5 }') $(tail -n 1 /tmp/names.1 | awk '{ print $5 }')"
}
names_lookup || exit 1

# The upstream workload: every function of the 20k-function module.
unload "$GPU" && load modsym_bulk20k || exit 1
kallsyms_lines modsym_bulk20k | awk '$3 ~ /^modsym_bulk_fn/ { print "0x" $1 }' >/tmp/bulk-addrs
ktap_msg "resolve every function of modsym_bulk20k ($(wc -l </tmp/bulk-addrs) addresses), one write"
resolve_all() { resolve_file /tmp/bulk-addrs >/tmp/bulk-answers; }
echo "bench: resolve_us $(wc -l </tmp/bulk-addrs) $(timed resolve_all)"
[ "$(grep -c ' modsym_bulk_fn' /tmp/bulk-answers)" = "$(wc -l </tmp/bulk-addrs)" ] || {
	echo "bench: resolve answered $(grep -c ' modsym_bulk_fn' /tmp/bulk-answers) of $(wc -l </tmp/bulk-addrs)" >&2
	exit 1
}
listing aff_bulk "modsym_bulk20k loaded" || exit 1
unload modsym_bulk20k && unload_ext4 && unload modsym

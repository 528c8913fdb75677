# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
# Helpers shared by modsym's selftests: finding and loading modules, talking to debugfs.

MODSYM_DEBUGFS=${MODSYM_DEBUGFS:-/sys/kernel/debug/modsym}
selftests_dir=$(cd "$(dirname "$0")" && pwd)
# Where test modules are looked for, before falling back to modprobe.
MODSYM_MODULE_PATH=${MODSYM_MODULE_PATH:-$selftests_dir/.. .}

# find_ko NAME: print the path of NAME.ko (dashes and underscores alike), or fail.
find_ko() {
	local dir f
	for dir in $MODSYM_MODULE_PATH; do
		for f in "$dir/$1.ko" "$dir/$(echo "$1" | tr _ -).ko"; do
			[ -f "$f" ] && echo "$f" && return 0
		done
	done
	return 1
}

# load NAME [PARAM=VALUE...]: load_only, then, with modsym loaded, wait until modsym has
# published the module's index (built on modsym's thread after the module's COMING event).
load() { load_only "$@" && wait_indexed "$1"; }

# load_only NAME [PARAM=VALUE...]: insmod from the module path, else modprobe.
load_only() {
	local name=$1 path
	shift
	if path=$(find_ko "$name"); then
		insmod "$path" "$@"
	else
		modprobe "$name" "$@"
	fi
}

# index_pending NAME: modsym lists module NAME as waiting for its index.
index_pending() {
	awk -v n="$(echo "$1" | tr - _)" '$1 == n && $NF == "pending" { f = 1 } END { exit !f }' \
		"$MODSYM_DEBUGFS/modules" 2>/dev/null
}

# wait_indexed NAME: until modsym no longer lists module NAME as pending (indexed, or not
# listed: modsym is not loaded, or could not index it), for at most a minute.
wait_indexed() {
	local tries=0
	while index_pending "$1" && [ "$tries" -lt 600 ]; do
		sleep 0.1
		tries=$((tries + 1))
	done
	! index_pending "$1"
}

# ext4 and what it needs, in load order.
EXT4_STACK="crc16 mbcache jbd2 ext4"
load_ext4() {
	local m
	for m in $EXT4_STACK; do
		loaded "$m" || load "$m" || return 1
	done
}
unload_ext4() {
	local m
	for m in ext4 jbd2 mbcache crc16; do
		unload "$m" || return 1
	done
}

loaded() { grep -q "^$1 " /proc/modules; }

# refcount NAME: the references held on module NAME (/proc/modules' third column).
refcount() { awk -v m="$1" '$1 == m { print $3 }' /proc/modules; }

# proc_modules_state NAME: the kernel's state of module NAME (Loading, Live or Unloading).
proc_modules_state() { awk -v m="$1" '$1 == m { print $5 }' /proc/modules; }

# module_functions: the addresses (0x...) of the loaded modules' functions in /proc/kallsyms,
# one per line (some may vanish meanwhile).
module_functions() { awk '$4 ~ /^\[/ && $2 ~ /^[tT]$/ { print "0x" $1 }' /proc/kallsyms; }

# timed CMD...: run CMD (its output discarded), print the microseconds it took. The clock
# is the printk timestamp of two marks written to /dev/kmsg at debug level (kept off the
# console); busybox's date has no sub-second format. One timing at a time.
timed() {
	echo "<7>modsym-timed: t0" >/dev/kmsg
	"$@" >/dev/null || return 1
	echo "<7>modsym-timed: t1" >/dev/kmsg
	dmesg | sed -n 's/^\[ *\([0-9]*\)\.\([0-9]\{6\}\)\] modsym-timed: t\([01]\)$/\3 \1\2/p' |
		awk '{ t[$1] = $2 } END { print t[1] - t[0] }'
}

# modsym's acceleration switch (the kernel's own module address lookups through its index).
ACCEL=$MODSYM_DEBUGFS/accelerate
# accel_state: 1 or 0, the first line of `accelerate`.
accel_state() { head -n 1 "$ACCEL"; }
# accel_set 1|0: switch; fails as the write does (its error on stderr).
accel_set() { echo "$1" >"$ACCEL"; }
# accel_counts: the lookups answered since switched on, by an index and by a scan.
accel_counts() { awk 'NR > 1 { printf "%s ", $0 }' "$ACCEL"; }

# modsym_test's init, loaded with wait=1, waits until this is written with 1 (debugfs, so
# that it exists without CONFIG_SYSFS).
# shellcheck disable=SC2034 # used by the suites that source this
TEST_RELEASE=/sys/kernel/debug/modsym_test/release
unload() { ! loaded "$1" || rmmod "$1"; }

# have_module NAME: the module can be loaded here (skip the test otherwise).
have_module() { find_ko "$1" >/dev/null || modprobe -n "$1" 2>/dev/null; }

# kallsyms_lines MODULE: /proc/kallsyms lines of MODULE ("addr type name").
kallsyms_lines() { awk -v m="[$1]" '$4 == m { print $1, $2, $3 }' /proc/kallsyms; }

# kallsyms_all: /proc/kallsyms lists vmlinux's data symbols (CONFIG_KALLSYMS_ALL), such as
# `modules`, the module list head (a few linker symbols are listed either way).
kallsyms_all() { awk 'NF == 3 && $3 == "modules" { found = 1; exit } END { exit !found }' /proc/kallsyms; }

# kallsyms_addr NAME MODULE: the first address of NAME in MODULE.
kallsyms_addr() { awk -v n="$1" -v m="[$2]" '$3 == n && $4 == m { print $1; exit }' /proc/kallsyms; }

# query FILE INPUT: write INPUT to a debugfs file and read the answer on the same open file.
query() {
	# `command` keeps a failed redirection from exiting the shell.
	command exec 3<>"$MODSYM_DEBUGFS/$1" || return 1
	printf '%s\n' "$2" >&3 || {
		exec 3<&-
		return 1
	}
	cat <&3
	exec 3<&-
}

# resolve_file FILE: FILE's addresses written to one open `resolve` file by cat (whose
# chunks cut addresses anywhere); prints the answers.
resolve_file() {
	command exec 3<>"$MODSYM_DEBUGFS/resolve" || return 1
	cat "$1" >&3 || {
		exec 3<&-
		return 1
	}
	cat <&3
	exec 3<&-
}

# resolve ADDR...: modsym's answers, one line per address.
resolve() { query resolve "$*"; }

# module_state NAME: the state column of modsym's `modules` file, empty if not indexed.
module_state() { awk -v n="$1" '$1 == n { print $2 }' "$MODSYM_DEBUGFS/modules"; }

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] && return 0
	ktap_msg "$1: got '$2', want '$3'"
	return 1
}

# strip leading zeros the way modsym prints addresses: 0x<hex> without padding.
hex() { printf '0x%x' "0x$1"; }

# wait_for SECONDS COMMAND...: poll COMMAND every 0.1 s.
wait_for() {
	local tries=$(($1 * 10))
	shift
	while ! "$@"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.1
	done
}

# verify_clean: modsym's parity check against the kernel's sprint_symbol() ran over some
# addresses and found no mismatch. Leaves the number of addresses in $checked.
verify_clean() {
	cat "$MODSYM_DEBUGFS/verify" >/tmp/verify || return 1
	checked=$(awk '$1 == "addresses" { print $2 }' /tmp/verify)
	bad=$(awk '$1 == "mismatches" { print $2 }' /tmp/verify)
	ktap_msg "verify: $(tr '\n' ' ' </tmp/verify | cut -c1-300)"
	[ -n "$checked" ] && [ "$checked" -gt 0 ] && [ "$bad" = 0 ]
}

# modules_exact: modsym's `modules` names exactly the modules in /proc/modules.
modules_exact() {
	awk '!/^#/ { print $1 }' "$MODSYM_DEBUGFS/modules" | sort >/tmp/indexed
	awk '{ print $1 }' /proc/modules | sort >/tmp/loaded
	diff /tmp/indexed /tmp/loaded >/tmp/diff || {
		while read -r line; do ktap_msg "$line"; done </tmp/diff
		return 1
	}
}

# worker NAME CMD...: runs CMD until the file $work/stop appears (the suite's $work
# directory), and leaves how many runs succeeded in $work/NAME.count.
# shellcheck disable=SC2154 # $work is set by the suite that sources this
worker() {
	local name=$1 n=0
	shift
	while [ ! -e "$work/stop" ]; do
		"$@" && n=$((n + 1))
	done
	echo "$n" >"$work/$name.count"
}

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# After the other selftests (modules unloaded): a kmemleak scan finds no new leak (KTAP).
# run_selftests.sh clears kmemleak's list before the first test. Skips without kmemleak.
# shellcheck shell=dash disable=SC2317 # tests run through ktap_run
# shellcheck source=ktap.sh
. "$(dirname "$0")/ktap.sh"
ktap_print_header

kmemleak=/sys/kernel/debug/kmemleak
t_no_leaks() {
	[ -e "$kmemleak" ] || return "$KSFT_SKIP"
	# kmemleak reports an object only once it has been unreferenced for a while, over two scans.
	sleep 6
	echo scan >"$kmemleak" && sleep 1 && echo scan >"$kmemleak" || return 1
	leaks=$(cat "$kmemleak")
	[ -z "$leaks" ] && return 0
	echo "$leaks" | head -n 40 | sed 's/^/# /'
	return 1
}

ktap_set_plan 1
ktap_run "kmemleak: no leak after loading and unloading everything" t_no_leaks
ktap_finish

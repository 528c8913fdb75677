#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs every modsym selftest, like tools/testing/selftests' run_kselftest.sh.
# Works in modsym's QEMU guests and on any machine where modsym.ko and the test modules are
# present (MODSYM_MODULE_PATH: where to find them; default: beside this directory).
# Usage: run_selftests.sh [TEST...]    (default: all tests)
# shellcheck shell=dash
dir=$(cd "$(dirname "$0")" && pwd)
tests=${*:-modsym.sh livepatch.sh corpus.sh stress.sh kmemleak.sh}
rc=0
# Forget what kmemleak saw before the tests, so kmemleak.sh reports only what they leaked.
[ ! -e /sys/kernel/debug/kmemleak ] || echo clear >/sys/kernel/debug/kmemleak
for t in $tests; do
	echo "# selftest: $t"
	sh "$dir/$t"
	status=$?
	echo "# exit: $t $status"
	[ "$status" = 0 ] || [ "$status" = 4 ] || rc=1
done
exit "$rc"

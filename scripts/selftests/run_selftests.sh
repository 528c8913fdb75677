#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs modsym's selftests as one KTAP stream, the way tools/testing/selftests'
# run_kselftest.sh does: the kernel's runner (../kselftest/runner.sh, copied by `make payload`)
# runs each suite, nests its KTAP output behind "# " and reports it as one test,
# `ok N selftests: modsym: <suite>`.
# Works in modsym's QEMU guests and on any machine where modsym.ko and the test modules are
# present (MODSYM_MODULE_PATH: where to find them; default: beside this directory).
# Usage: run_selftests.sh [SUITE...]    (default: every suite)
# shellcheck shell=dash
dir=$(cd "$(dirname "$0")" && pwd)
BASE_DIR=$(dirname "$dir")
tests=${*:-modsym.sh livepatch.sh corpus.sh stress.sh faults.sh accel.sh ftrace.sh kmemleak.sh}
[ -f "$BASE_DIR/kselftest/runner.sh" ] || {
	echo "$BASE_DIR/kselftest/runner.sh missing: run the selftests from \`make payload\`'s directory" >&2
	exit 1
}
# shellcheck source=/dev/null
. "$BASE_DIR/kselftest/runner.sh"

# Forget what kmemleak saw before the tests, so kmemleak.sh reports only what they leaked.
[ ! -e /sys/kernel/debug/kmemleak ] || echo clear >/sys/kernel/debug/kmemleak
cd "$dir" || exit 1
ktap_print_header
# shellcheck disable=SC2086 # a list of suites
ktap_set_plan "$(echo $tests | wc -w)"
[ ! -w /dev/kmsg ] || echo "kselftest: Running tests in modsym" >>/dev/kmsg
# shellcheck disable=SC2086
run_many $tests
ktap_finished

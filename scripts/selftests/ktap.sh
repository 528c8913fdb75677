# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
# KTAP output for modsym's selftests, after tools/testing/selftests/kselftest/ktap_helpers.sh.
# POSIX sh (busybox ash in the guests). Exit codes as kselftest: 0 pass, 1 fail, 4 skip.

KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4
ktap_testno=0
ktap_pass=0
ktap_fail=0
ktap_skip=0
ktap_plan=0

ktap_header() {
	echo "TAP version 13"
	ktap_plan=$1
	echo "1..$1"
}

ktap_msg() { echo "# $*"; }

# ktap_skip_all REASON: the whole suite cannot run here.
ktap_skip_all() {
	echo "1..0 # SKIP $*"
	exit "$KSFT_SKIP"
}

# ktap_uptime: whole seconds since boot (the guests have no wall clock worth trusting).
ktap_uptime() {
	read -r ktap_up _ </proc/uptime
	echo "${ktap_up%.*}"
}

# ktap_run DESCRIPTION COMMAND...: run one test; its exit status 0 passes, 4 skips, else fails.
# A diagnostic line before the result says how long the test took.
ktap_run() {
	ktap_description=$1
	shift
	ktap_testno=$((ktap_testno + 1))
	ktap_start=$(ktap_uptime)
	"$@"
	ktap_status=$?
	ktap_msg "test $ktap_testno took $(($(ktap_uptime) - ktap_start))s"
	case $ktap_status in
	0)
		ktap_pass=$((ktap_pass + 1))
		echo "ok $ktap_testno $ktap_description"
		;;
	"$KSFT_SKIP")
		ktap_skip=$((ktap_skip + 1))
		echo "ok $ktap_testno $ktap_description # SKIP"
		;;
	*)
		ktap_fail=$((ktap_fail + 1))
		echo "not ok $ktap_testno $ktap_description"
		;;
	esac
}

# ktap_finish: print the totals and exit like a kselftest.
ktap_finish() {
	echo "# Totals: pass:$ktap_pass fail:$ktap_fail xfail:0 xpass:0 skip:$ktap_skip error:0"
	if [ "$ktap_testno" -ne "$ktap_plan" ]; then
		echo "# planned $ktap_plan tests, ran $ktap_testno"
		exit "$KSFT_FAIL"
	fi
	[ "$ktap_fail" -eq 0 ] || exit "$KSFT_FAIL"
	[ "$ktap_pass" -gt 0 ] || exit "$KSFT_SKIP"
	exit "$KSFT_PASS"
}

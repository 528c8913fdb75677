# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
# KTAP for modsym's selftests: the kernel's printer, tools/testing/selftests/kselftest/
# ktap_helpers.sh (`make payload` copies it to ../kselftest/, as in a kselftest install),
# plus what it lacks: ktap_run runs a command as one test, writes a marker naming the test
# to /dev/kmsg (so that a kernel report in the console log names the test it came from)
# and says how long the test took.
# shellcheck disable=SC2034 # KTAP_*/KSFT_* are ktap_helpers.sh's
ktap_suite=$(basename "$0")
ktap_helpers=$(dirname "$0")/../kselftest/ktap_helpers.sh
[ -f "$ktap_helpers" ] || {
	echo "$ktap_helpers missing: run the selftests from \`make payload\`'s directory" >&2
	exit 1
}
# shellcheck source=/dev/null
. "$ktap_helpers"

# ktap_helpers.sh echoes messages and descriptions unquoted: no globbing while it prints.
ktap_msg() {
	set -f
	ktap_print_msg "$@"
	set +f
}

# ktap_uptime: whole seconds since boot (the guests have no wall clock worth trusting).
ktap_uptime() {
	read -r ktap_up _ </proc/uptime
	echo "${ktap_up%.*}"
}

# ktap_run DESCRIPTION COMMAND...: one test; COMMAND's status 0 passes, 4 skips, else fails.
ktap_run() {
	ktap_description=$1
	shift
	[ ! -w /dev/kmsg ] || echo "modsym-selftest: $ktap_suite: $KTAP_TESTNO $ktap_description" >/dev/kmsg
	ktap_start=$(ktap_uptime)
	"$@"
	ktap_status=$?
	ktap_msg "test $KTAP_TESTNO took $(($(ktap_uptime) - ktap_start))s"
	set -f
	case $ktap_status in
	0) ktap_test_pass "$ktap_description" ;;
	"$KSFT_SKIP") ktap_test_skip "$ktap_description" ;;
	*) ktap_test_fail "$ktap_description" ;;
	esac
	set +f
}

# ktap_finish: totals, and the exit status of a kselftest (4 when every test skipped).
ktap_finish() {
	if [ "$KTAP_CNT_SKIP" -gt 0 ] && [ "$KTAP_CNT_SKIP" -eq "$KSFT_NUM_TESTS" ]; then
		ktap_print_totals
		exit "$KSFT_SKIP"
	fi
	ktap_finished
}

# ktap_skip_suite REASON: the whole suite cannot run here.
ktap_skip_suite() {
	ktap_skip_all "$@"
	exit "$KSFT_SKIP"
}

# shellcheck shell=bash disable=SC2034
# Common settings for modsym's scripts: cache layout, versions, logging.
# Sourced, never run.

MODSYM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODSYM_CACHE=${MODSYM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/modsym}
KERNEL_SERIES=7.3
KERNEL_PACKAGE=linux-source-$KERNEL_SERIES
LLVM_VERSION=19
BINDGEN_VERSION=0.73.2
APT_PRIVATE=$MODSYM_CACHE/apt
export MODSYM_ROOT MODSYM_CACHE

# Kernel ARCH for a guest arch name (x86_64 | arm64).
kernel_arch() {
	case $1 in
	x86_64 | arm64) echo "$1" ;;
	*) die "unknown ARCH '$1' (use x86_64 or arm64)" ;;
	esac
}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# Seconds since the epoch, for phase timings.
now() { date +%s; }

# Print "<what> took Ns".
took() { log "$1 took $(($(now) - $2))s"; }

# Environment every build needs once setup has run.
load_env() {
	[ -f "$MODSYM_CACHE/env.sh" ] || die "toolchain not set up: run scripts/setup"
	# shellcheck source=/dev/null
	. "$MODSYM_CACHE/env.sh"
}

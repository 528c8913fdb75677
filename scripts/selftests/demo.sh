#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# `make run`: load modsym and a few modules, resolve addresses next to the kernel's own
# symbols, show `modules`, the parity check and a short bench.
# shellcheck shell=dash
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
ktap_msg() { echo "  $*"; }

step() { printf '\n==> %s\n' "$*"; }

step "loading ext4 and its dependencies (before modsym), modsym, then modsym_test"
load_ext4 || exit 1
for m in modsym modsym_test; do load "$m" || exit 1; done

step "cat $MODSYM_DEBUGFS/modules"
cat "$MODSYM_DEBUGFS/modules"

step "a few addresses: /proc/kallsyms says, modsym resolves"
for spec in ext4:ext4_fill_super ext4:ext4_readdir jbd2:jbd2_journal_start modsym_test:modsym_test_core_fn; do
	mod=${spec%%:*} name=${spec#*:}
	addr=$(kallsyms_addr "$name" "$mod")
	[ -n "$addr" ] || continue
	a=$(hex "$addr")
	printf '  kallsyms: %s %s [%s]\n' "$a" "$name" "$mod"
	printf '  modsym:   %s\n' "$(resolve "$a" "$(printf '0x%x' $((a + 0x10)))" | tr '\n' ' ')"
done

step "echo 'modsym_test:dup_helper' > lookup; cat lookup  (two statics of one name, symtab order)"
query lookup modsym_test:dup_helper

step "cat verify  (every symbol boundary compared with the kernel's sprint_symbol())"
cat "$MODSYM_DEBUGFS/verify"

step "echo 100 >&3; cat <&3 on one open bench file  (ns per lookup, modsym vs the kernel's linear scan)"
query bench 100

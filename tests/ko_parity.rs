// SPDX-License-Identifier: GPL-2.0

//! Parity on real kernel modules: every `.ko` under `MODSYM_KO_DIRS`
//! (colon-separated; default: every `$MODSYM_CACHE/kernels/*`, with
//! `MODSYM_CACHE` defaulting to `$HOME/.cache/modsym`) is laid out the way
//! kernel/module/main.c lays a module out, and for every candidate symbol the
//! addresses `v - 1`, `v`, `v + 1` and `next - 1`, plus every region's first
//! and last byte, are resolved by the index and by the literal oracle, for
//! both tables the kernel uses: the full one (module `COMING`) and the
//! core-only one (`core_kallsyms`, after init).
//!
//! Finding no `.ko` at all is a failure, never a silent pass.

mod common;

use common::ko::{all_kos, load};
use common::{Module, Table};
use modsym_core::index::{Region, SymbolTable};
use object::elf;
use std::path::{Path, PathBuf};

/// Symbols checked per table at most (the oracle is `O(n)` per address).
const MAX_SAMPLED_SYMBOLS: usize = 20_000;

/// Checks one table; returns the number of addresses compared.
fn check_table(path: &Path, what: &str, t: &Table, regions: &[Region]) -> usize {
    let m = Module::build(t, regions);
    let in_regions: Vec<usize> = (1..t.len())
        .filter(|&i| regions.iter().any(|r| r.holds_value(t.value(i))))
        .collect();
    let step = in_regions.len().div_ceil(MAX_SAMPLED_SYMBOLS).max(1);
    let mut addrs: Vec<u64> = Vec::new();
    for r in regions.iter().filter(|r| r.size > 0) {
        addrs.extend([r.base, r.end() - 1]);
    }
    for &i in in_regions.iter().step_by(step) {
        let v = t.value(i);
        addrs.extend([v.wrapping_sub(1), v, v.wrapping_add(1)]);
        if let Some(h) = m.resolve_oracle(v) {
            addrs.push(h.value + h.size - 1);
        }
    }
    let mut resolved = 0;
    for &a in &addrs {
        let want = m.resolve_oracle(a);
        let got = m.resolve(a);
        assert_eq!(
            got,
            want,
            "{}: {what} table, address {a:#x} ({:?} vs oracle {:?})",
            path.display(),
            got.map(|h| String::from_utf8_lossy(t.name(h.index as usize)).into_owned()),
            want.map(|h| String::from_utf8_lossy(t.name(h.index as usize)).into_owned()),
        );
        resolved += usize::from(want.is_some());
    }
    assert!(addrs.is_empty() || resolved > 0 || m.entries() == 0);
    addrs.len()
}

#[test]
fn real_modules_match_the_kernel_loop() {
    let (dirs, kos) = all_kos();
    assert!(
        !kos.is_empty(),
        "no .ko found under {dirs:?}: build a kernel first (scripts/) or set MODSYM_KO_DIRS \
         to directories holding .ko files; this test never passes without real modules"
    );
    let mut modules = 0usize;
    let mut addresses = 0usize;
    let mut symbols = 0usize;
    let mut mapping = 0usize;
    let mut by_machine = std::collections::BTreeMap::<u16, usize>::new();
    let mut largest = (0usize, PathBuf::new());
    for path in &kos {
        let ko = load(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        modules += 1;
        *by_machine.entry(ko.machine).or_default() += 1;
        symbols += ko.full.len();
        mapping += (1..ko.full.len())
            .filter(|&i| modsym_core::index::is_mapping_symbol(ko.full.name(i)))
            .count();
        if ko.full.len() > largest.0 {
            largest = (ko.full.len(), path.clone());
        }
        addresses += check_table(path, "full", &ko.full, &ko.regions);
        addresses += check_table(path, "core", &ko.core, &ko.regions);
    }
    let machines: Vec<String> = by_machine
        .iter()
        .map(|(m, n)| {
            let name = match *m {
                elf::EM_X86_64 => "x86_64".to_string(),
                elf::EM_AARCH64 => "aarch64".to_string(),
                other => format!("e_machine {other}"),
            };
            format!("{name}: {n}")
        })
        .collect();
    println!(
        "ko parity: {modules} modules ({}), {symbols} symtab entries ({mapping} mapping symbols), \
         {addresses} addresses checked, index == find_kallsyms_symbol() everywhere; \
         largest: {} ({} entries)",
        machines.join(", "),
        largest.1.display(),
        largest.0
    );
    assert!(modules > 0 && addresses > 0);
}

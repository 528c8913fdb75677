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

/// Oracle work per table at most (entries visited, about 2.5 ns each), so
/// that a 100k-entry module costs seconds, not minutes; at least
/// [`MIN_SAMPLED_SYMBOLS`] symbols are checked whatever the size.
const ORACLE_BUDGET: usize = 1_000_000_000;
const MIN_SAMPLED_SYMBOLS: usize = 1_000;

/// Checks one table; returns the number of addresses compared.
fn check_table(path: &Path, what: &str, t: &Table, regions: &[Region]) -> usize {
    let m = Module::build(t, regions);
    let in_regions: Vec<usize> = (1..t.len())
        .filter(|&i| regions.iter().any(|r| r.holds_value(t.value(i))))
        .collect();
    let cap =
        (ORACLE_BUDGET / (4 * t.len().max(1))).clamp(MIN_SAMPLED_SYMBOLS, MAX_SAMPLED_SYMBOLS);
    let step = in_regions.len().div_ceil(cap).max(1);
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
    struct Stats {
        modules: usize,
        addresses: usize,
        symbols: usize,
        mapping: usize,
        by_machine: std::collections::BTreeMap<u16, usize>,
        largest: (usize, PathBuf),
    }
    let stats = std::sync::Mutex::new(Stats {
        modules: 0,
        addresses: 0,
        symbols: 0,
        mapping: 0,
        by_machine: Default::default(),
        largest: (0, PathBuf::new()),
    });
    // Modules are independent: share them out over the cores.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(path) = kos.get(k) else { break };
                let ko = load(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
                let mapping = (1..ko.full.len())
                    .filter(|&i| common::c_is_mapping_symbol(ko.full.name(i)))
                    .count();
                let checked = check_table(path, "full", &ko.full, &ko.regions)
                    + check_table(path, "core", &ko.core, &ko.regions);
                let mut s = stats.lock().unwrap();
                s.modules += 1;
                s.addresses += checked;
                s.symbols += ko.full.len();
                s.mapping += mapping;
                *s.by_machine.entry(ko.machine).or_default() += 1;
                if ko.full.len() > s.largest.0 {
                    s.largest = (ko.full.len(), path.clone());
                }
            });
        }
    });
    let Stats {
        modules,
        addresses,
        symbols,
        mapping,
        by_machine,
        largest,
    } = stats.into_inner().unwrap();
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

// SPDX-License-Identifier: GPL-2.0

//! Index build + lookup against a literal transcription of the kernel's
//! `find_kallsyms_symbol()` loop, and the name index against a linear scan,
//! on tables derived from arbitrary input.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use modsym_core::index::{self, Region, SymbolTable};

/// The host tests' literal transcription of find_kallsyms_symbol() (the oracle).
#[allow(dead_code)]
#[path = "../../tests/common/oracle.rs"]
mod oracle;
use oracle::{build_region, count_region, oracle};

#[derive(Arbitrary, Debug)]
enum Value {
    /// Near the region base (most entries): ties and neighbours are common.
    Near(i16),
    /// Near the region end.
    End(i8),
    /// Anywhere.
    Raw(u64),
}

#[derive(Arbitrary, Debug)]
enum Name {
    Pool(u8),
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Entry {
    name: Name,
    value: Value,
    shndx: u16,
}

#[derive(Arbitrary, Debug)]
struct Input {
    base: u64,
    size: u32,
    entries: Vec<Entry>,
    probes: Vec<i32>,
}

const POOL: &[&[u8]] = &[
    b"",
    b"$x",
    b"$d",
    b"$",
    b".L",
    b".Ltmp",
    b"L0",
    b"L",
    b"L1",
    b"a",
    b"b",
    b"foo",
    b"foo",
    b"bar",
    b"__ksymtab_foo",
];

struct Table(Vec<(u64, u16, Vec<u8>)>);

impl SymbolTable for Table {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn value(&self, i: usize) -> u64 {
        self.0[i].0
    }
    fn shndx(&self, i: usize) -> u16 {
        self.0[i].1
    }
    fn name(&self, i: usize) -> &[u8] {
        &self.0[i].2
    }
}

fuzz_target!(|input: Input| {
    let region = Region::new(input.base, input.size);
    let mut rows = vec![(0u64, 0u16, Vec::new())];
    for e in input.entries.iter().take(512) {
        let value = match e.value {
            Value::Near(d) => region.base.wrapping_add(d as i64 as u64),
            Value::End(d) => region.end().wrapping_add(d as i64 as u64),
            Value::Raw(v) => v,
        };
        let mut name = match &e.name {
            Name::Pool(k) => POOL[usize::from(*k) % POOL.len()].to_vec(),
            Name::Bytes(b) => b.clone(),
        };
        if let Some(nul) = name.iter().position(|&b| b == 0) {
            name.truncate(nul);
        }
        rows.push((value, e.shndx % 4, name));
    }
    let t = Table(rows);

    // Address index.
    let n = count_region(&t, region);
    if n > 0 {
        let mut small = vec![0u32; n - 1];
        assert_eq!(
            build_region(&t, region, &mut small),
            Err(index::BuildError::OutTooSmall)
        );
    }
    let mut entries = vec![0u32; n + 1];
    let used = build_region(&t, region, &mut entries).unwrap();
    assert!(used <= n);
    let entries = &entries[..used];

    let mut addrs: Vec<u64> = input
        .probes
        .iter()
        .map(|&p| region.base.wrapping_add(p as i64 as u64))
        .collect();
    for &(v, _, _) in &t.0 {
        addrs.extend([v.wrapping_sub(1), v, v.wrapping_add(1)]);
    }
    addrs.extend([region.base, region.end().wrapping_sub(1)]);
    for a in addrs {
        let got = index::lookup(&t, region, entries, a);
        if region.contains(a) {
            assert_eq!(got, oracle(&t, region, a), "addr {a:#x}");
        } else {
            assert_eq!(got, None);
        }
    }

    // Name index.
    let mut names = vec![0u32; index::count_names(&t)];
    let used = index::build_names(&t, &mut names).unwrap();
    assert_eq!(used, names.len());
    for q in t.0.iter().map(|r| &r.2).filter(|n| !n.is_empty()).take(64) {
        let want: Vec<u32> = (1..t.0.len())
            .filter(|&i| t.0[i].1 != 0 && &t.0[i].2 == q)
            .map(|i| i as u32)
            .collect();
        assert_eq!(index::lookup_name(&t, &names, q), want.as_slice());
    }
});

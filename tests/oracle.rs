// SPDX-License-Identifier: GPL-2.0

//! Hand-built edge cases: the index against the literal `find_kallsyms_symbol()`
//! oracle, and both against answers worked out by hand.

mod common;

use common::{build_region, count_region, oracle, oracle_names, Module, Table};
use modsym_core::index::{
    self, build_names, count_names, is_address_candidate, lookup, lookup_name, BuildError, Hit,
    Region, SymbolTable,
};

const TEXT: Region = Region::new(0xffff_ffff_c000_0000, 0x1000);

/// A table that only implements the required methods (default `name_head()`).
struct Plain<'a, T: ?Sized>(&'a T);

impl<T: SymbolTable + ?Sized> SymbolTable for Plain<'_, T> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn value(&self, i: usize) -> u64 {
        self.0.value(i)
    }
    fn shndx(&self, i: usize) -> u16 {
        self.0.shndx(i)
    }
    fn name(&self, i: usize) -> &[u8] {
        self.0.name(i)
    }
}

/// Checks index == oracle at every address of small regions, and around
/// every value and edge of large ones. Returns the number of addresses checked.
fn check_all<T: SymbolTable + ?Sized>(t: &T, regions: &[Region]) -> usize {
    let m = Module::build(t, regions);
    let plain = Plain(t);
    let mp = Module::build(&plain, regions);
    for ((_, a), (_, b)) in m.regions.iter().zip(&mp.regions) {
        assert_eq!(a, b, "default name_head() builds the same index");
    }
    let mut addrs = Vec::new();
    for r in regions {
        if r.size <= 0x2000 {
            addrs.extend((0..u64::from(r.size)).map(|o| r.base.wrapping_add(o)));
        }
        for d in [0u64, 1, 2] {
            addrs.push(r.base.wrapping_sub(d));
            addrs.push(r.end().wrapping_sub(d));
            addrs.push(r.end().wrapping_add(d));
            addrs.push(r.base.wrapping_add(d));
        }
    }
    for i in 0..t.len() {
        let v = t.value(i);
        addrs.extend([v.wrapping_sub(1), v, v.wrapping_add(1)]);
    }
    for &a in &addrs {
        assert_eq!(m.resolve(a), m.resolve_oracle(a), "addr {a:#x}");
        // Outside its own region the index answers None.
        for (r, e) in &m.regions {
            if !r.contains(a) {
                assert_eq!(lookup(t, *r, e, a), None);
            }
        }
    }
    addrs.len()
}

fn hit(index: u32, value: u64, offset: u64, size: u64) -> Option<Hit> {
    Some(Hit {
        index,
        value,
        offset,
        size,
    })
}

fn built(t: &Table, r: Region) -> Vec<u32> {
    let mut out = vec![0u32; count_region(t, r)];
    let n = build_region(t, r, &mut out).unwrap();
    out.truncate(n);
    out
}

/// Whether a defined symbol named `name` is an address candidate, through
/// both `name_head()` paths (the C-like override and the trait's default).
fn named_candidate(name: &[u8]) -> bool {
    let t = Table::from_entries(&[(name, TEXT.base, 1)]);
    let got = is_address_candidate(&t, 1);
    assert_eq!(is_address_candidate(&Plain(&t), 1), got, "{name:?}");
    got
}

#[test]
fn mapping_symbol_rules() {
    for name in [
        &b"$x"[..],
        b"$d",
        b"$",
        b"$x.123",
        b".L",
        b".Ltmp0",
        b".Ltmp3",
        b"L0",
        b"L0abc",
    ] {
        assert!(!named_candidate(name), "{name:?}");
        assert!(common::c_is_mapping_symbol(name));
    }
    for name in [
        &b""[..],
        b"L",
        b"L1",
        b".",
        b".text",
        b"x$",
        b"l0",
        b"foo",
        b"_L0",
        b"init_module",
    ] {
        // Not a mapping symbol: a candidate unless its name is empty.
        assert_eq!(named_candidate(name), !name.is_empty(), "{name:?}");
        assert!(!common::c_is_mapping_symbol(name));
    }
}

#[test]
fn equal_values_first_index_wins() {
    let b = TEXT.base;
    // local, global, weak at one address; the lowest index is the answer.
    let t = Table::from_entries(&[
        (b"foo_local", b + 0x100, 1),
        (b"foo", b + 0x100, 1),
        (b"foo_weak", b + 0x100, 1),
        (b"bar", b + 0x140, 1),
        (b"bar_alias", b + 0x140, 1),
    ]);
    let e = built(&t, TEXT);
    assert_eq!(e, vec![1, 4]);
    assert_eq!(
        lookup(&t, TEXT, &e, b + 0x110),
        hit(1, b + 0x100, 0x10, 0x40)
    );
    assert_eq!(
        lookup(&t, TEXT, &e, b + 0x140),
        hit(4, b + 0x140, 0, 0x1000 - 0x140)
    );
    assert_eq!(lookup(&t, TEXT, &e, b + 0xff), None);
    check_all(&t, &[TEXT]);

    // The same, with the duplicates in reverse index order.
    let t = Table::from_entries(&[
        (b"bar_alias", b + 0x140, 1),
        (b"foo_weak", b + 0x100, 1),
        (b"bar", b + 0x140, 1),
        (b"foo", b + 0x100, 1),
    ]);
    assert_eq!(built(&t, TEXT), vec![2, 1]);
    check_all(&t, &[TEXT]);
}

#[test]
fn zero_size_and_adjacent_symbols() {
    let b = TEXT.base;
    let t = Table::from_entries(&[
        (b"start", b, 1),
        (b"__func_end_marker", b + 0x20, 1),
        (b"next", b + 0x20, 1),
        (b"one_byte", b + 0x21, 1),
        (b"after", b + 0x22, 1),
    ]);
    let e = built(&t, TEXT);
    assert_eq!(lookup(&t, TEXT, &e, b + 0x1f), hit(1, b, 0x1f, 0x20));
    assert_eq!(lookup(&t, TEXT, &e, b + 0x20), hit(2, b + 0x20, 0, 1));
    assert_eq!(lookup(&t, TEXT, &e, b + 0x21), hit(4, b + 0x21, 0, 1));
    check_all(&t, &[TEXT]);
}

#[test]
fn mapping_empty_and_undef_entries_are_skipped() {
    let b = TEXT.base;
    let t = Table::from_entries(&[
        (b"foo", b + 0x10, 1),
        (b"$x", b + 0x18, 1),
        (b"$d", b + 0x1c, 1),
        (b".Ltmp0", b + 0x1d, 1),
        (b"L0_label", b + 0x1e, 1),
        (b"", b + 0x1f, 1),
        (b"imported", b + 0x20, 0),
        (b"L1", b + 0x40, 1),
        (b"bar", b + 0x50, 1),
    ]);
    let e = built(&t, TEXT);
    assert_eq!(e, vec![1, 8, 9]);
    assert_eq!(lookup(&t, TEXT, &e, b + 0x30), hit(1, b + 0x10, 0x20, 0x30));
    assert_eq!(lookup(&t, TEXT, &e, b + 0x40), hit(8, b + 0x40, 0, 0x10));
    assert!(!is_address_candidate(&t, 0));
    assert!(!is_address_candidate(&t, 100));
    check_all(&t, &[TEXT]);
}

#[test]
fn values_outside_every_region() {
    let b = TEXT.base;
    let t = Table::from_entries(&[
        (b"abs_const", 0x1234, 0xfff1), // SHN_ABS, raw value
        (b"percpu_var", 0x40, 30),      // per-cpu offset-like value
        (b"far_below", b - 0x10, 1),    // just before the region
        (b"foo", b + 0x800, 1),
        (b"far_above", b + 0x5000, 1),
        (b"top", u64::MAX, 1),
    ]);
    let e = built(&t, TEXT);
    assert_eq!(e, vec![4]);
    assert_eq!(lookup(&t, TEXT, &e, b + 0x7ff), None);
    assert_eq!(
        lookup(&t, TEXT, &e, b + 0xfff),
        hit(4, b + 0x800, 0x7ff, 0x800)
    );
    check_all(&t, &[TEXT]);
}

#[test]
fn region_edges() {
    let b = TEXT.base;
    let end = TEXT.end();
    let t = Table::from_entries(&[
        (b"first", b, 1),
        (b"last_byte", end - 1, 1),
        (b"at_end", end, 1), // not in the region: must not bound `last_byte` either
        (b"beyond", end + 8, 1),
    ]);
    let e = built(&t, TEXT);
    assert_eq!(e, vec![1, 2]);
    assert_eq!(lookup(&t, TEXT, &e, b), hit(1, b, 0, 0xfff));
    assert_eq!(lookup(&t, TEXT, &e, end - 2), hit(1, b, 0xffe, 0xfff));
    assert_eq!(lookup(&t, TEXT, &e, end - 1), hit(2, end - 1, 0, 1));
    assert_eq!(lookup(&t, TEXT, &e, end), None);
    assert_eq!(lookup(&t, TEXT, &e, b - 1), None);
    check_all(&t, &[TEXT]);
}

#[test]
fn empty_region_and_address_before_first_symbol() {
    let b = TEXT.base;
    let data = Region::new(b + 0x10_0000, 0x200);
    let t = Table::from_entries(&[(b"foo", b + 0x100, 1), (b"bar", b + 0x200, 1)]);
    assert_eq!(count_region(&t, data), 0);
    let e = built(&t, data);
    assert!(e.is_empty());
    for a in data.base..data.end() {
        assert_eq!(lookup(&t, data, &e, a), None);
    }
    let e = built(&t, TEXT);
    assert_eq!(lookup(&t, TEXT, &e, b), None);
    assert_eq!(lookup(&t, TEXT, &e, b + 0xff), None);
    check_all(&t, &[TEXT, data]);
}

#[test]
fn tiny_tables() {
    let b = TEXT.base;
    // Empty (not even the null entry), null entry only, one symbol.
    let empty = Table {
        syms: Vec::new(),
        strtab: vec![0],
    };
    assert_eq!(count_region(&empty, TEXT), 0);
    assert_eq!(build_region(&empty, TEXT, &mut []), Ok(0));
    assert_eq!(lookup(&empty, TEXT, &[], b), None);
    assert_eq!(count_names(&empty), 0);

    let null_only = Table::new();
    check_all(&null_only, &[TEXT]);

    let one = Table::from_entries(&[(b"only", b + 0x10, 1)]);
    let e = built(&one, TEXT);
    assert_eq!(lookup(&one, TEXT, &e, b + 0x10), hit(1, b + 0x10, 0, 0xff0));
    check_all(&one, &[TEXT]);
}

#[test]
fn livepatch_style_table_keeps_undef_entries() {
    let b = TEXT.base;
    // A livepatch module keeps every symbol, UNDEF ones included (with the
    // resolved value of the symbol they import), and SHN_LIVEPATCH entries.
    let t = Table::from_entries(&[
        (b"livepatch_cmdline_proc_show", b + 0x10, 1),
        (b"seq_printf", b + 0x20, 0), // UNDEF, value inside the region
        (b".klp.sym.vmlinux.saved_command_line,0", b + 0x30, 0xff20),
        (b"printk", 0xffff_ffff_8100_0000, 0),
        (b"klp_enable_patch", b + 0x80, 0),
        (b"livepatch_init", b + 0x100, 1),
    ]);
    let e = built(&t, TEXT);
    assert_eq!(e, vec![1, 3, 6]);
    assert_eq!(lookup(&t, TEXT, &e, b + 0x28), hit(1, b + 0x10, 0x18, 0x20));
    check_all(&t, &[TEXT]);
}

#[test]
fn all_seven_region_types() {
    let bases: Vec<Region> = (0..7u64)
        .map(|k| Region::new(0xffff_ffff_c000_0000 + (k << 24), 0x800 + 0x100 * k as u32))
        .collect();
    let mut t = Table::new();
    for (k, r) in bases.iter().enumerate() {
        for j in 0..5u64 {
            let name = format!("{}_{}", common::MEM_TYPES[k], j);
            t.push(name.as_bytes(), r.base + j * 0x90 + k as u64, 1 + k as u16);
        }
        // An entry whose section is text but whose value lies in this region:
        // it belongs to the region its value is in.
        t.push(format!("misplaced_{k}").as_bytes(), r.base + 0x7f0, 1);
        t.push(b"$d", r.base + 0x7f8, 1);
    }
    let m = Module::build(&t, &bases);
    for (k, (r, e)) in m.regions.iter().enumerate() {
        assert_eq!(e.len(), 6, "region {k}");
        let h = lookup(&t, *r, e, r.base + 0x7fa).unwrap();
        assert_eq!(
            t.name(h.index as usize),
            format!("misplaced_{k}").as_bytes()
        );
        assert_eq!(h.size, u64::from(r.size) - 0x7f0);
    }
    check_all(&t, &bases);
}

#[test]
fn degenerate_region_bases() {
    // base 0: the kernel's `bestval = base - 1` wraps, nothing ever resolves.
    let low = Region::new(0, 0x100);
    // A region ending exactly at the top of the address space: `nextval` wraps.
    let top = Region::new(0u64.wrapping_sub(0x100), 0x100);
    let t = Table::from_entries(&[
        (b"zero", 0, 1),
        (b"low", 0x10, 1),
        (b"t1", top.base + 0x10, 1),
        (b"t2", top.base + 0x20, 1),
        (b"tmax", u64::MAX, 1),
    ]);
    let e = built(&t, low);
    assert_eq!(lookup(&t, low, &e, 0x20), None);
    assert_eq!(oracle(&t, low, 0x20), None);
    let e = built(&t, top);
    assert_eq!(
        lookup(&t, top, &e, top.base + 0x18),
        oracle(&t, top, top.base + 0x18)
    );
    check_all(&t, &[low, top]);

    // A region that wraps past the top (found by proptest): a value in the
    // wrapped-around part is below `base`, so it never resolves anything.
    let wrap = Region::new(0u64.wrapping_sub(0x100), 0x1000);
    let t = Table::from_entries(&[(b"L", 0x40, 2), (b"hi", wrap.base + 8, 1)]);
    assert!(wrap.contains(0x40) && !wrap.holds_value(0x40));
    assert_eq!(count_region(&t, wrap), 1);
    let e = built(&t, wrap);
    assert_eq!(lookup(&t, wrap, &e, wrap.base), None);
    assert_eq!(lookup(&t, wrap, &e, 0x50), None);
    assert_eq!(
        lookup(&t, wrap, &e, wrap.base + 9),
        oracle(&t, wrap, wrap.base + 9)
    );
    check_all(&t, &[wrap]);
}

#[test]
fn build_errors() {
    let b = TEXT.base;
    let t = Table::from_entries(&[(b"a", b, 1), (b"b", b + 1, 1), (b"b", b + 2, 0)]);
    let mut small = [0u32; 1];
    assert_eq!(
        build_region(&t, TEXT, &mut small),
        Err(BuildError::OutTooSmall)
    );
    assert_eq!(build_names(&t, &mut small), Err(BuildError::OutTooSmall));
    let mut big = [7u32; 8];
    assert_eq!(build_region(&t, TEXT, &mut big), Ok(2));
    assert_eq!(&big[..2], &[1, 2]);
    assert_eq!(big[2..], [7; 6], "nothing written past the entries");
    assert_eq!(index::index_bytes(2), 8);
    assert_eq!(index::BYTES_PER_ENTRY, 4);
}

#[test]
fn name_index() {
    let t = Table::from_entries(&[
        (b"foo", 0x10, 1),
        (b"foobar", 0x20, 1),
        (b"fo", 0x30, 1),
        (b"$x", 0x40, 1),       // mapping symbols are found by name
        (b"foo", 0x50, 0),      // UNDEF: not found
        (b"", 0x60, 1),         // empty: not indexed
        (b"foo", 0x70, 2),      // second definition, later in symtab order
        (b"\xff\xfe", 0x80, 1), // not UTF-8
        (b"Foo", 0x90, 1),
        (b"foo", 0xa0, 0xfff1), // SHN_ABS counts
    ]);
    assert_eq!(count_names(&t), 8);
    let mut names = vec![0u32; count_names(&t)];
    let n = build_names(&t, &mut names).unwrap();
    assert_eq!(n, 8);
    for q in [
        &b"foo"[..],
        b"foobar",
        b"fo",
        b"f",
        b"$x",
        b"\xff\xfe",
        b"\xff",
        b"Foo",
        b"zzz",
        b"foob",
    ] {
        assert_eq!(
            lookup_name(&t, &names, q),
            oracle_names(&t, q).as_slice(),
            "{q:?}"
        );
    }
    assert_eq!(lookup_name(&t, &names, b"foo"), &[1, 7, 10]);
    assert_eq!(lookup_name(&t, &names, b"$x"), &[4]);
    // Empty names are not indexed (a query can never be empty).
    assert!(lookup_name(&t, &names, b"").is_empty());
}

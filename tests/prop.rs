// SPDX-License-Identifier: GPL-2.0

//! Property tests: random tables with clustered values (ties everywhere),
//! index vs the literal oracle, name index vs a linear scan.

mod common;

use common::{build_region, count_region, oracle, oracle_names, oracle_value_entry, Module, Table};
use modsym_core::index::{self, is_address_candidate};
use modsym_core::index::{build_names, count_names, first_defined_named, lookup_name, Region};
use proptest::prelude::*;

/// Names drawn from a small pool: duplicates, mapping symbols, empty names.
const NAMES: &[&[u8]] = &[
    b"",
    b"$x",
    b"$d",
    b"$",
    b".L",
    b".Ltmp1",
    b"L0",
    b"L0x",
    b"L",
    b"L1",
    b".",
    b"a",
    b"b",
    b"foo",
    b"foo",
    b"foobar",
    b"fo",
    b"bar",
    b"init_module",
    b"\xff",
    b"__ksymtab_foo",
];

/// Cluster centres: values sit on or right next to a few points, so equal
/// values, region edges and adjacent symbols are common. Includes the bottom
/// and the top of the address space.
const CENTRES: &[u64] = &[
    0,
    0x40,
    0x1000,
    0x1010,
    0x10f0,
    0x1100,
    0x2000,
    0xffff_ffff_c000_0000,
    0xffff_ffff_c000_0fff,
    0xffff_ffff_ffff_ff00,
    u64::MAX,
];

fn value() -> impl Strategy<Value = u64> {
    (0..CENTRES.len(), -3i64..=3, 0..4u8).prop_map(|(c, d, spread)| {
        let d = if spread == 0 { d * 0x11 } else { d };
        CENTRES[c].wrapping_add(d as u64)
    })
}

fn entry() -> impl Strategy<Value = (usize, u64, u16)> {
    (
        0..NAMES.len(),
        value(),
        prop_oneof![3 => Just(1u16), 1 => Just(0u16), 1 => 2u16..5, 1 => Just(0xfff1u16)],
    )
}

fn table() -> impl Strategy<Value = Table> {
    prop::collection::vec(entry(), 0..64).prop_map(|entries| {
        let mut t = Table::new();
        for (n, v, s) in entries {
            t.push(NAMES[n], v, s);
        }
        t
    })
}

fn region() -> impl Strategy<Value = Region> {
    (
        value(),
        prop_oneof![
            Just(0u32),
            1u32..0x20,
            Just(0x100u32),
            Just(0x1000u32),
            any::<u32>()
        ],
    )
        .prop_map(|(base, size)| Region::new(base, size))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

    #[test]
    fn lookup_matches_oracle(t in table(), regions in prop::collection::vec(region(), 1..4), extra in prop::collection::vec(value(), 0..16)) {
        let m = Module::build(&t, &regions);
        let mut addrs = extra;
        for r in &regions {
            addrs.extend([r.base, r.base.wrapping_add(1), r.end().wrapping_sub(1), r.end().wrapping_sub(2), r.end()]);
        }
        for s in &t.syms {
            addrs.extend([s.st_value.wrapping_sub(1), s.st_value, s.st_value.wrapping_add(1)]);
        }
        for a in addrs {
            // Every region that contains `a` (regions may overlap here), not
            // only the first one.
            for (r, e) in &m.regions {
                if r.contains(a) {
                    let want = oracle(&t, *r, a);
                    prop_assert_eq!(modsym_core::index::lookup(&t, *r, e, a), want, "addr {:#x} region {:?}", a, r);
                    prop_assert_eq!(modsym_core::index::lookup_by_scan(&t, *r, a), want);
                }
            }
            prop_assert_eq!(m.resolve(a), m.resolve_oracle(a));
        }
        // symbol_at() walks a region in address order with lookup()'s sizes.
        for (r, e) in &m.regions {
            for pos in 0..=e.len() {
                let at = modsym_core::index::symbol_at(&t, *r, e, pos);
                let want = e.get(pos).and_then(|&i| {
                    modsym_core::index::lookup(&t, *r, e, t.syms[i as usize].st_value)
                });
                prop_assert_eq!(at, want);
            }
        }
    }

    /// One pass over all regions builds what one build per region builds,
    /// overlapping regions included.
    #[test]
    fn build_regions_matches_build_region(t in table(), regions in prop::collection::vec(region(), 0..5)) {
        let m = Module::build(&t, &regions);
        for (r, e) in &m.regions {
            let mut out = vec![0u32; count_region(&t, *r)];
            let n = build_region(&t, *r, &mut out).unwrap();
            prop_assert_eq!(&out[..n], e.as_slice(), "region {:?}", r);
        }
    }

    #[test]
    fn lookup_name_matches_scan(t in table(), extra in prop::collection::vec(0..NAMES.len(), 1..8)) {
        let mut names = vec![0u32; count_names(&t)];
        let n = build_names(&t, &mut names).unwrap();
        prop_assert_eq!(n, names.len());
        for q in extra.into_iter().map(|k| NAMES[k]).filter(|q| !q.is_empty()) {
            let want = oracle_names(&t, q);
            prop_assert_eq!(lookup_name(&t, &names, q), want.as_slice(), "{:?}", q);
        }
    }

    /// The kernel's name-to-value lookup, with and without the name index,
    /// for every query (the empty one included), also when entry 0 is a
    /// defined, named symbol (the loader never makes one; the answer must
    /// not depend on that).
    #[test]
    fn first_defined_named_matches_kernel_loop(
        mut t in table(),
        entry0 in prop::option::of((0..NAMES.len(), 1u16..3)),
        queries in prop::collection::vec(0..NAMES.len(), 1..8),
    ) {
        if let Some((n, shndx)) = entry0 {
            let k = t.push(NAMES[n], 0x40, shndx);
            t.syms[0] = t.syms[k];
        }
        let mut names = vec![0u32; count_names(&t)];
        let n = build_names(&t, &mut names).unwrap();
        for q in queries.into_iter().map(|k| NAMES[k]) {
            let want = oracle_value_entry(&t, q);
            prop_assert_eq!(first_defined_named(&t, Some(&names[..n]), q), want, "{:?}", q);
            prop_assert_eq!(first_defined_named(&t, None, q), want, "{:?}", q);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn synthetic_tables_match(n in 1usize..3000, seed in any::<u64>(), probes in prop::collection::vec(any::<u64>(), 64)) {
        let (t, regions) = common::synthetic(n, seed);
        let m = Module::build(&t, &regions);
        for p in probes {
            let r = regions[(p % 7) as usize];
            let a = r.base.wrapping_add((p >> 8) % (u64::from(r.size) + 2));
            prop_assert_eq!(m.resolve(a), m.resolve_oracle(a), "addr {:#x}", a);
        }
    }
}

/// Module memory never starts at address 0 (the kernel's `bestval = base - 1`).
fn nonzero(regions: Vec<Region>) -> Vec<Region> {
    regions.into_iter().filter(|r| r.base != 0).collect()
}

/// The module's region indices as the parity code sees them.
fn views<'a>(
    t: &'a Table,
    m: &'a Module<'_, Table>,
) -> Vec<modsym_core::parity::RegionView<'a, Table>> {
    m.regions
        .iter()
        .map(|(r, e)| modsym_core::parity::RegionView {
            table: t,
            region: *r,
            entries: e,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// `verify`'s boundaries: per region its two edges, then `v - 1`, `v`,
    /// `v + 1` and `v + size - 1` of every indexed symbol, sizes as a lookup
    /// of `v` reports them; nothing after the last.
    #[test]
    fn boundaries_enumerate_every_edge(t in table(), regions in prop::collection::vec(region(), 1..4)) {
        use modsym_core::parity::{boundary, boundary_count};
        let regions = nonzero(regions);
        let m = Module::build(&t, &regions);
        let views = views(&t, &m);
        let mut want = Vec::new();
        for (r, e) in &m.regions {
            want.extend([r.base, r.end().wrapping_sub(1)]);
            for &i in e {
                let v = t.syms[i as usize].st_value;
                let size = modsym_core::index::lookup(&t, *r, e, v).map_or(0, |h| h.size);
                want.extend([v.wrapping_sub(1), v, v.wrapping_add(1), v.wrapping_add(size).wrapping_sub(1)]);
            }
        }
        let total = boundary_count(&views);
        prop_assert_eq!(total, want.len() as u64);
        let got: Vec<u64> = (0..total).filter_map(|j| boundary(&views, j)).collect();
        prop_assert_eq!(got, want);
        prop_assert_eq!(boundary(&views, total), None);
    }

    /// A sample is evenly spread, strictly increasing and stays in range.
    #[test]
    fn samples_are_in_range_and_increasing(total in 0u64..100_000, symtab in 0u64..1_000_000, budget in 1u64..200_000_000) {
        use modsym_core::parity::{sample_len, sample_position};
        let n = sample_len(total, symtab, budget);
        prop_assert!(n <= total);
        prop_assert!(n >= total.min(1));
        let mut last = None;
        for k in 0..n.min(5000) {
            let j = sample_position(k, n, total);
            prop_assert!(j < total);
            prop_assert!(last.is_none_or(|l| l < j));
            last = Some(j);
        }
    }

    /// `bench` samples distinct indexed symbols, at most `n`, each at the
    /// middle of the symbol.
    #[test]
    fn bench_sample_picks_distinct_symbols(t in table(), regions in prop::collection::vec(region(), 1..4), n in 0usize..40) {
        use modsym_core::parity::bench_sample;
        let regions = nonzero(regions);
        let m = Module::build(&t, &regions);
        let views = views(&t, &m);
        let mut mids = Vec::new();
        for v in &views {
            for k in 0..v.entries.len() {
                let (value, size) = v.symbol(k).unwrap();
                mids.push(value.wrapping_add(size / 2));
            }
        }
        let mut picked = Vec::new();
        let count = bench_sample(&views, n, |a| picked.push(a));
        prop_assert_eq!(count, n.min(mids.len()));
        prop_assert_eq!(picked.len(), count);
        // Picked in enumeration order, each one a distinct symbol's middle.
        let mut from = 0;
        for a in picked {
            let at = mids[from..].iter().position(|&m| m == a);
            prop_assert!(at.is_some(), "{:#x} is not a symbol's middle", a);
            from += at.unwrap() + 1;
        }
    }
}

/// The address index of `r` by a plain sort of `(value, index)` pairs, ties
/// collapsed to the lowest index: the reference for the radix sort.
fn plain_sort_index(t: &Table, r: Region) -> Vec<u32> {
    let mut pairs: Vec<(u64, u32)> = (1..t.syms.len())
        .filter(|&i| is_address_candidate(t, i) && r.holds_value(t.syms[i].st_value))
        .map(|i| (t.syms[i].st_value, i as u32))
        .collect();
    pairs.sort_unstable();
    pairs.dedup_by_key(|p| p.0);
    pairs.into_iter().map(|(_, i)| i).collect()
}

/// A table of the values `picks` makes in `regions`: per pick a region, a
/// kind of offset (first byte, last byte, just past the end, just before the
/// base, a few shared values, near the end, anywhere), a name and rarely
/// `SHN_UNDEF`; shuffled as drawn, or sorted by value.
fn edge_table(regions: &[Region], picks: &[(u8, u32, usize, u8)], presorted: bool) -> Table {
    let mut vals: Vec<(u64, usize, u16)> = picks
        .iter()
        .map(|&(kind, raw, name, undef)| {
            let r = regions[raw as usize % regions.len()];
            let size = u64::from(r.size);
            let raw = u64::from(raw);
            let off = match kind {
                0 => 0,
                1 => size - 1,
                2 => size,
                3 => u64::MAX,
                4 => raw % 8,
                5 => size - 1 - raw % 4.min(size),
                _ => raw % size,
            };
            (r.base.wrapping_add(off), name, u16::from(undef != 0))
        })
        .collect();
    if presorted {
        vals.sort_by_key(|v| v.0);
    }
    let mut t = Table::new();
    for (v, name, shndx) in vals {
        t.push(NAMES.get(name).copied().unwrap_or(b"f"), v, shndx);
    }
    t
}

/// Checks every region of `m` against [`plain_sort_index`] and the
/// comparison-sort build (`build_regions` without scratch).
fn check_against_plain_sort(t: &Table, regions: &[Region]) -> Result<(), TestCaseError> {
    let m = Module::build(t, regions);
    // Scratch one short of `scratch_len`: the comparison-sort fallback.
    let mut counts = vec![0; regions.len()];
    index::count_regions(t, regions, &mut counts);
    let mut outs: Vec<Vec<u32>> = counts.iter().map(|&c| vec![0; c]).collect();
    let mut slices: Vec<&mut [u32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    let mut used = vec![0; regions.len()];
    let mut short = vec![0u64; index::scratch_len(&counts).saturating_sub(1)];
    index::build_regions_in(t, regions, &mut slices, &mut used, &mut short).unwrap();
    for (((r, e), out), n) in m.regions.iter().zip(&outs).zip(&used) {
        prop_assert_eq!(&out[..*n], e.as_slice(), "fallback, region {:?}", r);
    }
    for (r, e) in &m.regions {
        prop_assert_eq!(e, &plain_sort_index(t, *r), "region {:?}", r);
        let mut out = vec![0u32; count_region(t, *r)];
        let n = build_region(t, *r, &mut out).unwrap();
        prop_assert_eq!(&out[..n], e.as_slice(), "region {:?}", r);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Regions large enough for the radix sort (and small ones, sorted with
    /// `sort_unstable`): ties, offsets 0 and `size - 1` up to `u32::MAX - 1`,
    /// values just outside, a region running past the top of the address
    /// space, shuffled and presorted tables.
    #[test]
    fn radix_build_matches_plain_sort(
        sizes in prop::collection::vec(
            prop_oneof![Just(0x100u32), Just(0x1000), Just(0x10_0000), Just(u32::MAX), 1u32..0x40],
            1..4,
        ),
        top in any::<bool>(),
        picks in prop::collection::vec((0u8..8, any::<u32>(), 0..NAMES.len() * 4, 0u8..16), 0..10_000),
        presorted in any::<bool>(),
    ) {
        let mut regions = Vec::new();
        let mut base = 0x1_0000_0000u64;
        for &size in &sizes {
            regions.push(Region::new(base, size));
            base += u64::from(size) + 0x1000;
        }
        if top {
            let last = regions.last_mut().unwrap();
            last.base = u64::MAX - u64::from(last.size) / 2;
        }
        check_against_plain_sort(&edge_table(&regions, &picks, presorted), &regions)?;
    }
}

/// The widest case, deterministically: 20,000 candidates over a `u32::MAX`
/// region (three 11-bit digits), ties and both ends included, shuffled.
#[test]
fn radix_build_full_width_offsets() {
    let r = Region::new(0xffff_ffff_0000_0000, u32::MAX);
    let mut rng = common::Rng(0x5eed);
    let picks: Vec<(u8, u32, usize, u8)> = (0..20_000)
        .map(|_| {
            let kind = rng.below(8) as u8;
            (kind, rng.next_u64() as u32, NAMES.len() + 1, 1)
        })
        .collect();
    check_against_plain_sort(&edge_table(&[r], &picks, false), &[r]).unwrap();
}

/// Region layouts of every kind the key pass meets: up to ten regions (more
/// than eight take the generic pass), adjacent, a few bytes apart (two starts
/// in one grid cell: the slot search), far apart (the grid), overlapping or
/// wrapping (the generic pass), empty ones, in any order, at the bottom and
/// the top of the address space.
fn layout() -> impl Strategy<Value = Vec<Region>> {
    let start = prop_oneof![
        Just(0u64),
        Just(0xffff_ffff_c000_0000),
        (0..1u64 << 34).prop_map(|d| u64::MAX - d),
        any::<u64>(),
    ];
    let size = prop_oneof![
        Just(0u32),
        1u32..16,
        Just(u32::MAX),
        (0u32..32).prop_map(|b| 1 << b),
        1u32..0x100_0000,
    ];
    // Added to the end of the previous region, wrapping: the last ones overlap it.
    let gap = prop_oneof![
        Just(0u64),
        0u64..64,
        0u64..1 << 40,
        any::<u64>(),
        (1u64..0x1000).prop_map(|d| d.wrapping_neg()),
    ];
    (
        start,
        prop::collection::vec((size, gap, 0u8..32), 0..=10),
        any::<u64>(),
    )
        .prop_map(|(mut base, spans, shuffle)| {
            let mut regions = Vec::new();
            for (size, gap, next) in spans {
                regions.push(Region::new(base, size));
                // The next region at the same base, or from this one's last
                // byte on (both overlap it), or after a gap.
                base = match next {
                    0 => base,
                    1 => base.wrapping_add(u64::from(size)).wrapping_sub(1),
                    _ => base.wrapping_add(u64::from(size)).wrapping_add(gap),
                };
            }
            let mut rng = common::Rng(shuffle | 1);
            for i in (1..regions.len()).rev() {
                regions.swap(i, rng.below(i as u64 + 1) as usize);
            }
            regions
        })
}

/// A table over `regions`: per pick a region, a place (its first and last
/// byte, just outside either end, a few shared values, anywhere at a given
/// alignment, so that low offset bits are all zero, or anywhere at all), a
/// name and a section (`SHN_UNDEF`, `SHN_ABS` or a section); shuffled,
/// sorted by value, or sorted but for a few swaps.
fn layout_table(
    regions: &[Region],
    picks: &[(u32, u8, u64, usize, u8)],
    align: u32,
    order: u8,
) -> Table {
    let mut vals: Vec<(u64, usize, u16)> = picks
        .iter()
        .map(|&(region, kind, raw, name, sec)| {
            let value = match regions.get(region as usize % regions.len().max(1)) {
                Some(r) if kind < 7 => {
                    let size = u64::from(r.size);
                    let off = match kind {
                        0 => 0,
                        1 => size.wrapping_sub(1),
                        2 => size,
                        3 => u64::MAX,
                        4 => (raw % 4) << align,
                        _ => (raw % size.max(1)) >> align << align,
                    };
                    r.base.wrapping_add(off)
                }
                _ => raw,
            };
            let shndx = match sec {
                0 => 0,
                1 => 0xfff1,
                _ => 1,
            };
            (value, name, shndx)
        })
        .collect();
    if order != 0 {
        vals.sort_by_key(|v| v.0);
        if order == 2 && vals.len() > 1 {
            let n = vals.len();
            for &(_, _, raw, _, _) in picks.iter().take(3) {
                vals.swap(raw as usize % n, (raw >> 32) as usize % n);
            }
        }
    }
    let mut t = Table::new();
    for (v, name, shndx) in vals {
        t.push(NAMES.get(name).copied().unwrap_or(b"f"), v, shndx);
    }
    t
}

/// Builds with `build_regions_in` into outputs of `lens` entries and
/// `scratch_len(lens)` scratch elements, less `short`.
fn build_in(t: &Table, regions: &[Region], lens: &[usize], short: usize) -> Vec<Vec<u32>> {
    let mut outs: Vec<Vec<u32>> = lens.iter().map(|&c| vec![u32::MAX; c]).collect();
    let mut slices: Vec<&mut [u32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    let mut used = vec![0; regions.len()];
    let mut scratch = vec![u64::MAX; index::scratch_len(lens).saturating_sub(short)];
    index::build_regions_in(t, regions, &mut slices, &mut used, &mut scratch).unwrap();
    outs.into_iter()
        .zip(used)
        .map(|(mut out, n)| {
            out.truncate(n);
            out
        })
        .collect()
}

/// `build_regions_in` into outputs of `lens` entries and `scratch_len(lens)`
/// scratch elements.
fn build_in_result(t: &Table, regions: &[Region], lens: &[usize]) -> Result<(), index::BuildError> {
    let mut outs: Vec<Vec<u32>> = lens.iter().map(|&c| vec![u32::MAX; c]).collect();
    let mut slices: Vec<&mut [u32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
    let mut used = vec![0; regions.len()];
    let mut scratch = vec![u64::MAX; index::scratch_len(lens)];
    index::build_regions_in(t, regions, &mut slices, &mut used, &mut scratch)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Over any region layout (grid, slot search and generic key passes), the
    /// counts bound the candidates of each region from above without passing
    /// the table's size, and `build_regions_in` builds the plain sort's index
    /// into outputs sized by those counts, by the exact candidate counts, or
    /// larger, and with a scratch one short (the comparison sort).
    #[test]
    fn build_in_matches_plain_sort_any_layout(
        regions in layout(),
        picks in prop::collection::vec(
            (any::<u32>(), 0u8..9, any::<u64>(), 0..NAMES.len() * 3, 0u8..8),
            0..3000,
        ),
        align in 0u32..8,
        order in 0u8..3,
    ) {
        let t = layout_table(&regions, &picks, align, order);
        let mut counts = vec![0; regions.len()];
        index::count_regions(&t, &regions, &mut counts);
        let want: Vec<Vec<u32>> = regions.iter().map(|&r| plain_sort_index(&t, r)).collect();
        let exact: Vec<usize> = regions
            .iter()
            .map(|&r| {
                (1..t.syms.len())
                    .filter(|&i| is_address_candidate(&t, i) && r.holds_value(t.syms[i].st_value))
                    .count()
            })
            .collect();
        for ((r, &c), &e) in regions.iter().zip(&counts).zip(&exact) {
            prop_assert!(c >= e && c < t.syms.len(), "{:x?}: count {} for {} candidates", r, c, e);
        }
        prop_assert_eq!(build_in(&t, &regions, &counts, 0), want.clone(), "counted");
        prop_assert_eq!(build_in(&t, &regions, &exact, 0), want.clone(), "exact");
        prop_assert_eq!(build_in(&t, &regions, &exact, 1), want.clone(), "scratch short");
        let more: Vec<usize> = exact.iter().map(|&e| e + 3).collect();
        prop_assert_eq!(build_in(&t, &regions, &more, 0), want, "larger");
        // One region's output a candidate short, the others exact or
        // counted: reported, not written past.
        for k in (0..regions.len()).filter(|&k| exact[k] > 0) {
            for base in [&exact, &counts] {
                let mut lens = base.clone();
                lens[k] = exact[k] - 1;
                prop_assert_eq!(
                    build_in_result(&t, &regions, &lens),
                    Err(index::BuildError::OutTooSmall),
                    "region {} short", k
                );
            }
        }
    }
}

/// Two small regions placed at every pair of offsets in the first cells of
/// a grid (cells of 8 bytes: a third region ends 255 bytes after the
/// first's base), a symbol at every address around them: region starts on
/// cell edges and two starts in one cell (the slot search) included.
#[test]
fn build_in_matches_plain_sort_at_cell_edges() {
    let lo = 0xffff_ffff_c000_0000u64;
    let mut t = Table::new();
    for a in lo - 2..lo + 260 {
        t.push(b"f", a, 1);
    }
    for s0 in 1..4u32 {
        for p1 in u64::from(s0)..40 {
            for s1 in 1..4u32 {
                for p2 in (p1 + u64::from(s1)..48).step_by(3) {
                    let regions = [
                        Region::new(lo, s0),
                        Region::new(lo + p1, s1),
                        Region::new(lo + p2, 1),
                        Region::new(lo + 250, 6),
                    ];
                    let mut counts = [0; 4];
                    index::count_regions(&t, &regions, &mut counts);
                    let got = build_in(&t, &regions, &counts, 0);
                    for (r, e) in regions.iter().zip(got) {
                        assert_eq!(e, plain_sort_index(&t, *r), "{regions:x?}");
                    }
                }
            }
        }
    }
}

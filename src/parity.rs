// SPDX-License-Identifier: GPL-2.0

//! Which addresses the parity check and the benchmark ask both sides about.
//!
//! `verify` compares modsym's answer with the kernel's `sprint_symbol()` at
//! every *boundary* of a module's index ([`boundary`]): the first and last
//! byte of each region, and `v - 1`, `v`, `v + 1` and `next - 1` of every
//! indexed symbol. The kernel's side scans the whole symtab per address, so a
//! large module gets an evenly spaced sample instead ([`sample_len`],
//! [`sample_position`]). `bench` times both sides on the middle of evenly
//! spaced symbols ([`bench_sample`]) and reports the ratio ([`ratio_tenths`]).
//!
//! Everything is generic over [`SymbolTable`], allocation free, and never
//! panics.

#![forbid(unsafe_code)]

use crate::index::{symbol_at, Region, SymbolTable};

/// One region's sorted index over its table, as built by
/// [`crate::index::build_regions`].
pub struct RegionView<'a, T: ?Sized> {
    /// The table the entries index.
    pub table: &'a T,
    /// The region.
    pub region: Region,
    /// Sorted, collapsed symtab indices.
    pub entries: &'a [u32],
}

impl<T: ?Sized> Clone for RegionView<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for RegionView<'_, T> {}

impl<T: SymbolTable + ?Sized> RegionView<'_, T> {
    /// Value and size of the `k`-th indexed symbol (size up to the next entry
    /// or the region end, as a lookup reports it).
    pub fn symbol(&self, k: usize) -> Option<(u64, u64)> {
        symbol_at(self.table, self.region, self.entries, k).map(|h| (h.value, h.size))
    }
}

/// Boundaries of one region: its two edges and four per indexed symbol.
fn region_boundaries(entries: usize) -> u64 {
    (entries as u64).saturating_mul(4).saturating_add(2)
}

/// Number of boundary addresses of a module's regions, see [`boundary`].
pub fn boundary_count<T: SymbolTable + ?Sized>(regions: &[RegionView<'_, T>]) -> u64 {
    regions
        .iter()
        .map(|r| region_boundaries(r.entries.len()))
        .fold(0, u64::saturating_add)
}

/// The `j`-th boundary address of a module, for `j <` [`boundary_count`]:
/// per region (in the order given) its first and last byte, then per indexed
/// symbol of value `v` and size `s`: `v - 1`, `v`, `v + 1` and `v + s - 1`.
///
/// # Examples
///
/// ```
/// use modsym_core::index::{build_regions, Region, SymbolTable};
/// use modsym_core::parity::{boundary, boundary_count, RegionView};
///
/// struct Table<'a>(&'a [(u64, u16, &'a str)]);
/// impl SymbolTable for Table<'_> {
///     fn len(&self) -> usize { self.0.len() }
///     fn value(&self, i: usize) -> u64 { self.0[i].0 }
///     fn shndx(&self, i: usize) -> u16 { self.0[i].1 }
///     fn name(&self, i: usize) -> &[u8] { self.0[i].2.as_bytes() }
/// }
///
/// let t = Table(&[(0, 0, ""), (0x1040, 1, "bar")]);
/// let text = Region::new(0x1000, 0x100);
/// let mut storage = [0u32; 1];
/// let mut used = [0];
/// build_regions(&t, &[text], &mut [&mut storage[..]], &mut used).unwrap();
/// let views = [RegionView { table: &t, region: text, entries: &storage[..used[0]] }];
/// assert_eq!(boundary_count(&views), 6);
/// let all: Vec<u64> = (0..6).filter_map(|j| boundary(&views, j)).collect();
/// assert_eq!(all, [0x1000, 0x10ff, 0x103f, 0x1040, 0x1041, 0x10ff]);
/// assert_eq!(boundary(&views, 6), None);
/// ```
pub fn boundary<T: SymbolTable + ?Sized>(regions: &[RegionView<'_, T>], mut j: u64) -> Option<u64> {
    for r in regions {
        let count = region_boundaries(r.entries.len());
        if j >= count {
            j -= count;
            continue;
        }
        return Some(match j {
            0 => r.region.base,
            1 => r.region.end().wrapping_sub(1),
            _ => {
                let (v, size) = r.symbol(usize::try_from((j - 2) / 4).ok()?)?;
                match (j - 2) % 4 {
                    0 => v.wrapping_sub(1),
                    1 => v,
                    2 => v.wrapping_add(1),
                    _ => v.wrapping_add(size).wrapping_sub(1),
                }
            }
        });
    }
    None
}

/// How many of a module's `total` boundaries to check when each check costs
/// a scan of `symtab` entries and a module may cost at most `budget` entry
/// visits: all of them if that fits, else `budget / symtab` (at least one).
///
/// ```
/// use modsym_core::parity::sample_len;
/// assert_eq!(sample_len(100, 50, 1_000_000), 100);
/// assert_eq!(sample_len(400_000, 100_000, 120_000_000), 1200);
/// assert_eq!(sample_len(10, 0, 5), 5);
/// assert_eq!(sample_len(0, 10, 5), 0);
/// ```
pub fn sample_len(total: u64, symtab: u64, budget: u64) -> u64 {
    total.min((budget / symtab.max(1)).max(1))
}

/// The boundary checked as the `k`-th of `sample` evenly spaced ones out of
/// `total` (`k` itself when every boundary is checked).
///
/// ```
/// use modsym_core::parity::sample_position;
/// assert_eq!(sample_position(3, 10, 10), 3);
/// assert_eq!(sample_position(1, 2, 10), 5);
/// assert_eq!(sample_position(4, 5, 10), 8);
/// ```
pub fn sample_position(k: u64, sample: u64, total: u64) -> u64 {
    if sample >= total || sample == 0 {
        return k;
    }
    // No 128-bit division in the kernel; real products are far below 2^64.
    k.saturating_mul(total) / sample
}

/// Calls `f` with the middle address of `n` evenly spaced indexed symbols of
/// a module (all of them if it has at most `n`), in address order within
/// each region; returns how many it picked.
///
/// ```
/// use modsym_core::index::{build_regions, Region, SymbolTable};
/// use modsym_core::parity::{bench_sample, RegionView};
///
/// struct Table<'a>(&'a [(u64, u16, &'a str)]);
/// impl SymbolTable for Table<'_> {
///     fn len(&self) -> usize { self.0.len() }
///     fn value(&self, i: usize) -> u64 { self.0[i].0 }
///     fn shndx(&self, i: usize) -> u16 { self.0[i].1 }
///     fn name(&self, i: usize) -> &[u8] { self.0[i].2.as_bytes() }
/// }
///
/// let t = Table(&[(0, 0, ""), (0x1000, 1, "a"), (0x1010, 1, "b"), (0x1040, 1, "c")]);
/// let text = Region::new(0x1000, 0x100);
/// let mut storage = [0u32; 3];
/// let mut used = [0];
/// build_regions(&t, &[text], &mut [&mut storage[..]], &mut used).unwrap();
/// let views = [RegionView { table: &t, region: text, entries: &storage[..used[0]] }];
/// let mut picked = Vec::new();
/// assert_eq!(bench_sample(&views, 2, |a| picked.push(a)), 2);
/// assert_eq!(picked, [0x1008, 0x1028]);
/// ```
pub fn bench_sample<T: SymbolTable + ?Sized>(
    regions: &[RegionView<'_, T>],
    n: usize,
    mut f: impl FnMut(u64),
) -> usize {
    let total: usize = regions.iter().map(|r| r.entries.len()).sum();
    let n = n.min(total);
    let mut picked = 0usize;
    let mut seen = 0usize;
    for r in regions {
        for k in 0..r.entries.len() {
            // Entry `seen` is picked when it is the `picked`-th of `n` evenly spaced ones.
            let due = picked.saturating_mul(total) / n.max(1);
            if picked < n && seen == due {
                if let Some((v, size)) = r.symbol(k) {
                    f(v.wrapping_add(size / 2));
                    picked += 1;
                }
            }
            seen += 1;
        }
    }
    picked
}

/// How many times faster modsym was, in tenths: (kernel ns per lookup) /
/// (modsym ns per lookup) x 10, from the totals of both timed runs. Zero
/// counts and times count as one; never overflows.
///
/// ```
/// use modsym_core::parity::ratio_tenths;
/// assert_eq!(ratio_tenths(1_000, 10, 20_000, 10), 200);
/// assert_eq!(ratio_tenths(3_000, 3, 1_000, 1), 10);
/// assert_eq!(ratio_tenths(0, 0, 5, 0), 50);
/// assert_eq!(ratio_tenths(1, 1, 1_000_000, 1), 10_000_000);
/// ```
pub fn ratio_tenths(
    modsym_total: u64,
    modsym_lookups: u64,
    kernel_total: u64,
    kernel_lookups: u64,
) -> u64 {
    let kernel = u128::from(kernel_total) * u128::from(modsym_lookups.max(1));
    let modsym = u128::from(modsym_total.max(1)) * u128::from(kernel_lookups.max(1));
    // The kernel has no 128-bit division helper: scale both into 64 bits first.
    let shift = (128 - kernel.max(modsym).leading_zeros()).saturating_sub(60);
    let k = u64::try_from(kernel >> shift).unwrap_or(u64::MAX);
    let m = u64::try_from(modsym >> shift).unwrap_or(u64::MAX).max(1);
    k.saturating_mul(10) / m
}

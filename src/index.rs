// SPDX-License-Identifier: GPL-2.0

//! Sorted address and name indices over a module symbol table.
//!
//! The symbol table itself is never written: an index is an array of 4-byte
//! symtab indices ([`BYTES_PER_ENTRY`]) sorted by the symbol's value (or name),
//! and every comparison reads the value (or name) back through the
//! [`SymbolTable`]. This is the layout the upstream vmlinux kallsyms name index
//! uses, and it keeps the table's order (which livepatch relies on) untouched.
//!
//! [`lookup`] returns exactly what the kernel's `find_kallsyms_symbol()`
//! (kernel/module/kallsyms.c, Linux 7.3) returns for an address inside a
//! module memory region, in `O(log n)` instead of `O(n)`:
//!
//! - candidates are the entries `i >= 1` whose `st_shndx` is not `SHN_UNDEF`,
//!   whose name is non-empty and is not a mapping symbol (the kernel's
//!   `is_mapping_symbol()`: `$...`, `.L...` and `L0...` names);
//! - the best candidate has the greatest value `v` with `base <= v <= addr`, the
//!   lowest index winning among equal values;
//! - the symbol size runs to the next greater candidate value, or to the end of
//!   the region.
//!
//! All functions are `no_std`, allocation free, never panic on any input and
//! contain no `unsafe` code; storage is provided by the caller, sized with the
//! counting functions ([`count_regions`], [`count_names`]).

#![forbid(unsafe_code)]

/// Number of bytes one index entry takes (a `u32` symtab index).
pub const BYTES_PER_ENTRY: usize = core::mem::size_of::<u32>();

/// Bytes used by an index (address or name) of `entries` entries.
///
/// Saturates instead of overflowing.
///
/// # Examples
///
/// ```
/// use modsym_core::index::index_bytes;
/// assert_eq!(index_bytes(1000), 4000);
/// ```
pub const fn index_bytes(entries: usize) -> usize {
    entries.saturating_mul(BYTES_PER_ENTRY)
}

/// Read-only view of a symbol table (ELF `Elf64_Sym` array + string table).
///
/// Index 0 is the ELF null entry and is never a candidate. Implementations
/// must return stable answers for the whole lifetime of an index built over
/// them (the table must not change while an index refers to it).
pub trait SymbolTable {
    /// Number of entries, `num_symtab`, including the null entry 0.
    fn len(&self) -> usize;

    /// `st_value` of entry `i` (the symbol's address once the module is laid out).
    fn value(&self, i: usize) -> u64;

    /// `st_shndx` of entry `i` (0 is `SHN_UNDEF`).
    fn shndx(&self, i: usize) -> u16;

    /// Name of entry `i`: the bytes of the string table before the NUL.
    fn name(&self, i: usize) -> &[u8];

    /// The first two bytes of entry `i`'s name, NUL-padded (C string view).
    ///
    /// All the address index needs to know about a name (empty or mapping
    /// symbol). The default goes through [`SymbolTable::name`]; an
    /// implementation over a C string table should override it to read the
    /// two bytes directly instead of measuring the whole string.
    fn name_head(&self, i: usize) -> [u8; 2] {
        let name = self.name(i);
        match *name {
            [] => [0, 0],
            [a] => [a, 0],
            [a, b, ..] => [a, b],
        }
    }
}

/// ELF `SHN_UNDEF`.
pub const SHN_UNDEF: u16 = 0;

/// The kernel's `is_mapping_symbol()` on the first two bytes of a
/// NUL-terminated name: `$...`, `.L...` and `L0...` names.
///
/// These are assembler/linker artefacts (arm64 `$x`/`$d`, local labels) that
/// the kernel skips when resolving addresses.
const fn is_mapping_head(head: [u8; 2]) -> bool {
    matches!(head, [b'.', b'L'] | [b'L', b'0'] | [b'$', _])
}

/// Whether entry `i` can be the answer of an address lookup: `i >= 1`, not
/// `SHN_UNDEF`, a non-empty name that is not a mapping symbol.
pub fn is_address_candidate<T: SymbolTable + ?Sized>(t: &T, i: usize) -> bool {
    if i == 0 || i >= t.len() || t.shndx(i) == SHN_UNDEF {
        return false;
    }
    let head = t.name_head(i);
    head[0] != 0 && !is_mapping_head(head)
}

/// Whether entry `i` belongs in the name index: `i >= 1`, not `SHN_UNDEF`,
/// non-empty name (mapping symbols included).
pub fn is_name_candidate<T: SymbolTable + ?Sized>(t: &T, i: usize) -> bool {
    i != 0 && i < t.len() && t.shndx(i) != SHN_UNDEF && t.name_head(i)[0] != 0
}

/// One module memory region (`struct module_memory`): `base .. base + size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Start address of the region.
    pub base: u64,
    /// Size in bytes (`unsigned int` in the kernel).
    pub size: u32,
}

impl Region {
    /// Creates a region.
    pub const fn new(base: u64, size: u32) -> Self {
        Self { base, size }
    }

    /// Whether `base <= addr < base + size` (the kernel's
    /// `within_module_mem_type()`: `addr - base < size`, without overflow).
    ///
    /// # Examples
    ///
    /// ```
    /// use modsym_core::index::Region;
    /// let r = Region::new(0x1000, 0x100);
    /// assert!(r.contains(0x1000) && r.contains(0x10ff));
    /// assert!(!r.contains(0xfff) && !r.contains(0x1100));
    /// ```
    pub const fn contains(&self, addr: u64) -> bool {
        addr.wrapping_sub(self.base) < self.size as u64
    }

    /// Whether a symbol value `value` belongs to the region's index:
    /// `base <= value < base + size` as plain integers.
    ///
    /// Unlike [`Region::contains`] this never wraps around the top of the
    /// address space: the kernel compares values with `bestval = base - 1` and
    /// `nextval = base + size`, so a value below `base` can never be the answer
    /// nor bound a size.
    pub const fn holds_value(&self, value: u64) -> bool {
        (value >= self.base) & (value.wrapping_sub(self.base) < self.size as u64)
    }

    /// `base + size`, wrapping like the kernel's `unsigned long` arithmetic
    /// (only a region ending exactly at the top of the address space wraps).
    pub const fn end(&self) -> u64 {
        self.base.wrapping_add(self.size as u64)
    }
}

/// Errors of the index builders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The output slice is shorter than the number of entries to store.
    OutTooSmall,
    /// A symtab index does not fit in a `u32` entry.
    IndexTooLarge,
}

impl core::fmt::Display for BuildError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutTooSmall => f.write_str("index storage too small"),
            Self::IndexTooLarge => f.write_str("symbol index does not fit in u32"),
        }
    }
}

/// Address candidates of `t` whose value lies in each region of `regions`
/// ([`Region::holds_value`]), in one pass over `t`: `counts[k]` for
/// `regions[k]` (regions beyond `counts` are not counted), the storage
/// [`build_regions`] needs for it (an upper bound of what it uses).
pub fn count_regions<T: SymbolTable + ?Sized>(t: &T, regions: &[Region], counts: &mut [usize]) {
    counts.iter_mut().for_each(|c| *c = 0);
    let _ = for_each_candidate(t, regions, |k, _, _| {
        if let Some(c) = counts.get_mut(k) {
            *c += 1;
        }
        Ok(())
    });
}

/// Regions whose bounds [`for_each_candidate`] keeps in registers; more
/// regions are still handled, through [`Region::holds_value`].
const REGION_GROUP: usize = 8;

/// Calls `f(k, i, value)` for every address candidate `i` of `t` and every
/// region `regions[k]` holding its `value`, in symtab order (each `value` read
/// once); stops at `f`'s first error.
fn for_each_candidate<T: SymbolTable + ?Sized>(
    t: &T,
    regions: &[Region],
    mut f: impl FnMut(usize, usize, u64) -> Result<(), BuildError>,
) -> Result<(), BuildError> {
    // The first regions as (base, limit) pairs, one wrapping compare each and
    // no branch: `value - base < limit` exactly when `holds_value(value)`,
    // the limit stopping at the top of the address space. Unused slots have
    // limit 0 and never hold anything.
    let (group, rest) = regions.split_at(regions.len().min(REGION_GROUP));
    let mut bounds = [(0u64, 0u64); REGION_GROUP];
    for (b, r) in bounds.iter_mut().zip(group) {
        let size = u64::from(r.size);
        let to_top = r.base.wrapping_neg(); // 2^64 - base, or 0 for base 0
        *b = (r.base, if r.base == 0 { size } else { size.min(to_top) });
    }
    for i in 1..t.len() {
        let value = t.value(i);
        let mut held = 0u32;
        for (k, &(base, limit)) in bounds.iter().enumerate() {
            held |= u32::from(value.wrapping_sub(base) < limit) << k;
        }
        if held == 0 && rest.iter().all(|r| !r.holds_value(value)) {
            continue;
        }
        // Asked once, and only when some region holds the value (it reads the name).
        if !is_address_candidate(t, i) {
            continue;
        }
        while held != 0 {
            f(held.trailing_zeros() as usize, i, value)?;
            held &= held - 1;
        }
        for (k, r) in rest.iter().enumerate() {
            if r.holds_value(value) {
                f(REGION_GROUP + k, i, value)?;
            }
        }
    }
    Ok(())
}

/// Stores `i` at `out[*used]`, failing if `out` is full or `i` needs more than 32 bits.
fn push(out: &mut [u32], used: &mut usize, i: usize) -> Result<(), BuildError> {
    let entry = u32::try_from(i).map_err(|_| BuildError::IndexTooLarge)?;
    let slot = out.get_mut(*used).ok_or(BuildError::OutTooSmall)?;
    *slot = entry;
    *used += 1;
    Ok(())
}

/// Builds the sorted address index of every region of `regions` in one pass
/// over `t`: region `k` into `outs[k]`, the number of entries it uses into
/// `used[k]`.
///
/// `outs[k]` needs at least [`count_regions`]' `counts[k]` entries. The
/// candidates whose value lies in `regions[k]` are sorted by `(value, index)`
/// (unique keys, so the unstable sort is deterministic), then runs of equal
/// values are collapsed to their lowest index: later entries at the same
/// address can never be the answer and never bound a size. Region `k`'s index
/// is the prefix `outs[k][..used[k]]`.
///
/// This needs no other storage, but sorts with indirect comparisons through
/// `t`; [`build_regions_in`] builds the same with scratch storage, faster.
///
/// # Errors
///
/// [`BuildError::OutTooSmall`] if an `outs[k]` is too short, or if `outs` or
/// `used` has fewer elements than `regions`; [`BuildError::IndexTooLarge`] if
/// a candidate's index does not fit in `u32`.
///
/// # Examples
///
/// ```
/// use modsym_core::index::{build_regions, count_regions, lookup, Region, SymbolTable};
///
/// struct Table<'a>(&'a [(u64, u16, &'a str)]);
/// impl SymbolTable for Table<'_> {
///     fn len(&self) -> usize { self.0.len() }
///     fn value(&self, i: usize) -> u64 { self.0[i].0 }
///     fn shndx(&self, i: usize) -> u16 { self.0[i].1 }
///     fn name(&self, i: usize) -> &[u8] { self.0[i].2.as_bytes() }
/// }
///
/// let t = Table(&[(0, 0, ""), (0x1040, 1, "bar"), (0x1000, 1, "foo"), (0x1000, 1, "foo_alias")]);
/// let text = Region::new(0x1000, 0x100);
/// let mut counts = [0];
/// count_regions(&t, &[text], &mut counts);
/// assert_eq!(counts, [3]);
/// let mut storage = [0u32; 8];
/// let mut used = [0];
/// build_regions(&t, &[text], &mut [&mut storage[..]], &mut used).unwrap();
/// let entries = &storage[..used[0]];
/// assert_eq!(entries, &[2, 1]); // foo_alias collapsed into foo
///
/// let hit = lookup(&t, text, entries, 0x1010).unwrap();
/// assert_eq!((hit.index, hit.offset, hit.size), (2, 0x10, 0x40));
/// let hit = lookup(&t, text, entries, 0x10ff).unwrap();
/// assert_eq!((hit.index, hit.offset, hit.size), (1, 0xbf, 0xc0));
/// ```
pub fn build_regions<T: SymbolTable + ?Sized>(
    t: &T,
    regions: &[Region],
    outs: &mut [&mut [u32]],
    used: &mut [usize],
) -> Result<(), BuildError> {
    if outs.len() < regions.len() || used.len() < regions.len() {
        return Err(BuildError::OutTooSmall);
    }
    used.iter_mut().for_each(|u| *u = 0);
    for_each_candidate(t, regions, |k, i, _| {
        match (outs.get_mut(k), used.get_mut(k)) {
            (Some(out), Some(n)) => push(out, n, i),
            _ => Err(BuildError::OutTooSmall),
        }
    })?;
    for (out, n) in outs.iter_mut().zip(used.iter_mut()).take(regions.len()) {
        let entries = out.get_mut(..*n).ok_or(BuildError::OutTooSmall)?;
        *n = sort_and_collapse(t, entries);
    }
    Ok(())
}

/// Sorts `entries` by `(value, index)` (unique keys, so the unstable sort is
/// deterministic) and collapses runs of equal values to their lowest index;
/// returns the length of the collapsed prefix.
fn sort_and_collapse<T: SymbolTable + ?Sized>(t: &T, entries: &mut [u32]) -> usize {
    entries.sort_unstable_by(|&a, &b| {
        t.value(a as usize)
            .cmp(&t.value(b as usize))
            .then(a.cmp(&b))
    });
    let mut kept = 0;
    let mut last: Option<u64> = None;
    for r in 0..entries.len() {
        let Some(&e) = entries.get(r) else { break };
        let v = t.value(e as usize);
        if last != Some(v) {
            if let Some(slot) = entries.get_mut(kept) {
                *slot = e;
            }
            kept += 1;
            last = Some(v);
        }
    }
    kept
}

/// Length of the scratch storage [`build_regions_in`] needs for outputs of
/// `lens` entries (the [`count_regions`] counts): one `u64` per entry of all
/// regions together, plus as many as the largest region again. Saturates.
///
/// # Examples
///
/// ```
/// use modsym_core::index::scratch_len;
/// assert_eq!(scratch_len(&[40, 5, 100]), 245);
/// assert_eq!(scratch_len(&[]), 0);
/// ```
pub fn scratch_len(lens: &[usize]) -> usize {
    scratch_need(lens.iter().copied())
}

/// [`scratch_len`] over an iterator of lengths.
fn scratch_need(lens: impl Iterator<Item = usize> + Clone) -> usize {
    let total = lens.clone().fold(0usize, |a, n| a.saturating_add(n));
    total.saturating_add(lens.max().unwrap_or(0))
}

/// [`build_regions`] with caller-provided scratch storage, in `O(n)`: the
/// same output, built several times faster.
///
/// `scratch` needs at least [`scratch_len`] elements for the lengths of
/// `outs` (its contents do not matter and are overwritten); with less, this
/// is [`build_regions`]. The one pass over
/// `t` stores, for each candidate of region `k`, the key
/// `(value - base) << 32 | index` (a region's size fits in `u32`); region
/// `k`'s keys are sorted by an LSD radix sort on the offset half (stable, and
/// the keys arrive in index order, so equal values stay in index order), then
/// written to `outs[k]` as symtab indices, collapsed to the lowest index at
/// each value. The digits of the radix sort count in `outs[k]` itself, so a
/// region with fewer entries than the counters need is sorted with
/// `sort_unstable` on its keys instead.
///
/// Every symbol value is read exactly once, so an index stays consistent
/// with itself even if a value changes during the build.
///
/// # Errors
///
/// As [`build_regions`].
///
/// # Examples
///
/// ```
/// use modsym_core::index::{build_regions_in, count_regions, scratch_len, Region, SymbolTable};
///
/// struct Table<'a>(&'a [(u64, u16, &'a str)]);
/// impl SymbolTable for Table<'_> {
///     fn len(&self) -> usize { self.0.len() }
///     fn value(&self, i: usize) -> u64 { self.0[i].0 }
///     fn shndx(&self, i: usize) -> u16 { self.0[i].1 }
///     fn name(&self, i: usize) -> &[u8] { self.0[i].2.as_bytes() }
/// }
///
/// let t = Table(&[(0, 0, ""), (0x1040, 1, "bar"), (0x1000, 1, "foo"), (0x1000, 1, "foo_alias")]);
/// let text = Region::new(0x1000, 0x100);
/// let mut counts = [0];
/// count_regions(&t, &[text], &mut counts);
/// let mut storage = vec![0u32; counts[0]];
/// let mut scratch = vec![0u64; scratch_len(&counts)];
/// let mut used = [0];
/// build_regions_in(&t, &[text], &mut [&mut storage[..]], &mut used, &mut scratch).unwrap();
/// assert_eq!(&storage[..used[0]], &[2, 1]); // foo_alias collapsed into foo
/// ```
pub fn build_regions_in<T: SymbolTable + ?Sized>(
    t: &T,
    regions: &[Region],
    outs: &mut [&mut [u32]],
    used: &mut [usize],
    scratch: &mut [u64],
) -> Result<(), BuildError> {
    if scratch.len() < scratch_need(outs.iter().take(regions.len()).map(|o| o.len())) {
        return build_regions(t, regions, outs, used);
    }
    let (Some(outs), Some(used)) = (outs.get_mut(..regions.len()), used.get_mut(..regions.len()))
    else {
        return Err(BuildError::OutTooSmall);
    };
    // Region k's keys go to scratch[start_k..], start_k the total length of
    // the outputs before it; `used[k]` is its write position meanwhile.
    let mut start = 0usize;
    for (u, out) in used.iter_mut().zip(outs.iter()) {
        *u = start;
        start = start.saturating_add(out.len());
    }
    let (keys, spare) = scratch.split_at_mut(start.min(scratch.len()));
    for_each_candidate(t, regions, |k, i, value| {
        let index = u32::try_from(i).map_err(|_| BuildError::IndexTooLarge)?;
        let (Some(pos), Some(r)) = (used.get_mut(k), regions.get(k)) else {
            return Err(BuildError::OutTooSmall);
        };
        let slot = keys.get_mut(*pos).ok_or(BuildError::OutTooSmall)?;
        // `value` is in `r`, so the offset is below `r.size` and fits in 32 bits.
        *slot = (value.wrapping_sub(r.base) << 32) | u64::from(index);
        *pos += 1;
        Ok(())
    })?;
    start = 0;
    for ((out, u), r) in outs.iter_mut().zip(used.iter_mut()).zip(regions) {
        let len = out.len();
        // A region that wrote past its own segment (more candidates than
        // `outs[k]` holds) overwrote the next one's keys: give up.
        let n = u.checked_sub(start).filter(|&n| n <= len);
        let seg = n.and_then(|n| keys.get_mut(start..start + n));
        let (Some(seg), Some(tmp)) = (seg, spare.get_mut(..n.unwrap_or(0))) else {
            return Err(BuildError::OutTooSmall);
        };
        *u = sort_keys_and_collapse(seg, tmp, out, offset_bits(r.size));
        start = start.saturating_add(len);
    }
    Ok(())
}

/// Number of significant bits of an offset inside a region of `size` bytes.
const fn offset_bits(size: u32) -> u32 {
    u32::BITS - size.saturating_sub(1).leading_zeros()
}

/// Widest radix digit: 2^11 counters per digit stay in the L1 cache.
const RADIX_BITS: u32 = 11;

/// Sorts `keys` (`offset << 32 | index`, in ascending index order, offsets
/// below `1 << bits`) and writes their indices to `out`, collapsing equal
/// offsets to the first (lowest index); returns the number written.
///
/// `tmp` is as long as `keys`; `out` is at least as long and holds the digit
/// counters while sorting.
fn sort_keys_and_collapse(keys: &mut [u64], tmp: &mut [u64], out: &mut [u32], bits: u32) -> usize {
    let n = keys.len();
    // Digits of at most RADIX_BITS bits, all the same width, over the offset.
    let passes = bits.div_ceil(RADIX_BITS).max(1);
    let width = bits.div_ceil(passes);
    let buckets = 1usize << width;
    let counters = buckets.saturating_mul(passes as usize);
    let sorted = match out.get_mut(..counters) {
        Some(counts) if counters <= n => radix_sort(keys, tmp, counts, width),
        _ => {
            keys.sort_unstable();
            &*keys
        }
    };
    let mut kept = 0;
    let mut last = None;
    for &key in sorted {
        let offset = key >> 32;
        if last != Some(offset) {
            if let Some(slot) = out.get_mut(kept) {
                *slot = key as u32;
            }
            kept += 1;
            last = Some(offset);
        }
    }
    kept
}

/// LSD radix sort of `keys` by their upper half, digits of `width` bits from
/// bit 32 up, one per `1 << width` counters of `counts`, ping-ponging with
/// `tmp`. Stable, so keys with equal offsets keep their order. Skips the
/// whole sort if the keys are already in order, and every digit on which all
/// keys agree. Returns the sorted keys (in `keys` or in `tmp`).
fn radix_sort<'a>(
    keys: &'a mut [u64],
    tmp: &'a mut [u64],
    counts: &mut [u32],
    width: u32,
) -> &'a [u64] {
    let n = keys.len();
    let buckets = 1usize << width;
    let mask = (buckets - 1) as u64;
    counts.iter_mut().for_each(|c| *c = 0);
    let mut in_order = true;
    let mut prev = 0;
    for &key in keys.iter() {
        in_order &= prev <= key;
        prev = key;
        for (p, digits) in counts.chunks_exact_mut(buckets).enumerate() {
            let d = (key >> (32 + p as u32 * width)) & mask;
            if let Some(c) = digits.get_mut(d as usize) {
                *c = c.wrapping_add(1);
            }
        }
    }
    if in_order {
        return keys;
    }
    let (mut src, mut dst) = (keys, tmp);
    for (p, digits) in counts.chunks_exact_mut(buckets).enumerate() {
        if digits.iter().any(|&c| c as usize == n) {
            continue;
        }
        let mut sum = 0u32;
        for c in digits.iter_mut() {
            let here = *c;
            *c = sum;
            sum = sum.wrapping_add(here);
        }
        let shift = 32 + p as u32 * width;
        for &key in src.iter() {
            if let Some(c) = digits.get_mut(((key >> shift) & mask) as usize) {
                if let Some(slot) = dst.get_mut(*c as usize) {
                    *slot = key;
                }
                *c = c.wrapping_add(1);
            }
        }
        core::mem::swap(&mut src, &mut dst);
    }
    src
}

/// Result of an address lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Symtab index of the symbol.
    pub index: u32,
    /// The symbol's value (its address).
    pub value: u64,
    /// `addr - value`.
    pub offset: u64,
    /// Distance from `value` to the next candidate value or the region end.
    pub size: u64,
}

/// Resolves `addr` in `region` in `O(log n)`, with the kernel's exact rules.
///
/// `entries` is what [`build_regions`] produced for `t` and `region`.
/// Returns `None` if `addr` is outside `region` or no candidate lies at or
/// before `addr` in it (the kernel then prints the raw address).
///
/// Like the kernel (`bestval = base - 1`), a region based at address 0 never
/// resolves, and a region whose end wraps past the top of the address space
/// reports `size` with the kernel's wrapping arithmetic.
pub fn lookup<T: SymbolTable + ?Sized>(
    t: &T,
    region: Region,
    entries: &[u32],
    addr: u64,
) -> Option<Hit> {
    if !region.contains(addr) || region.base == 0 {
        return None;
    }
    // Number of entries whose value is <= addr.
    let p = entries.partition_point(|&e| t.value(e as usize) <= addr);
    let best = *entries.get(p.checked_sub(1)?)?;
    let value = t.value(best as usize);
    let mut next = region.end();
    if let Some(&e) = entries.get(p) {
        let v = t.value(e as usize);
        if v < next {
            next = v;
        }
    }
    Some(Hit {
        index: best,
        value,
        offset: addr.wrapping_sub(value),
        size: next.wrapping_sub(value),
    })
}

/// Resolves `addr` in `region` the way the kernel does, in `O(n)`: the loop
/// of `find_kallsyms_symbol()` transcribed, for modules without an index and
/// for checks that must not trust one. Agrees with [`lookup`].
pub fn lookup_by_scan<T: SymbolTable + ?Sized>(t: &T, region: Region, addr: u64) -> Option<Hit> {
    if !region.contains(addr) {
        return None;
    }
    let mut best = 0;
    let mut bestval = region.base.wrapping_sub(1);
    let mut nextval = region.end();
    for i in 1..t.len() {
        if !is_address_candidate(t, i) {
            continue;
        }
        let v = t.value(i);
        if v <= addr && v > bestval {
            best = i;
            bestval = v;
        }
        if v > addr && v < nextval {
            nextval = v;
        }
    }
    if best == 0 {
        return None;
    }
    Some(Hit {
        index: u32::try_from(best).ok()?,
        value: bestval,
        offset: addr.wrapping_sub(bestval),
        size: nextval.wrapping_sub(bestval),
    })
}

/// The `pos`-th symbol of a region index, as [`lookup`] reports it for its
/// own address: offset 0, size up to the next entry or the region end.
///
/// Walking `pos` from 0 lists a region's symbols in address order with their
/// sizes (the `symbols` file) without any search.
///
/// # Examples
///
/// ```
/// use modsym_core::index::{build_regions, symbol_at, Hit, Region, SymbolTable};
///
/// struct Table<'a>(&'a [(u64, u16, &'a str)]);
/// impl SymbolTable for Table<'_> {
///     fn len(&self) -> usize { self.0.len() }
///     fn value(&self, i: usize) -> u64 { self.0[i].0 }
///     fn shndx(&self, i: usize) -> u16 { self.0[i].1 }
///     fn name(&self, i: usize) -> &[u8] { self.0[i].2.as_bytes() }
/// }
///
/// let t = Table(&[(0, 0, ""), (0x1040, 1, "bar"), (0x1000, 1, "foo")]);
/// let text = Region::new(0x1000, 0x100);
/// let mut storage = [0u32; 2];
/// let mut used = [0];
/// build_regions(&t, &[text], &mut [&mut storage[..]], &mut used).unwrap();
/// let entries = &storage[..used[0]];
/// let first = symbol_at(&t, text, entries, 0).unwrap();
/// assert_eq!((first.index, first.value, first.size), (2, 0x1000, 0x40));
/// assert_eq!(symbol_at(&t, text, entries, 1).unwrap().size, 0xc0);
/// assert_eq!(symbol_at(&t, text, entries, 2), None);
/// ```
pub fn symbol_at<T: SymbolTable + ?Sized>(
    t: &T,
    region: Region,
    entries: &[u32],
    pos: usize,
) -> Option<Hit> {
    if region.base == 0 {
        return None;
    }
    let index = *entries.get(pos)?;
    let value = t.value(index as usize);
    let mut next = region.end();
    if let Some(&e) = entries.get(pos.wrapping_add(1)) {
        let v = t.value(e as usize);
        if v < next {
            next = v;
        }
    }
    Some(Hit {
        index,
        value,
        offset: 0,
        size: next.wrapping_sub(value),
    })
}

/// Entries of the name index: `i >= 1`, not `SHN_UNDEF`, non-empty name.
///
/// Mapping symbols are included: the kernel's `find_kallsyms_symbol_value()`
/// only skips `SHN_UNDEF`.
pub fn count_names<T: SymbolTable + ?Sized>(t: &T) -> usize {
    (1..t.len()).filter(|&i| is_name_candidate(t, i)).count()
}

/// Builds the name index into `out` (at least [`count_names`] entries),
/// sorted by `(name bytes, index)`. Returns the number of entries used.
///
/// # Errors
///
/// [`BuildError::OutTooSmall`] if `out` is too short,
/// [`BuildError::IndexTooLarge`] if an index does not fit in `u32`.
pub fn build_names<T: SymbolTable + ?Sized>(t: &T, out: &mut [u32]) -> Result<usize, BuildError> {
    let mut used = 0;
    for i in 1..t.len() {
        if is_name_candidate(t, i) {
            push(out, &mut used, i)?;
        }
    }
    let entries = out.get_mut(..used).ok_or(BuildError::OutTooSmall)?;
    entries.sort_unstable_by(|&a, &b| t.name(a as usize).cmp(t.name(b as usize)).then(a.cmp(&b)));
    Ok(used)
}

/// All entries named `name`, in symtab order (ascending index).
///
/// `names` is what [`build_names`] produced for `t`. The first element, if
/// any, is the symbol the kernel's `find_kallsyms_symbol_value()` returns.
/// Finding the range takes `O(log n)` name comparisons.
///
/// # Examples
///
/// ```
/// use modsym_core::index::{build_names, lookup_name, SymbolTable};
///
/// struct Table<'a>(&'a [(u64, u16, &'a str)]);
/// impl SymbolTable for Table<'_> {
///     fn len(&self) -> usize { self.0.len() }
///     fn value(&self, i: usize) -> u64 { self.0[i].0 }
///     fn shndx(&self, i: usize) -> u16 { self.0[i].1 }
///     fn name(&self, i: usize) -> &[u8] { self.0[i].2.as_bytes() }
/// }
///
/// let t = Table(&[(0, 0, ""), (0x10, 1, "b"), (0x20, 1, "a"), (0, 0, "a"), (0x30, 2, "a")]);
/// let mut storage = [0u32; 4];
/// let n = build_names(&t, &mut storage).unwrap();
/// assert_eq!(lookup_name(&t, &storage[..n], b"a"), &[2, 4]); // UNDEF entry 3 skipped
/// assert!(lookup_name(&t, &storage[..n], b"c").is_empty());
/// ```
pub fn lookup_name<'a, T: SymbolTable + ?Sized>(t: &T, names: &'a [u32], name: &[u8]) -> &'a [u32] {
    let lo = names.partition_point(|&e| t.name(e as usize) < name);
    let rest = names.get(lo..).unwrap_or(&[]);
    let len = rest.partition_point(|&e| t.name(e as usize) <= name);
    rest.get(..len).unwrap_or(&[])
}

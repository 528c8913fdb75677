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
        value >= self.base && value - self.base < self.size as u64
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
    let _ = for_each_candidate(t, regions, |k, _| {
        if let Some(c) = counts.get_mut(k) {
            *c += 1;
        }
        Ok(())
    });
}

/// Calls `f(k, i)` for every address candidate `i` of `t` and every region
/// `regions[k]` holding its value, in symtab order; stops at `f`'s first error.
fn for_each_candidate<T: SymbolTable + ?Sized>(
    t: &T,
    regions: &[Region],
    mut f: impl FnMut(usize, usize) -> Result<(), BuildError>,
) -> Result<(), BuildError> {
    for i in 1..t.len() {
        let value = t.value(i);
        // Whether `i` is a candidate, asked at most once and only when some
        // region holds its value (it reads the name).
        let mut candidate = None;
        for (k, r) in regions.iter().enumerate() {
            if r.holds_value(value) && *candidate.get_or_insert_with(|| is_address_candidate(t, i))
            {
                f(k, i)?;
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
    for_each_candidate(t, regions, |k, i| {
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

/// The entry the kernel's own linear scan (`find_kallsyms_symbol()`) picks
/// for `addr` in `region`, found the same way, in `O(n)`: for checks that
/// must not trust an index. Agrees with [`lookup`]'s `index`.
pub fn pick_by_scan<T: SymbolTable + ?Sized>(t: &T, region: Region, addr: u64) -> Option<usize> {
    if !region.contains(addr) || region.base == 0 {
        return None;
    }
    let mut best: Option<(u64, usize)> = None;
    for i in 1..t.len() {
        let v = t.value(i);
        let better = v <= addr && v >= region.base && best.is_none_or(|(bv, _)| v > bv);
        if better && is_address_candidate(t, i) {
            best = Some((v, i));
        }
    }
    best.map(|(_, i)| i)
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

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

/// At least the address candidates of `t` whose value lies in each region
/// of `regions` ([`Region::holds_value`]), in one pass over `t`: `counts[k]`
/// for `regions[k]` (regions beyond `counts` are not counted), the storage
/// [`build_regions`] and [`build_regions_in`] need for it (an upper bound of
/// what they use).
///
/// Over at most eight disjoint regions (the kernel's case) the pass reads no
/// name, and counts the defined entries (not `SHN_UNDEF`) whose value the
/// region holds: the candidates, and the nameless entries and mapping
/// symbols among them (a few percent on x86_64; on arm64, with its `$x` and
/// `$d`, nearly as many as the candidates). When the regions are far enough
/// apart for a direct lookup, it may also count values in the gap that
/// follows a region. Otherwise the counts are exact.
pub fn count_regions<T: SymbolTable + ?Sized>(t: &T, regions: &[Region], counts: &mut [usize]) {
    counts.iter_mut().for_each(|c| *c = 0);
    if count_disjoint(t, regions, counts) {
        return;
    }
    let _ = for_each_candidate(t, regions, |k, _, _| {
        if let Some(c) = counts.get_mut(k) {
            *c += 1;
        }
        Ok(())
    });
}

/// [`count_regions`] over at most [`SLOTS`] disjoint regions, through a
/// [`Grid`] or the [`Slots`]; `false` (nothing counted) for other regions.
///
/// Out of line, so that its tables are on the stack only while it runs, not
/// in the frame of the index build that calls it.
#[inline(never)]
fn count_disjoint<T: SymbolTable + ?Sized>(
    t: &T,
    regions: &[Region],
    counts: &mut [usize],
) -> bool {
    let mut slots = Slots::EMPTY;
    if !slots.set(regions) {
        return false;
    }
    let mut grid = Grid::new(&slots);
    if grid.set() {
        count_grid(t, &grid, counts);
    } else {
        count_slots(t, &slots, counts);
    }
    true
}

/// [`count_regions`] over disjoint regions: `counts[k]` for the region of
/// each slot of `f`, in one pass without a branch per entry. Counts the
/// defined entries (not `SHN_UNDEF`) without reading their names: a few
/// more than the candidates (nameless entries and mapping symbols).
fn count_slots<T: SymbolTable + ?Sized, F: Find>(t: &T, f: &F, counts: &mut [usize]) {
    let mut i = 1;
    while i < t.len() {
        // One byte-wide counter per slot in a register, added to `counts`
        // before it can overflow.
        let stop = t.len().min(i.saturating_add(255));
        let mut lanes = 0u64;
        for j in i..stop {
            let value = t.value(j);
            let slot = f.find(value);
            let hit = f.slots().holds(slot, value) & (t.shndx(j) != SHN_UNDEF);
            lanes += u64::from(hit) << (slot % SLOTS * 8);
        }
        for (lane, &k) in f.slots().region.iter().enumerate().take(SLOTS) {
            if let Some(c) = counts.get_mut(usize::from(k)) {
                *c += usize::from((lanes >> (lane * 8)) as u8);
            }
        }
        i = stop;
    }
}

/// [`count_regions`] through a [`Grid`], cheaper than [`count_slots`] and
/// a little looser: the defined entries by half cell (below and above the
/// cell's split), whose region (or the gap after it) holds the value.
fn count_grid<T: SymbolTable + ?Sized>(t: &T, g: &Grid<'_>, counts: &mut [usize]) {
    let bin = |i: usize| {
        let rel = t.value(i).wrapping_sub(g.lo);
        let cell = (rel >> g.shift) as usize % CELLS;
        let above = rel >= g.split.get(cell).copied().unwrap_or(0);
        let counted = (rel <= g.span) & (t.shndx(i) != SHN_UNDEF);
        (
            (2 * cell + usize::from(above)) % (2 * CELLS),
            u16::from(counted),
        )
    };
    let mut i = 1;
    while i < t.len() {
        // Two interleaved histograms, so that an entry's count does not
        // wait on the previous entry's when both fall in the same half
        // cell; added to `counts` before a `u16` can overflow.
        let stop = t.len().min(i.saturating_add(2 * usize::from(u16::MAX)));
        let mut hist = [[0u16; 2 * CELLS]; 2];
        while i + 1 < stop {
            for (h, j) in hist.iter_mut().zip(i..) {
                let (b, n) = bin(j);
                if let Some(c) = h.get_mut(b) {
                    *c += n;
                }
            }
            i += 2;
        }
        if i < stop {
            let (b, n) = bin(i);
            if let Some(c) = hist.get_mut(0).and_then(|h| h.get_mut(b)) {
                *c += n;
            }
            i += 1;
        }
        let [even, odd] = &hist;
        let halves = g.pick.iter().flatten().zip(even.iter().zip(odd.iter()));
        for (&slot, (&a, &b)) in halves {
            let k = g.slots.region.get(usize::from(slot)).copied();
            if let Some(c) = counts.get_mut(usize::from(k.unwrap_or(NO_REGION))) {
                *c += usize::from(a) + usize::from(b);
            }
        }
    }
}

/// [`is_address_candidate`] for `i` in `1..t.len()`, without a branch to
/// mispredict.
#[inline(always)]
fn is_candidate_head<T: SymbolTable + ?Sized>(t: &T, i: usize) -> bool {
    let [a, b] = t.name_head(i);
    let reject = NAME_REJECT
        .get(usize::from(a))
        .copied()
        .unwrap_or(ANY_SECOND);
    (reject != u16::from(b) && reject != ANY_SECOND) & (t.shndx(i) != SHN_UNDEF)
}

/// [`NAME_REJECT`]: every second byte is rejected.
const ANY_SECOND: u16 = 0x101;

/// By first byte of a name, the second byte that makes it a non-candidate
/// (an empty name, or [`is_mapping_head`]: `$...`, `.L...`, `L0...`):
/// [`ANY_SECOND`] for any, `0x100` (no byte) for none.
static NAME_REJECT: [u16; 256] = {
    let mut table = [0x100u16; 256];
    table[0] = ANY_SECOND;
    table[b'$' as usize] = ANY_SECOND;
    table[b'.' as usize] = b'L' as u16;
    table[b'L' as usize] = b'0' as u16;
    table
};

/// Regions the branch-free passes handle: at most this many, disjoint.
const SLOTS: usize = 8;

/// The slot of values no region holds: base 0, limit 0.
const NONE: usize = SLOTS;

/// Slots in the tables of [`Slots`]: a power of two, so that a slot taken
/// modulo it is always in bounds. Slots from [`NONE`] on hold nothing.
const TABLE: usize = 16;

/// Region index of the slots that have no region.
const NO_REGION: u8 = u8::MAX;

/// Up to [`SLOTS`] regions no value can be in two of (the kernel's module
/// memory regions never overlap), in slots sorted by base, and the
/// [`NONE`] slot.
#[derive(Clone, Copy)]
struct Slots {
    /// Bases, ascending over `0..SLOTS`; unused slots and empty regions
    /// come first, at base 0 with limit 0.
    base: [u64; TABLE],
    /// `value - base[s] < limit[s]` exactly when the region of slot `s`
    /// holds `value` ([`Region::holds_value`]); 0 for unused slots.
    limit: [u64; TABLE],
    /// Index in `regions` of the region of each slot, or [`NO_REGION`].
    region: [u8; TABLE],
}

impl Slots {
    /// No region.
    const EMPTY: Self = Self {
        base: [0; TABLE],
        limit: [0; TABLE],
        region: [NO_REGION; TABLE],
    };

    /// Sets the slots to `regions`; `false` if there are more than
    /// [`SLOTS`] of them or two can hold the same value. Built in place:
    /// the tables are too large to move around on a kernel stack.
    fn set(&mut self, regions: &[Region]) -> bool {
        if regions.len() > SLOTS {
            return false;
        }
        // (base, limit) of each region; an empty region holds nothing and
        // takes no slot.
        let mut spans = [(0u64, 0u64); SLOTS];
        for (span, r) in spans.iter_mut().zip(regions) {
            let size = u64::from(r.size);
            let to_top = r.base.wrapping_neg(); // 2^64 - base, or 0 for base 0
            *span = (r.base, if r.base == 0 { size } else { size.min(to_top) });
        }
        self.base.fill(0);
        self.limit.fill(0);
        self.region.fill(NO_REGION);
        // The used slots are the last of `0..SLOTS`, by base (then by index,
        // so that equal bases get distinct slots, and fail below). A region's
        // slot is its rank: no library sort, whose frame alone would be
        // larger than the whole index build's, for eight elements.
        let used = spans.iter().filter(|s| s.1 != 0).count();
        for (&(base, limit), k) in spans.iter().zip(0u8..) {
            if limit == 0 {
                continue;
            }
            let before = spans.iter().take(usize::from(k));
            let rank = spans.iter().filter(|s| s.1 != 0 && s.0 < base).count()
                + before.filter(|s| s.1 != 0 && s.0 == base).count();
            let slot = SLOTS - used + rank;
            if let (Some(b), Some(l), Some(r)) = (
                self.base.get_mut(slot),
                self.limit.get_mut(slot),
                self.region.get_mut(slot),
            ) {
                (*b, *l, *r) = (base, limit, k);
            }
        }
        // Held values run from `base` to `base + limit - 1` (no overflow):
        // sorted by base, a region must end before the next one starts.
        let bounds = self.base.iter().zip(self.limit.iter()).take(SLOTS);
        let mut end = None::<u64>;
        for (&base, &limit) in bounds.filter(|b| *b.1 != 0) {
            if end.is_some_and(|e| base <= e) {
                return false;
            }
            end = Some(base.wrapping_add(limit - 1));
        }
        true
    }

    /// Base of the region of `slot` (0 for unused slots).
    #[inline(always)]
    fn base(&self, slot: usize) -> u64 {
        self.base.get(slot % TABLE).copied().unwrap_or(0)
    }

    /// Whether the region of `slot` holds `value`.
    #[inline(always)]
    fn holds(&self, slot: usize, value: u64) -> bool {
        let limit = self.limit.get(slot % TABLE).copied().unwrap_or(0);
        value.wrapping_sub(self.base(slot)) < limit
    }
}

/// Finds the one slot of [`Slots`] whose region may hold a value.
trait Find {
    /// The slots searched.
    fn slots(&self) -> &Slots;

    /// The slot whose region holds `value` if any does ([`Slots::holds`]
    /// tells), without a branch.
    fn find(&self, value: u64) -> usize;
}

impl Find for Slots {
    #[inline(always)]
    fn slots(&self) -> &Slots {
        self
    }

    /// Branch-free binary search: the last slot based at or below `value`
    /// (the unused slots, at base 0, come first and hold nothing).
    #[inline(always)]
    fn find(&self, value: u64) -> usize {
        let below = |slot: usize| usize::from(self.base(slot) <= value);
        let mut slot = below(4) * 4;
        slot += below(slot + 2) * 2;
        slot + below(slot + 1)
    }
}

/// Cells of a [`Grid`].
const CELLS: usize = 32;

/// [`Slots`] with a direct lookup: the regions' span cut into [`CELLS`]
/// equal cells, none of which holds more than one region start past its
/// own start.
struct Grid<'a> {
    slots: &'a Slots,
    /// Base of the first region.
    lo: u64,
    /// The last value held by a region, relative to `lo`.
    span: u64,
    /// Cell `c` holds the values `lo + (c << shift) ..`.
    shift: u32,
    /// Slot of the cell's values below its split, and above it.
    pick: [[u8; 2]; CELLS],
    /// `value - lo` from which the cell's values take the second slot.
    split: [u64; CELLS],
}

impl<'a> Grid<'a> {
    /// A grid over `slots`, to [`Grid::set`].
    fn new(slots: &'a Slots) -> Self {
        Self {
            slots,
            lo: 0,
            span: 0,
            shift: 0,
            pick: [[NONE as u8; 2]; CELLS],
            split: [u64::MAX; CELLS],
        }
    }

    /// Sets the cells for the slots; `false` if there is no region, or the
    /// regions are too close together for the cells. Built in place, like
    /// [`Slots::set`].
    fn set(&mut self) -> bool {
        let slots = self.slots;
        // The regions by base, relative to the first one's.
        let mut starts = [(0u64, NONE); SLOTS];
        let mut regions = 0;
        let mut lo = 0;
        let mut span = 0;
        let limits = slots.limit.iter().take(SLOTS);
        for (slot, (&base, &limit)) in slots.base.iter().zip(limits).enumerate() {
            if limit == 0 {
                continue;
            }
            if regions == 0 {
                lo = base;
            }
            // The last value held, relative to `lo`: no overflow, see `Slots::new`.
            span = base.wrapping_sub(lo).wrapping_add(limit - 1);
            if let Some(s) = starts.get_mut(regions) {
                *s = (base.wrapping_sub(lo), slot);
            }
            regions += 1;
        }
        if regions == 0 {
            return false;
        }
        let mut shift = 0;
        while span >> shift >= CELLS as u64 {
            shift += 1;
        }
        (self.lo, self.span, self.shift) = (lo, span, shift);
        // `next`: the first region starting after the cell's start.
        let mut next = 0;
        let cells = self.pick.iter_mut().zip(self.split.iter_mut());
        for (c, (pick, split)) in cells.enumerate() {
            let start = (c as u64) << shift;
            let end = start | ((1u64 << shift) - 1);
            let rel = |k: usize| starts.get(k).filter(|_| k < regions).copied();
            while rel(next).is_some_and(|(r, _)| r <= start) {
                next += 1;
            }
            let below = next.checked_sub(1).and_then(rel).map_or(NONE, |s| s.1);
            let (at, high) = match rel(next) {
                Some((r, slot)) if r <= end => (r, slot),
                _ => (u64::MAX, below),
            };
            if rel(next + 1).is_some_and(|(r, _)| r <= end) {
                return false;
            }
            *pick = [below as u8, high as u8];
            *split = at;
        }
        true
    }
}

impl Find for Grid<'_> {
    #[inline(always)]
    fn slots(&self) -> &Slots {
        self.slots
    }

    /// A value out of the span falls in any cell, and any region there
    /// does not hold it.
    #[inline(always)]
    fn find(&self, value: u64) -> usize {
        let rel = value.wrapping_sub(self.lo);
        let cell = (rel >> self.shift) as usize % CELLS;
        let [low, high] = self.pick.get(cell).copied().unwrap_or([0, 0]);
        let split = self.split.get(cell).copied().unwrap_or(0);
        usize::from(if rel >= split { high } else { low })
    }
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
/// regions together and one more per region, plus as many as the largest
/// region again. Saturates.
///
/// # Examples
///
/// ```
/// use modsym_core::index::scratch_len;
/// assert_eq!(scratch_len(&[40, 5, 100]), 248);
/// assert_eq!(scratch_len(&[]), 0);
/// ```
pub fn scratch_len(lens: &[usize]) -> usize {
    scratch_need(lens.iter().copied())
}

/// [`scratch_len`] over an iterator of lengths.
fn scratch_need(lens: impl Iterator<Item = usize> + Clone) -> usize {
    let total = lens
        .clone()
        .fold(0usize, |a, n| a.saturating_add(n).saturating_add(1));
    total.saturating_add(lens.max().unwrap_or(0))
}

/// [`build_regions`] with caller-provided scratch storage, in `O(n)`: the
/// same output, built several times faster.
///
/// `scratch` needs at least [`scratch_len`] elements for the lengths of
/// `outs` (its contents do not matter and are overwritten); with less, this
/// is [`build_regions`]. The one pass over `t` stores, for each candidate of
/// region `k`, the key `(value - base) << 32 | index` (a region's size fits
/// in `u32`) in `k`'s segment of `scratch`; over at most eight disjoint
/// regions (the kernel's case) it finds an entry's region and whether it is
/// a candidate without a branch. Region `k`'s keys, in index order, are
/// often in value order too (symbols laid out in symtab order): they are
/// then written to `outs[k]` as symtab indices right away, collapsed to the
/// lowest index at each value. Otherwise they are first sorted by an LSD
/// radix sort on the offset bits that vary (stable, so equal values stay in
/// index order). The digits of the radix sort count in `outs[k]` itself, so
/// a region with fewer entries than the counters need is sorted with
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
    // the outputs before it plus one per region (a slot the key pass may
    // write past a full segment); `used[k]` is its write position meanwhile.
    let mut start = 0usize;
    for (u, out) in used.iter_mut().zip(outs.iter()) {
        *u = start;
        start = start.saturating_add(out.len()).saturating_add(1);
    }
    let total = start.min(scratch.len());
    if !fill_disjoint(t, regions, used, scratch, total) {
        let keys = scratch.get_mut(..total).unwrap_or(&mut []);
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
    }
    let (keys, spare) = scratch.split_at_mut(total);
    start = 0;
    for (out, u) in outs.iter_mut().zip(used.iter_mut()) {
        let len = out.len();
        // A region that wrote past its own segment (more candidates than
        // `outs[k]` holds) overwrote the next one's keys: give up.
        let n = u.checked_sub(start).filter(|&n| n <= len);
        let seg = n.and_then(|n| keys.get_mut(start..start + n));
        let (Some(seg), Some(tmp)) = (seg, spare.get_mut(..n.unwrap_or(0))) else {
            return Err(BuildError::OutTooSmall);
        };
        *u = sort_keys_and_collapse(seg, tmp, out);
        start = start.saturating_add(len).saturating_add(1);
    }
    Ok(())
}

/// The key pass of [`build_regions_in`] over at most [`SLOTS`] disjoint
/// regions, through a [`Grid`] or the [`Slots`] ([`fill_keys`]); `false`
/// (nothing written) for other regions, or indices that do not fit in `u32`.
///
/// Out of line, like [`count_disjoint`].
#[inline(never)]
fn fill_disjoint<T: SymbolTable + ?Sized>(
    t: &T,
    regions: &[Region],
    used: &mut [usize],
    scratch: &mut [u64],
    sink: usize,
) -> bool {
    let mut slots = Slots::EMPTY;
    if u32::try_from(t.len().saturating_sub(1)).is_err() || !slots.set(regions) {
        return false;
    }
    let mut grid = Grid::new(&slots);
    if grid.set() {
        fill_keys(t, &grid, used, scratch, sink);
    } else {
        fill_keys(t, &slots, used, scratch, sink);
    }
    true
}

/// The key pass of [`build_regions_in`] over disjoint regions, without a
/// branch per entry: every entry's key goes to `scratch[used[k]]` for the
/// region `k` that may hold its value, and `used[k]` advances if `k` holds
/// it and it is a candidate (the next key overwrites the others, or they
/// stay in the slot past the segment); the key of an entry no region can
/// hold goes to the sink `scratch[sink]`, past the segments. A region with
/// more candidates than its segment runs into the next segment; the caller
/// detects that from `used`. Indices must fit in `u32`.
fn fill_keys<T: SymbolTable + ?Sized, F: Find>(
    t: &T,
    f: &F,
    used: &mut [usize],
    scratch: &mut [u64],
    sink: usize,
) {
    let Some(last) = scratch.len().checked_sub(1) else {
        return;
    };
    // Write positions by slot; the slots without a region write to the sink
    // and never advance.
    let mut pos = [sink; TABLE];
    for (p, &k) in pos.iter_mut().zip(f.slots().region.iter()) {
        if let Some(&u) = used.get(usize::from(k)) {
            *p = u;
        }
    }
    for i in 1..t.len() {
        let value = t.value(i);
        let slot = f.find(value) % TABLE;
        let Some(p) = pos.get_mut(slot) else {
            continue;
        };
        // An offset in a region fits in 32 bits; a key not advanced past is
        // never read (nor one stored at `last` instead of past the end,
        // which the caller reports).
        let key = (value.wrapping_sub(f.slots().base(slot)) << 32) | i as u64;
        if let Some(k) = scratch.get_mut((*p).min(last)) {
            *k = key;
        }
        let hit = f.slots().holds(slot, value) & is_candidate_head(t, i);
        *p += usize::from(hit);
    }
    for (&p, &k) in pos.iter().zip(f.slots().region.iter()) {
        if let Some(u) = used.get_mut(usize::from(k)) {
            *u = p;
        }
    }
}

/// Widest radix digit: 2^11 counters per digit stay in the L1 cache.
const RADIX_BITS: u32 = 11;

/// Sorts `keys` (`offset << 32 | index`, in ascending index order) and
/// writes their indices to `out`, collapsing equal offsets to the first
/// (lowest index); returns the number written.
///
/// `tmp` is as long as `keys`; `out` is at least as long and holds the digit
/// counters while sorting.
fn sort_keys_and_collapse(keys: &mut [u64], tmp: &mut [u64], out: &mut [u32]) -> usize {
    // Symbols often come in address order: collapse right away, and sort
    // only if a key turns out of order.
    if let Some(kept) = collapse(keys, out, true) {
        return kept;
    }
    // The digits cover the offset bits that vary, from the lowest set in
    // any offset to the highest.
    let any = keys.iter().fold(0, |a, &k| a | k) >> 32;
    let low = any.trailing_zeros().min(31);
    let bits = (u64::BITS - any.leading_zeros()).saturating_sub(low);
    // The fewest digits of at most RADIX_BITS bits, all the same width, whose
    // counters fit in `out` (as long as `keys`): more digits for few keys.
    let n = keys.len();
    let layout = (bits.div_ceil(RADIX_BITS).max(1)..=4).find_map(|passes| {
        let width = bits.div_ceil(passes);
        let counters = (1usize << width).saturating_mul(passes as usize);
        (counters <= n).then_some((passes, width))
    });
    let Some((passes, width)) = layout else {
        keys.sort_unstable();
        return collapse(keys, out, false).unwrap_or(0);
    };
    let digits = Digits {
        shift: 32 + low,
        width,
    };
    let sorted: &[u64] = match passes {
        1 => radix_sort::<1>(keys, tmp, out, digits),
        2 => radix_sort::<2>(keys, tmp, out, digits),
        3 => radix_sort::<3>(keys, tmp, out, digits),
        _ => radix_sort::<4>(keys, tmp, out, digits),
    };
    collapse(sorted, out, false).unwrap_or(0)
}

/// Writes the indices of the ascending `keys` to `out`, the first of each
/// offset only, and returns their number; with `check`, `None` as soon as a
/// key is found out of order (`out` then holds garbage).
#[inline(always)]
fn collapse(keys: &[u64], out: &mut [u32], check: bool) -> Option<usize> {
    // Every key is written at `kept`, which advances past the first key of
    // each offset only: `kept < n <= out.len()` at every write.
    let mut kept = 0;
    let mut last = u64::MAX; // no offset: they fit in 32 bits
    let mut prev = 0;
    for chunk in keys.chunks(256) {
        let mut disorder = false;
        for &key in chunk {
            disorder |= key < prev;
            prev = key;
            let offset = key >> 32;
            if let Some(slot) = out.get_mut(kept) {
                *slot = key as u32;
            }
            kept += usize::from(offset != last);
            last = offset;
        }
        if check && disorder {
            return None;
        }
    }
    Some(kept)
}

/// Radix digits of a key: `width` bits each, the first at bit `shift`.
#[derive(Clone, Copy)]
struct Digits {
    shift: u32,
    width: u32,
}

/// LSD radix sort of `keys` by `P` digits of their offset, each counted in
/// `1 << width` counters of `counts` (at least `P << width` long),
/// ping-ponging with `tmp`. Stable, so keys with equal offsets keep their
/// (index) order; skips every digit on which all keys agree. Returns the
/// sorted keys (in `keys` or in `tmp`).
fn radix_sort<'a, const P: usize>(
    keys: &'a mut [u64],
    tmp: &'a mut [u64],
    counts: &mut [u32],
    digits: Digits,
) -> &'a [u64] {
    let n = keys.len();
    let buckets = 1usize << digits.width;
    let mask = (buckets - 1) as u64;
    let digit = |key: u64, p: usize| {
        (key.wrapping_shr(digits.shift + p as u32 * digits.width) & mask) as usize
    };
    let (counts, odd) = counts.split_at_mut((P * buckets).min(counts.len()));
    counts.iter_mut().for_each(|c| *c = 0);
    // Neighbouring keys often share their high digits: count every other
    // key in a second set of counters if there is room, so that an
    // increment rarely waits on the previous one.
    match odd.get_mut(..counts.len()) {
        Some(odd) => {
            odd.iter_mut().for_each(|c| *c = 0);
            let mut pairs = keys.chunks_exact(2);
            for pair in &mut pairs {
                if let [a, b] = *pair {
                    for p in 0..P {
                        if let Some(c) = counts.get_mut(p * buckets + digit(a, p)) {
                            *c = c.wrapping_add(1);
                        }
                        if let Some(c) = odd.get_mut(p * buckets + digit(b, p)) {
                            *c = c.wrapping_add(1);
                        }
                    }
                }
            }
            for &key in pairs.remainder() {
                for p in 0..P {
                    if let Some(c) = counts.get_mut(p * buckets + digit(key, p)) {
                        *c = c.wrapping_add(1);
                    }
                }
            }
            for (c, &o) in counts.iter_mut().zip(odd.iter()) {
                *c = c.wrapping_add(o);
            }
        }
        None => {
            for &key in keys.iter() {
                for p in 0..P {
                    if let Some(c) = counts.get_mut(p * buckets + digit(key, p)) {
                        *c = c.wrapping_add(1);
                    }
                }
            }
        }
    }
    let (mut src, mut dst) = (keys, tmp);
    for (p, counts) in counts.chunks_exact_mut(buckets).enumerate().take(P) {
        if counts.iter().any(|&c| c as usize == n) {
            continue;
        }
        let mut sum = 0u32;
        for c in counts.iter_mut() {
            let here = *c;
            *c = sum;
            sum = sum.wrapping_add(here);
        }
        for &key in src.iter() {
            if let Some(c) = counts.get_mut(digit(key, p)) {
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

/// The entry the kernel's `__find_kallsyms_symbol_value(mod, name)`
/// (kernel/module/kallsyms.c) takes its value from: the first in symtab
/// order named `name` and not `SHN_UNDEF`.
///
/// With `names`, the table's name index ([`build_names`]), in `O(log n)`
/// name comparisons; without it, or for what the index leaves out (entry 0,
/// the empty name), by the kernel's own linear scan.
///
/// # Examples
///
/// ```
/// use modsym_core::index::{build_names, first_defined_named, SymbolTable};
///
/// struct Table<'a>(&'a [(u64, u16, &'a str)]);
/// impl SymbolTable for Table<'_> {
///     fn len(&self) -> usize { self.0.len() }
///     fn value(&self, i: usize) -> u64 { self.0[i].0 }
///     fn shndx(&self, i: usize) -> u16 { self.0[i].1 }
///     fn name(&self, i: usize) -> &[u8] { self.0[i].2.as_bytes() }
/// }
///
/// let t = Table(&[(0, 0, ""), (0, 0, "a"), (0x20, 1, "a"), (0x30, 2, "a")]);
/// let mut names = [0u32; 2];
/// let n = build_names(&t, &mut names).unwrap();
/// assert_eq!(first_defined_named(&t, Some(&names[..n]), b"a"), Some(2));
/// assert_eq!(first_defined_named(&t, None, b"a"), Some(2));
/// assert_eq!(first_defined_named(&t, Some(&names[..n]), b""), None);
/// ```
pub fn first_defined_named<T: SymbolTable + ?Sized>(
    t: &T,
    names: Option<&[u32]>,
    name: &[u8],
) -> Option<usize> {
    let matches = |i: usize| t.shndx(i) != SHN_UNDEF && t.name(i) == name;
    match names {
        Some(names) if !name.is_empty() => {
            if t.len() > 0 && matches(0) {
                return Some(0);
            }
            lookup_name(t, names, name).first().map(|&i| i as usize)
        }
        _ => (0..t.len()).find(|&i| matches(i)),
    }
}

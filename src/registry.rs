// SPDX-License-Identifier: GPL-2.0

//! The registry of indexed modules: writers, RCU publication and lookups.
//!
//! # Data structures
//!
//! - [`TableIndex`]: the sorted address index of every region of one symbol
//!   table ([`RegionIndex`], one `u32` symtab index per entry, built by the
//!   pure core) and, for the core table, the name index.
//! - [`ModIndex`]: one module: its name, state, core [`TableIndex`] and, while
//!   the module is COMING, the [`TableIndex`] of its init regions over the
//!   init-time table. Immutable once built: state changes build a new
//!   `ModIndex` sharing the unchanged parts (`Arc`).
//! - [`Snapshot`]: the published, immutable view: the modules in load order
//!   and all their regions sorted by base address, for an `O(log m)` search of
//!   the region containing an address, and the modules whose index is still
//!   being built ([`Pending`]).
//!
//! # Concurrency
//!
//! Writers (module notifier events, the initial adoption of loaded modules)
//! run on the [`Writer`] under the notifier's lock ([`ModuleNotifier`]), build
//! a new [`Snapshot`] and publish it with [`RcuBox::publish`]
//! (`rcu_assign_pointer()`). The old snapshot is freed by an RCU callback
//! once its grace period has elapsed (`call_rcu()`), and with it the indexes
//! of modules it alone still held; module exit waits for those callbacks
//! (`rcu_barrier()`). No module event waits for a grace period.
//!
//! A module's index is not built in its COMING or LIVE event, which sit in
//! `insmod`: the event only lists the module as [`Pending`] and the
//! notifier's build thread builds the index outside the lock, at nice 19 and
//! once module events have been quiet for 50 ms, then publishes it
//! ([`ModuleEvents::built`]). Until then lookups of its addresses take the
//! kernel's own linear scan ([`Registry::resolve_line`]): exact, just slow.
//!
//! Readers ([`Registry::resolve`], [`Registry::resolve_line`], the debugfs
//! iterators) only take the RCU read lock: no lock, no allocation, no sleep,
//! so the address path can run in any context, like `module_address_lookup()`.
//!
//! Why a reader can never touch freed memory:
//!
//! - our own index memory is owned by the snapshots (through `Arc`s) and the
//!   writer list; an old snapshot is freed only after a grace period that
//!   started after it was unpublished, so no reader still holds it;
//! - a module's symbol tables (see [`KTable`]'s lifetime rule): the GOING
//!   event unpublishes the module before returning, and every path that
//!   frees module memory afterwards (`free_module()`, the failure paths of
//!   `load_module()` and `do_init_module()`) calls `synchronize_rcu()` first,
//!   so readers of the old snapshot are gone by then. The LIVE event
//!   unpublishes the init part (init table and init regions), and the kernel
//!   frees init memory from `do_free_init()`, after its own
//!   `synchronize_rcu()`.
//! - tables are read outside RCU only with their module held (the name
//!   index build, [`Registry::ensure_names`]: a reference taken under the
//!   writer lock keeps a LIVE module from being unloaded); `verify` and
//!   `bench` read them under RCU, through a snapshot that still publishes
//!   them.

#![forbid(unsafe_code)]

use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        rcu, Arc, MutexGuard, SetOnce,
    },
    time::{delay::fsleep, Delta, Instant, Monotonic},
};

use crate::{
    format::{self, Line},
    index::{self, Hit, Region, SymbolTable},
    kcall::KSYM_NAME_LEN,
    kmod::{
        self, KTable, ModState, ModuleId, ModuleRef, FIRST_INIT_TYPE, MEM_TYPES, MODULE_NAME_LEN,
    },
    notifier::{Events, ModuleEvents, ModuleNotifier, Next},
    parity::RegionView,
    rcu::{RcuBox, ReadSide},
    sized_gfp,
};

/// Nanoseconds since `start`.
pub(crate) fn elapsed_ns(start: Instant<Monotonic>) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(0)
}

/// Whether memory type `t` takes part in address resolution (rule 1: every
/// type with `CONFIG_KALLSYMS_ALL`, only text without).
pub(crate) const fn resolvable_type(t: usize) -> bool {
    cfg!(CONFIG_KALLSYMS_ALL) || kmod::is_text_type(t)
}

/// Sorted address index of one memory region.
pub(crate) struct RegionIndex {
    /// The region.
    pub(crate) region: Region,
    /// Symtab indices sorted by value, equal values collapsed.
    pub(crate) entries: KVVec<u32>,
}

impl RegionIndex {
    /// This index over `table`, for the pure core.
    pub(crate) fn view<'a>(&'a self, table: &'a KTable) -> RegionView<'a, KTable> {
        RegionView {
            table,
            region: self.region,
            entries: &self.entries,
        }
    }
}

/// Every [`TableIndex`] alive, published or held by an unpublished snapshot
/// until its RCU callback frees it: how many, and their bytes.
static HELD_TABLES: Atomic<usize> = Atomic::new(0);
static HELD_BYTES: Atomic<usize> = Atomic::new(0);

/// Index memory modsym holds ([`HELD_TABLES`], [`HELD_BYTES`]): what
/// `modules` reports on its last line.
pub(crate) fn held() -> (usize, usize) {
    (HELD_TABLES.load(Relaxed), HELD_BYTES.load(Relaxed))
}

/// Entries of `table` named `name`, in symtab order, by a linear scan like the
/// kernel's `find_kallsyms_symbol_value()`; `f` returns `false` to stop.
fn for_each_named_by_scan(table: &KTable, name: &[u8], mut f: impl FnMut(usize) -> bool) {
    for i in 1..table.len() {
        if index::is_name_candidate(table, i) && table.name(i) == name && !f(i) {
            return;
        }
    }
}

/// The resolvable regions of `m` among memory `types` (see
/// [`resolvable_type`]), and how many.
fn regions_of(m: &ModuleRef<'_>, types: core::ops::Range<usize>) -> ([Region; MEM_TYPES], usize) {
    let mut list = [Region::new(0, 0); MEM_TYPES];
    let mut n = 0;
    for t in types.filter(|&t| resolvable_type(t)) {
        if let (Some(region), Some(slot)) = (m.region(t), list.get_mut(n)) {
            *slot = region;
            n += 1;
        }
    }
    (list, n)
}

/// Indices over one symbol table.
pub(crate) struct TableIndex {
    /// The table.
    pub(crate) table: KTable,
    /// One index per indexed region.
    pub(crate) regions: KVec<RegionIndex>,
    /// Name index (core table only), built on first use by
    /// [`Registry::ensure_names`]: sorting every name costs more than the
    /// address index, and few modules are ever looked up by name.
    names: SetOnce<KVVec<u32>>,
    /// Whether an address candidate's name is too long for the kernel's
    /// `%pS` (see [`TableIndex::has_long_names`]); found on first use.
    long_names: SetOnce<bool>,
}

impl TableIndex {
    fn build(table: KTable, m: &ModuleRef<'_>, types: core::ops::Range<usize>) -> Result<Self> {
        let (list, n) = regions_of(m, types);
        let list = list.get(..n).unwrap_or(&[]);
        // Two passes over the symtab for all regions: count, then fill.
        let mut counts = [0usize; MEM_TYPES];
        index::count_regions(&table, list, &mut counts);
        let mut storage = KVec::with_capacity(n, GFP_KERNEL)?;
        for &count in counts.iter().take(n) {
            storage.push(KVVec::from_elem(0u32, count, sized_gfp())?, GFP_KERNEL)?;
        }
        let mut used = [0usize; MEM_TYPES];
        {
            let mut outs = KVec::with_capacity(n, GFP_KERNEL)?;
            for entries in storage.iter_mut() {
                outs.push(&mut entries[..], GFP_KERNEL)?;
            }
            // Sort keys of every region, freed right after the build.
            let len = index::scratch_len(counts.get(..n).unwrap_or(&[]));
            let mut scratch = KVVec::from_elem(0u64, len, sized_gfp())?;
            index::build_regions_in(&table, list, &mut outs, &mut used, &mut scratch)
                .map_err(|_| EINVAL)?;
        }
        let mut regions = KVec::with_capacity(n, GFP_KERNEL)?;
        for ((&region, mut entries), &len) in list.iter().zip(storage).zip(used.iter()) {
            entries.truncate(len);
            // Arrays were sized by count_regions(), an upper bound (mapping symbols
            // included: on arm64 about twice the candidates), before equal values
            // collapsed. On failure the larger array stays, which is only memory.
            let _ = entries.shrink_to(len, sized_gfp());
            regions.push(RegionIndex { region, entries }, GFP_KERNEL)?;
        }
        let built = Self {
            table,
            regions,
            names: SetOnce::new(),
            long_names: SetOnce::new(),
        };
        HELD_TABLES.add(1, Relaxed);
        HELD_BYTES.add(built.bytes(), Relaxed);
        Ok(built)
    }

    /// Whether the name index is built.
    fn has_names(&self) -> bool {
        self.names.as_ref().is_some()
    }

    /// Builds the name index if it does not exist yet (if another reader
    /// built it meanwhile, that one stays).
    ///
    /// The table must be alive: call with its module held.
    fn ensure_names(&self) -> Result {
        if self.names.as_ref().is_some() {
            return Ok(());
        }
        let count = index::count_names(&self.table);
        let mut names = KVVec::from_elem(0u32, count, sized_gfp())?;
        let used = index::build_names(&self.table, &mut names).map_err(|_| EINVAL)?;
        names.truncate(used);
        // As for the address index: the larger array stays if shrinking fails.
        let _ = names.shrink_to(used, sized_gfp());
        let bytes = index::index_bytes(names.capacity());
        // Two first lookups may race: the loser's array is dropped.
        if self.names.populate(names) {
            HELD_BYTES.add(bytes, Relaxed);
        }
        Ok(())
    }

    /// Entries named `name`, in symtab order (ascending index).
    ///
    /// `O(log n)` through the name index; a linear scan, like the kernel's
    /// `find_kallsyms_symbol_value()`, while the index is not built yet.
    pub(crate) fn for_each_named(&self, name: &[u8], mut f: impl FnMut(usize) -> bool) {
        match self.names.as_ref() {
            Some(names) => {
                for &i in index::lookup_name(&self.table, names, name) {
                    if !f(i as usize) {
                        return;
                    }
                }
            }
            None => for_each_named_by_scan(&self.table, name, f),
        }
    }

    /// Whether an address candidate of the table has a name of
    /// [`KSYM_NAME_LEN`] bytes or more, which the kernel cannot print: for
    /// such a symbol `module_address_lookup()`'s `strscpy()` fails and
    /// `__sprint_symbol()` writes before its buffer.
    ///
    /// The table must be alive: call under the writer lock or with the RCU
    /// read lock held on a published snapshot.
    pub(crate) fn has_long_names(&self) -> bool {
        if let Some(&long) = self.long_names.as_ref() {
            return long;
        }
        let long = (1..self.table.len()).any(|i| {
            index::is_address_candidate(&self.table, i) && self.table.name(i).len() >= KSYM_NAME_LEN
        });
        // A concurrent caller may have populated it first, with the same answer.
        let _ = self.long_names.populate(long);
        long
    }

    /// Number of address index entries.
    pub(crate) fn indexed(&self) -> usize {
        self.regions.iter().map(|r| r.entries.len()).sum()
    }

    /// Bytes used: index arrays (allocated capacity) and bookkeeping.
    fn bytes(&self) -> usize {
        let arrays: usize = self
            .regions
            .iter()
            .map(|r| index::index_bytes(r.entries.capacity()))
            .sum();
        arrays
            + self
                .names
                .as_ref()
                .map_or(0, |n| index::index_bytes(n.capacity()))
            + self.regions.capacity() * core::mem::size_of::<RegionIndex>()
            + core::mem::size_of::<Self>()
    }
}

impl Drop for TableIndex {
    fn drop(&mut self) {
        HELD_TABLES.fetch_sub(1, Relaxed);
        HELD_BYTES.fetch_sub(self.bytes(), Relaxed);
    }
}

/// A module name (`mod->name`), kept by value.
#[derive(Clone)]
pub(crate) struct ModName {
    bytes: [u8; MODULE_NAME_LEN],
    len: usize,
}

impl ModName {
    fn new(src: &[u8]) -> Self {
        let mut bytes = [0u8; MODULE_NAME_LEN];
        let len = src.len().min(MODULE_NAME_LEN);
        if let (Some(dst), Some(src)) = (bytes.get_mut(..len), src.get(..len)) {
            dst.copy_from_slice(src);
        }
        Self { bytes, len }
    }

    /// The name.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

/// A module whose index the notifier's build thread is building: listed, but
/// answered by the kernel's linear scan until the index is published.
#[derive(Clone)]
pub(crate) struct Pending {
    module: ModuleId,
    name: ModName,
    state: ModState,
    /// When the event that queued the build came.
    since: Instant<Monotonic>,
    /// Its core table and regions, which `lookup` scans meanwhile: alive
    /// while a snapshot read under RCU lists this entry (as for an index).
    table: KTable,
    regions: [Region; MEM_TYPES],
    region_count: usize,
}

impl Pending {
    /// The core table (`core_kallsyms`).
    pub(crate) fn table(&self) -> &KTable {
        &self.table
    }

    /// Entries named `name` in symtab order, by a linear scan.
    pub(crate) fn for_each_named(&self, name: &[u8], f: impl FnMut(usize) -> bool) {
        for_each_named_by_scan(&self.table, name, f)
    }

    /// The size `resolve` gives entry `i` of the core table if it is the
    /// answer for its own address, else 0; by a linear scan.
    pub(crate) fn size_of(&self, i: usize) -> u64 {
        let value = self.table.value(i);
        let regions = self.regions.get(..self.region_count).unwrap_or(&[]);
        regions
            .iter()
            .find(|r| r.contains(value))
            .and_then(|&r| index::lookup_by_scan(&self.table, r, value))
            .filter(|hit| hit.index as usize == i)
            .map_or(0, |hit| hit.size)
    }

    /// The module's name.
    pub(crate) fn name(&self) -> &[u8] {
        self.name.as_bytes()
    }

    /// The module's name, by value.
    pub(crate) fn module_name(&self) -> &ModName {
        &self.name
    }

    /// `coming` or `live`.
    pub(crate) fn state_name(&self) -> &'static str {
        state_name(self.state)
    }
}

/// The name of a module state in the `modules` listing.
fn state_name(state: ModState) -> &'static str {
    match state {
        ModState::Coming => "coming",
        ModState::Going => "going",
        _ => "live",
    }
}

/// Everything modsym knows about one module.
#[derive(Clone)]
pub(crate) struct ModIndex {
    /// The module: its identity ([`ModuleId::id`]), and what is held while
    /// its name index is built.
    module: ModuleId,
    name: ModName,
    state: ModState,
    /// Index over `core_kallsyms` for the core regions.
    pub(crate) core: Arc<TableIndex>,
    /// Index over the init-time table for the init regions, while COMING.
    pub(crate) init: Option<Arc<TableIndex>>,
    build_ns: u64,
    /// From the event that asked for the index to its publication.
    ready_ns: u64,
}

impl ModIndex {
    fn build(m: &ModuleRef<'_>, state: ModState) -> Result<Self> {
        let start = Instant::<Monotonic>::now();
        let core = TableIndex::build(m.core_table(), m, 0..FIRST_INIT_TYPE)?;
        let init = match m.init_table() {
            Some(t) => {
                let idx = TableIndex::build(t, m, FIRST_INIT_TYPE..MEM_TYPES)?;
                (!idx.regions.is_empty()).then_some(idx)
            }
            None => None,
        };
        let init = match init {
            Some(idx) => Some(Arc::new(idx, GFP_KERNEL)?),
            None => None,
        };
        if EAGER_NAMES.load(Relaxed) {
            // Without it the module's names are scanned, which is exact too.
            let _ = core.ensure_names();
        }
        let build_ns = elapsed_ns(start);
        Ok(Self {
            module: m.module_id(),
            name: ModName::new(m.name()),
            state: if init.is_some() {
                ModState::Coming
            } else {
                state
            },
            core: Arc::new(core, GFP_KERNEL)?,
            init,
            build_ns,
            ready_ns: build_ns,
        })
    }

    /// The module's name.
    pub(crate) fn name(&self) -> &[u8] {
        self.name.as_bytes()
    }

    /// `coming`, `live` or `going`.
    pub(crate) fn state_name(&self) -> &'static str {
        state_name(self.state)
    }

    /// Entries of the table currently used for resolution (the init-time
    /// table while COMING, like `mod->kallsyms`).
    pub(crate) fn symtab_len(&self) -> usize {
        self.init
            .as_ref()
            .map_or(self.core.table.len(), |i| i.table.len())
    }

    /// Number of indexed address entries.
    pub(crate) fn indexed(&self) -> usize {
        self.core.indexed() + self.init.as_ref().map_or(0, |i| i.indexed())
    }

    /// Bytes of index and bookkeeping attributable to this module.
    pub(crate) fn bytes(&self) -> usize {
        let regions = self.core.regions.len() + self.init.as_ref().map_or(0, |i| i.regions.len());
        core::mem::size_of::<Self>()
            + self.core.bytes()
            + self.init.as_ref().map_or(0, |i| i.bytes())
            + regions * core::mem::size_of::<Slot>()
            + core::mem::size_of::<Arc<Self>>()
    }

    /// Time it took to build the index, in nanoseconds.
    pub(crate) fn build_ns(&self) -> u64 {
        self.build_ns
    }

    /// Time from the event that asked for the index (COMING, LIVE or
    /// modsym's own load) to its publication, in nanoseconds.
    pub(crate) fn ready_ns(&self) -> u64 {
        self.ready_ns
    }

    /// Every indexed region with its table, sorted by base address.
    pub(crate) fn regions(&self) -> RegionList<'_> {
        let empty = RegionView {
            table: &KTable::EMPTY,
            region: Region::new(0, 0),
            entries: &[],
        };
        let mut list = RegionList {
            items: [empty; MEM_TYPES],
            len: 0,
        };
        let parts = Iterator::chain(core::iter::once(&*self.core), self.init.as_deref());
        for part in parts {
            for r in part.regions.iter() {
                if let Some(slot) = list.items.get_mut(list.len) {
                    *slot = r.view(&part.table);
                    list.len += 1;
                }
            }
        }
        list.as_mut_slice().sort_unstable_by_key(|v| v.region.base);
        list
    }
}

/// A module's indexed regions in address order, see [`ModIndex::regions`].
pub(crate) struct RegionList<'a> {
    items: [RegionView<'a, KTable>; MEM_TYPES],
    len: usize,
}

impl<'a> RegionList<'a> {
    /// The regions.
    pub(crate) fn as_slice(&self) -> &[RegionView<'a, KTable>] {
        self.items.get(..self.len).unwrap_or(&[])
    }

    fn as_mut_slice(&mut self) -> &mut [RegionView<'a, KTable>] {
        self.items.get_mut(..self.len).unwrap_or(&mut [])
    }
}

/// One region in the published search array.
#[derive(Clone, Copy)]
struct Slot {
    base: u64,
    size: u32,
    module: u32,
    init: bool,
    region: u8,
}

/// The published view of the registry.
pub(crate) struct Snapshot {
    modules: KVec<Arc<ModIndex>>,
    slots: KVec<Slot>,
    pending: KVec<Pending>,
}

impl Snapshot {
    fn build(modules: &[Arc<ModIndex>], pending: &[Pending]) -> Result<Self> {
        let mut list = KVec::with_capacity(modules.len(), GFP_KERNEL)?;
        let mut slots = KVec::new();
        for (mi, m) in modules.iter().enumerate() {
            list.push(m.clone(), GFP_KERNEL)?;
            let module = u32::try_from(mi).map_err(|_| EINVAL)?;
            let parts = [(false, Some(&m.core)), (true, m.init.as_ref())];
            for (init, part) in parts {
                let Some(part) = part else { continue };
                for (ri, r) in part.regions.iter().enumerate() {
                    let slot = Slot {
                        base: r.region.base,
                        size: r.region.size,
                        module,
                        init,
                        region: u8::try_from(ri).map_err(|_| EINVAL)?,
                    };
                    slots.push(slot, GFP_KERNEL)?;
                }
            }
        }
        slots.sort_unstable_by_key(|s| s.base);
        let mut waiting = KVec::with_capacity(pending.len(), GFP_KERNEL)?;
        for p in pending {
            waiting.push(p.clone(), GFP_KERNEL)?;
        }
        Ok(Self {
            modules: list,
            slots,
            pending: waiting,
        })
    }

    /// The indexed modules, in load order.
    pub(crate) fn modules(&self) -> &[Arc<ModIndex>] {
        &self.modules
    }

    /// The modules whose index is being built, oldest first.
    pub(crate) fn pending(&self) -> &[Pending] {
        &self.pending
    }

    /// Whether this snapshot publishes `m` itself (not a later index of the
    /// same module): then, while the RCU read lock that gave the snapshot is
    /// held, `m`'s tables are alive.
    pub(crate) fn publishes(&self, m: &Arc<ModIndex>) -> bool {
        self.modules.iter().any(|x| Arc::ptr_eq(x, m))
    }

    /// The published index of the module with [`ModuleRef::id`] `id`.
    pub(crate) fn module(&self, id: usize) -> Option<&ModIndex> {
        self.modules
            .iter()
            .find(|x| x.module.id() == id)
            .map(|x| &**x)
    }

    /// Whether the module with [`ModuleRef::id`] `id` is published.
    pub(crate) fn has_module(&self, id: usize) -> bool {
        self.module(id).is_some()
    }

    /// The module and region whose memory contains `addr` (rule 1), in
    /// `O(log r)` over all indexed regions.
    pub(crate) fn find(&self, addr: u64) -> Option<(&ModIndex, &TableIndex, &RegionIndex)> {
        let p = self.slots.partition_point(|s| s.base <= addr);
        let slot = self.slots.get(p.checked_sub(1)?)?;
        if !Region::new(slot.base, slot.size).contains(addr) {
            return None;
        }
        let m = self.modules.get(slot.module as usize)?;
        let part = if slot.init {
            m.init.as_deref()?
        } else {
            &*m.core
        };
        let r = part.regions.get(usize::from(slot.region))?;
        Some((m, part, r))
    }

    /// Resolves `addr` exactly like `module_address_lookup()`.
    pub(crate) fn resolve(&self, addr: u64) -> Option<Resolution<'_>> {
        let (module, part, r) = self.find(addr)?;
        let hit = index::lookup(&part.table, r.region, &r.entries, addr)?;
        Some(Resolution {
            module,
            table: &part.table,
            hit,
        })
    }
}

/// `find_kallsyms_symbol()`'s answer for an address, see [`kernel_answer`].
// Used by the ftrace hook (accel.rs), which not every kernel has.
#[cfg_attr(
    not(all(CONFIG_DYNAMIC_FTRACE_WITH_ARGS, any(CONFIG_X86_64, CONFIG_ARM64))),
    expect(dead_code)
)]
pub(crate) struct KernelAnswer {
    /// The table the kernel scans and the symbol it finds there, if any.
    pub(crate) found: Option<(KTable, Hit)>,
    /// Whether a published index gave the answer (else a linear scan did).
    pub(crate) indexed: bool,
}

/// What the kernel's `find_kallsyms_symbol(m, addr)` returns right now,
/// exactly: the replacement of that function (`accel.rs`) answers with this.
///
/// The region and the table are the ones the kernel would scan at this
/// instant ([`ModuleRef::kernel_scan_target`]: the first region of `m`
/// holding `addr`, and `rcu_dereference(m->kallsyms)`). `reg`'s published
/// index answers only if it has an index for that very module, region and
/// table (the exactness guard); otherwise the table is scanned like the
/// kernel does: a module COMING before modsym's notifier ran, the core
/// regions of a COMING module (the kernel scans the init-time table), init
/// text between the LIVE notifier and the switch to `core_kallsyms`, a
/// module whose index is pending, or one not indexed for lack of memory.
///
/// No lock, no allocation, no sleeping, nothing traceable: runs in any
/// context the kernel's lookups run in, inside the caller's RCU read side.
// Used by the ftrace hook (accel.rs), which not every kernel has.
#[cfg_attr(
    not(all(CONFIG_DYNAMIC_FTRACE_WITH_ARGS, any(CONFIG_X86_64, CONFIG_ARM64))),
    expect(dead_code)
)]
pub(crate) fn kernel_answer(
    reg: Option<&Registry>,
    m: &ModuleRef<'_>,
    addr: u64,
    rcu: &impl ReadSide,
) -> KernelAnswer {
    let Some((region, table)) = m.kernel_scan_target(addr, rcu, resolvable_type) else {
        return KernelAnswer {
            found: None,
            indexed: false,
        };
    };
    let indexed = reg
        .and_then(|r| r.snapshot(rcu))
        .and_then(|s| s.find(addr))
        .filter(|(mi, part, ri)| {
            mi.module.id() == m.id() && ri.region == region && part.table.same_as(&table)
        });
    match indexed {
        Some((_, part, ri)) => KernelAnswer {
            found: index::lookup(&part.table, ri.region, &ri.entries, addr)
                .map(|h| (part.table, h)),
            indexed: true,
        },
        None => KernelAnswer {
            found: index::lookup_by_scan(&table, region, addr).map(|h| (table, h)),
            indexed: false,
        },
    }
}

/// `__find_kallsyms_symbol_value()`'s answer for a name, see
/// [`kernel_value_answer`].
// Used by the ftrace hook (accel.rs), which not every kernel has.
#[cfg_attr(
    not(all(CONFIG_DYNAMIC_FTRACE_WITH_ARGS, any(CONFIG_X86_64, CONFIG_ARM64))),
    expect(dead_code)
)]
pub(crate) struct ValueAnswer {
    /// The symbol's value, 0 for none (as the kernel returns it).
    pub(crate) value: u64,
    /// Whether a published name index gave the answer (else a linear scan did).
    pub(crate) indexed: bool,
}

/// What the kernel's `__find_kallsyms_symbol_value(m, name)` returns right
/// now, exactly: the value of the first entry in symtab order of
/// `rcu_dereference(m->kallsyms)` named `name` and not `SHN_UNDEF`, or 0.
/// The replacement of that function (`accel.rs`) answers with this.
///
/// `reg`'s published name index answers only if it was built for that very
/// table (the exactness guard: the core table once the module is LIVE);
/// otherwise the table is scanned like the kernel does (a COMING module, a
/// module not indexed yet, or whose name index is not built: see
/// [`set_eager_names`]).
///
/// No lock, no allocation, no sleeping, nothing traceable: runs in any
/// context the kernel's lookups run in, inside the caller's RCU read side.
// Used by the ftrace hook (accel.rs), which not every kernel has.
#[cfg_attr(
    not(all(CONFIG_DYNAMIC_FTRACE_WITH_ARGS, any(CONFIG_X86_64, CONFIG_ARM64))),
    expect(dead_code)
)]
pub(crate) fn kernel_value_answer(
    reg: Option<&Registry>,
    m: &ModuleRef<'_>,
    name: &[u8],
    rcu: &impl ReadSide,
) -> ValueAnswer {
    let Some(table) = m.kernel_table(rcu) else {
        return ValueAnswer {
            value: 0,
            indexed: false,
        };
    };
    let names = reg
        .and_then(|r| r.snapshot(rcu))
        .and_then(|s| s.module(m.id()))
        .filter(|x| x.core.table.same_as(&table))
        .and_then(|x| x.core.names.as_ref());
    let entry = index::first_defined_named(&table, names.map(|n| &n[..]), name);
    ValueAnswer {
        value: entry.map_or(0, |i| table.value(i)),
        indexed: names.is_some(),
    }
}

/// Whether module index builds also build the name index (see
/// [`set_eager_names`]).
static EAGER_NAMES: Atomic<bool> = Atomic::new(false);

/// From now on, build every module's name index with its address index
/// (`true`), or only on the first `lookup` (`false`). Acceleration needs
/// them built: its name lookups must not allocate. Modules indexed before
/// get theirs from [`Registry::ensure_names`].
pub(crate) fn set_eager_names(on: bool) {
    EAGER_NAMES.store(on, Relaxed);
}

/// Answer of an address lookup.
pub(crate) struct Resolution<'a> {
    /// The module.
    pub(crate) module: &'a ModIndex,
    /// The table the symbol is in.
    pub(crate) table: &'a KTable,
    /// Symbol, offset and size.
    pub(crate) hit: Hit,
}

impl Resolution<'_> {
    /// The symbol name.
    pub(crate) fn name(&self) -> &[u8] {
        self.table.name(self.hit.index as usize)
    }
}

/// Mutable registry state, changed by module events under the notifier's
/// lock.
pub(crate) struct Writer {
    modules: KVec<Arc<ModIndex>>,
    /// Modules whose index the build thread is building.
    pending: KVec<Pending>,
    published: Arc<RcuBox<Snapshot>>,
    /// An event could not be handled in full for lack of memory: a loaded
    /// module may be missing, see [`ModuleEvents::missed`].
    missed: bool,
}

impl Writer {
    fn position(&self, id: usize) -> Option<usize> {
        self.modules.iter().position(|m| m.module.id() == id)
    }

    fn pending_position(&self, id: usize) -> Option<usize> {
        self.pending.iter().position(|p| p.module.id() == id)
    }

    /// Lists `m` as pending in `state` and asks for its index to be built on
    /// the build thread, unless it is indexed or pending already.
    fn defer(&mut self, m: &ModuleRef<'_>, state: ModState) -> Next {
        if self.position(m.id()).is_some() || self.pending_position(m.id()).is_some() {
            return Next::Done;
        }
        let (regions, region_count) = regions_of(m, 0..FIRST_INIT_TYPE);
        let entry = Pending {
            module: m.module_id(),
            name: ModName::new(m.name()),
            state,
            since: Instant::now(),
            table: m.core_table(),
            regions,
            region_count,
        };
        if self.pending.push(entry, GFP_KERNEL).is_err() {
            self.missed = true;
            return Next::Done;
        }
        // Only lists it: if this fails, the publication of its index will.
        let _ = self.publish();
        Next::Build
    }

    /// Publishes the current module list. On allocation failure the old
    /// snapshot stays published: callers must only have *added* to the list
    /// then (removals use [`Self::publish_or_clear`]).
    fn publish(&mut self) -> Result {
        self.published
            .publish(Snapshot::build(&self.modules, &self.pending)?)
    }

    /// Publishes after a removal. If the new snapshot cannot be allocated,
    /// unpublishes everything instead (lookups then answer `?` until the next
    /// successful publication) rather than leave a stale module visible.
    fn publish_or_clear(&mut self) {
        if self.publish().is_err() {
            pr_warn!("out of memory: index unpublished until the next module event\n");
            self.published.clear();
            self.missed = true;
        }
    }

    fn insert(&mut self, m: &ModuleRef<'_>, state: ModState) {
        if self.position(m.id()).is_some() {
            return;
        }
        let added = ModIndex::build(m, state)
            .and_then(|idx| Arc::new(idx, GFP_KERNEL).map_err(Into::into))
            .and_then(|idx| self.modules.push(idx, GFP_KERNEL).map_err(Into::into));
        if let Err(e) = added.and_then(|()| self.publish()) {
            // Keep the writer list equal to what is published.
            if let Some(p) = self.position(m.id()) {
                drop(self.modules.remove(p));
            }
            self.missed = true;
            pr_warn!(
                "cannot index {}: {:?}\n",
                kernel::str::BStr::from_bytes(m.name()),
                e
            );
        }
    }
}

impl ModuleEvents for Writer {
    type Built = (ModuleId, Result<ModIndex>);
    /// A published core index whose names are to be built.
    type FollowUp = Arc<TableIndex>;

    fn coming(&mut self, m: ModuleRef<'_>) -> Next {
        // The core index only: while COMING, init addresses are answered by
        // the kernel's scan of the init-time table.
        self.defer(&m, ModState::Coming)
    }

    fn live(&mut self, m: ModuleRef<'_>) -> Next {
        if let Some(p) = self.pending_position(m.id()) {
            if let Some(entry) = self.pending.get_mut(p) {
                entry.state = ModState::Live;
            }
            // Only the listed state changes: if this fails, the publication
            // of its index will show it.
            let _ = self.publish();
            return Next::Done;
        }
        let Some(p) = self.position(m.id()) else {
            // Not indexed yet (skipped at adoption while its COMING chain had
            // just finished, or an allocation failure at COMING).
            return self.defer(&m, ModState::Live);
        };
        let Some(old) = self.modules.get(p) else {
            return Next::Done;
        };
        let mut live = ModIndex::clone(old);
        live.state = ModState::Live;
        live.init = None;
        match Arc::new(live, GFP_KERNEL) {
            // The old entry (with the init part) stays alive in the old
            // snapshot until its grace period has elapsed.
            Ok(live) => {
                if let Some(slot) = self.modules.get_mut(p) {
                    *slot = live;
                }
            }
            // Cannot build the core-only entry: drop the module rather than
            // keep the init part past its lifetime.
            Err(_) => {
                drop(self.modules.remove(p));
                self.missed = true;
            }
        }
        self.publish_or_clear();
        Next::Done
    }

    fn going(&mut self, m: ModuleRef<'_>) {
        let pending = self
            .pending_position(m.id())
            .map(|p| self.pending.remove(p));
        let indexed = self.position(m.id()).map(|p| self.modules.remove(p));
        if pending.is_some() || indexed.is_some() {
            // Unpublish. Readers that found the module in the old snapshot
            // may still read its symbol tables: the kernel frees the module
            // only after a synchronize_rcu() that starts after this event.
            self.publish_or_clear();
        }
    }

    fn existing(&mut self, m: ModuleRef<'_>) {
        if self.pending_position(m.id()).is_some() {
            return;
        }
        let state = match m.state() {
            ModState::Coming => ModState::Coming,
            _ => ModState::Live,
        };
        self.insert(&m, state);
    }

    fn missed(&self) -> bool {
        self.missed
    }

    fn walked(&mut self) {
        self.missed = false;
        // Also publishes again after a failed `publish_or_clear`.
        self.publish_or_clear();
    }

    fn build(m: ModuleRef<'_>) -> Self::Built {
        let built = ModIndex::build(&m, ModState::Live);
        // After the build: the window between a build and its publication.
        let delay = crate::module_parameters::build_delay_ms.value();
        if delay > 0 {
            fsleep(Delta::from_millis(i64::from(delay)));
        }
        (m.module_id(), built)
    }

    fn built(&mut self, (module, built): Self::Built) -> Option<Self::FollowUp> {
        let p = self.pending_position(module.id())?;
        let entry = self.pending.remove(p).ok()?;
        let added = built.and_then(|mut idx| {
            idx.state = entry.state;
            idx.ready_ns = elapsed_ns(entry.since);
            let idx = Arc::new(idx, GFP_KERNEL)?;
            let core = idx.core.clone();
            self.modules.push(idx, GFP_KERNEL)?;
            self.publish().map(|()| core)
        });
        match added {
            // Acceleration switched on after the build looked (ModIndex::build)
            // and before this publication, so its catch-up (Registry::ensure_names)
            // did not see the module: build the names now. Read under the lock
            // the switch takes after setting it, so one of the two sees the other.
            Ok(core) => (EAGER_NAMES.load(Relaxed) && !core.has_names()).then_some(core),
            Err(e) => {
                if let Some(p) = self.position(module.id()) {
                    drop(self.modules.remove(p));
                }
                // Not listed as pending any more either: found again by the walk
                // after the next event.
                self.publish_or_clear();
                self.missed = true;
                pr_warn!(
                    "cannot index {}: {:?}\n",
                    kernel::str::BStr::from_bytes(entry.name()),
                    e
                );
                None
            }
        }
    }

    fn follow_up(core: Arc<TableIndex>) {
        // Without it the module's names are scanned, which is exact too.
        let _ = core.ensure_names();
    }
}

/// The registry: the published snapshot for readers, and the writer state
/// behind the module notifier.
///
/// Fields drop in order: the notifier first (no new events, waits for running
/// ones), then the published snapshot, whose box waits for every RCU callback
/// that frees an unpublished snapshot (`rcu_barrier()`).
#[pin_data]
pub(crate) struct Registry {
    #[pin]
    events: ModuleNotifier<Writer>,
    published: Arc<RcuBox<Snapshot>>,
}

impl Registry {
    /// An empty registry with its notifier registered for `this` (modsym);
    /// modules loaded before are added by [`Self::adopt_existing`].
    pub(crate) fn new(this: &'static ThisModule) -> Result<impl PinInit<Self, Error>> {
        let published = Arc::new(RcuBox::new(), GFP_KERNEL)?;
        let writer = Writer {
            modules: KVec::new(),
            pending: KVec::new(),
            published: published.clone(),
            missed: false,
        };
        Ok(try_pin_init!(Self {
            events <- ModuleNotifier::register(writer, this),
            published,
        }? Error))
    }

    /// Indexes the modules that were loaded before modsym.
    pub(crate) fn adopt_existing(&self) -> Result {
        self.events.adopt_existing()
    }

    /// Logs where the module list walk found the list head and which modules
    /// are indexed, for the selftests to check against `/proc/kallsyms` and
    /// `/proc/modules` (module parameter `log_walk`).
    pub(crate) fn log_walk(&self, this: &ThisModule) {
        let head = {
            let guard = rcu::read_lock();
            kmod::list_head(this, &guard).map_or(0, |h| h as usize)
        };
        pr_info!("walk: module list head at {:#x}\n", head);
        let w = self.lock();
        for m in w.modules.iter() {
            pr_info!(
                "walk: indexed {}\n",
                kernel::str::BStr::from_bytes(m.name())
            );
        }
    }

    /// Takes the writer lock (blocks module events).
    fn lock(&self) -> MutexGuard<'_, Events<Writer>> {
        self.events.lock()
    }

    /// The indexed modules, in load order. Their tables may only be read
    /// while a published snapshot holds them ([`Snapshot::publishes`]).
    pub(crate) fn indexed(&self) -> Result<KVec<Arc<ModIndex>>> {
        let w = self.lock();
        let mut list = KVec::with_capacity(w.modules.len(), GFP_KERNEL)?;
        for m in w.modules.iter() {
            list.push(m.clone(), GFP_KERNEL)?;
        }
        Ok(list)
    }

    /// Number of indexed modules and of indexed address entries.
    pub(crate) fn totals(&self) -> (usize, usize) {
        let guard = rcu::read_lock();
        self.snapshot(&guard).map_or((0, 0), |s| {
            (s.modules.len(), s.modules.iter().map(|m| m.indexed()).sum())
        })
    }

    /// The published snapshot, valid while `rcu` (the RCU read side) lives.
    pub(crate) fn snapshot<'a>(&'a self, rcu: &'a impl ReadSide) -> Option<&'a Snapshot> {
        self.published.get(rcu)
    }

    /// Appends the `0x<addr> <name>+0x<off>/0x<size> [<mod>]\n` or
    /// `0x<addr> ?\n` line for `addr` to `line`.
    ///
    /// Lockless (RCU only), allocation free, never sleeps. In the memory of
    /// a module no published index covers (COMING before modsym's notifier
    /// ran, between two events, or not indexed for lack of memory), the
    /// answer is the kernel's own linear scan ([`Self::resolve_by_scan`]).
    pub(crate) fn resolve_line(
        &self,
        addr: u64,
        line: &mut Line,
    ) -> core::result::Result<(), format::Overflow> {
        let guard = rcu::read_lock();
        let snap = self.snapshot(&guard);
        match snap.and_then(|s| s.resolve(addr)) {
            Some(r) => format::resolved(
                line,
                addr,
                r.name(),
                r.hit.offset,
                r.hit.size,
                r.module.name(),
            ),
            None if snap.is_some_and(|s| s.find(addr).is_some()) => format::unresolved(line, addr),
            None => Self::resolve_by_scan(&guard, addr, line),
        }
    }

    /// [`Self::resolve_line`] for an address no index covers: the module
    /// found on the module list and its current table scanned, like
    /// `module_address_lookup()`, in `O(modules + symtab)`. `?` if the list
    /// cannot be walked just now (a module is being added to it).
    fn resolve_by_scan(
        guard: &rcu::Guard,
        addr: u64,
        line: &mut Line,
    ) -> core::result::Result<(), format::Overflow> {
        let this = kernel::module::this_module::<crate::Modsym>();
        let found = kmod::module_at(this, guard, addr).ok().flatten();
        let scan = found.and_then(|m| {
            let (region, table) = m.kernel_scan_target(addr, guard, resolvable_type)?;
            Some((m, table, index::lookup_by_scan(&table, region, addr)?))
        });
        match scan {
            Some((m, table, hit)) => format::resolved(
                line,
                addr,
                table.name(hit.index as usize),
                hit.offset,
                hit.size,
                m.name(),
            ),
            None => format::unresolved(line, addr),
        }
    }

    /// Builds the name index of every LIVE indexed module that has none yet.
    ///
    /// Module events do not wait for the build: the writer lock is held only
    /// to take a reference on the next module ([`ModuleId::try_hold`]), which
    /// keeps its table alive while its index is built, one module at a time
    /// (a held module cannot be unloaded: `rmmod` of it fails meanwhile). A
    /// module that cannot be held (COMING, or GOING) keeps answering by a
    /// linear scan of its names ([`TableIndex::for_each_named`]).
    pub(crate) fn ensure_names(&self) -> Result {
        loop {
            let next = self
                .lock()
                .modules
                .iter()
                .filter(|m| !m.core.has_names())
                .find_map(|m| Some((m.core.clone(), m.module.try_hold()?)));
            let Some((core, _held)) = next else {
                return Ok(());
            };
            core.ensure_names()?;
        }
    }
}

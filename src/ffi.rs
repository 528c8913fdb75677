// SPDX-License-Identifier: GPL-2.0

//! The one place where modsym touches the kernel through raw bindings.
//!
//! Every `unsafe` block of the module lives in this file. It provides small
//! safe abstractions that the rest of the crate (registry, debugfs handlers,
//! verify/bench) is written against:
//!
//! - [`ModuleRef`]: a borrowed `struct module` (name, state, memory regions,
//!   symbol tables), handed out only where the module cannot be freed;
//! - [`KTable`]: a read-only [`SymbolTable`] view of a `struct mod_kallsyms`;
//! - [`ModuleNotifier`]: a module notifier dispatching COMING/LIVE/GOING to a
//!   [`ModuleEvents`] implementation;
//! - [`for_each_module`]: the RCU walk of the kernel's module list;
//! - [`RcuBox`]: an RCU-published pointer (`rcu_assign_pointer`/`rcu_dereference`),
//!   whose old values ([`Retired`]) are freed only after a grace period;
//! - [`DebugfsDir`] and [`SeqHandler`]: debugfs files with per-open state,
//!   writes and `seq_file` iteration;
//! - [`kernel_sprint_symbol`], [`capable_syslog`], [`cond_resched`].

use core::{
    marker::PhantomData,
    ptr::{self, NonNull},
    sync::atomic::{fence, AtomicPtr, Ordering},
};

use kernel::{
    bindings,
    ffi::{c_char, c_int, c_ulong, c_void},
    new_mutex,
    prelude::*,
    sync::{rcu, Arc, Mutex},
    types::Opaque,
    uaccess::{UserPtr, UserSlice},
    ThisModule,
};

use crate::index::{Region, SymbolTable};

/// Number of module memory types (`MOD_MEM_NUM_TYPES`).
pub(crate) const MEM_TYPES: usize = bindings::mod_mem_type_MOD_MEM_NUM_TYPES as usize;

/// First init memory type (`MOD_INIT_TEXT`); types below it are core memory.
pub(crate) const FIRST_INIT_TYPE: usize = bindings::mod_mem_type_MOD_INIT_TEXT as usize;

/// Whether memory type `t` is text (`mod_mem_type_is_text()`).
pub(crate) const fn is_text_type(t: usize) -> bool {
    t == bindings::mod_mem_type_MOD_TEXT as usize || t == FIRST_INIT_TYPE
}

/// Size of the buffer [`kernel_sprint_symbol`] writes to; larger than the
/// kernel's `KSYM_SYMBOL_LEN` (666 bytes on 64-bit).
pub(crate) const SYMBOL_BUF_LEN: usize = 1024;

/// Longest module name, `MODULE_NAME_LEN` including the NUL.
pub(crate) const MODULE_NAME_LEN: usize = 56;

/// Life cycle state of a module (`enum module_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ModState {
    /// `MODULE_STATE_LIVE`.
    Live,
    /// `MODULE_STATE_COMING`.
    Coming,
    /// `MODULE_STATE_GOING`.
    Going,
    /// `MODULE_STATE_UNFORMED` (or an unknown value).
    Unformed,
}

impl ModState {
    fn from_raw(v: bindings::module_state) -> Self {
        match v {
            bindings::module_state_MODULE_STATE_LIVE => Self::Live,
            bindings::module_state_MODULE_STATE_COMING => Self::Coming,
            bindings::module_state_MODULE_STATE_GOING => Self::Going,
            _ => Self::Unformed,
        }
    }
}

/// A read-only view of one `struct mod_kallsyms` (symtab, strtab, typetab).
///
/// # Invariants
///
/// The three arrays are the ones of a live module's `mod_kallsyms`:
/// `symtab` has `len` entries, each `st_name` indexes a NUL-terminated string
/// of `strtab`, and `typetab` has `len` bytes. The kernel never writes them
/// after the module was formed.
///
/// **Lifetime rule, upheld by `registry.rs`:** the memory belongs to the
/// module, not to this value. A `KTable` is created from a [`ModuleRef`] (so
/// the module is alive at that point) and must only be read while that module
/// is still alive: for the core table until the module's GOING notification
/// returns, for the init table until its LIVE notification returns, or inside
/// an RCU read-side critical section that began before then. The registry
/// reads tables only under its writer mutex (which the notifiers take) or
/// through an RCU-published snapshot, which the notifiers unpublish before
/// returning; the kernel frees module and init memory only after a
/// `synchronize_rcu()` that starts after those notifications.
#[derive(Clone, Copy)]
pub(crate) struct KTable {
    symtab: *const bindings::Elf64_Sym,
    len: usize,
    strtab: *const u8,
    typetab: *const u8,
}

// SAFETY: `KTable` is a read-only view of memory nobody writes (type invariant),
// so it can be shared and sent between threads.
unsafe impl Send for KTable {}
// SAFETY: See `Send` above.
unsafe impl Sync for KTable {}

impl KTable {
    fn sym(&self, i: usize) -> Option<&bindings::Elf64_Sym> {
        if i >= self.len {
            return None;
        }
        // SAFETY: `i < len` and `symtab` has `len` valid entries (type invariant).
        Some(unsafe { &*self.symtab.add(i) })
    }

    /// The `nm`-style type character of entry `i` (`'?'` if out of range).
    pub(crate) fn kind(&self, i: usize) -> u8 {
        if i >= self.len || self.typetab.is_null() {
            return b'?';
        }
        // SAFETY: `i < len` and `typetab` has `len` bytes (type invariant).
        unsafe { *self.typetab.add(i) }
    }

    /// Whether both views describe the same table.
    pub(crate) fn same_as(&self, other: &KTable) -> bool {
        ptr::eq(self.symtab, other.symtab)
    }
}

impl SymbolTable for KTable {
    fn len(&self) -> usize {
        self.len
    }

    fn value(&self, i: usize) -> u64 {
        self.sym(i).map_or(0, |s| s.st_value)
    }

    fn shndx(&self, i: usize) -> u16 {
        self.sym(i).map_or(0, |s| s.st_shndx)
    }

    fn name(&self, i: usize) -> &[u8] {
        let Some(sym) = self.sym(i) else {
            return &[];
        };
        let Ok(off) = usize::try_from(sym.st_name) else {
            return &[];
        };
        // SAFETY: `st_name` indexes a NUL-terminated string inside `strtab`
        // (type invariant; the loader checked the string table ends in NUL and
        // built the core table with `strscpy`).
        let name = unsafe { CStr::from_char_ptr(self.strtab.add(off)) };
        name.to_bytes()
    }

    /// Like the kernel: byte 0, and byte 1 only if byte 0 is not the NUL,
    /// without measuring the whole name (index builds call this per entry).
    fn name_head(&self, i: usize) -> [u8; 2] {
        let Some(off) = self.sym(i).and_then(|s| usize::try_from(s.st_name).ok()) else {
            return [0, 0];
        };
        // SAFETY: `st_name` indexes a NUL-terminated string inside `strtab`
        // (type invariant), so byte 0 is readable, and byte 1 is when byte 0
        // is not the terminator.
        let b0 = unsafe { *self.strtab.add(off) };
        if b0 == 0 {
            return [0, 0];
        }
        // SAFETY: As above: byte 0 is not the NUL, so the string goes on.
        [b0, unsafe { *self.strtab.add(off + 1) }]
    }
}

/// A borrowed `struct module`, valid for `'a`.
///
/// # Invariants
///
/// `ptr` points to a `struct module` that is not freed during `'a`: `'a` is
/// the duration of a module notifier callback for it, of an RCU read-side
/// critical section in which it was found on the module list, or of a
/// [`ModuleEvents::existing`] call (see [`ModuleNotifier::adopt_existing`]).
/// If `init_ok`, its init-time symbol table and init regions are not freed
/// during `'a` either (the LIVE notification has not returned).
#[derive(Clone, Copy)]
pub(crate) struct ModuleRef<'a> {
    ptr: NonNull<bindings::module>,
    init_ok: bool,
    _p: PhantomData<&'a bindings::module>,
}

impl<'a> ModuleRef<'a> {
    fn raw(&self) -> *mut bindings::module {
        self.ptr.as_ptr()
    }

    /// The same module without access to its init part (init table and init
    /// regions).
    pub(crate) fn without_init(self) -> Self {
        Self {
            init_ok: false,
            ..self
        }
    }

    /// Identity of the module: the address of its `struct module`.
    pub(crate) fn id(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// The module's name (without NUL).
    pub(crate) fn name(&self) -> &'a [u8] {
        // SAFETY: The module is alive for `'a` (type invariant); `name` is a
        // NUL-terminated array written before the module entered the list.
        let name = unsafe { &(*self.raw()).name };
        // SAFETY: `c_char` and `u8` have the same layout; the slice covers the same array.
        let bytes = unsafe { core::slice::from_raw_parts(name.as_ptr().cast::<u8>(), name.len()) };
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        bytes.get(..len).unwrap_or(&[])
    }

    /// The module's current state (`READ_ONCE(mod->state)`, then an acquire
    /// fence so that what was set up before the state change is visible).
    pub(crate) fn state(&self) -> ModState {
        // SAFETY: The module is alive (type invariant). The state can change
        // concurrently, so it is read once with a volatile read (`READ_ONCE`).
        let raw = unsafe { ptr::read_volatile(&raw const (*self.raw()).state) };
        fence(Ordering::Acquire);
        ModState::from_raw(raw)
    }

    /// Whether `mod_sysfs_setup()` has run for the module (`holders_dir` set).
    ///
    /// `load_module()` sets up sysfs only after `prepare_coming_module()`
    /// succeeded, i.e. after the COMING notifier chain ran without error.
    /// From then on every failure path and `delete_module()` call the GOING
    /// chain before freeing the module.
    pub(crate) fn coming_chain_done(&self) -> bool {
        // SAFETY: The module is alive (type invariant); the pointer is written
        // once, concurrently, so it is read with a volatile read (`READ_ONCE`).
        let dir = unsafe { ptr::read_volatile(&raw const (*self.raw()).holders_dir) };
        !dir.is_null()
    }

    /// Memory region of type `t` (`mod->mem[t]`), if `t` is valid and not empty.
    ///
    /// Core regions never change after the module was formed. Init regions are
    /// zeroed by `do_init_module()` after the LIVE notification, so they are
    /// only returned while that has not happened (`None` otherwise).
    pub(crate) fn region(&self, t: usize) -> Option<Region> {
        if t >= MEM_TYPES || (t >= FIRST_INIT_TYPE && !self.init_ok) {
            return None;
        }
        // SAFETY: The module is alive (type invariant) and `t < MOD_MEM_NUM_TYPES`.
        let mem = unsafe { &(*self.raw()).mem[t] };
        (mem.size != 0 && !mem.base.is_null()).then(|| Region::new(mem.base as u64, mem.size))
    }

    /// The core symbol table (`mod->core_kallsyms`), used after init.
    pub(crate) fn core_table(&self) -> KTable {
        // SAFETY: The module is alive (type invariant); `core_kallsyms` was
        // filled by `add_kallsyms()` before the module could be seen COMING.
        let k = unsafe { &(*self.raw()).core_kallsyms };
        Self::table(k)
    }

    /// The init-time full symbol table (`rcu_dereference(mod->kallsyms)`) if
    /// it is not yet switched to `core_kallsyms` and this reference may use
    /// it (the kernel frees it after the LIVE notification returned).
    pub(crate) fn init_table(&self) -> Option<KTable> {
        if !self.init_ok {
            return None;
        }
        // SAFETY: The module is alive (type invariant); the RCU pointer is read
        // once (`rcu_dereference`).
        let k = unsafe { ptr::read_volatile(&raw const (*self.raw()).kallsyms) };
        fence(Ordering::Acquire);
        // SAFETY: As above, taking the address of a field does not read it.
        let core = unsafe { &raw const (*self.raw()).core_kallsyms };
        if k.is_null() || ptr::eq(k.cast_const(), core) {
            return None;
        }
        // SAFETY: `k` is the module's init-time `mod_kallsyms`, valid until
        // init memory is freed, which happens after the LIVE notification
        // returned (`init_ok`, type invariant).
        Some(Self::table(unsafe { &*k }))
    }

    fn table(k: &bindings::mod_kallsyms) -> KTable {
        let len = if k.symtab.is_null() || k.strtab.is_null() {
            0
        } else {
            k.num_symtab as usize
        };
        // INVARIANT: the arrays of a formed module's `mod_kallsyms`.
        KTable {
            symtab: k.symtab.cast_const(),
            len,
            strtab: k.strtab.cast_const().cast::<u8>(),
            typetab: k.typetab.cast_const().cast::<u8>(),
        }
    }
}

/// Walks the kernel's module list under RCU, calling `f` for every module
/// that is not UNFORMED (the same filter as `module_get_kallsym()`).
///
/// The walk starts at `this` module's own list node (`modules` itself is not
/// exported) and skips the one node that is not inside a module: the
/// `modules` list head, which lives in vmlinux, not in module memory.
fn for_each_module(this: &ThisModule, _guard: &rcu::Guard, mut f: impl FnMut(ModuleRef<'_>)) {
    let offset = core::mem::offset_of!(bindings::module, list);
    // SAFETY: `this` is the calling module, alive while its code runs.
    let start = unsafe { &raw mut (*this.as_ptr()).list };
    let mut node = start;
    let mut steps = 0usize;
    while !node.is_null() && steps < 1_000_000 {
        steps += 1;
        // SAFETY: `node` is a list node reached under RCU, not yet freed.
        let in_module = unsafe { bindings::is_vmalloc_or_module_addr(node.cast::<c_void>()) } != 0;
        if in_module {
            let m = node
                .cast::<u8>()
                .wrapping_sub(offset)
                .cast::<bindings::module>();
            if let Some(ptr) = NonNull::new(m) {
                // INVARIANT: a module reached through the module list under
                // RCU is not freed before the read side ends (`free_module()`
                // unlinks with `list_del_rcu()` and waits for a grace period).
                // Its init table is not handed out (`init_ok: false`).
                let mref = ModuleRef {
                    ptr,
                    init_ok: false,
                    _p: PhantomData,
                };
                if mref.state() != ModState::Unformed {
                    f(mref);
                }
            }
        }
        // SAFETY: `node` is a list node reached under RCU (the first one is
        // our own); `next` is read once like `list_for_each_entry_rcu()`, and
        // `list_del_rcu()` keeps it valid for readers.
        node = unsafe { ptr::read_volatile(&raw const (*node).next) };
        if ptr::eq(node, start) {
            break;
        }
    }
}

/// What the kernel's module list says about the module whose memory holds
/// an address, see [`module_at`].
pub(crate) struct ModuleAt {
    /// [`ModuleRef::id`] of the module.
    pub(crate) id: usize,
    /// Its state.
    pub(crate) state: ModState,
    /// Whether the address is in one of its init regions.
    pub(crate) in_init: bool,
}

/// The module (not UNFORMED) whose memory contains `addr`, as the kernel's
/// module list sees it right now, like `__module_address()` (not exported).
///
/// Used by `verify` to tell a real disagreement from a module that is
/// between two states (the kernel resolves a COMING module before its COMING
/// notification, init memory after the LIVE one, a GOING module until it is
/// freed). Init region bounds are read racily: they are only compared.
pub(crate) fn module_at(addr: u64) -> Option<ModuleAt> {
    let this = kernel::module::this_module::<crate::Modsym>();
    let guard = rcu::read_lock();
    let mut found = None;
    for_each_module(this, &guard, |m| {
        if found.is_some() {
            return;
        }
        for t in 0..MEM_TYPES {
            // SAFETY: The module is alive during the walk (RCU). Init region
            // bounds can change concurrently: read once (`READ_ONCE`).
            let (base, size) = unsafe {
                let mem = &raw const (*m.raw()).mem[t];
                (
                    ptr::read_volatile(&raw const (*mem).base),
                    ptr::read_volatile(&raw const (*mem).size),
                )
            };
            if size != 0 && Region::new(base as u64, size).contains(addr) {
                found = Some(ModuleAt {
                    id: m.id(),
                    state: m.state(),
                    in_init: t >= FIRST_INIT_TYPE,
                });
                return;
            }
        }
    });
    found
}

/// Receiver of module life cycle events, see [`ModuleNotifier`].
///
/// Calls are serialised (the notifier's event lock), so an implementation
/// sees, per module, `existing` or `coming`, then `live`, then `going`, with
/// any of them possibly missing (a module can fail before its LIVE event, and
/// one found LIVE by [`ModuleNotifier::adopt_existing`] gets no `coming`).
pub(crate) trait ModuleEvents: Send + Sync + 'static {
    /// `MODULE_STATE_COMING`: the module is formed, its init has not run.
    fn coming(&self, m: ModuleRef<'_>);
    /// `MODULE_STATE_LIVE`: init succeeded; init memory is freed after return.
    fn live(&self, m: ModuleRef<'_>);
    /// `MODULE_STATE_GOING`: the module is freed after return.
    fn going(&self, m: ModuleRef<'_>);
    /// A module that was already loaded when the notifier was registered.
    /// It will get its `going` event (and `live`, if it is still in init)
    /// like any other.
    fn existing(&self, m: ModuleRef<'_>);
}

/// A registered module notifier (`register_module_notifier()`).
///
/// Every event is delivered with the notifier's event mutex held. Unregistered
/// on drop (which waits for running callbacks).
#[repr(C)]
#[pin_data(PinnedDrop)]
pub(crate) struct ModuleNotifier<T: ModuleEvents> {
    /// Must stay the first field: the callback casts the block back to `Self`.
    #[pin]
    nb: Opaque<bindings::notifier_block>,
    #[pin]
    events: Mutex<()>,
    handler: Arc<T>,
    registered: bool,
}

// SAFETY: The notifier block is only touched by the notifier chain (under
// its own lock) and by `register`/`drop`; everything else is `Send + Sync`.
unsafe impl<T: ModuleEvents> Send for ModuleNotifier<T> {}
// SAFETY: See `Send`: `&ModuleNotifier` gives no access to the block.
unsafe impl<T: ModuleEvents> Sync for ModuleNotifier<T> {}

impl<T: ModuleEvents> ModuleNotifier<T> {
    /// Creates the notifier and registers it.
    pub(crate) fn register(handler: Arc<T>) -> Result<Pin<KBox<Self>>> {
        let init = pin_init!(Self {
            nb <- Opaque::ffi_init(|slot: *mut bindings::notifier_block| {
                // SAFETY: `slot` is valid for writes (`ffi_init` contract).
                unsafe {
                    slot.write(bindings::notifier_block {
                        notifier_call: Some(Self::call),
                        next: ptr::null_mut(),
                        priority: 0,
                    })
                };
            }),
            events <- new_mutex!(()),
            handler,
            registered: false,
        });
        let mut this = KBox::pin_init(init, GFP_KERNEL)?;
        // SAFETY: `nb` is initialised and pinned inside `this`, which unregisters
        // it in its destructor before the memory goes away.
        let ret = unsafe { bindings::register_module_notifier(this.nb.get()) };
        kernel::error::to_result(ret)?;
        *this.as_mut().project().registered = true;
        Ok(this)
    }

    /// Delivers [`ModuleEvents::existing`] for every module already loaded
    /// that the notifier would otherwise not hear about, oldest first.
    ///
    /// Why no module is missed or freed under us (`register()` ran before):
    ///
    /// - The event mutex is held for the whole call, so any notification that
    ///   arrives meanwhile blocks until we are done, and is then delivered on
    ///   top of what we adopted (implementations dedupe by [`ModuleRef::id`]).
    /// - `register_module_notifier()` takes the chain's rwsem for writing, so
    ///   every chain call either completed before it (and its state change is
    ///   visible to us) or will include this notifier.
    /// - LIVE modules are adopted: a LIVE module is only freed by
    ///   `delete_module()`, which calls the GOING chain first, which blocks on
    ///   our mutex. Their init table is not used (`init_ok: false`): the LIVE
    ///   chain may already have run and the init memory may be being freed.
    /// - COMING modules are adopted with their init table only if the COMING
    ///   chain already succeeded for them ([`ModuleRef::coming_chain_done`]):
    ///   from then on every way out (failed init, failed load, unload) runs
    ///   the GOING chain before freeing, and their LIVE chain, which precedes
    ///   freeing the init memory, blocks on our mutex. Other COMING modules
    ///   are skipped: their COMING chain is yet to run (it includes us), or it
    ///   failed and they are freed without a GOING event, or it succeeded just
    ///   now and they get adopted by the `live` event later.
    /// - GOING and UNFORMED modules are skipped.
    pub(crate) fn adopt_existing(&self, this: &ThisModule) -> Result {
        let _events = self.events.lock();
        let mut capacity = 16usize;
        loop {
            let mut found: KVec<(NonNull<bindings::module>, bool)> =
                KVec::with_capacity(capacity, GFP_KERNEL)?;
            let mut overflow = false;
            {
                let guard = rcu::read_lock();
                for_each_module(this, &guard, |m| {
                    let init_ok = match m.state() {
                        ModState::Live => false,
                        ModState::Coming if m.coming_chain_done() => true,
                        _ => return,
                    };
                    if found.push_within_capacity((m.ptr, init_ok)).is_err() {
                        overflow = true;
                    }
                });
            }
            if overflow {
                capacity = capacity.saturating_mul(4);
                continue;
            }
            for &(ptr, init_ok) in found.iter().rev() {
                // INVARIANT: see the argument above: the module cannot pass its
                // GOING (nor, with `init_ok`, its LIVE) event while we hold the
                // event mutex, so it stays alive for the call.
                self.handler.existing(ModuleRef {
                    ptr,
                    init_ok,
                    _p: PhantomData,
                });
            }
            return Ok(());
        }
    }

    /// # Safety
    ///
    /// Called by the notifier chain with `nb` pointing to the `nb` field of a
    /// registered `ModuleNotifier<T>` and `data` to the `struct module` the
    /// event is about.
    unsafe extern "C" fn call(
        nb: *mut bindings::notifier_block,
        action: c_ulong,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: `Self` is `repr(C)` with `nb` (a transparent `Opaque`) first,
        // so the block's address is the notifier's; it is registered, hence alive.
        let this = unsafe { &*nb.cast_const().cast::<Self>() };
        let Some(ptr) = NonNull::new(data.cast::<bindings::module>()) else {
            return bindings::NOTIFY_DONE as c_int;
        };
        // INVARIANT: the module notifier chain passes a module that is not
        // freed before the callback returns; COMING and LIVE run before the
        // init memory is freed (`do_init_module()` frees it after the LIVE
        // chain; a failed load frees it after the GOING chain).
        let m = |init_ok| ModuleRef {
            ptr,
            init_ok,
            _p: PhantomData,
        };
        let _events = this.events.lock();
        match u32::try_from(action) {
            Ok(bindings::module_state_MODULE_STATE_COMING) => this.handler.coming(m(true)),
            Ok(bindings::module_state_MODULE_STATE_LIVE) => this.handler.live(m(true)),
            Ok(bindings::module_state_MODULE_STATE_GOING) => this.handler.going(m(false)),
            _ => {}
        }
        bindings::NOTIFY_OK as c_int
    }
}

#[pinned_drop]
impl<T: ModuleEvents> PinnedDrop for ModuleNotifier<T> {
    fn drop(self: Pin<&mut Self>) {
        if self.registered {
            // SAFETY: `nb` was registered by `register()` and is still pinned.
            unsafe { bindings::unregister_module_notifier(self.nb.get()) };
        }
    }
}

/// An owned `KBox<T>` published with RCU.
///
/// Readers get a `&T` valid for their RCU read-side critical section
/// ([`RcuBox::get`], `rcu_dereference()`); writers swap in a new value with
/// [`RcuBox::replace`] (`rcu_assign_pointer()`), which hands back the old one
/// as a [`Retired`] value instead of waiting for a grace period.
pub(crate) struct RcuBox<T: Send + Sync> {
    ptr: AtomicPtr<T>,
    _owns: PhantomData<KBox<T>>,
}

impl<T: Send + Sync> RcuBox<T> {
    /// An empty box.
    pub(crate) const fn new() -> Self {
        Self {
            ptr: AtomicPtr::new(ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// The published value, valid while `_guard` (the RCU read lock) is held.
    ///
    /// No lock, no allocation, no sleeping: usable from any context.
    pub(crate) fn get<'a>(&'a self, _guard: &'a rcu::Guard) -> Option<&'a T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: A non-null pointer was published by `replace()` from a
        // `KBox`, and is only freed by dropping the `Retired` value `replace()`
        // returned, which waits for a grace period that started after the
        // pointer was unpublished; the caller holds the RCU read lock
        // (`_guard`) and the returned borrow cannot outlive it.
        unsafe { p.as_ref() }
    }

    /// Publishes `new` and returns the previous value, which readers may
    /// still be using until a grace period has elapsed.
    pub(crate) fn replace(&self, new: Option<KBox<T>>) -> Option<Retired<T>> {
        let new_ptr = new.map_or(ptr::null_mut(), KBox::into_raw);
        let old = self.ptr.swap(new_ptr, Ordering::AcqRel);
        if old.is_null() {
            return None;
        }
        // SAFETY: FFI call without preconditions; taken after the swap, so
        // the grace period it names starts after `old` was unpublished.
        let cookie = unsafe { bindings::get_state_synchronize_rcu() };
        Some(Retired {
            ptr: old,
            cookie,
            _owns: PhantomData,
        })
    }
}

impl<T: Send + Sync> Drop for RcuBox<T> {
    fn drop(&mut self) {
        // No reader can hold a borrow of `self` any more; the lockless readers
        // of `get()` on other CPUs are waited for by dropping the old value.
        drop(self.replace(None));
    }
}

/// A value unpublished from an [`RcuBox`]: RCU readers may still use it until
/// the grace period that started when it was unpublished has elapsed.
///
/// Dropping it frees the value, first waiting for that grace period if it
/// has not elapsed yet (so dropping may sleep; [`Retired::expired`] says
/// whether it would). Writers keep retired values and drop them once expired,
/// so module loads never wait for a grace period.
pub(crate) struct Retired<T: Send + Sync> {
    ptr: *mut T,
    cookie: c_ulong,
    _owns: PhantomData<KBox<T>>,
}

// SAFETY: `Retired<T>` owns a `KBox<T>` (no one else dereferences `ptr`
// except RCU readers holding `&T`, and `T: Sync`), so it moves between
// threads like the box.
unsafe impl<T: Send + Sync> Send for Retired<T> {}

impl<T: Send + Sync> Retired<T> {
    /// Whether the grace period has elapsed: dropping will not wait.
    pub(crate) fn expired(&self) -> bool {
        // SAFETY: FFI call without preconditions.
        unsafe { bindings::poll_state_synchronize_rcu(self.cookie) }
    }
}

impl<T: Send + Sync> Drop for Retired<T> {
    fn drop(&mut self) {
        // SAFETY: FFI call; we are in process context (writers and module
        // exit drop retired values), where waiting is allowed.
        unsafe { bindings::cond_synchronize_rcu(self.cookie) };
        // SAFETY: `ptr` came from `KBox::into_raw()` in `RcuBox::replace()`
        // and is owned by `self` alone; it was unpublished before `cookie`
        // was taken and the grace period `cookie` names has elapsed, so every
        // reader that could have seen it has left its read-side section.
        drop(unsafe { KBox::from_raw(self.ptr) });
    }
}

/// `capable(CAP_SYSLOG)`: may the current task see kernel addresses?
pub(crate) fn capable_syslog() -> bool {
    // SAFETY: FFI call without preconditions.
    unsafe { bindings::capable(bindings::CAP_SYSLOG as c_int) }
}

/// `cond_resched()`.
pub(crate) fn cond_resched() {
    #[cfg(any(not(CONFIG_PREEMPTION), CONFIG_PREEMPT_DYNAMIC))]
    // SAFETY: FFI call without preconditions; we are in process context.
    unsafe {
        bindings::__cond_resched();
    }
}

/// The kernel's own answer for `addr`: `sprint_symbol()` into `buf`.
///
/// Returns the bytes written (`name+0xoff/0xsize [mod]` or `0x<addr>`).
pub(crate) fn kernel_sprint_symbol(addr: u64, buf: &mut [u8; SYMBOL_BUF_LEN]) -> &[u8] {
    let Ok(a) = c_ulong::try_from(addr) else {
        return &[];
    };
    // SAFETY: `buf` is larger than `KSYM_SYMBOL_LEN`, the most `sprint_symbol()` writes.
    let n = unsafe { bindings::sprint_symbol(buf.as_mut_ptr().cast(), a) };
    let n = usize::try_from(n).unwrap_or(0).min(buf.len());
    buf.get(..n).unwrap_or(&[])
}

/// Output of a `seq_file` show callback.
pub(crate) struct SeqOut<'a> {
    m: *mut bindings::seq_file,
    _p: PhantomData<&'a mut bindings::seq_file>,
}

impl SeqOut<'_> {
    /// Appends `bytes` (`seq_write()`; on overflow `seq_read()` retries with
    /// a larger buffer).
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        // SAFETY: `m` is the `seq_file` of the running show callback (type
        // invariant via the private constructor) and `bytes` is valid.
        unsafe { bindings::seq_write(self.m, bytes.as_ptr().cast(), bytes.len()) };
    }
}

impl core::fmt::Write for SeqOut<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write(s.as_bytes());
        Ok(())
    }
}

/// Per-open state of a debugfs file built on `seq_file`.
///
/// Every callback runs with the `seq_file`'s mutex held, so they never run
/// concurrently for one open file.
pub(crate) trait SeqHandler: Sized + Send + 'static {
    /// Shared data, passed to every callback.
    type Data: Send + Sync + 'static;
    /// Largest accepted write in bytes (`-E2BIG` beyond); 0 for read-only files.
    const MAX_WRITE: usize;
    /// Creates the per-open state (after the CAP_SYSLOG check).
    fn open(data: &Self::Data) -> Result<Self>;
    /// Prepares item `pos`; returns whether it exists.
    fn start(&mut self, data: &Self::Data, pos: u64) -> bool;
    /// Prints item `pos` (only called after `start`/`next` said it exists).
    fn show(&mut self, data: &Self::Data, pos: u64, out: &mut SeqOut<'_>);
    /// Handles one `write()` of `input` (at most `MAX_WRITE` bytes). Read-only
    /// files (`MAX_WRITE == 0`) have no write callback, so keep this default.
    fn write(&mut self, _data: &Self::Data, _input: &[u8]) -> Result {
        Err(EINVAL)
    }
}

/// What `seq_file::private` points to.
struct OpenFile<H: SeqHandler> {
    data: *const H::Data,
    handler: H,
}

/// Builds the `seq_operations`/`file_operations` of a [`SeqHandler`].
struct Ops<H: SeqHandler>(PhantomData<H>);

impl<H: SeqHandler> Ops<H> {
    const SEQ: bindings::seq_operations = bindings::seq_operations {
        start: Some(Self::start),
        stop: Some(Self::stop),
        next: Some(Self::next),
        show: Some(Self::show),
    };

    const FOPS: bindings::file_operations = bindings::file_operations {
        owner: kernel::module::this_module::<crate::Modsym>().as_ptr(),
        open: Some(Self::open),
        read: Some(bindings::seq_read),
        write: if H::MAX_WRITE > 0 {
            Some(Self::write)
        } else {
            None
        },
        llseek: Some(bindings::seq_lseek),
        release: Some(Self::release),
        // SAFETY: All-zero is a valid `file_operations` (no callbacks).
        ..unsafe { core::mem::zeroed() }
    };

    /// Token for item `pos`: non-NULL and never an `ERR_PTR`.
    fn token(pos: u64) -> *mut c_void {
        match usize::try_from(pos) {
            Ok(p) if p < (u32::MAX as usize) => ptr::without_provenance_mut(p + 1),
            _ => ptr::null_mut(),
        }
    }

    fn pos_of(token: *mut c_void) -> u64 {
        (token.addr() as u64).saturating_sub(1)
    }

    /// # Safety
    ///
    /// `m` is a `seq_file` opened by [`Self::open`], its mutex held by the caller.
    unsafe fn state<'a>(m: *mut bindings::seq_file) -> Option<(&'a H::Data, &'a mut H)> {
        // SAFETY: `private` was set by `open()` to a leaked `KBox<OpenFile<H>>`
        // that lives until `release()`; the seq_file mutex (held) serialises
        // all users, so the mutable borrow is unique.
        let f = unsafe { (*m).private.cast::<OpenFile<H>>().as_mut()? };
        // SAFETY: `data` is the debugfs file's data; the file's dentry holds it
        // alive (see `DebugfsDir`) and debugfs' proxy fops keep the file from
        // being removed while a callback runs.
        let data = unsafe { &*f.data };
        Some((data, &mut f.handler))
    }

    /// # Safety
    ///
    /// `open` callback of a debugfs file created by [`DebugfsDir::file`] for `H`.
    unsafe extern "C" fn open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        if !capable_syslog() {
            return EPERM.to_errno();
        }
        // SAFETY: `inode` is the debugfs inode; `i_private` is the `H::Data`
        // passed to `debugfs_create_file_full()`.
        let data = unsafe { (*inode).i_private.cast_const().cast::<H::Data>() };
        if data.is_null() {
            return ENODEV.to_errno();
        }
        // SAFETY: `data` is valid as long as the file exists (see above).
        let handler = match H::open(unsafe { &*data }) {
            Ok(h) => h,
            Err(e) => return e.to_errno(),
        };
        let state = match KBox::new(OpenFile { data, handler }, GFP_KERNEL) {
            Ok(b) => b,
            Err(_) => return ENOMEM.to_errno(),
        };
        // SAFETY: `file` is being opened; `SEQ` is a static table.
        let ret = unsafe { bindings::seq_open(file, &Self::SEQ) };
        if ret != 0 {
            return ret;
        }
        // SAFETY: `seq_open()` succeeded, so `private_data` is our `seq_file`.
        let m = unsafe { (*file).private_data.cast::<bindings::seq_file>() };
        // SAFETY: `m` is valid and not yet visible to any other callback.
        unsafe { (*m).private = KBox::into_raw(state).cast::<c_void>() };
        0
    }

    /// # Safety
    ///
    /// `release` callback of a file opened by [`Self::open`].
    unsafe extern "C" fn release(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `file` was opened by `open()`, so `private_data` is our `seq_file`.
        let m = unsafe { (*file).private_data.cast::<bindings::seq_file>() };
        if !m.is_null() {
            // SAFETY: `m` is valid until `seq_release()` below.
            let p = unsafe { (*m).private.cast::<OpenFile<H>>() };
            if !p.is_null() {
                // SAFETY: `p` came from `KBox::into_raw()` in `open()`; this is
                // the last callback of the file.
                drop(unsafe { KBox::from_raw(p) });
            }
        }
        // SAFETY: Releasing a file opened with `seq_open()`.
        unsafe { bindings::seq_release(inode, file) }
    }

    /// # Safety
    ///
    /// `seq_operations::start` of a file opened by [`Self::open`]: `m` is its
    /// `seq_file` with the mutex held, `pos` is valid.
    unsafe extern "C" fn start(
        m: *mut bindings::seq_file,
        pos: *mut bindings::loff_t,
    ) -> *mut c_void {
        // SAFETY: `pos` is valid (seq_file contract).
        let p = unsafe { *pos };
        let Ok(p) = u64::try_from(p) else {
            return ptr::null_mut();
        };
        // SAFETY: Called by `seq_read()` with the seq_file mutex held.
        let Some((data, h)) = (unsafe { Self::state(m) }) else {
            return ptr::null_mut();
        };
        if h.start(data, p) {
            Self::token(p)
        } else {
            ptr::null_mut()
        }
    }

    /// # Safety
    ///
    /// Same as [`Self::start`].
    unsafe extern "C" fn next(
        m: *mut bindings::seq_file,
        _v: *mut c_void,
        pos: *mut bindings::loff_t,
    ) -> *mut c_void {
        // SAFETY: `pos` is valid (seq_file contract).
        unsafe { *pos = (*pos).saturating_add(1) };
        // SAFETY: Same contract as `start`.
        unsafe { Self::start(m, pos) }
    }

    /// # Safety
    ///
    /// Same as [`Self::start`] (does nothing).
    unsafe extern "C" fn stop(_m: *mut bindings::seq_file, _v: *mut c_void) {}

    /// # Safety
    ///
    /// `seq_operations::show` of a file opened by [`Self::open`], mutex held.
    unsafe extern "C" fn show(m: *mut bindings::seq_file, v: *mut c_void) -> c_int {
        // SAFETY: Called by `seq_read()` with the seq_file mutex held.
        if let Some((data, h)) = unsafe { Self::state(m) } {
            let mut out = SeqOut { m, _p: PhantomData };
            h.show(data, Self::pos_of(v), &mut out);
        }
        0
    }

    /// # Safety
    ///
    /// `write` callback of a file opened by [`Self::open`]; `buf` is a user
    /// pointer to `count` bytes.
    unsafe extern "C" fn write(
        file: *mut bindings::file,
        buf: *const c_char,
        count: usize,
        _ppos: *mut bindings::loff_t,
    ) -> isize {
        if count > H::MAX_WRITE {
            return E2BIG.to_errno() as isize;
        }
        let mut input = KVVec::new();
        let user = UserSlice::new(UserPtr::from_ptr(buf.cast_mut().cast::<c_void>()), count);
        if let Err(e) = user.read_all(&mut input, GFP_KERNEL) {
            return e.to_errno() as isize;
        }
        // SAFETY: `file` was opened by `open()`, so `private_data` is our `seq_file`.
        let m = unsafe { (*file).private_data.cast::<bindings::seq_file>() };
        // SAFETY: `m` is valid while the file is open; its mutex serialises us
        // with `seq_read()`.
        unsafe { bindings::mutex_lock(&raw mut (*m).lock) };
        // SAFETY: The seq_file mutex is held.
        let ret = match unsafe { Self::state(m) } {
            Some((data, h)) => match h.write(data, &input) {
                Ok(()) => isize::try_from(count).unwrap_or(isize::MAX),
                Err(e) => e.to_errno() as isize,
            },
            None => ENODEV.to_errno() as isize,
        };
        // SAFETY: Locked above.
        unsafe { bindings::mutex_unlock(&raw mut (*m).lock) };
        ret
    }
}

/// A debugfs directory; removed (with its files) on drop.
///
/// Holds a reference to the data its files point to, so the data outlives
/// the files. Files pin the module while open (`.owner`), so the directory is
/// never dropped at module exit with a file open.
pub(crate) struct DebugfsDir<D: Send + Sync + 'static> {
    dentry: *mut bindings::dentry,
    data: Arc<D>,
}

// SAFETY: The dentry pointer is only used to remove the directory, which may
// happen on any thread; `Arc<D>` is `Send + Sync` for `D: Send + Sync`.
unsafe impl<D: Send + Sync + 'static> Send for DebugfsDir<D> {}
// SAFETY: See `Send`; `&DebugfsDir` only allows creating files.
unsafe impl<D: Send + Sync + 'static> Sync for DebugfsDir<D> {}

impl<D: Send + Sync + 'static> DebugfsDir<D> {
    /// Creates `/sys/kernel/debug/<name>/`, whose files will use `data`.
    pub(crate) fn new(name: &CStr, data: Arc<D>) -> Result<Self> {
        // SAFETY: `name` is NUL-terminated; NULL parent means the debugfs root.
        let dentry = unsafe { bindings::debugfs_create_dir(name.as_char_ptr(), ptr::null_mut()) };
        if dentry.is_null() || kernel::error::from_err_ptr(dentry).is_err() {
            return Err(ENODEV);
        }
        Ok(Self { dentry, data })
    }

    /// Creates file `name` with permissions `mode`, served by `H`.
    pub(crate) fn file<H: SeqHandler<Data = D>>(&self, name: &CStr, mode: u16) -> Result {
        let data = Arc::as_ptr(&self.data).cast_mut().cast::<c_void>();
        // SAFETY: `name` is NUL-terminated, `self.dentry` is our directory,
        // `data` outlives the file (the directory holds the `Arc` and removes
        // its files on drop), `FOPS` is a static table.
        let d = unsafe {
            bindings::debugfs_create_file_full(
                name.as_char_ptr(),
                mode,
                self.dentry,
                data,
                ptr::null(),
                &Ops::<H>::FOPS,
            )
        };
        if d.is_null() || kernel::error::from_err_ptr(d).is_err() {
            return Err(ENODEV);
        }
        Ok(())
    }
}

impl<D: Send + Sync + 'static> Drop for DebugfsDir<D> {
    fn drop(&mut self) {
        // SAFETY: `dentry` is our directory; removal is recursive and waits
        // for running file operations to finish.
        unsafe { bindings::debugfs_remove(self.dentry) };
    }
}

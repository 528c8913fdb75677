// SPDX-License-Identifier: GPL-2.0

//! Reading the kernel's `struct module`: name, state, memory regions, symbol
//! tables, and the module list.
//!
//! The one file that dereferences `struct module` and `struct mod_kallsyms`.
//! It hands out [`ModuleRef`] (a module that cannot be freed for a lifetime)
//! and [`KTable`] (a [`SymbolTable`] over a module's symtab); what may be read
//! when is argued on those types. Fields the kernel changes while others read
//! them are read with `READ_ONCE()`/`smp_load_acquire()` semantics through
//! [`Atomic::from_ptr`].

#![allow(unsafe_code)]

use core::{marker::PhantomData, ptr::NonNull};

use kernel::{
    bindings,
    ffi::c_void,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed},
        rcu,
    },
    ThisModule,
};

use crate::{
    index::{Region, SymbolTable},
    rcu::ReadSide,
};

/// Number of module memory types (`MOD_MEM_NUM_TYPES`).
pub(crate) const MEM_TYPES: usize = bindings::mod_mem_type_MOD_MEM_NUM_TYPES as usize;

/// First init memory type (`MOD_INIT_TEXT`); types below it are core memory.
pub(crate) const FIRST_INIT_TYPE: usize = bindings::mod_mem_type_MOD_INIT_TEXT as usize;

/// Core data (`MOD_DATA`), where the loader places `struct module` itself
/// (the `.gnu.linkonce.this_module` section).
const DATA_TYPE: usize = bindings::mod_mem_type_MOD_DATA as usize;

/// Whether memory type `t` is text (`mod_mem_type_is_text()`).
pub(crate) const fn is_text_type(t: usize) -> bool {
    t == bindings::mod_mem_type_MOD_TEXT as usize || t == FIRST_INIT_TYPE
}

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
    /// The state a notifier `action` announces, if it is one.
    pub(crate) fn from_raw(v: bindings::module_state) -> Self {
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
/// The three arrays are the ones of a formed module's `mod_kallsyms`:
/// `symtab` has `len` entries, each `st_name` indexes a NUL-terminated string
/// of `strtab`, and `typetab` has `len` bytes (or is NULL). Only `st_value`
/// is ever written after the module was formed: livepatch resolves a patch
/// module's `SHN_LIVEPATCH` symbols in `klp_resolve_symbols()`, in the
/// patch's init and whenever a module it patches loads, so `st_value` is read
/// with `READ_ONCE()` semantics.
///
/// **Lifetime rule, upheld by `registry.rs`:** the memory belongs to the
/// module, not to this value. A `KTable` is created from a [`ModuleRef`] (so
/// the module is alive at that point) and must only be read while that module
/// is still alive: for the core table until the module's GOING notification
/// returns, for the init table until its LIVE notification returns, or inside
/// an RCU read-side critical section that began before then. The registry
/// reads tables only under its writer lock (which the notifier takes for
/// every event) or through an RCU-published snapshot, which the notifier
/// handlers unpublish before returning; the kernel frees module and init
/// memory only after a `synchronize_rcu()` that starts after those
/// notifications.
#[derive(Clone, Copy)]
pub(crate) struct KTable {
    symtab: *mut bindings::Elf64_Sym,
    len: usize,
    strtab: *const u8,
    typetab: *const u8,
}

// SAFETY: `KTable` only reads memory that is either never written or read
// atomically (type invariant), so it can be shared and sent between threads.
unsafe impl Send for KTable {}
// SAFETY: See `Send` above.
unsafe impl Sync for KTable {}

impl KTable {
    /// A table without entries.
    pub(crate) const EMPTY: KTable = KTable {
        symtab: core::ptr::null_mut(),
        len: 0,
        strtab: core::ptr::null(),
        typetab: core::ptr::null(),
    };

    fn sym(&self, i: usize) -> Option<*mut bindings::Elf64_Sym> {
        // SAFETY: `i < len` and `symtab` has `len` entries (type invariant),
        // so the offset stays inside the array.
        (i < self.len).then(|| unsafe { self.symtab.add(i) })
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
        core::ptr::eq(self.symtab, other.symtab)
    }

    /// Where entry `i`'s NUL-terminated name starts (`strtab + st_name`), the
    /// pointer `find_kallsyms_symbol()` returns; `None` if out of range.
    ///
    /// Valid to read under the table's lifetime rule (see [`KTable`]).
    // Used by the ftrace hook (accel.rs), which not every kernel has.
    #[cfg_attr(
        not(all(CONFIG_DYNAMIC_FTRACE_WITH_ARGS, any(CONFIG_X86_64, CONFIG_ARM64))),
        expect(dead_code)
    )]
    pub(crate) fn name_ptr(&self, i: usize) -> Option<*const u8> {
        let off = self.name_offset(i)?;
        // No dereference here: the offset stays inside `strtab` (type
        // invariant), computed without `unsafe`.
        Some(self.strtab.wrapping_add(off))
    }

    fn name_offset(&self, i: usize) -> Option<usize> {
        let sym = self.sym(i)?;
        // SAFETY: `sym` is an entry of the table (type invariant); `st_name`
        // is never written after the module was formed.
        usize::try_from(unsafe { (*sym).st_name }).ok()
    }
}

impl SymbolTable for KTable {
    fn len(&self) -> usize {
        self.len
    }

    fn value(&self, i: usize) -> u64 {
        let Some(sym) = self.sym(i) else { return 0 };
        // SAFETY: `sym` is an entry of the table (type invariant), aligned
        // like every `Elf64_Sym`; livepatch may write `st_value` concurrently,
        // so it is read once, atomically (`READ_ONCE()`).
        unsafe { Atomic::from_ptr(&raw mut (*sym).st_value) }.load(Relaxed)
    }

    fn shndx(&self, i: usize) -> u16 {
        // SAFETY: `sym` is an entry of the table (type invariant); `st_shndx`
        // is never written after the module was formed.
        self.sym(i).map_or(0, |sym| unsafe { (*sym).st_shndx })
    }

    fn name(&self, i: usize) -> &[u8] {
        let Some(off) = self.name_offset(i) else {
            return &[];
        };
        // SAFETY: `st_name` indexes a NUL-terminated string inside `strtab`
        // (type invariant; the loader checked the string table ends in NUL and
        // built the core table with `strscpy`).
        let name = unsafe { CStr::from_char_ptr(self.strtab.add(off).cast()) };
        name.to_bytes()
    }

    /// Like the kernel: byte 0, and byte 1 only if byte 0 is not the NUL,
    /// without measuring the whole name (index builds call this per entry).
    fn name_head(&self, i: usize) -> [u8; 2] {
        let Some(off) = self.name_offset(i) else {
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

/// A module the registry remembers between events: its `struct module`.
///
/// Like a [`KTable`], it may only be used while the module is known to be
/// loaded: under the notifier's lock before the module's GOING event, or
/// under the RCU read lock of a snapshot that publishes it.
#[derive(Clone, Copy)]
pub(crate) struct ModuleId(NonNull<bindings::module>);

// SAFETY: Only the address is stored; it is dereferenced under the rule above,
// from any thread.
unsafe impl Send for ModuleId {}
// SAFETY: See `Send` above.
unsafe impl Sync for ModuleId {}

impl ModuleId {
    /// The address of the `struct module`, as [`ModuleRef::id`] gives it.
    pub(crate) fn id(&self) -> usize {
        self.0.as_ptr() as usize
    }

    /// A reference on the module (`try_module_get()`), if it is LIVE: while
    /// it is held, the module cannot be unloaded (short of a forced unload,
    /// which voids every holder's guarantee), so its core memory, and with
    /// it `core_kallsyms`, stays valid without any lock.
    ///
    /// `None` for a module that is not LIVE: a COMING module is freed without
    /// regard to its references if its init fails, a GOING one is leaving.
    pub(crate) fn try_hold(&self) -> Option<ModuleHold> {
        // SAFETY: The module is loaded (type rule); `try_module_get()` takes
        // a reference unless the module is already GOING.
        if !unsafe { bindings::try_module_get(self.0.as_ptr()) } {
            return None;
        }
        let held = ModuleHold(self.0);
        // SAFETY: As above; read like `ModuleRef::state`.
        let state = unsafe { Atomic::from_ptr(&raw mut (*self.0.as_ptr()).state) }.load(Acquire);
        // Dropping `held` puts the reference back.
        (ModState::from_raw(state) == ModState::Live).then_some(held)
    }
}

/// A reference on a LIVE module, from [`ModuleId::try_hold`] or
/// [`ModuleHold::this`]; put back on drop.
///
/// # Invariants
///
/// The reference was taken by `try_module_get()` or `__module_get()` and is
/// put once, on drop.
pub(crate) struct ModuleHold(NonNull<bindings::module>);

// SAFETY: A reference taken by one task may be put by any other.
unsafe impl Send for ModuleHold {}

impl ModuleHold {
    /// One more reference on `module`, the caller's own module, which must
    /// not be going away: the caller runs in it with a reference held
    /// already (one of its files open, for example). `None` if built in.
    pub(crate) fn this(module: &'static ThisModule) -> Option<Self> {
        let m = NonNull::new(module.as_ptr())?;
        // SAFETY: `m` is a loaded module that cannot be unloaded meanwhile
        // (above), which is all `__module_get()` needs.
        unsafe { bindings::__module_get(m.as_ptr()) };
        // INVARIANT: the reference just taken.
        Some(Self(m))
    }
}

impl Drop for ModuleHold {
    fn drop(&mut self) {
        // SAFETY: We own one reference (type invariant), which keeps the
        // module loaded until this call.
        unsafe { bindings::module_put(self.0.as_ptr()) };
    }
}

/// A borrowed `struct module`, valid for `'a`.
///
/// # Invariants
///
/// `ptr` points to a `struct module` that is not freed during `'a`: `'a` is
/// the duration of a module notifier callback for it, of an RCU read-side
/// critical section in which it was found on the module list (by modsym, or
/// by the kernel before it called `find_kallsyms_symbol()`), of the
/// adoption of already loaded modules under the notifier's event lock, or of
/// a build deferred by an event for it, which its GOING event waits for (see
/// `notifier.rs`). If `init_ok`, its init-time symbol table and init regions
/// are not freed during `'a` either (the LIVE notification has not returned).
#[derive(Clone, Copy)]
pub(crate) struct ModuleRef<'a> {
    ptr: NonNull<bindings::module>,
    init_ok: bool,
    _p: PhantomData<&'a bindings::module>,
}

impl ModuleRef<'_> {
    /// # Safety
    ///
    /// `ptr` satisfies the type invariants for the caller-chosen lifetime,
    /// the init part too if `init_ok`.
    pub(crate) unsafe fn from_raw(ptr: NonNull<bindings::module>, init_ok: bool) -> Self {
        // INVARIANT: guaranteed by the caller.
        Self {
            ptr,
            init_ok,
            _p: PhantomData,
        }
    }

    /// The `struct module` pointer, to be turned back into a `ModuleRef`
    /// only under the conditions of [`ModuleRef::from_raw`].
    pub(crate) fn as_raw(&self) -> NonNull<bindings::module> {
        self.ptr
    }

    fn raw(&self) -> *mut bindings::module {
        self.ptr.as_ptr()
    }

    /// Identity of the module: the address of its `struct module`.
    pub(crate) fn id(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// The module, for the registry to keep (see [`ModuleId`]'s rule).
    pub(crate) fn module_id(&self) -> ModuleId {
        ModuleId(self.ptr)
    }

    /// The module's name (without NUL).
    pub(crate) fn name(&self) -> &[u8] {
        // SAFETY: The module is alive (type invariant); `name` is a
        // NUL-terminated array written before the module entered the list.
        let name = unsafe { &(*self.raw()).name };
        // SAFETY: `c_char` and `u8` have the same layout; the slice covers the same array.
        let bytes = unsafe { core::slice::from_raw_parts(name.as_ptr().cast::<u8>(), name.len()) };
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        bytes.get(..len).unwrap_or(&[])
    }

    /// The module's current state (`smp_load_acquire(&mod->state)`, so that
    /// what was set up before the state change is visible).
    pub(crate) fn state(&self) -> ModState {
        // SAFETY: The module is alive (type invariant); the loader changes the
        // state concurrently, so it is read atomically.
        let raw = unsafe { Atomic::from_ptr(&raw mut (*self.raw()).state) }.load(Acquire);
        ModState::from_raw(raw)
    }

    /// Whether `mod_sysfs_setup()` has run for the module (`holders_dir` set).
    ///
    /// `load_module()` sets up sysfs only after `prepare_coming_module()`
    /// succeeded, i.e. after the COMING notifier chain ran without error.
    /// From then on every failure path and `delete_module()` call the GOING
    /// chain before freeing the module.
    ///
    /// Without `CONFIG_SYSFS` nothing marks that point (`holders_dir` stays
    /// NULL, and no other field changes after the chain on every config):
    /// this says `false`, and a module that is COMING when modsym loads is
    /// indexed at its LIVE event instead, never if its init does not return.
    pub(crate) fn coming_chain_done(&self) -> bool {
        // SAFETY: The module is alive (type invariant); the pointer is written
        // once, concurrently, so it is read atomically (`READ_ONCE()`).
        let dir = unsafe { Atomic::from_ptr(&raw mut (*self.raw()).holders_dir) }.load(Relaxed);
        !dir.is_null()
    }

    /// Base and size of memory type `t` (`mod->mem[t]`), read once each.
    ///
    /// Init regions are zeroed by `do_init_module()` after the LIVE
    /// notification, concurrently with readers that are not [`Self::init_ok`].
    fn mem(&self, t: usize) -> Option<(u64, u32)> {
        if t >= MEM_TYPES {
            return None;
        }
        // SAFETY: The module is alive (type invariant) and `t < MOD_MEM_NUM_TYPES`.
        let mem = unsafe { &raw mut (*self.raw()).mem[t] };
        // SAFETY: `mem` is valid (above); both fields are read atomically
        // because init regions are cleared concurrently.
        let base = unsafe { Atomic::from_ptr(&raw mut (*mem).base) }.load(Relaxed);
        // SAFETY: As above.
        let size = unsafe { Atomic::from_ptr(&raw mut (*mem).size) }.load(Relaxed);
        Some((base as u64, size))
    }

    /// Memory region of type `t` (`mod->mem[t]`), if `t` is valid and not empty.
    ///
    /// Core regions never change after the module was formed. Init regions
    /// are only returned while they may be used (`None` otherwise).
    pub(crate) fn region(&self, t: usize) -> Option<Region> {
        if t >= FIRST_INIT_TYPE && !self.init_ok {
            return None;
        }
        let (base, size) = self.mem(t)?;
        (size != 0 && base != 0).then(|| Region::new(base, size))
    }

    /// The memory type whose region holds `addr` right now, init regions
    /// included whatever `init_ok` says (racy, but only compared).
    pub(crate) fn mem_type_of(&self, addr: u64) -> Option<usize> {
        (0..MEM_TYPES).find(|&t| {
            self.mem(t)
                .is_some_and(|(base, size)| size != 0 && Region::new(base, size).contains(addr))
        })
    }

    /// What the kernel's `find_kallsyms_symbol()` scans for `addr` right
    /// now: the region of the first memory type that holds `addr` among
    /// those `resolvable` accepts, and the table `rcu_dereference(mod->kallsyms)`
    /// (the init-time table while the module is COMING, `core_kallsyms` once
    /// it is LIVE).
    ///
    /// Reads the init part whatever `init_ok` says, like the kernel: the
    /// module was found on the module list (or by the kernel, for its own
    /// lookups) inside the read-side critical section `rcu` proves, and the
    /// kernel frees module and init memory (with the init-time table) only
    /// after a grace period; use the result only while `rcu` lives.
    ///
    /// Calls nothing traceable (atomic loads are Rust helpers, which ftrace
    /// does not instrument): the replacement of `find_kallsyms_symbol()` uses it.
    pub(crate) fn kernel_scan_target(
        &self,
        addr: u64,
        rcu: &impl ReadSide,
        resolvable: impl Fn(usize) -> bool,
    ) -> Option<(Region, KTable)> {
        let region = (0..MEM_TYPES).filter(|&t| resolvable(t)).find_map(|t| {
            let (base, size) = self.mem(t)?;
            let r = Region::new(base, size);
            (size != 0 && r.contains(addr)).then_some(r)
        })?;
        Some((region, self.kernel_table(rcu)?))
    }

    /// The table the kernel's lookups scan right now,
    /// `rcu_dereference(mod->kallsyms)`: the init-time table while the
    /// module is COMING, `core_kallsyms` once it is LIVE. Use it only while
    /// `_rcu` lives (see [`Self::kernel_scan_target`]).
    ///
    /// Calls nothing traceable: the replacements of the kernel's lookups use it.
    pub(crate) fn kernel_table(&self, _rcu: &impl ReadSide) -> Option<KTable> {
        // SAFETY: The module is alive (type invariant); the RCU pointer is
        // read once with acquire semantics (`rcu_dereference()`).
        let k = unsafe { Atomic::from_ptr(&raw mut (*self.raw()).kallsyms) }.load(Acquire);
        if k.is_null() {
            return None;
        }
        // SAFETY: `k` is the module's current `mod_kallsyms`, core or
        // init-time, not freed before the read side `_rcu` proves ends
        // (the module was found inside it, see `kernel_scan_target()`).
        Some(unsafe { Self::table(k) })
    }

    /// The core symbol table (`mod->core_kallsyms`), used after init.
    pub(crate) fn core_table(&self) -> KTable {
        // SAFETY: The module is alive (type invariant); `core_kallsyms` was
        // filled by `add_kallsyms()` before the module could be seen COMING.
        let k = unsafe { &raw mut (*self.raw()).core_kallsyms };
        // SAFETY: `k` points to the module's core `mod_kallsyms` (above).
        unsafe { Self::table(k) }
    }

    /// The init-time full symbol table (`rcu_dereference(mod->kallsyms)`) if
    /// it is not yet switched to `core_kallsyms` and this reference may use
    /// it (the kernel frees it after the LIVE notification returned).
    pub(crate) fn init_table(&self) -> Option<KTable> {
        if !self.init_ok {
            return None;
        }
        // SAFETY: The module is alive (type invariant); the RCU pointer is
        // read once with acquire semantics (`rcu_dereference()`).
        let k = unsafe { Atomic::from_ptr(&raw mut (*self.raw()).kallsyms) }.load(Acquire);
        // SAFETY: As above, taking the address of a field does not read it.
        let core = unsafe { &raw mut (*self.raw()).core_kallsyms };
        if k.is_null() || core::ptr::eq(k, core) {
            return None;
        }
        // SAFETY: `k` is the module's init-time `mod_kallsyms`, valid until
        // init memory is freed, which happens after the LIVE notification
        // returned (`init_ok`, type invariant).
        Some(unsafe { Self::table(k) })
    }

    /// # Safety
    ///
    /// `k` points to a formed module's `mod_kallsyms` that is valid for as
    /// long as the returned table is used (see [`KTable`]'s lifetime rule).
    unsafe fn table(k: *mut bindings::mod_kallsyms) -> KTable {
        // SAFETY: `k` is valid (caller); the fields are set before the module
        // is formed and not changed afterwards.
        let k = unsafe { &*k };
        let len = if k.symtab.is_null() || k.strtab.is_null() {
            0
        } else {
            k.num_symtab as usize
        };
        // INVARIANT: the arrays of a formed module's `mod_kallsyms`.
        KTable {
            symtab: k.symtab,
            len,
            strtab: k.strtab.cast_const().cast::<u8>(),
            typetab: k.typetab.cast_const().cast::<u8>(),
        }
    }

    /// Whether this is a module the loader formed, not the `modules` list
    /// head (which lives in vmlinux, and on arm64 in the vmalloc area, so that
    /// its address alone does not tell): its page-aligned core data
    /// (`MOD_DATA`, where `.gnu.linkonce.this_module` goes) holds the
    /// `struct module`, and, with `CONFIG_MODULES_TREE_LOOKUP`, its
    /// `mem[MOD_TEXT].mtn.mod` points back at it. The head's bytes can pass
    /// the first test by chance (seen on arm64: a "size" of 0xffff8000); the
    /// self-pointer they cannot. `mod_tree_insert()` sets it right after
    /// `list_add_rcu()`, so a module just added may fail this for a moment:
    /// [`for_each_module`] then reports the list as busy.
    ///
    /// Until then, nothing here is known to be a `struct module`: around the
    /// head, these bytes belong to other variables of vmlinux, which KASAN
    /// would report reading. They are read with [`read_unchecked`].
    fn is_module(&self) -> bool {
        let id = self.id() as u64;
        let m = self.raw().cast::<u8>();
        let mem = |t: usize| {
            core::mem::offset_of!(bindings::module, mem)
                + t * core::mem::size_of::<bindings::module_memory>()
        };
        let base_at = mem(DATA_TYPE) + core::mem::offset_of!(bindings::module_memory, base);
        let size_at = mem(DATA_TYPE) + core::mem::offset_of!(bindings::module_memory, size);
        // SAFETY: Addresses inside the `struct module` at `m`, if it is one,
        // else in vmlinux's data around the list head (see `module_of()`).
        let (base, size) = unsafe {
            (
                read_unchecked(m.wrapping_add(base_at).cast::<*mut c_void>()),
                read_unchecked(m.wrapping_add(size_at).cast::<u32>()),
            )
        };
        let holds = match (base, size) {
            (Some(base), Some(size)) => {
                let base = base as u64;
                base % kernel::page::PAGE_SIZE as u64 == 0 && Region::new(base, size).contains(id)
            }
            _ => false,
        };
        #[cfg(CONFIG_MODULES_TREE_LOOKUP)]
        let names_itself = {
            let back_at = mem(bindings::mod_mem_type_MOD_TEXT as usize)
                + core::mem::offset_of!(bindings::module_memory, mtn)
                + core::mem::offset_of!(bindings::mod_tree_node, mod_);
            // SAFETY: As above.
            let back =
                unsafe { read_unchecked(m.wrapping_add(back_at).cast::<*mut bindings::module>()) };
            back.is_some_and(|b| core::ptr::eq(b, self.raw()))
        };
        #[cfg(not(CONFIG_MODULES_TREE_LOOKUP))]
        let names_itself = true;
        holds && names_itself
    }
}

/// Reads a `T` at `src`, which may not be what the caller takes it for, with
/// `copy_from_kernel_nofault()`: neither KASAN nor a fault stops the read
/// (`None` if the memory is not readable). Naturally aligned fields of up to
/// 8 bytes are read in one load, as `READ_ONCE()` does.
///
/// # Safety
///
/// `src` is a kernel address; any bit pattern is a valid `T`.
unsafe fn read_unchecked<T: Copy>(src: *const T) -> Option<T> {
    let mut value = core::mem::MaybeUninit::<T>::uninit();
    // SAFETY: `value` has room for a `T`; the source is only read, by a
    // function that checks it can be.
    let ret = unsafe {
        bindings::copy_from_kernel_nofault(
            value.as_mut_ptr().cast::<c_void>(),
            src.cast::<c_void>(),
            core::mem::size_of::<T>(),
        )
    };
    // SAFETY: Filled in (`ret == 0`), and any bit pattern is a `T` (caller).
    (ret == 0).then(|| unsafe { value.assume_init() })
}

/// What a walk of the module list found, see [`for_each_module`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Walk {
    /// Every module was reported.
    Done,
    /// The list head could not be told apart (a module was being added):
    /// nothing was reported; walk again after leaving the RCU read side.
    Busy,
}

/// Walks the kernel's module list under RCU, calling `f` for every module
/// that is not UNFORMED (the filter of `module_get_kallsym()`), in list
/// order (newest first), until `f` returns an error.
///
/// `modules`, the list head, is not exported: the walk starts at `this`
/// module's own node and goes once around the list; the head is the one
/// node that is not a module ([`ModuleRef::is_module`]). If there is not
/// exactly one such node, [`Walk::Busy`] is returned before `f` is called.
pub(crate) fn for_each_module<'g, E>(
    this: &ThisModule,
    guard: &'g rcu::Guard,
    mut f: impl FnMut(ModuleRef<'g>) -> Result<(), E>,
) -> Result<Walk, E> {
    let Some(head) = list_head(this, guard) else {
        return Ok(Walk::Busy);
    };
    // SAFETY: `head` was reached under `guard`.
    let mut node = unsafe { next_node(head) };
    while !node.is_null() && !core::ptr::eq(node, head) {
        // SAFETY: `node` was reached under `guard`.
        if let Some(m) = unsafe { module_of(node) } {
            if m.state() != ModState::Unformed {
                f(m)?;
            }
        }
        // SAFETY: As above.
        node = unsafe { next_node(node) };
    }
    Ok(Walk::Done)
}

/// The module (not UNFORMED) whose memory holds `addr` right now, like
/// `__module_address()` (not exported), found under `guard`. `Err(Walk::Busy)`
/// if the list could not be walked just now (a module was being added).
pub(crate) fn module_at<'g>(
    this: &ThisModule,
    guard: &'g rcu::Guard,
    addr: u64,
) -> Result<Option<ModuleRef<'g>>, Walk> {
    let mut found = None;
    let walk = for_each_module(this, guard, |m| {
        if m.mem_type_of(addr).is_none() {
            return Ok(());
        }
        found = Some(m);
        Err(())
    });
    match walk {
        Ok(Walk::Busy) => Err(Walk::Busy),
        _ => Ok(found),
    }
}

/// The module list's head (`modules` in vmlinux, not exported): the one node
/// around the list, starting from `this` module's own, that is not a module.
/// `None` if there is not exactly one (see [`ModuleRef::is_module`]).
pub(crate) fn list_head(
    this: &ThisModule,
    _guard: &rcu::Guard,
) -> Option<*mut bindings::list_head> {
    // SAFETY: `this` is the calling module, alive while its code runs.
    let start = unsafe { &raw mut (*this.as_ptr()).list };
    let mut node = start;
    let mut head = None;
    // A bound instead of trusting the list to be circular.
    for _ in 0..1_000_000 {
        // SAFETY: `node` is our own node or was reached from it under `_guard`.
        if unsafe { module_of(node) }.is_none() {
            if head.is_some() {
                return None;
            }
            head = Some(node);
        }
        // SAFETY: As above.
        node = unsafe { next_node(node) };
        if node.is_null() {
            return None;
        }
        if core::ptr::eq(node, start) {
            return head;
        }
    }
    None
}

/// `node->next`, read once like `list_for_each_entry_rcu()` does.
///
/// # Safety
///
/// `node` is a node of the module list reached under the RCU read lock,
/// which is still held.
unsafe fn next_node(node: *mut bindings::list_head) -> *mut bindings::list_head {
    // SAFETY: `node` is not freed yet (caller): `list_del_rcu()` keeps `next`
    // valid for readers.
    unsafe { Atomic::from_ptr(&raw mut (*node).next) }.load(Acquire)
}

/// The module whose `list` member is `node`, or `None` for the list head.
///
/// # Safety
///
/// As [`next_node`]; the module is used only while the RCU read lock is held.
unsafe fn module_of<'a>(node: *mut bindings::list_head) -> Option<ModuleRef<'a>> {
    // SAFETY: The call only compares the address.
    let in_module = unsafe { bindings::is_vmalloc_or_module_addr(node.cast::<c_void>()) } != 0;
    if !in_module {
        return None;
    }
    let offset = core::mem::offset_of!(bindings::module, list);
    let ptr = NonNull::new(
        node.cast::<u8>()
            .wrapping_sub(offset)
            .cast::<bindings::module>(),
    )?;
    // INVARIANT: a module reached through the module list under RCU is not
    // freed before the read side ends (`free_module()` unlinks with
    // `list_del_rcu()` and waits for a grace period). The head is told apart
    // by `is_module()` before anything else is read. The init part is not
    // handed out (`init_ok: false`).
    let m = ModuleRef {
        ptr,
        init_ok: false,
        _p: PhantomData,
    };
    m.is_module().then_some(m)
}

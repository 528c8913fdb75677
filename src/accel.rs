// SPDX-License-Identifier: GPL-2.0

//! Acceleration: the kernel's own module address lookups answered from
//! modsym's index.
//!
//! The kernel resolves a module address (`%pS`, `sprint_symbol()`, stack
//! traces, `available_filter_functions`, kprobes' `lookup_module_symbol_name()`)
//! with `find_kallsyms_symbol()` (kernel/module/kallsyms.c), a static function
//! that scans the module's whole symtab. Switched on, an ftrace hook with
//! `FTRACE_OPS_FL_IPMODIFY` on that function's ftrace site resumes every call
//! of it in a replacement with the same signature and the same answer
//! ([`registry::kernel_answer`]): from modsym's index where it has one for the
//! very table and region the kernel would scan, else by the same linear scan.
//! Switched off, the hook is removed and the kernel scans again. Off by
//! default: loading modsym alone changes nothing in the kernel.
//!
//! Needs `CONFIG_DYNAMIC_FTRACE_WITH_ARGS` on x86_64 or arm64; elsewhere
//! switching on is refused with `EOPNOTSUPP`. The one file that touches
//! ftrace: the hook, the replacement, and the check at switch-on.

#![allow(unsafe_code)]

use kernel::{
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc,
    },
};

use crate::registry::Registry;

/// Why switching on was refused: the error returned to the writer, and a
/// sentence for the log and the `accelerate` file.
#[derive(Clone, Copy)]
pub(crate) struct Refusal {
    /// The error.
    pub(crate) error: Error,
    /// Why.
    pub(crate) why: &'static str,
}

impl Refusal {
    /// The error's name, also without `CONFIG_SYMBOLIC_ERRNAME` (whose
    /// absence makes `Error`'s `Debug` print a number).
    pub(crate) fn error_name(&self) -> &'static str {
        [
            (EOPNOTSUPP, "EOPNOTSUPP"),
            (ENOENT, "ENOENT"),
            (EINVAL, "EINVAL"),
            (EBUSY, "EBUSY"),
            (EIO, "EIO"),
            (ENOMEM, "ENOMEM"),
        ]
        .iter()
        .find(|(e, _)| *e == self.error)
        .map_or("error", |(_, name)| name)
    }
}

/// What the `accelerate` file shows.
pub(crate) struct Status {
    /// Whether the kernel's lookups go through modsym.
    pub(crate) on: bool,
    /// The last refusal to switch on, if the last attempt failed.
    pub(crate) refusal: Option<Refusal>,
    /// Lookups answered by an index since switched on.
    pub(crate) indexed: u64,
    /// Lookups answered by a linear scan since switched on.
    pub(crate) scanned: u64,
}

/// The switch, behind [`SWITCH`].
struct State {
    /// The registry the replacement reads, from [`Accel::new`] to its drop.
    reg: Option<Arc<Registry>>,
    on: bool,
    refusal: Option<Refusal>,
}

kernel::sync::global_lock! {
    // SAFETY: Initialized by `Accel::new()`, once per load of the module,
    // before the debugfs files (the only other users) exist.
    unsafe(uninit) static SWITCH: Mutex<State> = State {
        reg: None,
        on: false,
        refusal: None,
    };
}

/// Whether [`SWITCH`] is initialized.
static READY: Atomic<bool> = Atomic::new(false);

/// The acceleration switch of the module instance: off until `accelerate`
/// is written, and switched off when dropped.
pub(crate) struct Accel(());

impl Accel {
    /// The switch, off, for `reg`.
    pub(crate) fn new(reg: Arc<Registry>) -> Result<Self> {
        if READY.load(Relaxed) {
            return Err(EBUSY);
        }
        // SAFETY: Called once per load of the module: `READY` was false, and
        // only this function sets it, from module init.
        unsafe { SWITCH.init() };
        READY.store(true, Release);
        SWITCH.lock().reg = Some(reg);
        Ok(Self(()))
    }
}

impl Drop for Accel {
    fn drop(&mut self) {
        let mut s = SWITCH.lock();
        if s.on {
            if let Err(e) = hook::off() {
                // The hook may still reach this module: keep what it reads.
                pr_err!("cannot switch acceleration off ({:?})\n", e);
                core::mem::forget(s.reg.take());
                return;
            }
            s.on = false;
        }
        s.reg = None;
    }
}

/// Switches acceleration on or off. Switching on is refused, with a message
/// in the log and in [`status`], when the kernel does not allow it (see
/// [`hook::on`]); switching off never fails in practice.
pub(crate) fn set(on: bool) -> Result {
    if !READY.load(Acquire) {
        return Err(ENODEV);
    }
    let mut s = SWITCH.lock();
    if s.on == on {
        return Ok(());
    }
    if !on {
        hook::off()?;
        s.on = false;
        pr_info!("acceleration off\n");
        return Ok(());
    }
    let Some(reg) = s.reg.clone() else {
        return Err(ENODEV);
    };
    match hook::on(&reg) {
        Ok(()) => {
            s.on = true;
            s.refusal = None;
            pr_info!("acceleration on: find_kallsyms_symbol() answers from modsym's index\n");
            Ok(())
        }
        Err(r) => {
            pr_info!("acceleration refused ({}): {}\n", r.error_name(), r.why);
            s.refusal = Some(r);
            // Normally off again; on if the hook could not be removed.
            s.on = hook::registered();
            Err(r.error)
        }
    }
}

/// The switch's state, and the lookups the replacement answered.
pub(crate) fn status() -> Status {
    let (indexed, scanned) = hook::counts();
    if !READY.load(Acquire) {
        return Status {
            on: false,
            refusal: None,
            indexed,
            scanned,
        };
    }
    let s = SWITCH.lock();
    Status {
        on: s.on,
        refusal: s.refusal,
        indexed,
        scanned,
    }
}

/// Without `CONFIG_DYNAMIC_FTRACE_WITH_ARGS` (or on another architecture):
/// nothing to hook with.
#[cfg(not(all(CONFIG_DYNAMIC_FTRACE_WITH_ARGS, any(CONFIG_X86_64, CONFIG_ARM64))))]
mod hook {
    use super::Refusal;
    use crate::registry::Registry;
    use kernel::{prelude::*, sync::Arc};

    pub(super) fn on(_reg: &Arc<Registry>) -> Result<(), Refusal> {
        Err(Refusal {
            error: EOPNOTSUPP,
            why: "needs CONFIG_DYNAMIC_FTRACE_WITH_ARGS on x86_64 or arm64",
        })
    }

    pub(super) fn off() -> Result {
        Ok(())
    }

    pub(super) fn registered() -> bool {
        false
    }

    pub(super) fn counts() -> (u64, u64) {
        (0, 0)
    }
}

/// The ftrace hook on `find_kallsyms_symbol()`.
///
/// Safety of the whole (see also the design notes in the README):
///
/// - Everything the hook reaches in this module ([`handler`],
///   [`replacement`], the registry's snapshot and modsym's index memory) is
///   kept until no call can be in it: [`off`] unregisters the ops, which
///   waits for every task in the trampoline or the handler (RCU tasks, as
///   for every dynamic ops), then waits for a grace period, which covers
///   every call of the replacement: each runs inside its caller's RCU
///   read-side section, from before the trampoline to its return.
/// - The replacement calls nothing traceable (Rust code is not instrumented
///   for ftrace, and the atomics are Rust helpers, which are not either), so
///   it cannot recurse into the hook; `FTRACE_OPS_FL_RECURSION` has ftrace
///   guard the handler, and where ftrace skips it, the original runs, which
///   is exact too.
#[cfg(all(CONFIG_DYNAMIC_FTRACE_WITH_ARGS, any(CONFIG_X86_64, CONFIG_ARM64)))]
mod hook {
    use core::ptr::{self, NonNull};

    use kernel::{
        bindings,
        ffi::{c_char, c_int, c_ulong},
        prelude::*,
        sync::{
            atomic::{Acquire, Atomic, Relaxed, Release},
            rcu, Arc,
        },
        types::Opaque,
    };

    use super::Refusal;
    use crate::{
        kcall::{self, SYMBOL_BUF_LEN},
        kmod::ModuleRef,
        parse,
        rcu::CallerHolds,
        registry::{self, Registry},
    };

    /// The function replaced.
    const TARGET_NAME: &[u8] = b"find_kallsyms_symbol";

    /// Most functions the search for [`TARGET_NAME`] steps over in each
    /// direction from its anchor (about 110 in the test kernels).
    const WALK_STEPS: usize = 20_000;

    /// The ftrace ops, at a fixed address: ftrace links it into its lists
    /// while it is registered.
    struct Ops(Opaque<bindings::ftrace_ops>);

    // SAFETY: The ops is written only by `on()` and `off()`, which the
    // switch's lock serializes, while ftrace does not use it (before
    // registering, after unregistering), and by ftrace itself, under its own
    // locks.
    unsafe impl Sync for Ops {}

    static OPS: Ops = Ops(Opaque::zeroed());

    /// Start and size of `find_kallsyms_symbol()`: the handler redirects
    /// calls of that function only.
    static TARGET: Atomic<usize> = Atomic::new(0);
    static TARGET_SIZE: Atomic<usize> = Atomic::new(0);

    /// The registry the replacement reads: set by `on()` before the hook is
    /// registered, cleared by `off()` (or a failed `on()`) once no call can
    /// still use it. Null: the replacement scans.
    static REGISTRY: Atomic<*const Registry> = Atomic::new(ptr::null());

    /// Whether the ops is registered (`on()` succeeded in registering it and
    /// `off()` has not unregistered it yet).
    static REGISTERED: Atomic<bool> = Atomic::new(false);

    /// A failed registration left the ops in ftrace's hands (ftrace disabled
    /// itself meanwhile): it must never be zeroed or registered again.
    static STUCK: Atomic<bool> = Atomic::new(false);

    /// Lookups answered by an index, and by a scan, since the last `on()`.
    static INDEXED: Atomic<u64> = Atomic::new(0);
    static SCANNED: Atomic<u64> = Atomic::new(0);

    /// A refusal.
    const fn refuse(error: Error, why: &'static str) -> Refusal {
        Refusal { error, why }
    }

    /// The lookups the replacement answered since the last `on()`: by an
    /// index, by a scan.
    pub(super) fn counts() -> (u64, u64) {
        (INDEXED.load(Relaxed), SCANNED.load(Relaxed))
    }

    /// Hooks `find_kallsyms_symbol()`, after checking that it can be done:
    /// the function is found out of line (`ENOENT` otherwise), has an ftrace
    /// site (`EINVAL`), is not modified by another ftrace user already
    /// (`EBUSY`), and, once hooked, `sprint_symbol()` of modsym's own
    /// symbols is unchanged and goes through the replacement (`EIO`: then
    /// the hook is removed again).
    ///
    /// Called with the switch's lock held, while the hook is off.
    pub(super) fn on(reg: &Arc<Registry>) -> Result<(), Refusal> {
        if STUCK.load(Relaxed) {
            return Err(refuse(
                ENODEV,
                "ftrace disabled itself during an earlier attempt",
            ));
        }
        let mut buf = KBox::new([0u8; SYMBOL_BUF_LEN], GFP_KERNEL)
            .map_err(|_| refuse(ENOMEM, "out of memory"))?;
        let (start, size) = find_target(&mut buf)
            .ok_or(refuse(ENOENT, "find_kallsyms_symbol not found out of line"))?;
        let before = canary(&mut buf).map_err(|_| refuse(ENOMEM, "out of memory"))?;

        let ops = OPS.0.get();
        // SAFETY: The hook is off: the ops is not registered (not `STUCK`),
        // and `off()` (or a failed `on()`) freed its filter, so ftrace holds
        // no reference to it and nothing else writes it (the switch's lock). Zeroed, it is a
        // fresh ops again, which ftrace initializes on first use.
        unsafe {
            ptr::write_bytes(ops, 0, 1);
            (*ops).func = Some(handler);
            (*ops).flags =
                (bindings::FTRACE_OPS_FL_IPMODIFY | bindings::FTRACE_OPS_FL_RECURSION) as c_ulong;
        }
        TARGET.store(start, Relaxed);
        TARGET_SIZE.store(size, Relaxed);
        // SAFETY: `ops` is a valid, unregistered ops (above); `start` is only
        // looked up among ftrace's records.
        let ret = unsafe { bindings::ftrace_set_filter_ip(ops, start as c_ulong, 0, 1) };
        if ret != 0 {
            // SAFETY: `ops` is not registered; this frees what the call above
            // may have allocated.
            unsafe { bindings::ftrace_free_filter(ops) };
            return Err(match Error::from_errno(ret) {
                e if e == EINVAL => refuse(EINVAL, "no ftrace site on find_kallsyms_symbol"),
                e => refuse(e, "cannot set the ftrace filter on find_kallsyms_symbol"),
            });
        }

        INDEXED.store(0, Relaxed);
        SCANNED.store(0, Relaxed);
        // Published before the hook can run (registering is a full barrier,
        // and the replacement loads it with acquire).
        REGISTRY.store(Arc::as_ptr(reg), Release);
        // SAFETY: `ops` is a valid ops with a filter of one function and a
        // handler that stays valid until it is unregistered (see `off()`).
        let ret = unsafe { bindings::register_ftrace_function(ops) };
        if ret != 0 {
            unhook_failed(ops, ret);
            return Err(match Error::from_errno(ret) {
                e if e == EBUSY => refuse(
                    EBUSY,
                    "find_kallsyms_symbol is already modified by another ftrace user (livepatch?)",
                ),
                e => refuse(e, "register_ftrace_function failed"),
            });
        }

        REGISTERED.store(true, Relaxed);

        // The canary: the same answers as before, and through the replacement.
        let same = canary(&mut buf).map(|after| after == before);
        let (indexed, scanned) = counts();
        let refusal = match same {
            Ok(true) if indexed + scanned > 0 => return Ok(()),
            Ok(true) => refuse(
                EIO,
                "find_kallsyms_symbol's calls do not reach the replacement",
            ),
            Ok(false) => refuse(EIO, "replacement disagrees with the kernel"),
            Err(_) => refuse(ENOMEM, "out of memory"),
        };
        if let Err(e) = off() {
            // Still registered: `registered()` says so, and the switch
            // stays on until `off()` succeeds.
            pr_err!("cannot remove the hook after a failed check ({:?})\n", e);
        }
        Err(refusal)
    }

    /// Whether the hook is registered: after a successful `on()`, and after
    /// a refused one whose hook could not be removed again.
    pub(super) fn registered() -> bool {
        REGISTERED.load(Relaxed)
    }

    /// After `register_ftrace_function()` failed with `ret`: ftrace rolled
    /// the ops back, but its handler may have run meanwhile (ftrace lists an
    /// ops before it checks it): wait for those calls before the registry
    /// pointer goes, then free the filter.
    fn unhook_failed(ops: *mut bindings::ftrace_ops, ret: c_int) {
        rcu::synchronize_rcu();
        REGISTRY.store(ptr::null(), Release);
        // With ftrace disabled (ENODEV) the ops may still be listed: it
        // then stays as it is, filter included, and is never used again.
        if ret == ENODEV.to_errno() {
            STUCK.store(true, Relaxed);
        } else {
            // SAFETY: The ops is not registered (the registration failed and
            // was rolled back).
            unsafe { bindings::ftrace_free_filter(ops) };
        }
    }

    /// Removes the hook; afterwards no call is in the handler or the
    /// replacement and the registry is no longer read.
    ///
    /// Called with the switch's lock held, while the hook is on.
    pub(super) fn off() -> Result {
        let ops = OPS.0.get();
        // SAFETY: `ops` is registered (the hook is on). Unregistering a
        // dynamic ops waits until no task is in its trampoline or handler.
        let ret = unsafe { bindings::unregister_ftrace_function(ops) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        REGISTERED.store(false, Relaxed);
        // Every call of the replacement runs inside its caller's RCU
        // read-side section: after this grace period none is left.
        rcu::synchronize_rcu();
        REGISTRY.store(ptr::null(), Release);
        // SAFETY: `ops` is unregistered; its filter hashes are no longer used.
        unsafe { bindings::ftrace_free_filter(ops) };
        Ok(())
    }

    /// Start and size of the vmlinux function named [`TARGET_NAME`], found
    /// with `sprint_symbol()` (the kernel's own lookups of such a static
    /// function are not exported): from `register_module_notifier()`, in
    /// kernel/module/main.c, which the linker places before
    /// kernel/module/kallsyms.c, step from function to function (the next
    /// starts where this one ends: `addr - offset + size`), forward, then
    /// backward. `None` if it is not found as an out-of-line function of
    /// exactly that name: inlined, or renamed by the compiler
    /// (`.constprop`, `.isra`, `.llvm.*`), whose calling convention may then
    /// differ.
    fn find_target(buf: &mut [u8; SYMBOL_BUF_LEN]) -> Option<(usize, usize)> {
        let anchor = bindings::register_module_notifier as *const () as usize;
        let mut addr = anchor;
        for step in 0..WALK_STEPS {
            let (start, size, hit) = function_at(addr, buf)?;
            if hit {
                return Some((start, size));
            }
            addr = start.checked_add(size)?;
            if step % 512 == 511 {
                kcall::cond_resched();
            }
        }
        addr = anchor;
        for step in 0..WALK_STEPS {
            let (start, size, hit) = function_at(addr, buf)?;
            if hit {
                return Some((start, size));
            }
            addr = start.checked_sub(1)?;
            if step % 512 == 511 {
                kcall::cond_resched();
            }
        }
        None
    }

    /// The vmlinux symbol covering `addr`: its start, its size (non-zero)
    /// and whether it is [`TARGET_NAME`]. `None` for a module address, an
    /// address no symbol covers, or an empty symbol.
    fn function_at(addr: usize, buf: &mut [u8; SYMBOL_BUF_LEN]) -> Option<(usize, usize, bool)> {
        let line = kcall::sprint_symbol(addr as u64, buf);
        let sym = parse::parse_symbol_line(line)?;
        if sym.module.is_some() || sym.size == 0 {
            return None;
        }
        let start = addr.checked_sub(usize::try_from(sym.offset).ok()?)?;
        Some((
            start,
            usize::try_from(sym.size).ok()?,
            sym.name == TARGET_NAME,
        ))
    }

    /// `sprint_symbol()` of addresses in modsym: functions (at their start
    /// and inside) and data (resolved with `CONFIG_KALLSYMS_ALL`, printed
    /// as a bare address without).
    fn canary(buf: &mut [u8; SYMBOL_BUF_LEN]) -> Result<KVec<KVec<u8>>> {
        let addrs = [
            replacement as *const () as usize,
            replacement as *const () as usize + 1,
            handler as *const () as usize,
            find_target as *const () as usize + 4,
            (&raw const OPS) as usize,
            (&raw const REGISTRY) as usize,
        ];
        let mut out = KVec::with_capacity(addrs.len(), GFP_KERNEL)?;
        for addr in addrs {
            let mut line = KVec::new();
            line.extend_from_slice(kcall::sprint_symbol(addr as u64, buf), GFP_KERNEL)?;
            out.push(line, GFP_KERNEL)?;
        }
        Ok(out)
    }

    /// The ftrace handler: resumes a call of `find_kallsyms_symbol()` in
    /// [`replacement`], with the caller's arguments and return address
    /// untouched (what livepatch's handler does, without its per-task
    /// transition: both functions are exact at every instant).
    ///
    /// # Safety
    ///
    /// Called by ftrace for [`OPS`] at the ftrace site of the function
    /// containing `ip`, with `fregs` the registers the trampoline saved.
    unsafe extern "C" fn handler(
        ip: c_ulong,
        _parent_ip: c_ulong,
        _op: *mut bindings::ftrace_ops,
        fregs: *mut bindings::ftrace_regs,
    ) {
        // The filter holds only `find_kallsyms_symbol()`; checked anyway, so
        // that no other function could ever be sent to the replacement.
        let (start, size) = (TARGET.load(Relaxed), TARGET_SIZE.load(Relaxed));
        if fregs.is_null() || ip.wrapping_sub(start) >= size {
            return;
        }
        let regs = fregs.cast::<bindings::__arch_ftrace_regs>();
        let to: c_ulong = replacement as *const () as usize;
        // SAFETY: With `CONFIG_DYNAMIC_FTRACE_WITH_ARGS`, `fregs` points to
        // the trampoline's `__arch_ftrace_regs` (`arch_ftrace_regs()` is this
        // cast), and the trampoline resumes at the instruction pointer saved
        // there once the handlers return (arch/x86/kernel/ftrace_64.S,
        // "Handlers can change the RIP"). This is
        // `ftrace_regs_set_instruction_pointer()`, a macro on x86_64.
        #[cfg(CONFIG_X86_64)]
        unsafe {
            (*regs).regs.ip = to
        };
        // SAFETY: As above; on arm64 the trampoline returns to the saved
        // `pc` (arch/arm64/kernel/entry-ftrace.S, `ret x9`), which
        // `ftrace_regs_set_instruction_pointer()`, an inline, writes.
        #[cfg(CONFIG_ARM64)]
        unsafe {
            (*regs).pc = to
        };
    }

    /// The replacement of `find_kallsyms_symbol(mod, addr, size, offset)`
    /// (kernel/module/kallsyms.c): the same signature and the same answer,
    /// [`registry::kernel_answer`]. Returns the name (`strtab + st_name` of
    /// the symbol found, the very pointer the original returns) or NULL, and
    /// writes `*size` and `*offset` only for an answer, and only where they
    /// are not NULL, as the original does.
    ///
    /// Runs wherever the original runs (NMI, IRQ, oops): no lock, no
    /// allocation, no sleeping, no printing, nothing traceable.
    ///
    /// # Safety
    ///
    /// Called in place of `find_kallsyms_symbol()` by one of its callers:
    /// `m` is a module the caller found under the RCU read lock it holds
    /// across the call; `size` and `offset` are NULL or valid for writes.
    unsafe extern "C" fn replacement(
        m: *mut bindings::module,
        addr: c_ulong,
        size: *mut c_ulong,
        offset: *mut c_ulong,
    ) -> *const c_char {
        let Some(m) = NonNull::new(m) else {
            return ptr::null();
        };
        // SAFETY: Both callers hold the RCU read lock across the call:
        // `module_address_lookup()` (kernel/module/kallsyms.c:340,
        // `guard(rcu)()`) and `lookup_module_symbol_name()` (:360); the
        // value stays in this function.
        let rcu = unsafe { CallerHolds::assume() };
        // SAFETY: The caller found `m` under that read lock (with
        // `__module_address()`, or on the module list), and the kernel frees
        // a module only after a grace period; the reference is used in this
        // call only. The init part is not handed out.
        let module = unsafe { ModuleRef::from_raw(m, false) };
        let reg = REGISTRY.load(Acquire);
        // SAFETY: A non-null pointer points to the registry the switch keeps
        // alive (its `Arc`) until after `off()`, which clears the pointer
        // only once no call of this function is left.
        let reg = unsafe { reg.as_ref() };
        let answer = registry::kernel_answer(reg, &module, addr as u64, &rcu);
        if answer.indexed {
            INDEXED.add(1, Relaxed);
        } else {
            SCANNED.add(1, Relaxed);
        }
        let Some((table, hit)) = answer.found else {
            return ptr::null();
        };
        let Some(name) = table.name_ptr(hit.index as usize) else {
            return ptr::null();
        };
        if !size.is_null() {
            // SAFETY: Not NULL, so valid for writes (the caller).
            unsafe { *size = hit.size as c_ulong };
        }
        if !offset.is_null() {
            // SAFETY: As above.
            unsafe { *offset = hit.offset as c_ulong };
        }
        name.cast()
    }
}

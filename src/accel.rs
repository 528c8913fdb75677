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
//! Name lookups (`mod:sym` in kprobes and BPF, `module_kallsyms_lookup_name()`
//! and `find_kallsyms_symbol_value()`) are replaced the same way where the
//! kernel has `__find_kallsyms_symbol_value()` out of line, answered from the
//! name index ([`registry::kernel_value_answer`]), which is built for every
//! module while acceleration is on; else only address lookups are.
//!
//! Needs `CONFIG_DYNAMIC_FTRACE_WITH_ARGS` on x86_64 or arm64; elsewhere
//! switching on is refused with `EOPNOTSUPP`. The one file that touches
//! ftrace: the hook, the replacements, and the check at switch-on.

#![allow(unsafe_code)]

use kernel::{
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Relaxed, Release},
        Arc,
    },
    ThisModule,
};

use crate::{
    kmod::ModuleHold,
    registry::{self, Registry},
};

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
    /// Name lookups: replaced (`Ok`) or why not, while on.
    pub(crate) names: Result<(), &'static str>,
    /// Name lookups answered by a name index since switched on.
    pub(crate) names_indexed: u64,
    /// Name lookups answered by a linear scan since switched on.
    pub(crate) names_scanned: u64,
}

/// The switch, behind [`SWITCH`].
struct State {
    /// The registry the replacement reads, from [`Accel::new`] to its drop.
    reg: Option<Arc<Registry>>,
    /// modsym itself, whose symbols the check at switch-on looks up.
    this: Option<&'static ThisModule>,
    on: bool,
    refusal: Option<Refusal>,
    /// While on: name lookups replaced, or why not.
    names: Result<(), &'static str>,
    /// A reference on modsym while the hook may reach it, see
    /// [`State::hold_while_hooked`].
    hold: Option<ModuleHold>,
}

kernel::sync::global_lock! {
    // SAFETY: Initialized by `Accel::new()`, once per load of the module,
    // before the debugfs files (the only other users) exist.
    unsafe(uninit) static SWITCH: Mutex<State> = State {
        reg: None,
        this: None,
        on: false,
        refusal: None,
        names: Err(NAMES_OFF),
        hold: None,
    };
}

/// Why name lookups are not replaced while acceleration is off.
const NAMES_OFF: &str = "acceleration is off";

/// Whether [`SWITCH`] is initialized.
static READY: Atomic<bool> = Atomic::new(false);

/// The acceleration switch of the module instance: off until `accelerate`
/// is written, and switched off when dropped.
pub(crate) struct Accel(());

impl Accel {
    /// The switch, off, for `reg` and modsym (`this`).
    pub(crate) fn new(reg: Arc<Registry>, this: &'static ThisModule) -> Result<Self> {
        if READY.load(Relaxed) {
            return Err(EBUSY);
        }
        // SAFETY: Called once per load of the module: `READY` was false, and
        // only this function sets it, from module init.
        unsafe { SWITCH.init() };
        READY.store(true, Release);
        let mut s = SWITCH.lock();
        s.reg = Some(reg);
        s.this = Some(this);
        Ok(Self(()))
    }
}

impl Drop for Accel {
    fn drop(&mut self) {
        let mut s = SWITCH.lock();
        // modsym is held while the hook may reach it, so its exit, and this
        // drop, come only once the hook is gone.
        if hook::reachable() {
            pr_err!("module exit with the acceleration hook in place\n");
        }
        s.reg = None;
    }
}

/// Switches acceleration on or off. Switching on is refused, with a message
/// in the log and in [`status`], when the kernel does not allow it (see
/// [`hook::on`]); switching off never fails in practice.
///
/// While on, modsym holds a reference on itself, so that `rmmod modsym` is
/// refused ("in use") until acceleration is off, as livepatch holds a patch
/// module while it is enabled.
pub(crate) fn set(on: bool) -> Result {
    if !READY.load(Acquire) {
        return Err(ENODEV);
    }
    let mut s = SWITCH.lock();
    let switched = s.switch(on);
    s.hold_while_hooked();
    switched
}

impl State {
    /// [`set`], with the switch's lock held.
    fn switch(&mut self, on: bool) -> Result {
        if self.on == on {
            return Ok(());
        }
        if on {
            return self.switch_on();
        }
        hook::off()?;
        self.on = false;
        self.names = Err(NAMES_OFF);
        registry::set_eager_names(false);
        pr_info!("acceleration off\n");
        Ok(())
    }

    /// Holds modsym exactly while the hook may reach its code and data
    /// ([`hook::reachable`]): its exit would free them under the hook, which
    /// module exit cannot refuse to do. Taken after the hook is registered,
    /// which is safe: the write that registers it holds modsym already (its
    /// file is open).
    fn hold_while_hooked(&mut self) {
        match (hook::reachable(), self.hold.is_some(), self.this) {
            (true, false, Some(this)) => self.hold = ModuleHold::this(this),
            (false, true, _) => self.hold = None,
            _ => {}
        }
    }

    /// Switches on, from off.
    fn switch_on(&mut self) -> Result {
        let (Some(reg), Some(this)) = (self.reg.clone(), self.this) else {
            return Err(ENODEV);
        };
        // Name indexes for every module, before the hook can ask for them: from
        // now on each index build makes one, and the modules indexed before get
        // theirs here. Where one is missing (no memory, or a module being
        // indexed meanwhile), the replacement scans.
        registry::set_eager_names(true);
        if let Err(e) = reg.ensure_names() {
            pr_warn!(
                "name indexes not all built ({:?}): those modules are scanned\n",
                e
            );
        }
        match hook::on(&reg, this) {
            Ok(names) => {
                self.on = true;
                self.refusal = None;
                self.names = names;
                match names {
                    Ok(()) => pr_info!(
                        "acceleration on: find_kallsyms_symbol() and __find_kallsyms_symbol_value() answer from modsym's index\n"
                    ),
                    Err(why) => pr_info!(
                        "acceleration on: find_kallsyms_symbol() answers from modsym's index; name lookups not: {}\n",
                        why
                    ),
                }
                Ok(())
            }
            Err(r) => {
                pr_info!("acceleration refused ({}): {}\n", r.error_name(), r.why);
                self.refusal = Some(r);
                // Normally off again; on if the hook could not be removed.
                self.on = hook::registered();
                if !self.on {
                    registry::set_eager_names(false);
                }
                Err(r.error)
            }
        }
    }
}

/// The switch's state, and the lookups the replacement answered.
pub(crate) fn status() -> Status {
    let c = hook::counts();
    let mut st = Status {
        on: false,
        refusal: None,
        indexed: c.indexed,
        scanned: c.scanned,
        names: Err(NAMES_OFF),
        names_indexed: c.names_indexed,
        names_scanned: c.names_scanned,
    };
    if READY.load(Acquire) {
        let s = SWITCH.lock();
        st.on = s.on;
        st.refusal = s.refusal;
        st.names = s.names;
    }
    st
}

/// Lookups the replacements answered since switched on, by an index and by
/// a scan: of addresses, and of names.
#[derive(Default)]
struct Counts {
    indexed: u64,
    scanned: u64,
    names_indexed: u64,
    names_scanned: u64,
}

/// Without `CONFIG_DYNAMIC_FTRACE_WITH_ARGS` (or on another architecture):
/// nothing to hook with.
#[cfg(not(all(CONFIG_DYNAMIC_FTRACE_WITH_ARGS, any(CONFIG_X86_64, CONFIG_ARM64))))]
mod hook {
    use super::{Counts, Refusal};
    use crate::registry::Registry;
    use kernel::{prelude::*, sync::Arc, ThisModule};

    pub(super) fn on(
        _reg: &Arc<Registry>,
        _this: &'static ThisModule,
    ) -> Result<Result<(), &'static str>, Refusal> {
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

    pub(super) fn reachable() -> bool {
        false
    }

    pub(super) fn counts() -> Counts {
        Counts::default()
    }
}

/// The ftrace hook on `find_kallsyms_symbol()` and
/// `__find_kallsyms_symbol_value()`.
///
/// Safety of the whole (see also the design notes in the README):
///
/// - Everything the hook reaches in this module ([`handler`], the
///   replacements, the registry's snapshot and modsym's index memory) is
///   kept until no call can be in it: [`off`] unregisters the ops, which
///   waits for every task in the trampoline or the handler (RCU tasks, as
///   for every dynamic ops), then waits for a grace period, which covers
///   every call of a replacement: each runs inside its caller's RCU
///   read-side section, from before the trampoline to its return.
/// - The replacements call nothing traceable (Rust code is not instrumented
///   for ftrace, and the atomics are Rust helpers, which are not either), so
///   they cannot recurse into the hook; `FTRACE_OPS_FL_RECURSION` has ftrace
///   guard the handler, and where ftrace skips it, the original runs, which
///   is exact too.
#[cfg(all(CONFIG_DYNAMIC_FTRACE_WITH_ARGS, any(CONFIG_X86_64, CONFIG_ARM64)))]
mod hook {
    use core::ptr::{self, NonNull};

    use kernel::{
        bindings,
        ffi::{c_char, c_int, c_ulong},
        prelude::*,
        str::CStr,
        sync::{
            atomic::{Acquire, Atomic, Relaxed, Release},
            rcu, Arc,
        },
        types::Opaque,
        ThisModule,
    };

    use super::{Counts, Refusal};
    use crate::{
        kcall::{self, SYMBOL_BUF_LEN},
        kmod::ModuleRef,
        parse,
        rcu::CallerHolds,
        registry::{self, Registry},
    };

    /// Most functions the search for a target steps over in each direction
    /// from its anchor (about 110 in the test kernels).
    const WALK_STEPS: usize = 20_000;

    /// A kernel function replaced: its start and size once found, so that
    /// the handler redirects calls of that function only.
    struct Target {
        name: &'static [u8],
        start: Atomic<usize>,
        size: Atomic<usize>,
    }

    impl Target {
        const fn new(name: &'static [u8]) -> Self {
            Self {
                name,
                start: Atomic::new(0),
                size: Atomic::new(0),
            }
        }

        /// Whether `ip` is in the function (never while not found).
        fn holds(&self, ip: c_ulong) -> bool {
            ip.wrapping_sub(self.start.load(Relaxed)) < self.size.load(Relaxed)
        }

        fn set(&self, found: Option<(usize, usize)>) {
            let (start, size) = found.unwrap_or((0, 0));
            self.start.store(start, Relaxed);
            self.size.store(size, Relaxed);
        }
    }

    /// Address lookups: `find_kallsyms_symbol(mod, addr, size, offset)`.
    static ADDRESS: Target = Target::new(b"find_kallsyms_symbol");

    /// Name lookups: `__find_kallsyms_symbol_value(mod, name)`, which the
    /// exported-to-vmlinux `find_kallsyms_symbol_value()` and
    /// `module_kallsyms_lookup_name()` call.
    static VALUE: Target = Target::new(b"__find_kallsyms_symbol_value");

    /// The C signature of `__find_kallsyms_symbol_value()`.
    type ValueFn = unsafe extern "C" fn(*mut bindings::module, *const c_char) -> c_ulong;

    /// The ftrace ops, at a fixed address: ftrace links it into its lists
    /// while it is registered.
    struct Ops(Opaque<bindings::ftrace_ops>);

    // SAFETY: The ops is written only by `on()` and `off()`, which the
    // switch's lock serializes, while ftrace does not use it (before
    // registering, after unregistering), and by ftrace itself, under its own
    // locks.
    unsafe impl Sync for Ops {}

    static OPS: Ops = Ops(Opaque::zeroed());

    /// The registry the replacements read: set by `on()` before the hook is
    /// registered, cleared by `off()` (or a failed `on()`) once no call can
    /// still use it. Null: the replacements scan.
    static REGISTRY: Atomic<*const Registry> = Atomic::new(ptr::null());

    /// Whether the ops is registered (`on()` succeeded in registering it and
    /// `off()` has not unregistered it yet).
    static REGISTERED: Atomic<bool> = Atomic::new(false);

    /// A failed registration left the ops in ftrace's hands (ftrace disabled
    /// itself meanwhile): it must never be zeroed or registered again.
    static STUCK: Atomic<bool> = Atomic::new(false);

    /// Lookups answered by an index, and by a scan, since the last `on()`:
    /// of addresses, and of names.
    static INDEXED: Atomic<u64> = Atomic::new(0);
    static SCANNED: Atomic<u64> = Atomic::new(0);
    static NAMES_INDEXED: Atomic<u64> = Atomic::new(0);
    static NAMES_SCANNED: Atomic<u64> = Atomic::new(0);

    /// A refusal.
    const fn refuse(error: Error, why: &'static str) -> Refusal {
        Refusal { error, why }
    }

    /// The lookups the replacements answered since the last `on()`.
    pub(super) fn counts() -> Counts {
        Counts {
            indexed: INDEXED.load(Relaxed),
            scanned: SCANNED.load(Relaxed),
            names_indexed: NAMES_INDEXED.load(Relaxed),
            names_scanned: NAMES_SCANNED.load(Relaxed),
        }
    }

    /// Hooks `find_kallsyms_symbol()`, after checking that it can be done:
    /// the function is found out of line (`ENOENT` otherwise), has an ftrace
    /// site (`EINVAL`), is not modified by another ftrace user already
    /// (`EBUSY`), and, once hooked, `sprint_symbol()` of modsym's own
    /// symbols is unchanged and goes through the replacement (`EIO`: then
    /// the hook is removed again).
    ///
    /// Hooks `__find_kallsyms_symbol_value()` too if it is found out of line
    /// with an ftrace site; returns why not otherwise (acceleration is then
    /// on for address lookups only). Once hooked, looking up modsym's own
    /// symbols by name must give the same values as before, through the
    /// replacement.
    ///
    /// Called with the switch's lock held, while the hook is off.
    pub(super) fn on(
        reg: &Arc<Registry>,
        this: &'static ThisModule,
    ) -> Result<Result<(), &'static str>, Refusal> {
        if STUCK.load(Relaxed) {
            return Err(refuse(
                ENODEV,
                "ftrace disabled itself during an earlier attempt",
            ));
        }
        let mut buf = KBox::new([0u8; SYMBOL_BUF_LEN], GFP_KERNEL)
            .map_err(|_| refuse(ENOMEM, "out of memory"))?;
        let address = find_function(ADDRESS.name, &mut buf)
            .ok_or(refuse(ENOENT, "find_kallsyms_symbol not found out of line"))?;
        // The check below calls the function through its address, which
        // control-flow integrity may trap for a function never called so.
        let (value, mut names) = if cfg!(any(
            CONFIG_CFI,
            CONFIG_X86_KERNEL_IBT,
            CONFIG_ARM64_BTI_KERNEL
        )) {
            (None, Err("not checkable on a kernel with CFI, IBT or BTI"))
        } else {
            match find_function(VALUE.name, &mut buf) {
                Some(found) => (Some(found), Ok(())),
                None => (
                    None,
                    Err("__find_kallsyms_symbol_value not found out of line"),
                ),
            }
        };
        let before = canary(&mut buf).map_err(|_| refuse(ENOMEM, "out of memory"))?;
        let before_values = value.map(|(start, _)| canary_values(start, this, &before));

        let ops = OPS.0.get();
        // SAFETY: The hook is off: the ops is not registered (not `STUCK`),
        // and `off()` (or a failed `on()`) freed its filter, so ftrace holds
        // no reference to it and nothing else writes it (the switch's lock).
        // Zeroed, it is a fresh ops again, which ftrace initializes on first use.
        unsafe {
            ptr::write_bytes(ops, 0, 1);
            (*ops).func = Some(handler);
            (*ops).flags =
                (bindings::FTRACE_OPS_FL_IPMODIFY | bindings::FTRACE_OPS_FL_RECURSION) as c_ulong;
        }
        ADDRESS.set(Some(address));
        VALUE.set(None);
        let ret = set_filter(ops, address.0);
        if ret != 0 {
            // SAFETY: `ops` is not registered; this frees what the call above
            // may have allocated.
            unsafe { bindings::ftrace_free_filter(ops) };
            return Err(match Error::from_errno(ret) {
                e if e == EINVAL => refuse(EINVAL, "no ftrace site on find_kallsyms_symbol"),
                e => refuse(e, "cannot set the ftrace filter on find_kallsyms_symbol"),
            });
        }
        if let Some(found) = value {
            match set_filter(ops, found.0) {
                0 => VALUE.set(Some(found)),
                ret if ret == EINVAL.to_errno() => {
                    names = Err("no ftrace site on __find_kallsyms_symbol_value")
                }
                _ => names = Err("cannot set the ftrace filter on __find_kallsyms_symbol_value"),
            }
        }

        for count in [&INDEXED, &SCANNED, &NAMES_INDEXED, &NAMES_SCANNED] {
            count.store(0, Relaxed);
        }
        // Published before the hook can run (registering is a full barrier,
        // and the replacements load it with acquire).
        REGISTRY.store(Arc::as_ptr(reg), Release);
        // SAFETY: `ops` is a valid ops with a filter of one or two functions
        // and a handler that stays valid until it is unregistered (see `off()`).
        let ret = unsafe { bindings::register_ftrace_function(ops) };
        if ret != 0 {
            unhook_failed(ops, ret);
            return Err(match Error::from_errno(ret) {
                e if e == EBUSY => refuse(
                    EBUSY,
                    "find_kallsyms_symbol or __find_kallsyms_symbol_value is already modified by another ftrace user (livepatch?)",
                ),
                e => refuse(e, "register_ftrace_function failed"),
            });
        }

        REGISTERED.store(true, Relaxed);

        // The canary: the same answers as before, and through the replacements.
        let after = canary(&mut buf);
        let after_values = match (value, &after) {
            (Some((start, _)), Ok(lines)) if names.is_ok() => {
                Some(canary_values(start, this, lines))
            }
            _ => None,
        };
        let c = counts();
        let refusal = match after.map(|after| after == before) {
            Ok(true) if c.indexed + c.scanned == 0 => refuse(
                EIO,
                "find_kallsyms_symbol's calls do not reach the replacement",
            ),
            Ok(true) if after_values.is_some() && c.names_indexed + c.names_scanned == 0 => refuse(
                EIO,
                "__find_kallsyms_symbol_value's calls do not reach the replacement",
            ),
            Ok(true) if after_values.is_some() && after_values != before_values => {
                refuse(EIO, "name lookup replacement disagrees with the kernel")
            }
            Ok(true) => return Ok(names),
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

    /// Adds the function at `ip` to the ops' filter; the kernel's error code.
    fn set_filter(ops: *mut bindings::ftrace_ops, ip: usize) -> c_int {
        // SAFETY: `ops` is a valid, unregistered ops (see `on()`); `ip` is
        // only looked up among ftrace's records.
        unsafe { bindings::ftrace_set_filter_ip(ops, ip as c_ulong, 0, 0) }
    }

    /// Whether the hook is registered: after a successful `on()`, and after
    /// a refused one whose hook could not be removed again.
    pub(super) fn registered() -> bool {
        REGISTERED.load(Relaxed)
    }

    /// Whether the handler and the replacements may still be called: the
    /// ops is registered, or ftrace kept it after a failed registration
    /// (`STUCK`).
    pub(super) fn reachable() -> bool {
        registered() || STUCK.load(Relaxed)
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
    /// replacements and the registry is no longer read.
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
        // Every call of a replacement runs inside its caller's RCU read-side
        // section: after this grace period none is left.
        rcu::synchronize_rcu();
        REGISTRY.store(ptr::null(), Release);
        // SAFETY: `ops` is unregistered; its filter hashes are no longer used.
        unsafe { bindings::ftrace_free_filter(ops) };
        Ok(())
    }

    /// Start and size of the vmlinux function named `name`, found with
    /// `sprint_symbol()` (the kernel's own lookups of such a static function
    /// are not exported): from `register_module_notifier()`, in
    /// kernel/module/main.c, which the linker places before
    /// kernel/module/kallsyms.c, step from function to function (the next
    /// starts where this one ends: `addr - offset + size`), forward, then
    /// backward. `None` if it is not found as an out-of-line function of
    /// exactly that name: inlined, or renamed by the compiler
    /// (`.constprop`, `.isra`, `.llvm.*`), whose calling convention may then
    /// differ.
    fn find_function(name: &[u8], buf: &mut [u8; SYMBOL_BUF_LEN]) -> Option<(usize, usize)> {
        let anchor = bindings::register_module_notifier as *const () as usize;
        let mut addr = anchor;
        for step in 0..WALK_STEPS {
            let (start, size, hit) = function_at(addr, name, buf)?;
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
            let (start, size, hit) = function_at(addr, name, buf)?;
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
    /// and whether it is named `name`. `None` for a module address, an
    /// address no symbol covers, or an empty symbol.
    fn function_at(
        addr: usize,
        name: &[u8],
        buf: &mut [u8; SYMBOL_BUF_LEN],
    ) -> Option<(usize, usize, bool)> {
        let line = kcall::sprint_symbol(addr as u64, buf);
        let sym = parse::parse_symbol_line(line)?;
        if sym.module.is_some() || sym.size == 0 {
            return None;
        }
        let start = addr.checked_sub(usize::try_from(sym.offset).ok()?)?;
        Some((start, usize::try_from(sym.size).ok()?, sym.name == name))
    }

    /// `sprint_symbol()` of addresses in modsym: functions (at their start
    /// and inside) and data (resolved with `CONFIG_KALLSYMS_ALL`, printed
    /// as a bare address without).
    fn canary(buf: &mut [u8; SYMBOL_BUF_LEN]) -> Result<KVec<KVec<u8>>> {
        let addrs = [
            replacement as *const () as usize,
            replacement as *const () as usize + 1,
            handler as *const () as usize,
            value_replacement as *const () as usize,
            find_function as *const () as usize + 4,
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

    /// Largest name [`canary_values`] looks up.
    const CANARY_NAME_LEN: usize = 128;

    /// `__find_kallsyms_symbol_value(modsym, name)`, called at `start`, for
    /// the names in the canary's `lines` and for a name modsym does not have:
    /// the kernel's answers before the hook, the replacement's after.
    fn canary_values(start: usize, this: &'static ThisModule, lines: &[KVec<u8>]) -> [c_ulong; 8] {
        // SAFETY: `start` is the entry of the vmlinux function
        // `__find_kallsyms_symbol_value`, found out of line under exactly
        // that name (so with the C calling convention), whose C signature
        // is `ValueFn` (kernel/module/kallsyms.c).
        let f = unsafe { core::mem::transmute::<usize, ValueFn>(start) };
        let mut out = [0; 8];
        let mut names = lines
            .iter()
            .filter_map(|line| parse::parse_symbol_line(line))
            .map(|sym| sym.name);
        for (k, slot) in out.iter_mut().enumerate() {
            let name = match k {
                0 => &b"modsym_no_such_symbol"[..],
                _ => match names.next() {
                    Some(name) => name,
                    None => break,
                },
            };
            // Longer names are skipped: the byte after the name must stay the NUL.
            let mut cname = [0u8; CANARY_NAME_LEN + 1];
            let Some(dst) = cname
                .get_mut(..name.len())
                .filter(|_| name.len() <= CANARY_NAME_LEN)
            else {
                continue;
            };
            dst.copy_from_slice(name);
            let _rcu = rcu::read_lock();
            // SAFETY: `this` is modsym, alive; `cname` is NUL-terminated (a
            // zeroed byte follows the name); the function requires the RCU
            // read lock, held.
            *slot = unsafe { f(this.as_ptr(), cname.as_ptr().cast()) };
        }
        out
    }

    /// The ftrace handler: resumes a call of a replaced function in its
    /// replacement, with the caller's arguments and return address untouched
    /// (what livepatch's handler does, without its per-task transition: both
    /// functions are exact at every instant).
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
        // The filter holds only the targets; checked anyway, so that no other
        // function could ever be sent to a replacement.
        let to: c_ulong = if ADDRESS.holds(ip) {
            replacement as *const () as usize
        } else if VALUE.holds(ip) {
            value_replacement as *const () as usize
        } else {
            return;
        };
        if fregs.is_null() {
            return;
        }
        let regs = fregs.cast::<bindings::__arch_ftrace_regs>();
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

    /// The registry the replacements read, if any.
    ///
    /// # Safety
    ///
    /// Call from a replacement only: inside its caller's RCU read-side
    /// section, which `off()` waits for before the registry may go.
    unsafe fn registry<'a>() -> Option<&'a Registry> {
        let reg = REGISTRY.load(Acquire);
        // SAFETY: A non-null pointer points to the registry the switch keeps
        // alive (its `Arc`) until after `off()`, which clears the pointer
        // only once no call of a replacement is left (caller).
        unsafe { reg.as_ref() }
    }

    /// Counts an answer: by an index, or by a scan.
    fn count(indexed: bool, by_index: &Atomic<u64>, by_scan: &Atomic<u64>) {
        if indexed {
            by_index.add(1, Relaxed);
        } else {
            by_scan.add(1, Relaxed);
        }
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
        // SAFETY: Called from a replacement.
        let reg = unsafe { registry() };
        let answer = registry::kernel_answer(reg, &module, addr as u64, &rcu);
        count(answer.indexed, &INDEXED, &SCANNED);
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

    /// The replacement of `__find_kallsyms_symbol_value(mod, name)`
    /// (kernel/module/kallsyms.c): the same signature and the same answer,
    /// [`registry::kernel_value_answer`]: the value of the first symbol in
    /// symtab order with that name that is defined, or 0.
    ///
    /// Runs wherever the original runs: no lock, no allocation, no
    /// sleeping, no printing, nothing traceable.
    ///
    /// # Safety
    ///
    /// Called in place of `__find_kallsyms_symbol_value()` by one of its
    /// callers: `m` is a module the caller found under the RCU read lock it
    /// holds across the call, and `name` a NUL-terminated string.
    unsafe extern "C" fn value_replacement(
        m: *mut bindings::module,
        name: *const c_char,
    ) -> c_ulong {
        let Some(m) = NonNull::new(m) else {
            return 0;
        };
        if name.is_null() {
            return 0;
        }
        // SAFETY: Both callers hold the RCU read lock across the call:
        // `module_kallsyms_lookup_name()` and `find_kallsyms_symbol_value()`
        // (kernel/module/kallsyms.c, `guard(rcu)()`); the value stays in
        // this function.
        let rcu = unsafe { CallerHolds::assume() };
        // SAFETY: As in `replacement()`: found by the caller under that
        // read lock, used in this call only.
        let module = unsafe { ModuleRef::from_raw(m, false) };
        // SAFETY: `name` is a NUL-terminated string (the caller), not
        // changed during the call.
        let name = unsafe { CStr::from_char_ptr(name) };
        // SAFETY: Called from a replacement.
        let reg = unsafe { registry() };
        let answer = registry::kernel_value_answer(reg, &module, name.to_bytes(), &rcu);
        count(answer.indexed, &NAMES_INDEXED, &NAMES_SCANNED);
        answer.value as c_ulong
    }
}

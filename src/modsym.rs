// SPDX-License-Identifier: GPL-2.0

//! modsym: a sorted per-module symbol index with kernel-exact address resolution.
//!
//! The kernel resolves module addresses (`%pS`, `sprint_symbol()`, stack
//! traces, ftrace) with a linear scan of the module's symtab. modsym keeps,
//! for every loaded module, an array of symtab indices sorted by address (the
//! symtab itself is never written) and answers the same question in
//! `O(log n)`, with exactly the kernel's answer, through debugfs
//! (`/sys/kernel/debug/modsym/`).
//!
//! One data path: module notifier ([`notifier`]) -> [`registry`] builds the
//! index ([`index`]) from the module's symtab ([`kmod`]) and publishes it
//! ([`rcu`]) -> a [`debugfs`] file ([`seqfile`]) asks the registry -> the
//! answer is formatted ([`format`]).
//!
//! - Pure core, shared with the host test crate (`src/lib.rs`), no kernel
//!   types: [`index`], [`parse`], [`format`], [`parity`].
//! - The only files with `unsafe` code, one kernel interface each: [`kmod`]
//!   (`struct module`, the module list), [`notifier`], [`rcu`], [`seqfile`]
//!   (debugfs and `seq_file`), [`kcall`] (single kernel functions),
//!   [`worker`] (the low-priority thread index builds run on),
//!   [`accel`] (the ftrace hook that routes the kernel's own lookups through
//!   the index, off by default).
//! - Safe code (`#![forbid(unsafe_code)]`): [`registry`], [`debugfs`],
//!   [`verify`], [`bench`].
//!
//! `unsafe` is denied crate-wide; the FFI files allow it, one by one.

#![deny(unsafe_code)]

use kernel::{alloc::Flags, prelude::*, sync::Arc};

/// Flags of modsym's allocations that grow with a module or with user input
/// (index arrays, the build's scratch, write buffers): modsym handles their
/// failure (the kernel's own scan answers until the next build, a write is
/// refused with `ENOMEM`) and logs it itself, so no allocation-failure splat
/// (`__GFP_NOWARN`, as the kernel's own optional allocations).
pub(crate) fn sized_gfp() -> Flags {
    GFP_KERNEL | __GFP_NOWARN
}

// The core's items are `pub` for the host crate (src/lib.rs).
#[allow(unreachable_pub)]
mod format;
#[allow(unreachable_pub)]
mod index;
#[allow(unreachable_pub)]
mod parity;
#[allow(unreachable_pub)]
mod parse;

mod accel;
mod kcall;
mod kmod;
mod notifier;
mod rcu;
mod seqfile;
mod worker;

mod bench;
mod debugfs;
mod registry;
mod verify;

module! {
    type: Modsym,
    name: "modsym",
    authors: ["modsym developers"],
    description: "Sorted per-module symbol index with kernel-exact address resolution",
    license: "GPL",
    params: {
        log_walk: bool {
            default: false,
            description: "Log the module list head and the modules indexed at load (for the selftests)",
        },
        build_delay_ms: u32 {
            default: 0,
            description: "Delay the publication of each deferred index build by this many ms (for the selftests: the window between build and publication)",
        },
    },
}

/// The module instance. Fields drop in order: debugfs first (no new readers,
/// nobody left to switch acceleration on), then acceleration is switched off
/// (the kernel's lookups leave modsym's code and index), then the registry
/// (unregisters the notifier, frees every index after a grace period).
struct Modsym {
    _debugfs: Option<seqfile::DebugfsDir<registry::Registry>>,
    _accel: accel::Accel,
    _registry: Arc<registry::Registry>,
}

impl kernel::Module for Modsym {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // Register first, then adopt what is already loaded: see
        // `ModuleNotifier::adopt_existing` for why nothing is missed or
        // freed under us.
        let reg = Arc::pin_init(registry::Registry::new(module)?, GFP_KERNEL)?;
        reg.adopt_existing()?;
        if module_parameters::log_walk.value() {
            reg.log_walk(module);
        }
        // Off; switched on through debugfs. Dropped (switched off) before
        // the registry on every path out.
        let accel = accel::Accel::new(reg.clone(), module)?;
        // debugfs is optional (kernel convention); created last so that no
        // file can be open if an earlier step fails.
        let dir = match debugfs::create(reg.clone()) {
            Ok(d) => Some(d),
            Err(e) => {
                pr_warn!("debugfs files not created: {:?}\n", e);
                None
            }
        };
        let (modules, symbols) = reg.totals();
        pr_info!("indexed {} modules, {} symbols\n", modules, symbols);
        Ok(Modsym {
            _debugfs: dir,
            _accel: accel,
            _registry: reg,
        })
    }
}

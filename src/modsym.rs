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
//! Layout: [`index`], [`parse`] and [`format`] are the pure core (no kernel
//! types, shared with the host test crate); `ffi` holds all `unsafe` code;
//! `registry` the per-module indices, the module notifier handlers and RCU
//! publication; `debugfs` and `verify` the user interface.

use kernel::{prelude::*, sync::Arc};

pub mod format;
pub mod index;
pub mod parse;

mod debugfs;
mod ffi;
mod registry;
mod verify;

module! {
    type: Modsym,
    name: "modsym",
    authors: ["modsym developers"],
    description: "Sorted per-module symbol index with kernel-exact address resolution",
    license: "GPL",
}

/// The module instance. Fields drop in order: debugfs first (no new readers),
/// then the notifier (no new events, waits for running ones), then the
/// registry (frees every index after a grace period).
struct Modsym {
    _debugfs: Option<ffi::DebugfsDir<registry::Registry>>,
    _notifier: Pin<KBox<ffi::ModuleNotifier<registry::Registry>>>,
    _registry: Arc<registry::Registry>,
}

impl kernel::Module for Modsym {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let reg = Arc::pin_init(registry::Registry::new(), GFP_KERNEL)?;
        // Register first, then adopt what is already loaded: see
        // `ModuleNotifier::adopt_existing` for why nothing is missed or
        // freed under us.
        let notifier = ffi::ModuleNotifier::register(reg.clone())?;
        notifier.adopt_existing(module)?;
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
            _notifier: notifier,
            _registry: reg,
        })
    }
}

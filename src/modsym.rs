// SPDX-License-Identifier: GPL-2.0

//! modsym: a sorted per-module symbol index with kernel-exact address resolution.

use kernel::prelude::*;

module! {
    type: Modsym,
    name: "modsym",
    authors: ["modsym developers"],
    description: "Sorted per-module symbol index with kernel-exact address resolution",
    license: "GPL",
}

struct Modsym;

impl kernel::Module for Modsym {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("loaded\n");
        Ok(Modsym)
    }
}

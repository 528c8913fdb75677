// SPDX-License-Identifier: GPL-2.0

//! `verify`: the parity check of modsym's answers against the kernel's own
//! `sprint_symbol()`, at every boundary of every indexed module.

#![forbid(unsafe_code)]

use kernel::{prelude::*, sync::rcu};

use crate::{
    format::Line,
    index::{self, SymbolTable},
    kcall::{self, KSYM_NAME_LEN, SYMBOL_BUF_LEN},
    kmod::{self, ModState, FIRST_INIT_TYPE},
    parity,
    registry::{Registry, Writer},
};

/// Bound on (addresses checked x symtab size) per module: `sprint_symbol()`
/// scans the whole symtab for every address, so every boundary of a module
/// of up to about 6,000 symtab entries is checked and larger ones are sampled.
const VERIFY_BUDGET: u64 = 120_000_000;

/// At most this many mismatches are reported in detail.
pub(crate) const MAX_REPORTED: usize = 10;

/// Addresses checked between two `cond_resched()` and signal checks.
const CHUNK: u64 = 256;

/// One disagreement between modsym and the kernel.
pub(crate) struct Mismatch {
    /// The address.
    pub(crate) addr: u64,
    /// modsym's answer (`?` when unresolved).
    pub(crate) modsym: KVec<u8>,
    /// `sprint_symbol()`'s answer.
    pub(crate) kernel: KVec<u8>,
}

/// Result of a parity check.
#[derive(Default)]
pub(crate) struct Report {
    /// Modules checked.
    pub(crate) modules: u64,
    /// Addresses compared.
    pub(crate) addresses: u64,
    /// Boundary addresses not given to `sprint_symbol()` (see
    /// [`kernel_can_print`]).
    pub(crate) skipped: u64,
    /// Addresses where the answers differ.
    pub(crate) mismatches: u64,
    /// The first [`MAX_REPORTED`] mismatches.
    pub(crate) first: KVec<Mismatch>,
}

/// modsym's answer for `addr`: the `%pS` text, or `?`, written into `line`.
fn modsym_answer<'a>(reg: &Registry, addr: u64, line: &'a mut Line) -> &'a [u8] {
    line.clear();
    if reg.resolve_line(addr, line).is_err() {
        return b"?";
    }
    let bytes = line.as_bytes();
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    match bytes.iter().position(|&b| b == b' ') {
        Some(sp) => bytes.get(sp + 1..).unwrap_or(b"?"),
        None => b"?",
    }
}

/// Whether `sprint_symbol()` attributed the address to a loaded module's
/// symbol (`... [mod]`), as opposed to vmlinux, BPF, ftrace trampolines
/// (`[__builtin__ftrace]`) or nothing (a raw `0x...`).
fn kernel_names_module_symbol(answer: &[u8]) -> bool {
    let Some(rest) = answer.strip_suffix(b"]") else {
        return false;
    };
    let Some(open) = rest.windows(2).rposition(|w| w == b" [") else {
        return false;
    };
    let module = rest.get(open + 2..).unwrap_or(&[]);
    !module.starts_with(b"__builtin__") && module != b"bpf"
}

/// What the kernel's module list says about the module whose memory holds
/// an address right now.
struct ModuleAt {
    id: usize,
    state: ModState,
    in_init: bool,
}

/// The module (not UNFORMED) whose memory contains `addr`, like
/// `__module_address()` (not exported). Init region bounds are read racily:
/// they are only compared.
fn module_at(addr: u64) -> Option<ModuleAt> {
    let this = kernel::module::this_module::<crate::Modsym>();
    let guard = rcu::read_lock();
    let mut found = None;
    let _ = kmod::for_each_module(this, &guard, |m| {
        let Some(t) = m.mem_type_of(addr) else {
            return Ok(());
        };
        found = Some(ModuleAt {
            id: m.id(),
            state: m.state(),
            in_init: t >= FIRST_INIT_TYPE,
        });
        Err(())
    });
    found
}

/// Whether the kernel resolves `addr` only because the module holding it is
/// between two notifications: COMING before our COMING handler ran, LIVE before
/// our LIVE handler adopted it (only around modsym's own load), LIVE with
/// its init memory not yet torn down after our LIVE handler dropped it, GOING
/// after our GOING handler removed it, or already gone. modsym answers `?` in
/// these windows by design (it must not read memory the kernel is about to
/// free); everywhere else the answers must agree.
fn in_transition(w: &Writer, addr: u64) -> bool {
    match module_at(addr) {
        None => true,
        Some(m) => match m.state {
            ModState::Live => m.in_init || w.get(m.id).is_none(),
            ModState::Coming | ModState::Going => w.get(m.id).is_none(),
            ModState::Unformed => true,
        },
    }
}

/// Whether `sprint_symbol(addr)` is safe: the symbol the kernel picks for
/// `addr` has a name shorter than [`KSYM_NAME_LEN`] (for a longer one the
/// kernel writes before its buffer, see [`crate::kcall::sprint_symbol`]).
///
/// Found without trusting modsym's index: in a module whose table has such
/// names, the kernel's own linear scan is repeated ([`index::pick_by_scan`]).
/// An address in module memory that modsym has not indexed (a module between
/// two events) cannot be vouched for and is refused.
pub(crate) fn kernel_can_print(reg: &Registry, addr: u64) -> bool {
    let guard = rcu::read_lock();
    match reg.snapshot(&guard).and_then(|s| s.find(addr)) {
        Some((_, part, r)) => {
            !part.has_long_names()
                || index::pick_by_scan(&part.table, r.region, addr)
                    .is_none_or(|i| part.table.name(i).len() < KSYM_NAME_LEN)
        }
        None => module_at(addr).is_none(),
    }
}

/// Runs the parity check over every indexed module.
///
/// Each module is checked with the writer lock held, so it cannot be
/// unloaded meanwhile. Modules whose symtab is large get a deterministic,
/// evenly spaced sample of their boundaries so that the `sprint_symbol()`
/// cost stays bounded (see [`VERIFY_BUDGET`]).
pub(crate) fn verify(reg: &Registry) -> Result<Report> {
    let ids = reg.lock().ids()?;
    let mut report = Report::default();
    let mut kbuf = KBox::new([0u8; SYMBOL_BUF_LEN], GFP_KERNEL)?;
    let mut line = KBox::new(Line::new(), GFP_KERNEL)?;
    for id in ids.iter().copied() {
        let w = reg.lock();
        let Some(m) = w.get(id) else { continue };
        report.modules += 1;
        let list = m.regions();
        let regions = list.as_slice();
        let total = parity::boundary_count(regions);
        let sample = parity::sample_len(total, m.symtab_len() as u64, VERIFY_BUDGET);
        for k in 0..sample {
            let j = parity::sample_position(k, sample, total);
            let Some(addr) = parity::boundary(regions, j) else {
                continue;
            };
            if !kernel_can_print(reg, addr) {
                report.skipped += 1;
                continue;
            }
            report.addresses += 1;
            let ours = modsym_answer(reg, addr, &mut line);
            let theirs = kcall::sprint_symbol(addr, &mut kbuf);
            let same = if ours == b"?" {
                !kernel_names_module_symbol(theirs) || in_transition(&w, addr)
            } else {
                ours == theirs
            };
            if !same {
                report.mismatches += 1;
                if report.first.len() < MAX_REPORTED {
                    let mut a = KVec::new();
                    a.extend_from_slice(ours, GFP_KERNEL)?;
                    let mut b = KVec::new();
                    b.extend_from_slice(theirs, GFP_KERNEL)?;
                    report.first.push(
                        Mismatch {
                            addr,
                            modsym: a,
                            kernel: b,
                        },
                        GFP_KERNEL,
                    )?;
                }
            }
            if k % CHUNK == CHUNK - 1 {
                if kcall::signal_pending() {
                    return Err(EINTR);
                }
                kcall::cond_resched();
            }
        }
        drop(w);
        kcall::cond_resched();
    }
    Ok(report)
}

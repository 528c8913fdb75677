// SPDX-License-Identifier: GPL-2.0

//! `verify`: the parity check of modsym's answers against the kernel's own
//! `sprint_symbol()`, at every boundary of every indexed module.

#![forbid(unsafe_code)]

use kernel::{prelude::*, sync::rcu};

use crate::{
    format::{self, Line},
    index::{self, SymbolTable},
    kcall::{self, KSYM_NAME_LEN, SYMBOL_BUF_LEN},
    kmod::{self, ModState, FIRST_INIT_TYPE},
    parity, parse,
    registry::{Registry, Snapshot},
};

/// Bound on (addresses checked x symtab size) per module: `sprint_symbol()`
/// scans the whole symtab for every address, so every boundary of a module
/// of up to about 6,000 symtab entries is checked and larger ones are sampled.
const VERIFY_BUDGET: u64 = 120_000_000;

/// At most this many mismatches are reported in detail.
pub(crate) const MAX_REPORTED: usize = 10;

/// Most addresses checked in one RCU read-side section, between two
/// `cond_resched()` and signal checks.
const CHUNK: u64 = 256;

/// Symtab entries `sprint_symbol()` may scan in one RCU read-side section:
/// fewer addresses per section for larger modules.
pub(crate) const CHUNK_WORK: u64 = 2_000_000;

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
    parse::split_module_suffix(answer)
        .is_some_and(|(_, module)| !module.starts_with(b"__builtin__") && module != b"bpf")
}

/// What the kernel's module list says about the module whose memory holds
/// an address right now.
struct ModuleAt {
    id: usize,
    state: ModState,
    in_init: bool,
}

/// What the kernel's module list says about the module whose memory holds
/// `addr` ([`kmod::module_at`]): `Err(())` if the list could not be walked
/// just now. Init region bounds are read racily: they are only compared.
fn module_at(addr: u64) -> core::result::Result<Option<ModuleAt>, ()> {
    let this = kernel::module::this_module::<crate::Modsym>();
    let guard = rcu::read_lock();
    let m = kmod::module_at(this, &guard, addr).map_err(|_| ())?;
    Ok(m.map(|m| ModuleAt {
        id: m.id(),
        state: m.state(),
        in_init: m.mem_type_of(addr).is_some_and(|t| t >= FIRST_INIT_TYPE),
    }))
}

/// Whether the kernel resolves `addr` only because the module holding it is
/// between two notifications: COMING before our COMING handler ran, LIVE before
/// our LIVE handler adopted it (only around modsym's own load), LIVE with
/// its init memory not yet torn down after our LIVE handler dropped it, GOING
/// after our GOING handler removed it, or already gone. verify checks the
/// index, which covers none of these windows (`resolve` answers there by the
/// kernel's own scan); everywhere else the answers must agree.
fn in_transition(snap: &Snapshot, addr: u64) -> bool {
    match module_at(addr) {
        // Cannot tell: tolerated like a module between two events.
        Err(()) | Ok(None) => true,
        Ok(Some(m)) => match m.state {
            ModState::Live => m.in_init || !snap.has_module(m.id),
            ModState::Coming | ModState::Going => !snap.has_module(m.id),
            ModState::Unformed => true,
        },
    }
}

/// Whether `sprint_symbol(addr)` is safe: the symbol the kernel picks for
/// `addr` has a name shorter than [`KSYM_NAME_LEN`] (for a longer one the
/// kernel writes before its buffer, see [`crate::kcall::sprint_symbol`]).
///
/// Found without trusting modsym's index: in a module whose table has such
/// names, the kernel's own linear scan is repeated ([`index::lookup_by_scan`]).
/// An address in module memory that modsym has not indexed (a module between
/// two events) cannot be vouched for and is refused.
pub(crate) fn kernel_can_print(reg: &Registry, addr: u64) -> bool {
    let guard = rcu::read_lock();
    match reg.snapshot(&guard).and_then(|s| s.find(addr)) {
        Some((_, part, r)) => {
            !part.has_long_names()
                || index::lookup_by_scan(&part.table, r.region, addr)
                    .is_none_or(|h| part.table.name(h.index as usize).len() < KSYM_NAME_LEN)
        }
        None => matches!(module_at(addr), Ok(None)),
    }
}

/// Runs the parity check over every indexed module.
///
/// Modules whose symtab is large get a deterministic, evenly spaced sample of
/// their boundaries so that the `sprint_symbol()` cost stays bounded (see
/// [`VERIFY_BUDGET`]). No lock is held: each chunk of addresses is checked
/// in one RCU read-side section, in which the module's tables stay alive as
/// long as the published snapshot still holds its index; a module that was
/// unloaded or changed state since is left at that point.
pub(crate) fn verify(reg: &Registry) -> Result<Report> {
    let modules = reg.indexed()?;
    let mut report = Report::default();
    // Mismatches are recorded under RCU, where nothing may sleep: their
    // storage is reserved here.
    report.first.reserve(MAX_REPORTED, GFP_KERNEL)?;
    let mut spare = KVec::with_capacity(MAX_REPORTED, GFP_KERNEL)?;
    for _ in 0..MAX_REPORTED {
        spare.push(
            Mismatch {
                addr: 0,
                modsym: KVec::with_capacity(format::LINE_CAPACITY, GFP_KERNEL)?,
                kernel: KVec::with_capacity(SYMBOL_BUF_LEN, GFP_KERNEL)?,
            },
            GFP_KERNEL,
        )?;
    }
    let mut kbuf = KBox::new([0u8; SYMBOL_BUF_LEN], GFP_KERNEL)?;
    let mut line = KBox::new(Line::new(), GFP_KERNEL)?;
    for m in modules.iter() {
        report.modules += 1;
        let symtab = m.symtab_len() as u64;
        let total = parity::boundary_count(m.regions().as_slice());
        let sample = parity::sample_len(total, symtab, VERIFY_BUDGET);
        let chunk = (CHUNK_WORK / symtab.max(1)).clamp(1, CHUNK);
        let mut k = 0;
        while k < sample {
            {
                let guard = rcu::read_lock();
                let Some(snap) = reg.snapshot(&guard).filter(|s| s.publishes(m)) else {
                    break;
                };
                let list = m.regions();
                for k in k..sample.min(k + chunk) {
                    let j = parity::sample_position(k, sample, total);
                    let Some(addr) = parity::boundary(list.as_slice(), j) else {
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
                        !kernel_names_module_symbol(theirs) || in_transition(snap, addr)
                    } else {
                        ours == theirs
                    };
                    if !same {
                        report.mismatches += 1;
                        if let Some(mut r) = spare.pop() {
                            r.addr = addr;
                            // Within the capacity reserved above: no allocation.
                            r.modsym.extend_from_slice(ours, GFP_NOWAIT)?;
                            r.kernel.extend_from_slice(theirs, GFP_NOWAIT)?;
                            let _ = report.first.push_within_capacity(r);
                        }
                    }
                }
            }
            k = sample.min(k + chunk);
            if kcall::signal_pending() {
                return Err(ERESTARTSYS);
            }
            kcall::cond_resched();
        }
    }
    Ok(report)
}

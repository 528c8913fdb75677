// SPDX-License-Identifier: GPL-2.0

//! `bench`: modsym's lookup timed against the kernel's `sprint_symbol()` on
//! the same addresses, per module.

#![forbid(unsafe_code)]

use core::hint::black_box;

use kernel::{
    prelude::*,
    sync::rcu,
    time::{Instant, Monotonic},
};

use crate::{
    format::Line,
    kcall::{self, SYMBOL_BUF_LEN},
    parity,
    registry::{elapsed_ns, Registry},
    verify,
};

/// Addresses per module in the benchmark sample.
const BENCH_SAMPLE: usize = 1000;

/// Shortest timed run per side. The clock can be coarse (`refined-jiffies`,
/// 4 ms, in guests without a usable TSC), so passes are repeated beyond the
/// requested iterations until this much time has elapsed.
const MIN_BENCH_NS: u64 = 100_000_000;

/// Longest timed run per side: passes stop here even if fewer than the
/// requested iterations ran (the kernel's side scans a whole symtab per
/// address), so one read is bounded by modules x 2 x this.
const MAX_BENCH_NS: u64 = 2_000_000_000;

/// Most addresses looked up between two checks for a pending signal.
const SIGNAL_CHECK: usize = 16;

/// One module's benchmark result.
pub(crate) struct BenchRow {
    /// Module name.
    pub(crate) name: KVec<u8>,
    /// Entries of the module's symtab.
    pub(crate) symtab: usize,
    /// Addresses in the sample.
    pub(crate) addresses: usize,
    /// Total time of modsym lookups (lookup + format), ns.
    pub(crate) modsym_total: u64,
    /// Number of modsym lookups timed.
    pub(crate) modsym_lookups: u64,
    /// Total time of `sprint_symbol()` on the same addresses, ns.
    pub(crate) kernel_total: u64,
    /// Number of `sprint_symbol()` calls timed.
    pub(crate) kernel_lookups: u64,
}

impl BenchRow {
    /// ns per modsym lookup.
    pub(crate) fn modsym_ns(&self) -> u64 {
        self.modsym_total / self.modsym_lookups.max(1)
    }

    /// ns per kernel lookup.
    pub(crate) fn kernel_ns(&self) -> u64 {
        self.kernel_total / self.kernel_lookups.max(1)
    }

    /// kernel ns per lookup / modsym ns per lookup, in tenths.
    pub(crate) fn ratio_tenths(&self) -> u64 {
        parity::ratio_tenths(
            self.modsym_total,
            self.modsym_lookups,
            self.kernel_total,
            self.kernel_lookups,
        )
    }
}

/// Runs `lookups` over `sample` in chunks of `chunk` addresses, pass after
/// pass, at least `iterations` times and for at least [`MIN_BENCH_NS`], but
/// no longer than [`MAX_BENCH_NS`]; returns the elapsed ns and the number of
/// lookups. `lookups` returns `false`, having looked nothing up, once the
/// sample may no longer be used; the run ends there.
///
/// # Errors
///
/// `ERESTARTSYS` when a signal is pending (checked before every chunk).
fn timed_lookups(
    sample: &[u64],
    chunk: usize,
    iterations: u64,
    mut lookups: impl FnMut(&[u64]) -> bool,
) -> Result<(u64, u64)> {
    let start = Instant::<Monotonic>::now();
    let mut passes = 0u64;
    let mut done = 0u64;
    loop {
        for c in sample.chunks(chunk.max(1)) {
            if kcall::signal_pending() {
                return Err(ERESTARTSYS);
            }
            if !lookups(c) {
                return Ok((elapsed_ns(start), done));
            }
            done += c.len() as u64;
            kcall::cond_resched();
        }
        passes += 1;
        let ns = elapsed_ns(start);
        if (passes >= iterations && ns >= MIN_BENCH_NS) || ns >= MAX_BENCH_NS {
            return Ok((ns, done));
        }
    }
}

/// Times modsym and `sprint_symbol()` on a fixed sample of up to
/// [`BENCH_SAMPLE`] addresses per module (the middle of evenly spaced
/// indexed symbols), `iterations` times each (see [`timed_lookups`]).
///
/// # Errors
///
/// `ERESTARTSYS` if the reading task has a signal pending; allocation
/// failures.
///
/// The sample is taken under RCU while the module is published, of
/// addresses [`verify::kernel_can_print`] accepts; the kernel's lookups of
/// them run while it still is (modsym's are safe for any address).
pub(crate) fn bench(reg: &Registry, iterations: u64) -> Result<KVec<BenchRow>> {
    let modules = reg.indexed()?;
    let mut rows = KVec::new();
    let mut kbuf = KBox::new([0u8; SYMBOL_BUF_LEN], GFP_KERNEL)?;
    let mut line = KBox::new(Line::new(), GFP_KERNEL)?;
    for m in modules.iter() {
        let mut sample = KVec::with_capacity(BENCH_SAMPLE, GFP_KERNEL)?;
        let mut name = KVec::new();
        name.extend_from_slice(m.name(), GFP_KERNEL)?;
        {
            // The sample reads the module's table: only while it is published.
            let guard = rcu::read_lock();
            if !reg.snapshot(&guard).is_some_and(|s| s.publishes(m)) {
                continue;
            }
            parity::bench_sample(m.regions().as_slice(), BENCH_SAMPLE, |a| {
                if verify::kernel_can_print(reg, a) {
                    let _ = sample.push_within_capacity(a);
                }
            });
        }
        if sample.is_empty() {
            continue;
        }
        let (modsym_total, modsym_lookups) =
            timed_lookups(&sample, SIGNAL_CHECK, iterations, |chunk| {
                for &a in chunk {
                    line.clear();
                    let _ = black_box(reg.resolve_line(black_box(a), &mut line));
                }
                true
            })?;
        // The sample was vetted while the module was published: each chunk
        // runs in one RCU read-side section in which it still is, so that
        // its memory, and with it every vetted address, stays the module's
        // (an address of another module could have a name the kernel writes
        // before its buffer for). Fewer addresses per section for larger
        // modules, as in `verify`.
        let chunk = (verify::CHUNK_WORK / (m.symtab_len() as u64).max(1))
            .clamp(1, SIGNAL_CHECK as u64) as usize;
        let (kernel_total, kernel_lookups) = timed_lookups(&sample, chunk, iterations, |chunk| {
            let guard = rcu::read_lock();
            if !reg.snapshot(&guard).is_some_and(|s| s.publishes(m)) {
                return false;
            }
            for &a in chunk {
                black_box(kcall::sprint_symbol(black_box(a), &mut kbuf));
            }
            true
        })?;
        // No row for a module that left before both sides were timed.
        if modsym_lookups == 0 || kernel_lookups == 0 {
            continue;
        }
        rows.push(
            BenchRow {
                name,
                symtab: m.symtab_len(),
                addresses: sample.len(),
                modsym_total,
                modsym_lookups,
                kernel_total,
                kernel_lookups,
            },
            GFP_KERNEL,
        )?;
    }
    Ok(rows)
}

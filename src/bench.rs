// SPDX-License-Identifier: GPL-2.0

//! `bench`: modsym's lookup timed against the kernel's `sprint_symbol()` on
//! the same addresses, per module.

#![forbid(unsafe_code)]

use core::hint::black_box;

use kernel::{
    prelude::*,
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

/// Runs `pass` at least `iterations` times and for at least
/// [`MIN_BENCH_NS`]; returns the elapsed ns and the number of passes.
fn timed_passes(iterations: u64, mut pass: impl FnMut()) -> (u64, u64) {
    let start = Instant::<Monotonic>::now();
    let mut passes = 0u64;
    loop {
        pass();
        passes += 1;
        kcall::cond_resched();
        if passes >= iterations {
            let ns = elapsed_ns(start);
            if ns >= MIN_BENCH_NS {
                return (ns, passes);
            }
        }
    }
}

/// Times modsym and `sprint_symbol()` on a fixed sample of up to
/// [`BENCH_SAMPLE`] addresses per module (the middle of evenly spaced
/// indexed symbols), `iterations` times each.
///
/// The sample is taken under the writer lock; the timing runs without it
/// (both paths are RCU-only and safe for any address).
pub(crate) fn bench(reg: &Registry, iterations: u64) -> Result<KVec<BenchRow>> {
    let ids = reg.lock().ids()?;
    let mut rows = KVec::new();
    let mut kbuf = KBox::new([0u8; SYMBOL_BUF_LEN], GFP_KERNEL)?;
    let mut line = KBox::new(Line::new(), GFP_KERNEL)?;
    for id in ids.iter().copied() {
        let mut sample = KVec::with_capacity(BENCH_SAMPLE, GFP_KERNEL)?;
        let mut name = KVec::new();
        let symtab;
        {
            let w = reg.lock();
            let Some(m) = w.get(id) else { continue };
            name.extend_from_slice(m.name(), GFP_KERNEL)?;
            symtab = m.symtab_len();
            parity::bench_sample(m.regions().as_slice(), BENCH_SAMPLE, |a| {
                if verify::kernel_can_print(reg, a) {
                    let _ = sample.push_within_capacity(a);
                }
            });
        }
        if sample.is_empty() {
            continue;
        }
        let (modsym_total, modsym_passes) = timed_passes(iterations, || {
            for &a in sample.iter() {
                line.clear();
                let _ = black_box(reg.resolve_line(black_box(a), &mut line));
            }
        });
        let (kernel_total, kernel_passes) = timed_passes(iterations, || {
            for &a in sample.iter() {
                black_box(kcall::sprint_symbol(black_box(a), &mut kbuf));
            }
        });
        rows.push(
            BenchRow {
                name,
                symtab,
                addresses: sample.len(),
                modsym_total,
                modsym_lookups: (sample.len() as u64).saturating_mul(modsym_passes),
                kernel_total,
                kernel_lookups: (sample.len() as u64).saturating_mul(kernel_passes),
            },
            GFP_KERNEL,
        )?;
    }
    Ok(rows)
}

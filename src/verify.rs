// SPDX-License-Identifier: GPL-2.0

//! Parity check and benchmark against the kernel's own `sprint_symbol()`.

use core::hint::black_box;

use kernel::{
    prelude::*,
    time::{Instant, Monotonic},
};

use crate::{
    ffi::{self, KTable, ModState, SYMBOL_BUF_LEN},
    format::Line,
    index::SymbolTable,
    registry::{ModIndex, RegionIndex, Registry, Writer},
};

/// Bound on (addresses checked x symtab size) per module: `sprint_symbol()`
/// scans the whole symtab for every address. Every boundary of a module of up
/// to about 6,000 symtab entries is checked (a 1,000-function test module:
/// 80 M on x86_64, 112 M on arm64); larger ones are sampled.
const VERIFY_BUDGET: u64 = 120_000_000;

/// At most this many mismatches are reported in detail.
pub(crate) const MAX_REPORTED: usize = 10;

/// Addresses per module in the benchmark sample.
const BENCH_SAMPLE: usize = 1000;

/// Addresses checked between two `cond_resched()` calls.
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

/// Whether the kernel resolves `addr` only because the module holding it is
/// between two notifications: COMING before our COMING handler ran, LIVE before
/// our LIVE handler adopted it (only around modsym's own load), LIVE with
/// its init memory not yet torn down after our LIVE handler dropped it, GOING
/// after our GOING handler removed it, or already gone. modsym answers `?` in
/// these windows by design (it must not read memory the kernel is about to
/// free); everywhere else the answers must agree.
fn in_transition(w: &Writer, addr: u64) -> bool {
    match ffi::module_at(addr) {
        None => true,
        Some(m) => match m.state {
            ModState::Live => m.in_init || w.get(m.id).is_none(),
            ModState::Coming | ModState::Going => w.get(m.id).is_none(),
            ModState::Unformed => true,
        },
    }
}

/// The `j`-th boundary address of a module: per region its first and last
/// byte, then per indexed symbol `v - 1`, `v`, `v + 1` and `next - 1`.
fn boundary(regions: &[(&KTable, &RegionIndex)], mut j: u64) -> Option<u64> {
    for &(table, r) in regions {
        let count = 4 * r.entries.len() as u64 + 2;
        if j >= count {
            j -= count;
            continue;
        }
        return Some(match j {
            0 => r.region.base,
            1 => r.region.end().wrapping_sub(1),
            _ => {
                let e = usize::try_from((j - 2) / 4).ok()?;
                let v = table.value(*r.entries.get(e)? as usize);
                match (j - 2) % 4 {
                    0 => v.wrapping_sub(1),
                    1 => v,
                    2 => v.wrapping_add(1),
                    _ => v.wrapping_add(r.size_at(table, e)).wrapping_sub(1),
                }
            }
        });
    }
    None
}

/// Number of boundary addresses of a module, see [`boundary`].
fn boundary_count(regions: &[(&KTable, &RegionIndex)]) -> u64 {
    regions
        .iter()
        .map(|(_, r)| 4 * r.entries.len() as u64 + 2)
        .sum()
}

fn regions_of(m: &ModIndex) -> ([Option<(&KTable, &RegionIndex)>; ffi::MEM_TYPES], usize) {
    let mut out = [None; ffi::MEM_TYPES];
    let mut n = 0;
    for (slot, item) in out.iter_mut().zip(m.regions().iter()) {
        *slot = Some(item);
        n += 1;
    }
    (out, n)
}

/// Runs the parity check over every indexed module.
///
/// Each module is checked with the writer mutex held, so it cannot be
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
        let (list, n) = regions_of(m);
        let mut regions = KVec::with_capacity(n, GFP_KERNEL)?;
        for item in list.iter().flatten() {
            regions.push(*item, GFP_KERNEL)?;
        }
        let total = boundary_count(&regions);
        let symtab = (m.symtab_len() as u64).max(1);
        let sample = total.min((VERIFY_BUDGET / symtab).max(1));
        for k in 0..sample {
            let j = if sample == total {
                k
            } else {
                k.saturating_mul(total) / sample
            };
            let Some(addr) = boundary(&regions, j) else {
                continue;
            };
            report.addresses += 1;
            let ours = modsym_answer(reg, addr, &mut line);
            let theirs = ffi::kernel_sprint_symbol(addr, &mut kbuf);
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
                ffi::cond_resched();
            }
        }
        drop(regions);
        drop(w);
        ffi::cond_resched();
    }
    Ok(report)
}

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
        let kernel = u128::from(self.kernel_total) * u128::from(self.modsym_lookups.max(1));
        let modsym = u128::from(self.modsym_total.max(1)) * u128::from(self.kernel_lookups.max(1));
        // Divide in u64 (no 128-bit division helper in the kernel): scale
        // both down until they fit.
        let shift = (128 - kernel.max(modsym).leading_zeros()).saturating_sub(60);
        let k = u64::try_from(kernel >> shift).unwrap_or(u64::MAX);
        let m = u64::try_from(modsym >> shift).unwrap_or(u64::MAX).max(1);
        k.saturating_mul(10) / m
    }
}

fn elapsed_ns(start: Instant<Monotonic>) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(0)
}

/// Shortest timed run per side. The clock can be coarse (`refined-jiffies`,
/// 4 ms, in TCG guests without a usable TSC), so passes are repeated beyond
/// the requested iterations until this much time has elapsed.
const MIN_BENCH_NS: u64 = 100_000_000;

/// Runs `pass` at least `iterations` times and for at least
/// [`MIN_BENCH_NS`]; returns the elapsed ns and the number of passes.
fn timed_passes(iterations: u64, mut pass: impl FnMut()) -> (u64, u64) {
    let start = Instant::<Monotonic>::now();
    let mut passes = 0u64;
    loop {
        pass();
        passes += 1;
        ffi::cond_resched();
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
/// The sample is taken under the writer mutex; the timing runs without it
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
            let (list, _) = regions_of(m);
            let total = m.indexed();
            let n = total.min(BENCH_SAMPLE);
            let mut k = 0;
            let mut seen = 0usize;
            for &(table, r) in list.iter().flatten() {
                for e in 0..r.entries.len() {
                    // Entry `seen` is picked when it is the k-th of n evenly spaced ones.
                    if k < n && seen == k * total / n {
                        let v = r.entries.get(e).map_or(0, |&i| table.value(i as usize));
                        let a = v.wrapping_add(r.size_at(table, e) / 2);
                        if sample.push_within_capacity(a).is_err() {
                            break;
                        }
                        k += 1;
                    }
                    seen += 1;
                }
            }
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
                black_box(ffi::kernel_sprint_symbol(black_box(a), &mut kbuf));
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

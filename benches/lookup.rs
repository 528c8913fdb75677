// SPDX-License-Identifier: GPL-2.0

//! Benchmarks: index build and lookup vs the linear kernel loop, at 1k..1M
//! symbols and on the largest real `.ko` found; the index layout comparison
//! (4-byte indirect, the kernel's choice, vs 8-byte offset+index, vs
//! Eytzinger orders); and a compact markdown summary (printed after the
//! criterion run, also written to `target/modsym-bench.md`).
//!
//! `cargo bench` runs everything; `cargo bench -- --summary-only` skips the
//! criterion groups and prints only the table.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{oracle, Module, Rng, Table};
use criterion::{BenchmarkId, Criterion, Throughput};
use modsym_core::index::{self, Hit, Region, SymbolTable};
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];
const PROBES: usize = 4096;

/// Alternative layout: `(offset from region base, symtab index)`, 8 bytes,
/// sorted, searched without touching the symtab.
struct Pair8 {
    region: Region,
    pairs: Vec<(u32, u32)>,
}

impl Pair8 {
    fn build(t: &Table, region: Region, entries: &[u32]) -> Self {
        let pairs = entries
            .iter()
            .map(|&e| ((t.value(e as usize) - region.base) as u32, e))
            .collect();
        Self { region, pairs }
    }

    #[inline]
    fn lookup(&self, addr: u64) -> Option<Hit> {
        if !self.region.contains(addr) {
            return None;
        }
        let off = (addr - self.region.base) as u32;
        let p = self.pairs.partition_point(|&(o, _)| o <= off);
        let &(bo, bi) = self.pairs.get(p.checked_sub(1)?)?;
        let next = self.pairs.get(p).map_or(self.region.size, |&(o, _)| o);
        Some(Hit {
            index: bi,
            value: self.region.base + u64::from(bo),
            offset: u64::from(off - bo),
            size: u64::from(next - bo),
        })
    }
}

/// Eytzinger (BFS) order of the 8-byte pairs: predecessor = last node where
/// the descent went right, successor = last node where it went left.
struct Eytz8 {
    region: Region,
    nodes: Vec<(u32, u32)>, // 1-based; nodes[0] unused
}

fn eytzinger_fill<T: Copy>(sorted: &[T], out: &mut [T], k: usize, next: &mut usize) {
    if k < out.len() {
        eytzinger_fill(sorted, out, 2 * k, next);
        out[k] = sorted[*next];
        *next += 1;
        eytzinger_fill(sorted, out, 2 * k + 1, next);
    }
}

impl Eytz8 {
    fn build(p: &Pair8) -> Self {
        let mut nodes = vec![(0, 0); p.pairs.len() + 1];
        eytzinger_fill(&p.pairs, &mut nodes, 1, &mut 0);
        Self {
            region: p.region,
            nodes,
        }
    }

    #[inline]
    fn lookup(&self, addr: u64) -> Option<Hit> {
        if !self.region.contains(addr) {
            return None;
        }
        let off = (addr - self.region.base) as u32;
        let n = self.nodes.len();
        let (mut k, mut best, mut next) = (1usize, 0usize, 0usize);
        while k < n {
            let right = self.nodes[k].0 <= off;
            best = if right { k } else { best };
            next = if right { next } else { k };
            k = 2 * k + usize::from(right);
        }
        if best == 0 {
            return None;
        }
        let (bo, bi) = self.nodes[best];
        let next = if next == 0 {
            self.region.size
        } else {
            self.nodes[next].0
        };
        Some(Hit {
            index: bi,
            value: self.region.base + u64::from(bo),
            offset: u64::from(off - bo),
            size: u64::from(next - bo),
        })
    }
}

/// Eytzinger order of the 4-byte indirect entries (values read through the
/// symtab, like the kernel layout, only the order differs).
struct Eytz4 {
    region: Region,
    nodes: Vec<u32>,
}

impl Eytz4 {
    fn build(region: Region, entries: &[u32]) -> Self {
        let mut nodes = vec![0; entries.len() + 1];
        eytzinger_fill(entries, &mut nodes, 1, &mut 0);
        Self { region, nodes }
    }

    #[inline]
    fn lookup(&self, t: &Table, addr: u64) -> Option<Hit> {
        if !self.region.contains(addr) {
            return None;
        }
        let n = self.nodes.len();
        let (mut k, mut best, mut next) = (1usize, 0usize, 0usize);
        while k < n {
            let right = t.value(self.nodes[k] as usize) <= addr;
            best = if right { k } else { best };
            next = if right { next } else { k };
            k = 2 * k + usize::from(right);
        }
        if best == 0 {
            return None;
        }
        let bi = self.nodes[best];
        let value = t.value(bi as usize);
        let next = if next == 0 {
            self.region.end()
        } else {
            t.value(self.nodes[next] as usize)
        };
        Some(Hit {
            index: bi,
            value,
            offset: addr - value,
            size: next - value,
        })
    }
}

/// A benchmark subject: table, text region, its index and probe addresses.
struct Subject {
    label: String,
    table: Table,
    regions: Vec<Region>,
    text: Region,
    entries: Vec<u32>,
    probes: Vec<u64>,
}

impl Subject {
    fn synthetic(n: usize) -> Self {
        let (table, regions) = common::synthetic(n, 0x5eed_0000 + n as u64);
        Self::new(human(n), table, regions)
    }

    fn new(label: String, table: Table, regions: Vec<Region>) -> Self {
        // The text region, or the biggest one if text is empty.
        let text = if regions[0].size > 0 {
            regions[0]
        } else {
            *regions.iter().max_by_key(|r| r.size).unwrap()
        };
        let mut entries = vec![0u32; common::count_region(&table, text)];
        let used = common::build_region(&table, text, &mut entries).unwrap();
        entries.truncate(used);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ table.len() as u64);
        let probes = (0..PROBES)
            .map(|_| text.base + rng.below(u64::from(text.size)))
            .collect();
        let s = Self {
            label,
            table,
            regions,
            text,
            entries,
            probes,
        };
        s.self_check();
        s
    }

    /// All layouts agree with the kernel loop on some probes (honest comparison).
    fn self_check(&self) {
        let p8 = Pair8::build(&self.table, self.text, &self.entries);
        let e8 = Eytz8::build(&p8);
        let e4 = Eytz4::build(self.text, &self.entries);
        for &a in self.probes.iter().take(64) {
            let want = oracle(&self.table, self.text, a);
            assert_eq!(
                index::lookup(&self.table, self.text, &self.entries, a),
                want
            );
            assert_eq!(p8.lookup(a), want);
            assert_eq!(e8.lookup(a), want);
            assert_eq!(e4.lookup(&self.table, a), want);
        }
    }
}

fn human(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The largest real module found (by symtab entries), if any.
fn real_ko() -> Option<Subject> {
    let (_, kos) = common::ko::all_kos();
    let path = kos
        .iter()
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))?;
    let ko = common::ko::load(path).ok()?;
    let name = path.file_name()?.to_string_lossy().into_owned();
    Some(Subject::new(name, ko.full, ko.regions))
}

fn bench_lookup(c: &mut Criterion, subjects: &[Subject]) {
    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(1));
    for s in subjects {
        let mut k = 0;
        g.bench_function(BenchmarkId::new("index", &s.label), |b| {
            b.iter(|| {
                k = (k + 1) % PROBES;
                index::lookup(&s.table, s.text, &s.entries, black_box(s.probes[k]))
            })
        });
        g.bench_function(BenchmarkId::new("linear-oracle", &s.label), |b| {
            b.iter(|| {
                k = (k + 1) % PROBES;
                oracle(&s.table, s.text, black_box(s.probes[k]))
            })
        });
    }
    g.finish();
}

fn bench_build(c: &mut Criterion, subjects: &[Subject]) {
    let mut g = c.benchmark_group("build-all-regions");
    for s in subjects {
        g.throughput(Throughput::Elements(s.table.len() as u64));
        g.bench_function(BenchmarkId::from_parameter(&s.label), |b| {
            b.iter(|| Module::build_unchecked(&s.table, &s.regions).entries())
        });
    }
    g.finish();
}

fn bench_layouts(c: &mut Criterion, subjects: &[Subject]) {
    let mut g = c.benchmark_group("layout");
    g.throughput(Throughput::Elements(1));
    for s in subjects {
        let p8 = Pair8::build(&s.table, s.text, &s.entries);
        let e8 = Eytz8::build(&p8);
        let e4 = Eytz4::build(s.text, &s.entries);
        let mut k = 0;
        g.bench_function(BenchmarkId::new("indirect4-sorted", &s.label), |b| {
            b.iter(|| {
                k = (k + 1) % PROBES;
                index::lookup(&s.table, s.text, &s.entries, black_box(s.probes[k]))
            })
        });
        g.bench_function(BenchmarkId::new("indirect4-eytzinger", &s.label), |b| {
            b.iter(|| {
                k = (k + 1) % PROBES;
                e4.lookup(&s.table, black_box(s.probes[k]))
            })
        });
        g.bench_function(BenchmarkId::new("pair8-sorted", &s.label), |b| {
            b.iter(|| {
                k = (k + 1) % PROBES;
                p8.lookup(black_box(s.probes[k]))
            })
        });
        g.bench_function(BenchmarkId::new("pair8-eytzinger", &s.label), |b| {
            b.iter(|| {
                k = (k + 1) % PROBES;
                e8.lookup(black_box(s.probes[k]))
            })
        });
    }
    g.finish();
}

fn bench_names(c: &mut Criterion, subjects: &[Subject]) {
    let mut g = c.benchmark_group("lookup-name");
    for s in subjects.iter().filter(|s| s.table.len() <= 100_000) {
        let mut names = vec![0u32; index::count_names(&s.table)];
        index::build_names(&s.table, &mut names).unwrap();
        let queries: Vec<Vec<u8>> = s
            .probes
            .iter()
            .filter_map(|&a| index::lookup(&s.table, s.text, &s.entries, a))
            .map(|h| s.table.name(h.index as usize).to_vec())
            .collect();
        let mut k = 0;
        g.bench_function(BenchmarkId::new("index", &s.label), |b| {
            b.iter(|| {
                k = (k + 1) % queries.len();
                index::lookup_name(&s.table, &names, black_box(&queries[k])).len()
            })
        });
        g.bench_function(BenchmarkId::new("linear", &s.label), |b| {
            b.iter(|| {
                k = (k + 1) % queries.len();
                let q = black_box(&queries[k]);
                (1..s.table.len()).find(|&i| s.table.shndx(i) != 0 && s.table.name(i) == &q[..])
            })
        });
    }
    g.finish();
}

/// Mean ns per call of `f` over the probe addresses, for about `budget`.
fn time_per_call(budget: Duration, mut f: impl FnMut(u64) -> Option<Hit>, probes: &[u64]) -> f64 {
    let mut calls = 0u64;
    let start = Instant::now();
    let mut sink = 0u64;
    while start.elapsed() < budget || calls < 8 {
        for &a in probes
            .iter()
            .take(if calls == 0 { 8 } else { probes.len() })
        {
            sink = sink.wrapping_add(f(black_box(a)).map_or(0, |h| h.offset));
            calls += 1;
        }
        if start.elapsed() > budget * 4 {
            break;
        }
    }
    black_box(sink);
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Rounds of [`median_builds`].
const BUILD_ROUNDS: usize = 10;

/// The median build of each subject, and the entries it indexes. On a
/// shared host, bursts of load from elsewhere last seconds: the builds are
/// sampled in [`BUILD_ROUNDS`] rounds of 100 ms per subject, round-robin
/// over the subjects, so that a burst falls in a few of a subject's rounds
/// and moves its median little (a mean, or one window, would take it in).
fn median_builds(subjects: &[Subject]) -> Vec<(f64, usize)> {
    let window = Duration::from_millis(100);
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); subjects.len()];
    let mut indexed = vec![0; subjects.len()];
    for _ in 0..BUILD_ROUNDS {
        for (s, (builds, n)) in subjects
            .iter()
            .zip(samples.iter_mut().zip(indexed.iter_mut()))
        {
            let t0 = Instant::now();
            while t0.elapsed() < window {
                let t = Instant::now();
                *n = Module::build_unchecked(&s.table, &s.regions).entries();
                builds.push(t.elapsed().as_nanos() as f64);
            }
        }
    }
    samples
        .iter_mut()
        .zip(indexed)
        .map(|(builds, n)| {
            builds.sort_by(f64::total_cmp);
            (builds[builds.len() / 2], n)
        })
        .collect()
}

/// The compact markdown table for the README.
fn summary(subjects: &[Subject]) -> String {
    let budget = Duration::from_millis(300);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| symtab entries | indexed (all regions) | index bytes | bytes/symtab entry | build (all regions), median | lookup: index | lookup: linear loop | speed-up |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    let mut layout_rows = String::new();
    for (s, (build_ns, indexed)) in subjects.iter().zip(median_builds(subjects)) {
        let idx = time_per_call(
            budget,
            |a| index::lookup(&s.table, s.text, &s.entries, a),
            &s.probes,
        );
        let lin = time_per_call(budget, |a| oracle(&s.table, s.text, a), &s.probes);
        let bytes = index::index_bytes(indexed);
        let _ = writeln!(
            out,
            "| {} ({}) | {} | {} | {:.2} | {} | {} | {} | {:.0}x |",
            s.label,
            s.table.len(),
            indexed,
            bytes,
            bytes as f64 / s.table.len() as f64,
            fmt_ns(build_ns),
            fmt_ns(idx),
            fmt_ns(lin),
            lin / idx
        );
        let p8 = Pair8::build(&s.table, s.text, &s.entries);
        let e8 = Eytz8::build(&p8);
        let e4 = Eytz4::build(s.text, &s.entries);
        let e4t = time_per_call(budget, |a| e4.lookup(&s.table, a), &s.probes);
        let p8t = time_per_call(budget, |a| p8.lookup(a), &s.probes);
        let e8t = time_per_call(budget, |a| e8.lookup(a), &s.probes);
        let _ = writeln!(
            layout_rows,
            "| {} ({} text entries) | {} | {} | {} | {} |",
            s.label,
            s.entries.len(),
            fmt_ns(idx),
            fmt_ns(e4t),
            fmt_ns(p8t),
            fmt_ns(e8t)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| layout (text region) | indirect 4 B sorted (kernel) | indirect 4 B Eytzinger | offset+index 8 B sorted | offset+index 8 B Eytzinger |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    out.push_str(&layout_rows);
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let summary_only = args.iter().any(|a| a == "--summary-only");
    let benching = args.iter().any(|a| a == "--bench");
    let mut subjects: Vec<Subject> = SIZES.iter().map(|&n| Subject::synthetic(n)).collect();
    match real_ko() {
        Some(s) => subjects.push(s),
        None => eprintln!("no real .ko found (MODSYM_KO_DIRS / MODSYM_CACHE): skipping that case"),
    }
    if !summary_only {
        let mut c = Criterion::default()
            .sample_size(10)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_secs(1))
            .configure_from_args();
        bench_lookup(&mut c, &subjects);
        bench_build(&mut c, &subjects);
        bench_layouts(&mut c, &subjects);
        bench_names(&mut c, &subjects);
        c.final_summary();
    }
    if benching || summary_only {
        let table = summary(&subjects);
        println!("\n{table}");
        let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        let _ = std::fs::write(std::path::Path::new(&dir).join("modsym-bench.md"), &table);
    }
}

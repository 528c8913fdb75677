// SPDX-License-Identifier: GPL-2.0

//! The debugfs files in `/sys/kernel/debug/modsym/`: what each prints and
//! accepts, and who may open them.
//!
//! Each file is a [`LineFile`]: per-open state, one item per output line and,
//! for the writable files, a write handler that validates the whole input
//! before changing anything. Formats are documented in the README.

#![forbid(unsafe_code)]

use core::fmt::Write;

use kernel::{prelude::*, sync::rcu, sync::Arc};

use crate::{
    accel,
    bench::{self, BenchRow},
    format::{self, Line},
    index::SymbolTable,
    kcall,
    parse::{self, ParseError},
    registry::{self, ModIndex, ModName, Registry, Snapshot},
    seqfile::{DebugfsDir, FileData, LineFile, Text},
    sized_gfp,
    verify::{self, Report},
};

/// Largest `resolve` write.
const RESOLVE_MAX_WRITE: usize = 256 * 1024;
/// Most addresses one open `resolve` file holds: every address written to it
/// since it was opened, read or not.
const RESOLVE_MAX_ADDRESSES: usize = 1 << 20;
/// Largest `lookup` write.
const LOOKUP_MAX_WRITE: usize = 4096;
/// Largest `bench` write (longer is "over" the maximum: `-E2BIG`).
const BENCH_MAX_WRITE: usize = 4096;
/// Most benchmark iterations.
const BENCH_MAX_ITERATIONS: u64 = 1_000_000;
/// Largest `accelerate` write.
const ACCELERATE_MAX_WRITE: usize = 64;

/// Creates the directory and its files.
pub(crate) fn create(reg: Arc<Registry>) -> Result<DebugfsDir<Registry>> {
    let dir = DebugfsDir::new(c"modsym", reg)?;
    dir.file::<Resolve>(c"resolve", 0o600)?;
    dir.file::<Lookup>(c"lookup", 0o600)?;
    dir.file::<Modules>(c"modules", 0o400)?;
    dir.file::<Symbols>(c"symbols", 0o400)?;
    dir.file::<Verify>(c"verify", 0o400)?;
    dir.file::<Bench>(c"bench", 0o600)?;
    dir.file::<Accelerate>(c"accelerate", 0o600)?;
    Ok(dir)
}

/// What an open file shows: kernel addresses, or zeros in their place.
#[derive(Clone, Copy)]
pub(crate) struct View {
    addresses: bool,
}

impl View {
    /// `addr` as this opener may see it (`0` where `/proc/kallsyms` shows zeros).
    fn addr(self, addr: u64) -> u64 {
        if self.addresses {
            addr
        } else {
            0
        }
    }
}

/// Who may open the files and what they see, like `/proc/kallsyms`: only
/// with `CAP_SYSLOG`, and addresses only where `kptr_restrict` lets the
/// opener see them. `resolve` echoes the addresses it was given and prints
/// `%pS`, which `kptr_restrict` does not restrict.
impl FileData for Registry {
    type View = View;

    fn may_open(&self) -> Result<View> {
        if !kcall::capable_syslog() {
            return Err(EPERM);
        }
        Ok(View {
            addresses: !kcall::addresses_hidden(),
        })
    }
}

/// Whether an item exists, its line formatted; [`format::Overflow`] if the
/// line did not fit (cannot happen: lines fit by construction), which fails
/// the read with `EOVERFLOW` rather than ending the listing early.
type Found = core::result::Result<bool, format::Overflow>;

/// Appends a formatted [`Line`] to `out`; `EOVERFLOW` if it did not fit
/// (see [`Found`]).
fn push_line(
    out: &mut Text,
    fill: impl FnOnce(&mut Line) -> Result<(), format::Overflow>,
) -> Result {
    let mut line = Line::new();
    fill(&mut line).map_err(|_| EOVERFLOW)?;
    out.push(line.as_bytes())
}

/// Formats the line of an item from the published snapshot, under RCU, with
/// `nth`, then appends it to `out` outside RCU (`out` may allocate); `false`
/// past the last item, `EOVERFLOW` if the line did not fit (see [`Found`]).
fn snapshot_line(
    reg: &Registry,
    out: &mut Text,
    nth: impl FnOnce(&Snapshot, &mut Line) -> Found,
) -> Result<bool> {
    let mut line = Line::new();
    let found = {
        let guard = rcu::read_lock();
        match reg.snapshot(&guard) {
            Some(snap) => nth(snap, &mut line),
            None => Ok(false),
        }
    }
    .map_err(|_| EOVERFLOW)?;
    if found {
        out.push(line.as_bytes())?;
    }
    Ok(found)
}

/// `resolve`: addresses written on this fd, resolved at read time.
#[derive(Default)]
struct Resolve {
    addrs: KVVec<u64>,
    /// A token cut at the end of the last write waits here for the next one.
    stream: parse::AddressStream,
}

#[vtable]
impl LineFile for Resolve {
    type Data = Registry;
    const MAX_WRITE: usize = RESOLVE_MAX_WRITE;

    fn item(&mut self, reg: &Registry, _view: View, pos: usize, out: &mut Text) -> Result<bool> {
        // Reading ends the input: a token cut at the end of the last write is
        // complete (room for it was reserved by that write). A bare `0x` is dropped.
        if let Ok(Some(addr)) = self.stream.finish() {
            let _ = self.addrs.push_within_capacity(addr);
        }
        let Some(&addr) = self.addrs.get(pos) else {
            return Ok(false);
        };
        push_line(out, |line| reg.resolve_line(addr, line))?;
        Ok(true)
    }

    fn write(&mut self, _reg: &Registry, input: &[u8]) -> Result {
        // The complete addresses and a token this write may cut (which
        // reading completes): room for them all, and within the limit.
        let room = self.stream.added_by(input).map_err(|_| EINVAL)?;
        if self.addrs.len().saturating_add(room) > RESOLVE_MAX_ADDRESSES {
            return Err(E2BIG);
        }
        self.addrs.reserve(room, sized_gfp())?;
        let mut lost = false;
        self.stream
            .feed(input, |addr| {
                lost |= self.addrs.push_within_capacity(addr).is_err();
            })
            .map_err(|_| EINVAL)?;
        if lost {
            // Cannot happen: the room was reserved above.
            return Err(ENOMEM);
        }
        Ok(())
    }
}

/// `lookup`: `[module:]name` written, matching symbols read.
#[derive(Default)]
struct Lookup {
    module: Option<KVec<u8>>,
    name: KVec<u8>,
}

/// The entry at position `*k` among those `each` visits, counting `*k` down
/// past the others.
fn nth_of(k: &mut usize, each: impl FnOnce(&mut dyn FnMut(usize) -> bool)) -> Option<usize> {
    let mut found = None;
    each(&mut |i| {
        if *k == 0 {
            found = Some(i);
            return false;
        }
        *k -= 1;
        true
    });
    found
}

impl Lookup {
    /// Whether module `name` is one this query asks about.
    fn wants(&self, name: &[u8]) -> bool {
        self.module.as_deref().is_none_or(|want| name == want)
    }

    /// The `k`-th match over all modules (indexed ones in registry order,
    /// then those whose index is being built, each in symtab order), into
    /// `line`; `false` past the last.
    fn nth_match(&self, snap: &Snapshot, view: View, mut k: usize, line: &mut Line) -> Found {
        for m in snap.modules().iter().filter(|m| self.wants(m.name())) {
            let core = &m.core;
            let Some(i) = nth_of(&mut k, |f| core.for_each_named(&self.name, f)) else {
                continue;
            };
            let value = core.table.value(i);
            let size = match snap.resolve(value) {
                Some(r)
                    if core::ptr::eq(r.module, &**m)
                        && r.table.same_as(&core.table)
                        && r.hit.index as usize == i =>
                {
                    r.hit.size
                }
                _ => 0,
            };
            let (kind, name) = (core.table.kind(i), core.table.name(i));
            return format::symbol(line, view.addr(value), size, kind, name, m.name())
                .map(|()| true);
        }
        for p in snap.pending().iter().filter(|p| self.wants(p.name())) {
            let Some(i) = nth_of(&mut k, |f| p.for_each_named(&self.name, f)) else {
                continue;
            };
            let table = p.table();
            let (value, size) = (table.value(i), p.size_of(i));
            let (kind, name) = (table.kind(i), table.name(i));
            return format::symbol(line, view.addr(value), size, kind, name, p.name())
                .map(|()| true);
        }
        Ok(false)
    }
}

#[vtable]
impl LineFile for Lookup {
    type Data = Registry;
    const MAX_WRITE: usize = LOOKUP_MAX_WRITE;
    const RESTART_ON_WRITE: bool = true;

    fn item(&mut self, reg: &Registry, view: View, pos: usize, out: &mut Text) -> Result<bool> {
        if self.name.is_empty() {
            return Ok(false);
        }
        snapshot_line(reg, out, |snap, line| self.nth_match(snap, view, pos, line))
    }

    fn write(&mut self, reg: &Registry, input: &[u8]) -> Result {
        let q = parse::parse_name_query(input).map_err(|e| match e {
            ParseError::TooLong { .. } => E2BIG,
            _ => EINVAL,
        })?;
        let module = match q.module {
            Some(m) => {
                let mut v = KVec::new();
                v.extend_from_slice(m, GFP_KERNEL)?;
                Some(v)
            }
            None => None,
        };
        let mut name = KVec::new();
        name.extend_from_slice(q.name, GFP_KERNEL)?;
        // Name indices are built on first use (see `TableIndex::names`);
        // a write refused for lack of memory leaves the old query.
        reg.ensure_names()?;
        self.module = module;
        self.name = name;
        Ok(())
    }
}

/// Appends one `modules` line for `m`.
fn module_line(out: &mut Text, m: &ModIndex) -> core::fmt::Result {
    out.push(m.name()).map_err(|_| core::fmt::Error)?;
    writeln!(
        out,
        " {} {} {} {} {} {}",
        m.state_name(),
        m.symtab_len(),
        m.indexed(),
        m.bytes(),
        m.build_ns(),
        m.ready_ns()
    )
}

/// A module whose index is still being built: its numbers are not known yet.
fn pending_line(out: &mut Text, name: &ModName, state: &str) -> core::fmt::Result {
    out.push(name.as_bytes()).map_err(|_| core::fmt::Error)?;
    writeln!(out, " {state} - - - - pending")
}

/// One line of the `modules` listing, taken from the snapshot under RCU.
enum Listed {
    Indexed(Arc<ModIndex>),
    Pending(ModName, &'static str),
    Held,
}

/// `modules`: header, one line per indexed module, then one per module whose
/// index is being built, then the memory held.
#[derive(Default)]
struct Modules;

#[vtable]
impl LineFile for Modules {
    type Data = Registry;

    fn item(&mut self, reg: &Registry, _view: View, pos: usize, out: &mut Text) -> Result<bool> {
        let Some(k) = pos.checked_sub(1) else {
            out.push(b"# name state symtab indexed bytes build_ns ready_ns\n")?;
            return Ok(true);
        };
        // `out` may allocate, which must not happen under RCU: the module's
        // index is kept by its reference, and only the index is read.
        let listed = {
            let guard = rcu::read_lock();
            let (modules, pending) = reg
                .snapshot(&guard)
                .map_or((&[][..], &[][..]), |s| (s.modules(), s.pending()));
            match k.checked_sub(modules.len()) {
                None => modules.get(k).cloned().map(Listed::Indexed),
                Some(j) => match pending.get(j) {
                    Some(p) => Some(Listed::Pending(p.module_name().clone(), p.state_name())),
                    // Last, what the listed modules' indexes and any not freed
                    // yet hold.
                    None => (j == pending.len()).then_some(Listed::Held),
                },
            }
        };
        // A line that does not fit fails the read (`Text` tells `ENOMEM`).
        match listed {
            Some(Listed::Indexed(m)) => module_line(out, &m)?,
            Some(Listed::Pending(name, state)) => pending_line(out, &name, state)?,
            Some(Listed::Held) => {
                let (tables, bytes) = registry::held();
                writeln!(out, "# held: {tables} indexes, {bytes} bytes")?
            }
            None => return Ok(false),
        };
        Ok(true)
    }
}

/// `symbols`: every indexed symbol, per module in address order.
#[derive(Default)]
struct Symbols;

/// Appends the `k`-th indexed symbol of the snapshot to `line`; `false`
/// past the last.
fn nth_symbol(snap: &Snapshot, view: View, mut k: usize, line: &mut Line) -> Found {
    for m in snap.modules() {
        let n = m.indexed();
        if k >= n {
            k -= n;
            continue;
        }
        for r in m.regions().as_slice() {
            let len = r.entries.len();
            if k >= len {
                k -= len;
                continue;
            }
            let (Some(&i), Some((value, size))) = (r.entries.get(k), r.symbol(k)) else {
                return Ok(false);
            };
            let i = i as usize;
            return format::symbol(
                line,
                view.addr(value),
                size,
                r.table.kind(i),
                r.table.name(i),
                m.name(),
            )
            .map(|()| true);
        }
        return Ok(false);
    }
    Ok(false)
}

#[vtable]
impl LineFile for Symbols {
    type Data = Registry;

    fn item(&mut self, reg: &Registry, view: View, pos: usize, out: &mut Text) -> Result<bool> {
        snapshot_line(reg, out, |snap, line| nth_symbol(snap, view, pos, line))
    }
}

/// `verify`: runs the parity check when read (once per open file).
#[derive(Default)]
struct Verify {
    report: Option<Report>,
}

/// Appends line `pos` of a parity report; `false` past its end.
fn report_line(r: &Report, view: View, pos: usize, out: &mut Text) -> Result<bool> {
    match pos {
        0 => writeln!(out, "modules {}", r.modules)?,
        1 => writeln!(out, "addresses {}", r.addresses)?,
        2 => writeln!(out, "mismatches {}", r.mismatches)?,
        3 => writeln!(out, "skipped {}", r.skipped)?,
        _ => {
            let Some(m) = r.first.get(pos - 4) else {
                return Ok(false);
            };
            write!(out, "mismatch {:#x} modsym: ", view.addr(m.addr))?;
            out.push(&m.modsym)?;
            out.push(b" kernel: ")?;
            out.push(&m.kernel)?;
            out.push(b"\n")?;
        }
    }
    Ok(true)
}

#[vtable]
impl LineFile for Verify {
    type Data = Registry;

    fn item(&mut self, reg: &Registry, view: View, pos: usize, out: &mut Text) -> Result<bool> {
        if self.report.is_none() {
            // The reader gets the error; the next read runs the check again.
            self.report = Some(verify::verify(reg)?);
        }
        let Some(r) = &self.report else {
            return Ok(false);
        };
        report_line(r, view, pos, out)
    }
}

/// `bench`: write an iteration count, read the per-module timings.
struct Bench {
    iterations: u64,
    rows: Option<KVec<BenchRow>>,
}

impl Default for Bench {
    /// Reading without a write runs one iteration.
    fn default() -> Self {
        Self {
            iterations: 1,
            rows: None,
        }
    }
}

/// Appends line `pos` of a benchmark table; `false` past its end.
fn bench_line(rows: &[BenchRow], pos: usize, out: &mut Text) -> Result<bool> {
    let Some(k) = pos.checked_sub(1) else {
        out.push(b"# module symtab addresses modsym_ns kernel_ns ratio\n")?;
        return Ok(true);
    };
    let Some(row) = rows.get(k) else {
        return Ok(false);
    };
    out.push(&row.name)?;
    let ratio = row.ratio_tenths();
    writeln!(
        out,
        " {} {} {} {} {}.{}x",
        row.symtab,
        row.addresses,
        row.modsym_ns(),
        row.kernel_ns(),
        ratio / 10,
        ratio % 10
    )?;
    Ok(true)
}

#[vtable]
impl LineFile for Bench {
    type Data = Registry;
    const MAX_WRITE: usize = BENCH_MAX_WRITE;
    const RESTART_ON_WRITE: bool = true;

    fn item(&mut self, reg: &Registry, _view: View, pos: usize, out: &mut Text) -> Result<bool> {
        if self.rows.is_none() {
            // The reader gets the error; the next read runs the benchmark again.
            self.rows = Some(bench::bench(reg, self.iterations)?);
        }
        let Some(rows) = &self.rows else {
            return Ok(false);
        };
        bench_line(rows, pos, out)
    }

    fn write(&mut self, _reg: &Registry, input: &[u8]) -> Result {
        self.iterations = parse::parse_count(input, BENCH_MAX_ITERATIONS).map_err(|e| match e {
            ParseError::TooLong { .. } => E2BIG,
            _ => EINVAL,
        })?;
        self.rows = None;
        Ok(())
    }
}

/// `accelerate`: whether the kernel's own module address lookups go through
/// modsym (`1`) or not (`0`); write `1` or `0` to switch. Switched on, the
/// lookups answered since, by an index and by a scan, then the same for name
/// lookups (or why those are not replaced); switched off after a refusal,
/// why it was refused.
#[derive(Default)]
struct Accelerate;

/// Appends line `pos` of the `accelerate` file; `false` past its end.
fn accelerate_line(st: &accel::Status, pos: usize, out: &mut Text) -> Result<bool> {
    match (pos, st.on, &st.refusal, st.names) {
        (0, on, _, _) => writeln!(out, "{}", u8::from(on))?,
        (1, true, _, _) => writeln!(out, "indexed {}", st.indexed)?,
        (2, true, _, _) => writeln!(out, "scanned {}", st.scanned)?,
        (3, true, _, Ok(())) => writeln!(out, "names_indexed {}", st.names_indexed)?,
        (4, true, _, Ok(())) => writeln!(out, "names_scanned {}", st.names_scanned)?,
        (3, true, _, Err(why)) => writeln!(out, "names off: {}", why)?,
        (1, false, Some(r), _) => writeln!(out, "refused {}: {}", r.error_name(), r.why)?,
        _ => return Ok(false),
    }
    Ok(true)
}

#[vtable]
impl LineFile for Accelerate {
    type Data = Registry;
    const MAX_WRITE: usize = ACCELERATE_MAX_WRITE;
    const RESTART_ON_WRITE: bool = true;

    fn item(&mut self, _reg: &Registry, _view: View, pos: usize, out: &mut Text) -> Result<bool> {
        accelerate_line(&accel::status(), pos, out)
    }

    fn write(&mut self, _reg: &Registry, input: &[u8]) -> Result {
        accel::set(parse::parse_switch(input).map_err(|_| EINVAL)?)
    }
}

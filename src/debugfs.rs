// SPDX-License-Identifier: GPL-2.0

//! The debugfs files in `/sys/kernel/debug/modsym/`.
//!
//! Each file is a [`SeqHandler`]: per-open state, `seq_file` iteration (one
//! item per output line, prepared in `start` and printed in `show`), and,
//! for the writable files, a write handler that validates the whole input
//! before changing anything. Opening requires `CAP_SYSLOG` (checked in
//! `ffi`). Formats are documented in the README and design notes.

use core::{fmt::Write, marker::PhantomData};

use kernel::{prelude::*, sync::rcu, sync::Arc};

use crate::{
    ffi::{DebugfsDir, SeqHandler, SeqOut},
    format::{self, Line},
    index::SymbolTable,
    parse::{self, ParseError},
    registry::{ModIndex, Registry, Snapshot},
    verify::{self, BenchRow, Report},
};

/// Largest `resolve` write.
const RESOLVE_MAX_WRITE: usize = 256 * 1024;
/// Most addresses pending in one open `resolve` file.
const RESOLVE_MAX_PENDING: usize = 1 << 20;
/// Largest `lookup` write.
const LOOKUP_MAX_WRITE: usize = 4096;
/// Largest `bench` write (longer is "over" the maximum: `-E2BIG`).
const BENCH_MAX_WRITE: usize = 4096;
/// Most benchmark iterations.
const BENCH_MAX_ITERATIONS: u64 = 1_000_000;

/// Creates the directory and its files.
pub(crate) fn create(reg: Arc<Registry>) -> Result<DebugfsDir<Registry>> {
    let dir = DebugfsDir::new(c"modsym", reg)?;
    dir.file::<Resolve>(c"resolve", 0o600)?;
    dir.file::<Lookup>(c"lookup", 0o600)?;
    dir.file::<ListingFile<Modules>>(c"modules", 0o400)?;
    dir.file::<ListingFile<Symbols>>(c"symbols", 0o400)?;
    dir.file::<Verify>(c"verify", 0o400)?;
    dir.file::<Bench>(c"bench", 0o600)?;
    Ok(dir)
}

fn pos_index(pos: u64) -> Option<usize> {
    usize::try_from(pos).ok()
}

/// `resolve`: addresses written on this fd, resolved at read time.
pub(crate) struct Resolve {
    addrs: KVVec<u64>,
    /// A token cut at the end of the last write waits here for the next one.
    stream: parse::AddressStream,
    line: Line,
}

impl SeqHandler for Resolve {
    type Data = Registry;
    const MAX_WRITE: usize = RESOLVE_MAX_WRITE;

    fn open(_reg: &Registry) -> Result<Self> {
        Ok(Self {
            addrs: KVVec::new(),
            stream: parse::AddressStream::new(),
            line: Line::new(),
        })
    }

    fn start(&mut self, reg: &Registry, pos: u64) -> bool {
        // Reading ends the input: a token cut at the end of the last write is
        // complete (room for it was reserved by that write). A bare `0x` is dropped.
        if let Ok(Some(addr)) = self.stream.finish() {
            let _ = self.addrs.push_within_capacity(addr);
        }
        let Some(&addr) = pos_index(pos).and_then(|p| self.addrs.get(p)) else {
            return false;
        };
        self.line.clear();
        if reg.resolve_line(addr, &mut self.line).is_err() {
            // Cannot happen (lines fit by construction); never print half a line.
            self.line.clear();
        }
        true
    }

    fn show(&mut self, _reg: &Registry, _pos: u64, out: &mut SeqOut<'_>) {
        out.write(self.line.as_bytes());
    }

    fn write(&mut self, _reg: &Registry, input: &[u8]) -> Result {
        let n = self.stream.check(input).map_err(|_| EINVAL)?;
        // Room for the complete addresses and for a token this write may cut.
        let room = n.saturating_add(1);
        if self.addrs.len().saturating_add(room) > RESOLVE_MAX_PENDING.saturating_add(1) {
            return Err(E2BIG);
        }
        self.addrs.reserve(room, GFP_KERNEL)?;
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
pub(crate) struct Lookup {
    module: KVec<u8>,
    any_module: bool,
    name: KVec<u8>,
    line: Line,
}

impl Lookup {
    /// The `k`-th match over all modules (registry order, then symtab order).
    fn nth_match(&self, snap: &Snapshot, mut k: usize, line: &mut Line) -> bool {
        for m in snap.modules() {
            if !self.any_module && m.name() != &self.module[..] {
                continue;
            }
            let core = &m.core;
            let mut found = None;
            core.for_each_named(&self.name, |i| {
                if k == 0 {
                    found = Some(i);
                    return false;
                }
                k -= 1;
                true
            });
            let Some(i) = found else { continue };
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
            let kind = core.table.kind(i);
            let name = core.table.name(i);
            return format::symbol(line, value, size, kind, name, m.name()).is_ok();
        }
        false
    }
}

impl SeqHandler for Lookup {
    type Data = Registry;
    const MAX_WRITE: usize = LOOKUP_MAX_WRITE;

    fn open(_reg: &Registry) -> Result<Self> {
        Ok(Self {
            module: KVec::new(),
            any_module: true,
            name: KVec::new(),
            line: Line::new(),
        })
    }

    fn start(&mut self, reg: &Registry, pos: u64) -> bool {
        let Some(k) = pos_index(pos) else {
            return false;
        };
        if self.name.is_empty() {
            return false;
        }
        let mut line = Line::new();
        let found = {
            let guard = rcu::read_lock();
            reg.snapshot(&guard)
                .is_some_and(|snap| self.nth_match(snap, k, &mut line))
        };
        self.line = line;
        found
    }

    fn show(&mut self, _reg: &Registry, _pos: u64, out: &mut SeqOut<'_>) {
        out.write(self.line.as_bytes());
    }

    fn write(&mut self, reg: &Registry, input: &[u8]) -> Result {
        let q = parse::parse_name_query(input).map_err(|e| match e {
            ParseError::TooLong { .. } => E2BIG,
            _ => EINVAL,
        })?;
        let mut module = KVec::new();
        let mut name = KVec::new();
        if let Some(m) = q.module {
            module.extend_from_slice(m, GFP_KERNEL)?;
        }
        name.extend_from_slice(q.name, GFP_KERNEL)?;
        self.any_module = q.module.is_none();
        self.module = module;
        self.name = name;
        // Name indices are built on first use (see `TableIndex::names`).
        reg.ensure_names()
    }
}

/// Appends one `modules` line for `m`.
fn module_line(line: &mut Line, m: &ModIndex) -> core::fmt::Result {
    line.push_bytes(m.name()).map_err(|_| core::fmt::Error)?;
    writeln!(
        line,
        " {} {} {} {} {}",
        m.state_name(),
        m.symtab_len(),
        m.indexed(),
        m.bytes(),
        m.build_ns()
    )
}

/// A read-only listing: item `pos` is one line.
pub(crate) trait Listing: Send + 'static {
    /// Writes item `pos` into `line` (empty on entry); false past the end.
    fn fill(reg: &Registry, pos: usize, line: &mut Line) -> bool;
}

/// A read-only file printing one [`Line`] per item of `L`.
pub(crate) struct ListingFile<L: Listing> {
    line: Line,
    _listing: PhantomData<L>,
}

impl<L: Listing> SeqHandler for ListingFile<L> {
    type Data = Registry;
    const MAX_WRITE: usize = 0;

    fn open(_reg: &Registry) -> Result<Self> {
        Ok(Self {
            line: Line::new(),
            _listing: PhantomData,
        })
    }

    fn start(&mut self, reg: &Registry, pos: u64) -> bool {
        self.line.clear();
        pos_index(pos).is_some_and(|p| L::fill(reg, p, &mut self.line))
    }

    fn show(&mut self, _reg: &Registry, _pos: u64, out: &mut SeqOut<'_>) {
        out.write(self.line.as_bytes());
    }
}

/// `modules`: header, then one line per indexed module.
pub(crate) struct Modules;

impl Listing for Modules {
    fn fill(reg: &Registry, pos: usize, line: &mut Line) -> bool {
        let Some(k) = pos.checked_sub(1) else {
            return line
                .push_bytes(b"# name state symtab indexed bytes build_ns\n")
                .is_ok();
        };
        let guard = rcu::read_lock();
        let Some(m) = reg.snapshot(&guard).and_then(|s| s.modules().get(k)) else {
            return false;
        };
        if module_line(line, m).is_err() {
            line.clear();
        }
        true
    }
}

/// `symbols`: every indexed symbol, per module in address order.
pub(crate) struct Symbols;

/// Appends the `k`-th indexed symbol of the snapshot to `line`.
fn nth_symbol(snap: &Snapshot, mut k: usize, line: &mut Line) -> bool {
    for m in snap.modules() {
        let n = m.indexed();
        if k >= n {
            k -= n;
            continue;
        }
        for (table, r) in m.regions().iter() {
            let len = r.entries.len();
            if k >= len {
                k -= len;
                continue;
            }
            let Some(&i) = r.entries.get(k) else {
                return false;
            };
            let i = i as usize;
            let size = r.size_at(table, k);
            return format::symbol(
                line,
                table.value(i),
                size,
                table.kind(i),
                table.name(i),
                m.name(),
            )
            .is_ok();
        }
        return false;
    }
    false
}

impl Listing for Symbols {
    fn fill(reg: &Registry, pos: usize, line: &mut Line) -> bool {
        let guard = rcu::read_lock();
        reg.snapshot(&guard)
            .is_some_and(|s| nth_symbol(s, pos, line))
    }
}

/// `verify`: runs the parity check when read (once per open file).
pub(crate) struct Verify {
    report: Option<Report>,
}

impl SeqHandler for Verify {
    type Data = Registry;
    const MAX_WRITE: usize = 0;

    fn open(_reg: &Registry) -> Result<Self> {
        Ok(Self { report: None })
    }

    fn start(&mut self, reg: &Registry, pos: u64) -> bool {
        if self.report.is_none() {
            match verify::verify(reg) {
                Ok(r) => self.report = Some(r),
                Err(e) => {
                    pr_warn!("verify failed: {:?}\n", e);
                    return false;
                }
            }
        }
        let Some(r) = &self.report else { return false };
        pos_index(pos).is_some_and(|p| p < 3 + r.first.len())
    }

    fn show(&mut self, _reg: &Registry, pos: u64, out: &mut SeqOut<'_>) {
        let Some(r) = &self.report else { return };
        let _ = match pos {
            0 => writeln!(out, "modules {}", r.modules),
            1 => writeln!(out, "addresses {}", r.addresses),
            2 => writeln!(out, "mismatches {}", r.mismatches),
            _ => {
                let Some(m) = pos_index(pos - 3).and_then(|k| r.first.get(k)) else {
                    return;
                };
                let _ = write!(out, "mismatch {:#x} modsym: ", m.addr);
                out.write(&m.modsym);
                out.write(b" kernel: ");
                out.write(&m.kernel);
                out.write(b"\n");
                Ok(())
            }
        };
    }
}

/// `bench`: write an iteration count, read the per-module timings.
pub(crate) struct Bench {
    iterations: u64,
    rows: Option<KVec<BenchRow>>,
}

/// Parses a `bench` write: optional whitespace, decimal digits, optional
/// whitespace.
fn parse_iterations(input: &[u8]) -> Result<u64> {
    let start = input
        .iter()
        .position(|&b| !parse::is_separator(b))
        .ok_or(EINVAL)?;
    let rest = input.get(start..).unwrap_or(&[]);
    let len = rest
        .iter()
        .position(|&b| parse::is_separator(b))
        .unwrap_or(rest.len());
    let (digits, tail) = rest.split_at(len);
    if tail.iter().any(|&b| !parse::is_separator(b)) || digits.iter().any(|b| !b.is_ascii_digit()) {
        return Err(EINVAL);
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(E2BIG)?;
    }
    match n {
        0 => Err(EINVAL),
        n if n > BENCH_MAX_ITERATIONS => Err(E2BIG),
        n => Ok(n),
    }
}

impl SeqHandler for Bench {
    type Data = Registry;
    const MAX_WRITE: usize = BENCH_MAX_WRITE;

    fn open(_reg: &Registry) -> Result<Self> {
        Ok(Self {
            iterations: 1,
            rows: None,
        })
    }

    fn start(&mut self, reg: &Registry, pos: u64) -> bool {
        if self.rows.is_none() {
            match verify::bench(reg, self.iterations) {
                Ok(rows) => self.rows = Some(rows),
                Err(e) => {
                    pr_warn!("bench failed: {:?}\n", e);
                    return false;
                }
            }
        }
        let Some(rows) = &self.rows else { return false };
        pos_index(pos).is_some_and(|p| p <= rows.len())
    }

    fn show(&mut self, _reg: &Registry, pos: u64, out: &mut SeqOut<'_>) {
        let Some(rows) = &self.rows else { return };
        let Some(p) = pos_index(pos) else { return };
        let Some(k) = p.checked_sub(1) else {
            out.write(b"# module symtab addresses modsym_ns kernel_ns ratio\n");
            return;
        };
        let Some(row) = rows.get(k) else { return };
        out.write(&row.name);
        let ratio = row.ratio_tenths();
        let _ = writeln!(
            out,
            " {} {} {} {} {}.{}x",
            row.symtab,
            row.addresses,
            row.modsym_ns(),
            row.kernel_ns(),
            ratio / 10,
            ratio % 10
        );
    }

    fn write(&mut self, _reg: &Registry, input: &[u8]) -> Result {
        self.iterations = parse_iterations(input)?;
        self.rows = None;
        Ok(())
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Shared test support: an ELF-like symbol table and the literal oracle.
//!
//! Included by the integration tests and the benchmarks
//! (`#[path = "../tests/common/mod.rs"] mod common;`), so not every item is
//! used by every includer.
#![allow(dead_code)]

use modsym_core::index::{self, Hit, Region, SymbolTable};

pub mod ko;
pub mod oracle;

use oracle::c_at;
// Not every includer uses every item.
#[allow(unused_imports)]
pub use oracle::{
    build_region, c_is_mapping_symbol, count_region, oracle, oracle_names, oracle_value_entry,
    validate,
};

/// `Elf64_Sym`, laid out like the real thing (24 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Sym {
    pub st_name: u32,
    pub st_info: u8,
    pub st_other: u8,
    pub st_shndx: u16,
    pub st_value: u64,
    pub st_size: u64,
}

/// A symtab + strtab pair, entry 0 the ELF null symbol.
#[derive(Clone, Debug)]
pub struct Table {
    pub syms: Vec<Sym>,
    pub strtab: Vec<u8>,
}

impl Default for Table {
    fn default() -> Self {
        Self::new()
    }
}

impl Table {
    /// A table holding only the null entry.
    pub fn new() -> Self {
        Self {
            syms: vec![Sym::default()],
            strtab: vec![0],
        }
    }

    /// Appends a symbol and returns its index.
    pub fn push(&mut self, name: &[u8], value: u64, shndx: u16) -> usize {
        self.push_typed(name, value, shndx, 0)
    }

    /// Appends a symbol with an `st_info` byte and returns its index.
    pub fn push_typed(&mut self, name: &[u8], value: u64, shndx: u16, info: u8) -> usize {
        let st_name = if name.is_empty() {
            0
        } else {
            let off = self.strtab.len() as u32;
            self.strtab.extend_from_slice(name);
            self.strtab.push(0);
            off
        };
        self.syms.push(Sym {
            st_name,
            st_info: info,
            st_other: 0,
            st_shndx: shndx,
            st_value: value,
            st_size: 0,
        });
        self.syms.len() - 1
    }

    /// Builds a table from `(name, value, shndx)` triples (entry 0 added).
    pub fn from_entries(entries: &[(&[u8], u64, u16)]) -> Self {
        let mut t = Self::new();
        for &(n, v, s) in entries {
            t.push(n, v, s);
        }
        t
    }
}

impl SymbolTable for Table {
    fn len(&self) -> usize {
        self.syms.len()
    }

    fn value(&self, i: usize) -> u64 {
        self.syms[i].st_value
    }

    fn shndx(&self, i: usize) -> u16 {
        self.syms[i].st_shndx
    }

    fn name(&self, i: usize) -> &[u8] {
        let start = self.syms[i].st_name as usize;
        let tail = &self.strtab[start..];
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        &tail[..end]
    }

    fn name_head(&self, i: usize) -> [u8; 2] {
        // Like C: read byte 0, and byte 1 only if byte 0 is not the NUL.
        let start = self.syms[i].st_name as usize;
        let b0 = self.strtab[start];
        let b1 = if b0 == 0 { 0 } else { self.strtab[start + 1] };
        [b0, b1]
    }
}

/// Kernel memory types, in `for_each_mod_mem_type()` order.
pub const MEM_TYPES: [&str; 7] = [
    "text",
    "data",
    "rodata",
    "ro_after_init",
    "init_text",
    "init_data",
    "init_rodata",
];

/// A module: one table and up to 7 regions, each with its built index.
pub struct Module<'t, T: SymbolTable + ?Sized> {
    pub table: &'t T,
    pub regions: Vec<(Region, Vec<u32>)>,
}

impl<'t, T: SymbolTable + ?Sized> Module<'t, T> {
    /// Builds the address index of every region, after checking that the
    /// table's `name_head()` (read by both the index and the oracle) agrees
    /// with its full names.
    pub fn build(table: &'t T, regions: &[Region]) -> Self {
        for i in 0..table.len() {
            let n = table.name(i);
            let want = [c_at(n, 0), if n.is_empty() { 0 } else { c_at(n, 1) }];
            assert_eq!(table.name_head(i), want, "name_head({i})");
        }
        Self::build_unchecked(table, regions)
    }

    /// Builds the address index of every region in one pass, as the kernel
    /// module does (`count_regions`, then `build_regions_in`).
    pub fn build_unchecked(table: &'t T, regions: &[Region]) -> Self {
        let mut counts = vec![0usize; regions.len()];
        index::count_regions(table, regions, &mut counts);
        let mut outs: Vec<Vec<u32>> = counts.iter().map(|&c| vec![0u32; c]).collect();
        let mut used = vec![0usize; regions.len()];
        let mut scratch = vec![0u64; index::scratch_len(&counts)];
        let mut slices: Vec<&mut [u32]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
        index::build_regions_in(table, regions, &mut slices, &mut used, &mut scratch)
            .expect("build_regions_in");
        let regions = regions
            .iter()
            .zip(outs)
            .zip(used)
            .map(|((&r, mut out), n)| {
                out.truncate(n);
                (r, out)
            })
            .collect();
        Self { table, regions }
    }

    /// The first region containing `addr`, like `find_kallsyms_symbol()`.
    pub fn region_of(&self, addr: u64) -> Option<usize> {
        let regions: Vec<Region> = self.regions.iter().map(|(r, _)| *r).collect();
        find_region(&regions, addr)
    }

    /// modsym's answer.
    pub fn resolve(&self, addr: u64) -> Option<Hit> {
        let (r, e) = &self.regions[self.region_of(addr)?];
        index::lookup(self.table, *r, e, addr)
    }

    /// The oracle's answer.
    pub fn resolve_oracle(&self, addr: u64) -> Option<Hit> {
        let (r, _) = &self.regions[self.region_of(addr)?];
        oracle(self.table, *r, addr)
    }

    /// Total entries over every region.
    pub fn entries(&self) -> usize {
        self.regions.iter().map(|(_, e)| e.len()).sum()
    }
}

/// The first of `regions` that contains `addr`, like the
/// `for_each_mod_mem_type()` scan of `find_kallsyms_symbol()` (pass the
/// regions in `enum mod_mem_type` order, or only the text ones without
/// `CONFIG_KALLSYMS_ALL`).
pub fn find_region(regions: &[Region], addr: u64) -> Option<usize> {
    regions.iter().position(|r| r.contains(addr))
}

/// Deterministic xorshift64* generator (no external crate needed).
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// A synthetic module symtab with a realistic mix, `n` entries in total.
///
/// About 40% functions in text (a few weak aliases and local duplicates at one
/// address), `__ksymtab_*`/`__kstrtab_*`/`__kcrctab_*` export metadata in
/// rodata, `__UNIQUE_ID_*` modinfo-like entries, data objects, a few init
/// functions, section symbols with empty names, mapping symbols and UNDEF
/// imports. Returns the table and the 7 regions (some possibly empty).
pub fn synthetic(n: usize, seed: u64) -> (Table, Vec<Region>) {
    let mut rng = Rng(seed | 1);
    let mut t = Table::new();
    // 1 GiB apart: even 1M symbols stay far inside each region.
    let bases: [u64; 7] = core::array::from_fn(|r| 0xffff_fe00_0000_0000 + ((r as u64) << 30));
    let mut cursor = [0u64; 7];
    let mut count = 1;
    let mut k = 0u64;
    while count < n {
        k += 1;
        let roll = rng.below(100);
        let (region, name, step, shndx, dup): (usize, String, u64, u16, bool) = match roll {
            0..=39 => (
                0,
                format!("func_{k}"),
                16 + 16 * rng.below(40),
                1,
                rng.below(20) == 0,
            ),
            40..=49 => (2, format!("__ksymtab_func_{k}"), 12, 3, false),
            50..=57 => (
                2,
                format!("__kstrtab_func_{k}"),
                8 + rng.below(24),
                3,
                false,
            ),
            58..=61 => (
                2,
                format!("__UNIQUE_ID_modinfo{k}"),
                1 + rng.below(40),
                4,
                false,
            ),
            62..=69 => (1, format!("var_{k}"), 8 * (1 + rng.below(8)), 2, false),
            70..=72 => (3, format!("ro_after_init_{k}"), 8, 5, false),
            73..=75 => (
                4,
                format!("init_func_{k}"),
                32 + 16 * rng.below(8),
                6,
                false,
            ),
            76..=77 => (5, format!("__initdata_{k}"), 8, 7, false),
            78..=79 => (6, format!("__initconst_{k}"), 16, 8, false),
            80..=84 => (0, "$x".to_string(), 0, 1, false),
            85..=87 => (0, String::new(), 0, 1, false),
            88..=91 => (1, format!("__already_done.{k}"), 1, 2, false),
            _ => (0, format!("imported_{k}"), 0, 0, false),
        };
        let value = if shndx == 0 {
            0
        } else {
            bases[region] + cursor[region]
        };
        t.push(name.as_bytes(), value, shndx);
        count += 1;
        if dup && count < n {
            // A weak alias or a second local at the same address.
            t.push(format!("alias_{k}").as_bytes(), value, shndx);
            count += 1;
        }
        cursor[region] += step;
    }
    let regions = (0..7)
        .map(|r| Region::new(bases[r], (cursor[r] + 64) as u32))
        .collect();
    (t, regions)
}

// SPDX-License-Identifier: GPL-2.0

//! Real `.ko` files, loaded the way kernel/module/main.c loads them: sections
//! laid out into the 7 memory regions (`layout_sections()`, `layout_symtab()`),
//! symbol values relocated (`simplify_symbols()`), and the core-only table
//! (`add_kallsyms()` with `is_core_symbol()`, CONFIG_KALLSYMS_ALL=y) built.

use super::{Sym, Table};
use modsym_core::index::Region;
use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym as _};
use object::Endianness;
use std::path::{Path, PathBuf};

/// `SHF_RO_AFTER_INIT` (include/uapi/linux/elf.h), set by the loader.
const SHF_RO_AFTER_INIT: u64 = 0x0020_0000;
/// `SHN_LIVEPATCH` (include/uapi/linux/elf.h).
const SHN_LIVEPATCH: u16 = 0xff20;

/// Memory types in the kernel's enum order.
const MOD_TEXT: usize = 0;
const MOD_DATA: usize = 1;
const MOD_RODATA: usize = 2;
const MOD_RO_AFTER_INIT: usize = 3;
const MOD_INIT_TEXT: usize = 4;
const MOD_INIT_DATA: usize = 5;
const MOD_INIT_RODATA: usize = 6;

pub fn ko_dirs() -> Vec<PathBuf> {
    if let Ok(dirs) = std::env::var("MODSYM_KO_DIRS") {
        return std::env::split_paths(&dirs).collect();
    }
    let cache = std::env::var_os("MODSYM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
            Path::new(&home).join(".cache/modsym")
        });
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cache.join("kernels"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Every `*.ko` below `dir`, not following directory symlinks (a kernel build
/// tree links back to its source tree).
pub fn find_kos(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(|e| e.ok()) {
        let Ok(ft) = e.file_type() else { continue };
        let path = e.path();
        if ft.is_dir() {
            if e.file_name() != ".git" {
                find_kos(&path, out);
            }
        } else if (ft.is_file() || ft.is_symlink())
            && path.extension().is_some_and(|x| x == "ko")
            && path.is_file()
        {
            out.push(path);
        }
    }
}

/// A module as the kernel holds it after `layout_and_allocate()` and
/// `simplify_symbols()`: relocated symbol values and 7 regions.
pub struct LoadedKo {
    /// ELF `e_machine`.
    pub machine: u16,
    /// The full table (`mod->kallsyms` while the module is COMING).
    pub full: Table,
    /// The core-only table (`mod->core_kallsyms`).
    pub core: Table,
    /// The 7 regions in `enum mod_mem_type` order.
    pub regions: Vec<Region>,
}

fn align_up(v: u64, a: u64) -> u64 {
    let a = a.max(1);
    v.div_ceil(a) * a
}

pub fn load(path: &Path) -> Result<LoadedKo, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let data = &data[..];
    let hdr = elf::FileHeader64::<Endianness>::parse(data).map_err(|e| e.to_string())?;
    let e = hdr.endian().map_err(|e| e.to_string())?;
    let sections = hdr.sections(e, data).map_err(|e| e.to_string())?;
    let symtab = sections
        .symbols(e, data, elf::SHT_SYMTAB)
        .map_err(|e| e.to_string())?;
    let strtab = symtab.strings();
    let strtab_raw: Vec<u8> = sections
        .section(symtab.string_section())
        .and_then(|s| s.data(e, data))
        .map_err(|e| e.to_string())?
        .to_vec();
    let strtab_len = strtab_raw.len() as u64;

    // Section names and flags after the loader's adjustments.
    struct Sec {
        name: Vec<u8>,
        flags: u64,
        size: u64,
        align: u64,
        offset: u64,
        mem: Option<usize>,
        addr: u64,
    }
    let mut secs: Vec<Sec> = sections
        .iter()
        .map(|s| Sec {
            name: sections.section_name(e, s).unwrap_or(&[]).to_vec(),
            flags: s.sh_flags(e),
            size: s.sh_size(e),
            align: s.sh_addralign(e),
            offset: s.sh_offset(e),
            mem: None,
            addr: 0,
        })
        .collect();
    let mut pcpu = 0usize;
    for (i, s) in secs.iter_mut().enumerate() {
        match &s.name[..] {
            // Tracked but not kept, or allocated separately (per-cpu).
            b".modinfo" | b"__versions" | b"__version_ext_crcs" | b"__version_ext_names" => {
                s.flags &= !u64::from(elf::SHF_ALLOC)
            }
            b".data..percpu" => {
                s.flags &= !u64::from(elf::SHF_ALLOC);
                pcpu = i;
            }
            b".data..ro_after_init" | b"__jump_table" | b".static_call_sites" => {
                s.flags |= SHF_RO_AFTER_INIT
            }
            _ => {}
        }
    }
    let modinfo = secs
        .iter()
        .position(|s| s.name == b".modinfo")
        .and_then(|i| sections.section(object::SectionIndex(i)).ok())
        .and_then(|s| s.data(e, data).ok())
        .unwrap_or(&[]);
    let livepatch = modinfo.split(|&b| b == 0).any(|kv| kv == b"livepatch=Y");

    // __layout_sections(): core pass then init pass, masks in order.
    let alloc = u64::from(elf::SHF_ALLOC);
    let exec = u64::from(elf::SHF_EXECINSTR);
    let write = u64::from(elf::SHF_WRITE);
    let masks: [(u64, u64); 4] = [
        (exec | alloc, 0),
        (alloc, write),
        (SHF_RO_AFTER_INIT | alloc, 0),
        (write | alloc, 0),
    ];
    let core_types = [MOD_TEXT, MOD_RODATA, MOD_RO_AFTER_INIT, MOD_DATA];
    let init_types = [
        Some(MOD_INIT_TEXT),
        Some(MOD_INIT_RODATA),
        None,
        Some(MOD_INIT_DATA),
    ];
    let mut sizes = [0u64; 7];
    for is_init in [false, true] {
        for (m, &(req, excl)) in masks.iter().enumerate() {
            let ty = if is_init {
                init_types[m]
            } else {
                Some(core_types[m])
            };
            for s in secs.iter_mut() {
                let init_name = s.name.starts_with(b".init");
                if s.flags & req != req
                    || s.flags & excl != 0
                    || s.mem.is_some()
                    || is_init != init_name
                {
                    continue;
                }
                let Some(ty) = ty else { continue };
                let off = align_up(sizes[ty], s.align);
                sizes[ty] = off + s.size;
                s.mem = Some(ty);
                s.addr = off; // relative for now
            }
        }
    }

    // Symbols: which ones the core table keeps (is_core_symbol(), KALLSYMS_ALL).
    let syms = symtab.symbols();
    let is_core = |i: usize, sym: &elf::Sym64<Endianness>| -> bool {
        let shndx = sym.st_shndx(e);
        if i == 0 || livepatch {
            return true;
        }
        if shndx == elf::SHN_UNDEF || usize::from(shndx) >= secs.len() || sym.st_name(e) == 0 {
            return false;
        }
        if usize::from(shndx) == pcpu && pcpu != 0 {
            return true;
        }
        let s = &secs[usize::from(shndx)];
        s.flags & alloc != 0
            && !matches!(s.mem, Some(MOD_INIT_TEXT | MOD_INIT_DATA | MOD_INIT_RODATA))
    };
    let keep: Vec<bool> = syms
        .iter()
        .enumerate()
        .map(|(i, s)| is_core(i, s))
        .collect();
    // layout_symtab(): the full symtab/strtab go to init data, the core copies to data.
    let core_count = keep.iter().filter(|&&k| k).count() as u64;
    sizes[MOD_DATA] = align_up(sizes[MOD_DATA], 8) + core_count * 24 + strtab_len + core_count;
    sizes[MOD_INIT_DATA] = align_up(sizes[MOD_INIT_DATA], 8)
        + syms.len() as u64 * 24
        + strtab_len
        + 64
        + syms.len() as u64;

    // Regions far apart, 2 MiB aligned, in a module-space-like range.
    let mut regions = Vec::new();
    let mut next_base = 0xffff_ffff_c000_0000u64;
    for &size in &sizes {
        regions.push(Region::new(
            next_base,
            u32::try_from(size).map_err(|_| "region over 4 GiB")?,
        ));
        next_base = align_up(next_base + size + (2 << 20), 2 << 20);
    }
    for (k, s) in secs.iter_mut().enumerate() {
        s.addr = match s.mem {
            Some(ty) => regions[ty].base + s.addr,
            // Not moved: stays in the temporary copy of the file (vmalloc-like).
            None if k == pcpu && pcpu != 0 => 0x2_0000, // per-cpu offsets are small
            None => 0xffff_c900_0000_0000 + s.offset,
        };
    }

    // simplify_symbols(): relocate values.
    let mut full = Table {
        syms: Vec::with_capacity(syms.len()),
        strtab: strtab_raw,
    };
    let mut core = Table::new();
    for (i, sym) in syms.iter().enumerate() {
        let shndx = sym.st_shndx(e);
        let raw = sym.st_value(e);
        let value = match shndx {
            _ if i == 0 => 0,
            elf::SHN_ABS | SHN_LIVEPATCH => raw,
            elf::SHN_UNDEF => {
                // Resolved against vmlinux: some kernel text address.
                0xffff_ffff_8100_0000 + (u64::from(sym.st_name(e)) << 4)
            }
            elf::SHN_COMMON => raw,
            s if usize::from(s) < secs.len() => secs[usize::from(s)].addr.wrapping_add(raw),
            _ => raw,
        };
        let entry = Sym {
            st_name: sym.st_name(e),
            st_info: sym.st_info(),
            st_other: sym.st_other(),
            st_shndx: shndx,
            st_value: value,
            st_size: sym.st_size(e),
        };
        full.syms.push(entry);
        if i > 0 && keep[i] {
            let name = sym.name(e, strtab).unwrap_or(&[]);
            core.push_typed(name, value, shndx, sym.st_info());
        }
    }
    if full.syms.is_empty() {
        full.syms.push(Sym::default());
    }
    Ok(LoadedKo {
        machine: hdr.e_machine(e),
        full,
        core,
        regions,
    })
}

/// Every `.ko` under the configured directories, sorted.
pub fn all_kos() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let dirs = ko_dirs();
    let mut kos = Vec::new();
    for d in &dirs {
        find_kos(d, &mut kos);
    }
    kos.sort();
    (dirs, kos)
}

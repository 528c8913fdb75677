// SPDX-License-Identifier: GPL-2.0

//! The oracle: the kernel's own module symbol lookup, transcribed literally;
//! and the single-input helpers the tests check the core with
//! ([`count_region`], [`build_region`], [`validate`]).
//!
//! Depends on nothing but the core, so the fuzz targets include it too
//! (`#[path = "../../tests/common/oracle.rs"] mod oracle;`).

use modsym_core::index::{self, BuildError, Hit, Region, SymbolTable};
use modsym_core::parse::{addresses, ParseError};

/// C string view: byte `k` of `name`, NUL past its end.
pub fn c_at(name: &[u8], k: usize) -> u8 {
    name.get(k).copied().unwrap_or(0)
}

/// Literal transcription of include/linux/module_symbol.h `is_mapping_symbol()`.
pub fn c_is_mapping_symbol(s: &[u8]) -> bool {
    if c_at(s, 0) == b'.' && c_at(s, 1) == b'L' {
        return true;
    }
    if c_at(s, 0) == b'L' && c_at(s, 1) == b'0' {
        return true;
    }
    c_at(s, 0) == b'$'
}

/// Literal transcription of the loop of `find_kallsyms_symbol()` (Linux 7.3,
/// kernel/module/kallsyms.c) for an address `addr` in the region `r`:
/// `unsigned long` wrapping arithmetic included.
pub fn oracle<T: SymbolTable + ?Sized>(t: &T, r: Region, addr: u64) -> Option<Hit> {
    let mut nextval: u64 = r.base.wrapping_add(u64::from(r.size));
    let mut bestval: u64 = r.base.wrapping_sub(1);
    let mut best: usize = 0;
    let num_symtab = t.len();
    let mut i = 1;
    while i < num_symtab {
        let thisval = t.value(i);
        if t.shndx(i) == 0 {
            i += 1;
            continue;
        }
        // kallsyms_symbol_name(kallsyms, i): only its first two bytes are read.
        let name = t.name_head(i);
        if c_at(&name, 0) == 0 || c_is_mapping_symbol(&name) {
            i += 1;
            continue;
        }
        if thisval <= addr && thisval > bestval {
            best = i;
            bestval = thisval;
        }
        if thisval > addr && thisval < nextval {
            nextval = thisval;
        }
        i += 1;
    }
    if best == 0 {
        return None;
    }
    Some(Hit {
        index: best as u32,
        value: bestval,
        size: nextval.wrapping_sub(bestval),
        offset: addr.wrapping_sub(bestval),
    })
}

/// Linear `find_kallsyms_symbol_value()`-style name scan: every index
/// `i >= 1` with a matching name and `st_shndx != SHN_UNDEF`, ascending.
pub fn oracle_names<T: SymbolTable + ?Sized>(t: &T, name: &[u8]) -> Vec<u32> {
    (1..t.len())
        .filter(|&i| t.shndx(i) != 0 && t.name(i) == name)
        .map(|i| i as u32)
        .collect()
}

/// `__find_kallsyms_symbol_value()`'s loop, literally: the first index
/// (entry 0 included) with a matching name and `st_shndx != SHN_UNDEF`.
pub fn oracle_value_entry<T: SymbolTable + ?Sized>(t: &T, name: &[u8]) -> Option<usize> {
    (0..t.len()).find(|&i| t.name(i) == name && t.shndx(i) != 0)
}

/// `index::count_regions` for the one region `region`: the storage
/// [`build_region`] needs.
pub fn count_region<T: SymbolTable + ?Sized>(t: &T, region: Region) -> usize {
    let mut counts = [0];
    index::count_regions(t, &[region], &mut counts);
    counts[0]
}

/// `index::build_regions` for the one region `region` into `out`: the number
/// of entries used, a prefix of `out`.
pub fn build_region<T: SymbolTable + ?Sized>(
    t: &T,
    region: Region,
    out: &mut [u32],
) -> Result<usize, BuildError> {
    let mut used = [0];
    index::build_regions(t, &[region], &mut [out], &mut used)?;
    Ok(used[0])
}

/// Checks a whole `resolve` write and returns how many addresses it holds:
/// the first error `addresses()` yields, or `ParseError::Empty` if there is
/// no token at all.
pub fn validate(input: &[u8]) -> Result<usize, ParseError> {
    let mut count = 0usize;
    for address in addresses(input) {
        address?;
        count += 1;
    }
    if count == 0 {
        Err(ParseError::Empty)
    } else {
        Ok(count)
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Output lines of the debugfs files, formatted without allocation.
//!
//! [`Line`] is a fixed-capacity byte buffer. The line builders ([`resolved`],
//! [`unresolved`], [`symbol`]) *append* one complete line (ending in `\n`) to
//! it and are all-or-nothing: on [`Overflow`] the buffer is left exactly as it
//! was. Call [`Line::clear`] to start over.
//!
//! Names are raw bytes (symbol names need not be UTF-8), cut to
//! [`MAX_NAME_BYTES`], the most a kernel symbol name may have
//! (`KSYM_NAME_LEN - 1`). The kernel itself has no answer for a longer name:
//! `strscpy(namebuf, sym, KSYM_NAME_LEN)` in `module_address_lookup()` fails
//! with `-E2BIG` and `__sprint_symbol()` then writes before its buffer; the
//! cut name is what `strscpy()` leaves in that buffer. Hex numbers are `%#lx`
//! style: lowercase, `0x` prefix, no padding (`0x0` for zero).

#![forbid(unsafe_code)]

use core::fmt;

/// Longest symbol name printed, `KSYM_NAME_LEN - 1`; longer names are cut.
pub const MAX_NAME_BYTES: usize = 511;

/// Capacity of a [`Line`] in bytes.
///
/// The longest line built here, [`resolved`] with a 511-byte name, a 55-byte
/// module name (`MODULE_NAME_LEN - 1`) and 16-digit numbers, is 627 bytes.
pub const LINE_CAPACITY: usize = 640;

/// The output did not fit in the [`Line`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("line buffer overflow")
    }
}

/// A fixed-capacity output buffer ([`LINE_CAPACITY`] bytes).
///
/// # Examples
///
/// ```
/// use core::fmt::Write;
/// use modsym_core::format::Line;
///
/// let mut line = Line::new();
/// write!(line, "{} entries", 3).unwrap();
/// line.push_bytes(b" \xff").unwrap();
/// assert_eq!(line.as_bytes(), b"3 entries \xff");
/// line.clear();
/// assert!(line.as_bytes().is_empty());
/// ```
#[derive(Clone)]
pub struct Line {
    buf: [u8; LINE_CAPACITY],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Line").field("len", &self.len).finish()
    }
}

impl Line {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; LINE_CAPACITY],
            len: 0,
        }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Forgets everything written.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends `bytes` entirely, or nothing and [`Overflow`].
    ///
    /// # Errors
    ///
    /// [`Overflow`] if `bytes` does not fit.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        let end = self.len.checked_add(bytes.len()).ok_or(Overflow)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(Overflow)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Appends one byte.
    ///
    /// # Errors
    ///
    /// [`Overflow`] if the line is full.
    pub fn push_byte(&mut self, byte: u8) -> Result<(), Overflow> {
        self.push_bytes(&[byte])
    }

    /// Appends `value` as `%#lx` does: `0x` and lowercase digits, no padding.
    ///
    /// # Errors
    ///
    /// [`Overflow`] if it does not fit (nothing is appended then).
    ///
    /// # Examples
    ///
    /// ```
    /// use modsym_core::format::Line;
    ///
    /// let mut line = Line::new();
    /// line.push_hex(0).unwrap();
    /// line.push_hex(0xffff_ffff_c000_2010).unwrap();
    /// assert_eq!(line.as_bytes(), b"0x00xffffffffc0002010");
    /// ```
    pub fn push_hex(&mut self, value: u64) -> Result<(), Overflow> {
        let mut tmp = [0u8; 18];
        let mut pos = tmp.len();
        let mut v = value;
        while pos > 2 {
            pos -= 1;
            let nibble = (v & 0xf) as u8;
            if let Some(slot) = tmp.get_mut(pos) {
                *slot = if nibble < 10 {
                    b'0' + nibble
                } else {
                    b'a' + nibble - 10
                };
            }
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        pos -= 2;
        if let Some(prefix) = tmp.get_mut(pos..pos + 2) {
            prefix.copy_from_slice(b"0x");
        }
        self.push_bytes(tmp.get(pos..).unwrap_or(&[]))
    }

    /// Runs `f` on the line; if it fails, restores the previous contents.
    fn atomic(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), Overflow>,
    ) -> Result<(), Overflow> {
        let saved = self.len;
        let result = f(self);
        if result.is_err() {
            self.len = saved;
        }
        result
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_bytes(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// `name` cut to [`MAX_NAME_BYTES`].
fn cut_name(name: &[u8]) -> &[u8] {
    name.get(..MAX_NAME_BYTES).unwrap_or(name)
}

/// Appends ` [<module>]`, or nothing for an empty module name.
fn push_module(line: &mut Line, module: &[u8]) -> Result<(), Overflow> {
    if module.is_empty() {
        return Ok(());
    }
    line.push_bytes(b" [")?;
    line.push_bytes(module)?;
    line.push_byte(b']')
}

/// Appends `0x<addr> <name>+0x<off>/0x<size> [<module>]\n`, the `%pS` form.
///
/// An empty `module` drops the ` [...]` part, like `%pS` for vmlinux.
///
/// # Errors
///
/// [`Overflow`] if the line does not fit; `line` is then unchanged.
///
/// # Examples
///
/// ```
/// use modsym_core::format::{resolved, Line};
///
/// let mut line = Line::new();
/// resolved(&mut line, 0xffff_ffff_c000_2010, b"foo", 0x10, 0x40, b"ext4").unwrap();
/// assert_eq!(line.as_bytes(), b"0xffffffffc0002010 foo+0x10/0x40 [ext4]\n");
/// ```
pub fn resolved(
    line: &mut Line,
    addr: u64,
    name: &[u8],
    offset: u64,
    size: u64,
    module: &[u8],
) -> Result<(), Overflow> {
    line.atomic(|l| {
        l.push_hex(addr)?;
        l.push_byte(b' ')?;
        l.push_bytes(cut_name(name))?;
        l.push_byte(b'+')?;
        l.push_hex(offset)?;
        l.push_byte(b'/')?;
        l.push_hex(size)?;
        push_module(l, module)?;
        l.push_byte(b'\n')
    })
}

/// Appends `0x<addr> ?\n`, the answer for an address no module symbol covers.
///
/// # Errors
///
/// [`Overflow`] if the line does not fit; `line` is then unchanged.
///
/// # Examples
///
/// ```
/// use modsym_core::format::{unresolved, Line};
///
/// let mut line = Line::new();
/// unresolved(&mut line, 0x1234).unwrap();
/// assert_eq!(line.as_bytes(), b"0x1234 ?\n");
/// ```
pub fn unresolved(line: &mut Line, addr: u64) -> Result<(), Overflow> {
    line.atomic(|l| {
        l.push_hex(addr)?;
        l.push_bytes(b" ?\n")
    })
}

/// Appends `0x<addr> 0x<size> <kind> <name> [<module>]\n` (the `lookup` and
/// `symbols` files; `kind` is the `nm`-style type letter).
///
/// An empty `module` drops the ` [...]` part.
///
/// # Errors
///
/// [`Overflow`] if the line does not fit; `line` is then unchanged.
///
/// # Examples
///
/// ```
/// use modsym_core::format::{symbol, Line};
///
/// let mut line = Line::new();
/// symbol(&mut line, 0xffff_ffff_c000_2000, 0x40, b't', b"foo", b"ext4").unwrap();
/// assert_eq!(line.as_bytes(), b"0xffffffffc0002000 0x40 t foo [ext4]\n");
/// ```
pub fn symbol(
    line: &mut Line,
    addr: u64,
    size: u64,
    kind: u8,
    name: &[u8],
    module: &[u8],
) -> Result<(), Overflow> {
    line.atomic(|l| {
        l.push_hex(addr)?;
        l.push_byte(b' ')?;
        l.push_hex(size)?;
        l.push_byte(b' ')?;
        l.push_byte(kind)?;
        l.push_byte(b' ')?;
        l.push_bytes(cut_name(name))?;
        push_module(l, module)?;
        l.push_byte(b'\n')
    })
}

// SPDX-License-Identifier: GPL-2.0

//! Parsing of what user space writes to the debugfs files.
//!
//! - `resolve`: hexadecimal addresses, `0x`/`0X` prefix optional, separated
//!   by ASCII whitespace, many per write ([`addresses`], [`validate`]).
//! - `lookup`: one `[module:]name` token ([`parse_name_query`]).
//!
//! Nothing here allocates or panics; every error carries the byte offset (in
//! the original input) it refers to, so the whole buffer can be validated
//! before anything is committed.

/// Most hexadecimal digits in one address (64 bits).
pub const MAX_HEX_DIGITS: usize = 16;

/// Longest address token: `0x` plus [`MAX_HEX_DIGITS`] digits.
pub const MAX_ADDRESS_TOKEN: usize = 2 + MAX_HEX_DIGITS;

/// Longest symbol name in a query: `KSYM_NAME_LEN` (512) minus the NUL.
pub const MAX_NAME_LEN: usize = 511;

/// Longest module name in a query: `MODULE_NAME_LEN` (56) minus the NUL.
pub const MAX_MODULE_LEN: usize = 55;

/// Why an input was rejected. Offsets are byte offsets into the whole input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The byte at `offset` is not a hexadecimal digit.
    InvalidDigit {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// The token (or query part) starting at `offset` is too long: an address
    /// with more than [`MAX_HEX_DIGITS`] digits, a module name longer than
    /// [`MAX_MODULE_LEN`] or a symbol name longer than [`MAX_NAME_LEN`].
    TooLong {
        /// Offset of the first byte of the token or part.
        offset: usize,
    },
    /// The address token starting at `offset` is a bare `0x` prefix.
    NoDigits {
        /// Offset of the token.
        offset: usize,
    },
    /// The input holds no token at all (only whitespace, or nothing).
    Empty,
    /// A name query has a second token, starting at `offset`.
    ExtraToken {
        /// Offset of the second token.
        offset: usize,
    },
    /// A name query has an empty module before the `:`.
    EmptyModule,
    /// A name query has an empty name after the `:`.
    EmptyName,
    /// A name query contains a NUL byte at `offset`.
    InvalidByte {
        /// Offset of the offending byte.
        offset: usize,
    },
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::InvalidDigit { offset } => write!(f, "invalid hex digit at offset {offset}"),
            Self::TooLong { offset } => write!(f, "token too long at offset {offset}"),
            Self::NoDigits { offset } => write!(f, "no digits after 0x at offset {offset}"),
            Self::Empty => f.write_str("empty input"),
            Self::ExtraToken { offset } => write!(f, "unexpected token at offset {offset}"),
            Self::EmptyModule => f.write_str("empty module name"),
            Self::EmptyName => f.write_str("empty symbol name"),
            Self::InvalidByte { offset } => write!(f, "invalid byte at offset {offset}"),
        }
    }
}

/// Token separator: ASCII whitespace as the kernel's `isspace()` sees it
/// (space, `\t`, `\n`, `\v`, `\f`, `\r`).
pub const fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Value of one hexadecimal digit.
fn hex_value(b: u8) -> Option<u64> {
    let d = match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => return None,
    };
    Some(u64::from(d))
}

/// Parses one address token that starts at `offset` in the input.
fn parse_token(token: &[u8], offset: usize) -> Result<u64, ParseError> {
    let (digits, skip) = match token {
        [b'0', b'x' | b'X', rest @ ..] => (rest, 2),
        _ => (token, 0),
    };
    if digits.is_empty() {
        return Err(ParseError::NoDigits { offset });
    }
    let mut value: u64 = 0;
    for (k, &b) in digits.iter().enumerate() {
        let d = hex_value(b).ok_or(ParseError::InvalidDigit {
            offset: offset.saturating_add(skip).saturating_add(k),
        })?;
        value = (value << 4) | d;
    }
    if digits.len() > MAX_HEX_DIGITS {
        return Err(ParseError::TooLong { offset });
    }
    Ok(value)
}

/// Iterator over the addresses of a `resolve` write; see [`addresses`].
#[derive(Clone, Debug)]
pub struct Addresses<'a> {
    input: &'a [u8],
    pos: usize,
    failed: bool,
}

/// Iterates over the addresses in `input`.
///
/// Yields `Ok(address)` per token, in order. At the first malformed token it
/// yields that error and then ends. An input without any token yields nothing
/// (use [`validate`] to reject it).
///
/// # Examples
///
/// ```
/// use modsym_core::parse::{addresses, ParseError};
///
/// let mut it = addresses(b"0xffffffffc0002010 ffffffffc0000000\n0X1f\n");
/// assert_eq!(it.next(), Some(Ok(0xffff_ffff_c000_2010)));
/// assert_eq!(it.next(), Some(Ok(0xffff_ffff_c000_0000)));
/// assert_eq!(it.next(), Some(Ok(0x1f)));
/// assert_eq!(it.next(), None);
///
/// let mut it = addresses(b"10 1g");
/// assert_eq!(it.next(), Some(Ok(0x10)));
/// assert_eq!(it.next(), Some(Err(ParseError::InvalidDigit { offset: 4 })));
/// assert_eq!(it.next(), None);
/// ```
pub fn addresses(input: &[u8]) -> Addresses<'_> {
    Addresses {
        input,
        pos: 0,
        failed: false,
    }
}

impl Iterator for Addresses<'_> {
    type Item = Result<u64, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.input.get(self.pos..)?;
        let start = self.pos + rest.iter().position(|&b| !is_separator(b))?;
        let tail = self.input.get(start..)?;
        let len = tail
            .iter()
            .position(|&b| is_separator(b))
            .unwrap_or(tail.len());
        self.pos = start + len;
        let result = parse_token(tail.get(..len)?, start);
        self.failed = result.is_err();
        Some(result)
    }
}

impl core::iter::FusedIterator for Addresses<'_> {}

/// Checks a whole `resolve` write and returns how many addresses it holds.
///
/// # Errors
///
/// The first error [`addresses`] would yield, or [`ParseError::Empty`] if
/// there is no token at all.
///
/// # Examples
///
/// ```
/// use modsym_core::parse::{validate, ParseError};
///
/// assert_eq!(validate(b"1 2 3\n"), Ok(3));
/// assert_eq!(validate(b" \n"), Err(ParseError::Empty));
/// assert_eq!(validate(b"0x"), Err(ParseError::NoDigits { offset: 0 }));
/// assert_eq!(validate(b"1 11112222333344445"), Err(ParseError::TooLong { offset: 2 }));
/// ```
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

/// A parsed `lookup` query: `[module:]name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameQuery<'a> {
    /// The module to search, or `None` for every module.
    pub module: Option<&'a [u8]>,
    /// The symbol name (non-empty, at most [`MAX_NAME_LEN`] bytes).
    pub name: &'a [u8],
}

/// Parses a `lookup` write: exactly one `[module:]name` token, surrounding
/// whitespace (such as `echo`'s newline) ignored.
///
/// The module part ends at the first `:`; the name may contain further `:`.
///
/// # Errors
///
/// [`ParseError::Empty`] without a token, [`ParseError::ExtraToken`] for a
/// second token, [`ParseError::InvalidByte`] for a NUL,
/// [`ParseError::EmptyModule`] / [`ParseError::EmptyName`] for an empty part,
/// [`ParseError::TooLong`] for a module over [`MAX_MODULE_LEN`] or a name over
/// [`MAX_NAME_LEN`] bytes.
///
/// # Examples
///
/// ```
/// use modsym_core::parse::{parse_name_query, NameQuery, ParseError};
///
/// let q = parse_name_query(b"ext4:ext4_fill_super\n").unwrap();
/// assert_eq!(q, NameQuery { module: Some(b"ext4"), name: b"ext4_fill_super" });
/// let q = parse_name_query(b"  init_module ").unwrap();
/// assert_eq!(q, NameQuery { module: None, name: b"init_module" });
/// assert_eq!(parse_name_query(b"a b"), Err(ParseError::ExtraToken { offset: 2 }));
/// assert_eq!(parse_name_query(b":x"), Err(ParseError::EmptyModule));
/// ```
pub fn parse_name_query(input: &[u8]) -> Result<NameQuery<'_>, ParseError> {
    let start = input
        .iter()
        .position(|&b| !is_separator(b))
        .ok_or(ParseError::Empty)?;
    let tail = input.get(start..).ok_or(ParseError::Empty)?;
    let len = tail
        .iter()
        .position(|&b| is_separator(b))
        .unwrap_or(tail.len());
    let after = tail.get(len..).unwrap_or(&[]);
    if let Some(extra) = after.iter().position(|&b| !is_separator(b)) {
        return Err(ParseError::ExtraToken {
            offset: start + len + extra,
        });
    }
    let token = tail.get(..len).ok_or(ParseError::Empty)?;
    if let Some(nul) = token.iter().position(|&b| b == 0) {
        return Err(ParseError::InvalidByte {
            offset: start + nul,
        });
    }
    let (module, name, name_offset) = match token.iter().position(|&b| b == b':') {
        Some(colon) => {
            let module = token.get(..colon).unwrap_or(&[]);
            let name = token.get(colon + 1..).unwrap_or(&[]);
            if module.is_empty() {
                return Err(ParseError::EmptyModule);
            }
            if module.len() > MAX_MODULE_LEN {
                return Err(ParseError::TooLong { offset: start });
            }
            (Some(module), name, start + colon + 1)
        }
        None => (None, token, start),
    };
    if name.is_empty() {
        return Err(ParseError::EmptyName);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ParseError::TooLong {
            offset: name_offset,
        });
    }
    Ok(NameQuery { module, name })
}

// SPDX-License-Identifier: GPL-2.0

//! Parsing of what user space writes to the debugfs files.
//!
//! - `resolve`: hexadecimal addresses, `0x`/`0X` prefix optional, separated
//!   by ASCII whitespace, many per write ([`addresses`], [`AddressStream`]).
//! - `lookup`: one `[module:]name` token ([`parse_name_query`]).
//! - `bench`: one decimal iteration count ([`parse_count`]).
//!
//! Nothing here allocates or panics; every error carries the byte offset (in
//! the original input) it refers to, so the whole buffer can be validated
//! before anything is committed.

#![forbid(unsafe_code)]

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
    /// A count is 0.
    Zero,
}

impl ParseError {
    /// The same error with its offset moved by `by` (for a part of a larger input).
    const fn shifted(self, by: usize) -> Self {
        match self {
            Self::InvalidDigit { offset } => Self::InvalidDigit {
                offset: offset.saturating_add(by),
            },
            Self::TooLong { offset } => Self::TooLong {
                offset: offset.saturating_add(by),
            },
            Self::NoDigits { offset } => Self::NoDigits {
                offset: offset.saturating_add(by),
            },
            Self::ExtraToken { offset } => Self::ExtraToken {
                offset: offset.saturating_add(by),
            },
            Self::InvalidByte { offset } => Self::InvalidByte {
                offset: offset.saturating_add(by),
            },
            other => other,
        }
    }
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::InvalidDigit { offset } => write!(f, "invalid digit at offset {offset}"),
            Self::TooLong { offset } => write!(f, "token too long at offset {offset}"),
            Self::NoDigits { offset } => write!(f, "no digits after 0x at offset {offset}"),
            Self::Empty => f.write_str("empty input"),
            Self::ExtraToken { offset } => write!(f, "unexpected token at offset {offset}"),
            Self::EmptyModule => f.write_str("empty module name"),
            Self::EmptyName => f.write_str("empty symbol name"),
            Self::InvalidByte { offset } => write!(f, "invalid byte at offset {offset}"),
            Self::Zero => f.write_str("count is zero"),
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
/// ([`AddressStream`] rejects it with [`ParseError::Empty`]).
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

/// Checks that `token` (at `offset` in the input) can still grow into a valid
/// address token: hex digits, optionally after `0x`/`0X`, no more than a whole
/// token may hold.
fn check_prefix(token: &[u8], offset: usize) -> Result<(), ParseError> {
    let (digits, skip) = match token {
        [b'0', b'x' | b'X', rest @ ..] => (rest, 2),
        _ => (token, 0),
    };
    if let Some(k) = digits.iter().position(|&b| hex_value(b).is_none()) {
        return Err(ParseError::InvalidDigit {
            offset: offset.saturating_add(skip).saturating_add(k),
        });
    }
    if digits.len() > MAX_HEX_DIGITS {
        return Err(ParseError::TooLong { offset });
    }
    Ok(())
}

/// One address token held between writes (at most [`MAX_ADDRESS_TOKEN`] bytes).
#[derive(Clone, Copy, Debug, Default)]
struct Token {
    buf: [u8; MAX_ADDRESS_TOKEN],
    len: usize,
}

impl Token {
    /// `a` followed by `b`, or `None` if longer than a token may be.
    fn join(a: &[u8], b: &[u8]) -> Option<Self> {
        let mut t = Self {
            len: a.len().checked_add(b.len())?,
            ..Self::default()
        };
        let (front, back) = t.buf.get_mut(..t.len)?.split_at_mut(a.len());
        front.copy_from_slice(a);
        back.copy_from_slice(b);
        Some(t)
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// Address input that arrives in several writes, as through `cat file > resolve`,
/// which may cut a token anywhere.
///
/// A token at the very end of a write (no separator after it) is kept and
/// continued by the next write, as the kernel's `trace_parser` does for
/// `set_ftrace_filter`; [`AddressStream::finish`] takes it as complete.
///
/// # Examples
///
/// ```
/// use modsym_core::parse::AddressStream;
///
/// let mut stream = AddressStream::default();
/// let mut got = Vec::new();
/// assert_eq!(stream.feed(b"10 0xff", |a| got.push(a)), Ok(1));
/// assert_eq!(stream.feed(b"ff 2\n", |a| got.push(a)), Ok(2));
/// assert_eq!(stream.feed(b"3", |a| got.push(a)), Ok(0));
/// assert_eq!(stream.finish(), Ok(Some(3)));
/// assert_eq!(got, [0x10, 0xffff, 0x2]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct AddressStream {
    kept: Token,
}

/// How one write splits.
struct Plan<'a> {
    /// The kept token, completed by this write.
    completed: Option<Token>,
    /// Whole tokens, starting at `whole_offset` in the write.
    whole: &'a [u8],
    whole_offset: usize,
    /// The token to keep for the next write (possibly empty).
    kept: Token,
}

impl AddressStream {
    /// Splits `input` as the continuation of the stream and checks the parts
    /// that are not whole tokens.
    fn plan<'a>(&self, input: &'a [u8]) -> Result<Plan<'a>, ParseError> {
        let mut rest_offset = 0;
        let mut completed = None;
        if self.kept.len > 0 {
            let head = input
                .iter()
                .position(|&b| is_separator(b))
                .unwrap_or(input.len());
            let more = input.get(..head).unwrap_or(&[]);
            let joined =
                Token::join(self.kept.as_bytes(), more).ok_or(ParseError::TooLong { offset: 0 })?;
            check_prefix(joined.as_bytes(), 0)?;
            if head == input.len() {
                // Still no separator: the token stays cut.
                return Ok(Plan {
                    completed: None,
                    whole: &[],
                    whole_offset: input.len(),
                    kept: joined,
                });
            }
            completed = Some(joined);
            rest_offset = head;
        }
        let rest = input.get(rest_offset..).unwrap_or(&[]);
        let cut_start = match rest.last() {
            Some(&b) if !is_separator(b) => rest
                .iter()
                .rposition(|&b| is_separator(b))
                .map_or(0, |p| p + 1),
            _ => rest.len(),
        };
        let (whole, cut) = rest.split_at(cut_start);
        let cut_offset = rest_offset + cut_start;
        check_prefix(cut, cut_offset)?;
        let kept = Token::join(cut, &[]).ok_or(ParseError::TooLong { offset: cut_offset })?;
        Ok(Plan {
            completed,
            whole,
            whole_offset: rest_offset,
            kept,
        })
    }

    /// Parses `input`, passing every completed address to `sink`; returns
    /// their number and the token to keep.
    fn run(&self, input: &[u8], mut sink: impl FnMut(u64)) -> Result<(usize, Token), ParseError> {
        let plan = self.plan(input)?;
        let mut n = 0;
        if let Some(token) = plan.completed {
            sink(parse_token(token.as_bytes(), 0)?);
            n += 1;
        }
        for address in addresses(plan.whole) {
            sink(address.map_err(|e| e.shifted(plan.whole_offset))?);
            n += 1;
        }
        if n == 0 && plan.kept.len == 0 {
            return Err(ParseError::Empty);
        }
        Ok((n, plan.kept))
    }

    /// Number of addresses `input` would complete; changes nothing.
    ///
    /// # Errors
    ///
    /// The first malformed token's error, with offsets into `input` (into the
    /// joined token for a token begun by an earlier write): what [`addresses`]
    /// yields for a whole token, and for a token cut at the end of `input`
    /// only what no continuation can mend (a bad digit, too many digits);
    /// [`ParseError::Empty`] if `input` neither holds nor ends a token.
    pub fn check(&self, input: &[u8]) -> Result<usize, ParseError> {
        self.run(input, |_| {}).map(|(n, _)| n)
    }

    /// [`AddressStream::check`], plus one if `input` leaves a token cut at
    /// its end: the addresses the stream holds more once `input` is fed and
    /// reading has [finished](AddressStream::finish) it.
    ///
    /// # Errors
    ///
    /// As [`AddressStream::check`].
    ///
    /// # Examples
    ///
    /// ```
    /// use modsym_core::parse::AddressStream;
    ///
    /// let mut stream = AddressStream::default();
    /// assert_eq!(stream.check(b"10 20"), Ok(1));
    /// assert_eq!(stream.added_by(b"10 20"), Ok(2));
    /// assert_eq!(stream.added_by(b"10 20\n"), Ok(2));
    /// stream.feed(b"10 2", |_| {}).unwrap();
    /// assert_eq!(stream.added_by(b"0\n"), Ok(1)); // completes the kept `2`
    /// ```
    pub fn added_by(&self, input: &[u8]) -> Result<usize, ParseError> {
        self.run(input, |_| {})
            .map(|(n, kept)| n + usize::from(kept.len > 0))
    }

    /// Takes one write: checks all of it, then passes every address it
    /// completes to `sink`, in order, and keeps a token cut at its end.
    /// Returns the number of addresses passed. On error nothing is passed and
    /// the stream is unchanged.
    ///
    /// # Errors
    ///
    /// As [`AddressStream::check`].
    pub fn feed(&mut self, input: &[u8], sink: impl FnMut(u64)) -> Result<usize, ParseError> {
        self.check(input)?;
        let (n, kept) = self.run(input, sink)?;
        self.kept = kept;
        Ok(n)
    }

    /// Ends the stream (reading begins): the kept token as an address, if any.
    ///
    /// # Errors
    ///
    /// [`ParseError::NoDigits`] if the kept token is a bare `0x`; the token is
    /// dropped either way.
    pub fn finish(&mut self) -> Result<Option<u64>, ParseError> {
        if self.kept.len == 0 {
            return Ok(None);
        }
        let result = parse_token(self.kept.as_bytes(), 0).map(Some);
        self.kept = Token::default();
        result
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
    let (start, token) = single_token(input)?;
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

/// The only token of `input` and its offset; separators around it are ignored.
fn single_token(input: &[u8]) -> Result<(usize, &[u8]), ParseError> {
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
    Ok((start, tail.get(..len).unwrap_or(&[])))
}

/// Parses a `bench` write: one decimal count from 1 to `max`, surrounding
/// whitespace ignored.
///
/// # Errors
///
/// [`ParseError::Empty`] without a token, [`ParseError::ExtraToken`] for a
/// second one, [`ParseError::InvalidDigit`] for anything but `0`-`9`,
/// [`ParseError::Zero`] for a count of 0, [`ParseError::TooLong`] for a
/// count over `max`.
///
/// # Examples
///
/// ```
/// use modsym_core::parse::{parse_count, ParseError};
///
/// assert_eq!(parse_count(b" 100\n", 1000), Ok(100));
/// assert_eq!(parse_count(b"1001", 1000), Err(ParseError::TooLong { offset: 0 }));
/// assert_eq!(parse_count(b"0", 1000), Err(ParseError::Zero));
/// assert_eq!(parse_count(b"0x10", 1000), Err(ParseError::InvalidDigit { offset: 1 }));
/// ```
pub fn parse_count(input: &[u8], max: u64) -> Result<u64, ParseError> {
    let (start, token) = single_token(input)?;
    let mut n: u64 = 0;
    for (k, &b) in token.iter().enumerate() {
        if !b.is_ascii_digit() {
            return Err(ParseError::InvalidDigit { offset: start + k });
        }
        n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    match n {
        0 => Err(ParseError::Zero),
        n if n > max => Err(ParseError::TooLong { offset: start }),
        n => Ok(n),
    }
}

/// Parses an `accelerate` write: `1` (on) or `0` (off), surrounding
/// whitespace ignored.
///
/// # Errors
///
/// [`ParseError::Empty`] without a token, [`ParseError::ExtraToken`] for a
/// second one, [`ParseError::InvalidDigit`] for any other token.
///
/// # Examples
///
/// ```
/// use modsym_core::parse::{parse_switch, ParseError};
///
/// assert_eq!(parse_switch(b"1\n"), Ok(true));
/// assert_eq!(parse_switch(b" 0 "), Ok(false));
/// assert_eq!(parse_switch(b"01"), Err(ParseError::InvalidDigit { offset: 0 }));
/// assert_eq!(parse_switch(b"on"), Err(ParseError::InvalidDigit { offset: 0 }));
/// assert_eq!(parse_switch(b"\n"), Err(ParseError::Empty));
/// ```
pub fn parse_switch(input: &[u8]) -> Result<bool, ParseError> {
    match single_token(input)? {
        (_, b"1") => Ok(true),
        (_, b"0") => Ok(false),
        (start, _) => Err(ParseError::InvalidDigit { offset: start }),
    }
}

/// Splits the trailing ` [module]` off a line as `sprint_symbol()` prints it:
/// the text before it and the module name (as printed, possibly empty);
/// `None` if the line does not end with one.
///
/// # Examples
///
/// ```
/// use modsym_core::parse::split_module_suffix;
///
/// assert_eq!(split_module_suffix(b"f+0x1/0x2 [ext4]"), Some((&b"f+0x1/0x2"[..], &b"ext4"[..])));
/// assert_eq!(split_module_suffix(b"f+0x1/0x2"), None);
/// assert_eq!(split_module_suffix(b"f+0x1/0x2]"), None);
/// ```
pub fn split_module_suffix(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = line.strip_suffix(b"]")?;
    let open = rest.windows(2).rposition(|w| w == b" [")?;
    Some((rest.get(..open)?, rest.get(open + 2..)?))
}

/// A symbol as `sprint_symbol()` prints it, see [`parse_symbol_line`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
// The kernel module uses it only where it has ftrace (accel.rs).
#[allow(dead_code)]
pub struct SymbolLine<'a> {
    /// The symbol name.
    pub name: &'a [u8],
    /// Offset of the address into the symbol.
    pub offset: u64,
    /// Size of the symbol.
    pub size: u64,
    /// The module, for a module symbol (`None` for vmlinux).
    pub module: Option<&'a [u8]>,
}

/// Parses `sprint_symbol()`'s output: `name+0xoff/0xsize`, followed by
/// ` [module]` for a module symbol. `None` for anything else, such as the
/// bare `0x<addr>` of an address no symbol covers.
///
/// # Examples
///
/// ```
/// use modsym_core::parse::{parse_symbol_line, SymbolLine};
///
/// let s = parse_symbol_line(b"find_kallsyms_symbol+0x0/0x1a0").unwrap();
/// assert_eq!((s.name, s.offset, s.size, s.module), (&b"find_kallsyms_symbol"[..], 0, 0x1a0, None));
/// let s = parse_symbol_line(b"ext4_fill_super+0x10/0x17b0 [ext4]").unwrap();
/// assert_eq!((s.name, s.offset, s.module), (&b"ext4_fill_super"[..], 0x10, Some(&b"ext4"[..])));
/// assert_eq!(parse_symbol_line(b"0xffffffff81000000"), None);
/// assert_eq!(parse_symbol_line(b"f+0x1/0x"), None);
/// ```
// The kernel module uses it only where it has ftrace (accel.rs).
#[allow(dead_code)]
pub fn parse_symbol_line(line: &[u8]) -> Option<SymbolLine<'_>> {
    let (symbol, module) = match split_module_suffix(line) {
        Some((symbol, module)) => (symbol, Some(module)),
        None => (line, None),
    };
    let plus = symbol.iter().rposition(|&b| b == b'+')?;
    let (name, numbers) = (symbol.get(..plus)?, symbol.get(plus + 1..)?);
    let slash = numbers.iter().position(|&b| b == b'/')?;
    let offset = prefixed_hex(numbers.get(..slash)?)?;
    let size = prefixed_hex(numbers.get(slash + 1..)?)?;
    if name.is_empty() || module.is_some_and(|m| m.is_empty()) {
        return None;
    }
    Some(SymbolLine {
        name,
        offset,
        size,
        module,
    })
}

/// `0x` and 1 to [`MAX_HEX_DIGITS`] hexadecimal digits, as `%lx` prints them.
// The kernel module uses it only where it has ftrace (accel.rs).
#[allow(dead_code)]
fn prefixed_hex(token: &[u8]) -> Option<u64> {
    let digits = token.strip_prefix(b"0x")?;
    if digits.is_empty() || digits.len() > MAX_HEX_DIGITS {
        return None;
    }
    digits
        .iter()
        .try_fold(0u64, |n, &b| Some((n << 4) | hex_value(b)?))
}

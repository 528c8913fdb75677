// SPDX-License-Identifier: GPL-2.0

//! Input parsing and output formatting.

mod common;

use common::validate;
use core::fmt::Write;
use modsym_core::format::{self, resolved, symbol, unresolved, Line, Overflow, LINE_CAPACITY};
use modsym_core::parse::{
    addresses, parse_name_query, AddressStream, NameQuery, ParseError, MAX_MODULE_LEN, MAX_NAME_LEN,
};
use proptest::prelude::*;

fn all(input: &[u8]) -> Vec<Result<u64, ParseError>> {
    addresses(input).collect()
}

#[test]
fn addresses_accepted() {
    assert_eq!(
        all(b"0 1 0x0 0X1f ff FF 0xffffffffffffffff ffffffffffffffff\n"),
        [0, 1, 0, 0x1f, 0xff, 0xff, u64::MAX, u64::MAX].map(Ok)
    );
    assert_eq!(all(b"\t\r\n\x0b\x0c 12 \n\n 34\n"), [0x12, 0x34].map(Ok));
    assert_eq!(all(b"0000000000000001"), [Ok(1)]);
    assert_eq!(validate(b"0xffffffffc0002010\n"), Ok(1));
    assert_eq!(validate(b"1\n2\n3"), Ok(3));
    assert_eq!(validate(b"1 2 3\n"), Ok(3));
}

#[test]
fn addresses_rejected() {
    use ParseError::*;
    assert_eq!(validate(b""), Err(Empty));
    assert_eq!(validate(b" \n\t"), Err(Empty));
    assert_eq!(validate(b" \n"), Err(Empty));
    assert_eq!(all(b""), []);
    assert_eq!(validate(b"0x"), Err(NoDigits { offset: 0 }));
    assert_eq!(validate(b"1 0X\n"), Err(NoDigits { offset: 2 }));
    assert_eq!(validate(b"12g4"), Err(InvalidDigit { offset: 2 }));
    assert_eq!(validate(b"  0xq"), Err(InvalidDigit { offset: 4 }));
    assert_eq!(validate(b"-1"), Err(InvalidDigit { offset: 0 }));
    assert_eq!(validate(b"+1"), Err(InvalidDigit { offset: 0 }));
    assert_eq!(validate(b"0x0x1"), Err(InvalidDigit { offset: 3 }));
    assert_eq!(validate(b"1,2"), Err(InvalidDigit { offset: 1 }));
    assert_eq!(validate(b"1\x002"), Err(InvalidDigit { offset: 1 }));
    assert_eq!(
        validate("1\u{a0}2".as_bytes()),
        Err(InvalidDigit { offset: 1 })
    );
    // 17 digits, with or without the prefix, and leading zeros count.
    assert_eq!(validate(b"1 00000000000000001"), Err(TooLong { offset: 2 }));
    assert_eq!(validate(b"0x11112222333344445"), Err(TooLong { offset: 0 }));
    assert_eq!(validate(b"1 11112222333344445"), Err(TooLong { offset: 2 }));
    assert_eq!(validate(b"0x1111222233334444"), Ok(1));
    // The first error wins and the iterator stops there.
    assert_eq!(all(b"1 x 2 y"), [Ok(1), Err(InvalidDigit { offset: 2 })]);
    let mut it = addresses(b"zz 1");
    assert!(it.next().unwrap().is_err());
    assert_eq!(it.next(), None);
    assert_eq!(it.next(), None);
}

#[test]
fn name_queries() {
    use ParseError::*;
    let q = |s: &'static [u8]| parse_name_query(s);
    assert_eq!(
        q(b"foo"),
        Ok(NameQuery {
            module: None,
            name: b"foo"
        })
    );
    assert_eq!(
        q(b"foo\n"),
        Ok(NameQuery {
            module: None,
            name: b"foo"
        })
    );
    assert_eq!(
        q(b"\tmod:foo.cold \r\n"),
        Ok(NameQuery {
            module: Some(b"mod"),
            name: b"foo.cold"
        })
    );
    assert_eq!(
        q(b"m:a:b"),
        Ok(NameQuery {
            module: Some(b"m"),
            name: b"a:b"
        })
    );
    assert_eq!(
        q(b"$x"),
        Ok(NameQuery {
            module: None,
            name: b"$x"
        })
    );
    assert_eq!(q(b""), Err(Empty));
    assert_eq!(q(b"\n"), Err(Empty));
    assert_eq!(q(b"foo bar"), Err(ExtraToken { offset: 4 }));
    assert_eq!(q(b" foo\n\nbar\n"), Err(ExtraToken { offset: 6 }));
    assert_eq!(q(b":foo"), Err(EmptyModule));
    assert_eq!(q(b"mod:"), Err(EmptyName));
    assert_eq!(q(b":"), Err(EmptyModule));
    assert_eq!(q(b"a\x00b"), Err(InvalidByte { offset: 1 }));

    let long_name = vec![b'n'; MAX_NAME_LEN];
    assert_eq!(
        parse_name_query(&long_name).unwrap().name.len(),
        MAX_NAME_LEN
    );
    let mut too_long = long_name.clone();
    too_long.push(b'n');
    assert_eq!(parse_name_query(&too_long), Err(TooLong { offset: 0 }));
    let mut with_mod = b"ext4:".to_vec();
    with_mod.extend_from_slice(&too_long);
    assert_eq!(parse_name_query(&with_mod), Err(TooLong { offset: 5 }));

    let mut module = vec![b'm'; MAX_MODULE_LEN];
    module.extend_from_slice(b":f");
    assert!(parse_name_query(&module).is_ok());
    module.insert(0, b'm');
    assert_eq!(parse_name_query(&module), Err(TooLong { offset: 0 }));
}

#[test]
fn lines() {
    let mut l = Line::new();
    resolved(&mut l, 0xffff_ffff_c000_2010, b"foo", 0x10, 0x40, b"ext4").unwrap();
    assert_eq!(l.as_bytes(), b"0xffffffffc0002010 foo+0x10/0x40 [ext4]\n");
    l.clear();
    resolved(&mut l, 0x1000, b"bar", 0, 1, b"m").unwrap();
    assert_eq!(l.as_bytes(), b"0x1000 bar+0x0/0x1 [m]\n");
    l.clear();
    resolved(&mut l, 0, b"\xffx", 0, 0, b"").unwrap();
    assert_eq!(l.as_bytes(), b"0x0 \xffx+0x0/0x0\n");
    l.clear();
    unresolved(&mut l, 0xdead).unwrap();
    symbol(
        &mut l,
        0xffff_ffff_c000_2000,
        0x40,
        b'T',
        b"init_module",
        b"m",
    )
    .unwrap();
    symbol(&mut l, 1, 0, b'd', b"x", b"").unwrap();
    assert_eq!(
        l.as_bytes(),
        b"0xdead ?\n0xffffffffc0002000 0x40 T init_module [m]\n0x1 0x0 d x\n"
    );
}

#[test]
fn longest_lines_fit_and_names_are_cut() {
    let name = vec![b'n'; 600];
    let module = vec![b'm'; MAX_MODULE_LEN];
    let mut l = Line::new();
    resolved(&mut l, u64::MAX, &name, u64::MAX, u64::MAX, &module).unwrap();
    assert_eq!(l.as_bytes().len(), 627);
    let text = l.as_bytes();
    assert_eq!(
        text.iter().filter(|&&b| b == b'n').count(),
        format::MAX_NAME_BYTES
    );
    l.clear();
    symbol(&mut l, u64::MAX, u64::MAX, b't', &name, &module).unwrap();
    assert_eq!(l.as_bytes().len(), 610);
}

#[test]
fn overflow_is_atomic() {
    let mut l = Line::new();
    let mut n = 0;
    while resolved(&mut l, u64::MAX, b"some_function", 0x123, 0x456, b"module").is_ok() {
        n += 1;
    }
    let per_line = "0xffffffffffffffff some_function+0x123/0x456 [module]\n".len();
    assert_eq!(n, LINE_CAPACITY / per_line);
    assert_eq!(
        l.as_bytes().len(),
        n * per_line,
        "a failed line leaves nothing behind"
    );
    let before = l.as_bytes().len();
    while unresolved(&mut l, u64::MAX).is_ok() {}
    assert_eq!(
        (l.as_bytes().len() - before) % "0xffffffffffffffff ?\n".len(),
        0
    );

    let mut l = Line::new();
    assert!(l.push_bytes(&[b'x'; LINE_CAPACITY]).is_ok());
    assert_eq!(LINE_CAPACITY - l.as_bytes().len(), 0, "nothing remains");
    assert_eq!(l.push_byte(b'y'), Err(Overflow));
    assert_eq!(l.push_hex(0), Err(Overflow));
    assert!(write!(l, "z").is_err());
    assert_eq!(
        l.as_bytes(),
        &[b'x'; LINE_CAPACITY][..],
        "the full line is intact"
    );
    // A module name too long for any sane line overflows cleanly.
    let huge = vec![b'm'; 1000];
    let mut l = Line::new();
    assert_eq!(resolved(&mut l, 1, b"f", 0, 1, &huge), Err(Overflow));
    assert!(l.as_bytes().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn hex_matches_std(v in any::<u64>()) {
        let mut l = Line::new();
        l.push_hex(v).unwrap();
        let want = format!("{v:#x}");
        prop_assert_eq!(l.as_bytes(), want.as_bytes());
    }

    #[test]
    fn resolved_matches_std(addr in any::<u64>(), off in any::<u64>(), size in any::<u64>(), name in "[a-z_.$0-9]{1,40}", module in "[a-z_0-9]{1,55}") {
        let mut l = Line::new();
        resolved(&mut l, addr, name.as_bytes(), off, size, module.as_bytes()).unwrap();
        let want = format!("{addr:#x} {name}+{off:#x}/{size:#x} [{module}]\n");
        prop_assert_eq!(l.as_bytes(), want.as_bytes());
    }

    #[test]
    fn addresses_round_trip(
        values in prop::collection::vec((any::<u64>(), 0..3u8, any::<bool>()), 1..20),
        seps in prop::collection::vec(prop::sample::select(vec![" ", "\n", "\t", "  ", "\r\n", "\x0b", "\x0c"]), 21),
    ) {
        let mut input = seps[20].to_string();
        for (k, &(v, prefix, upper)) in values.iter().enumerate() {
            let digits = if upper { format!("{v:X}") } else { format!("{v:x}") };
            let prefix = ["", "0x", "0X"][prefix as usize];
            input.push_str(prefix);
            input.push_str(&digits);
            input.push_str(seps[k]);
        }
        let parsed: Vec<u64> = addresses(input.as_bytes()).map(|r| r.unwrap()).collect();
        prop_assert_eq!(parsed, values.iter().map(|v| v.0).collect::<Vec<_>>());
        prop_assert_eq!(validate(input.as_bytes()), Ok(values.len()));
    }

    #[test]
    fn validate_agrees_with_iterator(input in prop::collection::vec(prop::sample::select(b"0123456789abcdefABCDEFxXg \n\t:-\x00".to_vec()), 0..80)) {
        let items: Vec<_> = addresses(&input).collect();
        let first_err = items.iter().find_map(|r| r.err());
        // The iterator stops right after an error.
        if let Some(pos) = items.iter().position(|r| r.is_err()) {
            prop_assert_eq!(pos, items.len() - 1);
        }
        let expect = match first_err {
            Some(e) => Err(e),
            None if items.is_empty() => Err(ParseError::Empty),
            None => Ok(items.len()),
        };
        prop_assert_eq!(validate(&input), expect);
        let _ = parse_name_query(&input);
    }

    /// Cutting a valid input into writes anywhere gives the same addresses
    /// as one write, as `cat file > resolve` must.
    #[test]
    fn stream_cut_anywhere(
        values in prop::collection::vec((any::<u64>(), 0..3u8), 1..12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        trailing_sep in any::<bool>(),
    ) {
        let mut input = String::new();
        for (k, &(v, prefix)) in values.iter().enumerate() {
            if k > 0 {
                input.push(if k % 3 == 0 { '\n' } else { ' ' });
            }
            input.push_str(["", "0x", "0X"][prefix as usize]);
            input.push_str(&format!("{v:x}"));
        }
        if trailing_sep {
            input.push('\n');
        }
        let bytes = input.as_bytes();
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.push(0);
        points.push(bytes.len());
        points.sort_unstable();
        points.dedup();
        let mut stream = AddressStream::default();
        let mut got = Vec::new();
        for w in points.windows(2) {
            let piece = &bytes[w[0]..w[1]];
            // A piece of only separators between two whole tokens is an empty write.
            let checked = stream.check(piece);
            let fed = stream.feed(piece, |a| got.push(a));
            prop_assert_eq!(checked, fed);
            if let Err(e) = fed {
                prop_assert_eq!(e, ParseError::Empty);
                prop_assert!(piece.iter().all(|&b| b == b' ' || b == b'\n'));
            }
        }
        got.extend(stream.finish().unwrap());
        prop_assert_eq!(got, values.iter().map(|v| v.0).collect::<Vec<_>>());
    }

    /// A rejected write leaves the stream as it was.
    #[test]
    fn stream_rejects_atomically(
        first in "[0-9a-f ]{0,20}",
        bad in "[0-9a-f ]{0,10}[g-wyz][0-9a-f ]{0,10}",
    ) {
        let mut a = AddressStream::default();
        let mut b = AddressStream::default();
        let _ = a.feed(first.as_bytes(), |_| {});
        let _ = b.feed(first.as_bytes(), |_| {});
        let mut seen = 0;
        prop_assert!(a.feed(bad.as_bytes(), |_| seen += 1).is_err());
        prop_assert_eq!(seen, 0);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        let _ = a.feed(b" 1 ", |v| x.push(v));
        let _ = b.feed(b" 1 ", |v| y.push(v));
        prop_assert_eq!(x, y);
    }
}

#[test]
fn stream_edges() {
    let mut s = AddressStream::default();
    // A write with no token and nothing kept is empty.
    assert_eq!(s.feed(b" \n", |_| {}), Err(ParseError::Empty));
    // "0" then "x1f": one token across two writes.
    let mut got = Vec::new();
    assert_eq!(s.feed(b"0", |a| got.push(a)), Ok(0));
    assert_eq!(s.clone().finish(), Ok(Some(0)), "the cut token is kept");
    assert_eq!(s.check(b" "), Ok(1), "and a separator would complete it");
    assert_eq!(s.feed(b"x1f\n", |a| got.push(a)), Ok(1));
    assert_eq!(got, [0x1f]);
    // Whitespace alone completes a kept token.
    assert_eq!(s.feed(b"abc", |a| got.push(a)), Ok(0));
    assert_eq!(s.feed(b" ", |a| got.push(a)), Ok(1));
    assert_eq!(got, [0x1f, 0xabc]);
    // A token grown past 16 digits across writes is too long.
    assert_eq!(s.feed(b"0x1234567812345678", |_| {}), Ok(0));
    assert_eq!(s.feed(b"9", |_| {}), Err(ParseError::TooLong { offset: 0 }));
    assert_eq!(s.feed(b" ", |_| {}), Ok(1));
    // A bad byte right after a kept token.
    assert_eq!(s.feed(b"12", |_| {}), Ok(0));
    assert!(matches!(
        s.feed(b"g ", |_| {}),
        Err(ParseError::InvalidDigit { .. })
    ));
    // A bare 0x still kept when reading starts.
    assert_eq!(s.finish(), Ok(Some(0x12)));
    assert_eq!(s.feed(b"0x", |_| {}), Ok(0));
    assert_eq!(s.finish(), Err(ParseError::NoDigits { offset: 0 }));
    assert_eq!(s.finish(), Ok(None));
    // Errors in whole tokens carry their offset in the write.
    assert_eq!(
        s.feed(b"1 2g 3", |_| {}),
        Err(ParseError::InvalidDigit { offset: 3 })
    );
}

#[test]
fn counts() {
    use modsym_core::parse::parse_count;
    use ParseError::*;
    assert_eq!(parse_count(b"1", 10), Ok(1));
    assert_eq!(parse_count(b" \t10\n", 10), Ok(10));
    assert_eq!(parse_count(b"0010", 10), Ok(10));
    assert_eq!(parse_count(b"11", 10), Err(TooLong { offset: 0 }));
    assert_eq!(
        parse_count(b" 99999999999999999999999999", 10),
        Err(TooLong { offset: 1 })
    );
    assert_eq!(parse_count(b"0", 10), Err(Zero));
    assert_eq!(parse_count(b"", 10), Err(Empty));
    assert_eq!(parse_count(b" \n", 10), Err(Empty));
    assert_eq!(parse_count(b"1 2", 10), Err(ExtraToken { offset: 2 }));
    assert_eq!(parse_count(b"-1", 10), Err(InvalidDigit { offset: 0 }));
    assert_eq!(parse_count(b"1e3", 10), Err(InvalidDigit { offset: 1 }));
    assert_eq!(parse_count(b"\x001", 10), Err(InvalidDigit { offset: 0 }));
}

#[test]
fn accelerate_switch() {
    use modsym_core::parse::parse_switch;
    assert_eq!(parse_switch(b"1"), Ok(true));
    assert_eq!(parse_switch(b"1\n"), Ok(true));
    assert_eq!(parse_switch(b"\t0 \n"), Ok(false));
    assert_eq!(parse_switch(b""), Err(ParseError::Empty));
    assert_eq!(
        parse_switch(b"2"),
        Err(ParseError::InvalidDigit { offset: 0 })
    );
    assert_eq!(
        parse_switch(b" 10"),
        Err(ParseError::InvalidDigit { offset: 1 })
    );
    assert_eq!(
        parse_switch(b"1 0"),
        Err(ParseError::ExtraToken { offset: 2 })
    );
}

#[test]
fn sprint_symbol_lines() {
    use modsym_core::parse::{parse_symbol_line, SymbolLine};
    assert_eq!(
        parse_symbol_line(b"find_kallsyms_symbol+0x0/0x1a0"),
        Some(SymbolLine {
            name: b"find_kallsyms_symbol",
            offset: 0,
            size: 0x1a0,
            module: None
        })
    );
    assert_eq!(
        parse_symbol_line(b"dup_helper+0xf/0x10 [modsym_test]"),
        Some(SymbolLine {
            name: b"dup_helper",
            offset: 0xf,
            size: 0x10,
            module: Some(&b"modsym_test"[..])
        })
    );
    // The last `+` separates the name (names may hold one).
    assert_eq!(
        parse_symbol_line(b"a+b+0x1/0x2").map(|s| s.name),
        Some(&b"a+b"[..])
    );
    for bad in [
        &b"0xffffffffa0000000"[..],
        b"",
        b"+0x1/0x2",
        b"f+0x1/0x",
        b"f+1/0x2",
        b"f+0x1",
        b"f+0x1/0x2 []",
        b"f+0x1/0x2]",
        b"f+0x1/0x11111111111111111",
        b"f+0xg/0x2",
    ] {
        assert_eq!(
            parse_symbol_line(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

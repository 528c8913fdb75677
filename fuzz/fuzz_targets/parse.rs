// SPDX-License-Identifier: GPL-2.0

//! `resolve`/`lookup` input parsing and line formatting never panic;
//! `validate()` agrees with the `addresses()` iterator.

#![no_main]

use libfuzzer_sys::fuzz_target;
use modsym_core::format::{self, Line, LINE_CAPACITY};
use modsym_core::parse::{self, ParseError};

/// The host tests' helpers; `validate()` is the reference for a whole write.
#[allow(dead_code)]
#[path = "../../tests/common/oracle.rs"]
mod oracle;
use oracle::validate;

fuzz_target!(|data: &[u8]| {
    // validate() == what the iterator yields.
    let mut count = 0usize;
    let mut first_err = None;
    let mut after_err = false;
    for item in parse::addresses(data) {
        assert!(!after_err, "iterator yielded past an error");
        match item {
            Ok(_) => count += 1,
            Err(e) => {
                first_err = Some(e);
                after_err = true;
            }
        }
    }
    let expect = match first_err {
        Some(e) => Err(e),
        None if count == 0 => Err(ParseError::Empty),
        None => Ok(count),
    };
    assert_eq!(validate(data), expect);
    // Every accepted token re-parses to the same value after formatting.
    if expect.is_ok() {
        let mut line = Line::new();
        for a in parse::addresses(data).flatten() {
            line.clear();
            line.push_hex(a).unwrap();
            let again: Vec<_> = parse::addresses(line.as_bytes()).collect();
            assert_eq!(again, [Ok(a)]);
        }
    }

    // Name queries: on success, the parts are non-empty, bounded, sub-slices
    // without separators or NUL.
    if let Ok(q) = parse::parse_name_query(data) {
        assert!(!q.name.is_empty() && q.name.len() <= parse::MAX_NAME_LEN);
        if let Some(m) = q.module {
            assert!(!m.is_empty() && m.len() <= parse::MAX_MODULE_LEN && !m.contains(&b':'));
        }
        for part in [Some(q.name), q.module].into_iter().flatten() {
            assert!(!part.iter().any(|&b| b == 0 || parse::is_separator(b)));
        }
    }

    // Formatting arbitrary bytes never panics and is all-or-nothing.
    let split = data.len() / 2;
    let (name, module) = data.split_at(split);
    let mut line = Line::new();
    let _ = line.push_bytes(data);
    let before = line.as_bytes().len();
    let r = format::resolved(&mut line, data.len() as u64, name, 1, 2, module);
    if r.is_err() {
        assert_eq!(line.as_bytes().len(), before);
    }
    let before = line.as_bytes().len();
    if format::symbol(&mut line, 0, u64::MAX, b't', module, name).is_err() {
        assert_eq!(line.as_bytes().len(), before);
    }
    let _ = format::unresolved(&mut line, u64::MAX);
    assert!(line.as_bytes().len() <= LINE_CAPACITY);
});

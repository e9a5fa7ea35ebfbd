//! One table of status codes: `src/status.rs` (enum, names, messages; public as
//! `mpsync::Outcome` and `mpsync::Error`). Everything else either reads it at run time
//! (`mp_status_name` / `mp_strerror`, the C++ error category's messages, the Python
//! extension's `STATUS_CODES` and exception docstrings) or is a copy that this test
//! compares with it row by row (same codes, same order, same names, same numbers, and the
//! same message where the copy has one), naming the copy and the row that differ:
//!
//! * the `MP_*` constants of `src/ffi/status.rs` (what cbindgen copies into the header) and
//!   the `#define`s of `include/mpsync.h`;
//! * `enum class errc` of `include/mpsync.hpp`;
//! * the status-code table of `docs/api-conventions.md`;
//! * the lists of `Outcome` and `Error` variants in `docs/rust-api.md`.

mod support;

use std::ffi::CStr;

use mpsync::{Error, Outcome};
use support::{file_section, root};

/// One row of the status table as the public API shows it.
struct Row {
    name: &'static str,
    code: i32,
    message: &'static str,
}

/// Every status, in table order: the outcomes (non-negative), then the errors.
fn all() -> Vec<Row> {
    let outcomes = Outcome::ALL.iter().map(|o| Row {
        name: o.name(),
        code: o.code(),
        message: o.message(),
    });
    let errors = Error::ALL.iter().map(|e| Row {
        name: e.name(),
        code: e.code(),
        message: e.message(),
    });
    outcomes.chain(errors).collect()
}

/// `(name, value)` of every `pub const MP_X: mp_status = N;` in src/ffi/status.rs, in order.
fn exported_status_constants() -> Vec<(String, i32)> {
    let src = std::fs::read_to_string(root().join("src/ffi/status.rs")).unwrap();
    src.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("pub const ")?;
            let (name, rest) = rest.split_once(':')?;
            let value = rest.trim().strip_prefix("mp_status =")?;
            let value = value.trim().strip_suffix(';')?.trim();
            Some((
                name.trim().to_string(),
                value.parse().expect("a literal code"),
            ))
        })
        .collect()
}

#[test]
fn table_and_exported_constants_agree_element_by_element() {
    let exported = exported_status_constants();
    let table: Vec<(String, i32)> = all().iter().map(|s| (s.name.to_string(), s.code)).collect();
    for (i, (row, constant)) in table.iter().zip(&exported).enumerate() {
        assert_eq!(row, constant, "status #{i}: table vs src/ffi/status.rs");
    }
    assert_eq!(
        table.len(),
        exported.len(),
        "the table has {} codes, src/ffi/status.rs exports {}:\n{table:?}\n{exported:?}",
        table.len(),
        exported.len()
    );
}

#[test]
fn header_defines_every_code() {
    let header = std::fs::read_to_string(root().join("include/mpsync.h")).unwrap();
    for s in all() {
        let line = format!("#define {} {}", s.name, s.code);
        assert!(
            header.lines().any(|l| l == line),
            "include/mpsync.h lacks `{line}`"
        );
    }
}

#[test]
fn names_and_messages_through_the_c_abi() {
    for s in all() {
        let name = mpsync::ffi::common::mp_status_name(s.code);
        // SAFETY: mp_status_name returns a static NUL-terminated string, never NULL.
        let name = unsafe { CStr::from_ptr(name) }.to_str().unwrap();
        assert_eq!(name, s.name);
        let msg = mpsync::ffi::common::mp_strerror(s.code);
        // SAFETY: as above.
        let msg = unsafe { CStr::from_ptr(msg) }.to_str().unwrap();
        assert_eq!(msg, s.message);
    }
}

/// Compares a copy of the table (`(name, code, message)` rows, `None` where the copy has
/// no such column) with the table, row by row; fails naming `copy` and the row.
fn assert_rows_match(copy: &str, rows: &[(String, Option<i32>, Option<String>)]) {
    let table = all();
    for (i, (s, (name, code, message))) in table.iter().zip(rows).enumerate() {
        assert_eq!(name, s.name, "{copy}, row {i}: name (table: {})", s.name);
        if let Some(code) = code {
            assert_eq!(*code, s.code, "{copy}, row {i} ({name}): value");
        }
        if let Some(message) = message {
            assert_eq!(message, s.message, "{copy}, row {i} ({name}): message");
        }
    }
    assert_eq!(
        rows.len(),
        table.len(),
        "{copy} has {} status codes, the table {}",
        rows.len(),
        table.len()
    );
}

/// The cells of a Markdown table row (`|` escaped as `\|` stays in its cell).
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.iter().map(|c| c.trim().to_string()).collect()
}

#[test]
fn api_conventions_table_agrees_with_the_table() {
    let doc = std::fs::read_to_string(root().join("docs/api-conventions.md")).unwrap();
    let header = "| code | value | `mp_strerror` |";
    let from = doc
        .find(header)
        .expect("docs/api-conventions.md: the status-code table's header");
    let rows: Vec<_> = doc[from..]
        .lines()
        .skip(2) // header and separator
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let c = cells(l);
            assert!(c.len() >= 3, "docs/api-conventions.md: short row `{l}`");
            let name = c[0].trim_matches('`').to_string();
            let code = c[1].parse().unwrap_or_else(|_| panic!("a number: `{l}`"));
            (name, Some(code), Some(c[2].clone()))
        })
        .collect();
    assert_rows_match("docs/api-conventions.md (status-code table)", &rows);
}

#[test]
fn cpp_errc_lists_every_code_in_order() {
    let body = file_section(
        "include/mpsync.hpp",
        "enum class errc : std::int32_t",
        "{",
        "};",
    );
    let rows: Vec<_> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .map(|l| {
            let (enumerator, value) = l
                .trim_end_matches(',')
                .split_once('=')
                .unwrap_or_else(|| panic!("include/mpsync.hpp: errc: `{l}`"));
            let (enumerator, value) = (enumerator.trim(), value.trim());
            // Each enumerator is its C name in lower case, without `MP_`.
            let expected = value.trim_start_matches("MP_").to_ascii_lowercase();
            assert_eq!(
                enumerator, expected,
                "include/mpsync.hpp: errc::{enumerator} = {value}"
            );
            (value.to_string(), None, None)
        })
        .collect();
    assert_rows_match("include/mpsync.hpp (enum class errc)", &rows);
}

#[test]
fn rust_api_doc_lists_every_outcome_and_error_in_order() {
    let doc = std::fs::read_to_string(root().join("docs/rust-api.md")).unwrap();
    let section = &doc[doc
        .find("## Results: `Outcome` and `Error`")
        .expect("docs/rust-api.md: the Results section")..];
    // The paragraph after the heading.
    let paragraph = section.split("\n\n").nth(1).unwrap_or("");
    // The doc's two lists: `Outcome::{Ok, ...}` and `an `Error` variant (...)`.
    let outcomes = paragraph
        .split_once("`Outcome::{")
        .and_then(|(_, rest)| rest.split_once("}`"))
        .expect("docs/rust-api.md: `Outcome::{...}`")
        .0;
    let errors = paragraph
        .split_once("`Error` variant (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .expect("docs/rust-api.md: `Error` variant (...)")
        .0;
    let listed: Vec<String> = outcomes
        .split(',')
        .chain(errors.split(','))
        .map(|v| v.trim().trim_matches('`').to_string())
        .collect();
    let variants: Vec<String> = Outcome::ALL
        .iter()
        .map(|o| format!("{o:?}"))
        .chain(Error::ALL.iter().map(|e| format!("{e:?}")))
        .collect();
    for (i, (doc, variant)) in listed.iter().zip(&variants).enumerate() {
        assert_eq!(
            doc,
            variant,
            "docs/rust-api.md, row {i} ({})",
            all()[i].name
        );
    }
    assert_eq!(
        listed.len(),
        variants.len(),
        "docs/rust-api.md lists {listed:?}, the table has {variants:?}"
    );
}

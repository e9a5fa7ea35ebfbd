//! The status codes exist three times: the table in `src/status.rs` (enum, names,
//! messages; public as `mpsync::Outcome` and `mpsync::Error`), the `MP_*` constants of `src/ffi/mod.rs` (what cbindgen copies into the
//! header) and `include/mpsync.h`. This compares them element by element: same codes,
//! same order, same names, same numbers, and `mp_status_name` / `mp_strerror` agree.

use std::ffi::CStr;
use std::path::PathBuf;

use mpsync::{Error, Outcome};

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

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(name, value)` of every `pub const MP_X: mp_status = N;` in src/ffi/mod.rs, in order.
fn exported_status_constants() -> Vec<(String, i32)> {
    let src = std::fs::read_to_string(root().join("src/ffi/mod.rs")).unwrap();
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
        assert_eq!(row, constant, "status #{i}: table vs src/ffi/mod.rs");
    }
    assert_eq!(
        table.len(),
        exported.len(),
        "the table has {} codes, src/ffi/mod.rs exports {}:\n{table:?}\n{exported:?}",
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

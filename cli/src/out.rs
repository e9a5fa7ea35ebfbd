//! Printing that never panics: `println!` panics when stdout is a closed pipe
//! (`mpsync ls | head -1`); these helpers stop writing instead.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `text` and a newline to stdout; false once stdout is closed (broken pipe or
/// any other write error), after which nothing more is written.
pub fn line(text: &str) -> bool {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return false;
    }
    let mut o = std::io::stdout().lock();
    if writeln!(o, "{text}").and_then(|()| o.flush()).is_err() {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        return false;
    }
    true
}

/// Writes raw text (no newline added).
pub fn raw(text: &str) -> bool {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return false;
    }
    let mut o = std::io::stdout().lock();
    if o.write_all(text.as_bytes())
        .and_then(|()| o.flush())
        .is_err()
    {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        return false;
    }
    true
}

/// `mpsync: <text>` on stderr (errors ignored: there is nowhere else to report them).
pub fn error(text: &str) {
    let _ = writeln!(std::io::stderr(), "mpsync: {text}");
}

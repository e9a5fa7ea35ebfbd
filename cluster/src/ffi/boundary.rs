//! Checks at the C boundary: NULL pointers, C strings, out-parameters, timeouts, the
//! collapse of the core's results into `mp_status`, and panics caught.

use core::ffi::c_char;
use std::ffi::CStr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use mpsync::{Deadline, Error, Outcome};

use super::mp_status;

/// Runs `f`, turning a panic into `MP_ESYS` (no unwinding across the C boundary).
pub(crate) fn guard(f: impl FnOnce() -> Result<mp_status, Error>) -> mp_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => e.code(),
        Err(_) => Error::System.code(),
    }
}

/// The status of an outcome.
pub(crate) fn outcome(o: Outcome) -> mp_status {
    o.code()
}

/// Borrows `*p`: `Error::Invalid` for NULL.
///
/// # Safety
/// `p` is NULL or points to a live `T` for `'a`.
pub(crate) unsafe fn object<'a, T>(p: *const T) -> Result<&'a T, Error> {
    // SAFETY: forwarded contract.
    unsafe { p.as_ref() }.ok_or(Error::Invalid)
}

/// A UTF-8 C string: `Error::Invalid` for NULL or invalid UTF-8.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string readable for `'a`.
pub(crate) unsafe fn text<'a>(p: *const c_char) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::Invalid);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Error::Invalid)
}

/// `len` bytes at `p` (any `p` when `len` is 0): `Error::Invalid` for NULL with a length.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes for `'a`.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::Invalid);
    }
    // SAFETY: non-NULL, `len` readable bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Writes `value` to the out-parameter `out`: `Error::Invalid` for NULL.
///
/// # Safety
/// `out` is NULL or valid for one write of `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::Invalid);
    }
    // SAFETY: non-NULL and writable by the caller's contract.
    unsafe { out.write(value) };
    Ok(())
}

/// The deadline of `(block, timeout_ms)` as the local library reads it: not blocking
/// tries once; a negative timeout waits forever.
pub(crate) fn deadline(block: bool, timeout_ms: i64) -> Deadline {
    match (block, timeout_ms) {
        (false, _) => Deadline::now(),
        (true, ms) if ms < 0 => Deadline::forever(),
        (true, ms) => Deadline::after(Duration::from_millis(ms as u64)),
    }
}

/// Moves `value` to the heap and hands its pointer to C through `out`.
///
/// # Safety
/// As [`write_out`].
pub(crate) unsafe fn hand_out<T>(out: *mut *mut T, value: T) -> Result<mp_status, Error> {
    if out.is_null() {
        return Err(Error::Invalid);
    }
    // SAFETY: checked non-NULL; writable by the caller's contract.
    unsafe { write_out(out, Box::into_raw(Box::new(value))) }?;
    Ok(0)
}

/// Takes back and drops a value handed out by [`hand_out`]: `Error::Invalid` for NULL.
///
/// # Safety
/// `p` is NULL or came from `hand_out` and was not taken back yet.
pub(crate) unsafe fn take_back<T>(p: *mut T) -> Result<mp_status, Error> {
    if p.is_null() {
        return Err(Error::Invalid);
    }
    // SAFETY: came from Box::into_raw in hand_out, taken back once (contract).
    drop(unsafe { Box::from_raw(p) });
    Ok(0)
}

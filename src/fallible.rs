//! Memory that the library may fail to get: fixed-size buffers on the stack for names
//! and paths, and heap allocations that report failure instead of aborting.
//!
//! Rust's default reaction to a failed allocation (`handle_alloc_error`) aborts the
//! process, which for a library means killing its host program. So nothing reachable
//! from an entry point of the C ABI uses an infallible allocation (`Box::new`,
//! `format!`, `to_string`, `Vec::push` without a reservation, `std::fs::read`, ...):
//! names and paths are built in a [`StackStr`], and what must live on the heap is
//! allocated with the `try_*` functions here, whose failure becomes `MP_ENOMEM`.

use core::fmt;
use std::ffi::CStr;

/// The heap could not provide the memory asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NoMem;

impl From<NoMem> for crate::status::Status {
    fn from(_: NoMem) -> Self {
        crate::status::Status::NoMem
    }
}

/// A string of at most `N - 1` bytes built in place, always NUL-terminated: names and
/// paths without touching the heap. Writing past its capacity fails (`fmt::Error`) and
/// leaves it marked as overflowed, so a truncated path is never used.
pub(crate) struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
    overflowed: bool,
}

impl<const N: usize> StackStr<N> {
    /// An empty string.
    pub(crate) const fn new() -> Self {
        const { assert!(N > 0) };
        StackStr {
            buf: [0; N],
            len: 0,
            overflowed: false,
        }
    }

    /// `args` formatted into a new string; `None` if it does not fit.
    pub(crate) fn format(args: fmt::Arguments<'_>) -> Option<Self> {
        let mut s = StackStr::new();
        fmt::Write::write_fmt(&mut s, args).ok()?;
        Some(s)
    }

    /// Appends `bytes`; false (and the string unusable) if they do not fit or hold a NUL.
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) -> bool {
        if self.overflowed || bytes.contains(&0) || bytes.len() > N - 1 - self.len {
            self.overflowed = true;
            return false;
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        self.buf[self.len] = 0;
        true
    }

    /// The bytes, without the NUL.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The string (only UTF-8 is ever written through `fmt::Write`; `push_bytes` of
    /// other bytes gives "").
    pub(crate) fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The NUL-terminated string.
    pub(crate) fn as_cstr(&self) -> &CStr {
        // The buffer holds `len` non-NUL bytes followed by a NUL (push_bytes keeps it
        // so); the fallback is unreachable.
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).unwrap_or(c"")
    }
}

impl<const N: usize> fmt::Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.push_bytes(s.as_bytes()) {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

impl<const N: usize> fmt::Debug for StackStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A `String` being built with fallible growth (see [`try_format`]).
struct TryString(String);

impl fmt::Write for TryString {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.try_reserve(s.len()).map_err(|_| fmt::Error)?;
        self.0.push_str(s);
        Ok(())
    }
}

/// `format!` that reports a failed allocation instead of aborting.
pub(crate) fn try_format(args: fmt::Arguments<'_>) -> Result<String, NoMem> {
    let mut s = TryString(String::new());
    // Formatting itself never fails here: an error can only be a refused reservation.
    fmt::Write::write_fmt(&mut s, args).map_err(|_| NoMem)?;
    Ok(s.0)
}

/// `s.to_string()` that reports a failed allocation instead of aborting.
pub(crate) fn try_string(s: &str) -> Result<String, NoMem> {
    let mut out = String::new();
    out.try_reserve_exact(s.len()).map_err(|_| NoMem)?;
    out.push_str(s);
    Ok(out)
}

/// `v.push(x)` that reports a failed allocation instead of aborting.
pub(crate) fn try_push<T>(v: &mut Vec<T>, x: T) -> Result<(), NoMem> {
    v.try_reserve(1).map_err(|_| NoMem)?;
    v.push(x);
    Ok(())
}

/// A heap copy of `bytes` with a NUL appended, or `None` if memory is short or
/// `bytes` holds a NUL.
pub(crate) fn try_box_cstr(bytes: &[u8]) -> Option<Box<CStr>> {
    if bytes.contains(&0) {
        return None;
    }
    let len = bytes.len() + 1;
    let layout = std::alloc::Layout::array::<u8>(len).ok()?;
    // SAFETY: the layout has a non-zero size (len >= 1).
    let p = unsafe { std::alloc::alloc(layout) };
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is a fresh allocation of `len` bytes: `bytes` fills all but the last,
    // which becomes the only NUL. A `Box<[u8]>` of `len` bytes owns exactly this
    // layout (size `len`, alignment 1) from the global allocator, and `CStr` is a
    // transparent wrapper of `[u8]` ending in its only NUL (what
    // `CString::into_boxed_c_str` relies on too).
    unsafe {
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        p.add(bytes.len()).write(0);
        let slice: *mut [u8] = core::ptr::slice_from_raw_parts_mut(p, len);
        Some(Box::from_raw(slice as *mut CStr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_strings_refuse_what_does_not_fit() {
        let s = StackStr::<8>::format(format_args!("ab{}", 12)).unwrap();
        assert_eq!((s.as_str(), s.as_cstr()), ("ab12", c"ab12"));
        assert!(StackStr::<8>::format(format_args!("{}", "1234567")).is_some());
        assert!(StackStr::<8>::format(format_args!("{}", "12345678")).is_none());
        let mut t = StackStr::<8>::new();
        assert!(t.push_bytes(b"abc"));
        assert!(!t.push_bytes(b"d\0"));
        assert!(!t.push_bytes(b"e"), "stays unusable after a refused write");
    }

    #[test]
    fn fallible_copies() {
        assert_eq!(try_format(format_args!("x{}y", 5)).unwrap(), "x5y");
        assert_eq!(try_string("abc").unwrap(), "abc");
        let mut v = Vec::new();
        try_push(&mut v, 3).unwrap();
        assert_eq!(v, [3]);
        assert_eq!(&*try_box_cstr(b"name").unwrap(), c"name");
        assert!(try_box_cstr(b"na\0me").is_none());
    }
}

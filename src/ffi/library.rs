//! The calls that take no object: status strings, the version (and its numbers
//! `MP_VERSION_*`, which CMakeLists.txt compares with Cargo.toml through the header),
//! `mp_unlink` (by name) and `mp_robust_mode` (per thread).

use core::ffi::c_char;

use super::boundary::{c_name, code};
use super::status::mp_status;
use crate::api::library;
use crate::status::Status;

/// Major version (incompatible ABI changes).
pub const MP_VERSION_MAJOR: u32 = 0;
/// Minor version (compatible additions).
pub const MP_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const MP_VERSION_PATCH: u32 = 0;

/// A static, NUL-terminated description of `status`; never NULL (unknown codes give
/// `"unknown status code"`).
#[unsafe(no_mangle)]
pub extern "C" fn mp_strerror(status: mp_status) -> *const c_char {
    match Status::from_code(status) {
        Some(s) => s.message_cstr().as_ptr().cast(),
        None => c"unknown status code".as_ptr(),
    }
}

/// The symbolic name of `status`, e.g. `"MP_TIMEOUT"`; never NULL (unknown codes give
/// `"MP_UNKNOWN"`).
#[unsafe(no_mangle)]
pub extern "C" fn mp_status_name(status: mp_status) -> *const c_char {
    match Status::from_code(status) {
        Some(s) => s.name_cstr().as_ptr().cast(),
        None => c"MP_UNKNOWN".as_ptr(),
    }
}

/// The library's version at run time: `major << 16 | minor << 8 | patch`. Compare
/// with `MP_VERSION_MAJOR` etc. from the header you compiled against.
#[unsafe(no_mangle)]
pub extern "C" fn mp_version() -> u32 {
    (MP_VERSION_MAJOR << 16) | (MP_VERSION_MINOR << 8) | MP_VERSION_PATCH
}

/// The library's version as a static string, e.g. `"0.1.0"`.
#[unsafe(no_mangle)]
pub extern "C" fn mp_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Removes the name of a named object or shared-memory block. Processes that have it
/// open keep using it until they close it; a later `*_open` with `MP_CREATE` makes a
/// new object.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL or bad name), `MP_ENOENT`, `MP_EACCES`, `MP_ESYS`.
///
/// # Safety
/// `name` is NULL or a valid NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_unlink(name: *const c_char) -> mp_status {
    // SAFETY: forwarded contract.
    code(unsafe { c_name(name) }.and_then(library::unlink_c))
}

/// Robust mode off for the calling thread: owner death is found by the liveness
/// back-stop only (within about a quarter of a second of blocking), and only for owners
/// in the waiter's own PID namespace whose `/proc` the waiter can provably read.
pub const MP_ROBUST_OFF: i32 = 0;
/// The calling thread shares glibc's kernel robust list: owner death is reported by
/// the kernel at once.
pub const MP_ROBUST_GLIBC: i32 = 1;
/// The calling thread had no robust list; libmpsync registered its own.
pub const MP_ROBUST_OWN: i32 = 2;

/// How the calling thread detects the death of an RLock owner: `MP_ROBUST_GLIBC`,
/// `MP_ROBUST_OWN` or `MP_ROBUST_OFF` (unknown libc layout, failed self-test,
/// `MPSYNC_NO_ROBUST=1` in the environment, robust-list syscalls unavailable, or no
/// memory for the thread's private record of held locks at its first library call).
/// Across PID namespaces an RLock is still linked while owned (the kernel reports a dying
/// owner), but never marked pending while only waited for; the `/proc` back-stop helps
/// only when the owner is in the waiter's own PID namespace and `/proc` provably shows it.
#[unsafe(no_mangle)]
pub extern "C" fn mp_robust_mode() -> i32 {
    library::robust_mode() as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn strings_are_never_null() {
        for c in [-100, -13, -1, 0, 1, 2, 3, 99] {
            // SAFETY: both return static NUL-terminated strings.
            let (e, n) = unsafe {
                (
                    CStr::from_ptr(mp_strerror(c)),
                    CStr::from_ptr(mp_status_name(c)),
                )
            };
            assert!(!e.to_bytes().is_empty() && !n.to_bytes().is_empty());
        }
        // SAFETY: static string.
        assert_eq!(unsafe { CStr::from_ptr(mp_status_name(1)) }, c"MP_TIMEOUT");
        // SAFETY: static string.
        assert_eq!(
            unsafe { CStr::from_ptr(mp_version_string()) }
                .to_str()
                .unwrap(),
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(mp_version(), 0x000100);
    }

    #[test]
    fn version_matches_cargo() {
        assert_eq!(
            MP_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            MP_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            MP_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
    }
}

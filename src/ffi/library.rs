//! The calls that take no object: status strings, the version (and its numbers
//! `MP_VERSION_*`, which CMakeLists.txt compares with Cargo.toml through the header),
//! `mp_unlink` (by name), `mp_robust_mode` (per thread), and the deadline helpers
//! `mp_deadline_after_ms` / `mp_ms_left` for retrying after `MP_EINTR`.

use core::ffi::c_char;

use super::boundary::{c_name, code};
use super::conventions::MP_FOREVER;
use super::status::mp_status;
use crate::api::library;
use crate::status::Status;
use crate::sys::time::monotonic_now;

/// Major version (incompatible ABI changes).
pub const MP_VERSION_MAJOR: u32 = 0;
/// Minor version (compatible additions).
pub const MP_VERSION_MINOR: u32 = 2;
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

/// The library's version as a static string, e.g. `"0.2.0"`.
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

/// An absolute deadline `timeout_ms` from now, in milliseconds on `CLOCK_MONOTONIC`,
/// for `mp_ms_left`: the way to retry a blocking call after `MP_EINTR` without
/// restarting its timeout. A negative `timeout_ms` (`MP_FOREVER`), or one so large that
/// the deadline cannot be represented, gives `MP_FOREVER` (no deadline); `0` gives a
/// deadline that has already passed (`mp_ms_left` returns 0: try once). A positive
/// timeout is rounded so that the deadline is never earlier than `timeout_ms` from now.
///
/// ```c
/// int64_t deadline = mp_deadline_after_ms(500);
/// mp_status st;
/// do st = mp_lock_acquire(lock, true, mp_ms_left(deadline)); while (st == MP_EINTR);
/// // MP_TIMEOUT: not acquired, and not before 500 ms had elapsed in total
/// ```
///
/// Every call that can return `MP_EINTR` takes a `timeout_ms`, except the Array
/// accessors, which wait for the array's lock without a timeout (retry them as they
/// are). MT, AS (it reads the clock only).
#[unsafe(no_mangle)]
pub extern "C" fn mp_deadline_after_ms(timeout_ms: i64) -> i64 {
    deadline_after_ms(monotonic_now(), timeout_ms)
}

/// The `timeout_ms` to pass now to wait until `deadline` (from `mp_deadline_after_ms`):
/// the milliseconds left, rounded up (so a wait never ends before the deadline), `0`
/// once it has passed (try once, then `MP_TIMEOUT`), and `MP_FOREVER` for a negative
/// `deadline` (no deadline). MT, AS.
#[unsafe(no_mangle)]
pub extern "C" fn mp_ms_left(deadline: i64) -> i64 {
    ms_left(monotonic_now(), deadline)
}

/// `now` in whole milliseconds, rounded down.
// `time_t` and `c_long` are `i64` here, but `i32` on 32-bit targets.
#[allow(clippy::useless_conversion)]
fn floor_ms(now: libc::timespec) -> i64 {
    i64::from(now.tv_sec)
        .saturating_mul(1000)
        .saturating_add(i64::from(now.tv_nsec) / 1_000_000)
}

/// `mp_deadline_after_ms` at the time `now`.
fn deadline_after_ms(now: libc::timespec, timeout_ms: i64) -> i64 {
    if timeout_ms < 0 {
        return MP_FOREVER;
    }
    if timeout_ms == 0 {
        return floor_ms(now);
    }
    // Rounded up: `deadline * 10^6 ns >= now + timeout_ms`.
    let ceil = floor_ms(now) + i64::from(now.tv_nsec % 1_000_000 != 0);
    ceil.checked_add(timeout_ms).unwrap_or(MP_FOREVER)
}

/// `mp_ms_left` at the time `now`: `ceil(deadline - now)` in ms, which for a whole
/// `deadline` is `deadline - floor(now)`; 0 once `now >= deadline`.
fn ms_left(now: libc::timespec, deadline: i64) -> i64 {
    if deadline < 0 {
        return MP_FOREVER;
    }
    deadline.saturating_sub(floor_ms(now)).max(0)
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
        assert_eq!(mp_version(), 0x000200);
    }

    fn ts(sec: i64, nsec: i64) -> libc::timespec {
        libc::timespec {
            tv_sec: sec as libc::time_t,
            tv_nsec: nsec as libc::c_long,
        }
    }

    #[test]
    fn deadline_helpers_sentinels() {
        let now = ts(100, 250_000_000);
        // Negative = forever, both ways.
        assert_eq!(deadline_after_ms(now, -1), -1);
        assert_eq!(deadline_after_ms(now, i64::MIN), -1);
        assert_eq!(ms_left(now, -1), -1);
        assert_eq!(ms_left(now, i64::MIN), -1);
        // 0 = now: already passed, try once.
        let d = deadline_after_ms(now, 0);
        assert_eq!(ms_left(now, d), 0);
        assert_eq!(ms_left(ts(100, 250_999_999), d), 0);
        assert_eq!(ms_left(ts(200, 0), d), 0);
        // Overflow: a deadline that cannot be represented is no deadline.
        assert_eq!(deadline_after_ms(now, i64::MAX), -1);
        assert_eq!(deadline_after_ms(now, i64::MAX - 100_249), -1);
        assert_eq!(deadline_after_ms(now, i64::MAX - 100_250), i64::MAX);
        assert_eq!(
            deadline_after_ms(ts(100, 250_000_001), i64::MAX - 100_250),
            -1
        );
        assert_eq!(ms_left(ts(0, 0), i64::MAX), i64::MAX);
        assert_eq!(ms_left(ts(i64::MAX / 1000, 999_999_999), 5), 0);
    }

    #[test]
    fn deadline_helpers_never_end_early() {
        // On a whole millisecond: exact.
        let d = deadline_after_ms(ts(100, 250_000_000), 500);
        assert_eq!(d, 100_750);
        assert_eq!(ms_left(ts(100, 250_000_000), d), 500);
        assert_eq!(ms_left(ts(100, 749_000_001), d), 1);
        assert_eq!(ms_left(ts(100, 750_000_000), d), 0);
        // Between milliseconds: rounded up, never down.
        let d = deadline_after_ms(ts(100, 250_000_001), 500);
        assert_eq!(d, 100_751);
        assert_eq!(ms_left(ts(100, 250_000_001), d), 501);
        assert_eq!(ms_left(ts(100, 750_000_001), d), 1);
        assert_eq!(ms_left(ts(100, 750_999_999), d), 1);
        assert_eq!(ms_left(ts(100, 751_000_000), d), 0);
        // Whatever `now` is, the time left reaches 0 only at or after the deadline.
        for start_ns in [0, 1, 999_999, 1_000_000, 123_456_789] {
            for timeout in [1, 2, 999, 1000, 1001] {
                let start = ts(7, start_ns);
                let d = deadline_after_ms(start, timeout);
                let end_ns = 7_000_000_000 + start_ns + timeout * 1_000_000;
                let before = ts((end_ns - 1) / 1_000_000_000, (end_ns - 1) % 1_000_000_000);
                assert!(ms_left(before, d) >= 1, "{start_ns} + {timeout}");
                // And it is never more than the timeout plus the rounding.
                assert!(ms_left(start, d) <= timeout + 1);
            }
        }
        // The real clock: a fresh deadline has its whole timeout left (rounded up).
        let d = mp_deadline_after_ms(60_000);
        let left = mp_ms_left(d);
        assert!(left > 59_000 && left <= 60_001, "{left}");
        assert_eq!(mp_ms_left(mp_deadline_after_ms(0)), 0);
        assert_eq!(mp_ms_left(mp_deadline_after_ms(MP_FOREVER)), -1);
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

//! The C ABI: a thin face over the safe core (`crate::api`), as the safe Rust API is a
//! face over the same core. Every `extern "C"` function checks its C pointers, calls the
//! core (its validation, lifecycles and flavour dispatch, and the state machines it
//! hands out), and turns the core's `Status` into `mp_status`; it keeps no logic of its
//! own. Nothing below this module imports it.
//!
//! One file per C type family (`lock`, `rlock`, `sem`, `cond`, `event`, `barrier`,
//! `array`, `shm`, `inspect`), plus what they all share:
//! * this file: the constants every family shares: `mp_status` and its codes, the
//!   `*_open` flags, `MP_FOREVER`, `MP_NAME_MAX` and the version numbers (the status
//!   codes stay here: tests/status_codes.rs reads them from this file);
//! * [`library`]: the calls that take no object (status strings, version, `mp_unlink`,
//!   `mp_robust_mode`);
//! * `boundary`: pointer checks, out-parameters (`ffi_out`), C strings, status
//!   collapse, and the C shape of the core's `close` / `destroy`.
//!
//! Conventions (docs/api-conventions.md): every fallible function returns `mp_status`; NULL
//! pointers give `MP_EINVAL`; memory that does not hold a live object of the right
//! type and layout gives `MP_EBADOBJ`; out-parameters are written only on success.
//! Nothing here panics: the state machines are panic-free by construction, and the
//! boundary never unwraps.

#![allow(non_camel_case_types)]

mod boundary;

pub mod array;
pub mod barrier;
pub mod cond;
pub mod event;
pub mod inspect;
pub mod library;
pub mod lock;
pub mod rlock;
pub mod sem;
pub mod shm;

/// The former name of [`library`], kept so that existing Rust paths
/// (`mpsync::ffi::common::mp_unlink`) still resolve.
#[doc(hidden)]
pub use self::library as common;

pub(crate) use boundary::{
    c_name, close, code, code_of, destroy, ffi_out, object, pointer, storage,
};

use crate::status::Status;

/// Result of every fallible call: `MP_OK` (0) and the positive codes are outcomes,
/// negative codes are errors. See `mp_strerror`.
pub type mp_status = i32;

// The status codes: one `MP_*` constant per row of the table in src/status.rs, in the
// same order and with the same numbers (tests/status_codes.rs checks it). They are
// spelled out here because cbindgen copies plain constants, not macro output.

/// Done / acquired (CPython: `True`).
pub const MP_OK: mp_status = 0;
/// Not acquired before the deadline; a non-blocking call's deadline is now
/// (CPython: `False`).
pub const MP_TIMEOUT: mp_status = 1;
/// Acquired, but the previous owner died while holding it: the protected data may be
/// inconsistent. The lock works normally afterwards (no poisoning).
pub const MP_OWNER_DEAD: mp_status = 2;
/// Invalid argument: NULL, bad name, bad flags, bad type code, value > max.
pub const MP_EINVAL: mp_status = -1;
/// The memory does not hold a live object of this type and layout version.
pub const MP_EBADOBJ: mp_status = -2;
/// RLock released (or Condition waited) by a thread that does not own it.
pub const MP_ENOTOWNER: mp_status = -3;
/// Released too many times: Lock not held, semaphore at its maximum, recursion depth
/// exhausted.
pub const MP_EOVERFLOW: mp_status = -4;
/// Interrupted by a signal handler; nothing was acquired or changed. Retry to ignore
/// signals.
pub const MP_EINTR: mp_status = -5;
/// The barrier is broken, or was reset or aborted while waiting.
pub const MP_EBROKEN: mp_status = -6;
/// `MP_CREATE | MP_EXCL`, and the name exists.
pub const MP_EEXIST: mp_status = -7;
/// No object of that name.
pub const MP_ENOENT: mp_status = -8;
/// Permission denied.
pub const MP_EACCES: mp_status = -9;
/// Out of memory or address space (or shared-memory space).
pub const MP_ENOMEM: mp_status = -10;
/// The object is in use: destroyed while held or waited on.
pub const MP_EBUSY: mp_status = -11;
/// Index or length out of bounds.
pub const MP_ERANGE: mp_status = -12;
/// Unexpected operating-system error (`errno` tells more).
pub const MP_ESYS: mp_status = -13;

/// `flags` bit for `*_open`: create the object if the name does not exist.
pub const MP_CREATE: u32 = 1;
/// `flags` bit for `*_open`, with `MP_CREATE`: fail with `MP_EEXIST` if the name exists.
pub const MP_EXCL: u32 = 2;
/// `flags` bit for `*_open` (every kind, `mp_shm_open` included): accept an existing
/// object whose file is owned by another user. Without it, opening such an object
/// (with or without `MP_CREATE`) fails with `MP_EACCES`, for root too: whoever
/// created the name can rewrite the object's memory, including its lock words. Pass
/// it only when the object's owner is trusted, e.g. to share a block with a Python
/// process of another user.
pub const MP_ANY_OWNER: u32 = 16;
/// `timeout_ms` value that waits forever (any negative value does).
pub const MP_FOREVER: i64 = -1;
/// Longest object name, not counting an optional leading `/`.
pub const MP_NAME_MAX: usize = 200;

/// Major version (incompatible ABI changes).
pub const MP_VERSION_MAJOR: u32 = 0;
/// Minor version (compatible additions).
pub const MP_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const MP_VERSION_PATCH: u32 = 0;

impl From<Status> for mp_status {
    #[inline]
    fn from(s: Status) -> mp_status {
        s.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::shm as os_shm;

    #[test]
    fn codes_match_status() {
        // Every status code is compared with the table by tests/status_codes.rs.
        assert_eq!(MP_OWNER_DEAD, Status::OwnerDead.code());
        assert_eq!(MP_ESYS, Status::Sys.code());
        assert_eq!(MP_NAME_MAX, os_shm::NAME_MAX_LEN);
        assert_eq!(MP_CREATE, os_shm::FLAG_CREATE);
        assert_eq!(MP_EXCL, os_shm::FLAG_EXCL);
        assert_eq!(MP_ANY_OWNER, os_shm::FLAG_ANY_OWNER);
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

    /// Every close path passes `MP_EBUSY` through, changing nothing, when the calling
    /// thread holds a lock inside the mapping (pretended here: the real record lives in
    /// `sys::robust`).
    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn close_of_a_mapping_with_a_held_lock_is_ebusy() {
        use super::array::{mp_array_close, mp_array_new, mp_array_t};
        use super::lock::{mp_lock_close, mp_lock_new, mp_lock_t};
        use super::shm::{mp_shm_close, mp_shm_open, mp_shm_size, mp_shm_t};
        use crate::sys::shm::map::test_hold::pretend;
        let mut l: *mut mp_lock_t = core::ptr::null_mut();
        let mut a: *mut mp_array_t = core::ptr::null_mut();
        let mut s: *mut mp_shm_t = core::ptr::null_mut();
        // SAFETY: valid out-pointers; each handle is used only while live.
        unsafe {
            assert_eq!(mp_lock_new(&mut l), MP_OK);
            assert_eq!(mp_array_new(b'i', 4, true, &mut a), MP_OK);
            assert_eq!(
                mp_shm_open(core::ptr::null(), MP_CREATE, 10, 0, &mut s),
                MP_OK
            );
            assert_eq!(library::mp_unlink(shm::mp_shm_name(s)), MP_OK);
            pretend(l as usize);
            assert_eq!(mp_lock_close(l), MP_EBUSY);
            let mut locked = true;
            assert_eq!(lock::mp_lock_is_locked(l, &mut locked), MP_OK);
            assert!(!locked);
            pretend(a as usize);
            assert_eq!(mp_array_close(a), MP_EBUSY);
            assert_eq!(array::mp_array_len(a), 4);
            pretend(s as usize);
            assert_eq!(mp_shm_close(s), MP_EBUSY);
            assert_eq!(mp_shm_size(s), 10);
            pretend(0);
            assert_eq!(mp_lock_close(l), MP_OK);
            assert_eq!(mp_array_close(a), MP_OK);
            assert_eq!(mp_shm_close(s), MP_OK);
        }
    }
}

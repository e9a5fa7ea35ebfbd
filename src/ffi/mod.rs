//! The C ABI. One file per C type family; this file holds the shared vocabulary
//! (status codes, flags, versions) and the boundary helpers every family uses:
//! pointer checks, object validation, the three lifecycles, and out-parameters.
//!
//! Conventions (docs/api-conventions.md): every fallible function returns `mp_status`; NULL
//! pointers give `MP_EINVAL`; memory that does not hold a live object of the right
//! type and layout gives `MP_EBADOBJ`; out-parameters are written only on success.
//! Nothing here panics: the state machines are panic-free by construction, and the
//! boundary never unwraps.

#![allow(non_camel_case_types)]

use core::ffi::c_char;
use std::ffi::CStr;

use crate::raw::header::{Header, Kind, Lifecycle};
use crate::status::{MpResult, Status};
use crate::sys::shm::{self as os_shm, NamedSpec};

pub mod array;
pub mod barrier;
pub mod common;
pub mod cond;
pub mod event;
pub mod inspect;
pub mod lock;
pub mod rlock;
pub mod sem;
pub mod shm;

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

/// A shared object type: its C opaque type maps onto a raw state machine.
pub(crate) trait SharedObject: Sized {
    /// The type tag in the header.
    const KIND: Kind;
    /// The object header.
    fn header(&self) -> &Header;
}

/// True if `p` has the published alignment of the C type (`MP_T_ALIGN`, which is at
/// least the state machine's own): a pointer that merely suits today's layout is still
/// refused, so that callers cannot come to depend on a laxer rule than the contract's.
#[inline]
fn aligned<T, C>(p: *const C) -> bool {
    (p as usize).is_multiple_of(core::mem::align_of::<T>().max(core::mem::align_of::<C>()))
}

/// Borrows a live object of type `T` from a C pointer: `MP_EINVAL` for NULL,
/// `MP_EBADOBJ` for misaligned memory or memory without a live `T`.
///
/// # Safety
/// `p` is NULL or points to at least `size_of::<T>()` readable bytes that stay mapped
/// for `'a` (the caller's contract on every exported function).
#[inline]
pub(crate) unsafe fn object<'a, T: SharedObject, C>(p: *const C) -> MpResult<&'a T> {
    if p.is_null() {
        return Err(Status::Inval);
    }
    if !aligned::<T, C>(p) {
        return Err(Status::BadObj);
    }
    // SAFETY: non-null, aligned, and readable for size_of::<T>() bytes per the
    // contract; T is made of atomics and integers, for which every bit pattern is
    // valid, and all access goes through atomics (other processes write concurrently).
    let obj = unsafe { &*(p as *const T) };
    obj.header().check(T::KIND)?;
    Ok(obj)
}

/// Like [`object`], but for in-place init: only NULL and alignment are checked.
///
/// # Safety
/// As [`object`], and the memory must be writable.
#[inline]
pub(crate) unsafe fn storage<'a, T, C>(p: *mut C) -> MpResult<&'a T> {
    if p.is_null() {
        return Err(Status::Inval);
    }
    if !aligned::<T, C>(p) {
        return Err(Status::Inval);
    }
    // SAFETY: as in `object`; every bit pattern of T is valid.
    Ok(unsafe { &*(p as *const T) })
}

/// Writes an out-parameter (only called on success).
///
/// # Safety
/// `out` is non-NULL (checked by [`out_ok`]) and writable.
#[inline]
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: per the contract.
    unsafe { out.write(value) };
}

/// `MP_EINVAL` for a NULL out-parameter.
#[inline]
pub(crate) fn out_ok<T>(out: *mut T) -> MpResult<()> {
    if out.is_null() {
        Err(Status::Inval)
    } else {
        Ok(())
    }
}

/// Converts a C string argument (`MP_EINVAL` for NULL).
///
/// # Safety
/// `name` is NULL or a valid NUL-terminated string.
pub(crate) unsafe fn c_name<'a>(name: *const c_char) -> MpResult<&'a CStr> {
    if name.is_null() {
        return Err(Status::Inval);
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    Ok(unsafe { CStr::from_ptr(name) })
}

/// Collapses a `MpResult<()>` into a status code.
#[inline]
pub(crate) fn code(r: MpResult<()>) -> mp_status {
    match r {
        Ok(()) => MP_OK,
        Err(e) => e.code(),
    }
}

/// Collapses a result carrying an outcome status into a code.
#[inline]
pub(crate) fn code_of(r: MpResult<Status>) -> mp_status {
    match r {
        Ok(s) | Err(s) => s.code(),
    }
}

/// What the registry records for a mapping holding one `T`.
fn content_of<T: SharedObject>() -> os_shm::Content {
    os_shm::Content::Object(T::KIND as u32)
}

/// `mp_T_new`: maps anonymous shared memory for a `T`, initialises it, and returns it.
pub(crate) fn new_anonymous<T: SharedObject>(init: impl FnOnce(&T)) -> MpResult<*mut T> {
    let base = os_shm::map_anonymous(core::mem::size_of::<T>(), content_of::<T>())?;
    // SAFETY: a fresh, zeroed, page-aligned mapping of size_of::<T>() bytes; all-zero
    // is a valid T.
    init(unsafe { &*(base as *const T) });
    Ok(base.cast())
}

/// Named-object spec for fixed-size objects.
struct FixedSpec<T, F: Fn(&T)> {
    init: F,
    _t: core::marker::PhantomData<T>,
}

impl<T: SharedObject, F: Fn(&T)> NamedSpec for FixedSpec<T, F> {
    fn content(&self) -> os_shm::Content {
        content_of::<T>()
    }
    fn create_size(&self) -> usize {
        core::mem::size_of::<T>()
    }
    fn init(&self, base: *mut u8) -> MpResult<()> {
        // SAFETY: a fresh, zeroed mapping of size_of::<T>() bytes (page-aligned).
        (self.init)(unsafe { &*(base as *const T) });
        Ok(())
    }
    fn map_size(&self, file_size: usize) -> MpResult<usize> {
        if file_size == core::mem::size_of::<T>() {
            Ok(file_size)
        } else {
            Err(Status::BadObj)
        }
    }
    fn check(&self, base: *mut u8, _len: usize) -> MpResult<()> {
        // SAFETY: a mapping of size_of::<T>() bytes; every bit pattern is a valid T.
        unsafe { &*(base as *const T) }.header().check(T::KIND)
    }
}

/// `mp_T_open`: opens or creates the named object; `init` runs only on creation.
///
/// # Safety
/// `name` is NULL or a valid NUL-terminated string.
pub(crate) unsafe fn open_named<T: SharedObject>(
    name: *const c_char,
    flags: u32,
    mode: u32,
    init: impl Fn(&T),
) -> MpResult<*mut T> {
    // SAFETY: forwarded contract.
    let name = unsafe { c_name(name) }?;
    let spec = FixedSpec::<T, _> {
        init,
        _t: core::marker::PhantomData,
    };
    Ok(os_shm::open_named(name, flags, mode, &spec)?.base.cast())
}

/// `mp_T_close`: unmaps an object obtained from `mp_T_new` / `mp_T_open`.
///
/// Decided from the process's private mapping registry first, so that a handle that
/// was already closed is never dereferenced (its address is inaccessible, and never
/// handed out again): a live mapping of this type is unmapped (`MP_EBUSY` if the
/// calling thread holds a lock inside it); a live mapping of another type, or a closed
/// handle, is `MP_EBADOBJ`. Only memory the library did not map is read: an in-place
/// object, or a copy of one, is `MP_EINVAL`; anything else `MP_EBADOBJ`.
///
/// # Safety
/// `p` is NULL, a handle from this library (closed or not), or points to at least
/// `size_of::<T>()` readable bytes.
pub(crate) unsafe fn close<T: SharedObject, C>(p: *mut C) -> mp_status {
    if p.is_null() {
        return MP_EINVAL;
    }
    match os_shm::place(p as usize) {
        os_shm::Place::Live(m) if m.content == content_of::<T>() => {
            code(os_shm::unmap_live(p as usize, m))
        }
        // A raw block's bytes are the caller's: an in-place object may start there.
        os_shm::Place::Live(m) if m.content != os_shm::Content::Block => MP_EBADOBJ,
        os_shm::Place::Stale => MP_EBADOBJ,
        // SAFETY: not a handle of this library (or a block, which is readable):
        // readable per the contract.
        os_shm::Place::Live(_) | os_shm::Place::Foreign => match unsafe { object::<T, C>(p) } {
            // In place, or the bytes of a `new`/`open` object copied elsewhere: not
            // a mapping of this process.
            Ok(_) => MP_EINVAL,
            Err(e) => e.code(),
        },
    }
}

/// `mp_T_destroy`: checks that the object is an in-place one, then runs `destroy`.
/// A closed handle of this library is `MP_EBADOBJ` without being read (its address is
/// inaccessible).
///
/// # Safety
/// As [`object`], or `p` is a closed handle of this library.
pub(crate) unsafe fn destroy<T: SharedObject, C>(
    p: *mut C,
    destroy: impl FnOnce(&T) -> Status,
) -> mp_status {
    if !p.is_null() && os_shm::place(p as usize) == os_shm::Place::Stale {
        return MP_EBADOBJ;
    }
    // SAFETY: forwarded contract.
    match unsafe { object::<T, C>(p) } {
        Ok(o) if o.header().lifecycle() != Lifecycle::InPlace => MP_EINVAL,
        Ok(o) => destroy(o).code(),
        Err(e) => e.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Every close path passes `MP_EBUSY` through, changing nothing, when the calling
    /// thread holds a lock inside the mapping (pretended here: the real record lives in
    /// `sys::robust`).
    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn close_of_a_mapping_with_a_held_lock_is_ebusy() {
        use crate::ffi::array::{mp_array_close, mp_array_new, mp_array_t};
        use crate::ffi::lock::{mp_lock_close, mp_lock_new, mp_lock_t};
        use crate::ffi::shm::{mp_shm_close, mp_shm_open, mp_shm_size, mp_shm_t};
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
            assert_eq!(common::mp_unlink(shm::mp_shm_name(s)), MP_OK);
            pretend(l as usize);
            assert_eq!(mp_lock_close(l), MP_EBUSY);
            let mut locked = true;
            assert_eq!(crate::ffi::lock::mp_lock_is_locked(l, &mut locked), MP_OK);
            assert!(!locked);
            pretend(a as usize);
            assert_eq!(mp_array_close(a), MP_EBUSY);
            assert_eq!(crate::ffi::array::mp_array_len(a), 4);
            pretend(s as usize);
            assert_eq!(mp_shm_close(s), MP_EBUSY);
            assert_eq!(mp_shm_size(s), 10);
            pretend(0);
            assert_eq!(mp_lock_close(l), MP_OK);
            assert_eq!(mp_array_close(a), MP_OK);
            assert_eq!(mp_shm_close(s), MP_OK);
        }
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

//! `mp_lock_t`: CPython's `multiprocessing.Lock`.

use core::ffi::c_char;

use super::boundary::{code, code_of, ffi_out, object, open_fixed, storage};
use super::status::mp_status;
use crate::api::lifecycle;
use crate::raw::header::Lifecycle;
use crate::raw::lock::RawLock;
use crate::sys::time::Timeout;

/// Size in bytes of `mp_lock_t` (part of the ABI).
pub const MP_LOCK_SIZE: usize = 64;
/// Alignment in bytes of `mp_lock_t`.
pub const MP_LOCK_ALIGN: usize = 8;

/// A non-recursive lock that any thread of any process may release (a binary
/// semaphore, as CPython's `multiprocessing.Lock`). Plain memory: embed it in your
/// own shared struct and `mp_lock_init` it, or get one from `mp_lock_new` /
/// `mp_lock_open`. Contains no pointers; may be mapped at different addresses.
#[repr(C)]
pub struct mp_lock_t {
    _opaque: [u64; 8],
}

const _: () = {
    assert!(core::mem::size_of::<mp_lock_t>() == MP_LOCK_SIZE);
    assert!(core::mem::align_of::<mp_lock_t>() == MP_LOCK_ALIGN);
    assert!(MP_LOCK_SIZE == RawLock::SIZE);
    assert!(MP_LOCK_ALIGN == RawLock::ALIGN);
};

/// Initialises an unlocked lock in caller-provided memory (`MP_LOCK_SIZE` bytes,
/// `MP_LOCK_ALIGN`-aligned; put it in a `MAP_SHARED` mapping to share it). End it
/// with `mp_lock_destroy`. Re-initialising a lock that is in use is a bug (as with
/// `pthread_mutex_init`).
///
/// Returns `MP_OK`, or `MP_EINVAL` for NULL or misaligned memory.
///
/// # Safety
/// `lock` is NULL or points to `MP_LOCK_SIZE` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_lock_init(lock: *mut mp_lock_t) -> mp_status {
    // SAFETY: forwarded contract.
    code(unsafe { storage::<RawLock, _>(lock) }.map(|l| l.init(Lifecycle::InPlace)))
}

/// Ends a lock made by `mp_lock_init`. Afterwards every call on it returns
/// `MP_EBADOBJ` until it is initialised again.
///
/// Returns `MP_OK`, `MP_EBUSY` (held), `MP_EINVAL` (NULL, or an object from
/// `mp_lock_new`/`mp_lock_open`: use `mp_lock_close`), `MP_EBADOBJ`.
///
/// # Safety
/// `lock` is NULL or points to `MP_LOCK_SIZE` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_lock_destroy(lock: *mut mp_lock_t) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { super::boundary::destroy::<RawLock, _>(lock) }
}

/// Creates an unlocked lock in a new anonymous shared mapping, inherited by
/// `fork()`ed children (what `multiprocessing.Lock()` gives). Release it with
/// `mp_lock_close` in every process that has it.
///
/// Returns `MP_OK` (and writes `*lock_out`), `MP_EINVAL` (NULL `lock_out`),
/// `MP_ENOMEM`.
///
/// # Safety
/// `lock_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_lock_new(lock_out: *mut *mut mp_lock_t) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        ffi_out(lock_out, || {
            lifecycle::new_anonymous::<RawLock>(|l| l.init(Lifecycle::Anonymous))
                .map(|p| p.as_ptr().cast())
        })
    }
}

/// Opens the lock called `name`, or creates it (unlocked) with `MP_CREATE`.
/// `flags`: 0, `MP_CREATE`, or `MP_CREATE | MP_EXCL`, each optionally with
/// `MP_ANY_OWNER` and `MP_REPORT_CREATED` (then `MP_CREATED` tells the one creator).
/// `mode`: permission bits for a created object (0 means 0600).
/// Unrelated processes in any language that open the same name share the lock. Many
/// processes creating the same name at once all get the same, fully initialised lock.
/// An existing object whose file belongs to another user than the caller's effective
/// uid is refused with `MP_EACCES` (root included) unless `flags` has `MP_ANY_OWNER`.
/// A creator killed at any point leaves nothing behind (the object is built in an
/// unnamed file and linked to its name only when complete).
///
/// Returns `MP_OK` (and writes `*lock_out`; `MP_CREATED` with `MP_REPORT_CREATED` if it created it), `MP_EINVAL` (NULL, bad name, bad flags
/// or mode), `MP_ENOENT`, `MP_EEXIST`, `MP_EACCES` (no permission, or another user's
/// object without `MP_ANY_OWNER`), `MP_EBADOBJ` (the name holds something else),
/// `MP_ENOMEM`, `MP_ESYS`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `lock_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_lock_open(
    name: *const c_char,
    flags: u32,
    mode: u32,
    lock_out: *mut *mut mp_lock_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { open_fixed::<RawLock, _>(name, flags, mode, lock_out, |l| l.init(Lifecycle::Named)) }
}

/// Unmaps a lock from `mp_lock_new` or `mp_lock_open` in the calling process (the
/// lock lives on in other processes; a named one keeps its name until `mp_unlink`).
///
/// A handle is never reused within the process (its address is not handed out again;
/// the README tells the one exception, an address space too small to reserve any
/// range), so closing it twice is `MP_EBADOBJ` and touches no other object.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL, or an in-place lock: use `mp_lock_destroy`),
/// `MP_EBUSY` (the calling thread holds a lock inside the mapping: nothing changed),
/// `MP_EBADOBJ` (another type's handle, or already closed).
///
/// # Safety
/// `lock` is NULL, a handle from `mp_lock_new`/`mp_lock_open` (closed or not: a live
/// handle's record decides without reading memory), or readable memory of a lock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_lock_close(lock: *mut mp_lock_t) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { super::boundary::close::<RawLock, _>(lock) }
}

/// Acquires the lock. `block == false` tries once and ignores `timeout_ms`;
/// otherwise `timeout_ms < 0` (`MP_FOREVER`) waits forever, `0` tries once, and a
/// positive value waits at most that long on `CLOCK_MONOTONIC`.
///
/// Returns `MP_OK` (acquired), `MP_TIMEOUT` (never before the timeout), `MP_EINTR` (a
/// signal handler ran; nothing acquired), `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `lock` is NULL or points to `MP_LOCK_SIZE` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_lock_acquire(
    lock: *mut mp_lock_t,
    block: bool,
    timeout_ms: i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    code_of(
        unsafe { object::<RawLock, _>(lock) }.map(|l| l.acquire(Timeout::new(block, timeout_ms))),
    )
}

/// Releases the lock. Any thread of any process may release it (CPython semantics).
///
/// Returns `MP_OK`, `MP_EOVERFLOW` (it was not locked; nothing changed), `MP_EINVAL`,
/// `MP_EBADOBJ`.
///
/// # Safety
/// `lock` is NULL or points to `MP_LOCK_SIZE` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_lock_release(lock: *mut mp_lock_t) -> mp_status {
    // SAFETY: forwarded contract.
    code_of(unsafe { object::<RawLock, _>(lock) }.map(RawLock::release))
}

/// Writes whether the lock is currently held to `*locked_out` (a snapshot).
///
/// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `lock` is NULL or points to `MP_LOCK_SIZE` readable bytes; `locked_out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_lock_is_locked(
    lock: *const mp_lock_t,
    locked_out: *mut bool,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        ffi_out(locked_out, || {
            object::<RawLock, _>(lock).map(|l| l.is_locked())
        })
    }
}

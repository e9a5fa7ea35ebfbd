//! `mp_rwlock_t`: a reader-writer lock that survives its readers' and writers' deaths
//! (design: docs/rwlock.md).

use core::ffi::c_char;

use super::boundary::{code, code_of, ffi_out, object, open_fixed, storage};
use super::status::mp_status;
use crate::api::lifecycle;
use crate::raw::header::Lifecycle;
use crate::raw::rwlock::{RW_READERS, RawRwLock};
use crate::sys::time::Timeout;

/// Size in bytes of `mp_rwlock_t` (part of the ABI).
pub const MP_RWLOCK_SIZE: usize = 4224;
/// Alignment in bytes of `mp_rwlock_t`.
pub const MP_RWLOCK_ALIGN: usize = 8;
/// How many threads may hold the read side of one lock at the same time; one more gets
/// `MP_EBUSY`. Threads that only wait use nothing.
pub const MP_RWLOCK_READERS: usize = 64;

/// A reader-writer lock: any number of readers (up to `MP_RWLOCK_READERS` threads at
/// once) or one writer, each side owned by the thread that acquired it. If a writer or
/// a reader dies holding it (exit, `SIGKILL`, `exec`), its share comes back and one
/// later acquisition returns `MP_OWNER_DEAD`. Plain memory, like `mp_lock_t`.
#[repr(C)]
pub struct mp_rwlock_t {
    _opaque: [u64; 528],
}

const _: () = {
    assert!(core::mem::size_of::<mp_rwlock_t>() == MP_RWLOCK_SIZE);
    assert!(core::mem::align_of::<mp_rwlock_t>() == MP_RWLOCK_ALIGN);
    assert!(MP_RWLOCK_SIZE == RawRwLock::SIZE);
    assert!(MP_RWLOCK_ALIGN == RawRwLock::ALIGN);
    assert!(MP_RWLOCK_READERS == RW_READERS);
};

/// Initialises a free reader-writer lock in caller-provided memory (`MP_RWLOCK_SIZE`
/// bytes, `MP_RWLOCK_ALIGN`-aligned, in a `MAP_SHARED` mapping to share it).
///
/// Returns `MP_OK`, or `MP_EINVAL` for NULL or misaligned memory.
///
/// # Safety
/// `rw` is NULL or points to `MP_RWLOCK_SIZE` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_rwlock_init(rw: *mut mp_rwlock_t) -> mp_status {
    // SAFETY: forwarded contract.
    code(unsafe { storage::<RawRwLock, _>(rw) }.map(|l| l.init(Lifecycle::InPlace)))
}

/// Ends a lock made by `mp_rwlock_init`.
///
/// Returns `MP_OK`, `MP_EBUSY` (held on either side, a dead holder not yet noticed, or
/// waited on: nothing changes; a lock the calling thread holds is refused from the
/// thread's private record), `MP_EINVAL` (NULL, or not an in-place object),
/// `MP_EBADOBJ`. Do not free or unmap the memory of a lock that a thread of this
/// process still holds (its slot is in that thread's kernel robust list).
///
/// # Safety
/// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_rwlock_destroy(rw: *mut mp_rwlock_t) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { super::boundary::destroy::<RawRwLock, _>(rw) }
}

/// Creates a free lock in a new anonymous shared mapping inherited by `fork()`ed
/// children (a child holds nothing of its parent's). Close with `mp_rwlock_close`.
///
/// Returns `MP_OK` (and writes `*rw_out`), `MP_EINVAL`, `MP_ENOMEM`.
///
/// # Safety
/// `rw_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_rwlock_new(rw_out: *mut *mut mp_rwlock_t) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        ffi_out(rw_out, || {
            lifecycle::new_anonymous::<RawRwLock>(|l| l.init(Lifecycle::Anonymous))
                .map(|p| p.as_ptr().cast())
        })
    }
}

/// Opens (or with `MP_CREATE` creates) the lock called `name`; see `mp_lock_open` for
/// `flags`, `mode` and the race-free creation guarantee.
///
/// Returns `MP_OK` (and writes `*rw_out`; `MP_CREATED` with `MP_REPORT_CREATED` if it
/// created it), `MP_EINVAL`, `MP_ENOENT`, `MP_EEXIST`, `MP_EACCES`, `MP_EBADOBJ`,
/// `MP_ENOMEM`, `MP_ESYS`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `rw_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_rwlock_open(
    name: *const c_char,
    flags: u32,
    mode: u32,
    rw_out: *mut *mut mp_rwlock_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { open_fixed::<RawRwLock, _>(name, flags, mode, rw_out, |l| l.init(Lifecycle::Named)) }
}

/// Unmaps a lock from `mp_rwlock_new` / `mp_rwlock_open` in the calling process.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL or in-place), `MP_EBUSY` (the calling thread
/// holds either side of the lock: nothing changed; release it, then close),
/// `MP_EBADOBJ` (another type's handle, or already closed).
///
/// # Safety
/// `rw` is NULL, a handle from this library (closed or not), or readable memory of an
/// in-place object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_rwlock_close(rw: *mut mp_rwlock_t) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { super::boundary::close::<RawRwLock, _>(rw) }
}

/// Acquires the read side, or re-enters it if the calling thread holds it (its level
/// goes up by one, without waiting, even behind a waiting writer). `block`/`timeout_ms`
/// as in `mp_lock_acquire`. A writer's release admits the readers that were waiting
/// before the next writer.
///
/// Returns `MP_OK`, `MP_OWNER_DEAD` (acquired, and this call is the one told that a
/// writer or a reader died holding the lock), `MP_TIMEOUT`, `MP_EINTR` (nothing
/// acquired), `MP_EBUSY` (`MP_RWLOCK_READERS` other threads hold the read side),
/// `MP_EDEADLK` (the calling thread holds the write side), `MP_EOVERFLOW` (re-entry
/// level at its 2^32-1 limit), `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes that stay mapped while
/// the calling thread holds the lock. Not async-signal-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_rwlock_acquire_read(
    rw: *mut mp_rwlock_t,
    block: bool,
    timeout_ms: i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    code_of(
        unsafe { object::<RawRwLock, _>(rw) }
            .map(|l| l.acquire_read(Timeout::new(block, timeout_ms))),
    )
}

/// Releases one read level of the calling thread.
///
/// Returns `MP_OK`, `MP_ENOTOWNER` (the calling thread does not hold the read side),
/// `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes. Not async-signal-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_rwlock_release_read(rw: *mut mp_rwlock_t) -> mp_status {
    // SAFETY: forwarded contract.
    code_of(unsafe { object::<RawRwLock, _>(rw) }.map(RawRwLock::release_read))
}

/// Acquires the write side: waits for the writer word, then for the readers already
/// in (new readers wait meanwhile). `block`/`timeout_ms` as in `mp_lock_acquire`.
///
/// Returns `MP_OK`, `MP_OWNER_DEAD` (acquired, and this call is the one told that a
/// writer or a reader died holding the lock), `MP_TIMEOUT`, `MP_EINTR` (nothing
/// acquired), `MP_EDEADLK` (the calling thread already holds this lock, read or write:
/// an upgrade is refused at once), `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes that stay mapped while
/// the calling thread holds the lock. Not async-signal-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_rwlock_acquire_write(
    rw: *mut mp_rwlock_t,
    block: bool,
    timeout_ms: i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    code_of(
        unsafe { object::<RawRwLock, _>(rw) }
            .map(|l| l.acquire_write(Timeout::new(block, timeout_ms))),
    )
}

/// Releases the write side held by the calling thread.
///
/// Returns `MP_OK`, `MP_ENOTOWNER` (the calling thread does not hold it), `MP_EINVAL`,
/// `MP_EBADOBJ`.
///
/// # Safety
/// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes. Not async-signal-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_rwlock_release_write(rw: *mut mp_rwlock_t) -> mp_status {
    // SAFETY: forwarded contract.
    code_of(unsafe { object::<RawRwLock, _>(rw) }.map(RawRwLock::release_write))
}

/// Writes the calling thread's read level (0 if it does not hold the read side) to
/// `*level_out`.
///
/// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes; `level_out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_rwlock_read_level(
    rw: *const mp_rwlock_t,
    level_out: *mut u32,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        ffi_out(level_out, || {
            object::<RawRwLock, _>(rw).map(|l| l.read_level())
        })
    }
}

/// Writes whether the calling thread holds the write side to `*writer_out`.
///
/// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes; `writer_out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_rwlock_is_writer(
    rw: *const mp_rwlock_t,
    writer_out: *mut bool,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        ffi_out(writer_out, || {
            object::<RawRwLock, _>(rw).map(|l| l.holds_write())
        })
    }
}

//! `mp_lock_t`: CPython's `multiprocessing.Lock`.

use super::status::mp_status;
use crate::raw::lock::RawLock;

c_object! {
    /// A non-recursive lock that any thread of any process may release (a binary
    /// semaphore, as CPython's `multiprocessing.Lock`). Plain memory: embed it in your
    /// own shared struct and `mp_lock_init` it, or get one from `mp_lock_new` /
    /// `mp_lock_open`. Contains no pointers; may be mapped at different addresses.
    pub struct mp_lock_t([u64; 8]) = RawLock, MP_LOCK_SIZE = 64, MP_LOCK_ALIGN = 8;
    /// Initialises an unlocked lock in caller-provided memory (`MP_LOCK_SIZE` bytes,
    /// `MP_LOCK_ALIGN`-aligned; put it in a `MAP_SHARED` mapping to share it). End it
    /// with `mp_lock_destroy`. Re-initialising a lock that is in use is a bug (as with
    /// `pthread_mutex_init`).
    ///
    /// Returns `MP_OK`, or `MP_EINVAL` for NULL or misaligned memory.
    ///
    /// # Safety
    /// `lock` is NULL or points to `MP_LOCK_SIZE` writable bytes.
    init mp_lock_init(lock -> lock_out);
    /// Ends a lock made by `mp_lock_init`. Afterwards every call on it returns
    /// `MP_EBADOBJ` until it is initialised again.
    ///
    /// Returns `MP_OK`, `MP_EBUSY` (held), `MP_EINVAL` (NULL, or an object from
    /// `mp_lock_new`/`mp_lock_open`: use `mp_lock_close`), `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `lock` is NULL or points to `MP_LOCK_SIZE` readable bytes.
    destroy mp_lock_destroy;
    lifecycle mp_lock_new, mp_lock_open, mp_lock_close for "lock", "an unlocked lock";
}

c_calls! {
    /// Acquires the lock. `block == false` tries once and ignores `timeout_ms`;
    /// otherwise `timeout_ms < 0` (`MP_FOREVER`) waits forever, `0` tries once, and a
    /// positive value waits at most that long on `CLOCK_MONOTONIC`.
    ///
    /// Returns `MP_OK` (acquired), `MP_TIMEOUT` (never before the timeout), `MP_EINTR` (a
    /// signal handler ran; nothing acquired), `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `lock` is NULL or points to `MP_LOCK_SIZE` readable bytes.
    fn mp_lock_acquire(lock: mp_lock_t) waits = RawLock::acquire;
    /// Releases the lock. Any thread of any process may release it (CPython semantics).
    ///
    /// Returns `MP_OK`, `MP_EOVERFLOW` (it was not locked; nothing changed), `MP_EINVAL`,
    /// `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `lock` is NULL or points to `MP_LOCK_SIZE` readable bytes.
    fn mp_lock_release(lock: mp_lock_t) = RawLock::release;
}

c_queries! {
    /// Writes whether the lock is currently held to `*locked_out` (a snapshot).
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `lock` is NULL or points to `MP_LOCK_SIZE` readable bytes; `locked_out` is NULL or
    /// writable.
    fn mp_lock_is_locked(lock: mp_lock_t) -> locked_out: bool = RawLock::is_locked;
}

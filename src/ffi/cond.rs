//! `mp_cond_t`: CPython's `multiprocessing.Condition`, whose notify never blocks.

use super::boundary::{code, code_of, object};
use super::lock::mp_lock_t;
use super::rlock::mp_rlock_t;
use super::status::mp_status;
use crate::api::object::SharedObject;
use crate::raw::cond::{RawCond, WaitLock};
use crate::raw::lock::RawLock;
use crate::raw::rlock::RawRLock;
use crate::status::MpResult;
use crate::sys::time::Deadline;

c_object! {
    /// A condition variable for use with an `mp_rlock_t` (`mp_cond_wait`) or an
    /// `mp_lock_t` (`mp_cond_wait_lock`), like `pthread_cond_t` with its mutex. The lock
    /// is passed to each wait, so one condition can serve several locks over its life
    /// (but not at the same time). Plain memory, like `mp_lock_t`.
    ///
    /// Notifying never blocks: a waiter that died (even by `SIGKILL`) inside
    /// `mp_cond_wait` cannot hang `mp_cond_notify`/`mp_cond_notify_all` (it absorbs at
    /// most one notification, as if it had been woken and then died).
    pub struct mp_cond_t([u64; 8]) = RawCond, MP_COND_SIZE = 64, MP_COND_ALIGN = 8;
    /// Initialises a condition (nobody waiting) in caller-provided memory
    /// (`MP_COND_SIZE` bytes, `MP_COND_ALIGN`-aligned; in a `MAP_SHARED` mapping to
    /// share it). End it with `mp_cond_destroy`.
    ///
    /// Returns `MP_OK`, or `MP_EINVAL` for NULL or misaligned memory.
    ///
    /// # Safety
    /// `cond` is NULL or points to `MP_COND_SIZE` writable bytes.
    init mp_cond_init(cond -> cond_out);
    /// Ends a condition made by `mp_cond_init`.
    ///
    /// Returns `MP_OK`, `MP_EBUSY` (threads wait on it and have not been notified;
    /// waiters that died count until `mp_cond_notify_all`), `MP_EINVAL` (NULL, or not
    /// an in-place object), `MP_EBADOBJ`. As with `pthread_cond_destroy`, threads that
    /// were notified must have returned from their wait before the memory is reused.
    ///
    /// # Safety
    /// `cond` is NULL or points to `MP_COND_SIZE` readable bytes.
    destroy mp_cond_destroy;
    lifecycle mp_cond_new, mp_cond_open, mp_cond_close for "condition variable", "a condition variable (nobody waiting)";
}

const _: () = {
    assert!(MP_COND_WAITERS_MAX == crate::raw::cond::MAX_WAITERS);
};
/// Most threads (of all processes) that can wait on one condition at once; one
/// more gets `MP_EOVERFLOW`.
pub const MP_COND_WAITERS_MAX: u32 = 65535;

/// Waits for a notification, with `lock` held by the calling thread: releases all
/// its recursion levels (atomically with starting to wait: a notification sent by
/// a thread that takes the lock afterwards is not missed), sleeps until
/// `mp_cond_notify`/`mp_cond_notify_all` picks this thread, the timeout, or a signal
/// handler, then re-acquires the lock, restoring the recursion level, and returns.
/// `timeout_ms`: negative (`MP_FOREVER`) waits forever, 0 checks once, positive waits
/// at most that long on `CLOCK_MONOTONIC` (one deadline for the whole call).
/// Whatever the result, the lock is held again on return, except on `MP_ENOTOWNER`,
/// `MP_EOVERFLOW`, `MP_EINVAL` and `MP_EBADOBJ`, which change nothing.
///
/// Returns (the lock is held again):
/// - `MP_OK`: notified. A notification that arrives together with the timeout or a
///   signal handler is reported as `MP_OK`, never dropped.
/// - `MP_TIMEOUT`: not notified before the deadline (never earlier). The timeout
///   bounds the wait for a notification; re-acquiring the lock afterwards is not
///   bounded (as with `pthread_cond_timedwait` and CPython).
/// - `MP_EINTR`: a signal handler ran before any notification; the lock was
///   re-acquired (with its recursion level) before returning, so a caller can
///   simply retry.
/// - `MP_OWNER_DEAD`: re-acquiring found that the lock's previous owner died holding
///   it. This takes precedence over the three above (the wake-up reason is lost):
///   repair the protected data and re-check your predicate, as after any wake-up.
///
/// Errors (nothing changed): `MP_ENOTOWNER` (the calling thread does not own
/// `lock`), `MP_EOVERFLOW` (`MP_COND_WAITERS_MAX` threads already wait), `MP_EINVAL`
/// (NULL), `MP_EBADOBJ` (`cond` or `lock` is not a live object of its type).
///
/// Wake-ups are never spurious: `MP_OK` means this thread was picked by a notify
/// (but another thread may have changed the predicate since: re-check it in a
/// loop, as with every condition variable).
///
/// # Safety
/// `cond` and `lock` are NULL or point to `MP_COND_SIZE` / `MP_RLOCK_SIZE` readable
/// bytes that stay mapped during the call. Not async-signal-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cond_wait(
    cond: *mut mp_cond_t,
    lock: *mut mp_rlock_t,
    timeout_ms: i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { wait_with::<RawRLock, _>(cond, lock, timeout_ms) }
}

/// `mp_cond_wait` with an `mp_lock_t`. A Lock has no owner (any thread may release
/// it), so "held" means "locked": waiting with an unlocked Lock is `MP_ENOTOWNER`,
/// as CPython's `Condition.wait` asserts `_is_owned()`. The caller should be the
/// thread that locked it. Returns as `mp_cond_wait`, except `MP_OWNER_DEAD`, which
/// a Lock cannot report.
///
/// # Safety
/// `cond` and `lock` are NULL or point to `MP_COND_SIZE` / `MP_LOCK_SIZE` readable
/// bytes that stay mapped during the call. Not async-signal-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cond_wait_lock(
    cond: *mut mp_cond_t,
    lock: *mut mp_lock_t,
    timeout_ms: i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { wait_with::<RawLock, _>(cond, lock, timeout_ms) }
}

/// `mp_cond_wait` and `mp_cond_wait_lock`, which differ only in the lock's type: the
/// deadline is taken first (the timeout counts from the call), then both objects are
/// checked (`cond` first), then the wait runs.
///
/// # Safety
/// `cond` and `lock` are NULL or point to `MP_COND_SIZE` bytes / the size of an `L`,
/// readable and mapped during the call.
#[inline]
unsafe fn wait_with<L: SharedObject + WaitLock, C>(
    cond: *mut mp_cond_t,
    lock: *mut C,
    timeout_ms: i64,
) -> mp_status {
    let deadline = Deadline::from_timeout(true, timeout_ms);
    // SAFETY: forwarded contract.
    let objects: MpResult<(&RawCond, &L)> =
        unsafe { object::<RawCond, _>(cond).and_then(|c| object::<L, _>(lock).map(|l| (c, l))) };
    code_of(objects.map(|(c, l)| c.wait(l, &deadline)))
}

/// Wakes up to `n` of the threads waiting on `cond` at the time of the call
/// (oldest waiters first, by groups of arrival): never one that starts waiting
/// afterwards, and a notification is never lost to a waiter that timed out or was
/// interrupted. `n == 0` does nothing. Call it with the lock held for predictable
/// results (as CPython requires); it works without. Never blocks: it does not wait
/// for the woken threads (CPython's `notify` hangs on a dead waiter: gh-75158).
///
/// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `cond` is NULL or points to `MP_COND_SIZE` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cond_notify(cond: *mut mp_cond_t, n: u32) -> mp_status {
    // SAFETY: forwarded contract.
    code(unsafe { object::<RawCond, _>(cond) }.map(|c| c.notify(n)))
}

c_calls! {
    /// Wakes every thread waiting on `cond` at the time of the call. Never blocks; also
    /// forgets waiters that died inside a wait.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `cond` is NULL or points to `MP_COND_SIZE` readable bytes.
    fn mp_cond_notify_all(cond: mp_cond_t) = RawCond::notify_all;
}

c_queries! {
    /// Writes the number of threads waiting on `cond` for a notification to
    /// `*waiting_out` (a snapshot): those registered in `mp_cond_wait` /
    /// `mp_cond_wait_lock` that no notify has picked yet and that have not timed out or
    /// been interrupted. A thread picked by a notify no longer counts, even before it
    /// has re-acquired its lock (CPython's `Condition` counts the same way). A waiter
    /// that died inside a wait counts until a notify picks it or `mp_cond_notify_all`.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `cond` is NULL or points to `MP_COND_SIZE` readable bytes; `waiting_out` is NULL or
    /// writable.
    fn mp_cond_n_waiting(cond: mp_cond_t) -> waiting_out: u32 = RawCond::n_waiting;
}

//! `mp_rlock_t`: CPython's `multiprocessing.RLock`, with owner-death recovery.

use super::boundary::{code, ffi_out, storage};
use super::status::mp_status;
use crate::api::lifecycle;
use crate::api::rlock::{self as core_rlock, FLAG_STICKY};
use crate::raw::header::Lifecycle;
use crate::raw::rlock::RawRLock;

c_object! {
    /// A recursive lock owned by one thread of one process. If the owner dies holding it
    /// (exit, `SIGKILL`, `exec`), the next acquirer gets it with `MP_OWNER_DEAD`. Plain
    /// memory, like `mp_lock_t`.
    pub struct mp_rlock_t([u64; 8]) = RawRLock, MP_RLOCK_SIZE = 64, MP_RLOCK_ALIGN = 8;
    /// Initialises an unowned RLock in caller-provided memory (`MP_RLOCK_SIZE` bytes,
    /// `MP_RLOCK_ALIGN`-aligned, in a `MAP_SHARED` mapping to share it).
    ///
    /// Returns `MP_OK`, or `MP_EINVAL` for NULL or misaligned memory.
    ///
    /// # Safety
    /// `lock` is NULL or points to `MP_RLOCK_SIZE` writable bytes.
    init mp_rlock_init(lock -> lock_out);
    /// Ends an RLock made by `mp_rlock_init`.
    ///
    /// Returns `MP_OK`, `MP_EBUSY` (held by any thread, or waited on: nothing changes; a
    /// lock the calling thread holds is refused from the thread's private record, whatever
    /// other processes wrote into the lock), `MP_EINVAL` (NULL, or not an in-place object),
    /// `MP_EBADOBJ`. Do not free or unmap the memory of a lock that a thread of this
    /// process still holds (its node is in that thread's kernel robust list).
    ///
    /// # Safety
    /// `lock` is NULL or points to `MP_RLOCK_SIZE` readable bytes.
    destroy mp_rlock_destroy;
    /// Creates an RLock in a new anonymous shared mapping inherited by `fork()`ed
    /// children (a child never owns its parent's lock). Close with `mp_rlock_close`.
    ///
    /// Returns `MP_OK` (and writes `*lock_out`), `MP_EINVAL`, `MP_ENOMEM`.
    ///
    /// # Safety
    /// `lock_out` is NULL or writable.
    new mp_rlock_new;
    /// Opens (or with `MP_CREATE` creates) the RLock called `name`; see `mp_lock_open`
    /// for `flags`, `mode` and the race-free creation guarantee. `flags` may also have
    /// `MP_RLOCK_STICKY`: a created lock is sticky (see `mp_rlock_init_sticky`), and an
    /// existing one that is not is `MP_EBADOBJ`; without it either mode is opened.
    ///
    /// Returns `MP_OK` (and writes `*lock_out`; `MP_CREATED` with `MP_REPORT_CREATED` if it created it), `MP_EINVAL`, `MP_ENOENT`, `MP_EEXIST`,
    /// `MP_EACCES`, `MP_EBADOBJ`, `MP_ENOMEM`, `MP_ESYS`.
    ///
    /// # Safety
    /// `name` is NULL or NUL-terminated; `lock_out` is NULL or writable.
    open mp_rlock_open;
    /// Unmaps an RLock from `mp_rlock_new` / `mp_rlock_open` in the calling process.
    ///
    /// A handle is never reused within the process, so closing it twice is `MP_EBADOBJ`
    /// and touches no other object. Closing a lock that *another* thread of the process
    /// holds is the caller's bug, as unmapping memory in use.
    ///
    /// Returns `MP_OK`, `MP_EINVAL` (NULL or in-place), `MP_EBUSY` (the calling thread
    /// holds the lock, or another lock inside the mapping: nothing changed; release it,
    /// then close), `MP_EBADOBJ` (another type's handle, or already closed).
    ///
    /// # Safety
    /// `lock` is NULL, a handle from this library (closed or not), or readable memory of
    /// an in-place object.
    close mp_rlock_close;
}
/// `flags` bit of `mp_rlock_open` only: the RLock is *sticky*. One that this call
/// creates is made sticky (as by `mp_rlock_init_sticky`), and an existing RLock that is
/// not sticky is refused with `MP_EBADOBJ`. Without the bit, `mp_rlock_open` opens an
/// RLock of either mode (the mode is chosen by its creator). Any other `*_open` refuses
/// the bit (`MP_EINVAL`).
pub const MP_RLOCK_STICKY: u32 = 64;

const _: () = assert!(MP_RLOCK_STICKY == FLAG_STICKY);

/// Initialises an unowned *sticky* RLock in caller-provided memory, as `mp_rlock_init`.
/// Sticky (fixed until `mp_rlock_destroy`): after an owner died holding it, every
/// acquisition returns `MP_OWNER_DEAD` (with the lock acquired; re-entries, a
/// Condition's re-acquire included) until a thread that holds it calls
/// `mp_rlock_mark_consistent`; a holder that releases without calling it leaves the
/// lock so. So the report cannot be lost to an acquirer that does not repair (a
/// plain RLock tells the next acquirer only). The lock of a synchronized array is
/// sticky too.
///
/// Returns `MP_OK`, or `MP_EINVAL` for NULL or misaligned memory.
///
/// # Safety
/// `lock` is NULL or points to `MP_RLOCK_SIZE` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_rlock_init_sticky(lock: *mut mp_rlock_t) -> mp_status {
    // SAFETY: forwarded contract.
    code(
        unsafe { storage::<RawRLock, _>(lock) }
            .map(|l| l.init_with(Lifecycle::InPlace, core_rlock::options_for(true))),
    )
}

/// `mp_rlock_new` of a sticky RLock (see `mp_rlock_init_sticky`).
///
/// Returns `MP_OK` (and writes `*lock_out`), `MP_EINVAL`, `MP_ENOMEM`.
///
/// # Safety
/// `lock_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_rlock_new_sticky(lock_out: *mut *mut mp_rlock_t) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        ffi_out(lock_out, || {
            lifecycle::new_anonymous::<RawRLock>(|l| {
                l.init_with(Lifecycle::Anonymous, core_rlock::options_for(true))
            })
            .map(|p| p.as_ptr().cast())
        })
    }
}

c_calls! {
    /// Acquires the RLock, or re-enters it if the calling thread owns it (the recursion
    /// level goes up by one; no timeout applies). `block`/`timeout_ms` as in
    /// `mp_lock_acquire`.
    ///
    /// Returns `MP_OK`, `MP_OWNER_DEAD` (acquired, but the previous owner died holding it:
    /// repair the protected data; the lock works normally afterwards. For a sticky RLock
    /// (`mp_rlock_init_sticky`) and the lock of a synchronized array (`mp_array_get_lock`),
    /// every acquisition, re-entries included, returns `MP_OWNER_DEAD` until an owner calls
    /// `mp_rlock_mark_consistent` (or `mp_array_mark_consistent`)),
    /// `MP_TIMEOUT`, `MP_EINTR` (nothing acquired), `MP_EOVERFLOW` (recursion level at
    /// its 2^32-1 limit), `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `lock` is NULL or points to `MP_RLOCK_SIZE` readable bytes that stay mapped while
    /// the calling thread holds the lock. Not async-signal-safe.
    fn mp_rlock_acquire(lock: mp_rlock_t) waits = RawRLock::acquire;
    /// Releases one recursion level; the lock is free when the level reaches 0.
    ///
    /// Returns `MP_OK`, `MP_ENOTOWNER` (the calling thread does not own it, including
    /// when it is free), `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `lock` is NULL or points to `MP_RLOCK_SIZE` readable bytes. Not async-signal-safe.
    fn mp_rlock_release(lock: mp_rlock_t) = RawRLock::release;
}

c_queries! {
    /// Writes whether the calling thread owns the lock to `*mine_out`.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `lock` is NULL or points to `MP_RLOCK_SIZE` readable bytes; `mine_out` is NULL or
    /// writable.
    fn mp_rlock_is_mine(lock: mp_rlock_t) -> mine_out: bool = RawRLock::is_mine;
    /// Writes the recursion level to `*count_out` if the calling thread owns the lock,
    /// else 0.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `lock` is NULL or points to `MP_RLOCK_SIZE` readable bytes; `count_out` is NULL or
    /// writable.
    fn mp_rlock_count(lock: mp_rlock_t) -> count_out: u32 = RawRLock::count;
    /// Writes whether the lock is held, by any thread of any process, to `*locked_out` (a
    /// snapshot). Only reads the lock: unlike a trial `mp_rlock_acquire`, it never takes
    /// the lock nor the `MP_OWNER_DEAD` report meant for the next acquirer. A lock whose
    /// owner died reads as held until the kernel or the next acquirer notices the death.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `lock` is NULL or points to `MP_RLOCK_SIZE` readable bytes; `locked_out` is NULL or
    /// writable.
    fn mp_rlock_is_locked(lock: mp_rlock_t) -> locked_out: bool = RawRLock::is_locked;
}

c_calls! {
    /// Declares the data guarded by the lock repaired: ends the "inconsistent" state that
    /// an owner's death leaves on a sticky RLock (`mp_rlock_init_sticky`,
    /// `mp_rlock_new_sticky`, `MP_RLOCK_STICKY`) or the lock of a synchronized array
    /// (`mp_array_get_lock`), so that later acquisitions return `MP_OK` again. For any other
    /// RLock it only checks ownership (their `MP_OWNER_DEAD` is reported once, to the next
    /// acquirer).
    ///
    /// Returns `MP_OK`, `MP_ENOTOWNER` (the calling thread does not hold the lock),
    /// `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `lock` is NULL or points to `MP_RLOCK_SIZE` readable bytes. Not async-signal-safe.
    fn mp_rlock_mark_consistent(lock: mp_rlock_t) = RawRLock::mark_consistent;
}

//! `mp_sem_t`: CPython's `multiprocessing.Semaphore` and `BoundedSemaphore`.

use super::status::mp_status;
use crate::raw::sem::{RawSem, SEM_VALUE_MAX};

c_object! {
    /// A counting semaphore with an upper bound. Plain memory, like `mp_lock_t`. Any thread
    /// of any process may release it; nothing is recorded about holders (for a semaphore
    /// whose units come back when their holder dies, see `mp_sem_undo_t`).
    pub struct mp_sem_t([u64; 8]) = RawSem, MP_SEM_SIZE = 64, MP_SEM_ALIGN = 8;
    /// Initialises a semaphore with `value` units and bound `max_value` in
    /// caller-provided memory (`MP_SEM_SIZE` bytes, `MP_SEM_ALIGN`-aligned).
    ///
    /// Returns `MP_OK`, `MP_EINVAL` (NULL, misaligned, `value > max_value`, or
    /// `max_value > MP_SEM_VALUE_MAX`).
    ///
    /// # Safety
    /// `sem` is NULL or points to `MP_SEM_SIZE` writable bytes.
    init mp_sem_init(sem -> sem_out, value: u32, max_value: u32);
    /// Ends a semaphore made by `mp_sem_init`.
    ///
    /// Returns `MP_OK`, `MP_EBUSY` (threads wait on it), `MP_EINVAL` (NULL or not in
    /// place), `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `sem` is NULL or points to `MP_SEM_SIZE` readable bytes.
    destroy mp_sem_destroy;
    /// Creates a semaphore in a new anonymous shared mapping inherited by `fork()`ed
    /// children. Close with `mp_sem_close`.
    ///
    /// Returns `MP_OK` (and writes `*sem_out`), `MP_EINVAL` (NULL `sem_out`, bad
    /// values), `MP_ENOMEM`.
    ///
    /// # Safety
    /// `sem_out` is NULL or writable.
    new mp_sem_new;
    /// Opens (or with `MP_CREATE` creates, with `value`/`max_value`) the semaphore called
    /// `name`; see `mp_lock_open` for `flags` and `mode`. The values are checked always
    /// but used only when this call creates the semaphore. An undo semaphore
    /// (`mp_sem_undo_t`) of that name is `MP_EBADOBJ`, as another type would be.
    ///
    /// Returns `MP_OK` (and writes `*sem_out`; `MP_CREATED` with `MP_REPORT_CREATED` if it created it), `MP_EINVAL`, `MP_ENOENT`, `MP_EEXIST`,
    /// `MP_EACCES`, `MP_EBADOBJ`, `MP_ENOMEM`, `MP_ESYS`.
    ///
    /// # Safety
    /// `name` is NULL or NUL-terminated; `sem_out` is NULL or writable.
    open mp_sem_open;
    /// Unmaps a semaphore from `mp_sem_new` / `mp_sem_open` in the calling process.
    ///
    /// A handle is never reused within the process, so closing it twice is `MP_EBADOBJ`
    /// and touches no other object.
    ///
    /// Returns `MP_OK`, `MP_EINVAL` (NULL or in-place), `MP_EBUSY` (the calling thread
    /// holds a lock inside the mapping: nothing changed), `MP_EBADOBJ` (another type's
    /// handle, or already closed).
    ///
    /// # Safety
    /// `sem` is NULL, a handle from this library (closed or not), or readable memory of
    /// an in-place object.
    close mp_sem_close;
}

const _: () = {
    assert!(MP_SEM_VALUE_MAX == SEM_VALUE_MAX);
};
/// The largest semaphore value (CPython's `SEM_VALUE_MAX` on Linux). A plain
/// `Semaphore(n)` is `max_value = MP_SEM_VALUE_MAX`; a `BoundedSemaphore(n)` is
/// `max_value = n`.
pub const MP_SEM_VALUE_MAX: u32 = 2147483647;

// ---- what both semaphore types' calls share (`mp_sem_*`, `mp_sem_undo_*`) ------------

c_calls! {
    /// Takes one unit, waiting for one if there is none. `block`/`timeout_ms` as in
    /// `mp_lock_acquire`.
    ///
    /// Returns `MP_OK`, `MP_TIMEOUT`, `MP_EINTR` (nothing taken), `MP_EINVAL`,
    /// `MP_EBADOBJ` (also for an undo semaphore's memory: that is `mp_sem_undo_acquire`).
    ///
    /// # Safety
    /// `sem` is NULL or points to `MP_SEM_SIZE` readable bytes.
    fn mp_sem_acquire(sem: mp_sem_t) waits = RawSem::acquire;
    /// Returns one unit and wakes a waiter if any. Any thread or process may release.
    ///
    /// Returns `MP_OK`, `MP_EOVERFLOW` (already at `max_value`; nothing changed),
    /// `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `sem` is NULL or points to `MP_SEM_SIZE` readable bytes.
    fn mp_sem_release(sem: mp_sem_t) = RawSem::release;
}

c_queries! {
    /// Writes the current number of units to `*value_out` (a snapshot).
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `sem` is NULL or points to `MP_SEM_SIZE` readable bytes; `value_out` is NULL or
    /// writable.
    fn mp_sem_get_value(sem: mp_sem_t) -> value_out: u32 = RawSem::value;
    /// Writes the semaphore's bound to `*max_out`.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// As `mp_sem_get_value`.
    fn mp_sem_get_max_value(sem: mp_sem_t) -> max_out: u32 = RawSem::max_value;
}

//! `mp_sem_undo_t`: a Semaphore / BoundedSemaphore whose units come back when the
//! thread holding them dies.

use super::boundary::{code, pointer};
use super::status::mp_status;
use crate::api::sem_undo::detach_check;
use crate::raw::sem_undo::{RawSemUndo, UNDO_HOLDERS, UNDO_VALUE_MAX};
use crate::status::Status;

c_object! {
    /// An *undo* semaphore: a counting semaphore with an upper bound whose units return
    /// when the thread that acquired them dies holding them (its process exits, is killed,
    /// calls `exec`, or the thread exits); one later acquirer is told with
    /// `MP_OWNER_DEAD`. Releases are matched to acquirers: a thread that holds no unit gets
    /// `MP_ENOTOWNER`. Plain memory like every `mp_*_t` (`sizeof` is the object's size):
    /// embed it in your own shared struct and `mp_sem_undo_init` it, or get one from
    /// `mp_sem_undo_new` / `mp_sem_undo_open`. Contains no pointers.
    pub struct mp_sem_undo_t([u64; 520]) = RawSemUndo, MP_SEM_UNDO_SIZE = 4160, MP_SEM_UNDO_ALIGN = 8;
    /// Initialises an undo semaphore with `value` units and bound `max_value` in
    /// caller-provided memory (`MP_SEM_UNDO_SIZE` bytes, `MP_SEM_UNDO_ALIGN`-aligned; put
    /// it in a `MAP_SHARED` mapping to share it). Every process that maps the memory uses
    /// it as it is: no declaration or attach step.
    ///
    /// Returns `MP_OK`, `MP_EINVAL` (NULL, misaligned, `value > max_value`, or
    /// `max_value > MP_SEM_UNDO_VALUE_MAX`).
    ///
    /// # Safety
    /// `sem` is NULL or points to `MP_SEM_UNDO_SIZE` writable bytes.
    init mp_sem_undo_init(sem -> sem_out, value: u32, max_value: u32);
    /// Ends an undo semaphore made by `mp_sem_undo_init`.
    ///
    /// Returns `MP_OK`, `MP_EBUSY` (threads wait on it, or a live thread holds units, the
    /// calling one included), `MP_EINVAL` (NULL or not in place), `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `sem` is NULL or points to `MP_SEM_UNDO_SIZE` readable and writable bytes.
    destroy mp_sem_undo_destroy;
    /// Creates an undo semaphore in a new anonymous shared mapping inherited by
    /// `fork()`ed children. Close with `mp_sem_undo_close`.
    ///
    /// Returns `MP_OK` (and writes `*sem_out`), `MP_EINVAL` (NULL `sem_out`, bad
    /// values), `MP_ENOMEM`.
    ///
    /// # Safety
    /// `sem_out` is NULL or writable.
    new mp_sem_undo_new;
    /// Opens (or with `MP_CREATE` creates, with `value`/`max_value`) the undo semaphore
    /// called `name`; see `mp_lock_open` for `flags` and `mode`. The values are checked
    /// always but used only when this call creates it. A plain semaphore (`mp_sem_t`) of
    /// that name is `MP_EBADOBJ`, as another type would be.
    ///
    /// Returns `MP_OK` (and writes `*sem_out`; `MP_CREATED` with `MP_REPORT_CREATED` if it created it), `MP_EINVAL`, `MP_ENOENT`, `MP_EEXIST`,
    /// `MP_EACCES`, `MP_EBADOBJ`, `MP_ENOMEM`, `MP_ESYS`.
    ///
    /// # Safety
    /// `name` is NULL or NUL-terminated; `sem_out` is NULL or writable.
    open mp_sem_undo_open;
    /// Unmaps an undo semaphore from `mp_sem_undo_new` / `mp_sem_undo_open` in the calling
    /// process (closing twice is `MP_EBADOBJ`, as for every handle).
    ///
    /// Returns `MP_OK`, `MP_EINVAL` (NULL or in-place), `MP_EBUSY` (the calling thread
    /// holds units of it: nothing changed), `MP_EBADOBJ` (another type's handle, or
    /// already closed).
    ///
    /// # Safety
    /// `sem` is NULL, a handle from this library (closed or not), or readable memory of
    /// an in-place object.
    close mp_sem_undo_close;
}

const _: () = {
    assert!(MP_SEM_UNDO_HOLDERS as usize == UNDO_HOLDERS);
    assert!(MP_SEM_UNDO_VALUE_MAX == UNDO_VALUE_MAX);
};
/// How many threads may hold units of one undo semaphore at the same time. One more
/// gets `MP_EBUSY` from `mp_sem_undo_acquire` (nothing taken). Threads that wait for a
/// unit do not count: any number may wait.
pub const MP_SEM_UNDO_HOLDERS: u32 = 64;
/// The largest value (and bound) of an undo semaphore.
pub const MP_SEM_UNDO_VALUE_MAX: u32 = 8388607;

/// The step before this process unmaps in-place memory holding an undo semaphore that
/// other processes go on using (no call is needed to start using one). Refused with
/// `MP_EBUSY` while the calling thread holds units of it: the thread's holder slot is
/// linked into its kernel robust list, and once the memory is unmapped the thread's
/// next list update (or the kernel's walk at its death) would write into whatever is
/// mapped there then. Only the calling thread's private records are read, never the
/// object; nothing changes. Units that *other* threads of the process hold are not
/// checked: do not unmap the memory while they do. (`mp_sem_undo_close` and
/// `mp_sem_undo_destroy` make the same check.)
///
/// Returns `MP_OK` (the calling thread holds no unit of it), `MP_EBUSY`, `MP_EINVAL`
/// (NULL), `MP_EBADOBJ` (misaligned).
///
/// # Safety
/// None beyond the pointer's value: nothing is read through it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_undo_detach(sem: *const mp_sem_undo_t) -> mp_status {
    code(pointer::<RawSemUndo, _>(sem, Status::BadObj).and_then(detach_check))
}

c_calls! {
    /// Takes one unit, waiting for one if there is none. `block`/`timeout_ms` as in
    /// `mp_lock_acquire`.
    ///
    /// Returns `MP_OK`, `MP_OWNER_DEAD` (a unit was taken; a holder died holding units,
    /// which came back, and this caller is the one told: each such death is told to
    /// exactly one acquirer), `MP_TIMEOUT`, `MP_EINTR` (nothing taken), `MP_EBUSY` (the
    /// calling thread holds no unit yet and `MP_SEM_UNDO_HOLDERS` other threads do: nothing
    /// taken; threads that wait do not count), `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `sem` is NULL or points to `MP_SEM_UNDO_SIZE` readable and writable bytes.
    fn mp_sem_undo_acquire(sem: mp_sem_undo_t) waits = RawSemUndo::acquire;
    /// Returns one unit that the calling thread acquired, and wakes a waiter if any.
    ///
    /// Returns `MP_OK`, `MP_ENOTOWNER` (the calling thread holds no unit of it; nothing
    /// changed), `MP_EBUSY` (another thread's operation did not complete within 2 s — it is
    /// stopped in the middle, or a peer damaged the object; nothing changed, the caller
    /// still holds the unit), `MP_EOVERFLOW` (at `max_value`, which only a damaged object
    /// reaches), `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `sem` is NULL or points to `MP_SEM_UNDO_SIZE` readable and writable bytes.
    fn mp_sem_undo_release(sem: mp_sem_undo_t) = RawSemUndo::release;
}

c_queries! {
    /// Writes the current number of units to `*value_out` (a snapshot). The units of
    /// holders that died count as available (the next acquirer that needs them takes them
    /// back).
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `sem` is NULL or points to `MP_SEM_UNDO_SIZE` readable bytes; `value_out` is NULL
    /// or writable.
    fn mp_sem_undo_get_value(sem: mp_sem_undo_t) -> value_out: u32 = RawSemUndo::value;
    /// Writes the undo semaphore's bound to `*max_out`.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// As `mp_sem_undo_get_value`.
    fn mp_sem_undo_get_max_value(sem: mp_sem_undo_t) -> max_out: u32 = RawSemUndo::max_value;
    /// Writes how many units of the undo semaphore the calling thread holds to
    /// `*held_out`.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// As `mp_sem_undo_get_value`.
    fn mp_sem_undo_held(sem: mp_sem_undo_t) -> held_out: u32 = RawSemUndo::held_by_caller;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::status::{MP_EBADOBJ, MP_EBUSY, MP_EINVAL, MP_OK};
    use crate::sys::robust;

    /// The step before unmapping, by a thread that holds a unit: `MP_EBUSY`, and the
    /// unit and the robust list stay as they were; once the unit is released, `MP_OK`.
    #[test]
    fn detaching_while_holding_is_busy_and_changes_nothing() {
        let mut mem = Box::new([0u64; MP_SEM_UNDO_SIZE / 8]);
        let s = mem.as_mut_ptr().cast::<mp_sem_undo_t>();
        let range = s as usize..s as usize + MP_SEM_UNDO_SIZE;
        let held_here = || {
            robust::held_by_current_thread_checked()
                .into_iter()
                .filter(|a| range.contains(a))
                .count()
        };
        let mut held = 0;
        // SAFETY: `s` points to MP_SEM_UNDO_SIZE writable, 8-aligned bytes that outlive
        // every call below; out-pointers are valid locals.
        unsafe {
            assert_eq!(mp_sem_undo_init(s, 1, 1), MP_OK);
            assert_eq!(mp_sem_undo_detach(s), MP_OK);
            assert_eq!(mp_sem_undo_acquire(s, false, 0), MP_OK);
            assert_eq!(held_here(), 1);
            assert_eq!(mp_sem_undo_detach(s), MP_EBUSY);
            assert_eq!(mp_sem_undo_destroy(s), MP_EBUSY);
            assert_eq!(mp_sem_undo_held(s, &mut held), MP_OK);
            assert_eq!((held, held_here()), (1, 1));
            assert_eq!(mp_sem_undo_release(s), MP_OK);
            assert_eq!(held_here(), 0);
            assert_eq!(mp_sem_undo_detach(s), MP_OK);
            assert_eq!(mp_sem_undo_destroy(s), MP_OK);
            assert_eq!(mp_sem_undo_get_value(s, &mut held), MP_EBADOBJ);
            assert_eq!(mp_sem_undo_detach(core::ptr::null()), MP_EINVAL);
            let odd = mem.as_ptr().cast::<u8>().add(4).cast::<mp_sem_undo_t>();
            assert_eq!(mp_sem_undo_detach(odd), MP_EBADOBJ);
        }
    }
}

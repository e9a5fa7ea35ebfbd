//! `mp_sem_t`: CPython's `multiprocessing.Semaphore` and `BoundedSemaphore`.

use core::ffi::c_char;

use super::boundary::{c_name, code, ffi_out, open_out, pointer};
use super::status::mp_status;
use crate::api::sem_flavour::{self, AnySem, Flavour};
use crate::raw::sem::{RawSem, SEM_VALUE_MAX};
use crate::raw::sem_undo::{RawSemUndo, UNDO_HOLDERS, UNDO_VALUE_MAX};
use crate::status::{MpResult, Status};
use crate::sys::time::Timeout;

/// Size in bytes of `mp_sem_t` (part of the ABI).
pub const MP_SEM_SIZE: usize = 64;
/// Alignment in bytes of `mp_sem_t`.
pub const MP_SEM_ALIGN: usize = 8;
/// The largest semaphore value (CPython's `SEM_VALUE_MAX` on Linux). A plain
/// `Semaphore(n)` is `max_value = MP_SEM_VALUE_MAX`; a `BoundedSemaphore(n)` is
/// `max_value = n`.
pub const MP_SEM_VALUE_MAX: u32 = 2147483647;

/// `sem_flags` bit of `mp_sem_init_ex` / `mp_sem_new_ex` / `mp_sem_open_ex`: an *undo*
/// semaphore. Units that a thread acquired return to the semaphore when the thread dies
/// holding them (its process exits, is killed, calls `exec`, or the thread exits), and
/// one later acquirer is told with `MP_OWNER_DEAD`. Releases are matched to acquirers:
/// a thread that holds no unit gets `MP_ENOTOWNER`. At most `MP_SEM_UNDO_HOLDERS`
/// threads hold units at once; the value is at most `MP_SEM_UNDO_VALUE_MAX`; the object
/// is `MP_SEM_UNDO_SIZE` bytes.
pub const MP_SEM_UNDO: u32 = 1;
/// Size in bytes of an undo semaphore (`MP_SEM_UNDO`): the memory given to
/// `mp_sem_init_ex`, and to every call on that semaphore, as an `mp_sem_t *`.
pub const MP_SEM_UNDO_SIZE: usize = 4160;
/// How many threads may hold units of one undo semaphore at the same time. One more
/// gets `MP_EBUSY` from `mp_sem_acquire` (nothing taken). Threads that wait for a unit
/// do not count: any number may wait.
pub const MP_SEM_UNDO_HOLDERS: u32 = 64;
/// The largest value (and bound) of an undo semaphore.
pub const MP_SEM_UNDO_VALUE_MAX: u32 = 8388607;

/// A counting semaphore with an upper bound. Plain memory, like `mp_lock_t`.
#[repr(C)]
pub struct mp_sem_t {
    _opaque: [u64; 8],
}

const _: () = {
    assert!(core::mem::size_of::<mp_sem_t>() == MP_SEM_SIZE);
    assert!(core::mem::align_of::<mp_sem_t>() == MP_SEM_ALIGN);
    assert!(MP_SEM_SIZE == RawSem::SIZE);
    assert!(MP_SEM_ALIGN == RawSem::ALIGN);
    assert!(MP_SEM_VALUE_MAX == SEM_VALUE_MAX);
    assert!(MP_SEM_UNDO_SIZE == RawSemUndo::SIZE);
    assert!(MP_SEM_ALIGN == RawSemUndo::ALIGN);
    assert!(MP_SEM_UNDO_HOLDERS as usize == UNDO_HOLDERS);
    assert!(MP_SEM_UNDO_VALUE_MAX == UNDO_VALUE_MAX);
};

/// The flavour that `sem_flags` asks for: 0 or `MP_SEM_UNDO`, else `MP_EINVAL`.
fn flavour_of(sem_flags: u32) -> MpResult<Flavour> {
    match sem_flags {
        0 => Ok(Flavour::Plain),
        MP_SEM_UNDO => Ok(Flavour::Undo),
        _ => Err(Status::Inval),
    }
}

/// `sem` checked at the boundary (`MP_EINVAL` for NULL, `MP_EBADOBJ` for misaligned
/// memory), for the core's `sem_flavour`, which reads what the flavour allows.
#[inline(always)]
fn sem_ptr(sem: *const mp_sem_t) -> MpResult<core::ptr::NonNull<RawSem>> {
    pointer::<RawSem, _>(sem, Status::BadObj)
}

/// Initialises a semaphore with `value` units and bound `max_value` in
/// caller-provided memory (`MP_SEM_SIZE` bytes, `MP_SEM_ALIGN`-aligned).
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL, misaligned, `value > max_value`, or
/// `max_value > MP_SEM_VALUE_MAX`).
///
/// # Safety
/// `sem` is NULL or points to `MP_SEM_SIZE` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_init(sem: *mut mp_sem_t, value: u32, max_value: u32) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_sem_init_ex(sem, value, max_value, 0) }
}

/// `mp_sem_init` with `sem_flags`: 0 (the same as `mp_sem_init`) or `MP_SEM_UNDO`
/// (an undo semaphore, in `MP_SEM_UNDO_SIZE` bytes; `max_value` at most
/// `MP_SEM_UNDO_VALUE_MAX`). Every later call on the semaphore must be given memory
/// of that size.
///
/// The flavour is not taken from the shared memory alone (a peer could rewrite it):
/// this call also records, privately in the calling process, that `sem` starts an undo
/// semaphore's `MP_SEM_UNDO_SIZE` bytes. The record is inherited by `fork()` children
/// and removed by `mp_sem_destroy` (or a plain `mp_sem_init` at the same address).
/// Any other process that maps this memory must declare it with `mp_sem_attach_ex`
/// before using it; until then its calls on it are `MP_EBADOBJ`.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL, misaligned, `value > max_value`, a bound past
/// the flavour's maximum, or an unknown flag), `MP_EBADOBJ` (with `MP_SEM_UNDO`: `sem`
/// is the handle of another object; nothing written), `MP_ENOMEM` (with `MP_SEM_UNDO`:
/// the process already uses 8192 undo semaphores, in place or mapped; nothing
/// written).
///
/// # Safety
/// `sem` is NULL or points to `MP_SEM_SIZE` writable bytes (`MP_SEM_UNDO_SIZE` with
/// `MP_SEM_UNDO`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_init_ex(
    sem: *mut mp_sem_t,
    value: u32,
    max_value: u32,
    sem_flags: u32,
) -> mp_status {
    code(flavour_of(sem_flags).and_then(|flavour| {
        let sem = pointer::<RawSem, _>(sem, Status::Inval)?;
        // SAFETY: non-null and aligned (checked); writable for the flavour's size (the
        // forwarded contract).
        unsafe { sem_flavour::init(sem, value, max_value, flavour) }
    }))
}

/// Ends a semaphore made by `mp_sem_init` or `mp_sem_init_ex`.
///
/// Returns `MP_OK`, `MP_EBUSY` (threads wait on it; for an undo semaphore also: a live
/// thread holds units, the calling one included), `MP_EINVAL` (NULL or not in place),
/// `MP_EBADOBJ` (also: an undo semaphore this process did not declare, see
/// `mp_sem_attach_ex`). Destroying an undo semaphore withdraws the calling process's
/// declaration of it.
///
/// # Safety
/// `sem` is NULL or points to the semaphore's readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_destroy(sem: *mut mp_sem_t) -> mp_status {
    // SAFETY: aligned (checked) and the forwarded contract.
    code(sem_ptr(sem).and_then(|sem| unsafe { sem_flavour::destroy(sem) }))
}

/// Declares, in the calling process, which flavour of semaphore it expects at `sem`:
/// `sem_flags` `MP_SEM_UNDO` for an in-place undo semaphore that another process
/// initialised (with `mp_sem_init_ex`) in memory this process maps too, or 0 to
/// withdraw such a declaration (before unmapping that memory, for one).
///
/// Why: an undo semaphore is `MP_SEM_UNDO_SIZE` bytes, but its flavour is written in
/// shared memory, which a peer could rewrite on a smaller plain semaphore. So the
/// library uses the undo flavour only where the calling process's own state proves the
/// size: the handles it mapped itself, the in-place semaphores it (or the process it
/// was `fork()`ed from) initialised, and the ones declared here. Calls on an
/// undeclared in-place undo semaphore are `MP_EBADOBJ`. A handle from `mp_sem_new_ex`
/// / `mp_sem_open_ex` needs no declaration (and gets none, nor is one withdrawn: close
/// it with `mp_sem_close`).
///
/// A declaration is not withdrawn while the calling thread holds units of the semaphore
/// through `sem` (release them first, as for `mp_sem_close` and `mp_sem_destroy`): the
/// thread's holder slot is linked into its kernel robust list, and once the memory is
/// unmapped, the thread's next list update would write into whatever is mapped there
/// then. Units that *other* threads of the process hold through `sem` are not checked:
/// do not unmap the memory while they do.
///
/// Returns `MP_OK` (`MP_SEM_UNDO`: the memory holds a live undo semaphore, now
/// declared; 0: the declaration was withdrawn, or there was none and the memory holds a
/// live plain semaphore), `MP_EINVAL` (NULL, or an unknown flag), `MP_EBUSY` (0: the
/// calling thread holds units through `sem`; nothing changed), `MP_EBADOBJ` (nothing
/// declared here and not a live semaphore of that flavour, or 0 on an undo semaphore's
/// handle; nothing changed), `MP_ENOMEM` (the process already uses 8192 undo
/// semaphores, in place or mapped).
///
/// # Safety
/// `sem` is NULL or points to `MP_SEM_SIZE` readable bytes; with `MP_SEM_UNDO`, to
/// `MP_SEM_UNDO_SIZE` readable and writable bytes for as long as the declaration lasts.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_attach_ex(sem: *const mp_sem_t, sem_flags: u32) -> mp_status {
    code(flavour_of(sem_flags).and_then(|flavour| {
        let sem = sem_ptr(sem)?;
        // SAFETY: non-null and aligned (checked); the forwarded contract.
        unsafe { sem_flavour::attach(sem, flavour) }
    }))
}

/// Creates a semaphore in a new anonymous shared mapping inherited by `fork()`ed
/// children. Close with `mp_sem_close`.
///
/// Returns `MP_OK` (and writes `*sem_out`), `MP_EINVAL` (NULL `sem_out`, bad
/// values), `MP_ENOMEM`.
///
/// # Safety
/// `sem_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_new(
    value: u32,
    max_value: u32,
    sem_out: *mut *mut mp_sem_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_sem_new_ex(value, max_value, 0, sem_out) }
}

/// `mp_sem_new` with `sem_flags` (0 or `MP_SEM_UNDO`, as `mp_sem_init_ex`).
///
/// Returns `MP_OK` (and writes `*sem_out`), `MP_EINVAL` (NULL `sem_out`, bad values or
/// flags), `MP_ENOMEM`.
///
/// # Safety
/// `sem_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_new_ex(
    value: u32,
    max_value: u32,
    sem_flags: u32,
    sem_out: *mut *mut mp_sem_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        ffi_out(sem_out, || {
            sem_flavour::new(value, max_value, flavour_of(sem_flags)?).map(|p| p.as_ptr().cast())
        })
    }
}

/// Opens (or with `MP_CREATE` creates, with `value`/`max_value`) the semaphore called
/// `name`; see `mp_lock_open` for `flags` and `mode`. The values are checked always
/// but used only when this call creates the semaphore.
///
/// Returns `MP_OK` (and writes `*sem_out`; `MP_CREATED` with `MP_REPORT_CREATED` if it created it), `MP_EINVAL`, `MP_ENOENT`, `MP_EEXIST`,
/// `MP_EACCES`, `MP_EBADOBJ`, `MP_ENOMEM`, `MP_ESYS`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `sem_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_open(
    name: *const c_char,
    flags: u32,
    mode: u32,
    value: u32,
    max_value: u32,
    sem_out: *mut *mut mp_sem_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_sem_open_ex(name, flags, mode, value, max_value, 0, sem_out) }
}

/// `mp_sem_open` with `sem_flags` (0 or `MP_SEM_UNDO`, as `mp_sem_init_ex`). The
/// flavour is part of the object: opening an existing semaphore of the other flavour
/// (with or without `MP_CREATE`) is `MP_EBADOBJ`, as another type would be.
///
/// Returns `MP_OK` (and writes `*sem_out`; `MP_CREATED` with `MP_REPORT_CREATED` if it created it), `MP_EINVAL`, `MP_ENOENT`, `MP_EEXIST`,
/// `MP_EACCES`, `MP_EBADOBJ`, `MP_ENOMEM`, `MP_ESYS`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `sem_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_open_ex(
    name: *const c_char,
    flags: u32,
    mode: u32,
    value: u32,
    max_value: u32,
    sem_flags: u32,
    sem_out: *mut *mut mp_sem_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        open_out(sem_out, flags, |flags| {
            let flavour = flavour_of(sem_flags)?;
            sem_flavour::open(c_name(name)?, flags, mode, value, max_value, flavour)
        })
    }
}

/// Unmaps a semaphore from `mp_sem_new` / `mp_sem_open` in the calling process.
///
/// A handle is never reused within the process, so closing it twice is `MP_EBADOBJ`
/// and touches no other object.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL or in-place), `MP_EBUSY` (the calling thread
/// holds a lock inside the mapping, or units of this undo semaphore: nothing changed),
/// `MP_EBADOBJ` (another type's handle, or already closed).
///
/// # Safety
/// `sem` is NULL, a handle from this library (closed or not), or readable memory of
/// an in-place object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_close(sem: *mut mp_sem_t) -> mp_status {
    // SAFETY: aligned (checked) and the forwarded contract.
    code(sem_ptr(sem).and_then(|sem| unsafe { sem_flavour::close(sem) }))
}

/// Takes one unit, waiting for one if there is none. `block`/`timeout_ms` as in
/// `mp_lock_acquire`.
///
/// Returns `MP_OK`, `MP_TIMEOUT`, `MP_EINTR` (nothing taken), `MP_EINVAL`,
/// `MP_EBADOBJ`. An undo semaphore also returns `MP_OWNER_DEAD` (a unit was taken; a
/// holder died holding units, which came back, and this caller is the one told: each
/// such death is told to exactly one acquirer) and `MP_EBUSY` (the calling thread holds
/// no unit yet and `MP_SEM_UNDO_HOLDERS` other threads do: nothing taken; threads that
/// wait do not count, so a waiter gets it only if that many hold units when it looks).
///
/// # Safety
/// `sem` is NULL or points to `MP_SEM_SIZE` readable bytes (`MP_SEM_UNDO_SIZE` for an
/// undo semaphore).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_acquire(
    sem: *mut mp_sem_t,
    block: bool,
    timeout_ms: i64,
) -> mp_status {
    match sem_ptr(sem) {
        // SAFETY: non-null and aligned (checked); the forwarded contract.
        Ok(sem) => unsafe { sem_flavour::acquire(sem, || Timeout::new(block, timeout_ms)) }.code(),
        Err(e) => e.code(),
    }
}

/// Returns one unit and wakes a waiter if any. Any thread or process may release a
/// plain semaphore; an undo semaphore takes back only units the calling thread
/// acquired.
///
/// Returns `MP_OK`, `MP_EOVERFLOW` (already at `max_value`; nothing changed),
/// `MP_ENOTOWNER` (undo semaphore: the calling thread holds no unit of it; nothing
/// changed), `MP_EBUSY` (undo semaphore: another thread's operation did not complete
/// within 2 s — it is stopped in the middle, or a peer damaged the object; nothing
/// changed, the caller still holds the unit), `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `sem` is NULL or points to `MP_SEM_SIZE` readable bytes (`MP_SEM_UNDO_SIZE` for an
/// undo semaphore).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_release(sem: *mut mp_sem_t) -> mp_status {
    match sem_ptr(sem) {
        // SAFETY: non-null and aligned (checked); the forwarded contract.
        Ok(sem) => unsafe { sem_flavour::release(sem) }.code(),
        Err(e) => e.code(),
    }
}

/// The getters' shared shape: writes what `plain` or `undo` (by the semaphore's
/// flavour) reads from `sem` to `*out`. `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `sem` is NULL or points to the semaphore's readable bytes; `out` is NULL or
/// writable.
unsafe fn sem_getter(
    sem: *const mp_sem_t,
    out: *mut u32,
    plain: impl FnOnce(&RawSem) -> u32,
    undo: impl FnOnce(&RawSemUndo) -> u32,
) -> mp_status {
    // SAFETY: `out` per the forwarded contract; `sem` non-null and aligned (checked),
    // readable per the forwarded contract.
    unsafe {
        ffi_out(out, || {
            Ok(match sem_flavour::any(sem_ptr(sem)?)? {
                AnySem::Plain(s) => plain(s),
                AnySem::Undo(s) => undo(s),
            })
        })
    }
}

/// Writes the current number of units to `*value_out` (a snapshot). For an undo
/// semaphore this counts the units of holders that died as available (the next
/// acquirer that needs them takes them back).
///
/// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `sem` is NULL or points to `MP_SEM_SIZE` readable bytes; `value_out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_get_value(sem: *const mp_sem_t, value_out: *mut u32) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { sem_getter(sem, value_out, |s| s.value(), |s| s.value()) }
}

/// Writes the semaphore's bound to `*max_out`.
///
/// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// As `mp_sem_get_value`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_get_max_value(
    sem: *const mp_sem_t,
    max_out: *mut u32,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { sem_getter(sem, max_out, RawSem::max_value, RawSemUndo::max_value) }
}

/// Writes the semaphore's `sem_flags` (0, or `MP_SEM_UNDO`) to `*flags_out`.
///
/// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// As `mp_sem_get_value`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_get_flags(sem: *const mp_sem_t, flags_out: *mut u32) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { sem_getter(sem, flags_out, |_| 0, |_| MP_SEM_UNDO) }
}

/// Writes how many units of an undo semaphore the calling thread holds to
/// `*held_out` (0 for a plain semaphore, which does not record holders).
///
/// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// As `mp_sem_get_value`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_sem_held(sem: *const mp_sem_t, held_out: *mut u32) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { sem_getter(sem, held_out, |_| 0, RawSemUndo::held_by_caller) }
}

/// The undo-extent proof as the C ABI exercises it (`crate::api::sem_undo_extent`).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::sem_undo_extent::{declare, proven, remember_handle, withdraw_declared};
    use crate::sys::robust;

    #[test]
    fn a_plain_mapping_is_never_proven_an_undo_semaphore() {
        let mut s: *mut mp_sem_t = core::ptr::null_mut();
        // SAFETY: a valid out-pointer; the handle is closed once.
        unsafe {
            assert_eq!(mp_sem_new(1, 1, &mut s), crate::ffi::status::MP_OK);
            assert_eq!(proven(s as usize), Err(Status::BadObj));
            // A handle cannot be declared in-place memory: the registry decides.
            assert_eq!(declare(s as usize), Err(Status::BadObj));
            assert_eq!(proven(s as usize), Err(Status::BadObj));
            assert_eq!(mp_sem_close(s), crate::ffi::status::MP_OK);
        }
    }

    /// In-place memory for one undo semaphore (`MP_SEM_UNDO_SIZE` bytes, 8-aligned).
    fn undo_memory() -> Box<[u64; MP_SEM_UNDO_SIZE / 8]> {
        Box::new([0; MP_SEM_UNDO_SIZE / 8])
    }

    /// The step before unmapping, `mp_sem_attach_ex(sem, 0)`, by a thread that holds a
    /// unit through `sem`: `MP_EBUSY`, and the declaration, the unit and the robust list
    /// stay as they were; once the unit is released, the declaration is withdrawn.
    #[test]
    fn withdrawing_while_holding_is_busy_and_changes_nothing() {
        use crate::ffi::status::{MP_EBADOBJ, MP_EBUSY, MP_OK};
        let mut mem = undo_memory();
        let s = mem.as_mut_ptr().cast::<mp_sem_t>();
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
            assert_eq!(mp_sem_init_ex(s, 1, 1, MP_SEM_UNDO), MP_OK);
            assert_eq!(mp_sem_acquire(s, false, 0), MP_OK);
            assert_eq!(held_here(), 1);
            assert_eq!(mp_sem_attach_ex(s, 0), MP_EBUSY);
            assert_eq!(proven(s as usize), Ok(()));
            assert_eq!(mp_sem_held(s, &mut held), MP_OK);
            assert_eq!(held, 1);
            assert_eq!(held_here(), 1);
            assert_eq!(mp_sem_release(s), MP_OK);
            assert_eq!(held_here(), 0);
            assert_eq!(mp_sem_attach_ex(s, 0), MP_OK);
            assert_eq!(proven(s as usize), Err(Status::BadObj));
            assert_eq!(mp_sem_get_value(s, &mut held), MP_EBADOBJ);
            // Nothing declared any more, and not a plain semaphore.
            assert_eq!(mp_sem_attach_ex(s, 0), MP_EBADOBJ);
            // Declared again, usable again; destroyed, withdrawn.
            assert_eq!(mp_sem_attach_ex(s, MP_SEM_UNDO), MP_OK);
            assert_eq!(mp_sem_acquire(s, false, 0), MP_OK);
            assert_eq!(mp_sem_release(s), MP_OK);
            assert_eq!(mp_sem_destroy(s), MP_OK);
            assert_eq!(proven(s as usize), Err(Status::BadObj));
        }
    }

    /// `mp_sem_attach_ex` reads no header through a misaligned pointer.
    #[test]
    fn attach_on_misaligned_memory_is_ebadobj() {
        let mem = undo_memory();
        for off in [1, 4] {
            // SAFETY: in bounds of `mem` (MP_SEM_SIZE readable bytes follow).
            let p = unsafe { mem.as_ptr().cast::<u8>().add(off) }.cast();
            for flags in [0, MP_SEM_UNDO] {
                // SAFETY: `p` points to readable bytes; the call checks alignment first.
                assert_eq!(
                    unsafe { mp_sem_attach_ex(p, flags) },
                    crate::ffi::status::MP_EBADOBJ
                );
            }
        }
    }

    #[test]
    fn an_undo_handle_is_proven_until_closed() {
        let mut s: *mut mp_sem_t = core::ptr::null_mut();
        // SAFETY: a valid out-pointer; the handle is closed once.
        unsafe {
            assert_eq!(
                mp_sem_new_ex(1, 1, MP_SEM_UNDO, &mut s),
                crate::ffi::status::MP_OK
            );
            assert_eq!(proven(s as usize), Ok(()));
            assert_eq!(declare(s as usize), Ok(()));
            // A handle's proof is not withdrawn by mp_sem_attach_ex(.., 0): only
            // mp_sem_close gives a handle up.
            assert_eq!(withdraw_declared(s as usize), Err(Status::BadObj));
            assert_eq!(mp_sem_attach_ex(s, 0), crate::ffi::status::MP_EBADOBJ);
            assert_eq!(proven(s as usize), Ok(()));
            assert_eq!(mp_sem_close(s), crate::ffi::status::MP_OK);
            assert_eq!(proven(s as usize), Err(Status::BadObj));
            assert_eq!(declare(s as usize), Err(Status::BadObj));
            assert_eq!(remember_handle(s as usize), Err(Status::BadObj));
        }
    }
}

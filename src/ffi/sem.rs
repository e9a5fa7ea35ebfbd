//! `mp_sem_t`: CPython's `multiprocessing.Semaphore` and `BoundedSemaphore`.

use core::ffi::c_char;

use super::sem_undo_extent;
use super::{
    SharedObject, code, ffi_out, located, mp_status, new_anonymous, object, open_named, storage,
};
use crate::raw::header::{Header, HeaderWords, Kind, Lifecycle};
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

impl SharedObject for RawSem {
    const KIND: Kind = Kind::Sem;
    fn header(&self) -> &Header {
        RawSem::header(self)
    }
}

impl SharedObject for RawSemUndo {
    const KIND: Kind = Kind::SemUndo;
    fn header(&self) -> &Header {
        RawSemUndo::header(self)
    }
}

fn check_args(value: u32, max_value: u32) -> MpResult<()> {
    if RawSem::valid_args(value, max_value) {
        Ok(())
    } else {
        Err(Status::Inval)
    }
}

/// Checks `sem_flags` and the values for its flavour: true for an undo semaphore.
fn check_ex_args(value: u32, max_value: u32, sem_flags: u32) -> MpResult<bool> {
    match sem_flags {
        0 => check_args(value, max_value).map(|()| false),
        MP_SEM_UNDO if RawSemUndo::valid_args(value, max_value) => Ok(true),
        _ => Err(Status::Inval),
    }
}

/// A semaphore of either flavour, told apart by its header.
enum AnySem<'a> {
    Plain(&'a RawSem),
    Undo(&'a RawSemUndo),
}

/// The header words of `p` with [`object`]'s checks: `MP_EINVAL` for NULL,
/// `MP_EBADOBJ` for misaligned memory. Read once, so that the plain flavour costs one
/// header check, and the undo flavour, tried second, no more reads of it.
///
/// # Safety
/// `p` is NULL or points to `MP_SEM_SIZE` readable bytes.
#[inline(always)]
unsafe fn sem_header(p: *const mp_sem_t) -> MpResult<HeaderWords> {
    // SAFETY: forwarded contract; only the header (the first 8 bytes) is read.
    Ok(unsafe { located::<RawSem, _>(p) }?.header().words())
}

/// Borrows a semaphore of either flavour.
///
/// # Safety
/// As `object`: `p` is NULL or points to a semaphore's readable bytes (`MP_SEM_SIZE`,
/// or `MP_SEM_UNDO_SIZE` for an undo semaphore).
#[inline]
unsafe fn any_sem<'a>(p: *const mp_sem_t) -> MpResult<AnySem<'a>> {
    // SAFETY: forwarded contract.
    let header = unsafe { sem_header(p) }?;
    if header.is(Kind::Sem) {
        // SAFETY: non-null and aligned (checked), readable (the contract), a live plain
        // semaphore (its header).
        return Ok(AnySem::Plain(unsafe { &*(p as *const RawSem) }));
    }
    // SAFETY: forwarded contract; `p` is non-null and aligned (checked).
    unsafe { undo_proven(p, header) }.map(AnySem::Undo)
}

/// `mp_sem_acquire` on a semaphore whose header (read once by the caller) says undo
/// semaphore. Out of line, so that the plain path stays as it was. Inside, the usual
/// case — the extent proof found at its first probe, a unit cached in the caller's
/// slot — is inline and makes no call; every other case is one tail call.
///
/// `#[cold]` only tells the caller's layout that the plain flavour comes first (its
/// check stays a compare-and-branch).
///
/// # Safety
/// As [`undo_proven`], and the header of `p` said undo semaphore.
#[cold]
#[inline(never)]
unsafe fn undo_acquire(p: *const mp_sem_t, timeout: Timeout) -> mp_status {
    if !sem_undo_extent::proven_at_first_probe(p as usize) {
        // SAFETY: forwarded contract.
        return unsafe { undo_acquire_probed(p, timeout) };
    }
    // SAFETY: the extent is proven and the header says undo semaphore (the contract);
    // the bytes are atomics and integers (any bit pattern is valid).
    unsafe { &*(p as *const RawSemUndo) }
        .acquire(timeout)
        .code()
}

/// [`undo_acquire`] when the extent proof needs its whole probe.
///
/// # Safety
/// As [`undo_acquire`].
#[inline(never)]
unsafe fn undo_acquire_probed(p: *const mp_sem_t, timeout: Timeout) -> mp_status {
    match sem_undo_extent::proven(p as usize) {
        // SAFETY: as in `undo_acquire`.
        Ok(()) => unsafe { &*(p as *const RawSemUndo) }
            .acquire(timeout)
            .code(),
        Err(e) => e.code(),
    }
}

/// `mp_sem_release` on a semaphore whose header says undo semaphore (see
/// [`undo_acquire`]).
///
/// # Safety
/// As [`undo_acquire`].
#[cold]
#[inline(never)]
unsafe fn undo_release(p: *const mp_sem_t) -> mp_status {
    if !sem_undo_extent::proven_at_first_probe(p as usize) {
        // SAFETY: forwarded contract.
        return unsafe { undo_release_probed(p) };
    }
    // SAFETY: as in `undo_acquire`.
    unsafe { &*(p as *const RawSemUndo) }.release().code()
}

/// [`undo_release`] when the extent proof needs its whole probe.
///
/// # Safety
/// As [`undo_acquire`].
#[inline(never)]
unsafe fn undo_release_probed(p: *const mp_sem_t) -> mp_status {
    match sem_undo_extent::proven(p as usize) {
        // SAFETY: as in `undo_acquire`.
        Ok(()) => unsafe { &*(p as *const RawSemUndo) }.release().code(),
        Err(e) => e.code(),
    }
}

/// Borrows an undo semaphore: `header` (the words of `p`'s header) must say so, and
/// this process's private state must prove that `MP_SEM_UNDO_SIZE` bytes are there
/// (`sem_undo_extent`): the header's kind tag is shared memory, which a peer may have
/// rewritten on a plain semaphore of one page or `MP_SEM_SIZE` bytes. `MP_EBADOBJ`
/// otherwise, with no byte past the header read.
///
/// # Safety
/// `p` is non-null and aligned, `header` was read from it ([`sem_header`]), and it
/// points to `MP_SEM_SIZE` readable bytes and, if the extent proof succeeds, to
/// `MP_SEM_UNDO_SIZE` (what the mapping registry recorded, or what this process
/// declared).
#[inline(always)]
unsafe fn undo_proven<'a>(p: *const mp_sem_t, header: HeaderWords) -> MpResult<&'a RawSemUndo> {
    if !header.is(Kind::SemUndo) {
        return Err(Status::BadObj);
    }
    sem_undo_extent::proven(p as usize)?;
    // SAFETY: the extent is proven above and the header says undo semaphore; the bytes
    // are atomics and integers (any bit pattern is valid).
    Ok(unsafe { &*(p as *const RawSemUndo) })
}

/// A new undo semaphore handle, remembered as proven (see `sem_undo_extent`); unmapped
/// again if it cannot be (`MP_ENOMEM`: the process uses the most undo semaphores it can).
fn undo_handle(p: *mut RawSemUndo) -> MpResult<*mut mp_sem_t> {
    match sem_undo_extent::remember_handle(p as usize) {
        Ok(()) => Ok(p.cast()),
        Err(e) => {
            // SAFETY: `p` is the live handle just mapped, used by nobody else yet.
            let _ = unsafe { super::close::<RawSemUndo, _>(p) };
            Err(e)
        }
    }
}

/// A new plain semaphore handle. Its address cannot carry an undo declaration: one left
/// from in-place memory that was unmapped without `mp_sem_destroy`, where the kernel
/// now placed this mapping, is dropped.
fn plain_handle(p: *mut RawSem) -> *mut mp_sem_t {
    sem_undo_extent::withdraw(p as usize);
    p.cast()
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
    code(check_ex_args(value, max_value, sem_flags).and_then(|undo| {
        if undo {
            // SAFETY: forwarded contract (MP_SEM_UNDO_SIZE writable bytes).
            let s = unsafe { storage::<RawSemUndo, _>(sem) }?;
            sem_undo_extent::declare(sem as usize)?;
            s.init(value, max_value, Lifecycle::InPlace);
            Ok(())
        } else {
            // SAFETY: forwarded contract.
            unsafe { storage::<RawSem, _>(sem) }.map(|s| {
                // Plain now: an earlier undo declaration of this address no longer holds.
                sem_undo_extent::withdraw(sem as usize);
                s.init(value, max_value, Lifecycle::InPlace)
            })
        }
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
    // SAFETY: forwarded contract.
    match unsafe { super::destroy::<RawSem, _>(sem, RawSem::destroy) } {
        super::MP_EBADOBJ if sem_undo_extent::proven(sem as usize).is_ok() => {
            // SAFETY: the extent is proven; the rest is the forwarded contract.
            let st = unsafe { super::destroy::<RawSemUndo, _>(sem, RawSemUndo::destroy) };
            if st == super::MP_OK {
                sem_undo_extent::withdraw(sem as usize);
            }
            st
        }
        st => st,
    }
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
    if sem.is_null() {
        return super::MP_EINVAL;
    }
    match sem_flags {
        0 => match sem_undo_extent::withdraw_declared(sem as usize) {
            Ok(true) => super::MP_OK,
            // Nothing declared here: fine if a plain semaphore is.
            // SAFETY: forwarded contract.
            Ok(false) => code(unsafe { object::<RawSem, _>(sem) }.map(|_| ())),
            Err(e) => e.code(),
        },
        // SAFETY: forwarded contract: only the header (in the first MP_SEM_SIZE bytes)
        // is read, and only from aligned memory.
        MP_SEM_UNDO => match unsafe { sem_header(sem) } {
            Ok(h) if h.is(Kind::SemUndo) => code(sem_undo_extent::declare(sem as usize)),
            Ok(_) => super::MP_EBADOBJ,
            Err(e) => e.code(),
        },
        _ => super::MP_EINVAL,
    }
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
            if check_ex_args(value, max_value, sem_flags)? {
                new_anonymous::<RawSemUndo>(|s| s.init(value, max_value, Lifecycle::Anonymous))
                    .and_then(undo_handle)
            } else {
                new_anonymous::<RawSem>(|s| s.init(value, max_value, Lifecycle::Anonymous))
                    .map(plain_handle)
            }
        })
    }
}

/// Opens (or with `MP_CREATE` creates, with `value`/`max_value`) the semaphore called
/// `name`; see `mp_lock_open` for `flags` and `mode`. The values are checked always
/// but used only when this call creates the semaphore.
///
/// Returns `MP_OK` (and writes `*sem_out`), `MP_EINVAL`, `MP_ENOENT`, `MP_EEXIST`,
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
/// Returns `MP_OK` (and writes `*sem_out`), `MP_EINVAL`, `MP_ENOENT`, `MP_EEXIST`,
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
        ffi_out(sem_out, || {
            if check_ex_args(value, max_value, sem_flags)? {
                open_named::<RawSemUndo>(name, flags, mode, |s| {
                    s.init(value, max_value, Lifecycle::Named)
                })
                .and_then(undo_handle)
            } else {
                open_named::<RawSem>(name, flags, mode, |s| {
                    s.init(value, max_value, Lifecycle::Named)
                })
                .map(plain_handle)
            }
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
    // SAFETY: forwarded contract.
    match unsafe { super::close::<RawSem, _>(sem) } {
        super::MP_EBADOBJ if sem_undo_extent::proven(sem as usize).is_ok() => {
            // SAFETY: the extent is proven; the rest is the forwarded contract.
            let st = unsafe { super::close::<RawSemUndo, _>(sem) };
            if st == super::MP_OK {
                // Unmapped: the address no longer names an undo semaphore here.
                sem_undo_extent::withdraw(sem as usize);
            }
            st
        }
        st => st,
    }
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
    // SAFETY: forwarded contract.
    match unsafe { sem_header(sem) } {
        // The plain semaphore's path, as before undo semaphores existed.
        // SAFETY: non-null, aligned and readable, with a live plain header (checked).
        Ok(h) if h.is(Kind::Sem) => unsafe { &*(sem as *const RawSem) }
            .acquire(Timeout::new(block, timeout_ms))
            .code(),
        // SAFETY: forwarded contract; non-null and aligned (checked), the header says
        // undo semaphore.
        Ok(h) if h.is(Kind::SemUndo) => unsafe {
            undo_acquire(sem, Timeout::new(block, timeout_ms))
        },
        Ok(_) => Status::BadObj.code(),
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
    // SAFETY: forwarded contract.
    match unsafe { sem_header(sem) } {
        // SAFETY: non-null, aligned and readable, with a live plain header (checked).
        Ok(h) if h.is(Kind::Sem) => unsafe { &*(sem as *const RawSem) }.release().code(),
        // SAFETY: forwarded contract; non-null and aligned (checked), the header says
        // undo semaphore.
        Ok(h) if h.is(Kind::SemUndo) => unsafe { undo_release(sem) },
        Ok(_) => Status::BadObj.code(),
        Err(e) => e.code(),
    }
}

/// The getters' shared shape: writes what `plain` or `undo` (by the semaphore's
/// flavour) reads from `sem` to `*out`. `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `sem` as [`any_sem`]; `out` is NULL or writable.
unsafe fn sem_getter(
    sem: *const mp_sem_t,
    out: *mut u32,
    plain: impl FnOnce(&RawSem) -> u32,
    undo: impl FnOnce(&RawSemUndo) -> u32,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        ffi_out(out, || {
            Ok(match any_sem(sem)? {
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

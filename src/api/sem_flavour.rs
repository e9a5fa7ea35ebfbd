//! A semaphore of either flavour behind one pointer: plain ([`RawSem`], `MP_SEM_SIZE`
//! bytes) or undo ([`RawSemUndo`], `MP_SEM_UNDO_SIZE` bytes). Both faces reach a
//! semaphore through these functions: the C ABI's `mp_sem_*` (one `mp_sem_t *` type for
//! both flavours) and the safe API's [`Semaphore`](super::Semaphore).
//!
//! The flavour is read from the header, but the undo flavour is used only where this
//! process's private state proves its larger size (`sem_undo_extent`): a peer that can
//! write a plain semaphore can rewrite its header's tag. No byte past the plain size is
//! touched before that proof.
//!
//! Every pointer given here is non-null and aligned to `MP_SEM_ALIGN` (each face checks
//! that first) and points to the plain size of readable memory; the functions decide
//! what more they may read.

use core::ptr::NonNull;
use std::ffi::CStr;

use super::lifecycle;
use super::object::object;
use super::sem_undo_extent;
use crate::raw::header::{HeaderWords, Kind, Lifecycle};
use crate::raw::sem::RawSem;
use crate::raw::sem_undo::RawSemUndo;
use crate::status::{MpResult, Status};
use crate::sys::time::WaitLimit;

/// The two flavours (the C ABI's `sem_flags` 0 and `MP_SEM_UNDO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// Any thread may release; nothing is recorded about holders.
    Plain,
    /// Holders are recorded; a dead holder's units come back.
    Undo,
}

/// `Inval` unless `value` and `max_value` suit the flavour.
fn check_args(value: u32, max_value: u32, flavour: Flavour) -> MpResult<()> {
    let valid = match flavour {
        Flavour::Plain => RawSem::valid_args(value, max_value),
        Flavour::Undo => RawSemUndo::valid_args(value, max_value),
    };
    if valid { Ok(()) } else { Err(Status::Inval) }
}

/// A semaphore of either flavour, told apart by its header (and, for the undo flavour,
/// proven).
pub(crate) enum AnySem<'a> {
    /// A live plain semaphore.
    Plain(&'a RawSem),
    /// A live undo semaphore whose extent is proven.
    Undo(&'a RawSemUndo),
}

/// The header words of the semaphore at `p`, read once: the plain flavour then costs one
/// header check, and the undo flavour, tried second, no more reads of it.
///
/// # Safety
/// `p` as in the module documentation.
#[inline(always)]
unsafe fn header(p: NonNull<RawSem>) -> HeaderWords {
    // SAFETY: forwarded contract; only the header (the first 8 bytes) is read, and
    // every bit pattern is a valid `RawSem`.
    unsafe { p.as_ref() }.header().words()
}

/// Borrows the semaphore at `p`, of either flavour: `BadObj` unless it is a live plain
/// one, or a live undo one whose extent is proven.
///
/// # Safety
/// `p` as in the module documentation, and the memory stays mapped for `'a`.
#[inline]
pub(crate) unsafe fn any<'a>(p: NonNull<RawSem>) -> MpResult<AnySem<'a>> {
    // SAFETY: forwarded contract.
    let header = unsafe { header(p) };
    if header.is(Kind::Sem) {
        // SAFETY: readable (the contract), a live plain semaphore (its header).
        return Ok(AnySem::Plain(unsafe { p.as_ref() }));
    }
    // SAFETY: forwarded contract.
    unsafe { undo_proven(p, header) }.map(AnySem::Undo)
}

/// Takes one unit (`RawSem::acquire` or `RawSemUndo::acquire`, by flavour), waiting
/// until `limit()`; `BadObj` for memory without a live semaphore. Inline: the plain
/// flavour's path is the header check and the state machine's own fast path.
///
/// `limit` is made in each flavour's branch, not before the header is read: for the C
/// ABI's `Timeout` (made from `block` and `timeout_ms`), that keeps the plain flavour's
/// machine code exactly what it was when the C function dispatched itself (measured:
/// made once before the branch, the compiler moves it ahead of the header check).
///
/// # Safety
/// `p` as in the module documentation.
#[inline(always)]
pub(crate) unsafe fn acquire<W: WaitLimit>(p: NonNull<RawSem>, limit: impl Fn() -> W) -> Status {
    // SAFETY: forwarded contract.
    let h = unsafe { header(p) };
    if h.is(Kind::Sem) {
        // SAFETY: readable (the contract), with a live plain header (checked).
        unsafe { p.as_ref() }.acquire(limit())
    } else if h.is(Kind::SemUndo) {
        // SAFETY: forwarded contract; the header says undo semaphore.
        unsafe { undo_acquire(p, limit()) }
    } else {
        Status::BadObj
    }
}

/// Returns one unit (by flavour, as [`acquire`]).
///
/// # Safety
/// `p` as in the module documentation.
#[inline(always)]
pub(crate) unsafe fn release(p: NonNull<RawSem>) -> Status {
    // SAFETY: forwarded contract.
    let h = unsafe { header(p) };
    if h.is(Kind::Sem) {
        // SAFETY: readable (the contract), with a live plain header (checked).
        unsafe { p.as_ref() }.release()
    } else if h.is(Kind::SemUndo) {
        // SAFETY: forwarded contract; the header says undo semaphore.
        unsafe { undo_release(p) }
    } else {
        Status::BadObj
    }
}

/// [`acquire`] on a semaphore whose header (read once by the caller) says undo
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
unsafe fn undo_acquire<W: WaitLimit>(p: NonNull<RawSem>, limit: W) -> Status {
    if !sem_undo_extent::proven_at_first_probe(p.as_ptr() as usize) {
        // SAFETY: forwarded contract.
        return unsafe { undo_acquire_probed(p, limit) };
    }
    // SAFETY: the extent is proven and the header says undo semaphore (the contract);
    // the bytes are atomics and integers (any bit pattern is valid).
    unsafe { p.cast::<RawSemUndo>().as_ref() }.acquire(limit)
}

/// [`undo_acquire`] when the extent proof needs its whole probe.
///
/// # Safety
/// As [`undo_acquire`].
#[inline(never)]
unsafe fn undo_acquire_probed<W: WaitLimit>(p: NonNull<RawSem>, limit: W) -> Status {
    match sem_undo_extent::proven(p.as_ptr() as usize) {
        // SAFETY: as in `undo_acquire`.
        Ok(()) => unsafe { p.cast::<RawSemUndo>().as_ref() }.acquire(limit),
        Err(e) => e,
    }
}

/// [`release`] on a semaphore whose header says undo semaphore (see [`undo_acquire`]).
///
/// # Safety
/// As [`undo_acquire`].
#[cold]
#[inline(never)]
unsafe fn undo_release(p: NonNull<RawSem>) -> Status {
    if !sem_undo_extent::proven_at_first_probe(p.as_ptr() as usize) {
        // SAFETY: forwarded contract.
        return unsafe { undo_release_probed(p) };
    }
    // SAFETY: as in `undo_acquire`.
    unsafe { p.cast::<RawSemUndo>().as_ref() }.release()
}

/// [`undo_release`] when the extent proof needs its whole probe.
///
/// # Safety
/// As [`undo_acquire`].
#[inline(never)]
unsafe fn undo_release_probed(p: NonNull<RawSem>) -> Status {
    match sem_undo_extent::proven(p.as_ptr() as usize) {
        // SAFETY: as in `undo_acquire`.
        Ok(()) => unsafe { p.cast::<RawSemUndo>().as_ref() }.release(),
        Err(e) => e,
    }
}

/// Borrows an undo semaphore: `header` (the words of `p`'s header) must say so, and
/// this process's private state must prove that `MP_SEM_UNDO_SIZE` bytes are there
/// (`sem_undo_extent`): the header's kind tag is shared memory, which a peer may have
/// rewritten on a plain semaphore of one page or `MP_SEM_SIZE` bytes. `BadObj`
/// otherwise, with no byte past the header read.
///
/// # Safety
/// `p` as in the module documentation, `header` was read from it ([`header`]), and, if
/// the extent proof succeeds, it points to `MP_SEM_UNDO_SIZE` readable bytes (what the
/// mapping registry recorded, or what this process declared) that stay mapped for `'a`.
#[inline(always)]
unsafe fn undo_proven<'a>(p: NonNull<RawSem>, header: HeaderWords) -> MpResult<&'a RawSemUndo> {
    if !header.is(Kind::SemUndo) {
        return Err(Status::BadObj);
    }
    sem_undo_extent::proven(p.as_ptr() as usize)?;
    // SAFETY: the extent is proven above and the header says undo semaphore; the bytes
    // are atomics and integers (any bit pattern is valid).
    Ok(unsafe { p.cast::<RawSemUndo>().as_ref() })
}

/// A new undo semaphore handle, remembered as proven (see `sem_undo_extent`); unmapped
/// again if it cannot be (`NoMem`: the process uses the most undo semaphores it can).
fn undo_handle(p: NonNull<RawSemUndo>) -> MpResult<NonNull<RawSem>> {
    match sem_undo_extent::remember_handle(p.as_ptr() as usize) {
        Ok(()) => Ok(p.cast()),
        Err(e) => {
            // SAFETY: `p` is the live handle just mapped (page-aligned), used by nobody
            // else yet.
            let _ = unsafe { lifecycle::close::<RawSemUndo>(p) };
            Err(e)
        }
    }
}

/// A new plain semaphore handle. Its address cannot carry an undo declaration: one left
/// from in-place memory that was unmapped without being destroyed, where the kernel now
/// placed this mapping, is dropped.
fn plain_handle(p: NonNull<RawSem>) -> NonNull<RawSem> {
    sem_undo_extent::withdraw(p.as_ptr() as usize);
    p
}

/// Initialises a semaphore of `flavour` with `value` units and bound `max_value` in
/// caller-provided memory. For the undo flavour this also records, privately in the
/// calling process, that `p` starts an undo semaphore (`NoMem` if the process already
/// uses the most it can, `BadObj` if `p` is the handle of another object; nothing
/// written then); for the plain flavour an earlier such record of `p` is dropped.
///
/// # Safety
/// `p` as in the module documentation, and the memory is writable: `MP_SEM_SIZE` bytes,
/// or `MP_SEM_UNDO_SIZE` for the undo flavour.
pub(crate) unsafe fn init(
    p: NonNull<RawSem>,
    value: u32,
    max_value: u32,
    flavour: Flavour,
) -> MpResult<()> {
    check_args(value, max_value, flavour)?;
    let addr = p.as_ptr() as usize;
    match flavour {
        Flavour::Undo => {
            sem_undo_extent::declare(addr)?;
            // SAFETY: MP_SEM_UNDO_SIZE writable, aligned bytes (the contract).
            unsafe { p.cast::<RawSemUndo>().as_ref() }.init(value, max_value, Lifecycle::InPlace);
        }
        Flavour::Plain => {
            // Plain now: an earlier undo declaration of this address no longer holds.
            sem_undo_extent::withdraw(addr);
            // SAFETY: MP_SEM_SIZE writable, aligned bytes (the contract).
            unsafe { p.as_ref() }.init(value, max_value, Lifecycle::InPlace);
        }
    }
    Ok(())
}

/// A semaphore of `flavour` in a new anonymous shared mapping.
pub(crate) fn new(value: u32, max_value: u32, flavour: Flavour) -> MpResult<NonNull<RawSem>> {
    check_args(value, max_value, flavour)?;
    match flavour {
        Flavour::Undo => lifecycle::new_anonymous::<RawSemUndo>(|s| {
            s.init(value, max_value, Lifecycle::Anonymous)
        })
        .and_then(undo_handle),
        Flavour::Plain => {
            lifecycle::new_anonymous::<RawSem>(|s| s.init(value, max_value, Lifecycle::Anonymous))
                .map(plain_handle)
        }
    }
}

/// Opens (or creates, with `value`/`max_value`) the semaphore of `flavour` called
/// `name`. The values are checked always but used only on creation; an existing
/// semaphore of the other flavour is `BadObj`, as another type would be. Also returns
/// whether this call created it.
pub(crate) fn open(
    name: &CStr,
    flags: u32,
    mode: u32,
    value: u32,
    max_value: u32,
    flavour: Flavour,
) -> MpResult<(NonNull<RawSem>, bool)> {
    check_args(value, max_value, flavour)?;
    match flavour {
        Flavour::Undo => lifecycle::open_named::<RawSemUndo>(name, flags, mode, |s| {
            s.init(value, max_value, Lifecycle::Named)
        })
        .and_then(|(p, created)| Ok((undo_handle(p)?, created))),
        Flavour::Plain => lifecycle::open_named::<RawSem>(name, flags, mode, |s| {
            s.init(value, max_value, Lifecycle::Named)
        })
        .map(|(p, created)| (plain_handle(p), created)),
    }
}

/// Unmaps a semaphore from [`new`] / [`open`] ([`lifecycle::close`], by flavour); an
/// undo handle is then no longer proven.
///
/// # Safety
/// `p` is aligned, and a handle from this library (closed or not) or points to readable
/// memory of an in-place semaphore.
pub(crate) unsafe fn close(p: NonNull<RawSem>) -> MpResult<()> {
    let addr = p.as_ptr() as usize;
    // SAFETY: forwarded contract.
    match unsafe { lifecycle::close::<RawSem>(p) } {
        Err(Status::BadObj) if sem_undo_extent::proven(addr).is_ok() => {
            // SAFETY: the extent is proven; the rest is the forwarded contract.
            unsafe { lifecycle::close::<RawSemUndo>(p.cast()) }?;
            // Unmapped: the address no longer names an undo semaphore here.
            sem_undo_extent::withdraw(addr);
            Ok(())
        }
        r => r,
    }
}

/// Ends an in-place semaphore ([`lifecycle::destroy`], by flavour); destroying an undo
/// semaphore withdraws the calling process's declaration of it.
///
/// # Safety
/// `p` as in the module documentation (the semaphore's whole size readable), or a
/// closed handle of this library.
pub(crate) unsafe fn destroy(p: NonNull<RawSem>) -> MpResult<()> {
    let addr = p.as_ptr() as usize;
    // SAFETY: forwarded contract.
    match unsafe { lifecycle::destroy::<RawSem>(p) } {
        Err(Status::BadObj) if sem_undo_extent::proven(addr).is_ok() => {
            // SAFETY: the extent is proven; the rest is the forwarded contract.
            unsafe { lifecycle::destroy::<RawSemUndo>(p.cast()) }?;
            sem_undo_extent::withdraw(addr);
            Ok(())
        }
        r => r,
    }
}

/// Declares, in the calling process, which flavour it expects at `p` (the C ABI's
/// `mp_sem_attach_ex`): `Undo` for an in-place undo semaphore that another process
/// initialised in memory this process maps too (`BadObj` if the header does not say
/// so); `Plain` withdraws such a declaration (`Busy` while the calling thread holds
/// units through `p`; `BadObj` for an undo handle, or when nothing was declared and no
/// live plain semaphore is there).
///
/// # Safety
/// `p` as in the module documentation; with `Undo`, `MP_SEM_UNDO_SIZE` readable and
/// writable bytes for as long as the declaration lasts.
pub(crate) unsafe fn attach(p: NonNull<RawSem>, flavour: Flavour) -> MpResult<()> {
    let addr = p.as_ptr() as usize;
    match flavour {
        Flavour::Plain => {
            if sem_undo_extent::withdraw_declared(addr)? {
                return Ok(());
            }
            // Nothing declared here: fine if a plain semaphore is.
            // SAFETY: forwarded contract.
            unsafe { object(p) }.map(|_| ())
        }
        // SAFETY: forwarded contract: only the header is read.
        Flavour::Undo if unsafe { header(p) }.is(Kind::SemUndo) => sem_undo_extent::declare(addr),
        Flavour::Undo => Err(Status::BadObj),
    }
}

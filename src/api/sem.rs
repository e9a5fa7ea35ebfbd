//! [`Semaphore`]: `multiprocessing.Semaphore` and `BoundedSemaphore`.

use core::marker::PhantomData;
use core::ptr::NonNull;

use super::deadline::Deadline;
use super::error::{Error, Outcome, done, split};
use super::handle::{Life, object_handle, report_unreleased};
use super::object::at;
use super::options::{OpenOptions, c_name};
use super::sem_flavour::{self, AnySem, Flavour};
use crate::raw::sem::{self as raw_sem, RawSem};
use crate::raw::sem_undo::{self as raw_undo, RawSemUndo};
use crate::status::Status;

/// The largest semaphore value and bound: an unbounded `Semaphore(n)` has this bound.
pub const SEM_VALUE_MAX: u32 = raw_sem::SEM_VALUE_MAX;
/// The largest value and bound of an undo semaphore ([`Semaphore::new_undo`]).
pub const SEM_UNDO_VALUE_MAX: u32 = raw_undo::UNDO_VALUE_MAX;

/// A counting semaphore with an upper bound (the C type `mp_sem_t`, what
/// [`Semaphore::as_ptr`] points to): `max_value ==
/// SEM_VALUE_MAX` is `multiprocessing.Semaphore`, a smaller bound
/// `BoundedSemaphore`.
///
/// [`Semaphore::acquire`] returns a [`SemaphoreGuard`] that gives the unit back when
/// dropped; [`Semaphore::acquire_unguarded`] and [`Semaphore::release`] take and give
/// units separately (a producer releases what a consumer acquires).
///
/// ```
/// use mpsync::{Deadline, Error, Outcome, Semaphore};
/// let sem = Semaphore::new(1, 1)?; // BoundedSemaphore(1)
/// assert_eq!(sem.release(), Err(Error::Overflow));
/// {
///     let _unit = sem.acquire(Deadline::now())?.expect("one unit free");
///     assert_eq!(sem.value()?, 0);
///     assert!(sem.acquire(Deadline::now())?.is_none()); // timed out
/// } // given back here
/// assert_eq!(sem.value()?, 1);
/// assert_eq!(sem.acquire_unguarded(Deadline::now())?, Outcome::Ok);
/// sem.release()?;
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct Semaphore {
    // The first `Semaphore::SIZE` bytes of either flavour; `sem_flavour` tells which.
    ptr: NonNull<RawSem>,
    life: Life,
}

object_handle!(
    Semaphore,
    RawSem,
    close = sem_flavour::close,
    destroy = sem_flavour::destroy
);

impl Semaphore {
    /// Size in bytes of the in-place object (`MP_SEM_SIZE`).
    pub const SIZE: usize = RawSem::SIZE;
    /// Size in bytes of an in-place undo semaphore (`MP_SEM_UNDO_SIZE`).
    pub const UNDO_SIZE: usize = RawSemUndo::SIZE;
    /// Required alignment of the in-place object (`MP_SEM_ALIGN`).
    pub const ALIGN: usize = RawSem::ALIGN;

    /// A semaphore with `value` units and bound `max_value` in a new anonymous shared
    /// mapping, inherited by `fork()`ed children; [`Error::Invalid`] if `value >
    /// max_value` or `max_value > SEM_VALUE_MAX`.
    pub fn new(value: u32, max_value: u32) -> Result<Semaphore, Error> {
        Ok(Semaphore::mapped(
            sem_flavour::new(value, max_value, Flavour::Plain)?,
            true,
        ))
    }

    /// An *undo* semaphore (`MP_SEM_UNDO`) in a new anonymous shared mapping: units
    /// that a thread acquired come back when it dies holding them (exit, `SIGKILL`,
    /// `exec`, thread exit), and the one acquirer told gets [`Outcome::OwnerDead`].
    /// Releases are matched to acquirers ([`Error::NotOwner`] for a thread that holds
    /// no unit). At most 64 threads hold units at once ([`Error::Busy`] for one more);
    /// [`Error::Invalid`] if `value > max_value` or `max_value > SEM_UNDO_VALUE_MAX`.
    pub fn new_undo(value: u32, max_value: u32) -> Result<Semaphore, Error> {
        Ok(Semaphore::mapped(
            sem_flavour::new(value, max_value, Flavour::Undo)?,
            true,
        ))
    }

    /// [`Semaphore::open`] for an undo semaphore (see [`Semaphore::new_undo`]). The
    /// flavour is part of the object: opening a plain one this way (or an undo one with
    /// [`Semaphore::open`]) is [`Error::BadObject`].
    pub fn open_undo(
        name: &str,
        options: &OpenOptions,
        value: u32,
        max_value: u32,
    ) -> Result<Semaphore, Error> {
        Semaphore::open_flavour(name, options, value, max_value, Flavour::Undo)
    }

    /// Opens, or creates with `value`/`max_value`, the semaphore called `name`. The
    /// values are checked always but used only when this call creates it.
    pub fn open(
        name: &str,
        options: &OpenOptions,
        value: u32,
        max_value: u32,
    ) -> Result<Semaphore, Error> {
        Semaphore::open_flavour(name, options, value, max_value, Flavour::Plain)
    }

    fn open_flavour(
        name: &str,
        options: &OpenOptions,
        value: u32,
        max_value: u32,
        flavour: Flavour,
    ) -> Result<Semaphore, Error> {
        let name = c_name(name)?;
        let (flags, mode) = (options.flags(), options.mode_bits());
        let (ptr, created) = sem_flavour::open(&name, flags, mode, value, max_value, flavour)?;
        Ok(Semaphore::mapped(ptr, created))
    }

    /// Initialises a semaphore at `mem` (`mp_sem_init`).
    ///
    /// # Safety
    /// `mem` points to [`Semaphore::SIZE`] writable bytes, [`Semaphore::ALIGN`]-aligned,
    /// that stay valid while any handle to them lives; no thread uses a semaphore there.
    pub unsafe fn init_at(mem: *mut u8, value: u32, max_value: u32) -> Result<Semaphore, Error> {
        // SAFETY: forwarded contract.
        unsafe { Semaphore::init_flavour_at(mem, value, max_value, Flavour::Plain) }
    }

    /// Initialises an undo semaphore at `mem` (`mp_sem_init_ex` with `MP_SEM_UNDO`; see
    /// [`Semaphore::new_undo`]). It is usable in this process and its `fork()`
    /// children; another process that maps the memory uses
    /// [`Semaphore::attach_undo_at`].
    ///
    /// # Safety
    /// `mem` points to [`Semaphore::UNDO_SIZE`] writable bytes, [`Semaphore::ALIGN`]-
    /// aligned, that stay valid while any handle to them lives; no thread uses a
    /// semaphore there.
    pub unsafe fn init_undo_at(
        mem: *mut u8,
        value: u32,
        max_value: u32,
    ) -> Result<Semaphore, Error> {
        // SAFETY: forwarded contract.
        unsafe { Semaphore::init_flavour_at(mem, value, max_value, Flavour::Undo) }
    }

    /// # Safety
    /// As [`Semaphore::init_at`], with the flavour's size.
    unsafe fn init_flavour_at(
        mem: *mut u8,
        value: u32,
        max_value: u32,
        flavour: Flavour,
    ) -> Result<Semaphore, Error> {
        let ptr = at::<RawSem>(mem, Status::Inval)?;
        // SAFETY: aligned (checked); writable for the flavour's size (the contract).
        unsafe { sem_flavour::init(ptr, value, max_value, flavour) }?;
        Ok(Semaphore::in_place(ptr))
    }

    /// A handle on an undo semaphore that another process initialised at memory this
    /// process maps at `mem` (`mp_sem_attach_ex`: declares the larger size, which the
    /// library does not take from shared memory alone); [`Error::BadObject`] if no undo
    /// semaphore is there.
    ///
    /// # Safety
    /// `mem` points to [`Semaphore::UNDO_SIZE`] readable and writable bytes that stay
    /// valid while this process uses the semaphore.
    pub unsafe fn attach_undo_at(mem: *mut u8) -> Result<Semaphore, Error> {
        let ptr = at::<RawSem>(mem, Status::BadObj)?;
        // SAFETY: aligned (checked); the forwarded contract.
        unsafe { sem_flavour::attach(ptr, Flavour::Undo) }?;
        Ok(Semaphore::in_place(ptr))
    }

    /// A handle on a semaphore already initialised at `mem`.
    ///
    /// # Safety
    /// `mem` points to [`Semaphore::SIZE`] readable bytes that stay valid while the
    /// handle lives.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<Semaphore, Error> {
        let sem = Semaphore::in_place(at::<RawSem>(mem, Status::BadObj)?);
        sem.any()?;
        Ok(sem)
    }

    /// The semaphore, of either flavour, validated on every call (as `raw` for the other
    /// handle types).
    fn any(&self) -> Result<AnySem<'_>, Error> {
        // SAFETY: a live handle: mapped (until `close`) or the caller's memory (per
        // `init_at`/`attach_at`), aligned (checked when the handle was made).
        Ok(unsafe { sem_flavour::any(self.ptr) }?)
    }

    /// Takes one unit, waiting until `deadline`: `Some(guard)`, which gives it back when
    /// dropped, or `None` if the deadline passed first; [`Error::Interrupted`] (nothing
    /// taken: call again with the same deadline). For an undo semaphore the guard's
    /// [`owner_died`](SemaphoreGuard::owner_died) tells whether a holder died and its
    /// units came back, and [`Error::Busy`] is a full holder table (nothing taken).
    ///
    /// ```
    /// use mpsync::Semaphore;
    /// use std::time::Duration;
    /// let slots = Semaphore::new_undo(2, 2)?; // at most two workers at once
    /// let a = slots.acquire(Duration::from_secs(1))?.expect("free");
    /// let b = slots.acquire(Duration::from_secs(1))?.expect("free");
    /// assert!(!a.owner_died() && !b.owner_died());
    /// assert_eq!(slots.held()?, 2);
    /// drop((a, b));
    /// assert_eq!(slots.value()?, 2);
    /// # Ok::<(), mpsync::Error>(())
    /// ```
    pub fn acquire(
        &self,
        deadline: impl Into<Deadline>,
    ) -> Result<Option<SemaphoreGuard<'_>>, Error> {
        self.guarded_until(deadline.into())
    }

    /// [`Semaphore::acquire`] past its generic face: monomorphic and not inline (see the
    /// `handle` module docs).
    fn guarded_until(&self, deadline: Deadline) -> Result<Option<SemaphoreGuard<'_>>, Error> {
        Ok(match self.acquire_until(deadline)? {
            Outcome::Timeout => None,
            o => Some(SemaphoreGuard {
                sem: self,
                owner_died: o == Outcome::OwnerDead,
                _not_send: PhantomData,
            }),
        })
    }

    /// Takes one unit without a guard, waiting until `deadline`: `Outcome::Ok`,
    /// `Outcome::Timeout`, or [`Error::Interrupted`] (nothing taken). An undo semaphore
    /// also gives `Outcome::OwnerDead` (a unit was taken; a holder died and its units
    /// came back) and [`Error::Busy`] (the holder table is full; nothing taken). Give it
    /// back with [`Semaphore::release`] (any thread, for a plain semaphore).
    pub fn acquire_unguarded(&self, deadline: impl Into<Deadline>) -> Result<Outcome, Error> {
        self.acquire_until(deadline.into())
    }

    /// [`Semaphore::acquire_unguarded`] past its generic face: monomorphic and not
    /// inline (see the `handle` module docs).
    fn acquire_until(&self, deadline: Deadline) -> Result<Outcome, Error> {
        // SAFETY: a live handle (see `any`).
        split(unsafe { sem_flavour::acquire(self.ptr, || deadline.0) })
    }

    /// Returns one unit; [`Error::Overflow`] if already at the bound (nothing changes).
    /// An undo semaphore takes back only units the calling thread holds:
    /// [`Error::NotOwner`] otherwise, [`Error::Busy`] if another thread's operation
    /// stalled in the middle (nothing changes). A [`SemaphoreGuard`] calls it when
    /// dropped.
    pub fn release(&self) -> Result<(), Error> {
        // SAFETY: a live handle (see `any`).
        done(unsafe { sem_flavour::release(self.ptr) })
    }

    /// The number of units right now (a snapshot).
    pub fn value(&self) -> Result<u32, Error> {
        Ok(match self.any()? {
            AnySem::Plain(s) => s.value(),
            AnySem::Undo(s) => s.value(),
        })
    }

    /// The bound.
    pub fn max_value(&self) -> Result<u32, Error> {
        Ok(match self.any()? {
            AnySem::Plain(s) => s.max_value(),
            AnySem::Undo(s) => s.max_value(),
        })
    }

    /// True for an undo semaphore ([`Semaphore::new_undo`]).
    pub fn is_undo(&self) -> Result<bool, Error> {
        Ok(matches!(self.any()?, AnySem::Undo(_)))
    }

    /// How many units of an undo semaphore the calling thread holds (0 for a plain
    /// semaphore, which records no holders).
    pub fn held(&self) -> Result<u32, Error> {
        Ok(match self.any()? {
            AnySem::Plain(_) => 0,
            AnySem::Undo(s) => s.held_by_caller(),
        })
    }
}

/// One unit of a [`Semaphore`], from [`Semaphore::acquire`]: dropping it gives the
/// unit back.
///
/// It is neither `Send` nor `Sync` (an undo semaphore takes units back only from the
/// thread that holds them). A failed release cannot be returned from `drop`; it is
/// written to standard error (one line), and happens only if the program released the
/// unit itself while the guard lived ([`Error::Overflow`], [`Error::NotOwner`]), or
/// destroyed the semaphore. `std::mem::forget(guard)` keeps the unit taken (give it
/// back later with [`Semaphore::release`]).
///
/// ```
/// use mpsync::{Deadline, Semaphore};
/// let sem = Semaphore::new(3, mpsync::SEM_VALUE_MAX)?; // Semaphore(3)
/// let units: Vec<_> = (0..4).map_while(|_| sem.acquire(Deadline::now()).ok()?).collect();
/// assert_eq!((units.len(), sem.value()?), (3, 0)); // the 4th timed out
/// assert_eq!(units[0].semaphore().value()?, 0);
/// drop(units);
/// assert_eq!(sem.value()?, 3);
/// # Ok::<(), mpsync::Error>(())
/// ```
#[must_use = "the unit is given back as soon as the guard is dropped"]
pub struct SemaphoreGuard<'a> {
    sem: &'a Semaphore,
    owner_died: bool,
    // !Send, !Sync: an undo semaphore's units are released by their holder thread.
    _not_send: PhantomData<*const ()>,
}

impl SemaphoreGuard<'_> {
    /// True if this acquisition was told that a holder of an undo semaphore died
    /// holding units, which came back ([`Outcome::OwnerDead`]). Always false for a
    /// plain semaphore.
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }

    /// The semaphore this unit belongs to.
    pub fn semaphore(&self) -> &Semaphore {
        self.sem
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.sem.release() {
            report_unreleased("SemaphoreGuard", e);
        }
    }
}

impl core::fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SemaphoreGuard")
            .field("sem", self.sem)
            .field("owner_died", &self.owner_died)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tests_fork::{in_child, wait_for};

    #[test]
    #[cfg_attr(miri, ignore = "forks")]
    fn a_killed_holders_unit_comes_back_with_owner_dead() {
        let sem = Semaphore::new_undo(1, 1).unwrap();
        assert!(sem.is_undo().unwrap());
        assert_eq!(sem.release(), Err(Error::NotOwner));
        let pid = in_child(|| {
            assert_eq!(sem.acquire_unguarded(Deadline::forever()), Ok(Outcome::Ok));
            // SAFETY: ends the child at once, holding the unit.
            unsafe { libc::raise(libc::SIGKILL) };
            0
        });
        wait_for(pid, Some(libc::SIGKILL));
        assert_eq!(
            sem.acquire_unguarded(std::time::Duration::from_secs(10)),
            Ok(Outcome::OwnerDead)
        );
        assert_eq!(sem.held(), Ok(1));
        sem.release().unwrap();
        assert_eq!(sem.held(), Ok(0));
        assert_eq!(sem.acquire_unguarded(Deadline::now()), Ok(Outcome::Ok));
        sem.release().unwrap();
        // The guard: the same report, and the unit back on drop.
        let pid = in_child(|| {
            core::mem::forget(sem.acquire(Deadline::forever()).unwrap().unwrap());
            // SAFETY: ends the child at once, holding the unit.
            unsafe { libc::raise(libc::SIGKILL) };
            0
        });
        wait_for(pid, Some(libc::SIGKILL));
        let g = sem.acquire(std::time::Duration::from_secs(10)).unwrap();
        assert!(g.as_ref().unwrap().owner_died());
        assert_eq!(sem.held(), Ok(1));
        assert!(sem.acquire(Deadline::now()).unwrap().is_none());
        drop(g);
        assert_eq!((sem.held(), sem.value()), (Ok(0), Ok(1)));
        // A plain semaphore is not an undo one, and records no holders.
        let plain = Semaphore::new(1, 1).unwrap();
        assert_eq!(plain.is_undo(), Ok(false));
        assert_eq!(plain.held(), Ok(0));
    }

    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn undo_flavour_is_part_of_a_named_semaphore() {
        let name = format!("mpsync-api-sem-undo-{}", std::process::id());
        let opts = OpenOptions::new().create(true).exclusive(true);
        let a = Semaphore::open_undo(&name, &opts, 2, 2).unwrap();
        assert_eq!(
            Semaphore::open(&name, &OpenOptions::new(), 0, 1).unwrap_err(),
            Error::BadObject
        );
        let b = Semaphore::open_undo(&name, &OpenOptions::new(), 0, 1).unwrap();
        assert_eq!(a.acquire_unguarded(Deadline::now()), Ok(Outcome::Ok));
        assert_eq!(b.value(), Ok(1));
        b.release().unwrap(); // matched by thread, whichever handle
        crate::api::library::unlink(&name).unwrap();
    }
}

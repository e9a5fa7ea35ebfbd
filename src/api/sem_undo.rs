//! [`UndoSemaphore`]: a `Semaphore` / `BoundedSemaphore` whose units come back when the
//! thread holding them dies (the C type `mp_sem_undo_t`).
//!
//! Its own type, not a flavour of [`Semaphore`](super::Semaphore): the object is
//! `UndoSemaphore::SIZE` bytes, and the type of the handle (of the C pointer) is what
//! proves that to every call. Nothing is taken from the object's shared header but its
//! kind, checked like any other type's.

use core::ptr::NonNull;

use super::error::Error;
use super::guard::{Guard, HolderThread, acquire_methods, guard_kind};
use super::handle::{Life, object_handle, raw_methods};
use super::object::counting_args;
use super::options::OpenOptions;
use crate::raw::sem_undo::{self as raw_undo, RawSemUndo};
use crate::status::Status;
use crate::sys::robust;

/// The largest value and bound of an [`UndoSemaphore`].
pub const SEM_UNDO_VALUE_MAX: u32 = raw_undo::UNDO_VALUE_MAX;
/// How many threads may hold units of one [`UndoSemaphore`] at once.
pub const SEM_UNDO_HOLDERS: u32 = raw_undo::UNDO_HOLDERS as u32;

/// An *undo* semaphore (the C type `mp_sem_undo_t`, what [`UndoSemaphore::as_ptr`]
/// points to): units that a thread acquired come back when it dies holding them (exit,
/// `SIGKILL`, `exec`, thread exit), and the one acquirer told gets
/// [`Outcome::OwnerDead`](crate::Outcome::OwnerDead). Releases are matched to acquirers
/// ([`Error::NotOwner`] for a thread that holds no unit). At most [`SEM_UNDO_HOLDERS`]
/// threads hold units at once ([`Error::Busy`] for one more; any number may wait).
///
/// ```
/// use mpsync::UndoSemaphore;
/// use std::time::Duration;
/// let slots = UndoSemaphore::new(2, 2)?; // at most two workers at once
/// let a = slots.acquire(Duration::from_secs(1))?.expect("free");
/// let b = slots.acquire(Duration::from_secs(1))?.expect("free");
/// assert!(!a.owner_died() && !b.owner_died());
/// assert_eq!(slots.held()?, 2);
/// drop((a, b));
/// assert_eq!(slots.value()?, 2);
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct UndoSemaphore {
    ptr: NonNull<RawSemUndo>,
    life: Life,
}

object_handle!(UndoSemaphore, RawSemUndo);

impl UndoSemaphore {
    /// Size in bytes of the in-place object (`MP_SEM_UNDO_SIZE`).
    pub const SIZE: usize = RawSemUndo::SIZE;
    /// Required alignment of the in-place object (`MP_SEM_UNDO_ALIGN`).
    pub const ALIGN: usize = RawSemUndo::ALIGN;

    /// An undo semaphore with `value` units and bound `max_value` in a new anonymous
    /// shared mapping, inherited by `fork()`ed children; [`Error::Invalid`] if `value >
    /// max_value` or `max_value > SEM_UNDO_VALUE_MAX`.
    pub fn new(value: u32, max_value: u32) -> Result<UndoSemaphore, Error> {
        counting_args::<RawSemUndo>(value, max_value)?;
        UndoSemaphore::anonymous_with(|s, life| s.init(value, max_value, life))
    }

    /// Opens, or creates with `value`/`max_value`, the undo semaphore called `name`
    /// (the values are checked always, used only on creation). A plain semaphore of that
    /// name is [`Error::BadObject`], as another type would be.
    pub fn open(
        name: &str,
        options: &OpenOptions,
        value: u32,
        max_value: u32,
    ) -> Result<UndoSemaphore, Error> {
        counting_args::<RawSemUndo>(value, max_value)?;
        UndoSemaphore::named_with(name, options, |s, life| s.init(value, max_value, life))
    }

    /// Initialises an undo semaphore at `mem` (`mp_sem_undo_init`). Any process that
    /// maps the memory uses it ([`UndoSemaphore::attach_at`]); nothing is declared.
    ///
    /// # Safety
    /// `mem` points to [`UndoSemaphore::SIZE`] writable bytes,
    /// [`UndoSemaphore::ALIGN`]-aligned, that stay valid while any handle to them lives;
    /// no thread uses an object there.
    pub unsafe fn init_at(
        mem: *mut u8,
        value: u32,
        max_value: u32,
    ) -> Result<UndoSemaphore, Error> {
        counting_args::<RawSemUndo>(value, max_value)?;
        // SAFETY: forwarded contract.
        unsafe { UndoSemaphore::in_place_with(mem, |s, life| s.init(value, max_value, life)) }
    }

    /// A handle on an undo semaphore already initialised at `mem` (by any process);
    /// [`Error::BadObject`] if `mem` holds none.
    ///
    /// # Safety
    /// `mem` points to [`UndoSemaphore::SIZE`] readable and writable bytes that stay
    /// valid while the handle lives.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<UndoSemaphore, Error> {
        // SAFETY: forwarded contract.
        unsafe { UndoSemaphore::attached(mem) }
    }

    acquire_methods!(
        UndoSemaphore,
        /// Takes one unit, waiting until `deadline`: `Some(guard)`, which gives it back when
        /// dropped (its [`owner_died`](UndoSemaphoreGuard::owner_died) tells whether a
        /// holder died and its units came back), or `None` if the deadline passed first;
        /// [`Error::Interrupted`] (nothing taken: call again with the same deadline),
        /// [`Error::Busy`] (the holder table is full; nothing taken).
        fn acquire -> UndoSemaphoreGuard;
        /// Takes one unit without a guard: `Outcome::Ok`, `Outcome::OwnerDead` (taken; a
        /// holder died and its units came back), `Outcome::Timeout`, or
        /// [`Error::Interrupted`] / [`Error::Busy`] (nothing taken). The same thread gives it
        /// back with [`UndoSemaphore::release`].
        fn acquire_unguarded;
    );

    raw_methods! {
        /// Returns one unit that the calling thread holds: [`Error::NotOwner`] if it holds
        /// none, [`Error::Busy`] if another thread's operation stalled in the middle,
        /// [`Error::Overflow`] at the bound (nothing changes in each case). An
        /// [`UndoSemaphoreGuard`] calls it when dropped.
        fn release() -> Status;
        /// The number of units right now (a snapshot; dead holders' units count as free).
        fn value -> u32 = value;
        /// The bound.
        fn max_value -> u32 = max_value;
        /// How many units the calling thread holds.
        fn held -> u32 = held_by_caller;
    }

    /// The step before this process unmaps in-place memory of an undo semaphore that
    /// others go on using (`mp_sem_undo_detach`): [`Error::Busy`] while the calling
    /// thread holds units of it (its holder slot is linked into the thread's robust
    /// list, which must never point into memory that is gone), else `Ok`. Reads only
    /// the thread's private records, not the object; changes nothing.
    pub fn detach(&self) -> Result<(), Error> {
        Ok(detach_check(self.ptr)?)
    }
}

/// `Busy` while the calling thread holds units of the undo semaphore at `p` (its slot is
/// in the thread's robust list); nothing at `p` is read.
pub(crate) fn detach_check(p: NonNull<RawSemUndo>) -> Result<(), Status> {
    if robust::thread_holds_lock_in(p.as_ptr() as usize, RawSemUndo::SIZE) {
        Err(Status::Busy)
    } else {
        Ok(())
    }
}

/// One unit of an [`UndoSemaphore`], held by the calling thread: dropping it gives the
/// unit back.
///
/// Neither `Send` nor `Sync`: an undo semaphore takes units back only from the thread
/// that holds them. A failed release cannot be returned from `drop`; it is written to
/// standard error (one line), and happens only if the program released the unit itself
/// while the guard lived, or destroyed the semaphore. `std::mem::forget(guard)` keeps
/// the unit (the kernel still gives it back if the thread dies).
pub type UndoSemaphoreGuard<'a> = Guard<'a, UndoSemaphore>;

guard_kind!(UndoSemaphore: UndoSemaphore, "UndoSemaphoreGuard", acquire, release, HolderThread,
    semaphore);

#[cfg(test)]
mod tests {
    use super::super::sem::Semaphore;
    use super::*;
    use crate::api::deadline::Deadline;
    use crate::api::error::Outcome;
    use crate::api::tests_fork::{in_child, wait_for};

    #[test]
    #[cfg_attr(miri, ignore = "forks")]
    fn a_killed_holders_unit_comes_back_with_owner_dead() {
        let sem = UndoSemaphore::new(1, 1).unwrap();
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
    }

    /// In place, another "process" (a second handle) attaches with no declaration; the
    /// step before unmapping is refused while the calling thread holds a unit.
    #[test]
    fn in_place_attach_and_detach_while_holding_is_busy() {
        let mut mem = vec![0u64; UndoSemaphore::SIZE / 8];
        let p = mem.as_mut_ptr().cast::<u8>();
        // SAFETY: `mem` is SIZE writable, 8-aligned bytes that outlive both handles.
        let (a, b) = unsafe {
            (
                UndoSemaphore::init_at(p, 1, 1).unwrap(),
                UndoSemaphore::attach_at(p).unwrap(),
            )
        };
        assert_eq!(b.detach(), Ok(()));
        assert_eq!(a.acquire_unguarded(Deadline::now()), Ok(Outcome::Ok));
        assert_eq!(b.detach(), Err(Error::Busy));
        assert_eq!(b.held(), Ok(1));
        b.release().unwrap();
        assert_eq!(a.detach(), Ok(()));
        // SAFETY: no other handle uses it afterwards.
        unsafe { a.destroy() }.unwrap();
        assert_eq!(b.value().unwrap_err(), Error::BadObject);
    }

    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn an_undo_semaphore_and_a_plain_one_refuse_each_other() {
        let name = format!("mpsync-api-undo-{}", std::process::id());
        let opts = OpenOptions::new().create(true).exclusive(true);
        let a = UndoSemaphore::open(&name, &opts, 2, 2).unwrap();
        let b = UndoSemaphore::open(&name, &OpenOptions::new(), 0, 1).unwrap();
        assert_eq!(a.acquire_unguarded(Deadline::now()), Ok(Outcome::Ok));
        assert_eq!(b.value(), Ok(1));
        b.release().unwrap(); // matched by thread, whichever handle
        // The other type's calls refuse each: by name, and in place.
        assert_eq!(
            Semaphore::open(&name, &OpenOptions::new(), 0, 1).unwrap_err(),
            Error::BadObject
        );
        // SAFETY: the undo semaphore's memory is more than `Semaphore::SIZE` readable
        // bytes, and outlives the attempt.
        let attached = unsafe { Semaphore::attach_at(a.as_ptr().cast()) };
        assert_eq!(attached.unwrap_err(), Error::BadObject);
        // A plain semaphore at the start of memory large enough for either type.
        let mut mem = vec![0u64; UndoSemaphore::SIZE / 8];
        let p = mem.as_mut_ptr().cast::<u8>();
        // SAFETY: `mem` is UndoSemaphore::SIZE writable, 8-aligned bytes that outlive
        // both calls.
        unsafe {
            let _plain = Semaphore::init_at(p, 1, 1).unwrap();
            assert_eq!(UndoSemaphore::attach_at(p).unwrap_err(), Error::BadObject);
        }
        crate::api::library::unlink(&name).unwrap();
    }
}

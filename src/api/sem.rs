//! [`Semaphore`]: `multiprocessing.Semaphore` and `BoundedSemaphore`.

use core::ptr::NonNull;

use super::error::Error;
use super::guard::{AnyThread, Guard, acquire_methods, guard_kind};
use super::handle::{Life, object_handle, raw_methods};
use super::object::counting_args;
use super::options::OpenOptions;
use crate::raw::sem::{self as raw_sem, RawSem};

/// The largest semaphore value and bound: an unbounded `Semaphore(n)` has this bound.
pub const SEM_VALUE_MAX: u32 = raw_sem::SEM_VALUE_MAX;

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
    ptr: NonNull<RawSem>,
    life: Life,
}

object_handle!(Semaphore, RawSem);

impl Semaphore {
    /// Size in bytes of the in-place object (`MP_SEM_SIZE`).
    pub const SIZE: usize = RawSem::SIZE;
    /// Required alignment of the in-place object (`MP_SEM_ALIGN`).
    pub const ALIGN: usize = RawSem::ALIGN;

    /// A semaphore with `value` units and bound `max_value` in a new anonymous shared
    /// mapping, inherited by `fork()`ed children; [`Error::Invalid`] if `value >
    /// max_value` or `max_value > SEM_VALUE_MAX`.
    pub fn new(value: u32, max_value: u32) -> Result<Semaphore, Error> {
        counting_args::<RawSem>(value, max_value)?;
        Semaphore::anonymous_with(|s, life| s.init(value, max_value, life))
    }

    /// Opens, or creates with `value`/`max_value`, the semaphore called `name`. The
    /// values are checked always but used only when this call creates it; an undo
    /// semaphore of that name is [`Error::BadObject`], as another type would be.
    pub fn open(
        name: &str,
        options: &OpenOptions,
        value: u32,
        max_value: u32,
    ) -> Result<Semaphore, Error> {
        counting_args::<RawSem>(value, max_value)?;
        Semaphore::named_with(name, options, |s, life| s.init(value, max_value, life))
    }

    /// Initialises a semaphore at `mem` (`mp_sem_init`).
    ///
    /// # Safety
    /// `mem` points to [`Semaphore::SIZE`] writable bytes, [`Semaphore::ALIGN`]-aligned,
    /// that stay valid while any handle to them lives; no thread uses a semaphore there.
    pub unsafe fn init_at(mem: *mut u8, value: u32, max_value: u32) -> Result<Semaphore, Error> {
        counting_args::<RawSem>(value, max_value)?;
        // SAFETY: forwarded contract.
        unsafe { Semaphore::in_place_with(mem, |s, life| s.init(value, max_value, life)) }
    }

    /// A handle on a semaphore already initialised at `mem`; [`Error::BadObject`] if
    /// `mem` holds none (an undo semaphore included: that is [`UndoSemaphore`]).
    ///
    /// [`UndoSemaphore`]: crate::UndoSemaphore
    ///
    /// # Safety
    /// `mem` points to [`Semaphore::SIZE`] readable bytes that stay valid while the
    /// handle lives.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<Semaphore, Error> {
        // SAFETY: forwarded contract.
        unsafe { Semaphore::attached(mem) }
    }

    acquire_methods!(
        Semaphore,
        /// Takes one unit, waiting until `deadline`: `Some(guard)`, which gives it back when
        /// dropped, or `None` if the deadline passed first; [`Error::Interrupted`] (nothing
        /// taken: call again with the same deadline).
        fn acquire -> SemaphoreGuard;
        /// Takes one unit without a guard, waiting until `deadline`: `Outcome::Ok`,
        /// `Outcome::Timeout`, or [`Error::Interrupted`] (nothing taken). Give it back with
        /// [`Semaphore::release`], from any thread of any process.
        fn acquire_unguarded;
    );

    raw_methods! {
        /// Returns one unit; [`Error::Overflow`] if already at the bound (nothing changes).
        /// A [`SemaphoreGuard`] calls it when dropped.
        fn release() -> Status;
        /// The number of units right now (a snapshot).
        fn value -> u32 = value;
        /// The bound.
        fn max_value -> u32 = max_value;
    }
}

/// One unit of a [`Semaphore`], from [`Semaphore::acquire`]: dropping it gives the
/// unit back.
///
/// A failed release cannot be returned from `drop`; it is written to standard error
/// (one line), and happens only if the program released the unit itself while the
/// guard lived ([`Error::Overflow`]), or destroyed the semaphore.
/// `std::mem::forget(guard)` keeps the unit taken (give it back later with
/// [`Semaphore::release`]).
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
pub type SemaphoreGuard<'a> = Guard<'a, Semaphore>;

guard_kind!(Semaphore: Semaphore, "SemaphoreGuard", acquire, release, AnyThread, semaphore);

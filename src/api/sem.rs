//! [`Semaphore`]: `multiprocessing.Semaphore` and `BoundedSemaphore`.

use core::ptr::NonNull;

use super::error::{result, unit};
use super::{Deadline, Error, Life, OpenOptions, Outcome, c_name, object_handle};
use crate::ffi::sem::{
    MP_SEM_ALIGN, MP_SEM_SIZE, MP_SEM_UNDO, MP_SEM_UNDO_SIZE, MP_SEM_UNDO_VALUE_MAX,
    MP_SEM_VALUE_MAX, mp_sem_acquire, mp_sem_attach_ex, mp_sem_close, mp_sem_destroy,
    mp_sem_get_flags, mp_sem_get_max_value, mp_sem_get_value, mp_sem_held, mp_sem_init,
    mp_sem_init_ex, mp_sem_new, mp_sem_new_ex, mp_sem_open, mp_sem_open_ex, mp_sem_release,
    mp_sem_t,
};

/// The largest semaphore value and bound: an unbounded `Semaphore(n)` has this bound.
pub const SEM_VALUE_MAX: u32 = MP_SEM_VALUE_MAX;
/// The largest value and bound of an undo semaphore ([`Semaphore::new_undo`]).
pub const SEM_UNDO_VALUE_MAX: u32 = MP_SEM_UNDO_VALUE_MAX;

/// A counting semaphore with an upper bound (the C type `mp_sem_t`): `max_value ==
/// SEM_VALUE_MAX` is `multiprocessing.Semaphore`, a smaller bound
/// `BoundedSemaphore`.
///
/// ```
/// use mpsync::{Deadline, Error, Outcome, Semaphore};
/// let sem = Semaphore::new(1, 1)?; // BoundedSemaphore(1)
/// assert_eq!(sem.release(), Err(Error::Overflow));
/// assert_eq!(sem.acquire(Deadline::now())?, Outcome::Ok);
/// assert_eq!(sem.value()?, 0);
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct Semaphore {
    ptr: NonNull<mp_sem_t>,
    life: Life,
}

object_handle!(Semaphore, mp_sem_t, mp_sem_close, mp_sem_destroy);

impl Semaphore {
    /// Size in bytes of the in-place object (`MP_SEM_SIZE`).
    pub const SIZE: usize = MP_SEM_SIZE;
    /// Size in bytes of an in-place undo semaphore (`MP_SEM_UNDO_SIZE`).
    pub const UNDO_SIZE: usize = MP_SEM_UNDO_SIZE;
    /// Required alignment of the in-place object (`MP_SEM_ALIGN`).
    pub const ALIGN: usize = MP_SEM_ALIGN;

    /// A semaphore with `value` units and bound `max_value` in a new anonymous shared
    /// mapping, inherited by `fork()`ed children; [`Error::Invalid`] if `value >
    /// max_value` or `max_value > SEM_VALUE_MAX`.
    pub fn new(value: u32, max_value: u32) -> Result<Semaphore, Error> {
        // SAFETY: a valid out-pointer.
        Self::mapped_by(|out| unsafe { mp_sem_new(value, max_value, out) })
    }

    /// An *undo* semaphore (`MP_SEM_UNDO`) in a new anonymous shared mapping: units
    /// that a thread acquired come back when it dies holding them (exit, `SIGKILL`,
    /// `exec`, thread exit), and the one acquirer told gets [`Outcome::OwnerDead`].
    /// Releases are matched to acquirers ([`Error::NotOwner`] for a thread that holds
    /// no unit). At most 64 threads hold units at once ([`Error::Busy`] for one more);
    /// [`Error::Invalid`] if `value > max_value` or `max_value > SEM_UNDO_VALUE_MAX`.
    pub fn new_undo(value: u32, max_value: u32) -> Result<Semaphore, Error> {
        // SAFETY: a valid out-pointer.
        Self::mapped_by(|out| unsafe { mp_sem_new_ex(value, max_value, MP_SEM_UNDO, out) })
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
        let name = c_name(name)?;
        // SAFETY: a NUL-terminated name and a valid out-pointer.
        Self::mapped_by(|out| unsafe {
            mp_sem_open_ex(
                name.as_ptr(),
                options.flags(),
                options.mode_bits(),
                value,
                max_value,
                MP_SEM_UNDO,
                out,
            )
        })
    }

    /// Opens, or creates with `value`/`max_value`, the semaphore called `name`. The
    /// values are checked always but used only when this call creates it.
    pub fn open(
        name: &str,
        options: &OpenOptions,
        value: u32,
        max_value: u32,
    ) -> Result<Semaphore, Error> {
        let name = c_name(name)?;
        // SAFETY: a NUL-terminated name and a valid out-pointer.
        Self::mapped_by(|out| unsafe {
            mp_sem_open(
                name.as_ptr(),
                options.flags(),
                options.mode_bits(),
                value,
                max_value,
                out,
            )
        })
    }

    /// Initialises a semaphore at `mem` (`mp_sem_init`).
    ///
    /// # Safety
    /// `mem` points to [`Semaphore::SIZE`] writable bytes, [`Semaphore::ALIGN`]-aligned,
    /// that stay valid while any handle to them lives; no thread uses a semaphore there.
    pub unsafe fn init_at(mem: *mut u8, value: u32, max_value: u32) -> Result<Semaphore, Error> {
        // SAFETY: forwarded contract.
        Self::in_place_after(mem, unsafe { mp_sem_init(mem.cast(), value, max_value) })
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
        Self::in_place_after(mem, unsafe {
            mp_sem_init_ex(mem.cast(), value, max_value, MP_SEM_UNDO)
        })
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
        // SAFETY: forwarded contract.
        Self::in_place_after(mem, unsafe { mp_sem_attach_ex(mem.cast(), MP_SEM_UNDO) })
    }

    /// A handle on a semaphore already initialised at `mem`.
    ///
    /// # Safety
    /// `mem` points to [`Semaphore::SIZE`] readable bytes that stay valid while the
    /// handle lives.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<Semaphore, Error> {
        let mut v = 0;
        // SAFETY: forwarded contract; a valid out-pointer.
        Self::in_place_after(mem, unsafe { mp_sem_get_value(mem.cast(), &mut v) })
    }

    /// Takes one unit, waiting until `deadline`: `Outcome::Ok`, `Outcome::Timeout`, or
    /// [`Error::Interrupted`] (nothing taken). An undo semaphore also gives
    /// `Outcome::OwnerDead` (a unit was taken; a holder died and its units came back)
    /// and [`Error::Busy`] (the holder table is full; nothing taken).
    #[inline]
    pub fn acquire(&self, deadline: impl Into<Deadline>) -> Result<Outcome, Error> {
        let ms = deadline.into().timeout_ms();
        // SAFETY: a live handle.
        result(unsafe { mp_sem_acquire(self.ptr.as_ptr(), true, ms) })
    }

    /// Returns one unit; [`Error::Overflow`] if already at the bound (nothing changes).
    /// An undo semaphore takes back only units the calling thread holds:
    /// [`Error::NotOwner`] otherwise, [`Error::Busy`] if another thread's operation
    /// stalled in the middle (nothing changes).
    #[inline]
    pub fn release(&self) -> Result<(), Error> {
        // SAFETY: a live handle.
        unit(unsafe { mp_sem_release(self.ptr.as_ptr()) })
    }

    /// The number of units right now (a snapshot).
    pub fn value(&self) -> Result<u32, Error> {
        let mut v = 0;
        // SAFETY: a live handle and a valid out-pointer.
        unit(unsafe { mp_sem_get_value(self.ptr.as_ptr(), &mut v) })?;
        Ok(v)
    }

    /// The bound.
    pub fn max_value(&self) -> Result<u32, Error> {
        let mut v = 0;
        // SAFETY: a live handle and a valid out-pointer.
        unit(unsafe { mp_sem_get_max_value(self.ptr.as_ptr(), &mut v) })?;
        Ok(v)
    }

    /// True for an undo semaphore ([`Semaphore::new_undo`]).
    pub fn is_undo(&self) -> Result<bool, Error> {
        let mut f = 0;
        // SAFETY: a live handle and a valid out-pointer.
        unit(unsafe { mp_sem_get_flags(self.ptr.as_ptr(), &mut f) })?;
        Ok(f & MP_SEM_UNDO != 0)
    }

    /// How many units of an undo semaphore the calling thread holds (0 for a plain
    /// semaphore, which records no holders).
    pub fn held(&self) -> Result<u32, Error> {
        let mut v = 0;
        // SAFETY: a live handle and a valid out-pointer.
        unit(unsafe { mp_sem_held(self.ptr.as_ptr(), &mut v) })?;
        Ok(v)
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
            assert_eq!(sem.acquire(Deadline::forever()), Ok(Outcome::Ok));
            // SAFETY: ends the child at once, holding the unit.
            unsafe { libc::raise(libc::SIGKILL) };
            0
        });
        wait_for(pid, Some(libc::SIGKILL));
        assert_eq!(
            sem.acquire(std::time::Duration::from_secs(10)),
            Ok(Outcome::OwnerDead)
        );
        assert_eq!(sem.held(), Ok(1));
        sem.release().unwrap();
        assert_eq!(sem.held(), Ok(0));
        assert_eq!(sem.acquire(Deadline::now()), Ok(Outcome::Ok));
        sem.release().unwrap();
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
        assert_eq!(a.acquire(Deadline::now()), Ok(Outcome::Ok));
        assert_eq!(b.value(), Ok(1));
        b.release().unwrap(); // matched by thread, whichever handle
        crate::unlink(&name).unwrap();
    }
}

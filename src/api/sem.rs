//! [`Semaphore`]: `multiprocessing.Semaphore` and `BoundedSemaphore`.

use core::ptr::NonNull;

use super::error::{result, unit};
use super::{Deadline, Error, Life, OpenOptions, Outcome, c_name, construct, object_handle};
use crate::ffi::sem::{
    MP_SEM_ALIGN, MP_SEM_SIZE, MP_SEM_VALUE_MAX, mp_sem_acquire, mp_sem_close, mp_sem_destroy,
    mp_sem_get_max_value, mp_sem_get_value, mp_sem_init, mp_sem_new, mp_sem_open, mp_sem_release,
    mp_sem_t,
};

/// The largest semaphore value and bound: an unbounded `Semaphore(n)` has this bound.
pub const SEM_VALUE_MAX: u32 = MP_SEM_VALUE_MAX;

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
    /// Required alignment of the in-place object (`MP_SEM_ALIGN`).
    pub const ALIGN: usize = MP_SEM_ALIGN;

    /// A semaphore with `value` units and bound `max_value` in a new anonymous shared
    /// mapping, inherited by `fork()`ed children; [`Error::Invalid`] if `value >
    /// max_value` or `max_value > SEM_VALUE_MAX`.
    pub fn new(value: u32, max_value: u32) -> Result<Semaphore, Error> {
        // SAFETY: a valid out-pointer.
        let ptr = construct(|out| unsafe { mp_sem_new(value, max_value, out) })?;
        Ok(Semaphore {
            ptr,
            life: Life::Mapped,
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
        let ptr = construct(|out| unsafe {
            mp_sem_open(
                name.as_ptr(),
                options.flags(),
                options.mode_bits(),
                value,
                max_value,
                out,
            )
        })?;
        Ok(Semaphore {
            ptr,
            life: Life::Mapped,
        })
    }

    /// Initialises a semaphore at `mem` (`mp_sem_init`).
    ///
    /// # Safety
    /// `mem` points to [`Semaphore::SIZE`] writable bytes, [`Semaphore::ALIGN`]-aligned,
    /// that stay valid while any handle to them lives; no thread uses a semaphore there.
    pub unsafe fn init_at(mem: *mut u8, value: u32, max_value: u32) -> Result<Semaphore, Error> {
        // SAFETY: forwarded contract.
        unit(unsafe { mp_sem_init(mem.cast(), value, max_value) })?;
        // SAFETY: the library accepted `mem`, so it is not NULL.
        let ptr = unsafe { NonNull::new_unchecked(mem.cast()) };
        Ok(Semaphore {
            ptr,
            life: Life::InPlace,
        })
    }

    /// A handle on a semaphore already initialised at `mem`.
    ///
    /// # Safety
    /// `mem` points to [`Semaphore::SIZE`] readable bytes that stay valid while the
    /// handle lives.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<Semaphore, Error> {
        let mut v = 0;
        // SAFETY: forwarded contract; a valid out-pointer.
        unit(unsafe { mp_sem_get_value(mem.cast(), &mut v) })?;
        // SAFETY: the library accepted `mem`, so it is not NULL.
        let ptr = unsafe { NonNull::new_unchecked(mem.cast()) };
        Ok(Semaphore {
            ptr,
            life: Life::InPlace,
        })
    }

    /// Takes one unit, waiting until `deadline`: `Outcome::Ok`, `Outcome::Timeout`, or
    /// [`Error::Interrupted`] (nothing taken).
    #[inline]
    pub fn acquire(&self, deadline: impl Into<Deadline>) -> Result<Outcome, Error> {
        let ms = deadline.into().timeout_ms();
        // SAFETY: a live handle.
        result(unsafe { mp_sem_acquire(self.ptr.as_ptr(), true, ms) })
    }

    /// Returns one unit; [`Error::Overflow`] if already at the bound (nothing changes).
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
}

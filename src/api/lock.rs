//! [`Lock`]: `multiprocessing.Lock`, a lock without an owner.

use core::ptr::NonNull;

use super::error::{result, unit};
use super::{Deadline, Error, Life, OpenOptions, Outcome, c_name, object_handle};
use crate::ffi::lock::{
    MP_LOCK_ALIGN, MP_LOCK_SIZE, mp_lock_acquire, mp_lock_close, mp_lock_destroy, mp_lock_init,
    mp_lock_is_locked, mp_lock_new, mp_lock_open, mp_lock_release, mp_lock_t,
};

/// A non-recursive lock that any thread of any process may release (a binary
/// semaphore, as `multiprocessing.Lock`); the C type `mp_lock_t`.
///
/// ```
/// use mpsync::{Deadline, Lock, Outcome};
/// let lock = Lock::new()?;
/// assert_eq!(lock.acquire(Deadline::forever())?, Outcome::Ok);
/// assert_eq!(lock.acquire(Deadline::now())?, Outcome::Timeout);
/// lock.release()?;
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct Lock {
    ptr: NonNull<mp_lock_t>,
    life: Life,
}

object_handle!(Lock, mp_lock_t, mp_lock_close, mp_lock_destroy);

impl Lock {
    /// Size in bytes of the in-place object (`MP_LOCK_SIZE`).
    pub const SIZE: usize = MP_LOCK_SIZE;
    /// Required alignment of the in-place object (`MP_LOCK_ALIGN`).
    pub const ALIGN: usize = MP_LOCK_ALIGN;

    /// An unlocked lock in a new anonymous shared mapping, inherited by `fork()`ed
    /// children (`mp_lock_new`).
    pub fn new() -> Result<Lock, Error> {
        // SAFETY: a valid out-pointer.
        Self::mapped_by(|out| unsafe { mp_lock_new(out) })
    }

    /// Opens, or creates unlocked, the lock called `name` (`mp_lock_open`).
    pub fn open(name: &str, options: &OpenOptions) -> Result<Lock, Error> {
        let name = c_name(name)?;
        // SAFETY: a NUL-terminated name and a valid out-pointer.
        Self::mapped_by(|out| unsafe {
            mp_lock_open(name.as_ptr(), options.flags(), options.mode_bits(), out)
        })
    }

    /// Initialises an unlocked lock at `mem` (`mp_lock_init`); [`Error::Invalid`] if
    /// `mem` is NULL or not [`Lock::ALIGN`]-aligned.
    ///
    /// # Safety
    /// `mem` points to [`Lock::SIZE`] writable bytes (in a `MAP_SHARED` mapping to share
    /// the lock) that stay valid while any handle to them lives, and no thread uses a
    /// lock there.
    pub unsafe fn init_at(mem: *mut u8) -> Result<Lock, Error> {
        // SAFETY: forwarded contract.
        Self::in_place_after(mem, unsafe { mp_lock_init(mem.cast()) })
    }

    /// A handle on a lock that someone already initialised at `mem` (e.g. another
    /// process, through the C ABI); [`Error::BadObject`] if `mem` holds none.
    ///
    /// # Safety
    /// `mem` points to [`Lock::SIZE`] readable bytes that stay valid while the handle
    /// lives.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<Lock, Error> {
        let mut locked = false;
        // SAFETY: forwarded contract; a valid out-pointer.
        Self::in_place_after(mem, unsafe { mp_lock_is_locked(mem.cast(), &mut locked) })
    }

    /// Acquires the lock, waiting until `deadline`: `Outcome::Ok` or
    /// `Outcome::Timeout`, or [`Error::Interrupted`] (nothing acquired).
    #[inline]
    pub fn acquire(&self, deadline: impl Into<Deadline>) -> Result<Outcome, Error> {
        let ms = deadline.into().timeout_ms();
        // SAFETY: a live handle.
        result(unsafe { mp_lock_acquire(self.ptr.as_ptr(), true, ms) })
    }

    /// Releases the lock; any thread of any process may. [`Error::Overflow`] if it was
    /// not locked (nothing changes).
    #[inline]
    pub fn release(&self) -> Result<(), Error> {
        // SAFETY: a live handle.
        unit(unsafe { mp_lock_release(self.ptr.as_ptr()) })
    }

    /// Whether the lock is held right now (a snapshot).
    pub fn is_locked(&self) -> Result<bool, Error> {
        let mut locked = false;
        // SAFETY: a live handle and a valid out-pointer.
        unit(unsafe { mp_lock_is_locked(self.ptr.as_ptr(), &mut locked) })?;
        Ok(locked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn acquire_release_and_overflow() {
        let lock = Lock::new().unwrap();
        assert_eq!(lock.acquire(Deadline::forever()), Ok(Outcome::Ok));
        assert!(lock.is_locked().unwrap());
        assert_eq!(
            lock.acquire(std::time::Duration::from_millis(20)),
            Ok(Outcome::Timeout)
        );
        lock.release().unwrap();
        assert_eq!(lock.release(), Err(Error::Overflow));
        lock.close().unwrap();
    }

    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn in_place_lock_is_destroyed_explicitly() {
        #[repr(C, align(8))]
        struct Mem([u8; Lock::SIZE]);
        let mut mem = Mem([0; Lock::SIZE]);
        // SAFETY: `mem` outlives both handles.
        let lock = unsafe { Lock::init_at(mem.0.as_mut_ptr()) }.unwrap();
        // SAFETY: as above.
        let again = unsafe { Lock::attach_at(mem.0.as_mut_ptr()) }.unwrap();
        assert_eq!(lock.acquire(Deadline::now()), Ok(Outcome::Ok));
        assert!(again.is_locked().unwrap());
        drop(again);
        // SAFETY: no other handle uses it afterwards.
        let (lock, e) = unsafe { lock.destroy() }.unwrap_err();
        assert_eq!(e, Error::Busy);
        lock.release().unwrap();
        // SAFETY: as above.
        unsafe { lock.destroy() }.unwrap();
        // SAFETY: `mem` is still valid.
        assert_eq!(
            unsafe { Lock::attach_at(mem.0.as_mut_ptr()) }.unwrap_err(),
            Error::BadObject
        );
    }
}

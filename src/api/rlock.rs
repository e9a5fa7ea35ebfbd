//! [`RLock`]: `multiprocessing.RLock`, recursive and owned, with owner-death reports;
//! [`ArrayLock`]: the RLock embedded in a synchronized [`SharedArray`].

use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;

use super::error::{result, unit};
use super::{Deadline, Error, Life, OpenOptions, Outcome, SharedArray, c_name, object_handle};
use crate::ffi::rlock::{
    MP_RLOCK_ALIGN, MP_RLOCK_SIZE, mp_rlock_acquire, mp_rlock_close, mp_rlock_count,
    mp_rlock_destroy, mp_rlock_init, mp_rlock_is_locked, mp_rlock_is_mine,
    mp_rlock_mark_consistent, mp_rlock_new, mp_rlock_open, mp_rlock_release, mp_rlock_t,
};

/// A recursive lock owned by one thread of one process (the C type `mp_rlock_t`). If
/// its owner dies holding it (exit, `SIGKILL`, `exec`), the next acquirer gets it with
/// [`Outcome::OwnerDead`].
///
/// ```
/// use mpsync::{Deadline, Error, Outcome, RLock};
/// let lock = RLock::new()?;
/// assert_eq!(lock.acquire(Deadline::forever())?, Outcome::Ok);
/// assert_eq!(lock.acquire(Deadline::now())?, Outcome::Ok); // re-entered
/// assert_eq!(lock.count()?, 2);
/// lock.release()?;
/// lock.release()?;
/// assert_eq!(lock.release(), Err(Error::NotOwner));
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct RLock {
    ptr: NonNull<mp_rlock_t>,
    life: Life,
}

object_handle!(RLock, mp_rlock_t, mp_rlock_close, mp_rlock_destroy);

impl RLock {
    /// Size in bytes of the in-place object (`MP_RLOCK_SIZE`).
    pub const SIZE: usize = MP_RLOCK_SIZE;
    /// Required alignment of the in-place object (`MP_RLOCK_ALIGN`).
    pub const ALIGN: usize = MP_RLOCK_ALIGN;

    /// An unowned RLock in a new anonymous shared mapping, inherited by `fork()`ed
    /// children (a child never owns its parent's lock) (`mp_rlock_new`).
    pub fn new() -> Result<RLock, Error> {
        // SAFETY: a valid out-pointer.
        Self::mapped_by(|out| unsafe { mp_rlock_new(out) })
    }

    /// Opens, or creates unowned, the RLock called `name` (`mp_rlock_open`).
    pub fn open(name: &str, options: &OpenOptions) -> Result<RLock, Error> {
        let name = c_name(name)?;
        // SAFETY: a NUL-terminated name and a valid out-pointer.
        Self::mapped_by(|out| unsafe {
            mp_rlock_open(name.as_ptr(), options.flags(), options.mode_bits(), out)
        })
    }

    /// Initialises an unowned RLock at `mem` (`mp_rlock_init`).
    ///
    /// # Safety
    /// `mem` points to [`RLock::SIZE`] writable bytes, [`RLock::ALIGN`]-aligned, that
    /// stay valid while any handle to them lives and while any thread holds the lock;
    /// no thread uses a lock there.
    pub unsafe fn init_at(mem: *mut u8) -> Result<RLock, Error> {
        // SAFETY: forwarded contract.
        Self::in_place_after(mem, unsafe { mp_rlock_init(mem.cast()) })
    }

    /// A handle on an RLock already initialised at `mem`; [`Error::BadObject`] if
    /// `mem` holds none.
    ///
    /// # Safety
    /// As [`RLock::init_at`], except that the memory need only be readable now.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<RLock, Error> {
        let mut count = 0;
        // SAFETY: forwarded contract; a valid out-pointer.
        Self::in_place_after(mem, unsafe { mp_rlock_count(mem.cast(), &mut count) })
    }

    /// Acquires the lock or re-enters it (no waiting then), until `deadline`:
    /// `Outcome::Ok`, `Outcome::OwnerDead` (acquired; the previous owner died holding
    /// it), `Outcome::Timeout`; [`Error::Interrupted`] (nothing acquired),
    /// [`Error::Overflow`] (recursion limit).
    #[inline]
    pub fn acquire(&self, deadline: impl Into<Deadline>) -> Result<Outcome, Error> {
        let ms = deadline.into().timeout_ms();
        // SAFETY: a live handle.
        result(unsafe { mp_rlock_acquire(self.ptr.as_ptr(), true, ms) })
    }

    /// Releases one recursion level; [`Error::NotOwner`] if the calling thread does not
    /// own the lock.
    #[inline]
    pub fn release(&self) -> Result<(), Error> {
        // SAFETY: a live handle.
        unit(unsafe { mp_rlock_release(self.ptr.as_ptr()) })
    }

    /// Whether the calling thread owns the lock.
    pub fn is_mine(&self) -> Result<bool, Error> {
        let mut mine = false;
        // SAFETY: a live handle and a valid out-pointer.
        unit(unsafe { mp_rlock_is_mine(self.ptr.as_ptr(), &mut mine) })?;
        Ok(mine)
    }

    /// Whether any thread of any process holds the lock (`mp_rlock_is_locked`: a
    /// snapshot that only reads, so it never takes an owner-death report).
    pub fn is_locked(&self) -> Result<bool, Error> {
        let mut locked = false;
        // SAFETY: a live handle and a valid out-pointer.
        unit(unsafe { mp_rlock_is_locked(self.ptr.as_ptr(), &mut locked) })?;
        Ok(locked)
    }

    /// The recursion level if the calling thread owns the lock, else 0.
    pub fn count(&self) -> Result<u32, Error> {
        let mut count = 0;
        // SAFETY: a live handle and a valid out-pointer.
        unit(unsafe { mp_rlock_count(self.ptr.as_ptr(), &mut count) })?;
        Ok(count)
    }

    /// Declares the protected data repaired after an owner death (for the lock of a
    /// synchronized array, ends the sticky `OwnerDead`); the calling thread must hold
    /// the lock ([`Error::NotOwner`] otherwise).
    pub fn mark_consistent(&self) -> Result<(), Error> {
        // SAFETY: a live handle.
        unit(unsafe { mp_rlock_mark_consistent(self.ptr.as_ptr()) })
    }
}

/// The RLock embedded in a synchronized [`SharedArray`], borrowed from it (see
/// [`SharedArray::lock`]): use it as an [`RLock`]; it is never closed on its own.
pub struct ArrayLock<'a> {
    lock: core::mem::ManuallyDrop<RLock>,
    _array: PhantomData<&'a SharedArray>,
}

impl ArrayLock<'_> {
    /// # Safety
    /// `ptr` is the embedded lock of an array that outlives `'a`.
    pub(crate) unsafe fn new(ptr: NonNull<mp_rlock_t>) -> Self {
        ArrayLock {
            // In place: its drop would do nothing anyway; ManuallyDrop makes it explicit.
            lock: core::mem::ManuallyDrop::new(RLock {
                ptr,
                life: Life::InPlace,
            }),
            _array: PhantomData,
        }
    }
}

impl Deref for ArrayLock<'_> {
    type Target = RLock;
    fn deref(&self) -> &RLock {
        &self.lock
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tests_fork::in_child;

    #[test]
    #[cfg_attr(miri, ignore = "forks")]
    fn a_killed_owner_is_reported_to_the_next_acquirer() {
        let lock = RLock::new().unwrap();
        let pid = in_child(|| {
            assert_eq!(lock.acquire(Deadline::forever()), Ok(Outcome::Ok));
            // SAFETY: ends the child at once, holding the lock.
            unsafe { libc::raise(libc::SIGKILL) };
            0
        });
        crate::api::tests_fork::wait_for(pid, Some(libc::SIGKILL));
        assert_eq!(
            lock.acquire(std::time::Duration::from_secs(10)),
            Ok(Outcome::OwnerDead)
        );
        assert!(lock.is_mine().unwrap());
        lock.release().unwrap();
        assert_eq!(lock.acquire(Deadline::now()), Ok(Outcome::Ok));
        // Dropping a held lock's handle cannot close it: `close` hands it back.
        let (lock, e) = lock.close().unwrap_err();
        assert_eq!(e, Error::Busy);
        lock.release().unwrap();
        lock.close().unwrap();
    }

    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn named_rlock_is_shared_by_name() {
        let name = format!("mpsync-api-rlock-{}", std::process::id());
        let opts = OpenOptions::new().create(true).exclusive(true);
        let a = RLock::open(&name, &opts).unwrap();
        assert_eq!(RLock::open(&name, &opts).unwrap_err(), Error::Exists);
        let b = RLock::open(&name, &OpenOptions::new()).unwrap();
        assert_eq!(a.acquire(Deadline::now()), Ok(Outcome::Ok));
        assert_eq!(b.count(), Ok(1)); // same thread, same lock
        a.release().unwrap();
        crate::unlink(&name).unwrap();
        assert_eq!(
            RLock::open(&name, &OpenOptions::new()).unwrap_err(),
            Error::NotFound
        );
        assert_eq!(
            crate::Lock::open(&name, &OpenOptions::new()).unwrap_err(),
            Error::NotFound
        );
    }
}

//! [`Condition`]: `multiprocessing.Condition`, used with an [`RLock`] or a [`Lock`].

use core::ptr::NonNull;

use super::error::{result, unit};
use super::{Deadline, Error, Life, Lock, OpenOptions, Outcome, RLock, c_name, object_handle};
use crate::ffi::cond::{
    MP_COND_ALIGN, MP_COND_SIZE, mp_cond_close, mp_cond_destroy, mp_cond_init, mp_cond_n_waiting,
    mp_cond_new, mp_cond_notify, mp_cond_notify_all, mp_cond_open, mp_cond_t, mp_cond_wait,
    mp_cond_wait_lock,
};

/// A condition variable (the C type `mp_cond_t`). The lock is passed to each wait, as
/// with `pthread_cond_wait`; notifying never blocks, even on a waiter that died.
///
/// ```
/// use mpsync::{Condition, Deadline, Outcome, RLock};
/// let lock = RLock::new()?;
/// let cond = Condition::new()?;
/// lock.acquire(Deadline::forever())?;
/// let waited = cond.wait(&lock, std::time::Duration::from_millis(10))?;
/// assert_eq!(waited, Outcome::Timeout); // nobody notified; the lock is held again
/// lock.release()?;
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct Condition {
    ptr: NonNull<mp_cond_t>,
    life: Life,
}

object_handle!(Condition, mp_cond_t, mp_cond_close, mp_cond_destroy);

impl Condition {
    /// Size in bytes of the in-place object (`MP_COND_SIZE`).
    pub const SIZE: usize = MP_COND_SIZE;
    /// Required alignment of the in-place object (`MP_COND_ALIGN`).
    pub const ALIGN: usize = MP_COND_ALIGN;

    /// A condition in a new anonymous shared mapping, inherited by `fork()`ed children.
    pub fn new() -> Result<Condition, Error> {
        // SAFETY: a valid out-pointer.
        Self::mapped_by(|out| unsafe { mp_cond_new(out) })
    }

    /// Opens, or creates, the condition called `name` (its lock is a separate object,
    /// opened by its own name).
    pub fn open(name: &str, options: &OpenOptions) -> Result<Condition, Error> {
        let name = c_name(name)?;
        // SAFETY: a NUL-terminated name and a valid out-pointer.
        Self::mapped_by(|out| unsafe {
            mp_cond_open(name.as_ptr(), options.flags(), options.mode_bits(), out)
        })
    }

    /// Initialises a condition at `mem` (`mp_cond_init`).
    ///
    /// # Safety
    /// `mem` points to [`Condition::SIZE`] writable bytes, [`Condition::ALIGN`]-aligned,
    /// that stay valid while any handle to them lives; nobody uses a condition there.
    pub unsafe fn init_at(mem: *mut u8) -> Result<Condition, Error> {
        // SAFETY: forwarded contract.
        Self::in_place_after(mem, unsafe { mp_cond_init(mem.cast()) })
    }

    /// A handle on a condition already initialised at `mem`; [`Error::BadObject`] if
    /// `mem` holds none.
    ///
    /// # Safety
    /// `mem` points to [`Condition::SIZE`] readable bytes that stay valid while the
    /// handle lives.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<Condition, Error> {
        // Notifying nobody checks the object and changes nothing.
        // SAFETY: forwarded contract.
        Self::in_place_after(mem, unsafe { mp_cond_notify(mem.cast(), 0) })
    }

    /// Waits for a notification with `lock` held by the calling thread: releases all
    /// its levels, sleeps until notified, `deadline` or a signal handler, then takes
    /// the lock back (levels restored) and returns `Outcome::Ok` (notified),
    /// `Outcome::Timeout`, `Outcome::OwnerDead` (re-acquiring found the lock's owner
    /// dead) or [`Error::Interrupted`] (the lock is held again: retry). Errors that
    /// change nothing: [`Error::NotOwner`], [`Error::Overflow`] (too many waiters).
    pub fn wait(&self, lock: &RLock, deadline: impl Into<Deadline>) -> Result<Outcome, Error> {
        let ms = deadline.into().timeout_ms();
        // SAFETY: live handles.
        result(unsafe { mp_cond_wait(self.ptr.as_ptr(), lock.as_ptr(), ms) })
    }

    /// [`Condition::wait`] with a [`Lock`], which must be locked ([`Error::NotOwner`]
    /// otherwise).
    pub fn wait_lock(&self, lock: &Lock, deadline: impl Into<Deadline>) -> Result<Outcome, Error> {
        let ms = deadline.into().timeout_ms();
        // SAFETY: live handles.
        result(unsafe { mp_cond_wait_lock(self.ptr.as_ptr(), lock.as_ptr(), ms) })
    }

    /// Wakes up to `n` of the threads waiting now (oldest first).
    pub fn notify(&self, n: u32) -> Result<(), Error> {
        // SAFETY: a live handle.
        unit(unsafe { mp_cond_notify(self.ptr.as_ptr(), n) })
    }

    /// Wakes every thread waiting now.
    pub fn notify_all(&self) -> Result<(), Error> {
        // SAFETY: a live handle.
        unit(unsafe { mp_cond_notify_all(self.ptr.as_ptr()) })
    }

    /// How many threads wait for a notification that no notify has picked yet (a
    /// snapshot; `mp_cond_n_waiting`): a picked thread no longer counts, even before it
    /// has its lock back; a waiter that died counts until a notify picks it.
    pub fn n_waiting(&self) -> Result<u32, Error> {
        let mut v = 0;
        // SAFETY: a live handle and a valid out-pointer.
        unit(unsafe { mp_cond_n_waiting(self.ptr.as_ptr(), &mut v) })?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tests_fork::{in_child, wait_for};
    use crate::{ElemType, SharedArray};
    use std::time::Duration;

    /// A fork child notifies the parent through a condition and an RLock, and the
    /// parent sees the child's write.
    #[test]
    #[cfg_attr(miri, ignore = "forks")]
    fn a_child_notifies_the_parent() {
        let lock = RLock::new().unwrap();
        let cond = Condition::new().unwrap();
        let flag = SharedArray::new(ElemType::Int, 1, false).unwrap();
        lock.acquire(Deadline::forever()).unwrap();
        assert_eq!(cond.n_waiting(), Ok(0));
        let pid = in_child(|| {
            lock.acquire(Deadline::forever()).unwrap();
            // The parent let go of the lock only by waiting, and nobody notified it.
            let waiting = cond.n_waiting().unwrap();
            flag.set(0, &1i32.to_ne_bytes()).unwrap();
            cond.notify_all().unwrap();
            let after = cond.n_waiting().unwrap();
            lock.release().unwrap();
            if (waiting, after) == (1, 0) { 0 } else { 1 }
        });
        let mut v = [0u8; 4];
        loop {
            flag.get(0, &mut v).unwrap();
            if i32::from_ne_bytes(v) == 1 {
                break;
            }
            let o = cond.wait(&lock, Duration::from_secs(30)).unwrap();
            assert_ne!(o, Outcome::Timeout);
        }
        lock.release().unwrap();
        wait_for(pid, None);
        assert_eq!(cond.wait(&lock, Deadline::now()), Err(Error::NotOwner));
    }
}

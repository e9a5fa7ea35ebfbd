//! [`Condition`]: `multiprocessing.Condition`, used with an [`RLock`] or a [`Lock`].

use core::ptr::NonNull;

use super::deadline::Deadline;
use super::error::{Error, Outcome, split};
use super::handle::{Life, object_handle, plain_constructors, raw_methods};
use super::lock::Lock;
use super::rlock::RLock;
use crate::raw::cond::RawCond;

/// A condition variable (the C type `mp_cond_t`, what [`Condition::as_ptr`] points to).
/// The lock is passed to each wait, as
/// with `pthread_cond_wait`; notifying never blocks, even on a waiter that died. The
/// lock is a separate object: a named condition's lock is opened by its own name.
///
/// ```
/// use mpsync::{Condition, Deadline, Outcome, RLock};
/// let lock = RLock::new()?;
/// let cond = Condition::new()?;
/// let held = lock.acquire(Deadline::forever())?.expect("no deadline");
/// let waited = cond.wait(&lock, std::time::Duration::from_millis(10))?;
/// assert_eq!(waited, Outcome::Timeout); // nobody notified; the lock is held again
/// drop(held); // released
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct Condition {
    ptr: NonNull<RawCond>,
    life: Life,
}

object_handle!(Condition, RawCond);
plain_constructors!(
    Condition,
    RawCond,
    RawCond::init,
    c = "cond",
    C = "COND",
    noun = "condition",
    fresh = "nobody waiting"
);

impl Condition {
    /// Waits for a notification with `lock` held by the calling thread: releases all
    /// its levels, sleeps until notified, `deadline` or a signal handler, then takes
    /// the lock back (levels restored) and returns `Outcome::Ok` (notified),
    /// `Outcome::Timeout`, `Outcome::OwnerDead` (re-acquiring found the lock's owner
    /// dead) or [`Error::Interrupted`] (the lock is held again: retry). Errors that
    /// change nothing: [`Error::NotOwner`], [`Error::Overflow`] (too many waiters).
    pub fn wait(&self, lock: &RLock, deadline: impl Into<Deadline>) -> Result<Outcome, Error> {
        self.wait_until(lock, deadline.into())
    }

    /// [`Condition::wait`] past its generic face: monomorphic and not inline (see the
    /// `handle` module docs).
    fn wait_until(&self, lock: &RLock, deadline: Deadline) -> Result<Outcome, Error> {
        // The deadline first (it counts from the call), then both objects (the
        // condition first), as the C ABI's `mp_cond_wait`.
        let cond = self.raw()?;
        split(cond.wait(lock.raw()?, &deadline.0))
    }

    /// [`Condition::wait`] with a [`Lock`], which must be locked ([`Error::NotOwner`]
    /// otherwise).
    pub fn wait_lock(&self, lock: &Lock, deadline: impl Into<Deadline>) -> Result<Outcome, Error> {
        self.wait_lock_until(lock, deadline.into())
    }

    /// [`Condition::wait_lock`] past its generic face: monomorphic and not inline (see the
    /// `handle` module docs).
    fn wait_lock_until(&self, lock: &Lock, deadline: Deadline) -> Result<Outcome, Error> {
        let cond = self.raw()?;
        split(cond.wait(lock.raw()?, &deadline.0))
    }

    /// Wakes up to `n` of the threads waiting now (oldest first).
    pub fn notify(&self, n: u32) -> Result<(), Error> {
        self.raw()?.notify(n);
        Ok(())
    }

    raw_methods! {
        /// Wakes every thread waiting now.
        fn notify_all();
        /// How many threads wait for a notification that no notify has picked yet (a
        /// snapshot; `mp_cond_n_waiting`): a picked thread no longer counts, even before it
        /// has its lock back; a waiter that died counts until a notify picks it.
        fn n_waiting -> u32 = n_waiting;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::array::{ElemType, SharedArray};
    use crate::api::tests_fork::{in_child, wait_for};
    use std::time::Duration;

    /// A fork child notifies the parent through a condition and an RLock, and the
    /// parent sees the child's write.
    #[test]
    #[cfg_attr(miri, ignore = "forks")]
    fn a_child_notifies_the_parent() {
        let lock = RLock::new().unwrap();
        let cond = Condition::new().unwrap();
        let flag = SharedArray::new(ElemType::Int, 1, false).unwrap();
        lock.acquire_unguarded(Deadline::forever()).unwrap();
        assert_eq!(cond.n_waiting(), Ok(0));
        let pid = in_child(|| {
            lock.acquire_unguarded(Deadline::forever()).unwrap();
            // The parent let go of the lock only by waiting, and nobody notified it.
            let waiting = cond.n_waiting().unwrap();
            flag.set(0, 1i32).unwrap();
            cond.notify_all().unwrap();
            let after = cond.n_waiting().unwrap();
            lock.release().unwrap();
            if (waiting, after) == (1, 0) { 0 } else { 1 }
        });
        loop {
            if flag.get::<i32>(0).unwrap() == 1 {
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

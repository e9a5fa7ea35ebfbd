//! [`Lock`]: `multiprocessing.Lock`, a lock without an owner.

use core::ptr::NonNull;

use super::guard::{AnyThread, Guard, acquire_methods, guard_kind};
use super::handle::{Life, object_handle, plain_constructors, raw_methods};
use crate::raw::lock::RawLock;

/// A non-recursive lock that any thread of any process may release (a binary
/// semaphore, as `multiprocessing.Lock`); the C type `mp_lock_t` (what
/// [`Lock::as_ptr`] points to).
///
/// [`Lock::acquire`] returns a [`LockGuard`] that releases the lock when dropped, so an
/// early return (`?`) never leaves it held:
///
/// ```
/// use mpsync::{Deadline, Lock};
/// let lock = Lock::new()?;
/// {
///     let _guard = lock.acquire(Deadline::forever())?.expect("no deadline");
///     assert!(lock.is_locked()?);
///     assert!(lock.acquire(Deadline::now())?.is_none()); // timed out: not reentrant
/// } // released here
/// assert!(!lock.is_locked()?);
/// # Ok::<(), mpsync::Error>(())
/// ```
///
/// [`Lock::acquire_unguarded`] and [`Lock::release`] are the same operations without a
/// guard, for code that releases in another call (a binding's `release()` method), in
/// another thread or in another process.
pub struct Lock {
    ptr: NonNull<RawLock>,
    life: Life,
}

object_handle!(Lock, RawLock);
plain_constructors!(
    Lock,
    RawLock,
    RawLock::init,
    c = "lock",
    C = "LOCK",
    noun = "lock",
    fresh = "unlocked"
);

impl Lock {
    acquire_methods!(
        Lock,
        /// Acquires the lock, waiting until `deadline`: `Some(guard)`, which releases it
        /// when dropped, or `None` if the deadline passed first; [`Error::Interrupted`](crate::Error::Interrupted) if a
        /// signal handler ran (nothing acquired: call again with the same deadline).
        ///
        /// ```
        /// use mpsync::{Error, Lock};
        /// use std::time::Duration;
        ///
        /// fn update(lock: &Lock) -> Result<(), Error> {
        ///     let Some(_guard) = lock.acquire(Duration::from_secs(1))? else {
        ///         return Err(Error::Busy); // timed out
        ///     };
        ///     // ... critical section; an early `?` here releases the lock too ...
        ///     Ok(())
        /// }
        /// let lock = Lock::new()?;
        /// update(&lock)?;
        /// assert!(!lock.is_locked()?);
        /// # Ok::<(), mpsync::Error>(())
        /// ```
        fn acquire -> LockGuard;
        /// Acquires the lock without a guard: `Outcome::Ok` or `Outcome::Timeout`, or
        /// [`Error::Interrupted`](crate::Error::Interrupted) (nothing acquired). The caller releases it with
        /// [`Lock::release`]; for bindings and for code that releases it elsewhere (a
        /// `Lock` may be released by any thread of any process).
        ///
        /// ```
        /// use mpsync::{Deadline, Lock, Outcome};
        /// let lock = Lock::new()?;
        /// assert_eq!(lock.acquire_unguarded(Deadline::forever())?, Outcome::Ok);
        /// assert_eq!(lock.acquire_unguarded(Deadline::now())?, Outcome::Timeout);
        /// std::thread::scope(|s| s.spawn(|| lock.release()).join().unwrap())?;
        /// assert!(!lock.is_locked()?);
        /// # Ok::<(), mpsync::Error>(())
        /// ```
        fn acquire_unguarded;
    );

    raw_methods! {
        /// Releases the lock; any thread of any process may. [`Error::Overflow`](crate::Error::Overflow) if it was
        /// not locked (nothing changes). The pair of [`Lock::acquire_unguarded`]: a
        /// [`LockGuard`] calls it when dropped.
        fn release() -> Status;
        /// Whether the lock is held right now (a snapshot).
        fn is_locked -> bool = is_locked;
    }
}

/// The proof that a [`Lock`] is held, from [`Lock::acquire`]: dropping it releases the
/// lock. A failed release cannot be returned from `drop`; it is written to standard
/// error (one line), and happens only if the program released the lock itself while
/// the guard lived ([`Lock::release`] by any thread or process), or destroyed it.
/// `std::mem::forget(guard)` keeps the lock held (release it later with
/// [`Lock::release`]).
///
/// ```
/// use mpsync::{Deadline, Lock};
/// let lock = Lock::new()?;
/// let guard = lock.acquire(Deadline::forever())?.expect("no deadline");
/// assert!(guard.lock().is_locked()?);
/// drop(guard);
/// assert!(!lock.is_locked()?);
/// // Handing the lock over to another thread, which releases it:
/// std::mem::forget(lock.acquire(Deadline::now())?.expect("free"));
/// std::thread::scope(|s| s.spawn(|| lock.release()).join().unwrap())?;
/// # Ok::<(), mpsync::Error>(())
/// ```
pub type LockGuard<'a> = Guard<'a, Lock>;

guard_kind!(Lock: Lock, "LockGuard", acquire, release, AnyThread, lock);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::deadline::Deadline;
    use crate::api::error::{Error, Outcome};
    use crate::api::options::OpenOptions;

    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn guard_releases_on_drop_and_on_early_return() {
        fn early(lock: &Lock) -> Result<(), Error> {
            let _g = lock.acquire(Deadline::now())?.ok_or(Error::Busy)?;
            "not a number".parse::<u8>().map_err(|_| Error::Invalid)?;
            Ok(())
        }
        let lock = Lock::new().unwrap();
        assert_eq!(early(&lock), Err(Error::Invalid));
        assert!(!lock.is_locked().unwrap());
        let g = lock.acquire(Deadline::now()).unwrap().unwrap();
        assert!(lock.acquire(Deadline::now()).unwrap().is_none());
        drop(g);
        assert!(!lock.is_locked().unwrap());
        // A guard forgotten leaves the lock held for `release`.
        core::mem::forget(lock.acquire(Deadline::now()).unwrap().unwrap());
        assert!(lock.is_locked().unwrap());
        lock.release().unwrap();
        lock.close().unwrap();
    }

    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn created_tells_the_one_creator() {
        let name = format!("api-created-{}", std::process::id());
        let create = OpenOptions::new().create(true);
        for _ in 0..5 {
            let opened: Vec<Lock> = std::thread::scope(|s| {
                let racers: Vec<_> = (0..6)
                    .map(|_| s.spawn(|| Lock::open(&name, &create).unwrap()))
                    .collect();
                racers.into_iter().map(|t| t.join().unwrap()).collect()
            });
            assert_eq!(opened.iter().filter(|l| l.created()).count(), 1);
            assert!(!Lock::open(&name, &OpenOptions::new()).unwrap().created());
            crate::unlink(&name).unwrap();
        }
        assert!(Lock::new().unwrap().created());
    }

    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn acquire_release_and_overflow() {
        let lock = Lock::new().unwrap();
        assert_eq!(lock.acquire_unguarded(Deadline::forever()), Ok(Outcome::Ok));
        assert!(lock.is_locked().unwrap());
        assert_eq!(
            lock.acquire_unguarded(std::time::Duration::from_millis(20)),
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
        assert_eq!(lock.acquire_unguarded(Deadline::now()), Ok(Outcome::Ok));
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

    extern "C" fn on_signal(_: libc::c_int) {}

    /// The deadline is absolute and reaches the state machine as it is: a signal handler
    /// interrupts the wait with `Error::Interrupted`, and retrying with the same deadline
    /// waits for the time left only (the whole loop ends at the deadline, never before).
    #[test]
    #[cfg_attr(miri, ignore = "signals")]
    fn interrupted_acquire_resumes_with_the_same_deadline() {
        use std::time::{Duration, Instant};
        // SAFETY: a handler that does nothing, installed without SA_RESTART so that
        // the wait sees EINTR; SIGWINCH is used by no other test.
        unsafe {
            let mut sa: libc::sigaction = core::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(
                libc::sigaction(libc::SIGWINCH, &sa, core::ptr::null_mut()),
                0
            );
        }
        let lock = Lock::new().unwrap();
        assert_eq!(lock.acquire_unguarded(Deadline::now()), Ok(Outcome::Ok));
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() } as usize;
        let poker = std::thread::spawn(move || {
            for _ in 0..3 {
                std::thread::sleep(Duration::from_millis(100));
                // SAFETY: the test thread is alive until it joins this thread.
                unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGWINCH) };
            }
        });
        let start = Instant::now();
        let deadline = Deadline::after(Duration::from_millis(400));
        let mut interrupted = 0;
        let outcome = loop {
            match lock.acquire_unguarded(deadline) {
                Err(Error::Interrupted) => interrupted += 1,
                other => break other,
            }
        };
        let took = start.elapsed();
        poker.join().unwrap();
        assert_eq!(outcome, Ok(Outcome::Timeout));
        assert!(interrupted >= 1, "no interruption seen");
        // Each retry waited for the time left only: the loop ended at the deadline, not
        // 400 ms after the last interruption (which came at about 300 ms).
        assert!(took >= Duration::from_millis(400), "{took:?}");
        assert!(took < Duration::from_millis(650), "{took:?}");
        lock.release().unwrap();
    }
}

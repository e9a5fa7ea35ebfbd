//! [`RLock`]: `multiprocessing.RLock`, recursive and owned, with owner-death reports
//! (the RLock embedded in a synchronized array is `ArrayLock`, in array.rs).

use core::ptr::NonNull;
use std::ffi::CStr;

use super::deadline::Deadline;
use super::error::Error;
use super::guard::{self, Guard, HolderThread, acquire_methods, guard_kind};
use super::handle::{Life, object_handle, raw_methods};
use super::lifecycle;
use super::options::{OpenOptions, c_name};
use crate::raw::header::Lifecycle;
use crate::raw::rlock::{OPT_STICKY, RawRLock};
use crate::status::{MpResult, Status};

/// `flags` bit of an RLock's named open (the C ABI's `MP_RLOCK_STICKY`): a created lock
/// is sticky, and an existing one must be (`BadObj` otherwise). Without it, an open
/// accepts either mode: the mode is the creator's.
pub(crate) const FLAG_STICKY: u32 = 64;

/// The `options` of [`RawRLock::init_with`] for the mode asked for.
pub(crate) fn options_for(sticky: bool) -> u32 {
    if sticky { OPT_STICKY } else { 0 }
}

/// Opens, or with `FLAG_CREATE` creates, the RLock called `name`, in the mode `flags`
/// asks for (see [`FLAG_STICKY`]); both faces' named open. Also returns whether this
/// call created it.
pub(crate) fn open_named(
    name: &CStr,
    flags: u32,
    mode: u32,
) -> MpResult<(NonNull<RawRLock>, bool)> {
    let sticky = flags & FLAG_STICKY != 0;
    let (p, created) = lifecycle::open_named::<RawRLock>(name, flags & !FLAG_STICKY, mode, |l| {
        l.init_with(Lifecycle::Named, options_for(sticky))
    })?;
    // SAFETY: a live mapping of a validated RawRLock, just made by this call.
    if sticky && !unsafe { p.as_ref() }.is_sticky() {
        // SAFETY: the live handle just opened, which nobody else has seen.
        let _ = unsafe { lifecycle::close(p) };
        return Err(Status::BadObj);
    }
    Ok((p, created))
}

/// A recursive lock owned by one thread of one process (the C type `mp_rlock_t`, what
/// [`RLock::as_ptr`] points to). If its owner dies holding it (exit, `SIGKILL`, `exec`),
/// the next acquirer gets it and is told so ([`RLockGuard::owner_died`], or
/// [`Outcome::OwnerDead`](crate::Outcome::OwnerDead) from [`RLock::acquire_unguarded`]).
///
/// [`RLock::acquire`] returns an [`RLockGuard`] that releases one level when dropped:
///
/// ```
/// use mpsync::{Deadline, Error, RLock};
/// let lock = RLock::new()?;
/// {
///     let outer = lock.acquire(Deadline::forever())?.expect("no deadline");
///     let _inner = lock.acquire(Deadline::now())?.expect("re-entered, no wait");
///     assert_eq!(lock.count()?, 2);
///     assert!(!outer.owner_died());
/// } // both levels released here
/// assert_eq!(lock.count()?, 0);
/// assert_eq!(lock.release(), Err(Error::NotOwner));
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct RLock {
    ptr: NonNull<RawRLock>,
    life: Life,
}

object_handle!(RLock, RawRLock);

impl RLock {
    /// Size in bytes of the in-place object (`MP_RLOCK_SIZE`).
    pub const SIZE: usize = RawRLock::SIZE;
    /// Required alignment of the in-place object (`MP_RLOCK_ALIGN`).
    pub const ALIGN: usize = RawRLock::ALIGN;

    /// An unowned RLock in a new anonymous shared mapping, inherited by `fork()`ed
    /// children (a child never owns its parent's lock) (`mp_rlock_new`).
    pub fn new() -> Result<RLock, Error> {
        RLock::anonymous_with(RawRLock::init)
    }

    /// Opens, or creates unowned, the RLock called `name` (`mp_rlock_open`). An existing
    /// lock may be of either mode (see [`RLock::new_sticky`]).
    pub fn open(name: &str, options: &OpenOptions) -> Result<RLock, Error> {
        RLock::named_with(name, options, RawRLock::init)
    }

    /// A *sticky* RLock in a new anonymous shared mapping (`mp_rlock_new_sticky`): once
    /// an owner dies holding it, every acquisition (re-entries included) reports the
    /// death ([`RLockGuard::owner_died`],
    /// [`Outcome::OwnerDead`](crate::Outcome::OwnerDead)) until a holder calls
    /// [`mark_consistent`](RLock::mark_consistent); a holder that releases without it
    /// leaves the lock so. The report cannot be lost to an acquirer that does not repair.
    ///
    /// ```
    /// use mpsync::RLock;
    /// let lock = RLock::new_sticky()?;
    /// assert!(lock.is_sticky()?);
    /// assert!(!RLock::new()?.is_sticky()?);
    /// # Ok::<(), mpsync::Error>(())
    /// ```
    pub fn new_sticky() -> Result<RLock, Error> {
        RLock::anonymous_with(|l, life| l.init_with(life, OPT_STICKY))
    }

    /// [`RLock::open`] of a sticky RLock (`mp_rlock_open` with `MP_RLOCK_STICKY`): one
    /// this call creates is sticky, and an existing lock that is not is
    /// [`Error::BadObject`].
    pub fn open_sticky(name: &str, options: &OpenOptions) -> Result<RLock, Error> {
        let name = c_name(name)?;
        let flags = options.flags() | FLAG_STICKY;
        let (ptr, created) = open_named(&name, flags, options.mode_bits())?;
        Ok(RLock::mapped(ptr, created))
    }

    /// [`RLock::init_at`] of a sticky RLock (`mp_rlock_init_sticky`).
    ///
    /// # Safety
    /// As [`RLock::init_at`].
    pub unsafe fn init_sticky_at(mem: *mut u8) -> Result<RLock, Error> {
        // SAFETY: forwarded contract.
        unsafe { RLock::in_place_with(mem, |l, life| l.init_with(life, OPT_STICKY)) }
    }

    raw_methods! {
        /// Whether the lock is sticky ([`RLock::new_sticky`]; the lock of a synchronized
        /// array is too). Fixed at creation.
        fn is_sticky -> bool = is_sticky;
    }

    /// Initialises an unowned RLock at `mem` (`mp_rlock_init`).
    ///
    /// # Safety
    /// `mem` points to [`RLock::SIZE`] writable bytes, [`RLock::ALIGN`]-aligned, that
    /// stay valid while any handle to them lives and while any thread holds the lock;
    /// no thread uses a lock there.
    pub unsafe fn init_at(mem: *mut u8) -> Result<RLock, Error> {
        // SAFETY: forwarded contract.
        unsafe { RLock::in_place_with(mem, RawRLock::init) }
    }

    /// A handle on an RLock already initialised at `mem`; [`Error::BadObject`] if
    /// `mem` holds none.
    ///
    /// # Safety
    /// As [`RLock::init_at`], except that the memory need only be readable now.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<RLock, Error> {
        // SAFETY: forwarded contract.
        unsafe { RLock::attached(mem) }
    }

    acquire_methods!(
        RLock,
        /// Acquires the lock or re-enters it (no waiting then), until `deadline`:
        /// `Some(guard)`, which releases this level when dropped (its
        /// [`owner_died`](RLockGuard::owner_died) tells whether the previous owner died
        /// holding the lock), or `None` if the deadline passed first; [`Error::Interrupted`]
        /// (nothing acquired: call again with the same deadline), [`Error::Overflow`]
        /// (recursion limit).
        ///
        /// ```
        /// use mpsync::{OpenOptions, RLock};
        /// use std::time::Duration;
        /// # let name = format!("doc-rlock-acquire-{}", std::process::id());
        /// let lock = RLock::open(&name, &OpenOptions::new().create(true))?;
        /// if let Some(guard) = lock.acquire(Duration::from_secs(5))? {
        ///     if guard.owner_died() {
        ///         // repair what the dead owner was changing, then:
        ///         guard.mark_consistent()?;
        ///     }
        ///     // ... critical section ...
        /// } // released here
        /// # mpsync::unlink(&name)?;
        /// # Ok::<(), mpsync::Error>(())
        /// ```
        fn acquire -> RLockGuard;
        /// Acquires the lock or re-enters it without a guard, until `deadline`:
        /// `Outcome::Ok`, `Outcome::OwnerDead` (acquired; the previous owner died holding
        /// it), `Outcome::Timeout`; [`Error::Interrupted`] (nothing acquired),
        /// [`Error::Overflow`] (recursion limit). The calling thread releases it with
        /// [`RLock::release`], e.g. from a binding's separate `release()` call.
        ///
        /// ```
        /// use mpsync::{Deadline, Error, Outcome, RLock};
        /// let lock = RLock::new()?;
        /// assert_eq!(lock.acquire_unguarded(Deadline::forever())?, Outcome::Ok);
        /// assert_eq!(lock.acquire_unguarded(Deadline::now())?, Outcome::Ok); // re-entered
        /// lock.release()?;
        /// lock.release()?;
        /// assert_eq!(lock.release(), Err(Error::NotOwner));
        /// # Ok::<(), mpsync::Error>(())
        /// ```
        fn acquire_unguarded;
    );

    raw_methods! {
        /// Releases one recursion level; [`Error::NotOwner`] if the calling thread does not
        /// own the lock. The pair of [`RLock::acquire_unguarded`]; an [`RLockGuard`] calls
        /// it when dropped.
        fn release() -> Status;
        /// Whether the calling thread owns the lock.
        fn is_mine -> bool = is_mine;
        /// Whether any thread of any process holds the lock (`mp_rlock_is_locked`: a
        /// snapshot that only reads, so it never takes an owner-death report).
        fn is_locked -> bool = is_locked;
        /// The recursion level if the calling thread owns the lock, else 0.
        fn count -> u32 = count;
        /// Declares the protected data repaired after an owner death (for a sticky lock,
        /// [`RLock::new_sticky`] or a synchronized array's, ends the `OwnerDead` reports); the
        /// calling thread must hold the lock ([`Error::NotOwner`] otherwise).
        fn mark_consistent() -> Status;
    }
}

impl RLock {
    /// An in-place handle on the RLock embedded in a synchronized array (what
    /// `ArrayLock` holds, in array.rs).
    ///
    /// # Safety
    /// `ptr` is the embedded lock of an array that outlives the handle.
    pub(super) unsafe fn embedded(ptr: NonNull<RawRLock>) -> RLock {
        RLock::in_place(ptr)
    }

    /// Acquires the lock and makes its guard, for a lifetime the caller chooses (an
    /// `ArrayLock`'s guard borrows the array, not the `ArrayLock`).
    ///
    /// # Safety
    /// The object stays mapped during `'a`.
    pub(super) unsafe fn guarded_for<'a>(
        &self,
        deadline: Deadline,
    ) -> Result<Option<RLockGuard<'a>>, Error> {
        // SAFETY: an in-place copy of this handle; the object stays mapped during 'a
        // (the caller's contract).
        unsafe { guard::acquire_detached(self, RLock::in_place(self.ptr), deadline) }
    }
}

/// The proof that the calling thread holds one level of an [`RLock`] (from
/// [`RLock::acquire`]) or of a synchronized array's lock (from
/// [`ArrayLock::acquire`](crate::ArrayLock::acquire)): dropping it releases that level.
///
/// It is neither `Send` nor `Sync`: the owning thread must release. A failed release
/// cannot be returned from `drop`; it is written to standard error (one line), and
/// happens only if the program released the level itself while the guard lived
/// ([`Error::NotOwner`]) or destroyed the lock. `std::mem::forget(guard)` keeps the level
/// held (release it later with [`RLock::release`], from the same thread).
///
/// ```
/// use mpsync::{Deadline, RLock};
/// let lock = RLock::new()?;
/// let guard = lock.acquire(Deadline::forever())?.expect("no deadline");
/// assert!(!guard.owner_died()); // nobody died holding it
/// assert!(lock.is_mine()?);
/// drop(guard);
/// assert!(!lock.is_locked()?);
/// # Ok::<(), mpsync::Error>(())
/// ```
pub type RLockGuard<'a> = Guard<'a, RLock>;

guard_kind!(RLock: RLock, "RLockGuard", acquire, release, HolderThread);

impl RLockGuard<'_> {
    /// Declares the protected data repaired after an owner death
    /// ([`RLock::mark_consistent`]; for an array's lock, later accesses report
    /// `Outcome::Ok` again).
    pub fn mark_consistent(&self) -> Result<(), Error> {
        self.handle().mark_consistent()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::Outcome;
    use crate::api::tests_fork::in_child;

    #[test]
    #[cfg_attr(miri, ignore = "forks")]
    fn a_killed_owner_is_reported_to_the_next_acquirer() {
        let lock = RLock::new().unwrap();
        let pid = in_child(|| {
            assert_eq!(lock.acquire_unguarded(Deadline::forever()), Ok(Outcome::Ok));
            // SAFETY: ends the child at once, holding the lock.
            unsafe { libc::raise(libc::SIGKILL) };
            0
        });
        crate::api::tests_fork::wait_for(pid, Some(libc::SIGKILL));
        assert_eq!(
            lock.acquire_unguarded(std::time::Duration::from_secs(10)),
            Ok(Outcome::OwnerDead)
        );
        assert!(lock.is_mine().unwrap());
        lock.release().unwrap();
        assert_eq!(lock.acquire_unguarded(Deadline::now()), Ok(Outcome::Ok));
        // Dropping a held lock's handle cannot close it: `close` hands it back.
        let (lock, e) = lock.close().unwrap_err();
        assert_eq!(e, Error::Busy);
        lock.release().unwrap();
        lock.close().unwrap();
    }

    #[test]
    #[cfg_attr(miri, ignore = "forks")]
    fn the_guard_tells_the_owner_death_and_releases_on_drop() {
        let lock = RLock::new().unwrap();
        let pid = in_child(|| {
            core::mem::forget(lock.acquire(Deadline::forever()).unwrap().unwrap());
            // SAFETY: ends the child at once, holding the lock.
            unsafe { libc::raise(libc::SIGKILL) };
            0
        });
        crate::api::tests_fork::wait_for(pid, Some(libc::SIGKILL));
        {
            let g = lock.acquire(std::time::Duration::from_secs(10)).unwrap();
            let g = g.unwrap();
            assert!(g.owner_died());
            let again = lock.acquire(Deadline::now()).unwrap().unwrap();
            assert!(!again.owner_died()); // a re-entry is never told
            assert_eq!(lock.count(), Ok(2));
            g.mark_consistent().unwrap();
        }
        assert_eq!(lock.count(), Ok(0));
        assert!(!lock.is_locked().unwrap());
        let g = lock.acquire(Deadline::now()).unwrap().unwrap();
        assert!(!g.owner_died());
        drop(g);
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
        assert_eq!(a.acquire_unguarded(Deadline::now()), Ok(Outcome::Ok));
        assert_eq!(b.count(), Ok(1)); // same thread, same lock
        a.release().unwrap();
        crate::api::library::unlink(&name).unwrap();
        assert_eq!(
            RLock::open(&name, &OpenOptions::new()).unwrap_err(),
            Error::NotFound
        );
        assert_eq!(
            crate::api::lock::Lock::open(&name, &OpenOptions::new()).unwrap_err(),
            Error::NotFound
        );
    }
}

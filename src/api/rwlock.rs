//! [`RwLock`]: a reader-writer lock shared between processes, whose readers' and
//! writers' deaths are reported (design: docs/rwlock.md).

use core::ptr::NonNull;

use super::error::Error;
use super::guard::{Guard, HolderThread, acquire_methods, guard_kind};
use super::handle::{Life, object_handle, raw_methods};
use super::options::OpenOptions;
use crate::raw::rwlock::{RW_READERS, RawRwLock};

/// A reader-writer lock (the C type `mp_rwlock_t`, what [`RwLock::as_ptr`] points to):
/// any number of readers (up to [`RwLock::READERS`] threads at once) or one writer.
/// Owned by threads: the thread that acquired releases. If a writer or a reader dies
/// holding it (exit, `SIGKILL`, `exec`), its share comes back and one later acquisition
/// is told ([`Outcome::OwnerDead`](crate::Outcome::OwnerDead), or the guards'
/// `owner_died`).
///
/// Fair both ways: a writer waits at most for the readers already in; a writer's
/// release admits the readers that were waiting before the next writer.
///
/// ```
/// use mpsync::{Deadline, Error, RwLock};
/// let lock = RwLock::new()?;
/// {
///     let r1 = lock.read(Deadline::forever())?.expect("no deadline");
///     let _r2 = lock.read(Deadline::now())?.expect("re-entered, no wait");
///     assert_eq!(lock.read_level()?, 2);
///     assert!(!r1.owner_died());
///     // An upgrade is refused, never a silent deadlock:
///     assert_eq!(lock.write(Deadline::forever()).unwrap_err(), Error::Deadlock);
/// }
/// let w = lock.write(Deadline::now())?.expect("free");
/// assert!(lock.is_writer()?);
/// drop(w);
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct RwLock {
    ptr: NonNull<RawRwLock>,
    life: Life,
}

object_handle!(RwLock, RawRwLock);

impl RwLock {
    /// Size in bytes of the in-place object (`MP_RWLOCK_SIZE`).
    pub const SIZE: usize = RawRwLock::SIZE;
    /// Required alignment of the in-place object (`MP_RWLOCK_ALIGN`).
    pub const ALIGN: usize = RawRwLock::ALIGN;
    /// How many threads may hold the read side at once (`MP_RWLOCK_READERS`); one more
    /// gets [`Error::Busy`]. Threads that only wait count for nothing.
    pub const READERS: usize = RW_READERS;

    /// A free lock in a new anonymous shared mapping, inherited by `fork()`ed children
    /// (a child holds nothing of its parent's) (`mp_rwlock_new`).
    pub fn new() -> Result<RwLock, Error> {
        RwLock::anonymous_with(RawRwLock::init)
    }

    /// Opens, or creates free, the lock called `name` (`mp_rwlock_open`).
    pub fn open(name: &str, options: &OpenOptions) -> Result<RwLock, Error> {
        RwLock::named_with(name, options, RawRwLock::init)
    }

    /// Initialises a free lock at `mem` (`mp_rwlock_init`).
    ///
    /// # Safety
    /// `mem` points to [`RwLock::SIZE`] writable bytes, [`RwLock::ALIGN`]-aligned, that
    /// stay valid while any handle to them lives and while any thread holds the lock;
    /// no thread uses a lock there.
    pub unsafe fn init_at(mem: *mut u8) -> Result<RwLock, Error> {
        // SAFETY: forwarded contract.
        unsafe { RwLock::in_place_with(mem, RawRwLock::init) }
    }

    /// A handle on a lock already initialised at `mem`; [`Error::BadObject`] if `mem`
    /// holds none.
    ///
    /// # Safety
    /// As [`RwLock::init_at`], except that the memory need only be readable now.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<RwLock, Error> {
        // SAFETY: forwarded contract.
        unsafe { RwLock::attached(mem) }
    }

    acquire_methods!(
        RwLockRead,
        /// Acquires the read side (or re-enters it: no waiting then, even behind a waiting
        /// writer) until `deadline`: `Some(guard)`, or `None` if the deadline passed first;
        /// [`Error::Interrupted`], [`Error::Busy`] (all reader slots held by other
        /// threads), [`Error::Deadlock`] (the calling thread holds the write side),
        /// [`Error::Overflow`] (re-entry limit).
        fn read -> ReadGuard;
        /// [`RwLock::read`] without a guard: `Outcome::Ok`, `Outcome::OwnerDead`,
        /// `Outcome::Timeout`, or the same errors. Release with [`RwLock::release_read`]
        /// from the same thread.
        fn acquire_read;
    );

    acquire_methods!(
        RwLockWrite,
        /// Acquires the write side until `deadline`: `Some(guard)`, or `None` if the
        /// deadline passed first; [`Error::Interrupted`], [`Error::Deadlock`] (the calling
        /// thread already holds this lock, read or write: an upgrade is refused).
        fn write -> WriteGuard;
        /// [`RwLock::write`] without a guard. Release with [`RwLock::release_write`] from
        /// the same thread.
        fn acquire_write;
    );

    raw_methods! {
        /// Releases one read level; [`Error::NotOwner`] if the calling thread does not hold
        /// the read side.
        fn release_read() -> Status;
        /// Releases the write side; [`Error::NotOwner`] if the calling thread does not hold
        /// it.
        fn release_write() -> Status;
        /// The calling thread's read level (0 if it does not hold the read side).
        fn read_level -> u32 = read_level;
        /// Whether the calling thread holds the write side.
        fn is_writer -> bool = holds_write;
    }
}

/// One read level of an [`RwLock`] held by the calling thread; dropping it releases
/// that level. Neither `Send` nor `Sync`: the holding thread must release. A failed
/// release is written to standard error (one line).
pub type ReadGuard<'a> = Guard<'a, RwLockRead>;

/// The write side of an [`RwLock`] held by the calling thread; dropping it releases it.
/// Neither `Send` nor `Sync`.
pub type WriteGuard<'a> = Guard<'a, RwLockWrite>;

/// The read side of an [`RwLock`], as a guard kind ([`ReadGuard`]).
pub enum RwLockRead {}
/// The write side of an [`RwLock`], as a guard kind ([`WriteGuard`]).
pub enum RwLockWrite {}

guard_kind!(RwLockRead: RwLock, "ReadGuard", acquire_read, release_read, HolderThread);
guard_kind!(RwLockWrite: RwLock, "WriteGuard", acquire_write, release_write, HolderThread);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::deadline::Deadline;
    use crate::api::error::Outcome;
    use crate::api::tests_fork::{in_child, wait_for};
    use std::time::Duration;

    #[test]
    #[cfg_attr(miri, ignore = "forks")]
    fn killed_writer_and_reader_are_each_told_once() {
        let lock = RwLock::new().unwrap();
        for write in [true, false] {
            let pid = in_child(|| {
                let o = if write {
                    lock.acquire_write(Deadline::forever())
                } else {
                    lock.acquire_read(Deadline::forever())
                };
                assert_eq!(o, Ok(Outcome::Ok));
                // SAFETY: ends the child at once, holding the lock.
                unsafe { libc::raise(libc::SIGKILL) };
                0
            });
            wait_for(pid, Some(libc::SIGKILL));
            let g = lock.write(Duration::from_secs(10)).unwrap().unwrap();
            assert!(g.owner_died());
            drop(g);
            let g = lock.read(Deadline::now()).unwrap().unwrap();
            assert!(!g.owner_died());
        }
        // Closing while holding is refused, and hands the handle back.
        let g = lock.acquire_read(Deadline::now()).unwrap();
        assert_eq!(g, Outcome::Ok);
        let (lock, e) = lock.close().unwrap_err();
        assert_eq!(e, Error::Busy);
        lock.release_read().unwrap();
        assert_eq!(lock.release_read(), Err(Error::NotOwner));
        lock.close().unwrap();
    }

    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn named_rwlock_is_shared_by_name() {
        let name = format!("mpsync-api-rwlock-{}", std::process::id());
        let opts = OpenOptions::new().create(true).exclusive(true);
        let a = RwLock::open(&name, &opts).unwrap();
        let b = RwLock::open(&name, &OpenOptions::new()).unwrap();
        let w = a.write(Deadline::now()).unwrap().unwrap();
        assert!(b.is_writer().unwrap());
        drop(w);
        crate::api::library::unlink(&name).unwrap();
        assert_eq!(
            crate::api::rlock::RLock::open(&name, &OpenOptions::new()).unwrap_err(),
            Error::NotFound
        );
    }
}

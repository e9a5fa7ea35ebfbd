//! [`Guard`]: the one guard type behind [`LockGuard`](crate::LockGuard),
//! [`RLockGuard`](crate::RLockGuard), [`SemaphoreGuard`](crate::SemaphoreGuard),
//! [`UndoSemaphoreGuard`](crate::UndoSemaphoreGuard), [`ReadGuard`](crate::ReadGuard) and
//! [`WriteGuard`](crate::WriteGuard) (type aliases), and the one acquire-with-deadline
//! path that makes them (`acquire_methods!`).
//!
//! Who may drop a guard is the kind's: a `Lock`'s or a `Semaphore`'s guard may go to
//! another thread (any thread may release those), the others may not:
//!
//! ```
//! fn send_and_share<T: Send + Sync>(_: &T) {}
//! let lock = mpsync::Lock::new()?;
//! send_and_share(&lock.acquire(mpsync::Deadline::now())?.expect("free"));
//! let sem = mpsync::Semaphore::new(1, 1)?;
//! send_and_share(&sem.acquire(mpsync::Deadline::now())?.expect("free"));
//! # Ok::<(), mpsync::Error>(())
//! ```
//!
//! ```compile_fail
//! fn send<T: Send>(_: &T) {}
//! let lock = mpsync::RLock::new()?;
//! send(&lock.acquire(mpsync::Deadline::now())?.expect("free"));
//! # Ok::<(), mpsync::Error>(())
//! ```
//!
//! ```compile_fail
//! fn send<T: Send>(_: &T) {}
//! let lock = mpsync::RwLock::new()?;
//! send(&lock.read(mpsync::Deadline::now())?.expect("free"));
//! # Ok::<(), mpsync::Error>(())
//! ```
//!
//! Each handle file says, with one `guard_kind!` line, what its guard kind acquires
//! and releases; this file imports none of them (no import cycle, tests/layering.rs).

use core::marker::PhantomData;
use core::mem::ManuallyDrop;

use super::deadline::Deadline;
use super::error::{Error, Outcome};
use super::handle::report_unreleased;

/// What one guard type holds: how its handle is acquired without a guard and released
/// when the guard drops. Implemented by the library's handle types (`guard_kind!`),
/// sealed.
pub trait GuardKind: sealed::Sealed {
    /// The handle the guard holds (`Lock`, `RwLock`, ...).
    type Handle: core::fmt::Debug;
    /// `()` if any thread of any process may release (the guard is `Send` and `Sync`);
    /// `*const ()` if only the thread that acquired may (neither).
    type Releaser;
    /// The guard's public name (its `Debug` and its failed-release report).
    const NAME: &'static str;
    /// Acquires without a guard, until `deadline`: monomorphic and not inline (see the
    /// `handle` module docs).
    fn acquire(handle: &Self::Handle, deadline: Deadline) -> Result<Outcome, Error>;
    /// Releases what one acquisition took.
    fn release(handle: &Self::Handle) -> Result<(), Error>;
}

pub(crate) mod sealed {
    /// Keeps [`GuardKind`](super::GuardKind) to this crate's handles.
    pub trait Sealed {}
}

/// A thread that may release its kind of guard: any (`()`), or only the one that
/// acquired (`*const ()`, which makes the guard neither `Send` nor `Sync`).
pub(crate) type AnyThread = ();
/// See [`AnyThread`].
pub(crate) type HolderThread = *const ();

/// `guard_kind!(Kind: Lock, "LockGuard", acquire, release, AnyThread, lock)`: `Kind`'s
/// guards hold a `Lock`, acquire it with its state machine's `acquire`, release it with
/// the handle's `release`, may be released by any thread, and give the handle back with
/// a method named `lock` (optional).
macro_rules! guard_kind {
    ($kind:ident: $handle:ty, $name:literal, $acquire:ident, $release:ident, $thread:ty
     $(, $get:ident)?) => {
        impl $crate::api::guard::sealed::Sealed for $kind {}

        impl $crate::api::guard::GuardKind for $kind {
            type Handle = $handle;
            type Releaser = $thread;
            const NAME: &'static str = $name;
            fn acquire(
                handle: &$handle,
                deadline: $crate::api::deadline::Deadline,
            ) -> Result<$crate::api::error::Outcome, $crate::api::error::Error> {
                $crate::api::error::split(handle.raw()?.$acquire(deadline.0))
            }
            fn release(handle: &$handle) -> Result<(), $crate::api::error::Error> {
                handle.$release()
            }
        }

        $(
            impl $crate::api::guard::Guard<'_, $kind> {
                #[doc = concat!("The ", stringify!($get), " this guard holds.")]
                pub fn $get(&self) -> &$handle {
                    self.handle()
                }
            }
        )?
    };
}
pub(crate) use guard_kind;

/// A handle's two acquiring methods for guard kind `$kind`, with their docs:
/// `$guarded(deadline)`, `Some(guard)` or `None` at the deadline, and
/// `$unguarded(deadline)`, the [`Outcome`] (the caller releases). Each public generic
/// face only converts the deadline and calls the kind's monomorphic `acquire` (see the
/// `handle` module docs).
macro_rules! acquire_methods {
    ($kind:ty,
     $(#[$guarded_doc:meta])* fn $guarded:ident -> $guard:ident;
     $(#[$unguarded_doc:meta])* fn $unguarded:ident;) => {
        $(#[$guarded_doc])*
        pub fn $guarded(
            &self,
            deadline: impl Into<$crate::api::deadline::Deadline>,
        ) -> Result<Option<$guard<'_>>, $crate::api::error::Error> {
            $crate::api::guard::acquire::<$kind>(self, deadline.into())
        }

        $(#[$unguarded_doc])*
        pub fn $unguarded(
            &self,
            deadline: impl Into<$crate::api::deadline::Deadline>,
        ) -> Result<$crate::api::error::Outcome, $crate::api::error::Error> {
            <$kind as $crate::api::guard::GuardKind>::acquire(self, deadline.into())
        }
    };
}
pub(crate) use acquire_methods;

/// Acquires `handle` as kind `K` until `deadline`: `Some(guard)`, or `None` if the
/// deadline passed first.
pub(crate) fn acquire<K: GuardKind>(
    handle: &K::Handle,
    deadline: Deadline,
) -> Result<Option<Guard<'_, K>>, Error> {
    let outcome = K::acquire(handle, deadline)?;
    Ok(Guard::after(Holder::Borrowed(handle), outcome))
}

/// [`acquire`] whose guard holds a copy of the handle (never closed), for a lifetime
/// the caller chooses: an `ArrayLock`'s guard borrows the array, and outlives the
/// `ArrayLock` it came from.
///
/// # Safety
/// `copy` is an in-place handle on the object of `handle`, which stays mapped during
/// `'a`.
pub(crate) unsafe fn acquire_detached<'a, K: GuardKind>(
    handle: &K::Handle,
    copy: K::Handle,
    deadline: Deadline,
) -> Result<Option<Guard<'a, K>>, Error> {
    let outcome = K::acquire(handle, deadline)?;
    Ok(Guard::after(
        Holder::Detached(ManuallyDrop::new(copy), PhantomData),
        outcome,
    ))
}

/// How a guard reaches its handle.
enum Holder<'a, H> {
    /// The handle the guard came from.
    Borrowed(&'a H),
    /// An in-place copy, never closed (see [`acquire_detached`]).
    Detached(ManuallyDrop<H>, PhantomData<&'a H>),
}

/// The proof that one acquisition of a handle is held (the public names are the type
/// aliases `LockGuard`, `RLockGuard`, `SemaphoreGuard`, `UndoSemaphoreGuard`,
/// `ReadGuard`, `WriteGuard`): dropping it releases what was acquired.
///
/// A failed release cannot be returned from `drop`; it is written to standard error
/// (one line), and happens only if the program released it itself while the guard lived
/// ([`Error::Overflow`] or [`Error::NotOwner`]), or destroyed the object.
/// `std::mem::forget(guard)` keeps it held (release it later with the handle's
/// `release` method).
#[must_use = "what the guard holds is released as soon as it is dropped"]
pub struct Guard<'a, K: GuardKind> {
    holder: Holder<'a, K::Handle>,
    owner_died: bool,
    // !Send and !Sync for kinds that the acquiring thread must release.
    _releaser: PhantomData<K::Releaser>,
}

impl<'a, K: GuardKind> Guard<'a, K> {
    /// The guard of an acquisition that ended with `outcome` (`None`: timed out).
    fn after(holder: Holder<'a, K::Handle>, outcome: Outcome) -> Option<Self> {
        // Built only when acquired: a guard made and dropped would release.
        match outcome {
            Outcome::Timeout => None,
            _ => Some(Guard {
                holder,
                owner_died: outcome == Outcome::OwnerDead,
                _releaser: PhantomData,
            }),
        }
    }

    /// The handle this guard holds.
    pub(crate) fn handle(&self) -> &K::Handle {
        match &self.holder {
            Holder::Borrowed(h) => h,
            Holder::Detached(h, _) => h,
        }
    }

    /// True if this acquisition was told that a holder died holding the object
    /// ([`Outcome::OwnerDead`]): for an RLock, the data it protects may be inconsistent;
    /// for an RwLock, a writer or a reader died holding it; for an undo semaphore, the
    /// dead holder's units came back. Never for a `Lock` or a `Semaphore`, which have no
    /// owner, nor for an RLock's re-entry.
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }
}

impl<K: GuardKind> Drop for Guard<'_, K> {
    fn drop(&mut self) {
        if let Err(e) = K::release(self.handle()) {
            report_unreleased(K::NAME, e);
        }
    }
}

impl<K: GuardKind> core::fmt::Debug for Guard<'_, K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct(K::NAME)
            .field("handle", self.handle())
            .field("owner_died", &self.owner_died)
            .finish()
    }
}

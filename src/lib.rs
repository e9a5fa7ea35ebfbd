//! # libmpsync
//!
//! Python `multiprocessing`'s synchronization primitives — Lock, RLock, Semaphore,
//! BoundedSemaphore, Condition, Event, Barrier, shared Value/Array and SharedMemory —
//! for any language with a C FFI, across related and unrelated processes.
//!
//! **Rust users** use the safe API at the crate root: [`Lock`], [`RLock`],
//! [`Semaphore`], [`UndoSemaphore`], [`Condition`], [`Event`], [`Barrier`],
//! [`SharedArray`], [`SharedMemory`], with [`Deadline`], [`OpenOptions`], [`Outcome`] and [`Error`]
//! (see the `api` module's conventions below, and docs/rust-api.md), and
//! [`anonymous_name`] / [`sweep_orphans`] for bindings that name unnamed objects. The objects are
//! byte-compatible with the C ABI's: a Rust process and a C program share a named
//! object by opening the same name.
//!
//! Layout of the crate, from the bottom up (each layer uses only those below it):
//! * private: `sys` (the only module that makes system calls: futex, robust list, clock,
//!   shared mappings), `raw` (the lock-word state machines, no C types, panic-free),
//!   `status` (the status table every layer speaks) and `fallible` (names built on the
//!   stack, and heap allocations that report failure instead of aborting);
//! * the safe core (private module `api`, its public types re-exported here): handles,
//!   lifecycles, named creation, deadlines, `Result<_, Error>`, over `raw` and `sys`.
//!   What Rust code, the Python package and the command-line tool use;
//! * [`inspect`]: read-only, racy snapshots of the shared-memory namespace (what each
//!   entry is, object state, owner liveness, who maps it) and the cleanup policies of
//!   `mpsync rm` / `mpsync gc`;
//! * [`ffi`]: the C ABI, a thin face over the core, one file per C type family: C
//!   pointer checks, the core's calls, `Status` to `mp_status`; `include/mpsync.h` is
//!   generated from it by cbindgen. Nothing below it imports it.
//!
//! ## Conventions of the safe API
//! ### Lifecycles
//! * **Anonymous** (`new`): a shared mapping inherited by `fork()`ed children. The
//!   handle is copied into the child with the rest of memory; each process's handle
//!   closes its own mapping when dropped.
//! * **Named** (`open(name, &OpenOptions)`): unrelated processes in any language that
//!   open the same name share the object; [`unlink`] removes the name.
//! * **In place** (`unsafe init_at` / `attach_at`): the object lives in memory the caller
//!   provides (e.g. a struct in its own shared mapping). Such a handle never frees
//!   anything on drop (the memory is the caller's, and a `fork()`ed child may hold a
//!   copy of the handle): call `destroy` to end the object.
//!
//! ### Closing and drop
//! `close(self)` unmaps a `new`/`open` handle and reports errors: on [`Error::Busy`]
//! (the calling thread still holds a lock inside the mapping) it hands the handle back
//! unchanged. Dropping a handle closes it the same way; a drop that gets
//! [`Error::Busy`] cannot give the handle back, so it **keeps the mapping** (leaking
//! it: unmapping memory that holds a lock the thread owns would corrupt the thread's
//! robust list) and writes one line to standard error naming the type. Release locks
//! before dropping their handles, or call `close` to handle the error yourself.
//!
//! ### Blocking calls and deadlines
//! Blocking methods take a [`Deadline`] (`Deadline::forever()`, `Deadline::now()` to
//! try once, `Deadline::after(duration)`, `Deadline::at(instant)`, or an
//! `Option<Duration>` where `None` means forever), measured on the monotonic clock.
//! The unguarded ones (`acquire_unguarded`, `wait`) return `Ok(Outcome::Ok)`,
//! `Ok(Outcome::Timeout)`, `Ok(Outcome::OwnerDead)` (acquired, but the previous owner
//! died holding the lock), or `Err(Error::Interrupted)` when a signal handler ran (the
//! guarded `acquire` the same, as `Some(guard)` or `None`): nothing was acquired, and calling again with the same
//! `Deadline` waits for the remaining time only. Runtimes with their own signal
//! handling (Python) run their handlers between the two calls.
//!
//! ### Guards
//! As `std::sync::Mutex::lock` does, [`Lock::acquire`], [`RLock::acquire`],
//! [`Semaphore::acquire`], [`UndoSemaphore::acquire`] and [`ArrayLock::acquire`] return
//! `Ok(Some(guard))` ([`LockGuard`], [`RLockGuard`], [`SemaphoreGuard`],
//! [`UndoSemaphoreGuard`]) that releases when dropped, or
//! `Ok(None)` at the deadline; `guard.owner_died()` is the `Outcome::OwnerDead` report.
//! A release that fails on drop (only if the program released the lock itself or
//! destroyed it meanwhile) is written to standard error, as a failed close on drop is.
//! Code that releases in another call, thread or process (bindings, the CLI) uses the
//! unguarded pair: `acquire_unguarded(deadline) -> Result<Outcome, Error>` and
//! `release()`.
//!
//! ```
//! use mpsync::{Deadline, Error, Lock};
//! fn critical(lock: &Lock) -> Result<(), Error> {
//!     let _guard = lock.acquire(Deadline::forever())?.ok_or(Error::Busy)?;
//!     "7".parse::<u8>().map_err(|_| Error::Invalid)?; // an early `?` releases too
//!     Ok(())
//! }
//! let lock = Lock::new()?;
//! critical(&lock)?;
//! assert!(!lock.is_locked()?);
//! # Ok::<(), mpsync::Error>(())
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(unreachable_pub)]

/// cbindgen:ignore
mod api;
/// cbindgen:ignore
pub(crate) mod fallible;
pub mod ffi;
/// cbindgen:ignore
pub mod inspect;
/// cbindgen:ignore
pub(crate) mod raw;
/// cbindgen:ignore
pub(crate) mod status;
/// cbindgen:ignore
pub(crate) mod sys;

pub use api::{
    ANONYMOUS_NAME_PREFIX, ArrayLock, Barrier, Condition, Deadline, ElemType, Element, Error,
    Event, Lock, LockGuard, NAME_MAX, OpenOptions, Outcome, Queue, RLock, RLockGuard, ReadGuard,
    RwLock, SEM_UNDO_HOLDERS, SEM_UNDO_VALUE_MAX, SEM_VALUE_MAX, Semaphore, SemaphoreGuard,
    SharedArray, SharedMemory, UndoSemaphore, UndoSemaphoreGuard, WriteGuard, anonymous_name,
    sweep_orphans, unlink,
};
/// The guard type behind the `...Guard` aliases, and the guard kinds.
pub use api::{Guard, GuardKind, RwLockRead, RwLockWrite};

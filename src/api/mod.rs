//! The safe core, and the safe Rust API: the crate's one deliberate, documented
//! interface for Rust code (the Python package and the command-line tool use it too).
//!
//! The handle types ([`Lock`], [`RLock`], ...) hold pointers to the raw state machines
//! (`crate::raw`) and call them directly, through the core's validation; errors are the
//! state machines' `Status`, split into [`Outcome`] / [`Error`]; deadlines are absolute
//! ([`Deadline`], passed to the state machines as it is). Below the handles, the core
//! modules that every face shares:
//! * `object`: what a shared object is (the `SharedObject` trait, one impl per raw
//!   type) and the header check;
//! * `lifecycle`: anonymous, named and in-place lifecycles, and `close` (decided from
//!   the mapping registry first);
//! * `array_mapping` and `block`: arrays and shared-memory blocks, which exist only as
//!   mappings of this library;
//! * `library`: what takes no object (`unlink`, `robust_mode`).
//!
//! The C ABI (src/ffi) is a face over this core, as the safe API is: it checks C
//! pointers, calls the same core functions and state machines, and turns their `Status`
//! into `mp_status`. Nothing here calls the C ABI, so an object made in Rust is
//! byte-for-byte the object a C program gets from `mp_*_new`/`mp_*_open` because both
//! are made by the same core code: a Rust process and a C process can share a named
//! [`RLock`] or [`SharedArray`].
//!
//! The conventions (lifecycles, closing, deadlines) are in the crate docs (src/lib.rs).
//!
//! This file only declares the modules and re-exports the public types (the paths
//! `mpsync::Lock`, ... re-export these). The files import one another directly
//! (`use super::error::Error`, `use super::deadline::Deadline`), never through this file
//! or the crate root, so that no import cycle can form (tests/layering.rs).

/// The examples of docs/rust-api.md, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/rust-api.md")]
pub struct RustApiDocExamples;

pub(crate) mod array_mapping;
pub(crate) mod block;
pub(crate) mod error;
pub(crate) mod guard;
pub(crate) mod handle;
pub(crate) mod library;
pub(crate) mod lifecycle;
pub(crate) mod object;
pub(crate) mod queue_mapping;
pub(crate) mod sem_undo;
#[cfg(test)]
pub(crate) mod tests_fork;

mod array;
pub(crate) mod barrier;
mod cond;
mod deadline;
mod event;
mod lock;
mod options;
mod orphans;
mod queue;
pub(crate) mod rlock;
mod rwlock;
mod sem;
mod shm;

pub use array::{ArrayLock, ElemType, Element, SharedArray};
pub use barrier::Barrier;
pub use cond::Condition;
pub use deadline::Deadline;
pub use error::{Error, Outcome};
pub use event::Event;
pub use guard::{Guard, GuardKind};
pub use library::{NAME_MAX, unlink};
pub use lock::{Lock, LockGuard};
pub use options::OpenOptions;
pub use orphans::{ANONYMOUS_NAME_PREFIX, anonymous_name, sweep_orphans};
pub use queue::Queue;
pub use rlock::{RLock, RLockGuard};
pub use rwlock::{ReadGuard, RwLock, RwLockRead, RwLockWrite, WriteGuard};
pub use sem::{SEM_VALUE_MAX, Semaphore, SemaphoreGuard};
pub use sem_undo::{SEM_UNDO_HOLDERS, SEM_UNDO_VALUE_MAX, UndoSemaphore, UndoSemaphoreGuard};
pub use shm::SharedMemory;

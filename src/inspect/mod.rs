//! Inspection of the shared-memory namespace: what each entry is (a libmpsync object
//! of which kind and layout version, a SharedMemory block, a library temporary file,
//! or something foreign), the decoded state of each object, whether its owner lives,
//! and which processes map it.
//!
//! **Racy snapshots.** Every answer describes a moment that may already be gone: the
//! fields of an object are read one by one while other processes keep using it.
//!
//! **Read-only and non-blocking.** Inspection opens files `O_RDONLY` and copies their
//! first bytes (all 4160 of an undo semaphore) with `pread` into private memory
//! (nothing is mapped, so a file truncated meanwhile cannot raise `SIGBUS`); it never
//! writes, never takes a lock and never waits on a futex. Everything read is validated
//! (shared memory is untrusted): a corrupted or truncated header, another layout
//! version, a foreign file, a directory, a symlink or a FIFO under the name, or a file
//! we may not read each give a distinct [`Health`](crate::inspect::Health) or
//! [`InspectError`](crate::inspect::InspectError), never a crash or a hang.
//!
//! * `snapshot`: [`inspect`](crate::inspect::inspect) (one entry) and
//!   [`list`](crate::inspect::list) (the whole namespace);
//! * `info`, `state` and `error`: what they answer ([`ObjectInfo`](crate::inspect::ObjectInfo),
//!   the decoded [`State`](crate::inspect::State)) and why they may fail;
//! * [`file`](crate::inspect::file): opening an entry safely and copying its first bytes;
//! * `decode`: header verdicts and per-kind state;
//! * [`owner`](crate::inspect::owner): owner, undo-semaphore holder and creator liveness (namespace-proof, never
//!   "dead" without proof);
//! * [`maps`](crate::inspect::maps): who maps a file, from `/proc/*/maps`;
//! * [`cleanup`](crate::inspect::cleanup): the removal policies of `mpsync rm` and `mpsync gc`.
//!
//! This file only declares the modules and re-exports their public items (the paths
//! `mpsync::inspect::ObjectInfo`, ...). The files import one another directly
//! (`use super::error::InspectError`), never through this file, so that no import cycle
//! can form (tests/layering.rs).

pub mod cleanup;
mod decode;
mod error;
pub mod file;
mod info;
pub mod maps;
pub mod owner;
mod snapshot;
mod state;

pub use error::InspectError;
pub use file::FileFacts;
pub use info::{Class, Creator, HeaderFields, Health, ObjectInfo, kind_name};
pub use maps::{Mappers, MapsIndex};
pub use owner::Liveness;
pub use snapshot::{TEMP_PREFIX, bare_name, inspect, list};
pub use state::{
    HolderState, Owner, QueueConsumer, RLockState, RwLockState, RwReader, SemUndoState, State,
    UndoHolder,
};

/// The kind of a libmpsync object (its header's kind code).
pub use crate::raw::header::Kind;
/// Where the shared-memory namespace lives (`/dev/shm/`).
pub use crate::sys::shm::names::SHM_DIR;

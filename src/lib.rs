//! # libmpsync
//!
//! Python `multiprocessing`'s synchronization primitives — Lock, RLock, Semaphore,
//! BoundedSemaphore, Condition, Event, Barrier, shared Value/Array and SharedMemory —
//! for any language with a C FFI, across related and unrelated processes.
//!
//! Layout of the crate:
//! * [`raw`]: the lock-word state machines (no C types, unit-tested, panic-free);
//! * [`sys`]: the only module that makes system calls (futex, robust list, clock,
//!   shared mappings);
//! * [`inspect`]: read-only, racy snapshots of the shared-memory namespace (what
//!   each entry is, object state, owner liveness, who maps it) and cleanup policies;
//! * [`ffi`]: the C ABI, one thin file per C type family; `include/mpsync.h` is
//!   generated from it by cbindgen.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod ffi;
/// cbindgen:ignore
pub mod inspect;
/// cbindgen:ignore
pub mod raw;
/// cbindgen:ignore
pub mod status;
/// cbindgen:ignore
pub mod sys;

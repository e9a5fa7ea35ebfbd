//! # mpsync-cluster
//!
//! libmpsync's primitives on an etcd v3 cluster, for processes on several machines:
//! [`ClusterLock`], [`ClusterRLock`], [`ClusterSemaphore`], [`ClusterEvent`] and
//! [`ClusterBarrier`], opened by name through a
//! [`Cluster`] connection. Same status vocabulary as the local library
//! ([`mpsync::Outcome`], [`mpsync::Error`], plus [`mpsync::Error::LeaseLost`]).
//!
//! * **Owner death = lease expiry.** Each connection holds one etcd lease, kept alive
//!   in the background; what a process holds is attached to it. A process that is
//!   killed, or paused or cut off longer than the TTL, loses everything at once; the
//!   next acquirer of a lock it held gets `Outcome::OwnerDead`. A holder that learns
//!   its lease expired gets `Error::LeaseLost` from its next call, never a silent success.
//! * **Fencing.** Every hold has a token (`fence()`), strictly increasing across holders:
//!   give it to the resource you protect, or write through `fenced_put`, which writes
//!   only while the caller still holds the lock.
//! * **Fair and cheap.** Waiters are served in arrival order (etcd create revisions);
//!   each watches only the key just before its own. An uncontended acquire is one round
//!   trip.
//!
//! Layers: `conn` (connection, lease, runtime thread) → `queue` (the etcd protocol) →
//! `waiter` (blocking with deadlines) → the primitives (this crate's safe core) → `ffi`
//! (the C ABI, `include/mpsync_cluster.h`). See docs/cluster.md.

mod barrier;
mod conn;
mod event;
mod inspect;
mod lock;
mod queue;
mod queued;
mod sem;
mod waiter;

/// The C ABI (`include/mpsync_cluster.h`).
#[allow(non_camel_case_types)]
pub mod ffi;

pub use barrier::ClusterBarrier;
pub use conn::{Cluster, ClusterOptions};
pub use event::ClusterEvent;
pub use inspect::{ObjectSummary, list};
pub use lock::{ClusterLock, ClusterRLock};
pub use mpsync::{Deadline, Error, Outcome};
pub use queued::NAME_MAX;
pub use sem::ClusterSemaphore;

//! `mp_cluster_lock_t` and `mp_cluster_rlock_t`: Lock and RLock on the cluster. The two
//! share one implementation of every call ([`LockLike`]); the exported functions only
//! name the type.

use core::ffi::c_char;

use mpsync::{Deadline, Error, Outcome};

use super::boundary::{
    bytes, deadline, guard, hand_out, object, outcome, take_back, text, write_out,
};
use super::conn::mp_cluster_t;
use super::mp_status;
use crate::conn::Cluster;
use crate::lock::{ClusterLock, ClusterRLock};

/// A Lock on the cluster (opaque): `multiprocessing.Lock` with owner death and fencing.
pub struct mp_cluster_lock_t(ClusterLock);

/// An RLock on the cluster (opaque): recursive for the thread that holds it.
pub struct mp_cluster_rlock_t(ClusterRLock);

/// What the C calls need of a lock type.
trait LockLike: Sized {
    fn open(cluster: &Cluster, name: &str) -> Result<Self, Error>;
    fn acquire(&self, deadline: Deadline) -> Result<Outcome, Error>;
    fn release(&self) -> Result<(), Error>;
    fn fence(&self) -> Result<i64, Error>;
    fn fenced_put(&self, key: &[u8], value: &[u8]) -> Result<i64, Error>;
}

macro_rules! lock_like {
    ($c:ident, $core:ident) => {
        impl LockLike for $c {
            fn open(cluster: &Cluster, name: &str) -> Result<Self, Error> {
                $core::open(cluster, name).map($c)
            }
            fn acquire(&self, deadline: Deadline) -> Result<Outcome, Error> {
                self.0.acquire(deadline)
            }
            fn release(&self) -> Result<(), Error> {
                self.0.release()
            }
            fn fence(&self) -> Result<i64, Error> {
                self.0.fence()
            }
            fn fenced_put(&self, key: &[u8], value: &[u8]) -> Result<i64, Error> {
                self.0.fenced_put(key, value)
            }
        }
    };
}
lock_like!(mp_cluster_lock_t, ClusterLock);
lock_like!(mp_cluster_rlock_t, ClusterRLock);

/// # Safety
/// The exported functions' contracts.
unsafe fn open<L: LockLike>(
    cluster: *const mp_cluster_t,
    name: *const c_char,
    out: *mut *mut L,
) -> mp_status {
    guard(|| {
        // SAFETY: forwarded contract.
        let (cluster, name) = unsafe { (object(cluster)?, text(name)?) };
        let lock = L::open(&cluster.0, name)?;
        // SAFETY: forwarded contract.
        unsafe { hand_out(out, lock) }
    })
}

/// # Safety
/// As `open`.
unsafe fn acquire<L: LockLike>(lock: *const L, block: bool, timeout_ms: i64) -> mp_status {
    // SAFETY: forwarded contract.
    guard(|| {
        Ok(outcome(
            unsafe { object(lock) }?.acquire(deadline(block, timeout_ms))?,
        ))
    })
}

/// # Safety
/// As `open`.
unsafe fn release<L: LockLike>(lock: *const L) -> mp_status {
    guard(|| {
        // SAFETY: forwarded contract.
        unsafe { object(lock) }?.release()?;
        Ok(0)
    })
}

/// # Safety
/// As `open`.
unsafe fn fence<L: LockLike>(lock: *const L, token_out: *mut i64) -> mp_status {
    guard(|| {
        // SAFETY: forwarded contract.
        let token = unsafe { object(lock) }?.fence()?;
        // SAFETY: forwarded contract.
        unsafe { write_out(token_out, token) }?;
        Ok(0)
    })
}

/// # Safety
/// As `open`.
unsafe fn fenced_put<L: LockLike>(
    lock: *const L,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    revision_out: *mut i64,
) -> mp_status {
    guard(|| {
        // SAFETY: forwarded contract.
        let (lock, key, value) = unsafe {
            (
                object(lock)?,
                bytes(key, key_len)?,
                bytes(value, value_len)?,
            )
        };
        if key.is_empty() {
            return Err(Error::Invalid);
        }
        let revision = lock.fenced_put(key, value)?;
        if !revision_out.is_null() {
            // SAFETY: non-NULL, writable by the caller's contract.
            unsafe { write_out(revision_out, revision) }?;
        }
        Ok(0)
    })
}

/// Opens the Lock `name` on `cluster` (1..=255 printable ASCII bytes, no `/`; nothing
/// is written to etcd until the first acquire).
///
/// Safety: `cluster` is a live connection, `name` a NUL-terminated string, `lock_out`
/// writable. MT: yes.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL, bad name), `MP_ELEASE` (the connection lost its lease).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_lock_open(
    cluster: *const mp_cluster_t,
    name: *const c_char,
    lock_out: *mut *mut mp_cluster_lock_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { open(cluster, name, lock_out) }
}

/// Acquires the lock: waits (`block`) at most `timeout_ms` ms (negative = forever; 0 or
/// `block == false` tries once: one round trip), network time included. Waiters are
/// served in arrival order. Acquiring again through the handle that holds it waits.
///
/// Safety: `lock` is an open lock. MT: yes.
///
/// Returns `MP_OK`, `MP_OWNER_DEAD` (acquired; the previous holder's lease expired while
/// it held the lock), `MP_TIMEOUT` (also when the cluster could not be reached in time),
/// `MP_ELEASE` (this connection's lease expired: it holds nothing any more),
/// `MP_EINVAL` (NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_lock_acquire(
    lock: *const mp_cluster_lock_t,
    block: bool,
    timeout_ms: i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { acquire(lock, block, timeout_ms) }
}

/// Releases the lock (one round trip; retried through a leader election within the
/// connection's request timeout).
///
/// Safety: `lock` is an open lock. MT: yes.
///
/// Returns `MP_OK`, `MP_EOVERFLOW` (this handle does not hold it), `MP_ELEASE` (the
/// lease expired while holding: another process may hold it now), `MP_ESYS` (the
/// cluster did not answer in time; still held: try again), `MP_EINVAL` (NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_lock_release(lock: *const mp_cluster_lock_t) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { release(lock) }
}

/// The fencing token of the current hold: the etcd revision of the holder's queue
/// key, strictly greater than every earlier holder's. Pass it to the protected resource,
/// which rejects requests with a token lower than the highest it has seen.
///
/// Safety: `lock` is an open lock, `token_out` writable. MT: yes.
///
/// Returns `MP_OK`, `MP_ENOTOWNER` (not held by this handle), `MP_ELEASE`, `MP_EINVAL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_lock_fence(
    lock: *const mp_cluster_lock_t,
    token_out: *mut i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { fence(lock, token_out) }
}

/// Writes the etcd key `key` = `value` only if this handle still holds the lock: one
/// transaction comparing the holder's queue key, so a holder paused past its lease (and
/// replaced) cannot overwrite its successor's data. `revision_out` (may be NULL) gets
/// the revision of the write.
///
/// Safety: `lock` is an open lock; `key`/`value` point to `key_len`/`value_len`
/// readable bytes; `revision_out` is NULL or writable. MT: yes.
///
/// Returns `MP_OK`, `MP_ELEASE` (no longer the holder: nothing written),
/// `MP_ENOTOWNER` (not held by this handle), `MP_ESYS` (the cluster did not answer in
/// time), `MP_EINVAL` (NULL, empty key).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_lock_fenced_put(
    lock: *const mp_cluster_lock_t,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    revision_out: *mut i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { fenced_put(lock, key, key_len, value, value_len, revision_out) }
}

/// Closes the handle, releasing the lock first if it holds it.
///
/// Safety: `lock` came from `mp_cluster_lock_open` and is not used afterwards. MT: no.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_lock_close(lock: *mut mp_cluster_lock_t) -> mp_status {
    // SAFETY: forwarded contract.
    guard(|| unsafe { take_back(lock) })
}

/// As `mp_cluster_lock_open`, for an RLock.
///
/// Safety: as `mp_cluster_lock_open`. MT: yes.
///
/// Returns as `mp_cluster_lock_open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_rlock_open(
    cluster: *const mp_cluster_t,
    name: *const c_char,
    rlock_out: *mut *mut mp_cluster_rlock_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { open(cluster, name, rlock_out) }
}

/// As `mp_cluster_lock_acquire`; the thread that holds it acquires again at once.
///
/// Safety: `rlock` is an open RLock. MT: yes.
///
/// Returns as `mp_cluster_lock_acquire`, and `MP_EOVERFLOW` (depth exhausted).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_rlock_acquire(
    rlock: *const mp_cluster_rlock_t,
    block: bool,
    timeout_ms: i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { acquire(rlock, block, timeout_ms) }
}

/// Releases one level; the last one releases the lock on the cluster.
///
/// Safety: `rlock` is an open RLock. MT: yes.
///
/// Returns `MP_OK`, `MP_ENOTOWNER` (the calling thread does not hold it), `MP_ELEASE`,
/// `MP_ESYS`, `MP_EINVAL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_rlock_release(rlock: *const mp_cluster_rlock_t) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { release(rlock) }
}

/// As `mp_cluster_lock_fence`.
///
/// Safety: `rlock` is an open RLock, `token_out` writable. MT: yes.
///
/// Returns as `mp_cluster_lock_fence`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_rlock_fence(
    rlock: *const mp_cluster_rlock_t,
    token_out: *mut i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { fence(rlock, token_out) }
}

/// As `mp_cluster_lock_fenced_put`.
///
/// Safety: as `mp_cluster_lock_fenced_put`. MT: yes.
///
/// Returns as `mp_cluster_lock_fenced_put`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_rlock_fenced_put(
    rlock: *const mp_cluster_rlock_t,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    revision_out: *mut i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { fenced_put(rlock, key, key_len, value, value_len, revision_out) }
}

/// As `mp_cluster_lock_close`.
///
/// Safety: `rlock` came from `mp_cluster_rlock_open` and is not used afterwards. MT: no.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_rlock_close(rlock: *mut mp_cluster_rlock_t) -> mp_status {
    // SAFETY: forwarded contract.
    guard(|| unsafe { take_back(rlock) })
}

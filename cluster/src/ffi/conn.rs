//! `mp_cluster_t`: a connection to an etcd cluster and its lease.

use core::ffi::c_char;
use std::time::Duration;

use mpsync::Error;

use super::boundary::{guard, hand_out, object, take_back, text, write_out};
use super::mp_status;
use crate::conn::{Cluster, ClusterOptions};

/// A connection to an etcd cluster, with its lease (opaque). Thread-safe.
pub struct mp_cluster_t(pub(crate) Cluster);

/// Options of `mp_cluster_connect` (NULL = the defaults: TTL 10 s, 5000 ms).
#[repr(C)]
pub struct mp_cluster_options_t {
    /// Lease TTL in whole seconds (>= 1; etcd may raise it, see `mp_cluster_ttl`). A
    /// process paused or cut off longer than this loses everything it holds.
    pub ttl_secs: i64,
    /// How long connecting may take, and how long a call without a timeout of its own
    /// (release, open, fenced put) waits for the cluster, in ms (>= 1).
    pub request_timeout_ms: i64,
}

/// Connects to `endpoints` (comma-separated URLs, e.g.
/// `"http://10.0.0.1:2379,http://10.0.0.2:2379"`) and grants the connection's lease,
/// kept alive by a background thread of the library.
///
/// Safety: `endpoints` is a NUL-terminated string; `options` is NULL or points to an
/// `mp_cluster_options_t`; `cluster_out` is writable. MT: yes.
///
/// Returns `MP_OK` (`*cluster_out` set), `MP_EINVAL` (NULL, empty or malformed
/// endpoints, TTL < 1, timeout < 1 ms), `MP_ESYS` (no member answered in time).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_connect(
    endpoints: *const c_char,
    options: *const mp_cluster_options_t,
    cluster_out: *mut *mut mp_cluster_t,
) -> mp_status {
    guard(|| {
        // SAFETY: the caller's contract on `endpoints`.
        let endpoints = unsafe { text(endpoints) }?;
        let mut opts = ClusterOptions::default();
        // SAFETY: the caller's contract on `options` (NULL allowed).
        if let Some(o) = unsafe { options.as_ref() } {
            if o.request_timeout_ms < 1 {
                return Err(Error::Invalid);
            }
            opts.ttl_secs = o.ttl_secs;
            opts.request_timeout = Duration::from_millis(o.request_timeout_ms as u64);
        }
        let cluster = Cluster::connect(endpoints, opts)?;
        // SAFETY: the caller's contract on `cluster_out`.
        unsafe { hand_out(cluster_out, mp_cluster_t(cluster)) }
    })
}

/// Ends the caller's use of `cluster`. The connection (and its lease) ends when the
/// objects opened through it are closed too; then the lease is revoked, releasing at
/// once whatever it still held.
///
/// Safety: `cluster` came from `mp_cluster_connect` and is not used afterwards. MT: no
/// (nobody else may use this `cluster` pointer during or after the call).
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_close(cluster: *mut mp_cluster_t) -> mp_status {
    // SAFETY: the caller's contract.
    guard(|| unsafe { take_back(cluster) })
}

/// The lease TTL the cluster granted, in seconds.
///
/// Safety: `cluster` is a live connection; `ttl_out` is writable. MT: yes.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_ttl(
    cluster: *const mp_cluster_t,
    ttl_out: *mut i64,
) -> mp_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let cluster = unsafe { object(cluster) }?;
        // SAFETY: the caller's contract.
        unsafe { write_out(ttl_out, cluster.0.ttl()) }?;
        Ok(0)
    })
}

//! [`Cluster`]: one connection to an etcd v3 cluster, its lease, and the runtime thread
//! that drives both.
//!
//! The connection owns a tokio runtime with one worker thread. The lease is granted at
//! connect and kept alive by a task on that thread (a keep-alive every third of the TTL);
//! every key a primitive writes for this process (queue entries of locks and semaphores)
//! is attached to it, so a process that dies or is cut off longer than the TTL loses
//! them all at once, and the cluster hands its locks on (owner death = lease expiry).
//!
//! The blocking calls of the primitives run their etcd work as a task on the runtime and
//! wait for its result on the caller's thread, at most until the caller's deadline: all
//! network time is inside the timeout. A task whose caller gave up finishes its
//! round trip in the background and undoes what it did (see queue.rs).
//!
//! Lease loss is only reported on positive evidence: a keep-alive answered with TTL 0
//! (the lease no longer exists), or a transaction that compares one of this
//! connection's keys and finds it gone. From then on every call on the connection
//! returns [`Error::LeaseLost`]; connect again to go on.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, LeaseGrantOptions};
use mpsync::{Deadline, Error};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// Options of [`Cluster::connect`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterOptions {
    /// Lease TTL requested, in whole seconds (etcd may raise it to its minimum; see
    /// [`Cluster::ttl`]). A holder cut off longer than this loses what it holds.
    pub ttl_secs: i64,
    /// How long `connect` may take, and how long one call without a deadline of its own
    /// (release, `Event::set`, opening an object...) waits for the cluster.
    pub request_timeout: Duration,
}

impl Default for ClusterOptions {
    fn default() -> ClusterOptions {
        ClusterOptions {
            ttl_secs: 10,
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// What the tasks on the runtime get from a connection: never the `Conn` itself (the
/// last `Conn` must not be dropped on the runtime's own thread).
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(crate) client: Client,
    pub(crate) lease: i64,
    /// Set once the lease is known to be gone, or revoked by `close`.
    pub(crate) lost: Arc<AtomicBool>,
}

impl Ctx {
    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }
}

/// What the handles of one connection share.
pub(crate) struct Conn {
    pub(crate) client: Client,
    pub(crate) lease: i64,
    pub(crate) ttl_secs: i64,
    pub(crate) request_timeout: Duration,
    pub(crate) lost: Arc<AtomicBool>,
    /// Makes every queue key of this connection unique (two handles of one name).
    next_key: AtomicU64,
    runtime: Runtime,
}

/// A connection to an etcd cluster, with its lease. Cheap to clone (shared); the lease
/// is revoked (releasing everything the connection holds at once) when the last clone
/// and the last object opened through it are dropped.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) conn: Arc<Conn>,
}

/// The error of an etcd call: [`Error::LeaseLost`] when the cluster said the lease does
/// not exist (positive evidence), else `Error::System` (network, no leader, timeout: the
/// call did not get through, which says nothing about the lease).
pub(crate) fn unreachable(e: etcd_client::Error) -> Error {
    match e {
        etcd_client::Error::GRpcStatus(s)
            if s.code() == tonic::Code::NotFound && s.message().contains("lease not found") =>
        {
            Error::LeaseLost
        }
        _ => Error::System,
    }
}

impl Cluster {
    /// Connects to `endpoints` (comma-separated URLs, e.g.
    /// `"http://127.0.0.1:2379,http://127.0.0.1:22379"`) and grants the lease.
    /// `Error::Invalid` for an empty or malformed endpoint list or a TTL below 1;
    /// `Error::System` if no member answered within `options.request_timeout`.
    pub fn connect(endpoints: &str, options: ClusterOptions) -> Result<Cluster, Error> {
        let urls: Vec<String> = endpoints
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if urls.is_empty() || options.ttl_secs < 1 || options.request_timeout.is_zero() {
            return Err(Error::Invalid);
        }
        if urls
            .iter()
            .any(|u| !(u.starts_with("http://") || u.starts_with("https://")) && u.contains("://"))
        {
            return Err(Error::Invalid);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mpsync-cluster")
            .enable_all()
            .build()
            .map_err(|_| Error::System)?;
        let timeout = options.request_timeout;
        let (client, lease, ttl_secs) = runtime.block_on(async move {
            tokio::time::timeout(timeout, async move {
                // Short tries, retried within the caller's budget: a try sent to a member
                // that just died must not use up the whole request timeout.
                let attempt = timeout.min(Duration::from_secs(2));
                let connect = ConnectOptions::new()
                    .with_connect_timeout(attempt.min(Duration::from_secs(1)))
                    .with_timeout(attempt)
                    .with_keep_alive(Duration::from_secs(2), timeout);
                let mut client =
                    Client::connect(&urls, Some(connect))
                        .await
                        .map_err(|e| match e {
                            etcd_client::Error::InvalidArgs(_)
                            | etcd_client::Error::InvalidUri(_) => Error::Invalid,
                            e => unreachable(e),
                        })?;
                let grant = client
                    .lease_grant(options.ttl_secs, None::<LeaseGrantOptions>)
                    .await
                    .map_err(unreachable)?;
                Ok::<_, Error>((client, grant.id(), grant.ttl()))
            })
            .await
            .map_err(|_| Error::System)?
        })?;
        let conn = Arc::new(Conn {
            client,
            lease,
            ttl_secs,
            request_timeout: timeout,
            lost: Arc::new(AtomicBool::new(false)),
            next_key: AtomicU64::new(0),
            runtime,
        });
        conn.runtime.spawn(keep_alive(
            conn.client.clone(),
            lease,
            ttl_secs,
            conn.lost.clone(),
        ));
        Ok(Cluster { conn })
    }

    /// The lease TTL the cluster granted, in seconds.
    pub fn ttl(&self) -> i64 {
        self.conn.ttl_secs
    }

    /// The lease's id (etcd's, as `etcdctl lease list` shows it in hex).
    pub fn lease_id(&self) -> i64 {
        self.conn.lease
    }

    /// True once the connection knows its lease is gone (see the module docs).
    pub fn lease_lost(&self) -> bool {
        self.conn.is_lost()
    }

    /// Releases everything this connection holds at once (revokes the lease) and ends
    /// the connection. Objects opened through it report [`Error::LeaseLost`] afterwards.
    /// `Error::System` if the cluster did not answer (the lease then expires at TTL).
    pub fn close(self) -> Result<(), Error> {
        self.conn.revoke()
    }
}

impl Conn {
    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    /// What a task on the runtime needs of this connection.
    pub(crate) fn ctx(&self) -> Ctx {
        Ctx {
            client: self.client.clone(),
            lease: self.lease,
            lost: self.lost.clone(),
        }
    }

    pub(crate) fn mark_lost(&self) {
        self.lost.store(true, Ordering::Release);
    }

    /// `Err(LeaseLost)` once the lease is known to be gone.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.is_lost() {
            Err(Error::LeaseLost)
        } else {
            Ok(())
        }
    }

    /// A queue key suffix unique to this connection: `<lease hex>-<n>`.
    pub(crate) fn unique_suffix(&self) -> String {
        let n = self.next_key.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}-{n}", self.lease)
    }

    /// Runs `fut` on the runtime; waits for it on the calling thread until `deadline`
    /// (`None` when the deadline passed first; the task goes on in the background, so it
    /// must leave things consistent by itself).
    pub(crate) fn run_until<T: Send + 'static>(
        &self,
        deadline: Deadline,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let (tx, mut rx) = oneshot::channel();
        self.runtime.spawn(async move {
            let _ = tx.send(fut.await);
        });
        self.wait_for(deadline, &mut rx)
    }

    /// Waits on the calling thread for the answer of a task until `deadline`. At the
    /// deadline the channel is closed (the task's `send` fails from then on, and
    /// `Sender::closed` tells it the caller gave up) and an answer that arrived just
    /// before is still taken.
    pub(crate) fn wait_for<T>(
        &self,
        deadline: Deadline,
        rx: &mut oneshot::Receiver<T>,
    ) -> Option<T> {
        // Only the faces' threads come here, never the runtime's own (which would panic).
        let answer = self.runtime.block_on(async {
            match deadline.remaining() {
                None => (&mut *rx).await.ok(),
                Some(left) => tokio::time::timeout(left, &mut *rx).await.ok()?.ok(),
            }
        });
        answer.or_else(|| {
            rx.close();
            rx.try_recv().ok()
        })
    }

    /// Runs one request (retries included) within the connection's request timeout:
    /// `Error::System` when it did not get through in time (the task stops then too, so
    /// nothing happens behind the caller's back). `Error::LeaseLost` marks the
    /// connection lost.
    pub(crate) fn request<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T, Error>> + Send + 'static,
    ) -> Result<T, Error> {
        self.check()?;
        let limit = self.request_timeout;
        let bounded = async move {
            tokio::time::timeout(limit, fut)
                .await
                .unwrap_or(Err(Error::System))
        };
        // The task ends itself at `limit`; the margin only covers scheduling.
        let out = self
            .run_until(Deadline::after(limit + Duration::from_secs(1)), bounded)
            .unwrap_or(Err(Error::System));
        if matches!(out, Err(Error::LeaseLost)) {
            self.mark_lost();
        }
        out
    }

    pub(crate) fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.runtime.spawn(fut);
    }

    fn revoke(&self) -> Result<(), Error> {
        if self.lost.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let mut client = self.client.clone();
        let lease = self.lease;
        self.run_until(Deadline::after(self.request_timeout), async move {
            client.lease_revoke(lease).await.map(|_| ())
        })
        .ok_or(Error::System)?
        .map_err(unreachable)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Best effort: a connection dropped without `close` still frees its keys now
        // rather than at TTL.
        let _ = self.revoke();
    }
}

/// Keeps the lease alive every third of its TTL until the connection is closed (`lost`
/// set by `revoke`) or the cluster says the lease no longer exists (TTL 0: sets `lost`).
/// Network errors are retried: they are no evidence that the lease expired.
async fn keep_alive(mut client: Client, lease: i64, ttl_secs: i64, lost: Arc<AtomicBool>) {
    let period = Duration::from_millis((ttl_secs.max(1) as u64) * 1000 / 3);
    while !lost.load(Ordering::Acquire) {
        if let Ok((mut keeper, mut responses)) = client.lease_keep_alive(lease).await {
            while !lost.load(Ordering::Acquire) && keeper.keep_alive().await.is_ok() {
                match tokio::time::timeout(period, responses.message()).await {
                    Ok(Ok(Some(resp))) if resp.ttl() <= 0 => {
                        lost.store(true, Ordering::Release);
                        return;
                    }
                    Ok(Ok(Some(_))) => tokio::time::sleep(period).await,
                    _ => break,
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

//! [`ClusterEvent`]: `multiprocessing.Event` on the cluster: one key, set when it
//! exists. It has no lease (an Event outlives the process that set it, as a local one
//! does); waiters watch the key from the revision they read.

use etcd_client::{EventType, GetOptions, WatchOptions};
use mpsync::{Deadline, Error};
use tokio::sync::oneshot;

use crate::conn::{Cluster, Ctx, unreachable};
use crate::queue::RETRY_PAUSE;
use crate::queued::check_name;

/// An event flag shared by every process that opens the same name.
pub struct ClusterEvent {
    cluster: Cluster,
    key: String,
    name: String,
}

impl ClusterEvent {
    /// Opens the event `name` (nothing is written).
    pub fn open(cluster: &Cluster, name: &str) -> Result<ClusterEvent, Error> {
        check_name(name)?;
        cluster.conn.check()?;
        Ok(ClusterEvent {
            cluster: cluster.clone(),
            key: format!("/mpsync/event/{name}/flag"),
            name: name.to_string(),
        })
    }

    /// The name it was opened with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sets the flag, waking every waiter.
    pub fn set(&self) -> Result<(), Error> {
        let (mut kv, key) = (self.cluster.conn.client.kv_client(), self.key.clone());
        self.cluster.conn.request(async move {
            kv.put(key, "1", None)
                .await
                .map(|_| ())
                .map_err(unreachable)
        })
    }

    /// Clears the flag.
    pub fn clear(&self) -> Result<(), Error> {
        let (mut kv, key) = (self.cluster.conn.client.kv_client(), self.key.clone());
        self.cluster
            .conn
            .request(async move { kv.delete(key, None).await.map(|_| ()).map_err(unreachable) })
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> Result<bool, Error> {
        let ctx = self.cluster.conn.ctx();
        let key = self.key.clone();
        self.cluster
            .conn
            .request(async move { read(&ctx, &key).await.map(|(set, _)| set) })
    }

    /// Waits until the flag is set or `deadline` passes: `Ok(true)` if set.
    pub fn wait(&self, deadline: Deadline) -> Result<bool, Error> {
        let conn = &self.cluster.conn;
        conn.check()?;
        if deadline.remaining() == Some(std::time::Duration::ZERO) {
            return self.is_set();
        }
        let (tx, mut rx) = oneshot::channel();
        let (ctx, key) = (conn.ctx(), self.key.clone());
        conn.spawn(async move {
            let mut tx = tx;
            tokio::select! {
                set = wait_set(&ctx, &key) => { let _ = tx.send(set); }
                _ = tx.closed() => {}
            }
        });
        Ok(conn.wait_for(deadline, &mut rx).unwrap_or(false))
    }
}

/// Whether the key exists, and the revision the answer is as of.
async fn read(ctx: &Ctx, key: &str) -> Result<(bool, i64), Error> {
    let mut kv = ctx.client.kv_client();
    let resp = kv
        .get(key, Some(GetOptions::new().with_count_only()))
        .await
        .map_err(unreachable)?;
    Ok((resp.count() > 0, resp.header().map_or(0, |h| h.revision())))
}

/// Returns once the key exists (retrying through network errors).
async fn wait_set(ctx: &Ctx, key: &str) -> bool {
    loop {
        if let Ok((set, rev)) = read(ctx, key).await {
            if set {
                return true;
            }
            let opts = WatchOptions::new().with_start_revision(rev + 1);
            if let Ok(mut stream) = ctx.client.watch_client().watch(key, Some(opts)).await {
                while let Ok(Some(resp)) = stream.message().await {
                    if resp
                        .events()
                        .iter()
                        .any(|e| e.event_type() == EventType::Put)
                    {
                        return true;
                    }
                    if resp.canceled() {
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

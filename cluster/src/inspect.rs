//! [`list`]: a snapshot of the objects the cluster library keeps in etcd (under
//! `/mpsync/`), for `mpsync --etcd URL ls|show`. Read-only, one range read.

use etcd_client::GetOptions;
use mpsync::Error;

use crate::conn::{Cluster, unreachable};

/// One object as etcd holds it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectSummary {
    /// `lock`, `rlock`, `sem`, `event` or `barrier`.
    pub kind: String,
    pub name: String,
    /// Queue keys (holders and waiters) of a lock or semaphore.
    pub contenders: usize,
    /// Lock/RLock: the holder record names a queue key that no longer exists (its
    /// lease expired while holding: the next acquirer will get `OwnerDead`).
    pub owner_dead: bool,
    /// Fencing token of the current holder (the head of the queue), if any.
    pub holder_token: Option<i64>,
    /// Event: set; Barrier / Semaphore: the stored state text.
    pub state: String,
}

/// Every object under `/mpsync/`, sorted by kind and name.
pub fn list(cluster: &Cluster) -> Result<Vec<ObjectSummary>, Error> {
    let mut kv = cluster.conn.client.kv_client();
    let resp = cluster.conn.request(async move {
        kv.get("/mpsync/", Some(GetOptions::new().with_prefix()))
            .await
            .map_err(unreachable)
    })?;
    let mut out: Vec<ObjectSummary> = Vec::new();
    let mut queue_keys = std::collections::HashSet::new();
    let mut holders = Vec::new();
    for kv in resp.kvs() {
        let key = String::from_utf8_lossy(kv.key()).into_owned();
        let mut parts = key.trim_start_matches("/mpsync/").splitn(3, '/');
        let (Some(kind), Some(name), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let at = match out.iter().position(|o| o.kind == kind && o.name == name) {
            Some(i) => i,
            None => {
                out.push(ObjectSummary {
                    kind: kind.to_string(),
                    name: name.to_string(),
                    contenders: 0,
                    owner_dead: false,
                    holder_token: None,
                    state: String::new(),
                });
                out.len() - 1
            }
        };
        let o = &mut out[at];
        let value = String::from_utf8_lossy(kv.value()).into_owned();
        if rest.starts_with("q/") {
            o.contenders += 1;
            let rev = kv.create_revision();
            o.holder_token = Some(o.holder_token.map_or(rev, |t| t.min(rev)));
            queue_keys.insert(key);
        } else if rest == "holder" {
            holders.push((at, value));
        } else if rest == "flag" {
            o.state = "set".into();
        } else {
            o.state = value;
        }
    }
    for (at, holder) in holders {
        out[at].owner_dead = !holder.is_empty() && !queue_keys.contains(&holder);
    }
    for o in &mut out {
        if o.kind == "event" && o.state.is_empty() {
            o.state = "clear".into();
        }
    }
    out.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
    Ok(out)
}

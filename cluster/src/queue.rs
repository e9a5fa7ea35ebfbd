//! The create-revision queue: how Lock, RLock and Semaphore take turns on etcd.
//!
//! Keys of an object `<base>` (e.g. `/mpsync/lock/<name>/`):
//!
//! | key                      | lease       | meaning                                          |
//! |--------------------------|-------------|--------------------------------------------------|
//! | `<base>q/<lease>-<n>`    | the holder's | one contender (holder or waiter)                |
//! | `<base>holder`           | none        | queue key of the current holder (permits = 1)    |
//!
//! The contenders are ordered by the create revision of their queue key (etcd's one
//! cluster-wide counter): the first `permits` keys hold, the others wait. A waiter
//! watches only the deletion of the `permits` keys just before its own (one, the
//! predecessor, for a lock: no thundering herd); the deletion of any key further ahead
//! cannot bring it under `permits` before one of those does.
//!
//! Round trips: an uncontended acquire is one transaction (the queue is empty: enqueue
//! and take); a hand-off is one watch notification then one transaction (still at the
//! head? then take); a release is one transaction.
//!
//! Owner death (permits = 1): the holder record outlives the holder's lease. Taking
//! the lock reads and replaces it in the same transaction; a clean release deletes it
//! with the queue key. So a taker that finds a record naming another key knows the
//! previous holder's lease expired while it held the lock: `Outcome::OwnerDead`.
//!
//! Fencing: a holder's token is the create revision of its queue key, which strictly
//! increases from one holder to the next (holders are served in create-revision order,
//! and a key created later has a higher revision).

use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, DeleteOptions, EventType, GetOptions, PutOptions, SortOrder,
    SortTarget, Txn, TxnOp, TxnOpResponse, TxnResponse, WatchFilterType, WatchOptions,
};
use mpsync::Error;

use crate::conn::{Ctx, unreachable};

/// Pause between retries of a request that did not get through.
pub(crate) const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// One queued object's keys and how many contenders may hold it at once.
#[derive(Clone, Debug)]
pub(crate) struct Queue {
    /// `/mpsync/<kind>/<name>/`.
    pub(crate) base: String,
    pub(crate) permits: usize,
}

/// A contender's place: its queue key and that key's create revision (the fencing token
/// once it holds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) rev: i64,
}

/// Where a contender stands after a transaction.
#[derive(Debug)]
pub(crate) enum Step {
    /// It holds; `owner_dead`: the previous holder's lease expired while it held.
    Granted { entry: Entry, owner_dead: bool },
    /// It waits for the deletion of one of `ahead` (watched from `after + 1`).
    Wait {
        entry: Entry,
        ahead: Vec<String>,
        after: i64,
    },
}

impl Queue {
    pub(crate) fn new(kind: &str, name: &str, permits: usize) -> Queue {
        Queue {
            base: format!("/mpsync/{kind}/{name}/"),
            permits: permits.max(1),
        }
    }

    pub(crate) fn prefix(&self) -> String {
        format!("{}q/", self.base)
    }

    fn holder_key(&self) -> String {
        format!("{}holder", self.base)
    }

    /// A new queue key for this connection.
    pub(crate) fn key_for(&self, ctx_suffix: &str) -> String {
        format!("{}{ctx_suffix}", self.prefix())
    }

    fn tracks_holder(&self) -> bool {
        self.permits == 1
    }

    /// The `permits` nearest keys before revision `rev` (newest first).
    fn ahead_of(&self, rev: i64) -> TxnOp {
        let opts = GetOptions::new()
            .with_prefix()
            .with_keys_only()
            .with_sort(SortTarget::Create, SortOrder::Descend)
            .with_limit(self.permits as i64);
        let opts = if rev > 0 {
            opts.with_max_create_revision(rev - 1)
        } else {
            opts
        };
        TxnOp::get(self.prefix(), Some(opts))
    }

    /// Takes the holder record (reads the old one, writes ours) for `key`.
    fn take_holder_ops(&self, key: &str) -> Vec<TxnOp> {
        if !self.tracks_holder() {
            return Vec::new();
        }
        vec![
            TxnOp::get(self.holder_key(), None),
            TxnOp::put(self.holder_key(), key, None),
        ]
    }

    /// Enqueues `key` (or finds it queued already, after a retry whose answer was lost)
    /// in one transaction: if the queue is empty, it holds at once.
    pub(crate) async fn enqueue(&self, ctx: &Ctx, key: &str) -> Result<Step, Error> {
        let put = TxnOp::put(key, "", Some(PutOptions::new().with_lease(ctx.lease)));
        let mut take = vec![put.clone()];
        take.extend(self.take_holder_ops(key));
        let txn = Txn::new()
            .when([Compare::create_revision(self.prefix(), CompareOp::Equal, 0).with_prefix()])
            .and_then(take)
            .or_else([TxnOp::get(key, None), self.ahead_of(0), put]);
        let resp = txn_call(ctx, txn).await?;
        let rev = revision(&resp);
        let ops = resp.op_responses();
        if resp.succeeded() {
            let entry = Entry {
                key: key.to_string(),
                rev,
            };
            return Ok(Step::Granted {
                owner_dead: self.tracks_holder() && holder_was_other(&ops[1], key),
                entry,
            });
        }
        if let Some(existing) = kvs(&ops[0]).first() {
            // Queued by an earlier try of this same acquisition: look again from there.
            let entry = Entry {
                key: key.to_string(),
                rev: existing.create_revision(),
            };
            return self.recheck(ctx, entry).await;
        }
        let entry = Entry {
            key: key.to_string(),
            rev,
        };
        Ok(self.place(entry, keys(&ops[1]), rev))
    }

    /// Holds with fewer than `permits` keys ahead, else waits on them.
    fn place(&self, entry: Entry, ahead: Vec<String>, after: i64) -> Step {
        if ahead.len() < self.permits {
            Step::Granted {
                entry,
                owner_dead: false,
            }
        } else {
            Step::Wait {
                entry,
                ahead,
                after,
            }
        }
    }

    /// After a deletion ahead: holds now (taking the holder record), or waits on the new
    /// keys ahead. `Error::LeaseLost` if its own key is gone.
    pub(crate) async fn recheck(&self, ctx: &Ctx, entry: Entry) -> Result<Step, Error> {
        let mine = Compare::create_revision(entry.key.as_str(), CompareOp::Equal, entry.rev);
        let txn = if self.tracks_holder() {
            // At the head: every key of the queue was created at or after ours.
            let head = Compare::create_revision(self.prefix(), CompareOp::Greater, entry.rev - 1)
                .with_prefix();
            Txn::new()
                .when([mine, head])
                .and_then(self.take_holder_ops(&entry.key))
                .or_else([
                    TxnOp::get(entry.key.as_str(), None),
                    self.ahead_of(entry.rev),
                ])
        } else {
            Txn::new().when([mine]).and_then([
                TxnOp::get(entry.key.as_str(), None),
                self.ahead_of(entry.rev),
            ])
        };
        let resp = txn_call(ctx, txn).await?;
        let after = revision(&resp);
        let ops = resp.op_responses();
        if self.tracks_holder() && resp.succeeded() {
            return Ok(Step::Granted {
                owner_dead: holder_was_other(&ops[0], &entry.key),
                entry,
            });
        }
        if ops.is_empty() || kvs(&ops[0]).is_empty() {
            return Err(Error::LeaseLost);
        }
        Ok(self.place(entry, keys(&ops[1]), after))
    }

    /// Leaves the queue: deletes `key` (and the holder record if it names `key`).
    /// Returns whether the key still existed (a holder whose key is gone lost its lease).
    pub(crate) async fn leave(&self, ctx: &Ctx, key: &str) -> Result<bool, Error> {
        let delete = TxnOp::delete(key, None::<DeleteOptions>);
        let txn = if self.tracks_holder() {
            Txn::new()
                .when([Compare::value(self.holder_key(), CompareOp::Equal, key)])
                .and_then([delete.clone(), TxnOp::delete(self.holder_key(), None)])
                .or_else([delete])
        } else {
            Txn::new().and_then([delete])
        };
        let resp = txn_call(ctx, txn).await?;
        Ok(match resp.op_responses().first() {
            Some(TxnOpResponse::Delete(d)) => d.deleted() > 0,
            _ => false,
        })
    }

    /// Gives a grant back, retrying requests that did not get through (a leader
    /// election, a member going down). `Error::LeaseLost` if the key was gone before
    /// the first try (the lease expired: another may hold the object now); after a
    /// failed try, a key found gone was deleted by that try.
    pub(crate) async fn release(&self, ctx: &Ctx, key: &str) -> Result<(), Error> {
        let mut tried = false;
        loop {
            match self.leave(ctx, key).await {
                Ok(true) => return Ok(()),
                Ok(false) if tried => return Ok(()),
                Ok(false) => return Err(Error::LeaseLost),
                Err(Error::System) => tried = true,
                Err(e) => return Err(e),
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// Leaves the queue, retrying until it gets through or the connection is gone: a
    /// queue key left behind by a caller that gave up would block everyone behind it
    /// for as long as the lease lives.
    pub(crate) async fn leave_until_done(&self, ctx: &Ctx, key: &str) {
        while !ctx.is_lost() {
            match self.leave(ctx, key).await {
                Ok(_) | Err(Error::LeaseLost) => return,
                Err(_) => tokio::time::sleep(RETRY_PAUSE).await,
            }
        }
    }

    /// Writes `key = value` only while `entry` still holds (one transaction comparing
    /// the holder's queue key). `Error::LeaseLost` when it no longer exists.
    pub(crate) async fn fenced_put(
        &self,
        ctx: &Ctx,
        entry: &Entry,
        key: Vec<u8>,
        value: Vec<u8>,
    ) -> Result<i64, Error> {
        let txn = Txn::new()
            .when([Compare::create_revision(
                entry.key.as_str(),
                CompareOp::Equal,
                entry.rev,
            )])
            .and_then([TxnOp::put(key, value, None)]);
        // Retried when it did not get through: writing the same value again is harmless.
        let resp = loop {
            match txn_call(ctx, txn.clone()).await {
                Err(Error::System) => tokio::time::sleep(RETRY_PAUSE).await,
                other => break other?,
            }
        };
        if resp.succeeded() {
            Ok(revision(&resp))
        } else {
            Err(Error::LeaseLost)
        }
    }
}

/// One transaction. Errors: `LeaseLost` when etcd says the lease is gone, else `System`.
pub(crate) async fn txn_call(ctx: &Ctx, txn: Txn) -> Result<TxnResponse, Error> {
    if ctx.is_lost() {
        return Err(Error::LeaseLost);
    }
    let mut kv = ctx.client.kv_client();
    kv.txn(txn).await.map_err(unreachable)
}

/// Writes `key = value` unless `key` exists, in one transaction: `None` when it wrote,
/// else `Some` of the responses of reading the stored value (one get): the first
/// opener of an object stores its setting, later openers read it.
pub(crate) async fn put_if_absent(
    ctx: &Ctx,
    key: &str,
    value: impl Into<Vec<u8>>,
) -> Result<Option<Vec<TxnOpResponse>>, Error> {
    let txn = Txn::new()
        .when([Compare::create_revision(key, CompareOp::Equal, 0)])
        .and_then([TxnOp::put(key, value, None)])
        .or_else([TxnOp::get(key, None)]);
    let resp = txn_call(ctx, txn).await?;
    Ok((!resp.succeeded()).then(|| resp.op_responses()))
}

/// The store revision a response was answered at (the revision of its write, if any).
pub(crate) fn revision(resp: &TxnResponse) -> i64 {
    resp.header().map_or(0, |h| h.revision())
}

fn kvs(op: &TxnOpResponse) -> &[etcd_client::KeyValue] {
    match op {
        TxnOpResponse::Get(g) => g.kvs(),
        _ => &[],
    }
}

fn keys(op: &TxnOpResponse) -> Vec<String> {
    kvs(op)
        .iter()
        .map(|kv| String::from_utf8_lossy(kv.key()).into_owned())
        .collect()
}

/// The holder record read before ours was written names another key: the previous
/// holder did not release (its lease expired while it held).
fn holder_was_other(op: &TxnOpResponse, key: &str) -> bool {
    kvs(op)
        .first()
        .is_some_and(|kv| !kv.value().is_empty() && kv.value() != key.as_bytes())
}

/// Returns when one of `keys` is deleted after revision `after`, or when the watch
/// fails (the caller looks again either way, so a failure costs one transaction).
pub(crate) async fn wait_for_deletion(client: &Client, keys: &[String], after: i64) {
    let opts = WatchOptions::new()
        .with_start_revision(after + 1)
        .with_filters([WatchFilterType::NoPut]);
    let mut watch = client.watch_client();
    let Some((first, rest)) = keys.split_first() else {
        return;
    };
    let Ok(mut stream) = watch.watch(first.as_str(), Some(opts.clone())).await else {
        tokio::time::sleep(RETRY_PAUSE).await;
        return;
    };
    for key in rest {
        if stream
            .watch(key.as_str(), Some(opts.clone()))
            .await
            .is_err()
        {
            tokio::time::sleep(RETRY_PAUSE).await;
            return;
        }
    }
    loop {
        match stream.message().await {
            Ok(Some(resp)) => {
                if resp.canceled()
                    || resp
                        .events()
                        .iter()
                        .any(|e| e.event_type() == EventType::Delete)
                {
                    return;
                }
            }
            _ => {
                tokio::time::sleep(RETRY_PAUSE).await;
                return;
            }
        }
    }
}

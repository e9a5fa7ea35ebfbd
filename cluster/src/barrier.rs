//! [`ClusterBarrier`]: `multiprocessing.Barrier` on the cluster. One state key holds
//! `generation count parties broken how`, changed only by compare-and-swap on its
//! modification revision; waiters watch it for the change that ends their generation.
//!
//! | `how`      | written by                          | a waiter of the old generation |
//! |------------|-------------------------------------|--------------------------------|
//! | `arrive`   | an arrival that is not the last     | keeps waiting                  |
//! | `complete` | the last arrival (generation + 1)   | returns its index              |
//! | `reset`    | `reset` (generation + 1, unbroken)  | gets `Error::Broken`           |
//! | `abort`    | `abort`, or a waiter's timeout      | gets `Error::Broken`           |
//!
//! Arrivals have no lease: as with a local barrier, a party that dies after arriving
//! still counts, and the others wait until their timeout (which breaks the barrier).

use etcd_client::{Compare, CompareOp, EventType, Txn, TxnOp, TxnOpResponse, WatchOptions};
use mpsync::{Deadline, Error};
use tokio::sync::oneshot;

use crate::conn::{Cluster, Ctx};
use crate::queue::{RETRY_PAUSE, put_if_absent, revision, txn_call};
use crate::queued::check_name_and_count;

/// The barrier's state as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    generation: u64,
    count: usize,
    parties: usize,
    broken: bool,
    how: How,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum How {
    Arrive,
    Complete,
    Reset,
    Abort,
}

impl State {
    fn encode(&self) -> String {
        let how = match self.how {
            How::Arrive => "arrive",
            How::Complete => "complete",
            How::Reset => "reset",
            How::Abort => "abort",
        };
        format!(
            "{} {} {} {} {how}",
            self.generation, self.count, self.parties, self.broken as u8
        )
    }

    /// `None` for a value no barrier writes.
    fn decode(bytes: &[u8]) -> Option<State> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut f = text.split(' ');
        let state = State {
            generation: f.next()?.parse().ok()?,
            count: f.next()?.parse().ok()?,
            parties: f.next()?.parse().ok()?,
            broken: f.next()? == "1",
            how: match f.next()? {
                "arrive" => How::Arrive,
                "complete" => How::Complete,
                "reset" => How::Reset,
                "abort" => How::Abort,
                _ => return None,
            },
        };
        (state.parties >= 1 && state.count < state.parties).then_some(state)
    }
}

/// A barrier for `parties` processes (or threads) that open the same name.
pub struct ClusterBarrier {
    cluster: Cluster,
    key: String,
    name: String,
    parties: usize,
}

impl ClusterBarrier {
    /// Opens the barrier `name`; the first opener sets `parties` (>= 1), later openers
    /// use the stored number (see [`Self::parties`]).
    pub fn open(cluster: &Cluster, name: &str, parties: usize) -> Result<ClusterBarrier, Error> {
        check_name_and_count(name, parties)?;
        let key = format!("/mpsync/barrier/{name}/state");
        let init = State {
            generation: 0,
            count: 0,
            parties,
            broken: false,
            how: How::Reset,
        };
        let (ctx, k) = (cluster.conn.ctx(), key.clone());
        let stored = cluster.conn.request(async move {
            match put_if_absent(&ctx, &k, init.encode()).await? {
                None => Ok(parties),
                Some(read) => Ok(read_state(&read)?.0.parties),
            }
        })?;
        Ok(ClusterBarrier {
            cluster: cluster.clone(),
            key,
            name: name.to_string(),
            parties: stored,
        })
    }

    /// The name it was opened with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of parties, as stored by the first opener.
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Parties waiting in the current generation.
    pub fn n_waiting(&self) -> Result<usize, Error> {
        Ok(self.state()?.count)
    }

    /// Whether the barrier is broken.
    pub fn broken(&self) -> Result<bool, Error> {
        Ok(self.state()?.broken)
    }

    fn state(&self) -> Result<State, Error> {
        let (ctx, key) = (self.cluster.conn.ctx(), self.key.clone());
        self.cluster
            .conn
            .request(async move { get_state(&ctx, &key).await.map(|(s, _)| s) })
    }

    /// Waits until `parties` have arrived in this generation: `Ok(index)` (0 ..
    /// parties-1, arrival order). `Error::Broken` if the barrier is or becomes broken
    /// (abort, reset, or any member's timeout, this one's included: at the deadline the
    /// barrier is broken, as in CPython).
    pub fn wait(&self, deadline: Deadline) -> Result<usize, Error> {
        let conn = &self.cluster.conn;
        conn.check()?;
        let (tx, mut rx) = oneshot::channel();
        let (ctx, key) = (conn.ctx(), self.key.clone());
        conn.spawn(async move {
            let mut tx = tx;
            let mut arrived = None;
            tokio::select! {
                r = arrive_and_wait(&ctx, &key, &mut arrived) => { let _ = tx.send(r); }
                _ = tx.closed() => {
                    // The caller's deadline passed: break the generation it joined.
                    if let Some(generation) = arrived {
                        let _ = change(&ctx, &key, |s| {
                            (s.generation == generation).then_some(State { broken: true, how: How::Abort, ..s })
                        })
                        .await;
                    }
                }
            }
        });
        let wait = if deadline.remaining() == Some(std::time::Duration::ZERO) {
            // Arrive, and be the last or break it (as CPython's timeout 0 does).
            Deadline::after(conn.request_timeout)
        } else {
            deadline
        };
        conn.wait_for(wait, &mut rx).unwrap_or(Err(Error::Broken))
    }

    /// Breaks the barrier: current and future waiters get `Error::Broken` until `reset`.
    pub fn abort(&self) -> Result<(), Error> {
        self.update(|s| {
            Some(State {
                broken: true,
                how: How::Abort,
                ..s
            })
        })
    }

    /// Starts a new generation, unbroken; waiters of the current one get `Error::Broken`.
    pub fn reset(&self) -> Result<(), Error> {
        self.update(|s| {
            Some(State {
                generation: s.generation + 1,
                count: 0,
                broken: false,
                how: How::Reset,
                ..s
            })
        })
    }

    fn update(&self, f: fn(State) -> Option<State>) -> Result<(), Error> {
        let (ctx, key) = (self.cluster.conn.ctx(), self.key.clone());
        self.cluster
            .conn
            .request(async move { change(&ctx, &key, f).await.map(|_| ()) })
    }
}

fn read_state(ops: &[TxnOpResponse]) -> Result<(State, i64), Error> {
    match ops.first() {
        Some(TxnOpResponse::Get(g)) => {
            let kv = g.kvs().first().ok_or(Error::NotFound)?;
            let state = State::decode(kv.value()).ok_or(Error::BadObject)?;
            Ok((state, kv.mod_revision()))
        }
        _ => Err(Error::BadObject),
    }
}

async fn get_state(ctx: &Ctx, key: &str) -> Result<(State, i64), Error> {
    let resp = txn_call(ctx, Txn::new().and_then([TxnOp::get(key, None)])).await?;
    read_state(&resp.op_responses())
}

/// Compare-and-swap loop: applies `f` to the current state (`None`: leave it) until the
/// swap succeeds. Returns the state before and the revision of the write (or read).
async fn change(
    ctx: &Ctx,
    key: &str,
    f: impl Fn(State) -> Option<State>,
) -> Result<(State, i64), Error> {
    loop {
        let (state, modified) = match get_state(ctx, key).await {
            Err(Error::System) => {
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
            other => other?,
        };
        let Some(next) = f(state) else {
            return Ok((state, modified));
        };
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, modified)])
            .and_then([TxnOp::put(key, next.encode(), None)]);
        match txn_call(ctx, txn).await {
            Ok(resp) if resp.succeeded() => return Ok((state, revision(&resp))),
            Ok(_) => {}
            Err(Error::System) => tokio::time::sleep(RETRY_PAUSE).await,
            Err(e) => return Err(e),
        }
    }
}

/// Arrives (records the generation joined in `arrived`), then waits for the change
/// that ends that generation.
async fn arrive_and_wait(ctx: &Ctx, key: &str, arrived: &mut Option<u64>) -> Result<usize, Error> {
    let (before, rev) = change(ctx, key, |s| {
        if s.broken {
            return None;
        }
        Some(if s.count + 1 == s.parties {
            State {
                generation: s.generation + 1,
                count: 0,
                how: How::Complete,
                ..s
            }
        } else {
            State {
                count: s.count + 1,
                how: How::Arrive,
                ..s
            }
        })
    })
    .await?;
    if before.broken {
        return Err(Error::Broken);
    }
    let index = before.count;
    if index + 1 == before.parties {
        return Ok(index);
    }
    *arrived = Some(before.generation);
    let mut after = rev;
    loop {
        let opts = WatchOptions::new().with_start_revision(after + 1);
        if let Ok(mut stream) = ctx.client.watch_client().watch(key, Some(opts)).await {
            while let Ok(Some(resp)) = stream.message().await {
                for event in resp.events() {
                    let Some(kv) = event.kv() else { continue };
                    after = kv.mod_revision();
                    if event.event_type() != EventType::Put {
                        return Err(Error::BadObject);
                    }
                    let s = State::decode(kv.value()).ok_or(Error::BadObject)?;
                    if s.broken || s.how == How::Reset {
                        return Err(Error::Broken);
                    }
                    if s.generation != before.generation {
                        return Ok(index);
                    }
                }
                if resp.canceled() {
                    break;
                }
            }
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

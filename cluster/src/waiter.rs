//! A blocking acquisition on the queue (queue.rs): the etcd work runs as a task on the
//! connection's runtime; the caller waits for its answer until its deadline.
//!
//! A caller that gives up closes the answer channel. The task notices at its next wait
//! (a watch, or the pause between retries), or when it tries to hand over a grant
//! nobody takes any more, and then leaves the queue itself, retrying until that gets
//! through: nothing it queued outlives the attempt. A grant that arrives as the caller
//! gives up is still taken by the caller (it looks in the closed channel once more).

use mpsync::{Deadline, Error};
use tokio::sync::oneshot;

use crate::conn::{Conn, Ctx};
use crate::queue::{Entry, Queue, RETRY_PAUSE, Step, wait_for_deletion};

/// What an acquisition got: its queue entry and whether the previous holder died.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub(crate) entry: Entry,
    pub(crate) owner_dead: bool,
}

/// Acquires a place among the first `queue.permits` contenders for a new key of this
/// connection. `Ok(None)` at the deadline (a deadline already passed tries once: one
/// transaction, within the connection's request timeout).
pub(crate) fn acquire(
    conn: &Conn,
    queue: &Queue,
    deadline: Deadline,
) -> Result<Option<Grant>, Error> {
    conn.check()?;
    let key = queue.key_for(&conn.unique_suffix());
    let try_once = deadline.remaining() == Some(std::time::Duration::ZERO);
    let (tx, mut rx) = oneshot::channel();
    conn.spawn(attempt(conn.ctx(), queue.clone(), key, try_once, tx));
    let wait = if try_once {
        Deadline::after(conn.request_timeout)
    } else {
        deadline
    };
    let answer = conn.wait_for(wait, &mut rx);
    match answer {
        None => Ok(None),
        Some(Err(Error::LeaseLost)) => {
            conn.mark_lost();
            Err(Error::LeaseLost)
        }
        Some(r) => r,
    }
}

type Answer = Result<Option<Grant>, Error>;

/// The task: enqueue, then wait and look again until granted, gone or given up.
async fn attempt(ctx: Ctx, queue: Queue, key: String, try_once: bool, tx: oneshot::Sender<Answer>) {
    let mut tx = tx;
    let outcome = run(&ctx, &queue, &key, try_once, &mut tx).await;
    match outcome {
        Some(answer) => {
            let granted = matches!(answer, Ok(Some(_)));
            if tx.send(answer).is_err() && granted {
                // The caller gave up just before: release what nobody will use.
                queue.leave_until_done(&ctx, &key).await;
            }
        }
        None => queue.leave_until_done(&ctx, &key).await,
    }
}

/// `None`: the caller gave up (or a try-once did not get it): leave the queue.
async fn run(
    ctx: &Ctx,
    queue: &Queue,
    key: &str,
    try_once: bool,
    tx: &mut oneshot::Sender<Answer>,
) -> Option<Answer> {
    let mut step = retrying(tx, || queue.enqueue(ctx, key)).await?;
    loop {
        match step {
            Ok(Step::Granted { entry, owner_dead }) => {
                return Some(Ok(Some(Grant { entry, owner_dead })));
            }
            Err(e) => return Some(Err(e)),
            Ok(Step::Wait {
                entry,
                ahead,
                after,
            }) => {
                if try_once {
                    queue.leave_until_done(ctx, key).await;
                    return Some(Ok(None));
                }
                tokio::select! {
                    _ = wait_for_deletion(&ctx.client, &ahead, after) => {}
                    _ = tx.closed() => return None,
                }
                step = retrying(tx, || queue.recheck(ctx, entry.clone())).await?;
            }
        }
    }
}

/// Runs `op` until it gets through (`Error::System` is a request that did not: retried
/// after a pause) or the caller gives up (`None`). Other errors are answers.
async fn retrying<F, Fut>(
    tx: &mut oneshot::Sender<Answer>,
    mut op: F,
) -> Option<Result<Step, Error>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Step, Error>>,
{
    loop {
        match op().await {
            Err(Error::System) => {}
            other => return Some(other),
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY_PAUSE) => {}
            _ = tx.closed() => return None,
        }
    }
}

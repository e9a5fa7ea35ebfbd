//! [`ClusterSemaphore`]: `multiprocessing.Semaphore` / `BoundedSemaphore` on the
//! cluster. Each unit taken is a queue key under the taker's lease (queue.rs with
//! `permits` = the value), so a process that dies gives its units back at TTL.

use etcd_client::TxnOpResponse;
use mpsync::{Deadline, Error, Outcome};

use crate::conn::Cluster;
use crate::queue::put_if_absent;
use crate::queued::{Queued, check_name_and_count};

/// A counting semaphore shared by every process that opens the same name. Units are
/// owned by the handle that took them (so that a dead holder's units come back):
/// `release` gives back one unit this handle holds, and `Error::Overflow` when it holds
/// none. Both flavours therefore behave as a BoundedSemaphore.
pub struct ClusterSemaphore {
    q: Queued,
}

impl ClusterSemaphore {
    /// Opens the semaphore `name`; the first opener on the cluster sets its value
    /// (`value` >= 1), later openers use the stored one (see [`Self::value`]).
    pub fn open(cluster: &Cluster, name: &str, value: usize) -> Result<ClusterSemaphore, Error> {
        check_name_and_count(name, value)?;
        let key = format!("/mpsync/sem/{name}/value");
        let ctx = cluster.conn.ctx();
        let stored = cluster.conn.request(async move {
            let Some(read) = put_if_absent(&ctx, &key, value.to_string()).await? else {
                return Ok(value);
            };
            match read.first() {
                Some(TxnOpResponse::Get(g)) => g
                    .kvs()
                    .first()
                    .and_then(|kv| std::str::from_utf8(kv.value()).ok()?.parse().ok())
                    .ok_or(Error::BadObject),
                _ => Err(Error::BadObject),
            }
        })?;
        Ok(ClusterSemaphore {
            q: Queued::open(cluster, "sem", name, stored)?,
        })
    }

    /// The name it was opened with.
    pub fn name(&self) -> &str {
        &self.q.name
    }

    /// The semaphore's value (its number of units), as stored by the first opener.
    pub fn value(&self) -> usize {
        self.q.queue.permits
    }

    /// Takes one unit, waiting until `deadline`: `Ok` or `Timeout`.
    pub fn acquire(&self, deadline: Deadline) -> Result<Outcome, Error> {
        Ok(match self.q.acquire(deadline)? {
            Some(_) => Outcome::Ok,
            None => Outcome::Timeout,
        })
    }

    /// Gives back the newest unit this handle holds: `Error::Overflow` when it holds
    /// none, `Error::LeaseLost` if the lease expired meanwhile.
    pub fn release(&self) -> Result<(), Error> {
        self.q.release_newest()
    }

    /// Units this handle holds.
    pub fn held(&self) -> usize {
        self.q.held().len()
    }

    /// The fencing token of the newest unit this handle holds.
    pub fn fence(&self) -> Result<i64, Error> {
        self.q.fence()
    }
}

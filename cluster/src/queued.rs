//! [`Queued`]: what Lock, RLock and Semaphore handles share: the connection, the
//! object's queue, and the grants this handle holds (newest last).

use std::sync::{Arc, Mutex, MutexGuard};

use mpsync::{Deadline, Error};

use crate::conn::{Cluster, Conn};
use crate::queue::Queue;
use crate::waiter::{self, Grant};

/// Longest object name (bytes), as the local library's `NAME_MAX`.
pub const NAME_MAX: usize = 255;

/// `Error::Invalid` unless `name` is 1..=NAME_MAX bytes of printable ASCII other than
/// `/` (the name becomes one etcd key segment).
pub(crate) fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= NAME_MAX
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'/');
    if ok { Ok(()) } else { Err(Error::Invalid) }
}

/// As `check_name`, and `Error::Invalid` unless `count` (a semaphore's value, a
/// barrier's parties) is 1..=i32::MAX.
pub(crate) fn check_name_and_count(name: &str, count: usize) -> Result<(), Error> {
    check_name(name)?;
    if count == 0 || count > i32::MAX as usize {
        return Err(Error::Invalid);
    }
    Ok(())
}

pub(crate) struct Queued {
    pub(crate) conn: Arc<Conn>,
    pub(crate) queue: Queue,
    pub(crate) name: String,
    held: Mutex<Vec<Grant>>,
}

impl Queued {
    pub(crate) fn open(
        cluster: &Cluster,
        kind: &str,
        name: &str,
        permits: usize,
    ) -> Result<Queued, Error> {
        check_name(name)?;
        cluster.conn.check()?;
        Ok(Queued {
            conn: cluster.conn.clone(),
            queue: Queue::new(kind, name, permits),
            name: name.to_string(),
            held: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn held(&self) -> MutexGuard<'_, Vec<Grant>> {
        // A panic while holding this mutex leaves a consistent Vec: use it as it is.
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a place among the holders until `deadline`; records the grant.
    pub(crate) fn acquire(&self, deadline: Deadline) -> Result<Option<Grant>, Error> {
        let got = waiter::acquire(&self.conn, &self.queue, deadline)?;
        if let Some(grant) = &got {
            self.held().push(grant.clone());
        }
        Ok(got)
    }

    /// Gives back the newest grant. `Error::LeaseLost` if its key was already gone
    /// (the lease expired: another may hold the object now); `Error::System` if the
    /// cluster did not answer (the grant is still held: try again).
    pub(crate) fn release_newest(&self) -> Result<(), Error> {
        let Some(grant) = self.held().pop() else {
            return Err(Error::Overflow);
        };
        let ctx = self.conn.ctx();
        let queue = self.queue.clone();
        let key = grant.entry.key.clone();
        match self
            .conn
            .request(async move { queue.release(&ctx, &key).await })
        {
            Ok(()) => Ok(()),
            Err(Error::LeaseLost) => Err(Error::LeaseLost),
            Err(e) => {
                self.held().push(grant);
                Err(e)
            }
        }
    }

    /// The fencing token of the newest grant.
    pub(crate) fn fence(&self) -> Result<i64, Error> {
        self.conn.check()?;
        self.held()
            .last()
            .map(|g| g.entry.rev)
            .ok_or(Error::NotOwner)
    }

    /// Writes `key = value` in etcd only while the newest grant still holds.
    pub(crate) fn fenced_put(&self, key: &[u8], value: &[u8]) -> Result<i64, Error> {
        let entry = self
            .held()
            .last()
            .map(|g| g.entry.clone())
            .ok_or(Error::NotOwner)?;
        let ctx = self.conn.ctx();
        let queue = self.queue.clone();
        let (key, value) = (key.to_vec(), value.to_vec());
        self.conn
            .request(async move { queue.fenced_put(&ctx, &entry, key, value).await })
    }
}

impl Drop for Queued {
    /// Gives back what the handle still holds (best effort; the lease covers the rest).
    fn drop(&mut self) {
        while !self.held().is_empty() && !self.conn.is_lost() {
            if self.release_newest().is_err() {
                break;
            }
        }
    }
}

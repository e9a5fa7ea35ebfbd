//! [`ClusterLock`] and [`ClusterRLock`]: `multiprocessing.Lock` and `RLock` on the
//! cluster, with owner death (lease expiry) and fencing tokens.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ThreadId;

use mpsync::{Deadline, Error, Outcome};

use crate::conn::Cluster;
use crate::queued::Queued;
use crate::waiter::Grant;

/// The outcome of a grant (or of none: the deadline passed).
fn outcome_of(grant: Option<&Grant>) -> Outcome {
    match grant {
        None => Outcome::Timeout,
        Some(g) if g.owner_dead => Outcome::OwnerDead,
        Some(_) => Outcome::Ok,
    }
}

/// A mutual-exclusion lock shared by every process that opens the same name on the
/// same cluster. Owned by the handle that acquired it: a process whose lease expires
/// while holding it loses it, and the next acquirer gets [`Outcome::OwnerDead`].
pub struct ClusterLock {
    q: Queued,
    owner_died: AtomicBool,
}

impl ClusterLock {
    /// Opens the lock `name` (nothing is written until the first acquire).
    pub fn open(cluster: &Cluster, name: &str) -> Result<ClusterLock, Error> {
        Ok(ClusterLock {
            q: Queued::open(cluster, "lock", name, 1)?,
            owner_died: AtomicBool::new(false),
        })
    }

    /// The name it was opened with.
    pub fn name(&self) -> &str {
        &self.q.name
    }

    /// Waits for the lock until `deadline`: `Ok`, `OwnerDead` (acquired; the previous
    /// holder's lease expired while it held the lock) or `Timeout`. Like a local Lock,
    /// acquiring it again through the handle that holds it waits (until the deadline).
    pub fn acquire(&self, deadline: Deadline) -> Result<Outcome, Error> {
        let grant = self.q.acquire(deadline)?;
        let outcome = outcome_of(grant.as_ref());
        if grant.is_some() {
            self.owner_died
                .store(outcome == Outcome::OwnerDead, Ordering::Relaxed);
        }
        Ok(outcome)
    }

    /// Releases the lock: `Error::Overflow` if this handle does not hold it,
    /// `Error::LeaseLost` if it was lost meanwhile (another may hold it now).
    pub fn release(&self) -> Result<(), Error> {
        self.q.release_newest()
    }

    /// True while this handle holds the lock (as far as it knows: see `fenced_put`).
    pub fn is_held(&self) -> bool {
        !self.q.held().is_empty()
    }

    /// The fencing token of the current hold: strictly greater than every earlier
    /// holder's. `Error::NotOwner` when this handle does not hold the lock.
    pub fn fence(&self) -> Result<i64, Error> {
        self.q.fence()
    }

    /// Whether the last acquire found that the previous holder had died holding it.
    pub fn owner_died(&self) -> bool {
        self.owner_died.load(Ordering::Relaxed)
    }

    /// Writes `key = value` in etcd only if this handle still holds the lock, in one
    /// transaction comparing its queue key: a holder that was paused past its lease
    /// (and replaced) gets `Error::LeaseLost` and nothing is written. Returns the
    /// revision of the write.
    pub fn fenced_put(&self, key: &[u8], value: &[u8]) -> Result<i64, Error> {
        self.q.fenced_put(key, value)
    }
}

/// The RLock's owning thread and recursion depth (the queue grant is in `Queued`).
#[derive(Clone, Copy)]
struct Owner {
    thread: ThreadId,
    depth: u32,
}

/// A recursive lock: the thread that holds it (through this handle) may acquire it again;
/// it is released when released as often. Other threads and processes wait.
pub struct ClusterRLock {
    q: Queued,
    owner: std::sync::Mutex<Option<Owner>>,
    owner_died: AtomicBool,
}

impl ClusterRLock {
    /// Opens the recursive lock `name`.
    pub fn open(cluster: &Cluster, name: &str) -> Result<ClusterRLock, Error> {
        Ok(ClusterRLock {
            q: Queued::open(cluster, "rlock", name, 1)?,
            owner: std::sync::Mutex::new(None),
            owner_died: AtomicBool::new(false),
        })
    }

    /// The name it was opened with.
    pub fn name(&self) -> &str {
        &self.q.name
    }

    fn owner(&self) -> std::sync::MutexGuard<'_, Option<Owner>> {
        self.owner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// As [`ClusterLock::acquire`]; the owning thread acquires again at once.
    /// `Error::Overflow` when the depth would exceed `u32::MAX`.
    pub fn acquire(&self, deadline: Deadline) -> Result<Outcome, Error> {
        let me = std::thread::current().id();
        {
            let mut owner = self.owner();
            if let Some(o) = owner.as_mut().filter(|o| o.thread == me) {
                self.q.conn.check()?;
                o.depth = o.depth.checked_add(1).ok_or(Error::Overflow)?;
                return Ok(Outcome::Ok);
            }
        }
        let grant = self.q.acquire(deadline)?;
        let outcome = outcome_of(grant.as_ref());
        if grant.is_some() {
            *self.owner() = Some(Owner {
                thread: me,
                depth: 1,
            });
            self.owner_died
                .store(outcome == Outcome::OwnerDead, Ordering::Relaxed);
        }
        Ok(outcome)
    }

    /// Releases one level: `Error::NotOwner` unless the calling thread holds it.
    pub fn release(&self) -> Result<(), Error> {
        let me = std::thread::current().id();
        let mut owner = self.owner();
        let o = owner
            .as_mut()
            .filter(|o| o.thread == me)
            .ok_or(Error::NotOwner)?;
        if o.depth > 1 {
            self.q.conn.check()?;
            o.depth -= 1;
            return Ok(());
        }
        let saved = *o;
        *owner = None;
        drop(owner);
        let out = self.q.release_newest();
        if out == Err(Error::System) {
            *self.owner() = Some(saved);
        }
        out
    }

    /// Recursion depth held by the calling thread (0 if it does not hold it).
    pub fn depth(&self) -> u32 {
        let me = std::thread::current().id();
        self.owner()
            .filter(|o| o.thread == me)
            .map_or(0, |o| o.depth)
    }

    /// As [`ClusterLock::fence`].
    pub fn fence(&self) -> Result<i64, Error> {
        self.q.fence()
    }

    /// As [`ClusterLock::owner_died`].
    pub fn owner_died(&self) -> bool {
        self.owner_died.load(Ordering::Relaxed)
    }

    /// As [`ClusterLock::fenced_put`].
    pub fn fenced_put(&self, key: &[u8], value: &[u8]) -> Result<i64, Error> {
        self.q.fenced_put(key, value)
    }
}

//! `Lock`: a binary semaphore in one futex word. Any thread of any process may
//! release it (CPython semantics), so it has no owner and no owner-death recovery.
//!
//! Uncontended acquire is one `compare_exchange` and release one `swap`: the floor
//! for a futex lock that can tell whether anyone sleeps. The algorithm is the one of
//! Rust std's futex mutex, with shared futexes and deadlines.

use core::sync::atomic::{AtomicU32, Ordering};

use super::header::{Header, Kind, Lifecycle};
use super::spin::spin_until;
use crate::status::Status;
use crate::sys::futex::{self, Wake};
use crate::sys::time::WaitLimit;

/// Lock word states.
///
/// | state       | meaning                                                            |
/// |-------------|--------------------------------------------------------------------|
/// | `UNLOCKED`  | free; nobody sleeps on the word                                    |
/// | `LOCKED`    | held; nobody sleeps, so release needs no `FUTEX_WAKE`              |
/// | `CONTENDED` | held, and someone may sleep: release must wake one                 |
///
/// A sleeper always sets `CONTENDED` before sleeping, and a woken sleeper takes the
/// lock by swapping in `CONTENDED` (not `LOCKED`), because it cannot know whether
/// other sleepers remain: their wake-up is then guaranteed by the next release. The
/// cost is at most one spurious `FUTEX_WAKE` after the last sleeper leaves.
const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// Shared layout (64 bytes, 8-aligned):
///
/// ```text
/// +0   header   (8)
/// +8   state    u32  UNLOCKED / LOCKED / CONTENDED
/// +12  reserved (52)
/// ```
#[repr(C)]
pub(crate) struct RawLock {
    header: Header,
    state: AtomicU32,
    _reserved: [u32; 13],
}

published_layout!(RawLock, size = 64, align = 8);

impl RawLock {
    /// Initialises a lock (unlocked) and publishes it.
    pub(crate) fn init(&self, lifecycle: Lifecycle) {
        self.state.store(UNLOCKED, Ordering::Relaxed);
        self.header.publish(Kind::Lock, lifecycle);
    }

    /// The object header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// Acquires the lock: `Ok`, `Timeout`, or `Intr` (nothing acquired).
    #[inline]
    pub(crate) fn acquire<W: WaitLimit>(&self, limit: W) -> Status {
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return Status::Ok;
        }
        self.acquire_contended(limit)
    }

    #[cold]
    #[inline(never)]
    fn acquire_contended<W: WaitLimit>(&self, limit: W) -> Status {
        let deadline = &limit.deadline();
        // A non-blocking attempt must not mark the lock contended: nobody will sleep.
        if deadline.is_now() {
            return Status::Timeout;
        }
        let mut state = self.spin();
        // The lock was released while we spun: take it without marking it contended.
        if state == UNLOCKED {
            match self.state.compare_exchange(
                UNLOCKED,
                LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Status::Ok,
                Err(s) => state = s,
            }
        }
        loop {
            // Mark contended (so the holder will wake us) and take the lock if it
            // was free in the same step.
            if state != CONTENDED && self.state.swap(CONTENDED, Ordering::Acquire) == UNLOCKED {
                return Status::Ok;
            }
            match futex::wait(&self.state, CONTENDED, deadline) {
                Wake::TimedOut => return Status::Timeout,
                // The word may stay CONTENDED with no sleeper: one spurious wake later.
                Wake::Interrupted => return Status::Intr,
                Wake::Retry => {}
            }
            state = self.spin();
        }
    }

    /// Watches the word while it is LOCKED (a holder with nobody waiting is likely to
    /// release soon); see [`spin_until`].
    #[inline]
    fn spin(&self) -> u32 {
        spin_until(&self.state, |s| s == LOCKED, |s| s == UNLOCKED)
    }

    /// Releases the lock (any thread, any process): `Ok`, or `Overflow` if it was not
    /// locked (the swap then changed nothing).
    #[inline]
    pub(crate) fn release(&self) -> Status {
        match self.state.swap(UNLOCKED, Ordering::Release) {
            UNLOCKED => Status::Overflow,
            LOCKED => Status::Ok,
            _ => {
                self.wake_one();
                Status::Ok
            }
        }
    }

    #[cold]
    fn wake_one(&self) {
        // We wake one; when it takes the lock it re-marks CONTENDED, which makes sure
        // any other sleeper is woken by a later release.
        futex::wake(&self.state, 1);
    }

    /// True while held.
    #[inline]
    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) != UNLOCKED
    }

    /// Ends an in-place lock: `Busy` while held (or possibly waited on).
    pub(crate) fn destroy(&self) -> Status {
        if self.is_locked() {
            return Status::Busy;
        }
        self.header.retire();
        Status::Ok
    }

    /// Read-only snapshot for inspectors: `(locked, contended)` (`contended`: a
    /// sleeper may exist). Racy; never blocks.
    pub(crate) fn snapshot(&self) -> (bool, bool) {
        let state = self.state.load(Ordering::Relaxed);
        (state != UNLOCKED, state == CONTENDED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::test_util::{counts_exactly, fresh};
    use crate::sys::time::Timeout;
    use std::sync::Arc;

    fn new_lock() -> Arc<RawLock> {
        fresh(|l: &RawLock| l.init(Lifecycle::InPlace))
    }

    #[test]
    fn acquire_release_and_overflow() {
        let l = new_lock();
        assert_eq!(l.acquire(Timeout::NOW), Status::Ok);
        assert!(l.is_locked());
        assert_eq!(l.acquire(Timeout::NOW), Status::Timeout);
        assert_eq!(l.destroy(), Status::Busy);
        assert_eq!(l.release(), Status::Ok);
        assert_eq!(l.release(), Status::Overflow);
        assert!(!l.is_locked());
        assert_eq!(l.destroy(), Status::Ok);
    }

    #[test]
    fn timed_acquire_waits_at_least_the_timeout() {
        let l = new_lock();
        assert_eq!(l.acquire(Timeout::FOREVER), Status::Ok);
        let t0 = std::time::Instant::now();
        assert_eq!(l.acquire(Timeout::new(true, 50)), Status::Timeout);
        assert!(t0.elapsed() >= std::time::Duration::from_millis(50));
    }

    #[test]
    fn threads_count_exactly() {
        let l = new_lock();
        counts_exactly(
            || assert_eq!(l.acquire(Timeout::FOREVER), Status::Ok),
            || assert_eq!(l.release(), Status::Ok),
        );
    }

    #[test]
    fn release_from_another_thread_wakes_a_waiter() {
        let l = new_lock();
        assert_eq!(l.acquire(Timeout::FOREVER), Status::Ok);
        let l2 = l.clone();
        let t = std::thread::spawn(move || l2.acquire(Timeout::new(true, 10_000)));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(l.release(), Status::Ok);
        assert_eq!(t.join().unwrap(), Status::Ok);
        assert_eq!(l.release(), Status::Ok);
    }
}

//! `Event`: a flag that `set` raises (waking every waiter) and `clear` lowers.
//!
//! One futex word holds the flag and a count of `set` calls that raised it, so that
//! a waiter that was asleep when the flag went up returns `MP_OK` even if `clear`
//! lowered it again before the waiter ran ("set wakes every waiter", as in
//! `threading.Event`; CPython's `multiprocessing.Event.wait` re-checks the flag and
//! can miss such a pulse).
//!
//! `set` is one CAS, plus one `FUTEX_WAKE` if anybody sleeps: it never waits for a
//! waiter, so a waiter that died cannot hang it (CPython's can: its `Event.set` calls
//! `Condition.notify_all`, which waits for every woken waiter to acknowledge; gh-75158).
//!
//! # Word (`word`, the futex word)
//!
//! ```text
//! bit  0      SET    the flag
//! bits 1..32  RAISES number of 0 -> 1 transitions (wrapping)
//! ```
//!
//! | SET | meaning                                                                |
//! |-----|------------------------------------------------------------------------|
//! | 0   | clear; waiters sleep on the exact word value                           |
//! | 1   | set; `wait` returns at once, nobody sleeps                             |
//!
//! `set` (0 -> 1): `RAISES+1, SET=1`; `set` (1): no change; `clear`: `SET=0`. A waiter
//! returns `Ok` when it sees `SET`, or `RAISES` different from what it saw on entry.
//! (A waiter that sleeps through exactly 2^31 raises without running would miss
//! them: not a practical concern.)
//!
//! `sleepers` counts threads registered as (about to be) asleep, as in `RawSem`: a
//! waiter increments it before re-checking the word, `set` changes the word before
//! reading it (both `SeqCst`), so either the waiter sees the flag or `set` sees the
//! sleeper. A waiter killed while registered leaves the count too high: later `set`
//! calls then make one needless `FUTEX_WAKE` each, and `destroy` reports `Busy`.

use core::sync::atomic::{AtomicU32, Ordering};

use super::header::{Header, Kind, Lifecycle};
use crate::status::Status;
use crate::sys::futex::{self, Wake};
use crate::sys::time::{Deadline, WaitLimit};

const SET: u32 = 1;
const RAISE: u32 = 2;

/// Shared layout (64 bytes, 8-aligned):
///
/// ```text
/// +0   header    (8)
/// +8   word      u32  SET | RAISES << 1 (the futex word)
/// +12  sleepers  u32  threads registered as asleep
/// +16  reserved  (48)
/// ```
///
/// 8-aligned like the other objects (`MP_EVENT_ALIGN`), although only 32-bit words
/// are used: the ABI may then grow a 64-bit field without changing the alignment.
#[repr(C, align(8))]
pub(crate) struct RawEvent {
    header: Header,
    word: AtomicU32,
    sleepers: AtomicU32,
    _reserved: [u32; 12],
}

published_layout!(RawEvent, size = 64, align = 8);

impl RawEvent {
    /// Initialises (clear) and publishes.
    pub(crate) fn init(&self, lifecycle: Lifecycle) {
        self.word.store(0, Ordering::Relaxed);
        self.sleepers.store(0, Ordering::Relaxed);
        self.header.publish(Kind::Event, lifecycle);
    }

    /// The object header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// Sets the flag and wakes every waiter. Never blocks.
    #[inline]
    pub(crate) fn set(&self) {
        let mut w = self.word.load(Ordering::Relaxed);
        loop {
            if w & SET != 0 {
                // Already set: whoever set it has woken (or will wake) the sleepers.
                return;
            }
            match self.word.compare_exchange_weak(
                w,
                w.wrapping_add(RAISE) | SET,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => w = now,
            }
        }
        if self.sleepers.load(Ordering::SeqCst) != 0 {
            self.wake_all();
        }
    }

    #[cold]
    fn wake_all(&self) {
        futex::wake_all(&self.word);
    }

    /// Clears the flag.
    #[inline]
    pub(crate) fn clear(&self) {
        self.word.fetch_and(!SET, Ordering::SeqCst);
    }

    /// True while the flag is set.
    #[inline]
    pub(crate) fn is_set(&self) -> bool {
        self.word.load(Ordering::Acquire) & SET != 0
    }

    /// Waits until the flag is set: `Ok` if it is set, or was set at any moment
    /// during the wait; `Timeout`; `Intr` (a signal handler ran and the flag was not
    /// raised meanwhile).
    /// The deadline is computed once, on the slow path (a set flag needs no clock).
    #[inline]
    pub(crate) fn wait<W: WaitLimit>(&self, limit: W) -> Status {
        let entry = self.word.load(Ordering::Acquire);
        if entry & SET != 0 {
            return Status::Ok;
        }
        self.wait_slow(entry, &limit.deadline())
    }

    #[cold]
    fn wait_slow(&self, entry: u32, deadline: &Deadline) -> Status {
        let raised = |w: u32| w & SET != 0 || (w ^ entry) & !SET != 0;
        if deadline.is_now() {
            return Status::Timeout;
        }
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let result = loop {
            let w = self.word.load(Ordering::SeqCst);
            if raised(w) {
                break Status::Ok;
            }
            let why = match futex::wait(&self.word, w, deadline) {
                Wake::Retry => continue,
                Wake::TimedOut => Status::Timeout,
                Wake::Interrupted => Status::Intr,
            };
            // A raise that raced with the timeout or the signal still counts.
            break if raised(self.word.load(Ordering::SeqCst)) {
                Status::Ok
            } else {
                why
            };
        };
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Ends an in-place event: `Busy` while threads really wait on it (see
    /// [`super::has_sleepers`]: a waiter killed while waiting does not count).
    pub(crate) fn destroy(&self) -> Status {
        if super::has_sleepers(&self.sleepers, &self.word) {
            return Status::Busy;
        }
        self.header.retire();
        Status::Ok
    }

    /// Read-only snapshot for inspectors: `(set, sleepers)`; `sleepers` over-counts
    /// waiters killed while waiting. Racy; never blocks.
    pub(crate) fn snapshot(&self) -> (bool, u32) {
        (self.is_set(), self.sleepers.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::test_util::fresh;
    use crate::sys::time::Timeout;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    fn new_event() -> Arc<RawEvent> {
        fresh(|e: &RawEvent| e.init(Lifecycle::InPlace))
    }

    #[test]
    fn set_clear_wait() {
        assert_eq!(core::mem::size_of::<RawEvent>(), 64);
        let e = new_event();
        assert!(!e.is_set());
        assert_eq!(e.wait(Timeout::NOW), Status::Timeout);
        let t0 = Instant::now();
        assert_eq!(e.wait(Timeout::new(true, 30)), Status::Timeout);
        assert!(t0.elapsed() >= Duration::from_millis(30));
        e.set();
        e.set();
        assert!(e.is_set());
        assert_eq!(e.wait(Timeout::NOW), Status::Ok);
        e.clear();
        e.clear();
        assert!(!e.is_set());
        assert_eq!(e.wait(Timeout::NOW), Status::Timeout);
        assert_eq!(e.destroy(), Status::Ok);
    }

    #[test]
    fn set_wakes_every_waiter_even_if_cleared_at_once() {
        let e = new_event();
        let done = Arc::new(AtomicUsize::new(0));
        let ts: Vec<_> = (0..5)
            .map(|_| {
                let (e, done) = (e.clone(), done.clone());
                std::thread::spawn(move || {
                    assert_eq!(e.wait(Timeout::new(true, 30_000)), Status::Ok);
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        let t0 = Instant::now();
        while e.sleepers.load(Ordering::SeqCst) != 5 {
            assert!(t0.elapsed() < Duration::from_secs(20));
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(e.destroy(), Status::Busy);
        e.set();
        e.clear();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(done.load(Ordering::SeqCst), 5);
        assert!(!e.is_set());
    }

    #[test]
    fn racing_set_clear_never_hangs_a_waiter_that_saw_a_raise() {
        let e = new_event();
        let rounds = if cfg!(miri) { 20 } else { 2_000 };
        let waiter = {
            let e = e.clone();
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    let r = e.wait(Timeout::new(true, 1));
                    assert!(r == Status::Ok || r == Status::Timeout);
                }
            })
        };
        for _ in 0..rounds {
            e.set();
            e.clear();
        }
        waiter.join().unwrap();
        e.set();
        assert_eq!(e.wait(Timeout::NOW), Status::Ok);
        assert_eq!(e.sleepers.load(Ordering::SeqCst), 0);
    }
}

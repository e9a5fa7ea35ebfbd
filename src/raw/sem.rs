//! `Semaphore` / `BoundedSemaphore`: a counter word plus a sleeper count.
//!
//! Uncontended acquire is one `compare_exchange` (after a load), release one
//! `compare_exchange` plus a plain load of the sleeper count: the same as glibc's
//! `sem_wait`/`sem_post`, with the bound (`max_value`) checked in the same atomic step
//! (CPython's check-then-post is racy; ours is not).

use core::sync::atomic::{AtomicU32, Ordering};

use super::header::{Header, Kind, Lifecycle};
use super::spin::spin_while;
use crate::status::Status;
use crate::sys::futex::{self, Wake};
use crate::sys::time::WaitLimit;

/// Largest value (CPython's `SEM_VALUE_MAX` on Linux).
pub(crate) const SEM_VALUE_MAX: u32 = i32::MAX as u32;

/// Shared layout (64 bytes, 8-aligned):
///
/// ```text
/// +0   header    (8)
/// +8   value     u32  available units, 0..=max_value (the futex word)
/// +12  sleepers  u32  threads registered as (about to be) asleep on `value`
/// +16  max_value u32  immutable after init
/// +20  reserved  (44)
/// ```
///
/// State table of `(value, sleepers)`:
///
/// | value | sleepers | meaning                                                      |
/// |-------|----------|--------------------------------------------------------------|
/// | > 0   | 0        | units available, nobody waits: acquire is one CAS            |
/// | 0     | 0        | empty; the next acquirer registers and sleeps                |
/// | 0     | > 0      | empty, waiters asleep (or about to sleep) on `value == 0`    |
/// | > 0   | > 0      | a release just happened and woke one sleeper, which will take |
/// |       |          | a unit or go back to sleep if another thread took it first    |
///
/// A waiter increments `sleepers` *before* it re-checks `value` (and the kernel
/// re-checks `value == 0` atomically with queueing the sleeper); a releaser increments
/// `value` *before* it reads `sleepers`. Both steps are `SeqCst`, so at least one side
/// sees the other: either the waiter sees the unit, or the releaser sees the sleeper
/// and wakes it. A sleeper killed while registered leaves `sleepers` too high, which
/// costs later releases one needless `FUTEX_WAKE` but never a lost wake-up (and
/// `destroy` asks the kernel whether anyone really sleeps).
#[repr(C)]
pub(crate) struct RawSem {
    header: Header,
    value: AtomicU32,
    sleepers: AtomicU32,
    max_value: AtomicU32,
    _reserved: [u32; 11],
}

published_layout!(RawSem, size = 64, align = 8);

impl RawSem {
    /// Checks the creation arguments: `value <= max_value <= SEM_VALUE_MAX`
    /// (`BoundedSemaphore(0)` is accepted, as in CPython).
    pub(crate) fn valid_args(value: u32, max_value: u32) -> bool {
        value <= max_value && max_value <= SEM_VALUE_MAX
    }

    /// Initialises and publishes. Arguments must satisfy [`RawSem::valid_args`].
    pub(crate) fn init(&self, value: u32, max_value: u32, lifecycle: Lifecycle) {
        self.value.store(value, Ordering::Relaxed);
        self.sleepers.store(0, Ordering::Relaxed);
        self.max_value.store(max_value, Ordering::Relaxed);
        self.header.publish(Kind::Sem, lifecycle);
    }

    /// The object header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// Takes one unit: `Ok`, `Timeout`, or `Intr` (nothing taken).
    #[inline]
    pub(crate) fn acquire<W: WaitLimit>(&self, limit: W) -> Status {
        let v = self.value.load(Ordering::Relaxed);
        if v > 0
            && self
                .value
                .compare_exchange(v, v - 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            return Status::Ok;
        }
        self.acquire_slow(limit)
    }

    /// Takes a unit if one is available, retrying only on CAS races.
    fn try_take(&self) -> bool {
        let mut v = self.value.load(Ordering::Relaxed);
        while v > 0 {
            match self
                .value
                .compare_exchange_weak(v, v - 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
        false
    }

    #[cold]
    #[inline(never)]
    fn acquire_slow<W: WaitLimit>(&self, limit: W) -> Status {
        if self.try_take() {
            return Status::Ok;
        }
        let deadline = &limit.deadline();
        if deadline.is_now() {
            return Status::Timeout;
        }
        // A unit is likely to come back soon if nobody sleeps yet: watch for it briefly.
        if self.sleepers.load(Ordering::Relaxed) == 0 {
            spin_while(&self.value, |v| v == 0);
            if self.try_take() {
                return Status::Ok;
            }
        }
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let result = loop {
            if self.try_take() {
                break Status::Ok;
            }
            match futex::wait(&self.value, 0, deadline) {
                // Taking a unit that arrived just at the deadline is fine; returning
                // Timeout with a unit available is fine too (never before the deadline).
                Wake::TimedOut => break Status::Timeout,
                Wake::Interrupted => break Status::Intr,
                Wake::Retry => {}
            }
        };
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Returns one unit: `Ok`, or `Overflow` at `max_value` (nothing changed).
    #[inline]
    pub(crate) fn release(&self) -> Status {
        let max = self.max_value.load(Ordering::Relaxed);
        let mut v = self.value.load(Ordering::Relaxed);
        loop {
            if v >= max {
                return Status::Overflow;
            }
            match self
                .value
                .compare_exchange_weak(v, v + 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => v = now,
            }
        }
        if self.sleepers.load(Ordering::SeqCst) != 0 {
            self.wake_one();
        }
        Status::Ok
    }

    #[cold]
    fn wake_one(&self) {
        futex::wake(&self.value, 1);
    }

    /// Current value.
    #[inline]
    pub(crate) fn value(&self) -> u32 {
        self.value.load(Ordering::Relaxed)
    }

    /// Maximum value.
    #[inline]
    pub(crate) fn max_value(&self) -> u32 {
        self.max_value.load(Ordering::Relaxed)
    }

    /// Ends an in-place semaphore: `Busy` while threads really wait on it (see
    /// [`super::has_sleepers`]: a waiter killed while waiting does not count).
    pub(crate) fn destroy(&self) -> Status {
        if super::has_sleepers(&self.sleepers, &self.value) {
            return Status::Busy;
        }
        self.header.retire();
        Status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::test_util::{admits_at_most, fresh};
    use crate::sys::time::Timeout;
    use std::sync::Arc;

    fn new_sem(v: u32, max: u32) -> Arc<RawSem> {
        fresh(|s: &RawSem| s.init(v, max, Lifecycle::InPlace))
    }

    #[test]
    fn bounded_semantics() {
        let s = new_sem(2, 2);
        assert_eq!(s.release(), Status::Overflow);
        assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(s.acquire(Timeout::NOW), Status::Timeout);
        assert_eq!(s.value(), 0);
        assert_eq!(s.release(), Status::Ok);
        assert_eq!(s.value(), 1);
        assert!(RawSem::valid_args(0, 0));
        assert!(!RawSem::valid_args(3, 2));
        assert!(!RawSem::valid_args(0, SEM_VALUE_MAX + 1));
    }

    #[test]
    fn never_admits_more_than_k() {
        let s = new_sem(3, SEM_VALUE_MAX);
        admits_at_most(3, || s.acquire(Timeout::FOREVER), || s.release());
        assert_eq!(s.value(), 3);
    }

    #[test]
    fn release_wakes_a_sleeper() {
        let s = new_sem(0, 1);
        let s2 = s.clone();
        let t = std::thread::spawn(move || s2.acquire(Timeout::new(true, 10_000)));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(s.release(), Status::Ok);
        assert_eq!(t.join().unwrap(), Status::Ok);
        assert_eq!(s.destroy(), Status::Ok);
    }
}

//! Deadlines on `CLOCK_MONOTONIC`.
//!
//! A timeout is turned into an absolute deadline exactly once, when a call starts;
//! every retry after a spurious wake-up or `EINTR` reuses it, so the total wait never
//! grows, and changing the wall clock never shortens or lengthens it.

use core::time::Duration;

/// When a blocking operation must give up.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Deadline {
    /// Try once; never sleep (`block == false`, or `timeout_ms == 0`).
    Now,
    /// Sleep as long as needed (`timeout_ms < 0`).
    Never,
    /// Absolute `CLOCK_MONOTONIC` time.
    At(libc::timespec),
}

// By value (libc's `timespec` has no `PartialEq` without its `extra_traits` feature): the
// safe API's `Deadline`, a newtype over this one, compares deadlines.
impl PartialEq for Deadline {
    fn eq(&self, other: &Deadline) -> bool {
        match (self, other) {
            (Deadline::Now, Deadline::Now) | (Deadline::Never, Deadline::Never) => true,
            (Deadline::At(a), Deadline::At(b)) => (a.tv_sec, a.tv_nsec) == (b.tv_sec, b.tv_nsec),
            _ => false,
        }
    }
}

impl Eq for Deadline {}

/// A C-style `(block, timeout_ms)` pair, kept as the two arguments arrived (two
/// registers, nothing computed), for fast paths that should not read the clock: an
/// uncontended acquire never needs a deadline, so slow paths turn it into one
/// ([`Timeout::deadline`]) first thing. (Folding the pair into one value cost the
/// C entry points three instructions before their fast paths.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeout {
    block: bool,
    timeout_ms: i64,
}

impl Timeout {
    /// Try once, never sleep.
    #[cfg(test)]
    pub(crate) const NOW: Timeout = Timeout {
        block: false,
        timeout_ms: 0,
    };
    /// Wait as long as needed.
    pub(crate) const FOREVER: Timeout = Timeout {
        block: true,
        timeout_ms: -1,
    };

    /// `block == false` ignores the timeout (CPython semantics); then as
    /// [`Deadline::from_timeout`].
    #[inline]
    pub(crate) fn new(block: bool, timeout_ms: i64) -> Timeout {
        Timeout { block, timeout_ms }
    }

    /// The absolute deadline, measured from now.
    pub(crate) fn deadline(self) -> Deadline {
        Deadline::from_timeout(self.block, self.timeout_ms)
    }
}

/// How long a blocking call may wait, in the form its caller has it: the C ABI's lazy
/// [`Timeout`] (relative, made absolute only on a slow path) or an absolute [`Deadline`]
/// (the safe API's, computed once by its caller). The state machines' blocking entry
/// points are generic over it, so that each face pays only for its own form:
/// monomorphised for `Timeout`, the C ABI's path is the code it was before `Deadline`
/// could be passed, and a `Deadline` is used as it is (no round trip through
/// milliseconds, and a retry after `EINTR` waits only for the time left).
pub(crate) trait WaitLimit: Copy {
    /// The absolute deadline. Slow paths call it first thing: for a [`Timeout`] it reads
    /// the clock (a positive timeout counts from now).
    fn deadline(self) -> Deadline;
}

impl WaitLimit for Timeout {
    // Always inlined into the inherent method's call: the machine code of the C ABI's
    // paths is then exactly what it was before this trait existed.
    #[inline(always)]
    fn deadline(self) -> Deadline {
        Timeout::deadline(self)
    }
}

impl WaitLimit for Deadline {
    #[inline(always)]
    fn deadline(self) -> Deadline {
        self
    }
}

/// Current `CLOCK_MONOTONIC` time.
pub(crate) fn monotonic_now() -> libc::timespec {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on
    // Linux, so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts
}

impl Deadline {
    /// The deadline for a C-style `(block, timeout_ms)` pair: `block == false`
    /// ignores the timeout (CPython semantics), `0` means "try once", a negative
    /// value waits forever. A timeout too large to represent waits forever.
    pub(crate) fn from_timeout(block: bool, timeout_ms: i64) -> Deadline {
        if !block || timeout_ms == 0 {
            return Deadline::Now;
        }
        if timeout_ms < 0 {
            return Deadline::Never;
        }
        Deadline::after_ms(timeout_ms)
    }

    /// `timeout` from now, on `CLOCK_MONOTONIC` (what `std::time::Instant` uses on
    /// Linux): `Now` for a zero duration (try once), `Never` past what a `timespec` can
    /// express.
    pub(crate) fn after(timeout: Duration) -> Deadline {
        if timeout.is_zero() {
            return Deadline::Now;
        }
        Deadline::at_offset(monotonic_now(), timeout)
    }

    /// `instant` (a `std::time::Instant`, which reads `CLOCK_MONOTONIC` on Linux) as a
    /// deadline, converted once: `Now` if it is not in the future. Never earlier than
    /// `instant` (the clock is read for the offset first, for the base second).
    pub(crate) fn at_instant(instant: std::time::Instant) -> Deadline {
        let left = instant.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Deadline::Now;
        }
        Deadline::at_offset(monotonic_now(), left)
    }

    /// `now + timeout`, or `Never` if that overflows a `timespec`.
    fn at_offset(now: libc::timespec, timeout: Duration) -> Deadline {
        let Ok(secs) = libc::time_t::try_from(timeout.as_secs()) else {
            return Deadline::Never;
        };
        // Both below 10^9, so the sum fits and needs at most one carry.
        let nanos = now.tv_nsec + timeout.subsec_nanos() as libc::c_long;
        let carry = libc::time_t::from(nanos >= 1_000_000_000);
        let Some(sec) = now
            .tv_sec
            .checked_add(secs)
            .and_then(|s| s.checked_add(carry))
        else {
            return Deadline::Never;
        };
        Deadline::At(libc::timespec {
            tv_sec: sec,
            tv_nsec: if carry == 1 {
                nanos - 1_000_000_000
            } else {
                nanos
            },
        })
    }

    /// The time left: `None` for `Never`, zero for `Now` and for a deadline that passed.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        match self {
            Deadline::Now => Some(Duration::ZERO),
            Deadline::Never => None,
            Deadline::At(at) => {
                let now = monotonic_now();
                let mut secs = at.tv_sec.saturating_sub(now.tv_sec);
                let mut nanos = at.tv_nsec - now.tv_nsec;
                if nanos < 0 {
                    nanos += 1_000_000_000;
                    secs -= 1;
                }
                if secs < 0 {
                    return Some(Duration::ZERO);
                }
                // Non-negative and below 10^9 here.
                Some(Duration::new(secs as u64, nanos as u32))
            }
        }
    }

    /// `timeout_ms` (> 0) from now.
    fn after_ms(timeout_ms: i64) -> Deadline {
        let now = monotonic_now();
        let secs = timeout_ms / 1000;
        let nanos = (timeout_ms % 1000) * 1_000_000 + now.tv_nsec;
        let Some(mut sec) = now.tv_sec.checked_add(secs) else {
            return Deadline::Never;
        };
        let mut nsec = nanos;
        if nsec >= 1_000_000_000 {
            nsec -= 1_000_000_000;
            sec = match sec.checked_add(1) {
                Some(s) => s,
                None => return Deadline::Never,
            };
        }
        Deadline::At(libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        })
    }

    /// True when the caller must not sleep.
    #[inline]
    pub(crate) fn is_now(&self) -> bool {
        matches!(self, Deadline::Now)
    }

    /// True when the deadline has passed (always for `Now`, never for `Never`).
    pub(crate) fn expired(&self) -> bool {
        match self {
            Deadline::Now => true,
            Deadline::Never => false,
            Deadline::At(at) => {
                let now = monotonic_now();
                (now.tv_sec, now.tv_nsec) >= (at.tv_sec, at.tv_nsec)
            }
        }
    }

    /// The earlier of `self` and `ms` milliseconds from now (used by the owner-death
    /// back-stop, which wakes up periodically to look at the owner).
    pub(crate) fn capped_ms(&self, ms: i64) -> Deadline {
        let cap = Deadline::after_ms(ms);
        match (self, &cap) {
            (Deadline::At(a), Deadline::At(c))
                if (a.tv_sec, a.tv_nsec) <= (c.tv_sec, c.tv_nsec) =>
            {
                *self
            }
            (Deadline::Now, _) => Deadline::Now,
            _ => cap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_mapping() {
        assert!(Deadline::from_timeout(false, 5000).is_now());
        assert!(Deadline::from_timeout(true, 0).is_now());
        assert!(matches!(Deadline::from_timeout(true, -1), Deadline::Never));
        assert!(matches!(Deadline::from_timeout(true, -77), Deadline::Never));
        assert!(matches!(
            Deadline::from_timeout(true, i64::MAX),
            Deadline::Never | Deadline::At(_)
        ));
        let d = Deadline::from_timeout(true, 1500);
        assert!(!d.expired());
        if let Deadline::At(ts) = d {
            assert!(ts.tv_nsec < 1_000_000_000);
        } else {
            panic!("expected an absolute deadline");
        }
    }

    #[test]
    fn timeouts_become_deadlines_late() {
        assert!(Timeout::new(false, 10).deadline().is_now());
        assert!(Timeout::new(true, 0).deadline().is_now());
        assert!(Timeout::NOW.deadline().is_now());
        assert!(matches!(Timeout::new(true, -5).deadline(), Deadline::Never));
        assert!(matches!(Timeout::FOREVER.deadline(), Deadline::Never));
        assert!(matches!(Timeout::new(true, 20).deadline(), Deadline::At(_)));
    }

    #[test]
    fn absolute_deadlines_from_durations_and_instants() {
        assert!(Deadline::after(Duration::ZERO).is_now());
        assert_eq!(Deadline::after(Duration::MAX), Deadline::Never);
        let d = Deadline::after(Duration::from_millis(1500));
        let Deadline::At(ts) = d else { panic!() };
        assert!(ts.tv_nsec < 1_000_000_000);
        let left = d.remaining().unwrap();
        assert!(left <= Duration::from_millis(1500) && left > Duration::from_millis(1000));
        assert_eq!(Deadline::Never.remaining(), None);
        assert_eq!(Deadline::Now.remaining(), Some(Duration::ZERO));
        let past = Deadline::at_offset(monotonic_now(), Duration::from_nanos(1));
        std::thread::sleep(Duration::from_millis(1));
        assert_eq!(past.remaining(), Some(Duration::ZERO));
        assert!(past.expired());
        let now = std::time::Instant::now();
        assert!(Deadline::at_instant(now).is_now());
        let later = Deadline::at_instant(now + Duration::from_secs(5));
        assert!(later.remaining().unwrap() > Duration::from_secs(4));
        assert_eq!(later, later);
        assert_ne!(later, Deadline::Never);
    }

    #[test]
    fn capped_picks_the_earlier() {
        let far = Deadline::from_timeout(true, 60_000);
        let Deadline::At(c) = far.capped_ms(10) else {
            panic!()
        };
        let Deadline::At(f) = far else { panic!() };
        assert!((c.tv_sec, c.tv_nsec) < (f.tv_sec, f.tv_nsec));
        assert!(matches!(Deadline::Never.capped_ms(10), Deadline::At(_)));
        assert!(Deadline::Now.capped_ms(10).is_now());
    }
}

//! [`Deadline`]: when a blocking call of the safe API gives up.

use core::time::Duration;
use std::time::Instant;

use crate::sys::time;

/// When a blocking call gives up: an absolute time on the monotonic clock
/// (`CLOCK_MONOTONIC`, which [`Instant`] uses on Linux), or never, or now (try once).
/// Computed once per operation and handed to the state machines as it is: retrying after
/// [`Error::Interrupted`](crate::Error::Interrupted) with the same value waits only for
/// the time left.
///
/// ```
/// use mpsync::{Deadline, Lock};
/// use std::time::Duration;
/// let lock = Lock::new()?;
/// let _held = lock.acquire(Deadline::forever())?;
/// let deadline = Deadline::after(Duration::from_millis(20));
/// assert!(lock.acquire(deadline)?.is_none()); // waited 20 ms, then gave up
/// assert_eq!(deadline.remaining(), Some(Duration::ZERO));
/// // Any `Into<Deadline>` will do: a `Duration`, an `Instant`, an `Option<Duration>`.
/// assert!(lock.acquire(Duration::ZERO)?.is_none());
/// # Ok::<(), mpsync::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline(pub(crate) time::Deadline);

impl Deadline {
    /// Wait as long as needed.
    pub const fn forever() -> Deadline {
        Deadline(time::Deadline::Never)
    }

    /// Do not wait: try once.
    pub const fn now() -> Deadline {
        Deadline(time::Deadline::Now)
    }

    /// Wait at most `timeout` from now (a zero duration tries once; one further than the
    /// clock can express waits forever).
    pub fn after(timeout: Duration) -> Deadline {
        Deadline(time::Deadline::after(timeout))
    }

    /// Wait until `instant` (converted to the clock's time once, here; an instant that
    /// is not in the future tries once).
    pub fn at(instant: Instant) -> Deadline {
        Deadline(time::Deadline::at_instant(instant))
    }

    /// Time left, or `None` for forever.
    pub fn remaining(&self) -> Option<Duration> {
        self.0.remaining()
    }
}

impl From<Option<Duration>> for Deadline {
    /// `None` waits forever; `Some(d)` waits at most `d`.
    fn from(timeout: Option<Duration>) -> Deadline {
        timeout.map_or(Deadline::forever(), Deadline::after)
    }
}

impl From<Duration> for Deadline {
    fn from(timeout: Duration) -> Deadline {
        Deadline::after(timeout)
    }
}

impl From<Instant> for Deadline {
    fn from(instant: Instant) -> Deadline {
        Deadline::at(instant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_absolute_and_converted_once() {
        assert_eq!(Deadline::forever().remaining(), None);
        assert_eq!(Deadline::now().remaining(), Some(Duration::ZERO));
        assert_eq!(Deadline::from(None), Deadline::forever());
        assert_eq!(Deadline::after(Duration::ZERO), Deadline::now());
        assert_eq!(Deadline::at(Instant::now()), Deadline::now());
        assert_eq!(Deadline::after(Duration::MAX), Deadline::forever());
        let d = Deadline::after(Duration::from_millis(200));
        // The same value each time it is read: the time left only shrinks.
        let first = d.remaining().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let second = d.remaining().unwrap();
        assert!(first <= Duration::from_millis(200));
        assert!(second + Duration::from_millis(20) <= first);
        let at = Instant::now() + Duration::from_secs(3);
        let left = Deadline::from(at).remaining().unwrap();
        assert!(left > Duration::from_secs(2) && left <= Duration::from_secs(3));
    }
}

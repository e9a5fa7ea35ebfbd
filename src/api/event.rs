//! [`Event`]: `multiprocessing.Event`.

use core::ptr::NonNull;

use super::deadline::Deadline;
use super::error::{Error, Outcome, split};
use super::handle::{Life, object_handle, plain_constructors, raw_methods};
use crate::raw::event::RawEvent;

/// A flag that threads of any process can wait for (the C type `mp_event_t`, what
/// [`Event::as_ptr`] points to).
///
/// ```
/// use mpsync::{Deadline, Event, Outcome};
/// let ev = Event::new()?;
/// assert_eq!(ev.wait(Deadline::now())?, Outcome::Timeout);
/// ev.set()?;
/// assert_eq!(ev.wait(Deadline::forever())?, Outcome::Ok);
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct Event {
    ptr: NonNull<RawEvent>,
    life: Life,
}

object_handle!(Event, RawEvent);
plain_constructors!(
    Event,
    RawEvent,
    RawEvent::init,
    c = "event",
    C = "EVENT",
    noun = "event",
    fresh = "clear"
);

impl Event {
    raw_methods! {
        /// Sets the flag and wakes every waiter.
        fn set();
        /// Clears the flag.
        fn clear();
        /// Whether the flag is set (a snapshot).
        fn is_set -> bool = is_set;
    }

    /// Waits until the flag is set or `deadline`: `Outcome::Ok` (set at some moment
    /// during the wait), `Outcome::Timeout`, or [`Error::Interrupted`].
    pub fn wait(&self, deadline: impl Into<Deadline>) -> Result<Outcome, Error> {
        self.wait_until(deadline.into())
    }

    /// [`Event::wait`] past its generic face: monomorphic and not inline (see the
    /// `handle` module docs).
    fn wait_until(&self, deadline: Deadline) -> Result<Outcome, Error> {
        split(self.raw()?.wait(deadline.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    extern "C" fn on_signal(_: libc::c_int) {}

    /// A signal handler interrupts the wait with `Error::Interrupted`; retrying with the
    /// same deadline waits for the time left only, and never ends early.
    #[test]
    #[cfg_attr(miri, ignore = "signals")]
    fn interrupted_waits_resume_with_the_same_deadline() {
        // SAFETY: a handler that does nothing, installed without SA_RESTART so that
        // the wait sees EINTR; SIGUSR2 is used by no other test.
        unsafe {
            let mut sa: libc::sigaction = core::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(
                libc::sigaction(libc::SIGUSR2, &sa, core::ptr::null_mut()),
                0
            );
        }
        let ev = Event::new().unwrap();
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() } as usize;
        let poker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            // SAFETY: the test thread is alive until it joins this thread.
            unsafe { libc::pthread_kill(me as libc::pthread_t, libc::SIGUSR2) };
        });
        let start = Instant::now();
        let deadline = Deadline::after(Duration::from_millis(300));
        let mut interrupted = 0;
        let outcome = loop {
            match ev.wait(deadline) {
                Err(Error::Interrupted) => interrupted += 1,
                other => break other,
            }
        };
        poker.join().unwrap();
        assert_eq!(outcome, Ok(Outcome::Timeout));
        assert_eq!(interrupted, 1);
        assert!(start.elapsed() >= Duration::from_millis(300));
    }
}

//! [`Event`]: `multiprocessing.Event`.

use core::ptr::NonNull;

use super::error::{result, unit};
use super::{Deadline, Error, Life, OpenOptions, Outcome, c_name, object_handle};
use crate::ffi::event::{
    MP_EVENT_ALIGN, MP_EVENT_SIZE, mp_event_clear, mp_event_close, mp_event_destroy, mp_event_init,
    mp_event_is_set, mp_event_new, mp_event_open, mp_event_set, mp_event_t, mp_event_wait,
};

/// A flag that threads of any process can wait for (the C type `mp_event_t`).
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
    ptr: NonNull<mp_event_t>,
    life: Life,
}

object_handle!(Event, mp_event_t, mp_event_close, mp_event_destroy);

impl Event {
    /// Size in bytes of the in-place object (`MP_EVENT_SIZE`).
    pub const SIZE: usize = MP_EVENT_SIZE;
    /// Required alignment of the in-place object (`MP_EVENT_ALIGN`).
    pub const ALIGN: usize = MP_EVENT_ALIGN;

    /// A clear event in a new anonymous shared mapping, inherited by `fork()`ed children.
    pub fn new() -> Result<Event, Error> {
        // SAFETY: a valid out-pointer.
        Self::mapped_by(|out| unsafe { mp_event_new(out) })
    }

    /// Opens, or creates clear, the event called `name`.
    pub fn open(name: &str, options: &OpenOptions) -> Result<Event, Error> {
        let name = c_name(name)?;
        // SAFETY: a NUL-terminated name and a valid out-pointer.
        Self::mapped_by(|out| unsafe {
            mp_event_open(name.as_ptr(), options.flags(), options.mode_bits(), out)
        })
    }

    /// Initialises a clear event at `mem` (`mp_event_init`).
    ///
    /// # Safety
    /// `mem` points to [`Event::SIZE`] writable bytes, [`Event::ALIGN`]-aligned, that
    /// stay valid while any handle to them lives; no thread uses an event there.
    pub unsafe fn init_at(mem: *mut u8) -> Result<Event, Error> {
        // SAFETY: forwarded contract.
        Self::in_place_after(mem, unsafe { mp_event_init(mem.cast()) })
    }

    /// A handle on an event already initialised at `mem`.
    ///
    /// # Safety
    /// `mem` points to [`Event::SIZE`] readable bytes that stay valid while the handle
    /// lives.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<Event, Error> {
        let mut set = false;
        // SAFETY: forwarded contract; a valid out-pointer.
        Self::in_place_after(mem, unsafe { mp_event_is_set(mem.cast(), &mut set) })
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) -> Result<(), Error> {
        // SAFETY: a live handle.
        unit(unsafe { mp_event_set(self.ptr.as_ptr()) })
    }

    /// Clears the flag.
    pub fn clear(&self) -> Result<(), Error> {
        // SAFETY: a live handle.
        unit(unsafe { mp_event_clear(self.ptr.as_ptr()) })
    }

    /// Whether the flag is set (a snapshot).
    pub fn is_set(&self) -> Result<bool, Error> {
        let mut set = false;
        // SAFETY: a live handle and a valid out-pointer.
        unit(unsafe { mp_event_is_set(self.ptr.as_ptr(), &mut set) })?;
        Ok(set)
    }

    /// Waits until the flag is set or `deadline`: `Outcome::Ok` (set at some moment
    /// during the wait), `Outcome::Timeout`, or [`Error::Interrupted`].
    pub fn wait(&self, deadline: impl Into<Deadline>) -> Result<Outcome, Error> {
        let ms = deadline.into().timeout_ms();
        // SAFETY: a live handle.
        result(unsafe { mp_event_wait(self.ptr.as_ptr(), ms) })
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

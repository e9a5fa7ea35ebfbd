//! [`Event`]: `multiprocessing.Event`.

use core::ptr::NonNull;

use super::error::{result, unit};
use super::{Deadline, Error, Life, OpenOptions, Outcome, c_name, construct, object_handle};
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
        let ptr = construct(|out| unsafe { mp_event_new(out) })?;
        Ok(Event {
            ptr,
            life: Life::Mapped,
        })
    }

    /// Opens, or creates clear, the event called `name`.
    pub fn open(name: &str, options: &OpenOptions) -> Result<Event, Error> {
        let name = c_name(name)?;
        // SAFETY: a NUL-terminated name and a valid out-pointer.
        let ptr = construct(|out| unsafe {
            mp_event_open(name.as_ptr(), options.flags(), options.mode_bits(), out)
        })?;
        Ok(Event {
            ptr,
            life: Life::Mapped,
        })
    }

    /// Initialises a clear event at `mem` (`mp_event_init`).
    ///
    /// # Safety
    /// `mem` points to [`Event::SIZE`] writable bytes, [`Event::ALIGN`]-aligned, that
    /// stay valid while any handle to them lives; no thread uses an event there.
    pub unsafe fn init_at(mem: *mut u8) -> Result<Event, Error> {
        // SAFETY: forwarded contract.
        unit(unsafe { mp_event_init(mem.cast()) })?;
        // SAFETY: the library accepted `mem`, so it is not NULL.
        let ptr = unsafe { NonNull::new_unchecked(mem.cast()) };
        Ok(Event {
            ptr,
            life: Life::InPlace,
        })
    }

    /// A handle on an event already initialised at `mem`.
    ///
    /// # Safety
    /// `mem` points to [`Event::SIZE`] readable bytes that stay valid while the handle
    /// lives.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<Event, Error> {
        let mut set = false;
        // SAFETY: forwarded contract; a valid out-pointer.
        unit(unsafe { mp_event_is_set(mem.cast(), &mut set) })?;
        // SAFETY: the library accepted `mem`, so it is not NULL.
        let ptr = unsafe { NonNull::new_unchecked(mem.cast()) };
        Ok(Event {
            ptr,
            life: Life::InPlace,
        })
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

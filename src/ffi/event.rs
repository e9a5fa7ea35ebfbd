//! `mp_event_t`: CPython's `multiprocessing.Event`, whose `set` never blocks.

use super::boundary::{code_of, object};
use super::status::mp_status;
use crate::raw::event::RawEvent;
use crate::sys::time::Timeout;

c_object! {
    /// A flag that threads of any process can wait for. Plain memory, like `mp_lock_t`.
    /// Setting it never blocks, also when a waiter died inside `mp_event_wait`.
    pub struct mp_event_t([u64; 8]) = RawEvent, MP_EVENT_SIZE = 64, MP_EVENT_ALIGN = 8;
    /// Initialises a clear event in caller-provided memory (`MP_EVENT_SIZE` bytes,
    /// `MP_EVENT_ALIGN`-aligned; in a `MAP_SHARED` mapping to share it).
    ///
    /// Returns `MP_OK`, or `MP_EINVAL` for NULL or misaligned memory.
    ///
    /// # Safety
    /// `event` is NULL or points to `MP_EVENT_SIZE` writable bytes.
    init mp_event_init(event -> event_out);
    /// Ends an event made by `mp_event_init`.
    ///
    /// Returns `MP_OK`, `MP_EBUSY` (threads wait on it; a waiter killed inside
    /// `mp_event_wait` keeps counting), `MP_EINVAL` (NULL, or not an in-place object),
    /// `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `event` is NULL or points to `MP_EVENT_SIZE` readable bytes.
    destroy mp_event_destroy;
    lifecycle mp_event_new, mp_event_open, mp_event_close for "event", "a clear event";
}

c_calls! {
    /// Sets the flag and wakes every thread waiting for it (each returns `MP_OK`, even
    /// if the flag is cleared again before it runs). Setting a set event does nothing.
    /// Never blocks.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `event` is NULL or points to `MP_EVENT_SIZE` readable bytes.
    fn mp_event_set(event: mp_event_t) = RawEvent::set;
    /// Clears the flag: later `mp_event_wait` calls block until the next `mp_event_set`.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `event` is NULL or points to `MP_EVENT_SIZE` readable bytes.
    fn mp_event_clear(event: mp_event_t) = RawEvent::clear;
}

c_queries! {
    /// Writes whether the flag is set to `*set_out` (a snapshot).
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `event` is NULL or points to `MP_EVENT_SIZE` readable bytes; `set_out` is NULL or
    /// writable.
    fn mp_event_is_set(event: mp_event_t) -> set_out: bool = RawEvent::is_set;
}

/// Waits until the flag is set. `timeout_ms`: negative (`MP_FOREVER`) waits forever,
/// 0 checks once, positive waits at most that long on `CLOCK_MONOTONIC`.
///
/// Returns `MP_OK` if the flag is set, or was set at any moment during the wait;
/// `MP_TIMEOUT` (never before the timeout); `MP_EINTR` (a signal handler ran and the
/// flag was not set meanwhile); `MP_EINVAL`; `MP_EBADOBJ`.
///
/// # Safety
/// `event` is NULL or points to `MP_EVENT_SIZE` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_event_wait(event: *mut mp_event_t, timeout_ms: i64) -> mp_status {
    // SAFETY: forwarded contract.
    code_of(unsafe { object::<RawEvent, _>(event) }.map(|e| e.wait(Timeout::new(true, timeout_ms))))
}

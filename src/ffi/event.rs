//! `mp_event_t`: CPython's `multiprocessing.Event`, whose `set` never blocks.

use core::ffi::c_char;

use super::boundary::{code, code_of, ffi_out, object, open_fixed, storage};
use super::status::mp_status;
use crate::api::lifecycle;
use crate::raw::event::RawEvent;
use crate::raw::header::Lifecycle;
use crate::sys::time::Timeout;

/// Size in bytes of `mp_event_t` (part of the ABI).
pub const MP_EVENT_SIZE: usize = 64;
/// Alignment in bytes of `mp_event_t`.
pub const MP_EVENT_ALIGN: usize = 8;

/// A flag that threads of any process can wait for. Plain memory, like `mp_lock_t`.
/// Setting it never blocks, also when a waiter died inside `mp_event_wait`.
#[repr(C)]
pub struct mp_event_t {
    _opaque: [u64; 8],
}

const _: () = {
    assert!(core::mem::size_of::<mp_event_t>() == MP_EVENT_SIZE);
    assert!(core::mem::align_of::<mp_event_t>() == MP_EVENT_ALIGN);
    assert!(MP_EVENT_SIZE == RawEvent::SIZE);
    assert!(MP_EVENT_ALIGN == RawEvent::ALIGN);
};

/// Initialises a clear event in caller-provided memory (`MP_EVENT_SIZE` bytes,
/// `MP_EVENT_ALIGN`-aligned; in a `MAP_SHARED` mapping to share it).
///
/// Returns `MP_OK`, or `MP_EINVAL` for NULL or misaligned memory.
///
/// # Safety
/// `event` is NULL or points to `MP_EVENT_SIZE` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_event_init(event: *mut mp_event_t) -> mp_status {
    // SAFETY: forwarded contract.
    code(unsafe { storage::<RawEvent, _>(event) }.map(|e| e.init(Lifecycle::InPlace)))
}

/// Ends an event made by `mp_event_init`.
///
/// Returns `MP_OK`, `MP_EBUSY` (threads wait on it; a waiter killed inside
/// `mp_event_wait` keeps counting), `MP_EINVAL` (NULL, or not an in-place object),
/// `MP_EBADOBJ`.
///
/// # Safety
/// `event` is NULL or points to `MP_EVENT_SIZE` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_event_destroy(event: *mut mp_event_t) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { super::boundary::destroy::<RawEvent, _>(event) }
}

/// Creates a clear event in a new anonymous shared mapping inherited by `fork()`ed
/// children. Close it with `mp_event_close`.
///
/// Returns `MP_OK` (and writes `*event_out`), `MP_EINVAL`, `MP_ENOMEM`.
///
/// # Safety
/// `event_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_event_new(event_out: *mut *mut mp_event_t) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        ffi_out(event_out, || {
            lifecycle::new_anonymous::<RawEvent>(|e| e.init(Lifecycle::Anonymous))
                .map(|p| p.as_ptr().cast())
        })
    }
}

/// Opens (or with `MP_CREATE` creates, clear) the event called `name`; see
/// `mp_lock_open` for `flags`, `mode` and the race-free creation guarantee.
///
/// Returns `MP_OK` (and writes `*event_out`; `MP_CREATED` with `MP_REPORT_CREATED` if it created it), `MP_EINVAL`, `MP_ENOENT`, `MP_EEXIST`,
/// `MP_EACCES`, `MP_EBADOBJ`, `MP_ENOMEM`, `MP_ESYS`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `event_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_event_open(
    name: *const c_char,
    flags: u32,
    mode: u32,
    event_out: *mut *mut mp_event_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { open_fixed::<RawEvent, _>(name, flags, mode, event_out, |e| e.init(Lifecycle::Named)) }
}

/// Unmaps an event from `mp_event_new` / `mp_event_open` in the calling process.
///
/// A handle is never reused within the process, so closing it twice is `MP_EBADOBJ`
/// and touches no other object.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL or in-place), `MP_EBUSY` (the calling thread
/// holds a lock inside the mapping: nothing changed), `MP_EBADOBJ` (another type's
/// handle, or already closed).
///
/// # Safety
/// `event` is NULL, a handle from this library (closed or not), or readable memory of
/// an in-place object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_event_close(event: *mut mp_event_t) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { super::boundary::close::<RawEvent, _>(event) }
}

/// Sets the flag and wakes every thread waiting for it (each returns `MP_OK`, even
/// if the flag is cleared again before it runs). Setting a set event does nothing.
/// Never blocks.
///
/// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `event` is NULL or points to `MP_EVENT_SIZE` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_event_set(event: *mut mp_event_t) -> mp_status {
    // SAFETY: forwarded contract.
    code(unsafe { object::<RawEvent, _>(event) }.map(RawEvent::set))
}

/// Clears the flag: later `mp_event_wait` calls block until the next `mp_event_set`.
///
/// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `event` is NULL or points to `MP_EVENT_SIZE` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_event_clear(event: *mut mp_event_t) -> mp_status {
    // SAFETY: forwarded contract.
    code(unsafe { object::<RawEvent, _>(event) }.map(RawEvent::clear))
}

/// Writes whether the flag is set to `*set_out` (a snapshot).
///
/// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
///
/// # Safety
/// `event` is NULL or points to `MP_EVENT_SIZE` readable bytes; `set_out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_event_is_set(
    event: *const mp_event_t,
    set_out: *mut bool,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { ffi_out(set_out, || object::<RawEvent, _>(event).map(|e| e.is_set())) }
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

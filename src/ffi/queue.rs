//! `mp_queue_t`: a bounded multi-producer, multi-consumer queue of byte messages in
//! shared memory (docs/queue.md).
//!
//! A queue is a mapping made by this library (anonymous or named); `mp_queue_t *` points
//! at its start. Every call first looks the pointer up in the process's mapping
//! registry, so a pointer this process did not get from `mp_queue_new`/`mp_queue_open`
//! is `MP_EBADOBJ` without being dereferenced, and the descriptor is re-validated
//! against the mapping's real length (see `raw::queue`).

use core::ffi::{c_char, c_void};
use core::ptr::NonNull;

use super::boundary::{c_name, code, ffi_out, open_out};
use super::status::mp_status;
use crate::api::queue_mapping;
use crate::raw::queue::{QueueView, RawQueue};
use crate::status::{MpResult, Status};
use crate::sys::time::Timeout;

/// A queue of byte messages shared by processes: puts are invisible until complete,
/// and a get consumes a message whole or not at all, even when a process is killed in
/// the middle of one (docs/queue.md). Opaque: get one from `mp_queue_new` or
/// `mp_queue_open`, end it with `mp_queue_close`. It is a shared mapping, so a
/// `fork()`ed child uses the parent's pointer.
pub struct mp_queue_t {
    _opaque: [u8; 0],
}

/// The queue whose handle is `q`: `MP_EINVAL` for NULL, `MP_EBADOBJ` unless it is the
/// start of a live queue mapping of this process ([`queue_mapping::view`]).
///
/// # Safety
/// `q` is not closed during `'a` (the caller's contract: no use after `mp_queue_close`).
#[inline(always)]
unsafe fn view<'a>(q: *const mp_queue_t) -> MpResult<QueueView<'a>> {
    let p = NonNull::new(q.cast_mut().cast::<RawQueue>()).ok_or(Status::Inval)?;
    // SAFETY: forwarded contract.
    unsafe { queue_mapping::view(p) }
}

/// `len` bytes at `p` as a slice: `MP_EINVAL` for NULL with a non-zero length.
///
/// # Safety
/// `p` is NULL (then `len == 0` for success) or valid for reads of `len` bytes.
#[inline(always)]
unsafe fn bytes<'a>(p: *const c_void, len: usize) -> MpResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Status::Inval);
    }
    // SAFETY: non-NULL and readable for `len` bytes per the contract.
    Ok(unsafe { core::slice::from_raw_parts(p.cast(), len) })
}

/// Creates an empty queue whose ring holds `capacity_bytes` bytes, in a new anonymous
/// shared mapping inherited by `fork()`ed children. Each message takes 4 bytes of the
/// ring more than its length, so the longest message is `capacity_bytes - 4`.
///
/// Returns `MP_OK` (and writes `*q_out`), `MP_EINVAL` (NULL `q_out`, capacity below 8
/// or above 2^40), `MP_ENOMEM`.
///
/// # Safety
/// `q_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_new(
    capacity_bytes: usize,
    q_out: *mut *mut mp_queue_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_queue_new_bounded(capacity_bytes, 0, q_out) }
}

/// Opens (or with `MP_CREATE` creates) the queue called `name`, so that unrelated
/// processes share it; `flags`, `mode` and race-free creation as in `mp_lock_open`. An
/// existing queue must have a ring of `capacity_bytes` bytes, else `MP_EBADOBJ`;
/// `capacity_bytes == 0` opens an existing queue of any capacity (and cannot create
/// one: `MP_EINVAL`). A file under the name that is not such a queue is `MP_EBADOBJ`;
/// its size is checked before it is mapped.
///
/// Returns `MP_OK` (and writes `*q_out`; `MP_CREATED` with `MP_REPORT_CREATED` if it
/// created it), `MP_EINVAL` (NULL, bad name/flags/mode/capacity), `MP_ENOENT`,
/// `MP_EEXIST`, `MP_EACCES`, `MP_EBADOBJ`, `MP_ENOMEM`, `MP_ESYS`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `q_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_open(
    name: *const c_char,
    flags: u32,
    mode: u32,
    capacity_bytes: usize,
    q_out: *mut *mut mp_queue_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { mp_queue_open_bounded(name, flags, mode, capacity_bytes, 0, q_out) }
}

/// Unmaps a queue in the calling process (it lives on in other processes, and under
/// its name until `mp_unlink`). Decided from the process's private record of its
/// mappings, never from shared memory: a scribbled queue can still be closed, and a
/// closed handle is never dereferenced.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL), `MP_EBUSY` (the calling thread is inside an
/// operation on it, e.g. from a signal handler), `MP_EBADOBJ` (not a queue of this
/// process, e.g. already closed).
///
/// # Safety
/// `q` is NULL or any pointer value (it is not dereferenced).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_close(q: *mut mp_queue_t) -> mp_status {
    code(
        NonNull::new(q.cast::<RawQueue>())
            .ok_or(Status::Inval)
            // SAFETY: `close` decides from the registry, never dereferencing.
            .and_then(|p| unsafe { queue_mapping::close(p) }),
    )
}

/// Puts the `len` bytes at `data` as one message (`len` may be 0). Waits for room as
/// `mp_lock_acquire` waits (`block`, `timeout_ms`). Once it returns `MP_OK` the message
/// is in the queue whatever happens to the caller; if the caller is killed before,
/// nothing of it is ever seen.
///
/// Returns `MP_OK`, `MP_TIMEOUT` (no room in time: nothing put), `MP_EMSGSIZE` (longer
/// than the capacity allows, or the queue's message limit is 0), `MP_ECLOSED` (end of
/// stream was declared), `MP_EINTR`, `MP_EINVAL` (NULL `q`, NULL `data` with `len > 0`),
/// `MP_EBADOBJ` (not a live queue, or another process scribbled on it).
///
/// # Safety
/// `q` is NULL or a live queue of this process; `data` is NULL or readable for `len`
/// bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_put(
    q: *mut mp_queue_t,
    data: *const c_void,
    len: usize,
    block: bool,
    timeout_ms: i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    let put = || unsafe {
        let msg = bytes(data, len)?;
        Ok(view(q)?.put_many(Timeout::new(block, timeout_ms), 1, |_| msg))
    };
    match put() {
        Ok(s) | Err(s) => s.code(),
    }
}

/// Puts `n` messages (`msgs[i]`, `lens[i]` bytes each) all or none, one after another
/// with no other producer's message between them, under one acquisition of the
/// queue's lock. Waits until all of them fit, as `mp_queue_put`.
///
/// Returns `MP_OK` (all put; also for `n == 0`), `MP_TIMEOUT` (none put), `MP_EMSGSIZE`
/// (together they can never fit), `MP_ECLOSED`, `MP_EINTR`, `MP_EINVAL` (NULL arrays
/// with `n > 0`, a NULL message with a non-zero length), `MP_EBADOBJ`.
///
/// # Safety
/// `q` is NULL or a live queue of this process; `msgs` and `lens` are NULL or readable
/// for `n` elements, and each `msgs[i]` is NULL or readable for `lens[i]` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_put_many(
    q: *mut mp_queue_t,
    msgs: *const *const c_void,
    lens: *const usize,
    n: usize,
    block: bool,
    timeout_ms: i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    let put = || unsafe {
        let v = view(q)?;
        if n == 0 {
            return Ok(Status::Ok);
        }
        if msgs.is_null() || lens.is_null() {
            return Err(Status::Inval);
        }
        let ptrs = core::slice::from_raw_parts(msgs, n);
        let lens = core::slice::from_raw_parts(lens, n);
        let mut slices = Vec::new();
        slices.try_reserve_exact(n).map_err(|_| Status::NoMem)?;
        for (&p, &len) in ptrs.iter().zip(lens) {
            slices.push(bytes(p, len)?);
        }
        Ok(v.put_many(Timeout::new(block, timeout_ms), n, |i| slices[i]))
    };
    match put() {
        Ok(s) | Err(s) => s.code(),
    }
}

/// Takes the oldest message into `buf` (`buf_len` bytes) and writes its length to
/// `*msg_len`. Waits for one as `mp_lock_acquire` waits (`block`, `timeout_ms`). A
/// message is consumed exactly when this returns `MP_OK`; a caller killed before that
/// leaves it whole for the next consumer. With any other status the bytes of `buf` are
/// unspecified: a large message is copied before the queue's lock is taken, and that
/// copy is discarded if another consumer took the message first.
///
/// Returns `MP_OK`, `MP_TIMEOUT` (none in time), `MP_EBUFSIZE` (`buf_len` is smaller
/// than the message: nothing consumed, `*msg_len` is the size needed), `MP_ECLOSED`
/// (empty, and end of stream was declared), `MP_EINTR`, `MP_EINVAL` (NULL `q` or
/// `msg_len`, NULL `buf` with `buf_len > 0`), `MP_EBADOBJ`.
///
/// # Safety
/// `q` is NULL or a live queue of this process; `buf` is NULL or writable for
/// `buf_len` bytes; `msg_len` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_get(
    q: *mut mp_queue_t,
    buf: *mut c_void,
    buf_len: usize,
    msg_len: *mut usize,
    block: bool,
    timeout_ms: i64,
) -> mp_status {
    if msg_len.is_null() || (buf.is_null() && buf_len > 0) {
        return Status::Inval.code();
    }
    let mut len_seen = 0;
    // SAFETY: `q` per the contract; the sink hands out `buf` only for a message that
    // fits in its `buf_len` writable bytes.
    let got = unsafe {
        view(q).and_then(|v| {
            v.get_many(Timeout::new(block, timeout_ms), 1, |_, len| {
                len_seen = len;
                (len <= buf_len).then_some(buf.cast::<u8>())
            })
        })
    };
    match got {
        Ok(_) | Err(Status::BufSize) => {
            // SAFETY: non-NULL (checked above) and writable per the contract.
            unsafe { msg_len.write(len_seen) };
            if got.is_ok() {
                Status::Ok.code()
            } else {
                Status::BufSize.code()
            }
        }
        Err(s) => s.code(),
    }
}

/// Takes up to `max_msgs` messages (at least one) under one acquisition of the queue's
/// lock, packed one after another into `buf`: message `i` has `lens[i]` bytes, and
/// `*n_got` tells how many were taken. It takes as many as fit in `buf_len`; the rest
/// stay whole in the queue. Waits for the first as `mp_queue_get`.
///
/// Returns `MP_OK` (`*n_got >= 1`), `MP_TIMEOUT` (`*n_got == 0`), `MP_EBUFSIZE` (the
/// first message does not fit: nothing consumed, `lens[0]` is the size needed),
/// `MP_ECLOSED`, `MP_EINTR`, `MP_EINVAL` (NULL `q`, `lens` or `n_got`, `max_msgs == 0`,
/// NULL `buf` with `buf_len > 0`), `MP_EBADOBJ`.
///
/// # Safety
/// `q` is NULL or a live queue of this process; `buf` is NULL or writable for `buf_len`
/// bytes; `lens` is NULL or writable for `max_msgs` elements; `n_got` is NULL or
/// writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn mp_queue_get_many(
    q: *mut mp_queue_t,
    buf: *mut c_void,
    buf_len: usize,
    lens: *mut usize,
    max_msgs: usize,
    n_got: *mut usize,
    block: bool,
    timeout_ms: i64,
) -> mp_status {
    if n_got.is_null() || lens.is_null() || max_msgs == 0 || (buf.is_null() && buf_len > 0) {
        return Status::Inval.code();
    }
    // SAFETY: non-NULL and writable per the contract.
    unsafe { n_got.write(0) };
    let mut used = 0usize;
    // SAFETY: `q` per the contract; the sink hands out a part of `buf` only for a
    // message that fits in what is left of it, and writes `lens[i]` for i < max_msgs.
    let got = unsafe {
        view(q).and_then(|v| {
            v.get_many(Timeout::new(block, timeout_ms), max_msgs, |i, len| {
                if i == 0 {
                    lens.write(len);
                }
                if len > buf_len - used {
                    return None;
                }
                lens.add(i).write(len);
                let at = buf.cast::<u8>().add(used);
                used += len;
                Some(at)
            })
        })
    };
    match got {
        Ok(n) => {
            // SAFETY: non-NULL and writable per the contract.
            unsafe { n_got.write(n) };
            Status::Ok.code()
        }
        Err(s) => s.code(),
    }
}

/// Writes the number of messages in the queue now to `*n_out` (racy: a count, not a
/// promise, like `qsize()`).
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL), `MP_EBADOBJ`.
///
/// # Safety
/// `q` is NULL or a live queue of this process; `n_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_size(q: *const mp_queue_t, n_out: *mut usize) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { ffi_out(n_out, || Ok(view(q)?.len() as usize)) }
}

/// Writes the ring's size in bytes to `*capacity_out` (the longest message is 4 bytes
/// less).
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL), `MP_EBADOBJ`.
///
/// # Safety
/// `q` is NULL or a live queue of this process; `capacity_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_capacity(
    q: *const mp_queue_t,
    capacity_out: *mut usize,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { ffi_out(capacity_out, || Ok(view(q)?.capacity())) }
}

/// Declares end of stream, for every process: later puts fail with `MP_ECLOSED`; gets
/// return the messages left, then `MP_ECLOSED` instead of waiting. Wakes every sleeping
/// producer and consumer. Idempotent; there is no reopening.
///
/// Returns `MP_OK`, `MP_EINTR`, `MP_EINVAL` (NULL), `MP_EBADOBJ`.
///
/// # Safety
/// `q` is NULL or a live queue of this process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_close_producer(q: *mut mp_queue_t) -> mp_status {
    // SAFETY: forwarded contract.
    match unsafe { view(q) } {
        Ok(v) => v.close_producers().code(),
        Err(e) => e.code(),
    }
}

/// Marks one message processed (Python's `JoinableQueue.task_done`): every put counts
/// one unfinished message. Taken from the calling process's own count of messages it
/// got first (any process may call it, as in Python; docs/queue.md, "JoinableQueue").
///
/// Returns `MP_OK`, `MP_EOVERFLOW` (no message is unfinished: nothing changed),
/// `MP_EINTR`, `MP_EINVAL` (NULL), `MP_EBADOBJ`.
///
/// # Safety
/// `q` is NULL or a live queue of this process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_task_done(q: *mut mp_queue_t) -> mp_status {
    // SAFETY: forwarded contract.
    match unsafe { view(q) } {
        Ok(v) => v.task_done(1).code(),
        Err(e) => e.code(),
    }
}

/// Waits until every message put has been marked processed (`JoinableQueue.join`), as
/// `mp_lock_acquire` waits (`block`, `timeout_ms`), or was taken by a consumer process
/// that is provably dead: its messages count as *abandoned* (`mp_queue_abandoned`).
/// While waiting it judges the consumers holding messages at least every 200 ms. A
/// consumer whose death cannot be proven (another PID namespace, no `/proc`) is
/// waited for (until the timeout).
///
/// Returns `MP_OK` (all done), `MP_OWNER_DEAD` (all done or abandoned, and the count of
/// abandoned messages grew during this call), `MP_TIMEOUT`, `MP_EINTR`, `MP_EINVAL`
/// (NULL), `MP_EBADOBJ`.
///
/// # Safety
/// `q` is NULL or a live queue of this process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_join(
    q: *mut mp_queue_t,
    block: bool,
    timeout_ms: i64,
) -> mp_status {
    // SAFETY: forwarded contract.
    match unsafe { view(q) } {
        Ok(v) => v.join(Timeout::new(block, timeout_ms)).code(),
        Err(e) => e.code(),
    }
}

/// Writes to `*n_out` how many unfinished messages were abandoned so far: taken by a
/// consumer process that died before marking them processed, and found dead by a
/// `mp_queue_join` (docs/queue.md, "JoinableQueue"). Never decreases.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL), `MP_EBADOBJ`.
///
/// # Safety
/// `q` is NULL or a live queue of this process; `n_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_abandoned(q: *const mp_queue_t, n_out: *mut u64) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { ffi_out(n_out, || Ok(view(q)?.abandoned())) }
}

/// `mp_queue_new` with a message limit: the queue holds at most `max_messages` messages
/// at once (0: no limit), as Python's `Queue(maxsize)`; a put that would pass it waits
/// for room like one that does not fit the ring, and a batch of more than
/// `max_messages` is `MP_EMSGSIZE`. The limit is fixed for the queue's life.
///
/// Returns as `mp_queue_new`.
///
/// # Safety
/// `q_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_new_bounded(
    capacity_bytes: usize,
    max_messages: u64,
    q_out: *mut *mut mp_queue_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        ffi_out(q_out, || {
            queue_mapping::new(capacity_bytes, max_messages).map(|p| p.as_ptr().cast())
        })
    }
}

/// `mp_queue_open` with a message limit (see `mp_queue_new_bounded`) for a queue this
/// call creates; an existing queue keeps the limit it was created with.
///
/// Returns as `mp_queue_open`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `q_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_queue_open_bounded(
    name: *const c_char,
    flags: u32,
    mode: u32,
    capacity_bytes: usize,
    max_messages: u64,
    q_out: *mut *mut mp_queue_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        open_out(q_out, flags, |flags| {
            queue_mapping::open(c_name(name)?, flags, mode, capacity_bytes, max_messages)
        })
    }
}

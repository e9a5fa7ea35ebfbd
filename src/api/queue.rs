//! [`Queue`]: a bounded multi-producer, multi-consumer queue of byte messages in shared
//! memory (the C type `mp_queue_t`; design in docs/queue.md).

use core::ptr::NonNull;

use super::deadline::Deadline;
use super::error::Error;
use super::handle::{Life, object_handle};
use super::options::{OpenOptions, c_name};
use super::queue_mapping;
use crate::raw::queue::{QueueView, RawQueue};
use crate::status::Status;

/// A queue of byte messages shared by processes (and threads), the C type `mp_queue_t`
/// (what [`Queue::as_ptr`] points to): puts are invisible until complete and gets
/// consume a message whole, even when a process is killed in the middle of one.
///
/// ```
/// use mpsync::{Deadline, Queue};
/// let q = Queue::new(4096)?;
/// assert!(q.put(b"hello", Deadline::now())?);
/// let mut msg = Vec::new();
/// assert!(q.get(&mut msg, Deadline::forever())?);
/// assert_eq!(msg, b"hello");
/// assert!(!q.get(&mut msg, Deadline::now())?); // empty
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct Queue {
    ptr: NonNull<RawQueue>,
    life: Life,
}

object_handle!(
    Queue,
    RawQueue,
    close = queue_mapping::close,
    destroy = queue_mapping::destroy
);

impl Queue {
    /// An empty queue whose ring holds `capacity` bytes (each message takes 4 bytes
    /// more than its length), in a new anonymous shared mapping inherited by
    /// `fork()`ed children (`mp_queue_new`). [`Error::Invalid`] for a capacity outside
    /// 8 bytes ..= 1 TiB.
    pub fn new(capacity: usize) -> Result<Queue, Error> {
        Queue::new_bounded(capacity, 0)
    }

    /// [`Queue::new`] that also holds at most `max_messages` messages at once (0: no
    /// limit): `multiprocessing.Queue(maxsize)` (`mp_queue_new_bounded`).
    pub fn new_bounded(capacity: usize, max_messages: u64) -> Result<Queue, Error> {
        Ok(Queue::mapped(
            queue_mapping::new(capacity, max_messages)?,
            true,
        ))
    }

    /// Opens, or creates empty, the queue called `name` (`mp_queue_open`); an existing
    /// queue must have the same capacity ([`Error::BadObject`] otherwise), or any with
    /// `capacity == 0` (which cannot create one: [`Error::Invalid`]); it keeps its own
    /// message limit.
    pub fn open(name: &str, options: &OpenOptions, capacity: usize) -> Result<Queue, Error> {
        Queue::open_bounded(name, options, capacity, 0)
    }

    /// [`Queue::open`] with a message limit for a queue this call creates (an existing
    /// queue keeps its own: see [`Queue::max_messages`]).
    pub fn open_bounded(
        name: &str,
        options: &OpenOptions,
        capacity: usize,
        max_messages: u64,
    ) -> Result<Queue, Error> {
        let name = c_name(name)?;
        let (ptr, created) = queue_mapping::open(
            &name,
            options.flags(),
            options.mode_bits(),
            capacity,
            max_messages,
        )?;
        Ok(Queue::mapped(ptr, created))
    }

    /// The queue as the core sees it now (validated against its mapping).
    fn view(&self) -> Result<QueueView<'_>, Error> {
        // SAFETY: a live handle: closed only by `close`/`Drop`, which take it.
        Ok(unsafe { queue_mapping::view(self.ptr) }?)
    }

    /// Puts one message, waiting for room until `deadline`: `true` if it was put,
    /// `false` if the deadline passed first (nothing put). Errors:
    /// [`Error::MessageTooBig`] (it can never fit), [`Error::Closed`] (end of stream),
    /// [`Error::Interrupted`], [`Error::BadObject`].
    pub fn put(&self, msg: &[u8], deadline: impl Into<Deadline>) -> Result<bool, Error> {
        self.put_many_until(&[msg], deadline.into())
    }

    /// Puts all of `msgs` or none, one after another with no other producer's message
    /// between them, under one acquisition of the queue's lock; as [`Queue::put`].
    pub fn put_many(&self, msgs: &[&[u8]], deadline: impl Into<Deadline>) -> Result<bool, Error> {
        self.put_many_until(msgs, deadline.into())
    }

    fn put_many_until(&self, msgs: &[&[u8]], deadline: Deadline) -> Result<bool, Error> {
        timed(self.view()?.put_many(deadline.0, msgs.len(), |i| msgs[i]))
    }

    /// Takes the oldest message into `msg` (its previous contents are replaced),
    /// waiting until `deadline`: `true` if one was taken, `false` if the deadline passed
    /// first. Errors: [`Error::Closed`] (empty, and end of stream), [`Error::NoMemory`]
    /// (no memory for the message: it stays in the queue), [`Error::Interrupted`],
    /// [`Error::BadObject`].
    pub fn get(&self, msg: &mut Vec<u8>, deadline: impl Into<Deadline>) -> Result<bool, Error> {
        self.get_until(msg, deadline.into())
    }

    fn get_until(&self, msg: &mut Vec<u8>, deadline: Deadline) -> Result<bool, Error> {
        let (mut short_of_memory, mut wanted) = (false, 0);
        msg.clear();
        // SAFETY: the sink returns a buffer of at least `len` writable bytes (reserved).
        let got = unsafe {
            self.view()?.get_many(deadline.0, 1, |_, len| {
                if msg.try_reserve_exact(len).is_err() {
                    short_of_memory = true;
                    return None;
                }
                wanted = len;
                Some(msg.as_mut_ptr())
            })
        };
        match got {
            Ok(_) => {
                // SAFETY: the core copied the message's `wanted` bytes into the reserved
                // capacity before returning Ok.
                unsafe { msg.set_len(wanted) };
                Ok(true)
            }
            Err(Status::BufSize) if short_of_memory => Err(Error::NoMemory),
            Err(s) => timed(s),
        }
    }

    /// Takes up to `max` messages (at least one) under one acquisition of the queue's
    /// lock, appending them to `out`; waits for the first until `deadline`. Returns how
    /// many were taken (0: the deadline passed first). Errors as [`Queue::get`].
    pub fn get_many(
        &self,
        out: &mut Vec<Vec<u8>>,
        max: usize,
        deadline: impl Into<Deadline>,
    ) -> Result<usize, Error> {
        self.get_many_until(out, max, deadline.into())
    }

    fn get_many_until(
        &self,
        out: &mut Vec<Vec<u8>>,
        max: usize,
        deadline: Deadline,
    ) -> Result<usize, Error> {
        let start = out.len();
        let mut short_of_memory = false;
        // SAFETY: every pointer returned is a fresh vector's buffer of `len` bytes,
        // kept in `out`.
        let got = unsafe {
            self.view()?.get_many(deadline.0, max, |_, len| {
                let mut v = Vec::new();
                if v.try_reserve_exact(len).is_err() || out.try_reserve(1).is_err() {
                    short_of_memory = true;
                    return None;
                }
                // SAFETY (inside the block above): the core fills all `len` bytes before
                // it returns Ok; on an error, `out` drops them unread.
                v.set_len(len);
                out.push(v);
                out.last_mut().map(|v| v.as_mut_ptr())
            })
        };
        match got {
            Ok(n) => Ok(n),
            Err(s) => {
                out.truncate(start);
                match s {
                    Status::BufSize if short_of_memory => Err(Error::NoMemory),
                    s => timed(s).map(|_| 0),
                }
            }
        }
    }

    /// Messages in the queue now (a racy count, like `qsize()`).
    pub fn len(&self) -> Result<u64, Error> {
        Ok(self.view()?.len())
    }

    /// True when no message is in the queue now (racy).
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// The ring's size in bytes, as created.
    pub fn capacity(&self) -> Result<usize, Error> {
        Ok(self.view()?.capacity())
    }

    /// The message limit, as created (0: none).
    pub fn max_messages(&self) -> Result<u64, Error> {
        Ok(self.view()?.max_count())
    }

    /// The longest message a put can ever fit (`capacity - 4`).
    pub fn max_message_len(&self) -> Result<usize, Error> {
        Ok(self.view()?.max_message())
    }

    /// Declares end of stream for every process (`mp_queue_close_producer`): later puts
    /// fail with [`Error::Closed`]; gets return the messages left, then
    /// [`Error::Closed`] instead of waiting. Wakes every sleeper. Idempotent.
    pub fn close_producers(&self) -> Result<(), Error> {
        ok(self.view()?.close_producers())
    }

    /// True once end of stream was declared.
    pub fn is_closed(&self) -> Result<bool, Error> {
        Ok(self.view()?.is_closed())
    }

    /// Marks `n` messages processed (JoinableQueue's `task_done`);
    /// [`Error::Overflow`] if fewer are unfinished (nothing changed).
    pub fn task_done(&self, n: u64) -> Result<(), Error> {
        ok(self.view()?.task_done(n))
    }

    /// Messages put and not yet marked processed (racy).
    pub fn unfinished(&self) -> Result<u64, Error> {
        Ok(self.view()?.unfinished())
    }

    /// Waits until every message put has been marked processed (JoinableQueue's
    /// `join`) or was taken by a consumer process found dead (see
    /// [`Queue::abandoned`]): `true`, or `false` if the deadline passed first.
    pub fn join(&self, deadline: impl Into<Deadline>) -> Result<bool, Error> {
        self.join_until(deadline.into())
    }

    fn join_until(&self, deadline: Deadline) -> Result<bool, Error> {
        match self.view()?.join(deadline.0) {
            // Done, some of it abandoned: see `abandoned`.
            Status::OwnerDead => Ok(true),
            s => timed(s),
        }
    }

    /// Unfinished messages abandoned so far: taken by a consumer process that died
    /// before marking them processed, and found dead by a `join` (`mp_queue_abandoned`;
    /// docs/queue.md). Never decreases.
    pub fn abandoned(&self) -> Result<u64, Error> {
        Ok(self.view()?.abandoned())
    }
}

/// `Ok`, `Timeout` or an error of a blocking call.
fn timed(s: Status) -> Result<bool, Error> {
    match s {
        Status::Ok => Ok(true),
        Status::Timeout => Ok(false),
        e => Err(Error::from(e)),
    }
}

/// `Ok` or an error.
fn ok(s: Status) -> Result<(), Error> {
    match s {
        Status::Ok => Ok(()),
        e => Err(Error::from(e)),
    }
}

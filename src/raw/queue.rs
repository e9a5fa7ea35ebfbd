//! `Queue`: a bounded multi-producer, multi-consumer queue of byte messages in one
//! shared mapping (docs/queue.md is the design note; this is its layout).
//!
//! ```text
//! +0    header      (8)   Kind::Queue
//! +8    capacity    u64   ring bytes; fixed at init, and always re-checked against the
//!                         length of the mapping this process made (never trusted alone)
//! +16   head        u64   bytes ever consumed (monotonic, wrapping)         [lock]
//! +24   tail        u64   bytes ever committed (monotonic, wrapping)        [lock]
//! +32   count       u64   messages in [head, tail): derived, repaired on owner death
//! +40   unfinished  u64   messages put and not yet `task_done` (JoinableQueue)
//! +48   flags       u32   FLAG_CLOSED: end of stream (no more puts); FLAG_STALE_COUNTS [lock]
//! +52   getters     u32   consumers registered as sleeping for data        [lock]
//! +56   putters     u32   producers registered as sleeping for room        [lock]
//! +60   joiners     u32   threads registered as sleeping in `join`         [lock]
//! +64   lock        (64)  RawRLock guarding every field marked [lock] and the ring
//! +128  data_seq    u32   futex word: bumped when data arrives for a sleeping getter
//! +132  room_seq    u32   futex word: bumped when room frees for a sleeping putter
//! +136  done_seq    u32   futex word: bumped when `unfinished` reaches 0
//! +140  reserved    u32   zero
//! +144  max_count   u64   most messages at once (`Queue(maxsize)`); 0 = no limit; fixed
//! +152  abandoned   u64   unfinished messages whose consumer died (JoinableQueue) [lock]
//! +160  journal     (40)  the critical section in progress (see `consumers`)  [lock]
//! +200  reserved    (56)  zero
//! +256  consumers   (64 × 24)  who holds the unfinished messages (see `consumers`)
//! +1792 ring              `capacity` bytes
//! ```
//!
//! A message is a *record* in the ring: its length (`u32`, native byte order) and its
//! bytes, written byte-wise with wrap-around at `capacity` (no padding, no skip
//! markers). `tail - head` is the number of bytes in use; a record starts at
//! `head % capacity`.
//!
//! **The commit protocol** (see docs/queue.md): everything happens under the robust
//! lock. A put writes its records *beyond* `tail`, where no reader looks, and then
//! publishes them with one store of `tail`: the commit. A get copies the record out
//! and then consumes it with one store of `head`. A process killed at any instruction
//! before the store leaves the queue as it was (the put invisible, the message whole for
//! the next consumer); after it, the operation happened. The fields written after the
//! commit are derived or advisory (`count`, the sequence words), or journaled
//! (`unfinished`, `abandoned`, a consumer's count: see `consumers`): the next acquirer of
//! the lock gets `OwnerDead` and [`repair`](QueueView::repair)s them.
//!
//! **Trust.** Every field can be rewritten by any process that maps the queue. Each
//! operation validates, under the lock, what decides where it reads or writes:
//! `tail - head <= capacity` and every record length against the bytes in use, with the
//! capacity derived from the private mapping length. Offsets are taken modulo that
//! private capacity, so a scribbler can break the queue's contents (an operation then
//! reports `MP_EBADOBJ`) but can never make a reader or writer touch memory outside
//! the ring.

mod consumers;
mod ops;
mod ring;
#[cfg(test)]
mod tests;

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::header::{Header, Kind, Lifecycle};
use super::rlock::{OPT_SPIN_PAST_SLEEPERS, RawRLock};
use crate::status::{MpResult, Status};

/// Bytes before each message in the ring: its length as a native-endian `u32`.
pub(crate) const RECORD_HEADER: usize = 4;

/// Offset of the ring from the start of the mapping.
pub(crate) const RING_OFFSET: usize = 256 + CONSUMER_SLOTS * 24;
/// The smallest ring: one record of a 4-byte message.
pub(crate) const MIN_CAPACITY: usize = 8;
/// The largest ring (1 TiB): far beyond any real `/dev/shm`, and every offset sum stays
/// far from overflowing a `u64`.
pub(crate) const MAX_CAPACITY: usize = 1 << 40;
/// The largest message: its length must fit the record's `u32`.
pub(crate) const MAX_MESSAGE: usize = u32::MAX as usize;

/// `flags` bit: end of stream. Puts fail with `Closed`; gets drain what is left, then
/// fail with `Closed` instead of waiting.
const FLAG_CLOSED: u32 = 1;
/// `flags` bit: a `task_done` lowered `unfinished` beyond the caller's own count (see
/// `consumers`), so consumer counts may be stale: cleared with them when `unfinished`
/// reaches 0. Without it the counts are all 0 then, and the clearing is skipped.
const FLAG_STALE_COUNTS: u32 = 2;

/// `wake_owed` bits: a consumer (`WAKE_DATA`), producer (`WAKE_ROOM`) or joiner
/// (`WAKE_DONE`) registered as sleeping since the last wake-up of its kind.
const WAKE_DATA: u32 = 1;
/// See [`WAKE_DATA`].
const WAKE_ROOM: u32 = 2;
/// See [`WAKE_DATA`].
const WAKE_DONE: u32 = 4;

/// How many processes can hold unfinished messages of one queue with their deaths
/// tracked (`consumers` says what happens to the 65th).
pub(crate) const CONSUMER_SLOTS: usize = 64;

/// One consumer slot (24 bytes).
///
/// ```text
/// +0   who    u64  pid << 32 | PID-namespace id; 0: free
/// +8   start  u64  the process's start time (clock ticks since boot; 0: unknown)
/// +16  taken  u64  messages it got and has not marked done
/// ```
///
/// | who | taken | state                                  | next                        |
/// |-----|-------|----------------------------------------|-----------------------------|
/// | 0   | 0     | free                                   | a get claims it             |
/// | P   | 0     | idle: P holds nothing (P keeps it)     | P's get; any claim takes it |
/// | P   | n > 0 | P holds n unfinished messages          | P's task_done; a reap (dead) |
#[repr(C)]
struct ConsumerSlot {
    who: AtomicU64,
    start: AtomicU64,
    taken: AtomicU64,
}

/// The critical section in progress (40 bytes; how it is used: `consumers`).
///
/// ```text
/// +0   what        u64  VALID | condition | what to apply | slot index (bits 0..8)
/// +8   at          u64  the `head` (IF_HEAD) or `tail` (IF_TAIL) of the commit
/// +16  taken       u64  the slot's new count (SLOT)
/// +24  unfinished  u64  new `unfinished` (COUNTS)
/// +32  abandoned   u64  new `abandoned` (COUNTS)
/// ```
#[repr(C)]
struct Journal {
    what: AtomicU64,
    at: AtomicU64,
    taken: AtomicU64,
    unfinished: AtomicU64,
    abandoned: AtomicU64,
}

/// The descriptor at the start of a queue's mapping (see the module documentation).
#[repr(C)]
pub(crate) struct RawQueue {
    header: Header,
    capacity: AtomicU64,
    head: AtomicU64,
    tail: AtomicU64,
    count: AtomicU64,
    unfinished: AtomicU64,
    flags: AtomicU32,
    getters: AtomicU32,
    putters: AtomicU32,
    joiners: AtomicU32,
    lock: RawRLock,
    data_seq: AtomicU32,
    room_seq: AtomicU32,
    done_seq: AtomicU32,
    wake_owed: AtomicU32,
    max_count: AtomicU64,
    abandoned: AtomicU64,
    journal: Journal,
    _reserved: [AtomicU64; 7],
    consumers: [ConsumerSlot; CONSUMER_SLOTS],
}

const _: () = {
    assert!(core::mem::size_of::<RawQueue>() == RING_OFFSET);
    assert!(core::mem::offset_of!(RawQueue, lock) == 64);
    assert!(core::mem::offset_of!(RawQueue, data_seq) == 128);
    assert!(core::mem::offset_of!(RawQueue, journal) == 160);
    assert!(core::mem::offset_of!(RawQueue, consumers) == 256);
};

/// Size of the whole mapping for a ring of `capacity` bytes: `Inval` outside
/// [`MIN_CAPACITY`, `MAX_CAPACITY`].
pub(crate) fn total_size(capacity: usize) -> MpResult<usize> {
    if (MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
        Ok(RING_OFFSET + capacity)
    } else {
        Err(Status::Inval)
    }
}

/// A validated queue in this process's address space: the descriptor, and the ring's
/// start and length as this process knows them (from its own mapping, not from shared
/// memory).
#[derive(Clone, Copy)]
pub(crate) struct QueueView<'a> {
    q: &'a RawQueue,
    ring: *mut u8,
    cap: u64,
}

/// A racy, read-only picture of a queue for inspectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QueueSnapshot {
    /// The capacity field as stored.
    pub capacity: u64,
    /// Bytes in use (`tail - head`, as stored; may exceed the capacity if scribbled).
    pub used: u64,
    /// Messages, as counted.
    pub count: u64,
    /// Messages put and not yet marked done.
    pub unfinished: u64,
    /// End of stream was declared.
    pub closed: bool,
    /// Registered sleepers: consumers, producers, joiners.
    pub getters: u32,
    /// See `getters`.
    pub putters: u32,
    /// See `getters`.
    pub joiners: u32,
    /// Most messages at once (0: no limit).
    pub max_count: u64,
    /// Unfinished messages whose consumer was found dead (JoinableQueue).
    pub abandoned: u64,
}

impl RawQueue {
    /// Initialises a fresh, zeroed mapping of `total_size(capacity)` bytes and publishes
    /// the queue (empty, open).
    pub(crate) fn init(&self, capacity: usize, max_count: u64, lifecycle: Lifecycle) {
        self.capacity.store(capacity as u64, Ordering::Relaxed);
        self.max_count.store(max_count, Ordering::Relaxed);
        // (A fresh mapping is zeroed: the journal and the consumer table start empty.)
        for w in [
            &self.head,
            &self.tail,
            &self.count,
            &self.unfinished,
            &self.abandoned,
        ] {
            w.store(0, Ordering::Relaxed);
        }
        for w in [
            &self.flags,
            &self.getters,
            &self.putters,
            &self.joiners,
            &self.wake_owed,
            &self.data_seq,
            &self.room_seq,
            &self.done_seq,
        ] {
            w.store(0, Ordering::Relaxed);
        }
        // The embedded lock shares the queue's lifecycle (like an array's): it is no
        // object of its own. Not sticky: the queue repairs itself on owner death.
        // Every hold is one bounded copy, so waiters spin even past sleepers.
        self.lock.init_with(lifecycle, OPT_SPIN_PAST_SLEEPERS);
        self.header.publish(Kind::Queue, lifecycle);
    }

    /// Validates the queue at `base`, a mapping of `mapped_len` bytes made by this
    /// process: `BadObj` unless the header is a live queue of our layout, the capacity
    /// field equals `mapped_len - RING_OFFSET` (within the limits), and the embedded
    /// lock is a live RLock.
    ///
    /// # Safety
    /// `base` is 8-aligned and valid for reads and writes of `mapped_len` bytes for `'a`
    /// (a shared mapping: every bit pattern is a valid `RawQueue`).
    #[inline]
    pub(crate) unsafe fn view<'a>(base: *mut u8, mapped_len: usize) -> MpResult<QueueView<'a>> {
        let Some(cap) = mapped_len.checked_sub(RING_OFFSET) else {
            return Err(Status::BadObj);
        };
        // SAFETY: at least RING_OFFSET = size_of::<RawQueue>() readable, aligned bytes per
        // the contract; RawQueue is atomics and integers, valid for any bit pattern.
        let q = unsafe { &*(base as *const RawQueue) };
        q.header.check(Kind::Queue)?;
        if q.capacity.load(Ordering::Relaxed) != cap as u64
            || total_size(cap).is_err()
            || q.lock.header().check(Kind::RLock).is_err()
        {
            return Err(Status::BadObj);
        }
        Ok(QueueView {
            q,
            // SAFETY: RING_OFFSET <= mapped_len (checked above).
            ring: unsafe { base.add(RING_OFFSET) },
            cap: cap as u64,
        })
    }

    /// Read-only, racy snapshot for inspectors (never blocks, never writes).
    pub(crate) fn snapshot(&self) -> QueueSnapshot {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        QueueSnapshot {
            capacity: self.capacity.load(Ordering::Relaxed),
            used: tail.wrapping_sub(head),
            count: self.count.load(Ordering::Relaxed),
            unfinished: self.unfinished.load(Ordering::Relaxed),
            closed: self.flags.load(Ordering::Relaxed) & FLAG_CLOSED != 0,
            getters: self.getters.load(Ordering::Relaxed),
            putters: self.putters.load(Ordering::Relaxed),
            joiners: self.joiners.load(Ordering::Relaxed),
            max_count: self.max_count.load(Ordering::Relaxed),
            abandoned: self.abandoned.load(Ordering::Relaxed),
        }
    }

    /// The embedded lock, unvalidated (for inspectors' snapshots).
    pub(crate) fn embedded_lock(&self) -> &RawRLock {
        &self.lock
    }
}

impl QueueView<'_> {
    /// The ring's size in bytes (from the private mapping length).
    pub(crate) fn capacity(&self) -> usize {
        self.cap as usize
    }

    /// Most messages at once, as fixed at creation (0: no limit).
    pub(crate) fn max_count(&self) -> u64 {
        self.q.max_count.load(Ordering::Relaxed)
    }

    /// Messages in the queue now (racy: a count, not a promise).
    pub(crate) fn len(&self) -> u64 {
        self.q.count.load(Ordering::Relaxed)
    }

    /// True once end of stream was declared.
    pub(crate) fn is_closed(&self) -> bool {
        self.q.flags.load(Ordering::Relaxed) & FLAG_CLOSED != 0
    }

    /// Messages put and not yet marked done (racy).
    pub(crate) fn unfinished(&self) -> u64 {
        self.q.unfinished.load(Ordering::Relaxed)
    }

    /// Unfinished messages whose consumer was found dead (racy; never decreases).
    pub(crate) fn abandoned(&self) -> u64 {
        self.q.abandoned.load(Ordering::Relaxed)
    }

    /// The largest message a put can ever fit (`capacity - RECORD_HEADER`, at most
    /// [`MAX_MESSAGE`]).
    pub(crate) fn max_message(&self) -> usize {
        (self.capacity() - RECORD_HEADER).min(MAX_MESSAGE)
    }
}

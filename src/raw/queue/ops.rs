//! The queue's operations: put and get (single and batched), end of stream, the
//! JoinableQueue counters, and the sleeping they need.
//!
//! Every operation runs under the embedded robust lock (see the module documentation
//! of `raw::queue` for the commit protocol). Every commit bumps the sequence word of
//! what it changes (`data_seq` for a put, `room_seq` for a get) under the lock. A caller
//! that must wait reads the word under the lock, unlocks, and first spins on it for a
//! few microseconds (a running peer usually commits by then, and a spinner costs the
//! peer nothing: it is not registered, so no `FUTEX_WAKE` is owed). If the word did not
//! change, it takes the lock again, and if the word is still unchanged (nothing was
//! committed, so what it waits for is still missing) it registers
//! (`getters`/`putters`/`joiners`, and its kind's bit in `wake_owed`), unlocks and
//! sleeps on the word; a committer that finds the bit set clears it and wakes every
//! sleeper of that kind after unlocking. No wake-up is lost between the check and the
//! sleep. The bit, not the count, decides: between a wake-up and the moment the woken
//! sleepers run (tens of microseconds on a busy machine) the counts still say "asleep",
//! and a committer that woke on the count paid a `FUTEX_WAKE` for every message of that
//! stretch (measured: 1.6 `FUTEX_WAKE`s per 4 KiB message, one producer and one
//! consumer). A woken sleeper that must sleep again sets the bit again.
//!
//! **Nobody waits forever on a dead party.** The lock's holder is watched by the kernel
//! (robust futex) and the RLock's back-stop. A sleeper woken for a message that another,
//! killed, sleeper would have taken, or whose waker died between commit and wake, looks
//! again at least every [`RECHECK_MS`]; a sleeper killed while registered leaves its
//! count and bit behind, which costs the next waker one spurious `FUTEX_WAKE`.

use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

use super::consumers::Entry;
use super::{FLAG_CLOSED, QueueView, RECORD_HEADER, WAKE_DATA, WAKE_DONE, WAKE_ROOM};
use crate::raw::spin::spin_until;
use crate::status::{MpResult, Status};
use crate::sys::futex::{self, Wake};
use crate::sys::time::{Deadline, WaitLimit};

/// The longest a sleeper goes without looking at the queue again (see the module docs).
const RECHECK_MS: i64 = 200;
/// How many times a waiter yields the CPU, after spinning and before it sleeps.
const YIELDS: u32 = 4;
/// The smallest message a single get copies before locking (see
/// `copy_before_locking`): below it the lock wait the early copy saves is shorter than
/// the extra reads it costs (measured: a 64-byte put+get 20 % slower with it).
const EARLY_COPY_MIN: usize = 512;
/// How long a non-blocking call may wait for the lock itself: it is held only for a
/// copy, so a longer wait means a stopped (not dead) holder, reported as `Timeout`.
const LOCK_GRACE: Duration = Duration::from_millis(50);

/// What a sleeper waits for: its sequence word and its registration count.
#[derive(Clone, Copy)]
enum Need {
    /// A message to get (or end of stream).
    Data,
    /// Room to put.
    Room,
    /// `unfinished == 0` (join).
    Done,
}

/// Wake-ups owed after unlocking, decided under the lock.
#[derive(Clone, Copy, Default)]
struct Owed {
    data: bool,
    room: bool,
    done: bool,
}

impl<'a> QueueView<'a> {
    fn seq(&self, need: Need) -> &'a AtomicU32 {
        match need {
            Need::Data => &self.q.data_seq,
            Need::Room => &self.q.room_seq,
            Need::Done => &self.q.done_seq,
        }
    }

    /// `need`'s bit in `wake_owed`.
    fn wake_bit(need: Need) -> u32 {
        match need {
            Need::Data => WAKE_DATA,
            Need::Room => WAKE_ROOM,
            Need::Done => WAKE_DONE,
        }
    }

    fn sleepers(&self, need: Need) -> &'a AtomicU32 {
        match need {
            Need::Data => &self.q.getters,
            Need::Room => &self.q.putters,
            Need::Done => &self.q.joiners,
        }
    }

    /// Takes the lock: `Ok` (held; repaired first if its previous owner died), or
    /// `Timeout` / `Intr` / `Overflow` (not held).
    #[inline]
    fn lock<W: WaitLimit>(&self, limit: W) -> Status {
        match self.q.lock.acquire(limit) {
            Status::Ok => Status::Ok,
            first => self.lock_slow(limit, first),
        }
    }

    #[cold]
    #[inline(never)]
    fn lock_slow<W: WaitLimit>(&self, limit: W, first: Status) -> Status {
        let got = match first {
            // Try-once calls still wait for a running holder's copy (see LOCK_GRACE).
            Status::Timeout if limit.deadline().is_now() => {
                self.q.lock.acquire(Deadline::after(LOCK_GRACE))
            }
            s => s,
        };
        match got {
            Status::OwnerDead => {
                self.repair();
                Status::Ok
            }
            s => s,
        }
    }

    /// Releases the lock and makes the wake-ups owed.
    #[inline]
    fn unlock(&self, owed: Owed) {
        let released = self.q.lock.release();
        debug_assert_eq!(released, Status::Ok);
        if owed.data | owed.room | owed.done {
            self.wake(owed);
        }
    }

    #[cold]
    fn wake(&self, owed: Owed) {
        for (owe, need) in [
            (owed.data, Need::Data),
            (owed.room, Need::Room),
            (owed.done, Need::Done),
        ] {
            if owe {
                futex::wake_all(self.seq(need));
            }
        }
    }

    /// Under the lock: bumps the word of `need` (something it waits for changed), and
    /// returns true if a sleeper registered since the last wake-up of its kind (a
    /// wake-up is owed after unlocking, see [`claim_wake`](Self::claim_wake)).
    #[inline]
    fn announce(&self, need: Need) -> bool {
        self.bump(need);
        self.claim_wake(need)
    }

    /// Under the lock: bumps the word of `need` (something it waits for changed).
    #[inline]
    fn bump(&self, need: Need) {
        let seq = self.seq(need);
        seq.store(
            seq.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Release,
        );
    }

    /// Under the lock, right after a [`bump`](Self::bump): true if a sleeper of `need`
    /// registered since the last wake-up of its kind; clears its bit, so this caller
    /// owes the wake-up and later committers owe none until someone registers again.
    #[inline]
    fn claim_wake(&self, need: Need) -> bool {
        let bit = Self::wake_bit(need);
        let owed = self.q.wake_owed.load(Ordering::Relaxed);
        if owed & bit == 0 {
            return false;
        }
        self.q.wake_owed.store(owed & !bit, Ordering::Relaxed);
        true
    }

    /// Whether a get that leaves `used` bytes and `left` messages should wake sleeping
    /// producers: when the queue is empty, when half the ring is free, or when a
    /// message limit just stopped being reached. Waking them after every get of a full
    /// queue would make each get pay a `FUTEX_WAKE` and each put a sleep (measured: 2.5×
    /// fewer messages per second with a fast producer). A sleeper not woken here still
    /// looks again within [`RECHECK_MS`], and a producer that spins before sleeping sees
    /// every get.
    #[inline]
    fn worth_waking_putters(&self, used: u64, left: u64) -> bool {
        let max = self.max_count();
        left == 0 || self.cap - used >= self.cap / 2 || (max != 0 && left + 1 == max)
    }

    /// Under the lock: waits until something is committed for `need` (spinning first,
    /// then sleeping, see the module documentation; a sleep lasts at most
    /// [`RECHECK_MS`]), then takes the lock again. `Ok` (held again: look again),
    /// `Timeout` (deadline passed, not held), `Intr` (a signal handler ran, not held).
    #[cold]
    #[inline(never)]
    fn sleep(&self, need: Need, deadline: &Deadline) -> Status {
        if deadline.expired() {
            self.unlock(Owed::default());
            return Status::Timeout;
        }
        let word = self.seq(need);
        let seen = word.load(Ordering::Acquire);
        self.unlock(Owed::default());
        if spin_until(word, |v| v == seen, |v| v != seen) != seen
            || self.yield_until_changed(word, seen)
        {
            return self.lock(*deadline);
        }
        let s = self.lock(*deadline);
        if s != Status::Ok || word.load(Ordering::Acquire) != seen {
            return s;
        }
        let sleepers = self.sleepers(need);
        sleepers.fetch_add(1, Ordering::Relaxed);
        let owed = self.q.wake_owed.load(Ordering::Relaxed);
        self.q
            .wake_owed
            .store(owed | Self::wake_bit(need), Ordering::Relaxed);
        self.unlock(Owed::default());
        let woke = futex::wait(word, seen, &deadline.capped_ms(RECHECK_MS));
        // Saturating: a scribbled 0 stays 0 rather than wrapping to "many sleepers".
        let _ = sleepers.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        if woke == Wake::Interrupted {
            return Status::Intr;
        }
        // One last look even after the deadline: a free lock is taken on its fast path.
        self.lock(*deadline)
    }

    /// After a spin that saw no commit: gives the CPU away a few times ([`YIELDS`]),
    /// looking at `word` after each; true if it changed. On a busy machine the peer that
    /// would commit may be waiting for this very CPU; a `sched_yield` costs far less than
    /// the `FUTEX_WAIT` + `FUTEX_WAKE` pair of a real sleep.
    #[cold]
    fn yield_until_changed(&self, word: &AtomicU32, seen: u32) -> bool {
        (0..YIELDS).any(|_| {
            std::thread::yield_now();
            word.load(Ordering::Acquire) != seen
        })
    }

    /// Bytes in use, validated under the lock (`BadObj` if a peer scribbled on the
    /// positions), with the head position.
    #[inline]
    pub(super) fn used(&self) -> MpResult<(u64, u64)> {
        let head = self.q.head.load(Ordering::Relaxed);
        let used = self.q.tail.load(Ordering::Relaxed).wrapping_sub(head);
        if used > self.cap {
            return Err(Status::BadObj);
        }
        Ok((head, used))
    }

    /// After an owner died holding the lock (we hold it now): the positions are
    /// committed values, so only the journaled counts (see `consumers`) and the derived
    /// count can be stale. Completes or drops the journal's entry and recounts; a ring
    /// that does not parse was scribbled on, and is left for the next operation's
    /// validation to report.
    #[cold]
    pub(super) fn repair(&self) {
        self.apply_journal();
        if let Ok((head, used)) = self.used()
            && let Some(n) = self.count_records(head, used)
        {
            self.q.count.store(n, Ordering::Relaxed);
        }
        // Its sleepers may have missed a wake-up that the dead owner owed.
        self.seq(Need::Data).fetch_add(1, Ordering::Release);
        self.seq(Need::Room).fetch_add(1, Ordering::Release);
        self.seq(Need::Done).fetch_add(1, Ordering::Release);
    }

    /// Puts `n` messages (`msg(0)`, ..., `msg(n - 1)`), all or none, contiguously (no
    /// other producer's message between them), waiting for room until the deadline.
    /// `Ok`, `Timeout` (no room in time, nothing put), `Intr`, `MsgSize` (they can never
    /// fit: more bytes than the ring, or more messages than `max_count`), `Closed` (end of
    /// stream), `BadObj` (scribbled), `Overflow` (lock recursion: a signal handler
    /// re-entered the queue).
    #[inline]
    pub(crate) fn put_many<'m, W: WaitLimit>(
        &self,
        limit: W,
        n: usize,
        msg: impl Fn(usize) -> &'m [u8],
    ) -> Status {
        // Record bytes needed, checked before locking (from private state only).
        let mut need = 0u64;
        for i in 0..n {
            let len = msg(i).len();
            if len > self.max_message() {
                return Status::MsgSize;
            }
            need += (RECORD_HEADER + len) as u64;
            if need > self.cap {
                return Status::MsgSize;
            }
        }
        let max = self.max_count();
        if max != 0 && n as u64 > max {
            return Status::MsgSize;
        }
        if n == 0 {
            return Status::Ok;
        }
        let mut s = self.lock(limit);
        let mut deadline = None;
        while s == Status::Ok {
            if self.q.flags.load(Ordering::Relaxed) & FLAG_CLOSED != 0 {
                self.unlock(Owed::default());
                return Status::Closed;
            }
            let (head, used) = match self.used() {
                Ok(u) => u,
                Err(e) => {
                    self.unlock(Owed::default());
                    return e;
                }
            };
            let count = self.q.count.load(Ordering::Relaxed);
            let fits_count = max == 0 || count.saturating_add(n as u64) <= max;
            if self.cap - used >= need && fits_count {
                let mut pos = head.wrapping_add(used);
                for i in 0..n {
                    let m = msg(i);
                    // SAFETY: RECORD_HEADER + len <= need <= free room <= capacity, and
                    // len <= MAX_MESSAGE (both checked above).
                    unsafe { self.write_record(pos, m) };
                    pos = pos.wrapping_add((RECORD_HEADER + m.len()) as u64);
                }
                // `unfinished` rises exactly when the commit happens (journaled).
                let unfinished = self.q.unfinished.load(Ordering::Relaxed);
                self.journal(Entry {
                    counts: Some((unfinished.saturating_add(n as u64), self.abandoned())),
                    ..Entry::if_tail(pos)
                });
                // The commit: the records become visible all at once.
                self.q.tail.store(pos, Ordering::Release);
                self.apply_journal();
                self.q.count.store(count + n as u64, Ordering::Relaxed);
                let owed = Owed {
                    data: self.announce(Need::Data),
                    ..Owed::default()
                };
                self.unlock(owed);
                return Status::Ok;
            }
            let d = *deadline.get_or_insert_with(|| limit.deadline());
            s = self.sleep(Need::Room, &d);
        }
        s
    }

    /// Gets up to `max` messages (at least one), oldest first, waiting for the first
    /// until the deadline. For message `i` of length `len`, `sink(i, len)` returns where
    /// to copy it (valid for `len` bytes) or `None` (no room for it: the batch ends
    /// there, and that message stays whole in the queue).
    ///
    /// `Ok(n)` (`n >= 1` messages consumed), or `Err`: `Timeout` (none in time), `Intr`,
    /// `BufSize` (no room for the first: nothing consumed; `sink` saw its length),
    /// `Closed` (empty and end of stream), `BadObj`, `Overflow` (as for `put_many`).
    ///
    /// # Safety
    /// Every pointer `sink` returns is valid for writes of the `len` it was given.
    #[inline]
    pub(crate) unsafe fn get_many<W: WaitLimit>(
        &self,
        limit: W,
        max: usize,
        mut sink: impl FnMut(usize, usize) -> Option<*mut u8>,
    ) -> MpResult<usize> {
        if max == 0 {
            return Err(Status::Inval);
        }
        let mut early = if max == 1 {
            // SAFETY: `sink`'s pointers per our contract.
            unsafe { self.copy_before_locking(&mut sink) }
        } else {
            None
        };
        let mut s = self.lock(limit);
        let mut deadline = None;
        while s == Status::Ok {
            let (head, used) = match self.used() {
                Ok(u) => u,
                Err(e) => {
                    self.unlock(Owed::default());
                    return Err(e);
                }
            };
            if used == 0 {
                if self.q.flags.load(Ordering::Relaxed) & FLAG_CLOSED != 0 {
                    self.unlock(Owed::default());
                    return Err(Status::Closed);
                }
                let d = *deadline.get_or_insert_with(|| limit.deadline());
                s = self.sleep(Need::Data, &d);
                continue;
            }
            let (mut pos, mut got) = (0u64, 0usize);
            let mut result = Ok(());
            if let Some(copied) = early.take()
                && let Some(rec) = self.still_first(copied, head, used)
            {
                (pos, got) = (rec, 1);
            }
            while got < max && pos < used {
                let at = head.wrapping_add(pos);
                let len = self.record_len(at);
                let rec = (RECORD_HEADER + len) as u64;
                if used - pos < rec {
                    result = Err(Status::BadObj);
                    break;
                }
                let Some(dst) = sink(got, len) else {
                    if got == 0 {
                        result = Err(Status::BufSize);
                    }
                    break;
                };
                // SAFETY: len < rec <= used <= capacity (checked above, under the lock);
                // `dst` is valid for `len` bytes per the contract.
                unsafe { self.read_at(at.wrapping_add(RECORD_HEADER as u64), dst, len) };
                pos += rec;
                got += 1;
            }
            if got == 0 {
                self.unlock(Owed::default());
                return Err(result.err().unwrap_or(Status::BadObj));
            }
            // The consumer's count rises exactly when the commit happens (journaled).
            let new_head = head.wrapping_add(pos);
            let slot = self.consumer(true);
            if let Some((i, taken)) = slot {
                self.journal(Entry {
                    slot: Some((i, taken.saturating_add(got as u64))),
                    ..Entry::if_head(new_head)
                });
            }
            // The commit: the messages are consumed all at once.
            self.q.head.store(new_head, Ordering::Release);
            if slot.is_some() {
                self.apply_journal();
            }
            let count = self.q.count.load(Ordering::Relaxed);
            let left = count.saturating_sub(got as u64);
            self.q.count.store(left, Ordering::Relaxed);
            let owed = Owed {
                room: {
                    self.bump(Need::Room);
                    self.worth_waking_putters(used - pos, left) && self.claim_wake(Need::Room)
                },
                ..Owed::default()
            };
            self.unlock(owed);
            return Ok(got);
        }
        Err(s)
    }

    /// Before a single get takes the lock: copies the first message, as the (racily
    /// read) positions show it, into the sink, so that the copy — for a large message
    /// mostly the transfer of its lines from the producer's CPU — runs outside the lock,
    /// in parallel with the producers' copies. Returns the head it saw and the message's
    /// length; under the lock, [`still_first`](Self::still_first) decides whether the
    /// copy stands.
    ///
    /// Why a copy made without the lock can be trusted once `head` is found unchanged
    /// under the lock: `head` only grows, so it never moved in between; bytes in
    /// `[head, tail)` are committed (published by the producer's Release store of
    /// `tail`, read here with Acquire) and nothing writes them until a consumer moves
    /// `head` past them (producers write only at or beyond `tail`, within `head +
    /// capacity`). A copy that raced with a move of `head` is thrown away: the locked
    /// path copies again. Offsets are modulo the private capacity and the length is
    /// checked against the bytes in use, as under the lock, so a scribbler can make this
    /// copy wrong (it is then rejected or, like any scribbled message, delivered wrong)
    /// but never make it leave the ring or the sink's buffer.
    ///
    /// # Safety
    /// Every pointer `sink` returns is valid for writes of the `len` it was given.
    #[inline]
    pub(super) unsafe fn copy_before_locking(
        &self,
        sink: &mut impl FnMut(usize, usize) -> Option<*mut u8>,
    ) -> Option<(u64, usize)> {
        let head = self.q.head.load(Ordering::Acquire);
        let used = self.q.tail.load(Ordering::Acquire).wrapping_sub(head);
        if used <= RECORD_HEADER as u64 || used > self.cap {
            return None;
        }
        let len = self.record_len_racy(head);
        if len < EARLY_COPY_MIN || (RECORD_HEADER + len) as u64 > used {
            return None;
        }
        let dst = sink(0, len)?;
        // SAFETY: len < used <= capacity (checked above); `dst` is valid for `len`
        // bytes per the contract.
        unsafe { self.read_at_racy(head.wrapping_add(RECORD_HEADER as u64), dst, len) };
        Some((head, len))
    }

    /// Under the lock, with the validated `head` and `used`: if the message copied by
    /// [`copy_before_locking`](Self::copy_before_locking) is still the first one (same
    /// head, same length), its record's size: the copy stands.
    #[inline]
    pub(super) fn still_first(
        &self,
        (seen_head, len): (u64, usize),
        head: u64,
        used: u64,
    ) -> Option<u64> {
        let rec = (RECORD_HEADER + len) as u64;
        (seen_head == head && rec <= used && self.record_len(head) == len).then_some(rec)
    }

    /// Declares end of stream: later puts fail with `Closed`; gets return what is left,
    /// then `Closed`. Wakes every sleeping producer and consumer. Idempotent. `Ok`, or
    /// the lock's `Intr`.
    pub(crate) fn close_producers(&self) -> Status {
        let s = self.lock(Deadline::Never);
        if s != Status::Ok {
            return s;
        }
        self.q.flags.fetch_or(FLAG_CLOSED, Ordering::Relaxed);
        self.seq(Need::Data).fetch_add(1, Ordering::Release);
        self.seq(Need::Room).fetch_add(1, Ordering::Release);
        self.unlock(Owed {
            data: true,
            room: true,
            done: false,
        });
        Status::Ok
    }

    /// `n` fewer unfinished messages (JoinableQueue's `task_done`), taken from the
    /// calling process's own count first (see `consumers`): `Ok`, or `Overflow` if fewer
    /// are unfinished (nothing changed), or the lock's `Intr`.
    pub(crate) fn task_done(&self, n: u64) -> Status {
        let s = self.lock(Deadline::Never);
        if s != Status::Ok {
            return s;
        }
        let left = self.q.unfinished.load(Ordering::Relaxed);
        if n > left {
            self.unlock(Owed::default());
            return Status::Overflow;
        }
        let mine = self.consumer(false).filter(|&(_, taken)| taken != 0);
        // Messages another process took (allowed, as in CPython): its count stays
        // until `unfinished` reaches 0, and a reap never moves more than is left.
        self.note_foreign_done(n, mine.map_or(0, |(_, taken)| taken));
        match mine {
            Some((i, taken)) => self.journal(Entry {
                slot: Some((i, taken - taken.min(n))),
                counts: Some((left - n, self.abandoned())),
                ..Entry::default()
            }),
            None => self.q.unfinished.store(left - n, Ordering::Relaxed),
        }
        if left == n {
            self.clear_consumer_counts();
        }
        let owed = Owed {
            done: left == n && self.announce(Need::Done),
            ..Owed::default()
        };
        // (`done_seq` changes only when `unfinished` reaches 0: what joiners wait for.)
        self.unlock(owed);
        Status::Ok
    }

    /// Waits until every message put has been marked done or was taken by a consumer
    /// found dead (JoinableQueue's `join`; see `consumers`): `Ok`; `OwnerDead` (done, and
    /// `abandoned` grew during this call: some of the messages waited for were
    /// abandoned); `Timeout`; `Intr`. Judges the consumers holding messages on entry and
    /// after every sleep (at least every [`RECHECK_MS`]).
    pub(crate) fn join<W: WaitLimit>(&self, limit: W) -> Status {
        let mut s = self.lock(limit);
        let mut deadline = None;
        let mut abandoned_on_entry = None;
        let mut owed = Owed::default();
        while s == Status::Ok {
            let abandoned = self.abandoned();
            let on_entry = *abandoned_on_entry.get_or_insert(abandoned);
            if self.q.unfinished.load(Ordering::Relaxed) == 0 {
                self.unlock(owed);
                return if abandoned == on_entry {
                    Status::Ok
                } else {
                    Status::OwnerDead
                };
            }
            let d = *deadline.get_or_insert_with(|| limit.deadline());
            self.unlock(core::mem::take(&mut owed));
            let dead = self.dead_consumers();
            s = self.lock(d);
            if s != Status::Ok {
                break;
            }
            if self.reap(&dead) {
                // Other joiners wait for this too.
                owed.done = self.announce(Need::Done);
                continue;
            }
            if self.q.unfinished.load(Ordering::Relaxed) == 0 {
                continue;
            }
            s = self.sleep(Need::Done, &d);
        }
        s
    }
}

//! JoinableQueue's bookkeeping of *who* holds the unfinished messages, so that `join`
//! ends when every unfinished message is either marked done or was taken by a consumer
//! that is provably dead (docs/queue.md, "JoinableQueue").
//!
//! **The consumer table.** [`CONSUMER_SLOTS`] slots, each a process record (pid and
//! PID-namespace id, start time: the identity `sys::liveness` judges) and `taken`, the
//! messages that process got and has not marked done. A get records its messages in the
//! caller's slot (claiming one on its first get: a free slot, else one whose count is
//! 0); a `task_done` subtracts from the caller's own slot first. A process keeps its
//! slot while it lives, so later gets find it at once (the search starts at
//! `pid % CONSUMER_SLOTS`). With every slot holding another live process's messages, a
//! get still succeeds, *untracked*: if that consumer dies holding it, `join` waits for
//! it as CPython's does (until its deadline).
//!
//! **The journal: exact counts across a kill at any instruction.** Every field here is
//! written only under the queue's robust lock, but one operation changes several
//! (a get: `head` and the slot's count; a `task_done` or a reap: the slot, `unfinished`
//! and `abandoned`; a put: `tail` and `unfinished`). Before changing them, the lock
//! holder writes the new values into the journal and marks it valid (the journal's
//! commit); then it makes the changes and clears the journal. A get or put journals
//! *conditionally*: its values hold only if its own commit (the `head` or `tail` store)
//! happened, i.e. if the position equals the journaled one. The next acquirer after a
//! death ([`QueueView::repair`]) applies a valid journal whose condition holds and drops
//! one whose does not, so the counts always agree with the positions. Applying twice
//! is harmless: every value is absolute.
//!
//! **Dead consumers.** `join` looks at the table at least every `RECHECK_MS` (outside
//! the lock: `/proc` reads are slow), judges the owner of every slot with a count via
//! `sys::liveness` (the one judge), and under the lock *reaps* each slot still holding
//! the record judged dead: its count moves from `unfinished` to `abandoned` (journaled)
//! and the slot becomes free. "Could not look" (another PID namespace, no `/proc`) is
//! never dead: `join` then keeps waiting (its deadline still applies).
//!
//! **Untrusted.** Slot indices come from private iteration (the journal's is
//! range-checked), counts are clamped (`min` with `unfinished`, saturating arithmetic),
//! and nothing here is used as a pointer or a length, so a scribbled table only makes
//! this queue's join return early or wait.

use core::sync::atomic::Ordering;

use super::{CONSUMER_SLOTS, ConsumerSlot, FLAG_STALE_COUNTS, QueueView};
use crate::sys::liveness::{Liveness, Vantage};
use crate::sys::shm::creator_names::Creator;
use crate::sys::thread;

/// The journal holds an entry (0: empty).
const VALID: u64 = 1 << 63;
/// Apply only if `head == at` (a get's commit happened).
const IF_HEAD: u64 = 1 << 62;
/// Apply only if `tail == at` (a put's commit happened).
const IF_TAIL: u64 = 1 << 61;
/// Set the slot's count to `taken`.
const SLOT: u64 = 1 << 60;
/// Set `unfinished` and `abandoned`.
const COUNTS: u64 = 1 << 59;
/// Free the slot (a reap).
const FREE: u64 = 1 << 58;
const INDEX_MASK: u64 = 0xff;

/// A journal entry before it is written.
#[derive(Clone, Copy, Default)]
pub(super) struct Entry {
    /// `IF_HEAD`/`IF_TAIL` with the position, or 0 (unconditional).
    pub(super) cond: (u64, u64),
    /// The slot and its new count.
    pub(super) slot: Option<(usize, u64)>,
    /// New `unfinished` and `abandoned`.
    pub(super) counts: Option<(u64, u64)>,
    /// Free the slot.
    pub(super) free: bool,
}

/// A consumer slot as inspectors see it (racy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConsumerRecord {
    /// Slot index.
    pub slot: usize,
    /// The process's identity, as `sys::liveness` judges it.
    pub process: Creator,
    /// Messages it got and has not marked done.
    pub taken: u64,
}

/// Slots judged dead, with the record judged (a reap needs it unchanged).
pub(super) struct DeadConsumers {
    mask: u64,
    records: [(u64, u64); CONSUMER_SLOTS],
}

impl ConsumerSlot {
    fn record(&self, slot: usize) -> Option<ConsumerRecord> {
        let who = self.who.load(Ordering::Acquire);
        (who != 0).then(|| ConsumerRecord {
            slot,
            process: Creator {
                pid: (who >> 32) as u32,
                start: self.start.load(Ordering::Relaxed),
                pidns: who & 0xffff_ffff,
            },
            taken: self.taken.load(Ordering::Relaxed),
        })
    }
}

impl super::RawQueue {
    /// The occupied consumer slots, racily (for inspectors).
    pub(crate) fn consumer_records(&self) -> impl Iterator<Item = ConsumerRecord> + '_ {
        self.consumers
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.record(i))
    }
}

/// The calling process's record and its `who` word.
fn me() -> (Creator, u64) {
    let me = Creator::current_with_pid(thread::current().pid);
    (me, u64::from(me.pid) << 32 | (me.pidns & 0xffff_ffff))
}

impl QueueView<'_> {
    /// Under the lock: the calling process's slot and its count; with `claim`, takes a
    /// free or idle slot if it has none. `None`: no slot (untracked).
    #[inline]
    pub(super) fn consumer(&self, claim: bool) -> Option<(usize, u64)> {
        let (me, who) = me();
        let first = me.pid as usize % CONSUMER_SLOTS;
        let (mut free, mut idle) = (None, None);
        for k in 0..CONSUMER_SLOTS {
            let i = (first + k) % CONSUMER_SLOTS;
            let s = &self.q.consumers[i];
            let w = s.who.load(Ordering::Relaxed);
            let taken = s.taken.load(Ordering::Relaxed);
            if w == who && s.start.load(Ordering::Relaxed) == me.start {
                return Some((i, taken));
            }
            if w == 0 && free.is_none() {
                free = Some(i);
            } else if taken == 0 && idle.is_none() {
                idle = Some(i);
            }
        }
        let i = free.or(idle).filter(|_| claim)?;
        // A claim killed half-way leaves a slot with a count of 0: idle, harmless.
        let s = &self.q.consumers[i];
        s.taken.store(0, Ordering::Release);
        s.start.store(me.start, Ordering::Release);
        s.who.store(who, Ordering::Release);
        Some((i, 0))
    }

    /// Under the lock: journals `e`, and applies it unless it is conditional (then the
    /// caller commits and calls [`QueueView::apply_journal`]).
    #[inline]
    pub(super) fn journal(&self, e: Entry) {
        let j = &self.q.journal;
        let mut what = VALID | e.cond.0;
        j.at.store(e.cond.1, Ordering::Relaxed);
        if let Some((i, taken)) = e.slot {
            what |= SLOT | i as u64;
            j.taken.store(taken, Ordering::Relaxed);
        }
        if let Some((unfinished, abandoned)) = e.counts {
            what |= COUNTS;
            j.unfinished.store(unfinished, Ordering::Relaxed);
            j.abandoned.store(abandoned, Ordering::Relaxed);
        }
        if e.free {
            what |= FREE;
        }
        // The journal's commit: everything above is written before it.
        j.what.store(what, Ordering::Release);
        if e.cond.0 == 0 {
            self.apply_journal();
        }
    }

    /// Under the lock: applies the journal's entry if its condition holds, and empties
    /// it. Every store is ordered after the ones before it (`Release`), so a holder
    /// killed half-way leaves a prefix that applying again completes.
    #[inline]
    pub(super) fn apply_journal(&self) {
        let j = &self.q.journal;
        let what = j.what.load(Ordering::Acquire);
        if what & VALID == 0 {
            return;
        }
        let at = j.at.load(Ordering::Relaxed);
        let holds = (what & IF_HEAD == 0 || self.q.head.load(Ordering::Relaxed) == at)
            && (what & IF_TAIL == 0 || self.q.tail.load(Ordering::Relaxed) == at);
        if holds {
            // A scribbled index (>= CONSUMER_SLOTS) names no slot.
            let slot = self.q.consumers.get((what & INDEX_MASK) as usize);
            if let Some(s) = slot.filter(|_| what & SLOT != 0) {
                s.taken
                    .store(j.taken.load(Ordering::Relaxed), Ordering::Release);
                if what & FREE != 0 {
                    s.who.store(0, Ordering::Release);
                }
            }
            if what & COUNTS != 0 {
                let (u, a) = (&j.unfinished, &j.abandoned);
                self.q
                    .unfinished
                    .store(u.load(Ordering::Relaxed), Ordering::Release);
                self.q
                    .abandoned
                    .store(a.load(Ordering::Relaxed), Ordering::Release);
            }
        }
        j.what.store(0, Ordering::Release);
    }

    /// Under the lock: a `task_done` of `n` lowered `unfinished` beyond the caller's
    /// own count `mine` (messages another process took): counts may now be stale.
    #[inline]
    pub(super) fn note_foreign_done(&self, n: u64, mine: u64) {
        if n > mine {
            self.q.flags.fetch_or(FLAG_STALE_COUNTS, Ordering::Relaxed);
        }
    }

    /// Under the lock, when `unfinished` reached 0: no message is held by anyone, so
    /// every count left is stale (messages another process marked done). Clears them
    /// (only if a `task_done` made any: otherwise they are all 0 already).
    #[inline]
    pub(super) fn clear_consumer_counts(&self) {
        if self.q.flags.load(Ordering::Relaxed) & FLAG_STALE_COUNTS != 0 {
            self.clear_stale_counts();
        }
    }

    #[cold]
    fn clear_stale_counts(&self) {
        // Counts first: a holder killed in between leaves the flag, and the next
        // clearing repeats this.
        for s in &self.q.consumers {
            if s.taken.load(Ordering::Relaxed) != 0 {
                s.taken.store(0, Ordering::Relaxed);
            }
        }
        self.q
            .flags
            .fetch_and(!FLAG_STALE_COUNTS, Ordering::Release);
    }

    /// Without the lock (`/proc` reads are slow): the slots of other processes that hold
    /// messages and are provably dead.
    #[cold]
    pub(super) fn dead_consumers(&self) -> DeadConsumers {
        let mut dead = DeadConsumers {
            mask: 0,
            records: [(0, 0); CONSUMER_SLOTS],
        };
        let own = thread::current().pid;
        let mut vantage = None;
        for (i, s) in self.q.consumers.iter().enumerate() {
            let Some(r) = s.record(i).filter(|r| r.taken != 0 && r.process.pid != own) else {
                continue;
            };
            let v = *vantage.get_or_insert_with(Vantage::here);
            if r.process.liveness(v) == Liveness::Dead {
                dead.mask |= 1 << i;
                let who = u64::from(r.process.pid) << 32 | r.process.pidns;
                dead.records[i] = (who, r.process.start);
            }
        }
        dead
    }

    /// Under the lock: moves the count of every slot in `dead` that still holds the
    /// record judged dead into `abandoned` (at most `unfinished`), freeing the slot.
    /// True if `unfinished` reached 0 (joiners are owed a wake-up).
    #[cold]
    pub(super) fn reap(&self, dead: &DeadConsumers) -> bool {
        if dead.mask == 0 {
            return false;
        }
        for (i, s) in self.q.consumers.iter().enumerate() {
            let (who, start) = dead.records[i];
            if dead.mask & 1 << i == 0
                || s.who.load(Ordering::Relaxed) != who
                || s.start.load(Ordering::Relaxed) != start
            {
                continue;
            }
            let left = self.q.unfinished.load(Ordering::Relaxed);
            let moved = s.taken.load(Ordering::Relaxed).min(left);
            let abandoned = self.q.abandoned.load(Ordering::Relaxed);
            self.journal(Entry {
                slot: Some((i, 0)),
                counts: Some((left - moved, abandoned.saturating_add(moved))),
                free: true,
                ..Entry::default()
            });
        }
        let done = self.q.unfinished.load(Ordering::Relaxed) == 0;
        if done {
            self.clear_consumer_counts();
        }
        done
    }
}

impl Entry {
    /// Applies only if the get's commit stores `head`.
    pub(super) fn if_head(head: u64) -> Entry {
        Entry {
            cond: (IF_HEAD, head),
            ..Entry::default()
        }
    }

    /// Applies only if the put's commit stores `tail`.
    pub(super) fn if_tail(tail: u64) -> Entry {
        Entry {
            cond: (IF_TAIL, tail),
            ..Entry::default()
        }
    }
}

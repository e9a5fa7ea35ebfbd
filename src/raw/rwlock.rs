//! `RwLock`: a reader-writer lock whose readers' and writers' deaths are detected by
//! the kernel (robust futex list) and, as a back-stop, by the liveness judge
//! (`sys::liveness`). Design note: docs/rwlock.md.
//!
//! **Writers** take one robust word (`wword`, kernel robust format, like an RLock's),
//! then wait until every reader slot is free. **Readers** each hold a *slot* of their
//! own (one cache line, a robust word of its own, linked in the reader's robust list
//! while held) and check `wword` after claiming it. The two orders — reader: claim
//! slot, then read `wword`; writer: take `wword`, then read the slots — are both
//! `SeqCst`, so at least one side sees the other (Dekker): a reader that sees a writer
//! frees its slot and waits; a writer waits for every slot it sees held.
//!
//! Uncontended, a read pair touches only the reader's own slot line (one CAS, one swap)
//! and reads the shared line without writing it, so readers on different CPUs do not
//! slow each other down.
//!
//! **Fairness (phase hand-off).** Readers stay out while a writer holds `wword` (also
//! while it waits for readers to drain), so a stream of readers delays a writer by at
//! most the longest read already admitted. A writer that releases while others sleep
//! opens a *read phase* (`wword = READ_PHASE`): it wakes the sleeping readers, and
//! writers wait until those readers are in (`phase_left` counts them down), so a stream
//! of writers delays a reader by at most one write. A phase whose readers never show up
//! (killed while waking) ends after `PHASE_GIVE_UP_MS`.
//!
//! **Deaths.** A writer that dies holding `wword` is marked by the kernel
//! (`FUTEX_OWNER_DIED`); the next acquirer, reader or writer, takes that mark away with
//! one CAS and is told (`OwnerDead`). A reader that dies holding a slot is marked the
//! same way; whoever meets the dead slot (a writer draining, or a reader looking for a
//! slot) turns it into a `REPORT` slot (the reader's share is back: a writer no longer
//! waits for it), and one later acquisition takes the report with one CAS and is told.
//!
//! **Shared memory is untrusted.** Slot indices come from private state (the thread's
//! token) or from loops bounded by the table; nothing here follows a pointer read from
//! the object (robust-list linking goes through the thread's private book,
//! `sys::robust`). A peer that scribbles on the object can break this lock for its
//! users, never make another process crash or write outside it.

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::header::{Header, Kind, Lifecycle};
use super::holder::{FLAG_CROSS_NS, Record, Robust};
use super::rlock::{FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS};
use super::spin::spin_until;
use super::zero_body;
use crate::status::Status;
use crate::sys::futex::{self, Wake};
use crate::sys::robust;
use crate::sys::thread::{self, ThreadCtx};
use crate::sys::time::{Deadline, WaitLimit};

mod drain;
mod read;
#[cfg(test)]
mod tests;
mod write;

/// How many threads may hold the read side at the same time (each holds one slot).
/// Threads that only wait hold none.
pub(crate) const RW_READERS: usize = 64;

/// In `wword`'s TID field: a read phase is open (see the module docs). Not a TID
/// (`PID_MAX_LIMIT` is 2^22), so the kernel never matches it.
pub(crate) const READ_PHASE: u32 = 0x3fff_fffd;
/// A slot word: the slot's reader died, its share is back, its death is not reported
/// yet. Not a TID either.
pub(crate) const REPORT: u32 = 0x3fff_fffe;

/// `futex_wait_bitset` masks on `wword`: readers and writers sleep on the same word
/// and a release wakes one kind or the other.
const WAKE_READERS: u32 = 1;
const WAKE_WRITERS: u32 = 2;

/// How long a waiter sleeps before it asks `/proc` about the holder it waits for (the
/// back-stop for deaths the kernel does not report). Only blocked waiters pay for it.
const BACKSTOP_INTERVAL_MS: i64 = 250;
/// How long writers wait for the readers of a read phase to come in before they end
/// the phase themselves (only readers killed while waking, or never scheduled, take
/// that long).
const PHASE_GIVE_UP_MS: i64 = 20;

/// One reader slot (64 bytes, its own cache line). The node is 32 bytes after the
/// word, as the kernel's robust list expects (glibc's `futex_offset` -32).
///
/// ```text
/// +0   word       u32   robust word, see the table below
/// +4   level      u32   read re-entry level (written by the holder only; meaningful
///                        only while held: every claim stores 1, the inline release
///                        leaves it)
/// +8   token      u64   holder thread's token ("is it mine?")
/// +16  ids        u64   holder's pid << 32 | tid (back-stop record)
/// +24  start      u64   holder thread's start time (back-stop record)
/// +32  list_next  usize robust-list node: written by the holder, read by the kernel only
/// +40  ns         u32   holder's PID-namespace id (back-stop record)
/// +44  reserved   (20)
/// ```
///
/// The record (token, ids, start, ns) stays after a release: the next holder rewrites
/// it when its token differs (a thread that reads again keeps its slot's line as it was).
///
/// Slot word states (`W` = `FUTEX_WAITERS`, `D` = `FUTEX_OWNER_DIED`):
///
/// | word     | meaning                                           | moved on by                          |
/// |----------|---------------------------------------------------|--------------------------------------|
/// | 0        | free                                              | a reader (CAS to its TID)            |
/// | t (\| W) | read-held by thread t; W: a writer sleeps on it   | t (swap to 0), the kernel (to D)     |
/// | D (\| W) | its reader died (kernel, or the back-stop marked it) | anyone who meets it (CAS to REPORT) |
/// | REPORT   | share back, death not told yet                    | one acquisition (CAS to 0, or to its TID) |
#[repr(C)]
pub(crate) struct ReadSlot {
    word: AtomicU32,
    level: AtomicU32,
    token: AtomicU64,
    ids: AtomicU64,
    start: AtomicU64,
    list_next: AtomicUsize,
    ns: AtomicU32,
    _reserved: [AtomicU32; 5],
}

/// Shared layout (`MP_RWLOCK_SIZE` = 4224 bytes, 8-aligned):
///
/// ```text
/// +0   header      (8)
/// +8   wword       u32   writer word (robust format), see the table below
/// +12  phase_left  u32   (as i32) readers of the open read phase not yet in
/// +16  wtoken      u64   writer's token; 0 when free (written by the writer only)
/// +24  wids        u64   writer's pid << 32 | tid (back-stop record; 0 when free)
/// +32  wstart      u64   writer thread's start time (back-stop record)
/// +40  wlist_next  usize writer's robust-list node (wword + 32)
/// +48  wns         u32   writer's PID-namespace id (back-stop record)
/// +52  reports     u32   how many slots may be REPORT (a hint: readers check it on
///                        their fast path; writers look at every slot anyway)
/// +56  ns_flags    u64   creator's PID-namespace id | FLAG_CROSS_NS << 32
/// +64  used        u64   bit i: slot i was ever claimed (never cleared); writers look
///                        only at those slots
/// +72  reserved    (56)
/// +128 slots       [ReadSlot; 64]
/// ```
///
/// `used` keeps the uncontended write pair from reading 64 lines: a reader sets its
/// slot's bit (once per slot, so the line stays read-mostly) after claiming the slot
/// and before reading `wword`; a writer reads `used` after taking `wword`. Both `SeqCst`:
/// a reader admitted before the writer's CAS set (or saw) its bit before the writer
/// reads `used`, so the writer looks at its slot.
///
/// `wword` states (`W` = someone may sleep on it, `D` = owner died):
///
/// | TID field  | W | D | meaning                                                       |
/// |------------|---|---|---------------------------------------------------------------|
/// | 0          | x | 0 | no writer: readers enter; a writer may take it                 |
/// | t          | x | 0 | writer t holds it (or is draining readers): readers wait       |
/// | 0          | x | 1 | its writer died: the next acquirer takes the mark and is told  |
/// | READ_PHASE | x | 0 | a writer released with sleepers: readers enter, writers wait   |
/// |            |   |   | until `phase_left` reaches 0 (or `PHASE_GIVE_UP_MS`)            |
#[repr(C)]
pub(crate) struct RawRwLock {
    header: Header,
    wword: AtomicU32,
    phase_left: AtomicU32,
    wtoken: AtomicU64,
    wids: AtomicU64,
    wstart: AtomicU64,
    wlist_next: AtomicUsize,
    wns: AtomicU32,
    reports: AtomicU32,
    ns_flags: AtomicU64,
    used: AtomicU64,
    _reserved: [AtomicU64; 7],
    slots: [ReadSlot; RW_READERS],
}

published_layout!(RawRwLock, size = 128 + 64 * RW_READERS, align = 8);

const _: () = {
    assert!(core::mem::size_of::<ReadSlot>() == 64);
    assert!(
        core::mem::offset_of!(ReadSlot, list_next) as isize + robust::FUTEX_OFFSET
            == core::mem::offset_of!(ReadSlot, word) as isize
    );
    assert!(
        core::mem::offset_of!(RawRwLock, wlist_next) as isize + robust::FUTEX_OFFSET
            == core::mem::offset_of!(RawRwLock, wword) as isize
    );
    assert!(core::mem::offset_of!(RawRwLock, slots) == 128);
    assert!(RW_READERS <= 64); // one bit of `used` per slot
    assert!(RW_READERS as u64 == thread::HOME_SLOTS); // `home_slot`
};

impl ReadSlot {
    fn record(&self) -> Record<'_> {
        Record {
            ids: &self.ids,
            start: &self.start,
            ns: &self.ns,
        }
    }

    /// True if `me` holds this slot: the word names our TID, and the token is ours or
    /// — when a peer rewrote the token — our private book lists the slot.
    #[inline]
    fn is_held_by(&self, me: &ThreadCtx) -> bool {
        self.word.load(Ordering::Relaxed) & FUTEX_TID_MASK == me.tid
            && (self.token.load(Ordering::Relaxed) == me.token
                || listed_in_book(me, &self.list_next))
    }
}

/// True if the calling thread's private book lists `node`.
#[cold]
#[inline(never)]
fn listed_in_book(me: &ThreadCtx, node: &AtomicUsize) -> bool {
    // SAFETY: the calling thread's own book (or null), used only during this call.
    unsafe { me.book.as_ref() }.is_some_and(|book| robust::book_lists(book, node))
}

/// How a sleep on a held word ended ([`RawRwLock::sleep_on`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slept {
    /// The word changed before `FUTEX_WAITERS` was set on it: look again (no sleep).
    Changed,
    /// Woken (or a spurious wake-up, or the word changed before the sleep): look again.
    Woken,
    /// A signal handler ran (`Intr`).
    Interrupted,
    /// The deadline passed (`Timeout`).
    DeadlinePassed,
    /// The cap passed; the back-stop looked at the holder: look again.
    BackStopLooked,
}

/// What the inline part of an acquisition did.
#[derive(Clone, Copy)]
enum Inline {
    /// Acquired: nothing more to do.
    Done,
    /// Took (and linked) the thread's home slot, or the writer word, but the general
    /// path must finish the acquisition.
    Taken,
    /// Did nothing: the general path starts from scratch.
    Skipped,
}

/// The slot a thread looks at first (drawn from its token, see
/// [`ThreadCtx::home_slot_offset`]).
#[inline(always)]
fn home(me: &ThreadCtx) -> usize {
    usize::from(me.home_slot_offset) / 64 % RW_READERS
}

/// What a read-side inspector sees of one slot (see [`RawRwLock::snapshot`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotView {
    pub word: u32,
    pub level: u32,
    pub ids: u64,
    pub start: u64,
    pub ns: u32,
}

/// What an inspector sees of the whole lock (racy; each field loaded once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RwLockView {
    pub wword: u32,
    pub wids: u64,
    pub wstart: u64,
    pub wns: u32,
    pub reports: u32,
    pub creator_ns: u32,
    pub cross_ns: bool,
    pub slots: Vec<SlotView>,
}

impl RawRwLock {
    /// Initialises (free) and publishes, recording the caller's PID namespace.
    pub(crate) fn init(&self, lifecycle: Lifecycle) {
        let me = thread::current();
        // SAFETY: only atomics after the header; not published yet (nobody looks).
        unsafe { zero_body(self) };
        self.ns_flags.store(u64::from(me.pidns), Ordering::Relaxed);
        self.header.publish(Kind::RwLock, lifecycle);
    }

    /// The object header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// The calling thread's home slot, `slots[home(me)]`, found with one load.
    #[inline(always)]
    fn home_slot(&self, me: &ThreadCtx) -> &ReadSlot {
        // SAFETY: `home_slot_offset` is 64 times an index below `HOME_SLOTS` ==
        // `RW_READERS` (asserted with the layout), and slots are 64 bytes: the offset
        // of `slots[home(me)]` in the array. The context is the thread's private memory.
        unsafe {
            &*self
                .slots
                .as_ptr()
                .byte_add(usize::from(me.home_slot_offset))
        }
    }

    fn writer_record(&self) -> Record<'_> {
        Record {
            ids: &self.wids,
            start: &self.wstart,
            ns: &self.wns,
        }
    }

    /// How `me` may use its robust list here (flags a participant from another, or an
    /// unknown, PID namespace for everyone, as the RLock does).
    #[inline]
    fn robust_for(&self, me: &ThreadCtx) -> Robust {
        Robust::of(&self.ns_flags, me)
    }

    /// Records that slot `i` is in use, after claiming it and before reading `wword`
    /// (see `used`): a load, and once per slot a `fetch_or`.
    #[inline(always)]
    fn mark_used(&self, i: usize) {
        let bit = 1u64 << i;
        if self.used.load(Ordering::SeqCst) & bit == 0 {
            self.mark_used_slow(bit);
        }
    }

    #[cold]
    #[inline(never)]
    fn mark_used_slow(&self, bit: u64) {
        self.used.fetch_or(bit, Ordering::SeqCst);
    }

    /// The slots a writer must look at (ever claimed).
    #[inline(always)]
    fn used_slots(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// The calling thread and its book when the inline paths apply: the thread's robust
    /// head is set and every participant seen shares its PID namespace (`same_ns_key`).
    /// One pointer test stands for three: a thread context holds a non-null
    /// `robust_head` only when the thread is set up and has a book that links into that
    /// list (`ThreadCtx::robust_head`; an uninitialised context is all zeros).
    ///
    /// # Safety
    /// The caller uses the book only during its own call and holds no other reference
    /// to it meanwhile.
    #[inline(always)]
    unsafe fn inline_thread(&self) -> Option<(&'static ThreadCtx, &'static mut robust::Book)> {
        let me = thread::current_as_is();
        if me.robust_head.is_null() || self.ns_flags.load(Ordering::Relaxed) != me.same_ns_key {
            return None;
        }
        // SAFETY: non-null with a non-null `robust_head` (above); the calling thread's
        // own book, not otherwise borrowed (the contract).
        let book = unsafe { &mut *me.book };
        debug_assert!(book.links());
        Some((me, book))
    }

    /// An acquisition of either side: `inline` (the side's inline path) when the thread
    /// and its book allow one (as for [`inline_thread`](Self::inline_thread), and the
    /// book has room), then, unless it is done, a tail call: `after_inline` when it took
    /// the word or slot, `general` when it did nothing. Neither call is inlined, so the
    /// inline path needs no stack frame.
    #[inline(always)]
    fn acquire_with<W: WaitLimit>(
        &self,
        limit: W,
        inline: fn(&Self, &ThreadCtx, &mut robust::Book) -> Inline,
        after_inline: fn(&Self, W) -> Status,
        general: fn(&Self, W) -> Status,
    ) -> Status {
        // SAFETY: the book is used only during `inline`, and nothing else borrows it.
        let done = match unsafe { self.inline_thread() } {
            Some((me, book)) if robust::book_has_room(book) => inline(self, me, book),
            _ => Inline::Skipped,
        };
        match done {
            Inline::Done => Status::Ok,
            Inline::Taken => after_inline(self, limit),
            Inline::Skipped => general(self, limit),
        }
    }

    /// How an inline acquirer uses its robust list (what [`Robust::of`] returns for it:
    /// `inline_thread` saw one namespace and no cross-namespace flag).
    #[inline(always)]
    fn inline_robust(me: &ThreadCtx) -> Robust {
        Robust {
            head: me.robust_head,
            pending_while_not_owned: true,
        }
    }

    /// The start of either side's general path (first call of the thread, another
    /// namespace, a book without room, a wait): the thread and its robust use, or `None`
    /// if it holds the write side (`Deadlock`: an upgrade, or a second write, would wait
    /// for ever).
    #[cold]
    #[inline(never)]
    fn general_start(&self) -> Option<(&'static ThreadCtx, Robust)> {
        let me = thread::current();
        // SAFETY: the calling thread's own book (or null).
        unsafe { robust::make_room(me.book) };
        let robust = self.robust_for(me);
        (!self.is_writer(me)).then_some((me, robust))
    }

    // ---- sleeping on a held word ---------------------------------------------------

    /// Sleeps on `word` (the writer word or a reader slot, seen as `w`: held), woken
    /// only by wake-ups for `mask`, after setting `FUTEX_WAITERS` on it, until woken, the
    /// deadline, a signal handler, or `cap_ms`. At the cap, if `holder` (the word's
    /// back-stop record) provably died, marks the word dead for the next look.
    #[cold]
    fn sleep_on(
        &self,
        me: &ThreadCtx,
        word: &AtomicU32,
        w: u32,
        (mask, cap_ms): (u32, i64),
        holder: Option<Record<'_>>,
        deadline: &Deadline,
    ) -> Slept {
        if w & FUTEX_WAITERS == 0
            && word
                .compare_exchange(w, w | FUTEX_WAITERS, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
        {
            return Slept::Changed;
        }
        let held = w | FUTEX_WAITERS;
        match futex::wait_bitset(word, held, &deadline.capped_ms(cap_ms), mask) {
            Wake::Retry => Slept::Woken,
            Wake::Interrupted => Slept::Interrupted,
            Wake::TimedOut if deadline.expired() => Slept::DeadlinePassed,
            Wake::TimedOut => {
                if let Some(record) = holder {
                    record.mark_if_provably_dead(me, word, held, 0);
                }
                Slept::BackStopLooked
            }
        }
    }

    // ---- reports of dead readers ---------------------------------------------------

    /// Turns dead slot `i` (word `w`: no TID, `D`) into a report: the reader's share is
    /// back (nobody waits for the slot any more), its death not told yet.
    #[cold]
    fn reclaim_dead_slot(&self, i: usize, w: u32) {
        // Count first: a reclaimer that dies between the two leaves a count too high,
        // which the next claim settles, never a report nobody looks for.
        self.reports.fetch_add(1, Ordering::SeqCst);
        if self.slots[i]
            .word
            .compare_exchange(w, REPORT, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            self.reports_sub();
        }
    }

    /// Takes one report (a `REPORT` slot freed): true if this acquisition is told.
    #[cold]
    #[inline(never)]
    fn claim_report(&self) -> bool {
        let seen = self.reports.load(Ordering::SeqCst);
        if seen == 0 {
            return false;
        }
        for s in &self.slots {
            if s.word.load(Ordering::Relaxed) == REPORT
                && s.word
                    .compare_exchange(REPORT, 0, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                self.reports_sub();
                return true;
            }
        }
        // A stale count (a reclaimer died between counting and marking): settle it.
        let _ = self
            .reports
            .compare_exchange(seen, 0, Ordering::SeqCst, Ordering::Relaxed);
        false
    }

    fn reports_sub(&self) {
        let _ = self
            .reports
            .fetch_update(Ordering::SeqCst, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    // ---- lifecycle and inspection --------------------------------------------------

    /// Ends an in-place lock: `Busy` while held (either side, or a dead holder not yet
    /// reclaimed) or slept on, and whenever the calling thread's private book says it
    /// holds a part of it.
    pub(crate) fn destroy(&self) -> Status {
        if robust::thread_holds_lock_in(
            self as *const RawRwLock as usize,
            core::mem::size_of::<RawRwLock>(),
        ) {
            return Status::Busy;
        }
        let w = self.wword.load(Ordering::SeqCst);
        if w & FUTEX_TID_MASK != 0 && w & FUTEX_TID_MASK != READ_PHASE {
            return Status::Busy;
        }
        // A `W` left by waiters that were killed is stale unless the kernel finds a
        // sleeper (who re-checks and sleeps again).
        if w & FUTEX_WAITERS != 0 && futex::wake_all(&self.wword) != 0 {
            return Status::Busy;
        }
        if self.slots.iter().any(|s| {
            let sw = s.word.load(Ordering::SeqCst);
            sw != 0 && sw != REPORT
        }) {
            return Status::Busy;
        }
        self.header.retire();
        Status::Ok
    }

    /// Read-only snapshot for inspectors. Never blocks, never writes.
    pub(crate) fn snapshot(&self) -> RwLockView {
        let flags = self.ns_flags.load(Ordering::Relaxed);
        RwLockView {
            wword: self.wword.load(Ordering::Acquire),
            wids: self.wids.load(Ordering::Acquire),
            wstart: self.wstart.load(Ordering::Relaxed),
            wns: self.wns.load(Ordering::Relaxed),
            reports: self.reports.load(Ordering::Relaxed),
            creator_ns: flags as u32,
            cross_ns: (flags >> 32) as u32 & FLAG_CROSS_NS != 0,
            slots: self
                .slots
                .iter()
                .map(|s| SlotView {
                    word: s.word.load(Ordering::Acquire),
                    level: s.level.load(Ordering::Relaxed),
                    ids: s.ids.load(Ordering::Acquire),
                    start: s.start.load(Ordering::Relaxed),
                    ns: s.ns.load(Ordering::Relaxed),
                })
                .collect(),
        }
    }
}

//! Read-only decoding of an undo semaphore's words for the inspector: the value word's
//! fields, and what each holder slot is (free, idle with cached units, held, dead,
//! reclaimed awaiting its death report, or not a state of the table), with the units it
//! holds or caches and its holder's back-stop record.
//!
//! A child module of `sem_undo`, so that the bit layout and the rule that settles an
//! operation in flight stay private to the state machine and its one reader.
//!
//! The inspector applies these functions to a private copy of a file that any process
//! with access may have scribbled on: nothing here indexes with a value read from the
//! object, every word outside the state table decodes as [`SlotKind::Unknown`] (and
//! counts in no total), and every sum saturates. Nothing is written.

use core::sync::atomic::Ordering;

use super::{
    ACQ, CACHED_ONE, CP, DEATHS, FLAG_CROSS_NS, FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS,
    IDLE, LINKED, PARITY, PEND, REPORT, RawSemUndo, Slot, UNDO_HOLDERS, UNDO_VALUE_MAX, UNITS_MASK,
    VALUE_MASK, committed, tag_of,
};

/// No thread id reaches this (`PID_MAX_LIMIT`, 2^22): a larger TID field is a scribble.
const TID_LIMIT: u32 = 1 << 22;

/// The semaphore-wide fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeadView {
    /// The raw value word.
    pub(crate) value_word: u32,
    /// Units available in the value word (its low 23 bits).
    pub(crate) available: u32,
    /// The bound (may exceed `UNDO_VALUE_MAX` in a damaged object: see `is_sane`).
    pub(crate) max_value: u32,
    /// `DEATHS`: death reports may be waiting in the table.
    pub(crate) deaths: bool,
    /// Threads registered as (about to be) asleep.
    pub(crate) sleepers: u32,
    /// The creator's PID-namespace id.
    pub(crate) creator_ns: u32,
    /// Participants from several PID namespaces were seen.
    pub(crate) cross_ns: bool,
}

impl HeadView {
    /// The bound is one an undo semaphore can have, and the value within it.
    pub(crate) fn is_sane(&self) -> bool {
        self.max_value <= UNDO_VALUE_MAX && self.available <= self.max_value
    }
}

/// What a slot word says (see the slot state table in `sem_undo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SlotKind {
    /// 0: nobody's.
    Free,
    /// `tid | IDLE` (or `tid | IDLE | CACHED_ONE`, one unit cached): thread `tid`'s
    /// slot, unlinked, holding nothing; its units are cached (anyone who needs them
    /// takes the slot over).
    Idle,
    /// `tid` (with or without `FUTEX_WAITERS`): thread `tid` holds the units.
    Held,
    /// `FUTEX_OWNER_DIED` without a TID: the holder died (marked by the kernel or a
    /// waiter's back-stop); a reclaimer gives its units back.
    Dead,
    /// `REPORT`: the dead holder's units were given back; one later acquirer is told.
    Report,
    /// Anything else (a scribble), or a slot whose count passes the bound.
    Unknown,
}

/// One slot, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotView {
    /// The raw slot word.
    pub(crate) word: u32,
    /// What the word says.
    pub(crate) kind: SlotKind,
    /// The TID in the word (`Idle`, `Held`), else 0.
    pub(crate) word_tid: u32,
    /// `FUTEX_WAITERS`: threads may sleep on the word.
    pub(crate) waiters: bool,
    /// Units held (`Held`, `Dead`: after settling an operation whose value change is
    /// done) or cached (`Idle`); 0 for `Free` and `Report`; as stored for `Unknown`.
    pub(crate) units: u32,
    /// An operation is in flight (`PEND`): an acquire if `acquiring`.
    pub(crate) pending: bool,
    /// The operation in flight is an acquire.
    pub(crate) acquiring: bool,
    /// Linked into the holder's robust list (the kernel reports its death); false for
    /// slots that hold nothing (`Free`, `Idle`, `Report`, `Unknown`).
    pub(crate) linked: bool,
    /// The back-stop record: pid and tid (0 if none), start time, PID namespace. In a
    /// `Report` slot it names the reclaimer, not the dead holder.
    pub(crate) pid: u32,
    pub(crate) tid: u32,
    pub(crate) start: u64,
    pub(crate) ns: u32,
}

/// The kind of slot word `w` (before the units are checked).
fn kind_of_word(w: u32) -> (SlotKind, u32) {
    let tid = w & FUTEX_TID_MASK;
    if w == 0 {
        (SlotKind::Free, 0)
    } else if w == REPORT {
        (SlotKind::Report, 0)
    } else if w & FUTEX_OWNER_DIED != 0 {
        // The kernel (and the back-stop) clear the TID when they mark a death.
        if tid == 0 {
            (SlotKind::Dead, 0)
        } else {
            (SlotKind::Unknown, 0)
        }
    } else if w & IDLE != 0 {
        let t = tid & !(IDLE | CACHED_ONE);
        if w & FUTEX_WAITERS == 0 && t != 0 && t < TID_LIMIT {
            (SlotKind::Idle, t)
        } else {
            (SlotKind::Unknown, 0)
        }
    } else if tid != 0 && tid < TID_LIMIT {
        (SlotKind::Held, tid)
    } else {
        (SlotKind::Unknown, 0)
    }
}

impl RawSemUndo {
    /// The semaphore-wide fields (a racy read, field by field).
    pub(crate) fn view_head(&self) -> HeadView {
        let v = self.value.load(Ordering::Acquire);
        let flags = self.ns_flags.load(Ordering::Relaxed);
        HeadView {
            value_word: v,
            available: v & VALUE_MASK,
            max_value: self.max_value.load(Ordering::Relaxed),
            deaths: v & DEATHS != 0,
            sleepers: self.sleepers.load(Ordering::Relaxed),
            creator_ns: flags as u32,
            cross_ns: (flags >> 32) as u32 & FLAG_CROSS_NS != 0,
        }
    }

    /// Slot `i` decoded against the value word `value_word` (from [`Self::view_head`]:
    /// it decides whether an operation in flight already changed the value); `None`
    /// if `i` is not a slot index.
    pub(crate) fn view_slot(&self, i: usize, value_word: u32) -> Option<SlotView> {
        let slot = self.slots.get(i)?;
        let word = slot.word.load(Ordering::Acquire);
        let raw = slot.state.load(Ordering::Acquire);
        let ids = slot.ids.load(Ordering::Acquire);
        let (mut kind, word_tid) = kind_of_word(word);
        // An operation in flight whose value change is done counts as committed (the
        // rule a reclaimer applies: the tag names this slot with this parity).
        let done = raw & PEND != 0
            && tag_of(value_word) as usize == i + 1
            && (value_word & PARITY != 0) == (raw & CP == 0);
        let settled = if done { committed(raw) } else { raw };
        let stored = (settled & UNITS_MASK) as u32;
        let max = self.max_value.load(Ordering::Relaxed).min(UNDO_VALUE_MAX);
        let units = match kind {
            SlotKind::Free | SlotKind::Report => 0,
            _ => stored,
        };
        if units > max {
            // No slot can hold more than the bound: a damaged count.
            kind = SlotKind::Unknown;
        }
        Some(SlotView {
            word,
            kind,
            word_tid: if kind == SlotKind::Unknown {
                0
            } else {
                word_tid
            },
            waiters: word & FUTEX_WAITERS != 0 && word != REPORT,
            units,
            pending: raw & PEND != 0,
            acquiring: raw & (PEND | ACQ) == PEND | ACQ,
            // An idle slot keeps the bit of its owner's last hold (see `LINKED`).
            linked: matches!(kind, SlotKind::Held | SlotKind::Dead) && raw & LINKED != 0,
            pid: (ids >> 32) as u32,
            tid: ids as u32,
            start: slot.start.load(Ordering::Relaxed),
            ns: slot.ns.load(Ordering::Relaxed),
        })
    }

    /// Where slot `i` lies in the object's bytes (for a reader of a copy that wants to
    /// know whether one slot changed between two copies).
    pub(crate) fn slot_bytes(i: usize) -> core::ops::Range<usize> {
        let start = core::mem::offset_of!(RawSemUndo, slots) + i * core::mem::size_of::<Slot>();
        start..start + core::mem::size_of::<Slot>()
    }

    /// Every slot that is not free, with its index, decoded against one value word.
    pub(crate) fn view_slots(&self, value_word: u32) -> impl Iterator<Item = (usize, SlotView)> {
        (0..UNDO_HOLDERS).filter_map(move |i| {
            self.view_slot(i, value_word)
                .filter(|s| s.kind != SlotKind::Free)
                .map(|s| (i, s))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::DELTA_SHIFT;
    use super::*;
    use crate::raw::header::Lifecycle;
    use crate::raw::test_util::fresh;
    use crate::status::Status;
    use crate::sys::time::Timeout;

    fn new_sem(v: u32, max: u32) -> std::sync::Arc<RawSemUndo> {
        fresh(|s: &RawSemUndo| s.init(v, max, Lifecycle::InPlace))
    }

    fn only_slot(s: &RawSemUndo) -> (usize, SlotView) {
        let h = s.view_head();
        let all: Vec<_> = s.view_slots(h.value_word).collect();
        assert_eq!(all.len(), 1, "{all:?}");
        all[0]
    }

    #[test]
    fn a_fresh_semaphore_has_no_slots() {
        let s = new_sem(3, 5);
        let h = s.view_head();
        assert_eq!(
            (h.available, h.max_value, h.deaths, h.sleepers),
            (3, 5, false, 0)
        );
        assert!(h.is_sane() && !h.cross_ns);
        assert_eq!(s.view_slots(h.value_word).count(), 0);
        assert_eq!(s.view_slot(UNDO_HOLDERS, h.value_word), None);
        assert_eq!(s.view_slot(usize::MAX, h.value_word), None);
    }

    #[test]
    fn held_then_idle_with_the_unit_cached() {
        let s = new_sem(3, 3);
        assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
        let me = crate::sys::thread::current();
        let (_, v) = only_slot(&s);
        assert_eq!(v.kind, SlotKind::Held);
        assert_eq!((v.word_tid, v.units, v.pending), (me.tid, 2, false));
        assert_eq!(
            (v.pid, v.tid, v.start, v.ns),
            (me.pid, me.tid, me.start_time, me.pidns)
        );
        assert_eq!(s.view_head().available, 1);
        assert_eq!(s.release(), Status::Ok);
        assert_eq!(s.release(), Status::Ok);
        let (_, v) = only_slot(&s);
        assert_eq!(
            (v.kind, v.word_tid, v.linked),
            (SlotKind::Idle, me.tid, false)
        );
        // The last unit released stays cached in the idle slot.
        assert_eq!(v.units + s.view_head().available, 3);
    }

    #[test]
    fn dead_and_report_slots() {
        let s = new_sem(2, 2);
        let h = s.view_head();
        let slot = &s.slots[5];
        slot.word
            .store(FUTEX_OWNER_DIED | FUTEX_WAITERS, Ordering::Relaxed);
        slot.state.store(2 | LINKED, Ordering::Relaxed);
        slot.ids.store(7 << 32 | 8, Ordering::Relaxed);
        let (i, v) = only_slot(&s);
        assert_eq!(i, 5);
        assert_eq!(
            (v.kind, v.units, v.linked, v.waiters),
            (SlotKind::Dead, 2, true, true)
        );
        assert_eq!((v.pid, v.tid), (7, 8));
        // An acquire in flight: done iff the tag names the slot with its parity.
        slot.state
            .store(1 | PEND | ACQ | (1 << DELTA_SHIFT), Ordering::Relaxed);
        let tagged = (6 << 23) | PARITY;
        assert_eq!(s.view_slot(5, tagged).unwrap().units, 2);
        assert_eq!(s.view_slot(5, 6 << 23).unwrap().units, 1);
        assert_eq!(s.view_slot(5, h.value_word).unwrap().units, 1);
        assert!(s.view_slot(5, tagged).unwrap().pending);
        slot.word.store(REPORT, Ordering::Relaxed);
        let v = s.view_slot(5, h.value_word).unwrap();
        assert_eq!((v.kind, v.units), (SlotKind::Report, 0));
    }

    #[test]
    fn scribbled_words_decode_as_unknown_never_panic() {
        let s = new_sem(1, 4);
        let unknown = [
            FUTEX_WAITERS,            // no TID, no death
            FUTEX_OWNER_DIED | 1234,  // a death mark with a TID
            IDLE,                     // idle without a TID
            IDLE | CACHED_ONE,        // the same, one unit cached
            IDLE | FUTEX_WAITERS | 5, // an idle word never has waiters
            TID_LIMIT + 1,            // beyond any TID
            REPORT | FUTEX_WAITERS,   // not exactly REPORT
            FUTEX_TID_MASK,
        ];
        for w in unknown {
            s.slots[0].word.store(w, Ordering::Relaxed);
            let v = s.view_slot(0, 0).unwrap();
            assert_eq!(v.kind, SlotKind::Unknown, "{w:#x}");
            assert_eq!(v.word_tid, 0);
        }
        // A held slot with more units than the bound.
        s.slots[0].word.store(99, Ordering::Relaxed);
        s.slots[0].state.store(UNITS_MASK, Ordering::Relaxed);
        assert_eq!(s.view_slot(0, 0).unwrap().kind, SlotKind::Unknown);
        // Random bytes everywhere: every slot decodes, nothing panics.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200 {
            for slot in &s.slots {
                slot.word.store(next() as u32, Ordering::Relaxed);
                slot.state.store(next(), Ordering::Relaxed);
                slot.ids.store(next(), Ordering::Relaxed);
            }
            s.value.store(next() as u32, Ordering::Relaxed);
            s.max_value.store(next() as u32, Ordering::Relaxed);
            let h = s.view_head();
            let _ = h.is_sane();
            for (_, v) in s.view_slots(h.value_word) {
                assert!(v.units <= UNDO_VALUE_MAX || v.kind == SlotKind::Unknown);
            }
        }
    }
}

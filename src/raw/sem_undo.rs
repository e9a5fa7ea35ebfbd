//! Undo semaphore (`MP_SEM_UNDO`): a `Semaphore` / `BoundedSemaphore` whose units come
//! back when the thread that acquired them dies holding them (`SIGKILL` at any
//! instruction, exit, `exec`, or the thread's exit), like System V's `SEM_UNDO` — but
//! without a system call on the uncontended path.
//!
//! **Idea.** Every thread that holds units owns a *holder slot* in a fixed table inside
//! the object. A slot's first word has the kernel's robust-futex format (holder TID |
//! `FUTEX_WAITERS` | `FUTEX_OWNER_DIED`), and while the thread holds units the slot is
//! linked into the thread's kernel robust list through its private book
//! (`sys::robust`), exactly like a held RLock. When the thread dies, the kernel marks
//! the slot `FUTEX_OWNER_DIED` and wakes one waiter sleeping on it; waiters sleep on
//! the value *and* on the holders' slot words at once (`futex_waitv`). The waiter (or
//! any acquirer that finds a dead slot) *reclaims* the slot: it returns the dead
//! holder's units to the value and leaves a *death report* in the slot, which exactly
//! one later acquirer (normally that waiter) collects with `MP_OWNER_DEAD`.
//!
//! **Making "take a unit" and "record it in my slot" one step.** They are two words, so
//! a death between them must be resolvable. Each operation first writes its intent into
//! the slot (`PEND`, direction, amount), then changes the value with a CAS that also
//! writes a *tag* naming the slot and the operation's parity (the parity of the slot's
//! count of committed operations, plus one), then commits into the slot (one store).
//! Nobody replaces a tag whose operation is not committed yet: before its own CAS, an
//! operator checks that the slot named by the tag has committed (it waits the few
//! instructions it takes, or reclaims the slot if its holder is dead). So for a dead
//! slot with a pending operation, "the tag names this slot and this parity" is
//! exactly "the value was already changed".
//!
//! **Idle slots and cached units.** A thread that releases its last unit keeps its slot,
//! marked idle (`IDLE`, unlinked from its robust list), and leaves the unit *cached* in
//! it: the uncontended release is one swap of its own slot word, and its next acquire
//! takes the slot (and the unit) back with one CAS of that word — two atomic RMWs per
//! pair, as `sem_wait` + `sem_post`, and the value word is not touched. A cached unit is
//! not held: the kernel never reports an idle slot (no TID matches it), and anyone who
//! needs a unit (a waiter, an acquirer that finds the value empty) takes an idle slot
//! over with a CAS, cached units included (a live or dead thread's alike), so neither
//! units nor slots are ever stuck in idle slots. A release sees registered sleepers and
//! wakes one, which then looks for cached units.
//!
//! **Waiters hold no slot.** A thread that holds no unit claims a slot only to take a
//! unit into it; when there is none, it makes the slot idle again before it sleeps. So
//! the table bounds the threads that hold units, not those that wait (`Busy` only when
//! `UNDO_HOLDERS` other threads hold units).
//!
//! **Shared memory is untrusted.** Slot indices and amounts read from the object are
//! range-checked; nothing here follows a pointer read from it (linking goes through
//! the thread's private book). A peer that scribbles on the object can break this
//! semaphore for its users, never make another process crash or write outside it.

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

use super::header::{Header, Kind, Lifecycle};
use super::rlock::{FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS};
use crate::status::Status;
use crate::sys::futex::{self, Wake};
use crate::sys::liveness::{Liveness, Vantage};
use crate::sys::robust;
use crate::sys::thread::{self, ThreadCtx};
use crate::sys::time::{Deadline, WaitLimit};
use crate::sys::waitv;

/// The inspector's read-only decoding of the words (`sem_undo/view.rs`).
pub(crate) mod view;

/// How many threads may hold units of one undo semaphore at the same time.
pub(crate) const UNDO_HOLDERS: usize = 64;
/// Largest value of an undo semaphore (23 bits of the value word).
pub(crate) const UNDO_VALUE_MAX: u32 = (1 << 23) - 1;

// ---- the value word -------------------------------------------------------------------
/// Available units.
const VALUE_MASK: u32 = UNDO_VALUE_MAX;
const TAG_SHIFT: u32 = 23;
/// Slot index + 1 of the last operation (0: none).
const TAG_MASK: u32 = 0x7f << TAG_SHIFT;
/// Parity of the last operation (see the module docs).
const PARITY: u32 = 1 << 30;
/// Death reports may be waiting in the table (`REPORT` slots).
const DEATHS: u32 = 1 << 31;

// ---- slot words (robust-futex format) ------------------------------------------------
/// Inside the TID field: an idle slot of thread `tid` is `tid | IDLE`. No TID reaches
/// bit 29 (`PID_MAX_LIMIT` is 2^22), so the kernel never matches it.
const IDLE: u32 = 1 << 29;
/// A slot whose dead holder's units were returned; its death is not reported yet. Not
/// a TID either.
const REPORT: u32 = 0x3fff_fffe;

// ---- slot state (u64) ------------------------------------------------------------------
const UNITS_MASK: u64 = 0xff_ffff;
const DELTA_SHIFT: u32 = 24;
const DELTA_MASK: u64 = 0xff_ffff << DELTA_SHIFT;
/// An operation is in flight: `DELTA` units, an acquire if `ACQ`, else a release.
const PEND: u64 = 1 << 48;
const ACQ: u64 = 1 << 49;
/// Parity of the slot's committed operations (never reset while the object lives).
const CP: u64 = 1 << 50;
/// The slot's dead holder held units: its death must be reported.
const DEATH_DUE: u64 = 1 << 51;
/// The holder linked the slot into its robust list (the kernel reports its death).
/// Meaningful only while the slot is held: an idle slot keeps the bit its owner's last
/// hold left (so that neither fast path rewrites the state); whoever takes a slot over
/// sets it afresh. A stale 0 is harmless (waiters then use the shorter back-stop).
const LINKED: u64 = 1 << 52;

/// `ns_flags` high half: participants from several PID namespaces were seen.
const FLAG_CROSS_NS: u32 = 1;

/// How long a waiter sleeps before it checks holders in `/proc` (the back-stop), when
/// every holder it watches is linked (the kernel reports their deaths) ...
const BACKSTOP_LINKED_MS: i64 = 250;
/// ... and when some holder is not (its robust mode is off): the whole admission
/// latency after such a death is at most about this.
const BACKSTOP_UNLINKED_MS: i64 = 100;

/// How long a call without a deadline (a release, a reclaim) waits for another slot's
/// operation to commit before it gives up with nothing changed. A live holder commits
/// within a few instructions; only a stopped one, or a damaged object (a peer wrote a
/// tag that names an operation nobody will commit), takes longer.
const SETTLE_GIVE_UP: std::time::Duration = std::time::Duration::from_secs(2);

/// One holder slot (64 bytes). The node is 32 bytes after the word, as the kernel's
/// robust list expects (glibc's `futex_offset` -32).
///
/// ```text
/// +0   word       u32  robust word: 0 free | tid | tid|W | D(|W) dead | tid|IDLE | REPORT
/// +4   reserved   u32
/// +8   state      u64  units (0..24), pending delta (24..48), PEND, ACQ, CP,
///                      DEATH_DUE, LINKED (bits 48..53)
/// +16  token      u64  holder thread's token
/// +24  ids        u64  holder's pid << 32 | tid (back-stop record)
/// +32  list_next  u64  robust-list node, written by the holder, read by the kernel only
/// +40  start      u64  holder thread's start time (back-stop record)
/// +48  ns         u32  holder's PID-namespace id (back-stop record)
/// +52  reserved   (12)
/// ```
///
/// Slot word states (`W` = `FUTEX_WAITERS`, `D` = `FUTEX_OWNER_DIED`):
///
/// | word         | meaning                                   | who moves it on                     |
/// |--------------|-------------------------------------------|-------------------------------------|
/// | 0            | free                                      | a new holder (CAS)                  |
/// | tid \| IDLE  | idle: tid's slot, unlinked; `units` cached | tid, or anyone taking it over (CAS) |
/// | tid (\| W)   | held by tid, linked in its robust list    | tid (store IDLE), the kernel (D)    |
/// | D (\| W)     | holder died (kernel, or the back-stop)    | a reclaimer (CAS to its own tid)    |
/// | REPORT       | units returned, death not reported yet    | one acquirer (CAS to 0)             |
#[repr(C)]
pub(crate) struct Slot {
    word: AtomicU32,
    _r0: AtomicU32,
    state: AtomicU64,
    token: AtomicU64,
    ids: AtomicU64,
    list_next: AtomicUsize,
    start: AtomicU64,
    ns: AtomicU32,
    _r1: [AtomicU32; 3],
}

/// Shared layout (`MP_SEM_UNDO_SIZE` = 4160 bytes, 8-aligned):
///
/// ```text
/// +0   header     (8)
/// +8   value      u32  futex word: units (0..23) | tag (23..30) | PARITY (30) | DEATHS (31)
/// +12  sleepers   u32  threads registered as (about to be) asleep
/// +16  max_value  u32  fixed at init (<= UNDO_VALUE_MAX)
/// +20  reserved   u32
/// +24  ns_flags   u64  creator's PID-namespace id | FLAG_CROSS_NS << 32
/// +32  reserved   (32)
/// +64  slots      [Slot; 64]
/// ```
///
/// Invariant when no operation is in flight: value + the units of all slots (held,
/// cached in idle slots, or dead) = the units ever created (`value` at init + releases beyond it, which the bound
/// forbids for a `BoundedSemaphore`). The value word's states:
///
/// | tag        | DEATHS | meaning                                                      |
/// |------------|--------|--------------------------------------------------------------|
/// | 0          | 0      | no operation since init (or since a reclaim settled)         |
/// | i+1, p     | x      | slot i did the last operation, with parity p; committed once |
/// |            |        | slot i's state shows no `PEND` of parity p                   |
/// | x          | 1      | some slot may be `REPORT`: acquirers take the slow path      |
#[repr(C)]
pub(crate) struct RawSemUndo {
    header: Header,
    value: AtomicU32,
    sleepers: AtomicU32,
    max_value: AtomicU32,
    _r0: AtomicU32,
    ns_flags: AtomicU64,
    _r1: [AtomicU64; 4],
    slots: [Slot; UNDO_HOLDERS],
}

published_layout!(RawSemUndo, size = 64 + 64 * UNDO_HOLDERS, align = 8);

const _: () = {
    assert!(core::mem::size_of::<Slot>() == 64);
    assert!(
        core::mem::offset_of!(Slot, list_next) as isize + robust::FUTEX_OFFSET
            == core::mem::offset_of!(Slot, word) as isize
    );
    assert!(core::mem::size_of::<RawSemUndo>() == 64 + 64 * UNDO_HOLDERS);
    assert!(UNDO_HOLDERS < (TAG_MASK >> TAG_SHIFT) as usize);
    // A waiter watches the value and every holder in one futex_waitv call.
    assert!(UNDO_HOLDERS < waitv::WAITV_MAX);
};

/// Why an operation on the value did not happen.
#[derive(Debug, PartialEq, Eq)]
enum Blocked {
    /// Not enough units (acquire).
    Empty,
    /// Would pass `max_value` (release).
    Full,
    /// Gave up waiting for another slot's operation to commit (deadline).
    Timeout,
}

/// How a waiter's sleep ([`RawSemUndo::sleep_for_units`]) ended.
#[derive(Debug, PartialEq, Eq)]
enum Slept {
    /// Woken, or a unit is there already: look again.
    Again,
    /// The deadline passed: one last look.
    DeadlinePassed,
    /// A signal handler ran (`MP_EINTR`).
    Interrupted,
}

#[inline(always)]
fn tag_of(v: u32) -> u32 {
    (v & TAG_MASK) >> TAG_SHIFT
}

/// The tag an operation of slot `i` in state `s` writes.
#[inline(always)]
fn tag_for(i: usize, s: u64) -> u32 {
    (((i as u32) + 1) << TAG_SHIFT) | if s & CP == 0 { PARITY } else { 0 }
}

/// The state after committing the operation pending in `pend`.
#[inline(always)]
fn committed(pend: u64) -> u64 {
    let units = pend & UNITS_MASK;
    let delta = (pend & DELTA_MASK) >> DELTA_SHIFT;
    let new_units = if pend & ACQ != 0 {
        units.saturating_add(delta).min(UNITS_MASK)
    } else {
        units.saturating_sub(delta)
    };
    (pend & !(UNITS_MASK | DELTA_MASK | PEND | ACQ)) ^ CP | new_units
}

/// Wakes the waiters that watch a slot word (they set `FUTEX_WAITERS` on it). Out of
/// line: the fast release only calls it when someone sleeps.
#[cold]
#[inline(never)]
fn wake_all_watchers(word: &AtomicU32) {
    futex::wake_all(word);
}

/// Waiting for another thread to finish a step of a few instructions (an operation's
/// commit, a report's publication): spins 63 rounds, then yields each round, and gives
/// up at the deadline or after `SETTLE_GIVE_UP`, which only a stopped thread or a
/// damaged object takes.
#[derive(Default)]
struct Patience {
    rounds: u32,
    since: Option<std::time::Instant>,
}

impl Patience {
    /// Lets one round pass: true to look again, false to give up.
    fn wait(&mut self, deadline: &Deadline) -> bool {
        self.rounds += 1;
        if self.rounds < 64 {
            core::hint::spin_loop();
            return true;
        }
        let started = *self.since.get_or_insert_with(std::time::Instant::now);
        if deadline.expired() || started.elapsed() > SETTLE_GIVE_UP {
            return false;
        }
        std::thread::yield_now();
        true
    }

    /// True once every `n` rounds after the spinning ones (for a check too costly to
    /// make every round).
    fn yielding_round_multiple_of(&self, n: u32) -> bool {
        self.rounds >= 64 && (self.rounds + 1).is_multiple_of(n)
    }
}

/// Places in the death-report protocol where a unit test can stop a thread, to run an
/// interleaving that is otherwise a few instructions wide. Compiled into tests only.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HookPoint {
    /// A reclaimer gave the dead holder's units back and has not published the report.
    ReclaimBeforeReport,
    /// A reclaimer published the report.
    ReclaimReported,
    /// `collect_report` found no published report and is about to look for one in
    /// flight.
    CollectAfterClaim,
}

/// A test hook: called at every [`HookPoint`] the thread passes.
#[cfg(test)]
type Hook = Box<dyn FnMut(HookPoint)>;

#[cfg(test)]
thread_local! {
    /// The calling thread's hook (see [`HookPoint`]).
    static HOOK: core::cell::RefCell<Option<Hook>> = const { core::cell::RefCell::new(None) };
}

/// Runs the calling thread's test hook, if any, at `point`.
#[cfg(test)]
fn hook(point: HookPoint) {
    HOOK.with(|h| {
        if let Some(f) = h.borrow_mut().as_mut() {
            f(point);
        }
    });
}

impl Slot {
    #[inline(always)]
    fn units(&self) -> u32 {
        (self.state.load(Ordering::Relaxed) & UNITS_MASK) as u32
    }
}

/// How this thread uses its robust list for the object (as the RLock's `Robust`): the
/// head (null: do not link), and whether the slot may be marked pending while the
/// thread does not own it (only when every participant shares our PID namespace).
#[derive(Clone, Copy)]
struct Robust {
    head: *mut crate::sys::futex::RobustListHead,
    pending_while_not_owned: bool,
}

impl Robust {
    #[inline]
    fn set_pending(self, node: &AtomicUsize) {
        if !self.head.is_null() {
            // SAFETY: `head` is the calling thread's live head (thread::current).
            unsafe { robust::set_pending(self.head, node) };
        }
    }

    #[inline]
    fn clear_pending(self) {
        if !self.head.is_null() {
            // SAFETY: as above.
            unsafe { robust::clear_pending(self.head) };
        }
    }
}

impl RawSemUndo {
    /// Checks the creation arguments: `value <= max_value <= UNDO_VALUE_MAX`.
    pub(crate) fn valid_args(value: u32, max_value: u32) -> bool {
        value <= max_value && max_value <= UNDO_VALUE_MAX
    }

    /// Initialises and publishes. Arguments must satisfy [`RawSemUndo::valid_args`].
    pub(crate) fn init(&self, value: u32, max_value: u32, lifecycle: Lifecycle) {
        let me = thread::current();
        self.value.store(value, Ordering::Relaxed);
        self.sleepers.store(0, Ordering::Relaxed);
        self.max_value.store(max_value, Ordering::Relaxed);
        self._r0.store(0, Ordering::Relaxed);
        self.ns_flags.store(u64::from(me.pidns), Ordering::Relaxed);
        for r in &self._r1 {
            r.store(0, Ordering::Relaxed);
        }
        for s in &self.slots {
            s.word.store(0, Ordering::Relaxed);
            s._r0.store(0, Ordering::Relaxed);
            s.state.store(0, Ordering::Relaxed);
            s.token.store(0, Ordering::Relaxed);
            s.ids.store(0, Ordering::Relaxed);
            s.list_next.store(0, Ordering::Relaxed);
            s.start.store(0, Ordering::Relaxed);
            s.ns.store(0, Ordering::Relaxed);
            for r in &s._r1 {
                r.store(0, Ordering::Relaxed);
            }
        }
        self.header.publish(Kind::SemUndo, lifecycle);
    }

    /// The object header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// The slot this thread looks at first.
    #[inline(always)]
    fn home(me: &ThreadCtx) -> usize {
        ((me.token >> 32) as usize) % UNDO_HOLDERS
    }

    /// How `me` may use its robust list here; flags a participant from another (or an
    /// unknown) PID namespace for everyone, as the RLock does.
    fn robust_for(&self, me: &ThreadCtx) -> Robust {
        let v = self.ns_flags.load(Ordering::Relaxed);
        let same = me.pidns != 0 && v as u32 == me.pidns;
        if !same && (v >> 32) as u32 & FLAG_CROSS_NS == 0 {
            self.ns_flags
                .fetch_or(u64::from(FLAG_CROSS_NS) << 32, Ordering::Relaxed);
            fence(Ordering::Release);
        }
        Robust {
            head: me.robust_head,
            pending_while_not_owned: same && (v >> 32) as u32 & FLAG_CROSS_NS == 0,
        }
    }

    // ---- operations on the value ---------------------------------------------------

    /// True if the operation named by the tag of `v` is committed (or is slot `mine`'s,
    /// whose operations the caller runs itself).
    #[inline(always)]
    fn settled(&self, v: u32, mine: usize) -> bool {
        let t = tag_of(v) as usize;
        if t == 0 || t == mine + 1 {
            return true;
        }
        self.settled_other(v, t - 1)
    }

    #[inline]
    fn settled_other(&self, v: u32, j: usize) -> bool {
        let Some(slot) = self.slots.get(j) else {
            return true; // a scribbled tag names no slot: nothing to wait for
        };
        let s = slot.state.load(Ordering::Acquire);
        s & PEND == 0 || (s & CP == 0) != (v & PARITY != 0)
    }

    /// Waits until the operation named by the tag of the value is committed; reclaims
    /// its slot if its holder died. Returns the fresh value, or `Timeout` at the deadline.
    #[cold]
    #[inline(never)]
    fn settle(&self, me: &ThreadCtx, mine: usize, deadline: &Deadline) -> Result<u32, Blocked> {
        let mut patience = Patience::default();
        loop {
            let v = self.value.load(Ordering::Acquire);
            if self.settled(v, mine) {
                return Ok(v);
            }
            let j = tag_of(v) as usize - 1;
            let w = self.slots[j].word.load(Ordering::Acquire);
            if w & FUTEX_TID_MASK == 0 && w & FUTEX_OWNER_DIED != 0 {
                self.reclaim(me, j);
                continue;
            }
            // The holder is preempted between its CAS and its commit (or stopped, or
            // dead without the kernel's help): now and then ask /proc.
            if patience.yielding_round_multiple_of(256) && self.holder_is_provably_dead(me, j, w) {
                let _ = self.slots[j].word.compare_exchange(
                    w,
                    FUTEX_OWNER_DIED | (w & FUTEX_WAITERS),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
                continue;
            }
            if !patience.wait(deadline) {
                return Err(Blocked::Timeout);
            }
        }
    }

    /// One operation of slot `i` (owned by the caller): takes (`acquire`) or returns
    /// `delta` units, recording them in the slot in the same step (see the module docs).
    /// `deaths` also raises `DEATHS` in the value word.
    #[inline(always)]
    fn apply(
        &self,
        me: &ThreadCtx,
        i: usize,
        delta: u32,
        acquire: bool,
        deaths: bool,
        deadline: &Deadline,
    ) -> Result<(), Blocked> {
        let slot = &self.slots[i];
        let s = slot.state.load(Ordering::Relaxed) & !(PEND | ACQ | DELTA_MASK);
        let pend = s | PEND | (u64::from(delta) << DELTA_SHIFT) | if acquire { ACQ } else { 0 };
        slot.state.store(pend, Ordering::Relaxed);
        let tag = tag_for(i, s);
        let extra = if deaths { DEATHS } else { 0 };
        let mut v = self.value.load(Ordering::Relaxed);
        loop {
            if !self.settled(v, i) {
                match self.settle(me, i, deadline) {
                    Ok(now) => v = now,
                    Err(e) => {
                        slot.state.store(s, Ordering::Relaxed);
                        return Err(e);
                    }
                }
                continue;
            }
            let val = v & VALUE_MASK;
            let new_val = if acquire {
                if val < delta {
                    slot.state.store(s, Ordering::Relaxed);
                    return Err(Blocked::Empty);
                }
                val - delta
            } else {
                let max = self.max_value.load(Ordering::Relaxed).min(UNDO_VALUE_MAX);
                if delta > max || val > max - delta {
                    slot.state.store(s, Ordering::Relaxed);
                    return Err(Blocked::Full);
                }
                val + delta
            };
            match self.value.compare_exchange_weak(
                v,
                new_val | tag | (v & DEATHS) | extra,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => v = now,
            }
        }
        slot.state.store(committed(pend), Ordering::Release);
        Ok(())
    }

    // ---- acquire ----------------------------------------------------------------------

    /// Takes one unit: `Ok`, `OwnerDead` (taken; a holder died holding units, which were
    /// returned, and this acquirer is the one told), `Timeout`, `Intr` (nothing taken),
    /// `Busy` (all `UNDO_HOLDERS` slots hold units: nothing taken).
    ///
    /// Shaped for the machine code of the usual case (measured; see `robust::PushPlan`
    /// and BENCHMARKS.md): the cached-unit path is inline, makes no call, and after its
    /// atomic instruction only stores; everything else is one tail call.
    #[inline(always)]
    pub(crate) fn acquire<W: WaitLimit>(&self, limit: W) -> Status {
        // An uninitialised thread's null book fails the fast path's test.
        if self.try_take_cached(thread::current_as_is()) {
            return Status::Ok;
        }
        self.acquire_uncached(limit)
    }

    /// What both fast paths require, read without changing anything: the thread's
    /// idle slot is its home slot (index and slot returned), no death report waits, the
    /// thread's `book` links and has room, and the object has seen no participant from
    /// another PID namespace. Also returns the value word as read.
    #[inline(always)]
    fn fast_slot(&self, me: &ThreadCtx, book: &robust::Book) -> Option<(usize, &Slot, u32)> {
        let i = Self::home(me);
        let slot = &self.slots[i];
        let v = self.value.load(Ordering::Relaxed);
        if self.ns_flags.load(Ordering::Relaxed) != me.same_ns_key
            || slot.word.load(Ordering::Relaxed) != me.tid | IDLE
            || slot.token.load(Ordering::Relaxed) != me.token
            || v & DEATHS != 0
            || !book.links()
            || !robust::book_has_room(book)
        {
            return None;
        }
        Some((i, slot, v))
    }

    /// Takes our idle slot (and the unit in it) back: the unit our last release cached
    /// there. With [`fast_slot`](Self::fast_slot)'s conditions and exactly one unit
    /// cached: one CAS of the slot word, and plain stores to link it. False, with
    /// nothing changed, otherwise.
    #[inline(always)]
    fn try_take_cached(&self, me: &ThreadCtx) -> bool {
        // SAFETY: the calling thread's own book (or null), used only during this call.
        let Some(book) = (unsafe { me.book.as_mut() }) else {
            return false;
        };
        let Some((_, slot, _)) = self.fast_slot(me, book) else {
            return false;
        };
        if slot.state.load(Ordering::Relaxed) & (UNITS_MASK | PEND) != 1 {
            return false;
        }
        // Read before the CAS, so that only stores follow it (see `robust::PushPlan`).
        // (`try_take_from_value` makes the same first step; written out here rather than
        // shared, because the shared version measured 0.3 ns slower in this path.)
        // SAFETY: the book has room (`fast_slot`).
        let plan = unsafe { robust::plan_push(book) };
        let head = me.robust_head;
        // SAFETY: this thread's live head (a book that links has one).
        unsafe { robust::set_pending(head, &slot.list_next) };
        if slot
            .word
            .compare_exchange(me.tid | IDLE, me.tid, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // SAFETY: this thread's live head.
            unsafe { robust::clear_pending(head) };
            return false;
        }
        // SAFETY: the book links and has room, and `plan` was made from it just now; we
        // own the slot, and the caller keeps the object mapped while it holds units.
        unsafe { robust::record_linked_planned(book, &slot.list_next, plan) };
        // Nobody else changes an idle slot's state: it is ours again, unit included, and
        // `LINKED` is still set from when we last held it (see `Slot`).
        // SAFETY: this thread's live head.
        unsafe { robust::clear_pending(head) };
        true
    }

    /// [`acquire`](Self::acquire) when its inline path did not take a cached unit: the
    /// second fast path (take the idle home slot back and a unit from the value), else
    /// the general one.
    #[inline(never)]
    fn acquire_uncached<W: WaitLimit>(&self, limit: W) -> Status {
        if let Some(me) = thread::current_if_ready() {
            if self.try_take_from_value(me) {
                return Status::Ok;
            }
        }
        self.acquire_slow(limit)
    }

    /// With [`fast_slot`](Self::fast_slot)'s conditions, no unit cached, units in the
    /// value and the last operation ours or none: that CAS of the slot word and one on
    /// the value. False otherwise; then nothing changed, except that the slot may stay
    /// claimed and linked with no units (the slow path finds it as ours).
    #[inline(always)]
    fn try_take_from_value(&self, me: &ThreadCtx) -> bool {
        // SAFETY: as in `try_take_cached`.
        let Some(book) = (unsafe { me.book.as_mut() }) else {
            return false;
        };
        let Some((i, slot, v)) = self.fast_slot(me, book) else {
            return false;
        };
        let s0 = slot.state.load(Ordering::Relaxed);
        if s0 & (UNITS_MASK | PEND) != 0
            || v & VALUE_MASK == 0
            || !(tag_of(v) == 0 || tag_of(v) as usize == i + 1)
        {
            return false;
        }
        let head = me.robust_head;
        // SAFETY: this thread's live head (a book that links has one).
        unsafe { robust::set_pending(head, &slot.list_next) };
        if slot
            .word
            .compare_exchange(me.tid | IDLE, me.tid, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // SAFETY: this thread's live head.
            unsafe { robust::clear_pending(head) };
            return false;
        }
        // SAFETY: as in `try_take_cached`.
        unsafe { robust::record_linked_with_room(book, &slot.list_next) };
        let s = s0 & CP;
        let pend = s | LINKED | PEND | ACQ | (1 << DELTA_SHIFT);
        slot.state.store(pend, Ordering::Relaxed);
        let ok = self
            .value
            .compare_exchange(
                v,
                ((v - 1) & !(TAG_MASK | PARITY)) | tag_for(i, s),
                Ordering::SeqCst,
                Ordering::Relaxed,
            )
            .is_ok();
        slot.state.store(
            if ok { committed(pend) } else { s | LINKED },
            Ordering::Release,
        );
        // SAFETY: this thread's live head.
        unsafe { robust::clear_pending(head) };
        // On a lost race the slot stays ours (claimed, linked, 0 units): the slow path
        // finds it and goes on from there.
        ok
    }

    /// Finds the calling thread's claimed slot (held or holding 0 units, not idle).
    fn my_claimed_slot(&self, me: &ThreadCtx) -> Option<usize> {
        let home = Self::home(me);
        (0..UNDO_HOLDERS)
            .map(|k| (home + k) % UNDO_HOLDERS)
            .find(|&i| {
                let s = &self.slots[i];
                s.word.load(Ordering::Relaxed) & (FUTEX_TID_MASK | FUTEX_OWNER_DIED) == me.tid
                    && s.token.load(Ordering::Relaxed) == me.token
            })
    }

    /// Claims a slot for the calling thread: its claimed one, its idle one, a free one,
    /// or another thread's idle one (in that order), and tells whether it was taken now
    /// (then the units in it are cached units, now the caller's). `None`: the table is
    /// full of holders.
    fn claim(&self, me: &ThreadCtx, robust: Robust) -> Option<(usize, bool)> {
        if let Some(i) = self.my_claimed_slot(me) {
            return Some((i, false));
        }
        let home = Self::home(me);
        let order = || (0..UNDO_HOLDERS).map(move |k| (home + k) % UNDO_HOLDERS);
        // Ours first (no record to rewrite), then free ones, then anyone's idle one.
        let mine = order().find(|&i| {
            self.slots[i].word.load(Ordering::Relaxed) == me.tid | IDLE
                && self.slots[i].token.load(Ordering::Relaxed) == me.token
        });
        for pass in 0..3 {
            for i in mine.into_iter().chain(order()) {
                let slot = &self.slots[i];
                let w = slot.word.load(Ordering::Relaxed);
                let takeable = match pass {
                    0 => Some(i) == mine && w == me.tid | IDLE,
                    // Free: 0, or anything without a TID and without D (a scribble).
                    1 => w & FUTEX_TID_MASK == 0 && w & FUTEX_OWNER_DIED == 0,
                    _ => w != REPORT && w & IDLE != 0 && w & FUTEX_OWNER_DIED == 0,
                };
                if takeable && self.take_slot(me, robust, i, w) {
                    return Some((i, true));
                }
            }
        }
        None
    }

    /// CASes slot `i` from `w` to ours and links it: true on success.
    fn take_slot(&self, me: &ThreadCtx, robust: Robust, i: usize, w: u32) -> bool {
        let slot = &self.slots[i];
        if robust.pending_while_not_owned {
            robust.set_pending(&slot.list_next);
        }
        if slot
            .word
            .compare_exchange(w, me.tid, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            if robust.pending_while_not_owned {
                robust.clear_pending();
            }
            return false;
        }
        robust.set_pending(&slot.list_next);
        self.record_holder(me, slot);
        let mut linked = 0;
        // SAFETY: the calling thread's own book (or null), not otherwise borrowed now;
        // we own the slot, and the caller keeps the object mapped while it is linked.
        if let Some(book) = unsafe { me.book.as_mut() } {
            // SAFETY: as above.
            if unsafe { robust::record(book, &slot.list_next) } && !robust.head.is_null() {
                linked = LINKED;
            }
        }
        robust.clear_pending();
        // Keep the parity, and an idle slot's cached units (now ours); a free slot holds
        // nothing (a scribbled count is dropped here, in a slot nobody holds).
        let keep = if w & IDLE != 0 { CP | UNITS_MASK } else { CP };
        let s = slot.state.load(Ordering::Relaxed);
        slot.state.store((s & keep) | linked, Ordering::Release);
        true
    }

    /// Writes the back-stop record (start time and namespace before ids, Release).
    fn record_holder(&self, me: &ThreadCtx, slot: &Slot) {
        slot.token.store(me.token, Ordering::Relaxed);
        slot.start.store(me.start_time, Ordering::Relaxed);
        slot.ns.store(me.pidns, Ordering::Relaxed);
        slot.ids.store(
            (u64::from(me.pid) << 32) | u64::from(me.tid),
            Ordering::Release,
        );
    }

    /// Gives up slot `i` (ours, holding 0 units): unlinks it and marks it idle.
    fn go_idle(&self, me: &ThreadCtx, robust: Robust, i: usize) {
        let slot = &self.slots[i];
        let pending = !robust.head.is_null() && robust.pending_while_not_owned;
        if pending {
            robust.set_pending(&slot.list_next);
        }
        // SAFETY: the calling thread's own book (or null); we own the slot.
        if let Some(book) = unsafe { me.book.as_mut() } {
            // SAFETY: as above.
            unsafe { robust::forget(book, &slot.list_next) };
        }
        let s = slot.state.load(Ordering::Relaxed);
        slot.state.store(s & !LINKED, Ordering::Relaxed);
        // Waiters that watch our word (they set W) must look at the table again: the
        // holder they watch is gone, and a newer one may need watching.
        let old = slot.word.swap(me.tid | IDLE, Ordering::Release);
        if pending {
            robust.clear_pending();
        }
        if old & FUTEX_WAITERS != 0 {
            futex::wake_all(&slot.word);
        }
    }

    /// The general acquire.
    ///
    /// A thread that holds units already waits with its slot (it is one of the holders
    /// either way). A thread that holds none claims a slot only to take a unit into it:
    /// when there is nothing to take, it gives the slot up (idle, 0 units) before it
    /// sleeps, and claims one again when it wakes. So waiters never use up the table, and
    /// `Busy` means what the C API promises: `UNDO_HOLDERS` other threads hold units.
    #[cold]
    #[inline(never)]
    fn acquire_slow<W: WaitLimit>(&self, limit: W) -> Status {
        let me = thread::current();
        let deadline = limit.deadline();
        // SAFETY: the calling thread's own book (or null).
        unsafe { robust::make_room(me.book) };
        let robust = self.robust_for(me);
        let mut reclaims = 0usize;
        let mut dead_rounds = 0;
        // For a slot that is claimed only for a moment (see below); restarted whenever
        // we sleep.
        let mut patience = Patience::default();
        // The deadline passed while we slept: one more look for a unit, then `Timeout`.
        let mut last_look = false;
        loop {
            // The slot we wait with: ours if we hold units in it, else none.
            let own = match self.claim(me, robust) {
                Some((i, fresh)) => {
                    if fresh && self.slots[i].units() > 0 {
                        return self.took_cached(me, i);
                    }
                    if let Some(st) = self.take_one(me, i, robust, &deadline, &mut reclaims) {
                        if st != Status::Ok && st != Status::OwnerDead && self.slots[i].units() == 0
                        {
                            self.go_idle(me, robust, i);
                        }
                        return st;
                    }
                    if self.slots[i].units() > 0 {
                        Some(i)
                    } else {
                        self.go_idle(me, robust, i);
                        None
                    }
                }
                None => {
                    // No slot is free or idle: perhaps some are dead holders' (a few
                    // rounds: a peer that keeps writing dead words must not keep us here).
                    if dead_rounds < 3 && self.reclaim_dead(me) {
                        dead_rounds += 1;
                        continue;
                    }
                    if self.full_of_holders() {
                        return Status::Busy;
                    }
                    // Some slot is claimed only for a moment: by a thread between claiming
                    // it and taking a unit or giving it up again (as we do), or it waits
                    // for its death report to be collected. If a unit is there to take,
                    // look again soon; else sleep like any waiter.
                    if !last_look
                        && (self.value.load(Ordering::SeqCst) & VALUE_MASK != 0
                            || self.cached_elsewhere(UNDO_HOLDERS))
                    {
                        if !patience.wait(&deadline) {
                            // Only a stopped thread or a damaged table takes this long.
                            return if deadline.expired() {
                                Status::Timeout
                            } else {
                                Status::Busy
                            };
                        }
                        continue;
                    }
                    None
                }
            };
            if last_look || deadline.is_now() {
                return Status::Timeout;
            }
            patience = Patience::default();
            match self.sleep_for_units(me, own, &deadline) {
                Slept::Again => {}
                Slept::DeadlinePassed => last_look = true,
                Slept::Interrupted => return Status::Intr,
            }
        }
    }

    /// True if every slot is held, by a thread that the table says is alive, with units
    /// in it: the one case in which an acquirer that holds no unit gets `Busy`.
    fn full_of_holders(&self) -> bool {
        self.slots.iter().all(|s| {
            let w = s.word.load(Ordering::Acquire);
            w & FUTEX_TID_MASK != 0 && w & IDLE == 0 && w & FUTEX_OWNER_DIED == 0 && s.units() > 0
        })
    }

    /// Slot `i` was just taken with cached units in it: keep one, return the rest.
    fn took_cached(&self, me: &ThreadCtx, i: usize) -> Status {
        let extra = self.slots[i].units().saturating_sub(1);
        if extra > 0
            && self
                .apply(me, i, extra, false, false, &Deadline::Never)
                .is_ok()
        {
            let n = self.sleepers.load(Ordering::SeqCst);
            if n != 0 {
                futex::wake(&self.value, extra.min(n));
            }
        }
        self.admitted(me)
    }

    /// The status of an acquirer that just took a unit: `OwnerDead` if it collects a
    /// death report, else `Ok`.
    fn admitted(&self, me: &ThreadCtx) -> Status {
        if self.value.load(Ordering::Relaxed) & DEATHS != 0 && self.collect_report(me) {
            Status::OwnerDead
        } else {
            Status::Ok
        }
    }

    /// True if an idle slot other than `except` holds cached units.
    fn cached_elsewhere(&self, except: usize) -> bool {
        self.slots.iter().enumerate().any(|(j, s)| {
            let w = s.word.load(Ordering::SeqCst);
            j != except
                && w != REPORT
                && w & IDLE != 0
                && w & FUTEX_OWNER_DIED == 0
                && s.units() > 0
        })
    }

    /// Takes over an idle slot (other than `except`) with cached units: its index, now
    /// ours with its units.
    fn steal_cached(&self, me: &ThreadCtx, robust: Robust, except: usize) -> Option<usize> {
        for (j, slot) in self.slots.iter().enumerate() {
            let w = slot.word.load(Ordering::Acquire);
            if j == except
                || w == REPORT
                || w & IDLE == 0
                || w & FUTEX_OWNER_DIED != 0
                || slot.units() == 0
            {
                continue;
            }
            if self.take_slot(me, robust, j, w) {
                if self.slots[j].units() > 0 {
                    return Some(j);
                }
                self.go_idle(me, robust, j);
            }
        }
        None
    }

    /// Takes one unit with slot `i` (claimed by us) if there is one to take: from the
    /// value, after reclaiming dead holders' units, or from an idle slot's cache.
    /// `None`: nothing to take now (slot `i` is as it was).
    fn take_one(
        &self,
        me: &ThreadCtx,
        i: usize,
        robust: Robust,
        deadline: &Deadline,
        reclaims: &mut usize,
    ) -> Option<Status> {
        loop {
            match self.apply(me, i, 1, true, false, deadline) {
                Ok(()) => return Some(self.admitted(me)),
                Err(Blocked::Timeout) => return Some(Status::Timeout),
                Err(_) => {}
            }
            // No unit: dead holders give theirs back first; then idle slots give up
            // their cached units.
            if self.reclaim_dead(me) {
                // Bounded after the deadline: a peer that keeps writing dead words must
                // not keep us here (a real table has at most UNDO_HOLDERS dead slots).
                *reclaims += 1;
                if *reclaims <= UNDO_HOLDERS || !deadline.expired() {
                    continue;
                }
                return Some(Status::Timeout);
            }
            let j = self.steal_cached(me, robust, i)?;
            if self.slots[i].units() == 0 {
                self.go_idle(me, robust, i);
                return Some(self.took_cached(me, j));
            }
            // We hold units in slot i already: pour slot j's into the value (one slot
            // per thread), then take one from there like everyone else.
            let u = self.slots[j].units();
            if self.apply(me, j, u, false, false, &Deadline::Never).is_ok() {
                let n = self.sleepers.load(Ordering::SeqCst);
                if n != 0 {
                    futex::wake(&self.value, u.min(n));
                }
            }
            self.go_idle(me, robust, j);
        }
    }

    /// Sleeps until a unit may be there: a release or a reclaim wakes us through the
    /// value, the kernel through the slot word of a holder that died, or the back-stop's
    /// timer. `own`: the slot in which we hold units (not watched), if any.
    ///
    /// Allocates nothing itself (it runs in every blocking acquire, also when memory is
    /// short): the words to watch fit in arrays on the stack. (The back-stop's look at
    /// `/proc`, in `holder_is_provably_dead`, is the liveness module's.)
    fn sleep_for_units(&self, me: &ThreadCtx, own: Option<usize>, deadline: &Deadline) -> Slept {
        let except = own.unwrap_or(UNDO_HOLDERS);
        // Watch every holder's word (setting W, so that the kernel wakes one of us when
        // it marks the word), and the value.
        let mut watch = [(0usize, 0u32); UNDO_HOLDERS];
        let mut n = 0;
        let mut short = false;
        for (j, slot) in self.slots.iter().enumerate() {
            if j == except {
                continue;
            }
            let w = slot.word.load(Ordering::Relaxed);
            if w & FUTEX_TID_MASK == 0 || w & IDLE != 0 || w & FUTEX_OWNER_DIED != 0 {
                continue;
            }
            // A slot without units and without an operation in flight is claimed only
            // for a moment (by an acquirer about to take a unit or to give it up again):
            // its thread's death would return nothing, and watching it would wake us
            // for nothing when it goes idle. If it takes a unit meanwhile, the next
            // round watches it (and the back-stop's timer bounds the wait till then).
            let s = slot.state.load(Ordering::Relaxed);
            if s & (UNITS_MASK | PEND) == 0 {
                continue;
            }
            if w & FUTEX_WAITERS == 0
                && slot
                    .word
                    .compare_exchange(w, w | FUTEX_WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            if s & LINKED == 0 {
                short = true;
            }
            watch[n] = (j, w | FUTEX_WAITERS);
            n += 1;
        }
        let watch = &watch[..n];
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let v = self.value.load(Ordering::SeqCst);
        // Registered: a release from now on wakes us; one before shows here.
        if v & VALUE_MASK != 0 || self.cached_elsewhere(except) {
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            return if deadline.expired() {
                Slept::DeadlinePassed
            } else {
                Slept::Again
            };
        }
        let cap = if short {
            BACKSTOP_UNLINKED_MS
        } else {
            BACKSTOP_LINKED_MS
        };
        let sleep_until = deadline.capped_ms(cap);
        let mut words = [(&self.value, v); UNDO_HOLDERS + 1];
        for (word, &(j, w)) in words[1..].iter_mut().zip(watch) {
            *word = (&self.slots[j].word, w);
        }
        let wake = match waitv::wait_any(&words[..n + 1], &sleep_until) {
            Some(w) => w,
            None => futex::wait(&self.value, v, &deadline.capped_ms(BACKSTOP_UNLINKED_MS)),
        };
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        match wake {
            Wake::Retry => Slept::Again,
            Wake::Interrupted => Slept::Interrupted,
            Wake::TimedOut if deadline.expired() => Slept::DeadlinePassed,
            Wake::TimedOut => {
                // The back-stop: holders that provably no longer exist are marked as the
                // kernel would have; the next round reclaims them.
                for &(j, w) in watch {
                    if self.holder_is_provably_dead(me, j, w) {
                        let _ = self.slots[j].word.compare_exchange(
                            w,
                            FUTEX_OWNER_DIED | FUTEX_WAITERS,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                    }
                }
                Slept::Again
            }
        }
    }

    // ---- release ----------------------------------------------------------------------

    /// Returns one unit that the calling thread acquired: `Ok`, `NotOwner` (the thread
    /// holds no unit of this semaphore: nothing changed), `Overflow` (at `max_value`,
    /// which only a damaged object can reach: nothing changed).
    ///
    /// Shaped like [`acquire`](Self::acquire): the usual case inline, without a call
    /// unless someone sleeps; the rest one tail call.
    #[inline(always)]
    pub(crate) fn release(&self) -> Status {
        // An uninitialised thread's null book fails the fast path's test.
        if self.try_release_cached(thread::current_as_is()) {
            return Status::Ok;
        }
        self.release_uncached()
    }

    /// [`release`](Self::release) when its fast path did not apply.
    #[inline(never)]
    fn release_uncached(&self) -> Status {
        match thread::current_if_ready() {
            Some(me) => self.release_slow(me),
            None => Status::NotOwner,
        }
    }

    /// The usual release: our last unit, from our home slot. The unit stays in the slot,
    /// which goes idle ("cached"): our next acquire takes it back with one CAS on our
    /// own word, and anyone who needs it takes the idle slot over (it holds nothing for
    /// the kernel to report). `LINKED` stays set (see `Slot`). One swap of the slot
    /// word; false, with nothing changed, when this is not the case.
    #[inline(always)]
    fn try_release_cached(&self, me: &ThreadCtx) -> bool {
        let i = Self::home(me);
        let slot = &self.slots[i];
        let s = slot.state.load(Ordering::Relaxed);
        // SAFETY: the calling thread's own book (or null), used only in this call.
        let Some(book) = (unsafe { me.book.as_mut() }) else {
            return false;
        };
        // "Ours" without comparing tokens: the book (private) lists this slot's node
        // last, so this thread took the slot and still holds it, and the word says no
        // reclaimer took it over since.
        if self.ns_flags.load(Ordering::Relaxed) != me.same_ns_key
            || slot.word.load(Ordering::Relaxed) != me.tid
            || s & (UNITS_MASK | PEND) != 1
            || !book.links()
            || !robust::is_last(book, &slot.list_next)
        {
            return false;
        }
        // Read before the swap, so that only stores follow it (see `robust::PushPlan`).
        // SAFETY: the book lists a lock (`is_last`).
        let plan = unsafe { robust::plan_pop(book) };
        let head = me.robust_head;
        // SAFETY: this thread's live head (a book that links has one).
        unsafe { robust::set_pending(head, &slot.list_next) };
        // SAFETY: we own the slot; the book links, `is_last` holds and `plan` was made
        // from the book just now.
        unsafe { robust::unlink_last_linked(book, &slot.list_next, plan) };
        // A swap, not a store: with the sleepers load below it pairs with a waiter's
        // registration and its look for cached units (SeqCst both).
        let old = slot.word.swap(me.tid | IDLE, Ordering::SeqCst);
        // SAFETY: this thread's live head.
        unsafe { robust::clear_pending(head) };
        // The book's own bookkeeping (private memory) after the swap: stores in front
        // of an atomic instruction delay it.
        // SAFETY: `unlink_last_linked` just unlinked the book's last lock per `plan`.
        unsafe { robust::pop_unlinked_last(book, plan) };
        if old & FUTEX_WAITERS != 0 {
            wake_all_watchers(&slot.word);
        }
        if self.sleepers.load(Ordering::SeqCst) != 0 {
            self.wake_one();
        }
        true
    }

    #[cold]
    #[inline(never)]
    fn wake_one(&self) {
        futex::wake(&self.value, 1);
    }

    #[cold]
    #[inline(never)]
    fn release_slow(&self, me: &ThreadCtx) -> Status {
        let Some(i) = self.my_claimed_slot(me) else {
            return Status::NotOwner;
        };
        if self.slots[i].units() == 0 {
            return Status::NotOwner;
        }
        let robust = self.robust_for(me);
        match self.apply(me, i, 1, false, false, &Deadline::Never) {
            Ok(()) => {}
            Err(Blocked::Timeout) => return Status::Busy,
            Err(_) => return Status::Overflow,
        }
        if self.slots[i].units() == 0 {
            self.go_idle(me, robust, i);
        }
        if self.sleepers.load(Ordering::SeqCst) != 0 {
            self.wake_one();
        }
        Status::Ok
    }

    // ---- dead holders -------------------------------------------------------------------

    /// Reclaims every slot whose holder died: true if any was found.
    fn reclaim_dead(&self, me: &ThreadCtx) -> bool {
        let mut any = false;
        for (j, slot) in self.slots.iter().enumerate() {
            let w = slot.word.load(Ordering::Acquire);
            if w & FUTEX_TID_MASK == 0 && w & FUTEX_OWNER_DIED != 0 {
                self.reclaim(me, j);
                any = true;
            }
        }
        any
    }

    /// Takes over dead slot `j`, settles its pending operation, returns its units to the
    /// value, and leaves a death report (if it held units) for one acquirer. Every step
    /// survives our own death: the slot is ours (linked in our robust list) until its
    /// word is freed, and a later reclaimer redoes what is left.
    #[cold]
    #[inline(never)]
    fn reclaim(&self, me: &ThreadCtx, j: usize) {
        let slot = &self.slots[j];
        let w = slot.word.load(Ordering::Acquire);
        if w & FUTEX_TID_MASK != 0 || w & FUTEX_OWNER_DIED == 0 {
            return;
        }
        // SAFETY: the calling thread's own book (or null).
        unsafe { robust::make_room(me.book) };
        let robust = self.robust_for(me);
        if !self.take_dead(me, robust, j, w) {
            return;
        }
        // Settle the dead holder's operation in flight, if any.
        let mut s = slot.state.load(Ordering::Acquire);
        if s & PEND != 0 {
            let v = self.value.load(Ordering::Acquire);
            let done = tag_of(v) as usize == j + 1 && (v & PARITY != 0) == (s & CP == 0);
            s = if done {
                committed(s)
            } else {
                s & !(PEND | ACQ | DELTA_MASK)
            };
        }
        let units = (s & UNITS_MASK) as u32;
        if units > 0 {
            s |= DEATH_DUE;
        }
        slot.state.store(s, Ordering::Release);
        if units > 0 {
            // Give the units back: an operation of slot j (ours now).
            let returned = units.min(UNDO_VALUE_MAX);
            let r = self.apply(me, j, returned, false, true, &Deadline::Never);
            if r == Err(Blocked::Timeout) {
                // Another operation never committed (a damaged object, or a stopped
                // thread): leave the slot dead, as we found it, for a later reclaim.
                self.abandon_reclaim(me, robust, j);
                return;
            }
            if r.is_err() {
                // Only a damaged object gets here (more units than the bound allows):
                // drop the excess rather than pass the bound.
                let st = slot.state.load(Ordering::Relaxed);
                slot.state.store(st & !UNITS_MASK, Ordering::Relaxed);
            }
            let n = self.sleepers.load(Ordering::SeqCst);
            if n != 0 {
                futex::wake(&self.value, returned.min(n));
            }
        }
        let report = slot.state.load(Ordering::Relaxed) & DEATH_DUE != 0;
        #[cfg(test)]
        hook(HookPoint::ReclaimBeforeReport);
        // Free the slot (or leave the report in it).
        let pending = !robust.head.is_null() && robust.pending_while_not_owned;
        if pending {
            robust.set_pending(&slot.list_next);
        }
        // SAFETY: the calling thread's own book (or null); we own the slot.
        if let Some(book) = unsafe { me.book.as_mut() } {
            // SAFETY: as above.
            unsafe { robust::forget(book, &slot.list_next) };
        }
        let old = slot
            .word
            .swap(if report { REPORT } else { 0 }, Ordering::AcqRel);
        if pending {
            robust.clear_pending();
        }
        if old & FUTEX_WAITERS != 0 {
            futex::wake_all(&slot.word);
        }
        if report {
            self.value.fetch_or(DEATHS, Ordering::SeqCst);
        }
        #[cfg(test)]
        hook(HookPoint::ReclaimReported);
    }

    /// Gives dead slot `j` (taken over by us, its state settled) back to the dead state.
    fn abandon_reclaim(&self, me: &ThreadCtx, robust: Robust, j: usize) {
        let slot = &self.slots[j];
        let pending = !robust.head.is_null() && robust.pending_while_not_owned;
        if pending {
            robust.set_pending(&slot.list_next);
        }
        // SAFETY: the calling thread's own book (or null); we own the slot.
        if let Some(book) = unsafe { me.book.as_mut() } {
            // SAFETY: as above.
            unsafe { robust::forget(book, &slot.list_next) };
        }
        slot.word
            .swap(FUTEX_OWNER_DIED | FUTEX_WAITERS, Ordering::AcqRel);
        if pending {
            robust.clear_pending();
        }
    }

    /// CASes dead slot `j` from `w` to ours and links it (as `take_slot`, keeping the
    /// dead holder's state): true on success.
    fn take_dead(&self, me: &ThreadCtx, robust: Robust, j: usize, w: u32) -> bool {
        let slot = &self.slots[j];
        if robust.pending_while_not_owned {
            robust.set_pending(&slot.list_next);
        }
        // Keep W: sleepers on the word are woken when we free it.
        if slot
            .word
            .compare_exchange(
                w,
                me.tid | (w & FUTEX_WAITERS),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_err()
        {
            if robust.pending_while_not_owned {
                robust.clear_pending();
            }
            return false;
        }
        robust.set_pending(&slot.list_next);
        self.record_holder(me, slot);
        // SAFETY: the calling thread's own book (or null), not otherwise borrowed now.
        if let Some(book) = unsafe { me.book.as_mut() } {
            // SAFETY: as above; we own the slot until we free its word.
            unsafe { robust::record(book, &slot.list_next) };
        }
        robust.clear_pending();
        true
    }

    /// Collects one death report (after taking a unit): true if this caller is the one
    /// told. Keeps `DEATHS` set while reports remain.
    ///
    /// A reclaimer gives the dead holder's units back (raising `DEATHS` in the same
    /// step) *before* it marks its slot `REPORT`, so an acquirer can take one of those
    /// units while the report is still being published. Such a report is "in flight":
    /// its slot's state says `DEATH_DUE` while the word still names the reclaimer. We
    /// wait for it (a few instructions), or finish it ourselves if the reclaimer died
    /// meanwhile, so that the death is reported to one of the acquirers its units
    /// admitted — not to some later one. Gives up (not told) only after
    /// `SETTLE_GIVE_UP`, which takes a stopped reclaimer or a damaged object.
    #[cold]
    #[inline(never)]
    fn collect_report(&self, me: &ThreadCtx) -> bool {
        let mut patience = Patience::default();
        loop {
            if self.claim_published_report() {
                self.settle_deaths_flag();
                return true;
            }
            #[cfg(test)]
            hook(HookPoint::CollectAfterClaim);
            // A report published since the claim above looked (its reclaimer swapped the
            // word to `REPORT` in between) is claimed on the next round, not missed: it
            // may be the one for the unit we took.
            let mut published = false;
            let in_flight = self.slots.iter().enumerate().find_map(|(j, s)| {
                let w = s.word.load(Ordering::Acquire);
                published |= w == REPORT;
                let held_or_dead = w != REPORT && w & IDLE == 0 && w & !FUTEX_WAITERS != 0;
                (held_or_dead && s.state.load(Ordering::Acquire) & DEATH_DUE != 0).then_some((j, w))
            });
            let Some((j, w)) = in_flight else {
                if published {
                    continue;
                }
                self.settle_deaths_flag();
                return false;
            };
            if w & FUTEX_TID_MASK == 0 && w & FUTEX_OWNER_DIED != 0 {
                // Its reclaimer died before marking it: finish that reclaim.
                self.reclaim(me, j);
                continue;
            }
            if !patience.wait(&Deadline::Never) {
                self.settle_deaths_flag();
                return false;
            }
        }
    }

    /// Takes one published report (`REPORT` slot → free): true if we got one.
    fn claim_published_report(&self) -> bool {
        self.slots.iter().any(|s| {
            if s.word.load(Ordering::Relaxed) != REPORT {
                return false;
            }
            // From here on the word alone says "report due": drop the state's flag
            // before the slot can be claimed again, or a claimer that dies before it
            // rewrites the state would leave a stale flag that reports this death twice.
            // (Nobody else writes the state of a REPORT slot; a loser of the CAS below
            // clears a flag that only a reclaim in progress would set.)
            s.state.fetch_and(!DEATH_DUE, Ordering::AcqRel);
            s.word
                .compare_exchange(REPORT, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })
    }

    /// Clears `DEATHS`, then looks again: a reclaimer marks its slot `REPORT` before it
    /// raises the flag again, so every report is seen here or flagged again after us.
    fn settle_deaths_flag(&self) {
        self.value.fetch_and(!DEATHS, Ordering::SeqCst);
        if self
            .slots
            .iter()
            .any(|s| s.word.load(Ordering::SeqCst) == REPORT)
        {
            self.value.fetch_or(DEATHS, Ordering::SeqCst);
        }
    }

    /// The back-stop: true only if the holder recorded in slot `j` (whose word is `w`)
    /// provably no longer exists (the RLock's rules: positive evidence from the judge in
    /// `sys::liveness` about a holder of our PID namespace, the record matching the
    /// word, nothing changing meanwhile).
    #[cold]
    fn holder_is_provably_dead(&self, me: &ThreadCtx, j: usize, w: u32) -> bool {
        let slot = &self.slots[j];
        let tid_w = w & FUTEX_TID_MASK;
        if me.pidns == 0 || tid_w == 0 || w & IDLE != 0 || w == REPORT {
            return false;
        }
        fence(Ordering::Acquire);
        let ids = slot.ids.load(Ordering::Acquire);
        let start = slot.start.load(Ordering::Relaxed);
        let ns = slot.ns.load(Ordering::Relaxed);
        let (pid, tid) = ((ids >> 32) as u32, ids as u32);
        if ids == 0 || tid != tid_w || ns != me.pidns || start == 0 {
            return false;
        }
        let dead = Vantage::of_namespace(me.pidns).thread(pid, tid, start, u64::from(ns))
            == Liveness::Dead;
        dead && slot.word.load(Ordering::Acquire) & !FUTEX_WAITERS == w & !FUTEX_WAITERS
            && slot.ids.load(Ordering::Relaxed) == ids
            && slot.start.load(Ordering::Relaxed) == start
    }

    // ---- queries and destroy -----------------------------------------------------------

    /// Units available: the value, plus units cached in idle slots, plus the units of
    /// holders that died (the kernel has marked their slots; the next acquirer that
    /// needs them takes them back). A pure read.
    pub(crate) fn value(&self) -> u32 {
        let v = self.value.load(Ordering::Acquire);
        let mut total = v & VALUE_MASK;
        for (j, slot) in self.slots.iter().enumerate() {
            let w = slot.word.load(Ordering::Acquire);
            if w != REPORT && w & IDLE != 0 && w & FUTEX_OWNER_DIED == 0 {
                // Cached in an idle slot.
                total = total.saturating_add(slot.units());
                continue;
            }
            if w & FUTEX_TID_MASK != 0 || w & FUTEX_OWNER_DIED == 0 {
                continue;
            }
            let s = slot.state.load(Ordering::Acquire);
            let s = if s & PEND != 0
                && tag_of(v) as usize == j + 1
                && (v & PARITY != 0) == (s & CP == 0)
            {
                committed(s)
            } else {
                s
            };
            total = total.saturating_add((s & UNITS_MASK) as u32);
        }
        total.min(self.max_value())
    }

    /// Maximum value.
    #[inline]
    pub(crate) fn max_value(&self) -> u32 {
        self.max_value.load(Ordering::Relaxed)
    }

    /// Units the calling thread holds.
    pub(crate) fn held_by_caller(&self) -> u32 {
        let Some(me) = thread::current_if_ready() else {
            return 0;
        };
        self.my_claimed_slot(me)
            .map_or(0, |i| self.slots[i].units())
    }

    /// Ends an in-place semaphore: `Busy` while the calling thread holds units (its
    /// private book says so), while any live holder holds units, or while threads
    /// really sleep on it.
    pub(crate) fn destroy(&self) -> Status {
        if robust::thread_holds_lock_in(
            self as *const RawSemUndo as usize,
            core::mem::size_of::<RawSemUndo>(),
        ) {
            return Status::Busy;
        }
        let held = self.slots.iter().any(|s| {
            let w = s.word.load(Ordering::Relaxed);
            w & FUTEX_TID_MASK != 0 && w & IDLE == 0 && s.units() != 0
        });
        if held || super::has_sleepers(&self.sleepers, &self.value) {
            return Status::Busy;
        }
        self.header.retire();
        Status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::time::Timeout;
    use std::sync::Arc;
    use std::sync::atomic::AtomicI32;

    fn new_sem(v: u32, max: u32) -> Arc<RawSemUndo> {
        // SAFETY: RawSemUndo is plain atomics and integers: all-zero is valid.
        let s: Box<RawSemUndo> = Box::new(unsafe { core::mem::zeroed() });
        s.init(v, max, Lifecycle::InPlace);
        Arc::from(s)
    }

    #[test]
    fn units_are_matched_to_acquirers() {
        let s = new_sem(2, 2);
        assert_eq!(s.release(), Status::NotOwner);
        assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(s.held_by_caller(), 2);
        assert_eq!(s.acquire(Timeout::NOW), Status::Timeout);
        let s2 = s.clone();
        let other = std::thread::spawn(move || (s2.release(), s2.held_by_caller()))
            .join()
            .unwrap();
        assert_eq!(other, (Status::NotOwner, 0));
        assert_eq!(s.destroy(), Status::Busy);
        assert_eq!(s.release(), Status::Ok);
        assert_eq!(s.release(), Status::Ok);
        assert_eq!(s.release(), Status::NotOwner);
        assert_eq!(s.value(), 2);
        // Fast path again, from the idle slot.
        for _ in 0..1000 {
            assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
            assert_eq!(s.release(), Status::Ok);
        }
        assert_eq!(s.value(), 2);
        assert_eq!(s.destroy(), Status::Ok);
        assert!(RawSemUndo::valid_args(0, 0));
        assert!(!RawSemUndo::valid_args(0, UNDO_VALUE_MAX + 1));
    }

    /// The fast paths link and unlink at any depth of the thread's book: among RLocks
    /// and other undo semaphores, taken and released in and out of order, the robust
    /// list the kernel would walk always matches the book.
    #[test]
    fn fast_paths_keep_the_robust_list_exact_among_other_locks() {
        use crate::raw::rlock::RawRLock;
        let (a, b) = (new_sem(1, 1), new_sem(1, 1));
        // SAFETY: RawRLock is plain atomics and integers: all-zero is valid.
        let r: Box<RawRLock> = Box::new(unsafe { core::mem::zeroed() });
        r.init(Lifecycle::InPlace);
        // Leave a unit cached in each semaphore's idle slot: the fast paths apply.
        for s in [&a, &b] {
            assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
            assert_eq!(s.release(), Status::Ok);
        }
        let held = robust::held_by_current_thread_checked;
        let base = held().len();
        for round in 0..3 {
            assert_eq!(a.acquire(Timeout::NOW), Status::Ok);
            assert_eq!(r.acquire(Timeout::FOREVER), Status::Ok);
            assert_eq!(b.acquire(Timeout::NOW), Status::Ok);
            assert_eq!(held().len(), base + 3, "round {round}");
            match round {
                // Out of order, then the last ones.
                0 => {
                    assert_eq!(a.release(), Status::Ok);
                    assert_eq!(held().len(), base + 2);
                    assert_eq!(b.release(), Status::Ok);
                    assert_eq!(r.release(), Status::Ok);
                }
                // The RLock in the middle first.
                1 => {
                    assert_eq!(r.release(), Status::Ok);
                    assert_eq!(b.release(), Status::Ok);
                    assert_eq!(a.release(), Status::Ok);
                }
                // In reverse order.
                _ => {
                    assert_eq!(b.release(), Status::Ok);
                    assert_eq!(r.release(), Status::Ok);
                    assert_eq!(a.release(), Status::Ok);
                }
            }
            assert_eq!(held().len(), base, "round {round}");
            assert_eq!((a.value(), b.value()), (1, 1));
        }
        assert_eq!(a.destroy(), Status::Ok);
        assert_eq!(b.destroy(), Status::Ok);
    }

    #[test]
    fn never_admits_more_than_k() {
        let s = new_sem(3, 3);
        let inside = Arc::new(AtomicI32::new(0));
        let n = if cfg!(miri) { 20 } else { 5_000 };
        let ts: Vec<_> = (0..6)
            .map(|_| {
                let (s, inside) = (s.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..n {
                        assert_eq!(s.acquire(Timeout::FOREVER), Status::Ok);
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= 3, "{now} inside a Semaphore(3)");
                        inside.fetch_sub(1, Ordering::SeqCst);
                        assert_eq!(s.release(), Status::Ok);
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(s.value(), 3);
    }

    /// A thread takes `units` units of `s` and exits holding them.
    fn a_thread_takes_and_exits(s: &Arc<RawSemUndo>, units: u32) {
        let s2 = s.clone();
        std::thread::spawn(move || {
            for _ in 0..units {
                assert_eq!(s2.acquire(Timeout::FOREVER), Status::Ok);
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    #[cfg_attr(miri, ignore = "needs the kernel robust list or /proc")]
    fn thread_exit_gives_the_units_back_and_one_acquirer_is_told() {
        let s = new_sem(3, 3);
        a_thread_takes_and_exits(&s, 2);
        assert_eq!(s.value(), 3);
        assert_eq!(s.acquire(Timeout::new(true, 10_000)), Status::Ok);
        // The dead thread's units come back when needed; one acquirer is told.
        let mut told = 0;
        for _ in 0..2 {
            match s.acquire(Timeout::new(true, 10_000)) {
                Status::OwnerDead => told += 1,
                Status::Ok => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(told, 1);
        assert_eq!(s.held_by_caller(), 3);
        for _ in 0..3 {
            assert_eq!(s.release(), Status::Ok);
        }
        assert_eq!(s.value(), 3);
    }

    /// The report is published (`REPORT`) after an acquirer that took one of the dead
    /// holder's units looked for a published report and before it looked for one in
    /// flight: it is still that acquirer's (the window a CI run once hit).
    #[test]
    #[cfg_attr(miri, ignore = "needs the kernel robust list or /proc")]
    fn report_published_between_the_two_looks_is_still_collected() {
        use std::sync::mpsc;
        let s = new_sem(2, 2);
        a_thread_takes_and_exits(&s, 2);
        // The reclaimer stops after giving the units back, until the acquirer has
        // looked for a published report; then it publishes and stops again until the
        // acquirer is done (so that it cannot claim the report itself first).
        let (units_back_tx, units_back) = mpsc::channel::<()>();
        let (go_on, go_on_rx) = mpsc::channel::<()>();
        let (published_tx, published) = mpsc::channel::<()>();
        let (done, done_rx) = mpsc::channel::<()>();
        let s3 = s.clone();
        let reclaimer = std::thread::spawn(move || {
            HOOK.with(|h| {
                *h.borrow_mut() = Some(Box::new(move |point| match point {
                    HookPoint::ReclaimBeforeReport => {
                        units_back_tx.send(()).unwrap();
                        go_on_rx.recv().unwrap();
                    }
                    HookPoint::ReclaimReported => {
                        published_tx.send(()).unwrap();
                        done_rx.recv().unwrap();
                    }
                    HookPoint::CollectAfterClaim => {}
                }));
            });
            let got = s3.acquire(Timeout::new(true, 10_000));
            HOOK.with(|h| h.borrow_mut().take());
            let held = s3.held_by_caller();
            for _ in 0..held {
                assert_eq!(s3.release(), Status::Ok);
            }
            got
        });
        units_back.recv().unwrap();
        let go_on_once = core::cell::Cell::new(Some((go_on, published)));
        HOOK.with(|h| {
            *h.borrow_mut() = Some(Box::new(move |point| {
                if point == HookPoint::CollectAfterClaim {
                    if let Some((go_on, published)) = go_on_once.take() {
                        // Let the reclaimer publish, and wait until it has.
                        go_on.send(()).unwrap();
                        published.recv().unwrap();
                    }
                }
            }));
        });
        let mine = s.acquire(Timeout::new(true, 10_000));
        HOOK.with(|h| h.borrow_mut().take());
        done.send(()).unwrap();
        assert_eq!(
            mine,
            Status::OwnerDead,
            "the acquirer that took a returned unit is told"
        );
        assert_eq!(reclaimer.join().unwrap(), Status::Ok);
        assert_eq!(s.release(), Status::Ok);
        assert_eq!(s.value(), 2);
    }

    /// A waiter holds no slot: with one holder of a Semaphore(1) and more blocked
    /// waiters than there are slots, another acquirer times out (never `Busy`), and after
    /// the release every waiter gets its turn, one at a time.
    #[test]
    #[cfg_attr(miri, ignore = "70 threads sleeping in futex_waitv")]
    fn waiters_use_no_slots() {
        use crate::raw::test_util::wait_until;
        let s = new_sem(1, 1);
        assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
        let n = UNDO_HOLDERS + 6;
        let inside = Arc::new(AtomicI32::new(0));
        let returned = Arc::new(AtomicI32::new(0));
        let ts: Vec<_> = (0..n)
            .map(|_| {
                let (s, inside, returned) = (s.clone(), inside.clone(), returned.clone());
                std::thread::spawn(move || {
                    let r = s.acquire(Timeout::new(true, 60_000));
                    returned.fetch_add(1, Ordering::SeqCst);
                    if r == Status::Ok {
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                        inside.fetch_sub(1, Ordering::SeqCst);
                        assert_eq!(s.release(), Status::Ok);
                    }
                    r
                })
            })
            .collect();
        // All asleep at once (they wake for the back-stop now and then), unless one
        // returned already.
        wait_until(|| {
            s.sleepers.load(Ordering::SeqCst) as usize == n || returned.load(Ordering::SeqCst) > 0
        });
        assert_eq!(returned.load(Ordering::SeqCst), 0, "a waiter gave up");
        let s2 = s.clone();
        let late = std::thread::spawn(move || s2.acquire(Timeout::new(true, 300)));
        assert_eq!(late.join().unwrap(), Status::Timeout);
        assert_eq!(s.release(), Status::Ok);
        for t in ts {
            assert_eq!(t.join().unwrap(), Status::Ok);
        }
        assert_eq!(s.value(), 1);
    }

    #[test]
    fn full_table_is_busy() {
        let s = new_sem(UNDO_HOLDERS as u32 + 5, UNDO_VALUE_MAX);
        let barrier = Arc::new(std::sync::Barrier::new(UNDO_HOLDERS + 1));
        let done = Arc::new(std::sync::Barrier::new(UNDO_HOLDERS + 1));
        let ts: Vec<_> = (0..UNDO_HOLDERS)
            .map(|_| {
                let (s, b, d) = (s.clone(), barrier.clone(), done.clone());
                std::thread::spawn(move || {
                    assert_eq!(s.acquire(Timeout::FOREVER), Status::Ok);
                    b.wait();
                    d.wait();
                    assert_eq!(s.release(), Status::Ok);
                })
            })
            .collect();
        barrier.wait();
        assert_eq!(s.acquire(Timeout::NOW), Status::Busy);
        assert_eq!(s.value(), 5);
        done.wait();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(s.release(), Status::Ok);
        assert_eq!(s.value(), UNDO_HOLDERS as u32 + 5);
    }
}

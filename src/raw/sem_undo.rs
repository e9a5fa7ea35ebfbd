//! Undo semaphore (`mp_sem_undo_t`): a `Semaphore` / `BoundedSemaphore` whose units come
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

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::header::{Header, Kind, Lifecycle};
use super::holder::{FLAG_CROSS_NS, Record, Robust};
use super::rlock::{FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS};
use super::zero_body;
use crate::status::Status;
use crate::sys::futex::{self, Wake};
use crate::sys::robust;
use crate::sys::thread::{self, ThreadCtx};
use crate::sys::time::{Deadline, WaitLimit};
use crate::sys::waitv;

/// The inspector's read-only decoding of the words (`sem_undo/view.rs`).
mod acquire;
mod deaths;
mod queries;
mod release;
#[cfg(test)]
mod test_hooks;
#[cfg(test)]
mod tests;
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

// ---- the ns_flags word ------------------------------------------------------------------
/// `ns_flags` flag (high half, beside `holder::FLAG_CROSS_NS`): `DEATHS` is, or is about
/// to be, set in the value word. Raised before `DEATHS` ([`RawSemUndo::raise_deaths`]),
/// and dropped only by a thread that then looks for reports again
/// ([`RawSemUndo::settle_deaths_flag`]), so it is set whenever a report waits once its
/// reclaimer is done. It makes the fast paths' namespace compare (`ns_flags ==
/// same_ns_key`) also their "no report waits" test: one load and compare for both.
const NS_DEATHS: u64 = 2 << 32;

// ---- slot words (robust-futex format) ------------------------------------------------
/// Inside the TID field: an idle slot of thread `tid` is `tid | IDLE`. No TID reaches
/// bit 29 (`PID_MAX_LIMIT` is 2^22), so the kernel never matches it.
const IDLE: u32 = 1 << 29;
/// With `IDLE`: the idle slot caches exactly one unit and no operation is in flight
/// (what the fast release leaves), so the fast acquire's one CAS, which expects
/// `tid | IDLE | CACHED_ONE`, is also its test of the slot's state. An idle word
/// without it caches any other count (`go_idle`: none). Set only by a thread that has
/// just seen its slot's state say one unit; nobody changes an idle slot's state. Not in
/// any TID either (bit 28), and `tid | IDLE | CACHED_ONE` is never `REPORT` (that would
/// need a TID of 2^28 - 2).
const CACHED_ONE: u32 = 1 << 28;
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
/// +0   word       u32  robust word: 0 free | tid | tid|W | D(|W) dead | tid|IDLE(|C) | REPORT
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
/// Slot word states (`W` = `FUTEX_WAITERS`, `D` = `FUTEX_OWNER_DIED`, `C` = `CACHED_ONE`):
///
/// | word         | meaning                                   | who moves it on                     |
/// |--------------|-------------------------------------------|-------------------------------------|
/// | 0            | free                                      | a new holder (CAS)                  |
/// | tid \| IDLE  | idle: tid's slot, unlinked; `units` cached | tid, or anyone taking it over (CAS) |
/// | tid\|IDLE\|C | idle as above; `units` is exactly 1       | the same                            |
/// | tid (\| W)   | held by tid, linked in its robust list    | tid (swap to IDLE), the kernel (D)  |
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
/// +24  ns_flags   u64  creator's PID-namespace id | FLAG_CROSS_NS << 32 (`holder`)
///                      | NS_DEATHS (bit 33)
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
/// |            |        | (the fast paths see `NS_DEATHS`, raised before it)           |
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
    assert!(NS_DEATHS >> 32 & FLAG_CROSS_NS as u64 == 0);
    assert!(
        core::mem::offset_of!(Slot, list_next) as isize + robust::FUTEX_OFFSET
            == core::mem::offset_of!(Slot, word) as isize
    );
    assert!(core::mem::size_of::<RawSemUndo>() == 64 + 64 * UNDO_HOLDERS);
    assert!(UNDO_HOLDERS < (TAG_MASK >> TAG_SHIFT) as usize);
    // A waiter watches the value and every holder in one futex_waitv call.
    assert!(UNDO_HOLDERS < waitv::WAITV_MAX);
    // `home`: the 64 slots of 64 bytes cover every line of a page exactly once.
    assert!(UNDO_HOLDERS * core::mem::size_of::<Slot>() == 4096);
    assert!(SLOT_OFFSET_MASK as usize == 4096 - core::mem::size_of::<Slot>());
};

/// The bits of a page offset that pick a 64-byte slot of the table (`home`).
const SLOT_OFFSET_MASK: u32 = 0xfc0;

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

impl Slot {
    #[inline(always)]
    fn units(&self) -> u32 {
        (self.state.load(Ordering::Relaxed) & UNITS_MASK) as u32
    }

    /// The holder's back-stop record.
    fn record(&self) -> Record<'_> {
        Record {
            ids: &self.ids,
            start: &self.start,
            ns: &self.ns,
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
        // SAFETY: only atomics after the header; not published yet (nobody looks).
        unsafe { zero_body(self) };
        self.value.store(value, Ordering::Relaxed);
        self.max_value.store(max_value, Ordering::Relaxed);
        self.ns_flags.store(u64::from(me.pidns), Ordering::Relaxed);
        self.header.publish(Kind::SemUndo, lifecycle);
    }

    /// The object header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// The slot this thread looks at first: the one that lies at the thread's own line
    /// of a page (`ThreadCtx::undo_line`), whatever the object's address. Slot `i` lies
    /// at line `object line + 1 + i`, and 64 slots cover every line of a page once.
    ///
    /// With the object at `64 p + r` (`r < 64`) and `undo_line_end = 64 L - 1`:
    /// `undo_line_end - address = 64 (L - 1 - p) + (63 - r)`, so masking it to bits
    /// 6..12 leaves `64 i` with `i = (L - 1 - p) mod 64`: the slot's byte offset in the
    /// table, in two instructions.
    #[inline(always)]
    fn home(&self, me: &ThreadCtx) -> usize {
        let address = self as *const RawSemUndo as usize as u32;
        let offset = me.undo_line_end.wrapping_sub(address) & SLOT_OFFSET_MASK;
        (offset / core::mem::size_of::<Slot>() as u32) as usize
    }

    /// How `me` may use its robust list here (flags a participant from another, or an
    /// unknown, PID namespace for everyone, as the RLock does).
    fn robust_for(&self, me: &ThreadCtx) -> Robust {
        Robust::of(&self.ns_flags, me)
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
        if deaths {
            self.ns_flags.fetch_or(NS_DEATHS, Ordering::SeqCst);
        }
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
}

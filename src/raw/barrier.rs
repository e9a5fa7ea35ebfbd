//! `Barrier`: `parties` threads meet; the last to arrive runs an action, then all
//! are released together and the barrier is ready for the next generation.
//!
//! # Design
//!
//! One 64-bit state word holds the current generation's number, how many indices it
//! has handed out, at most one *hole* (an index given back by a waiter that a signal
//! handler interrupted), the broken flag, and a "next generation is broken" flag.
//! Arrival is one CAS; the last arrival runs the action while the others sleep, then
//! releases everybody with one CAS (next generation, count 0) and one `FUTEX_WAKE`.
//! Nobody ever waits for an acknowledgement, so a party that died while waiting never
//! hangs the others: it simply counted as arrived (CPython's releasing party hangs:
//! gh-123899).
//!
//! Every transition is a pure function of the unpacked [`State`] (`arrive`,
//! `withdraw`, `released`, `broken_by_member`, `broken_from_outside`, `reset_step`,
//! `late_timeout`); the CAS loops below only apply them, and the unit tests drive them
//! directly.
//!
//! ## Which generation a call affects
//!
//! Once the last party has arrived, its generation is *sealed*: the action runs and
//! nothing but the action's result, a member's own timeout, or the death of the
//! action's thread can stop its release. A thread that arrives while the action runs
//! belongs to the *next* generation (it waits until the release, then joins it), as in
//! CPython, where it blocks on the condition's lock meanwhile. So, during the action:
//! - a late arrival's timeout breaks the next generation (`NEXT_BROKEN`): the sealed
//!   generation is released normally (every member gets its index), and the barrier
//!   is broken from then on; the late arrival returns `Broken` at its deadline instead
//!   of waiting for the action, as CPython would;
//! - `abort` from outside the generation (it cannot tell its caller's generation)
//!   breaks the generation that an arrival at that moment would join: the next one.
//!   CPython serialises `abort` after the action (condition lock) and then usually
//!   breaks the released parties that had not yet re-taken the lock, while the
//!   releaser succeeds; here the whole sealed generation succeeds;
//! - `reset` leaves the sealed generation alone and cancels a pending `NEXT_BROKEN`;
//! - a late arrival interrupted by a signal handler simply leaves (it held no index);
//! - a member's timeout breaks its own (sealed) generation, so a timed call returns
//!   within its timeout even if the action never ends (CPython would wait for the
//!   action, then succeed).
//!
//! A waiter learns that its generation ended when the generation number changes. To
//! tell "released" from "broken, then reset", `reset` writes the number of the broken
//! generation into `broken[generation % 8]` before it starts the next one: a waiter
//! whose generation is over returns `MP_EBROKEN` iff that slot holds its number. (A
//! waiter that was not scheduled while eight later generations with the same residue
//! broke and were reset would take its broken generation for released.)
//!
//! # State word (`state`, 64 bits)
//!
//! ```text
//! bits  0..16  COUNT        indices handed out in this generation (next fresh index)
//! bits 16..32  HOLE         an index below COUNT whose waiter withdrew, or 0xffff = none
//! bit  32      BROKEN       this generation is broken (until reset)
//! bit  33      NEXT_BROKEN  sealed generation only: the next one starts broken
//! bits 34..64  GEN          generation number (30 bits, wrapping)
//! ```
//!
//! Indices in use are `[0, COUNT)` minus `HOLE`; members = `COUNT - (HOLE != none)`.
//! A consistent state has `COUNT <= parties`, `HOLE == none || HOLE < COUNT`, and
//! `NEXT_BROKEN` only when sealed or broken; anything else was written by someone
//! else (shared memory is untrusted) and makes `wait` fail with `MP_EBADOBJ` until
//! `reset`, which starts a clean generation from any state.
//!
//! | state                                   | meaning                                      |
//! |-----------------------------------------|----------------------------------------------|
//! | !BROKEN, members < parties              | filling: arrivals take `HOLE`, else `COUNT`  |
//! | !BROKEN, COUNT == parties, no HOLE      | sealed: the last arriver runs the action;    |
//! |                                         | late arrivals wait to join the next one      |
//! | sealed + NEXT_BROKEN                    | as sealed, but late arrivals get `MP_EBROKEN`|
//! |                                         | and the release starts a broken generation   |
//! | BROKEN                                  | everyone in it returns `MP_EBROKEN`; so do   |
//! |                                         | new arrivals, until `reset`                  |
//!
//! Transitions: arrive `HOLE=none` or `COUNT+1`; release (last arriver, action OK)
//! `GEN+1, COUNT=0, HOLE=none, BROKEN=NEXT_BROKEN, NEXT_BROKEN=0`; break by a member
//! (action failed, a member's timeout) `BROKEN=1`; late arrival's timeout (sealed)
//! `NEXT_BROKEN=1`; `abort` `NEXT_BROKEN=1` if sealed, else `BROKEN=1`; reset: if
//! sealed `NEXT_BROKEN=0`, else `BROKEN=1` first if members wait, then
//! `broken[GEN%8]=GEN` and `GEN+1, COUNT=0, HOLE=none, BROKEN=0`; withdraw
//! (interrupted waiter) `COUNT-1` if it holds the top index (and again if the new top
//! is the hole), else `HOLE=index` if there is no hole yet.
//!
//! A second interrupted waiter that is not on top while a hole is pending cannot
//! leave without making two indices ambiguous: it stays in the generation (and keeps
//! sleeping, with its deadline) until it can withdraw (the hole is refilled or the
//! waiters above it leave), or the generation is released (`MP_OK`, it took part) or
//! broken. When a process group gets `SIGINT` every waiter is interrupted, the top
//! ones leave first, and everybody is out within a few wake-ups.
//!
//! # Futex word (`seq`)
//!
//! Bumped (then `FUTEX_WAKE` all) by release, break, reset, withdrawal and by an
//! arrival that refills a hole; waiters read it before the state.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::header::{Header, Kind, Lifecycle};
use crate::status::{MpResult, Status};
use crate::sys::futex::{self, Wake};
use crate::sys::time::Deadline;

/// Largest number of parties.
pub(crate) const MAX_PARTIES: u32 = 0xffff;

const COUNT_MASK: u64 = 0xffff;
const HOLE_SHIFT: u32 = 16;
const NO_HOLE: u32 = 0xffff;
const BROKEN: u64 = 1 << 32;
const NEXT_BROKEN: u64 = 1 << 33;
const GEN_SHIFT: u32 = 34;
const GEN_MASK: u32 = 0x3fff_ffff;
/// Never a generation number (they are 30-bit).
const NO_GEN: u32 = u32::MAX;
const RING: usize = 8;

/// Unpacked state word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    count: u32,
    hole: u32,
    broken: bool,
    next_broken: bool,
    generation: u32,
}

/// What an arrival does, given the state it saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arrival {
    /// Install `new` (by CAS) to take `index`; `last` if this arrival seals the
    /// generation (it then runs the action).
    Join { index: u32, new: State, last: bool },
    /// The generation is sealed: wait for its release, then arrive in the next one.
    Later,
    /// The barrier is broken (or the generation this caller would join will be).
    Broken,
}

impl State {
    /// The state of a fresh barrier.
    const INITIAL: State = State {
        count: 0,
        hole: NO_HOLE,
        broken: false,
        next_broken: false,
        generation: 0,
    };

    #[inline]
    fn unpack(v: u64) -> State {
        State {
            count: (v & COUNT_MASK) as u32,
            hole: ((v >> HOLE_SHIFT) & COUNT_MASK) as u32,
            broken: v & BROKEN != 0,
            next_broken: v & NEXT_BROKEN != 0,
            generation: (v >> GEN_SHIFT) as u32 & GEN_MASK,
        }
    }

    #[inline]
    fn pack(self) -> u64 {
        (u64::from(self.count) & COUNT_MASK)
            | (u64::from(self.hole) & COUNT_MASK) << HOLE_SHIFT
            | if self.broken { BROKEN } else { 0 }
            | if self.next_broken { NEXT_BROKEN } else { 0 }
            | u64::from(self.generation & GEN_MASK) << GEN_SHIFT
    }

    #[inline]
    fn members(self) -> u32 {
        self.count - u32::from(self.hole != NO_HOLE && self.hole < self.count)
    }

    #[inline]
    fn is_full(self, parties: u32) -> bool {
        self.count >= parties && self.hole == NO_HOLE
    }

    /// The last party has arrived and the generation is not broken: the action runs.
    #[inline]
    fn is_sealed(self, parties: u32) -> bool {
        !self.broken && self.is_full(parties)
    }

    /// See the module documentation ("a consistent state").
    #[inline]
    fn is_consistent(self, parties: u32) -> bool {
        self.count <= parties
            && (self.hole == NO_HOLE || self.hole < self.count)
            && (!self.next_broken || self.broken || self.is_full(parties))
    }

    /// The first state of the generation after this one (unbroken).
    #[inline]
    fn next_generation(self) -> State {
        State {
            generation: self.generation.wrapping_add(1) & GEN_MASK,
            ..State::INITIAL
        }
    }

    /// An arrival: take the hole if there is one, else the next fresh index.
    #[inline]
    fn arrive(self, parties: u32) -> Arrival {
        if self.broken || (self.next_broken && self.is_full(parties)) {
            return Arrival::Broken;
        }
        if self.is_full(parties) {
            return Arrival::Later;
        }
        let (index, new) = if self.hole != NO_HOLE {
            (
                self.hole,
                State {
                    hole: NO_HOLE,
                    ..self
                },
            )
        } else {
            (
                self.count,
                State {
                    count: self.count + 1,
                    ..self
                },
            )
        };
        Arrival::Join {
            index,
            new,
            last: new.is_full(parties),
        }
    }

    /// The release of sealed generation `generation` by its last arriver (action OK):
    /// `None` if it was broken (or reset) meanwhile. The next generation starts broken
    /// if a late arrival's timeout or an `abort` doomed it.
    #[inline]
    fn released(self, generation: u32) -> Option<State> {
        if self.generation != generation || self.broken {
            return None;
        }
        Some(State {
            broken: self.next_broken,
            ..self.next_generation()
        })
    }

    /// A member of generation `generation` breaks it (its action failed, or its
    /// timeout expired): `None` if that generation is over or already broken.
    #[inline]
    fn broken_by_member(self, generation: u32) -> Option<State> {
        if self.generation != generation || self.broken {
            return None;
        }
        Some(State {
            broken: true,
            next_broken: false,
            ..self
        })
    }

    /// A late arrival (it waits for sealed generation `generation` to be released)
    /// whose timeout expired: it dooms the next generation, its own. `None` if
    /// `generation` is no longer sealed (released: arrive again; broken: report it).
    #[inline]
    fn late_timeout(self, generation: u32, parties: u32) -> Option<State> {
        if self.generation != generation || !self.is_sealed(parties) {
            return None;
        }
        Some(State {
            next_broken: true,
            ..self
        })
    }

    /// `abort` by a caller outside any generation: breaks the generation an arrival
    /// would join now (the next one while sealed). `None` if nothing changes.
    #[inline]
    fn broken_from_outside(self, parties: u32) -> Option<State> {
        if self.broken || (self.next_broken && self.is_full(parties)) {
            None
        } else if self.is_sealed(parties) {
            Some(State {
                next_broken: true,
                ..self
            })
        } else {
            Some(State {
                broken: true,
                next_broken: false,
                ..self
            })
        }
    }

    /// One step of `reset`: `None` when done, else the state to install and whether
    /// it starts a new generation (after recording this one as broken).
    #[inline]
    fn reset_step(self, parties: u32) -> Option<(State, bool)> {
        if self.broken {
            return Some((self.next_generation(), true));
        }
        let break_first = State {
            broken: true,
            next_broken: false,
            ..self
        };
        if !self.is_consistent(parties) {
            // Overwritten by someone else: break it, then start clean (nobody can be
            // released from a state that makes no sense).
            return Some((break_first, false));
        }
        if self.is_sealed(parties) {
            // Its release goes ahead; only a pending doom is cancelled.
            return self.next_broken.then_some((
                State {
                    next_broken: false,
                    ..self
                },
                false,
            ));
        }
        if self.members() == 0 {
            return None;
        }
        // Break the waiters' generation first, so that it cannot be released while
        // we record it as broken.
        Some((break_first, false))
    }

    /// An interrupted member holding `index` leaves: `None` if it cannot now (the
    /// generation is sealed, or another hole is pending below a waiter above it).
    #[inline]
    fn withdraw(self, index: u32, parties: u32) -> Option<State> {
        if self.is_full(parties) {
            // The last arriver is running the action: we will be released.
            return None;
        }
        if index + 1 == self.count {
            let mut count = self.count - 1;
            let mut hole = self.hole;
            if hole != NO_HOLE && hole + 1 == count {
                count -= 1;
                hole = NO_HOLE;
            }
            Some(State {
                count,
                hole,
                ..self
            })
        } else if self.hole == NO_HOLE {
            Some(State {
                hole: index,
                ..self
            })
        } else {
            None
        }
    }
}

/// Shared layout (64 bytes, 8-aligned):
///
/// ```text
/// +0   header   (8)
/// +8   state    u64       see the module documentation
/// +16  seq      u32       futex word
/// +20  parties  u32       immutable after init
/// +24  broken   [u32; 8]  numbers of generations that broke and were reset
/// +56  reserved (8)
/// ```
#[repr(C)]
pub(crate) struct RawBarrier {
    header: Header,
    state: AtomicU64,
    seq: AtomicU32,
    parties: AtomicU32,
    broken: [AtomicU32; RING],
    _reserved: [u32; 2],
}

published_layout!(RawBarrier, size = 64, align = 8);

impl RawBarrier {
    /// True for `1..=MAX_PARTIES`.
    pub(crate) fn valid_parties(parties: u32) -> bool {
        (1..=MAX_PARTIES).contains(&parties)
    }

    /// Initialises for `parties` (must satisfy [`valid_parties`](Self::valid_parties))
    /// and publishes.
    pub(crate) fn init(&self, parties: u32, lifecycle: Lifecycle) {
        self.state.store(State::INITIAL.pack(), Ordering::Relaxed);
        self.seq.store(0, Ordering::Relaxed);
        self.parties.store(parties, Ordering::Relaxed);
        for slot in &self.broken {
            slot.store(NO_GEN, Ordering::Relaxed);
        }
        self.header.publish(Kind::Barrier, lifecycle);
    }

    /// The object header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    #[inline]
    fn load(&self) -> (u64, State) {
        let raw = self.state.load(Ordering::Acquire);
        (raw, State::unpack(raw))
    }

    /// The party count, checked: it lives in shared memory, which anyone may overwrite.
    #[inline]
    fn checked_parties(&self) -> MpResult<u32> {
        let parties = self.parties.load(Ordering::Relaxed);
        if Self::valid_parties(parties) {
            Ok(parties)
        } else {
            Err(Status::BadObj)
        }
    }

    /// The current state, `BadObj` if it is inconsistent.
    #[inline]
    fn load_checked(&self, parties: u32) -> MpResult<(u64, State)> {
        let (raw, st) = self.load();
        if st.is_consistent(parties) {
            Ok((raw, st))
        } else {
            Err(Status::BadObj)
        }
    }

    #[inline]
    fn cas(&self, old: u64, new: State) -> bool {
        self.state
            .compare_exchange(old, new.pack(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn wake_all(&self) {
        self.seq.fetch_add(1, Ordering::Release);
        futex::wake_all(&self.seq);
    }

    /// Waits for the other parties: `Ok(index)` with an index in `0..parties`,
    /// distinct within the generation (the last arriver gets the index it took, and
    /// runs `action` before anyone is released; `action` returning false breaks the
    /// barrier). `Broken` if the barrier is or becomes broken (also by this caller's
    /// timeout, which breaks its generation for everyone: see the module
    /// documentation for which generation that is) or is reset while waiting. `Intr`
    /// if a signal handler ran: the caller was withdrawn from the generation (a retry
    /// is a fresh arrival). `BadObj` if the shared state is inconsistent.
    pub(crate) fn wait(&self, deadline: &Deadline, action: impl FnOnce() -> bool) -> MpResult<u32> {
        let parties = self.checked_parties()?;
        let (generation, index, last) = loop {
            let seq = self.seq.load(Ordering::Acquire);
            let (raw, st) = self.load_checked(parties)?;
            match st.arrive(parties) {
                Arrival::Broken => return Err(Status::Broken),
                Arrival::Later => {
                    // The last arriver of this generation runs its action: this
                    // caller belongs to the next generation.
                    match futex::wait(&self.seq, seq, deadline) {
                        Wake::Retry => {}
                        Wake::TimedOut => {
                            if self.record_late_timeout(st.generation, parties) {
                                return Err(Status::Broken);
                            }
                            // Released (or broken) meanwhile: arrive in the next
                            // generation with the expired deadline, as CPython does.
                        }
                        Wake::Interrupted => return Err(Status::Intr),
                    }
                }
                Arrival::Join { index, new, last } => {
                    if self.cas(raw, new) {
                        if st.hole != NO_HOLE {
                            // A waiter stuck behind the hole may now withdraw.
                            self.wake_all();
                        }
                        break (st.generation, index, last);
                    }
                }
            }
        };
        if last {
            return if action() {
                self.release(generation).map(|()| index)
            } else {
                self.break_generation(generation);
                Err(Status::Broken)
            };
        }
        self.wait_for_release(generation, index, deadline, parties)
    }

    /// The last arriver's release: next generation, everyone woken. `Broken` if the
    /// generation was broken or reset while the action ran.
    fn release(&self, generation: u32) -> MpResult<()> {
        loop {
            let (raw, st) = self.load();
            let Some(new) = st.released(generation) else {
                return Err(Status::Broken);
            };
            if self.cas(raw, new) {
                self.wake_all();
                return Ok(());
            }
        }
    }

    /// A member breaks generation `generation` if it is still current and not broken;
    /// true if this call broke it.
    fn break_generation(&self, generation: u32) -> bool {
        loop {
            let (raw, st) = self.load();
            let Some(new) = st.broken_by_member(generation) else {
                return false;
            };
            if self.cas(raw, new) {
                self.wake_all();
                return true;
            }
        }
    }

    /// A late arrival's timeout while `generation` is sealed: dooms the next
    /// generation. False if `generation` is no longer sealed.
    fn record_late_timeout(&self, generation: u32, parties: u32) -> bool {
        loop {
            let (raw, st) = self.load();
            let Some(new) = st.late_timeout(generation, parties) else {
                return false;
            };
            // Nobody sleeps on this change: late arrivals look at it when the sealed
            // generation is released (or on their own deadline).
            if self.cas(raw, new) {
                return true;
            }
        }
    }

    /// How generation `generation`, which is over, ended.
    fn fate(&self, generation: u32) -> MpResult<()> {
        if self.broken[generation as usize % RING].load(Ordering::Acquire) == generation {
            Err(Status::Broken)
        } else {
            Ok(())
        }
    }

    /// A member that is not the last waits until its generation ends: `Ok(index)` if
    /// it was released, `Broken` if it was broken (also by this caller's timeout) or
    /// reset, `Intr` once the caller could withdraw after a signal handler ran,
    /// `BadObj` if the shared state is inconsistent.
    fn wait_for_release(
        &self,
        generation: u32,
        index: u32,
        deadline: &Deadline,
        parties: u32,
    ) -> MpResult<u32> {
        let mut interrupted = false;
        loop {
            let seq = self.seq.load(Ordering::Acquire);
            let (raw, st) = self.load();
            if st.generation != generation {
                return self.fate(generation).map(|()| index);
            }
            if st.broken {
                return Err(Status::Broken);
            }
            if !st.is_consistent(parties) {
                return Err(Status::BadObj);
            }
            if interrupted {
                if let Some(new) = st.withdraw(index, parties) {
                    if self.cas(raw, new) {
                        self.wake_all();
                        return Err(Status::Intr);
                    }
                    continue;
                }
            }
            match futex::wait(&self.seq, seq, deadline) {
                Wake::Retry => {}
                Wake::TimedOut => {
                    // Our timeout breaks our generation for everyone, unless it ended
                    // (or broke) first: the loop then reports how.
                    if self.break_generation(generation) {
                        return Err(Status::Broken);
                    }
                }
                Wake::Interrupted => interrupted = true,
            }
        }
    }

    /// Breaks the barrier from outside any generation: every waiter of the filling
    /// generation, and every later arrival until `reset`, gets `Broken`. While the
    /// last arriver runs the action, the sealed generation is still released and the
    /// next one is broken (see the module documentation).
    pub(crate) fn abort(&self) {
        let parties = self.parties.load(Ordering::Relaxed);
        loop {
            let (raw, st) = self.load();
            let Some(new) = st.broken_from_outside(parties) else {
                return;
            };
            if self.cas(raw, new) {
                self.wake_all();
                return;
            }
        }
    }

    /// Returns the barrier to its initial state: threads waiting in the filling
    /// generation get `Broken`; later arrivals start a fresh generation. A sealed
    /// generation (the action is running) is released normally and the next one
    /// starts unbroken. Also repairs a state that someone else overwrote.
    pub(crate) fn reset(&self) {
        let parties = self.parties.load(Ordering::Relaxed);
        loop {
            let (raw, st) = self.load();
            let Some((new, next)) = st.reset_step(parties) else {
                return;
            };
            if next {
                self.record_broken(st.generation);
            }
            if self.cas(raw, new) {
                if next {
                    self.wake_all();
                    return;
                }
                if !new.broken {
                    return; // a cancelled doom
                }
                // Broke the waiters' generation: the next step starts a fresh one.
            }
        }
    }

    /// `broken[generation % 8] = generation`, unless the slot already holds a later generation
    /// (a resetter that stalled must not erase a newer record).
    fn record_broken(&self, generation: u32) {
        let slot = &self.broken[generation as usize % RING];
        let mut cur = slot.load(Ordering::Relaxed);
        loop {
            let newer = cur != NO_GEN
                && cur != generation
                && (cur.wrapping_sub(generation) & GEN_MASK) < (1 << 29);
            if newer || cur == generation {
                return;
            }
            match slot.compare_exchange_weak(cur, generation, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// Number of parties.
    pub(crate) fn parties(&self) -> u32 {
        self.parties.load(Ordering::Relaxed)
    }

    /// Threads waiting in the current generation (0 while broken).
    pub(crate) fn n_waiting(&self) -> u32 {
        let (_, st) = self.load();
        if st.broken { 0 } else { st.members() }
    }

    /// True while broken, or while the action runs and the next generation is
    /// already doomed (a `wait` now would return `Broken`).
    pub(crate) fn is_broken(&self) -> bool {
        let (_, st) = self.load();
        st.broken || (st.next_broken && st.is_full(self.parties.load(Ordering::Relaxed)))
    }

    /// Ends an in-place barrier: `Busy` while threads wait in an unbroken generation.
    pub(crate) fn destroy(&self) -> Status {
        if self.n_waiting() != 0 {
            return Status::Busy;
        }
        self.header.retire();
        Status::Ok
    }

    /// Read-only snapshot for inspectors: `(parties, n_waiting, broken, generation)`
    /// from one load of the state word. Racy; never blocks.
    pub(crate) fn snapshot(&self) -> (u32, u32, bool, u32) {
        let (_, st) = self.load();
        let waiting = if st.broken { 0 } else { st.members() };
        (self.parties(), waiting, st.broken, st.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::test_util::{fresh, wait_until};
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    fn new_barrier(parties: u32) -> Arc<RawBarrier> {
        fresh(|b: &RawBarrier| b.init(parties, Lifecycle::InPlace))
    }

    fn st(count: u32, hole: u32, generation: u32) -> State {
        State {
            count,
            hole,
            generation,
            ..State::INITIAL
        }
    }

    /// Applies an arrival that must join; returns (index, new state, last).
    fn join(s: State, parties: u32) -> (u32, State, bool) {
        match s.arrive(parties) {
            Arrival::Join { index, new, last } => (index, new, last),
            other => panic!("expected a join, got {other:?}"),
        }
    }

    #[test]
    fn layout_and_packing() {
        assert_eq!(core::mem::size_of::<RawBarrier>(), 64);
        let s = State {
            count: 7,
            hole: 3,
            broken: true,
            next_broken: true,
            generation: GEN_MASK,
        };
        assert_eq!(State::unpack(s.pack()), s);
        assert_eq!(s.members(), 6);
        assert_eq!(s.next_generation().generation, 0);
        assert_eq!(State::unpack(u64::MAX).generation, GEN_MASK);
        assert!(RawBarrier::valid_parties(1) && RawBarrier::valid_parties(MAX_PARTIES));
        assert!(!RawBarrier::valid_parties(0) && !RawBarrier::valid_parties(MAX_PARTIES + 1));
    }

    /// Arrival, sealing and release as pure transitions.
    #[test]
    fn arrive_seal_release() {
        let s0 = st(0, NO_HOLE, 5);
        let (i, s1, last) = join(s0, 2);
        assert_eq!((i, s1.count, last), (0, 1, false));
        let (i, s2, last) = join(s1, 2);
        assert_eq!((i, s2.count, last), (1, 2, true));
        assert!(s2.is_sealed(2));
        assert_eq!(s2.arrive(2), Arrival::Later); // a late arrival waits for the next one
        let s3 = s2.released(5).unwrap();
        assert_eq!(s3, st(0, NO_HOLE, 6));
        assert_eq!(s2.released(4), None); // not its generation
        let broken = s1.broken_by_member(5).unwrap();
        assert_eq!(broken.arrive(2), Arrival::Broken);
        assert_eq!(broken.released(5), None);
        assert_eq!(broken.broken_by_member(5), None);
    }

    /// Defect 6: a late arrival's timeout during the action dooms the next
    /// generation only; abort and reset from outside act on the next one too.
    #[test]
    fn late_arrival_affects_only_the_next_generation() {
        let sealed = st(2, NO_HOLE, 9);
        assert!(sealed.is_sealed(2));
        let doomed = sealed.late_timeout(9, 2).unwrap();
        assert!(doomed.next_broken && !doomed.broken);
        assert_eq!(doomed.arrive(2), Arrival::Broken); // other late arrivals: at once
        assert_eq!(doomed.late_timeout(9, 2), Some(doomed)); // idempotent
        assert_eq!(doomed.withdraw(0, 2), None); // members stay to be released
        let next = doomed.released(9).unwrap(); // the sealed generation completes
        assert!(next.broken && next.generation == 10 && next.count == 0);
        assert_eq!(next.arrive(2), Arrival::Broken);
        // Not sealed (released, or filling): a late timeout changes nothing.
        assert_eq!(st(1, NO_HOLE, 9).late_timeout(9, 2), None);
        assert_eq!(sealed.late_timeout(8, 2), None);
        // abort while sealed: the next generation; while filling: this one.
        assert_eq!(sealed.broken_from_outside(2), Some(doomed));
        assert_eq!(doomed.broken_from_outside(2), None);
        let filling = st(1, NO_HOLE, 9);
        let aborted = filling.broken_from_outside(2).unwrap();
        assert!(aborted.broken);
        assert_eq!(aborted.broken_from_outside(2), None);
        // reset while sealed: cancels the doom, leaves the release alone.
        assert_eq!(doomed.reset_step(2), Some((sealed, false)));
        assert_eq!(sealed.reset_step(2), None);
        // A member's own timeout while sealed breaks its own generation.
        let by_member = doomed.broken_by_member(9).unwrap();
        assert!(by_member.broken && !by_member.next_broken);
        assert_eq!(by_member.released(9), None);
    }

    #[test]
    fn reset_steps() {
        // Filling with members: break first, then a fresh generation.
        let filling = st(2, NO_HOLE, 3);
        let (b, next) = filling.reset_step(3).unwrap();
        assert!(b.broken && !next);
        let (fresh, next) = b.reset_step(3).unwrap();
        assert!(next);
        assert_eq!(fresh, st(0, NO_HOLE, 4));
        assert_eq!(fresh.reset_step(3), None);
        // Inconsistent (overwritten) states are broken, then restarted.
        for bad in [st(4, NO_HOLE, 3), st(2, 2, 3), st(2, 5, 3)] {
            assert!(!bad.is_consistent(3));
            let (b, next) = bad.reset_step(3).unwrap();
            assert!(b.broken && !next);
            assert!(b.reset_step(3).unwrap().1);
        }
        let stray = State {
            next_broken: true,
            ..st(1, NO_HOLE, 3)
        };
        assert!(!stray.is_consistent(3));
    }

    /// The withdrawal state machine, driven directly.
    #[test]
    fn withdrawals_keep_indices_distinct() {
        let p = 5;
        let s = st(0, NO_HOLE, 0);
        let (i0, s, _) = join(s, p);
        let (i1, s, _) = join(s, p);
        let (i2, s, _) = join(s, p);
        assert_eq!((i0, i1, i2), (0, 1, 2));
        let s = s.withdraw(1, p).unwrap(); // hole 1
        assert_eq!(s.hole, 1);
        assert_eq!(s.withdraw(0, p), None); // a second hole is not possible: stays
        assert_eq!(s.members(), 2);
        let s = s.withdraw(2, p).unwrap(); // top leaves; the hole below collapses
        assert_eq!((s.count, s.hole), (1, NO_HOLE));
        let s = s.withdraw(0, p).unwrap(); // now on top
        assert_eq!(s.members(), 0);
        let (a, s, _) = join(s, p);
        let (b, s, _) = join(s, p);
        assert_eq!((a, b), (0, 1));
        let s = s.withdraw(0, p).unwrap(); // hole 0
        let (refill, s, _) = join(s, p);
        assert_eq!(refill, 0);
        let (top, s, _) = join(s, p);
        assert_eq!(top, 2);
        assert!(s.is_consistent(p));
        // Sealed: nobody withdraws.
        let sealed = st(2, NO_HOLE, 0);
        assert_eq!(sealed.withdraw(0, 2), None);
    }

    #[test]
    fn single_party_and_action() {
        let b = new_barrier(1);
        for _ in 0..3 {
            assert_eq!(b.wait(&Deadline::Now, || true), Ok(0));
        }
        assert_eq!(b.wait(&Deadline::Now, || false), Err(Status::Broken));
        assert!(b.is_broken());
        assert_eq!(b.wait(&Deadline::Never, || true), Err(Status::Broken));
        b.reset();
        assert!(!b.is_broken());
        assert_eq!(b.wait(&Deadline::Now, || true), Ok(0));
    }

    #[test]
    fn timeout_breaks_for_everyone() {
        let b = new_barrier(3);
        let b2 = b.clone();
        let t = std::thread::spawn(move || b2.wait(&Deadline::Never, || true));
        wait_until(|| b.n_waiting() == 1);
        let t0 = Instant::now();
        assert_eq!(
            b.wait(&Deadline::from_timeout(true, 30), || true),
            Err(Status::Broken)
        );
        assert!(t0.elapsed() >= Duration::from_millis(30));
        assert_eq!(t.join().unwrap(), Err(Status::Broken));
        assert_eq!(b.n_waiting(), 0);
        assert_eq!(b.wait(&Deadline::Never, || true), Err(Status::Broken));
        b.reset();
        assert_eq!(b.wait(&Deadline::Now, || true), Err(Status::Broken)); // try once: breaks
    }

    /// Defect 6 with threads: Barrier(2) whose action takes a while; a third thread
    /// that arrives meanwhile and times out breaks only its own (next) generation.
    #[test]
    fn late_timeout_during_action_spares_the_sealed_generation() {
        let b = new_barrier(2);
        let b2 = b.clone();
        let a = std::thread::spawn(move || b2.wait(&Deadline::Never, || true));
        wait_until(|| b.n_waiting() == 1);
        let b3 = b.clone();
        let releaser = std::thread::spawn(move || {
            b3.wait(&Deadline::Never, || {
                std::thread::sleep(Duration::from_millis(if cfg!(miri) { 50 } else { 300 }));
                true
            })
        });
        wait_until(|| b.n_waiting() == 2); // sealed: the action runs
        assert_eq!(
            b.wait(&Deadline::from_timeout(true, 20), || true),
            Err(Status::Broken)
        );
        assert!(b.is_broken()); // the next generation is doomed already
        assert_eq!(b.wait(&Deadline::Never, || true), Err(Status::Broken));
        let mut idx = [
            a.join().unwrap().unwrap(),
            releaser.join().unwrap().unwrap(),
        ];
        idx.sort();
        assert_eq!(idx, [0, 1]);
        assert!(b.is_broken());
        b.reset();
        assert!(!b.is_broken());
        let b4 = b.clone();
        let t = std::thread::spawn(move || b4.wait(&Deadline::Never, || true));
        let mine = b.wait(&Deadline::Never, || true).unwrap();
        assert_eq!(mine + t.join().unwrap().unwrap(), 1);
    }

    #[test]
    fn overwritten_state_is_badobj_until_reset() {
        let b = new_barrier(3);
        b.state.store(st(7, NO_HOLE, 1).pack(), Ordering::Relaxed);
        assert_eq!(b.wait(&Deadline::Never, || true), Err(Status::BadObj));
        b.reset();
        assert_eq!(b.n_waiting(), 0);
        assert!(!b.is_broken());
        b.parties.store(0, Ordering::Relaxed);
        assert_eq!(b.wait(&Deadline::Never, || true), Err(Status::BadObj));
        b.parties.store(1, Ordering::Relaxed);
        assert_eq!(b.wait(&Deadline::Never, || true), Ok(0));
    }

    #[test]
    fn generations_with_threads() {
        const P: usize = 4;
        let rounds = if cfg!(miri) { 5 } else { 500 };
        let b = new_barrier(P as u32);
        let actions = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(
            (0..rounds * P)
                .map(|_| AtomicUsize::new(0))
                .collect::<Vec<_>>(),
        );
        let ts: Vec<_> = (0..P)
            .map(|_| {
                let (b, actions, seen) = (b.clone(), actions.clone(), seen.clone());
                std::thread::spawn(move || {
                    for g in 0..rounds {
                        let i = b
                            .wait(&Deadline::Never, || {
                                actions.fetch_add(1, Ordering::SeqCst);
                                true
                            })
                            .unwrap() as usize;
                        // The action of generation g ran before anyone left it.
                        assert!(actions.load(Ordering::SeqCst) > g);
                        seen[g * P + i].fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(actions.load(Ordering::SeqCst), rounds);
        assert!(seen.iter().all(|s| s.load(Ordering::SeqCst) == 1));
    }

    #[test]
    fn reset_and_abort_break_waiters_then_barrier_is_usable() {
        let b = new_barrier(3);
        for op in 0..2 {
            let ts: Vec<_> = (0..2)
                .map(|_| {
                    let b = b.clone();
                    std::thread::spawn(move || b.wait(&Deadline::Never, || true))
                })
                .collect();
            wait_until(|| b.n_waiting() == 2);
            if op == 0 {
                b.reset();
            } else {
                b.abort();
                assert!(b.is_broken());
                b.reset();
            }
            for t in ts {
                assert_eq!(t.join().unwrap(), Err(Status::Broken));
            }
            assert!(!b.is_broken());
            assert_eq!(b.n_waiting(), 0);
        }
        // Usable afterwards.
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                std::thread::spawn(move || b.wait(&Deadline::Never, || true))
            })
            .collect();
        let mine = b.wait(&Deadline::Never, || true).unwrap();
        let mut idx: Vec<u32> = ts.into_iter().map(|t| t.join().unwrap().unwrap()).collect();
        idx.push(mine);
        idx.sort();
        assert_eq!(idx, vec![0, 1, 2]);
        assert_eq!(b.destroy(), Status::Ok);
    }

    #[test]
    fn broken_record_tells_released_from_reset() {
        let b = new_barrier(2);
        assert_eq!(b.fate(0), Ok(()));
        b.abort();
        b.reset(); // generation 0 broke
        assert_eq!(b.fate(0), Err(Status::Broken));
        assert_eq!(b.fate(8), Ok(()));
        b.record_broken(8);
        b.record_broken(0); // stale: must not erase 8
        assert_eq!(b.fate(8), Err(Status::Broken));
        assert_eq!(b.fate(0), Ok(()));
    }
}

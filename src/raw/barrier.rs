//! `Barrier`: `parties` threads meet; the last to arrive runs an action, then all
//! are released together and the barrier is ready for the next generation.
//!
//! # Design
//!
//! One 64-bit state word holds the current generation's number, how many indices it
//! has handed out, at most one *hole* (an index given back by a waiter that a signal
//! handler interrupted), and the broken flag. Arrival is one CAS; the last arrival
//! runs the action while the others sleep, then releases everybody with one CAS
//! (next generation, count 0) and one `FUTEX_WAKE`. Nobody ever waits for an
//! acknowledgement, so a party that died while waiting never hangs the others: it
//! simply counted as arrived (CPython's releasing party hangs: gh-123899).
//!
//! A waiter learns that its generation ended when the generation number changes. To
//! tell "released" from "broken, then reset", `reset` writes the number of the broken
//! generation into `broken[generation % 8]` before it starts the next one: a waiter whose
//! generation is over returns `MP_EBROKEN` iff that slot holds its number. (A
//! waiter that was not scheduled while eight later generations with the same
//! residue broke and were reset would take its broken generation for released.)
//!
//! # State word (`state`, 64 bits)
//!
//! ```text
//! bits  0..16  COUNT   indices handed out in this generation (next fresh index)
//! bits 16..32  HOLE    an index below COUNT whose waiter withdrew, or 0xffff = none
//! bit  32      BROKEN  the generation is broken (until reset)
//! bits 33..64  GEN     generation number (31 bits, wrapping)
//! ```
//!
//! Indices in use are `[0, COUNT)` minus `HOLE`; members = `COUNT - (HOLE != none)`.
//!
//! | state                              | meaning                                    |
//! |------------------------------------|--------------------------------------------|
//! | !BROKEN, members < parties         | filling: arrivals take `HOLE`, else `COUNT` |
//! | !BROKEN, COUNT == parties, no HOLE | full: the last arriver runs the action;     |
//! |                                    | extra arrivals wait for the next generation |
//! | BROKEN                             | everyone in it returns `MP_EBROKEN`; so do  |
//! |                                    | new arrivals, until `reset`                 |
//!
//! Transitions: arrive `HOLE=none` or `COUNT+1`; release (last arriver, action OK)
//! `GEN+1, COUNT=0, HOLE=none`; break (action failed, a timeout, `abort`) `BROKEN=1`;
//! reset `BROKEN=1` first if members wait, then `broken[GEN%8]=GEN` and
//! `GEN+1, COUNT=0, HOLE=none, BROKEN=0`; withdraw (interrupted waiter) `COUNT-1`
//! if it holds the top index (and again if the new top is the hole), else
//! `HOLE=index` if there is no hole yet.
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
pub const MAX_PARTIES: u32 = 0xffff;

const COUNT_MASK: u64 = 0xffff;
const HOLE_SHIFT: u32 = 16;
const NO_HOLE: u32 = 0xffff;
const BROKEN: u64 = 1 << 32;
const GEN_SHIFT: u32 = 33;
const GEN_MASK: u32 = 0x7fff_ffff;
/// Never a generation number (they are 31-bit).
const NO_GEN: u32 = u32::MAX;
const RING: usize = 8;

/// Unpacked state word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    count: u32,
    hole: u32,
    broken: bool,
    generation: u32,
}

impl State {
    #[inline]
    fn unpack(v: u64) -> State {
        State {
            count: (v & COUNT_MASK) as u32,
            hole: ((v >> HOLE_SHIFT) & COUNT_MASK) as u32,
            broken: v & BROKEN != 0,
            generation: (v >> GEN_SHIFT) as u32 & GEN_MASK,
        }
    }

    #[inline]
    fn pack(self) -> u64 {
        (u64::from(self.count) & COUNT_MASK)
            | (u64::from(self.hole) & COUNT_MASK) << HOLE_SHIFT
            | if self.broken { BROKEN } else { 0 }
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

    /// The first state of the generation after this one.
    #[inline]
    fn next_generation(self) -> State {
        State {
            count: 0,
            hole: NO_HOLE,
            broken: false,
            generation: self.generation.wrapping_add(1) & GEN_MASK,
        }
    }
}

/// Why an interrupted waiter's withdrawal did not happen.
enum Withdraw {
    Done,
    Raced,
    NotNow,
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
pub struct RawBarrier {
    header: Header,
    state: AtomicU64,
    seq: AtomicU32,
    parties: AtomicU32,
    broken: [AtomicU32; RING],
    _reserved: [u32; 2],
}

impl RawBarrier {
    /// True for `1..=MAX_PARTIES`.
    pub fn valid_parties(parties: u32) -> bool {
        (1..=MAX_PARTIES).contains(&parties)
    }

    /// Initialises for `parties` (must satisfy [`valid_parties`](Self::valid_parties))
    /// and publishes.
    pub fn init(&self, parties: u32, lifecycle: Lifecycle) {
        let first = State {
            count: 0,
            hole: NO_HOLE,
            broken: false,
            generation: 0,
        };
        self.state.store(first.pack(), Ordering::Relaxed);
        self.seq.store(0, Ordering::Relaxed);
        self.parties.store(parties, Ordering::Relaxed);
        for slot in &self.broken {
            slot.store(NO_GEN, Ordering::Relaxed);
        }
        self.header.publish(Kind::Barrier, lifecycle);
    }

    /// The object header.
    #[inline]
    pub fn header(&self) -> &Header {
        &self.header
    }

    #[inline]
    fn load(&self) -> (u64, State) {
        let raw = self.state.load(Ordering::Acquire);
        (raw, State::unpack(raw))
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
    /// timeout, which breaks it for everyone) or is reset while waiting. `Intr` if a
    /// signal handler ran: the caller was withdrawn from the generation (a retry is
    /// a fresh arrival).
    pub fn wait(&self, deadline: &Deadline, action: impl FnOnce() -> bool) -> MpResult<u32> {
        let parties = self.parties.load(Ordering::Relaxed);
        let (generation, index, last) = loop {
            let seq = self.seq.load(Ordering::Acquire);
            let (raw, st) = self.load();
            if st.broken {
                return Err(Status::Broken);
            }
            if st.is_full(parties) {
                // The last arriver of this generation runs its action: this caller
                // belongs to the next generation.
                match futex::wait(&self.seq, seq, deadline) {
                    Wake::Retry => continue,
                    Wake::TimedOut => {
                        self.break_generation(st.generation);
                        return Err(Status::Broken);
                    }
                    Wake::Interrupted => return Err(Status::Intr),
                }
            }
            let refill = st.hole != NO_HOLE;
            let (index, new) = if refill {
                (
                    st.hole,
                    State {
                        hole: NO_HOLE,
                        ..st
                    },
                )
            } else {
                (
                    st.count,
                    State {
                        count: st.count + 1,
                        ..st
                    },
                )
            };
            if self.cas(raw, new) {
                if refill {
                    // A waiter stuck behind the hole may now withdraw.
                    self.wake_all();
                }
                break (st.generation, index, new.is_full(parties));
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
        self.await_release(generation, index, deadline)
    }

    /// The last arriver's release: next generation, everyone woken. `Broken` if the
    /// generation was broken or reset while the action ran.
    fn release(&self, generation: u32) -> MpResult<()> {
        loop {
            let (raw, st) = self.load();
            if st.generation != generation || st.broken {
                return Err(Status::Broken);
            }
            if self.cas(raw, st.next_generation()) {
                self.wake_all();
                return Ok(());
            }
        }
    }

    /// Sets BROKEN if generation `generation` is still current and not broken; true if
    /// this call broke it.
    fn break_generation(&self, generation: u32) -> bool {
        loop {
            let (raw, st) = self.load();
            if st.generation != generation || st.broken {
                return false;
            }
            if self.cas(raw, State { broken: true, ..st }) {
                self.wake_all();
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

    fn await_release(&self, generation: u32, index: u32, deadline: &Deadline) -> MpResult<u32> {
        let parties = self.parties.load(Ordering::Relaxed);
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
            if interrupted {
                match self.try_withdraw(raw, st, index, parties) {
                    Withdraw::Done => return Err(Status::Intr),
                    Withdraw::Raced => continue,
                    Withdraw::NotNow => {}
                }
            }
            match futex::wait(&self.seq, seq, deadline) {
                Wake::Retry => {}
                Wake::TimedOut => {
                    // Our timeout breaks the generation for everyone, unless it
                    // ended (or broke) first: the loop then reports how.
                    if self.break_generation(generation) {
                        return Err(Status::Broken);
                    }
                }
                Wake::Interrupted => interrupted = true,
            }
        }
    }

    /// Gives `index` back (see the module documentation).
    fn try_withdraw(&self, raw: u64, st: State, index: u32, parties: u32) -> Withdraw {
        if st.is_full(parties) {
            // The last arriver is running the action: we will be released.
            return Withdraw::NotNow;
        }
        let new = if index + 1 == st.count {
            let mut count = st.count - 1;
            let mut hole = st.hole;
            if hole != NO_HOLE && hole + 1 == count {
                count -= 1;
                hole = NO_HOLE;
            }
            State { count, hole, ..st }
        } else if st.hole == NO_HOLE {
            State { hole: index, ..st }
        } else {
            return Withdraw::NotNow;
        };
        if self.cas(raw, new) {
            self.wake_all();
            Withdraw::Done
        } else {
            Withdraw::Raced
        }
    }

    /// Breaks the barrier: every waiter, and every later arrival until `reset`,
    /// gets `Broken`.
    pub fn abort(&self) {
        loop {
            let (raw, st) = self.load();
            if st.broken {
                return;
            }
            if self.cas(raw, State { broken: true, ..st }) {
                self.wake_all();
                return;
            }
        }
    }

    /// Returns the barrier to its initial state: threads waiting in the current
    /// generation get `Broken`; later arrivals start a fresh generation.
    pub fn reset(&self) {
        loop {
            let (raw, st) = self.load();
            if !st.broken {
                if st.members() == 0 {
                    return;
                }
                // Break the waiters' generation first, so that it cannot be released
                // while we record it as broken.
                let _ = self.cas(raw, State { broken: true, ..st });
                continue;
            }
            self.record_broken(st.generation);
            if self.cas(raw, st.next_generation()) {
                self.wake_all();
                return;
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
                && (cur.wrapping_sub(generation) & GEN_MASK) < (1 << 30);
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
    pub fn parties(&self) -> u32 {
        self.parties.load(Ordering::Relaxed)
    }

    /// Threads waiting in the current generation (0 while broken).
    pub fn n_waiting(&self) -> u32 {
        let (_, st) = self.load();
        if st.broken { 0 } else { st.members() }
    }

    /// True while broken.
    pub fn is_broken(&self) -> bool {
        self.load().1.broken
    }

    /// Ends an in-place barrier: `Busy` while threads wait in an unbroken generation.
    pub fn destroy(&self) -> Status {
        if self.n_waiting() != 0 {
            return Status::Busy;
        }
        self.header.retire();
        Status::Ok
    }

    /// Read-only snapshot for inspectors: `(parties, n_waiting, broken, generation)`
    /// from one load of the state word. Racy; never blocks.
    pub fn snapshot(&self) -> (u32, u32, bool, u32) {
        let (_, st) = self.load();
        let waiting = if st.broken { 0 } else { st.members() };
        (self.parties(), waiting, st.broken, st.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::test_util::wait_until;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    fn new_barrier(parties: u32) -> Arc<RawBarrier> {
        // SAFETY: RawBarrier is plain atomics and integers: all-zero is valid.
        let b: Box<RawBarrier> = Box::new(unsafe { core::mem::zeroed() });
        b.init(parties, Lifecycle::InPlace);
        Arc::from(b)
    }

    #[test]
    fn layout_and_packing() {
        assert_eq!(core::mem::size_of::<RawBarrier>(), 64);
        let s = State {
            count: 7,
            hole: 3,
            broken: true,
            generation: GEN_MASK,
        };
        assert_eq!(State::unpack(s.pack()), s);
        assert_eq!(s.members(), 6);
        assert_eq!(s.next_generation().generation, 0);
        assert!(RawBarrier::valid_parties(1) && RawBarrier::valid_parties(MAX_PARTIES));
        assert!(!RawBarrier::valid_parties(0) && !RawBarrier::valid_parties(MAX_PARTIES + 1));
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

    /// The withdrawal state machine, driven directly.
    #[test]
    fn withdrawals_keep_indices_distinct() {
        let b = new_barrier(5);
        let arrive = |b: &RawBarrier| {
            let (raw, st) = b.load();
            let (i, new) = if st.hole != NO_HOLE {
                (
                    st.hole,
                    State {
                        hole: NO_HOLE,
                        ..st
                    },
                )
            } else {
                (
                    st.count,
                    State {
                        count: st.count + 1,
                        ..st
                    },
                )
            };
            assert!(b.cas(raw, new));
            i
        };
        let withdraw = |b: &RawBarrier, i| {
            let (raw, st) = b.load();
            matches!(b.try_withdraw(raw, st, i, 5), Withdraw::Done)
        };
        assert_eq!((arrive(&b), arrive(&b), arrive(&b)), (0, 1, 2));
        assert!(withdraw(&b, 1)); // hole 1
        assert!(!withdraw(&b, 0)); // a second hole is not possible: stays
        assert_eq!(b.n_waiting(), 2);
        assert!(withdraw(&b, 2)); // top leaves; the hole below collapses
        let (_, st) = b.load();
        assert_eq!((st.count, st.hole), (1, NO_HOLE));
        assert!(withdraw(&b, 0)); // now on top
        assert_eq!(b.n_waiting(), 0);
        assert_eq!((arrive(&b), arrive(&b)), (0, 1));
        assert!(withdraw(&b, 0)); // hole 0
        assert_eq!(arrive(&b), 0); // refilled
        assert_eq!(arrive(&b), 2);
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

//! `Condition`: a condition variable used with a caller-supplied `RLock` or `Lock`,
//! whose `notify` never waits for anybody (CPython's does: gh-75158).
//!
//! # Design: two groups of waiters and fungible wake tokens
//!
//! Every waiter registers (while it still holds the lock) into the *second group*
//! (G2, the newest arrivals). `notify(n)` hands out wake *tokens* to the *first
//! group* (G1) only; a waiter of G1 returns `MP_OK` by taking a token. When G1 has
//! no unsignalled member left and `notify` still has tokens to give, it *closes* G1
//! and G2 becomes the new G1 (a "group switch"). Every member of a closed group was
//! signalled (a group closes only when it has no unsignalled member), so a waiter
//! that finds its group closed simply returns `MP_OK`: the tokens of a closed group
//! need no bookkeeping, and whatever a dead waiter left behind disappears with it.
//!
//! This gives the contract (the header's documentation of `mp_cond_wait` and
//! `mp_cond_notify`):
//! * `notify(n)` signals `min(n, unsignalled waiters)` waiters, all registered
//!   before the call (a registration is one CAS on the same word), oldest group
//!   first; a waiter that registers afterwards joins G2 and cannot take a token of
//!   G1, nor is its group closed by a call that came before it.
//! * No notification is lost: a signalled waiter always returns `MP_OK`, also when
//!   its timeout expires or a signal handler runs at the same moment (`MP_OK` wins).
//! * A waiter that times out or is interrupted before being signalled *withdraws*
//!   (decrements its group's unsignalled count), so it never consumes a later
//!   notification.
//! * `notify` is one CAS plus, if it changed something, one `FUTEX_WAKE`: it never
//!   waits for an acknowledgement, so a waiter that died (even `SIGKILL`ed) cannot
//!   hang it. A dead waiter stays counted until its group closes; it absorbs at most
//!   one notification (exactly as if it had been woken and then died).
//!   `notify_all` closes both groups at once and forgets every dead waiter.
//!
//! Tokens are fungible inside G1: which G1 waiter takes a token does not matter,
//! only how many do.
//!
//! The two-group idea is that of glibc's condition variable (the design comment at
//! the top of glibc's `nptl/pthread_cond_wait.c`): waiters that arrived before a
//! signal are kept apart from later arrivals, so a signal cannot be stolen by a
//! newcomer. Unlike glibc's, a group switch here never waits for the old group's
//! waiters to leave, which is what lets a dead waiter never block a notifier.
//!
//! # State word (`state`, 64 bits)
//!
//! ```text
//! bits  0..16  T1  tokens handed to G1 and not yet taken (signalled, still inside wait)
//! bits 16..32  U1  unsignalled members of G1
//! bits 32..48  U2  members of G2 (never signalled)
//! bits 48..64  G   low 16 bits of G1's group number (G2's number is G1's + 1)
//! ```
//!
//! | U1 | T1 | U2 | meaning                                                           |
//! |----|----|----|-------------------------------------------------------------------|
//! | 0  | 0  | 0  | nobody waits (`notify` is one load)                               |
//! | 0  | 0  | >0 | G1 empty; the next `notify` switches groups, then hands out tokens|
//! | >0 | any| any| G1 members wait for tokens; `notify` serves them first            |
//! | 0  | >0 | any| all of G1 signalled, some not yet out of `wait`; the next `notify` |
//! |    |    |    | (if G2 is not empty) closes G1, and those waiters see it closed   |
//!
//! Transitions (all single CAS steps): register `U2+1`; notify `U1-k, T1+k`, or
//! switch `G+1, U1=U2, U2=0, T1=0`; notify_all `G+2, U1=T1=U2=0`; take `T1-1`;
//! withdraw `U1-1` or `U2-1` (or, if the waiter was already signalled, take `T1-1`).
//!
//! At most `MAX_WAITERS` (65535) threads can be registered at once (dead waiters
//! included until their group closes); one more gets `MP_EOVERFLOW`.
//!
//! # Full group numbers
//!
//! A waiter remembers the full 32-bit number of its group; `g1_hint` (a separate word,
//! moved forward after every switch, never past the true number) supplies the high
//! bits that the 16-bit `G` field lacks. The true number is never more than a few
//! in-flight switches ahead of `g1_hint`, so `g1_hint + (G - g1_hint) mod 2^16` recovers it, and
//! a waiter that slept (or was stopped) through any number of switches up to 2^31
//! still finds its group closed.
//!
//! # Futex word (`seq`)
//!
//! Waiters sleep on `seq`, which `notify` increments (after its CAS) whenever it
//! changed the state. A waiter reads `seq` before the state, so it either sees the
//! new state or sleeps on a stale `seq` value (and the kernel returns at once).
//!
//! Wake-ups are aimed with futex bitsets: a waiter sleeps with the mask
//! `1 << (group % 32)`, and `notify` wakes exactly as many sleepers of G1 as it handed
//! out tokens (plus every remaining member of a group it closes), so G2 members and
//! surplus G1 members sleep on — no thundering herd when many threads wait. A woken
//! waiter that finds no token (another G1 member, not yet asleep, took it first: tokens
//! are fungible) sleeps again; the token was still delivered to one waiter. Members of a
//! closed group are woken when it closes and never sleep again, and G1 and G2 have
//! different bits, so a targeted wake always reaches a member of the group it serves.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::header::{Header, Kind, Lifecycle};
use super::lock::RawLock;
use super::rlock::RawRLock;
use crate::status::{MpResult, Status};
use crate::sys::futex::{self, Wake};
use crate::sys::time::{Deadline, Timeout};

/// Most threads that can be registered in one group at once.
pub(crate) const MAX_WAITERS: u32 = 0xffff;

const FIELD: u64 = 0xffff;
const T1_SHIFT: u32 = 0;
const U1_SHIFT: u32 = 16;
const U2_SHIFT: u32 = 32;
const G_SHIFT: u32 = 48;

/// A snapshot is accepted only if `g1_hint` moved less than this between its two
/// reads around the state load (see [`RawCond::snapshot`]).
const GEN_SLACK: u32 = 1 << 14;

/// Unpacked state word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    t1: u32,
    u1: u32,
    u2: u32,
    g: u16,
}

impl State {
    #[inline]
    fn unpack(v: u64) -> State {
        State {
            t1: ((v >> T1_SHIFT) & FIELD) as u32,
            u1: ((v >> U1_SHIFT) & FIELD) as u32,
            u2: ((v >> U2_SHIFT) & FIELD) as u32,
            g: ((v >> G_SHIFT) & FIELD) as u16,
        }
    }

    #[inline]
    fn pack(self) -> u64 {
        (u64::from(self.t1) & FIELD) << T1_SHIFT
            | (u64::from(self.u1) & FIELD) << U1_SHIFT
            | (u64::from(self.u2) & FIELD) << U2_SHIFT
            | u64::from(self.g) << G_SHIFT
    }
}

/// Where a registered waiter stands, from its group number and the current G1's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    /// Its group was closed: it was signalled.
    Closed,
    /// It is in G1.
    First,
    /// It is in G2.
    Second,
}

/// The futex wait mask of a group's members (see "Futex word" above).
#[inline]
fn group_mask(group: u32) -> u32 {
    1 << (group % 32)
}

#[inline]
fn classify(g1: u32, mine: u32) -> Group {
    match g1.wrapping_sub(mine) as i32 {
        d if d >= 1 => Group::Closed,
        0 => Group::First,
        _ => Group::Second,
    }
}

/// What `notify(n)` does to a state (see [`notify_step`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NotifyStep {
    /// The state to install (with one CAS).
    state: State,
    /// Tokens handed to the current G1 without a switch: wake that many of it.
    wake_first: u32,
    /// The full number of the new G1 if the call closed G1 (a group switch).
    switched_to: Option<u32>,
    /// After a switch: members of the closed group are still inside `wait` (they hold
    /// untaken tokens or just got one): wake them all.
    wake_closed: bool,
    /// After a switch: tokens handed to the new G1: wake that many of it.
    wake_new: u32,
}

/// `notify(n)` as a pure state transition, for the CAS loop of
/// [`RawCond::notify`] and for the unit tests: from state `st` whose G1 has the full
/// number `g1`, hand out `min(n, U1)` tokens to G1; if tokens remain and G2 is not
/// empty, close G1 (G2 becomes G1, number `g1 + 1`) and hand the rest to it. `None`
/// if nobody waits (nothing to change, nobody to wake).
fn notify_step(st: State, g1: u32, n: u32) -> Option<NotifyStep> {
    if st.u1 == 0 && st.u2 == 0 {
        return None;
    }
    let first = n.min(st.u1);
    let mut s = State {
        u1: st.u1 - first,
        t1: st.t1 + first,
        ..st
    };
    let rem = n - first;
    if rem == 0 || s.u2 == 0 {
        return Some(NotifyStep {
            state: s,
            wake_first: first,
            switched_to: None,
            wake_closed: false,
            wake_new: 0,
        });
    }
    // G1 is fully signalled: close it; G2 becomes G1.
    let g_new = g1.wrapping_add(1);
    let second = rem.min(s.u2);
    let closed_inside = s.t1;
    s = State {
        t1: second,
        u1: s.u2 - second,
        u2: 0,
        g: g_new as u16,
    };
    Some(NotifyStep {
        state: s,
        wake_first: 0,
        switched_to: Some(g_new),
        wake_closed: closed_inside > 0,
        wake_new: second,
    })
}

/// Shared layout (64 bytes, 8-aligned):
///
/// ```text
/// +0   header   (8)
/// +8   state    u64  see the module documentation
/// +16  seq      u32  futex word: bumped by every notify that changed `state`
/// +20  g1_hint  u32  full number of G1, possibly a few switches behind
/// +24  reserved (40)
/// ```
#[repr(C)]
pub(crate) struct RawCond {
    header: Header,
    state: AtomicU64,
    seq: AtomicU32,
    g1_hint: AtomicU32,
    _reserved: [u32; 10],
}

published_layout!(RawCond, size = 64, align = 8);

/// A lock that a condition can wait with: released (all recursion levels) once the
/// waiter is registered, re-acquired before `wait` returns.
pub(crate) trait WaitLock {
    /// `Err(NotOwner)` if the caller may not wait with this lock (it does not own
    /// the RLock, or the Lock is not locked).
    fn check_held(&self) -> MpResult<()>;
    /// Releases the lock completely; returns what [`reacquire`](Self::reacquire)
    /// needs (the recursion level). `Err(NotOwner)` if it turned out not to be held.
    fn release_for_wait(&self) -> MpResult<u32>;
    /// Re-acquires (no timeout; retried after a signal handler ran): `Ok`, or
    /// `OwnerDead` if the previous owner died holding it.
    fn reacquire(&self, levels: u32) -> Status;
}

impl WaitLock for RawRLock {
    fn check_held(&self) -> MpResult<()> {
        if self.count() == 0 {
            Err(Status::NotOwner)
        } else {
            Ok(())
        }
    }

    fn release_for_wait(&self) -> MpResult<u32> {
        self.release_all()
    }

    fn reacquire(&self, levels: u32) -> Status {
        loop {
            match self.acquire_levels(levels, &Deadline::Never) {
                Status::Intr => {}
                other => return other,
            }
        }
    }
}

/// A `Lock` has no owner: "held" can only mean "locked" (CPython's Condition asserts
/// `_is_owned`, which for a Lock is the same test).
impl WaitLock for RawLock {
    fn check_held(&self) -> MpResult<()> {
        if self.is_locked() {
            Ok(())
        } else {
            Err(Status::NotOwner)
        }
    }

    fn release_for_wait(&self) -> MpResult<u32> {
        match self.release() {
            Status::Ok => Ok(1),
            // Someone else released it between our check and now.
            _ => Err(Status::NotOwner),
        }
    }

    fn reacquire(&self, _levels: u32) -> Status {
        loop {
            match self.acquire(Timeout::FOREVER) {
                Status::Intr => {}
                other => return other,
            }
        }
    }
}

impl RawCond {
    /// Initialises (nobody waiting) and publishes.
    pub(crate) fn init(&self, lifecycle: Lifecycle) {
        self.state.store(0, Ordering::Relaxed);
        self.seq.store(0, Ordering::Relaxed);
        self.g1_hint.store(0, Ordering::Relaxed);
        self.header.publish(Kind::Cond, lifecycle);
    }

    /// The object header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// Reads the state and the full number of G1.
    ///
    /// `g1_hint` never runs ahead of the true number and lags it only by switches whose
    /// notifier has not yet moved `g1_hint` (a handful at most), so reading `g1_hint` before
    /// the state and checking that it moved less than `GEN_SLACK` by a re-read after
    /// bounds the true number to `[h1, h1 + 2^16)`: the low 16 bits then pick it.
    #[inline]
    fn snapshot(&self) -> (u64, State, u32) {
        loop {
            let h1 = self.g1_hint.load(Ordering::Acquire);
            let raw = self.state.load(Ordering::Acquire);
            let h2 = self.g1_hint.load(Ordering::Acquire);
            if h2.wrapping_sub(h1) < GEN_SLACK {
                let st = State::unpack(raw);
                let g1 = h1.wrapping_add(u32::from(st.g.wrapping_sub(h1 as u16)));
                return (raw, st, g1);
            }
        }
    }

    #[inline]
    fn cas(&self, old: u64, new: State) -> bool {
        self.state
            .compare_exchange(old, new.pack(), Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Moves `g1_hint` forward to `target` (wrapping comparison; never backwards).
    fn advance_gen(&self, target: u32) {
        let mut cur = self.g1_hint.load(Ordering::Relaxed);
        while (target.wrapping_sub(cur) as i32) > 0 {
            match self.g1_hint.compare_exchange_weak(
                cur,
                target,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// Publishes a state change to sleepers and wakes every one of them.
    #[inline]
    fn wake_all(&self) {
        self.seq.fetch_add(1, Ordering::Release);
        futex::wake_all(&self.seq);
    }

    /// Publishes a state change, then wakes `n` sleepers of group `group` (or all of
    /// them for `u32::MAX`).
    fn wake_group(&self, group: u32, n: u32) {
        self.seq.fetch_add(1, Ordering::Release);
        if n > 0 {
            futex::wake_bitset(&self.seq, n, group_mask(group));
        }
    }

    /// Registers the caller in G2; returns its group number.
    pub(crate) fn register(&self) -> MpResult<u32> {
        loop {
            let (raw, st, g1) = self.snapshot();
            if st.u2 >= MAX_WAITERS {
                return Err(Status::Overflow);
            }
            if self.cas(
                raw,
                State {
                    u2: st.u2 + 1,
                    ..st
                },
            ) {
                return Ok(g1.wrapping_add(1));
            }
        }
    }

    /// Sleeps until signalled (`Ok`), the deadline (`Timeout`) or a signal handler
    /// (`Intr`); a waiter that was signalled returns `Ok` whatever else happened.
    pub(crate) fn await_signal(&self, mine: u32, deadline: &Deadline) -> Status {
        loop {
            // `seq` before the state: a notify after our state read changes `seq`.
            let seq = self.seq.load(Ordering::Acquire);
            let (raw, st, g1) = self.snapshot();
            match classify(g1, mine) {
                Group::Closed => return Status::Ok,
                Group::First if st.t1 > 0 => {
                    if self.cas(
                        raw,
                        State {
                            t1: st.t1 - 1,
                            ..st
                        },
                    ) {
                        return Status::Ok;
                    }
                    continue;
                }
                _ => {}
            }
            match futex::wait_bitset(&self.seq, seq, deadline, group_mask(mine)) {
                Wake::Retry => {}
                Wake::TimedOut => return self.withdraw(mine, Status::Timeout),
                Wake::Interrupted => return self.withdraw(mine, Status::Intr),
            }
        }
    }

    /// Leaves the condition without a notification if possible (returns `why`);
    /// returns `Ok` if the caller had been signalled meanwhile (its token is taken,
    /// so the notification is not lost: it was delivered to this caller).
    pub(crate) fn withdraw(&self, mine: u32, why: Status) -> Status {
        loop {
            let (raw, st, g1) = self.snapshot();
            let (new, result) = match classify(g1, mine) {
                Group::Closed => return Status::Ok,
                // Not yet signalled (some G1 member is not): leave without a token.
                Group::First if st.u1 > 0 => (
                    State {
                        u1: st.u1 - 1,
                        ..st
                    },
                    why,
                ),
                // Every G1 member is signalled, so this one is: take its token.
                Group::First if st.t1 > 0 => (
                    State {
                        t1: st.t1 - 1,
                        ..st
                    },
                    Status::Ok,
                ),
                Group::Second if st.u2 > 0 => (
                    State {
                        u2: st.u2 - 1,
                        ..st
                    },
                    why,
                ),
                // Counts that cannot describe a registered waiter (the memory was
                // re-initialised under us): nothing to undo.
                _ => return why,
            };
            if self.cas(raw, new) {
                return result;
            }
        }
    }

    /// `Condition.wait`: registers, releases `lock` completely, waits for a
    /// notification, the deadline or a signal handler, then re-acquires `lock`
    /// (restoring its recursion level) and returns `Ok` (notified), `Timeout` or
    /// `Intr`. `OwnerDead` (the re-acquire found the owner dead) takes precedence
    /// over all three. `NotOwner` if the caller may not wait with `lock`;
    /// `Overflow` if `MAX_WAITERS` threads already wait (nothing changed then).
    pub(crate) fn wait<L: WaitLock>(&self, lock: &L, deadline: &Deadline) -> Status {
        if let Err(e) = lock.check_held() {
            return e;
        }
        let mine = match self.register() {
            Ok(g) => g,
            Err(e) => return e,
        };
        let levels = match lock.release_for_wait() {
            Ok(levels) => levels,
            Err(e) => {
                // Lost the lock to a concurrent (misused) release: undo, and pass on
                // a notification that reached us in between.
                if self.withdraw(mine, Status::Intr) == Status::Ok {
                    self.notify(1);
                }
                return e;
            }
        };
        let outcome = self.await_signal(mine, deadline);
        match lock.reacquire(levels) {
            Status::Ok => outcome,
            other => other,
        }
    }

    /// Wakes up to `n` of the threads waiting now (the oldest group first). Never
    /// blocks.
    #[inline]
    pub(crate) fn notify(&self, n: u32) {
        let st = State::unpack(self.state.load(Ordering::Acquire));
        if n == 0 || (st.u1 == 0 && st.u2 == 0) {
            return;
        }
        self.notify_slow(n);
    }

    #[cold]
    fn notify_slow(&self, n: u32) {
        loop {
            let (raw, st, g1) = self.snapshot();
            let Some(step) = notify_step(st, g1, n) else {
                return;
            };
            if self.cas(raw, step.state) {
                match step.switched_to {
                    Some(g_new) => {
                        self.advance_gen(g_new);
                        // Members of the closed group still inside `wait` (those
                        // holding untaken tokens) return Ok: wake them all, if there
                        // are any; then as many of the new G1 as got tokens.
                        self.wake_group(g1, if step.wake_closed { u32::MAX } else { 0 });
                        futex::wake_bitset(&self.seq, step.wake_new, group_mask(g_new));
                    }
                    None => self.wake_group(g1, step.wake_first),
                }
                return;
            }
        }
    }

    /// Wakes every thread waiting now: closes both groups. Never blocks. Also
    /// forgets waiters that died inside `wait`.
    pub(crate) fn notify_all(&self) {
        if self.state.load(Ordering::Acquire) & !(FIELD << G_SHIFT) == 0 {
            return;
        }
        loop {
            let (raw, st, g1) = self.snapshot();
            if st.u1 == 0 && st.u2 == 0 && st.t1 == 0 {
                return;
            }
            let g_new = g1.wrapping_add(2);
            let closed = State {
                t1: 0,
                u1: 0,
                u2: 0,
                g: g_new as u16,
            };
            if self.cas(raw, closed) {
                self.advance_gen(g_new);
                self.wake_all();
                return;
            }
        }
    }

    /// Threads registered and not yet out of `wait` (dead ones included until their
    /// group closes).
    pub(crate) fn waiters(&self) -> u32 {
        let st = State::unpack(self.state.load(Ordering::Acquire));
        st.u1 + st.t1 + st.u2
    }

    /// Threads waiting for a notification: registered and neither signalled nor
    /// withdrawn (`U1 + U2`). Unlike [`RawCond::waiters`] it leaves out signalled
    /// waiters still on their way out of `wait`, as CPython's count of sleepers minus
    /// woken does once `notify` returns. A dead waiter counts until a notify picks
    /// it or its group closes.
    pub(crate) fn n_waiting(&self) -> u32 {
        let st = State::unpack(self.state.load(Ordering::Acquire));
        st.u1 + st.u2
    }

    /// Ends an in-place condition: `Busy` while threads wait on it.
    pub(crate) fn destroy(&self) -> Status {
        if self.waiters() != 0 {
            return Status::Busy;
        }
        self.header.retire();
        Status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::test_util::{fresh, on_threads, rounds, wait_until};
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::{Duration, Instant};

    fn new_cond() -> Arc<RawCond> {
        fresh(|c: &RawCond| c.init(Lifecycle::InPlace))
    }

    fn new_rlock() -> Arc<RawRLock> {
        fresh(|l: &RawRLock| l.init(Lifecycle::InPlace))
    }

    fn new_lock() -> Arc<RawLock> {
        fresh(|l: &RawLock| l.init(Lifecycle::InPlace))
    }

    #[test]
    fn layout_and_packing() {
        assert_eq!(core::mem::size_of::<RawCond>(), 64);
        let s = State {
            t1: 0xffff,
            u1: 3,
            u2: 0xfffe,
            g: 0xabcd,
        };
        assert_eq!(State::unpack(s.pack()), s);
        assert_eq!(classify(5, 4), Group::Closed);
        assert_eq!(classify(5, 5), Group::First);
        assert_eq!(classify(5, 6), Group::Second);
        assert_eq!(classify(0, u32::MAX), Group::Closed);
        assert_eq!(classify(u32::MAX, 0), Group::Second);
    }

    fn st(t1: u32, u1: u32, u2: u32, g: u16) -> State {
        State { t1, u1, u2, g }
    }

    /// `notify` as a pure transition: every case of the state table.
    #[test]
    fn notify_step_covers_the_state_table() {
        // Nobody waits (tokens of signalled waiters not yet out do not count).
        assert_eq!(notify_step(st(0, 0, 0, 5), 5, 1), None);
        assert_eq!(notify_step(st(3, 0, 0, 5), 5, 9), None);
        // G1 members wait: served first, no switch even if G2 is not empty.
        let s = notify_step(st(0, 3, 2, 5), 5, 2).unwrap();
        assert_eq!(
            (s.state, s.wake_first, s.switched_to),
            (st(2, 1, 2, 5), 2, None)
        );
        // n = 0 with waiters: no change (the caller's fast path never gets here).
        let s = notify_step(st(0, 3, 2, 5), 5, 0).unwrap();
        assert_eq!(
            (s.state, s.wake_first, s.switched_to),
            (st(0, 3, 2, 5), 0, None)
        );
        // G1 empty, G2 not: switch, the new G1 gets the tokens; nobody of the old
        // group is inside, so it needs no wake.
        let s = notify_step(st(0, 0, 3, 5), 5, 1).unwrap();
        assert_eq!(s.state, st(1, 2, 0, 6));
        assert_eq!(
            (s.switched_to, s.wake_closed, s.wake_new),
            (Some(6), false, 1)
        );
        // G1 fully signalled (tokens untaken) and G2 waiting: close G1 (wake its
        // members still inside), serve G2.
        let s = notify_step(st(2, 0, 1, 5), 5, 1).unwrap();
        assert_eq!(s.state, st(1, 0, 0, 6));
        assert_eq!(
            (s.switched_to, s.wake_closed, s.wake_new),
            (Some(6), true, 1)
        );
        // Tokens for both groups in one call: the rest of G1, then G2.
        let s = notify_step(st(0, 1, 4, 5), 5, 3).unwrap();
        assert_eq!(s.state, st(2, 2, 0, 6));
        assert_eq!(
            (s.switched_to, s.wake_closed, s.wake_new),
            (Some(6), true, 2)
        );
        // More tokens than waiters: everyone signalled, the rest is dropped.
        let s = notify_step(st(0, 1, 2, 0xffff), 0x1_ffff, 10).unwrap();
        assert_eq!(s.state, st(2, 0, 0, 0));
        assert_eq!(s.switched_to, Some(0x2_0000));
        // Only the G1 tokens of a group that stays open: G2 sleeps on.
        let s = notify_step(st(1, 2, 0, 5), 5, 5).unwrap();
        assert_eq!(
            (s.state, s.wake_first, s.switched_to),
            (st(3, 0, 0, 5), 2, None)
        );
    }

    /// The state machine without threads: registrations, notify counts, groups.
    #[test]
    fn tokens_and_groups() {
        let c = new_cond();
        let a = c.register().unwrap();
        let b = c.register().unwrap();
        assert_eq!((c.waiters(), c.n_waiting()), (2, 2));
        c.notify(1); // switch: {a, b} become G1, one token
        let st = State::unpack(c.state.load(Ordering::Relaxed));
        assert_eq!((st.u1, st.t1, st.u2), (1, 1, 0));
        // The signalled one is still inside `wait` but no longer waits for a notify.
        assert_eq!((c.waiters(), c.n_waiting()), (2, 1));
        // A late arrival cannot take G1's token...
        let late = c.register().unwrap();
        assert_eq!((c.waiters(), c.n_waiting()), (3, 2));
        assert_eq!(c.await_signal(late, &Deadline::Now), Status::Timeout);
        // ...but either of a, b can; the other then has none.
        assert_eq!(c.await_signal(b, &Deadline::Now), Status::Ok);
        assert_eq!(c.await_signal(a, &Deadline::Now), Status::Timeout);
        assert_eq!((c.waiters(), c.n_waiting()), (0, 0));
        // a withdrew (U1-1), late withdrew (U2-1): notify finds nobody.
        c.notify(5);
        assert_eq!(c.state.load(Ordering::Relaxed) & !(FIELD << G_SHIFT), 0);
    }

    #[test]
    fn closed_group_means_signalled() {
        let c = new_cond();
        let a = c.register().unwrap();
        c.notify(1); // a in G1 with a token
        let b = c.register().unwrap();
        c.notify(1); // G1 has no unsignalled member: close it; b's group gets the token
        assert_eq!(c.await_signal(a, &Deadline::Now), Status::Ok); // closed
        assert_eq!(c.await_signal(b, &Deadline::Now), Status::Ok); // token
        assert_eq!(c.waiters(), 0);
        // Withdrawing after being signalled reports the notification.
        let d = c.register().unwrap();
        c.notify(1);
        assert_eq!(c.withdraw(d, Status::Timeout), Status::Ok);
        assert_eq!(c.waiters(), 0);
    }

    #[test]
    fn notify_all_forgets_dead_waiters() {
        let c = new_cond();
        // Two "dead" waiters that will never take anything.
        c.register().unwrap();
        c.register().unwrap();
        c.notify(1);
        c.register().unwrap();
        assert_eq!(c.waiters(), 3);
        assert_eq!(c.destroy(), Status::Busy);
        c.notify_all();
        assert_eq!(c.waiters(), 0);
        assert_eq!(c.destroy(), Status::Ok);
    }

    #[test]
    #[cfg_attr(miri, ignore = "210,000 CAS loops: too slow under Miri")]
    fn group_numbers_survive_wrapping_of_the_low_bits() {
        let c = new_cond();
        let old = c.register().unwrap();
        c.notify(1); // old is in G1 with a token it does not take
        // 70000 more switches while `old` sleeps (more than 2^16).
        for _ in 0..70_000 {
            c.register().unwrap();
            c.notify(1); // closes the previous group, signals the new one
            c.notify_all();
        }
        assert_eq!(c.await_signal(old, &Deadline::Now), Status::Ok);
        let fresh = c.register().unwrap();
        assert_eq!(c.await_signal(fresh, &Deadline::Now), Status::Timeout);
    }

    #[test]
    fn overflow_is_reported() {
        let c = new_cond();
        c.state.store(
            State {
                t1: 0,
                u1: 0,
                u2: MAX_WAITERS,
                g: 0,
            }
            .pack(),
            Ordering::Relaxed,
        );
        assert_eq!(c.register(), Err(Status::Overflow));
    }

    #[test]
    fn wait_requires_the_lock_and_restores_levels() {
        let c = new_cond();
        let l = new_rlock();
        assert_eq!(c.wait(&*l, &Deadline::Now), Status::NotOwner);
        for _ in 0..3 {
            assert_eq!(l.acquire(Timeout::FOREVER), Status::Ok);
        }
        assert_eq!(
            c.wait(&*l, &Deadline::from_timeout(true, 20)),
            Status::Timeout
        );
        assert_eq!(l.count(), 3);
        assert_eq!(l.release_all(), Ok(3));
        let k = new_lock();
        assert_eq!(c.wait(&*k, &Deadline::Now), Status::NotOwner);
        assert_eq!(k.acquire(Timeout::FOREVER), Status::Ok);
        let t0 = Instant::now();
        assert_eq!(
            c.wait(&*k, &Deadline::from_timeout(true, 30)),
            Status::Timeout
        );
        assert!(t0.elapsed() >= Duration::from_millis(30));
        assert!(k.is_locked());
        assert_eq!(c.waiters(), 0);
    }

    /// notify(n) with threads: exactly n wake, later arrivals are not woken.
    #[test]
    fn notify_counts_with_threads() {
        let c = new_cond();
        let l = new_rlock();
        let woken = Arc::new(AtomicUsize::new(0));
        let ready = Arc::new(AtomicUsize::new(0));
        let ts: Vec<_> = (0..6)
            .map(|_| {
                let (c, l, woken, ready) = (c.clone(), l.clone(), woken.clone(), ready.clone());
                std::thread::spawn(move || {
                    assert_eq!(l.acquire(Timeout::FOREVER), Status::Ok);
                    ready.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(
                        c.wait(&*l, &Deadline::from_timeout(true, 30_000)),
                        Status::Ok
                    );
                    woken.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(l.release(), Status::Ok);
                })
            })
            .collect();
        // Once we hold the lock with ready == 6, all six are registered.
        loop {
            assert_eq!(l.acquire(Timeout::FOREVER), Status::Ok);
            if ready.load(Ordering::SeqCst) == 6 {
                break;
            }
            assert_eq!(l.release(), Status::Ok);
            std::thread::sleep(Duration::from_millis(1));
        }
        c.notify(2);
        assert_eq!(l.release(), Status::Ok);
        wait_until(|| woken.load(Ordering::SeqCst) == 2);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(woken.load(Ordering::SeqCst), 2);
        c.notify(4);
        wait_until(|| woken.load(Ordering::SeqCst) == 6);
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(c.waiters(), 0);
    }

    /// Producer/consumer with a Lock and two conditions: nothing lost, nothing
    /// duplicated, no hang (a lost wake-up would hang it).
    #[test]
    fn bounded_buffer_with_threads() {
        const CAP: usize = 4;
        let n: u64 = if cfg!(miri) { 100 } else { 20_000 };
        struct Shared {
            lock: Arc<RawLock>,
            not_full: Arc<RawCond>,
            not_empty: Arc<RawCond>,
            buf: std::sync::Mutex<std::collections::VecDeque<u64>>,
        }
        let s = Arc::new(Shared {
            lock: new_lock(),
            not_full: new_cond(),
            not_empty: new_cond(),
            buf: std::sync::Mutex::new(Default::default()),
        });
        let sum = Arc::new(AtomicU64::new(0));
        let mut ts = Vec::new();
        for p in 0..3u64 {
            let s = s.clone();
            ts.push(std::thread::spawn(move || {
                for i in (p..n).step_by(3) {
                    assert_eq!(s.lock.acquire(Timeout::FOREVER), Status::Ok);
                    while s.buf.lock().unwrap().len() == CAP {
                        assert_eq!(s.not_full.wait(&*s.lock, &Deadline::Never), Status::Ok);
                    }
                    s.buf.lock().unwrap().push_back(i);
                    s.not_empty.notify(1);
                    assert_eq!(s.lock.release(), Status::Ok);
                }
            }));
        }
        let per = n / 3;
        for c in 0..3u64 {
            let (s, sum) = (s.clone(), sum.clone());
            let count = if c == 2 { n - 2 * per } else { per };
            ts.push(std::thread::spawn(move || {
                for _ in 0..count {
                    assert_eq!(s.lock.acquire(Timeout::FOREVER), Status::Ok);
                    let v = loop {
                        if let Some(v) = s.buf.lock().unwrap().pop_front() {
                            break v;
                        }
                        assert_eq!(s.not_empty.wait(&*s.lock, &Deadline::Never), Status::Ok);
                    };
                    s.not_full.notify(1);
                    assert_eq!(s.lock.release(), Status::Ok);
                    sum.fetch_add(v, Ordering::Relaxed);
                }
            }));
        }
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(sum.load(Ordering::Relaxed), n * (n - 1) / 2);
        assert_eq!(s.not_full.waiters() + s.not_empty.waiters(), 0);
    }

    /// Random timeouts, notifies and notify_alls from many threads: the counters
    /// always return to zero, and every thread gets out.
    #[test]
    fn timeouts_and_notifies_keep_counts_consistent() {
        let c = new_cond();
        let l = new_rlock();
        on_threads(4, rounds(2_000, 10), |t, i| {
            assert_eq!(l.acquire(Timeout::FOREVER), Status::Ok);
            match (i as usize + t) % 4 {
                0 => c.notify(1),
                1 => c.notify_all(),
                _ => {
                    let r = c.wait(&*l, &Deadline::from_timeout(true, 1));
                    assert!(r == Status::Ok || r == Status::Timeout, "{r:?}");
                }
            }
            assert_eq!(l.release(), Status::Ok);
        });
        assert_eq!(c.waiters(), 0);
    }
}

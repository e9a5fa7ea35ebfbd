//! `RLock`: a recursive lock owned by one thread of one process, whose owner's death
//! is detected by the kernel (robust futex list) and, as a back-stop, by a liveness
//! check of the recorded owner.
//!
//! The lock word uses the kernel's robust-futex format so that the kernel can mark it
//! when the owner dies. "Is it mine?" never compares TIDs (they collide across PID
//! namespaces and are reused): it compares a 64-bit random per-thread token, which a
//! `fork()`ed child does not inherit.

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::header::{Header, Kind, Lifecycle};
use super::spin::spin_while;
use crate::status::{MpResult, Status};
use crate::sys::futex::{self, Wake};
use crate::sys::robust;
use crate::sys::thread::{self, ThreadCtx};
use crate::sys::time::{Deadline, Timeout};

/// Set by a waiter before it sleeps; the releaser must `FUTEX_WAKE` one.
pub const FUTEX_WAITERS: u32 = 0x8000_0000;
/// Set by the kernel (or the back-stop) when the owner died holding the lock.
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
/// Owner TID (in the owner's PID namespace).
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

/// Object flag: participants in different PID namespaces were seen. Their TIDs may
/// collide, so the lock is marked pending in a robust list only while owned (see
/// `Robust`), and the `/proc` back-stop is off for this object.
const FLAG_NON_ROBUST: u32 = 1;

/// How long a waiter sleeps before it looks at the recorded owner (the back-stop
/// for cases the kernel misses). Only blocked waiters pay for it.
const BACKSTOP_INTERVAL_MS: i64 = 250;

/// Shared layout (64 bytes, 8-aligned). The node offsets are fixed by glibc's robust
/// list (`futex_offset == -32`): `prev` at word+24, `next` at word+32.
///
/// ```text
/// +0   header       (8)
/// +8   word         u32   robust futex word, see the table below
/// +12  count        u32   recursion level (written by the owner only)
/// +16  owner_token  u64   owner thread's token; 0 when free (written by the owner only)
/// +24  owner_ids    u64   owner's pid << 32 | tid: back-stop data, written by the
///                         owner right after acquiring (after owner_start), 0 after release
/// +32  list_prev    usize robust-list back-link (word+24), owner's address space
/// +40  list_next    usize robust-list node      (word+32); 0 = not linked
/// +48  owner_start  u64   owner thread's start time (clock ticks since boot)
/// +56  ns_flags     u64   low 32 bits: creator's PID-namespace id (folded), never 0 if
///                         known; high 32 bits: flags (FLAG_NON_ROBUST). One word, so
///                         "same namespace and no flag" is one load and one compare.
/// ```
///
/// Word states (`W` = `FUTEX_WAITERS`, `D` = `FUTEX_OWNER_DIED`):
///
/// | TID | W | D | meaning                                                               |
/// |-----|---|---|-----------------------------------------------------------------------|
/// | 0   | 0 | 0 | free                                                                  |
/// | t   | 0 | 0 | held by thread t, nobody sleeps: release needs no wake                 |
/// | t   | 1 | 0 | held by t, sleepers may exist: release wakes one                      |
/// | 0   | x | 1 | owner died (kernel or back-stop marked it): next acquirer gets it with |
/// |     |   |   | `OwnerDead`, keeping W so that its release wakes the next sleeper      |
/// | 0   | 1 | 0 | free, a sleeper was just woken (or left after a timeout)               |
///
/// A thread that acquires after sleeping keeps `W` set (it cannot know whether other
/// sleepers remain; glibc BZ #20973). Release is a single `swap(0)` so that a death
/// at any instruction leaves either our TID (the kernel cleans up) or 0.
#[repr(C)]
pub struct RawRLock {
    header: Header,
    word: AtomicU32,
    count: AtomicU32,
    owner_token: AtomicU64,
    owner_ids: AtomicU64,
    list_prev: AtomicUsize,
    list_next: AtomicUsize,
    owner_start: AtomicU64,
    ns_flags: AtomicU64,
}

/// How this acquisition uses the calling thread's robust list: the list head (or null:
/// do not link the lock), with bit 0 set when `list_op_pending` may name this lock while
/// we do not own it (before the CAS and while sleeping, as glibc does). That is allowed
/// only while every participant shares our PID namespace: across namespaces a dying
/// *waiter* whose TID collides with the owner's would make the kernel mark the live
/// owner's lock (research t11), so there the lock is marked pending only while owned.
/// (One register, not a pair: it keeps the uncontended path free of a stack frame.)
#[derive(Clone, Copy)]
struct Robust(usize);

impl Robust {
    const NONE: Robust = Robust(0);
    const PENDING_WHILE_WAITING: usize = 1;

    #[inline]
    fn new(head: *mut crate::sys::futex::RobustListHead, pending_while_waiting: bool) -> Robust {
        Robust(head as usize | usize::from(pending_while_waiting))
    }

    /// The thread's robust-list head, or null.
    #[inline]
    fn head(self) -> *mut crate::sys::futex::RobustListHead {
        (self.0 & !Self::PENDING_WHILE_WAITING) as *mut _
    }

    #[inline]
    fn pending_while_waiting(self) -> bool {
        self.0 & Self::PENDING_WHILE_WAITING != 0
    }

    /// Marks the node pending (we are about to own it, or we own it).
    #[inline]
    fn set_pending(self, node: &AtomicUsize) {
        if !self.head().is_null() {
            // SAFETY: `head` is the calling thread's live head (thread::current).
            unsafe { robust::set_pending(self.head(), node) };
        }
    }

    /// Clears the pending mark.
    #[inline]
    fn clear_pending(self) {
        if !self.head().is_null() {
            // SAFETY: `head` is the calling thread's live head.
            unsafe { robust::clear_pending(self.head()) };
        }
    }
}

impl RawRLock {
    /// Initialises (free) and publishes, recording the caller's PID namespace.
    pub fn init(&self, lifecycle: Lifecycle) {
        let me = thread::current();
        self.word.store(0, Ordering::Relaxed);
        self.count.store(0, Ordering::Relaxed);
        self.owner_token.store(0, Ordering::Relaxed);
        self.owner_ids.store(0, Ordering::Relaxed);
        self.list_prev.store(0, Ordering::Relaxed);
        self.list_next.store(0, Ordering::Relaxed);
        self.owner_start.store(0, Ordering::Relaxed);
        self.ns_flags.store(u64::from(me.pidns), Ordering::Relaxed);
        self.header.publish(Kind::RLock, lifecycle);
    }

    /// The object header.
    #[inline]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// How `me` may use its robust list for this lock. The first participant from
    /// another PID namespace sets `FLAG_NON_ROBUST` for everyone: from then on owners
    /// still link the lock (the kernel compares a dying owner's TID in the owner's own
    /// namespace, so its death is still reported), but nobody marks it pending while
    /// not owning it, and the `/proc` back-stop is off (other namespaces' ids cannot be
    /// read).
    #[inline]
    fn robust_for(&self, me: &ThreadCtx) -> Robust {
        if me.robust_head.is_null() {
            return Robust::NONE;
        }
        // Same namespace as the creator (known, non-zero) and nobody from another one
        // seen yet: one compare against "our namespace id, no flags".
        let same_ns = me.pidns != 0 && self.ns_flags.load(Ordering::Relaxed) == u64::from(me.pidns);
        if !same_ns {
            self.mark_cross_namespace();
        }
        Robust::new(me.robust_head, same_ns)
    }

    /// Records that participants from different (or unknown) PID namespaces use the lock.
    #[cold]
    fn mark_cross_namespace(&self) {
        self.ns_flags
            .fetch_or(u64::from(FLAG_NON_ROBUST) << 32, Ordering::Relaxed);
    }

    /// True once `mark_cross_namespace` ran (by any participant).
    #[inline]
    fn is_cross_namespace(&self) -> bool {
        (self.ns_flags.load(Ordering::Relaxed) >> 32) as u32 & FLAG_NON_ROBUST != 0
    }

    /// Acquires (or re-enters): `Ok`, `OwnerDead` (acquired; the previous owner died
    /// holding it), `Timeout`, `Intr` (nothing acquired), `Overflow` (recursion limit).
    #[inline]
    pub fn acquire(&self, timeout: Timeout) -> Status {
        let me = thread::current();
        match self.try_acquire_fast(me, 1) {
            Ok(()) => Status::Ok,
            Err(robust) => self.acquire_slow_timeout(me, robust, timeout),
        }
    }

    /// The uncontended path, one CAS: marks the node pending (so a death right after
    /// the CAS is still seen by the kernel), takes a free word, and records ownership
    /// with `levels`. On failure, returns the robust head for the slow path (the pending
    /// mark stays set while it waits, as glibc does).
    #[inline]
    fn try_acquire_fast(&self, me: &ThreadCtx, levels: u32) -> Result<(), Robust> {
        let robust = self.robust_for(me);
        if robust.pending_while_waiting() {
            robust.set_pending(&self.list_next);
        }
        if self
            .word
            .compare_exchange(0, me.tid, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.on_acquired(me, robust, levels);
            return Ok(());
        }
        Err(robust)
    }

    /// Out of line so that the fast path stays a leaf function without a stack frame
    /// (the deadline lives in this frame, not the caller's).
    #[cold]
    #[inline(never)]
    fn acquire_slow_timeout(&self, me: &ThreadCtx, robust: Robust, timeout: Timeout) -> Status {
        self.acquire_slow(me, robust, &timeout.deadline(), 1)
    }

    /// Clears `list_op_pending` when leaving acquire without the lock.
    #[inline]
    fn leave(&self, robust: Robust) {
        if robust.pending_while_waiting() {
            robust.clear_pending();
        }
    }

    /// Records ownership after the word was taken (we are the owner from here on).
    #[inline]
    fn on_acquired(&self, me: &ThreadCtx, robust: Robust, count: u32) {
        self.owner_token.store(me.token, Ordering::Relaxed);
        self.count.store(count, Ordering::Relaxed);
        // Start time before ids (Release): a back-stop that reads our ids (Acquire)
        // also reads our start time, never a previous owner's.
        self.owner_start.store(me.start_time, Ordering::Relaxed);
        self.owner_ids.store(
            (u64::from(me.pid) << 32) | u64::from(me.tid),
            Ordering::Release,
        );
        if robust.head().is_null() {
            // A dead previous owner may have left its (foreign) node pointers here.
            self.list_next.store(0, Ordering::Relaxed);
        } else {
            if !robust.pending_while_waiting() {
                // We own it now: cover the enqueue (a death between the CAS and this
                // store is the one window left uncovered across namespaces).
                robust.set_pending(&self.list_next);
            }
            // SAFETY: we own the lock, so nobody else touches the node; `robust.head`
            // is this thread's live head and `list_prev` is the 8 bytes before
            // `list_next`.
            unsafe { robust::enqueue(robust.head(), &self.list_prev, &self.list_next) };
            robust.clear_pending();
        }
    }

    #[cold]
    fn acquire_slow(
        &self,
        me: &ThreadCtx,
        mut robust: Robust,
        deadline: &Deadline,
        count: u32,
    ) -> Status {
        if self.owner_token.load(Ordering::Relaxed) == me.token {
            self.leave(robust);
            let c = self.count.load(Ordering::Relaxed);
            if c == u32::MAX {
                return Status::Overflow;
            }
            self.count.store(c + 1, Ordering::Relaxed);
            return Status::Ok;
        }
        let mut keep_waiters = 0;
        if !deadline.is_now() {
            self.spin();
        }
        loop {
            let v = self.word.load(Ordering::Relaxed);
            if v & FUTEX_TID_MASK == 0 {
                // Free, or its owner died: take it, keeping W (and adding it if we
                // slept), clearing D.
                let new = me.tid | (v & FUTEX_WAITERS) | keep_waiters;
                if self
                    .word
                    .compare_exchange(v, new, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    self.on_acquired(me, robust, count);
                    return if v & FUTEX_OWNER_DIED != 0 {
                        Status::OwnerDead
                    } else {
                        Status::Ok
                    };
                }
                continue;
            }
            if deadline.is_now() {
                self.leave(robust);
                return Status::Timeout;
            }
            // Make sure the owner will wake us, then sleep.
            if v & FUTEX_WAITERS == 0
                && self
                    .word
                    .compare_exchange(v, v | FUTEX_WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            keep_waiters = FUTEX_WAITERS;
            if robust.pending_while_waiting() && self.is_cross_namespace() {
                // Another namespace joined since we started: stop naming the lock
                // pending while we only wait for it.
                robust.clear_pending();
                robust = Robust::new(robust.head(), false);
            }
            let held = v | FUTEX_WAITERS;
            match futex::wait(&self.word, held, &deadline.capped_ms(BACKSTOP_INTERVAL_MS)) {
                Wake::Retry => {}
                Wake::Interrupted => {
                    self.leave(robust);
                    return Status::Intr;
                }
                Wake::TimedOut if deadline.expired() => {
                    self.leave(robust);
                    return Status::Timeout;
                }
                Wake::TimedOut => {
                    if self.owner_is_provably_dead(me, held) {
                        // Mark it as the kernel would have; the loop then takes it
                        // with OwnerDead. Only the exact stale value is replaced.
                        let _ = self.word.compare_exchange(
                            held,
                            FUTEX_WAITERS | FUTEX_OWNER_DIED,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                    }
                }
            }
        }
    }

    /// Watches the word while a live owner holds it and nobody sleeps (such an owner
    /// is likely to release soon); see [`spin_while`].
    fn spin(&self) {
        spin_while(&self.word, |v| {
            v & FUTEX_TID_MASK != 0 && v & (FUTEX_WAITERS | FUTEX_OWNER_DIED) == 0
        });
    }

    /// The back-stop: true only if the thread recorded as owning `word == held` is
    /// gone (no `/proc/<pid>/task/<tid>`, a zombie, or a different start time, i.e. a
    /// reused TID). Never true for a live owner: if anything changes while we look, or we
    /// cannot interpret the owner's ids (other PID namespace, no /proc), it says no.
    #[cold]
    fn owner_is_provably_dead(&self, me: &ThreadCtx, held: u32) -> bool {
        if me.pidns == 0
            || self.ns_flags.load(Ordering::Relaxed) != u64::from(me.pidns)
            || !thread::proc_available()
        {
            return false;
        }
        let owner_tid = held & FUTEX_TID_MASK;
        let ids = self.owner_ids.load(Ordering::Acquire);
        let start = self.owner_start.load(Ordering::Relaxed);
        let (pid, tid) = ((ids >> 32) as u32, ids as u32);
        let dead = if tid == owner_tid && start != 0 {
            // The recorded owner is the word's owner: dead if that thread is gone, or if
            // its TID now belongs to a thread started at another time.
            match thread::live_thread_start_time(pid, tid) {
                None => true,
                Some(now) => now != start,
            }
        } else {
            // The owner died between taking the word and recording itself (or between
            // erasing its record and freeing the word, in release): with nothing to
            // compare, it is dead only if no live thread has its TID at all.
            thread::live_thread_start_time(owner_tid, owner_tid).is_none()
        };
        // Re-read: the word and the record must be unchanged by the check.
        dead && self.word.load(Ordering::Acquire) == held
            && self.owner_ids.load(Ordering::Relaxed) == ids
            && self.owner_start.load(Ordering::Relaxed) == start
    }

    /// Releases one level: `Ok`, or `NotOwner` if the caller does not own it (also
    /// when it is free).
    #[inline]
    pub fn release(&self) -> Status {
        let me = thread::current();
        if self.owner_token.load(Ordering::Relaxed) != me.token {
            return Status::NotOwner;
        }
        let c = self.count.load(Ordering::Relaxed);
        if c > 1 {
            self.count.store(c - 1, Ordering::Relaxed);
            return Status::Ok;
        }
        self.unlock(me);
        Status::Ok
    }

    /// Fully unlocks (the caller is the owner).
    #[inline]
    fn unlock(&self, me: &ThreadCtx) {
        let linked = self.list_next.load(Ordering::Relaxed) != 0 && !me.robust_head.is_null();
        // The pending mark must not outlive our ownership across namespaces: after the
        // swap below another namespace's thread with our TID may own the lock. There,
        // unlink without it (the kernel sees the unlink as one store of `next`).
        let pending = linked && !self.is_cross_namespace();
        if linked {
            // SAFETY: we own the lock and linked its node into this thread's list.
            unsafe {
                if pending {
                    robust::set_pending(me.robust_head, &self.list_next);
                }
                robust::dequeue(&self.list_prev, &self.list_next);
            }
        }
        self.owner_token.store(0, Ordering::Relaxed);
        self.count.store(0, Ordering::Relaxed);
        self.owner_ids.store(0, Ordering::Relaxed);
        // One atomic step from "ours" to "free" (a split store could leave W without
        // a TID if we died between the two: glibc BZ #20985).
        if self.word.swap(0, Ordering::Release) & FUTEX_WAITERS != 0 {
            self.wake_one();
        }
        if pending {
            // SAFETY: this thread's live head.
            unsafe { robust::clear_pending(me.robust_head) };
        }
    }

    #[cold]
    fn wake_one(&self) {
        futex::wake(&self.word, 1);
    }

    /// Releases every recursion level at once (for `Condition.wait`) and returns how
    /// many there were: `NotOwner` if the caller does not own the lock.
    pub fn release_all(&self) -> MpResult<u32> {
        let me = thread::current();
        if self.owner_token.load(Ordering::Relaxed) != me.token {
            return Err(Status::NotOwner);
        }
        let c = self.count.load(Ordering::Relaxed);
        self.unlock(me);
        Ok(c)
    }

    /// Re-acquires after [`release_all`](Self::release_all), restoring `levels`:
    /// `Ok`, `OwnerDead`, `Timeout`, or `Intr` as [`acquire`](Self::acquire).
    pub fn acquire_levels(&self, levels: u32, deadline: &Deadline) -> Status {
        let me = thread::current();
        let levels = levels.max(1);
        match self.try_acquire_fast(me, levels) {
            Ok(()) => Status::Ok,
            Err(robust) => self.acquire_slow(me, robust, deadline, levels),
        }
    }

    /// True if the calling thread owns the lock.
    #[inline]
    pub fn is_mine(&self) -> bool {
        self.owner_token.load(Ordering::Relaxed) == thread::current().token
    }

    /// The recursion level if the caller owns the lock, else 0.
    pub fn count(&self) -> u32 {
        if self.is_mine() {
            self.count.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// True while held by anyone (or a dead owner's mark is pending).
    pub fn is_locked(&self) -> bool {
        self.word.load(Ordering::Relaxed) & FUTEX_TID_MASK != 0
    }

    /// Ends an in-place lock: `Busy` while held or slept on.
    pub fn destroy(&self) -> Status {
        if self.word.load(Ordering::Relaxed) & (FUTEX_TID_MASK | FUTEX_WAITERS) != 0 {
            return Status::Busy;
        }
        self.header.retire();
        Status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn new_rlock() -> Arc<RawRLock> {
        // SAFETY: RawRLock is plain atomics and integers: all-zero is valid.
        let l: Box<RawRLock> = Box::new(unsafe { core::mem::zeroed() });
        l.init(Lifecycle::InPlace);
        Arc::from(l)
    }

    #[test]
    fn node_offsets_match_glibc() {
        assert_eq!(core::mem::size_of::<RawRLock>(), 64);
        assert_eq!(
            core::mem::offset_of!(RawRLock, list_next) as isize
                - core::mem::offset_of!(RawRLock, word) as isize,
            -robust::FUTEX_OFFSET
        );
        assert_eq!(
            core::mem::offset_of!(RawRLock, list_prev) + 8,
            core::mem::offset_of!(RawRLock, list_next)
        );
    }

    #[test]
    fn recursion_and_ownership() {
        let l = new_rlock();
        assert_eq!(l.release(), Status::NotOwner);
        assert_eq!(l.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(l.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(l.count(), 2);
        assert!(l.is_mine());
        let l2 = l.clone();
        let other = std::thread::spawn(move || {
            (
                l2.release(),
                l2.acquire(Timeout::NOW),
                l2.is_mine(),
                l2.count(),
            )
        })
        .join()
        .unwrap();
        assert_eq!(other, (Status::NotOwner, Status::Timeout, false, 0));
        assert_eq!(l.destroy(), Status::Busy);
        assert_eq!(l.release(), Status::Ok);
        assert_eq!(l.release(), Status::Ok);
        assert_eq!(l.release(), Status::NotOwner);
        assert!(!l.is_locked());
        assert_eq!(l.destroy(), Status::Ok);
    }

    #[test]
    fn release_all_and_restore() {
        let l = new_rlock();
        for _ in 0..3 {
            assert_eq!(l.acquire(Timeout::FOREVER), Status::Ok);
        }
        assert_eq!(l.release_all(), Ok(3));
        assert!(!l.is_locked());
        assert_eq!(l.release_all(), Err(Status::NotOwner));
        assert_eq!(l.acquire_levels(3, &Deadline::Never), Status::Ok);
        assert_eq!(l.count(), 3);
        assert_eq!(l.release_all(), Ok(3));
    }

    #[test]
    #[cfg_attr(miri, ignore = "needs the kernel robust list or /proc")]
    fn thread_exit_while_holding_is_owner_dead() {
        let l = new_rlock();
        let l2 = l.clone();
        std::thread::spawn(move || assert_eq!(l2.acquire(Timeout::FOREVER), Status::Ok))
            .join()
            .unwrap();
        // Kernel (robust list) or back-stop: either way, OwnerDead then normal use.
        assert_eq!(l.acquire(Timeout::new(true, 10_000)), Status::OwnerDead);
        assert_eq!(l.release(), Status::Ok);
        assert_eq!(l.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(l.release(), Status::Ok);
    }

    #[test]
    fn threads_count_exactly() {
        let l = new_rlock();
        let counter = Arc::new(AtomicU64::new(0));
        let n = if cfg!(miri) { 50 } else { 20_000 };
        let ts: Vec<_> = (0..4)
            .map(|_| {
                let (l, c) = (l.clone(), counter.clone());
                std::thread::spawn(move || {
                    for _ in 0..n {
                        assert_eq!(l.acquire(Timeout::FOREVER), Status::Ok);
                        assert_eq!(l.acquire(Timeout::FOREVER), Status::Ok);
                        let v = c.load(Ordering::Relaxed);
                        c.store(v + 1, Ordering::Relaxed);
                        assert_eq!(l.release(), Status::Ok);
                        assert_eq!(l.release(), Status::Ok);
                    }
                })
            })
            .collect();
        for t in ts {
            t.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::Relaxed), 4 * n);
    }
}

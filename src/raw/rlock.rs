//! `RLock`: a recursive lock owned by one thread of one process, whose owner's death
//! is detected by the kernel (robust futex list) and, as a back-stop, by a liveness
//! check of the recorded owner.
//!
//! The lock word uses the kernel's robust-futex format so that the kernel can mark it
//! when the owner dies. "Is it mine?" never compares TIDs (they collide across PID
//! namespaces and are reused): it compares a 64-bit random per-thread token, which a
//! `fork()`ed child does not inherit.
//!
//! **Shared memory is untrusted.** Every field below can be rewritten by any process
//! that maps the lock. The owner never follows a pointer read from it: the robust-list
//! node is only ever *written* by its owner (linking uses the thread's private book,
//! `sys::robust`), and what a scribbler can change (the word, the token, the count, the
//! back-stop record) can break this lock for its users but never make another process
//! write outside the object or crash.

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

use super::header::{Header, Kind, Lifecycle};
use super::spin::spin_until;
use super::zero_body;
use crate::status::{MpResult, Status};
use crate::sys::futex::{self, Wake};
use crate::sys::liveness::{Liveness, Vantage};
use crate::sys::robust;
use crate::sys::thread::{self, ThreadCtx};
use crate::sys::time::{Deadline, Timeout, WaitLimit};

/// Set by a waiter before it sleeps; the releaser must `FUTEX_WAKE` one.
pub(crate) const FUTEX_WAITERS: u32 = 0x8000_0000;
/// Set by the kernel (or the back-stop) when the owner died holding the lock.
pub(crate) const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
/// Owner TID (in the owner's PID namespace).
pub(crate) const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

/// `ns_flags` flag: participants in different (or unknown) PID namespaces were seen.
/// Their TIDs may collide, so the lock is marked pending in a robust list only while
/// owned (see `Robust`), and the back-stop's TID-only check is off for this object.
const FLAG_CROSS_NS: u32 = 1;
/// `ns_flags` flag of a sticky lock: an owner died holding it, and nobody has called
/// [`RawRLock::mark_consistent`] since. Every acquisition reports `OwnerDead` meanwhile.
const FLAG_INCONSISTENT: u32 = 2;

/// `options` bit (fixed at init): owner death makes the lock "inconsistent" until an
/// owner marks it consistent again (synchronized arrays' locks, and RLocks created in the
/// sticky mode).
pub(crate) const OPT_STICKY: u32 = 1;
/// `options` bit (fixed at init): a contended acquirer watches the word while a live
/// owner holds it even when others sleep on it (see [`RawRLock::spin`]). For locks whose
/// every hold is one bounded copy (the queue's embedded lock): there, two parties that
/// alternate would otherwise keep `FUTEX_WAITERS` set for ever once one of them slept
/// (each woken owner keeps it for the sleepers it cannot see), and then every
/// acquisition sleeps and every release wakes (measured: 20–25 % more 4 KiB messages
/// per second, one producer and one consumer on two CPUs).
pub(crate) const OPT_SPIN_PAST_SLEEPERS: u32 = 2;

/// How long a waiter sleeps before it looks at the recorded owner (the back-stop
/// for cases the kernel misses). Only blocked waiters pay for it.
const BACKSTOP_INTERVAL_MS: i64 = 250;

/// Shared layout (64 bytes, 8-aligned). The node offset is fixed by glibc's robust
/// list (`futex_offset == -32`): `next` at word+32.
///
/// ```text
/// +0   header       (8)
/// +8   word         u32   robust futex word, see the table below
/// +12  count        u32   recursion level (written by the owner only)
/// +16  owner_token  u64   owner thread's token; 0 when free (written by the owner only)
/// +24  owner_ids    u64   owner's pid << 32 | tid: back-stop record, written by the
///                         owner right after acquiring (after owner_start and owner_ns,
///                         Release); 0 after release, and cleared by whoever takes the
///                         word over from a dead owner (before its CAS)
/// +32  owner_ns     u32   owner's PID-namespace id (full nsfs inode; 0 = unknown)
/// +36  options      u32   fixed at init: OPT_STICKY, OPT_SPIN_PAST_SLEEPERS
/// +40  list_next    usize robust-list node (word+32): written by the owner, read by
///                         the kernel only, never read by this library
/// +48  owner_start  u64   owner thread's start time (clock ticks since boot)
/// +56  ns_flags     u64   low 32 bits: creator's PID-namespace id (0 if unknown);
///                         high 32 bits: FLAG_CROSS_NS, FLAG_INCONSISTENT. One word, so
///                         "same namespace and no flag" is one load and one compare.
/// ```
///
/// (+32 was glibc's `prev` slot in layout 1. No one writes it any more: our nodes are
/// never a glibc node's neighbour, see `sys::robust`.)
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
/// A sticky lock marked inconsistent is also *released* into the `D` state, so that
/// no acquirer takes it on the fast path (which only takes a 0) and every one reports
/// `OwnerDead`; `mark_consistent` ends that.
///
/// A thread that acquires after sleeping keeps `W` set (it cannot know whether other
/// sleepers remain; glibc BZ #20973). Release is a single swap (to 0, or to `D`, see
/// above) so that a death at any instruction leaves either our TID (the kernel cleans
/// up) or the released value.
///
/// Sticky state (`OPT_STICKY` locks only), in `ns_flags`:
///
/// | FLAG_INCONSISTENT | set by                               | release leaves | acquisitions report |
/// |-------------------|--------------------------------------|----------------|---------------------|
/// | 0                 | init, `mark_consistent` (owner only) | 0              | `Ok`                |
/// | 1                 | the acquirer that took a `D` word    | `D`            | `OwnerDead`         |
#[repr(C)]
pub(crate) struct RawRLock {
    header: Header,
    word: AtomicU32,
    count: AtomicU32,
    owner_token: AtomicU64,
    owner_ids: AtomicU64,
    owner_ns: AtomicU32,
    options: AtomicU32,
    list_next: AtomicUsize,
    owner_start: AtomicU64,
    ns_flags: AtomicU64,
}

published_layout!(RawRLock, size = 64, align = 8);

/// How this acquisition uses the calling thread's robust list: the list head (or null:
/// do not link the lock), with bit 0 set when `list_op_pending` may name this lock while
/// we do not own it (before the CAS and while sleeping, as glibc does). That is allowed
/// only while every participant shares our PID namespace: across namespaces a dying
/// *waiter* whose TID collides with the owner's would make the kernel mark the live
/// owner's lock, so there the lock is marked pending only while owned.
/// (One register, not a pair: it keeps the uncontended path free of a stack frame.)
#[derive(Clone, Copy)]
struct Robust(usize);

impl Robust {
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

/// `status`, hidden from the optimiser: the result of an out-of-line path that the fast
/// path returns as it is. Were the constant visible, the caller would `call` the path and
/// return the constant itself, and that call needs a stack frame; this way it is a tail
/// jump, and the uncontended release stays frameless.
#[inline(always)]
fn tail_status(status: Status) -> Status {
    core::hint::black_box(status)
}

/// What the fast path did.
enum Fast {
    /// Took the free word and recorded ownership.
    Acquired,
    /// The word is taken: continue in the slow path with this robust use (the node
    /// is marked pending if the robust use says so).
    Contended(Robust),
    /// Not the usual case: nothing was touched; take the general path.
    Unusual,
}

impl RawRLock {
    /// Initialises (free) and publishes, recording the caller's PID namespace.
    pub(crate) fn init(&self, lifecycle: Lifecycle) {
        self.init_with(lifecycle, 0);
    }

    /// As [`init`](Self::init), with `options` (`OPT_STICKY`, `OPT_SPIN_PAST_SLEEPERS`).
    pub(crate) fn init_with(&self, lifecycle: Lifecycle, options: u32) {
        let me = thread::current();
        // SAFETY: only atomics after the header; not published yet (nobody looks).
        unsafe { zero_body(self) };
        self.options.store(
            options & (OPT_STICKY | OPT_SPIN_PAST_SLEEPERS),
            Ordering::Relaxed,
        );
        self.ns_flags.store(u64::from(me.pidns), Ordering::Relaxed);
        self.header.publish(Kind::RLock, lifecycle);
    }

    /// The object header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// How `me` may use its robust list for this lock (see [`Robust`]). The first
    /// participant from another (or an unknown) PID namespace sets `FLAG_CROSS_NS` for
    /// everyone — also when its own robust mode is off, since the back-stop of the others
    /// depends on it. From then on owners still link the lock (the kernel compares a
    /// dying owner's TID in the owner's own namespace, so its death is still reported),
    /// but nobody marks it pending while not owning it.
    ///
    /// The fast path inlines the common case (our namespace, no flag) itself.
    #[cold]
    #[inline(never)]
    fn robust_for(&self, me: &ThreadCtx) -> Robust {
        let v = self.ns_flags.load(Ordering::Relaxed);
        let same_ns = me.pidns != 0 && v as u32 == me.pidns;
        if !same_ns && (v >> 32) as u32 & FLAG_CROSS_NS == 0 {
            self.ns_flags
                .fetch_or(u64::from(FLAG_CROSS_NS) << 32, Ordering::Relaxed);
            // Published before our CAS can be seen (pairs with the back-stop's Acquire
            // fence): a waiter that sees our TID in the word also sees the flag.
            fence(Ordering::Release);
        }
        Robust::new(
            me.robust_head,
            same_ns && (v >> 32) as u32 & FLAG_CROSS_NS == 0,
        )
    }

    /// True once a participant from another namespace was seen.
    #[inline]
    fn is_cross_namespace(&self) -> bool {
        (self.ns_flags.load(Ordering::Relaxed) >> 32) as u32 & FLAG_CROSS_NS != 0
    }

    /// What a re-entry (or a slow-path acquisition of a free word) reports: `OwnerDead`
    /// while a sticky lock is marked inconsistent. (A first acquisition normally learns
    /// it from the word itself: an inconsistent lock is released into the `D` state.)
    #[inline]
    fn acquired_status(&self) -> Status {
        if (self.ns_flags.load(Ordering::Relaxed) >> 32) as u32 & FLAG_INCONSISTENT != 0 {
            Status::OwnerDead
        } else {
            Status::Ok
        }
    }

    /// Acquires (or re-enters): `Ok`, `OwnerDead` (acquired; the previous owner died
    /// holding it, or a sticky lock is marked inconsistent), `Timeout`, `Intr` (nothing
    /// acquired), `Overflow` (recursion limit).
    #[inline]
    pub(crate) fn acquire<W: WaitLimit>(&self, limit: W) -> Status {
        let Some(me) = thread::current_if_ready() else {
            return self.acquire_unusual(limit);
        };
        match self.try_acquire_fast(me, 1) {
            // A free word (0) is never inconsistent: see `free_word`.
            Fast::Acquired => Status::Ok,
            Fast::Contended(robust) => self.acquire_slow_timeout(me, robust, limit),
            Fast::Unusual => self.acquire_unusual(limit),
        }
    }

    /// Runs `f` holding the lock: acquires (or re-enters) it without a timeout, runs
    /// `f`, releases it. Returns the acquisition's status (`Ok`, or `OwnerDead`: `f`
    /// ran) or its error (`Intr`, `Overflow`: `f` did not run); an error of the release
    /// replaces `Ok`/`OwnerDead`.
    ///
    /// The same protocol as [`acquire`](Self::acquire) then [`release`](Self::release),
    /// fused for the locked accesses of synchronized arrays: when the fast path took a
    /// free word, this thread is known to own it at level 1, so the release goes
    /// straight to the unlock (no second thread-slot lookup, token or count check).
    #[inline(always)]
    pub(crate) fn with_lock<F: FnOnce()>(&self, f: F) -> Status {
        if let Some(me) = thread::current_if_ready() {
            match self.try_acquire_fast(me, 1) {
                Fast::Acquired => {
                    f();
                    return self.unlock(me);
                }
                Fast::Contended(robust) => return self.with_lock_contended(me, robust, f),
                Fast::Unusual => {}
            }
        }
        self.with_lock_unusual(f)
    }

    /// [`with_lock`](Self::with_lock) after the fast path found the word taken. Out of
    /// line and reached by a tail call, so that the fast path needs no stack frame.
    #[cold]
    #[inline(never)]
    fn with_lock_contended<F: FnOnce()>(&self, me: &ThreadCtx, robust: Robust, f: F) -> Status {
        let got = self.acquire_slow_timeout(me, robust, Timeout::FOREVER);
        self.run_then_release(got, f)
    }

    /// [`with_lock`](Self::with_lock) when the fast path does not apply (see
    /// [`acquire_unusual`](Self::acquire_unusual)).
    #[cold]
    #[inline(never)]
    fn with_lock_unusual<F: FnOnce()>(&self, f: F) -> Status {
        let got = self.acquire_unusual(Timeout::FOREVER);
        self.run_then_release(got, f)
    }

    /// The rest of [`with_lock`](Self::with_lock) after a general acquisition that
    /// returned `got`.
    fn run_then_release<F: FnOnce()>(&self, got: Status, f: F) -> Status {
        if !matches!(got, Status::Ok | Status::OwnerDead) {
            return got;
        }
        f();
        match self.release() {
            Status::Ok => got,
            // We acquired it, yet it no longer says so, and our private book does not
            // list it either (held unrecorded): another process rewrote the lock while
            // we held it. The object is broken, not the call's caller.
            _ => Status::BadObj,
        }
    }

    /// Everything the fast path leaves out (first call of the thread, another
    /// namespace, a flag, a book without room): the general path. Out of line and
    /// reached by a tail call, so that the fast path needs no stack frame.
    #[cold]
    #[inline(never)]
    fn acquire_unusual<W: WaitLimit>(&self, limit: W) -> Status {
        let me = thread::current();
        // SAFETY: the calling thread's own book (or null).
        unsafe { robust::make_room(me.book) };
        let robust = self.robust_for(me);
        if robust.pending_while_waiting() {
            robust.set_pending(&self.list_next);
        }
        self.acquire_slow(me, robust, &limit.deadline(), 1)
    }

    /// The uncontended path, one CAS: marks the node pending (so a death right after
    /// the CAS is still seen by the kernel), takes a free word, and records ownership
    /// with `levels`. If the word is taken, returns the robust use for the slow path
    /// (the pending mark stays set while it waits, as glibc does).
    ///
    /// Only the usual case is handled here — our namespace, no flag, a book with room —
    /// so that it stays free of calls; anything else is `Unusual`, before the word is
    /// touched.
    #[inline(always)]
    fn try_acquire_fast(&self, me: &ThreadCtx, levels: u32) -> Fast {
        // Same namespace as the creator (known, non-zero) and no flag: one compare
        // against "our namespace id, no flags".
        if self.ns_flags.load(Ordering::Relaxed) != me.same_ns_key
            // SAFETY: the calling thread's own book (or null).
            || !unsafe { robust::has_room(me.book) }
        {
            return Fast::Unusual;
        }
        // The head itself, not a `Robust` (whose tag bit would be set, then masked off).
        let head = me.robust_head;
        if !head.is_null() {
            // SAFETY: the calling thread's live head.
            unsafe { robust::set_pending(head, &self.list_next) };
        }
        if self
            .word
            .compare_exchange(0, me.tid, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.record_owner(me);
            self.count.store(levels, Ordering::Relaxed);
            // SAFETY: `has_room` held: a non-null book of this thread with room for
            // one more entry; we own the lock, and the caller keeps it mapped while held.
            unsafe { robust::record_with_room(&mut *me.book, &self.list_next) };
            if !head.is_null() {
                // SAFETY: as above.
                unsafe { robust::clear_pending(head) };
            }
            return Fast::Acquired;
        }
        Fast::Contended(Robust::new(head, true))
    }

    /// Out of line so that the fast path stays a leaf function without a stack frame
    /// (the deadline lives in this frame, not the caller's).
    #[cold]
    #[inline(never)]
    fn acquire_slow_timeout<W: WaitLimit>(
        &self,
        me: &ThreadCtx,
        robust: Robust,
        limit: W,
    ) -> Status {
        self.acquire_slow(me, robust, &limit.deadline(), 1)
    }

    /// Clears `list_op_pending` when leaving acquire without the lock.
    #[inline]
    fn leave(&self, robust: Robust) {
        if robust.pending_while_waiting() {
            robust.clear_pending();
        }
    }

    /// The back-stop record and the owner token, right after the word was taken.
    #[inline(always)]
    fn record_owner(&self, me: &ThreadCtx) {
        self.owner_token.store(me.token, Ordering::Relaxed);
        // Start time and namespace before ids (Release): a back-stop that reads our ids
        // (Acquire) also reads our start time and namespace, never a previous owner's.
        self.owner_start.store(me.start_time, Ordering::Relaxed);
        self.owner_ns.store(me.pidns, Ordering::Relaxed);
        self.owner_ids.store(
            (u64::from(me.pid) << 32) | u64::from(me.tid),
            Ordering::Release,
        );
    }

    /// Records ownership after the word was taken in the slow path (we are the owner
    /// from here on): the back-stop record, then the thread's private book (which links
    /// the node into the robust list).
    fn on_acquired(&self, me: &ThreadCtx, robust: Robust, count: u32) {
        self.record_owner(me);
        self.count.store(count, Ordering::Relaxed);
        if !robust.pending_while_waiting() {
            // We own it now: cover the linking (across namespaces, a death between the
            // CAS and this store is the one window left uncovered).
            robust.set_pending(&self.list_next);
        }
        // SAFETY: the calling thread's own book (or null), not otherwise borrowed now;
        // we own the lock, and the caller keeps it mapped while held.
        if let Some(book) = unsafe { me.book.as_mut() } {
            // SAFETY: as above.
            unsafe { robust::record(book, &self.list_next) };
        }
        robust.clear_pending();
    }

    #[cold]
    fn acquire_slow(
        &self,
        me: &ThreadCtx,
        mut robust: Robust,
        deadline: &Deadline,
        count: u32,
    ) -> Status {
        if self.owned_by(me) {
            self.leave(robust);
            let c = self.count.load(Ordering::Relaxed);
            if c == u32::MAX {
                return Status::Overflow;
            }
            self.count.store(c + 1, Ordering::Relaxed);
            return self.acquired_status();
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
                let died = v & FUTEX_OWNER_DIED != 0;
                if died {
                    // The dead owner's back-stop record must not describe the next
                    // owner: erase it before the word can name us (Release CAS below).
                    self.owner_ids.store(0, Ordering::Relaxed);
                }
                let new = me.tid | (v & FUTEX_WAITERS) | keep_waiters;
                if self
                    .word
                    .compare_exchange(v, new, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    if died && self.options.load(Ordering::Relaxed) & OPT_STICKY != 0 {
                        // Published by our release (or seen by the kernel's next
                        // acquirer after our death, which marks it again anyway).
                        self.ns_flags
                            .fetch_or(u64::from(FLAG_INCONSISTENT) << 32, Ordering::Relaxed);
                    }
                    self.on_acquired(me, robust, count);
                    return if died {
                        Status::OwnerDead
                    } else {
                        self.acquired_status()
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
    /// is likely to release soon) — with `OPT_SPIN_PAST_SLEEPERS`, also while others
    /// sleep; see [`spin_until`].
    fn spin(&self) {
        let stop = if self.options.load(Ordering::Relaxed) & OPT_SPIN_PAST_SLEEPERS != 0 {
            FUTEX_OWNER_DIED
        } else {
            FUTEX_WAITERS | FUTEX_OWNER_DIED
        };
        spin_until(
            &self.word,
            |v| v & FUTEX_TID_MASK != 0 && v & stop == 0,
            |v| v & FUTEX_TID_MASK == 0,
        );
    }

    /// The back-stop: true only if the thread that holds `word == held` provably no
    /// longer exists, by the judge's rules (`sys::liveness`: positive evidence only —
    /// the kernel's `ESRCH` for the owner's ids, or a `/proc` that is provably our
    /// namespace's showing it exited or its ids reused — about an owner of our own PID
    /// namespace). Otherwise — another namespace, a hidden or unreadable `/proc`, a
    /// record that does not match the word, anything changing while we look — it says
    /// no, and the waiter keeps waiting (the kernel still reports a robust owner's
    /// death).
    #[cold]
    fn owner_is_provably_dead(&self, me: &ThreadCtx, held: u32) -> bool {
        if me.pidns == 0 {
            return false;
        }
        // Pairs with the Release fence of a participant that flagged another namespace
        // before its CAS, and with the Release CAS of a takeover that erased the record:
        // having read `held`, we see what its owner published before taking the word.
        fence(Ordering::Acquire);
        let flags = self.ns_flags.load(Ordering::Relaxed);
        let owner_tid = held & FUTEX_TID_MASK;
        let ids = self.owner_ids.load(Ordering::Acquire);
        let start = self.owner_start.load(Ordering::Relaxed);
        let owner_ns = self.owner_ns.load(Ordering::Relaxed);
        let (pid, tid) = ((ids >> 32) as u32, ids as u32);
        let recorded = ids != 0 && tid == owner_tid;
        let one_namespace = flags as u32 == me.pidns && (flags >> 32) as u32 & FLAG_CROSS_NS == 0;
        let evidence_is_ours = if recorded {
            owner_ns == me.pidns && start != 0
        } else {
            // No record: the owner died between taking the word and recording itself
            // (or between erasing its record and freeing the word, in release). The
            // word's TID alone is meaningful only if nobody from another namespace
            // ever used the lock.
            ids == 0 && one_namespace
        };
        if !evidence_is_ours {
            return false;
        }
        let ns = u64::from(me.pidns);
        let verdict = if recorded {
            // Dead if that thread is gone, or if its TID now belongs to a thread
            // started at another time.
            Vantage::of_namespace(me.pidns).thread(pid, tid, start, ns)
        } else {
            // Dead only if no thread has its TID at all (no /proc needed).
            Vantage::without_proc(me.pidns).bare_tid(owner_tid, ns)
        };
        let dead = verdict == Liveness::Dead;
        // Re-read: the word and the record must be unchanged by the check.
        dead && self.word.load(Ordering::Acquire) == held
            && self.owner_ids.load(Ordering::Relaxed) == ids
            && self.owner_start.load(Ordering::Relaxed) == start
            && self.owner_ns.load(Ordering::Relaxed) == owner_ns
    }

    /// Releases one level: `Ok`, or `NotOwner` if the caller does not own it (also
    /// when it is free).
    ///
    /// Inline, and free of calls but tail calls (so that the C entry point needs no
    /// stack frame): the token check is the one test on the way; a token that does
    /// not match goes to [`release_unrecorded`](Self::release_unrecorded).
    #[inline(always)]
    pub(crate) fn release(&self) -> Status {
        // A thread that never used the library holds nothing.
        let Some(me) = thread::current_if_ready() else {
            return Status::NotOwner;
        };
        if self.owner_token.load(Ordering::Relaxed) != me.token {
            return self.release_unrecorded(me);
        }
        self.release_owned(me)
    }

    /// [`release`](Self::release) when the shared token is not ours: `NotOwner`, unless
    /// the private book lists the lock (another process rewrote the token while we
    /// hold it, see `owned_by`).
    #[cold]
    #[inline(never)]
    fn release_unrecorded(&self, me: &ThreadCtx) -> Status {
        if !self.listed_in_book(me) {
            return Status::NotOwner;
        }
        self.release_owned(me)
    }

    /// Releases one level of a lock the caller owns.
    #[inline(always)]
    fn release_owned(&self, me: &ThreadCtx) -> Status {
        let c = self.count.load(Ordering::Relaxed);
        if c > 1 {
            self.count.store(c - 1, Ordering::Relaxed);
            return Status::Ok;
        }
        self.unlock(me)
    }

    /// Fully unlocks (the caller is the owner): `Ok`. The usual case — the lock is the
    /// thread's most recent one, and carries no flag — is inline and free of calls; the
    /// rest is out of line.
    #[inline(always)]
    fn unlock(&self, me: &ThreadCtx) -> Status {
        // SAFETY: the calling thread's own book (or null), used only during this call.
        match unsafe { me.book.as_mut() } {
            Some(book)
                if self.ns_flags.load(Ordering::Relaxed) >> 32 == 0
                    && robust::is_last(book, &self.list_next) =>
            {
                let head = me.robust_head;
                if !head.is_null() {
                    // SAFETY: this thread's live head.
                    unsafe { robust::set_pending(head, &self.list_next) };
                }
                // SAFETY: we own the lock; `is_last` holds. The book decides what to
                // unlink (never the shared node).
                unsafe { robust::forget_last(book, &self.list_next) };
                if self.free_word(0) {
                    return self.wake_one_then_clear(head);
                }
                if !head.is_null() {
                    // SAFETY: this thread's live head.
                    unsafe { robust::clear_pending(head) };
                }
                Status::Ok
            }
            _ => self.unlock_general(me),
        }
    }

    /// Clears the owner's record and frees the word in one atomic step from "ours" to
    /// `free` (a split store could leave W without a TID if we died between the two:
    /// glibc BZ #20985). `free` is 0, or `FUTEX_OWNER_DIED` for a sticky lock marked
    /// inconsistent: then no acquirer can take the word on the fast path (which only
    /// takes a 0), and every one reports `OwnerDead` from the slow path. True if
    /// sleepers may wait (one must be woken).
    #[inline(always)]
    fn free_word(&self, free: u32) -> bool {
        self.owner_token.store(0, Ordering::Relaxed);
        self.count.store(0, Ordering::Relaxed);
        self.owner_ids.store(0, Ordering::Relaxed);
        self.word.swap(free, Ordering::Release) & FUTEX_WAITERS != 0
    }

    /// [`unlock`](Self::unlock) for a lock that is not the thread's most recent one,
    /// is not in its book at all, or carries a flag.
    #[cold]
    #[inline(never)]
    fn unlock_general(&self, me: &ThreadCtx) -> Status {
        let flags = (self.ns_flags.load(Ordering::Relaxed) >> 32) as u32;
        // The pending mark must not outlive our ownership across namespaces: after the
        // swap another namespace's thread with our TID may own the lock. There, unlink
        // without it (the kernel sees the unlink as one store).
        let head = if flags & FLAG_CROSS_NS != 0 {
            core::ptr::null_mut()
        } else {
            me.robust_head
        };
        if !head.is_null() {
            // SAFETY: this thread's live head.
            unsafe { robust::set_pending(head, &self.list_next) };
        }
        // SAFETY: the calling thread's own book (or null), not otherwise borrowed now;
        // we own the lock.
        if let Some(book) = unsafe { me.book.as_mut() } {
            // SAFETY: as above.
            unsafe { robust::forget(book, &self.list_next) };
        }
        let free = if flags & FLAG_INCONSISTENT != 0 {
            FUTEX_OWNER_DIED
        } else {
            0
        };
        if self.free_word(free) {
            return self.wake_one_then_clear(head);
        }
        if !head.is_null() {
            // SAFETY: this thread's live head.
            unsafe { robust::clear_pending(head) };
        }
        tail_status(Status::Ok)
    }

    /// Wakes one sleeper after the word was freed, then clears the pending mark (if
    /// `head` is not null): `Ok`.
    #[cold]
    #[inline(never)]
    fn wake_one_then_clear(&self, head: *mut crate::sys::futex::RobustListHead) -> Status {
        futex::wake(&self.word, 1);
        if !head.is_null() {
            // SAFETY: this thread's live head (passed by the unlock paths).
            unsafe { robust::clear_pending(head) };
        }
        tail_status(Status::Ok)
    }

    /// Releases every recursion level at once (for `Condition.wait`) and returns how
    /// many there were: `NotOwner` if the caller does not own the lock.
    pub(crate) fn release_all(&self) -> MpResult<u32> {
        let me = thread::current();
        if !self.owned_by(me) {
            return Err(Status::NotOwner);
        }
        let c = self.count.load(Ordering::Relaxed);
        let _ = self.unlock(me);
        Ok(c)
    }

    /// Re-acquires after [`release_all`](Self::release_all), restoring `levels`:
    /// `Ok`, `OwnerDead`, `Timeout`, or `Intr` as [`acquire`](Self::acquire).
    pub(crate) fn acquire_levels(&self, levels: u32, deadline: &Deadline) -> Status {
        let me = thread::current();
        let levels = levels.max(1);
        match self.try_acquire_fast(me, levels) {
            Fast::Acquired => Status::Ok,
            Fast::Contended(robust) => self.acquire_slow(me, robust, deadline, levels),
            Fast::Unusual => {
                // SAFETY: the calling thread's own book (or null).
                unsafe { robust::make_room(me.book) };
                let robust = self.robust_for(me);
                if robust.pending_while_waiting() {
                    robust.set_pending(&self.list_next);
                }
                self.acquire_slow(me, robust, deadline, levels)
            }
        }
    }

    /// Ends the "inconsistent" state of a sticky lock (the caller repaired the data):
    /// later acquisitions report `Ok` again. `NotOwner` unless the caller owns the
    /// lock; `Ok` (nothing to do) for a lock without `OPT_STICKY`.
    pub(crate) fn mark_consistent(&self) -> Status {
        if !self.is_mine() {
            return Status::NotOwner;
        }
        self.ns_flags
            .fetch_and(!(u64::from(FLAG_INCONSISTENT) << 32), Ordering::Relaxed);
        Status::Ok
    }

    /// True for a sticky lock (`OPT_STICKY`, fixed at init).
    pub(crate) fn is_sticky(&self) -> bool {
        self.options.load(Ordering::Relaxed) & OPT_STICKY != 0
    }

    /// True if the calling thread owns the lock.
    #[inline]
    pub(crate) fn is_mine(&self) -> bool {
        self.owned_by(thread::current())
    }

    /// "Is it mine?": the shared token says so, or — when another process rewrote the
    /// token while we hold the lock — the thread's private book lists the lock. The book
    /// cannot be forged from shared memory, so a scribbled token can neither make us
    /// wait for ourselves nor leave the lock linked in our robust list for ever.
    #[inline]
    fn owned_by(&self, me: &ThreadCtx) -> bool {
        self.owner_token.load(Ordering::Relaxed) == me.token || self.listed_in_book(me)
    }

    /// True if the calling thread's private book lists this lock (see `owned_by`).
    #[cold]
    #[inline(never)]
    fn listed_in_book(&self, me: &ThreadCtx) -> bool {
        // SAFETY: the calling thread's own book (or null), used only during this call.
        unsafe { me.book.as_ref() }.is_some_and(|book| robust::book_lists(book, &self.list_next))
    }

    /// The recursion level if the caller owns the lock, else 0.
    pub(crate) fn count(&self) -> u32 {
        if self.is_mine() {
            self.count.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// True while the word names an owner: held by anyone, or by an owner that died
    /// without the kernel clearing its TID (until the next acquirer takes over).
    /// One load: it never changes the lock nor consumes an owner-death report.
    pub(crate) fn is_locked(&self) -> bool {
        self.word.load(Ordering::Relaxed) & FUTEX_TID_MASK != 0
    }

    /// Ends an in-place lock: `Busy` while held or slept on, and whenever the calling
    /// thread's private book says it holds the lock (which a peer cannot fake by
    /// rewriting the word: a held lock stays linked in our robust list).
    pub(crate) fn destroy(&self) -> Status {
        if robust::thread_holds_lock_in(
            self as *const RawRLock as usize,
            core::mem::size_of::<RawRLock>(),
        ) {
            return Status::Busy;
        }
        if self.word.load(Ordering::Relaxed) & (FUTEX_TID_MASK | FUTEX_WAITERS) != 0 {
            return Status::Busy;
        }
        self.header.retire();
        Status::Ok
    }

    /// Read-only snapshot for inspectors, each field loaded once (racy): `(word, count,
    /// owner_ids, owner_ns, owner_start, creator_ns, cross_ns, inconsistent)`, where
    /// `owner_ids` is the back-stop record `pid << 32 | tid` (0 if none), `creator_ns`
    /// the low half of `ns_flags`, and the two flags its `FLAG_CROSS_NS` and
    /// `FLAG_INCONSISTENT`. Never blocks, never writes.
    #[allow(clippy::type_complexity)]
    pub(crate) fn snapshot(&self) -> (u32, u32, u64, u32, u64, u32, bool, bool) {
        let word = self.word.load(Ordering::Acquire);
        let flags = self.ns_flags.load(Ordering::Relaxed);
        let high = (flags >> 32) as u32;
        (
            word,
            self.count.load(Ordering::Relaxed),
            self.owner_ids.load(Ordering::Acquire),
            self.owner_ns.load(Ordering::Relaxed),
            self.owner_start.load(Ordering::Relaxed),
            flags as u32,
            high & FLAG_CROSS_NS != 0,
            high & FLAG_INCONSISTENT != 0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::test_util::{counts_exactly, fresh};
    use std::sync::Arc;

    fn new_rlock() -> Arc<RawRLock> {
        fresh(|l: &RawRLock| l.init(Lifecycle::InPlace))
    }

    #[test]
    fn node_offset_matches_glibc() {
        assert_eq!(core::mem::size_of::<RawRLock>(), 64);
        assert_eq!(
            core::mem::offset_of!(RawRLock, list_next) as isize
                - core::mem::offset_of!(RawRLock, word) as isize,
            -robust::FUTEX_OFFSET
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
    #[cfg_attr(miri, ignore = "needs the kernel robust list or /proc")]
    fn sticky_lock_reports_owner_death_until_marked_consistent() {
        let l = fresh(|l: &RawRLock| l.init_with(Lifecycle::InPlace, OPT_STICKY));
        let l2 = l.clone();
        std::thread::spawn(move || assert_eq!(l2.acquire(Timeout::FOREVER), Status::Ok))
            .join()
            .unwrap();
        for _ in 0..3 {
            assert_eq!(l.acquire(Timeout::new(true, 10_000)), Status::OwnerDead);
            assert_eq!(l.acquire(Timeout::NOW), Status::OwnerDead); // re-entry
            assert_eq!(l.release(), Status::Ok);
            assert_eq!(l.release(), Status::Ok);
            // Released into the "owner died" state: free, but not for the fast path.
            assert!(!l.is_locked());
        }
        let l3 = l.clone();
        let other = std::thread::spawn(move || l3.mark_consistent())
            .join()
            .unwrap();
        assert_eq!(other, Status::NotOwner);
        assert_eq!(l.acquire(Timeout::NOW), Status::OwnerDead);
        assert_eq!(l.mark_consistent(), Status::Ok);
        assert_eq!(l.release(), Status::Ok);
        assert_eq!(l.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(l.release(), Status::Ok);
        assert_eq!(l.destroy(), Status::Ok);
    }

    #[test]
    fn threads_count_exactly() {
        let l = new_rlock();
        // Twice in, twice out: the inner level re-enters.
        counts_exactly(
            || (0..2).for_each(|_| assert_eq!(l.acquire(Timeout::FOREVER), Status::Ok)),
            || (0..2).for_each(|_| assert_eq!(l.release(), Status::Ok)),
        );
    }
}

//! The holder machinery that the lock words with robust holder records share (the
//! RwLock's writer word and reader slots, the undo semaphore's holder slots; the RLock
//! keeps a one-register `Robust` of its own for its fast path): how a thread may use its robust list for an object (`Robust`, from the
//! object's `ns_flags` word), and the back-stop record of a holder (`Record`: who holds
//! a word, and the `/proc` check that it provably no longer exists).
//!
//! `ns_flags` (one `u64` in each object that uses it):
//!
//! ```text
//! bits 0..32   creator's PID-namespace id (0 if unknown)
//! bits 32..64  flags: FLAG_CROSS_NS (bit 0); an object may add its own above it
//! ```
//!
//! Nothing here reads a pointer from shared memory: the robust-list head and the book
//! are the calling thread's private state (`ThreadCtx`).

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

use super::rlock::{FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS};
use crate::sys::futex::RobustListHead;
use crate::sys::liveness::{Liveness, Vantage};
use crate::sys::robust;
use crate::sys::thread::ThreadCtx;

/// `ns_flags` flag (high half): participants in different (or unknown) PID namespaces
/// were seen. From then on holders still link their words (the kernel compares a dying
/// holder's TID in the holder's own namespace), but nobody marks a word pending while
/// not owning it.
pub(crate) const FLAG_CROSS_NS: u32 = 1;

/// True while every participant seen so far shares `me`'s PID namespace, by the
/// object's `ns_flags`; the first participant from another (or an unknown) namespace
/// sets `FLAG_CROSS_NS` for everyone — also when its own robust mode is off, since the
/// back-stop of the others depends on it.
#[inline]
pub(crate) fn one_namespace(ns_flags: &AtomicU64, me: &ThreadCtx) -> bool {
    let v = ns_flags.load(Ordering::Relaxed);
    let same = me.pidns != 0 && v as u32 == me.pidns;
    if !same && (v >> 32) as u32 & FLAG_CROSS_NS == 0 {
        ns_flags.fetch_or(u64::from(FLAG_CROSS_NS) << 32, Ordering::Relaxed);
        // Published before our CAS can be seen (pairs with the back-stop's Acquire
        // fence): a waiter that sees our TID in the word also sees the flag.
        fence(Ordering::Release);
    }
    same && (v >> 32) as u32 & FLAG_CROSS_NS == 0
}

/// How this thread uses its robust list for an object: the head (null: do not link),
/// and whether a word may be marked pending while the thread does not own it (only
/// while every participant shares our PID namespace: across namespaces a dying *waiter*
/// whose TID collides with the holder's would make the kernel mark the live holder's
/// word). (The RLock packs the same two facts into one register for its fast path.)
#[derive(Clone, Copy)]
pub(crate) struct Robust {
    pub(crate) head: *mut RobustListHead,
    pub(crate) pending_while_not_owned: bool,
}

impl Robust {
    /// How `me` may use its robust list for the object whose `ns_flags` word this is
    /// (see [`one_namespace`]).
    #[cold]
    #[inline(never)]
    pub(crate) fn of(ns_flags: &AtomicU64, me: &ThreadCtx) -> Robust {
        Robust {
            head: me.robust_head,
            pending_while_not_owned: one_namespace(ns_flags, me),
        }
    }

    #[inline]
    pub(crate) fn set_pending(self, node: &AtomicUsize) {
        if !self.head.is_null() {
            // SAFETY: `head` is the calling thread's live head (thread::current).
            unsafe { robust::set_pending(self.head, node) };
        }
    }

    #[inline]
    pub(crate) fn clear_pending(self) {
        if !self.head.is_null() {
            // SAFETY: as above.
            unsafe { robust::clear_pending(self.head) };
        }
    }

    /// Marks `node` pending before a CAS that may make us its owner, if allowed.
    #[inline]
    pub(crate) fn before_cas(self, node: &AtomicUsize) {
        if self.pending_while_not_owned {
            self.set_pending(node);
        }
    }

    /// Undoes [`before_cas`](Self::before_cas) after a CAS that failed.
    #[inline]
    pub(crate) fn after_failed_cas(self) {
        if self.pending_while_not_owned {
            self.clear_pending();
        }
    }

    /// Records a word we now own (its CAS succeeded) in the thread's book, which links
    /// it into the robust list, covering the linking with the pending mark.
    pub(crate) fn link(self, me: &ThreadCtx, node: &AtomicUsize) {
        self.set_pending(node);
        // SAFETY: the calling thread's own book (or null), not otherwise borrowed now;
        // we own the word, and the caller keeps the object mapped while held.
        if let Some(book) = unsafe { me.book.as_mut() } {
            // SAFETY: as above.
            unsafe { robust::record(book, node) };
        }
        self.clear_pending();
    }

    /// Forgets and unlinks a word we own, then frees it with `free` (one swap), the
    /// pending mark covering both: returns the word's old value.
    pub(crate) fn unlink_and_swap(
        self,
        me: &ThreadCtx,
        node: &AtomicUsize,
        word: &AtomicU32,
        free: u32,
    ) -> u32 {
        self.mark_for_release(node);
        // SAFETY: the calling thread's own book (or null), not otherwise borrowed now;
        // we own the word.
        if let Some(book) = unsafe { me.book.as_mut() } {
            // SAFETY: as above.
            unsafe { robust::forget(book, node) };
        }
        let old = word.swap(free, Ordering::SeqCst);
        self.clear_pending();
        old
    }

    /// Before a release unlinks `node` (a word we own) and frees it: marks `node`
    /// pending, so that a death between the unlink and the swap is still reported.
    /// Across namespaces the mark must not outlive our ownership (another namespace's
    /// thread with our TID may own the word right after the swap, and the kernel would
    /// mark it at our death): there the release unlinks without a mark, and takes off
    /// the one an inline acquisition may have left on this node
    /// (`robust::acquire_linked`) *before* the swap. The caller clears the mark after
    /// the swap (in every namespace: clearing our own mark is always allowed).
    #[inline]
    pub(crate) fn mark_for_release(self, node: &AtomicUsize) {
        if self.pending_while_not_owned {
            self.set_pending(node);
        } else {
            self.clear_pending();
        }
    }
}

/// The back-stop record of a holder: its ids (`pid << 32 | tid`), its thread's start
/// time and its PID-namespace id, three fields of the object.
pub(crate) struct Record<'a> {
    pub(crate) ids: &'a AtomicU64,
    pub(crate) start: &'a AtomicU64,
    pub(crate) ns: &'a AtomicU32,
}

impl Record<'_> {
    /// Writes `me` as the holder (start time and namespace before ids, Release: a
    /// back-stop that reads our ids also reads the rest, never a previous holder's).
    #[inline(always)]
    pub(crate) fn write(&self, me: &ThreadCtx) {
        self.start.store(me.start_time, Ordering::Relaxed);
        self.ns.store(me.pidns, Ordering::Relaxed);
        self.ids.store(
            (u64::from(me.pid) << 32) | u64::from(me.tid),
            Ordering::Release,
        );
    }

    /// The back-stop: true only if the thread that holds `word == held` provably no
    /// longer exists, by the judge's rules (`sys::liveness`): a recorded holder of our
    /// own PID namespace whose record matches the word, nothing changing meanwhile
    /// (bits of `ignore` aside, which waiters set on the word). Another namespace, a
    /// hidden `/proc`, a mismatching record: no.
    #[cold]
    pub(crate) fn holder_is_provably_dead(
        &self,
        me: &ThreadCtx,
        word: &AtomicU32,
        held: u32,
        ignore: u32,
    ) -> bool {
        if me.pidns == 0 {
            return false;
        }
        fence(Ordering::Acquire);
        let ids = self.ids.load(Ordering::Acquire);
        let start = self.start.load(Ordering::Relaxed);
        let ns = self.ns.load(Ordering::Relaxed);
        let (pid, tid) = ((ids >> 32) as u32, ids as u32);
        if ids == 0 || tid != held & FUTEX_TID_MASK || ns != me.pidns || start == 0 {
            return false;
        }
        let verdict = Vantage::of_namespace(me.pidns).thread(pid, tid, start, u64::from(ns));
        verdict == Liveness::Dead
            && word.load(Ordering::Acquire) & !ignore == held & !ignore
            && self.ids.load(Ordering::Relaxed) == ids
            && self.start.load(Ordering::Relaxed) == start
    }

    /// The back-stop applied: if the holder of `word == held` provably no longer exists
    /// (see [`holder_is_provably_dead`](Self::holder_is_provably_dead)), marks the word
    /// as the kernel would have (`FUTEX_OWNER_DIED`, keeping `FUTEX_WAITERS`) unless it
    /// changed meanwhile; whoever looks at it next takes the dead holder's place.
    #[cold]
    pub(crate) fn mark_if_provably_dead(
        &self,
        me: &ThreadCtx,
        word: &AtomicU32,
        held: u32,
        ignore: u32,
    ) {
        if self.holder_is_provably_dead(me, word, held, ignore) {
            let _ = word.compare_exchange(
                held,
                FUTEX_OWNER_DIED | (held & FUTEX_WAITERS),
                Ordering::SeqCst,
                Ordering::Relaxed,
            );
        }
    }
}

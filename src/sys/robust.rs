//! Linking lock words into the calling thread's kernel robust-futex list.
//!
//! The kernel keeps one robust list per thread and walks it when the thread exits,
//! is killed or execs: every listed word whose TID bits equal the dying thread's TID
//! gets `FUTEX_OWNER_DIED`, and one waiter is woken (`robust-futex.md` §1.3).
//!
//! On glibc every thread already has a list, registered by glibc itself, with
//! `futex_offset == -32` and a private doubly-linked protocol (`nptl/descr.h`,
//! `ENQUEUE_MUTEX_BOTH` / `DEQUEUE_MUTEX`). We *share* that list rather than replace
//! it (replacing it would silently disable glibc's own robust mutexes): our node sits
//! at `word + 32` (the `next` slot) with a glibc-compatible back-link at `word + 24`
//! (the `prev` slot), and we reproduce glibc's enqueue/dequeue exactly (research
//! experiment t9 shows that a naive push is unlinked by glibc later). Before a thread
//! uses the shared list, a self-test confirms glibc's layout (head's back-link slot
//! at `head - 8` points at the list's tail).
//!
//! A thread with no list (raw `clone()` threads of some runtimes) gets a list of ours
//! in the same format. When neither is safe, the thread runs with robust mode off,
//! and owner death is found by the slower liveness back-stop in the RLock.
//!
//! Every function here is per-thread (it touches the calling thread's list only) and
//! must not be used from an async signal handler that interrupted a lock operation
//! on the same thread (the same restriction as glibc's robust mutexes).

use core::sync::atomic::{AtomicUsize, Ordering, compiler_fence};

use super::futex::{RobustListHead, get_robust_list, set_robust_list};

/// glibc's LP64 `futex_offset`: lock word = node - 32.
pub const FUTEX_OFFSET: isize = -32;
/// The kernel stops walking a list after this many entries (`ROBUST_LIST_LIMIT`).
const ROBUST_LIST_LIMIT: usize = 2048;

/// How the calling thread's robust list is used. The numbers are public
/// (`mp_robust_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Not robust: owner death is detected only by the liveness back-stop.
    Off = 0,
    /// Our nodes are linked into glibc's per-thread list.
    Glibc = 1,
    /// The thread had no list; it uses one registered by libmpsync.
    Own = 2,
}

/// A list head of our own, with the back-link slot glibc keeps in front of its head.
#[repr(C)]
struct OwnHead {
    prev: usize,
    head: RobustListHead,
}

/// Chooses the mode for the calling thread and returns its list head (null when off).
pub fn init_thread(disabled: bool) -> (Mode, *mut RobustListHead) {
    if disabled {
        return (Mode::Off, core::ptr::null_mut());
    }
    match get_robust_list() {
        // Syscall unavailable (seccomp, qemu-user): nothing to share.
        None => (Mode::Off, core::ptr::null_mut()),
        Some(head) if head.is_null() => register_own(),
        Some(head) => {
            // SAFETY: `head` is the registered head of the calling thread; glibc keeps it
            // alive for the thread's lifetime, and it is at least 24 readable bytes
            // preceded by glibc's 8-byte back-link slot (verified by the self-test).
            if unsafe { (*head).futex_offset } == FUTEX_OFFSET && unsafe { self_test(head) } {
                (Mode::Glibc, head)
            } else {
                (Mode::Off, core::ptr::null_mut())
            }
        }
    }
}

/// Registers a head of ours for a thread that has none. The head is leaked on
/// purpose: the kernel reads it when the thread exits, after any destructor would run.
fn register_own() -> (Mode, *mut RobustListHead) {
    let own = Box::leak(Box::new(OwnHead {
        prev: 0,
        head: RobustListHead {
            list_next: 0,
            futex_offset: FUTEX_OFFSET,
            list_op_pending: 0,
        },
    }));
    let head: *mut RobustListHead = &mut own.head;
    own.head.list_next = head as usize;
    own.prev = head as usize;
    // SAFETY: `head` is leaked, so it stays valid until the thread exits or execs.
    if unsafe { set_robust_list(head) } {
        (Mode::Own, head)
    } else {
        (Mode::Off, core::ptr::null_mut())
    }
}

/// glibc's invariant: the slot in front of the head (`robust_prev`) points at the
/// list's last node, or at the head itself when the list is empty.
///
/// # Safety
/// `head` must be the calling thread's registered robust-list head.
unsafe fn self_test(head: *mut RobustListHead) -> bool {
    let head_addr = head as usize;
    let mut tail = head_addr;
    // SAFETY: the caller guarantees `head` is this thread's live head; its entries
    // are nodes of locks this thread holds (memory it has mapped), walked with the
    // kernel's own bound.
    unsafe {
        let mut entry = (*head).list_next & !1;
        let mut n = 0;
        while entry != head_addr {
            if entry == 0 || n == ROBUST_LIST_LIMIT {
                return false;
            }
            tail = entry;
            entry = *(entry as *const usize) & !1;
            n += 1;
        }
        *((head_addr - 8) as *const usize) == tail
    }
}

/// Marks `node` as "being linked or unlinked" so that the kernel also looks at it if
/// the thread dies in the middle of the operation.
///
/// # Safety
/// `head` is the calling thread's live head (from [`init_thread`]).
#[inline]
pub unsafe fn set_pending(head: *mut RobustListHead, node: &AtomicUsize) {
    // SAFETY: per the contract, `head` is valid and only this thread writes it.
    unsafe { (*head).list_op_pending = node.as_ptr() as usize };
    compiler_fence(Ordering::SeqCst);
}

/// Clears the pending slot.
///
/// # Safety
/// As [`set_pending`].
#[inline]
pub unsafe fn clear_pending(head: *mut RobustListHead) {
    compiler_fence(Ordering::SeqCst);
    // SAFETY: per the contract, `head` is valid and only this thread writes it.
    unsafe { (*head).list_op_pending = 0 };
}

/// Pushes the node (`next` slot; `prev` slot 8 bytes before it) at the front of the
/// list, exactly as glibc's `ENQUEUE_MUTEX_BOTH`.
///
/// # Safety
/// `head` is the calling thread's live head; the calling thread has just acquired the
/// lock that owns `prev`/`next` (so no other thread touches them), and `prev` is the
/// 8 bytes directly before `next`.
#[inline]
pub unsafe fn enqueue(head: *mut RobustListHead, prev: &AtomicUsize, next: &AtomicUsize) {
    let node = next.as_ptr() as usize;
    // SAFETY: per the contract; `first` is the head itself or a node of a lock this
    // thread holds, and its back-link slot is the 8 bytes before it.
    unsafe {
        let first = (*head).list_next;
        *(((first & !1) - 8) as *mut usize) = node;
        next.store(first, Ordering::Relaxed);
        prev.store(head as usize, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        (*head).list_next = node;
    }
}

/// Unlinks the node, exactly as glibc's `DEQUEUE_MUTEX`.
///
/// # Safety
/// As [`enqueue`], and the node is currently linked in this thread's list.
#[inline]
pub unsafe fn dequeue(prev: &AtomicUsize, next: &AtomicUsize) {
    let p = prev.load(Ordering::Relaxed);
    let n = next.load(Ordering::Relaxed);
    // SAFETY: the node is linked, so `p` points at the previous node's `next` slot
    // (or the head's `list_next`) and `n` at the next node (or the head), whose
    // back-link slot is 8 bytes before it; all belong to this thread.
    unsafe {
        *(((n & !1) - 8) as *mut usize) = p;
        *((p & !1) as *mut usize) = n;
    }
    compiler_fence(Ordering::SeqCst);
    prev.store(0, Ordering::Relaxed);
    next.store(0, Ordering::Relaxed);
}
/// STUB (h-shm): replaced by the robust book on merge.
pub(crate) fn thread_holds_lock_in(_start: usize, _len: usize) -> bool {
    false
}

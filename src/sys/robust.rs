//! The calling thread's kernel robust-futex list, and the private "book" of the RLocks
//! the thread holds.
//!
//! The kernel keeps one robust list per thread and walks it when the thread exits,
//! is killed or execs: every listed word whose TID bits equal the dying thread's TID
//! gets `FUTEX_OWNER_DIED`, and one waiter is woken.
//!
//! On glibc every thread already has a list, registered by glibc itself, with
//! `futex_offset == -32` and a private doubly-linked protocol (`nptl/descr.h`,
//! `ENQUEUE_MUTEX_BOTH` / `DEQUEUE_MUTEX`: a `prev` slot 8 bytes before each `next`).
//! We *share* that list rather than replace it (replacing it would silently disable
//! glibc's own robust mutexes). Before a thread uses the shared list, a self-test
//! confirms glibc's layout. A thread with no list (raw `clone()` threads of some
//! runtimes) gets a list of ours in the same format. When neither is safe, the thread
//! runs with robust mode off, and owner death is found by the RLock's back-stop.
//!
//! **Never follow what lives in shared memory.** An RLock's `next` slot lies in the
//! shared object, where any process that maps it may rewrite it. So nothing here ever
//! reads a lock's node. Each thread owns a [`Book`] in its private heap with two
//! anchor nodes, linked into the thread's list once, next to each other:
//!
//! ```text
//! head -> [glibc mutexes] -> start -> [our locks, in the book's order] -> end -> [glibc mutexes] -> head
//! ```
//!
//! glibc only pushes at the front and unlinks its own nodes through *their*
//! neighbours, so it only ever writes into the anchors (private memory), never into our
//! nodes. Our segment's order is kept in the [`Book`]; linking and unlinking write
//! `pred.next = x` where `pred` comes from that private list (an anchor, or the node of
//! another lock this thread holds). A peer that scribbles on a lock can therefore break
//! that lock, and mislead the kernel's own walk of this list at our death (inherent to
//! kernel robust futexes), but can never make this thread write outside the objects
//! it holds or read a pointer it chose.
//!
//! The book also answers "does this thread hold a lock in `[start, start + len)`?"
//! from private state ([`thread_holds_lock_in`]), so that unmapping or destroying a
//! held lock can be refused: an unmapped node would stop the kernel's walk (and with it
//! the cleanup of every glibc robust mutex behind it) and crash the next list update.
//!
//! Every function here is per-thread (it touches the calling thread's list only) and
//! must not be used from an async signal handler that interrupted a lock operation
//! on the same thread (the same restriction as glibc's robust mutexes).
//!
//! Files: [`list`] holds the mechanics, which need no thread identity, so that
//! `thread` can build each thread's list and book through it; this file re-exports
//! them and adds the questions about the calling thread's own book, which it gets from
//! `thread`. (`list` and `chain` never import this file or `thread`: no cycle.)

/// The book's chain of held locks (a stack addressed by its top).
mod chain;
pub(super) mod list;

pub(crate) use list::{
    Book, FUTEX_OFFSET, Mode, acquire_linked, book_has_room, book_lists, clear_pending, forget,
    forget_last, has_room, is_last, make_room, plan_pop, pop_unlinked_last, record,
    record_linked_with_room, record_with_room, release_last_linked, set_pending,
    unlink_last_linked,
};

/// True if the calling thread holds an RLock (recorded in its book) inside
/// `[start, start + len)`: unmapping or destroying that memory must be refused.
pub(crate) fn thread_holds_lock_in(start: usize, len: usize) -> bool {
    // A thread that never used the library holds nothing (and needs no book now).
    let Some(me) = super::thread::current_if_ready() else {
        return false;
    };
    // SAFETY: the calling thread's own book (or null), used only during this call.
    unsafe { me.book.as_ref() }.is_some_and(|book| list::book_holds_in(book, start, len))
}

/// Test aid: the locks the calling thread's book lists, oldest first, checked against
/// our segment of its robust list as the kernel would walk it (see `list::held_checked`).
#[cfg(test)]
pub(crate) fn held_by_current_thread_checked() -> Vec<usize> {
    let me = super::thread::current();
    // SAFETY: the calling thread's own book, used only during this call.
    unsafe { me.book.as_ref() }.map_or_else(Vec::new, list::held_checked)
}

/// Test aid: the calling thread's `list_op_pending` (0 without a robust list).
#[cfg(test)]
pub(crate) fn pending_mark_of_current_thread() -> usize {
    let me = super::thread::current();
    if me.robust_head.is_null() {
        return 0;
    }
    // SAFETY: the calling thread's live head; only read.
    unsafe { (*me.robust_head).list_op_pending }
}

//! The mechanics of the robust list and the book (see the parent module for the
//! design): registering or sharing a thread's list, and recording, linking and
//! unlinking the locks a thread holds. Every function takes the list head or the book
//! it works on: none needs the thread's identity (`thread` owns that, and builds each
//! thread's list and book through this file).

use core::sync::atomic::{AtomicUsize, Ordering, compiler_fence};

use super::chain::Chain;
use crate::sys::futex::{RobustListHead, get_robust_list, set_robust_list};

/// glibc's LP64 `futex_offset`: lock word = node - 32.
pub(crate) const FUTEX_OFFSET: isize = -32;

/// How the calling thread's robust list is used. The numbers are public
/// (`mp_robust_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Mode {
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
pub(crate) fn init_thread(disabled: bool) -> (Mode, *mut RobustListHead) {
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
/// Without memory for it, the thread runs with robust mode off.
fn register_own() -> (Mode, *mut RobustListHead) {
    let layout = std::alloc::Layout::new::<OwnHead>();
    // SAFETY: OwnHead has a non-zero size. (Not `Box::new`, which aborts when memory
    // is short.)
    let own = unsafe { std::alloc::alloc(layout) } as *mut OwnHead;
    if own.is_null() {
        return (Mode::Off, core::ptr::null_mut());
    }
    // SAFETY: fresh memory, suitably aligned for one OwnHead, never freed.
    let own = unsafe {
        own.write(OwnHead {
            prev: 0,
            head: RobustListHead {
                list_next: 0,
                futex_offset: FUTEX_OFFSET,
                list_op_pending: 0,
            },
        });
        &mut *own
    };
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
/// list's last entry (whose `next` is the head), or at the head itself when the list is
/// empty. Checked without walking the list: entries may live in shared memory, and
/// their `next` words are not ours to follow. Only the last entry's `next` is read
/// (the entry of a glibc mutex this thread holds, which glibc itself reads the same way).
///
/// # Safety
/// `head` must be the calling thread's registered robust-list head.
unsafe fn self_test(head: *mut RobustListHead) -> bool {
    let head_addr = head as usize;
    // SAFETY: the caller guarantees `head` is this thread's live head; glibc keeps its
    // 8-byte back-link slot right in front of it (an LP64 `struct pthread` field).
    unsafe {
        let first = (*head).list_next & !1;
        let tail = *((head_addr - 8) as *const usize);
        if first == head_addr {
            return tail == head_addr;
        }
        // Non-empty: the tail is a held glibc mutex's `next` slot, pointing back at the
        // head.
        tail != 0 && tail.is_multiple_of(8) && (*(tail as *const usize) & !1) == head_addr
    }
}

/// Marks `node` as "being linked or unlinked" so that the kernel also looks at it if
/// the thread dies in the middle of the operation.
///
/// # Safety
/// `head` is the calling thread's live head (from [`init_thread`]).
#[inline]
pub(crate) unsafe fn set_pending(head: *mut RobustListHead, node: &AtomicUsize) {
    // SAFETY: per the contract, `head` is valid and only this thread writes it.
    unsafe { (*head).list_op_pending = node.as_ptr() as usize };
    compiler_fence(Ordering::SeqCst);
}

/// Clears the pending slot.
///
/// # Safety
/// As [`set_pending`].
#[inline]
pub(crate) unsafe fn clear_pending(head: *mut RobustListHead) {
    compiler_fence(Ordering::SeqCst);
    // SAFETY: per the contract, `head` is valid and only this thread writes it.
    unsafe { (*head).list_op_pending = 0 };
}

// ---------------------------------------------------------------------------
// The book: the locks this thread holds, in private memory
// ---------------------------------------------------------------------------

/// A node of our own in the robust list: a `next` slot at +32 (the entry the kernel
/// sees), glibc's `prev` slot at +24, and a futex word at +0 (`next - 32`) that stays 0,
/// so that the kernel never matches it against a dying thread's TID.
#[repr(C)]
struct Anchor {
    word: u32,
    _pad: [u32; 5],
    prev: AtomicUsize,
    next: AtomicUsize,
}

impl Anchor {
    const fn new() -> Anchor {
        Anchor {
            word: 0,
            _pad: [0; 5],
            prev: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
        }
    }

    /// The entry address the list uses (the `next` slot).
    #[inline]
    fn node(&self) -> usize {
        self.next.as_ptr() as usize
    }
}

const _: () = {
    assert!(core::mem::offset_of!(Anchor, next) as isize + FUTEX_OFFSET == 0);
    assert!(core::mem::offset_of!(Anchor, prev) + 8 == core::mem::offset_of!(Anchor, next));
};

/// How many held locks a new book has room for before it must grow.
const INITIAL_CAPACITY: usize = 16;

/// The calling thread's private record of the RLocks it holds (see the module docs).
/// Heap memory of the thread: never shared, never moved while linked.
pub(crate) struct Book {
    /// The thread's robust-list head; null when nothing is linked (robust mode off).
    head: *mut RobustListHead,
    /// Our segment of the list in order: the `start` anchor's node, then the
    /// `next`-slot addresses of the locks this thread holds, in acquisition order
    /// (usually released from the back). The anchor entry makes "the predecessor of
    /// the last lock" a plain load. Locks are listed whether or not they are linked
    /// into the robust list (`head` decides).
    chain: Chain,
    start: Anchor,
    end: Anchor,
}

/// Creates the calling thread's book and, with a list `head`, links the two anchors
/// into that list. Null if memory is short (the thread then links nothing and
/// records nothing; see `RawRLock`).
///
/// Never inlined (it runs once per thread): the book is leaked on purpose when a thread
/// exits holding a lock, and the fuzz target's leak suppression (fuzz/lsan.supp) finds
/// those allocations by this function's name in their stack.
///
/// # Safety
/// `head` is null or the calling thread's live head (from [`init_thread`]).
#[inline(never)]
pub(crate) unsafe fn new_book(head: *mut RobustListHead) -> *mut Book {
    let Some(chain) = Chain::with_capacity(INITIAL_CAPACITY) else {
        return core::ptr::null_mut();
    };
    let layout = std::alloc::Layout::new::<Book>();
    // SAFETY: Book has a non-zero size.
    let book = unsafe { std::alloc::alloc(layout) } as *mut Book;
    if book.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: `book` is fresh, suitably aligned memory for one Book; from here on it
    // does not move, so the anchors' addresses are final.
    unsafe {
        book.write(Book {
            head,
            chain,
            start: Anchor::new(),
            end: Anchor::new(),
        });
        let start = (*book).start.node();
        (*book).chain.push(start);
    }
    if !head.is_null() {
        // SAFETY: `book` is initialised above and lives until `retire_book`; `head` is
        // the thread's live head per the contract.
        unsafe { link_anchors(&*book, head) };
    }
    book
}

/// Inserts `start -> end` at the front of the list, exactly as glibc's
/// `ENQUEUE_MUTEX_BOTH` would insert one mutex.
///
/// # Safety
/// `head` is the calling thread's live head; `book` outlives its membership in the list.
unsafe fn link_anchors(book: &Book, head: *mut RobustListHead) {
    let (start, end) = (book.start.node(), book.end.node());
    // SAFETY: `head` is the thread's live head (private TLS); `first` is the head
    // itself or the node of a glibc mutex this thread holds, and its glibc back-link
    // slot is the 8 bytes before it (glibc's own protocol; the self-test checked it).
    unsafe {
        let first = (*head).list_next;
        book.start.next.store(end, Ordering::Relaxed);
        book.start.prev.store(head as usize, Ordering::Relaxed);
        book.end.prev.store(start, Ordering::Relaxed);
        book.end.next.store(first, Ordering::Relaxed);
        *(((first & !1) - 8) as *mut usize) = end;
        compiler_fence(Ordering::SeqCst);
        (*head).list_next = start;
    }
}

/// Records that the calling thread now holds the lock whose `next` slot is `node`,
/// and links it into the robust list (at the end of our segment). The caller owns the
/// lock (so nobody else legitimately writes `node`) and has marked it pending.
/// Returns false if the book could not grow (the lock is then held unrecorded and
/// unlinked: its owner's death is left to the back-stop).
///
/// # Safety
/// `book` is the calling thread's book; the lock stays mapped while recorded (the
/// callers' contract, enforced for our own mappings by `robust::thread_holds_lock_in`).
pub(crate) unsafe fn record(book: &mut Book, node: &AtomicUsize) -> bool {
    if !book_has_room(book) && !grow(book) {
        return false;
    }
    // SAFETY: per the contract; there is room now.
    unsafe { record_with_room(book, node) };
    true
}

/// True if `book` is a book with room for one more lock without growing.
///
/// # Safety
/// `book` is null or the calling thread's book.
#[inline(always)]
pub(crate) unsafe fn has_room(book: *const Book) -> bool {
    // SAFETY: per the contract.
    unsafe { book.as_ref() }.is_some_and(book_has_room)
}

/// [`has_room`] for a book in hand.
#[inline(always)]
pub(crate) fn book_has_room(book: &Book) -> bool {
    book.chain.has_room()
}

/// [`record`] when [`has_room`] just said yes (no growth, so no call).
///
/// # Safety
/// As [`record`], and `has_room(book)` holds.
#[inline(always)]
pub(crate) unsafe fn record_with_room(book: &mut Book, node: &AtomicUsize) {
    if !book.head.is_null() {
        // SAFETY: per the contract, and the book links (non-null head).
        unsafe { record_linked_with_room(book, node) };
        return;
    }
    let addr = node.as_ptr() as usize;
    // Not linked: the slot names the node itself, so that a release through another
    // mapping of the same lock finds this entry.
    node.store(addr, Ordering::Relaxed);
    // SAFETY: the book has room for one more entry (the contract).
    unsafe { book.push_with_room(addr) };
}

/// [`record_with_room`] for a book that links ([`Book::links`]): no test of the head.
///
/// # Safety
/// As [`record_with_room`], and `book.links()` holds.
#[inline(always)]
pub(crate) unsafe fn record_linked_with_room(book: &mut Book, node: &AtomicUsize) {
    // SAFETY: forwarded contract (room).
    let plan = unsafe { plan_push(book) };
    // SAFETY: forwarded contract; `plan` was made just now.
    unsafe { record_linked_planned(book, node, plan) };
}

/// Everything that recording one more lock writes into the book, read from it
/// beforehand ([`plan_push`]). A plan made before an atomic instruction leaves only
/// stores of known values to known places after it, with no load and no branch: a
/// branch on a book word that the pair writes cost 3.8 ns in front of the atomic
/// instruction and 1 ns after it (BENCHMARKS.md, "Undo semaphore"). But a plan held
/// across the instruction can make the compiler save registers around it (about
/// 1.2 ns): the undo semaphore's acquire and [`acquire_linked`] (the RwLock's inline
/// paths, which then need no stack frame) plan right after their atomic step instead
/// ([`record_linked_with_room`]: two loads, no branch), which measured faster there
/// (BENCHMARKS.md, "Undo semaphore: fewer instructions").
#[derive(Clone, Copy)]
pub(crate) struct PushPlan {
    /// The entry to link after: the chain's last.
    pred: usize,
    /// The chain's top, where the new entry goes.
    at: *mut usize,
}

/// Plans recording one more lock (see [`PushPlan`]).
///
/// # Safety
/// The book has room ([`book_has_room`]).
#[inline(always)]
pub(crate) unsafe fn plan_push(book: &Book) -> PushPlan {
    PushPlan {
        // SAFETY: the chain holds at least the start anchor.
        pred: unsafe { book.chain.nth_back(1) },
        at: book.chain.top(),
    }
}

/// [`record_linked_with_room`] carried out from `plan`: stores only.
///
/// # Safety
/// As [`record_linked_with_room`], and `plan` is `plan_push(book)`, with nothing done to
/// the book since.
#[inline(always)]
pub(crate) unsafe fn record_linked_planned(book: &mut Book, node: &AtomicUsize, plan: PushPlan) {
    let addr = node.as_ptr() as usize;
    // SAFETY: `plan.pred` is the start anchor or a held lock's node, and `plan.at` is
    // the chain's top, with room (the contract).
    unsafe {
        // `pred` comes from private state: our `start` anchor or the node of a lock
        // this thread holds (mapped, per the contract). One aligned store links us,
        // which is the whole insertion as the kernel sees it.
        node.store(book.end.node(), Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        (*(plan.pred as *const AtomicUsize)).store(addr, Ordering::Relaxed);
        plan.at.write(addr);
        book.chain.set_top(plan.at.add(1));
    }
}

/// Grows the book now if it is full, so that the next [`record`] needs no allocation:
/// called before an acquisition takes the word (allocating while nothing is held).
/// Failure is left for `record` to see.
///
/// # Safety
/// `book` is null or the calling thread's book, not otherwise borrowed.
pub(crate) unsafe fn make_room(book: *mut Book) {
    // SAFETY: per the contract.
    if let Some(b) = unsafe { book.as_mut() } {
        if !book_has_room(b) {
            grow(b);
        }
    }
}

#[cold]
#[inline(never)]
fn grow(book: &mut Book) -> bool {
    book.chain.grow(INITIAL_CAPACITY)
}

/// Forgets the lock whose `next` slot is `node` and unlinks it from the robust list,
/// using only the book's order: `pred.next = succ`. Nothing happens if the book does
/// not list it (never recorded, or a peer made us look like its owner). The caller
/// owns the lock and has marked it pending.
///
/// # Safety
/// As [`record`].
#[inline]
pub(crate) unsafe fn forget(book: &mut Book, node: &AtomicUsize) {
    if is_last(book, node) {
        // SAFETY: per the contract, and `is_last` holds.
        unsafe { forget_last(book, node) };
    } else {
        forget_out_of_order(book, node);
    }
}

/// True if `node` is the most recently recorded lock of `book` (the usual release).
#[inline(always)]
pub(crate) fn is_last(book: &Book, node: &AtomicUsize) -> bool {
    // With nothing held, the last entry is the start anchor's node (private memory),
    // which is no lock's node.
    // SAFETY: the chain holds at least the start anchor.
    unsafe { book.chain.nth_back(1) == node.as_ptr() as usize }
}

/// [`forget`] when [`is_last`] just said yes.
///
/// # Safety
/// As [`record`], and `is_last(book, node)` holds.
#[inline(always)]
pub(crate) unsafe fn forget_last(book: &mut Book, node: &AtomicUsize) {
    if !book.head.is_null() {
        // SAFETY: per the contract, and the book links.
        unsafe { forget_last_linked(book, node) };
        return;
    }
    node.store(0, Ordering::Relaxed);
    // SAFETY: a lock is listed (the contract).
    unsafe { book.pop_last() };
}

/// [`forget_last`] for a book that links ([`Book::links`]): no test of the head.
///
/// # Safety
/// As [`forget_last`], and `book.links()` holds.
#[inline(always)]
pub(crate) unsafe fn forget_last_linked(book: &mut Book, node: &AtomicUsize) {
    // SAFETY: forwarded contract (a lock is listed).
    let plan = unsafe { plan_pop(book) };
    // SAFETY: forwarded contract; `plan` was made just now.
    unsafe {
        unlink_last_linked(book, node, plan);
        pop_unlinked_last(book, plan);
    }
}

/// Everything that forgetting the last lock reads from the book, read beforehand
/// ([`plan_pop`]; see [`PushPlan`] for why).
#[derive(Clone, Copy)]
pub(crate) struct PopPlan {
    /// The last lock's predecessor.
    pred: usize,
    /// The chain's new top (the last lock's entry).
    at: *mut usize,
}

/// Plans forgetting the last lock (see [`PopPlan`]).
///
/// # Safety
/// The book lists a lock.
#[inline(always)]
pub(crate) unsafe fn plan_pop(book: &Book) -> PopPlan {
    // SAFETY: a lock is listed, after the start anchor: two entries at least.
    unsafe {
        PopPlan {
            pred: book.chain.nth_back(2),
            at: book.chain.top().sub(1),
        }
    }
}

/// The first half of [`forget_last_linked`]: unlinks the last lock from the robust list
/// (the stores to shared memory), leaving the book as it was. For a caller that makes
/// an atomic step as early as it can after the unlink and updates the book after that
/// step with [`pop_unlinked_last`] (the book is private: nobody else sees it lag).
///
/// # Safety
/// As [`forget_last_linked`], `plan` is [`plan_pop`] of the book as it is, and the
/// caller calls `pop_unlinked_last` next (before any other operation on the book).
#[inline(always)]
pub(crate) unsafe fn unlink_last_linked(book: &Book, node: &AtomicUsize, plan: PopPlan) {
    // SAFETY: `plan.pred` is our anchor or a held lock's node (see `record`): private
    // order; a lock is listed (the contract).
    unsafe {
        (*(plan.pred as *const AtomicUsize)).store(book.end.node(), Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        // Leave no address of ours in shared memory.
        node.store(0, Ordering::Relaxed);
    }
}

/// The second half of [`forget_last_linked`]: drops the lock that
/// [`unlink_last_linked`] unlinked from the book. Stores only.
///
/// # Safety
/// `unlink_last_linked(book, .., plan)` was the last operation on `book`.
#[inline(always)]
pub(crate) unsafe fn pop_unlinked_last(book: &mut Book, plan: PopPlan) {
    // SAFETY: `plan.at` is the last entry's place (the contract): the entries below it
    // stay.
    unsafe { book.chain.set_top(plan.at) };
}

/// An inline acquisition of a lock word in the robust format, put together from the
/// parts above: marks `node` pending and runs `take` (the one atomic step that makes us
/// the owner). On success, links and records `node` (planned only after the atomic
/// step, see [`PushPlan`]) and runs `held` (the caller's stores and loads as the new
/// owner): `Some` of what `held` returned, with the mark left on `node` (below).
/// `None` if `take` failed (the mark cleared, nothing else changed).
///
/// **The mark left on the node.** `list_op_pending` keeps naming the node once it is
/// linked (one store fewer per acquire + release pair than clearing it: measured 1-4 %
/// of the pair, BENCHMARKS.md "a fourth pass"), and when the mark goes:
///
/// - The kernel handles a pending node that is also linked once: its walk skips the
///   entry equal to `list_op_pending` and handles that entry after the walk. So a
///   thread that dies holding the lock is detected exactly as with the mark cleared.
/// - The node stays mapped while the mark names it: the mark is replaced by the thread's
///   next robust-list operation (ours, or glibc's, which clears it after its own), and
///   every path that forgets the node from the book clears the mark (the inline
///   releases, `holder::Robust::unlink_and_swap` and the undo semaphore's `go_idle`, in
///   every namespace: clearing our own mark is always allowed; where another PID
///   namespace takes part, before the swap that frees the word, since a thread there
///   may have our TID and own the word right after it: `Robust::mark_for_release`); a
///   node that the book lists is never unmapped (`thread_holds_lock_in`). A `fork()`
///   child clears the mark it inherits (`thread::after_fork_child`; glibc expects none
///   at a fork).
/// - A word that is taken from us meanwhile (a peer's scribble, a back-stop's verdict)
///   holds another TID, which the kernel compares before it writes anything (or 0, for
///   which the kernel's handling of a pending node at our death is one spurious wake-up
///   of that word's waiters).
///
/// # Safety
/// `head` is the calling thread's live robust-list head and `book` its book, which
/// links and has room ([`book_has_room`]); the lock stays mapped while recorded (as
/// for [`record`]).
#[inline(always)]
pub(crate) unsafe fn acquire_linked<R>(
    book: &mut Book,
    head: *mut RobustListHead,
    node: &AtomicUsize,
    take: impl FnOnce() -> bool,
    held: impl FnOnce() -> R,
) -> Option<R> {
    // SAFETY: the thread's live head (the contract).
    unsafe { set_pending(head, node) };
    let got = take().then(|| {
        // SAFETY: the book links and has room; we own the lock, which stays mapped
        // while recorded (the contract).
        unsafe { record_linked_with_room(book, node) };
        held()
    });
    if got.is_none() {
        // SAFETY: as above.
        unsafe { clear_pending(head) };
    }
    // Taken: the mark stays on the node (see above).
    got
}

/// An inline release of the book's last lock, put together from the parts above: plans
/// the pop (before the atomic step, so that only stores follow it), marks `node`
/// pending, unlinks it, runs `free` (the caller's stores as the owner, then the one
/// atomic step that frees the word), clears the mark and drops the lock from the book.
/// Returns what `free` returned.
///
/// # Safety
/// `head` is the calling thread's live robust-list head and `book` its book, which
/// links; the caller owns the lock, and `is_last(book, node)` holds.
#[inline(always)]
pub(crate) unsafe fn release_last_linked<R>(
    book: &mut Book,
    head: *mut RobustListHead,
    node: &AtomicUsize,
    free: impl FnOnce() -> R,
) -> R {
    // SAFETY: the book lists a lock (`is_last`, the contract).
    let plan = unsafe { plan_pop(book) };
    // SAFETY: the thread's live head (the contract).
    unsafe { set_pending(head, node) };
    // SAFETY: we own the lock; the book links, `is_last` holds, `plan` is fresh.
    unsafe { unlink_last_linked(book, node, plan) };
    let freed = free();
    // SAFETY: as above.
    unsafe { clear_pending(head) };
    // SAFETY: `unlink_last_linked` just unlinked the book's last lock per `plan`.
    unsafe { pop_unlinked_last(book, plan) };
    freed
}

/// [`forget`] for a lock that is not the most recently acquired one, or that was
/// acquired through another mapping of the same object (a named lock opened twice in
/// one process: the book lists the node's address in the mapping used to acquire).
#[cold]
#[inline(never)]
fn forget_out_of_order(book: &mut Book, node: &AtomicUsize) {
    let addr = node.as_ptr() as usize;
    let len = book.chain.len();
    let i = match (1..len).rev().find(|&i| book.chain.get(i) == addr) {
        Some(i) => i,
        None => {
            // Another mapping of a lock we hold: its node (the same bytes) holds what we
            // stored through the first mapping. Compared, never followed: a forged
            // value can at worst make us forget another lock this thread holds.
            let seen = node.load(Ordering::Relaxed);
            match (1..len).rev().find(|&i| seen == book.stored_next(i)) {
                Some(i) => i,
                None => return,
            }
        }
    };
    if !book.head.is_null() {
        let pred = book.chain.get(i - 1);
        let succ = if i + 1 < len {
            book.chain.get(i + 1)
        } else {
            book.end.node()
        };
        // SAFETY: as in `record`: `pred` is our anchor or a held lock's node.
        unsafe { (*(pred as *const AtomicUsize)).store(succ, Ordering::Relaxed) };
        compiler_fence(Ordering::SeqCst);
    }
    node.store(0, Ordering::Relaxed);
    book.chain.remove(i);
}

impl Book {
    /// Appends `addr` to the chain.
    ///
    /// # Safety
    /// The book has room ([`book_has_room`]).
    #[inline(always)]
    unsafe fn push_with_room(&mut self, addr: usize) {
        // SAFETY: room for one more (the contract).
        unsafe {
            let top = self.chain.top();
            top.write(addr);
            self.chain.set_top(top.add(1));
        }
    }

    /// Drops the last lock from the chain.
    ///
    /// # Safety
    /// The chain lists a lock.
    #[inline(always)]
    unsafe fn pop_last(&mut self) {
        // SAFETY: a lock is listed (the contract): the entries below the new top stay.
        unsafe { self.chain.set_top(self.chain.top().sub(1)) };
    }

    /// True if the book links the locks it records into the thread's robust list (the
    /// thread has a list: robust mode is on).
    #[inline(always)]
    pub(crate) fn links(&self) -> bool {
        !self.head.is_null()
    }

    /// What entry `i` (a lock) holds in its `next` slot: its successor when linked, its
    /// own address when not (see `record_with_room`).
    fn stored_next(&self, i: usize) -> usize {
        if self.head.is_null() {
            self.chain.get(i)
        } else if i + 1 < self.chain.len() {
            self.chain.get(i + 1)
        } else {
            self.end.node()
        }
    }
}

/// The page lines (bit `i`: bytes `64 i .. 64 i + 64` of a page) of `[addr, addr +
/// len)`.
pub(crate) fn lines_of(addr: usize, len: usize) -> u64 {
    let mut lines = 0u64;
    let mut a = addr & !63;
    while a < addr + len {
        lines |= 1 << ((a >> 6) & 63);
        a += 64;
    }
    lines
}

/// The page lines that a fast path's stores into `book` touch: the book itself and the
/// first entries of its chain (a thread that holds few locks stays there). 0 for null.
pub(crate) fn private_lines(book: *const Book) -> u64 {
    // SAFETY: null, or the calling thread's book (only its address and its chain's base
    // are read).
    let Some(b) = (unsafe { book.as_ref() }) else {
        return 0;
    };
    lines_of(b as *const Book as usize, core::mem::size_of::<Book>())
        | lines_of(b.chain.base() as usize, 4 * core::mem::size_of::<usize>())
}

/// True if the book lists the lock whose `next` slot is `node` (by its address in the
/// mapping it was acquired through; the node's contents are not read).
pub(crate) fn book_lists(book: &Book, node: &AtomicUsize) -> bool {
    let addr = node.as_ptr() as usize;
    book.chain.iter().skip(1).any(|a| a == addr)
}

/// True if the book lists a lock whose node lies in `[start, start + len)`.
pub(crate) fn book_holds_in(book: &Book, start: usize, len: usize) -> bool {
    let end = start.saturating_add(len);
    book.chain.iter().skip(1).any(|a| a >= start && a < end)
}

/// Test aid: the locks `book` lists, oldest first; when it links, also walks our segment
/// of the robust list as the kernel would, from the start anchor to the end anchor, and
/// panics if the two disagree.
#[cfg(test)]
pub(crate) fn held_checked(book: &Book) -> Vec<usize> {
    let held: Vec<usize> = book.chain.iter().skip(1).collect();
    if book.links() {
        let mut walked = Vec::new();
        let mut at = book.start.next.load(Ordering::Relaxed);
        while at != book.end.node() {
            assert!(
                walked.len() <= held.len(),
                "robust list longer than the book"
            );
            walked.push(at);
            // SAFETY: a node of a lock this thread holds (test objects stay mapped).
            at = unsafe { (*(at as *const AtomicUsize)).load(Ordering::Relaxed) };
        }
        assert_eq!(walked, held, "robust list and book disagree");
    }
    held
}

/// At thread exit: if the thread holds nothing, unlinks the anchors and frees the book
/// (true). Otherwise leaves everything linked for the kernel's walk at exit, and
/// leaks the book (false).
///
/// # Safety
/// `book` is the calling thread's book, not used again if this returns true.
pub(crate) unsafe fn retire_book(book: *mut Book) -> bool {
    // SAFETY: per the contract.
    let b = unsafe { &*book };
    if b.chain.len() > 1 {
        return false;
    }
    if !b.head.is_null() {
        // glibc's DEQUEUE_MUTEX applied to our two-node segment. The anchors' outer
        // links are private memory that glibc maintains (it writes them whenever it
        // links or unlinks a neighbour).
        let p = b.start.prev.load(Ordering::Relaxed);
        let n = b.end.next.load(Ordering::Relaxed);
        // SAFETY: `p` is the head or a held glibc mutex's node, `n` likewise; both
        // belong to this thread's list (glibc's protocol).
        unsafe {
            *(((n & !1) - 8) as *mut usize) = p;
            *((p & !1) as *mut usize) = n;
        }
        compiler_fence(Ordering::SeqCst);
    }
    // SAFETY: allocated by `new_book` with this layout; no longer linked anywhere.
    unsafe { drop_book(book) };
    true
}

/// Frees a book without touching any list: in a `fork()` child, whose list glibc (or
/// the kernel) already emptied, for the parent's copy of the book.
///
/// # Safety
/// `book` came from [`new_book`] and is not used again.
pub(crate) unsafe fn drop_book(book: *mut Book) {
    // SAFETY: per the contract.
    unsafe {
        core::ptr::drop_in_place(book);
        std::alloc::dealloc(book.cast(), std::alloc::Layout::new::<Book>());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_lock_nodes(n: usize) -> Vec<AtomicUsize> {
        (0..n).map(|_| AtomicUsize::new(0)).collect()
    }

    #[test]
    fn book_without_a_list_records_in_any_order() {
        // SAFETY: no head: nothing is linked.
        let book = unsafe { new_book(core::ptr::null_mut()) };
        assert!(!book.is_null());
        // SAFETY: our book, single-threaded.
        let b = unsafe { &mut *book };
        let nodes = fake_lock_nodes(40);
        for n in &nodes {
            // SAFETY: the nodes outlive the book's use of them.
            assert!(unsafe { record(b, n) });
        }
        let base = nodes[0].as_ptr() as usize;
        assert!(book_holds_in(b, base, 8));
        // SAFETY: as above.
        unsafe {
            forget(b, &nodes[3]);
            forget(b, &nodes[39]);
            forget(b, &nodes[3]); // not held any more: no effect
        }
        assert!(!book_holds_in(b, nodes[3].as_ptr() as usize, 8));
        assert!(book_holds_in(b, nodes[4].as_ptr() as usize, 8));
        for n in &nodes {
            // SAFETY: as above.
            unsafe { forget(b, n) };
        }
        assert_eq!(b.chain.len(), 1);
        // SAFETY: the thread holds nothing; no list.
        assert!(unsafe { retire_book(book) });
    }

    /// One page of memory mapped twice (two addresses, the same bytes), as a named lock
    /// opened twice in one process.
    fn two_views() -> (*mut u8, *mut u8) {
        // SAFETY: plain system calls on a fresh memfd; the mappings are leaked (test).
        unsafe {
            let fd = libc::memfd_create(c"mpsync-alias".as_ptr(), 0);
            assert!(fd >= 0);
            assert_eq!(libc::ftruncate(fd, 4096), 0);
            let map = || {
                let p = libc::mmap(
                    core::ptr::null_mut(),
                    4096,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED,
                    fd,
                    0,
                );
                assert_ne!(p, libc::MAP_FAILED);
                p as *mut u8
            };
            let (a, b) = (map(), map());
            libc::close(fd);
            (a, b)
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "mmap")]
    fn release_through_another_mapping_finds_the_entry() {
        for linked in [false, true] {
            let mut h = Box::new(TestHead::EMPTY);
            let head = h.make_empty();
            // SAFETY: a private list for this test, or none.
            let book = unsafe { new_book(if linked { head } else { core::ptr::null_mut() }) };
            // SAFETY: our book.
            let b = unsafe { &mut *book };
            let (v1, v2) = two_views();
            // SAFETY: both views are mapped for the rest of the test; offsets 40 and 104
            // are 8-aligned (two "locks" in the page).
            let (a1, a2, x1) = unsafe {
                (
                    &*(v1.add(40) as *const AtomicUsize),
                    &*(v2.add(40) as *const AtomicUsize),
                    &*(v1.add(104) as *const AtomicUsize),
                )
            };
            // SAFETY: as above.
            unsafe {
                assert!(record(b, a1));
                assert!(record(b, x1));
                // Released through the other view, out of order.
                forget(b, a2);
            }
            assert_eq!(b.chain.len(), 2, "linked: {linked}");
            assert_eq!(b.chain.get(1), x1.as_ptr() as usize);
            if linked {
                assert_eq!(b.start.next.load(Ordering::Relaxed), x1.as_ptr() as usize);
            }
            // SAFETY: as above.
            unsafe { forget(b, x1) };
            // SAFETY: holds nothing.
            assert!(unsafe { retire_book(book) });
        }
    }

    /// A private list head with glibc's back-link slot in front, as `register_own` makes.
    #[repr(C)]
    struct TestHead {
        prev: usize,
        head: RobustListHead,
    }

    impl TestHead {
        const EMPTY: TestHead = TestHead {
            prev: 0,
            head: RobustListHead {
                list_next: 0,
                futex_offset: FUTEX_OFFSET,
                list_op_pending: 0,
            },
        };

        /// Makes the list empty where it lies (the head and the back-link point at the
        /// head): returns the head pointer a book keeps.
        fn make_empty(&mut self) -> *mut RobustListHead {
            let head: *mut RobustListHead = &raw mut self.head;
            // SAFETY: `head` points into `self`, alive; written through the pointer that
            // the book keeps (Miri's aliasing rules).
            unsafe { (*head).list_next = head as usize };
            self.prev = head as usize;
            head
        }
    }

    #[test]
    fn linking_never_reads_a_node() {
        let mut h = Box::new(TestHead::EMPTY);
        let head = h.make_empty();
        // SAFETY: `head` is a valid private list for this test (never registered).
        let book = unsafe { new_book(head) };
        // SAFETY: our book.
        let b = unsafe { &mut *book };
        let (start, end) = (b.start.node(), b.end.node());
        assert_eq!(h.head.list_next, start);
        assert_eq!(h.prev, end);
        let nodes = fake_lock_nodes(3);
        // SAFETY: the nodes outlive their membership.
        unsafe {
            for n in &nodes {
                assert!(record(b, n));
            }
        }
        let addr = |i: usize| nodes[i].as_ptr() as usize;
        // start -> 0 -> 1 -> 2 -> end -> head
        assert_eq!(b.start.next.load(Ordering::Relaxed), addr(0));
        assert_eq!(nodes[0].load(Ordering::Relaxed), addr(1));
        assert_eq!(nodes[1].load(Ordering::Relaxed), addr(2));
        assert_eq!(nodes[2].load(Ordering::Relaxed), end);
        assert_eq!(b.end.next.load(Ordering::Relaxed), head as usize);
        // A peer scribbles on a held lock's node: unlinking does not read it.
        nodes[1].store(0xdead_0000, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { forget(b, &nodes[1]) };
        assert_eq!(nodes[0].load(Ordering::Relaxed), addr(2));
        assert_eq!(nodes[1].load(Ordering::Relaxed), 0);
        // SAFETY: as above.
        unsafe {
            forget(b, &nodes[2]);
            forget(b, &nodes[0]);
        }
        assert_eq!(b.start.next.load(Ordering::Relaxed), end);
        // SAFETY: holds nothing; unlinks the anchors from our private list.
        assert!(unsafe { retire_book(book) });
        assert_eq!(h.head.list_next, head as usize);
        assert_eq!(h.prev, head as usize);
    }
}

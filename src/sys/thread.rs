//! Who is calling: the thread's kernel TID, a 64-bit owner token, its robust list and
//! book of held locks, and the process's identity (pid, pid namespace, start times for
//! the back-stop).
//!
//! Everything is cached in thread-local storage on first use and thrown away in the
//! child after `fork()` (a `pthread_atfork` child handler), so a forked child never
//! passes for its parent: it gets a new TID, a new token, a fresh robust list and an
//! empty book. At thread exit a `pthread` key's destructor unlinks and frees the book if
//! the thread holds nothing (otherwise the kernel walks it at exit, and it is leaked).
//!
//! Nothing here may abort when memory is short (a thread's first call may come at any
//! time): the book is allocated fallibly (without one the thread runs with robust mode
//! off), and the environment and the thread-exit hook are reached without allocating.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[cfg(not(miri))]
use super::fork;
use super::futex::RobustListHead;
#[cfg(not(miri))]
use super::liveness;
// The mechanics, not `robust` itself, which asks this module for the calling thread's
// book.
use super::robust::list::{self as robust, Book, Mode};

/// The calling thread's identity. Lives in the thread's 64-byte initial-exec TLS slot
/// (`src/sys/tls.c`), which starts all-zero: `tid == 0` means "not initialised yet",
/// and every field's zero is a valid value.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct ThreadCtx {
    /// Kernel TID (what the robust futex word records). 0 = not initialised.
    pub tid: u32,
    /// Process id (thread group id).
    pub pid: u32,
    /// Random, never 0, unique per thread and per fork generation: "is it mine?".
    pub token: u64,
    /// The thread's start time in clock ticks since boot (0 if unknown): with the TID
    /// it tells a dead owner from a live thread that reuses its TID.
    pub start_time: u64,
    /// The caller's PID-namespace id (`/proc/self/ns/pid` inode; 0 if unknown).
    pub pidns: u32,
    /// The line of a page (0..64, 64 bytes each) where this thread's home holder slot of
    /// an undo semaphore lies, whatever the object's address (`RawSemUndo::home`):
    /// drawn from the token among the lines that none of the thread's own hot private
    /// memory occupies (this context, the robust head, the book: [`private_lines`]).
    /// Otherwise a slot word could share its page offset with a private word that the
    /// same fast path has just stored, and the CPU would hold the slot's load back
    /// behind that store (4K aliasing): measured 1.5-2x the cost of a pair in the
    /// processes whose token drew such a line.
    pub undo_line: u32,
    /// What an object's `ns_flags` word reads when its creator shares our namespace and
    /// no participant from another one was seen: `pidns` as a u64, or `u64::MAX` (which
    /// no `ns_flags` word holds) when `pidns` is unknown. Lets a fast path make that
    /// decision with one compare.
    pub same_ns_key: u64,
    /// The thread's robust list head, or null when robust mode is off. Non-null only
    /// with a non-null `book` that links into it (both are set, and cleared at thread
    /// exit, together), so a fast path may test this one pointer for both.
    pub robust_head: *mut RobustListHead,
    /// The thread's private book of held locks (see `robust`); null if it could not be
    /// allocated, or after the thread-exit destructor freed it.
    pub book: *mut Book,
    /// How the robust list is used.
    pub robust_mode: Mode,
    /// More than one CPU is usable by this thread (its affinity mask when it first used
    /// the library): spinning before sleeping can only pay off then — with one CPU, the
    /// thread that would release the lock cannot run while we spin.
    pub may_spin: bool,
    /// `64 * ((token >> 32) % HOME_SLOTS)`: the byte offset of this thread's home slot in
    /// a table of [`HOME_SLOTS`] one-line (64-byte) slots (the RwLock's reader slots),
    /// precomputed so that a fast path finds its slot with one load (it lies in the
    /// padding after the flags: the context stays 64 bytes).
    pub home_slot_offset: u16,
    /// `64 * undo_line - 1` (wrapping): the page offset of the byte just before the
    /// home line, so that `RawSemUndo::home` finds the home slot of an object at any
    /// address with one subtraction and one mask (no shift, no second add).
    pub undo_line_end: u32,
}

/// How many slots the table of [`ThreadCtx::home_slot_offset`] has.
pub(crate) const HOME_SLOTS: u64 = 64;

impl ThreadCtx {
    const UNINIT: ThreadCtx = ThreadCtx {
        tid: 0,
        pid: 0,
        token: 0,
        start_time: 0,
        pidns: 0,
        same_ns_key: u64::MAX,
        robust_head: core::ptr::null_mut(),
        undo_line: 0,
        book: core::ptr::null_mut(),
        robust_mode: Mode::Off,
        may_spin: false,
        undo_line_end: 0,
        home_slot_offset: 0,
    };
}

const _: () =
    assert!(core::mem::size_of::<ThreadCtx>() <= 64 && core::mem::align_of::<ThreadCtx>() <= 16);

#[cfg(all(not(target_arch = "x86_64"), not(miri)))]
unsafe extern "C" {
    /// The calling thread's 64-byte, 16-aligned, zero-initialised TLS slot.
    fn mpsync_thread_slot() -> *mut ThreadCtx;
}

/// The calling thread's slot.
///
/// On x86_64 this is the initial-exec TLS sequence itself (a GOT load of the slot's
/// offset from the thread pointer, plus the thread pointer at `%fs:0`), so a lock call
/// pays no function call for it; elsewhere it calls the C accessor.
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[inline(always)]
fn slot() -> *mut ThreadCtx {
    let p: *mut ThreadCtx;
    // SAFETY: the x86_64 ELF TLS ABI: `mpsync_slot@GOTTPOFF` is a GOT entry holding the
    // (negative) offset of the initial-exec TLS variable `mpsync_slot` (src/sys/tls.c)
    // from the thread pointer, and `%fs:0` holds the thread pointer itself. Reads only.
    unsafe {
        core::arch::asm!(
            "mov {p}, qword ptr [rip + mpsync_slot@GOTTPOFF]",
            "add {p}, qword ptr fs:[0]",
            p = out(reg) p,
            options(pure, readonly, nostack, preserves_flags)
        );
    }
    p
}

/// The calling thread's slot (see the x86_64 version).
#[cfg(all(not(target_arch = "x86_64"), not(miri)))]
#[inline]
fn slot() -> *mut ThreadCtx {
    // SAFETY: a plain C function without preconditions.
    unsafe { mpsync_thread_slot() }
}

/// Under Miri (which runs neither inline assembly nor C): a Rust thread-local slot.
#[cfg(miri)]
fn slot() -> *mut ThreadCtx {
    thread_local! {
        static SLOT: core::cell::UnsafeCell<ThreadCtx> =
            const { core::cell::UnsafeCell::new(ThreadCtx::UNINIT) };
    }
    SLOT.with(|s| s.get())
}

/// The calling thread's identity (initialised on first use).
///
/// The reference points into the calling thread's TLS: it is `!Send` (ThreadCtx holds a
/// raw pointer), and callers use it only for the duration of one library call.
#[inline]
pub(crate) fn current() -> &'static ThreadCtx {
    // SAFETY: the slot is valid for the thread's lifetime, suitably sized and aligned
    // for ThreadCtx (asserted above), and all-zero is a valid ThreadCtx. Only this
    // thread writes it (init_current, or the fork child handler in the same thread),
    // never while a reference from `current` is in use.
    let ctx = unsafe { &*slot() };
    if ctx.tid != 0 { ctx } else { init_current() }
}

/// `MPSYNC_NO_ROBUST` has been read. Not a `std::sync::Once`: a child forked while
/// another thread ran one would wait for it forever (reading twice is harmless).
static ENV_READ: AtomicBool = AtomicBool::new(false);
/// The calling thread's identity if it is already initialised (for fast paths that
/// hand the first call of a thread to a cold path).
#[inline(always)]
pub(crate) fn current_if_ready() -> Option<&'static ThreadCtx> {
    // SAFETY: as in `current`.
    let ctx = unsafe { &*slot() };
    if ctx.tid != 0 { Some(ctx) } else { None }
}

/// The calling thread's identity as it is, initialised or not: all zeros (a null
/// `book`, a zero `tid`) before the thread's first call. For fast paths whose
/// conditions include a non-null book, which an uninitialised thread fails, so that they
/// need no separate test.
#[inline(always)]
pub(crate) fn current_as_is() -> &'static ThreadCtx {
    // SAFETY: as in `current`.
    unsafe { &*slot() }
}

/// Set by `MPSYNC_NO_ROBUST=1` in the environment (read once per process).
static ROBUST_DISABLED: AtomicBool = AtomicBool::new(false);
static TOKEN_COUNTER: AtomicU64 = AtomicU64::new(0);
/// Retires the calling thread's book (see [`robust::retire_book`]): the destructor of
/// [`EXIT_KEY`], run by glibc when a thread exits (before the kernel walks its robust
/// list). The key's value only makes glibc call it; the slot says what to retire.
#[cfg(not(miri))]
extern "C" fn retire_at_thread_exit(_value: *mut libc::c_void) {
    // SAFETY: this thread's own slot; no reference from `current` is in use while a
    // thread-exit destructor runs.
    let ctx = unsafe { &mut *slot() };
    if ctx.book.is_null() {
        return;
    }
    // SAFETY: the calling thread's own book.
    if unsafe { robust::retire_book(ctx.book) } {
        // Later destructors that use the library run without book or list.
        ctx.book = core::ptr::null_mut();
        ctx.robust_head = core::ptr::null_mut();
        ctx.robust_mode = Mode::Off;
    }
}

/// The `pthread_key_t` whose destructor is [`retire_at_thread_exit`], plus
/// [`KEY_BASE`]; `NO_KEY` before it exists, `KEY_CREATING` while one thread creates it.
///
/// Why a `pthread` key, not a Rust `thread_local!` with a destructor: registering a
/// Rust thread-local destructor calls glibc's `__cxa_thread_atexit_impl`, which
/// allocates and, when memory is short, kills the process ("failed to register TLS
/// destructor: out of memory"). `pthread_key_create` allocates nothing, and
/// `pthread_setspecific` allocates only for a key numbered 32 or more, and then fails
/// with `ENOMEM` instead. The key is deleted when the library is unloaded (see
/// [`DELETE_AT_UNLOAD`]), so that glibc never calls a destructor that is gone. (glibc
/// runs key destructors for a thread that ends, not at the process's `exit`, where
/// nothing needs retiring.)
#[cfg(not(miri))]
static EXIT_KEY: AtomicU64 = AtomicU64::new(NO_KEY);
#[cfg(not(miri))]
const NO_KEY: u64 = 0;
#[cfg(not(miri))]
const KEY_CREATING: u64 = 1;
#[cfg(not(miri))]
const KEY_BASE: u64 = 2;

/// The key of [`EXIT_KEY`], created on first use (normally by the load-time
/// constructor); `None` if it cannot be had (no key left, or another thread takes
/// unusually long to create it).
#[cfg(not(miri))]
fn exit_key() -> Option<libc::pthread_key_t> {
    // Bounded: a thread that finds another one creating the key waits a little, then
    // goes without (its book is then kept at its exit, as a thread's that holds locks).
    for _ in 0..1000 {
        let k = EXIT_KEY.load(Ordering::Acquire);
        if k >= KEY_BASE {
            return Some((k - KEY_BASE) as libc::pthread_key_t);
        }
        if k == NO_KEY
            && EXIT_KEY
                .compare_exchange(NO_KEY, KEY_CREATING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let mut key: libc::pthread_key_t = 0;
            // SAFETY: `key` is a valid out-parameter; the destructor is an `extern "C"
            // fn` that touches only the calling thread's slot and book.
            let made =
                unsafe { libc::pthread_key_create(&mut key, Some(retire_at_thread_exit)) } == 0;
            let state = if made {
                u64::from(key) + KEY_BASE
            } else {
                NO_KEY
            };
            EXIT_KEY.store(state, Ordering::Release);
            return made.then_some(key);
        }
        std::thread::yield_now();
    }
    None
}

/// Has [`retire_at_thread_exit`] run when the calling thread exits. False if it cannot
/// be arranged (no key, or no memory for glibc's record of the value): the book is then
/// left allocated and linked at the thread's exit, which is harmless but leaks it.
#[cfg(not(miri))]
fn retire_book_at_exit(book: *mut robust::Book) -> bool {
    let Some(key) = exit_key() else {
        return false;
    };
    // SAFETY: a key of this library; any non-null value makes glibc call the
    // destructor at thread exit.
    unsafe { libc::pthread_setspecific(key, book.cast()) == 0 }
}

/// Creates the key when the library is loaded, before threads race for it.
#[cfg(not(miri))]
#[used]
#[unsafe(link_section = ".init_array")]
static CREATE_KEY_AT_LOAD: extern "C" fn() = {
    extern "C" fn at_load() {
        let _ = exit_key();
    }
    at_load
};

/// Deletes the key when the library is unloaded (`dlclose`, or process exit): glibc
/// must not call [`retire_at_thread_exit`] after its code is gone. Threads that exit
/// later keep their books (the memory stays, harmlessly linked).
#[cfg(not(miri))]
#[used]
#[unsafe(link_section = ".fini_array")]
static DELETE_AT_UNLOAD: extern "C" fn() = {
    extern "C" fn at_unload() {
        let k = EXIT_KEY.swap(NO_KEY, Ordering::AcqRel);
        if k >= KEY_BASE {
            // SAFETY: our own key, deleted once (the swap above).
            unsafe { libc::pthread_key_delete((k - KEY_BASE) as libc::pthread_key_t) };
        }
    }
    at_unload
};

/// Under Miri: an identity without system calls (Miri supports none of gettid,
/// robust lists, /proc or pthread_atfork); robust mode off.
#[cfg(miri)]
#[cold]
fn init_current() -> &'static ThreadCtx {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let ctx = ThreadCtx {
        tid: n as u32,
        pid: 1,
        token: n,
        may_spin: true,
        // SAFETY: no list head: nothing is linked. Leaked at thread exit under Miri.
        book: unsafe { robust::new_book(core::ptr::null_mut()) },
        ..ThreadCtx::UNINIT
    };
    // SAFETY: this thread's own slot; no reference to it is live.
    unsafe {
        slot().write(ctx);
        &*slot()
    }
}

#[cfg(not(miri))]
#[cold]
fn init_current() -> &'static ThreadCtx {
    // Normally registered when the library was loaded.
    FORK_HANDLERS.ensure();
    if !ENV_READ.load(Ordering::Acquire) {
        ROBUST_DISABLED.store(robust_disabled_by_env(), Ordering::Relaxed);
        ENV_READ.store(true, Ordering::Release);
    }
    // SAFETY: gettid/getpid cannot fail.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
    let pid = unsafe { libc::getpid() } as u32;
    let (mut robust_mode, mut robust_head) =
        robust::init_thread(ROBUST_DISABLED.load(Ordering::Relaxed));
    // SAFETY: `robust_head` is null or this thread's live head.
    let book = unsafe { robust::new_book(robust_head) };
    if book.is_null() {
        // Without a book nothing can be linked safely (or unlinked without reading
        // shared memory): run with robust mode off.
        (robust_mode, robust_head) = (Mode::Off, core::ptr::null_mut());
    } else {
        // If this fails, the book outlives the thread (see `retire_book_at_exit`).
        let _ = retire_book_at_exit(book);
    }
    let pidns = liveness::own_pidns();
    let token = new_token(tid);
    let line = undo_line(token, robust_head, book);
    let ctx = ThreadCtx {
        tid,
        pid,
        token,
        // Our start time is evidence for other processes' back-stops (it rules out
        // the reuse of our ids). Read through /proc/thread-self, which names this
        // thread in any /proc that can see it; 0 where none can.
        start_time: liveness::own_thread_start_time().unwrap_or(0),
        pidns,
        same_ns_key: if pidns != 0 {
            u64::from(pidns)
        } else {
            u64::MAX
        },
        robust_head,
        undo_line: line,
        book,
        robust_mode,
        may_spin: usable_cpus() > 1,
        undo_line_end: (line * 64).wrapping_sub(1),
        home_slot_offset: home_slot_offset(token),
    };
    // SAFETY: this thread's own slot (see `current`); no reference to it is live.
    unsafe {
        slot().write(ctx);
        &*slot()
    }
}

/// `MPSYNC_NO_ROBUST` is set to something other than "" and "0".
#[cfg(not(miri))]
fn robust_disabled_by_env() -> bool {
    // Not `std::env::var_os`: it copies the value to the heap, and this runs in a
    // thread's first library call, where memory may be short.
    // SAFETY: a NUL-terminated name; the value is read at once, as every C library
    // reads its environment (a concurrent `setenv` is the caller's race, as for them).
    let v = unsafe { libc::getenv(c"MPSYNC_NO_ROBUST".as_ptr()) };
    if v.is_null() {
        return false;
    }
    // SAFETY: `getenv` returns a NUL-terminated string.
    let v = unsafe { core::ffi::CStr::from_ptr(v) }.to_bytes();
    !v.is_empty() && v != b"0"
}

// SAFETY: `after_fork_child` touches only the calling thread's slot and book and the
// thread-exit key's state, and in the child the forking thread is the only thread.
#[cfg(not(miri))]
static FORK_HANDLERS: fork::Handlers =
    unsafe { fork::Handlers::new(None, None, Some(after_fork_child)) };
#[cfg(not(miri))]
fork::register_at_load!(FORK_HANDLERS);

/// The `pthread_atfork` child handler: the child starts with a fresh identity.
#[cfg(not(miri))]
extern "C" fn after_fork_child() {
    // The child's only thread is the one that forked: forget its identity so that the
    // next call re-reads the TID, draws a new token and re-reads the robust list head
    // (glibc registers an empty list in the child; the kernel gave it none).
    // The parent's book is a copy here, linked into no list of the child (glibc empties
    // the child's list; the kernel gives it none): just free it. The thread-exit key
    // still holds its address; the destructor reads the slot, never that value.
    // A fork in the middle of another thread's creation of the key: that thread does
    // not exist here, so let the next caller create one.
    let _ = EXIT_KEY.compare_exchange(KEY_CREATING, NO_KEY, Ordering::AcqRel, Ordering::Relaxed);
    // SAFETY: this thread's own slot and book; the child runs no other code of ours
    // meanwhile.
    unsafe {
        // An inline acquisition leaves its pending mark on the node it holds
        // (`robust::acquire_linked`), and glibc's child side keeps the mark as it was
        // (it expects none at `fork`): the child holds nothing, so it must not keep a
        // mark on the parent's node.
        let head = (*slot()).robust_head;
        if !head.is_null() {
            robust::clear_pending(head);
        }
        let old = (*slot()).book;
        if !old.is_null() {
            robust::drop_book(old);
        }
        slot().write(ThreadCtx::UNINIT);
    }
}

/// 64 random bits, never 0. `getrandom` normally; if that fails, a mix of the TID,
/// time and a counter (still unique within the machine for practical purposes).
fn new_token(tid: u32) -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: `buf` is 8 writable bytes.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), 8, libc::GRND_NONBLOCK) };
    let mut t = u64::from_ne_bytes(buf);
    if n != 8 {
        let now = super::time::monotonic_now();
        t = (u64::from(tid) << 32) ^ (now.tv_nsec as u64) ^ ((now.tv_sec as u64) << 20);
    }
    t ^= TOKEN_COUNTER
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .rotate_left(17);
    if t == 0 { 1 } else { t }
}

/// The page lines (bit `i`: bytes `64 i .. 64 i + 64` of a page) that the calling
/// thread's hot private memory occupies: its context in TLS, its robust head and its
/// book (`robust::private_lines`).
fn private_lines(head: *mut RobustListHead, book: *mut robust::Book) -> u64 {
    let mut lines = robust::private_lines(book);
    for (addr, len) in [
        (slot() as usize, core::mem::size_of::<ThreadCtx>()),
        (head as usize, 24),
    ] {
        if addr != 0 {
            lines |= robust::lines_of(addr, len);
        }
    }
    lines
}

/// [`private_lines`] of the calling thread, for tests.
#[cfg(test)]
pub(crate) fn private_lines_of_current() -> u64 {
    let me = current();
    private_lines(me.robust_head, me.book)
}

/// [`ThreadCtx::home_slot_offset`] for `token`.
fn home_slot_offset(token: u64) -> u16 {
    ((token >> 32) % HOME_SLOTS * 64) as u16
}

/// [`ThreadCtx::undo_line`]: the first line at or after the token's choice that no hot
/// private memory of this thread occupies (the token's choice if all are taken). Never
/// line 0: the slot there lies at the header's page offset of a page-aligned object (a
/// named or anonymous one), one page on, where its stores would alias the header and
/// value words that every call loads first.
fn undo_line(token: u64, head: *mut RobustListHead, book: *mut robust::Book) -> u32 {
    let taken = private_lines(head, book) | 1;
    let first = (token >> 32) as u32 % 64;
    (0..64)
        .map(|k| (first + k) % 64)
        .find(|&l| taken & (1 << l) == 0)
        .unwrap_or(first)
}

/// How many CPUs the calling thread may run on (1 if unknown).
fn usable_cpus() -> u32 {
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed; pid 0 = caller.
    unsafe {
        let mut set: libc::cpu_set_t = core::mem::zeroed();
        if libc::sched_getaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return 1;
        }
        libc::CPU_COUNT(&set) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(miri))]
    #[test]
    fn fork_handlers_are_registered_at_load() {
        assert!(FORK_HANDLERS.registered());
    }

    #[test]
    fn identity_is_per_thread() {
        let a = current();
        assert_ne!(a.tid, 0);
        assert_ne!(a.token, 0);
        assert_eq!(current().token, a.token);
        let b = std::thread::spawn(|| {
            let c = current();
            (c.tid, c.token, c.pid)
        })
        .join()
        .unwrap();
        let b = ThreadCtx {
            tid: b.0,
            token: b.1,
            pid: b.2,
            ..ThreadCtx::UNINIT
        };
        assert_ne!(a.tid, b.tid);
        assert_ne!(a.token, b.token);
        assert_eq!(a.pid, b.pid);
    }
}

//! Fuzzes every `mp_*` entry point of the C ABI with arbitrary object memory and
//! arbitrary arguments.
//!
//! The input is a program: its first `HEAD` bytes become the start of the memory that
//! in-place calls (`mp_T_init`, `acquire`, `wait`, ...) see as objects (the rest of its
//! `MEM` bytes starts zeroed), and the rest is a list of operations with their
//! arguments: calls on that memory (at aligned, misaligned and NULL addresses),
//! scribbles over it between calls, anonymous and named objects (`mp_T_new`,
//! `mp_T_open`, arrays, shared memory blocks) used and scribbled on the same way, array
//! copies with arbitrary indices and lengths, names, flags and modes.
//!
//! Undo semaphores (`mp_sem_undo_t`) get every `mp_sem_undo_*` entry point, in place
//! and as handles, and the calls that must refuse while the calling thread holds units
//! (`mp_sem_undo_detach`, `mp_sem_undo_close`, `mp_sem_undo_destroy`) right after a
//! unit was taken: none of them may succeed while the thread still holds units through
//! that address (its slot is linked into the thread's robust list), and a refusal
//! changes nothing (the units are still held through it). In-place memory is shared by
//! every kind, so plain-semaphore calls on an undo semaphore (and the reverse) happen
//! too: they must be `MP_EBADOBJ`, never a crash.
//!
//! Every blocking call gets a timeout of 0, 1 or 2 ms (or `block == false`), so a call
//! that hangs is a bug that libFuzzer's `-timeout` reports. Each input runs on a
//! fresh thread: an RLock it leaves held is dropped with that thread's robust list
//! and does not leak into the next input. Named objects get the per-process prefix
//! `$MPSYNC_FUZZ_PREFIX` (default `mpfz<pid>-`) and are unlinked when the input ends; nothing is created under any
//! other name. `MPSYNC_FUZZ_SKIP=rlock` (comma-separated kinds: lock, rlock, sem,
//! cond, event, barrier, semundo, rwlock, array, shm, queue) leaves kinds out, to fuzz the rest while a known
//! bug in one kind is being fixed.
#![no_main]

use core::ffi::{c_int, c_void};
use std::ffi::{CStr, CString};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mpsync::ffi::array::*;
use mpsync::ffi::barrier::*;
use mpsync::ffi::common::*;
use mpsync::ffi::cond::*;
use mpsync::ffi::event::*;
use mpsync::ffi::lock::*;
use mpsync::ffi::queue::*;
use mpsync::ffi::rlock::*;
use mpsync::ffi::rwlock::*;
use mpsync::ffi::sem::*;
use mpsync::ffi::sem_undo::*;
use mpsync::ffi::shm::*;
use mpsync::ffi::{MP_CREATE, MP_EXCL, MP_OK, mp_status};

/// Bytes of fuzzed object memory (room for two 64-byte objects plus misaligned
/// offsets of each).
/// Room for the largest object at the largest offset `addr` picks (127): a reader-writer
/// lock (`MP_RWLOCK_SIZE`, 4224 bytes) and an undo semaphore (4160) included, rounded up
/// to 64.
const MEM: usize = 4352;
const _: () = assert!(MEM - 127 >= MP_RWLOCK_SIZE);
/// Bytes of the input copied to the start of the memory. Far less than `MEM`, so that
/// an input within libFuzzer's `-max_len` (scripts/fuzz.sh: 4096) still has room for
/// operations (with the whole `MEM` taken from the input, none had any); the rest of
/// the memory is reached by scribbles and `init` calls. The seeds were written for it.
const HEAD: usize = 256;
/// Most operations per input.
const MAX_OPS: usize = 96;
/// Largest array we create (elements); copies use a buffer that holds any array.
const MAX_ARRAY_LEN: usize = 4096;
const COPY_BUF: usize = 8192; // u64s: 64 KiB, more than any array's mapping

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Lock,
    RLock,
    Sem,
    Cond,
    Event,
    Barrier,
    SemUndo,
    Array,
    Shm,
    RwLock,
    Queue,
}

/// Every kind; the first `IN_PLACE_KINDS` can be initialised in caller memory.
const KINDS: [Kind; 11] = [
    Kind::Lock,
    Kind::RLock,
    Kind::Sem,
    Kind::Cond,
    Kind::Event,
    Kind::Barrier,
    Kind::SemUndo,
    Kind::RwLock,
    Kind::Array,
    Kind::Shm,
    Kind::Queue,
];
const IN_PLACE_KINDS: usize = 8;

fn skipped() -> &'static Vec<Kind> {
    static SKIP: OnceLock<Vec<Kind>> = OnceLock::new();
    SKIP.get_or_init(|| {
        let list = std::env::var("MPSYNC_FUZZ_SKIP").unwrap_or_default();
        KINDS
            .iter()
            .copied()
            .filter(|k| {
                list.split(',')
                    .any(|w| w.trim().eq_ignore_ascii_case(&format!("{k:?}")))
            })
            .collect()
    })
}

/// `$MPSYNC_FUZZ_PREFIX` (scripts/fuzz.sh sets it, to clean up after a crash), else
/// `mpfz<pid>-`.
fn prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        std::env::var("MPSYNC_FUZZ_PREFIX")
            .ok()
            .filter(|p| {
                !p.is_empty()
                    && p.len() < 64
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            // SAFETY: getpid has no preconditions.
            .unwrap_or_else(|| format!("mpfz{}-", unsafe { libc::getpid() }))
    })
}

fn allowed(k: Kind) -> bool {
    !skipped().contains(&k)
}

/// Reads the input as a little byte-code program; yields zeros once it runs out.
struct Cursor<'a> {
    data: &'a [u8],
}

impl Cursor<'_> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }
    fn bool(&mut self) -> bool {
        self.u8() & 1 != 0
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// A timeout for a blocking call: never long, sometimes zero.
    fn short_timeout(&mut self) -> i64 {
        i64::from(self.u8() % 3)
    }
    /// `(block, timeout_ms)`: without `block` the timeout is ignored, so any value.
    fn block_timeout(&mut self) -> (bool, i64) {
        if self.bool() {
            (true, self.short_timeout())
        } else {
            (false, self.u64() as i64)
        }
    }
    /// Makes a blocking call with a fuzzed `(block, timeout_ms)` and checks its status.
    fn blocking(&mut self, call: impl FnOnce(bool, i64) -> mp_status) {
        let (block, timeout_ms) = self.block_timeout();
        check(call(block, timeout_ms));
    }
    /// A count or index: small, at a boundary, or anything.
    fn size(&mut self) -> usize {
        match self.u8() % 4 {
            0 => usize::from(self.u8()),
            1 => usize::from(self.u8()) + MAX_ARRAY_LEN - 128,
            2 => [usize::MAX, usize::MAX / 2 + 1, usize::MAX / 8 + 1, 1 << 32]
                [self.u8() as usize % 4],
            _ => self.u64() as usize,
        }
    }
}

/// The statuses the header defines.
fn check(st: mp_status) {
    assert!((-17..=3).contains(&st), "undocumented status {st}");
}

/// Makes a query (a call with one out-value, given a fresh local) and checks its status.
fn query<T: Default>(call: impl FnOnce(*mut T) -> mp_status) {
    let mut out = T::default();
    check(call(&raw mut out));
}

/// Units of the undo semaphore at `s` that the calling thread holds through `s` (0 for
/// anything else).
///
/// # Safety
/// As for `mp_sem_undo_held`: `s` is NULL, fuzzed memory with enough bytes, or a live
/// handle.
unsafe fn held_units(s: *const mp_sem_undo_t) -> u32 {
    let mut n = 0;
    // SAFETY: forwarded contract; `n` is a valid out-pointer.
    if unsafe { mp_sem_undo_held(s, &mut n) } == MP_OK {
        n
    } else {
        0
    }
}

/// The fuzzed object memory, aligned like a real object.
#[repr(C, align(64))]
struct Mem([u8; MEM]);

/// An object this input made with `new`/`open`, closed when the input ends.
struct Handle {
    kind: Kind,
    ptr: *mut c_void,
    /// Bytes of the mapping that may be scribbled on.
    len: usize,
}

struct Run<'m> {
    mem: &'m mut Mem,
    handles: Vec<Handle>,
    /// Names this input created, unlinked at the end.
    created: Vec<CString>,
    prefix: String,
    copy: Vec<u64>,
}

/// What a barrier action does, chosen by the input.
#[repr(C)]
struct ActionCtx {
    ret: c_int,
    op: u8,
    barrier: *mut mp_barrier_t,
}

unsafe extern "C" fn action(ctx: *mut c_void) -> c_int {
    // SAFETY: `ctx` is the `ActionCtx` on the caller's stack, alive for the call.
    let a = unsafe { &*(ctx as *const ActionCtx) };
    // SAFETY: the barrier pointer is the one being waited on (or NULL): the library
    // accepts any such pointer.
    unsafe {
        match a.op % 4 {
            1 => check(mp_barrier_abort(a.barrier)),
            2 => check(mp_barrier_reset(a.barrier)),
            _ => {}
        }
    }
    a.ret
}

impl Run<'_> {
    /// An address in the fuzzed memory: one of the two object slots, a misaligned
    /// one, or NULL. At least 64 readable and writable bytes follow it.
    fn addr(&mut self, c: &mut Cursor) -> *mut c_void {
        let sel = c.u8();
        let off = match sel % 8 {
            0..=2 => 0,
            3..=5 => 64,
            6 => 1 + usize::from(sel >> 3) % 127,
            _ => return core::ptr::null_mut(),
        };
        // SAFETY: off <= 127 and MEM - 127 >= MP_RWLOCK_SIZE > MP_SEM_UNDO_SIZE: in
        // bounds for every object, the two large ones included.
        unsafe { self.mem.0.as_mut_ptr().add(off).cast() }
    }

    /// Calls one function of `kind` on `p` (object memory or a handle). True if that
    /// closed the handle `p` (the caller forgets it).
    fn object_op(&mut self, kind: Kind, p: *mut c_void, c: &mut Cursor, in_place: bool) -> bool {
        let op = c.u8();
        // SAFETY: `p` is NULL, or points into `self.mem` with at least 64 bytes after
        // it, or is a live handle of this kind: every function below accepts it (they
        // validate the header). Out-pointers are valid locals.
        unsafe {
            match kind {
                Kind::Lock => {
                    let l = p.cast::<mp_lock_t>();
                    match op % 6 {
                        0 if in_place => check(mp_lock_init(l)),
                        1 if in_place => check(mp_lock_destroy(l)),
                        2 => c.blocking(|b, t| mp_lock_acquire(l, b, t)),
                        3 => check(mp_lock_release(l)),
                        _ => query(|x| mp_lock_is_locked(l, x)),
                    }
                }
                Kind::RLock => {
                    let l = p.cast::<mp_rlock_t>();
                    match op % 7 {
                        0 if in_place => check(mp_rlock_init(l)),
                        1 if in_place => check(mp_rlock_destroy(l)),
                        2 => c.blocking(|b, t| mp_rlock_acquire(l, b, t)),
                        3 => check(mp_rlock_release(l)),
                        4 => query(|x| mp_rlock_is_mine(l, x)),
                        5 => query(|x| mp_rlock_is_locked(l, x)),
                        _ => query(|n| mp_rlock_count(l, n)),
                    }
                }
                Kind::Sem => {
                    let s = p.cast::<mp_sem_t>();
                    match op % 6 {
                        0 if in_place => check(mp_sem_init(s, c.u32(), c.u32())),
                        1 if in_place => check(mp_sem_destroy(s)),
                        2 => c.blocking(|b, t| mp_sem_acquire(s, b, t)),
                        3 => check(mp_sem_release(s)),
                        4 => query(|v| mp_sem_get_value(s, v)),
                        _ => query(|v| mp_sem_get_max_value(s, v)),
                    }
                }
                Kind::SemUndo => {
                    let s = p.cast::<mp_sem_undo_t>();
                    match op % 10 {
                        0 if in_place => check(mp_sem_undo_init(s, c.u32() % 8, c.u32() % 8)),
                        1 if in_place => check(mp_sem_undo_destroy(s)),
                        2 => c.blocking(|b, t| mp_sem_undo_acquire(s, b, t)),
                        3 => check(mp_sem_undo_release(s)),
                        4 => query(|v| mp_sem_undo_get_value(s, v)),
                        5 => query(|v| mp_sem_undo_held(s, v)),
                        // Take a unit, then give up the address while holding it:
                        // detach, destroy (in place) or close (a handle); then perhaps
                        // release.
                        6..=8 => {
                            let (b, t) = c.block_timeout();
                            check(mp_sem_undo_acquire(s, b, t));
                            let held = held_units(s);
                            let st = match (op % 10, in_place) {
                                (6, _) => mp_sem_undo_detach(s),
                                (_, true) => mp_sem_undo_destroy(s),
                                (_, false) => mp_sem_undo_close(s),
                            };
                            check(st);
                            if held > 0 {
                                // Refused, and nothing changed: the units are still ours.
                                assert_ne!(st, MP_OK, "gave up a semaphore the thread holds");
                                assert_eq!(held_units(s), held, "a refused call changed");
                            }
                            if st == MP_OK && !in_place && op % 10 != 6 {
                                return true;
                            }
                            if c.bool() {
                                check(mp_sem_undo_release(s));
                            }
                        }
                        _ => query(|v| mp_sem_undo_get_max_value(s, v)),
                    }
                }
                Kind::Cond => {
                    let cv = p.cast::<mp_cond_t>();
                    match op % 7 {
                        0 if in_place => check(mp_cond_init(cv)),
                        1 if in_place => check(mp_cond_destroy(cv)),
                        2 => {
                            // The lock: fuzzed memory, or a handle's object.
                            let lock = self.any_lock(c);
                            let t = c.short_timeout();
                            if c.bool() && allowed(Kind::RLock) {
                                check(mp_cond_wait(cv, lock.cast(), t));
                            } else {
                                check(mp_cond_wait_lock(cv, lock.cast(), t));
                            }
                        }
                        3 => check(mp_cond_notify(cv, c.u32())),
                        4 => query(|n| mp_cond_n_waiting(cv, n)),
                        _ => check(mp_cond_notify_all(cv)),
                    }
                }
                Kind::Event => {
                    let e = p.cast::<mp_event_t>();
                    match op % 7 {
                        0 if in_place => check(mp_event_init(e)),
                        1 if in_place => check(mp_event_destroy(e)),
                        2 => check(mp_event_set(e)),
                        3 => check(mp_event_clear(e)),
                        4 => query(|x| mp_event_is_set(e, x)),
                        _ => check(mp_event_wait(e, c.short_timeout())),
                    }
                }
                Kind::Barrier => {
                    let b = p.cast::<mp_barrier_t>();
                    match op % 9 {
                        0 if in_place => check(mp_barrier_init(b, c.u32() % 4)),
                        1 if in_place => check(mp_barrier_destroy(b)),
                        2 | 3 => {
                            let mut ctx = ActionCtx {
                                ret: c_int::from(c.u8() % 2),
                                op: c.u8(),
                                barrier: b,
                            };
                            let with_action = c.bool();
                            let mut idx = u32::MAX;
                            let st = mp_barrier_wait(
                                b,
                                c.short_timeout(),
                                if with_action { Some(action) } else { None },
                                (&raw mut ctx).cast(),
                                if c.bool() {
                                    &mut idx
                                } else {
                                    core::ptr::null_mut()
                                },
                            );
                            check(st);
                            if st == 0 && idx != u32::MAX {
                                assert!(idx < MP_BARRIER_PARTIES_MAX, "index {idx}");
                            }
                        }
                        4 => check(mp_barrier_abort(b)),
                        5 => check(mp_barrier_reset(b)),
                        6 => query(|n| mp_barrier_parties(b, n)),
                        7 => query(|n| mp_barrier_n_waiting(b, n)),
                        _ => query(|x| mp_barrier_is_broken(b, x)),
                    }
                }
                Kind::RwLock => {
                    let l = p.cast::<mp_rwlock_t>();
                    match op % 8 {
                        0 if in_place => check(mp_rwlock_init(l)),
                        1 if in_place => check(mp_rwlock_destroy(l)),
                        2 => c.blocking(|b, t| mp_rwlock_acquire_read(l, b, t)),
                        3 => c.blocking(|b, t| mp_rwlock_acquire_write(l, b, t)),
                        4 => check(mp_rwlock_release_read(l)),
                        5 => check(mp_rwlock_release_write(l)),
                        6 => query(|n| mp_rwlock_read_level(l, n)),
                        _ => query(|x| mp_rwlock_is_writer(l, x)),
                    }
                }
                Kind::Array => self.array_op(p.cast(), op, c),
                Kind::Queue => return self.queue_op(p.cast(), op, c),
                Kind::Shm => {
                    let s = p.cast::<mp_shm_t>();
                    let data = mp_shm_data(s);
                    let size = mp_shm_size(s);
                    let name = mp_shm_name(s);
                    assert!(!data.is_null() && !name.is_null());
                    let _ = CStr::from_ptr(name).to_bytes().len();
                    if size > 0 {
                        let off = c.u32() as usize % size;
                        *data.cast::<u8>().add(off) = c.u8();
                    }
                }
            }
        }
        false
    }

    /// A lock for `mp_cond_wait`: fuzzed memory or some handle (of any kind).
    fn any_lock(&mut self, c: &mut Cursor) -> *mut c_void {
        if c.bool() && !self.handles.is_empty() {
            let i = c.u8() as usize % self.handles.len();
            let h = &self.handles[i];
            if !matches!(h.kind, Kind::Shm | Kind::Array | Kind::Queue) {
                return h.ptr;
            }
        }
        self.addr(c)
    }

    fn array_op(&mut self, a: *mut mp_array_t, op: u8, c: &mut Cursor) {
        let buf = self.copy.as_mut_ptr().cast::<c_void>();
        // SAFETY: `a` is a live array handle; `buf` holds COPY_BUF u64s, more than any
        // array's whole mapping, so any copy the library accepts fits in it.
        unsafe {
            match op % 10 {
                0 => check(mp_array_get(a, c.size(), buf)),
                1 => check(mp_array_set(a, c.size(), buf)),
                2 => check(mp_array_read(a, c.size(), c.size(), buf)),
                3 => check(mp_array_write(a, c.size(), c.size(), buf)),
                4 => {
                    let _ = mp_array_data(a);
                }
                5 => {
                    let _ = (mp_array_len(a), mp_array_item_size(a), mp_array_type(a));
                }
                6 => {
                    let lock = mp_array_get_lock(a);
                    if !lock.is_null() && allowed(Kind::RLock) {
                        let (b, t) = c.block_timeout();
                        let st = mp_rlock_acquire(lock, b, t);
                        check(st);
                        if c.bool() {
                            check(mp_rlock_release(lock));
                        }
                    }
                }
                7 => {
                    // Read the whole array through a length the library reports.
                    let len = mp_array_len(a);
                    check(mp_array_read(a, 0, len, buf));
                }
                _ => check(mp_array_get(a, 0, buf)),
            }
        }
    }

    /// One call on a queue handle; true if it closed the handle.
    fn queue_op(&mut self, q: *mut mp_queue_t, op: u8, c: &mut Cursor) -> bool {
        let buf = self.copy.as_mut_ptr().cast::<c_void>();
        let cap = COPY_BUF * 8;
        let (b, t) = c.block_timeout();
        // SAFETY: `q` is a live queue handle; `buf` holds `cap` bytes, and every length
        // passed with it is at most `cap`; out-pointers are valid locals.
        unsafe {
            let mut n = 0usize;
            let mut lens = [0usize; 8];
            match op % 11 {
                0 | 1 => check(mp_queue_put(q, buf, c.size() % cap, b, t)),
                2 | 3 => check(mp_queue_get(q, buf, c.size() % cap, &mut n, b, t)),
                4 => {
                    let msgs = [buf.cast_const(); 3];
                    let ls = [c.size() % cap, c.size() % cap, c.size() % cap];
                    let k = c.u8() as usize % 4;
                    check(mp_queue_put_many(q, msgs.as_ptr(), ls.as_ptr(), k, b, t));
                }
                5 => {
                    let (max, len) = (c.u8() as usize % 9, c.size() % cap);
                    let st = mp_queue_get_many(q, buf, len, lens.as_mut_ptr(), max, &mut n, b, t);
                    check(st);
                    assert!(st != MP_OK || (1..=max).contains(&n));
                }
                6 => {
                    check(mp_queue_size(q, &mut n));
                    check(mp_queue_capacity(q, &mut n));
                    let mut abandoned = 0u64;
                    check(mp_queue_abandoned(q, &mut abandoned));
                }
                7 => check(mp_queue_task_done(q)),
                8 => check(mp_queue_join(q, b, t)),
                9 if c.u8() < 16 => check(mp_queue_close_producer(q)),
                10 if c.u8() < 32 => {
                    let st = mp_queue_close(q);
                    check(st);
                    return st == MP_OK;
                }
                _ => check(mp_queue_size(q, &mut n)),
            }
        }
        false
    }

    fn scribble(&mut self, c: &mut Cursor) {
        let off = (usize::from(c.u8()) | usize::from(c.u8()) << 8) % MEM;
        let n = (c.u8() as usize % 16).min(MEM - off);
        let src = c.bytes(n);
        self.mem.0[off..off + src.len()].copy_from_slice(src);
    }

    fn scribble_handle(&mut self, c: &mut Cursor) {
        if self.handles.is_empty() {
            return;
        }
        let h = &self.handles[c.u8() as usize % self.handles.len()];
        let (ptr, len) = if h.kind == Kind::Shm {
            // SAFETY: a live shm handle.
            unsafe {
                (
                    mp_shm_data(h.ptr.cast()).cast::<u8>(),
                    mp_shm_size(h.ptr.cast()),
                )
            }
        } else {
            (h.ptr.cast::<u8>(), h.len)
        };
        if len == 0 {
            return;
        }
        let off = c.u8() as usize % len.min(256);
        let n = (c.u8() as usize % 16).min(len - off);
        let src = c.bytes(n);
        // SAFETY: [off, off + n) lies inside the handle's mapping, which this process
        // mapped read-write and keeps until the input ends.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), ptr.add(off), src.len()) };
    }

    /// A name under this process's prefix: one of four slots, or arbitrary bytes
    /// (most of them invalid) after the prefix.
    fn name(&self, c: &mut Cursor) -> CString {
        let lead = if c.bool() { "/" } else { "" };
        let mut s = format!("{lead}{}", self.prefix).into_bytes();
        if c.bool() {
            s.extend_from_slice(format!("{}", c.u8() % 4).as_bytes());
        } else {
            let n = c.u8() as usize;
            s.extend(c.bytes(n).iter().copied().filter(|&b| b != 0));
        }
        CString::new(s).expect("NULs filtered")
    }

    fn flags(c: &mut Cursor) -> u32 {
        match c.u8() % 4 {
            0 => MP_CREATE,
            1 => MP_CREATE | MP_EXCL,
            2 => 0,
            _ => c.u32(),
        }
    }

    fn mode(c: &mut Cursor) -> u32 {
        match c.u8() % 3 {
            0 => 0,
            1 => 0o600,
            _ => c.u32(),
        }
    }

    fn array_type(c: &mut Cursor) -> u8 {
        const T: &[u8] = b"cbBhHiIlLqQfd?";
        let b = c.u8();
        if b < 0xf0 {
            T[b as usize % T.len()]
        } else {
            c.u8()
        }
    }

    fn array_len(c: &mut Cursor) -> usize {
        if c.u8() < 0xf0 {
            c.u32() as usize % (MAX_ARRAY_LEN + 1)
        } else {
            // Sizes whose byte count overflows or cannot be mapped.
            [usize::MAX, usize::MAX / 2, usize::MAX / 8 + 1, 1 << 45][c.u8() as usize % 4]
        }
    }

    fn push(&mut self, kind: Kind, st: mp_status, ptr: *mut c_void) {
        check(st);
        if st == 0 {
            assert!(!ptr.is_null());
            let len = match kind {
                Kind::Array => 128,
                Kind::Shm => 0,
                // An undo semaphore's holder table is scribbled on too.
                Kind::SemUndo => MP_SEM_UNDO_SIZE,
                Kind::RwLock => MP_RWLOCK_SIZE,
                // The descriptor and the smallest ring (scribbles reach 256 bytes).
                Kind::Queue => 200,
                _ => 64,
            };
            self.handles.push(Handle { kind, ptr, len });
        }
    }

    fn create(&mut self, c: &mut Cursor, named: bool) {
        let kind = KINDS[c.u8() as usize % KINDS.len()];
        if !allowed(kind) {
            return;
        }
        let name = self.name(c);
        let (flags, mode) = (Self::flags(c), Self::mode(c));
        let mut out: *mut c_void = core::ptr::null_mut();
        let o: *mut *mut c_void = &raw mut out;
        // SAFETY: `name` is NUL-terminated; `o` is a valid out-pointer.
        let st = unsafe {
            match (kind, named) {
                (Kind::Lock, false) => mp_lock_new(o.cast()),
                (Kind::Lock, true) => mp_lock_open(name.as_ptr(), flags, mode, o.cast()),
                (Kind::RLock, false) => mp_rlock_new(o.cast()),
                (Kind::RLock, true) => mp_rlock_open(name.as_ptr(), flags, mode, o.cast()),
                (Kind::RwLock, false) => mp_rwlock_new(o.cast()),
                (Kind::RwLock, true) => mp_rwlock_open(name.as_ptr(), flags, mode, o.cast()),
                (Kind::Sem, false) => mp_sem_new(c.u32(), c.u32(), o.cast()),
                (Kind::Sem, true) => {
                    mp_sem_open(name.as_ptr(), flags, mode, c.u32(), c.u32(), o.cast())
                }
                (Kind::SemUndo, false) => mp_sem_undo_new(c.u32() % 8, c.u32() % 8, o.cast()),
                (Kind::SemUndo, true) => mp_sem_undo_open(
                    name.as_ptr(),
                    flags,
                    mode,
                    c.u32() % 8,
                    c.u32() % 8,
                    o.cast(),
                ),
                (Kind::Cond, false) => mp_cond_new(o.cast()),
                (Kind::Cond, true) => mp_cond_open(name.as_ptr(), flags, mode, o.cast()),
                (Kind::Event, false) => mp_event_new(o.cast()),
                (Kind::Event, true) => mp_event_open(name.as_ptr(), flags, mode, o.cast()),
                (Kind::Barrier, false) => mp_barrier_new(c.u32() % 5, o.cast()),
                (Kind::Barrier, true) => {
                    mp_barrier_open(name.as_ptr(), flags, mode, c.u32() % 5, o.cast())
                }
                (Kind::Array, named) => {
                    let (ty, len) = (Self::array_type(c), Self::array_len(c));
                    let lock = c.bool() && allowed(Kind::RLock);
                    if named {
                        mp_array_open(name.as_ptr(), flags, mode, ty, len, lock, o.cast())
                    } else {
                        mp_array_new(ty, len, lock, o.cast())
                    }
                }
                (Kind::Queue, false) => mp_queue_new(c.size() % 70_000, o.cast()),
                (Kind::Queue, true) => {
                    mp_queue_open(name.as_ptr(), flags, mode, c.size() % 70_000, o.cast())
                }
                (Kind::Shm, named) => {
                    let size = if c.u8() < 0xf0 {
                        c.u32() as usize % 65536
                    } else {
                        [usize::MAX, usize::MAX / 2, 1 << 45, 0][c.u8() as usize % 4]
                    };
                    // An anonymous request (NULL name) must create: the library picks
                    // a `psm_` name, which is unlinked below like ours.
                    let (n, f) = if named {
                        (name.as_ptr(), flags)
                    } else {
                        (core::ptr::null(), MP_CREATE | MP_EXCL)
                    };
                    let st = mp_shm_open(n, f, size, mode, o.cast());
                    if st == 0 && !named {
                        let shm_name = CStr::from_ptr(mp_shm_name(out.cast())).to_owned();
                        self.created.push(shm_name);
                    }
                    st
                }
            }
        };
        if named && st == 0 {
            self.created.push(name);
        }
        self.push(kind, st, out);
    }

    fn misc(&mut self, c: &mut Cursor) {
        let code = c.u32() as i32;
        // SAFETY: these take plain values and return static strings.
        unsafe {
            assert!(!mp_strerror(code).is_null());
            assert!(!mp_status_name(code).is_null());
            let _ = CStr::from_ptr(mp_version_string());
        }
        let _ = (mp_version(), mp_robust_mode());
        if c.bool() {
            let name = self.name(c);
            // SAFETY: NUL-terminated; always under our prefix.
            check(unsafe { mp_unlink(name.as_ptr()) });
        } else if c.bool() {
            // SAFETY: NULL is allowed.
            check(unsafe { mp_unlink(core::ptr::null()) });
        }
    }

    fn run(&mut self, c: &mut Cursor) {
        let head = c.bytes(HEAD);
        self.mem.0[..head.len()].copy_from_slice(head);
        for _ in 0..MAX_OPS {
            if c.is_empty() {
                break;
            }
            match c.u8() % 8 {
                0 | 1 => {
                    let kind = KINDS[c.u8() as usize % IN_PLACE_KINDS];
                    if allowed(kind) {
                        let p = self.addr(c);
                        let closed = self.object_op(kind, p, c, true);
                        debug_assert!(!closed, "in-place memory is never a handle");
                    }
                }
                2 => {
                    if !self.handles.is_empty() {
                        let i = c.u8() as usize % self.handles.len();
                        let (kind, ptr) = (self.handles[i].kind, self.handles[i].ptr);
                        if self.object_op(kind, ptr, c, false) {
                            // Unmapped: its address must not be used again.
                            self.handles.swap_remove(i);
                        }
                    }
                }
                3 => self.scribble(c),
                4 => self.scribble_handle(c),
                5 => self.create(c, false),
                6 => self.create(c, true),
                _ => self.misc(c),
            }
        }
    }

    /// Closes every handle and unlinks every name this input created.
    fn finish(&mut self) {
        for h in &self.handles {
            // Units and RLock levels this thread still holds through a handle would make
            // its close refuse (MP_EBUSY) and leave the mapping behind; give them back
            // first (bounded: a scribbled count can be anything).
            // SAFETY: live handles of these kinds.
            unsafe {
                match h.kind {
                    Kind::SemUndo => {
                        for _ in 0..held_units(h.ptr.cast()).min(64) {
                            check(mp_sem_undo_release(h.ptr.cast()));
                        }
                    }
                    Kind::RLock => {
                        let mut n = 0;
                        if mp_rlock_count(h.ptr.cast(), &mut n) == MP_OK {
                            for _ in 0..n.min(64) {
                                check(mp_rlock_release(h.ptr.cast()));
                            }
                        }
                    }
                    Kind::RwLock => {
                        let mut n = 0;
                        if mp_rwlock_read_level(h.ptr.cast(), &mut n) == MP_OK {
                            for _ in 0..n.min(64) {
                                check(mp_rwlock_release_read(h.ptr.cast()));
                            }
                        }
                        check(mp_rwlock_release_write(h.ptr.cast()));
                    }
                    _ => {}
                }
            }
        }
        for h in self.handles.drain(..) {
            // SAFETY: each handle came from the matching `new`/`open` and is closed once.
            let st = unsafe {
                match h.kind {
                    Kind::Lock => mp_lock_close(h.ptr.cast()),
                    Kind::RLock => mp_rlock_close(h.ptr.cast()),
                    Kind::Sem => mp_sem_close(h.ptr.cast()),
                    Kind::SemUndo => mp_sem_undo_close(h.ptr.cast()),
                    Kind::Cond => mp_cond_close(h.ptr.cast()),
                    Kind::Event => mp_event_close(h.ptr.cast()),
                    Kind::Barrier => mp_barrier_close(h.ptr.cast()),
                    Kind::Array => mp_array_close(h.ptr.cast()),
                    Kind::Shm => mp_shm_close(h.ptr.cast()),
                    Kind::RwLock => mp_rwlock_close(h.ptr.cast()),
                    Kind::Queue => mp_queue_close(h.ptr.cast()),
                }
            };
            // A scribbled header can make close refuse (MP_EBADOBJ): a documented
            // outcome, and the mapping then stays (a bounded leak per input).
            check(st);
        }
        for name in self.created.drain(..) {
            // SAFETY: NUL-terminated.
            let _ = unsafe { mp_unlink(name.as_ptr()) };
        }
        for slot in 0..4 {
            let name = CString::new(format!("{}{slot}", self.prefix)).unwrap();
            // SAFETY: NUL-terminated.
            let _ = unsafe { mp_unlink(name.as_ptr()) };
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut mem = Box::new(Mem([0; MEM]));
    // A fresh thread per input: an RLock left held in `mem` is linked in that thread's
    // robust list, which the kernel drops when the thread exits. The explicit join
    // (pthread_join, unlike the end of `scope`) waits for that exit, and for the
    // thread's TLS destructors, before `mem` is freed.
    std::thread::scope(|s| {
        let input = s.spawn(|| {
            let mut run = Run {
                mem: &mut mem,
                handles: Vec::new(),
                created: Vec::new(),
                prefix: prefix().to_owned(),
                copy: vec![0; COPY_BUF],
            };
            let mut c = Cursor { data };
            run.run(&mut c);
            run.finish();
        });
        if let Err(panic) = input.join() {
            std::panic::resume_unwind(panic);
        }
    });
});

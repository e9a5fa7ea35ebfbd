//! The process's private record of every mapping this library made, and the address
//! arena that keeps handles unique.
//!
//! **Why an arena.** A handle of a `new`/`open` object is its mapping's address (the
//! same pointer type works with in-place objects). If the kernel chose addresses, a
//! closed object's address would soon be handed to the next mapping, and a stale copy
//! of the old handle would then name the new object: a second close would unmap
//! somebody else's object. So the registry reserves one large `PROT_NONE`,
//! `MAP_NORESERVE` range of address space (the arena: no memory, no commit charge) and
//! places every mapping in it at a cursor that only moves forward. A closed range
//! becomes `PROT_NONE` reservation again (adjacent ones merge into one kernel VMA, so a
//! process keeps about two VMAs per live object, as before), and its address is never
//! handed out again by this process. Therefore: an address inside an arena that is not
//! the start of a live mapping is a stale or bogus handle (`MP_EBADOBJ`), decided from
//! this private table alone, without touching the (inaccessible) memory.
//!
//! An arena is 1 TiB if the address space allows it (`RLIMIT_AS`), else smaller; when
//! one is used up another is reserved. If none can be reserved at all, mappings fall
//! back to addresses chosen by the kernel; stale handles are then detected only while
//! their address has not been reused.
//!
//! **Locking and `fork`.** The table sits behind a [`SpinMutex`] held for a few
//! instructions (plus, once per arena, the `mmap` that reserves it). The process's
//! `pthread_atfork` handlers (`sys::fork`) take it before `fork()` and release it in
//! both processes, so a child forked at any instant, from any thread, inherits a
//! consistent table that it can use at once. Every entry point makes sure the handlers
//! are registered before it touches the table.

use std::collections::BTreeMap;
use std::ffi::CString;

use super::spin_mutex::SpinMutex;

/// What a mapping holds, as the layer above declared when it was made. Never re-read
/// from the shared memory, which other processes may have scribbled on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    /// A synchronization object or array: its `raw::header::Kind` number.
    Object(u32),
    /// A raw shared-memory block (`mp_shm_t`).
    Block,
}

/// A live mapping, as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Length requested (the file's or object's size).
    pub len: usize,
    /// Length rounded up to whole pages: what the mapping really occupies.
    pub span: usize,
    /// What it holds.
    pub content: Content,
    /// Placed in an arena (else by the kernel).
    pub in_arena: bool,
}

/// Where an address falls, for `close` and the handle checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The start of a live mapping.
    Live(Mapping),
    /// Inside an arena, but not inside any live mapping: closed, or never handed out.
    /// Its memory is inaccessible; it must not be read.
    Stale,
    /// Anything else: not this library's mapping (e.g. an in-place object), or an
    /// address inside a live mapping other than its start.
    Foreign,
}

struct Entry {
    mapping: Mapping,
    /// The block name (without `/`), for `mp_shm_name`: heap-allocated, so the pointer
    /// stays valid while the entry lives, however the table is rebalanced.
    name: Option<CString>,
}

/// One reserved range `[start, end)`; `[start, cursor)` has been handed out.
struct Arena {
    start: usize,
    end: usize,
    cursor: usize,
}

struct Table {
    live: BTreeMap<usize, Entry>,
    arenas: Vec<Arena>,
}

static TABLE: SpinMutex<Table> = SpinMutex::new(Table {
    live: BTreeMap::new(),
    arenas: Vec::new(),
});

/// Arena sizes to try, largest first (each reservation costs only address space).
#[cfg(target_pointer_width = "64")]
const ARENA_SIZES: [usize; 5] = [1 << 40, 1 << 36, 1 << 33, 1 << 30, 1 << 27];
#[cfg(not(target_pointer_width = "64"))]
const ARENA_SIZES: [usize; 3] = [1 << 29, 1 << 27, 1 << 25];

fn table() -> super::spin_mutex::Guard<'static, Table> {
    crate::sys::fork::ensure_handlers();
    TABLE.lock()
}

/// Hands out `span` bytes (a multiple of the page size) of never-used arena address
/// space, reserving a new arena if needed; `None` if no arena can be had (the caller
/// then lets the kernel choose).
pub fn claim(span: usize) -> Option<usize> {
    let mut t = table();
    if let Some(a) = t.arenas.last_mut() {
        if a.end - a.cursor >= span {
            let addr = a.cursor;
            a.cursor += span;
            return Some(addr);
        }
    }
    // Rare (once per arena): the reservation's mmap runs under the lock so that two
    // threads do not both reserve one.
    let (start, size) = ARENA_SIZES
        .iter()
        .map(|&s| s.max(span))
        .find_map(|s| super::map::reserve(s).map(|p| (p, s)))?;
    t.arenas.push(Arena {
        start,
        end: start + size,
        cursor: start + span,
    });
    Some(start)
}

/// Records a new mapping at `addr`; false if one is recorded there already.
pub fn record(addr: usize, mapping: Mapping, name: Option<CString>) -> bool {
    let mut t = table();
    if t.live.contains_key(&addr) {
        return false;
    }
    t.live.insert(addr, Entry { mapping, name });
    true
}

/// Classifies `addr` (see [`Place`]).
pub fn place(addr: usize) -> Place {
    let t = table();
    if let Some((&start, e)) = t.live.range(..=addr).next_back() {
        if start == addr {
            return Place::Live(e.mapping);
        }
        if addr - start < e.mapping.span {
            return Place::Foreign;
        }
    }
    if t.arenas.iter().any(|a| a.start <= addr && addr < a.end) {
        Place::Stale
    } else {
        Place::Foreign
    }
}

/// The live mapping that starts at `addr`, if any.
pub fn lookup(addr: usize) -> Option<Mapping> {
    table().live.get(&addr).map(|e| e.mapping)
}

/// The recorded name of the live block at `addr` (NUL-terminated, valid until the
/// block is closed).
pub fn block_name(addr: usize) -> Option<*const core::ffi::c_char> {
    let t = table();
    let e = t.live.get(&addr)?;
    match (e.mapping.content, &e.name) {
        (Content::Block, Some(n)) => Some(n.as_ptr()),
        _ => None,
    }
}

/// Removes the record of the live mapping at `addr` if it is still exactly
/// `expected` (a concurrent close of the same handle removes it only once).
pub fn remove(addr: usize, expected: Mapping) -> bool {
    let mut t = table();
    match t.live.get(&addr) {
        Some(e) if e.mapping == expected => {
            t.live.remove(&addr);
            true
        }
        _ => false,
    }
}

/// `pthread_atfork` prepare handler: holds the table across `fork()`, so that no
/// other thread is in the middle of changing it when the child's copy is taken.
pub fn lock_for_fork() {
    TABLE.lock_raw();
}

/// `pthread_atfork` parent and child handler: releases what [`lock_for_fork`] took.
///
/// # Safety
/// Only from those handlers, after `lock_for_fork` ran in this `fork()`.
pub unsafe fn unlock_after_fork() {
    // SAFETY: per the contract, the prepare handler took it for this fork.
    unsafe { TABLE.unlock_raw() };
}

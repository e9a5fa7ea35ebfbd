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
//! **Out of memory.** The table's heap memory grows only through fallible
//! reservations, made before a mapping is recorded: when memory is short, creating an
//! object fails with `MP_ENOMEM` (and leaves nothing mapped), never aborts. Lookups and
//! removals allocate nothing.
//!
//! **Locking and `fork`.** The table sits behind a [`SpinMutex`] held for a few
//! instructions (plus, once per arena, the `mmap` that reserves it). This module's
//! `pthread_atfork` handlers (registered through `sys::fork` when the library is
//! loaded) take it before `fork()` and release it in both processes, so a child forked
//! at any instant, from any thread, inherits a consistent table that it can use at
//! once. Every entry point makes sure the handlers are registered before it touches the
//! table (for builds in which the load-time constructor did not run).
//!
//! **The lookup cache.** Every array access and block query looks its handle up, so
//! [`lookup`] must not serialise the threads of a process on the table's spin flag. A
//! small direct-mapped cache of live mappings (indexed by page number) answers it
//! without any write to shared cache lines: each slot is a seqlock, written only by a
//! thread that holds the table (a miss that found the mapping fills its slot; a
//! removal empties the slot that names it), and read lock-free. So the cache never
//! holds an entry that the table does not: a closed handle misses and is then judged
//! by the table (stale-handle detection unchanged), and a child forked while the table
//! is held by the prepare handler inherits a cache that agrees with its table.

use core::sync::atomic::{AtomicUsize, Ordering, fence};
use std::collections::VecDeque;
use std::ffi::CStr;

use super::spin_mutex::SpinMutex;
use crate::fallible::NoMem;
use crate::sys::fork;

/// What a mapping holds, as the layer above declared when it was made. Never re-read
/// from the shared memory, which other processes may have scribbled on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Content {
    /// A synchronization object or array: its `raw::header::Kind` number.
    Object(u32),
    /// A raw shared-memory block (`mp_shm_t`).
    Block,
}

/// A live mapping, as recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mapping {
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
pub(crate) enum Place {
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
    /// Where the mapping starts (the table is sorted by it).
    addr: usize,
    mapping: Mapping,
    /// The block name (without `/`), for `mp_shm_name`: heap-allocated, so the pointer
    /// stays valid while the entry lives, however the table moves its entries.
    name: Option<Box<CStr>>,
}

/// One reserved range `[start, end)`; `[start, cursor)` has been handed out.
struct Arena {
    start: usize,
    end: usize,
    cursor: usize,
}

struct Table {
    /// The live mappings, sorted by address. A sorted double-ended queue rather than a
    /// map, because its growth can be reserved fallibly (a `BTreeMap` insertion
    /// allocates a node, and aborts when memory is short). Arena addresses only grow,
    /// so a new mapping normally goes at the back, and closing the oldest or the newest
    /// one shifts nothing; closing one in the middle moves the entries on its shorter
    /// side (a few bytes each, next to the cost of the `munmap`).
    live: VecDeque<Entry>,
    arenas: Vec<Arena>,
}

impl Table {
    /// Where `addr` is, or would be inserted, in `live`.
    fn search(&self, addr: usize) -> Result<usize, usize> {
        self.live.binary_search_by_key(&addr, |e| e.addr)
    }

    /// The live entry that starts at `addr`.
    fn get(&self, addr: usize) -> Option<&Entry> {
        self.search(addr).ok().map(|i| &self.live[i])
    }
}

static TABLE: SpinMutex<Table> = SpinMutex::new(Table {
    live: VecDeque::new(),
    arenas: Vec::new(),
});

/// Arena sizes to try, largest first (each reservation costs only address space).
#[cfg(target_pointer_width = "64")]
const ARENA_SIZES: [usize; 5] = [1 << 40, 1 << 36, 1 << 33, 1 << 30, 1 << 27];
#[cfg(not(target_pointer_width = "64"))]
const ARENA_SIZES: [usize; 3] = [1 << 29, 1 << 27, 1 << 25];

fn table() -> super::spin_mutex::Guard<'static, Table> {
    FORK_HANDLERS.ensure();
    TABLE.lock()
}

/// How arena address space is reserved: inaccessible (`PROT_NONE`), private, and
/// without memory or commit charge. `map` uses the same flags (with `MAP_FIXED`) to
/// give a closed mapping's range back to its arena.
pub(super) const RESERVE_FLAGS: libc::c_int =
    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;

/// Reserves `size` bytes of address space (no memory, no commit charge), for an arena.
fn reserve(size: usize) -> Option<usize> {
    // SAFETY: a fresh inaccessible mapping chosen by the kernel.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            size,
            libc::PROT_NONE,
            RESERVE_FLAGS,
            -1,
            0,
        )
    };
    (p != libc::MAP_FAILED).then_some(p as usize)
}

/// Hands out `span` bytes (a multiple of the page size) of never-used arena address
/// space, reserving a new arena if needed; `Ok(None)` if no arena can be had (the
/// caller then lets the kernel choose). Also makes sure that [`record`] will find room
/// for one more entry, so that a mapping is never made that cannot be recorded:
/// `Err(NoMem)` (nothing handed out) if memory for the record is short.
pub(crate) fn claim(span: usize) -> Result<Option<usize>, NoMem> {
    let mut t = table();
    t.live.try_reserve(1).map_err(|_| NoMem)?;
    if let Some(a) = t.arenas.last_mut() {
        if a.end - a.cursor >= span {
            let addr = a.cursor;
            a.cursor += span;
            return Ok(Some(addr));
        }
    }
    t.arenas.try_reserve(1).map_err(|_| NoMem)?;
    // Rare (once per arena): the reservation's mmap runs under the lock so that two
    // threads do not both reserve one.
    let Some((start, size)) = ARENA_SIZES
        .iter()
        .map(|&s| s.max(span))
        .find_map(|s| reserve(s).map(|p| (p, s)))
    else {
        return Ok(None);
    };
    // Reserved above: no allocation.
    t.arenas.push(Arena {
        start,
        end: start + size,
        cursor: start + span,
    });
    Ok(Some(start))
}

/// Records a new mapping at `addr`: `Ok(false)` if one is recorded there already,
/// `Err(NoMem)` if the table cannot grow (nothing recorded either way). After a
/// [`claim`], room for one entry is normally reserved already.
pub(crate) fn record(
    addr: usize,
    mapping: Mapping,
    name: Option<Box<CStr>>,
) -> Result<bool, NoMem> {
    let mut t = table();
    let Err(at) = t.search(addr) else {
        return Ok(false);
    };
    t.live.try_reserve(1).map_err(|_| NoMem)?;
    t.live.insert(
        at,
        Entry {
            addr,
            mapping,
            name,
        },
    );
    Ok(true)
}

/// Classifies `addr` (see [`Place`]).
pub(crate) fn place(addr: usize) -> Place {
    let t = table();
    // The last entry that starts at or below `addr`.
    let below = match t.search(addr) {
        Ok(i) => Some(i),
        Err(i) => i.checked_sub(1),
    };
    if let Some(e) = below.map(|i| &t.live[i]) {
        if e.addr == addr {
            return Place::Live(e.mapping);
        }
        if addr - e.addr < e.mapping.span {
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
#[inline]
pub(crate) fn lookup(addr: usize) -> Option<Mapping> {
    match CACHE.get(addr) {
        Some(m) => Some(m),
        None => lookup_in_table(addr),
    }
}

/// The length of the live mapping that starts at `addr`, if any ([`lookup`]'s `len`;
/// the hot path of every array access).
#[inline]
pub(crate) fn live_len(addr: usize) -> Option<usize> {
    match CACHE.get_len(addr) {
        Some(len) => Some(len),
        None => lookup_in_table(addr).map(|m| m.len),
    }
}

/// [`lookup`]'s miss: asks the table, and remembers a live mapping in the cache.
#[cold]
fn lookup_in_table(addr: usize) -> Option<Mapping> {
    let t = table();
    let m = t.get(addr)?.mapping;
    // Under the table lock: the only writers of the cache hold it.
    CACHE.fill(addr, m);
    Some(m)
}

/// The recorded name of the live block at `addr` (NUL-terminated, valid until the
/// block is closed).
pub(crate) fn block_name(addr: usize) -> Option<*const core::ffi::c_char> {
    let t = table();
    let e = t.get(addr)?;
    match (e.mapping.content, &e.name) {
        (Content::Block, Some(n)) => Some(n.as_ptr()),
        _ => None,
    }
}

/// Removes the record of the live mapping at `addr` if it is still exactly
/// `expected` (a concurrent close of the same handle removes it only once).
pub(crate) fn remove(addr: usize, expected: Mapping) -> bool {
    let mut t = table();
    match t.search(addr) {
        Ok(i) if t.live[i].mapping == expected => {
            // Frees the name (if any): deallocation never fails.
            t.live.remove(i);
            // Under the table lock, before anyone can unmap the range: from here on
            // no lookup finds the mapping.
            CACHE.forget(addr);
            true
        }
        _ => false,
    }
}

/// Number of cache slots (a power of two). Arena mappings are consecutive pages, so
/// up to this many small live objects never evict one another.
const CACHE_SLOTS: usize = 64;

/// One cached live mapping, guarded by a sequence number: odd while a writer (who
/// holds the table) changes it; `addr == 0` is an empty slot. A slot has its own
/// cache line, so a fill never disturbs the readers of other slots.
#[repr(align(64))]
struct CacheSlot {
    seq: AtomicUsize,
    addr: AtomicUsize,
    len: AtomicUsize,
    span: AtomicUsize,
    /// [`Mapping::content`] and [`Mapping::in_arena`], see [`encode_meta`].
    meta: AtomicUsize,
}

/// See the module documentation ("The lookup cache").
struct LookupCache {
    slots: [CacheSlot; CACHE_SLOTS],
}

static CACHE: LookupCache = LookupCache {
    slots: [const {
        CacheSlot {
            seq: AtomicUsize::new(0),
            addr: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            span: AtomicUsize::new(0),
            meta: AtomicUsize::new(0),
        }
    }; CACHE_SLOTS],
};

/// `meta` bits: 0-1 the content's variant (1 = Object, 2 = Block; 0 = empty slot),
/// 2 `in_arena`, 8.. the object kind (a kind that does not fit is never cached).
const META_OBJECT: usize = 1;
const META_BLOCK: usize = 2;
const META_IN_ARENA: usize = 4;
const META_KIND_SHIFT: u32 = 8;

fn encode_meta(m: &Mapping) -> Option<usize> {
    let content = match m.content {
        Content::Object(kind) => {
            let kind = usize::try_from(kind).ok()?;
            if kind > (usize::MAX >> META_KIND_SHIFT) {
                return None;
            }
            (kind << META_KIND_SHIFT) | META_OBJECT
        }
        Content::Block => META_BLOCK,
    };
    Some(content | if m.in_arena { META_IN_ARENA } else { 0 })
}

#[inline]
fn decode_meta(meta: usize, len: usize, span: usize) -> Option<Mapping> {
    let content = match meta & 3 {
        META_OBJECT => Content::Object(u32::try_from(meta >> META_KIND_SHIFT).ok()?),
        META_BLOCK => Content::Block,
        _ => return None,
    };
    Some(Mapping {
        len,
        span,
        content,
        in_arena: meta & META_IN_ARENA != 0,
    })
}

impl LookupCache {
    #[inline]
    fn slot(&self, addr: usize) -> &CacheSlot {
        // Mappings start on page boundaries (4 KiB at least).
        &self.slots[(addr >> 12) & (CACHE_SLOTS - 1)]
    }

    /// Reads the slot of `addr` with `read` as a seqlock reader: `None` if the slot does
    /// not hold `addr`, or a writer changed it meanwhile (lock-free).
    #[inline]
    fn read_slot<T>(&self, addr: usize, read: impl FnOnce(&CacheSlot) -> T) -> Option<T> {
        if addr == 0 {
            return None;
        }
        let s = self.slot(addr);
        let seq = s.seq.load(Ordering::Acquire);
        if seq & 1 != 0 || s.addr.load(Ordering::Relaxed) != addr {
            return None;
        }
        let value = read(s);
        // Orders the field loads before the re-check of `seq` (seqlock read side).
        fence(Ordering::Acquire);
        (s.seq.load(Ordering::Relaxed) == seq).then_some(value)
    }

    /// The cached live mapping at `addr`, if the cache has it (lock-free; `None` also
    /// while a writer changes the slot).
    #[inline]
    fn get(&self, addr: usize) -> Option<Mapping> {
        let (len, span, meta) = self.read_slot(addr, |s| {
            (
                s.len.load(Ordering::Relaxed),
                s.span.load(Ordering::Relaxed),
                s.meta.load(Ordering::Relaxed),
            )
        })?;
        decode_meta(meta, len, span)
    }

    /// The cached length of the live mapping at `addr` (as [`LookupCache::get`]).
    #[inline]
    fn get_len(&self, addr: usize) -> Option<usize> {
        self.read_slot(addr, |s| s.len.load(Ordering::Relaxed))
    }

    /// Writes a slot. Only with the table held (one writer at a time).
    fn write(&self, s: &CacheSlot, addr: usize, len: usize, span: usize, meta: usize) {
        let seq = s.seq.load(Ordering::Relaxed);
        s.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        // Readers that see a field written below also see the odd sequence number.
        fence(Ordering::Release);
        s.addr.store(addr, Ordering::Relaxed);
        s.len.store(len, Ordering::Relaxed);
        s.span.store(span, Ordering::Relaxed);
        s.meta.store(meta, Ordering::Relaxed);
        s.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// Remembers the live mapping `m` at `addr`. Only with the table held.
    fn fill(&self, addr: usize, m: Mapping) {
        if let Some(meta) = encode_meta(&m) {
            self.write(self.slot(addr), addr, m.len, m.span, meta);
        }
    }

    /// Empties the slot that names `addr`, if any. Only with the table held.
    fn forget(&self, addr: usize) {
        let s = self.slot(addr);
        if s.addr.load(Ordering::Relaxed) == addr {
            self.write(s, 0, 0, 0, 0);
        }
    }
}

// SAFETY: `lock_for_fork` takes the table in the forking thread (it yields while
// another thread holds it, which takes a few instructions); `unlock_after_fork` runs
// only after it, in the same thread of the parent or in the child (its only thread).
static FORK_HANDLERS: fork::Handlers = unsafe {
    fork::Handlers::new(
        Some(lock_for_fork),
        Some(unlock_after_fork),
        Some(unlock_after_fork),
    )
};
fork::register_at_load!(FORK_HANDLERS);

/// `pthread_atfork` prepare handler: holds the table across `fork()`, so that no
/// other thread is in the middle of changing it when the child's copy is taken.
extern "C" fn lock_for_fork() {
    TABLE.lock_raw();
}

/// `pthread_atfork` parent and child handler: releases what [`lock_for_fork`] took.
///
/// # Safety
/// Only from those handlers, after `lock_for_fork` ran in this `fork()`.
unsafe extern "C" fn unlock_after_fork() {
    // SAFETY: per the contract, the prepare handler took it for this fork.
    unsafe { TABLE.unlock_raw() };
}

/// Unit tests that make mappings hold this for reading; a test that uses a stale
/// (closed) address holds it for writing, so that even where the kernel places
/// mappings (no arena) no other test's mapping can be at that address meanwhile.
/// (Here, with the table, so that the tests of every file of `shm` reach it without
/// importing `shm` itself.)
#[cfg(test)]
pub(crate) static TEST_MAPPINGS: std::sync::RwLock<()> = std::sync::RwLock::new(());

#[cfg(test)]
mod tests {
    use super::*;

    /// Addresses that are never mapped (the table only records numbers here); they
    /// share one cache slot (same page number modulo `CACHE_SLOTS`).
    const A: usize = 0x7e57_0000_0000;
    const B: usize = A + (CACHE_SLOTS << 12);

    fn mapping(len: usize, kind: u32) -> Mapping {
        Mapping {
            len,
            span: 4096,
            content: Content::Object(kind),
            in_arena: false,
        }
    }

    #[cfg(not(miri))]
    #[test]
    fn fork_handlers_are_registered_at_load() {
        assert!(FORK_HANDLERS.registered());
    }

    #[test]
    fn the_lookup_cache_never_outlives_the_table() {
        let _g = TEST_MAPPINGS.write().unwrap_or_else(|e| e.into_inner());
        let (ma, mb) = (mapping(100, 7), mapping(200, 9));
        assert_eq!(record(A, ma, None), Ok(true));
        assert_eq!(record(B, mb, None), Ok(true));
        assert_eq!(record(B, mb, None), Ok(false));
        // Misses fill the slot; hits agree with the table; the two addresses evict
        // each other without ever answering for one another.
        for _ in 0..3 {
            assert_eq!(lookup(A), Some(ma));
            assert_eq!(CACHE.get(A), Some(ma));
            assert_eq!(live_len(B), Some(200));
            assert_eq!(CACHE.get_len(B), Some(200));
            assert_eq!(CACHE.get(A), None);
        }
        // A removal forgets the cached entry at once: a stale handle is judged by the
        // table again (no longer live).
        assert_eq!(lookup(A), Some(ma));
        assert!(remove(A, ma));
        assert_eq!(CACHE.get(A), None);
        assert_eq!(lookup(A), None);
        assert_eq!(live_len(A), None);
        assert!(remove(B, mb));
        assert_eq!(live_len(B), None);
        // A block round-trips through the slot's encoding too.
        let block = Mapping {
            len: 1,
            span: 4096,
            content: Content::Block,
            in_arena: true,
        };
        assert_eq!(record(A, block, None), Ok(true));
        assert_eq!(lookup(A), Some(block));
        assert_eq!(CACHE.get(A), Some(block));
        assert!(remove(A, block));
        assert_eq!(lookup(A), None);
    }
}

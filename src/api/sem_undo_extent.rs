//! Proof, from this process's private state only, that a semaphore pointer (the C ABI's
//! `mp_sem_t *`, the safe API's `Semaphore`) names a whole undo semaphore
//! (`MP_SEM_UNDO_SIZE` bytes), before any byte past `MP_SEM_SIZE` is touched.
//!
//! The calls below are named by their C ABI names; the safe API's `Semaphore` methods of
//! the same meaning (`new_undo`, `open_undo`, `init_undo_at`, `attach_undo_at`, `close`,
//! `destroy`) take the same paths (`sem_flavour`).
//!
//! **Why.** A semaphore's flavour is a tag in its shared header, and a peer that can
//! write a plain semaphore can rewrite that tag. Trusting it would make every other
//! process treat 4160 bytes as the object where only `MP_SEM_SIZE` (an in-place plain
//! semaphore) or one page (a named or anonymous one) exist: reads and writes past the
//! end of the mapping or of the caller's memory. So the tag alone never admits the undo
//! path; the extent must be proven privately:
//! * the start of a mapping this process made is an undo semaphore only if the
//!   private mapping registry recorded it as one (`Content::Object(Kind::SemUndo)`) and
//!   its recorded length covers the object (checked once, when `mp_sem_new_ex` /
//!   `mp_sem_open_ex` maps it, and remembered in the set below until `mp_sem_close`);
//! * any other address (in-place memory) only if this process declared it one:
//!   `mp_sem_init_ex(.., MP_SEM_UNDO)` or `mp_sem_attach_ex(.., MP_SEM_UNDO)` put it in
//!   the [`Declared`] set below, and `mp_sem_destroy` or a plain (re)declaration takes it
//!   out. The set is ordinary process memory, so `fork()` children inherit it.
//!
//! The set also holds the first kind: `mp_sem_new_ex` / `mp_sem_open_ex` put each undo
//! handle they map in it (after the registry recorded it with its length) and
//! `mp_sem_close` takes it out, so that a call on an undo semaphore costs one hash probe
//! (a load or two, async-signal-safe), not a registry lookup under its lock. Only this
//! process's own calls write the set; nothing read from shared memory does.
//!
//! **The set.** A fixed open-addressing hash table of atomic words (linear probing,
//! tombstones), so that it needs no lock: a child forked at any instant, from any
//! thread, inherits a consistent table (each slot changes by one atomic store or CAS).
//! Two threads declaring the same address at once may both insert it; removal clears
//! every copy on the probe path, and a lookup needs only one.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::raw::header::Kind;
use crate::raw::sem_undo::RawSemUndo;
use crate::status::{MpResult, Status};
use crate::sys::robust;
use crate::sys::shm as os_shm;

/// Slot value: never used (ends a probe).
const EMPTY: usize = 0;
/// Slot value: used once, now free (a probe goes on past it). Never an address: the
/// addresses are `MP_SEM_ALIGN`-aligned.
const TOMBSTONE: usize = 1;
/// log2 of [`SLOTS`].
const SLOT_BITS: u32 = 13;
/// Slots in the table: undo semaphores (in place or handles) one process can use at once.
const SLOTS: usize = 1 << SLOT_BITS;

/// The in-place undo semaphores this process declared (see the module documentation).
struct Declared {
    slots: [AtomicUsize; SLOTS],
}

static DECLARED: Declared = Declared {
    slots: [const { AtomicUsize::new(EMPTY) }; SLOTS],
};

impl Declared {
    /// The probe path of `addr`: every slot once, starting at its hash.
    fn probe(addr: usize) -> impl Iterator<Item = usize> {
        let h = Self::home(addr);
        (0..SLOTS).map(move |i| (h + i) % SLOTS)
    }

    /// The slot where the probe path of `addr` starts.
    #[inline(always)]
    fn home(addr: usize) -> usize {
        // Fibonacci hashing of the 8-byte-granular address.
        (((addr >> 3) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOT_BITS)) as usize
    }

    /// True if `addr` is in the set. The usual case — found in its home slot — is a
    /// multiply and one load, inline; the rest of the probe path is out of line.
    #[inline(always)]
    fn contains(&self, addr: usize) -> bool {
        self.slots[Self::home(addr)].load(Ordering::Acquire) == addr || self.contains_probed(addr)
    }

    #[cold]
    #[inline(never)]
    fn contains_probed(&self, addr: usize) -> bool {
        for i in Self::probe(addr) {
            match self.slots[i].load(Ordering::Acquire) {
                EMPTY => return false,
                v if v == addr => return true,
                _ => {}
            }
        }
        false
    }

    /// Adds `addr`; false if the table is full.
    fn insert(&self, addr: usize) -> bool {
        if self.contains(addr) {
            return true;
        }
        for i in Self::probe(addr) {
            let slot = &self.slots[i];
            let mut v = slot.load(Ordering::Acquire);
            loop {
                if v == addr {
                    return true;
                }
                if v != EMPTY && v != TOMBSTONE {
                    break;
                }
                match slot.compare_exchange(v, addr, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => return true,
                    Err(now) => v = now,
                }
            }
        }
        false
    }

    /// Removes every copy of `addr`.
    fn remove(&self, addr: usize) {
        for i in Self::probe(addr) {
            let slot = &self.slots[i];
            match slot.load(Ordering::Acquire) {
                EMPTY => return,
                v if v == addr => {
                    // Lost only to a concurrent removal of the same address.
                    let _ =
                        slot.compare_exchange(addr, TOMBSTONE, Ordering::AcqRel, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    }
}

/// Records that this process holds an in-place undo semaphore at `addr`
/// (`MP_SEM_UNDO_SIZE` bytes, per its caller's contract). The start of a mapping of
/// this library is not in place: the registry alone decides it ([`proven`]), and
/// nothing is recorded. `MP_ENOMEM` if `SLOTS` declarations are live already.
pub(crate) fn declare(addr: usize) -> MpResult<()> {
    match os_shm::place(addr) {
        // Proven already if it is an undo handle of this process; never otherwise.
        os_shm::Place::Live(m) if m.content != os_shm::Content::Block => proven(addr),
        os_shm::Place::Stale => Err(Status::BadObj),
        os_shm::Place::Live(_) | os_shm::Place::Foreign => {
            if DECLARED.insert(addr) {
                Ok(())
            } else {
                Err(Status::NoMem)
            }
        }
    }
}

/// Withdraws a declaration made by [`declare`] (none is fine).
pub(crate) fn withdraw(addr: usize) {
    DECLARED.remove(addr);
}

/// `mp_sem_attach_ex(addr, 0)`, the step before unmapping in-place memory: withdraws
/// this process's declaration of an undo semaphore at `addr`. `Ok(true)` once withdrawn,
/// `Ok(false)` if there was none. Changes nothing, and returns
/// * `MP_EBUSY` while the calling thread holds units through `addr`: its holder slot is
///   linked into the thread's robust list, so the unit could never be released through
///   an undeclared address, and once the memory is unmapped the thread's next list
///   update (or the kernel's walk at its death) would write into whatever is mapped
///   there then. (`mp_sem_close` and `mp_sem_destroy` refuse for the same reason.)
/// * `MP_EBADOBJ` for an undo handle of this process: the registry proves it until
///   `mp_sem_close`, which is how a handle is given up. (Withdrawn, it could neither be
///   used nor closed.)
pub(crate) fn withdraw_declared(addr: usize) -> MpResult<bool> {
    if !DECLARED.contains(addr) {
        return Ok(false);
    }
    if let os_shm::Place::Live(m) = os_shm::place(addr) {
        if m.content != os_shm::Content::Block {
            return Err(Status::BadObj);
        }
    }
    if robust::thread_holds_lock_in(addr, RawSemUndo::SIZE) {
        return Err(Status::Busy);
    }
    DECLARED.remove(addr);
    Ok(true)
}

/// Records that this process mapped the undo semaphore handle `addr`, once the
/// registry confirms it: recorded as one, of at least `MP_SEM_UNDO_SIZE` bytes.
/// `MP_ENOMEM` if the table is full (the caller then unmaps the handle, which could
/// never be proven), `MP_EBADOBJ` if the registry disagrees.
pub(crate) fn remember_handle(addr: usize) -> MpResult<()> {
    match os_shm::lookup(addr) {
        Some(m)
            if m.content == os_shm::Content::Object(Kind::SemUndo as u32)
                && m.len >= RawSemUndo::SIZE =>
        {
            if DECLARED.insert(addr) {
                Ok(())
            } else {
                Err(Status::NoMem)
            }
        }
        _ => Err(Status::BadObj),
    }
}

/// `Ok` if `addr` is proven, from private state, to start `MP_SEM_UNDO_SIZE` bytes that
/// this process may treat as an undo semaphore; `MP_EBADOBJ` otherwise. Says nothing
/// about the bytes themselves: the caller still checks the header. Only atomic loads
/// (async-signal-safe; no registry lock).
#[inline(always)]
pub(crate) fn proven(addr: usize) -> MpResult<()> {
    if DECLARED.contains(addr) {
        Ok(())
    } else {
        Err(Status::BadObj)
    }
}

/// [`proven`]'s usual case, inline: `addr` found at the start of its probe path (a
/// multiply and one load). False says nothing: ask [`proven`].
#[inline(always)]
pub(crate) fn proven_at_first_probe(addr: usize) -> bool {
    DECLARED.slots[Declared::home(addr)].load(Ordering::Acquire) == addr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declare_withdraw_and_duplicates() {
        // 8-aligned addresses that no object of this test process has.
        let a = 0x7ead_0000_0008usize;
        let b = a + SLOTS * 8;
        assert!(!DECLARED.contains(a));
        assert!(DECLARED.insert(a));
        assert!(DECLARED.insert(a));
        assert!(DECLARED.insert(b));
        assert!(DECLARED.contains(a) && DECLARED.contains(b));
        withdraw(a);
        assert!(!DECLARED.contains(a));
        assert!(DECLARED.contains(b));
        withdraw(b);
        assert!(!DECLARED.contains(b));
    }
}

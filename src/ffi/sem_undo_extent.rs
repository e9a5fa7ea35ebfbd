//! Proof, from this process's private state only, that an `mp_sem_t *` names a whole
//! undo semaphore (`MP_SEM_UNDO_SIZE` bytes), before any byte past `MP_SEM_SIZE` is
//! touched.
//!
//! **Why.** A semaphore's flavour is a tag in its shared header, and a peer that can
//! write a plain semaphore can rewrite that tag. Trusting it would make every other
//! process treat 4160 bytes as the object where only `MP_SEM_SIZE` (an in-place plain
//! semaphore) or one page (a named or anonymous one) exist: reads and writes past the
//! end of the mapping or of the caller's memory. So the tag alone never admits the undo
//! path; the extent must be proven privately:
//! * the start of a mapping this process made is an undo semaphore only if the
//!   private mapping registry recorded it as one (`Content::Object(Kind::SemUndo)`) and
//!   its recorded length covers the object;
//! * any other address (in-place memory) only if this process declared it one:
//!   `mp_sem_init_ex(.., MP_SEM_UNDO)` or `mp_sem_attach_ex(.., MP_SEM_UNDO)` put it in
//!   the [`Declared`] set below, and `mp_sem_destroy` or a plain (re)declaration takes it
//!   out. The set is ordinary process memory, so `fork()` children inherit it.
//!
//! **The set.** A fixed open-addressing hash table of atomic words (linear probing,
//! tombstones), so that it needs no lock: a child forked at any instant, from any
//! thread, inherits a consistent table (each slot changes by one atomic store or CAS).
//! Two threads declaring the same address at once may both insert it; removal clears
//! every copy on the probe path, and a lookup needs only one.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::raw::header::Kind;
use crate::status::{MpResult, Status};
use crate::sys::shm as os_shm;

use super::sem::MP_SEM_UNDO_SIZE;

/// Slot value: never used (ends a probe).
const EMPTY: usize = 0;
/// Slot value: used once, now free (a probe goes on past it). Never an address: the
/// addresses are `MP_SEM_ALIGN`-aligned.
const TOMBSTONE: usize = 1;
/// Slots in the table: in-place undo semaphores one process can have declared at once.
const SLOTS: usize = 4096;

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
        // Fibonacci hashing of the 8-byte-granular address.
        let h = ((addr >> 3) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52;
        (0..SLOTS).map(move |i| (h as usize + i) % SLOTS)
    }

    fn contains(&self, addr: usize) -> bool {
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

/// `Ok` if `addr` is proven, from private state, to start `MP_SEM_UNDO_SIZE` bytes that
/// this process may treat as an undo semaphore; `MP_EBADOBJ` otherwise. Says nothing
/// about the bytes themselves: the caller still checks the header.
#[cold]
pub(crate) fn proven(addr: usize) -> MpResult<()> {
    match os_shm::place(addr) {
        os_shm::Place::Live(m) if m.content == os_shm::Content::Object(Kind::SemUndo as u32) => {
            if m.len >= MP_SEM_UNDO_SIZE {
                Ok(())
            } else {
                Err(Status::BadObj)
            }
        }
        // The start of another object's mapping (a plain semaphore whose tag a peer
        // rewrote, for one): its extent is known, and too small or not ours to lend.
        os_shm::Place::Live(m) if m.content != os_shm::Content::Block => Err(Status::BadObj),
        os_shm::Place::Stale => Err(Status::BadObj),
        // A raw block's bytes, or memory this library did not map: in place.
        os_shm::Place::Live(_) | os_shm::Place::Foreign => {
            if DECLARED.contains(addr) {
                Ok(())
            } else {
                Err(Status::BadObj)
            }
        }
    }
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

    #[test]
    fn a_plain_mapping_is_never_proven_an_undo_semaphore() {
        let mut s: *mut crate::ffi::sem::mp_sem_t = core::ptr::null_mut();
        // SAFETY: a valid out-pointer; the handle is closed once.
        unsafe {
            assert_eq!(crate::ffi::sem::mp_sem_new(1, 1, &mut s), crate::ffi::MP_OK);
            assert_eq!(proven(s as usize), Err(Status::BadObj));
            // A handle cannot be declared in-place memory: the registry decides.
            assert_eq!(declare(s as usize), Err(Status::BadObj));
            assert_eq!(proven(s as usize), Err(Status::BadObj));
            assert_eq!(crate::ffi::sem::mp_sem_close(s), crate::ffi::MP_OK);
        }
    }
}

//! The 8-byte header at the start of every shared object.
//!
//! ```text
//! +0  magic  u32   MAGIC while the object is live; RETIRED after destroy; anything else = not an object
//! +4  tag    u32   bits 0..8 kind, 8..16 layout version, 16..18 lifecycle
//! ```
//!
//! `init` writes `tag` first and publishes `magic` last with `Release`; `check` loads
//! `magic` with `Acquire` before trusting anything else, so a reader that sees a live
//! magic also sees the initialised body. Memory that is zeroed, random, destroyed,
//! of another kind or of an incompatible layout fails `check` with `MP_EBADOBJ`.
//! Two library versions sharing a segment therefore interoperate only when the layout
//! versions agree; otherwise they get `MP_EBADOBJ`, never corruption.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::status::{MpResult, Status};

/// "MPSY" (little-endian bytes 'Y','S','P','M').
pub(crate) const MAGIC: u32 = 0x4D50_5359;
/// Written by destroy, so that a use-after-destroy is `MP_EBADOBJ`.
pub(crate) const RETIRED: u32 = 0x4D50_DEAD;
/// Layout version of every object kind in this release. Bump on any change of a
/// shared layout or of a lock word's protocol.
pub(crate) const LAYOUT_VERSION: u32 = 3;

/// Type tag of each object kind (part of the ABI: never reuse a number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Kind {
    /// `mp_lock_t`.
    Lock = 1,
    /// `mp_rlock_t`.
    RLock = 2,
    /// `mp_sem_t`.
    Sem = 3,
    /// `mp_cond_t`.
    Cond = 4,
    /// `mp_event_t`.
    Event = 5,
    /// `mp_barrier_t`.
    Barrier = 6,
    /// `mp_array_t`.
    Array = 7,
    /// `mp_sem_undo_t` (see `raw::sem_undo`).
    SemUndo = 8,
    /// `mp_rwlock_t` (see `raw::rwlock`).
    RwLock = 9,
    /// `mp_queue_t` (a mapping of variable size: see `raw::queue`).
    Queue = 10,
}

/// How an object came to be; decides whether `destroy` or `close` ends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Lifecycle {
    /// `mp_T_init` in caller memory; ended by `mp_T_destroy`.
    InPlace = 0,
    /// `mp_T_new`: an anonymous shared mapping; ended by `mp_T_close`.
    Anonymous = 1,
    /// `mp_T_open`: a named mapping; ended by `mp_T_close`.
    Named = 2,
}

/// See the module documentation.
#[repr(C)]
pub(crate) struct Header {
    magic: AtomicU32,
    tag: AtomicU32,
}

const KIND_MASK: u32 = 0xff;
const LAYOUT_SHIFT: u32 = 8;
const LIFECYCLE_SHIFT: u32 = 16;

impl Header {
    /// Writes the tag, then publishes the object (`Release`). Call after the body is
    /// initialised.
    pub(crate) fn publish(&self, kind: Kind, lifecycle: Lifecycle) {
        self.tag.store(
            kind as u32
                | (LAYOUT_VERSION << LAYOUT_SHIFT)
                | ((lifecycle as u32) << LIFECYCLE_SHIFT),
            Ordering::Relaxed,
        );
        self.magic.store(MAGIC, Ordering::Release);
    }

    /// `Ok` if this is a live object of `kind` with our layout version.
    #[inline]
    pub(crate) fn check(&self, kind: Kind) -> MpResult<()> {
        let magic = self.magic.load(Ordering::Acquire);
        let tag = self.tag.load(Ordering::Relaxed);
        if magic == MAGIC
            && tag & KIND_MASK == kind as u32
            && (tag >> LAYOUT_SHIFT) & 0xff == LAYOUT_VERSION
        {
            Ok(())
        } else {
            Err(Status::BadObj)
        }
    }

    /// The lifecycle recorded at init (meaningful only after a successful `check`).
    pub(crate) fn lifecycle(&self) -> Lifecycle {
        match (self.tag.load(Ordering::Relaxed) >> LIFECYCLE_SHIFT) & 0x3 {
            0 => Lifecycle::InPlace,
            1 => Lifecycle::Anonymous,
            _ => Lifecycle::Named,
        }
    }

    /// Marks the object destroyed: every later call on it is `MP_EBADOBJ`.
    pub(crate) fn retire(&self) {
        self.magic.store(RETIRED, Ordering::Release);
    }

    /// Read-only snapshot for inspectors: `(magic, kind, layout, lifecycle)` exactly as
    /// stored (kind, layout and lifecycle decoded from the tag, unchecked). Racy.
    pub(crate) fn snapshot(&self) -> (u32, u32, u32, u32) {
        let magic = self.magic.load(Ordering::Acquire);
        let tag = self.tag.load(Ordering::Relaxed);
        (
            magic,
            tag & KIND_MASK,
            (tag >> LAYOUT_SHIFT) & 0xff,
            (tag >> LIFECYCLE_SHIFT) & 0x3,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_check_retire() {
        let h = Header {
            magic: AtomicU32::new(0),
            tag: AtomicU32::new(0),
        };
        assert_eq!(h.check(Kind::Lock), Err(Status::BadObj));
        h.publish(Kind::Lock, Lifecycle::Named);
        assert_eq!(h.check(Kind::Lock), Ok(()));
        assert_eq!(h.check(Kind::RLock), Err(Status::BadObj));
        assert_eq!(h.lifecycle(), Lifecycle::Named);
        h.retire();
        assert_eq!(h.check(Kind::Lock), Err(Status::BadObj));
    }

    #[test]
    fn other_layout_versions_are_rejected() {
        let h = Header {
            magic: AtomicU32::new(MAGIC),
            tag: AtomicU32::new(Kind::Sem as u32 | ((LAYOUT_VERSION + 1) << LAYOUT_SHIFT)),
        };
        assert_eq!(h.check(Kind::Sem), Err(Status::BadObj));
    }
}

//! The 8-byte header at the start of every shared object.
//!
//! ```text
//! +0  magic  u32   MAGIC while the object is live; RETIRED after destroy; anything else = not an object
//! +4  tag    u32   bits 0..8 kind, 8..16 layout version, 16..18 lifecycle
//! ```
//!
//! The two fields are one atomic 64-bit word in memory (their bytes as above, in the
//! native byte order), so that `check` is one load and one compare. `init` publishes
//! the word (magic and tag together) with `Release`; `check` loads it with `Acquire`
//! before trusting anything else, so a reader that sees a live magic also sees the
//! initialised body. Memory that is zeroed, random, destroyed,
//! of another kind or of an incompatible layout fails `check` with `MP_EBADOBJ`.
//! Two library versions sharing a segment therefore interoperate only when the layout
//! versions agree; otherwise they get `MP_EBADOBJ`, never corruption.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::status::{MpResult, Status};

/// "MPSY" (little-endian bytes 'Y','S','P','M').
pub(crate) const MAGIC: u32 = 0x4D50_5359;
/// Written by destroy, so that a use-after-destroy is `MP_EBADOBJ`.
pub(crate) const RETIRED: u32 = 0x4D50_DEAD;
/// Layout version of every object kind in this release. Bump on any change of a
/// shared layout or of a lock word's protocol.
pub(crate) const LAYOUT_VERSION: u32 = 4;

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
    /// `magic` at +0 and `tag` at +4 ([`header_word`]).
    word: AtomicU64,
}

const KIND_MASK: u32 = 0xff;
const LAYOUT_SHIFT: u32 = 8;
const LIFECYCLE_SHIFT: u32 = 16;

/// The header word whose bytes are `magic` at +0 and `tag` at +4 (native byte order).
const fn header_word(magic: u32, tag: u32) -> u64 {
    if cfg!(target_endian = "little") {
        magic as u64 | (tag as u64) << 32
    } else {
        (magic as u64) << 32 | tag as u64
    }
}

/// `(magic, tag)` of a header word (the inverse of [`header_word`]).
const fn split_word(word: u64) -> (u32, u32) {
    if cfg!(target_endian = "little") {
        (word as u32, (word >> 32) as u32)
    } else {
        ((word >> 32) as u32, word as u32)
    }
}

/// The bits `check` compares: the magic, the kind and the layout version (not the
/// lifecycle, nor the tag's unused high bits).
const CHECKED_BITS: u64 = header_word(u32::MAX, KIND_MASK | (0xff << LAYOUT_SHIFT));

impl Header {
    /// Writes the tag and the magic (one `Release` store), publishing the object. Call
    /// after the body is initialised.
    pub(crate) fn publish(&self, kind: Kind, lifecycle: Lifecycle) {
        let tag = kind as u32
            | (LAYOUT_VERSION << LAYOUT_SHIFT)
            | ((lifecycle as u32) << LIFECYCLE_SHIFT);
        self.word.store(header_word(MAGIC, tag), Ordering::Release);
    }

    /// `Ok` if this is a live object of `kind` with our layout version: one load, one
    /// compare.
    #[inline]
    pub(crate) fn check(&self, kind: Kind) -> MpResult<()> {
        let expected = header_word(MAGIC, kind as u32 | (LAYOUT_VERSION << LAYOUT_SHIFT));
        if (self.word.load(Ordering::Acquire) ^ expected) & CHECKED_BITS == 0 {
            Ok(())
        } else {
            Err(Status::BadObj)
        }
    }

    /// The lifecycle recorded at init (meaningful only after a successful `check`).
    pub(crate) fn lifecycle(&self) -> Lifecycle {
        let (_, tag) = split_word(self.word.load(Ordering::Relaxed));
        match (tag >> LIFECYCLE_SHIFT) & 0x3 {
            0 => Lifecycle::InPlace,
            1 => Lifecycle::Anonymous,
            _ => Lifecycle::Named,
        }
    }

    /// Marks the object destroyed (the tag stays): every later call on it is
    /// `MP_EBADOBJ`.
    pub(crate) fn retire(&self) {
        let (_, tag) = split_word(self.word.load(Ordering::Relaxed));
        self.word
            .store(header_word(RETIRED, tag), Ordering::Release);
    }

    /// Read-only snapshot for inspectors: `(magic, kind, layout, lifecycle)` exactly as
    /// stored (kind, layout and lifecycle decoded from the tag, unchecked). Racy.
    pub(crate) fn snapshot(&self) -> (u32, u32, u32, u32) {
        let (magic, tag) = split_word(self.word.load(Ordering::Acquire));
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
            word: AtomicU64::new(0),
        };
        assert_eq!(h.check(Kind::Lock), Err(Status::BadObj));
        h.publish(Kind::Lock, Lifecycle::Named);
        assert_eq!(h.check(Kind::Lock), Ok(()));
        assert_eq!(h.check(Kind::RLock), Err(Status::BadObj));
        assert_eq!(h.lifecycle(), Lifecycle::Named);
        // The published bytes: magic at +0, tag at +4 (the layout is unchanged).
        let bytes = h.word.load(Ordering::Relaxed).to_ne_bytes();
        assert_eq!(bytes[..4], MAGIC.to_ne_bytes());
        let tag = Kind::Lock as u32 | (LAYOUT_VERSION << LAYOUT_SHIFT) | (2 << LIFECYCLE_SHIFT);
        assert_eq!(bytes[4..], tag.to_ne_bytes());
        h.retire();
        assert_eq!(h.check(Kind::Lock), Err(Status::BadObj));
    }

    #[test]
    fn other_layout_versions_are_rejected() {
        let h = Header {
            word: AtomicU64::new(header_word(
                MAGIC,
                Kind::Sem as u32 | ((LAYOUT_VERSION + 1) << LAYOUT_SHIFT),
            )),
        };
        assert_eq!(h.check(Kind::Sem), Err(Status::BadObj));
    }
}

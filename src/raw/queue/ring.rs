//! The ring's bytes: copies in and out with wrap-around, and record lengths. Every
//! offset is a position modulo the *private* capacity, and every length is checked by
//! the caller against `tail - head <= capacity`, so no copy here leaves the ring.

use super::{QueueView, RECORD_HEADER};
use crate::sys::racy_copy::copy_racy;

impl QueueView<'_> {
    /// Offset in the ring of the position `pos`.
    #[inline(always)]
    fn offset(&self, pos: u64) -> usize {
        (pos % self.cap) as usize
    }

    /// Copies `len` bytes from `src` into the ring at position `pos`, wrapping at the end.
    ///
    /// # Safety
    /// `src` is valid for reads of `len` bytes and `len <= capacity`.
    #[inline(always)]
    pub(super) unsafe fn write_at(&self, pos: u64, src: *const u8, len: usize) {
        let off = self.offset(pos);
        let first = len.min(self.capacity() - off);
        // SAFETY: off < capacity and first <= capacity - off: inside the ring; the rest
        // (len - first <= capacity) starts at the ring's start. `src` per the contract;
        // the ring is shared memory that no Rust reference covers.
        unsafe {
            core::ptr::copy_nonoverlapping(src, self.ring.add(off), first);
            core::ptr::copy_nonoverlapping(src.add(first), self.ring, len - first);
        }
    }

    /// Copies `len` bytes from the ring at position `pos` to `dst`, wrapping at the end.
    ///
    /// # Safety
    /// `dst` is valid for writes of `len` bytes and `len <= capacity`.
    #[inline(always)]
    pub(super) unsafe fn read_at(&self, pos: u64, dst: *mut u8, len: usize) {
        // SAFETY: the contract.
        unsafe { self.read_with(pos, dst, len, plain_copy) }
    }

    /// [`read_at`](Self::read_at) without the lock: the bytes may be written meanwhile
    /// (by a producer of this process too, after another consumer moved `head`), so
    /// they are read with `sys::racy_copy`, never with a plain copy that would race. The
    /// caller throws the copy away unless it proves, under the lock, that nothing moved.
    ///
    /// # Safety
    /// As for `read_at`.
    #[inline]
    pub(super) unsafe fn read_at_racy(&self, pos: u64, dst: *mut u8, len: usize) {
        // SAFETY: the contract.
        unsafe { self.read_with(pos, dst, len, copy_racy) }
    }

    /// Copies `len` bytes from the ring at `pos` to `dst` with `copy`, wrapping at the end.
    ///
    /// # Safety
    /// As for `read_at`; `copy(src, dst, n)` copies `n` bytes and needs nothing more.
    #[inline(always)]
    unsafe fn read_with(
        &self,
        pos: u64,
        dst: *mut u8,
        len: usize,
        copy: unsafe fn(*const u8, *mut u8, usize),
    ) {
        let off = self.offset(pos);
        let first = len.min(self.capacity() - off);
        // SAFETY: as in `write_at`, with the roles swapped.
        unsafe {
            copy(self.ring.add(off), dst, first);
            copy(self.ring, dst.add(first), len - first);
        }
    }

    /// The length field of the record at `pos` (unvalidated: the caller checks it
    /// against the bytes in use).
    #[inline(always)]
    pub(super) fn record_len(&self, pos: u64) -> usize {
        self.record_len_with(pos, plain_copy)
    }

    /// [`record_len`](Self::record_len) without the lock (see
    /// [`read_at_racy`](Self::read_at_racy)).
    #[inline]
    pub(super) fn record_len_racy(&self, pos: u64) -> usize {
        self.record_len_with(pos, copy_racy)
    }

    #[inline(always)]
    fn record_len_with(&self, pos: u64, copy: unsafe fn(*const u8, *mut u8, usize)) -> usize {
        let mut bytes = [0u8; RECORD_HEADER];
        // SAFETY: a local buffer of RECORD_HEADER bytes; RECORD_HEADER <= MIN_CAPACITY.
        unsafe { self.read_with(pos, bytes.as_mut_ptr(), RECORD_HEADER, copy) };
        u32::from_ne_bytes(bytes) as usize
    }

    /// Writes a whole record (length, then bytes) at `pos`.
    ///
    /// # Safety
    /// `RECORD_HEADER + msg.len() <= capacity` and `msg.len() <= MAX_MESSAGE`.
    #[inline(always)]
    pub(super) unsafe fn write_record(&self, pos: u64, msg: &[u8]) {
        let len = (msg.len() as u32).to_ne_bytes();
        // SAFETY: the contract bounds both copies by the capacity.
        unsafe {
            self.write_at(pos, len.as_ptr(), RECORD_HEADER);
            self.write_at(pos + RECORD_HEADER as u64, msg.as_ptr(), msg.len());
        }
    }

    /// Walks the records in `[head, head + used)`: their number, or `None` if a record
    /// length runs past the bytes in use (the ring was scribbled on).
    pub(super) fn count_records(&self, head: u64, used: u64) -> Option<u64> {
        let (mut pos, mut n) = (0u64, 0u64);
        while pos < used {
            if used - pos < RECORD_HEADER as u64 {
                return None;
            }
            let len = self.record_len(head.wrapping_add(pos)) as u64;
            pos += RECORD_HEADER as u64 + len;
            if pos > used {
                return None;
            }
            n += 1;
        }
        Some(n)
    }
}

/// Copies `len` bytes from `src` to `dst` (a plain copy, for the ring under the lock).
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of `len` bytes, not overlapping.
#[inline(always)]
unsafe fn plain_copy(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: the contract.
    unsafe { core::ptr::copy_nonoverlapping(src, dst, len) }
}

//! The book's chain: a stack of words in the thread's private heap, addressed through
//! a pointer to its top.
//!
//! Why not a `Vec`: the usual acquisition and release touch only the top, and a fast
//! path wants to read everything it will write *before* its atomic instruction and
//! only store after it (see `PushPlan`). With the top as one pointer, pushing is "write
//! the entry at `top`, store `top + 1`" and popping is "store `top - 1`": the values
//! are known in advance, and they fit in the registers the fast path has left, where a
//! `Vec` (pointer and length, plus mirrors of its last entries) made the compiler save
//! and restore registers around the atomic instruction, which measured slower.

use core::ptr::NonNull;

/// A stack of `usize` with a fixed-address buffer that grows on request.
pub(super) struct Chain {
    /// The first entry.
    base: NonNull<usize>,
    /// One past the last entry.
    top: *mut usize,
    /// One past the buffer.
    limit: *mut usize,
}

impl Chain {
    /// An empty chain with room for `capacity` (> 0) entries; `None` if memory is short.
    pub(super) fn with_capacity(capacity: usize) -> Option<Chain> {
        let layout = std::alloc::Layout::array::<usize>(capacity).ok()?;
        // SAFETY: the layout has a non-zero size (capacity > 0).
        let base = NonNull::new(unsafe { std::alloc::alloc(layout) }.cast::<usize>())?;
        Some(Chain {
            base,
            top: base.as_ptr(),
            // SAFETY: one past the allocation.
            limit: unsafe { base.as_ptr().add(capacity) },
        })
    }

    fn capacity(&self) -> usize {
        // SAFETY: both point into (or one past) the same allocation.
        unsafe { self.limit.offset_from(self.base.as_ptr()) as usize }
    }

    /// The first entry's address.
    pub(super) fn base(&self) -> *const usize {
        self.base.as_ptr()
    }

    /// How many entries the chain holds.
    pub(super) fn len(&self) -> usize {
        // SAFETY: as in `capacity`.
        unsafe { self.top.offset_from(self.base.as_ptr()) as usize }
    }

    /// Entry `i`. Panics if `i >= len()`.
    pub(super) fn get(&self, i: usize) -> usize {
        assert!(i < self.len(), "chain index out of range");
        // SAFETY: in bounds and initialised (checked).
        unsafe { *self.base.as_ptr().add(i) }
    }

    /// The entries, first to last.
    pub(super) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// True if one more entry fits without growing.
    #[inline(always)]
    pub(super) fn has_room(&self) -> bool {
        self.top < self.limit
    }

    /// The top pointer: one past the last entry.
    #[inline(always)]
    pub(super) fn top(&self) -> *mut usize {
        self.top
    }

    /// Moves the top to `top`.
    ///
    /// # Safety
    /// `top` is inside the buffer or one past it, and every entry below it is
    /// initialised.
    #[inline(always)]
    pub(super) unsafe fn set_top(&mut self, top: *mut usize) {
        self.top = top;
    }

    /// The entry `back` places below the top (`back == 1`: the last entry).
    ///
    /// # Safety
    /// `1 <= back <= len()`.
    #[inline(always)]
    pub(super) unsafe fn nth_back(&self, back: usize) -> usize {
        // SAFETY: in bounds and initialised (the contract).
        unsafe { *self.top.sub(back) }
    }

    /// Appends `v`. Panics if there is no room.
    pub(super) fn push(&mut self, v: usize) {
        assert!(self.has_room(), "chain full");
        // SAFETY: room for one more (checked).
        unsafe {
            self.top.write(v);
            self.top = self.top.add(1);
        }
    }

    /// Removes entry `i`, moving the later ones down. Panics if `i >= len()`.
    pub(super) fn remove(&mut self, i: usize) {
        let len = self.len();
        assert!(i < len, "chain index out of range");
        // SAFETY: both ranges are inside the initialised entries.
        unsafe {
            let at = self.base.as_ptr().add(i);
            core::ptr::copy(at.add(1), at, len - i - 1);
            self.top = self.top.sub(1);
        }
    }

    /// Doubles the buffer (at least `minimum` entries more); false, unchanged, if memory
    /// is short.
    pub(super) fn grow(&mut self, minimum: usize) -> bool {
        let (old_cap, len) = (self.capacity(), self.len());
        let Some(new_cap) = old_cap.checked_add(old_cap.max(minimum)) else {
            return false;
        };
        let (Ok(old), Ok(new)) = (
            std::alloc::Layout::array::<usize>(old_cap),
            std::alloc::Layout::array::<usize>(new_cap),
        ) else {
            return false;
        };
        // SAFETY: `base` was allocated with `old`; `new` has the same alignment and a
        // non-zero size.
        let p = unsafe { std::alloc::realloc(self.base.as_ptr().cast(), old, new.size()) };
        let Some(base) = NonNull::new(p.cast::<usize>()) else {
            return false;
        };
        self.base = base;
        // SAFETY: `len <= old_cap < new_cap` entries of the new buffer.
        unsafe {
            self.top = base.as_ptr().add(len);
            self.limit = base.as_ptr().add(new_cap);
        }
        true
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        if let Ok(layout) = std::alloc::Layout::array::<usize>(self.capacity()) {
            // SAFETY: allocated with this layout (`with_capacity` / `grow`).
            unsafe { std::alloc::dealloc(self.base.as_ptr().cast(), layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pop_remove_grow() {
        let mut c = Chain::with_capacity(2).unwrap();
        c.push(10);
        c.push(11);
        assert!(!c.has_room());
        assert!(c.grow(1));
        c.push(12);
        c.push(13);
        assert_eq!(c.iter().collect::<Vec<_>>(), [10, 11, 12, 13]);
        // SAFETY: 1 <= back <= len.
        assert_eq!(unsafe { c.nth_back(1) }, 13);
        c.remove(1);
        assert_eq!(c.iter().collect::<Vec<_>>(), [10, 12, 13]);
        // SAFETY: inside the buffer; the entries below stay initialised.
        unsafe { c.set_top(c.top().sub(1)) };
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(1), 12);
        c.remove(1);
        assert_eq!(c.iter().collect::<Vec<_>>(), [10]);
    }
}

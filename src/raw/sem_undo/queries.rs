//! What a semaphore tells without changing: its value (counting the units of idle
//! slots and of dead holders), and destroy.

use super::*;

impl RawSemUndo {
    /// Units available: the value, plus units cached in idle slots, plus the units of
    /// holders that died (the kernel has marked their slots; the next acquirer that
    /// needs them takes them back). A pure read.
    pub(crate) fn value(&self) -> u32 {
        let v = self.value.load(Ordering::Acquire);
        let mut total = v & VALUE_MASK;
        for (j, slot) in self.slots.iter().enumerate() {
            let w = slot.word.load(Ordering::Acquire);
            if w != REPORT && w & IDLE != 0 && w & FUTEX_OWNER_DIED == 0 {
                // Cached in an idle slot.
                total = total.saturating_add(slot.units());
                continue;
            }
            if w & FUTEX_TID_MASK != 0 || w & FUTEX_OWNER_DIED == 0 {
                continue;
            }
            let s = slot.state.load(Ordering::Acquire);
            let s = if s & PEND != 0
                && tag_of(v) as usize == j + 1
                && (v & PARITY != 0) == (s & CP == 0)
            {
                committed(s)
            } else {
                s
            };
            total = total.saturating_add((s & UNITS_MASK) as u32);
        }
        total.min(self.max_value())
    }

    /// Maximum value.
    #[inline]
    pub(crate) fn max_value(&self) -> u32 {
        self.max_value.load(Ordering::Relaxed)
    }

    /// Units the calling thread holds.
    pub(crate) fn held_by_caller(&self) -> u32 {
        let Some(me) = thread::current_if_ready() else {
            return 0;
        };
        self.my_claimed_slot(me)
            .map_or(0, |i| self.slots[i].units())
    }

    /// Ends an in-place semaphore: `Busy` while the calling thread holds units (its
    /// private book says so), while any live holder holds units, or while threads
    /// really sleep on it.
    pub(crate) fn destroy(&self) -> Status {
        if robust::thread_holds_lock_in(
            self as *const RawSemUndo as usize,
            core::mem::size_of::<RawSemUndo>(),
        ) {
            return Status::Busy;
        }
        let held = self.slots.iter().any(|s| {
            let w = s.word.load(Ordering::Relaxed);
            w & FUTEX_TID_MASK != 0 && w & IDLE == 0 && s.units() != 0
        });
        if held || crate::raw::has_sleepers(&self.sleepers, &self.value) {
            return Status::Busy;
        }
        self.header.retire();
        Status::Ok
    }
}

//! Releasing units: back into the thread's slot (cached while it idles) or to the
//! value, and waking sleepers.

use super::*;

impl RawSemUndo {
    /// Returns one unit that the calling thread acquired: `Ok`, `NotOwner` (the thread
    /// holds no unit of this semaphore: nothing changed), `Overflow` (at `max_value`,
    /// which only a damaged object can reach: nothing changed).
    ///
    /// Shaped like [`acquire`](Self::acquire): the usual case inline, without a call
    /// unless someone sleeps; the rest one tail call.
    #[inline(always)]
    pub(crate) fn release(&self) -> Status {
        // An uninitialised thread's null book fails the fast path's test.
        if self.try_release_cached(thread::current_as_is()) {
            return Status::Ok;
        }
        self.release_uncached()
    }

    /// [`release`](Self::release) when its fast path did not apply.
    #[inline(never)]
    pub(super) fn release_uncached(&self) -> Status {
        match thread::current_if_ready() {
            Some(me) => self.release_slow(me),
            None => Status::NotOwner,
        }
    }

    /// The usual release: our last unit, from our home slot. The unit stays in the slot,
    /// which goes idle ("cached"): our next acquire takes it back with one CAS on our
    /// own word, and anyone who needs it takes the idle slot over (it holds nothing for
    /// the kernel to report). `LINKED` stays set (see `Slot`). One swap of the slot
    /// word; false, with nothing changed, when this is not the case.
    #[inline(always)]
    pub(super) fn try_release_cached(&self, me: &ThreadCtx) -> bool {
        let i = self.home(me);
        let slot = &self.slots[i];
        let s = slot.state.load(Ordering::Relaxed);
        // SAFETY: the calling thread's own book (or null), used only in this call.
        let Some(book) = (unsafe { me.book.as_mut() }) else {
            return false;
        };
        // "Ours" without comparing tokens: the book (private) lists this slot's node
        // last, so this thread took the slot and still holds it, and the word says no
        // reclaimer took it over since.
        if self.ns_flags.load(Ordering::Relaxed) != me.same_ns_key
            || slot.word.load(Ordering::Relaxed) != me.tid
            || s & (UNITS_MASK | PEND) != 1
            || !book.links()
            || !robust::is_last(book, &slot.list_next)
        {
            return false;
        }
        // Read before the swap, so that only stores follow it (see `robust::PushPlan`).
        // SAFETY: the book lists a lock (`is_last`).
        let plan = unsafe { robust::plan_pop(book) };
        let head = me.robust_head;
        // SAFETY: this thread's live head (a book that links has one).
        unsafe { robust::set_pending(head, &slot.list_next) };
        // SAFETY: we own the slot; the book links, `is_last` holds and `plan` was made
        // from the book just now.
        unsafe { robust::unlink_last_linked(book, &slot.list_next, plan) };
        // A swap, not a store: with the sleepers load below it pairs with a waiter's
        // registration and its look for cached units (SeqCst both).
        let old = slot.word.swap(me.tid | IDLE, Ordering::SeqCst);
        // SAFETY: this thread's live head.
        unsafe { robust::clear_pending(head) };
        // The book's own bookkeeping (private memory) after the swap: stores in front
        // of an atomic instruction delay it.
        // SAFETY: `unlink_last_linked` just unlinked the book's last lock per `plan`.
        unsafe { robust::pop_unlinked_last(book, plan) };
        if old & FUTEX_WAITERS != 0 {
            wake_all_watchers(&slot.word);
        }
        if self.sleepers.load(Ordering::SeqCst) != 0 {
            self.wake_one();
        }
        true
    }

    #[cold]
    #[inline(never)]
    pub(super) fn wake_one(&self) {
        futex::wake(&self.value, 1);
    }

    #[cold]
    #[inline(never)]
    pub(super) fn release_slow(&self, me: &ThreadCtx) -> Status {
        let Some(i) = self.my_claimed_slot(me) else {
            return Status::NotOwner;
        };
        if self.slots[i].units() == 0 {
            return Status::NotOwner;
        }
        let robust = self.robust_for(me);
        match self.apply(me, i, 1, false, false, &Deadline::Never) {
            Ok(()) => {}
            Err(Blocked::Timeout) => return Status::Busy,
            Err(_) => return Status::Overflow,
        }
        if self.slots[i].units() == 0 {
            self.go_idle(me, robust, i);
        }
        if self.sleepers.load(Ordering::SeqCst) != 0 {
            self.wake_one();
        }
        Status::Ok
    }
}

//! Releasing units: back into the thread's slot (cached while it idles) or to the
//! value, and waking sleepers.

use super::*;

/// What the fast release did.
pub(super) enum Released {
    /// Released, and nobody to wake.
    Quietly,
    /// Released; sleepers or watchers of the slot word (whose old value this is) wait.
    WakeNeeded(u32),
    /// Not the usual case: nothing changed.
    No,
}

impl RawSemUndo {
    /// Returns one unit that the calling thread acquired: `Ok`, `NotOwner` (the thread
    /// holds no unit of this semaphore: nothing changed), `Overflow` (at `max_value`,
    /// which only a damaged object can reach: nothing changed).
    ///
    /// Shaped like [`acquire`](Self::acquire): the usual case inline and without a
    /// call; waking sleepers and everything else are out of line, reached from the
    /// cold branches, so that the inline part keeps nothing across a call and saves no
    /// register.
    #[inline(always)]
    pub(crate) fn release(&self) -> Status {
        // An uninitialised thread's null head fails the fast path's test.
        match self.try_release_cached(thread::current_as_is()) {
            Released::Quietly => Status::Ok,
            Released::WakeNeeded(old) => self.wake_after_release(old),
            Released::No => self.release_uncached(),
        }
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
    /// which goes idle ("cached", `tid | IDLE | CACHED_ONE`): our next acquire takes it
    /// back with one CAS on our own word, and anyone who needs it takes the idle slot
    /// over (it holds nothing for the kernel to report). `LINKED` stays set (see
    /// `Slot`). One swap of the slot word; `No`, with nothing changed, when this is not
    /// the case.
    ///
    /// "Ours" is decided from private memory alone: the book (private) lists this
    /// slot's node last, so this thread took the slot and has not given it up, and the
    /// slot word is not read before the swap. While we live and hold the slot, its word
    /// is `tid` or `tid | FUTEX_WAITERS` (a waiter watching it; the swap's old value
    /// shows it and we wake them): the kernel marks it only at our death (or at the
    /// death of a waiter whose pending mark names it and whose TID is ours, which only a
    /// thread of another PID namespace could have, and such a thread never marks a word
    /// it does not own: `holder::Robust`), the back-stop only on positive evidence of
    /// our death, a reclaimer only after such a mark. A forked child starts with an
    /// empty book (`thread::after_fork_child`), and a thread's book is retired with its
    /// robust head at its exit. Only a peer scribbling on the word makes it anything
    /// else, which breaks this object alone. (The namespace key is still compared: our
    /// own pending mark outlives the swap by a few instructions, and across namespaces a
    /// thread with our TID could take the idle slot over in between.)
    ///
    /// `PEND` is not tested either: only our own `apply` sets it in a slot we hold, and
    /// commits before it returns.
    #[inline(always)]
    pub(super) fn try_release_cached(&self, me: &ThreadCtx) -> Released {
        let head = me.robust_head;
        if head.is_null() {
            return Released::No;
        }
        // SAFETY: a non-null head comes with the calling thread's own book, which links
        // into it (`ThreadCtx::robust_head`); used only in this call.
        let book = unsafe { &mut *me.book };
        let i = self.home(me);
        let slot = &self.slots[i];
        // One unit held: the state's low half is the units (bits 0..24) and the low
        // bits of the pending amount, which `committed` cleared (no operation of ours is
        // in flight); so 1 there is exactly one unit, in one 32-bit compare.
        let one_unit = slot.state.load(Ordering::Relaxed) as u32 == 1;
        // "Ours" from the book alone (see above): no token, no word compared.
        if self.ns_flags.load(Ordering::Relaxed) != me.same_ns_key
            || !one_unit
            || !robust::is_last(book, &slot.list_next)
        {
            return Released::No;
        }
        // Read before the swap, so that only stores follow it (see `robust::PushPlan`).
        // SAFETY: the book lists a lock (`is_last`).
        let plan = unsafe { robust::plan_pop(book) };
        // SAFETY: this thread's live head.
        unsafe { robust::set_pending(head, &slot.list_next) };
        // SAFETY: we own the slot; the book links, `is_last` holds and `plan` was made
        // from the book just now.
        unsafe { robust::unlink_last_linked(book, &slot.list_next, plan) };
        // A swap, not a store: with the sleepers load below it pairs with a waiter's
        // registration and its look for cached units (SeqCst both).
        let old = slot.word.swap(me.tid | IDLE | CACHED_ONE, Ordering::SeqCst);
        // SAFETY: this thread's live head.
        unsafe { robust::clear_pending(head) };
        // The book's own bookkeeping (private memory) after the swap: stores in front
        // of an atomic instruction delay it.
        // SAFETY: `unlink_last_linked` just unlinked the book's last lock per `plan`.
        unsafe { robust::pop_unlinked_last(book, plan) };
        if old & FUTEX_WAITERS != 0 || self.sleepers.load(Ordering::SeqCst) != 0 {
            return Released::WakeNeeded(old);
        }
        Released::Quietly
    }

    /// After a fast release that found someone to wake: the waiters that watch our
    /// slot word (`old`, the word our swap replaced, has `FUTEX_WAITERS`), then one
    /// sleeper on the value if any. Out of line: the fast path only branches here.
    #[cold]
    #[inline(never)]
    pub(super) fn wake_after_release(&self, old: u32) -> Status {
        if old & FUTEX_WAITERS != 0 {
            let me = thread::current_as_is();
            wake_all_watchers(&self.slots[self.home(me)].word);
        }
        if self.sleepers.load(Ordering::SeqCst) != 0 {
            self.wake_one();
        }
        Status::Ok
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

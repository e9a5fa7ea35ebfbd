//! Dead holders: taking a dead holder's slot over, giving its units back, publishing
//! and collecting the death report (exactly one acquirer is told), and the `/proc`
//! back-stop for deaths the kernel did not mark.

use super::*;

impl RawSemUndo {
    /// Reclaims every slot whose holder died: true if any was found.
    pub(super) fn reclaim_dead(&self, me: &ThreadCtx) -> bool {
        let mut any = false;
        for (j, slot) in self.slots.iter().enumerate() {
            let w = slot.word.load(Ordering::Acquire);
            if w & FUTEX_TID_MASK == 0 && w & FUTEX_OWNER_DIED != 0 {
                self.reclaim(me, j);
                any = true;
            }
        }
        any
    }

    /// Takes over dead slot `j`, settles its pending operation, returns its units to the
    /// value, and leaves a death report (if it held units) for one acquirer. Every step
    /// survives our own death: the slot is ours (linked in our robust list) until its
    /// word is freed, and a later reclaimer redoes what is left.
    #[cold]
    #[inline(never)]
    pub(super) fn reclaim(&self, me: &ThreadCtx, j: usize) {
        let slot = &self.slots[j];
        let w = slot.word.load(Ordering::Acquire);
        if w & FUTEX_TID_MASK != 0 || w & FUTEX_OWNER_DIED == 0 {
            return;
        }
        // SAFETY: the calling thread's own book (or null).
        unsafe { robust::make_room(me.book) };
        let robust = self.robust_for(me);
        if !self.take_dead(me, robust, j, w) {
            return;
        }
        // Settle the dead holder's operation in flight, if any.
        let mut s = slot.state.load(Ordering::Acquire);
        if s & PEND != 0 {
            let v = self.value.load(Ordering::Acquire);
            let done = tag_of(v) as usize == j + 1 && (v & PARITY != 0) == (s & CP == 0);
            s = if done {
                committed(s)
            } else {
                s & !(PEND | ACQ | DELTA_MASK)
            };
        }
        let units = (s & UNITS_MASK) as u32;
        if units > 0 {
            s |= DEATH_DUE;
        }
        slot.state.store(s, Ordering::Release);
        if units > 0 {
            // Give the units back: an operation of slot j (ours now).
            let returned = units.min(UNDO_VALUE_MAX);
            let r = self.apply(me, j, returned, false, true, &Deadline::Never);
            if r == Err(Blocked::Timeout) {
                // Another operation never committed (a damaged object, or a stopped
                // thread): leave the slot dead, as we found it, for a later reclaim.
                self.abandon_reclaim(me, robust, j);
                return;
            }
            if r.is_err() {
                // Only a damaged object gets here (more units than the bound allows):
                // drop the excess rather than pass the bound.
                let st = slot.state.load(Ordering::Relaxed);
                slot.state.store(st & !UNITS_MASK, Ordering::Relaxed);
            }
            let n = self.sleepers.load(Ordering::SeqCst);
            if n != 0 {
                futex::wake(&self.value, returned.min(n));
            }
        }
        let report = slot.state.load(Ordering::Relaxed) & DEATH_DUE != 0;
        #[cfg(test)]
        test_hooks::hook(test_hooks::HookPoint::ReclaimBeforeReport);
        // Free the slot (or leave the report in it).
        let free = if report { REPORT } else { 0 };
        let old = robust.unlink_and_swap(me, &slot.list_next, &slot.word, free);
        if old & FUTEX_WAITERS != 0 {
            futex::wake_all(&slot.word);
        }
        if report {
            self.raise_deaths();
        }
        #[cfg(test)]
        test_hooks::hook(test_hooks::HookPoint::ReclaimReported);
    }

    /// Gives dead slot `j` (taken over by us, its state settled) back to the dead state.
    pub(super) fn abandon_reclaim(&self, me: &ThreadCtx, robust: Robust, j: usize) {
        let slot = &self.slots[j];
        robust.unlink_and_swap(
            me,
            &slot.list_next,
            &slot.word,
            FUTEX_OWNER_DIED | FUTEX_WAITERS,
        );
    }

    /// CASes dead slot `j` from `w` to ours and links it (as `take_slot`, keeping the
    /// dead holder's state): true on success.
    pub(super) fn take_dead(&self, me: &ThreadCtx, robust: Robust, j: usize, w: u32) -> bool {
        let slot = &self.slots[j];
        robust.before_cas(&slot.list_next);
        // Keep W: sleepers on the word are woken when we free it.
        if slot
            .word
            .compare_exchange(
                w,
                me.tid | (w & FUTEX_WAITERS),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_err()
        {
            robust.after_failed_cas();
            return false;
        }
        // Linked first: from here on the kernel reports our death, record or not.
        robust.link(me, &slot.list_next);
        self.record_holder(me, slot);
        true
    }

    /// Collects one death report (after taking a unit): true if this caller is the one
    /// told. Keeps `DEATHS` set while reports remain.
    ///
    /// A reclaimer gives the dead holder's units back (raising `DEATHS` in the same
    /// step) *before* it marks its slot `REPORT`, so an acquirer can take one of those
    /// units while the report is still being published. Such a report is "in flight":
    /// its slot's state says `DEATH_DUE` while the word still names the reclaimer. We
    /// wait for it (a few instructions), or finish it ourselves if the reclaimer died
    /// meanwhile, so that the death is reported to one of the acquirers its units
    /// admitted — not to some later one. Gives up (not told) only after
    /// `SETTLE_GIVE_UP`, which takes a stopped reclaimer or a damaged object.
    #[cold]
    #[inline(never)]
    pub(super) fn collect_report(&self, me: &ThreadCtx) -> bool {
        let mut patience = Patience::default();
        loop {
            if self.claim_published_report() {
                self.settle_deaths_flag();
                return true;
            }
            #[cfg(test)]
            test_hooks::hook(test_hooks::HookPoint::CollectAfterClaim);
            // A report published since the claim above looked (its reclaimer swapped the
            // word to `REPORT` in between) is claimed on the next round, not missed: it
            // may be the one for the unit we took.
            let mut published = false;
            let in_flight = self.slots.iter().enumerate().find_map(|(j, s)| {
                let w = s.word.load(Ordering::Acquire);
                published |= w == REPORT;
                let held_or_dead = w != REPORT && w & IDLE == 0 && w & !FUTEX_WAITERS != 0;
                (held_or_dead && s.state.load(Ordering::Acquire) & DEATH_DUE != 0).then_some((j, w))
            });
            let Some((j, w)) = in_flight else {
                if published {
                    continue;
                }
                self.settle_deaths_flag();
                return false;
            };
            if w & FUTEX_TID_MASK == 0 && w & FUTEX_OWNER_DIED != 0 {
                // Its reclaimer died before marking it: finish that reclaim.
                self.reclaim(me, j);
                continue;
            }
            if !patience.wait(&Deadline::Never) {
                self.settle_deaths_flag();
                return false;
            }
        }
    }

    /// Takes one published report (`REPORT` slot → free): true if we got one.
    pub(super) fn claim_published_report(&self) -> bool {
        self.slots.iter().any(|s| {
            if s.word.load(Ordering::Relaxed) != REPORT {
                return false;
            }
            // From here on the word alone says "report due": drop the state's flag
            // before the slot can be claimed again, or a claimer that dies before it
            // rewrites the state would leave a stale flag that reports this death twice.
            // (Nobody else writes the state of a REPORT slot; a loser of the CAS below
            // clears a flag that only a reclaim in progress would set.)
            s.state.fetch_and(!DEATH_DUE, Ordering::AcqRel);
            s.word
                .compare_exchange(REPORT, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })
    }

    /// Raises `DEATHS` (after `NS_DEATHS`, which the fast paths test).
    pub(super) fn raise_deaths(&self) {
        self.ns_flags.fetch_or(NS_DEATHS, Ordering::SeqCst);
        self.value.fetch_or(DEATHS, Ordering::SeqCst);
    }

    /// Clears `DEATHS`, then looks again: a reclaimer marks its slot `REPORT` before it
    /// raises the flag again, so every report is seen here or flagged again after us.
    /// `NS_DEATHS` the same way, when no report is left: cleared, then a look for
    /// reports and `DEATHS`; a report published after that look is raised again by
    /// its reclaimer, after our clearing.
    pub(super) fn settle_deaths_flag(&self) {
        self.value.fetch_and(!DEATHS, Ordering::SeqCst);
        let reports = || {
            self.slots
                .iter()
                .any(|s| s.word.load(Ordering::SeqCst) == REPORT)
        };
        if reports() {
            self.raise_deaths();
            return;
        }
        self.ns_flags.fetch_and(!NS_DEATHS, Ordering::SeqCst);
        if self.value.load(Ordering::SeqCst) & DEATHS != 0 || reports() {
            self.ns_flags.fetch_or(NS_DEATHS, Ordering::SeqCst);
        }
    }

    /// The back-stop: true only if the holder recorded in slot `j` (whose word is `w`)
    /// provably no longer exists (the RLock's rules: positive evidence from the judge in
    /// `sys::liveness` about a holder of our PID namespace, the record matching the
    /// word, nothing changing meanwhile).
    #[cold]
    pub(super) fn holder_is_provably_dead(&self, me: &ThreadCtx, j: usize, w: u32) -> bool {
        let slot = &self.slots[j];
        if w & FUTEX_TID_MASK == 0 || w & IDLE != 0 || w == REPORT {
            return false;
        }
        // Waiters set W on the word meanwhile: that is no change of holder.
        slot.record()
            .holder_is_provably_dead(me, &slot.word, w, FUTEX_WAITERS)
    }
}

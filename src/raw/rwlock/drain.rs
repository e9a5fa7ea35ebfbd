//! The writer's second step: with `wword` taken, wait until every reader slot is free
//! (a live reader releases it; a dead one's slot becomes a report).

use super::*;

impl RawRwLock {
    /// Waits until no reader holds a slot (we hold `wword`, so no new reader enters),
    /// then claims one report of a dead reader if `told` is not already true (a dead
    /// writer's mark taken with `wword`). `Ok` or `OwnerDead`; on `Timeout` / `Intr` the
    /// write side is given back (with the dead writer's mark, if we took one), and
    /// `Deadlock` when a slot is the caller's own (read held: an upgrade).
    #[inline]
    pub(super) fn drain_readers(
        &self,
        me: &ThreadCtx,
        robust: Robust,
        told: bool,
        deadline: &Deadline,
    ) -> Status {
        if self.no_reader_in() {
            return self.writer_admitted(told);
        }
        self.drain_slow(me, robust, told, deadline)
    }

    /// True if no slot ever used is held (or marked): called with `wword` taken. The
    /// CAS on `wword` was SeqCst: these loads see every reader that entered before it
    /// (and every later reader sees our TID and backs off).
    #[inline(always)]
    pub(super) fn no_reader_in(&self) -> bool {
        let mut used = self.used_slots();
        let mut busy = false;
        while used != 0 {
            let i = used.trailing_zeros() as usize;
            used &= used - 1;
            busy |= self.slots[i].word.load(Ordering::SeqCst) != 0;
        }
        !busy
    }

    #[inline(always)]
    fn writer_admitted(&self, told: bool) -> Status {
        if told || (self.reports.load(Ordering::Relaxed) != 0 && self.claim_report()) {
            Status::OwnerDead
        } else {
            Status::Ok
        }
    }

    #[cold]
    #[inline(never)]
    fn drain_slow(
        &self,
        me: &ThreadCtx,
        robust: Robust,
        told: bool,
        deadline: &Deadline,
    ) -> Status {
        // A report met on the way, claimed once every slot is drained (a writer that
        // gives up meanwhile leaves it for the next acquirer).
        let mut report_at = None;
        let used = self.used_slots();
        for (i, s) in self.slots.iter().enumerate() {
            if used & (1u64 << i) == 0 {
                continue;
            }
            let mut spun = false;
            loop {
                let w = s.word.load(Ordering::SeqCst);
                if w == REPORT {
                    report_at.get_or_insert(i);
                    break;
                }
                if w == 0 {
                    break;
                }
                if w & FUTEX_TID_MASK == 0 {
                    if w & FUTEX_OWNER_DIED != 0 {
                        self.reclaim_dead_slot(i, w);
                        continue; // now REPORT (or changed): look again
                    }
                    break; // a stray W bit: free
                }
                if w & FUTEX_TID_MASK == me.tid && s.is_held_by(me) {
                    self.unlock_write(me, robust, told);
                    return Status::Deadlock;
                }
                if deadline.is_now() {
                    self.unlock_write(me, robust, told);
                    return Status::Timeout;
                }
                if !spun {
                    spun = true;
                    spin_until(
                        &s.word,
                        |v| v & FUTEX_TID_MASK != 0 && v & (FUTEX_WAITERS | FUTEX_OWNER_DIED) == 0,
                        |v| v == 0,
                    );
                    continue;
                }
                // A reader's release wakes every sleeper on its slot (any mask).
                let wait = (futex::MASK_ANY, BACKSTOP_INTERVAL_MS);
                let status = match self.sleep_on(me, &s.word, w, wait, Some(s.record()), deadline) {
                    Slept::Interrupted => Status::Intr,
                    Slept::DeadlinePassed => Status::Timeout,
                    Slept::Changed | Slept::Woken | Slept::BackStopLooked => continue,
                };
                self.unlock_write(me, robust, told);
                return status;
            }
        }
        if !told
            && let Some(i) = report_at
            && self.slots[i]
                .word
                .compare_exchange(REPORT, 0, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
        {
            self.reports_sub();
            return Status::OwnerDead;
        }
        self.writer_admitted(told)
    }
}

//! The read side: claiming a slot, checking for a writer, re-entry, waiting, release.

use super::*;

impl RawRwLock {
    /// Acquires the read side, or re-enters it (the thread's level goes up; no waiting,
    /// even behind a waiting writer, which could otherwise wait for us for ever):
    /// `Ok`, `OwnerDead` (acquired, and this acquisition is told of a writer or reader
    /// that died holding the lock), `Timeout`, `Intr` (nothing acquired), `Busy` (all
    /// `RW_READERS` slots are held by other threads), `Deadlock` (the caller holds the
    /// write side), `Overflow` (re-entry level at its limit).
    ///
    /// The inline path — the thread's home slot, which it held before (its record is
    /// there already), our namespace, a book that links and has room — is one CAS of
    /// the thread's own slot line, loads of the writer line, and plain stores that link
    /// the slot (planned after the CAS, see `robust::PushPlan`). It calls nothing and
    /// returns early; everything else (the deadline included) is reached by a tail call,
    /// so the inline path needs no stack frame.
    #[inline]
    pub(crate) fn acquire_read<W: WaitLimit>(&self, limit: W) -> Status {
        self.acquire_with(
            limit,
            Self::read_inline,
            Self::read_after_inline,
            Self::acquire_read_slow,
        )
    }

    /// The inline read acquisition (see [`acquire_read`](Self::acquire_read)).
    ///
    /// `used` is not touched here: the slot's token is ours, and the token is written
    /// only after `take_slot` set the slot's bit in `used` (bits are never cleared, and
    /// `init` zeroes tokens with them), so the bit has been set — and seen by every
    /// later `SeqCst` load of `used` — since before our previous claim of this slot.
    /// Only a peer that scribbles on `used` or on a token can break that, and then only
    /// this lock's exclusion.
    #[inline(always)]
    fn read_inline(&self, me: &ThreadCtx, book: &mut robust::Book) -> Inline {
        let s = self.home_slot(me);
        if s.token.load(Ordering::Relaxed) != me.token {
            return Inline::Skipped;
        }
        // SAFETY: the book links and has room; we own the slot once the CAS succeeds,
        // and the caller keeps the object mapped while it is held.
        let seen = unsafe {
            robust::acquire_linked(
                book,
                me.robust_head,
                &s.list_next,
                || {
                    s.word
                        .compare_exchange(0, me.tid, Ordering::SeqCst, Ordering::Relaxed)
                        .is_ok()
                },
                || {
                    s.level.store(1, Ordering::Relaxed);
                    // SeqCst after our SeqCst CAS: a writer that took `wword` before
                    // sees our slot, or we see its TID here. Anything but "no writer,
                    // no report waiting" goes to the general path.
                    self.wword.load(Ordering::SeqCst) | self.reports.load(Ordering::Relaxed)
                },
            )
        };
        match seen {
            Some(0) => Inline::Done,
            Some(_) => Inline::Taken,
            None => Inline::Skipped,
        }
    }

    /// The general read path after the inline path took (and linked) the thread's home
    /// slot but saw a writer or a waiting report.
    #[cold]
    #[inline(never)]
    fn read_after_inline<W: WaitLimit>(&self, limit: W) -> Status {
        let me = thread::current();
        let robust = Self::inline_robust(me);
        self.read_loop(me, robust, Some(home(me)), false, &limit.deadline())
    }

    /// A new holder's token and back-stop record.
    #[cold]
    #[inline(never)]
    fn record_reader(&self, me: &ThreadCtx, s: &ReadSlot) {
        s.token.store(me.token, Ordering::Relaxed);
        s.record().write(me);
    }

    #[cold]
    #[inline(never)]
    fn acquire_read_slow<W: WaitLimit>(&self, limit: W) -> Status {
        let Some((me, robust)) = self.general_start() else {
            return Status::Deadlock;
        };
        if let Some(j) = self.my_slot(me, None) {
            return self.reenter(j, false);
        }
        self.read_loop(me, robust, None, false, &limit.deadline())
    }

    /// One more level on slot `j`, which the caller holds.
    fn reenter(&self, j: usize, told: bool) -> Status {
        let s = &self.slots[j];
        let l = s.level.load(Ordering::Relaxed);
        if l == u32::MAX {
            return Status::Overflow;
        }
        s.level.store(l + 1, Ordering::Relaxed);
        if told { Status::OwnerDead } else { Status::Ok }
    }

    /// The slot the caller holds (other than `except`), if any: its home slot first.
    fn my_slot(&self, me: &ThreadCtx, except: Option<usize>) -> Option<usize> {
        let h = home(me);
        (0..RW_READERS)
            .map(|k| (h + k) % RW_READERS)
            .find(|&i| Some(i) != except && self.slots[i].is_held_by(me))
    }

    /// The general read path: `held` is the slot the fast path took (and linked), if
    /// any; `told` whether a report was taken with it.
    #[cold]
    #[inline(never)]
    fn read_loop(
        &self,
        me: &ThreadCtx,
        robust: Robust,
        mut held: Option<usize>,
        mut told: bool,
        deadline: &Deadline,
    ) -> Status {
        let mut slept = false;
        let mut spun = false;
        loop {
            let i = match held {
                Some(i) => i,
                None => match self.claim_slot(me, robust) {
                    Some((i, report)) => {
                        told |= report;
                        i
                    }
                    None => return Status::Busy,
                },
            };
            held = Some(i);
            let w = self.wword.load(Ordering::SeqCst);
            let tid = w & FUTEX_TID_MASK;
            if tid == 0 && w & FUTEX_OWNER_DIED != 0 {
                // A writer died holding the lock: take its mark (we hold a slot, so a
                // writer that takes the word after our CAS waits for us).
                if self
                    .wword
                    .compare_exchange(w, 0, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
                {
                    if w & FUTEX_WAITERS != 0 {
                        futex::wake_all(&self.wword);
                    }
                    if told {
                        // Two deaths for one acquisition: the report waits for the next.
                        self.give_report_back(i);
                    }
                    return Status::OwnerDead;
                }
                continue;
            }
            if tid == 0 || tid == READ_PHASE {
                if slept && tid == READ_PHASE {
                    self.phase_reader_in();
                }
                return self.reader_admitted(told);
            }
            // A writer holds the word (or drains readers).
            if tid == me.tid && self.is_writer(me) {
                self.free_slot(me, robust, i, &mut told);
                return Status::Deadlock;
            }
            if let Some(j) = self.my_slot(me, Some(i)) {
                // Re-entry (this slot came from the fast path): stay on the older slot,
                // which the writer already waits for.
                self.free_slot(me, robust, i, &mut told);
                return self.reenter(j, false);
            }
            self.free_slot(me, robust, i, &mut told);
            held = None;
            if deadline.is_now() {
                return Status::Timeout;
            }
            if !spun {
                spun = true;
                spin_until(
                    &self.wword,
                    |v| {
                        let t = v & FUTEX_TID_MASK;
                        t != 0 && t != READ_PHASE && v & (FUTEX_WAITERS | FUTEX_OWNER_DIED) == 0
                    },
                    |v| v & FUTEX_TID_MASK == 0,
                );
                continue;
            }
            let wait = (WAKE_READERS, BACKSTOP_INTERVAL_MS);
            match self.sleep_on(
                me,
                &self.wword,
                w,
                wait,
                Some(self.writer_record()),
                deadline,
            ) {
                Slept::Woken => slept = true,
                Slept::Interrupted => return Status::Intr,
                Slept::DeadlinePassed => return Status::Timeout,
                Slept::Changed | Slept::BackStopLooked => {}
            }
        }
    }

    /// Admitted with a slot: told if a report was taken with it, or if one is waiting.
    #[inline]
    fn reader_admitted(&self, told: bool) -> Status {
        if told || (self.reports.load(Ordering::Relaxed) != 0 && self.claim_report()) {
            Status::OwnerDead
        } else {
            Status::Ok
        }
    }

    /// Finds and takes a slot: a free one (home first), else a `REPORT` one (taking its
    /// report: `(i, true)`). Dead slots met on the way become reports. `None` when all
    /// are held.
    fn claim_slot(&self, me: &ThreadCtx, robust: Robust) -> Option<(usize, bool)> {
        let h = home(me);
        let mut report_at = None;
        for k in 0..RW_READERS {
            let i = (h + k) % RW_READERS;
            let w = self.slots[i].word.load(Ordering::Relaxed);
            if w == 0 {
                if self.take_slot(me, robust, i, 0) {
                    return Some((i, false));
                }
            } else if w == REPORT {
                report_at.get_or_insert(i);
            } else if w & FUTEX_TID_MASK == 0 && w & FUTEX_OWNER_DIED != 0 {
                self.reclaim_dead_slot(i, w);
                report_at.get_or_insert(i);
            }
        }
        let i = report_at?;
        if self.take_slot(me, robust, i, REPORT) {
            self.reports_sub();
            return Some((i, true));
        }
        None
    }

    /// CASes slot `i` from `expected` to our TID and records and links it: true on
    /// success.
    fn take_slot(&self, me: &ThreadCtx, robust: Robust, i: usize, expected: u32) -> bool {
        let s = &self.slots[i];
        robust.before_cas(&s.list_next);
        if s.word
            .compare_exchange(expected, me.tid, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            robust.after_failed_cas();
            return false;
        }
        self.mark_used(i);
        if s.token.load(Ordering::Relaxed) != me.token {
            self.record_reader(me, s);
        }
        s.level.store(1, Ordering::Relaxed);
        robust.link(me, &s.list_next);
        true
    }

    /// Gives slot `i` (held by the caller) up; a report taken with it (`told`) goes
    /// back into it for a later acquisition.
    fn free_slot(&self, me: &ThreadCtx, robust: Robust, i: usize, told: &mut bool) {
        let s = &self.slots[i];
        s.level.store(0, Ordering::Relaxed);
        let free = if *told {
            self.reports.fetch_add(1, Ordering::SeqCst);
            *told = false;
            REPORT
        } else {
            0
        };
        let old = robust.unlink_and_swap(me, &s.list_next, &s.word, free);
        if old & FUTEX_WAITERS != 0 {
            futex::wake_all(&s.word);
        }
    }

    /// A report taken with slot `i` goes back for the next acquisition, while we keep
    /// the read side: the next claimer finds it through `reports` (any slot may carry
    /// it, so we simply count it again and leave a `REPORT` in a free slot).
    #[cold]
    fn give_report_back(&self, held: usize) {
        self.reports.fetch_add(1, Ordering::SeqCst);
        let placed = self.slots.iter().enumerate().any(|(j, s)| {
            if j == held {
                return false;
            }
            self.mark_used(j); // a writer must see the report
            s.word
                .compare_exchange(0, REPORT, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
        });
        if !placed {
            self.reports_sub();
        }
    }

    /// Releases one read level: `Ok`, or `NotOwner` if the caller holds no read slot.
    /// The inline path (the home slot at level 1, most recently linked) is one swap of
    /// the thread's own slot line and plain stores that unlink it; a sleeping writer to
    /// wake, and every other case, is reached by a tail call.
    ///
    /// The inline path decides that we hold the slot from our private book alone (its
    /// last entry is this slot's node: we recorded it when we took the slot and forget
    /// it when we free it), as [`ReadSlot::is_held_by`] accepts the book too; the slot's
    /// word and token, which a peer could rewrite, are not needed for that.
    #[inline]
    pub(crate) fn release_read(&self) -> Status {
        // SAFETY: the book is used only during this call, and nothing else borrows it.
        if let Some((me, book)) = unsafe { self.inline_thread() } {
            let s = self.home_slot(me);
            if robust::is_last(book, &s.list_next) && s.level.load(Ordering::Relaxed) == 1 {
                // SAFETY: the book links, we own the slot, `is_last` holds.
                let old = unsafe {
                    robust::release_last_linked(book, me.robust_head, &s.list_next, || {
                        s.word.swap(0, Ordering::SeqCst)
                    })
                };
                if old & FUTEX_WAITERS != 0 {
                    return Self::wake_slot_sleepers(s);
                }
                return Status::Ok;
            }
        }
        self.release_read_slow()
    }

    /// Wakes the writer sleeping on a slot just freed: `Ok`.
    #[cold]
    #[inline(never)]
    fn wake_slot_sleepers(s: &ReadSlot) -> Status {
        futex::wake_all(&s.word);
        Status::Ok
    }

    #[cold]
    #[inline(never)]
    fn release_read_slow(&self) -> Status {
        let Some(me) = thread::current_if_ready() else {
            return Status::NotOwner;
        };
        let h = home(me);
        let i = if self.slots[h].is_held_by(me) {
            h
        } else {
            match self.my_slot(me, Some(h)) {
                Some(j) => j,
                None => return Status::NotOwner,
            }
        };
        let s = &self.slots[i];
        let l = s.level.load(Ordering::Relaxed);
        if l > 1 {
            s.level.store(l - 1, Ordering::Relaxed);
            return Status::Ok;
        }
        let robust = self.robust_for(me);
        s.level.store(0, Ordering::Relaxed);
        if robust.unlink_and_swap(me, &s.list_next, &s.word, 0) & FUTEX_WAITERS != 0 {
            futex::wake_all(&s.word);
        }
        Status::Ok
    }

    /// The calling thread's read level (0 if it does not hold the read side).
    pub(crate) fn read_level(&self) -> u32 {
        let Some(me) = thread::current_if_ready() else {
            return 0;
        };
        self.slots
            .iter()
            .filter(|s| s.is_held_by(me))
            .map(|s| s.level.load(Ordering::Relaxed))
            .fold(0u32, u32::saturating_add)
    }
}

//! The write side: taking the writer word, waiting for it (read phases included), the
//! release that opens a read phase, and the phase's end. (Waiting for the readers
//! already in is `drain.rs`.)

use super::*;

impl RawRwLock {
    /// Acquires the write side: `Ok`, `OwnerDead` (acquired; a writer died holding it,
    /// or a reader died holding the read side, and this acquisition is the one told),
    /// `Timeout`, `Intr` (nothing acquired), `Deadlock` (the caller holds this lock,
    /// read or write: an upgrade is refused rather than waiting for ever).
    ///
    /// The inline path (our namespace, a book that links and has room) is one CAS of
    /// the writer line, plain stores that record and link it (planned after the CAS),
    /// and a look at the slots ever used (`used`). As for the read side, it calls
    /// nothing; the rest (the deadline included) is reached by a tail call.
    #[inline]
    pub(crate) fn acquire_write<W: WaitLimit>(&self, limit: W) -> Status {
        let general = Self::acquire_write_slow;
        self.acquire_with(limit, Self::write_inline, Self::write_after_inline, general)
    }

    /// The inline write acquisition (see [`acquire_write`](Self::acquire_write)).
    #[inline(always)]
    fn write_inline(&self, me: &ThreadCtx, book: &mut robust::Book) -> Inline {
        // SAFETY: the book links and has room; we own the word once the CAS succeeds,
        // and the caller keeps the object mapped while it is held.
        let took = unsafe {
            robust::acquire_linked(
                book,
                me.robust_head,
                &self.wlist_next,
                || {
                    self.wword
                        .compare_exchange(0, me.tid, Ordering::SeqCst, Ordering::Relaxed)
                        .is_ok()
                },
                || {
                    self.wtoken.store(me.token, Ordering::Relaxed);
                    self.writer_record().write(me);
                },
            )
        };
        if took.is_none() {
            return Inline::Skipped;
        }
        if self.no_reader_in() && self.reports.load(Ordering::Relaxed) == 0 {
            Inline::Done
        } else {
            Inline::Taken
        }
    }

    /// The general write path after the inline path took (and linked) the writer word
    /// but saw a slot in use or a waiting report.
    #[cold]
    #[inline(never)]
    fn write_after_inline<W: WaitLimit>(&self, limit: W) -> Status {
        let me = thread::current();
        let robust = Self::inline_robust(me);
        self.drain_readers(me, robust, false, &limit.deadline())
    }

    /// Records the writer after its CAS: token, back-stop record, book (robust list).
    #[inline]
    fn on_write_acquired(&self, me: &ThreadCtx, robust: Robust) {
        self.wtoken.store(me.token, Ordering::Relaxed);
        self.writer_record().write(me);
        robust.link(me, &self.wlist_next);
    }

    #[cold]
    #[inline(never)]
    fn acquire_write_slow<W: WaitLimit>(&self, limit: W) -> Status {
        let Some((me, robust)) = self.general_start() else {
            return Status::Deadlock;
        };
        let deadline = limit.deadline();
        let mut keep_waiters = 0;
        let mut spun = false;
        let mut phase_since: Option<std::time::Instant> = None;
        loop {
            let v = self.wword.load(Ordering::SeqCst);
            let tid = v & FUTEX_TID_MASK;
            let phase_over = tid == READ_PHASE
                && phase_since
                    .get_or_insert_with(std::time::Instant::now)
                    .elapsed()
                    .as_millis()
                    >= PHASE_GIVE_UP_MS as u128;
            if tid != READ_PHASE {
                phase_since = None;
            }
            if tid == 0 || phase_over {
                let died = tid == 0 && v & FUTEX_OWNER_DIED != 0;
                if died {
                    // The dead writer's record must not describe us.
                    self.wids.store(0, Ordering::Relaxed);
                }
                robust.before_cas(&self.wlist_next);
                if self
                    .wword
                    .compare_exchange(
                        v,
                        me.tid | (v & FUTEX_WAITERS) | keep_waiters,
                        Ordering::SeqCst,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    self.on_write_acquired(me, robust);
                    return self.drain_readers(me, robust, died, &deadline);
                }
                robust.after_failed_cas();
                continue;
            }
            if deadline.is_now() {
                return self.leave_write_wait();
            }
            if !spun && tid != READ_PHASE {
                spun = true;
                spin_until(
                    &self.wword,
                    |v| v & FUTEX_TID_MASK != 0 && v & (FUTEX_WAITERS | FUTEX_OWNER_DIED) == 0,
                    |v| v & FUTEX_TID_MASK == 0,
                );
                continue;
            }
            // A read phase has no holder to ask about: it ends after PHASE_GIVE_UP_MS.
            let (wait, holder) = if tid == READ_PHASE {
                ((WAKE_WRITERS, PHASE_GIVE_UP_MS), None)
            } else {
                (
                    (WAKE_WRITERS, BACKSTOP_INTERVAL_MS),
                    Some(self.writer_record()),
                )
            };
            match self.sleep_on(me, &self.wword, v, wait, holder, &deadline) {
                Slept::Changed => continue,
                Slept::Interrupted => {
                    self.leave_write_wait();
                    return Status::Intr;
                }
                Slept::DeadlinePassed => return self.leave_write_wait(),
                Slept::Woken | Slept::BackStopLooked => {}
            }
            // We set FUTEX_WAITERS: other writers may sleep behind us, keep it.
            keep_waiters = FUTEX_WAITERS;
        }
    }

    /// A writer leaves its wait without the lock: if the word is free, the wake-up of
    /// a phase's end may have been meant for us — pass it on to another writer (a
    /// spare wake-up only costs a look). `Timeout`.
    #[cold]
    fn leave_write_wait(&self) -> Status {
        if self.wword.load(Ordering::SeqCst) & FUTEX_TID_MASK == 0 {
            futex::wake_bitset(&self.wword, 1, WAKE_WRITERS);
        }
        Status::Timeout
    }

    /// True if `me` holds the write side (the word names our TID and the token is ours,
    /// or our private book lists the writer node).
    #[inline]
    pub(super) fn is_writer(&self, me: &ThreadCtx) -> bool {
        (self.wword.load(Ordering::Relaxed) & FUTEX_TID_MASK == me.tid
            && self.wtoken.load(Ordering::Relaxed) == me.token)
            || listed_in_book(me, &self.wlist_next)
    }

    /// True if the calling thread holds the write side.
    pub(crate) fn holds_write(&self) -> bool {
        thread::current_if_ready().is_some_and(|me| self.is_writer(me))
    }

    /// Releases the write side: `Ok`, or `NotOwner`. The inline path (nobody sleeps,
    /// the word is the thread's most recently linked one) is one swap and plain stores;
    /// the rest is reached by a tail call. That we hold the word is decided from our
    /// private book (its last entry is the writer node), as [`is_writer`](Self::is_writer)
    /// accepts; the word is compared with our TID only to leave a word with sleepers
    /// (`W`) to the general path, which opens a read phase.
    #[inline]
    pub(crate) fn release_write(&self) -> Status {
        // SAFETY: the book is used only during this call, and nothing else borrows it.
        if let Some((me, book)) = unsafe { self.inline_thread() }
            && robust::is_last(book, &self.wlist_next)
            && self.wword.load(Ordering::Relaxed) == me.tid
        {
            // SAFETY: the book links, we own the word, `is_last` holds.
            let old = unsafe {
                robust::release_last_linked(book, me.robust_head, &self.wlist_next, || {
                    self.wtoken.store(0, Ordering::Relaxed);
                    self.wids.store(0, Ordering::Relaxed);
                    self.wword.swap(0, Ordering::SeqCst)
                })
            };
            if old & FUTEX_WAITERS != 0 {
                return self.after_write_release(old, false);
            }
            return Status::Ok;
        }
        self.release_write_slow()
    }

    #[cold]
    #[inline(never)]
    fn release_write_slow(&self) -> Status {
        let Some(me) = thread::current_if_ready() else {
            return Status::NotOwner;
        };
        if !self.is_writer(me) {
            return Status::NotOwner;
        }
        let robust = self.robust_for(me);
        self.unlock_write(me, robust, false);
        Status::Ok
    }

    /// Frees the write side we own. With sleepers, opens a read phase (see the module
    /// docs). `keep_death` puts the word back into the "writer died" state instead (a
    /// writer that took a dead writer's mark and then gave up: the next acquirer is
    /// told in its place).
    pub(super) fn unlock_write(&self, me: &ThreadCtx, robust: Robust, keep_death: bool) {
        self.wtoken.store(0, Ordering::Relaxed);
        self.wids.store(0, Ordering::Relaxed);
        if keep_death {
            robust.unlink_and_swap(
                me,
                &self.wlist_next,
                &self.wword,
                FUTEX_OWNER_DIED | FUTEX_WAITERS,
            );
            futex::wake_all(&self.wword);
            return;
        }
        let sleepers = self.wword.load(Ordering::Relaxed) & FUTEX_WAITERS != 0;
        if sleepers {
            // Readers woken by this phase count down from here.
            self.phase_left.store(0, Ordering::SeqCst);
        }
        let free = if sleepers {
            READ_PHASE | FUTEX_WAITERS
        } else {
            0
        };
        let old = robust.unlink_and_swap(me, &self.wlist_next, &self.wword, free);
        self.after_write_release(old, sleepers);
    }

    /// After the swap that freed the write side (`old`: the word before): with
    /// sleepers, the read phase (already opened by the swap if `opened`). `Ok`.
    #[cold]
    #[inline(never)]
    fn after_write_release(&self, old: u32, opened: bool) -> Status {
        if old & FUTEX_WAITERS == 0 {
            return Status::Ok;
        }
        if !opened {
            // A sleeper arrived after our look: open the phase now, unless a writer
            // took the word meanwhile (then wake everyone: they re-check).
            self.phase_left.store(0, Ordering::SeqCst);
            if self
                .wword
                .compare_exchange(
                    0,
                    READ_PHASE | FUTEX_WAITERS,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                )
                .is_err()
            {
                futex::wake_all(&self.wword);
                return Status::Ok;
            }
        }
        self.open_read_phase();
        Status::Ok
    }

    /// Wakes the sleeping readers of a phase just opened and counts them in
    /// `phase_left`; ends the phase if none is left to come.
    #[cold]
    #[inline(never)]
    fn open_read_phase(&self) {
        let n = futex::wake_bitset(&self.wword, i32::MAX as u32, WAKE_READERS);
        let before = self.phase_left.fetch_add(n, Ordering::SeqCst) as i32;
        if before.wrapping_add(n as i32) <= 0 {
            self.end_read_phase();
        }
    }

    /// One reader of the phase is in (holds its slot): counts it, and ends the phase
    /// when it was the last one.
    #[cold]
    pub(super) fn phase_reader_in(&self) {
        if self.phase_left.fetch_sub(1, Ordering::SeqCst) as i32 == 1 {
            self.end_read_phase();
        }
    }

    /// Ends the read phase (if still open) and wakes one writer. The word becomes 0:
    /// the writer woken takes it keeping `W` (it cannot know whether others sleep), so a
    /// free lock does not keep a stale `W` that would send every release down the slow
    /// path.
    #[cold]
    fn end_read_phase(&self) {
        let v = self.wword.load(Ordering::SeqCst);
        if v & FUTEX_TID_MASK == READ_PHASE
            && self
                .wword
                .compare_exchange(v, 0, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
            && v & FUTEX_WAITERS != 0
        {
            futex::wake_bitset(&self.wword, 1, WAKE_WRITERS);
        }
    }
}

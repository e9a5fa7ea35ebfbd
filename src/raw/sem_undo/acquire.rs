//! Acquiring units: the fast path (a cached unit in the thread's idle slot), claiming
//! a slot, taking units from the value, and sleeping until units, a death or the
//! deadline come.

use super::*;

impl RawSemUndo {
    /// Takes one unit: `Ok`, `OwnerDead` (taken; a holder died holding units, which were
    /// returned, and this acquirer is the one told), `Timeout`, `Intr` (nothing taken),
    /// `Busy` (all `UNDO_HOLDERS` slots hold units: nothing taken).
    ///
    /// Shaped for the machine code of the usual case (measured; BENCHMARKS.md, "Undo
    /// semaphore"): the cached-unit path is inline, makes no call and saves no register
    /// (the entry's own arguments stay live for the tail call, so it reads the book's
    /// top and last entry again after its CAS instead of holding them across it: two
    /// loads of lines it has just read cost less than a frame); everything else is one
    /// tail call.
    #[inline(always)]
    pub(crate) fn acquire<W: WaitLimit>(&self, limit: W) -> Status {
        // An uninitialised thread's null head fails the fast path's test.
        if self.try_take_cached(thread::current_as_is()) {
            return Status::Ok;
        }
        self.acquire_uncached(limit)
    }

    /// What both fast paths require, read without changing anything: the thread has a
    /// robust head (so it is initialised and its book links), the book has room, the
    /// object has seen no participant from another PID namespace and no death report
    /// waits (one compare: `NS_DEATHS`), and the home slot's record names this thread.
    /// Returns the book (the thread's own, non-null: `me.book`) and the home slot
    /// (index and slot).
    ///
    /// The slot *word* is not read here: each fast path's CAS expects our idle word
    /// (`tid | IDLE`, with `CACHED_ONE` for a cached unit), which is the test (a failed
    /// CAS changes nothing, and its path then undoes the pending mark it set). The token
    /// is: the CAS must not take an idle slot whose back-stop record names another
    /// thread (a dead one that had our TID).
    #[inline(always)]
    pub(super) fn fast_slot<'a>(
        &'a self,
        me: &'a ThreadCtx,
    ) -> Option<(*mut robust::Book, usize, &'a Slot)> {
        if me.robust_head.is_null() {
            return None;
        }
        // SAFETY: a non-null head comes with the calling thread's own book, which links
        // into it (`ThreadCtx::robust_head`); only read here.
        let book = unsafe { &*me.book };
        let i = self.home(me);
        let slot = &self.slots[i];
        if self.ns_flags.load(Ordering::Relaxed) != me.same_ns_key
            || slot.token.load(Ordering::Relaxed) != me.token
            || !robust::book_has_room(book)
        {
            return None;
        }
        Some((me.book, i, slot))
    }

    /// Takes our idle slot (and the unit in it) back: the unit our last release cached
    /// there. With [`fast_slot`](Self::fast_slot)'s conditions and exactly one unit
    /// cached: one CAS of the slot word, and plain stores to link it. False, with
    /// nothing changed, otherwise.
    ///
    /// The state is not read: the CAS expects `tid | IDLE | CACHED_ONE`, which only our
    /// own fast release writes, right after its state said one unit and no operation
    /// in flight (see `CACHED_ONE`).
    #[inline(always)]
    pub(super) fn try_take_cached(&self, me: &ThreadCtx) -> bool {
        let Some((book, _, slot)) = self.fast_slot(me) else {
            return false;
        };
        // SAFETY: the calling thread's own book (`fast_slot`), used only in this call.
        let book = unsafe { &mut *book };
        let head = me.robust_head;
        if !self.take_idle_home(me, head, book, slot, IDLE | CACHED_ONE) {
            return false;
        }
        // Nobody else changes an idle slot's state: it is ours again, unit included, and
        // `LINKED` is still set from when we last held it (see `Slot`). A peer that wrote
        // the state meanwhile breaks only this object (the slow paths range-check it).
        // The pending mark stays on the slot's node, which is linked now
        // (as `robust::acquire_linked` leaves it, and why).
        true
    }

    /// The step both fast paths share, with [`fast_slot`](Self::fast_slot)'s
    /// conditions (`head` is `me.robust_head`, which the caller keeps for clearing the
    /// mark): marks the home slot pending, takes it back from idle (`tid | idle`, `idle`
    /// being `IDLE` with or without `CACHED_ONE`) with one CAS (which is the slot-word
    /// test) and links it through the book. True with the slot
    /// ours and still marked pending (the caller clears the mark when it is done);
    /// false, with the mark cleared and nothing changed, if the word was not our idle one.
    #[inline(always)]
    fn take_idle_home(
        &self,
        me: &ThreadCtx,
        head: *mut crate::sys::futex::RobustListHead,
        book: &mut robust::Book,
        slot: &Slot,
        idle: u32,
    ) -> bool {
        // SAFETY: this thread's live head (`fast_slot`).
        unsafe { robust::set_pending(head, &slot.list_next) };
        // No TID reaches the idle bits (2^22 at most), so `+` is `|` here, and the
        // expected word is one `lea` from the TID instead of a copy and an `or`.
        let expected = me.tid.wrapping_add(idle);
        if slot
            .word
            .compare_exchange(expected, me.tid, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // SAFETY: this thread's live head.
            unsafe { robust::clear_pending(head) };
            return false;
        }
        // Planned only now (unlike `robust::PushPlan`'s advice): a plan held across the
        // CAS took two callee-saved registers, whose saves cost more than these loads.
        // SAFETY: the book links and has room (`fast_slot`); we own the slot, and the
        // caller keeps the object mapped while it holds units.
        unsafe { robust::record_linked_with_room(book, &slot.list_next) };
        true
    }

    /// [`acquire`](Self::acquire) when its inline path did not take a cached unit: the
    /// second fast path (take the idle home slot back and a unit from the value), else
    /// the general one.
    #[inline(never)]
    pub(super) fn acquire_uncached<W: WaitLimit>(&self, limit: W) -> Status {
        if let Some(me) = thread::current_if_ready() {
            if self.try_take_from_value(me) {
                return Status::Ok;
            }
        }
        self.acquire_slow(limit)
    }

    /// With [`fast_slot`](Self::fast_slot)'s conditions, no unit cached, units in the
    /// value and the last operation ours or none: that CAS of the slot word and one on
    /// the value. False otherwise; then nothing changed, except that the slot may stay
    /// claimed and linked with no units (the slow path finds it as ours).
    #[inline(always)]
    pub(super) fn try_take_from_value(&self, me: &ThreadCtx) -> bool {
        let Some((book, i, slot)) = self.fast_slot(me) else {
            return false;
        };
        let v = self.value.load(Ordering::Relaxed);
        // SAFETY: as in `try_take_cached`.
        let book = unsafe { &mut *book };
        let s0 = slot.state.load(Ordering::Relaxed);
        if s0 & (UNITS_MASK | PEND) != 0
            || v & VALUE_MASK == 0
            || !(tag_of(v) == 0 || tag_of(v) as usize == i + 1)
        {
            return false;
        }
        let head = me.robust_head;
        // `go_idle` leaves an empty slot `tid | IDLE` (no `CACHED_ONE`).
        if !self.take_idle_home(me, head, book, slot, IDLE) {
            return false;
        }
        let s = s0 & CP;
        let pend = s | LINKED | PEND | ACQ | (1 << DELTA_SHIFT);
        slot.state.store(pend, Ordering::Relaxed);
        let ok = self
            .value
            .compare_exchange(
                v,
                ((v - 1) & !(TAG_MASK | PARITY)) | tag_for(i, s),
                Ordering::SeqCst,
                Ordering::Relaxed,
            )
            .is_ok();
        slot.state.store(
            if ok { committed(pend) } else { s | LINKED },
            Ordering::Release,
        );
        // SAFETY: this thread's live head.
        unsafe { robust::clear_pending(head) };
        // On a lost race the slot stays ours (claimed, linked, 0 units): the slow path
        // finds it and goes on from there.
        ok
    }

    /// Finds the calling thread's claimed slot (held or holding 0 units, not idle).
    pub(super) fn my_claimed_slot(&self, me: &ThreadCtx) -> Option<usize> {
        let home = self.home(me);
        (0..UNDO_HOLDERS)
            .map(|k| (home + k) % UNDO_HOLDERS)
            .find(|&i| {
                let s = &self.slots[i];
                s.word.load(Ordering::Relaxed) & (FUTEX_TID_MASK | FUTEX_OWNER_DIED) == me.tid
                    && s.token.load(Ordering::Relaxed) == me.token
            })
    }

    /// Claims a slot for the calling thread: its claimed one, its idle one, a free one,
    /// or another thread's idle one (in that order), and tells whether it was taken now
    /// (then the units in it are cached units, now the caller's). `None`: the table is
    /// full of holders.
    pub(super) fn claim(&self, me: &ThreadCtx, robust: Robust) -> Option<(usize, bool)> {
        if let Some(i) = self.my_claimed_slot(me) {
            return Some((i, false));
        }
        let home = self.home(me);
        let order = || (0..UNDO_HOLDERS).map(move |k| (home + k) % UNDO_HOLDERS);
        // Ours first (no record to rewrite), then free ones, then anyone's idle one.
        let mine = order().find(|&i| {
            self.slots[i].word.load(Ordering::Relaxed) & !CACHED_ONE == me.tid | IDLE
                && self.slots[i].token.load(Ordering::Relaxed) == me.token
        });
        for pass in 0..3 {
            for i in mine.into_iter().chain(order()) {
                let slot = &self.slots[i];
                let w = slot.word.load(Ordering::Relaxed);
                let takeable = match pass {
                    0 => Some(i) == mine && w & !CACHED_ONE == me.tid | IDLE,
                    // Free: 0, or anything without a TID and without D (a scribble).
                    1 => w & FUTEX_TID_MASK == 0 && w & FUTEX_OWNER_DIED == 0,
                    _ => w != REPORT && w & IDLE != 0 && w & FUTEX_OWNER_DIED == 0,
                };
                if takeable && self.take_slot(me, robust, i, w) {
                    return Some((i, true));
                }
            }
        }
        None
    }

    /// CASes slot `i` from `w` to ours and links it: true on success.
    pub(super) fn take_slot(&self, me: &ThreadCtx, robust: Robust, i: usize, w: u32) -> bool {
        let slot = &self.slots[i];
        if robust.pending_while_not_owned {
            robust.set_pending(&slot.list_next);
        }
        if slot
            .word
            .compare_exchange(w, me.tid, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            if robust.pending_while_not_owned {
                robust.clear_pending();
            }
            return false;
        }
        robust.set_pending(&slot.list_next);
        self.record_holder(me, slot);
        let mut linked = 0;
        // SAFETY: the calling thread's own book (or null), not otherwise borrowed now;
        // we own the slot, and the caller keeps the object mapped while it is linked.
        if let Some(book) = unsafe { me.book.as_mut() } {
            // SAFETY: as above.
            if unsafe { robust::record(book, &slot.list_next) } && !robust.head.is_null() {
                linked = LINKED;
            }
        }
        robust.clear_pending();
        // Keep the parity, and an idle slot's cached units (now ours); a free slot holds
        // nothing (a scribbled count is dropped here, in a slot nobody holds).
        let keep = if w & IDLE != 0 { CP | UNITS_MASK } else { CP };
        let s = slot.state.load(Ordering::Relaxed);
        slot.state.store((s & keep) | linked, Ordering::Release);
        true
    }

    /// Writes the back-stop record (start time and namespace before ids, Release).
    pub(super) fn record_holder(&self, me: &ThreadCtx, slot: &Slot) {
        slot.token.store(me.token, Ordering::Relaxed);
        slot.start.store(me.start_time, Ordering::Relaxed);
        slot.ns.store(me.pidns, Ordering::Relaxed);
        slot.ids.store(
            (u64::from(me.pid) << 32) | u64::from(me.tid),
            Ordering::Release,
        );
    }

    /// Gives up slot `i` (ours, holding 0 units): unlinks it and marks it idle
    /// (`tid | IDLE`, without `CACHED_ONE`: it caches nothing).
    pub(super) fn go_idle(&self, me: &ThreadCtx, robust: Robust, i: usize) {
        let slot = &self.slots[i];
        robust.mark_for_release(&slot.list_next);
        // SAFETY: the calling thread's own book (or null); we own the slot.
        if let Some(book) = unsafe { me.book.as_mut() } {
            // SAFETY: as above.
            unsafe { robust::forget(book, &slot.list_next) };
        }
        let s = slot.state.load(Ordering::Relaxed);
        slot.state.store(s & !LINKED, Ordering::Relaxed);
        // Waiters that watch our word (they set W) must look at the table again: the
        // holder they watch is gone, and a newer one may need watching.
        let old = slot.word.swap(me.tid | IDLE, Ordering::Release);
        // In every namespace (see `Robust::mark_for_release`).
        robust.clear_pending();
        if old & FUTEX_WAITERS != 0 {
            futex::wake_all(&slot.word);
        }
    }

    /// The general acquire.
    ///
    /// A thread that holds units already waits with its slot (it is one of the holders
    /// either way). A thread that holds none claims a slot only to take a unit into it:
    /// when there is nothing to take, it gives the slot up (idle, 0 units) before it
    /// sleeps, and claims one again when it wakes. So waiters never use up the table, and
    /// `Busy` means what the C API promises: `UNDO_HOLDERS` other threads hold units.
    #[cold]
    #[inline(never)]
    pub(super) fn acquire_slow<W: WaitLimit>(&self, limit: W) -> Status {
        let me = thread::current();
        let deadline = limit.deadline();
        // SAFETY: the calling thread's own book (or null).
        unsafe { robust::make_room(me.book) };
        let robust = self.robust_for(me);
        let mut reclaims = 0usize;
        let mut dead_rounds = 0;
        // For a slot that is claimed only for a moment (see below); restarted whenever
        // we sleep.
        let mut patience = Patience::default();
        // The deadline passed while we slept: one more look for a unit, then `Timeout`.
        let mut last_look = false;
        loop {
            // The slot we wait with: ours if we hold units in it, else none.
            let own = match self.claim(me, robust) {
                Some((i, fresh)) => {
                    if fresh && self.slots[i].units() > 0 {
                        return self.took_cached(me, i);
                    }
                    if let Some(st) = self.take_one(me, i, robust, &deadline, &mut reclaims) {
                        if st != Status::Ok && st != Status::OwnerDead && self.slots[i].units() == 0
                        {
                            self.go_idle(me, robust, i);
                        }
                        return st;
                    }
                    if self.slots[i].units() > 0 {
                        Some(i)
                    } else {
                        self.go_idle(me, robust, i);
                        None
                    }
                }
                None => {
                    // No slot is free or idle: perhaps some are dead holders' (a few
                    // rounds: a peer that keeps writing dead words must not keep us here).
                    if dead_rounds < 3 && self.reclaim_dead(me) {
                        dead_rounds += 1;
                        continue;
                    }
                    if self.full_of_holders() {
                        return Status::Busy;
                    }
                    // Some slot is claimed only for a moment: by a thread between claiming
                    // it and taking a unit or giving it up again (as we do), or it waits
                    // for its death report to be collected. If a unit is there to take,
                    // look again soon; else sleep like any waiter.
                    if !last_look
                        && (self.value.load(Ordering::SeqCst) & VALUE_MASK != 0
                            || self.cached_elsewhere(UNDO_HOLDERS))
                    {
                        if !patience.wait(&deadline) {
                            // Only a stopped thread or a damaged table takes this long.
                            return if deadline.expired() {
                                Status::Timeout
                            } else {
                                Status::Busy
                            };
                        }
                        continue;
                    }
                    None
                }
            };
            if last_look || deadline.is_now() {
                return Status::Timeout;
            }
            patience = Patience::default();
            match self.sleep_for_units(me, own, &deadline) {
                Slept::Again => {}
                Slept::DeadlinePassed => last_look = true,
                Slept::Interrupted => return Status::Intr,
            }
        }
    }

    /// True if every slot is held, by a thread that the table says is alive, with units
    /// in it: the one case in which an acquirer that holds no unit gets `Busy`.
    pub(super) fn full_of_holders(&self) -> bool {
        self.slots.iter().all(|s| {
            let w = s.word.load(Ordering::Acquire);
            w & FUTEX_TID_MASK != 0 && w & IDLE == 0 && w & FUTEX_OWNER_DIED == 0 && s.units() > 0
        })
    }

    /// Slot `i` was just taken with cached units in it: keep one, return the rest.
    pub(super) fn took_cached(&self, me: &ThreadCtx, i: usize) -> Status {
        let extra = self.slots[i].units().saturating_sub(1);
        if extra > 0
            && self
                .apply(me, i, extra, false, false, &Deadline::Never)
                .is_ok()
        {
            let n = self.sleepers.load(Ordering::SeqCst);
            if n != 0 {
                futex::wake(&self.value, extra.min(n));
            }
        }
        self.admitted(me)
    }

    /// The status of an acquirer that just took a unit: `OwnerDead` if it collects a
    /// death report, else `Ok`.
    pub(super) fn admitted(&self, me: &ThreadCtx) -> Status {
        if self.value.load(Ordering::Relaxed) & DEATHS != 0 && self.collect_report(me) {
            Status::OwnerDead
        } else {
            Status::Ok
        }
    }

    /// True if an idle slot other than `except` holds cached units.
    pub(super) fn cached_elsewhere(&self, except: usize) -> bool {
        self.slots.iter().enumerate().any(|(j, s)| {
            let w = s.word.load(Ordering::SeqCst);
            j != except
                && w != REPORT
                && w & IDLE != 0
                && w & FUTEX_OWNER_DIED == 0
                && s.units() > 0
        })
    }

    /// Takes over an idle slot (other than `except`) with cached units: its index, now
    /// ours with its units.
    pub(super) fn steal_cached(
        &self,
        me: &ThreadCtx,
        robust: Robust,
        except: usize,
    ) -> Option<usize> {
        for (j, slot) in self.slots.iter().enumerate() {
            let w = slot.word.load(Ordering::Acquire);
            if j == except
                || w == REPORT
                || w & IDLE == 0
                || w & FUTEX_OWNER_DIED != 0
                || slot.units() == 0
            {
                continue;
            }
            if self.take_slot(me, robust, j, w) {
                if self.slots[j].units() > 0 {
                    return Some(j);
                }
                self.go_idle(me, robust, j);
            }
        }
        None
    }

    /// Takes one unit with slot `i` (claimed by us) if there is one to take: from the
    /// value, after reclaiming dead holders' units, or from an idle slot's cache.
    /// `None`: nothing to take now (slot `i` is as it was).
    pub(super) fn take_one(
        &self,
        me: &ThreadCtx,
        i: usize,
        robust: Robust,
        deadline: &Deadline,
        reclaims: &mut usize,
    ) -> Option<Status> {
        loop {
            match self.apply(me, i, 1, true, false, deadline) {
                Ok(()) => return Some(self.admitted(me)),
                Err(Blocked::Timeout) => return Some(Status::Timeout),
                Err(_) => {}
            }
            // No unit: dead holders give theirs back first; then idle slots give up
            // their cached units.
            if self.reclaim_dead(me) {
                // Bounded after the deadline: a peer that keeps writing dead words must
                // not keep us here (a real table has at most UNDO_HOLDERS dead slots).
                *reclaims += 1;
                if *reclaims <= UNDO_HOLDERS || !deadline.expired() {
                    continue;
                }
                return Some(Status::Timeout);
            }
            let j = self.steal_cached(me, robust, i)?;
            if self.slots[i].units() == 0 {
                self.go_idle(me, robust, i);
                return Some(self.took_cached(me, j));
            }
            // We hold units in slot i already: pour slot j's into the value (one slot
            // per thread), then take one from there like everyone else.
            let u = self.slots[j].units();
            if self.apply(me, j, u, false, false, &Deadline::Never).is_ok() {
                let n = self.sleepers.load(Ordering::SeqCst);
                if n != 0 {
                    futex::wake(&self.value, u.min(n));
                }
            }
            self.go_idle(me, robust, j);
        }
    }

    /// Sleeps until a unit may be there: a release or a reclaim wakes us through the
    /// value, the kernel through the slot word of a holder that died, or the back-stop's
    /// timer. `own`: the slot in which we hold units (not watched), if any.
    ///
    /// Allocates nothing itself (it runs in every blocking acquire, also when memory is
    /// short): the words to watch fit in arrays on the stack. (The back-stop's look at
    /// `/proc`, in `holder_is_provably_dead`, is the liveness module's.)
    pub(super) fn sleep_for_units(
        &self,
        me: &ThreadCtx,
        own: Option<usize>,
        deadline: &Deadline,
    ) -> Slept {
        let except = own.unwrap_or(UNDO_HOLDERS);
        // Watch every holder's word (setting W, so that the kernel wakes one of us when
        // it marks the word), and the value.
        let mut watch = [(0usize, 0u32); UNDO_HOLDERS];
        let mut n = 0;
        let mut short = false;
        for (j, slot) in self.slots.iter().enumerate() {
            if j == except {
                continue;
            }
            let w = slot.word.load(Ordering::Relaxed);
            if w & FUTEX_TID_MASK == 0 || w & IDLE != 0 || w & FUTEX_OWNER_DIED != 0 {
                continue;
            }
            // A slot without units and without an operation in flight is claimed only
            // for a moment (by an acquirer about to take a unit or to give it up again):
            // its thread's death would return nothing, and watching it would wake us
            // for nothing when it goes idle. If it takes a unit meanwhile, the next
            // round watches it (and the back-stop's timer bounds the wait till then).
            let s = slot.state.load(Ordering::Relaxed);
            if s & (UNITS_MASK | PEND) == 0 {
                continue;
            }
            if w & FUTEX_WAITERS == 0
                && slot
                    .word
                    .compare_exchange(w, w | FUTEX_WAITERS, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            if s & LINKED == 0 {
                short = true;
            }
            watch[n] = (j, w | FUTEX_WAITERS);
            n += 1;
        }
        let watch = &watch[..n];
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let v = self.value.load(Ordering::SeqCst);
        // Registered: a release from now on wakes us; one before shows here.
        if v & VALUE_MASK != 0 || self.cached_elsewhere(except) {
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            return if deadline.expired() {
                Slept::DeadlinePassed
            } else {
                Slept::Again
            };
        }
        let cap = if short {
            BACKSTOP_UNLINKED_MS
        } else {
            BACKSTOP_LINKED_MS
        };
        let sleep_until = deadline.capped_ms(cap);
        let mut words = [(&self.value, v); UNDO_HOLDERS + 1];
        for (word, &(j, w)) in words[1..].iter_mut().zip(watch) {
            *word = (&self.slots[j].word, w);
        }
        let wake = match waitv::wait_any(&words[..n + 1], &sleep_until) {
            Some(w) => w,
            None => futex::wait(&self.value, v, &deadline.capped_ms(BACKSTOP_UNLINKED_MS)),
        };
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        match wake {
            Wake::Retry => Slept::Again,
            Wake::Interrupted => Slept::Interrupted,
            Wake::TimedOut if deadline.expired() => Slept::DeadlinePassed,
            Wake::TimedOut => {
                // The back-stop: holders that provably no longer exist are marked as the
                // kernel would have; the next round reclaims them.
                for &(j, w) in watch {
                    if self.holder_is_provably_dead(me, j, w) {
                        let _ = self.slots[j].word.compare_exchange(
                            w,
                            FUTEX_OWNER_DIED | FUTEX_WAITERS,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                    }
                }
                Slept::Again
            }
        }
    }
}

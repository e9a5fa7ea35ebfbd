//! The decoded state of an object: what each kind's words say, with the owners and
//! undo-semaphore holders they record and what can be proven about them.

use super::owner::Liveness;

/// The recorded owner of an RLock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Process id in the owner's PID namespace, if recorded.
    pub pid: Option<u32>,
    /// Thread id in the owner's PID namespace (from the lock word).
    pub tid: u32,
    /// The owner's PID-namespace id (nsfs inode; 0 if unknown).
    pub pidns: u32,
    /// What can be proven about it from here.
    pub liveness: Liveness,
}

/// An RLock's decoded state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RLockState {
    /// The raw lock word.
    pub word: u32,
    /// Held by a thread.
    pub locked: bool,
    /// `FUTEX_WAITERS`: sleepers may exist.
    pub waiters: bool,
    /// `FUTEX_OWNER_DIED`: the kernel (or a waiter's back-stop) marked the owner dead;
    /// the next acquirer gets `MP_OWNER_DEAD`.
    pub died_mark: bool,
    /// Recursion level while held (0 when free).
    pub count: u32,
    /// The owner, while held.
    pub owner: Option<Owner>,
    /// Used from more than one PID namespace.
    pub cross_ns: bool,
    /// A sticky lock whose owner died: reports `MP_OWNER_DEAD` until repaired.
    pub inconsistent: bool,
    /// A sticky lock (a sticky RLock, or a synchronized array's): an owner's death stays
    /// reported until a holder marks it consistent.
    pub sticky: bool,
}

impl RLockState {
    /// The owner died: marked, left inconsistent, or provably gone while holding.
    pub fn owner_died(&self) -> bool {
        self.died_mark
            || self.inconsistent
            || self.owner.is_some_and(|o| o.liveness == Liveness::Dead)
    }

    /// Held by an owner that is alive or cannot be proven dead.
    pub fn held_by_maybe_live_owner(&self) -> bool {
        self.owner.is_some_and(|o| o.liveness != Liveness::Dead)
    }
}

/// What an undo semaphore's holder slot says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HolderState {
    /// The thread holds no unit; the slot stays its own, unlinked, and may cache units
    /// (available to anyone: an acquirer that needs them takes the slot over).
    Idle,
    /// The thread holds `units`; while linked, the kernel reports its death.
    Held,
    /// The holder died holding `units` (the kernel, or a waiter's back-stop, marked the
    /// slot): a later acquirer gives them back and is told `MP_OWNER_DEAD`.
    Dead,
    /// A dead holder's units were given back; one later acquirer is still to be told
    /// (`MP_OWNER_DEAD`).
    Reclaimed,
    /// A word (or count) that is not a state of the table: the object was scribbled on.
    Unknown,
}

impl HolderState {
    /// "idle", "held", "dead", "reclaimed" or "unknown".
    pub fn as_str(self) -> &'static str {
        match self {
            HolderState::Idle => "idle",
            HolderState::Held => "held",
            HolderState::Dead => "dead",
            HolderState::Reclaimed => "reclaimed",
            HolderState::Unknown => "unknown",
        }
    }
}

/// One non-free holder slot of an undo semaphore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UndoHolder {
    /// Slot index (0..64).
    pub slot: u32,
    /// What the slot says.
    pub state: HolderState,
    /// The raw slot word.
    pub word: u32,
    /// Units held (`Held`, `Dead`) or cached (`Idle`); 0 when `Reclaimed`; as stored
    /// when `Unknown`.
    pub units: u32,
    /// An acquire or release is in flight (the holder is between its steps, or died
    /// there: a reclaimer settles it).
    pub pending: bool,
    /// Linked into the holder's kernel robust list: the kernel reports its death. An
    /// unlinked holder's death is found by a waiter's back-stop (`/proc`).
    pub linked: bool,
    /// Threads may sleep on the slot word (`FUTEX_WAITERS`).
    pub waiters: bool,
    /// The holder thread as recorded (`Idle`, `Held`, `Dead`; `None` for `Reclaimed`,
    /// whose record names the reclaimer, and `Unknown`). `liveness` is `Dead` for a
    /// `Dead` slot (the mark is the proof).
    pub owner: Option<Owner>,
    /// The holder thread's recorded start time (clock ticks since boot; 0 if none).
    pub start: u64,
}

impl UndoHolder {
    /// Units that belong to a dead holder and come back to the semaphore: a `Dead`
    /// slot's, or a `Held` slot's whose holder is provably gone (not linked, so only a
    /// waiter's back-stop marks it).
    pub fn dead_units(&self) -> u32 {
        match self.state {
            HolderState::Dead => self.units,
            HolderState::Held if self.owner.is_some_and(|o| o.liveness == Liveness::Dead) => {
                self.units
            }
            _ => 0,
        }
    }

    /// Units held by a holder that is alive or cannot be proven dead.
    pub fn live_units(&self) -> u32 {
        match self.state {
            HolderState::Held => self.units - self.dead_units(),
            _ => 0,
        }
    }
}

/// An undo semaphore's decoded state (`mp_sem_undo_t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SemUndoState {
    /// Units available in the value word now (`mp_sem_get_value` adds the cached units
    /// and the dead holders' units, which an acquirer takes when it needs them).
    pub value: u32,
    /// Bound.
    pub max_value: u32,
    /// The value word's `DEATHS` bit: death reports may wait in the holder table.
    pub deaths_waiting: bool,
    /// Threads registered as (about to be) asleep (over-counts killed waiters).
    pub sleepers: u32,
    /// Used from more than one PID namespace.
    pub cross_ns: bool,
    /// Every slot that is not free, by slot index.
    pub holders: Vec<UndoHolder>,
}

impl SemUndoState {
    /// Units held by holders that are alive or cannot be proven dead.
    pub fn live_units(&self) -> u32 {
        self.holders
            .iter()
            .fold(0u32, |n, h| n.saturating_add(h.live_units()))
    }

    /// Units of dead holders, coming back to the semaphore (see
    /// [`UndoHolder::dead_units`]).
    pub fn dead_units(&self) -> u32 {
        self.holders
            .iter()
            .fold(0u32, |n, h| n.saturating_add(h.dead_units()))
    }

    /// Units cached in idle slots (available to any acquirer).
    pub fn cached_units(&self) -> u32 {
        self.holders
            .iter()
            .filter(|h| h.state == HolderState::Idle)
            .fold(0u32, |n, h| n.saturating_add(h.units))
    }

    /// Slots whose holder (alive, unknown or dead) holds at least one unit.
    pub fn holding(&self) -> u32 {
        self.holders
            .iter()
            .filter(|h| matches!(h.state, HolderState::Held | HolderState::Dead) && h.units > 0)
            .count() as u32
    }

    /// A holder died holding units, or its death is not reported yet: a later acquirer
    /// gets `MP_OWNER_DEAD`.
    pub fn owner_died(&self) -> bool {
        self.deaths_waiting
            || self
                .holders
                .iter()
                .any(|h| h.state == HolderState::Reclaimed || h.dead_units() > 0)
    }
}

/// One reader slot of an `mp_rwlock_t` that is not free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RwReader {
    /// Slot index (0..64).
    pub slot: u32,
    /// `Held` (a live or unproven reader), `Dead` (the kernel or a back-stop marked
    /// it), `Reclaimed` (its share is back, the death not told yet), `Unknown`.
    pub state: HolderState,
    /// Read re-entry level of a held slot.
    pub level: u32,
    /// The recorded reader (held or dead slots).
    pub owner: Option<Owner>,
}

/// One consumer slot of a queue that is not free (docs/queue.md, "JoinableQueue").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConsumer {
    /// Slot index (0..64).
    pub slot: u32,
    /// The consumer process, in its PID namespace.
    pub pid: u32,
    /// Its PID-namespace id (nsfs inode; 0 if unknown).
    pub pidns: u32,
    /// Messages it got and has not marked done.
    pub taken: u64,
    /// What can be proven about it from here.
    pub liveness: Liveness,
}

/// An `mp_rwlock_t`'s decoded state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RwLockState {
    /// The raw writer word.
    pub word: u32,
    /// The writer holding (or draining readers for) the write side.
    pub writer: Option<Owner>,
    /// The writer word carries `FUTEX_OWNER_DIED`: a writer died holding it, and the
    /// next acquirer is to be told.
    pub writer_died_mark: bool,
    /// A read phase is open (a writer released while others slept).
    pub read_phase: bool,
    /// `FUTEX_WAITERS` on the writer word: sleepers may exist.
    pub waiters: bool,
    /// Participants from several PID namespaces were seen.
    pub cross_ns: bool,
    /// Every reader slot that is not free.
    pub readers: Vec<RwReader>,
}

impl RwLockState {
    /// A death is waiting to be told to a later acquirer (writer or reader).
    pub fn owner_died(&self) -> bool {
        self.writer_died_mark
            || self
                .readers
                .iter()
                .any(|r| matches!(r.state, HolderState::Dead | HolderState::Reclaimed))
    }
}

/// An object's decoded state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// `mp_lock_t`.
    Lock {
        /// Held.
        locked: bool,
        /// Held and a sleeper may exist.
        contended: bool,
    },
    /// `mp_rlock_t`.
    RLock(RLockState),
    /// `mp_sem_t`.
    Sem {
        /// Available units.
        value: u32,
        /// Bound (`MP_SEM_VALUE_MAX` for a plain Semaphore).
        max_value: u32,
    },
    /// `mp_sem_undo_t`: the value word and every holder slot.
    SemUndo(SemUndoState),
    /// `mp_rwlock_t`: the writer and every reader slot in use.
    RwLock(RwLockState),
    /// `mp_cond_t`.
    Cond {
        /// Registered waiters (dead ones included until their group closes).
        waiters: u32,
    },
    /// `mp_event_t`.
    Event {
        /// The flag.
        set: bool,
        /// Registered sleepers (over-counts killed waiters).
        sleepers: u32,
    },
    /// `mp_barrier_t`.
    Barrier {
        /// Parties.
        parties: u32,
        /// Waiting in the current generation.
        n_waiting: u32,
        /// Broken.
        broken: bool,
        /// Generation number.
        generation: u32,
    },
    /// `mp_array_t`.
    Array {
        /// Python type character.
        type_code: u8,
        /// Elements.
        length: u64,
        /// Bytes per element.
        item_size: u32,
        /// The embedded lock of a synchronized array.
        lock: Option<RLockState>,
    },
    /// A message queue.
    Queue {
        /// Ring size in bytes.
        capacity: u64,
        /// Bytes in use (records: 4-byte length + message).
        used: u64,
        /// Messages in the queue.
        messages: u64,
        /// Most messages at once (0: no limit).
        max_messages: u64,
        /// Messages put and not yet marked done (JoinableQueue).
        unfinished: u64,
        /// End of stream was declared.
        closed: bool,
        /// Consumers sleeping for a message (killed sleepers may be counted).
        getters: u32,
        /// Producers sleeping for room (as above).
        putters: u32,
        /// Threads sleeping in `join` (as above).
        joiners: u32,
        /// The queue's internal lock.
        lock: RLockState,
        /// Unfinished messages whose consumer was found dead.
        abandoned: u64,
        /// The consumer slots in use (processes that got messages).
        consumers: Vec<QueueConsumer>,
    },
}

impl State {
    /// The RLock of this state (an RLock, or a synchronized array's lock).
    pub fn rlock(&self) -> Option<&RLockState> {
        match self {
            State::RLock(r) => Some(r),
            State::Array { lock, .. } => lock.as_ref(),
            State::Queue { lock, .. } => Some(lock),
            _ => None,
        }
    }

    /// See [`RLockState::owner_died`] and [`SemUndoState::owner_died`].
    pub fn owner_died(&self) -> bool {
        match self {
            State::SemUndo(u) => u.owner_died(),
            State::RwLock(r) => r.owner_died(),
            _ => self.rlock().is_some_and(RLockState::owner_died),
        }
    }
}

//! From a private copy of an object's first bytes to a verdict and a decoded state.
//! Every field is validated: the copy came from memory that any process with access
//! could have scribbled on.

use super::file::Prefix;
use super::info::{HeaderFields, Health};
use super::owner::{Liveness, Vantage};
use super::state::{
    HolderState, Owner, QueueConsumer, RLockState, RwLockState, RwReader, SemUndoState, State,
    UndoHolder,
};
use crate::fallible::{NoMem, try_push};
use crate::raw::array::{DATA_OFFSET, ElemType, RawArray, total_size};
use crate::raw::barrier::{MAX_PARTIES, RawBarrier};
use crate::raw::cond::RawCond;
use crate::raw::event::RawEvent;
use crate::raw::header::{Header, Kind, LAYOUT_VERSION, MAGIC, RETIRED};
use crate::raw::lock::RawLock;
use crate::raw::rlock::{FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS, RawRLock};
use crate::raw::sem::RawSem;
use crate::raw::sem_undo::RawSemUndo;
use crate::raw::sem_undo::view::{HeadView, SlotKind, SlotView};

/// What the bytes say.
pub(crate) struct Decoded {
    pub(crate) header: Option<HeaderFields>,
    pub(crate) kind: Option<Kind>,
    pub(crate) health: Health,
    pub(crate) detail: Detail,
    pub(crate) state: Option<State>,
}

/// Why a verdict is not `Ok`, as numbers: the text ([`ObjectInfo::detail`](super::ObjectInfo))
/// is made only by whoever wants it, so that decoding allocates nothing but an undo
/// semaphore's list of holders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Nothing to say.
    None,
    TruncatedHeader(usize),
    Retired,
    UnknownKind(u32),
    Layout(u32),
    Truncated {
        file_size: u64,
        need: usize,
    },
    /// The bytes read end before the state does.
    Short,
    SemValue {
        value: u32,
        max_value: u32,
    },
    UndoValue {
        value: u32,
        max_value: u32,
    },
    Barrier {
        n_waiting: u32,
        parties: u32,
    },
    ElemType(u32),
    Length(u64),
    ArrayDescriptor,
    ArrayFileSize {
        file_size: u64,
        expected: usize,
    },
    ArrayLock,
}

impl core::fmt::Display for Detail {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Detail::None => Ok(()),
            Detail::TruncatedHeader(len) => write!(f, "truncated header: {len} bytes"),
            Detail::Retired => f.write_str("destroyed object (retired header)"),
            Detail::UnknownKind(code) => write!(f, "unknown kind code {code}"),
            Detail::Layout(layout) => write!(
                f,
                "layout version {layout}; this library reads version {LAYOUT_VERSION}"
            ),
            Detail::Truncated { file_size, need } => write!(
                f,
                "truncated: {file_size} bytes, an object of this kind needs {need}"
            ),
            Detail::Short => f.write_str("truncated"),
            Detail::SemValue { value, max_value } => {
                write!(f, "value {value} outside 0..={max_value}")
            }
            Detail::UndoValue { value, max_value } => write!(
                f,
                "value {value} outside 0..={max_value} (an undo semaphore's bound is at most {})",
                crate::raw::sem_undo::UNDO_VALUE_MAX
            ),
            Detail::Barrier { n_waiting, parties } => {
                write!(f, "{n_waiting} waiting of {parties} parties")
            }
            Detail::ElemType(code) => write!(f, "unknown element type {code}"),
            Detail::Length(length) => write!(f, "length {length} too large"),
            Detail::ArrayDescriptor => f.write_str("inconsistent array descriptor"),
            Detail::ArrayFileSize {
                file_size,
                expected,
            } => write!(
                f,
                "file is {file_size} bytes, the descriptor says {expected}"
            ),
            Detail::ArrayLock => f.write_str("the array's lock is not a live RLock"),
        }
    }
}

/// The kind for a tag's kind code.
pub(crate) fn kind_of(code: u32) -> Option<Kind> {
    Some(match code {
        1 => Kind::Lock,
        2 => Kind::RLock,
        3 => Kind::Sem,
        4 => Kind::Cond,
        5 => Kind::Event,
        6 => Kind::Barrier,
        7 => Kind::Array,
        8 => Kind::SemUndo,
        9 => Kind::RwLock,
        10 => Kind::Queue,
        _ => return None,
    })
}

/// Size of an object of `kind` before any array elements.
fn fixed_size(kind: Kind) -> usize {
    match kind {
        Kind::Array => core::mem::size_of::<RawArray>(),
        Kind::SemUndo => crate::raw::sem_undo::RawSemUndo::SIZE,
        Kind::RwLock => crate::raw::rwlock::RawRwLock::SIZE,
        Kind::Queue => crate::raw::queue::RING_OFFSET,
        _ => 64,
    }
}

/// True if the first four bytes are a libmpsync magic (live or destroyed): the file is
/// meant to be an object, not a raw block.
pub(crate) fn looks_like_object(p: &Prefix) -> bool {
    let magic = u32::from_ne_bytes([p.bytes[0], p.bytes[1], p.bytes[2], p.bytes[3]]);
    p.len >= 4 && (magic == MAGIC || magic == RETIRED)
}

fn bad(
    header: Option<HeaderFields>,
    kind: Option<Kind>,
    health: Health,
    detail: Detail,
) -> Decoded {
    Decoded {
        header,
        kind,
        health,
        detail,
        state: None,
    }
}

/// Decodes an object (call only if [`looks_like_object`]); `file_size` is the size of
/// the file it was read from. `Err` only if memory for an undo semaphore's holders is
/// short.
pub(crate) fn decode(p: &Prefix, file_size: u64, v: Vantage) -> Result<Decoded, NoMem> {
    let Some(h) = p.view::<Header>() else {
        return Ok(bad(
            None,
            None,
            Health::Corrupt,
            Detail::TruncatedHeader(p.len),
        ));
    };
    let (magic, code, layout, lifecycle) = h.snapshot();
    let fields = Some(HeaderFields {
        magic,
        kind_code: code,
        layout,
        lifecycle,
    });
    if magic == RETIRED {
        return Ok(bad(fields, kind_of(code), Health::Corrupt, Detail::Retired));
    }
    let Some(kind) = kind_of(code) else {
        return Ok(bad(
            fields,
            None,
            Health::Corrupt,
            Detail::UnknownKind(code),
        ));
    };
    if layout != LAYOUT_VERSION {
        return Ok(bad(
            fields,
            Some(kind),
            Health::WrongVersion,
            Detail::Layout(layout),
        ));
    }
    let need = fixed_size(kind);
    // The file must hold the whole object, and the bytes read must cover what is
    // decoded (all of an undo semaphore, an array's descriptor and lock).
    if p.len < need.min(super::file::OBJECT_READ_MAX) || file_size < need as u64 {
        return Ok(bad(
            fields,
            Some(kind),
            Health::Corrupt,
            Detail::Truncated { file_size, need },
        ));
    }
    Ok(match state_of(p, kind, file_size, v)? {
        Ok(state) => {
            let health = if state.owner_died() {
                Health::OwnerDead
            } else {
                Health::Ok
            };
            Decoded {
                header: fields,
                kind: Some(kind),
                health,
                detail: Detail::None,
                state: Some(state),
            }
        }
        Err(why) => bad(fields, Some(kind), Health::Corrupt, why),
    })
}

/// The decoded state, or why the object is corrupt; `Err(NoMem)` if memory is short.
fn state_of(
    p: &Prefix,
    kind: Kind,
    file_size: u64,
    v: Vantage,
) -> Result<Result<State, Detail>, NoMem> {
    let missing = || Detail::Short;
    Ok(Ok(match kind {
        Kind::Lock => {
            let Some(l) = p.view::<RawLock>() else {
                return Ok(Err(missing()));
            };
            let (locked, contended) = l.snapshot();
            State::Lock { locked, contended }
        }
        Kind::RLock => match p.view::<RawRLock>() {
            Some(r) => State::RLock(rlock_state(r, v)),
            None => return Ok(Err(missing())),
        },
        Kind::Sem => {
            let Some(s) = p.view::<RawSem>() else {
                return Ok(Err(missing()));
            };
            let (value, max_value) = (s.value(), s.max_value());
            if max_value == 0 || value > max_value {
                return Ok(Err(Detail::SemValue { value, max_value }));
            }
            State::Sem { value, max_value }
        }
        Kind::SemUndo => match p.view::<RawSemUndo>() {
            Some(u) => return sem_undo_state(u, v),
            None => return Ok(Err(missing())),
        },
        Kind::RwLock => match p.view::<crate::raw::rwlock::RawRwLock>() {
            Some(r) => return rwlock_state(r, v),
            None => return Ok(Err(missing())),
        },
        Kind::Cond => match p.view::<RawCond>() {
            Some(c) => State::Cond {
                waiters: c.waiters(),
            },
            None => return Ok(Err(missing())),
        },
        Kind::Event => {
            let Some(e) = p.view::<RawEvent>() else {
                return Ok(Err(missing()));
            };
            let (set, sleepers) = e.snapshot();
            State::Event { set, sleepers }
        }
        Kind::Barrier => {
            let Some(b) = p.view::<RawBarrier>() else {
                return Ok(Err(missing()));
            };
            let (parties, n_waiting, broken, generation) = b.snapshot();
            if parties == 0 || parties > MAX_PARTIES || n_waiting > parties {
                return Ok(Err(Detail::Barrier { n_waiting, parties }));
            }
            State::Barrier {
                parties,
                n_waiting,
                broken,
                generation,
            }
        }
        Kind::Array => match p.view::<RawArray>() {
            Some(a) => return Ok(array_state(a, file_size, v)),
            None => return Ok(Err(missing())),
        },
        Kind::Queue => match p.view::<crate::raw::queue::RawQueue>() {
            Some(q) => return queue_state(q, file_size, v),
            None => return Ok(Err(missing())),
        },
    }))
}

/// The same checks as `RawQueue::view`, against the file's size.
fn queue_state(
    q: &crate::raw::queue::RawQueue,
    file_size: u64,
    v: Vantage,
) -> Result<Result<State, Detail>, NoMem> {
    let s = q.snapshot();
    let Some(expected) = usize::try_from(s.capacity)
        .ok()
        .and_then(|c| crate::raw::queue::total_size(c).ok())
    else {
        return Ok(Err(Detail::Length(s.capacity)));
    };
    if file_size != expected as u64 {
        return Ok(Err(Detail::ArrayFileSize {
            file_size,
            expected,
        }));
    }
    let l = q.embedded_lock();
    if l.header().check(Kind::RLock).is_err() || s.used > s.capacity {
        return Ok(Err(Detail::ArrayDescriptor));
    }
    let mut consumers = Vec::new();
    consumers
        .try_reserve_exact(crate::raw::queue::CONSUMER_SLOTS)
        .map_err(|_| NoMem)?;
    for c in q.consumer_records() {
        let liveness = c.process.liveness(v);
        try_push(
            &mut consumers,
            QueueConsumer {
                slot: c.slot as u32,
                pid: c.process.pid,
                pidns: c.process.pidns as u32,
                taken: c.taken,
                liveness,
            },
        )?;
    }
    Ok(Ok(State::Queue {
        capacity: s.capacity,
        used: s.used,
        messages: s.count,
        max_messages: s.max_count,
        unfinished: s.unfinished,
        closed: s.closed,
        getters: s.getters,
        putters: s.putters,
        joiners: s.joiners,
        lock: rlock_state(l, v),
        abandoned: s.abandoned,
        consumers,
    }))
}

/// The same checks as `RawArray::view`, against the file's size.
fn array_state(a: &RawArray, file_size: u64, v: Vantage) -> Result<State, Detail> {
    let (code, flags, length, item_size, data_offset, total) = a.snapshot();
    let ty = ElemType::from_code(code).ok_or(Detail::ElemType(code))?;
    let expected = usize::try_from(length)
        .ok()
        .and_then(|n| total_size(ty, n).ok())
        .ok_or(Detail::Length(length))?;
    if flags & !1 != 0
        || item_size as usize != ty.item_size()
        || data_offset as usize != DATA_OFFSET
        || total != expected as u64
    {
        return Err(Detail::ArrayDescriptor);
    }
    if file_size != expected as u64 {
        return Err(Detail::ArrayFileSize {
            file_size,
            expected,
        });
    }
    let lock = if flags & 1 != 0 {
        let l = a.embedded_lock();
        if l.header().check(Kind::RLock).is_err() {
            return Err(Detail::ArrayLock);
        }
        Some(rlock_state(l, v))
    } else {
        None
    };
    Ok(State::Array {
        type_code: ty.code(),
        length,
        item_size,
        lock,
    })
}

/// Decodes an RLock's word and owner record and judges the owner (see `owner`).
fn rlock_state(r: &RawRLock, v: Vantage) -> RLockState {
    let (word, count, ids, owner_ns, start, creator_ns, cross_ns, inconsistent) = r.snapshot();
    let tid = word & FUTEX_TID_MASK;
    let owner = (tid != 0).then(|| {
        if ids == 0 && !cross_ns {
            // Taken a moment ago (or died before recording itself): only the TID.
            Owner {
                pid: None,
                tid,
                pidns: creator_ns,
                liveness: v.bare_tid(tid, u64::from(creator_ns)),
            }
        } else {
            recorded_holder(tid, ids, start, owner_ns, v)
        }
    });
    RLockState {
        word,
        locked: tid != 0,
        waiters: word & FUTEX_WAITERS != 0,
        died_mark: word & FUTEX_OWNER_DIED != 0,
        count: if tid != 0 { count } else { 0 },
        owner,
        cross_ns,
        inconsistent,
        sticky: r.is_sticky(),
    }
}

/// Decodes an undo semaphore: its value word and every slot that is not free.
fn sem_undo_state(u: &RawSemUndo, v: Vantage) -> Result<Result<State, Detail>, NoMem> {
    let head = u.view_head();
    if !head.is_sane() {
        return Ok(Err(Detail::UndoValue {
            value: head.available,
            max_value: head.max_value,
        }));
    }
    let mut holders = Vec::new();
    holders
        .try_reserve_exact(crate::raw::sem_undo::UNDO_HOLDERS)
        .map_err(|_| NoMem)?;
    for (i, s) in u.view_slots(head.value_word) {
        try_push(&mut holders, undo_holder(i, &s, &head, v))?;
    }
    Ok(Ok(State::SemUndo(SemUndoState {
        value: head.available,
        max_value: head.max_value,
        deaths_waiting: head.deaths,
        sleepers: head.sleepers,
        cross_ns: head.cross_ns,
        holders,
    })))
}

/// A holder recorded as `ids` (pid << 32 | tid), `start`, `ns`, whose word names `tid`:
/// judged as an RLock owner is (a record that does not match the word is unknown).
fn recorded_holder(tid: u32, ids: u64, start: u64, ns: u32, v: Vantage) -> Owner {
    let (pid, recorded_tid) = ((ids >> 32) as u32, ids as u32);
    if ids != 0 && recorded_tid == tid {
        Owner {
            pid: Some(pid),
            tid,
            pidns: ns,
            liveness: v.thread(pid, tid, start, u64::from(ns)),
        }
    } else {
        Owner {
            pid: None,
            tid,
            pidns: 0,
            liveness: Liveness::Unknown,
        }
    }
}

/// The writer and every reader slot in use.
fn rwlock_state(
    r: &crate::raw::rwlock::RawRwLock,
    v: Vantage,
) -> Result<Result<State, Detail>, NoMem> {
    use crate::raw::rwlock::{READ_PHASE, REPORT, RW_READERS};
    let view = r.snapshot();
    let wtid = view.wword & FUTEX_TID_MASK;
    let writer = (wtid != 0 && wtid != READ_PHASE)
        .then(|| recorded_holder(wtid, view.wids, view.wstart, view.wns, v));
    let mut readers = Vec::new();
    readers.try_reserve_exact(RW_READERS).map_err(|_| NoMem)?;
    for (i, s) in view.slots.iter().enumerate() {
        let tid = s.word & FUTEX_TID_MASK;
        let (state, owner) = if s.word == 0 {
            continue;
        } else if s.word == REPORT {
            (HolderState::Reclaimed, None)
        } else if tid == 0 && s.word & FUTEX_OWNER_DIED != 0 {
            let pid = (s.ids >> 32) as u32;
            let dead = Owner {
                pid: (s.ids != 0).then_some(pid),
                tid: s.ids as u32,
                pidns: s.ns,
                liveness: Liveness::Dead,
            };
            (HolderState::Dead, Some(dead))
        } else if tid != 0 && tid < READ_PHASE {
            (
                HolderState::Held,
                Some(recorded_holder(tid, s.ids, s.start, s.ns, v)),
            )
        } else {
            (HolderState::Unknown, None)
        };
        try_push(
            &mut readers,
            RwReader {
                slot: i as u32,
                state,
                level: if state == HolderState::Held {
                    s.level
                } else {
                    0
                },
                owner,
            },
        )?;
    }
    Ok(Ok(State::RwLock(RwLockState {
        word: view.wword,
        writer,
        writer_died_mark: wtid == 0 && view.wword & FUTEX_OWNER_DIED != 0,
        read_phase: wtid == READ_PHASE,
        waiters: view.wword & FUTEX_WAITERS != 0,
        cross_ns: view.cross_ns,
        readers,
    })))
}

/// One slot as the public API shows it, its holder judged as an RLock owner is.
fn undo_holder(i: usize, s: &SlotView, head: &HeadView, v: Vantage) -> UndoHolder {
    let state = match s.kind {
        SlotKind::Idle => HolderState::Idle,
        SlotKind::Held => HolderState::Held,
        SlotKind::Dead => HolderState::Dead,
        SlotKind::Report => HolderState::Reclaimed,
        SlotKind::Free | SlotKind::Unknown => HolderState::Unknown,
    };
    let recorded = s.pid != 0 || s.tid != 0;
    let owner = match state {
        HolderState::Idle | HolderState::Held => Some(if recorded && s.tid == s.word_tid {
            Owner {
                pid: Some(s.pid),
                tid: s.tid,
                pidns: s.ns,
                liveness: v.thread(s.pid, s.tid, s.start, u64::from(s.ns)),
            }
        } else if !recorded && !head.cross_ns {
            // Taken a moment ago (or died before recording itself): only the TID.
            Owner {
                pid: None,
                tid: s.word_tid,
                pidns: head.creator_ns,
                liveness: v.bare_tid(s.word_tid, u64::from(head.creator_ns)),
            }
        } else {
            Owner {
                pid: None,
                tid: s.word_tid,
                pidns: 0,
                liveness: Liveness::Unknown,
            }
        }),
        // The word no longer names the thread: its record does; the mark is the proof.
        HolderState::Dead => recorded.then_some(Owner {
            pid: Some(s.pid),
            tid: s.tid,
            pidns: s.ns,
            liveness: Liveness::Dead,
        }),
        HolderState::Reclaimed | HolderState::Unknown => None,
    };
    UndoHolder {
        slot: i as u32,
        state,
        word: s.word,
        units: s.units,
        pending: s.pending,
        linked: s.linked,
        waiters: s.waiters,
        start: if owner.is_some() { s.start } else { 0 },
        owner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::file::OBJECT_READ_MAX;
    use crate::raw::sem_undo::UNDO_HOLDERS;

    /// An undo semaphore's bytes: a live header of kind 8, then `body` from offset 8.
    fn undo_prefix(len: usize, body: impl Fn(usize) -> u8) -> Prefix {
        let mut p = Prefix {
            bytes: [0; OBJECT_READ_MAX],
            len,
        };
        for (i, b) in p.bytes.iter_mut().enumerate().take(len).skip(8) {
            *b = body(i);
        }
        p.bytes[..4].copy_from_slice(&MAGIC.to_ne_bytes());
        let tag = Kind::SemUndo as u32 | LAYOUT_VERSION << 8 | 2 << 16;
        p.bytes[4..8].copy_from_slice(&tag.to_ne_bytes());
        p
    }

    fn put_u32(p: &mut Prefix, at: usize, v: u32) {
        p.bytes[at..at + 4].copy_from_slice(&v.to_ne_bytes());
    }

    #[test]
    fn a_short_undo_semaphore_is_truncated() {
        // (OBJECT_READ_MAX is the larger of the undo semaphore and the reader-writer lock.)
        let size = RawSemUndo::SIZE as u64;
        for len in [8, 64, 128, RawSemUndo::SIZE - 1] {
            let d = decode(&undo_prefix(len, |_| 0), size, Vantage::here()).unwrap();
            assert_eq!(d.health, Health::Corrupt, "{len}");
            assert!(d.detail.to_string().contains("truncated"), "{}", d.detail);
        }
        // The whole object read, but the file is shorter now: truncated too.
        let d = decode(&undo_prefix(OBJECT_READ_MAX, |_| 0), 4096, Vantage::here()).unwrap();
        assert_eq!(d.health, Health::Corrupt);
    }

    #[test]
    fn scribbled_undo_semaphores_decode_without_panic() {
        let v = Vantage::here();
        let mut x: u64 = 0x853c_49e6_748f_ea9b;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..300 {
            let seed = next();
            let mut p = undo_prefix(OBJECT_READ_MAX, |i| {
                (seed.rotate_left((i % 64) as u32) ^ (i as u64 * 0x9e37_79b9)) as u8
            });
            if round % 2 == 0 {
                // A sane head: the slots are what is scribbled.
                put_u32(&mut p, 8, 2);
                put_u32(&mut p, 16, 5);
            }
            let d = decode(&p, OBJECT_READ_MAX as u64, v).unwrap();
            match &d.state {
                Some(State::SemUndo(u)) => {
                    assert!(u.value <= u.max_value);
                    assert!(u.holders.len() <= UNDO_HOLDERS);
                    assert!(u.holders.iter().all(|h| (h.slot as usize) < UNDO_HOLDERS));
                    let _ = (
                        u.live_units(),
                        u.dead_units(),
                        u.cached_units(),
                        u.holding(),
                    );
                }
                None => assert_eq!(d.health, Health::Corrupt, "round {round}"),
                Some(other) => panic!("{other:?}"),
            }
            if round % 2 == 0 {
                assert!(d.state.is_some(), "a sane head decodes: {}", d.detail);
            }
        }
        // All ones: every slot word is FUTEX_WAITERS | FUTEX_OWNER_DIED | all TID bits.
        let mut p = undo_prefix(OBJECT_READ_MAX, |_| 0xff);
        put_u32(&mut p, 8, 0);
        put_u32(&mut p, 16, 1);
        let Some(State::SemUndo(u)) = decode(&p, OBJECT_READ_MAX as u64, v).unwrap().state else {
            panic!("no undo semaphore state");
        };
        assert_eq!(u.holders.len(), UNDO_HOLDERS);
        assert!(
            u.holders
                .iter()
                .all(|h| h.state == HolderState::Unknown && h.owner.is_none())
        );
        assert_eq!(
            (u.live_units(), u.dead_units(), u.cached_units()),
            (0, 0, 0)
        );
        // A value above the bound, a bound above the undo maximum: corrupt.
        for (value, max) in [(3, 2), (0, crate::raw::sem_undo::UNDO_VALUE_MAX + 1)] {
            let mut p = undo_prefix(OBJECT_READ_MAX, |_| 0);
            put_u32(&mut p, 8, value);
            put_u32(&mut p, 16, max);
            let d = decode(&p, OBJECT_READ_MAX as u64, v).unwrap();
            assert_eq!(d.health, Health::Corrupt, "{value} of {max}");
        }
    }

    #[test]
    fn a_dead_slot_is_dead_and_its_units_come_back() {
        let mut p = undo_prefix(OBJECT_READ_MAX, |_| 0);
        put_u32(&mut p, 8, 0);
        put_u32(&mut p, 16, 2);
        let slot = 64 + 64 * 3;
        put_u32(&mut p, slot, FUTEX_OWNER_DIED);
        p.bytes[slot + 8..slot + 16].copy_from_slice(&2u64.to_ne_bytes());
        p.bytes[slot + 24..slot + 32].copy_from_slice(&(77u64 << 32 | 78).to_ne_bytes());
        let d = decode(&p, OBJECT_READ_MAX as u64, Vantage::here()).unwrap();
        assert_eq!(d.health, Health::OwnerDead);
        let Some(State::SemUndo(u)) = d.state else {
            panic!("no undo semaphore state");
        };
        assert_eq!(u.holders.len(), 1);
        let h = u.holders[0];
        assert_eq!((h.slot, h.state, h.units), (3, HolderState::Dead, 2));
        let o = h.owner.unwrap();
        assert_eq!((o.pid, o.tid, o.liveness), (Some(77), 78, Liveness::Dead));
        assert_eq!((u.dead_units(), u.live_units(), u.holding()), (2, 0, 1));
        // Reclaimed: the units are back, the report waits.
        put_u32(&mut p, slot, 0x3fff_fffe);
        let d = decode(&p, OBJECT_READ_MAX as u64, Vantage::here()).unwrap();
        assert_eq!(d.health, Health::OwnerDead);
        let Some(State::SemUndo(u)) = d.state else {
            panic!("no undo semaphore state");
        };
        assert_eq!(
            (u.holders[0].state, u.holders[0].units),
            (HolderState::Reclaimed, 0)
        );
        assert_eq!(u.dead_units(), 0);
    }
}

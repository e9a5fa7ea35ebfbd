//! Inspection of the shared-memory namespace: what each entry is (a libmpsync object
//! of which kind and layout version, a SharedMemory block, a library temporary file,
//! or something foreign), the decoded state of each object, whether its owner lives,
//! and which processes map it.
//!
//! **Racy snapshots.** Every answer describes a moment that may already be gone: the
//! fields of an object are read one by one while other processes keep using it.
//!
//! **Read-only and non-blocking.** Inspection opens files `O_RDONLY` and copies their
//! first bytes (all 4160 of an undo semaphore) with `pread` into private memory
//! (nothing is mapped, so a file truncated meanwhile cannot raise `SIGBUS`); it never
//! writes, never takes a lock and never waits on a futex. Everything read is validated
//! (shared memory is untrusted): a corrupted or truncated header, another layout
//! version, a foreign file, a directory, a symlink or a FIFO under the name, or a file
//! we may not read each give a distinct [`Health`](crate::inspect::Health) or
//! [`InspectError`](crate::inspect::InspectError), never a crash or a hang.
//!
//! * [`file`](crate::inspect::file): opening an entry safely and copying its first bytes;
//! * `decode`: header verdicts and per-kind state;
//! * [`owner`](crate::inspect::owner): owner, undo-semaphore holder and creator liveness (namespace-proof, never
//!   "dead" without proof);
//! * [`maps`](crate::inspect::maps): who maps a file, from `/proc/*/maps`;
//! * [`cleanup`](crate::inspect::cleanup): the removal policies of `mpsync rm` and `mpsync gc`.

pub mod cleanup;
mod decode;
pub mod file;
pub mod maps;
pub mod owner;

pub use file::FileFacts;
pub use maps::{Mappers, MapsIndex};
pub use owner::Liveness;

/// The kind of a libmpsync object (its header's kind code).
pub use crate::raw::header::Kind;
/// Where the shared-memory namespace lives (`/dev/shm/`).
pub use crate::sys::shm::names::SHM_DIR;
use crate::sys::shm::validate_name;
use file::Looked;
use owner::Vantage;

/// Prefix of the library's temporary creation files (see `sys::shm::create`).
pub const TEMP_PREFIX: &str = crate::sys::shm::creator_names::TEMP_PREFIX;

/// Why an entry could not be inspected at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InspectError {
    /// No such name.
    NotFound,
    /// Not a name: empty, `.`, `..`, contains `/` (after one leading `/`) or NUL, or
    /// longer than 255 bytes.
    InvalidName,
    /// The file exists but we may not read it.
    PermissionDenied,
    /// Another system error (the `errno`); `ENOMEM` also when memory for the answer
    /// is short.
    Io(i32),
}

impl core::fmt::Display for InspectError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InspectError::NotFound => f.write_str("no such name in the shared-memory namespace"),
            InspectError::InvalidName => f.write_str("not a valid name"),
            InspectError::PermissionDenied => f.write_str("permission denied"),
            InspectError::Io(e) => {
                write!(f, "system error: {}", std::io::Error::from_raw_os_error(*e))
            }
        }
    }
}

/// What an entry of the namespace is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Starts with a libmpsync header (valid or not: see [`Health`]).
    Object,
    /// A non-empty regular file without a libmpsync header: a SharedMemory block
    /// (CPython's, libmpsync's `mp_shm_t`, or any `shm_open` segment).
    Block,
    /// A temporary creation file of the library.
    TempFile,
    /// Anything else: not a regular file, empty, or a name the library cannot open.
    Foreign,
}

impl Class {
    /// "object", "block", "temp" or "foreign".
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Object => "object",
            Class::Block => "block",
            Class::TempFile => "temp",
            Class::Foreign => "foreign",
        }
    }
}

/// The verdict on an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// A valid object (or a block, or a temporary file).
    Ok,
    /// A valid RLock (or array lock) whose owner died holding it, was marked dead by
    /// the kernel, or left it inconsistent: the next acquirer gets `MP_OWNER_DEAD`.
    OwnerDead,
    /// A libmpsync magic, but a header or body that cannot be valid: unknown kind,
    /// destroyed, truncated, inconsistent fields.
    Corrupt,
    /// A libmpsync object of another layout version (another library release).
    WrongVersion,
    /// Not something the library made or can use (see [`Class::Foreign`]).
    Foreign,
    /// We may not read the file.
    Unreadable,
}

impl Health {
    /// "ok", "owner-dead", "corrupt", "wrong-version", "foreign" or "unreadable".
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::OwnerDead => "owner-dead",
            Health::Corrupt => "corrupt",
            Health::WrongVersion => "wrong-version",
            Health::Foreign => "foreign",
            Health::Unreadable => "unreadable",
        }
    }
}

/// The raw header fields, as stored (unchecked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderFields {
    /// `MAGIC` (live), `RETIRED` (destroyed) or anything else.
    pub magic: u32,
    /// Kind code (1 Lock … 7 Array).
    pub kind_code: u32,
    /// Layout version.
    pub layout: u32,
    /// Lifecycle code (0 in place, 1 anonymous, 2 named).
    pub lifecycle: u32,
}

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
    /// A sticky (array) lock whose owner died: reports `MP_OWNER_DEAD` until repaired.
    pub inconsistent: bool,
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

/// An undo semaphore's decoded state (`MP_SEM_UNDO`).
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
    /// `mp_sem_t` made with `MP_SEM_UNDO`: the value word and every holder slot.
    SemUndo(SemUndoState),
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
}

impl State {
    /// The RLock of this state (an RLock, or a synchronized array's lock).
    pub fn rlock(&self) -> Option<&RLockState> {
        match self {
            State::RLock(r) => Some(r),
            State::Array { lock, .. } => lock.as_ref(),
            _ => None,
        }
    }

    /// See [`RLockState::owner_died`] and [`SemUndoState::owner_died`].
    pub fn owner_died(&self) -> bool {
        match self {
            State::SemUndo(u) => u.owner_died(),
            _ => self.rlock().is_some_and(RLockState::owner_died),
        }
    }
}

/// The creator a name records: a temporary creation file's, or a process-owned
/// anonymous name's ([`anonymous_name`](crate::anonymous_name)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creator {
    /// Creator's pid (in its namespace).
    pub pid: u32,
    /// Creator's start time (clock ticks since boot; 0: unknown).
    pub start: u64,
    /// Creator's PID-namespace id (0: unknown).
    pub pidns: u64,
    /// What can be proven about it from here (a process is alive while any of its
    /// threads runs).
    pub liveness: Liveness,
}

/// Everything known about one entry of the namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The name (without `/`; non-UTF-8 bytes replaced).
    pub name: String,
    /// What it is.
    pub class: Class,
    /// The verdict.
    pub health: Health,
    /// Why a verdict other than `Ok` (empty otherwise).
    pub detail: String,
    /// File facts.
    pub file: FileFacts,
    /// The header, for objects.
    pub header: Option<HeaderFields>,
    /// The object's kind, when its code is known.
    pub kind: Option<Kind>,
    /// The decoded state, for valid objects.
    pub state: Option<State>,
    /// The creator recorded in the name: for temporary files, and for objects and
    /// blocks under a process-owned anonymous name.
    pub creator: Option<Creator>,
    /// Who maps it.
    pub mappers: Mappers,
}

/// The kind's lower-case name as `mpsync` prints it.
pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Lock => "lock",
        Kind::RLock => "rlock",
        Kind::Sem => "semaphore",
        Kind::SemUndo => "semaphore-undo",
        Kind::Cond => "condition",
        Kind::Event => "event",
        Kind::Barrier => "barrier",
        Kind::Array => "array",
    }
}

/// The bare name (one path component) of `name`, which may have one leading `/`.
pub fn bare_name(name: &str) -> Result<&str, InspectError> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty()
        || bare == "."
        || bare == ".."
        || bare.len() > 255
        || bare.bytes().any(|b| b == b'/' || b == 0)
    {
        return Err(InspectError::InvalidName);
    }
    Ok(bare)
}

/// The creator recorded in `bare`, judged from `v`, if the name records one.
fn creator_of(bare: &str, v: Vantage) -> Option<Creator> {
    use crate::sys::shm::creator_names::{parse_anonymous_name, parse_temp_name};
    let c = parse_temp_name(bare).or_else(|| parse_anonymous_name(bare))?;
    Some(Creator {
        pid: c.pid,
        start: c.start,
        pidns: c.pidns,
        liveness: c.liveness(v),
    })
}

/// How many times a snapshot that judged an owner is re-read before the judgement
/// is given up as "unknown" (the lock kept changing under us).
const STABLE_READS: usize = 3;

/// Who maps a file, given its facts: a targeted pass over `/proc` for one entry, or a
/// lookup in a [`MapsIndex`] shared by a listing.
type MappersOf<'a> = &'a dyn Fn(&FileFacts) -> Result<Mappers, InspectError>;

/// The error for memory that could not be had: `Io(ENOMEM)` (`MP_ENOMEM` in C).
fn no_mem(_: crate::fallible::NoMem) -> InspectError {
    InspectError::Io(libc::ENOMEM)
}

/// Inspects one entry. Every allocation is fallible (`Io(ENOMEM)`): `mp_inspect` runs
/// this.
fn inspect_with(
    bare: &str,
    mappers: MappersOf<'_>,
    v: Vantage,
) -> Result<ObjectInfo, InspectError> {
    use crate::fallible::{try_format, try_string};
    let looked = file::look(bare)?;
    let (facts, file) = match looked {
        Looked::NotRegular(facts) => {
            let detail = try_format(format_args!(
                "not a regular file: {}",
                facts.not_regular.unwrap_or("?")
            ))
            .map_err(no_mem)?;
            return entry(
                bare,
                Class::Foreign,
                Health::Foreign,
                detail,
                facts,
                mappers,
            );
        }
        Looked::Unreadable(facts) => {
            // What it holds cannot be known: never treated as an object or a block
            // (cleanup keeps it), only a temporary file is recognised by its name.
            let class = if bare.starts_with(TEMP_PREFIX) {
                Class::TempFile
            } else {
                Class::Foreign
            };
            let detail = try_string("permission denied").map_err(no_mem)?;
            return entry(bare, class, Health::Unreadable, detail, facts, mappers);
        }
        Looked::Open(facts, file) => (facts, file),
    };
    let creator = creator_of(bare, v);
    if bare.starts_with(TEMP_PREFIX) && creator.is_some() {
        let mut info = entry(
            bare,
            Class::TempFile,
            Health::Ok,
            String::new(),
            facts,
            mappers,
        )?;
        info.creator = creator;
        return Ok(info);
    }
    let mut prefix = file::read_prefix(&file)?;
    if !decode::looks_like_object(&prefix) {
        let mut c_bare = crate::fallible::StackStr::<256>::new();
        let library_name =
            c_bare.push_bytes(bare.as_bytes()) && validate_name(c_bare.as_cstr()).is_ok();
        let (class, health, detail) = if facts.size == 0 {
            let d = try_string("empty file").map_err(no_mem)?;
            (Class::Foreign, Health::Foreign, d)
        } else if !library_name {
            let d = try_string("a name outside the library's rules ([A-Za-z0-9._-], 1-200)")
                .map_err(no_mem)?;
            (Class::Foreign, Health::Foreign, d)
        } else {
            (Class::Block, Health::Ok, String::new())
        };
        let mut info = entry(bare, class, health, detail, facts, mappers)?;
        info.creator = creator.filter(|_| class == Class::Block);
        return Ok(info);
    }
    let mut d = decode::decode(&prefix, facts.size, v).map_err(no_mem)?;
    if matches!(d.state, Some(State::SemUndo(_))) {
        let again = file::read_prefix(&file)?;
        keep_stable_holders(&mut d, &prefix, &again);
    } else {
        // A judgement of an owner is kept only if the object did not change while /proc
        // was consulted; otherwise look again, and in the end say "unknown".
        let judged = |d: &decode::Decoded| {
            d.state
                .as_ref()
                .and_then(State::rlock)
                .and_then(|r| r.owner)
                .is_some_and(|o| o.liveness != Liveness::Unknown)
        };
        let mut stable = !judged(&d);
        for _ in 0..STABLE_READS {
            if stable {
                break;
            }
            let again = file::read_prefix(&file)?;
            if again.len == prefix.len && again.bytes == prefix.bytes {
                stable = true;
            } else {
                prefix = again;
                d = decode::decode(&prefix, facts.size, v).map_err(no_mem)?;
                stable = !judged(&d);
            }
        }
        if !stable {
            unjudge(&mut d);
        }
    }
    let detail = match d.detail {
        decode::Detail::None => String::new(),
        why => try_format(format_args!("{why}")).map_err(no_mem)?,
    };
    let mut info = entry(bare, Class::Object, d.health, detail, facts, mappers)?;
    info.header = d.header;
    info.kind = d.kind;
    info.state = d.state;
    info.creator = creator;
    Ok(info)
}

/// Keeps the `/proc` judgement of an undo semaphore's holder only if its slot is the
/// same in `again`, a copy read after the judgement (a busy semaphore's value word
/// changes all the time; one holder's record does not while it holds).
fn keep_stable_holders(d: &mut decode::Decoded, first: &file::Prefix, again: &file::Prefix) {
    let Some(State::SemUndo(u)) = d.state.as_mut() else {
        return;
    };
    for h in &mut u.holders {
        let range = crate::raw::sem_undo::RawSemUndo::slot_bytes(h.slot as usize);
        let same = again.len >= range.end
            && first.bytes.get(range.clone()) == again.bytes.get(range.clone());
        if let Some(o) = h.owner.as_mut().filter(|_| h.state != HolderState::Dead) {
            if !same {
                o.liveness = Liveness::Unknown;
            }
        }
    }
    if d.health == Health::OwnerDead && !d.state.as_ref().is_some_and(State::owner_died) {
        d.health = Health::Ok;
    }
}

/// Replaces every owner judgement by "unknown" (and the verdict it caused).
fn unjudge(d: &mut decode::Decoded) {
    let fix = |r: &mut RLockState| {
        if let Some(o) = r.owner.as_mut() {
            o.liveness = Liveness::Unknown;
        }
    };
    match d.state.as_mut() {
        Some(State::RLock(r)) => fix(r),
        Some(State::Array { lock: Some(r), .. }) => fix(r),
        _ => {}
    }
    if d.health == Health::OwnerDead && !d.state.as_ref().is_some_and(State::owner_died) {
        d.health = Health::Ok;
    }
}

fn entry(
    bare: &str,
    class: Class,
    health: Health,
    detail: String,
    file: FileFacts,
    mappers: MappersOf<'_>,
) -> Result<ObjectInfo, InspectError> {
    let mappers = mappers(&file)?;
    Ok(ObjectInfo {
        name: crate::fallible::try_string(bare).map_err(no_mem)?,
        class,
        health,
        detail,
        file,
        header: None,
        kind: None,
        state: None,
        creator: None,
        mappers,
    })
}

/// Inspects the entry `name` (with or without a leading `/`). A file we may not read
/// is `Err(PermissionDenied)` here (a listing shows it as [`Health::Unreadable`]).
/// When memory is short: `Err(Io(ENOMEM))` (it never aborts).
pub fn inspect(name: &str) -> Result<ObjectInfo, InspectError> {
    let bare = bare_name(name)?;
    let mappers = |f: &FileFacts| Mappers::of_file(f.dev, f.ino, f.uid, f.mode);
    let info = inspect_with(bare, &mappers, Vantage::here())?;
    if info.health == Health::Unreadable {
        return Err(InspectError::PermissionDenied);
    }
    Ok(info)
}

/// Inspects every entry of the namespace, sorted by name. Entries that vanish while
/// we look are left out.
pub fn list() -> Result<Vec<ObjectInfo>, InspectError> {
    let dir = std::fs::read_dir(SHM_DIR).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => InspectError::NotFound,
        std::io::ErrorKind::PermissionDenied => InspectError::PermissionDenied,
        _ => InspectError::Io(e.raw_os_error().unwrap_or(0)),
    })?;
    let index = MapsIndex::scan();
    let mappers = |f: &FileFacts| Ok(index.mappers(f.dev, f.ino, f.uid, f.mode));
    let v = Vantage::here();
    let mut out = Vec::new();
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(bare) = name.to_str() else {
            // Not UTF-8: certainly not ours; described without being opened.
            if let Ok(m) = e.metadata() {
                let label = name.to_string_lossy().into_owned();
                let detail = "name is not UTF-8".to_string();
                let facts = FileFacts::of(&m);
                out.push(entry(
                    &label,
                    Class::Foreign,
                    Health::Foreign,
                    detail,
                    facts,
                    &mappers,
                )?);
            }
            continue;
        };
        // Entries that vanish while we look (or that cannot be looked at) are left out;
        // running out of memory ends the listing.
        match inspect_with(bare, &mappers, v) {
            Ok(info) => out.push(info),
            Err(InspectError::Io(libc::ENOMEM)) => return Err(InspectError::Io(libc::ENOMEM)),
            Err(_) => {}
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(bare_name("/abc"), Ok("abc"));
        assert_eq!(bare_name("a b@c"), Ok("a b@c"));
        for bad in ["", "/", ".", "..", "a/b", "//a", "a\0b"] {
            assert_eq!(bare_name(bad), Err(InspectError::InvalidName), "{bad:?}");
        }
        assert_eq!(bare_name(&"x".repeat(256)), Err(InspectError::InvalidName));
    }
}

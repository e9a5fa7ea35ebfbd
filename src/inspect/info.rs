//! What an inspection tells about one entry of the namespace: its [`Class`], its
//! [`Health`], its header, its creator, all gathered in [`ObjectInfo`].

use super::file::FileFacts;
use super::maps::Mappers;
use super::owner::Liveness;
use super::state::State;
use crate::raw::header::Kind;

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
        Kind::RwLock => "rwlock",
        Kind::Queue => "queue",
    }
}

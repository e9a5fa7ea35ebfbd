//! C functions of the inspection API (`crate::inspect`): a racy, read-only snapshot of
//! one named entry of the shared-memory namespace in a fixed-layout, versioned struct.

use core::ffi::c_char;

use super::status::{MP_EACCES, MP_EINVAL, MP_ENOENT, MP_ENOMEM, MP_ESYS, MP_OK, mp_status};
use crate::inspect::{self, Class, Health, InspectError, Liveness, ObjectInfo, State};
use crate::raw::header::Kind;

/// `mp_object_info.info_version` written by this library: 2 since the undo semaphore
/// fields (`held_units`, `dead_units`, `cached_units`, `holders`), which version 1
/// left zero as `reserved`; the size did not change.
pub const MP_INFO_VERSION: u32 = 2;
/// `sizeof(mp_object_info)` of versions 1 and 2: the smallest `info_size` `mp_inspect`
/// accepts.
pub const MP_OBJECT_INFO_SIZE: usize = 128;

/// `class`: the entry starts with a libmpsync header (see `health`).
pub const MP_CLASS_OBJECT: u32 = 1;
/// `class`: a SharedMemory block (a non-empty regular file without a libmpsync header).
pub const MP_CLASS_BLOCK: u32 = 2;
/// `class`: a temporary creation file of the library.
pub const MP_CLASS_TEMP: u32 = 3;
/// `class`: not a regular file, empty, or a name the library cannot open.
pub const MP_CLASS_FOREIGN: u32 = 4;

/// `health`: a valid object of this library's layout version, a block, or a temp file.
pub const MP_HEALTH_OK: u32 = 0;
/// `health`: a valid RLock (or array lock) whose owner died holding it, or an undo
/// semaphore with a dead holder's units or a death report waiting: the next acquirer
/// (of an undo semaphore: a later one) gets `MP_OWNER_DEAD`.
pub const MP_HEALTH_OWNER_DEAD: u32 = 1;
/// `health`: a libmpsync magic with an impossible header or body (unknown kind,
/// destroyed, truncated, inconsistent fields).
pub const MP_HEALTH_CORRUPT: u32 = 2;
/// `health`: an object of another layout version (`layout_version` says which).
pub const MP_HEALTH_WRONG_VERSION: u32 = 3;
/// `health`: see `MP_CLASS_FOREIGN`.
pub const MP_HEALTH_FOREIGN: u32 = 4;

/// `owner_liveness`: no owner (not an RLock, or free).
pub const MP_LIVENESS_NONE: u32 = 0;
/// `owner_liveness`: the recorded owner thread exists.
pub const MP_LIVENESS_ALIVE: u32 = 1;
/// `owner_liveness`: the owner provably no longer exists.
pub const MP_LIVENESS_DEAD: u32 = 2;
/// `owner_liveness`: cannot be proven (another PID namespace, no usable `/proc`).
pub const MP_LIVENESS_UNKNOWN: u32 = 3;

/// `flags`: a Lock or RLock (or an array's lock) is held.
pub const MP_INFO_LOCKED: u32 = 1;
/// `flags`: sleepers may exist on the lock word.
pub const MP_INFO_WAITERS: u32 = 2;
/// `flags`: an Event's flag is set.
pub const MP_INFO_SET: u32 = 4;
/// `flags`: a Barrier is broken.
pub const MP_INFO_BROKEN: u32 = 8;
/// `flags`: the kernel (or a waiter) marked the RLock's owner dead.
pub const MP_INFO_OWNER_DIED: u32 = 16;
/// `flags`: a synchronized array's lock stays inconsistent until repaired.
pub const MP_INFO_INCONSISTENT: u32 = 32;
/// `flags`: the RLock or undo semaphore was used from more than one PID namespace.
pub const MP_INFO_CROSS_NS: u32 = 64;
/// `flags`: an array is synchronized (has a lock).
pub const MP_INFO_WITH_LOCK: u32 = 128;
/// `flags`: an undo semaphore's value word has its `DEATHS` bit: death reports may wait
/// in its holder table (info version 2).
pub const MP_INFO_DEATHS: u32 = 256;
/// `flags`: a queue is closed for writing (end of stream).
pub const MP_INFO_CLOSED: u32 = 512;

/// A racy snapshot of one entry of the shared-memory namespace, filled by
/// `mp_inspect`. Fields that do not apply to the entry are 0. New fields are only ever
/// appended (and `info_version` raised), so a caller compiled against this version
/// keeps working with later libraries.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct mp_object_info {
    /// `MP_INFO_VERSION` of the library that filled the struct.
    pub info_version: u32,
    /// `MP_CLASS_*`.
    pub entry_class: u32,
    /// `MP_HEALTH_*`.
    pub health: u32,
    /// Kind code from the header: 1 Lock, 2 RLock, 3 Semaphore, 4 Condition, 5 Event,
    /// 6 Barrier, 7 Array, 8 undo Semaphore; 0 if not an object or an unknown code.
    pub kind: u32,
    /// The header's first word as stored (0x4D505359 for a live object).
    pub magic: u32,
    /// Layout version from the header.
    pub layout_version: u32,
    /// Lifecycle code from the header (0 in place, 1 anonymous, 2 named).
    pub lifecycle: u32,
    /// The file's owner (user id).
    pub uid: u32,
    /// The file's permission bits.
    pub mode: u32,
    /// `MP_INFO_*` bits.
    pub flags: u32,
    /// The file's size in bytes.
    pub size: u64,
    /// RLock owner's process id (in its PID namespace), 0 if none or not recorded.
    pub owner_pid: u32,
    /// RLock owner's thread id (in its PID namespace), 0 if none.
    pub owner_tid: u32,
    /// `MP_LIVENESS_*` of the RLock owner.
    pub owner_liveness: u32,
    /// RLock recursion level while held.
    pub count: u32,
    /// Queue: bytes in use (saturated at `UINT32_MAX`). Semaphore value. For an undo semaphore: the units in its value word, available
    /// now (`mp_sem_get_value` adds `cached_units` and `dead_units`, up to the bound).
    pub value: u32,
    /// Semaphore bound (`MP_SEM_VALUE_MAX` for a plain Semaphore); queue: capacity in
    /// bytes (saturated at `UINT32_MAX`).
    pub max_value: u32,
    /// Queue sleepers (consumers + producers + joiners), Condition waiters, Event
    /// sleepers, Barrier parties waiting, or undo Semaphore
    /// sleepers (killed waiters may be counted until the object forgets them).
    pub waiters: u32,
    /// Barrier parties.
    pub parties: u32,
    /// Barrier generation.
    pub generation: u32,
    /// Array element type (a Python type character, as `mp_type`).
    pub type_code: u32,
    /// Array length; queue: messages in it.
    pub length: u64,
    /// Array element size in bytes.
    pub item_size: u32,
    /// Processes seen mapping the entry (from `/proc/<pid>/maps`).
    pub n_mappers: u32,
    /// Processes that could map it but whose mappings could not be read.
    pub n_mappers_unknown: u32,
    /// Undo semaphore: units held by holders that are alive or not provably dead
    /// (info version 2; 0 before).
    pub held_units: u32,
    /// Undo semaphore: units of dead holders, which come back when an acquirer needs
    /// them (info version 2).
    pub dead_units: u32,
    /// Undo semaphore: units cached in idle holder slots, available to any acquirer
    /// (info version 2).
    pub cached_units: u32,
    /// Undo semaphore: holder slots whose holder (alive, unknown or dead) holds units
    /// (info version 2).
    pub holders: u32,
    /// Zero; room for later fields.
    pub reserved: [u32; 1],
}

const _: () = assert!(core::mem::size_of::<mp_object_info>() == MP_OBJECT_INFO_SIZE);

fn liveness_code(l: Liveness) -> u32 {
    match l {
        Liveness::Alive => MP_LIVENESS_ALIVE,
        Liveness::Dead => MP_LIVENESS_DEAD,
        Liveness::Unknown => MP_LIVENESS_UNKNOWN,
    }
}

fn fill_rlock(out: &mut mp_object_info, r: &inspect::RLockState) {
    let bit = |on: bool, b: u32| if on { b } else { 0 };
    out.flags |= bit(r.locked, MP_INFO_LOCKED)
        | bit(r.waiters, MP_INFO_WAITERS)
        | bit(r.died_mark, MP_INFO_OWNER_DIED)
        | bit(r.inconsistent, MP_INFO_INCONSISTENT)
        | bit(r.cross_ns, MP_INFO_CROSS_NS);
    out.count = r.count;
    if let Some(o) = r.owner {
        out.owner_pid = o.pid.unwrap_or(0);
        out.owner_tid = o.tid;
        out.owner_liveness = liveness_code(o.liveness);
    }
}

/// The C view of an [`ObjectInfo`].
fn to_c(info: &ObjectInfo) -> mp_object_info {
    let mut out = mp_object_info {
        info_version: MP_INFO_VERSION,
        entry_class: match info.class {
            Class::Object => MP_CLASS_OBJECT,
            Class::Block => MP_CLASS_BLOCK,
            Class::TempFile => MP_CLASS_TEMP,
            Class::Foreign => MP_CLASS_FOREIGN,
        },
        health: match info.health {
            Health::Ok | Health::Unreadable => MP_HEALTH_OK,
            Health::OwnerDead => MP_HEALTH_OWNER_DEAD,
            Health::Corrupt => MP_HEALTH_CORRUPT,
            Health::WrongVersion => MP_HEALTH_WRONG_VERSION,
            Health::Foreign => MP_HEALTH_FOREIGN,
        },
        kind: info.kind.map_or(0, |k: Kind| k as u32),
        uid: info.file.uid,
        mode: info.file.mode,
        size: info.file.size,
        n_mappers: u32::try_from(info.mappers.pids.len()).unwrap_or(u32::MAX),
        n_mappers_unknown: info.mappers.unknown,
        ..Default::default()
    };
    if let Some(h) = info.header {
        out.magic = h.magic;
        out.layout_version = h.layout;
        out.lifecycle = h.lifecycle;
    }
    match info.state {
        Some(State::Lock { locked, contended }) => {
            out.flags |= if locked { MP_INFO_LOCKED } else { 0 }
                | if contended { MP_INFO_WAITERS } else { 0 };
        }
        Some(State::RLock(ref r)) => fill_rlock(&mut out, r),
        Some(State::Sem { value, max_value }) => {
            out.value = value;
            out.max_value = max_value;
        }
        Some(State::SemUndo(ref u)) => {
            out.value = u.value;
            out.max_value = u.max_value;
            out.waiters = u.sleepers;
            out.held_units = u.live_units();
            out.dead_units = u.dead_units();
            out.cached_units = u.cached_units();
            out.holders = u.holding();
            out.flags |= if u.deaths_waiting { MP_INFO_DEATHS } else { 0 }
                | if u.cross_ns { MP_INFO_CROSS_NS } else { 0 };
        }
        Some(State::RwLock(ref r)) => {
            // The writer as the owner; `count` = readers holding, `holders` = slots in use.
            out.flags |= if r.writer.is_some() {
                MP_INFO_LOCKED
            } else {
                0
            } | if r.waiters { MP_INFO_WAITERS } else { 0 }
                | if r.writer_died_mark {
                    MP_INFO_OWNER_DIED
                } else {
                    0
                }
                | if r.cross_ns { MP_INFO_CROSS_NS } else { 0 };
            if let Some(o) = r.writer {
                out.owner_pid = o.pid.unwrap_or(0);
                out.owner_tid = o.tid;
                out.owner_liveness = liveness_code(o.liveness);
            }
            out.count = r
                .readers
                .iter()
                .filter(|x| x.state == inspect::HolderState::Held)
                .count() as u32;
            out.holders = r.readers.len() as u32;
        }
        Some(State::Cond { waiters }) => out.waiters = waiters,
        Some(State::Event { set, sleepers }) => {
            out.flags |= if set { MP_INFO_SET } else { 0 };
            out.waiters = sleepers;
        }
        Some(State::Barrier {
            parties,
            n_waiting,
            broken,
            generation,
        }) => {
            out.parties = parties;
            out.waiters = n_waiting;
            out.generation = generation;
            out.flags |= if broken { MP_INFO_BROKEN } else { 0 };
        }
        Some(State::Array {
            type_code,
            length,
            item_size,
            ref lock,
        }) => {
            out.type_code = u32::from(type_code);
            out.length = length;
            out.item_size = item_size;
            if let Some(r) = lock {
                out.flags |= MP_INFO_WITH_LOCK;
                fill_rlock(&mut out, r);
            }
        }
        Some(State::Queue {
            capacity,
            used,
            messages,
            getters,
            putters,
            joiners,
            closed,
            ref lock,
            ..
        }) => {
            out.length = messages;
            out.value = u32::try_from(used).unwrap_or(u32::MAX);
            out.max_value = u32::try_from(capacity).unwrap_or(u32::MAX);
            out.waiters = getters.saturating_add(putters).saturating_add(joiners);
            out.flags |= if closed { MP_INFO_CLOSED } else { 0 };
            fill_rlock(&mut out, lock);
        }
        None => {}
    }
    out
}

/// Takes a racy, read-only snapshot of the entry `name` of the shared-memory namespace
/// (`/dev/shm/<name>`; one leading `/` is ignored) and writes it to `*info_out`.
///
/// The snapshot says what the entry is (`class`: a libmpsync object, a SharedMemory
/// block, a library temporary file, or something foreign), a verdict (`health`: ok,
/// owner dead, corrupt, wrong layout version, foreign), the header fields, the decoded
/// state of a valid object (lock words, owner pid/tid and whether that owner is alive,
/// dead or unknown, waiters, values; for an undo semaphore the units held by live and
/// by dead holders, the units cached and the number of holders), and how many
/// processes map it. Every field is
/// read separately while other processes may be changing the object, so the snapshot
/// may describe no single moment: use it to inspect and debug, never to synchronize.
///
/// Inspection never modifies the entry and never blocks on it: the file is opened
/// read-only without following symlinks (a FIFO cannot block the open), its first bytes
/// (all of an undo semaphore) are copied (nothing is mapped, so a file truncated meanwhile cannot raise
/// `SIGBUS`), and no lock is taken or waited for. An owner is reported dead only with
/// proof (same PID namespace, and a `/proc` provably of that namespace); otherwise it
/// is `MP_LIVENESS_UNKNOWN`. Any name the directory may hold is accepted, also names
/// outside the library's naming rules (they are `MP_CLASS_FOREIGN`).
///
/// `info_size` is `sizeof(mp_object_info)` as the caller knows it (at least
/// `MP_OBJECT_INFO_SIZE`); at most that many bytes are written, so programs built
/// against this header keep working with later libraries whose struct is longer.
///
/// Thread-safe; not async-signal-safe (it allocates and reads `/proc`). It reads every
/// `/proc/<pid>/maps`, so it costs a few milliseconds: not for hot paths.
///
/// Returns `MP_OK` (also for corrupt, foreign and other-version entries: see
/// `health`), `MP_EINVAL` (NULL argument, `info_size` too small, or not a single path
/// component: empty, `.`, `..`, a `/` after the first character), `MP_ENOENT` (no such
/// name), `MP_EACCES` (the file may not be read), `MP_ENOMEM` (memory is short; nothing
/// written), `MP_ESYS`.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `info_out` is NULL or points to
/// `info_size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_inspect(
    name: *const c_char,
    info_out: *mut mp_object_info,
    info_size: usize,
) -> mp_status {
    if name.is_null() || info_out.is_null() || info_size < MP_OBJECT_INFO_SIZE {
        return MP_EINVAL;
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    let name = unsafe { core::ffi::CStr::from_ptr(name) };
    let Ok(name) = name.to_str() else {
        return MP_EINVAL;
    };
    match inspect::inspect(name) {
        Ok(info) => {
            let c = to_c(&info);
            // SAFETY: `info_out` has at least MP_OBJECT_INFO_SIZE == size_of(c) writable
            // bytes (checked above); unaligned-safe byte copy of a plain-data struct.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    (&c as *const mp_object_info).cast::<u8>(),
                    info_out.cast::<u8>(),
                    MP_OBJECT_INFO_SIZE,
                )
            };
            MP_OK
        }
        Err(InspectError::NotFound) => MP_ENOENT,
        Err(InspectError::InvalidName) => MP_EINVAL,
        Err(InspectError::PermissionDenied) => MP_EACCES,
        Err(InspectError::Io(libc::ENOMEM)) => MP_ENOMEM,
        Err(InspectError::Io(_)) => MP_ESYS,
    }
}

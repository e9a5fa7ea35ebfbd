//! Removal policies: `mpsync rm` (one name, refused while in use) and `mpsync gc`
//! (only what the library can prove abandoned, each kind behind its own switch).
//!
//! Removing a name (`unlink`) never harms a process that has the object mapped: its
//! mapping stays valid. What it breaks is *rendezvous*: a process that opens the name
//! later gets a new object (or `MP_ENOENT`). So a name is removed only when no process
//! maps it, judged from `/proc/*/maps`; a process whose mappings cannot be read counts
//! as a possible user (see [`MapsIndex::mappers`](super::MapsIndex::mappers)). The
//! check and the `unlink` are two steps: a process that opens the name in between keeps
//! a valid, now unnamed, object. Just before the `unlink` the entry is looked at again
//! and must still be the same file (device and inode) with the same verdict.

use super::{Class, Health, InspectError, Liveness, ObjectInfo, State, bare_name, inspect, list};
use crate::sys::shm::names::SHM_DIR;

/// Why `rm` did not remove a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoveError {
    /// The name could not be inspected.
    Inspect(InspectError),
    /// Live processes map it (their pids), or might (`unknown` processes whose
    /// mappings could not be read).
    InUse {
        /// Pids that map it.
        pids: Vec<u32>,
        /// Processes that might map it.
        unknown: u32,
    },
    /// Not a regular file (a directory, symlink, FIFO...): never removed.
    NotRegular,
    /// The `unlink` failed (the `errno`).
    Unlink(i32),
}

fn unlink(bare: &str) -> Result<(), RemoveError> {
    std::fs::remove_file(format!("{SHM_DIR}{bare}")).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RemoveError::Inspect(InspectError::NotFound),
        std::io::ErrorKind::PermissionDenied => {
            RemoveError::Inspect(InspectError::PermissionDenied)
        }
        _ => RemoveError::Unlink(e.raw_os_error().unwrap_or(0)),
    })
}

/// Removes `name` unless some process maps it (or might: `ignore_unreadable` counts
/// processes whose mappings could not be read as not mapping it); `force` removes it
/// anyway. Regular files only. Returns what the entry was.
pub fn remove(name: &str, force: bool, ignore_unreadable: bool) -> Result<ObjectInfo, RemoveError> {
    let bare = bare_name(name).map_err(RemoveError::Inspect)?;
    let info = match inspect(bare) {
        Ok(info) => info,
        // We cannot read it, but may still own the name (unlink needs only the
        // directory): judge by the listing's facts.
        Err(InspectError::PermissionDenied) => list()
            .map_err(RemoveError::Inspect)?
            .into_iter()
            .find(|i| i.name == bare)
            .ok_or(RemoveError::Inspect(InspectError::NotFound))?,
        Err(e) => return Err(RemoveError::Inspect(e)),
    };
    if info.file.not_regular.is_some() {
        return Err(RemoveError::NotRegular);
    }
    if !force && in_use(&info, ignore_unreadable) {
        return Err(RemoveError::InUse {
            pids: info.mappers.pids.clone(),
            unknown: info.mappers.unknown,
        });
    }
    unlink(bare)?;
    Ok(info)
}

/// Mapped by a process we saw, or (unless `ignore_unreadable`) possibly by one whose
/// mappings we could not read.
fn in_use(info: &ObjectInfo, ignore_unreadable: bool) -> bool {
    !info.mappers.pids.is_empty() || (!ignore_unreadable && info.mappers.unknown != 0)
}

/// Which kinds of leftovers `gc` may remove.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcPolicy {
    /// The library's temporary creation files whose creator is provably dead.
    pub temp_files: bool,
    /// Valid libmpsync objects (of this layout version) that no process maps and no
    /// live (or unprovable) owner holds.
    pub objects: bool,
    /// SharedMemory blocks that no process maps (their data is lost).
    pub blocks: bool,
    /// Count processes whose mappings could not be read (another user's, or more
    /// privileged ones) as mapping nothing. Without it, one such process that could
    /// open an entry keeps the entry.
    pub ignore_unreadable: bool,
    /// Only names that start with this.
    pub prefix: Option<String>,
}

/// Why an entry is (or is not) a leftover under `policy`: `Ok(reason)` to remove.
pub fn judge(info: &ObjectInfo, policy: &GcPolicy) -> Result<&'static str, &'static str> {
    if policy.prefix.as_ref().is_some_and(|p| !info.name.starts_with(p.as_str())) {
        return Err("outside the prefix");
    }
    if !info.mappers.pids.is_empty() {
        return Err("mapped by a live process");
    }
    if in_use(info, policy.ignore_unreadable) {
        return Err("processes whose mappings are unreadable might map it");
    }
    match info.class {
        Class::TempFile => {
            if !policy.temp_files {
                return Err("temporary files need --temp");
            }
            match info.temp.map(|t| t.liveness) {
                Some(Liveness::Dead) => Ok("temporary file of a dead creator"),
                _ => Err("creator alive or unknown"),
            }
        }
        Class::Block => {
            if !policy.blocks {
                return Err("blocks need --blocks");
            }
            Ok("block mapped by no process")
        }
        Class::Foreign => Err("foreign: never removed"),
        Class::Object => {
            if !policy.objects {
                return Err("objects need --objects");
            }
            if !matches!(info.health, Health::Ok | Health::OwnerDead) {
                return Err("not a valid object of this version: never removed");
            }
            let held = match info.state {
                Some(State::Lock { locked, .. }) => locked,
                Some(State::Sem { value, max_value }) => {
                    max_value != crate::raw::sem::SEM_VALUE_MAX && value < max_value
                }
                Some(ref s) => s.rlock().is_some_and(|r| r.held_by_maybe_live_owner()),
                None => true,
            };
            if held {
                return Err("held");
            }
            Ok(if info.health == Health::OwnerDead {
                "object mapped by no process, owner dead"
            } else {
                "object mapped by no process, not held"
            })
        }
    }
}

/// One entry `gc` removed (or, dry, would remove).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collected {
    /// The entry as judged.
    pub info: ObjectInfo,
    /// Why it is a leftover.
    pub reason: &'static str,
    /// `Err` if the removal failed (a dry run removes nothing and reports `Ok`).
    pub result: Result<(), RemoveError>,
}

/// Finds the leftovers that `policy` allows, and unless `dry_run` removes them. Each
/// is judged twice, on two independent listings, and removed only if both agree and
/// it is still the same file.
pub fn gc(policy: &GcPolicy, dry_run: bool) -> Result<Vec<Collected>, InspectError> {
    let first: Vec<(ObjectInfo, &'static str)> = list()?
        .into_iter()
        .filter_map(|i| judge(&i, policy).ok().map(|r| (i, r)))
        .collect();
    if dry_run || first.is_empty() {
        return Ok(first
            .into_iter()
            .map(|(info, reason)| Collected {
                info,
                reason,
                result: Ok(()),
            })
            .collect());
    }
    let second = list()?;
    let mut out = Vec::new();
    for (info, reason) in first {
        let again = second.iter().find(|i| {
            i.name == info.name && i.file.dev == info.file.dev && i.file.ino == info.file.ino
        });
        if let Some(again) = again
            && judge(again, policy).is_ok()
        {
            let result = unlink(&info.name);
            out.push(Collected {
                info: again.clone(),
                reason,
                result,
            });
        }
    }
    Ok(out)
}

//! Removal policies: `mpsync rm` (one name, refused while in use) and `mpsync gc`
//! (only what the library can prove abandoned, each kind behind its own switch).
//!
//! One exception to the rule below: a process-owned anonymous name whose creator
//! provably no longer exists is removed even if processes map it, exactly as
//! [`sweep_orphans`](crate::sweep_orphans) does (see [`GcPolicy::orphans`]).
//!
//! Removing a name (`unlink`) never harms a process that has the object mapped: its
//! mapping stays valid. What it breaks is *rendezvous*: a process that opens the name
//! later gets a new object (or `MP_ENOENT`). So a name is removed only when no process
//! maps it, judged from `/proc/*/maps`; a process whose mappings cannot be read counts
//! as a possible user (see [`MapsIndex::mappers`](super::MapsIndex::mappers)). The
//! check and the `unlink` are two steps: a process that opens the name in between keeps
//! a valid, now unnamed, object. Just before the `unlink` the entry is looked at again
//! and must still be the same file (device and inode) with the same verdict.

use super::error::InspectError;
use super::info::{Class, Health, ObjectInfo};
use super::owner::Liveness;
use super::snapshot::{bare_name, inspect, list};
use super::state::{HolderState, SemUndoState, State};
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
    /// Process-owned anonymous names ([`anonymous_name`](crate::anonymous_name))
    /// whose creator provably no longer exists, mapped or not: the rule of
    /// [`sweep_orphans`](crate::sweep_orphans).
    pub orphans: bool,
    /// Count processes whose mappings could not be read (another user's, or more
    /// privileged ones) as mapping nothing. Without it, one such process that could
    /// open an entry keeps the entry.
    pub ignore_unreadable: bool,
    /// Only names that start with this.
    pub prefix: Option<String>,
}

/// `gc`'s judgement of one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not of a kind the policy selects (or outside its prefix).
    NotSelected,
    /// Selected, but kept, for this reason.
    Keep(&'static str),
    /// A provable leftover, for this reason.
    Remove(&'static str),
}

/// Judges one entry under `policy`.
pub fn judge(info: &ObjectInfo, policy: &GcPolicy) -> Verdict {
    if policy
        .prefix
        .as_ref()
        .is_some_and(|p| !info.name.starts_with(p.as_str()))
    {
        return Verdict::NotSelected;
    }
    // An anonymous name is its creator's to remove, at its exit at the latest: once
    // the creator is provably gone the name is garbage, whoever still maps the object
    // (they keep their mappings; only opening it by name fails, as after the creator's
    // normal exit).
    let orphan = policy.orphans
        && info.class != Class::TempFile
        && info.file.not_regular.is_none()
        && info.creator.is_some();
    if orphan && info.creator.is_some_and(|c| c.liveness == Liveness::Dead) {
        return Verdict::Remove("anonymous name of a creator that no longer exists");
    }
    let selected = match info.class {
        Class::TempFile => policy.temp_files,
        Class::Block => policy.blocks,
        Class::Object => policy.objects,
        Class::Foreign => false,
    };
    if !selected {
        return if orphan {
            Verdict::Keep("anonymous name whose creator is alive, or not provably dead")
        } else {
            Verdict::NotSelected
        };
    }
    if !info.mappers.pids.is_empty() {
        return Verdict::Keep("mapped by a live process");
    }
    if in_use(info, policy.ignore_unreadable) {
        return Verdict::Keep(
            "processes whose mappings are unreadable might map it (see --ignore-unreadable)",
        );
    }
    match info.class {
        Class::TempFile => match info.creator.map(|t| t.liveness) {
            Some(Liveness::Dead) => Verdict::Remove("temporary file of a dead creator"),
            _ => Verdict::Keep("creator alive, or not provably dead"),
        },
        Class::Block => Verdict::Remove("block mapped by no process"),
        Class::Foreign => Verdict::NotSelected,
        Class::Object => {
            if !matches!(info.health, Health::Ok | Health::OwnerDead) {
                return Verdict::Keep("not a valid object of this layout version");
            }
            if let Some(State::SemUndo(u)) = &info.state {
                if let Some(why) = undo_keep_reason(u) {
                    return Verdict::Keep(why);
                }
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
                return Verdict::Keep("held (a Lock or Semaphore unit has no owner to prove dead)");
            }
            Verdict::Remove(if info.health == Health::OwnerDead {
                "object mapped by no process, owner dead"
            } else {
                "object mapped by no process, not held"
            })
        }
    }
}

/// Why `gc` keeps an undo semaphore that no process maps, if it does. Its holders are
/// recorded, so "held" is judged per holder: units of a live (or unprovable) holder
/// keep it, as an RLock owner does. Units of a dead holder keep it too: they are not
/// lost but waiting to be reclaimed, and the acquirer that reclaims them is told of the
/// death (`MP_OWNER_DEAD`), which removing the name would silently drop. Slots that are
/// no state of the table (a scribbled object) keep it: nothing is proven. Units cached
/// in idle slots, and a death report whose units are already back, keep nothing.
fn undo_keep_reason(u: &SemUndoState) -> Option<&'static str> {
    if u.live_units() > 0 {
        Some("units held by a live (or not provably dead) holder")
    } else if u.dead_units() > 0 {
        Some(
            "dead holders' units wait to be reclaimed by an acquirer that needs them, which \
             is told MP_OWNER_DEAD (`mpsync rm` removes it anyway)",
        )
    } else if u.holders.iter().any(|h| h.state == HolderState::Unknown) {
        Some("holder slots that are no state of the table (damaged): nothing is proven")
    } else {
        None
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

/// What `gc` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Entries removed (or, dry, that would be).
    pub collected: Vec<Collected>,
    /// Selected entries kept, and why.
    pub kept: Vec<(ObjectInfo, &'static str)>,
}

/// Finds the leftovers that `policy` allows, and unless `dry_run` removes them. Each
/// is judged twice, on two independent listings, and removed only if both agree and
/// it is still the same file.
pub fn gc(policy: &GcPolicy, dry_run: bool) -> Result<GcReport, InspectError> {
    let mut report = GcReport::default();
    let mut first = Vec::new();
    for info in list()? {
        match judge(&info, policy) {
            Verdict::Remove(reason) => first.push((info, reason)),
            Verdict::Keep(why) => report.kept.push((info, why)),
            Verdict::NotSelected => {}
        }
    }
    if dry_run || first.is_empty() {
        report.collected = first
            .into_iter()
            .map(|(info, reason)| Collected {
                info,
                reason,
                result: Ok(()),
            })
            .collect();
        return Ok(report);
    }
    let second = list()?;
    for (info, reason) in first {
        let again = second.iter().find(|i| {
            i.name == info.name && i.file.dev == info.file.dev && i.file.ino == info.file.ino
        });
        match again.map(|a| (a, judge(a, policy))) {
            Some((again, Verdict::Remove(_))) => {
                let result = unlink(&info.name);
                report.collected.push(Collected {
                    info: again.clone(),
                    reason,
                    result,
                });
            }
            Some((again, Verdict::Keep(why))) => report.kept.push((again.clone(), why)),
            _ => {}
        }
    }
    Ok(report)
}

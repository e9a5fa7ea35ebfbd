//! What `gc` removes: the library's rules (`cleanup::judge`), with two additions the
//! library's own `cleanup::gc` does not have, so the sweep is done here:
//!
//! * **Owner-dead objects are kept** unless `--owner-dead`. An object whose owner died
//!   (an RLock whose owner died holding it, an undo semaphore whose death report
//!   waits) carries a report that its next acquirer gets as `MP_OWNER_DEAD`, and acts
//!   on by repairing what the object protects. Removing the name drops that report: an
//!   application that opens the name again creates a fresh object and never repairs.
//!   The library removes such an object once nobody maps it; mpsync keeps it unless
//!   asked. (An anonymous name whose creator provably died is still removed by
//!   `--orphans`, as its creator's exit would have: that rule is about the name.)
//! * **Names are selected by their exact bytes** (`--prefix`, `--glob`, as for `ls`),
//!   not by the library's `prefix`, which compares the name made UTF-8.
//!
//! As in the library: each candidate is judged on two independent listings, and
//! removed only if both agree and the name still refers to the same file.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use mpsync::inspect::cleanup::{self, GcPolicy, Verdict};
use mpsync::inspect::{self, Health, InspectError, ObjectInfo, SHM_DIR};

use crate::exact_names::ExactNames;
use crate::name_filter::NameFilter;

/// Why an owner-dead object is kept without `--owner-dead`.
pub const OWNER_DEAD_KEPT: &str = "owner died: its death report waits for the next \
acquirer, which gets MP_OWNER_DEAD and repairs; removing the name would drop it \
(--owner-dead removes it anyway)";

/// What `gc` may remove.
pub struct Rules {
    /// The library's policy; its `prefix` is not used (see `filter`).
    pub policy: GcPolicy,
    /// Remove owner-dead objects too.
    pub owner_dead: bool,
    /// Which names are looked at.
    pub filter: NameFilter,
}

/// One entry removed (or, dry, that would be).
pub struct Collected {
    pub info: ObjectInfo,
    /// Its exact name.
    pub name: Vec<u8>,
    pub reason: &'static str,
    /// Why the removal failed.
    pub error: Option<String>,
}

/// One selected entry kept.
pub struct Kept {
    pub info: ObjectInfo,
    /// Its exact name.
    pub name: Vec<u8>,
    pub reason: &'static str,
}

/// What the sweep did.
#[derive(Default)]
pub struct Report {
    pub collected: Vec<Collected>,
    pub kept: Vec<Kept>,
}

impl Rules {
    /// The verdict on one entry (already selected by name).
    pub fn judge(&self, info: &ObjectInfo) -> Verdict {
        let policy = GcPolicy {
            prefix: None,
            ..self.policy.clone()
        };
        match cleanup::judge(info, &policy) {
            Verdict::Remove(_)
                if !self.owner_dead
                    && info.health == Health::OwnerDead
                    && !self.orphan_rule_removes(info, &policy) =>
            {
                Verdict::Keep(OWNER_DEAD_KEPT)
            }
            v => v,
        }
    }

    /// True if `--orphans` alone would remove `info` (its creator provably died).
    fn orphan_rule_removes(&self, info: &ObjectInfo, policy: &GcPolicy) -> bool {
        let orphans_only = GcPolicy {
            orphans: policy.orphans,
            temp_files: false,
            objects: false,
            blocks: false,
            ..policy.clone()
        };
        matches!(cleanup::judge(info, &orphans_only), Verdict::Remove(_))
    }
}

/// The entries of a listing that `filter` keeps, each with its exact name (an entry
/// that appeared after the directory scan is named by its `name`: exact, since only a
/// name that is not UTF-8 can differ, and such an entry is foreign, never removed).
fn listing(filter: &NameFilter) -> Result<Vec<(ObjectInfo, Vec<u8>)>, InspectError> {
    let mut exact = ExactNames::scan();
    Ok(inspect::list()?
        .into_iter()
        .map(|info| {
            let name = exact
                .of(&info)
                .unwrap_or_else(|| info.name.clone().into_bytes());
            (info, name)
        })
        .filter(|(_, name)| filter.keeps(name))
        .collect())
}

/// Judges every entry that `rules` select and, unless `dry_run`, removes those that two
/// listings agree on.
pub fn sweep(rules: &Rules, dry_run: bool) -> Result<Report, InspectError> {
    let mut report = Report::default();
    let mut first = Vec::new();
    for (info, name) in listing(&rules.filter)? {
        match rules.judge(&info) {
            Verdict::Remove(reason) => first.push((info, name, reason)),
            Verdict::Keep(reason) => report.kept.push(Kept { info, name, reason }),
            Verdict::NotSelected => {}
        }
    }
    if dry_run || first.is_empty() {
        report.collected = first
            .into_iter()
            .map(|(info, name, reason)| Collected {
                info,
                name,
                reason,
                error: None,
            })
            .collect();
        return Ok(report);
    }
    let second = listing(&rules.filter)?;
    for (info, name, reason) in first {
        let again = second.iter().find(|(i, n)| {
            *n == name && (i.file.dev, i.file.ino) == (info.file.dev, info.file.ino)
        });
        let Some((again, _)) = again else {
            continue; // Gone, or another file under the name now: not ours to judge.
        };
        match rules.judge(again) {
            Verdict::Remove(_) => report.collected.push(Collected {
                info: again.clone(),
                error: unlink(&name).err(),
                name,
                reason,
            }),
            Verdict::Keep(why) => report.kept.push(Kept {
                info: again.clone(),
                name,
                reason: why,
            }),
            Verdict::NotSelected => {}
        }
    }
    Ok(report)
}

fn unlink(name: &[u8]) -> Result<(), String> {
    let path = [SHM_DIR.as_bytes(), name].concat();
    std::fs::remove_file(OsStr::from_bytes(&path)).map_err(|e| e.to_string())
}

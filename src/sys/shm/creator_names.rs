//! Names that record the process that made them, so that a later process can prove
//! the maker gone and remove what it left behind:
//!
//! * temporary creation files of the fallback path (`create.rs`):
//!   `.mpsync-tmp-<pid>-<start>-<pidns>-<n>`;
//! * process-owned anonymous names (the Python package's objects made without a name):
//!   `mpsync-anon-<pid>-<start>-<pidns>-<n>-<rand>`.
//!
//! `<pid>` is the creator's process id in its PID namespace, `<start>` its start time
//! (clock ticks since boot, field 22 of `/proc/<pid>/stat`), `<pidns>` the inode of its
//! `/proc/self/ns/pid`, all decimal without leading zeros; `<n>` a per-process counter
//! (decimal) and `<rand>` 8 random lowercase hex digits. A start time or namespace of
//! 0 means "unknown" (no `/proc` at creation): such a name is never proven orphaned.
//!
//! A name is removed only when [`Vantage::process`] proves its creator gone: same PID
//! namespace as ours, a `/proc` that provably shows that namespace, and no running
//! process with that pid and start time. Names of creators in other namespaces, or seen
//! through a `/proc` that is not ours, are never touched.

use core::sync::atomic::{AtomicU64, Ordering};

use super::names::SHM_DIR_C;
use crate::fallible::StackStr;
use crate::sys::fs::{Dir, EntryType, is_regular_file_at};
use crate::sys::liveness::{self, Liveness, Vantage};
use crate::sys::random::random_u32;

/// Prefix of temporary creation files (fallback path only).
pub(crate) const TEMP_PREFIX: &str = ".mpsync-tmp-";
/// Prefix of process-owned anonymous names (reserved: never name your own objects so).
pub(crate) const ANON_PREFIX: &str = "mpsync-anon-";

/// A process's identity as a name records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Creator {
    pub(crate) pid: u32,
    /// Clock ticks since boot; 0 if unknown.
    pub(crate) start: u64,
    /// PID-namespace inode; 0 if unknown.
    pub(crate) pidns: u64,
}

impl Creator {
    /// The calling process. Computed once per process (a `fork()` child, whose pid
    /// differs, computes its own). Lock-free, so that a child forked while another
    /// thread was filling the cache cannot deadlock here: every thread of a process
    /// writes the same values, the start time before the word that names the pid.
    pub(crate) fn current() -> Creator {
        // SAFETY: getpid cannot fail.
        Creator::current_with_pid(unsafe { libc::getpid() } as u32)
    }

    /// [`Creator::current`] for a caller that already knows its own pid (a fast path
    /// holding `thread::current()`), sparing the `getpid` system call.
    pub(crate) fn current_with_pid(pid: u32) -> Creator {
        /// `pid << 32 | pidns` of the process whose start time `START` holds.
        static ID: AtomicU64 = AtomicU64::new(0);
        static START: AtomicU64 = AtomicU64::new(0);
        let id = ID.load(Ordering::Acquire);
        if (id >> 32) as u32 == pid {
            return Creator {
                pid,
                start: START.load(Ordering::Relaxed),
                pidns: id & 0xffff_ffff,
            };
        }
        let c = Creator {
            pid,
            start: liveness::own_process_start_time().unwrap_or(0),
            pidns: u64::from(liveness::own_pidns()),
        };
        START.store(c.start, Ordering::Relaxed);
        ID.store(u64::from(pid) << 32 | c.pidns, Ordering::Release);
        c
    }

    /// What can be proven about this creator from `v`.
    pub(crate) fn liveness(self, v: Vantage) -> Liveness {
        v.process(self.pid, self.start, self.pidns)
    }
}

/// Parses the canonical decimal form only: digits, no sign, no leading zero.
fn decimal<T: core::str::FromStr>(s: &str) -> Option<T> {
    let canonical = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s.len() == 1 || !s.starts_with('0'));
    if !canonical {
        return None;
    }
    // Digits only: `parse` fails only on overflow.
    s.parse().ok()
}

/// Splits `<pid>-<start>-<pidns>-<rest...>` after `prefix` (exactly `TAIL` more
/// fields), returning the creator and the remaining fields.
fn parse_fields<'a, const TAIL: usize>(
    name: &'a str,
    prefix: &str,
) -> Option<(Creator, [&'a str; TAIL])> {
    let mut fields = name.strip_prefix(prefix)?.split('-');
    let creator = Creator {
        pid: decimal(fields.next()?)?,
        start: decimal(fields.next()?)?,
        pidns: decimal(fields.next()?)?,
    };
    let mut rest = [""; TAIL];
    for r in &mut rest {
        *r = fields.next()?;
    }
    if fields.next().is_some() || creator.pid == 0 {
        return None;
    }
    Some((creator, rest))
}

/// The creator recorded in a temporary file name, if it is one.
pub(crate) fn parse_temp_name(name: &str) -> Option<Creator> {
    let (creator, [n]) = parse_fields::<1>(name, TEMP_PREFIX)?;
    decimal::<u64>(n)?;
    Some(creator)
}

/// The creator recorded in a process-owned anonymous name, if it is one.
pub(crate) fn parse_anonymous_name(name: &str) -> Option<Creator> {
    let (creator, [n, rand]) = parse_fields::<2>(name, ANON_PREFIX)?;
    decimal::<u64>(n)?;
    let hex = rand
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (rand.len() == 8 && hex).then_some(creator)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);
static ANON_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name that records its creator, built on the stack: the longest (an anonymous
/// name, five decimal numbers of at most 20 digits and 8 hex digits) fits.
pub(crate) type CreatorName = StackStr<128>;

/// A fresh temporary file name (bare) for the calling process.
pub(crate) fn temp_name() -> CreatorName {
    let c = Creator::current();
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    // Fits (see `CreatorName`); the fallback is unreachable.
    CreatorName::format(format_args!(
        "{TEMP_PREFIX}{}-{}-{}-{n}",
        c.pid, c.start, c.pidns
    ))
    .unwrap_or_else(CreatorName::new)
}

/// A fresh process-owned anonymous name (bare) for the calling process. The random
/// part keeps names unpredictable to other users and distinct where the creator's
/// identity is unknown (start time or namespace 0).
pub(crate) fn anonymous_name() -> CreatorName {
    let c = Creator::current();
    let n = ANON_COUNTER.fetch_add(1, Ordering::Relaxed);
    let rand = random_u32();
    // Fits (see `CreatorName`); the fallback is unreachable.
    CreatorName::format(format_args!(
        "{ANON_PREFIX}{}-{}-{}-{n}-{rand:08x}",
        c.pid, c.start, c.pidns
    ))
    .unwrap_or_else(CreatorName::new)
}

/// Removes every regular file of `/dev/shm` whose name `parse` accepts and whose
/// creator is provably gone; returns how many this call removed. Cheap when nothing
/// matches: one directory listing, and `/proc` is read only for candidates. Entries
/// that cannot be removed (another user's, under the sticky `/dev/shm`) or that
/// vanish meanwhile (a concurrent sweep) are skipped. Allocates nothing itself (it
/// runs inside the creation of a named object): the listing is read with `readdir`,
/// and the judged creators are kept in a small fixed table.
pub(crate) fn sweep(prefix: &str, parse: fn(&str) -> Option<Creator>) -> std::io::Result<usize> {
    let mut dir = Dir::open(SHM_DIR_C)?;
    let dirfd = dir.fd();
    let mut vantage = None;
    // One creator usually left several names: judge each creator once (the most recent
    // ones, if there are many).
    let mut judged: [Option<(Creator, Liveness)>; 16] = [None; 16];
    let mut next_judged = 0;
    let mut removed = 0;
    while let Some((file, ty)) = dir.next_entry() {
        let Ok(name) = file.to_str() else {
            continue;
        };
        if !name.starts_with(prefix) {
            continue;
        }
        let Some(creator) = parse(name) else {
            continue;
        };
        // Only regular files: a directory or FIFO under such a name is not ours.
        let regular = match ty {
            EntryType::File => true,
            EntryType::Other => false,
            EntryType::Unknown => is_regular_file_at(dirfd, file),
        };
        if !regular {
            continue;
        }
        let v = *vantage.get_or_insert_with(Vantage::here);
        let known = judged.iter().flatten().find(|(c, _)| *c == creator);
        let liveness = match known {
            Some(&(_, l)) => l,
            None => {
                let l = creator.liveness(v);
                judged[next_judged % judged.len()] = Some((creator, l));
                next_judged += 1;
                l
            }
        };
        if liveness != Liveness::Dead {
            continue;
        }
        // The name records a creator that no longer exists: nobody can make a new
        // file under it, so removing by name cannot hit a newer object.
        // SAFETY: an open directory descriptor and a NUL-terminated entry name.
        if unsafe { libc::unlinkat(dirfd, file.as_ptr(), 0) } == 0 {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes the temporary files whose creator provably no longer exists.
pub(crate) fn sweep_stale_temps() {
    let _ = sweep(TEMP_PREFIX, parse_temp_name);
}

/// Removes the process-owned anonymous names whose creator provably no longer exists.
pub(crate) fn sweep_orphans() -> std::io::Result<usize> {
    sweep(ANON_PREFIX, parse_anonymous_name)
}

#[cfg(test)]
mod tests {
    use super::super::names::SHM_DIR;
    use super::*;
    use crate::sys::test_util::{in_child, reaped_child};

    fn random_hex() -> String {
        format!("{:08x}", random_u32())
    }

    #[test]
    fn temp_names_parse_strictly() {
        let c = Creator {
            pid: 12,
            start: 345,
            pidns: 4026531836,
        };
        assert_eq!(parse_temp_name(".mpsync-tmp-12-345-4026531836-0"), Some(c));
        for bad in [
            ".mpsync-tmp-12-345-4026531836",
            ".mpsync-tmp-12-345-4026531836-0-1",
            "mpsync-tmp-1-2-3-4",
            ".mpsync-tmp-0-345-4026531836-0",
            ".mpsync-tmp-+12-345-4026531836-0",
            ".mpsync-tmp-012-345-4026531836-0",
            ".mpsync-tmp-12-345-4026531836-x",
            ".mpsync-tmp-99999999999-345-1-0",
        ] {
            assert_eq!(parse_temp_name(bad), None, "{bad}");
        }
        let made = temp_name();
        assert_eq!(
            parse_temp_name(made.as_str()),
            Some(Creator::current()),
            "{made:?}"
        );
    }

    #[test]
    fn anonymous_names_round_trip_and_garbage_is_ignored() {
        let me = Creator::current();
        assert_eq!(me.pid, std::process::id());
        let a = anonymous_name().as_str().to_string();
        let b = anonymous_name().as_str().to_string();
        assert_ne!(a, b);
        for n in [&a, &b] {
            assert_eq!(parse_anonymous_name(n), Some(me), "{n}");
            assert!(n.len() <= super::super::names::NAME_MAX_LEN, "{n}");
            let c = std::ffi::CString::new(n.as_str()).unwrap();
            assert!(super::super::names::validate_name(&c).is_ok(), "{n}");
        }
        let good = "mpsync-anon-12-345-4026531836-7-0a1b2c3d";
        assert_eq!(
            parse_anonymous_name(good),
            Some(Creator {
                pid: 12,
                start: 345,
                pidns: 4026531836
            })
        );
        for bad in [
            "",
            "mpsync-anon-",
            "mpsync-anon-12-345-4026531836-7",
            "mpsync-anon-12-345-4026531836-7-0a1b2c3d-9",
            "mpsync-anon-12-345-4026531836-7-0A1B2C3D",
            "mpsync-anon-12-345-4026531836-7-0a1b2c3",
            "mpsync-anon-12-345-4026531836-7-0a1b2c3g",
            "mpsync-anon-12-345--7-0a1b2c3d",
            "mpsync-anon-0-345-4026531836-7-0a1b2c3d",
            "mpsync-anon-12-0345-4026531836-7-0a1b2c3d",
            "mpsync-anon-12-+345-4026531836-7-0a1b2c3d",
            "mpsync-anon-x-345-4026531836-7-0a1b2c3d",
            "mpsync-anon-12-345-99999999999999999999999-7-0a1b2c3d",
            "mpsync-12-0-abcdef01",
            "Mpsync-anon-12-345-4026531836-7-0a1b2c3d",
            "psm_0a1b2c3d",
        ] {
            assert_eq!(parse_anonymous_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_fork_child_records_itself() {
        let parent = Creator::current();
        let code = in_child(|| {
            // SAFETY: getpid cannot fail.
            let me = unsafe { libc::getpid() } as u32;
            let c = parse_anonymous_name(anonymous_name().as_str());
            let fresh = liveness::own_process_start_time().unwrap_or(0);
            i32::from(c.map(|c| (c.pid, c.start)) != Some((me, fresh)))
        });
        assert_eq!(code, 0, "the child's name did not record the child");
        assert_eq!(Creator::current(), parent);
    }

    #[test]
    fn sweep_removes_exactly_the_names_of_provably_gone_creators() {
        let v = Vantage::here();
        let me = Creator::current();
        if me.start == 0 || me.pidns == 0 || !v.proc_is_ours {
            eprintln!("skipped: /proc cannot prove anything here");
            return;
        }
        // A creator that no longer exists: a reaped child.
        let dead = reaped_child();
        let (start, ns, r) = (me.start, me.pidns, random_hex());
        let name = |pid: u32, start: u64, ns: u64| format!("{ANON_PREFIX}{pid}-{start}-{ns}-0-{r}");
        let orphan = name(dead, start, ns);
        let kept = [
            name(me.pid, start, ns),                             // alive
            name(me.pid, start + 1, ns), // our pid, another start: reused pid, dead
            name(dead, start, ns + 1),   // another namespace: unknown
            name(dead, 0, ns),           // unknown start time
            format!("{ANON_PREFIX}{dead}-{start}-{ns}-0-{r}-x"), // not the form
            format!("mpsync-{dead}-0-{r}"), // the old form: records no start time
        ];
        let reused = &kept[1];
        let dir = format!("{ANON_PREFIX}{dead}-{start}-{ns}-1-{r}");
        for f in core::iter::once(&orphan).chain(&kept) {
            std::fs::write(format!("{SHM_DIR}{f}"), b"x").unwrap();
        }
        std::fs::create_dir(format!("{SHM_DIR}{dir}")).unwrap();
        let removed = sweep_orphans().unwrap();
        let exists = |f: &str| std::fs::symlink_metadata(format!("{SHM_DIR}{f}")).is_ok();
        let left: Vec<bool> = kept.iter().map(|f| exists(f)).collect();
        let (orphan_left, reused_left, dir_left) = (exists(&orphan), exists(reused), exists(&dir));
        for f in core::iter::once(&orphan).chain(&kept) {
            let _ = std::fs::remove_file(format!("{SHM_DIR}{f}"));
        }
        let _ = std::fs::remove_dir(format!("{SHM_DIR}{dir}"));
        assert!(!orphan_left, "a dead creator's name was kept");
        assert!(!reused_left, "a name of a reused pid was kept");
        assert_eq!(&left[..1], &[true], "a live creator's name was removed");
        assert_eq!(
            &left[2..],
            &[true; 4],
            "an unprovable or foreign name was removed"
        );
        assert!(dir_left, "a directory was removed");
        // Other processes' sweeps (parallel tests) may take some: at most ours + others.
        assert!(removed >= 1 || !orphan_left);
    }
}

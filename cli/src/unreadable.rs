//! The processes whose mappings mpsync cannot read, named, for the refusals of `rm` and
//! `gc`. The library counts them (`Mappers::unknown`: processes whose
//! `/proc/<pid>/maps` could not be read and that could have opened the file) but does
//! not say which they are; a user told only "1 process whose mappings are unreadable"
//! cannot judge whether it matters. This pass over `/proc` finds them again by the
//! library's rule, and says who they are (pid, uid, command line).
//!
//! It is a second look, a moment after the library's: a process may have come or gone
//! in between, so the list is what it is now, and may differ from the count. It only
//! explains a refusal: nothing is decided from it.

use std::fmt::Write;

use crate::cmdline;
use crate::escape;

/// A process whose mappings cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    /// Its effective uid; `None` if its status could not be read either (the library
    /// then assumes root, which may open anything).
    pub euid: Option<u32>,
    /// Its arguments; `None` if unknown.
    pub args: Option<Vec<Vec<u8>>>,
    /// Its command name (`/proc/<pid>/comm`), for one whose arguments are unknown.
    pub comm: Option<Vec<u8>>,
}

impl Process {
    /// True if this process could have opened a file owned by `uid` with permission
    /// bits `mode` (the library's rule: root, the owner, or a mode that lets others in).
    pub fn could_open(&self, uid: u32, mode: u32) -> bool {
        let euid = self.euid.unwrap_or(0);
        euid == 0 || euid == uid || mode & 0o066 != 0
    }

    /// `pid 1 (/sbin/init splash), uid 0`, escaped, the command cut at `max` characters.
    pub fn describe(&self, max: usize) -> String {
        let command = match (&self.args, &self.comm) {
            (Some(args), _) => args.iter().map(escape::text).collect::<Vec<_>>().join(" "),
            (None, Some(comm)) => format!("[{}]", escape::text(comm)),
            (None, None) => "command unknown".into(),
        };
        let command = if command.chars().count() > max {
            let cut: String = command.chars().take(max).collect();
            format!("{cut}...")
        } else {
            command
        };
        let mut s = format!("pid {} ({command})", self.pid);
        match self.euid {
            Some(u) => {
                let _ = write!(s, ", uid {u}");
            }
            None => s.push_str(", uid unknown"),
        }
        s
    }
}

/// At most this many processes are named in one message.
const NAMED_AT_MOST: usize = 5;

/// "pid 1 (init), uid 0; pid 7 ([kthreadd]), uid 0 and 3 more".
pub fn name_all(procs: &[&Process]) -> String {
    let mut s = procs
        .iter()
        .take(NAMED_AT_MOST)
        .map(|p| p.describe(100))
        .collect::<Vec<_>>()
        .join("; ");
    if procs.len() > NAMED_AT_MOST {
        s.push_str(&format!(" and {} more", procs.len() - NAMED_AT_MOST));
    }
    s
}

/// Every process but this one whose `/proc/<pid>/maps` cannot be read, as the library
/// judges it: the file cannot be opened (for another reason than the process being
/// gone) or read.
pub fn processes() -> Vec<Process> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut found: Vec<Process> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && !maps_readable(pid))
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status"));
            let euid = status.as_deref().ok().and_then(effective_uid);
            // Gone meanwhile: not a process that could map anything.
            if euid.is_none() && std::fs::metadata(format!("/proc/{pid}")).is_err() {
                return None;
            }
            Some(Process {
                pid,
                euid,
                args: cmdline::of_process(pid),
                comm: std::fs::read(format!("/proc/{pid}/comm"))
                    .ok()
                    .map(|c| c.strip_suffix(b"\n").unwrap_or(&c).to_vec()),
            })
        })
        .collect();
    found.sort_by_key(|p| p.pid);
    found
}

/// False if `/proc/<pid>/maps` exists but cannot be opened or read.
fn maps_readable(pid: u32) -> bool {
    use std::io::Read;
    let mut buf = [0u8; 256];
    match std::fs::File::open(format!("/proc/{pid}/maps")) {
        Ok(mut f) => match f.read(&mut buf) {
            Ok(_) => true,
            // Exited while we read: it maps nothing any more.
            Err(e) => e.raw_os_error() == Some(libc::ESRCH),
        },
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// The effective uid (the second number of the `Uid:` line) of a status file.
fn effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_ascii_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Why such a process stops `rm` and `gc`, and what to do about it (for stderr).
pub const WHY: &str = "mpsync cannot read these processes' /proc/PID/maps (as root: \
processes more privileged than mpsync, e.g. a container's init when root lacks \
CAP_SYS_PTRACE over it; as another user: processes of other users), so it cannot tell \
whether they map it. Removing a name that a process still uses breaks rendezvous: \
whoever opens the name afterwards gets a new object, not the one that process has. If \
you know they do not use it, --ignore-unreadable counts them as mapping nothing.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_and_description() {
        assert_eq!(
            effective_uid("Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t0\n"),
            Some(0)
        );
        assert_eq!(effective_uid("Uid:\t1000\n"), None);
        let p = Process {
            pid: 1,
            euid: Some(0),
            args: Some(vec![b"/sbin/init".to_vec(), b"a\x1bb".to_vec()]),
            comm: None,
        };
        assert_eq!(p.describe(100), r"pid 1 (/sbin/init a\033b), uid 0");
        assert_eq!(p.describe(4), "pid 1 (/sbi...), uid 0");
        let p = Process {
            pid: 7,
            euid: None,
            args: None,
            comm: Some(b"kworker".to_vec()),
        };
        assert_eq!(p.describe(100), "pid 7 ([kworker]), uid unknown");
        assert!(p.could_open(1000, 0o600), "unknown uid: as root");
        let user = Process {
            euid: Some(1000),
            ..p
        };
        assert!(user.could_open(1000, 0o600));
        assert!(!user.could_open(0, 0o600));
        assert!(user.could_open(0, 0o604));
    }
}

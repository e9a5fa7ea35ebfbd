//! The command lines of an entry's owners (an RLock's owner, an array lock's owner, an
//! undo semaphore's holders), from `/proc/<pid>/cmdline`, for `show` and JSON output.
//!
//! Read only for an owner that the inspector judged `alive`: that verdict needs the
//! owner's PID namespace to be ours and `/proc` to be provably that namespace's, and
//! the recorded thread to exist with its recorded start time, so `/proc/<pid>` is the
//! owner's process. A `dead` owner's pid may name another process by now, and an
//! `unknown` one's may mean nothing here: for them, and whenever a read fails, the
//! command line is unknown. A failed read proves nothing about the owner.
//!
//! The thread's start time is read before and after the command line, and must not
//! change (nor differ from the start time the record holds, when it holds one): then
//! the thread, and so its process, lived throughout, and the command line is that
//! process's, not a successor's under a reused pid.
//!
//! What a process's `cmdline` says is what the process made of its arguments: it may
//! have rewritten them (e.g. `setproctitle`). It names the process; it proves nothing.

use mpsync::inspect::{Liveness, ObjectInfo, Owner, State};

/// The command lines read for the live owners of one entry.
#[derive(Debug, Default)]
pub struct Commands {
    /// (pid, tid) of an owner, and its arguments.
    known: Vec<(u32, u32, Vec<Vec<u8>>)>,
}

impl Commands {
    /// Reads the command line of every owner of `info` that is alive.
    pub fn read(info: &ObjectInfo) -> Commands {
        let mut owners: Vec<(Owner, Option<u64>)> = Vec::new();
        match &info.state {
            Some(State::SemUndo(u)) => {
                owners.extend(
                    u.holders
                        .iter()
                        .filter_map(|h| Some((h.owner?, Some(h.start)))),
                );
            }
            Some(State::RwLock(r)) => {
                owners.extend(r.writer.iter().map(|&o| (o, None)));
                owners.extend(r.readers.iter().filter_map(|x| Some((x.owner?, None))));
            }
            Some(s) => owners.extend(s.rlock().and_then(|r| r.owner).map(|o| (o, None))),
            None => {}
        }
        let mut known: Vec<(u32, u32, Vec<Vec<u8>>)> = Vec::new();
        for (o, start) in owners {
            let Some(pid) = o.pid.filter(|_| o.liveness == Liveness::Alive) else {
                continue;
            };
            if known.iter().any(|&(p, t, _)| (p, t) == (pid, o.tid)) {
                continue;
            }
            if let Some(args) = read(pid, o.tid, start) {
                known.push((pid, o.tid, args));
            }
        }
        Commands { known }
    }

    /// The arguments of `owner`'s process, if they could be read.
    pub fn of(&self, owner: &Owner) -> Option<&[Vec<u8>]> {
        let pid = owner.pid?;
        self.known
            .iter()
            .find(|&&(p, t, _)| (p, t) == (pid, owner.tid))
            .map(|(_, _, args)| args.as_slice())
    }
}

/// The arguments of the live process `pid` (read while it keeps one start time), if
/// it shows any: to name a process that `/proc` lists now.
pub fn of_process(pid: u32) -> Option<Vec<Vec<u8>>> {
    read(pid, pid, None)
}

/// The arguments of process `pid`, read while its thread `tid` lives on with one start
/// time (`start`, if the record has one; 0 means unrecorded). `None` if anything fails
/// or the process shows no arguments (a process that is exiting, a kernel thread).
fn read(pid: u32, tid: u32, start: Option<u64>) -> Option<Vec<Vec<u8>>> {
    let stat = format!("/proc/{pid}/task/{tid}/stat");
    let before = start_time(&std::fs::read(&stat).ok()?)?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let after = start_time(&std::fs::read(&stat).ok()?)?;
    if before != after || start.is_some_and(|s| s != 0 && s != before) {
        return None;
    }
    split(&cmdline)
}

/// The start time (field 22) of a `stat` line. The command name (field 2) is in
/// parentheses and may itself hold `)` or spaces: the fields are counted from the last
/// `)`.
fn start_time(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// The arguments of a `cmdline` file: NUL-terminated strings. A process that rewrote
/// its arguments may leave no NUL at the end (then the last one ends at the end of the
/// file) or several (empty arguments are kept, the final terminator is not one).
fn split(cmdline: &[u8]) -> Option<Vec<Vec<u8>>> {
    if cmdline.is_empty() {
        return None;
    }
    let body = cmdline.strip_suffix(b"\0").unwrap_or(cmdline);
    Some(body.split(|&b| b == 0).map(<[u8]>::to_vec).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_split_at_nuls() {
        assert_eq!(
            split(b"sh\0-c\0echo a\0"),
            Some(vec![b"sh".to_vec(), b"-c".to_vec(), b"echo a".to_vec()])
        );
        assert_eq!(
            split(b"a\0\0b\0"),
            Some(vec![b"a".to_vec(), b"".to_vec(), b"b".to_vec()])
        );
        assert_eq!(
            split(b"rewritten title"),
            Some(vec![b"rewritten title".to_vec()])
        );
        assert_eq!(split(b""), None);
    }

    #[test]
    fn start_time_counts_fields_after_the_last_parenthesis() {
        let line =
            b"42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 1 \n";
        assert_eq!(start_time(line), Some(98765));
        assert_eq!(start_time(b"42 (x) S 1"), None);
        assert_eq!(start_time(b"garbage"), None);
        let me = std::process::id();
        let own = std::fs::read(format!("/proc/{me}/task/{me}/stat")).unwrap();
        assert!(start_time(&own).is_some());
    }

    #[test]
    fn our_own_command_line_is_read() {
        let me = std::process::id();
        let args = read(me, me, None).expect("our own cmdline");
        let exe = std::env::args_os().next().unwrap();
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(args[0], exe.as_bytes());
        assert_eq!(read(me, me, Some(1)), None, "another start time");
    }
}

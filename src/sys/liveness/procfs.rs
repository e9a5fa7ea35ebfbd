//! Reading small `/proc` files without allocating: paths formatted on the stack
//! ([`StackStr`]), files read with raw `open`/`read` into stack buffers
//! ([`sys::fs`](crate::sys::fs)). Every failure (`ENOENT`, `EACCES`, `EMFILE`,
//! `ENOMEM`, a short or unparsable read) comes out as "unreadable", which the judge
//! (`super`) never takes as evidence of anything.

use core::ffi::CStr;

use crate::fallible::StackStr;
use crate::sys::fs::{Dir, File};

/// A `/proc` path: the longest built here, `/proc/<10 digits>/task/<10 digits>/stat`,
/// is 36 bytes.
pub(super) type ProcPath = StackStr<64>;

/// The whole content of a small file, or `None` if it cannot be opened or read, or does
/// not fit in `buf` (a truncated `stat` line could end inside a number).
pub(super) fn read_whole<'b>(path: &CStr, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let file = File::open(path, 0).ok()?;
    let mut len = 0;
    loop {
        let n = file.read(buf.get_mut(len..)?).ok()?;
        if n == 0 {
            return Some(&buf[..len]);
        }
        len += n;
        if len == buf.len() {
            // Full: only an immediate end of file proves we have it all.
            let mut probe = [0u8; 1];
            return (file.read(&mut probe).ok()? == 0).then_some(&buf[..len]);
        }
    }
}

/// What a `stat` file (`/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat`) shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stat {
    /// Read completely: the task has not exited; its start time (field 22).
    Running(u64),
    /// Read completely: the task has exited (`Z` or `X`) and awaits its reaping.
    Exited(u64),
    /// Not evidence of anything: it could not be opened or read, or did not parse.
    Unreadable,
}

/// Parses a `stat` line: the state (field 3) and the start time (field 22). The
/// command name (field 2) may contain spaces and ')': fields resume after the last ')'.
fn parse_stat(stat: &[u8]) -> Stat {
    let parsed = (|| {
        let close = stat.iter().rposition(|&b| b == b')')?;
        let rest = core::str::from_utf8(stat.get(close + 1..)?).ok()?;
        let mut fields = rest.split_ascii_whitespace();
        let exited = matches!(fields.next()?, "Z" | "X" | "x");
        let start: u64 = fields.nth(18)?.parse().ok()?;
        Some(if exited {
            Stat::Exited(start)
        } else {
            Stat::Running(start)
        })
    })();
    parsed.unwrap_or(Stat::Unreadable)
}

/// The `stat` file at `path`.
pub(super) fn read_stat(path: &CStr) -> Stat {
    // A stat line is about 300 bytes; a command name is at most 64.
    let mut buf = [0u8; 1024];
    match read_whole(path, &mut buf) {
        Some(text) => parse_stat(text),
        None => Stat::Unreadable,
    }
}

/// `/proc/<pid>/task/<tid>/stat`.
pub(super) fn thread_stat(pid: u32, tid: u32) -> Stat {
    match ProcPath::format(format_args!("/proc/{pid}/task/{tid}/stat")) {
        Some(path) => read_stat(path.as_cstr()),
        None => Stat::Unreadable,
    }
}

/// `/proc/<pid>/stat`.
pub(super) fn process_stat(pid: u32) -> Stat {
    match ProcPath::format(format_args!("/proc/{pid}/stat")) {
        Some(path) => read_stat(path.as_cstr()),
        None => Stat::Unreadable,
    }
}

/// Calls `visit` with the id of every task listed in `/proc/<pid>/task` until it returns
/// `Some`. `Err(())` if the listing could not be read to its end; `Ok(None)` if every
/// entry was visited.
pub(super) fn each_task<T>(
    pid: u32,
    mut visit: impl FnMut(u32) -> Option<T>,
) -> Result<Option<T>, ()> {
    let path = ProcPath::format(format_args!("/proc/{pid}/task")).ok_or(())?;
    let mut dir = Dir::open(path.as_cstr()).map_err(|_| ())?;
    while let Some((name, _)) = dir.next_entry() {
        if let Some(tid) = name.to_str().ok().and_then(|s| s.parse().ok())
            && let Some(found) = visit(tid)
        {
            return Ok(Some(found));
        }
    }
    if dir.read_to_the_end() {
        Ok(None)
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_only_when_whole() {
        let line = b"42 (a) b) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 0 0\n";
        assert_eq!(parse_stat(line), Stat::Running(777));
        let zombie = b"42 (x) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 778 0\n";
        assert_eq!(parse_stat(zombie), Stat::Exited(778));
        // Short reads, garbage: never evidence.
        assert_eq!(parse_stat(&line[..30]), Stat::Unreadable);
        assert_eq!(parse_stat(b""), Stat::Unreadable);
        assert_eq!(parse_stat(b"42 (x) R 1 2 x"), Stat::Unreadable);
        assert_eq!(parse_stat(&[0xff; 40]), Stat::Unreadable);
    }

    /// The rule itself: every way a read can fail, with every probe answer.

    #[test]
    fn our_own_task_list_has_this_thread() {
        // SAFETY: gettid cannot fail.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
        let found = each_task(std::process::id(), |t| (t == tid).then_some(t));
        if std::path::Path::new("/proc/self/task").exists() {
            assert_eq!(found, Ok(Some(tid)));
        }
        assert_eq!(each_task(0x3fff_fff0, |_| Some(())), Err(()));
    }
}

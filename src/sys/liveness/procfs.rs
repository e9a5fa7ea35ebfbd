//! Reading small `/proc` files without allocating: paths formatted into a stack
//! buffer, files read with raw `open`/`read` into caller buffers, directories listed
//! with `getdents64`. Every failure (`ENOENT`, `EACCES`, `EMFILE`, `ENOMEM`, a short or
//! unparsable read) comes out as "unreadable", which the judge (`super`) never takes as
//! evidence of anything.

use crate::sys::errno;

/// A NUL-terminated `/proc` path built on the stack.
pub(super) struct ProcPath {
    buf: [u8; 64],
    len: usize,
}

impl ProcPath {
    pub(super) fn new() -> ProcPath {
        ProcPath {
            buf: [0; 64],
            len: 0,
        }
    }

    pub(super) fn text(mut self, s: &str) -> ProcPath {
        for &b in s.as_bytes() {
            self.byte(b);
        }
        self
    }

    pub(super) fn id(mut self, mut n: u32) -> ProcPath {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in &digits[i..] {
            self.byte(d);
        }
        self
    }

    fn byte(&mut self, b: u8) {
        // The longest path built here ("/proc/<10>/task/<10>/stat") is 36 bytes; the
        // last byte always stays NUL.
        if self.len + 1 < self.buf.len() {
            self.buf[self.len] = b;
            self.len += 1;
        }
    }

    pub(super) fn as_ptr(&self) -> *const libc::c_char {
        self.buf.as_ptr().cast()
    }
}

/// An open descriptor, closed on drop.
pub(super) struct Fd(libc::c_int);

impl Fd {
    pub(super) fn open(path: &ProcPath, flags: libc::c_int) -> Option<Fd> {
        // SAFETY: `path` is NUL-terminated (its last byte is never written).
        let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
        (fd >= 0).then_some(Fd(fd))
    }

    /// Reads at most `buf.len()` bytes; `None` on an error other than `EINTR`.
    pub(super) fn read(&self, buf: &mut [u8]) -> Option<usize> {
        loop {
            // SAFETY: `buf` is writable for its length.
            let n = unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Some(n as usize);
            }
            if errno() != libc::EINTR {
                return None;
            }
        }
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(self.0) };
    }
}

/// The whole content of a small `/proc` file, or `None` if it cannot be opened or read,
/// or does not fit in `buf` (a truncated `stat` line could end inside a number).
pub(super) fn read_whole<'b>(path: &ProcPath, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let fd = Fd::open(path, libc::O_RDONLY)?;
    let mut len = 0;
    loop {
        let n = fd.read(buf.get_mut(len..)?)?;
        if n == 0 {
            return Some(&buf[..len]);
        }
        len += n;
        if len == buf.len() {
            // Full: only an immediate end of file proves we have it all.
            let mut probe = [0u8; 1];
            return (fd.read(&mut probe)? == 0).then_some(&buf[..len]);
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

pub(super) fn read_stat(path: &ProcPath) -> Stat {
    // A stat line is about 300 bytes; a command name is at most 64.
    let mut buf = [0u8; 1024];
    match read_whole(path, &mut buf) {
        Some(text) => parse_stat(text),
        None => Stat::Unreadable,
    }
}

pub(super) fn thread_stat(pid: u32, tid: u32) -> Stat {
    read_stat(
        &ProcPath::new()
            .text("/proc/")
            .id(pid)
            .text("/task/")
            .id(tid)
            .text("/stat"),
    )
}

pub(super) fn process_stat(pid: u32) -> Stat {
    read_stat(&ProcPath::new().text("/proc/").id(pid).text("/stat"))
}

/// Splits bytes into lines of up to 256 bytes; longer lines come out empty (they are
/// never the short line wanted).
pub(super) struct LineScanner {
    buf: [u8; 256],
    len: usize,
    overlong: bool,
}

impl LineScanner {
    pub(super) fn new() -> LineScanner {
        LineScanner {
            buf: [0; 256],
            len: 0,
            overlong: false,
        }
    }

    /// Feeds one byte; at a newline, returns the line that ended (without it).
    pub(super) fn feed(&mut self, b: u8) -> Option<&[u8]> {
        if b == b'\n' {
            let len = core::mem::take(&mut self.len);
            let overlong = core::mem::take(&mut self.overlong);
            return Some(if overlong { &[] } else { &self.buf[..len] });
        }
        if self.len < self.buf.len() {
            self.buf[self.len] = b;
            self.len += 1;
        } else {
            self.overlong = true;
        }
        None
    }

    /// The last line if the text did not end with a newline.
    pub(super) fn finish(&mut self) -> Option<&[u8]> {
        (self.len > 0 && !self.overlong).then_some(&self.buf[..self.len])
    }
}

/// Calls `visit` with the id of every task listed in `/proc/<pid>/task` until it returns
/// `Some`. `Err(())` if the listing could not be read to the end; `Ok(None)` if every
/// entry was visited.
pub(super) fn each_task<T>(
    pid: u32,
    mut visit: impl FnMut(u32) -> Option<T>,
) -> Result<Option<T>, ()> {
    let dir = Fd::open(
        &ProcPath::new().text("/proc/").id(pid).text("/task"),
        libc::O_RDONLY | libc::O_DIRECTORY,
    )
    .ok_or(())?;
    // `linux_dirent64` records: u64 ino, i64 off, u16 reclen, u8 type, name + NUL.
    let mut buf = [0u64; 256];
    loop {
        // SAFETY: a writable buffer of the given size in bytes, 8-byte aligned.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                dir.0,
                buf.as_mut_ptr(),
                core::mem::size_of_val(&buf),
            )
        };
        if n < 0 {
            return Err(());
        }
        if n == 0 {
            return Ok(None);
        }
        // SAFETY: the kernel wrote `n` bytes (at most the buffer's size) into `buf`;
        // viewing u64s as bytes is sound.
        let bytes = unsafe {
            core::slice::from_raw_parts(
                buf.as_ptr().cast::<u8>(),
                (n as usize).min(core::mem::size_of_val(&buf)),
            )
        };
        let mut at = 0;
        while at + 19 <= bytes.len() {
            let reclen = usize::from(u16::from_ne_bytes([bytes[at + 16], bytes[at + 17]]));
            if reclen < 19 || at + reclen > bytes.len() {
                return Err(());
            }
            let name = &bytes[at + 19..at + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            at += reclen;
            // "." and ".." are not ids.
            if let Some(tid) = core::str::from_utf8(name).ok().and_then(|s| s.parse().ok())
                && let Some(found) = visit(tid)
            {
                return Ok(Some(found));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_scanner_drops_overlong_lines_and_keeps_the_last() {
        let mut s = LineScanner::new();
        let mut lines = Vec::new();
        let text: Vec<u8> = [&b"a\n"[..], &[b'x'; 300], b"\nNSpid:\t7\nend"].concat();
        for &b in &text {
            if let Some(l) = s.feed(b) {
                lines.push(l.to_vec());
            }
        }
        assert_eq!(lines, [b"a".to_vec(), Vec::new(), b"NSpid:\t7".to_vec()]);
        assert_eq!(s.finish(), Some(&b"end"[..]));
    }

    #[test]
    fn proc_paths_are_built_on_the_stack() {
        let p = ProcPath::new()
            .text("/proc/")
            .id(u32::MAX)
            .text("/task/")
            .id(0)
            .text("/stat");
        assert_eq!(&p.buf[..p.len], b"/proc/4294967295/task/0/stat");
        assert_eq!(p.buf[p.len], 0);
        // Too long: cut, and still NUL-terminated.
        let long = ProcPath::new().text(&"x".repeat(200));
        assert_eq!(long.len, 63);
        assert_eq!(long.buf[63], 0);
    }

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

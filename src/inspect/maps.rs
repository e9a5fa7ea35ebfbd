//! Which processes map a file: one pass over `/proc/*/maps`.
//!
//! A mapping is matched by device and inode (the `maps` fields), not by path, so a
//! name that was unlinked and re-created is told apart from the old file. Processes
//! whose `maps` cannot be read (another user's, as non-root) are remembered with their
//! effective uid: [`MapsIndex::mappers`] counts them as *possible* mappers of a file
//! only if they could have opened it (root, the file's owner, or a mode that lets
//! others in), so that a cleanup never mistakes "could not look" for "nobody".

use std::collections::HashMap;

use super::error::InspectError;
use crate::fallible::{StackStr, try_push};
use crate::sys::fs::{Dir, File};

/// Who maps what, as far as this `/proc` shows.
#[derive(Debug, Default)]
pub struct MapsIndex {
    /// (major, minor, inode) -> pids that map it (sorted, no duplicates).
    by_file: HashMap<(u32, u32, u64), Vec<u32>>,
    /// Effective uids of processes whose maps were unreadable.
    unreadable_euids: Vec<u32>,
    /// False if `/proc` could not be listed at all.
    proc_listed: bool,
}

/// The processes that map one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mappers {
    /// Pids (as this `/proc` numbers them) that map the file.
    pub pids: Vec<u32>,
    /// Processes that could map it but whose mappings could not be read (or every
    /// process, counted as one, if `/proc` could not be listed).
    pub unknown: u32,
}

impl Mappers {
    /// True if some process maps, or might map, the file.
    pub fn maybe_in_use(&self) -> bool {
        !self.pids.is_empty() || self.unknown != 0
    }
}

/// `st_dev` split as the kernel prints it in `maps` (glibc's `major`/`minor`).
fn split_dev(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

/// Parses one `maps` line: `addr perms offset MM:mm inode path`.
fn parse_line(line: &[u8]) -> Option<(u32, u32, u64)> {
    let mut f = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let (_, _, _, dev, ino) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
    let ino: u64 = core::str::from_utf8(ino).ok()?.parse().ok()?;
    if ino == 0 {
        return None;
    }
    let (ma, mi) = core::str::from_utf8(dev).ok()?.split_once(':')?;
    Some((
        u32::from_str_radix(ma, 16).ok()?,
        u32::from_str_radix(mi, 16).ok()?,
        ino,
    ))
}

/// The effective uid (second field) of a `Uid:` line's rest.
fn uid_field(rest: &str) -> Option<u32> {
    rest.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// `/proc/<pid>/<file>`, on the stack.
fn proc_path(pid: u32, file: &str) -> Option<StackStr<64>> {
    StackStr::format(format_args!("/proc/{pid}/{file}"))
}

/// The effective uid of process `pid` from `/proc/<pid>/status`, read line by line.
fn process_euid(pid: u32) -> Option<u32> {
    let f = File::open(proc_path(pid, "status")?.as_cstr(), 0).ok()?;
    let mut euid = None;
    f.for_each_line(|line| match line.strip_prefix(b"Uid:") {
        Some(rest) => {
            euid = core::str::from_utf8(rest).ok().and_then(uid_field);
            false
        }
        None => true,
    })
    .ok()?;
    euid
}

/// What reading one process's `maps` found.
enum MapsRead {
    /// Read to the end (or as far as the visitor wanted).
    Read,
    /// The process exited meanwhile.
    Gone,
    /// The file could not be read (another user's process, as non-root).
    Unreadable,
}

/// Calls `visit` with the (major, minor, inode) of every file mapping of process `pid`
/// until it returns false. Reads the file in pieces: nothing is allocated.
fn read_maps(pid: u32, mut visit: impl FnMut((u32, u32, u64)) -> bool) -> MapsRead {
    let Some(path) = proc_path(pid, "maps") else {
        return MapsRead::Gone;
    };
    let file = match File::open(path.as_cstr(), 0) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return MapsRead::Gone,
        Err(_) => return MapsRead::Unreadable,
    };
    let read = file.for_each_line(|line| match parse_line(line) {
        Some(key) => visit(key),
        None => true,
    });
    match read {
        Ok(()) => MapsRead::Read,
        // A process that exits while we read it: ESRCH.
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => MapsRead::Gone,
        Err(_) => MapsRead::Unreadable,
    }
}

/// The effective uid to assume for a process whose `maps` could not be read: its
/// status's, or root's (the worst) if it still exists but says nothing; `None` if it
/// is gone.
fn unreadable_euid(pid: u32) -> Option<u32> {
    match process_euid(pid) {
        Some(u) => Some(u),
        None => {
            let path = proc_path(pid, "")?;
            // SAFETY: all-zero is a valid `stat` out-buffer.
            let mut st: libc::stat = unsafe { core::mem::zeroed() };
            // SAFETY: a NUL-terminated path and a valid buffer.
            (unsafe { libc::stat(path.as_cstr().as_ptr(), &mut st) } == 0).then_some(0)
        }
    }
}

/// Calls `f` with the pid of every process that `/proc` lists, except the calling
/// one (inspection never maps, so it never maps the file either). `Err` if `/proc`
/// cannot be listed.
fn for_each_other_process(
    mut f: impl FnMut(u32) -> Result<(), InspectError>,
) -> Result<(), InspectError> {
    let mut dir = match Dir::open(c"/proc") {
        Ok(d) => d,
        Err(e) => return Err(InspectError::Io(e.raw_os_error().unwrap_or(0))),
    };
    let me = std::process::id();
    while let Some((name, _)) = dir.next_entry() {
        let Some(pid) = name.to_str().ok().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid != me {
            f(pid)?;
        }
    }
    Ok(())
}

/// True if a process with effective uid `euid` could have opened a file owned by
/// `uid` with permission bits `mode`.
fn could_open(euid: u32, uid: u32, mode: u32) -> bool {
    euid == 0 || euid == uid || mode & 0o066 != 0
}

impl Mappers {
    /// The processes that map the one file (`dev`, `ino`), owned by `uid` with
    /// permission bits `mode`: a pass over `/proc/*/maps` that keeps only what concerns
    /// this file (what [`MapsIndex`] finds for every file at once). Allocates only the
    /// list of pids, fallibly: `Err(Io(ENOMEM))` if memory is short.
    pub(crate) fn of_file(
        dev: u64,
        ino: u64,
        uid: u32,
        mode: u32,
    ) -> Result<Mappers, InspectError> {
        let key = {
            let (ma, mi) = split_dev(dev);
            (ma, mi, ino)
        };
        let no_mem = |_| InspectError::Io(libc::ENOMEM);
        let mut out = Mappers::default();
        let listed = for_each_other_process(|pid| {
            let mut maps_it = false;
            match read_maps(pid, |k| {
                maps_it = k == key;
                !maps_it
            }) {
                MapsRead::Read if maps_it => try_push(&mut out.pids, pid).map_err(no_mem)?,
                MapsRead::Read | MapsRead::Gone => {}
                MapsRead::Unreadable => {
                    if unreadable_euid(pid).is_some_and(|e| could_open(e, uid, mode)) {
                        out.unknown = out.unknown.saturating_add(1);
                    }
                }
            }
            Ok(())
        });
        match listed {
            Ok(()) => {}
            Err(InspectError::Io(libc::ENOMEM)) => return Err(InspectError::Io(libc::ENOMEM)),
            // `/proc` could not be listed: every process, counted as one, may map it.
            Err(_) => {
                return Ok(Mappers {
                    pids: Vec::new(),
                    unknown: 1,
                });
            }
        }
        out.pids.sort_unstable();
        out.pids.dedup();
        Ok(out)
    }
}

impl MapsIndex {
    /// Scans `/proc` once. The calling process is skipped: inspection never maps.
    pub fn scan() -> MapsIndex {
        let mut index = MapsIndex::default();
        let listed = for_each_other_process(|pid| {
            let by_file = &mut index.by_file;
            match read_maps(pid, |key| {
                let pids = by_file.entry(key).or_default();
                if pids.last() != Some(&pid) {
                    pids.push(pid);
                }
                true
            }) {
                MapsRead::Read | MapsRead::Gone => {}
                MapsRead::Unreadable => {
                    if let Some(u) = unreadable_euid(pid) {
                        index.unreadable_euids.push(u);
                    }
                }
            }
            Ok(())
        });
        index.proc_listed = listed.is_ok();
        for pids in index.by_file.values_mut() {
            pids.sort_unstable();
            pids.dedup();
        }
        index
    }

    /// The processes that map the file (`dev`, `ino`), owned by `uid` with permission
    /// bits `mode`.
    pub fn mappers(&self, dev: u64, ino: u64, uid: u32, mode: u32) -> Mappers {
        if !self.proc_listed {
            return Mappers {
                pids: Vec::new(),
                unknown: 1,
            };
        }
        let (ma, mi) = split_dev(dev);
        let pids = self
            .by_file
            .get(&(ma, mi, ino))
            .cloned()
            .unwrap_or_default();
        let unknown = self
            .unreadable_euids
            .iter()
            .filter(|&&e| could_open(e, uid, mode))
            .count();
        Mappers {
            pids,
            unknown: u32::try_from(unknown).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_and_status() {
        if let Some(euid) = process_euid(std::process::id()) {
            // SAFETY: geteuid cannot fail.
            assert_eq!(euid, unsafe { libc::geteuid() });
        }
        assert_eq!(
            parse_line(b"7f00-7f01 rw-s 00000000 00:1a 4242    /dev/shm/x (deleted)"),
            Some((0, 0x1a, 4242))
        );
        assert_eq!(parse_line(b"7f00-7f01 r-xp 00000000 00:00 0 "), None);
        assert_eq!(parse_line(b"garbage"), None);
        assert_eq!(uid_field("\t1000\t0\t0\t0"), Some(0));
        assert_eq!(uid_field("\t1000"), None);
        assert_eq!(split_dev(0x1a), (0, 0x1a));
        assert_eq!(split_dev((8 << 8) | 1), (8, 1));
    }
}

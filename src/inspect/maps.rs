//! Which processes map a file: one pass over `/proc/*/maps`.
//!
//! A mapping is matched by device and inode (the `maps` fields), not by path, so a
//! name that was unlinked and re-created is told apart from the old file. Processes
//! whose `maps` cannot be read (another user's, as non-root) are remembered with their
//! effective uid: [`MapsIndex::mappers`] counts them as *possible* mappers of a file
//! only if they could have opened it (root, the file's owner, or a mode that lets
//! others in), so that a cleanup never mistakes "could not look" for "nobody".

use std::collections::HashMap;

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
fn parse_line(line: &str) -> Option<(u32, u32, u64)> {
    let mut f = line.split_ascii_whitespace();
    let (_, _, _, dev, ino) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
    let ino: u64 = ino.parse().ok()?;
    if ino == 0 {
        return None;
    }
    let (ma, mi) = dev.split_once(':')?;
    Some((
        u32::from_str_radix(ma, 16).ok()?,
        u32::from_str_radix(mi, 16).ok()?,
        ino,
    ))
}

/// The effective uid on the `Uid:` line of a `/proc/<pid>/status` text.
fn effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

impl MapsIndex {
    /// Scans `/proc` once. The calling process is skipped: inspection never maps.
    pub fn scan() -> MapsIndex {
        let mut index = MapsIndex::default();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return index;
        };
        index.proc_listed = true;
        let me = std::process::id();
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == me {
                continue;
            }
            match std::fs::read_to_string(format!("/proc/{pid}/maps")) {
                Ok(maps) => {
                    for key in maps.lines().filter_map(parse_line) {
                        let pids = index.by_file.entry(key).or_default();
                        if pids.last() != Some(&pid) {
                            pids.push(pid);
                        }
                    }
                }
                // Exited meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => {
                    let euid = std::fs::read_to_string(format!("/proc/{pid}/status"))
                        .ok()
                        .and_then(|s| effective_uid(&s));
                    match euid {
                        Some(u) => index.unreadable_euids.push(u),
                        // Gone, or status unreadable too: assume the worst (root).
                        None if std::fs::metadata(format!("/proc/{pid}")).is_ok() => {
                            index.unreadable_euids.push(0)
                        }
                        None => {}
                    }
                }
            }
        }
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
        let others_may_open = mode & 0o066 != 0;
        let unknown = self
            .unreadable_euids
            .iter()
            .filter(|&&e| e == 0 || e == uid || others_may_open)
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
        assert_eq!(
            parse_line("7f00-7f01 rw-s 00000000 00:1a 4242    /dev/shm/x (deleted)"),
            Some((0, 0x1a, 4242))
        );
        assert_eq!(parse_line("7f00-7f01 r-xp 00000000 00:00 0 "), None);
        assert_eq!(parse_line("garbage"), None);
        assert_eq!(effective_uid("Name:\tx\nUid:\t1000\t0\t0\t0\n"), Some(0));
        assert_eq!(effective_uid("Name:\tx\n"), None);
        assert_eq!(split_dev(0x1a), (0, 0x1a));
        assert_eq!(split_dev((8 << 8) | 1), (8, 1));
    }
}

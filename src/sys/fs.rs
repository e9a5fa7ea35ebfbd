//! Directories and text files read without the heap: `std::fs::read_dir` and
//! `std::fs::read_to_string` allocate for every entry and every file, and abort the
//! process when memory is short. These read into fixed buffers instead, so that the
//! callers (the sweeps of dead creators' names, the inspector) can run out of memory
//! only where they allocate themselves, fallibly.

use core::ffi::CStr;
use std::io;

/// An open directory stream (`opendir`), closed on drop.
pub(crate) struct Dir {
    stream: core::ptr::NonNull<libc::DIR>,
    /// The `errno` of a `readdir` that failed (0: none did), so that a caller for whom
    /// "listed to the end" is evidence can tell the end from an error.
    read_errno: i32,
}

/// What a directory entry is, as far as `readdir` tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryType {
    /// A regular file.
    File,
    /// Something else: a directory, a symbolic link, a FIFO, ...
    Other,
    /// The file system does not say (`DT_UNKNOWN`): ask `lstat`.
    Unknown,
}

impl Dir {
    /// Opens `path` for listing. (glibc's `opendir` allocates its buffer itself and
    /// reports a failure as `ENOMEM`.)
    pub(crate) fn open(path: &CStr) -> io::Result<Dir> {
        // SAFETY: a NUL-terminated path.
        let d = unsafe { libc::opendir(path.as_ptr()) };
        core::ptr::NonNull::new(d)
            .map(|stream| Dir {
                stream,
                read_errno: 0,
            })
            .ok_or_else(io::Error::last_os_error)
    }

    /// The descriptor of the directory, for the `*at` calls.
    pub(crate) fn fd(&self) -> libc::c_int {
        // SAFETY: an open directory stream.
        unsafe { libc::dirfd(self.stream.as_ptr()) }
    }

    /// True if every `readdir` so far succeeded: a listing that ended with this true
    /// was read to its real end.
    pub(crate) fn read_to_the_end(&self) -> bool {
        self.read_errno == 0
    }

    /// The next entry other than `.` and `..`, and its type; `None` at the end (or on a
    /// read error, which ends a listing as the end does: [`Dir::read_to_the_end`] tells
    /// them apart).
    pub(crate) fn next_entry(&mut self) -> Option<(&CStr, EntryType)> {
        loop {
            // `readdir` returns NULL both at the end (errno untouched) and on an error.
            // SAFETY: the calling thread's errno slot.
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: an open directory stream; the entry stays valid until the next
            // `readdir` or `closedir` on it, which need `&mut self`.
            let Some(e) = (unsafe { libc::readdir(self.stream.as_ptr()).as_ref() }) else {
                self.read_errno = crate::sys::errno();
                return None;
            };
            // SAFETY: `d_name` is NUL-terminated within the entry.
            let name = unsafe { CStr::from_ptr(e.d_name.as_ptr()) };
            if matches!(name.to_bytes(), b"." | b"..") {
                continue;
            }
            let ty = match e.d_type {
                libc::DT_REG => EntryType::File,
                libc::DT_UNKNOWN => EntryType::Unknown,
                _ => EntryType::Other,
            };
            return Some((name, ty));
        }
    }
}

/// `lstat` of the entry `name` of the directory open as `dirfd` ([`Dir::fd`]): true if
/// it is a regular file.
pub(crate) fn is_regular_file_at(dirfd: libc::c_int, name: &CStr) -> bool {
    // SAFETY: all-zero is a valid `stat` out-buffer.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: a directory descriptor, a NUL-terminated name and a valid buffer (a bad
    // descriptor is an error return, nothing worse).
    let r = unsafe { libc::fstatat(dirfd, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    r == 0 && st.st_mode & libc::S_IFMT == libc::S_IFREG
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: an open directory stream, closed once.
        unsafe { libc::closedir(self.stream.as_ptr()) };
    }
}

/// An open file descriptor, closed on drop.
pub(crate) struct File(libc::c_int);

impl File {
    /// Opens `path` read-only (`O_CLOEXEC` added to `extra_flags`).
    pub(crate) fn open(path: &CStr, extra_flags: libc::c_int) -> io::Result<File> {
        // SAFETY: a NUL-terminated path.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC | extra_flags,
            )
        };
        if fd < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(File(fd))
        }
    }

    /// `fstat` of the open file.
    pub(crate) fn stat(&self) -> io::Result<libc::stat> {
        // SAFETY: all-zero is a valid `stat` out-buffer.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: an open descriptor and a valid buffer.
        if unsafe { libc::fstat(self.0, &mut st) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(st)
    }

    /// `read` into `buf`, retried on `EINTR`: the bytes read (0 at the end).
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is writable for its length; an open descriptor.
            let n = unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// `pread` at `offset` into `buf`, retried on `EINTR`: the bytes read.
    pub(crate) fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is writable for its length; an open descriptor.
            let n = unsafe {
                libc::pread(
                    self.0,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    offset as libc::off_t,
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Calls `f` with every line of the file (without its `\n`), in order; a line
    /// longer than the buffer is given cut to its first [`LINE_MAX`] bytes. Stops
    /// early when `f` returns false.
    pub(crate) fn for_each_line(&self, mut f: impl FnMut(&[u8]) -> bool) -> io::Result<()> {
        let mut buf = [0u8; LINE_MAX];
        // `buf[..have]` holds the start of a line not yet given to `f`.
        let mut have = 0;
        // The current line was too long and its head was given already: skip to its end.
        let mut skipping = false;
        loop {
            let n = self.read(&mut buf[have..])?;
            if n == 0 {
                if have > 0 && !skipping {
                    f(&buf[..have]);
                }
                return Ok(());
            }
            let end = have + n;
            let mut start = 0;
            while let Some(nl) = buf[start..end].iter().position(|&b| b == b'\n') {
                let line = &buf[start..start + nl];
                if !skipping && !f(line) {
                    return Ok(());
                }
                skipping = false;
                start += nl + 1;
            }
            if start == 0 && end == buf.len() {
                // A line longer than the buffer: give its head, skip the rest.
                if !skipping && !f(&buf[..end]) {
                    return Ok(());
                }
                skipping = true;
                have = 0;
            } else {
                buf.copy_within(start..end, 0);
                have = end - start;
            }
        }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(self.0) };
    }
}

/// The longest line [`File::for_each_line`] gives whole (longer ones are cut): enough
/// for every line of `/proc/<pid>/status` and for the fields of `/proc/<pid>/maps`
/// before the path.
pub(crate) const LINE_MAX: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(content: &[u8]) -> Vec<Vec<u8>> {
        let path = format!(
            "/tmp/mpsync-fs-test-{}-{}",
            std::process::id(),
            content.len()
        );
        std::fs::write(&path, content).unwrap();
        let c = std::ffi::CString::new(path.clone()).unwrap();
        let f = File::open(&c, 0).unwrap();
        let mut out = Vec::new();
        f.for_each_line(|l| {
            out.push(l.to_vec());
            true
        })
        .unwrap();
        std::fs::remove_file(&path).unwrap();
        out
    }

    #[test]
    #[cfg_attr(miri, ignore = "file system")]
    fn lines_whole_and_cut() {
        assert_eq!(lines_of(b"a\nbc\n\nd"), [&b"a"[..], b"bc", b"", b"d"]);
        let long = [b'x'; LINE_MAX * 3 + 7];
        let mut text = b"first\n".to_vec();
        text.extend_from_slice(&long);
        text.extend_from_slice(b"\nlast\n");
        let got = lines_of(&text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], b"first");
        assert_eq!(got[1], &long[..LINE_MAX]);
        assert_eq!(got[2], b"last");
    }

    #[test]
    #[cfg_attr(miri, ignore = "file system")]
    fn lists_a_directory() {
        let mut d = Dir::open(c"/proc/self").unwrap();
        let fd = d.fd();
        let mut saw_status = false;
        while let Some((name, ty)) = d.next_entry() {
            assert!(name.to_bytes() != b"." && name.to_bytes() != b"..");
            if name.to_bytes() == b"status" {
                saw_status = true;
                assert!(ty == EntryType::File || is_regular_file_at(fd, c"status"));
            }
        }
        assert!(saw_status);
    }
}

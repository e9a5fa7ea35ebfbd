//! Reading one entry of the shared-memory directory without touching it: its file
//! facts (`lstat`, then `fstat` of the descriptor actually opened) and a copy of its
//! first bytes (of an undo semaphore, the whole object).
//!
//! Nothing is mapped: the bytes are copied with `pread` into private memory. A peer
//! that truncates the file while we look therefore gives a short read (the object is
//! then "truncated"), never the `SIGBUS` that touching a shrunken mapping raises. The
//! file is opened `O_RDONLY | O_NOFOLLOW | O_NONBLOCK`: a symlink is not followed and a
//! FIFO planted under the name cannot block the open (it is refused as non-regular).

use std::fs::Metadata;
use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use super::error::InspectError;
use crate::sys::fs::File;
use crate::sys::shm::names::path_of;

/// The bytes of an entry that inspection reads first: an array's descriptor and its
/// lock (128); every other object but an undo semaphore is 64.
pub(crate) const PREFIX_LEN: usize = 128;

/// The most bytes of an object that inspection reads: a whole undo semaphore or reader-writer lock (its
/// holder table), read only when the header's kind code says it is one.
pub(crate) const OBJECT_READ_MAX: usize = {
    let (undo, rw) = (
        crate::raw::sem_undo::RawSemUndo::SIZE,
        crate::raw::rwlock::RawRwLock::SIZE,
    );
    if undo > rw { undo } else { rw }
};

/// Private, 64-byte aligned copy of an object's first bytes: every `raw` struct may be
/// viewed in it (they are `repr(C)` atomics and integers, valid for any bit pattern,
/// and at most 8-aligned).
#[repr(C, align(64))]
pub(crate) struct Prefix {
    pub(crate) bytes: [u8; OBJECT_READ_MAX],
    /// How many bytes the file really had (the rest is zero).
    pub(crate) len: usize,
}

impl Prefix {
    /// Views the copy as a `T` from `raw` if the file had at least `size_of::<T>()`
    /// bytes.
    pub(crate) fn view<T: RawView>(&self) -> Option<&T> {
        if core::mem::size_of::<T>() > self.len || core::mem::size_of::<T>() > OBJECT_READ_MAX {
            return None;
        }
        // SAFETY: `bytes` is 64-aligned and at least size_of::<T>() long (checked);
        // `T: RawView` promises a repr(C) struct of atomics/integers with alignment
        // <= 64, valid for any bit pattern; the reference borrows `self`.
        Some(unsafe { &*(self.bytes.as_ptr() as *const T) })
    }
}

/// Marker for the `raw` structs that may be viewed in a [`Prefix`].
///
/// # Safety
/// Implementors are `repr(C)`, made only of atomics and integers (every bit pattern
/// valid), and aligned to at most 64 bytes.
pub(crate) unsafe trait RawView {}
// SAFETY (all below): see the `raw` module documentation: repr(C), atomics and integers
// only, 8-aligned.
unsafe impl RawView for crate::raw::header::Header {}
// SAFETY: as above.
unsafe impl RawView for crate::raw::lock::RawLock {}
// SAFETY: as above.
unsafe impl RawView for crate::raw::rlock::RawRLock {}
// SAFETY: as above.
unsafe impl RawView for crate::raw::sem::RawSem {}
// SAFETY: as above.
unsafe impl RawView for crate::raw::cond::RawCond {}
// SAFETY: as above.
unsafe impl RawView for crate::raw::event::RawEvent {}
// SAFETY: as above.
unsafe impl RawView for crate::raw::barrier::RawBarrier {}
// SAFETY: as above.
unsafe impl RawView for crate::raw::array::RawArray {}
// SAFETY: as above (4160 bytes, 8-aligned).
unsafe impl RawView for crate::raw::sem_undo::RawSemUndo {}
// SAFETY: as above (4224 bytes, 8-aligned).
unsafe impl RawView for crate::raw::rwlock::RawRwLock {}
// SAFETY: as above (1792 bytes with its consumer table, 8-aligned).
unsafe impl RawView for crate::raw::queue::RawQueue {}

/// Facts about the directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileFacts {
    /// Size in bytes.
    pub size: u64,
    /// Owner's user id.
    pub uid: u32,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Device and inode (what `/proc/<pid>/maps` names a mapping by).
    pub dev: u64,
    /// See `dev`.
    pub ino: u64,
    /// `None` for a regular file, else what it is ("directory", "symlink", ...).
    pub not_regular: Option<&'static str>,
}

impl FileFacts {
    /// The facts of a `stat` (or `lstat`) result.
    pub(crate) fn of_stat(st: &libc::stat) -> FileFacts {
        let not_regular = match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => None,
            libc::S_IFDIR => Some("directory"),
            libc::S_IFLNK => Some("symbolic link"),
            libc::S_IFIFO => Some("FIFO"),
            libc::S_IFSOCK => Some("socket"),
            _ => Some("device"),
        };
        FileFacts {
            size: st.st_size as u64,
            uid: st.st_uid,
            mode: st.st_mode & 0o7777,
            dev: st.st_dev,
            ino: st.st_ino,
            not_regular,
        }
    }

    pub(crate) fn of(m: &Metadata) -> FileFacts {
        let t = m.file_type();
        let not_regular = if t.is_file() {
            None
        } else if t.is_dir() {
            Some("directory")
        } else if t.is_symlink() {
            Some("symbolic link")
        } else if t.is_fifo() {
            Some("FIFO")
        } else if t.is_socket() {
            Some("socket")
        } else {
            Some("device")
        };
        FileFacts {
            size: m.size(),
            uid: m.uid(),
            mode: m.mode() & 0o7777,
            dev: m.dev(),
            ino: m.ino(),
            not_regular,
        }
    }
}

/// One entry, looked at.
pub(crate) enum Looked {
    /// Not a regular file: nothing was opened.
    NotRegular(FileFacts),
    /// A regular file that we may not read.
    Unreadable(FileFacts),
    /// A regular file and an open descriptor on it.
    Open(FileFacts, File),
}

fn io_error(e: &std::io::Error) -> InspectError {
    match e.kind() {
        ErrorKind::NotFound => InspectError::NotFound,
        ErrorKind::PermissionDenied => InspectError::PermissionDenied,
        _ => InspectError::Io(e.raw_os_error().unwrap_or(0)),
    }
}

/// Looks at `SHM_DIR/<bare>` (`bare` is one path component, checked by the caller).
/// System calls on a path built on the stack: nothing here allocates.
pub(crate) fn look(bare: &str) -> Result<Looked, InspectError> {
    let path = path_of(bare).map_err(|_| InspectError::InvalidName)?;
    let path = path.as_cstr();
    // SAFETY: all-zero is a valid `stat` out-buffer.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a valid buffer.
    if unsafe { libc::lstat(path.as_ptr(), &mut st) } != 0 {
        return Err(io_error(&std::io::Error::last_os_error()));
    }
    let facts = FileFacts::of_stat(&st);
    if facts.not_regular.is_some() {
        return Ok(Looked::NotRegular(facts));
    }
    let file = match File::open(path, libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            return Ok(Looked::Unreadable(facts));
        }
        // Replaced by a symlink since the lstat.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok(Looked::NotRegular(FileFacts {
                not_regular: Some("symbolic link"),
                ..facts
            }));
        }
        Err(e) => return Err(io_error(&e)),
    };
    // Decide on what was opened, not on what the name showed a moment ago.
    let facts = FileFacts::of_stat(&file.stat().map_err(|e| io_error(&e))?);
    if facts.not_regular.is_some() {
        return Ok(Looked::NotRegular(facts));
    }
    Ok(Looked::Open(facts, file))
}

/// Copies the first bytes of `file` (short files leave the rest zero): `PREFIX_LEN`,
/// or the whole object (`OBJECT_READ_MAX`) when they start as an undo semaphore's
/// header (live magic, kind code 8) or a reader-writer lock's (kind code 9), whose
/// holder tables lie beyond them.
pub(crate) fn read_prefix(file: &File) -> Result<Prefix, InspectError> {
    let mut p = Prefix {
        bytes: [0; OBJECT_READ_MAX],
        len: 0,
    };
    read_up_to(file, &mut p, PREFIX_LEN)?;
    let magic = u32::from_ne_bytes([p.bytes[0], p.bytes[1], p.bytes[2], p.bytes[3]]);
    let kind_code = p.bytes[4..8]
        .try_into()
        .map_or(0, |b| u32::from_ne_bytes(b) & 0xff);
    if p.len == PREFIX_LEN
        && magic == crate::raw::header::MAGIC
        && (kind_code == crate::raw::header::Kind::SemUndo as u32
            || kind_code == crate::raw::header::Kind::RwLock as u32)
    {
        read_up_to(file, &mut p, OBJECT_READ_MAX)?;
    }
    // A queue's descriptor (its ring is never read).
    if p.len == PREFIX_LEN
        && magic == crate::raw::header::MAGIC
        && kind_code == crate::raw::header::Kind::Queue as u32
    {
        read_up_to(file, &mut p, crate::raw::queue::RING_OFFSET)?;
    }
    Ok(p)
}

/// Reads from `p.len` on until `want` bytes (at most the buffer) or the end of the file.
fn read_up_to(file: &File, p: &mut Prefix, want: usize) -> Result<(), InspectError> {
    let want = want.min(OBJECT_READ_MAX);
    while p.len < want {
        match file.read_at(&mut p.bytes[p.len..want], p.len as u64) {
            Ok(0) => break,
            Ok(n) => p.len += n,
            Err(e) => return Err(io_error(&e)),
        }
    }
    Ok(())
}

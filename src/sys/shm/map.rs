//! File descriptors and mappings: `open`, `fstat`, `mmap` into the arena, and the
//! unmapping behind every `close`.

use core::sync::atomic::{AtomicUsize, Ordering};
use std::ffi::CStr;

use super::registry::{self, Content, Mapping, Place, RESERVE_FLAGS};
use crate::status::{MpResult, Status};
use crate::sys::errno;

/// An owned file descriptor, closed on drop.
pub(super) struct Fd(pub(super) libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own this descriptor.
        unsafe { libc::close(self.0) };
    }
}

/// `open(2)` with `O_CLOEXEC | O_NOFOLLOW` added; a name that holds something other
/// than a file (a symbolic link, a directory, a socket) is `MP_EBADOBJ`.
pub(super) fn open_fd(path: &CStr, oflags: libc::c_int, mode: libc::mode_t) -> MpResult<Fd> {
    // SAFETY: `path` is a valid NUL-terminated string.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            oflags | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            mode as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(match errno() {
            // The name holds something that is not an object file: a symbolic link
            // (O_NOFOLLOW), a directory, or a UNIX socket (ENXIO).
            libc::ELOOP | libc::EISDIR | libc::ENXIO => Status::BadObj,
            e => Status::from_errno(e),
        });
    }
    Ok(Fd(fd))
}

/// What `fstat` says about an object file.
pub(super) struct FileInfo {
    pub(super) size: usize,
    pub(super) uid: libc::uid_t,
}

/// `fstat` of a regular file (anything else is `MP_EBADOBJ`).
pub(super) fn file_info(fd: &Fd) -> MpResult<FileInfo> {
    // SAFETY: all-zero is a valid `stat` out-buffer.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: `st` is a valid out-buffer; `fd` is open.
    if unsafe { libc::fstat(fd.0, &mut st) } != 0 {
        return Err(Status::Sys);
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Status::BadObj);
    }
    Ok(FileInfo {
        size: st.st_size as usize,
        uid: st.st_uid,
    })
}

/// The caller's effective uid (what file ownership is compared with).
pub(super) fn effective_uid() -> libc::uid_t {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let p = PAGE.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    // SAFETY: sysconf has no preconditions.
    let p = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 && (n as usize).is_power_of_two() => n as usize,
        _ => 4096,
    };
    PAGE.store(p, Ordering::Relaxed);
    p
}

/// `len` rounded up to whole pages (`None` on overflow).
fn span_of(len: usize) -> Option<usize> {
    let page = page_size();
    Some(len.checked_add(page - 1)? & !(page - 1))
}

/// Maps `len` bytes of `fd` (or, for `None`, zeroed anonymous memory) shared and
/// read-write, at fresh arena address space, and records it with `content` (and a
/// block's `name`, without `/`). `fd`'s file must be at least `len` bytes long.
/// `MP_ENOMEM` (nothing mapped) also when memory for the record is short.
pub(super) fn map_shared(
    fd: Option<&Fd>,
    len: usize,
    content: Content,
    name: Option<&str>,
) -> MpResult<*mut u8> {
    if len == 0 {
        return Err(Status::Inval);
    }
    let span = span_of(len).ok_or(Status::NoMem)?;
    let name = match name {
        Some(n) => Some(crate::fallible::try_box_cstr(n.as_bytes()).ok_or(Status::NoMem)?),
        None => None,
    };
    let (raw_fd, mut flags) = match fd {
        Some(fd) => (fd.0, libc::MAP_SHARED),
        None => (-1, libc::MAP_SHARED | libc::MAP_ANONYMOUS),
    };
    let at = registry::claim(span)?;
    if at.is_some() {
        flags |= libc::MAP_FIXED;
    }
    // SAFETY: either a kernel-chosen address (NULL), or MAP_FIXED over `span` bytes of
    // arena reservation that this process never handed out before (the cursor only
    // moves forward), so nothing of anyone's is replaced. `raw_fd` is -1 or an open
    // descriptor of a file at least `len` bytes long (checked by callers).
    let p = unsafe {
        libc::mmap(
            at.map_or(core::ptr::null_mut(), |a| a as *mut libc::c_void),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            raw_fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(match errno() {
            libc::EACCES | libc::EPERM => Status::Acces,
            _ => Status::NoMem,
        });
    }
    let mapping = Mapping {
        len,
        span,
        content,
        in_arena: at.is_some(),
    };
    match registry::record(p as usize, mapping, name) {
        Ok(true) => Ok(p.cast()),
        // No memory for the record (`claim` reserved room, but another thread's
        // mapping may have taken it), or a record already there (only possible if the
        // table were inconsistent): give the range back.
        Ok(false) | Err(_) => {
            release_range(p as usize, mapping);
            Err(Status::NoMem)
        }
    }
}

/// A zeroed `MAP_SHARED | MAP_ANONYMOUS` mapping, inherited by `fork()`ed children.
pub(crate) fn map_anonymous(len: usize, content: Content) -> MpResult<*mut u8> {
    map_shared(None, len, content, None)
}

/// Gives a mapping's range back: to the arena as `PROT_NONE` reservation (in one
/// step, so that no other mapping can land there meanwhile), or to the kernel.
fn release_range(addr: usize, m: Mapping) {
    if m.in_arena {
        // SAFETY: [addr, addr + span) is this library's mapping inside its own arena
        // (the caller removed its record); it is replaced by inaccessible reservation.
        let p = unsafe {
            libc::mmap(
                addr as *mut libc::c_void,
                m.span,
                libc::PROT_NONE,
                RESERVE_FLAGS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            return;
        }
        // No memory for the replacement: unmap instead. The hole stays arena
        // address space for the registry (never handed out again).
    }
    // SAFETY: as above; the range is this library's mapping and no longer recorded.
    unsafe { libc::munmap(addr as *mut libc::c_void, m.span) };
}

/// Unmaps the live mapping `m` found at `addr` (by [`place`]) in the calling process.
/// `MP_EBUSY` (nothing changed) if the calling thread holds a lock inside it;
/// `MP_EBADOBJ` if another thread closed it meanwhile.
pub(crate) fn unmap_live(addr: usize, m: Mapping) -> MpResult<()> {
    if holds_lock_in(addr, m.span) {
        return Err(Status::Busy);
    }
    if !registry::remove(addr, m) {
        return Err(Status::BadObj);
    }
    release_range(addr, m);
    Ok(())
}

/// Whether the calling thread holds a lock inside `[start, start + len)` (its private
/// record of held locks; never the shared memory).
fn holds_lock_in(start: usize, len: usize) -> bool {
    #[cfg(test)]
    if test_hold::pretended(start) {
        return true;
    }
    crate::sys::robust::thread_holds_lock_in(start, len)
}

/// Unmaps a mapping this module just made and that nobody else has seen (failed
/// initialisation or validation).
pub(super) fn discard(addr: *mut u8) {
    if let Some(m) = registry::lookup(addr as usize) {
        if registry::remove(addr as usize, m) {
            release_range(addr as usize, m);
        }
    }
}

/// Where `addr` falls (see [`Place`]).
pub(crate) fn place(addr: usize) -> Place {
    registry::place(addr)
}

/// The live mapping that starts at `addr`, if any.
#[inline]
pub(crate) fn lookup(addr: usize) -> Option<Mapping> {
    registry::lookup(addr)
}

/// Length of a mapping this library made at `addr`, if any.
#[inline]
pub(crate) fn mapping_len(addr: usize) -> Option<usize> {
    registry::live_len(addr)
}

/// Unit tests of the close paths' `MP_EBUSY`: make the calling thread pretend to hold
/// a lock in the mapping that starts at an address.
#[cfg(test)]
pub(crate) mod test_hold {
    use core::cell::Cell;

    thread_local! {
        static PRETEND: Cell<usize> = const { Cell::new(0) };
    }

    /// Pretends (on this thread) to hold a lock in the mapping at `start`; 0 stops.
    pub(crate) fn pretend(start: usize) {
        PRETEND.with(|p| p.set(start));
    }

    pub(super) fn pretended(start: usize) -> bool {
        PRETEND.with(|p| p.get() == start && start != 0)
    }
}

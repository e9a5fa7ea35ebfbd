//! Named objects: open an existing one (checked before use), or build a new one
//! where nobody can see it and publish it under its name only once initialised.
//!
//! **Nothing left behind.** A new object is built in an unnamed file:
//! `open("/dev/shm", O_TMPFILE)` makes an inode with no name, which the kernel frees
//! when its last descriptor and mapping go, so a creator killed at any instruction
//! before publication leaves nothing. Publication is `linkat` of that file to the name,
//! which fails if the name exists, so a name never refers to a half-built object and
//! every concurrent `MP_CREATE` either publishes or opens the winner's object.
//! (`O_TMPFILE` must not be combined with `O_EXCL`, which would forbid the link.)
//!
//! Where `O_TMPFILE` is unsupported, or the unnamed file cannot be linked (no `/proc`
//! for `/proc/self/fd/N`, and a kernel that reserves `AT_EMPTY_PATH` to
//! `CAP_DAC_READ_SEARCH`), the file is built under a temporary name that the library
//! can recognise later: `.mpsync-tmp-<pid>-<start>-<pidns>-<n>`, with the
//! creator's pid, its start time (clock ticks since boot) and its PID namespace
//! (`creator_names`). The first such creation in a process removes the temporary files
//! of creators that provably no longer exist (same namespace, and no running process
//! with that pid and start time).

use core::sync::atomic::{AtomicBool, Ordering};
use std::ffi::CStr;

use super::creator_names::{sweep_stale_temps, temp_name};
use super::map::{self, Fd};
use super::names::{
    FLAG_ANY_OWNER, FLAG_CREATE, FLAG_EXCL, effective_mode, path_of, validate_flags, validate_name,
};
use super::registry::Content;
use crate::fallible::StackStr;
use crate::status::{MpResult, Status};
use crate::sys::errno;

/// What a named open produced.
pub(crate) struct Opened {
    /// Start of the mapping (registered; released by `close`).
    pub base: *mut u8,
    /// Length of the mapping.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the unit tests"))]
    pub len: usize,
    /// True if this call created (and initialised) the object.
    pub created: bool,
}

/// How to create or check one kind of named object.
pub(crate) trait NamedSpec {
    /// What the mapping holds (recorded in the registry).
    fn content(&self) -> Content;
    /// Size of a newly created object.
    fn create_size(&self) -> usize;
    /// Initialises a new, zeroed mapping of `create_size()` bytes (not yet visible
    /// under its name).
    fn init(&self, base: *mut u8) -> MpResult<()>;
    /// Given an existing file's size, the size to map (or `MP_EBADOBJ`).
    fn map_size(&self, file_size: usize) -> MpResult<usize>;
    /// Validates a mapped existing object.
    fn check(&self, base: *mut u8, len: usize) -> MpResult<()>;
}

/// Opens (and with `MP_CREATE`, creates) the named object described by `spec`.
pub(crate) fn open_named(
    name: &CStr,
    flags: u32,
    mode: u32,
    spec: &dyn NamedSpec,
) -> MpResult<Opened> {
    validate_flags(flags)?;
    let bare = validate_name(name)?;
    let mode = effective_mode(mode)?;
    let path = path_of(bare)?;
    let path = path.as_cstr();
    // A block's registry record keeps its name (for `mp_shm_name`).
    let block_name = match spec.content() {
        Content::Block => Some(bare),
        Content::Object(_) => None,
    };
    let any_owner = flags & FLAG_ANY_OWNER != 0;
    // Bounded: each round either returns or observed the name vanish/appear under us.
    for _ in 0..64 {
        if flags & FLAG_EXCL == 0 {
            match open_existing(path, any_owner, spec, block_name) {
                Err(Status::NoEnt) if flags & FLAG_CREATE != 0 => {}
                other => return other,
            }
        }
        if flags & FLAG_CREATE == 0 {
            return Err(Status::NoEnt);
        }
        match create_new(path, mode, spec, block_name) {
            Err(Status::Exist) if flags & FLAG_EXCL == 0 => continue,
            other => return other,
        }
    }
    Err(Status::Busy)
}

fn open_existing(
    path: &CStr,
    any_owner: bool,
    spec: &dyn NamedSpec,
    block_name: Option<&str>,
) -> MpResult<Opened> {
    let fd = map::open_fd(path, libc::O_RDWR, 0)?;
    let info = map::file_info(&fd)?;
    // Decided on the descriptor actually opened, before anything is mapped: a file of
    // another user (even one that lets us write it) may be a trap planted under the
    // name, so using it needs the caller's explicit consent. Root included.
    if !any_owner && info.uid != map::effective_uid() {
        return Err(Status::Acces);
    }
    let len = spec.map_size(info.size)?;
    if len == 0 || len > info.size {
        return Err(Status::BadObj);
    }
    let base = map::map_shared(Some(&fd), len, spec.content(), block_name)?;
    if let Err(e) = spec.check(base, len) {
        map::discard(base);
        return Err(e);
    }
    Ok(Opened {
        base,
        len,
        created: false,
    })
}

/// Allocates the backing store of a new object's file up front, so that a `/dev/shm`
/// that is too small fails the creation with `MP_ENOMEM` instead of killing a later
/// toucher of the pages with `SIGBUS`. Filesystems without `fallocate` keep the
/// sparse file.
fn reserve_storage(fd: &Fd, size: usize) -> MpResult<()> {
    if size == 0 {
        return Ok(());
    }
    // SAFETY: `fd` is open for writing; posix_fallocate returns an error number and
    // leaves errno alone.
    match unsafe { libc::posix_fallocate(fd.0, 0, size as libc::off_t) } {
        0 | libc::EOPNOTSUPP | libc::ENODEV | libc::ESPIPE => Ok(()),
        libc::EINTR => Err(Status::Intr),
        libc::ENOSPC | libc::EFBIG | libc::ENOMEM => Err(Status::NoMem),
        e => Err(Status::from_errno(e)),
    }
}

/// Sets the exact mode, sizes, allocates, maps and initialises a new object's file.
/// The mapping is registered; the caller publishes or discards it.
fn build(
    fd: &Fd,
    mode: libc::mode_t,
    spec: &dyn NamedSpec,
    block_name: Option<&str>,
) -> MpResult<*mut u8> {
    // SAFETY: `fd` is open; fchmod sets the exact requested mode, bypassing umask
    // (the contract promises the requested permission bits).
    if unsafe { libc::fchmod(fd.0, mode) } != 0 {
        return Err(Status::from_errno(errno()));
    }
    let size = spec.create_size();
    // SAFETY: `fd` is open for writing.
    if unsafe { libc::ftruncate(fd.0, size as libc::off_t) } != 0 {
        return Err(Status::from_errno(errno()));
    }
    reserve_storage(fd, size)?;
    let base = map::map_shared(Some(fd), size, spec.content(), block_name)?;
    if let Err(e) = spec.init(base) {
        map::discard(base);
        return Err(e);
    }
    // Publish only a fully initialised object.
    core::sync::atomic::fence(Ordering::SeqCst);
    Ok(base)
}

fn create_new(
    path: &CStr,
    mode: libc::mode_t,
    spec: &dyn NamedSpec,
    block_name: Option<&str>,
) -> MpResult<Opened> {
    let fd = match open_unnamed() {
        Ok(fd) => fd,
        Err(None) => return create_with_temp_name(path, mode, spec, block_name),
        Err(Some(e)) => return Err(e),
    };
    let base = build(&fd, mode, spec, block_name)?;
    match link_unnamed(&fd, path) {
        Ok(()) => {}
        Err(Status::Exist) => {
            map::discard(base);
            return Err(Status::Exist);
        }
        Err(_) => {
            // Neither /proc nor the capability for AT_EMPTY_PATH: an unnamed file
            // cannot be published here, so build the object again the other way.
            map::discard(base);
            return create_with_temp_name(path, mode, spec, block_name);
        }
    }
    Ok(Opened {
        base,
        len: spec.create_size(),
        created: true,
    })
}

/// An unnamed file in `/dev/shm` (`O_TMPFILE`); `Err(None)` where the kernel or the
/// file system does not support it.
fn open_unnamed() -> Result<Fd, Option<Status>> {
    // SAFETY: a valid NUL-terminated path. Not O_EXCL: that would forbid linkat.
    let fd = unsafe {
        libc::open(
            c"/dev/shm".as_ptr(),
            libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
            0o600 as libc::c_uint,
        )
    };
    if fd >= 0 {
        return Ok(Fd(fd));
    }
    match errno() {
        // Kernels without O_TMPFILE see O_DIRECTORY (EISDIR); file systems without it
        // say EOPNOTSUPP.
        libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL => Err(None),
        e => Err(Some(Status::from_errno(e))),
    }
}

/// Gives the unnamed file `fd` the name `path`; fails with `MP_EEXIST` if it exists.
fn link_unnamed(fd: &Fd, path: &CStr) -> MpResult<()> {
    // Through /proc (no capability needed), else AT_EMPTY_PATH (which needs
    // CAP_DAC_READ_SEARCH on most kernels).
    let proc_path =
        StackStr::<32>::format(format_args!("/proc/self/fd/{}", fd.0)).ok_or(Status::Sys)?;
    // SAFETY: valid NUL-terminated paths.
    let r = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            proc_path.as_cstr().as_ptr(),
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = errno();
    if e != libc::ENOENT {
        return Err(Status::from_errno(e));
    }
    // SAFETY: `fd` is open; the empty path with AT_EMPTY_PATH names `fd` itself.
    if unsafe {
        libc::linkat(
            fd.0,
            c"".as_ptr(),
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    } != 0
    {
        return Err(Status::from_errno(errno()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Fallback: a temporary name the library can recognise and clean up later
// ---------------------------------------------------------------------------

static STALE_TEMPS_SWEPT: AtomicBool = AtomicBool::new(false);

/// Creation where `O_TMPFILE` is unavailable: a recognisable temporary name, then
/// `link(2)` to the real name, then the temporary name goes.
pub(super) fn create_with_temp_name(
    path: &CStr,
    mode: libc::mode_t,
    spec: &dyn NamedSpec,
    block_name: Option<&str>,
) -> MpResult<Opened> {
    if !STALE_TEMPS_SWEPT.swap(true, Ordering::Relaxed) {
        sweep_stale_temps();
    }
    let tmp = path_of(temp_name().as_str())?;
    let tmp = tmp.as_cstr();
    let fd = map::open_fd(tmp, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, 0o600)?;
    // From here on the temporary name must go, whatever happens.
    let result = build(&fd, mode, spec, block_name).and_then(|base| {
        // SAFETY: both are valid NUL-terminated paths.
        if unsafe { libc::link(tmp.as_ptr(), path.as_ptr()) } != 0 {
            let e = errno();
            map::discard(base);
            return Err(Status::from_errno(e));
        }
        Ok(Opened {
            base,
            len: spec.create_size(),
            created: true,
        })
    });
    // SAFETY: `tmp` is our own temporary file's path.
    unsafe { libc::unlink(tmp.as_ptr()) };
    drop(fd);
    result
}

//! Shared mappings: anonymous (`fork`-inherited) and named (`/dev/shm/<name>`).
//!
//! Named objects use the POSIX shared-memory namespace exactly as glibc's
//! `shm_open` does (a file in `/dev/shm`), so names are shared with CPython's
//! `SharedMemory` and `mp_unlink` removes any of them.
//!
//! **Race-free creation.** A new object is built in a private temporary file
//! (`/dev/shm/.mpsync-tmp-…`, `O_EXCL`), fully initialised, and only then published
//! under its name with `link(2)`, which fails if the name exists. A name therefore
//! never refers to a half-initialised object: every concurrent `MP_CREATE` either
//! publishes its object or, losing the race, opens the winner's.
//!
//! **Mapping registry.** `*_close` must only unmap what this library mapped. Every
//! mapping made here is recorded (address → length) in a small process-local table
//! guarded by a spin flag (held for a few instructions, never across a call out);
//! the `fork` child handler clears it in case another thread held it at `fork()`.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::ffi::CStr;

use super::errno;
use crate::status::{MpResult, Status};

/// Where POSIX shared-memory names live on Linux (glibc's `shm_open` directory).
pub const SHM_DIR: &str = "/dev/shm/";
/// Longest accepted name, not counting an optional leading `/`.
pub const NAME_MAX_LEN: usize = 200;

/// `MP_CREATE`: create the object if the name does not exist.
pub const FLAG_CREATE: u32 = 1;
/// `MP_EXCL`: with `MP_CREATE`, fail with `MP_EEXIST` if the name exists.
pub const FLAG_EXCL: u32 = 2;

/// Checks the name rules (1–200 of `[A-Za-z0-9._-]`, optionally after one `/`;
/// not `.` or `..`) and returns the bare name (without the `/`).
pub fn validate_name(name: &CStr) -> MpResult<&str> {
    let bytes = name.to_bytes();
    let bare = bytes.strip_prefix(b"/").unwrap_or(bytes);
    let ok_chars = bare
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if bare.is_empty() || bare.len() > NAME_MAX_LEN || !ok_chars || bare == b"." || bare == b".." {
        return Err(Status::Inval);
    }
    core::str::from_utf8(bare).map_err(|_| Status::Inval)
}

/// Rejects unknown bits, and `MP_EXCL` without `MP_CREATE` (meaningless, as `O_EXCL`
/// without `O_CREAT`).
pub fn validate_flags(flags: u32) -> MpResult<()> {
    if flags & !(FLAG_CREATE | FLAG_EXCL) != 0 || flags == FLAG_EXCL {
        return Err(Status::Inval);
    }
    Ok(())
}

/// `mode == 0` means `0600`; only permission bits are accepted.
pub fn effective_mode(mode: u32) -> MpResult<libc::mode_t> {
    if mode & !0o777 != 0 {
        return Err(Status::Inval);
    }
    Ok(if mode == 0 { 0o600 } else { mode })
}

fn path_of(bare: &str) -> std::ffi::CString {
    let mut p = Vec::with_capacity(SHM_DIR.len() + bare.len() + 1);
    p.extend_from_slice(SHM_DIR.as_bytes());
    p.extend_from_slice(bare.as_bytes());
    // A validated name has no NUL bytes.
    std::ffi::CString::new(p).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Mapping registry
// ---------------------------------------------------------------------------

const MAX_MAPPINGS: usize = 4096;
static REGISTRY_LOCK: AtomicBool = AtomicBool::new(false);
static mut REGISTRY: [(usize, usize); MAX_MAPPINGS] = [(0, 0); MAX_MAPPINGS];

fn with_registry<R>(f: impl FnOnce(&mut [(usize, usize); MAX_MAPPINGS]) -> R) -> R {
    while REGISTRY_LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::thread::yield_now();
    }
    // SAFETY: REGISTRY_LOCK gives this thread exclusive access to REGISTRY until it is
    // released below; `f` does not re-enter the registry.
    let r = f(unsafe { &mut *core::ptr::addr_of_mut!(REGISTRY) });
    REGISTRY_LOCK.store(false, Ordering::Release);
    r
}

/// Called in the child after `fork()` (single-threaded there): a thread of the
/// parent that held the registry flag does not exist in the child.
pub fn reset_after_fork() {
    REGISTRY_LOCK.store(false, Ordering::Release);
}

fn register(addr: usize, len: usize) -> bool {
    with_registry(|reg| match reg.iter_mut().find(|e| e.0 == 0) {
        Some(slot) => {
            *slot = (addr, len);
            true
        }
        None => false,
    })
}

/// Length of a mapping this library made at `addr`, if any.
pub fn mapping_len(addr: usize) -> Option<usize> {
    with_registry(|reg| reg.iter().find(|e| e.0 == addr && addr != 0).map(|e| e.1))
}

/// Unmaps a mapping this library made at `addr`. `MP_EINVAL` if there is none.
pub fn unmap(addr: usize) -> MpResult<()> {
    let len = with_registry(|reg| {
        reg.iter_mut().find(|e| e.0 == addr && addr != 0).map(|e| {
            let len = e.1;
            *e = (0, 0);
            len
        })
    })
    .ok_or(Status::Inval)?;
    // SAFETY: (addr, len) was returned by mmap in this process and removed from the
    // registry above, so it is unmapped exactly once.
    unsafe { libc::munmap(addr as *mut libc::c_void, len) };
    Ok(())
}

fn mmap_shared(fd: libc::c_int, len: usize) -> MpResult<*mut u8> {
    let flags = if fd < 0 {
        libc::MAP_SHARED | libc::MAP_ANONYMOUS
    } else {
        libc::MAP_SHARED
    };
    // SAFETY: a fresh mapping chosen by the kernel (addr = NULL); `fd` is -1 or an
    // open descriptor of a file at least `len` bytes long (checked by callers).
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(match errno() {
            libc::EACCES | libc::EPERM => Status::Acces,
            _ => Status::NoMem,
        });
    }
    if !register(p as usize, len) {
        // SAFETY: just mapped above, not shared with anyone yet.
        unsafe { libc::munmap(p, len) };
        return Err(Status::NoMem);
    }
    Ok(p.cast())
}

/// A zeroed `MAP_SHARED | MAP_ANONYMOUS` mapping, inherited by `fork()`ed children.
pub fn map_anonymous(len: usize) -> MpResult<*mut u8> {
    if len == 0 {
        return Err(Status::Inval);
    }
    mmap_shared(-1, len)
}

// ---------------------------------------------------------------------------
// Named objects
// ---------------------------------------------------------------------------

struct Fd(libc::c_int);
impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own this descriptor.
        unsafe { libc::close(self.0) };
    }
}

fn open_fd(path: &CStr, oflags: libc::c_int, mode: libc::mode_t) -> MpResult<Fd> {
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
            libc::ELOOP => Status::BadObj,
            e => Status::from_errno(e),
        });
    }
    Ok(Fd(fd))
}

fn file_size(fd: &Fd) -> MpResult<usize> {
    // SAFETY: `st` is a valid out-buffer; `fd` is open.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    if unsafe { libc::fstat(fd.0, &mut st) } != 0 {
        return Err(Status::Sys);
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Status::BadObj);
    }
    Ok(st.st_size as usize)
}

/// What a named open produced.
pub struct Opened {
    /// Start of the mapping (registered; release with [`unmap`]).
    pub base: *mut u8,
    /// Length of the mapping.
    pub len: usize,
    /// True if this call created (and initialised) the object.
    pub created: bool,
}

/// How to create or check one kind of named object.
pub trait NamedSpec {
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

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Opens (and with `MP_CREATE`, creates) the named object described by `spec`.
pub fn open_named(name: &CStr, flags: u32, mode: u32, spec: &dyn NamedSpec) -> MpResult<Opened> {
    validate_flags(flags)?;
    let bare = validate_name(name)?;
    let mode = effective_mode(mode)?;
    let path = path_of(bare);
    // Bounded: each round either returns or observed the name vanish/appear under us.
    for _ in 0..64 {
        if flags & FLAG_EXCL == 0 {
            match open_existing(&path, spec) {
                Err(Status::NoEnt) if flags & FLAG_CREATE != 0 => {}
                other => return other,
            }
        }
        if flags & FLAG_CREATE == 0 {
            return Err(Status::NoEnt);
        }
        match create_new(&path, mode, spec) {
            Err(Status::Exist) if flags & FLAG_EXCL == 0 => continue,
            other => return other,
        }
    }
    Err(Status::Busy)
}

fn open_existing(path: &CStr, spec: &dyn NamedSpec) -> MpResult<Opened> {
    let fd = open_fd(path, libc::O_RDWR, 0)?;
    let size = file_size(&fd)?;
    let len = spec.map_size(size)?;
    if len == 0 || len > size {
        return Err(Status::BadObj);
    }
    let base = mmap_shared(fd.0, len)?;
    if let Err(e) = spec.check(base, len) {
        let _ = unmap(base as usize);
        return Err(e);
    }
    Ok(Opened {
        base,
        len,
        created: false,
    })
}

fn create_new(path: &CStr, mode: libc::mode_t, spec: &dyn NamedSpec) -> MpResult<Opened> {
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = super::time::monotonic_now();
    let tmp = std::ffi::CString::new(format!("{SHM_DIR}.mpsync-tmp-{pid}-{n}-{:x}", now.tv_nsec))
        .map_err(|_| Status::Sys)?;
    let fd = open_fd(&tmp, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, 0o600)?;
    // From here on the temporary name must go, whatever happens.
    let result = (|| {
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
        let base = mmap_shared(fd.0, size)?;
        if let Err(e) = spec.init(base) {
            let _ = unmap(base as usize);
            return Err(e);
        }
        // Publish only a fully initialised object.
        core::sync::atomic::fence(Ordering::SeqCst);
        // SAFETY: both are valid NUL-terminated paths.
        if unsafe { libc::link(tmp.as_ptr(), path.as_ptr()) } != 0 {
            let e = errno();
            let _ = unmap(base as usize);
            return Err(Status::from_errno(e));
        }
        Ok(Opened {
            base,
            len: size,
            created: true,
        })
    })();
    // SAFETY: `tmp` is our own temporary file's path.
    unsafe { libc::unlink(tmp.as_ptr()) };
    drop(fd);
    result
}

/// Removes a name (`mp_unlink`). Existing mappings stay valid.
pub fn unlink_name(name: &CStr) -> MpResult<()> {
    let bare = validate_name(name)?;
    let path = path_of(bare);
    // SAFETY: valid NUL-terminated path.
    if unsafe { libc::unlink(path.as_ptr()) } != 0 {
        return Err(Status::from_errno(errno()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> std::ffi::CString {
        std::ffi::CString::new(s).unwrap()
    }

    #[test]
    fn name_rules() {
        assert_eq!(validate_name(&c("abc")), Ok("abc"));
        assert_eq!(validate_name(&c("/a.b_c-9")), Ok("a.b_c-9"));
        for bad in ["", "/", "//a", "a/b", "..", ".", "/..", "a b", "é", "a\\b"] {
            assert_eq!(validate_name(&c(bad)), Err(Status::Inval), "{bad:?}");
        }
        let long = "x".repeat(NAME_MAX_LEN);
        assert!(validate_name(&c(&long)).is_ok());
        assert!(validate_name(&c(&format!("/{long}"))).is_ok());
        assert_eq!(validate_name(&c(&format!("{long}x"))), Err(Status::Inval));
    }

    #[test]
    fn flags_and_mode() {
        assert!(validate_flags(0).is_ok() && validate_flags(3).is_ok());
        assert_eq!(validate_flags(4), Err(Status::Inval));
        assert_eq!(validate_flags(FLAG_EXCL), Err(Status::Inval));
        assert_eq!(effective_mode(0), Ok(0o600));
        assert_eq!(effective_mode(0o644), Ok(0o644));
        assert_eq!(effective_mode(0o4755), Err(Status::Inval));
    }

    #[test]
    fn anonymous_mappings_are_registered_once() {
        let p = map_anonymous(100).unwrap();
        assert_eq!(mapping_len(p as usize), Some(100));
        assert_eq!(unmap(p as usize), Ok(()));
        assert_eq!(unmap(p as usize), Err(Status::Inval));
        assert_eq!(map_anonymous(0), Err(Status::Inval));
    }
}

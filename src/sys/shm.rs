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

/// Address -> length of every mapping this library made (no fixed limit: CPython
/// programs create tens of thousands of semaphores).
static REGISTRY_LOCK: AtomicBool = AtomicBool::new(false);
static mut REGISTRY: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();

fn with_registry<R>(f: impl FnOnce(&mut std::collections::BTreeMap<usize, usize>) -> R) -> R {
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
    with_registry(|reg| reg.insert(addr, len).is_none())
}

/// Length of a mapping this library made at `addr`, if any.
pub fn mapping_len(addr: usize) -> Option<usize> {
    with_registry(|reg| reg.get(&addr).copied())
}

/// Unmaps a mapping this library made at `addr`. `MP_EINVAL` if there is none;
/// `MP_EBUSY` (nothing changes) if the calling thread holds an RLock inside it.
pub fn unmap(addr: usize) -> MpResult<()> {
    if let Some(len) = mapping_len(addr) {
        super::robust::thread_holds_lock_in(addr, len)?;
    }
    let len = with_registry(|reg| reg.remove(&addr)).ok_or(Status::Inval)?;
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
            // The name holds something that is not an object file: a symbolic link
            // (O_NOFOLLOW), a directory, or a UNIX socket (ENXIO).
            libc::ELOOP | libc::EISDIR | libc::ENXIO => Status::BadObj,
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

/// Allocates the backing store of a new object's file up front, so that a `/dev/shm`
/// that is too small fails the creation with `MP_ENOMEM` instead of killing a later
/// toucher of the pages with `SIGBUS`. Filesystems without `fallocate` keep the
/// sparse file.
fn reserve(fd: &Fd, size: usize) -> MpResult<()> {
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
        reserve(&fd, size)?;
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

// ---------------------------------------------------------------------------
// Raw shared-memory blocks (CPython's `SharedMemory`)
// ---------------------------------------------------------------------------

/// Prefix of generated block names, as CPython's `_SHM_NAME_PREFIX`.
pub const BLOCK_NAME_PREFIX: &str = "psm_";

/// How many generated names `open_block` tries before giving up with `MP_EEXIST`
/// (CPython retries forever; 2^32 names make a collision streak this long
/// impossible in practice).
const BLOCK_NAME_ATTEMPTS: u32 = 1000;

/// A fresh block name like CPython's: `psm_` and 8 random lowercase hex digits.
pub fn unique_block_name() -> String {
    let mut buf = [0u8; 4];
    // SAFETY: `buf` is 4 writable bytes.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), 4, libc::GRND_NONBLOCK) };
    let mut r = u32::from_ne_bytes(buf);
    if n != 4 {
        // No entropy yet: mix the pid, the clock and a counter (collisions only cost
        // a retry).
        let now = super::time::monotonic_now();
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() } as u32;
        let c = TMP_COUNTER.fetch_add(1, Ordering::Relaxed) as u32;
        r = (now.tv_nsec as u32) ^ pid.rotate_left(16) ^ c.wrapping_mul(0x9E37_79B9);
    }
    format!("{BLOCK_NAME_PREFIX}{r:08x}")
}

/// A raw block: no header; creation only sizes the file, and opening maps whatever
/// size the file has (CPython attaches that way), except an empty file, which cannot
/// be mapped (`MP_EBADOBJ`; CPython: "cannot mmap an empty file").
struct BlockSpec {
    size: usize,
}

impl NamedSpec for BlockSpec {
    fn create_size(&self) -> usize {
        self.size
    }
    fn init(&self, _base: *mut u8) -> MpResult<()> {
        Ok(())
    }
    fn map_size(&self, file_size: usize) -> MpResult<usize> {
        if file_size == 0 || file_size > isize::MAX as usize {
            Err(Status::BadObj)
        } else {
            Ok(file_size)
        }
    }
    fn check(&self, _base: *mut u8, _len: usize) -> MpResult<()> {
        Ok(())
    }
}

/// A raw block opened by [`open_block`].
pub struct Block {
    /// The mapping (registered; release with [`unmap`]).
    pub opened: Opened,
    /// The name without a leading `/` (what CPython's `SharedMemory.name` shows).
    pub name: String,
}

/// Opens (or with `MP_CREATE` creates) a raw shared-memory block at
/// `/dev/shm/<name>`, the file glibc's `shm_open("/<name>")` and CPython's
/// `SharedMemory(name)` use. With `name == None` (only with `MP_CREATE`) a fresh
/// `psm_XXXXXXXX` name is chosen, retrying on collisions.
///
/// Creating (`MP_CREATE`) requires `size > 0`; opening an existing block ignores
/// `size` and maps the whole file. Arguments are checked before anything is created.
pub fn open_block(name: Option<&CStr>, flags: u32, size: usize, mode: u32) -> MpResult<Block> {
    validate_flags(flags)?;
    effective_mode(mode)?;
    if flags & FLAG_CREATE != 0 && size == 0 {
        return Err(Status::Inval);
    }
    if size > isize::MAX as usize {
        return Err(Status::NoMem);
    }
    let spec = BlockSpec { size };
    match name {
        Some(name) => {
            let bare = validate_name(name)?.to_owned();
            let opened = open_named(name, flags, mode, &spec)?;
            Ok(Block { opened, name: bare })
        }
        None if flags & FLAG_CREATE == 0 => Err(Status::Inval),
        None => {
            for _ in 0..BLOCK_NAME_ATTEMPTS {
                let bare = unique_block_name();
                let cname = std::ffi::CString::new(bare.as_str()).map_err(|_| Status::Sys)?;
                match open_named(&cname, FLAG_CREATE | FLAG_EXCL, mode, &spec) {
                    Err(Status::Exist) => continue,
                    Err(e) => return Err(e),
                    Ok(opened) => return Ok(Block { opened, name: bare }),
                }
            }
            Err(Status::Exist)
        }
    }
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

/// Unit tests that make mappings hold this for reading; a test that uses a stale
/// (unmapped) address holds it for writing, so no other test's mapping can be at that
/// address meanwhile.
#[cfg(test)]
pub(crate) static TEST_MAPPINGS: std::sync::RwLock<()> = std::sync::RwLock::new(());

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_guard() -> std::sync::RwLockReadGuard<'static, ()> {
        TEST_MAPPINGS.read().unwrap_or_else(|e| e.into_inner())
    }

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
        // Exclusive: the second unmap below uses a stale address, which another test
        // thread's new mapping could otherwise occupy.
        let _g = TEST_MAPPINGS.write().unwrap_or_else(|e| e.into_inner());
        let p = map_anonymous(100).unwrap();
        assert_eq!(mapping_len(p as usize), Some(100));
        assert_eq!(unmap(p as usize), Ok(()));
        assert_eq!(unmap(p as usize), Err(Status::Inval));
        assert_eq!(map_anonymous(0), Err(Status::Inval));
    }

    #[test]
    fn generated_block_names_look_like_cpython() {
        for _ in 0..20 {
            let n = unique_block_name();
            assert_eq!(n.len(), 12, "{n}");
            assert!(n.starts_with("psm_"));
            assert!(
                n[4..]
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            assert!(validate_name(&c(&n)).is_ok());
        }
    }

    #[test]
    fn blocks_get_the_exact_mode_and_size() {
        let _g = shared_guard();
        let name = format!("mpsync-unit-{}-blk", std::process::id());
        let cn = c(&name);
        let _ = unlink_name(&cn);
        let b = open_block(Some(&cn), FLAG_CREATE | FLAG_EXCL, 12289, 0o640).unwrap();
        assert!(b.opened.created);
        assert_eq!((b.opened.len, b.name.as_str()), (12289, name.as_str()));
        let meta = std::fs::metadata(format!("{SHM_DIR}{name}")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!((meta.mode() & 0o7777, meta.size()), (0o640, 12289));
        // Opening ignores the size; MP_CREATE alone opens the existing block.
        let o = open_block(Some(&c(&format!("/{name}"))), FLAG_CREATE, 5, 0).unwrap();
        assert!(!o.opened.created);
        assert_eq!((o.opened.len, o.name.as_str()), (12289, name.as_str()));
        assert_eq!(
            open_block(Some(&cn), FLAG_CREATE | FLAG_EXCL, 1, 0).map(|_| ()),
            Err(Status::Exist)
        );
        unmap(o.opened.base as usize).unwrap();
        unmap(b.opened.base as usize).unwrap();
        unlink_name(&cn).unwrap();
        assert_eq!(
            open_block(Some(&cn), 0, 1, 0).map(|_| ()),
            Err(Status::NoEnt)
        );
        // Arguments are checked before anything is created.
        assert_eq!(
            open_block(Some(&cn), FLAG_CREATE, 0, 0).map(|_| ()),
            Err(Status::Inval)
        );
        assert_eq!(open_block(None, 0, 10, 0).map(|_| ()), Err(Status::Inval));
        assert_eq!(
            open_block(Some(&cn), FLAG_CREATE, 10, 0o1777).map(|_| ()),
            Err(Status::Inval)
        );
        assert!(std::fs::metadata(format!("{SHM_DIR}{name}")).is_err());
    }

    #[test]
    fn empty_files_and_directories_are_not_blocks() {
        let _g = shared_guard();
        let name = format!("mpsync-unit-{}-odd", std::process::id());
        let path = format!("{SHM_DIR}{name}");
        std::fs::write(&path, b"").unwrap();
        assert_eq!(
            open_block(Some(&c(&name)), 0, 0, 0).map(|_| ()),
            Err(Status::BadObj)
        );
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert_eq!(
            open_block(Some(&c(&name)), FLAG_CREATE, 8, 0).map(|_| ()),
            Err(Status::BadObj)
        );
        std::fs::remove_dir(&path).unwrap();
    }
}

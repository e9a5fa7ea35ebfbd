//! Names, `*_open` flags and permission modes: pure argument checks, no system calls.

use std::ffi::CStr;
#[cfg(test)]
use std::ffi::CString;

use crate::fallible::StackStr;
use crate::status::{MpResult, Status};

/// Where POSIX shared-memory names live on Linux (glibc's `shm_open` directory).
pub const SHM_DIR: &str = "/dev/shm/";
/// [`SHM_DIR`] as a C string.
pub(crate) const SHM_DIR_C: &CStr = c"/dev/shm/";
const _: () = {
    let (a, b) = (SHM_DIR.as_bytes(), SHM_DIR_C.to_bytes());
    assert!(a.len() == b.len());
    let mut i = 0;
    while i < a.len() {
        assert!(a[i] == b[i]);
        i += 1;
    }
};
/// Longest accepted name, not counting an optional leading `/`.
pub(crate) const NAME_MAX_LEN: usize = 200;

/// `MP_CREATE`: create the object if the name does not exist.
pub(crate) const FLAG_CREATE: u32 = 1;
/// `MP_EXCL`: with `MP_CREATE`, fail with `MP_EEXIST` if the name exists.
pub(crate) const FLAG_EXCL: u32 = 2;
/// `MP_ANY_OWNER`: accept an existing object whose file belongs to another user
/// (without it, such an object is refused with `MP_EACCES`: a user who planted the
/// name could otherwise rewrite the lock words of a privileged opener).
pub(crate) const FLAG_ANY_OWNER: u32 = 16;

/// Checks the name rules (1–200 of `[A-Za-z0-9._-]`, optionally after one `/`;
/// not `.` or `..`) and returns the bare name (without the `/`).
pub(crate) fn validate_name(name: &CStr) -> MpResult<&str> {
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
pub(crate) fn validate_flags(flags: u32) -> MpResult<()> {
    if flags & !(FLAG_CREATE | FLAG_EXCL | FLAG_ANY_OWNER) != 0
        || flags & (FLAG_CREATE | FLAG_EXCL) == FLAG_EXCL
    {
        return Err(Status::Inval);
    }
    Ok(())
}

/// `mode == 0` means `0600`; only permission bits are accepted.
pub(crate) fn effective_mode(mode: u32) -> MpResult<libc::mode_t> {
    if mode & !0o777 != 0 {
        return Err(Status::Inval);
    }
    Ok(if mode == 0 { 0o600 } else { mode })
}

/// A path under [`SHM_DIR`], built on the stack: room for the directory and any name
/// of the namespace (a file name has at most 255 bytes).
pub(crate) type ShmPath = StackStr<{ SHM_DIR.len() + 256 }>;

/// `/dev/shm/<bare>` for a bare name (one path component of at most 255 bytes, such
/// as a validated name); `MP_EINVAL` for anything longer or with a NUL.
pub(crate) fn path_of(bare: &str) -> MpResult<ShmPath> {
    let mut p = ShmPath::new();
    if p.push_bytes(SHM_DIR.as_bytes()) && p.push_bytes(bare.as_bytes()) {
        Ok(p)
    } else {
        Err(Status::Inval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> CString {
        CString::new(s).unwrap()
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
        for ok in [0, 1, 3, 16, 17, 19] {
            assert!(validate_flags(ok).is_ok(), "{ok}");
        }
        for bad in [2, 4, 8, 18, 32, 9] {
            assert_eq!(validate_flags(bad), Err(Status::Inval), "{bad}");
        }
        assert_eq!(effective_mode(0), Ok(0o600));
        assert_eq!(effective_mode(0o644), Ok(0o644));
        assert_eq!(effective_mode(0o4755), Err(Status::Inval));
    }
}

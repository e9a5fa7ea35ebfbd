//! Status codes: the one vocabulary every layer speaks.
//!
//! The raw state machines return [`Status`]; the FFI layer passes it to C as the
//! plain `int32_t` typedef `mp_status`. Numbers are part of the ABI and are never
//! reused: a retired code stays here as a comment.

/// Outcome of a libmpsync call. `Ok`, `Timeout` and `OwnerDead` are outcomes
/// (non-negative); everything else is an error (negative).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    /// `MP_OK` (see the C header for its meaning).
    Ok = 0,
    /// `MP_TIMEOUT` (see the C header for its meaning).
    Timeout = 1,
    /// `MP_OWNER_DEAD` (see the C header for its meaning).
    OwnerDead = 2,
    /// `MP_EINVAL` (see the C header for its meaning).
    Inval = -1,
    /// `MP_EBADOBJ` (see the C header for its meaning).
    BadObj = -2,
    /// `MP_ENOTOWNER` (see the C header for its meaning).
    NotOwner = -3,
    /// `MP_EOVERFLOW` (see the C header for its meaning).
    Overflow = -4,
    /// `MP_EINTR` (see the C header for its meaning).
    Intr = -5,
    /// `MP_EBROKEN` (see the C header for its meaning).
    Broken = -6,
    /// `MP_EEXIST` (see the C header for its meaning).
    Exist = -7,
    /// `MP_ENOENT` (see the C header for its meaning).
    NoEnt = -8,
    /// `MP_EACCES` (see the C header for its meaning).
    Acces = -9,
    /// `MP_ENOMEM` (see the C header for its meaning).
    NoMem = -10,
    /// `MP_EBUSY` (see the C header for its meaning).
    Busy = -11,
    /// `MP_ERANGE` (see the C header for its meaning).
    Range = -12,
    /// `MP_ESYS` (see the C header for its meaning).
    Sys = -13,
}

/// Every code, in table order (used by `mp_status_name` tests and docs).
pub const ALL: [Status; 16] = [
    Status::Ok,
    Status::Timeout,
    Status::OwnerDead,
    Status::Inval,
    Status::BadObj,
    Status::NotOwner,
    Status::Overflow,
    Status::Intr,
    Status::Broken,
    Status::Exist,
    Status::NoEnt,
    Status::Acces,
    Status::NoMem,
    Status::Busy,
    Status::Range,
    Status::Sys,
];

impl Status {
    /// The code as C sees it.
    #[inline]
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The status for a C code, if it is one of ours.
    pub fn from_code(code: i32) -> Option<Status> {
        ALL.iter().copied().find(|s| s.code() == code)
    }

    /// NUL-terminated symbolic name, e.g. `"MP_TIMEOUT"`.
    pub const fn name_cstr(self) -> &'static [u8] {
        match self {
            Status::Ok => b"MP_OK\0",
            Status::Timeout => b"MP_TIMEOUT\0",
            Status::OwnerDead => b"MP_OWNER_DEAD\0",
            Status::Inval => b"MP_EINVAL\0",
            Status::BadObj => b"MP_EBADOBJ\0",
            Status::NotOwner => b"MP_ENOTOWNER\0",
            Status::Overflow => b"MP_EOVERFLOW\0",
            Status::Intr => b"MP_EINTR\0",
            Status::Broken => b"MP_EBROKEN\0",
            Status::Exist => b"MP_EEXIST\0",
            Status::NoEnt => b"MP_ENOENT\0",
            Status::Acces => b"MP_EACCES\0",
            Status::NoMem => b"MP_ENOMEM\0",
            Status::Busy => b"MP_EBUSY\0",
            Status::Range => b"MP_ERANGE\0",
            Status::Sys => b"MP_ESYS\0",
        }
    }

    /// NUL-terminated human description.
    pub const fn message_cstr(self) -> &'static [u8] {
        match self {
            Status::Ok => b"success\0",
            Status::Timeout => b"not acquired before the deadline\0",
            Status::OwnerDead => {
                b"acquired, but the previous owner died while holding it; protected data may be inconsistent\0"
            }
            Status::Inval => b"invalid argument\0",
            Status::BadObj => {
                b"memory does not hold a live object of this type and layout version\0"
            }
            Status::NotOwner => b"the calling thread does not own the lock\0",
            Status::Overflow => {
                b"released too many times (lock not held, semaphore at its maximum, or recursion depth exhausted)\0"
            }
            Status::Intr => b"interrupted by a signal handler; nothing changed\0",
            Status::Broken => b"the barrier is broken, or was reset or aborted while waiting\0",
            Status::Exist => b"an object of that name already exists\0",
            Status::NoEnt => b"no object of that name\0",
            Status::Acces => b"permission denied\0",
            Status::NoMem => b"out of memory or address space\0",
            Status::Busy => b"object is in use (held or waited on)\0",
            Status::Range => b"index or length out of bounds\0",
            Status::Sys => b"unexpected operating-system error (see errno)\0",
        }
    }

    /// True for `Ok`, `Timeout` and `OwnerDead`.
    #[inline]
    pub const fn is_outcome(self) -> bool {
        (self as i32) >= 0
    }

    /// Maps an errno from a file/mapping call to the closest status.
    pub fn from_errno(errno: i32) -> Status {
        match errno {
            libc::EEXIST => Status::Exist,
            libc::ENOENT => Status::NoEnt,
            libc::EACCES | libc::EPERM | libc::EROFS => Status::Acces,
            libc::ENOMEM | libc::ENOSPC | libc::EMFILE | libc::ENFILE => Status::NoMem,
            libc::EINTR => Status::Intr,
            libc::EINVAL | libc::ENAMETOOLONG => Status::Inval,
            _ => Status::Sys,
        }
    }
}

/// Shorthand used throughout the crate.
pub type MpResult<T> = Result<T, Status>;

/// Collapses a `Result<(), Status>` or outcome-carrying result into a `Status`.
#[inline]
pub fn status_of(r: MpResult<Status>) -> Status {
    match r {
        Ok(s) => s,
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_names_are_unique() {
        for s in ALL {
            assert_eq!(Status::from_code(s.code()), Some(s));
            assert!(s.name_cstr().ends_with(b"\0"));
            assert!(s.message_cstr().ends_with(b"\0"));
        }
        let mut names: Vec<_> = ALL.iter().map(|s| s.name_cstr()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert_eq!(Status::from_code(99), None);
    }

    #[test]
    fn outcomes_are_non_negative() {
        assert!(Status::Ok.is_outcome() && Status::Timeout.is_outcome());
        assert!(Status::OwnerDead.is_outcome());
        assert!(!Status::Inval.is_outcome());
    }
}

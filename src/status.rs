//! Status codes: the one vocabulary every layer speaks.
//!
//! The raw state machines return [`Status`]; the FFI layer passes it to C as the
//! plain `int32_t` typedef `mp_status`. Numbers are part of the ABI and are never
//! reused: a retired code stays in the table below as a comment.

/// Defines [`Status`], [`ALL`], [`Status::name_cstr`] and [`Status::message_cstr`] from
/// one table, one line per code (like libuv's `UV_ERRNO_MAP`): variant, number, C name,
/// message. The C constants `MP_*` in `src/ffi/status.rs` (which cbindgen copies into the
/// header) must list the same codes in the same order: `tests/status_codes.rs` compares
/// them element by element.
macro_rules! status_table {
    ($($variant:ident = $code:literal, $name:literal, $message:literal;)*) => {
        /// Outcome of a libmpsync call. `Ok`, `Timeout`, `OwnerDead` and `Created` are
        /// outcomes (non-negative); everything else is an error (negative).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(i32)]
        pub enum Status {
            $(
                #[doc = concat!("`", $name, "` (", stringify!($code), "): ", $message, ".")]
                $variant = $code,
            )*
        }

        /// Every code, in table order.
        pub(crate) const ALL: &[Status] = &[$(Status::$variant),*];

        impl Status {
            /// NUL-terminated symbolic name, e.g. `"MP_TIMEOUT"`.
            pub const fn name_cstr(self) -> &'static [u8] {
                match self {
                    $(Status::$variant => concat!($name, "\0").as_bytes(),)*
                }
            }

            /// NUL-terminated human description.
            pub const fn message_cstr(self) -> &'static [u8] {
                match self {
                    $(Status::$variant => concat!($message, "\0").as_bytes(),)*
                }
            }
        }
    };
}

status_table! {
    Ok = 0, "MP_OK", "success";
    Timeout = 1, "MP_TIMEOUT", "not acquired before the deadline";
    OwnerDead = 2, "MP_OWNER_DEAD", "acquired, but the previous owner died while holding it; protected data may be inconsistent";
    Created = 3, "MP_CREATED", "success: this call created the object";
    Inval = -1, "MP_EINVAL", "invalid argument";
    BadObj = -2, "MP_EBADOBJ", "memory does not hold a live object of this type and layout version";
    NotOwner = -3, "MP_ENOTOWNER", "the calling thread does not own the lock";
    Overflow = -4, "MP_EOVERFLOW", "released too many times (lock not held, semaphore at its maximum, or recursion depth exhausted)";
    Intr = -5, "MP_EINTR", "interrupted by a signal handler; nothing changed";
    Broken = -6, "MP_EBROKEN", "the barrier is broken, or was reset or aborted while waiting";
    Exist = -7, "MP_EEXIST", "an object of that name already exists";
    NoEnt = -8, "MP_ENOENT", "no object of that name";
    Acces = -9, "MP_EACCES", "permission denied";
    NoMem = -10, "MP_ENOMEM", "out of memory or address space";
    Busy = -11, "MP_EBUSY", "object is in use (held or waited on)";
    Range = -12, "MP_ERANGE", "index or length out of bounds";
    Sys = -13, "MP_ESYS", "unexpected operating-system error (see errno)";
    Deadlock = -14, "MP_EDEADLK", "would deadlock: the calling thread already holds this reader-writer lock in a conflicting mode (upgrade refused)";
    MsgSize = -15, "MP_EMSGSIZE", "the message (or batch) can never fit in the queue";
    BufSize = -16, "MP_EBUFSIZE", "the buffer is too small for the next message; nothing was consumed";
    Closed = -17, "MP_ECLOSED", "the queue is closed for writing (end of stream)";
    LeaseLost = -18, "MP_ELEASE", "the cluster lease expired: everything this connection held was lost";
}

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

    /// The symbolic name without its NUL, e.g. `"MP_TIMEOUT"`.
    pub fn name(self) -> &'static str {
        let bytes = self.name_cstr();
        // The table's names are ASCII literals; the fallback is unreachable.
        core::str::from_utf8(&bytes[..bytes.len() - 1]).unwrap_or("MP_UNKNOWN")
    }

    /// True for the outcomes (`Ok`, `Timeout`, `OwnerDead`, `Created`).
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
pub(crate) type MpResult<T> = Result<T, Status>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_names_are_unique() {
        for &s in ALL {
            assert_eq!(Status::from_code(s.code()), Some(s));
            assert!(s.name_cstr().ends_with(b"\0"));
            assert!(s.message_cstr().ends_with(b"\0"));
        }
        let mut names: Vec<_> = ALL.iter().map(|s| s.name_cstr()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert_eq!(Status::from_code(99), None);
        assert_eq!(Status::Timeout.name(), "MP_TIMEOUT");
    }

    #[test]
    fn outcomes_are_non_negative() {
        assert!(Status::Ok.is_outcome() && Status::Timeout.is_outcome());
        assert!(Status::OwnerDead.is_outcome() && Status::Created.is_outcome());
        assert!(!Status::Inval.is_outcome());
    }
}

//! [`Outcome`] and [`Error`]: every status code of the library, split the Rust way.
//!
//! The core's state machines return one [`Status`] (the C ABI passes it on as an
//! `mp_status` integer); here its outcomes (what a call achieved) are an [`Outcome`] and
//! its errors (why it did nothing) an [`Error`], converted from the `Status` directly
//! (`split`, `From<Status>`). Both keep the C number ([`Outcome::code`],
//! [`Error::code`]) and name from the one table in `src/status.rs`, so bindings can show
//! the same vocabulary as the C header.

use core::fmt;

use crate::status::Status;

/// What a successful call achieved: the non-negative status codes.
///
/// ```
/// use mpsync::{Deadline, Outcome, Semaphore};
/// let sem = Semaphore::new(0, 1)?;
/// let got = sem.acquire_unguarded(Deadline::now())?;
/// assert_eq!(got, Outcome::Timeout);
/// assert!(!got.acquired());
/// assert_eq!((got.code(), got.name()), (1, "MP_TIMEOUT"));
/// # Ok::<(), mpsync::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// `MP_OK`: done (acquired, notified, set, ...).
    Ok,
    /// `MP_TIMEOUT`: not acquired before the deadline (never earlier; a try-once call's
    /// deadline is now).
    Timeout,
    /// `MP_OWNER_DEAD`: acquired (or the access was made), but the previous owner of the
    /// lock died holding it: the data it protects may be inconsistent.
    OwnerDead,
    /// `MP_CREATED`: the C ABI's report that an `mp_*_open` with `MP_REPORT_CREATED`
    /// created the object. The Rust API reports it by the handles' `created()` instead:
    /// no Rust call returns this outcome.
    Created,
}

/// Why a call failed; nothing was acquired or changed unless the variant says so.
///
/// ```
/// use mpsync::{Error, Lock};
/// let lock = Lock::new()?;
/// let e = lock.release().unwrap_err(); // not held
/// assert_eq!(e, Error::Overflow);
/// assert_eq!((e.code(), e.name()), (-4, "MP_EOVERFLOW"));
/// let boxed: Box<dyn std::error::Error> = e.into(); // a std error
/// assert!(boxed.to_string().contains("MP_EOVERFLOW"));
/// # Ok::<(), mpsync::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// `MP_EINVAL`: invalid argument (bad name, flags, mode, value, type code).
    Invalid,
    /// `MP_EBADOBJ`: the memory (or the named file) does not hold a live object of this
    /// type and layout version, or an existing named object does not match the
    /// requested parameters.
    BadObject,
    /// `MP_ENOTOWNER`: the calling thread does not own the lock.
    NotOwner,
    /// `MP_EOVERFLOW`: released too many times (lock not held, semaphore at its
    /// maximum), recursion limit, or too many waiters.
    Overflow,
    /// `MP_EINTR`: a signal handler ran during a blocking wait; nothing was acquired.
    /// Retry with the same [`Deadline`](crate::Deadline) to wait for the remaining time.
    Interrupted,
    /// `MP_EBROKEN`: the barrier is broken, or was reset or aborted while waiting.
    Broken,
    /// `MP_EEXIST`: exclusive creation, and the name exists.
    Exists,
    /// `MP_ENOENT`: no object of that name.
    NotFound,
    /// `MP_EACCES`: permission denied, or another user's object opened without
    /// [`OpenOptions::any_owner`](crate::OpenOptions::any_owner).
    PermissionDenied,
    /// `MP_ENOMEM`: out of memory, address space or `/dev/shm` space.
    NoMemory,
    /// `MP_EBUSY`: the object is in use (closing a mapping that holds a lock the
    /// calling thread owns, destroying an object that is held or waited on).
    Busy,
    /// `MP_ERANGE`: index or length out of bounds.
    OutOfRange,
    /// `MP_ESYS`: unexpected operating-system error.
    System,
    /// `MP_EDEADLK`: the calling thread already holds this reader-writer lock in a
    /// conflicting mode (an upgrade from read to write is refused).
    Deadlock,
    /// `MP_EMSGSIZE`: a queue's message (or batch) can never fit (larger than its
    /// capacity, or more messages than its maximum count).
    MessageTooBig,
    /// `MP_EBUFSIZE`: the buffer is too small for a queue's next message (nothing was
    /// consumed).
    BufferTooSmall,
    /// `MP_ECLOSED`: the queue is closed for writing (end of stream).
    Closed,
    /// `MP_ELEASE`: the cluster lease expired (libmpsync_cluster only); everything the
    /// connection held was released by the cluster.
    LeaseLost,
}

impl Outcome {
    /// Every outcome, in the order of the C header's status table.
    pub const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Timeout,
        Outcome::OwnerDead,
        Outcome::Created,
    ];

    fn status(self) -> Status {
        match self {
            Outcome::Ok => Status::Ok,
            Outcome::Timeout => Status::Timeout,
            Outcome::OwnerDead => Status::OwnerDead,
            Outcome::Created => Status::Created,
        }
    }

    /// The C status code (`MP_OK`, `MP_TIMEOUT`, `MP_OWNER_DEAD`, `MP_CREATED`).
    pub fn code(self) -> i32 {
        self.status().code()
    }

    /// The C name, e.g. `"MP_TIMEOUT"`.
    pub fn name(self) -> &'static str {
        self.status().name()
    }

    /// True if the lock was acquired (`Ok` or `OwnerDead`).
    #[inline]
    pub fn acquired(self) -> bool {
        self != Outcome::Timeout
    }
}

impl Error {
    /// Every error, in the order of the C header's status table.
    pub const ALL: [Error; 18] = [
        Error::Invalid,
        Error::BadObject,
        Error::NotOwner,
        Error::Overflow,
        Error::Interrupted,
        Error::Broken,
        Error::Exists,
        Error::NotFound,
        Error::PermissionDenied,
        Error::NoMemory,
        Error::Busy,
        Error::OutOfRange,
        Error::System,
        Error::Deadlock,
        Error::MessageTooBig,
        Error::BufferTooSmall,
        Error::Closed,
        Error::LeaseLost,
    ];

    fn status(self) -> Status {
        match self {
            Error::Invalid => Status::Inval,
            Error::BadObject => Status::BadObj,
            Error::NotOwner => Status::NotOwner,
            Error::Overflow => Status::Overflow,
            Error::Interrupted => Status::Intr,
            Error::Broken => Status::Broken,
            Error::Exists => Status::Exist,
            Error::NotFound => Status::NoEnt,
            Error::PermissionDenied => Status::Acces,
            Error::NoMemory => Status::NoMem,
            Error::Busy => Status::Busy,
            Error::OutOfRange => Status::Range,
            Error::System => Status::Sys,
            Error::Deadlock => Status::Deadlock,
            Error::MessageTooBig => Status::MsgSize,
            Error::BufferTooSmall => Status::BufSize,
            Error::Closed => Status::Closed,
            Error::LeaseLost => Status::LeaseLost,
        }
    }

    /// The (negative) C status code, e.g. `-5` for `Interrupted`.
    pub fn code(self) -> i32 {
        self.status().code()
    }

    /// The C name, e.g. `"MP_EINTR"`.
    pub fn name(self) -> &'static str {
        self.status().name()
    }

    /// The human description the C library's `mp_strerror` gives.
    pub fn message(self) -> &'static str {
        message_of(self.status())
    }
}

impl Outcome {
    /// The human description the C library's `mp_strerror` gives.
    pub fn message(self) -> &'static str {
        message_of(self.status())
    }
}

fn message_of(s: Status) -> &'static str {
    let bytes = s.message_cstr();
    // The table's messages are ASCII literals ending in NUL; the fallback is unreachable.
    core::str::from_utf8(&bytes[..bytes.len() - 1]).unwrap_or("unknown status code")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.name())
    }
}

impl std::error::Error for Error {}

impl From<Status> for Error {
    /// The error of a failed core call. An outcome status (`Ok`, `Timeout`,
    /// `OwnerDead`, `Created`) is no error: the core never fails with one, and one would be reported
    /// as `System` rather than trusted.
    fn from(s: Status) -> Error {
        match s {
            Status::Inval => Error::Invalid,
            Status::BadObj => Error::BadObject,
            Status::NotOwner => Error::NotOwner,
            Status::Overflow => Error::Overflow,
            Status::Intr => Error::Interrupted,
            Status::Broken => Error::Broken,
            Status::Exist => Error::Exists,
            Status::NoEnt => Error::NotFound,
            Status::Acces => Error::PermissionDenied,
            Status::NoMem => Error::NoMemory,
            Status::Busy => Error::Busy,
            Status::Range => Error::OutOfRange,
            Status::Deadlock => Error::Deadlock,
            Status::MsgSize => Error::MessageTooBig,
            Status::BufSize => Error::BufferTooSmall,
            Status::Closed => Error::Closed,
            Status::LeaseLost => Error::LeaseLost,
            Status::Sys | Status::Ok | Status::Timeout | Status::OwnerDead | Status::Created => {
                Error::System
            }
        }
    }
}

/// Splits a status of the core into what the call achieved or why it did nothing.
#[inline]
pub(crate) fn split(s: Status) -> Result<Outcome, Error> {
    match s {
        Status::Ok => Ok(Outcome::Ok),
        Status::Timeout => Ok(Outcome::Timeout),
        Status::OwnerDead => Ok(Outcome::OwnerDead),
        Status::Created => Ok(Outcome::Created),
        e => Err(Error::from(e)),
    }
}

/// For calls whose only success is `Ok` (an outcome is reported as success, as `MP_OK`
/// would be).
#[inline]
pub(crate) fn done(s: Status) -> Result<(), Error> {
    split(s).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::ALL;

    #[test]
    fn every_status_maps_to_exactly_one_outcome_or_error() {
        let ours: Vec<i32> = Outcome::ALL
            .iter()
            .map(|o| o.code())
            .chain(Error::ALL.iter().map(|e| e.code()))
            .collect();
        let table: Vec<i32> = ALL.iter().map(|s| s.code()).collect();
        assert_eq!(ours, table);
        for &s in ALL {
            match split(s) {
                Ok(o) => assert_eq!(o.code(), s.code()),
                Err(e) => {
                    assert_eq!(e.code(), s.code());
                    assert_eq!(Error::from(s), e);
                }
            }
        }
        assert_eq!(Error::from(Status::Timeout), Error::System);
        assert_eq!(Error::Interrupted.name(), "MP_EINTR");
        assert!(Error::Busy.to_string().contains("MP_EBUSY"));
    }
}

//! `mp_status`, the result of every fallible C call, and its codes: one `MP_*`
//! constant per row of the status table in src/status.rs (tests/status_codes.rs reads
//! them from this file and compares them with the table), and the conversion from the
//! core's `Status`.

use crate::status::Status;

/// Result of every fallible call: `MP_OK` (0) and the positive codes are outcomes,
/// negative codes are errors. See `mp_strerror`.
pub type mp_status = i32;

// The status codes: one `MP_*` constant per row of the table in src/status.rs, in the
// same order and with the same numbers (tests/status_codes.rs checks it). They are
// spelled out here because cbindgen copies plain constants, not macro output.

/// Done / acquired (CPython: `True`).
pub const MP_OK: mp_status = 0;
/// Not acquired before the deadline; a non-blocking call's deadline is now
/// (CPython: `False`).
pub const MP_TIMEOUT: mp_status = 1;
/// Acquired, but the previous owner died while holding it: the protected data may be
/// inconsistent. The lock works normally afterwards (no poisoning).
pub const MP_OWNER_DEAD: mp_status = 2;
/// An `mp_*_open` with `MP_REPORT_CREATED` in its flags created the object (and wrote
/// the out-parameter): success, like `MP_OK`, which such an open returns when it found
/// the object existing. Without `MP_REPORT_CREATED` no call returns it.
pub const MP_CREATED: mp_status = 3;
/// Invalid argument: NULL, bad name, bad flags, bad type code, value > max.
pub const MP_EINVAL: mp_status = -1;
/// The memory does not hold a live object of this type and layout version.
pub const MP_EBADOBJ: mp_status = -2;
/// RLock released (or Condition waited) by a thread that does not own it.
pub const MP_ENOTOWNER: mp_status = -3;
/// Released too many times: Lock not held, semaphore at its maximum, recursion depth
/// exhausted.
pub const MP_EOVERFLOW: mp_status = -4;
/// Interrupted by a signal handler; nothing was acquired or changed. Retry to ignore
/// signals.
pub const MP_EINTR: mp_status = -5;
/// The barrier is broken, or was reset or aborted while waiting.
pub const MP_EBROKEN: mp_status = -6;
/// `MP_CREATE | MP_EXCL`, and the name exists.
pub const MP_EEXIST: mp_status = -7;
/// No object of that name.
pub const MP_ENOENT: mp_status = -8;
/// Permission denied.
pub const MP_EACCES: mp_status = -9;
/// Out of memory or address space (or shared-memory space).
pub const MP_ENOMEM: mp_status = -10;
/// The object is in use: destroyed while held or waited on.
pub const MP_EBUSY: mp_status = -11;
/// Index or length out of bounds.
pub const MP_ERANGE: mp_status = -12;
/// Unexpected operating-system error (`errno` tells more).
pub const MP_ESYS: mp_status = -13;
/// Would deadlock: the calling thread already holds this reader-writer lock in a
/// conflicting mode (an upgrade from read to write is refused).
pub const MP_EDEADLK: mp_status = -14;
/// A queue's message (or batch) can never fit: larger than its capacity, or more
/// messages than its maximum count. Nothing was put.
pub const MP_EMSGSIZE: mp_status = -15;
/// The buffer given to a queue's get is too small for the next message: nothing was
/// consumed, and the size needed was written to the length out-parameter.
pub const MP_EBUFSIZE: mp_status = -16;
/// The queue is closed for writing (end of stream): puts fail; gets fail once it is
/// empty.
pub const MP_ECLOSED: mp_status = -17;
/// libmpsync_cluster only (include/mpsync_cluster.h): the connection's etcd lease
/// expired (the process was paused or cut off longer than its TTL), so everything it
/// held was released by the cluster; every later call on the connection says so too.
pub const MP_ELEASE: mp_status = -18;

impl From<Status> for mp_status {
    #[inline]
    fn from(s: Status) -> mp_status {
        s.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_status() {
        // Every status code is compared with the table by tests/status_codes.rs.
        assert_eq!(MP_OWNER_DEAD, Status::OwnerDead.code());
        assert_eq!(MP_ESYS, Status::Sys.code());
        assert_eq!(mp_status::from(Status::Timeout), MP_TIMEOUT);
    }
}

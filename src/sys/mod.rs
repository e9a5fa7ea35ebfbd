//! The operating-system layer: the only place that makes system calls.
//!
//! * [`fork`]: registers a module's own `fork()` handlers, once (a leaf: `shm::registry`
//!   and `thread` register theirs: consistent registry, fresh thread identity).
//! * [`fs`]: directories and text files read into fixed buffers (no heap).
//! * [`futex`]: shared (never `FUTEX_PRIVATE_FLAG`) futex wait/wake on 32-bit words
//!   in shared memory, plus the robust-list syscalls.
//! * [`time`]: absolute `CLOCK_MONOTONIC` deadlines.
//! * [`thread`]: the calling thread's identity (TID, 64-bit owner token), reset after `fork`.
//! * [`robust`]: the thread's kernel robust list and its private book of held locks.
//! * [`liveness`]: the one judge of a recorded owner's death (positive evidence only: the
//!   kernel's `ESRCH`, or a `/proc` entry read completely), without allocating.
//! * [`random`]: random bits for generated names.
//! * [`shm`]: shared mappings: anonymous, and named objects under `/dev/shm`.
//! * [`waitv`]: `futex_waitv`, sleeping on several futex words at once (undo semaphores).
//! * [`racy_copy`]: copying shared bytes that others may be writing meanwhile (no system
//!   call: the machine-specific copy lives here beside the other platform code).

pub(crate) mod fork;
pub(crate) mod fs;
pub(crate) mod futex;
pub(crate) mod liveness;
pub(crate) mod racy_copy;
pub(crate) mod random;
pub(crate) mod robust;
pub(crate) mod shm;
#[cfg(test)]
pub(crate) mod test_util;
pub(crate) mod thread;
pub(crate) mod time;
pub(crate) mod waitv;

/// The calling thread's `errno`.
#[inline]
pub(crate) fn errno() -> i32 {
    // SAFETY: `__errno_location` always returns a valid pointer to the calling
    // thread's errno slot.
    unsafe { *libc::__errno_location() }
}

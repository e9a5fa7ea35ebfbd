//! Futex system calls on 32-bit words in shared memory.
//!
//! Every operation here is a *shared* futex operation: `FUTEX_PRIVATE_FLAG` keys the
//! wait queue on `(mm, address)`, which other processes (and the kernel's robust-list
//! death wake-up, which is always shared) would never find. Waits use
//! `FUTEX_WAIT_BITSET` with an absolute `CLOCK_MONOTONIC` deadline computed once
//! per call ([`Deadline`]).

use core::sync::atomic::AtomicU32;

use super::errno;
use super::time::Deadline;

/// Why [`wait`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Woken, the word no longer held `expected`, or a spurious wake-up: re-check.
    Retry,
    /// The deadline passed (never before it).
    TimedOut,
    /// A signal handler ran (`EINTR`).
    Interrupted,
}

/// The wait/wake mask that matches every mask: plain [`wait`] and [`wake`] use it.
pub(crate) const MASK_ANY: u32 = libc::FUTEX_BITSET_MATCH_ANY as u32;

/// Sleeps while `*word == expected`, until woken, the deadline, or a signal handler.
///
/// `Deadline::Now` never sleeps and reports `TimedOut`.
#[inline]
pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: &Deadline) -> Wake {
    wait_bitset(word, expected, deadline, MASK_ANY)
}

/// As [`wait`], but only [`wake_bitset`] calls whose mask shares a bit with `mask` (or
/// plain [`wake`]s) wake this sleeper. `mask` must not be 0.
pub(crate) fn wait_bitset(word: &AtomicU32, expected: u32, deadline: &Deadline, mask: u32) -> Wake {
    // "Forever" is a deadline ~35,000 years away rather than no timeout: the kernel
    // restarts an untimed wait transparently after an SA_RESTART handler, but a timed
    // one returns EINTR whenever any handler ran. So every handler gives MP_EINTR, as
    // the contract says, whatever flags it was installed with (as glibc's sem_wait).
    // Cost: the kernel arms an hrtimer for every sleep, measured +0.2 µs per same-CPU
    // hand-off (about 10 %); nothing on paths that do not sleep.
    const FAR_FUTURE: libc::timespec = libc::timespec {
        tv_sec: 1 << 40,
        tv_nsec: 0,
    };
    let ts_ptr: *const libc::timespec = match deadline {
        Deadline::Now => return Wake::TimedOut,
        Deadline::Never => &FAR_FUTURE,
        Deadline::At(ts) => ts,
    };
    // SAFETY:
    // * `word` is a live, 4-byte aligned u32 (an `AtomicU32` reference), so the kernel
    //   may read it; futex never writes through the address for FUTEX_WAIT_BITSET.
    // * `ts_ptr` is never null (forever is FAR_FUTURE): it points at a timespec that
    //   outlives the call (a constant, or the caller's deadline).
    // * No FUTEX_PRIVATE_FLAG: the word lives in memory shared between processes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET,
            expected,
            ts_ptr,
            core::ptr::null::<u32>(),
            mask,
        )
    };
    if r == 0 {
        return Wake::Retry;
    }
    match errno() {
        libc::ETIMEDOUT => Wake::TimedOut,
        libc::EINTR => Wake::Interrupted,
        // EAGAIN: the value changed before we slept. Anything else (EFAULT, EINVAL on a
        // corrupted deadline) is treated as a spurious wake-up: callers always re-check
        // the word, and a deadline check bounds the loop.
        _ => Wake::Retry,
    }
}

/// Wakes up to `n` threads (of any process) sleeping on `word`. Returns how many
/// were woken.
/// (The kernel's `FUTEX_WAKE` is `FUTEX_WAKE_BITSET` with every bit, as [`wait`] is
/// [`wait_bitset`] with every bit.)
#[inline]
pub(crate) fn wake(word: &AtomicU32, n: u32) -> u32 {
    wake_bitset(word, n, MASK_ANY)
}

/// Wakes up to `n` threads sleeping on `word` whose wait mask shares a bit with `mask`
/// (see [`wait_bitset`]). Returns how many were woken.
pub(crate) fn wake_bitset(word: &AtomicU32, n: u32, mask: u32) -> u32 {
    let n = n.min(i32::MAX as u32) as i32;
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE_BITSET only uses the address as
    // a key. Shared (no FUTEX_PRIVATE_FLAG) as explained in the module docs.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE_BITSET,
            n,
            core::ptr::null::<libc::timespec>(),
            core::ptr::null::<u32>(),
            mask,
        )
    };
    if r < 0 { 0 } else { r as u32 }
}

/// Wakes every thread sleeping on `word`.
#[inline]
pub(crate) fn wake_all(word: &AtomicU32) -> u32 {
    wake(word, i32::MAX as u32)
}

/// The kernel's `struct robust_list_head` (`include/uapi/linux/futex.h`): 24 bytes on LP64.
#[repr(C)]
pub(crate) struct RobustListHead {
    /// First entry (a pointer to an entry's `next` field); points at `self` when empty.
    /// Bit 0 flags the target entry as a PI futex.
    pub list_next: usize,
    /// Lock word address = entry address + `futex_offset` (glibc LP64: -32).
    pub futex_offset: isize,
    /// The entry being linked or unlinked right now (covers death mid-operation).
    pub list_op_pending: usize,
}

/// `get_robust_list(0)`: the calling thread's registered robust-list head, if any.
pub(crate) fn get_robust_list() -> Option<*mut RobustListHead> {
    let mut head: *mut RobustListHead = core::ptr::null_mut();
    let mut len: libc::size_t = 0;
    // SAFETY: both out-pointers are valid and writable; pid 0 means the caller.
    let r = unsafe { libc::syscall(libc::SYS_get_robust_list, 0, &mut head, &mut len) };
    if r != 0 || len != core::mem::size_of::<RobustListHead>() {
        return None;
    }
    Some(head)
}

/// `set_robust_list(head)`: registers `head` as the calling thread's list.
///
/// # Safety
/// `head` must stay valid (and keep the robust-list format) until the thread exits,
/// execs, or registers another head: the kernel walks it at exit.
pub(crate) unsafe fn set_robust_list(head: *mut RobustListHead) -> bool {
    // SAFETY: forwarded to the caller's contract; the length is the exact struct size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_set_robust_list,
            head,
            core::mem::size_of::<RobustListHead>(),
        )
    };
    r == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    #[test]
    fn wait_returns_on_value_mismatch_and_timeout() {
        let w = AtomicU32::new(5);
        assert_eq!(wait(&w, 4, &Deadline::Never), Wake::Retry);
        assert_eq!(wait(&w, 5, &Deadline::Now), Wake::TimedOut);
        let t0 = std::time::Instant::now();
        assert_eq!(
            wait(&w, 5, &Deadline::from_timeout(true, 30)),
            Wake::TimedOut
        );
        assert!(t0.elapsed() >= std::time::Duration::from_millis(30));
    }

    #[test]
    fn bitset_wakes_only_matching_sleepers() {
        let w = Arc::new(AtomicU32::new(0));
        let sleeper = |mask: u32| {
            let w = w.clone();
            std::thread::spawn(move || {
                wait_bitset(&w, 0, &Deadline::from_timeout(true, 3000), mask)
            })
        };
        let a = sleeper(0b01);
        let b = sleeper(0b10);
        std::thread::sleep(std::time::Duration::from_millis(100));
        // Only the 0b10 sleeper may be woken by this call.
        assert_eq!(wake_bitset(&w, u32::MAX, 0b10), 1);
        assert_eq!(b.join().unwrap(), Wake::Retry);
        assert_eq!(wake(&w, 1), 1);
        assert_eq!(a.join().unwrap(), Wake::Retry);
    }

    #[test]
    fn wake_reaches_a_sleeper() {
        let w = Arc::new(AtomicU32::new(0));
        let w2 = w.clone();
        let t = std::thread::spawn(move || {
            while w2.load(Ordering::Acquire) == 0 {
                wait(&w2, 0, &Deadline::Never);
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        w.store(1, Ordering::Release);
        wake_all(&w);
        t.join().unwrap();
    }
}

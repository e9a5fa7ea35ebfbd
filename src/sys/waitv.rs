//! `futex_waitv(2)` (Linux 5.16): sleep until any of several shared 32-bit futex words
//! is woken. The undo semaphore's waiters use it to sleep on the semaphore's value *and*
//! on the robust words of its holders at once, so that the kernel's owner-death wake-up
//! (which wakes one waiter on the dead holder's word) reaches a waiter without polling.
//!
//! Like [`super::futex`], every entry is shared (no `FUTEX2_PRIVATE`): the words live in
//! memory shared between processes, and the kernel's robust-list wake is always shared.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::errno;
use super::futex::Wake;
use super::time::Deadline;

/// The kernel's limit on entries per call (`FUTEX_WAITV_MAX`).
pub(crate) const WAITV_MAX: usize = 128;

/// `FUTEX2_SIZE_U32`: every word is 32 bits.
const FUTEX2_SIZE_U32: u32 = 2;

/// The kernel's `struct futex_waitv` (`include/uapi/linux/futex.h`).
#[repr(C)]
#[derive(Clone, Copy)]
struct FutexWaitv {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

/// Set once the kernel answered `ENOSYS` (older than 5.16, or filtered by seccomp).
static UNSUPPORTED: AtomicBool = AtomicBool::new(false);

/// Sleeps while every `words[i].0 == words[i].1`, until one of them is woken, the
/// deadline, or a signal handler. `None` if the kernel lacks `futex_waitv` (the caller
/// then sleeps on one word with [`super::futex::wait`]). At most [`WAITV_MAX`] words
/// are used; extra ones are ignored.
pub(crate) fn wait_any(words: &[(&AtomicU32, u32)], deadline: &Deadline) -> Option<Wake> {
    if UNSUPPORTED.load(Ordering::Relaxed) {
        return None;
    }
    // As in `futex::wait_bitset`: "forever" is a far deadline so that every signal
    // handler interrupts the wait (EINTR), whatever its SA_RESTART flag.
    const FAR_FUTURE: libc::timespec = libc::timespec {
        tv_sec: 1 << 40,
        tv_nsec: 0,
    };
    let ts_ptr: *const libc::timespec = match deadline {
        Deadline::Now => return Some(Wake::TimedOut),
        Deadline::Never => &FAR_FUTURE,
        Deadline::At(ts) => ts,
    };
    let mut entries = [FutexWaitv {
        val: 0,
        uaddr: 0,
        flags: 0,
        reserved: 0,
    }; WAITV_MAX];
    let n = words.len().min(WAITV_MAX);
    for (e, (w, v)) in entries.iter_mut().zip(words.iter()) {
        *e = FutexWaitv {
            val: u64::from(*v),
            uaddr: w.as_ptr() as u64,
            flags: FUTEX2_SIZE_U32,
            reserved: 0,
        };
    }
    // SAFETY:
    // * `entries[..n]` are valid `futex_waitv` structs naming live, 4-byte aligned u32
    //   words (each from an `AtomicU32` reference that outlives the call); the kernel
    //   only reads them and the words.
    // * `ts_ptr` points at a timespec that outlives the call (a constant or the
    //   caller's deadline); the clock is CLOCK_MONOTONIC, absolute.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex_waitv,
            entries.as_ptr(),
            n as libc::c_uint,
            0 as libc::c_uint,
            ts_ptr,
            libc::CLOCK_MONOTONIC,
        )
    };
    if r >= 0 {
        return Some(Wake::Retry);
    }
    Some(match errno() {
        libc::ETIMEDOUT => Wake::TimedOut,
        libc::EINTR => Wake::Interrupted,
        libc::ENOSYS => {
            UNSUPPORTED.store(true, Ordering::Relaxed);
            return None;
        }
        // EAGAIN: some word changed before we slept; anything else (EFAULT, EINVAL):
        // a spurious wake-up, the caller re-checks and its deadline bounds the loop.
        _ => Wake::Retry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    #[cfg_attr(miri, ignore = "system call")]
    fn wakes_on_any_word_and_times_out() {
        let a = Arc::new(AtomicU32::new(0));
        let b = Arc::new(AtomicU32::new(7));
        let w = wait_any(&[(&a, 1), (&b, 7)], &Deadline::from_timeout(true, 10));
        // Some word differs at once (a != 1): no sleep.
        assert!(matches!(w, None | Some(Wake::Retry)));
        if w.is_none() {
            return; // kernel without futex_waitv
        }
        let t0 = std::time::Instant::now();
        let w = wait_any(&[(&a, 0), (&b, 7)], &Deadline::from_timeout(true, 30));
        assert_eq!(w, Some(Wake::TimedOut));
        assert!(t0.elapsed() >= std::time::Duration::from_millis(30));
        let (a2, b2) = (a.clone(), b.clone());
        let t = std::thread::spawn(move || {
            wait_any(&[(&a2, 0), (&b2, 7)], &Deadline::from_timeout(true, 10_000))
        });
        // A wake on the second word alone ends the wait (retried until the thread
        // sleeps).
        while crate::sys::futex::wake(&b, 1) == 0 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(t.join().unwrap(), Some(Wake::Retry));
    }
}

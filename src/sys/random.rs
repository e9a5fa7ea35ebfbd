//! Random bits for generated names: the kernel's where it has entropy, else a mix that
//! is merely unlikely to repeat. It imports nothing but the clock (`time`), so every
//! module that generates names can import it without forming a cycle.

use core::sync::atomic::{AtomicU32, Ordering};

/// 32 random bits (unpredictable where the kernel has entropy).
pub(crate) fn random_u32() -> u32 {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut buf = [0u8; 4];
    // SAFETY: `buf` is 4 writable bytes.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), 4, libc::GRND_NONBLOCK) };
    let mut r = u32::from_ne_bytes(buf);
    if n != 4 {
        // No entropy yet: mix the pid, the clock and a counter (for a generated name,
        // a collision only costs a retry).
        let now = super::time::monotonic_now();
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() } as u32;
        let c = COUNTER.fetch_add(1, Ordering::Relaxed);
        r = (now.tv_nsec as u32) ^ pid.rotate_left(16) ^ c.wrapping_mul(0x9E37_79B9);
    }
    r
}

//! Copying shared bytes that another thread or process may be writing at the same time.
//!
//! The queue's single get copies a large message before it takes the lock and keeps the
//! copy only if, under the lock, it proves that nothing moved meanwhile
//! (`raw::queue::ops`, `copy_before_locking`). Until then a producer may be rewriting
//! those bytes with a plain copy, so this read must not be a plain Rust copy: the
//! compiler may assume a plain read races with nothing, and a racing one is undefined
//! behaviour whatever is done with the result.
//!
//! On x86-64 the copy is one `rep movsb` in inline assembly. The compiler sees an opaque
//! block that reads the source and writes the destination, and can assume nothing about
//! its timing; the hardware defines what it reads under concurrent writes (each byte is
//! a value that byte held at some moment: byte loads are single-copy atomic on x86). It
//! is also fast: the CPU moves whole lines, where the portable loop below moves 8 bytes
//! per load (measured: 4 KiB gets about 25 % faster; BENCHMARKS.md, "Queue: the fourth
//! pass").
//!
//! Elsewhere, and for short copies, the copy is relaxed atomic loads. That is the usual
//! seqlock-reader compromise rather than a proof: a producer in the same process writes
//! the bytes with a plain copy, which the language's model still counts as a race with
//! an atomic load; the loaded bytes are used only once validated under the lock.

use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// The shortest copy worth the start-up of `rep movsb`: below it, atomic word loads.
#[cfg(all(target_arch = "x86_64", not(miri)))]
const REP_MOVSB_MIN: usize = 256;

/// Copies `len` bytes from shared `src` to private `dst` while others may be writing
/// `src`: each byte of `dst` is a value its source byte had at some moment during the
/// call (no tearing guarantee beyond the byte: the caller validates the copy before it
/// uses it).
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of `len` bytes; they do not overlap,
/// and nothing else accesses `dst` meanwhile.
#[inline]
pub(crate) unsafe fn copy_racy(src: *const u8, dst: *mut u8, len: usize) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if len >= REP_MOVSB_MIN {
        // SAFETY: `rep movsb` copies `rcx` bytes from `rsi` to `rdi`, in range per the
        // contract; the direction flag is clear on entry to every asm block (Rust's
        // inline-assembly rules), so it copies upwards. It reads `src` as byte loads,
        // which race with nothing in Rust's sense (see the module docs), touches no stack
        // and no flags, and leaves the three registers changed (declared).
        unsafe {
            core::arch::asm!(
                "rep movsb",
                inout("rcx") len => _,
                inout("rsi") src => _,
                inout("rdi") dst => _,
                options(nostack, preserves_flags)
            );
        }
        return;
    }
    // SAFETY: the contract.
    unsafe { copy_with_atomic_loads(src, dst, len) }
}

/// Copies `len` bytes from shared `src` to private `dst` with relaxed atomic loads:
/// byte loads up to `src`'s 8-byte alignment and after the last whole word, 8-byte
/// loads between.
///
/// # Safety
/// As for [`copy_racy`].
#[inline]
unsafe fn copy_with_atomic_loads(src: *const u8, dst: *mut u8, len: usize) {
    let src = src.cast_mut();
    let lead = src.align_offset(8).min(len);
    let words = (len - lead) / 8;
    let mut i = 0;
    // SAFETY (each block below): `i < len`, so `src + i` and `dst + i` are in range per
    // the contract; `src + i` is 8-aligned for the word loads (past `lead`); an atomic
    // load of shared memory never races in the Rust sense; `dst` is unaligned-safe.
    while i < lead {
        unsafe {
            dst.add(i)
                .write(AtomicU8::from_ptr(src.add(i)).load(Ordering::Relaxed))
        };
        i += 1;
    }
    for _ in 0..words {
        unsafe {
            let word = AtomicU64::from_ptr(src.add(i).cast()).load(Ordering::Relaxed);
            dst.add(i).cast::<u64>().write_unaligned(word);
        }
        i += 8;
    }
    while i < len {
        unsafe {
            dst.add(i)
                .write(AtomicU8::from_ptr(src.add(i)).load(Ordering::Relaxed))
        };
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::copy_racy;

    /// Every length and source alignment around both strategies' boundaries copies
    /// exactly the bytes asked for, and nothing past them.
    #[test]
    fn copies_exactly_the_bytes_asked_for() {
        let src: Vec<u8> = (0..1024u32).map(|i| (i * 7 + 3) as u8).collect();
        for off in 0..9 {
            for len in [0, 1, 7, 8, 9, 63, 255, 256, 257, 511, 1000] {
                let mut dst = vec![0xAAu8; len + 16];
                // SAFETY: off + len <= 1024 = src's length; dst has len + 16 bytes.
                unsafe { copy_racy(src.as_ptr().add(off), dst.as_mut_ptr(), len) };
                assert_eq!(&dst[..len], &src[off..off + len], "off {off} len {len}");
                assert!(dst[len..].iter().all(|&b| b == 0xAA), "off {off} len {len}");
            }
        }
    }
}

//! Lock-word state machines on shared memory. No C types here: the FFI layer maps
//! C pointers onto these structs and their `Status` results onto `mp_status`.
//!
//! Every struct is `#[repr(C)]`, made only of atomics and integers (all-zero is a
//! valid bit pattern, so any mapped memory can be *looked at* safely; the header's
//! magic decides whether it is an object), and starts with a [`header::Header`].
//!
//! Names follow one scheme in every state machine:
//! * a public operation `op` is the `#[inline]` fast path, and its `#[cold]` rest is
//!   `op_slow` (`RawEvent::wait` and `wait_slow`); a wake-up helper is `wake_one` or
//!   `wake_all`, after the futex operation it makes;
//! * getters are plain nouns (`parties`, `value`, `count`), predicates start with `is_`
//!   (`is_set`, `is_broken`), and the inspector's racy read of all fields is `snapshot`;
//!   `get_` is not used (the C functions keep their published names, e.g.
//!   `mp_sem_get_value`);
//! * every object has `init`, `header` and `destroy`;
//! * every fixed-size object publishes its `SIZE` and `ALIGN` (`published_layout!`):
//!   the numbers the C ABI's `MP_T_SIZE` / `MP_T_ALIGN` and the safe API's `T::SIZE` /
//!   `T::ALIGN` are checked against.

/// Gives a fixed-size object its published size and alignment, and checks them against
/// the struct at compile time. The alignment is what callers must provide, which may be
/// more than the struct's own (room for a 64-bit field later without an ABI change).
macro_rules! published_layout {
    ($ty:ty, size = $size:expr, align = $align:expr) => {
        impl $ty {
            /// Size in bytes of the object in shared memory (part of the ABI).
            pub(crate) const SIZE: usize = $size;
            /// Alignment the object's memory must have (part of the ABI); at least the
            /// struct's own.
            pub(crate) const ALIGN: usize = $align;
        }
        const _: () = {
            assert!(core::mem::size_of::<$ty>() == <$ty>::SIZE);
            assert!(core::mem::align_of::<$ty>() <= <$ty>::ALIGN);
        };
        // SAFETY: every object of `raw` is `#[repr(C)]` and made only of atomics and
        // integers (this module's rule): all-zero is a valid value.
        #[cfg(test)]
        unsafe impl $crate::raw::test_util::AllZeroValid for $ty {}
    };
}

pub(crate) mod array;
pub(crate) mod barrier;
pub(crate) mod cond;
pub(crate) mod event;
pub(crate) mod header;
pub(crate) mod holder;
pub(crate) mod lock;
pub(crate) mod queue;
pub(crate) mod rlock;
pub(crate) mod rwlock;
pub(crate) mod sem;
pub(crate) mod sem_undo;
pub(crate) mod spin;

use core::sync::atomic::{AtomicU32, Ordering};

/// Stores 0 into every 32-bit word of `obj` after its header: `init`'s first step for
/// an object whose every field starts at 0 but for a few (the caller stores those after).
///
/// # Safety
/// `T` is one of this module's objects (it starts with a [`header::Header`]) made only
/// of atomics, without padding (every byte lies in an `UnsafeCell`, so it may be written
/// through a shared reference), and no other thread accesses its body during the call
/// (init's rule: the object is not published yet), so these 4-byte stores race with no
/// access of another size.
pub(crate) unsafe fn zero_body<T>(obj: &T) {
    const HEADER_WORDS: usize = core::mem::size_of::<header::Header>() / 4;
    const {
        assert!(core::mem::size_of::<T>().is_multiple_of(4));
        assert!(core::mem::size_of::<T>() >= 4 * HEADER_WORDS);
        assert!(core::mem::align_of::<T>() >= 4);
    };
    // SAFETY: `obj` is aligned for u32 and `size_of::<T>() / 4` whole words long (checked
    // above); by the caller's contract every byte is atomic and no access races.
    let words = unsafe {
        core::slice::from_raw_parts(
            (obj as *const T).cast::<AtomicU32>(),
            core::mem::size_of::<T>() / 4,
        )
    };
    for w in &words[HEADER_WORDS..] {
        w.store(0, Ordering::Relaxed);
    }
}

/// Whether any thread really sleeps on `word`, for `destroy`. `sleepers` over-counts
/// waiters that were killed while registered, so a non-zero count is confirmed with the
/// kernel: `FUTEX_WAKE` returns how many threads really sleep on the word (the woken ones
/// re-check and sleep again). If none does, the count was stale and is cleared. (A waiter
/// racing with destroy is a caller bug, as for `pthread_mutex_destroy`.)
pub(crate) fn has_sleepers(sleepers: &AtomicU32, word: &AtomicU32) -> bool {
    if sleepers.load(Ordering::SeqCst) == 0 {
        return false;
    }
    if crate::sys::futex::wake_all(word) != 0 {
        return true;
    }
    sleepers.store(0, Ordering::SeqCst);
    false
}

/// Helpers for the state machines' unit tests.
#[cfg(test)]
pub(crate) mod test_util;

//! A minimal spin mutex for process-private state that is held for a few instructions
//! (never across a blocking call), and that the `fork` handlers can hold across
//! `fork()` without a guard object: `pthread_atfork`'s prepare handler locks it and the
//! parent and child handlers unlock it, so a child never inherits it half-updated.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// See the module documentation.
pub(super) struct SpinMutex<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through `lock`, which gives one thread at a time
// exclusive access; T itself moves between threads, hence `T: Send`.
unsafe impl<T: Send> Sync for SpinMutex<T> {}

/// Exclusive access to the value until dropped.
pub(super) struct Guard<'a, T> {
    mutex: &'a SpinMutex<T>,
}

impl<T> SpinMutex<T> {
    /// An unlocked mutex holding `value`.
    pub(super) const fn new(value: T) -> Self {
        SpinMutex {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the mutex (yielding the CPU while another thread holds it).
    #[inline]
    pub(super) fn lock(&self) -> Guard<'_, T> {
        self.lock_raw();
        Guard { mutex: self }
    }

    /// Takes the mutex without a guard: for the `fork` prepare handler, paired with
    /// [`SpinMutex::unlock_raw`] in the parent and child handlers.
    #[inline]
    pub(super) fn lock_raw(&self) {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
    }

    /// Releases a mutex taken with [`SpinMutex::lock_raw`].
    ///
    /// # Safety
    /// The caller took the mutex with `lock_raw` (in the child after `fork()`: the
    /// forking thread did, in the prepare handler), and no guard is alive.
    #[inline]
    pub(super) unsafe fn unlock_raw(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

impl<T> core::ops::Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves this thread holds the mutex.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T> core::ops::DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves this thread holds the mutex, exclusively.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        self.mutex.locked.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_other_threads() {
        static M: SpinMutex<u64> = SpinMutex::new(0);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..10_000 {
                        let mut g = M.lock();
                        let v = *g;
                        std::hint::spin_loop();
                        *g = v + 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*M.lock(), 40_000);
        M.lock_raw();
        // SAFETY: taken just above, no guard alive.
        unsafe { M.unlock_raw() };
        assert_eq!(*M.lock(), 40_000);
    }
}

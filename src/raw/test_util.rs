//! Helpers for the state machines' unit tests: a fresh object standing in for a
//! mapping, threads hammering one object, and the checks that several primitives share.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::status::Status;

/// Polls `what` every millisecond; panics if it is still false after 20 s.
pub(crate) fn wait_until(what: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !what() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "condition never came true"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// An object whose all-zero bit pattern is a valid value (what a fresh mapping holds).
///
/// # Safety
/// All-zero must be a valid `Self`: `raw`'s rule for every object (`#[repr(C)]`, made
/// only of atomics and integers), which `published_layout!` implements it for.
pub(crate) unsafe trait AllZeroValid: Sized {}

/// A zeroed object on the heap (as a fresh mapping), given to `init`, then shared.
pub(crate) fn fresh<T: AllZeroValid>(init: impl FnOnce(&T)) -> Arc<T> {
    // SAFETY: all-zero is a valid `T` (`AllZeroValid`).
    let obj: Box<T> = Box::new(unsafe { core::mem::zeroed() });
    init(&obj);
    Arc::from(obj)
}

/// How many rounds a hammering test runs: `full`, or `miri` under Miri (which runs
/// threads a thousand times slower).
pub(crate) const fn rounds(full: u32, miri: u32) -> u32 {
    if cfg!(miri) { miri } else { full }
}

/// Runs `body(k, i)` for `i` in `0..rounds` on each of `threads` threads (`k`: the
/// thread's number) and returns when all are done; a panic in any fails the caller.
pub(crate) fn on_threads(threads: usize, rounds: u32, body: impl Fn(usize, u32) + Sync) {
    std::thread::scope(|scope| {
        for k in 0..threads {
            let body = &body;
            scope.spawn(move || (0..rounds).for_each(|i| body(k, i)));
        }
    });
}

/// A counting primitive of `k` units hammered by 6 threads: never more than `k`
/// callers between `acquire` and `release` at once.
pub(crate) fn admits_at_most(
    k: i32,
    acquire: impl Fn() -> Status + Sync,
    release: impl Fn() -> Status + Sync,
) {
    let inside = AtomicI32::new(0);
    on_threads(6, rounds(5_000, 20), |_, _| {
        assert_eq!(acquire(), Status::Ok);
        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(now <= k, "{now} inside with {k} units");
        inside.fetch_sub(1, Ordering::SeqCst);
        assert_eq!(release(), Status::Ok);
    });
}

/// A lock hammered by 4 threads, each adding one to a counter with a plain (not
/// atomic) read-modify-write between `enter` and `leave`: no increment is lost.
pub(crate) fn counts_exactly(enter: impl Fn() + Sync, leave: impl Fn() + Sync) {
    let counter = AtomicU64::new(0);
    let n = rounds(20_000, 50);
    on_threads(4, n, |_, _| {
        enter();
        let v = counter.load(Ordering::Relaxed);
        counter.store(v + 1, Ordering::Relaxed);
        leave();
    });
    assert_eq!(counter.load(Ordering::Relaxed), 4 * u64::from(n));
}

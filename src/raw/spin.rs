//! Bounded spinning before sleeping, shared by the lock words.
//!
//! A contended acquire first watches the word for a short while: a holder with nobody
//! asleep is likely to release within a few hundred nanoseconds, and sleeping costs two
//! system calls and a wake-up. The watcher backs off exponentially between loads
//! (1, 2, 4, … 16 `pause`s): re-reading the line at every `pause` would pull it away
//! from the holder on every iteration, which turns a contended counter into a cache-line
//! ping-pong (measured: the 2-process throughput doubled with the backoff, and each
//! process kept 30–50 % of the operations). Loads only: no write to the line while
//! spinning.
//!
//! **Futile spins.** Spinning pays only while the holder runs on another CPU. The
//! thread's `may_spin` (its affinity when it first used the library) misses a thread
//! that was pinned later, and a holder that shares our CPU with us: then every spin
//! burns its whole budget while the holder cannot run (measured: +3.5 µs per
//! Condition round trip of two processes pinned to one CPU, 14 µs instead of 10). So
//! each thread counts its spins that ran out of budget in a row; after
//! [`FUTILE_LIMIT`] of them it stops spinning and only tries again every
//! [`PROBE_EVERY`]-th time (a spin that sees a release resets the count), so a thread
//! whose holders do run elsewhere again soon spins again.

use core::cell::Cell;
use core::sync::atomic::{AtomicU32, Ordering};

/// Total `pause` instructions a spin may spend (about 2.5 µs on the machines measured).
const SPIN_PAUSES: u32 = 100;
/// The longest single backoff step, in `pause`s.
const MAX_STEP: u32 = 16;

/// Spins in a row that ran out of budget after which a thread stops spinning.
const FUTILE_LIMIT: u32 = 4;
/// While stopped, one contended acquisition in this many spins anyway (a probe).
const PROBE_EVERY: u32 = 64;

thread_local! {
    /// Spins of this thread that ran out of budget in a row (saturating), and the
    /// acquisitions skipped since the last probe. Only reached on contended paths,
    /// which are about to sleep anyway, so the cost of a general-dynamic TLS access
    /// does not matter here.
    static FUTILE: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
}

/// Whether to spin now (see "Futile spins" in the module documentation).
fn spin_may_pay() -> bool {
    FUTILE.with(|f| {
        let (futile, skipped) = f.get();
        if futile < FUTILE_LIMIT {
            return true;
        }
        if skipped + 1 >= PROBE_EVERY {
            f.set((futile, 0));
            return true;
        }
        f.set((futile, skipped + 1));
        false
    })
}

/// Records how a spin ended: `paid` if it saw the word change before its budget ran
/// out.
fn spin_ended(paid: bool) {
    FUTILE.with(|f| {
        let (futile, skipped) = f.get();
        f.set(if paid {
            (0, 0)
        } else {
            (futile.saturating_add(1), skipped)
        });
    });
}

/// Re-reads `word` while `keep_spinning(value)` holds, with exponential backoff, for at
/// most [`SPIN_PAUSES`] pauses. Returns the last value read. Does not spin at all when the
/// calling thread can use only one CPU (the holder could not run meanwhile), nor while
/// its recent spins were futile (see the module documentation). A spin counts as useful
/// when it ends on any value that stops it; see [`spin_until`] to say which values
/// prove it useful.
#[inline]
pub(crate) fn spin_while(word: &AtomicU32, keep_spinning: impl Fn(u32) -> bool) -> u32 {
    spin_until(word, &keep_spinning, |v| !keep_spinning(v))
}

/// [`spin_while`], where only a value for which `released(value)` holds proves the spin
/// useful (the holder released the word): a spin that stops because, say, another
/// waiter marked the word contended was not, and counts as futile.
#[inline]
pub(crate) fn spin_until(
    word: &AtomicU32,
    keep_spinning: impl Fn(u32) -> bool,
    released: impl Fn(u32) -> bool,
) -> u32 {
    if !crate::sys::thread::current().may_spin || !spin_may_pay() {
        return word.load(Ordering::Relaxed);
    }
    let mut step = 1u32;
    let mut budget = SPIN_PAUSES;
    loop {
        let v = word.load(Ordering::Relaxed);
        if !keep_spinning(v) {
            // Only a change seen after pausing can prove the spin useful; a value that
            // ends it at the first load says nothing (e.g. the re-check after a
            // futex wake-up), and must not undo the futile count.
            if budget != SPIN_PAUSES {
                spin_ended(released(v));
            }
            return v;
        }
        if budget == 0 {
            spin_ended(false);
            return v;
        }
        for _ in 0..step {
            core::hint::spin_loop();
        }
        budget = budget.saturating_sub(step);
        step = (step * 2).min(MAX_STEP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_when_the_condition_fails_or_the_budget_ends() {
        let w = AtomicU32::new(1);
        assert_eq!(spin_while(&w, |v| v == 1), 1); // budget ran out
        assert_eq!(spin_while(&w, |v| v == 0), 1); // returns at once
    }

    #[test]
    fn futile_spins_stop_spinning_until_a_probe_pays() {
        // A fresh thread: its own counters.
        std::thread::spawn(|| {
            for _ in 0..FUTILE_LIMIT {
                assert!(spin_may_pay());
                spin_ended(false);
            }
            // Stopped: only every PROBE_EVERY-th call spins.
            let spins = (0..PROBE_EVERY * 2).filter(|_| spin_may_pay()).count();
            assert_eq!(spins, 2);
            // A probe that sees a release turns spinning back on.
            spin_ended(true);
            assert!((0..FUTILE_LIMIT).all(|_| spin_may_pay()));
        })
        .join()
        .unwrap();
    }
}

//! The undo semaphore's unit tests.

use super::test_hooks::{HOOK, HookPoint};
use super::*;
use crate::raw::test_util::{admits_at_most, fresh};
use crate::sys::time::Timeout;
use std::sync::Arc;
use std::sync::atomic::AtomicI32;

fn new_sem(v: u32, max: u32) -> Arc<RawSemUndo> {
    fresh(|s: &RawSemUndo| s.init(v, max, Lifecycle::InPlace))
}

#[test]
fn units_are_matched_to_acquirers() {
    let s = new_sem(2, 2);
    assert_eq!(s.release(), Status::NotOwner);
    assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
    assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
    assert_eq!(s.held_by_caller(), 2);
    assert_eq!(s.acquire(Timeout::NOW), Status::Timeout);
    let s2 = s.clone();
    let other = std::thread::spawn(move || (s2.release(), s2.held_by_caller()))
        .join()
        .unwrap();
    assert_eq!(other, (Status::NotOwner, 0));
    assert_eq!(s.destroy(), Status::Busy);
    assert_eq!(s.release(), Status::Ok);
    assert_eq!(s.release(), Status::Ok);
    assert_eq!(s.release(), Status::NotOwner);
    assert_eq!(s.value(), 2);
    // Fast path again, from the idle slot.
    for _ in 0..1000 {
        assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(s.release(), Status::Ok);
    }
    assert_eq!(s.value(), 2);
    assert_eq!(s.destroy(), Status::Ok);
    assert!(RawSemUndo::valid_args(0, 0));
    assert!(!RawSemUndo::valid_args(0, UNDO_VALUE_MAX + 1));
}

/// The fast paths link and unlink at any depth of the thread's book: among RLocks
/// and other undo semaphores, taken and released in and out of order, the robust
/// list the kernel would walk always matches the book.
#[test]
fn fast_paths_keep_the_robust_list_exact_among_other_locks() {
    use crate::raw::rlock::RawRLock;
    let (a, b) = (new_sem(1, 1), new_sem(1, 1));
    let r = fresh(|r: &RawRLock| r.init(Lifecycle::InPlace));
    // Leave a unit cached in each semaphore's idle slot: the fast paths apply.
    for s in [&a, &b] {
        assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(s.release(), Status::Ok);
    }
    let held = robust::held_by_current_thread_checked;
    let base = held().len();
    for round in 0..3 {
        assert_eq!(a.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(r.acquire(Timeout::FOREVER), Status::Ok);
        assert_eq!(b.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(held().len(), base + 3, "round {round}");
        match round {
            // Out of order, then the last ones.
            0 => {
                assert_eq!(a.release(), Status::Ok);
                assert_eq!(held().len(), base + 2);
                assert_eq!(b.release(), Status::Ok);
                assert_eq!(r.release(), Status::Ok);
            }
            // The RLock in the middle first.
            1 => {
                assert_eq!(r.release(), Status::Ok);
                assert_eq!(b.release(), Status::Ok);
                assert_eq!(a.release(), Status::Ok);
            }
            // In reverse order.
            _ => {
                assert_eq!(b.release(), Status::Ok);
                assert_eq!(r.release(), Status::Ok);
                assert_eq!(a.release(), Status::Ok);
            }
        }
        assert_eq!(held().len(), base, "round {round}");
        assert_eq!((a.value(), b.value()), (1, 1));
    }
    assert_eq!(a.destroy(), Status::Ok);
    assert_eq!(b.destroy(), Status::Ok);
}

#[test]
fn never_admits_more_than_k() {
    let s = new_sem(3, 3);
    admits_at_most(3, || s.acquire(Timeout::FOREVER), || s.release());
    assert_eq!(s.value(), 3);
}

/// A thread takes `units` units of `s` and exits holding them.
fn a_thread_takes_and_exits(s: &Arc<RawSemUndo>, units: u32) {
    let s2 = s.clone();
    std::thread::spawn(move || {
        for _ in 0..units {
            assert_eq!(s2.acquire(Timeout::FOREVER), Status::Ok);
        }
    })
    .join()
    .unwrap();
}

#[test]
#[cfg_attr(miri, ignore = "needs the kernel robust list or /proc")]
fn thread_exit_gives_the_units_back_and_one_acquirer_is_told() {
    let s = new_sem(3, 3);
    a_thread_takes_and_exits(&s, 2);
    assert_eq!(s.value(), 3);
    assert_eq!(s.acquire(Timeout::new(true, 10_000)), Status::Ok);
    // The dead thread's units come back when needed; one acquirer is told.
    let mut told = 0;
    for _ in 0..2 {
        match s.acquire(Timeout::new(true, 10_000)) {
            Status::OwnerDead => told += 1,
            Status::Ok => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(told, 1);
    assert_eq!(s.held_by_caller(), 3);
    for _ in 0..3 {
        assert_eq!(s.release(), Status::Ok);
    }
    assert_eq!(s.value(), 3);
}

/// A thread whose unit is cached in its idle slot is told of a death reported meanwhile:
/// `NS_DEATHS` turns its fast path away, as `DEATHS` does the slow one; once the report
/// is collected, the flag is down again and the fast paths apply.
#[test]
#[cfg_attr(miri, ignore = "needs the kernel robust list or /proc")]
fn a_cached_unit_does_not_hide_a_waiting_report() {
    let s = new_sem(2, 2);
    let me = thread::current();
    assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
    assert_eq!(s.release(), Status::Ok);
    let home = s.home(me);
    if me.robust_head.is_null() {
        return; // robust mode off: no fast path to turn away
    }
    assert_eq!(
        s.slots[home].word.load(Ordering::Relaxed),
        me.tid | IDLE | CACHED_ONE
    );
    a_thread_takes_and_exits(&s, 1);
    assert!(s.reclaim_dead(me));
    assert_ne!(s.ns_flags.load(Ordering::Relaxed) & NS_DEATHS, 0);
    assert_eq!(s.acquire(Timeout::NOW), Status::OwnerDead);
    assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
    assert_eq!(s.ns_flags.load(Ordering::Relaxed), me.same_ns_key);
    assert_eq!(s.release(), Status::Ok);
    assert_eq!(s.release(), Status::Ok);
    assert_eq!(s.value(), 2);
}

/// The report is published (`REPORT`) after an acquirer that took one of the dead
/// holder's units looked for a published report and before it looked for one in
/// flight: it is still that acquirer's (the window a CI run once hit).
#[test]
#[cfg_attr(miri, ignore = "needs the kernel robust list or /proc")]
fn report_published_between_the_two_looks_is_still_collected() {
    use std::sync::mpsc;
    let s = new_sem(2, 2);
    a_thread_takes_and_exits(&s, 2);
    // The reclaimer stops after giving the units back, until the acquirer has
    // looked for a published report; then it publishes and stops again until the
    // acquirer is done (so that it cannot claim the report itself first).
    let (units_back_tx, units_back) = mpsc::channel::<()>();
    let (go_on, go_on_rx) = mpsc::channel::<()>();
    let (published_tx, published) = mpsc::channel::<()>();
    let (done, done_rx) = mpsc::channel::<()>();
    let s3 = s.clone();
    let reclaimer = std::thread::spawn(move || {
        HOOK.with(|h| {
            *h.borrow_mut() = Some(Box::new(move |point| match point {
                HookPoint::ReclaimBeforeReport => {
                    units_back_tx.send(()).unwrap();
                    go_on_rx.recv().unwrap();
                }
                HookPoint::ReclaimReported => {
                    published_tx.send(()).unwrap();
                    done_rx.recv().unwrap();
                }
                HookPoint::CollectAfterClaim => {}
            }));
        });
        let got = s3.acquire(Timeout::new(true, 10_000));
        HOOK.with(|h| h.borrow_mut().take());
        let held = s3.held_by_caller();
        for _ in 0..held {
            assert_eq!(s3.release(), Status::Ok);
        }
        got
    });
    units_back.recv().unwrap();
    let go_on_once = core::cell::Cell::new(Some((go_on, published)));
    HOOK.with(|h| {
        *h.borrow_mut() = Some(Box::new(move |point| {
            if point == HookPoint::CollectAfterClaim {
                if let Some((go_on, published)) = go_on_once.take() {
                    // Let the reclaimer publish, and wait until it has.
                    go_on.send(()).unwrap();
                    published.recv().unwrap();
                }
            }
        }));
    });
    let mine = s.acquire(Timeout::new(true, 10_000));
    HOOK.with(|h| h.borrow_mut().take());
    done.send(()).unwrap();
    assert_eq!(
        mine,
        Status::OwnerDead,
        "the acquirer that took a returned unit is told"
    );
    assert_eq!(reclaimer.join().unwrap(), Status::Ok);
    assert_eq!(s.release(), Status::Ok);
    assert_eq!(s.value(), 2);
}

/// A waiter holds no slot: with one holder of a Semaphore(1) and more blocked
/// waiters than there are slots, another acquirer times out (never `Busy`), and after
/// the release every waiter gets its turn, one at a time.
#[test]
#[cfg_attr(miri, ignore = "70 threads sleeping in futex_waitv")]
fn waiters_use_no_slots() {
    use crate::raw::test_util::wait_until;
    let s = new_sem(1, 1);
    assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
    let n = UNDO_HOLDERS + 6;
    let inside = Arc::new(AtomicI32::new(0));
    let returned = Arc::new(AtomicI32::new(0));
    let ts: Vec<_> = (0..n)
        .map(|_| {
            let (s, inside, returned) = (s.clone(), inside.clone(), returned.clone());
            std::thread::spawn(move || {
                let r = s.acquire(Timeout::new(true, 60_000));
                returned.fetch_add(1, Ordering::SeqCst);
                if r == Status::Ok {
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                    inside.fetch_sub(1, Ordering::SeqCst);
                    assert_eq!(s.release(), Status::Ok);
                }
                r
            })
        })
        .collect();
    // All asleep at once (they wake for the back-stop now and then), unless one
    // returned already.
    wait_until(|| {
        s.sleepers.load(Ordering::SeqCst) as usize == n || returned.load(Ordering::SeqCst) > 0
    });
    assert_eq!(returned.load(Ordering::SeqCst), 0, "a waiter gave up");
    let s2 = s.clone();
    let late = std::thread::spawn(move || s2.acquire(Timeout::new(true, 300)));
    assert_eq!(late.join().unwrap(), Status::Timeout);
    assert_eq!(s.release(), Status::Ok);
    for t in ts {
        assert_eq!(t.join().unwrap(), Status::Ok);
    }
    assert_eq!(s.value(), 1);
}

#[test]
fn full_table_is_busy() {
    let s = new_sem(UNDO_HOLDERS as u32 + 5, UNDO_VALUE_MAX);
    let barrier = Arc::new(std::sync::Barrier::new(UNDO_HOLDERS + 1));
    let done = Arc::new(std::sync::Barrier::new(UNDO_HOLDERS + 1));
    let ts: Vec<_> = (0..UNDO_HOLDERS)
        .map(|_| {
            let (s, b, d) = (s.clone(), barrier.clone(), done.clone());
            std::thread::spawn(move || {
                assert_eq!(s.acquire(Timeout::FOREVER), Status::Ok);
                b.wait();
                d.wait();
                assert_eq!(s.release(), Status::Ok);
            })
        })
        .collect();
    barrier.wait();
    assert_eq!(s.acquire(Timeout::NOW), Status::Busy);
    assert_eq!(s.value(), 5);
    done.wait();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
    assert_eq!(s.release(), Status::Ok);
    assert_eq!(s.value(), UNDO_HOLDERS as u32 + 5);
}

/// The home slot lies at the thread's own line of a page, whatever the object's address,
/// and that line is none of the thread's hot private lines (nor line 0).
#[test]
fn the_home_slot_lies_at_the_threads_line_for_any_placement() {
    let me = thread::current();
    assert_ne!(me.undo_line, 0);
    let private = thread::private_lines_of_current();
    assert_eq!(
        private & (1 << me.undo_line),
        0,
        "line {} is private",
        me.undo_line
    );
    let mut mem = vec![0u64; (RawSemUndo::SIZE + 4096) / 8];
    // Every 8-aligned placement: objects that start inside a line too (`home`'s
    // arithmetic rounds them down).
    for off in (0..4096).step_by(8) {
        // SAFETY: in bounds: `mem` has SIZE + 4096 bytes.
        let p = unsafe { mem.as_mut_ptr().cast::<u8>().add(off) }.cast::<RawSemUndo>();
        // SAFETY: 8-aligned (a Vec<u64>, offsets of 8), SIZE writable bytes, used only by
        // this test.
        let s = unsafe { &*p };
        s.init(1, 1, Lifecycle::InPlace);
        let slot = &s.slots[s.home(me)] as *const Slot as usize;
        assert_eq!((slot >> 6) as u32 % 64, me.undo_line, "object at +{off}");
        assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
        assert_eq!(s.slots[s.home(me)].word.load(Ordering::Relaxed), me.tid);
        assert_eq!(s.release(), Status::Ok);
    }
}

/// As the RwLock's: the inline acquisition (a cached unit) leaves the pending mark on the
/// slot it holds, and the release (inline, or through the general path) takes it off.
#[test]
fn the_pending_mark_stays_on_a_held_slot_and_goes_with_the_release() {
    let s = new_sem(1, 1);
    let me = thread::current();
    if me.robust_head.is_null() {
        return; // robust mode off: no list, no mark
    }
    let home = &s.slots[s.home(me)].list_next;
    for _ in 0..3 {
        assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
        let mark = crate::sys::robust::pending_mark_of_current_thread();
        assert!(
            mark == 0 || mark == home.as_ptr() as usize,
            "mark {mark:#x}"
        );
        assert_eq!(s.release(), Status::Ok);
        assert_eq!(crate::sys::robust::pending_mark_of_current_thread(), 0);
    }
    // The cached path has run (the first acquisition claimed the slot): the mark is on
    // the home slot's node while the unit is held.
    assert_eq!(s.acquire(Timeout::NOW), Status::Ok);
    assert_eq!(
        crate::sys::robust::pending_mark_of_current_thread(),
        home.as_ptr() as usize
    );
    assert_eq!(s.release(), Status::Ok);
    assert_eq!(crate::sys::robust::pending_mark_of_current_thread(), 0);
}

//! Unit tests of the reader-writer state machine (threads of one process; the C tests
//! kill real processes).

use super::*;
use crate::raw::test_util::{fresh, on_threads, rounds, wait_until};
use crate::sys::time::Timeout;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

fn new_rwlock() -> Arc<RawRwLock> {
    fresh(|l: &RawRwLock| l.init(Lifecycle::InPlace))
}

fn on_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().unwrap()
}

#[test]
fn layout_is_published() {
    assert_eq!(RawRwLock::SIZE, 4224);
    assert_eq!(core::mem::size_of::<RawRwLock>(), RawRwLock::SIZE);
}

#[test]
fn readers_share_writers_exclude() {
    let l = new_rwlock();
    assert_eq!(l.release_read(), Status::NotOwner);
    assert_eq!(l.release_write(), Status::NotOwner);
    assert_eq!(l.acquire_read(Timeout::NOW), Status::Ok);
    let l2 = l.clone();
    assert_eq!(
        on_thread(move || {
            let r = l2.acquire_read(Timeout::NOW);
            let w = l2.release_read();
            let x = l2.acquire_write(Timeout::NOW);
            (r, w, x)
        }),
        (Status::Ok, Status::Ok, Status::Timeout)
    );
    assert_eq!(l.destroy(), Status::Busy);
    assert_eq!(l.release_read(), Status::Ok);
    assert_eq!(l.release_read(), Status::NotOwner);
    assert_eq!(l.acquire_write(Timeout::NOW), Status::Ok);
    assert!(l.holds_write());
    let l2 = l.clone();
    assert_eq!(
        on_thread(move || (
            l2.acquire_read(Timeout::NOW),
            l2.acquire_write(Timeout::NOW),
            l2.release_write()
        )),
        (Status::Timeout, Status::Timeout, Status::NotOwner)
    );
    assert_eq!(l.release_write(), Status::Ok);
    assert_eq!(l.destroy(), Status::Ok);
}

#[test]
fn read_reentry_upgrade_and_downgrade_rules() {
    let l = new_rwlock();
    assert_eq!(l.acquire_read(Timeout::NOW), Status::Ok);
    assert_eq!(l.acquire_read(Timeout::NOW), Status::Ok);
    assert_eq!(l.read_level(), 2);
    // Upgrade refused at once, even with a deadline.
    assert_eq!(l.acquire_write(Timeout::FOREVER), Status::Deadlock);
    // Re-entry succeeds even while a writer waits (it waits for our slot).
    let l2 = l.clone();
    let writer = std::thread::spawn(move || {
        let s = l2.acquire_write(Timeout::FOREVER);
        l2.release_write();
        s
    });
    wait_until(|| l.wword.load(Ordering::Relaxed) & FUTEX_TID_MASK != 0);
    assert_eq!(l.acquire_read(Timeout::NOW), Status::Ok);
    assert_eq!(l.read_level(), 3);
    for _ in 0..3 {
        assert_eq!(l.release_read(), Status::Ok);
    }
    assert_eq!(writer.join().unwrap(), Status::Ok);
    assert_eq!(l.acquire_write(Timeout::NOW), Status::Ok);
    assert_eq!(l.acquire_write(Timeout::FOREVER), Status::Deadlock);
    assert_eq!(l.acquire_read(Timeout::FOREVER), Status::Deadlock);
    assert_eq!(l.release_write(), Status::Ok);
}

#[test]
fn past_the_slot_limit_is_busy_and_waiters_use_no_slot() {
    let l = new_rwlock();
    let stop = Arc::new(AtomicBool::new(false));
    let held = Arc::new(AtomicU32::new(0));
    let ts: Vec<_> = (0..RW_READERS)
        .map(|_| {
            let (l, stop, held) = (l.clone(), stop.clone(), held.clone());
            std::thread::spawn(move || {
                assert_eq!(l.acquire_read(Timeout::FOREVER), Status::Ok);
                held.fetch_add(1, Ordering::SeqCst);
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                assert_eq!(l.release_read(), Status::Ok);
            })
        })
        .collect();
    wait_until(|| held.load(Ordering::SeqCst) == RW_READERS as u32);
    assert_eq!(l.acquire_read(Timeout::FOREVER), Status::Busy);
    stop.store(true, Ordering::SeqCst);
    for t in ts {
        t.join().unwrap();
    }
    // Many waiters behind a writer hold no slot.
    assert_eq!(l.acquire_write(Timeout::NOW), Status::Ok);
    let ok = Arc::new(AtomicU32::new(0));
    let ts: Vec<_> = (0..RW_READERS + 16)
        .map(|_| {
            let (l, ok) = (l.clone(), ok.clone());
            std::thread::spawn(move || {
                if l.acquire_read(Timeout::new(true, 20_000)) == Status::Ok {
                    ok.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    assert_eq!(l.release_read(), Status::Ok);
                }
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(l.slots.iter().all(|s| s.word.load(Ordering::SeqCst) == 0));
    assert_eq!(l.release_write(), Status::Ok);
    for t in ts {
        t.join().unwrap();
    }
    // A reader may have found all slots held: tolerated (Busy), but most got in.
    assert!(ok.load(Ordering::SeqCst) > 0);
}

#[test]
#[cfg_attr(miri, ignore = "needs the kernel robust list or /proc")]
fn a_writer_thread_exiting_holding_is_told_once() {
    let l = new_rwlock();
    let l2 = l.clone();
    on_thread(move || assert_eq!(l2.acquire_write(Timeout::FOREVER), Status::Ok));
    assert_eq!(
        l.acquire_read(Timeout::new(true, 10_000)),
        Status::OwnerDead
    );
    assert_eq!(l.release_read(), Status::Ok);
    assert_eq!(l.acquire_write(Timeout::NOW), Status::Ok);
    assert_eq!(l.release_write(), Status::Ok);
    let l2 = l.clone();
    on_thread(move || assert_eq!(l2.acquire_write(Timeout::FOREVER), Status::Ok));
    assert_eq!(
        l.acquire_write(Timeout::new(true, 10_000)),
        Status::OwnerDead
    );
    assert_eq!(l.release_write(), Status::Ok);
    assert_eq!(l.acquire_read(Timeout::NOW), Status::Ok);
    assert_eq!(l.release_read(), Status::Ok);
}

#[test]
#[cfg_attr(miri, ignore = "needs the kernel robust list or /proc")]
fn a_reader_thread_exiting_holding_is_told_once() {
    let l = new_rwlock();
    let l2 = l.clone();
    on_thread(move || assert_eq!(l2.acquire_read(Timeout::FOREVER), Status::Ok));
    // The writer does not wait for the dead reader, and is told.
    assert_eq!(
        l.acquire_write(Timeout::new(true, 10_000)),
        Status::OwnerDead
    );
    assert_eq!(l.release_write(), Status::Ok);
    assert_eq!(l.acquire_write(Timeout::NOW), Status::Ok);
    assert_eq!(l.release_write(), Status::Ok);
    // A reader meeting a dead slot on its way is told too.
    let home_of_other = {
        let l2 = l.clone();
        on_thread(move || {
            assert_eq!(l2.acquire_read(Timeout::FOREVER), Status::Ok);
            home(thread::current())
        })
    };
    wait_until(|| l.slots[home_of_other].word.load(Ordering::SeqCst) & FUTEX_OWNER_DIED != 0);
    let mut told = 0;
    for _ in 0..RW_READERS {
        // Readers from fresh threads (other home slots) until one meets it.
        let l2 = l.clone();
        let s = on_thread(move || {
            let s = l2.acquire_read(Timeout::FOREVER);
            l2.release_read();
            s
        });
        told += usize::from(s == Status::OwnerDead);
    }
    assert!(told <= 1);
    // Whoever has not been told: the next writer is.
    let s = l.acquire_write(Timeout::NOW);
    assert_eq!(
        s,
        if told == 1 {
            Status::Ok
        } else {
            Status::OwnerDead
        }
    );
    assert_eq!(l.release_write(), Status::Ok);
}

#[test]
fn threads_exclude_exactly() {
    let l = new_rwlock();
    let st = AtomicU64::new(0); // readers in low half, writers in high
    on_threads(4, rounds(3_000, 20), |k, i| {
        if (i as usize + k).is_multiple_of(3) {
            assert_eq!(l.acquire_write(Timeout::FOREVER), Status::Ok);
            let v = st.fetch_add(1 << 32, Ordering::SeqCst);
            assert_eq!(v, 0, "a writer with another holder");
            st.fetch_sub(1 << 32, Ordering::SeqCst);
            assert_eq!(l.release_write(), Status::Ok);
        } else {
            assert_eq!(l.acquire_read(Timeout::FOREVER), Status::Ok);
            let v = st.fetch_add(1, Ordering::SeqCst);
            assert_eq!(v >> 32, 0, "a reader with a writer");
            st.fetch_sub(1, Ordering::SeqCst);
            assert_eq!(l.release_read(), Status::Ok);
        }
    });
    assert_eq!(l.destroy(), Status::Ok);
}

#[test]
fn a_writer_stream_lets_a_waiting_reader_in_and_a_reader_stream_a_writer() {
    for writers_stream in [true, false] {
        let l = new_rwlock();
        let stop = Arc::new(AtomicBool::new(false));
        let streams: Vec<_> = (0..2)
            .map(|_| {
                let (l, stop) = (l.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if writers_stream {
                            assert_eq!(l.acquire_write(Timeout::FOREVER), Status::Ok);
                            std::thread::sleep(std::time::Duration::from_micros(200));
                            assert_eq!(l.release_write(), Status::Ok);
                        } else {
                            assert_eq!(l.acquire_read(Timeout::FOREVER), Status::Ok);
                            std::thread::sleep(std::time::Duration::from_micros(200));
                            assert_eq!(l.release_read(), Status::Ok);
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(20));
        for _ in 0..20 {
            // Generous deadline: the bound is one hold, the deadline only stops a hang.
            if writers_stream {
                assert_eq!(l.acquire_read(Timeout::new(true, 20_000)), Status::Ok);
                assert_eq!(l.release_read(), Status::Ok);
            } else {
                assert_eq!(l.acquire_write(Timeout::new(true, 20_000)), Status::Ok);
                assert_eq!(l.release_write(), Status::Ok);
            }
        }
        stop.store(true, Ordering::Relaxed);
        for t in streams {
            t.join().unwrap();
        }
    }
}

/// The inline acquisitions leave the pending mark on the node they hold (one store less
/// per pair), and every release takes it off: no mark outlives the hold (a stale mark
/// could name memory unmapped after the release).
#[test]
fn the_pending_mark_stays_on_a_held_node_and_goes_with_the_release() {
    let l = new_rwlock();
    let me = thread::current();
    if me.robust_head.is_null() {
        return; // robust mode off: no list, no mark
    }
    let slot_node = l.home_slot(me).list_next.as_ptr() as usize;
    // The first read claims the home slot through the general path (which clears its
    // mark); the reads after it take the slot inline.
    assert_eq!(l.acquire_read(Timeout::NOW), Status::Ok);
    assert_eq!(l.release_read(), Status::Ok);
    assert_eq!(robust::pending_mark_of_current_thread(), 0);
    for _ in 0..2 {
        assert_eq!(l.acquire_read(Timeout::NOW), Status::Ok);
        assert_eq!(robust::pending_mark_of_current_thread(), slot_node);
        assert_eq!(l.release_read(), Status::Ok);
        assert_eq!(robust::pending_mark_of_current_thread(), 0);
        assert_eq!(l.acquire_write(Timeout::NOW), Status::Ok);
        assert_eq!(
            robust::pending_mark_of_current_thread(),
            l.wlist_next.as_ptr() as usize
        );
        assert_eq!(l.release_write(), Status::Ok);
        assert_eq!(robust::pending_mark_of_current_thread(), 0);
    }
    assert_eq!(l.destroy(), Status::Ok);
}

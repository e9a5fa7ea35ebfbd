//! ClusterSemaphore, ClusterEvent and ClusterBarrier against a real etcd cluster
//! (tests/support).

mod support;

use std::sync::Arc;
use std::time::Duration;

use mpsync_cluster::{ClusterBarrier, ClusterEvent, ClusterSemaphore, Deadline, Error, Outcome};
use support::{cluster_test, connect};

cluster_test!(
    semaphore_admits_value_holders_and_a_dead_holders_units_come_back,
    120,
    |etcd| {
        let a = connect(&etcd.endpoints);
        let s = ClusterSemaphore::open(&a, "s", 2).unwrap();
        assert_eq!(s.value(), 2);
        assert_eq!(s.release(), Err(Error::Overflow));
        assert_eq!(s.acquire(Deadline::now()).unwrap(), Outcome::Ok);
        assert_eq!(s.acquire(Deadline::now()).unwrap(), Outcome::Ok);
        assert_eq!(s.held(), 2);
        // A later opener uses the stored value, whatever it asks for.
        let b = connect(&etcd.endpoints);
        let t = ClusterSemaphore::open(&b, "s", 5).unwrap();
        assert_eq!(t.value(), 2);
        assert_eq!(
            t.acquire(Duration::from_millis(200).into()).unwrap(),
            Outcome::Timeout
        );
        s.release().unwrap();
        assert_eq!(
            t.acquire(Duration::from_secs(10).into()).unwrap(),
            Outcome::Ok
        );
        // The connection holding the other unit goes away without releasing: its unit
        // comes back when its lease ends (here at once: close revokes it).
        drop(s);
        a.close().unwrap();
        assert_eq!(
            t.acquire(Duration::from_secs(10).into()).unwrap(),
            Outcome::Ok
        );
        assert_eq!(t.held(), 2);
        assert!(ClusterSemaphore::open(&b, "zero", 0).is_err());
    }
);

cluster_test!(
    event_wakes_its_waiters_and_times_out_when_unset,
    120,
    |etcd| {
        let c = connect(&etcd.endpoints);
        let e = Arc::new(ClusterEvent::open(&c, "e").unwrap());
        assert!(!e.is_set().unwrap());
        assert!(!e.wait(Duration::from_millis(200).into()).unwrap());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    let e = ClusterEvent::open(&c, "e").unwrap();
                    e.wait(Deadline::after(Duration::from_secs(30))).unwrap()
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        e.set().unwrap();
        for w in waiters {
            assert!(w.join().unwrap());
        }
        assert!(e.is_set().unwrap());
        assert!(e.wait(Deadline::now()).unwrap());
        e.clear().unwrap();
        assert!(!e.is_set().unwrap());
    }
);

cluster_test!(
    barrier_releases_its_parties_together_and_breaks_on_timeout_abort_and_reset,
    120,
    |etcd| {
        let c = connect(&etcd.endpoints);
        let b = ClusterBarrier::open(&c, "b", 3).unwrap();
        assert_eq!(b.parties(), 3);
        assert_eq!(ClusterBarrier::open(&c, "b", 7).unwrap().parties(), 3);
        for _round in 0..2 {
            let parties: Vec<_> = (0..3)
                .map(|_| {
                    let c = c.clone();
                    std::thread::spawn(move || {
                        let b = ClusterBarrier::open(&c, "b", 3).unwrap();
                        b.wait(Deadline::after(Duration::from_secs(30)))
                    })
                })
                .collect();
            let mut indices: Vec<usize> = parties
                .into_iter()
                .map(|t| t.join().unwrap().unwrap())
                .collect();
            indices.sort();
            assert_eq!(indices, vec![0, 1, 2]);
        }
        // A lone waiter's timeout breaks the barrier for everyone until reset.
        assert_eq!(
            b.wait(Duration::from_millis(300).into()),
            Err(Error::Broken)
        );
        std::thread::sleep(Duration::from_millis(300));
        assert!(b.broken().unwrap());
        assert_eq!(
            b.wait(Deadline::after(Duration::from_secs(5))),
            Err(Error::Broken)
        );
        b.reset().unwrap();
        assert!(!b.broken().unwrap());
        // abort wakes a waiter with Broken.
        let waiter = {
            let c = c.clone();
            std::thread::spawn(move || {
                ClusterBarrier::open(&c, "b", 3)
                    .unwrap()
                    .wait(Deadline::after(Duration::from_secs(30)))
            })
        };
        while b.n_waiting().unwrap() == 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
        b.abort().unwrap();
        assert_eq!(waiter.join().unwrap(), Err(Error::Broken));
        assert!(ClusterBarrier::open(&c, "none", 0).is_err());
    }
);

//! ClusterLock / ClusterRLock against a real 3-member etcd cluster (tests/support):
//! mutual exclusion across processes, owner death by SIGKILL, a SIGSTOPped holder's
//! lost lease and rejected fenced write, a SIGKILLed etcd leader, all members stopped.
//! Skipped with a message where etcd is not installed.

mod support;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mpsync_cluster::{
    Cluster, ClusterLock, ClusterOptions, ClusterRLock, Deadline, Error, Outcome,
};
use support::{ENDPOINTS, EtcdCluster, ROLE, TTL, Worker, cluster_test, connect};

fn scratch(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cl-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The worker side of the multi-process tests: does nothing unless run by `Worker`.
#[test]
fn worker() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let endpoints = std::env::var(ENDPOINTS).unwrap();
    let cluster = connect(&endpoints);
    let lock = ClusterLock::open(&cluster, &std::env::var("LOCK").unwrap()).unwrap();
    match role.as_str() {
        // Takes the lock N times; inside, claims a file with O_EXCL (another process
        // inside at the same time makes that fail) and appends its fencing token to a log.
        "exclusion" => {
            let dir = PathBuf::from(std::env::var("DIR").unwrap());
            let n: usize = std::env::var("N").unwrap().parse().unwrap();
            for _ in 0..n {
                assert_ne!(lock.acquire(Deadline::forever()).unwrap(), Outcome::Timeout);
                critical_section(&dir, lock.fence().unwrap());
                // A release that did not get through (MP_ESYS: an election longer than
                // the request timeout) leaves the lock held: the contract is to retry.
                while lock.release() == Err(Error::System) {}
            }
            std::process::exit(0);
        }
        // Takes the lock, says so, then waits for a line on stdin: "fenced" tries a fenced
        // write and a release, reporting both.
        "hold" => {
            assert_eq!(lock.acquire(Deadline::forever()).unwrap(), Outcome::Ok);
            println!("held {}", lock.fence().unwrap());
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).unwrap();
            let fenced = lock.fenced_put(b"/test/resource", b"stale holder");
            println!("fenced {fenced:?}");
            println!("release {:?}", lock.release());
            println!("again {:?}", lock.acquire(Deadline::now()));
            std::process::exit(0);
        }
        other => panic!("unknown role {other}"),
    }
}

fn critical_section(dir: &Path, token: i64) {
    use std::io::Write;
    let inside = dir.join("inside");
    let claim = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&inside);
    if claim.is_err() {
        println!("VIOLATION: two holders at once");
        std::process::exit(3);
    }
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join("log"))
        .unwrap();
    writeln!(log, "{token}").unwrap();
    std::thread::sleep(Duration::from_millis(2));
    std::fs::remove_file(&inside).unwrap();
}

/// A worker process holding the lock `lock` (its `hold` role: see `worker`), and the
/// fencing token it got.
fn holding_worker(etcd: &EtcdCluster, lock: &str) -> (Worker, i64) {
    let mut holder = Worker::spawn("hold", &etcd.endpoints, &[("LOCK", lock.into())]);
    let token = holder.expect_line("held").parse().unwrap();
    (holder, token)
}

/// The tokens logged by the holders, in the order they held the lock.
fn logged_tokens(dir: &Path) -> Vec<i64> {
    std::fs::read_to_string(dir.join("log"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

/// Each worker exits 0 (within 180 s), and its holds were logged: `holds` tokens in
/// all, strictly increasing in holding order.
fn assert_every_hold_logged_in_fencing_order(workers: Vec<Worker>, dir: &Path, holds: usize) {
    for w in workers {
        assert_eq!(w.wait(Duration::from_secs(180)), Some(0));
    }
    let tokens = logged_tokens(dir);
    assert_eq!(tokens.len(), holds);
    for w in tokens.windows(2) {
        assert!(w[0] < w[1], "fencing tokens not strictly increasing: {w:?}");
    }
}

fn spawn_exclusion_workers(
    etcd: &EtcdCluster,
    dir: &Path,
    lock: &str,
    workers: usize,
    n: usize,
) -> Vec<Worker> {
    (0..workers)
        .map(|_| {
            Worker::spawn(
                "exclusion",
                &etcd.endpoints,
                &[
                    ("LOCK", lock.to_string()),
                    ("DIR", dir.display().to_string()),
                    ("N", n.to_string()),
                ],
            )
        })
        .collect()
}

cluster_test!(lock_excludes_across_four_processes, 240, |etcd| {
    let dir = scratch("exclusion");
    let workers = spawn_exclusion_workers(&etcd, &dir, "excl", 4, 15);
    assert_every_hold_logged_in_fencing_order(workers, &dir, 60);
});

cluster_test!(
    killed_holder_is_reported_owner_dead_within_ttl,
    120,
    |etcd| {
        let (holder, token) = holding_worker(&etcd, "kill9");
        let cluster = connect(&etcd.endpoints);
        let lock = ClusterLock::open(&cluster, "kill9").unwrap();
        assert_eq!(lock.acquire(Deadline::now()).unwrap(), Outcome::Timeout);
        holder.signal(libc::SIGKILL);
        let killed = Instant::now();
        // Generous deadline for a loaded machine; the figure is printed.
        let got = lock
            .acquire(Deadline::after(Duration::from_secs(TTL as u64 + 10)))
            .unwrap();
        let waited = killed.elapsed();
        println!(
            "owner death reported {waited:?} after the SIGKILL (TTL {} s)",
            cluster.ttl()
        );
        assert_eq!(got, Outcome::OwnerDead);
        assert!(lock.owner_died());
        assert!(lock.fence().unwrap() > token);
        assert!(
            waited < Duration::from_secs(cluster.ttl() as u64 + 5),
            "{waited:?}"
        );
        // A clean release is no death: the next acquirer gets plain Ok.
        lock.release().unwrap();
        assert_eq!(lock.acquire(Deadline::now()).unwrap(), Outcome::Ok);
        lock.release().unwrap();
    }
);

cluster_test!(
    paused_holder_loses_its_lease_and_its_fenced_write_is_rejected,
    120,
    |etcd| {
        let (mut holder, token) = holding_worker(&etcd, "stop");
        holder.signal(libc::SIGSTOP);
        let cluster = connect(&etcd.endpoints);
        let lock = ClusterLock::open(&cluster, "stop").unwrap();
        let got = lock
            .acquire(Deadline::after(Duration::from_secs(TTL as u64 + 10)))
            .unwrap();
        assert_eq!(got, Outcome::OwnerDead, "the paused holder's lease expired");
        assert!(lock.fence().unwrap() > token);
        lock.fenced_put(b"/test/resource", b"new holder").unwrap();
        holder.signal(libc::SIGCONT);
        holder.send_line("fenced");
        assert_eq!(holder.expect_line("fenced"), "Err(LeaseLost)");
        assert_eq!(holder.expect_line("release"), "Err(LeaseLost)");
        assert_eq!(holder.expect_line("again"), "Err(LeaseLost)");
        assert_eq!(holder.wait(Duration::from_secs(30)), Some(0));
        // The resource still holds the new holder's write.
        let cluster2 = connect(&etcd.endpoints);
        drop(cluster2);
        lock.release().unwrap();
    }
);

cluster_test!(
    leader_killed_mid_run_progress_continues_with_one_holder,
    300,
    |mut etcd| {
        let dir = scratch("leader");
        let workers = spawn_exclusion_workers(&etcd, &dir, "leader", 4, 25);
        let start = Instant::now();
        while logged_tokens(&dir).len() < 20 {
            assert!(start.elapsed() < Duration::from_secs(120), "no progress");
            std::thread::sleep(Duration::from_millis(20));
        }
        let leader = etcd.leader();
        let before = logged_tokens(&dir).len();
        etcd.kill(leader);
        println!(
            "killed leader {} after {before} holds",
            etcd.member_name(leader)
        );
        assert_every_hold_logged_in_fencing_order(workers, &dir, 100);
    }
);

cluster_test!(
    all_members_stopped_gives_a_clear_status_within_the_timeout,
    120,
    |mut etcd| {
        let cluster = connect(&etcd.endpoints);
        let held = ClusterLock::open(&cluster, "down").unwrap();
        assert_eq!(held.acquire(Deadline::now()).unwrap(), Outcome::Ok);
        let other = ClusterLock::open(&cluster, "down2").unwrap();
        etcd.kill_all();
        let start = Instant::now();
        let got = other
            .acquire(Deadline::after(Duration::from_secs(2)))
            .unwrap();
        let waited = start.elapsed();
        println!("acquire with a 2 s timeout, cluster down: {got:?} after {waited:?}");
        assert_eq!(got, Outcome::Timeout);
        assert!(waited < Duration::from_secs(10), "{waited:?}");
        let start = Instant::now();
        assert_eq!(held.release(), Err(Error::System));
        assert!(
            held.is_held(),
            "a release that did not get through keeps the lock"
        );
        println!("release, cluster down: MP_ESYS after {:?}", start.elapsed());
        let options = ClusterOptions {
            ttl_secs: TTL,
            request_timeout: Duration::from_secs(2),
        };
        let start = Instant::now();
        assert!(matches!(
            Cluster::connect(&etcd.endpoints, options),
            Err(Error::System)
        ));
        println!("connect, cluster down: MP_ESYS after {:?}", start.elapsed());
    }
);

cluster_test!(
    waiters_are_served_in_arrival_order_and_timeouts_leave_the_queue,
    120,
    |etcd| {
        let cluster = connect(&etcd.endpoints);
        let first = ClusterLock::open(&cluster, "fifo").unwrap();
        assert_eq!(first.acquire(Deadline::now()).unwrap(), Outcome::Ok);
        // A waiter that gives up leaves the queue: it does not block those behind it.
        let quitter = ClusterLock::open(&cluster, "fifo").unwrap();
        assert_eq!(
            quitter
                .acquire(Deadline::after(Duration::from_millis(300)))
                .unwrap(),
            Outcome::Timeout
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let mut threads = Vec::new();
        for i in 0..3 {
            let c = cluster.clone();
            let tx = tx.clone();
            threads.push(std::thread::spawn(move || {
                let l = ClusterLock::open(&c, "fifo").unwrap();
                assert_eq!(l.acquire(Deadline::forever()).unwrap(), Outcome::Ok);
                tx.send(i).unwrap();
                l.release().unwrap();
            }));
            // Arrival order: each waiter is queued before the next starts.
            std::thread::sleep(Duration::from_millis(500));
        }
        first.release().unwrap();
        let order: Vec<i32> = (0..3).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(order, vec![0, 1, 2]);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(quitter.acquire(Deadline::now()).unwrap(), Outcome::Ok);
        assert_eq!(quitter.release(), Ok(()));
        assert_eq!(quitter.release(), Err(Error::Overflow));
    }
);

cluster_test!(rlock_is_recursive_for_its_thread_only, 120, |etcd| {
    let cluster = connect(&etcd.endpoints);
    let r = std::sync::Arc::new(ClusterRLock::open(&cluster, "r").unwrap());
    assert_eq!(r.release(), Err(Error::NotOwner));
    assert_eq!(r.acquire(Deadline::now()).unwrap(), Outcome::Ok);
    assert_eq!(r.acquire(Deadline::now()).unwrap(), Outcome::Ok);
    assert_eq!(r.depth(), 2);
    let token = r.fence().unwrap();
    let r2 = r.clone();
    std::thread::spawn(move || {
        assert_eq!(r2.release(), Err(Error::NotOwner));
        assert_eq!(r2.acquire(Deadline::now()).unwrap(), Outcome::Timeout);
    })
    .join()
    .unwrap();
    r.release().unwrap();
    r.release().unwrap();
    assert_eq!(r.depth(), 0);
    let other = ClusterRLock::open(&cluster, "r").unwrap();
    assert_eq!(other.acquire(Deadline::now()).unwrap(), Outcome::Ok);
    assert!(other.fence().unwrap() > token);
    assert!(ClusterRLock::open(&cluster, "bad/name").is_err());
    assert!(ClusterRLock::open(&cluster, "").is_err());
});

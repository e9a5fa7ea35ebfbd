//! Test harness: a real 3-member etcd cluster on loopback ports, started per test and
//! always stopped (a guard whose `Drop` kills each member's process group; each member
//! also dies with the thread that started it, through `PR_SET_PDEATHSIG`: start it in
//! the thread that uses it), and
//! worker processes (this test binary run again with a role).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use mpsync_cluster::{Cluster, ClusterOptions};

/// Environment variable that makes the `worker` test of a test binary play a role.
pub const ROLE: &str = "MPSYNC_CLUSTER_ROLE";
/// Environment variable giving workers the endpoints.
pub const ENDPOINTS: &str = "MPSYNC_CLUSTER_ENDPOINTS";

/// The lease TTL (seconds) of the tests' connections: short, so that owner deaths are
/// found quickly.
pub const TTL: i64 = 2;

/// A connection to `endpoints` with the tests' TTL.
pub fn connect(endpoints: &str) -> Cluster {
    let options = ClusterOptions {
        ttl_secs: TTL,
        ..ClusterOptions::default()
    };
    Cluster::connect(endpoints, options).expect("connect")
}

/// Prints why the test is skipped (etcd missing) and returns `None`; else the cluster.
pub fn cluster_or_skip(test: &str) -> Option<EtcdCluster> {
    if Command::new("etcd").arg("--version").output().is_err() {
        println!("SKIP {test}: etcd is not installed (apt-get install etcd-server)");
        return None;
    }
    Some(EtcdCluster::start(test))
}

struct Member {
    name: String,
    client_port: u16,
    child: Option<Child>,
}

/// A running 3-member cluster; stopped and deleted on drop (also when the test panics).
pub struct EtcdCluster {
    members: Vec<Member>,
    dir: PathBuf,
    pub endpoints: String,
}

static NEXT: AtomicU16 = AtomicU16::new(0);

fn ports_base() -> u16 {
    // Unusual ports below the ephemeral range, different per test process and per test.
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % 8;
    20000 + (std::process::id() % 250) as u16 * 48 + n * 6
}

impl EtcdCluster {
    pub fn start(test: &str) -> EtcdCluster {
        let base = ports_base();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("etcd-{test}-{}-{base}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let names = ["e1", "e2", "e3"];
        let initial: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{n}=http://127.0.0.1:{}", base + 3 + i as u16))
            .collect();
        let initial = initial.join(",");
        let mut members = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let client_port = base + i as u16;
            let peer = format!("http://127.0.0.1:{}", base + 3 + i as u16);
            let client = format!("http://127.0.0.1:{client_port}");
            let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
            let mut cmd = Command::new("etcd");
            cmd.args(["--name", name])
                .arg("--data-dir")
                .arg(dir.join(name))
                .args(["--listen-client-urls", &client])
                .args(["--advertise-client-urls", &client])
                .args(["--listen-peer-urls", &peer])
                .args(["--initial-advertise-peer-urls", &peer])
                .args(["--initial-cluster", &initial])
                .args(["--initial-cluster-state", "new"])
                .args(["--initial-cluster-token", &format!("mpsync-{base}")])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .process_group(0);
            // SAFETY: prctl is async-signal-safe; the closure touches no shared state.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = cmd.spawn().expect("start etcd");
            members.push(Member {
                name: name.to_string(),
                client_port,
                child: Some(child),
            });
        }
        let endpoints = members
            .iter()
            .map(|m| format!("http://127.0.0.1:{}", m.client_port))
            .collect::<Vec<_>>()
            .join(",");
        let cluster = EtcdCluster {
            members,
            dir,
            endpoints,
        };
        cluster.wait_healthy(Duration::from_secs(60));
        cluster
    }

    fn etcdctl(&self, endpoints: &str, args: &[&str]) -> Option<String> {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={endpoints}"))
            .args(["--dial-timeout=2s", "--command-timeout=3s"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Waits until every running member answers `endpoint health`.
    pub fn wait_healthy(&self, limit: Duration) {
        let start = Instant::now();
        let live = self.live_endpoints();
        while self.etcdctl(&live, &["endpoint", "health"]).is_none() {
            assert!(
                start.elapsed() < limit,
                "etcd did not become healthy in {limit:?}; logs in {}",
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn live_endpoints(&self) -> String {
        self.members
            .iter()
            .filter(|m| m.child.is_some())
            .map(|m| format!("http://127.0.0.1:{}", m.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Index of the current leader (from `endpoint status`).
    pub fn leader(&self) -> usize {
        let start = Instant::now();
        loop {
            for (i, m) in self.members.iter().enumerate() {
                let ep = format!("http://127.0.0.1:{}", m.client_port);
                if m.child.is_none() {
                    continue;
                }
                if let Some(json) = self.etcdctl(&ep, &["endpoint", "status", "-w", "json"]) {
                    let member = number_after(&json, "\"member_id\":");
                    let leader = number_after(&json, "\"leader\":");
                    if member.is_some() && member == leader {
                        return i;
                    }
                }
            }
            assert!(start.elapsed() < Duration::from_secs(30), "no leader");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGKILLs member `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            // SAFETY: plain kill(2) of the member's own process group.
            unsafe { libc::killpg(child.id() as i32, libc::SIGKILL) };
            let _ = child.wait();
        }
    }

    /// SIGKILLs every member.
    pub fn kill_all(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }

    pub fn member_name(&self, i: usize) -> &str {
        &self.members[i].name
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        self.kill_all();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn number_after(text: &str, tag: &str) -> Option<u64> {
    let rest = &text[text.find(tag)? + tag.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// A worker process: this test binary running only its `worker` test, with a role.
pub struct Worker {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    pub fn spawn(role: &str, endpoints: &str, extra: &[(&str, String)]) -> Worker {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "worker", "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env(ENDPOINTS, endpoints)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn worker");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Worker {
            child,
            stdin,
            stdout,
        }
    }

    /// The rest of the next line the worker prints that contains `tag` (its other
    /// output, such as the test harness's, is skipped). Panics if the worker ends first.
    pub fn expect_line(&mut self, tag: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "worker ended before printing {tag:?}");
            // The test harness may have started the line ("test worker ... ").
            if let Some(at) = line.find(tag) {
                return line[at + tag.len()..].trim().to_string();
            }
        }
    }

    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) of our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Waits for the worker's exit (killing it after `limit`); its exit code.
    pub fn wait(mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("worker did not finish within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `f` on a fresh cluster as `with_timeout(name, limit, ..)` does; where etcd is
/// not installed, says that the test is skipped and returns.
pub fn on_cluster(name: &str, limit: Duration, f: impl FnOnce(EtcdCluster) + Send + 'static) {
    let tag = name.to_string();
    with_timeout(name, limit, move || {
        if let Some(etcd) = cluster_or_skip(&tag) {
            f(etcd)
        }
    })
}

/// `cluster_test!(name, secs, |etcd| { ... })`: the test `name`, which runs the closure
/// on a fresh cluster as [`on_cluster`] does, with a limit of `secs` seconds.
#[allow(unused_macros)] // as `dead_code` above: not every test crate uses it
macro_rules! cluster_test {
    ($name:ident, $secs:expr, $body:expr) => {
        #[test]
        fn $name() {
            support::on_cluster(
                stringify!($name),
                std::time::Duration::from_secs($secs),
                $body,
            )
        }
    };
}
#[allow(unused_imports)]
pub(crate) use cluster_test;

/// Runs `f` on a thread and fails the test named `name` if it takes longer than `limit`.
pub fn with_timeout<T: Send + 'static>(
    name: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: hung for more than {limit:?}")
        }
        Err(_) => panic!("{name}: failed (see the panic above)"),
    }
}

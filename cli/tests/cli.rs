//! The `mpsync` command against real objects held by real processes: a C program
//! (`holder.c`, compiled here against the header and the library) holds, maps or
//! contends for named objects; holders are SIGKILLed, run in another PID namespace
//! (as root, via `unshare`), and race `mpsync acquire`. Every child is waited for with
//! a time limit, so a hang fails the test instead of blocking the run.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

const MPSYNC: &str = env!("CARGO_BIN_EXE_mpsync");
const LIMIT: Duration = Duration::from_secs(60);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The directory holding libmpsync.so next to this test binary (cargo builds the
/// library's cdylib there as a dependency).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    assert!(
        deps.join("libmpsync.so").exists(),
        "no libmpsync.so in {}",
        deps.display()
    );
    deps
}

/// Compiles holder.c once per test binary.
fn holder_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let lib = lib_dir();
        let exe = lib.join(format!("mpsync-cli-holder-{}", std::process::id()));
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let out = Command::new(cc)
            .args(["-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-I"])
            .arg(workspace().join("include"))
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/holder.c"))
            .arg("-o")
            .arg(&exe)
            .arg("-L")
            .arg(&lib)
            .arg(format!("-Wl,--disable-new-dtags,-rpath,{}", lib.display()))
            .args(["-lmpsync", "-lpthread"])
            .output()
            .expect("run the C compiler");
        assert!(
            out.status.success(),
            "compiling holder.c failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        exe
    })
}

/// Reads `pipe` to its end on a thread of its own (nothing if there is no pipe).
fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Waits for `child` at most `LIMIT`; kills it and panics on a hang. Its stdout and
/// stderr are read while it runs: a child whose output outgrows the pipe (`ls --json`
/// of a /dev/shm that other programs on the machine filled) would otherwise block on
/// its write, and look hung.
fn wait_output(mut child: Child, what: &str) -> Output {
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            // A process it left behind may hold the pipes open: bounded too.
            while !(out.is_finished() && err.is_finished()) {
                assert!(t0.elapsed() < LIMIT, "{what}: its pipes stayed open");
                std::thread::sleep(Duration::from_millis(5));
            }
            return Output {
                status,
                stdout: out.join().unwrap(),
                stderr: err.join().unwrap(),
            };
        }
        if t0.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} hung for {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `mpsync args...` to completion (with the time limit). Arguments may be any
/// bytes (`OsStr`).
fn mpsync<A: AsRef<OsStr> + std::fmt::Debug>(args: &[A]) -> Output {
    let child = Command::new(MPSYNC)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_output(child, &format!("mpsync {args:?}"))
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `mpsync show NAME --json`, parsed; panics unless it exits with `want`.
fn show_json(name: &str, want: i32) -> Value {
    let o = mpsync(&["show", name, "--json"]);
    assert_eq!(code(&o), want, "show {name}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("show --json prints JSON")
}

/// Names of this test run, removed at the end even if the test fails.
struct Names {
    prefix: String,
}

impl Names {
    fn new(test: &str) -> Names {
        Names {
            prefix: format!("mpsync-cli-{}-{test}-", std::process::id()),
        }
    }
    fn name(&self, n: &str) -> String {
        format!("{}{n}", self.prefix)
    }
    fn path(&self, n: &str) -> PathBuf {
        PathBuf::from(format!("/dev/shm/{}", self.name(n)))
    }
    /// `name`, for a suffix of any bytes.
    fn bytes_name(&self, n: &[u8]) -> Vec<u8> {
        [self.prefix.as_bytes(), n].concat()
    }
    /// `path`, for a suffix of any bytes.
    fn bytes_path(&self, n: &[u8]) -> PathBuf {
        PathBuf::from(OsStr::from_bytes(
            &[b"/dev/shm/", &self.bytes_name(n)[..]].concat(),
        ))
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        if let Ok(dir) = std::fs::read_dir("/dev/shm") {
            for e in dir.flatten() {
                if e.file_name().to_string_lossy().starts_with(&self.prefix) {
                    let p = e.path();
                    let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir(&p));
                }
            }
        }
    }
}

/// A running holder.c process, told to finish by closing its stdin.
struct Holder {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    pid: u32,
    /// Its first line ("held <pid>", "held <pid> owner-dead", "mapped <pid>").
    line: String,
}

impl Holder {
    /// Starts `holder args...` (optionally under `wrapper`) and waits for its first line.
    fn start(wrapper: &[&str], env: &[(&str, &str)], args: &[&str]) -> Option<Holder> {
        let mut cmd = if wrapper.is_empty() {
            Command::new(holder_exe())
        } else {
            let mut c = Command::new(wrapper[0]);
            c.args(&wrapper[1..]).arg(holder_exe());
            c
        };
        cmd.args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().ok()?;
        let stdin = child.stdin.take();
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("holder {args:?} never got ready");
            }
        };
        if line.is_empty() {
            let o = wait_output(child, "holder");
            eprintln!("holder {args:?} failed: {}", stderr(&o));
            return None;
        }
        let pid = child.id();
        Some(Holder {
            child: Some(child),
            stdin,
            pid,
            line: line.trim_end().to_string(),
        })
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Closes stdin: the holder releases and exits 0.
    fn finish(&mut self) {
        self.stdin.take();
        if let Some(c) = self.child.take() {
            let o = wait_output(c, "holder");
            assert!(o.status.success(), "holder failed: {}", stderr(&o));
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.stdin.take();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `mpsync acquire NAME --take-over -- sh -c 'echo owner_dead=$MPSYNC_OWNER_DEAD'` on
/// a lock whose owner died: it succeeds, and the command is told.
fn take_over_with_a_command_that_is_told(name: &str) -> Output {
    let o = mpsync(&[
        "acquire",
        name,
        "--take-over",
        "--",
        "sh",
        "-c",
        "echo owner_dead=$MPSYNC_OWNER_DEAD",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "owner_dead=1");
    o
}

fn create(kind: &str, name: &str, extra: &[&str]) {
    let mut args = vec!["create", kind, name];
    args.extend_from_slice(extra);
    let o = mpsync(&args);
    assert_eq!(code(&o), 0, "create {kind} {name}: {}", stderr(&o));
}

fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// `/proc` provably shows our own PID namespace (then a dead owner can be proven dead).
fn proc_is_ours() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .is_some_and(|ids| {
            ids.split_whitespace().collect::<Vec<_>>() == [std::process::id().to_string()]
        })
}

fn gc(names: &Names, flags: &[&str]) -> Output {
    let mut args = vec!["gc", "--ignore-unreadable", "--prefix", &names.prefix];
    args.extend_from_slice(flags);
    mpsync(&args)
}

#[test]
fn alive_holder_in_ls_and_show_field_by_field() {
    let n = Names::new("alive");
    let name = n.name("rl");
    create("rlock", &name, &["--mode", "640"]);
    let h = Holder::start(&[], &[], &["rlock", &name]).expect("holder");

    let v = show_json(&name, 0);
    assert_eq!(v["name"], name.as_str());
    assert_eq!(v["class"], "object");
    assert_eq!(v["type"], "rlock");
    assert_eq!(v["health"], "ok");
    assert_eq!(v["size"], 64);
    assert_eq!(v["uid"], euid());
    assert_eq!(v["mode"], "0640");
    assert_eq!(v["layout_version"], LAYOUT);
    assert_eq!(v["header"]["magic"], "0x4d505359");
    assert_eq!(v["header"]["kind_code"], 2);
    assert_eq!(v["header"]["lifecycle"], 2);
    let st = &v["state"];
    assert_eq!(st["locked"], true);
    assert_eq!(st["count"], 1);
    assert_eq!(st["owner_died_mark"], false);
    assert_eq!(st["owner"]["pid"], h.pid);
    assert_eq!(st["owner"]["tid"], h.pid);
    let liveness = st["owner"]["liveness"].as_str().unwrap();
    assert!(
        liveness == "alive" || (!proc_is_ours() && liveness == "unknown"),
        "{liveness}"
    );
    let mapped: Vec<u64> = serde_json::from_value(v["mapped_by"].clone()).unwrap();
    assert!(
        mapped.contains(&u64::from(h.pid)),
        "{mapped:?} lacks {}",
        h.pid
    );

    // ls --json has the same entry; the table shows its state on one line.
    let o = mpsync(&["ls", "--json"]);
    assert_eq!(code(&o), 0);
    let all: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let mine = all
        .iter()
        .find(|e| e["name"] == name.as_str())
        .expect("listed");
    assert_eq!(mine["state"], v["state"]);
    assert_eq!(mine["type"], "rlock");
    let o = mpsync(&["ls"]);
    let line = stdout(&o)
        .lines()
        .find(|l| l.starts_with(&name))
        .unwrap()
        .to_string();
    assert!(
        line.contains(&format!("owner {}/{}", h.pid, h.pid)),
        "{line}"
    );
    assert!(line.contains("level 1"), "{line}");

    // In use: neither rm nor gc removes it.
    let o = mpsync(&["rm", "--ignore-unreadable", &name]);
    assert_eq!(code(&o), 6, "{}", stderr(&o));
    assert!(stderr(&o).contains(&h.pid.to_string()));
    let o = gc(&n, &["--objects"]);
    assert_eq!(code(&o), 0);
    assert!(n.path("rl").exists());

    // A second acquirer times out while the C program holds it.
    let t0 = Instant::now();
    let o = mpsync(&["acquire", &name, "--timeout", "0.3", "--", "true"]);
    assert_eq!(code(&o), 7, "{}", stderr(&o));
    assert!(t0.elapsed() >= Duration::from_millis(300));
}

#[test]
fn killed_holder_is_found_dead_and_recovered_or_cleaned() {
    let n = Names::new("killed");
    let name = n.name("rl");
    create("rlock", &name, &[]);
    let mut h = Holder::start(&[], &[], &["rlock", &name]).expect("holder");
    h.kill();

    // The kernel marked the word (robust list): no owner, owner-died mark.
    let v = show_json(&name, 0);
    assert_eq!(v["health"], "owner-dead");
    assert_eq!(v["state"]["owner_died_mark"], true);
    assert_eq!(v["state"]["locked"], false);
    assert_eq!(v["mapped_by"], serde_json::json!([]));
    let o = mpsync(&["ls"]);
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.starts_with(&name) && l.contains("owner-dead"))
    );

    // `acquire` leaves the report alone (exit 9, command not run)...
    let o = mpsync(&["acquire", &name, "--", "echo", "ran"]);
    assert_eq!(code(&o), 9, "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("--take-over"), "{}", stderr(&o));
    assert_eq!(show_json(&name, 0)["health"], "owner-dead");
    // ... and gc keeps it (an owner-dead object needs --owner-dead).
    let o = gc(&n, &["--objects", "--dry-run"]);
    assert!(
        stdout(&o).contains(&format!("kept {name} (rlock): owner died")),
        "{}",
        stdout(&o)
    );
    // `acquire --take-over` takes it over and tells the command.
    let o = take_over_with_a_command_that_is_told(&name);
    assert!(stderr(&o).contains("previous owner died"));
    let v = show_json(&name, 0);
    assert_eq!(v["health"], "ok");
    assert_eq!(v["state"]["locked"], false);

    // Nobody maps it, nobody holds it: gc --objects removes it (and only with that flag).
    let o = gc(&n, &["--temp", "--blocks"]);
    assert_eq!(code(&o), 0);
    assert!(n.path("rl").exists());
    // Processes whose mappings cannot be read (here or there) keep it, unless told.
    if show_json(&name, 0)["mapped_by_unknown"].as_u64().unwrap() > 0 {
        let o = mpsync(&["gc", "--objects", "--prefix", &n.prefix]);
        assert!(stdout(&o).contains("unreadable"), "{}", stdout(&o));
        assert!(n.path("rl").exists());
        assert_eq!(code(&mpsync(&["rm", &name])), 6);
    }
    let o = gc(&n, &["--objects", "--dry-run"]);
    assert!(
        stdout(&o).contains(&format!("would remove {name}")),
        "{}",
        stdout(&o)
    );
    assert!(n.path("rl").exists());
    let o = gc(&n, &["--objects"]);
    assert_eq!(code(&o), 0);
    assert!(
        stdout(&o).contains(&format!("removed {name}")),
        "{}",
        stdout(&o)
    );
    assert!(!n.path("rl").exists());
}

#[test]
fn killed_holder_without_robust_list_is_proven_dead() {
    let n = Names::new("norobust");
    let name = n.name("rl");
    create("rlock", &name, &[]);
    let mut h =
        Holder::start(&[], &[("MPSYNC_NO_ROBUST", "1")], &["rlock", &name]).expect("holder");
    let pid = h.pid;
    h.kill();
    // The kernel does not know the lock: the word still names the dead thread.
    let v = show_json(&name, 0);
    assert_eq!(v["state"]["locked"], true);
    assert_eq!(v["state"]["owner"]["pid"], pid);
    if proc_is_ours() {
        assert_eq!(v["state"]["owner"]["liveness"], "dead");
        assert_eq!(v["health"], "owner-dead");
        // gc keeps an owner-dead object: its report waits for the next acquirer.
        let o = gc(&n, &["--objects"]);
        assert!(
            stdout(&o).contains(&format!("kept {name} (rlock): owner died")),
            "{}",
            stdout(&o)
        );
        assert!(n.path("rl").exists());
        // Asked to, gc does not take "held by a dead owner" for "held".
        let o = gc(&n, &["--objects", "--owner-dead"]);
        assert!(
            stdout(&o).contains(&format!("removed {name}")),
            "{}",
            stdout(&o)
        );
    } else {
        eprintln!("/proc is not our namespace's: the owner must be unknown, never dead");
        assert_eq!(v["state"]["owner"]["liveness"], "unknown");
    }
}

#[test]
fn holder_in_another_pid_namespace_is_unknown_never_dead() {
    if euid() != 0 {
        eprintln!("skipped: needs root for unshare --pid");
        return;
    }
    let n = Names::new("pidns");
    let name = n.name("rl");
    create("rlock", &name, &[]);
    let Some(mut h) = Holder::start(
        &["unshare", "--pid", "--fork", "--kill-child"],
        &[],
        &["rlock", &name],
    ) else {
        eprintln!("skipped: unshare --pid --fork is not available here");
        return;
    };
    let v = show_json(&name, 0);
    assert_eq!(v["state"]["locked"], true);
    // The recorded pid is the holder's own namespace's: 1 (it is that namespace's init).
    assert_eq!(v["state"]["owner"]["pid"], 1);
    assert_eq!(v["state"]["owner"]["liveness"], "unknown");
    // Pid 1 means something else here: its command line is not read.
    assert_eq!(v["state"]["owner"]["cmdline"], Value::Null);
    assert_eq!(v["state"]["owner"]["cmdline_hex"], Value::Null);
    assert_eq!(v["health"], "ok");
    // Its mapping is still seen from here, under its pid in our namespace.
    assert!(!v["mapped_by"].as_array().unwrap().is_empty());
    // Killed (unshare --kill-child passes the SIGKILL on): the kernel still marks the
    // word; until then nothing claims the owner dead.
    h.kill();
    let t0 = Instant::now();
    loop {
        let v = show_json(&name, 0);
        if v["state"]["owner_died_mark"] == true {
            assert_eq!(v["health"], "owner-dead");
            break;
        }
        // Not marked (yet): then never "dead" from here.
        assert_ne!(v["state"]["owner"]["liveness"], "dead");
        assert!(t0.elapsed() < Duration::from_secs(10), "never marked: {v}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Checks that a log of "S id" / "E id" lines never interleaves two holders.
fn assert_exclusive(log: &str) -> usize {
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len() % 2, 0, "{log}");
    for pair in lines.chunks(2) {
        let (s, e) = (pair[0], pair[1]);
        assert!(
            s.starts_with("S ") && e.starts_with("E ") && s[2..] == e[2..],
            "interleaved:\n{log}"
        );
    }
    lines.len() / 2
}

#[test]
fn concurrent_acquires_exclude_each_other_and_a_c_program() {
    let n = Names::new("excl");
    let name = n.name("rl");
    create("rlock", &name, &[]);
    let log = std::env::temp_dir().join(format!("{}log", n.prefix));
    let _ = std::fs::remove_file(&log);
    let log_s = log.to_str().unwrap().to_string();
    let script = format!("echo \"S m$$\" >> {log_s}; sleep 0.03; echo \"E m$$\" >> {log_s}");
    let c = Command::new(holder_exe())
        .args(["critical", &name, &log_s, "6"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut clis = Vec::new();
    for _ in 0..4 {
        for _ in 0..2 {
            clis.push(
                Command::new(MPSYNC)
                    .args(["acquire", &name, "--", "sh", "-c", &script])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
        }
    }
    for child in clis {
        let o = wait_output(child, "mpsync acquire");
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = wait_output(c, "holder critical");
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(assert_exclusive(&text), 8 + 6);
    assert_eq!(text.lines().filter(|l| l.starts_with("S c")).count(), 6);
    let _ = std::fs::remove_file(&log);

    // The command's status is passed through.
    let o = mpsync(&["acquire", &name, "--", "sh", "-c", "exit 42"]);
    assert_eq!(code(&o), 42);
    let o = mpsync(&["acquire", &name, "--", "/nonexistent/command"]);
    assert_eq!(code(&o), 127);
}

/// Blocked acquirers of an undo semaphore hold no holder slot: 70 concurrent
/// `acquire --timeout 60` of an undo `Semaphore(1)` all get their turn. Each holds for
/// 100 ms, so that more than 64 wait at once (before the fix, waiters used up the 64
/// slots: 3 of 70 exited 6, `MP_EBUSY`, on ad24c91).
#[test]
fn seventy_waiters_of_an_undo_semaphore_all_get_their_turn() {
    let n = Names::new("undo70");
    let name = n.name("pool");
    create("semaphore", &name, &["--value", "1", "--undo"]);
    let clis: Vec<_> = (0..70)
        .map(|_| {
            Command::new(MPSYNC)
                .args(["acquire", &name, "--timeout", "60", "--", "sleep", "0.1"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let failed: Vec<String> = clis
        .into_iter()
        .map(|child| wait_output(child, "mpsync acquire (undo)"))
        .filter(|o| !o.status.success())
        .map(|o| format!("exit {}: {}", code(&o), stderr(&o)))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 70 failed: {failed:?}",
        failed.len()
    );
}

#[test]
fn a_semaphore_admits_at_most_its_value() {
    let n = Names::new("sem");
    let name = n.name("s");
    create("semaphore", &name, &["--value", "2", "--max", "2"]);
    let dir = std::env::temp_dir().join(format!("{}in", n.prefix));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    let d = dir.to_str().unwrap();
    // Each holder marks itself present, records how many are present, and leaves.
    let script = format!("touch {d}/$$; ls {d} | grep -vc max >> {d}/max; sleep 0.1; rm {d}/$$");
    let kids: Vec<Child> = (0..6)
        .map(|_| {
            Command::new(MPSYNC)
                .args(["acquire", &name, "--", "sh", "-c", &script])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for k in kids {
        let o = wait_output(k, "mpsync acquire (semaphore)");
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let counts = std::fs::read_to_string(dir.join("max")).unwrap();
    let counts: Vec<u32> = counts.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(counts.len(), 6);
    assert!(counts.iter().all(|&c| (1..=2).contains(&c)), "{counts:?}");
    let v = show_json(&name, 0);
    assert_eq!(v["state"]["value"], 2);
    assert_eq!(v["state"]["max_value"], 2);
    assert_eq!(v["state"]["bounded"], true);
    std::fs::remove_dir_all(&dir).unwrap();

    // post/release at the bound is refused; an acquire that finds no unit times out.
    let o = mpsync(&["post", &name]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
}

#[test]
fn rm_and_gc_never_remove_what_is_mapped() {
    let n = Names::new("inuse");
    let blk = n.name("blk");
    create("block", &blk, &["--size", "8192"]);
    let mut h = Holder::start(&[], &[], &["map", &blk]).expect("holder");
    let v = show_json(&blk, 0);
    assert_eq!(v["class"], "block");
    assert_eq!(v["type"], "block");
    assert_eq!(v["size"], 8192);
    assert_eq!(v["layout_version"], Value::Null);
    assert!(
        v["mapped_by"]
            .as_array()
            .unwrap()
            .contains(&Value::from(h.pid))
    );

    let o = mpsync(&["rm", "--ignore-unreadable", &blk]);
    assert_eq!(code(&o), 6);
    let o = gc(&n, &["--blocks", "--objects", "--temp"]);
    assert_eq!(code(&o), 0);
    assert!(n.path("blk").exists(), "gc removed a mapped block");
    assert!(
        stdout(&o).contains(&format!("kept {blk} (block): mapped by a live process")),
        "{}",
        stdout(&o)
    );
    h.finish();
    let o = gc(&n, &["--objects", "--temp"]);
    assert!(n.path("blk").exists(), "blocks need --blocks");
    assert!(!stdout(&o).contains(&blk));
    let o = gc(&n, &["--blocks", "--json"]);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["kept"], serde_json::json!([]));
    let rows = report["removed"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["name"], blk.as_str());
    assert_eq!(rows[0]["removed"], true);
    assert!(!n.path("blk").exists());

    // A locked Lock that nobody maps is "held" for gc; rm removes it.
    let lk = n.name("lk");
    create("lock", &lk, &[]);
    let mut h = Holder::start(&[], &[], &["lock", &lk]).expect("holder");
    h.kill();
    let v = show_json(&lk, 0);
    assert_eq!(v["state"]["locked"], true);
    let o = gc(&n, &["--objects"]);
    assert!(n.path("lk").exists(), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!("kept {lk} (lock): held")),
        "{}",
        stdout(&o)
    );
    let o = mpsync(&["rm", "--ignore-unreadable", &lk]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!n.path("lk").exists());

    // gc without a kind is a usage error.
    assert_eq!(code(&mpsync(&["gc"])), 2);
}

/// What a creator-carrying name records for this process: `(pid, start time, PID
/// namespace)`, plus the pid of a creator that no longer exists (a reaped child).
fn creator_identities() -> (u32, u64, u64, u32) {
    use std::os::unix::fs::MetadataExt;
    let me = std::process::id();
    let stat = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let ns = std::fs::metadata("/proc/self/ns/pid").unwrap().ino();
    let dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    wait_output(dead, "true");
    (me, start, ns, dead_pid)
}

#[test]
fn gc_removes_temp_files_of_dead_creators_only() {
    let (me, start, ns, dead_pid) = creator_identities();
    let tag = format!("{me}{}", Instant::now().elapsed().subsec_nanos());
    let stale = format!(".mpsync-tmp-{dead_pid}-{start}-{ns}-{tag}");
    let live = format!(".mpsync-tmp-{me}-{start}-{ns}-{tag}");
    for f in [&stale, &live] {
        std::fs::write(format!("/dev/shm/{f}"), b"x").unwrap();
    }
    let v = show_json(&live, 0);
    assert_eq!(v["class"], "temp");
    assert_eq!(v["creator"]["pid"], me);
    let prefix_dead = format!(".mpsync-tmp-{dead_pid}-");
    let prefix_live = format!(".mpsync-tmp-{me}-");
    for p in [&prefix_dead, &prefix_live] {
        let o = mpsync(&["gc", "--temp", "--ignore-unreadable", "--prefix", p]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    let stale_left = Path::new(&format!("/dev/shm/{stale}")).exists();
    let live_left = Path::new(&format!("/dev/shm/{live}")).exists();
    let _ = std::fs::remove_file(format!("/dev/shm/{stale}"));
    let _ = std::fs::remove_file(format!("/dev/shm/{live}"));
    assert!(live_left, "a live creator's temporary file was removed");
    if proc_is_ours() {
        assert!(!stale_left, "a dead creator's temporary file was kept");
    }
}

/// Files of `/dev/shm` removed at the end even if the test fails.
struct Files(Vec<String>);

impl Drop for Files {
    fn drop(&mut self) {
        for f in &self.0 {
            let _ = std::fs::remove_file(format!("/dev/shm/{f}"));
        }
    }
}

#[test]
fn gc_orphans_removes_anonymous_names_of_dead_creators_only() {
    let (me, start, ns, dead_pid) = creator_identities();
    let tag = format!("{:08x}", Instant::now().elapsed().subsec_nanos());
    let anon = |pid: u32, ns: u64| format!("mpsync-anon-{pid}-{start}-{ns}-0-{tag}");
    let (orphan, live, other_ns) = (anon(dead_pid, ns), anon(me, ns), anon(dead_pid, ns + 1));
    let files = Files(vec![orphan.clone(), live.clone(), other_ns.clone()]);
    for f in &files.0 {
        create("lock", f, &[]);
    }
    let exists = |f: &str| Path::new(&format!("/dev/shm/{f}")).exists();
    let v = show_json(&live, 0);
    assert_eq!(v["class"], "object");
    assert_eq!(v["creator"]["pid"], me);
    assert_eq!(v["creator"]["pidns"], ns);
    assert_eq!(v["creator"]["liveness"], "alive");
    // A dead creator's anonymous name goes even while a process maps it.
    let mut h = Holder::start(&[], &[], &["map", &orphan]).expect("holder");
    let dead_prefix = format!("mpsync-anon-{dead_pid}-{start}-");
    let o = mpsync(&["gc", "--temp", "--prefix", &dead_prefix]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(exists(&orphan), "orphans need --orphans");
    let o = mpsync(&[
        "gc",
        "--orphans",
        "--dry-run",
        "--json",
        "--prefix",
        &dead_prefix,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(exists(&orphan), "a dry run removed");
    if !proc_is_ours() {
        eprintln!("skipped the removal: /proc does not show our PID namespace");
        h.finish();
        return;
    }
    // The names listed under `key` in the gc report.
    let names = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("removed"), [orphan.as_str()], "{report}");
    assert_eq!(names("kept"), [other_ns.as_str()], "{report}");
    for prefix in [&dead_prefix, &format!("mpsync-anon-{me}-")] {
        let o = mpsync(&["gc", "--orphans", "--prefix", prefix]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    assert!(!exists(&orphan), "a dead creator's anonymous name was kept");
    assert!(exists(&live), "a live creator's anonymous name was removed");
    assert!(
        exists(&other_ns),
        "another namespace's anonymous name was removed"
    );
    h.finish();
}

fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

/// The layout version this library writes and reads (`raw::header::LAYOUT_VERSION`).
const LAYOUT: u32 = 4;

/// A 64-byte object image: magic, tag (kind | layout << 8 | named << 16), zero body.
fn image(magic: u32, kind: u32, layout: u32, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len.max(8)];
    b[..4].copy_from_slice(&magic.to_ne_bytes());
    b[4..8].copy_from_slice(&(kind | layout << 8 | 2 << 16).to_ne_bytes());
    b.truncate(len);
    b
}

#[test]
fn every_bad_input_class_has_its_exit_code() {
    const MAGIC: u32 = 0x4D50_5359;
    let n = Names::new("bad");
    // Unknown name; not a name; usage errors.
    assert_eq!(code(&mpsync(&["show", &n.name("missing")])), 3);
    assert_eq!(code(&mpsync(&["rm", &n.name("missing")])), 3);
    assert_eq!(
        code(&mpsync(&["acquire", &n.name("missing"), "--", "true"])),
        3
    );
    assert_eq!(code(&mpsync(&["show", "a/b"])), 2);
    assert_eq!(code(&mpsync(&["show"])), 2);
    assert_eq!(code(&mpsync(&["frobnicate"])), 2);
    assert_eq!(
        code(&mpsync(&["acquire", "x", "--timeout", "-1", "--", "true"])),
        2
    );

    // Foreign files: a directory, a FIFO (must not block the open), an empty file, a
    // symlink.
    std::fs::create_dir(n.path("dir")).unwrap();
    let fifo = std::ffi::CString::new(n.path("fifo").to_str().unwrap()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    write_file(&n.path("empty"), b"");
    std::os::unix::fs::symlink("/etc/passwd", n.path("link")).unwrap();
    for f in ["dir", "fifo", "empty", "link"] {
        let v = show_json(&n.name(f), 4);
        assert_eq!(v["class"], "foreign", "{f}");
        assert_eq!(v["health"], "foreign", "{f}");
        assert_eq!(v["state"], Value::Null);
    }
    assert_eq!(code(&mpsync(&["rm", &n.name("dir")])), 4);
    assert!(n.path("dir").exists());

    // Corrupted and truncated headers, another layout version, a destroyed object.
    write_file(&n.path("kind99"), &image(MAGIC, 99, LAYOUT, 64));
    write_file(&n.path("short"), &image(MAGIC, 2, LAYOUT, 20));
    write_file(&n.path("v1"), &image(MAGIC, 1, 1, 64));
    write_file(&n.path("retired"), &image(0x4D50_DEAD, 1, LAYOUT, 64));
    let mut sem = image(MAGIC, 3, LAYOUT, 64);
    sem[8..12].copy_from_slice(&5u32.to_ne_bytes()); // value 5
    sem[16..20].copy_from_slice(&2u32.to_ne_bytes()); // max 2
    write_file(&n.path("sem"), &sem);
    for (f, health, detail) in [
        ("kind99", "corrupt", "unknown kind code 99"),
        ("short", "corrupt", "truncated"),
        ("v1", "wrong-version", "layout version 1"),
        ("retired", "corrupt", "destroyed"),
        ("sem", "corrupt", "value 5"),
    ] {
        let v = show_json(&n.name(f), 4);
        assert_eq!(v["class"], "object", "{f}");
        assert_eq!(v["health"], health, "{f}");
        assert!(v["detail"].as_str().unwrap().contains(detail), "{f}: {v}");
        assert_eq!(v["state"], Value::Null, "{f}");
    }
    assert_eq!(show_json(&n.name("v1"), 4)["layout_version"], 1);
    // Commands that need an object refuse them with the same code.
    assert_eq!(code(&mpsync(&["acquire", &n.name("v1"), "--", "true"])), 4);
    assert_eq!(code(&mpsync(&["release", &n.name("short")])), 4);
    // A listing describes all of them and still succeeds.
    let o = mpsync(&["ls", "--json"]);
    assert_eq!(code(&o), 0);
    let all: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        all.iter()
            .filter(|e| e["name"].as_str().unwrap().starts_with(&n.prefix))
            .count(),
        9
    );

    // Wrong type for the command; busy; timeout.
    let ev = n.name("ev");
    create("event", &ev, &[]);
    assert_eq!(code(&mpsync(&["acquire", &ev, "--", "true"])), 4);
    assert_eq!(code(&mpsync(&["create", "event", &ev, "--excl"])), 6);
    assert_eq!(code(&mpsync(&["create", "lock", &ev])), 4);
    assert_eq!(code(&mpsync(&["wait", &ev, "--timeout", "0.1"])), 7);
    assert_eq!(code(&mpsync(&["set", &ev])), 0);
    assert_eq!(code(&mpsync(&["wait", &ev, "--timeout", "5"])), 0);
    assert_eq!(show_json(&ev, 0)["state"]["set"], true);
    let rl = n.name("rl");
    create("rlock", &rl, &[]);
    assert_eq!(code(&mpsync(&["release", &rl])), 4);

    // Permission denied: another user's 0600 object, looked at as "nobody".
    if euid() == 0 {
        let exe_ok = {
            let mut p = PathBuf::from(MPSYNC);
            let mut ok = true;
            while p.pop() {
                let mode = std::fs::metadata(&p)
                    .map(|m| m.permissions().mode())
                    .unwrap_or(0);
                ok &= mode & 0o001 != 0;
            }
            ok
        };
        if exe_ok {
            use std::os::unix::process::CommandExt;
            let child = Command::new(MPSYNC)
                .args(["show", &rl])
                .uid(65534)
                .gid(65534)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let o = wait_output(child, "mpsync show as nobody");
            assert_eq!(code(&o), 5, "{}", stderr(&o));
            assert!(stderr(&o).contains("permission denied"));
        } else {
            eprintln!("skipped the permission test: the binary is not reachable by other users");
        }
    } else {
        eprintln!("skipped the permission test: needs root to run as another user");
    }
}

#[test]
fn watch_refreshes_and_output_never_panics() {
    let n = Names::new("watch");
    let name = n.name("b");
    create("barrier", &name, &["--parties", "3"]);
    let o = mpsync(&[
        "watch",
        &name,
        "--count",
        "3",
        "--interval-ms",
        "20",
        "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let frames: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(frames.len(), 3);
    assert!(
        frames
            .iter()
            .all(|f| f["state"]["parties"] == 3 && f["state"]["broken"] == false)
    );

    // A reader that goes away: no panic (exit code 70 and "internal error").
    for args in [
        vec!["ls"],
        vec!["watch", name.as_str(), "--interval-ms", "10"],
    ] {
        let mut child = Command::new(MPSYNC)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = wait_output(child, "mpsync with a closed stdout");
        assert_ne!(code(&o), 70, "{}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }

    // --help lists the exit codes.
    let o = mpsync(&["--help"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("Exit codes:"));
}

#[test]
fn inspection_never_writes() {
    use std::os::unix::fs::MetadataExt;
    let n = Names::new("ro");
    let name = n.name("rl");
    create("rlock", &name, &[]);
    let h = Holder::start(&[], &[], &["rlock", &name]).expect("holder");
    // Read-only for everyone: inspection needs nothing more.
    std::fs::set_permissions(n.path("rl"), std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = (
        std::fs::read(n.path("rl")).unwrap(),
        std::fs::metadata(n.path("rl")).unwrap(),
    );
    for args in [
        vec!["show", name.as_str()],
        vec!["show", name.as_str(), "--json"],
        vec!["ls"],
        vec![
            "watch",
            name.as_str(),
            "--count",
            "2",
            "--interval-ms",
            "10",
        ],
    ] {
        assert_eq!(code(&mpsync(&args)), 0, "{args:?}");
    }
    let after = (
        std::fs::read(n.path("rl")).unwrap(),
        std::fs::metadata(n.path("rl")).unwrap(),
    );
    assert_eq!(before.0, after.0, "the object's bytes changed");
    assert_eq!(
        (
            before.1.mtime(),
            before.1.mtime_nsec(),
            before.1.ctime_nsec()
        ),
        (after.1.mtime(), after.1.mtime_nsec(), after.1.ctime_nsec())
    );
    assert_eq!(show_json(&name, 0)["state"]["owner"]["pid"], h.pid);
}

#[test]
fn ctrl_c_reaches_the_command_and_the_lock_is_released() {
    use std::os::unix::process::CommandExt;
    let n = Names::new("sigint");
    let name = n.name("lk");
    create("lock", &name, &[]);
    let marker = std::env::temp_dir().join(format!("{}started", n.prefix));
    let _ = std::fs::remove_file(&marker);
    let script = format!("touch {}; exec sleep 30", marker.display());
    let mut mpsync = Command::new(MPSYNC);
    // A terminal's foreground job starts with Ctrl-C's default disposition; a harness
    // run as a background job of a non-interactive shell would hand SIG_IGN down (and
    // the command would rightly keep ignoring it).
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        mpsync.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            Ok(())
        });
    }
    let child = mpsync
        .args(["acquire", &name, "--", "sh", "-c", &script])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    // The command runs (so mpsync has spawned it and is about to wait for it).
    let t0 = Instant::now();
    while !marker.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the command never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = std::fs::remove_file(&marker);
    assert_eq!(show_json(&name, 0)["state"]["locked"], true);
    // A terminal's Ctrl-C: SIGINT to the whole foreground group.
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: signalling the process group we created.
    assert_eq!(unsafe { libc::kill(-pgid, libc::SIGINT) }, 0);
    let o = wait_output(child, "mpsync acquire -- sleep");
    assert_eq!(code(&o), 128 + libc::SIGINT, "{}", stderr(&o));
    assert_eq!(
        show_json(&name, 0)["state"]["locked"],
        false,
        "a Lock stayed taken"
    );
}

/// The holder entry of `state.holders` whose recorded pid is `pid`.
fn undo_holder(v: &Value, pid: u32) -> Option<Value> {
    v["state"]["holders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["pid"] == pid)
        .cloned()
}

/// Polls `show NAME --json` until `what` holds (20 s at most).
fn show_until(name: &str, what: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        let v = show_json(name, 0);
        if what(&v) {
            return v;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "never came: {v}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn undo_semaphore_holders_are_listed_and_a_killed_ones_units_come_back() {
    let n = Names::new("undo");
    let name = n.name("s");
    create(
        "semaphore",
        &name,
        &["--undo", "--value", "3", "--max", "3"],
    );
    let mut a = Holder::start(&[], &[], &["undo", &name, "2"]).expect("holder");
    let mut b = Holder::start(&[], &[], &["undo", &name, "1"]).expect("holder");
    let alive = if proc_is_ours() { "alive" } else { "unknown" };

    let v = show_json(&name, 0);
    assert_eq!(v["type"], "semaphore-undo");
    assert_eq!(v["size"], 4160);
    assert_eq!(v["health"], "ok");
    let st = &v["state"];
    assert_eq!(st["undo"], true);
    assert_eq!(
        (st["value"].as_u64(), st["max_value"].as_u64()),
        (Some(0), Some(3))
    );
    assert_eq!(st["held_units"], 3);
    assert_eq!(st["dead_units"], 0);
    assert_eq!(st["holding"], 2);
    for (h, units) in [(&a, 2), (&b, 1)] {
        let e = undo_holder(&v, h.pid).unwrap_or_else(|| panic!("{} not listed: {v}", h.pid));
        assert_eq!(e["state"], "held");
        assert_eq!(e["units"], units);
        assert_eq!(e["tid"], h.pid);
        assert_eq!(e["linked"], true);
        assert_eq!(e["pending"], false);
        assert_eq!(e["liveness"], alive);
        assert!(e["start"].as_u64().unwrap() > 0);
    }
    let o = mpsync(&["ls"]);
    let line = stdout(&o)
        .lines()
        .find(|l| l.starts_with(&name))
        .unwrap()
        .to_string();
    assert!(
        line.contains("value 0 of max 3, held 3 by 2 holders"),
        "{line}"
    );
    let o = mpsync(&["show", &name]);
    assert!(
        stdout(&o).contains(&format!("held 2, pid {}, tid {}", a.pid, a.pid)),
        "{}",
        stdout(&o)
    );

    // SIGKILL: the kernel marks the slot; its unit shows as coming back.
    b.kill();
    let v = show_json(&name, 0);
    assert_eq!(v["health"], "owner-dead");
    let e = undo_holder(&v, b.pid).expect("the dead holder is still listed");
    assert_eq!(e["state"], "dead");
    assert_eq!(e["units"], 1);
    assert_eq!(e["liveness"], "dead");
    assert_eq!(v["state"]["dead_units"], 1);
    assert_eq!(v["state"]["held_units"], 2);
    assert!(
        v["summary"]
            .as_str()
            .unwrap()
            .contains("dead holders' 1 coming back")
    );

    // Another process that needs a unit reclaims it and is told (mpsync only with
    // --take-over: without, it gives the report back, see
    // acquire_leaves_an_owner_death_report_to_the_application_unless_take_over).
    let o = mpsync(&[
        "acquire",
        &name,
        "--timeout",
        "20",
        "--take-over",
        "--",
        "sh",
        "-c",
        "echo owner_dead=$MPSYNC_OWNER_DEAD",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "owner_dead=1");
    assert!(stderr(&o).contains("came back"), "{}", stderr(&o));
    let v = show_json(&name, 0);
    assert_eq!(v["health"], "ok", "{v}");
    assert!(
        undo_holder(&v, b.pid).is_none(),
        "the dead slot stayed: {v}"
    );
    assert_eq!(v["state"]["dead_units"], 0);
    assert_eq!(v["state"]["held_units"], 2);
    assert_eq!(v["state"]["deaths_waiting"], false);

    // Held by a live process: gc keeps it; once only cached units are left, it goes.
    let o = gc(&n, &["--objects"]);
    assert!(n.path("s").exists(), "{}", stdout(&o));
    a.finish();
    let v = show_json(&name, 0);
    assert_eq!(v["state"]["held_units"], 0);
    let total =
        v["state"]["value"].as_u64().unwrap() + v["state"]["cached_units"].as_u64().unwrap();
    assert_eq!(total, 3, "{v}");
    let o = gc(&n, &["--objects"]);
    assert!(
        stdout(&o).contains(&format!("removed {name}")),
        "{}",
        stdout(&o)
    );
}

#[test]
fn gc_keeps_an_undo_semaphore_whose_dead_holders_units_wait() {
    let n = Names::new("undogc");
    let name = n.name("s");
    create(
        "semaphore",
        &name,
        &["--undo", "--value", "2", "--max", "2"],
    );
    let mut h = Holder::start(&[], &[], &["undo", &name, "1"]).expect("holder");
    h.kill();
    let v = show_json(&name, 0);
    assert_eq!(v["state"]["dead_units"], 1);
    let o = gc(&n, &["--objects"]);
    assert_eq!(code(&o), 0);
    assert!(n.path("s").exists());
    assert!(
        stdout(&o).contains(&format!(
            "kept {name} (semaphore-undo): dead holders' units wait"
        )),
        "{}",
        stdout(&o)
    );
}

#[test]
fn mpsync_acquire_killed_gives_an_undo_unit_back() {
    use std::os::unix::process::CommandExt;
    let n = Names::new("undokill");
    let name = n.name("s");
    create(
        "semaphore",
        &name,
        &["--undo", "--value", "1", "--max", "1"],
    );
    let child = Command::new(MPSYNC)
        .args(["acquire", &name, "--", "sleep", "30"])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let v = show_until(&name, |v| v["state"]["held_units"] == 1);
    let e = undo_holder(&v, pid).expect("mpsync is the holder");
    assert_eq!(e["state"], "held");
    // SIGKILL to mpsync and its command: nothing releases the unit.
    // SAFETY: signalling the process group we created.
    assert_eq!(unsafe { libc::kill(-(pid as i32), libc::SIGKILL) }, 0);
    let o = wait_output(child, "mpsync acquire -- sleep");
    assert_eq!(o.status.code(), None);
    let v = show_json(&name, 0);
    assert_eq!(v["state"]["dead_units"], 1, "{v}");
    assert_eq!(undo_holder(&v, pid).unwrap()["state"], "dead");
    // The unit comes back to the next acquirer, which is told (mpsync: with
    // --take-over).
    let o = mpsync(&[
        "acquire",
        &name,
        "--timeout",
        "20",
        "--take-over",
        "--",
        "sh",
        "-c",
        "echo owner_dead=$MPSYNC_OWNER_DEAD",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "owner_dead=1");
    let v = show_json(&name, 0);
    assert_eq!(v["health"], "ok");
    assert_eq!(v["state"]["dead_units"], 0);
    assert_eq!(v["state"]["held_units"], 0);
    let o = mpsync(&["acquire", &name, "--timeout", "0", "--", "true"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // This process holds no unit: release and post are refused, with their own code.
    for cmd in ["release", "post"] {
        let o = mpsync(&[cmd, &name]);
        assert_eq!(code(&o), 8, "{cmd}: {}", stderr(&o));
        assert!(stderr(&o).contains("undo semaphore"), "{}", stderr(&o));
    }
    // The flavour is part of the object; --undo is for semaphores; the default bound.
    assert_eq!(code(&mpsync(&["create", "semaphore", &name])), 4);
    assert_eq!(
        code(&mpsync(&["create", "lock", &n.name("l"), "--undo"])),
        2
    );
    create("semaphore", &n.name("big"), &["--undo", "--value", "5"]);
    let v = show_json(&n.name("big"), 0);
    assert_eq!(
        (
            v["state"]["value"].as_u64(),
            v["state"]["max_value"].as_u64()
        ),
        (Some(5), Some(8_388_607))
    );
}

#[test]
fn scribbled_and_truncated_undo_semaphores_never_crash_the_inspector() {
    const MAGIC: u32 = 0x4D50_5359;
    let n = Names::new("undobad");
    // Truncated: the header says undo semaphore, the file is short.
    for len in [64, 128, 4159] {
        let f = format!("short{len}");
        write_file(&n.path(&f), &image(MAGIC, 8, LAYOUT, len));
        let v = show_json(&n.name(&f), 4);
        assert_eq!(v["health"], "corrupt");
        assert!(v["detail"].as_str().unwrap().contains("truncated"), "{v}");
    }
    // Random bytes after a valid header, many times: a verdict, never a crash.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..30 {
        let mut b = image(MAGIC, 8, LAYOUT, 4160);
        for chunk in b[8..].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bytes = x.to_ne_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        if i % 2 == 0 {
            // A sane head (value 1 of max 4): the slots decode one by one.
            b[8..12].copy_from_slice(&1u32.to_ne_bytes());
            b[16..20].copy_from_slice(&4u32.to_ne_bytes());
        }
        let f = format!("rand{i}");
        write_file(&n.path(&f), &b);
        let o = mpsync(&["show", &n.name(&f), "--json"]);
        assert!(matches!(code(&o), 0 | 4), "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        if i % 2 == 0 {
            assert_eq!(v["state"]["value"], 1, "{v}");
        }
        assert_eq!(code(&mpsync(&["show", &n.name(&f)])), code(&o));
    }
    let o = mpsync(&["ls"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = gc(&n, &["--objects", "--dry-run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn unlinked_undo_holder_killed_is_proven_dead_and_a_foreign_namespace_one_is_unknown() {
    let n = Names::new("undons");
    let name = n.name("s");
    create(
        "semaphore",
        &name,
        &["--undo", "--value", "2", "--max", "2"],
    );
    // Without a robust list the kernel never marks the slot: only /proc proves the death.
    let mut h =
        Holder::start(&[], &[("MPSYNC_NO_ROBUST", "1")], &["undo", &name, "1"]).expect("holder");
    let pid = h.pid;
    assert_eq!(
        undo_holder(&show_json(&name, 0), pid).unwrap()["linked"],
        false
    );
    h.kill();
    let v = show_json(&name, 0);
    let e = undo_holder(&v, pid).expect("listed");
    assert_eq!(e["state"], "held");
    if proc_is_ours() {
        assert_eq!(e["liveness"], "dead");
        assert_eq!(v["state"]["dead_units"], 1);
        assert_eq!(v["state"]["held_units"], 0);
        assert_eq!(v["health"], "owner-dead");
    } else {
        eprintln!("/proc is not our namespace's: the holder must be unknown, never dead");
        assert_eq!(e["liveness"], "unknown");
        assert_eq!(v["state"]["held_units"], 1);
    }

    // A holder in another PID namespace (as root): unknown, never dead, until the kernel
    // marks its slot.
    if euid() != 0 {
        eprintln!("skipped the PID-namespace part: needs root for unshare --pid");
        return;
    }
    let other = n.name("ns");
    create(
        "semaphore",
        &other,
        &["--undo", "--value", "1", "--max", "1"],
    );
    let Some(mut h) = Holder::start(
        &["unshare", "--pid", "--fork", "--kill-child"],
        &[],
        &["undo", &other, "1"],
    ) else {
        eprintln!("skipped: unshare --pid --fork is not available here");
        return;
    };
    let v = show_json(&other, 0);
    let e =
        undo_holder(&v, 1).unwrap_or_else(|| panic!("the holder is pid 1 of its namespace: {v}"));
    assert_eq!(e["state"], "held");
    assert_eq!(e["liveness"], "unknown");
    assert_eq!(v["state"]["held_units"], 1);
    assert_eq!(v["state"]["cross_namespace"], true);
    assert_eq!(v["health"], "ok");
    h.kill();
    let v = show_until(&other, |v| v["state"]["dead_units"] == 1);
    assert_eq!(undo_holder(&v, 1).unwrap()["state"], "dead");
    assert_eq!(v["health"], "owner-dead");
}

/// Text after a newline in a name that, printed raw, reads as a healthy entry of `ls`.
const FORGED: &str =
    "forged-lock              rlock              64      0 0600   2 ok            -          free";

/// What a hostile entry is: a valid free object (its kind code) or a foreign file.
#[derive(Clone, Copy, PartialEq)]
enum Content {
    Object(u32),
    Foreign,
}

/// Names (suffixes of the test's prefix) that control a terminal or forge a line if
/// printed raw, what each file holds, and how `mpsync` prints the name.
fn hostile_names() -> Vec<(Vec<u8>, Content, String)> {
    const LOCK: u32 = 1;
    const RLOCK: u32 = 2;
    vec![
        (
            b"title\x1b]0;pwned\x07".to_vec(),
            Content::Foreign,
            r"title\033]0;pwned\a".into(),
        ),
        (
            b"clear\x1b[2J".to_vec(),
            Content::Object(LOCK),
            r"clear\033[2J".into(),
        ),
        (b"bell\x07".to_vec(), Content::Foreign, r"bell\a".into()),
        (
            format!("nl\n{FORGED}").into_bytes(),
            Content::Object(RLOCK),
            format!(r"nl\n{FORGED}"),
        ),
        (b"bad\xff".to_vec(), Content::Foreign, r"bad\377".into()),
        (
            "csi\u{9b}2J".as_bytes().to_vec(),
            Content::Foreign,
            r"csi\302\2332J".into(),
        ),
        (
            b"back\\slash".to_vec(),
            Content::Foreign,
            r"back\\slash".into(),
        ),
    ]
}

/// Creates the hostile entries under `n`'s prefix.
fn create_hostile_entries(n: &Names) -> Vec<(Vec<u8>, Content, String)> {
    const MAGIC: u32 = 0x4D50_5359;
    let names = hostile_names();
    for (suffix, content, _) in &names {
        let bytes = match *content {
            Content::Object(kind) => image(MAGIC, kind, LAYOUT, 64),
            Content::Foreign => b"x".to_vec(),
        };
        write_file(&n.bytes_path(suffix), &bytes);
    }
    names
}

/// Panics unless `bytes` is UTF-8 without control characters but line feeds.
fn assert_printable(what: &str, bytes: &[u8]) {
    let text =
        std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: not UTF-8 ({e}): {bytes:?}"));
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| c.is_control() && c != '\n')
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: control characters {bad:?} in {text:?}"
    );
}

fn unhex(digits: &str) -> Vec<u8> {
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

/// The exit code of `show` for an entry of this content.
fn show_code(content: Content) -> i32 {
    if content == Content::Foreign { 4 } else { 0 }
}

#[test]
fn hostile_names_print_escaped_one_line_each() {
    let n = Names::new("esc");
    let names = create_hostile_entries(&n);

    let o = mpsync(&["ls"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_printable("ls", &o.stdout);
    let out = stdout(&o);
    let ours: Vec<&str> = out.lines().filter(|l| l.contains(&n.prefix)).collect();
    assert_eq!(ours.len(), names.len(), "one line per entry: {ours:#?}");
    for (_, content, shown) in &names {
        let start = format!("{}{shown} ", n.prefix);
        let lines = ours.iter().filter(|l| l.starts_with(&start)).count();
        assert_eq!(lines, 1, "{start:?} in {ours:#?}");
        if let Content::Object(_) = content {
            let line = ours.iter().find(|l| l.starts_with(&start)).unwrap();
            assert!(line.contains(" ok "), "{line}");
        }
    }
    assert!(
        !out.lines().any(|l| l.starts_with("forged-")),
        "a name forged an entry:\n{out}"
    );

    for (suffix, content, shown) in &names {
        let name = n.bytes_name(suffix);
        let o = mpsync(&[OsStr::new("show"), OsStr::from_bytes(&name)]);
        assert_eq!(code(&o), show_code(*content), "{shown}: {}", stderr(&o));
        assert_printable("show", &o.stdout);
        assert_printable("show's error", &o.stderr);
        assert_eq!(
            stdout(&o).lines().next(),
            Some(format!("name:         {}{shown}", n.prefix).as_str())
        );
        if *content == Content::Foreign {
            assert!(
                stderr(&o).starts_with(&format!("mpsync: {}{shown}: foreign: ", n.prefix)),
                "{}",
                stderr(&o)
            );
        }
        let o = mpsync(&[
            OsStr::new("watch"),
            OsStr::from_bytes(&name),
            OsStr::new("--count"),
            OsStr::new("1"),
        ]);
        assert_eq!(code(&o), show_code(*content), "{shown}: {}", stderr(&o));
        assert_printable("watch", &o.stdout);
        // Commands for scripts refuse names outside the library's rules, printed
        // escaped (one that is not UTF-8 is refused as a usage error).
        let o = mpsync(&[
            OsStr::new("acquire"),
            OsStr::from_bytes(&name),
            OsStr::new("--"),
            OsStr::new("true"),
        ]);
        assert_printable("acquire's error", &o.stderr);
        if std::str::from_utf8(&name).is_ok() {
            assert_ne!(code(&o), 0, "{shown}");
            assert!(
                stderr(&o).contains(&format!("{}{shown}", n.prefix)),
                "{}",
                stderr(&o)
            );
        } else {
            assert_eq!(code(&o), 2, "{shown}");
        }
    }

    // gc reports them; usage errors quote arguments escaped.
    let o = gc(&n, &["--objects", "--dry-run"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_printable("gc", &o.stdout);
    let out = stdout(&o);
    let gc_lines: Vec<&str> = out.lines().collect();
    assert_eq!(gc_lines.len(), 2, "one line per object: {gc_lines:#?}");
    for (_, content, shown) in &names {
        if let Content::Object(_) = content {
            let entry = format!("would remove {}{shown} (", n.prefix);
            assert!(
                gc_lines.iter().any(|l| l.starts_with(&entry)),
                "{entry:?} in {gc_lines:#?}"
            );
        }
    }
    let title = n.bytes_name(&names[0].0);
    let o = mpsync(&[
        OsStr::new("show"),
        OsStr::new("x"),
        OsStr::from_bytes(&title),
    ]);
    assert_eq!(code(&o), 2);
    assert_printable("a usage error", &o.stderr);
}

#[test]
fn json_name_hex_gives_back_the_exact_name_that_show_and_rm_act_on() {
    let n = Names::new("hex");
    let names = create_hostile_entries(&n);
    let exact = |suffix: &[u8]| n.bytes_name(suffix);

    let o = mpsync(&["ls", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let all: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let mut listed: Vec<Vec<u8>> = all
        .iter()
        .filter(|e| e["name"].as_str().unwrap().starts_with(&n.prefix))
        .map(|e| unhex(e["name_hex"].as_str().expect("name_hex")))
        .collect();
    let mut created: Vec<Vec<u8>> = names.iter().map(|(s, ..)| exact(s)).collect();
    listed.sort();
    created.sort();
    assert_eq!(listed, created, "name_hex decodes to the exact names");
    // `name` stays the name made UTF-8.
    assert!(
        all.iter()
            .any(|e| e["name"] == format!("{}bad\u{fffd}", n.prefix))
    );

    let o = gc(&n, &["--objects", "--dry-run", "--json"]);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut collected: Vec<Vec<u8>> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| unhex(r["name_hex"].as_str().expect("gc name_hex")))
        .collect();
    let mut objects: Vec<Vec<u8>> = names
        .iter()
        .filter(|(_, c, _)| *c != Content::Foreign)
        .map(|(s, ..)| exact(s))
        .collect();
    collected.sort();
    objects.sort();
    assert_eq!(collected, objects);

    // A script acts on each by its name_hex, or by its bytes as an argument.
    for (i, (suffix, content, shown)) in names.iter().enumerate() {
        let name = exact(suffix);
        let hex: String = name.iter().map(|b| format!("{b:02x}")).collect();
        let o = mpsync(&["show", "--hex", &hex, "--json"]);
        assert_eq!(code(&o), show_code(*content), "{shown}: {}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["name_hex"], hex.as_str());
        let o = mpsync(&[
            OsStr::new("show"),
            OsStr::from_bytes(&name),
            OsStr::new("--json"),
        ]);
        assert_eq!(code(&o), show_code(*content), "{shown}: {}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["name_hex"], hex.as_str());
        let o = mpsync(&["watch", "--hex", &hex, "--count", "1", "--json"]);
        assert_eq!(code(&o), show_code(*content), "{shown}: {}", stderr(&o));
        let frame: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(frame["name_hex"], hex.as_str());

        // Every other one by --hex (the name that is not UTF-8 by its bytes).
        let o = if i % 2 == 1 {
            mpsync(&["rm", "--ignore-unreadable", "--hex", &hex])
        } else {
            mpsync(&[
                OsStr::new("rm"),
                OsStr::new("--ignore-unreadable"),
                OsStr::from_bytes(&name),
            ])
        };
        assert_eq!(code(&o), 0, "rm {shown}: {}", stderr(&o));
        assert_printable("rm", &o.stdout);
        assert_eq!(
            stdout(&o),
            format!(
                "removed {}{shown} ({})\n",
                n.prefix,
                v["type"].as_str().unwrap()
            )
        );
        assert!(!n.bytes_path(suffix).exists(), "{shown} not removed");
        let o = mpsync(&["show", "--hex", &hex]);
        assert_eq!(code(&o), 3, "{shown} still there");
    }
    let o = mpsync(&["show", "--hex", "abc"]);
    assert_eq!(code(&o), 2, "an odd number of hex digits is a usage error");
}

/// Every command that takes a name refuses an invalid one as a usage error (exit 2),
/// whether a file of that name exists or not; the commands for shell scripts refuse any
/// name outside the library's rules (before, they answered "no such name", exit 3).
#[test]
fn an_invalid_name_is_a_usage_error_for_every_command() {
    let n = Names::new("badname");
    let too_long = "x".repeat(201);
    // A file outside the library's rules that exists, with a valid RLock header.
    let existing = n.name("with space");
    write_file(&n.path("with space"), &image(0x4D50_5359, 2, LAYOUT, 64));
    let script_names = [
        "a b",
        "a%b",
        "..",
        "",
        "/",
        too_long.as_str(),
        existing.as_str(),
        "x\n\x1b[2J",
    ];
    let commands: [&[&str]; 8] = [
        &["create", "lock"],
        &["create", "event"],
        &["acquire"],
        &["release"],
        &["post"],
        &["set"],
        &["clear"],
        &["wait"],
    ];
    for cmd in commands {
        for name in script_names {
            let mut args: Vec<&str> = cmd.to_vec();
            args.push(name);
            match cmd[0] {
                "acquire" => args.extend(["--", "true"]),
                "wait" => args.extend(["--timeout", "0"]),
                _ => {}
            }
            let o = mpsync(&args);
            assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
            assert!(
                stderr(&o).contains("not an object name"),
                "{args:?}: {}",
                stderr(&o)
            );
            assert_printable("the refusal", &o.stderr);
            assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
        }
    }
    // The inspection commands take any file name, but not what is no file name.
    for name in ["a/b", "", "..", "x".repeat(256).as_str()] {
        for args in [
            vec!["show", name],
            vec!["rm", name],
            vec!["watch", name, "--count", "1"],
        ] {
            let o = mpsync(&args);
            assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        }
    }
    assert_eq!(code(&mpsync(&["show", &existing])), 0);
}

/// The codes of an exit-code table: the first number of each row (Markdown `| N |`) or
/// line (`  N   meaning` of `--help`) under `heading`, until the table ends.
fn table_codes(text: &str, heading: &str, row: fn(&str) -> Option<i32>) -> Vec<i32> {
    let at = text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    text[at + heading.len()..]
        .lines()
        .skip_while(|l| row(l).is_none())
        .take_while(|l| row(l).is_some() || l.starts_with("      "))
        .filter_map(row)
        .collect()
}

/// docs/cli.md (the contract), the README and `mpsync --help` list the same exit codes.
#[test]
fn exit_code_tables_agree() {
    let markdown_row =
        |l: &str| -> Option<i32> { l.strip_prefix("| ")?.split(' ').next()?.parse().ok() };
    let help_row = |l: &str| -> Option<i32> {
        let rest = l.strip_prefix("  ")?;
        if rest.starts_with(' ') {
            return None;
        }
        rest.split(' ').next()?.parse().ok()
    };
    let docs = std::fs::read_to_string(workspace().join("docs/cli.md")).unwrap();
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let help = stdout(&mpsync(&["--help"]));
    let in_docs = table_codes(&docs, "## Exit codes", markdown_row);
    let in_readme = table_codes(&readme, "**Exit codes**", markdown_row);
    let in_help = table_codes(&help, "Exit codes:", help_row);
    assert!(in_docs.contains(&70) && in_docs.len() > 8, "{in_docs:?}");
    assert_eq!(in_readme, in_docs, "README vs docs/cli.md");
    assert_eq!(in_help, in_docs, "mpsync --help vs docs/cli.md");
}

/// The column of `title` in the header of `ls`, and where it ends.
fn column(header: &str, title: &str) -> (usize, usize) {
    let at = header
        .find(title)
        .unwrap_or_else(|| panic!("no {title} in {header:?}"));
    (at, at + title.len())
}

/// `ls` keeps its columns aligned: a name of the longest length the library allows and
/// a block mapped by many processes widen their columns, and every other cell still
/// starts (or, right-aligned, ends) under its title.
#[test]
fn ls_columns_stay_aligned_for_long_names_and_many_mappers() {
    let n = Names::new("align");
    let long = n.name(&"L".repeat(200 - n.prefix.len()));
    assert_eq!(long.len(), 200);
    create("rlock", &long, &[]);
    create("lock", &n.name("s"), &[]);
    let blk = n.name("blk");
    create("block", &blk, &["--size", "123456"]);
    let holders: Vec<Holder> = (0..8)
        .map(|_| Holder::start(&[], &[], &["map", &blk]).expect("holder"))
        .collect();

    let o = mpsync(&["ls", "--prefix", &n.prefix]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    let header = lines[0];
    let o = mpsync(&["ls", "--prefix", &n.prefix, "--json"]);
    let entries: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(entries.len(), 3);
    let mapped_by_blk = entries.iter().find(|e| e["name"] == blk.as_str()).unwrap()["mapped_by"]
        .as_array()
        .unwrap()
        .len();
    assert!(mapped_by_blk >= holders.len(), "{entries:?}");
    for e in &entries {
        let name = e["name"].as_str().unwrap();
        let row = *lines
            .iter()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not listed:\n{out}"));
        let mut mapped: Vec<String> = e["mapped_by"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.to_string())
            .collect();
        if e["mapped_by_unknown"] != 0 {
            mapped.push(format!("?{}", e["mapped_by_unknown"]));
        }
        let mapped = if mapped.is_empty() {
            "-".to_string()
        } else {
            mapped.join(",")
        };
        let left = [
            ("TYPE", e["type"].as_str().unwrap().to_string()),
            ("MODE", e["mode"].as_str().unwrap().to_string()),
            ("HEALTH", e["health"].as_str().unwrap().to_string()),
            ("MAPPED-BY", mapped),
        ];
        for (title, cell) in left {
            let (at, _) = column(header, title);
            assert_eq!(&row[at - 1..at], " ", "{title} of {name}:\n{out}");
            assert!(
                row[at..].starts_with(&format!("{cell} ")),
                "{title} of {name} is not {cell:?}:\n{out}"
            );
        }
        for (title, cell) in [
            ("SIZE", e["size"].to_string()),
            ("UID", e["uid"].to_string()),
        ] {
            let (_, end) = column(header, title);
            assert!(
                row[..end].ends_with(&format!(" {cell}")),
                "{title} of {name} does not end under its title:\n{out}"
            );
        }
        let (at, _) = column(header, "STATE");
        assert_eq!(&row[at..], e["summary"].as_str().unwrap(), "{out}");
        let (type_at, _) = column(header, "TYPE");
        assert_eq!(row[..type_at].trim_end(), name);
    }
    drop(holders);
}

/// `ls --prefix` and `ls --glob` select names by their exact bytes, also a name that is
/// not UTF-8, in the table and in JSON.
#[test]
fn ls_filters_names_by_prefix_and_glob() {
    let n = Names::new("filter");
    for s in ["lock-1", "lock-2", "lock-10", "ev"] {
        create("lock", &n.name(s), &[]);
    }
    write_file(&n.bytes_path(b"bad\xff"), b"x");
    // The suffixes of the entries that `ls ARGS` lists, in the table and in JSON.
    let listed = |args: &[&OsStr]| -> Vec<Vec<u8>> {
        let mut table_args = vec![OsStr::new("ls")];
        table_args.extend_from_slice(args);
        let o = mpsync(&table_args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(stdout(&o).starts_with("NAME "), "{}", stdout(&o));
        let rows = stdout(&o).lines().count() - 1;
        table_args.push(OsStr::new("--json"));
        let o = mpsync(&table_args);
        let all: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(all.len(), rows, "table and JSON list the same entries");
        let mut names: Vec<Vec<u8>> = all
            .iter()
            .map(|e| unhex(e["name_hex"].as_str().unwrap())[n.prefix.len()..].to_vec())
            .collect();
        names.sort();
        names
    };
    let os = |s: &str| OsStr::new(s).to_os_string();
    let prefix = |p: &str| os(&n.name(p));
    let flag = |f: &str, v: &std::ffi::OsString| vec![os(f), v.clone()];
    let run = |args: Vec<std::ffi::OsString>| {
        let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        listed(&args)
    };
    let b = |s: &str| s.as_bytes().to_vec();
    assert_eq!(
        run(flag("--prefix", &prefix(""))),
        [
            b"bad\xff".to_vec(),
            b("ev"),
            b("lock-1"),
            b("lock-10"),
            b("lock-2")
        ]
    );
    assert_eq!(
        run(flag("--prefix", &prefix("lock-"))),
        [b("lock-1"), b("lock-10"), b("lock-2")]
    );
    assert_eq!(
        run(flag("--glob", &prefix("lock-?"))),
        [b("lock-1"), b("lock-2")]
    );
    assert_eq!(
        run(flag("--glob", &prefix("*[a-z]"))),
        [b("ev")],
        "a glob matches the whole name"
    );
    assert_eq!(
        run(flag("--glob", &prefix("*[!0-9]"))),
        [b"bad\xff".to_vec(), b("ev")]
    );
    let mut both = flag("--prefix", &prefix("lock-1"));
    both.extend(flag("--glob", &os("*0")));
    assert_eq!(run(both), [b("lock-10")], "both filters apply");
    let not_utf8 = std::ffi::OsString::from(std::ffi::OsStr::from_bytes(
        &[n.prefix.as_bytes(), b"*\xff"].concat(),
    ));
    assert_eq!(run(flag("--glob", &not_utf8)), [b"bad\xff".to_vec()]);
    assert_eq!(run(flag("--glob", &prefix("bad?"))), [b"bad\xff".to_vec()]);
    assert!(run(flag("--prefix", &prefix("nothing"))).is_empty());
}

/// The options of the commands for shell scripts that take a value.
const VALUE_OPTIONS: [&str; 8] = [
    "--value",
    "--max",
    "--mode",
    "--parties",
    "--elem-type",
    "--length",
    "--size",
    "--timeout",
];

/// The object name of `mpsync ARGS` (a command for shell scripts): the first argument
/// after the subcommand (and `create`'s type) that is neither an option nor its value.
fn sample_name<'a>(args: &[&'a str]) -> Option<&'a str> {
    let skip = if args.first() == Some(&"create") {
        2
    } else {
        1
    };
    let mut after_option = false;
    for a in args.iter().skip(skip) {
        if *a == "--" {
            return None;
        }
        if a.starts_with("--") {
            after_option = VALUE_OPTIONS.contains(a);
            continue;
        }
        if !after_option {
            return Some(a);
        }
        after_option = false;
    }
    None
}

/// The samples of docs/cli.md's "Commands for shell scripts" run as written: every
/// object a sample acts on, it creates first, and every command succeeds. Names get
/// this test's prefix, and the commands that `acquire` runs (`./deploy.sh`, ...) become
/// `true`.
#[test]
fn the_docs_shell_sample_runs_as_written() {
    let docs = std::fs::read_to_string(workspace().join("docs/cli.md")).unwrap();
    let section = &docs[docs.find("## Commands for shell scripts").unwrap()..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let blocks: Vec<&str> = section
        .split("```sh\n")
        .skip(1)
        .map(|b| &b[..b.find("```").unwrap()])
        .collect();
    assert!(blocks.len() >= 2, "{blocks:?}");
    let ran: usize = blocks
        .iter()
        .enumerate()
        .map(|(i, block)| run_sample(&Names::new(&format!("sample{i}")), block))
        .sum();
    assert!(ran >= 10, "the samples have {ran} commands");
}

/// Runs the `mpsync` commands of one sample (see `the_docs_shell_sample_runs_as_written`)
/// under `n`'s prefix; returns how many ran.
fn run_sample(n: &Names, block: &str) -> usize {
    let mut created: Vec<String> = Vec::new();
    let mut ran = 0;
    for line in block.lines() {
        let code_part = line.split('#').next().unwrap();
        for command in code_part.split(';') {
            let words: Vec<&str> = command.split_whitespace().collect();
            let Some((&"mpsync", args)) = words.split_first() else {
                assert!(words.is_empty(), "not an mpsync command: {command:?}");
                continue;
            };
            let name = sample_name(args).unwrap_or_else(|| panic!("no name in {command:?}"));
            if args[0] == "create" {
                created.push(name.to_string());
            } else {
                assert!(
                    created.iter().any(|c| c == name),
                    "the sample runs `{}` on {name:?}, which it never created",
                    command.trim()
                );
            }
            let mine = n.name(name);
            let mut run: Vec<&str> = Vec::new();
            for a in args {
                if *a == "--" {
                    run.extend(["--", "true"]);
                    break;
                }
                run.push(if *a == name { &mine } else { a });
            }
            let o = mpsync(&run);
            assert_eq!(code(&o), 0, "{run:?}: {}", stderr(&o));
            ran += 1;
        }
    }
    ran
}

/// The hex form of `bytes`.
fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `show` names a live owner's command line (an RLock's owner, an undo semaphore's
/// holders), escaped in the text and exact in JSON (`cmdline_hex`); for an owner that
/// is not provably alive it says "unknown" (null in JSON), never another process's.
#[test]
fn show_names_the_owners_command_line() {
    let n = Names::new("cmdline");
    let exe = holder_exe().to_str().unwrap().to_string();
    let rl = n.name("rl");
    create("rlock", &rl, &[]);
    // holder.c ignores arguments after NAME: they show how arguments are printed.
    let h = Holder::start(&[], &[], &["rlock", &rl, "tab\there", "two words", ""]).unwrap();
    let v = show_json(&rl, 0);
    let owner = &v["state"]["owner"];
    let args = [
        exe.as_str(),
        "rlock",
        rl.as_str(),
        "tab\there",
        "two words",
        "",
    ];
    if owner["liveness"] == "alive" {
        assert_eq!(owner["cmdline"], serde_json::json!(args), "{v}");
        let hexes: Vec<String> = args.iter().map(|a| hex_of(a.as_bytes())).collect();
        assert_eq!(owner["cmdline_hex"], serde_json::json!(hexes), "{v}");
        let o = mpsync(&["show", &rl]);
        assert_printable("show", &o.stdout);
        let want = format!("command:      {exe} rlock {rl} tab\\there two words \n");
        assert!(stdout(&o).contains(&want), "{}", stdout(&o));
        // ls --json carries the same entry.
        let o = mpsync(&["ls", "--prefix", &rl, "--json"]);
        let all: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(all[0]["state"]["owner"]["cmdline"], owner["cmdline"]);
    } else {
        eprintln!("the owner is not provably alive from here: its command line is unknown");
        assert_eq!(owner["cmdline"], Value::Null);
    }
    drop(h);

    // An undo semaphore's holder: its slot line ends with its command.
    let s = n.name("s");
    create("semaphore", &s, &["--undo", "--value", "2", "--max", "2"]);
    let h = Holder::start(&[], &[], &["undo", &s, "1"]).unwrap();
    let v = show_json(&s, 0);
    let slot = undo_holder(&v, h.pid).expect("listed");
    if slot["liveness"] == "alive" {
        assert_eq!(
            slot["cmdline"],
            serde_json::json!([exe.as_str(), "undo", s.as_str(), "1"])
        );
        let o = mpsync(&["show", &s]);
        let want = format!(": alive, linked, command: {exe} undo {s} 1\n");
        assert!(stdout(&o).contains(&want), "{}", stdout(&o));
    }
    drop(h);

    // A dead owner (no robust list: the word still names it): unknown, also when its
    // pid names a live process again.
    let dead = n.name("dead");
    create("rlock", &dead, &[]);
    let mut h = Holder::start(&[], &[("MPSYNC_NO_ROBUST", "1")], &["rlock", &dead]).unwrap();
    h.kill();
    let v = show_json(&dead, 0);
    assert_eq!(v["state"]["locked"], true);
    assert_ne!(v["state"]["owner"]["liveness"], "alive");
    assert_eq!(v["state"]["owner"]["cmdline"], Value::Null);
    assert_eq!(v["state"]["owner"]["cmdline_hex"], Value::Null);
    let o = mpsync(&["show", &dead]);
    assert!(
        stdout(&o).contains("command:      unknown\n"),
        "{}",
        stdout(&o)
    );
}

/// The pids (other than `except`) whose `/proc/PID/maps` this process cannot read.
fn unreadable_pids(except: u32) -> Vec<u32> {
    use std::io::Read;
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != except && pid != std::process::id())
        .filter(
            |pid| match std::fs::File::open(format!("/proc/{pid}/maps")) {
                Ok(mut f) => f.read(&mut [0u8; 64]).is_err(),
                Err(e) => e.kind() != std::io::ErrorKind::NotFound,
            },
        )
        .collect()
}

/// When only processes whose mappings cannot be read stop `rm` and `gc` (root without
/// CAP_SYS_PTRACE over a container's init; any root process as another user), both say
/// which processes they are (pid, command) and why that matters.
#[test]
fn rm_and_gc_name_the_processes_whose_mappings_they_cannot_read() {
    let n = Names::new("unread");
    let name = n.name("lk");
    create("lock", &name, &["--mode", "644"]);
    let v = show_json(&name, 0);
    if v["mapped_by_unknown"] == 0 {
        eprintln!("skipped: every process's mappings are readable here");
        return;
    }
    let o = mpsync(&["rm", &name]);
    assert_eq!(code(&o), 6, "{}", stderr(&o));
    let err = stderr(&o);
    assert_printable("rm's refusal", &o.stderr);
    // Who: a pid that mpsync could not read (this test cannot either: same user), with
    // its command (its arguments, or [comm]).
    let pids = unreadable_pids(0);
    let named: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|p| err.contains(&format!("pid {p} (")))
        .collect();
    assert!(
        !named.is_empty(),
        "no unreadable pid of {pids:?} named: {err}"
    );
    let p = named[0];
    let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
    let arg0 = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
    let arg0 = String::from_utf8_lossy(arg0.split(|&b| b == 0).next().unwrap()).into_owned();
    assert!(
        (!arg0.is_empty() && err.contains(&format!("pid {p} ({arg0}")))
            || err.contains(&format!("pid {p} ([{}])", comm.trim_end())),
        "pid {p}'s command is not named: {err}"
    );
    // Why it matters, and the way out.
    assert!(err.contains("breaks rendezvous"), "{err}");
    assert!(err.contains("--ignore-unreadable"), "{err}");
    assert!(n.path("lk").exists());

    // gc: the same processes, once, on stderr; in JSON too.
    let o = mpsync(&["gc", "--objects", "--prefix", &n.prefix]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("kept {name} (lock)")),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains(&format!("pid {p} (")), "{}", stderr(&o));
    assert!(stderr(&o).contains("breaks rendezvous"), "{}", stderr(&o));
    let o = mpsync(&["gc", "--objects", "--json", "--prefix", &n.prefix]);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed: Vec<u64> = report["unreadable_processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_u64().unwrap())
        .collect();
    assert!(listed.contains(&u64::from(p)), "{report}");
    assert!(n.path("lk").exists());

    // Told to ignore them, both remove it, and name nobody.
    let o = mpsync(&[
        "gc",
        "--objects",
        "--ignore-unreadable",
        "--dry-run",
        "--prefix",
        &n.prefix,
    ]);
    assert!(
        stdout(&o).contains(&format!("would remove {name}")),
        "{}",
        stdout(&o)
    );
    assert_eq!(stderr(&o), "");
    let o = mpsync(&["rm", "--ignore-unreadable", &name]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!n.path("lk").exists());
}

/// A marker file that a command run by `mpsync acquire` creates, to tell whether it ran.
fn marker(n: &Names, what: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("{}{what}", n.prefix));
    let _ = std::fs::remove_file(&p);
    p
}

/// The review's case: a holder of an RLock is SIGKILLed; `mpsync acquire NAME -- CMD`
/// must not take the death report (it used to run CMD with MPSYNC_OWNER_DEAD=1 and
/// release, and the application's next acquire got MP_OK, so its repair never ran).
/// Now it refuses (exit 9) without acquiring, and the application gets MP_OWNER_DEAD.
#[test]
fn acquire_leaves_an_owner_death_report_to_the_application_unless_take_over() {
    let n = Names::new("leave");
    let name = n.name("rl");
    create("rlock", &name, &[]);
    let mut h = Holder::start(&[], &[], &["rlock", &name]).expect("holder");
    h.kill();
    let ran = marker(&n, "ran");
    let touch = ran.to_str().unwrap();
    for extra in [&[][..], &["--timeout", "0"], &["--timeout", "5"]] {
        let mut args = vec!["acquire", &name];
        args.extend_from_slice(extra);
        args.extend(["--", "touch", touch]);
        let o = mpsync(&args);
        assert_eq!(code(&o), 9, "{args:?}: {}", stderr(&o));
        assert!(!ran.exists(), "{args:?} ran the command");
        assert!(stderr(&o).contains("owner died"), "{}", stderr(&o));
        assert_printable("the refusal", &o.stderr);
        let v = show_json(&name, 0);
        assert_eq!(v["health"], "owner-dead", "{args:?}: {v}");
        assert_eq!(v["state"]["owner_died_mark"], true);
    }
    // The application's next acquire gets the report.
    let mut app = Holder::start(&[], &[], &["rlock", &name]).expect("application");
    assert_eq!(app.line, format!("held {} owner-dead", app.pid));
    app.finish();
    // Repaired and released: mpsync acquires as usual.
    let o = mpsync(&["acquire", &name, "--", "touch", touch]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(ran.exists());
    let _ = std::fs::remove_file(&ran);
}

/// A sticky RLock (`create rlock --sticky`) whose holder was SIGKILLed stays owner-dead
/// through every acquirer that does not repair: `show` says a repair is pending, `acquire`
/// refuses without --take-over, gc keeps it; `acquire --take-over` whose command fails
/// leaves it so, and one whose command succeeds marks it consistent.
#[test]
fn a_sticky_rlock_stays_owner_dead_until_a_repair() {
    let n = Names::new("sticky");
    let name = n.name("rl");
    create("rlock", &name, &["--sticky"]);
    let v = show_json(&name, 0);
    assert_eq!(
        (v["health"].clone(), v["state"]["sticky"].clone()),
        ("ok".into(), true.into())
    );
    assert!(stdout(&mpsync(&["show", &name])).contains("free, sticky"));
    let o = mpsync(&["create", "lock", &n.name("l"), "--sticky"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let mut h = Holder::start(&[], &[], &["rlock", &name]).expect("holder");
    h.kill();
    // The application's acquirers get the report, and release without repairing.
    for _ in 0..2 {
        let mut app = Holder::start(&[], &[], &["rlock", &name]).expect("application");
        assert_eq!(app.line, format!("held {} owner-dead", app.pid));
        app.finish();
    }
    let v = show_json(&name, 0);
    assert_eq!(v["health"], "owner-dead", "{v}");
    assert_eq!(v["state"]["inconsistent"], true);
    let shown = stdout(&mpsync(&["show", &name]));
    assert!(shown.contains("repair pending"), "{shown}");
    let o = mpsync(&["acquire", &name, "--", "true"]);
    assert_eq!(code(&o), 9, "{}", stderr(&o));
    let o = gc(&n, &["--objects", "--dry-run"]);
    assert!(
        stdout(&o).contains(&format!("kept {name} (rlock): owner died")),
        "{}",
        stdout(&o)
    );
    // A repair command that fails leaves the report in place; one that succeeds ends it.
    let o = mpsync(&["acquire", &name, "--take-over", "--", "false"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(show_json(&name, 0)["state"]["inconsistent"], true);
    take_over_with_a_command_that_is_told(&name);
    let v = show_json(&name, 0);
    assert_eq!(
        (v["health"].clone(), v["state"]["inconsistent"].clone()),
        ("ok".into(), false.into())
    );
    let mut app = Holder::start(&[], &[], &["rlock", &name]).expect("application");
    assert_eq!(app.line, format!("held {}", app.pid));
    app.finish();
}

/// The owner dies while `mpsync acquire` waits: the kernel hands the lock, and the
/// report, to mpsync. Without --take-over it gives the report back: it does not run the
/// command, and exits (9) without releasing, so that the lock is owner-dead again and
/// the application's next acquire gets MP_OWNER_DEAD.
#[test]
fn a_report_that_reaches_acquire_while_it_waits_is_given_back() {
    let n = Names::new("giveback");
    let name = n.name("rl");
    create("rlock", &name, &[]);
    let mut h = Holder::start(&[], &[], &["rlock", &name]).expect("holder");
    let ran = marker(&n, "ran");
    let child = Command::new(MPSYNC)
        .args(["acquire", &name, "--", "touch", ran.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // mpsync sleeps on the lock (so it passed its inspection, which found it alive).
    show_until(&name, |v| v["state"]["waiters"] == true);
    h.kill();
    let o = wait_output(child, "mpsync acquire, woken by the owner's death");
    assert_eq!(code(&o), 9, "{}", stderr(&o));
    assert!(!ran.exists(), "the command ran");
    assert!(
        stderr(&o).contains("gives the report back"),
        "{}",
        stderr(&o)
    );
    let v = show_json(&name, 0);
    assert_eq!(v["health"], "owner-dead", "{v}");
    let mut app = Holder::start(&[], &[], &["rlock", &name]).expect("application");
    assert_eq!(app.line, format!("held {} owner-dead", app.pid));
    app.finish();
}

/// An undo semaphore: an acquire that needs a dead holder's units reclaims them and
/// gets the report. Without --take-over, mpsync gives it back (exit 9, command not
/// run): its own unit comes back as a dead holder's, and the application that needs
/// it is told.
#[test]
fn an_undo_semaphore_report_is_given_back_unless_take_over() {
    let n = Names::new("undoback");
    let name = n.name("s");
    create(
        "semaphore",
        &name,
        &["--undo", "--value", "1", "--max", "1"],
    );
    let mut h = Holder::start(&[], &[], &["undo", &name, "1"]).expect("holder");
    let dead_pid = h.pid;
    h.kill();
    assert_eq!(show_json(&name, 0)["state"]["dead_units"], 1);
    let ran = marker(&n, "ran");
    let o = mpsync(&[
        "acquire",
        &name,
        "--timeout",
        "20",
        "--",
        "touch",
        ran.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 9, "{}", stderr(&o));
    assert!(!ran.exists(), "the command ran");
    assert!(stderr(&o).contains("reclaimed"), "{}", stderr(&o));
    // The unit is a dead holder's again: mpsync's, which exited holding it.
    let v = show_json(&name, 0);
    assert_eq!(v["health"], "owner-dead", "{v}");
    assert_eq!(v["state"]["dead_units"], 1, "{v}");
    assert!(undo_holder(&v, dead_pid).is_none(), "{v}");
    let mut app = Holder::start(&[], &[], &["undo", &name, "1"]).expect("application");
    assert_eq!(app.line, format!("held {} owner-dead", app.pid));
    app.finish();
    // Nothing waits any more: mpsync acquires as usual.
    let o = mpsync(&["acquire", &name, "--timeout", "20", "--", "true"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// `gc --objects` keeps an object whose owner died (its report waits for the next
/// acquirer) unless `--owner-dead`; `--orphans` still removes an anonymous name whose
/// creator died, owner-dead or not; `gc --glob` selects names as `ls --glob` does.
#[test]
fn gc_keeps_owner_dead_objects_unless_asked() {
    let n = Names::new("gcdead");
    let (a, b) = (n.name("ra"), n.name("rb"));
    for name in [&a, &b] {
        create("rlock", name, &[]);
        let mut h = Holder::start(&[], &[], &["rlock", name]).expect("holder");
        h.kill();
        assert_eq!(show_json(name, 0)["health"], "owner-dead");
    }
    let o = gc(&n, &["--objects"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for name in [&a, &b] {
        assert!(
            stdout(&o).contains(&format!("kept {name} (rlock): owner died")),
            "{}",
            stdout(&o)
        );
    }
    assert!(n.path("ra").exists() && n.path("rb").exists());
    let o = gc(&n, &["--objects", "--json"]);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["removed"], serde_json::json!([]), "{report}");
    assert_eq!(report["kept"].as_array().unwrap().len(), 2, "{report}");
    // --owner-dead widens --objects; alone it is a usage error.
    let o = mpsync(&["gc", "--blocks", "--owner-dead", "--prefix", &n.prefix]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // --owner-dead, and only the names that the glob selects.
    let only_a = format!("{}r[a]", n.prefix);
    let o = mpsync(&[
        "gc",
        "--objects",
        "--owner-dead",
        "--ignore-unreadable",
        "--glob",
        &only_a,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "removed {a} (rlock): object mapped by no process, owner dead"
        )),
        "{}",
        stdout(&o)
    );
    assert!(!n.path("ra").exists());
    assert!(n.path("rb").exists(), "outside the glob");

    // An orphan: an anonymous name of a creator that no longer exists.
    if !proc_is_ours() {
        eprintln!("skipped the orphan part: /proc does not show our PID namespace");
        return;
    }
    let (_, start, ns, dead_pid) = creator_identities();
    let tag = format!("{:08x}", Instant::now().elapsed().subsec_nanos());
    let orphan = format!("mpsync-anon-{dead_pid}-{start}-{ns}-0-{tag}");
    let files = Files(vec![orphan.clone()]);
    create("rlock", &orphan, &[]);
    let mut h = Holder::start(&[], &[], &["rlock", &orphan]).expect("holder");
    h.kill();
    assert_eq!(show_json(&orphan, 0)["health"], "owner-dead");
    let o = mpsync(&["gc", "--objects", "--orphans", "--prefix", &orphan]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("removed {orphan} (rlock): anonymous name")),
        "{}",
        stdout(&o)
    );
    assert!(!Path::new(&format!("/dev/shm/{orphan}")).exists());
    drop(files);
}

/// `mpsync acquire --read|--write NAME -- CMD` on an RWLock: readers share (a nested
/// `--read` from inside one runs), a writer waits (here: times out, exit 7), an RWLock
/// without a side is a usage error, `show` lists the reader with its liveness, and a
/// writer killed holding leaves the report to the next acquirer (exit 9) unless
/// --take-over.
#[test]
fn acquire_read_and_write_sides_of_an_rwlock() {
    let n = Names::new("rwacq");
    let name = n.name("rw");
    create("rwlock", &name, &[]);
    let exe = env!("CARGO_BIN_EXE_mpsync");
    let inner = format!(
        "{exe} show {name} --json; {exe} acquire --read --timeout 5 {name} -- true || exit 20; \
         {exe} acquire --write --timeout 0.2 {name} -- true; test $? -eq 7 || exit 21"
    );
    let o = mpsync(&["acquire", "--read", &name, "--", "sh", "-c", &inner]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let shown: Value = serde_json::from_slice(&o.stdout).expect("show --json prints JSON");
    let readers = shown["state"]["readers"]
        .as_array()
        .expect("readers listed");
    assert_eq!(readers.len(), 1, "{shown}");
    assert_eq!(readers[0]["state"], "held");
    assert_eq!(readers[0]["owner"]["liveness"], "alive", "{shown}");
    assert!(shown["state"]["writer"].is_null());
    assert_eq!(code(&mpsync(&["acquire", &name, "--", "true"])), 2);
    // A writer killed holding (its command kills it).
    let o = mpsync(&[
        "acquire",
        "--write",
        &name,
        "--",
        "sh",
        "-c",
        "kill -9 $PPID; sleep 5",
    ]);
    assert_eq!(o.status.code(), None, "the holder was killed");
    let v = show_json(&name, 0);
    assert_eq!(v["health"], "owner-dead", "{v}");
    assert_eq!(v["state"]["writer_died_mark"], true, "{v}");
    let o = mpsync(&["acquire", "--read", &name, "--", "true"]);
    assert_eq!(code(&o), 9, "{}", stderr(&o));
    let o = mpsync(&[
        "acquire",
        "--read",
        "--take-over",
        &name,
        "--",
        "sh",
        "-c",
        "test \"$MPSYNC_OWNER_DEAD\" = 1",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(show_json(&name, 0)["health"], "ok");
}

#[test]
fn queue_put_get_show_and_end_of_stream_for_scripts() {
    let n = Names::new("queue");
    let name = n.name("q");
    create("queue", &name, &["--capacity", "256"]);
    assert_eq!(code(&mpsync(&["put", &name, "first"])), 0);
    // A message from standard input, bytes as they are.
    let mut child = Command::new(MPSYNC)
        .args(["put", &name])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"two\nlines\0").unwrap();
    }
    assert_eq!(code(&wait_output(child, "mpsync put (stdin)")), 0);
    let v = show_json(&name, 0);
    assert_eq!(v["type"], "queue");
    assert_eq!(v["state"]["messages"], 2);
    assert_eq!(v["state"]["used_bytes"], 4 + 5 + 4 + 10);
    assert_eq!(v["state"]["capacity"], 256);
    assert_eq!(v["state"]["waiters"]["get"], 0);
    let o = mpsync(&["get", &name]);
    assert_eq!((code(&o), o.stdout.as_slice()), (0, &b"first"[..]));
    let o = mpsync(&["get", &name]);
    assert_eq!((code(&o), o.stdout.as_slice()), (0, &b"two\nlines\0"[..]));
    assert_eq!(code(&mpsync(&["get", &name, "--timeout", "0.05"])), 7);
    // Messages taken by commands stay unfinished (a join would report them abandoned
    // once the command exited) unless the command marks them done (--done).
    assert_eq!(v["state"]["unfinished"], 2);
    assert_eq!(show_json(&name, 0)["state"]["unfinished"], 2);
    assert_eq!(code(&mpsync(&["put", &name, "third"])), 0);
    let o = mpsync(&["get", &name, "--done"]);
    assert_eq!((code(&o), o.stdout.as_slice()), (0, &b"third"[..]));
    assert_eq!(show_json(&name, 0)["state"]["unfinished"], 2);
    // Too big for the ring: a failure naming the queue, nothing put.
    let big = "x".repeat(300);
    let o = mpsync(&["put", &name, &big]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("MP_EMSGSIZE"), "{}", stderr(&o));
    // End of stream: the last message is still delivered, then exit 10.
    assert_eq!(code(&mpsync(&["put", &name, "last", "--eof"])), 0);
    assert_eq!(code(&mpsync(&["put", &name, "more"])), 10);
    assert_eq!(mpsync(&["get", &name]).stdout, b"last");
    assert_eq!(code(&mpsync(&["get", &name])), 10);
    assert!(show_json(&name, 0)["state"]["closed"].as_bool().unwrap());
    // Another type, or no such name.
    let lock = n.name("lock");
    create("lock", &lock, &[]);
    assert_eq!(code(&mpsync(&["get", &lock])), 4);
    assert_eq!(code(&mpsync(&["put", &n.name("none"), "x"])), 3);
    for x in [&name, &lock] {
        let _ = std::fs::remove_file(format!("/dev/shm/{x}"));
    }
}

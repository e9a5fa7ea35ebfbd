//! What the test harnesses that build and run programs against the freshly built
//! library share (tests/c_tests.rs, tests/cpp_tests.rs): where things are, and running a
//! test program with an outer time limit. Each harness is its own crate and uses only
//! part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Directory holding the libmpsync.so that `cargo test` just built: target/<profile>/deps
/// (next to this test binary). `target/<profile>/libmpsync.so` is only refreshed by
/// `cargo build`, so linking that one could test a stale library.
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps dir").to_path_buf();
    assert!(
        deps.join("libmpsync.so").exists(),
        "{} has no libmpsync.so",
        deps.display()
    );
    deps
}

/// Runs a test program (on c_tests/mptest.h or cpp_tests/cpptest.hpp) with an outer time
/// limit; prints its output; fails on a non-zero exit, a crash, or a hang.
///
/// The program's own per-test limit (`MPTEST_TIMEOUT`) is set to two thirds of the outer
/// one, so a hung test is normally reported by name ("TIMEOUT <test>") by the program
/// itself. Output goes to `<exe>.out` / `<exe>.err` (appended, so that "x.cxx17" and
/// "x.cxx20" running at once do not share a file), not pipes: processes a test leaves
/// behind cannot keep this harness waiting for end-of-file.
pub fn run_with_limit(exe: &Path, limit: Duration) {
    use std::os::unix::process::CommandExt;
    let out_path = PathBuf::from(format!("{}.out", exe.display()));
    let err_path = PathBuf::from(format!("{}.err", exe.display()));
    let inner = (limit.as_secs() * 2 / 3).max(5);
    let mut child = Command::new(exe)
        .env_remove("LD_LIBRARY_PATH")
        .env("MPTEST_TIMEOUT", inner.to_string())
        .process_group(0)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("spawn the test program");
    let t0 = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if t0.elapsed() > limit {
            // SAFETY: kill(2) on the process group of our own child; no memory involved.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    println!("{stdout}");
    eprintln!("{stderr}");
    let name = exe.display();
    match status {
        None => panic!("{name} hung for more than {limit:?}; output so far:\n{stdout}{stderr}"),
        Some(st) => assert!(st.success(), "{name} failed ({st}):\n{stdout}{stderr}"),
    }
}

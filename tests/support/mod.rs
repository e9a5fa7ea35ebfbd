//! What the test harnesses that build and run programs against the freshly built
//! library share (tests/c_tests.rs, tests/cpp_tests.rs, tests/docs_samples.rs, ...):
//! where things are, building a program against the library, running it with an outer
//! time limit, and the header's function list. Each harness is its own crate and uses only
//! part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
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

/// The target's C (`cpp == false`) or C++ compiler, as the cc crate finds it (what
/// `CC`/`CXX` name, else the platform's default).
pub fn compiler(cpp: bool) -> Command {
    let mut b = cc::Build::new();
    b.cargo_metadata(false)
        .cpp(cpp)
        .opt_level(1)
        .target(env!("MPSYNC_TARGET"))
        .host(env!("MPSYNC_TARGET"));
    b.get_compiler().to_command()
}

/// Builds `src` into `exe` with `cmd` (a compiler with its language flags), against
/// include/ (plus `include_dirs`, relative to the root) and the library just built,
/// then `libs`. The library is found through DT_RPATH (not RUNPATH): it wins over
/// LD_LIBRARY_PATH, which cargo sets to include target/<profile>, where a stale
/// libmpsync.so may lie.
pub fn build_against_library(
    mut cmd: Command,
    include_dirs: &[&str],
    src: &Path,
    exe: &Path,
    libs: &[&str],
) -> Output {
    let lib = lib_dir();
    cmd.arg("-I").arg(root().join("include"));
    for dir in include_dirs {
        cmd.arg("-I").arg(root().join(dir));
    }
    cmd.arg(src)
        .arg("-o")
        .arg(exe)
        .arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,--disable-new-dtags,-rpath,{}", lib.display()))
        .arg("-lmpsync")
        .args(libs)
        .output()
        .expect("run the compiler")
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

/// Fails unless every `<dir>/test_*<ext>` is registered in `harness` by a line
/// `<mac>(name, seconds);`, and every registered name has its file: a test program
/// without such a line would never run.
pub fn check_every_test_program_is_registered(harness: &str, mac: &str, dir: &str, ext: &str) {
    let this = std::fs::read_to_string(root().join(harness)).unwrap();
    let opening = format!("{mac}(");
    let registered: Vec<String> = this
        .lines()
        .filter_map(|l| l.trim().strip_prefix(opening.as_str()))
        .filter_map(|rest| rest.split(',').next())
        .map(|name| name.trim().to_string())
        .collect();
    let mut missing = Vec::new();
    let mut found = 0;
    for entry in std::fs::read_dir(root().join(dir)).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(ext).filter(|s| s.starts_with("test_")) {
            found += 1;
            if !registered.iter().any(|r| r == stem) {
                missing.push(stem.to_string());
            }
        }
    }
    assert!(found > 0, "no {dir}/test_*{ext} found");
    assert!(
        missing.is_empty(),
        "test programs that never run: add `{mac}(name, seconds);` to {harness} for {missing:?}"
    );
    for name in &registered {
        assert!(
            root().join(dir).join(format!("{name}{ext}")).exists(),
            "{mac}({name}, ..) in {harness} names no {dir}/{name}{ext}"
        );
    }
}

/// Checks that `program` (which includes a header of include/ twice, as a program
/// may from two of its own headers) compiles warning-free as `std` with
/// `-Wall -Wextra -Wpedantic -Werror` and `extra` flags; `file` names the source
/// written under the library's directory.
pub fn header_compiles(cpp: bool, std: &str, file: &str, program: &str, extra: &[&str]) {
    let src = lib_dir().join(file);
    std::fs::write(&src, program).unwrap();
    let out = compiler(cpp)
        .arg(format!("-std={std}"))
        .args(["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fsyntax-only"])
        .args(extra)
        .arg("-I")
        .arg(root().join("include"))
        .arg(&src)
        .output()
        .unwrap();
    assert_success(&out, &format!("{file} does not compile as {std}"));
}

/// The functions that include/mpsync.h declares (every top-level declaration
/// `... mp_name(...);`), sorted, without repeats.
pub fn header_functions() -> Vec<String> {
    let header = std::fs::read_to_string(root().join("include/mpsync.h")).unwrap();
    let mut names: Vec<String> = header
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()) && !l.starts_with("typedef"))
        .filter_map(|l| {
            let before = &l[..l.find('(')?];
            let name = before.rsplit([' ', '*']).next()?;
            name.starts_with("mp_").then(|| name.to_string())
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(!names.is_empty(), "no functions parsed from the header");
    names
}

/// The text of the repository's file `rel` between `open` and the next `close` after
/// the first `marker` (a fenced block under a README heading, an enum's body, ...).
pub fn file_section(rel: &str, marker: &str, open: &str, close: &str) -> String {
    let text = std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let rest = &text[text
        .find(marker)
        .unwrap_or_else(|| panic!("{rel}: no `{marker}`"))..];
    let start = rest
        .find(open)
        .unwrap_or_else(|| panic!("{rel}: no `{open}` after `{marker}`"))
        + open.len();
    let len = rest[start..]
        .find(close)
        .unwrap_or_else(|| panic!("{rel}: `{marker}` is not closed by `{close}`"));
    rest[start..start + len].to_string()
}

/// Fails with `what` and the program's output unless `out` is a success.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

//! Builds every C test program in `c_tests/` against the generated header and the
//! freshly built `libmpsync.so`, then runs it. Each C program runs each of its tests
//! in its own process with a time limit and names any test that hangs (see
//! `c_tests/mptest.h`); this harness adds an outer limit per program.
//!
//! Also checks that `include/mpsync.h` compiles cleanly as C99, C11 and C++17 with
//! `-Wall -Wextra -Wpedantic -Werror`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Directory holding the libmpsync.so that `cargo test` just built: target/<profile>/deps
/// (next to this test binary). `target/<profile>/libmpsync.so` is only refreshed by
/// `cargo build`, so linking that one could test a stale library.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("deps dir").to_path_buf();
    assert!(
        deps.join("libmpsync.so").exists(),
        "{} has no libmpsync.so",
        deps.display()
    );
    deps
}

fn compiler(cpp: bool) -> Command {
    let mut b = cc::Build::new();
    b.cargo_metadata(false)
        .cpp(cpp)
        .opt_level(1)
        .target(env!("MPSYNC_TARGET"))
        .host(env!("MPSYNC_TARGET"));
    b.get_compiler().to_command()
}

fn build_c(name: &str) -> PathBuf {
    let out_dir = lib_dir().join("c_tests");
    std::fs::create_dir_all(&out_dir).unwrap();
    let src = root().join("c_tests").join(format!("{name}.c"));
    let exe = out_dir.join(name);
    let lib = lib_dir();
    let out = compiler(false)
        .args([
            "-std=gnu11",
            "-g",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-Wno-unused-function",
        ])
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("c_tests"))
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib)
        // DT_RPATH (not RUNPATH): it wins over LD_LIBRARY_PATH, which cargo sets to
        // include target/<profile>, where a stale libmpsync.so may lie.
        .arg(format!("-Wl,--disable-new-dtags,-rpath,{}", lib.display()))
        .args(["-lmpsync", "-lpthread", "-lm"])
        .output()
        .expect("run the C compiler");
    assert!(
        out.status.success(),
        "compiling {name}.c failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Runs a C test program with an outer time limit; prints its output; fails on a
/// non-zero exit, a crash, or a hang.
///
/// The program's own per-test limit (`MPTEST_TIMEOUT`) is set to two thirds of the outer
/// one, so a hung test is normally reported by name ("TIMEOUT <test>") by the program
/// itself. Output goes to files, not pipes: processes a test leaves behind cannot keep
/// this harness waiting for end-of-file.
fn run_c(name: &str, limit: Duration) {
    use std::os::unix::process::CommandExt;
    let exe = build_c(name);
    let out_path = exe.with_extension("out");
    let err_path = exe.with_extension("err");
    let stdout = std::fs::File::create(&out_path).unwrap();
    let stderr = std::fs::File::create(&err_path).unwrap();
    let inner = (limit.as_secs() * 2 / 3).max(5);
    let mut child = Command::new(&exe)
        .env_remove("LD_LIBRARY_PATH")
        .env("MPTEST_TIMEOUT", inner.to_string())
        .process_group(0)
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("spawn C test");
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
    match status {
        None => panic!("{name} hung for more than {limit:?}; output so far:\n{stdout}{stderr}"),
        Some(st) => assert!(st.success(), "{name} failed ({st}):\n{stdout}"),
    }
}

macro_rules! c_test {
    ($name:ident, $secs:expr) => {
        #[test]
        fn $name() {
            run_c(stringify!($name), Duration::from_secs($secs));
        }
    };
}

c_test!(test_smoke, 60);
c_test!(test_owner_death, 300);
c_test!(test_array, 120);
c_test!(test_shm, 120);
c_test!(test_lock, 300);
c_test!(test_rlock, 300);
c_test!(test_sem, 300);
c_test!(test_errors, 300);
c_test!(test_eintr, 300);
c_test!(test_named, 300);
c_test!(test_regressions, 60);
c_test!(test_cond, 300);
c_test!(test_event, 120);
c_test!(test_barrier, 300);
c_test!(test_hostile, 300);

fn header_compiles(cpp: bool, std: &str) {
    let dir = lib_dir().join("c_tests");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join(if cpp { "hdr.cpp" } else { "hdr.c" });
    std::fs::write(&src, "#include \"mpsync.h\"\nint main(void) { mp_lock_t l; (void)l; return (int)mp_version() == 0; }\n").unwrap();
    let out = compiler(cpp)
        .arg(format!("-std={std}"))
        .args([
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-fsyntax-only",
            "-I",
        ])
        .arg(root().join("include"))
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mpsync.h does not compile as {std}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn header_compiles_as_c99() {
    header_compiles(false, "c99");
}

#[test]
fn header_compiles_as_c11() {
    header_compiles(false, "c11");
}

#[test]
fn header_compiles_as_cpp17() {
    header_compiles(true, "c++17");
}

//! Builds every C test program in `c_tests/` against the generated header and the
//! freshly built `libmpsync.so`, then runs it. Each C program runs each of its tests
//! in its own process with a time limit and names any test that hangs (see
//! `c_tests/mptest.h`); this harness adds an outer limit per program.
//!
//! Also checks that `include/mpsync.h` compiles cleanly as C99, C11 and C++17 with
//! `-Wall -Wextra -Wpedantic -Werror`, also when included twice, and that Python's
//! cffi can parse it (preprocessed with `-DMPSYNC_CDEF`) and call the library.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::{assert_success, build_against_library, compiler, lib_dir, root, run_with_limit};

fn build_c(name: &str) -> PathBuf {
    let out_dir = lib_dir().join("c_tests");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join(name);
    compile_test_program(&root().join("c_tests").join(format!("{name}.c")), &exe);
    exe
}

/// Compiles a program on c_tests/mptest.h against the header and the library just built.
fn compile_test_program(src: &std::path::Path, exe: &std::path::Path) {
    let mut cc = compiler(false);
    cc.args(["-std=gnu11", "-g", "-Wall", "-Wextra", "-Werror"])
        .arg("-Wno-unused-function");
    let out = build_against_library(cc, &["c_tests"], src, exe, &["-lpthread", "-lm"]);
    assert_success(&out, &format!("compiling {} failed", src.display()));
}

/// Builds a C test program and runs it with an outer time limit (see
/// `support::run_with_limit`).
fn run_c(name: &str, limit: Duration) {
    run_with_limit(&build_c(name), limit);
}

macro_rules! c_test {
    ($name:ident, $secs:expr) => {
        #[test]
        fn $name() {
            run_c(stringify!($name), Duration::from_secs($secs));
        }
    };
}

// One line per c_tests/test_*.c: `c_test!(file_stem, outer limit in seconds)`.
// `every_c_test_file_is_registered` fails for a file that has no line here.
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
c_test!(test_cond, 300);
c_test!(test_event, 120);
c_test!(test_barrier, 300);
c_test!(test_handles, 120);
c_test!(test_fork_safety, 300);
c_test!(test_create_kill, 300);
c_test!(test_foreign_owner, 60);
c_test!(test_rlock_hardening, 180);
c_test!(test_array_death, 180);
c_test!(test_hostile, 300);
c_test!(test_sem_undo, 300);
c_test!(test_sem_types, 60);
c_test!(test_proc_evidence, 120);
c_test!(test_oom, 300);
c_test!(test_created, 120);
c_test!(test_rlock_sticky, 180);
c_test!(test_rwlock, 300);
c_test!(test_queue, 120);
c_test!(test_queue_kill, 300);
c_test!(test_queue_join, 300);

fn header_compiles(cpp: bool, std: &str) {
    let file = format!(
        "hdr_{}.{}",
        std.replace('+', "x"),
        if cpp { "cpp" } else { "c" }
    );
    let program = "#include \"mpsync.h\"\n#include \"mpsync.h\"\n\
                   int main(void) { mp_lock_t l; (void)l; return (int)mp_version() == 0; }\n";
    support::header_compiles(cpp, std, &file, program, &[]);
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

/// The header's recipe for FFI generators: `cc -E -P -DMPSYNC_CDEF mpsync.h` gives plain
/// declarations that cffi's `cdef()` parses; then the library is loaded (`dlopen`) and
/// called through them. Skipped, with a message, where python3 or cffi is missing.
#[test]
fn header_works_with_cffi() {
    let probe = Command::new("python3").args(["-c", "import cffi"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!("SKIP header_works_with_cffi: python3 with cffi is not installed");
        return;
    }
    let dir = lib_dir().join("c_tests");
    std::fs::create_dir_all(&dir).unwrap();
    let cdef = dir.join("mpsync.cdef.h");
    let out = compiler(false)
        .args(["-E", "-P", "-DMPSYNC_CDEF"])
        .arg(root().join("include/mpsync.h"))
        .arg("-o")
        .arg(&cdef)
        .output()
        .unwrap();
    assert_success(&out, "preprocessing failed");
    let script = r#"
import sys, cffi
ffi = cffi.FFI()
ffi.cdef(open(sys.argv[1]).read())
lib = ffi.dlopen(sys.argv[2])
assert ffi.sizeof("mp_lock_t") == 64 and ffi.alignof("mp_lock_t") == 8
assert ffi.sizeof("mp_status") == 4 and ffi.sizeof("mp_type") == 1
lock = ffi.new("mp_lock_t *")
assert lib.mp_lock_init(lock) == 0
assert lib.mp_lock_acquire(lock, True, -1) == 0
assert lib.mp_lock_acquire(lock, False, 0) == 1
assert lib.mp_lock_release(lock) == 0
assert lib.mp_lock_destroy(lock) == 0
assert ffi.string(lib.mp_status_name(1)) == b"MP_TIMEOUT"
assert ffi.string(lib.mp_version_string()).count(b".") == 2
print("cffi: %d declarations parsed; mp_lock_t works" % len(dir(lib)))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&cdef)
        .arg(lib_dir().join("libmpsync.so"))
        .output()
        .unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert_success(&out, "cffi could not use the header");
}

/// A `c_tests/test_*.c` without a `c_test!` line above would never run: fail instead.
#[test]
fn every_c_test_file_is_registered() {
    support::check_every_test_program_is_registered("tests/c_tests.rs", "c_test!", "c_tests", ".c");
}

/// The programs in tools/ and examples/ are not run by the test suite (they are long,
/// or take arguments), but they must keep compiling and linking against the current
/// header and library.
#[test]
fn tools_and_examples_compile() {
    let out_dir = lib_dir().join("c_tests").join("tools");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut sources = Vec::new();
    for dir in ["tools", "examples", "examples/consumer"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "c") {
                sources.push(path);
            }
        }
    }
    sources.sort();
    assert!(sources.len() >= 4, "found only {sources:?}");
    for src in &sources {
        let exe = out_dir.join(src.file_stem().unwrap());
        let mut cc = compiler(false);
        cc.args(["-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror"]);
        let out = build_against_library(cc, &["c_tests"], src, &exe, &["-lpthread", "-lm"]);
        assert_success(&out, &format!("{} does not compile", src.display()));
    }
    println!("compiled {} programs: {sources:?}", sources.len());
}

/// mptest.h registers any number of tests (it once kept only the first 256, silently).
#[test]
fn mptest_runs_more_than_256_tests() {
    let dir = lib_dir().join("c_tests");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("many_tests.c");
    let mut text = String::from("#include \"mptest.h\"\n");
    for i in 0..300 {
        text.push_str(&format!("TEST(t{i}) {{ CHECK({i} >= 0); }}\n"));
    }
    std::fs::write(&src, text).unwrap();
    let exe = dir.join("many_tests");
    compile_test_program(&src, &exe);
    let listed = Command::new(&exe).arg("--list").output().unwrap();
    let names = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(names.lines().count(), 300, "--list printed:\n{names}");
    assert!(names.lines().any(|l| l.trim() == "t299"));
}

//! Builds every C++ test program in `cpp_tests/` (the tests of the header-only C++ API,
//! `include/mpsync.hpp`) against the freshly built `libmpsync.so`, as C++17 and as
//! C++20, with `-Wall -Wextra -Wpedantic -Werror`, and runs each build. Each program
//! runs each of its tests in its own process with a time limit and names any test that
//! hangs (see `cpp_tests/cpptest.hpp`); this harness adds an outer limit per program.
//!
//! Also checks that `mpsync.hpp` compiles on its own (included twice) in both
//! standards, that the C++ programs in `examples/` compile and run, and that the
//! README's C++ quick start compiles and runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Directory holding the libmpsync.so that `cargo test` just built (next to this test
/// binary), as in tests/c_tests.rs.
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

fn out_dir() -> PathBuf {
    let dir = lib_dir().join("cpp_tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cxx() -> Command {
    let mut b = cc::Build::new();
    b.cargo_metadata(false)
        .cpp(true)
        .opt_level(1)
        .target(env!("MPSYNC_TARGET"))
        .host(env!("MPSYNC_TARGET"));
    b.get_compiler().to_command()
}

const WARNINGS: [&str; 4] = ["-Wall", "-Wextra", "-Wpedantic", "-Werror"];

/// Compiles and links `src` as `std` into `exe`.
fn build(src: &Path, std: &str, exe: &Path) {
    let lib = lib_dir();
    let out = cxx()
        .arg(format!("-std={std}"))
        .arg("-g")
        .args(WARNINGS)
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("cpp_tests"))
        .arg(src)
        .arg("-o")
        .arg(exe)
        .arg("-L")
        .arg(&lib)
        // DT_RPATH (not RUNPATH), as in tests/c_tests.rs: wins over LD_LIBRARY_PATH.
        .arg(format!("-Wl,--disable-new-dtags,-rpath,{}", lib.display()))
        .args(["-lmpsync", "-pthread"])
        .output()
        .expect("run the C++ compiler");
    assert!(
        out.status.success(),
        "compiling {} as {std} failed:\n{}{}",
        src.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a test program with an outer time limit (output to files, so that processes a
/// test leaves behind cannot keep this harness waiting); fails on a non-zero exit, a
/// crash or a hang.
fn run(exe: &Path, limit: Duration) {
    use std::os::unix::process::CommandExt;
    // Appended, not with_extension: "x.cxx17" and "x.cxx20" run at the same time and
    // must not share "x.out".
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
        .expect("spawn C++ test");
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

fn run_cpp(name: &str, std: &str, limit: Duration) {
    let src = root().join("cpp_tests").join(format!("{name}.cpp"));
    let exe = out_dir().join(format!("{name}.{}", std.replace('+', "x")));
    build(&src, std, &exe);
    run(&exe, limit);
}

macro_rules! cpp_test {
    ($name:ident, $secs:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn cpp17() {
                run_cpp(stringify!($name), "c++17", Duration::from_secs($secs));
            }
            #[test]
            fn cpp20() {
                run_cpp(stringify!($name), "c++20", Duration::from_secs($secs));
            }
        }
    };
}

// One line per cpp_tests/test_*.cpp: `cpp_test!(file_stem, outer limit in seconds)`.
// `every_cpp_test_file_is_registered` fails for a file that has no line here.
cpp_test!(test_cpp_locks, 180);
cpp_test!(test_cpp_sync, 180);
cpp_test!(test_cpp_lifecycle, 180);

fn header_compiles(std: &str) {
    let src = out_dir().join(format!("hpp_{}.cpp", std.replace('+', "x")));
    std::fs::write(
        &src,
        "#include \"mpsync.hpp\"\n#include \"mpsync.hpp\"\n\
         int main() { mpsync::mutex m; return m ? 1 : 0; }\n",
    )
    .unwrap();
    let out = cxx()
        .arg(format!("-std={std}"))
        .args(WARNINGS)
        .args(["-Wshadow", "-Wconversion", "-fsyntax-only", "-I"])
        .arg(root().join("include"))
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mpsync.hpp does not compile as {std}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hpp_compiles_as_cpp17() {
    header_compiles("c++17");
}

#[test]
fn hpp_compiles_as_cpp20() {
    header_compiles("c++20");
}

/// The C++ programs in examples/ compile warning-free against the current headers, and
/// run to success (each checks its own results and exits non-zero otherwise; the CMake
/// build also runs them through CTest).
#[test]
fn cpp_examples_compile_and_run() {
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cpp") {
            sources.push(path);
        }
    }
    assert!(!sources.is_empty(), "no examples/*.cpp");
    for src in &sources {
        let exe = out_dir().join(format!(
            "example_{}",
            src.file_stem().unwrap().to_string_lossy()
        ));
        build(src, "c++17", &exe);
        run(&exe, Duration::from_secs(60));
    }
    println!("compiled and ran {sources:?}");
}

/// The README's C++ quick start program compiles warning-free, runs, and counts right.
#[test]
fn readme_cpp_quick_start_runs() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let from = readme
        .find("## C++ quick start")
        .expect("README has a C++ quick start");
    let rest = &readme[from..];
    let start = rest.find("```cpp\n").expect("a ```cpp block") + "```cpp\n".len();
    let len = rest[start..].find("```").expect("end of the block");
    let src = out_dir().join("readme_quick_start.cpp");
    std::fs::write(&src, &rest[start..start + len]).unwrap();
    let exe = out_dir().join("readme_quick_start");
    build(&src, "c++17", &exe);
    let out = Command::new(&exe)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("counter = 400000 (expected 400000)"),
        "README C++ quick start printed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `cpp_tests/test_*.cpp` without a `cpp_test!` line above would never run: fail.
#[test]
fn every_cpp_test_file_is_registered() {
    let this = std::fs::read_to_string(root().join("tests/cpp_tests.rs")).unwrap();
    let registered: Vec<String> = this
        .lines()
        .filter_map(|l| l.trim().strip_prefix("cpp_test!("))
        .filter_map(|rest| rest.split(',').next())
        .map(|name| name.trim().to_string())
        .collect();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root().join("cpp_tests")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".cpp") {
            if stem.starts_with("test_") && !registered.iter().any(|r| r == stem) {
                missing.push(stem.to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "C++ test programs that never run: add `cpp_test!(name, seconds);` for {missing:?}"
    );
}

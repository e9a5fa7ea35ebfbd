//! Builds every C++ test program in `cpp_tests/` (the tests of the header-only C++ API,
//! `include/mpsync.hpp`) against the freshly built `libmpsync.so`, as C++17 and as
//! C++20, with `-Wall -Wextra -Wpedantic -Werror`, and runs each build. Each program
//! runs each of its tests in its own process with a time limit and names any test that
//! hangs (see `cpp_tests/cpptest.hpp`); this harness adds an outer limit per program.
//!
//! Also checks that `mpsync.hpp` compiles on its own (included twice) in both
//! standards, that the C++ programs in `examples/` compile and run, and that the
//! README's C++ quick start compiles and runs.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{
    assert_success, build_against_library, compiler, file_section, lib_dir, root, run_with_limit,
};

fn out_dir() -> PathBuf {
    let dir = lib_dir().join("cpp_tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const WARNINGS: [&str; 4] = ["-Wall", "-Wextra", "-Wpedantic", "-Werror"];

/// Compiles and links `src` as `std` into `exe`.
fn build(src: &Path, std: &str, exe: &Path) {
    let mut cxx = compiler(true);
    cxx.arg(format!("-std={std}")).arg("-g").args(WARNINGS);
    let out = build_against_library(cxx, &["cpp_tests"], src, exe, &["-pthread"]);
    assert_success(
        &out,
        &format!("compiling {} as {std} failed", src.display()),
    );
}

fn run_cpp(name: &str, std: &str, limit: Duration) {
    let src = root().join("cpp_tests").join(format!("{name}.cpp"));
    let exe = out_dir().join(format!("{name}.{}", std.replace('+', "x")));
    build(&src, std, &exe);
    run_with_limit(&exe, limit);
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
cpp_test!(test_cpp_shared_mutex, 180);
cpp_test!(test_cpp_queue, 120);

fn header_compiles(std: &str) {
    let file = format!("hpp_{}.cpp", std.replace('+', "x"));
    let program = "#include \"mpsync.hpp\"\n#include \"mpsync.hpp\"\n\
                   int main() { mpsync::mutex m; return m ? 1 : 0; }\n";
    support::header_compiles(true, std, &file, program, &["-Wshadow", "-Wconversion"]);
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
        run_with_limit(&exe, Duration::from_secs(60));
    }
    println!("compiled and ran {sources:?}");
}

/// The README's C++ quick start program compiles warning-free, runs, and counts right.
#[test]
fn readme_cpp_quick_start_runs() {
    let program = file_section("README.md", "## C++ quick start", "```cpp\n", "```");
    let src = out_dir().join("readme_quick_start.cpp");
    std::fs::write(&src, program).unwrap();
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
    support::check_every_test_program_is_registered(
        "tests/cpp_tests.rs",
        "cpp_test!",
        "cpp_tests",
        ".cpp",
    );
}

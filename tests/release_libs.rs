//! The release libraries: `cmake/release-libs.sh` (what the CMake build installs) turns
//! the static library cargo built into a stripped, symbol-versioned `libmpsync.so` and
//! a `libmpsync.a` whose only global symbols are the API; `scripts/check-exports.sh`
//! then checks both against the functions that `include/mpsync.h` declares (parsed
//! from the header, so new functions need no change here).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/<profile>/deps, next to this test binary, where cargo put libmpsync.a.
fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent().expect("deps dir").to_path_buf()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

fn sh(script: &Path) -> Command {
    let mut c = Command::new("sh");
    c.arg(script);
    c
}

/// Runs cmake/release-libs.sh on the libmpsync.a cargo built, into a fresh
/// target/<profile>/deps/`dir`, naming the shared library `realname`.
fn release_libs(dir: &str, realname: &str, soname: &str) -> PathBuf {
    let archive = deps_dir().join("libmpsync.a");
    assert!(archive.exists(), "{} was not built", archive.display());
    let out = deps_dir().join(dir);
    let _ = std::fs::remove_dir_all(&out);
    run(sh(&root().join("cmake/release-libs.sh"))
        .arg(&archive)
        .arg(&out)
        .args([realname, soname]));
    out
}

#[test]
fn release_libraries_export_exactly_the_header_functions() {
    let (realname, soname) = ("libmpsync.so.0.0.0-test", "libmpsync.so.0");
    let out = release_libs("release-libs", realname, soname);
    let so = out.join(realname);
    let report = run(sh(&root().join("scripts/check-exports.sh"))
        .arg(root().join("include/mpsync.h"))
        .arg(&so)
        .arg(out.join("libmpsync.a")));
    println!("{report}");

    // The debug information went to its own file, which the stripped library names.
    let debug = out.join(format!("{realname}.debug"));
    let sections = run(Command::new("readelf").args(["-S", "-W"]).arg(&debug));
    assert!(
        sections.contains(".debug_info"),
        "{} has no .debug_info",
        debug.display()
    );
    let link = run(Command::new("readelf")
        .args(["-p", ".gnu_debuglink"])
        .arg(&so));
    assert!(
        link.contains(&format!("{realname}.debug")),
        "debug link: {link}"
    );
    let dynamic = run(Command::new("readelf").args(["-d", "-W"]).arg(&so));
    assert!(
        dynamic.contains(&format!("Library soname: [{soname}]")),
        "{dynamic}"
    );
}

/// The relinked libraries work: examples/consumer/consumer.c (header/library version
/// check, a Lock across fork()) runs against the shared and against the static one.
#[test]
fn release_libraries_run_a_program() {
    let (realname, soname) = ("libmpsync.so.0.0.0-run", "libmpsync.so.0");
    let out = release_libs("release-libs-run", realname, soname);
    std::os::unix::fs::symlink(realname, out.join(soname)).unwrap();
    let consumer = root().join("examples/consumer/consumer.c");
    let include = root().join("include");

    let shared = out.join("consumer");
    run(Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(&include)
        .arg(&consumer)
        .arg(out.join(realname))
        .arg(format!("-Wl,--disable-new-dtags,-rpath,{}", out.display()))
        .arg("-o")
        .arg(&shared));
    let said = run(Command::new(&shared)
        .arg("release libmpsync.so")
        .env_remove("LD_LIBRARY_PATH"));
    println!("{said}");
    let needed = run(Command::new("readelf").args(["-d", "-W"]).arg(&shared));
    assert!(
        needed.contains(&format!("Shared library: [{soname}]")),
        "{needed}"
    );

    let fixed = out.join("consumer_static");
    run(Command::new("cc")
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(&include)
        .arg(&consumer)
        .arg(out.join("libmpsync.a"))
        .args(["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl"])
        .arg("-o")
        .arg(&fixed));
    println!("{}", run(Command::new(&fixed).arg("release libmpsync.a")));
}

/// The C tests link cargo's own cdylib; it must not export more than the header either
/// (rustc's version script does that; this keeps it true).
#[test]
fn cargo_cdylib_exports_exactly_the_header_functions() {
    let so = deps_dir().join("libmpsync.so");
    let dynsyms = run(Command::new("readelf").args(["--dyn-syms", "-W"]).arg(&so));
    let mut exported: Vec<&str> = dynsyms
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8
                && f[0].trim_end_matches(':').parse::<u32>().is_ok()
                && f[4] != "LOCAL"
                && f[6] != "UND")
                .then(|| f[7])
        })
        .collect();
    exported.sort_unstable();
    exported.dedup();
    let declared = support::header_functions();
    assert_eq!(
        exported, declared,
        "cargo's libmpsync.so exports differ from the header"
    );
}

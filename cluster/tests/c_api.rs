//! The C and C++ faces: cluster/c_tests/*.c compiled against include/mpsync_cluster.h
//! (and mpsync.h) with the platform's C compiler, and cluster/c_tests/*.cpp against
//! include/mpsync_cluster.hpp with its C++ compiler (C++17), linked with the
//! libmpsync_cluster.so that `cargo test` built, and run against a real etcd cluster
//! (tests/support).

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::{cluster_or_skip, with_timeout};

/// The directory holding the libmpsync_cluster.so built for these tests.
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    if deps.join("libmpsync_cluster.so").exists() {
        deps
    } else {
        deps.parent().unwrap().to_path_buf()
    }
}

/// Builds cluster/c_tests/`test`.c (or .cpp with `cpp`) and runs it on a fresh cluster.
fn build_and_run(test: &str, cpp: bool) {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let Some(etcd) = cluster_or_skip(test) else {
        return;
    };
    let lib = library_dir();
    let exe = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(test);
    let (compiler, default, std, ext) = if cpp {
        ("CXX", "c++", "-std=c++17", "cpp")
    } else {
        ("CC", "cc", "-std=c11", "c")
    };
    let cc = std::env::var(compiler).unwrap_or_else(|_| default.into());
    let status = Command::new(cc)
        .args([std, "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"])
        .arg("-I")
        .arg(crate_dir.join("../include"))
        .arg(crate_dir.join(format!("c_tests/{test}.{ext}")))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lmpsync_cluster")
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "{test}.{ext} did not compile");
    let out = Command::new(&exe).arg(&etcd.endpoints).output().unwrap();
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{test} failed: {:?}", out.status);
}

#[test]
fn test_cluster_lock() {
    with_timeout("test_cluster_lock", Duration::from_secs(120), || {
        build_and_run("test_cluster_lock", false)
    });
}

#[test]
fn test_cluster_cpp() {
    with_timeout("test_cluster_cpp", Duration::from_secs(120), || {
        build_and_run("test_cluster_cpp", true)
    });
}

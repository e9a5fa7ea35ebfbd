//! The workspace's root commands need only Rust and a C compiler, as the README
//! promises: `cargo build` at the root (and so `scripts/demo.sh`) must not build the
//! PyO3 extension, which needs a Python interpreter to configure itself, nor the etcd
//! cluster library (cluster/), whose etcd-client dependency needs `protoc` to build and
//! brings tokio and tonic: a user who never touches the cluster needs none of them.

mod support;

use std::process::Command;

#[test]
fn root_commands_do_not_build_the_python_extension() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    support::assert_success(&out, "cargo metadata failed");
    let text = String::from_utf8_lossy(&out.stdout);
    // The default members are listed by package id, e.g. "path+file:///.../python#mpsync-python@0.1.0".
    let defaults = text
        .split("\"workspace_default_members\":")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("workspace_default_members in cargo metadata");
    assert!(
        !defaults.contains("mpsync-python"),
        "the Python extension is a default member: `cargo build` at the root would need python3 ({defaults})"
    );
    assert!(
        !defaults.contains("mpsync-cluster"),
        "the cluster library is a default member: `cargo build` at the root would need protoc ({defaults})"
    );
    assert!(
        defaults.contains("#mpsync@") || defaults.contains("#0."),
        "{defaults}"
    );
}

//! `mpsync --etcd URL ls|show|acquire` against a real 3-member etcd cluster (the
//! cluster crate's test harness). Only with the `etcd` feature:
//! `cargo test -p mpsync-cli --features etcd --test etcd` (scripts/test.sh runs it).
#![cfg(feature = "etcd")]

#[path = "../../cluster/tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Duration;

use support::{cluster_or_skip, with_timeout};

fn mpsync(url: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mpsync"))
        .arg("--etcd")
        .arg(url)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn acquire_runs_the_command_with_its_fence_and_ls_shows_the_holder() {
    with_timeout("etcd_acquire_ls", Duration::from_secs(120), || {
        let Some(etcd) = cluster_or_skip("cli_etcd") else {
            return;
        };
        let url = etcd.endpoints.clone();
        let me = env!("CARGO_BIN_EXE_mpsync");
        let script = format!(
            "echo fence=$MPSYNC_FENCE dead=$MPSYNC_OWNER_DEAD; {me} --etcd {url} ls; \
             {me} --etcd {url} show jobs >/dev/null; echo show=$?; \
             {me} --etcd {url} acquire jobs --timeout 0.3 -- true; echo inner=$?; exit 5"
        );
        let (code, out) = mpsync(
            &url,
            &[
                "acquire",
                "jobs",
                "--timeout",
                "10",
                "--",
                "sh",
                "-c",
                &script,
            ],
        );
        assert_eq!(code, 5, "{out}");
        assert!(out.contains("dead=0"), "{out}");
        assert!(out.contains("lock     jobs"), "{out}");
        assert!(
            out.contains("inner=7"),
            "the lock was held: a second acquire timed out\n{out}"
        );
        assert!(out.contains("show=0"), "{out}");
        // Released and unused: a lock leaves no keys behind.
        assert_eq!(mpsync(&url, &["show", "jobs"]).0, 3);
        assert_eq!(mpsync(&url, &["acquire", "bad/name", "--", "true"]).0, 2);
        assert_eq!(mpsync(&url, &["frobnicate"]).0, 2);
    });
}

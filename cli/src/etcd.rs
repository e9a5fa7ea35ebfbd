//! `mpsync --etcd URL ls|show NAME|acquire NAME -- CMD`: the cluster library's objects
//! (docs/cluster.md), through its Rust core. Built only with the cargo feature `etcd`
//! (`cargo build -p mpsync-cli --features etcd`, which needs protoc); without it,
//! `--etcd` is refused with exit 2 and a message saying how to get it.

use std::time::Duration;

use clap::{Parser, Subcommand};
use mpsync_cluster::{Cluster, ClusterLock, ClusterOptions, Deadline, Error, Outcome};

use crate::{exit, objects, out};

#[derive(Parser)]
#[command(
    name = "mpsync --etcd URL",
    about = "The cluster library's objects on an etcd cluster"
)]
struct EtcdCli {
    #[command(subcommand)]
    command: EtcdCommand,
}

#[derive(Subcommand)]
enum EtcdCommand {
    /// List the objects (kind, name, contenders, holder's fencing token, state).
    Ls,
    /// Show one object by name (every kind of that name).
    Show { name: String },
    /// Run CMD while holding the cluster Lock NAME; exits with CMD's status. CMD gets
    /// the hold's fencing token in MPSYNC_FENCE, and MPSYNC_OWNER_DEAD=1 when the
    /// previous holder's lease expired while it held the lock.
    Acquire {
        name: String,
        /// Seconds to wait (fractions allowed; 0 tries once); forever if absent.
        #[arg(long, value_parser = objects::parse_timeout)]
        timeout: Option<Duration>,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

/// Runs `mpsync --etcd URL ARGS...` (`args` are those after the URL).
pub fn run(url: &str, args: Vec<std::ffi::OsString>) -> i32 {
    let mut argv = vec![std::ffi::OsString::from("mpsync --etcd URL")];
    argv.extend(args);
    let cli = match EtcdCli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
        }
    };
    let cluster = match Cluster::connect(url, ClusterOptions::default()) {
        Ok(c) => c,
        Err(e) => return failed(url, e),
    };
    match cli.command {
        EtcdCommand::Ls => print_objects(&cluster, None),
        EtcdCommand::Show { name } => print_objects(&cluster, Some(&name)),
        EtcdCommand::Acquire {
            name,
            timeout,
            command,
        } => acquire(&cluster, &name, timeout, &command),
    }
}

fn failed(what: &str, e: Error) -> i32 {
    out::error(&format!("{what}: {e}"));
    match e {
        Error::Invalid => exit::USAGE,
        _ => exit::FAILURE,
    }
}

fn print_objects(cluster: &Cluster, name: Option<&str>) -> i32 {
    let objects = match mpsync_cluster::list(cluster) {
        Ok(o) => o,
        Err(e) => return failed("list", e),
    };
    let shown: Vec<_> = objects
        .iter()
        .filter(|o| name.is_none_or(|n| o.name == n))
        .collect();
    if name.is_some() && shown.is_empty() {
        out::error(&format!(
            "{}: no such object on the cluster",
            name.unwrap_or_default()
        ));
        return exit::NOT_FOUND;
    }
    println!(
        "{:<8} {:<24} {:>11} {:>12} {:<10} STATE",
        "KIND", "NAME", "CONTENDERS", "FENCE", "HEALTH"
    );
    for o in shown {
        let fence = o.holder_token.map_or("-".to_string(), |t| t.to_string());
        let health = if o.owner_dead { "owner-dead" } else { "ok" };
        println!(
            "{:<8} {:<24} {:>11} {:>12} {:<10} {}",
            o.kind, o.name, o.contenders, fence, health, o.state
        );
    }
    exit::OK
}

fn acquire(cluster: &Cluster, name: &str, timeout: Option<Duration>, command: &[String]) -> i32 {
    let lock = match ClusterLock::open(cluster, name) {
        Ok(l) => l,
        Err(e) => return failed(name, e),
    };
    let owner_dead = match lock.acquire(Deadline::from(timeout)) {
        Ok(Outcome::Timeout) => {
            out::error(&format!("{name}: timed out"));
            return exit::TIMEOUT;
        }
        Ok(outcome) => outcome == Outcome::OwnerDead,
        Err(e) => return failed(name, e),
    };
    let fence = lock.fence().map_or(String::new(), |t| t.to_string());
    let code = objects::run_command(
        command,
        &[
            (
                "MPSYNC_OWNER_DEAD",
                if owner_dead { "1" } else { "0" }.to_string(),
            ),
            ("MPSYNC_FENCE", fence),
        ],
    );
    if let Err(e) = lock.release() {
        out::error(&format!("{name}: release failed: {e}"));
    }
    code
}

//! `mpsync`: inspect, clean up and use libmpsync's named objects from the shell.
//!
//! Inspection (`ls`, `show`, `watch`) and cleanup (`rm`, `gc`) go through the library's
//! inspection API (`mpsync::inspect`), which never modifies or blocks on an object; the
//! commands for shell scripts (`create`, `acquire`, ...) use the library's objects.
//! Every failure class has its own exit code (`exit.rs`), and nothing panics: a bug
//! that would is caught by the panic hook and exits with `exit::INTERNAL`.
//!
//! A name is any bytes but `/` and NUL: `show`, `watch` and `rm` take it as the bytes
//! of its argument (argv need not be UTF-8), or with `--hex` as hex digits (the
//! `name_hex` of JSON output), and human output prints it escaped (`escape.rs`).

mod cmdline;
mod escape;
#[cfg(feature = "etcd")]
mod etcd;
mod exact_names;
mod exit;
mod gc;
mod gc_sweep;
mod hex;
mod inspect_cmds;
mod name_filter;
mod object_name;
mod objects;
mod out;
mod owner_death;
mod render;
mod table;
mod unreadable;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use clap::{Parser, Subcommand};

use name_filter::NameFilterArgs;

/// Command-line interface. `after_help` carries the exit-code table.
#[derive(Parser)]
#[command(
    name = "mpsync",
    version,
    about = "Inspect, clean up and use libmpsync's named objects (locks, semaphores, \
             events, ...) and SharedMemory blocks in the POSIX shared-memory namespace \
             (/dev/shm). Every state shown is a racy snapshot.",
    after_help = exit::TABLE
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every entry of /dev/shm (or those --prefix and --glob select): libmpsync
    /// objects, SharedMemory blocks, library temporary files and foreign files, with
    /// type, size, owner uid, mode, layout version, health, the pids that map it, and
    /// its state on one line.
    Ls {
        #[command(flatten)]
        filter: NameFilterArgs,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one entry in detail: raw header fields, decoded state, owner liveness,
    /// mappers, and a health verdict (ok, owner-dead, corrupt, wrong-version, foreign).
    Show {
        /// The name (with or without a leading '/'); any bytes.
        name: OsString,
        /// NAME is the name's bytes in hex, as the `name_hex` field of JSON output.
        #[arg(long)]
        hex: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove names. Refuses (exit 6) a name that live processes map, or might map,
    /// unless --force. Existing mappings stay valid either way.
    Rm {
        /// Names to remove; any bytes.
        #[arg(required = true)]
        names: Vec<OsString>,
        /// The NAMEs are the names' bytes in hex, as the `name_hex` field of JSON output.
        #[arg(long)]
        hex: bool,
        /// Remove even if processes map it.
        #[arg(long)]
        force: bool,
        /// Count processes whose mappings cannot be read (other users', or more
        /// privileged ones, e.g. as root without CAP_SYS_PTRACE) as mapping nothing.
        #[arg(long)]
        ignore_unreadable: bool,
    },
    /// Remove leftovers the library can prove abandoned; each kind only behind its own
    /// flag (at least one is required).
    Gc {
        /// Only print what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Temporary creation files whose creator provably died.
        #[arg(long)]
        temp: bool,
        /// Valid objects that no process maps and no live (or unprovable) owner holds;
        /// not those whose owner died (see --owner-dead).
        #[arg(long)]
        objects: bool,
        /// With --objects: also objects whose owner died (an RLock whose owner died
        /// holding it, an undo semaphore whose death report waits), which are kept
        /// without it: removing the name drops the report that the next acquirer
        /// would get (MP_OWNER_DEAD) and act on by repairing.
        #[arg(long, requires = "objects")]
        owner_dead: bool,
        /// SharedMemory blocks that no process maps (their data is lost).
        #[arg(long)]
        blocks: bool,
        /// Anonymous names (mpsync-anon-*, the Python package's unnamed objects) whose
        /// creator provably died, even if processes still map them.
        #[arg(long)]
        orphans: bool,
        /// Count processes whose mappings cannot be read as mapping nothing (without
        /// it, one such process that could open an entry keeps it).
        #[arg(long)]
        ignore_unreadable: bool,
        #[command(flatten)]
        filter: NameFilterArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Refresh `show NAME` in the terminal until interrupted.
    Watch {
        /// The name; any bytes.
        name: OsString,
        /// NAME is the name's bytes in hex, as the `name_hex` field of JSON output.
        #[arg(long)]
        hex: bool,
        /// Milliseconds between refreshes.
        #[arg(long, default_value_t = 200)]
        interval_ms: u64,
        /// Stop after this many refreshes (0: never).
        #[arg(long, default_value_t = 0)]
        count: u64,
        /// Print one JSON object per refresh.
        #[arg(long)]
        json: bool,
    },
    #[command(flatten)]
    Objects(objects::ObjectCommand),
}

/// The bytes a NAME argument stands for: its own, or with `--hex` those its hex digits
/// spell. A usage error (printed) if they are not hex digits.
fn name_bytes(arg: &OsString, hex: bool) -> Result<Vec<u8>, i32> {
    let bytes = arg.as_bytes();
    if !hex {
        return Ok(bytes.to_vec());
    }
    hex::decode(bytes).ok_or_else(|| {
        out::error(&format!(
            "{}: --hex needs an even number of hex digits (two a byte)",
            escape::text(bytes)
        ));
        exit::USAGE
    })
}

fn main() {
    std::panic::set_hook(Box::new(|info| {
        // Printed with `eprintln!`'s non-panicking sibling: a closed stderr is ignored.
        use std::io::Write;
        let message = escape::lines(&info.to_string());
        let _ = writeln!(std::io::stderr(), "mpsync: internal error: {message}");
        std::process::exit(exit::INTERNAL);
    }));
    // `mpsync --etcd URL ...`: the cluster library's objects (cli/src/etcd.rs).
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "--etcd") {
        let rest = argv.split_off(2);
        std::process::exit(etcd_command(rest));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // A usage error quotes the argument it refuses: printed escaped.
            use std::io::Write;
            let message = escape::lines(&e.render().to_string());
            let _ = write!(std::io::stderr(), "{message}");
            std::process::exit(exit::USAGE);
        }
        Err(e) => {
            // --help, --version.
            let _ = e.print();
            std::process::exit(exit::OK);
        }
    };
    let code = match cli.command {
        Command::Ls { filter, json } => inspect_cmds::ls(&filter.to_filter(), json),
        Command::Show { name, hex, json } => match name_bytes(&name, hex) {
            Ok(name) => inspect_cmds::show(&name, json),
            Err(code) => code,
        },
        Command::Rm {
            names,
            hex,
            force,
            ignore_unreadable,
        } => match names
            .iter()
            .map(|n| name_bytes(n, hex))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(names) => inspect_cmds::rm(&names, force, ignore_unreadable),
            Err(code) => code,
        },
        Command::Gc {
            dry_run,
            temp,
            objects,
            owner_dead,
            blocks,
            orphans,
            ignore_unreadable,
            filter,
            json,
        } => gc::gc(
            &gc_sweep::Rules {
                policy: mpsync::inspect::cleanup::GcPolicy {
                    temp_files: temp,
                    objects,
                    blocks,
                    orphans,
                    ignore_unreadable,
                    prefix: None,
                },
                owner_dead,
                filter: filter.to_filter(),
            },
            dry_run,
            json,
        ),
        Command::Watch {
            name,
            hex,
            interval_ms,
            count,
            json,
        } => match name_bytes(&name, hex) {
            Ok(name) => inspect_cmds::watch(&name, interval_ms, count, json),
            Err(code) => code,
        },
        Command::Objects(cmd) => objects::run(cmd),
    };
    std::process::exit(code);
}

/// `mpsync --etcd URL ARGS...` (`args` starts with the URL).
#[cfg(feature = "etcd")]
fn etcd_command(mut args: Vec<OsString>) -> i32 {
    if args.is_empty() {
        out::error("--etcd needs a URL, e.g. --etcd http://127.0.0.1:2379 ls");
        return exit::USAGE;
    }
    let url = args.remove(0).to_string_lossy().into_owned();
    etcd::run(&url, args)
}

/// Without the `etcd` feature: says how to get it.
#[cfg(not(feature = "etcd"))]
fn etcd_command(_args: Vec<OsString>) -> i32 {
    out::error(
        "--etcd: this mpsync was built without the cluster commands; build it with \
         `cargo build -p mpsync-cli --features etcd` (needs protoc)",
    );
    exit::USAGE
}

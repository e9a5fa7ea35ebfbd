//! Commands for shell scripts, on the library's safe object API: `create`, `acquire
//! NAME -- CMD` (run a command while holding an RLock, a Lock, one Semaphore unit,
//! undo or not, or either side of an RWLock: `--read` / `--write`), `release`/`post`, `set`/`clear`, `wait`. Only a name in the library's
//! rules ([A-Za-z0-9._-]) is an object's (`object_name` checks it before anything
//! else); messages print the name given escaped.

use std::process::ExitStatus;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};
use mpsync::inspect::{self, Kind};
use mpsync::{
    Barrier, Condition, Deadline, ElemType, Error, Event, Lock, OpenOptions, Outcome, Queue, RLock,
    RwLock, SEM_UNDO_VALUE_MAX, SEM_VALUE_MAX, Semaphore, SharedArray, SharedMemory, UndoSemaphore,
};

use crate::escape;
use crate::exit;
use crate::object_name;
use crate::out;
use crate::owner_death;

/// What `create` makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CreateType {
    /// multiprocessing.Lock.
    Lock,
    /// multiprocessing.RLock (owner death detected).
    Rlock,
    /// Semaphore (--value, --max, --undo).
    Semaphore,
    /// Condition.
    Condition,
    /// Event.
    Event,
    /// Barrier (--parties).
    Barrier,
    /// Value/Array (--elem-type, --length, --raw).
    Array,
    /// SharedMemory block (--size).
    Block,
    /// Reader-writer lock (owner death of writers and readers detected).
    Rwlock,
    /// Queue of byte messages (--capacity, in bytes).
    Queue,
}

#[derive(Subcommand)]
pub enum ObjectCommand {
    /// Create a named object (or open it if it exists with the same type and
    /// parameters; --excl fails with exit 6 if the name exists).
    Create {
        /// What to create.
        #[arg(value_enum)]
        kind: CreateType,
        /// Its name.
        name: String,
        /// Permission bits, octal.
        #[arg(long, default_value = "600", value_parser = parse_mode)]
        mode: u32,
        /// Fail if the name exists.
        #[arg(long)]
        excl: bool,
        /// Semaphore: initial value.
        #[arg(long, default_value_t = 1)]
        value: u32,
        /// Semaphore: bound (BoundedSemaphore); unbounded if absent (for --undo: the
        /// largest undo value, 8388607).
        #[arg(long)]
        max: Option<u32>,
        /// Semaphore: an undo semaphore (mp_sem_undo_t): the units a holder acquired
        /// come back when it dies, even by SIGKILL; only the holder releases them.
        #[arg(long)]
        undo: bool,
        /// RLock: sticky (MP_RLOCK_STICKY): once an owner died holding it, every
        /// acquirer gets MP_OWNER_DEAD until a holder marks it consistent.
        #[arg(long)]
        sticky: bool,
        /// Barrier: number of parties.
        #[arg(long, default_value_t = 2)]
        parties: u32,
        /// Array: element type, a Python type character (i, d, l, ...).
        #[arg(long, default_value = "l")]
        elem_type: char,
        /// Array: number of elements.
        #[arg(long, default_value_t = 1)]
        length: usize,
        /// Array: without a lock (RawArray).
        #[arg(long)]
        raw: bool,
        /// Block: size in bytes.
        #[arg(long, default_value_t = 4096)]
        size: usize,
        /// Queue: ring size in bytes (a message takes 4 bytes more than its length).
        #[arg(long, default_value_t = 65536)]
        capacity: usize,
    },
    /// Put one message on a queue: MESSAGE, or all of standard input if absent;
    /// waits for room (exit 7 at the timeout). With --eof, then declares end of stream
    /// (gets drain the queue, then exit 10).
    Put {
        /// The queue.
        name: String,
        /// The message's bytes; standard input if absent (and not --eof alone).
        message: Option<std::ffi::OsString>,
        /// Seconds to wait for room (fractions allowed; 0 tries once); forever if absent.
        #[arg(long, value_parser = parse_timeout)]
        timeout: Option<Duration>,
        /// Declare end of stream afterwards (alone: without putting anything).
        #[arg(long)]
        eof: bool,
        /// Accept an object whose file belongs to another user.
        #[arg(long)]
        any_owner: bool,
    },
    /// Take one message from a queue and write its bytes to standard output (nothing
    /// added); exit 7 at the timeout, 10 at end of stream.
    Get {
        /// The queue.
        name: String,
        /// Seconds to wait (fractions allowed; 0 tries once); forever if absent.
        #[arg(long, value_parser = parse_timeout)]
        timeout: Option<Duration>,
        /// Mark the message processed (JoinableQueue's task_done) once it is written to
        /// standard output. Without it, a joinable queue counts the message as taken by
        /// this process, and a join reports it abandoned after the command exits.
        #[arg(long)]
        done: bool,
        /// Accept an object whose file belongs to another user.
        #[arg(long)]
        any_owner: bool,
    },
    /// Run CMD while holding the named RLock, Lock, or one unit of the named Semaphore;
    /// exits with CMD's status. Like flock(1), with counting semaphores and owner death:
    /// an owner-death report (an RLock whose owner died, an undo semaphore's dead
    /// holders' units) is left to the next acquirer (exit 9, CMD not run) unless
    /// --take-over, with which CMD runs with MPSYNC_OWNER_DEAD=1. An RWLock needs
    /// --read or --write.
    Acquire {
        /// The lock or semaphore.
        name: String,
        /// Hold the read side of an RWLock.
        #[arg(long, conflicts_with = "write")]
        read: bool,
        /// Hold the write side of an RWLock.
        #[arg(long)]
        write: bool,
        /// Seconds to wait (fractions allowed; 0 tries once); forever if absent.
        #[arg(long, value_parser = parse_timeout)]
        timeout: Option<Duration>,
        /// Accept an object whose file belongs to another user.
        #[arg(long)]
        any_owner: bool,
        /// Take an owner-death report: acquire an RLock whose owner died (or reclaim an
        /// undo semaphore's dead holders' units) and run CMD with MPSYNC_OWNER_DEAD=1,
        /// which must repair. For a sticky RLock, CMD's exit status 0 marks the repair
        /// done (mark_consistent); any other leaves the lock reporting the death. Without
        /// it, such a report is left to the next acquirer.
        #[arg(long)]
        take_over: bool,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Release a Lock, or one unit of a Semaphore (they have no owner). An RLock can
    /// only be released by its owning thread (exit 4), an undo semaphore's unit only by
    /// the thread that acquired it (exit 8).
    Release {
        /// The lock or semaphore.
        name: String,
        /// Accept an object whose file belongs to another user.
        #[arg(long)]
        any_owner: bool,
    },
    /// Release one unit of a Semaphore (same as `release`).
    Post {
        /// The semaphore.
        name: String,
        /// Accept an object whose file belongs to another user.
        #[arg(long)]
        any_owner: bool,
    },
    /// Set an Event.
    Set {
        /// The event.
        name: String,
        /// Accept an object whose file belongs to another user.
        #[arg(long)]
        any_owner: bool,
    },
    /// Clear an Event.
    Clear {
        /// The event.
        name: String,
        /// Accept an object whose file belongs to another user.
        #[arg(long)]
        any_owner: bool,
    },
    /// Wait until an Event is set (exit 0), or the timeout expires (exit 7).
    Wait {
        /// The event.
        name: String,
        /// Seconds to wait; forever if absent.
        #[arg(long, value_parser = parse_timeout)]
        timeout: Option<Duration>,
        /// Accept an object whose file belongs to another user.
        #[arg(long)]
        any_owner: bool,
    },
}

fn parse_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!("{s:?}: permission bits in octal, at most 777")),
    }
}

pub(crate) fn parse_timeout(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => {
            Duration::try_from_secs_f64(t).map_err(|e| e.to_string())
        }
        _ => Err(format!("{s:?}: a number of seconds, 0 or more")),
    }
}

/// The exit code of a library error.
fn code_of(e: Error) -> i32 {
    match e {
        Error::NotFound => exit::NOT_FOUND,
        Error::BadObject => exit::BAD_OBJECT,
        Error::PermissionDenied => exit::PERMISSION,
        Error::Exists | Error::Busy => exit::BUSY,
        Error::NotOwner => exit::NOT_OWNER,
        Error::Invalid => exit::USAGE,
        _ => exit::FAILURE,
    }
}

fn failed(name: &str, e: Error) -> i32 {
    out::error(&format!("{}: {e}", escape::text(name)));
    code_of(e)
}

fn options(any_owner: bool) -> OpenOptions {
    OpenOptions::new().any_owner(any_owner)
}

/// The kind of the existing object `name` (exit code on failure).
fn kind_of(name: &str) -> Result<Kind, i32> {
    inspected(name).map(|(kind, _)| kind)
}

/// The kind of the existing object `name` and what the inspection saw (exit code on
/// failure).
fn inspected(name: &str) -> Result<(Kind, inspect::ObjectInfo), i32> {
    match inspect::inspect(name) {
        Ok(info) => match (info.kind, info.health) {
            (Some(k), inspect::Health::Ok | inspect::Health::OwnerDead) => Ok((k, info)),
            _ => {
                let what = if info.detail.is_empty() {
                    info.class.as_str().to_string()
                } else {
                    escape::text(&info.detail)
                };
                out::error(&format!(
                    "{}: not a usable libmpsync object: {what}",
                    escape::text(name)
                ));
                Err(exit::BAD_OBJECT)
            }
        },
        Err(e) => {
            out::error(&format!("{}: {e}", escape::text(name)));
            Err(exit::of_inspect(e))
        }
    }
}

fn wrong_type(name: &str, kind: Kind, wanted: &str) -> i32 {
    out::error(&format!(
        "{} is a {}; this command needs {wanted}",
        escape::text(name),
        inspect::kind_name(kind)
    ));
    exit::BAD_OBJECT
}

/// Calls `f` until it is not interrupted by a signal handler (same deadline).
fn retry<T>(mut f: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    loop {
        match f() {
            Err(Error::Interrupted) => continue,
            other => return other,
        }
    }
}

impl ObjectCommand {
    /// The object name the command acts on.
    fn name(&self) -> &str {
        match self {
            ObjectCommand::Create { name, .. }
            | ObjectCommand::Acquire { name, .. }
            | ObjectCommand::Release { name, .. }
            | ObjectCommand::Post { name, .. }
            | ObjectCommand::Set { name, .. }
            | ObjectCommand::Clear { name, .. }
            | ObjectCommand::Wait { name, .. }
            | ObjectCommand::Put { name, .. }
            | ObjectCommand::Get { name, .. } => name,
        }
    }
}

pub fn run(cmd: ObjectCommand) -> i32 {
    // Checked here rather than by clap, whose message would print a line break of the
    // name as one: ours prints the name escaped, on one line.
    if let Err(why) = object_name::check(cmd.name()) {
        out::error(&format!("{}: {why}", escape::text(cmd.name())));
        return exit::USAGE;
    }
    match cmd {
        ObjectCommand::Create {
            kind,
            name,
            mode,
            excl,
            value,
            max,
            undo,
            sticky,
            parties,
            elem_type,
            length,
            raw,
            size,
            capacity,
        } => {
            if undo && kind != CreateType::Semaphore {
                out::error("--undo applies to a semaphore only");
                return exit::USAGE;
            }
            if sticky && kind != CreateType::Rlock {
                out::error("--sticky applies to an rlock only");
                return exit::USAGE;
            }
            let opts = OpenOptions::new().create(true).exclusive(excl).mode(mode);
            let r = match kind {
                CreateType::Lock => Lock::open(&name, &opts).map(drop),
                CreateType::Rlock if sticky => RLock::open_sticky(&name, &opts).map(drop),
                CreateType::Rlock => RLock::open(&name, &opts).map(drop),
                CreateType::Semaphore if undo => {
                    let max = max.unwrap_or(SEM_UNDO_VALUE_MAX);
                    UndoSemaphore::open(&name, &opts, value, max).map(drop)
                }
                CreateType::Semaphore => {
                    Semaphore::open(&name, &opts, value, max.unwrap_or(SEM_VALUE_MAX)).map(drop)
                }
                CreateType::Condition => Condition::open(&name, &opts).map(drop),
                CreateType::Queue => Queue::open(&name, &opts, capacity).map(drop),
                CreateType::Event => Event::open(&name, &opts).map(drop),
                CreateType::Barrier => Barrier::open(&name, &opts, parties).map(drop),
                CreateType::Array => {
                    let Some(ty) = u8::try_from(elem_type).ok().and_then(ElemType::from_code)
                    else {
                        out::error(&format!(
                            "{elem_type:?}: not an element type (c b B h H i I l L q Q f d ?)"
                        ));
                        return exit::USAGE;
                    };
                    SharedArray::open(&name, &opts, ty, length, !raw).map(drop)
                }
                CreateType::Block => SharedMemory::open(&name, &opts, size).map(drop),
                CreateType::Rwlock => RwLock::open(&name, &opts).map(drop),
            };
            match r {
                Ok(()) => exit::OK,
                Err(e) => failed(&name, e),
            }
        }
        ObjectCommand::Acquire {
            name,
            read,
            write,
            timeout,
            any_owner,
            take_over,
            command,
        } => acquire(
            &name,
            &AcquireArgs {
                side: match (read, write) {
                    (true, _) => Some(Side::Read),
                    (_, true) => Some(Side::Write),
                    _ => None,
                },
                timeout,
                any_owner,
                take_over,
                command: &command,
            },
        ),
        ObjectCommand::Release { name, any_owner } | ObjectCommand::Post { name, any_owner } => {
            release(&name, any_owner)
        }
        ObjectCommand::Put {
            name,
            message,
            timeout,
            eof,
            any_owner,
        } => put(&name, message, timeout, eof, any_owner),
        ObjectCommand::Get {
            name,
            timeout,
            done,
            any_owner,
        } => get(&name, timeout, done, any_owner),
        ObjectCommand::Set { name, any_owner } => event_op(&name, any_owner, |e| e.set()),
        ObjectCommand::Clear { name, any_owner } => event_op(&name, any_owner, |e| e.clear()),
        ObjectCommand::Wait {
            name,
            timeout,
            any_owner,
        } => {
            let deadline = timeout.map_or(Deadline::forever(), Deadline::after);
            let ev = match open_event(&name, any_owner) {
                Ok(ev) => ev,
                Err(code) => return code,
            };
            match retry(|| ev.wait(deadline)) {
                Ok(Outcome::Timeout) => exit::TIMEOUT,
                Ok(_) => exit::OK,
                Err(e) => failed(&name, e),
            }
        }
    }
}

fn open_queue(name: &str, any_owner: bool) -> Result<Queue, i32> {
    match kind_of(name)? {
        // Capacity 0: the queue's own, whatever it is.
        Kind::Queue => Queue::open(name, &options(any_owner), 0).map_err(|e| failed(name, e)),
        k => Err(wrong_type(name, k, "a queue")),
    }
}

/// The exit code of a queue operation's error.
fn queue_failed(name: &str, e: Error) -> i32 {
    match e {
        Error::Closed => {
            out::error(&format!("{}: end of stream", escape::text(name)));
            exit::END_OF_STREAM
        }
        e => failed(name, e),
    }
}

fn put(
    name: &str,
    message: Option<std::ffi::OsString>,
    timeout: Option<Duration>,
    eof: bool,
    any_owner: bool,
) -> i32 {
    use std::io::Read;
    use std::os::unix::ffi::OsStrExt;
    let q = match open_queue(name, any_owner) {
        Ok(q) => q,
        Err(code) => return code,
    };
    let bytes = match message {
        Some(m) => Some(m.as_bytes().to_vec()),
        None if eof => None,
        None => {
            let mut v = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut v) {
                out::error(&format!("standard input: {e}"));
                return exit::FAILURE;
            }
            Some(v)
        }
    };
    if let Some(bytes) = bytes {
        let deadline = timeout.map_or(Deadline::forever(), Deadline::after);
        match retry(|| q.put(&bytes, deadline)) {
            Ok(true) => {}
            Ok(false) => return exit::TIMEOUT,
            Err(e) => return queue_failed(name, e),
        }
    }
    if eof && let Err(e) = retry(|| q.close_producers()) {
        return failed(name, e);
    }
    exit::OK
}

fn get(name: &str, timeout: Option<Duration>, done: bool, any_owner: bool) -> i32 {
    use std::io::Write;
    let q = match open_queue(name, any_owner) {
        Ok(q) => q,
        Err(code) => return code,
    };
    let deadline = timeout.map_or(Deadline::forever(), Deadline::after);
    let mut msg = Vec::new();
    match retry(|| q.get(&mut msg, deadline)) {
        Ok(true) => {}
        Ok(false) => return exit::TIMEOUT,
        Err(e) => return queue_failed(name, e),
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(&msg).and_then(|()| stdout.flush()) {
        out::error(&format!("standard output: {e}"));
        return exit::FAILURE;
    }
    if done && let Err(e) = q.task_done(1) {
        return failed(name, e);
    }
    exit::OK
}

fn open_event(name: &str, any_owner: bool) -> Result<Event, i32> {
    match kind_of(name)? {
        Kind::Event => Event::open(name, &options(any_owner)).map_err(|e| failed(name, e)),
        k => Err(wrong_type(name, k, "an event")),
    }
}

fn event_op(name: &str, any_owner: bool, op: impl Fn(&Event) -> Result<(), Error>) -> i32 {
    match open_event(name, any_owner) {
        Ok(ev) => match op(&ev) {
            Ok(()) => exit::OK,
            Err(e) => failed(name, e),
        },
        Err(code) => code,
    }
}

fn release(name: &str, any_owner: bool) -> i32 {
    let shown = escape::text(name);
    let opts = options(any_owner);
    let r = match kind_of(name) {
        Ok(Kind::Lock) => Lock::open(name, &opts).and_then(|l| l.release()),
        // Opening an existing semaphore ignores the creation arguments.
        Ok(Kind::Sem) => Semaphore::open(name, &opts, 0, 1).and_then(|s| s.release()),
        Ok(Kind::SemUndo) => UndoSemaphore::open(name, &opts, 0, 1).and_then(|s| s.release()),
        Ok(Kind::RLock) => {
            out::error(&format!(
                "{shown} is an rlock: only its owning thread can release it (use `mpsync acquire {shown} -- CMD`)"
            ));
            return exit::BAD_OBJECT;
        }
        Ok(k) => return wrong_type(name, k, "a lock or a semaphore"),
        Err(code) => return code,
    };
    match r {
        Ok(()) => exit::OK,
        Err(Error::NotOwner) => {
            out::error(&format!(
                "{shown} is an undo semaphore: a unit is released only by the thread that acquired it, and this process holds none (a holder's units come back by themselves when it dies; use `mpsync acquire {shown} -- CMD`)"
            ));
            exit::NOT_OWNER
        }
        Err(Error::Overflow) => {
            out::error(&format!(
                "{shown}: not held (or the semaphore is at its maximum)"
            ));
            exit::FAILURE
        }
        Err(e) => failed(name, e),
    }
}

/// What `acquire` holds while the command runs.
enum Held {
    RLock(RLock),
    Lock(Lock),
    Sem(Semaphore),
    UndoSem(UndoSemaphore),
    Read(RwLock),
    Write(RwLock),
}

impl Held {
    fn release(&self) -> Result<(), Error> {
        match self {
            Held::RLock(l) => l.release(),
            Held::Lock(l) => l.release(),
            Held::Sem(s) => s.release(),
            Held::UndoSem(s) => s.release(),
            Held::Read(l) => l.release_read(),
            Held::Write(l) => l.release_write(),
        }
    }
}

/// The side of an RWLock that `acquire --read` / `--write` holds.
#[derive(Clone, Copy)]
enum Side {
    Read,
    Write,
}

/// How `acquire` was asked to run.
struct AcquireArgs<'a> {
    /// `--read` / `--write` (an RWLock only).
    side: Option<Side>,
    timeout: Option<Duration>,
    any_owner: bool,
    /// Take an owner-death report (see `owner_death`).
    take_over: bool,
    command: &'a [String],
}

fn acquire(name: &str, args: &AcquireArgs) -> i32 {
    let shown = escape::text(name);
    let opts = options(args.any_owner);
    let (kind, info) = match inspected(name) {
        Ok(found) => found,
        Err(code) => return code,
    };
    // An RLock whose owner died is not acquired: that would take the death report.
    if let Err(code) = owner_death::refuse_before(name, &info, args.take_over) {
        return code;
    }
    if args.side.is_some() && kind != Kind::RwLock {
        out::error(&format!("{shown}: --read and --write are for an rwlock"));
        return exit::USAGE;
    }
    let held = match kind {
        Kind::RLock => RLock::open(name, &opts).map(Held::RLock),
        Kind::Lock => Lock::open(name, &opts).map(Held::Lock),
        Kind::Sem => Semaphore::open(name, &opts, 0, 1).map(Held::Sem),
        Kind::SemUndo => UndoSemaphore::open(name, &opts, 0, 1).map(Held::UndoSem),
        Kind::RwLock => match args.side {
            Some(Side::Read) => RwLock::open(name, &opts).map(Held::Read),
            Some(Side::Write) => RwLock::open(name, &opts).map(Held::Write),
            None => {
                out::error(&format!("{shown} is an rwlock: say --read or --write"));
                return exit::USAGE;
            }
        },
        k => return wrong_type(name, k, "an rlock, a lock, a semaphore or an rwlock"),
    };

    let held = match held {
        Ok(h) => h,
        Err(e) => return failed(name, e),
    };
    // One deadline for the whole wait, also across signal-handler interruptions.
    let deadline = args.timeout.map_or(Deadline::forever(), Deadline::after);
    let outcome = retry(|| match &held {
        Held::RLock(l) => l.acquire_unguarded(deadline),
        Held::Lock(l) => l.acquire_unguarded(deadline),
        Held::Sem(s) => s.acquire_unguarded(deadline),
        Held::UndoSem(s) => s.acquire_unguarded(deadline),
        Held::Read(l) => l.acquire_read(deadline),
        Held::Write(l) => l.acquire_write(deadline),
    });
    let owner_dead = match outcome {
        // `Created` is never an acquisition's; it is success like `Ok`.
        Ok(Outcome::Ok | Outcome::Created) => false,
        Ok(Outcome::OwnerDead) if !args.take_over => {
            owner_death::hand_back(name, matches!(held, Held::UndoSem(_)))
        }
        Ok(Outcome::OwnerDead) => {
            let what = if matches!(held, Held::UndoSem(_)) {
                "a holder died holding units of the semaphore, which came back"
            } else {
                "the previous owner died holding the lock"
            };
            out::error(&format!(
                "{shown}: {what}; running the command with MPSYNC_OWNER_DEAD=1"
            ));
            true
        }
        Ok(Outcome::Timeout) => {
            out::error(&format!("{shown}: timed out"));
            return exit::TIMEOUT;
        }
        Err(e) => return failed(name, e),
    };
    let code = run_command(
        args.command,
        &[(
            "MPSYNC_OWNER_DEAD",
            if owner_dead { "1" } else { "0" }.to_string(),
        )],
    );
    // The command was told, and succeeded: it repaired. A sticky RLock stops reporting
    // the death (for a plain one this only checks that we hold it).
    if let (true, Held::RLock(l), 0) = (owner_dead, &held, code) {
        if let Err(e) = l.mark_consistent() {
            out::error(&format!("{shown}: mark_consistent failed: {e}"));
        }
    }
    if let Err(e) = held.release() {
        out::error(&format!("{shown}: release failed: {e}"));
    }
    code
}

/// Runs `command` with `envs` added and waits for it (ignoring Ctrl-C and Ctrl-\
/// meanwhile, which reach the whole foreground group: the command decides what they
/// mean, and the caller releases when it is done). Its status as a shell reports it:
/// 127 if not found, 126 if not executable.
pub(crate) fn run_command(command: &[String], envs: &[(&str, String)]) -> i32 {
    let status = std::process::Command::new(&command[0])
        .args(&command[1..])
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .spawn()
        .and_then(|mut child| {
            let _ignored = TerminalSignalsIgnored::new();
            child.wait()
        });
    match status {
        Ok(s) => status_code(s),
        Err(e) => {
            out::error(&format!("{}: {e}", escape::text(&command[0])));
            match e.kind() {
                std::io::ErrorKind::NotFound => 127,
                std::io::ErrorKind::PermissionDenied => 126,
                _ => exit::FAILURE,
            }
        }
    }
}

/// Ignores SIGINT and SIGQUIT in this process while alive (set after the command was
/// spawned, so the command keeps the default dispositions).
struct TerminalSignalsIgnored {
    previous: [libc::sighandler_t; 2],
}

const TERMINAL_SIGNALS: [libc::c_int; 2] = [libc::SIGINT, libc::SIGQUIT];

impl TerminalSignalsIgnored {
    fn new() -> TerminalSignalsIgnored {
        // SAFETY: installing SIG_IGN for valid signal numbers; the previous
        // dispositions are restored by Drop.
        let previous = TERMINAL_SIGNALS.map(|sig| unsafe { libc::signal(sig, libc::SIG_IGN) });
        TerminalSignalsIgnored { previous }
    }
}

impl Drop for TerminalSignalsIgnored {
    fn drop(&mut self) {
        for (sig, old) in TERMINAL_SIGNALS.into_iter().zip(self.previous) {
            if old != libc::SIG_ERR {
                // SAFETY: restoring a disposition that `signal` returned.
                unsafe { libc::signal(sig, old) };
            }
        }
    }
}

/// A child's status as a shell reports it.
fn status_code(s: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        _ => exit::FAILURE,
    }
}

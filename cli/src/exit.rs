//! Exit codes: one per failure class, so that scripts can tell them apart. Listed in
//! `mpsync --help`, docs/cli.md (the contract) and the README; a test checks that the
//! three list the same codes.

use mpsync::inspect::InspectError;

/// Success.
pub const OK: i32 = 0;
/// Any other failure: an I/O or system error, or a command that could not be started.
pub const FAILURE: i32 = 1;
/// Bad command line (clap's own code for usage errors), including an invalid name
/// (for the commands for shell scripts: one outside the library's rules).
pub const USAGE: i32 = 2;
/// No such name in the shared-memory namespace.
pub const NOT_FOUND: i32 = 3;
/// Not a usable object: foreign file, corrupted or truncated header, another layout
/// version, or another type than the command needs.
pub const BAD_OBJECT: i32 = 4;
/// Permission denied.
pub const PERMISSION: i32 = 5;
/// In use: `rm` refused a mapped object; the name exists (`create --excl`); all the
/// holder slots of an undo semaphore are taken.
pub const BUSY: i32 = 6;
/// The timeout expired before the lock, unit or event came.
pub const TIMEOUT: i32 = 7;
/// Not the owner: `release`/`post` of an undo semaphore unit that this process does not
/// hold (the library refuses with `MP_ENOTOWNER`).
pub const NOT_OWNER: i32 = 8;
/// An owner-death report is waiting (an RLock whose owner died; a dead undo-semaphore
/// holder's units that this acquire reclaimed): `acquire` without `--take-over` leaves
/// it to the next acquirer and does not run the command (see `owner_death`).
pub const OWNER_DEAD: i32 = 9;
/// End of stream: `get` found the queue empty and closed for writing.
pub const END_OF_STREAM: i32 = 10;
/// A bug in mpsync (a caught panic).
pub const INTERNAL: i32 = 70;

/// The exit-code table, as printed at the end of `mpsync --help`.
pub const TABLE: &str = "\
Exit codes:
  0   success (show: a healthy or owner-dead object, a block, a temporary file)
  1   other failure: I/O or system error; a command that could not be run;
      release/post of a Lock that is not held or a Semaphore at its maximum
  2   usage error: bad arguments; an invalid name (for create, acquire, release,
      post, set, clear, wait: one outside the library's rules); gc without a kind;
      --undo for another type than a semaphore
  3   no such name
  4   not a usable object: foreign, corrupt or truncated, another layout version,
      or another type than the command needs
  5   permission denied
  6   busy: rm of a mapped name (without --force), create --excl of an existing
      name, acquire of an undo semaphore whose 64 holder slots are all taken
  7   timeout (acquire --timeout, wait --timeout; also --timeout 0)
  8   not the owner: release/post of an undo semaphore unit this process does not
      hold (only the thread that acquired a unit releases it)
  9   owner dead: acquire without --take-over met an owner-death report (an RLock
      whose owner died; an undo semaphore's dead holder's units it reclaimed) and
      left it to the next acquirer, without running the command
  10  end of stream: get of a queue that is empty and closed for writing (put --eof)
  70  internal error (a bug in mpsync)
`mpsync acquire NAME -- CMD` exits with CMD's status once CMD ran
(128+N if a signal N killed it; 127 if CMD was not found, 126 if not executable).";

/// The exit code of an inspection error.
pub fn of_inspect(e: InspectError) -> i32 {
    match e {
        InspectError::NotFound => NOT_FOUND,
        InspectError::InvalidName => USAGE,
        InspectError::PermissionDenied => PERMISSION,
        InspectError::Io(_) => FAILURE,
    }
}

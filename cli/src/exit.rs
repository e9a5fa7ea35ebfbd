//! Exit codes: one per failure class, so that scripts can tell them apart. Listed in
//! `mpsync --help` and in the README.

use mpsync::inspect::InspectError;

/// Success.
pub const OK: i32 = 0;
/// Any other failure: an I/O or system error, or a command that could not be started.
pub const FAILURE: i32 = 1;
/// Bad command line (clap's own code for usage errors), including an invalid name.
pub const USAGE: i32 = 2;
/// No such name in the shared-memory namespace.
pub const NOT_FOUND: i32 = 3;
/// Not a usable object: foreign file, corrupted or truncated header, another layout
/// version, or another type than the command needs.
pub const BAD_OBJECT: i32 = 4;
/// Permission denied.
pub const PERMISSION: i32 = 5;
/// In use: `rm` refused a mapped object; the name exists (`create --excl`).
pub const BUSY: i32 = 6;
/// The timeout expired before the lock, unit or event came.
pub const TIMEOUT: i32 = 7;
/// Not the owner: `release`/`post` of an undo semaphore unit that this process does not
/// hold (the library refuses with `MP_ENOTOWNER`).
pub const NOT_OWNER: i32 = 8;
/// A bug in mpsync (a caught panic).
pub const INTERNAL: i32 = 70;

/// The exit-code table, as printed at the end of `mpsync --help`.
pub const TABLE: &str = "\
Exit codes:
  0   success
  1   other failure (I/O or system error; command could not be run)
  2   usage error (bad arguments, invalid name)
  3   no such name
  4   not a usable object: foreign, corrupt or truncated, another layout version,
      or another type than the command needs
  5   permission denied
  6   busy: in use (rm without --force), name exists (create --excl)
  7   timeout (acquire --timeout, wait --timeout; also --timeout 0)
  8   not the owner: release/post of an undo semaphore unit this process does not
      hold (only the thread that acquired a unit releases it)
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

//! Process-owned anonymous names, and removing those whose creator died.
//!
//! A binding that gives unnamed objects a name (so that other processes can open them
//! by name, e.g. Python's spawn children unpickling a `Lock()`) takes it from
//! [`anonymous_name`] and removes it itself when done, at its exit at the latest. A
//! creator killed by `SIGKILL`, or crashing, cannot: [`sweep_orphans`], run by any
//! later process (the Python package runs it at import), removes the names whose
//! creator provably no longer exists. No tracker process is needed.

use super::error::Error;
use crate::sys::shm::creator_names;

/// Prefix of every [`anonymous_name`]. Names of this form are reserved: do not give
/// your own objects names that start with it.
pub const ANONYMOUS_NAME_PREFIX: &str = creator_names::ANON_PREFIX;

/// A fresh name for an object that the calling process owns and will remove
/// ([`unlink`](crate::unlink)) itself:
/// `mpsync-anon-<pid>-<start>-<pidns>-<n>-<rand>` — the process id, its start time
/// (clock ticks since boot, field 22 of `/proc/<pid>/stat`), its PID-namespace id (the
/// inode of `/proc/self/ns/pid`), all decimal; a counter; 8 random lowercase hex
/// digits. At most 85 characters, within [`NAME_MAX`](crate::NAME_MAX).
///
/// The name is only a name: create the object under it with
/// `OpenOptions::new().create(true).exclusive(true)` (and take another name on
/// [`Error::Exists`]). Where `/proc` cannot tell the start time or the namespace, they
/// are written as 0 and the name is never swept.
pub fn anonymous_name() -> String {
    // The library builds the name without the heap; this copy is the Rust caller's.
    creator_names::anonymous_name().as_str().to_string()
}

/// Removes the [`anonymous_name`]s of `/dev/shm` whose creator provably no longer
/// exists, and returns how many this call removed. A process that still maps such an
/// object (say, a `fork()`ed child of the dead creator) keeps using it; only opening it
/// by name fails afterwards, as after the creator's normal exit.
///
/// "Provably" means: the name's PID namespace is the caller's, the `/proc` the caller
/// sees provably belongs to that namespace, the recorded start time is known, and no
/// running process has that pid and start time (a process lives while any of its
/// threads runs). A name whose creator is alive, lives in another PID namespace, or
/// whose liveness cannot be proven (no `/proc`, a `/proc` of another namespace, an
/// unknown start time) is never removed; neither are other users' files (the sticky
/// `/dev/shm` refuses; as root they are removed too), anything that is not a regular
/// file, or any other name.
///
/// Cost: one listing of `/dev/shm`; `/proc` is read only for names of this form.
/// Errors: the listing failed ([`Error::NotFound`], [`Error::PermissionDenied`],
/// [`Error::System`]).
pub fn sweep_orphans() -> Result<usize, Error> {
    creator_names::sweep_orphans().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound,
        std::io::ErrorKind::PermissionDenied => Error::PermissionDenied,
        _ => Error::System,
    })
}

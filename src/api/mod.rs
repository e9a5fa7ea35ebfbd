//! The safe Rust API: the crate's one deliberate, documented interface for Rust code
//! (the Python package and the command-line tool use it too).
//!
//! Every type here wraps the very entry points of the C ABI (`crate::ffi`), so an
//! object made in Rust is byte-for-byte the object a C program gets from
//! `mp_*_new`/`mp_*_open`, and behaves identically: a Rust process and a C process can
//! share a named [`RLock`] or [`SharedArray`].
//!
//! The conventions (lifecycles, closing, deadlines) are in the crate docs (src/lib.rs).

/// The examples of docs/rust-api.md, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/rust-api.md")]
pub struct RustApiDocExamples;

mod array;
mod barrier;
mod cond;
mod error;
pub(crate) mod lifecycle;
pub(crate) mod object;
pub(crate) mod sem_flavour;
pub(crate) mod sem_undo_extent;
mod event;
mod lock;
mod orphans;
mod rlock;
mod sem;
mod shm;

use core::time::Duration;
use std::ffi::CString;
use std::time::Instant;

pub use array::{ElemType, SharedArray};
pub use barrier::Barrier;
pub use cond::Condition;
pub use error::{Error, Outcome};
pub use event::Event;
pub use lock::Lock;
pub use orphans::{ANONYMOUS_NAME_PREFIX, anonymous_name, sweep_orphans};
pub use rlock::{ArrayLock, RLock};
pub use sem::{SEM_UNDO_VALUE_MAX, SEM_VALUE_MAX, Semaphore};
pub use shm::SharedMemory;

/// When a blocking call gives up, on the monotonic clock (`CLOCK_MONOTONIC`, which
/// [`Instant`] uses on Linux). Computed once per operation: retrying after
/// [`Error::Interrupted`] with the same value waits only for the time left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline(Kind);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Now,
    Forever,
    At(Instant),
}

impl Deadline {
    /// Wait as long as needed.
    pub const fn forever() -> Deadline {
        Deadline(Kind::Forever)
    }

    /// Do not wait: try once.
    pub const fn now() -> Deadline {
        Deadline(Kind::Now)
    }

    /// Wait at most `timeout` from now (a zero duration tries once).
    pub fn after(timeout: Duration) -> Deadline {
        match Instant::now().checked_add(timeout) {
            Some(at) => Deadline(Kind::At(at)),
            // Further than the clock can express: as good as forever.
            None => Deadline::forever(),
        }
    }

    /// Wait until `instant`.
    pub const fn at(instant: Instant) -> Deadline {
        Deadline(Kind::At(instant))
    }

    /// Time left, or `None` for forever.
    pub fn remaining(&self) -> Option<Duration> {
        match self.0 {
            Kind::Now => Some(Duration::ZERO),
            Kind::Forever => None,
            Kind::At(at) => Some(at.saturating_duration_since(Instant::now())),
        }
    }

    /// The C ABI's `timeout_ms` for the time left: negative for forever, 0 for
    /// "try once", otherwise the remaining milliseconds rounded up (so that a wait never
    /// ends before the deadline).
    pub(crate) fn timeout_ms(&self) -> i64 {
        match self.remaining() {
            None => -1,
            Some(left) => {
                let ms = left.as_nanos().div_ceil(1_000_000);
                i64::try_from(ms).unwrap_or(i64::MAX)
            }
        }
    }
}

impl From<Option<Duration>> for Deadline {
    /// `None` waits forever; `Some(d)` waits at most `d`.
    fn from(timeout: Option<Duration>) -> Deadline {
        timeout.map_or(Deadline::forever(), Deadline::after)
    }
}

impl From<Duration> for Deadline {
    fn from(timeout: Duration) -> Deadline {
        Deadline::after(timeout)
    }
}

impl From<Instant> for Deadline {
    fn from(instant: Instant) -> Deadline {
        Deadline::at(instant)
    }
}

/// How `open` finds or creates a named object, like [`std::fs::OpenOptions`]. The
/// default opens an existing object only, owned by the caller's effective user, and
/// creates with mode `0600`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    create: bool,
    exclusive: bool,
    any_owner: bool,
    mode: u32,
}

impl OpenOptions {
    /// Open an existing object only (the default).
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Create the object if the name does not exist (`MP_CREATE`). Many processes
    /// creating one name at once all get the same, fully initialised object.
    pub fn create(mut self, create: bool) -> OpenOptions {
        self.create = create;
        self
    }

    /// With `create`: fail with [`Error::Exists`] if the name exists (`MP_EXCL`).
    pub fn exclusive(mut self, exclusive: bool) -> OpenOptions {
        self.exclusive = exclusive;
        self
    }

    /// Accept an existing object whose file belongs to another user (`MP_ANY_OWNER`).
    /// Whoever created the name can rewrite the object's memory, lock words included:
    /// pass it only when that user is trusted.
    pub fn any_owner(mut self, any_owner: bool) -> OpenOptions {
        self.any_owner = any_owner;
        self
    }

    /// Permission bits of a created object, exactly (regardless of the umask); 0 means
    /// `0600`.
    pub fn mode(mut self, mode: u32) -> OpenOptions {
        self.mode = mode;
        self
    }

    /// The C ABI's `flags`. `exclusive` without `create` is passed through, and the
    /// library refuses it with [`Error::Invalid`].
    pub(crate) fn flags(&self) -> u32 {
        use crate::ffi::{MP_ANY_OWNER, MP_CREATE, MP_EXCL};
        let mut flags = 0;
        if self.create {
            flags |= MP_CREATE;
        }
        if self.exclusive {
            flags |= MP_EXCL;
        }
        if self.any_owner {
            flags |= MP_ANY_OWNER;
        }
        flags
    }

    pub(crate) fn mode_bits(&self) -> u32 {
        self.mode
    }
}

/// A name as the C ABI wants it; a name with a NUL byte is [`Error::Invalid`], and
/// [`Error::NoMemory`] if memory for the copy is short (never an abort).
pub(crate) fn c_name(name: &str) -> Result<CString, Error> {
    if name.as_bytes().contains(&0) {
        return Err(Error::Invalid);
    }
    let mut bytes = Vec::new();
    // Room for the NUL too, so that `CString::new` does not grow the vector.
    bytes
        .try_reserve_exact(name.len() + 1)
        .map_err(|_| Error::NoMemory)?;
    bytes.extend_from_slice(name.as_bytes());
    CString::new(bytes).map_err(|_| Error::Invalid)
}

/// Removes the name of a named object or shared-memory block (`mp_unlink`). Processes
/// that have it open keep using it; a later `open` with `create` makes a new object.
pub fn unlink(name: &str) -> Result<(), Error> {
    let name = c_name(name)?;
    // SAFETY: a valid NUL-terminated string.
    error::unit(unsafe { crate::ffi::common::mp_unlink(name.as_ptr()) })
}

/// Longest object name, not counting an optional leading `/`.
pub const NAME_MAX: usize = crate::ffi::MP_NAME_MAX;

/// How a handle ends: what `Drop` and `close` do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Life {
    /// From `new`/`open`: closing unmaps it in this process.
    Mapped,
    /// In the caller's memory: nothing to unmap; `destroy` ends the object.
    InPlace,
}

/// Reports a drop that could not close its mapping (see the module docs).
#[cold]
pub(crate) fn report_leak(type_name: &str, error: Error) {
    eprintln!(
        "mpsync: a {type_name} handle was dropped while it could not be closed ({error}); its mapping is kept"
    );
}

/// The parts every fixed-size object handle shares: `Send`/`Sync`, `as_ptr`, `close`,
/// `destroy`, `Drop` and `Debug`.
macro_rules! object_handle {
    ($ty:ident, $cty:ty, $close:path, $destroy:path) => {
        // SAFETY: the object is made for concurrent use by any thread of any process
        // (all its state is atomics in shared memory); the handle is a pointer to it.
        unsafe impl Send for $ty {}
        // SAFETY: as above.
        unsafe impl Sync for $ty {}

        impl $ty {
            /// A handle on the object a C constructor (`new`/`open`, given its
            /// out-pointer) just mapped.
            fn mapped_by(make: impl FnOnce(*mut *mut $cty) -> i32) -> Result<Self, crate::Error> {
                Ok(Self {
                    ptr: crate::api::construct(make)?,
                    life: crate::api::Life::Mapped,
                })
            }

            /// A handle on the in-place object at `mem`, once `status` (what the C call
            /// that initialised or checked it returned) says the library accepted it.
            /// The caller's own contract keeps `mem` valid while the handle lives.
            fn in_place_after(mem: *mut u8, status: i32) -> Result<Self, crate::Error> {
                crate::api::error::unit(status)?;
                // Accepted memory is never NULL; a NULL here would be the library's bug.
                let ptr = core::ptr::NonNull::new(mem.cast()).ok_or(crate::Error::System)?;
                Ok(Self {
                    ptr,
                    life: crate::api::Life::InPlace,
                })
            }

            /// The C object, for passing to C code that uses the C ABI. It stays valid
            /// while this handle lives (and is not closed).
            pub fn as_ptr(&self) -> *mut $cty {
                self.ptr.as_ptr()
            }

            /// True for an in-place object (`init_at`/`attach_at`).
            pub fn is_in_place(&self) -> bool {
                self.life == crate::api::Life::InPlace
            }

            /// Unmaps the object in this process (it lives on in other processes, and
            /// under its name until [`unlink`](crate::unlink)). On error the handle is
            /// handed back unchanged: [`Error::Busy`](crate::Error::Busy) when the
            /// calling thread holds a lock inside the mapping. An in-place handle just
            /// ends (nothing to unmap; see `destroy`).
            pub fn close(self) -> Result<(), (Self, crate::Error)> {
                let this = core::mem::ManuallyDrop::new(self);
                if this.life == crate::api::Life::InPlace {
                    return Ok(());
                }
                // SAFETY: a live handle from `new`/`open`, closed only here or in Drop
                // (which `ManuallyDrop` skips).
                match crate::api::error::unit(unsafe { $close(this.ptr.as_ptr()) }) {
                    Ok(()) => Ok(()),
                    Err(e) => Err((core::mem::ManuallyDrop::into_inner(this), e)),
                }
            }

            /// Ends an in-place object (the C `destroy`): afterwards every call on that
            /// memory fails until it is initialised again. A `new`/`open` handle gives
            /// [`Error::Invalid`](crate::Error::Invalid) (use `close`). On error the
            /// handle is handed back, e.g. [`Error::Busy`](crate::Error::Busy) if the
            /// object is held or waited on.
            ///
            /// # Safety
            /// No other handle (in any process) may use the object afterwards.
            pub unsafe fn destroy(self) -> Result<(), (Self, crate::Error)> {
                if self.life != crate::api::Life::InPlace {
                    return Err((self, crate::Error::Invalid));
                }
                // SAFETY: the memory is valid per `init_at`/`attach_at`'s contract.
                match crate::api::error::unit(unsafe { $destroy(self.ptr.as_ptr()) }) {
                    Ok(()) => {
                        core::mem::forget(self);
                        Ok(())
                    }
                    Err(e) => Err((self, e)),
                }
            }
        }

        impl Drop for $ty {
            fn drop(&mut self) {
                if self.life == crate::api::Life::InPlace {
                    return;
                }
                // SAFETY: a live handle from `new`/`open`, never used again.
                if let Err(e) = crate::api::error::unit(unsafe { $close(self.ptr.as_ptr()) }) {
                    crate::api::report_leak(stringify!($ty), e);
                }
            }
        }

        impl core::fmt::Debug for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("ptr", &self.ptr)
                    .field("life", &self.life)
                    .finish()
            }
        }
    };
}
pub(crate) use object_handle;

/// Runs an FFI constructor that writes a handle to an out-parameter.
pub(crate) fn construct<T>(
    f: impl FnOnce(*mut *mut T) -> i32,
) -> Result<core::ptr::NonNull<T>, Error> {
    let mut out: *mut T = core::ptr::null_mut();
    error::unit(f(&mut out))?;
    // The library writes a non-NULL handle on success; a NULL one would be its bug.
    core::ptr::NonNull::new(out).ok_or(Error::System)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_and_forever_is_negative() {
        assert_eq!(Deadline::forever().timeout_ms(), -1);
        assert_eq!(Deadline::now().timeout_ms(), 0);
        assert_eq!(Deadline::from(None).timeout_ms(), -1);
        let d = Deadline::after(Duration::from_micros(1500));
        assert!((1..=2).contains(&d.timeout_ms()));
        let past = Deadline::at(Instant::now());
        assert_eq!(past.timeout_ms(), 0);
        assert_eq!(Deadline::after(Duration::MAX), Deadline::forever());
    }

    #[test]
    fn open_options_flags() {
        use crate::ffi::{MP_ANY_OWNER, MP_CREATE, MP_EXCL};
        assert_eq!(OpenOptions::new().flags(), 0);
        assert_eq!(
            OpenOptions::new()
                .create(true)
                .exclusive(true)
                .any_owner(true)
                .flags(),
            MP_CREATE | MP_EXCL | MP_ANY_OWNER
        );
    }
}

/// Fork helpers for the unit tests of this module.
#[cfg(test)]
pub(crate) mod tests_fork {
    /// Runs `f` in a `fork()`ed child that exits with its return value (and with 101 if
    /// it panics); returns the child's pid.
    pub(crate) fn in_child(f: impl FnOnce() -> i32) -> libc::pid_t {
        // SAFETY: the child only runs `f` and `_exit`s, never returning to the harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
            // SAFETY: ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) };
        }
        pid
    }

    /// Waits for `pid` (at most 30 s, then kills it and fails) and checks that it was
    /// killed by `signal`, or exited with 0 if `signal` is `None`.
    pub(crate) fn wait_for(pid: libc::pid_t, signal: Option<i32>) {
        let start = std::time::Instant::now();
        let mut status = 0;
        loop {
            // SAFETY: our own child; a valid out-pointer.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            if start.elapsed() > std::time::Duration::from_secs(30) {
                // SAFETY: our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("child {pid} hung");
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        match signal {
            Some(sig) => assert!(
                libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == sig,
                "child status {status:#x}"
            ),
            None => assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "child status {status:#x}"
            ),
        }
    }
}

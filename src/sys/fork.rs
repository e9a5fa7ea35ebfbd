//! Registering `fork()` handlers: a leaf that knows nothing of the modules it serves.
//!
//! A module whose process-private state a child must see consistent owns a static
//! [`Handlers`] (its own `pthread_atfork` prepare, parent and child functions), has it
//! registered when the library is loaded ([`register_at_load!`], an ELF constructor),
//! and calls [`Handlers::ensure`] (one atomic load once registered) before it touches
//! that state, for builds in which the constructor did not run. The handlers must be
//! registered before any thread can touch the state, or a child forked at the wrong
//! instant inherits it locked forever. The users today are `shm::registry` (prepare
//! takes the mapping registry's lock; parent and child release it) and `thread` (the
//! child forgets the forking thread's identity: TID, owner token, robust list).
//!
//! Each user is its own `pthread_atfork` registration. glibc runs the prepare handlers
//! in the reverse order of registration and the parent and child handlers in the order
//! of registration, but that order is not fixed here (constructors run in link order,
//! lazy registrations in the order of first use): one user's handlers must not depend
//! on another's running before or after them. Handlers that must run in a given order
//! belong in one registration.
//!
//! `_Fork()`, `vfork()` and raw `clone()` run no handlers: a child made that way must
//! not call the library (it may only `exec` or `_exit`). A signal handler that forks
//! while its thread is inside a library call may deadlock in a prepare handler, as with
//! any `pthread_atfork` lock.
//!
//! Miri runs no `pthread_atfork` and no ELF constructors: there, [`Handlers::ensure`]
//! only records the handlers as registered.

use core::sync::atomic::{AtomicU8, Ordering};

const UNREGISTERED: u8 = 0;
const REGISTERING: u8 = 1;
const REGISTERED: u8 = 2;

/// A handler as `pthread_atfork` takes it.
pub(crate) type Handler = Option<unsafe extern "C" fn()>;

/// One module's `fork()` handlers, registered with `pthread_atfork` at most once.
// Under Miri the handlers are kept but never registered.
#[cfg_attr(miri, allow(dead_code))]
pub(crate) struct Handlers {
    state: AtomicU8,
    prepare: Handler,
    parent: Handler,
    child: Handler,
}

impl Handlers {
    /// Handlers not registered yet (see [`Handlers::ensure`]).
    ///
    /// # Safety
    /// Each handler must be sound to run from any `fork()` of the process, from the
    /// moment it is registered: `prepare` in the forking thread before the fork,
    /// `parent` after it in the parent, `child` in the child (whose only thread is the
    /// forking one); for one fork, `parent` or `child` runs only after `prepare`.
    pub(crate) const unsafe fn new(prepare: Handler, parent: Handler, child: Handler) -> Self {
        Handlers {
            state: AtomicU8::new(UNREGISTERED),
            prepare,
            parent,
            child,
        }
    }

    /// Registers the handlers if that has not happened yet.
    #[inline]
    pub(crate) fn ensure(&self) {
        if self.state.load(Ordering::Acquire) != REGISTERED {
            self.register();
        }
    }

    /// The handlers are registered.
    #[cfg(all(test, not(miri)))]
    pub(crate) fn registered(&self) -> bool {
        self.state.load(Ordering::Acquire) == REGISTERED
    }

    #[cold]
    fn register(&self) {
        if self
            .state
            .compare_exchange(
                UNREGISTERED,
                REGISTERING,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // Registered, or being registered by another thread right now: only
            // possible when the constructor did not run, and then only in the first
            // microseconds.
            return;
        }
        #[cfg(not(miri))]
        // SAFETY: the handlers are sound to run from any fork (the contract of `new`);
        // registering them has no other precondition.
        let registered =
            unsafe { libc::pthread_atfork(self.prepare, self.parent, self.child) } == 0;
        #[cfg(miri)]
        let registered = true;
        // Out of memory in pthread_atfork: try again at the next `ensure`.
        self.state.store(
            if registered { REGISTERED } else { UNREGISTERED },
            Ordering::Release,
        );
    }
}

/// Registers the [`Handlers`] static named by the argument when the library is loaded,
/// before any thread can call it: an ELF constructor (`.init_array`; none under Miri).
macro_rules! register_at_load {
    ($handlers:path) => {
        #[cfg(not(miri))]
        #[used]
        #[unsafe(link_section = ".init_array")]
        static REGISTER_FORK_HANDLERS_AT_LOAD: extern "C" fn() = {
            extern "C" fn at_load() {
                $handlers.ensure();
            }
            at_load
        };
    };
}
pub(crate) use register_at_load;

#[cfg(all(test, not(miri)))]
mod tests {
    use core::sync::atomic::AtomicU32;

    use super::*;

    /// What the test handlers saw: a bit per handler, in the process that ran it.
    static RAN: AtomicU32 = AtomicU32::new(0);
    const PREPARE: u32 = 1;
    const PARENT: u32 = 2;
    const CHILD: u32 = 4;

    extern "C" fn prepare() {
        RAN.fetch_or(PREPARE, Ordering::Relaxed);
    }
    extern "C" fn parent() {
        RAN.fetch_or(PARENT, Ordering::Relaxed);
    }
    extern "C" fn child() {
        RAN.fetch_or(CHILD, Ordering::Relaxed);
    }

    // SAFETY: the handlers only set bits of a private atomic.
    static TEST_HANDLERS: Handlers =
        unsafe { Handlers::new(Some(prepare), Some(parent), Some(child)) };
    register_at_load!(TEST_HANDLERS);

    #[test]
    fn handlers_are_registered_at_load_and_run_at_fork() {
        assert!(TEST_HANDLERS.registered());
        TEST_HANDLERS.ensure();
        let code = crate::sys::test_util::in_child(|| {
            i32::from(RAN.load(Ordering::Relaxed) & (PREPARE | CHILD) != PREPARE | CHILD)
        });
        assert_eq!(code, 0, "the child did not see prepare and child run");
        assert_eq!(
            RAN.load(Ordering::Relaxed) & (PREPARE | PARENT),
            PREPARE | PARENT
        );
    }
}

//! The process's `fork()` handlers: one `pthread_atfork` registration for all
//! process-private state that a child must see consistent.
//!
//! * prepare (in the forking thread, before `fork`): takes the mapping registry's
//!   lock, so that no other thread is half-way through changing it when the child's
//!   copy of memory is taken;
//! * parent: releases it;
//! * child: releases it, and forgets the forking thread's identity (TID, owner token,
//!   robust list), which belong to the parent.
//!
//! The handlers must be registered before any thread can touch the registry, or a
//! child forked at the wrong instant inherits it locked forever. They are registered
//! by an ELF constructor when the library is loaded, and again checked (cheaply) at the
//! top of every registry operation, for builds in which the constructor did not run.
//! `_Fork()`, `vfork()` and raw `clone()` run no handlers: a child made that way must
//! not call the library (it may only `exec` or `_exit`). A signal handler that forks
//! while its thread is inside a library call may deadlock in the prepare handler, as
//! with any `pthread_atfork` lock.

use core::sync::atomic::{AtomicU8, Ordering};

const UNREGISTERED: u8 = 0;
const REGISTERING: u8 = 1;
const REGISTERED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNREGISTERED);

/// Registers the handlers if that has not happened yet.
#[inline]
pub(crate) fn ensure_handlers() {
    if STATE.load(Ordering::Acquire) != REGISTERED {
        register();
    }
}

#[cold]
fn register() {
    if STATE
        .compare_exchange(
            UNREGISTERED,
            REGISTERING,
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_err()
    {
        // Registered, or being registered by another thread right now: only possible
        // when the constructor did not run, and then only in the first microseconds.
        return;
    }
    #[cfg(not(miri))]
    // SAFETY: the three handlers are `extern "C" fn()` that touch only this library's
    // private state; registering them has no other precondition.
    let registered = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) } == 0;
    #[cfg(miri)]
    let registered = true;
    // Out of memory in pthread_atfork: try again at the next registry operation.
    STATE.store(
        if registered { REGISTERED } else { UNREGISTERED },
        Ordering::Release,
    );
}

/// Runs [`ensure_handlers`] when the library is loaded, before any thread can call it.
#[cfg(not(miri))]
#[used]
#[unsafe(link_section = ".init_array")]
static REGISTER_AT_LOAD: extern "C" fn() = {
    extern "C" fn at_load() {
        ensure_handlers();
    }
    at_load
};

#[cfg(not(miri))]
extern "C" fn prepare() {
    super::shm::registry::lock_for_fork();
}

#[cfg(not(miri))]
extern "C" fn parent() {
    // SAFETY: `prepare` took it for this fork.
    unsafe { super::shm::registry::unlock_after_fork() };
}

#[cfg(not(miri))]
extern "C" fn child() {
    // SAFETY: `prepare` took it for this fork, in this very thread.
    unsafe { super::shm::registry::unlock_after_fork() };
    super::thread::after_fork_child();
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    #[test]
    fn registered_at_load() {
        assert_eq!(STATE.load(Ordering::Acquire), REGISTERED);
    }
}

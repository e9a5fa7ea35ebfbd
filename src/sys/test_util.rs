//! Helpers for the unit tests of the operating-system layer (and of the layers above,
//! which may import a lower layer's helpers, never the other way round).

/// The calling thread's kernel TID.
pub(crate) fn gettid() -> u32 {
    // SAFETY: gettid cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// A child that exited and was reaped: its ids name nothing.
pub(crate) fn reaped_child() -> u32 {
    // SAFETY: the child only calls _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: async-signal-safe exit of the child.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, core::ptr::null_mut(), 0) };
    pid as u32
}

/// Runs `f` in a forked child and returns its exit code (101 if it panicked, 102 if
/// it hung for 30 s, 100 + the signal if a signal ended it).
pub(crate) fn in_child(f: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `f` and `_exit`s, never returning to the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101);
        // SAFETY: ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let t0 = std::time::Instant::now();
    let mut status = 0;
    // SAFETY: our own child; a valid out-pointer.
    while unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } != pid {
        if t0.elapsed() > std::time::Duration::from_secs(30) {
            // SAFETY: our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return 102;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        100 + libc::WTERMSIG(status)
    }
}

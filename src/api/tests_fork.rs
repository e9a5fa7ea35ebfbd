//! Fork helpers for the unit tests of the core.

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

//! The kernel's answer for a thread's or process's ids: a signal-0 probe
//! (`tgkill`, `tkill`, `kill`) sends nothing and fails with `ESRCH` exactly when nothing
//! has those ids in the caller's PID namespace. It needs no descriptor and no memory,
//! and `/proc` options, other uids and non-dumpable targets do not change it.

use crate::sys::errno;

/// The largest id the kernel hands out (`PID_MAX_LIMIT` is 2^22; the robust futex word
/// keeps 30 bits). Ids outside `1..=ID_MAX` are never probed: `kill(-1, 0)` or
/// `kill(0, 0)` would ask about whole process groups.
const ID_MAX: u32 = 0x3fff_ffff;

/// What a signal-0 probe answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Presence {
    /// `ESRCH`: nothing has these ids in the caller's PID namespace.
    Gone,
    /// Success or `EPERM`: something has these ids (possibly a reuse, or a zombie).
    Present,
    /// Any other answer: not evidence.
    Unknown,
}

/// What a probe's return value (and `errno`) says.
fn presence(rc: libc::c_long) -> Presence {
    if rc == 0 {
        return Presence::Present;
    }
    match errno() {
        libc::ESRCH => Presence::Gone,
        libc::EPERM => Presence::Present,
        _ => Presence::Unknown,
    }
}

/// An id that names one thread or process (never a group, never "all").
pub(super) fn valid(id: u32) -> bool {
    (1..=ID_MAX).contains(&id)
}

/// `tgkill(pid, tid, 0)`: is there a thread `tid` in thread group `pid`?
pub(super) fn thread_presence(pid: u32, tid: u32) -> Presence {
    if !valid(pid) || !valid(tid) {
        return Presence::Unknown;
    }
    // SAFETY: signal 0 sends nothing; the ids are positive.
    presence(unsafe { libc::syscall(libc::SYS_tgkill, pid as libc::c_int, tid as libc::c_int, 0) })
}

/// `tkill(tid, 0)`: is there a thread `tid` in any process?
pub(super) fn bare_thread_presence(tid: u32) -> Presence {
    if !valid(tid) {
        return Presence::Unknown;
    }
    // SAFETY: signal 0 sends nothing; the id is positive.
    presence(unsafe { libc::syscall(libc::SYS_tkill, tid as libc::c_int, 0) })
}

/// `kill(pid, 0)`: is there a process `pid`?
pub(super) fn process_presence(pid: u32) -> Presence {
    if !valid(pid) {
        return Presence::Unknown;
    }
    // SAFETY: signal 0 sends nothing; a positive pid names one process, never a group.
    presence(libc::c_long::from(unsafe {
        libc::kill(pid as libc::pid_t, 0)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::test_util::{gettid, reaped_child};

    #[test]
    fn probes_refuse_ids_that_name_groups() {
        for bad in [0, ID_MAX + 1, u32::MAX, 0x8000_0000] {
            assert_eq!(process_presence(bad), Presence::Unknown);
            assert_eq!(thread_presence(bad, 1), Presence::Unknown);
            assert_eq!(thread_presence(1, bad), Presence::Unknown);
            assert_eq!(bare_thread_presence(bad), Presence::Unknown);
        }
        let me = std::process::id();
        assert_eq!(process_presence(me), Presence::Present);
        assert_eq!(thread_presence(me, gettid()), Presence::Present);
        let gone = reaped_child();
        assert_eq!(process_presence(gone), Presence::Gone);
        assert_eq!(thread_presence(gone, gone), Presence::Gone);
        assert_eq!(bare_thread_presence(gone), Presence::Gone);
    }
}

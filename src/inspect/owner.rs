//! Is a recorded process or thread still alive? The inspector's answer follows the
//! RLock back-stop's rules (`sys::liveness`): `/proc` is evidence only when the
//! recorded namespace is the inspector's own *and* the `/proc` it sees is provably that
//! namespace's. Otherwise the answer is [`Liveness::Unknown`], never "dead".

use crate::sys::liveness;

/// What can be proven about a recorded owner or creator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// The recorded thread exists and started when the record says.
    Alive,
    /// Provably gone: no such thread, or its id now belongs to a thread started at
    /// another time (or the kernel itself marked the owner dead).
    Dead,
    /// Cannot be proven either way: another PID namespace, a `/proc` of another
    /// namespace or none, an incomplete record.
    Unknown,
}

impl Liveness {
    /// "alive", "dead" or "unknown".
    pub fn as_str(self) -> &'static str {
        match self {
            Liveness::Alive => "alive",
            Liveness::Dead => "dead",
            Liveness::Unknown => "unknown",
        }
    }
}

/// The inspector's own vantage point, computed once per listing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Vantage {
    /// Our PID-namespace id (0 if unknown).
    pidns: u32,
    /// `/proc` provably shows our namespace.
    proc_is_ours: bool,
}

impl Vantage {
    pub(crate) fn here() -> Vantage {
        Vantage {
            pidns: liveness::own_pidns(),
            proc_is_ours: liveness::proc_is_own_namespace(),
        }
    }

    /// `/proc` evidence about ids of namespace `ns` is usable.
    fn can_judge(self, ns: u64) -> bool {
        self.pidns != 0 && u64::from(self.pidns) == ns && self.proc_is_ours
    }

    /// A thread recorded as (`pid`, `tid`, start time `start`) in namespace `ns`.
    pub(crate) fn thread(self, pid: u32, tid: u32, start: u64, ns: u64) -> Liveness {
        if start == 0 || pid == 0 || tid == 0 || !self.can_judge(ns) {
            return Liveness::Unknown;
        }
        match liveness::live_thread_start_time(pid, tid) {
            Some(now) if now == start => Liveness::Alive,
            // Gone, a zombie, or the id was reused by a thread started at another time.
            _ => Liveness::Dead,
        }
    }

    /// A thread known only by its TID, in a lock that only namespace `ns` ever used:
    /// dead if no live thread has that id; a live one may or may not be the owner.
    pub(crate) fn bare_tid(self, tid: u32, ns: u64) -> Liveness {
        if tid == 0 || !self.can_judge(ns) {
            return Liveness::Unknown;
        }
        match liveness::live_thread_start_time(tid, tid) {
            None => Liveness::Dead,
            Some(_) => Liveness::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_only_with_proof() {
        let here = Vantage::here();
        let me = std::process::id();
        let Some(start) = liveness::live_thread_start_time(me, me) else {
            eprintln!("skipped: no /proc");
            return;
        };
        let ns = u64::from(here.pidns);
        // A reaped child: gone.
        // SAFETY: the child only calls _exit.
        let child = unsafe { libc::fork() };
        if child == 0 {
            // SAFETY: async-signal-safe exit of the child.
            unsafe { libc::_exit(0) };
        }
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(child, core::ptr::null_mut(), 0) };
        let gone = child as u32;
        if here.proc_is_ours {
            assert_eq!(here.thread(me, me, start, ns), Liveness::Alive);
            assert_eq!(
                here.thread(me, me, start + 1, ns),
                Liveness::Dead,
                "reused id"
            );
            assert_eq!(here.thread(gone, gone, start, ns), Liveness::Dead);
            assert_eq!(here.bare_tid(gone, ns), Liveness::Dead);
            assert_eq!(here.bare_tid(me, ns), Liveness::Unknown);
        }
        // Another namespace, a /proc of another namespace, an incomplete record: unknown.
        assert_eq!(here.thread(gone, gone, start, ns + 1), Liveness::Unknown);
        assert_eq!(here.bare_tid(gone, ns + 1), Liveness::Unknown);
        assert_eq!(here.thread(gone, gone, 0, ns), Liveness::Unknown);
        let foreign_proc = Vantage {
            proc_is_ours: false,
            ..here
        };
        assert_eq!(
            foreign_proc.thread(gone, gone, start, ns),
            Liveness::Unknown
        );
        assert_eq!(foreign_proc.bare_tid(gone, ns), Liveness::Unknown);
        let no_ns = Vantage { pidns: 0, ..here };
        assert_eq!(no_ns.thread(gone, gone, start, 0), Liveness::Unknown);
    }
}

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

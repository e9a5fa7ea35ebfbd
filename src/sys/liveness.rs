//! What `/proc` can prove about other threads: the RLock back-stop's evidence.
//!
//! A waiter may only conclude "the owner is dead" from `/proc` when two things are
//! proven, because process ids mean something only inside one PID namespace and a
//! `/proc` mount shows the ids of the namespace it was mounted from:
//!
//! 1. the owner's PID namespace is the waiter's (the owner records its namespace id at
//!    every acquisition; see [`own_pidns`]);
//! 2. the `/proc` this process sees belongs to that same namespace
//!    ([`proc_is_own_namespace`]).
//!
//! If either is unproven (another namespace, a container's `/proc` mounted elsewhere, a
//! `/proc` of the parent namespace after `unshare -p -f` without `--mount-proc`, no
//! `/proc`, an old kernel), the answer is "unknown" and the waiter keeps waiting.
//!
//! [`Vantage`] applies these rules to a record and answers with a [`Liveness`]; it is
//! the one judge of "alive, dead or unknown" for the inspector, `gc`, and the sweeps of
//! names that record their creator (`sys::shm::creator_names`).

/// The calling process's PID-namespace id: the inode number of `/proc/self/ns/pid`
/// (the kernel's `ns.inum`, a 32-bit value), or 0 if unknown. Kept whole, never
/// folded, so that two namespaces never share an id.
///
/// This is readable even where `/proc` belongs to an ancestor namespace (the link is
/// resolved for the calling task itself); where `/proc/self` does not resolve (a
/// `/proc` of an unrelated namespace), it is 0.
pub(crate) fn own_pidns() -> u32 {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self/ns/pid") {
        Ok(m) => u32::try_from(m.ino()).unwrap_or(0),
        Err(_) => 0,
    }
}

/// True only if `/proc` is provably the `/proc` of the calling process's own PID
/// namespace: `/proc/self/status` has an `NSpid:` line with exactly one id, equal to
/// `getpid()`. (The kernel prints one id per namespace level from the level of the
/// `/proc` mount down to the task's own, so a `/proc` of an ancestor namespace shows two
/// or more; a `/proc` of an unrelated namespace has no `/proc/self` at all.)
pub(crate) fn proc_is_own_namespace() -> bool {
    let Ok(status) = std::fs::read("/proc/self/status") else {
        return false;
    };
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    nspid_is_exactly(&status, pid)
}

/// Parses a `/proc/<pid>/status` text: true iff its `NSpid:` line holds exactly one
/// id and that id is `pid`.
fn nspid_is_exactly(status: &[u8], pid: i32) -> bool {
    let Ok(text) = core::str::from_utf8(status) else {
        return false;
    };
    let Some(line) = text.lines().find_map(|l| l.strip_prefix("NSpid:")) else {
        return false;
    };
    let mut ids = line.split_ascii_whitespace();
    matches!(
        (ids.next().map(str::parse::<i32>), ids.next()),
        (Some(Ok(id)), None) if id == pid
    )
}

/// Field 22 (`starttime`) of `/proc/<pid>/task/<tid>/stat` for a thread that has not
/// exited; `None` if there is no such thread, if it has exited (a zombie `Z` or dead `X`
/// entry stays until its parent reaps it — possibly the very process waiting for the
/// lock — but it holds nothing), or if /proc is not mounted.
///
/// Only meaningful when [`proc_is_own_namespace`] holds and `pid`/`tid` are ids of the
/// caller's namespace.
pub(crate) fn live_thread_start_time(pid: u32, tid: u32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/task/{tid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and ')': fields resume after the
    // last ')', with field 3 (the state); field 22 comes 19 fields after it.
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = core::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    if matches!(fields.next()?, "Z" | "X" | "x") {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// Field 22 (`starttime`) of `/proc/<pid>/stat` if process `pid` still runs: it has
/// a thread that has not exited. Not the same as
/// `live_thread_start_time(pid, pid)`: when a process's main thread exits
/// (`pthread_exit`) while others run, its leader entry shows a zombie `Z`, yet the
/// process lives on; a whole process that exited and awaits its reaping shows `Z` and
/// has no other thread left.
///
/// Only meaningful when [`proc_is_own_namespace`] holds and `pid` is an id of the
/// caller's namespace.
pub(crate) fn live_process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = core::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let leader_exited = matches!(fields.next()?, "Z" | "X" | "x");
    let start = fields.nth(18)?.parse().ok()?;
    if !leader_exited {
        return Some(start);
    }
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let other_thread_runs = tasks.flatten().any(|t| {
        t.file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
            .is_some_and(|tid| tid != pid && live_thread_start_time(pid, tid).is_some())
    });
    other_thread_runs.then_some(start)
}

/// What can be proven about a recorded owner or creator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// The recorded thread (or process) exists and started when the record says.
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

/// The caller's vantage point: whose ids its `/proc` can judge. The one place that
/// turns a record (pid, tid, start time, namespace) into a [`Liveness`], used by the
/// inspector, `gc` and the sweeps of names that record their creator.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Vantage {
    /// Our PID-namespace id (0 if unknown).
    pub(crate) pidns: u32,
    /// `/proc` provably shows our namespace.
    pub(crate) proc_is_ours: bool,
}

impl Vantage {
    pub(crate) fn here() -> Vantage {
        Vantage {
            pidns: own_pidns(),
            proc_is_ours: proc_is_own_namespace(),
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
        match live_thread_start_time(pid, tid) {
            Some(now) if now == start => Liveness::Alive,
            // Gone, a zombie, or the id was reused by a thread started at another time.
            _ => Liveness::Dead,
        }
    }

    /// A process recorded as (`pid`, start time `start`) in namespace `ns`: alive
    /// while any of its threads runs (see [`live_process_start_time`]).
    pub(crate) fn process(self, pid: u32, start: u64, ns: u64) -> Liveness {
        if start == 0 || pid == 0 || !self.can_judge(ns) {
            return Liveness::Unknown;
        }
        match live_process_start_time(pid) {
            Some(now) if now == start => Liveness::Alive,
            // Gone, reaped or not, or the pid was reused by a process started later.
            _ => Liveness::Dead,
        }
    }

    /// A thread known only by its TID, in a lock that only namespace `ns` ever used:
    /// dead if no live thread has that id; a live one may or may not be the owner.
    pub(crate) fn bare_tid(self, tid: u32, ns: u64) -> Liveness {
        if tid == 0 || !self.can_judge(ns) {
            return Liveness::Unknown;
        }
        match live_thread_start_time(tid, tid) {
            None => Liveness::Dead,
            Some(_) => Liveness::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nspid_must_be_one_id_equal_to_getpid() {
        let s = b"Name:\tx\nTgid:\t42\nNSpid:\t42\nNSpgid:\t42\n";
        assert!(nspid_is_exactly(s, 42));
        assert!(!nspid_is_exactly(s, 43));
        // A /proc of the parent namespace: two levels.
        assert!(!nspid_is_exactly(b"NSpid:\t4242\t42\n", 42));
        assert!(!nspid_is_exactly(b"NSpid:\t42\t1\n", 42));
        // No NSpid line (kernels before 4.1), garbage.
        assert!(!nspid_is_exactly(b"Name:\tx\nPid:\t42\n", 42));
        assert!(!nspid_is_exactly(b"NSpid:\t\n", 42));
        assert!(!nspid_is_exactly(b"NSpid:\tx\n", 42));
        assert!(!nspid_is_exactly(&[0xff, 0xfe], 42));
    }

    #[test]
    fn own_pidns_is_the_full_inode() {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::metadata("/proc/self/ns/pid") {
            assert_eq!(u64::from(own_pidns()), m.ino());
            assert_ne!(own_pidns(), 0);
        }
    }

    #[test]
    fn start_time_is_readable_for_live_threads_only() {
        // SAFETY: gettid/getpid cannot fail.
        let (pid, tid) = unsafe {
            (
                libc::getpid() as u32,
                libc::syscall(libc::SYS_gettid) as u32,
            )
        };
        if proc_is_own_namespace() {
            assert!(live_thread_start_time(pid, tid).is_some());
        }
        assert_eq!(live_thread_start_time(pid, 0x3fff_fff0), None);
    }

    #[test]
    fn zombies_are_not_alive() {
        // SAFETY: fork in a test; the child only calls _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: async-signal-safe exit of the child.
            unsafe { libc::_exit(0) };
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        // Exited but not reaped: a zombie.
        assert_eq!(live_thread_start_time(pid as u32, pid as u32), None);
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, core::ptr::null_mut(), 0) };
    }

    #[test]
    fn a_process_lives_while_any_thread_runs() {
        if !proc_is_own_namespace() {
            eprintln!("skipped: /proc is not our namespace's");
            return;
        }
        let v = Vantage::here();
        let ns = u64::from(v.pidns);
        extern "C" fn linger(_: *mut libc::c_void) -> *mut libc::c_void {
            // SAFETY: plain sleep in a thread of the forked child.
            unsafe { libc::sleep(30) };
            core::ptr::null_mut()
        }
        let mut pipe = [0; 2];
        // SAFETY: a valid two-int array.
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        // SAFETY: the child starts one thread, reports, and ends its main thread; it
        // never returns to the test harness (the other thread only sleeps).
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let mut t: libc::pthread_t = 0;
            // SAFETY: a valid thread handle and start routine.
            unsafe {
                libc::pthread_create(&mut t, core::ptr::null(), linger, core::ptr::null_mut());
                libc::write(pipe[1], b"x".as_ptr().cast(), 1);
                // Ends the main thread only (pthread_exit would unwind Rust frames).
                libc::syscall(libc::SYS_exit, 0);
            }
        }
        // SAFETY: our pipe's ends.
        unsafe {
            libc::close(pipe[1]);
            let mut b = 0u8;
            libc::read(pipe[0], (&mut b as *mut u8).cast(), 1);
            libc::close(pipe[0]);
        }
        let p = pid as u32;
        // The main thread's exit takes a moment to show.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while live_thread_start_time(p, p).is_some() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let leader_gone = live_thread_start_time(p, p).is_none();
        let start = live_process_start_time(p);
        let verdict = start.map(|s| v.process(p, s, ns));
        // SAFETY: our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, core::ptr::null_mut(), 0);
        }
        assert!(leader_gone, "the main thread did not exit");
        assert_eq!(
            verdict,
            Some(Liveness::Alive),
            "a running process judged gone"
        );
        assert_eq!(live_process_start_time(p), None);
        assert_eq!(v.process(p, start.unwrap_or(1), ns), Liveness::Dead);
        assert_eq!(v.process(p, start.unwrap_or(1), ns + 1), Liveness::Unknown);
        assert_eq!(v.process(p, 0, ns), Liveness::Unknown);
    }
}

//! The evidence of other threads' and processes' deaths: the one judge of "alive, dead
//! or unknown" for the RLock and undo-semaphore back-stops, the inspector, `gc`, and the
//! sweeps of names that record their creator (`sys::shm::creator_names`).
//!
//! **Death is concluded only from positive evidence.** Two kinds count:
//!
//! 1. *The kernel's answer for the ids.* `tgkill(pid, tid, 0)` (or `kill(pid, 0)`, or
//!    `tkill(tid, 0)` for a bare thread id) fails with `ESRCH` exactly when no such
//!    thread (process) exists in the caller's PID namespace. It needs no file
//!    descriptor and no memory, and `hidepid`, another uid or a non-dumpable target do
//!    not change it: those give success or `EPERM`, which mean "something has these ids".
//! 2. *A `/proc` entry that was read completely*: a thread shown as exited (`Z`/`X`),
//!    or ids now used by a thread or process whose start time differs from the one
//!    recorded (the ids were reused, so the recorded one is gone).
//!
//! Everything else is *not* evidence and concludes nothing (the waiter keeps waiting):
//! an entry that cannot be opened or read (`ENOENT` under `hidepid=2`, `EACCES` under
//! `hidepid=1` or for a non-dumpable target, `EMFILE`, `ENFILE`, `ENOMEM`), a short or
//! unparsable read, a signal probe that fails with anything but `ESRCH`. A thread that
//! exists but whose start time cannot be read is "unknown": it may be the recorded one
//! or a reuse of its ids.
//!
//! Ids mean something only inside one PID namespace, so both kinds of evidence also need
//! the recorded owner's namespace to be the caller's (the owner records its namespace
//! id; see [`own_pidns`]); `/proc` evidence needs, in addition, a `/proc` that
//! provably belongs to that namespace ([`proc_is_own_namespace`]): a container's
//! `/proc` mounted elsewhere, a `/proc` of the parent namespace after `unshare -p -f`
//! without `--mount-proc`, or no `/proc` give no `/proc` evidence.
//!
//! Nothing here allocates from Rust's heap: paths are formatted and files read into
//! stack buffers with raw system calls (only `opendir`, for a process whose main thread
//! exited, asks `malloc`, and its failure is "unknown"), so that a waiter whose heap is
//! exhausted (or whose descriptor table is full) still judges correctly, and never
//! aborts.

mod probe;
mod procfs;

use probe::{Presence, bare_thread_presence, process_presence, thread_presence, valid};
use procfs::{Stat, each_task, process_stat, read_stat, thread_stat};

use crate::sys::fs::File;

/// What can be proven about a recorded owner or creator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// The recorded thread (or process) exists and started when the record says.
    Alive,
    /// Provably gone: the kernel knows no such thread, `/proc` shows it exited, or its
    /// ids now belong to a thread started at another time.
    Dead,
    /// Cannot be proven either way: another PID namespace, a `/proc` that hides the
    /// entry or could not be read, an incomplete record.
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

// ---- the verdicts (pure: the evidence comes in, the rule is here) ----------------------

/// A thread recorded with start time `start`, given what its `stat` showed (or
/// `Unreadable` when `/proc` may not be used) and, only if that proved nothing, what
/// the kernel says of its ids.
fn thread_verdict(stat: Stat, start: u64, probe: impl FnOnce() -> Presence) -> Liveness {
    match stat {
        Stat::Running(now) if now == start => Liveness::Alive,
        // Exited, or the ids were reused by a thread started at another time.
        Stat::Running(_) | Stat::Exited(_) => Liveness::Dead,
        Stat::Unreadable => match probe() {
            Presence::Gone => Liveness::Dead,
            Presence::Present | Presence::Unknown => Liveness::Unknown,
        },
    }
}

/// A thread known only by its id: dead if nothing has that id; a live thread with it
/// may or may not be the recorded one.
fn bare_thread_verdict(probe: Presence) -> Liveness {
    match probe {
        Presence::Gone => Liveness::Dead,
        Presence::Present | Presence::Unknown => Liveness::Unknown,
    }
}

// ---- the calling process's own identity --------------------------------------------------

/// The calling process's PID-namespace id: the inode number of `/proc/self/ns/pid`
/// (the kernel's `ns.inum`, a 32-bit value), or 0 if unknown. Kept whole, never
/// folded, so that two namespaces never share an id.
///
/// This is readable even where `/proc` belongs to an ancestor namespace (the link is
/// resolved for the calling task itself); where `/proc/self` does not resolve (a
/// `/proc` of an unrelated namespace), it is 0.
pub(crate) fn own_pidns() -> u32 {
    // SAFETY: an all-zero `stat` is a valid value for the kernel to overwrite.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a writable `stat`.
    if unsafe { libc::stat(c"/proc/self/ns/pid".as_ptr(), &mut st) } != 0 {
        return 0;
    }
    u32::try_from(st.st_ino).unwrap_or(0)
}

/// True only if `/proc` is provably the `/proc` of the calling process's own PID
/// namespace: `/proc/self/status` has an `NSpid:` line with exactly one id, equal to
/// `getpid()`. (The kernel prints one id per namespace level from the level of the
/// `/proc` mount down to the task's own, so a `/proc` of an ancestor namespace shows two
/// or more; a `/proc` of an unrelated namespace has no `/proc/self` at all.)
pub(crate) fn proc_is_own_namespace() -> bool {
    let Ok(status) = File::open(c"/proc/self/status", 0) else {
        return false;
    };
    // SAFETY: getpid cannot fail.
    let pid = unsafe { libc::getpid() };
    // Read line by line (a long `Groups:` line can make the file large); only the
    // `NSpid:` line matters, and it is short. A read error proves nothing.
    let mut verdict = false;
    let read = status.for_each_line(|line| {
        if line.starts_with(b"NSpid:") {
            verdict = nspid_is_exactly(line, pid);
            return false;
        }
        true
    });
    read.is_ok() && verdict
}

/// Parses a `/proc/<pid>/status` text (or its `NSpid:` line): true iff its `NSpid:`
/// line holds exactly one id and that id is `pid`.
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

/// The calling thread's start time (field 22 of its `stat`), for its records; `None`
/// where `/proc` cannot show it. `/proc/thread-self` names the caller in whatever
/// namespace `/proc` belongs to, so the value is right even through an ancestor's
/// `/proc`.
pub(crate) fn own_thread_start_time() -> Option<u64> {
    match read_stat(c"/proc/thread-self/stat") {
        Stat::Running(start) => Some(start),
        Stat::Exited(_) | Stat::Unreadable => None,
    }
}

/// The calling process's start time (field 22 of `/proc/self/stat`), for its records;
/// `None` where `/proc` cannot show it. (Read even if the main thread has exited: the
/// caller runs, so the process does.)
pub(crate) fn own_process_start_time() -> Option<u64> {
    match read_stat(c"/proc/self/stat") {
        Stat::Running(start) | Stat::Exited(start) => Some(start),
        Stat::Unreadable => None,
    }
}

// ---- the judge -----------------------------------------------------------------------

/// The caller's vantage point: whose ids it can judge, and whether its `/proc` counts
/// as evidence. The one place that turns a record (pid, tid, start time, namespace)
/// into a [`Liveness`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Vantage {
    /// Our PID-namespace id (0 if unknown: then nothing is judged).
    pub(crate) pidns: u32,
    /// `/proc` provably shows our namespace.
    pub(crate) proc_is_ours: bool,
}

impl Vantage {
    pub(crate) fn here() -> Vantage {
        Vantage::of_namespace(own_pidns())
    }

    /// The vantage of a thread that already knows its namespace id.
    pub(crate) fn of_namespace(pidns: u32) -> Vantage {
        Vantage {
            pidns,
            proc_is_ours: pidns != 0 && proc_is_own_namespace(),
        }
    }

    /// A vantage that takes no evidence from `/proc` (for questions the kernel's answer
    /// settles alone, such as [`Vantage::bare_tid`]).
    pub(crate) fn without_proc(pidns: u32) -> Vantage {
        Vantage {
            pidns,
            proc_is_ours: false,
        }
    }

    /// Ids of namespace `ns` are ids of ours.
    fn same_namespace(self, ns: u64) -> bool {
        self.pidns != 0 && u64::from(self.pidns) == ns
    }

    /// A thread recorded as (`pid`, `tid`, start time `start`) in namespace `ns`.
    pub(crate) fn thread(self, pid: u32, tid: u32, start: u64, ns: u64) -> Liveness {
        if start == 0 || !valid(pid) || !valid(tid) || !self.same_namespace(ns) {
            return Liveness::Unknown;
        }
        let stat = if self.proc_is_ours {
            thread_stat(pid, tid)
        } else {
            Stat::Unreadable
        };
        thread_verdict(stat, start, || thread_presence(pid, tid))
    }

    /// A process recorded as (`pid`, start time `start`) in namespace `ns`: alive while
    /// any of its threads runs. (When a process's main thread exits while others run,
    /// its leader entry shows `Z`, yet the process lives on.)
    pub(crate) fn process(self, pid: u32, start: u64, ns: u64) -> Liveness {
        if start == 0 || !valid(pid) || !self.same_namespace(ns) {
            return Liveness::Unknown;
        }
        let stat = if self.proc_is_ours {
            process_stat(pid)
        } else {
            Stat::Unreadable
        };
        match stat {
            Stat::Exited(now) if now == start => leader_exited_process(pid),
            stat => thread_verdict(stat, start, || process_presence(pid)),
        }
    }

    /// A thread known only by its TID, in a lock that only namespace `ns` ever used:
    /// dead if no thread has that id; a live one may or may not be the owner.
    pub(crate) fn bare_tid(self, tid: u32, ns: u64) -> Liveness {
        if !valid(tid) || !self.same_namespace(ns) {
            return Liveness::Unknown;
        }
        bare_thread_verdict(bare_thread_presence(tid))
    }
}

/// A process whose leader (the thread with the process's id) has exited: it lives while
/// another of its threads runs. Dead only if its task list was read to the end and every
/// other thread in it is provably gone.
fn leader_exited_process(pid: u32) -> Liveness {
    let other_thread_not_gone = each_task(pid, |tid| {
        if tid == pid {
            return None;
        }
        match thread_stat(pid, tid) {
            Stat::Running(_) => Some(Liveness::Alive),
            Stat::Exited(_) => None,
            Stat::Unreadable => match thread_presence(pid, tid) {
                Presence::Gone => None,
                Presence::Present | Presence::Unknown => Some(Liveness::Unknown),
            },
        }
    });
    match other_thread_not_gone {
        Ok(Some(verdict)) => verdict,
        Ok(None) => Liveness::Dead,
        Err(()) => Liveness::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::test_util::{gettid, in_child, reaped_child};

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
    fn only_positive_evidence_makes_a_thread_dead() {
        use Presence::*;
        let start = 500;
        // A complete read decides, and the probe is not asked.
        let never = || -> Presence { panic!("probe asked although /proc decided") };
        assert_eq!(
            thread_verdict(Stat::Running(500), start, never),
            Liveness::Alive
        );
        assert_eq!(
            thread_verdict(Stat::Running(501), start, never),
            Liveness::Dead
        );
        assert_eq!(
            thread_verdict(Stat::Exited(500), start, never),
            Liveness::Dead
        );
        // An unreadable entry (ENOENT under hidepid=2, EACCES, EMFILE, ENOMEM, short
        // read): only ESRCH is evidence.
        assert_eq!(
            thread_verdict(Stat::Unreadable, start, || Gone),
            Liveness::Dead
        );
        assert_eq!(
            thread_verdict(Stat::Unreadable, start, || Present),
            Liveness::Unknown
        );
        assert_eq!(
            thread_verdict(Stat::Unreadable, start, || Unknown),
            Liveness::Unknown
        );
        assert_eq!(bare_thread_verdict(Gone), Liveness::Dead);
        assert_eq!(bare_thread_verdict(Present), Liveness::Unknown);
        assert_eq!(bare_thread_verdict(Unknown), Liveness::Unknown);
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
        let (pid, tid) = (std::process::id(), gettid());
        if proc_is_own_namespace() {
            let own = own_thread_start_time();
            assert!(own.is_some());
            assert_eq!(thread_stat(pid, tid), Stat::Running(own.unwrap()));
            assert!(own_process_start_time().is_some());
        }
        assert_eq!(thread_stat(pid, 0x3fff_fff0), Stat::Unreadable);
    }

    #[test]
    fn zombies_are_exited() {
        // SAFETY: fork in a test; the child only calls _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: async-signal-safe exit of the child.
            unsafe { libc::_exit(0) };
        }
        // Wait until it has exited, but leave it unreaped (WNOWAIT): a zombie. (A fixed
        // sleep was not always long enough on a loaded machine.)
        // SAFETY: a zeroed siginfo_t is valid; waiting for our own child.
        let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
        // SAFETY: as above; `info` is writable.
        let waited = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        assert_eq!(waited, 0, "waitid: {}", std::io::Error::last_os_error());
        let stat = thread_stat(pid as u32, pid as u32);
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, core::ptr::null_mut(), 0) };
        if proc_is_own_namespace() {
            assert!(matches!(stat, Stat::Exited(_)), "{stat:?}");
        }
    }

    #[test]
    fn dead_only_with_proof() {
        let here = Vantage::here();
        let me = std::process::id();
        // The main thread's start time is the process's.
        let Some(start) = own_process_start_time() else {
            eprintln!("skipped: no /proc");
            return;
        };
        let ns = u64::from(here.pidns);
        let gone = reaped_child();
        if here.proc_is_ours {
            assert_eq!(here.thread(me, me, start, ns), Liveness::Alive);
            assert_eq!(
                here.thread(me, me, start + 1, ns),
                Liveness::Dead,
                "reused id"
            );
        }
        if here.pidns != 0 {
            assert_eq!(here.thread(gone, gone, start, ns), Liveness::Dead);
            assert_eq!(here.bare_tid(gone, ns), Liveness::Dead);
            assert_eq!(here.bare_tid(me, ns), Liveness::Unknown);
            // Without /proc evidence, the kernel's ESRCH still counts, and a live
            // thread whose start time cannot be read is unknown.
            let no_proc = Vantage {
                proc_is_ours: false,
                ..here
            };
            assert_eq!(no_proc.thread(gone, gone, start, ns), Liveness::Dead);
            assert_eq!(no_proc.thread(me, me, start, ns), Liveness::Unknown);
            assert_eq!(no_proc.process(me, start, ns), Liveness::Unknown);
            assert_eq!(no_proc.process(gone, start, ns), Liveness::Dead);
        }
        // Another namespace, an unknown namespace, an incomplete record: unknown.
        assert_eq!(here.thread(gone, gone, start, ns + 1), Liveness::Unknown);
        assert_eq!(here.bare_tid(gone, ns + 1), Liveness::Unknown);
        assert_eq!(here.thread(gone, gone, 0, ns), Liveness::Unknown);
        assert_eq!(here.process(gone, start, ns + 1), Liveness::Unknown);
        let no_ns = Vantage { pidns: 0, ..here };
        assert_eq!(no_ns.thread(gone, gone, start, 0), Liveness::Unknown);
        assert_eq!(no_ns.process(gone, start, 0), Liveness::Unknown);
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
        while matches!(thread_stat(p, p), Stat::Running(_)) && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let leader = thread_stat(p, p);
        let start = match process_stat(p) {
            Stat::Running(s) | Stat::Exited(s) => Some(s),
            Stat::Unreadable => None,
        };
        let verdict = start.map(|s| v.process(p, s, ns));
        // SAFETY: our own child.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, core::ptr::null_mut(), 0);
        }
        assert!(
            matches!(leader, Stat::Exited(_)),
            "the main thread did not exit"
        );
        assert_eq!(
            verdict,
            Some(Liveness::Alive),
            "a running process judged gone"
        );
        assert_eq!(process_stat(p), Stat::Unreadable);
        assert_eq!(v.process(p, start.unwrap_or(1), ns), Liveness::Dead);
        assert_eq!(v.process(p, start.unwrap_or(1), ns + 1), Liveness::Unknown);
        assert_eq!(v.process(p, 0, ns), Liveness::Unknown);
    }

    /// A full descriptor table (the waiter's process at its limit): no `/proc` read can
    /// succeed, yet a live thread is never dead and a gone one still is.
    #[test]
    fn a_full_descriptor_table_is_not_evidence() {
        let parent = std::process::id();
        let Some(parent_start) = own_process_start_time() else {
            eprintln!("skipped: no /proc");
            return;
        };
        let parent_thread_start = own_thread_start_time().unwrap_or(1);
        let parent_tid = gettid();
        let gone = reaped_child();
        let code = in_child(move || {
            let v = Vantage::here();
            let ns = u64::from(v.pidns);
            let limit = libc::rlimit {
                rlim_cur: 32,
                rlim_max: 32,
            };
            // SAFETY: plain resource calls in the forked child.
            unsafe {
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return 10;
                }
                while libc::dup(2) >= 0 {}
            }
            if File::open(c"/proc/self/stat", 0).is_ok() {
                return 11;
            }
            let ok = v.thread(parent, parent_tid, parent_thread_start, ns) != Liveness::Dead
                && v.process(parent, parent_start, ns) != Liveness::Dead
                && v.bare_tid(parent_tid, ns) != Liveness::Dead
                && (v.pidns == 0
                    || (v.thread(gone, gone, 7, ns) == Liveness::Dead
                        && v.process(gone, 7, ns) == Liveness::Dead));
            if ok { 0 } else { 12 }
        });
        assert_eq!(code, 0);
    }

    /// `hidepid=2` and another uid: the entries of a live process are invisible. The
    /// judge (which `gc`, the inspector and the name sweeps use) must not call it dead,
    /// and must still call it dead once it is gone. Needs root (a private mount
    /// namespace with its own `/proc`, two unprivileged uids).
    #[test]
    fn a_hidden_proc_entry_is_not_evidence() {
        let code = in_child(|| {
            // SAFETY: namespace and mount calls in the single-threaded forked child.
            unsafe {
                if libc::unshare(libc::CLONE_NEWNS) != 0
                    || libc::mount(
                        core::ptr::null(),
                        c"/".as_ptr(),
                        core::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        core::ptr::null(),
                    ) != 0
                    || libc::mount(
                        c"proc".as_ptr(),
                        c"/proc".as_ptr(),
                        c"proc".as_ptr(),
                        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                        c"hidepid=2".as_ptr().cast(),
                    ) != 0
                {
                    return 77;
                }
            }
            let become_uid = |uid: libc::uid_t| {
                // SAFETY: plain credential calls in a forked child.
                unsafe {
                    libc::setgroups(0, core::ptr::null()) == 0
                        && libc::setresgid(uid, uid, uid) == 0
                        && libc::setresuid(uid, uid, uid) == 0
                }
            };
            // SAFETY: the holder only drops its uid and sleeps.
            let holder = unsafe { libc::fork() };
            if holder == 0 {
                if become_uid(65533) {
                    // SAFETY: plain sleep; the test kills it.
                    unsafe { libc::sleep(60) };
                }
                // SAFETY: async-signal-safe exit of the child.
                unsafe { libc::_exit(1) };
            }
            let h = holder as u32;
            std::thread::sleep(std::time::Duration::from_millis(50));
            // As root, the entry is visible: the record the holder would have made.
            let Stat::Running(start) = process_stat(h) else {
                return 13;
            };
            let judge = |expect_dead: bool| {
                in_child(|| {
                    if !become_uid(65534) {
                        return 77;
                    }
                    if process_stat(h) != Stat::Unreadable && !expect_dead {
                        return 78; // hidepid did not hide it: proves nothing
                    }
                    let v = Vantage::here();
                    let ns = u64::from(v.pidns);
                    let verdicts = [
                        v.process(h, start, ns),
                        v.thread(h, h, start, ns),
                        v.bare_tid(h, ns),
                    ];
                    let ok = if expect_dead {
                        verdicts.iter().all(|&l| l == Liveness::Dead)
                    } else {
                        verdicts.iter().all(|&l| l == Liveness::Unknown)
                    };
                    if ok { 0 } else { 20 }
                })
            };
            let alive = judge(false);
            // SAFETY: our own child.
            unsafe {
                libc::kill(holder, libc::SIGKILL);
                libc::waitpid(holder, core::ptr::null_mut(), 0);
            }
            if alive != 0 {
                return alive;
            }
            judge(true)
        });
        if code == 77 || code == 78 {
            eprintln!("skipped: needs root for a mount namespace with a hidepid /proc ({code})");
            return;
        }
        assert_eq!(
            code, 0,
            "a hidden live process was judged dead (20), or setup failed"
        );
    }
}

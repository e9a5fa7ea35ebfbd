//! Is a recorded process or thread still alive? The inspector's answer follows the
//! RLock back-stop's rules (`sys::liveness`): `/proc` is evidence only when the
//! recorded namespace is the inspector's own *and* the `/proc` it sees is provably that
//! namespace's. Otherwise the answer is [`Liveness::Unknown`], never "dead". The judge,
//! `Vantage`, lives in `sys::liveness` (the sweeps of names that record their creator
//! use it too); this module gives the inspector its public names.

pub use crate::sys::liveness::Liveness;
pub(crate) use crate::sys::liveness::Vantage;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::liveness;

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

//! [`Barrier`]: `multiprocessing.Barrier`.

use core::ptr::NonNull;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::deadline::Deadline;
use super::error::Error;
use super::handle::{Life, object_handle, raw_methods};
use super::options::OpenOptions;
use crate::raw::barrier::{self as raw, RawBarrier};
use crate::status::{MpResult, Status};

/// A cyclic barrier for `parties` threads of any processes (the C type
/// `mp_barrier_t`, what [`Barrier::as_ptr`] points to).
///
/// ```
/// use mpsync::{Barrier, Deadline};
/// let b = Barrier::new(1)?;
/// assert_eq!(b.wait(Deadline::forever())?, 0); // one party: passes at once
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct Barrier {
    ptr: NonNull<RawBarrier>,
    life: Life,
}

object_handle!(Barrier, RawBarrier);

/// `Inval` unless `parties` is 1 ..= [`Barrier::PARTIES_MAX`] (both faces check it before
/// creating a barrier).
pub(crate) fn check_parties(parties: u32) -> MpResult<()> {
    if RawBarrier::valid_parties(parties) {
        Ok(())
    } else {
        Err(Status::Inval)
    }
}

impl Barrier {
    /// Size in bytes of the in-place object (`MP_BARRIER_SIZE`).
    pub const SIZE: usize = RawBarrier::SIZE;
    /// Required alignment of the in-place object (`MP_BARRIER_ALIGN`).
    pub const ALIGN: usize = RawBarrier::ALIGN;
    /// Most parties (`MP_BARRIER_PARTIES_MAX`).
    pub const PARTIES_MAX: u32 = raw::MAX_PARTIES;

    /// A barrier for `parties` (1 ..= `PARTIES_MAX`) in a new anonymous shared mapping,
    /// inherited by `fork()`ed children.
    pub fn new(parties: u32) -> Result<Barrier, Error> {
        check_parties(parties)?;
        Barrier::anonymous_with(|b, life| b.init(parties, life))
    }

    /// Opens, or creates for `parties`, the barrier called `name` (an existing one
    /// keeps its own number of parties: see [`Barrier::parties`]).
    pub fn open(name: &str, options: &OpenOptions, parties: u32) -> Result<Barrier, Error> {
        check_parties(parties)?;
        Barrier::named_with(name, options, |b, life| b.init(parties, life))
    }

    /// Initialises a barrier at `mem` (`mp_barrier_init`).
    ///
    /// # Safety
    /// `mem` points to [`Barrier::SIZE`] writable bytes, [`Barrier::ALIGN`]-aligned,
    /// that stay valid while any handle to them lives; nobody uses a barrier there.
    pub unsafe fn init_at(mem: *mut u8, parties: u32) -> Result<Barrier, Error> {
        check_parties(parties)?;
        // SAFETY: forwarded contract.
        unsafe { Barrier::in_place_with(mem, |b, life| b.init(parties, life)) }
    }

    /// A handle on a barrier already initialised at `mem`.
    ///
    /// # Safety
    /// `mem` points to [`Barrier::SIZE`] readable bytes that stay valid while the
    /// handle lives.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<Barrier, Error> {
        // SAFETY: forwarded contract.
        unsafe { Barrier::attached(mem) }
    }

    /// Waits for all parties until `deadline` and returns this thread's index
    /// (0 ..= parties-1). [`Error::Broken`]: the barrier is or became broken (abort,
    /// reset, a failed action, or any waiter's timeout, this one's included);
    /// [`Error::Interrupted`]: a signal handler ran and this thread left the
    /// generation (a retry is a fresh arrival).
    pub fn wait(&self, deadline: impl Into<Deadline>) -> Result<u32, Error> {
        self.wait_until(deadline.into(), &mut || true)
    }

    /// [`Barrier::wait`], and if this thread is the last to arrive, runs `action`
    /// before anyone is released; `false` (or a panic, which is resumed here after the
    /// barrier broke) breaks the barrier.
    pub fn wait_with(
        &self,
        deadline: impl Into<Deadline>,
        mut action: impl FnMut() -> bool,
    ) -> Result<u32, Error> {
        self.wait_until(deadline.into(), &mut action)
    }

    /// Both waits, monomorphic (the action behind a `dyn`): see the module docs of
    /// `handle` for why the generic faces stop here.
    fn wait_until(
        &self,
        deadline: Deadline,
        action: &mut dyn FnMut() -> bool,
    ) -> Result<u32, Error> {
        let barrier = self.raw()?;
        // A panic in the action must not unwind through the state machine, which has
        // its own steps to finish (breaking the barrier and waking the others): it is
        // caught, breaks the barrier like `false`, and is resumed once the wait returns.
        let mut panic = None;
        let result = barrier.wait(&deadline.0, || {
            match catch_unwind(AssertUnwindSafe(&mut *action)) {
                Ok(pass) => pass,
                Err(p) => {
                    panic = Some(p);
                    false
                }
            }
        });
        if let Some(panic) = panic {
            resume_unwind(panic);
        }
        Ok(result?)
    }

    raw_methods! {
        /// Breaks the barrier: current and future waiters get [`Error::Broken`] until
        /// [`Barrier::reset`].
        fn abort();
        /// Returns the barrier to its initial state; current waiters get
        /// [`Error::Broken`].
        fn reset();
        /// The number of parties.
        fn parties -> u32 = parties;
        /// The number of threads waiting now.
        fn n_waiting -> u32 = n_waiting;
        /// Whether the barrier is broken.
        fn is_broken -> bool = is_broken;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn action_runs_once_and_false_breaks() {
        let b = Barrier::new(1).unwrap();
        let mut runs = 0;
        assert_eq!(
            b.wait_with(Deadline::forever(), || {
                runs += 1;
                true
            }),
            Ok(0)
        );
        assert_eq!(runs, 1);
        assert_eq!(
            b.wait_with(Deadline::forever(), || false),
            Err(Error::Broken)
        );
        assert!(b.is_broken().unwrap());
        b.reset().unwrap();
        let caught = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _ = b.wait_with(Deadline::forever(), || panic!("in the action"));
        }));
        assert!(caught.is_err());
        assert!(b.is_broken().unwrap());
    }
}

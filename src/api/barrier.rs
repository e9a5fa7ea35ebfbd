//! [`Barrier`]: `multiprocessing.Barrier`.

use core::ffi::{c_int, c_void};
use core::ptr::NonNull;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::error::unit;
use super::{Deadline, Error, Life, OpenOptions, c_name, object_handle};
use crate::ffi::barrier::{
    MP_BARRIER_ALIGN, MP_BARRIER_PARTIES_MAX, MP_BARRIER_SIZE, mp_barrier_abort, mp_barrier_close,
    mp_barrier_destroy, mp_barrier_init, mp_barrier_is_broken, mp_barrier_n_waiting,
    mp_barrier_new, mp_barrier_open, mp_barrier_parties, mp_barrier_reset, mp_barrier_t,
    mp_barrier_wait,
};

/// A cyclic barrier for `parties` threads of any processes (the C type
/// `mp_barrier_t`).
///
/// ```
/// use mpsync::{Barrier, Deadline};
/// let b = Barrier::new(1)?;
/// assert_eq!(b.wait(Deadline::forever())?, 0); // one party: passes at once
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct Barrier {
    ptr: NonNull<mp_barrier_t>,
    life: Life,
}

object_handle!(Barrier, mp_barrier_t, mp_barrier_close, mp_barrier_destroy);

/// What the C side calls for the action: the Rust closure behind `ctx`, and where a
/// panic in it is parked until the wait returns (a panic must not cross the C ABI).
struct ActionCtx<'a> {
    action: &'a mut dyn FnMut() -> bool,
    panic: Option<Box<dyn std::any::Any + Send>>,
}

/// # Safety
/// `ctx` is the `ActionCtx` that `Barrier::wait_with` passed, alive for the call.
unsafe extern "C" fn run_action(ctx: *mut c_void) -> c_int {
    // SAFETY: per the contract; only the one thread that runs the action touches it.
    let ctx = unsafe { &mut *ctx.cast::<ActionCtx<'_>>() };
    match catch_unwind(AssertUnwindSafe(|| (ctx.action)())) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(panic) => {
            ctx.panic = Some(panic);
            1
        }
    }
}

impl Barrier {
    /// Size in bytes of the in-place object (`MP_BARRIER_SIZE`).
    pub const SIZE: usize = MP_BARRIER_SIZE;
    /// Required alignment of the in-place object (`MP_BARRIER_ALIGN`).
    pub const ALIGN: usize = MP_BARRIER_ALIGN;
    /// Most parties (`MP_BARRIER_PARTIES_MAX`).
    pub const PARTIES_MAX: u32 = MP_BARRIER_PARTIES_MAX;

    /// A barrier for `parties` (1 ..= `PARTIES_MAX`) in a new anonymous shared mapping,
    /// inherited by `fork()`ed children.
    pub fn new(parties: u32) -> Result<Barrier, Error> {
        // SAFETY: a valid out-pointer.
        Self::mapped_by(|out| unsafe { mp_barrier_new(parties, out) })
    }

    /// Opens, or creates for `parties`, the barrier called `name` (an existing one
    /// keeps its own number of parties: see [`Barrier::parties`]).
    pub fn open(name: &str, options: &OpenOptions, parties: u32) -> Result<Barrier, Error> {
        let name = c_name(name)?;
        // SAFETY: a NUL-terminated name and a valid out-pointer.
        Self::mapped_by(|out| unsafe {
            mp_barrier_open(
                name.as_ptr(),
                options.flags(),
                options.mode_bits(),
                parties,
                out,
            )
        })
    }

    /// Initialises a barrier at `mem` (`mp_barrier_init`).
    ///
    /// # Safety
    /// `mem` points to [`Barrier::SIZE`] writable bytes, [`Barrier::ALIGN`]-aligned,
    /// that stay valid while any handle to them lives; nobody uses a barrier there.
    pub unsafe fn init_at(mem: *mut u8, parties: u32) -> Result<Barrier, Error> {
        // SAFETY: forwarded contract.
        Self::in_place_after(mem, unsafe { mp_barrier_init(mem.cast(), parties) })
    }

    /// A handle on a barrier already initialised at `mem`.
    ///
    /// # Safety
    /// `mem` points to [`Barrier::SIZE`] readable bytes that stay valid while the
    /// handle lives.
    pub unsafe fn attach_at(mem: *mut u8) -> Result<Barrier, Error> {
        let mut p = 0;
        // SAFETY: forwarded contract; a valid out-pointer.
        Self::in_place_after(mem, unsafe { mp_barrier_parties(mem.cast(), &mut p) })
    }

    /// Waits for all parties until `deadline` and returns this thread's index
    /// (0 ..= parties-1). [`Error::Broken`]: the barrier is or became broken (abort,
    /// reset, a failed action, or any waiter's timeout, this one's included);
    /// [`Error::Interrupted`]: a signal handler ran and this thread left the
    /// generation (a retry is a fresh arrival).
    pub fn wait(&self, deadline: impl Into<Deadline>) -> Result<u32, Error> {
        let ms = deadline.into().timeout_ms();
        let mut index = 0;
        // SAFETY: a live handle, no action, a valid out-pointer.
        unit(unsafe {
            mp_barrier_wait(
                self.ptr.as_ptr(),
                ms,
                None,
                core::ptr::null_mut(),
                &mut index,
            )
        })?;
        Ok(index)
    }

    /// [`Barrier::wait`], and if this thread is the last to arrive, runs `action`
    /// before anyone is released; `false` (or a panic, which is resumed here after the
    /// barrier broke) breaks the barrier.
    pub fn wait_with(
        &self,
        deadline: impl Into<Deadline>,
        mut action: impl FnMut() -> bool,
    ) -> Result<u32, Error> {
        let ms = deadline.into().timeout_ms();
        let mut ctx = ActionCtx {
            action: &mut action,
            panic: None,
        };
        let mut index = 0;
        // SAFETY: a live handle; `run_action` gets `ctx`, alive for the call; a valid
        // out-pointer.
        let code = unsafe {
            mp_barrier_wait(
                self.ptr.as_ptr(),
                ms,
                Some(run_action),
                (&raw mut ctx).cast(),
                &mut index,
            )
        };
        if let Some(panic) = ctx.panic.take() {
            resume_unwind(panic);
        }
        unit(code)?;
        Ok(index)
    }

    /// Breaks the barrier: current and future waiters get [`Error::Broken`] until
    /// [`Barrier::reset`].
    pub fn abort(&self) -> Result<(), Error> {
        // SAFETY: a live handle.
        unit(unsafe { mp_barrier_abort(self.ptr.as_ptr()) })
    }

    /// Returns the barrier to its initial state; current waiters get
    /// [`Error::Broken`].
    pub fn reset(&self) -> Result<(), Error> {
        // SAFETY: a live handle.
        unit(unsafe { mp_barrier_reset(self.ptr.as_ptr()) })
    }

    /// The number of parties.
    pub fn parties(&self) -> Result<u32, Error> {
        let mut v = 0;
        // SAFETY: a live handle and a valid out-pointer.
        unit(unsafe { mp_barrier_parties(self.ptr.as_ptr(), &mut v) })?;
        Ok(v)
    }

    /// The number of threads waiting now.
    pub fn n_waiting(&self) -> Result<u32, Error> {
        let mut v = 0;
        // SAFETY: a live handle and a valid out-pointer.
        unit(unsafe { mp_barrier_n_waiting(self.ptr.as_ptr(), &mut v) })?;
        Ok(v)
    }

    /// Whether the barrier is broken.
    pub fn is_broken(&self) -> Result<bool, Error> {
        let mut v = false;
        // SAFETY: a live handle and a valid out-pointer.
        unit(unsafe { mp_barrier_is_broken(self.ptr.as_ptr(), &mut v) })?;
        Ok(v)
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

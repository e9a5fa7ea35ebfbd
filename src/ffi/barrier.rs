//! `mp_barrier_t`: CPython's `multiprocessing.Barrier`, whose release never blocks.

use core::ffi::{c_int, c_void};

use super::boundary::object;
use super::status::mp_status;
use crate::raw::barrier::RawBarrier;
use crate::status::Status;
use crate::sys::time::Deadline;

c_object! {
    /// A reusable barrier for a fixed number of parties (threads of any processes).
    /// Plain memory, like `mp_lock_t`. A party that dies while waiting counts as
    /// arrived: the others are still released when the rest arrive (CPython's barrier
    /// hangs then: gh-123899).
    pub struct mp_barrier_t([u64; 8]) = RawBarrier, MP_BARRIER_SIZE = 64, MP_BARRIER_ALIGN = 8;
    /// Initialises a barrier for `parties` threads in caller-provided memory
    /// (`MP_BARRIER_SIZE` bytes, `MP_BARRIER_ALIGN`-aligned; in a `MAP_SHARED` mapping to
    /// share it).
    ///
    /// Returns `MP_OK`, or `MP_EINVAL` (NULL, misaligned, `parties` 0 or more than
    /// `MP_BARRIER_PARTIES_MAX`).
    ///
    /// # Safety
    /// `barrier` is NULL or points to `MP_BARRIER_SIZE` writable bytes.
    init mp_barrier_init(barrier -> barrier_out, parties: u32);
    /// Ends a barrier made by `mp_barrier_init`.
    ///
    /// Returns `MP_OK`, `MP_EBUSY` (threads wait in the current, unbroken generation;
    /// `mp_barrier_reset` or `mp_barrier_abort` first if some of them died),
    /// `MP_EINVAL` (NULL, or not an in-place object), `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `barrier` is NULL or points to `MP_BARRIER_SIZE` readable bytes.
    destroy mp_barrier_destroy;
    /// Creates a barrier for `parties` threads in a new anonymous shared mapping
    /// inherited by `fork()`ed children. Close it with `mp_barrier_close`.
    ///
    /// Returns `MP_OK` (and writes `*barrier_out`), `MP_EINVAL` (NULL `barrier_out`, bad
    /// `parties`), `MP_ENOMEM`.
    ///
    /// # Safety
    /// `barrier_out` is NULL or writable.
    new mp_barrier_new;
    /// Opens (or with `MP_CREATE` creates, for `parties` threads) the barrier called
    /// `name`; see `mp_lock_open` for `flags`, `mode` and the race-free creation
    /// guarantee. `parties` is checked always but used only when this call creates the
    /// barrier (opening an existing one keeps its own count: see `mp_barrier_parties`).
    ///
    /// Returns `MP_OK` (and writes `*barrier_out`; `MP_CREATED` with `MP_REPORT_CREATED` if it created it), `MP_EINVAL`, `MP_ENOENT`,
    /// `MP_EEXIST`, `MP_EACCES`, `MP_EBADOBJ`, `MP_ENOMEM`, `MP_ESYS`.
    ///
    /// # Safety
    /// `name` is NULL or NUL-terminated; `barrier_out` is NULL or writable.
    open mp_barrier_open;
    /// Unmaps a barrier from `mp_barrier_new` / `mp_barrier_open` in the calling process.
    ///
    /// A handle is never reused within the process, so closing it twice is `MP_EBADOBJ`
    /// and touches no other object.
    ///
    /// Returns `MP_OK`, `MP_EINVAL` (NULL or in-place), `MP_EBUSY` (the calling thread
    /// holds a lock inside the mapping: nothing changed), `MP_EBADOBJ` (another type's
    /// handle, or already closed).
    ///
    /// # Safety
    /// `barrier` is NULL, a handle from this library (closed or not), or readable memory of
    /// an in-place object.
    close mp_barrier_close;
}

const _: () = {
    assert!(MP_BARRIER_PARTIES_MAX == crate::raw::barrier::MAX_PARTIES);
};
/// Largest number of parties.
pub const MP_BARRIER_PARTIES_MAX: u32 = 65535;

/// Waits until `parties` threads have called `mp_barrier_wait` (this generation),
/// then all return together and the barrier is ready for the next generation.
///
/// The last thread to arrive calls `action(ctx)` (if `action` is not NULL) before
/// anyone is released; a non-zero return breaks the barrier. `*index_out` (if
/// `index_out` is not NULL) gets this thread's index, 0 … parties-1, distinct within
/// the generation (arrival order, except that a thread arriving after an
/// interrupted one left may take the index it gave back). `timeout_ms`: negative
/// (`MP_FOREVER`) waits forever, 0 does not wait (and so breaks the barrier unless
/// this thread is the last to arrive, as in CPython), positive waits at most that
/// long on `CLOCK_MONOTONIC`.
///
/// Generations: once the last thread has arrived, its generation is complete. A
/// thread that arrives while the action runs belongs to the next generation: it
/// waits for the release, then joins the next generation (as in CPython). Its
/// timeout, `MP_EINTR`, or an `mp_barrier_abort` / `mp_barrier_reset` called
/// meanwhile affect only the next generation: the complete one is released and every
/// member gets its index. Such a late arrival whose timeout expires during the action
/// returns `MP_EBROKEN` at its deadline, and the next generation starts broken.
/// A member's own timeout expiring during the action breaks its own generation
/// (every member gets `MP_EBROKEN`), so a timed call never waits for an action that
/// does not end (CPython would wait, then succeed).
///
/// Returns:
/// - `MP_OK` (index written).
/// - `MP_EBROKEN`: the barrier is broken, or this thread's generation breaks while
///   it waits: by `mp_barrier_abort`, by `mp_barrier_reset`, by a non-zero `action`,
///   or by the timeout of any of its members, this one included (the barrier then
///   stays broken for everyone until `mp_barrier_reset`).
/// - `MP_EINTR`: a signal handler ran; this thread was withdrawn from the generation
///   (a retry is a fresh arrival) and its index given back. If another interrupted
///   waiter's index is still waiting to be reused, and this thread's is not the
///   highest, it stays in the generation until it can leave without making indices
///   ambiguous (and returns `MP_OK` if the generation completes meanwhile). A member
///   of a complete generation is not withdrawn: it gets its index.
/// - `MP_EINVAL` (NULL `barrier`), `MP_EBADOBJ` (not a live barrier, or its shared
///   state was overwritten with values no barrier can hold; `mp_barrier_reset`
///   repairs the latter).
///
/// # Safety
/// `barrier` is NULL or points to `MP_BARRIER_SIZE` readable bytes; `index_out` is
/// NULL or writable; `action` is NULL or a function that may be called with `ctx`,
/// and that returns normally (no `longjmp`, no C++ exception).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_barrier_wait(
    barrier: *mut mp_barrier_t,
    timeout_ms: i64,
    action: Option<unsafe extern "C" fn(ctx: *mut c_void) -> c_int>,
    ctx: *mut c_void,
    index_out: *mut u32,
) -> mp_status {
    let deadline = Deadline::from_timeout(true, timeout_ms);
    // SAFETY: forwarded contract.
    let result = unsafe { object::<RawBarrier, _>(barrier) }.and_then(|b| {
        b.wait(&deadline, || match action {
            // SAFETY: the caller vouches that `action` may be called with `ctx`.
            Some(f) => (unsafe { f(ctx) }) == 0,
            None => true,
        })
    });
    match result {
        Ok(index) => {
            if !index_out.is_null() {
                // SAFETY: non-NULL and writable per the contract.
                unsafe { index_out.write(index) };
            }
            Status::Ok.code()
        }
        Err(e) => e.code(),
    }
}

c_calls! {
    /// Breaks the barrier: every thread waiting in the current generation returns
    /// `MP_EBROKEN`, and so does every later `mp_barrier_wait` until `mp_barrier_reset`.
    /// The caller is outside any generation, so "current" is the generation a thread
    /// arriving now would join: while the last arrival's action runs, that is the next
    /// one (the complete generation is released normally, and the barrier is broken
    /// after it). To break a generation from its own action, return non-zero from it.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `barrier` is NULL or points to `MP_BARRIER_SIZE` readable bytes.
    fn mp_barrier_abort(barrier: mp_barrier_t) = RawBarrier::abort;
    /// Returns the barrier to its initial, unbroken state: threads waiting in the
    /// current generation return `MP_EBROKEN`; later arrivals start a fresh generation.
    /// While the last arrival's action runs, the complete generation is released
    /// normally and the next one starts unbroken. Also repairs a barrier whose shared
    /// state was overwritten (see `mp_barrier_wait`'s `MP_EBADOBJ`).
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `barrier` is NULL or points to `MP_BARRIER_SIZE` readable bytes.
    fn mp_barrier_reset(barrier: mp_barrier_t) = RawBarrier::reset;
}

c_queries! {
    /// Writes the number of parties to `*parties_out`.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `barrier` is NULL or points to `MP_BARRIER_SIZE` readable bytes; `parties_out` is
    /// NULL or writable.
    fn mp_barrier_parties(barrier: mp_barrier_t) -> parties_out: u32 = RawBarrier::parties;
    /// Writes the number of threads waiting in the current generation to
    /// `*waiting_out` (0 while broken; a snapshot). A party that died while waiting is
    /// counted until its generation ends.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// As `mp_barrier_parties`.
    fn mp_barrier_n_waiting(barrier: mp_barrier_t) -> waiting_out: u32 = RawBarrier::n_waiting;
    /// Writes whether the barrier is broken to `*broken_out`: true when a wait now would
    /// return `MP_EBROKEN` at once (also while the action runs if the next generation is
    /// already broken).
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `barrier` is NULL or points to `MP_BARRIER_SIZE` readable bytes; `broken_out` is
    /// NULL or writable.
    fn mp_barrier_is_broken(barrier: mp_barrier_t) -> broken_out: bool = RawBarrier::is_broken;
}

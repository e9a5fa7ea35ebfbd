//! `mp_cluster_sem_t`, `mp_cluster_event_t`, `mp_cluster_barrier_t`: Semaphore, Event
//! and Barrier on the cluster.

use core::ffi::c_char;

use super::boundary::{deadline, guard, hand_out, object, outcome, take_back, text, write_out};
use super::conn::mp_cluster_t;
use super::mp_status;
use crate::barrier::ClusterBarrier;
use crate::event::ClusterEvent;
use crate::sem::ClusterSemaphore;
use mpsync::Outcome;

/// A Semaphore on the cluster (opaque). Units belong to the handle that took them (a
/// dead holder's units come back at lease expiry), so it behaves as a BoundedSemaphore.
pub struct mp_cluster_sem_t(ClusterSemaphore);

/// An Event on the cluster (opaque).
pub struct mp_cluster_event_t(ClusterEvent);

/// A Barrier on the cluster (opaque).
pub struct mp_cluster_barrier_t(ClusterBarrier);

/// Opens the semaphore `name`; the first opener on the cluster sets its value (>= 1),
/// later openers use the stored one.
///
/// Safety: `cluster` is a live connection, `name` a NUL-terminated string, `sem_out`
/// writable. MT: yes.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL, bad name, value 0), `MP_EBADOBJ` (the stored
/// value is not a semaphore's), `MP_ESYS`, `MP_ELEASE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_sem_open(
    cluster: *const mp_cluster_t,
    name: *const c_char,
    value: u32,
    sem_out: *mut *mut mp_cluster_sem_t,
) -> mp_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let (cluster, name) = unsafe { (object(cluster)?, text(name)?) };
        let sem = ClusterSemaphore::open(&cluster.0, name, value as usize)?;
        // SAFETY: the caller's contract.
        unsafe { hand_out(sem_out, mp_cluster_sem_t(sem)) }
    })
}

/// Takes one unit, waiting as `mp_cluster_lock_acquire` does.
///
/// Safety: `sem` is an open semaphore. MT: yes.
///
/// Returns `MP_OK`, `MP_TIMEOUT`, `MP_ELEASE`, `MP_EINVAL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_sem_acquire(
    sem: *const mp_cluster_sem_t,
    block: bool,
    timeout_ms: i64,
) -> mp_status {
    // SAFETY: the caller's contract.
    guard(|| {
        Ok(outcome(
            unsafe { object(sem) }?
                .0
                .acquire(deadline(block, timeout_ms))?,
        ))
    })
}

/// Gives back one unit this handle holds.
///
/// Safety: `sem` is an open semaphore. MT: yes.
///
/// Returns `MP_OK`, `MP_EOVERFLOW` (this handle holds none), `MP_ELEASE`, `MP_ESYS`,
/// `MP_EINVAL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_sem_release(sem: *const mp_cluster_sem_t) -> mp_status {
    guard(|| {
        // SAFETY: the caller's contract.
        unsafe { object(sem) }?.0.release()?;
        Ok(0)
    })
}

/// Closes the handle, giving back the units it holds.
///
/// Safety: `sem` came from `mp_cluster_sem_open` and is not used afterwards. MT: no.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_sem_close(sem: *mut mp_cluster_sem_t) -> mp_status {
    // SAFETY: the caller's contract.
    guard(|| unsafe { take_back(sem) })
}

/// Opens the event `name` (initially clear).
///
/// Safety: `cluster` is a live connection, `name` a NUL-terminated string, `event_out`
/// writable. MT: yes.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL, bad name), `MP_ELEASE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_event_open(
    cluster: *const mp_cluster_t,
    name: *const c_char,
    event_out: *mut *mut mp_cluster_event_t,
) -> mp_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let (cluster, name) = unsafe { (object(cluster)?, text(name)?) };
        let event = ClusterEvent::open(&cluster.0, name)?;
        // SAFETY: the caller's contract.
        unsafe { hand_out(event_out, mp_cluster_event_t(event)) }
    })
}

/// Sets the flag, waking every waiter.
///
/// Safety: `event` is an open event. MT: yes.
///
/// Returns `MP_OK`, `MP_ESYS` (the cluster did not answer in time), `MP_ELEASE`, `MP_EINVAL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_event_set(event: *const mp_cluster_event_t) -> mp_status {
    guard(|| {
        // SAFETY: the caller's contract.
        unsafe { object(event) }?.0.set()?;
        Ok(0)
    })
}

/// Clears the flag.
///
/// Safety: `event` is an open event. MT: yes.
///
/// Returns `MP_OK`, `MP_ESYS`, `MP_ELEASE`, `MP_EINVAL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_event_clear(event: *const mp_cluster_event_t) -> mp_status {
    guard(|| {
        // SAFETY: the caller's contract.
        unsafe { object(event) }?.0.clear()?;
        Ok(0)
    })
}

/// Writes whether the flag is set to `*set_out`.
///
/// Safety: `event` is an open event, `set_out` writable. MT: yes.
///
/// Returns `MP_OK`, `MP_ESYS`, `MP_ELEASE`, `MP_EINVAL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_event_is_set(
    event: *const mp_cluster_event_t,
    set_out: *mut bool,
) -> mp_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let set = unsafe { object(event) }?.0.is_set()?;
        // SAFETY: the caller's contract.
        unsafe { write_out(set_out, set) }?;
        Ok(0)
    })
}

/// Waits until the flag is set, at most `timeout_ms` ms (negative = forever, 0 = look once).
///
/// Safety: `event` is an open event. MT: yes.
///
/// Returns `MP_OK` (set), `MP_TIMEOUT`, `MP_ELEASE`, `MP_EINVAL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_event_wait(
    event: *const mp_cluster_event_t,
    timeout_ms: i64,
) -> mp_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let set = unsafe { object(event) }?
            .0
            .wait(deadline(true, timeout_ms))?;
        Ok(outcome(if set { Outcome::Ok } else { Outcome::Timeout }))
    })
}

/// Closes the handle (the flag stays as it is).
///
/// Safety: `event` came from `mp_cluster_event_open` and is not used afterwards. MT: no.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_event_close(event: *mut mp_cluster_event_t) -> mp_status {
    // SAFETY: the caller's contract.
    guard(|| unsafe { take_back(event) })
}

/// Opens the barrier `name`; the first opener sets `parties` (>= 1), later openers use
/// the stored number.
///
/// Safety: `cluster` is a live connection, `name` a NUL-terminated string,
/// `barrier_out` writable. MT: yes.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL, bad name, 0 parties), `MP_EBADOBJ`, `MP_ESYS`,
/// `MP_ELEASE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_barrier_open(
    cluster: *const mp_cluster_t,
    name: *const c_char,
    parties: u32,
    barrier_out: *mut *mut mp_cluster_barrier_t,
) -> mp_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let (cluster, name) = unsafe { (object(cluster)?, text(name)?) };
        let barrier = ClusterBarrier::open(&cluster.0, name, parties as usize)?;
        // SAFETY: the caller's contract.
        unsafe { hand_out(barrier_out, mp_cluster_barrier_t(barrier)) }
    })
}

/// Waits until `parties` have arrived; `*index_out` (may be NULL) gets this arrival's
/// index (0 .. parties-1). A timeout breaks the barrier, as in CPython.
///
/// Safety: `barrier` is an open barrier; `index_out` is NULL or writable. MT: yes.
///
/// Returns `MP_OK`, `MP_EBROKEN` (broken, reset or aborted, or a member's timeout),
/// `MP_ELEASE`, `MP_EINVAL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_barrier_wait(
    barrier: *const mp_cluster_barrier_t,
    timeout_ms: i64,
    index_out: *mut u32,
) -> mp_status {
    guard(|| {
        // SAFETY: the caller's contract.
        let index = unsafe { object(barrier) }?
            .0
            .wait(deadline(true, timeout_ms))?;
        if !index_out.is_null() {
            // SAFETY: non-NULL, writable by the caller's contract.
            unsafe { write_out(index_out, index as u32) }?;
        }
        Ok(0)
    })
}

/// Breaks the barrier: waiters get `MP_EBROKEN` until `mp_cluster_barrier_reset`.
///
/// Safety: `barrier` is an open barrier. MT: yes.
///
/// Returns `MP_OK`, `MP_ESYS`, `MP_ELEASE`, `MP_EINVAL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_barrier_abort(
    barrier: *const mp_cluster_barrier_t,
) -> mp_status {
    guard(|| {
        // SAFETY: the caller's contract.
        unsafe { object(barrier) }?.0.abort()?;
        Ok(0)
    })
}

/// Starts a new, unbroken generation; current waiters get `MP_EBROKEN`.
///
/// Safety: `barrier` is an open barrier. MT: yes.
///
/// Returns `MP_OK`, `MP_ESYS`, `MP_ELEASE`, `MP_EINVAL`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_barrier_reset(
    barrier: *const mp_cluster_barrier_t,
) -> mp_status {
    guard(|| {
        // SAFETY: the caller's contract.
        unsafe { object(barrier) }?.0.reset()?;
        Ok(0)
    })
}

/// Closes the handle.
///
/// Safety: `barrier` came from `mp_cluster_barrier_open` and is not used afterwards.
/// MT: no.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_cluster_barrier_close(barrier: *mut mp_cluster_barrier_t) -> mp_status {
    // SAFETY: the caller's contract.
    guard(|| unsafe { take_back(barrier) })
}

//! What `mpsync acquire` does with an owner-death report, unless `--take-over`: it
//! leaves the report to the next acquirer, the application, whose repair must run.
//!
//! A report is taken by acquiring: the acquirer that gets an RLock from a dead owner
//! (or reclaims a dead undo-semaphore holder's units) gets `MP_OWNER_DEAD`, and once it
//! releases, the next one gets `MP_OK`. So `mpsync acquire NAME -- CMD`, run by a
//! script after a crash, used to take the report, and the application never repaired.
//! The library has no call that acquires and leaves a report in place, hence:
//!
//! * **Before acquiring** an RLock, the inspection (which never takes a report) tells
//!   whether its owner died (marked by the kernel or a waiter's back-stop, or provably
//!   gone while holding): then mpsync refuses without acquiring ([`refuse_before`]).
//!   An undo semaphore is not refused so: its dead holders' units are reclaimed (and
//!   the death reported) only by an acquirer that needs them, which mpsync may not be;
//!   refusing it while the report waits would refuse every acquire that could not take
//!   it.
//! * **If the acquire takes a report anyway** (the owner died while mpsync waited; an
//!   undo acquire needed the dead holder's units), mpsync gives it back: it does not
//!   run the command, and ends at once without releasing ([`hand_back`]), as a killed
//!   process would. The kernel marks the lock word (or mpsync's undo slot) owner-dead,
//!   or, without a robust list, the back-stop finds mpsync provably gone: the next
//!   acquirer gets `MP_OWNER_DEAD` again, now for mpsync's death, which held the lock
//!   without touching what it protects.
//!
//! Both end with `exit::OWNER_DEAD`. With `--take-over`, mpsync takes the report as
//! before: the command runs with `MPSYNC_OWNER_DEAD=1`, and is the one to repair.

use mpsync::inspect::{ObjectInfo, RLockState, State};

use crate::escape;
use crate::exit;
use crate::out;

/// `Err(exit::OWNER_DEAD)` (after saying why) if `info` is an RLock whose owner died
/// and `take_over` is not set.
pub fn refuse_before(name: &str, info: &ObjectInfo, take_over: bool) -> Result<(), i32> {
    if let Some(State::RwLock(r)) = &info.state {
        if take_over || !r.owner_died() {
            return Ok(());
        }
        out::error(&format!(
            "{}: a writer or a reader died holding it; the death report waits for the next \
             acquirer. Not acquired, command not run: --take-over takes the report, and runs \
             the command with MPSYNC_OWNER_DEAD=1 to do the repair",
            escape::text(name)
        ));
        return Err(exit::OWNER_DEAD);
    }
    let Some(r) = info.state.as_ref().and_then(State::rlock) else {
        return Ok(());
    };
    if take_over || !r.owner_died() {
        return Ok(());
    }
    out::error(&format!(
        "{}: its owner died holding it ({}); the death report waits for the next \
         acquirer, whose MP_OWNER_DEAD should make it repair what the lock protects. Not \
         acquired, command not run: --take-over takes the report, and runs the command \
         with MPSYNC_OWNER_DEAD=1 to do the repair",
        escape::text(name),
        who_died(r)
    ));
    Err(exit::OWNER_DEAD)
}

/// The dead owner, as the lock records it.
fn who_died(r: &RLockState) -> String {
    match r.owner {
        Some(o) => format!(
            "pid {}, tid {}: {}",
            o.pid.map_or("unrecorded".into(), |p| p.to_string()),
            o.tid,
            o.liveness.as_str()
        ),
        None => "the lock word carries the kernel's owner-died mark".into(),
    }
}

/// This process's acquire of `name` took a death report without `--take-over`: says
/// so, and ends the process at once, without releasing what it holds, so that the
/// report goes to the next acquirer. `semaphore` says which kind of report it was.
pub fn hand_back(name: &str, semaphore: bool) -> ! {
    let what = if semaphore {
        "a holder died holding units of the semaphore, and this acquire reclaimed them"
    } else {
        "the owner died holding the lock while mpsync waited"
    };
    out::error(&format!(
        "{}: {what}: the death report came to mpsync. Command not run; mpsync gives the \
         report back by exiting without releasing (the next acquirer gets MP_OWNER_DEAD). \
         --take-over runs the command with MPSYNC_OWNER_DEAD=1 instead",
        escape::text(name)
    ));
    // `_exit`, as a killed process ends: nothing releases or unlinks on the way out.
    // SAFETY: ends the process; nothing after it runs.
    unsafe { libc::_exit(exit::OWNER_DEAD) }
}

//! Test seams of the death-report protocol: places where a unit test can stop a thread,
//! to run an interleaving that is otherwise a few instructions wide. The module is
//! compiled into tests only; production code names it only in `#[cfg(test)]` calls.

/// Places in the death-report protocol where a unit test can stop a thread, to run an
/// interleaving that is otherwise a few instructions wide. Compiled into tests only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HookPoint {
    /// A reclaimer gave the dead holder's units back and has not published the report.
    ReclaimBeforeReport,
    /// A reclaimer published the report.
    ReclaimReported,
    /// `collect_report` found no published report and is about to look for one in
    /// flight.
    CollectAfterClaim,
}

/// A test hook: called at every [`HookPoint`] the thread passes.
pub(super) type Hook = Box<dyn FnMut(HookPoint)>;

thread_local! {
    /// The calling thread's hook (see [`HookPoint`]).
    pub(super) static HOOK: core::cell::RefCell<Option<Hook>> = const { core::cell::RefCell::new(None) };
}

/// Runs the calling thread's test hook, if any, at `point`.
pub(super) fn hook(point: HookPoint) {
    HOOK.with(|h| {
        if let Some(f) = h.borrow_mut().as_mut() {
            f(point);
        }
    });
}

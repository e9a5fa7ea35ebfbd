//! `Lock`, `RLock`, `Semaphore` (and, in Python, `BoundedSemaphore`), the raw
//! condition under `mpsync.Condition`, and `Event`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mpsync::{Deadline, Error, Outcome};
use pyo3::exceptions::{PyAssertionError, PyNotImplementedError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::errors::quoted;
use crate::{
    Origin, Quiet, Request, blocking, err_for, make, timeout_deadline, to_py_about, try_then_block,
};

/// The calling thread's id (pthread_self), to tell "mine" from "another thread's" in
/// reprs, as `multiprocessing` does.
fn thread_id() -> u64 {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() as u64 }
}

/// `MainProcess` or `MainProcess|Thread-1`, as `multiprocessing` names an owner.
fn owner_name(py: Python<'_>) -> PyResult<String> {
    let process: String = py
        .import("multiprocessing")?
        .call_method0("current_process")?
        .getattr("name")?
        .extract()?;
    let thread: String = py
        .import("threading")?
        .call_method0("current_thread")?
        .getattr("name")?
        .extract()?;
    Ok(if thread == "MainThread" {
        process
    } else {
        format!("{process}|{thread}")
    })
}

/// Calls `_rebuild(kind, *state, *extra)` of the `mpsync` package when unpickled.
pub(crate) fn reduce<'py>(
    py: Python<'py>,
    kind: &str,
    origin: &Origin,
    extra: Vec<PyObject>,
) -> PyResult<(PyObject, PyObject)> {
    let rebuild = py.import("mpsync")?.getattr("_rebuild")?;
    let mut args: Vec<PyObject> = vec![kind.into_pyobject(py)?.into_any().unbind()];
    for item in origin.state(py)?.iter() {
        args.push(item.unbind());
    }
    args.extend(extra);
    Ok((
        rebuild.unbind(),
        PyTuple::new(py, args)?.into_any().unbind(),
    ))
}

/// `multiprocessing.Lock`: a non-recursive lock any thread or process may release.
#[pyclass(module = "mpsync", name = "Lock", subclass, frozen)]
pub struct PyLock {
    pub(crate) lock: mpsync::Lock,
    origin: Origin,
    /// The thread of this process that last acquired it (0: none), for the repr.
    pub(crate) holder: AtomicU64,
}

#[pymethods]
impl PyLock {
    /// `Lock(*, name=None, create=False, exclusive=False, mode=0o600, any_owner=False)`:
    /// without `name`, a new lock for this process, its children and anything it is
    /// pickled to; with `name`, the lock a C program opens with `mp_lock_open(name)`.
    #[new]
    #[pyo3(signature = (*, name=None, create=false, exclusive=false, mode=0o600, any_owner=false))]
    fn new(
        name: Option<&str>,
        create: bool,
        exclusive: bool,
        mode: u32,
        any_owner: bool,
    ) -> PyResult<Self> {
        let request = Request::new(
            "Lock",
            "an mpsync.Lock",
            name,
            create,
            exclusive,
            mode,
            any_owner,
        );
        let (lock, origin) = make(&request, mpsync::Lock::open)?;
        Ok(PyLock {
            lock,
            origin,
            holder: AtomicU64::new(0),
        })
    }

    /// `acquire(block=True, timeout=None) -> bool`, as `multiprocessing.Lock`.
    #[pyo3(name = "_acquire", signature = (block=true, timeout=None))]
    fn acquire(&self, py: Python<'_>, block: bool, timeout: Option<f64>) -> PyResult<bool> {
        let lock = &self.lock;
        let got = try_then_block(py, block, timeout, self.err("acquire"), |d| {
            lock.acquire_unguarded(d)
        })?
        .acquired();
        if got {
            self.holder.store(thread_id(), Ordering::Relaxed);
        }
        Ok(got)
    }

    /// `release()`: `ValueError` if the lock is not held.
    #[pyo3(name = "_release")]
    fn release(&self) -> PyResult<()> {
        self.holder.store(0, Ordering::Relaxed);
        self.lock.release().map_err(self.err("release"))
    }

    // `acquire`, `release`, `__enter__` and `__exit__`: fast.rs installs them.

    /// The name a C program or another process opens this lock by.
    #[getter]
    fn name(&self) -> &str {
        &self.origin.name
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let (py, this) = (slf.py(), slf.get());
        let owner = if !this.lock.is_locked().map_err(this.err("__repr__"))? {
            "None".to_string()
        } else if this.holder.load(Ordering::Relaxed) == thread_id() {
            owner_name(py)?
        } else if this.holder.load(Ordering::Relaxed) != 0 {
            "SomeOtherThread".to_string()
        } else {
            "SomeOtherProcess".to_string()
        };
        let cls = slf.get_type().name()?;
        Ok(format!("<{cls}(owner={owner})>"))
    }

    fn __reduce__(&self, py: Python<'_>) -> PyResult<(PyObject, PyObject)> {
        reduce(py, "Lock", &self.origin, vec![])
    }
}

impl PyLock {
    /// Names this lock in the errors of operation `op`.
    fn err<'a>(&'a self, op: &'a str) -> impl Fn(Error) -> PyErr + 'a {
        err_for("Lock", &self.origin, op)
    }
}

/// An RLock: its own, or the one embedded in a synchronized array.
pub(crate) enum RLockRef {
    Own(Quiet<mpsync::RLock>),
    Array(Arc<Quiet<mpsync::SharedArray>>),
}

impl RLockRef {
    #[inline]
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mpsync::RLock) -> T) -> T {
        match self {
            RLockRef::Own(l) => f(l),
            RLockRef::Array(a) => match a.lock() {
                Some(l) => f(&l),
                // Only arrays with a lock get an RLockRef (see array.rs).
                None => unreachable_lock(),
            },
        }
    }
}

#[cold]
fn unreachable_lock() -> ! {
    // An array without a lock never gets an RLockRef; reaching this is a bug here.
    std::process::abort()
}

/// The owner-death report of the most recent acquisition through one Python object
/// (`owner_died`), and whether such an acquisition raises `mpsync.OwnerDiedError`
/// instead (`raise_owner_died=True`; the lock or unit is then held all the same).
pub(crate) struct DeathReport {
    died: AtomicBool,
    raise: bool,
    /// The `OwnerDiedError` message.
    message: &'static str,
}

impl DeathReport {
    pub(crate) fn new(raise: bool, message: &'static str) -> Self {
        DeathReport {
            died: AtomicBool::new(false),
            raise,
            message,
        }
    }

    /// Records the outcome of an acquisition: true if it acquired; the error when it
    /// found a death and `raise` is set.
    pub(crate) fn note(&self, py: Python<'_>, outcome: Outcome) -> PyResult<bool> {
        match outcome {
            // `Created` is never an acquisition's; it is success like `Ok`.
            Outcome::Ok | Outcome::Created => {
                self.clear();
                Ok(true)
            }
            Outcome::OwnerDead => {
                self.died.store(true, Ordering::Relaxed);
                if self.raise {
                    let cls = py.import("mpsync")?.getattr("OwnerDiedError")?;
                    return Err(PyErr::from_value(cls.call1((self.message,))?));
                }
                Ok(true)
            }
            Outcome::Timeout => Ok(false),
        }
    }

    /// Records the outcome of an acquisition without raising (a Condition's re-acquire).
    pub(crate) fn record(&self, outcome: Outcome) {
        self.died
            .store(outcome == Outcome::OwnerDead, Ordering::Relaxed);
    }

    /// Forgets the last report (an acquisition that found no death; a repair).
    #[inline(always)]
    pub(crate) fn clear(&self) {
        self.died.store(false, Ordering::Relaxed);
    }

    pub(crate) fn died(&self) -> bool {
        self.died.load(Ordering::Relaxed)
    }

    /// Whether a death is raised as `OwnerDiedError` (pickled with the object).
    pub(crate) fn raises(&self) -> bool {
        self.raise
    }
}

const RLOCK_DIED: &str = "acquired, but the previous owner died holding the lock";
const SEM_DIED: &str = "acquired, but a holder of the semaphore died holding units";

/// `multiprocessing.RLock`, plus owner-death reports: when the previous owner died
/// holding it, `acquire` still acquires it and sets `owner_died` (and raises
/// `mpsync.OwnerDiedError`, with the lock held, if made with `raise_owner_died=True`).
#[pyclass(module = "mpsync", name = "RLock", subclass, frozen)]
pub struct PyRLock {
    pub(crate) lock: RLockRef,
    /// Its own origin; None for an array's lock, which `of_array` describes instead.
    origin: Option<Origin>,
    /// "Array 'x'": the array whose lock this is, for errors.
    of_array: Option<String>,
    pub(crate) report: DeathReport,
}

impl PyRLock {
    /// The lock of `array`, which `subject` describes ("Array 'x'").
    pub(crate) fn of_array(array: Arc<Quiet<mpsync::SharedArray>>, subject: String) -> PyRLock {
        PyRLock {
            lock: RLockRef::Array(array),
            origin: None,
            of_array: Some(subject),
            report: DeathReport::new(false, RLOCK_DIED),
        }
    }

    pub(crate) fn note(&self, py: Python<'_>, outcome: Outcome) -> PyResult<bool> {
        self.report.note(py, outcome)
    }

    /// "RLock 'jobs'", "RLock (anonymous)" or "RLock of Array 'x'".
    fn subject(&self) -> String {
        match (&self.origin, &self.of_array) {
            (Some(o), _) => crate::subject("RLock", o),
            (None, Some(array)) => format!("RLock of {array}"),
            (None, None) => "RLock".to_string(),
        }
    }

    /// Names this lock in the errors of operation `op`.
    fn err<'a>(&'a self, op: &'a str) -> impl Fn(Error) -> PyErr + 'a {
        move |e| to_py_about(&self.subject(), op, e)
    }
}

#[pymethods]
impl PyRLock {
    /// `RLock(*, name=None, create=False, exclusive=False, mode=0o600,
    /// any_owner=False, raise_owner_died=False, sticky=False)`. `sticky`: after an owner
    /// died holding it, every acquisition reports it until a holder calls
    /// `mark_consistent()` (a lock this call creates is made so; an existing lock must
    /// be sticky). Without it, an existing lock of either mode is opened.
    #[new]
    #[pyo3(signature = (*, name=None, create=false, exclusive=false, mode=0o600, any_owner=false, raise_owner_died=false, sticky=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: Option<&str>,
        create: bool,
        exclusive: bool,
        mode: u32,
        any_owner: bool,
        raise_owner_died: bool,
        sticky: bool,
    ) -> PyResult<Self> {
        let request = Request::new(
            "RLock",
            "an mpsync.RLock",
            name,
            create,
            exclusive,
            mode,
            any_owner,
        );
        let open = if sticky {
            mpsync::RLock::open_sticky
        } else {
            mpsync::RLock::open
        };
        let (lock, origin) = make(&request, open)?;
        Ok(PyRLock {
            lock: RLockRef::Own(Quiet::new(lock)),
            origin: Some(origin),
            of_array: None,
            report: DeathReport::new(raise_owner_died, RLOCK_DIED),
        })
    }

    /// `acquire(block=True, timeout=None) -> bool`, as `multiprocessing.RLock`.
    #[pyo3(name = "_acquire", signature = (block=true, timeout=None))]
    fn acquire(&self, py: Python<'_>, block: bool, timeout: Option<f64>) -> PyResult<bool> {
        let lock = &self.lock;
        let outcome = try_then_block(py, block, timeout, self.err("acquire"), |d| {
            lock.with(|l| l.acquire_unguarded(d))
        })?;
        self.note(py, outcome)
    }

    /// `release()`: `AssertionError` unless the calling thread owns the lock.
    #[pyo3(name = "_release")]
    fn release(&self) -> PyResult<()> {
        self.lock.with(|l| l.release()).map_err(self.err("release"))
    }

    // `acquire`, `release`, `__enter__` and `__exit__`: fast.rs installs them.

    /// True if the most recent acquisition through this object found that the
    /// previous owner had died holding the lock (the protected data may be torn).
    #[getter]
    fn owner_died(&self) -> bool {
        self.report.died()
    }

    /// Whether the lock is sticky (`RLock(sticky=True)`, or a synchronized array's
    /// lock): an owner's death stays reported until `mark_consistent()`.
    #[getter]
    fn sticky(&self) -> PyResult<bool> {
        self.lock
            .with(|l| l.is_sticky())
            .map_err(self.err("sticky"))
    }

    /// Declares the protected data repaired (the calling thread must hold the lock);
    /// for a sticky lock (`sticky=True`, or a synchronized array's), ends its
    /// owner-died state.
    fn mark_consistent(&self) -> PyResult<()> {
        self.lock
            .with(|l| l.mark_consistent())
            .map_err(self.err("mark_consistent"))?;
        self.report.clear();
        Ok(())
    }

    /// Whether the calling thread owns the lock.
    fn _is_mine(&self) -> PyResult<bool> {
        self.lock
            .with(|l| l.is_mine())
            .map_err(self.err("_is_mine"))
    }

    /// The calling thread's recursion level (0 unless it owns the lock).
    fn _count(&self) -> PyResult<u32> {
        self.lock.with(|l| l.count()).map_err(self.err("_count"))
    }

    /// The name a C program opens this lock by (`None` for an array's lock).
    #[getter]
    fn name(&self) -> Option<&str> {
        self.origin.as_ref().map(|o| o.name.as_str())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let (py, this) = (slf.py(), slf.get());
        let cls = slf.get_type().name()?;
        let count = this
            .lock
            .with(|l| l.count())
            .map_err(this.err("__repr__"))?;
        if count > 0 {
            return Ok(format!("<{cls}({}, {count})>", owner_name(py)?));
        }
        // Not ours. Only read the lock: a trial acquire would take the owner-death
        // report that belongs to the next real acquirer.
        let held = this
            .lock
            .with(|l| l.is_locked())
            .map_err(this.err("__repr__"))?;
        Ok(if held {
            format!("<{cls}(SomeOtherProcess, nonzero)>")
        } else {
            format!("<{cls}(None, 0)>")
        })
    }

    fn __reduce__(&self, py: Python<'_>) -> PyResult<(PyObject, PyObject)> {
        match &self.origin {
            Some(o) => reduce(
                py,
                "RLock",
                o,
                vec![
                    self.report
                        .raise
                        .into_pyobject(py)?
                        .to_owned()
                        .into_any()
                        .unbind(),
                ],
            ),
            None => Err(PyTypeError::new_err(
                "an array's lock is pickled with its array: pickle the array and call get_lock()",
            )),
        }
    }
}

/// `multiprocessing.Semaphore(value)`; `mpsync.BoundedSemaphore` passes `maxvalue`.
/// With `undo=True`, the units a thread acquired come back when it dies holding them;
/// the acquirer told sets `owner_died` (or gets `mpsync.OwnerDiedError`, with the
/// unit taken, if made with `raise_owner_died=True`).
#[pyclass(module = "mpsync", name = "Semaphore", subclass, frozen)]
pub struct PySemaphore {
    pub(crate) sem: Sem,
    origin: Origin,
    report: DeathReport,
    /// The Python class it was made as ("Semaphore", "BoundedSemaphore"), for errors.
    kind: &'static str,
}

/// The core semaphore under a [`PySemaphore`]: plain, or an undo semaphore
/// (`undo=True`, the core's `UndoSemaphore`), whose acquisitions the fast paths in
/// `fast.rs` leave alone.
pub(crate) enum Sem {
    Plain(Quiet<mpsync::Semaphore>),
    Undo(Quiet<mpsync::UndoSemaphore>),
}

impl Sem {
    pub(crate) fn acquire_unguarded(&self, deadline: Deadline) -> Result<Outcome, Error> {
        match self {
            Sem::Plain(s) => s.acquire_unguarded(deadline),
            Sem::Undo(s) => s.acquire_unguarded(deadline),
        }
    }

    pub(crate) fn release(&self) -> Result<(), Error> {
        match self {
            Sem::Plain(s) => s.release(),
            Sem::Undo(s) => s.release(),
        }
    }

    fn value(&self) -> Result<u32, Error> {
        match self {
            Sem::Plain(s) => s.value(),
            Sem::Undo(s) => s.value(),
        }
    }

    fn max_value(&self) -> Result<u32, Error> {
        match self {
            Sem::Plain(s) => s.max_value(),
            Sem::Undo(s) => s.max_value(),
        }
    }

    /// Units the calling thread holds (a plain semaphore records no holders: 0).
    fn held(&self) -> Result<u32, Error> {
        match self {
            Sem::Plain(_) => Ok(0),
            Sem::Undo(s) => s.held(),
        }
    }

    /// True for an undo semaphore.
    pub(crate) fn is_undo(&self) -> bool {
        matches!(self, Sem::Undo(_))
    }
}

impl PySemaphore {
    fn note(&self, py: Python<'_>, outcome: Outcome) -> PyResult<bool> {
        self.report.note(py, outcome)
    }

    /// Names this semaphore in the errors of operation `op`.
    fn err<'a>(&'a self, op: &'a str) -> impl Fn(Error) -> PyErr + 'a {
        err_for(self.kind, &self.origin, op)
    }
}

#[pymethods]
impl PySemaphore {
    /// `Semaphore(value=1, *, maxvalue=None, name=None, create=False,
    /// exclusive=False, mode=0o600, any_owner=False, undo=False,
    /// raise_owner_died=False)`.
    #[new]
    #[pyo3(signature = (value=1, *, maxvalue=None, name=None, create=false, exclusive=false, mode=0o600, any_owner=false, undo=false, raise_owner_died=false))]
    #[classmethod]
    #[allow(clippy::too_many_arguments)]
    fn new(
        cls: &Bound<'_, pyo3::types::PyType>,
        value: i64,
        maxvalue: Option<i64>,
        name: Option<&str>,
        create: bool,
        exclusive: bool,
        mode: u32,
        any_owner: bool,
        undo: bool,
        raise_owner_died: bool,
    ) -> PyResult<Self> {
        if value < 0 {
            return Err(PyValueError::new_err(
                "semaphore initial value must be >= 0",
            ));
        }
        let max = maxvalue.unwrap_or(i64::from(if undo {
            mpsync::SEM_UNDO_VALUE_MAX
        } else {
            mpsync::SEM_VALUE_MAX
        }));
        let value = u32::try_from(value)
            .map_err(|_| PyValueError::new_err("semaphore initial value too large"))?;
        let max = u32::try_from(max)
            .map_err(|_| PyValueError::new_err("semaphore maximum value out of range"))?;
        let (wanted, bound) = if undo {
            ("an undo Semaphore (undo=True)", "SEM_UNDO_VALUE_MAX")
        } else if max == mpsync::SEM_VALUE_MAX {
            ("a Semaphore", "SEM_VALUE_MAX")
        } else {
            ("a BoundedSemaphore", "SEM_VALUE_MAX")
        };
        let limit = if undo {
            mpsync::SEM_UNDO_VALUE_MAX
        } else {
            mpsync::SEM_VALUE_MAX
        };
        let mut request = Request::new(
            "Semaphore",
            wanted,
            name,
            create,
            exclusive,
            mode,
            any_owner,
        );
        request.invalid_values = if max > limit {
            Some(format!("maxvalue {max} is above {bound} ({limit})"))
        } else if value > max && maxvalue.is_none() {
            Some(format!("value {value} is above {bound} ({max})"))
        } else if value > max {
            Some(format!("value {value} is above maxvalue {max}"))
        } else {
            None
        };
        // Errors on the object name its class as made: BoundedSemaphore is a Python
        // subclass (the package's), any other subclass is a Semaphore.
        let kind = if cls.name()?.to_str()? == "BoundedSemaphore" {
            "BoundedSemaphore"
        } else {
            "Semaphore"
        };
        let (sem, origin) = if undo {
            let (s, origin) = make(&request, |n, o| {
                mpsync::UndoSemaphore::open(n, o, value, max)
            })?;
            (Sem::Undo(Quiet::new(s)), origin)
        } else {
            let (s, origin) = make(&request, |n, o| mpsync::Semaphore::open(n, o, value, max))?;
            (Sem::Plain(Quiet::new(s)), origin)
        };
        Ok(PySemaphore {
            sem,
            origin,
            report: DeathReport::new(raise_owner_died, SEM_DIED),
            kind,
        })
    }

    /// `acquire(block=True, timeout=None) -> bool`.
    #[pyo3(name = "_acquire", signature = (block=true, timeout=None))]
    fn acquire(&self, py: Python<'_>, block: bool, timeout: Option<f64>) -> PyResult<bool> {
        let sem = &self.sem;
        let outcome = try_then_block(py, block, timeout, self.err("acquire"), |d| {
            sem.acquire_unguarded(d)
        })?;
        if self.sem.is_undo() {
            self.note(py, outcome)
        } else {
            Ok(outcome.acquired())
        }
    }

    /// `release()`: `ValueError` if a bounded semaphore is released too many times;
    /// for an undo semaphore, `AssertionError` if the calling thread holds no unit.
    #[pyo3(name = "_release")]
    fn release(&self) -> PyResult<()> {
        self.sem.release().map_err(self.err("release"))
    }

    /// True for a semaphore made with `undo=True`.
    #[getter]
    fn undo(&self) -> bool {
        self.sem.is_undo()
    }

    /// True if the most recent acquisition through this object (undo semaphore) found
    /// that a holder had died holding units, which came back.
    #[getter]
    fn owner_died(&self) -> bool {
        self.report.died()
    }

    /// How many units of an undo semaphore the calling thread holds (0 for a plain one).
    fn held(&self) -> PyResult<u32> {
        self.sem.held().map_err(self.err("held"))
    }

    // `acquire`, `release`, `__enter__` and `__exit__`: fast.rs installs them.

    /// The number of units now.
    fn get_value(&self) -> PyResult<u32> {
        self.sem.value().map_err(self.err("get_value"))
    }

    /// The bound (`SEM_VALUE_MAX` for an unbounded semaphore).
    #[getter]
    fn maxvalue(&self) -> PyResult<u32> {
        self.sem.max_value().map_err(self.err("maxvalue"))
    }

    /// The name a C program opens this semaphore by.
    #[getter]
    fn name(&self) -> &str {
        &self.origin.name
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let this = slf.get();
        let value = this.sem.value().map_err(this.err("__repr__"))?;
        let max = this.sem.max_value().map_err(this.err("__repr__"))?;
        let cls = slf.get_type().name()?.to_string();
        Ok(if max == mpsync::SEM_VALUE_MAX {
            format!("<{cls}(value={value})>")
        } else {
            format!("<{cls}(value={value}, maxvalue={max})>")
        })
    }

    fn __reduce__(slf: &Bound<'_, Self>) -> PyResult<(PyObject, PyObject)> {
        let py = slf.py();
        let cls = slf.get_type().name()?.to_string();
        let kind = if cls == "BoundedSemaphore" {
            "BoundedSemaphore"
        } else {
            "Semaphore"
        };
        let this = slf.get();
        let extra = vec![
            this.sem
                .is_undo()
                .into_pyobject(py)?
                .to_owned()
                .into_any()
                .unbind(),
            this.report
                .raise
                .into_pyobject(py)?
                .to_owned()
                .into_any()
                .unbind(),
        ];
        reduce(py, kind, &this.origin, extra)
    }
}

/// The condition variable under `mpsync.Condition` (which adds the lock and
/// `multiprocessing`'s methods).
#[pyclass(module = "mpsync._mpsync", name = "RawCondition", frozen)]
pub struct PyCondition {
    cond: mpsync::Condition,
    origin: Origin,
}

#[pymethods]
impl PyCondition {
    #[new]
    #[pyo3(signature = (*, name=None, create=false, exclusive=false, mode=0o600, any_owner=false))]
    fn new(
        name: Option<&str>,
        create: bool,
        exclusive: bool,
        mode: u32,
        any_owner: bool,
    ) -> PyResult<Self> {
        let request = Request::new(
            "Condition",
            "a Condition",
            name,
            create,
            exclusive,
            mode,
            any_owner,
        );
        let (cond, origin) = make(&request, mpsync::Condition::open)?;
        Ok(PyCondition { cond, origin })
    }

    /// Waits with `lock` (an `RLock` or `Lock`) held; returns `(notified,
    /// owner_died)`. `AssertionError` if the calling thread does not hold the lock.
    #[pyo3(signature = (lock, timeout=None))]
    fn wait(
        &self,
        py: Python<'_>,
        lock: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<(bool, bool)> {
        let deadline = timeout_deadline(timeout)?;
        let cond = &self.cond;
        // multiprocessing's words for a wait without the lock, with the object's name.
        let on_err = |e| match e {
            Error::NotOwner => PyAssertionError::new_err(format!(
                "{}: wait: must acquire() condition before using wait() ({})",
                crate::subject("Condition", &self.origin),
                e.name()
            )),
            e => self.err("wait")(e),
        };
        let outcome = if let Ok(r) = lock.downcast::<PyRLock>() {
            let r = r.get();
            let outcome = blocking(py, on_err, || r.lock.with(|l| cond.wait(l, deadline)))?;
            r.report.record(outcome);
            outcome
        } else if let Ok(l) = lock.downcast::<PyLock>() {
            let l = &l.get().lock;
            blocking(py, on_err, || cond.wait_lock(l, deadline))?
        } else {
            return Err(PyTypeError::new_err(
                "a Condition's lock must be an mpsync.RLock or mpsync.Lock",
            ));
        };
        Ok((outcome != Outcome::Timeout, outcome == Outcome::OwnerDead))
    }

    /// Wakes up to `n` waiters.
    #[pyo3(signature = (n=1))]
    fn notify(&self, n: i64) -> PyResult<()> {
        let n = u32::try_from(n.max(0)).unwrap_or(u32::MAX);
        self.cond.notify(n).map_err(self.err("notify"))
    }

    /// Wakes every waiter.
    fn notify_all(&self) -> PyResult<()> {
        self.cond.notify_all().map_err(self.err("notify_all"))
    }

    /// Threads waiting for a notification that no notify has picked yet (a snapshot;
    /// `Condition.__repr__` shows it, as `multiprocessing`'s does).
    fn n_waiting(&self) -> PyResult<u32> {
        self.cond.n_waiting().map_err(self.err("n_waiting"))
    }

    /// Threads that a notify picked and that are still on their way out of `wait` (the
    /// notifications handed out and not yet taken: what multiprocessing's wait
    /// semaphore counts). A snapshot, read by the crate's inspector through the name
    /// (so it costs a scan of `/proc`): `NotImplementedError` if the name no longer
    /// holds a condition.
    fn n_signalled(&self, py: Python<'_>) -> PyResult<u32> {
        let name = self.origin.name.as_str();
        let registered = match py.allow_threads(|| mpsync::inspect::inspect(name)) {
            Ok(mpsync::inspect::ObjectInfo {
                state: Some(mpsync::inspect::State::Cond { waiters }),
                ..
            }) => waiters,
            _ => {
                return Err(PyNotImplementedError::new_err(format!(
                    "the signalled waiters of Condition {} cannot be counted: the name no longer \
                     holds a condition",
                    quoted(name)
                )));
            }
        };
        let waiting = self.cond.n_waiting().map_err(self.err("n_signalled"))?;
        Ok(registered.saturating_sub(waiting))
    }

    #[getter]
    fn name(&self) -> &str {
        &self.origin.name
    }

    fn __reduce__(&self, py: Python<'_>) -> PyResult<(PyObject, PyObject)> {
        reduce(py, "RawCondition", &self.origin, vec![])
    }
}

impl PyCondition {
    /// Names this condition in the errors of operation `op`.
    fn err<'a>(&'a self, op: &'a str) -> impl Fn(Error) -> PyErr + 'a {
        err_for("Condition", &self.origin, op)
    }
}

/// `multiprocessing.Event`.
#[pyclass(module = "mpsync", name = "Event", subclass, frozen)]
pub struct PyEvent {
    event: mpsync::Event,
    origin: Origin,
}

#[pymethods]
impl PyEvent {
    /// `Event(*, name=None, create=False, exclusive=False, mode=0o600, any_owner=False)`.
    #[new]
    #[pyo3(signature = (*, name=None, create=false, exclusive=false, mode=0o600, any_owner=false))]
    fn new(
        name: Option<&str>,
        create: bool,
        exclusive: bool,
        mode: u32,
        any_owner: bool,
    ) -> PyResult<Self> {
        let request = Request::new(
            "Event", "an Event", name, create, exclusive, mode, any_owner,
        );
        let (event, origin) = make(&request, mpsync::Event::open)?;
        Ok(PyEvent { event, origin })
    }

    fn is_set(&self) -> PyResult<bool> {
        self.event.is_set().map_err(self.err("is_set"))
    }

    fn set(&self) -> PyResult<()> {
        self.event.set().map_err(self.err("set"))
    }

    fn clear(&self) -> PyResult<()> {
        self.event.clear().map_err(self.err("clear"))
    }

    /// `wait(timeout=None) -> bool`: True once the flag is set, False on timeout.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        if self.event.is_set().map_err(self.err("wait"))? {
            return Ok(true);
        }
        let deadline = timeout_deadline(timeout)?;
        let event = &self.event;
        Ok(blocking(py, self.err("wait"), || event.wait(deadline))? == Outcome::Ok)
    }

    #[getter]
    fn name(&self) -> &str {
        &self.origin.name
    }

    /// `<Event at 0x7f... set>` (or `unset`), as `multiprocessing.Event`.
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let state = if slf
            .get()
            .event
            .is_set()
            .map_err(slf.get().err("__repr__"))?
        {
            "set"
        } else {
            "unset"
        };
        let cls = slf.get_type().qualname()?;
        Ok(format!("<{cls} at {:#x} {state}>", slf.as_ptr() as usize))
    }

    fn __reduce__(&self, py: Python<'_>) -> PyResult<(PyObject, PyObject)> {
        reduce(py, "Event", &self.origin, vec![])
    }
}

impl PyEvent {
    /// Names this event in the errors of operation `op`.
    fn err<'a>(&'a self, op: &'a str) -> impl Fn(Error) -> PyErr + 'a {
        err_for("Event", &self.origin, op)
    }
}

//! `mpsync.RWLock`: the reader-writer lock (`mp_rwlock_t`), with owner-death reports
//! like `RLock`'s. `read()` / `write()` context managers live in Python (`__init__.py`).

use mpsync::{Deadline, Error};
use pyo3::prelude::*;

use crate::locks::DeathReport;
use crate::{Origin, Quiet, Request, make, to_py_about, try_then_block};

const RWLOCK_DIED: &str = "acquired, but a writer or a reader died holding the reader-writer lock";

/// A reader-writer lock shared between processes: any number of readers (up to
/// `RWLock.READERS` threads at once) or one writer. When a writer or a reader dies
/// holding it, its share comes back and the next acquisition told sets `owner_died`
/// (or raises `mpsync.OwnerDiedError`, with the lock held, if made with
/// `raise_owner_died=True`).
#[pyclass(module = "mpsync", name = "RWLock", subclass, frozen)]
pub struct PyRwLock {
    lock: Quiet<mpsync::RwLock>,
    origin: Origin,
    report: DeathReport,
}

impl PyRwLock {
    fn err<'a>(&'a self, op: &'a str) -> impl Fn(Error) -> PyErr + 'a {
        move |e| to_py_about(&crate::subject("RWLock", &self.origin), op, e)
    }

    /// One acquisition of either side: a try without releasing the GIL, then (if
    /// blocking) the wait with the GIL released and Ctrl-C honoured.
    fn acquire_side(
        &self,
        py: Python<'_>,
        write: bool,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        let op = if write {
            "acquire_write"
        } else {
            "acquire_read"
        };
        let lock = &self.lock;
        let once = move |d: Deadline| {
            if write {
                lock.acquire_write(d)
            } else {
                lock.acquire_read(d)
            }
        };
        let outcome = try_then_block(py, block, timeout, self.err(op), once)?;
        self.report.note(py, outcome)
    }
}

#[pymethods]
impl PyRwLock {
    /// How many threads may hold the read side at once (one more gets `BusyError`).
    #[classattr]
    const READERS: usize = mpsync::RwLock::READERS;

    /// `RWLock(*, name=None, create=False, exclusive=False, mode=0o600,
    /// any_owner=False, raise_owner_died=False)`.
    #[new]
    #[pyo3(signature = (*, name=None, create=false, exclusive=false, mode=0o600, any_owner=false, raise_owner_died=false))]
    fn new(
        name: Option<&str>,
        create: bool,
        exclusive: bool,
        mode: u32,
        any_owner: bool,
        raise_owner_died: bool,
    ) -> PyResult<Self> {
        let request = Request::new(
            "RWLock",
            "an mpsync.RWLock",
            name,
            create,
            exclusive,
            mode,
            any_owner,
        );
        let (lock, origin) = make(&request, mpsync::RwLock::open)?;
        Ok(PyRwLock {
            lock: Quiet::new(lock),
            origin,
            report: DeathReport::new(raise_owner_died, RWLOCK_DIED),
        })
    }

    /// `acquire_read(block=True, timeout=None) -> bool`: takes the read side (or
    /// re-enters it, without waiting). `RuntimeError` if the calling thread holds the
    /// write side; `BusyError` if `READERS` other threads hold the read side.
    #[pyo3(signature = (block=true, timeout=None))]
    fn acquire_read(&self, py: Python<'_>, block: bool, timeout: Option<f64>) -> PyResult<bool> {
        self.acquire_side(py, false, block, timeout)
    }

    /// `acquire_write(block=True, timeout=None) -> bool`: takes the write side.
    /// `RuntimeError` if the calling thread holds either side (an upgrade is refused).
    #[pyo3(signature = (block=true, timeout=None))]
    fn acquire_write(&self, py: Python<'_>, block: bool, timeout: Option<f64>) -> PyResult<bool> {
        self.acquire_side(py, true, block, timeout)
    }

    /// Releases one read level: `AssertionError` unless the calling thread holds it.
    fn release_read(&self) -> PyResult<()> {
        self.lock.release_read().map_err(self.err("release_read"))
    }

    /// Releases the write side: `AssertionError` unless the calling thread holds it.
    fn release_write(&self) -> PyResult<()> {
        self.lock.release_write().map_err(self.err("release_write"))
    }

    /// True if the most recent acquisition through this object was told that a
    /// writer or a reader died holding the lock.
    #[getter]
    fn owner_died(&self) -> bool {
        self.report.died()
    }

    /// The calling thread's read level (0 if it does not hold the read side).
    fn _read_level(&self) -> PyResult<u32> {
        self.lock.read_level().map_err(self.err("_read_level"))
    }

    /// Whether the calling thread holds the write side.
    fn _is_writer(&self) -> PyResult<bool> {
        self.lock.is_writer().map_err(self.err("_is_writer"))
    }

    /// The name a C program opens this lock by.
    #[getter]
    fn name(&self) -> &str {
        &self.origin.name
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let this = slf.get();
        let cls = slf.get_type().name()?;
        let level = this.lock.read_level().map_err(this.err("__repr__"))?;
        let writer = this.lock.is_writer().map_err(this.err("__repr__"))?;
        let mine = if writer {
            "writing".to_string()
        } else if level > 0 {
            format!("reading, level {level}")
        } else {
            "not held by this thread".to_string()
        };
        Ok(format!("<{cls} {:?}: {mine}>", this.origin.name))
    }

    fn __reduce__(&self, py: Python<'_>) -> PyResult<(PyObject, PyObject)> {
        let raise = self.report.raises().into_pyobject(py)?.to_owned();
        crate::locks::reduce(py, "RWLock", &self.origin, vec![raise.into_any().unbind()])
    }
}

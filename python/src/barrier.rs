//! `Barrier`: `multiprocessing.Barrier` (threading.Barrier's interface).

use std::sync::Mutex;

use mpsync::{Deadline, Error};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::{Origin, Request, blocking, err_for, make, timeout_deadline};

/// `multiprocessing.Barrier(parties, action=None, timeout=None)`: `wait` returns the
/// arrival index; a broken barrier raises `threading.BrokenBarrierError`. `action`
/// is run by the last thread to arrive, in whichever process that is (each process
/// passes its own callable; pickling keeps it if it pickles).
#[pyclass(module = "mpsync", name = "Barrier", subclass, frozen)]
pub struct PyBarrier {
    barrier: mpsync::Barrier,
    origin: Origin,
    action: Option<PyObject>,
    timeout: Option<f64>,
}

impl PyBarrier {
    /// Names this barrier in the errors of operation `op`.
    fn err<'a>(&'a self, op: &'a str) -> impl Fn(Error) -> PyErr + 'a {
        err_for("Barrier", &self.origin, op)
    }
}

#[pymethods]
impl PyBarrier {
    #[new]
    #[pyo3(signature = (parties, action=None, timeout=None, *, name=None, create=false, exclusive=false, mode=0o600, any_owner=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        parties: i64,
        action: Option<PyObject>,
        timeout: Option<f64>,
        name: Option<&str>,
        create: bool,
        exclusive: bool,
        mode: u32,
        any_owner: bool,
    ) -> PyResult<Self> {
        let parties = u32::try_from(parties)
            .ok()
            .filter(|&p| (1..=mpsync::Barrier::PARTIES_MAX).contains(&p))
            .ok_or_else(|| {
                PyValueError::new_err(if parties < 1 {
                    "parties must be > 0".to_string()
                } else {
                    format!(
                        "parties must be at most {}, not {parties}",
                        mpsync::Barrier::PARTIES_MAX
                    )
                })
            })?;
        let wanted = format!("a Barrier (parties={parties})");
        let request = Request::new("Barrier", wanted, name, create, exclusive, mode, any_owner);
        let (barrier, origin) = make(&request, |n, o| mpsync::Barrier::open(n, o, parties))?;
        Ok(PyBarrier {
            barrier,
            origin,
            action,
            timeout,
        })
    }

    /// `wait(timeout=None) -> int` (the barrier's default timeout if None).
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<u32> {
        let deadline: Deadline = timeout_deadline(timeout.or(self.timeout))?;
        let barrier = &self.barrier;
        let Some(action) = &self.action else {
            return blocking(py, self.err("wait"), || barrier.wait(deadline));
        };
        // The action runs on the C side's last arrival, with the GIL released: it
        // takes the GIL back to call Python, and parks an exception for re-raising.
        let raised: Mutex<Option<PyErr>> = Mutex::new(None);
        let result = blocking(py, self.err("wait"), || {
            barrier.wait_with(deadline, || {
                Python::with_gil(|py| match action.call0(py) {
                    Ok(_) => true,
                    Err(e) => {
                        if let Ok(mut slot) = raised.lock() {
                            *slot = Some(e);
                        }
                        false
                    }
                })
            })
        });
        if let Some(e) = raised.lock().ok().and_then(|mut s| s.take()) {
            return Err(e);
        }
        result
    }

    /// Breaks the barrier: waiters get `BrokenBarrierError`.
    fn abort(&self) -> PyResult<()> {
        self.barrier.abort().map_err(self.err("abort"))
    }

    /// Returns the barrier to its initial state.
    fn reset(&self) -> PyResult<()> {
        self.barrier.reset().map_err(self.err("reset"))
    }

    #[getter]
    fn parties(&self) -> PyResult<u32> {
        self.barrier.parties().map_err(self.err("parties"))
    }

    #[getter]
    fn n_waiting(&self) -> PyResult<u32> {
        self.barrier.n_waiting().map_err(self.err("n_waiting"))
    }

    #[getter]
    fn broken(&self) -> PyResult<bool> {
        self.barrier.is_broken().map_err(self.err("broken"))
    }

    #[getter]
    fn name(&self) -> &str {
        &self.origin.name
    }

    /// threading.Barrier's repr (which `multiprocessing.Barrier` inherits):
    /// `<mpsync.Barrier at 0x7f...: waiters=1/3>`, or `...: broken>`.
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let this = slf.get();
        let barrier = &this.barrier;
        let cls = slf.get_type();
        let at = format!(
            "<{}.{} at {:#x}:",
            cls.module()?,
            cls.qualname()?,
            slf.as_ptr() as usize
        );
        if barrier.is_broken().map_err(this.err("__repr__"))? {
            return Ok(format!("{at} broken>"));
        }
        let waiting = barrier.n_waiting().map_err(this.err("__repr__"))?;
        let parties = barrier.parties().map_err(this.err("__repr__"))?;
        Ok(format!("{at} waiters={waiting}/{parties}>"))
    }

    fn __reduce__(&self, py: Python<'_>) -> PyResult<(PyObject, PyObject)> {
        let rebuild = py.import("mpsync")?.getattr("_rebuild")?;
        let action = self
            .action
            .as_ref()
            .map(|a| a.clone_ref(py))
            .unwrap_or_else(|| py.None());
        let args = (
            "Barrier",
            self.origin.name.clone(),
            self.origin.any_owner,
            action,
            self.timeout,
        );
        Ok((
            rebuild.unbind(),
            args.into_pyobject(py)?.into_any().unbind(),
        ))
    }
}

//! `mpsync_cluster._native`: the Python face of the cluster library, over its Rust core
//! (`mpsync_cluster`), never its C ABI. `mpsync.cluster` re-exports it.
//!
//! Methods follow the local classes: `acquire(block=True, timeout=None) -> bool`,
//! `release()`, context managers, `Event.wait(timeout=None) -> bool`,
//! `Barrier.wait(timeout=None) -> int`; plus `.fence` and `.owner_died` on the locks.
//! Blocking calls release the GIL. Errors: `LeaseLostError` (a `RuntimeError`) once the
//! connection's lease expired; `OSError` when the cluster did not answer in time;
//! `ValueError` for bad arguments and over-release; `AssertionError` for an RLock
//! released by a thread that does not hold it; `threading.BrokenBarrierError`.

use std::time::Duration;

use mpsync_cluster::{
    Cluster, ClusterBarrier, ClusterEvent, ClusterLock, ClusterOptions, ClusterRLock,
    ClusterSemaphore, Deadline, Error, Outcome,
};
use pyo3::create_exception;
use pyo3::exceptions::{PyAssertionError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    mpsync_cluster,
    LeaseLostError,
    PyRuntimeError,
    "The connection's etcd lease expired (MP_ELEASE): everything it held was released by the cluster. Connect again."
);

/// The Python exception for `e`, naming `what`.
fn to_py(e: Error, what: &str) -> PyErr {
    let msg = format!("{what}: {e}");
    match e {
        Error::LeaseLost => LeaseLostError::new_err(msg),
        Error::System => {
            PyOSError::new_err(format!("{what}: the etcd cluster did not answer in time"))
        }
        Error::NotOwner => PyAssertionError::new_err(msg),
        Error::Broken => match Python::with_gil(|py| -> PyResult<PyErr> {
            let cls = py.import("threading")?.getattr("BrokenBarrierError")?;
            Ok(PyErr::from_value(cls.call1((msg.clone(),))?))
        }) {
            Ok(err) | Err(err) => err,
        },
        _ => PyValueError::new_err(msg),
    }
}

/// The deadline of multiprocessing's `(block, timeout)`.
fn deadline(block: bool, timeout: Option<f64>) -> PyResult<Deadline> {
    match (block, timeout) {
        (false, _) => Ok(Deadline::now()),
        (true, None) => Ok(Deadline::forever()),
        (true, Some(t)) if t.is_nan() => Err(PyValueError::new_err("timeout is NaN")),
        (true, Some(t)) => Ok(Deadline::after(
            Duration::try_from_secs_f64(t.max(0.0)).unwrap_or(Duration::MAX),
        )),
    }
}

/// A connection to an etcd cluster with its lease (`connect(endpoints, ttl=10, timeout=5.0)`).
#[pyclass(module = "mpsync.cluster", name = "Cluster", frozen)]
struct PyCluster(Cluster);

#[pyfunction]
#[pyo3(signature = (endpoints, ttl = 10, timeout = 5.0))]
fn connect(py: Python<'_>, endpoints: &str, ttl: i64, timeout: f64) -> PyResult<PyCluster> {
    let request_timeout =
        Duration::try_from_secs_f64(timeout).map_err(|_| PyValueError::new_err("bad timeout"))?;
    let options = ClusterOptions {
        ttl_secs: ttl,
        request_timeout,
    };
    py.allow_threads(|| Cluster::connect(endpoints, options))
        .map(PyCluster)
        .map_err(|e| to_py(e, &format!("connect({endpoints:?})")))
}

impl PyCluster {
    /// Opens the object `name` with `open` (GIL released) as a `wrap` Python object;
    /// errors name the call `what(name)`.
    fn open<T, P>(
        &self,
        py: Python<'_>,
        what: &str,
        name: &str,
        open: impl FnOnce(&Cluster) -> Result<T, Error> + Send,
        wrap: impl FnOnce(T) -> P,
    ) -> PyResult<P>
    where
        T: Send,
    {
        py.allow_threads(|| open(&self.0))
            .map(wrap)
            .map_err(|e| to_py(e, &format!("{what}({name:?})")))
    }
}

#[pymethods]
impl PyCluster {
    /// The lease TTL granted, in seconds.
    #[getter]
    fn ttl(&self) -> i64 {
        self.0.ttl()
    }

    /// True once the connection knows its lease is gone.
    #[getter]
    fn lease_lost(&self) -> bool {
        self.0.lease_lost()
    }

    /// Revokes the lease: releases everything this connection holds at once.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let c = self.0.clone();
        py.allow_threads(|| c.close())
            .map_err(|e| to_py(e, "Cluster.close"))
    }

    #[allow(non_snake_case)]
    fn Lock(&self, py: Python<'_>, name: &str) -> PyResult<PyLock> {
        self.open(py, "Lock", name, |c| ClusterLock::open(c, name), PyLock)
    }

    #[allow(non_snake_case)]
    fn RLock(&self, py: Python<'_>, name: &str) -> PyResult<PyRLock> {
        self.open(py, "RLock", name, |c| ClusterRLock::open(c, name), PyRLock)
    }

    #[allow(non_snake_case)]
    #[pyo3(signature = (name, value = 1))]
    fn Semaphore(&self, py: Python<'_>, name: &str, value: usize) -> PyResult<PySemaphore> {
        self.open(
            py,
            "Semaphore",
            name,
            |c| ClusterSemaphore::open(c, name, value),
            PySemaphore,
        )
    }

    /// The same as `Semaphore`: a cluster semaphore's units belong to their taker, so
    /// every cluster semaphore is bounded (docs/cluster.md).
    #[allow(non_snake_case)]
    #[pyo3(signature = (name, value = 1))]
    fn BoundedSemaphore(&self, py: Python<'_>, name: &str, value: usize) -> PyResult<PySemaphore> {
        self.Semaphore(py, name, value)
    }

    #[allow(non_snake_case)]
    fn Event(&self, py: Python<'_>, name: &str) -> PyResult<PyEvent> {
        self.open(py, "Event", name, |c| ClusterEvent::open(c, name), PyEvent)
    }

    #[allow(non_snake_case)]
    fn Barrier(&self, py: Python<'_>, name: &str, parties: usize) -> PyResult<PyBarrier> {
        self.open(
            py,
            "Barrier",
            name,
            |c| ClusterBarrier::open(c, name, parties),
            PyBarrier,
        )
    }
}

/// Generates the lock-like methods shared by Lock, RLock and Semaphore, plus `$extra`
/// methods (one `#[pymethods]` block per class).
macro_rules! lock_methods {
    ($ty:ident, $what:literal, { $($extra:tt)* }) => {
        #[pymethods]
        impl $ty {
            $($extra)*

            #[pyo3(signature = (block = true, timeout = None))]
            fn acquire(&self, py: Python<'_>, block: bool, timeout: Option<f64>) -> PyResult<bool> {
                let d = deadline(block, timeout)?;
                let out = py.allow_threads(|| self.0.acquire(d)).map_err(|e| self.err(e, "acquire"))?;
                Ok(out != Outcome::Timeout)
            }

            fn release(&self, py: Python<'_>) -> PyResult<()> {
                py.allow_threads(|| self.0.release()).map_err(|e| self.err(e, "release"))
            }

            fn __enter__(&self, py: Python<'_>) -> PyResult<bool> {
                self.acquire(py, true, None)
            }

            #[pyo3(signature = (*_args))]
            fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
                self.release(py)
            }

            /// The fencing token of the current hold (strictly increasing across holders).
            #[getter]
            fn fence(&self) -> PyResult<i64> {
                self.0.fence().map_err(|e| self.err(e, "fence"))
            }

            #[getter]
            fn name(&self) -> String {
                self.0.name().to_string()
            }
        }

        impl $ty {
            fn err(&self, e: Error, call: &str) -> PyErr {
                to_py(e, &format!("{}({:?}).{call}", $what, self.0.name()))
            }
        }
    };
}

/// The two locks: the lock-like methods plus fenced writes and owner death.
macro_rules! owner_lock {
    ($ty:ident, $what:literal) => {
        lock_methods!($ty, $what, {
            /// Whether the last acquire found the previous holder dead (lease expired).
            #[getter]
            fn owner_died(&self) -> bool {
                self.0.owner_died()
            }

            /// Writes etcd `key = value` only while holding; the write's revision.
            fn fenced_put(&self, py: Python<'_>, key: &[u8], value: &[u8]) -> PyResult<i64> {
                py.allow_threads(|| self.0.fenced_put(key, value))
                    .map_err(|e| self.err(e, "fenced_put"))
            }
        });
    };
}

#[pyclass(module = "mpsync.cluster", name = "Lock", frozen)]
struct PyLock(ClusterLock);
owner_lock!(PyLock, "Lock");

#[pyclass(module = "mpsync.cluster", name = "RLock", frozen)]
struct PyRLock(ClusterRLock);
owner_lock!(PyRLock, "RLock");

#[pyclass(module = "mpsync.cluster", name = "Semaphore", frozen)]
struct PySemaphore(ClusterSemaphore);
lock_methods!(PySemaphore, "Semaphore", {
    /// The semaphore's number of units.
    #[getter]
    fn value(&self) -> usize {
        self.0.value()
    }
});

#[pyclass(module = "mpsync.cluster", name = "Event", frozen)]
struct PyEvent(ClusterEvent);

#[pymethods]
impl PyEvent {
    fn set(&self, py: Python<'_>) -> PyResult<()> {
        py.allow_threads(|| self.0.set())
            .map_err(|e| self.err(e, "set"))
    }

    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        py.allow_threads(|| self.0.clear())
            .map_err(|e| self.err(e, "clear"))
    }

    fn is_set(&self, py: Python<'_>) -> PyResult<bool> {
        py.allow_threads(|| self.0.is_set())
            .map_err(|e| self.err(e, "is_set"))
    }

    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let d = deadline(true, timeout)?;
        py.allow_threads(|| self.0.wait(d))
            .map_err(|e| self.err(e, "wait"))
    }
}

impl PyEvent {
    fn err(&self, e: Error, call: &str) -> PyErr {
        to_py(e, &format!("Event({:?}).{call}", self.0.name()))
    }
}

#[pyclass(module = "mpsync.cluster", name = "Barrier", frozen)]
struct PyBarrier(ClusterBarrier);

#[pymethods]
impl PyBarrier {
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<usize> {
        let d = deadline(true, timeout)?;
        py.allow_threads(|| self.0.wait(d))
            .map_err(|e| self.err(e, "wait"))
    }

    fn abort(&self, py: Python<'_>) -> PyResult<()> {
        py.allow_threads(|| self.0.abort())
            .map_err(|e| self.err(e, "abort"))
    }

    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        py.allow_threads(|| self.0.reset())
            .map_err(|e| self.err(e, "reset"))
    }

    #[getter]
    fn parties(&self) -> usize {
        self.0.parties()
    }

    #[getter]
    fn n_waiting(&self, py: Python<'_>) -> PyResult<usize> {
        py.allow_threads(|| self.0.n_waiting())
            .map_err(|e| self.err(e, "n_waiting"))
    }

    #[getter]
    fn broken(&self, py: Python<'_>) -> PyResult<bool> {
        py.allow_threads(|| self.0.broken())
            .map_err(|e| self.err(e, "broken"))
    }
}

impl PyBarrier {
    fn err(&self, e: Error, call: &str) -> PyErr {
        to_py(e, &format!("Barrier({:?}).{call}", self.0.name()))
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyCluster>()?;
    m.add_class::<PyLock>()?;
    m.add_class::<PyRLock>()?;
    m.add_class::<PySemaphore>()?;
    m.add_class::<PyEvent>()?;
    m.add_class::<PyBarrier>()?;
    m.add_function(wrap_pyfunction!(connect, m)?)?;
    m.add("LeaseLostError", py.get_type::<LeaseLostError>())?;
    m.add("BoundedSemaphore", py.get_type::<PySemaphore>())?;
    Ok(())
}

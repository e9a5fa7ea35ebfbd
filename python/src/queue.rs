//! `mpsync.Queue`, `SimpleQueue` and `JoinableQueue` (their native half; the Python
//! classes in `mpsync/__init__.py` add what needs no speed): a shared-memory queue of
//! pickled objects (or raw bytes) on the crate's [`mpsync::Queue`].
//!
//! Each `put` pickles in the calling thread and makes one library call; each `get` makes
//! one library call and unpickles. No feeder thread: a put is in the queue when it
//! returns (so `qsize()` is exact, and a process may exit right after it). Both first
//! try without releasing the GIL (never sleeping); a wait that may sleep releases it.

use std::sync::atomic::{AtomicBool, Ordering};

use mpsync::{Deadline, Error};
use pyo3::exceptions::{PyEOFError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyList, PyTuple, PyType};

use crate::{Origin, Request, blocking, deadline_of, err_for, make};

/// Default ring size of a Python queue: 1 MiB of `/dev/shm`, touched only as used.
pub(crate) const DEFAULT_CAPACITY: usize = 1 << 20;

/// `pickle.dumps`, `pickle.loads`, `queue.Empty`, `queue.Full`, imported once.
struct Imports {
    dumps: PyObject,
    loads: PyObject,
    empty: Py<PyType>,
    full: Py<PyType>,
}

static IMPORTS: GILOnceCell<Imports> = GILOnceCell::new();

fn imports(py: Python<'_>) -> PyResult<&Imports> {
    IMPORTS.get_or_try_init(py, || {
        let pickle = py.import("pickle")?;
        let queue = py.import("queue")?;
        Ok(Imports {
            dumps: pickle.getattr("dumps")?.unbind(),
            loads: pickle.getattr("loads")?.unbind(),
            empty: queue.getattr("Empty")?.downcast_into::<PyType>()?.unbind(),
            full: queue.getattr("Full")?.downcast_into::<PyType>()?.unbind(),
        })
    })
}

fn raise(py: Python<'_>, class: &Py<PyType>) -> PyErr {
    PyErr::from_type(class.bind(py).clone(), ())
}

/// The native queue under `mpsync.Queue`, `SimpleQueue` and `JoinableQueue`.
#[pyclass(module = "mpsync", name = "_Queue", subclass, frozen)]
pub struct PyQueue {
    q: mpsync::Queue,
    origin: Origin,
    /// `Queue(maxsize)` as given (0: no message limit).
    maxsize: u64,
    capacity: usize,
    /// Messages are bytes, passed through unpickled.
    raw: bool,
    /// `close()` was called in this process: its puts and gets raise `ValueError`.
    closed: AtomicBool,
}

impl PyQueue {
    fn err<'a>(&'a self, op: &'a str) -> impl Fn(Error) -> PyErr + 'a {
        err_for("Queue", &self.origin, op)
    }

    fn check_open(&self, slf: &Bound<'_, Self>) -> PyResult<()> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(PyValueError::new_err(format!(
                "Queue {} is closed",
                slf.repr()?
            )));
        }
        Ok(())
    }

    /// The message for `obj`: its pickle, or (raw) its bytes.
    fn encode(&self, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
        if self.raw {
            return obj.extract::<Vec<u8>>();
        }
        let pickled = imports(py)?.dumps.bind(py).call1((obj, 5))?;
        Ok(pickled.downcast::<PyBytes>()?.as_bytes().to_vec())
    }

    /// The pickle of `obj` as a Python bytes object (no copy to Rust).
    fn encode_bytes<'py>(
        &self,
        py: Python<'py>,
        obj: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if self.raw {
            return Ok(obj.clone());
        }
        imports(py)?.dumps.bind(py).call1((obj, 5))
    }

    fn decode(&self, py: Python<'_>, msg: &[u8]) -> PyResult<PyObject> {
        let bytes = PyBytes::new(py, msg);
        if self.raw {
            return Ok(bytes.into_any().unbind());
        }
        Ok(imports(py)?.loads.bind(py).call1((bytes,))?.unbind())
    }

    /// A library error of `op`: end of stream is `ValueError` for a put and `EOFError`
    /// for a get; a message that can never fit is `ValueError` naming its size.
    fn fail(&self, op: &str, e: Error) -> PyErr {
        match e {
            Error::Closed if op.starts_with("get") => PyEOFError::new_err(format!(
                "{}: {op}: end of stream, and no message left: {e}",
                crate::subject("Queue", &self.origin)
            )),
            Error::MessageTooBig => PyValueError::new_err(format!(
                "{}: {op}: a pickled message of more than {} bytes (this queue's capacity, \
                 {} bytes, minus 4), or more messages than maxsize, can never fit: {e}",
                crate::subject("Queue", &self.origin),
                self.capacity.saturating_sub(4),
                self.capacity
            )),
            _ => self.err(op)(e),
        }
    }

    /// A put (`put(deadline)`: true if done) tried once with the GIL held, then, if
    /// `block` says so, waited for with the GIL released; `queue.Full` at the deadline.
    fn put_with(
        &self,
        py: Python<'_>,
        op: &str,
        block: bool,
        timeout: Option<f64>,
        put: impl Fn(Deadline) -> Result<bool, Error> + Send + Sync,
    ) -> PyResult<()> {
        let done = match put(Deadline::now()) {
            Ok(true) => true,
            Ok(false) if !block => false,
            Ok(false) => {
                let deadline = deadline_of(block, timeout)?;
                blocking(py, |e| self.fail(op, e), || put(deadline))?
            }
            Err(e) => return Err(self.fail(op, e)),
        };
        if done {
            Ok(())
        } else {
            Err(raise(py, &imports(py)?.full))
        }
    }

    /// One put of `msg`, waiting as `(block, timeout)` say.
    fn put_bytes(
        &self,
        py: Python<'_>,
        msg: &[u8],
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        self.put_with(py, "put", block, timeout, |d| self.q.put(msg, d))
    }
}

thread_local! {
    /// Where gets copy messages before they become Python bytes (reused, never shrunk).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[pymethods]
impl PyQueue {
    /// Internal: use `mpsync.Queue`, `SimpleQueue` or `JoinableQueue`.
    #[new]
    #[pyo3(signature = (maxsize=0, *, capacity=DEFAULT_CAPACITY, raw=false, name=None, create=false, exclusive=false, mode=0o600, any_owner=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        maxsize: i64,
        capacity: usize,
        raw: bool,
        name: Option<&str>,
        create: bool,
        exclusive: bool,
        mode: u32,
        any_owner: bool,
    ) -> PyResult<Self> {
        let maxsize = u64::try_from(maxsize).unwrap_or(0);
        let wanted = format!("a queue of capacity {capacity}");
        let mut request = Request::new("Queue", wanted, name, create, exclusive, mode, any_owner);
        if !(8..=1usize << 40).contains(&capacity) {
            request.invalid_values =
                Some(format!("capacity must be 8 bytes to 1 TiB, not {capacity}"));
        }
        let (q, origin) = make(&request, |n, o| {
            mpsync::Queue::open_bounded(n, o, capacity, maxsize)
        })?;
        let maxsize = q.max_messages().unwrap_or(maxsize);
        Ok(PyQueue {
            q,
            origin,
            maxsize,
            capacity,
            raw,
            closed: AtomicBool::new(false),
        })
    }

    /// `put(obj, block=True, timeout=None)`: `queue.Full` if there is no room in time.
    /// An object that cannot be pickled is reported as multiprocessing's feeder thread
    /// does (`_on_queue_feeder_error`, when the class has it) and dropped; without that
    /// hook (SimpleQueue) the pickling error is raised.
    #[pyo3(signature = (obj, block=true, timeout=None))]
    fn put(
        slf: &Bound<'_, Self>,
        obj: &Bound<'_, PyAny>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let (py, this) = (slf.py(), slf.get());
        this.check_open(slf)?;
        let msg = match this.encode_bytes(py, obj) {
            Ok(m) => m,
            Err(e) => return feeder_error(slf, e, obj),
        };
        if this.raw {
            let bytes: Vec<u8> = msg.extract()?;
            return this.put_bytes(py, &bytes, block, timeout);
        }
        let bytes = msg.downcast::<PyBytes>()?.as_bytes();
        this.put_bytes(py, bytes, block, timeout)
    }

    /// `put_nowait(obj)`: `put(obj, False)`.
    fn put_nowait(slf: &Bound<'_, Self>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        PyQueue::put(slf, obj, false, None)
    }

    /// `get(block=True, timeout=None)`: `queue.Empty` if none arrives in time;
    /// `EOFError` once end of stream was declared and the queue is empty.
    #[pyo3(signature = (block=true, timeout=None))]
    fn get(slf: &Bound<'_, Self>, block: bool, timeout: Option<f64>) -> PyResult<PyObject> {
        let (py, this) = (slf.py(), slf.get());
        this.check_open(slf)?;
        let first = SCRATCH.with(|s| {
            let mut buf = s.borrow_mut();
            match this.q.get(&mut buf, Deadline::now()) {
                Ok(true) => Ok(Some(this.decode(py, &buf))),
                Ok(false) => Ok(None),
                Err(e) => Err(this.fail("get", e)),
            }
        })?;
        if let Some(obj) = first {
            return obj;
        }
        if !block {
            return Err(raise(py, &imports(py)?.empty));
        }
        let deadline = deadline_of(block, timeout)?;
        let q = &this.q;
        let got = blocking(
            py,
            |e| this.fail("get", e),
            || {
                let mut m = Vec::new();
                q.get(&mut m, deadline).map(|got| got.then_some(m))
            },
        )?;
        match got {
            Some(msg) => this.decode(py, &msg),
            None => Err(raise(py, &imports(py)?.empty)),
        }
    }

    /// `get_nowait()`: `get(False)`.
    fn get_nowait(slf: &Bound<'_, Self>) -> PyResult<PyObject> {
        PyQueue::get(slf, false, None)
    }

    /// `put_many(objs, block=True, timeout=None)`: all of them or none, one after
    /// another, under one acquisition of the queue's lock; `queue.Full` if they do not
    /// fit in time.
    #[pyo3(signature = (objs, block=true, timeout=None))]
    fn put_many(
        slf: &Bound<'_, Self>,
        objs: &Bound<'_, PyAny>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let (py, this) = (slf.py(), slf.get());
        this.check_open(slf)?;
        let mut msgs = Vec::new();
        for obj in objs.try_iter()? {
            msgs.push(this.encode(py, &obj?)?);
        }
        let slices: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
        this.put_with(py, "put_many", block, timeout, |d| {
            this.q.put_many(&slices, d)
        })
    }

    /// `get_many(block=True, timeout=None, max_messages_to_get=1000)`: a list of at
    /// least one and at most `max_messages_to_get` objects, taken under one acquisition
    /// of the queue's lock; `queue.Empty` if none arrives in time.
    #[pyo3(signature = (block=true, timeout=None, max_messages_to_get=1000))]
    fn get_many<'py>(
        slf: &Bound<'py, Self>,
        block: bool,
        timeout: Option<f64>,
        max_messages_to_get: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let (py, this) = (slf.py(), slf.get());
        this.check_open(slf)?;
        let max = max_messages_to_get.max(1);
        let mut out = Vec::new();
        let mut n = this
            .q
            .get_many(&mut out, max, Deadline::now())
            .map_err(|e| this.fail("get_many", e))?;
        if n == 0 && block {
            let deadline = deadline_of(block, timeout)?;
            let q = &this.q;
            let (m, got) = blocking(
                py,
                |e| this.fail("get_many", e),
                || {
                    let mut v = Vec::new();
                    q.get_many(&mut v, max, deadline).map(|n| (n, v))
                },
            )?;
            n = m;
            out = got;
        }
        if n == 0 {
            return Err(raise(py, &imports(py)?.empty));
        }
        let items = out
            .iter()
            .map(|m| this.decode(py, m))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// Messages in the queue now.
    fn qsize(&self) -> PyResult<u64> {
        self.q.len().map_err(self.err("qsize"))
    }

    /// True if no message is in the queue now.
    fn empty(&self) -> PyResult<bool> {
        Ok(self.qsize()? == 0)
    }

    /// True if the queue holds `maxsize` messages (never for `maxsize == 0`: the byte
    /// capacity then bounds it, which a put's size decides).
    fn full(&self) -> PyResult<bool> {
        Ok(self.maxsize != 0 && self.qsize()? >= self.maxsize)
    }

    /// `close()`: this process puts and gets no more (its later calls raise
    /// `ValueError`). Other processes are not affected (see `close_producers`).
    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// True after `close()` in this process.
    #[getter]
    fn _closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// End of stream for every process: later puts raise `ValueError`; gets return what
    /// is left, then raise `EOFError` instead of waiting.
    fn close_producers(&self) -> PyResult<()> {
        self.q
            .close_producers()
            .map_err(self.err("close_producers"))
    }

    /// Internal: `JoinableQueue.task_done`.
    fn _task_done(&self) -> PyResult<()> {
        self.q.task_done(1).map_err(|e| match e {
            Error::Overflow => PyValueError::new_err("task_done() called too many times"),
            e => self.err("task_done")(e),
        })
    }

    /// Internal: `JoinableQueue.join`: waits until every put message is done; false at
    /// the deadline.
    #[pyo3(signature = (timeout=None))]
    fn _join(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let deadline = deadline_of(true, timeout)?;
        let q = &self.q;
        blocking(py, self.err("join"), || q.join(deadline))
    }

    /// Internal: `JoinableQueue.abandoned`: unfinished messages whose consumer process
    /// died before marking them done (found by a `join`).
    fn _abandoned(&self) -> PyResult<u64> {
        self.q.abandoned().map_err(self.err("abandoned"))
    }

    /// The name other processes (and C programs: `mp_queue_open`) open it by.
    #[getter]
    fn name(&self) -> &str {
        &self.origin.name
    }

    /// The ring's size in bytes (a message takes 4 bytes more than its pickle).
    #[getter]
    fn capacity(&self) -> usize {
        self.capacity
    }

    /// `maxsize` as given (0: no message limit).
    #[getter]
    fn maxsize(&self) -> u64 {
        self.maxsize
    }

    /// True for a queue of raw bytes (no pickling).
    #[getter]
    fn raw(&self) -> bool {
        self.raw
    }

    fn __reduce__(slf: &Bound<'_, Self>) -> PyResult<(PyObject, PyObject)> {
        let (py, this) = (slf.py(), slf.get());
        let rebuild = py.import("mpsync")?.getattr("_rebuild")?;
        let cls = slf.get_type().name()?.to_string();
        let state = this.origin.state(py)?;
        let mut args: Vec<PyObject> = vec!["Queue".into_pyobject(py)?.into_any().unbind()];
        for item in state.iter() {
            args.push(item.unbind());
        }
        args.push(cls.into_pyobject(py)?.into_any().unbind());
        args.push(this.maxsize.into_pyobject(py)?.into_any().unbind());
        args.push(this.capacity.into_pyobject(py)?.into_any().unbind());
        args.push(this.raw.into_pyobject(py)?.to_owned().into_any().unbind());
        Ok((
            rebuild.unbind(),
            PyTuple::new(py, args)?.into_any().unbind(),
        ))
    }
}

/// A put whose object could not be pickled: `_on_queue_feeder_error(e, obj)` if the
/// class has it (multiprocessing's Queue reports and drops the object), else raise.
fn feeder_error(slf: &Bound<'_, PyQueue>, e: PyErr, obj: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = slf.py();
    match slf.getattr("_on_queue_feeder_error") {
        Ok(hook) => {
            hook.call1((e.value(py), obj))?;
            Ok(())
        }
        Err(_) => Err(e),
    }
}

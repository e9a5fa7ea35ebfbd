//! `mpsync._mpsync`: the Python classes of the `mpsync` package, on the crate's safe
//! Rust API (never its internals). The pure-Python half (`python/mpsync/`) adds the
//! classes that need no speed (Condition, the Value/Array factories, SharedMemory,
//! ShareableList) and pickling support.
//!
//! Conventions shared by every blocking call:
//! * `block`/`timeout` follow `multiprocessing`: `block=False` tries once and ignores
//!   the timeout; `timeout=None` waits forever; a negative or zero timeout tries once.
//! * An uncontended acquire is tried first without releasing the GIL (it never
//!   sleeps); every wait that may sleep releases the GIL.
//! * When the library reports `MP_EINTR` (a signal arrived), Python's signal handlers
//!   run; if one raises (Ctrl-C: `KeyboardInterrupt`), the exception propagates,
//!   otherwise the wait resumes for the time left.

use std::ffi::{CStr, CString};
use std::time::Duration;

use mpsync::{Deadline, Error, OpenOptions, Outcome};
use pyo3::exceptions::{
    PyAssertionError, PyFileExistsError, PyFileNotFoundError, PyIndexError, PyMemoryError,
    PyOSError, PyPermissionError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyTuple, PyType};

pub(crate) use errors::{Request, err_for, subject, to_py_about};

mod array;
mod barrier;
mod errors;
mod fast;
mod locks;
mod queue;
mod raw_view;
mod rwlock;
mod shm;

/// The library's status table as the safe API gives it, `(name, code, message)` for
/// every code in table order (outcomes, then errors), exported as
/// `_mpsync.STATUS_CODES`. This file keeps no copy of names, numbers or texts: a raised
/// exception's message is its row's text and name (`Error`'s `Display`), and the
/// docstrings of the package's own exception classes are their rows (see [`OwnError`]).
fn status_codes() -> Vec<(&'static str, i32, &'static str)> {
    let outcomes = Outcome::ALL
        .iter()
        .map(|o| (o.name(), o.code(), o.message()));
    let errors = Error::ALL.iter().map(|e| (e.name(), e.code(), e.message()));
    outcomes.chain(errors).collect()
}

/// An exception class of the package's own, for an error that Python has no class for.
/// Made on first use, with the error's row of the status table as its docstring, plus a
/// note on what it means in Python.
struct OwnError {
    error: Error,
    /// The class's qualified name: module `mpsync`, where the package exports it (so
    /// that instances pickle by reference).
    name: &'static CStr,
    /// The Python class it derives from.
    base: fn(Python<'_>) -> Bound<'_, PyType>,
    note: &'static str,
    class: GILOnceCell<Py<PyType>>,
}

impl OwnError {
    fn class<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyType>> {
        let class = self.class.get_or_try_init(py, || {
            let doc = format!(
                "{}: {}. {}",
                self.error.name(),
                self.error.message(),
                self.note
            );
            // The table's texts hold no NUL; the fallback is unreachable.
            let doc = CString::new(doc).unwrap_or_default();
            PyErr::new_type(py, self.name, Some(&doc), Some(&(self.base)(py)), None)
        })?;
        Ok(class.bind(py))
    }

    /// An instance with message `msg` (or the error of making the class).
    pub(crate) fn new_err(&self, msg: String) -> PyErr {
        Python::with_gil(|py| match self.class(py) {
            Ok(class) => PyErr::from_type(class.clone(), msg),
            Err(err) => err,
        })
    }
}

/// `mpsync.BadObjectError`, a `ValueError`.
pub(crate) static BAD_OBJECT_ERROR: OwnError = OwnError {
    error: Error::BadObject,
    name: c"mpsync.BadObjectError",
    base: |py| py.get_type::<PyValueError>(),
    note: "Also raised when a name holds an object of another type, or with other parameters.",
    class: GILOnceCell::new(),
};

/// `mpsync.BusyError`, a `RuntimeError`.
static BUSY_ERROR: OwnError = OwnError {
    error: Error::Busy,
    name: c"mpsync.BusyError",
    base: |py| py.get_type::<PyRuntimeError>(),
    note: "E.g. closed while this thread holds a lock inside it.",
    class: GILOnceCell::new(),
};

/// Turns a library error into the Python exception `multiprocessing` would raise, with
/// message `msg`, which names the object (errors.rs: `Request::error` for constructors,
/// `to_py_for` for calls on an existing object).
pub(crate) fn to_py_with(e: Error, msg: String) -> PyErr {
    match e {
        Error::Invalid => PyValueError::new_err(msg),
        Error::BadObject => BAD_OBJECT_ERROR.new_err(msg),
        Error::NotOwner => PyAssertionError::new_err(msg),
        Error::Overflow => PyValueError::new_err(msg),
        Error::Interrupted => PyOSError::new_err((libc::EINTR, msg)),
        Error::Broken => match broken_barrier_error(msg) {
            Ok(err) => err,
            Err(err) => err,
        },
        Error::Exists => PyFileExistsError::new_err((libc::EEXIST, msg)),
        Error::NotFound => PyFileNotFoundError::new_err((libc::ENOENT, msg)),
        Error::PermissionDenied => PyPermissionError::new_err((libc::EACCES, msg)),
        Error::NoMemory => PyMemoryError::new_err(msg),
        Error::Busy => BUSY_ERROR.new_err(msg),
        Error::OutOfRange => PyIndexError::new_err(msg),
        Error::System => PyOSError::new_err(msg),
        Error::Deadlock => PyRuntimeError::new_err(msg),
        Error::MessageTooBig | Error::Closed => PyValueError::new_err(msg),
        Error::BufferTooSmall => PyMemoryError::new_err(msg),
        // Only the cluster library (mpsync.cluster) reports it.
        Error::LeaseLost => PyRuntimeError::new_err(msg),
    }
}

/// `threading.BrokenBarrierError(msg)`.
fn broken_barrier_error(msg: String) -> PyResult<PyErr> {
    Python::with_gil(|py| {
        let cls = py.import("threading")?.getattr("BrokenBarrierError")?;
        Ok(PyErr::from_value(cls.call1((msg,))?))
    })
}

/// The deadline `multiprocessing` gives `(block, timeout)`.
pub(crate) fn deadline_of(block: bool, timeout: Option<f64>) -> PyResult<Deadline> {
    if !block {
        return Ok(Deadline::now());
    }
    timeout_deadline(timeout)
}

/// `timeout=None` waits forever; negative, zero or NaN tries once.
pub(crate) fn timeout_deadline(timeout: Option<f64>) -> PyResult<Deadline> {
    match timeout {
        None => Ok(Deadline::forever()),
        Some(t) if t.is_nan() || t <= 0.0 => Ok(Deadline::now()),
        Some(t) => Ok(Duration::try_from_secs_f64(t)
            .map(Deadline::after)
            .unwrap_or(Deadline::forever())),
    }
}

/// Runs a blocking call with the GIL released, and on `Error::Interrupted` runs
/// Python's signal handlers and retries (the call reuses its deadline, so the total
/// wait never grows) unless a handler raised. Any other error becomes `on_err(e)`
/// (which names the object: [`to_py_for`]).
pub(crate) fn blocking<T: Send>(
    py: Python<'_>,
    on_err: impl FnOnce(Error) -> PyErr,
    f: impl Fn() -> Result<T, Error> + Send + Sync,
) -> PyResult<T> {
    // A signal that arrived since the interpreter last looked (e.g. just before this
    // call) has no wait to interrupt: run its handler now rather than after the wait.
    py.check_signals()?;
    loop {
        match py.allow_threads(&f) {
            Err(Error::Interrupted) => py.check_signals()?,
            other => return other.map_err(on_err),
        }
    }
}

/// An acquisition as `multiprocessing` makes one: `once` tried without waiting (GIL
/// held: it never sleeps); if that timed out and `block`, `once` again with the
/// deadline of `timeout`, in [`blocking`]. `on_err` names the object in errors.
pub(crate) fn try_then_block(
    py: Python<'_>,
    block: bool,
    timeout: Option<f64>,
    on_err: impl FnOnce(Error) -> PyErr,
    once: impl Fn(Deadline) -> Result<Outcome, Error> + Send + Sync,
) -> PyResult<Outcome> {
    match once(Deadline::now()) {
        Ok(Outcome::Timeout) if block => {
            let deadline = deadline_of(block, timeout)?;
            blocking(py, on_err, || once(deadline))
        }
        Ok(o) => Ok(o),
        Err(e) => Err(on_err(e)),
    }
}

/// A fresh name for an object created without one: the core's process-owned
/// anonymous name, which records this process's identity. Such objects are named
/// (rather than anonymous mappings) so that pickling can hand them to spawn and
/// forkserver children, which open them by name; the creating process removes the
/// name when the object is collected, or at exit, and if it is killed first, the next
/// `import mpsync` anywhere removes it (`sweep_orphans`).
pub(crate) fn anonymous_name() -> String {
    mpsync::anonymous_name()
}

/// Registry of the anonymous names this process created and still owns.
static OWNED: std::sync::Mutex<Vec<(u32, String)>> = std::sync::Mutex::new(Vec::new());

/// Creates an object under a fresh anonymous name with `create(name, options)`,
/// retrying on a name collision, and records the name for removal.
pub(crate) fn create_anonymous<T>(
    mode: u32,
    create: impl Fn(&str, &OpenOptions) -> Result<T, Error>,
) -> Result<(T, String), Error> {
    let options = OpenOptions::new().create(true).exclusive(true).mode(mode);
    let mut last = Error::Exists;
    for _ in 0..16 {
        let name = anonymous_name();
        match create(&name, &options) {
            Ok(obj) => {
                if let Ok(mut owned) = OWNED.lock() {
                    owned.push((std::process::id(), name.clone()));
                }
                return Ok((obj, name));
            }
            Err(Error::Exists) => last = Error::Exists,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Removes an anonymous name if this process created it (called when the creating
/// object is dropped). Fork children inherit the record but not the ownership.
pub(crate) fn release_anonymous(name: &str) {
    let pid = std::process::id();
    if let Ok(mut owned) = OWNED.lock() {
        if let Some(i) = owned.iter().position(|(p, n)| *p == pid && n == name) {
            owned.swap_remove(i);
            let _ = mpsync::unlink(name);
        }
    }
}

/// Removes every anonymous name this process still owns (at interpreter exit).
#[pyfunction]
fn unlink_anonymous() {
    let pid = std::process::id();
    if let Ok(mut owned) = OWNED.lock() {
        owned.retain(|(p, n)| {
            if *p == pid {
                let _ = mpsync::unlink(n);
                false
            } else {
                true
            }
        });
    }
}

/// Removes the names of unnamed objects whose creating process provably no longer
/// exists (killed, or crashed, before it could remove them); returns how many. Run at
/// import; never raises (a failure to list `/dev/shm` counts as nothing removed).
#[pyfunction]
fn sweep_orphans(py: Python<'_>) -> usize {
    py.allow_threads(|| mpsync::sweep_orphans().unwrap_or(0))
}

/// Removes the name of a named object or shared-memory block.
#[pyfunction]
fn unlink(name: &str) -> PyResult<()> {
    let other = |e: Error| to_py_with(e, format!("unlink: {}: {e}", errors::shown(name)));
    mpsync::unlink(name).map_err(|e| match e {
        Error::Invalid => match errors::name_problem(name) {
            Some(problem) => PyValueError::new_err(format!("unlink: {problem} ({})", e.name())),
            None => other(e),
        },
        Error::NotFound => PyFileNotFoundError::new_err((
            libc::ENOENT,
            format!("no object or block of that name to unlink ({})", e.name()),
            name.to_string(),
        )),
        Error::PermissionDenied => PyPermissionError::new_err((
            libc::EACCES,
            format!("cannot unlink: permission denied ({})", e.name()),
            name.to_string(),
        )),
        e => other(e),
    })
}

/// A handle that may be dropped while the calling thread holds a lock inside its
/// mapping: an RLock, an undo semaphore whose units it holds, or a synchronized array.
/// The crate's own drop then keeps the mapping (unmapping memory that holds a lock the
/// thread owns would corrupt the thread's robust list) and prints a line to standard
/// error. Python decides when objects are dropped (collection, interpreter exit), and
/// a program may exit while holding a lock (the next acquirer is told of the owner's
/// death): so this wrapper keeps the mapping the same way, silently.
pub(crate) struct Quiet<T: Close>(std::mem::ManuallyDrop<T>);

/// The crate's `close(self)`, which hands the handle back when it cannot close it.
pub(crate) trait Close: Sized {
    fn close_or_return(self) -> Result<(), (Self, Error)>;
}

/// `Close` for handle types whose inherent `close(self)` is it.
macro_rules! close_is_inherent {
    ($($handle:ty),* $(,)?) => {$(
        impl Close for $handle {
            fn close_or_return(self) -> Result<(), (Self, Error)> {
                self.close()
            }
        }
    )*};
}

close_is_inherent!(
    mpsync::RLock,
    mpsync::RwLock,
    mpsync::Semaphore,
    mpsync::UndoSemaphore,
    mpsync::SharedArray,
);

impl<T: Close> Quiet<T> {
    pub(crate) fn new(handle: T) -> Self {
        Quiet(std::mem::ManuallyDrop::new(handle))
    }
}

impl<T: Close> std::ops::Deref for Quiet<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Close> Drop for Quiet<T> {
    fn drop(&mut self) {
        // SAFETY: taken once, here; the wrapper is never used again.
        let handle = unsafe { std::mem::ManuallyDrop::take(&mut self.0) };
        if let Err((handle, _busy)) = handle.close_or_return() {
            // Still mapped and still held: keep the mapping, as the crate's drop does.
            std::mem::forget(handle);
        }
    }
}

/// Where a Python object's shared object came from: the pickling state.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    /// The name it can be opened by.
    pub name: String,
    /// True if this process made it without a name (it removes the name).
    pub anonymous: bool,
    /// Opened with `any_owner`: re-opened the same way when unpickled.
    pub any_owner: bool,
}

impl Origin {
    /// The state `_rebuild` gets: (name, any_owner).
    pub(crate) fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(
            py,
            [
                self.name.clone().into_pyobject(py)?.into_any(),
                self.any_owner.into_pyobject(py)?.to_owned().into_any(),
            ],
        )
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        if self.anonymous {
            release_anonymous(&self.name);
        }
    }
}

/// Builds the object `request` describes, anonymous (fresh name) or named, and its
/// origin; errors name the object and say why (errors.rs).
pub(crate) fn make<T>(
    request: &Request<'_>,
    open: impl Fn(&str, &OpenOptions) -> Result<T, Error>,
) -> PyResult<(T, Origin)> {
    match request.name {
        Some(n) => {
            let obj = open(n, &request.options()).map_err(|e| request.error(e))?;
            Ok((
                obj,
                Origin {
                    name: n.trim_start_matches('/').to_string(),
                    anonymous: false,
                    any_owner: request.any_owner,
                },
            ))
        }
        None => {
            let (obj, n) = create_anonymous(request.mode, open).map_err(|e| request.error(e))?;
            Ok((
                obj,
                Origin {
                    name: n,
                    anonymous: true,
                    any_owner: false,
                },
            ))
        }
    }
}

#[pymodule]
fn _mpsync(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<locks::PyLock>()?;
    m.add_class::<locks::PyRLock>()?;
    m.add_class::<rwlock::PyRwLock>()?;
    m.add_class::<locks::PySemaphore>()?;
    m.add_class::<locks::PyCondition>()?;
    m.add_class::<locks::PyEvent>()?;
    m.add_class::<barrier::PyBarrier>()?;
    m.add_class::<array::PyArray>()?;
    m.add_class::<shm::PySharedMemory>()?;
    m.add_class::<queue::PyQueue>()?;
    fast::install_all(py)?;
    m.add_function(wrap_pyfunction!(unlink, m)?)?;
    m.add_function(wrap_pyfunction!(raw_view::_name_index_errors, m)?)?;
    m.add_function(wrap_pyfunction!(unlink_anonymous, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_orphans, m)?)?;
    m.add("BadObjectError", BAD_OBJECT_ERROR.class(py)?)?;
    m.add("BusyError", BUSY_ERROR.class(py)?)?;
    m.add("STATUS_CODES", PyTuple::new(py, status_codes())?)?;
    m.add("SEM_VALUE_MAX", mpsync::SEM_VALUE_MAX)?;
    m.add("NAME_MAX", mpsync::NAME_MAX)?;
    m.add("ANONYMOUS_NAME_PREFIX", mpsync::ANONYMOUS_NAME_PREFIX)?;
    m.add("ARRAY_DATA_OFFSET", mpsync::SharedArray::DATA_OFFSET)?;
    m.add("QUEUE_DEFAULT_CAPACITY", queue::DEFAULT_CAPACITY)?;
    Ok(())
}

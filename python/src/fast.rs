//! Hand-written entry points for the hottest calls: `acquire()` without arguments,
//! `release()`, `__enter__` and `__exit__` of `Lock`, `RLock` and `Semaphore`.
//!
//! Why: the uncontended pair is a few nanoseconds of library work, so the binding's
//! per-call cost decides whether `mpsync.Lock` keeps up with `multiprocessing.Lock`
//! (the target: within 1.2x). PyO3's generic method trampoline (GIL-count
//! bookkeeping, type-object lookup for the `self` check, argument parsing) costs about
//! as much as the lock itself. These functions are installed on the classes as
//! ordinary method descriptors, which already guarantee that `self` is an instance,
//! and do only the uncontended case; anything else (arguments, contention, errors)
//! goes to the full PyO3 methods `_acquire`/`_release`, which re-try from scratch (a
//! failed fast attempt changed nothing).

use std::ffi::{CStr, c_int};
use std::sync::atomic::Ordering;

use mpsync::{Deadline, Outcome};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::locks::{PyLock, PyRLock, PySemaphore};

/// Calls the full method `name` of `slf` with the same arguments.
///
/// # Safety
/// The GIL is held; the pointers are a vectorcall's.
unsafe fn full(
    slf: *mut ffi::PyObject,
    name: &CStr,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: per the contract; the bound method is released after the call.
    unsafe {
        let method = ffi::PyObject_GetAttrString(slf, name.as_ptr());
        if method.is_null() {
            return method;
        }
        let r = ffi::PyObject_Vectorcall(method, args, nargs as usize, kwnames);
        ffi::Py_DECREF(method);
        r
    }
}

/// A new reference to `True` or `None`.
fn new_ref(o: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: immortal-in-practice singletons; the GIL is held by our callers.
    unsafe { ffi::Py_INCREF(o) };
    o
}

/// The Rust object behind `slf`.
///
/// # Safety
/// The GIL is held and `slf` is an instance of `T` or a subclass (a method
/// descriptor of `T`'s type checked it).
unsafe fn this<'a, T: pyo3::PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync>(
    slf: *mut ffi::PyObject,
) -> &'a T {
    // SAFETY: per the contract; the object outlives the call (the caller holds a
    // reference), which is what the unbounded lifetime stands for.
    unsafe {
        let py = Python::assume_gil_acquired();
        let b = pyo3::Borrowed::from_ptr(py, slf);
        let t: &T = b.downcast_unchecked::<T>().get();
        &*(t as *const T)
    }
}

/// Thread id as `locks.rs` records it.
fn thread_id() -> u64 {
    // SAFETY: no preconditions.
    unsafe { libc::pthread_self() as u64 }
}

/// What the fast entry points of one class do: the uncontended case only. Whatever
/// they do not finish goes to the full PyO3 methods `_acquire`/`_release`.
trait FastPath: pyo3::PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync {
    /// `acquire()` without arguments, if it is decided at once: `Some` of the result
    /// (a new reference, or NULL with an exception set); `None` when nothing was
    /// acquired and the full method must decide.
    fn try_acquire(&self, py: Python<'_>) -> Option<*mut ffi::PyObject>;

    /// `release()`: true if done; false when it changed nothing (the full method then
    /// raises the error).
    fn try_release(&self) -> bool;
}

impl FastPath for PyLock {
    fn try_acquire(&self, _py: Python<'_>) -> Option<*mut ffi::PyObject> {
        if self.lock.acquire_unguarded(Deadline::now()) != Ok(Outcome::Ok) {
            return None;
        }
        self.holder.store(thread_id(), Ordering::Relaxed);
        // SAFETY: the GIL is held (`_py`).
        Some(new_ref(unsafe { ffi::Py_True() }))
    }

    fn try_release(&self) -> bool {
        self.holder.store(0, Ordering::Relaxed);
        self.lock.release().is_ok()
    }
}

impl FastPath for PyRLock {
    fn try_acquire(&self, py: Python<'_>) -> Option<*mut ffi::PyObject> {
        match self.lock.with(|k| k.acquire_unguarded(Deadline::now())) {
            // (`Created` is never an acquisition's.)
            Ok(Outcome::Ok | Outcome::Created) => {
                self.report.clear();
                // SAFETY: the GIL is held (`py`).
                Some(new_ref(unsafe { ffi::Py_True() }))
            }
            // Acquired: the full method must not try again (it would re-enter).
            Ok(Outcome::OwnerDead) => {
                Some(match self.note(py, Outcome::OwnerDead) {
                    // SAFETY: the GIL is held (`py`).
                    Ok(_) => new_ref(unsafe { ffi::Py_True() }),
                    Err(e) => {
                        e.restore(py);
                        std::ptr::null_mut()
                    }
                })
            }
            Ok(Outcome::Timeout) | Err(_) => None,
        }
    }

    fn try_release(&self) -> bool {
        self.lock.with(|k| k.release()).is_ok()
    }
}

impl FastPath for PySemaphore {
    fn try_acquire(&self, _py: Python<'_>) -> Option<*mut ffi::PyObject> {
        // An undo semaphore's acquisition may report a death (`owner_died`), and one
        // that took a unit must not be retried: it always takes the full path.
        if self.sem.is_undo() || self.sem.acquire_unguarded(Deadline::now()) != Ok(Outcome::Ok) {
            return None;
        }
        // SAFETY: the GIL is held (`_py`).
        Some(new_ref(unsafe { ffi::Py_True() }))
    }

    fn try_release(&self) -> bool {
        self.sem.release().is_ok()
    }
}

/// `acquire(...)`: the fast path without arguments, else the full method.
unsafe extern "C" fn acquire<T: FastPath>(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    if nargs == 0 && kwnames.is_null() {
        // SAFETY: called through T's method descriptor, with the GIL.
        let (obj, py) = unsafe { (this::<T>(slf), Python::assume_gil_acquired()) };
        if let Some(result) = obj.try_acquire(py) {
            return result;
        }
    }
    // SAFETY: forwarded vectorcall.
    unsafe { full(slf, c"_acquire", args, nargs, kwnames) }
}

/// `release()`: the fast path, else the full method (the failed release changed
/// nothing).
unsafe extern "C" fn release<T: FastPath>(
    slf: *mut ffi::PyObject,
    _: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: called through T's method descriptor, with the GIL.
    if unsafe { this::<T>(slf) }.try_release() {
        // SAFETY: the GIL is held.
        return new_ref(unsafe { ffi::Py_None() });
    }
    // SAFETY: forwarded call (no arguments).
    unsafe { full(slf, c"_release", std::ptr::null(), 0, std::ptr::null_mut()) }
}

/// `__enter__()` is `acquire()`.
unsafe extern "C" fn enter<T: FastPath>(
    slf: *mut ffi::PyObject,
    _: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: the same object and GIL; no arguments.
    unsafe { acquire::<T>(slf, std::ptr::null(), 0, std::ptr::null_mut()) }
}

/// `__exit__(*exc_info)` is `release()`.
unsafe extern "C" fn exit<T: FastPath>(
    slf: *mut ffi::PyObject,
    _args: *mut *mut ffi::PyObject,
    _nargs: ffi::Py_ssize_t,
) -> *mut ffi::PyObject {
    // SAFETY: the same object and GIL.
    unsafe { release::<T>(slf, std::ptr::null_mut()) }
}

type FastKw = unsafe extern "C" fn(
    *mut ffi::PyObject,
    *const *mut ffi::PyObject,
    ffi::Py_ssize_t,
    *mut ffi::PyObject,
) -> *mut ffi::PyObject;
type NoArgs = unsafe extern "C" fn(*mut ffi::PyObject, *mut ffi::PyObject) -> *mut ffi::PyObject;
type Fast = unsafe extern "C" fn(
    *mut ffi::PyObject,
    *mut *mut ffi::PyObject,
    ffi::Py_ssize_t,
) -> *mut ffi::PyObject;

/// One method to install.
enum Entry {
    FastKw(FastKw),
    NoArgs(NoArgs),
    Fast(Fast),
}

/// Sets `ty.name` to a method descriptor for `entry`.
fn install(
    ty: &Bound<'_, PyType>,
    name: &'static CStr,
    doc: &'static CStr,
    entry: Entry,
) -> PyResult<()> {
    let (meth, flags): (ffi::PyMethodDefPointer, c_int) = match entry {
        Entry::FastKw(f) => (
            ffi::PyMethodDefPointer {
                PyCFunctionFastWithKeywords: f,
            },
            ffi::METH_FASTCALL | ffi::METH_KEYWORDS,
        ),
        Entry::NoArgs(f) => (ffi::PyMethodDefPointer { PyCFunction: f }, ffi::METH_NOARGS),
        Entry::Fast(f) => (
            ffi::PyMethodDefPointer { PyCFunctionFast: f },
            ffi::METH_FASTCALL,
        ),
    };
    // The definition must live as long as the type: leaked once per class and name.
    let def: &'static mut ffi::PyMethodDef = Box::leak(Box::new(ffi::PyMethodDef {
        ml_name: name.as_ptr(),
        ml_meth: meth,
        ml_flags: flags,
        ml_doc: doc.as_ptr(),
    }));
    let py = ty.py();
    // SAFETY: the GIL is held; `def` is 'static and matches its flags; the type is
    // a heap type whose dict accepts new attributes.
    let descr = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyDescr_NewMethod(ty.as_ptr().cast::<ffi::PyTypeObject>(), def),
        )?
    };
    ty.setattr(name.to_str().unwrap_or("?"), descr)
}

/// Installs the fast entry points of `T`'s class.
fn install_class<T: FastPath>(py: Python<'_>) -> PyResult<()> {
    const ACQ: &CStr = c"acquire(block=True, timeout=None) -> bool";
    const REL: &CStr = c"release()";
    let ty = py.get_type::<T>();
    install(&ty, c"acquire", ACQ, Entry::FastKw(acquire::<T>))?;
    install(&ty, c"release", REL, Entry::NoArgs(release::<T>))?;
    install(&ty, c"__enter__", ACQ, Entry::NoArgs(enter::<T>))?;
    install(&ty, c"__exit__", REL, Entry::Fast(exit::<T>))
}

/// Installs the fast entry points on the three classes.
pub(crate) fn install_all(py: Python<'_>) -> PyResult<()> {
    install_class::<PyLock>(py)?;
    install_class::<PyRLock>(py)?;
    install_class::<PySemaphore>(py)
}

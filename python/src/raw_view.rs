//! Raw ctypes array views (`Array(..., lock=False)`, ...): IndexErrors that name the
//! shared array, at C speed.
//!
//! A raw view is a real ctypes array, of a subclass that `mpsync._view_type` makes of
//! the plain ctypes array type. Its `__getitem__`/`__setitem__` written in Python would
//! name the array in an IndexError, but would also put a Python call in front of every
//! access (measured: 3 to 6 times ctypes' own cost), and raw views exist to be fast.
//! So [`_name_index_errors`] replaces the subclass's mapping slots (`view[i]`,
//! `view[i] = v`) with the functions below: they call ctypes' own, and only when that
//! raised an IndexError replace it with one that says which array, which operation and
//! which index (the Python functions stay in the class dict for explicit
//! `view.__getitem__(i)` calls).

use std::sync::OnceLock;

use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// ctypes' own mapping slots of its array types (one C function each, shared by every
/// array type), taken from the first base patched.
static CTYPES_SLOTS: OnceLock<(ffi::binaryfunc, ffi::objobjargproc)> = OnceLock::new();

/// Replaces the mapping slots of `cls`, a subclass (made by `mpsync._view_type`) of a
/// ctypes array type, with ones that name the shared array in an IndexError (see the
/// module docs); `TypeError` for any other class, ctypes' own array types included.
#[pyfunction]
pub(crate) fn _name_index_errors(cls: &Bound<'_, PyType>) -> PyResult<()> {
    let not_a_view =
        || PyTypeError::new_err("_name_index_errors: not a subclass of a ctypes array type");
    // A subclass of an array type (`c_int * 3`), not an array type itself: the types that
    // ctypes makes are shared by every user of ctypes in the process.
    let ctypes_array = cls.py().import("ctypes")?.getattr("Array")?;
    let base = cls.getattr("__base__")?;
    if !base.downcast::<PyType>()?.is_subclass(&ctypes_array)? || base.is(&ctypes_array) {
        return Err(not_a_view());
    }
    let tp = cls.as_type_ptr();
    // SAFETY: `tp` is a live type object (borrowed from `cls`, GIL held); a heap type
    // (one made by `type(...)`) owns its `tp_as_mapping` struct, so changing it changes
    // this class (and its future subclasses) only.
    unsafe {
        let base = (*tp).tp_base;
        if (*tp).tp_flags & ffi::Py_TPFLAGS_HEAPTYPE == 0 || base.is_null() {
            return Err(not_a_view());
        }
        let (mine, theirs) = ((*tp).tp_as_mapping, (*base).tp_as_mapping);
        if mine.is_null() || theirs.is_null() || core::ptr::eq(mine, theirs) {
            return Err(not_a_view());
        }
        let (Some(get), Some(set)) = ((*theirs).mp_subscript, (*theirs).mp_ass_subscript) else {
            return Err(not_a_view());
        };
        let slots = *CTYPES_SLOTS.get_or_init(|| (get, set));
        // Every ctypes array type has the same two functions; anything else is not one.
        if slots.0 as usize != get as usize || slots.1 as usize != set as usize {
            return Err(not_a_view());
        }
        (*mine).mp_subscript = Some(view_subscript);
        (*mine).mp_ass_subscript = Some(view_ass_subscript);
        ffi::PyType_Modified(tp);
    }
    Ok(())
}

/// `view[key]`: ctypes' own, with a named IndexError.
unsafe extern "C" fn view_subscript(
    view: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // Patched only after CTYPES_SLOTS was set.
    let Some(&(get, _)) = CTYPES_SLOTS.get() else {
        return core::ptr::null_mut();
    };
    // SAFETY: called by the interpreter for an instance of a patched class (a ctypes
    // array), with the GIL held: ctypes' own slot takes the same arguments.
    let r = unsafe { get(view, key) };
    if r.is_null() {
        // SAFETY: as above.
        unsafe { name_index_error(view, key, "__getitem__") };
    }
    r
}

/// `view[key] = value` (and `del view[key]`): ctypes' own, with a named IndexError.
unsafe extern "C" fn view_ass_subscript(
    view: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> std::ffi::c_int {
    let Some(&(_, set)) = CTYPES_SLOTS.get() else {
        return -1;
    };
    // SAFETY: as in `view_subscript`.
    let r = unsafe { set(view, key, value) };
    if r < 0 {
        // SAFETY: as above.
        unsafe { name_index_error(view, key, "__setitem__") };
    }
    r
}

/// If the pending exception is an IndexError, replaces it with one that names the
/// shared array under `view` (`mpsync._index_error(view, op, key)`); otherwise, or if
/// that fails, leaves the pending exception as it is.
///
/// # Safety
/// The GIL is held, an exception is pending, and `view`/`key` are live objects.
unsafe fn name_index_error(view: *mut ffi::PyObject, key: *mut ffi::PyObject, op: &str) {
    // SAFETY: the GIL is held (the contract).
    let py = unsafe { Python::assume_gil_acquired() };
    let Some(original) = PyErr::take(py) else {
        return;
    };
    if !original.is_instance_of::<PyIndexError>(py) {
        original.restore(py);
        return;
    }
    // SAFETY: live objects (the contract), borrowed for this call.
    let (view, key) = unsafe {
        (
            Bound::from_borrowed_ptr(py, view),
            Bound::from_borrowed_ptr(py, key),
        )
    };
    let named = py
        .import("mpsync")
        .and_then(|m| m.getattr("_index_error"))
        .and_then(|f| f.call1((view, op, key)));
    match named {
        Ok(e) => PyErr::from_value(e).restore(py),
        Err(_) => original.restore(py),
    }
}

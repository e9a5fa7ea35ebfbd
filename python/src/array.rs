//! The shared array under `mpsync.Value`, `Array`, `RawValue` and `RawArray` (the
//! factories are in Python): element access with ctypes' conversions, `.value` and
//! `.raw`, `get_lock()`, and the buffer protocol (zero-copy `memoryview`/numpy).

use std::ffi::{CStr, c_int};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mpsync::{Deadline, ElemType, Error, Outcome, SharedArray};
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{
    PyAttributeError, PyBufferError, PyIndexError, PyOverflowError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PySlice, PyTuple};

use crate::errors::describe_array;
use crate::locks::PyRLock;
use crate::{Origin, Quiet, Request, blocking, err_for, make, subject};

/// ctypes' name for each type (the reprs use them).
fn ctype_name(ty: ElemType) -> &'static str {
    match ty {
        ElemType::Char => "c_char",
        ElemType::Byte => "c_byte",
        ElemType::UByte => "c_ubyte",
        ElemType::Short => "c_short",
        ElemType::UShort => "c_ushort",
        ElemType::Int => "c_int",
        ElemType::UInt => "c_uint",
        ElemType::Long => "c_long",
        ElemType::ULong => "c_ulong",
        ElemType::LongLong => "c_longlong",
        ElemType::ULongLong => "c_ulonglong",
        ElemType::Float => "c_float",
        ElemType::Double => "c_double",
        ElemType::Bool => "c_bool",
    }
}

/// The buffer-protocol format of each type (the `struct` module's codes).
fn buffer_format(ty: ElemType) -> &'static CStr {
    match ty {
        ElemType::Char => c"c",
        ElemType::Byte => c"b",
        ElemType::UByte => c"B",
        ElemType::Short => c"h",
        ElemType::UShort => c"H",
        ElemType::Int => c"i",
        ElemType::UInt => c"I",
        ElemType::Long => c"l",
        ElemType::ULong => c"L",
        ElemType::LongLong => c"q",
        ElemType::ULongLong => c"Q",
        ElemType::Float => c"f",
        ElemType::Double => c"d",
        ElemType::Bool => c"?",
    }
}

/// One element's bytes (native order) as the Python object ctypes gives.
fn decode(py: Python<'_>, ty: ElemType, b: &[u8]) -> PyResult<PyObject> {
    fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&b[..N]);
        a
    }
    Ok(match (ty, b.len()) {
        (ElemType::Char, _) => PyBytes::new(py, &b[..1]).into_any().unbind(),
        (ElemType::Bool, _) => (b[0] != 0).into_py_any(py)?,
        (ElemType::Byte, _) => (b[0] as i8).into_py_any(py)?,
        (ElemType::UByte, _) => b[0].into_py_any(py)?,
        (ElemType::Short, _) => i16::from_ne_bytes(arr(b)).into_py_any(py)?,
        (ElemType::UShort, _) => u16::from_ne_bytes(arr(b)).into_py_any(py)?,
        (ElemType::Int, _) => i32::from_ne_bytes(arr(b)).into_py_any(py)?,
        (ElemType::UInt, _) => u32::from_ne_bytes(arr(b)).into_py_any(py)?,
        (ElemType::Long | ElemType::LongLong, 8) => i64::from_ne_bytes(arr(b)).into_py_any(py)?,
        (ElemType::Long | ElemType::LongLong, _) => i32::from_ne_bytes(arr(b)).into_py_any(py)?,
        (ElemType::ULong | ElemType::ULongLong, 8) => u64::from_ne_bytes(arr(b)).into_py_any(py)?,
        (ElemType::ULong | ElemType::ULongLong, _) => u32::from_ne_bytes(arr(b)).into_py_any(py)?,
        (ElemType::Float, _) => f32::from_ne_bytes(arr(b)).into_py_any(py)?,
        (ElemType::Double, _) => f64::from_ne_bytes(arr(b)).into_py_any(py)?,
    })
}

/// A Python object as one element's bytes, converted as ctypes does (integers are
/// truncated to the type's width; floats are not integers).
fn encode(ty: ElemType, v: &Bound<'_, PyAny>, out: &mut [u8]) -> PyResult<()> {
    let size = ty.size();
    match ty {
        ElemType::Char => {
            if let Ok(b) = v.downcast::<PyBytes>() {
                let b = b.as_bytes();
                if b.len() != 1 {
                    return Err(PyTypeError::new_err(
                        "one character bytes, bytearray or integer expected",
                    ));
                }
                out[0] = b[0];
            } else {
                let i: i64 = v.extract().map_err(|_| {
                    PyTypeError::new_err("one character bytes, bytearray or integer expected")
                })?;
                out[0] = u8::try_from(i).map_err(|_| {
                    PyTypeError::new_err("one character bytes, bytearray or integer expected")
                })?;
            }
        }
        ElemType::Bool => out[0] = u8::from(v.is_truthy()?),
        ElemType::Float => out[..4].copy_from_slice(&(v.extract::<f64>()? as f32).to_ne_bytes()),
        ElemType::Double => out[..8].copy_from_slice(&v.extract::<f64>()?.to_ne_bytes()),
        _ => {
            if v.is_instance_of::<pyo3::types::PyFloat>() {
                return Err(PyTypeError::new_err("int expected instead of float"));
            }
            // Truncate like ctypes: take the low `size` bytes of the two's complement.
            // An integer too wide even for i128 is masked; anything that is not an
            // integer keeps extract's TypeError (ctypes': "'str' object cannot be
            // interpreted as an integer").
            let wide: i128 = match v.extract::<i128>() {
                Ok(i) => i,
                Err(e) if e.is_instance_of::<PyOverflowError>(v.py()) => {
                    let masked = v.call_method1("__and__", (u128::MAX,))?;
                    masked.extract::<u128>()? as i128
                }
                Err(e) => return Err(e),
            };
            out[..size].copy_from_slice(&wide.to_ne_bytes()[..size]);
        }
    }
    Ok(())
}

/// `multiprocessing.sharedctypes`' objects: `Value`/`Array` (with a lock) and
/// `RawValue`/`RawArray`, sharing one class.
#[pyclass(module = "mpsync", name = "SharedArray", frozen)]
pub struct PyArray {
    pub(crate) arr: Arc<Quiet<SharedArray>>,
    ty: ElemType,
    origin: Origin,
    /// A Value (one element, `.value`) rather than an Array.
    is_value: bool,
    /// The lock `get_lock()` returns: the embedded RLock, a lock the caller passed
    /// (`external`), or none (raw).
    lock: Option<PyObject>,
    external: bool,
    exports: AtomicUsize,
    shape: Box<[isize; 1]>,
    strides: Box<[isize; 1]>,
}

/// Holds the object's lock for the duration of an access: the external lock (through
/// its Python methods), or the embedded RLock. The embedded one is taken here, not only
/// inside each library call, so that a wait for it releases the GIL (a thread holding
/// `get_lock()` must be able to run meanwhile) and lets signal handlers run; the
/// library's own locking inside the access then re-enters it without waiting.
struct Held<'a, 'py> {
    external: Option<&'a Bound<'py, PyAny>>,
    embedded: Option<&'a SharedArray>,
}

impl Drop for Held<'_, '_> {
    fn drop(&mut self) {
        if let Some(l) = self.external {
            let _ = l.call_method0("release");
        }
        if let Some(lock) = self.embedded.and_then(SharedArray::lock) {
            let _ = lock.release();
        }
    }
}

impl PyArray {
    /// "Value" or "Array": the factory that made it, as errors name it.
    fn kind(&self) -> &'static str {
        if self.is_value { "Value" } else { "Array" }
    }

    /// Names this array in the errors of operation `op`.
    fn err<'a>(&'a self, op: &'a str) -> impl Fn(Error) -> PyErr + 'a {
        err_for(self.kind(), &self.origin, op)
    }

    /// Takes the lock for operation `op` (which its errors name).
    fn hold<'a, 'py>(
        &'a self,
        py: Python<'py>,
        external: &'a Option<Bound<'py, PyAny>>,
        op: &'a str,
    ) -> PyResult<Held<'a, 'py>> {
        if let Some(l) = external {
            l.call_method0("acquire")?;
            return Ok(Held {
                external: Some(l),
                embedded: None,
            });
        }
        let Some(lock) = self.arr.lock() else {
            return Ok(Held {
                external: None,
                embedded: None,
            });
        };
        // An owner death is reported by the lock's own acquire (get_lock()); an
        // access, as in multiprocessing, just proceeds.
        match lock.acquire_unguarded(Deadline::now()) {
            Ok(Outcome::Timeout) => {
                let arr: &SharedArray = &self.arr;
                blocking(py, self.err(op), || match arr.lock() {
                    Some(l) => l.acquire_unguarded(Deadline::forever()),
                    None => Ok(Outcome::Ok),
                })?;
            }
            Ok(_) => {}
            Err(e) => return Err(self.err(op)(e)),
        }
        Ok(Held {
            external: None,
            embedded: Some(&**self.arr),
        })
    }

    fn external<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        if self.external {
            self.lock.as_ref().map(|l| l.bind(py).clone())
        } else {
            None
        }
    }

    /// Element `i` (negative: from the end); `IndexError` naming the array and `op`.
    fn index(&self, i: isize, op: &str) -> PyResult<usize> {
        let len = self.arr.len() as isize;
        let j = if i < 0 { i + len } else { i };
        if j < 0 || j >= len {
            return Err(PyIndexError::new_err(format!(
                "{}: {op}: invalid index {i} (length {len})",
                subject(self.kind(), &self.origin)
            )));
        }
        Ok(j as usize)
    }

    fn get_item(&self, py: Python<'_>, i: usize, op: &str) -> PyResult<PyObject> {
        let mut b = [0u8; 8];
        let b = &mut b[..self.ty.size()];
        self.arr.get_bytes(i, b).map_err(self.err(op))?;
        decode(py, self.ty, b)
    }

    fn read_bytes(&self, start: usize, count: usize, op: &str) -> PyResult<Vec<u8>> {
        let mut buf = vec![0u8; count * self.ty.size()];
        self.arr.read(start, &mut buf).map_err(self.err(op))?;
        Ok(buf)
    }

    /// `value` as the bytes of a char array's `value` or `raw`: `TypeError` unless
    /// bytes, `ValueError` if longer than the array.
    fn fitting_bytes<'a>(&self, value: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
        let bytes = value
            .downcast::<PyBytes>()
            .map_err(|_| PyTypeError::new_err("bytes expected"))?
            .as_bytes();
        if bytes.len() > self.arr.len() {
            return Err(PyValueError::new_err("byte string too long"));
        }
        Ok(bytes)
    }

    fn is_chars(&self) -> bool {
        self.ty == ElemType::Char
    }

    fn value_repr(&self, py: Python<'_>) -> PyResult<String> {
        let v = self.get_item(py, 0, "__repr__")?;
        Ok(format!("{}({})", ctype_name(self.ty), v.bind(py).repr()?))
    }
}

#[pymethods]
impl PyArray {
    /// Internal: use `mpsync.Value`, `Array`, `RawValue` or `RawArray`.
    #[new]
    #[pyo3(signature = (typecode, length, with_lock, is_value, lock=None, *, name=None, create=false, exclusive=false, mode=0o600, any_owner=false, initial=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        typecode: &str,
        length: usize,
        with_lock: bool,
        is_value: bool,
        lock: Option<PyObject>,
        name: Option<&str>,
        create: bool,
        exclusive: bool,
        mode: u32,
        any_owner: bool,
        initial: Option<Vec<u8>>,
    ) -> PyResult<Self> {
        let code = match typecode.as_bytes() {
            [c] => *c,
            _ => 0,
        };
        let ty = ElemType::from_code(code)
            .ok_or_else(|| PyTypeError::new_err(format!("unsupported type code {typecode:?}")))?;
        let kind = if is_value { "Value" } else { "Array" };
        let wanted = describe_array(code, length as u64, with_lock);
        let request = Request::new(kind, wanted, name, create, exclusive, mode, any_owner);
        // The creator's initial contents go in before the name is linked (an opener
        // never sees zeros); an existing array keeps its contents.
        let (arr, origin) = make(&request, |n, o| match &initial {
            Some(bytes) => {
                SharedArray::open_with(n, o, ty, length, with_lock, bytes).map(|(a, _)| a)
            }
            None => SharedArray::open(n, o, ty, length, with_lock),
        })?;
        let arr = Arc::new(Quiet::new(arr));
        let external = lock.is_some();
        let lock = match lock {
            Some(l) => Some(l),
            None if with_lock => Some(
                Py::new(
                    py,
                    PyRLock::of_array(Arc::clone(&arr), subject(kind, &origin)),
                )?
                .into_any(),
            ),
            None => None,
        };
        let item = ty.size() as isize;
        Ok(PyArray {
            arr,
            ty,
            origin,
            is_value,
            lock,
            external,
            exports: AtomicUsize::new(0),
            shape: Box::new([length as isize]),
            strides: Box::new([item]),
        })
    }

    fn __len__(&self) -> usize {
        self.arr.len()
    }

    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<PyObject> {
        let ext = self.external(py);
        let _held = self.hold(py, &ext, "__getitem__")?;
        if let Ok(slice) = key.downcast::<PySlice>() {
            let ind = slice.indices(self.arr.len() as isize)?;
            if ind.step == 1 {
                let count = ind.slicelength;
                let bytes = self.read_bytes(ind.start as usize, count, "__getitem__")?;
                if self.is_chars() {
                    return Ok(PyBytes::new(py, &bytes).into_any().unbind());
                }
                let size = self.ty.size();
                let items: PyResult<Vec<PyObject>> = bytes
                    .chunks_exact(size)
                    .map(|c| decode(py, self.ty, c))
                    .collect();
                return Ok(PyList::new(py, items?)?.into_any().unbind());
            }
            let mut out = Vec::with_capacity(ind.slicelength);
            let mut i = ind.start;
            for _ in 0..ind.slicelength {
                out.push(self.get_item(py, i as usize, "__getitem__")?);
                i += ind.step;
            }
            if self.is_chars() {
                let bytes: Vec<u8> = out
                    .iter()
                    .map(|o| o.bind(py).downcast::<PyBytes>().map(|b| b.as_bytes()[0]))
                    .collect::<Result<_, _>>()?;
                return Ok(PyBytes::new(py, &bytes).into_any().unbind());
            }
            return Ok(PyList::new(py, out)?.into_any().unbind());
        }
        let i = self.index(key.extract::<isize>()?, "__getitem__")?;
        self.get_item(py, i, "__getitem__")
    }

    fn __setitem__(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let size = self.ty.size();
        let ext = self.external(py);
        let _held = self.hold(py, &ext, "__setitem__")?;
        if let Ok(slice) = key.downcast::<PySlice>() {
            let ind = slice.indices(self.arr.len() as isize)?;
            let items: Vec<Bound<'_, PyAny>> = if self.is_chars() {
                if let Ok(b) = value.downcast::<PyBytes>() {
                    b.as_bytes()
                        .iter()
                        .map(|&c| PyBytes::new(py, &[c]).into_any())
                        .collect()
                } else {
                    value.try_iter()?.collect::<PyResult<_>>()?
                }
            } else {
                value.try_iter()?.collect::<PyResult<_>>()?
            };
            if items.len() != ind.slicelength {
                return Err(PyValueError::new_err(
                    "Can only assign sequence of same size",
                ));
            }
            let mut bytes = vec![0u8; items.len() * size];
            for (item, out) in items.iter().zip(bytes.chunks_exact_mut(size)) {
                encode(self.ty, item, out)?;
            }
            if ind.step == 1 {
                self.arr
                    .write(ind.start as usize, &bytes)
                    .map_err(self.err("__setitem__"))?;
            } else {
                let mut i = ind.start;
                for chunk in bytes.chunks_exact(size) {
                    self.arr
                        .set_bytes(i as usize, chunk)
                        .map_err(self.err("__setitem__"))?;
                    i += ind.step;
                }
            }
            return Ok(());
        }
        let i = self.index(key.extract::<isize>()?, "__setitem__")?;
        let mut b = [0u8; 8];
        encode(self.ty, value, &mut b[..size])?;
        self.arr
            .set_bytes(i, &b[..size])
            .map_err(self.err("__setitem__"))?;
        Ok(())
    }

    /// `.value`: the element of a Value; for a `'c'` array, its bytes up to the first
    /// NUL.
    #[getter]
    fn get_value(&self, py: Python<'_>) -> PyResult<PyObject> {
        let ext = self.external(py);
        let _held = self.hold(py, &ext, "get value")?;
        if self.is_value {
            return self.get_item(py, 0, "get value");
        }
        if self.is_chars() {
            let bytes = self.read_bytes(0, self.arr.len(), "get value")?;
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            return Ok(PyBytes::new(py, &bytes[..end]).into_any().unbind());
        }
        Err(PyAttributeError::new_err(
            "'SharedArray' object has no attribute 'value'",
        ))
    }

    #[setter]
    fn set_value(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let ext = self.external(py);
        let _held = self.hold(py, &ext, "set value")?;
        let size = self.ty.size();
        if self.is_value {
            let mut b = [0u8; 8];
            encode(self.ty, value, &mut b[..size])?;
            self.arr
                .set_bytes(0, &b[..size])
                .map_err(self.err("set value"))?;
            return Ok(());
        }
        if self.is_chars() {
            let bytes = self.fitting_bytes(value)?;
            let mut data = bytes.to_vec();
            if data.len() < self.arr.len() {
                data.push(0);
            }
            self.arr.write(0, &data).map_err(self.err("set value"))?;
            return Ok(());
        }
        Err(PyAttributeError::new_err(
            "'SharedArray' object has no attribute 'value'",
        ))
    }

    /// `.raw`: all the bytes of a `'c'` array.
    #[getter]
    fn get_raw(&self, py: Python<'_>) -> PyResult<PyObject> {
        if !self.is_chars() || self.is_value {
            return Err(PyAttributeError::new_err(
                "'SharedArray' object has no attribute 'raw'",
            ));
        }
        let ext = self.external(py);
        let _held = self.hold(py, &ext, "get raw")?;
        Ok(
            PyBytes::new(py, &self.read_bytes(0, self.arr.len(), "get raw")?)
                .into_any()
                .unbind(),
        )
    }

    #[setter]
    fn set_raw(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        if !self.is_chars() || self.is_value {
            return Err(PyAttributeError::new_err(
                "'SharedArray' object has no attribute 'raw'",
            ));
        }
        let bytes = self.fitting_bytes(value)?;
        let ext = self.external(py);
        let _held = self.hold(py, &ext, "set raw")?;
        self.arr.write(0, bytes).map_err(self.err("set raw"))?;
        Ok(())
    }

    /// The lock guarding the object (`AttributeError` for a raw one).
    fn get_lock(&self, py: Python<'_>) -> PyResult<PyObject> {
        self.lock
            .as_ref()
            .map(|l| l.clone_ref(py))
            .ok_or_else(|| PyAttributeError::new_err("a raw shared object has no lock"))
    }

    /// The shared object itself (`multiprocessing` returns the raw ctypes object).
    fn get_obj(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*args))]
    fn acquire(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<PyObject> {
        self.get_lock(py)?.call_method1(py, "acquire", args)
    }

    fn release(&self, py: Python<'_>) -> PyResult<PyObject> {
        self.get_lock(py)?.call_method0(py, "release")
    }

    fn __enter__(&self, py: Python<'_>) -> PyResult<PyObject> {
        self.get_lock(py)?.call_method0(py, "__enter__")
    }

    #[pyo3(signature = (*args))]
    fn __exit__(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<PyObject> {
        self.get_lock(py)?.call_method1(py, "__exit__", args)
    }

    /// The type code, e.g. `'i'`.
    #[getter]
    fn typecode(&self) -> String {
        (self.ty.code() as char).to_string()
    }

    /// The name a C program opens this array by (`mp_array_open`).
    #[getter]
    fn name(&self) -> &str {
        &self.origin.name
    }

    /// How errors name this array as a `kind` ("Array 'jobs'", "Value (anonymous)"): for
    /// the raw ctypes views over it (`lock=False`), whose own errors come from ctypes.
    fn _subject(&self, kind: &str) -> String {
        subject(kind, &self.origin)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let synchronized = self.lock.is_some();
        let inner = if self.is_value {
            self.value_repr(py)?
        } else {
            format!(
                "<mpsync.{}_Array_{} object at {:#x}>",
                ctype_name(self.ty),
                self.arr.len(),
                self as *const Self as usize
            )
        };
        if !synchronized {
            return Ok(inner);
        }
        let wrapper = match (self.is_value, self.is_chars()) {
            (true, _) => "Synchronized",
            (false, true) => "SynchronizedString",
            (false, false) => "SynchronizedArray",
        };
        Ok(format!("<{wrapper} wrapper for {inner}>"))
    }

    fn __reduce__(&self, py: Python<'_>) -> PyResult<(PyObject, PyObject)> {
        let rebuild = py.import("mpsync")?.getattr("_rebuild")?;
        let ext = if self.external {
            self.lock
                .as_ref()
                .map(|l| l.clone_ref(py))
                .unwrap_or_else(|| py.None())
        } else {
            py.None()
        };
        let with_lock = self.lock.is_some() && !self.external;
        let args = (
            "SharedArray",
            self.origin.name.clone(),
            self.origin.any_owner,
            self.typecode(),
            self.arr.len(),
            with_lock,
            self.is_value,
            ext,
        );
        Ok((
            rebuild.unbind(),
            args.into_pyobject(py)?.into_any().unbind(),
        ))
    }

    /// Exposes the elements without a copy (`memoryview(arr)`, `numpy.frombuffer`),
    /// with the element format; no lock is taken: hold `get_lock()` around accesses
    /// that must be atomic.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut pyo3::ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let this = slf.get();
        if view.is_null() {
            return Err(PyBufferError::new_err("NULL view"));
        }
        // SAFETY: `view` is the caller's Py_buffer to fill (buffer protocol); the
        // data pointer stays valid while `view.obj` (a new reference to this object)
        // keeps the mapping alive; shape and strides live in boxes owned by it.
        unsafe {
            let item = this.ty.size();
            (*view).obj = slf.clone().into_any().into_ptr();
            (*view).buf = this.arr.data().cast();
            (*view).len = (this.arr.len() * item) as isize;
            (*view).readonly = 0;
            (*view).itemsize = item as isize;
            (*view).format = if flags & pyo3::ffi::PyBUF_FORMAT != 0 {
                buffer_format(this.ty).as_ptr().cast_mut()
            } else {
                std::ptr::null_mut()
            };
            (*view).ndim = 1;
            (*view).shape = if flags & pyo3::ffi::PyBUF_ND != 0 {
                this.shape.as_ptr().cast_mut()
            } else {
                std::ptr::null_mut()
            };
            (*view).strides = if flags & pyo3::ffi::PyBUF_STRIDES == pyo3::ffi::PyBUF_STRIDES {
                this.strides.as_ptr().cast_mut()
            } else {
                std::ptr::null_mut()
            };
            (*view).suboffsets = std::ptr::null_mut();
            (*view).internal = std::ptr::null_mut();
        }
        this.exports.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut pyo3::ffi::Py_buffer) {
        self.exports.fetch_sub(1, Ordering::Relaxed);
    }
}

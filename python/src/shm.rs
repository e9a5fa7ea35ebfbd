//! The block under `mpsync.SharedMemory`: a mapping with the buffer protocol that
//! refuses to close while views of it exist (as `mmap` does).

use std::ffi::c_int;
use std::sync::Mutex;

use mpsync::{OpenOptions, SharedMemory};
use pyo3::exceptions::{PyBufferError, PyValueError};
use pyo3::prelude::*;

use crate::{Request, to_py_about};

/// The mapping and its exported views, under one mutex so that `close` and a new
/// view never race.
struct State {
    shm: Option<SharedMemory>,
    exports: usize,
}

/// Internal: use `mpsync.SharedMemory`.
#[pyclass(module = "mpsync._mpsync", name = "SharedMemoryBlock", frozen)]
pub struct PySharedMemory {
    state: Mutex<State>,
    name: String,
    size: usize,
}

impl PySharedMemory {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding it is impossible (no code in the critical sections
        // panics); recover the data anyway rather than poisoning every later call.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl PySharedMemory {
    /// `(name, create, size, mode, any_owner)`: with `create`, a new block (a fresh
    /// `psm_` name if `name` is None, else exclusive); otherwise attach to `name`.
    #[new]
    #[pyo3(signature = (name, create, size, mode=0o600, any_owner=false))]
    fn new(
        py: Python<'_>,
        name: Option<&str>,
        create: bool,
        size: usize,
        mode: u32,
        any_owner: bool,
    ) -> PyResult<Self> {
        let shm = py
            .allow_threads(|| match (name, create) {
                (None, true) => SharedMemory::create(size, mode),
                (Some(n), true) => SharedMemory::open(
                    n,
                    &OpenOptions::new()
                        .create(true)
                        .exclusive(true)
                        .mode(mode)
                        .any_owner(any_owner),
                    size,
                ),
                (Some(n), false) => {
                    SharedMemory::open(n, &OpenOptions::new().any_owner(any_owner), 0)
                }
                (None, false) => Err(mpsync::Error::Invalid),
            })
            .map_err(|e| {
                let mut request = Request::new(
                    "SharedMemory",
                    "a SharedMemory block",
                    name,
                    create,
                    create && name.is_some(),
                    mode,
                    any_owner,
                );
                if name.is_none() && !create {
                    request.invalid_values = Some("'name' can only be None if create=True".into());
                }
                request.error(e)
            })?;
        Ok(PySharedMemory {
            name: shm.name().to_string(),
            size: shm.len(),
            state: Mutex::new(State {
                shm: Some(shm),
                exports: 0,
            }),
        })
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    #[getter]
    fn size(&self) -> usize {
        self.size
    }

    #[getter]
    fn closed(&self) -> bool {
        self.state().shm.is_none()
    }

    /// Unmaps the block in this process; `BufferError` while views of it exist.
    fn close(&self) -> PyResult<()> {
        let mut st = self.state();
        if st.exports > 0 {
            return Err(PyBufferError::new_err(
                "cannot close exported pointers exist",
            ));
        }
        if let Some(shm) = st.shm.take() {
            if let Err((shm, e)) = shm.close() {
                st.shm = Some(shm);
                return Err(to_py_about(
                    &format!("SharedMemory {}", crate::errors::shown(&self.name)),
                    "close",
                    e,
                ));
            }
        }
        Ok(())
    }

    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut pyo3::ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let this = slf.get();
        let mut st = this.state();
        let Some(shm) = st.shm.as_ref() else {
            return Err(PyValueError::new_err("operation on a closed SharedMemory"));
        };
        let (data, len) = (shm.data(), shm.len());
        // SAFETY: `view` is the caller's Py_buffer to fill; the mapping stays mapped
        // while the export count is non-zero (`close` refuses), and `view.obj` keeps
        // this object alive.
        let r = unsafe {
            pyo3::ffi::PyBuffer_FillInfo(view, slf.as_ptr(), data.cast(), len as isize, 0, flags)
        };
        if r != 0 {
            return Err(PyErr::fetch(slf.py()));
        }
        st.exports += 1;
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut pyo3::ffi::Py_buffer) {
        let mut st = self.state();
        st.exports = st.exports.saturating_sub(1);
    }
}

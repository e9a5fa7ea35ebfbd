//! [`SharedMemory`]: `multiprocessing.shared_memory.SharedMemory`.

use core::ptr::NonNull;
use std::ffi::CStr;

use super::error::unit;
use super::{Error, OpenOptions, construct, report_leak};
use crate::ffi::shm::{mp_shm_close, mp_shm_data, mp_shm_name, mp_shm_open, mp_shm_size, mp_shm_t};

/// A mapped block of shared memory in `/dev/shm` (the C type `mp_shm_t`; Python's
/// `SharedMemory(name)` attaches to the same block). Its bytes are the caller's: no
/// header, no lock.
///
/// ```
/// use mpsync::SharedMemory;
/// let shm = SharedMemory::create(4096, 0)?;
/// assert!(shm.name().starts_with("psm_"));
/// assert_eq!(shm.len(), 4096);
/// mpsync::unlink(shm.name())?; // the mapping stays usable until closed
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct SharedMemory {
    ptr: NonNull<mp_shm_t>,
    // Copied from the library's private record at open.
    data: *mut u8,
    len: usize,
    name: String,
}

// SAFETY: the handle is a pointer to a shared mapping, whose bytes are only reached
// through raw pointers.
unsafe impl Send for SharedMemory {}
// SAFETY: as above.
unsafe impl Sync for SharedMemory {}

impl SharedMemory {
    fn from_handle(ptr: NonNull<mp_shm_t>) -> Result<SharedMemory, Error> {
        let p = ptr.as_ptr();
        // SAFETY: a live handle; the name lives as long as the handle and is copied now.
        let (data, len, name) = unsafe {
            let name = mp_shm_name(p);
            let name = (!name.is_null()).then(|| CStr::from_ptr(name));
            (mp_shm_data(p), mp_shm_size(p), name)
        };
        // A block's name is ASCII (the library's name rules). Copied fallibly: on
        // `NoMemory` the handle is closed again (nothing leaks).
        let name = match name
            .and_then(|n| n.to_str().ok())
            .ok_or(Error::System)
            .and_then(|n| crate::fallible::try_string(n).map_err(|_| Error::NoMemory))
        {
            Ok(n) => n,
            Err(e) => {
                // SAFETY: the live handle just opened, never used again.
                unsafe { mp_shm_close(p) };
                return Err(e);
            }
        };
        Ok(SharedMemory {
            ptr,
            data: data.cast(),
            len,
            name,
        })
    }

    /// Creates a zero-filled block of `size` (> 0) bytes under a fresh name
    /// (`psm_` + 8 hex digits, as CPython chooses); `mode` 0 means `0600`.
    pub fn create(size: usize, mode: u32) -> Result<SharedMemory, Error> {
        use crate::ffi::{MP_CREATE, MP_EXCL};
        // SAFETY: a NULL name is allowed with MP_CREATE; a valid out-pointer.
        let ptr = construct(|out| unsafe {
            mp_shm_open(core::ptr::null(), MP_CREATE | MP_EXCL, size, mode, out)
        })?;
        SharedMemory::from_handle(ptr)
    }

    /// Opens, or with `options.create(true)` creates with `size` bytes, the block
    /// `name` (`"blk"` and `"/blk"` are the same block). Opening an existing block
    /// maps all of it whatever `size` says: check [`SharedMemory::len`].
    pub fn open(name: &str, options: &OpenOptions, size: usize) -> Result<SharedMemory, Error> {
        let cname = super::c_name(name)?;
        // SAFETY: a NUL-terminated name and a valid out-pointer.
        let ptr = construct(|out| unsafe {
            mp_shm_open(
                cname.as_ptr(),
                options.flags(),
                size,
                options.mode_bits(),
                out,
            )
        })?;
        SharedMemory::from_handle(ptr)
    }

    /// The block's name without a leading `/`, as CPython's `SharedMemory.name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The first byte (page-aligned), valid for [`SharedMemory::len`] bytes while this
    /// handle lives. Other processes may write it at any time: use raw pointer
    /// accesses, never a Rust reference.
    pub fn data(&self) -> *mut u8 {
        self.data
    }

    /// The size of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: blocks are never empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The C handle, for C code using the C ABI (valid while this handle lives).
    pub fn as_ptr(&self) -> *mut mp_shm_t {
        self.ptr.as_ptr()
    }

    /// Unmaps the block in this process (it lives on until [`unlink`](crate::unlink)
    /// and the last close); on error ([`Error::Busy`]: the calling thread holds a lock
    /// inside the block) the handle is handed back unchanged.
    pub fn close(self) -> Result<(), (SharedMemory, Error)> {
        let mut this = core::mem::ManuallyDrop::new(self);
        // SAFETY: a live handle, closed only here or in Drop (skipped).
        match unit(unsafe { mp_shm_close(this.ptr.as_ptr()) }) {
            Ok(()) => {
                // The name is the only owned field; an empty String owns nothing.
                drop(core::mem::take(&mut this.name));
                Ok(())
            }
            Err(e) => Err((core::mem::ManuallyDrop::into_inner(this), e)),
        }
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // SAFETY: a live handle, never used again.
        if let Err(e) = unit(unsafe { mp_shm_close(self.ptr.as_ptr()) }) {
            report_leak("SharedMemory", e);
        }
    }
}

impl core::fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedMemory")
            .field("name", &self.name)
            .field("len", &self.len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn a_block_is_found_by_name_and_survives_close() {
        let a = SharedMemory::create(100, 0).unwrap();
        // SAFETY: inside the 100-byte mapping.
        unsafe { a.data().add(99).write(42) };
        let b = SharedMemory::open(a.name(), &OpenOptions::new(), 0).unwrap();
        assert_eq!(b.len(), 100);
        let name = a.name().to_string();
        a.close().unwrap();
        // SAFETY: inside b's 100-byte mapping.
        assert_eq!(unsafe { b.data().add(99).read() }, 42);
        drop(b);
        crate::unlink(&name).unwrap();
        assert_eq!(
            SharedMemory::open(&name, &OpenOptions::new(), 0).unwrap_err(),
            Error::NotFound
        );
    }
}

//! [`SharedMemory`]: `multiprocessing.shared_memory.SharedMemory`.

use core::ptr::NonNull;

use super::block;
use super::error::Error;
use super::handle::report_leak;
use super::options::{OpenOptions, c_name};
use crate::sys::shm as os_shm;

/// A mapped block of shared memory in `/dev/shm` (the C type `mp_shm_t`, what
/// [`SharedMemory::as_ptr`] points to; Python's
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
    ptr: NonNull<u8>,
    // Copied from the library's private record at open.
    data: *mut u8,
    len: usize,
    name: String,
    created: bool,
}

// SAFETY: the handle is a pointer to a shared mapping, whose bytes are only reached
// through raw pointers.
unsafe impl Send for SharedMemory {}
// SAFETY: as above.
unsafe impl Sync for SharedMemory {}

impl SharedMemory {
    fn from_handle((ptr, created): (NonNull<u8>, bool)) -> Result<SharedMemory, Error> {
        // A block's name is ASCII (the library's name rules). Copied fallibly: on
        // `NoMemory` the handle is closed again (nothing leaks).
        let record = block::lookup(ptr).map_err(Error::from).and_then(|m| {
            // SAFETY: a live handle just opened; the name is copied before any close.
            let name = unsafe { block::name(ptr) }?;
            let name = name.to_str().map_err(|_| Error::System)?;
            let name = crate::fallible::try_string(name).map_err(|_| Error::NoMemory)?;
            Ok((m.len, name))
        });
        match record {
            Ok((len, name)) => Ok(SharedMemory {
                ptr,
                data: ptr.as_ptr(),
                len,
                name,
                created,
            }),
            Err(e) => {
                // The live handle just opened, never used again.
                let _ = block::close(ptr);
                Err(e)
            }
        }
    }

    /// Creates a zero-filled block of `size` (> 0) bytes under a fresh name
    /// (`psm_` + 8 hex digits, as CPython chooses); `mode` 0 means `0600`.
    pub fn create(size: usize, mode: u32) -> Result<SharedMemory, Error> {
        let flags = os_shm::FLAG_CREATE | os_shm::FLAG_EXCL;
        SharedMemory::from_handle(block::open(None, flags, size, mode)?)
    }

    /// Opens, or with `options.create(true)` creates with `size` bytes, the block
    /// `name` (`"blk"` and `"/blk"` are the same block). Opening an existing block
    /// maps all of it whatever `size` says: check [`SharedMemory::len`].
    pub fn open(name: &str, options: &OpenOptions, size: usize) -> Result<SharedMemory, Error> {
        let cname = c_name(name)?;
        let opened = block::open(Some(&cname), options.flags(), size, options.mode_bits())?;
        SharedMemory::from_handle(opened)
    }

    /// True if the call that made this handle created the block ([`create`](Self::create),
    /// or an [`open`](Self::open) that found no block under the name: of concurrent
    /// creators of one name exactly one), false if it opened an existing block (the C
    /// ABI's `MP_CREATED`, see `MP_REPORT_CREATED`).
    pub fn created(&self) -> bool {
        self.created
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
    pub fn as_ptr(&self) -> *mut core::ffi::c_void {
        self.ptr.as_ptr().cast()
    }

    /// Unmaps the block in this process (it lives on until [`unlink`](crate::unlink)
    /// and the last close); on error ([`Error::Busy`]: the calling thread holds a lock
    /// inside the block) the handle is handed back unchanged.
    pub fn close(self) -> Result<(), (SharedMemory, Error)> {
        let mut this = core::mem::ManuallyDrop::new(self);
        // A live handle, closed only here or in Drop (skipped).
        match block::close(this.ptr) {
            Ok(()) => {
                // The name is the only owned field; an empty String owns nothing.
                drop(core::mem::take(&mut this.name));
                Ok(())
            }
            Err(e) => Err((core::mem::ManuallyDrop::into_inner(this), e.into())),
        }
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // A live handle, never used again.
        if let Err(e) = block::close(self.ptr) {
            report_leak("SharedMemory", e.into());
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
        crate::api::library::unlink(&name).unwrap();
        assert_eq!(
            SharedMemory::open(&name, &OpenOptions::new(), 0).unwrap_err(),
            Error::NotFound
        );
    }
}

//! `mp_shm_t`: CPython's `multiprocessing.shared_memory.SharedMemory`.
//!
//! A block is raw bytes (no header) in the POSIX shared-memory namespace, i.e. the
//! file `/dev/shm/<name>` that glibc's `shm_open("/<name>")` and CPython's
//! `SharedMemory(name)` use, so blocks are shared with Python in both directions.
//! Unlike the synchronization objects, `mp_shm_t` is a small process-local heap
//! handle (mapping address, size and name); the shared part is the bytes.

use core::ffi::{c_char, c_void};
use std::ffi::CString;

use super::{code, mp_status, out_ok, write_out};
use crate::status::{MpResult, Status};
use crate::sys::shm as os_shm;

/// "MPSHMBLK": a live handle. Cleared on close.
const HANDLE_MAGIC: u64 = 0x4D50_5348_4D42_4C4B;

/// A handle on a mapped shared-memory block (opaque; from `mp_shm_open`, freed by
/// `mp_shm_close`). It is private to the process, but a `fork()`ed child may use the
/// handle it inherited (the mapping is shared) and must close it itself.
pub struct mp_shm_t {
    magic: u64,
    base: *mut u8,
    size: usize,
    name: CString,
}

/// Borrows a live handle: `MP_EINVAL` for NULL, `MP_EBADOBJ` for a closed or foreign
/// handle (best effort: the memory must still be readable).
///
/// # Safety
/// `shm` is NULL or points to readable memory the size of a handle.
unsafe fn handle<'a>(shm: *const mp_shm_t) -> MpResult<&'a mp_shm_t> {
    if shm.is_null() {
        return Err(Status::Inval);
    }
    if !(shm as usize).is_multiple_of(core::mem::align_of::<mp_shm_t>()) {
        return Err(Status::BadObj);
    }
    // SAFETY: non-NULL, aligned; readable per the contract. The magic is checked
    // before the other fields are used.
    let h = unsafe { &*shm };
    // SAFETY: reading a u64 from a readable, aligned place.
    let magic = unsafe { core::ptr::read_volatile(&h.magic) };
    if magic != HANDLE_MAGIC {
        return Err(Status::BadObj);
    }
    Ok(h)
}

/// Opens, or with `MP_CREATE` creates, the shared-memory block `name` and maps all of
/// it, read-write (CPython's `SharedMemory(name, create, size)`).
///
/// - `name`: 1–200 characters of `[A-Za-z0-9._-]`, optionally after one `/` (the
///   slash is optional: `"blk"` and `"/blk"` are the same block, `/dev/shm/blk`, which
///   Python attaches with `SharedMemory("blk")`). With `MP_CREATE`, `name` may be NULL:
///   a fresh name `psm_` + 8 hex digits is chosen (as CPython does), retrying on
///   collisions; read it with `mp_shm_name`.
/// - `flags`: `0` opens an existing block; `MP_CREATE` opens it or creates it;
///   `MP_CREATE | MP_EXCL` only creates (CPython's `create=True`).
/// - `size`: the size of a created block; must be > 0 with `MP_CREATE`. Opening an
///   existing block ignores it and maps the whole file, whatever its size (as CPython
///   does): check `mp_shm_size`. An empty file under the name is `MP_EBADOBJ`.
/// - `mode`: permission bits of a created block (exactly these, regardless of the
///   umask); `0` means `0600`, CPython's mode.
///
/// A created block is zero-filled, appears under its name only once fully sized (no
/// opener ever sees it smaller), and its memory is allocated at creation, so a block
/// that does not fit in `/dev/shm` fails here with `MP_ENOMEM` rather than with
/// `SIGBUS` at first touch.
///
/// Returns `MP_OK` (and writes `*shm_out`), `MP_EINVAL` (NULL `shm_out`, NULL `name`
/// without `MP_CREATE`, bad name/flags/mode, `size == 0` with `MP_CREATE`),
/// `MP_ENOENT`, `MP_EEXIST`, `MP_EACCES`, `MP_EBADOBJ` (not a regular non-empty file),
/// `MP_ENOMEM`, `MP_ESYS`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `shm_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_shm_open(
    name: *const c_char,
    flags: u32,
    size: usize,
    mode: u32,
    shm_out: *mut *mut mp_shm_t,
) -> mp_status {
    let r = (|| {
        out_ok(shm_out)?;
        let name = if name.is_null() {
            None
        } else {
            // SAFETY: non-NULL and NUL-terminated per the contract.
            Some(unsafe { core::ffi::CStr::from_ptr(name) })
        };
        let block = os_shm::open_block(name, flags, size, mode)?;
        let base = block.opened.base;
        let Ok(cname) = CString::new(block.name) else {
            // A validated name has no NUL byte; undo the mapping anyway.
            let _ = os_shm::unmap(base as usize);
            return Err(Status::Sys);
        };
        let h = Box::new(mp_shm_t {
            magic: HANDLE_MAGIC,
            base,
            size: block.opened.len,
            name: cname,
        });
        // SAFETY: checked non-NULL above; writable per the contract.
        unsafe { write_out(shm_out, Box::into_raw(h)) };
        Ok(())
    })();
    code(r)
}

/// The first byte of the block (page-aligned); NULL for NULL or a closed handle.
///
/// # Safety
/// `shm` is NULL or a handle from `mp_shm_open` that was not closed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_shm_data(shm: *mut mp_shm_t) -> *mut c_void {
    // SAFETY: forwarded contract.
    unsafe { handle(shm) }.map_or(core::ptr::null_mut(), |h| h.base.cast())
}

/// The size of the mapping in bytes: the file's size when it was opened (0 for NULL
/// or a closed handle).
///
/// # Safety
/// `shm` is NULL or a handle from `mp_shm_open` that was not closed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_shm_size(shm: *const mp_shm_t) -> usize {
    // SAFETY: forwarded contract.
    unsafe { handle(shm) }.map_or(0, |h| h.size)
}

/// The block's name as CPython's `SharedMemory.name` shows it: without a leading `/`
/// (`"psm_1a2b3c4d"`, or `"blk"` for a block opened as `"/blk"`). Pass it to Python's
/// `SharedMemory(name)`, `mp_shm_open` or `mp_unlink`. The string lives as long as the
/// handle; NULL for NULL or a closed handle.
///
/// # Safety
/// `shm` is NULL or a handle from `mp_shm_open` that was not closed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_shm_name(shm: *const mp_shm_t) -> *const c_char {
    // SAFETY: forwarded contract.
    unsafe { handle(shm) }.map_or(core::ptr::null(), |h| h.name.as_ptr())
}

/// Unmaps the block in the calling process and frees the handle (CPython's
/// `SharedMemory.close()`). The block itself lives on until `mp_unlink(name)` and the
/// last close (CPython's `unlink()`).
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL), `MP_EBADOBJ` (not a live handle), `MP_EBUSY`
/// (the calling thread holds an `mp_rlock_t` that lies inside the block — e.g. one made
/// there with `mp_rlock_init` —; nothing is unmapped: release it first).
///
/// # Safety
/// `shm` is NULL or a handle from `mp_shm_open`; neither it nor the data or name
/// pointers are used after a successful close.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_shm_close(shm: *mut mp_shm_t) -> mp_status {
    let r = (|| {
        // SAFETY: forwarded contract.
        let base = unsafe { handle(shm) }?.base;
        os_shm::unmap(base as usize).map_err(|e| match e {
            Status::Busy => Status::Busy,
            _ => Status::BadObj,
        })?;
        // SAFETY: a live handle made by Box::into_raw in mp_shm_open (checked above;
        // no reference to it is alive). The magic is cleared first so that a stale
        // copy of the pointer reads as closed for as long as the allocator leaves the
        // memory alone.
        unsafe {
            core::ptr::write_volatile(core::ptr::addr_of_mut!((*shm).magic), 0);
            drop(Box::from_raw(shm));
        }
        Ok(())
    })();
    code(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::{MP_CREATE, MP_EINVAL, MP_EXCL, MP_OK};
    use std::ffi::CStr;

    #[test]
    fn create_generated_name_and_reopen() {
        let _g = crate::sys::shm::TEST_MAPPINGS
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let mut s: *mut mp_shm_t = core::ptr::null_mut();
        // SAFETY: valid arguments.
        unsafe {
            assert_eq!(
                mp_shm_open(core::ptr::null(), MP_CREATE, 10, 0, &mut s),
                MP_OK
            );
            let name = CStr::from_ptr(mp_shm_name(s)).to_owned();
            let n = name.to_str().unwrap();
            assert!(n.starts_with("psm_") && n.len() == 12, "{n}");
            assert_eq!(mp_shm_size(s), 10);
            let p = mp_shm_data(s) as *mut u8;
            assert_eq!(*p.add(9), 0);
            *p.add(9) = 42;
            let mut t: *mut mp_shm_t = core::ptr::null_mut();
            // Size ignored when opening; slash optional.
            let slashed = CString::new(format!("/{n}")).unwrap();
            assert_eq!(mp_shm_open(slashed.as_ptr(), 0, 999, 0, &mut t), MP_OK);
            assert_eq!(mp_shm_size(t), 10);
            assert_eq!(CStr::from_ptr(mp_shm_name(t)), name.as_c_str());
            assert_eq!(*(mp_shm_data(t) as *mut u8).add(9), 42);
            assert_eq!(
                mp_shm_open(name.as_ptr(), MP_CREATE | MP_EXCL, 10, 0, &mut t),
                Status::Exist.code()
            );
            assert_eq!(mp_shm_close(t), MP_OK);
            assert_eq!(crate::ffi::common::mp_unlink(name.as_ptr()), MP_OK);
            assert_eq!(mp_shm_close(s), MP_OK);
            assert_eq!(mp_shm_close(core::ptr::null_mut()), MP_EINVAL);
            assert_eq!(mp_shm_open(core::ptr::null(), 0, 10, 0, &mut t), MP_EINVAL);
            assert_eq!(
                mp_shm_open(core::ptr::null(), MP_CREATE, 0, 0, &mut t),
                MP_EINVAL
            );
            assert!(mp_shm_data(core::ptr::null_mut()).is_null());
            assert!(mp_shm_name(core::ptr::null()).is_null());
            assert_eq!(mp_shm_size(core::ptr::null()), 0);
        }
    }
}

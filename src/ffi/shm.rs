//! `mp_shm_t`: CPython's `multiprocessing.shared_memory.SharedMemory`.
//!
//! A block is raw bytes (no header) in the POSIX shared-memory namespace, i.e. the
//! file `/dev/shm/<name>` that glibc's `shm_open("/<name>")` and CPython's
//! `SharedMemory(name)` use, so blocks are shared with Python in both directions.
//! Unlike the synchronization objects, the bytes carry no header, so an `mp_shm_t`
//! is an opaque process-local value: the mapping's address, resolved through the
//! process's private mapping registry (which also keeps the size and the name). Every
//! call looks the handle up there first and never dereferences it, so a closed or
//! bogus handle is `MP_EBADOBJ` (or NULL / 0), and, since a closed address is never
//! handed out again, a stale handle can never reach a newer block.

use core::ffi::{c_char, c_void};
use core::ptr::NonNull;
use std::ffi::CStr;

use super::boundary::{code, open_out};
use super::status::mp_status;
use crate::api::block;
use crate::status::{MpResult, Status};
use crate::sys::shm as os_shm;

/// A handle on a mapped shared-memory block (opaque; from `mp_shm_open`, ended by
/// `mp_shm_close`). It is private to the process, but a `fork()`ed child may use the
/// handle it inherited (the mapping is shared) and must close it itself.
pub struct mp_shm_t {
    _opaque: [u8; 0],
}

/// The live block behind a handle: `MP_EINVAL` for NULL, `MP_EBADOBJ` for anything
/// that is not a live block of this process (closed, another object, a bogus value).
fn handle(shm: *const mp_shm_t) -> MpResult<os_shm::Mapping> {
    block::lookup(NonNull::new(shm.cast_mut().cast()).ok_or(Status::Inval)?)
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
///   `MP_CREATE | MP_EXCL` only creates (CPython's `create=True`). An existing block
///   whose file belongs to another user (e.g. created by Python running as that user)
///   is `MP_EACCES` unless `MP_ANY_OWNER` is added.
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
/// Argument order: here `size` comes before `mode`, while the other `*_open` calls
/// put `mode` right after `flags`. The order is kept on purpose: `size_t` and
/// `uint32_t` convert into each other silently in C, so swapping them would make
/// every recompiled caller pass its size as the mode and its mode as the size
/// without a compiler warning.
///
/// Returns `MP_OK` (and writes `*shm_out`; `MP_CREATED` with `MP_REPORT_CREATED` if it created it), `MP_EINVAL` (NULL `shm_out`, NULL `name`
/// without `MP_CREATE`, bad name/flags/mode, `size == 0` with `MP_CREATE`),
/// `MP_ENOENT`, `MP_EEXIST`, `MP_EACCES` (no permission, or another user's block
/// without `MP_ANY_OWNER`), `MP_EBADOBJ` (not a regular non-empty file),
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
    // SAFETY: forwarded contract.
    unsafe {
        open_out(shm_out, flags, |flags| {
            let name = if name.is_null() {
                None
            } else {
                Some(CStr::from_ptr(name))
            };
            block::open(name, flags, size, mode)
        })
    }
}

/// The first byte of the block (page-aligned); NULL for NULL or a closed handle.
///
/// # Safety
/// None beyond the C types: `shm` is only looked up, never dereferenced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_shm_data(shm: *mut mp_shm_t) -> *mut c_void {
    handle(shm).map_or(core::ptr::null_mut(), |_| shm.cast())
}

/// The size of the mapping in bytes: the file's size when it was opened (0 for NULL
/// or a closed handle).
///
/// # Safety
/// None beyond the C types: `shm` is only looked up, never dereferenced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_shm_size(shm: *const mp_shm_t) -> usize {
    handle(shm).map_or(0, |m| m.len)
}

/// The block's name as CPython's `SharedMemory.name` shows it: without a leading `/`
/// (`"psm_1a2b3c4d"`, or `"blk"` for a block opened as `"/blk"`). Pass it to Python's
/// `SharedMemory(name)`, `mp_shm_open` or `mp_unlink`. The string lives as long as the
/// handle; NULL for NULL or a closed handle.
///
/// # Safety
/// None beyond the C types: `shm` is only looked up, never dereferenced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_shm_name(shm: *const mp_shm_t) -> *const c_char {
    match NonNull::new(shm.cast_mut().cast()) {
        // SAFETY: the caller uses the name only while the handle is open (its contract).
        Some(p) => unsafe { block::name(p) }.map_or(core::ptr::null(), CStr::as_ptr),
        None => core::ptr::null(),
    }
}

/// Unmaps the block in the calling process and ends the handle (CPython's
/// `SharedMemory.close()`). The block itself lives on until `mp_unlink(name)` and the
/// last close (CPython's `unlink()`). A handle is never reused within the process, so
/// closing it a second time is `MP_EBADOBJ` and touches no other block.
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL), `MP_EBUSY` (the calling thread holds a lock
/// that lies inside the block: nothing changed), `MP_EBADOBJ` (not a live handle,
/// e.g. already closed).
///
/// # Safety
/// None beyond the C types: `shm` is only looked up, never dereferenced. After a
/// successful close, the data and name pointers are dead.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_shm_close(shm: *mut mp_shm_t) -> mp_status {
    code(
        NonNull::new(shm.cast())
            .ok_or(Status::Inval)
            .and_then(block::close),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::conventions::{MP_CREATE, MP_EXCL};
    use crate::ffi::status::{MP_EINVAL, MP_OK};
    use std::ffi::{CStr, CString};

    #[test]
    fn create_generated_name_and_reopen() {
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
            assert_eq!(crate::ffi::library::mp_unlink(name.as_ptr()), MP_OK);
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

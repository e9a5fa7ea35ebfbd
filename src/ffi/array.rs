//! `mp_array_t`: CPython's `Value`, `Array`, `RawValue` and `RawArray`.
//!
//! An array is a mapping made by this library (anonymous or named) that starts with
//! a descriptor and an embedded RLock; `mp_array_t *` points at its start. Every call
//! first looks the pointer up in the process's mapping registry, so a pointer this
//! process did not get from `mp_array_new`/`mp_array_open` is `MP_EBADOBJ` without
//! being dereferenced, and the descriptor is re-validated against the mapping's real
//! length (see `raw::array`).

use core::ffi::{c_char, c_void};
use core::ptr::NonNull;

use super::boundary::{c_name, code, ffi_out, open_out};
use super::rlock::mp_rlock_t;
use super::status::mp_status;
use crate::api::array_mapping;
use crate::raw::array::{self as raw, ElemType, View};
use crate::status::{MpResult, Status};

/// An element type: the Python `array`/`ctypes` type character, so bindings can pass
/// Python's codes through unchanged (`MP_TYPE_INT == 'i'`).
pub type mp_type = u8;

/// `'c'`: `char`, 1 byte (ctypes `c_char`).
pub const MP_TYPE_CHAR: mp_type = b'c';
/// `'b'`: `signed char`, 1 byte.
pub const MP_TYPE_BYTE: mp_type = b'b';
/// `'B'`: `unsigned char`, 1 byte.
pub const MP_TYPE_UBYTE: mp_type = b'B';
/// `'h'`: `short`, 2 bytes.
pub const MP_TYPE_SHORT: mp_type = b'h';
/// `'H'`: `unsigned short`, 2 bytes.
pub const MP_TYPE_USHORT: mp_type = b'H';
/// `'i'`: `int`, 4 bytes.
pub const MP_TYPE_INT: mp_type = b'i';
/// `'I'`: `unsigned int`, 4 bytes.
pub const MP_TYPE_UINT: mp_type = b'I';
/// `'l'`: `long` (8 bytes on 64-bit Linux, 4 on 32-bit).
pub const MP_TYPE_LONG: mp_type = b'l';
/// `'L'`: `unsigned long` (as `long`).
pub const MP_TYPE_ULONG: mp_type = b'L';
/// `'q'`: `long long`, 8 bytes.
pub const MP_TYPE_LONGLONG: mp_type = b'q';
/// `'Q'`: `unsigned long long`, 8 bytes.
pub const MP_TYPE_ULONGLONG: mp_type = b'Q';
/// `'f'`: `float`, 4 bytes.
pub const MP_TYPE_FLOAT: mp_type = b'f';
/// `'d'`: `double`, 8 bytes.
pub const MP_TYPE_DOUBLE: mp_type = b'd';
/// `'?'`: `bool`, 1 byte.
pub const MP_TYPE_BOOL: mp_type = b'?';

/// Offset in bytes of the first element from the start of an array's mapping (and of
/// its `/dev/shm` file, for a named array): the elements of a named array can be read
/// by a program that maps the file itself, e.g. Python's
/// `SharedMemory(name).buf[MP_ARRAY_DATA_OFFSET:]`. Part of the ABI.
pub const MP_ARRAY_DATA_OFFSET: usize = 128;

const _: () = assert!(MP_ARRAY_DATA_OFFSET == raw::DATA_OFFSET);

/// A shared array of `mp_array_len()` elements of one `mp_type`, zeroed at creation,
/// optionally guarded by an embedded RLock (`Array(..., lock=True)`); a `Value` is an
/// array of length 1. Opaque: get one from `mp_array_new` or `mp_array_open`, end it
/// with `mp_array_close`. It is a shared mapping, so a `fork()`ed child uses the
/// parent's pointer.
pub struct mp_array_t {
    _opaque: [u8; 0],
}

/// Looks `arr` up: `MP_EINVAL` for NULL, `MP_EBADOBJ` unless it is the start of a
/// mapping this process made; else that start and the mapping's length.
/// `arr` as the core takes an array handle: `MP_EINVAL` for NULL (the core looks it up
/// in the mapping registry before reading anything).
#[inline(always)]
fn handle(arr: *const mp_array_t) -> MpResult<NonNull<u8>> {
    NonNull::new(arr.cast_mut().cast()).ok_or(Status::Inval)
}

/// The array whose handle is `arr`, validated ([`array_mapping::view`]).
///
/// # Safety
/// `arr` is not closed during `'a` (the caller's contract: no use after
/// `mp_array_close`).
#[inline(always)]
unsafe fn view<'a>(arr: *const mp_array_t) -> MpResult<View<'a>> {
    // SAFETY: forwarded contract.
    handle(arr).and_then(|p| unsafe { array_mapping::view(p) })
}

/// [`view`] for an element access ([`array_mapping::access_view`]).
///
/// # Safety
/// As [`view`].
#[inline(always)]
unsafe fn access_view<'a>(arr: *const mp_array_t) -> MpResult<View<'a>> {
    // SAFETY: forwarded contract.
    handle(arr).and_then(|p| unsafe { array_mapping::access_view(p) })
}

fn elem_type(ty: mp_type) -> MpResult<ElemType> {
    ElemType::from_code(u32::from(ty)).ok_or(Status::Inval)
}

/// Creates a zeroed array of `length` elements of `type` in a new anonymous shared
/// mapping inherited by `fork()`ed children (CPython's `Array(type, length)` /
/// `Value(type)` with `length == 1`; `RawArray`/`RawValue` with `with_lock == false`).
/// `length` may be 0. With `with_lock`, the array embeds an RLock
/// (`mp_array_get_lock`) and every get/set/read/write takes it.
///
/// Returns `MP_OK` (and writes `*arr_out`), `MP_EINVAL` (NULL `arr_out`, unknown
/// `type`), `MP_ENOMEM` (no memory, or the size does not fit in the address space).
///
/// # Safety
/// `arr_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_array_new(
    r#type: mp_type,
    length: usize,
    with_lock: bool,
    arr_out: *mut *mut mp_array_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        ffi_out(arr_out, || {
            let ty = elem_type(r#type)?;
            array_mapping::new(ty, length, with_lock).map(|p| p.as_ptr().cast())
        })
    }
}

/// Opens (or with `MP_CREATE` creates) the array called `name`, so that unrelated
/// processes share it; `flags`, `mode` and race-free creation as in `mp_lock_open`.
/// A created array is zeroed. An existing array must match all of `type`, `length`
/// and `with_lock`, else `MP_EBADOBJ` (so two programs never disagree on what the
/// bytes mean or on whether accesses are locked). A file under the name that is not
/// such an array (wrong size, truncated, another object, foreign data) is
/// `MP_EBADOBJ`; its size is checked before it is mapped.
///
/// Returns `MP_OK` (and writes `*arr_out`; `MP_CREATED` with `MP_REPORT_CREATED` if it created it), `MP_EINVAL` (NULL, bad name/flags/mode,
/// unknown `type`), `MP_ENOENT`, `MP_EEXIST`, `MP_EACCES`, `MP_EBADOBJ`, `MP_ENOMEM`
/// (also when `/dev/shm` has no room), `MP_ESYS`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `arr_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_array_open(
    name: *const c_char,
    flags: u32,
    mode: u32,
    r#type: mp_type,
    length: usize,
    with_lock: bool,
    arr_out: *mut *mut mp_array_t,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        open_out(arr_out, flags, |flags| {
            let name = c_name(name)?;
            let ty = elem_type(r#type)?;
            array_mapping::open_with(name, flags, mode, ty, length, with_lock, None)
        })
    }
}

/// Unmaps an array in the calling process (the object lives on in other processes,
/// and under its name until `mp_unlink`). Decided from the process's private record
/// of its mappings, never from the array's shared memory: an array whose descriptor
/// or header another process scribbled over can still be closed, and a closed handle
/// is never dereferenced (its address is never handed out again, so a stale copy
/// cannot close a newer array).
///
/// Returns `MP_OK`, `MP_EINVAL` (NULL), `MP_EBUSY` (the calling thread holds the
/// array's lock, or another lock inside it: nothing changed), `MP_EBADOBJ` (not an
/// array from this library in this process, e.g. already closed).
///
/// # Safety
/// `arr` is NULL or any pointer value (it is not dereferenced); after a successful
/// close, the pointers from `mp_array_data`/`mp_array_get_lock` are dead.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_array_close(arr: *mut mp_array_t) -> mp_status {
    code(handle(arr).and_then(array_mapping::close))
}

/// The first element (16-byte aligned), for direct access: with a synchronized array,
/// hold its lock (`mp_array_get_lock`) while you touch the elements to get CPython's
/// `with arr.get_lock():` semantics. Valid (and non-NULL) also for a zero-length
/// array; NULL for NULL or a bad object.
///
/// # Safety
/// `arr` is NULL or a live array of this process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_array_data(arr: *mut mp_array_t) -> *mut c_void {
    // SAFETY: forwarded contract (no use after `mp_array_close`).
    unsafe { view(arr) }.map_or(core::ptr::null_mut(), |v| v.data.cast())
}

/// Number of elements (0 for NULL or a bad object).
///
/// # Safety
/// `arr` is NULL or a live array of this process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_array_len(arr: *const mp_array_t) -> usize {
    // SAFETY: forwarded contract (no use after `mp_array_close`).
    unsafe { view(arr) }.map_or(0, |v| v.len)
}

/// Size in bytes of one element: the platform C ABI size of its type (0 for NULL or a
/// bad object).
///
/// # Safety
/// `arr` is NULL or a live array of this process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_array_item_size(arr: *const mp_array_t) -> usize {
    // SAFETY: forwarded contract (no use after `mp_array_close`).
    unsafe { view(arr) }.map_or(0, |v| v.item_size)
}

/// The element type, e.g. `MP_TYPE_INT` (0 for NULL or a bad object).
///
/// # Safety
/// `arr` is NULL or a live array of this process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_array_type(arr: *const mp_array_t) -> mp_type {
    // SAFETY: forwarded contract (no use after `mp_array_close`).
    unsafe { view(arr) }.map_or(0, |v| v.ty.code())
}

/// Declares a synchronized array's data repaired after an owner death: later locked
/// accesses return `MP_OK` again instead of `MP_OWNER_DEAD`. The calling thread must
/// hold the array's lock (`mp_rlock_acquire(mp_array_get_lock(arr), ...)`, which itself
/// returns `MP_OWNER_DEAD` while the data is marked inconsistent), so that no other
/// writer can die in between:
///
/// ```c
/// mp_rlock_t *lk = mp_array_get_lock(arr);
/// if (mp_rlock_acquire(lk, true, MP_FOREVER) == MP_OWNER_DEAD) {
///     rewrite_or_validate(arr);        // the elements may be torn
///     mp_array_mark_consistent(arr);
/// }
/// mp_rlock_release(lk);
/// ```
///
/// Returns `MP_OK` (also when nothing was marked), `MP_ENOTOWNER` (the calling thread
/// does not hold the lock), `MP_EINVAL` (NULL, or an array without a lock), `MP_EBADOBJ`.
///
/// # Safety
/// `arr` is NULL or a live array of this process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_array_mark_consistent(arr: *mut mp_array_t) -> mp_status {
    // SAFETY: forwarded contract (no use after `mp_array_close`).
    match unsafe { view(arr) } {
        Ok(v) => v.mark_consistent().code(),
        Err(e) => e.code(),
    }
}

/// The RLock embedded in a synchronized array (CPython's `get_lock()`); NULL for a raw
/// array (`with_lock == false`), NULL, or a bad object. Use it with the `mp_rlock_*`
/// functions to make several accesses atomic (the get/set/read/write calls re-enter
/// it). It belongs to the array: `mp_rlock_close`/`mp_rlock_destroy` refuse it
/// (`MP_EINVAL`), and it is gone after `mp_array_close`.
///
/// # Safety
/// `arr` is NULL or a live array of this process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_array_get_lock(arr: *mut mp_array_t) -> *mut mp_rlock_t {
    // SAFETY: forwarded contract (no use after `mp_array_close`).
    match unsafe { view(arr) } {
        Ok(View {
            lock: Some(lock), ..
        }) => (lock as *const crate::raw::rlock::RawRLock)
            .cast_mut()
            .cast(),
        _ => core::ptr::null_mut(),
    }
}

/// Copies element `index` to `*item_out` (`mp_array_item_size()` bytes, no
/// alignment needed), under the array's lock if it has one.
///
/// Returns `MP_OK`; `MP_OWNER_DEAD` (the element was copied, but a process died
/// holding the array's lock — e.g. inside `mp_array_write` — so the data may be torn:
/// the lock is released again. This is sticky: every locked access, by any process,
/// and every `mp_rlock_acquire` of `mp_array_get_lock()`, returns `MP_OWNER_DEAD` until
/// a repairer that holds the lock calls `mp_array_mark_consistent`); `MP_ERANGE` (`index >= len`); `MP_EINTR` (a signal handler interrupted the
/// wait for the lock: nothing copied); `MP_EOVERFLOW` (the caller holds the lock at
/// its recursion limit); `MP_EINVAL` (NULL); `MP_EBADOBJ`.
///
/// # Safety
/// `arr` is NULL or a live array of this process; `item_out` is NULL or valid for
/// `mp_array_item_size()` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_array_get(
    arr: *mut mp_array_t,
    index: usize,
    item_out: *mut c_void,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { read_elements(arr, index, 1, item_out) }
}

/// Copies `*item` (`mp_array_item_size()` bytes, copied bit for bit, no conversion)
/// into element `index`, under the array's lock if it has one.
///
/// Returns as `mp_array_get` (`MP_OWNER_DEAD`: the element was written).
///
/// # Safety
/// `arr` is NULL or a live array of this process; `item` is NULL or valid for
/// `mp_array_item_size()` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_array_set(
    arr: *mut mp_array_t,
    index: usize,
    item: *const c_void,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { write_elements(arr, index, 1, item) }
}

/// Copies elements `start .. start + count` to `out` (`count * item_size` bytes) in
/// one step under the array's lock if it has one (CPython's `arr[start:start+count]`).
/// `count == 0` with `start <= len` copies nothing and succeeds.
///
/// Returns as `mp_array_get`; `MP_ERANGE` if `start + count > len` (or overflows).
///
/// # Safety
/// `arr` is NULL or a live array of this process; `out` is NULL or valid for
/// `count * mp_array_item_size()` writable bytes (it may overlap the array).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_array_read(
    arr: *mut mp_array_t,
    start: usize,
    count: usize,
    out: *mut c_void,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { read_elements(arr, start, count, out) }
}

/// `mp_array_read` (and `mp_array_get`), inlined into both: the whole access is one
/// call from C.
///
/// # Safety
/// As `mp_array_read`.
#[inline(always)]
unsafe fn read_elements(
    arr: *mut mp_array_t,
    start: usize,
    count: usize,
    out: *mut c_void,
) -> mp_status {
    if out.is_null() {
        return Status::Inval.code();
    }
    // SAFETY: forwarded contract (no use after `mp_array_close`).
    match unsafe { access_view(arr) } {
        // SAFETY: `out` is valid for count * item_size bytes per the contract.
        Ok(v) => unsafe { v.read(start, count, out.cast()) }.code(),
        Err(e) => e.code(),
    }
}

/// Copies `count` elements from `in` into elements `start .. start + count` in one
/// step under the array's lock if it has one (CPython's slice assignment).
///
/// Returns as `mp_array_read` (`MP_OWNER_DEAD`: the elements were written).
///
/// # Safety
/// `arr` is NULL or a live array of this process; `in` is NULL or valid for
/// `count * mp_array_item_size()` readable bytes (it may overlap the array).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mp_array_write(
    arr: *mut mp_array_t,
    start: usize,
    count: usize,
    r#in: *const c_void,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { write_elements(arr, start, count, r#in) }
}

/// `mp_array_write` (and `mp_array_set`), inlined into both.
///
/// # Safety
/// As `mp_array_write`.
#[inline(always)]
unsafe fn write_elements(
    arr: *mut mp_array_t,
    start: usize,
    count: usize,
    r#in: *const c_void,
) -> mp_status {
    if r#in.is_null() {
        return Status::Inval.code();
    }
    // SAFETY: forwarded contract (no use after `mp_array_close`).
    match unsafe { access_view(arr) } {
        // SAFETY: `in_` is valid for count * item_size bytes per the contract.
        Ok(v) => unsafe { v.write(start, count, r#in.cast()) }.code(),
        Err(e) => e.code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::status::{MP_EBADOBJ, MP_EINVAL, MP_ERANGE, MP_OK};

    #[test]
    fn type_constants_are_python_characters() {
        let pairs = [
            (MP_TYPE_CHAR, 'c'),
            (MP_TYPE_BYTE, 'b'),
            (MP_TYPE_UBYTE, 'B'),
            (MP_TYPE_SHORT, 'h'),
            (MP_TYPE_USHORT, 'H'),
            (MP_TYPE_INT, 'i'),
            (MP_TYPE_UINT, 'I'),
            (MP_TYPE_LONG, 'l'),
            (MP_TYPE_ULONG, 'L'),
            (MP_TYPE_LONGLONG, 'q'),
            (MP_TYPE_ULONGLONG, 'Q'),
            (MP_TYPE_FLOAT, 'f'),
            (MP_TYPE_DOUBLE, 'd'),
            (MP_TYPE_BOOL, '?'),
        ];
        for (c, ch) in pairs {
            assert_eq!(c, ch as u8);
            assert!(elem_type(c).is_ok());
        }
        assert_eq!(elem_type(b'u'), Err(Status::Inval));
    }

    #[test]
    fn anonymous_array_round_trip() {
        let _g = crate::sys::shm::TEST_MAPPINGS
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let mut a: *mut mp_array_t = core::ptr::null_mut();
        // SAFETY: valid out-pointer.
        assert_eq!(unsafe { mp_array_new(MP_TYPE_INT, 3, true, &mut a) }, MP_OK);
        // SAFETY: `a` is live until closed below.
        unsafe {
            assert_eq!(mp_array_len(a), 3);
            assert_eq!(mp_array_item_size(a), 4);
            assert_eq!(mp_array_type(a), MP_TYPE_INT);
            assert!(!mp_array_get_lock(a).is_null());
            let x: i32 = -7;
            assert_eq!(mp_array_set(a, 2, (&x as *const i32).cast()), MP_OK);
            let mut y: i32 = 0;
            assert_eq!(mp_array_get(a, 2, (&mut y as *mut i32).cast()), MP_OK);
            assert_eq!(y, -7);
            assert_eq!(mp_array_get(a, 3, (&mut y as *mut i32).cast()), MP_ERANGE);
            assert_eq!(mp_array_get(a, 0, core::ptr::null_mut()), MP_EINVAL);
            assert_eq!(mp_array_close(a), MP_OK);
        }
        // A pointer the library did not map.
        let mut local = [0u64; 32];
        let p = local.as_mut_ptr() as *mut mp_array_t;
        // SAFETY: never dereferenced (not in the registry).
        unsafe {
            assert_eq!(mp_array_close(p), MP_EBADOBJ);
            assert!(mp_array_data(p).is_null());
            assert_eq!(mp_array_type(core::ptr::null()), 0);
        }
    }
}

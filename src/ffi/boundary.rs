//! The checks at the C boundary: pointers to objects and to storage, out-parameters,
//! C strings, and the collapse of the core's results into `mp_status` codes.

use core::ffi::c_char;
use core::ptr::NonNull;
use std::ffi::CStr;

use super::conventions::MP_REPORT_CREATED;
use super::status::{MP_CREATED, MP_EINVAL, MP_OK, mp_status};
use crate::api::lifecycle;
use crate::api::object::{SharedObject, valid};
use crate::status::{MpResult, Status};

/// True if `p` has the published alignment of the C type (`MP_T_ALIGN`, which is at
/// least the state machine's own): a pointer that merely suits today's layout is still
/// refused, so that callers cannot come to depend on a laxer rule than the contract's.
#[inline]
fn aligned<T, C>(p: *const C) -> bool {
    (p as usize).is_multiple_of(core::mem::align_of::<T>().max(core::mem::align_of::<C>()))
}

/// Borrows a live object of type `T` from a C pointer: `MP_EINVAL` for NULL,
/// `MP_EBADOBJ` for misaligned memory or memory without a live `T`.
///
/// # Safety
/// `p` is NULL or points to at least `size_of::<T>()` readable bytes that stay mapped
/// for `'a` (the caller's contract on every exported function).
#[inline]
pub(crate) unsafe fn object<'a, T: SharedObject, C>(p: *const C) -> MpResult<&'a T> {
    // SAFETY: forwarded contract.
    valid(unsafe { located::<T, C>(p) }?)
}

/// [`object`] without the header check: `MP_EINVAL` for NULL, `MP_EBADOBJ` for
/// misaligned memory, else the bytes viewed as a `T` — for a caller that checks the
/// header itself (one that accepts more than one kind).
///
/// # Safety
/// As [`object`].
#[inline(always)]
pub(crate) unsafe fn located<'a, T, C>(p: *const C) -> MpResult<&'a T> {
    // SAFETY: forwarded contract.
    unsafe { viewed(p, Status::BadObj) }
}

/// Like [`object`], but for in-place init: only NULL and alignment are checked, and
/// misaligned memory is `MP_EINVAL` (the caller passed unusable storage).
///
/// # Safety
/// As [`object`], and the memory must be writable.
#[inline]
pub(crate) unsafe fn storage<'a, T, C>(p: *mut C) -> MpResult<&'a T> {
    // SAFETY: forwarded contract.
    unsafe { viewed(p, Status::Inval) }
}

/// The bytes at `p` viewed as a `T`: `MP_EINVAL` for NULL, `misaligned` for memory
/// without the published alignment.
///
/// # Safety
/// As [`object`].
#[inline(always)]
unsafe fn viewed<'a, T, C>(p: *const C, misaligned: Status) -> MpResult<&'a T> {
    let p = pointer::<T, C>(p, misaligned)?;
    // SAFETY: non-null, aligned, and readable for size_of::<T>() bytes per the
    // contract; T is made of atomics and integers, for which every bit pattern is
    // valid, and all access goes through atomics (other processes write concurrently).
    Ok(unsafe { p.as_ref() })
}

/// The pointer check alone, nothing read: `MP_EINVAL` for NULL, `misaligned` for memory
/// without the published alignment; else `p` as a pointer to a `T`, for a core call
/// that decides itself what it may read (a close, a destroy, a semaphore of either
/// flavour).
#[inline(always)]
pub(crate) fn pointer<T, C>(p: *const C, misaligned: Status) -> MpResult<NonNull<T>> {
    let Some(p) = NonNull::new(p.cast_mut()) else {
        return Err(Status::Inval);
    };
    if !aligned::<T, C>(p.as_ptr()) {
        return Err(misaligned);
    }
    Ok(p.cast())
}

/// `mp_T_close`: `MP_EINVAL` for NULL, `MP_EBADOBJ` for misaligned memory, else the
/// core's close ([`lifecycle::close`]: decided from the mapping registry first, so that
/// a closed handle is never read).
///
/// # Safety
/// `p` is NULL, a handle from this library (closed or not), or points to at least
/// `size_of::<T>()` readable bytes.
pub(crate) unsafe fn close<T: SharedObject, C>(p: *mut C) -> mp_status {
    // SAFETY: aligned (checked) and the forwarded contract.
    code(pointer::<T, C>(p, Status::BadObj).and_then(|p| unsafe { lifecycle::close::<T>(p) }))
}

/// `mp_T_destroy`: `MP_EINVAL` for NULL, `MP_EBADOBJ` for misaligned memory, else the
/// core's destroy ([`lifecycle::destroy`]: in-place objects only; a closed handle of
/// this library is `MP_EBADOBJ` without being read).
///
/// # Safety
/// As [`object`], or `p` is a closed handle of this library.
pub(crate) unsafe fn destroy<T: SharedObject, C>(p: *mut C) -> mp_status {
    // SAFETY: aligned (checked) and the forwarded contract.
    code(pointer::<T, C>(p, Status::BadObj).and_then(|p| unsafe { lifecycle::destroy::<T>(p) }))
}

/// Runs `f` and, on success, writes its value to the out-parameter `out`: the one
/// shape of every constructor and getter. `MP_EINVAL` for a NULL `out` (checked
/// before `f` runs, so a constructor creates nothing); otherwise `MP_OK` or `f`'s
/// error. `out` is written only on success.
///
/// # Safety
/// `out` is NULL or valid for writing a `T`.
#[inline]
pub(crate) unsafe fn ffi_out<T>(out: *mut T, f: impl FnOnce() -> MpResult<T>) -> mp_status {
    if out.is_null() {
        return MP_EINVAL;
    }
    match f() {
        Ok(value) => {
            // SAFETY: non-NULL (checked above) and writable per the contract.
            unsafe { out.write(value) };
            MP_OK
        }
        Err(e) => e.code(),
    }
}

/// `mp_T_open`: runs `open` with `flags` less `MP_REPORT_CREATED` and writes the
/// handle it returns to `out`, as [`ffi_out`]. Returns `MP_CREATED` when the flags had
/// `MP_REPORT_CREATED` and `open` created the object, otherwise what `ffi_out` returns.
///
/// # Safety
/// `out` is NULL or valid for writing a pointer.
pub(crate) unsafe fn open_out<T, C>(
    out: *mut *mut C,
    flags: u32,
    open: impl FnOnce(u32) -> MpResult<(NonNull<T>, bool)>,
) -> mp_status {
    let mut created = false;
    // SAFETY: forwarded contract.
    let st = unsafe {
        ffi_out(out, || {
            let (p, made) = open(flags & !MP_REPORT_CREATED)?;
            created = made;
            Ok(p.as_ptr().cast())
        })
    };
    if st == MP_OK && created && flags & MP_REPORT_CREATED != 0 {
        MP_CREATED
    } else {
        st
    }
}

/// Converts a C string argument (`MP_EINVAL` for NULL).
///
/// # Safety
/// `name` is NULL or a valid NUL-terminated string.
pub(crate) unsafe fn c_name<'a>(name: *const c_char) -> MpResult<&'a CStr> {
    if name.is_null() {
        return Err(Status::Inval);
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    Ok(unsafe { CStr::from_ptr(name) })
}

/// Collapses a `MpResult<()>` into a status code.
#[inline]
pub(crate) fn code(r: MpResult<()>) -> mp_status {
    match r {
        Ok(()) => MP_OK,
        Err(e) => e.code(),
    }
}

/// Collapses a result carrying an outcome status into a code.
#[inline]
pub(crate) fn code_of(r: MpResult<Status>) -> mp_status {
    match r {
        Ok(s) | Err(s) => s.code(),
    }
}

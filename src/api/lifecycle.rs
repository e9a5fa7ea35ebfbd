//! The lifecycles every fixed-size type family shares: anonymous (`new`), named
//! (`open`), in place (`init` / `destroy`), and `close`. Both faces use them: the safe
//! API's handles and the C ABI's `mp_T_new` / `mp_T_open` / `mp_T_close` /
//! `mp_T_destroy`.

use core::ptr::NonNull;
use std::ffi::CStr;

use super::object::{SharedObject, object, valid};
use crate::raw::header::Lifecycle;
use crate::status::{MpResult, Status};
use crate::sys::shm::{self as os_shm, NamedSpec};

/// What the registry records for a mapping holding one `T`.
pub(crate) fn content_of<T: SharedObject>() -> os_shm::Content {
    os_shm::Content::Object(T::KIND as u32)
}

/// Maps anonymous shared memory for a `T`, initialises it with `init`, and returns it.
pub(crate) fn new_anonymous<T: SharedObject>(init: impl FnOnce(&T)) -> MpResult<NonNull<T>> {
    let base = os_shm::map_anonymous(core::mem::size_of::<T>(), content_of::<T>())?;
    // SAFETY: a fresh, zeroed, page-aligned mapping of size_of::<T>() bytes; all-zero
    // is a valid T.
    init(unsafe { &*(base as *const T) });
    // A mapping never starts at address 0.
    NonNull::new(base.cast()).ok_or(Status::Sys)
}

/// Named-object spec for fixed-size objects.
struct FixedSpec<T, F: Fn(&T)> {
    init: F,
    _t: core::marker::PhantomData<T>,
}

impl<T: SharedObject, F: Fn(&T)> NamedSpec for FixedSpec<T, F> {
    fn content(&self) -> os_shm::Content {
        content_of::<T>()
    }
    fn create_size(&self) -> usize {
        core::mem::size_of::<T>()
    }
    fn init(&self, base: *mut u8) -> MpResult<()> {
        // SAFETY: a fresh, zeroed mapping of size_of::<T>() bytes (page-aligned).
        (self.init)(unsafe { &*(base as *const T) });
        Ok(())
    }
    fn map_size(&self, file_size: usize) -> MpResult<usize> {
        if file_size == core::mem::size_of::<T>() {
            Ok(file_size)
        } else {
            Err(Status::BadObj)
        }
    }
    fn check(&self, base: *mut u8, _len: usize) -> MpResult<()> {
        // SAFETY: a mapping of size_of::<T>() bytes; every bit pattern is a valid T.
        valid(unsafe { &*(base as *const T) }).map(|_| ())
    }
}

/// Opens or creates the object called `name`; `init` runs only on creation. `flags`
/// and `mode` as the C ABI's (`os_shm::FLAG_*`). Returns the object, and whether this
/// call created it (of concurrent creators of one name, exactly one did).
pub(crate) fn open_named<T: SharedObject>(
    name: &CStr,
    flags: u32,
    mode: u32,
    init: impl Fn(&T),
) -> MpResult<(NonNull<T>, bool)> {
    let spec = FixedSpec::<T, _> {
        init,
        _t: core::marker::PhantomData,
    };
    let opened = os_shm::open_named(name, flags, mode, &spec)?;
    // A mapping never starts at address 0.
    let p = NonNull::new(opened.base.cast()).ok_or(Status::Sys)?;
    Ok((p, opened.created))
}

/// Unmaps an object obtained from [`new_anonymous`] / [`open_named`].
///
/// Decided from the process's private mapping registry first, so that a handle that
/// was already closed is never dereferenced (its address is inaccessible, and never
/// handed out again): a live mapping of this type is unmapped (`Busy` if the calling
/// thread holds a lock inside it); a live mapping of another type, or a closed handle,
/// is `BadObj`. Only memory the library did not map is read: an in-place object, or a
/// copy of one, is `Inval`; anything else `BadObj`.
///
/// # Safety
/// `p` is `T::ALIGN`-aligned, and a handle from this library (closed or not), or points
/// to at least `size_of::<T>()` readable bytes.
pub(crate) unsafe fn close<T: SharedObject>(p: NonNull<T>) -> MpResult<()> {
    let addr = p.as_ptr() as usize;
    match os_shm::place(addr) {
        os_shm::Place::Live(m) if m.content == content_of::<T>() => os_shm::unmap_live(addr, m),
        // A raw block's bytes are the caller's: an in-place object may start there.
        os_shm::Place::Live(m) if m.content != os_shm::Content::Block => Err(Status::BadObj),
        os_shm::Place::Stale => Err(Status::BadObj),
        // SAFETY: not a handle of this library (or a block, which is readable):
        // readable per the contract.
        os_shm::Place::Live(_) | os_shm::Place::Foreign => match unsafe { object(p) } {
            // In place, or the bytes of a `new`/`open` object copied elsewhere: not
            // a mapping of this process.
            Ok(_) => Err(Status::Inval),
            Err(e) => Err(e),
        },
    }
}

/// Ends an in-place object: checks that it is one (`Inval` for a `new`/`open` object),
/// then runs its [`SharedObject::destroy`] (`Busy` while it is held or waited on). A
/// closed handle of this library is `BadObj` without being read (its address is
/// inaccessible).
///
/// # Safety
/// `p` is `T::ALIGN`-aligned, and points to `size_of::<T>()` readable bytes or is a
/// closed handle of this library.
pub(crate) unsafe fn destroy<T: SharedObject>(p: NonNull<T>) -> MpResult<()> {
    if os_shm::place(p.as_ptr() as usize) == os_shm::Place::Stale {
        return Err(Status::BadObj);
    }
    // SAFETY: forwarded contract (not a closed handle: checked above).
    let o = unsafe { object(p) }?;
    if o.header().lifecycle() != Lifecycle::InPlace {
        return Err(Status::Inval);
    }
    match o.destroy() {
        Status::Ok => Ok(()),
        e => Err(e),
    }
}

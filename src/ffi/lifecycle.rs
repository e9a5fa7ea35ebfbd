//! The three lifecycles every fixed-size type family shares: anonymous (`mp_T_new`),
//! named (`mp_T_open`), in place (`mp_T_init` / `mp_T_destroy`), and `mp_T_close`.

use core::ffi::c_char;

use super::boundary::{SharedObject, c_name, code, object};
use super::{MP_EBADOBJ, MP_EINVAL, mp_status};
use crate::raw::header::Lifecycle;
use crate::status::{MpResult, Status};
use crate::sys::shm::{self as os_shm, NamedSpec};

/// What the registry records for a mapping holding one `T`.
fn content_of<T: SharedObject>() -> os_shm::Content {
    os_shm::Content::Object(T::KIND as u32)
}

/// `mp_T_new`: maps anonymous shared memory for a `T`, initialises it, and returns it.
pub(crate) fn new_anonymous<T: SharedObject>(init: impl FnOnce(&T)) -> MpResult<*mut T> {
    let base = os_shm::map_anonymous(core::mem::size_of::<T>(), content_of::<T>())?;
    // SAFETY: a fresh, zeroed, page-aligned mapping of size_of::<T>() bytes; all-zero
    // is a valid T.
    init(unsafe { &*(base as *const T) });
    Ok(base.cast())
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
        unsafe { &*(base as *const T) }.header().check(T::KIND)
    }
}

/// `mp_T_open`: opens or creates the named object; `init` runs only on creation.
///
/// # Safety
/// `name` is NULL or a valid NUL-terminated string.
pub(crate) unsafe fn open_named<T: SharedObject>(
    name: *const c_char,
    flags: u32,
    mode: u32,
    init: impl Fn(&T),
) -> MpResult<*mut T> {
    // SAFETY: forwarded contract.
    let name = unsafe { c_name(name) }?;
    let spec = FixedSpec::<T, _> {
        init,
        _t: core::marker::PhantomData,
    };
    Ok(os_shm::open_named(name, flags, mode, &spec)?.base.cast())
}

/// `mp_T_close`: unmaps an object obtained from `mp_T_new` / `mp_T_open`.
///
/// Decided from the process's private mapping registry first, so that a handle that
/// was already closed is never dereferenced (its address is inaccessible, and never
/// handed out again): a live mapping of this type is unmapped (`MP_EBUSY` if the
/// calling thread holds a lock inside it); a live mapping of another type, or a closed
/// handle, is `MP_EBADOBJ`. Only memory the library did not map is read: an in-place
/// object, or a copy of one, is `MP_EINVAL`; anything else `MP_EBADOBJ`.
///
/// # Safety
/// `p` is NULL, a handle from this library (closed or not), or points to at least
/// `size_of::<T>()` readable bytes.
pub(crate) unsafe fn close<T: SharedObject, C>(p: *mut C) -> mp_status {
    if p.is_null() {
        return MP_EINVAL;
    }
    match os_shm::place(p as usize) {
        os_shm::Place::Live(m) if m.content == content_of::<T>() => {
            code(os_shm::unmap_live(p as usize, m))
        }
        // A raw block's bytes are the caller's: an in-place object may start there.
        os_shm::Place::Live(m) if m.content != os_shm::Content::Block => MP_EBADOBJ,
        os_shm::Place::Stale => MP_EBADOBJ,
        // SAFETY: not a handle of this library (or a block, which is readable):
        // readable per the contract.
        os_shm::Place::Live(_) | os_shm::Place::Foreign => match unsafe { object::<T, C>(p) } {
            // In place, or the bytes of a `new`/`open` object copied elsewhere: not
            // a mapping of this process.
            Ok(_) => MP_EINVAL,
            Err(e) => e.code(),
        },
    }
}

/// `mp_T_destroy`: checks that the object is an in-place one, then runs `destroy`.
/// A closed handle of this library is `MP_EBADOBJ` without being read (its address is
/// inaccessible).
///
/// # Safety
/// As [`object`], or `p` is a closed handle of this library.
pub(crate) unsafe fn destroy<T: SharedObject, C>(
    p: *mut C,
    destroy: impl FnOnce(&T) -> Status,
) -> mp_status {
    if !p.is_null() && os_shm::place(p as usize) == os_shm::Place::Stale {
        return MP_EBADOBJ;
    }
    // SAFETY: forwarded contract.
    match unsafe { object::<T, C>(p) } {
        Ok(o) if o.header().lifecycle() != Lifecycle::InPlace => MP_EINVAL,
        Ok(o) => destroy(o).code(),
        Err(e) => e.code(),
    }
}

#[cfg(test)]
mod tests {
    use crate::ffi::*;

    /// Every close path passes `MP_EBUSY` through, changing nothing, when the calling
    /// thread holds a lock inside the mapping (pretended here: the real record lives in
    /// `sys::robust`).
    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn close_of_a_mapping_with_a_held_lock_is_ebusy() {
        use crate::ffi::array::{mp_array_close, mp_array_new, mp_array_t};
        use crate::ffi::lock::{mp_lock_close, mp_lock_new, mp_lock_t};
        use crate::ffi::shm::{mp_shm_close, mp_shm_open, mp_shm_size, mp_shm_t};
        use crate::sys::shm::map::test_hold::pretend;
        let mut l: *mut mp_lock_t = core::ptr::null_mut();
        let mut a: *mut mp_array_t = core::ptr::null_mut();
        let mut s: *mut mp_shm_t = core::ptr::null_mut();
        // SAFETY: valid out-pointers; each handle is used only while live.
        unsafe {
            assert_eq!(mp_lock_new(&mut l), MP_OK);
            assert_eq!(mp_array_new(b'i', 4, true, &mut a), MP_OK);
            assert_eq!(
                mp_shm_open(core::ptr::null(), MP_CREATE, 10, 0, &mut s),
                MP_OK
            );
            assert_eq!(library::mp_unlink(shm::mp_shm_name(s)), MP_OK);
            pretend(l as usize);
            assert_eq!(mp_lock_close(l), MP_EBUSY);
            let mut locked = true;
            assert_eq!(crate::ffi::lock::mp_lock_is_locked(l, &mut locked), MP_OK);
            assert!(!locked);
            pretend(a as usize);
            assert_eq!(mp_array_close(a), MP_EBUSY);
            assert_eq!(crate::ffi::array::mp_array_len(a), 4);
            pretend(s as usize);
            assert_eq!(mp_shm_close(s), MP_EBUSY);
            assert_eq!(mp_shm_size(s), 10);
            pretend(0);
            assert_eq!(mp_lock_close(l), MP_OK);
            assert_eq!(mp_array_close(a), MP_OK);
            assert_eq!(mp_shm_close(s), MP_OK);
        }
    }
}

//! Arrays as mappings: creating them (anonymous, named), finding a handle's mapping, and
//! the views every access goes through. Both faces use these: the C ABI's `mp_array_*`
//! and the safe API's [`SharedArray`](super::SharedArray).
//!
//! An array is a mapping made by this library that starts with a descriptor and an
//! embedded RLock; its handle points at the mapping's start. Every call first looks the
//! handle up in the process's mapping registry, so a pointer this process did not get
//! from [`new`] / [`open_with`] is `BadObj` without being dereferenced, and the descriptor is
//! re-validated against the mapping's real length (see `raw::array`).

use core::ptr::NonNull;
use std::ffi::CStr;

use crate::raw::array::{self as raw, ElemType, RawArray, View};
use crate::raw::header::{Kind, Lifecycle};
use crate::status::{MpResult, Status};
use crate::sys::shm::{self as os_shm, NamedSpec};

/// What the registry records for an array's mapping.
const CONTENT: os_shm::Content = os_shm::Content::Object(Kind::Array as u32);

/// The live array mapping that starts at `p`: its start and length; `BadObj` if there
/// is none (nothing is read).
#[inline(always)]
fn mapping(p: NonNull<u8>) -> MpResult<(*mut u8, usize)> {
    let len = os_shm::mapping_len(p.as_ptr() as usize).ok_or(Status::BadObj)?;
    Ok((p.as_ptr(), len))
}

/// The array whose handle is `p`, with its descriptor validated against its mapping.
///
/// # Safety
/// The mapping is not closed during `'a` (no use of a handle after its close).
#[inline(always)]
pub(crate) unsafe fn view<'a>(p: NonNull<u8>) -> MpResult<View<'a>> {
    let (base, len) = mapping(p)?;
    // SAFETY: `base` is the page-aligned start of a live mapping of `len` bytes made by
    // this process (registry); it stays mapped for 'a (the contract).
    unsafe { RawArray::view(base, len) }
}

/// [`view`] for an element access (`get`, `set`, `read`, `write`), which checks what
/// the accesses need only.
///
/// # Safety
/// As [`view`].
#[inline(always)]
pub(crate) unsafe fn access_view<'a>(p: NonNull<u8>) -> MpResult<View<'a>> {
    let (base, len) = mapping(p)?;
    // SAFETY: as in `view`.
    unsafe { RawArray::view_for_access(base, len) }
}

/// Named-array spec: the exact total size, and on opening an existing array, the same
/// type, length and lock.
struct ArraySpec<'a> {
    ty: ElemType,
    length: usize,
    with_lock: bool,
    total: usize,
    /// The elements' bytes for a created array (`length * item size` of them), written
    /// before the name is linked, so that no opener ever sees the array without them.
    initial: Option<&'a [u8]>,
}

impl NamedSpec for ArraySpec<'_> {
    fn content(&self) -> os_shm::Content {
        CONTENT
    }
    fn create_size(&self) -> usize {
        self.total
    }
    fn init(&self, base: *mut u8) -> MpResult<()> {
        // SAFETY: a fresh, zeroed, page-aligned mapping of `total` bytes (>= the
        // descriptor); every bit pattern is a valid RawArray.
        let a = unsafe { &*(base as *const RawArray) };
        a.init(self.ty, self.length, self.with_lock, Lifecycle::Named);
        if let Some(bytes) = self.initial {
            // Checked by `open`: exactly the elements' size, which the mapping holds
            // after the descriptor.
            debug_assert_eq!(raw::DATA_OFFSET + bytes.len(), self.total);
            // SAFETY: `total` bytes are mapped at `base`, and `DATA_OFFSET + len` of
            // them are exactly `total`; nobody else can see the unlinked file yet.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    base.add(raw::DATA_OFFSET),
                    bytes.len(),
                )
            };
        }
        Ok(())
    }
    fn map_size(&self, file_size: usize) -> MpResult<usize> {
        // Checked before mapping: a truncated, grown or foreign file is refused.
        if file_size == self.total {
            Ok(file_size)
        } else {
            Err(Status::BadObj)
        }
    }
    fn check(&self, base: *mut u8, len: usize) -> MpResult<()> {
        // SAFETY: a page-aligned mapping of `len` bytes.
        let v = unsafe { RawArray::view(base, len) }?;
        if RawArray::matches(&v, self.ty, self.length, self.with_lock) {
            Ok(())
        } else {
            Err(Status::BadObj)
        }
    }
}

/// A zeroed array of `length` elements of `ty` in a new anonymous shared mapping, with
/// an embedded RLock if `with_lock`.
pub(crate) fn new(ty: ElemType, length: usize, with_lock: bool) -> MpResult<NonNull<u8>> {
    let total = raw::total_size(ty, length)?;
    let base = os_shm::map_anonymous(total, CONTENT)?;
    // SAFETY: a fresh, zeroed, page-aligned mapping of `total` bytes.
    let a = unsafe { &*(base as *const RawArray) };
    a.init(ty, length, with_lock, Lifecycle::Anonymous);
    // A mapping never starts at address 0.
    NonNull::new(base).ok_or(Status::Sys)
}

/// Opens, or creates, the array called `name`; an existing one must match `ty`,
/// `length` and `with_lock` exactly (`BadObj` otherwise) and keeps its contents. A
/// created array's elements are `initial` (exactly `length` elements' bytes, else
/// `Inval`), or zeros for `None`. Returns the pointer, and whether this call created
/// the array.
pub(crate) fn open_with(
    name: &CStr,
    flags: u32,
    mode: u32,
    ty: ElemType,
    length: usize,
    with_lock: bool,
    initial: Option<&[u8]>,
) -> MpResult<(NonNull<u8>, bool)> {
    let total = raw::total_size(ty, length)?;
    if initial.is_some_and(|b| raw::DATA_OFFSET.checked_add(b.len()) != Some(total)) {
        return Err(Status::Inval);
    }
    let spec = ArraySpec {
        ty,
        length,
        with_lock,
        total,
        initial,
    };
    let opened = os_shm::open_named(name, flags, mode, &spec)?;
    // A mapping never starts at address 0.
    Ok((
        NonNull::new(opened.base).ok_or(Status::Sys)?,
        opened.created,
    ))
}

/// Unmaps the array whose handle is `p`: `Busy` (nothing changed) if the calling thread
/// holds its lock (or another lock inside the mapping), `BadObj` for anything but a live
/// array handle of this process (never dereferenced).
pub(crate) fn close(p: NonNull<u8>) -> MpResult<()> {
    let addr = p.as_ptr() as usize;
    match os_shm::place(addr) {
        os_shm::Place::Live(m) if m.content == CONTENT => os_shm::unmap_live(addr, m),
        _ => Err(Status::BadObj),
    }
}

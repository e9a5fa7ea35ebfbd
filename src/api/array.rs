//! [`SharedArray`]: `multiprocessing.Array`/`Value`/`RawArray`/`RawValue`, with its
//! element type [`ElemType`] and [`ArrayLock`], its embedded RLock.

use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;

use super::array_mapping;
use super::error::{Error, Outcome, done, split};
use super::handle::report_leak;
use super::options::{OpenOptions, c_name};
use super::rlock::RLock;
use crate::raw::array::{self as raw, View};
use crate::raw::rlock::RawRLock;

/// The element type of a [`SharedArray`]: a `multiprocessing`/`ctypes` type code
/// with the platform C ABI's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElemType {
    /// `'c'`: `char`, 1 byte.
    Char,
    /// `'b'`: `signed char`.
    Byte,
    /// `'B'`: `unsigned char`.
    UByte,
    /// `'h'`: `short`.
    Short,
    /// `'H'`: `unsigned short`.
    UShort,
    /// `'i'`: `int`.
    Int,
    /// `'I'`: `unsigned int`.
    UInt,
    /// `'l'`: `long`.
    Long,
    /// `'L'`: `unsigned long`.
    ULong,
    /// `'q'`: `long long`.
    LongLong,
    /// `'Q'`: `unsigned long long`.
    ULongLong,
    /// `'f'`: `float`.
    Float,
    /// `'d'`: `double`.
    Double,
    /// `'?'`: `bool`.
    Bool,
}

impl ElemType {
    /// Every type, in the C header's order.
    pub const ALL: [ElemType; 14] = [
        ElemType::Char,
        ElemType::Byte,
        ElemType::UByte,
        ElemType::Short,
        ElemType::UShort,
        ElemType::Int,
        ElemType::UInt,
        ElemType::Long,
        ElemType::ULong,
        ElemType::LongLong,
        ElemType::ULongLong,
        ElemType::Float,
        ElemType::Double,
        ElemType::Bool,
    ];

    /// The type code, e.g. `b'i'` (`MP_TYPE_INT`).
    pub const fn code(self) -> u8 {
        match self {
            ElemType::Char => b'c',
            ElemType::Byte => b'b',
            ElemType::UByte => b'B',
            ElemType::Short => b'h',
            ElemType::UShort => b'H',
            ElemType::Int => b'i',
            ElemType::UInt => b'I',
            ElemType::Long => b'l',
            ElemType::ULong => b'L',
            ElemType::LongLong => b'q',
            ElemType::ULongLong => b'Q',
            ElemType::Float => b'f',
            ElemType::Double => b'd',
            ElemType::Bool => b'?',
        }
    }

    /// The type for a code, if the library knows it.
    pub fn from_code(code: u8) -> Option<ElemType> {
        ElemType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// Size in bytes of one element (the platform C ABI's).
    pub const fn size(self) -> usize {
        use core::ffi::{c_long, c_short};
        match self {
            ElemType::Char | ElemType::Byte | ElemType::UByte | ElemType::Bool => 1,
            ElemType::Short | ElemType::UShort => core::mem::size_of::<c_short>(),
            ElemType::Int | ElemType::UInt | ElemType::Float => 4,
            ElemType::Long | ElemType::ULong => core::mem::size_of::<c_long>(),
            ElemType::LongLong | ElemType::ULongLong | ElemType::Double => 8,
        }
    }
}

/// A shared array of elements of one [`ElemType`], zeroed at creation, optionally
/// guarded by an embedded [`RLock`] (the C type `mp_array_t`). A
/// `Value` is an array of length 1. Elements are accessed as bytes in native order,
/// each copy one locked step when the array has a lock; accesses report
/// [`Outcome::OwnerDead`] (the access was made) while the data is marked inconsistent
/// after a process died holding the lock.
///
/// There is no in-place form: the C ABI makes arrays only as mappings.
///
/// ```
/// use mpsync::{ElemType, Outcome, SharedArray};
/// let arr = SharedArray::new(ElemType::Int, 4, true)?;
/// arr.set(2, &7i32.to_ne_bytes())?;
/// let mut item = [0u8; 4];
/// assert_eq!(arr.get(2, &mut item)?, Outcome::Ok);
/// assert_eq!(i32::from_ne_bytes(item), 7);
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct SharedArray {
    ptr: NonNull<u8>,
    // Read once from the library at open (its private record), never from shared memory.
    data: *mut u8,
    len: usize,
    ty: ElemType,
}

// SAFETY: the array's accesses are copies under its process-shared lock (or raw
// bytes for a lock-free array, as in C); the handle is a pointer to a shared mapping.
unsafe impl Send for SharedArray {}
// SAFETY: as above.
unsafe impl Sync for SharedArray {}

impl SharedArray {
    /// Offset of the first element from the start of the mapping and of a named
    /// array's `/dev/shm` file (`MP_ARRAY_DATA_OFFSET`).
    pub const DATA_OFFSET: usize = raw::DATA_OFFSET;

    fn from_handle(ptr: NonNull<u8>) -> Result<SharedArray, Error> {
        // SAFETY: a live handle just made, not closed while this borrow lasts.
        let v = unsafe { array_mapping::view(ptr) }?;
        let ty = ElemType::from_code(v.ty.code()).ok_or(Error::System)?;
        Ok(SharedArray {
            ptr,
            data: v.data,
            len: v.len,
            ty,
        })
    }

    /// The array as the core sees it now (validated against its mapping).
    fn view(&self) -> Result<View<'_>, Error> {
        // SAFETY: a live handle: closed only by `close`/`Drop`, which take it.
        Ok(unsafe { array_mapping::view(self.ptr) }?)
    }

    /// [`SharedArray::view`] for an element access.
    fn access_view(&self) -> Result<View<'_>, Error> {
        // SAFETY: as in `view`.
        Ok(unsafe { array_mapping::access_view(self.ptr) }?)
    }

    /// The core's element type for `ty`.
    fn raw_type(ty: ElemType) -> Result<raw::ElemType, Error> {
        raw::ElemType::from_code(u32::from(ty.code())).ok_or(Error::Invalid)
    }

    /// A zeroed array of `len` elements in a new anonymous shared mapping, inherited
    /// by `fork()`ed children; `with_lock` embeds an RLock (`Array`/`Value`), else it
    /// is a `RawArray`/`RawValue`.
    pub fn new(ty: ElemType, len: usize, with_lock: bool) -> Result<SharedArray, Error> {
        let ptr = array_mapping::new(SharedArray::raw_type(ty)?, len, with_lock)?;
        SharedArray::from_handle(ptr)
    }

    /// Opens, or creates zeroed, the array called `name`; an existing array must match
    /// `ty`, `len` and `with_lock` exactly ([`Error::BadObject`] otherwise).
    pub fn open(
        name: &str,
        options: &OpenOptions,
        ty: ElemType,
        len: usize,
        with_lock: bool,
    ) -> Result<SharedArray, Error> {
        let name = c_name(name)?;
        let (flags, mode) = (options.flags(), options.mode_bits());
        let ty = SharedArray::raw_type(ty)?;
        let ptr = array_mapping::open(&name, flags, mode, ty, len, with_lock)?;
        SharedArray::from_handle(ptr)
    }

    /// [`SharedArray::open`], where an array that this call creates starts with
    /// `initial` as its elements' bytes (exactly `len` elements in native byte order,
    /// else [`Error::Invalid`]), written before any other process can open the name;
    /// an existing array keeps its contents. Also returns whether this call created
    /// the array.
    ///
    /// ```
    /// use mpsync::{ElemType, OpenOptions, SharedArray};
    /// let name = format!("doc-open-with-{}", std::process::id());
    /// let create = OpenOptions::new().create(true);
    /// let five = 5i32.to_ne_bytes();
    /// let (a, created) = SharedArray::open_with(&name, &create, ElemType::Int, 1, true, &five)?;
    /// assert!(created);
    /// let seven = 7i32.to_ne_bytes();
    /// let (b, created) = SharedArray::open_with(&name, &create, ElemType::Int, 1, true, &seven)?;
    /// assert!(!created); // the creator's 5 stays
    /// let mut got = [0u8; 4];
    /// b.get(0, &mut got)?;
    /// assert_eq!(i32::from_ne_bytes(got), 5);
    /// # drop((a, b));
    /// mpsync::unlink(&name)?;
    /// # Ok::<(), mpsync::Error>(())
    /// ```
    pub fn open_with(
        name: &str,
        options: &OpenOptions,
        ty: ElemType,
        len: usize,
        with_lock: bool,
        initial: &[u8],
    ) -> Result<(SharedArray, bool), Error> {
        let name = c_name(name)?;
        let (flags, mode) = (options.flags(), options.mode_bits());
        let ty = SharedArray::raw_type(ty)?;
        let (ptr, created) =
            array_mapping::open_with(&name, flags, mode, ty, len, with_lock, Some(initial))?;
        Ok((SharedArray::from_handle(ptr)?, created))
    }

    /// The C object (a `mp_array_t *`), for C code using the C ABI (valid while this
    /// handle lives).
    pub fn as_ptr(&self) -> *mut core::ffi::c_void {
        self.ptr.as_ptr().cast()
    }

    /// The first element (16-byte aligned; valid while this handle lives), for
    /// zero-copy access. Other processes write it concurrently: access it with raw
    /// pointer reads/writes, under [`SharedArray::lock`] for CPython's
    /// `with arr.get_lock():` semantics, never through a Rust reference.
    pub fn data(&self) -> *mut u8 {
        self.data
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a zero-length array.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element type.
    pub fn elem_type(&self) -> ElemType {
        self.ty
    }

    /// Size of one element in bytes.
    pub fn item_size(&self) -> usize {
        // The core's answer agrees with `ty.size()` (0 only if the array went bad).
        self.view().map_or(0, |v| v.item_size)
    }

    /// The embedded RLock (`get_lock()`), or `None` for a raw array.
    pub fn lock(&self) -> Option<ArrayLock<'_>> {
        let lock = self.view().ok()?.lock?;
        // SAFETY: the lock lives inside this array's mapping, which outlives the borrow.
        Some(unsafe { ArrayLock::new(NonNull::from(lock)) })
    }

    fn check_items(&self, bytes: usize) -> Result<usize, Error> {
        let size = self.ty.size();
        if !bytes.is_multiple_of(size) {
            return Err(Error::Invalid);
        }
        Ok(bytes / size)
    }

    /// Copies element `index` into `item` (exactly one element's bytes, else
    /// [`Error::Invalid`]): `Outcome::Ok` or `Outcome::OwnerDead`;
    /// [`Error::OutOfRange`], [`Error::Interrupted`] (nothing copied).
    pub fn get(&self, index: usize, item: &mut [u8]) -> Result<Outcome, Error> {
        if item.len() != self.ty.size() {
            return Err(Error::Invalid);
        }
        // SAFETY: `item` has item_size writable bytes.
        split(unsafe { self.access_view()?.read(index, 1, item.as_mut_ptr()) })
    }

    /// Copies `item` (exactly one element's bytes) into element `index`; results as
    /// [`SharedArray::get`].
    pub fn set(&self, index: usize, item: &[u8]) -> Result<Outcome, Error> {
        if item.len() != self.ty.size() {
            return Err(Error::Invalid);
        }
        // SAFETY: `item` has item_size readable bytes.
        split(unsafe { self.access_view()?.write(index, 1, item.as_ptr()) })
    }

    /// Copies elements `start ..` into `out` (a whole number of elements) in one step;
    /// [`Error::OutOfRange`] past the end.
    pub fn read(&self, start: usize, out: &mut [u8]) -> Result<Outcome, Error> {
        let count = self.check_items(out.len())?;
        // SAFETY: `out` has count * item_size writable bytes.
        split(unsafe { self.access_view()?.read(start, count, out.as_mut_ptr()) })
    }

    /// Copies `data` (a whole number of elements) into elements `start ..` in one
    /// step; [`Error::OutOfRange`] past the end.
    pub fn write(&self, start: usize, data: &[u8]) -> Result<Outcome, Error> {
        let count = self.check_items(data.len())?;
        // SAFETY: `data` has count * item_size readable bytes.
        split(unsafe { self.access_view()?.write(start, count, data.as_ptr()) })
    }

    /// Declares the data repaired after an owner death (the calling thread holds the
    /// lock): later accesses report `Outcome::Ok` again.
    pub fn mark_consistent(&self) -> Result<(), Error> {
        done(self.view()?.mark_consistent())
    }

    /// Unmaps the array in this process; on error ([`Error::Busy`]: the calling thread
    /// holds its lock) the handle is handed back unchanged.
    pub fn close(self) -> Result<(), (SharedArray, Error)> {
        let this = core::mem::ManuallyDrop::new(self);
        // Closed only here or in Drop (skipped).
        match array_mapping::close(this.ptr) {
            Ok(()) => Ok(()),
            Err(e) => Err((core::mem::ManuallyDrop::into_inner(this), e.into())),
        }
    }
}

impl Drop for SharedArray {
    fn drop(&mut self) {
        // A live handle, never used again.
        if let Err(e) = array_mapping::close(self.ptr) {
            report_leak("SharedArray", e.into());
        }
    }
}

impl core::fmt::Debug for SharedArray {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedArray")
            .field("ty", &self.ty)
            .field("len", &self.len)
            .field("locked", &self.lock().is_some())
            .finish()
    }
}

/// The RLock embedded in a synchronized [`SharedArray`], borrowed from it (see
/// [`SharedArray::lock`]): use it as an [`RLock`]; it is never closed on its own.
pub struct ArrayLock<'a> {
    lock: core::mem::ManuallyDrop<RLock>,
    _array: PhantomData<&'a SharedArray>,
}

impl ArrayLock<'_> {
    /// # Safety
    /// `ptr` is the embedded lock of an array that outlives `'a`.
    pub(crate) unsafe fn new(ptr: NonNull<RawRLock>) -> Self {
        ArrayLock {
            // In place: its drop would do nothing anyway; ManuallyDrop makes it explicit.
            // SAFETY: forwarded contract.
            lock: core::mem::ManuallyDrop::new(unsafe { RLock::embedded(ptr) }),
            _array: PhantomData,
        }
    }
}

impl Deref for ArrayLock<'_> {
    type Target = RLock;
    fn deref(&self) -> &RLock {
        &self.lock
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::deadline::Deadline;
    use crate::api::tests_fork::{in_child, wait_for};

    #[test]
    fn sizes_match_the_library() {
        for ty in ElemType::ALL {
            let a = SharedArray::new(ty, 3, false).unwrap();
            assert_eq!(a.item_size(), ty.size(), "{ty:?}");
            assert_eq!(a.elem_type(), ty);
        }
        assert_eq!(ElemType::from_code(b'x'), None);
    }

    #[test]
    #[cfg_attr(miri, ignore = "forks")]
    fn fork_children_count_under_the_lock() {
        let arr = SharedArray::new(ElemType::LongLong, 1, true).unwrap();
        let pids: Vec<_> = (0..3)
            .map(|_| {
                in_child(|| {
                    for _ in 0..1000 {
                        let lock = arr.lock().unwrap();
                        lock.acquire(Deadline::forever()).unwrap();
                        let mut v = [0u8; 8];
                        arr.get(0, &mut v).unwrap();
                        let n = i64::from_ne_bytes(v) + 1;
                        arr.set(0, &n.to_ne_bytes()).unwrap();
                        lock.release().unwrap();
                    }
                    0
                })
            })
            .collect();
        for pid in pids {
            wait_for(pid, None);
        }
        let mut v = [0u8; 8];
        arr.read(0, &mut v).unwrap();
        assert_eq!(i64::from_ne_bytes(v), 3000);
        assert_eq!(arr.get(1, &mut v), Err(Error::OutOfRange));
        assert_eq!(arr.get(0, &mut v[..3]), Err(Error::Invalid));
    }
}

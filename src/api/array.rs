//! [`SharedArray`]: `multiprocessing.Array`/`Value`/`RawArray`/`RawValue`, with its
//! element type [`ElemType`] and [`ArrayLock`], its embedded RLock.

use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;

use super::array_mapping;
use super::deadline::Deadline;
use super::error::{Error, Outcome, done, split};
use super::handle::report_leak;
use super::options::{OpenOptions, c_name};
use super::rlock::{RLock, RLockGuard};
use crate::raw::array::{self as raw, View};
use crate::raw::rlock::RawRLock;

/// The element type of a [`SharedArray`]: a `multiprocessing`/`ctypes` type code
/// with the platform C ABI's size. The Rust types of each are listed at [`Element`].
///
/// ```
/// use mpsync::ElemType;
/// assert_eq!(ElemType::from_code(b'd'), Some(ElemType::Double));
/// assert_eq!((ElemType::Int.code(), ElemType::Int.size()), (b'i', 4));
/// ```
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

mod sealed {
    /// The private part of [`Element`](super::Element): how a value is stored.
    pub trait Sealed: Copy {
        /// Whether the elements of `ty` are this Rust type (same size and meaning).
        fn is(ty: super::ElemType) -> bool;
        /// The value whose native-order bytes are `b` (exactly the type's size).
        fn from_ne(b: &[u8]) -> Self;
        /// Writes the value's native-order bytes into `b` (exactly the type's size).
        fn to_ne(self, b: &mut [u8]);
    }
}

/// A Rust type that an element of a [`SharedArray`] can be read as and written from
/// ([`SharedArray::get`], [`SharedArray::set`]); sealed: implemented for these types
/// only, each for the [`ElemType`]s that have its size and meaning on this platform:
///
/// | Rust   | [`ElemType`]                                            |
/// |--------|---------------------------------------------------------|
/// | `i8`   | `Byte`, `Char`                                          |
/// | `u8`   | `UByte`, `Char`                                         |
/// | `i16`  | `Short`                                                 |
/// | `u16`  | `UShort`                                                |
/// | `i32`  | `Int` (and `Long` where a C `long` has 32 bits)         |
/// | `u32`  | `UInt` (and `ULong` where a C `long` has 32 bits)       |
/// | `i64`  | `LongLong` (and `Long` where a C `long` has 64 bits)    |
/// | `u64`  | `ULongLong` (and `ULong` where a C `long` has 64 bits)  |
/// | `f32`  | `Float`                                                 |
/// | `f64`  | `Double`                                                |
/// | `bool` | `Bool` (any non-zero byte reads as `true`)              |
///
/// ```
/// use mpsync::{ElemType, SharedArray};
/// let chars = SharedArray::new(ElemType::Char, 3, false)?; // RawArray('c', 3)
/// chars.set(0, b'h')?;
/// assert_eq!(chars.get::<u8>(0)?, b'h');
/// # Ok::<(), mpsync::Error>(())
/// ```
pub trait Element: sealed::Sealed {}

macro_rules! element {
    ($t:ty, $($ty:pat_param)|+) => {
        impl sealed::Sealed for $t {
            fn is(ty: ElemType) -> bool {
                matches!(ty, $($ty)|+) && ty.size() == core::mem::size_of::<$t>()
            }
            fn from_ne(b: &[u8]) -> Self {
                let mut a = [0u8; core::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_ne_bytes(a)
            }
            fn to_ne(self, b: &mut [u8]) {
                b.copy_from_slice(&self.to_ne_bytes());
            }
        }
        impl Element for $t {}
    };
}

element!(i8, ElemType::Byte | ElemType::Char);
element!(u8, ElemType::UByte | ElemType::Char);
element!(i16, ElemType::Short);
element!(u16, ElemType::UShort);
element!(i32, ElemType::Int | ElemType::Long);
element!(u32, ElemType::UInt | ElemType::ULong);
element!(i64, ElemType::LongLong | ElemType::Long);
element!(u64, ElemType::ULongLong | ElemType::ULong);
element!(f32, ElemType::Float);
element!(f64, ElemType::Double);

impl sealed::Sealed for bool {
    fn is(ty: ElemType) -> bool {
        ty == ElemType::Bool
    }
    fn from_ne(b: &[u8]) -> Self {
        // Not transmuted: another process may have stored any byte.
        b[0] != 0
    }
    fn to_ne(self, b: &mut [u8]) {
        b[0] = u8::from(self);
    }
}
impl Element for bool {}

/// A shared array of elements of one [`ElemType`], zeroed at creation, optionally
/// guarded by an embedded [`RLock`] (the C type `mp_array_t`). A
/// `Value` is an array of length 1. Elements are accessed as Rust values
/// ([`SharedArray::get`], [`SharedArray::set`], for the [`Element`] types that match
/// the array's type) or as bytes in native order ([`SharedArray::get_bytes`],
/// [`SharedArray::read`], ...), each copy one locked step when the array has a lock; the
/// byte accesses report [`Outcome::OwnerDead`] (the access was made) while the data is
/// marked inconsistent after a process died holding the lock.
///
/// There is no in-place form: the C ABI makes arrays only as mappings.
///
/// ```
/// use mpsync::{Deadline, ElemType, SharedArray};
/// let arr = SharedArray::new(ElemType::Int, 4, true)?;
/// arr.set(2, 7i32)?;
/// assert_eq!(arr.get::<i32>(2)?, 7);
/// // A read-modify-write under the array's lock (`with arr.get_lock():`):
/// let lock = arr.lock().expect("a synchronized array");
/// {
///     let _guard = lock.acquire(Deadline::forever())?.expect("no deadline");
///     arr.set(2, arr.get::<i32>(2)? + 1)?;
/// }
/// assert_eq!(arr.get::<i32>(2)?, 8);
/// # Ok::<(), mpsync::Error>(())
/// ```
pub struct SharedArray {
    ptr: NonNull<u8>,
    // Read once from the library at open (its private record), never from shared memory.
    data: *mut u8,
    len: usize,
    ty: ElemType,
    created: bool,
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

    fn from_handle(ptr: NonNull<u8>, created: bool) -> Result<SharedArray, Error> {
        // SAFETY: a live handle just made, not closed while this borrow lasts.
        let v = unsafe { array_mapping::view(ptr) }?;
        let ty = ElemType::from_code(v.ty.code()).ok_or(Error::System)?;
        Ok(SharedArray {
            ptr,
            data: v.data,
            len: v.len,
            ty,
            created,
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
        SharedArray::from_handle(ptr, true)
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
        let (ptr, created) =
            array_mapping::open_with(&name, flags, mode, ty, len, with_lock, None)?;
        SharedArray::from_handle(ptr, created)
    }

    /// True if the call that made this handle created the array ([`new`](Self::new),
    /// or an [`open`](Self::open) / [`open_with`](Self::open_with) that found no array
    /// under the name: of concurrent creators of one name exactly one), false if it
    /// opened an existing array (the C ABI's `MP_CREATED`, see `MP_REPORT_CREATED`).
    pub fn created(&self) -> bool {
        self.created
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
    /// b.get_bytes(0, &mut got)?;
    /// assert_eq!(i32::from_ne_bytes(got), 5);
    /// assert_eq!(a.get::<i32>(0)?, 5);
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
        Ok((SharedArray::from_handle(ptr, created)?, created))
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

    /// Element `index` as a `T`, which must be a Rust type of the array's
    /// [`ElemType`] (see [`Element`]; [`Error::Invalid`] otherwise);
    /// [`Error::OutOfRange`], [`Error::Interrupted`] (nothing read). One locked step when
    /// the array has a lock. An owner-death report is not returned here (the value is):
    /// [`SharedArray::get_bytes`] returns it, as does the guard of
    /// [`ArrayLock::acquire`].
    ///
    /// ```
    /// use mpsync::{ElemType, Error, SharedArray};
    /// let value = SharedArray::new(ElemType::Double, 1, true)?; // Value('d')
    /// value.set(0, 2.5f64)?;
    /// assert_eq!(value.get::<f64>(0)?, 2.5);
    /// assert_eq!(value.get::<f32>(0), Err(Error::Invalid)); // not the array's type
    /// assert_eq!(value.get::<f64>(1), Err(Error::OutOfRange));
    /// # Ok::<(), mpsync::Error>(())
    /// ```
    pub fn get<T: Element>(&self, index: usize) -> Result<T, Error> {
        if !T::is(self.ty) {
            return Err(Error::Invalid);
        }
        let mut item = [0u8; 8];
        let item = &mut item[..core::mem::size_of::<T>()];
        self.get_bytes(index, item)?;
        Ok(T::from_ne(item))
    }

    /// Stores `value` in element `index`; `T` must be a Rust type of the array's
    /// [`ElemType`] (see [`Element`]; [`Error::Invalid`] otherwise). Results as
    /// [`SharedArray::set_bytes`].
    ///
    /// ```
    /// use mpsync::{ElemType, Error, SharedArray};
    /// let flags = SharedArray::new(ElemType::Bool, 2, false)?; // RawArray('?', 2)
    /// flags.set(1, true)?;
    /// assert_eq!((flags.get::<bool>(0)?, flags.get::<bool>(1)?), (false, true));
    /// assert_eq!(flags.set(0, 1u8), Err(Error::Invalid));
    /// # Ok::<(), mpsync::Error>(())
    /// ```
    pub fn set<T: Element>(&self, index: usize, value: T) -> Result<Outcome, Error> {
        if !T::is(self.ty) {
            return Err(Error::Invalid);
        }
        let mut item = [0u8; 8];
        let item = &mut item[..core::mem::size_of::<T>()];
        value.to_ne(item);
        self.set_bytes(index, item)
    }

    /// Copies element `index` into `item` (exactly one element's bytes, else
    /// [`Error::Invalid`]): `Outcome::Ok` or `Outcome::OwnerDead`;
    /// [`Error::OutOfRange`], [`Error::Interrupted`] (nothing copied).
    ///
    /// ```
    /// use mpsync::{ElemType, Outcome, SharedArray};
    /// let arr = SharedArray::new(ElemType::Short, 2, true)?;
    /// arr.set_bytes(1, &(-3i16).to_ne_bytes())?;
    /// let mut item = [0u8; 2];
    /// assert_eq!(arr.get_bytes(1, &mut item)?, Outcome::Ok);
    /// assert_eq!(i16::from_ne_bytes(item), -3);
    /// # Ok::<(), mpsync::Error>(())
    /// ```
    pub fn get_bytes(&self, index: usize, item: &mut [u8]) -> Result<Outcome, Error> {
        if item.len() != self.ty.size() {
            return Err(Error::Invalid);
        }
        // SAFETY: `item` has item_size writable bytes.
        split(unsafe { self.access_view()?.read(index, 1, item.as_mut_ptr()) })
    }

    /// Copies `item` (exactly one element's bytes) into element `index`; results as
    /// [`SharedArray::get_bytes`].
    pub fn set_bytes(&self, index: usize, item: &[u8]) -> Result<Outcome, Error> {
        if item.len() != self.ty.size() {
            return Err(Error::Invalid);
        }
        // SAFETY: `item` has item_size readable bytes.
        split(unsafe { self.access_view()?.write(index, 1, item.as_ptr()) })
    }

    /// Copies elements `start ..` into `out` (a whole number of elements) in one step;
    /// [`Error::OutOfRange`] past the end.
    ///
    /// ```
    /// use mpsync::{ElemType, SharedArray};
    /// let arr = SharedArray::new(ElemType::UByte, 4, true)?;
    /// arr.write(1, &[1, 2, 3])?;
    /// let mut all = [0u8; 4];
    /// arr.read(0, &mut all)?;
    /// assert_eq!(all, [0, 1, 2, 3]);
    /// # Ok::<(), mpsync::Error>(())
    /// ```
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
/// [`SharedArray::lock`]): use it as an [`RLock`] (it derefs to one); it is never closed
/// on its own. Its [`acquire`](ArrayLock::acquire) gives a guard that borrows the array,
/// not this `ArrayLock`, so `arr.lock()` may be a temporary:
///
/// ```
/// use mpsync::{Deadline, ElemType, SharedArray};
/// let counter = SharedArray::new(ElemType::LongLong, 1, true)?; // Value('q')
/// let lock = counter.lock().expect("synchronized");
/// let guard = lock.acquire(Deadline::forever())?.expect("no deadline");
/// if guard.owner_died() {
///     guard.mark_consistent()?; // after repairing the data
/// }
/// counter.set(0, counter.get::<i64>(0)? + 1)?;
/// drop(guard);
/// assert!(!lock.is_locked()?);
/// # Ok::<(), mpsync::Error>(())
/// ```
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

impl<'a> ArrayLock<'a> {
    /// Acquires the array's lock or re-enters it, until `deadline`: `Some(guard)`,
    /// which releases this level when dropped and tells whether the previous owner
    /// died holding the lock ([`RLockGuard::owner_died`]), or `None` if the deadline
    /// passed first; errors as [`RLock::acquire`]. The guard borrows the array (`'a`).
    /// The non-RAII pair is the [`RLock`]'s ([`RLock::acquire_unguarded`],
    /// [`RLock::release`]), through `Deref`.
    pub fn acquire(&self, deadline: impl Into<Deadline>) -> Result<Option<RLockGuard<'a>>, Error> {
        self.guarded_until(deadline.into())
    }

    /// [`ArrayLock::acquire`] past its generic face: monomorphic and not inline (see the
    /// `handle` module docs).
    fn guarded_until(&self, deadline: Deadline) -> Result<Option<RLockGuard<'a>>, Error> {
        // SAFETY: the lock lives in the array's mapping, which the array keeps during 'a.
        unsafe { self.lock.guarded_for(deadline) }
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
                        let _g = arr.lock().unwrap().acquire(Deadline::forever()).unwrap();
                        let n = arr.get::<i64>(0).unwrap() + 1;
                        arr.set(0, n).unwrap();
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
        assert_eq!(arr.get_bytes(1, &mut v), Err(Error::OutOfRange));
        assert_eq!(arr.get_bytes(0, &mut v[..3]), Err(Error::Invalid));
        assert!(!arr.lock().unwrap().is_locked().unwrap());
    }

    /// Every Rust type reads and writes exactly the element types of its size and
    /// meaning, and refuses the others.
    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn typed_access_matches_the_element_type() {
        fn check<T: Element + PartialEq + core::fmt::Debug>(v: T, ok: &[ElemType]) {
            for ty in ElemType::ALL {
                let a = SharedArray::new(ty, 2, ty == ElemType::Int).unwrap();
                let fits = ok.contains(&ty) && ty.size() == core::mem::size_of::<T>();
                if fits {
                    assert_eq!(a.set(1, v), Ok(Outcome::Ok), "{ty:?}");
                    assert_eq!(a.get::<T>(1), Ok(v), "{ty:?}");
                    assert_eq!(a.get::<T>(2), Err(Error::OutOfRange));
                } else {
                    assert_eq!(a.set(1, v), Err(Error::Invalid), "{ty:?}");
                    assert_eq!(a.get::<T>(1), Err(Error::Invalid), "{ty:?}");
                }
            }
        }
        use ElemType::*;
        check(-2i8, &[Byte, Char]);
        check(200u8, &[UByte, Char]);
        check(-300i16, &[Short]);
        check(60000u16, &[UShort]);
        check(-70000i32, &[Int, Long]);
        check(4_000_000_000u32, &[UInt, ULong]);
        check(-1i64 << 40, &[LongLong, Long]);
        check(1u64 << 63, &[ULongLong, ULong]);
        check(1.5f32, &[Float]);
        check(-0.25f64, &[Double]);
        check(true, &[Bool]);
        let b = SharedArray::new(Bool, 1, false).unwrap();
        b.write(0, &[7]).unwrap();
        assert_eq!(b.get::<bool>(0), Ok(true));
        // `long` is the C ABI's: exactly one of the 32- and 64-bit types reads it.
        let l = SharedArray::new(Long, 1, false).unwrap();
        assert_ne!(l.get::<i32>(0).is_ok(), l.get::<i64>(0).is_ok());
    }

    #[test]
    #[cfg_attr(miri, ignore = "maps shared memory")]
    fn the_array_lock_guard_outlives_the_array_lock_handle() {
        let arr = SharedArray::new(ElemType::Int, 1, true).unwrap();
        let g = arr
            .lock()
            .unwrap()
            .acquire(Deadline::now())
            .unwrap()
            .unwrap();
        assert!(!g.owner_died());
        assert_eq!(arr.lock().unwrap().count(), Ok(1));
        drop(g);
        assert_eq!(arr.lock().unwrap().count(), Ok(0));
        arr.close().unwrap();
    }
}

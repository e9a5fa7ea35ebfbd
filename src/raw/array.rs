//! Shared arrays: CPython's `Value`, `Array`, `RawValue` and `RawArray`.
//!
//! An array is one mapping: a 128-byte descriptor followed by the elements. The
//! descriptor is written once, before the header publishes the object, and never
//! changes afterwards; the elements are plain bytes guarded (for a synchronized
//! array) by the embedded [`RawRLock`].
//!
//! ```text
//! +0    header      (8)   Kind::Array
//! +8    type_code   u32   element type: a Python type character ('i', 'd', ...)
//! +12   flags       u32   bit 0: FLAG_WITH_LOCK (the RLock at +64 is live)
//! +16   length      u64   number of elements (0 allowed)
//! +24   item_size   u32   bytes per element (the C ABI size of the type here)
//! +28   data_offset u32   DATA_OFFSET (128)
//! +32   total_size  u64   DATA_OFFSET + length * item_size = size of the mapping
//! +40   reserved    (24)  zero
//! +64   lock        (64)  RawRLock, sticky (all zero, never published, for a raw array)
//! +128  data              length * item_size bytes, zeroed at creation
//! ```
//!
//! **Owner death.** The embedded lock is made with `OPT_STICKY`: when a process dies
//! holding it (for instance inside a write, leaving the elements half-copied), the lock
//! is marked inconsistent, and every locked access — the copies here and plain
//! acquisitions of the lock — reports `OwnerDead` until an owner calls
//! [`View::mark_consistent`] after repairing the data. No reader ever gets `Ok` on
//! elements that a dead writer may have torn.
//!
//! **Trust.** The descriptor lives in memory that other processes can write, so it is
//! never trusted on its own: every access re-validates it against the length of the
//! mapping *this* process made, and a descriptor that disagrees (or a lock that is not a
//! live RLock) is `MP_EBADOBJ`. A buggy or hostile peer can therefore scramble the
//! elements, but cannot make this process read or write outside the mapping.
//! [`RawArray::view`] checks every field (open, and the metadata queries);
//! [`RawArray::view_for_access`], on the path of every get/set/read/write, checks what
//! decides the access — header, type, flags, length against the private mapping length,
//! the lock's header — and skips the three fields derived from those (`item_size`,
//! `data_offset`, `total_size`), which no access uses: scribbling on them changes
//! nothing an access touches (the next open, or `mp_array_len`, still refuses it).

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::header::{Header, Kind, Lifecycle};
use super::rlock::{OPT_STICKY, RawRLock};
use crate::status::{MpResult, Status};

/// Offset of the first element from the start of the object (16-aligned).
pub(crate) const DATA_OFFSET: usize = 128;
/// `flags` bit: the array is synchronized (its RLock is live).
const FLAG_WITH_LOCK: u32 = 1;

/// Element types, valued as Python's `array`/`ctypes` type characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum ElemType {
    /// `'c'`: `char` (ctypes `c_char`).
    Char = b'c',
    /// `'b'`: `signed char`.
    SChar = b'b',
    /// `'B'`: `unsigned char`.
    UChar = b'B',
    /// `'h'`: `short`.
    Short = b'h',
    /// `'H'`: `unsigned short`.
    UShort = b'H',
    /// `'i'`: `int`.
    Int = b'i',
    /// `'I'`: `unsigned int`.
    UInt = b'I',
    /// `'l'`: `long`.
    Long = b'l',
    /// `'L'`: `unsigned long`.
    ULong = b'L',
    /// `'q'`: `long long`.
    LongLong = b'q',
    /// `'Q'`: `unsigned long long`.
    ULongLong = b'Q',
    /// `'f'`: `float`.
    Float = b'f',
    /// `'d'`: `double`.
    Double = b'd',
    /// `'?'`: `_Bool`.
    Bool = b'?',
}

/// Every element type, in the order of the API table.
pub(crate) const ALL_TYPES: [ElemType; 14] = [
    ElemType::Char,
    ElemType::SChar,
    ElemType::UChar,
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

impl ElemType {
    /// The type for a type character, if it is one of ours.
    /// A `match` rather than a search of [`ALL_TYPES`]: every array access validates
    /// the descriptor's type code, so this runs on the hot path.
    #[inline]
    pub(crate) fn from_code(code: u32) -> Option<ElemType> {
        let c = u8::try_from(code).ok()?;
        Some(match c {
            b'c' => ElemType::Char,
            b'b' => ElemType::SChar,
            b'B' => ElemType::UChar,
            b'h' => ElemType::Short,
            b'H' => ElemType::UShort,
            b'i' => ElemType::Int,
            b'I' => ElemType::UInt,
            b'l' => ElemType::Long,
            b'L' => ElemType::ULong,
            b'q' => ElemType::LongLong,
            b'Q' => ElemType::ULongLong,
            b'f' => ElemType::Float,
            b'd' => ElemType::Double,
            b'?' => ElemType::Bool,
            _ => return None,
        })
    }

    /// The type character.
    #[inline]
    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    /// Size of one element: the C ABI size of the type on this platform (so `'l'` is
    /// 8 bytes on LP64 Linux, as in CPython's ctypes). A table lookup: every array
    /// access compares the descriptor's item size with it.
    #[inline]
    pub(crate) fn item_size(self) -> usize {
        usize::from(ITEM_SIZES[self as usize & 0x7f])
    }

    const fn c_size(self) -> usize {
        use core::mem::size_of;
        match self {
            ElemType::Char | ElemType::SChar | ElemType::UChar => size_of::<libc::c_char>(),
            ElemType::Short | ElemType::UShort => size_of::<libc::c_short>(),
            ElemType::Int | ElemType::UInt => size_of::<libc::c_int>(),
            ElemType::Long | ElemType::ULong => size_of::<libc::c_long>(),
            ElemType::LongLong | ElemType::ULongLong => size_of::<libc::c_longlong>(),
            ElemType::Float => size_of::<libc::c_float>(),
            ElemType::Double => size_of::<libc::c_double>(),
            ElemType::Bool => size_of::<bool>(),
        }
    }
}

/// Bytes per element, indexed by type character (all type characters are ASCII).
const ITEM_SIZES: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < ALL_TYPES.len() {
        t[ALL_TYPES[i] as usize] = ALL_TYPES[i].c_size() as u8;
        i += 1;
    }
    t
};

/// Size of the whole object for `length` elements of `ty`; `NoMem` if it does not fit
/// in the address space (more than `isize::MAX` bytes).
pub(crate) fn total_size(ty: ElemType, length: usize) -> MpResult<usize> {
    length
        .checked_mul(ty.item_size())
        .and_then(|n| n.checked_add(DATA_OFFSET))
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or(Status::NoMem)
}

/// The descriptor at the start of an array's mapping (see the module documentation).
#[repr(C)]
pub(crate) struct RawArray {
    header: Header,
    type_code: AtomicU32,
    flags: AtomicU32,
    length: AtomicU64,
    item_size: AtomicU32,
    data_offset: AtomicU32,
    total_size: AtomicU64,
    _reserved: [AtomicU64; 3],
    lock: RawRLock,
}

const _: () = {
    assert!(core::mem::size_of::<RawArray>() == DATA_OFFSET);
    assert!(core::mem::offset_of!(RawArray, lock) == 64);
    assert!(DATA_OFFSET.is_multiple_of(16));
};

/// A validated array in this process's address space.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    /// First element (`DATA_OFFSET` bytes after the start; valid for `len * item_size`
    /// bytes, possibly zero).
    pub data: *mut u8,
    /// Element type.
    pub ty: ElemType,
    /// Number of elements.
    pub len: usize,
    /// Bytes per element.
    pub item_size: usize,
    /// The embedded lock of a synchronized array.
    pub lock: Option<&'a RawRLock>,
}

impl RawArray {
    /// Writes the descriptor (and the lock, if `with_lock`) into a fresh, zeroed
    /// mapping of `total_size(ty, length)` bytes, then publishes the object.
    pub(crate) fn init(&self, ty: ElemType, length: usize, with_lock: bool, lifecycle: Lifecycle) {
        let item = ty.item_size();
        self.type_code
            .store(u32::from(ty.code()), Ordering::Relaxed);
        self.flags.store(
            if with_lock { FLAG_WITH_LOCK } else { 0 },
            Ordering::Relaxed,
        );
        self.length.store(length as u64, Ordering::Relaxed);
        self.item_size.store(item as u32, Ordering::Relaxed);
        self.data_offset
            .store(DATA_OFFSET as u32, Ordering::Relaxed);
        // Callers computed total_size successfully, so this does not overflow.
        let total = DATA_OFFSET.saturating_add(length.saturating_mul(item));
        self.total_size.store(total as u64, Ordering::Relaxed);
        for r in &self._reserved {
            r.store(0, Ordering::Relaxed);
        }
        if with_lock {
            // The embedded lock shares the array's lifecycle: it is not an in-place
            // object (mp_rlock_destroy refuses it) and not a mapping of its own
            // (mp_rlock_close refuses it). Sticky: a writer that dies inside a copy may
            // leave torn elements, so every locked access reports it until repaired.
            self.lock.init_with(lifecycle, OPT_STICKY);
        }
        self.header.publish(Kind::Array, lifecycle);
    }

    /// True if the descriptor describes exactly (`ty`, `length`, `with_lock`). Call on
    /// a validated [`View`] only.
    pub(crate) fn matches(view: &View<'_>, ty: ElemType, length: usize, with_lock: bool) -> bool {
        view.ty == ty && view.len == length && view.lock.is_some() == with_lock
    }

    /// Validates the object at `base`, a mapping of `mapped_len` bytes made by this
    /// process, and returns a view whose bounds can be trusted: `BadObj` unless the
    /// header is a live array of our layout, the type is known, the item size is the
    /// type's, and `DATA_OFFSET + length * item_size == mapped_len`; and, for a
    /// synchronized array, the lock is a live RLock.
    ///
    /// # Safety
    /// `base` is 8-aligned and valid for reads of `mapped_len` bytes for `'a` (in a
    /// shared mapping: every bit pattern is a valid `RawArray`).
    #[inline(always)]
    pub(crate) unsafe fn view<'a>(base: *mut u8, mapped_len: usize) -> MpResult<View<'a>> {
        // SAFETY: forwarded contract.
        unsafe { Self::validate::<true>(base, mapped_len) }
    }

    /// [`view`](Self::view) for the element accesses: the same checks except of the
    /// derived fields `item_size`, `data_offset` and `total_size` (see "Trust" in the
    /// module documentation); the view's bounds are as trustworthy.
    ///
    /// # Safety
    /// As [`view`](Self::view).
    #[inline(always)]
    pub(crate) unsafe fn view_for_access<'a>(
        base: *mut u8,
        mapped_len: usize,
    ) -> MpResult<View<'a>> {
        // SAFETY: forwarded contract.
        unsafe { Self::validate::<false>(base, mapped_len) }
    }

    /// [`view`](Self::view) (`ALL_FIELDS`) or [`view_for_access`](Self::view_for_access).
    ///
    /// # Safety
    /// As [`view`](Self::view).
    #[inline(always)]
    unsafe fn validate<'a, const ALL_FIELDS: bool>(
        base: *mut u8,
        mapped_len: usize,
    ) -> MpResult<View<'a>> {
        if mapped_len < DATA_OFFSET {
            return Err(Status::BadObj);
        }
        // SAFETY: at least size_of::<RawArray>() readable, aligned bytes per the
        // contract; RawArray is atomics and integers, valid for any bit pattern.
        let array = unsafe { &*(base as *const RawArray) };
        array.header.check(Kind::Array)?;
        let code = array.type_code.load(Ordering::Relaxed);
        // 0 for a code that is not one of our types.
        let item_size = usize::from(*ITEM_SIZES.get(code as usize).unwrap_or(&0));
        let flags = array.flags.load(Ordering::Relaxed);
        let length = array.length.load(Ordering::Relaxed);
        // The size the descriptor implies, in 128 bits (cannot overflow). Equal to the
        // mapping's real length, it bounds every access to the mapping, and it also
        // proves that `length` fits in usize and the total in isize (a mapping does).
        let implied = u128::from(length) * item_size as u128 + DATA_OFFSET as u128;
        // Every field checked, combined without short-circuits: one branch (the
        // descriptor is valid on every call but a scribbled one's).
        let bad =
            (item_size == 0) | (flags & !FLAG_WITH_LOCK != 0) | (implied != mapped_len as u128);
        // The fields derived from the ones above; no access uses them.
        let derived_bad = ALL_FIELDS
            && ((array.item_size.load(Ordering::Relaxed) as usize != item_size)
                | (array.data_offset.load(Ordering::Relaxed) as usize != DATA_OFFSET)
                | (array.total_size.load(Ordering::Relaxed) != mapped_len as u64));
        if bad | derived_bad {
            return Err(Status::BadObj);
        }
        // SAFETY: ITEM_SIZES is non-zero exactly at the discriminants of ALL_TYPES,
        // which lists every ElemType (a repr(u8) enum); `code` < 128 indexed a non-zero
        // entry (tested: `item_size_table_matches_from_code`).
        let ty = unsafe { core::mem::transmute::<u8, ElemType>(code as u8) };
        let length = length as usize;
        let lock = if flags & FLAG_WITH_LOCK != 0 {
            array.lock.header().check(Kind::RLock)?;
            Some(&array.lock)
        } else {
            None
        };
        Ok(View {
            // SAFETY: DATA_OFFSET <= mapped_len (checked above): in bounds or one past
            // the end of the mapping.
            data: unsafe { base.add(DATA_OFFSET) },
            ty,
            len: length,
            item_size,
            lock,
        })
    }

    /// Read-only snapshot of the descriptor for inspectors, unvalidated (racy):
    /// `(type_code, flags, length, item_size, data_offset, total_size)`.
    pub(crate) fn snapshot(&self) -> (u32, u32, u64, u32, u32, u64) {
        (
            self.type_code.load(Ordering::Relaxed),
            self.flags.load(Ordering::Relaxed),
            self.length.load(Ordering::Relaxed),
            self.item_size.load(Ordering::Relaxed),
            self.data_offset.load(Ordering::Relaxed),
            self.total_size.load(Ordering::Relaxed),
        )
    }

    /// The embedded RLock, unvalidated (for inspectors' read-only snapshots; its
    /// header says whether it is live).
    pub(crate) fn embedded_lock(&self) -> &RawRLock {
        &self.lock
    }
}

impl View<'_> {
    /// Byte offset and byte count of elements `start .. start + count`: `Range` if any
    /// of them is out of bounds (including when `start + count` overflows).
    #[inline]
    pub(crate) fn byte_range(&self, start: usize, count: usize) -> MpResult<(usize, usize)> {
        match start.checked_add(count) {
            Some(end) if end <= self.len => {
                // Cannot overflow: end * item_size <= total_size <= isize::MAX.
                Ok((start * self.item_size, count * self.item_size))
            }
            _ => Err(Status::Range),
        }
    }

    /// Runs `f` under the lock if the array has one: returns `Ok`, `OwnerDead` (an
    /// owner died holding the lock and nobody has marked the data consistent since;
    /// `f` still ran, and the lock is released again), or the lock's error (`Intr`,
    /// `Overflow`) with `f` not run.
    #[inline(always)]
    fn locked(&self, f: impl FnOnce()) -> Status {
        match self.lock {
            Some(lock) => lock.with_lock(f),
            None => {
                f();
                Status::Ok
            }
        }
    }

    /// Ends the inconsistent state after an owner death: `Ok`, `NotOwner` unless the
    /// calling thread holds the array's lock, `Inval` for an array without a lock.
    pub(crate) fn mark_consistent(&self) -> Status {
        match self.lock {
            Some(lock) => lock.mark_consistent(),
            None => Status::Inval,
        }
    }

    /// Copies elements `start .. start + count` to `out` (under the lock if any).
    /// Returns `Ok`, `OwnerDead` (copied), `Range`, `Intr`, `Overflow` (not copied).
    ///
    /// # Safety
    /// `out` is valid for writes of `count * item_size` bytes. It may overlap the
    /// array (the copy is a `memmove`).
    #[inline(always)]
    pub(crate) unsafe fn read(&self, start: usize, count: usize, out: *mut u8) -> Status {
        self.at_range(start, count, move |src, n| {
            // SAFETY: `src .. src + n` is inside the mapping (`at_range`); `out` is
            // valid for n bytes per the contract.
            unsafe { copy_bytes(src, out, n) }
        })
    }

    /// Copies `count` elements from `inp` to elements `start .. start + count` (under
    /// the lock if any). Returns as [`read`](Self::read).
    ///
    /// # Safety
    /// `inp` is valid for reads of `count * item_size` bytes. It may overlap the array.
    #[inline(always)]
    pub(crate) unsafe fn write(&self, start: usize, count: usize, inp: *const u8) -> Status {
        self.at_range(start, count, move |dst, n| {
            // SAFETY: as in `read`, with the roles swapped; the mapping is writable.
            unsafe { copy_bytes(inp, dst, n) }
        })
    }

    /// Runs `copy(at, n)` (under the lock if any) on the bytes of elements
    /// `start .. start + count`: `at` their first byte in the mapping, `n` their length.
    /// Returns as [`read`](Self::read).
    #[inline(always)]
    fn at_range(&self, start: usize, count: usize, copy: impl FnOnce(*mut u8, usize)) -> Status {
        let (off, n) = match self.byte_range(start, count) {
            Ok(r) => r,
            Err(e) => return e,
        };
        // SAFETY: off + n <= len * item_size <= the mapping's data (validated by
        // `view`), so this stays in bounds.
        let at = unsafe { self.data.add(off) };
        // By value (`move`), so that the fused lock path keeps them in registers.
        self.locked(move || copy(at, n))
    }
}

/// `memmove` of `n` bytes; one element of 1, 2, 4 or 8 bytes (a `Value`, or one
/// `get`/`set`) is copied inline with one load and one store instead of a call.
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of `n` bytes; they may overlap.
#[inline(always)]
unsafe fn copy_bytes(src: *const u8, dst: *mut u8, n: usize) {
    // SAFETY (all arms): per the contract; unaligned accesses, and a load completes
    // before the store, so an overlap copies as memmove would.
    unsafe {
        match n {
            8 => dst
                .cast::<u64>()
                .write_unaligned(src.cast::<u64>().read_unaligned()),
            4 => dst
                .cast::<u32>()
                .write_unaligned(src.cast::<u32>().read_unaligned()),
            2 => dst
                .cast::<u16>()
                .write_unaligned(src.cast::<u16>().read_unaligned()),
            1 => dst.write(src.read()),
            _ => core::ptr::copy(src, dst, n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::time::Timeout;

    /// A zeroed, 16-aligned buffer standing in for a mapping.
    fn buffer(len: usize) -> Vec<u128> {
        vec![0u128; len.div_ceil(16)]
    }

    fn make(ty: ElemType, length: usize, with_lock: bool) -> (Vec<u128>, usize) {
        let total = total_size(ty, length).unwrap();
        let mut buf = buffer(total);
        // SAFETY: the buffer is zeroed, aligned and at least DATA_OFFSET bytes.
        let a = unsafe { &*(buf.as_mut_ptr() as *const RawArray) };
        a.init(ty, length, with_lock, Lifecycle::Anonymous);
        (buf, total)
    }

    #[test]
    fn item_size_table_matches_from_code() {
        // `view` turns a code with a non-zero table entry into an ElemType directly.
        assert_eq!(ALL_TYPES.len(), 14);
        for code in 0u32..=255 {
            let sized = ITEM_SIZES.get(code as usize).is_some_and(|&n| n != 0);
            assert_eq!(sized, ElemType::from_code(code).is_some(), "{code}");
        }
    }

    #[test]
    fn item_sizes_follow_the_c_abi() {
        let expect: [(u8, usize); 14] = [
            (b'c', 1),
            (b'b', 1),
            (b'B', 1),
            (b'h', 2),
            (b'H', 2),
            (b'i', 4),
            (b'I', 4),
            (b'l', core::mem::size_of::<libc::c_long>()),
            (b'L', core::mem::size_of::<libc::c_ulong>()),
            (b'q', 8),
            (b'Q', 8),
            (b'f', 4),
            (b'd', 8),
            (b'?', 1),
        ];
        for (code, size) in expect {
            let t = ElemType::from_code(u32::from(code)).unwrap();
            assert_eq!(t.code(), code);
            assert_eq!(t.item_size(), size, "{}", code as char);
        }
        for bad in [0u32, b'x' as u32, b'u' as u32, 0x169] {
            assert_eq!(ElemType::from_code(bad), None);
        }
    }

    #[test]
    fn sizes_overflow_cleanly() {
        assert_eq!(total_size(ElemType::Int, 0), Ok(DATA_OFFSET));
        assert_eq!(total_size(ElemType::Double, 3), Ok(DATA_OFFSET + 24));
        assert_eq!(total_size(ElemType::Double, usize::MAX), Err(Status::NoMem));
        assert_eq!(
            total_size(ElemType::Char, isize::MAX as usize),
            Err(Status::NoMem)
        );
    }

    #[test]
    fn view_validates_the_descriptor() {
        let (mut buf, total) = make(ElemType::Int, 10, true);
        let base = buf.as_mut_ptr() as *mut u8;
        // SAFETY: buffer of `total` bytes.
        let v = unsafe { RawArray::view(base, total) }.unwrap();
        assert_eq!((v.ty, v.len, v.item_size), (ElemType::Int, 10, 4));
        assert!(v.lock.is_some());
        assert!(RawArray::matches(&v, ElemType::Int, 10, true));
        assert!(!RawArray::matches(&v, ElemType::Int, 10, false));
        assert!(!RawArray::matches(&v, ElemType::UInt, 10, true));
        // A mapping of another length.
        for len in [0, 64, total - 1, total + 4] {
            // SAFETY: `view` reads at most the DATA_OFFSET-byte descriptor, which the
            // buffer holds, whatever length it is told.
            assert_eq!(
                unsafe { RawArray::view(base, len) }.map(|_| ()),
                Err(Status::BadObj)
            );
        }
        // Corrupt the length: the mapping length no longer agrees.
        // SAFETY: inside the buffer; length is at +16.
        unsafe { (base.add(16) as *mut u64).write(1 << 40) };
        // SAFETY: buffer of `total` bytes.
        assert_eq!(
            unsafe { RawArray::view(base, total) }.map(|_| ()),
            Err(Status::BadObj)
        );
        // SAFETY: as above.
        unsafe { (base.add(16) as *mut u64).write(10) };
        // Corrupt the lock header.
        // SAFETY: inside the buffer; the lock's magic is at +64.
        unsafe { (base.add(64) as *mut u32).write(0) };
        // SAFETY: buffer of `total` bytes.
        assert_eq!(
            unsafe { RawArray::view(base, total) }.map(|_| ()),
            Err(Status::BadObj)
        );
        // SAFETY: as above.
        unsafe { (base.add(64) as *mut u32).write(super::super::header::MAGIC) };
        // SAFETY: buffer of `total` bytes.
        assert!(unsafe { RawArray::view_for_access(base, total) }.is_ok());
        // The derived fields: `view` refuses a scribbled one; `view_for_access` ignores
        // it, with the same bounds (they come from the type, the length and the
        // private mapping length only).
        for (offset, width) in [(24usize, 4usize), (28, 4), (32, 8)] {
            // SAFETY: inside the buffer's descriptor.
            unsafe { base.add(offset).write_bytes(0xa5, width) };
            // SAFETY: buffer of `total` bytes.
            assert_eq!(
                unsafe { RawArray::view(base, total) }.map(|_| ()),
                Err(Status::BadObj)
            );
            // SAFETY: buffer of `total` bytes.
            let a = unsafe { RawArray::view_for_access(base, total) }.unwrap();
            assert_eq!((a.len, a.item_size), (10, 4));
        }
        // ...but it checks everything that decides an access.
        // SAFETY: inside the buffer; length at +16, type at +8, flags at +12.
        unsafe { (base.add(16) as *mut u64).write(11) };
        // SAFETY: buffer of `total` bytes.
        assert!(unsafe { RawArray::view_for_access(base, total) }.is_err());
        // SAFETY: as above.
        unsafe { (base.add(16) as *mut u64).write(10) };
        // SAFETY: as above.
        unsafe { (base.add(8) as *mut u32).write(u32::from(b'q')) };
        // SAFETY: buffer of `total` bytes.
        assert!(unsafe { RawArray::view_for_access(base, total) }.is_err());
        // SAFETY: as above.
        unsafe { (base.add(8) as *mut u32).write(u32::from(b'i')) };
        // SAFETY: as above.
        unsafe { (base.add(12) as *mut u32).write(3) };
        // SAFETY: buffer of `total` bytes.
        assert!(unsafe { RawArray::view_for_access(base, total) }.is_err());
        // Zeroed memory is not an array.
        let mut z = buffer(256);
        // SAFETY: 256-byte zeroed buffer.
        assert!(unsafe { RawArray::view(z.as_mut_ptr() as *mut u8, 256) }.is_err());
    }

    #[test]
    fn bounds_and_copies() {
        let (mut buf, total) = make(ElemType::Short, 4, false);
        // SAFETY: buffer of `total` bytes.
        let v = unsafe { RawArray::view(buf.as_mut_ptr() as *mut u8, total) }.unwrap();
        assert!(v.lock.is_none());
        let src: [i16; 4] = [1, -2, 3, -4];
        // SAFETY: 8 readable bytes.
        assert_eq!(unsafe { v.write(0, 4, src.as_ptr().cast()) }, Status::Ok);
        let mut out = [0i16; 2];
        // SAFETY: 4 writable bytes.
        assert_eq!(unsafe { v.read(2, 2, out.as_mut_ptr().cast()) }, Status::Ok);
        assert_eq!(out, [3, -4]);
        assert_eq!(v.byte_range(4, 0), Ok((8, 0)));
        assert_eq!(v.byte_range(5, 0), Err(Status::Range));
        assert_eq!(v.byte_range(3, 2), Err(Status::Range));
        assert_eq!(v.byte_range(1, usize::MAX), Err(Status::Range));
        assert_eq!(v.byte_range(usize::MAX, 1), Err(Status::Range));
        // SAFETY: out-of-range: nothing is touched.
        assert_eq!(
            unsafe { v.read(4, 1, out.as_mut_ptr().cast()) },
            Status::Range
        );
    }

    #[test]
    fn locked_copies_work_when_the_caller_holds_the_lock() {
        let (mut buf, total) = make(ElemType::Double, 1, true);
        // SAFETY: buffer of `total` bytes.
        let v = unsafe { RawArray::view(buf.as_mut_ptr() as *mut u8, total) }.unwrap();
        let lock = v.lock.unwrap();
        assert_eq!(lock.acquire(Timeout::FOREVER), Status::Ok);
        let x = 2.5f64;
        // SAFETY: 8 readable bytes.
        assert_eq!(
            unsafe { v.write(0, 1, (&x as *const f64).cast()) },
            Status::Ok
        );
        assert_eq!(lock.count(), 1);
        assert_eq!(lock.release(), Status::Ok);
        assert!(!lock.is_locked());
        let mut y = 0f64;
        // SAFETY: 8 writable bytes.
        assert_eq!(
            unsafe { v.read(0, 1, (&mut y as *mut f64).cast()) },
            Status::Ok
        );
        assert_eq!(y, 2.5);
    }
}

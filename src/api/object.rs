//! What a fixed-size shared object is to the core: the [`SharedObject`] trait (its type
//! tag, published alignment and header), one impl per raw state machine, and the checks
//! every face runs before it uses an object's memory.
//!
//! Two kinds of check, kept apart on purpose:
//! * where a pointer comes from outside (the C ABI's arguments, the safe API's `mem` of
//!   `init_at`/`attach_at`), its face checks NULL and alignment first ([`at`] is the safe
//!   API's; the C ABI's boundary, src/ffi/boundary.rs, has its own): nothing is read
//!   before;
//! * [`valid`] is the header check, the same for both faces: the memory holds a live
//!   object of this type and layout version.

use core::ptr::NonNull;

use crate::raw::barrier::RawBarrier;
use crate::raw::cond::RawCond;
use crate::raw::event::RawEvent;
use crate::raw::header::{Header, Kind, Lifecycle};
use crate::raw::lock::RawLock;
use crate::raw::rlock::RawRLock;
use crate::raw::rwlock::RawRwLock;
use crate::raw::sem::RawSem;
use crate::raw::sem_undo::RawSemUndo;
use crate::status::{MpResult, Status};

/// A shared object type: a raw state machine that starts with a [`Header`].
pub(crate) trait SharedObject: Sized {
    /// The type tag in the header.
    const KIND: Kind;
    /// The alignment the object's memory must have: the published one (the raw type's
    /// `ALIGN`, the C ABI's `MP_T_ALIGN`), which may exceed the struct's own.
    const ALIGN: usize;
    /// The object header.
    fn header(&self) -> &Header;
    /// Ends an in-place object: the state machine's own `destroy` (`Ok`, or `Busy` while
    /// it is held or waited on).
    fn destroy(&self) -> Status;
}

/// Implements [`SharedObject`] for a raw state machine with its kind tag.
macro_rules! shared_object {
    ($ty:ty, $kind:expr) => {
        impl SharedObject for $ty {
            const KIND: Kind = $kind;
            const ALIGN: usize = <$ty>::ALIGN;
            fn header(&self) -> &Header {
                <$ty>::header(self)
            }
            fn destroy(&self) -> Status {
                // The inherent method (inherent methods come first): no recursion.
                <$ty>::destroy(self)
            }
        }
    };
}

shared_object!(RawLock, Kind::Lock);
shared_object!(RawRLock, Kind::RLock);
shared_object!(RawSem, Kind::Sem);
shared_object!(RawSemUndo, Kind::SemUndo);
shared_object!(RawCond, Kind::Cond);
shared_object!(RawEvent, Kind::Event);
shared_object!(RawBarrier, Kind::Barrier);
shared_object!(RawRwLock, Kind::RwLock);

/// A counting semaphore's state machine (`RawSem`, `RawSemUndo`): two types with the same
/// creation arguments, so that every face makes both the same way.
pub(crate) trait CountingObject: SharedObject {
    /// `value <= max_value <= ` the type's largest bound.
    fn valid_args(value: u32, max_value: u32) -> bool;
    /// Initialises and publishes (arguments checked by [`counting_args`]).
    fn init_counting(&self, value: u32, max_value: u32, lifecycle: Lifecycle);
}

/// Implements [`CountingObject`] with the state machine's inherent methods.
macro_rules! counting_object {
    ($ty:ty) => {
        impl CountingObject for $ty {
            fn valid_args(value: u32, max_value: u32) -> bool {
                <$ty>::valid_args(value, max_value)
            }
            fn init_counting(&self, value: u32, max_value: u32, lifecycle: Lifecycle) {
                <$ty>::init(self, value, max_value, lifecycle)
            }
        }
    };
}

counting_object!(RawSem);
counting_object!(RawSemUndo);

/// `Inval` unless `value` and `max_value` suit a `T` (see [`CountingObject::valid_args`]).
pub(crate) fn counting_args<T: CountingObject>(value: u32, max_value: u32) -> MpResult<()> {
    if T::valid_args(value, max_value) {
        Ok(())
    } else {
        Err(Status::Inval)
    }
}

/// `obj` if it holds a live object of type `T` and this layout version (its header),
/// else `Status::BadObj`.
#[inline]
pub(crate) fn valid<T: SharedObject>(obj: &T) -> MpResult<&T> {
    obj.header().check(T::KIND)?;
    Ok(obj)
}

/// Borrows the live `T` at `p` ([`valid`]).
///
/// # Safety
/// `p` points to `size_of::<T>()` readable bytes that stay mapped for `'a`, aligned to
/// `T::ALIGN`.
#[inline]
pub(crate) unsafe fn object<'a, T: SharedObject>(p: NonNull<T>) -> MpResult<&'a T> {
    // SAFETY: aligned and readable per the contract; `T` is made of atomics and integers,
    // valid for every bit pattern, and all access goes through atomics (other processes
    // write concurrently).
    valid(unsafe { p.as_ref() })
}

/// The safe API's pointer check of caller memory (`init_at`, `attach_at`): `Inval` for
/// NULL, `misaligned` without `T::ALIGN`; nothing is read.
#[inline]
pub(crate) fn at<T: SharedObject>(mem: *mut u8, misaligned: Status) -> MpResult<NonNull<T>> {
    let p = NonNull::new(mem.cast::<T>()).ok_or(Status::Inval)?;
    if (mem as usize).is_multiple_of(T::ALIGN) {
        Ok(p)
    } else {
        Err(misaligned)
    }
}

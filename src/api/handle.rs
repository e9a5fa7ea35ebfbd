//! What every fixed-size object handle of the safe API shares: how it ends ([`Life`]),
//! the report of a drop that cannot close, and the [`object_handle!`] macro that gives
//! each handle type its `Send`/`Sync`, `as_ptr`, `close`, `destroy`, `Drop` and `Debug`.
//!
//! One rule for every handle method: a public method that is generic (`impl
//! Into<Deadline>`, an action closure) or `#[inline]` only converts its arguments and
//! calls a private, monomorphic method that does the work. The body of a generic or
//! inline public method is compiled in the caller's crate, so everything it names must be
//! exported from this one; were that the state machines' generic blocking paths, their
//! C ABI instances would be exported too, and the C ABI's fast paths would reach their
//! slow paths through the GOT instead of by a direct jump (measured: the machine code of
//! `mp_lock_acquire` changed). Stopping the generic face here keeps the C ABI's code
//! exactly what it was, and costs nothing where the caller is built with LTO.

use super::error::Error;

/// How a handle ends: what `Drop` and `close` do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Life {
    /// From an `open` that found the object: closing unmaps it in this process.
    Mapped,
    /// From `new`, or an `open` that created the object: as `Mapped`.
    Created,
    /// In the caller's memory: nothing to unmap; `destroy` ends the object.
    InPlace,
}

/// Reports a drop that could not close its mapping (see the crate docs).
#[cold]
pub(crate) fn report_leak(type_name: &str, error: Error) {
    eprintln!(
        "mpsync: a {type_name} handle was dropped while it could not be closed ({error}); its mapping is kept"
    );
}

/// Reports a guard (`LockGuard`, `RLockGuard`, `SemaphoreGuard`) whose release on drop
/// failed: `Drop` cannot return the error, so it is written to standard error, as a
/// failed close on drop is ([`report_leak`]). It happens only when the program broke the
/// guard's contract: released the lock itself while the guard lived (then
/// [`Error::Overflow`] or [`Error::NotOwner`]), or destroyed the object
/// ([`Error::BadObject`]).
#[cold]
pub(crate) fn report_unreleased(type_name: &str, error: Error) {
    eprintln!("mpsync: a {type_name} was dropped but its release failed ({error})");
}

/// The parts every fixed-size object handle shares. The handle type has the fields
/// `ptr: NonNull<$raw>` (the raw object, aligned to its published alignment: checked
/// when the handle was made) and `life: Life`.
///
/// `object_handle!(Lock, RawLock)` closes and destroys through the generic lifecycles
/// (`lifecycle::close` / `lifecycle::destroy`) and adds `raw()`, the validated object;
/// `object_handle!(Semaphore, RawSem, close = path, destroy = path)` names its own
/// (`unsafe fn(NonNull<$raw>) -> MpResult<()>`, with the contract of the generic ones).
macro_rules! object_handle {
    ($ty:ident, $raw:ty) => {
        $crate::api::handle::object_handle!(
            $ty,
            $raw,
            close = $crate::api::lifecycle::close::<$raw>,
            destroy = $crate::api::lifecycle::destroy::<$raw>
        );

        impl $ty {
            /// `new`: the object in a fresh anonymous mapping, initialised by `init`.
            fn anonymous_with(
                init: impl Fn(&$raw, $crate::raw::header::Lifecycle),
            ) -> Result<Self, $crate::api::error::Error> {
                let ptr = $crate::api::lifecycle::new_anonymous::<$raw>(|o| {
                    init(o, $crate::raw::header::Lifecycle::Anonymous)
                })?;
                Ok(Self::mapped(ptr, true))
            }

            /// `open`: the object called `name`, initialised by `init` if this call
            /// creates it.
            fn named_with(
                name: &str,
                options: &$crate::api::options::OpenOptions,
                init: impl Fn(&$raw, $crate::raw::header::Lifecycle),
            ) -> Result<Self, $crate::api::error::Error> {
                let name = $crate::api::options::c_name(name)?;
                let (ptr, created) = $crate::api::lifecycle::open_named::<$raw>(
                    &name,
                    options.flags(),
                    options.mode_bits(),
                    |o| init(o, $crate::raw::header::Lifecycle::Named),
                )?;
                Ok(Self::mapped(ptr, created))
            }

            /// `init_at`: `init` on the caller's memory at `mem` (NULL or misaligned:
            /// [`Error::Invalid`](crate::Error::Invalid)).
            ///
            /// # Safety
            /// `mem` points to `SIZE` writable bytes that stay valid while any handle to
            /// them lives, and no thread uses an object there.
            unsafe fn in_place_with(
                mem: *mut u8,
                init: impl FnOnce(&$raw, $crate::raw::header::Lifecycle),
            ) -> Result<Self, $crate::api::error::Error> {
                let ptr = $crate::api::object::at::<$raw>(mem, $crate::status::Status::Inval)?;
                // SAFETY: aligned (checked), writable and valid (the caller's contract).
                init(
                    unsafe { ptr.as_ref() },
                    $crate::raw::header::Lifecycle::InPlace,
                );
                Ok(Self::in_place(ptr))
            }

            /// `attach_at`: a handle on the object someone initialised at `mem`
            /// ([`Error::BadObject`](crate::Error::BadObject) if it holds none).
            ///
            /// # Safety
            /// `mem` points to `SIZE` readable bytes that stay valid while the handle
            /// lives.
            unsafe fn attached(mem: *mut u8) -> Result<Self, $crate::api::error::Error> {
                let this = Self::in_place($crate::api::object::at::<$raw>(
                    mem,
                    $crate::status::Status::BadObj,
                )?);
                this.raw()?;
                Ok(this)
            }

            /// The live object, validated (its header) on every call:
            /// [`Error::BadObject`](crate::Error::BadObject) once it was destroyed, by any
            /// process, or if another process overwrote it.
            #[inline]
            pub(crate) fn raw(&self) -> Result<&$raw, $crate::api::error::Error> {
                // SAFETY: a live handle: its memory is mapped (a `new`/`open` mapping
                // until `close`, or the caller's per `init_at`/`attach_at`), aligned and
                // large enough (checked when the handle was made).
                unsafe { $crate::api::object::object(self.ptr) }
                    .map_err($crate::api::error::Error::from)
            }
        }
    };
    ($ty:ident, $raw:ty, close = $close:path, destroy = $destroy:path) => {
        // SAFETY: the object is made for concurrent use by any thread of any process
        // (all its state is atomics in shared memory); the handle is a pointer to it.
        unsafe impl Send for $ty {}
        // SAFETY: as above.
        unsafe impl Sync for $ty {}

        impl $ty {
            /// A handle on the object that `new`/`open` just mapped; `created`: that
            /// call created it.
            fn mapped(ptr: core::ptr::NonNull<$raw>, created: bool) -> Self {
                Self {
                    ptr,
                    life: if created {
                        $crate::api::handle::Life::Created
                    } else {
                        $crate::api::handle::Life::Mapped
                    },
                }
            }

            /// A handle on the in-place object at `ptr` (checked, and initialised or
            /// validated, by the caller). The caller's own contract keeps the memory
            /// valid while the handle lives. (Unused by mapping-only types: Queue.)
            #[allow(dead_code)]
            fn in_place(ptr: core::ptr::NonNull<$raw>) -> Self {
                Self {
                    ptr,
                    life: $crate::api::handle::Life::InPlace,
                }
            }

            /// The C object (for this type, the C ABI's pointer type named in the type's
            /// documentation, e.g. a `mp_lock_t *`), for passing to C code that uses the C
            /// ABI. It stays valid while this handle lives (and is not closed).
            pub fn as_ptr(&self) -> *mut core::ffi::c_void {
                self.ptr.as_ptr().cast()
            }

            /// True for an in-place object (`init_at`/`attach_at`).
            pub fn is_in_place(&self) -> bool {
                self.life == $crate::api::handle::Life::InPlace
            }

            /// True if the call that made this handle created the object: `new`, or an
            /// `open` that found no object under the name (of concurrent creators of
            /// one name, exactly one); false for an `open` that found it existing, and
            /// for in-place handles (`init_at`/`attach_at`). The C ABI's `MP_CREATED`
            /// (see `MP_REPORT_CREATED`).
            pub fn created(&self) -> bool {
                self.life == $crate::api::handle::Life::Created
            }

            /// Unmaps the object in this process (it lives on in other processes, and
            /// under its name until [`unlink`](crate::unlink)). On error the handle is
            /// handed back unchanged: [`Error::Busy`](crate::Error::Busy) when the
            /// calling thread holds a lock inside the mapping. An in-place handle just
            /// ends (nothing to unmap; see `destroy`).
            pub fn close(self) -> Result<(), (Self, $crate::api::error::Error)> {
                let this = core::mem::ManuallyDrop::new(self);
                if this.life == $crate::api::handle::Life::InPlace {
                    return Ok(());
                }
                // SAFETY: a live handle from `new`/`open` (aligned: a mapping's start),
                // closed only here or in Drop (which `ManuallyDrop` skips).
                match unsafe { $close(this.ptr) } {
                    Ok(()) => Ok(()),
                    Err(e) => Err((core::mem::ManuallyDrop::into_inner(this), e.into())),
                }
            }

            /// Ends an in-place object (the C `destroy`): afterwards every call on that
            /// memory fails until it is initialised again. A `new`/`open` handle gives
            /// [`Error::Invalid`](crate::Error::Invalid) (use `close`). On error the
            /// handle is handed back, e.g. [`Error::Busy`](crate::Error::Busy) if the
            /// object is held or waited on.
            ///
            /// # Safety
            /// No other handle (in any process) may use the object afterwards.
            pub unsafe fn destroy(self) -> Result<(), (Self, $crate::api::error::Error)> {
                if self.life != $crate::api::handle::Life::InPlace {
                    return Err((self, $crate::api::error::Error::Invalid));
                }
                // SAFETY: the memory is valid and aligned per `init_at`/`attach_at`'s
                // contract and checks.
                match unsafe { $destroy(self.ptr) } {
                    Ok(()) => {
                        core::mem::forget(self);
                        Ok(())
                    }
                    Err(e) => Err((self, e.into())),
                }
            }
        }

        impl Drop for $ty {
            fn drop(&mut self) {
                if self.life == $crate::api::handle::Life::InPlace {
                    return;
                }
                // SAFETY: a live handle from `new`/`open`, never used again.
                if let Err(e) = unsafe { $close(self.ptr) } {
                    $crate::api::handle::report_leak(stringify!($ty), e.into());
                }
            }
        }

        impl core::fmt::Debug for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("ptr", &self.ptr)
                    .field("life", &self.life)
                    .finish()
            }
        }
    };
}
pub(crate) use object_handle;

/// The size, alignment and four constructors of a handle whose object takes no
/// creation arguments (Lock, Event, Condition): `new`, `open`, `init_at` and
/// `attach_at`, each initialising with `$init` where it creates. `$c` is the C name's
/// middle (`"lock"` for `mp_lock_new`, `MP_LOCK_SIZE`), `$noun` what the docs call the
/// object and `$fresh` the state it is created in.
macro_rules! plain_constructors {
    ($ty:ident, $raw:ty, $init:path, c = $c:literal, C = $cc:literal, noun = $noun:literal, fresh = $fresh:literal) => {
        impl $ty {
            #[doc = concat!("Size in bytes of the in-place object (`MP_", $cc, "_SIZE`).")]
            pub const SIZE: usize = <$raw>::SIZE;
            #[doc = concat!("Required alignment of the in-place object (`MP_", $cc, "_ALIGN`).")]
            pub const ALIGN: usize = <$raw>::ALIGN;

            #[doc = concat!("A new ", $noun, " (", $fresh, ") in an anonymous shared mapping, ")]
            #[doc = concat!("inherited by `fork()`ed children (`mp_", $c, "_new`).")]
            pub fn new() -> Result<$ty, $crate::api::error::Error> {
                <$ty>::anonymous_with($init)
            }

            #[doc = concat!("Opens the ", $noun, " called `name`, or creates it (", $fresh, ") ")]
            #[doc = concat!("if `options` allow (`mp_", $c, "_open`).")]
            pub fn open(
                name: &str,
                options: &$crate::api::options::OpenOptions,
            ) -> Result<$ty, $crate::api::error::Error> {
                <$ty>::named_with(name, options, $init)
            }

            #[doc = concat!("Initialises a ", $noun, " (", $fresh, ") at `mem` (`mp_", $c, "_init`); ")]
            /// [`Error::Invalid`](crate::Error::Invalid) if `mem` is NULL or not `ALIGN`-aligned.
            ///
            /// # Safety
            /// `mem` points to `SIZE` writable bytes (in a `MAP_SHARED` mapping to share the
            /// object) that stay valid while any handle to them lives, and no thread uses
            /// an object there.
            pub unsafe fn init_at(mem: *mut u8) -> Result<$ty, $crate::api::error::Error> {
                // SAFETY: forwarded contract.
                unsafe { <$ty>::in_place_with(mem, $init) }
            }

            #[doc = concat!("A handle on a ", $noun, " that someone already initialised at `mem` ")]
            /// (e.g. another process, through the C ABI);
            /// [`Error::BadObject`](crate::Error::BadObject) if `mem` holds none.
            ///
            /// # Safety
            /// `mem` points to `SIZE` readable bytes that stay valid while the handle lives.
            pub unsafe fn attach_at(mem: *mut u8) -> Result<$ty, $crate::api::error::Error> {
                // SAFETY: forwarded contract.
                unsafe { <$ty>::attached(mem) }
            }
        }
    };
}
pub(crate) use plain_constructors;

/// Methods that only forward to the state machine, each written as one line after its
/// docs:
/// - `fn name -> Type = raw_method;` reads one value (a snapshot that may be stale by
///   the time it returns);
/// - `fn name();` does what the state machine's method of that name does, which
///   cannot fail;
/// - `fn name() -> Status;` does it and turns the state machine's status into the
///   method's `Result`.
///
/// Each is `Err` first when the handle's object is gone or not a live object of its type.
macro_rules! raw_methods {
    () => {};
    ($(#[$doc:meta])* fn $name:ident -> $ty:ty = $read:ident; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $name(&self) -> Result<$ty, $crate::api::error::Error> {
            Ok(self.raw()?.$read())
        }
        raw_methods!($($rest)*);
    };
    ($(#[$doc:meta])* fn $name:ident(); $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $name(&self) -> Result<(), $crate::api::error::Error> {
            self.raw()?.$name();
            Ok(())
        }
        raw_methods!($($rest)*);
    };
    ($(#[$doc:meta])* fn $name:ident() -> Status; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $name(&self) -> Result<(), $crate::api::error::Error> {
            $crate::api::error::done(self.raw()?.$name())
        }
        raw_methods!($($rest)*);
    };
}
pub(crate) use raw_methods;

//! What every in-place C object type (`mp_lock_t`, `mp_rlock_t`, `mp_sem_t`,
//! `mp_sem_undo_t`, `mp_cond_t`, `mp_event_t`, `mp_barrier_t`, `mp_rwlock_t`) declares
//! the same way: its size and alignment constants, its opaque struct with the layout
//! checks, and its five lifecycle entry points (`init`, `destroy`, `new`, `open`,
//! `close`). `c_object!` writes them from one invocation per type; the bodies are the
//! generic functions below, so each type states only what differs: its constructor
//! arguments and how they initialise it ([`CObject`]). Two more macros write the entry
//! points whose body is one call on the live object: `c_queries!` (a snapshot written
//! to an out-parameter) and `c_calls!` (an operation, with or without a timeout).
//!
//! The header is generated from the macro-expanded crate (tests/header.rs), so the
//! `///` docs written here and in each invocation reach `include/mpsync.h` as written.

use core::ffi::c_char;
use core::ptr::NonNull;
use std::ffi::CStr;

use super::boundary::{c_name, code, code_of, ffi_out, object, open_out, storage};
use super::status::mp_status;
use crate::api::barrier::check_parties;
use crate::api::lifecycle;
use crate::api::object::{CountingObject, SharedObject, counting_args};
use crate::api::rlock as core_rlock;
use crate::raw::barrier::RawBarrier;
use crate::raw::cond::RawCond;
use crate::raw::event::RawEvent;
use crate::raw::header::Lifecycle;
use crate::raw::lock::RawLock;
use crate::raw::rlock::RawRLock;
use crate::raw::rwlock::RawRwLock;
use crate::raw::sem::RawSem;
use crate::raw::sem_undo::RawSemUndo;
use crate::status::{MpResult, Status};

/// What an object type's constructors take besides its memory, and how they
/// initialise it.
pub(crate) trait CObject: SharedObject {
    /// The constructor arguments after the memory (`()` for most types; the initial
    /// value and bound of a semaphore; a barrier's party count).
    type Args: Copy;

    /// Refuses bad arguments before anything is created (`MP_EINVAL`).
    fn check(_args: Self::Args) -> MpResult<()> {
        Ok(())
    }

    /// Initialises fresh (zeroed) memory as this type and publishes it.
    fn init_as(&self, args: Self::Args, lifecycle: Lifecycle);

    /// The named open: creates with [`CObject::init_as`] when asked to. (The RLock
    /// overrides it: its open flags choose the sticky mode.)
    fn open_named(
        name: &CStr,
        flags: u32,
        mode: u32,
        args: Self::Args,
    ) -> MpResult<(NonNull<Self>, bool)> {
        lifecycle::open_named::<Self>(name, flags, mode, |o| o.init_as(args, Lifecycle::Named))
    }
}

/// Types whose constructors take nothing but memory.
macro_rules! plain_c_objects {
    ($($t:ty),*) => {$(
        impl CObject for $t {
            type Args = ();
            fn init_as(&self, (): (), lifecycle: Lifecycle) {
                self.init(lifecycle)
            }
        }
    )*};
}
plain_c_objects!(RawLock, RawEvent, RawCond, RawRwLock);

/// The semaphores take their initial value and bound.
macro_rules! counting_c_objects {
    ($($t:ty),*) => {$(
        impl CObject for $t {
            type Args = (u32, u32);
            fn check((value, max_value): (u32, u32)) -> MpResult<()> {
                counting_args::<$t>(value, max_value)
            }
            fn init_as(&self, (value, max_value): (u32, u32), lifecycle: Lifecycle) {
                self.init_counting(value, max_value, lifecycle)
            }
        }
    )*};
}
counting_c_objects!(RawSem, RawSemUndo);

impl CObject for RawRLock {
    type Args = ();
    fn init_as(&self, (): (), lifecycle: Lifecycle) {
        self.init(lifecycle)
    }
    /// `MP_RLOCK_STICKY` in `flags` asks for (and checks) the sticky mode.
    fn open_named(name: &CStr, flags: u32, mode: u32, (): ()) -> MpResult<(NonNull<Self>, bool)> {
        core_rlock::open_named(name, flags, mode)
    }
}

impl CObject for RawBarrier {
    /// The number of parties.
    type Args = u32;
    fn check(parties: u32) -> MpResult<()> {
        check_parties(parties)
    }
    fn init_as(&self, parties: u32, lifecycle: Lifecycle) {
        self.init(parties, lifecycle)
    }
}

/// `mp_T_<query>`: `read`'s answer about the live object written to `out`.
///
/// # Safety
/// `p` is NULL or points to `size_of::<T>()` readable bytes; `out` is NULL or writable.
pub(crate) unsafe fn query<T: SharedObject, C, V>(
    p: *const C,
    out: *mut V,
    read: impl FnOnce(&T) -> V,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe { ffi_out(out, || object::<T, C>(p).map(read)) }
}

/// `mp_T_init`: the arguments checked, then the storage (NULL or misaligned is
/// `MP_EINVAL`) initialised in place.
///
/// # Safety
/// `p` is NULL or points to `size_of::<T>()` writable bytes.
pub(crate) unsafe fn init<T: CObject, C>(p: *mut C, args: T::Args) -> mp_status {
    code(T::check(args).and_then(|()| {
        // SAFETY: forwarded contract.
        unsafe { storage::<T, C>(p) }.map(|o| o.init_as(args, Lifecycle::InPlace))
    }))
}

/// `mp_T_new`: a new anonymous shared mapping holding a fresh object, written to `out`.
///
/// # Safety
/// `out` is NULL or valid for writing a pointer.
pub(crate) unsafe fn new<T: CObject, C>(args: T::Args, out: *mut *mut C) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        ffi_out(out, || {
            T::check(args)?;
            lifecycle::new_anonymous::<T>(|o| o.init_as(args, Lifecycle::Anonymous))
                .map(|p| p.as_ptr().cast())
        })
    }
}

/// `mp_T_open`: the arguments checked, then the named open ([`CObject::open_named`]),
/// its handle written to `out` ([`open_out`]: `MP_CREATED` when asked for).
///
/// # Safety
/// `name` is NULL or NUL-terminated; `out` is NULL or valid for writing a pointer.
pub(crate) unsafe fn open<T: CObject, C>(
    name: *const c_char,
    flags: u32,
    mode: u32,
    args: T::Args,
    out: *mut *mut C,
) -> mp_status {
    // SAFETY: forwarded contract.
    unsafe {
        open_out(out, flags, |flags| {
            T::check(args)?;
            T::open_named(c_name(name)?, flags, mode, args)
        })
    }
}

/// Declares an in-place C object type and its lifecycle entry points.
///
/// ```text
/// c_object! {
///     /// docs of the struct
///     pub struct mp_x_t([u64; WORDS]) = RawX, MP_X_SIZE = BYTES, MP_X_ALIGN = 8;
///     /// docs of mp_x_init (with its # Safety section)
///     init mp_x_init(x -> x_out, ARG: TYPE, ...);
///     /// docs of mp_x_destroy
///     destroy mp_x_destroy;
///     lifecycle mp_x_new, mp_x_open, mp_x_close for "x", "a fresh x";
/// }
/// ```
///
/// `x_out` names the out-parameter of `new` and `open`; `init`'s arguments after the memory are the type's [`CObject::Args`] (as a tuple when
/// there are several); `new` and `open` take the same ones. The `lifecycle` line names
/// the type's noun and what a created object is, for the generated docs of `new`,
/// `open` and `close`, which say the same for every type. A type whose `new`/`open`
/// refuse arguments writes `new`, `open` and `close` with their own docs instead
/// (`new mp_x_new; open mp_x_open; close mp_x_close;`, each after its docs).
macro_rules! c_object {
    (
        $(#[$doc:meta])*
        pub struct $c:ident([u64; $words:literal]) = $raw:ty,
            $size:ident = $size_v:literal, $align:ident = $align_v:literal;
        $(#[$init_doc:meta])*
        init $init:ident($obj:ident -> $out:ident $(, $arg:ident: $arg_ty:ty)*);
        $(#[$destroy_doc:meta])*
        destroy $destroy:ident;
        $($constructors:tt)*
    ) => {
        #[doc = concat!(" Size in bytes of `", stringify!($c), "` (part of the ABI).")]
        pub const $size: usize = $size_v;
        #[doc = concat!(" Alignment in bytes of `", stringify!($c), "`.")]
        pub const $align: usize = $align_v;

        $(#[$doc])*
        #[repr(C)]
        pub struct $c {
            _opaque: [u64; $words],
        }

        const _: () = {
            assert!(core::mem::size_of::<$c>() == $size);
            assert!(core::mem::align_of::<$c>() == $align);
            assert!($size == <$raw>::SIZE);
            assert!($align == <$raw>::ALIGN);
        };

        $(#[$init_doc])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $init($obj: *mut $c $(, $arg: $arg_ty)*) -> mp_status {
            // SAFETY: forwarded contract.
            unsafe { $crate::ffi::c_object::init::<$raw, _>($obj, ($($arg),*)) }
        }

        $(#[$destroy_doc])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $destroy($obj: *mut $c) -> mp_status {
            // SAFETY: forwarded contract.
            unsafe { $crate::ffi::boundary::destroy::<$raw, _>($obj) }
        }

        c_object!(@constructors [$c, $raw, $obj, $out, $destroy, ($($arg: $arg_ty),*)] $($constructors)*);
    };
    // `new`, `open` and `close` with the docs every type shares.
    (@constructors [$c:ident, $raw:ty, $obj:ident, $out:ident, $destroy:ident, $args:tt]
        lifecycle $new:ident, $open:ident, $close:ident for $noun:literal, $fresh:literal;
    ) => {
        c_object! {
            @constructors [$c, $raw, $obj, $out, $destroy, $args]
            #[doc = concat!(" Creates ", $fresh, " in a new anonymous shared mapping, inherited by")]
            #[doc = concat!(" `fork()`ed children. Release it with `", stringify!($close), "` in every process")]
            #[doc = " that has it."]
            #[doc = ""]
            #[doc = concat!(" Returns `MP_OK` (and writes `*", stringify!($out), "`), `MP_EINVAL` (NULL `",
                stringify!($out), "`),")]
            #[doc = " `MP_ENOMEM`."]
            #[doc = ""]
            #[doc = " # Safety"]
            #[doc = concat!(" `", stringify!($out), "` is NULL or writable.")]
            new $new;
            #[doc = concat!(" Opens the ", $noun, " called `name`, or creates it with `MP_CREATE` (as ",
                $fresh, ").")]
            #[doc = " `flags`: 0, `MP_CREATE`, or `MP_CREATE | MP_EXCL`, each optionally with"]
            #[doc = " `MP_ANY_OWNER` and `MP_REPORT_CREATED` (then `MP_CREATED` tells the one creator)."]
            #[doc = " `mode`: permission bits for a created object (0 means 0600)."]
            #[doc = concat!(" Unrelated processes in any language that open the same name share the ",
                $noun, ".")]
            #[doc = concat!(" Many processes creating the same name at once all get the same, fully")]
            #[doc = concat!(" initialised ", $noun, ".")]
            #[doc = " An existing object whose file belongs to another user than the caller's effective"]
            #[doc = " uid is refused with `MP_EACCES` (root included) unless `flags` has `MP_ANY_OWNER`."]
            #[doc = " A creator killed at any point leaves nothing behind (the object is built in an"]
            #[doc = " unnamed file and linked to its name only when complete)."]
            #[doc = ""]
            #[doc = concat!(" Returns `MP_OK` (and writes `*", stringify!($out), "`; `MP_CREATED` with ",
                "`MP_REPORT_CREATED` if it")]
            #[doc = " created it), `MP_EINVAL` (NULL, bad name, bad flags or mode), `MP_ENOENT`, `MP_EEXIST`,"]
            #[doc = " `MP_EACCES` (no permission, or another user's object without `MP_ANY_OWNER`),"]
            #[doc = " `MP_EBADOBJ` (the name holds something else), `MP_ENOMEM`, `MP_ESYS`."]
            #[doc = ""]
            #[doc = " # Safety"]
            #[doc = concat!(" `name` is NULL or NUL-terminated; `", stringify!($out), "` is NULL or writable.")]
            open $open;
            #[doc = concat!(" Unmaps a handle from `", stringify!($new), "` or `", stringify!($open),
                "` in the calling process")]
            #[doc = concat!(" (the ", $noun, " lives on in other processes; a named one keeps its name")]
            #[doc = " until `mp_unlink`)."]
            #[doc = ""]
            #[doc = " A handle is never reused within the process (its address is not handed out again;"]
            #[doc = " the README tells the one exception, an address space too small to reserve any"]
            #[doc = " range), so closing it twice is `MP_EBADOBJ` and touches no other object."]
            #[doc = ""]
            #[doc = concat!(" Returns `MP_OK`, `MP_EINVAL` (NULL, or an in-place object: use `",
                stringify!($destroy), "`),")]
            #[doc = " `MP_EBUSY` (the calling thread holds a lock inside the mapping: nothing changed),"]
            #[doc = " `MP_EBADOBJ` (another type's handle, or already closed)."]
            #[doc = ""]
            #[doc = " # Safety"]
            #[doc = concat!(" `", stringify!($obj), "` is NULL, a handle from `", stringify!($new), "`/`",
                stringify!($open), "` (closed or not: a live")]
            #[doc = " handle's record decides without reading memory), or readable memory of an object."]
            close $close;
        }
    };
    // `new`, `open` and `close`, each with its own docs.
    (@constructors [$c:ident, $raw:ty, $obj:ident, $out:ident, $destroy:ident,
            ($($arg:ident: $arg_ty:ty),*)]
        $(#[$new_doc:meta])*
        new $new:ident;
        $(#[$open_doc:meta])*
        open $open:ident;
        $(#[$close_doc:meta])*
        close $close:ident;
    ) => {
        $(#[$new_doc])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $new($($arg: $arg_ty,)* $out: *mut *mut $c) -> mp_status {
            // SAFETY: forwarded contract.
            unsafe { $crate::ffi::c_object::new::<$raw, _>(($($arg),*), $out) }
        }

        $(#[$open_doc])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $open(
            name: *const core::ffi::c_char,
            flags: u32,
            mode: u32,
            $($arg: $arg_ty,)*
            $out: *mut *mut $c,
        ) -> mp_status {
            // SAFETY: forwarded contract.
            unsafe { $crate::ffi::c_object::open::<$raw, _>(name, flags, mode, ($($arg),*), $out) }
        }

        $(#[$close_doc])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $close($obj: *mut $c) -> mp_status {
            // SAFETY: forwarded contract.
            unsafe { $crate::ffi::boundary::close::<$raw, _>($obj) }
        }
    };
}

/// Entry points that write one value of the live object (a snapshot) to an
/// out-parameter, each one line after its docs:
/// `fn mp_x_y(x: mp_x_t) -> y_out: Type = RawX::method;` (the method's receiver type is
/// the object type the pointer is checked for).
macro_rules! c_queries {
    ($($(#[$doc:meta])*
        fn $name:ident($obj:ident: $c:ident) -> $out:ident: $ty:ty = $read:path;)*) => {$(
        $(#[$doc])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($obj: *const $c, $out: *mut $ty) -> mp_status {
            // SAFETY: forwarded contract.
            unsafe { $crate::ffi::c_object::query($obj, $out, $read) }
        }
    )*};
}

/// What a state machine's operation returns, as the C status it becomes: `()` is
/// `MP_OK`; a [`Status`] is its own code (outcomes such as `MP_TIMEOUT` included).
pub(crate) trait CallResult {
    fn status(r: MpResult<Self>) -> mp_status
    where
        Self: Sized;
}

impl CallResult for () {
    #[inline(always)]
    fn status(r: MpResult<()>) -> mp_status {
        code(r)
    }
}

impl CallResult for Status {
    #[inline(always)]
    fn status(r: MpResult<Status>) -> mp_status {
        code_of(r)
    }
}

/// Entry points that run one operation of the live object, each one line after its
/// docs:
/// - `fn mp_x_acquire(x: mp_x_t) waits = RawX::acquire;` takes `block` and `timeout_ms`
///   (the family's timeout convention) and passes them on as a `Timeout`;
/// - `fn mp_x_release(x: mp_x_t) = RawX::release;` takes nothing more.
///
/// The body is the one expression a hand-written entry point would have (checked
/// pointer, the operation, its result as a status), so the fast paths compile as before.
macro_rules! c_calls {
    () => {};
    ($(#[$doc:meta])* fn $name:ident($obj:ident: $c:ident) waits = $raw:ident::$op:ident;
        $($rest:tt)*) => {
        $(#[$doc])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($obj: *mut $c, block: bool, timeout_ms: i64) -> mp_status {
            // SAFETY: forwarded contract.
            let done = unsafe { $crate::ffi::boundary::object::<$raw, _>($obj) }
                .map(|o| o.$op($crate::sys::time::Timeout::new(block, timeout_ms)));
            $crate::ffi::c_object::CallResult::status(done)
        }
        c_calls!($($rest)*);
    };
    ($(#[$doc:meta])* fn $name:ident($obj:ident: $c:ident) = $raw:ident::$op:ident;
        $($rest:tt)*) => {
        $(#[$doc])*
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name($obj: *mut $c) -> mp_status {
            // SAFETY: forwarded contract.
            let done = unsafe { $crate::ffi::boundary::object::<$raw, _>($obj) }.map($raw::$op);
            $crate::ffi::c_object::CallResult::status(done)
        }
        c_calls!($($rest)*);
    };
}

//! The C ABI: a thin face over the safe core (`crate::api`), as the safe Rust API is a
//! face over the same core. Every `extern "C"` function checks its C pointers, calls the
//! core (its validation, lifecycles and flavour dispatch, and the state machines it
//! hands out), and turns the core's `Status` into `mp_status`; it keeps no logic of its
//! own. Nothing below this module imports it.
//!
//! One file per C type family (`lock`, `rlock`, `sem`, `cond`, `event`, `barrier`,
//! `array`, `shm`, `inspect`), plus what they all share:
//! * `status`: `mp_status` and its codes (tests/status_codes.rs reads them from that
//!   file), and the conversion from the core's `Status`;
//! * `conventions`: the `*_open` flags, `MP_FOREVER` and `MP_NAME_MAX`;
//! * [`library`]: the calls that take no object (status strings, version, `mp_unlink`,
//!   `mp_robust_mode`) and the version numbers `MP_VERSION_*`;
//! * `boundary`: pointer checks, out-parameters (`ffi_out`), C strings, status
//!   collapse, and the C shape of the core's `close` / `destroy`.
//!
//! This file only declares the modules and re-exports their constants here (the paths
//! `mpsync::ffi::MP_OK`, ...). The files import one another directly
//! (`use super::status::mp_status`), never through this file, so that no import cycle
//! can form (tests/layering.rs). The order of the declarations below is the order in
//! which cbindgen meets the items, which tests/header.rs keeps within each section of
//! the header: `conventions` and `status` come before the type families.
//!
//! Conventions (docs/api-conventions.md): every fallible function returns `mp_status`; NULL
//! pointers give `MP_EINVAL`; memory that does not hold a live object of the right
//! type and layout gives `MP_EBADOBJ`; out-parameters are written only on success.
//! Nothing here panics: the state machines are panic-free by construction, and the
//! boundary never unwraps.

#![allow(non_camel_case_types)]

mod boundary;
#[macro_use]
mod c_object;
mod conventions;
mod status;

pub mod array;
pub mod barrier;
pub mod cond;
pub mod event;
pub mod inspect;
pub mod library;
pub mod lock;
pub mod queue;
pub mod rlock;
pub mod rwlock;
pub mod sem;
pub mod sem_undo;
pub mod shm;

#[cfg(test)]
mod tests;

/// The former name of [`library`], kept so that existing Rust paths
/// (`mpsync::ffi::common::mp_unlink`) still resolve.
#[doc(hidden)]
pub use self::library as common;

pub use conventions::{
    MP_ANY_OWNER, MP_CREATE, MP_EXCL, MP_FOREVER, MP_NAME_MAX, MP_REPORT_CREATED,
};
pub use library::{MP_VERSION_MAJOR, MP_VERSION_MINOR, MP_VERSION_PATCH};
pub use status::{
    MP_CREATED, MP_EACCES, MP_EBADOBJ, MP_EBROKEN, MP_EBUFSIZE, MP_EBUSY, MP_ECLOSED, MP_EDEADLK,
    MP_EEXIST, MP_EINTR, MP_EINVAL, MP_ELEASE, MP_EMSGSIZE, MP_ENOENT, MP_ENOMEM, MP_ENOTOWNER,
    MP_EOVERFLOW, MP_ERANGE, MP_ESYS, MP_OK, MP_OWNER_DEAD, MP_TIMEOUT, mp_status,
};

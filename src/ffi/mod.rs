//! The C ABI: one file per C type family (`lock`, `rlock`, `sem`, `cond`, `event`,
//! `barrier`, `array`, `shm`, `inspect`), plus what they all share:
//! * `constants`: `mp_status` and its codes, the `*_open` flags, timeouts, versions
//!   (re-exported here, so `ffi::MP_OK` is their path);
//! * [`library`]: the calls that take no object (status strings, version, `mp_unlink`,
//!   `mp_robust_mode`);
//! * `boundary`: pointer checks, out-parameters ([`ffi_out`]), C strings, status
//!   collapse;
//! * `lifecycle`: the anonymous, named and in-place lifecycles and `mp_T_close`.
//!
//! Conventions (docs/api-conventions.md): every fallible function returns `mp_status`; NULL
//! pointers give `MP_EINVAL`; memory that does not hold a live object of the right
//! type and layout gives `MP_EBADOBJ`; out-parameters are written only on success.
//! Nothing here panics: the state machines are panic-free by construction, and the
//! boundary never unwraps.

#![allow(non_camel_case_types)]

mod boundary;
mod constants;
mod lifecycle;

pub mod array;
pub mod barrier;
pub mod cond;
pub mod event;
pub mod inspect;
pub mod library;
pub mod lock;
pub mod rlock;
pub mod sem;
pub mod shm;

/// The former name of [`library`], kept so that existing Rust paths
/// (`mpsync::ffi::common::mp_unlink`) still resolve.
#[doc(hidden)]
pub use self::library as common;

pub(crate) use boundary::{
    SharedObject, c_name, code, code_of, ffi_out, object, out_ok, storage, write_out,
};
pub use constants::*;
pub(crate) use lifecycle::{close, destroy, new_anonymous, open_named};

//! Lock-word state machines on shared memory. No C types here: the FFI layer maps
//! C pointers onto these structs and their `Status` results onto `mp_status`.
//!
//! Every struct is `#[repr(C)]`, made only of atomics and integers (all-zero is a
//! valid bit pattern, so any mapped memory can be *looked at* safely; the header's
//! magic decides whether it is an object), and starts with a [`header::Header`].

pub mod array;
pub mod barrier;
pub mod cond;
pub mod event;
pub mod header;
pub mod lock;
pub mod rlock;
pub mod sem;
pub mod spin;

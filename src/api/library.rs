//! What takes no object: removing a name ([`unlink`]), the longest name ([`NAME_MAX`]),
//! and how the calling thread detects owner death (`robust_mode`, for the C ABI's
//! `mp_robust_mode`).

use std::ffi::CStr;

use super::error::Error;
use super::options::c_name;
use crate::status::MpResult;
use crate::sys::robust::Mode;
use crate::sys::shm as os_shm;
use crate::sys::thread;

/// Longest object name, not counting an optional leading `/`.
pub const NAME_MAX: usize = os_shm::NAME_MAX_LEN;

/// Removes the name of a named object or shared-memory block (`mp_unlink`). Processes
/// that have it open keep using it; a later `open` with `create` makes a new object.
pub fn unlink(name: &str) -> Result<(), Error> {
    unlink_c(&c_name(name)?).map_err(Error::from)
}

/// [`unlink`] of a NUL-terminated name (the C ABI's `mp_unlink`).
pub(crate) fn unlink_c(name: &CStr) -> MpResult<()> {
    os_shm::unlink_name(name)
}

/// How the calling thread detects the death of an RLock owner (set up at the thread's
/// first call into the library).
pub(crate) fn robust_mode() -> Mode {
    thread::current().robust_mode
}

//! Shared-memory blocks (`multiprocessing.shared_memory.SharedMemory`): raw bytes without
//! a header in the POSIX shared-memory namespace, so a handle is an opaque process-local
//! value, the mapping's address, resolved through the process's private mapping registry
//! (which also keeps the size and the name). Both faces use these: the C ABI's
//! `mp_shm_*` and the safe API's [`SharedMemory`](super::SharedMemory).
//!
//! Every call looks the handle up in the registry first and never dereferences it, so a
//! closed or bogus handle is `BadObj`, and, since a closed address is never handed out
//! again, a stale handle can never reach a newer block.

use core::ptr::NonNull;
use std::ffi::CStr;

use crate::status::{MpResult, Status};
use crate::sys::shm as os_shm;

/// Opens (or with `FLAG_CREATE` creates, of `size` bytes) the block called `name`; a
/// `None` name with `FLAG_CREATE | FLAG_EXCL` gets a fresh generated one. Also returns
/// whether this call created the block.
pub(crate) fn open(
    name: Option<&CStr>,
    flags: u32,
    size: usize,
    mode: u32,
) -> MpResult<(NonNull<u8>, bool)> {
    let opened = os_shm::open_block(name, flags, size, mode)?.opened;
    // A mapping never starts at address 0.
    Ok((
        NonNull::new(opened.base).ok_or(Status::Sys)?,
        opened.created,
    ))
}

/// The live block whose handle is `p` (its mapping record); `BadObj` for anything else.
pub(crate) fn lookup(p: NonNull<u8>) -> MpResult<os_shm::Mapping> {
    match os_shm::lookup(p.as_ptr() as usize) {
        Some(m) if m.content == os_shm::Content::Block => Ok(m),
        _ => Err(Status::BadObj),
    }
}

/// The name of the live block whose handle is `p` (without `/`); `BadObj` for anything
/// else.
///
/// # Safety
/// The block is not closed during `'a` (the registry frees its copy of the name then).
pub(crate) unsafe fn name<'a>(p: NonNull<u8>) -> MpResult<&'a CStr> {
    lookup(p)?;
    let name = os_shm::block_name(p.as_ptr() as usize).ok_or(Status::BadObj)?;
    // SAFETY: the registry's copy of the name: NUL-terminated, heap-allocated and kept
    // while the mapping lives, which is 'a at least (the contract).
    Ok(unsafe { CStr::from_ptr(name) })
}

/// Unmaps the block whose handle is `p`: `Busy` (nothing changed) if the calling thread
/// holds a lock inside it, `BadObj` for anything but a live block of this process.
pub(crate) fn close(p: NonNull<u8>) -> MpResult<()> {
    let m = lookup(p)?;
    os_shm::unmap_live(p.as_ptr() as usize, m)
}

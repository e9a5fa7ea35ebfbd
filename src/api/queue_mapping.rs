//! Queues as mappings: creating them (anonymous, named), finding a handle's mapping,
//! and the validated view every operation goes through. Both faces use these: the C
//! ABI's `mp_queue_*` and the safe API's [`Queue`](super::Queue).
//!
//! A queue is a mapping made by this library that starts with a descriptor and an
//! embedded RLock, followed by its ring; its handle points at the mapping's start. Every
//! call first looks the handle up in the process's mapping registry, so a pointer this
//! process did not get from [`new`] / [`open`] is `BadObj` without being dereferenced,
//! and the descriptor is re-validated against the mapping's real length (see
//! `raw::queue`).

use core::ptr::NonNull;
use std::ffi::CStr;

use crate::raw::header::{Kind, Lifecycle};
use crate::raw::queue::{MIN_CAPACITY, QueueView, RING_OFFSET, RawQueue, total_size};
use crate::status::{MpResult, Status};
use crate::sys::shm::{self as os_shm, NamedSpec};

/// What the registry records for a queue's mapping.
const CONTENT: os_shm::Content = os_shm::Content::Object(Kind::Queue as u32);

/// The queue whose handle is `p`, validated against its mapping; `BadObj` if `p` is not
/// the start of a live queue mapping of this process (nothing is read then).
///
/// # Safety
/// The mapping is not closed during `'a` (no use of a handle after its close).
#[inline(always)]
pub(crate) unsafe fn view<'a>(p: NonNull<RawQueue>) -> MpResult<QueueView<'a>> {
    let len = os_shm::mapping_len(p.as_ptr() as usize).ok_or(Status::BadObj)?;
    // SAFETY: the page-aligned start of a live mapping of `len` bytes made by this
    // process (registry), readable and writable; it stays mapped for 'a (the contract).
    unsafe { RawQueue::view(p.as_ptr().cast(), len) }
}

/// Named-queue spec: the exact total size, and on opening an existing queue, the same
/// capacity (or any, for capacity 0). The message limit is the creator's.
struct QueueSpec {
    /// 0: open an existing queue of any capacity (creating one is `Inval`).
    capacity: usize,
    max_count: u64,
}

impl QueueSpec {
    fn total(&self) -> usize {
        total_size(self.capacity).unwrap_or(RING_OFFSET + MIN_CAPACITY)
    }
}

impl NamedSpec for QueueSpec {
    fn content(&self) -> os_shm::Content {
        CONTENT
    }
    fn create_size(&self) -> usize {
        self.total()
    }
    fn init(&self, base: *mut u8) -> MpResult<()> {
        if self.capacity == 0 {
            return Err(Status::Inval);
        }
        // SAFETY: a fresh, zeroed, page-aligned mapping of `total` bytes (>= the
        // descriptor); every bit pattern is a valid RawQueue.
        let q = unsafe { &*(base as *const RawQueue) };
        q.init(self.capacity, self.max_count, Lifecycle::Named);
        Ok(())
    }
    fn map_size(&self, file_size: usize) -> MpResult<usize> {
        // Checked before mapping: a truncated, grown or foreign file is refused.
        let any = self.capacity == 0
            && file_size
                .checked_sub(RING_OFFSET)
                .is_some_and(|c| total_size(c).is_ok());
        if any || file_size == self.total() {
            Ok(file_size)
        } else {
            Err(Status::BadObj)
        }
    }
    fn check(&self, base: *mut u8, len: usize) -> MpResult<()> {
        // SAFETY: a page-aligned mapping of `len` bytes.
        let v = unsafe { RawQueue::view(base, len) }?;
        if self.capacity == 0 || v.capacity() == self.capacity {
            Ok(())
        } else {
            Err(Status::BadObj)
        }
    }
}

/// An empty queue with a ring of `capacity` bytes holding at most `max_count` messages
/// (0: no limit) in a new anonymous shared mapping.
pub(crate) fn new(capacity: usize, max_count: u64) -> MpResult<NonNull<RawQueue>> {
    let total = total_size(capacity)?;
    let base = os_shm::map_anonymous(total, CONTENT)?;
    // SAFETY: a fresh, zeroed, page-aligned mapping of `total` bytes.
    let q = unsafe { &*(base as *const RawQueue) };
    q.init(capacity, max_count, Lifecycle::Anonymous);
    // A mapping never starts at address 0.
    NonNull::new(base.cast()).ok_or(Status::Sys)
}

/// Opens, or creates empty, the queue called `name`; an existing one must have the same
/// `capacity` (`BadObj` otherwise), or any with `capacity == 0` (then creating is
/// `Inval`); it keeps its own `max_count`. Also returns whether this call created it.
pub(crate) fn open(
    name: &CStr,
    flags: u32,
    mode: u32,
    capacity: usize,
    max_count: u64,
) -> MpResult<(NonNull<RawQueue>, bool)> {
    if capacity != 0 {
        total_size(capacity)?;
    }
    let spec = QueueSpec {
        capacity,
        max_count,
    };
    let opened = os_shm::open_named(name, flags, mode, &spec)?;
    // A mapping never starts at address 0.
    Ok((
        NonNull::new(opened.base.cast()).ok_or(Status::Sys)?,
        opened.created,
    ))
}

/// Unmaps the queue whose handle is `p`: `Busy` (nothing changed) if the calling thread
/// holds its lock, `BadObj` for anything but a live queue handle of this process (never
/// dereferenced).
///
/// # Safety
/// None beyond the type: `p` is not dereferenced (an `unsafe fn` for `object_handle!`).
pub(crate) unsafe fn close(p: NonNull<RawQueue>) -> MpResult<()> {
    let addr = p.as_ptr() as usize;
    match os_shm::place(addr) {
        os_shm::Place::Live(m) if m.content == CONTENT => os_shm::unmap_live(addr, m),
        _ => Err(Status::BadObj),
    }
}

/// A queue is never in place: `destroy` is `Inval` (use close).
///
/// # Safety
/// None: `p` is not dereferenced (an `unsafe fn` for `object_handle!`).
pub(crate) unsafe fn destroy(_p: NonNull<RawQueue>) -> MpResult<()> {
    Err(Status::Inval)
}

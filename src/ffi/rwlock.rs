//! `mp_rwlock_t`: a reader-writer lock that survives its readers' and writers' deaths
//! (design: docs/rwlock.md).

use super::status::mp_status;
use crate::raw::rwlock::{RW_READERS, RawRwLock};

c_object! {
    /// A reader-writer lock: any number of readers (up to `MP_RWLOCK_READERS` threads at
    /// once) or one writer, each side owned by the thread that acquired it. If a writer or
    /// a reader dies holding it (exit, `SIGKILL`, `exec`), its share comes back and one
    /// later acquisition returns `MP_OWNER_DEAD`. Plain memory, like `mp_lock_t`.
    pub struct mp_rwlock_t([u64; 528]) = RawRwLock, MP_RWLOCK_SIZE = 4224, MP_RWLOCK_ALIGN = 8;
    /// Initialises a free reader-writer lock in caller-provided memory (`MP_RWLOCK_SIZE`
    /// bytes, `MP_RWLOCK_ALIGN`-aligned, in a `MAP_SHARED` mapping to share it).
    ///
    /// Returns `MP_OK`, or `MP_EINVAL` for NULL or misaligned memory.
    ///
    /// # Safety
    /// `rw` is NULL or points to `MP_RWLOCK_SIZE` writable bytes.
    init mp_rwlock_init(rw -> rw_out);
    /// Ends a lock made by `mp_rwlock_init`.
    ///
    /// Returns `MP_OK`, `MP_EBUSY` (held on either side, a dead holder not yet noticed, or
    /// waited on: nothing changes; a lock the calling thread holds is refused from the
    /// thread's private record), `MP_EINVAL` (NULL, or not an in-place object),
    /// `MP_EBADOBJ`. Do not free or unmap the memory of a lock that a thread of this
    /// process still holds (its slot is in that thread's kernel robust list).
    ///
    /// # Safety
    /// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes.
    destroy mp_rwlock_destroy;
    lifecycle mp_rwlock_new, mp_rwlock_open, mp_rwlock_close for "reader-writer lock", "a free reader-writer lock";
}

const _: () = {
    assert!(MP_RWLOCK_READERS == RW_READERS);
};
/// How many threads may hold the read side of one lock at the same time; one more gets
/// `MP_EBUSY`. Threads that only wait use nothing.
pub const MP_RWLOCK_READERS: usize = 64;

c_calls! {
    /// Acquires the read side, or re-enters it if the calling thread holds it (its level
    /// goes up by one, without waiting, even behind a waiting writer). `block`/`timeout_ms`
    /// as in `mp_lock_acquire`. A writer's release admits the readers that were waiting
    /// before the next writer.
    ///
    /// Returns `MP_OK`, `MP_OWNER_DEAD` (acquired, and this call is the one told that a
    /// writer or a reader died holding the lock), `MP_TIMEOUT`, `MP_EINTR` (nothing
    /// acquired), `MP_EBUSY` (`MP_RWLOCK_READERS` other threads hold the read side),
    /// `MP_EDEADLK` (the calling thread holds the write side), `MP_EOVERFLOW` (re-entry
    /// level at its 2^32-1 limit), `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes that stay mapped while
    /// the calling thread holds the lock. Not async-signal-safe.
    fn mp_rwlock_acquire_read(rw: mp_rwlock_t) waits = RawRwLock::acquire_read;
    /// Releases one read level of the calling thread.
    ///
    /// Returns `MP_OK`, `MP_ENOTOWNER` (the calling thread does not hold the read side),
    /// `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes. Not async-signal-safe.
    fn mp_rwlock_release_read(rw: mp_rwlock_t) = RawRwLock::release_read;
    /// Acquires the write side: waits for the writer word, then for the readers already
    /// in (new readers wait meanwhile). `block`/`timeout_ms` as in `mp_lock_acquire`.
    ///
    /// Returns `MP_OK`, `MP_OWNER_DEAD` (acquired, and this call is the one told that a
    /// writer or a reader died holding the lock), `MP_TIMEOUT`, `MP_EINTR` (nothing
    /// acquired), `MP_EDEADLK` (the calling thread already holds this lock, read or write:
    /// an upgrade is refused at once), `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes that stay mapped while
    /// the calling thread holds the lock. Not async-signal-safe.
    fn mp_rwlock_acquire_write(rw: mp_rwlock_t) waits = RawRwLock::acquire_write;
    /// Releases the write side held by the calling thread.
    ///
    /// Returns `MP_OK`, `MP_ENOTOWNER` (the calling thread does not hold it), `MP_EINVAL`,
    /// `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes. Not async-signal-safe.
    fn mp_rwlock_release_write(rw: mp_rwlock_t) = RawRwLock::release_write;
}

c_queries! {
    /// Writes the calling thread's read level (0 if it does not hold the read side) to
    /// `*level_out`.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes; `level_out` is NULL or
    /// writable.
    fn mp_rwlock_read_level(rw: mp_rwlock_t) -> level_out: u32 = RawRwLock::read_level;
    /// Writes whether the calling thread holds the write side to `*writer_out`.
    ///
    /// Returns `MP_OK`, `MP_EINVAL`, `MP_EBADOBJ`.
    ///
    /// # Safety
    /// `rw` is NULL or points to `MP_RWLOCK_SIZE` readable bytes; `writer_out` is NULL or
    /// writable.
    fn mp_rwlock_is_writer(rw: mp_rwlock_t) -> writer_out: bool = RawRwLock::holds_write;
}

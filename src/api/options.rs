//! [`OpenOptions`]: how `open` finds or creates a named object, and object names as the
//! core takes them.

use std::ffi::CString;

use super::error::Error;
use crate::sys::shm as os_shm;

/// How `open` finds or creates a named object, like [`std::fs::OpenOptions`]. The
/// default opens an existing object only, owned by the caller's effective user, and
/// creates with mode `0600`.
///
/// ```
/// use mpsync::{Error, Event, OpenOptions};
/// # let name = format!("doc-open-options-{}", std::process::id());
/// let create_new = OpenOptions::new().create(true).exclusive(true).mode(0o640);
/// let first = Event::open(&name, &create_new)?;
/// assert_eq!(Event::open(&name, &create_new).unwrap_err(), Error::Exists);
/// let second = Event::open(&name, &OpenOptions::new())?; // the same event
/// first.set()?;
/// assert!(second.is_set()?);
/// mpsync::unlink(&name)?;
/// assert_eq!(Event::open(&name, &OpenOptions::new()).unwrap_err(), Error::NotFound);
/// # Ok::<(), mpsync::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    create: bool,
    exclusive: bool,
    any_owner: bool,
    mode: u32,
}

impl OpenOptions {
    /// Open an existing object only (the default).
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Create the object if the name does not exist (`MP_CREATE`). Many processes
    /// creating one name at once all get the same, fully initialised object.
    pub fn create(mut self, create: bool) -> OpenOptions {
        self.create = create;
        self
    }

    /// With `create`: fail with [`Error::Exists`] if the name exists (`MP_EXCL`).
    pub fn exclusive(mut self, exclusive: bool) -> OpenOptions {
        self.exclusive = exclusive;
        self
    }

    /// Accept an existing object whose file belongs to another user (`MP_ANY_OWNER`).
    /// Whoever created the name can rewrite the object's memory, lock words included:
    /// pass it only when that user is trusted.
    pub fn any_owner(mut self, any_owner: bool) -> OpenOptions {
        self.any_owner = any_owner;
        self
    }

    /// Permission bits of a created object, exactly (regardless of the umask); 0 means
    /// `0600`.
    pub fn mode(mut self, mode: u32) -> OpenOptions {
        self.mode = mode;
        self
    }

    /// The core's `flags` (the C ABI's `MP_CREATE` etc. have the same values).
    /// `exclusive` without `create` is passed through, and the core refuses it with
    /// [`Error::Invalid`].
    pub(crate) fn flags(&self) -> u32 {
        let mut flags = 0;
        if self.create {
            flags |= os_shm::FLAG_CREATE;
        }
        if self.exclusive {
            flags |= os_shm::FLAG_EXCL;
        }
        if self.any_owner {
            flags |= os_shm::FLAG_ANY_OWNER;
        }
        flags
    }

    pub(crate) fn mode_bits(&self) -> u32 {
        self.mode
    }
}

/// A name as the core takes it (NUL-terminated); a name with a NUL byte is
/// [`Error::Invalid`], and [`Error::NoMemory`] if memory for the copy is short (never an
/// abort).
pub(crate) fn c_name(name: &str) -> Result<CString, Error> {
    if name.as_bytes().contains(&0) {
        return Err(Error::Invalid);
    }
    let mut bytes = Vec::new();
    // Room for the NUL too, so that `CString::new` does not grow the vector.
    bytes
        .try_reserve_exact(name.len() + 1)
        .map_err(|_| Error::NoMemory)?;
    bytes.extend_from_slice(name.as_bytes());
    CString::new(bytes).map_err(|_| Error::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_options_flags() {
        use os_shm::{FLAG_ANY_OWNER, FLAG_CREATE, FLAG_EXCL};
        assert_eq!(OpenOptions::new().flags(), 0);
        assert_eq!(
            OpenOptions::new()
                .create(true)
                .exclusive(true)
                .any_owner(true)
                .flags(),
            FLAG_CREATE | FLAG_EXCL | FLAG_ANY_OWNER
        );
        assert_eq!(c_name("a\0b"), Err(Error::Invalid));
        assert_eq!(c_name("ab").unwrap().as_bytes(), b"ab");
    }
}

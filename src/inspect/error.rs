//! [`InspectError`]: why an entry could not be inspected at all.

/// Why an entry could not be inspected at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InspectError {
    /// No such name.
    NotFound,
    /// Not a name: empty, `.`, `..`, contains `/` (after one leading `/`) or NUL, or
    /// longer than 255 bytes.
    InvalidName,
    /// The file exists but we may not read it.
    PermissionDenied,
    /// Another system error (the `errno`); `ENOMEM` also when memory for the answer
    /// is short.
    Io(i32),
}

impl core::fmt::Display for InspectError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InspectError::NotFound => f.write_str("no such name in the shared-memory namespace"),
            InspectError::InvalidName => f.write_str("not a valid name"),
            InspectError::PermissionDenied => f.write_str("permission denied"),
            InspectError::Io(e) => {
                write!(f, "system error: {}", std::io::Error::from_raw_os_error(*e))
            }
        }
    }
}

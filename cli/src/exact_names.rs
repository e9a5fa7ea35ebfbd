//! Names as their exact bytes. The library's inspection API takes names as `&str` and
//! gives them as `String`, a listing replacing the invalid bytes of a name that is not
//! UTF-8 by U+FFFD (such an entry is never a libmpsync object: it is listed as foreign).
//! mpsync prints and takes every name as bytes: this module recovers a listed entry's
//! exact name from the directory, and looks at or removes an entry whose name is not
//! UTF-8 by way of a listing.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use mpsync::inspect::cleanup::{self, RemoveError};
use mpsync::inspect::{self, InspectError, ObjectInfo, SHM_DIR};

/// The directory's names that a listing may have changed (see [`ExactNames::of`]).
pub struct ExactNames {
    /// Exact name, device and inode of every entry whose name, made UTF-8 the lossy
    /// way, contains U+FFFD.
    replaced: Vec<(Vec<u8>, u64, u64)>,
}

impl ExactNames {
    /// Reads the directory. Read it before listing: an entry of the listing is then
    /// found here unless it appeared between the two reads.
    pub fn scan() -> ExactNames {
        let replaced = std::fs::read_dir(SHM_DIR)
            .map(|dir| {
                dir.flatten()
                    .filter(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .contains(char::REPLACEMENT_CHARACTER)
                    })
                    .filter_map(|e| {
                        let meta = e.metadata().ok()?;
                        Some((e.file_name().as_bytes().to_vec(), meta.dev(), meta.ino()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        ExactNames { replaced }
    }

    /// The exact name of the listed entry `info`: its `name` itself, unless that
    /// contains U+FFFD, which a non-UTF-8 name's bytes may have been replaced by; then
    /// the directory's name that reads the same once replaced and is the same file.
    /// `None` if there is none (the entry appeared after the scan). Each name of the
    /// scan is given once, so that two hard links with such names get one each.
    pub fn of(&mut self, info: &ObjectInfo) -> Option<Vec<u8>> {
        if !info.name.contains(char::REPLACEMENT_CHARACTER) {
            return Some(info.name.clone().into_bytes());
        }
        let at = self.replaced.iter().position(|(name, dev, ino)| {
            (*dev, *ino) == (info.file.dev, info.file.ino)
                && String::from_utf8_lossy(name) == info.name
        })?;
        Some(self.replaced.swap_remove(at).0)
    }
}

/// Inspects the entry named exactly `name` (with or without one leading `/`). Returns
/// it and its exact bare name.
pub fn inspect(name: &[u8]) -> Result<(ObjectInfo, Vec<u8>), InspectError> {
    match std::str::from_utf8(name) {
        Ok(utf8) => {
            let info = inspect::inspect(utf8)?;
            let exact = info.name.clone().into_bytes();
            Ok((info, exact))
        }
        Err(_) => find_listed(bare_non_utf8(name)?),
    }
}

/// Removes the entry named exactly `name` under the rules of the library's
/// [`cleanup::remove`], which does it for a UTF-8 name: regular files only, and not
/// while some process maps it, or might (unless `ignore_unreadable`), unless `force`.
/// Returns what the entry was and its exact bare name.
pub fn remove(
    name: &[u8],
    force: bool,
    ignore_unreadable: bool,
) -> Result<(ObjectInfo, Vec<u8>), RemoveError> {
    if let Ok(utf8) = std::str::from_utf8(name) {
        let info = cleanup::remove(utf8, force, ignore_unreadable)?;
        let exact = info.name.clone().into_bytes();
        return Ok((info, exact));
    }
    let bare = bare_non_utf8(name).map_err(RemoveError::Inspect)?;
    let (info, exact) = find_listed(bare).map_err(RemoveError::Inspect)?;
    if info.file.not_regular.is_some() {
        return Err(RemoveError::NotRegular);
    }
    let mapped = !info.mappers.pids.is_empty() || (!ignore_unreadable && info.mappers.unknown != 0);
    if mapped && !force {
        return Err(RemoveError::InUse {
            pids: info.mappers.pids.clone(),
            unknown: info.mappers.unknown,
        });
    }
    let path = [SHM_DIR.as_bytes(), &exact].concat();
    std::fs::remove_file(OsStr::from_bytes(&path)).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RemoveError::Inspect(InspectError::NotFound),
        std::io::ErrorKind::PermissionDenied => {
            RemoveError::Inspect(InspectError::PermissionDenied)
        }
        _ => RemoveError::Unlink(e.raw_os_error().unwrap_or(0)),
    })?;
    Ok((info, exact))
}

/// The bare name of a name that is not UTF-8 (the library checks the others by the same
/// rule): one leading `/` dropped, then 1 to 255 bytes without `/` or NUL. (`.` and `..`
/// are UTF-8.)
fn bare_non_utf8(name: &[u8]) -> Result<&[u8], InspectError> {
    let bare = name.strip_prefix(b"/").unwrap_or(name);
    if bare.is_empty() || bare.len() > 255 || bare.iter().any(|&b| b == b'/' || b == 0) {
        return Err(InspectError::InvalidName);
    }
    Ok(bare)
}

/// The listed entry whose exact name is `bare`. The library describes an entry whose
/// name is not UTF-8 without opening it, from the directory alone: listing it is
/// looking at it.
fn find_listed(bare: &[u8]) -> Result<(ObjectInfo, Vec<u8>), InspectError> {
    let mut exact = ExactNames::scan();
    inspect::list()?
        .into_iter()
        .find_map(|info| {
            let name = exact.of(&info)?;
            (name == bare).then_some((info, name))
        })
        .ok_or(InspectError::NotFound)
}

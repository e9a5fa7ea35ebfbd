//! Inspecting entries: one by name ([`inspect`]) or the whole namespace ([`list`]),
//! each a racy snapshot (see the module docs).

use super::decode;
use super::error::InspectError;
use super::file::{self, FileFacts, Looked};
use super::info::{Class, Creator, Health, ObjectInfo};
use super::maps::{Mappers, MapsIndex};
use super::owner::{Liveness, Vantage};
use super::state::{HolderState, RLockState, State};
use crate::sys::shm::names::SHM_DIR;
use crate::sys::shm::validate_name;

/// Prefix of the library's temporary creation files (see `sys::shm::create`).
pub const TEMP_PREFIX: &str = crate::sys::shm::creator_names::TEMP_PREFIX;

/// The bare name (one path component) of `name`, which may have one leading `/`.
pub fn bare_name(name: &str) -> Result<&str, InspectError> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty()
        || bare == "."
        || bare == ".."
        || bare.len() > 255
        || bare.bytes().any(|b| b == b'/' || b == 0)
    {
        return Err(InspectError::InvalidName);
    }
    Ok(bare)
}

/// The creator recorded in `bare`, judged from `v`, if the name records one.
fn creator_of(bare: &str, v: Vantage) -> Option<Creator> {
    use crate::sys::shm::creator_names::{parse_anonymous_name, parse_temp_name};
    let c = parse_temp_name(bare).or_else(|| parse_anonymous_name(bare))?;
    Some(Creator {
        pid: c.pid,
        start: c.start,
        pidns: c.pidns,
        liveness: c.liveness(v),
    })
}

/// How many times a snapshot that judged an owner is re-read before the judgement
/// is given up as "unknown" (the lock kept changing under us).
const STABLE_READS: usize = 3;

/// Who maps a file, given its facts: a targeted pass over `/proc` for one entry, or a
/// lookup in a [`MapsIndex`] shared by a listing.
type MappersOf<'a> = &'a dyn Fn(&FileFacts) -> Result<Mappers, InspectError>;

/// The error for memory that could not be had: `Io(ENOMEM)` (`MP_ENOMEM` in C).
fn no_mem(_: crate::fallible::NoMem) -> InspectError {
    InspectError::Io(libc::ENOMEM)
}

/// Inspects one entry. Every allocation is fallible (`Io(ENOMEM)`): `mp_inspect` runs
/// this.
fn inspect_with(
    bare: &str,
    mappers: MappersOf<'_>,
    v: Vantage,
) -> Result<ObjectInfo, InspectError> {
    use crate::fallible::{try_format, try_string};
    let looked = file::look(bare)?;
    let (facts, file) = match looked {
        Looked::NotRegular(facts) => {
            let detail = try_format(format_args!(
                "not a regular file: {}",
                facts.not_regular.unwrap_or("?")
            ))
            .map_err(no_mem)?;
            return entry(
                bare,
                Class::Foreign,
                Health::Foreign,
                detail,
                facts,
                mappers,
            );
        }
        Looked::Unreadable(facts) => {
            // What it holds cannot be known: never treated as an object or a block
            // (cleanup keeps it), only a temporary file is recognised by its name.
            let class = if bare.starts_with(TEMP_PREFIX) {
                Class::TempFile
            } else {
                Class::Foreign
            };
            let detail = try_string("permission denied").map_err(no_mem)?;
            return entry(bare, class, Health::Unreadable, detail, facts, mappers);
        }
        Looked::Open(facts, file) => (facts, file),
    };
    let creator = creator_of(bare, v);
    if bare.starts_with(TEMP_PREFIX) && creator.is_some() {
        let mut info = entry(
            bare,
            Class::TempFile,
            Health::Ok,
            String::new(),
            facts,
            mappers,
        )?;
        info.creator = creator;
        return Ok(info);
    }
    let mut prefix = file::read_prefix(&file)?;
    if !decode::looks_like_object(&prefix) {
        let mut c_bare = crate::fallible::StackStr::<256>::new();
        let library_name =
            c_bare.push_bytes(bare.as_bytes()) && validate_name(c_bare.as_cstr()).is_ok();
        let (class, health, detail) = if facts.size == 0 {
            let d = try_string("empty file").map_err(no_mem)?;
            (Class::Foreign, Health::Foreign, d)
        } else if !library_name {
            let d = try_string("a name outside the library's rules ([A-Za-z0-9._-], 1-200)")
                .map_err(no_mem)?;
            (Class::Foreign, Health::Foreign, d)
        } else {
            (Class::Block, Health::Ok, String::new())
        };
        let mut info = entry(bare, class, health, detail, facts, mappers)?;
        info.creator = creator.filter(|_| class == Class::Block);
        return Ok(info);
    }
    let mut d = decode::decode(&prefix, facts.size, v).map_err(no_mem)?;
    if matches!(d.state, Some(State::SemUndo(_))) {
        let again = file::read_prefix(&file)?;
        keep_stable_holders(&mut d, &prefix, &again);
    } else {
        // A judgement of an owner is kept only if the object did not change while /proc
        // was consulted; otherwise look again, and in the end say "unknown".
        let judged = |d: &decode::Decoded| {
            d.state
                .as_ref()
                .and_then(State::rlock)
                .and_then(|r| r.owner)
                .is_some_and(|o| o.liveness != Liveness::Unknown)
        };
        let mut stable = !judged(&d);
        for _ in 0..STABLE_READS {
            if stable {
                break;
            }
            let again = file::read_prefix(&file)?;
            if again.len == prefix.len && again.bytes == prefix.bytes {
                stable = true;
            } else {
                prefix = again;
                d = decode::decode(&prefix, facts.size, v).map_err(no_mem)?;
                stable = !judged(&d);
            }
        }
        if !stable {
            unjudge(&mut d);
        }
    }
    let detail = match d.detail {
        decode::Detail::None => String::new(),
        why => try_format(format_args!("{why}")).map_err(no_mem)?,
    };
    let mut info = entry(bare, Class::Object, d.health, detail, facts, mappers)?;
    info.header = d.header;
    info.kind = d.kind;
    info.state = d.state;
    info.creator = creator;
    Ok(info)
}

/// Keeps the `/proc` judgement of an undo semaphore's holder only if its slot is the
/// same in `again`, a copy read after the judgement (a busy semaphore's value word
/// changes all the time; one holder's record does not while it holds).
fn keep_stable_holders(d: &mut decode::Decoded, first: &file::Prefix, again: &file::Prefix) {
    let Some(State::SemUndo(u)) = d.state.as_mut() else {
        return;
    };
    for h in &mut u.holders {
        let range = crate::raw::sem_undo::RawSemUndo::slot_bytes(h.slot as usize);
        let same = again.len >= range.end
            && first.bytes.get(range.clone()) == again.bytes.get(range.clone());
        if let Some(o) = h.owner.as_mut().filter(|_| h.state != HolderState::Dead) {
            if !same {
                o.liveness = Liveness::Unknown;
            }
        }
    }
    if d.health == Health::OwnerDead && !d.state.as_ref().is_some_and(State::owner_died) {
        d.health = Health::Ok;
    }
}

/// Replaces every owner judgement by "unknown" (and the verdict it caused).
fn unjudge(d: &mut decode::Decoded) {
    let fix = |r: &mut RLockState| {
        if let Some(o) = r.owner.as_mut() {
            o.liveness = Liveness::Unknown;
        }
    };
    match d.state.as_mut() {
        Some(State::RLock(r)) => fix(r),
        Some(State::Array { lock: Some(r), .. }) => fix(r),
        Some(State::Queue { lock: r, .. }) => fix(r),
        _ => {}
    }
    if d.health == Health::OwnerDead && !d.state.as_ref().is_some_and(State::owner_died) {
        d.health = Health::Ok;
    }
}

fn entry(
    bare: &str,
    class: Class,
    health: Health,
    detail: String,
    file: FileFacts,
    mappers: MappersOf<'_>,
) -> Result<ObjectInfo, InspectError> {
    let mappers = mappers(&file)?;
    Ok(ObjectInfo {
        name: crate::fallible::try_string(bare).map_err(no_mem)?,
        class,
        health,
        detail,
        file,
        header: None,
        kind: None,
        state: None,
        creator: None,
        mappers,
    })
}

/// Inspects the entry `name` (with or without a leading `/`). A file we may not read
/// is `Err(PermissionDenied)` here (a listing shows it as [`Health::Unreadable`]).
/// When memory is short: `Err(Io(ENOMEM))` (it never aborts).
pub fn inspect(name: &str) -> Result<ObjectInfo, InspectError> {
    let bare = bare_name(name)?;
    let mappers = |f: &FileFacts| Mappers::of_file(f.dev, f.ino, f.uid, f.mode);
    let info = inspect_with(bare, &mappers, Vantage::here())?;
    if info.health == Health::Unreadable {
        return Err(InspectError::PermissionDenied);
    }
    Ok(info)
}

/// Inspects every entry of the namespace, sorted by name. Entries that vanish while
/// we look are left out.
pub fn list() -> Result<Vec<ObjectInfo>, InspectError> {
    let dir = std::fs::read_dir(SHM_DIR).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => InspectError::NotFound,
        std::io::ErrorKind::PermissionDenied => InspectError::PermissionDenied,
        _ => InspectError::Io(e.raw_os_error().unwrap_or(0)),
    })?;
    let index = MapsIndex::scan();
    let mappers = |f: &FileFacts| Ok(index.mappers(f.dev, f.ino, f.uid, f.mode));
    let v = Vantage::here();
    let mut out = Vec::new();
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(bare) = name.to_str() else {
            // Not UTF-8: certainly not ours; described without being opened.
            if let Ok(m) = e.metadata() {
                let label = name.to_string_lossy().into_owned();
                let detail = "name is not UTF-8".to_string();
                let facts = FileFacts::of(&m);
                out.push(entry(
                    &label,
                    Class::Foreign,
                    Health::Foreign,
                    detail,
                    facts,
                    &mappers,
                )?);
            }
            continue;
        };
        // Entries that vanish while we look (or that cannot be looked at) are left out;
        // running out of memory ends the listing.
        match inspect_with(bare, &mappers, v) {
            Ok(info) => out.push(info),
            Err(InspectError::Io(libc::ENOMEM)) => return Err(InspectError::Io(libc::ENOMEM)),
            Err(_) => {}
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(bare_name("/abc"), Ok("abc"));
        assert_eq!(bare_name("a b@c"), Ok("a b@c"));
        for bad in ["", "/", ".", "..", "a/b", "//a", "a\0b"] {
            assert_eq!(bare_name(bad), Err(InspectError::InvalidName), "{bad:?}");
        }
        assert_eq!(bare_name(&"x".repeat(256)), Err(InspectError::InvalidName));
    }
}

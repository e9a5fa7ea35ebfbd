//! Shared mappings: anonymous (`fork`-inherited) and named (`/dev/shm/<name>`).
//!
//! Named objects use the POSIX shared-memory namespace exactly as glibc's
//! `shm_open` does (a file in `/dev/shm`), so names are shared with CPython's
//! `SharedMemory` and `mp_unlink` removes any of them.
//!
//! * [`names`]: name, flag and mode rules;
//! * [`registry`]: the private record of this process's mappings, and the address
//!   arena that makes every handle unique for the life of the process;
//! * [`map`]: descriptors, `mmap` into the arena, and unmapping on close;
//! * [`create`]: opening existing objects, and race-free creation that leaves nothing
//!   behind if the creator dies;
//! * [`block`]: CPython-compatible raw blocks (`mp_shm_t`);
//! * [`creator_names`]: names that record their creator (temporary files, the
//!   process-owned anonymous names), and the sweeps that remove those of creators
//!   that provably no longer exist.

pub(crate) mod block;
pub(crate) mod create;
pub(crate) mod creator_names;
pub(crate) mod map;
pub(crate) mod names;
pub(crate) mod registry;
mod spin_mutex;

pub(crate) use block::open_block;
#[cfg(test)]
pub(crate) use block::unique_block_name;
pub(crate) use create::{NamedSpec, open_named};
pub(crate) use map::{lookup, map_anonymous, mapping_len, place, unmap_live};
#[cfg(test)]
pub(crate) use names::SHM_DIR;
pub(crate) use names::validate_name;
pub(crate) use names::{FLAG_ANY_OWNER, FLAG_CREATE, FLAG_EXCL, NAME_MAX_LEN};
#[cfg(test)]
pub(crate) use registry::TEST_MAPPINGS;
pub(crate) use registry::{Content, Mapping, Place, block_name};

use std::ffi::CStr;

use crate::status::{MpResult, Status};
use crate::sys::errno;

/// Removes a name (`mp_unlink`). Existing mappings stay valid.
pub(crate) fn unlink_name(name: &CStr) -> MpResult<()> {
    let bare = validate_name(name)?;
    let path = names::path_of(bare)?;
    // SAFETY: valid NUL-terminated path.
    if unsafe { libc::unlink(path.as_cstr().as_ptr()) } != 0 {
        return Err(Status::from_errno(errno()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_guard() -> std::sync::RwLockReadGuard<'static, ()> {
        TEST_MAPPINGS.read().unwrap_or_else(|e| e.into_inner())
    }

    fn c(s: &str) -> std::ffi::CString {
        std::ffi::CString::new(s).unwrap()
    }

    /// Closes a mapping made here (as the ffi close paths do).
    fn close(addr: *mut u8) -> MpResult<()> {
        match place(addr as usize) {
            Place::Live(m) => unmap_live(addr as usize, m),
            _ => Err(Status::BadObj),
        }
    }

    #[test]
    fn closed_addresses_are_never_handed_out_again() {
        // Exclusive: without an arena (a tiny RLIMIT_AS), another test's new mapping
        // could take the closed address that is closed again below.
        let _g = TEST_MAPPINGS.write().unwrap_or_else(|e| e.into_inner());
        let lock = Content::Object(1);
        let p = map_anonymous(100, lock).unwrap();
        let m = lookup(p as usize).unwrap();
        assert_eq!((m.len, m.content), (100, lock));
        assert_eq!(place(p as usize), Place::Live(m));
        assert_eq!(place(p as usize + 8), Place::Foreign);
        assert_eq!(close(p), Ok(()));
        if m.in_arena {
            assert_eq!(place(p as usize), Place::Stale);
            // Many new mappings of the same size: none reuses the closed address.
            let again: Vec<_> = (0..64).map(|_| map_anonymous(100, lock).unwrap()).collect();
            assert!(again.iter().all(|&q| q != p));
            for q in again {
                close(q).unwrap();
            }
        }
        assert_eq!(close(p), Err(Status::BadObj));
        assert_eq!(map_anonymous(0, lock), Err(Status::Inval));
        let local = 0u64;
        assert_eq!(place(&local as *const u64 as usize), Place::Foreign);
    }

    #[test]
    fn fallback_creation_sweeps_dead_creators_temp_files() {
        let _g = shared_guard();
        // A creator that no longer exists: a reaped child's pid and a start time.
        let dead = crate::sys::test_util::reaped_child();
        let ns = std::fs::metadata("/proc/self/ns/pid").map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.ino()
        });
        let Ok(ns) = ns else {
            eprintln!("skipped: no /proc/self/ns/pid");
            return;
        };
        let me = std::process::id();
        let my_start = crate::sys::liveness::own_process_start_time().unwrap();
        let stale = format!(
            "{SHM_DIR}{}{dead}-{my_start}-{ns}-7",
            creator_names::TEMP_PREFIX
        );
        let live = format!(
            "{SHM_DIR}{}{me}-{my_start}-{ns}-999999",
            creator_names::TEMP_PREFIX
        );
        let other_ns = format!(
            "{SHM_DIR}{}{dead}-{my_start}-{}-7",
            creator_names::TEMP_PREFIX,
            ns + 1
        );
        for f in [&stale, &live, &other_ns] {
            std::fs::write(f, b"x").unwrap();
        }
        creator_names::sweep_stale_temps();
        assert!(
            std::fs::metadata(&stale).is_err(),
            "dead creator's file kept"
        );
        assert!(
            std::fs::metadata(&live).is_ok(),
            "live creator's file removed"
        );
        assert!(
            std::fs::metadata(&other_ns).is_ok(),
            "other namespace's file removed"
        );
        std::fs::remove_file(&live).unwrap();
        std::fs::remove_file(&other_ns).unwrap();

        // The fallback path itself publishes a full object and leaves no temporary.
        struct Spec;
        impl NamedSpec for Spec {
            fn content(&self) -> Content {
                Content::Block
            }
            fn create_size(&self) -> usize {
                5000
            }
            fn init(&self, base: *mut u8) -> MpResult<()> {
                // SAFETY: a fresh mapping of 5000 bytes.
                unsafe { *base.add(4999) = 7 };
                Ok(())
            }
            fn map_size(&self, n: usize) -> MpResult<usize> {
                Ok(n)
            }
            fn check(&self, _: *mut u8, _: usize) -> MpResult<()> {
                Ok(())
            }
        }
        let name = format!("mpsync-unit-{me}-fallback");
        let path = c(&format!("{SHM_DIR}{name}"));
        let o = create::create_with_temp_name(&path, 0o640, &Spec, Some(&name)).unwrap();
        assert!(o.created);
        let meta = std::fs::metadata(format!("{SHM_DIR}{name}")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!((meta.mode() & 0o777, meta.size()), (0o640, 5000));
        let prefix = format!("{}{me}-", creator_names::TEMP_PREFIX);
        assert!(
            std::fs::read_dir(SHM_DIR)
                .unwrap()
                .flatten()
                .all(|e| !e.file_name().to_string_lossy().starts_with(&prefix))
        );
        close(o.base).unwrap();
        unlink_name(&c(&name)).unwrap();
    }

    #[test]
    fn generated_block_names_look_like_cpython() {
        for _ in 0..20 {
            let n = unique_block_name();
            let n = n.as_str();
            assert_eq!(n.len(), 12, "{n}");
            assert!(n.starts_with("psm_"));
            assert!(
                n[4..]
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            assert!(validate_name(&c(n)).is_ok());
        }
    }

    #[test]
    fn blocks_get_the_exact_mode_and_size() {
        let _g = shared_guard();
        let name = format!("mpsync-unit-{}-blk", std::process::id());
        let cn = c(&name);
        let _ = unlink_name(&cn);
        let b = open_block(Some(&cn), FLAG_CREATE | FLAG_EXCL, 12289, 0o640).unwrap();
        let name_of = |base: *mut u8| {
            // SAFETY: the registry's name of a live block (the blocks stay open here).
            let n = block_name(base as usize).map(|p| unsafe { std::ffi::CStr::from_ptr(p) });
            n.and_then(|n| n.to_str().ok()).unwrap_or("").to_string()
        };
        assert!(b.opened.created);
        assert_eq!(
            (b.opened.len, name_of(b.opened.base)),
            (12289, name.clone())
        );
        let meta = std::fs::metadata(format!("{SHM_DIR}{name}")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!((meta.mode() & 0o7777, meta.size()), (0o640, 12289));
        // Opening ignores the size; MP_CREATE alone opens the existing block.
        let o = open_block(Some(&c(&format!("/{name}"))), FLAG_CREATE, 5, 0).unwrap();
        assert!(!o.opened.created);
        assert_eq!(
            (o.opened.len, name_of(o.opened.base)),
            (12289, name.clone())
        );
        assert_eq!(
            open_block(Some(&cn), FLAG_CREATE | FLAG_EXCL, 1, 0).map(|_| ()),
            Err(Status::Exist)
        );
        close(o.opened.base).unwrap();
        close(b.opened.base).unwrap();
        unlink_name(&cn).unwrap();
        assert_eq!(
            open_block(Some(&cn), 0, 1, 0).map(|_| ()),
            Err(Status::NoEnt)
        );
        // Arguments are checked before anything is created.
        assert_eq!(
            open_block(Some(&cn), FLAG_CREATE, 0, 0).map(|_| ()),
            Err(Status::Inval)
        );
        assert_eq!(open_block(None, 0, 10, 0).map(|_| ()), Err(Status::Inval));
        assert_eq!(
            open_block(Some(&cn), FLAG_CREATE, 10, 0o1777).map(|_| ()),
            Err(Status::Inval)
        );
        assert!(std::fs::metadata(format!("{SHM_DIR}{name}")).is_err());
    }

    #[test]
    fn empty_files_and_directories_are_not_blocks() {
        let _g = shared_guard();
        let name = format!("mpsync-unit-{}-odd", std::process::id());
        let path = format!("{SHM_DIR}{name}");
        std::fs::write(&path, b"").unwrap();
        assert_eq!(
            open_block(Some(&c(&name)), 0, 0, 0).map(|_| ()),
            Err(Status::BadObj)
        );
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert_eq!(
            open_block(Some(&c(&name)), FLAG_CREATE, 8, 0).map(|_| ()),
            Err(Status::BadObj)
        );
        std::fs::remove_dir(&path).unwrap();
    }
}

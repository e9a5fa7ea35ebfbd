//! `mp_inspect`, the C entry point of the inspection API, called as C would call it:
//! a held RLock (this process's own thread is the owner), a semaphore, a block, an
//! object of another layout version, and every argument error.

use std::ffi::CString;
use std::mem::size_of;

use mpsync::ffi::inspect::*;
use mpsync::ffi::{MP_EINVAL, MP_ENOENT, MP_OK};
use mpsync::{Deadline, OpenOptions, Outcome, RLock, Semaphore, SharedMemory, UndoSemaphore};

fn inspect(name: &str) -> (i32, mp_object_info) {
    let c = CString::new(name).unwrap();
    let mut info = mp_object_info::default();
    // SAFETY: valid string and a writable struct of the size given.
    let st = unsafe { mp_inspect(c.as_ptr(), &mut info, size_of::<mp_object_info>()) };
    (st, info)
}

struct Unlink(Vec<String>);
impl Drop for Unlink {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = std::fs::remove_file(format!("/dev/shm/{n}"));
        }
    }
}

#[test]
fn mp_inspect_describes_objects_blocks_and_bad_files() {
    let p = format!("mpsync-ffi-inspect-{}-", std::process::id());
    let names: Vec<String> = ["rl", "sem", "blk", "v1"]
        .iter()
        .map(|s| format!("{p}{s}"))
        .collect();
    let _cleanup = Unlink(names.clone());
    let create = OpenOptions::new().create(true).exclusive(true);

    let rl = RLock::open(&names[0], &create).unwrap();
    assert_eq!(rl.acquire_unguarded(Deadline::forever()), Ok(Outcome::Ok));
    assert_eq!(rl.acquire_unguarded(Deadline::forever()), Ok(Outcome::Ok));
    let (st, i) = inspect(&names[0]);
    assert_eq!(st, MP_OK);
    assert_eq!(i.info_version, MP_INFO_VERSION);
    assert_eq!(
        (i.entry_class, i.health, i.kind),
        (MP_CLASS_OBJECT, MP_HEALTH_OK, 2)
    );
    assert_eq!(
        (i.magic, i.layout_version, i.lifecycle),
        (0x4D50_5359, 4, 2)
    );
    assert_eq!((i.size, i.mode), (64, 0o600));
    assert_ne!(i.flags & MP_INFO_LOCKED, 0);
    assert_eq!(i.owner_pid, std::process::id());
    assert_eq!(i.count, 2);
    // Our own thread: alive (or unknown where /proc is another namespace's).
    assert!(matches!(
        i.owner_liveness,
        MP_LIVENESS_ALIVE | MP_LIVENESS_UNKNOWN
    ));
    rl.release().unwrap();
    rl.release().unwrap();
    let (_, i) = inspect(&format!("/{}", names[0]));
    assert_eq!(
        (i.flags & MP_INFO_LOCKED, i.owner_liveness, i.owner_pid),
        (0, MP_LIVENESS_NONE, 0)
    );

    let sem = Semaphore::open(&names[1], &create, 3, 5).unwrap();
    assert_eq!(sem.acquire_unguarded(Deadline::now()), Ok(Outcome::Ok));
    let (_, i) = inspect(&names[1]);
    assert_eq!((i.kind, i.value, i.max_value), (3, 2, 5));

    let blk = SharedMemory::open(&names[2], &create, 5000).unwrap();
    let (_, i) = inspect(&names[2]);
    assert_eq!(
        (i.entry_class, i.health, i.kind, i.size),
        (MP_CLASS_BLOCK, MP_HEALTH_OK, 0, 5000)
    );

    let mut v1 = vec![0u8; 64];
    v1[..4].copy_from_slice(&0x4D50_5359u32.to_ne_bytes());
    v1[4..8].copy_from_slice(&(1u32 | 1 << 8 | 2 << 16).to_ne_bytes());
    std::fs::write(format!("/dev/shm/{}", names[3]), &v1).unwrap();
    let (st, i) = inspect(&names[3]);
    assert_eq!(st, MP_OK);
    assert_eq!(
        (i.health, i.kind, i.layout_version),
        (MP_HEALTH_WRONG_VERSION, 1, 1)
    );

    // Argument errors.
    assert_eq!(inspect(&format!("{p}missing")).0, MP_ENOENT);
    assert_eq!(inspect("a/b").0, MP_EINVAL);
    assert_eq!(inspect("..").0, MP_EINVAL);
    let c = CString::new(names[1].as_str()).unwrap();
    let mut info = mp_object_info::default();
    // SAFETY: NULL and short sizes are refused before anything is written.
    unsafe {
        assert_eq!(
            mp_inspect(core::ptr::null(), &mut info, size_of::<mp_object_info>()),
            MP_EINVAL
        );
        assert_eq!(
            mp_inspect(
                c.as_ptr(),
                core::ptr::null_mut(),
                size_of::<mp_object_info>()
            ),
            MP_EINVAL
        );
        assert_eq!(
            mp_inspect(c.as_ptr(), &mut info, MP_OBJECT_INFO_SIZE - 1),
            MP_EINVAL
        );
    }
    assert_eq!(info.info_version, 0, "written on failure");
    drop((rl, sem, blk));
}

#[test]
fn mp_inspect_counts_an_undo_semaphores_live_dead_and_cached_units() {
    let name = format!("mpsync-ffi-inspect-{}-undo", std::process::id());
    let _cleanup = Unlink(vec![name.clone()]);
    let create = OpenOptions::new().create(true).exclusive(true);
    let sem = UndoSemaphore::open(&name, &create, 3, 3).unwrap();
    assert_eq!(sem.acquire_unguarded(Deadline::now()), Ok(Outcome::Ok));
    let (st, i) = inspect(&name);
    assert_eq!(st, MP_OK);
    assert_eq!((i.info_version, i.kind, i.size), (2, 8, 4160));
    assert_eq!(i.health, MP_HEALTH_OK);
    assert_eq!((i.value, i.max_value), (2, 3));
    assert_eq!(
        (i.held_units, i.dead_units, i.cached_units, i.holders),
        (1, 0, 0, 1)
    );
    assert_eq!(i.flags & MP_INFO_DEATHS, 0);

    // A child takes a unit and dies by SIGKILL holding it.
    // SAFETY: the child only calls async-signal-safe code and the library.
    let child = unsafe { libc::fork() };
    if child == 0 {
        let ok = sem.acquire_unguarded(Deadline::now()) == Ok(Outcome::Ok);
        // SAFETY: ends the child at once (holding the unit), or exits on failure.
        unsafe {
            if ok {
                libc::raise(libc::SIGKILL);
            }
            libc::_exit(1)
        };
    }
    let mut status = 0;
    // SAFETY: reaping our own child.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(libc::WIFSIGNALED(status), "the child failed to take a unit");
    let (_, i) = inspect(&name);
    assert_eq!(i.health, MP_HEALTH_OWNER_DEAD);
    assert_eq!(
        (i.value, i.held_units, i.dead_units, i.holders),
        (1, 1, 1, 2)
    );

    // Our release leaves the unit cached in our idle slot.
    sem.release().unwrap();
    let (_, i) = inspect(&name);
    assert_eq!((i.held_units, i.dead_units, i.cached_units), (0, 1, 1));
    assert_eq!(sem.value(), Ok(i.value + i.cached_units + i.dead_units));
}

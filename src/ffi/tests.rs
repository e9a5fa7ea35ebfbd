//! Tests of the C ABI that span several type families (a file that no other file of
//! the module imports, so that these tests add no import cycle).

use super::array::{mp_array_close, mp_array_len, mp_array_new, mp_array_t};
use super::conventions::MP_CREATE;
use super::library::mp_unlink;
use super::lock::{mp_lock_close, mp_lock_is_locked, mp_lock_new, mp_lock_t};
use super::shm::{mp_shm_close, mp_shm_name, mp_shm_open, mp_shm_size, mp_shm_t};
use super::status::{MP_EBUSY, MP_OK};
use crate::sys::shm::map::test_hold::pretend;

/// Every close path passes `MP_EBUSY` through, changing nothing, when the calling
/// thread holds a lock inside the mapping (pretended here: the real record lives in
/// `sys::robust`).
#[test]
#[cfg_attr(miri, ignore = "maps shared memory")]
fn close_of_a_mapping_with_a_held_lock_is_ebusy() {
    let mut l: *mut mp_lock_t = core::ptr::null_mut();
    let mut a: *mut mp_array_t = core::ptr::null_mut();
    let mut s: *mut mp_shm_t = core::ptr::null_mut();
    // SAFETY: valid out-pointers; each handle is used only while live.
    unsafe {
        assert_eq!(mp_lock_new(&mut l), MP_OK);
        assert_eq!(mp_array_new(b'i', 4, true, &mut a), MP_OK);
        assert_eq!(
            mp_shm_open(core::ptr::null(), MP_CREATE, 10, 0, &mut s),
            MP_OK
        );
        assert_eq!(mp_unlink(mp_shm_name(s)), MP_OK);
        pretend(l as usize);
        assert_eq!(mp_lock_close(l), MP_EBUSY);
        let mut locked = true;
        assert_eq!(mp_lock_is_locked(l, &mut locked), MP_OK);
        assert!(!locked);
        pretend(a as usize);
        assert_eq!(mp_array_close(a), MP_EBUSY);
        assert_eq!(mp_array_len(a), 4);
        pretend(s as usize);
        assert_eq!(mp_shm_close(s), MP_EBUSY);
        assert_eq!(mp_shm_size(s), 10);
        pretend(0);
        assert_eq!(mp_lock_close(l), MP_OK);
        assert_eq!(mp_array_close(a), MP_OK);
        assert_eq!(mp_shm_close(s), MP_OK);
    }
}

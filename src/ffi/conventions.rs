//! The constants that every C type family shares: the `*_open` flags, `MP_FOREVER` and
//! `MP_NAME_MAX`.

/// `flags` bit for `*_open`: create the object if the name does not exist.
pub const MP_CREATE: u32 = 1;
/// `flags` bit for `*_open`, with `MP_CREATE`: fail with `MP_EEXIST` if the name exists.
pub const MP_EXCL: u32 = 2;
/// `flags` bit for `*_open` (every kind, `mp_shm_open` included): accept an existing
/// object whose file is owned by another user. Without it, opening such an object
/// (with or without `MP_CREATE`) fails with `MP_EACCES`, for root too: whoever
/// created the name can rewrite the object's memory, including its lock words. Pass
/// it only when the object's owner is trusted, e.g. to share a block with a Python
/// process of another user.
pub const MP_ANY_OWNER: u32 = 16;
/// `flags` bit for every `*_open` (`mp_shm_open` included): report whether this call
/// created the object. With it, an open that creates the object (possible only with
/// `MP_CREATE`) returns `MP_CREATED` instead of `MP_OK`; one that opens an existing
/// object still returns `MP_OK`. Of processes that open one name with `MP_CREATE` at
/// the same time, exactly one gets `MP_CREATED`. Test success with `st >= 0` or
/// `st == MP_OK || st == MP_CREATED`. Without the bit, no call returns `MP_CREATED`.
pub const MP_REPORT_CREATED: u32 = 32;
/// `timeout_ms` value that waits forever (any negative value does).
pub const MP_FOREVER: i64 = -1;
/// Longest object name, not counting an optional leading `/`.
pub const MP_NAME_MAX: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::shm as os_shm;

    #[test]
    fn constants_match_the_core() {
        assert_eq!(MP_NAME_MAX, os_shm::NAME_MAX_LEN);
        assert_eq!(MP_CREATE, os_shm::FLAG_CREATE);
        assert_eq!(MP_EXCL, os_shm::FLAG_EXCL);
        assert_eq!(MP_ANY_OWNER, os_shm::FLAG_ANY_OWNER);
    }
}

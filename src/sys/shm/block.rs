//! Raw shared-memory blocks, compatible with CPython's `SharedMemory`: no header,
//! creation only sizes the file, and opening maps whatever size the file has.

use std::ffi::CStr;

use super::create::{NamedSpec, Opened, open_named};
use super::names::{FLAG_ANY_OWNER, FLAG_CREATE, FLAG_EXCL, effective_mode, validate_flags};
use super::registry::Content;
use crate::fallible::StackStr;
use crate::status::{MpResult, Status};
use crate::sys::random::random_u32;

/// Prefix of generated block names, as CPython's `_SHM_NAME_PREFIX`.
pub(crate) const BLOCK_NAME_PREFIX: &str = "psm_";

/// How many generated names `open_block` tries before giving up with `MP_EEXIST`
/// (CPython retries forever; 2^32 names make a collision streak this long
/// impossible in practice).
const BLOCK_NAME_ATTEMPTS: u32 = 1000;

/// A generated block name, on the stack.
pub(crate) type BlockName = StackStr<16>;

/// A fresh block name like CPython's: `psm_` and 8 random lowercase hex digits.
pub(crate) fn unique_block_name() -> BlockName {
    // 12 bytes fit; the fallback is unreachable.
    BlockName::format(format_args!("{BLOCK_NAME_PREFIX}{:08x}", random_u32()))
        .unwrap_or_else(BlockName::new)
}

/// A raw block of `size` bytes when created; an existing one is mapped whole, except
/// an empty file, which cannot be mapped (`MP_EBADOBJ`; CPython: "cannot mmap an
/// empty file").
struct BlockSpec {
    size: usize,
}

impl NamedSpec for BlockSpec {
    fn content(&self) -> Content {
        Content::Block
    }
    fn create_size(&self) -> usize {
        self.size
    }
    fn init(&self, _base: *mut u8) -> MpResult<()> {
        Ok(())
    }
    fn map_size(&self, file_size: usize) -> MpResult<usize> {
        if file_size == 0 || file_size > isize::MAX as usize {
            Err(Status::BadObj)
        } else {
            Ok(file_size)
        }
    }
    fn check(&self, _base: *mut u8, _len: usize) -> MpResult<()> {
        Ok(())
    }
}

/// A raw block opened by [`open_block`]. Its name (without a leading `/`, what
/// CPython's `SharedMemory.name` shows) is kept by the registry (`block_name`).
pub(crate) struct Block {
    /// The mapping (registered as a block, with its name; released by `close`).
    pub opened: Opened,
}

/// Opens (or with `MP_CREATE` creates) a raw shared-memory block at
/// `/dev/shm/<name>`, the file glibc's `shm_open("/<name>")` and CPython's
/// `SharedMemory(name)` use. With `name == None` (only with `MP_CREATE`) a fresh
/// `psm_XXXXXXXX` name is chosen, retrying on collisions.
///
/// Creating (`MP_CREATE`) requires `size > 0`; opening an existing block ignores
/// `size` and maps the whole file. Arguments are checked before anything is created.
pub(crate) fn open_block(
    name: Option<&CStr>,
    flags: u32,
    size: usize,
    mode: u32,
) -> MpResult<Block> {
    validate_flags(flags)?;
    effective_mode(mode)?;
    if flags & FLAG_CREATE != 0 && size == 0 {
        return Err(Status::Inval);
    }
    if size > isize::MAX as usize {
        return Err(Status::NoMem);
    }
    let spec = BlockSpec { size };
    match name {
        Some(name) => Ok(Block {
            opened: open_named(name, flags, mode, &spec)?,
        }),
        None if flags & FLAG_CREATE == 0 => Err(Status::Inval),
        None => {
            let flags = FLAG_CREATE | FLAG_EXCL | (flags & FLAG_ANY_OWNER);
            for _ in 0..BLOCK_NAME_ATTEMPTS {
                let bare = unique_block_name();
                match open_named(bare.as_cstr(), flags, mode, &spec) {
                    Err(Status::Exist) => continue,
                    Err(e) => return Err(e),
                    Ok(opened) => return Ok(Block { opened }),
                }
            }
            Err(Status::Exist)
        }
    }
}

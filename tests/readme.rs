//! The README's recipe for reading a named array from Python must leave the array in
//! place: before Python 3.13, attaching a `SharedMemory` registers it with the resource
//! tracker, which unlinks it when the interpreter exits, and the next `MP_CREATE` then
//! silently makes a fresh, zeroed array. This runs the README's Python block (the first
//! one after "A named array is the file") against a real named array and checks that
//! the array is still there, with its value, afterwards. Skipped where python3 is
//! missing.

use std::ffi::CString;
use std::path::PathBuf;
use std::process::Command;

use mpsync::ffi::MP_CREATE;
use mpsync::ffi::MP_EXCL;
use mpsync::ffi::array::{MP_TYPE_LONGLONG, mp_array_close, mp_array_open, mp_array_set};

fn python_block_after(readme: &str, marker: &str) -> String {
    let from = readme.find(marker).expect("README marker");
    let rest = &readme[from..];
    // The info string may carry tags after the language (see tests/docs_samples.rs).
    let fence = rest.find("```python").expect("a ```python block");
    let start = fence + rest[fence..].find('\n').expect("the fence line") + 1;
    let len = rest[start..].find("```").expect("end of the block");
    rest[start..start + len].to_string()
}

#[test]
fn readme_python_array_recipe_keeps_the_array() {
    if !Command::new("python3")
        .arg("-c")
        .arg("import multiprocessing.shared_memory")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!("SKIP readme_python_array_recipe_keeps_the_array: no python3");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let bare = format!("mpsync-readme-{}", std::process::id());
    let script = python_block_after(&readme, "A named array is the file")
        .replace("jobs-done", &bare)
        + "\nprint(n)\n";
    let name = CString::new(format!("/{bare}")).unwrap();

    let mut arr = core::ptr::null_mut();
    // SAFETY: a valid name and out-pointer; the handle is closed below.
    let st = unsafe {
        mp_array_open(
            name.as_ptr(),
            MP_CREATE | MP_EXCL,
            0,
            MP_TYPE_LONGLONG,
            1,
            true,
            &mut arr,
        )
    };
    assert_eq!(st, 0, "mp_array_open");
    let value: i64 = 42;
    // SAFETY: a live array of one long long; `value` is readable.
    assert_eq!(
        unsafe { mp_array_set(arr, 0, (&value as *const i64).cast()) },
        0
    );
    // SAFETY: a live handle, not used afterwards.
    assert_eq!(unsafe { mp_array_close(arr) }, 0);

    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the README recipe failed:\n{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "42", "the recipe read the wrong value");

    // After the interpreter exited, an opener (flags 0) still finds the array.
    let mut again = core::ptr::null_mut();
    // SAFETY: as above.
    let st = unsafe { mp_array_open(name.as_ptr(), 0, 0, MP_TYPE_LONGLONG, 1, true, &mut again) };
    // SAFETY: a valid NUL-terminated name.
    let _ = unsafe { mpsync::ffi::common::mp_unlink(name.as_ptr()) };
    assert_eq!(
        st, 0,
        "the array vanished after the README's Python recipe ran"
    );
    // SAFETY: a live handle, not used afterwards.
    assert_eq!(unsafe { mp_array_close(again) }, 0);
}

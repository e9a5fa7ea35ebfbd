//! The names that the commands for shell scripts (`create`, `acquire`, `release`,
//! `post`, `set`, `clear`, `wait`) accept: the library's object names. They are checked
//! before the command does anything, so that an invalid name is a usage error (exit 2)
//! for every one of these commands, as docs/cli.md says. Without the check, a command
//! that inspects the name before opening it (all but `create`) answered "no such name"
//! (exit 3) for an invalid name that does not exist: the inspection API accepts any
//! file name, not only the library's.

/// The library's rule (`mp_*_open` refuses anything else with `MP_EINVAL`): 1 to
/// [`mpsync::NAME_MAX`] bytes of `[A-Za-z0-9._-]`, optionally after one `/`, and
/// neither `.` nor `..`.
pub fn check(arg: &str) -> Result<(), String> {
    let bare = arg.strip_prefix('/').unwrap_or(arg);
    let chars_ok = bare
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if bare.is_empty() || bare.len() > mpsync::NAME_MAX || !chars_ok || bare == "." || bare == ".."
    {
        return Err(format!(
            "not an object name: 1 to {} bytes of A-Z a-z 0-9 . _ - (after an optional \
             leading /), neither . nor ..",
            mpsync::NAME_MAX
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_rule() {
        let longest = "x".repeat(mpsync::NAME_MAX);
        for ok in ["a", "/a", "deploy-lock", "a.b_c-1", longest.as_str()] {
            assert_eq!(check(ok), Ok(()), "{ok:?}");
        }
        let too_long = "x".repeat(mpsync::NAME_MAX + 1);
        for bad in [
            "",
            "/",
            "//a",
            ".",
            "..",
            "/..",
            "a b",
            "a%b",
            "a/b",
            "é",
            "a\nb",
            too_long.as_str(),
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
    }
}

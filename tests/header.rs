//! Header freshness: `include/mpsync.h` must be exactly what cbindgen generates from
//! the current sources, arranged by [`arrange`]. Run with `MPSYNC_BLESS=1` to rewrite it.
//!
//! cbindgen writes all constants, then all types, then all functions. [`arrange`]
//! regroups its declarations into one section per type, in the order a reader learns
//! them (Lock, RLock, Semaphore, Condition, Event, Barrier, Array, SharedMemory, then
//! status codes and version), each section under a short banner, with that type's
//! constants, types and functions in cbindgen's order. Declarations that belong to no
//! type (flags, `mp_status`, `mp_unlink`, and anything new that matches no section)
//! go to the first section, "Conventions".

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A section of the header: its banner text and the name prefixes of its declarations
/// (a name belongs to the first section with a prefix it starts with).
struct Section {
    banner: &'static str,
    prefixes: &'static [&'static str],
}

const SECTIONS: &[Section] = &[
    Section {
        banner: "Conventions: the status type, object-name flags, timeouts, names.",
        prefixes: &[],
    },
    Section {
        banner: "Lock (mp_lock_t): CPython's multiprocessing.Lock, a binary semaphore\n * without an owner: any thread of any process may release it.",
        prefixes: &["mp_lock_", "MP_LOCK_"],
    },
    Section {
        banner: "RLock (mp_rlock_t): multiprocessing.RLock, recursive, owned by one thread;\n * the death of its owner is reported to the next acquirer (MP_OWNER_DEAD).",
        prefixes: &["mp_rlock_", "MP_RLOCK_", "mp_robust_", "MP_ROBUST_"],
    },
    Section {
        banner: "Semaphore (mp_sem_t): multiprocessing.Semaphore and BoundedSemaphore; and\n * the undo semaphore (mp_sem_undo_t), whose units come back when their holder dies.",
        prefixes: &["mp_sem_", "MP_SEM_"],
    },
    Section {
        banner: "Condition (mp_cond_t): multiprocessing.Condition, used with an RLock or a Lock.",
        prefixes: &["mp_cond_", "MP_COND_"],
    },
    Section {
        banner: "Event (mp_event_t): multiprocessing.Event.",
        prefixes: &["mp_event_", "MP_EVENT_"],
    },
    Section {
        banner: "Barrier (mp_barrier_t): multiprocessing.Barrier.",
        prefixes: &["mp_barrier_", "MP_BARRIER_"],
    },
    Section {
        banner: "Array (mp_array_t): multiprocessing.Value, Array, RawValue and RawArray.",
        prefixes: &["mp_array_", "MP_ARRAY_", "mp_type", "MP_TYPE_"],
    },
    Section {
        banner: "SharedMemory (mp_shm_t): multiprocessing.shared_memory.SharedMemory.",
        prefixes: &["mp_shm_", "MP_SHM_"],
    },
    Section {
        banner: "Status codes: what every fallible call returns, and their names and messages.",
        // Plus every name of the status table (see `section_of`).
        prefixes: &["mp_strerror", "mp_status_name"],
    },
    Section {
        banner: "Version of this header (MP_VERSION*) and of the loaded library (mp_version*).",
        prefixes: &["MP_VERSION_", "mp_version"],
    },
];

const STATUS_SECTION: usize = 9;
const VERSION_SECTION: usize = 10;

/// The packed-version macro, which cbindgen cannot express; it ends the version
/// section's constants.
const MP_VERSION_MACRO: &str = "/**\n * This header's version packed as mp_version() returns the library's:\n * major << 16 | minor << 8 | patch.\n */\n#define MP_VERSION ((MP_VERSION_MAJOR << 16) | (MP_VERSION_MINOR << 8) | MP_VERSION_PATCH)";

/// What a declaration block declares: its kind (sorting key inside a section) and name.
fn declared(block: &str) -> (u8, String) {
    let last = block.lines().last().unwrap_or("").trim();
    if let Some(rest) = last.strip_prefix("#define ") {
        let name = rest.split_whitespace().next().unwrap_or("");
        return (0, name.to_string());
    }
    if last.starts_with('}') || last.starts_with("typedef ") {
        let name = last
            .trim_end_matches(';')
            .rsplit([' ', '}'])
            .next()
            .unwrap_or("");
        return (1, name.to_string());
    }
    let before_paren = &last[..last.find('(').unwrap_or(last.len())];
    let name = before_paren.rsplit([' ', '*']).next().unwrap_or("");
    (2, name.to_string())
}

fn section_of(name: &str) -> usize {
    let is_status = mpsync::Outcome::ALL.iter().any(|o| o.name() == name)
        || mpsync::Error::ALL.iter().any(|e| e.name() == name);
    if is_status {
        return STATUS_SECTION;
    }
    SECTIONS
        .iter()
        .position(|s| s.prefixes.iter().any(|p| name.starts_with(p)))
        .unwrap_or(0)
}

fn banner(text: &str) -> String {
    let rule = "=".repeat(86);
    format!("/* {rule}\n * {text}\n * {rule} */")
}

/// Regroups cbindgen's output (`header`, declarations, `trailer`) into sections.
fn arrange(generated: &str, header: &str, trailer: &str) -> String {
    let start = generated
        .find(header)
        .expect("cbindgen output starts with the header")
        + header.len();
    let end = generated
        .rfind(trailer)
        .expect("cbindgen output ends with the trailer");
    let body = &generated[start..end];

    let mut sections: Vec<Vec<(u8, usize, String)>> = vec![Vec::new(); SECTIONS.len()];
    for (order, block) in body.split("\n\n").map(str::trim).enumerate() {
        // cbindgen's own extern "C" wrapper is replaced by one around all sections.
        if block.is_empty() || block.contains("extern \"C\"") {
            continue;
        }
        let (kind, name) = declared(block);
        sections[section_of(&name)].push((kind, order, block.to_string()));
    }
    sections[VERSION_SECTION].push((0, usize::MAX, MP_VERSION_MACRO.to_string()));

    let mut out = String::new();
    out.push_str(generated[..start].trim_end());
    out.push_str("\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n");
    for (section, mut blocks) in SECTIONS.iter().zip(sections) {
        if blocks.is_empty() {
            continue;
        }
        blocks.sort_by_key(|&(kind, order, _)| (kind, order));
        out.push('\n');
        out.push_str(&banner(section.banner));
        out.push('\n');
        for (_, _, block) in blocks {
            out.push('\n');
            out.push_str(&block);
            out.push('\n');
        }
    }
    out.push_str("\n#ifdef __cplusplus\n}  /* extern \"C\" */\n#endif\n\n");
    out.push_str(generated[end..].trim_start());
    out
}

/// The crate with its macros expanded, which is what cbindgen reads: the in-place
/// objects' constants, structs and lifecycle entry points are written by `c_object!`
/// (src/ffi/c_object.rs), which cbindgen cannot see in the sources. The stable compiler
/// prints the expansion (`-Zunpretty=expanded`) under `RUSTC_BOOTSTRAP=1`, as
/// cargo-expand and cbindgen's own `parse.expand` do; only this child process sees it.
/// Its own target directory keeps it from waiting on the lock of the one `cargo test`
/// holds.
fn expanded_crate(crate_dir: &Path) -> PathBuf {
    let target = crate_dir.join("target/header-expand");
    let output = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .current_dir(crate_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .args([
            "rustc",
            "--quiet",
            "--lib",
            "--profile=check",
            "--target-dir",
        ])
        .arg(&target)
        .args(["--", "-Zunpretty=expanded"])
        .output()
        .expect("run cargo rustc");
    assert!(
        output.status.success(),
        "expanding the crate for cbindgen failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let file = target.join("mpsync-expanded.rs");
    std::fs::write(&file, &output.stdout).expect("write the expanded crate");
    file
}

#[test]
fn header_is_up_to_date() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let header = config.header.clone().expect("cbindgen.toml sets header");
    let trailer = config.trailer.clone().expect("cbindgen.toml sets trailer");
    let bindings = cbindgen::Builder::new()
        .with_src(expanded_crate(&crate_dir))
        .with_config(config)
        .generate()
        .expect("cbindgen failed");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let arranged = arrange(&generated, &header, &trailer);
    let path = crate_dir.join("include/mpsync.h");
    if std::env::var_os("MPSYNC_BLESS").is_some() {
        std::fs::write(&path, &arranged).expect("write header");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != arranged {
        panic!(
            "include/mpsync.h is stale: regenerate it with `MPSYNC_BLESS=1 cargo test --test header` and commit it"
        );
    }
}

/// Everything, the layout checks included, lies inside the include guard.
#[test]
fn everything_is_inside_the_include_guard() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(crate_dir.join("include/mpsync.h")).unwrap();
    let code: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let open = code
        .iter()
        .position(|l| *l == "#ifndef MPSYNC_H")
        .expect("guard");
    assert!(
        code[..open]
            .iter()
            .all(|l| l.starts_with("/*") || l.starts_with('*')),
        "only the opening comment may precede the include guard"
    );
    assert_eq!(code[open + 1], "#define MPSYNC_H");
    assert_eq!(
        *code.last().unwrap(),
        "#endif /* MPSYNC_H */",
        "the guard must close the file"
    );
}

/// Every function of the header appears in the thread/signal-safety table at its top
/// (by name, as `mp_T_suffix` for every type `T`, or as `prefix_*`): a new function
/// must be classified there.
#[test]
fn safety_table_covers_every_function() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(crate_dir.join("include/mpsync.h")).unwrap();
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("call ") || !l.contains(" MT ") || !l.contains(" AS"))
        .take_while(|l| !l.trim_start_matches([' ', '*']).starts_with('('))
        .collect();
    assert!(
        table.len() > 5,
        "no safety table found at the top of the header"
    );
    let entries: Vec<&str> = table
        .iter()
        .flat_map(|l| l.split([' ', ',', '(', ')']))
        .filter(|w| w.starts_with("mp_"))
        .collect();
    let covered = |f: &str| {
        entries.iter().any(|&e| {
            if let Some(prefix) = e.strip_suffix('*') {
                f.starts_with(prefix)
            } else if let Some(suffix) = e.strip_prefix("mp_T_") {
                // mp_T_new covers mp_lock_new, mp_rlock_new, ...: one word, then the suffix.
                f.strip_prefix("mp_")
                    .and_then(|rest| rest.split_once('_'))
                    .is_some_and(|(_, s)| s == suffix)
            } else {
                e == f
            }
        })
    };
    let functions = support::header_functions();
    let missing: Vec<&String> = functions.iter().filter(|f| !covered(f)).collect();
    assert!(
        missing.is_empty(),
        "functions missing from the thread/signal-safety table in cbindgen.toml's header: {missing:?}"
    );
}

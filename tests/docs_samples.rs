//! Every fenced code block of `README.md` and `docs/*.md` is checked, so that no sample
//! goes stale. A block's info string is its language, then optional tags:
//!
//! | info string | what this test does |
//! |---|---|
//! | `c` (has `int main(`) | compiles it (`-std=gnu11 -Wall -Wextra -Werror`), links it with the freshly built `libmpsync.so` and runs it: it must exit 0 |
//! | `c no-run` | a whole program that needs a partner (another process, an existing object): compiled and linked, not run |
//! | `c fragment` | statements: compiled (`-c`, same warnings) as the body of `mp_status sample(void)`, after `<mpsync.h>`, `<stdio.h>`, `<stdlib.h>`, `<string.h>` and the *context* |
//! | `cpp` | `-fsyntax-only -std=c++17 -Wall -Wextra -Werror` with `include/` (tests/cpp_tests.rs runs the README's C++ quick start) |
//! | `python` | run with `python3` from a scratch directory; skipped, with a message, when `import mpsync` fails |
//! | `python no-run` / `python fragment` | parsed only (`ast.parse`) |
//! | `rust` | only in a file that some `src/**.rs` includes as documentation (`#[doc = include_str!(...)]`), so that `cargo test --doc` runs it; checked here |
//! | `sh` | `sh -n` (syntax); docs/cli.md's script samples are run by cli/tests/cli.rs (`the_docs_shell_sample_runs_as_written`) |
//! | `console`, `text`, `cmake` | not checked (a transcript, a diagram, a build snippet) |
//!
//! Any other language fails the test, so a new kind of sample gets a rule here first.
//!
//! The context of a C fragment (the declarations of what it uses but does not declare:
//! file-scope variables, prototypes, types) is an HTML comment, invisible when rendered,
//! on the line right before the fence:
//!
//! ```text
//! <!-- context: mp_lock_t *lock; int64_t timeout_ms; -->
//! ```
//!
//! Runnable programs use names that start with `jobs-`: before running one, this test
//! replaces that prefix with one of its own, and removes `/dev/shm/<prefix>*` afterwards.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::{build_against_library, compiler, lib_dir, root, run_with_limit};

/// One fenced block: where it is, its language, its tags, its text and its context.
#[derive(Debug)]
struct Block {
    file: String,
    line: usize,
    lang: String,
    tags: Vec<String>,
    code: String,
    context: String,
}

impl Block {
    fn has(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
    fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

const TAGS: &[&str] = &["no-run", "fragment"];

/// The fenced blocks of one markdown file (fences at any indentation; the block ends at
/// the next fence line).
fn blocks_of(rel: &str) -> Vec<Block> {
    let text = std::fs::read_to_string(root().join(rel)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(info) = lines[i].trim_start().strip_prefix("```") else {
            i += 1;
            continue;
        };
        let indent = lines[i].len() - lines[i].trim_start().len();
        let mut words = info.split_whitespace();
        let lang = words.next().unwrap_or("").to_string();
        let tags: Vec<String> = words.map(str::to_string).collect();
        let start = i;
        let mut code = String::new();
        i += 1;
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            code.push_str(lines[i].get(indent..).unwrap_or(lines[i].trim_start()));
            code.push('\n');
            i += 1;
        }
        assert!(i < lines.len(), "{rel}:{}: unterminated block", start + 1);
        let context = start
            .checked_sub(1)
            .and_then(|p| lines[p].trim().strip_prefix("<!-- context:"))
            .and_then(|c| c.strip_suffix("-->"))
            .unwrap_or("")
            .trim()
            .to_string();
        out.push(Block {
            file: rel.to_string(),
            line: start + 1,
            lang,
            tags,
            code,
            context,
        });
        i += 1;
    }
    out
}

/// README.md and docs/*.md, in a fixed order.
fn markdown_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    files.sort();
    files.insert(0, "README.md".to_string());
    files
}

fn all_blocks() -> Vec<Block> {
    let blocks: Vec<Block> = markdown_files().iter().flat_map(|f| blocks_of(f)).collect();
    for b in &blocks {
        for t in &b.tags {
            assert!(TAGS.contains(&t.as_str()), "{}: unknown tag {t:?}", b.at());
        }
        assert!(
            b.context.is_empty() || b.has("fragment"),
            "{}: a context is only for a fragment",
            b.at()
        );
    }
    blocks
}

fn out_dir() -> PathBuf {
    let d = lib_dir().join("docs_samples");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A file name for a block: `README.md:126` -> `README_md_126`.
fn stem(b: &Block) -> String {
    format!("{}_{}", b.file.replace(['/', '.'], "_"), b.line)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn check(out: Output, what: &str, b: &Block) {
    assert!(
        out.status.success(),
        "{}: {what} failed:\n{}\n--- the sample ---\n{}",
        b.at(),
        String::from_utf8_lossy(&[out.stdout, out.stderr].concat()),
        b.code
    );
}

const C_WARNINGS: &[&str] = &["-Wall", "-Wextra", "-Werror"];

/// The `c` blocks: programs are built (and run unless `no-run`), fragments compiled.
#[test]
fn c_samples_compile_and_programs_run() {
    let dir = out_dir();
    let (mut programs, mut ran, mut fragments) = (0, 0, 0);
    for b in all_blocks().iter().filter(|b| b.lang == "c") {
        let whole = b.code.contains("int main(");
        assert_eq!(
            whole,
            !b.has("fragment"),
            "{}: a C block is either a whole program (with main) or tagged `fragment`",
            b.at()
        );
        let prefix = format!("mpsync-docs-{}-{}-", std::process::id(), b.line);
        if whole {
            let src = dir.join(format!("{}.c", stem(b)));
            std::fs::write(&src, b.code.replace("jobs-", &prefix)).unwrap();
            let exe = dir.join(stem(b));
            let mut cc = compiler(false);
            cc.arg("-std=gnu11").args(C_WARNINGS);
            let out = build_against_library(cc, &[], &src, &exe, &["-lpthread"]);
            check(out, "building the program", b);
            programs += 1;
            if !b.has("no-run") {
                println!("running {}", b.at());
                run_with_limit(&exe, std::time::Duration::from_secs(120));
                remove_names(&prefix);
                ran += 1;
            }
        } else {
            let src = dir.join(format!("{}.c", stem(b)));
            let mut text = String::from(
                "#include <mpsync.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n",
            );
            text += &format!(
                "{}\nmp_status sample(void);\nmp_status sample(void) {{\n",
                b.context
            );
            text += &format!("#line {} \"{}\"\n{}", b.line + 1, b.file, b.code);
            text += "    return MP_OK;\n}\n";
            std::fs::write(&src, text).unwrap();
            let mut cc = compiler(false);
            cc.args(["-std=gnu11", "-c"]).args(C_WARNINGS);
            cc.arg("-I").arg(root().join("include")).arg(&src);
            cc.arg("-o").arg(dir.join(format!("{}.o", stem(b))));
            check(run(&mut cc), "compiling the fragment", b);
            fragments += 1;
        }
    }
    println!("C samples: {programs} programs ({ran} run), {fragments} fragments");
    assert!(programs >= 2 && fragments >= 5);
}

/// Removes what a sample left under `prefix` in /dev/shm.
fn remove_names(prefix: &str) {
    for e in std::fs::read_dir("/dev/shm").unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with(prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The `cpp` blocks compile.
#[test]
fn cpp_samples_compile() {
    let dir = out_dir();
    let mut n = 0;
    for b in all_blocks().iter().filter(|b| b.lang == "cpp") {
        let src = dir.join(format!("{}.cpp", stem(b)));
        std::fs::write(&src, &b.code).unwrap();
        let mut cxx = compiler(true);
        cxx.args(["-std=c++17", "-fsyntax-only"]).args(C_WARNINGS);
        cxx.arg("-I").arg(root().join("include")).arg(&src);
        check(run(&mut cxx), "compiling", b);
        n += 1;
    }
    println!("C++ samples: {n} compiled");
    assert!(n >= 1);
}

fn python3(args: &[&str], stdin: &str, cwd: &Path) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new("python3")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The `python` blocks parse; whole ones run when the `mpsync` package is importable.
#[test]
fn python_samples_parse_and_run() {
    if Command::new("python3").arg("-V").output().is_err() {
        println!("SKIP python_samples_parse_and_run: no python3");
        return;
    }
    let dir = out_dir();
    let have_mpsync = python3(&["-c", "import mpsync"], "", &dir).status.success();
    let (mut parsed, mut ran, mut skipped) = (0, 0, Vec::new());
    for b in all_blocks().iter().filter(|b| b.lang == "python") {
        let out = python3(
            &["-c", "import ast, sys; ast.parse(sys.stdin.read())"],
            &b.code,
            &dir,
        );
        check(out, "parsing as Python", b);
        parsed += 1;
        if b.has("no-run") || b.has("fragment") {
            continue;
        }
        if !have_mpsync {
            skipped.push(b.at());
            continue;
        }
        let prefix = format!("mpsync-docs-{}-{}-", std::process::id(), b.line);
        let out = python3(&["-"], &b.code.replace("jobs-", &prefix), &dir);
        remove_names(&prefix);
        check(out, "running the sample", b);
        ran += 1;
    }
    println!("Python samples: {parsed} parsed, {ran} run");
    if !skipped.is_empty() {
        println!(
            "SKIP running {skipped:?}: `import mpsync` fails in this python3; install the \
             package (e.g. `pip install ./python`) and run `cargo test --test docs_samples` again"
        );
    }
    assert!(parsed >= 5);
}

/// Every file with `rust` blocks is documentation of some module, so doc tests run
/// them; shell blocks are valid `sh`; no block is in an unknown language.
#[test]
fn rust_blocks_are_doc_tested_and_shell_blocks_parse() {
    let mut sources = String::new();
    let mut stack = vec![root().join("src")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                sources += &std::fs::read_to_string(&p).unwrap();
            }
        }
    }
    let mut shell = 0;
    for b in all_blocks() {
        match b.lang.as_str() {
            "c" | "cpp" | "python" | "console" | "text" | "cmake" => {}
            "rust" => {
                let name = Path::new(&b.file).file_name().unwrap().to_string_lossy();
                assert!(
                    sources.contains(&format!("#[doc = include_str!(\"../../{}\")]", b.file))
                        || sources.contains(&format!("#![doc = include_str!(\"../{}\")]", b.file)),
                    "{}: a Rust sample in {name}, which no module includes as its \
                     documentation: cargo test --doc would not run it",
                    b.at()
                );
            }
            "sh" => {
                let out = Command::new("sh")
                    .args(["-n", "-c", &b.code])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}: sh -n:\n{}",
                    b.at(),
                    String::from_utf8_lossy(&out.stderr)
                );
                shell += 1;
            }
            other => panic!(
                "{}: a ```{other} block: give it a rule in tests/docs_samples.rs",
                b.at()
            ),
        }
    }
    println!("shell samples: {shell} parsed");
}

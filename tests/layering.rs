//! The crate's layering, checked from the source text of every `src/**/*.rs`:
//!
//! 1. no import cycle among the files of any one layer (`src/sys`, `src/raw`, `src/api`,
//!    `src/inspect`, `src/ffi`; a cycle is reported with its path and the import behind
//!    each step). What makes a cycle impossible: a `mod.rs` only declares modules and
//!    re-exports (and holds docs); every item a sibling needs is defined in a leaf file
//!    and imported from that file by path (`use super::error::Error`), never through the
//!    parent's re-export;
//! 2. ranks: `status.rs`, `fallible.rs` (leaves) < `sys` < `raw` < `api`, `inspect`
//!    (the core; `lib.rs`, which re-exports `api`, ranks with it) < `ffi` (the face).
//!    No file imports a file of a higher rank, except the pairs of layers listed in
//!    [`KNOWN_UPWARD_IMPORTS`].
//!
//! # What the parser recognises
//!
//! It is deliberately not a Rust parser. Comments, string literals and character
//! literals are blanked first; the rest is split into identifiers, `::` and single
//! punctuation characters. Then it collects, in every module of the file (inline
//! modules such as `#[cfg(test)] mod tests { ... }` included, whatever their `cfg`):
//!
//! * `use` declarations, with `{...}` groups expanded (`use super::{a, b::{c, self}}`
//!   is three paths; `as` renames are dropped), whose first segment is `crate`,
//!   `super` (repeated or not), `self`, or the name of a child module that has its own
//!   file (an edition-2018 relative path such as `use block::open_block;` in
//!   `shm/mod.rs`);
//! * paths written inline in code that start with `crate::`, `super::` or `self::`
//!   (`super::shm::registry::lock_for_fork()`); `$crate::` in macros is not one.
//!
//! A path names the deepest file module that is a prefix of it (`crate::sys::shm::
//! registry::Content` is `src/sys/shm/registry.rs`; an item of an inline module is in
//! the inline module's file). So an import through a re-export counts as an import of
//! the re-exporting file: a module's children must import their siblings directly, not
//! through their parent's `mod.rs`. `super` counts from the module the path is written
//! in (inside `mod tests`, `super` is the file itself). Other paths (`core`, `std`,
//! `libc`, relative paths through names brought in by a `use`) add nothing that the
//! `use` did not. `mod` declarations, `#[path]`, `include!` and macro-generated paths are
//! not seen.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Upward imports excused while a layering change is in progress, as `(importing
/// layer, imported layer)`. Empty: the safe core (`api`) no longer wraps the C ABI, and
/// `inspect` takes sizes from `raw`. The test prints the files each pair excuses; an
/// entry that excuses nothing fails it (remove the entry).
const KNOWN_UPWARD_IMPORTS: &[(&str, &str)] = &[];

/// The layers, lowest first: `(layer, rank)`. A file's layer is its first path
/// component under `src/` (`sys/shm/map.rs` is in `sys`), or its file name at the top.
const LAYERS: &[(&str, u8)] = &[
    ("status.rs", 0),
    ("fallible.rs", 0),
    ("sys", 1),
    ("raw", 2),
    ("api", 3),
    ("inspect", 3),
    ("lib.rs", 3),
    ("ffi", 4),
];

/// The layers whose files must not import one another in a cycle: every layer with
/// more than one file.
const ACYCLIC_LAYERS: &[&str] = &["sys", "raw", "api", "inspect", "ffi"];

// ---------------------------------------------------------------------------------------
// Reading the sources
// ---------------------------------------------------------------------------------------

/// One import: the importing file, the line, the path as written, and the file it names.
#[derive(Clone, Debug)]
struct Import {
    from: String,
    line: usize,
    path: String,
    to: String,
}

/// Every `.rs` file under `dir`, as paths relative to `src/` with `/` separators.
fn rust_files(src: &Path, dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(src, &p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(src).unwrap();
            out.push(rel.to_str().unwrap().replace('\\', "/"));
        }
    }
}

/// The module path of a file: `lib.rs` is `[]`, `sys/mod.rs` is `[sys]`,
/// `sys/shm/map.rs` is `[sys, shm, map]`.
fn module_of(file: &str) -> Vec<String> {
    let stem = file.strip_suffix(".rs").unwrap();
    let mut parts: Vec<String> = stem.split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// `text` with comments, string literals and character literals replaced by spaces
/// (newlines kept, so that line numbers stay right).
fn blank_non_code(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && is_ident(c[i - 1]);
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (!prev_ident || (i == 1 || !is_ident(c[i - 2])) && c[i - 1] == 'b')
            && matches!(c.get(i + 1), Some('#' | '"'))
        {
            // A raw string r"..." or r#"..."# (also br"...").
            let mut j = i + 1;
            while c.get(j) == Some(&'#') {
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                // `r#ident`: a raw identifier.
                out.push(c[i]);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            out.push('r');
            for _ in 0..=hashes {
                out.push(' ');
            }
            i = j + 1;
            while i < c.len() {
                if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += hashes + 1;
                    break;
                }
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '"' {
            i = blank_quoted(&c, i, &mut out);
        } else if c[i] == '\'' && c.get(i + 1) == Some(&'\\') {
            // An escaped character literal: '\n', '\'', '\u{1F600}'.
            i = blank_quoted(&c, i, &mut out);
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            // A plain character literal 'x' (a lifetime `'a` has no closing quote).
            out.push_str("   ");
            i += 3;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// A blank in place of `ch` (a newline stays, so that line numbers do not move).
fn blank(out: &mut String, ch: char) {
    out.push(if ch == '\n' { '\n' } else { ' ' });
}

/// Blanks the literal opened by the quote at `c[i]` (a string, or a character literal
/// with an escape) up to its closing quote, a backslash escaping the character after it;
/// returns the index after the closing quote.
fn blank_quoted(c: &[char], mut i: usize, out: &mut String) -> usize {
    let quote = c[i];
    out.push(' ');
    i += 1;
    while i < c.len() && c[i] != quote {
        if c[i] == '\\' {
            blank(out, c[i]);
            i += 1;
        }
        if i < c.len() {
            blank(out, c[i]);
            i += 1;
        }
    }
    out.push(' ');
    i + 1
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

/// Splits blanked code into `(token, line)`. `$crate` is one identifier (so that it is
/// not taken for `crate`).
fn tokens(code: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphanumeric() || ch == '_' || ch == '$' {
            let start = i;
            i += 1;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// Expands the use tree at `toks[*i..]` (after `use`, up to but not including `;`)
/// into full paths, each prefixed with `prefix`.
fn use_tree(toks: &[(Tok, usize)], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(*i).map(|t| &t.0) {
            Some(Tok::Ident(s)) => {
                path.push(s.clone());
                *i += 1;
                match toks.get(*i).map(|t| &t.0) {
                    Some(Tok::PathSep) => *i += 1,
                    Some(Tok::Ident(kw)) if kw == "as" => {
                        *i += 2; // `as name`
                        out.push(path);
                        return;
                    }
                    _ => {
                        out.push(path);
                        return;
                    }
                }
            }
            Some(Tok::Punct('{')) => {
                *i += 1;
                loop {
                    match toks.get(*i).map(|t| &t.0) {
                        Some(Tok::Punct('}')) => {
                            *i += 1;
                            return;
                        }
                        Some(Tok::Punct(',')) => *i += 1,
                        None => return,
                        _ => use_tree(toks, i, &path, out),
                    }
                }
            }
            Some(Tok::Punct('*')) => {
                *i += 1;
                out.push(path);
                return;
            }
            _ => {
                out.push(path);
                return;
            }
        }
    }
}

/// Where `path` (as written in module `module` of a file) points: the full module path
/// it names from the crate root, or `None` for a path outside the crate.
fn absolute(
    path: &[String],
    module: &[String],
    in_use: bool,
    files: &BTreeMap<Vec<String>, String>,
) -> Option<Vec<String>> {
    let first = path.first()?.as_str();
    let mut full: Vec<String> = match first {
        "crate" => Vec::new(),
        "self" => module.to_vec(),
        "super" => {
            let mut base = module.to_vec();
            let mut rest = path;
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
            base.extend(rest.iter().filter(|s| *s != "self").cloned());
            return Some(base);
        }
        _ => {
            let mut child = module.to_vec();
            child.push(first.to_string());
            if in_use && files.contains_key(&child) {
                module.to_vec()
            } else {
                return None;
            }
        }
    };
    let skip = usize::from(first == "crate" || first == "self");
    full.extend(path[skip..].iter().filter(|s| *s != "self").cloned());
    Some(full)
}

/// The file of the deepest file module that is a prefix of `full`.
fn file_of(full: &[String], files: &BTreeMap<Vec<String>, String>) -> String {
    (0..=full.len())
        .rev()
        .find_map(|k| files.get(&full[..k]))
        .expect("the crate root is a file")
        .clone()
}

/// Every import of `file` (whose text is `text`) that names another file of the crate.
fn imports_of(file: &str, text: &str, files: &BTreeMap<Vec<String>, String>) -> Vec<Import> {
    let toks = tokens(&blank_non_code(text));
    let file_module = module_of(file);
    // Inline modules open here: (name, brace depth outside them).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut out = Vec::new();
    let mut add = |path: &[String], line: usize, module: &[String], in_use: bool| {
        if let Some(full) = absolute(path, module, in_use, files) {
            let to = file_of(&full, files);
            if to != file {
                out.push(Import {
                    from: file.to_string(),
                    line,
                    path: path.join("::"),
                    to,
                });
            }
        }
    };
    let mut i = 0;
    while i < toks.len() {
        let module: Vec<String> = file_module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(n, _)| n.clone()))
            .collect();
        let (tok, line) = (&toks[i].0, toks[i].1);
        match tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth -= 1;
                if inline.last().is_some_and(|&(_, d)| d == depth) {
                    inline.pop();
                }
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let (Some((Tok::Ident(name), _)), Some((Tok::Punct('{'), _))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    inline.push((name.clone(), depth));
                    depth += 1;
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(kw) if kw == "use" => {
                let mut j = i + 1;
                let mut paths = Vec::new();
                use_tree(&toks, &mut j, &[], &mut paths);
                for p in paths {
                    add(&p, line, &module, true);
                }
                while j < toks.len() && toks[j].0 != Tok::Punct(';') {
                    j += 1;
                }
                i = j + 1;
                continue;
            }
            Tok::Ident(kw)
                if matches!(kw.as_str(), "crate" | "super" | "self")
                    && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::PathSep) =>
            {
                let mut path = vec![kw.clone()];
                let mut j = i + 1;
                while let (Some((Tok::PathSep, _)), Some((Tok::Ident(s), _))) =
                    (toks.get(j), toks.get(j + 1))
                {
                    path.push(s.clone());
                    j += 2;
                }
                add(&path, line, &module, false);
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Every file of the crate (relative to `src/`), and every import between two of them,
/// in file order.
fn crate_sources() -> (Vec<String>, Vec<Import>) {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut names = Vec::new();
    rust_files(&src, &src, &mut names);
    let files: BTreeMap<Vec<String>, String> =
        names.iter().map(|f| (module_of(f), f.clone())).collect();
    let imports = names
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(src.join(f)).unwrap();
            imports_of(f, &text, &files)
        })
        .collect();
    (names, imports)
}

// ---------------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------------

/// The layer of a file (see [`LAYERS`]).
fn layer(file: &str) -> &str {
    match file.split_once('/') {
        Some((dir, _)) => dir,
        None => file,
    }
}

fn rank(file: &str) -> u8 {
    let l = layer(file);
    LAYERS
        .iter()
        .find(|(name, _)| *name == l)
        .unwrap_or_else(|| panic!("src/{file}: layer `{l}` has no rank: add it to LAYERS"))
        .1
}

fn describe(i: &Import) -> String {
    format!("src/{}:{}: `{}` -> src/{}", i.from, i.line, i.path, i.to)
}

/// A cycle among `nodes` over `edges` (each edge with the import behind it), as the
/// list of imports along it; `None` if there is none.
fn find_cycle<'a>(
    nodes: &BTreeSet<&'a str>,
    edges: &BTreeMap<&'a str, Vec<&'a Import>>,
) -> Option<Vec<&'a Import>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    fn visit<'a>(
        n: &'a str,
        edges: &BTreeMap<&'a str, Vec<&'a Import>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        stack: &mut Vec<&'a Import>,
    ) -> Option<Vec<&'a Import>> {
        marks.insert(n, Mark::OnStack);
        for &e in edges.get(n).into_iter().flatten() {
            match marks[e.to.as_str()] {
                Mark::OnStack => {
                    stack.push(e);
                    let start = stack.iter().position(|s| s.from == e.to).unwrap();
                    return Some(stack[start..].to_vec());
                }
                Mark::New => {
                    stack.push(e);
                    if let Some(c) = visit(e.to.as_str(), edges, marks, stack) {
                        return Some(c);
                    }
                    stack.pop();
                }
                Mark::Done => {}
            }
        }
        marks.insert(n, Mark::Done);
        None
    }
    let mut marks: BTreeMap<&str, Mark> = nodes.iter().map(|&n| (n, Mark::New)).collect();
    for &n in nodes {
        if marks[n] == Mark::New {
            if let Some(c) = visit(n, edges, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// `nodes` in an order where every file comes after the files it imports (the graph
/// has no cycle).
fn dependency_order<'a>(
    nodes: &BTreeSet<&'a str>,
    edges: &BTreeMap<&'a str, Vec<&'a Import>>,
) -> Vec<&'a str> {
    let mut done: Vec<&str> = Vec::new();
    while done.len() < nodes.len() {
        let before = done.len();
        for &n in nodes {
            let ready = edges
                .get(n)
                .into_iter()
                .flatten()
                .all(|e| done.contains(&e.to.as_str()));
            if !done.contains(&n) && ready {
                done.push(n);
            }
        }
        assert!(
            done.len() > before,
            "dependency_order: the graph has a cycle"
        );
    }
    done
}

/// No import cycle among the files of any layer of [`ACYCLIC_LAYERS`]; for each, prints
/// its files in dependency order with the files each imports.
#[test]
fn no_import_cycle_within_any_layer() {
    let (files, imports) = crate_sources();
    let mut failures = Vec::new();
    for &l in ACYCLIC_LAYERS {
        let inside = |f: &str| layer(f) == l;
        let within: Vec<&Import> = imports
            .iter()
            .filter(|i| inside(&i.from) && inside(&i.to))
            .collect();
        let nodes: BTreeSet<&str> = files
            .iter()
            .map(String::as_str)
            .filter(|f| inside(f))
            .collect();
        let mut edges: BTreeMap<&str, Vec<&Import>> = BTreeMap::new();
        for i in &within {
            edges.entry(i.from.as_str()).or_default().push(i);
        }
        for e in edges.values_mut() {
            // One edge per imported file (the first import of it, by line).
            e.sort_by_key(|i| (i.to.as_str(), i.line));
            e.dedup_by(|a, b| a.to == b.to);
        }
        match find_cycle(&nodes, &edges) {
            Some(cycle) => {
                let steps: Vec<String> = cycle.iter().map(|i| describe(i)).collect();
                failures.push(format!(
                    "import cycle among the files of src/{l}:\n  {}",
                    steps.join("\n  ")
                ));
            }
            None => {
                println!(
                    "src/{l}: {} files, {} imported paths between them, no cycle. Each \
                     file imports only files listed before it:",
                    nodes.len(),
                    within.len()
                );
                for n in dependency_order(&nodes, &edges) {
                    let mut to: Vec<&str> = edges
                        .get(n)
                        .into_iter()
                        .flatten()
                        .map(|e| e.to.as_str())
                        .collect();
                    to.sort();
                    println!(
                        "  {n}{}{}",
                        if to.is_empty() { "" } else { " -> " },
                        to.join(", ")
                    );
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_file_imports_a_higher_layer() {
    let (_, imports) = crate_sources();
    let mut violations = Vec::new();
    // Per excused pair of layers: the file pairs it excuses, with the first import's
    // line and the number of imported paths.
    type FilePairs<'a> = BTreeMap<(&'a str, &'a str), (usize, usize)>;
    let mut excused: BTreeMap<(&str, &str), FilePairs> = KNOWN_UPWARD_IMPORTS
        .iter()
        .map(|&pair| (pair, BTreeMap::new()))
        .collect();
    for i in &imports {
        if rank(&i.to) <= rank(&i.from) {
            continue;
        }
        match excused.get_mut(&(layer(&i.from), layer(&i.to))) {
            Some(files) => {
                files
                    .entry((i.from.as_str(), i.to.as_str()))
                    .or_insert((i.line, 0))
                    .1 += 1
            }
            None => violations.push(describe(i)),
        }
    }
    println!("KNOWN_UPWARD_IMPORTS (known upward imports being removed by the layering work):");
    for ((from, to), files) in &excused {
        println!("  {from} -> {to}: {} files import {to}", files.len());
        for ((f, t), (line, n)) in files {
            println!(
                "    src/{f}:{line} -> src/{t} ({n} path{})",
                if *n == 1 { "" } else { "s" }
            );
        }
    }
    let stale: Vec<String> = excused
        .iter()
        .filter(|(_, files)| files.is_empty())
        .map(|((from, to), _)| format!("({from:?}, {to:?})"))
        .collect();
    assert!(
        violations.is_empty(),
        "imports of a higher layer (ranks: {LAYERS:?}):\n  {}",
        violations.join("\n  ")
    );
    assert!(
        stale.is_empty(),
        "KNOWN_UPWARD_IMPORTS excuses imports that no longer exist; remove {}",
        stale.join(", ")
    );
}

/// The parser finds what its documentation says, and nothing in comments or strings.
#[test]
fn the_parser_sees_what_it_documents() {
    let files: BTreeMap<Vec<String>, String> = [
        "lib.rs",
        "sys/mod.rs",
        "sys/a.rs",
        "sys/b.rs",
        "sys/c/mod.rs",
        "sys/c/d.rs",
        "raw/mod.rs",
    ]
    .iter()
    .map(|f| (module_of(f), f.to_string()))
    .collect();
    let text = r##"
        //! `crate::raw::x` in a comment, /* crate::raw */ too.
        use super::b::{self, Thing};
        use core::sync::atomic::AtomicU8;
        pub(crate) use d::{X, Y as Z};
        const S: &str = "crate::raw::y";
        const R: &str = r#"super::raw"#;
        const Q: char = '"';
        fn f<'a>(x: &'a u8) { crate::sys::c::d::g(); $crate::raw::h(); }
        #[cfg(test)]
        mod tests {
            use super::*;
            use super::super::mod_item;
            fn t() { crate::raw::test_util::wait(); }
        }
        fn after() { super::super::Lock::new(); }
    "##;
    let found: Vec<(usize, String, String)> = imports_of("sys/c/mod.rs", text, &files)
        .into_iter()
        .map(|i| (i.line, i.path, i.to))
        .collect();
    let want = [
        (3, "super::b::self", "sys/b.rs"),
        (3, "super::b::Thing", "sys/b.rs"),
        (5, "d::X", "sys/c/d.rs"),
        (5, "d::Y", "sys/c/d.rs"),
        (9, "crate::sys::c::d::g", "sys/c/d.rs"),
        (13, "super::super::mod_item", "sys/mod.rs"),
        (14, "crate::raw::test_util::wait", "raw/mod.rs"),
        (16, "super::super::Lock::new", "lib.rs"),
    ];
    let want: Vec<(usize, String, String)> = want
        .iter()
        .map(|&(l, p, t)| (l, p.to_string(), t.to_string()))
        .collect();
    assert_eq!(found, want);
}

/// A cycle is reported as the imports along it, whatever file the search starts from.
#[test]
fn a_cycle_is_reported_step_by_step() {
    let import = |from: &str, line: usize, to: &str| Import {
        from: from.to_string(),
        line,
        path: format!("crate::{}", to.trim_end_matches(".rs").replace('/', "::")),
        to: to.to_string(),
    };
    let imports = [
        import("sys/a.rs", 1, "sys/b.rs"),
        import("sys/b.rs", 2, "sys/c.rs"),
        import("sys/b.rs", 3, "sys/d.rs"),
        import("sys/c.rs", 4, "sys/b.rs"),
    ];
    let nodes: BTreeSet<&str> = ["sys/a.rs", "sys/b.rs", "sys/c.rs", "sys/d.rs"].into();
    let mut edges: BTreeMap<&str, Vec<&Import>> = BTreeMap::new();
    for i in &imports {
        edges.entry(i.from.as_str()).or_default().push(i);
    }
    let cycle: Vec<String> = find_cycle(&nodes, &edges)
        .expect("b -> c -> b")
        .iter()
        .map(|i| describe(i))
        .collect();
    assert_eq!(
        cycle,
        [
            "src/sys/b.rs:2: `crate::sys::c` -> src/sys/c.rs",
            "src/sys/c.rs:4: `crate::sys::b` -> src/sys/b.rs",
        ]
    );
    edges.remove("sys/c.rs");
    assert!(find_cycle(&nodes, &edges).is_none());
    assert_eq!(
        dependency_order(&nodes, &edges),
        ["sys/c.rs", "sys/d.rs", "sys/b.rs", "sys/a.rs"]
    );
}

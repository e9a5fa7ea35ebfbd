//! Which names a listing keeps: `--prefix P` (names that start with P's bytes) and
//! `--glob G` (names that G matches as a whole, shell-style), both on the name's exact
//! bytes, so that any name can be selected, also one that is not UTF-8.
//!
//! Glob syntax, as in the shell (`fnmatch` without flags): `*` matches any run of
//! characters, also none and also a leading `.`; `?` matches one character; `[abc]`,
//! `[a-z]` one character of the set, `[!a-z]` or `[^a-z]` one outside it (a `]` right
//! after `[` or `[!` is a member); `\x` matches `x` itself. A character is one UTF-8
//! character of the name, or one byte of it that is not valid UTF-8 (which `\377`-style
//! escapes show); a `[` without its `]` is itself. Written here rather than taken from
//! libc's `fnmatch`, whose idea of a character depends on the locale.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// One unit of a name or pattern: a UTF-8 character, or a byte that is not UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Char(char),
    Byte(u8),
}

fn units(bytes: &[u8]) -> Vec<Unit> {
    let mut out = Vec::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.extend(chunk.valid().chars().map(Unit::Char));
        out.extend(chunk.invalid().iter().map(|&b| Unit::Byte(b)));
    }
    out
}

/// A parsed glob pattern.
#[derive(Debug)]
enum Token {
    /// `*`.
    Any,
    /// `?`.
    One,
    /// A unit matched as itself.
    Lit(Unit),
    /// `[...]`: inclusive ranges (a single member is a range of one), negated or not.
    Set {
        ranges: Vec<(Unit, Unit)>,
        negated: bool,
    },
}

fn parse_glob(pattern: &[u8]) -> Vec<Token> {
    let p = units(pattern);
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            Unit::Char('*') => tokens.push(Token::Any),
            Unit::Char('?') => tokens.push(Token::One),
            Unit::Char('\\') if i + 1 < p.len() => {
                i += 1;
                tokens.push(Token::Lit(p[i]));
            }
            Unit::Char('[') => match parse_set(&p[i + 1..]) {
                Some((set, used)) => {
                    tokens.push(set);
                    i += used;
                }
                None => tokens.push(Token::Lit(p[i])),
            },
            u => tokens.push(Token::Lit(u)),
        }
        i += 1;
    }
    tokens
}

/// The set that `rest` (what follows a `[`) starts with, and how many units it used
/// up to and including its `]`; `None` if it has no `]`.
fn parse_set(rest: &[Unit]) -> Option<(Token, usize)> {
    let mut i = 0;
    let negated = matches!(rest.first(), Some(Unit::Char('!' | '^')));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let u = *rest.get(i)?;
        if u == Unit::Char(']') && !first {
            return Some((Token::Set { ranges, negated }, i + 1));
        }
        first = false;
        let lo = if u == Unit::Char('\\') {
            i += 1;
            *rest.get(i)?
        } else {
            u
        };
        // `a-z`, unless the `-` is the last member (`[a-]`).
        match (rest.get(i + 1), rest.get(i + 2)) {
            (Some(Unit::Char('-')), Some(&hi)) if hi != Unit::Char(']') => {
                ranges.push((lo, hi));
                i += 3;
            }
            _ => {
                ranges.push((lo, lo));
                i += 1;
            }
        }
    }
}

fn token_matches(t: &Token, u: Unit) -> bool {
    match t {
        Token::Any | Token::One => true,
        Token::Lit(l) => *l == u,
        Token::Set { ranges, negated } => {
            ranges.iter().any(|&(lo, hi)| lo <= u && u <= hi) != *negated
        }
    }
}

/// True if `tokens` match all of `name`. Iterative, with backtracking to the last `*`
/// only: at most (pattern length x name length) steps, whatever the input.
fn glob_matches(tokens: &[Token], name: &[Unit]) -> bool {
    let (mut t, mut n) = (0, 0);
    // The position after the last `*` seen, and the name position it resumes from.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match tokens.get(t) {
            Some(Token::Any) => {
                star = Some((t + 1, n));
                t += 1;
            }
            Some(tok) if token_matches(tok, name[n]) => {
                t += 1;
                n += 1;
            }
            _ => match star {
                Some((after, from)) => {
                    t = after;
                    n = from + 1;
                    star = Some((after, from + 1));
                }
                None => return false,
            },
        }
    }
    tokens[t.min(tokens.len())..]
        .iter()
        .all(|tok| matches!(tok, Token::Any))
}

/// The name filter of `ls` and `gc`.
#[derive(Debug, Default)]
pub struct NameFilter {
    prefix: Option<Vec<u8>>,
    glob: Option<Vec<Token>>,
}

impl NameFilter {
    /// Keeps the names that start with `prefix` and that `glob` matches (each if given).
    pub fn new(prefix: Option<&[u8]>, glob: Option<&[u8]>) -> NameFilter {
        NameFilter {
            prefix: prefix.map(<[u8]>::to_vec),
            glob: glob.map(parse_glob),
        }
    }

    /// True if the name whose exact bytes are `name` is kept.
    pub fn keeps(&self, name: &[u8]) -> bool {
        self.prefix.as_ref().is_none_or(|p| name.starts_with(p))
            && self
                .glob
                .as_ref()
                .is_none_or(|g| glob_matches(g, &units(name)))
    }
}

/// The options that select names, shared by `ls` and `gc`.
#[derive(clap::Args, Debug)]
pub struct NameFilterArgs {
    /// Only names that start with PREFIX (its bytes, compared with the exact name).
    #[arg(long)]
    prefix: Option<OsString>,
    /// Only names that GLOB matches as a whole: `*` any characters (a leading `.`
    /// too), `?` one character, `[a-z]`/`[!a-z]` one of (or not of) a set, `\x` x.
    #[arg(long)]
    glob: Option<OsString>,
}

impl NameFilterArgs {
    /// The filter these options describe.
    pub fn to_filter(&self) -> NameFilter {
        NameFilter::new(
            self.prefix.as_ref().map(|p| p.as_bytes()),
            self.glob.as_ref().map(|g| g.as_bytes()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, name: &[u8]) -> bool {
        NameFilter::new(None, Some(pattern.as_bytes())).keeps(name)
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(glob("*", b""));
        assert!(glob("*", b".mpsync-tmp-1"));
        assert!(glob("jobs-*", b"jobs-lock"));
        assert!(!glob("jobs-*", b"my-jobs-lock"));
        assert!(glob("*-lock", b"jobs-lock"));
        assert!(glob("*b*", b"abc"));
        assert!(glob("a*b*c", b"aXbYbZc"));
        assert!(!glob("a*b*c", b"aXbYbZ"));
        assert!(glob("lock-?", b"lock-1"));
        assert!(!glob("lock-?", b"lock-12"));
        assert!(glob("?", "é".as_bytes()), "one character, two bytes");
        assert!(glob("bad?", b"bad\xff"), "an invalid byte is one character");
        assert!(glob("**a**", b"a"));
        assert!(!glob("", b"a"));
        assert!(glob("", b""));
    }

    #[test]
    fn sets_and_escapes() {
        assert!(glob("lock-[0-9]", b"lock-7"));
        assert!(!glob("lock-[0-9]", b"lock-x"));
        assert!(glob("lock-[!0-9]", b"lock-x"));
        assert!(glob("lock-[^0-9]", b"lock-x"));
        assert!(!glob("lock-[!0-9]", b"lock-7"));
        assert!(glob("[]]", b"]"));
        assert!(glob("[!]]", b"a"));
        assert!(glob("[a-]", b"-"));
        assert!(glob("[ab]c", b"bc"));
        assert!(glob("a[", b"a["), "an unclosed [ is itself");
        assert!(glob(r"a\*", b"a*"));
        assert!(!glob(r"a\*", b"ab"));
        assert!(glob(r"\[x]", b"[x]"));
        assert!(glob("a\\", b"a\\"), "a trailing backslash is itself");
    }

    #[test]
    fn prefix_and_glob_together_on_exact_bytes() {
        let f = NameFilter::new(Some(b"bad"), Some(b"*\xff".as_slice()));
        assert!(f.keeps(b"bad\xff"));
        assert!(!f.keeps(b"bad"));
        assert!(!f.keeps(b"good\xff"));
        assert!(NameFilter::default().keeps(b"anything"));
    }

    #[test]
    fn long_hostile_patterns_end_quickly() {
        // A backtracking matcher would not finish this in the age of the universe; the
        // bound below only keeps such a regression from hanging the suite (it is not a
        // speed claim: a linear matcher needs microseconds).
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let name = vec![b'a'; 255];
            let pattern = "*a".repeat(100) + "b";
            let _ = tx.send(glob(&pattern, &name));
        });
        let matched = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("long_hostile_patterns_end_quickly: glob did not return within 120 s");
        assert!(!matched);
    }
}

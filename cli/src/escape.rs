//! How text that mpsync did not write itself is printed for humans: entry names (any
//! bytes but `/` and NUL), the library's details, names and arguments given on the
//! command line. Like GNU `ls --quoting-style=escape`, so that such text can neither
//! control the terminal nor break a line: one entry is always one line.
//!
//! Printable UTF-8 (spaces included) is kept as it is. A backslash becomes `\\`; BEL,
//! BS, TAB, LF, VT, FF and CR become `\a`, `\b`, `\t`, `\n`, `\v`, `\f`, `\r`; every
//! other byte of a control character (0x00-0x1f, DEL 0x7f, the C1 controls
//! U+0080-U+009F), of a Unicode line or paragraph separator or bidirectional formatting
//! character (which reorder or break what a terminal shows), and every byte that is not
//! valid UTF-8, becomes `\` and three octal digits: ESC is `\033`, the byte 0xff
//! `\377`, U+009B (two bytes in UTF-8) `\302\233`. The result is valid UTF-8 without any
//! control character, and the original bytes can be read back from it.

use std::fmt::Write;

/// `bytes` escaped for printing (see the module documentation).
pub fn text(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for &b in chunk.invalid() {
            push_octal(&mut out, b);
        }
    }
    out
}

/// Every line of `message` escaped, the line breaks kept: for messages that are
/// several lines by design (usage errors, which quote the arguments they refuse).
pub fn lines(message: &str) -> String {
    message.split('\n').map(text).collect::<Vec<_>>().join("\n")
}

fn push_char(out: &mut String, c: char) {
    let named = match c {
        '\\' => "\\\\",
        '\x07' => "\\a",
        '\x08' => "\\b",
        '\t' => "\\t",
        '\n' => "\\n",
        '\x0b' => "\\v",
        '\x0c' => "\\f",
        '\r' => "\\r",
        c if needs_octal(c) => {
            let mut utf8 = [0u8; 4];
            for &b in c.encode_utf8(&mut utf8).as_bytes() {
                push_octal(out, b);
            }
            return;
        }
        c => {
            out.push(c);
            return;
        }
    };
    out.push_str(named);
}

/// Controls (C0, DEL, C1), line and paragraph separators, bidirectional formatting.
fn needs_octal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

fn push_octal(out: &mut String, b: u8) {
    // Writing to a String cannot fail.
    let _ = write!(out, "\\{b:03o}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_is_kept() {
        assert_eq!(text("lock-1.x é 字"), "lock-1.x é 字");
    }

    #[test]
    fn controls_backslash_and_invalid_bytes_are_escaped() {
        for (raw, shown) in [
            (&b"\x1b]0;pwned\x07"[..], r"\033]0;pwned\a"),
            (b"\x1b[2J", r"\033[2J"),
            (b"a\nb\tc\rd\x0b\x0c\x08", r"a\nb\tc\rd\v\f\b"),
            (b"\0\x01\x7f", r"\000\001\177"),
            (b"back\\slash", r"back\\slash"),
            (b"\xff\xfe", r"\377\376"),
            ("c1\u{9b}".as_bytes(), r"c1\302\233"),
            ("rtl\u{202e}".as_bytes(), r"rtl\342\200\256"),
            ("line\u{2028}".as_bytes(), r"line\342\200\250"),
            (b"cut\xe2\x80", r"cut\342\200"),
        ] {
            assert_eq!(text(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn escaped_text_has_no_control_character() {
        let all: Vec<u8> = (0..=255).collect();
        assert!(!text(&all).chars().any(char::is_control));
        let c1: String = ('\u{80}'..='\u{9f}').collect();
        assert!(!text(&c1).chars().any(char::is_control));
    }

    #[test]
    fn lines_keeps_line_breaks_only() {
        assert_eq!(
            lines("error: 'a\x1b[2J'\n\nUsage"),
            "error: 'a\\033[2J'\n\nUsage"
        );
    }
}

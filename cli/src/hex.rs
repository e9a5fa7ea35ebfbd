//! The reversible form of a name: its bytes in lowercase hex, two digits a byte. JSON
//! output carries it as `name_hex`; `show`, `watch` and `rm` take it back with `--hex`.

/// `bytes` as lowercase hex digits.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// The bytes that `digits` spell (either case); `None` unless it is an even number of
/// hex digits.
pub fn decode(digits: &[u8]) -> Option<Vec<u8>> {
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

fn digit(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let digits = encode(&all);
        assert!(digits.starts_with("000102") && digits.ends_with("feff"));
        assert_eq!(decode(digits.as_bytes()), Some(all.clone()));
        assert_eq!(decode(digits.to_uppercase().as_bytes()), Some(all));
    }

    #[test]
    fn malformed_digits_are_refused() {
        for bad in ["a", "abc", "0g", "+1", " 1", "é1"] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(decode(b""), Some(Vec::new()));
    }
}

//! JSON text as every reply sends it: compact, the bytes `serde_json` writes, written
//! straight into a buffer.
//!
//! Not here: parsing requests (`parse.rs`, each provider's `request.rs`).

use serde_json::Value;

/// Compact JSON text of `v`, as every reply is sent. Same bytes as `v.to_string()`,
/// but written straight into a buffer: `Display` goes through the `fmt` machinery,
/// which cost about twice as much on the reply path.
pub(crate) fn json_text(v: &Value) -> String {
    // A `Value` only has string keys, and writing to a `String` cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| v.to_string())
}

/// Append `s` to `buf` as a JSON string: the bytes `serde_json` writes for it. Most
/// strings in a reply need no escaping and are copied whole; `serde_json` looks at every
/// byte through a table, which made string-heavy replies slow to render.
pub(crate) fn json_str(buf: &mut Vec<u8>, s: &str) {
    // `serde_json` escapes exactly these: control characters, `"` and `\`. (A fold
    // without an early exit, so the compiler checks many bytes at a time; a word-at-a-time
    // check was tried and counted more instructions.)
    let escaped = s
        .bytes()
        .fold(false, |e, b| e | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if !escaped {
        buf.reserve(s.len() + 2);
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    } else {
        json_value(buf, &s);
    }
}

/// Append `v` to `buf` as compact JSON. Writing to memory cannot fail, and every value
/// a reply holds has string keys, the one thing `serde_json` refuses.
pub(crate) fn json_value(buf: &mut Vec<u8>, v: &impl serde::Serialize) {
    serde_json::to_writer(buf, v).expect("JSON with string keys always serialises to a Vec");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_that_needs_escaping_is_found_at_every_position() {
        // Each ASCII byte, at each offset of strings from 1 to 24 bytes long (whole
        // words, a tail, both), among bytes that need nothing; and non-ASCII text.
        for len in 1..=24 {
            for at in 0..len {
                for b in 0u8..0x80 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let s = std::str::from_utf8(&bytes).unwrap();
                    let mut got = Vec::new();
                    json_str(&mut got, s);
                    assert_eq!(got, serde_json::to_vec(s).unwrap(), "{s:?}");
                }
            }
        }
        for s in ["é🎉ü", "ÿ\u{80}\u{7ff}", "a\u{2028}b", "\u{10ffff}\"x"] {
            let mut got = Vec::new();
            json_str(&mut got, s);
            assert_eq!(got, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }
}

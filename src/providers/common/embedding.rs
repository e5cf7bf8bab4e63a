//! Embedding vectors as every provider sends them: the `input` list, the
//! deterministic vector an unmatched request gets, and float32 base64.
//!
//! A fixture's vector answers every input of the request. Outside strict mode an
//! unmatched request gets [`deterministic_vector`]: a stable function of the input text,
//! so similarity-based code under test behaves the same on every run.
//!
//! Not here: any provider's embedding body (each provider's embedding file).

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Parse `input`: a string, an array of strings, or token arrays (rendered as text so
/// `inputText` can still match them).
pub(crate) fn parse_input(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) if a.iter().all(|x| x.is_number()) && !a.is_empty() => {
            Some(vec![Value::Array(a.clone()).to_string()])
        }
        Value::Array(a) => Some(
            a.iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        ),
        _ => None,
    }
}

/// A vector derived from SHA-256 of `input`: each 32 dimensions take the bytes of one
/// digest (block k hashes the input with k), mapped to [-1, 1] as `b / 127.5 - 1`.
pub(crate) fn deterministic_vector(input: &str, dims: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(dims);
    let mut block = 0u32;
    while out.len() < dims {
        let mut h = Sha256::new();
        h.update(input.as_bytes());
        h.update(block.to_le_bytes());
        for b in h.finalize() {
            if out.len() == dims {
                break;
            }
            out.push(f64::from(b) / 127.5 - 1.0);
        }
        block += 1;
    }
    out
}

/// Little-endian float32 bytes in base64, as OpenAI sends with `encoding_format=base64`.
pub(crate) fn to_base64_f32(v: &[f64]) -> String {
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for x in v {
        bytes.extend_from_slice(&(*x as f32).to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decode little-endian float32 base64 into numbers (as f64, exactly representable).
pub(crate) fn from_base64_f32(s: &str) -> Option<Vec<f64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()?;
    if bytes.is_empty() || bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_vectors_are_stable_bounded_and_input_specific() {
        let a = deterministic_vector("hello", 100);
        assert_eq!(a, deterministic_vector("hello", 100));
        assert_ne!(a, deterministic_vector("hellp", 100));
        assert_eq!(a.len(), 100);
        assert!(a.iter().all(|x| (-1.0..=1.0).contains(x)));
        assert_eq!(&deterministic_vector("hello", 40)[..], &a[..40]);
    }

    #[test]
    fn base64_round_trips_as_little_endian_f32() {
        let s = to_base64_f32(&[0.5, -0.25, 1.0]);
        assert_eq!(s, "AAAAPwAAgL4AAIA/");
        assert_eq!(from_base64_f32(&s), Some(vec![0.5, -0.25, 1.0]));
        assert_eq!(from_base64_f32("AAA="), None);
    }
}

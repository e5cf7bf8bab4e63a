//! Deterministic inputs to rendering: [`RenderContext`] derives every generated id,
//! timestamp and jitter from a SHA-256 of the fixture and the request, so a replay is
//! byte-for-byte the same every time.
//!
//! Not here: the reply bytes themselves (each provider's renderer).

use sha2::{Digest, Sha256};

use crate::cassette::Fixture;
use crate::request::ChatRequest;

/// Deterministic inputs to rendering: the seed for ids, and the chunk size.
#[derive(Debug, Clone)]
pub struct RenderContext {
    /// SHA-256 of (fixture digest, request body digest): 48 bytes in, one block.
    pub seed: [u8; 32],
    /// Characters per streamed text or argument slice.
    pub chunk_size: usize,
    /// The frames of a stream will be sent together, with no delay or fault between
    /// them: a renderer may hand them over as one frame (see
    /// [`FrameWriter::whole`](super::FrameWriter::whole)).
    pub whole: bool,
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl RenderContext {
    /// The context for serving `fx` to `req`.
    pub fn new(fx: &Fixture, req: &ChatRequest, default_chunk_size: usize) -> RenderContext {
        let mut h = Sha256::new();
        h.update(fx.digest);
        h.update(req.body_digest);
        RenderContext {
            seed: h.finalize().into(),
            chunk_size: fx.options.chunk_size.unwrap_or(default_chunk_size).max(1),
            whole: false,
        }
    }

    /// A context for replies that no fixture backs (fallback embeddings).
    pub fn for_request(req: &ChatRequest) -> RenderContext {
        RenderContext {
            seed: Sha256::digest(req.body_digest).into(),
            chunk_size: 20,
            whole: false,
        }
    }

    /// A deterministic id: `prefix` followed by `len` alphanumerics derived from the
    /// seed and `label` (so two ids in one reply differ).
    pub fn id(&self, prefix: &str, label: &str, len: usize) -> String {
        let mut out = Vec::with_capacity(prefix.len() + len);
        out.extend_from_slice(prefix.as_bytes());
        let mut counter = 0u32;
        while out.len() < prefix.len() + len {
            let mut h = Sha256::new();
            h.update(self.seed);
            h.update(label.as_bytes());
            h.update(counter.to_le_bytes());
            let take = (prefix.len() + len - out.len()).min(32);
            // Bytes, not chars: the alphabet is ASCII, and `String::push` encodes each.
            out.extend(
                h.finalize()[..take]
                    .iter()
                    .map(|&b| ID_ALPHABET[usize::from(b) % ID_ALPHABET.len()]),
            );
            counter += 1;
        }
        // A `str` prefix followed by ASCII: always UTF-8.
        String::from_utf8(out).unwrap_or_default()
    }

    /// A deterministic, plausible unix timestamp (between 2023-11 and 2027-01).
    pub fn created(&self) -> i64 {
        let n = u32::from_le_bytes([self.seed[0], self.seed[1], self.seed[2], self.seed[3]]);
        1_700_000_000 + i64::from(n % 100_000_000)
    }

    /// A deterministic value in [0, 1) for label (used for jitter).
    pub fn unit(&self, label: &str) -> f64 {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(label.as_bytes());
        let d = h.finalize();
        let n = u64::from_le_bytes(d[..8].try_into().expect("sha256 is 32 bytes"));
        (n >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_differ_by_label() {
        let ctx = RenderContext {
            seed: [7; 32],
            chunk_size: 20,
            whole: false,
        };
        assert_eq!(ctx.id("chatcmpl-", "c", 24), ctx.id("chatcmpl-", "c", 24));
        assert_ne!(ctx.id("call_", "0", 24), ctx.id("call_", "1", 24));
        assert_eq!(ctx.id("x", "y", 40).len(), 41);
    }

    #[test]
    fn ids_are_the_alphabet_of_sha256_of_seed_label_and_counter() {
        // The derivation users' snapshots depend on, spelled out: 32 characters per
        // digest of (seed, label, little-endian counter), each byte modulo 62.
        let ctx = RenderContext {
            seed: [7; 32],
            chunk_size: 20,
            whole: false,
        };
        let spelled = |prefix: &str, label: &str, len: usize| {
            let mut out = prefix.to_string();
            let mut counter = 0u32;
            while out.len() < prefix.len() + len {
                let mut h = Sha256::new();
                h.update(ctx.seed);
                h.update(label.as_bytes());
                h.update(counter.to_le_bytes());
                for b in h.finalize() {
                    if out.len() < prefix.len() + len {
                        out.push(ID_ALPHABET[b as usize % 62] as char);
                    }
                }
                counter += 1;
            }
            out
        };
        for len in [0, 1, 22, 24, 31, 32, 33, 64, 65, 70] {
            for (prefix, label) in [("msg_01", "id"), ("", "request-id"), ("call_", "0")] {
                assert_eq!(ctx.id(prefix, label, len), spelled(prefix, label, len));
            }
        }
        assert_eq!(ctx.id("req_", "request-id", 24).len(), 28);
    }
}

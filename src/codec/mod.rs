//! Pure wire codecs: the byte framing of every streamed reply we send or record.
//!
//! - [`sse`]: `text/event-stream` (OpenAI, Anthropic, Gemini `alt=sse`, Cohere v2).
//! - [`ndjson`]: newline-delimited JSON (Ollama, Cohere v1).
//! - [`eventstream`]: AWS `application/vnd.amazon.eventstream` (Bedrock).
//! - [`jsonrpc`]: the JSON-RPC 2.0 envelope (MCP, A2A), over `serde_json` values.
//! - [`multipart`]: `multipart/form-data` request bodies (OpenAI uploads), read whole.
//!
//! Encoders append to a [`BytesMut`]; decoders are small state machines that consume
//! complete frames from the front of a [`BytesMut`] the caller keeps appending to, and
//! answer `Ok(None)` when more bytes are needed: "incomplete" is a normal result, not an
//! error. `decode_eof` handles what is left when the stream ends.
//!
//! Not here: sockets, tasks, clocks, or what a frame *means* to a provider (that is
//! `providers::*`). Nothing under `codec/` may panic on input: every length and offset
//! that came from outside is checked, and a bad frame is an [`Error`].

pub mod eventstream;
pub mod jsonrpc;
pub mod multipart;
pub mod ndjson;
pub mod sse;

use bytes::BytesMut;

/// What can go wrong while framing or unframing bytes.
///
/// Decoding errors are fatal for the stream they came from: the decoder does not try to
/// resynchronise (a length field that lied leaves no trustworthy next boundary).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A frame (an SSE line or event, an NDJSON line, an EventStream message) is larger
    /// than the decoder's cap; we stop rather than buffer without bound.
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    FrameTooLarge {
        /// The size seen or announced.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The stream ended in the middle of a frame.
    #[error("stream ended inside a frame ({buffered} bytes left over)")]
    Truncated {
        /// Bytes that could not be decoded.
        buffered: usize,
    },
    /// An EventStream prelude's CRC32 does not match its first 8 bytes.
    #[error(
        "EventStream prelude CRC mismatch (expected {expected:#010x}, computed {computed:#010x})"
    )]
    PreludeCrc {
        /// The CRC carried in the prelude.
        expected: u32,
        /// The CRC of the bytes.
        computed: u32,
    },
    /// An EventStream message's trailing CRC32 does not match its bytes.
    #[error(
        "EventStream message CRC mismatch (expected {expected:#010x}, computed {computed:#010x})"
    )]
    MessageCrc {
        /// The CRC carried at the end of the message.
        expected: u32,
        /// The CRC of the bytes.
        computed: u32,
    },
    /// An EventStream prelude whose lengths cannot describe a message.
    #[error("invalid EventStream prelude: total length {total}, headers length {headers}")]
    InvalidPrelude {
        /// `total_length` as sent.
        total: u32,
        /// `headers_length` as sent.
        headers: u32,
    },
    /// An EventStream header block that does not parse.
    #[error("invalid EventStream header: {0}")]
    InvalidHeader(&'static str),
    /// An EventStream header value type outside 0..=9.
    #[error("unknown EventStream header value type {0}")]
    UnknownHeaderType(u8),
    /// Something we were asked to encode cannot be represented in the format.
    #[error("cannot encode: {0}")]
    Unencodable(&'static str),
}

/// An incremental decoder: the one shape all three codecs share, so the recorder can
/// drive any of them the same way (see [`FrameCounter`]).
pub trait Decoder {
    /// One decoded frame.
    type Item;

    /// Take the next complete frame off the front of `buf`, or `Ok(None)` when `buf`
    /// does not hold one yet. Between calls the caller may only append to `buf`.
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Error>;

    /// Like [`Decoder::decode`], once the stream has ended: a trailing partial frame is
    /// either finished (where the format allows it) or reported as [`Error::Truncated`].
    /// Call it until it returns `Ok(None)`.
    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Error>;
}

/// Decode a complete byte string, as if it had arrived in one read and then ended.
pub fn decode_all<D: Decoder>(decoder: &mut D, bytes: &[u8]) -> Result<Vec<D::Item>, Error> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(item) = decoder.decode(&mut buf)? {
        out.push(item);
    }
    while let Some(item) = decoder.decode_eof(&mut buf)? {
        out.push(item);
    }
    Ok(out)
}

/// Counts complete frames in a stream fed in arbitrary pieces, and where each one ended.
///
/// The recorder feeds it every upstream chunk as it arrives and notes the time; the
/// number of frames a chunk completed ties frames to arrival times, and
/// [`FrameCounter::ends`] gives each frame's end as a byte offset into the stream (for
/// frames split across chunks, the chunk holding the last byte is the one that counts).
#[derive(Debug)]
pub struct FrameCounter<D: Decoder> {
    decoder: D,
    buf: BytesMut,
    /// Total bytes pushed so far: with `buf.len()` this gives the consumed offset.
    pushed: u64,
    ends: Vec<u64>,
}

impl<D: Decoder> FrameCounter<D> {
    /// A counter around a fresh decoder.
    pub fn new(decoder: D) -> FrameCounter<D> {
        FrameCounter {
            decoder,
            buf: BytesMut::new(),
            pushed: 0,
            ends: Vec::new(),
        }
    }

    /// Feed one chunk; returns how many frames it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<usize, Error> {
        self.buf.extend_from_slice(chunk);
        self.pushed += chunk.len() as u64;
        let before = self.ends.len();
        while self.decoder.decode(&mut self.buf)?.is_some() {
            self.ends.push(self.pushed - self.buf.len() as u64);
        }
        Ok(self.ends.len() - before)
    }

    /// The stream ended: count a trailing frame the format allows to be unterminated.
    pub fn finish(&mut self) -> Result<usize, Error> {
        let before = self.ends.len();
        while self.decoder.decode_eof(&mut self.buf)?.is_some() {
            self.ends.push(self.pushed - self.buf.len() as u64);
        }
        Ok(self.ends.len() - before)
    }

    /// Frames completed so far.
    pub fn count(&self) -> usize {
        self.ends.len()
    }

    /// The stream offset just past each completed frame, in order.
    pub fn ends(&self) -> &[u64] {
        &self.ends
    }
}

/// Shared by the codecs' tests: the golden captures and a sweep of read sizes.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::PathBuf;

    use bytes::BytesMut;

    use super::{Decoder, Error};

    /// Every golden capture with this extension (`sse`, `ndjson`, `eventstream`).
    pub(crate) fn goldens(ext: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden");
        let mut out = Vec::new();
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .expect("tests/data/golden exists")
            .map(|e| e.expect("readable dir entry").path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .expect("provider dir is readable")
                .map(|e| e.expect("readable dir entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == ext))
                .collect();
            files.sort();
            for f in files {
                let meta = PathBuf::from(format!("{}.meta.json", f.display()));
                assert!(meta.exists(), "{} has no .meta.json", f.display());
                let bytes = std::fs::read(&f).expect("golden file is readable");
                out.push((f, bytes));
            }
        }
        assert!(
            !out.is_empty(),
            "no .{ext} goldens found under {}",
            root.display()
        );
        out
    }

    /// Read sizes for the sweep: 1..=64 bytes, then a few primes.
    pub(crate) fn chunk_sizes() -> Vec<usize> {
        (1..=64)
            .chain([67, 97, 127, 251, 509, 1021, 4093])
            .collect()
    }

    /// Decode `bytes` delivered `size` bytes per read, then end the stream.
    pub(crate) fn decode_chunked<D: Decoder>(
        mut decoder: D,
        bytes: &[u8],
        size: usize,
    ) -> Result<Vec<D::Item>, Error> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in bytes.chunks(size) {
            buf.extend_from_slice(piece);
            while let Some(item) = decoder.decode(&mut buf)? {
                out.push(item);
            }
        }
        while let Some(item) = decoder.decode_eof(&mut buf)? {
            out.push(item);
        }
        Ok(out)
    }

    /// A small deterministic PRNG (xorshift64*) for hostile-input tests.
    pub(crate) struct Rng(pub u64);

    impl Rng {
        /// The next pseudo-random value.
        pub(crate) fn next_u64(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        /// `n` pseudo-random bytes.
        pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next_u64() as u8).collect()
        }

        /// A value in `0..n` (`n > 0`).
        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }
    }
}

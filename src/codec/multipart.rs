//! `multipart/form-data` bodies (RFC 7578), read from a body already in memory: the
//! uploads of OpenAI's image edits, transcriptions, translations and video creates.
//!
//! [`Form::parse`] takes the `Content-Type` value and the whole body and returns every
//! part with its name, file name and content type. A field's bytes are kept as sent; a
//! file's bytes are hashed as they go by (SHA-256, what `match.fileDigest` compares) and
//! not kept, so reading a 25 MiB upload holds one 64 KiB slice of it at a time besides
//! the body itself. Bytes stay bytes: nothing is decoded or re-encoded.
//!
//! # Design
//! The framing is `multer`'s, fed the body one 64 KiB slice per poll by a stream that
//! yields between slices (multer buffers whatever a stream has ready, so a stream that
//! is always ready would have it copy the whole body at once), and driven by a loop
//! with a no-op waker: the body is complete before a parser runs, so nothing waits on
//! I/O, and the loop is bounded (a parser that stops making progress is a malformed
//! body, not a hang). Rejected: a hand-written splitter (the reference splits on the
//! boundary text and reads parts as UTF-8, which is how it corrupts binary uploads).
//!
//! Not here: what a field means (each provider's parser), the size limit (the
//! pipeline's `--max-body-bytes`, applied before any parse).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures_util::Stream;
use sha2::{Digest, Sha256};

/// The slice of the body handed to the parser per poll.
const SLICE: usize = 64 * 1024;

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The `name` of its `Content-Disposition`.
    pub name: String,
    /// The `filename`, when the part is a file.
    pub file_name: Option<String>,
    /// The part's own `Content-Type`, if it sent one.
    pub content_type: Option<String>,
    /// A field's bytes, exactly as sent (empty for a file: see [`Part::sha256`]).
    pub data: Bytes,
    /// A file's SHA-256 (`None` for a field).
    pub sha256: Option<[u8; 32]>,
    /// The part's size in bytes.
    pub len: usize,
}

impl Part {
    /// A field's data as text, when it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.data).ok()
    }

    /// A file's SHA-256 in lower-case hex.
    pub fn sha256_hex(&self) -> Option<String> {
        self.sha256
            .map(|d| d.iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// Why a body is not a readable form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// The `Content-Type` is not `multipart/form-data`.
    #[error("Content-Type is not multipart/form-data")]
    NotMultipart,
    /// `multipart/form-data` without a `boundary` parameter.
    #[error("multipart/form-data Content-Type has no boundary")]
    NoBoundary,
    /// The body breaks the framing: a part cut short, headers that do not parse, no
    /// closing boundary.
    #[error("malformed multipart body: {0}")]
    Malformed(String),
}

/// A parsed form: its parts in the order they were sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    /// Every part, in order.
    pub parts: Vec<Part>,
}

/// The body, one slice per poll, with a pause (`Pending`, woken at once) between.
struct Slices<'a> {
    body: &'a [u8],
    at: usize,
    paused: bool,
}

impl Stream for Slices<'_> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // A pause after every slice, the end included: multer reads "ready and no more
        // data" as the end, so the end must never come in the same poll as a slice.
        if self.paused {
            self.paused = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.at >= self.body.len() {
            return Poll::Ready(None);
        }
        self.paused = true;
        let end = (self.at + SLICE).min(self.body.len());
        let slice = Bytes::copy_from_slice(&self.body[self.at..end]);
        self.at = end;
        Poll::Ready(Some(Ok(slice)))
    }
}

impl Form {
    /// Parse `body` sent with `content_type`.
    pub fn parse(content_type: &str, body: &[u8]) -> Result<Form, FormError> {
        let boundary = multer::parse_boundary(content_type).map_err(|e| match e {
            multer::Error::NoBoundary => FormError::NoBoundary,
            _ if content_type
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data") =>
            {
                FormError::NoBoundary
            }
            _ => FormError::NotMultipart,
        })?;
        let stream = Slices {
            body,
            at: 0,
            paused: false,
        };
        // Two polls per slice, a few per part, and room for the closing boundary.
        let budget = 4 * (body.len() / SLICE + 1) + 64 * (body.len() / 64 + 1).min(1 << 20);
        drive(read_parts(stream, boundary), budget)
            .unwrap_or_else(|| Err(FormError::Malformed("the parser stopped".into())))
    }

    /// The first part named `name`.
    pub fn get(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }

    /// The first part named `name` as text (a field, not a file).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Part::text)
    }
}

async fn read_parts(stream: Slices<'_>, boundary: String) -> Result<Form, FormError> {
    let malformed = |e: multer::Error| FormError::Malformed(e.to_string());
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(mut field) = mp.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(|m| m.to_string());
        let mut len = 0;
        let (data, sha256) = if file_name.is_some() {
            let mut h = Sha256::new();
            while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                len += chunk.len();
                h.update(&chunk);
            }
            (Bytes::new(), Some(h.finalize().into()))
        } else {
            let b = field.bytes().await.map_err(malformed)?;
            len = b.len();
            (b, None)
        };
        parts.push(Part {
            name,
            file_name,
            content_type,
            data,
            sha256,
            len,
        });
    }
    Ok(Form { parts })
}

/// Poll `f` with a no-op waker until it is ready, at most `budget` times.
fn drive<F: Future>(f: F, budget: usize) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..budget {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, file, data) in parts {
            out.extend_from_slice(b"--XyZ\r\n");
            match file {
                Some(f) => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
                ),
                None => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--XyZ--\r\n");
        out
    }

    #[test]
    fn binary_parts_come_back_byte_for_byte() {
        let audio: Vec<u8> = (0..=255u8)
            .chain([0xff, 0xfe, 0x00, b'\r', b'\n'])
            .collect();
        let b = body(&[
            ("model", None, b"whisper-1"),
            ("file", Some("a.wav"), &audio),
        ]);
        let f = Form::parse("multipart/form-data; boundary=XyZ", &b).unwrap();
        assert_eq!(f.text("model"), Some("whisper-1"));
        let file = f.get("file").unwrap();
        let want: [u8; 32] = Sha256::digest(&audio).into();
        assert_eq!(file.sha256, Some(want));
        assert_eq!(file.len, audio.len());
        assert_eq!(file.file_name.as_deref(), Some("a.wav"));
        assert_eq!(
            file.content_type.as_deref(),
            Some("application/octet-stream")
        );
    }

    #[test]
    fn a_quoted_boundary_is_read() {
        let b = body(&[("prompt", None, b"hi")]);
        let f = Form::parse("multipart/form-data; boundary=\"XyZ\"", &b).unwrap();
        assert_eq!(f.text("prompt"), Some("hi"));
    }

    #[test]
    fn missing_boundary_other_types_and_cut_bodies_are_errors() {
        let b = body(&[("prompt", None, b"hi")]);
        assert_eq!(
            Form::parse("multipart/form-data", &b),
            Err(FormError::NoBoundary)
        );
        assert_eq!(
            Form::parse("application/json", &b),
            Err(FormError::NotMultipart)
        );
        for cut in [5, b.len() / 2, b.len() - 4] {
            let r = Form::parse("multipart/form-data; boundary=XyZ", &b[..cut]);
            assert!(
                matches!(r, Err(FormError::Malformed(_))),
                "cut at {cut}: {r:?}"
            );
        }
    }

    #[test]
    fn a_large_file_spanning_many_slices_is_hashed_whole() {
        let big: Vec<u8> = (0..(3 * SLICE + 17))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let b = body(&[("file", Some("big.bin"), &big), ("model", None, b"m")]);
        let f = Form::parse("multipart/form-data; boundary=XyZ", &b).unwrap();
        let want: [u8; 32] = Sha256::digest(&big).into();
        assert_eq!(f.get("file").unwrap().sha256, Some(want));
        assert_eq!(f.text("model"), Some("m"));
    }

    #[test]
    fn every_prefix_and_garbage_is_an_answer_not_a_panic() {
        let b = body(&[("a", None, b"1"), ("f", Some("x"), &[0, 1, 2, 3])]);
        for cut in 0..b.len() {
            let _ = Form::parse("multipart/form-data; boundary=XyZ", &b[..cut]);
        }
        let _ = Form::parse("multipart/form-data; boundary=", b"--\r\n");
        let _ = Form::parse("multipart/form-data; boundary=a", b"--a");
    }
}

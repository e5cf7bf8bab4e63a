//! Newline-delimited JSON (Ollama `application/x-ndjson`, Cohere v1
//! `application/stream+json`): one JSON document per line.
//!
//! The decoder yields each non-blank line without its terminator, tolerating CRLF and
//! a last line with no newline at all; it does not parse JSON (callers do, with the
//! error handling they need). The encoder appends one line and its `\n`.

use bytes::{Buf, Bytes, BytesMut};

use super::{Decoder, Error};

/// The longest line the decoder buffers before giving up (16 MiB).
pub const DEFAULT_MAX_LINE: usize = 16 * 1024 * 1024;

/// Append `line` and a `\n`. The line must not contain a line break itself (compact
/// JSON never does), or it would frame as two documents.
pub fn encode_line(line: &[u8], dst: &mut BytesMut) -> Result<(), Error> {
    if line.iter().any(|&b| b == b'\n' || b == b'\r') {
        return Err(Error::Unencodable(
            "an NDJSON line may not contain a line break",
        ));
    }
    dst.reserve(line.len() + 1);
    dst.extend_from_slice(line);
    dst.extend_from_slice(b"\n");
    Ok(())
}

/// Incremental line decoder.
#[derive(Debug, Clone)]
pub struct LineDecoder {
    max_line: usize,
    /// Bytes at the front of the buffer already searched for `\n`.
    scanned: usize,
}

impl Default for LineDecoder {
    fn default() -> Self {
        LineDecoder::new()
    }
}

impl LineDecoder {
    /// A decoder with the default 16 MiB line cap.
    pub fn new() -> LineDecoder {
        LineDecoder::with_max_line(DEFAULT_MAX_LINE)
    }

    /// A decoder that fails once a line exceeds `max_line` bytes.
    pub fn with_max_line(max_line: usize) -> LineDecoder {
        LineDecoder {
            max_line,
            scanned: 0,
        }
    }
}

/// The line without a trailing `\r`, or `None` when it is blank.
fn finish_line(mut line: Bytes) -> Option<Bytes> {
    if line.last() == Some(&b'\r') {
        line.truncate(line.len() - 1);
    }
    (!line.iter().all(u8::is_ascii_whitespace)).then_some(line)
}

impl Decoder for LineDecoder {
    type Item = Bytes;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        loop {
            let Some(i) = buf[self.scanned..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|i| i + self.scanned)
            else {
                self.scanned = buf.len();
                if buf.len() > self.max_line {
                    return Err(Error::FrameTooLarge {
                        len: buf.len(),
                        max: self.max_line,
                    });
                }
                return Ok(None);
            };
            self.scanned = 0;
            if i > self.max_line {
                return Err(Error::FrameTooLarge {
                    len: i,
                    max: self.max_line,
                });
            }
            let line = buf.split_to(i).freeze();
            buf.advance(1);
            if let Some(line) = finish_line(line) {
                return Ok(Some(line));
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, Error> {
        if let Some(line) = self.decode(buf)? {
            return Ok(Some(line));
        }
        self.scanned = 0;
        if buf.is_empty() {
            return Ok(None);
        }
        Ok(finish_line(buf.split().freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::testing::{chunk_sizes, decode_chunked, goldens, Rng};
    use crate::codec::{decode_all, FrameCounter};

    fn lines(bytes: &[u8]) -> Vec<String> {
        decode_all(&mut LineDecoder::new(), bytes)
            .unwrap()
            .into_iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn every_golden_ndjson_capture_decodes_the_same_whole_and_in_every_chunk_size() {
        for (path, bytes) in goldens("ndjson") {
            let whole = decode_all(&mut LineDecoder::new(), &bytes).unwrap();
            let naive = bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count();
            assert_eq!(whole.len(), naive, "{}", path.display());
            for line in &whole {
                let parsed: Result<serde_json::Value, _> = serde_json::from_slice(line);
                assert!(parsed.is_ok(), "{}: {:?}", path.display(), line);
            }
            for size in chunk_sizes() {
                let chunked = decode_chunked(LineDecoder::new(), &bytes, size).unwrap();
                assert_eq!(
                    chunked,
                    whole,
                    "{} at {size} bytes per read",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn golden_ndjson_decodes_identically_with_crlf_and_without_a_final_newline() {
        for (path, bytes) in goldens("ndjson") {
            let want = lines(&bytes);
            let text = String::from_utf8(bytes).unwrap();
            let crlf = text.replace('\n', "\r\n");
            let unterminated = text.trim_end_matches('\n');
            for variant in [crlf.as_str(), unterminated] {
                for size in [1, 2, 5, 64] {
                    let got = decode_chunked(LineDecoder::new(), variant.as_bytes(), size).unwrap();
                    assert_eq!(got.len(), want.len(), "{} at {size}", path.display());
                    assert!(got.iter().zip(&want).all(|(g, w)| &g[..] == w.as_bytes()));
                }
            }
        }
    }

    #[test]
    fn blank_lines_are_skipped_and_crlf_is_trimmed() {
        assert_eq!(
            lines(b"{\"a\":1}\r\n\r\n\n  \n{\"b\":2}"),
            vec!["{\"a\":1}", "{\"b\":2}"]
        );
    }

    #[test]
    fn encoded_lines_round_trip_and_line_breaks_are_refused() {
        let mut out = BytesMut::new();
        encode_line(b"{\"a\":1}", &mut out).unwrap();
        encode_line(b"{\"b\":2}", &mut out).unwrap();
        assert_eq!(&out[..], b"{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(lines(&out), vec!["{\"a\":1}", "{\"b\":2}"]);
        assert!(encode_line(b"{\n}", &mut out).is_err());
    }

    #[test]
    fn frame_counter_counts_lines_and_the_unterminated_last_one() {
        let mut c = FrameCounter::new(LineDecoder::new());
        assert_eq!(c.push(b"{}\n{").unwrap(), 1);
        assert_eq!(c.push(b"}\r\n{}").unwrap(), 1);
        assert_eq!(c.finish().unwrap(), 1);
        assert_eq!(c.ends(), &[3, 7, 9]);
    }

    #[test]
    fn a_line_over_the_cap_is_an_error_and_random_bytes_never_panic() {
        assert!(decode_all(&mut LineDecoder::with_max_line(4), b"12345678\n").is_err());
        assert!(decode_chunked(LineDecoder::with_max_line(4), b"12345678", 1).is_err());
        let mut rng = Rng(42);
        for round in 0..200 {
            let len = rng.below(300);
            let bytes = rng.bytes(len);
            let _ = decode_chunked(LineDecoder::with_max_line(64), &bytes, 1 + round % 13);
        }
    }
}

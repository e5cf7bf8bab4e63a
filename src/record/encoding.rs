//! Upstream replies sent with a `Content-Encoding` (gzip, deflate, brotli): relayed to
//! the client as sent (its SDK decodes them; the recorder never asks for one, it drops
//! the client's `Accept-Encoding`, but an upstream or a proxy may compress anyway), and
//! decoded before they are collapsed into a fixture. A fixture holds the decoded body
//! and no `Content-Encoding`, so a replay never claims an encoding it does not send.
//!
//! The decoded size is bounded by the capture cap (`--max-capture-bytes`): a small
//! compressed reply that inflates past it is relayed but not recorded, as an
//! uncompressed one over the cap is. An encoding not named here (zstd, compress) or a
//! body that does not decode is relayed and not recorded, with a log line saying why.
//!
//! Not here: relaying (the tee passes bytes through untouched). Rejected: decoding for
//! the client too, which would change the bytes it asked for and break its length
//! checks; and asking upstream for `identity` only, which the recorder already does,
//! but cannot enforce.

use std::io::Read;

use http::HeaderMap;

/// The codings of a `Content-Encoding` value, in the order they were applied;
/// `identity` dropped. Empty: the body is as it is.
pub(crate) fn codings(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect()
}

/// `body` with `codings` undone (last applied first), at most `limit` bytes of it.
pub(crate) fn decode(codings: &[String], body: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut out = body.to_vec();
    for coding in codings.iter().rev() {
        out = decode_one(coding, &out, limit)?;
    }
    Ok(out)
}

fn decode_one(coding: &str, body: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let bounded = |r: &mut dyn Read| -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        r.take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("the {coding} body does not decode: {e}"))?;
        if out.len() > limit {
            return Err(format!(
                "the {coding} body decodes to more than the capture cap ({limit} bytes)"
            ));
        }
        Ok(out)
    };
    match coding {
        "gzip" | "x-gzip" => bounded(&mut flate2::read::MultiGzDecoder::new(body)),
        // RFC 9110's deflate is zlib-wrapped; some servers send the bare stream.
        "deflate" => bounded(&mut flate2::read::ZlibDecoder::new(body))
            .or_else(|_| bounded(&mut flate2::read::DeflateDecoder::new(body))),
        "br" => bounded(&mut brotli_decompressor::Decompressor::new(body, 4096)),
        other => Err(format!(
            "the content encoding {other:?} is not one aimock decodes"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_and_deflate_decode_and_identity_is_no_coding() {
        let mut h = HeaderMap::new();
        h.insert("content-encoding", "identity, GZIP".parse().unwrap());
        let c = codings(&h);
        assert_eq!(c, vec!["gzip".to_string()]);
        assert_eq!(decode(&c, &gzip(b"hello"), 100).unwrap(), b"hello");
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(b"zz").unwrap();
        let z = z.finish().unwrap();
        assert_eq!(decode(&["deflate".into()], &z, 100).unwrap(), b"zz");
    }

    #[test]
    fn a_bomb_stops_at_the_cap_and_garbage_is_an_error() {
        let big = gzip(&vec![b'a'; 1 << 20]);
        assert!(big.len() < 16 * 1024, "a small body: {}", big.len());
        let e = decode(&["gzip".into()], &big, 1000).unwrap_err();
        assert!(e.contains("capture cap"), "{e}");
        assert!(decode(&["gzip".into()], b"not gzip", 1000).is_err());
        assert!(decode(&["br".into()], b"\xff\xff\xff", 1000).is_err());
        assert!(decode(&["zstd".into()], b"x", 1000)
            .unwrap_err()
            .contains("zstd"));
    }
}

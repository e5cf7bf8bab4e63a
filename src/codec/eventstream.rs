//! AWS EventStream (`application/vnd.amazon.eventstream`), the binary framing of
//! Bedrock's `invoke-with-response-stream` and `converse-stream`.
//!
//! A message is, big-endian:
//!
//! ```text
//! [0..4)   total length   u32  whole message, both CRCs included
//! [4..8)   headers length u32
//! [8..12)  prelude CRC    u32  CRC32 (IEEE) of bytes 0..8
//! headers  repeated { name_len u8, name utf8, type u8, value }
//! payload  the rest, up to the last 4 bytes
//! [..+4)   message CRC    u32  CRC32 of everything before it
//! ```
//!
//! Header value types: 0 true, 1 false (no value bytes), 2 byte, 3 short, 4 int,
//! 5 long, 6 byte array (u16 length + bytes), 7 string (u16 length + UTF-8),
//! 8 timestamp (i64 milliseconds since the epoch), 9 UUID (16 bytes).
//!
//! Every length is checked before it is used: the prelude CRC first (so a garbage
//! length is never waited for), then the lengths against each other and the cap, then
//! the message CRC, then each header against the end of the header block. A message
//! that decodes re-encodes to the identical bytes.
//!
//! Not here: what `:event-type` values mean or the `{"bytes": …}` wrapping of Bedrock
//! `chunk` payloads (`providers::bedrock`).

use bytes::{BufMut, Bytes, BytesMut};

use super::{Decoder, Error};

/// Length of the prelude (total length, headers length, prelude CRC).
pub const PRELUDE_LEN: usize = 12;
/// The smallest possible message: a prelude and a message CRC.
pub const MIN_MESSAGE_LEN: usize = PRELUDE_LEN + 4;
/// The largest message the decoder accepts and the encoder writes (16 MiB).
pub const DEFAULT_MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// The largest header block the format allows (128 KiB).
pub const MAX_HEADERS_LEN: usize = 128 * 1024;

/// A header value, one variant per wire type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// Types 0 (true) and 1 (false).
    Bool(bool),
    /// Type 2.
    Byte(i8),
    /// Type 3.
    Short(i16),
    /// Type 4.
    Int(i32),
    /// Type 5.
    Long(i64),
    /// Type 6.
    ByteArray(Bytes),
    /// Type 7.
    String(String),
    /// Type 8: milliseconds since the Unix epoch.
    Timestamp(i64),
    /// Type 9.
    Uuid([u8; 16]),
}

impl HeaderValue {
    /// The string, when this is a string header.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            HeaderValue::String(s) => Some(s),
            _ => None,
        }
    }

    fn type_id(&self) -> u8 {
        match self {
            HeaderValue::Bool(true) => 0,
            HeaderValue::Bool(false) => 1,
            HeaderValue::Byte(_) => 2,
            HeaderValue::Short(_) => 3,
            HeaderValue::Int(_) => 4,
            HeaderValue::Long(_) => 5,
            HeaderValue::ByteArray(_) => 6,
            HeaderValue::String(_) => 7,
            HeaderValue::Timestamp(_) => 8,
            HeaderValue::Uuid(_) => 9,
        }
    }

    /// Bytes this value takes after its type byte.
    fn encoded_len(&self) -> usize {
        match self {
            HeaderValue::Bool(_) => 0,
            HeaderValue::Byte(_) => 1,
            HeaderValue::Short(_) => 2,
            HeaderValue::Int(_) => 4,
            HeaderValue::Long(_) | HeaderValue::Timestamp(_) => 8,
            HeaderValue::ByteArray(b) => 2 + b.len(),
            HeaderValue::String(s) => 2 + s.len(),
            HeaderValue::Uuid(_) => 16,
        }
    }
}

/// One header; order is kept as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name, 1 to 255 bytes of UTF-8.
    pub name: String,
    /// The value.
    pub value: HeaderValue,
}

impl Header {
    /// A string header.
    pub fn string(name: &str, value: &str) -> Header {
        Header {
            name: name.to_string(),
            value: HeaderValue::String(value.to_string()),
        }
    }
}

/// One EventStream message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Headers in wire order.
    pub headers: Vec<Header>,
    /// The payload (JSON for every Bedrock event).
    pub payload: Bytes,
}

impl Message {
    /// An event as AWS sends them: `:event-type`, `:content-type: application/json`,
    /// `:message-type: event`, in that order (the order real captures show).
    pub fn event(event_type: &str, payload: impl Into<Bytes>) -> Message {
        Message {
            headers: vec![
                Header::string(":event-type", event_type),
                Header::string(":content-type", "application/json"),
                Header::string(":message-type", "event"),
            ],
            payload: payload.into(),
        }
    }

    /// A modelled in-stream error: `:exception-type`, `:content-type:
    /// application/json`, `:message-type: exception`; SDKs raise it as that type.
    pub fn exception(exception_type: &str, payload: impl Into<Bytes>) -> Message {
        Message {
            headers: vec![
                Header::string(":exception-type", exception_type),
                Header::string(":content-type", "application/json"),
                Header::string(":message-type", "exception"),
            ],
            payload: payload.into(),
        }
    }

    /// The first header with this name.
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| &h.value)
    }

    /// The first header with this name, when it is a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(HeaderValue::as_str)
    }
}

/// Append `msg` to `dst`. Fails (writing nothing) when a name, value or the whole
/// message is too long for the format or for [`DEFAULT_MAX_MESSAGE`].
pub fn encode(msg: &Message, dst: &mut BytesMut) -> Result<(), Error> {
    let mut headers_len = 0usize;
    for h in &msg.headers {
        if h.name.is_empty() || h.name.len() > usize::from(u8::MAX) {
            return Err(Error::Unencodable("header names must be 1 to 255 bytes"));
        }
        match &h.value {
            HeaderValue::ByteArray(b) if b.len() > usize::from(u16::MAX) => {
                return Err(Error::Unencodable(
                    "byte-array header longer than 65535 bytes",
                ))
            }
            HeaderValue::String(s) if s.len() > usize::from(u16::MAX) => {
                return Err(Error::Unencodable("string header longer than 65535 bytes"))
            }
            _ => {}
        }
        headers_len += 1 + h.name.len() + 1 + h.value.encoded_len();
    }
    if headers_len > MAX_HEADERS_LEN {
        return Err(Error::Unencodable("headers longer than 128 KiB"));
    }
    let total = MIN_MESSAGE_LEN + headers_len + msg.payload.len();
    if total > DEFAULT_MAX_MESSAGE {
        return Err(Error::Unencodable("message longer than 16 MiB"));
    }
    // Both lengths fit in u32: they are bounded by the checks just above.
    let (total32, headers32) = (total as u32, headers_len as u32);

    let start = dst.len();
    dst.reserve(total);
    dst.put_u32(total32);
    dst.put_u32(headers32);
    let prelude_crc = crc32fast::hash(&dst[start..start + 8]);
    dst.put_u32(prelude_crc);
    for h in &msg.headers {
        dst.put_u8(h.name.len() as u8);
        dst.put_slice(h.name.as_bytes());
        dst.put_u8(h.value.type_id());
        match &h.value {
            HeaderValue::Bool(_) => {}
            HeaderValue::Byte(v) => dst.put_i8(*v),
            HeaderValue::Short(v) => dst.put_i16(*v),
            HeaderValue::Int(v) => dst.put_i32(*v),
            HeaderValue::Long(v) | HeaderValue::Timestamp(v) => dst.put_i64(*v),
            HeaderValue::ByteArray(b) => {
                dst.put_u16(b.len() as u16);
                dst.put_slice(b);
            }
            HeaderValue::String(s) => {
                dst.put_u16(s.len() as u16);
                dst.put_slice(s.as_bytes());
            }
            HeaderValue::Uuid(u) => dst.put_slice(u),
        }
    }
    dst.put_slice(&msg.payload);
    let message_crc = crc32fast::hash(&dst[start..]);
    dst.put_u32(message_crc);
    Ok(())
}

/// Encode `msg` into a fresh buffer.
pub fn encode_to_bytes(msg: &Message) -> Result<Bytes, Error> {
    let mut dst = BytesMut::new();
    encode(msg, &mut dst)?;
    Ok(dst.freeze())
}

/// Incremental EventStream decoder.
#[derive(Debug, Clone)]
pub struct EventStreamDecoder {
    max_message: usize,
}

impl Default for EventStreamDecoder {
    fn default() -> Self {
        EventStreamDecoder::new()
    }
}

impl EventStreamDecoder {
    /// A decoder that accepts messages up to [`DEFAULT_MAX_MESSAGE`].
    pub fn new() -> EventStreamDecoder {
        EventStreamDecoder::with_max_message(DEFAULT_MAX_MESSAGE)
    }

    /// A decoder that rejects any message announcing more than `max_message` bytes.
    pub fn with_max_message(max_message: usize) -> EventStreamDecoder {
        EventStreamDecoder { max_message }
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    v.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(v)
}

impl Decoder for EventStreamDecoder {
    type Item = Message;

    /// On an error nothing is consumed; the stream cannot be resynchronised.
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, Error> {
        if buf.len() < PRELUDE_LEN {
            return Ok(None);
        }
        let total = be_u32(buf, 0);
        let headers = be_u32(buf, 4);
        let expected = be_u32(buf, 8);
        let computed = crc32fast::hash(&buf[..8]);
        if expected != computed {
            return Err(Error::PreludeCrc { expected, computed });
        }
        let (total_len, headers_len) = (total as usize, headers as usize);
        if total_len < MIN_MESSAGE_LEN
            || headers_len > total_len - MIN_MESSAGE_LEN
            || headers_len > MAX_HEADERS_LEN
        {
            return Err(Error::InvalidPrelude { total, headers });
        }
        if total_len > self.max_message {
            return Err(Error::FrameTooLarge {
                len: total_len,
                max: self.max_message,
            });
        }
        if buf.len() < total_len {
            return Ok(None);
        }
        let crc_at = total_len - 4;
        let expected = be_u32(buf, crc_at);
        let computed = crc32fast::hash(&buf[..crc_at]);
        if expected != computed {
            return Err(Error::MessageCrc { expected, computed });
        }
        let payload_at = PRELUDE_LEN + headers_len;
        let parsed = parse_headers(&buf[PRELUDE_LEN..payload_at])?;
        let frame = buf.split_to(total_len).freeze();
        Ok(Some(Message {
            headers: parsed,
            payload: frame.slice(payload_at..crc_at),
        }))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, Error> {
        match self.decode(buf)? {
            Some(m) => Ok(Some(m)),
            None if buf.is_empty() => Ok(None),
            None => Err(Error::Truncated {
                buffered: buf.len(),
            }),
        }
    }
}

/// A cursor over the header block that refuses to read past its end.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(Error::InvalidHeader(
                "a header runs past the end of the header block",
            ));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u16(&mut self) -> Result<usize, Error> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }
}

fn parse_headers(block: &[u8]) -> Result<Vec<Header>, Error> {
    let mut c = Cursor(block);
    let mut out = Vec::new();
    while !c.0.is_empty() {
        let name_len = usize::from(c.array::<1>()?[0]);
        if name_len == 0 {
            return Err(Error::InvalidHeader("empty header name"));
        }
        let name = std::str::from_utf8(c.take(name_len)?)
            .map_err(|_| Error::InvalidHeader("header name is not UTF-8"))?
            .to_string();
        let value = match c.array::<1>()?[0] {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(i8::from_be_bytes(c.array()?)),
            3 => HeaderValue::Short(i16::from_be_bytes(c.array()?)),
            4 => HeaderValue::Int(i32::from_be_bytes(c.array()?)),
            5 => HeaderValue::Long(i64::from_be_bytes(c.array()?)),
            6 => {
                let n = c.u16()?;
                HeaderValue::ByteArray(Bytes::copy_from_slice(c.take(n)?))
            }
            7 => {
                let n = c.u16()?;
                let s = std::str::from_utf8(c.take(n)?)
                    .map_err(|_| Error::InvalidHeader("string header is not UTF-8"))?;
                HeaderValue::String(s.to_string())
            }
            8 => HeaderValue::Timestamp(i64::from_be_bytes(c.array()?)),
            9 => HeaderValue::Uuid(c.array()?),
            other => return Err(Error::UnknownHeaderType(other)),
        };
        out.push(Header { name, value });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::testing::{chunk_sizes, decode_chunked, goldens, Rng};
    use crate::codec::{decode_all, FrameCounter};
    use base64::Engine;

    /// A frame with the given header block and payload, a possibly lying headers
    /// length, and both CRCs correct: the hard case for bounds checks.
    fn raw(headers_len_field: u32, headers: &[u8], payload: &[u8]) -> Vec<u8> {
        let total = (MIN_MESSAGE_LEN + headers.len() + payload.len()) as u32;
        raw_with_total(total, headers_len_field, headers, payload)
    }

    fn raw_with_total(
        total: u32,
        headers_len_field: u32,
        headers: &[u8],
        payload: &[u8],
    ) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&headers_len_field.to_be_bytes());
        let c = crc32fast::hash(&v);
        v.extend_from_slice(&c.to_be_bytes());
        v.extend_from_slice(headers);
        v.extend_from_slice(payload);
        let c = crc32fast::hash(&v);
        v.extend_from_slice(&c.to_be_bytes());
        v
    }

    fn decode_one(bytes: &[u8]) -> Result<Option<Message>, Error> {
        EventStreamDecoder::new().decode(&mut BytesMut::from(bytes))
    }

    #[test]
    fn every_golden_eventstream_decodes_the_same_whole_and_in_every_chunk_size() {
        for (path, bytes) in goldens("eventstream") {
            let whole = decode_all(&mut EventStreamDecoder::new(), &bytes).unwrap();
            assert!(!whole.is_empty(), "{}", path.display());
            for size in chunk_sizes() {
                let chunked = decode_chunked(EventStreamDecoder::new(), &bytes, size).unwrap();
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
    fn every_golden_eventstream_re_encodes_to_the_identical_bytes() {
        for (path, bytes) in goldens("eventstream") {
            let mut out = BytesMut::new();
            for m in decode_all(&mut EventStreamDecoder::new(), &bytes).unwrap() {
                encode(&m, &mut out).unwrap();
            }
            assert!(
                out[..] == bytes[..],
                "{} re-encodes differently",
                path.display()
            );
        }
    }

    #[test]
    fn every_golden_message_is_a_json_event_and_chunks_wrap_base64_json() {
        for (path, bytes) in goldens("eventstream") {
            for m in decode_all(&mut EventStreamDecoder::new(), &bytes).unwrap() {
                assert_eq!(
                    m.header_str(":message-type"),
                    Some("event"),
                    "{}",
                    path.display()
                );
                assert_eq!(m.header_str(":content-type"), Some("application/json"));
                let event = m.header_str(":event-type").expect(":event-type is present");
                let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
                if event == "chunk" {
                    let b64 = v["bytes"].as_str().expect("chunk payloads carry bytes");
                    let inner = base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap();
                    let inner: serde_json::Value = serde_json::from_slice(&inner).unwrap();
                    assert!(inner.is_object(), "{}", path.display());
                }
            }
        }
    }

    #[test]
    fn every_header_type_round_trips() {
        let msg = Message {
            headers: vec![
                Header {
                    name: "t".into(),
                    value: HeaderValue::Bool(true),
                },
                Header {
                    name: "f".into(),
                    value: HeaderValue::Bool(false),
                },
                Header {
                    name: "b".into(),
                    value: HeaderValue::Byte(-7),
                },
                Header {
                    name: "s".into(),
                    value: HeaderValue::Short(-300),
                },
                Header {
                    name: "i".into(),
                    value: HeaderValue::Int(70_000),
                },
                Header {
                    name: "l".into(),
                    value: HeaderValue::Long(-(1 << 40)),
                },
                Header {
                    name: "a".into(),
                    value: HeaderValue::ByteArray(Bytes::from_static(b"\x00\xff")),
                },
                Header::string("str", "héllo"),
                Header {
                    name: "ts".into(),
                    value: HeaderValue::Timestamp(1_700_000_000_123),
                },
                Header {
                    name: "u".into(),
                    value: HeaderValue::Uuid([9; 16]),
                },
            ],
            payload: Bytes::from_static(b"{}"),
        };
        let bytes = encode_to_bytes(&msg).unwrap();
        assert_eq!(decode_one(&bytes).unwrap(), Some(msg.clone()));
        for size in [1, 3, 5] {
            assert_eq!(
                decode_chunked(EventStreamDecoder::new(), &bytes, size).unwrap(),
                vec![msg.clone()]
            );
        }
    }

    #[test]
    fn event_and_exception_constructors_set_the_headers_sdks_read() {
        let e = Message::event("chunk", &b"{}"[..]);
        assert_eq!(e.header_str(":event-type"), Some("chunk"));
        assert_eq!(e.header_str(":message-type"), Some("event"));
        let x = Message::exception("throttlingException", &b"{\"message\":\"m\"}"[..]);
        assert_eq!(x.header_str(":exception-type"), Some("throttlingException"));
        assert_eq!(x.header_str(":message-type"), Some("exception"));
        assert_eq!(x.header_str(":content-type"), Some("application/json"));
        assert_eq!(decode_one(&encode_to_bytes(&x).unwrap()).unwrap(), Some(x));
    }

    #[test]
    fn every_prefix_of_a_message_waits_and_is_truncated_at_eof() {
        let bytes = encode_to_bytes(&Message::event("chunk", &b"{\"a\":1}"[..])).unwrap();
        for n in 1..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..n]);
            let mut d = EventStreamDecoder::new();
            assert_eq!(d.decode(&mut buf), Ok(None), "prefix {n}");
            assert_eq!(
                d.decode_eof(&mut buf),
                Err(Error::Truncated { buffered: n })
            );
        }
    }

    #[test]
    fn changing_any_single_byte_of_a_message_is_an_error() {
        let (_, golden) = &goldens("eventstream")[0];
        let first_len = be_u32(golden, 0) as usize;
        let msg = &golden[..first_len];
        for i in 0..msg.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut m = msg.to_vec();
                m[i] ^= flip;
                let r = decode_one(&m);
                assert!(r.is_err(), "byte {i} ^ {flip:#x} gave {r:?}");
            }
        }
    }

    #[test]
    fn a_lying_headers_length_with_valid_crcs_is_an_error_not_a_panic() {
        let headers = {
            let mut b = BytesMut::new();
            encode(&Message::event("x", Bytes::new()), &mut b).unwrap();
            b[PRELUDE_LEN..b.len() - 4].to_vec()
        };
        let payload = b"{\"hello\":\"world\"}";
        // Longer than the frame can hold.
        assert!(matches!(
            decode_one(&raw(10_000, &headers, payload)),
            Err(Error::InvalidPrelude { .. })
        ));
        assert!(decode_one(&raw(u32::MAX, &headers, payload)).is_err());
        // Within the frame, but cutting a header or swallowing the payload as headers.
        for lie in [1, 5, headers.len() as u32 - 1, headers.len() as u32 + 3] {
            assert!(
                decode_one(&raw(lie, &headers, payload)).is_err(),
                "headers length {lie}"
            );
        }
        // The honest frame decodes.
        assert!(decode_one(&raw(headers.len() as u32, &headers, payload))
            .unwrap()
            .is_some());
    }

    #[test]
    fn lying_total_lengths_are_errors_and_never_waited_for() {
        for total in [0u32, 1, 15] {
            let r = decode_one(&raw_with_total(total, 0, b"", b""));
            assert!(
                matches!(r, Err(Error::InvalidPrelude { .. })),
                "total {total}: {r:?}"
            );
        }
        // A huge announced length fails at once instead of buffering 4 GiB.
        let r = decode_one(&raw_with_total(u32::MAX, 0, b"", b""));
        assert!(matches!(r, Err(Error::FrameTooLarge { .. })), "{r:?}");
        let small = EventStreamDecoder::with_max_message(64)
            .decode(&mut BytesMut::from(&raw(0, b"", &[b'x'; 100])[..]));
        assert!(matches!(
            small,
            Err(Error::FrameTooLarge { len: 116, max: 64 })
        ));
    }

    #[test]
    fn malformed_header_blocks_with_valid_crcs_are_errors() {
        let cases: Vec<&[u8]> = vec![
            b"\x05ab",                    // name runs past the block
            b"\x00\x07",                  // empty name
            b"\x01a\x07\x00\x09abc",      // string length past the block
            b"\x01a\x06\xff\xff",         // byte-array length past the block
            b"\x01a\x04\x00\x01",         // int cut short
            b"\x01a\x09\x00",             // uuid cut short
            b"\x01a\x0a",                 // unknown type
            b"\x01a",                     // no type byte
            b"\x02\xff\xfe\x00",          // name not UTF-8
            b"\x01a\x07\x00\x02\xc3\x28", // string not UTF-8
        ];
        for h in cases {
            let r = decode_one(&raw(h.len() as u32, h, b"{}"));
            assert!(r.is_err(), "{h:?} gave {r:?}");
        }
    }

    #[test]
    fn frame_counter_reports_message_ends() {
        let (_, golden) = &goldens("eventstream")[0];
        let whole = decode_all(&mut EventStreamDecoder::new(), golden).unwrap();
        let mut c = FrameCounter::new(EventStreamDecoder::new());
        for piece in golden.chunks(7) {
            c.push(piece).unwrap();
        }
        c.finish().unwrap();
        assert_eq!(c.count(), whole.len());
        assert_eq!(*c.ends().last().unwrap(), golden.len() as u64);
    }

    #[test]
    fn random_input_never_panics_and_whatever_decodes_re_encodes_identically() {
        let mut rng = Rng(0xE7E7_57AE);
        for round in 0..2000 {
            // Pure noise, then noise wrapped in a valid prelude and CRCs.
            let len = rng.below(200);
            let noise = rng.bytes(len);
            let _ = decode_chunked(EventStreamDecoder::new(), &noise, 1 + round % 11);
            let hlen = rng.below(len + 1);
            let (h, p) = noise.split_at(hlen);
            let framed = raw(hlen as u32, h, p);
            if let Ok(Some(m)) = decode_one(&framed) {
                assert_eq!(&encode_to_bytes(&m).unwrap()[..], &framed[..]);
            }
        }
    }

    #[test]
    fn unencodable_messages_are_errors() {
        let long_name = Message {
            headers: vec![Header::string(&"n".repeat(256), "v")],
            payload: Bytes::new(),
        };
        assert!(encode_to_bytes(&long_name).is_err());
        let long_value = Message {
            headers: vec![Header::string("n", &"v".repeat(70_000))],
            payload: Bytes::new(),
        };
        assert!(encode_to_bytes(&long_value).is_err());
        let huge = Message::event("x", vec![0u8; DEFAULT_MAX_MESSAGE]);
        assert!(encode_to_bytes(&huge).is_err());
    }
}

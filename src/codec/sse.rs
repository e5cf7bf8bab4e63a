//! Server-sent events (`text/event-stream`): an encoder and an incremental decoder.
//!
//! The decoder follows the WHATWG parsing rules: lines end in LF, CRLF or a lone CR (a
//! CRLF split across two reads is still one line end); a blank line dispatches the
//! event; `data:` lines are joined with "\n"; one optional space after the colon is
//! removed; lines starting with `:` are comments; an event with no `data:` line is not
//! dispatched; a leading UTF-8 BOM is dropped. Lines are decoded only once complete, so
//! a multi-byte character split across reads is never cut (a line terminator byte can
//! never sit inside a UTF-8 sequence); invalid UTF-8 becomes U+FFFD as the spec says.
//!
//! Not here: what an event means (`providers::*`), `retry:` handling (we never
//! reconnect), and the persistence of `id:` across events (each [`SseEvent`] carries
//! only the id its own block set; a recorder wants what was on the wire).

use bytes::{Buf, BytesMut};

use super::{Decoder, Error};

/// The largest line or event the decoder buffers before giving up (16 MiB).
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if the block had one (`Some("")` for a bare `event:`).
    pub event: Option<String>,
    /// Every `data:` line of the block joined with "\n".
    pub data: String,
    /// The `id:` field, if this block set one.
    pub id: Option<String>,
}

/// The line terminator an encoder writes. Decoding accepts all three forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineEnd {
    /// `\n`, what most providers send.
    #[default]
    Lf,
    /// `\r\n`, what Gemini's `alt=sse` sends.
    CrLf,
}

impl LineEnd {
    fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnd::Lf => b"\n",
            LineEnd::CrLf => b"\r\n",
        }
    }
}

/// Encode `event` with LF line ends.
pub fn encode(event: &SseEvent, dst: &mut BytesMut) {
    encode_with(event, LineEnd::Lf, dst);
}

/// Encode a data-only event (`data: ...` then a blank line).
pub fn encode_data(data: &str, dst: &mut BytesMut) {
    write_data(data, LineEnd::Lf, dst);
    dst.extend_from_slice(b"\n");
}

/// Encode a named event (`event: ...`, `data: ...`, blank line).
pub fn encode_event(event: &str, data: &str, dst: &mut BytesMut) {
    write_field(b"event", event, LineEnd::Lf, dst);
    write_data(data, LineEnd::Lf, dst);
    dst.extend_from_slice(b"\n");
}

/// Encode `event` with the given line ends: `event:`, `id:`, then one `data:` line per
/// line of `data` (so data holding newlines survives), then a blank line.
///
/// Event names and ids cannot hold line breaks on the wire; any CR or LF in them is
/// dropped rather than allowed to inject a field.
pub fn encode_with(event: &SseEvent, line_end: LineEnd, dst: &mut BytesMut) {
    if let Some(name) = &event.event {
        write_field(b"event", name, line_end, dst);
    }
    if let Some(id) = &event.id {
        write_field(b"id", id, line_end, dst);
    }
    write_data(&event.data, line_end, dst);
    dst.extend_from_slice(line_end.as_bytes());
}

/// True when `s` holds no line break: every event name, and every payload of compact
/// JSON, so the fast paths below copy it whole instead of splitting it (each `contains`
/// is a `memchr`).
fn one_line(s: &str) -> bool {
    !s.contains('\n') && !s.contains('\r')
}

fn write_field(name: &[u8], value: &str, line_end: LineEnd, dst: &mut BytesMut) {
    dst.reserve(name.len() + value.len() + 4);
    dst.extend_from_slice(name);
    dst.extend_from_slice(b": ");
    if one_line(value) {
        dst.extend_from_slice(value.as_bytes());
    } else {
        for part in value.split(['\r', '\n']) {
            dst.extend_from_slice(part.as_bytes());
        }
    }
    dst.extend_from_slice(line_end.as_bytes());
}

fn write_data(data: &str, line_end: LineEnd, dst: &mut BytesMut) {
    if one_line(data) {
        dst.reserve(data.len() + 10);
        dst.extend_from_slice(b"data: ");
        dst.extend_from_slice(data.as_bytes());
        dst.extend_from_slice(line_end.as_bytes());
        return;
    }
    // "\r\n" first so it is one break, then lone "\r" and "\n": the decoder's rules.
    let normalised;
    let data = if data.contains('\r') {
        normalised = data.replace("\r\n", "\n").replace('\r', "\n");
        normalised.as_str()
    } else {
        data
    };
    for line in data.split('\n') {
        dst.extend_from_slice(b"data: ");
        dst.extend_from_slice(line.as_bytes());
        dst.extend_from_slice(line_end.as_bytes());
    }
}

/// Incremental SSE decoder. Feed it a buffer you keep appending to.
#[derive(Debug, Clone)]
pub struct SseDecoder {
    max_frame: usize,
    /// Bytes at the front of the buffer already searched for a line end; a long line
    /// arriving a byte at a time is then scanned once, not once per read.
    scanned: usize,
    /// The last line ended in CR at the very end of the buffer: an LF that arrives
    /// next belongs to that line end, not to a new empty line.
    skip_lf: bool,
    /// Whether the start of the stream was checked for a BOM.
    bom_checked: bool,
    event: Option<String>,
    id: Option<String>,
    data: String,
    data_lines: usize,
    /// Bytes of the event being assembled, for the size cap.
    pending: usize,
}

impl Default for SseDecoder {
    fn default() -> Self {
        SseDecoder::new()
    }
}

impl SseDecoder {
    /// A decoder with the default 16 MiB cap.
    pub fn new() -> SseDecoder {
        SseDecoder::with_max_frame(DEFAULT_MAX_FRAME)
    }

    /// A decoder that fails once a line or an event exceeds `max_frame` bytes.
    pub fn with_max_frame(max_frame: usize) -> SseDecoder {
        SseDecoder {
            max_frame,
            scanned: 0,
            skip_lf: false,
            bom_checked: false,
            event: None,
            id: None,
            data: String::new(),
            data_lines: 0,
            pending: 0,
        }
    }

    /// Handle one complete line (without its terminator); `Some` when it dispatched.
    fn line(&mut self, line: &[u8]) -> Result<Option<SseEvent>, Error> {
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        self.pending += line.len();
        if self.pending > self.max_frame {
            return Err(Error::FrameTooLarge {
                len: self.pending,
                max: self.max_frame,
            });
        }
        if line[0] == b':' {
            return Ok(None);
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"event" => self.event = Some(value.into_owned()),
            b"data" => {
                self.data.push_str(&value);
                self.data.push('\n');
                self.data_lines += 1;
            }
            // The spec ignores ids holding NUL.
            b"id" if !value.contains('\0') => self.id = Some(value.into_owned()),
            _ => {}
        }
        Ok(None)
    }

    /// A blank line: emit the assembled event if it had data, and reset.
    fn dispatch(&mut self) -> Option<SseEvent> {
        self.pending = 0;
        if self.data_lines == 0 {
            self.event = None;
            self.id = None;
            return None;
        }
        self.data_lines = 0;
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the "\n" after the last data line
        Some(SseEvent {
            event: self.event.take(),
            data,
            id: self.id.take(),
        })
    }
}

impl Decoder for SseDecoder {
    type Item = SseEvent;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<SseEvent>, Error> {
        if !self.bom_checked {
            if buf.len() < BOM.len() && BOM.starts_with(buf) {
                return Ok(None);
            }
            if buf.starts_with(BOM) {
                buf.advance(BOM.len());
            }
            self.bom_checked = true;
        }
        loop {
            if self.skip_lf {
                let Some(&first) = buf.first() else {
                    return Ok(None);
                };
                if first == b'\n' {
                    buf.advance(1);
                }
                self.skip_lf = false;
            }
            let Some(i) = buf[self.scanned..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map(|i| i + self.scanned)
            else {
                self.scanned = buf.len();
                if self.pending + buf.len() > self.max_frame {
                    return Err(Error::FrameTooLarge {
                        len: self.pending + buf.len(),
                        max: self.max_frame,
                    });
                }
                return Ok(None);
            };
            self.scanned = 0;
            let line = buf.split_to(i);
            let was_cr = buf[0] == b'\r';
            buf.advance(1);
            if was_cr {
                match buf.first() {
                    Some(b'\n') => buf.advance(1),
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            if let Some(ev) = self.line(&line)? {
                return Ok(Some(ev));
            }
        }
    }

    /// At the end of the stream an unterminated last line still counts, and an event
    /// that lacks only its closing blank line is dispatched. Browsers drop such an
    /// event; we keep it, because a recorder wants everything the upstream sent.
    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<SseEvent>, Error> {
        if let Some(ev) = self.decode(buf)? {
            return Ok(Some(ev));
        }
        self.bom_checked = true;
        self.skip_lf = false;
        self.scanned = 0;
        if !buf.is_empty() {
            let line = buf.split();
            if let Some(ev) = self.line(&line)? {
                return Ok(Some(ev));
            }
        }
        Ok(self.dispatch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::testing::{chunk_sizes, decode_chunked, goldens, Rng};
    use crate::codec::{decode_all, FrameCounter};

    fn decode_str(s: &str) -> Vec<SseEvent> {
        decode_all(&mut SseDecoder::new(), s.as_bytes()).unwrap()
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(String::from),
            data: data.to_string(),
            id: None,
        }
    }

    /// A deliberately naive second opinion: normalise line ends, split on blank lines,
    /// count blocks that hold a data line.
    fn naive_event_count(bytes: &[u8]) -> usize {
        let text = String::from_utf8_lossy(bytes)
            .replace("\r\n", "\n")
            .replace('\r', "\n");
        text.split("\n\n")
            .filter(|block| block.lines().any(|l| l.starts_with("data")))
            .count()
    }

    #[test]
    fn every_golden_sse_capture_decodes_the_same_whole_and_in_every_chunk_size() {
        for (path, bytes) in goldens("sse") {
            let whole = decode_all(&mut SseDecoder::new(), &bytes).unwrap();
            assert!(!whole.is_empty(), "{}", path.display());
            assert_eq!(whole.len(), naive_event_count(&bytes), "{}", path.display());
            for size in chunk_sizes() {
                let chunked = decode_chunked(SseDecoder::new(), &bytes, size).unwrap();
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
    fn every_golden_sse_event_carries_json_data_except_done() {
        for (path, bytes) in goldens("sse") {
            for e in decode_all(&mut SseDecoder::new(), &bytes).unwrap() {
                if e.data == "[DONE]" {
                    continue;
                }
                let parsed: Result<serde_json::Value, _> = serde_json::from_str(&e.data);
                assert!(parsed.is_ok(), "{}: {:?}", path.display(), e.data);
            }
        }
    }

    #[test]
    fn golden_sse_captures_decode_identically_with_lf_crlf_and_cr_line_ends() {
        for (path, bytes) in goldens("sse") {
            let text = String::from_utf8(bytes).unwrap();
            let lf = text.replace("\r\n", "\n");
            let crlf = lf.replace('\n', "\r\n");
            let cr = lf.replace('\n', "\r");
            let want = decode_str(&lf);
            for variant in [&crlf, &cr] {
                for size in [1, 2, 3, 7, 64] {
                    let got = decode_chunked(SseDecoder::new(), variant.as_bytes(), size).unwrap();
                    assert_eq!(got, want, "{} at {size}", path.display());
                }
            }
        }
    }

    #[test]
    fn encoded_golden_events_decode_back_to_themselves() {
        for (path, bytes) in goldens("sse") {
            let events = decode_all(&mut SseDecoder::new(), &bytes).unwrap();
            let mut out = BytesMut::new();
            for e in &events {
                encode(e, &mut out);
            }
            assert_eq!(
                decode_all(&mut SseDecoder::new(), &out).unwrap(),
                events,
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines_and_one_space_is_removed() {
        let got = decode_str("event: e\ndata:  two spaces\ndata:none\ndata\n\n");
        assert_eq!(got, vec![ev(Some("e"), " two spaces\nnone\n")]);
    }

    #[test]
    fn comments_and_blocks_without_data_are_not_events() {
        let got = decode_str(": keep-alive\n\nevent: lonely\n\nretry: 10\nid: 7\ndata: x\n\n");
        assert_eq!(
            got,
            vec![SseEvent {
                event: None,
                data: "x".into(),
                id: Some("7".into())
            }]
        );
    }

    #[test]
    fn a_crlf_split_across_reads_is_one_line_end_not_an_extra_blank_line() {
        let mut d = SseDecoder::new();
        let mut buf = BytesMut::from(&b"data: a\r"[..]);
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"\ndata: b\r");
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"\n\r");
        // The blank line's CR dispatches at once; its LF may still be on its way.
        assert_eq!(d.decode(&mut buf).unwrap(), Some(ev(None, "a\nb")));
        buf.extend_from_slice(b"\ndata: c\r\n\r\n");
        assert_eq!(d.decode(&mut buf).unwrap(), Some(ev(None, "c")));
        assert!(buf.is_empty());
    }

    #[test]
    fn a_multibyte_character_split_at_any_byte_survives() {
        let text = "data: héllo wörld ✓ 🦀\n\n";
        for size in 1..8 {
            let got = decode_chunked(SseDecoder::new(), text.as_bytes(), size).unwrap();
            assert_eq!(got, vec![ev(None, "héllo wörld ✓ 🦀")]);
        }
    }

    #[test]
    fn a_leading_bom_is_dropped_even_when_split() {
        let bytes = b"\xEF\xBB\xBFdata: x\n\n";
        for size in 1..4 {
            assert_eq!(
                decode_chunked(SseDecoder::new(), bytes, size).unwrap(),
                vec![ev(None, "x")]
            );
        }
    }

    #[test]
    fn an_event_missing_its_final_blank_line_is_kept_at_eof() {
        assert_eq!(
            decode_str("data: a\n\ndata: b"),
            vec![ev(None, "a"), ev(None, "b")]
        );
        assert_eq!(
            decode_str("data: a\n\ndata: b\n"),
            vec![ev(None, "a"), ev(None, "b")]
        );
        assert_eq!(decode_str("data: a\n\n: comment"), vec![ev(None, "a")]);
    }

    #[test]
    fn encoders_write_the_wire_forms_providers_use() {
        let mut out = BytesMut::new();
        encode_data("{\"a\":1}", &mut out);
        encode_event("message_stop", "{}", &mut out);
        assert_eq!(
            &out[..],
            b"data: {\"a\":1}\n\nevent: message_stop\ndata: {}\n\n"
        );
        let mut out = BytesMut::new();
        let e = SseEvent {
            event: Some("bad\nname".into()),
            data: "one\ntwo\r\nthree".into(),
            id: None,
        };
        encode_with(&e, LineEnd::CrLf, &mut out);
        assert_eq!(
            &out[..],
            b"event: badname\r\ndata: one\r\ndata: two\r\ndata: three\r\n\r\n"
        );
        assert_eq!(
            decode_str(std::str::from_utf8(&out).unwrap())[0].data,
            "one\ntwo\nthree"
        );
    }

    #[test]
    fn frame_counter_reports_where_each_event_ends() {
        let stream = b"data: a\n\n: ping\n\ndata: bb\n\ndata: c";
        let mut c = FrameCounter::new(SseDecoder::new());
        assert_eq!(c.push(&stream[..5]).unwrap(), 0);
        assert_eq!(c.push(&stream[5..20]).unwrap(), 1);
        assert_eq!(c.push(&stream[20..]).unwrap(), 1);
        assert_eq!(c.finish().unwrap(), 1);
        assert_eq!(c.ends(), &[9, 27, 34]);
        assert_eq!(c.count(), 3);
    }

    #[test]
    fn an_endless_line_hits_the_cap_instead_of_growing_forever() {
        let mut d = SseDecoder::with_max_frame(64);
        let mut buf = BytesMut::new();
        let mut result = Ok(None);
        for _ in 0..100 {
            buf.extend_from_slice(b"data: xxxxxxxx");
            result = d.decode(&mut buf);
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(result, Err(Error::FrameTooLarge { max: 64, .. })));
        let mut d = SseDecoder::with_max_frame(64);
        let many_lines = "data: 0123456789\n".repeat(10);
        assert!(decode_all(&mut d, many_lines.as_bytes()).is_err());
    }

    #[test]
    fn random_bytes_never_panic_the_decoder() {
        let mut rng = Rng(0x5EED_55E0);
        for round in 0..300 {
            let len = rng.below(512);
            let mut bytes = rng.bytes(len);
            // Bias towards the interesting bytes so fields and line ends actually occur.
            for b in bytes.iter_mut() {
                if *b % 5 == 0 {
                    *b = b"\r\n: da"[(*b as usize) % 6];
                }
            }
            let size = 1 + round % 17;
            let _ = decode_chunked(SseDecoder::with_max_frame(256), &bytes, size);
        }
    }
}

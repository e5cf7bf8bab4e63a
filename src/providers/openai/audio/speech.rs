//! `POST /v1/audio/speech`: the request (`input` as the user message, `model`,
//! `response_format`, `stream_format`), the reply as the fixture's audio bytes with the
//! content type of its format, or as `speech.audio.delta` / `speech.audio.done`
//! server-sent events when the request asks `stream_format: "sse"`; and a recorded
//! reply (binary audio or the SSE stream) read back as `{"audio": base64, "format"}`.
//!
//! The fixture's `format` names what its bytes are; when it names none, the request's
//! `response_format` is taken to (then `mp3`, as the reference assumes).

use bytes::Bytes;

use crate::cassette::model::MediaReply;
use serde_json::{json, Value};

use crate::codec::sse;
use crate::providers::common::collapse::{decode_prefix, Collapsed};
use crate::providers::common::media::{
    audio_content_type, audio_format_of, b64_decode, b64_encode, known_content_type, AUDIO_FORMATS,
};
use crate::providers::common::upload::{invalid_value, missing};
use crate::providers::common::{
    estimate_tokens, json_body, FrameWriter, ParseError, PlanBody, RenderPlan,
};
use crate::request::{ChatRequest, Endpoint, MediaHints, Message, Role};

/// The model a request that names none is matched as.
const DEFAULT_MODEL: &str = "tts-1";

/// Decoded audio bytes per `speech.audio.delta` event.
const DELTA_BYTES: usize = 8 * 1024;

/// Parse a speech request.
pub fn parse_request(
    body: &[u8],
    azure_deployment: Option<&str>,
) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let text = |k: &str| o.get(k).and_then(Value::as_str).map(String::from);
    let Some(input) = text("input").filter(|i| !i.is_empty()) else {
        return Err(missing("input"));
    };
    let mut hints = MediaHints::default();
    if let Some(f) = text("response_format") {
        let names: Vec<&str> = AUDIO_FORMATS.iter().map(|(n, _)| *n).collect();
        if !names.contains(&f.as_str()) {
            return Err(invalid_value("response_format", &f, &names));
        }
        hints.format = Some(f);
    }
    match text("stream_format").as_deref() {
        None | Some("audio") => {}
        Some("sse") => hints.sse = true,
        Some(other) => return Err(invalid_value("stream_format", other, &["sse", "audio"])),
    }
    let mut req = ChatRequest::new(Endpoint::Speech, body);
    req.model = Some(
        text("model")
            .or_else(|| azure_deployment.map(String::from))
            .unwrap_or_else(|| DEFAULT_MODEL.into()),
    );
    req.messages.push(Message::text(Role::User, input));
    req.hints.media = Some(Box::new(hints));
    Ok(req)
}

/// The audio bytes of an `audio` fixture (decoded once per fixture, then shared) and
/// their content type.
fn audio_of(v: &MediaReply, req: &ChatRequest) -> Result<(Bytes, &'static str), String> {
    let asked = req.hints.media.as_deref().and_then(|h| h.format.as_deref());
    let ct = match v.get("audio") {
        Some(Value::String(_)) => {
            let format = v
                .get("format")
                .and_then(Value::as_str)
                .or(asked)
                .unwrap_or("mp3");
            audio_content_type(format)
        }
        Some(Value::Object(o)) => o
            .get("contentType")
            .and_then(Value::as_str)
            .and_then(known_content_type)
            .unwrap_or_else(|| audio_content_type(asked.unwrap_or("mp3"))),
        _ => return Err("Fixture audio reply holds no audio".into()),
    };
    let bytes = v
        .payload(|json| b64_decode(audio_b64(json)))
        .ok_or("Fixture audio is not valid base64")?;
    Ok((bytes, ct))
}

/// The base64 text of an `audio` fixture: `audio` itself, or `audio.b64Json`.
fn audio_b64(v: &Value) -> &str {
    match v.get("audio") {
        Some(Value::String(s)) => s,
        Some(Value::Object(o)) => o.get("b64Json").and_then(Value::as_str).unwrap_or(""),
        _ => "",
    }
}

/// Render an `audio` fixture: the bytes whole, or as speech SSE events.
pub fn render(v: &MediaReply, req: &ChatRequest) -> Result<RenderPlan, String> {
    let (bytes, ct) = audio_of(v, req)?;
    let sse = req.hints.media.as_deref().is_some_and(|h| h.sse);
    if !sse {
        return Ok(RenderPlan {
            status: 200,
            content_type: ct,
            headers: Vec::new(),
            body: PlanBody::Full(bytes),
        });
    }
    let chunks = bytes.len().div_ceil(DELTA_BYTES).max(1);
    let mut w = FrameWriter::with_capacity(bytes.len() * 4 / 3 + 64 * chunks + 128, chunks + 1);
    for chunk in bytes.chunks(DELTA_BYTES) {
        w.buf()
            .extend_from_slice(b"data: {\"type\":\"speech.audio.delta\",\"audio\":");
        w.str(&b64_encode(chunk));
        w.buf().extend_from_slice(b"}\n\n");
        w.cut(true);
    }
    let usage = match v.get("usage").filter(|u| u.is_object()) {
        Some(u) => u.clone(),
        None => {
            // Estimated: the input's tokens, and about one audio token per 1,000 bytes.
            let input = estimate_tokens(req.last_user_text().map_or(0, |t| t.chars().count()));
            let output = bytes.len().div_ceil(1000) as u64;
            json!({"input_tokens": input, "output_tokens": output, "total_tokens": input + output})
        }
    };
    w.buf().extend_from_slice(b"data: ");
    w.json(&json!({"type": "speech.audio.done", "usage": usage}));
    w.buf().extend_from_slice(b"\n\n");
    w.cut(false);
    Ok(RenderPlan::sse(w.into_frames()))
}

/// Read a recorded speech reply: binary audio (its format from the content type) or
/// the SSE stream's deltas joined.
pub fn collapse(content_type: &str, body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    let ct = content_type.to_ascii_lowercase();
    if ct.contains("event-stream") {
        let (events, err) = decode_prefix(sse::SseDecoder::new(), body);
        let mut audio = Vec::new();
        let mut usage = None;
        let mut done = false;
        for e in &events {
            let Ok(v) = serde_json::from_str::<Value>(&e.data) else {
                c.dropped += 1;
                continue;
            };
            match v.get("type").and_then(Value::as_str) {
                Some("speech.audio.delta") => {
                    match v.get("audio").and_then(Value::as_str).and_then(b64_decode) {
                        Some(b) => audio.extend_from_slice(&b),
                        None => c.dropped += 1,
                    }
                }
                Some("speech.audio.done") => {
                    done = true;
                    usage = v.get("usage").cloned();
                }
                _ => {}
            }
        }
        c.truncated = err.is_some() || !done;
        let mut r = json!({"audio": b64_encode(&audio)});
        if let Some(u) = usage {
            r["usage"] = u;
        }
        c.media = Some(r);
        return c;
    }
    if !ct.starts_with("audio/") && !ct.starts_with("application/octet-stream") {
        c.warnings.push(format!(
            "upstream speech reply is {content_type}, not audio; recorded as audio anyway"
        ));
    }
    if body.is_empty() {
        c.warnings.push("upstream speech reply is empty".into());
    }
    let mut r = json!({"audio": b64_encode(body)});
    let format = audio_format_of(content_type);
    if format != "mp3" && ct.starts_with("audio/") {
        r["format"] = format.into();
    }
    c.media = Some(r);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: &str) -> ChatRequest {
        parse_request(body.as_bytes(), None).unwrap()
    }

    #[test]
    fn input_is_required_and_formats_are_checked() {
        assert_eq!(
            parse_request(br#"{"model":"tts-1","voice":"alloy"}"#, None)
                .unwrap_err()
                .message,
            "Missing required parameter: 'input'."
        );
        assert!(parse_request(br#"{"input":"x","response_format":"ogg"}"#, None).is_err());
        assert!(parse_request(br#"{"input":"x","stream_format":"ws"}"#, None).is_err());
        assert_eq!(req(r#"{"input":"hello"}"#).model.as_deref(), Some("tts-1"));
    }

    #[test]
    fn the_bytes_go_out_as_they_are_with_their_formats_type() {
        let bytes: Vec<u8> = (0..=255).collect();
        let v = MediaReply::new(json!({"audio": b64_encode(&bytes), "format": "wav"}));
        let plan = render(&v, &req(r#"{"input":"x"}"#)).unwrap();
        assert_eq!(plan.content_type, "audio/wav");
        assert_eq!(plan.body, PlanBody::Full(Bytes::from(bytes.clone())));
        let v = MediaReply::new(json!({"audio": b64_encode(&bytes)}));
        let plan = render(&v, &req(r#"{"input":"x","response_format":"flac"}"#)).unwrap();
        assert_eq!(plan.content_type, "audio/flac");
    }

    #[test]
    fn a_fixtures_audio_is_decoded_once_and_shared_by_every_reply() {
        let bytes: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
        let v = MediaReply::new(json!({"audio": {"b64Json": b64_encode(&bytes)}}));
        let body = |plan: RenderPlan| match plan.body {
            PlanBody::Full(b) => b,
            other => panic!("{other:?}"),
        };
        let first = body(render(&v, &req(r#"{"input":"x"}"#)).unwrap());
        let second = body(render(&v, &req(r#"{"input":"y"}"#)).unwrap());
        assert_eq!(first, Bytes::from(bytes));
        assert_eq!(
            first.as_ptr(),
            second.as_ptr(),
            "the second reply copied the audio"
        );
        let broken = MediaReply::new(json!({"audio": "not base64!"}));
        for _ in 0..2 {
            let e = render(&broken, &req(r#"{"input":"x"}"#)).unwrap_err();
            assert!(e.contains("not valid base64"), "{e}");
        }
    }

    #[test]
    fn sse_deltas_join_back_to_the_bytes_and_a_recording_reads_them() {
        let bytes: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
        let v = MediaReply::new(json!({"audio": b64_encode(&bytes)}));
        let plan = render(&v, &req(r#"{"input":"x","stream_format":"sse"}"#)).unwrap();
        assert_eq!(plan.content_type, "text/event-stream");
        let PlanBody::Stream(frames) = plan.body else {
            panic!()
        };
        assert_eq!(frames.len(), 4);
        let all: Vec<u8> = frames.iter().flat_map(|f| f.bytes.to_vec()).collect();
        let c = collapse("text/event-stream", &all);
        assert!(!c.truncated);
        assert_eq!(c.media.unwrap()["audio"], b64_encode(&bytes));
    }

    #[test]
    fn a_binary_recording_keeps_its_format_unless_mp3() {
        let c = collapse("audio/wav", b"RIFF");
        assert_eq!(
            c.media.unwrap(),
            json!({"audio": "UklGRg==", "format": "wav"})
        );
        let c = collapse("audio/mpeg", b"ID3");
        assert_eq!(c.media.unwrap(), json!({"audio": "SUQz"}));
    }
}

//! Saving an exchange raw: when the request did not parse into the neutral form, or the
//! reply is in no shape the provider's collapse reads, the recorder still keeps what the
//! client saw (status, the headers that matter, the body or the stream's frames with
//! their timing) as a raw exchange fixture (`cassette::raw`), so a strict replay gives
//! the same bytes.
//!
//! Everything kept passes the credential detector first: text is redacted where a
//! credential-shaped value sits, and a JSON body (or an SSE `data:` payload) is also
//! checked field by field, by name; when that finds something the text scan did not,
//! the JSON is written back re-serialised (safe beats byte-exact). Binary bodies
//! (audio, AWS EventStream frames) cannot be edited without breaking them and are kept
//! as they are.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

use crate::cassette::raw::{body_digest, RawFrame, RawKey, RawReply};
use crate::secrets::Detector;

/// The key a raw recording of this request matches on.
pub(crate) fn key_for(parts: &http::request::Parts, body: &[u8]) -> RawKey {
    RawKey {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        digest: body_digest(body),
    }
}

/// The response headers a raw fixture keeps: what a client reads to understand the
/// reply (its type, the provider's error and retry signals, token counts), not what
/// changes on every call (dates, request ids, connection details).
fn kept_header(name: &str) -> bool {
    matches!(
        name,
        "content-type" | "retry-after" | "x-should-retry" | "x-amzn-errortype"
    ) || name.starts_with("x-ratelimit-")
        || name.starts_with("anthropic-ratelimit-")
        || name.starts_with("x-amzn-bedrock-")
}

/// The raw reply of one capture, credentials redacted (`changed` names what was).
pub(crate) fn reply(
    status: u16,
    headers: &HeaderMap,
    body: &Bytes,
    chunks: &[(usize, Duration)],
    stream: bool,
    secrets: &Detector,
    changed: &mut Vec<String>,
) -> RawReply {
    let mut kept = Vec::new();
    for (name, value) in headers {
        if !kept_header(name.as_str()) {
            continue;
        }
        let Ok(v) = value.to_str() else { continue };
        let (v, n) = secrets.redact(v);
        if n > 0 {
            changed.push(format!("headers.{name}"));
        }
        kept.push((name.as_str().to_string(), v.into_owned()));
    }
    let frames = if stream && !chunks.is_empty() {
        let mut start = 0;
        chunks
            .iter()
            .enumerate()
            .filter_map(|(i, &(end, at))| {
                let end = end.min(body.len());
                let piece = body.slice(start.min(end)..end);
                start = end;
                (!piece.is_empty()).then(|| RawFrame {
                    bytes: redact_bytes(piece, secrets, &format!("frames[{i}]"), changed),
                    at_ms: at.as_secs_f64() * 1000.0,
                })
            })
            .collect()
    } else {
        vec![RawFrame {
            bytes: redact_bytes(body.clone(), secrets, "body", changed),
            at_ms: 0.0,
        }]
    };
    RawReply {
        status,
        headers: kept,
        frames,
        stream: stream && !chunks.is_empty(),
    }
}

/// `bytes` with credentials redacted, when it is text.
fn redact_bytes(bytes: Bytes, secrets: &Detector, field: &str, changed: &mut Vec<String>) -> Bytes {
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return bytes;
    };
    let (text, n) = secrets.redact(text);
    if n > 0 {
        changed.push(field.to_string());
    }
    let fields = redact_fields(&text, secrets, field, changed);
    match (fields, text) {
        (Some(t), _) => Bytes::from(t.into_bytes()),
        (None, Cow::Owned(t)) => Bytes::from(t.into_bytes()),
        (None, Cow::Borrowed(_)) => bytes,
    }
}

/// The text with secret-named JSON fields redacted, when it is JSON or SSE whose data
/// is JSON and something was found; `None` when nothing was.
fn redact_fields(
    text: &str,
    secrets: &Detector,
    field: &str,
    changed: &mut Vec<String>,
) -> Option<String> {
    let redact = |s: &str, changed: &mut Vec<String>| -> Option<String> {
        let mut v: Value = serde_json::from_str(s).ok()?;
        let before = changed.len();
        secrets.redact_json(&mut v, field, changed);
        (changed.len() > before).then(|| v.to_string())
    };
    let trimmed = text.trim();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return redact(trimmed, changed);
    }
    let mut out = String::with_capacity(text.len());
    let mut any = false;
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let payload = body.strip_prefix("data:").map(str::trim_start);
        match payload.and_then(|p| redact(p.trim_end_matches('\r'), changed)) {
            Some(r) => {
                any = true;
                out.push_str("data: ");
                out.push_str(&r);
                if body.ends_with('\r') {
                    out.push('\r');
                }
                out.push_str(end);
            }
            None => out.push_str(line),
        }
    }
    any.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_key() -> String {
        // Built at run time so no credential-shaped literal sits in the source.
        format!("sk-proj-{}", "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kM9")
    }

    #[test]
    fn credentials_in_headers_bodies_and_stream_frames_are_redacted() {
        let secrets = Detector::builtin();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "text/event-stream".parse().unwrap());
        headers.insert("date", "Mon, 07 Dec 2026 10:00:00 GMT".parse().unwrap());
        headers.insert("x-ratelimit-remaining-requests", "99".parse().unwrap());
        let key = fake_key();
        let body = Bytes::from(format!(
            "data: {{\"text\":\"my key is {key}\"}}\n\ndata: {{\"password\":\"hunter2-Zq9xW3\"}}\n\n"
        ));
        let first = body.iter().position(|&b| b == b'\n').unwrap() + 2;
        let chunks = [
            (first, Duration::from_millis(5)),
            (body.len(), Duration::from_millis(9)),
        ];
        let mut changed = Vec::new();
        let r = reply(200, &headers, &body, &chunks, true, secrets, &mut changed);
        assert_eq!(r.frames.len(), 2);
        let all = String::from_utf8(r.body().to_vec()).unwrap();
        assert!(!all.contains(&key), "{all}");
        assert!(!all.contains("hunter2"), "{all}");
        assert!(all.starts_with("data: ") && all.ends_with("\n\n"), "{all}");
        assert_eq!(changed.len(), 2, "{changed:?}");
        let names: Vec<&str> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["content-type", "x-ratelimit-remaining-requests"]);
        assert_eq!(r.frames[1].at_ms, 9.0);
    }

    #[test]
    fn a_clean_body_is_kept_byte_for_byte() {
        let body = Bytes::from_static(b"{ \"results\" : [ {\"outputText\": \"hi\"} ] }\n");
        let mut changed = Vec::new();
        let r = reply(
            200,
            &HeaderMap::new(),
            &body,
            &[(body.len(), Duration::ZERO)],
            false,
            Detector::builtin(),
            &mut changed,
        );
        assert_eq!(r.body(), body);
        assert!(changed.is_empty());
        let bin = Bytes::from_static(&[0, 0, 0, 1, 0xff, 0xfe]);
        let r = reply(
            200,
            &HeaderMap::new(),
            &bin,
            &[],
            false,
            Detector::builtin(),
            &mut changed,
        );
        assert_eq!(r.body(), bin);
    }
}

//! Entry points for the fuzz targets in `fuzz/` and for their regression tests: one
//! function per target, each taking arbitrary bytes and driving one parser the way the
//! server does. Hidden from the docs: not an API, only a seam, so the targets can reach
//! crate-private items (the request parts, the realtime state machines) without those
//! being made public.
//!
//! Each function must return for every input without panicking, in time linear in its
//! length; the targets only call them, and `tests/it/fuzz_regressions.rs` feeds every
//! input the fuzzer ever found (and every seed) through the same functions. Where two
//! ways of reading the same bytes must agree (a stream in one read or in pieces) the
//! function asserts it, so a disagreement is a crash the fuzzer reports.
//!
//! Not here: the fuzzing engine (libFuzzer, linked by `fuzz/` only) and the seeds
//! (`fuzz/corpus/`). Rejected: a cargo feature gating this module, which would build
//! the library twice in CI for the sake of a few functions nothing else calls.

use std::path::Path;

use bytes::BytesMut;
use http::{HeaderMap, HeaderValue, Method};

use crate::cassette::load::{parse_file, LoadedFile};
use crate::codec::eventstream::EventStreamDecoder;
use crate::codec::multipart::Form;
use crate::codec::ndjson::LineDecoder;
use crate::codec::sse::SseDecoder;
use crate::codec::{decode_all, jsonrpc, Decoder};
use crate::providers::common::socket::{Answer, Ids, Protocol};
use crate::providers::common::{RenderContext, RequestParts};
use crate::providers::gemini::live::Live;
use crate::providers::openai::realtime::Realtime;
use crate::providers::openai::responses::socket::ResponsesSocket;
use crate::providers::Surface;
use crate::server::router::{route, Route};

/// The boundary the multipart routes are given (seeds use it too).
pub const BOUNDARY: &str = "aimockfuzzboundary";

/// Every provider route, with the content type its requests carry: the first input
/// byte of [`provider_request`] and [`provider_collapse`] picks one.
pub const ROUTES: &[(&str, &str)] = &[
    ("/v1/chat/completions", "application/json"),
    (
        "/openai/deployments/dep/chat/completions",
        "application/json",
    ),
    ("/v1/embeddings", "application/json"),
    ("/v1/responses", "application/json"),
    ("/v1/images/generations", "application/json"),
    ("/v1/images/edits", "multipart"),
    ("/v1/audio/speech", "application/json"),
    ("/v1/audio/transcriptions", "multipart"),
    ("/v1/audio/translations", "multipart"),
    ("/v1/videos", "multipart"),
    ("/v1/moderations", "application/json"),
    ("/v1/messages", "application/json"),
    (
        "/v1beta/models/gemini-2.0-flash:generateContent",
        "application/json",
    ),
    (
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
        "application/json",
    ),
    (
        "/v1beta/models/text-embedding-004:embedContent",
        "application/json",
    ),
    (
        "/v1beta/models/text-embedding-004:batchEmbedContents",
        "application/json",
    ),
    ("/v1beta/models/imagen-3:predict", "application/json"),
    (
        "/v1beta/models/veo-2.0-generate-001:predictLongRunning",
        "application/json",
    ),
    (
        "/v1/projects/p/locations/l/publishers/google/models/gemini-2.5-pro:generateContent",
        "application/json",
    ),
    ("/model/anthropic.claude-v2/invoke", "application/json"),
    (
        "/model/anthropic.claude-v2/invoke-with-response-stream",
        "application/json",
    ),
    (
        "/model/amazon.nova-lite-v1%3A0/converse",
        "application/json",
    ),
    (
        "/model/amazon.nova-lite-v1%3A0/converse-stream",
        "application/json",
    ),
    ("/v2/chat", "application/json"),
    ("/v2/embed", "application/json"),
    ("/v2/rerank", "application/json"),
    ("/api/chat", "application/json"),
    ("/api/generate", "application/json"),
    ("/api/embed", "application/json"),
    ("/api/embeddings", "application/json"),
    ("/search", "application/json"),
];

/// The content types an upstream reply may carry: the second input byte of
/// [`provider_collapse`] picks one.
pub const REPLY_TYPES: &[&str] = &[
    "application/json",
    "text/event-stream",
    "application/x-ndjson",
    "application/vnd.amazon.eventstream",
];

/// The surface of route `i` (modulo the table), with its path and content type.
fn surface(i: u8) -> Option<(Surface, &'static str, String)> {
    let (path, ct) = ROUTES[i as usize % ROUTES.len()];
    let ct = match ct {
        "multipart" => format!("multipart/form-data; boundary={BOUNDARY}"),
        other => other.to_string(),
    };
    match route(&Method::POST, path) {
        Route::Provider(s) => Some((s, path, ct)),
        _ => None,
    }
}

/// Split off the first `n` bytes as selectors; `None` when there are fewer.
fn take<const N: usize>(data: &[u8]) -> Option<([u8; N], &[u8])> {
    let head: [u8; N] = data.get(..N)?.try_into().ok()?;
    Some((head, &data[N..]))
}

/// Decode `bytes` in one read and again in pieces cut where `cuts` says; both readings
/// must give the same frames, or fail alike.
fn differential<D, F>(make: F, cuts: &[u8], bytes: &[u8])
where
    D: Decoder,
    D::Item: PartialEq + std::fmt::Debug,
    F: Fn() -> D,
{
    let whole = decode_all(&mut make(), bytes);
    let mut decoder = make();
    let mut buf = BytesMut::new();
    let mut pieces = Vec::new();
    let mut at = 0;
    let mut failed = None;
    let mut k = 0;
    'feed: while at < bytes.len() {
        let step = cuts.get(k).map_or(bytes.len(), |&c| c as usize + 1);
        k += 1;
        let end = (at + step).min(bytes.len());
        buf.extend_from_slice(&bytes[at..end]);
        at = end;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(item)) => pieces.push(item),
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break 'feed;
                }
            }
        }
    }
    if failed.is_none() {
        loop {
            match decoder.decode_eof(&mut buf) {
                Ok(Some(item)) => pieces.push(item),
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
    }
    match (whole, failed) {
        (Ok(items), None) => assert_eq!(items, pieces, "pieces decode differently"),
        (Err(_), Some(_)) => {}
        (whole, failed) => panic!("one reading failed: whole {whole:?}, in pieces {failed:?}"),
    }
}

/// SSE: the first 8 bytes say where to cut the stream, the rest is the stream.
pub fn sse(data: &[u8]) {
    let Some((cuts, bytes)) = take::<8>(data) else {
        return;
    };
    differential(|| SseDecoder::with_max_frame(1 << 16), &cuts, bytes);
}

/// NDJSON, as [`sse`].
pub fn ndjson(data: &[u8]) {
    let Some((cuts, bytes)) = take::<8>(data) else {
        return;
    };
    differential(|| LineDecoder::with_max_line(1 << 16), &cuts, bytes);
}

/// AWS EventStream, as [`sse`].
pub fn eventstream(data: &[u8]) {
    let Some((cuts, bytes)) = take::<8>(data) else {
        return;
    };
    differential(
        || EventStreamDecoder::with_max_message(1 << 16),
        &cuts,
        bytes,
    );
}

/// Requests every loaded fixture is rendered for (an OpenAI stream, an Anthropic
/// message, a Gemini stream, a Bedrock converse stream): rendering reads every field a
/// cassette can set (chunk sizes, timings, tool calls, media).
const RENDER_AS: &[(&str, &str)] = &[
    (
        "/v1/chat/completions",
        r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    ),
    (
        "/v1/messages",
        r#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}]}"#,
    ),
    (
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
        r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
    ),
    (
        "/model/amazon.nova-lite-v1%3A0/converse-stream",
        r#"{"messages":[{"role":"user","content":[{"text":"hi"}]}]}"#,
    ),
];

/// The cassette loader: the bytes as a cassette file (JSON), then every fixture it
/// yields rendered as a reply for each of [`RENDER_AS`].
pub fn cassette(data: &[u8]) {
    let mut lf = LoadedFile::new(Path::new("fuzz.json"), (0, Vec::new()));
    parse_file(data, &mut lf);
    for k in 0..lf.findings.len() {
        let _ = lf.diagnostic(k);
    }
    if lf.fixtures.is_empty() {
        return;
    }
    let headers = json_headers("application/json");
    for (path, body) in RENDER_AS {
        let Route::Provider(s) = route(&Method::POST, path) else {
            continue;
        };
        let parts = RequestParts {
            path,
            query: None,
            headers: &headers,
        };
        let Ok(req) = s.parse_request(&parts, body.as_bytes()) else {
            continue;
        };
        for fx in lf.fixtures.iter().take(8) {
            let ctx = RenderContext::new(fx, &req, 20);
            let _ = s.render(fx, &req, &ctx);
        }
    }
}

/// Headers holding one content type.
fn json_headers(ct: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(ct) {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
    headers
}

/// A provider request: the first byte picks the route ([`ROUTES`]), the rest is the
/// body. A body that parses goes on to what an unmatched request gets (the default
/// answer, the deterministic embedding), which read its sizes and counts.
pub fn provider_request(data: &[u8]) {
    let Some(([pick], body)) = take::<1>(data) else {
        return;
    };
    let Some((s, path, ct)) = surface(pick) else {
        return;
    };
    let headers = json_headers(&ct);
    let parts = RequestParts {
        path,
        query: Some("alt=sse"),
        headers: &headers,
    };
    if let Ok(req) = s.parse_request(&parts, body) {
        let ctx = RenderContext::for_request(&req);
        let _ = s.default_answer(&req, &ctx);
        let _ = s.fallback_embedding(&req, &ctx);
    }
}

/// An upstream reply read back for a recording: the first byte picks the route, the
/// second the reply's content type ([`REPLY_TYPES`]), the rest is the body.
pub fn provider_collapse(data: &[u8]) {
    let Some(([pick, kind], body)) = take::<2>(data) else {
        return;
    };
    let Some((s, _, _)) = surface(pick) else {
        return;
    };
    let ct = REPLY_TYPES[kind as usize % REPLY_TYPES.len()];
    let _ = s.collapse(200, ct, body);
}

/// A `multipart/form-data` body with [`BOUNDARY`], read as the upload routes read it.
pub fn multipart(data: &[u8]) {
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    if let Ok(form) = Form::parse(&ct, data) {
        for part in &form.parts {
            let _ = part.text();
            let _ = part.sha256_hex();
        }
    }
}

/// A JSON-RPC request body.
pub fn jsonrpc(data: &[u8]) {
    if let Ok(incoming) = jsonrpc::parse(data) {
        let entries = match incoming {
            jsonrpc::Incoming::Single(e) => vec![e],
            jsonrpc::Incoming::Batch(v) => v,
        };
        for e in entries {
            if let jsonrpc::Entry::Call(c) = e {
                let _ = (c.is_notification(), c.reply_id(), c.params_object());
            }
        }
    }
}

/// A realtime WebSocket session: the first byte picks the protocol (OpenAI Realtime GA
/// or beta, Responses over WebSocket, Gemini Live), the rest is the client's text
/// messages separated by NUL bytes. Each turn a message asks for is answered, in turn,
/// as a miss and from a fixture, as the server would; the messages are also read as
/// upstream events (`mark`, `collapse_turn`), as the record bridge reads them.
pub fn realtime(data: &[u8]) {
    let Some(([pick], rest)) = take::<1>(data) else {
        return;
    };
    let mut proto: Box<dyn Protocol> = match pick % 4 {
        0 => Box::new(Realtime::new(
            Some("model=gpt-realtime"),
            false,
            Ids::new([7; 32]),
            0,
        )),
        1 => Box::new(Realtime::new(None, true, Ids::new([7; 32]), 0)),
        2 => Box::new(ResponsesSocket::new()),
        _ => Box::new(Live::new(
            "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent",
        )),
    };
    let fixture = answer_fixture();
    let _ = proto.open();
    let mut events = Vec::new();
    for (n, raw) in rest.split(|&b| b == 0).take(64).enumerate() {
        let text = String::from_utf8_lossy(raw);
        if proto.is_cancel(&text) {
            let _ = proto.cancel(n);
        }
        let step = proto.on_text(&text);
        if let Some(turn) = step.turn {
            match (&fixture, n % 2) {
                (Some(fx), 1) => {
                    let ctx = RenderContext::new(fx, &turn, 20);
                    let _ = proto.answer(&turn, Answer::Fixture(fx, &ctx));
                }
                _ => {
                    let _ = proto.answer(&turn, Answer::Miss("no fixture matched"));
                }
            }
        }
        let _ = proto.error_event(400, "invalid_request_error", "fuzz");
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            let _ = proto.mark(&v);
            events.push(v);
        }
    }
    let _ = proto.collapse_turn(&events);
}

/// A fixture with text and a tool call, the answer [`realtime`] gives a turn.
fn answer_fixture() -> Option<std::sync::Arc<crate::cassette::Fixture>> {
    let text = br#"{"fixtures":[{"match":{},"response":{"content":"hello there","toolCalls":[{"name":"f","arguments":"{\"a\":1}"}]}}]}"#;
    let mut lf = LoadedFile::new(Path::new("answer.json"), (0, Vec::new()));
    parse_file(text, &mut lf);
    lf.fixtures.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_a_provider_surface() {
        for (i, (path, _)) in ROUTES.iter().enumerate() {
            assert!(surface(i as u8).is_some(), "{path} does not route");
        }
    }

    #[test]
    fn the_realtime_answer_fixture_loads() {
        assert!(answer_fixture().is_some());
    }
}

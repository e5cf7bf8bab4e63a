//! Anthropic Messages (`POST /v1/messages`): JSON, or named SSE events from
//! `message_start` to `message_stop`, and errors in Anthropic's envelope.
//!
//! - `request`: the wire body into a [`ChatRequest`] (tool results after user text).
//! - `reply`: a fixture into the message body or the list of stream events.
//! - `collapse`: a recorded reply (SSE or JSON) back into a fixture response; its
//!   event reader also serves Bedrock invoke streams.
//! - `error`: Anthropic's error envelope.
//! - here: [`Op`] and the verbs every provider offers, SSE framing.
//!
//! The official `anthropic` SDK is the judge: it skips SSE events without an `event:`
//! line, so every frame carries one equal to its `type`, and it chooses its exception
//! class from the HTTP status alone (`RateLimitError` for 429, `OverloadedError` for
//! 529), so the status is always the fixture's own.

pub mod collapse;
pub mod error;
pub mod native;
pub mod reply;
pub mod request;
mod skim;

use crate::cassette::model::ChatReply;
use crate::cassette::Fixture;
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::stream_end::{sse_type, Signal, StreamFrame};
use crate::providers::common::{
    answer, ErrorKind, FrameWriter, ParseError, RenderContext, RenderPlan, RequestParts,
};
use crate::request::ChatRequest;

/// An Anthropic operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `POST /v1/messages`.
    Messages,
    /// `POST /anthropic/v1/messages`: Anthropic models served through an Azure AI
    /// Foundry resource (the same body and reply; its own upstream).
    Foundry,
}

/// Parse a request.
pub fn parse_request(
    _op: &Op,
    _parts: &RequestParts,
    body: &[u8],
) -> Result<ChatRequest, ParseError> {
    request::parse_request(body)
}

/// Render a matched chat fixture as a message (JSON or SSE).
pub fn render(op: &Op, fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let chat = match answer::chat(fx, "an Anthropic message") {
        Ok(chat) => chat,
        Err(message) => return error(op, 500, &message, &ErrorKind::Internal),
    };
    let mut plan = if let Some(n) = chat.native_for(native::PROVIDER) {
        render_native(op, chat, n, req, ctx)
    } else if req.stream {
        let mut w =
            FrameWriter::with_capacity(stream_size_hint(chat, ctx.chunk_size), 16).whole(ctx.whole);
        // `event: <type>\ndata: <json>\n\n`, the event name taken from the `type`: the
        // bytes `sse::encode_event` writes, since compact JSON never holds a line break.
        reply::for_each_stream_event(chat, req, ctx, |e| {
            w.buf().extend_from_slice(e.sse_head());
            e.write(&mut w);
            w.buf().extend_from_slice(b"\n\n");
            w.cut(true);
        });
        let frames = w.into_frames();
        RenderPlan::sse(frames)
    } else {
        RenderPlan::json(200, &reply::message_body(chat, req, ctx))
    };
    // The SDK reads `request-id` into `_request_id`; same value as the pipeline's
    // `x-request-id`, so logs on both sides agree.
    plan.headers
        .push(("request-id", ctx.id("req_", "request-id", 24).into()));
    plan
}

/// A reply with a native layer: the message built from its items, streamed as the API
/// streams each block kind (see `native`).
fn render_native(
    op: &Op,
    chat: &ChatReply,
    n: &crate::cassette::native::Native,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> RenderPlan {
    let m = native::message(chat, n, req, ctx);
    if !req.stream {
        if let Some(e) = &n.stream_error {
            // A JSON request never sees a stream: the error is its reply.
            let kind = e
                .pointer("/error/type")
                .and_then(|t| t.as_str())
                .unwrap_or("");
            let status = collapse::error_status(kind);
            let message = e
                .pointer("/error/message")
                .and_then(|t| t.as_str())
                .unwrap_or("error");
            let _ = op;
            return RenderPlan::json(
                status,
                &serde_json::json!({"type": "error", "error": {"type": kind, "message": message}}),
            );
        }
        return RenderPlan::json(200, &m);
    }
    if let (true, true, Some(e)) = (n.items.is_empty(), n.fields.is_empty(), &n.stream_error) {
        // The recorded stream was the error alone (no message had started).
        let frame = crate::providers::common::native::sse_frame(Some("error"), e);
        return RenderPlan::sse(vec![frame]);
    }
    let frames = native::events(&m, n.stream_error.as_ref(), ctx.chunk_size)
        .into_iter()
        .map(|(name, v)| crate::providers::common::native::sse_frame(Some(name), &v))
        .collect();
    RenderPlan::sse(frames)
}

/// An error in Anthropic's shape (see [`error::body`]).
pub fn error(_op: &Op, status: u16, message: &str, kind: &ErrorKind) -> RenderPlan {
    RenderPlan::json(status, &error::body(status, message, kind))
}

/// The headers Anthropic's 429 carries besides `Retry-After`.
pub fn rate_limit_headers(_op: &Op) -> &'static [(&'static str, &'static str)] {
    error::RATE_LIMIT_HEADERS
}

/// Read a recorded reply (SSE or JSON) back into a [`Collapsed`].
pub fn collapse(_op: &Op, content_type: &str, body: &[u8]) -> Collapsed {
    collapse::collapse(content_type, body)
}

/// A message stream ends with `message_stop`, or an `error` event.
pub fn stream_end(_op: &Op, frame: &StreamFrame) -> Signal {
    let StreamFrame::Sse { event, data } = *frame else {
        return Signal::None;
    };
    let data = data.trim();
    if data == "[DONE]" {
        return Signal::Final;
    }
    match sse_type(event, data).as_deref() {
        Some("message_stop" | "error") => Signal::Final,
        _ => Signal::None,
    }
}

/// Anthropic has no embeddings.
pub fn fallback_embedding(
    _op: &Op,
    _req: &ChatRequest,
    _ctx: &RenderContext,
) -> Option<RenderPlan> {
    None
}

/// Roughly the bytes of a streamed reply: the envelope events, then every byte of text
/// plus an event's worth of JSON around each slice.
fn stream_size_hint(chat: &crate::cassette::model::ChatReply, chunk_size: usize) -> usize {
    let blocks = chat.blocks.iter().map(|b| match b {
        crate::cassette::model::Block::Text(t) => t.len(),
        crate::cassette::model::Block::ToolCall(c) => c.arguments.len(),
    });
    let texts = [chat.content.as_deref(), chat.reasoning.as_deref()]
        .into_iter()
        .map(|t| t.map_or(0, str::len))
        .chain(chat.tool_calls.iter().map(|c| c.arguments.len()))
        .chain(blocks);
    let (mut bytes, mut slices) = (0, 0);
    for n in texts {
        bytes += n;
        // Slices are cut by characters, so there are at most this many of them.
        slices += n / chunk_size.max(1) + 3;
    }
    1024 + bytes + slices * 128
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cassette::Reply;
    use crate::codec::sse;
    use crate::providers::common::PlanBody;
    use crate::providers::Surface;
    use serde_json::json;
    use serde_json::Value;

    use crate::testing::fixture;

    fn request(body: &str) -> ChatRequest {
        let headers = http::HeaderMap::new();
        let parts = RequestParts {
            path: "/v1/messages",
            query: None,
            headers: &headers,
        };
        parse_request(&Op::Messages, &parts, body.as_bytes()).unwrap()
    }

    /// Decode a streamed plan with the SSE codec into (event name, data) pairs,
    /// checking that every frame is exactly one event named after its `type`.
    fn decode(plan: &RenderPlan) -> Vec<(String, Value)> {
        let PlanBody::Stream(frames) = &plan.body else {
            panic!("not a stream")
        };
        frames
            .iter()
            .map(|f| {
                let mut events =
                    crate::codec::decode_all(&mut sse::SseDecoder::new(), &f.bytes).unwrap();
                assert_eq!(events.len(), 1, "one event per frame");
                let e = events.remove(0);
                let name = e.event.expect("every event is named");
                let data: Value = serde_json::from_str(&e.data).unwrap();
                assert_eq!(data["type"], name.as_str());
                (name, data)
            })
            .collect()
    }

    const STREAM_REQ: &str =
        r#"{"model":"claude-test","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

    #[test]
    fn a_thinking_text_and_tool_reply_streams_the_full_event_sequence() {
        let fx = fixture(json!({"match": {}, "response": {
            "content": "Sure.", "reasoning": "hmm", "reasoningSignature": "sig",
            "toolCalls": [{"name": "f", "arguments": {"x": 1}, "id": "toolu_fixed"}]}}));
        let req = request(STREAM_REQ);
        let plan = render(&Op::Messages, &fx, &req, &RenderContext::new(&fx, &req, 20));
        assert_eq!(plan.content_type, "text/event-stream");
        let events = decode(&plan);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        assert_eq!(
            events[3].1["delta"],
            json!({"type": "thinking_delta", "thinking": "hmm"})
        );
        assert_eq!(
            events[4].1["delta"],
            json!({"type": "signature_delta", "signature": "sig"})
        );
        assert_eq!(events[9].1["content_block"]["id"], "toolu_fixed");
        assert_eq!(events[9].1["index"], 2);
        assert_eq!(events[13].1["delta"]["stop_reason"], "tool_use");
        assert!(events[13].1["usage"]["output_tokens"].as_u64().unwrap() > 0);
        assert_eq!(events[0].1["message"]["usage"]["output_tokens"], 1);
    }

    /// Event names with runs collapsed and pings dropped: the grammar of a stream.
    fn grammar(events: &[(String, Value)]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (name, _) in events {
            if name != "ping" && out.last() != Some(name) {
                out.push(name.clone());
            }
        }
        out
    }

    #[test]
    fn a_thinking_then_tool_stream_follows_the_golden_capture() {
        let golden = include_bytes!(
            "../../../tests/data/golden/anthropic/messages-stream-thinking-then-tool-use.sse"
        );
        let golden: Vec<(String, Value)> =
            crate::codec::decode_all(&mut sse::SseDecoder::new(), golden)
                .unwrap()
                .into_iter()
                .map(|e| (e.event.unwrap(), serde_json::from_str(&e.data).unwrap()))
                .collect();
        let fx = fixture(json!({"match": {}, "response": {
            "reasoning": "The user wants the version.", "toolCalls": [{"name": "fixed_version"}]}}));
        let req = request(STREAM_REQ);
        let ours = decode(&render(
            &Op::Messages,
            &fx,
            &req,
            &RenderContext::new(&fx, &req, 20),
        ));
        assert_eq!(grammar(&ours), grammar(&golden));
        // An argument-less tool gets exactly the one empty fragment, as in the capture.
        let fragments = |ev: &[(String, Value)]| -> Vec<Value> {
            ev.iter()
                .filter(|(_, d)| d["delta"]["type"] == "input_json_delta")
                .map(|(_, d)| d["delta"].clone())
                .collect()
        };
        assert_eq!(fragments(&ours), fragments(&golden));
    }

    #[test]
    fn text_deltas_follow_the_chunk_size_and_reassemble() {
        let fx =
            fixture(json!({"match": {}, "chunkSize": 3, "response": {"content": "héllo wörld"}}));
        let req = request(STREAM_REQ);
        let plan = render(&Op::Messages, &fx, &req, &RenderContext::new(&fx, &req, 20));
        let texts: Vec<String> = decode(&plan)
            .iter()
            .filter_map(|(_, d)| d["delta"]["text"].as_str().map(String::from))
            .collect();
        assert_eq!(texts, ["hél", "lo ", "wör", "ld"]);
    }

    #[test]
    fn a_whole_stream_is_the_frames_of_a_cut_one_back_to_back() {
        let fx = fixture(json!({"match": {}, "response": {
            "content": "Sure, here it is.", "reasoning": "hmm",
            "toolCalls": [{"name": "f", "arguments": {"x": 1}}]}}));
        let req = request(STREAM_REQ);
        let cut = RenderContext::new(&fx, &req, 4);
        let whole = RenderContext {
            whole: true,
            ..cut.clone()
        };
        let bytes = |ctx: &RenderContext| {
            let plan = render(&Op::Messages, &fx, &req, ctx);
            let PlanBody::Stream(frames) = plan.body else {
                panic!("not a stream")
            };
            (
                frames.len(),
                frames
                    .iter()
                    .flat_map(|f| f.bytes.to_vec())
                    .collect::<Vec<u8>>(),
            )
        };
        let (n_cut, cut_bytes) = bytes(&cut);
        let (n_whole, whole_bytes) = bytes(&whole);
        assert!(n_cut > 1);
        assert_eq!(n_whole, 1);
        assert_eq!(whole_bytes, cut_bytes);
    }

    #[test]
    fn same_fixture_and_request_render_identical_bytes_with_a_request_id() {
        let fx = fixture(json!({"match": {}, "response": {"toolCalls": [{"name": "f"}]}}));
        let req = request(STREAM_REQ);
        let a = render(&Op::Messages, &fx, &req, &RenderContext::new(&fx, &req, 20));
        let b = render(&Op::Messages, &fx, &req, &RenderContext::new(&fx, &req, 20));
        assert_eq!(a, b);
        assert!(a
            .headers
            .iter()
            .any(|(k, v)| *k == "request-id" && v.starts_with("req_")));
        let other = request(&STREAM_REQ.replace("hi", "hey"));
        let c = render(
            &Op::Messages,
            &fx,
            &other,
            &RenderContext::new(&fx, &other, 20),
        );
        assert_ne!(a, c);
    }

    #[test]
    fn errors_take_their_type_from_the_status_unless_the_fixture_names_one() {
        let body = |plan: &RenderPlan| -> Value {
            let PlanBody::Full(b) = &plan.body else {
                panic!()
            };
            serde_json::from_slice(b).unwrap()
        };
        let s = Surface::Anthropic(Op::Messages);
        for (status, ty) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (503, "api_error"),
            (529, "overloaded_error"),
        ] {
            let plan = s.error(status, "m", ErrorKind::NoMatch);
            assert_eq!(plan.status, status);
            assert_eq!(
                body(&plan),
                json!({"type": "error", "error": {"type": ty, "message": "m"}})
            );
        }
        let fx = fixture(json!({"match": {}, "response": {
            "error": {"message": "slow", "type": "custom_error"}, "status": 429, "retryAfter": 7}}));
        let Reply::Error(e) = &fx.reply else { panic!() };
        let plan = s.error(429, "slow", ErrorKind::Fixture(e));
        assert_eq!(body(&plan)["error"]["type"], "custom_error");
        assert!(plan.headers.contains(&("retry-after", "7".into())));
    }

    #[test]
    fn a_non_chat_fixture_is_a_500_in_anthropic_shape() {
        let fx = fixture(json!({"match": {}, "response": {"embedding": [1.0]}}));
        let req = request(STREAM_REQ);
        let plan = render(&Op::Messages, &fx, &req, &RenderContext::new(&fx, &req, 20));
        assert_eq!(plan.status, 500);
    }
}

//! AWS Bedrock runtime: `invoke` / `invoke-with-response-stream` (the Anthropic
//! Messages body, see [`invoke`]) and `converse` / `converse-stream` (Bedrock's own
//! shape, see [`converse`]). Recorded replies of all four are read back into fixtures
//! by [`mod@collapse`].
//!
//! What the two share lives here: the model id from the path (already percent-decoded
//! by the router), stop reasons, token counts, the AWS error shape, and turning a list
//! of EventStream messages into a paced [`RenderPlan`]. The official boto3 client is
//! the judge of every byte: errors carry `x-amzn-ErrorType` and `{"message"}` so
//! botocore raises the modelled exception; streams are binary EventStream with the
//! event name in `:event-type`.
//!
//! Invoke bodies differ by model family (Titan, Nova, Llama, Mistral, Cohere,
//! DeepSeek, gpt-oss): [`family`] tells them apart by the model id and answers each in
//! its own shape; the Anthropic body is [`invoke`].
//!
//! Not here: the EventStream framing itself (`codec::eventstream`).
//!
//! # Design
//! A user message holding both text and tool results is normalised text first, then
//! one tool message per result, on both surfaces. The reference does the opposite on
//! Bedrock, which makes `hasToolResult` false for that shape; we keep the Anthropic
//! rule (§2.3) so one fixture answers the same turn on every surface.

pub mod collapse;
pub mod converse;
pub mod error;
pub mod family;
pub mod invoke;
pub mod native;

use bytes::BytesMut;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use base64::Engine;

use crate::cassette::model::ChatReply;
use crate::cassette::Fixture;
use crate::codec::eventstream::{self, Message};
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::stream_end::{Signal, StreamFrame};
use crate::providers::common::usage::{output_chars, Counts};
use crate::providers::common::{
    answer, estimate_tokens, ErrorKind, Frame, ParseError, PlanBody, RenderContext, RenderPlan,
    RequestParts,
};
use crate::request::ChatRequest;

/// `Content-Type` of both streaming endpoints.
pub const EVENTSTREAM_CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// Signature sent for a thinking block when the fixture records none (Bedrock always
/// sends one; clients pass it back opaquely).
pub const PLACEHOLDER_SIGNATURE: &str = "aimock-placeholder-signature";

/// A Bedrock runtime operation, with the model id from the path (percent-decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `/model/{id}/invoke` and `/invoke-with-response-stream`.
    Invoke {
        /// The model id, percent-decoded.
        model: String,
        /// `invoke-with-response-stream`.
        stream: bool,
    },
    /// `/model/{id}/converse` and `/converse-stream`.
    Converse {
        /// The model id, percent-decoded.
        model: String,
        /// `converse-stream`.
        stream: bool,
    },
}

/// Parse a Bedrock request into the neutral form.
pub fn parse_request(
    op: &Op,
    _parts: &RequestParts,
    body: &[u8],
) -> Result<ChatRequest, ParseError> {
    match op {
        Op::Invoke { model, stream } => family::parse_request(model, *stream, body),
        Op::Converse { model, stream } => converse::parse_request(model, *stream, body),
    }
}

/// Render a matched (non-error) fixture.
pub fn render(op: &Op, fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let plan = match op {
        // Each model family answers in its own shape, embeddings included.
        Op::Invoke { .. } => family::render(fx, req, ctx),
        Op::Converse { stream, .. } => match answer::chat(fx, "a Bedrock chat request") {
            Ok(reply) if *stream => converse::render_stream(reply, req, ctx).map_err(|e| {
                format!(
                    "Fixture {} cannot be framed as an EventStream: {e}",
                    fx.origin
                )
            }),
            Ok(reply) => Ok(converse::render_json(reply, req, ctx)),
            Err(message) => Err(message),
        },
    };
    match plan {
        Ok(mut plan) => {
            plan.headers
                .push(("x-amzn-requestid", request_id(ctx).into()));
            plan
        }
        Err(message) => error(op, 500, &message, &ErrorKind::Internal),
    }
}

/// An AWS-shaped error (see [`error::plan`]).
pub fn error(_op: &Op, status: u16, message: &str, kind: &ErrorKind) -> RenderPlan {
    error::plan(status, message, kind)
}

/// Bedrock's 429 carries nothing besides `Retry-After`.
pub fn rate_limit_headers(_op: &Op) -> &'static [(&'static str, &'static str)] {
    &[]
}

/// Read a recorded reply (EventStream or JSON) back into a [`Collapsed`].
pub fn collapse(_op: &Op, content_type: &str, body: &[u8]) -> Collapsed {
    collapse::collapse(content_type, body)
}

/// Converse streams: `messageStop` ends the answer, `metadata` the stream; invoke
/// streams: the model's `message_stop` inside a `chunk` (Nova: Converse-shaped events
/// inside it); an exception ends either.
pub fn stream_end(_op: &Op, frame: &StreamFrame) -> Signal {
    let StreamFrame::Event {
        message_type,
        event_type,
        payload,
    } = *frame
    else {
        return Signal::None;
    };
    if matches!(message_type, Some("exception" | "error")) {
        return Signal::Final;
    }
    match event_type {
        Some("messageStop") => Signal::Terminal,
        Some("metadata") => Signal::Final,
        Some("chunk") => {
            // The model's event is base64 in `bytes` (AWS), or the payload itself
            // (older aimock recordings).
            let outer = serde_json::from_slice::<Value>(payload).ok();
            let inner = match outer
                .as_ref()
                .and_then(|v| v.get("bytes").and_then(|b| b.as_str()))
            {
                Some(b) => base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .ok()
                    .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok()),
                None => outer,
            };
            let Some(inner) = inner else {
                return Signal::None;
            };
            match inner.get("type").and_then(|t| t.as_str()) {
                Some("message_stop") => Signal::Final,
                // Every model family's last chunk carries the invocation metrics.
                _ if inner.get("amazon-bedrock-invocationMetrics").is_some() => Signal::Final,
                // Nova wraps Converse-shaped events: `{"messageStop": {...}}`.
                _ if inner.get("messageStop").is_some() => Signal::Terminal,
                _ if inner.get("metadata").is_some() => Signal::Final,
                _ => Signal::None,
            }
        }
        _ => Signal::None,
    }
}

/// An unmatched invoke of an embedding model (Titan, Cohere Embed) gets deterministic
/// vectors in its family's shape.
pub fn fallback_embedding(op: &Op, req: &ChatRequest, ctx: &RenderContext) -> Option<RenderPlan> {
    match op {
        Op::Invoke { .. } => family::fallback_embedding(req, ctx).map(|mut plan| {
            plan.headers
                .push(("x-amzn-requestid", request_id(ctx).into()));
            plan
        }),
        Op::Converse { .. } => None,
    }
}

/// The stop reason in Anthropic's and Converse's vocabulary (§4.10): OpenAI's `stop`,
/// `tool_calls` and `length` are translated; anything else passes through.
pub fn stop_reason(reply: &ChatReply, has_tools: bool) -> String {
    match reply.overrides.finish_reason.as_deref() {
        None if has_tools => "tool_use",
        None | Some("stop") => "end_turn",
        Some("tool_calls") => "tool_use",
        Some("length") => "max_tokens",
        Some(other) => other,
    }
    .to_string()
}

/// Token counts: the fixture's, else estimated from the characters involved, so
/// clients that divide by or assert on usage see plausible non-zero numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokens {
    /// Prompt tokens.
    pub input: u64,
    /// Completion tokens.
    pub output: u64,
    /// Their sum, unless the fixture pins another total.
    pub total: u64,
}

impl Tokens {
    /// Counts for serving `reply` to `req`.
    pub fn of(reply: &ChatReply, req: &ChatRequest) -> Tokens {
        let Counts {
            input,
            output,
            total,
        } = Counts::of(reply.overrides.usage.as_deref(), req, || {
            estimate_tokens(output_chars(reply, true))
        });
        Tokens {
            input,
            output,
            total,
        }
    }
}

/// A deterministic, plausible model latency in ms (200..1200) for `metrics` fields.
pub fn latency_ms(ctx: &RenderContext) -> u64 {
    200 + (ctx.unit("latency") * 1000.0) as u64
}

/// The `amazon-bedrock-invocationMetrics` object the last chunk of every invoke
/// stream carries.
pub fn invocation_metrics(t: Tokens, ctx: &RenderContext) -> Value {
    let latency = latency_ms(ctx);
    json!({
        "inputTokenCount": t.input,
        "outputTokenCount": t.output,
        "invocationLatency": latency,
        "firstByteLatency": latency / 2,
    })
}

/// An invoke stream: each model event (with whether it is paced like a text slice)
/// framed as a [`chunk`], under the content type Bedrock names in its own header.
/// Anthropic's events and every other family's go through this one framing.
pub fn chunk_stream(events: Vec<(Value, bool)>) -> Result<RenderPlan, crate::codec::Error> {
    let events = events
        .into_iter()
        .map(|(v, paced)| {
            if paced {
                Event::paced(chunk(&v))
            } else {
                Event::immediate(chunk(&v))
            }
        })
        .collect();
    let mut plan = eventstream_plan(events)?;
    plan.headers
        .push(("x-amzn-bedrock-content-type", "application/json".into()));
    Ok(plan)
}

/// One model event as Bedrock streams it: an EventStream `chunk` whose payload is
/// `{"bytes": "<base64 of the event JSON>"}`.
pub fn chunk(event: &Value) -> crate::codec::eventstream::Message {
    let b64 = base64::engine::general_purpose::STANDARD.encode(event.to_string());
    crate::codec::eventstream::Message::event("chunk", json!({ "bytes": b64 }).to_string())
}

/// A deterministic request id in AWS's UUID form.
pub fn request_id(ctx: &RenderContext) -> String {
    let mut h = Sha256::new();
    h.update(ctx.seed);
    h.update(b"x-amzn-requestid");
    let d = h.finalize();
    let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Tool arguments as a JSON value (`{}` when the text does not parse).
pub fn parsed_args(arguments: &str) -> Value {
    serde_json::from_str(arguments).unwrap_or_else(|_| json!({}))
}

/// Tool arguments re-serialised compactly, as Bedrock streams them.
pub fn compact_args(arguments: &str) -> String {
    parsed_args(arguments).to_string()
}

/// One streamed EventStream message and whether pacing applies before it.
pub struct Event {
    message: Message,
    paced: bool,
}

impl Event {
    /// A content event: waits its turn under the fixture's pacing.
    pub fn paced(message: Message) -> Event {
        Event {
            message,
            paced: true,
        }
    }

    /// A closing event (stop reason, usage): follows the last content without delay.
    pub fn immediate(message: Message) -> Event {
        Event {
            message,
            paced: false,
        }
    }
}

/// Frame every event as one EventStream message: one [`Frame`] each, so chunking,
/// latency and truncation act per message, as AWS sends them.
pub fn eventstream_plan(events: Vec<Event>) -> Result<RenderPlan, crate::codec::Error> {
    let mut frames = Vec::with_capacity(events.len());
    for e in events {
        let mut buf = BytesMut::new();
        eventstream::encode(&e.message, &mut buf)?;
        frames.push(Frame {
            bytes: buf.freeze(),
            paced: e.paced,
        });
    }
    Ok(RenderPlan {
        status: 200,
        content_type: EVENTSTREAM_CONTENT_TYPE,
        headers: Vec::new(),
        body: PlanBody::Stream(frames),
    })
}

/// Whether `s` is standard base64 (Converse `redactedContent` is a blob, which
/// botocore base64-decodes; anything else would break the client).
pub fn is_base64(s: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).is_ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::error::error_type;
    use super::*;
    use crate::cassette::model::ErrorReply;
    use crate::codec::eventstream::EventStreamDecoder;
    use crate::codec::{decode_all, Decoder};
    use crate::providers::Surface;

    pub(crate) use crate::testing::fixture;

    pub(crate) fn ctx() -> RenderContext {
        RenderContext {
            seed: [3; 32],
            chunk_size: 5,
            whole: false,
        }
    }

    /// Decode a rendered stream into (`:event-type`, payload JSON) pairs, checking that
    /// every frame is exactly one message.
    pub(crate) fn decode_stream(plan: &RenderPlan) -> Vec<(String, Value)> {
        assert_eq!(plan.content_type, EVENTSTREAM_CONTENT_TYPE);
        let PlanBody::Stream(frames) = &plan.body else {
            panic!("not a stream: {plan:?}")
        };
        let mut out = Vec::new();
        for f in frames {
            let mut buf = BytesMut::from(&f.bytes[..]);
            let m = EventStreamDecoder::new()
                .decode(&mut buf)
                .unwrap()
                .expect("a whole message");
            assert!(buf.is_empty(), "one message per frame");
            assert_eq!(m.header_str(":message-type"), Some("event"));
            assert_eq!(m.header_str(":content-type"), Some("application/json"));
            let name = m.header_str(":event-type").unwrap().to_string();
            out.push((name, serde_json::from_slice(&m.payload).unwrap()));
        }
        // The concatenation decodes too, as a client reading the body sees it.
        let all: Vec<u8> = frames.iter().flat_map(|f| f.bytes.to_vec()).collect();
        assert_eq!(
            decode_all(&mut EventStreamDecoder::new(), &all)
                .unwrap()
                .len(),
            out.len()
        );
        out
    }

    pub(crate) fn golden(name: &str) -> Vec<u8> {
        let p = format!(
            "{}/tests/data/golden/bedrock/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    /// The request body recorded in a golden's `.meta.json`.
    pub(crate) fn golden_request(name: &str) -> Vec<u8> {
        let meta: Value = serde_json::from_slice(&golden(&format!("{name}.meta.json"))).unwrap();
        meta["request"]["body"].to_string().into_bytes()
    }

    fn err(status: u16, kind: Option<&str>) -> ErrorReply {
        ErrorReply {
            status,
            message: "m".into(),
            kind: kind.map(String::from),
            param: None,
            code: None,
            retry_after: None,
        }
    }

    #[test]
    fn error_types_follow_the_status_unless_the_fixture_names_an_aws_exception() {
        assert_eq!(
            error_type(
                429,
                &ErrorKind::Fixture(&err(429, Some("rate_limit_error")))
            ),
            "ThrottlingException"
        );
        assert_eq!(
            error_type(
                429,
                &ErrorKind::Fixture(&err(429, Some("ModelNotReadyException")))
            ),
            "ModelNotReadyException"
        );
        assert_eq!(
            error_type(404, &ErrorKind::NoMatch),
            "ResourceNotFoundException"
        );
        assert_eq!(
            error_type(503, &ErrorKind::NoMatch),
            "ServiceUnavailableException"
        );
        assert_eq!(
            error_type(
                400,
                &ErrorKind::InvalidRequest {
                    code: "invalid_json"
                }
            ),
            "ValidationException"
        );
        assert_eq!(
            error_type(500, &ErrorKind::Internal),
            "InternalServerException"
        );
    }

    #[test]
    fn error_plans_carry_the_message_body_and_the_error_type_header() {
        let s = Surface::Bedrock(Op::Converse {
            model: "m".into(),
            stream: true,
        });
        let e = err(429, None);
        let plan = s.error(429, "slow down", ErrorKind::Fixture(&e));
        assert_eq!(plan.status, 429);
        assert_eq!(plan.content_type, "application/json");
        assert!(plan
            .headers
            .contains(&("x-amzn-errortype", "ThrottlingException".into())));
        assert!(plan.headers.contains(&("retry-after", "1".into())));
        let PlanBody::Full(b) = plan.body else {
            panic!()
        };
        assert_eq!(&b[..], br#"{"message":"slow down"}"#);
    }

    #[test]
    fn the_golden_error_body_has_the_shape_we_send() {
        let v: Value =
            serde_json::from_slice(&golden("converse-error-403-expired-token.json")).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["message"]);
    }

    #[test]
    fn stop_reasons_translate_openai_vocabulary() {
        let mut r = ChatReply::default();
        assert_eq!(stop_reason(&r, false), "end_turn");
        assert_eq!(stop_reason(&r, true), "tool_use");
        std::sync::Arc::make_mut(&mut r.overrides).finish_reason = Some("length".into());
        assert_eq!(stop_reason(&r, true), "max_tokens");
        std::sync::Arc::make_mut(&mut r.overrides).finish_reason =
            Some("guardrail_intervened".into());
        assert_eq!(stop_reason(&r, false), "guardrail_intervened");
    }

    #[test]
    fn request_ids_are_uuid_shaped_and_deterministic() {
        let id = request_id(&ctx());
        assert_eq!(id.len(), 36);
        assert_eq!(id, request_id(&ctx()));
        assert_eq!(id.matches('-').count(), 4);
    }

    #[test]
    fn a_non_chat_fixture_is_a_500_in_the_aws_shape() {
        let fx = fixture(json!({"match": {}, "response": {"embedding": [0.1]}}));
        let s = Surface::Bedrock(Op::Converse {
            model: "m".into(),
            stream: false,
        });
        let req = ChatRequest::new(crate::request::Endpoint::Chat, b"{}");
        let plan = s.render(&fx, &req, &ctx());
        assert_eq!(plan.status, 500);
        assert!(plan
            .headers
            .contains(&("x-amzn-errortype", "InternalServerException".into())));
    }
}

//! AWS Bedrock runtime: `invoke` / `invoke-with-response-stream` (the Anthropic
//! Messages body, see [`invoke`]) and `converse` / `converse-stream` (Bedrock's own
//! shape, see [`converse`]). Recorded replies of all four are read back into fixtures
//! by [`collapse`].
//!
//! What the two share lives here: the model id from the path (already percent-decoded
//! by the router), stop reasons, token counts, the AWS error shape, and turning a list
//! of EventStream messages into a paced [`RenderPlan`]. The official boto3 client is
//! the judge of every byte: errors carry `x-amzn-ErrorType` and `{"message"}` so
//! botocore raises the modelled exception; streams are binary EventStream with the
//! event name in `:event-type`.
//!
//! Not here: the EventStream framing itself (`codec::eventstream`), and Bedrock's
//! other invoke bodies (Titan, Nova, Llama): a body without `messages` gets a
//! `ValidationException`, and a Nova `messages-v1` body parses but is answered in the
//! Anthropic shape.
//!
//! # Design
//! A user message holding both text and tool results is normalised text first, then
//! one tool message per result, on both surfaces. The reference does the opposite on
//! Bedrock, which makes `hasToolResult` false for that shape; we keep the Anthropic
//! rule (§2.3) so one fixture answers the same turn on every surface.

pub mod collapse;
pub mod converse;
pub mod invoke;

use bytes::BytesMut;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{
    estimate_tokens, prompt_chars, ErrorKind, Frame, ParseError, PlanBody, RenderContext,
    RenderPlan, RequestParts, Surface,
};
use crate::cassette::model::ChatReply;
use crate::cassette::{Fixture, Reply};
use crate::codec::eventstream::{self, Message};
use crate::request::ChatRequest;

/// `Content-Type` of both streaming endpoints.
pub const EVENTSTREAM_CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// Signature sent for a thinking block when the fixture records none (Bedrock always
/// sends one; clients pass it back opaquely).
pub const PLACEHOLDER_SIGNATURE: &str = "aimock-placeholder-signature";

/// Parse a Bedrock request into the neutral form.
pub fn parse_request(
    surface: &Surface,
    _parts: &RequestParts,
    body: &[u8],
) -> Result<ChatRequest, ParseError> {
    match surface {
        Surface::BedrockInvoke { model, stream } => invoke::parse_request(model, *stream, body),
        Surface::BedrockConverse { model, stream } => converse::parse_request(model, *stream, body),
        other => Err(ParseError::bad(
            "wrong_surface",
            format!("{other:?} is not a Bedrock surface"),
        )),
    }
}

/// Render a matched (non-error) fixture.
pub fn render(
    surface: &Surface,
    fx: &Fixture,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> RenderPlan {
    let Reply::Chat(reply) = &fx.reply else {
        return error_plan(
            surface,
            500,
            &format!(
                "Fixture response of kind {} cannot answer a Bedrock chat request ({})",
                fx.reply.kind_name(),
                fx.origin
            ),
            &ErrorKind::Internal,
        );
    };
    let plan = match surface {
        Surface::BedrockInvoke { stream: false, .. } => Ok(invoke::render_json(reply, req, ctx)),
        Surface::BedrockInvoke { stream: true, .. } => invoke::render_stream(reply, req, ctx),
        Surface::BedrockConverse { stream: false, .. } => {
            Ok(converse::render_json(reply, req, ctx))
        }
        Surface::BedrockConverse { stream: true, .. } => converse::render_stream(reply, req, ctx),
        other => {
            let message = format!("{other:?} is not a Bedrock surface");
            return error_plan(surface, 500, &message, &ErrorKind::Internal);
        }
    };
    match plan {
        Ok(mut plan) => {
            plan.headers
                .push(("x-amzn-requestid", request_id(ctx).into()));
            plan
        }
        Err(e) => error_plan(
            surface,
            500,
            &format!(
                "Fixture {} cannot be framed as an EventStream: {e}",
                fx.origin
            ),
            &ErrorKind::Internal,
        ),
    }
}

/// An AWS-shaped error: `{"message": ...}` plus `x-amzn-ErrorType`, from which
/// botocore picks the exception class (`ThrottlingException`, `ValidationException`,
/// ...). Streamed requests get the same plain JSON error, as AWS does before the stream
/// starts.
pub fn error_plan(_surface: &Surface, status: u16, message: &str, kind: &ErrorKind) -> RenderPlan {
    let mut plan = RenderPlan::json(status, &json!({ "message": message }));
    plan.headers
        .push(("x-amzn-errortype", error_type(status, kind).into()));
    if status == 429 {
        let retry = match kind {
            ErrorKind::Fixture(e) => e.retry_after.unwrap_or(1),
            _ => 1,
        };
        plan.headers.push(("retry-after", retry.to_string().into()));
    }
    plan
}

/// The modelled exception name for an error. A fixture's `error.type` wins when it is
/// already an AWS exception name (e.g. `ModelNotReadyException`); otherwise the status
/// decides, as the Bedrock service model maps them.
pub fn error_type(status: u16, kind: &ErrorKind) -> String {
    if let ErrorKind::Fixture(e) = kind {
        if let Some(t) = e.kind.as_deref() {
            if t.ends_with("Exception") && t.chars().all(|c| c.is_ascii_alphanumeric()) {
                return t.to_string();
            }
        }
    }
    match status {
        401 => "UnrecognizedClientException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 => "ModelTimeoutException",
        409 => "ConflictException",
        424 => "ModelErrorException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        400..=499 => "ValidationException",
        _ => "InternalServerException",
    }
    .to_string()
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
        let pinned = reply.overrides.usage.as_ref();
        let completion_chars = reply.text_chars()
            + reply.reasoning.as_deref().map_or(0, |r| r.chars().count())
            + reply
                .calls()
                .iter()
                .map(|c| c.name.len() + c.arguments.len())
                .sum::<usize>();
        let input = pinned
            .and_then(|u| u.input())
            .unwrap_or_else(|| estimate_tokens(prompt_chars(req)));
        let output = pinned
            .and_then(|u| u.output())
            .unwrap_or_else(|| estimate_tokens(completion_chars));
        let total = pinned
            .and_then(|u| u.total_tokens.or(u.total_token_count))
            .unwrap_or(input + output);
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
    use super::*;
    use crate::cassette::model::{parse_entry, ErrorReply};
    use crate::codec::eventstream::EventStreamDecoder;
    use crate::codec::{decode_all, Decoder};
    use std::sync::Arc;

    pub fn fixture(v: Value) -> Fixture {
        let mut f = Vec::new();
        parse_entry(&v, &Arc::from("t.json"), 0, &mut f).expect("test fixture is valid")
    }

    pub fn ctx() -> RenderContext {
        RenderContext {
            seed: [3; 32],
            chunk_size: 5,
            whole: false,
        }
    }

    /// Decode a rendered stream into (`:event-type`, payload JSON) pairs, checking that
    /// every frame is exactly one message.
    pub fn decode_stream(plan: &RenderPlan) -> Vec<(String, Value)> {
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

    pub fn golden(name: &str) -> Vec<u8> {
        let p = format!(
            "{}/tests/data/golden/bedrock/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    /// The request body recorded in a golden's `.meta.json`.
    pub fn golden_request(name: &str) -> Vec<u8> {
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
        let s = Surface::BedrockConverse {
            model: "m".into(),
            stream: true,
        };
        let e = err(429, None);
        let plan = error_plan(&s, 429, "slow down", &ErrorKind::Fixture(&e));
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
        let s = Surface::BedrockConverse {
            model: "m".into(),
            stream: false,
        };
        let req = ChatRequest::new(crate::request::Endpoint::Chat, b"{}");
        let plan = render(&s, &fx, &req, &ctx());
        assert_eq!(plan.status, 500);
        assert!(plan
            .headers
            .contains(&("x-amzn-errortype", "InternalServerException".into())));
    }
}

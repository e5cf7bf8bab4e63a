//! Ollama's native API: `/api/chat`, `/api/generate` (`chat`) and `/api/embed`,
//! `/api/embeddings` (`embed`). (`GET /api/tags` is answered by the pipeline.)
//! [`collapse`] reads recorded replies of all four back into fixtures.
//!
//! Streaming is the default (`stream` absent or true): NDJSON under
//! `application/x-ndjson`, one JSON object per line, the last one `done: true` with
//! `done_reason`, durations and counts; `stream: false` gives that final object whole.
//! Field order follows the captures in tests/data/golden/ollama. Errors are
//! `{"error": "<message>"}`, which the ollama SDK raises as `ResponseError` with the
//! message and status code.
//!
//! Timestamps and durations are invented but deterministic: derived from the render
//! seed, so the same fixture and request always give the same bytes.

mod chat;
mod collapse;
mod embed;
pub mod error;

use serde_json::Value;

use crate::cassette::Fixture;
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::stream_end::{Signal, StreamFrame};
use crate::providers::common::{
    answer, ErrorKind, ParseError, RenderContext, RenderPlan, RequestParts,
};
use crate::request::ChatRequest;

/// Ollama's content type for whole JSON bodies.
const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// An Ollama operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `POST /api/chat`.
    Chat,
    /// `POST /api/generate`.
    Generate,
    /// `POST /api/embed` (`legacy: false`) or `/api/embeddings` (`legacy: true`).
    Embed {
        /// The older single-vector `/api/embeddings`.
        legacy: bool,
    },
}

/// Parse a request.
pub fn parse_request(
    op: &Op,
    _parts: &RequestParts,
    body: &[u8],
) -> Result<ChatRequest, ParseError> {
    match op {
        Op::Chat => chat::parse_chat(body),
        Op::Generate => chat::parse_generate(body),
        Op::Embed { legacy } => embed::parse(body, *legacy),
    }
}

/// Render a matched (non-error) fixture.
pub fn render(op: &Op, fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let refused = |message: String| error(op, 500, &message, &ErrorKind::Internal);
    match op {
        Op::Chat | Op::Generate => match answer::chat(fx, "an Ollama chat request") {
            Ok(reply) => chat::render(reply, req, ctx, *op == Op::Generate),
            Err(message) => refused(message),
        },
        Op::Embed { legacy } => match answer::embedding(fx, "an embedding request") {
            Ok(vector) => crate::providers::common::native::overlay_plan(
                embed::render(vector, req, ctx, *legacy),
                answer::embedding_native(fx, "ollama"),
            ),
            Err(message) => refused(message),
        },
    }
}

/// Ollama's error body (see [`error::plan`]).
pub fn error(_op: &Op, status: u16, message: &str, _kind: &ErrorKind) -> RenderPlan {
    error::plan(status, message)
}

/// Ollama's 429 carries nothing besides `Retry-After`.
pub fn rate_limit_headers(_op: &Op) -> &'static [(&'static str, &'static str)] {
    &[]
}

/// Read a recorded reply back into a [`Collapsed`].
pub fn collapse(op: &Op, content_type: &str, body: &[u8]) -> Collapsed {
    collapse::collapse(op, content_type, body)
}

/// An NDJSON stream ends with the line holding `"done": true`.
pub fn stream_end(_op: &Op, frame: &StreamFrame) -> Signal {
    let StreamFrame::Line(line) = *frame else {
        return Signal::None;
    };
    match serde_json::from_slice::<Value>(line) {
        Ok(v) if v.get("done").and_then(|d| d.as_bool()) == Some(true) => Signal::Final,
        Ok(v) if v.get("is_finished").and_then(|d| d.as_bool()) == Some(true) => Signal::Final,
        _ => Signal::None,
    }
}

/// The deterministic vector for an unmatched embedding request.
pub fn fallback_embedding(op: &Op, req: &ChatRequest, ctx: &RenderContext) -> Option<RenderPlan> {
    match op {
        Op::Embed { legacy } => Some(embed::fallback(req, ctx, *legacy)),
        Op::Chat | Op::Generate => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_a_bare_error_string() {
        let plan = error(&Op::Chat, 404, "nope", &ErrorKind::NoMatch);
        assert_eq!(plan.status, 404);
        let crate::providers::common::PlanBody::Full(b) = &plan.body else {
            panic!()
        };
        assert_eq!(&b[..], br#"{"error":"nope"}"#);
    }
}

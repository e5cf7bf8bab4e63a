//! Cohere v2: `POST /v2/chat` (`chat`: JSON, or SSE with hyphenated `event:` types
//! ending in `data: [DONE]`) `POST /v2/embed` (`embed`) and `POST /v2/rerank`
//! (`rerank`); [`collapse`] reads recorded replies of each back into fixtures.
//!
//! Shapes follow the captures in tests/data/golden/cohere. Errors are Cohere's
//! `{"message": "…"}` with the status, so the cohere SDK raises its typed error
//! (`BadRequestError`, `NotFoundError`, `TooManyRequestsError`,
//! `ServiceUnavailableError`, ...) with that body.
//!
//! Not here: the legacy v1 endpoints (`/v1/chat`, `/v1/embed`).

mod chat;
mod collapse;
pub(crate) mod embed;
pub mod error;
pub mod native;
mod rerank;

use crate::cassette::Fixture;
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::stream_end::{sse_type, Signal, StreamFrame};
use crate::providers::common::{
    answer, ErrorKind, ParseError, RenderContext, RenderPlan, RequestParts,
};
use crate::request::ChatRequest;

/// A Cohere v2 operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `POST /v2/chat`.
    Chat,
    /// `POST /v2/embed`.
    Embed,
    /// `POST /v2/rerank`.
    Rerank,
}

/// Parse a request.
pub fn parse_request(
    op: &Op,
    _parts: &RequestParts,
    body: &[u8],
) -> Result<ChatRequest, ParseError> {
    match op {
        Op::Chat => chat::parse(body),
        Op::Embed => embed::parse(body),
        Op::Rerank => rerank::parse(body),
    }
}

/// Render a matched (non-error) fixture.
pub fn render(op: &Op, fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let refused = |message: String| error(op, 500, &message, &ErrorKind::Internal);
    match op {
        Op::Chat => match answer::chat(fx, "a Cohere chat request") {
            Ok(reply) => chat::render(reply, req, ctx),
            Err(message) => refused(message),
        },
        Op::Embed => match answer::embedding(fx, "an embedding request") {
            Ok(vector) => crate::providers::common::native::overlay_plan(
                embed::render(vector, req, ctx),
                answer::embedding_native(fx, native::PROVIDER),
            ),
            Err(message) => refused(message),
        },
        Op::Rerank => rerank::render(fx, req, ctx).unwrap_or_else(refused),
    }
}

/// Cohere's error body (see [`error::plan`]).
pub fn error(_op: &Op, status: u16, message: &str, _kind: &ErrorKind) -> RenderPlan {
    error::plan(status, message)
}

/// Cohere's 429 carries nothing besides `Retry-After`.
pub fn rate_limit_headers(_op: &Op) -> &'static [(&'static str, &'static str)] {
    &[]
}

/// Read a recorded reply back into a [`Collapsed`].
pub fn collapse(op: &Op, content_type: &str, body: &[u8]) -> Collapsed {
    match op {
        Op::Rerank => rerank::collapse(body),
        _ => collapse::collapse(op, content_type, body),
    }
}

/// The answer to an unmatched rerank: documents ranked by a stable similarity.
pub fn default_answer(op: &Op, req: &ChatRequest, ctx: &RenderContext) -> Option<RenderPlan> {
    match op {
        Op::Rerank => Some(rerank::default_answer(req, ctx)),
        _ => None,
    }
}

/// A chat stream's answer ends with `message-end`, the stream with a bare `[DONE]`.
pub fn stream_end(_op: &Op, frame: &StreamFrame) -> Signal {
    let StreamFrame::Sse { event, data } = *frame else {
        return Signal::None;
    };
    let data = data.trim();
    if data == "[DONE]" {
        return Signal::Final;
    }
    match sse_type(event, data).as_deref() {
        Some("error") => Signal::Final,
        Some("message-end") => Signal::Terminal,
        _ => Signal::None,
    }
}

/// The deterministic vector for an unmatched embedding request.
pub fn fallback_embedding(op: &Op, req: &ChatRequest, ctx: &RenderContext) -> Option<RenderPlan> {
    match op {
        Op::Embed => Some(embed::fallback(req, ctx)),
        Op::Chat | Op::Rerank => None,
    }
}

/// A deterministic UUID-shaped id (Cohere's response ids are UUIDs): the one every
/// service-shaped reply uses.
fn uuid(ctx: &RenderContext, label: &str) -> String {
    crate::providers::common::service::uuid(ctx, label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_a_bare_message_with_the_status() {
        let plan = error(&Op::Chat, 429, "slow down", &ErrorKind::NoMatch);
        assert_eq!(plan.status, 429);
        let crate::providers::common::PlanBody::Full(b) = &plan.body else {
            panic!()
        };
        assert_eq!(&b[..], br#"{"message":"slow down"}"#);
    }

    #[test]
    fn ids_are_uuid_shaped_and_deterministic() {
        let ctx = RenderContext {
            seed: [3; 32],
            chunk_size: 20,
            whole: false,
        };
        let id = uuid(&ctx, "id");
        assert_eq!(id, uuid(&ctx, "id"));
        assert_ne!(id, uuid(&ctx, "other"));
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
    }
}

//! Cohere v2: `POST /v2/chat` (`chat`: JSON, or SSE with hyphenated `event:` types
//! ending in `data: [DONE]`) and `POST /v2/embed` (`embed`); [`collapse`] reads
//! recorded replies of both back into fixtures.
//!
//! Shapes follow the captures in tests/data/golden/cohere. Errors are Cohere's
//! `{"message": "…"}` with the status, so the cohere SDK raises its typed error
//! (`BadRequestError`, `NotFoundError`, `TooManyRequestsError`,
//! `ServiceUnavailableError`, ...) with that body.
//!
//! Not here: the legacy v1 endpoints (`/v1/chat`, `/v1/embed`).

mod chat;
mod collapse;
mod embed;

pub use collapse::collapse;

use serde_json::json;

use super::{ErrorKind, ParseError, RenderContext, RenderPlan, RequestParts, Surface};
use crate::cassette::Fixture;
use crate::request::ChatRequest;

/// Parse a request.
pub fn parse_request(
    surface: &Surface,
    _parts: &RequestParts,
    body: &[u8],
) -> Result<ChatRequest, ParseError> {
    match surface {
        Surface::CohereChat => chat::parse(body),
        Surface::CohereEmbed => embed::parse(body),
        other => Err(ParseError::bad(
            "unsupported_surface",
            format!("{other:?} is not a Cohere surface"),
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
    match surface {
        Surface::CohereChat => chat::render(surface, fx, req, ctx),
        Surface::CohereEmbed => embed::render(surface, fx, req, ctx),
        _ => error_plan(
            surface,
            500,
            "Cohere renderer called for another surface",
            &ErrorKind::Internal,
        ),
    }
}

/// Cohere's error body: `{"message": "…"}`.
pub fn error_plan(_surface: &Surface, status: u16, message: &str, _kind: &ErrorKind) -> RenderPlan {
    RenderPlan::json(status, &json!({ "message": message }))
}

/// The deterministic vector for an unmatched embedding request.
pub fn fallback_embedding(
    surface: &Surface,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> Option<RenderPlan> {
    match surface {
        Surface::CohereEmbed => Some(embed::fallback(req, ctx)),
        _ => None,
    }
}

/// A deterministic UUID-shaped id (Cohere's response ids are UUIDs).
fn uuid(ctx: &RenderContext, label: &str) -> String {
    let hex: String = (0..4)
        .map(|i| {
            format!(
                "{:08x}",
                (ctx.unit(&format!("{label}{i}")) * 4_294_967_296.0) as u64
            )
        })
        .collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_a_bare_message_with_the_status() {
        let plan = error_plan(&Surface::CohereChat, 429, "slow down", &ErrorKind::NoMatch);
        assert_eq!(plan.status, 429);
        let crate::providers::PlanBody::Full(b) = &plan.body else {
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

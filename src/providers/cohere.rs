//! Cohere v2 chat and embed.
//!
//! Not implemented yet: every request gets a 501 in a neutral error shape. The providers
//! issue replaces this file.

use serde_json::json;

use super::{ErrorKind, ParseError, RenderContext, RenderPlan, RequestParts, Surface};
use crate::fixtures::Fixture;
use crate::request::ChatRequest;

/// Parse a request.
pub fn parse_request(
    surface: &Surface,
    _parts: &RequestParts,
    _body: &[u8],
) -> Result<ChatRequest, ParseError> {
    Err(ParseError {
        status: 501,
        code: "not_implemented",
        message: format!("{surface:?} is not served yet"),
    })
}

/// Render a fixture.
pub fn render(
    surface: &Surface,
    _fx: &Fixture,
    _req: &ChatRequest,
    _ctx: &RenderContext,
) -> RenderPlan {
    error_plan(surface, 501, "not served yet", &ErrorKind::Internal)
}

/// An error in this provider's shape.
pub fn error_plan(_surface: &Surface, status: u16, message: &str, _kind: &ErrorKind) -> RenderPlan {
    RenderPlan::json(status, &json!({"error": {"message": message}}))
}

/// The deterministic vector for an unmatched embedding request.
pub fn fallback_embedding(
    _surface: &Surface,
    _req: &ChatRequest,
    _ctx: &RenderContext,
) -> Option<RenderPlan> {
    None
}

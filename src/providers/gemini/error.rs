//! Google's error envelope, `{"error":{"code","message","status"}}`, pretty-printed as
//! the API sends it, and the `google.rpc.Code` name a status maps to.
//!
//! Not here: the status of a failure (`respond`), `Retry-After` (added to every
//! provider's 429 by the dispatch in `providers/mod.rs`).

use serde_json::json;

use super::pretty_plan;
use crate::providers::common::{ErrorKind, RenderPlan};

/// An error in Google's shape: `{"error":{"code","message","status"}}`.
pub fn plan(status: u16, message: &str, kind: &ErrorKind) -> RenderPlan {
    // A fixture may pin the canonical status name (`"type": "RESOURCE_EXHAUSTED"`); an
    // OpenAI-style type such as `rate_limit_error` means nothing to Google clients, so
    // only SCREAMING_CASE names are taken over.
    let pinned = match kind {
        ErrorKind::Fixture(e) => e
            .kind
            .clone()
            .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')),
        _ => None,
    };
    let status_name = pinned.unwrap_or_else(|| grpc_status(status).to_string());
    let body = json!({"error": {"code": status, "message": message, "status": status_name}});
    pretty_plan(status, &body)
}

/// The canonical `google.rpc.Code` name Google pairs with an HTTP status.
fn grpc_status(status: u16) -> &'static str {
    match status {
        400 | 411 | 413 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        412 => "FAILED_PRECONDITION",
        416 => "OUT_OF_RANGE",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "NOT_IMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        500..=599 => "INTERNAL",
        _ => "UNKNOWN",
    }
}

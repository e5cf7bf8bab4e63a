//! Anthropic's error envelope: `{"type":"error","error":{"type","message"}}`, the
//! `error.type` a status maps to, and the rate-limit headers of a 429.
//!
//! Not here: the status of a failure (`respond`), `Retry-After` (added to every
//! provider's 429 by the dispatch in `providers/mod.rs`).

use serde_json::{json, Value};

use crate::providers::common::ErrorKind;

/// Anthropic's `error.type` for a status.
fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        408 | 504 => "timeout_error",
        529 => "overloaded_error",
        // 503 (a strict miss) included: the SDK picks ServiceUnavailableError by status.
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// An error body in Anthropic's shape: `{"type":"error","error":{"type","message"}}`.
pub fn body(status: u16, message: &str, kind: &ErrorKind) -> Value {
    let kind_name = match kind {
        ErrorKind::Fixture(e) => e.kind.clone(),
        _ => None,
    }
    .unwrap_or_else(|| error_type(status).to_string());
    json!({"type": "error", "error": {"type": kind_name, "message": message}})
}

/// The rate-limit headers Anthropic's 429 carries.
pub const RATE_LIMIT_HEADERS: &[(&str, &str)] = &[
    ("anthropic-ratelimit-requests-limit", "50"),
    ("anthropic-ratelimit-requests-remaining", "0"),
];

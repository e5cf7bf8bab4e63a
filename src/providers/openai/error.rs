//! OpenAI's error envelope, shared by every OpenAI and Azure surface:
//! `{"error":{"message","type","param","code"}}`, and the rate-limit headers its 429
//! carries.
//!
//! Not here: the status of a failure (`respond`), `Retry-After` (added to every
//! provider's 429 by the dispatch in `providers/mod.rs`).

use serde_json::{json, Value};

use crate::providers::common::ErrorKind;

/// OpenAI's error envelope: `{"error":{"message","type","param","code"}}`.
pub fn body(status: u16, message: &str, kind: &ErrorKind) -> Value {
    match kind {
        ErrorKind::NoMatch => {
            json!({"error":{"message":message,"type":"invalid_request_error","param":null,"code":"no_fixture_match"}})
        }
        ErrorKind::InvalidRequest { code } => {
            json!({"error":{"message":message,"type":"invalid_request_error","param":null,"code":code}})
        }
        ErrorKind::Fixture(e) => {
            let default_type = match status {
                400 | 404 | 409 | 413 | 422 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                429 => "rate_limit_error",
                _ => "server_error",
            };
            json!({"error":{
                "message": message,
                "type": e.kind.clone().unwrap_or_else(|| default_type.to_string()),
                "param": e.param.clone().unwrap_or(Value::Null),
                "code": e.code.clone().unwrap_or(Value::Null),
            }})
        }
        ErrorKind::Internal => {
            json!({"error":{"message":message,"type":"server_error","param":null,"code":null}})
        }
    }
}

/// OpenRouter's error envelope: `{"error":{"code":<the HTTP status>,"message"}}` (its
/// `metadata` only when a provider upstream of it failed, which a mock never is).
pub fn openrouter_body(status: u16, message: &str) -> Value {
    json!({"error": {"code": status, "message": message}})
}

/// The rate-limit headers OpenAI sends with a 429, so clients' backoff code has data.
pub const RATE_LIMIT_HEADERS: &[(&str, &str)] = &[
    ("x-ratelimit-limit-requests", "60"),
    ("x-ratelimit-limit-tokens", "150000"),
    ("x-ratelimit-remaining-requests", "0"),
    ("x-ratelimit-remaining-tokens", "0"),
    ("x-ratelimit-reset-requests", "1s"),
    ("x-ratelimit-reset-tokens", "6m0s"),
];

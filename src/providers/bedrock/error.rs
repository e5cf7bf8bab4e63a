//! AWS's error shape for Bedrock: `{"message": ...}` plus `x-amzn-ErrorType`, the
//! modelled exception a status maps to.
//!
//! Not here: the status of a failure (`respond`), `Retry-After` (added to every
//! provider's 429 by the dispatch in `providers/mod.rs`).

use serde_json::json;

use crate::providers::common::{ErrorKind, RenderPlan};

/// An AWS-shaped error: `{"message": ...}` plus `x-amzn-ErrorType`, from which
/// botocore picks the exception class (`ThrottlingException`, `ValidationException`,
/// ...). Streamed requests get the same plain JSON error, as AWS does before the stream
/// starts.
pub fn plan(status: u16, message: &str, kind: &ErrorKind) -> RenderPlan {
    let mut plan = RenderPlan::json(status, &json!({ "message": message }));
    plan.headers
        .push(("x-amzn-errortype", error_type(status, kind).into()));
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

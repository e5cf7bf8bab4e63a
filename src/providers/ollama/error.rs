//! Ollama's error body: `{"error": "<message>"}` with the status, which the ollama SDK
//! raises as `ResponseError` with the message and status code.
//!
//! Not here: the status of a failure (`respond`), `Retry-After` (added to every
//! provider's 429 by the dispatch in `providers/mod.rs`).

use serde_json::json;

use super::JSON_CONTENT_TYPE;
use crate::providers::common::RenderPlan;

/// `{"error": "<message>"}` with the status.
pub fn plan(status: u16, message: &str) -> RenderPlan {
    let mut plan = RenderPlan::json(status, &json!({ "error": message }));
    plan.content_type = JSON_CONTENT_TYPE;
    plan
}

//! Cohere's error body: `{"message": "…"}` with the status, from which the cohere SDK
//! picks its typed error (`BadRequestError`, `NotFoundError`, `TooManyRequestsError`,
//! ...).
//!
//! Not here: the status of a failure (`respond`), `Retry-After` (added to every
//! provider's 429 by the dispatch in `providers/mod.rs`).

use serde_json::json;

use crate::providers::common::RenderPlan;

/// `{"message": "…"}` with the status.
pub fn plan(status: u16, message: &str) -> RenderPlan {
    RenderPlan::json(status, &json!({ "message": message }))
}

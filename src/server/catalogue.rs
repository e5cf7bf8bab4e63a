//! The catalogue endpoints: `GET /v1/models`, `GET /v1/models/{id}` and Ollama's
//! `GET /api/tags`, listing the models the loaded cassettes name (or a few well-known
//! ones when none names a model), so SDK code that lists models before calling one runs.
//!
//! Not part of the request lifecycle (`pipeline`): nothing here is matched, recorded or
//! journaled.

use http::Response;
use serde_json::json;

use super::AppState;
use crate::respond::body::Body;
use crate::respond::plan::json_response;

/// `GET /v1/models/{id}`: any id is a model.
pub(crate) fn model(id: &str) -> Response<Body> {
    json_response(
        200,
        &json!({"id": id, "object": "model", "created": 1686935002, "owned_by": "aimock"}),
    )
}

fn model_ids(state: &AppState) -> Vec<String> {
    let set = state.store.snapshot();
    let mut ids: Vec<String> = Vec::new();
    for f in set.fixtures().iter() {
        if let Some(m) = &f.criteria.model {
            if !ids.contains(m) {
                ids.push(m.clone());
            }
        }
    }
    if ids.is_empty() {
        ids = [
            "gpt-4",
            "gpt-4o",
            "claude-3-5-sonnet-20241022",
            "gemini-2.0-flash",
            "text-embedding-3-small",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
    }
    ids
}

pub(crate) fn models(state: &AppState) -> Response<Body> {
    let ids = model_ids(state);
    let data: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1686935002, "owned_by": "aimock"}))
        .collect();
    json_response(200, &json!({"object": "list", "data": data}))
}

/// `GET /api/v1/models` in OpenRouter's shape: `{"data": [...]}` with the fields its
/// clients read (`id`, `name`, `context_length`, `architecture`, `pricing` as decimal
/// strings, `top_provider`, `supported_parameters`), a mock's prices being zero.
pub(crate) fn openrouter_models(state: &AppState) -> Response<Body> {
    let data: Vec<serde_json::Value> = model_ids(state)
        .iter()
        .map(|id| {
            json!({
                "id": id,
                "canonical_slug": id,
                "hugging_face_id": "",
                "name": id,
                "created": 1686935002,
                "description": "A model named by the loaded aimock cassettes.",
                "context_length": 128000,
                "architecture": {"modality": "text->text", "input_modalities": ["text"],
                    "output_modalities": ["text"], "tokenizer": "Other", "instruct_type": null},
                "pricing": {"prompt": "0", "completion": "0", "request": "0", "image": "0",
                    "web_search": "0", "internal_reasoning": "0"},
                "top_provider": {"context_length": 128000, "max_completion_tokens": 16384,
                    "is_moderated": false},
                "per_request_limits": null,
                "supported_parameters": ["max_tokens", "temperature", "tools", "tool_choice",
                    "stream", "response_format"],
            })
        })
        .collect();
    json_response(200, &json!({ "data": data }))
}

pub(crate) fn ollama_tags(state: &AppState) -> Response<Body> {
    let models: Vec<serde_json::Value> = model_ids(state)
        .iter()
        .map(|id| {
            json!({"name": id, "model": id, "modified_at": "2024-01-01T00:00:00Z", "size": 0,
                   "digest": hex_digest(id), "details": {"format": "gguf", "family": "aimock"}})
        })
        .collect();
    json_response(200, &json!({"models": models}))
}

fn hex_digest(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

//! `/api/embed` (`input`: a string or an array; answers
//! `{"model", "embeddings": [[…]], "total_duration", "load_duration", "prompt_eval_count"}`)
//! and the older `/api/embeddings` (`prompt`; answers `{"embedding": […]}`).
//!
//! Unmatched requests outside strict mode get [`deterministic_vector`] per input, sized
//! by `dimensions` or [`OLLAMA_DEFAULT_DIMENSIONS`]. Real Ollama sizes depend on the model
//! (768 for nomic-embed-text, 4096 for llama3); 1536 is the reference implementation's
//! choice, kept so suites written against it see the same vectors.

use serde_json::json;

use super::chat::require_model;
use super::JSON_CONTENT_TYPE;
use crate::providers::common::embedding::{deterministic_vector, parse_input};
use crate::providers::common::{estimate_tokens, json_body, ParseError, RenderContext, RenderPlan};
use crate::request::{ChatRequest, Endpoint};

/// Vector size for unmatched requests that name no `dimensions`.
pub(super) const OLLAMA_DEFAULT_DIMENSIONS: usize = 1536;

/// Parse `/api/embed` (`legacy == false`) or `/api/embeddings`.
pub(super) fn parse(body: &[u8], legacy: bool) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let model = require_model(&o)?;
    let mut req = ChatRequest::new(Endpoint::Embedding, body);
    req.model = Some(model);
    // An absent or empty input is valid for Ollama (it only loads the model) and
    // answers with no vectors.
    let inputs: Vec<String> = if legacy {
        o.get("prompt")
            .and_then(|p| p.as_str())
            .filter(|p| !p.is_empty())
            .map(|p| vec![p.to_string()])
            .unwrap_or_default()
    } else {
        parse_input(o.get("input")).unwrap_or_default()
    };
    req.hints.dimensions = o
        .get("dimensions")
        .and_then(|d| d.as_u64())
        .map(|d| d.clamp(1, 65_536) as usize);
    req.hints.embedding_count = inputs.len();
    req.embedding_inputs = Some(inputs);
    Ok(req)
}

/// Render an embedding fixture: its vector for every input.
pub(super) fn render(
    v: &[f64],
    req: &ChatRequest,
    ctx: &RenderContext,
    legacy: bool,
) -> RenderPlan {
    let vectors = vec![v.to_vec(); req.hints.embedding_count.max(1)];
    plan(&vectors, req, ctx, legacy)
}

/// The deterministic answer to an unmatched embedding request.
pub(super) fn fallback(req: &ChatRequest, ctx: &RenderContext, legacy: bool) -> RenderPlan {
    let dims = req.hints.dimensions.unwrap_or(OLLAMA_DEFAULT_DIMENSIONS);
    let vectors: Vec<Vec<f64>> = req
        .embedding_inputs
        .iter()
        .flatten()
        .map(|s| deterministic_vector(s, dims))
        .collect();
    plan(&vectors, req, ctx, legacy)
}

fn plan(vectors: &[Vec<f64>], req: &ChatRequest, ctx: &RenderContext, legacy: bool) -> RenderPlan {
    let body = if legacy {
        json!({ "embedding": vectors.first().cloned().unwrap_or_default() })
    } else {
        let tokens: u64 = req
            .embedding_inputs
            .iter()
            .flatten()
            .map(|s| estimate_tokens(s.chars().count()))
            .sum();
        let load = 1_000_000 + (ctx.unit("load") * 1_000_000.0) as u64;
        let total = load + tokens * 2_000_000 + (ctx.unit("total") * 1_000_000.0) as u64;
        json!({
            "model": req.model.clone().unwrap_or_default(),
            "embeddings": vectors,
            "total_duration": total,
            "load_duration": load,
            "prompt_eval_count": tokens,
        })
    };
    let mut plan = RenderPlan::json(200, &body);
    plan.content_type = JSON_CONTENT_TYPE;
    plan
}

#[cfg(test)]
mod tests {
    use super::super::Op;
    use super::*;
    use crate::cassette::model::parse_entry;
    use crate::providers::common::PlanBody;
    use serde_json::Value;
    use std::sync::Arc;

    fn json_of(plan: &RenderPlan) -> Value {
        let PlanBody::Full(b) = &plan.body else {
            panic!("not a full body")
        };
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn embed_answers_one_vector_per_input_and_legacy_answers_one_embedding() {
        let mut f = Vec::new();
        let fx = parse_entry(
            &json!({"match":{},"response":{"embedding":[0.5,1.0]}}),
            &Arc::from("t.json"),
            0,
            &mut f,
        )
        .unwrap();
        let req = parse(br#"{"model":"nomic","input":["a","b"]}"#, false).unwrap();
        let ctx = RenderContext::new(&fx, &req, 20);
        let v = json_of(&crate::providers::ollama::render(
            &Op::Embed { legacy: false },
            &fx,
            &req,
            &ctx,
        ));
        assert_eq!(v["model"], "nomic");
        assert_eq!(v["embeddings"], json!([[0.5, 1.0], [0.5, 1.0]]));
        let req = parse(br#"{"model":"nomic","prompt":"a"}"#, true).unwrap();
        let v = json_of(&crate::providers::ollama::render(
            &Op::Embed { legacy: true },
            &fx,
            &req,
            &ctx,
        ));
        assert_eq!(v, json!({"embedding": [0.5, 1.0]}));
    }

    #[test]
    fn fallback_vectors_default_to_1536_dimensions_unless_requested() {
        let req = parse(br#"{"model":"m","input":"hello"}"#, false).unwrap();
        let ctx = RenderContext::for_request(&req);
        let v = json_of(&fallback(&req, &ctx, false));
        assert_eq!(v["embeddings"][0].as_array().unwrap().len(), 1536);
        let req = parse(br#"{"model":"m","input":"hello","dimensions":8}"#, false).unwrap();
        let v = json_of(&fallback(&req, &ctx, false));
        assert_eq!(v["embeddings"][0].as_array().unwrap().len(), 8);
        let req = parse(br#"{"model":"m","prompt":"hello"}"#, true).unwrap();
        let v = json_of(&fallback(&req, &ctx, true));
        assert_eq!(v["embedding"].as_array().unwrap().len(), 1536);
        assert!(parse(br#"{"input":"x"}"#, false).is_err());
    }
}

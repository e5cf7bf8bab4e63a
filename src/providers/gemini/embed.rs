//! `:embedContent` → `{"embedding":{"values":[…]}}` and `:batchEmbedContents` →
//! `{"embeddings":[{"values":[…]}, …]}` (one per request), pretty-printed as Google
//! sends them. Vertex's single `embedContent` also reports `usageMetadata`, from which
//! google-genai builds the embedding's `statistics`.
//!
//! Unmatched requests outside strict mode get [`deterministic_vector`] per input, with
//! `outputDimensionality` dimensions or Gemini's default of 768.

use serde_json::{json, Value};

use super::pretty_plan;
use crate::providers::common::embedding::deterministic_vector;
use crate::providers::common::{estimate_tokens, RenderPlan};
use crate::request::ChatRequest;

/// Gemini's embedding size when the request names none.
pub(super) const GEMINI_DEFAULT_DIMENSIONS: usize = 768;

/// Render an embedding fixture: its vector for every input.
pub(super) fn render(v: &[f64], req: &ChatRequest, batch: bool, vertex: bool) -> RenderPlan {
    let vectors = vec![v.to_vec(); req.hints.embedding_count.max(1)];
    pretty_plan(200, &body(&vectors, req, batch, vertex))
}

/// The deterministic answer to an unmatched embedding request.
pub(super) fn fallback(req: &ChatRequest, batch: bool, vertex: bool) -> RenderPlan {
    let dims = req.hints.dimensions.unwrap_or(GEMINI_DEFAULT_DIMENSIONS);
    let vectors: Vec<Vec<f64>> = req
        .embedding_inputs
        .iter()
        .flatten()
        .map(|s| deterministic_vector(s, dims))
        .collect();
    pretty_plan(200, &body(&vectors, req, batch, vertex))
}

fn body(vectors: &[Vec<f64>], req: &ChatRequest, batch: bool, vertex: bool) -> Value {
    if batch {
        let embeddings: Vec<Value> = vectors.iter().map(|v| json!({ "values": v })).collect();
        return json!({ "embeddings": embeddings });
    }
    let values = vectors.first().cloned().unwrap_or_default();
    if vertex {
        let tokens = req
            .embedding_text()
            .map_or(1, |t| estimate_tokens(t.chars().count()));
        json!({"embedding": {"values": values}, "usageMetadata": {"promptTokenCount": tokens}})
    } else {
        json!({"embedding": {"values": values}})
    }
}

#[cfg(test)]
mod tests {
    use super::super::Op;
    use super::*;
    use crate::cassette::model::parse_entry;
    use crate::providers::common::{PlanBody, RenderContext, RequestParts};
    use crate::providers::Surface;
    use std::sync::Arc;

    fn surface(batch: bool, vertex: bool) -> Surface {
        Surface::Gemini(Op::Embed {
            model: "gemini-embedding-001".into(),
            batch,
            vertex,
        })
    }

    fn request(batch: bool, body: &str) -> ChatRequest {
        let headers = http::HeaderMap::new();
        let parts = RequestParts {
            path: "/",
            query: None,
            headers: &headers,
        };
        surface(batch, false)
            .parse_request(&parts, body.as_bytes())
            .unwrap()
    }

    fn json_of(plan: &RenderPlan) -> Value {
        match &plan.body {
            PlanBody::Full(b) => serde_json::from_slice(b).unwrap(),
            PlanBody::Stream(_) => panic!("not a full body"),
        }
    }

    const BATCH: &str = r#"{"requests":[{"content":{"parts":[{"text":"a"}]}},{"content":{"parts":[{"text":"b"}]}}]}"#;

    #[test]
    fn a_fixture_vector_answers_every_request_of_a_batch() {
        let mut f = Vec::new();
        let fx = parse_entry(
            &json!({"match":{},"response":{"embedding":[0.5,-0.25]}}),
            &Arc::from("t.json"),
            0,
            &mut f,
        )
        .unwrap();
        let req = request(true, BATCH);
        let ctx = RenderContext::new(&fx, &req, 20);
        let v = json_of(&surface(true, false).render(&fx, &req, &ctx));
        assert_eq!(
            v,
            json!({"embeddings":[{"values":[0.5,-0.25]},{"values":[0.5,-0.25]}]})
        );
    }

    #[test]
    fn fallback_vectors_use_768_dimensions_or_the_requested_size() {
        let req = request(true, BATCH);
        let ctx = RenderContext::for_request(&req);
        let plan = surface(true, false).fallback_embedding(&req, &ctx).unwrap();
        let v = json_of(&plan);
        assert_eq!(v["embeddings"].as_array().unwrap().len(), 2);
        assert_eq!(v["embeddings"][0]["values"].as_array().unwrap().len(), 768);
        assert_ne!(v["embeddings"][0], v["embeddings"][1]);
        let req = request(
            false,
            r#"{"content":{"parts":[{"text":"a"}]},"outputDimensionality":16}"#,
        );
        let v = json_of(
            &surface(false, false)
                .fallback_embedding(&req, &ctx)
                .unwrap(),
        );
        assert_eq!(v["embedding"]["values"].as_array().unwrap().len(), 16);
        assert_eq!(
            v["embedding"]["values"][0].as_f64().unwrap(),
            deterministic_vector("a", 16)[0]
        );
    }
}

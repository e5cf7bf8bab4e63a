//! The embedding families: Titan embeddings (`inputText`, v2's `dimensions`,
//! `normalize`, `embeddingTypes` -> `embedding`, `embeddingsByType`,
//! `inputTextTokenCount`) and Cohere Embed (`texts`, `input_type`, `embedding_types`
//! -> `embeddings` as a list of vectors, or by type, with `id`, `response_type`,
//! `texts`). The integer types are derived as `/v2/embed` derives them.

use serde_json::{json, Map, Value};

use super::{base_model_id, Dialect};
use crate::providers::cohere::embed::typed_embeddings;
use crate::providers::common::embedding::deterministic_vector;
use crate::providers::common::service::uuid;
use crate::providers::common::{estimate_tokens, ParseError, RenderContext, RenderPlan};
use crate::request::{ChatRequest, Endpoint};

/// Titan embeddings v2 sends `embeddingsByType` (v1 does not).
const TITAN_V2: &str = "titanV2";

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v?.as_array().map(|a| {
        a.iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| x.to_string())
            })
            .collect()
    })
}

pub(super) fn parse(
    d: Dialect,
    model: &str,
    body: &[u8],
    o: &Map<String, Value>,
) -> Result<ChatRequest, ParseError> {
    let mut req = ChatRequest::new(Endpoint::Embedding, body);
    req.model = Some(model.to_string());
    let inputs = if d == Dialect::TitanEmbed {
        let Some(t) = o.get("inputText").and_then(Value::as_str) else {
            return Err(ParseError::bad(
                "missing_input",
                "Malformed input request: #: required key [inputText] not found, please reformat your input and try again.",
            ));
        };
        req.hints.dimensions = o
            .get("dimensions")
            .and_then(Value::as_u64)
            .map(|n| n.clamp(1, 8192) as usize);
        req.hints.embedding_types = strings(o.get("embeddingTypes")).unwrap_or_default();
        let v2 = base_model_id(model).contains("-v2")
            || o.contains_key("embeddingTypes")
            || o.contains_key("dimensions");
        if v2 {
            req.hints.echo.insert(TITAN_V2.into(), true.into());
        }
        vec![t.to_string()]
    } else {
        let Some(texts) = strings(o.get("texts")) else {
            return Err(ParseError::bad(
                "missing_texts",
                "Malformed input request: #: required key [texts] not found, please reformat your input and try again.",
            ));
        };
        req.hints.embedding_types = strings(o.get("embedding_types")).unwrap_or_default();
        // Embed v4 answers by type even when no type is asked for.
        if req.hints.embedding_types.is_empty() && base_model_id(model).contains("embed-v4") {
            req.hints.embedding_types.push("float".into());
        }
        texts
    };
    req.hints.embedding_count = inputs.len();
    req.embedding_inputs = Some(inputs);
    Ok(req)
}

fn tokens(req: &ChatRequest) -> u64 {
    req.embedding_inputs
        .iter()
        .flatten()
        .map(|s| estimate_tokens(s.chars().count()))
        .sum()
}

fn body(d: Dialect, vectors: &[Vec<f64>], req: &ChatRequest, ctx: &RenderContext) -> Value {
    let first = vectors.first().cloned().unwrap_or_default();
    if d == Dialect::TitanEmbed {
        let mut o = Map::new();
        o.insert("embedding".into(), json!(first));
        if req.hints.echo.contains_key(TITAN_V2) {
            let mut by_type = Map::new();
            let wanted: Vec<&str> = if req.hints.embedding_types.is_empty() {
                vec!["float"]
            } else {
                req.hints
                    .embedding_types
                    .iter()
                    .map(String::as_str)
                    .collect()
            };
            for t in wanted {
                match t {
                    "float" => {
                        by_type.insert("float".into(), json!(first));
                    }
                    "binary" => {
                        let bits: Vec<u8> = first.iter().map(|x| u8::from(*x > 0.0)).collect();
                        by_type.insert("binary".into(), json!(bits));
                    }
                    _ => {}
                }
            }
            o.insert("embeddingsByType".into(), Value::Object(by_type));
        }
        o.insert("inputTextTokenCount".into(), tokens(req).into());
        return Value::Object(o);
    }
    let texts = req.embedding_inputs.clone().unwrap_or_default();
    let (embeddings, kind) = if req.hints.embedding_types.is_empty() {
        (json!(vectors), "embeddings_floats")
    } else {
        (
            Value::Object(typed_embeddings(vectors, &req.hints.embedding_types)),
            "embeddings_by_type",
        )
    };
    json!({
        "embeddings": embeddings,
        "id": uuid(ctx, "embed"),
        "response_type": kind,
        "texts": texts,
    })
}

/// A fixture's vector, once per input.
pub(super) fn render(d: Dialect, v: &[f64], req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let vectors = vec![v.to_vec(); req.hints.embedding_count.max(1)];
    RenderPlan::json(200, &body(d, &vectors, req, ctx))
}

/// The deterministic vectors for an unmatched request: the requested dimensions, else
/// the model's own (Titan v1 1536, v2 and Cohere 1024).
pub(super) fn fallback(d: Dialect, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let default = if d == Dialect::TitanEmbed && !req.hints.echo.contains_key(TITAN_V2) {
        1536
    } else {
        1024
    };
    let dims = req.hints.dimensions.unwrap_or(default);
    let vectors: Vec<Vec<f64>> = req
        .embedding_inputs
        .iter()
        .flatten()
        .map(|s| deterministic_vector(s, dims))
        .collect();
    RenderPlan::json(200, &body(d, &vectors, req, ctx))
}

//! `/v2/embed`: `texts` (or `inputs[].content[]` text items) in, and
//! `{id, texts, embeddings: {<type>: [[…]]}, meta, response_type: "embeddings_by_type"}`
//! out, one key per requested `embedding_types` entry (`float` when none is named).
//!
//! Integer types are derived from the float vector the way common quantisers do it:
//! `int8`/`uint8` scale [-1, 1] to the integer range, `binary`/`ubinary` pack the sign
//! bits eight to a byte (`binary` offset by -128), `base64` is little-endian float32.
//! Unmatched requests outside strict mode get [`deterministic_vector`] per input with
//! `output_dimension` or Cohere's 1024 dimensions.

use serde_json::{json, Map, Value};

use super::uuid;
use crate::providers::common::embedding::{deterministic_vector, to_base64_f32};
use crate::providers::common::{estimate_tokens, json_body, ParseError, RenderContext, RenderPlan};
use crate::request::{ChatRequest, Endpoint};

/// Cohere's embedding size when the request names none (embed v3 models).
pub(super) const COHERE_DEFAULT_DIMENSIONS: usize = 1024;

/// Parse a `/v2/embed` body.
pub(super) fn parse(body: &[u8]) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let Some(model) = o
        .get("model")
        .and_then(|m| m.as_str())
        .filter(|m| !m.is_empty())
    else {
        return Err(ParseError::bad("missing_model", "model is required"));
    };
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array().map(|a| {
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(String::from)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect()
        })
    };
    let inputs = if let Some(texts) = o.get("texts").and_then(strings) {
        texts
    } else if let Some(items) = o.get("inputs").and_then(|i| i.as_array()) {
        items.iter().map(input_text).collect()
    } else if let Some(images) = o.get("images").and_then(|i| i.as_array()) {
        vec![String::new(); images.len()]
    } else {
        return Err(ParseError::bad(
            "missing_inputs",
            "invalid request: one of texts, images or inputs must be provided",
        ));
    };
    let mut req = ChatRequest::new(Endpoint::Embedding, body);
    req.model = Some(model.to_string());
    req.hints.embedding_count = inputs.len();
    req.embedding_inputs = Some(inputs);
    req.hints.dimensions = o
        .get("output_dimension")
        .and_then(|d| d.as_u64())
        .map(|d| d.clamp(1, 65_536) as usize);
    req.hints.embedding_types = o
        .get("embedding_types")
        .and_then(strings)
        .unwrap_or_default();
    Ok(req)
}

/// The text items of one `inputs[]` entry, joined with "".
fn input_text(item: &Value) -> String {
    item.get("content")
        .and_then(|c| c.as_array())
        .map(|parts| {
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

/// Render an embedding fixture: its vector for every input.
pub(super) fn render(v: &[f64], req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let vectors = vec![v.to_vec(); req.hints.embedding_count.max(1)];
    RenderPlan::json(200, &body(&vectors, req, ctx))
}

/// The deterministic answer to an unmatched embedding request.
pub(super) fn fallback(req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let dims = req.hints.dimensions.unwrap_or(COHERE_DEFAULT_DIMENSIONS);
    let vectors: Vec<Vec<f64>> = req
        .embedding_inputs
        .iter()
        .flatten()
        .map(|s| deterministic_vector(s, dims))
        .collect();
    RenderPlan::json(200, &body(&vectors, req, ctx))
}

fn body(vectors: &[Vec<f64>], req: &ChatRequest, ctx: &RenderContext) -> Value {
    let embeddings = typed_embeddings(vectors, &req.hints.embedding_types);
    let inputs = req.embedding_inputs.clone().unwrap_or_default();
    let tokens: u64 = inputs
        .iter()
        .map(|s| estimate_tokens(s.chars().count()))
        .sum();
    json!({
        "id": uuid(ctx, "embed"),
        "texts": inputs,
        "embeddings": embeddings,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
        "response_type": "embeddings_by_type",
    })
}

/// Cohere's `embeddings` object: one list of vectors per requested type (`float` when
/// none is named), unknown types left out. Bedrock's Cohere Embed sends the same.
pub(crate) fn typed_embeddings(vectors: &[Vec<f64>], types: &[String]) -> Map<String, Value> {
    let mut embeddings = Map::new();
    let wanted: Vec<&str> = if types.is_empty() {
        vec!["float"]
    } else {
        types.iter().map(String::as_str).collect()
    };
    for kind in wanted {
        let list: Option<Vec<Value>> = match kind {
            "float" => Some(vectors.iter().map(|v| json!(v)).collect()),
            "int8" => Some(
                vectors
                    .iter()
                    .map(|v| json!(scaled(v, -128.0, 127.0, 127.0, 0.0)))
                    .collect(),
            ),
            "uint8" => Some(
                vectors
                    .iter()
                    .map(|v| json!(scaled(v, 0.0, 255.0, 127.5, 127.5)))
                    .collect(),
            ),
            "binary" => Some(
                vectors
                    .iter()
                    .map(|v| {
                        json!(packed_signs(v)
                            .iter()
                            .map(|b| i16::from(*b) - 128)
                            .collect::<Vec<_>>())
                    })
                    .collect(),
            ),
            "ubinary" => Some(vectors.iter().map(|v| json!(packed_signs(v))).collect()),
            "base64" => Some(vectors.iter().map(|v| json!(to_base64_f32(v))).collect()),
            _ => None,
        };
        if let Some(list) = list {
            embeddings.insert(kind.to_string(), Value::Array(list));
        }
    }
    embeddings
}

/// `round(clamp(x, -1, 1) * scale + offset)`, kept inside `[lo, hi]`.
fn scaled(v: &[f64], lo: f64, hi: f64, scale: f64, offset: f64) -> Vec<i64> {
    v.iter()
        .map(|x| (x.clamp(-1.0, 1.0) * scale + offset).round().clamp(lo, hi) as i64)
        .collect()
}

/// One bit per dimension (set when positive), eight to a byte, most significant first.
fn packed_signs(v: &[f64]) -> Vec<u8> {
    v.chunks(8)
        .map(|c| {
            c.iter().enumerate().fold(
                0u8,
                |acc, (i, x)| if *x > 0.0 { acc | (0x80 >> i) } else { acc },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::Op;
    use super::*;
    use crate::cassette::model::parse_entry;
    use crate::providers::common::PlanBody;
    use std::sync::Arc;

    fn json_of(plan: &RenderPlan) -> Value {
        let PlanBody::Full(b) = &plan.body else {
            panic!("not a full body")
        };
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn fixture_vectors_answer_every_text_in_the_golden_envelope() {
        let mut f = Vec::new();
        let fx = parse_entry(
            &json!({"match":{},"response":{"embedding":[0.5,-1.0,0.0]}}),
            &Arc::from("t.json"),
            0,
            &mut f,
        )
        .unwrap();
        let req = parse(
            br#"{"model":"embed-english-v3.0","texts":["a","b"],"input_type":"search_document","embedding_types":["float","int8","ubinary"]}"#,
        )
        .unwrap();
        let ctx = RenderContext::new(&fx, &req, 20);
        let v = json_of(&crate::providers::cohere::render(
            &Op::Embed,
            &fx,
            &req,
            &ctx,
        ));
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["id", "texts", "embeddings", "meta", "response_type"]);
        assert_eq!(v["texts"], json!(["a", "b"]));
        assert_eq!(
            v["embeddings"]["float"],
            json!([[0.5, -1.0, 0.0], [0.5, -1.0, 0.0]])
        );
        assert_eq!(v["embeddings"]["int8"][0], json!([64, -127, 0]));
        assert_eq!(v["embeddings"]["ubinary"][0], json!([0b1000_0000]));
    }

    #[test]
    fn fallback_is_1024_dimensional_unless_output_dimension_is_set() {
        let req = parse(br#"{"model":"m","inputs":[{"content":[{"type":"text","text":"hi"}]}]}"#)
            .unwrap();
        assert_eq!(req.embedding_inputs, Some(vec!["hi".to_string()]));
        let ctx = RenderContext::for_request(&req);
        let v = json_of(&fallback(&req, &ctx));
        assert_eq!(v["embeddings"]["float"][0].as_array().unwrap().len(), 1024);
        let req = parse(br#"{"model":"m","texts":["hi"],"output_dimension":256}"#).unwrap();
        let v = json_of(&fallback(&req, &ctx));
        assert_eq!(v["embeddings"]["float"][0].as_array().unwrap().len(), 256);
    }

    #[test]
    fn embed_requests_need_a_model_and_some_input() {
        assert!(parse(br#"{"texts":["a"]}"#).is_err());
        assert!(parse(br#"{"model":"m"}"#).is_err());
    }
}

//! OpenAI (and Azure) `POST /v1/embeddings`: the request, the list of vectors as
//! floats or base64, and a recorded body read back.
//!
//! Not here: the vectors themselves and base64 (`providers::common::embedding`).

use serde_json::{json, Value};

use crate::providers::common::collapse::Collapsed;
use crate::providers::common::embedding::{
    deterministic_vector, from_base64_f32, parse_input, to_base64_f32,
};
use crate::providers::common::{estimate_tokens, json_body, ParseError, RenderPlan, RequestParts};
use crate::request::{ChatRequest, Endpoint};

/// OpenAI's default dimension count when the request names none.
pub const OPENAI_DEFAULT_DIMENSIONS: usize = 1536;

/// Parse an OpenAI embeddings request.
pub fn parse_request(
    _parts: &RequestParts,
    body: &[u8],
    azure_deployment: Option<&str>,
) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let Some(inputs) = parse_input(o.get("input")) else {
        return Err(ParseError::bad(
            "missing_required_parameter",
            "Missing required parameter: 'input'.",
        ));
    };
    let mut req = ChatRequest::new(Endpoint::Embedding, body);
    req.model = o
        .get("model")
        .and_then(|m| m.as_str())
        .map(String::from)
        .or_else(|| azure_deployment.map(String::from));
    req.hints.embedding_count = inputs.len();
    req.embedding_inputs = Some(inputs);
    req.hints.embedding_base64 =
        o.get("encoding_format").and_then(|e| e.as_str()) == Some("base64");
    req.hints.dimensions = o
        .get("dimensions")
        .and_then(|d| d.as_u64())
        .map(|d| d.clamp(1, 65_536) as usize);
    Ok(req)
}

fn openai_body(vectors: &[Vec<f64>], req: &ChatRequest) -> Value {
    let data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if req.hints.embedding_base64 {
                Value::String(to_base64_f32(v))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens: usize = req
        .embedding_inputs
        .as_ref()
        .map(|v| {
            v.iter()
                .map(|s| estimate_tokens(s.chars().count()) as usize)
                .sum()
        })
        .unwrap_or(0);
    json!({
        "object": "list",
        "data": data,
        "model": req.model.clone().unwrap_or_else(|| "text-embedding-3-small".into()),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })
}

/// Render an embedding fixture: its vector for every input.
pub fn render(vector: &[f64], req: &ChatRequest) -> RenderPlan {
    let n = req.hints.embedding_count.max(1);
    let vectors = vec![vector.to_vec(); n];
    RenderPlan::json(200, &openai_body(&vectors, req))
}

/// The deterministic answer to an unmatched OpenAI embeddings request.
pub fn fallback(req: &ChatRequest) -> RenderPlan {
    let dims = req.hints.dimensions.unwrap_or(OPENAI_DEFAULT_DIMENSIONS);
    let vectors: Vec<Vec<f64>> = req
        .embedding_inputs
        .iter()
        .flatten()
        .map(|s| deterministic_vector(s, dims))
        .collect();
    RenderPlan::json(200, &openai_body(&vectors, req))
}

/// Read a recorded OpenAI embeddings body: the first vector, floats or base64.
pub fn collapse(body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match v.pointer("/data/0/embedding") {
        Some(Value::Array(a)) => c.embedding = Some(a.iter().filter_map(|x| x.as_f64()).collect()),
        Some(Value::String(s)) => match from_base64_f32(s) {
            Some(vec) => c.embedding = Some(vec),
            None => c
                .warnings
                .push("base64 embedding is not a whole number of float32 values".into()),
        },
        _ => c
            .warnings
            .push("upstream embeddings body has no data[0].embedding".into()),
    }
    // Several inputs: every vector kept, as recorded (floats or base64).
    if c.embedding.is_some() && v["data"].as_array().is_some_and(|d| d.len() > 1) {
        c.native = crate::providers::common::native::embedding_layer("openai", &v, &["object"]);
    }
    c
}

//! Embedding endpoints. OpenAI (and Azure) `POST /v1/embeddings` here; other providers'
//! embedding shapes are added beside it.
//!
//! A fixture's vector answers every input of the request. Outside strict mode an
//! unmatched request gets [`deterministic_vector`]: a stable function of the input text,
//! so similarity-based code under test behaves the same on every run.

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{json_body, ParseError, RenderContext, RenderPlan, RequestParts};
use crate::cassette::{Fixture, Reply};
use crate::request::{ChatRequest, Endpoint};

/// OpenAI's default dimension count when the request names none.
pub const OPENAI_DEFAULT_DIMENSIONS: usize = 1536;

/// Parse `input`: a string, an array of strings, or token arrays (rendered as text so
/// `inputText` can still match them).
pub fn parse_input(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) if a.iter().all(|x| x.is_number()) && !a.is_empty() => {
            Some(vec![Value::Array(a.clone()).to_string()])
        }
        Value::Array(a) => Some(
            a.iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Parse an OpenAI embeddings request.
pub fn parse_openai(
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

/// A vector derived from SHA-256 of `input`: each 32 dimensions take the bytes of one
/// digest (block k hashes the input with k), mapped to [-1, 1] as `b / 127.5 - 1`.
pub fn deterministic_vector(input: &str, dims: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(dims);
    let mut block = 0u32;
    while out.len() < dims {
        let mut h = Sha256::new();
        h.update(input.as_bytes());
        h.update(block.to_le_bytes());
        for b in h.finalize() {
            if out.len() == dims {
                break;
            }
            out.push(f64::from(b) / 127.5 - 1.0);
        }
        block += 1;
    }
    out
}

/// Little-endian float32 bytes in base64, as OpenAI sends with `encoding_format=base64`.
pub fn to_base64_f32(v: &[f64]) -> String {
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for x in v {
        bytes.extend_from_slice(&(*x as f32).to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
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
                .map(|s| super::estimate_tokens(s.chars().count()) as usize)
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
pub fn render_openai(fx: &Fixture, req: &ChatRequest, _ctx: &RenderContext) -> RenderPlan {
    let Reply::Embedding(v) = &fx.reply else {
        return RenderPlan::json(
            500,
            &super::openai_error_body(
                500,
                &format!(
                    "Fixture response of kind {} cannot answer an embeddings request ({})",
                    fx.reply.kind_name(),
                    fx.origin
                ),
                &super::ErrorKind::Internal,
            ),
        );
    };
    let n = req.hints.embedding_count.max(1);
    let vectors = vec![v.clone(); n];
    RenderPlan::json(200, &openai_body(&vectors, req))
}

/// The deterministic answer to an unmatched OpenAI embeddings request.
pub fn render_openai_fallback(req: &ChatRequest, _ctx: &RenderContext) -> RenderPlan {
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
pub fn collapse_openai(body: &[u8]) -> super::collapse::Collapsed {
    let mut c = super::collapse::Collapsed::default();
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
    c
}

/// Decode little-endian float32 base64 into numbers (as f64, exactly representable).
pub fn from_base64_f32(s: &str) -> Option<Vec<f64>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()?;
    if bytes.is_empty() || bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_vectors_are_stable_bounded_and_input_specific() {
        let a = deterministic_vector("hello", 100);
        assert_eq!(a, deterministic_vector("hello", 100));
        assert_ne!(a, deterministic_vector("hellp", 100));
        assert_eq!(a.len(), 100);
        assert!(a.iter().all(|x| (-1.0..=1.0).contains(x)));
        assert_eq!(&deterministic_vector("hello", 40)[..], &a[..40]);
    }

    #[test]
    fn base64_round_trips_as_little_endian_f32() {
        let s = to_base64_f32(&[0.5, -0.25, 1.0]);
        assert_eq!(s, "AAAAPwAAgL4AAIA/");
        assert_eq!(from_base64_f32(&s), Some(vec![0.5, -0.25, 1.0]));
        assert_eq!(from_base64_f32("AAA="), None);
    }
}

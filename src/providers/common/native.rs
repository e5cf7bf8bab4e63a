//! What the providers' native layers share (see `cassette::native` for the format):
//! [`NativeOut`], the native layer a collapse found, written as the fixture's `items`
//! and `native`; the item constructors in the fixture's words; and SSE frames built
//! from values, which the native renderers write (they run only for replies with a
//! native layer, so they build `Value`s instead of hand-writing bytes).
//!
//! Not here: which parts of a reply are native (each provider's `native.rs`).

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::json::json_text;
use super::plan::Frame;

/// The native layer of a recorded reply: items in the fixture's words, envelope
/// fields and an in-band stream error, as recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NativeOut {
    /// The wire format (`anthropic`, `openai`, ...).
    pub provider: &'static str,
    /// `response.items`, each already a fixture item.
    pub items: Vec<Value>,
    /// `response.native.fields`.
    pub fields: Map<String, Value>,
    /// `response.native.streamError`.
    pub stream_error: Option<Value>,
    /// Write the neutral fields beside the items (they then win for every other
    /// provider): for replies whose items add little to them (Gemini signatures).
    pub neutral_too: bool,
}

impl NativeOut {
    /// A layer for `provider`.
    pub(crate) fn new(provider: &'static str) -> NativeOut {
        NativeOut {
            provider,
            ..NativeOut::default()
        }
    }

    /// `response.native` as written.
    pub(crate) fn native_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("provider".into(), self.provider.into());
        if !self.fields.is_empty() {
            m.insert("fields".into(), Value::Object(self.fields.clone()));
        }
        if let Some(e) = &self.stream_error {
            m.insert("streamError".into(), e.clone());
        }
        Value::Object(m)
    }
}

fn with_extra(mut m: Map<String, Value>, extra: Map<String, Value>) -> Value {
    if !extra.is_empty() {
        m.insert("extra".into(), Value::Object(extra));
    }
    Value::Object(m)
}

/// A `text` item.
pub(crate) fn text_item(text: &str, extra: Map<String, Value>) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), "text".into());
    m.insert("text".into(), text.into());
    with_extra(m, extra)
}

/// A `toolCall` item.
pub(crate) fn call_item(
    id: Option<&str>,
    name: &str,
    arguments: &str,
    extra: Map<String, Value>,
) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), "toolCall".into());
    if let Some(id) = id {
        m.insert("id".into(), id.into());
    }
    m.insert("name".into(), name.into());
    m.insert(
        "arguments".into(),
        if arguments.trim().is_empty() {
            "{}"
        } else {
            arguments
        }
        .into(),
    );
    with_extra(m, extra)
}

/// A `reasoning` item.
pub(crate) fn reasoning_item(
    text: &str,
    signature: Option<&str>,
    extra: Map<String, Value>,
) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), "reasoning".into());
    m.insert("text".into(), text.into());
    if let Some(s) = signature.filter(|s| !s.is_empty()) {
        m.insert("signature".into(), s.into());
    }
    with_extra(m, extra)
}

/// A `native` item: `v` verbatim.
pub(crate) fn verbatim_item(v: &Value) -> Value {
    json!({"type": "native", "item": v})
}

/// The keys of `o` other than `skip`, verbatim.
pub(crate) fn rest(o: &Map<String, Value>, skip: &[&str]) -> Map<String, Value> {
    o.iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Merge `extra` into the object `v`, its keys winning.
pub(crate) fn merged(mut v: Value, extra: &Map<String, Value>) -> Value {
    if let Value::Object(m) = &mut v {
        for (k, x) in extra {
            m.insert(k.clone(), x.clone());
        }
    }
    v
}

/// A JSON render with the recorded fields of `n` laid over its body (an embedding
/// fixture's every vector and type, see `cassette::native`).
pub(crate) fn overlay_plan(
    plan: super::plan::RenderPlan,
    n: Option<&crate::cassette::native::Native>,
) -> super::plan::RenderPlan {
    let Some(n) = n else { return plan };
    let super::plan::PlanBody::Full(b) = &plan.body else {
        return plan;
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(b) else {
        return plan;
    };
    crate::cassette::native::overlay(&mut v, &Value::Object(n.fields.clone()));
    let mut out = super::plan::RenderPlan::json(plan.status, &v);
    out.content_type = plan.content_type;
    out.headers = plan.headers;
    out
}

/// The fields of a recorded embedding body to keep (all but `skip`), as a native
/// layer, when the one vector of the fixture does not say everything it said.
pub(crate) fn embedding_layer(
    provider: &'static str,
    body: &Value,
    skip: &[&str],
) -> Option<NativeOut> {
    let o = body.as_object()?;
    let mut out = NativeOut::new(provider);
    out.fields = rest(o, skip);
    Some(out)
}

/// One SSE frame: `event: <name>\n` when named, then `data: <json>\n\n`.
pub(crate) fn sse_frame(event: Option<&str>, v: &Value) -> Frame {
    let mut b = Vec::new();
    if let Some(e) = event {
        b.extend_from_slice(b"event: ");
        b.extend_from_slice(e.as_bytes());
        b.push(b'\n');
    }
    b.extend_from_slice(b"data: ");
    b.extend_from_slice(json_text(v).as_bytes());
    b.extend_from_slice(b"\n\n");
    Frame {
        bytes: Bytes::from(b),
        paced: true,
    }
}

/// Slices of `s` of `size` characters (the first being `s` itself when it is shorter).
pub(crate) fn slices(s: &str, size: usize) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    super::chunk_text(s, size.max(1)).collect()
}

#[cfg(test)]
mod tests {
    use crate::testing::{content_capture, plan_bytes, record_and_replay};
    use serde_json::{json, Value};

    #[test]
    fn every_vector_of_every_embedding_type_replays_as_recorded() {
        let cases = [
            (
                "/v1/embeddings",
                "openai/embeddings-json-base64-two-inputs.json",
                json!({"model": "text-embedding-3-small", "input": ["a", "b"], "encoding_format": "base64"}),
            ),
            (
                "/v2/embed",
                "cohere/embed-v2-json-every-type.json",
                json!({"model": "embed-v4.0", "texts": ["a", "b"], "input_type": "search_document",
                       "embedding_types": ["float", "int8", "uint8", "binary", "ubinary", "base64"]}),
            ),
            (
                "/v1beta/models/gemini-embedding-001:batchEmbedContents",
                "gemini/batch-embed-contents-json-two.json",
                json!({"requests": [{"content": {"parts": [{"text": "a"}]}}, {"content": {"parts": [{"text": "b"}]}}]}),
            ),
            (
                "/api/embed",
                "ollama/api-embed-json-two.json",
                json!({"model": "nomic-embed-text", "input": ["a", "b"]}),
            ),
        ];
        for (path, name, request) in cases {
            let capture = content_capture(name);
            let recorded: Value = serde_json::from_slice(&capture).unwrap();
            let (response, plan) =
                record_and_replay(path, "application/json", &capture, &request.to_string());
            assert!(
                response["native"]["provider"].is_string(),
                "{name}: {response}"
            );
            let got: Value = serde_json::from_slice(&plan_bytes(&plan)).unwrap();
            for key in ["data", "embeddings"] {
                assert_eq!(got.get(key), recorded.get(key), "{name}: {key}");
            }
        }
    }
}

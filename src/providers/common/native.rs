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

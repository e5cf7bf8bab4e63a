//! The recorder's view of a provider reply: [`Collapsed`], the provider-neutral result of
//! reading a captured stream or JSON body, and its conversion into a fixture `response`.
//!
//! Each provider file implements the reading (its `collapse` function); this file owns
//! what every provider shares: accumulating text, reasoning and tool calls in arrival
//! order, detecting interleaving (to decide whether `blocks` are needed), decoding the
//! frames a cut stream did deliver, turning an
//! upstream error body into an error fixture, and writing the fixture JSON.

use std::collections::HashMap;

use bytes::BytesMut;

use serde_json::{json, Map, Value};

use crate::codec::Decoder;

/// A tool call assembled from a stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollapsedCall {
    /// The provider's call id, if it sent one.
    pub id: Option<String>,
    /// Function name (the first non-empty value wins).
    pub name: String,
    /// Argument JSON text, joined from its fragments.
    pub arguments: String,
}

/// An upstream error, from the HTTP status or an error event inside a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct CollapsedError {
    /// The status to replay it with.
    pub status: u16,
    /// The provider's message.
    pub message: String,
    /// The provider's error type, if any.
    pub kind: Option<String>,
    /// The provider's error code, if any.
    pub code: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
enum Atom {
    Text,
    Call(usize),
}

/// Everything the recorder learned from one reply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collapsed {
    /// Text content, concatenated.
    pub content: String,
    /// Reasoning / thinking text, concatenated.
    pub reasoning: String,
    /// The last non-empty thinking signature.
    pub signature: Option<String>,
    /// Redacted-thinking blobs.
    pub redacted: Vec<String>,
    /// Cohere's tool plan, kept apart from the content.
    pub tool_plan: String,
    /// Tool calls in the order they started.
    pub calls: Vec<CollapsedCall>,
    atoms: Vec<Atom>,
    keys: HashMap<String, usize>,
    /// Usage as `(input, output)` tokens, when the provider reported it.
    pub usage: Option<(u64, u64)>,
    /// Finish reason, already in OpenAI's vocabulary (`stop`, `tool_calls`, `length`...).
    pub finish_reason: Option<String>,
    /// An upstream error (HTTP status or mid-stream error event).
    pub error: Option<CollapsedError>,
    /// An embedding vector (the first one of the reply).
    pub embedding: Option<Vec<f64>>,
    /// A media reply, already in the fixture's words (`{"audio":..}`, `{"image":..}`,
    /// `{"transcription":..}`, `{"video":..}`): written as the `response` as it is.
    pub media: Option<Value>,
    /// Frames that did not parse.
    pub dropped: usize,
    /// The stream ended without its terminal event or a frame was cut.
    pub truncated: bool,
    /// Notes for the cassette's `_warnings`.
    pub warnings: Vec<String>,
    /// The other choices of a reply asked with `n > 1` (index 1, 2, ...), each read
    /// on its own; this value is choice 0.
    pub choices: Vec<Collapsed>,
    /// What the neutral fields cannot hold (see `cassette::native`): written as the
    /// fixture's `items` and `native` when a provider found any.
    pub native: Option<super::native::NativeOut>,
    /// The provider's response id, pinned as the fixture's `id` so a replay answers
    /// with the recorded one (a user's test may assert on it).
    pub id: Option<String>,
    /// The provider's creation time (Unix seconds), pinned as `created`.
    pub created: Option<i64>,
    /// The model the provider answered with, pinned as `model`.
    pub model: Option<String>,
}

/// The per-choice part of a response object: what one choice says, not the envelope
/// (usage is the whole reply's).
fn choice_of(r: &Map<String, Value>) -> Value {
    let mut m = Map::new();
    for k in [
        "content",
        "toolCalls",
        "blocks",
        "reasoning",
        "toolPlan",
        "finishReason",
    ] {
        if let Some(v) = r.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    Value::Object(m)
}

/// The first value at one of `pointers` in a reply body: in an SSE stream's events in
/// order, a JSON array's elements in order, or one JSON document. The recorder reads
/// the response id and creation time this way, to pin them in the fixture.
pub(crate) fn envelope_value(content_type: &str, body: &[u8], pointers: &[&str]) -> Option<Value> {
    let find = |v: &Value| {
        pointers
            .iter()
            .find_map(|p| v.pointer(p).filter(|x| !x.is_null()).cloned())
    };
    if content_type.to_ascii_lowercase().contains("event-stream") {
        let events =
            crate::codec::decode_all(&mut crate::codec::sse::SseDecoder::new(), body).ok()?;
        return events
            .iter()
            .filter_map(|e| serde_json::from_str::<Value>(e.data.trim()).ok())
            .find_map(|v| find(&v));
    }
    match serde_json::from_slice::<Value>(body).ok()? {
        Value::Array(a) => a.iter().find_map(find),
        v => find(&v),
    }
}

/// Pin the recorded response id, creation time and model found at `id` / `created` /
/// `model` in the fixture, unless the reply is an error.
pub(crate) fn pin_envelope(
    c: &mut Collapsed,
    content_type: &str,
    body: &[u8],
    id: &[&str],
    created: &[&str],
    model: &[&str],
) {
    if c.error.is_some() {
        return;
    }
    if c.model.is_none() && !model.is_empty() {
        c.model = envelope_value(content_type, body, model)
            .and_then(|v| v.as_str().map(String::from))
            .filter(|s| !s.is_empty());
    }
    if c.id.is_none() {
        c.id = envelope_value(content_type, body, id)
            .and_then(|v| v.as_str().map(String::from))
            .filter(|s| !s.is_empty());
    }
    if c.created.is_none() && !created.is_empty() {
        c.created = envelope_value(content_type, body, created)
            .and_then(|v| v.as_i64())
            .filter(|t| *t > 0);
    }
}

impl Collapsed {
    /// Nothing was read from the reply: no text, reasoning, call, embedding, error,
    /// finish reason or usage. The recorder saves such a reply raw.
    pub fn is_empty(&self) -> bool {
        self.content.is_empty()
            && self.tool_plan.is_empty()
            && self.reasoning.is_empty()
            && self.redacted.is_empty()
            && self.calls.is_empty()
            && self.embedding.is_none()
            && self.media.is_none()
            && self.error.is_none()
            && self.finish_reason.is_none()
            && self.usage.is_none()
            && self.native.is_none()
    }

    /// Append text.
    pub fn push_text(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        self.content.push_str(s);
        if self.atoms.last() != Some(&Atom::Text) {
            self.atoms.push(Atom::Text);
        }
    }

    /// Append reasoning.
    pub fn push_reasoning(&mut self, s: &str) {
        self.reasoning.push_str(s);
    }

    /// Start (or find) the tool call known by `key` (an index or id as text).
    pub fn call(&mut self, key: &str) -> &mut CollapsedCall {
        let i = match self.keys.get(key) {
            Some(&i) => i,
            None => {
                let i = self.calls.len();
                self.calls.push(CollapsedCall::default());
                self.keys.insert(key.to_string(), i);
                self.atoms.push(Atom::Call(i));
                i
            }
        };
        &mut self.calls[i]
    }

    /// True when a tool call with `key` has started.
    pub fn has_call(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }

    /// Add a complete tool call (providers that never split arguments).
    pub fn push_call(&mut self, id: Option<String>, name: &str, arguments: String) {
        let key = format!("#{}", self.calls.len());
        let c = self.call(&key);
        c.id = id;
        c.name = name.to_string();
        c.arguments = arguments;
    }

    /// Fill id and name if still empty, and append an argument fragment.
    pub fn extend_call(&mut self, key: &str, id: Option<&str>, name: Option<&str>, args: &str) {
        let c = self.call(key);
        if c.id.as_deref().is_none_or(str::is_empty) {
            if let Some(id) = id.filter(|s| !s.is_empty()) {
                c.id = Some(id.to_string());
            }
        }
        if c.name.is_empty() {
            if let Some(n) = name {
                c.name = n.to_string();
            }
        }
        c.arguments.push_str(args);
    }

    /// True when text came after a tool call, or a tool call came first: then the order
    /// must be kept in `blocks`.
    fn interleaved(&self) -> bool {
        let first_text = self.atoms.iter().position(|a| *a == Atom::Text);
        let first_call = self.atoms.iter().position(|a| matches!(a, Atom::Call(_)));
        match (first_text, first_call) {
            (Some(t), Some(c)) => c < t || self.atoms[c..].contains(&Atom::Text),
            _ => false,
        }
    }

    /// The fixture `response` object, plus warnings for the cassette.
    pub fn to_response(&self) -> (Value, Vec<String>) {
        let mut warnings = self.warnings.clone();
        if self.dropped > 0 {
            warnings.push(format!(
                "{} stream frame(s) did not parse and were skipped",
                self.dropped
            ));
        }
        if self.truncated {
            warnings.push("Stream response was truncated — fixture may be incomplete".into());
        }
        if let Some(e) = &self.error {
            let mut err = Map::new();
            err.insert("message".into(), e.message.clone().into());
            if let Some(k) = &e.kind {
                err.insert("type".into(), k.clone().into());
            }
            if let Some(c) = &e.code {
                err.insert("code".into(), c.clone());
            }
            return (json!({"error": err, "status": e.status}), warnings);
        }
        if let Some(v) = &self.embedding {
            let mut r = json!({ "embedding": v });
            if let Some(n) = &self.native {
                r["native"] = n.native_json();
            }
            return (r, warnings);
        }
        if let Some(m) = &self.media {
            return (m.clone(), warnings);
        }
        let mut r = Map::new();
        if let Some(id) = self.id.as_deref().filter(|s| !s.is_empty()) {
            r.insert("id".into(), id.into());
        }
        if let Some(t) = self.created {
            r.insert("created".into(), t.into());
        }
        if let Some(m) = self.model.as_deref().filter(|s| !s.is_empty()) {
            r.insert("model".into(), m.into());
        }
        let calls: Vec<Value> = self
            .calls
            .iter()
            .map(|c| {
                let args = if c.arguments.trim().is_empty() {
                    "{}".to_string()
                } else {
                    c.arguments.clone()
                };
                let mut m = Map::new();
                m.insert("name".into(), c.name.clone().into());
                m.insert("arguments".into(), args.into());
                if let Some(id) = &c.id {
                    m.insert("id".into(), id.clone().into());
                }
                Value::Object(m)
            })
            .collect();
        if !self.tool_plan.is_empty() {
            r.insert("toolPlan".into(), self.tool_plan.clone().into());
        }
        // With native items, the items are the reply: the neutral fields are derived
        // from them when the fixture is loaded.
        let has_items = self.native.as_ref().is_some_and(|n| !n.items.is_empty());
        if let Some(n) = &self.native {
            if has_items {
                r.insert("items".into(), Value::Array(n.items.clone()));
            }
            r.insert("native".into(), n.native_json());
        }
        let itemised = has_items && !self.native.as_ref().is_some_and(|n| n.neutral_too);
        if itemised {
        } else if !self.content.is_empty() || calls.is_empty() {
            if self.content.is_empty() && self.tool_plan.is_empty() {
                warnings.push("Upstream reply had no text and no tool calls".into());
            }
            r.insert("content".into(), self.content.clone().into());
        }
        if !calls.is_empty() && !itemised {
            r.insert("toolCalls".into(), Value::Array(calls.clone()));
            if !self.content.is_empty() && self.interleaved() {
                r.insert("blocks".into(), Value::Array(self.blocks(&calls)));
            }
        }
        if itemised {
        } else if !self.reasoning.is_empty() {
            r.insert("reasoning".into(), self.reasoning.clone().into());
            if let Some(s) = &self.signature {
                r.insert("reasoningSignature".into(), s.clone().into());
            }
        } else if self.signature.is_some() {
            warnings.push(
                "the reply carried a reasoning signature but no reasoning text; the signature was not saved".into(),
            );
        }
        if !self.redacted.is_empty() && !itemised {
            r.insert("redactedThinking".into(), json!(self.redacted));
        }
        if let Some((i, o)) = self.usage {
            r.insert(
                "usage".into(),
                json!({"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}),
            );
        }
        let default_finish = if self.calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        };
        if let Some(f) = self
            .finish_reason
            .as_deref()
            .filter(|f| *f != default_finish)
        {
            r.insert("finishReason".into(), f.into());
        }
        if !self.choices.is_empty() {
            // Every choice, in index order; choice 0 also stays at the top, which is
            // what a provider without choices (or the reference) replays.
            let mut all = vec![choice_of(&r)];
            for (i, other) in self.choices.iter().enumerate() {
                let (v, w) = other.to_response();
                warnings.extend(w.into_iter().map(|w| format!("choice {}: {w}", i + 1)));
                all.push(choice_of(v.as_object().unwrap_or(&Map::new())));
            }
            r.insert("choices".into(), Value::Array(all));
        }
        (Value::Object(r), warnings)
    }

    /// Choice `index` (0 is this value itself), made on first use.
    pub fn choice(&mut self, index: usize) -> &mut Collapsed {
        if index == 0 {
            return self;
        }
        while self.choices.len() < index {
            self.choices.push(Collapsed::default());
        }
        &mut self.choices[index - 1]
    }

    fn blocks(&self, calls: &[Value]) -> Vec<Value> {
        // Text atoms do not record their extent, so rebuild the text segments by
        // splitting the content evenly is impossible; instead keep one text block in
        // the position of the first text atom and the calls around it in arrival order.
        let mut out = Vec::new();
        let mut text_done = false;
        for a in &self.atoms {
            match a {
                Atom::Text if !text_done => {
                    out.push(json!({"type": "text", "text": self.content}));
                    text_done = true;
                }
                Atom::Text => {}
                Atom::Call(i) => {
                    let mut b = calls[*i].as_object().cloned().unwrap_or_default();
                    b.insert("type".into(), "toolCall".into());
                    out.push(Value::Object(b));
                }
            }
        }
        out
    }
}

/// Read an error body in any provider's common shape: `{"error":{"message",...}}`,
/// `{"type":"error","error":{...}}`, `{"message": ...}`, `{"error":"..."}`, or a
/// Google `{"error":{"code","message","status"}}`.
pub(crate) fn error_from_body(status: u16, body: &[u8]) -> CollapsedError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let v = match &v {
        // Gemini's non-SSE stream wraps everything in an array.
        Value::Array(a) if a.len() == 1 => a[0].clone(),
        _ => v,
    };
    let (message, kind, code) = match v.get("error") {
        Some(Value::Object(e)) => (
            e.get("message").and_then(|m| m.as_str()).map(String::from),
            e.get("type")
                .or_else(|| e.get("status"))
                .and_then(|t| t.as_str())
                .map(String::from),
            e.get("code").cloned().filter(|c| !c.is_null()),
        ),
        Some(Value::String(s)) => (Some(s.clone()), None, None),
        _ => (
            v.get("message")
                .or_else(|| v.get("Message"))
                .and_then(|m| m.as_str())
                .map(String::from),
            v.get("__type").and_then(|t| t.as_str()).map(String::from),
            None,
        ),
    };
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let t = crate::request::truncate(text.trim(), 500);
        if t.is_empty() {
            format!("Upstream returned HTTP {status}")
        } else {
            t
        }
    });
    CollapsedError {
        status,
        message,
        kind,
        code,
    }
}

/// Decode frames until the bytes run out or the framing breaks: the frames before a
/// break are kept (a cut or corrupt stream still records what it delivered).
pub(crate) fn decode_prefix<D: Decoder>(
    mut decoder: D,
    bytes: &[u8],
) -> (Vec<D::Item>, Option<crate::codec::Error>) {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(item)) => out.push(item),
            Ok(None) => break,
            Err(e) => return (out, Some(e)),
        }
    }
    loop {
        match decoder.decode_eof(&mut buf) {
            Ok(Some(item)) => out.push(item),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_then_tools_keeps_the_legacy_shape_and_tool_first_gets_blocks() {
        let mut c = Collapsed::default();
        c.push_text("Hi ");
        c.push_text("there");
        c.extend_call("0", Some("call_1"), Some("f"), "{\"a\"");
        c.extend_call("0", None, None, ":1}");
        let (r, _) = c.to_response();
        assert_eq!(r["content"], "Hi there");
        assert_eq!(r["toolCalls"][0]["arguments"], "{\"a\":1}");
        assert_eq!(r["toolCalls"][0]["id"], "call_1");
        assert!(r.get("blocks").is_none());
        assert!(r.get("finishReason").is_none());

        let mut c = Collapsed::default();
        c.push_call(None, "f", String::new());
        c.push_text("after");
        let (r, _) = c.to_response();
        assert_eq!(r["blocks"][0]["type"], "toolCall");
        assert_eq!(r["blocks"][0]["arguments"], "{}");
        assert_eq!(r["blocks"][1]["text"], "after");
    }

    #[test]
    fn error_bodies_of_every_shape_are_read() {
        let e = error_from_body(
            429,
            br#"{"error":{"message":"slow","type":"rate_limit_error","code":"rl"}}"#,
        );
        assert_eq!(
            (e.message.as_str(), e.kind.as_deref()),
            ("slow", Some("rate_limit_error"))
        );
        let e = error_from_body(
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(e.kind.as_deref(), Some("overloaded_error"));
        let e = error_from_body(400, br#"{"message":"bad input"}"#);
        assert_eq!(e.message, "bad input");
        let e = error_from_body(404, br#"{"error":"model not found"}"#);
        assert_eq!(e.message, "model not found");
        let e = error_from_body(502, b"<html>bad gateway</html>");
        assert_eq!(e.message, "<html>bad gateway</html>");
    }
}

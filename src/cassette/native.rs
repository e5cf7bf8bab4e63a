//! What a reply carries beyond the neutral fields: the ordered `items` of a response and
//! the provider-specific parts kept verbatim (`native`), so that a recording replays
//! through the provider it came from with the same items in the same order.
//!
//! # The format
//! ```json
//! "response": {
//!   "items": [
//!     {"type": "native", "item": {"type": "server_tool_use", "id": "srvtoolu_1", ...}},
//!     {"type": "native", "item": {"type": "web_search_tool_result", ...}},
//!     {"type": "text", "text": "Paris.", "extra": {"citations": [...]}},
//!     {"type": "toolCall", "id": "toolu_1", "name": "f", "arguments": "{}"},
//!     {"type": "reasoning", "text": "...", "signature": "..."}
//!   ],
//!   "native": {"provider": "anthropic", "fields": {"stop_reason": "pause_turn", ...}}
//! }
//! ```
//! - `items` is the reply in wire order. The known kinds (`text`, `toolCall`,
//!   `reasoning`) are structured and editable; a known item's `extra` holds the keys of
//!   that item the neutral form has no name for (citations, annotations, logprobs, a
//!   thought signature), in the provider's own words. `native` items are the parts the
//!   neutral form cannot hold at all (server tool calls and results, code execution,
//!   redacted reasoning, ...), kept verbatim as the provider sent them.
//! - `native.provider` names the wire format the verbatim parts (items, extras, fields)
//!   belong to: `openai` (chat), `openai.responses`, `anthropic`, `gemini`,
//!   `bedrock.converse`, `cohere`, `ollama`.
//! - `native.fields` holds the envelope fields as recorded, at the provider's own
//!   nesting (for OpenAI chat `{"service_tier":..,"usage":{..},"choices":[{"logprobs":
//!   ..,"message":{"refusal":..}}]}`): each renderer overlays them on what it writes.
//! - `native.streamError` is an error the provider sent inside a 200 stream (Anthropic
//!   `event: error`, Cohere `finish_reason: "ERROR"`): replayed in band, after the
//!   items, as the provider sent it, never as an HTTP error.
//!
//! Replay through the same provider renders the items in order (known kinds through
//! the provider's own renderer with their `extra` merged in, native ones as written)
//! and overlays the fields. Replay through any other provider reads the neutral view
//! derived from the items when the entry is loaded (`content` from the text items,
//! `blocks` for the order of text and tool calls, `reasoning` from the reasoning
//! items): text stays text, tool calls stay tool calls, the native parts are dropped.
//!
//! An embedding fixture may carry `native` too (no items): the recorded body's vectors
//! of every input and type, laid over the render of its one `embedding` vector.
//!
//! Scope: the data and its parsing. Not here: rendering and collapsing, which live
//! with each provider (`providers::*::native`), and the shared helpers for them
//! (`providers::common::native`).
//!
//! # Design
//! A reply without `items` and `native` carries `None` here: one pointer, never read
//! past a null check, so plain replay costs nothing extra. Rejected: storing the whole
//! recorded body as an overlay (not editable; a changed `content` would be silently
//! ignored), and one global item vocabulary covering every provider's part types (it
//! would be out of date with each new server tool; verbatim parts are not).

use serde_json::{Map, Value};

// The types live with the rest of the reply model, so the model needs nothing from here.
use super::model::{Block, ToolCall};
pub use super::model::{Item, Native};

/// What the neutral fields of a reply read when only `items` gave them.
#[derive(Debug, Default)]
pub struct Neutral {
    /// Text and tool calls in order.
    pub blocks: Vec<Block>,
    /// Reasoning texts, joined.
    pub reasoning: Option<String>,
    /// The last reasoning signature.
    pub signature: Option<String>,
}

/// A problem found while reading `items` / `native`: (is it an error, field, message).
pub type Problem = (bool, String, String);

fn extra_of(
    o: &Map<String, Value>,
    field: &str,
    problems: &mut Vec<Problem>,
) -> Map<String, Value> {
    match o.get("extra") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            problems.push((true, format!("{field}.extra"), "must be an object".into()));
            Map::new()
        }
    }
}

fn string_of(o: &Map<String, Value>, key: &str) -> Option<String> {
    o.get(key).and_then(Value::as_str).map(String::from)
}

/// Read `response.items`; `call` parses a tool call the way `toolCalls` entries are.
pub fn parse_items(
    v: &Value,
    mut call: impl FnMut(&Value, &str) -> Option<ToolCall>,
    problems: &mut Vec<Problem>,
) -> Vec<Item> {
    let Some(list) = v.as_array() else {
        problems.push((true, "response.items".into(), "must be an array".into()));
        return Vec::new();
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let field = format!("response.items[{i}]");
        let Some(o) = item.as_object() else {
            problems.push((true, field, "must be an object".into()));
            continue;
        };
        match o.get("type").and_then(Value::as_str) {
            Some("text") => match o.get("text").and_then(Value::as_str) {
                Some(t) => out.push(Item::Text {
                    text: t.to_string(),
                    extra: extra_of(o, &field, problems),
                }),
                None => problems.push((true, format!("{field}.text"), "must be a string".into())),
            },
            Some("toolCall") => {
                if let Some(c) = call(item, &field) {
                    out.push(Item::ToolCall {
                        call: c,
                        extra: extra_of(o, &field, problems),
                    });
                }
            }
            Some("reasoning") => out.push(Item::Reasoning {
                text: string_of(o, "text").unwrap_or_default(),
                signature: string_of(o, "signature"),
                extra: extra_of(o, &field, problems),
            }),
            Some("native") => match o.get("item") {
                Some(v @ Value::Object(_)) => out.push(Item::Verbatim(v.clone())),
                _ => problems.push((true, format!("{field}.item"), "must be an object".into())),
            },
            _ => problems.push((
                true,
                format!("{field}.type"),
                "must be \"text\", \"toolCall\", \"reasoning\" or \"native\"".into(),
            )),
        }
    }
    out
}

/// Read `response.native` around already-read `items`.
pub fn parse_native(v: &Value, items: Vec<Item>, problems: &mut Vec<Problem>) -> Option<Native> {
    let Some(o) = v.as_object() else {
        problems.push((true, "response.native".into(), "must be an object".into()));
        return None;
    };
    let Some(provider) = string_of(o, "provider").filter(|p| !p.is_empty()) else {
        problems.push((
            true,
            "response.native.provider".into(),
            "must name the provider the native parts came from".into(),
        ));
        return None;
    };
    let fields = match o.get("fields") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            problems.push((
                true,
                "response.native.fields".into(),
                "must be an object".into(),
            ));
            Map::new()
        }
    };
    for k in o.keys() {
        if !["provider", "fields", "streamError"].contains(&k.as_str()) {
            problems.push((
                false,
                format!("response.native.{k}"),
                "is not a known field".into(),
            ));
        }
    }
    Some(Native {
        provider,
        items,
        fields,
        stream_error: o.get("streamError").filter(|e| !e.is_null()).cloned(),
    })
}

/// The neutral view of `items`: what every other provider replays.
pub fn neutral(items: &[Item]) -> Neutral {
    let mut n = Neutral::default();
    let mut reasoning = String::new();
    let mut any_reasoning = false;
    for item in items {
        match item {
            Item::Text { text, .. } if !text.is_empty() => match n.blocks.last_mut() {
                // Adjacent texts are one text to a provider without items.
                Some(Block::Text(t)) => t.push_str(text),
                _ => n.blocks.push(Block::Text(text.clone())),
            },
            Item::ToolCall { call, .. } => n.blocks.push(Block::ToolCall(call.clone())),
            Item::Reasoning {
                text, signature, ..
            } => {
                any_reasoning = true;
                reasoning.push_str(text);
                if signature.is_some() {
                    n.signature = signature.clone();
                }
            }
            _ => {}
        }
    }
    n.reasoning = any_reasoning.then_some(reasoning);
    n
}

/// Deep-merge `patch` into `base`: objects key by key, arrays element by element (an
/// element beyond `base`'s end is appended), anything else replaced. How recorded
/// envelope fields are laid over a rendered body.
pub fn overlay(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(slot) => overlay(slot, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(p)) => {
            for (i, v) in p.iter().enumerate() {
                match b.get_mut(i) {
                    Some(slot) => overlay(slot, v),
                    None => b.push(v.clone()),
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_give_the_neutral_view_in_order_and_native_parts_are_not_in_it() {
        let mut problems = Vec::new();
        let items = parse_items(
            &json!([
                {"type": "reasoning", "text": "think", "signature": "sig"},
                {"type": "native", "item": {"type": "server_tool_use"}},
                {"type": "text", "text": "a", "extra": {"citations": []}},
                {"type": "text", "text": "b"},
                {"type": "toolCall", "name": "f", "arguments": "{}"}
            ]),
            |v, _| {
                Some(ToolCall {
                    id: None,
                    name: v["name"].as_str()?.into(),
                    arguments: "{}".into(),
                })
            },
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let n = neutral(&items);
        assert_eq!(n.reasoning.as_deref(), Some("think"));
        assert_eq!(n.signature.as_deref(), Some("sig"));
        assert_eq!(n.blocks.len(), 2);
        assert_eq!(n.blocks[0], Block::Text("ab".into()));
    }

    #[test]
    fn bad_items_and_a_native_without_provider_are_reported() {
        let mut problems = Vec::new();
        let items = parse_items(&json!([{"type": "bogus"}, 3]), |_, _| None, &mut problems);
        assert!(items.is_empty());
        assert_eq!(problems.len(), 2);
        assert!(parse_native(&json!({"fields": {}}), vec![], &mut problems).is_none());
        assert!(problems.iter().all(|p| p.0));
    }

    #[test]
    fn overlay_merges_objects_and_arrays_by_position() {
        let mut base = json!({"a": 1, "choices": [{"message": {"content": "x", "refusal": null}}]});
        overlay(
            &mut base,
            &json!({"tier": "t", "choices": [{"message": {"refusal": "no"}, "logprobs": {}}]}),
        );
        assert_eq!(
            base,
            json!({"a": 1, "tier": "t", "choices": [{"message": {"content": "x", "refusal": "no"}, "logprobs": {}}]})
        );
    }
}

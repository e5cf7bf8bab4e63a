//! Gemini's native layer (see `cassette::native`): parts beyond text, thoughts and
//! function calls (`executableCode`, `codeExecutionResult`, `inlineData`, ...), a
//! `thoughtSignature` on the part it was sent with (Gemini wants it back on that very
//! part in the next turn), and the candidate's `groundingMetadata`,
//! `urlContextMetadata`, `citationMetadata` and logprobs, with the usage as recorded.
//!
//! Collapse: every `GenerateContentResponse` of a recording (one, or each streamed
//! chunk) is read in order by [`native_of`]: consecutive text of one kind is one item,
//! ended by the part that carries its signature. Render: the items are the parts
//! ([`parts`]; streamed one item per chunk) and the recorded candidate and envelope
//! fields go on the final (or only) response ([`fields`]), where Gemini sends them.

use serde_json::{json, Map, Value};

use crate::cassette::native::{Item, Native};
use crate::providers::common::native::{
    call_item, merged, reasoning_item, rest, text_item, verbatim_item, NativeOut,
};

/// The name of this wire format in `native.provider`.
pub const PROVIDER: &str = "gemini";

/// Candidate keys that make a reply native.
const RICH_CANDIDATE: &[&str] = &[
    "groundingMetadata",
    "urlContextMetadata",
    "citationMetadata",
    "logprobsResult",
];

/// One item being built from streamed parts.
struct Open {
    thought: bool,
    text: String,
    extra: Map<String, Value>,
    closed: bool,
}

/// The native layer of a reply's responses, when they carry anything the neutral
/// fields cannot.
pub fn native_of(responses: &[Value]) -> Option<NativeOut> {
    let mut items: Vec<Value> = Vec::new();
    let mut open: Option<Open> = None;
    let mut rich = false;
    // Signatures on text or call parts alone: the neutral fields stay beside the items.
    let mut signed = false;
    let mut candidate = Map::new();
    let mut top = Map::new();
    let flush = |open: &mut Option<Open>, items: &mut Vec<Value>| {
        if let Some(o) = open.take() {
            let sig = o
                .extra
                .get("thoughtSignature")
                .and_then(Value::as_str)
                .map(String::from);
            items.push(if o.thought {
                let extra = rest(&o.extra, &["thoughtSignature"]);
                let mut v = reasoning_item(&o.text, sig.as_deref(), extra);
                // Kept in the part's own words too, so it goes back where it came.
                if let Some(s) = sig {
                    v["extra"]["thoughtSignature"] = s.into();
                }
                v
            } else {
                text_item(&o.text, o.extra)
            });
        }
    };
    for r in responses {
        let Some(cand) = r.pointer("/candidates/0").and_then(Value::as_object) else {
            continue;
        };
        for part in cand
            .get("content")
            .and_then(|c| c.get("parts"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(p) = part.as_object() else { continue };
            let sig = p.get("thoughtSignature").filter(|s| s.is_string());
            if let Some(t) = p.get("text").and_then(Value::as_str) {
                let thought = p.get("thought").and_then(Value::as_bool) == Some(true);
                let extra = rest(p, &["text", "thought"]);
                if sig.is_some() && !thought {
                    signed = true;
                }
                let joins = open
                    .as_ref()
                    .is_some_and(|o| o.thought == thought && !o.closed);
                if !joins {
                    flush(&mut open, &mut items);
                    open = Some(Open {
                        thought,
                        text: String::new(),
                        extra: Map::new(),
                        closed: false,
                    });
                }
                if let Some(o) = open.as_mut() {
                    o.text.push_str(t);
                    o.extra.extend(extra);
                    o.closed = sig.is_some();
                }
                continue;
            }
            flush(&mut open, &mut items);
            if let Some(fc) = p.get("functionCall").and_then(Value::as_object) {
                let extra = rest(p, &["functionCall"]);
                signed |= !extra.is_empty();
                let args = fc
                    .get("args")
                    .map(Value::to_string)
                    .unwrap_or_else(|| "{}".into());
                let mut extra = extra;
                // The call's own extra keys (`willContinue`, ...) beside its name/args.
                let inner = rest(fc, &["id", "name", "args"]);
                if !inner.is_empty() {
                    rich = true;
                    extra.insert("functionCall".into(), Value::Object(inner));
                }
                items.push(call_item(
                    fc.get("id").and_then(Value::as_str),
                    fc.get("name").and_then(Value::as_str).unwrap_or(""),
                    &args,
                    extra,
                ));
            } else {
                rich = true;
                items.push(verbatim_item(part));
            }
        }
        for (k, v) in cand {
            if k != "content" && k != "index" {
                rich |= RICH_CANDIDATE.contains(&k.as_str());
                candidate.insert(k.clone(), v.clone());
            }
        }
        for k in ["usageMetadata", "modelVersion"] {
            if let Some(v) = r.get(k) {
                top.insert(k.into(), v.clone());
            }
        }
    }
    flush(&mut open, &mut items);
    if !rich && !signed {
        return None;
    }
    let mut out = NativeOut::new(PROVIDER);
    out.neutral_too = !rich;
    out.items = items;
    out.fields = top;
    if !candidate.is_empty() {
        out.fields
            .insert("candidates".into(), json!([Value::Object(candidate)]));
    }
    Some(out)
}

/// The parts of a reply with a native layer, one per item, in order.
pub fn parts(n: &Native) -> Vec<Value> {
    n.items
        .iter()
        .map(|item| match item {
            Item::Text { text, extra } => merged(json!({"text": text}), extra),
            Item::Reasoning { text, extra, .. } => {
                merged(json!({"text": text, "thought": true}), extra)
            }
            Item::ToolCall { call, extra } => {
                let mut fc = Map::new();
                if let Some(id) = &call.id {
                    fc.insert("id".into(), id.clone().into());
                }
                fc.insert("name".into(), call.name.clone().into());
                fc.insert(
                    "args".into(),
                    serde_json::from_str::<Value>(&call.arguments)
                        .ok()
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({})),
                );
                if let Some(Value::Object(inner)) = extra.get("functionCall") {
                    fc.extend(inner.clone());
                }
                let mut extra = extra.clone();
                extra.remove("functionCall");
                merged(json!({"functionCall": fc}), &extra)
            }
            Item::Verbatim(v) => v.clone(),
        })
        .collect()
}

/// The recorded fields, laid over the final response.
pub fn fields(n: &Native) -> Value {
    Value::Object(n.fields.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{content_capture, plan_bytes, record_and_replay, sse_events};

    const PATH: &str = "/v1beta/models/gemini-2.5-flash:generateContent";
    const STREAM_PATH: &str = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";

    fn request() -> String {
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).to_string()
    }

    /// Every part in order, and the candidate's other keys, over all responses.
    fn seen(responses: &[Value]) -> (Vec<Value>, Map<String, Value>) {
        let mut parts = Vec::new();
        let mut cand = Map::new();
        for r in responses {
            for p in r
                .pointer("/candidates/0/content/parts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                parts.push(p.clone());
            }
            for (k, v) in r
                .pointer("/candidates/0")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if k != "content" && k != "index" {
                    cand.insert(k.clone(), v.clone());
                }
            }
        }
        (parts, cand)
    }

    #[test]
    fn code_execution_grounding_url_context_and_signatures_replay_in_order() {
        let capture = content_capture("gemini/generate-content-json-code-execution-grounding.json");
        let recorded: Value = serde_json::from_slice(&capture).unwrap();
        let (response, plan) = record_and_replay(PATH, "application/json", &capture, &request());
        assert_eq!(response["native"]["provider"], "gemini");
        let got: Value = serde_json::from_slice(&plan_bytes(&plan)).unwrap();
        assert_eq!(
            seen(std::slice::from_ref(&got)),
            seen(std::slice::from_ref(&recorded))
        );
        assert_eq!(got["usageMetadata"], recorded["usageMetadata"]);
        // Streamed: the same parts, the metadata on the last chunk.
        let (_, plan) = record_and_replay(STREAM_PATH, "application/json", &capture, &request());
        let chunks: Vec<Value> = sse_events(&plan_bytes(&plan))
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(seen(&chunks), seen(std::slice::from_ref(&recorded)));
        assert!(chunks
            .last()
            .unwrap()
            .pointer("/candidates/0/groundingMetadata")
            .is_some());
    }

    #[test]
    fn a_streamed_recording_joins_text_and_keeps_each_signature_on_its_part() {
        let capture = content_capture("gemini/stream-generate-content-sse-url-context.sse");
        let recorded: Vec<Value> = sse_events(&capture).into_iter().map(|(_, v)| v).collect();
        let (response, plan) =
            record_and_replay(STREAM_PATH, "text/event-stream", &capture, &request());
        assert_eq!(response["items"][0]["type"], "reasoning");
        assert!(response["items"][0]["signature"].is_string());
        let chunks: Vec<Value> = sse_events(&plan_bytes(&plan))
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        let (got_parts, got_cand) = seen(&chunks);
        let (want_parts, want_cand) = seen(&recorded);
        assert_eq!(got_cand, want_cand);
        let text = |ps: &[Value]| {
            ps.iter()
                .filter(|p| p["thought"].is_null())
                .filter_map(|p| p["text"].as_str())
                .collect::<String>()
        };
        assert_eq!(text(&got_parts), text(&want_parts));
        let sigs = |ps: &[Value]| {
            ps.iter()
                .filter_map(|p| p["thoughtSignature"].as_str().map(String::from))
                .collect::<Vec<_>>()
        };
        assert_eq!(sigs(&got_parts), sigs(&want_parts));
    }
}

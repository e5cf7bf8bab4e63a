//! Cohere v2's native layer (see `cassette::native`): the `citations` of a message
//! (in a stream, one `citation-start`/`citation-end` pair each), usage as recorded, and
//! a stream that ends in `finish_reason: "ERROR"`, whose `message-end` delta (with
//! its `error`) is replayed as it came: in band, after the text, never as an HTTP
//! error. `tool_plan` and `thinking` content are neutral fields (`toolPlan`,
//! `reasoning`) and need nothing here.
//!
//! Not here: embeddings (`embed`), whose every type is already in the fixture's
//! `embedding` and re-encoded per request.

use serde_json::{json, Value};

use crate::cassette::native::{overlay, Native};
use crate::providers::common::native::NativeOut;

/// The name of this wire format in `native.provider`.
pub const PROVIDER: &str = "cohere";

/// The native layer of a reply: `citations` in order, and the `message-end` delta of
/// a stream (`stream`) or the whole JSON body.
pub fn native_of(citations: &[Value], end: Option<&Value>, stream: bool) -> Option<NativeOut> {
    let error = end.is_some_and(|e| e["finish_reason"] == "ERROR");
    let usage = end.and_then(|e| e.get("usage")).filter(|u| u.is_object());
    if citations.is_empty() && !error && !usage.is_some_and(rich_usage) {
        return None;
    }
    let mut out = NativeOut::new(PROVIDER);
    if !citations.is_empty() {
        out.fields
            .insert("message".into(), json!({"citations": citations}));
    }
    if let Some(u) = end.and_then(|e| e.get("usage")).filter(|u| u.is_object()) {
        out.fields.insert("usage".into(), u.clone());
    }
    if error {
        if stream {
            out.stream_error = end.cloned();
        } else {
            out.fields.insert("finish_reason".into(), "ERROR".into());
        }
    }
    Some(out)
}

/// True when a recorded `usage` says more than the render writes (the same counts as
/// `billed_units` and `tokens`): billed units that differ from the tokens processed,
/// or keys such as `cached_tokens`.
fn rich_usage(u: &Value) -> bool {
    let plain = |t: &Value| {
        t.as_object().is_some_and(|m| {
            m.keys()
                .all(|k| k == "input_tokens" || k == "output_tokens")
        })
    };
    let o = u.as_object();
    u.get("billed_units") != u.get("tokens")
        || !u.get("tokens").is_some_and(plain)
        || o.is_some_and(|m| m.keys().any(|k| k != "billed_units" && k != "tokens"))
}

/// The recorded citations.
pub fn citations(n: &Native) -> Vec<Value> {
    n.fields
        .get("message")
        .and_then(|m| m.get("citations"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Lay the recorded fields over a JSON body.
pub fn over_body(v: &mut Value, n: &Native) {
    overlay(v, &Value::Object(n.fields.clone()));
    if let Some(e) = &n.stream_error {
        v["finish_reason"] = e["finish_reason"].clone();
    }
}

/// The `message-end` delta as recorded: the error end whole, else the usage.
pub fn over_end(end: &mut Value, n: &Native) {
    if let Some(e) = &n.stream_error {
        *end = e.clone();
    } else if let Some(u) = n.fields.get("usage") {
        end["usage"] = u.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{content_capture, plan_bytes, record_and_replay, sse_events};

    const PATH: &str = "/v2/chat";

    fn request(stream: bool) -> String {
        json!({"model": "command-a-03-2025", "stream": stream,
               "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
    }

    #[test]
    fn citations_and_thinking_replay_whole_and_streamed() {
        let capture = content_capture("cohere/chat-v2-json-citations-thinking.json");
        let recorded: Value = serde_json::from_slice(&capture).unwrap();
        let (response, plan) =
            record_and_replay(PATH, "application/json", &capture, &request(false));
        assert_eq!(response["native"]["provider"], "cohere");
        assert!(response["reasoning"].is_string());
        let got: Value = serde_json::from_slice(&plan_bytes(&plan)).unwrap();
        assert_eq!(
            got["message"]["citations"],
            recorded["message"]["citations"]
        );
        assert_eq!(got["message"]["content"], recorded["message"]["content"]);
        assert_eq!(got["usage"], recorded["usage"]);
        let (_, plan) = record_and_replay(PATH, "application/json", &capture, &request(true));
        let events = sse_events(&plan_bytes(&plan));
        let cites: Vec<Value> = events
            .iter()
            .filter(|(k, _)| k == "citation-start")
            .map(|(_, v)| v["delta"]["message"]["citations"].clone())
            .collect();
        assert_eq!(Value::Array(cites), recorded["message"]["citations"]);
    }

    #[test]
    fn a_stream_ending_in_error_replays_that_end_in_band() {
        let capture = content_capture("cohere/chat-v2-stream-finish-error.sse");
        let (response, plan) =
            record_and_replay(PATH, "text/event-stream", &capture, &request(true));
        assert!(response.get("error").is_none(), "{response}");
        assert_eq!(response["content"], "The answer is");
        assert_eq!(plan.status, 200);
        let events = sse_events(&plan_bytes(&plan));
        let recorded = sse_events(&capture);
        let end = |ev: &[(String, Value)]| {
            ev.iter().find(|(k, _)| k == "message-end").unwrap().1["delta"].clone()
        };
        assert_eq!(end(&events), end(&recorded));
        assert_eq!(end(&events)["finish_reason"], "ERROR");
        let text: String = events
            .iter()
            .filter(|(k, _)| k == "content-delta")
            .filter_map(|(_, v)| {
                v.pointer("/delta/message/content/text")
                    .and_then(Value::as_str)
            })
            .collect();
        assert_eq!(text, "The answer is");
    }
}

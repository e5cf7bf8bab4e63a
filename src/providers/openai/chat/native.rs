//! OpenAI chat's native layer (see `cassette::native`): what a completion carries
//! beyond text, tool calls and reasoning — a `refusal`, `logprobs`, `annotations`
//! (url citations), `service_tier`, `system_fingerprint`, usage with its
//! `*_tokens_details` as recorded, Azure's content filter results — kept as the
//! recorded fields and laid over the plain render on replay.
//!
//! Chat has no ordered items (a message is text plus tool calls), so its layer is
//! fields only: `native.fields` is the part of the completion the neutral fields do not
//! hold, at the completion's own nesting (`{"service_tier":..,"usage":{..},
//! "choices":[{"logprobs":..,"message":{"refusal":..}}]}`).
//!
//! Collapse: a stream is first assembled into the completion the SDK builds from it
//! ([`assemble`]), so both recordings are read by [`native_of`]. Render: the JSON body
//! is the plain one with the fields laid over it; a stream is the plain stream with
//! the envelope fields on every chunk, each choice's refusal, annotations and logprobs
//! in one chunk before its finish, and the recorded usage in the usage chunk.

use serde_json::{json, Map, Value};

use crate::cassette::native::{overlay, Native};
use crate::providers::common::native::{rest, sse_frame, NativeOut};
use crate::providers::common::{Frame, PlanBody, RenderPlan};

/// The name of this wire format in `native.provider`.
pub const PROVIDER: &str = "openai";

/// Completion keys the plain render writes.
const ENVELOPE: &[&str] = &["id", "object", "created", "choices", "usage"];
/// Choice keys the plain render writes.
const CHOICE: &[&str] = &["index", "message", "delta", "finish_reason"];
/// Message keys the neutral fields hold.
const MESSAGE: &[&str] = &[
    "role",
    "content",
    "tool_calls",
    "reasoning_content",
    "reasoning",
];
/// Usage keys the neutral fields hold.
const USAGE: &[&str] = &["prompt_tokens", "completion_tokens", "total_tokens"];

/// Append `more` to the string or list at `slot` (a `null` slot takes it).
fn append(slot: &mut Value, more: &Value) {
    match (slot, more) {
        (s @ Value::Null, m) => *s = m.clone(),
        (Value::String(s), Value::String(m)) => s.push_str(m),
        (Value::Array(s), Value::Array(m)) => s.extend(m.iter().cloned()),
        (Value::Object(s), Value::Object(m)) => {
            for (k, v) in m {
                append(s.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (s, m) => *s = m.clone(),
    }
}

/// The completion a stream's chunks build (what the SDK's accumulator builds),
/// reduced to what the native layer reads: envelope keys, each choice's logprobs and
/// its message's refusal, annotations and other keys.
pub fn assemble(chunks: &[Value]) -> Value {
    let mut out = Map::new();
    let mut choices: Vec<Value> = Vec::new();
    for chunk in chunks {
        let Some(o) = chunk.as_object() else { continue };
        for (k, v) in o {
            match k.as_str() {
                "choices" | "object" | "obfuscation" => {}
                "usage" if v.is_null() => {}
                _ => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        for c in o
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let i = c.get("index").and_then(Value::as_u64).unwrap_or(0).min(128) as usize;
            while choices.len() <= i {
                choices.push(json!({"message": {}}));
            }
            let slot = &mut choices[i];
            if let Some(d) = c.get("delta").and_then(Value::as_object) {
                for (k, v) in d {
                    // Tool-call fragments are the neutral collapse's to join.
                    if k != "tool_calls" && !v.is_null() {
                        append(&mut slot["message"][k.as_str()], v);
                    }
                }
            }
            for (k, v) in c.as_object().into_iter().flatten() {
                if !CHOICE.contains(&k.as_str()) && !v.is_null() {
                    append(&mut slot[k.as_str()], v);
                }
            }
        }
    }
    out.insert("choices".into(), Value::Array(choices));
    Value::Object(out)
}

/// The native layer of a completion (assembled or received whole), when it carries
/// anything the neutral fields do not.
pub fn native_of(v: &Value) -> Option<NativeOut> {
    let o = v.as_object()?;
    let mut fields = rest(o, ENVELOPE);
    fields.retain(|_, x| !x.is_null());
    // The model alone is no reason for a native layer; beside one, it is kept.
    let model = fields.remove("model");
    if let Some(u) = o.get("usage").and_then(Value::as_object) {
        if u.keys().any(|k| !USAGE.contains(&k.as_str())) {
            fields.insert("usage".into(), Value::Object(u.clone()));
        }
    }
    let mut choices = Vec::new();
    let mut any_choice = false;
    for c in o
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(co) = c.as_object() else { continue };
        let mut patch = rest(co, CHOICE);
        patch.retain(|_, x| !x.is_null());
        if let Some(m) = co.get("message").and_then(Value::as_object) {
            let mut mp = rest(m, MESSAGE);
            mp.retain(|k, x| match x {
                Value::Null => false,
                Value::Array(a) if a.is_empty() && k == "annotations" => false,
                _ => true,
            });
            if mp.contains_key("refusal") && m.get("content").is_none_or(Value::is_null) {
                // A refusal has no content: the plain render would send "".
                mp.insert("content".into(), Value::Null);
            }
            if !mp.is_empty() {
                patch.insert("message".into(), Value::Object(mp));
            }
        }
        any_choice |= !patch.is_empty();
        choices.push(Value::Object(patch));
    }
    if any_choice {
        fields.insert("choices".into(), Value::Array(choices));
    }
    if fields.is_empty() {
        return None;
    }
    if let Some(m) = model {
        fields.insert("model".into(), m);
    }
    let mut out = NativeOut::new(PROVIDER);
    out.fields = fields;
    Some(out)
}

/// The plain render of a reply, with the native fields laid over it.
pub fn render(plain: RenderPlan, n: &Native) -> RenderPlan {
    let fields = Value::Object(n.fields.clone());
    match &plain.body {
        PlanBody::Full(b) => {
            let Ok(mut v) = serde_json::from_slice::<Value>(b) else {
                return plain;
            };
            overlay(&mut v, &fields);
            let mut out = RenderPlan::json(plain.status, &v);
            out.headers = plain.headers;
            out
        }
        PlanBody::Stream(frames) => {
            let frames = stream(frames, n);
            let mut out = RenderPlan::sse(frames);
            out.headers = plain.headers;
            out
        }
    }
}

fn stream(frames: &[Frame], n: &Native) -> Vec<Frame> {
    // Scalars of the envelope (service_tier, system_fingerprint, ...) ride on every
    // chunk, as the API sends them.
    let envelope: Map<String, Value> = n
        .fields
        .iter()
        .filter(|(k, _)| k.as_str() != "choices" && k.as_str() != "usage")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let choices = n.field("choices").and_then(Value::as_array);
    let patch_of = |i: usize| {
        choices
            .and_then(|c| c.get(i))
            .filter(|p| p.as_object().is_some_and(|o| !o.is_empty()))
    };
    let mut out = Vec::with_capacity(frames.len() + 2);
    for f in frames {
        let text = String::from_utf8_lossy(&f.bytes);
        let data = text.trim().strip_prefix("data:").map(str::trim);
        let Some(mut chunk) = data.and_then(|d| serde_json::from_str::<Value>(d).ok()) else {
            if let (Some(e), Some("[DONE]")) = (&n.stream_error, data) {
                // The recorded in-band error, where the provider sent it: last.
                out.push(sse_frame(None, e));
            }
            out.push(f.clone());
            continue;
        };
        overlay(&mut chunk, &Value::Object(envelope.clone()));
        let list = chunk["choices"].as_array().cloned().unwrap_or_default();
        if list.is_empty() {
            // The usage chunk.
            if let Some(u) = n.field("usage") {
                chunk["usage"] = u.clone();
            }
            out.push(Frame {
                paced: f.paced,
                ..sse_frame(None, &chunk)
            });
            continue;
        }
        for (pos, c) in list.iter().enumerate() {
            let i = c["index"].as_u64().unwrap_or(0) as usize;
            let Some(p) = patch_of(i) else { continue };
            if p.pointer("/message/content").is_some_and(Value::is_null) {
                // A refused message sends no content.
                if let Some(d) = chunk["choices"][pos]["delta"].as_object_mut() {
                    if d.get("content").and_then(Value::as_str) == Some("") {
                        d.insert("content".into(), Value::Null);
                    }
                }
            }
            if !c["finish_reason"].is_null() {
                // Before the finish: one chunk with the refusal, annotations and
                // logprobs of this choice.
                let mut extra = chunk.clone();
                let mut delta = p.get("message").cloned().unwrap_or_else(|| json!({}));
                if let Some(d) = delta.as_object_mut() {
                    d.remove("content");
                }
                let mut one = json!({"index": i, "delta": delta});
                for (k, v) in p.as_object().into_iter().flatten() {
                    if k != "message" {
                        one[k.as_str()] = v.clone();
                    }
                }
                one["finish_reason"] = Value::Null;
                extra["choices"] = json!([one]);
                if extra.get("usage").is_some() {
                    extra["usage"] = Value::Null;
                }
                out.push(sse_frame(None, &extra));
            }
        }
        out.push(Frame {
            paced: f.paced,
            ..sse_frame(None, &chunk)
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{content_capture, plan_bytes, record_and_replay, sse_events};

    const PATH: &str = "/v1/chat/completions";

    fn request(stream: bool) -> String {
        json!({"model": "gpt-4o", "stream": stream, "stream_options": {"include_usage": true},
               "logprobs": true, "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
    }

    /// What the SDK reads: the JSON body, or the stream assembled; ids and `created`
    /// left out, content as the SDK joins it.
    fn seen(bytes: &[u8], stream: bool) -> Value {
        let mut v = if stream {
            let chunks: Vec<Value> = sse_events(bytes).into_iter().map(|(_, v)| v).collect();
            let mut a = assemble(&chunks);
            a.as_object_mut().unwrap().remove("id");
            a
        } else {
            let mut v: Value = serde_json::from_slice(bytes).unwrap();
            for c in v["choices"].as_array_mut().unwrap() {
                c.as_object_mut().unwrap().remove("finish_reason");
                c.as_object_mut().unwrap().remove("index");
                c["message"].as_object_mut().unwrap().remove("role");
                if c["message"]["annotations"] == json!([]) {
                    c["message"].as_object_mut().unwrap().remove("annotations");
                }
            }
            v.as_object_mut().unwrap().remove("id");
            v.as_object_mut().unwrap().remove("object");
            v
        };
        let o = v.as_object_mut().unwrap();
        o.remove("created");
        o.remove("model");
        v
    }

    #[test]
    fn refusal_logprobs_annotations_tier_fingerprint_and_usage_details_survive() {
        for (name, stream) in [
            ("openai/chat-json-refusal-logprobs.json", false),
            ("openai/chat-json-annotations.json", false),
            ("openai/chat-stream-refusal-logprobs.sse", true),
            ("openai/chat-stream-annotations.sse", true),
        ] {
            let capture = content_capture(name);
            let ct = if stream {
                "text/event-stream"
            } else {
                "application/json"
            };
            let (response, plan) = record_and_replay(PATH, ct, &capture, &request(stream));
            assert_eq!(response["native"]["provider"], "openai", "{name}");
            let want = seen(&capture, stream);
            let got = seen(&plan_bytes(&plan), stream);
            assert_eq!(got, want, "{name}");
            // Asked the other way, the SDK reads the same message.
            let (_, plan) = record_and_replay(PATH, ct, &capture, &request(!stream));
            let other = plan_bytes(&plan);
            let as_other = seen(&other, !stream);
            for key in ["service_tier", "system_fingerprint"] {
                assert_eq!(as_other[key], want[key], "{name} {key}");
            }
        }
    }

    #[test]
    fn a_refusal_has_null_content_whole_and_streamed() {
        let capture = content_capture("openai/chat-json-refusal-logprobs.json");
        let (_, plan) = record_and_replay(PATH, "application/json", &capture, &request(false));
        let v: Value = serde_json::from_slice(&plan_bytes(&plan)).unwrap();
        assert!(v["choices"][0]["message"]["content"].is_null());
        assert!(v["choices"][0]["message"]["refusal"]
            .as_str()
            .unwrap()
            .starts_with("I'm sorry"));
        let (_, plan) = record_and_replay(PATH, "application/json", &capture, &request(true));
        let chunks: Vec<Value> = sse_events(&plan_bytes(&plan))
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        let a = assemble(&chunks);
        assert!(a["choices"][0]["message"]["content"].is_null());
        assert_eq!(
            a["choices"][0]["message"]["refusal"],
            v["choices"][0]["message"]["refusal"]
        );
        assert_eq!(a["choices"][0]["logprobs"], v["choices"][0]["logprobs"]);
        assert_eq!(a["usage"], v["usage"]);
    }

    #[test]
    fn an_error_chunk_inside_a_200_stream_replays_in_band_before_done() {
        let capture = crate::testing::golden("openrouter/chat-stream-in-band-error.sse");
        let (response, plan) = record_and_replay(
            "/v1/chat/completions",
            "text/event-stream",
            &capture,
            &request(true),
        );
        assert!(response.get("error").is_none(), "{response}");
        assert_eq!(
            response["native"]["streamError"]["error"]["message"],
            "Token limit reached"
        );
        assert_eq!(plan.status, 200);
        let text = String::from_utf8(plan_bytes(&plan)).unwrap();
        let at_error = text.find("Token limit reached").unwrap();
        let at_done = text.find("[DONE]").unwrap();
        assert!(at_error < at_done, "{text}");
        // The envelope fields of the chunks carry no error of their own.
        assert!(response["native"]["fields"].get("error").is_none());
    }

    #[test]
    fn a_plain_completion_without_envelope_extras_gets_no_native_layer() {
        let v = json!({"id": "x", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "refusal": null, "annotations": []},
            "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}});
        assert!(native_of(&v).is_none());
    }
}

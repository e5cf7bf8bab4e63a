//! A recorded chat completion read back into a [`Collapsed`]: the SSE chunks (text,
//! reasoning, tool-call fragments by index, the usage chunk, `[DONE]`) or the JSON body.
//!
//! Not here: non-2xx replies (the dispatch turns those into error fixtures), the end of
//! a live stream (`openai::stream_end`).

use serde_json::{json, Value};

use crate::codec::decode_all;
use crate::codec::sse::SseDecoder;
use crate::providers::common::collapse::{self, Collapsed};

/// Read a recorded chat completion (SSE or JSON) into a [`Collapsed`].
pub fn collapse(content_type: &str, body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    if content_type.contains("event-stream") {
        let events = match decode_all(&mut SseDecoder::new(), body) {
            Ok(e) => e,
            Err(e) => {
                c.truncated = true;
                c.warnings.push(format!("SSE framing error: {e}"));
                Vec::new()
            }
        };
        let mut done = false;
        let mut chunks = Vec::new();
        let mut in_band: Option<Value> = None;
        for ev in events {
            let data = ev.data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                done = true;
                continue;
            }
            let Ok(mut v) = serde_json::from_str::<Value>(data) else {
                c.dropped += 1;
                continue;
            };
            if in_band.is_none() && v.get("error").is_some_and(Value::is_object) {
                // An error chunk inside a 200 stream (OpenRouter sends one when the
                // upstream model fails mid-answer): the SDK raises it mid-stream, so
                // it is kept in band and replayed as it came, not as an HTTP error.
                in_band = Some(v.clone());
                if let Some(o) = v.as_object_mut() {
                    o.remove("error");
                }
            }
            read_chunk(&v, &mut c);
            chunks.push(v);
        }
        if c.error.is_none() {
            c.native = super::native::native_of(&super::native::assemble(&chunks));
            if let Some(e) = in_band {
                c.native
                    .get_or_insert_with(|| {
                        crate::providers::common::native::NativeOut::new(super::native::PROVIDER)
                    })
                    .stream_error = Some(e);
            }
        }
        if !done && c.error.is_none() {
            c.truncated = true;
        }
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                read_completion(&v, &mut c);
                c.native = super::native::native_of(&v);
            }
            Err(e) => c.warnings.push(format!("upstream body is not JSON: {e}")),
        }
    }
    c
}

fn read_usage(v: &Value, c: &mut Collapsed) {
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        let i = u.get("prompt_tokens").and_then(|x| x.as_u64()).unwrap_or(0);
        let o = u
            .get("completion_tokens")
            .and_then(|x| x.as_u64())
            .unwrap_or(0);
        c.usage = Some((i, o));
    }
}

fn read_chunk(v: &Value, c: &mut Collapsed) {
    if let Some(e) = v.get("error").filter(|e| e.is_object()) {
        c.error = Some(collapse::error_from_body(
            500,
            json!({ "error": e }).to_string().as_bytes(),
        ));
        return;
    }
    read_usage(v, c);
    read_envelope(v, c);
    // With `n > 1` each chunk carries the choice it belongs to by `index`.
    for choice in v
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
        // An index past any real `n` (128) is a broken chunk, not a choice.
        let Ok(index) = usize::try_from(index.min(128)) else {
            continue;
        };
        read_choice_delta(choice, c.choice(index));
    }
}

fn read_choice_delta(choice: &Value, c: &mut Collapsed) {
    if let Some(f) = choice.get("finish_reason").and_then(|f| f.as_str()) {
        c.finish_reason = Some(f.to_string());
    }
    let Some(delta) = choice.get("delta") else {
        return;
    };
    if let Some(r) = delta
        .get("reasoning_content")
        .or_else(|| delta.get("reasoning"))
        .and_then(|r| r.as_str())
    {
        c.push_reasoning(r);
    }
    if let Some(t) = delta.get("content").and_then(|t| t.as_str()) {
        c.push_text(t);
    }
    for (pos, tc) in delta
        .get("tool_calls")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let id = tc.get("id").and_then(|x| x.as_str());
        let key = match tc.get("index").and_then(|i| i.as_u64()) {
            Some(i) => i.to_string(),
            // No index: correlate by id, else by position in this delta.
            None => id
                .map(|s| format!("id:{s}"))
                .unwrap_or_else(|| format!("pos:{pos}")),
        };
        c.extend_call(
            &key,
            id,
            tc.pointer("/function/name").and_then(|n| n.as_str()),
            tc.pointer("/function/arguments")
                .and_then(|a| a.as_str())
                .unwrap_or(""),
        );
    }
}

/// The recorded id and creation time (the first non-empty ones of a stream).
fn read_envelope(v: &Value, c: &mut Collapsed) {
    if c.id.is_none() {
        c.id = v
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from);
    }
    if c.created.is_none() {
        c.created = v.get("created").and_then(Value::as_i64).filter(|t| *t > 0);
    }
    if c.model.is_none() {
        c.model = v
            .get("model")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from);
    }
}

fn read_completion(v: &Value, c: &mut Collapsed) {
    read_usage(v, c);
    read_envelope(v, c);
    let choices = v.get("choices").and_then(Value::as_array);
    if choices.is_none_or(|a| a.is_empty()) {
        c.warnings
            .push("upstream chat completion has no choices".into());
        return;
    }
    for choice in choices.into_iter().flatten() {
        let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
        let Ok(index) = usize::try_from(index.min(128)) else {
            continue;
        };
        read_choice_message(choice, c.choice(index));
    }
}

fn read_choice_message(choice: &Value, c: &mut Collapsed) {
    if let Some(f) = choice.get("finish_reason").and_then(|f| f.as_str()) {
        c.finish_reason = Some(f.to_string());
    }
    let Some(m) = choice.get("message") else {
        return;
    };
    if let Some(r) = m
        .get("reasoning_content")
        .or_else(|| m.get("reasoning"))
        .and_then(|r| r.as_str())
    {
        c.push_reasoning(r);
    }
    if let Some(t) = m.get("content").and_then(|t| t.as_str()) {
        c.push_text(t);
    }
    for tc in m
        .get("tool_calls")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
    {
        let args = match tc.pointer("/function/arguments") {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        c.push_call(
            tc.get("id").and_then(|x| x.as_str()).map(String::from),
            tc.pointer("/function/name")
                .and_then(|n| n.as_str())
                .unwrap_or(""),
            args,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/data/golden/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn golden_streams_collapse_to_their_full_text_tools_and_usage() {
        let c = collapse(
            "text/event-stream",
            &golden("openai/chat-stream-text-include-usage.sse"),
        );
        assert!(c.content.starts_with("Not much, just"), "{}", c.content);
        assert!(c.usage.is_some() && !c.truncated);
        let c = collapse(
            "text/event-stream",
            &golden("openai/chat-stream-tool-call-args-split.sse"),
        );
        assert_eq!(c.calls.len(), 1);
        let args: Value = serde_json::from_str(&c.calls[0].arguments).unwrap();
        assert!(args.is_object());
        assert!(c.calls[0].id.as_deref().unwrap().starts_with("call_"));
        let c = collapse(
            "text/event-stream",
            &golden("openai/chat-stream-parallel-tool-calls-obfuscation.sse"),
        );
        assert_eq!(c.calls.len(), 2);
        let c = collapse(
            "text/event-stream",
            &golden("azure-openai/chat-stream-content-filter.sse"),
        );
        assert!(!c.content.is_empty());
        let c = collapse(
            "application/json",
            &golden("openai/chat-json-parallel-tool-calls.json"),
        );
        assert_eq!(c.calls.len(), 2);
        let c = collapse("application/json", &golden("openai/chat-json-text.json"));
        assert_eq!(c.usage, Some((13, 21)));
    }

    #[test]
    fn each_choice_of_an_n2_stream_is_its_own() {
        let c = collapse(
            "text/event-stream",
            &golden("openai/chat-stream-n2-interleaved-choices.sse"),
        );
        assert_eq!(c.choices.len(), 1, "two choices: 0 and 1");
        assert!(!c.content.is_empty() && !c.choices[0].content.is_empty());
        assert_ne!(c.content, c.choices[0].content);
        let (r, _) = c.to_response();
        let all = r["choices"].as_array().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0]["content"], r["content"]);
        assert_eq!(all[1]["content"], c.choices[0].content.as_str());
    }
}

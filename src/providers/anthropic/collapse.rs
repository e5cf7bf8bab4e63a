//! Reading a recorded Anthropic Messages reply into a [`Collapsed`]: the SSE stream
//! (`message_start` … `message_stop`) or the JSON message.
//!
//! The per-event logic ([`EventReader`]) and the message reader ([`read_message`]) are
//! public because Bedrock invoke carries the very same events and bodies (base64-wrapped
//! in EventStream `chunk`s, or plain JSON) and reuses them unchanged.
//!
//! Not here: non-2xx statuses (already error fixtures in `Surface::collapse`) and the
//! fixture JSON itself (`providers::collapse`). Nothing here panics on upstream bytes:
//! frames that do not parse are counted in `dropped`, a stream without `message_stop`
//! is `truncated`.

use serde_json::Value;

use crate::codec::sse::SseDecoder;
use crate::providers::common::collapse::decode_prefix;
use crate::providers::common::collapse::{Collapsed, CollapsedError};

/// Read a recorded Messages reply (SSE when the content type says so, else JSON).
pub fn collapse(content_type: &str, body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    if content_type.contains("event-stream") {
        let (events, err) = decode_prefix(SseDecoder::new(), body);
        if let Some(e) = err {
            c.truncated = true;
            c.warnings.push(format!("SSE framing error: {e}"));
        }
        let mut reader = EventReader::default();
        let mut seen = Vec::with_capacity(events.len());
        for ev in events {
            let data = ev.data.trim();
            if data.is_empty() {
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(data) else {
                c.dropped += 1;
                continue;
            };
            // The event name is what the SDK dispatches on; `type` is its echo.
            let kind = ev
                .event
                .filter(|e| !e.is_empty())
                .or_else(|| v.get("type").and_then(Value::as_str).map(String::from))
                .unwrap_or_default();
            reader.read(&kind, &v, &mut c);
            seen.push((kind, v));
        }
        reader.finish(&mut c);
        let (message, error) = super::native::assemble(&seen);
        c.id = message.get("id").and_then(Value::as_str).map(String::from);
        c.model = message
            .get("model")
            .and_then(Value::as_str)
            .map(String::from);
        // An error event is part of the stream (the SDK raises it mid-stream, after
        // what came before): kept in band, also when it is the whole stream (Anthropic
        // answers an overload that way, with HTTP 200), so the replay is that 200
        // stream too.
        let in_band = error.as_ref();
        if let Some(n) = super::native::native_of(&message, in_band) {
            if in_band.is_some() {
                c.error = None;
            }
            // The final usage (server tools add input tokens after `message_start`),
            // which is what a replay of the native layer reports throughout.
            if let Some(u) = message.get("usage").filter(|u| u.is_object()) {
                c.usage = Some((
                    tokens(u, "input_tokens").unwrap_or(0),
                    tokens(u, "output_tokens").unwrap_or(0),
                ));
            }
            c.native = Some(n);
        }
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                read_message(&v, &mut c);
                if c.error.is_none() {
                    c.native = super::native::native_of(&v, None);
                }
            }
            Err(e) => c.warnings.push(format!("upstream body is not JSON: {e}")),
        }
    }
    c
}

/// Anthropic's `stop_reason` in OpenAI's vocabulary: the reverse of the §4.10 table;
/// anything else (`stop_sequence`, `pause_turn`, `refusal`) passes through.
pub fn finish_reason(stop_reason: &str) -> String {
    match stop_reason {
        "end_turn" => "stop",
        "tool_use" => "tool_calls",
        "max_tokens" => "length",
        other => other,
    }
    .to_string()
}

/// The HTTP status an Anthropic `error.type` is sent with, so an in-stream error
/// replays as the status the SDK would have raised for it.
pub fn error_status(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    }
}

/// An `{"type":"error","error":{"type","message"}}` value as an error fixture.
fn error_of(v: &Value) -> CollapsedError {
    let e = v.get("error").unwrap_or(v);
    let kind = e.get("type").and_then(Value::as_str).map(String::from);
    CollapsedError {
        status: kind.as_deref().map_or(500, error_status),
        message: e
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("Upstream sent an error event")
            .to_string(),
        kind,
        code: None,
    }
}

/// Append a signature unless it is empty: the last non-empty one wins.
fn set_signature(c: &mut Collapsed, sig: Option<&str>) {
    if let Some(s) = sig.filter(|s| !s.is_empty()) {
        c.signature = Some(s.to_string());
    }
}

/// A JSON number as `u64`, if it is one.
fn tokens(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

/// State carried across the events of one stream.
#[derive(Debug, Default)]
pub struct EventReader {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    /// Key of the most recently started tool call (for deltas without an `index`).
    last_call: Option<String>,
    /// Synthetic keys handed out to blocks without an `index`.
    unindexed: usize,
    /// `message_stop` (or an error event) was seen.
    pub done: bool,
}

impl EventReader {
    /// Read one event, `kind` being its name (`content_block_delta`, …).
    pub fn read(&mut self, kind: &str, v: &Value, c: &mut Collapsed) {
        match kind {
            "message_start" => {
                if let Some(u) = v.pointer("/message/usage") {
                    self.input_tokens = tokens(u, "input_tokens").or(self.input_tokens);
                    self.output_tokens = tokens(u, "output_tokens").or(self.output_tokens);
                }
            }
            "content_block_start" => self.block_start(v, c),
            "content_block_delta" => self.block_delta(v, c),
            "message_delta" => {
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    c.finish_reason = Some(finish_reason(r));
                }
                if let Some(u) = v.get("usage") {
                    // Output tokens are cumulative; input tokens belong to
                    // message_start, newer streams merely repeat them here.
                    self.output_tokens = tokens(u, "output_tokens").or(self.output_tokens);
                    if self.input_tokens.is_none() {
                        self.input_tokens = tokens(u, "input_tokens");
                    }
                }
            }
            "message_stop" => self.done = true,
            "error" => {
                c.error = Some(error_of(v));
                self.done = true;
            }
            // ping, content_block_stop, and events added after this was written.
            _ => {}
        }
    }

    /// Usage as `(input, output)`, when the stream reported any.
    pub fn usage(&self) -> Option<(u64, u64)> {
        (self.input_tokens.is_some() || self.output_tokens.is_some()).then(|| {
            (
                self.input_tokens.unwrap_or(0),
                self.output_tokens.unwrap_or(0),
            )
        })
    }

    /// Close the stream: usage, and truncation when it never ended.
    pub fn finish(&self, c: &mut Collapsed) {
        if let Some(u) = self.usage() {
            c.usage = Some(u);
        }
        if !self.done {
            c.truncated = true;
        }
    }

    fn key(v: &Value) -> Option<String> {
        v.get("index")
            .and_then(Value::as_u64)
            .map(|i| i.to_string())
    }

    fn block_start(&mut self, v: &Value, c: &mut Collapsed) {
        let Some(block) = v.get("content_block") else {
            c.dropped += 1;
            return;
        };
        match block.get("type").and_then(Value::as_str) {
            Some("tool_use") => {
                let key = Self::key(v).unwrap_or_else(|| {
                    self.unindexed += 1;
                    format!("noindex:{}", self.unindexed)
                });
                // The start carries `input: {}`; the arguments follow as deltas.
                let initial = match block.get("input") {
                    Some(Value::Object(o)) if !o.is_empty() => block["input"].to_string(),
                    _ => String::new(),
                };
                c.extend_call(
                    &key,
                    block.get("id").and_then(Value::as_str),
                    block.get("name").and_then(Value::as_str),
                    &initial,
                );
                self.last_call = Some(key);
            }
            Some("redacted_thinking") => {
                if let Some(d) = block
                    .get("data")
                    .and_then(Value::as_str)
                    .filter(|d| !d.is_empty())
                {
                    c.redacted.push(d.to_string());
                }
            }
            Some("text") => {
                c.push_text(block.get("text").and_then(Value::as_str).unwrap_or(""));
            }
            Some("thinking") => {
                c.push_reasoning(block.get("thinking").and_then(Value::as_str).unwrap_or(""));
                set_signature(c, block.get("signature").and_then(Value::as_str));
            }
            _ => {}
        }
    }

    fn block_delta(&mut self, v: &Value, c: &mut Collapsed) {
        let Some(delta) = v.get("delta") else {
            c.dropped += 1;
            return;
        };
        let str_of = |k: &str| delta.get(k).and_then(Value::as_str);
        match str_of("type") {
            Some("text_delta") => c.push_text(str_of("text").unwrap_or("")),
            Some("thinking_delta") => c.push_reasoning(str_of("thinking").unwrap_or("")),
            Some("signature_delta") => set_signature(c, str_of("signature")),
            Some("input_json_delta") => {
                let key = Self::key(v).or_else(|| self.last_call.clone());
                match key.filter(|k| c.has_call(k)) {
                    Some(k) => c.extend_call(&k, None, None, str_of("partial_json").unwrap_or("")),
                    None => c.dropped += 1,
                }
            }
            _ => {}
        }
    }
}

/// Read a complete message (`{"type":"message","content":[...]}`), or an error body
/// sent with a 2xx status.
pub fn read_message(v: &Value, c: &mut Collapsed) {
    if v.get("type").and_then(Value::as_str) == Some("error") {
        c.error = Some(error_of(v));
        return;
    }
    c.id = v.get("id").and_then(Value::as_str).map(String::from);
    c.model = v.get("model").and_then(Value::as_str).map(String::from);
    let Some(content) = v.get("content").and_then(Value::as_array) else {
        c.warnings
            .push("upstream message has no content array".into());
        return;
    };
    for block in content {
        let str_of = |k: &str| block.get(k).and_then(Value::as_str);
        match str_of("type") {
            Some("text") => c.push_text(str_of("text").unwrap_or("")),
            Some("thinking") => {
                c.push_reasoning(str_of("thinking").unwrap_or(""));
                set_signature(c, str_of("signature"));
            }
            Some("redacted_thinking") => {
                if let Some(d) = str_of("data").filter(|d| !d.is_empty()) {
                    c.redacted.push(d.to_string());
                }
            }
            Some("tool_use") => {
                let args = block.get("input").map(Value::to_string).unwrap_or_default();
                c.push_call(
                    str_of("id").map(String::from),
                    str_of("name").unwrap_or(""),
                    args,
                );
            }
            _ => {}
        }
    }
    if let Some(r) = v.get("stop_reason").and_then(Value::as_str) {
        c.finish_reason = Some(finish_reason(r));
    }
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        c.usage = Some((
            tokens(u, "input_tokens").unwrap_or(0),
            tokens(u, "output_tokens").unwrap_or(0),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn golden(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/data/golden/anthropic/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn sse(name: &str) -> Collapsed {
        collapse("text/event-stream; charset=utf-8", &golden(name))
    }

    /// The collapsed reply as a fixture, which must load.
    use crate::testing::loadable_response as fixture;

    #[test]
    fn a_text_stream_collapses_to_its_full_text_usage_and_length_finish() {
        let c = sse("messages-stream-text.sse");
        assert!(c.content.starts_with("The phrase \"I think, therefore I"));
        assert_eq!(c.usage, Some((27, 15)));
        assert_eq!(c.finish_reason.as_deref(), Some("length"));
        assert!(!c.truncated && c.dropped == 0);
        let r = fixture(&c);
        assert_eq!(r["finishReason"], "length");
        let c = sse("messages-stream-text-2026.sse");
        assert_eq!(c.content, "**Pete** or **Scoop**");
        assert_eq!(c.usage, Some((17, 12)));
        assert!(fixture(&c).get("finishReason").is_none());
    }

    #[test]
    fn a_tool_stream_keeps_the_text_and_the_complete_arguments_with_the_tool_id() {
        let c = sse("messages-stream-tool-use.sse");
        assert!(c.content.starts_with("<thinking>\nThe get_weather tool"));
        assert!(c.content.ends_with("</thinking>"));
        assert_eq!(c.calls.len(), 1);
        assert_eq!(
            c.calls[0].id.as_deref(),
            Some("toolu_01DYJo37oETVsCdLTTcCWcdq")
        );
        assert_eq!(c.calls[0].name, "get_weather");
        let args: Value = serde_json::from_str(&c.calls[0].arguments).unwrap();
        assert_eq!(args, json!({"location": "San Francisco, CA"}));
        assert_eq!(c.usage, Some((599, 135)));
        let r = fixture(&c);
        assert!(r.get("finishReason").is_none(), "tool_use is the default");
        assert!(
            r.get("blocks").is_none(),
            "text then tool is the plain shape"
        );
    }

    #[test]
    fn thinking_streams_keep_the_reasoning_and_the_last_signature() {
        let c = sse("messages-stream-thinking-then-tool-use.sse");
        assert!(c
            .reasoning
            .starts_with("The user wants me to:\n1. Use the fixed_version tool"));
        assert!(c.signature.as_deref().unwrap().starts_with("EoQDCm0I"));
        assert_eq!(c.calls.len(), 1);
        assert_eq!(c.calls[0].name, "fixed_version");
        assert_eq!(c.usage, Some((598, 92)));
        let r = fixture(&c);
        // The tool_use block carries `caller`, which only the items can hold.
        let items = r["items"].as_array().unwrap();
        let call = items.iter().find(|i| i["type"] == "toolCall").unwrap();
        assert_eq!(call["arguments"], "{}");
        assert_eq!(call["extra"]["caller"]["type"], "direct");
        let thought = items.iter().find(|i| i["type"] == "reasoning").unwrap();
        assert_eq!(thought["signature"], c.signature.clone().unwrap());

        let c = sse("messages-stream-thinking-signature-padded.sse");
        assert!(c
            .reasoning
            .starts_with("This is a straightforward question about pedestrian"));
        assert!(!c.content.is_empty());
        assert!(c.signature.as_deref().is_some_and(|s| s.len() > 100));
        fixture(&c);
    }

    #[test]
    fn redacted_thinking_blocks_are_kept_next_to_the_text() {
        let c = sse("messages-stream-redacted-thinking.sse");
        assert_eq!(c.redacted.len(), 2);
        assert!(c.redacted[0].starts_with("EqkECkYIBxgCKkA8"));
        assert!(!c.content.is_empty());
        assert_eq!(c.usage, Some((92, 189)));
        let r = fixture(&c);
        assert_eq!(r["redactedThinking"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn an_error_event_that_is_the_whole_200_stream_stays_in_band() {
        let c = sse("messages-stream-error-overloaded.sse");
        assert!(c.error.is_none());
        assert!(!c.truncated);
        let r = fixture(&c);
        assert!(r.get("status").is_none(), "{r}");
        assert_eq!(
            r["native"]["streamError"]["error"]["type"],
            "overloaded_error"
        );
        // Asked without streaming, the error is the reply, with the status its kind
        // has.
        for (kind, status) in [
            ("rate_limit_error", 429),
            ("api_error", 500),
            ("invalid_request_error", 400),
            ("something_new", 500),
        ] {
            assert_eq!(error_status(kind), status);
        }
    }

    #[test]
    fn json_messages_collapse_text_tools_thinking_and_stop_reason() {
        let c = collapse("application/json", &golden("messages-json-text.json"));
        assert!(c.content.starts_with("When Nietzsche famously declared"));
        assert_eq!(c.finish_reason.as_deref(), Some("length"));
        assert_eq!(c.usage, Some((22, 15)));
        fixture(&c);

        let c = collapse("application/json", &golden("messages-json-tool-use.json"));
        assert_eq!(
            c.calls[0].id.as_deref(),
            Some("toolu_01E1nTDhsEjAChantYkxdavm")
        );
        assert_eq!(c.calls[0].arguments, r#"{"a":1,"b":2}"#);
        assert_eq!(c.finish_reason.as_deref(), Some("tool_calls"));
        let r = fixture(&c);
        assert!(r.get("content").is_none());

        let c = collapse("application/json", &golden("messages-json-thinking.json"));
        assert!(c.reasoning.starts_with("Let me count the number of times"));
        assert!(c.signature.as_deref().unwrap().starts_with("ErUBCkYIARgC"));
        assert_eq!(
            c.content,
            "The letter 'r' appears 3 times in the word \"strawberry\"."
        );
        assert_eq!(fixture(&c)["reasoning"], c.reasoning);
    }

    #[test]
    fn a_stream_cut_short_is_truncated_but_keeps_what_arrived() {
        let bytes = golden("messages-stream-tool-use.sse");
        let c = collapse("text/event-stream", &bytes[..bytes.len() * 2 / 3]);
        assert!(c.truncated);
        assert!(c.content.starts_with("<thinking>"));
        let (_, warnings) = c.to_response();
        assert!(warnings.iter().any(|w| w.contains("truncated")));
    }

    #[test]
    fn garbage_and_uncorrelated_deltas_are_counted_not_fatal() {
        let body = b"event: content_block_delta\ndata: {not json\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":4,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n\
event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        let c = collapse("text/event-stream", body);
        assert_eq!(c.dropped, 2);
        assert!(c.calls.is_empty() && !c.truncated);
        let c = collapse("application/json", b"\xff\xfe");
        assert!(!c.warnings.is_empty());
    }
}

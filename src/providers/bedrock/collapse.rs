//! Reading a recorded Bedrock reply into a [`Collapsed`], for all four endpoints:
//!
//! - `invoke`: the model's own JSON; for Anthropic models the Messages body (read by
//!   `anthropic::collapse::read_message`), for Nova the Converse shape, for Titan
//!   embeddings `{"embedding": [...]}`.
//! - `invoke-with-response-stream`: EventStream `chunk` events whose payload
//!   `{"bytes": "<base64>"}` holds one model event: an Anthropic stream event (read by
//!   `anthropic::collapse::EventReader`) or a wrapped Converse event (Nova,
//!   `{"contentBlockDelta": {...}}`). Payloads that are the event itself, not wrapped in
//!   `bytes`, are accepted too: older aimock versions recorded and served them so.
//! - `converse`: `output.message.content[]` of `text`, `toolUse`, `reasoningContent`.
//! - `converse-stream`: EventStream with the event name in `:event-type` and a flat
//!   payload (`{"contentBlockIndex":0,"delta":{"text":"…"}}`).
//!
//! An EventStream message with `:message-type: exception` becomes an error fixture with
//! the status AWS sends that exception with (`throttlingException` → 429), so boto3
//! raises the same modelled exception on replay. A CRC or framing failure keeps what
//! was decoded before it and marks the capture `truncated`.
//!
//! Not here: non-2xx statuses (already error fixtures in `Surface::collapse`) and the
//! fixture JSON (`providers::collapse`). Nothing here panics on upstream bytes.

use base64::Engine;
use serde_json::Value;

use super::family::collapse as family;
use crate::codec::eventstream::{EventStreamDecoder, Message};
use crate::providers::anthropic::collapse::{self as anthropic, EventReader};
use crate::providers::common::collapse::decode_prefix;
use crate::providers::common::collapse::{Collapsed, CollapsedError};

/// Read a recorded Bedrock reply: EventStream, SSE (Anthropic events), or JSON.
pub fn collapse(content_type: &str, body: &[u8]) -> Collapsed {
    let ct = content_type.to_ascii_lowercase();
    if ct.contains("amazon.eventstream") {
        collapse_eventstream(body)
    } else if ct.contains("event-stream") {
        anthropic::collapse(content_type, body)
    } else {
        let mut c = Collapsed::default();
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => read_json(&v, &mut c),
            Err(e) => c.warnings.push(format!("upstream body is not JSON: {e}")),
        }
        c
    }
}

/// A non-stream body, whichever model family or API produced it.
fn read_json(v: &Value, c: &mut Collapsed) {
    if let Some(m) = v.pointer("/output/message") {
        read_converse_message(m, c);
        if let Some(r) = v.get("stopReason").and_then(Value::as_str) {
            c.finish_reason = Some(anthropic::finish_reason(r));
        }
        if let Some(u) = v.get("usage") {
            c.usage = converse_usage(u);
        }
        c.native = super::native::native_of(v);
    } else if v.get("content").is_some_and(Value::is_array)
        || v.get("type").and_then(Value::as_str) == Some("error")
    {
        anthropic::read_message(v, c);
    } else if let Some(e) = v.get("embedding").and_then(Value::as_array) {
        c.embedding = Some(e.iter().filter_map(Value::as_f64).collect());
    } else if family::read_json(v, c) {
        // Titan text, Llama, Mistral, Cohere, DeepSeek, gpt-oss.
    } else {
        let keys: Vec<&str> = v
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        c.warnings.push(format!(
            "could not detect the Bedrock reply format (top-level keys: {keys:?})"
        ));
    }
}

/// Converse `usage` (`inputTokens`, `outputTokens`).
fn converse_usage(u: &Value) -> Option<(u64, u64)> {
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let (i, o) = (n("inputTokens"), n("outputTokens"));
    (i.is_some() || o.is_some()).then(|| (i.unwrap_or(0), o.unwrap_or(0)))
}

/// A Converse `output.message`: its content blocks in order.
fn read_converse_message(m: &Value, c: &mut Collapsed) {
    for block in m
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            c.push_text(t);
        } else if let Some(tu) = block.get("toolUse") {
            let args = tu.get("input").map(Value::to_string).unwrap_or_default();
            c.push_call(
                tu.get("toolUseId")
                    .and_then(Value::as_str)
                    .map(String::from),
                tu.get("name").and_then(Value::as_str).unwrap_or(""),
                args,
            );
        } else if let Some(r) = block.get("reasoningContent") {
            read_reasoning(r, r.get("reasoningText"), c);
        }
    }
}

/// A `reasoningContent` value: text and signature (at `text_at`, which is the value
/// itself in stream deltas and `reasoningText` in messages), or a redacted blob.
fn read_reasoning(r: &Value, text_at: Option<&Value>, c: &mut Collapsed) {
    let at = text_at.unwrap_or(r);
    if let Some(t) = at.get("text").and_then(Value::as_str) {
        c.push_reasoning(t);
    }
    if let Some(s) = at
        .get("signature")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        c.signature = Some(s.to_string());
    }
    if let Some(d) = r
        .get("redactedContent")
        .and_then(Value::as_str)
        .filter(|d| !d.is_empty())
    {
        c.redacted.push(d.to_string());
    }
}

/// The status AWS sends a Bedrock runtime exception with.
fn exception_status(kind: &str) -> u16 {
    match kind.to_ascii_lowercase().trim_end_matches("exception") {
        "throttling" | "modelnotready" => 429,
        "validation" | "servicequotaexceeded" => 400,
        "accessdenied" => 403,
        "resourcenotfound" => 404,
        "modeltimeout" => 408,
        "conflict" => 409,
        "modelstreamerror" | "modelerror" => 424,
        "serviceunavailable" => 503,
        _ => 500,
    }
}

/// An in-stream exception as an error fixture. The type is kept exactly as the
/// `:exception-type` header spelled it (`throttlingException`): replayed as the
/// `x-amzn-ErrorType`, it gives boto3 the same error code the live stream raised.
fn exception_of(kind: &str, payload: &[u8]) -> CollapsedError {
    let v: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let message = v
        .get("message")
        .or_else(|| v.get("Message"))
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| format!("Upstream stream raised {kind}"));
    CollapsedError {
        status: exception_status(kind),
        message,
        kind: Some(kind.to_string()).filter(|k| !k.is_empty()),
        code: None,
    }
}

/// The Converse stream event names, in the order they arrive.
const CONVERSE_EVENTS: &[&str] = &[
    "messageStart",
    "contentBlockStart",
    "contentBlockDelta",
    "contentBlockStop",
    "messageStop",
    "metadata",
];

/// State carried across the events of one Converse-shaped stream.
#[derive(Debug, Default)]
struct ConverseReader {
    usage: Option<(u64, u64)>,
    /// `messageStop` was seen.
    done: bool,
    /// Every event, for the native layer (`bedrock::native::assemble`).
    seen: Vec<(String, Value)>,
}

impl ConverseReader {
    fn read(&mut self, kind: &str, v: &Value, c: &mut Collapsed) {
        self.seen.push((kind.to_string(), v.clone()));
        let key = v
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .map(|i| i.to_string())
            .unwrap_or_else(|| "noindex".into());
        match kind {
            "contentBlockStart" => {
                if let Some(tu) = v.pointer("/start/toolUse") {
                    c.extend_call(
                        &key,
                        tu.get("toolUseId").and_then(Value::as_str),
                        tu.get("name").and_then(Value::as_str),
                        "",
                    );
                }
            }
            "contentBlockDelta" => {
                let Some(d) = v.get("delta") else {
                    c.dropped += 1;
                    return;
                };
                if let Some(t) = d.get("text").and_then(Value::as_str) {
                    c.push_text(t);
                } else if let Some(tu) = d.get("toolUse") {
                    let input = match tu.get("input") {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    };
                    if c.has_call(&key) {
                        c.extend_call(&key, None, None, &input);
                    } else {
                        c.dropped += 1;
                    }
                } else if let Some(r) = d.get("reasoningContent") {
                    read_reasoning(r, None, c);
                }
            }
            "messageStop" => {
                if let Some(r) = v.get("stopReason").and_then(Value::as_str) {
                    c.finish_reason = Some(anthropic::finish_reason(r));
                }
                self.done = true;
            }
            "metadata" => {
                if let Some(u) = v.get("usage").and_then(converse_usage) {
                    self.usage = Some(u);
                }
            }
            _ => {}
        }
    }
}

/// Everything one EventStream body said, whichever endpoint sent it.
#[derive(Default)]
struct StreamState {
    anthropic: EventReader,
    saw_anthropic: bool,
    converse: ConverseReader,
    /// The other invoke families' events.
    family: family::StreamReader,
}

impl StreamState {
    /// One model event: an Anthropic event (has `type`) or a wrapped Converse event
    /// (`{"contentBlockDelta": {...}, "amazon-bedrock-...": ...}`).
    fn read_model_event(&mut self, v: &Value, c: &mut Collapsed) {
        if let Some(kind) = v.get("type").and_then(Value::as_str) {
            self.saw_anthropic = true;
            self.anthropic.read(kind, v, c);
            return;
        }
        match CONVERSE_EVENTS
            .iter()
            .find_map(|k| v.get(*k).map(|inner| (*k, inner)))
        {
            Some((kind, inner)) => self.converse.read(kind, inner, c),
            None if self.family.read(v, c) => {}
            None => c.dropped += 1,
        }
    }

    fn read_message(&mut self, m: &Message, c: &mut Collapsed) {
        match m.header_str(":message-type").unwrap_or("event") {
            "exception" => {
                let kind = m
                    .header_str(":exception-type")
                    .unwrap_or("unknownException");
                c.error = Some(exception_of(kind, &m.payload));
                return;
            }
            "error" => {
                let code = m
                    .header_str(":error-code")
                    .unwrap_or("InternalServerException");
                let mut e = exception_of(code, b"");
                if let Some(msg) = m.header_str(":error-message") {
                    e.message = msg.to_string();
                }
                c.error = Some(e);
                return;
            }
            _ => {}
        }
        let Ok(payload) = serde_json::from_slice::<Value>(&m.payload) else {
            c.dropped += 1;
            return;
        };
        match m.header_str(":event-type") {
            Some(kind) if CONVERSE_EVENTS.contains(&kind) => self.converse.read(kind, &payload, c),
            // `chunk`, or a legacy message without an event type: the model's event,
            // base64-wrapped as AWS sends it, or bare as older aimock recorded it.
            _ => match payload.get("bytes").and_then(Value::as_str) {
                Some(b64) => {
                    let inner = base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .ok()
                        .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok());
                    match inner {
                        Some(v) => self.read_model_event(&v, c),
                        None => c.dropped += 1,
                    }
                }
                None => self.read_model_event(&payload, c),
            },
        }
    }
}

fn collapse_eventstream(body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    let (messages, err) = decode_prefix(EventStreamDecoder::new(), body);
    if let Some(e) = err {
        c.truncated = true;
        c.warnings.push(format!("EventStream framing error: {e}"));
    }
    let mut state = StreamState::default();
    for m in &messages {
        state.read_message(m, &mut c);
        if c.error.is_some() {
            break;
        }
    }
    if state.saw_anthropic {
        c.usage = state.anthropic.usage();
    }
    if let Some(u) = state.converse.usage {
        c.usage = Some(u);
    }
    if c.error.is_none() {
        state.family.finish(&mut c);
    }
    if !(state.anthropic.done || state.converse.done || state.family.done || c.error.is_some()) {
        c.truncated = true;
    }
    if !state.saw_anthropic && c.error.is_none() {
        c.native = super::native::native_of(&super::native::assemble(&state.converse.seen));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden(name: &str) -> Vec<u8> {
        crate::testing::golden(&format!("bedrock/{name}"))
    }

    use crate::codec::eventstream::{encode_to_bytes, Message};
    use serde_json::json;

    const ES: &str = "application/vnd.amazon.eventstream";

    /// The collapsed reply as a fixture, which must load.
    use crate::testing::loadable_response as fixture;

    fn frames(messages: &[Message]) -> Vec<u8> {
        messages
            .iter()
            .flat_map(|m| encode_to_bytes(m).unwrap().to_vec())
            .collect()
    }

    #[test]
    fn an_invoke_stream_unwraps_base64_chunks_into_anthropic_events() {
        let c = collapse(ES, &golden("invoke-stream-anthropic-messages.eventstream"));
        assert_eq!(
            c.content,
            "Hobbits embark on epic quest to destroy powerful ring, battling dark forces."
        );
        assert_eq!(c.usage, Some((21, 22)));
        assert!(!c.truncated && c.dropped == 0);
        fixture(&c);
    }

    #[test]
    fn a_nova_invoke_stream_reads_the_wrapped_converse_events() {
        let c = collapse(ES, &golden("invoke-stream-nova.eventstream"));
        assert!(c
            .content
            .starts_with("On their first night in the wilderness,"));
        assert_eq!(c.usage, Some((30, 55)));
        assert!(!c.truncated && c.dropped == 0);
        fixture(&c);
    }

    #[test]
    fn converse_streams_collapse_text_tools_reasoning_and_usage() {
        let c = collapse(ES, &golden("converse-stream-text.eventstream"));
        assert!(c.content.starts_with("The capital of France is Paris."));
        assert!(c.content.ends_with("\"The City of Love.\""));
        assert_eq!(c.usage, Some((13, 82)));
        assert!(!c.truncated);
        fixture(&c);

        let c = collapse(ES, &golden("converse-stream-tool-use.eventstream"));
        assert_eq!(
            c.content,
            "Okay, let me check the weather for Barcelona using the available tool:"
        );
        assert_eq!(
            c.calls[0].id.as_deref(),
            Some("tooluse_yypYDr71TwCwByoyao4-Vg")
        );
        assert_eq!(c.calls[0].name, "get_weather");
        let args: Value = serde_json::from_str(&c.calls[0].arguments).unwrap();
        assert_eq!(args, json!({"location": "Barcelona"}));
        assert_eq!(c.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(c.usage, Some((236, 58)));
        fixture(&c);

        let c = collapse(ES, &golden("converse-stream-reasoning.eventstream"));
        assert!(c
            .reasoning
            .starts_with("The user has greeted me with a simple \"Hello\"."));
        assert!(c.signature.as_deref().unwrap().starts_with("Eu0CCkgIBxAB"));
        assert_eq!(
            c.content,
            "Hello! It's nice to meet you. How can I help you today?"
        );
        let r = fixture(&c);
        assert_eq!(r["reasoningSignature"], c.signature.clone().unwrap());
    }

    #[test]
    fn json_replies_of_every_bedrock_shape_collapse() {
        let c = collapse(
            "application/json",
            &golden("invoke-anthropic-messages-json.json"),
        );
        assert!(c.content.starts_with("Hobbits embark"));
        assert_eq!(c.usage, Some((21, 22)));
        fixture(&c);

        let c = collapse("application/json", &golden("converse-json-text.json"));
        assert!(c
            .content
            .starts_with("Why did the OpenTelemetry trace go to therapy?"));
        assert_eq!(c.usage, Some((52, 30)));
        fixture(&c);

        let c = collapse("application/json", &golden("converse-json-tool-use.json"));
        assert!(c.content.starts_with("Okay, let me use the tool"));
        assert_eq!(
            c.calls[0].id.as_deref(),
            Some("tooluse_iPA5tRLlQ5qSvfeYGeQVPg")
        );
        assert_eq!(c.calls[0].arguments, r#"{"concept":"distributed tracing"}"#);
        fixture(&c);

        let c = collapse(
            "application/json",
            &golden("converse-json-guardrail-intervened.json"),
        );
        assert_eq!(c.finish_reason.as_deref(), Some("guardrail_intervened"));
        assert_eq!(fixture(&c)["finishReason"], "guardrail_intervened");

        let c = collapse("application/json", &golden("invoke-titan-embeddings.json"));
        assert!(c.embedding.as_ref().is_some_and(|e| e.len() > 100));
        fixture(&c);

        let c = collapse(
            "application/json",
            br#"{"output":{"message":{"content":[{"reasoningContent":{"reasoningText":{"text":"hmm","signature":"sig"}}},{"text":"ok"}]}},"stopReason":"end_turn"}"#,
        );
        assert_eq!(
            (c.reasoning.as_str(), c.signature.as_deref()),
            ("hmm", Some("sig"))
        );
    }

    #[test]
    fn an_in_stream_exception_becomes_an_error_fixture_with_its_status() {
        let body = frames(&[
            Message::event("messageStart", r#"{"role":"assistant"}"#),
            Message::event(
                "contentBlockDelta",
                r#"{"contentBlockIndex":0,"delta":{"text":"Hel"}}"#,
            ),
            Message::exception("throttlingException", r#"{"message":"Too many requests"}"#),
        ]);
        let c = collapse(ES, &body);
        let e = c.error.clone().unwrap();
        assert_eq!((e.status, e.message.as_str()), (429, "Too many requests"));
        assert_eq!(e.kind.as_deref(), Some("throttlingException"));
        assert!(!c.truncated);
        let r = fixture(&c);
        assert_eq!(r["status"], 429);
        assert_eq!(exception_status("modelStreamErrorException"), 424);
        assert_eq!(exception_status("internalServerException"), 500);
    }

    #[test]
    fn a_corrupt_frame_keeps_what_came_before_and_marks_the_capture_truncated() {
        let mut body = golden("converse-stream-text.eventstream");
        let first = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
        let second = u32::from_be_bytes(body[first..first + 4].try_into().unwrap()) as usize;
        // Flip a payload byte of the third message: its CRC no longer matches.
        body[first + second + 20] ^= 0xff;
        let c = collapse(ES, &body);
        assert!(c.truncated);
        assert_eq!(c.content, "The");
        let (_, warnings) = c.to_response();
        assert!(warnings.iter().any(|w| w.contains("truncated")));

        let full = golden("invoke-stream-anthropic-messages.eventstream");
        let c = collapse(ES, &full[..full.len() - 10]);
        assert!(c.truncated && c.content.starts_with("Hobbits"));
    }

    #[test]
    fn legacy_unwrapped_invoke_payloads_are_still_read() {
        let events = [
            json!({"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":1}}}),
            json!({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"1}"}}),
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}),
            json!({"type":"message_stop"}),
        ];
        let msgs: Vec<Message> = events
            .iter()
            .map(|e| Message::event("chunk", e.to_string()))
            .collect();
        let c = collapse(ES, &frames(&msgs));
        assert_eq!(c.calls[0].arguments, r#"{"a":1}"#);
        assert_eq!(c.calls[0].id.as_deref(), Some("toolu_1"));
        assert_eq!(c.usage, Some((3, 9)));
        assert!(!c.truncated);
    }
}

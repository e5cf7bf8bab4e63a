//! Anthropic's native layer (see `cassette::native`): what a Messages reply carries
//! beyond text, tool calls and thinking — server tool calls and their results (web
//! search, web fetch, code execution, tool search, MCP), citations on text blocks,
//! redacted thinking, `stop_sequence` / `pause_turn` / `refusal` stops, usage as
//! recorded, an `event: error` inside a 200 stream — read from a recording and
//! replayed in the same order.
//!
//! Collapse: a stream is first assembled into the message the SDK would build from it
//! ([`assemble`]), so JSON and SSE recordings are read by one function ([`native_of`]).
//! Render: the message is built from the items ([`message`]); a stream is derived from
//! that message ([`events`]) as the API streams each block kind: text and thinking as
//! deltas, a block with an `input` (tool use of any kind) as `input_json_delta`s, a
//! citation as a `citations_delta`, any other block whole in its `content_block_start`.
//!
//! Not here: replies with nothing native, which keep the fast hand-written renderer.

use serde_json::{json, Map, Value};

use crate::cassette::model::ChatReply;
use crate::cassette::native::{overlay, Item, Native};
use crate::providers::common::native::{
    call_item, merged, reasoning_item, rest, slices, text_item, verbatim_item, NativeOut,
};
use crate::providers::common::RenderContext;
use crate::request::ChatRequest;

/// The name of this wire format in `native.provider`.
pub const PROVIDER: &str = "anthropic";

/// Stop reasons the neutral `finishReason` has no word for.
const NATIVE_STOPS: &[&str] = &[
    "stop_sequence",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
];

/// The message a stream's events build, and the error event it ended with, if any.
pub fn assemble(events: &[(String, Value)]) -> (Value, Option<Value>) {
    let mut message = json!({"content": []});
    let mut partial: Vec<String> = Vec::new();
    let mut error = None;
    for (kind, v) in events {
        match kind.as_str() {
            "message_start" => {
                if let Some(m) = v.get("message").filter(|m| m.is_object()) {
                    message = m.clone();
                    if !message["content"].is_array() {
                        message["content"] = json!([]);
                    }
                }
            }
            "content_block_start" => {
                let i = v.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                let content = message["content"].as_array_mut();
                if let (Some(content), Some(b)) = (content, v.get("content_block")) {
                    while content.len() <= i {
                        content.push(Value::Null);
                    }
                    content[i] = b.clone();
                    while partial.len() <= i {
                        partial.push(String::new());
                    }
                }
            }
            "content_block_delta" => {
                let i = v.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                let Some(block) = message["content"].get_mut(i).filter(|b| b.is_object()) else {
                    continue;
                };
                let d = &v["delta"];
                let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("");
                let append = |block: &mut Value, key: &str, text: &str| {
                    let cur = block
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    block[key] = Value::String(cur + text);
                };
                match s("type") {
                    "text_delta" => append(block, "text", s("text")),
                    "thinking_delta" => append(block, "thinking", s("thinking")),
                    "signature_delta" => block["signature"] = s("signature").into(),
                    "citations_delta" => {
                        if !block["citations"].is_array() {
                            block["citations"] = json!([]);
                        }
                        if let (Some(list), Some(c)) =
                            (block["citations"].as_array_mut(), d.get("citation"))
                        {
                            list.push(c.clone());
                        }
                    }
                    "input_json_delta" => {
                        if let Some(p) = partial.get_mut(i) {
                            p.push_str(s("partial_json"));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                let i = v.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                if let (Some(block), Some(p)) = (message["content"].get_mut(i), partial.get(i)) {
                    if !p.trim().is_empty() {
                        if let Ok(input) = serde_json::from_str::<Value>(p) {
                            block["input"] = input;
                        }
                    }
                }
            }
            "message_delta" => {
                if let Some(d) = v.get("delta").and_then(Value::as_object) {
                    for (k, x) in d {
                        message[k.as_str()] = x.clone();
                    }
                }
                if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                    if !message["usage"].is_object() {
                        message["usage"] = json!({});
                    }
                    overlay(&mut message["usage"], u);
                }
            }
            "error" => error = Some(v.clone()),
            _ => {}
        }
    }
    if let Some(c) = message["content"].as_array_mut() {
        c.retain(|b| b.is_object());
    }
    (message, error)
}

/// Whether the message holds something the neutral fields cannot: `(in its blocks,
/// in its envelope or usage)`.
fn is_rich(m: &Value) -> (bool, bool) {
    let blocks = m["content"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let rich_block = blocks.iter().any(|b| match b["type"].as_str() {
        Some("text") => b.get("citations").is_some_and(|c| !c.is_null()),
        // Kinds the neutral fields hold (`redactedThinking` for the blobs).
        Some("tool_use" | "thinking" | "redacted_thinking") => false,
        _ => true,
    });
    let stop = m["stop_reason"]
        .as_str()
        .is_some_and(|s| NATIVE_STOPS.contains(&s));
    // Keys the plain render does not write (a block's `caller`, the envelope's
    // `service_tier`, `inference_geo`, `stop_details`, usage's `cache_creation`
    // breakdown or a null cache count): null ones read as absent in the SDK.
    let more = |o: Option<&Map<String, Value>>, plain: &[&str]| {
        o.is_some_and(|o| {
            o.iter()
                .any(|(k, v)| !v.is_null() && !plain.contains(&k.as_str()))
        })
    };
    let block_keys = blocks.iter().any(|b| match b["type"].as_str() {
        Some("tool_use") => more(b.as_object(), &["type", "id", "name", "input"]),
        Some("thinking") => more(b.as_object(), &["type", "thinking", "signature"]),
        Some("text") => more(b.as_object(), &["type", "text", "citations"]),
        _ => false,
    });
    let envelope = more(
        m.as_object(),
        &[
            "id",
            "type",
            "role",
            "content",
            "model",
            "stop_reason",
            "stop_sequence",
            "usage",
        ],
    );
    let usage = m["usage"].as_object().is_some_and(|u| {
        u.iter().any(|(k, v)| match k.as_str() {
            "input_tokens" | "output_tokens" => false,
            "cache_creation_input_tokens" | "cache_read_input_tokens" => *v != json!(0),
            _ => !v.is_null(),
        })
    });
    let items = rich_block
        || block_keys
        || stop
        || !m["stop_sequence"].is_null()
        || m.pointer("/usage/server_tool_use").is_some()
        || m.get("container").is_some_and(|c| !c.is_null());
    (items, envelope || usage)
}

/// The native layer of a message (assembled or received whole), when it needs one;
/// `error` is an error event that ended its stream.
pub fn native_of(m: &Value, error: Option<&Value>) -> Option<NativeOut> {
    let (items, fields) = is_rich(m);
    if !items && !fields && error.is_none() {
        return None;
    }
    let mut out = NativeOut::new(PROVIDER);
    for b in m["content"].as_array().into_iter().flatten() {
        let Some(o) = b.as_object() else { continue };
        let s = |k: &str| o.get(k).and_then(Value::as_str);
        out.items.push(match s("type") {
            Some("text") => text_item(s("text").unwrap_or(""), rest(o, &["type", "text"])),
            Some("tool_use") => call_item(
                s("id"),
                s("name").unwrap_or(""),
                &o.get("input").map(Value::to_string).unwrap_or_default(),
                rest(o, &["type", "id", "name", "input"]),
            ),
            Some("thinking") => reasoning_item(
                s("thinking").unwrap_or(""),
                s("signature"),
                rest(o, &["type", "thinking", "signature"]),
            ),
            _ => verbatim_item(b),
        });
    }
    if !items && error.is_none() {
        // Only the envelope says more: the content stays in the neutral fields.
        out.items.clear();
    }
    if let Some(o) = m.as_object() {
        out.fields = rest(o, &["id", "type", "role", "content"]);
    }
    out.stream_error = error.cloned();
    Some(out)
}

/// A content block for item `i` (a tool call without id gets the id the plain
/// renderer would give it).
fn block_of(item: &Item, calls: &mut usize, ctx: &RenderContext) -> Value {
    match item {
        Item::Text { text, extra } => merged(json!({"type": "text", "text": text}), extra),
        Item::ToolCall { call, extra } => {
            let id = call
                .id
                .clone()
                .unwrap_or_else(|| ctx.id("toolu_01", &format!("call{calls}"), 22));
            *calls += 1;
            let input: Value = serde_json::from_str(&call.arguments)
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            merged(
                json!({"type": "tool_use", "id": id, "name": call.name, "input": input}),
                extra,
            )
        }
        Item::Reasoning {
            text,
            signature,
            extra,
        } => merged(
            json!({"type": "thinking", "thinking": text, "signature": signature.as_deref().unwrap_or(super::reply::PLACEHOLDER_SIGNATURE)}),
            extra,
        ),
        Item::Verbatim(v) => v.clone(),
    }
}

/// The message for a reply with a native layer: the plain render's envelope, the
/// items as content blocks (when there are items), the recorded fields over it.
pub fn message(reply: &ChatReply, n: &Native, req: &ChatRequest, ctx: &RenderContext) -> Value {
    let mut m = super::reply::message_body(reply, req, ctx);
    if !n.items.is_empty() {
        let mut calls = 0;
        m["content"] = n
            .items
            .iter()
            .map(|i| block_of(i, &mut calls, ctx))
            .collect();
    }
    overlay(&mut m, &Value::Object(n.fields.clone()));
    m
}

/// The stream of `message`, each event `(name, data)`, ending in `error` (the recorded
/// in-band error) when there is one.
pub fn events(m: &Value, stream_error: Option<&Value>, chunk: usize) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    let mut start = m.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["stop_sequence"] = Value::Null;
    out.push((
        "message_start",
        json!({"type": "message_start", "message": start}),
    ));
    out.push(("ping", json!({"type": "ping"})));
    for (index, b) in m["content"].as_array().into_iter().flatten().enumerate() {
        let mut deltas = Vec::new();
        let mut head = b.clone();
        match b["type"].as_str() {
            Some("text") => {
                head["text"] = "".into();
                if let Some(cites) = b.get("citations").and_then(Value::as_array) {
                    head["citations"] = json!([]);
                    for c in cites {
                        deltas.push(json!({"type": "citations_delta", "citation": c}));
                    }
                }
                for t in slices(b["text"].as_str().unwrap_or(""), chunk) {
                    deltas.push(json!({"type": "text_delta", "text": t}));
                }
            }
            Some("thinking") => {
                head["thinking"] = "".into();
                head["signature"] = "".into();
                for t in slices(b["thinking"].as_str().unwrap_or(""), chunk) {
                    deltas.push(json!({"type": "thinking_delta", "thinking": t}));
                }
                deltas.push(json!({"type": "signature_delta", "signature": b["signature"]}));
            }
            _ if b.get("input").is_some() => {
                head["input"] = json!({});
                let text = b["input"].to_string();
                deltas.push(json!({"type": "input_json_delta", "partial_json": ""}));
                if text != "{}" {
                    for t in slices(&text, chunk) {
                        deltas.push(json!({"type": "input_json_delta", "partial_json": t}));
                    }
                }
            }
            _ => {}
        }
        out.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": head}),
        ));
        for d in deltas {
            out.push((
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": d}),
            ));
        }
        out.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    if let Some(e) = stream_error {
        out.push(("error", e.clone()));
        return out;
    }
    out.push((
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": m["stop_reason"], "stop_sequence": m["stop_sequence"]},
               "usage": m["usage"]}),
    ));
    out.push(("message_stop", json!({"type": "message_stop"})));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{content_capture, plan_bytes, record_and_replay, sse_events};

    const PATH: &str = "/v1/messages";
    const SSE: &str = "text/event-stream; charset=utf-8";

    fn request(stream: bool) -> String {
        json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": stream,
               "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
    }

    /// The message the SDK builds from a stream, and its in-band error.
    fn read_stream(bytes: &[u8]) -> (Value, Option<Value>) {
        assemble(&sse_events(bytes))
    }

    /// Equal but for the generated id.
    fn same_message(mut got: Value, mut want: Value) {
        got["id"] = Value::Null;
        want["id"] = Value::Null;
        assert_eq!(got, want);
    }

    #[test]
    fn server_tool_blocks_and_citations_replay_in_order_streamed_and_whole() {
        let capture = content_capture("anthropic/messages-stream-web-search-citations.sse");
        let (recorded, _) = read_stream(&capture);
        let (response, plan) = record_and_replay(PATH, SSE, &capture, &request(true));
        assert_eq!(response["native"]["provider"], "anthropic");
        assert_eq!(response["items"][1]["item"]["type"], "server_tool_use");
        assert_eq!(
            response["items"][3]["extra"]["citations"][0]["type"],
            "web_search_result_location"
        );
        // The neutral view keeps the text only.
        let (replayed, error) = read_stream(&plan_bytes(&plan));
        assert!(error.is_none());
        same_message(replayed.clone(), recorded.clone());
        assert_eq!(
            replayed["usage"]["server_tool_use"]["web_search_requests"],
            1
        );
        // The same fixture asked without streaming gives the same message.
        let (_, plan) = record_and_replay(PATH, SSE, &capture, &request(false));
        let whole: Value = serde_json::from_slice(&plan_bytes(&plan)).unwrap();
        same_message(whole, recorded);
    }

    #[test]
    fn pause_turn_web_fetch_code_execution_tool_search_redacted_thinking_and_stop_sequence() {
        for name in [
            "anthropic/messages-json-pause-turn-web-fetch.json",
            "anthropic/messages-json-code-execution-tool-search.json",
        ] {
            let capture = content_capture(name);
            let recorded: Value = serde_json::from_slice(&capture).unwrap();
            let (response, plan) =
                record_and_replay(PATH, "application/json", &capture, &request(false));
            assert!(response.get("items").is_some(), "{name}");
            let whole: Value = serde_json::from_slice(&plan_bytes(&plan)).unwrap();
            same_message(whole, recorded.clone());
            let (_, plan) = record_and_replay(PATH, "application/json", &capture, &request(true));
            let (streamed, _) = read_stream(&plan_bytes(&plan));
            same_message(streamed, recorded);
        }
        let capture = content_capture("anthropic/messages-json-code-execution-tool-search.json");
        let (response, _) = record_and_replay(PATH, "application/json", &capture, &request(false));
        assert_eq!(response["native"]["fields"]["stop_reason"], "stop_sequence");
        assert_eq!(response["native"]["fields"]["stop_sequence"], "END");
        assert_eq!(response["items"][0]["item"]["type"], "redacted_thinking");
    }

    #[test]
    fn an_error_after_the_message_started_replays_in_band_after_the_text() {
        let capture = content_capture("anthropic/messages-stream-error-midway.sse");
        let (response, plan) = record_and_replay(PATH, SSE, &capture, &request(true));
        assert!(response.get("error").is_none(), "{response}");
        assert_eq!(
            response["native"]["streamError"]["error"]["type"],
            "overloaded_error"
        );
        assert_eq!(plan.status, 200);
        let events = sse_events(&plan_bytes(&plan));
        let (last, data) = events.last().unwrap();
        assert_eq!(last, "error");
        assert_eq!(data["error"]["message"], "Overloaded");
        let (message, _) = read_stream(&plan_bytes(&plan));
        assert_eq!(message["content"][0]["text"], "Once upon a");
        // Asked without streaming, the error is the reply.
        let (_, plan) = record_and_replay(PATH, SSE, &capture, &request(false));
        assert_eq!(plan.status, 529);
    }

    #[test]
    fn another_provider_replays_the_text_and_drops_the_server_tool_blocks() {
        let capture = content_capture("anthropic/messages-stream-web-search-citations.sse");
        let c = crate::testing::surface_at(PATH).collapse(200, SSE, &capture);
        let (response, _) = c.to_response();
        let fx = crate::testing::fixture(json!({"match": {}, "response": response}));
        let crate::cassette::Reply::Chat(chat) = &fx.reply else {
            panic!("not a chat reply")
        };
        assert_eq!(
            chat.text().as_deref(),
            Some("I'll search for that.It is cloudy and 30°F in New York.")
        );
        assert!(chat.calls().is_empty());
        assert!(chat.native_for("openai").is_none());
    }

    #[test]
    fn plain_replies_get_no_native_layer() {
        let capture = crate::testing::golden("anthropic/messages-stream-tool-use.sse");
        let (response, _) = record_and_replay(PATH, SSE, &capture, &request(true));
        assert!(response.get("native").is_none() && response.get("items").is_none());
    }
}

//! Bedrock `invoke` and `invoke-with-response-stream` for Anthropic models (the other
//! families are in `family`): the
//! request body is the Anthropic Messages body (`anthropic_version`, `messages`,
//! `system`, `tools`, `max_tokens`; no `model`, which is in the path), and the reply is
//! the Anthropic message JSON, or the Anthropic stream events each base64-wrapped as
//! `{"bytes": …}` in an EventStream `chunk` message.
//!
//! Field order and ids follow the real captures (`msg_bdrk_…`, `toolu_bdrk_…`; the
//! last event carries `amazon-bedrock-invocationMetrics`).
//!
//! Not here: the direct Anthropic API (`providers::anthropic`, which has its own
//! parser; this one is deliberately small and only needs what matching reads).

use serde_json::{json, Map, Value};

use super::{compact_args, latency_ms, parsed_args, stop_reason, Tokens, PLACEHOLDER_SIGNATURE};
use crate::cassette::model::{Block, ChatReply, ToolCall};
use crate::providers::common::{chunk_text, json_body, ParseError, RenderContext, RenderPlan};
use crate::request::{ChatRequest, Endpoint, Message, Role, ToolCallRef};

/// Text of an Anthropic content value: a string, or its text blocks joined with "".
/// `None` when there is no text block at all (image-only content).
fn content_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Array(blocks) => {
            let texts: Vec<&str> = blocks
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str).unwrap_or("text") == "text")
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect();
            (!texts.is_empty()).then(|| texts.concat())
        }
        _ => None,
    }
}

fn block_type(b: &Value) -> &str {
    b.get("type").and_then(Value::as_str).unwrap_or("")
}

/// Parse an Anthropic Messages body sent to Bedrock.
pub fn parse_request(model: &str, stream: bool, body: &[u8]) -> Result<ChatRequest, ParseError> {
    parse_object(model, stream, body, &json_body(body)?)
}

/// [`parse_request`] of a body already read as a JSON object (`o` is `body`'s).
pub fn parse_object(
    model: &str,
    stream: bool,
    body: &[u8],
    o: &Map<String, Value>,
) -> Result<ChatRequest, ParseError> {
    let Some(list) = o.get("messages").and_then(Value::as_array) else {
        return Err(ParseError::bad(
            "missing_messages",
            "Malformed input request: #: required key [messages] not found, please reformat your input and try again.",
        ));
    };
    let mut req = ChatRequest::new(Endpoint::Chat, body);
    req.model = Some(model.to_string());
    req.stream = stream;
    if let Some(system) = content_text(o.get("system")) {
        req.messages.push(Message::text(Role::System, system));
    }
    for m in list {
        let Some(m) = m.as_object() else { continue };
        let content = m.get("content");
        match m.get("role").and_then(Value::as_str) {
            Some("assistant") => req.messages.push(assistant_message(content)),
            _ => user_messages(content, &mut req.messages),
        }
    }
    req.tools = o
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default();
    Ok(req)
}

fn assistant_message(content: Option<&Value>) -> Message {
    let tool_calls = content
        .and_then(Value::as_array)
        .map(|blocks| {
            blocks
                .iter()
                .filter(|b| block_type(b) == "tool_use")
                .map(|b| ToolCallRef {
                    id: b
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    name: b
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    arguments: b
                        .get("input")
                        .map_or_else(|| "{}".to_string(), Value::to_string),
                })
                .collect()
        })
        .unwrap_or_default();
    Message {
        role: Role::Assistant,
        text: content_text(content),
        tool_calls,
        tool_call_id: None,
    }
}

/// A user turn: its text first (when there is any), then one tool message per
/// `tool_result` block (see the module `# Design` note in `bedrock`).
fn user_messages(content: Option<&Value>, out: &mut Vec<Message>) {
    let results: Vec<&Value> = content
        .and_then(Value::as_array)
        .map(|blocks| {
            blocks
                .iter()
                .filter(|b| block_type(b) == "tool_result")
                .collect()
        })
        .unwrap_or_default();
    let text = content_text(content);
    if text.is_some() || results.is_empty() {
        out.push(Message {
            role: Role::User,
            text,
            tool_calls: Vec::new(),
            tool_call_id: None,
        });
    }
    for r in results {
        let id = r
            .get("tool_use_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let text = content_text(r.get("content")).unwrap_or_default();
        out.push(Message::tool_result(id, text));
    }
}

/// The tool-use id: pinned, or derived from the seed and the call's position.
fn tool_id(call: &ToolCall, i: usize, ctx: &RenderContext) -> String {
    call.id
        .clone()
        .unwrap_or_else(|| ctx.id("toolu_bdrk_", &format!("tool{i}"), 24))
}

fn message_id(reply: &ChatReply, ctx: &RenderContext) -> String {
    reply
        .overrides
        .id
        .clone()
        .unwrap_or_else(|| ctx.id("msg_bdrk_", "id", 24))
}

fn model_name(reply: &ChatReply, req: &ChatRequest) -> String {
    reply
        .overrides
        .model
        .clone()
        .or_else(|| req.model.clone())
        .unwrap_or_default()
}

fn signature(reply: &ChatReply) -> String {
    reply
        .reasoning_signature
        .clone()
        .unwrap_or_else(|| PLACEHOLDER_SIGNATURE.to_string())
}

/// The non-streamed Anthropic message.
pub fn render_json(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let tokens = Tokens::of(reply, req);
    let mut content = Vec::new();
    for data in &reply.redacted_thinking {
        content.push(json!({"type": "redacted_thinking", "data": data}));
    }
    if let Some(r) = &reply.reasoning {
        content.push(json!({"type": "thinking", "thinking": r, "signature": signature(reply)}));
    }
    let mut tool_index = 0;
    for b in reply.ordered_blocks() {
        match b {
            Block::Text(t) => content.push(json!({"type": "text", "text": t})),
            Block::ToolCall(c) => {
                content.push(
                    json!({"type": "tool_use", "id": tool_id(&c, tool_index, ctx),
                    "name": c.name, "input": parsed_args(&c.arguments)}),
                );
                tool_index += 1;
            }
        }
    }
    let body = json!({
        "id": message_id(reply, ctx),
        "type": "message",
        "role": reply.overrides.role.clone().unwrap_or_else(|| "assistant".into()),
        "content": content,
        "model": model_name(reply, req),
        "stop_reason": stop_reason(reply, !reply.calls().is_empty()),
        "stop_sequence": null,
        "usage": {"input_tokens": tokens.input, "output_tokens": tokens.output},
    });
    let mut plan = RenderPlan::json(200, &body);
    plan.headers.extend([
        (
            "x-amzn-bedrock-input-token-count",
            tokens.input.to_string().into(),
        ),
        (
            "x-amzn-bedrock-output-token-count",
            tokens.output.to_string().into(),
        ),
        (
            "x-amzn-bedrock-invocation-latency",
            latency_ms(ctx).to_string().into(),
        ),
    ]);
    plan
}

/// The Anthropic stream events for a reply, in order (§4.3 with Bedrock's ids and the
/// invocation metrics on `message_stop`).
pub fn stream_events(
    reply: &ChatReply,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> Vec<(Value, bool)> {
    let tokens = Tokens::of(reply, req);
    let mut events: Vec<(Value, bool)> = Vec::new();
    let mut push = |v: Value| events.push((v, true));
    push(json!({"type": "message_start", "message": {
        "id": message_id(reply, ctx),
        "type": "message",
        "role": reply.overrides.role.clone().unwrap_or_else(|| "assistant".into()),
        "content": [],
        "model": model_name(reply, req),
        "stop_reason": null,
        "stop_sequence": null,
        "usage": {"input_tokens": tokens.input, "output_tokens": 1},
    }}));
    let mut index = 0usize;
    for data in &reply.redacted_thinking {
        push(json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "redacted_thinking", "data": data}}));
        push(json!({"type": "content_block_stop", "index": index}));
        index += 1;
    }
    if let Some(r) = &reply.reasoning {
        push(json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""}}));
        for s in chunk_text(r, ctx.chunk_size) {
            push(json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "thinking_delta", "thinking": s}}));
        }
        push(json!({"type": "content_block_delta", "index": index,
            "delta": {"type": "signature_delta", "signature": signature(reply)}}));
        push(json!({"type": "content_block_stop", "index": index}));
        index += 1;
    }
    let mut tool_index = 0usize;
    for b in reply.ordered_blocks() {
        match b {
            Block::Text(t) => {
                push(json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "text", "text": ""}}));
                for s in chunk_text(&t, ctx.chunk_size) {
                    push(json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": s}}));
                }
            }
            Block::ToolCall(c) => {
                push(json!({"type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": tool_id(&c, tool_index, ctx),
                        "name": c.name, "input": {}}}));
                let args = compact_args(&c.arguments);
                for s in chunk_text(&args, ctx.chunk_size) {
                    push(json!({"type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": s}}));
                }
                tool_index += 1;
            }
        }
        push(json!({"type": "content_block_stop", "index": index}));
        index += 1;
    }
    let mut stop_delta = Map::new();
    stop_delta.insert(
        "stop_reason".into(),
        stop_reason(reply, !reply.calls().is_empty()).into(),
    );
    stop_delta.insert("stop_sequence".into(), Value::Null);
    events.push((
        json!({"type": "message_delta", "delta": stop_delta, "usage": {"output_tokens": tokens.output}}),
        false,
    ));
    events.push((
        json!({"type": "message_stop",
            "amazon-bedrock-invocationMetrics": super::invocation_metrics(tokens, ctx)}),
        false,
    ));
    events
}

/// The streamed reply: one EventStream `chunk` message per Anthropic event.
pub fn render_stream(
    reply: &ChatReply,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> Result<RenderPlan, crate::codec::Error> {
    super::chunk_stream(stream_events(reply, req, ctx))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ctx, decode_stream, fixture, golden, golden_request};
    use super::*;
    use crate::cassette::Reply;
    use crate::codec::decode_all;
    use crate::codec::eventstream::EventStreamDecoder;
    use crate::providers::common::PlanBody;
    use base64::Engine;

    fn reply(v: Value) -> ChatReply {
        match fixture(json!({"match": {}, "response": v})).reply {
            Reply::Chat(c) => *c,
            other => panic!("{other:?}"),
        }
    }

    fn req(body: &str) -> ChatRequest {
        parse_request(
            "anthropic.claude-3-haiku-20240307-v1:0",
            true,
            body.as_bytes(),
        )
        .unwrap()
    }

    /// The Anthropic events inside a rendered stream, unwrapped from base64.
    fn inner_events(plan: &RenderPlan) -> Vec<Value> {
        decode_stream(plan)
            .into_iter()
            .map(|(name, payload)| {
                assert_eq!(name, "chunk");
                let b64 = payload["bytes"].as_str().unwrap();
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap();
                serde_json::from_slice(&raw).unwrap()
            })
            .collect()
    }

    #[test]
    fn the_golden_invoke_requests_parse_with_the_model_from_the_path() {
        for name in [
            "invoke-anthropic-messages-json.json",
            "invoke-stream-anthropic-messages.eventstream",
        ] {
            let r = parse_request("m", false, &golden_request(name)).unwrap();
            assert_eq!(r.model.as_deref(), Some("m"));
            assert_eq!(
                r.last_user_text(),
                Some("summarize the plot to the lord of the rings in a dozen words")
            );
        }
    }

    #[test]
    fn system_tools_tool_use_and_tool_results_normalise_like_anthropic() {
        let r = req(
            r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,
            "system":[{"type":"text","text":"be "},{"type":"text","text":"brief"}],
            "tools":[{"name":"get_weather","input_schema":{"type":"object"}}],
            "messages":[
              {"role":"user","content":"weather?"},
              {"role":"assistant","content":[{"type":"text","text":"checking"},
                 {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1",
                 "content":[{"type":"text","text":"sunny"}]},{"type":"text","text":"and?"}]}]}"#,
        );
        assert_eq!(r.system_text(), "be brief");
        assert_eq!(r.tools, vec!["get_weather"]);
        assert_eq!(r.messages[2].tool_calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!(r.last_user_text(), Some("and?"));
        assert!(r.has_tool_result());
        assert_eq!(
            r.trailing_tool_message().unwrap().tool_call_id.as_deref(),
            Some("toolu_1")
        );
        assert_eq!(
            r.trailing_tool_message().unwrap().text.as_deref(),
            Some("sunny")
        );
        assert!(r.stream);
    }

    #[test]
    fn a_body_without_messages_is_rejected() {
        let e = parse_request("m", false, br#"{"inputText":"hi"}"#).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(parse_request("m", false, b"not json").is_err());
    }

    #[test]
    fn json_reply_has_the_real_field_order_and_estimated_usage() {
        let r = req(r#"{"messages":[{"role":"user","content":"hi"}]}"#);
        let plan = render_json(&reply(json!({"content": "Hello!"})), &r, &ctx());
        let PlanBody::Full(b) = &plan.body else {
            panic!()
        };
        let v: Value = serde_json::from_slice(b).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        let golden: Value =
            serde_json::from_slice(&golden("invoke-anthropic-messages-json.json")).unwrap();
        let golden_keys: Vec<&String> = golden.as_object().unwrap().keys().collect();
        assert_eq!(keys, golden_keys);
        assert_eq!(v["content"], json!([{"type": "text", "text": "Hello!"}]));
        assert_eq!(v["stop_reason"], "end_turn");
        assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0);
        assert!(v["id"].as_str().unwrap().starts_with("msg_bdrk_"));
        assert_eq!(v["model"], "anthropic.claude-3-haiku-20240307-v1:0");
    }

    #[test]
    fn json_reply_orders_thinking_text_and_tool_use() {
        let r = req(r#"{"messages":[{"role":"user","content":"hi"}]}"#);
        let rep = reply(json!({"content": "Let me look.", "reasoning": "hmm",
            "toolCalls": [{"name": "f", "arguments": {"a": 1}}]}));
        let PlanBody::Full(b) = render_json(&rep, &r, &ctx()).body else {
            panic!()
        };
        let v: Value = serde_json::from_slice(&b).unwrap();
        let types: Vec<&str> = v["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["thinking", "text", "tool_use"]);
        assert_eq!(v["content"][0]["signature"], PLACEHOLDER_SIGNATURE);
        assert_eq!(v["content"][2]["input"], json!({"a": 1}));
        assert!(v["content"][2]["id"]
            .as_str()
            .unwrap()
            .starts_with("toolu_bdrk_"));
        assert_eq!(v["stop_reason"], "tool_use");
    }

    #[test]
    fn stream_wraps_each_anthropic_event_in_a_base64_chunk() {
        let r = req(r#"{"messages":[{"role":"user","content":"hi"}]}"#);
        let rep = reply(json!({"content": "Hello world!", "reasoning": "think",
            "reasoningSignature": "sig", "toolCalls": [{"name": "f", "arguments": {"city": "Paris"}}]}));
        let plan = render_stream(&rep, &r, &ctx()).unwrap();
        assert!(plan
            .headers
            .contains(&("x-amzn-bedrock-content-type", "application/json".into())));
        let events = inner_events(&plan);
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types.first(), Some(&"message_start"));
        assert_eq!(&types[types.len() - 2..], ["message_delta", "message_stop"]);
        let text: String = events
            .iter()
            .filter(|e| e["delta"]["type"] == "text_delta")
            .map(|e| e["delta"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(text, "Hello world!");
        let args: String = events
            .iter()
            .filter(|e| e["delta"]["type"] == "input_json_delta")
            .map(|e| e["delta"]["partial_json"].as_str().unwrap())
            .collect();
        assert_eq!(args, r#"{"city":"Paris"}"#);
        assert!(events
            .iter()
            .any(|e| e["delta"] == json!({"type": "signature_delta", "signature": "sig"})));
        // chunkSize 5 slices the text.
        assert_eq!(
            events
                .iter()
                .filter(|e| e["delta"]["type"] == "text_delta")
                .count(),
            3
        );
        let indexes: Vec<u64> = events
            .iter()
            .filter(|e| e["type"] == "content_block_start")
            .map(|e| e["index"].as_u64().unwrap())
            .collect();
        assert_eq!(indexes, [0, 1, 2]);
        let last = events.last().unwrap();
        assert!(
            last["amazon-bedrock-invocationMetrics"]["outputTokenCount"]
                .as_u64()
                .unwrap()
                > 0
        );
        assert_eq!(events[events.len() - 2]["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn our_stream_uses_the_same_event_sequence_as_the_golden_capture() {
        let golden_events: Vec<Value> = decode_all(
            &mut EventStreamDecoder::new(),
            &golden("invoke-stream-anthropic-messages.eventstream"),
        )
        .unwrap()
        .iter()
        .map(|m| {
            let p: Value = serde_json::from_slice(&m.payload).unwrap();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(p["bytes"].as_str().unwrap())
                .unwrap();
            serde_json::from_slice(&raw).unwrap()
        })
        .collect();
        let r = req(r#"{"messages":[{"role":"user","content":"hi"}]}"#);
        let ours = inner_events(
            &render_stream(&reply(json!({"content": "Hobbits embark."})), &r, &ctx()).unwrap(),
        );
        let kinds = |evs: &[Value]| -> Vec<String> {
            let mut k: Vec<String> = evs
                .iter()
                .map(|e| e["type"].as_str().unwrap().to_string())
                .collect();
            k.dedup();
            k
        };
        assert_eq!(kinds(&ours), kinds(&golden_events));
        // Same keys in the same order as the first event of each kind in the capture.
        for g in &golden_events {
            let o = ours.iter().find(|o| o["type"] == g["type"]).unwrap();
            let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(g), keys(o), "{}", g["type"]);
            if g["type"] == "message_start" {
                assert_eq!(keys(&g["message"]), keys(&o["message"]));
            }
        }
    }
}

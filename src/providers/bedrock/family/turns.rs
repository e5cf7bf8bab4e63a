//! The chat-shaped families besides Anthropic and Nova: Mistral Large's `messages`
//! body (-> `choices[].message`, `stop_reason`), OpenAI's open-weight models (the chat
//! completions body and reply, rendered by `openai::chat`), and Cohere Command R
//! (`message` + `chat_history` -> `text`, `finish_reason`, `tool_calls`).
//!
//! gpt-oss on `InvokeModel` sends its reasoning inside the content, between
//! `<reasoning>` tags, before the answer (the Bedrock model documentation says so);
//! a fixture's `reasoning` is sent that way, and the collapser splits it back out.

use serde_json::{json, Map, Value};

use super::{finish_word, Dialect};
use crate::cassette::model::{Block, ChatReply};
use crate::codec::decode_all;
use crate::codec::sse::SseDecoder;
use crate::providers::bedrock::{compact_args, parsed_args, Tokens};
use crate::providers::common::service::uuid;
use crate::providers::common::{chunk_text, ParseError, PlanBody, RenderContext};
use crate::providers::openai::chat as openai_chat;
use crate::request::{ChatRequest, Endpoint, Message, Role, ToolCallRef};

pub(super) fn parse(
    d: Dialect,
    model: &str,
    stream: bool,
    body: &[u8],
    o: &Map<String, Value>,
) -> Result<ChatRequest, ParseError> {
    let mut req = ChatRequest::new(Endpoint::Chat, body);
    req.model = Some(model.to_string());
    req.stream = stream;
    if d == Dialect::CohereCommand {
        cohere_turns(o, &mut req)?;
        return Ok(req);
    }
    let Some(list) = o.get("messages").and_then(Value::as_array) else {
        return Err(ParseError::bad(
            "missing_messages",
            "Malformed input request: #: required key [messages] not found, please reformat your input and try again.",
        ));
    };
    req.messages = openai_chat::parse_messages(list);
    req.tools = openai_chat::tool_names(o);
    Ok(req)
}

/// Cohere's `preamble`, `chat_history`, `message` and `tool_results`.
fn cohere_turns(o: &Map<String, Value>, req: &mut ChatRequest) -> Result<(), ParseError> {
    let Some(message) = o.get("message").and_then(Value::as_str) else {
        return Err(ParseError::bad(
            "missing_message",
            "Malformed input request: #: required key [message] not found, please reformat your input and try again.",
        ));
    };
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(String::from);
    if let Some(p) = s(o.get("preamble")) {
        req.messages.push(Message::text(Role::System, p));
    }
    for turn in o
        .get("chat_history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = s(turn.get("message"));
        let role = match turn.get("role").and_then(Value::as_str) {
            Some("CHATBOT") => Role::Assistant,
            Some("SYSTEM") => Role::System,
            Some("TOOL") => Role::Tool,
            _ => Role::User,
        };
        let tool_calls = turn
            .get("tool_calls")
            .and_then(Value::as_array)
            .map(|calls| calls.iter().map(cohere_call_ref).collect())
            .unwrap_or_default();
        req.messages.push(Message {
            role,
            text,
            tool_calls,
            tool_call_id: None,
        });
    }
    let results = o.get("tool_results").and_then(Value::as_array);
    if !message.is_empty() || results.is_none() {
        req.messages.push(Message::text(Role::User, message));
    }
    for r in results.into_iter().flatten() {
        let name = r
            .pointer("/call/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let outputs = r.get("outputs").map(Value::to_string).unwrap_or_default();
        req.messages.push(Message::tool_result(name, outputs));
    }
    req.tools = o
        .get("tools")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default();
    Ok(())
}

fn cohere_call_ref(c: &Value) -> ToolCallRef {
    let name = c
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    ToolCallRef {
        id: name.clone(),
        name,
        arguments: c
            .get("parameters")
            .map_or_else(|| "{}".into(), Value::to_string),
    }
}

fn mistral_finish(reply: &ChatReply) -> String {
    match reply.overrides.finish_reason.as_deref() {
        None if !reply.calls().is_empty() => "tool_calls".into(),
        _ => finish_word(reply, &[]),
    }
}

fn cohere_finish(reply: &ChatReply) -> String {
    finish_word(
        reply,
        &[
            ("stop", "COMPLETE"),
            ("tool_calls", "COMPLETE"),
            ("length", "MAX_TOKENS"),
        ],
    )
}

/// Mistral's tool calls: `{id, function: {name, arguments}}` (no `type`).
fn mistral_calls(reply: &ChatReply, ctx: &RenderContext) -> Vec<Value> {
    reply
        .calls()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({"id": openai_chat::call_id(c, i, ctx),
                "function": {"name": c.name, "arguments": compact_args(&c.arguments)}})
        })
        .collect()
}

fn cohere_calls(reply: &ChatReply) -> Vec<Value> {
    reply
        .calls()
        .iter()
        .map(|c| json!({"name": c.name, "parameters": parsed_args(&c.arguments)}))
        .collect()
}

/// The reply as gpt-oss sends it on `InvokeModel`: reasoning folded into the content.
fn with_reasoning_inline(reply: &ChatReply) -> ChatReply {
    let mut r = reply.clone();
    if let Some(reasoning) = r.reasoning.take() {
        let text = format!(
            "<reasoning>{reasoning}</reasoning>{}",
            r.text().unwrap_or_default()
        );
        if r.blocks.is_empty() {
            r.content = Some(text);
        } else {
            r.blocks.insert(
                0,
                Block::Text(format!("<reasoning>{reasoning}</reasoning>")),
            );
        }
    }
    r.reasoning_signature = None;
    r
}

/// The chat history Cohere echoes: the request's turns, then this reply.
fn cohere_history(reply: &ChatReply, req: &ChatRequest) -> Vec<Value> {
    let mut out: Vec<Value> = req
        .messages
        .iter()
        .filter(|m| matches!(m.role, Role::User | Role::Assistant))
        .map(|m| {
            let role = if m.role == Role::User {
                "USER"
            } else {
                "CHATBOT"
            };
            json!({"role": role, "message": m.text.clone().unwrap_or_default()})
        })
        .collect();
    let mut last = json!({"role": "CHATBOT", "message": reply.text().unwrap_or_default()});
    let calls = cohere_calls(reply);
    if !calls.is_empty() {
        last["tool_calls"] = Value::Array(calls);
    }
    out.push(last);
    out
}

fn cohere_json(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> Value {
    let t = Tokens::of(reply, req);
    let mut o = Map::new();
    o.insert("response_id".into(), uuid(ctx, "response").into());
    o.insert("text".into(), reply.text().unwrap_or_default().into());
    o.insert("generation_id".into(), uuid(ctx, "generation").into());
    o.insert(
        "chat_history".into(),
        Value::Array(cohere_history(reply, req)),
    );
    o.insert("finish_reason".into(), cohere_finish(reply).into());
    let calls = cohere_calls(reply);
    if !calls.is_empty() {
        o.insert("tool_calls".into(), Value::Array(calls));
    }
    o.insert(
        "meta".into(),
        json!({"api_version": {"version": "1"},
            "billed_units": {"input_tokens": t.input, "output_tokens": t.output},
            "tokens": {"input_tokens": t.input, "output_tokens": t.output}}),
    );
    Value::Object(o)
}

fn mistral_message(content: &str, calls: Vec<Value>) -> Value {
    let mut m = json!({"role": "assistant", "content": content});
    if !calls.is_empty() {
        m["tool_calls"] = Value::Array(calls);
    }
    m
}

/// The body of a chat completion rendered by `openai::chat` for `req` (streamed or not).
fn openai_plan(
    reply: &ChatReply,
    req: &ChatRequest,
    ctx: &RenderContext,
    stream: bool,
) -> PlanBody {
    let mut req = req.clone();
    req.stream = stream;
    openai_chat::render(&with_reasoning_inline(reply), &req, ctx).body
}

/// The non-streamed reply.
pub(super) fn json(d: Dialect, reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> Value {
    match d {
        Dialect::CohereCommand => cohere_json(reply, req, ctx),
        Dialect::OpenAiChat => match openai_plan(reply, req, ctx, false) {
            PlanBody::Full(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
            _ => Value::Null,
        },
        _ => json!({"choices": [{
            "index": 0,
            "message": mistral_message(&reply.text().unwrap_or_default(), mistral_calls(reply, ctx)),
            "stop_reason": mistral_finish(reply),
        }]}),
    }
}

/// The streamed events.
pub(super) fn stream_events(
    d: Dialect,
    reply: &ChatReply,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> Vec<(Value, bool)> {
    let text = reply.text().unwrap_or_default();
    let mut out = Vec::new();
    match d {
        Dialect::OpenAiChat => {
            let frames = match openai_plan(reply, req, ctx, true) {
                PlanBody::Stream(frames) => frames,
                PlanBody::Full(b) => vec![crate::providers::common::Frame {
                    bytes: b,
                    paced: false,
                }],
            };
            let all: Vec<u8> = frames.iter().flat_map(|f| f.bytes.to_vec()).collect();
            for e in decode_all(&mut SseDecoder::new(), &all).unwrap_or_default() {
                if let Ok(v) = serde_json::from_str::<Value>(&e.data) {
                    let closing = v
                        .pointer("/choices/0/finish_reason")
                        .is_some_and(|f| !f.is_null());
                    out.push((v, !closing));
                }
            }
        }
        Dialect::CohereCommand => {
            out.push((
                json!({"is_finished": false, "event_type": "stream-start",
                    "generation_id": uuid(ctx, "generation")}),
                true,
            ));
            for s in chunk_text(&text, ctx.chunk_size) {
                out.push((
                    json!({"is_finished": false, "event_type": "text-generation", "text": s}),
                    true,
                ));
            }
            let calls = cohere_calls(reply);
            if !calls.is_empty() {
                out.push((
                    json!({"is_finished": false, "event_type": "tool-calls-generation",
                        "text": text, "tool_calls": calls}),
                    true,
                ));
            }
            out.push((
                json!({"is_finished": true, "event_type": "stream-end",
                    "response": cohere_json(reply, req, ctx), "finish_reason": cohere_finish(reply)}),
                false,
            ));
        }
        _ => {
            let choice = |content: &str, calls: Vec<Value>, stop: Value| json!({"choices": [{"index": 0, "message": mistral_message(content, calls), "stop_reason": stop}]});
            for s in chunk_text(&text, ctx.chunk_size) {
                out.push((choice(s, Vec::new(), Value::Null), true));
            }
            let calls = mistral_calls(reply, ctx);
            if !calls.is_empty() {
                out.push((choice("", calls, Value::Null), true));
            }
            out.push((choice("", Vec::new(), mistral_finish(reply).into()), false));
        }
    }
    out
}

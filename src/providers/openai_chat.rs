//! OpenAI Chat Completions (`POST /v1/chat/completions`, and Azure's
//! `/openai/deployments/{id}/chat/completions`): JSON, or SSE ending in `data: [DONE]`.
//!
//! Field order and the always-present nulls (`refusal`, `logprobs`,
//! `system_fingerprint`, `usage: null` on every chunk under `include_usage`) follow real
//! captures of the API, so strict clients and byte-level diffs see what the API sends.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::collapse::Collapsed;
use super::{
    chunk_text, estimate_tokens, json_body, prompt_chars, Frame, ParseError, RenderContext,
    RenderPlan, RequestParts,
};
use crate::codec::decode_all;
use crate::codec::sse::SseDecoder;
use crate::fixtures::model::{Block, ChatReply, ToolCall};
use crate::fixtures::{Fixture, Reply};
use crate::request::{ChatRequest, Endpoint, Message, Role, ToolCallRef};

/// Text of an OpenAI `content` value: a string, or the text parts of an array joined
/// with "". `None` when there is no text at all (null, or only image parts).
pub fn content_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| match p {
                    Value::String(s) => Some(s.as_str()),
                    Value::Object(o) => o.get("text").and_then(|t| t.as_str()),
                    _ => None,
                })
                .collect();
            (!texts.is_empty()).then(|| texts.concat())
        }
        _ => None,
    }
}

/// Parse an OpenAI-chat-shaped message list (also used by Ollama-like surfaces).
pub fn parse_messages(list: &[Value]) -> Vec<Message> {
    let mut out = Vec::with_capacity(list.len());
    for m in list {
        let Some(o) = m.as_object() else { continue };
        let role = match o.get("role").and_then(|r| r.as_str()) {
            Some("system") | Some("developer") => Role::System,
            Some("assistant") => Role::Assistant,
            Some("tool") | Some("function") => Role::Tool,
            _ => Role::User,
        };
        let tool_calls = o
            .get("tool_calls")
            .and_then(|t| t.as_array())
            .map(|calls| {
                calls
                    .iter()
                    .map(|c| ToolCallRef {
                        id: c
                            .get("id")
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string(),
                        name: c
                            .pointer("/function/name")
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string(),
                        arguments: match c.pointer("/function/arguments") {
                            Some(Value::String(s)) => s.clone(),
                            Some(v) => v.to_string(),
                            None => "{}".to_string(),
                        },
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Message {
            role,
            text: content_text(o.get("content")),
            tool_calls,
            tool_call_id: o
                .get("tool_call_id")
                .and_then(|v| v.as_str())
                .map(String::from),
        });
    }
    out
}

/// Names of OpenAI-shaped tools (`tools[].function.name`, or legacy `functions[].name`).
pub fn tool_names(body: &Map<String, Value>) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(tools) = body.get("tools").and_then(|t| t.as_array()) {
        for t in tools {
            if let Some(n) = t
                .pointer("/function/name")
                .or_else(|| t.get("name"))
                .and_then(|n| n.as_str())
            {
                names.push(n.to_string());
            }
        }
    }
    if let Some(fns) = body.get("functions").and_then(|t| t.as_array()) {
        names.extend(
            fns.iter()
                .filter_map(|f| f.get("name").and_then(|n| n.as_str()).map(String::from)),
        );
    }
    names
}

mod skim;

/// Parse a chat completions request: skimmed when it has a common shape, else read
/// through a `Value` (see `providers::skim`).
pub fn parse_request(
    parts: &RequestParts,
    body: &[u8],
    azure_deployment: Option<&str>,
) -> Result<ChatRequest, ParseError> {
    match skim::parse(body, azure_deployment) {
        Some(req) => Ok(req),
        None => parse_by_value(parts, body, azure_deployment),
    }
}

/// Parse a chat completions request through a `Value`: every shape, every error.
fn parse_by_value(
    _parts: &RequestParts,
    body: &[u8],
    azure_deployment: Option<&str>,
) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let Some(messages) = o.get("messages").and_then(|m| m.as_array()) else {
        return Err(ParseError::bad(
            "missing_required_parameter",
            "Missing required parameter: 'messages'.",
        ));
    };
    let mut req = ChatRequest::new(Endpoint::Chat, body);
    req.messages = parse_messages(messages);
    req.model = o
        .get("model")
        .and_then(|m| m.as_str())
        .map(String::from)
        .or_else(|| azure_deployment.map(String::from));
    req.tools = tool_names(&o);
    req.response_format = o
        .get("response_format")
        .and_then(|f| f.get("type"))
        .and_then(|t| t.as_str())
        .map(String::from);
    req.stream = o.get("stream").and_then(|s| s.as_bool()).unwrap_or(false);
    req.hints.include_usage = o
        .get("stream_options")
        .and_then(|s| s.get("include_usage"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    Ok(req)
}

/// OpenAI finish reason for a fixture.
fn finish_reason(reply: &ChatReply, has_tools: bool) -> String {
    match reply.overrides.finish_reason.as_deref() {
        Some(f) => f.to_string(),
        None if has_tools => "tool_calls".to_string(),
        None => "stop".to_string(),
    }
}

struct Envelope {
    id: String,
    created: i64,
    model: String,
    fingerprint: Value,
}

fn envelope(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> Envelope {
    Envelope {
        id: reply
            .overrides
            .id
            .clone()
            .unwrap_or_else(|| ctx.id("chatcmpl-", "id", 29)),
        created: reply.overrides.created.unwrap_or_else(|| ctx.created()),
        model: reply
            .overrides
            .model
            .clone()
            .or_else(|| req.model.clone())
            .unwrap_or_else(|| "gpt-4o".to_string()),
        fingerprint: reply
            .overrides
            .system_fingerprint
            .clone()
            .map(Value::String)
            .unwrap_or(Value::Null),
    }
}

/// The id a tool call is sent with: pinned, or derived from the seed and its position.
pub fn call_id(call: &ToolCall, i: usize, ctx: &RenderContext) -> String {
    call.id
        .clone()
        .unwrap_or_else(|| ctx.id("call_", &format!("call{i}"), 24))
}

fn usage_counts<'a>(
    reply: &'a ChatReply,
    req: &ChatRequest,
    calls: &[&ToolCall],
    text: &str,
) -> UsageCounts<'a> {
    let completion_chars = text.chars().count()
        + calls
            .iter()
            .map(|c| c.name.len() + c.arguments.len())
            .sum::<usize>();
    let o = reply.overrides.usage.as_deref();
    let prompt = o
        .and_then(|u| u.input())
        .unwrap_or_else(|| estimate_tokens(prompt_chars(req)));
    let completion = o
        .and_then(|u| u.output())
        .unwrap_or_else(|| estimate_tokens(completion_chars));
    let total = o
        .and_then(|u| u.total_tokens.or(u.total_token_count))
        .unwrap_or(prompt + completion);
    UsageCounts {
        prompt,
        completion,
        total,
        extra: o.map(|u| &u.extra),
    }
}

fn usage(reply: &ChatReply, req: &ChatRequest, calls: &[&ToolCall], text: &str) -> Value {
    serde_json::to_value(usage_counts(reply, req, calls, text)).unwrap_or(Value::Null)
}

/// Render a fixture as a chat completion (JSON or SSE).
pub fn render(fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let reply = match &fx.reply {
        Reply::Chat(c) => c,
        other => {
            return super::Surface::OpenAiChat {
                azure_deployment: None,
            }
            .error_plan(
                500,
                &format!(
                    "Fixture response of kind {} cannot answer a chat completion ({})",
                    other.kind_name(),
                    fx.origin
                ),
                super::ErrorKind::Internal,
            )
        }
    };
    if req.stream {
        render_stream(reply, req, ctx)
    } else {
        render_json(reply, req, ctx)
    }
}

fn render_json(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let env = envelope(reply, req, ctx);
    let calls = reply.calls();
    let text = reply.text();
    let tool_calls: Vec<WireToolCall> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| WireToolCall {
            id: call_id(c, i, ctx),
            kind: "function",
            function: WireFunction {
                name: &c.name,
                arguments: &c.arguments,
            },
        })
        .collect();
    let body = Completion {
        id: &env.id,
        object: "chat.completion",
        created: env.created,
        model: &env.model,
        choices: [Choice {
            index: 0,
            message: WireMessage {
                role: reply.overrides.role.as_deref().unwrap_or("assistant"),
                content: text.as_deref(),
                reasoning_content: reply.reasoning.as_deref(),
                tool_calls,
                refusal: (),
                annotations: [],
            },
            logprobs: (),
            finish_reason: finish_reason(reply, !calls.is_empty()),
        }],
        usage: usage_counts(reply, req, &calls, text.as_deref().unwrap_or("")),
        system_fingerprint: &env.fingerprint,
    };
    let mut buf = Vec::with_capacity(512);
    put(&mut buf, &body);
    RenderPlan {
        status: 200,
        content_type: "application/json",
        headers: Vec::new(),
        body: super::PlanBody::Full(Bytes::from(buf)),
    }
}

/// A non-streamed chat completion, field for field in the API's order.
///
/// # Design
/// Typed rather than built as a `Value`: an ordered map per object, filled and then
/// serialised, was most of the time a JSON reply took to render. The text is the same
/// as the `Value`'s would be (see the test against the map-built body).
#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: UsageCounts<'a>,
    system_fingerprint: &'a Value,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: WireMessage<'a>,
    logprobs: (),
    finish_reason: String,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'a str,
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireToolCall<'a>>,
    refusal: (),
    annotations: [(); 0],
}

#[derive(Serialize)]
struct WireToolCall<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

/// `usage`: the three counts, then a fixture's extra keys (which never repeat them:
/// the fixture parser keeps those three out of `extra`).
struct UsageCounts<'a> {
    prompt: u64,
    completion: u64,
    total: u64,
    extra: Option<&'a Map<String, Value>>,
}

impl Serialize for UsageCounts<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let extra = self.extra.map_or(0, Map::len);
        let mut m = s.serialize_map(Some(3 + extra))?;
        m.serialize_entry("prompt_tokens", &self.prompt)?;
        m.serialize_entry("completion_tokens", &self.completion)?;
        m.serialize_entry("total_tokens", &self.total)?;
        for (k, v) in self.extra.into_iter().flatten() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// The bytes every chunk of one stream shares, serialised once.
///
/// # Design
/// A stream is a dozen chunks that differ only in `delta` and `finish_reason`.
/// Building each chunk as a `Value` (an ordered map per object) and serialising it was
/// most of the server's time per streamed request, so the envelope is written once and
/// each chunk is `head + delta + tail`: the same bytes the map would give, in the same
/// field order (`id, object, created, model, system_fingerprint, choices[, usage]`).
struct ChunkFrames {
    /// `data: {"id":…,"choices":[{"index":0,"delta":`
    head: Vec<u8>,
    /// `include_usage` adds `"usage":null` to every chunk but the usage one.
    usage_null: bool,
    /// Frames are written here and split off: one allocation per stream, not per chunk.
    buf: BytesMut,
}

/// Serialise into a buffer. Writing to memory cannot fail, and every value here has
/// string keys, the one thing `serde_json` refuses.
fn put(buf: &mut Vec<u8>, v: &impl Serialize) {
    serde_json::to_writer(buf, v).expect("JSON with string keys always serialises to a Vec");
}

/// [`put`] for a `BytesMut`.
fn put_bytes(buf: &mut BytesMut, v: &impl Serialize) {
    serde_json::to_writer(buf.writer(), v)
        .expect("JSON with string keys always serialises to memory");
}

impl ChunkFrames {
    fn new(env: &Envelope, usage_null: bool, chunks: usize) -> ChunkFrames {
        let mut head = Vec::with_capacity(192);
        head.extend_from_slice(b"data: {\"id\":");
        put(&mut head, &env.id);
        head.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        put(&mut head, &env.created);
        head.extend_from_slice(b",\"model\":");
        put(&mut head, &env.model);
        head.extend_from_slice(b",\"system_fingerprint\":");
        put(&mut head, &env.fingerprint);
        head.extend_from_slice(b",\"choices\":[{\"index\":0,\"delta\":");
        let buf = BytesMut::with_capacity((head.len() + 128) * chunks);
        ChunkFrames {
            head,
            usage_null,
            buf,
        }
    }

    fn frame(&mut self, delta: &impl Serialize, finish: Option<&str>) -> Frame {
        let b = &mut self.buf;
        b.extend_from_slice(&self.head);
        put_bytes(b, delta);
        b.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
        put_bytes(b, &finish);
        b.extend_from_slice(b"}]");
        if self.usage_null {
            b.extend_from_slice(b",\"usage\":null");
        }
        b.extend_from_slice(b"}\n\n");
        Frame {
            bytes: b.split().freeze(),
            paced: true,
        }
    }
}

/// The first chunk's delta: `{"role":…,"content":""|null,"refusal":null}`.
#[derive(Serialize)]
struct RoleDelta<'a> {
    role: &'a str,
    content: Option<&'a str>,
    refusal: (),
}

/// The last chunk's delta: `{}`.
#[derive(Serialize)]
struct EmptyDelta {}

/// `{"content": …}`: the delta of almost every chunk, serialised without a map.
#[derive(Serialize)]
struct ContentDelta<'a> {
    content: &'a str,
}

/// `{"reasoning_content": …}`.
#[derive(Serialize)]
struct ReasoningDelta<'a> {
    reasoning_content: &'a str,
}

fn render_stream(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let env = envelope(reply, req, ctx);
    let include_usage = req.hints.include_usage;
    let blocks = reply.ordered_blocks();
    let calls = reply.calls();
    let text = reply.text();
    let tool_only = text.is_none();
    let role = reply.overrides.role.as_deref().unwrap_or("assistant");
    // Chunks: the role, the slices of every text, the finish; tool calls add a few.
    let sliced: usize = [text.as_deref(), reply.reasoning.as_deref()]
        .into_iter()
        .map(|t| t.map_or(0, |t| t.len() / ctx.chunk_size + 1))
        .sum();
    let mut chunks = ChunkFrames::new(&env, include_usage, sliced + 2 + 2 * calls.len());
    let mut frames = Vec::with_capacity(sliced + 4);

    frames.push(chunks.frame(
        &RoleDelta {
            role,
            content: if tool_only { None } else { Some("") },
            refusal: (),
        },
        None,
    ));
    if let Some(r) = &reply.reasoning {
        for s in chunk_text(r, ctx.chunk_size) {
            frames.push(chunks.frame(
                &ReasoningDelta {
                    reasoning_content: s,
                },
                None,
            ));
        }
    }
    let mut tool_index = 0usize;
    for b in &blocks {
        match b {
            Block::Text(t) => {
                for s in chunk_text(t, ctx.chunk_size) {
                    frames.push(chunks.frame(&ContentDelta { content: s }, None));
                }
            }
            Block::ToolCall(c) => {
                let i = tool_index;
                tool_index += 1;
                frames.push(chunks.frame(
                    &json!({"tool_calls": [{"index": i, "id": call_id(c, i, ctx), "type": "function",
                        "function": {"name": c.name, "arguments": ""}}]}),
                    None,
                ));
                for s in chunk_text(&c.arguments, ctx.chunk_size) {
                    frames.push(chunks.frame(
                        &json!({"tool_calls": [{"index": i, "function": {"arguments": s}}]}),
                        None,
                    ));
                }
            }
        }
    }
    let finish = finish_reason(reply, !calls.is_empty());
    frames.push(chunks.frame(&EmptyDelta {}, Some(&finish)));
    if include_usage {
        let mut c = Map::new();
        c.insert("id".into(), env.id.clone().into());
        c.insert("object".into(), "chat.completion.chunk".into());
        c.insert("created".into(), env.created.into());
        c.insert("model".into(), env.model.clone().into());
        c.insert("system_fingerprint".into(), env.fingerprint.clone());
        c.insert("choices".into(), json!([]));
        c.insert(
            "usage".into(),
            usage(reply, req, &calls, text.as_deref().unwrap_or("")),
        );
        frames.push(Frame {
            bytes: sse_data(&Value::Object(c)),
            paced: false,
        });
    }
    frames.push(Frame {
        bytes: Bytes::from_static(b"data: [DONE]\n\n"),
        paced: false,
    });
    RenderPlan::sse(frames)
}

/// `data: <json>\n\n`.
pub fn sse_data(v: &Value) -> Bytes {
    let mut b = Vec::with_capacity(256);
    b.extend_from_slice(b"data: ");
    put(&mut b, v);
    b.extend_from_slice(b"\n\n");
    Bytes::from(b)
}

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
        for ev in events {
            let data = ev.data.trim();
            if data.is_empty() {
                continue;
            }
            if data == "[DONE]" {
                done = true;
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(data) else {
                c.dropped += 1;
                continue;
            };
            read_chunk(&v, &mut c);
        }
        if !done && c.error.is_none() {
            c.truncated = true;
        }
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => read_completion(&v, &mut c),
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
        c.error = Some(super::collapse::error_from_body(
            500,
            json!({ "error": e }).to_string().as_bytes(),
        ));
        return;
    }
    read_usage(v, c);
    let Some(choice) = v.get("choices").and_then(|ch| ch.get(0)) else {
        return;
    };
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

fn read_completion(v: &Value, c: &mut Collapsed) {
    read_usage(v, c);
    let Some(choice) = v.get("choices").and_then(|ch| ch.get(0)) else {
        c.warnings
            .push("upstream chat completion has no choices".into());
        return;
    };
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
    use crate::fixtures::model::parse_entry;
    use crate::providers::PlanBody;
    use std::sync::Arc;

    fn fixture(v: Value) -> Fixture {
        let mut f = Vec::new();
        parse_entry(&v, &Arc::from("t.json"), 0, &mut f).unwrap()
    }

    fn request(body: &str) -> ChatRequest {
        let headers = http::HeaderMap::new();
        let parts = RequestParts {
            path: "/v1/chat/completions",
            query: None,
            headers: &headers,
        };
        parse_request(&parts, body.as_bytes(), None).unwrap()
    }

    fn frames(plan: &RenderPlan) -> Vec<String> {
        match &plan.body {
            PlanBody::Stream(f) => f
                .iter()
                .map(|f| String::from_utf8(f.bytes.to_vec()).unwrap())
                .collect(),
            _ => panic!("not a stream"),
        }
    }

    #[test]
    fn content_arrays_join_text_parts_and_image_only_messages_have_no_text() {
        let r = request(
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"#,
        );
        assert_eq!(r.messages[0].text.as_deref(), Some("ab"));
        assert_eq!(r.messages[1].text, None);
        assert_eq!(r.last_user_text(), Some("ab"));
    }

    #[test]
    fn missing_messages_is_a_400() {
        let headers = http::HeaderMap::new();
        let parts = RequestParts {
            path: "/",
            query: None,
            headers: &headers,
        };
        let e = parse_request(&parts, br#"{"model":"m"}"#, None).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(parse_request(&parts, b"{nope", None).is_err());
    }

    #[test]
    fn stream_ends_with_usage_then_done_when_include_usage_is_set() {
        let fx = fixture(
            json!({"match":{},"response":{"content":"Hello there, world","usage":{"prompt_tokens":5,"completion_tokens":3}}}),
        );
        let req = request(
            r#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#,
        );
        let ctx = RenderContext::new(&fx, &req, 5);
        let f = frames(&render(&fx, &req, &ctx));
        assert_eq!(f.last().unwrap(), "data: [DONE]\n\n");
        let usage: Value =
            serde_json::from_str(f[f.len() - 2].trim_start_matches("data: ").trim()).unwrap();
        assert_eq!(usage["choices"], json!([]));
        assert_eq!(usage["usage"]["total_tokens"], 8);
        let text: String = f[1..f.len() - 3]
            .iter()
            .map(|s| serde_json::from_str::<Value>(s.trim_start_matches("data: ").trim()).unwrap())
            .map(|v| {
                v["choices"][0]["delta"]["content"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(text, "Hello there, world");
        assert!(f[1].contains("\"usage\":null"));
    }

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
    fn stream_chunks_are_compact_json_with_the_api_field_order() {
        let fx = fixture(json!({"match":{},"response":{
            "content":"Quotes \" and \\ and\nnewlines, émoji 🎉 and </script>",
            "reasoning":"think \"hard\"",
            "toolCalls":[{"name":"f","arguments":{"q":"a\"b"}}],
            "systemFingerprint":"fp_1"}}));
        for include_usage in [false, true] {
            let req = request(&format!(
                r#"{{"model":"gpt-4o","stream":true,"stream_options":{{"include_usage":{include_usage}}},"messages":[{{"role":"user","content":"hi"}}]}}"#
            ));
            let f = frames(&render(&fx, &req, &RenderContext::new(&fx, &req, 7)));
            let last = f.len() - if include_usage { 2 } else { 1 };
            for line in &f[..last] {
                let text = line
                    .strip_prefix("data: ")
                    .unwrap()
                    .strip_suffix("\n\n")
                    .unwrap();
                let v: Value = serde_json::from_str(text).unwrap();
                assert_eq!(v.to_string(), text, "compact and canonical");
                let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
                let mut want = vec![
                    "id",
                    "object",
                    "created",
                    "model",
                    "system_fingerprint",
                    "choices",
                ];
                if include_usage {
                    want.push("usage");
                    assert_eq!(v["usage"], Value::Null);
                }
                assert_eq!(keys, want);
                let choice: Vec<&str> = v["choices"][0]
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(|k| k.as_str())
                    .collect();
                assert_eq!(choice, ["index", "delta", "logprobs", "finish_reason"]);
                assert_eq!(v["system_fingerprint"], "fp_1");
            }
        }
    }

    /// The completion as it was built before it was typed: a `Value`, map by map.
    fn completion_as_value(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> Value {
        let env = envelope(reply, req, ctx);
        let calls = reply.calls();
        let text = reply.text();
        let mut message = Map::new();
        message.insert(
            "role".into(),
            reply
                .overrides
                .role
                .clone()
                .unwrap_or_else(|| "assistant".into())
                .into(),
        );
        message.insert(
            "content".into(),
            text.clone().map(Value::String).unwrap_or(Value::Null),
        );
        if let Some(r) = &reply.reasoning {
            message.insert("reasoning_content".into(), r.clone().into());
        }
        if !calls.is_empty() {
            let tc: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    json!({"id": call_id(c, i, ctx), "type": "function",
                           "function": {"name": c.name, "arguments": c.arguments}})
                })
                .collect();
            message.insert("tool_calls".into(), Value::Array(tc));
        }
        message.insert("refusal".into(), Value::Null);
        message.insert("annotations".into(), json!([]));
        let o = reply.overrides.usage.as_ref();
        let completion_chars = text.as_deref().unwrap_or("").chars().count()
            + calls
                .iter()
                .map(|c| c.name.len() + c.arguments.len())
                .sum::<usize>();
        let prompt = o
            .and_then(|u| u.input())
            .unwrap_or_else(|| estimate_tokens(prompt_chars(req)));
        let completion = o
            .and_then(|u| u.output())
            .unwrap_or_else(|| estimate_tokens(completion_chars));
        let total = o
            .and_then(|u| u.total_tokens.or(u.total_token_count))
            .unwrap_or(prompt + completion);
        let mut usage = Map::new();
        usage.insert("prompt_tokens".into(), prompt.into());
        usage.insert("completion_tokens".into(), completion.into());
        usage.insert("total_tokens".into(), total.into());
        if let Some(u) = o {
            for (k, v) in &u.extra {
                usage.insert(k.clone(), v.clone());
            }
        }
        json!({
            "id": env.id,
            "object": "chat.completion",
            "created": env.created,
            "model": env.model,
            "choices": [{
                "index": 0,
                "message": Value::Object(message),
                "logprobs": null,
                "finish_reason": finish_reason(reply, !calls.is_empty()),
            }],
            "usage": Value::Object(usage),
            "system_fingerprint": env.fingerprint,
        })
    }

    #[test]
    fn the_typed_completion_has_the_bytes_of_the_map_built_one() {
        let responses = [
            json!({"content": "Hello"}),
            json!({"content": "Quotes \" and \\ and\nnewlines, émoji 🎉 </script>"}),
            json!({"content": ""}),
            json!({"toolCalls": [{"name": "f", "arguments": {"a": 1}}, {"name": "g", "id": "call_pinned"}]}),
            json!({"content": "both", "toolCalls": [{"name": "f", "arguments": "{\"x\": [1, 2]}"}],
                   "reasoning": "think", "finishReason": "length", "role": "tool",
                   "id": "chatcmpl-pinned", "created": 12, "model": "m-pinned",
                   "systemFingerprint": "fp_9"}),
            json!({"content": "u", "usage": {"prompt_tokens": 5, "cost": 0.25,
                   "completion_tokens_details": {"reasoning_tokens": 2}}}),
            json!({"content": "u", "usage": {"input_tokens": 5, "total_tokens": 99}}),
            json!({"blocks": [{"type": "text", "text": "a"}, {"type": "toolCall", "name": "f"},
                              {"type": "text", "text": "b"}]}),
        ];
        for resp in responses {
            let fx = fixture(json!({"match": {}, "response": resp}));
            let Reply::Chat(reply) = &fx.reply else {
                panic!("not a chat fixture: {resp}")
            };
            for body in [
                r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#,
                r#"{"messages":[{"role":"system","content":"s"},{"role":"user","content":"q"}]}"#,
            ] {
                let req = request(body);
                let ctx = RenderContext::new(&fx, &req, 20);
                let plan = render(&fx, &req, &ctx);
                let PlanBody::Full(bytes) = &plan.body else {
                    panic!("not a JSON reply")
                };
                let want = completion_as_value(reply, &req, &ctx).to_string();
                assert_eq!(std::str::from_utf8(bytes).unwrap(), want, "{resp}");
            }
        }
    }

    #[test]
    fn same_fixture_and_request_render_identical_bytes() {
        let fx = fixture(
            json!({"match":{},"response":{"toolCalls":[{"name":"f","arguments":{"a":1}}]}}),
        );
        let req = request(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#);
        let a = render(&fx, &req, &RenderContext::new(&fx, &req, 20));
        let b = render(&fx, &req, &RenderContext::new(&fx, &req, 20));
        assert_eq!(a, b);
        let other = request(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}"#);
        assert_ne!(a, render(&fx, &other, &RenderContext::new(&fx, &other, 20)));
    }
}

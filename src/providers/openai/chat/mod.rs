//! OpenAI Chat Completions (`POST /v1/chat/completions`, and Azure's
//! `/openai/deployments/{id}/chat/completions`): JSON, or SSE ending in `data: [DONE]`.
//!
//! Field order and the always-present nulls (`refusal`, `logprobs`,
//! `system_fingerprint`, `usage: null` on every chunk under `include_usage`) follow real
//! captures of the API, so strict clients and byte-level diffs see what the API sends.
//!
//! - `skim`: the fast read of common request bodies (the `Value` path is here);
//! - `completion`: the JSON reply; `stream`: the SSE reply;
//! - `collapse`: a recorded reply (SSE or JSON) back into a fixture response;
//! - here: the request's `Value` path, the envelope both replies share.

use serde_json::{Map, Value};

use crate::cassette::model::{ChatReply, ToolCall};
use crate::providers::common::{json_body, ParseError, RenderContext, RenderPlan, RequestParts};
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

/// OpenAI-shaped `tool_calls` (`[{id, function:{name, arguments}}]`), arguments as JSON
/// text whether they came as a string or an object. Cohere v2 uses the same shape.
pub fn tool_call_refs(v: Option<&Value>) -> Vec<ToolCallRef> {
    let Some(calls) = v.and_then(|t| t.as_array()) else {
        return Vec::new();
    };
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
}

/// Parse an OpenAI-chat-shaped message list (also used by Ollama-like surfaces).
pub fn parse_messages(list: &[Value]) -> Vec<Message> {
    let mut out = Vec::with_capacity(list.len());
    for m in list {
        let Some(o) = m.as_object() else { continue };
        let role = match o.get("role").and_then(|r| r.as_str()) {
            Some("system") => Role::System,
            Some("developer") => Role::Developer,
            Some("assistant") => Role::Assistant,
            Some("tool") | Some("function") => Role::Tool,
            _ => Role::User,
        };
        let tool_calls = tool_call_refs(o.get("tool_calls"));
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

mod choices;
pub(crate) mod collapse;
mod completion;
pub mod native;
mod skim;
mod stream;

pub use collapse::collapse;

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
pub(super) fn finish_reason(reply: &ChatReply, has_tools: bool) -> String {
    match reply.overrides.finish_reason.as_deref() {
        Some(f) => f.to_string(),
        None if has_tools => "tool_calls".to_string(),
        None => "stop".to_string(),
    }
}

/// The envelope every chunk or body repeats; only a generated id is made, the rest is
/// borrowed.
pub(super) struct Envelope<'a> {
    id: std::borrow::Cow<'a, str>,
    created: i64,
    model: &'a str,
    /// `system_fingerprint`: `null` unless the fixture pins one.
    fingerprint: Option<&'a str>,
}

pub(super) fn envelope<'a>(
    reply: &'a ChatReply,
    req: &'a ChatRequest,
    ctx: &RenderContext,
) -> Envelope<'a> {
    let o = &reply.overrides;
    Envelope {
        id: match &o.id {
            Some(id) => id.as_str().into(),
            None => ctx.id("chatcmpl-", "id", 29).into(),
        },
        created: o.created.unwrap_or_else(|| ctx.created()),
        model: o
            .model
            .as_deref()
            .or(req.model.as_deref())
            .unwrap_or("gpt-4o"),
        fingerprint: o.system_fingerprint.as_deref(),
    }
}

/// The id a tool call is sent with: pinned, or derived from the seed and its position.
pub fn call_id(call: &ToolCall, i: usize, ctx: &RenderContext) -> String {
    call.id
        .clone()
        .unwrap_or_else(|| ctx.id("call_", &format!("call{i}"), 24))
}

/// Render a chat reply as a chat completion (JSON or SSE).
pub fn render(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let plain = if !reply.choices.is_empty() {
        choices::render(reply, req, ctx)
    } else if req.stream {
        stream::render_stream(reply, req, ctx)
    } else {
        completion::render_json(reply, req, ctx)
    };
    match reply.native_for(native::PROVIDER) {
        Some(n) => native::render(plain, n),
        None => plain,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    use crate::cassette::Fixture;
    use crate::providers::common::PlanBody;
    use serde_json::json;

    pub(super) use crate::testing::fixture;

    /// Render through the provider's verb, as the dispatch does.
    pub(super) fn render_fixture(
        fx: &Fixture,
        req: &ChatRequest,
        ctx: &RenderContext,
    ) -> RenderPlan {
        crate::providers::openai::render(
            &crate::providers::openai::Op::Chat {
                azure_deployment: None,
            },
            fx,
            req,
            ctx,
        )
    }

    pub(super) fn request(body: &str) -> ChatRequest {
        let headers = http::HeaderMap::new();
        let parts = RequestParts {
            path: "/v1/chat/completions",
            query: None,
            headers: &headers,
        };
        parse_request(&parts, body.as_bytes(), None).unwrap()
    }

    pub(super) fn frames(plan: &RenderPlan) -> Vec<String> {
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
    fn same_fixture_and_request_render_identical_bytes() {
        let fx = fixture(
            json!({"match":{},"response":{"toolCalls":[{"name":"f","arguments":{"a":1}}]}}),
        );
        let req = request(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#);
        let a = render_fixture(&fx, &req, &RenderContext::new(&fx, &req, 20));
        let b = render_fixture(&fx, &req, &RenderContext::new(&fx, &req, 20));
        assert_eq!(a, b);
        let other = request(r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}"#);
        assert_ne!(
            a,
            render_fixture(&fx, &other, &RenderContext::new(&fx, &other, 20))
        );
    }
}

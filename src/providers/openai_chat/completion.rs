//! The non-streamed chat completion: typed, field for field in the API's order.
//!
//! # Design
//! Typed rather than built as a `Value`: an ordered map per object, filled and then
//! serialised, was most of the time a JSON reply took to render. The text is the same
//! as the map-built body's (see the test that builds both).

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{call_id, envelope, finish_reason};
use crate::fixtures::model::{ChatReply, ToolCall};
use crate::providers::{estimate_tokens, prompt_chars, PlanBody, RenderContext, RenderPlan};
use crate::request::ChatRequest;

pub(super) fn usage_counts<'a>(
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

pub(super) fn usage(
    reply: &ChatReply,
    req: &ChatRequest,
    calls: &[&ToolCall],
    text: &str,
) -> Value {
    serde_json::to_value(usage_counts(reply, req, calls, text)).unwrap_or(Value::Null)
}

pub(super) fn render_json(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
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
        model: env.model,
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
        system_fingerprint: env.fingerprint,
    };
    let mut buf = Vec::with_capacity(512);
    // Writing to a `Vec` cannot fail, and every map here has string keys.
    serde_json::to_writer(&mut buf, &body)
        .expect("JSON with string keys always serialises to a Vec");
    RenderPlan {
        status: 200,
        content_type: "application/json",
        headers: Vec::new(),
        body: PlanBody::Full(Bytes::from(buf)),
    }
}

/// A non-streamed chat completion.
#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: UsageCounts<'a>,
    system_fingerprint: Option<&'a str>,
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
pub(super) struct UsageCounts<'a> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::Reply;
    use crate::providers::openai_chat::render;
    use crate::providers::openai_chat::tests::{fixture, request};
    use serde_json::json;

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
}

//! The non-streamed chat completion, field for field in the API's order.
//!
//! # Design
//! Written by hand rather than built as a `Value` (an ordered map per object, filled and
//! then serialised, was most of the time a JSON reply took to render) or serialised from
//! typed structs (`serde_json` escapes strings a byte at a time through a table, and a
//! completion is mostly strings). The text is the same as the map-built body's (see the
//! test that builds both).

use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{call_id, envelope, finish_reason};
use crate::cassette::model::{ChatReply, ToolCall};
use crate::providers::common::usage::{call_chars, Counts};
use crate::providers::common::{
    estimate_tokens, json_str, json_value, PlanBody, RenderContext, RenderPlan,
};
use crate::request::ChatRequest;

pub(super) fn usage_counts<'a>(
    reply: &'a ChatReply,
    req: &ChatRequest,
    calls: &[&ToolCall],
    text: &str,
) -> UsageCounts<'a> {
    let o = reply.overrides.usage.as_deref();
    let Counts {
        input: prompt,
        output: completion,
        total,
    } = Counts::of(o, req, || {
        estimate_tokens(text.chars().count() + call_chars(calls))
    });
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
    let usage = usage_counts(reply, req, &calls, text.as_deref().unwrap_or(""));
    let strings = text.as_deref().map_or(0, str::len)
        + reply.reasoning.as_deref().map_or(0, str::len)
        + calls
            .iter()
            .map(|c| 96 + c.name.len() + c.arguments.len())
            .sum::<usize>();
    // Field for field in the API's order: id, object, created, model, choices, usage,
    // system_fingerprint; the message's optional fields only when present.
    let mut b = Vec::with_capacity(400 + strings);
    b.extend_from_slice(br#"{"id":"#);
    json_str(&mut b, &env.id);
    b.extend_from_slice(br#","object":"chat.completion","created":"#);
    json_value(&mut b, &env.created);
    b.extend_from_slice(br#","model":"#);
    json_str(&mut b, env.model);
    b.extend_from_slice(br#","choices":[{"index":0,"message":{"role":"#);
    json_str(
        &mut b,
        reply.overrides.role.as_deref().unwrap_or("assistant"),
    );
    b.extend_from_slice(br#","content":"#);
    match text.as_deref() {
        Some(t) => json_str(&mut b, t),
        None => b.extend_from_slice(b"null"),
    }
    if let Some(r) = reply.reasoning.as_deref() {
        b.extend_from_slice(br#","reasoning_content":"#);
        json_str(&mut b, r);
    }
    if !calls.is_empty() {
        b.extend_from_slice(br#","tool_calls":["#);
        for (i, c) in calls.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            b.extend_from_slice(br#"{"id":"#);
            json_str(&mut b, &call_id(c, i, ctx));
            b.extend_from_slice(br#","type":"function","function":{"name":"#);
            json_str(&mut b, &c.name);
            b.extend_from_slice(br#","arguments":"#);
            json_str(&mut b, &c.arguments);
            b.extend_from_slice(b"}}");
        }
        b.push(b']');
    }
    b.extend_from_slice(br#","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"#);
    json_str(&mut b, &finish_reason(reply, !calls.is_empty()));
    b.extend_from_slice(br#"}],"usage":"#);
    usage.write(&mut b);
    b.extend_from_slice(br#","system_fingerprint":"#);
    match env.fingerprint {
        Some(f) => json_str(&mut b, f),
        None => b.extend_from_slice(b"null"),
    }
    b.push(b'}');
    RenderPlan {
        status: 200,
        content_type: "application/json",
        headers: Vec::new(),
        body: PlanBody::Full(Bytes::from(b)),
    }
}

/// `usage`: the three counts, then a fixture's extra keys (which never repeat them:
/// the fixture parser keeps those three out of `extra`).
pub(super) struct UsageCounts<'a> {
    prompt: u64,
    completion: u64,
    total: u64,
    extra: Option<&'a Map<String, Value>>,
}

impl UsageCounts<'_> {
    /// Append the object: by hand for the three counts alone, as `serde_json` writes
    /// them (see the tests), through `serde_json` when a fixture adds keys.
    fn write(&self, b: &mut Vec<u8>) {
        if self.extra.is_some_and(|e| !e.is_empty()) {
            return json_value(b, self);
        }
        b.extend_from_slice(br#"{"prompt_tokens":"#);
        json_value(b, &self.prompt);
        b.extend_from_slice(br#","completion_tokens":"#);
        json_value(b, &self.completion);
        b.extend_from_slice(br#","total_tokens":"#);
        json_value(b, &self.total);
        b.push(b'}');
    }
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
    use crate::cassette::Reply;
    use crate::providers::openai::chat::tests::{fixture, render_fixture, request};
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
        let o = reply.overrides.usage.as_deref();
        let Counts {
            input: prompt,
            output: completion,
            total,
        } = Counts::of(o, req, || {
            estimate_tokens(text.as_deref().unwrap_or("").chars().count() + call_chars(&calls))
        });
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
    fn the_written_completion_has_the_bytes_of_the_map_built_one() {
        let responses = [
            json!({"content": "Hello"}),
            json!({"content": "Quotes \" and \\ and\nnewlines, émoji 🎉 </script>"}),
            json!({"content": "a control \u{1} char", "systemFingerprint": "fp \"q\""}),
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
                let plan = render_fixture(&fx, &req, &ctx);
                let PlanBody::Full(bytes) = &plan.body else {
                    panic!("not a JSON reply")
                };
                let want = completion_as_value(reply, &req, &ctx).to_string();
                assert_eq!(std::str::from_utf8(bytes).unwrap(), want, "{resp}");
            }
        }
    }
}

//! A reply with several choices (`n > 1`, the fixture's `choices`): each choice is
//! rendered as the one-choice reply it would be on its own, then the renders are put
//! together as the API sends them: one completion whose `choices` lists each with its
//! `index`; or one stream in which every chunk carries its choice's `index`, the
//! choices one after the other, then the usage chunk and `[DONE]` once.
//!
//! # Design
//! Composed from the one-choice renderers rather than written again: the hand-written
//! fast renderers stay the only definition of a choice's wire form, and `n > 1` is rare
//! enough that re-reading their output as JSON costs nothing that matters.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::{completion, stream};
use crate::cassette::model::{ChatReply, Overrides};
use crate::providers::common::{json_text, Frame, PlanBody, RenderContext, RenderPlan};
use crate::request::ChatRequest;

/// Choice `i` of `reply` as a reply of its own: its content, with the envelope (id,
/// model, created, usage) of the whole reply.
fn choice(reply: &ChatReply, i: usize) -> ChatReply {
    let mut c = if i == 0 {
        reply.clone()
    } else {
        reply.choices[i - 1].clone()
    };
    c.choices.clear();
    if i > 0 {
        let mut o: Overrides = (*reply.overrides).clone();
        o.finish_reason = c.overrides.finish_reason.clone();
        c.overrides = Arc::new(o);
    }
    c
}

/// Render every choice of `reply` (which has [`ChatReply::choices`]).
pub(super) fn render(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let n = reply.choices.len() + 1;
    let mut ctx = ctx.clone();
    // Each choice's frames are re-read one by one.
    ctx.whole = false;
    if req.stream {
        render_stream(reply, req, &ctx, n)
    } else {
        render_json(reply, req, &ctx, n)
    }
}

fn render_json(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext, n: usize) -> RenderPlan {
    let mut whole: Option<Value> = None;
    let mut completion_tokens = 0;
    for i in 0..n {
        let plan = completion::render_json(&choice(reply, i), req, ctx);
        let PlanBody::Full(b) = plan.body else {
            return plan;
        };
        // The renderer writes valid JSON; a failure here would be a renderer bug.
        let Ok(mut v) = serde_json::from_slice::<Value>(&b) else {
            continue;
        };
        completion_tokens += v
            .pointer("/usage/completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let Some(mut first) = v
            .get_mut("choices")
            .and_then(Value::as_array_mut)
            .and_then(|a| a.pop())
        else {
            continue;
        };
        first["index"] = i.into();
        match &mut whole {
            None => {
                v["choices"] = Value::Array(vec![first]);
                whole = Some(v);
            }
            Some(w) => {
                if let Some(a) = w.get_mut("choices").and_then(Value::as_array_mut) {
                    a.push(first);
                }
            }
        }
    }
    let mut v = whole.unwrap_or(Value::Null);
    // Unless the fixture pins usage, every choice's completion counts.
    if reply.overrides.usage.is_none() {
        if let Some(u) = v.get_mut("usage").filter(|u| u.is_object()) {
            let prompt = u["prompt_tokens"].as_u64().unwrap_or(0);
            u["completion_tokens"] = completion_tokens.into();
            u["total_tokens"] = (prompt + completion_tokens).into();
        }
    }
    RenderPlan::json(200, &v)
}

fn render_stream(
    reply: &ChatReply,
    req: &ChatRequest,
    ctx: &RenderContext,
    n: usize,
) -> RenderPlan {
    let mut frames = Vec::new();
    let mut tail: Vec<Frame> = Vec::new();
    for i in 0..n {
        let plan = stream::render_stream(&choice(reply, i), req, ctx);
        let PlanBody::Stream(fs) = plan.body else {
            return plan;
        };
        for f in fs {
            let text = String::from_utf8_lossy(&f.bytes);
            let data = text.trim().strip_prefix("data:").map(str::trim);
            let Some(mut v) = data.and_then(|d| serde_json::from_str::<Value>(d).ok()) else {
                // `[DONE]`: once, at the very end.
                if i == n - 1 {
                    tail.push(f);
                }
                continue;
            };
            let Some(list) = v.get_mut("choices").and_then(Value::as_array_mut) else {
                continue;
            };
            if list.is_empty() {
                // The usage chunk: the last choice's, which covers the whole reply.
                if i == n - 1 {
                    tail.insert(0, f);
                }
                continue;
            }
            for c in list {
                c["index"] = i.into();
            }
            let mut b = b"data: ".to_vec();
            b.extend_from_slice(json_text(&v).as_bytes());
            b.extend_from_slice(b"\n\n");
            frames.push(Frame {
                bytes: Bytes::from(b),
                paced: f.paced,
            });
        }
    }
    frames.extend(tail);
    RenderPlan::sse(frames)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fixture, frames, render_fixture, request};
    use crate::providers::common::RenderContext;
    use serde_json::{json, Value};

    fn two_choices() -> crate::cassette::Fixture {
        fixture(json!({"match": {"userMessage": "hi"}, "response": {
        "content": "Hello!", "choices": [
            {"content": "Hello!"},
            {"toolCalls": [{"name": "wave", "arguments": "{\"hand\":\"left\"}"}]}
        ]}}))
    }

    #[test]
    fn a_completion_lists_every_choice_with_its_index() {
        let req =
            request(r#"{"model":"gpt-4o","n":2,"messages":[{"role":"user","content":"hi"}]}"#);
        let fx = two_choices();
        let plan = render_fixture(&fx, &req, &RenderContext::new(&fx, &req, 5));
        let crate::providers::common::PlanBody::Full(b) = &plan.body else {
            panic!("not whole");
        };
        let v: Value = serde_json::from_slice(b).unwrap();
        let choices = v["choices"].as_array().unwrap();
        assert_eq!(choices.len(), 2);
        assert_eq!(choices[0]["index"], 0);
        assert_eq!(choices[0]["message"]["content"], "Hello!");
        assert_eq!(choices[0]["finish_reason"], "stop");
        assert_eq!(choices[1]["index"], 1);
        assert_eq!(
            choices[1]["message"]["tool_calls"][0]["function"]["name"],
            "wave"
        );
        assert_eq!(choices[1]["finish_reason"], "tool_calls");
    }

    #[test]
    fn a_stream_tags_each_chunk_with_its_choice_and_ends_once() {
        let req = request(
            r#"{"model":"gpt-4o","n":2,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#,
        );
        let fx = two_choices();
        let out = frames(&render_fixture(
            &fx,
            &req,
            &RenderContext::new(&fx, &req, 5),
        ));
        assert_eq!(out.last().unwrap().trim(), "data: [DONE]");
        assert_eq!(out.iter().filter(|f| f.contains("[DONE]")).count(), 1);
        let chunks: Vec<Value> = out
            .iter()
            .filter_map(|f| serde_json::from_str(f.trim().strip_prefix("data: ")?).ok())
            .collect();
        let usage: Vec<&Value> = chunks
            .iter()
            .filter(|c| c["choices"] == json!([]))
            .collect();
        assert_eq!(usage.len(), 1);
        let mut text = [String::new(), String::new()];
        let mut args = String::new();
        for c in &chunks {
            for ch in c["choices"].as_array().unwrap() {
                let i = ch["index"].as_u64().unwrap() as usize;
                if let Some(t) = ch["delta"]["content"].as_str() {
                    text[i].push_str(t);
                }
                if let Some(a) = ch
                    .pointer("/delta/tool_calls/0/function/arguments")
                    .and_then(Value::as_str)
                {
                    assert_eq!(i, 1);
                    args.push_str(a);
                }
            }
        }
        assert_eq!(text[0], "Hello!");
        assert_eq!(text[1], "");
        assert_eq!(args, "{\"hand\":\"left\"}");
    }
}

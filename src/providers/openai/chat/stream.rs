//! The streamed chat completion: `chat.completion.chunk` events, then an optional usage
//! chunk, then `data: [DONE]`.

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::completion::usage;
use super::{call_id, envelope, finish_reason, Envelope};
use crate::cassette::model::{Block, ChatReply};
use crate::providers::common::{
    chunk_text, json_str, json_value, FrameWriter, RenderContext, RenderPlan,
};
use crate::request::ChatRequest;

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
    /// The frames so far.
    out: FrameWriter,
}

impl ChunkFrames {
    fn new(env: &Envelope, usage_null: bool, chunks: usize, whole: bool) -> ChunkFrames {
        let mut head = Vec::with_capacity(192);
        head.extend_from_slice(b"data: {\"id\":");
        json_str(&mut head, &env.id);
        head.extend_from_slice(b",\"object\":\"chat.completion.chunk\",\"created\":");
        json_value(&mut head, &env.created);
        head.extend_from_slice(b",\"model\":");
        json_str(&mut head, env.model);
        head.extend_from_slice(b",\"system_fingerprint\":");
        match env.fingerprint {
            Some(f) => json_str(&mut head, f),
            None => head.extend_from_slice(b"null"),
        }
        head.extend_from_slice(b",\"choices\":[{\"index\":0,\"delta\":");
        let out = FrameWriter::with_capacity((head.len() + 128) * chunks, chunks + 2).whole(whole);
        ChunkFrames {
            head,
            usage_null,
            out,
        }
    }

    fn frame(&mut self, delta: &impl Serialize, finish: Option<&str>) {
        self.out.buf().extend_from_slice(&self.head);
        self.out.json(delta);
        self.close(finish);
    }

    /// A `{"content": …}` chunk, most of any stream: the delta is written by hand, the
    /// bytes `ContentDelta` serialises to (see the tests).
    fn content(&mut self, text: &str) {
        self.out.buf().extend_from_slice(&self.head);
        self.out.buf().extend_from_slice(br#"{"content":"#);
        self.out.str(text);
        self.out.buf().push(b'}');
        self.close(None);
    }

    fn close(&mut self, finish: Option<&str>) {
        let b = self.out.buf();
        b.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":");
        match finish {
            Some(f) => json_str(b, f),
            None => b.extend_from_slice(b"null"),
        }
        b.extend_from_slice(b"}]");
        if self.usage_null {
            b.extend_from_slice(b",\"usage\":null");
        }
        b.extend_from_slice(b"}\n\n");
        self.out.cut(true);
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

/// `{"content": …}`: what [`ChunkFrames::content`] writes by hand.
#[cfg(test)]
#[derive(Serialize)]
struct ContentDelta<'a> {
    content: &'a str,
}

/// `{"reasoning_content": …}`.
#[derive(Serialize)]
struct ReasoningDelta<'a> {
    reasoning_content: &'a str,
}

pub(super) fn render_stream(
    reply: &ChatReply,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> RenderPlan {
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
    let mut chunks = ChunkFrames::new(&env, include_usage, sliced + 2 + 2 * calls.len(), ctx.whole);

    chunks.frame(
        &RoleDelta {
            role,
            content: if tool_only { None } else { Some("") },
            refusal: (),
        },
        None,
    );
    if let Some(r) = &reply.reasoning {
        for s in chunk_text(r, ctx.chunk_size) {
            chunks.frame(
                &ReasoningDelta {
                    reasoning_content: s,
                },
                None,
            );
        }
    }
    let mut tool_index = 0usize;
    for b in &blocks {
        match b {
            Block::Text(t) => {
                for s in chunk_text(t, ctx.chunk_size) {
                    chunks.content(s);
                }
            }
            Block::ToolCall(c) => {
                let i = tool_index;
                tool_index += 1;
                chunks.frame(
                    &json!({"tool_calls": [{"index": i, "id": call_id(c, i, ctx), "type": "function",
                        "function": {"name": c.name, "arguments": ""}}]}),
                    None,
                );
                for s in chunk_text(&c.arguments, ctx.chunk_size) {
                    chunks.frame(
                        &json!({"tool_calls": [{"index": i, "function": {"arguments": s}}]}),
                        None,
                    );
                }
            }
        }
    }
    let finish = finish_reason(reply, !calls.is_empty());
    chunks.frame(&EmptyDelta {}, Some(&finish));
    if include_usage {
        let mut c = Map::new();
        c.insert("id".into(), env.id.as_ref().into());
        c.insert("object".into(), "chat.completion.chunk".into());
        c.insert("created".into(), env.created.into());
        c.insert("model".into(), env.model.into());
        c.insert("system_fingerprint".into(), env.fingerprint.into());
        c.insert("choices".into(), json!([]));
        c.insert(
            "usage".into(),
            usage(reply, req, &calls, text.as_deref().unwrap_or("")),
        );
        // The usage chunk and `[DONE]` go out at once, whatever the pacing.
        chunks.out.buf().extend_from_slice(b"data: ");
        chunks.out.json(&Value::Object(c));
        chunks.out.buf().extend_from_slice(b"\n\n");
        chunks.out.cut(false);
    }
    chunks.out.buf().extend_from_slice(b"data: [DONE]\n\n");
    chunks.out.cut(false);
    RenderPlan::sse(chunks.out.into_frames())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::openai::chat::tests::{fixture, frames, render_fixture, request};
    use bytes::Bytes;
    use serde_json::json;

    #[test]
    fn stream_ends_with_usage_then_done_when_include_usage_is_set() {
        let fx = fixture(
            json!({"match":{},"response":{"content":"Hello there, world","usage":{"prompt_tokens":5,"completion_tokens":3}}}),
        );
        let req = request(
            r#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#,
        );
        let ctx = RenderContext::new(&fx, &req, 5);
        let f = frames(&render_fixture(&fx, &req, &ctx));
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
            let f = frames(&render_fixture(
                &fx,
                &req,
                &RenderContext::new(&fx, &req, 7),
            ));
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

    #[test]
    fn a_whole_stream_is_the_frames_of_a_cut_one_back_to_back() {
        let fx = fixture(json!({"match": {}, "response": {
            "content": "Hello there, world", "reasoning": "think",
            "toolCalls": [{"name": "f", "arguments": {"a": 1}}]}}));
        let req = request(
            r#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#,
        );
        let cut = RenderContext::new(&fx, &req, 5);
        let whole = RenderContext {
            whole: true,
            ..cut.clone()
        };
        let cut = frames(&render_fixture(&fx, &req, &cut));
        let whole = frames(&render_fixture(&fx, &req, &whole));
        assert!(cut.len() > 1);
        assert_eq!(whole, vec![cut.concat()]);
    }

    #[test]
    fn content_chunks_written_by_hand_match_their_derived_serialisation() {
        let env = Envelope {
            id: "chatcmpl-1".into(),
            created: 1,
            model: "m",
            fingerprint: None,
        };
        for usage_null in [false, true] {
            let mut by_hand = ChunkFrames::new(&env, usage_null, 2, false);
            let mut derived = ChunkFrames::new(&env, usage_null, 2, false);
            for text in ["plain", "esc \" \\ \n\t é 🎉", ""] {
                by_hand.content(text);
                derived.frame(&ContentDelta { content: text }, None);
            }
            let a: Vec<Bytes> = by_hand
                .out
                .into_frames()
                .into_iter()
                .map(|f| f.bytes)
                .collect();
            let b: Vec<Bytes> = derived
                .out
                .into_frames()
                .into_iter()
                .map(|f| f.bytes)
                .collect();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn the_shared_head_escapes_what_it_copies() {
        let env = Envelope {
            id: "chatcmpl-\"x\"".into(),
            created: -3,
            model: "m\\1\n",
            fingerprint: Some("fp \u{1}"),
        };
        let mut chunks = ChunkFrames::new(&env, false, 1, false);
        chunks.content("c");
        let frame = chunks.out.into_frames().remove(0).bytes;
        let text = std::str::from_utf8(&frame).unwrap();
        let v: Value = serde_json::from_str(text.strip_prefix("data: ").unwrap().trim()).unwrap();
        assert_eq!(v["id"], "chatcmpl-\"x\"");
        assert_eq!(v["created"], -3);
        assert_eq!(v["model"], "m\\1\n");
        assert_eq!(v["system_fingerprint"], "fp \u{1}");
        assert_eq!(v["choices"][0]["delta"]["content"], "c");
        assert_eq!(v["choices"][0]["finish_reason"], Value::Null);
    }
}

//! Reading a recorded Gemini or Vertex reply back into a fixture: `generateContent` JSON,
//! `streamGenerateContent` as `alt=sse` SSE or as the streamed JSON array Google sends
//! without `alt=sse`, and `embedContent` / `batchEmbedContents` vectors.
//!
//! Every streamed event and array element is a whole `GenerateContentResponse`; only
//! `candidates[0]` is read. Parts: `text` becomes content, `thought: true` text becomes
//! reasoning, `functionCall` becomes one complete tool call (Google never splits
//! arguments; `args` is serialised, `id` kept when sent), and the last `thoughtSignature`
//! is kept. Usage is `usageMetadata.{promptTokenCount, candidatesTokenCount}` from the
//! last response that has it (mid-stream chunks report the prompt only).
//!
//! Finish reasons: `STOP` is left unset so the fixture default applies (`stop`, or
//! `tool_calls` for a function-call turn: Google ends those with `STOP` too),
//! `MAX_TOKENS` is `length`, `SAFETY` is `content_filter`, and any other value is kept
//! as Google spelled it so a Gemini replay sends it back unchanged.
//!
//! Parts beyond text, thoughts and calls (code execution, `inlineData`, ...), signatures
//! on their own parts and the candidate's metadata are the native layer
//! (`gemini::native`).
//!
//! Not here: non-2xx replies (`Surface::collapse` turns those into error fixtures), and
//! Vertex `:predict`, which is not routed.

use serde_json::{json, Value};

use super::Op;
use crate::codec::decode_all;
use crate::codec::sse::SseDecoder;
use crate::providers::common::collapse::{error_from_body, Collapsed};

/// Read a recorded reply of a Gemini or Vertex surface.
pub(super) fn collapse(op: &Op, content_type: &str, body: &[u8]) -> Collapsed {
    match op {
        Op::Embed { .. } => collapse_embed(body),
        // The media operations are read by their own modules (see `gemini::collapse`).
        _ => {
            let mut c = collapse_generate(content_type, body);
            crate::providers::common::collapse::pin_envelope(
                &mut c,
                content_type,
                body,
                &["/responseId"],
                &[],
                &["/modelVersion"],
            );
            c
        }
    }
}

/// `generateContent` / `streamGenerateContent` in any of their three framings.
fn collapse_generate(content_type: &str, body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    let mut read = Reader::default();
    let mut seen: Vec<Value> = Vec::new();
    if content_type.to_ascii_lowercase().contains("event-stream") {
        match decode_all(&mut SseDecoder::new(), body) {
            Ok(events) => {
                for ev in events {
                    let data = ev.data.trim();
                    if data.is_empty() || data == "[DONE]" {
                        continue;
                    }
                    match serde_json::from_str::<Value>(data) {
                        Ok(v) => {
                            read.response(&v, &mut c);
                            seen.push(v);
                        }
                        Err(_) => c.dropped += 1,
                    }
                }
            }
            Err(e) => c.warnings.push(format!("SSE framing error: {e}")),
        }
        read.finish_stream(&mut c);
    } else if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        // The stream without `alt=sse`: one JSON array, element by element.
        let (items, closed) = array_items(body);
        for v in &items {
            read.response(v, &mut c);
        }
        seen = items;
        if !closed {
            c.truncated = true;
        }
        read.finish_stream(&mut c);
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                read.response(&v, &mut c);
                seen.push(v);
            }
            Err(e) => c.warnings.push(format!("upstream body is not JSON: {e}")),
        }
    }
    if c.error.is_none() {
        c.native = super::native::native_of(&seen);
        if c.native.is_some() {
            // The parts it could not name are in the items now.
            read.skipped.clear();
        }
    }
    read.finish(&mut c);
    c
}

/// What one reply taught us beyond the [`Collapsed`] fields.
#[derive(Default)]
pub(super) struct Reader {
    /// A `finishReason` arrived (a stream without one was cut short).
    finished: bool,
    /// Part kinds we cannot record, for one warning each.
    skipped: Vec<String>,
}

impl Reader {
    /// One `GenerateContentResponse` (or an error object in its place).
    pub(super) fn response(&mut self, v: &Value, c: &mut Collapsed) {
        if let Some(e) = v.get("error").filter(|e| e.is_object()) {
            let status = e
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (400..=599).contains(s))
                .unwrap_or(500);
            c.error = Some(error_from_body(
                status,
                json!({ "error": e }).to_string().as_bytes(),
            ));
            self.finished = true;
            return;
        }
        if let Some(u) = v.get("usageMetadata").filter(|u| u.is_object()) {
            let count = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
            c.usage = Some((count("promptTokenCount"), count("candidatesTokenCount")));
        }
        let Some(cand) = v.pointer("/candidates/0") else {
            // A prompt blocked before generation has feedback and no candidates.
            if let Some(reason) = v
                .pointer("/promptFeedback/blockReason")
                .and_then(Value::as_str)
            {
                c.finish_reason = Some("content_filter".into());
                c.warnings
                    .push(format!("upstream blocked the prompt: {reason}"));
                self.finished = true;
            }
            return;
        };
        for part in cand
            .pointer("/content/parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.part(part, c);
        }
        if let Some(f) = cand.get("finishReason").and_then(Value::as_str) {
            self.finished = true;
            c.finish_reason = match f {
                "STOP" => None,
                "MAX_TOKENS" => Some("length".into()),
                "SAFETY" => Some("content_filter".into()),
                other => Some(other.to_string()),
            };
        }
    }

    fn part(&mut self, part: &Value, c: &mut Collapsed) {
        if let Some(s) = part
            .get("thoughtSignature")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            c.signature = Some(s.to_string());
        }
        if let Some(fc) = part.get("functionCall") {
            let args = match fc.get("args") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => "{}".to_string(),
                Some(v) => v.to_string(),
            };
            c.push_call(
                fc.get("id").and_then(Value::as_str).map(String::from),
                fc.get("name").and_then(Value::as_str).unwrap_or(""),
                args,
            );
            return;
        }
        if let Some(t) = part.get("text").and_then(Value::as_str) {
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                c.push_reasoning(t);
            } else {
                c.push_text(t);
            }
            return;
        }
        let kind = part
            .as_object()
            .and_then(|o| {
                o.keys()
                    .find(|k| *k != "thoughtSignature" && *k != "thought")
            })
            .cloned();
        if let Some(kind) = kind {
            if !self.skipped.contains(&kind) {
                self.skipped.push(kind);
            }
        }
    }

    /// A stream that never sent `finishReason` (nor an error) was cut short.
    fn finish_stream(&self, c: &mut Collapsed) {
        if !self.finished {
            c.truncated = true;
        }
    }

    pub(super) fn finish(self, c: &mut Collapsed) {
        for kind in self.skipped {
            c.warnings
                .push(format!("Gemini `{kind}` parts are not recorded"));
        }
    }
}

/// The elements of a JSON array read one at a time, so an array cut mid-way keeps the
/// elements that arrived whole. Returns them and whether the closing `]` was seen.
fn array_items(body: &[u8]) -> (Vec<Value>, bool) {
    let skip_ws = |s: &[u8]| -> usize { s.iter().take_while(|b| b.is_ascii_whitespace()).count() };
    let mut items = Vec::new();
    let mut rest = &body[skip_ws(body)..];
    let Some(after) = rest.strip_prefix(b"[") else {
        return (items, false);
    };
    rest = after;
    loop {
        rest = &rest[skip_ws(rest)..];
        match rest.first() {
            None => return (items, false),
            Some(b']') => return (items, true),
            Some(b',') => {
                rest = &rest[1..];
                continue;
            }
            Some(_) => {}
        }
        let mut it = serde_json::Deserializer::from_slice(rest).into_iter::<Value>();
        match it.next() {
            Some(Ok(v)) => {
                let used = it.byte_offset();
                items.push(v);
                rest = &rest[used..];
            }
            // A cut or broken element: nothing after it can be trusted.
            Some(Err(_)) | None => return (items, false),
        }
    }
}

/// `{embedding: {values}}` or `{embeddings: [{values}, …]}` (the first vector).
fn collapse_embed(body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let values = v
        .pointer("/embedding/values")
        .or_else(|| v.pointer("/embeddings/0/values"))
        .and_then(Value::as_array);
    match values {
        Some(a) => c.embedding = Some(a.iter().filter_map(Value::as_f64).collect()),
        None => c.warnings.push(
            "upstream Gemini embedding body has no embedding.values or embeddings[0].values".into(),
        ),
    }
    if c.embedding.is_some() && v["embeddings"].as_array().is_some_and(|d| d.len() > 1) {
        c.native =
            crate::providers::common::native::embedding_layer(super::native::PROVIDER, &v, &[]);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::super::Op;
    use super::*;
    use crate::providers::Surface;
    use crate::testing::{collapsed_fixture as fixture_of, golden};

    fn generate() -> Surface {
        Surface::Gemini(Op::Generate {
            model: "gemini-2.5-flash".into(),
            stream: true,
            vertex: false,
        })
    }

    /// The text and thoughts of every `GenerateContentResponse` in a list, joined.
    fn texts(items: &[Value]) -> (String, String) {
        let (mut text, mut thought) = (String::new(), String::new());
        for v in items {
            for p in v["candidates"][0]["content"]["parts"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if let Some(t) = p["text"].as_str() {
                    if p["thought"] == true {
                        thought.push_str(t);
                    } else {
                        text.push_str(t);
                    }
                }
            }
        }
        (text, thought)
    }

    fn sse_items(name: &str) -> Vec<Value> {
        decode_all(&mut SseDecoder::new(), &golden(name))
            .unwrap()
            .iter()
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect()
    }

    #[test]
    fn sse_streams_collapse_to_their_full_text_thoughts_and_final_usage() {
        for (name, usage) in [
            ("gemini/stream-generate-content-sse-text.sse", (13, 8)),
            ("gemini/stream-generate-content-sse-thoughts.sse", (34, 469)),
            ("vertex/stream-generate-content-sse.sse", (5, 1)),
        ] {
            let (c, r) = fixture_of(&generate(), "text/event-stream", name);
            let (text, thought) = texts(&sse_items(name));
            assert!(!text.is_empty(), "{name}");
            assert_eq!(r["content"], text, "{name}");
            assert_eq!(c.reasoning, thought, "{name}");
            // The last chunk's counts: earlier ones report the prompt only.
            assert_eq!(c.usage, Some(usage), "{name}");
            assert!(!c.truncated && c.dropped == 0, "{name}");
            assert!(r.get("finishReason").is_none(), "{name}");
        }
        let (c, r) = fixture_of(
            &generate(),
            "text/event-stream",
            "gemini/stream-generate-content-sse-thoughts.sse",
        );
        assert!(c.reasoning.starts_with("**Clarifying User Goals**"));
        assert_eq!(r["reasoning"], c.reasoning);
    }

    #[test]
    fn a_streamed_function_call_is_one_complete_call_with_tool_calls_as_finish() {
        let (c, r) = fixture_of(
            &generate(),
            "text/event-stream",
            "gemini/stream-generate-content-sse-function-call.sse",
        );
        assert_eq!(
            r["toolCalls"],
            json!([{"name": "get_country", "arguments": "{}"}])
        );
        assert!(r.get("content").is_none());
        assert!(
            r.get("finishReason").is_none(),
            "STOP after a call is tool_calls"
        );
        assert_eq!(c.usage, Some((29, 10)));
        assert!(c.signature.as_deref().unwrap().starts_with("EpwICpkI"));
    }

    #[test]
    fn json_array_streams_collapse_element_by_element() {
        let ct = "application/json; charset=UTF-8";
        let name = "gemini/stream-generate-content-json-array-text.json";
        let (c, r) = fixture_of(&generate(), ct, name);
        let items: Vec<Value> = serde_json::from_slice(&golden(name)).unwrap();
        let (text, thought) = texts(&items);
        assert_eq!(r["content"], "Scoop");
        assert_eq!(text, "Scoop");
        assert_eq!(c.reasoning, thought);
        assert!(c.reasoning.starts_with("**Considering the Constraint**"));
        assert!(!c.truncated);
        assert_eq!(c.usage, Some((11, 2)));

        let (c, r) = fixture_of(
            &generate(),
            ct,
            "gemini/stream-generate-content-json-array-function-call.json",
        );
        assert_eq!(
            r["toolCalls"],
            json!([{"name": "pelican_name_generator", "arguments": "{}"}])
        );
        assert!(r["reasoning"]
            .as_str()
            .unwrap()
            .starts_with("**Generating Pelican Names**"));
        assert!(r.get("finishReason").is_none());
        assert_eq!(c.usage, Some((32, 12)));
    }

    #[test]
    fn a_json_array_cut_mid_element_keeps_the_whole_elements_and_is_marked_truncated() {
        let body = golden("gemini/stream-generate-content-json-array-text.json");
        let cut = String::from_utf8_lossy(&body).find("Scoop").unwrap() + 2;
        let c = generate().collapse(200, "application/json", &body[..cut]);
        assert!(c.truncated);
        assert!(c.content.is_empty());
        assert!(c.reasoning.starts_with("**Considering the Constraint**"));
        let (_, warnings) = c.to_response();
        assert!(warnings.iter().any(|w| w.contains("truncated")));
    }

    #[test]
    fn generate_content_json_collapses_text_and_function_calls_with_args() {
        let (c, r) = fixture_of(
            &generate(),
            "application/json; charset=UTF-8",
            "gemini/generate-content-json.json",
        );
        assert!(r["content"]
            .as_str()
            .unwrap()
            .starts_with("AI stands for **Artificial Intelligence**."));
        assert!(!c.truncated);
        let v: Value =
            serde_json::from_slice(&golden("gemini/generate-content-json.json")).unwrap();
        assert_eq!(
            r["content"],
            v["candidates"][0]["content"]["parts"][0]["text"]
        );
        assert_eq!(
            r["usage"]["prompt_tokens"],
            v["usageMetadata"]["promptTokenCount"]
        );

        let (_, r) = fixture_of(
            &generate(),
            "application/json",
            "gemini/generate-content-json-function-call.json",
        );
        let args: Value =
            serde_json::from_str(r["toolCalls"][0]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(r["toolCalls"][0]["name"], "search_docs");
        assert_eq!(args, json!({"query": "recurring revenue"}));
        assert_eq!(r["usage"]["prompt_tokens"], 170);
        assert_eq!(r["usage"]["completion_tokens"], 16);

        let (_, r) = fixture_of(
            &generate(),
            "application/json",
            "vertex/generate-content-json.json",
        );
        assert!(r["content"]
            .as_str()
            .unwrap()
            .starts_with("The main content of the image is a panda"));
        assert_eq!(r["usage"]["prompt_tokens"], 1569);
    }

    #[test]
    fn function_call_ids_finish_reasons_and_string_args_are_kept() {
        let body = json!({"candidates": [{"content": {"parts": [
            {"text": "Let me look."},
            {"functionCall": {"id": "fc-1", "name": "f", "args": {"a": [1, 2]}}},
            {"functionCall": {"name": "g", "args": "{\"raw\":true}"}},
            {"functionCall": {"name": "h"}}
        ]}, "finishReason": "MAX_TOKENS"}]});
        let c = generate().collapse(200, "application/json", body.to_string().as_bytes());
        let (r, _) = c.to_response();
        assert_eq!(r["content"], "Let me look.");
        assert_eq!(
            r["toolCalls"],
            json!([{"name": "f", "arguments": "{\"a\":[1,2]}", "id": "fc-1"},
                   {"name": "g", "arguments": "{\"raw\":true}"},
                   {"name": "h", "arguments": "{}"}])
        );
        assert_eq!(r["finishReason"], "length");
        for (given, want) in [
            ("SAFETY", json!("content_filter")),
            ("RECITATION", json!("RECITATION")),
            ("STOP", Value::Null),
        ] {
            let body = json!({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": given}]});
            let (r, _) = generate()
                .collapse(200, "application/json", body.to_string().as_bytes())
                .to_response();
            assert_eq!(r.get("finishReason").cloned().unwrap_or(Value::Null), want);
        }
    }

    #[test]
    fn an_error_element_inside_a_stream_becomes_an_error_fixture() {
        let body = "[{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\"}]}}]}\n,\n{\"error\": {\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}\n]";
        let (r, _) = generate()
            .collapse(200, "application/json", body.as_bytes())
            .to_response();
        assert_eq!(r["status"], 503);
        assert_eq!(r["error"]["message"], "The model is overloaded.");
        assert_eq!(r["error"]["type"], "UNAVAILABLE");
    }

    #[test]
    fn an_sse_stream_without_finish_reason_is_truncated_and_bad_events_are_counted() {
        let body = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hel\"}]}}]}\r\n\r\ndata: {not json\r\n\r\n";
        let c = generate().collapse(200, "text/event-stream", body.as_bytes());
        assert_eq!(c.content, "Hel");
        assert!(c.truncated);
        assert_eq!(c.dropped, 1);
    }

    #[test]
    fn garbage_never_panics() {
        for body in [
            &b""[..],
            b"[",
            b"[,,]",
            b"{",
            b"\xff\xfe",
            b"[1, \"a\", null]",
            b"null",
        ] {
            for ct in ["application/json", "text/event-stream"] {
                let _ = generate().collapse(200, ct, body).to_response();
                let _ = Surface::Gemini(Op::Embed {
                    model: "m".into(),
                    batch: false,
                    vertex: false,
                })
                .collapse(200, ct, body)
                .to_response();
            }
        }
    }

    #[test]
    fn embed_and_batch_embed_bodies_give_the_first_vector() {
        let batch = Surface::Gemini(Op::Embed {
            model: "gemini-embedding-001".into(),
            batch: true,
            vertex: false,
        });
        let (c, r) = fixture_of(
            &batch,
            "application/json",
            "gemini/batch-embed-contents.json",
        );
        let v: Value = serde_json::from_slice(&golden("gemini/batch-embed-contents.json")).unwrap();
        assert_eq!(r["embedding"], v["embeddings"][0]["values"]);
        assert_eq!(c.embedding.as_ref().unwrap().len(), 768);

        let single = Surface::Gemini(Op::Embed {
            model: "m".into(),
            batch: false,
            vertex: true,
        });
        let c = single.collapse(
            200,
            "application/json",
            br#"{"embedding": {"values": [0.5, -0.25]}}"#,
        );
        assert_eq!(c.embedding, Some(vec![0.5, -0.25]));
        let c = single.collapse(200, "application/json", br#"{"nothing": 1}"#);
        assert!(c.embedding.is_none() && !c.warnings.is_empty());
    }

    #[test]
    fn the_recorder_sees_the_end_of_an_sse_stream_and_treats_a_json_array_as_whole() {
        use crate::record::capture::StreamWatch;
        use std::time::Duration;
        for name in [
            "gemini/stream-generate-content-sse-text.sse",
            "gemini/stream-generate-content-sse-function-call.sse",
            "vertex/stream-generate-content-sse.sse",
        ] {
            for step in [1, 9, 4096] {
                let mut w = StreamWatch::new(&generate(), "text/event-stream");
                for chunk in golden(name).chunks(step) {
                    w.push(chunk, Duration::ZERO);
                }
                assert!(w.terminal && !w.broken, "{name} step {step}");
            }
        }
        let w = StreamWatch::new(&generate(), "application/json; charset=UTF-8");
        assert!(!w.is_stream(), "the JSON array ends at EOF");
    }
}

//! Reading a recorded Cohere v2 reply back into a fixture: `/v2/chat` as SSE (typed by
//! the `event:` name, ending in `data: [DONE]`) or JSON, and `/v2/embed` vectors.
//!
//! Cohere puts the text of a tool-calling turn in `tool_plan` (`tool-plan-delta` events
//! when streamed). It is recorded as the fixture's `toolPlan`, apart from `content`: it
//! is what the model says it will do, not what it says to the user, so a replay through
//! another provider does not show it as the answer, and a Cohere replay sends it back
//! as the same `tool_plan`. `thinking` content items are reasoning. Tool calls are keyed by the
//! event `index` (a delta without one belongs to the last call started); arguments are
//! joined from their fragments.
//!
//! Finish reasons: `COMPLETE` is `stop`, `TOOL_CALL` is `tool_calls`, `MAX_TOKENS` is
//! `length`; anything else (`STOP_SEQUENCE`, `ERROR`, `TIMEOUT`) is kept as Cohere
//! spelled it, which a Cohere replay sends back unchanged. Usage is `usage.tokens`
//! (what the model processed), or `usage.billed_units` when that is all there is.
//!
//! Not here: the legacy v1 endpoints (not routed), citations and search results.

use std::collections::HashMap;

use serde_json::Value;

use super::Op;
use crate::codec::decode_all;
use crate::codec::sse::SseDecoder;
use crate::providers::common::collapse::{error_from_body, Collapsed};
use crate::providers::common::embedding::from_base64_f32;

/// Read a recorded reply of a Cohere surface.
pub(super) fn collapse(op: &Op, content_type: &str, body: &[u8]) -> Collapsed {
    match op {
        Op::Embed => collapse_embed(body),
        _ => {
            let mut c = if content_type.to_ascii_lowercase().contains("event-stream") {
                collapse_sse(body)
            } else {
                collapse_json(body)
            };
            crate::providers::common::collapse::pin_envelope(
                &mut c,
                content_type,
                body,
                &["/id"],
                &[],
                &[],
            );
            c
        }
    }
}

/// Cohere's finish reason in the fixture vocabulary.
fn finish_reason(f: &str) -> String {
    match f {
        "COMPLETE" => "stop".into(),
        "TOOL_CALL" => "tool_calls".into(),
        "MAX_TOKENS" => "length".into(),
        other => other.to_string(),
    }
}

/// `usage.tokens`, else `usage.billed_units`.
fn read_usage(usage: Option<&Value>, c: &mut Collapsed) {
    let Some(u) = usage else { return };
    let Some(counts) = u
        .get("tokens")
        .filter(|t| t.is_object())
        .or_else(|| u.get("billed_units").filter(|t| t.is_object()))
    else {
        return;
    };
    let n = |k: &str| counts.get(k).and_then(Value::as_f64).unwrap_or(0.0) as u64;
    c.usage = Some((n("input_tokens"), n("output_tokens")));
}

/// Tool-call arguments as JSON text (Cohere sends a string; tolerate an object).
fn arguments(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

fn collapse_sse(body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    let events = match decode_all(&mut SseDecoder::new(), body) {
        Ok(e) => e,
        Err(e) => {
            c.warnings.push(format!("SSE framing error: {e}"));
            Vec::new()
        }
    };
    // What each content index holds: `thinking` deltas may omit their type.
    let mut kinds: HashMap<u64, String> = HashMap::new();
    let mut last_call: Option<String> = None;
    let mut ended = false;
    // The native layer's parts: citations in order, and the `message-end` delta.
    let mut citations: Vec<Value> = Vec::new();
    let mut end: Option<Value> = None;
    for ev in events {
        let data = ev.data.trim();
        if data.is_empty() || data == "[DONE]" {
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            c.dropped += 1;
            continue;
        };
        let kind = ev
            .event
            .as_deref()
            .or_else(|| v.get("type").and_then(Value::as_str))
            .unwrap_or_default()
            .to_string();
        let index = v.get("index").and_then(Value::as_u64);
        let msg = v.pointer("/delta/message");
        match kind.as_str() {
            "content-start" => {
                if let (Some(i), Some(t)) = (
                    index,
                    msg.and_then(|m| m.pointer("/content/type"))
                        .and_then(Value::as_str),
                ) {
                    kinds.insert(i, t.to_string());
                }
                // A start may already carry text.
                content_delta(msg, index, &kinds, &mut c);
            }
            "content-delta" => content_delta(msg, index, &kinds, &mut c),
            "tool-plan-delta" => {
                if let Some(t) = msg.and_then(|m| m.get("tool_plan")).and_then(Value::as_str) {
                    c.tool_plan.push_str(t);
                }
            }
            "tool-call-start" => {
                let call = msg.and_then(|m| m.get("tool_calls"));
                let key =
                    index.map_or_else(|| format!("start:{}", c.calls.len()), |i| i.to_string());
                c.extend_call(
                    &key,
                    call.and_then(|t| t.get("id")).and_then(Value::as_str),
                    call.and_then(|t| t.pointer("/function/name"))
                        .and_then(Value::as_str),
                    &arguments(call.and_then(|t| t.pointer("/function/arguments"))),
                );
                last_call = Some(key);
            }
            "tool-call-delta" => {
                let fragment =
                    arguments(msg.and_then(|m| m.pointer("/tool_calls/function/arguments")));
                let key = match index.map(|i| i.to_string()) {
                    Some(k) if c.has_call(&k) => Some(k),
                    Some(_) | None => last_call.clone(),
                };
                match key {
                    Some(k) => c.extend_call(&k, None, None, &fragment),
                    None => c.dropped += 1,
                }
            }
            "citation-start" => {
                if let Some(cite) = msg
                    .and_then(|m| m.get("citations"))
                    .filter(|c| c.is_object())
                {
                    citations.push(cite.clone());
                }
            }
            "message-end" => {
                ended = true;
                end = v.get("delta").cloned();
                let delta = v.get("delta");
                if let Some(f) = delta
                    .and_then(|d| d.get("finish_reason"))
                    .and_then(Value::as_str)
                {
                    c.finish_reason = Some(finish_reason(f));
                }
                read_usage(delta.and_then(|d| d.get("usage")), &mut c);
                // `finish_reason: "ERROR"` (with its `error`) is part of the stream: the
                // SDK hands it over as the last event. It stays in band (see `native`).
            }
            "error" => {
                ended = true;
                c.error = Some(error_from_body(500, data.as_bytes()));
            }
            _ => {}
        }
    }
    if !ended {
        c.truncated = true;
    }
    if c.error.is_none() {
        c.native = super::native::native_of(&citations, end.as_ref(), true);
    }
    c
}

/// A `content-start`/`content-delta` payload: `{content: {text}}` or `{content: {thinking}}`.
fn content_delta(
    msg: Option<&Value>,
    index: Option<u64>,
    kinds: &HashMap<u64, String>,
    c: &mut Collapsed,
) {
    let Some(content) = msg.and_then(|m| m.get("content")) else {
        return;
    };
    let thinking_index = index.and_then(|i| kinds.get(&i)).map(String::as_str) == Some("thinking");
    if let Some(t) = content.get("thinking").and_then(Value::as_str) {
        c.push_reasoning(t);
    } else if let Some(t) = content.get("text").and_then(Value::as_str) {
        if thinking_index {
            c.push_reasoning(t);
        } else {
            c.push_text(t);
        }
    }
}

fn collapse_json(body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    let v = match serde_json::from_slice::<Value>(body) {
        Ok(v) => v,
        Err(e) => {
            c.warnings.push(format!("upstream body is not JSON: {e}"));
            return c;
        }
    };
    let Some(m) = v.get("message") else {
        c.warnings
            .push("upstream Cohere chat body has no message".into());
        return c;
    };
    for item in m
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("thinking") => {
                if let Some(t) = item.get("thinking").and_then(Value::as_str) {
                    c.push_reasoning(t);
                }
            }
            Some("text") | None => {
                if let Some(t) = item.get("text").and_then(Value::as_str) {
                    c.push_text(t);
                }
            }
            Some(_) => {}
        }
    }
    if let Some(plan) = m.get("tool_plan").and_then(Value::as_str) {
        c.tool_plan.push_str(plan);
    }
    for tc in m
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        c.push_call(
            tc.get("id").and_then(Value::as_str).map(String::from),
            tc.pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or(""),
            arguments(tc.pointer("/function/arguments")),
        );
    }
    if let Some(f) = v.get("finish_reason").and_then(Value::as_str) {
        c.finish_reason = Some(finish_reason(f));
    }
    read_usage(v.get("usage"), &mut c);
    let citations = m
        .get("citations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    c.native = super::native::native_of(&citations, Some(&v), false);
    c
}

/// The first vector of `embeddings.float`; other types are turned back into floats that
/// replay re-encodes to the same integers (with a warning, as precision is lost).
fn collapse_embed(body: &[u8]) -> Collapsed {
    let mut c = collapse_embed_vector(body);
    // More than the one vector says (several inputs, or types the float vector does not
    // re-encode as Cohere quantised them): the recorded `embeddings` kept whole.
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let e = &v["embeddings"];
    let several = e.as_object().is_some_and(|m| {
        m.keys().any(|k| k != "float")
            || m.values()
                .any(|l| l.as_array().is_some_and(|a| a.len() > 1))
    }) || e.as_array().is_some_and(|a| a.len() > 1);
    if c.embedding.is_some() && several {
        c.native = crate::providers::common::native::embedding_layer(
            super::native::PROVIDER,
            &v,
            &["id", "meta"],
        );
    }
    c
}

/// The first vector of a recorded embed body.
fn collapse_embed_vector(body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let e = v.get("embeddings");
    let first = |kind: &str| e.and_then(|e| e.get(kind)).and_then(|l| l.get(0));
    let numbers = |x: &Value| -> Option<Vec<f64>> {
        x.as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
    };
    // The v1 `embeddings_floats` shape is a bare list of vectors.
    let float = first("float").or_else(|| e.and_then(|e| e.get(0)));
    if let Some(vec) = float.and_then(numbers) {
        c.embedding = Some(vec);
        return c;
    }
    if let Some(s) = first("base64").and_then(Value::as_str) {
        match from_base64_f32(s) {
            Some(vec) => c.embedding = Some(vec),
            None => c
                .warnings
                .push("base64 embedding is not a whole number of float32 values".into()),
        }
        return c;
    }
    for kind in ["int8", "uint8", "binary", "ubinary"] {
        let Some(ints) = first(kind).and_then(numbers) else {
            continue;
        };
        c.embedding = Some(match kind {
            "int8" => ints.iter().map(|x| x / 127.0).collect(),
            "uint8" => ints.iter().map(|x| (x - 127.5) / 127.5).collect(),
            // One sign bit per dimension, most significant first; `binary` is offset by -128.
            _ => {
                let offset = if kind == "binary" { 128.0 } else { 0.0 };
                ints.iter()
                    .flat_map(|b| {
                        let byte = (b + offset).clamp(0.0, 255.0) as u8;
                        (0..8).map(move |i| if byte & (0x80 >> i) != 0 { 1.0 } else { -1.0 })
                    })
                    .collect()
            }
        });
        c.warnings.push(format!(
            "upstream sent only {kind} embeddings; recorded as floats that re-encode to the same {kind} values"
        ));
        return c;
    }
    c.warnings
        .push("upstream Cohere embed body has no embeddings.float[0]".into());
    c
}

#[cfg(test)]
mod tests {
    use super::super::Op;
    use super::*;
    use crate::providers::Surface;
    use crate::testing::{collapsed_fixture as fixture_of, golden};
    use serde_json::json;

    fn events(name: &str) -> Vec<Value> {
        decode_all(&mut SseDecoder::new(), &golden(name))
            .unwrap()
            .iter()
            .filter(|e| e.data != "[DONE]")
            .map(|e| serde_json::from_str(&e.data).unwrap())
            .collect()
    }

    #[test]
    fn a_streamed_text_reply_collapses_to_its_whole_text_and_usage() {
        let name = "cohere/chat-v2-stream-text.sse";
        let (c, r) = fixture_of(&Surface::Cohere(Op::Chat), "text/event-stream", name);
        let text: String = events(name)
            .iter()
            .filter(|e| e["type"] == "content-delta")
            .map(|e| {
                e["delta"]["message"]["content"]["text"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert!(text.starts_with("Hi there! You're Pickle Rick?"));
        assert_eq!(r["content"], text);
        assert_eq!(c.usage, Some((70, 69)));
        assert!(r.get("finishReason").is_none());
        assert!(!c.truncated && c.dropped == 0);
    }

    #[test]
    fn a_streamed_tool_call_keeps_the_plan_apart_from_content_and_joins_its_arguments() {
        let (c, r) = fixture_of(
            &Surface::Cohere(Op::Chat),
            "text/event-stream",
            "cohere/chat-v2-stream-tool-call.sse",
        );
        assert!(
            r.get("content").is_none(),
            "the model said nothing to the user: {r}"
        );
        assert_eq!(
            r["toolPlan"],
            "I will use the Person tool to create a person with the name Erick and age 27, and then relay this information to the user."
        );
        assert_eq!(r["toolCalls"][0]["name"], "Person");
        assert_eq!(r["toolCalls"][0]["id"], "Person_2fnrphbsnr66");
        let args: Value =
            serde_json::from_str(r["toolCalls"][0]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({"name": "Erick", "age": 27}));
        assert!(r.get("blocks").is_none(), "plan first, then calls");
        assert!(r.get("finishReason").is_none(), "TOOL_CALL is the default");
        assert_eq!(c.usage, Some((906, 77)));
    }

    #[test]
    fn json_replies_collapse_text_reasoning_plan_and_tool_calls() {
        let (c, r) = fixture_of(
            &Surface::Cohere(Op::Chat),
            "application/json",
            "cohere/chat-v2-json-text.json",
        );
        assert!(r["content"].as_str().unwrap().starts_with("Arrrr, matey!"));
        assert!(r["content"]
            .as_str()
            .unwrap()
            .ends_with("couldn’t help but cry."));
        assert_eq!(c.usage, Some((69, 89)));

        let (_, r) = fixture_of(
            &Surface::Cohere(Op::Chat),
            "application/json",
            "cohere/chat-v2-json-tool-calls.json",
        );
        assert!(r.get("content").is_none(), "{r}");
        assert!(r["toolPlan"]
            .as_str()
            .unwrap()
            .starts_with("I will use the Person tool"));
        assert_eq!(
            r["toolCalls"][0]["arguments"],
            "{\"age\":27,\"name\":\"Erick\"}"
        );
        assert_eq!(r["toolCalls"][0]["id"], "Person_zh3gneaxfh7q");

        let (c, r) = fixture_of(
            &Surface::Cohere(Op::Chat),
            "application/json",
            "cohere/chat-v2-json-reasoning-tool-call.json",
        );
        assert!(r["reasoning"]
            .as_str()
            .unwrap()
            .starts_with("Okay, the user is asking for the weather"));
        assert!(r.get("content").is_none());
        assert_eq!(r["toolCalls"][0]["name"], "get_the_weather");
        assert_eq!(r["toolCalls"][0]["arguments"], "{\"location\":\"Osaka\"}");
        assert_eq!(c.usage, Some((1494, 330)));
    }

    #[test]
    fn streamed_thinking_is_reasoning_and_finish_reasons_translate() {
        let body = concat!(
            "event: content-start\ndata: {\"type\":\"content-start\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"type\":\"thinking\",\"thinking\":\"\"}}}}\n\n",
            "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"thinking\":\"Hmm.\"}}}}\n\n",
            "event: content-start\ndata: {\"type\":\"content-start\",\"index\":1,\"delta\":{\"message\":{\"content\":{\"type\":\"text\",\"text\":\"\"}}}}\n\n",
            "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":1,\"delta\":{\"message\":{\"content\":{\"text\":\"Done\"}}}}\n\n",
            "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"MAX_TOKENS\",\"usage\":{\"billed_units\":{\"input_tokens\":3,\"output_tokens\":4}}}}\n\n",
            "data: [DONE]\n\n",
        );
        let c = collapse(&Op::Chat, "text/event-stream", body.as_bytes());
        let (r, _) = c.to_response();
        assert_eq!(r["reasoning"], "Hmm.");
        assert_eq!(r["content"], "Done");
        assert_eq!(r["finishReason"], "length");
        assert_eq!(c.usage, Some((3, 4)));
        assert_eq!(finish_reason("STOP_SEQUENCE"), "STOP_SEQUENCE");
    }

    #[test]
    fn a_stream_without_message_end_is_truncated_and_stray_deltas_are_dropped() {
        let body = concat!(
            "event: tool-call-delta\ndata: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"{}\"}}}}}\n\n",
            "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"Hi\"}}}}\n\n",
            "event: content-delta\ndata: {oops\n\n",
        );
        let c = collapse(&Op::Chat, "text/event-stream", body.as_bytes());
        assert_eq!(c.content, "Hi");
        assert!(c.calls.is_empty());
        assert_eq!(c.dropped, 2);
        assert!(c.truncated);
    }

    #[test]
    fn embed_bodies_give_the_first_float_vector() {
        let (c, r) = fixture_of(
            &Surface::Cohere(Op::Embed),
            "application/json",
            "cohere/embed-v2.json",
        );
        let v: Value = serde_json::from_slice(&golden("cohere/embed-v2.json")).unwrap();
        assert_eq!(r["embedding"], v["embeddings"]["float"][0]);
        assert!(c.warnings.is_empty());
        let c = collapse(
            &Op::Embed,
            "application/json",
            br#"{"embeddings":{"int8":[[1,2]],"float":[[0.5,0.25]]}}"#,
        );
        assert_eq!(
            c.embedding,
            Some(vec![0.5, 0.25]),
            "float wins when present"
        );
        let c = collapse(
            &Op::Embed,
            "application/json",
            br#"{"embeddings":[[0.125]]}"#,
        );
        assert_eq!(c.embedding, Some(vec![0.125]));
        let c = collapse(
            &Op::Embed,
            "application/json",
            br#"{"embeddings":{"base64":["AAAAPwAAgL4="]}}"#,
        );
        assert_eq!(c.embedding, Some(vec![0.5, -0.25]));
    }

    #[test]
    fn integer_only_embeddings_become_floats_that_replay_re_encodes_identically() {
        // The v1 capture is int8-only: a v1 body, but the same `embeddings` shape.
        let body = golden("cohere/embed-v1-int8.json");
        let v: Value = serde_json::from_slice(&body).unwrap();
        let c = collapse(&Op::Embed, "application/json", &body);
        let floats = c.embedding.clone().unwrap();
        let back: Vec<i64> = floats
            .iter()
            .map(|x| (x.clamp(-1.0, 1.0) * 127.0).round() as i64)
            .collect();
        let want: Vec<i64> = v["embeddings"]["int8"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        assert_eq!(back, want);
        assert!(c.warnings[0].contains("int8"));
        let c = collapse(
            &Op::Embed,
            "application/json",
            br#"{"embeddings":{"ubinary":[[160]]}}"#,
        );
        assert_eq!(
            c.embedding,
            Some(vec![1.0, -1.0, 1.0, -1.0, -1.0, -1.0, -1.0, -1.0])
        );
        let c = collapse(&Op::Embed, "application/json", br#"{"nope":1}"#);
        assert!(c.embedding.is_none() && !c.warnings.is_empty());
    }

    #[test]
    fn the_recorder_sees_message_end_then_done_in_both_streams() {
        use crate::record::capture::StreamWatch;
        use std::time::Duration;
        for name in [
            "cohere/chat-v2-stream-text.sse",
            "cohere/chat-v2-stream-tool-call.sse",
        ] {
            let mut w = StreamWatch::new(&Surface::Cohere(Op::Chat), "text/event-stream");
            let body = golden(name);
            let end = String::from_utf8_lossy(&body).find("data: [DONE]").unwrap();
            w.push(&body[..end], Duration::ZERO);
            assert!(
                w.terminal && !w.final_seen,
                "{name}: message-end is terminal"
            );
            w.push(&body[end..], Duration::ZERO);
            assert!(w.final_seen && !w.broken, "{name}: [DONE] is final");
        }
    }

    #[test]
    fn garbage_never_panics() {
        for body in [
            &b""[..],
            b"{",
            b"\xff",
            b"null",
            b"{\"message\":1}",
            b"event: tool-call-start\ndata: {}\n\n",
        ] {
            for ct in ["application/json", "text/event-stream"] {
                let _ = collapse(&Op::Chat, ct, body).to_response();
                let _ = collapse(&Op::Embed, ct, body).to_response();
            }
        }
    }
}

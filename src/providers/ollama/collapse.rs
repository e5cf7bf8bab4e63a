//! Reading a recorded Ollama reply back into a fixture: `/api/chat` and `/api/generate`
//! as NDJSON (the default) or one JSON object (`stream: false`), and the `/api/embed`
//! (`embeddings[0]`) and `/api/embeddings` (`embedding`) vectors.
//!
//! Every line (or the single object) is read the same way, whichever endpoint sent it:
//! `message.content` / `response` are text, `message.thinking` / `thinking` are
//! reasoning, and `message.tool_calls[].function` are complete tool calls (object
//! `arguments` serialised; no ids: Ollama has none). The `done: true` line carries
//! `done_reason` (`stop` leaves the fixture default, `length` is kept, as is anything
//! else) and the `prompt_eval_count` / `eval_count` usage. A `{"error": "…"}` line or
//! body becomes an error fixture.
//!
//! Not here: non-2xx replies (`Surface::collapse` turns those into error fixtures) and
//! `context` token ids, which replay invents.

use serde_json::{json, Value};

use super::Op;
use crate::codec::decode_all;
use crate::codec::ndjson::LineDecoder;
use crate::providers::common::collapse::{error_from_body, Collapsed};

/// Read a recorded reply of an Ollama surface.
pub(super) fn collapse(op: &Op, content_type: &str, body: &[u8]) -> Collapsed {
    if let Op::Embed { .. } = op {
        return collapse_embed(body);
    }
    let mut c = Collapsed::default();
    let ct = content_type.to_ascii_lowercase();
    let whole = if ct.contains("ndjson") {
        None
    } else {
        serde_json::from_slice::<Value>(body).ok()
    };
    match whole {
        Some(v) => {
            if !read_line(&v, &mut c) && c.error.is_none() {
                c.warnings
                    .push("upstream Ollama body has no done: true".into());
            }
        }
        // NDJSON, or a body that is not one JSON value: read it line by line.
        None => {
            let lines = match decode_all(&mut LineDecoder::new(), body) {
                Ok(l) => l,
                Err(e) => {
                    c.warnings.push(format!("NDJSON framing error: {e}"));
                    Vec::new()
                }
            };
            let mut done = false;
            for line in lines {
                match serde_json::from_slice::<Value>(&line) {
                    Ok(v) => done |= read_line(&v, &mut c),
                    Err(_) => c.dropped += 1,
                }
            }
            if !done && c.error.is_none() {
                c.truncated = true;
            }
        }
    }
    c
}

/// One chat or generate object; true when it is the final `done: true` one.
fn read_line(v: &Value, c: &mut Collapsed) -> bool {
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        c.error = Some(error_from_body(
            500,
            json!({ "error": e }).to_string().as_bytes(),
        ));
        return false;
    }
    let m = v.get("message");
    let field = |k: &str| {
        m.and_then(|m| m.get(k))
            .or_else(|| v.get(k))
            .and_then(Value::as_str)
    };
    if let Some(t) = field("thinking") {
        c.push_reasoning(t);
    }
    if let Some(t) = m
        .and_then(|m| m.get("content"))
        .or_else(|| v.get("response"))
        .and_then(Value::as_str)
    {
        c.push_text(t);
    }
    for tc in m
        .and_then(|m| m.get("tool_calls"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let f = tc.get("function");
        let args = match f.and_then(|f| f.get("arguments")) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => "{}".to_string(),
            Some(a) => a.to_string(),
        };
        c.push_call(
            None,
            f.and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .unwrap_or(""),
            args,
        );
    }
    if v.get("done").and_then(Value::as_bool) != Some(true) {
        return false;
    }
    c.finish_reason = match v.get("done_reason").and_then(Value::as_str) {
        None | Some("stop") | Some("") => None,
        Some(other) => Some(other.to_string()),
    };
    let count = |k: &str| v.get(k).and_then(Value::as_u64);
    if count("prompt_eval_count").is_some() || count("eval_count").is_some() {
        c.usage = Some((
            count("prompt_eval_count").unwrap_or(0),
            count("eval_count").unwrap_or(0),
        ));
    }
    true
}

/// `{embeddings: [[…], …]}` (`/api/embed`) or `{embedding: […]}` (`/api/embeddings`).
fn collapse_embed(body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        c.error = Some(error_from_body(
            500,
            json!({ "error": e }).to_string().as_bytes(),
        ));
        return c;
    }
    match v
        .pointer("/embeddings/0")
        .or_else(|| v.get("embedding"))
        .and_then(Value::as_array)
    {
        Some(a) => c.embedding = Some(a.iter().filter_map(Value::as_f64).collect()),
        None => c
            .warnings
            .push("upstream Ollama body has no embeddings[0] or embedding".into()),
    }
    if c.embedding.is_some() && v["embeddings"].as_array().is_some_and(|d| d.len() > 1) {
        c.native = crate::providers::common::native::embedding_layer(
            "ollama",
            &v,
            &["total_duration", "load_duration", "prompt_eval_count"],
        );
    }
    c
}

#[cfg(test)]
mod tests {
    use super::super::Op;
    use super::*;
    use crate::providers::Surface;
    use crate::testing::{collapsed_fixture as fixture_of, golden};

    /// The concatenated `key` (a pointer) over every golden NDJSON line.
    fn joined(name: &str, pointer: &str) -> String {
        String::from_utf8(golden(name))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()[pointer.trim_start_matches('/')].clone()
            })
            .map(|v| {
                v.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect()
    }

    #[test]
    fn chat_and_generate_streams_collapse_to_their_whole_text_and_usage() {
        let name = "ollama/api-chat-stream.ndjson";
        let (c, r) = fixture_of(&Surface::Ollama(Op::Chat), "application/x-ndjson", name);
        let text: String = String::from_utf8(golden(name))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["message"]["content"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert!(text.starts_with("Why did the OpenTe"));
        assert_eq!(r["content"], text);
        assert_eq!(c.usage, Some((17, 50)));
        assert!(r.get("finishReason").is_none());
        assert!(!c.truncated && c.dropped == 0);

        let name = "ollama/api-generate-stream.ndjson";
        let (c, r) = fixture_of(&Surface::Ollama(Op::Generate), "application/x-ndjson", name);
        assert_eq!(r["content"], joined(name, "response"));
        assert!(r["content"].as_str().unwrap().starts_with("A joke about"));
        assert_eq!(c.usage, Some((17, 71)));
    }

    #[test]
    fn stream_false_bodies_collapse_the_same_way() {
        let (c, r) = fixture_of(
            &Surface::Ollama(Op::Chat),
            "application/json; charset=utf-8",
            "ollama/api-chat-json.json",
        );
        assert!(r["content"]
            .as_str()
            .unwrap()
            .starts_with("A joke about OpenTelemetry!"));
        assert_eq!(c.usage, Some((17, 66)));
        assert!(!c.truncated && c.warnings.is_empty());
        let (c, r) = fixture_of(
            &Surface::Ollama(Op::Generate),
            "application/json",
            "ollama/api-generate-json.json",
        );
        assert!(r["content"].as_str().unwrap().starts_with("A niche topic!"));
        assert_eq!(c.usage, Some((17, 63)));
    }

    #[test]
    fn thinking_tool_calls_and_done_reasons_are_read() {
        let body = concat!(
            "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"Let me \"},\"done\":false}\n",
            "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"thinking\":\"think.\"},\"done\":false}\n",
            "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}},{\"function\":{\"name\":\"noop\"}}]},\"done\":false}\n",
            "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":\"stop\",\"done\":true,\"prompt_eval_count\":5,\"eval_count\":9}\n",
        );
        let c = collapse(&Op::Chat, "application/x-ndjson", body.as_bytes());
        let (r, _) = c.to_response();
        assert_eq!(r["reasoning"], "Let me think.");
        assert_eq!(
            r["toolCalls"],
            json!([{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                   {"name": "noop", "arguments": "{}"}])
        );
        assert!(r.get("content").is_none());
        assert!(
            r.get("finishReason").is_none(),
            "stop after calls is tool_calls"
        );
        assert_eq!(c.usage, Some((5, 9)));

        let body =
            r#"{"model":"m","response":"cut","thinking":"hm","done":true,"done_reason":"length"}"#;
        let (r, _) = collapse(&Op::Generate, "application/json", body.as_bytes()).to_response();
        assert_eq!(r["content"], "cut");
        assert_eq!(r["reasoning"], "hm");
        assert_eq!(r["finishReason"], "length");
    }

    #[test]
    fn error_lines_and_bodies_become_error_fixtures() {
        let body = "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"done\":false}\n{\"error\":\"model runner crashed\"}\n";
        let (r, _) = collapse(&Op::Chat, "application/x-ndjson", body.as_bytes()).to_response();
        assert_eq!(r["error"]["message"], "model runner crashed");
        assert_eq!(r["status"], 500);
        let (r, _) = collapse(
            &Op::Embed { legacy: false },
            "application/json",
            br#"{"error":"no such model"}"#,
        )
        .to_response();
        assert_eq!(r["error"]["message"], "no such model");
    }

    #[test]
    fn a_stream_without_its_done_line_is_truncated_and_bad_lines_are_counted() {
        let body = golden("ollama/api-chat-stream.ndjson");
        let text = String::from_utf8(body).unwrap();
        let cut: Vec<&str> = text.lines().take(3).collect();
        let body = format!("{}\nnot json\n", cut.join("\n"));
        let c = collapse(&Op::Chat, "application/x-ndjson", body.as_bytes());
        assert_eq!(c.content, "Why did the");
        assert!(c.truncated);
        assert_eq!(c.dropped, 1);
    }

    #[test]
    fn both_embedding_endpoints_give_their_first_vector() {
        let legacy = Surface::Ollama(Op::Embed { legacy: true });
        let (c, r) = fixture_of(
            &legacy,
            "application/json; charset=utf-8",
            "ollama/api-embeddings.json",
        );
        let v: Value = serde_json::from_slice(&golden("ollama/api-embeddings.json")).unwrap();
        assert_eq!(r["embedding"], v["embedding"]);
        assert!(c.embedding.unwrap().len() > 100);
        // Every digit survives: serde_json must parse floats exactly (`float_roundtrip`).
        assert!(r.to_string().contains(",0.20527076721191406,"));
        let c = collapse(
            &Op::Embed { legacy: false },
            "application/json",
            br#"{"model":"all-minilm","embeddings":[[0.5,-0.25],[1.0,2.0]],"total_duration":1}"#,
        );
        assert_eq!(c.embedding, Some(vec![0.5, -0.25]));
    }

    #[test]
    fn the_recorder_sees_the_done_line_as_the_end() {
        use crate::record::capture::StreamWatch;
        use std::time::Duration;
        for name in [
            "ollama/api-chat-stream.ndjson",
            "ollama/api-generate-stream.ndjson",
        ] {
            let mut w = StreamWatch::new(&Surface::Ollama(Op::Chat), "application/x-ndjson");
            for chunk in golden(name).chunks(13) {
                w.push(chunk, Duration::ZERO);
            }
            assert!(w.final_seen && !w.broken, "{name}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        for body in [
            &b""[..],
            b"{",
            b"\xff\n\x00",
            b"null",
            b"[]\n{}\n",
            b"{\"message\":1,\"done\":true}",
        ] {
            for ct in ["application/json", "application/x-ndjson"] {
                for s in [
                    Surface::Ollama(Op::Chat),
                    Surface::Ollama(Op::Generate),
                    Surface::Ollama(Op::Embed { legacy: false }),
                ] {
                    let _ = s.collapse(200, ct, body).to_response();
                }
            }
        }
    }
}

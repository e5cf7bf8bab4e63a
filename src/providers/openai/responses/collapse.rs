//! Reading a recorded OpenAI Responses reply into a [`Collapsed`]: the typed SSE events
//! (`response.created` … `response.completed`) or the JSON response object.
//!
//! Text comes from `response.output_text.delta`, reasoning from the summary (and raw
//! reasoning) text deltas, tool calls from `function_call` items keyed by
//! `output_index`. A call's id is the item's `call_id` (what the client echoes back in
//! `function_call_output`), never its `fc_` item id. The finished item, when it comes,
//! is authoritative: it fills anything the deltas missed.
//!
//! Not here: non-2xx statuses (already error fixtures in `Surface::collapse`) and the
//! fixture JSON (`providers::collapse`). Nothing here panics on upstream bytes.

use std::collections::HashSet;

use serde_json::Value;

use crate::codec::sse::SseDecoder;
use crate::providers::common::collapse::decode_prefix;
use crate::providers::common::collapse::{Collapsed, CollapsedError};

/// Read a recorded Responses reply (SSE when the content type says so, else JSON).
pub fn collapse(content_type: &str, body: &[u8]) -> Collapsed {
    let mut c = collapse_body(content_type, body);
    crate::providers::common::collapse::pin_envelope(
        &mut c,
        content_type,
        body,
        &["/response/id", "/id"],
        &["/response/created_at", "/created_at"],
        &["/response/model", "/model"],
    );
    c
}

fn collapse_body(content_type: &str, body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    if content_type.contains("event-stream") {
        let (events, err) = decode_prefix(SseDecoder::new(), body);
        if let Some(e) = err {
            c.truncated = true;
            c.warnings.push(format!("SSE framing error: {e}"));
        }
        let mut reader = StreamReader::default();
        for ev in events {
            let data = ev.data.trim();
            if data.is_empty() || data == "[DONE]" {
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(data) else {
                c.dropped += 1;
                continue;
            };
            let kind = v
                .get("type")
                .and_then(Value::as_str)
                .map(String::from)
                .or(ev.event)
                .unwrap_or_default();
            reader.read(&kind, &v, &mut c);
        }
        if !reader.done {
            c.truncated = true;
        }
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => read_response(&v, &mut c),
            Err(e) => c.warnings.push(format!("upstream body is not JSON: {e}")),
        }
    }
    c
}

/// The HTTP status for a Responses error `code` (or `type`), so a failed response or an
/// `error` event replays as the status the SDK would raise for it.
fn error_status(code: &str) -> u16 {
    match code {
        "rate_limit_exceeded" | "insufficient_quota" | "rate_limit_error" => 429,
        "invalid_request_error"
        | "invalid_prompt"
        | "context_length_exceeded"
        | "invalid_image"
        | "bad_request" => 400,
        "invalid_api_key" | "authentication_error" => 401,
        "permission_error" => 403,
        "model_not_found" | "not_found" => 404,
        "server_is_overloaded" | "overloaded" => 503,
        _ => 500,
    }
}

/// An error object (`{"code","message","type"?}`) as an error fixture.
pub(crate) fn error_of(e: &Value) -> CollapsedError {
    let code = e.get("code").filter(|c| !c.is_null()).cloned();
    let kind = e.get("type").and_then(Value::as_str).map(String::from);
    let status = code
        .as_ref()
        .and_then(Value::as_str)
        .or(kind.as_deref())
        .map_or(500, error_status);
    CollapsedError {
        status,
        message: e
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("Upstream response failed")
            .to_string(),
        kind: kind.filter(|k| k != "error"),
        code,
    }
}

/// Status, usage and error of a finished response object.
fn read_outcome(resp: &Value, c: &mut Collapsed) {
    if let Some(u) = resp.get("usage").filter(|u| u.is_object()) {
        let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
        c.usage = Some((n("input_tokens"), n("output_tokens")));
    }
    match resp.get("status").and_then(Value::as_str) {
        Some("incomplete") => {
            let reason = resp
                .pointer("/incomplete_details/reason")
                .and_then(Value::as_str);
            c.finish_reason = Some(
                match reason {
                    Some("max_output_tokens") => "length",
                    Some("content_filter") => "content_filter",
                    Some(other) => other,
                    None => "length",
                }
                .to_string(),
            );
        }
        Some("failed") => {
            let e = resp
                .get("error")
                .filter(|e| e.is_object())
                .map(error_of)
                .unwrap_or_else(|| CollapsedError {
                    status: 500,
                    message: "Upstream response failed".into(),
                    kind: None,
                    code: None,
                });
            c.error = Some(e);
        }
        _ => {}
    }
}

/// Text of a finished `message` item (output text parts, and refusals).
fn message_text(item: &Value) -> String {
    item.get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| match p.get("type").and_then(Value::as_str) {
            Some("output_text") => p.get("text").and_then(Value::as_str),
            Some("refusal") => p.get("refusal").and_then(Value::as_str),
            _ => None,
        })
        .collect()
}

/// Summary text of a finished `reasoning` item, parts joined by a blank line.
fn reasoning_text(item: &Value) -> String {
    let parts: Vec<&str> = item
        .get("summary")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    parts.join("\n\n")
}

fn set_encrypted(item: &Value, c: &mut Collapsed) {
    if let Some(e) = item
        .get("encrypted_content")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
    {
        c.signature = Some(e.to_string());
    }
}

/// Read the server events of one Responses-over-WebSocket turn (the HTTP stream's
/// events, one per frame, from `response.created` to `response.completed`, or an
/// `error` event) into a [`Collapsed`].
pub(crate) fn collapse_events(events: &[Value]) -> Collapsed {
    let mut c = Collapsed::default();
    let mut reader = StreamReader::default();
    for v in events {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
        reader.read(kind, v, &mut c);
    }
    if !reader.done {
        c.truncated = true;
    }
    c
}

/// State carried across the events of one stream (shared with the Realtime turn
/// reader, whose `response.*` output events are the same).
#[derive(Debug, Default)]
pub(crate) struct StreamReader {
    /// Output indexes that delivered text or reasoning deltas (their finished item
    /// then adds nothing).
    streamed: HashSet<u64>,
    /// The (output_index, summary_index) of the last reasoning delta, to separate parts.
    last_part: Option<(u64, u64)>,
    /// A terminal event was seen.
    pub(crate) done: bool,
}

impl StreamReader {
    /// One event of type `kind`.
    pub(crate) fn read(&mut self, kind: &str, v: &Value, c: &mut Collapsed) {
        let index = v.get("output_index").and_then(Value::as_u64);
        let str_of = |k: &str| v.get(k).and_then(Value::as_str);
        match kind {
            "response.output_text.delta" | "response.refusal.delta" => {
                if let Some(i) = index {
                    self.streamed.insert(i);
                }
                c.push_text(str_of("delta").unwrap_or(""));
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                let part = (
                    index.unwrap_or(0),
                    v.get("summary_index")
                        .or_else(|| v.get("content_index"))
                        .and_then(Value::as_u64)
                        .unwrap_or(0),
                );
                if self.last_part.is_some_and(|p| p != part) && !c.reasoning.is_empty() {
                    c.push_reasoning("\n\n");
                }
                self.last_part = Some(part);
                if let Some(i) = index {
                    self.streamed.insert(i);
                }
                c.push_reasoning(str_of("delta").unwrap_or(""));
            }
            "response.output_item.added" | "response.output_item.done" => {
                let Some(item) = v.get("item") else {
                    c.dropped += 1;
                    return;
                };
                let done = kind.ends_with("done");
                self.item(index, item, done, c);
            }
            "response.function_call_arguments.delta" => match index.map(|i| i.to_string()) {
                Some(k) if c.has_call(&k) => {
                    c.extend_call(&k, None, None, str_of("delta").unwrap_or(""))
                }
                _ => c.dropped += 1,
            },
            "response.function_call_arguments.done" => {
                // The full arguments: authoritative over the fragments.
                if let (Some(i), Some(args)) = (index, str_of("arguments")) {
                    let k = i.to_string();
                    if c.has_call(&k) {
                        c.call(&k).arguments = args.to_string();
                    }
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                if let Some(r) = v.get("response") {
                    read_outcome(r, c);
                    // The terminal event holds the whole response: its native layer.
                    c.native = super::native::native_of(r);
                }
                self.done = true;
            }
            "error" => {
                c.error = Some(error_of(v.get("error").unwrap_or(v)));
                self.done = true;
            }
            _ => {}
        }
    }

    fn item(&mut self, index: Option<u64>, item: &Value, done: bool, c: &mut Collapsed) {
        let str_of = |k: &str| item.get(k).and_then(Value::as_str);
        match str_of("type") {
            Some("function_call") => {
                let key = match index {
                    Some(i) => i.to_string(),
                    None => format!("item:{}", str_of("id").unwrap_or_default()),
                };
                c.extend_call(&key, str_of("call_id"), str_of("name"), "");
                if done {
                    if let Some(args) = str_of("arguments").filter(|a| !a.is_empty()) {
                        c.call(&key).arguments = args.to_string();
                    }
                }
            }
            Some("reasoning") => {
                set_encrypted(item, c);
                if done && !index.is_some_and(|i| self.streamed.contains(&i)) {
                    let text = reasoning_text(item);
                    if !text.is_empty() && !c.reasoning.is_empty() {
                        c.push_reasoning("\n\n");
                    }
                    c.push_reasoning(&text);
                }
            }
            Some("message") if done && !index.is_some_and(|i| self.streamed.contains(&i)) => {
                c.push_text(&message_text(item));
            }
            _ => {}
        }
    }
}

/// Read a complete response object (`{"object":"response","output":[...]}`), or an
/// error body sent with a 2xx status.
fn read_response(v: &Value, c: &mut Collapsed) {
    if let Some(e) = v.get("error").filter(|e| e.is_object()) {
        if v.get("output").is_none() {
            c.error = Some(error_of(e));
            return;
        }
    }
    let Some(output) = v.get("output").and_then(Value::as_array) else {
        c.warnings
            .push("upstream response has no output array".into());
        return;
    };
    c.native = super::native::native_of(v);
    for item in output {
        let str_of = |k: &str| item.get(k).and_then(Value::as_str);
        match str_of("type") {
            Some("message") => c.push_text(&message_text(item)),
            Some("reasoning") => {
                let text = reasoning_text(item);
                if !text.is_empty() && !c.reasoning.is_empty() {
                    c.push_reasoning("\n\n");
                }
                c.push_reasoning(&text);
                set_encrypted(item, c);
            }
            Some("function_call") => c.push_call(
                str_of("call_id").map(String::from),
                str_of("name").unwrap_or(""),
                str_of("arguments").unwrap_or("").to_string(),
            ),
            _ => {}
        }
    }
    read_outcome(v, c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden(name: &str) -> Vec<u8> {
        crate::testing::golden(&format!("openai/{name}"))
    }

    use serde_json::json;

    fn sse(name: &str) -> Collapsed {
        collapse("text/event-stream; charset=utf-8", &golden(name))
    }

    /// The collapsed reply as a fixture, which must load.
    use crate::testing::loadable_response as fixture;

    #[test]
    fn a_text_stream_collapses_to_its_full_text_and_usage() {
        let c = sse("responses-stream-text.sse");
        assert!(!c.content.is_empty() && !c.truncated && c.dropped == 0);
        assert!(c.usage.is_some_and(|(i, o)| i > 0 && o > 0));
        assert!(c.calls.is_empty());
        fixture(&c);
    }

    #[test]
    fn a_function_call_stream_keeps_the_call_id_not_the_item_id() {
        let c = sse("responses-stream-function-call.sse");
        assert_eq!(c.calls.len(), 1);
        assert_eq!(
            c.calls[0].id.as_deref(),
            Some("call_lGe2JKQEBSP15opZ3KfxtEUC")
        );
        assert_eq!(c.calls[0].name, "get_current_weather");
        assert_eq!(
            c.calls[0].arguments,
            r#"{"location":"Boston, MA","unit":"celsius"}"#
        );
        assert_eq!(c.usage, Some((75, 23)));
        let r = fixture(&c);
        assert!(r.get("content").is_none());
        assert!(r.get("finishReason").is_none());
    }

    #[test]
    fn an_incomplete_stream_is_a_length_finish_not_a_truncation() {
        let c = sse("responses-stream-incomplete.sse");
        assert_eq!(
            c.content,
            "In the bustling city of Detroit, a sleek, metallic blue sedan rolled off the"
        );
        assert_eq!(c.finish_reason.as_deref(), Some("length"));
        assert!(!c.truncated);
        assert_eq!(fixture(&c)["finishReason"], "length");
    }

    #[test]
    fn reasoning_summaries_and_encrypted_reasoning_are_kept() {
        let c = sse("responses-stream-reasoning-summary.sse");
        assert!(c.reasoning.starts_with("**Solving for the number**"));
        assert!(c.reasoning.ends_with("x = 10 - 1."));
        assert!(!c.content.is_empty());
        assert_eq!(fixture(&c)["reasoning"], c.reasoning);

        let c = sse("responses-stream-reasoning-then-function-call.sse");
        assert_eq!(c.calls.len(), 1);
        assert_eq!(
            c.calls[0].id.as_deref(),
            Some("call_CWXgs68YprAjp6t0371hiPOI")
        );
        assert_eq!(c.calls[0].arguments, r#"{"result":6666}"#);
        // The finished item's encrypted content, which differs from the added one.
        assert!(c.signature.as_deref().unwrap().starts_with("gAAAAABoyXvx"));
        fixture(&c);
    }

    #[test]
    fn json_responses_collapse_text_calls_reasoning_and_usage() {
        let c = collapse("application/json", &golden("responses-json-text.json"));
        assert!(!c.content.is_empty());
        assert!(c.usage.is_some());
        fixture(&c);

        let c = collapse(
            "application/json",
            &golden("responses-json-function-call.json"),
        );
        assert_eq!(
            c.calls[0].id.as_deref(),
            Some("call_tjEzTywkXuBUO42ugPFnQYqi")
        );
        assert_eq!(
            c.calls[0].arguments,
            r#"{"location":"Boston, MA","unit":"celsius"}"#
        );
        assert_eq!(c.usage, Some((75, 23)));
        fixture(&c);

        let c = collapse("application/json", &golden("responses-json-reasoning.json"));
        assert!(c
            .content
            .starts_with("The 2020 World Series was played entirely"));
        assert_eq!(c.usage, Some((54, 164)));
        fixture(&c);
    }

    #[test]
    fn a_failed_response_and_an_error_event_become_error_fixtures() {
        let failed = "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"Slow down\"}}}\n\n";
        let c = collapse("text/event-stream", failed.as_bytes());
        let e = c.error.clone().unwrap();
        assert_eq!((e.status, e.message.as_str()), (429, "Slow down"));
        assert!(!c.truncated);
        assert_eq!(fixture(&c)["status"], 429);

        let error = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"delta\":\"Hi\"}\n\nevent: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"The server had an error\",\"param\":null}\n\n";
        let c = collapse("text/event-stream", error.as_bytes());
        let e = c.error.clone().unwrap();
        assert_eq!(
            (e.status, e.message.as_str()),
            (500, "The server had an error")
        );
        assert_eq!(e.code, Some(json!("server_error")));
        assert_eq!(fixture(&c)["error"]["code"], "server_error");
    }

    #[test]
    fn a_stream_cut_short_is_truncated_but_keeps_its_text() {
        let bytes = golden("responses-stream-incomplete.sse");
        let c = collapse("text/event-stream", &bytes[..bytes.len() / 2]);
        assert!(c.truncated);
        assert!(c.content.starts_with("In the bustling"));
        let c = collapse("text/event-stream", b"data: {oops\n\n");
        assert_eq!(c.dropped, 1);
    }
}

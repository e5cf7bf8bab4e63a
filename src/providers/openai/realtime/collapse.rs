//! Reading one recorded Realtime turn (the upstream's server events from
//! `response.created` to `response.done`) into a [`Collapsed`], the way an HTTP
//! Responses stream is read: the output events are the same (`response.output_text.*`,
//! `response.output_item.*`, `response.function_call_arguments.*`), so the Responses
//! reader does the work; an audio reply's `response.output_audio_transcript.delta` is
//! its text (a fixture holds no audio), and `response.done` carries the outcome
//! (`completed`, `incomplete` with its reason, `failed` with its error, `cancelled`)
//! and usage.
//!
//! Also here: which upstream event opens, belongs to or ends a turn ([`mark`]), for the
//! record bridge. Not here: audio bytes (`response.output_audio.delta` is relayed, not
//! kept), the session events. Nothing here panics on upstream values.

use serde_json::Value;

use crate::providers::common::collapse::Collapsed;
use crate::providers::common::socket::Mark;
use crate::providers::openai::responses::collapse::{error_of, StreamReader};

/// What an upstream Realtime event is to a turn.
pub(super) fn mark(v: &Value) -> Mark {
    match v.get("type").and_then(Value::as_str).unwrap_or_default() {
        "response.created" => Mark::Start,
        "response.done" => Mark::End,
        // Realtime errors answer client events, not turns (a failed response is a
        // `response.done` with status `failed`).
        "error" => Mark::Error { ends_turn: false },
        t if t.starts_with("response.") && t.ends_with(".delta") => Mark::Slice,
        t if t.starts_with("response.") => Mark::Event,
        _ => Mark::Session,
    }
}

/// Read the events of one turn.
pub(super) fn collapse(events: &[Value]) -> Collapsed {
    let mut c = Collapsed::default();
    let mut reader = StreamReader::default();
    let mut done = false;
    for v in events {
        match v.get("type").and_then(Value::as_str).unwrap_or_default() {
            "response.output_audio_transcript.delta" => {
                reader.read("response.output_text.delta", v, &mut c)
            }
            "response.done" => {
                if let Some(r) = v.get("response") {
                    outcome(r, &mut c);
                }
                done = true;
            }
            "error" => {}
            kind => reader.read(kind, v, &mut c),
        }
    }
    if !done {
        c.truncated = true;
    }
    c
}

/// Status, usage and error of a finished `realtime.response`.
fn outcome(r: &Value, c: &mut Collapsed) {
    if let Some(u) = r.get("usage").filter(|u| u.is_object()) {
        let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
        c.usage = Some((n("input_tokens"), n("output_tokens")));
    }
    let details = r.get("status_details");
    let reason = details
        .and_then(|d| d.get("reason"))
        .and_then(Value::as_str);
    match r.get("status").and_then(Value::as_str) {
        Some("incomplete") => {
            c.finish_reason = Some(
                match reason {
                    Some("max_output_tokens") | None => "length",
                    Some("content_filter") => "content_filter",
                    Some(other) => other,
                }
                .to_string(),
            );
        }
        Some("failed") => {
            let e = details
                .and_then(|d| d.get("error"))
                .filter(|e| e.is_object())
                .map(error_of);
            c.error = Some(e.unwrap_or_else(|| {
                error_of(&serde_json::json!({"message": "Upstream response failed"}))
            }));
        }
        Some("cancelled") => {
            c.warnings.push(
                "the upstream response was cancelled; the fixture holds what it had sent".into(),
            );
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_text_turn_an_audio_transcript_and_a_function_call_collapse_like_http() {
        let events = vec![
            json!({"type": "response.created", "response": {"id": "resp_1"}}),
            json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "message"}}),
            json!({"type": "response.output_text.delta", "output_index": 0, "delta": "Hel"}),
            json!({"type": "response.output_audio_transcript.delta", "output_index": 0, "delta": "lo"}),
            json!({"type": "response.output_item.added", "output_index": 1,
                   "item": {"type": "function_call", "call_id": "call_9", "name": "f"}}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 1, "delta": "{\"a\""}),
            json!({"type": "response.function_call_arguments.done", "output_index": 1, "arguments": "{\"a\":1}"}),
            json!({"type": "response.done", "response": {"status": "completed",
                   "usage": {"input_tokens": 7, "output_tokens": 3}}}),
        ];
        let c = collapse(&events);
        assert_eq!(c.content, "Hello");
        assert_eq!(c.calls[0].id.as_deref(), Some("call_9"));
        assert_eq!(c.calls[0].arguments, "{\"a\":1}");
        assert_eq!(c.usage, Some((7, 3)));
        assert!(!c.truncated);
        assert_eq!(mark(&events[0]), Mark::Start);
        assert_eq!(mark(&events[2]), Mark::Slice);
        assert_eq!(mark(&events[7]), Mark::End);
        assert_eq!(mark(&json!({"type": "session.updated"})), Mark::Session);
    }

    #[test]
    fn a_failed_response_is_an_error_and_odd_events_do_not_panic() {
        let c = collapse(&[
            json!({"type": "response.done", "response": {"status": "failed",
            "status_details": {"error": {"code": "rate_limit_exceeded", "message": "slow"}}}}),
        ]);
        assert_eq!(c.error.as_ref().map(|e| e.status), Some(429));
        let c = collapse(&[
            json!(1),
            json!({"type": 5}),
            json!({"type": "response.done"}),
        ]);
        assert!(c.is_empty());
        assert_eq!(mark(&json!(null)), Mark::Session);
    }
}

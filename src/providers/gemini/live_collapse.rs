//! Reading one recorded Gemini Live turn (the upstream's messages from the first
//! `serverContent` after the client's turn to `turnComplete`, or to the `toolCall`
//! that hands the turn to the client) into a [`Collapsed`], the way a
//! `streamGenerateContent` reply is read: `serverContent.modelTurn` is a candidate's
//! content (text, thoughts, function calls, through the `generateContent` reader), an
//! audio reply's `outputTranscription` is its text (a fixture holds no audio), a
//! `toolCall` is its complete function calls with their ids, `usageMetadata` the usage
//! (`responseTokenCount` on Live, `candidatesTokenCount` elsewhere), an error frame an
//! error fixture.
//!
//! Also here: which upstream message opens, belongs to or ends a turn ([`mark`]), for
//! the record bridge. Live has no "turn started" message: the first content is it.
//! Not here: audio `inlineData` (relayed, noted in `_warnings`, not kept).

use serde_json::{json, Value};

use super::collapse::Reader;
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::socket::Mark;

/// What an upstream Live message is to a turn.
pub(super) fn mark(v: &Value) -> Mark {
    if v.get("error").is_some() {
        return Mark::Error { ends_turn: true };
    }
    if v.get("toolCall").is_some() {
        return Mark::End;
    }
    let Some(sc) = v.get("serverContent") else {
        // setupComplete, goAway, toolCallCancellation, sessionResumptionUpdate, a
        // usage report on its own.
        return Mark::Session;
    };
    if sc.get("turnComplete").and_then(Value::as_bool) == Some(true) {
        Mark::End
    } else if sc.get("modelTurn").is_some() || sc.get("outputTranscription").is_some() {
        Mark::Slice
    } else {
        Mark::Event
    }
}

/// Read the messages of one turn.
pub(super) fn collapse(events: &[Value]) -> Collapsed {
    let mut c = Collapsed::default();
    let mut reader = Reader::default();
    let mut ended = false;
    for v in events {
        if v.get("error").is_some() {
            reader.response(v, &mut c);
            ended = true;
            continue;
        }
        if let Some(calls) = v
            .pointer("/toolCall/functionCalls")
            .and_then(Value::as_array)
        {
            for fc in calls {
                let part = json!({ "functionCall": fc });
                reader.response(
                    &json!({"candidates": [{"content": {"parts": [part]}}]}),
                    &mut c,
                );
            }
            ended = true;
        }
        if let Some(sc) = v.get("serverContent") {
            if let Some(turn) = sc.get("modelTurn") {
                reader.response(&json!({"candidates": [{"content": turn}]}), &mut c);
            }
            if let Some(t) = sc
                .pointer("/outputTranscription/text")
                .and_then(Value::as_str)
            {
                c.push_text(t);
            }
            if sc.get("turnComplete").and_then(Value::as_bool) == Some(true) {
                ended = true;
            }
        }
        if let Some(u) = v.get("usageMetadata").filter(|u| u.is_object()) {
            let n = |k: &str| u.get(k).and_then(Value::as_u64);
            let output = n("responseTokenCount").or_else(|| n("candidatesTokenCount"));
            c.usage = Some((n("promptTokenCount").unwrap_or(0), output.unwrap_or(0)));
        }
    }
    reader.finish(&mut c);
    if !ended {
        c.truncated = true;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_slices_transcripts_tool_calls_and_usage_are_read() {
        let events = vec![
            json!({"serverContent": {"modelTurn": {"parts": [{"text": "Hel"}]}}}),
            json!({"serverContent": {"outputTranscription": {"text": "lo"}}}),
            json!({"serverContent": {"generationComplete": true}}),
            json!({"serverContent": {"turnComplete": true},
                   "usageMetadata": {"promptTokenCount": 4, "responseTokenCount": 2}}),
        ];
        let c = collapse(&events);
        assert_eq!(c.content, "Hello");
        assert_eq!(c.usage, Some((4, 2)));
        assert!(!c.truncated);
        assert_eq!(
            events.iter().map(mark).collect::<Vec<_>>(),
            [Mark::Slice, Mark::Slice, Mark::Event, Mark::End]
        );
        let call =
            json!({"toolCall": {"functionCalls": [{"id": "fc_1", "name": "f", "args": {"a": 1}}]}});
        let c = collapse(std::slice::from_ref(&call));
        assert_eq!(c.calls[0].id.as_deref(), Some("fc_1"));
        assert_eq!(c.calls[0].arguments, "{\"a\":1}");
        assert_eq!(mark(&call), Mark::End);
        assert_eq!(mark(&json!({"setupComplete": {}})), Mark::Session);
    }

    #[test]
    fn an_error_frame_is_an_error_and_garbage_does_not_panic() {
        let c = collapse(&[
            json!({"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED"}}),
        ]);
        assert_eq!(c.error.as_ref().map(|e| e.status), Some(429));
        let c = collapse(&[
            json!(null),
            json!({"toolCall": 3}),
            json!({"serverContent": []}),
        ]);
        assert!(c.calls.is_empty());
    }
}

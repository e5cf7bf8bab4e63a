//! AG-UI runs: reading a `RunAgentInput`, picking the fixture, and the events a run
//! streams (`text` expanded per run with the caller's `threadId`/`runId` and fresh
//! message ids; `events` as written, timestamps added).
//!
//! Not here: HTTP and SSE (`mod.rs`), recording (`record`).

use serde_json::{json, Map, Value};

use super::config::{AguiConfig, Answer, Fixture};
use crate::services::wire;

/// What matching reads from a run's input.
#[derive(Debug, Default)]
pub struct RunInput {
    /// `threadId` (fresh when absent).
    pub thread_id: String,
    /// `runId` (fresh when absent).
    pub run_id: String,
    /// The last user message's text.
    pub last_user_text: Option<String>,
    /// The tool call id of the last message, when it is a tool result.
    pub last_tool_call_id: Option<String>,
    /// The tools offered.
    pub tool_names: Vec<String>,
    /// The top-level keys of `state`.
    pub state_keys: Vec<String>,
}

fn message_text(m: &Value) -> Option<String> {
    match m.get("content") {
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(Value::Array(parts)) => {
            let t: Vec<&str> = parts
                .iter()
                .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            (!t.is_empty()).then(|| t.join(" ").trim().to_string())
        }
        _ => None,
    }
}

/// Read a request body. `Err` is the 400 message.
pub fn read(body: &[u8]) -> Result<RunInput, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("Invalid JSON body: {e}"))?;
    let Value::Object(o) = v else {
        return Err("Invalid input: the body must be a RunAgentInput object".into());
    };
    let id = |k: &str| match o.get(k) {
        None | Some(Value::Null) => Ok(wire::uuid()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("Invalid input: '{k}' must be a string")),
    };
    let thread_id = id("threadId")?;
    let run_id = id("runId")?;
    let messages = match o.get("messages") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err("Invalid input: 'messages' must be an array when provided".into()),
    };
    let last_user_text = messages
        .iter()
        .rev()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .find_map(message_text);
    let last_tool_call_id = messages
        .last()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("tool"))
        .and_then(|m| m.get("toolCallId").and_then(Value::as_str))
        .map(str::to_string);
    let tool_names = o
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    let state_keys = o
        .get("state")
        .and_then(Value::as_object)
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default();
    Ok(RunInput {
        thread_id,
        run_id,
        last_user_text,
        last_tool_call_id,
        tool_names,
        state_keys,
    })
}

/// Whether `f` answers `input`.
pub fn matches(f: &Fixture, input: &RunInput) -> bool {
    f.message.as_ref().is_none_or(|m| {
        input
            .last_user_text
            .as_deref()
            .is_some_and(|t| t.contains(m.as_str()))
    }) && f
        .tool_call_id
        .as_ref()
        .is_none_or(|id| input.last_tool_call_id.as_deref() == Some(id.as_str()))
        && f.tool_name
            .as_ref()
            .is_none_or(|n| input.tool_names.iter().any(|t| t == n))
        && f.state_key
            .as_ref()
            .is_none_or(|k| input.state_keys.iter().any(|s| s == k))
}

/// The first fixture answering `input`.
pub fn find<'a>(cfg: &'a AguiConfig, input: &RunInput) -> Option<&'a Fixture> {
    cfg.fixtures.iter().find(|f| matches(f, input))
}

/// The events of one run of `f`.
pub fn events(f: &Fixture, input: &RunInput) -> Vec<Value> {
    let now = wire::now_ms();
    match &f.answer {
        Answer::Text(text) => {
            let mid = wire::uuid();
            vec![
                json!({"type": "RUN_STARTED", "threadId": input.thread_id, "runId": input.run_id, "timestamp": now}),
                json!({"type": "TEXT_MESSAGE_START", "messageId": mid, "role": "assistant", "timestamp": now}),
                json!({"type": "TEXT_MESSAGE_CONTENT", "messageId": mid, "delta": text, "timestamp": now}),
                json!({"type": "TEXT_MESSAGE_END", "messageId": mid, "timestamp": now}),
                json!({"type": "RUN_FINISHED", "threadId": input.thread_id, "runId": input.run_id, "timestamp": now}),
            ]
        }
        Answer::Events(list) => list
            .iter()
            .map(|e| {
                let mut e = e.clone();
                substitute_ids(&mut e, input);
                if let Value::Object(m) = &mut e {
                    m.entry("timestamp").or_insert_with(|| json!(now));
                }
                e
            })
            .collect(),
    }
}

/// The placeholder a recorded event's thread id is kept as.
pub const THREAD_ID: &str = "{{threadId}}";
/// The placeholder a recorded event's run id is kept as.
pub const RUN_ID: &str = "{{runId}}";

fn substitute_ids(v: &mut Value, input: &RunInput) {
    match v {
        Value::String(s) if s == THREAD_ID => *s = input.thread_id.clone(),
        Value::String(s) if s == RUN_ID => *s = input.run_id.clone(),
        Value::Array(a) => a.iter_mut().for_each(|x| substitute_ids(x, input)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute_ids(x, input)),
        _ => {}
    }
}

/// A recorded event as kept: the recorded run's ids become placeholders (so a replay
/// echoes the caller's), the timestamp is dropped (a replay stamps its own).
pub fn keep(event: &Value, input: &RunInput) -> Value {
    fn walk(v: &mut Value, t: &str, r: &str) {
        match v {
            Value::String(s) if s == t => *s = THREAD_ID.into(),
            Value::String(s) if s == r => *s = RUN_ID.into(),
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, t, r)),
            Value::Object(m) => m.values_mut().for_each(|x| walk(x, t, r)),
            _ => {}
        }
    }
    let mut e = event.clone();
    if let Value::Object(m) = &mut e {
        m.remove("timestamp");
    }
    walk(&mut e, &input.thread_id, &input.run_id);
    e
}

/// The `match` a recorded run is saved under: the tool call it answers when the last
/// message is a tool result, else the last user message; `None` when neither exists.
pub fn recorded_match(input: &RunInput) -> Option<Map<String, Value>> {
    let mut m = Map::new();
    if let Some(id) = &input.last_tool_call_id {
        m.insert("toolCallId".into(), json!(id));
    } else if let Some(t) = &input.last_user_text {
        m.insert("message".into(), json!(t));
    } else {
        return None;
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: Value) -> AguiConfig {
        AguiConfig::parse(&v).unwrap()
    }

    #[test]
    fn matching_reads_the_last_user_text_tool_results_tools_and_state() {
        let c = cfg(json!({"fixtures": [
            {"match": {"toolCallId": "call_1"}, "text": "tool done"},
            {"match": {"message": "weather", "toolName": "get_weather"}, "text": "sunny"},
            {"match": {"stateKey": "cart"}, "text": "cart"},
        ]}));
        let input = read(br#"{"threadId":"t","runId":"r","messages":[{"id":"1","role":"user","content":[{"type":"text","text":"the weather?"}]}],
                             "tools":[{"name":"get_weather"}]}"#).unwrap();
        assert!(matches!(&find(&c, &input).unwrap().answer, Answer::Text(t) if t == "sunny"));
        let tool = read(br#"{"messages":[{"role":"user","content":"x"},{"role":"tool","toolCallId":"call_1","content":"42"}]}"#).unwrap();
        assert!(matches!(&find(&c, &tool).unwrap().answer, Answer::Text(t) if t == "tool done"));
        let state = read(br#"{"state":{"cart":[]}}"#).unwrap();
        assert!(matches!(&find(&c, &state).unwrap().answer, Answer::Text(t) if t == "cart"));
        assert!(find(&c, &read(b"{}").unwrap()).is_none());
    }

    #[test]
    fn text_runs_echo_the_callers_ids_with_fresh_message_ids() {
        let c = cfg(json!({"fixtures": [{"text": "hi"}]}));
        let input = read(br#"{"threadId":"th-1","runId":"run-1"}"#).unwrap();
        let a = events(&c.fixtures[0], &input);
        let b = events(&c.fixtures[0], &input);
        assert_eq!(a[0]["threadId"], "th-1");
        assert_eq!(a[4]["runId"], "run-1");
        assert_ne!(a[1]["messageId"], b[1]["messageId"]);
    }

    #[test]
    fn recorded_ids_become_placeholders_and_replay_as_the_callers() {
        let rec = read(br#"{"threadId":"T","runId":"R"}"#).unwrap();
        let kept = keep(
            &json!({"type":"RUN_STARTED","threadId":"T","runId":"R","timestamp":1}),
            &rec,
        );
        assert_eq!(
            kept,
            json!({"type":"RUN_STARTED","threadId":"{{threadId}}","runId":"{{runId}}"})
        );
        let c = cfg(json!({"fixtures": [{"events": [kept]}]}));
        let now = read(br#"{"threadId":"T2","runId":"R2"}"#).unwrap();
        let e = events(&c.fixtures[0], &now);
        assert_eq!(
            (e[0]["threadId"].as_str(), e[0]["runId"].as_str()),
            (Some("T2"), Some("R2"))
        );
        assert!(e[0]["timestamp"].is_u64());
    }

    #[test]
    fn bad_bodies_are_named() {
        assert!(read(b"{").unwrap_err().starts_with("Invalid JSON body"));
        assert!(read(br#"{"messages":{}}"#)
            .unwrap_err()
            .contains("'messages' must be an array"));
        assert!(read(br#"{"threadId":1}"#).unwrap_err().contains("threadId"));
        assert!(read(b"[]").is_err());
    }
}

//! The `agui` config section, read as the reference writes it:
//!
//! ```json
//! { "path": "/agui", "fixtures": [{
//!     "match": {"message"?, "toolCallId"?, "toolName"?, "stateKey"?},
//!     "text"?: "...", "events"?: [{"type": "RUN_STARTED", ...}], "delayMs"?: 20 }] }
//! ```
//!
//! A fixture has `text` (expanded per run into a run with one assistant message) or
//! `events` (sent as written, with two substitutions: the strings `{{threadId}}` and
//! `{{runId}}` become the caller's ids, which is how recordings are kept). Match
//! criteria are AND-ed; no criteria matches every run.

use anyhow::bail;
use serde_json::{Map, Value};

/// One fixture.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Substring of the last user message's text.
    pub message: Option<String>,
    /// The last message is a tool result for this call id.
    pub tool_call_id: Option<String>,
    /// The run offers a tool of this name.
    pub tool_name: Option<String>,
    /// The run's `state` holds this key.
    pub state_key: Option<String>,
    /// What it answers with.
    pub answer: Answer,
    /// Delay between events.
    pub delay: std::time::Duration,
}

/// A fixture's answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// One assistant message with this text, in a run of its own.
    Text(String),
    /// These events.
    Events(Vec<Value>),
}

/// The resolved `agui` section.
#[derive(Debug, Clone, Default)]
pub struct AguiConfig {
    /// Fixtures in order (first match wins).
    pub fixtures: Vec<Fixture>,
}

fn opt_string(m: &Map<String, Value>, key: &str, at: &str) -> anyhow::Result<Option<String>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => bail!("`{at}.{key}` must be a string"),
    }
}

impl AguiConfig {
    /// Read a section.
    pub fn parse(section: &Value) -> anyhow::Result<AguiConfig> {
        let Value::Object(s) = section else {
            bail!("must be an object");
        };
        let list = match s.get("fixtures") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => bail!("`fixtures` must be an array"),
        };
        let mut fixtures = Vec::new();
        for (i, f) in list.iter().enumerate() {
            let at = format!("fixtures[{i}]");
            let Value::Object(f) = f else {
                bail!("`{at}` must be an object");
            };
            let empty = Map::new();
            let m = match f.get("match") {
                None | Some(Value::Null) => &empty,
                Some(Value::Object(m)) => m,
                Some(_) => bail!("`{at}.match` must be an object"),
            };
            let mat = format!("{at}.match");
            let answer = match (f.get("text"), f.get("events")) {
                (Some(Value::String(t)), None) => Answer::Text(t.clone()),
                (None, Some(Value::Array(e))) => {
                    for (k, ev) in e.iter().enumerate() {
                        if !ev.get("type").is_some_and(Value::is_string) {
                            bail!("`{at}.events[{k}]` must be an object with a string `type`");
                        }
                    }
                    Answer::Events(e.clone())
                }
                (Some(_), Some(_)) => bail!("`{at}` has both `text` and `events`: give one"),
                (Some(_), None) => bail!("`{at}.text` must be a string"),
                (None, Some(_)) => bail!("`{at}.events` must be an array"),
                (None, None) => bail!("`{at}` needs `text` or `events`"),
            };
            fixtures.push(Fixture {
                message: opt_string(m, "message", &mat)?,
                tool_call_id: opt_string(m, "toolCallId", &mat)?,
                tool_name: opt_string(m, "toolName", &mat)?,
                state_key: opt_string(m, "stateKey", &mat)?,
                answer,
                delay: crate::services::wire::delay_ms(f.get("delayMs")),
            });
        }
        Ok(AguiConfig { fixtures })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fixtures_need_text_or_events_and_typed_criteria() {
        assert!(AguiConfig::parse(
            &json!({"fixtures": [{"match": {"message": "hi"}, "text": "yo"}]})
        )
        .is_ok());
        for (v, key) in [
            (
                json!({"fixtures": [{"match": {}}]}),
                "needs `text` or `events`",
            ),
            (json!({"fixtures": [{"text": "a", "events": []}]}), "both"),
            (
                json!({"fixtures": [{"match": {"message": 1}, "text": "a"}]}),
                "match.message",
            ),
            (json!({"fixtures": [{"events": [{}]}]}), "events[0]"),
            (json!({"fixtures": 1}), "fixtures"),
        ] {
            let e = AguiConfig::parse(&v).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }
}

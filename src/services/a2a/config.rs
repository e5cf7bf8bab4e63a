//! The `a2a` config section, read as the reference writes it:
//!
//! ```json
//! { "path": "/a2a", "agents": [{
//!     "name", "description"?, "version"?, "skills"?, "capabilities"?, "provider"?,
//!     "defaultInputModes"?, "defaultOutputModes"?,
//!     "messages"?: [{"pattern", "parts"}],
//!     "tasks"?: [{"pattern", "artifacts", "state"?}],
//!     "streamingTasks"?: [{"pattern", "events", "delayMs"?}] }] }
//! ```
//!
//! A `pattern` matches when it is a substring of the message's text (its text parts
//! joined with spaces), case-sensitive, as the reference; `""` matches everything.
//! Additions: a task's `state` (what it is left in; a non-terminal state lets a test
//! cancel it), the card fields the 1.0 spec requires, defaulted when absent.
//!
//! Stream `events` are `{"type": "status", "state"}` or `{"type": "artifact", "parts",
//! "name"?, "artifactId"?, "append"?, "lastChunk"?}`.

use anyhow::bail;
use serde_json::{Map, Value};

/// What a matched pattern answers with.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A message with these parts.
    Message(Vec<Value>),
    /// A task with these artifacts, left in `state`.
    Task {
        /// The artifacts.
        artifacts: Vec<Value>,
        /// The state the task ends in.
        state: String,
    },
    /// A task told as a stream of events.
    Stream {
        /// The events.
        events: Vec<Value>,
        /// Delay between events, ms.
        delay_ms: Option<Value>,
    },
}

/// One pattern of an agent.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The substring.
    pub pattern: String,
    /// The answer.
    pub answer: Answer,
}

/// One configured agent.
#[derive(Debug, Clone)]
pub struct Agent {
    /// The entry as written (card fields are read from it).
    pub def: Map<String, Value>,
    /// Its patterns: messages, then tasks, then streaming tasks, each in order.
    pub patterns: Vec<Pattern>,
}

/// The resolved `a2a` section.
#[derive(Debug, Clone, Default)]
pub struct A2aConfig {
    /// The agents in order (the card is the first's).
    pub agents: Vec<Agent>,
}

/// The states after which a task changes no more.
pub const TERMINAL: &[&str] = &[
    "TASK_STATE_COMPLETED",
    "TASK_STATE_FAILED",
    "TASK_STATE_CANCELED",
    "TASK_STATE_REJECTED",
];

/// Every state, for validation.
pub const STATES: &[&str] = &[
    "TASK_STATE_SUBMITTED",
    "TASK_STATE_WORKING",
    "TASK_STATE_COMPLETED",
    "TASK_STATE_FAILED",
    "TASK_STATE_CANCELED",
    "TASK_STATE_INPUT_REQUIRED",
    "TASK_STATE_REJECTED",
    "TASK_STATE_AUTH_REQUIRED",
];

fn list<'a>(agent: &'a Map<String, Value>, key: &str, at: &str) -> anyhow::Result<&'a [Value]> {
    match agent.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => bail!("`{at}.{key}` must be an array"),
    }
}

fn pattern_of(v: &Value, at: &str) -> anyhow::Result<String> {
    match v.get("pattern") {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => bail!("`{at}.pattern` must be a string"),
    }
}

fn array_of(v: &Value, key: &str, at: &str) -> anyhow::Result<Vec<Value>> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(_) => bail!("`{at}.{key}` must be an array"),
    }
}

impl A2aConfig {
    /// Read a section.
    pub fn parse(section: &Value) -> anyhow::Result<A2aConfig> {
        let Value::Object(s) = section else {
            bail!("must be an object");
        };
        let agents = match s.get("agents") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => bail!("`agents` must be an array"),
        };
        let mut out = Vec::new();
        for (i, a) in agents.iter().enumerate() {
            let at = format!("agents[{i}]");
            let Value::Object(def) = a else {
                bail!("`{at}` must be an object");
            };
            let mut patterns = Vec::new();
            for (j, m) in list(def, "messages", &at)?.iter().enumerate() {
                let at = format!("{at}.messages[{j}]");
                patterns.push(Pattern {
                    pattern: pattern_of(m, &at)?,
                    answer: Answer::Message(array_of(m, "parts", &at)?),
                });
            }
            for (j, t) in list(def, "tasks", &at)?.iter().enumerate() {
                let at = format!("{at}.tasks[{j}]");
                let state = match t.get("state") {
                    None | Some(Value::Null) => "TASK_STATE_COMPLETED".to_string(),
                    Some(Value::String(s)) if STATES.contains(&s.as_str()) => s.clone(),
                    Some(other) => bail!("`{at}.state` must be a TASK_STATE_* name, not {other}"),
                };
                patterns.push(Pattern {
                    pattern: pattern_of(t, &at)?,
                    answer: Answer::Task {
                        artifacts: array_of(t, "artifacts", &at)?,
                        state,
                    },
                });
            }
            for (j, t) in list(def, "streamingTasks", &at)?.iter().enumerate() {
                let at = format!("{at}.streamingTasks[{j}]");
                let events = array_of(t, "events", &at)?;
                for (k, e) in events.iter().enumerate() {
                    match e.get("type").and_then(Value::as_str) {
                        Some("status" | "artifact") => {}
                        _ => bail!("`{at}.events[{k}].type` must be \"status\" or \"artifact\""),
                    }
                }
                patterns.push(Pattern {
                    pattern: pattern_of(t, &at)?,
                    answer: Answer::Stream {
                        events,
                        delay_ms: t.get("delayMs").cloned(),
                    },
                });
            }
            out.push(Agent {
                def: def.clone(),
                patterns,
            });
        }
        Ok(A2aConfig { agents: out })
    }

    /// The first pattern (across agents, in order) matching `text`; with `streaming`,
    /// stream patterns are preferred (the reference's `SendStreamingMessage` reads only
    /// those), falling back to the others.
    pub fn find(&self, text: &str, streaming: bool) -> Option<&Pattern> {
        let all = || self.agents.iter().flat_map(|a| a.patterns.iter());
        let hit = |p: &&Pattern| text.contains(p.pattern.as_str());
        if streaming {
            if let Some(p) = all()
                .filter(|p| matches!(p.answer, Answer::Stream { .. }))
                .find(hit)
            {
                return Some(p);
            }
        }
        all().find(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns_match_substrings_in_order_and_streams_first_when_streaming() {
        let c = A2aConfig::parse(&json!({"agents": [{"name": "a",
            "messages": [{"pattern": "hello", "parts": [{"text": "hi"}]}],
            "streamingTasks": [{"pattern": "hello", "events": [{"type": "status", "state": "TASK_STATE_WORKING"}]}]}]}))
        .unwrap();
        assert!(matches!(
            c.find("say hello", false).unwrap().answer,
            Answer::Message(_)
        ));
        assert!(matches!(
            c.find("say hello", true).unwrap().answer,
            Answer::Stream { .. }
        ));
        assert!(c.find("bye", false).is_none());
    }

    #[test]
    fn bad_shapes_are_errors_naming_the_key() {
        for (v, key) in [
            (json!({"agents": {}}), "agents"),
            (
                json!({"agents": [{"messages": [{"parts": []}]}]}),
                "messages[0].pattern",
            ),
            (
                json!({"agents": [{"tasks": [{"pattern": "x", "state": "done"}]}]}),
                "state",
            ),
            (
                json!({"agents": [{"streamingTasks": [{"pattern": "x", "events": [{}]}]}]}),
                "type",
            ),
        ] {
            let e = A2aConfig::parse(&v).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }
}

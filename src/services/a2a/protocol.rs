//! A2A 1.0 shapes (the `lf.a2a.v1` protobuf's JSON form): the agent card, messages,
//! tasks, stream items; what a matched pattern turns into; and the 0.3 forms the 0.3
//! method names (`message/send`, ...) answer with.
//!
//! Not here: the method table and task state (`mod.rs`, `tasks`), HTTP.

use serde_json::{json, Map, Value};

use super::config::{A2aConfig, Answer, TERMINAL};
use crate::services::wire;

/// The protocol version the card and the `A2A-Version` header name.
pub const VERSION: &str = "1.0";

/// A method's 1.0 name, and whether it was called by its 0.3 name (whose callers
/// expect 0.3 shapes back).
pub fn canonical(method: &str) -> Option<(&'static str, bool)> {
    Some(match method {
        "SendMessage" => ("SendMessage", false),
        "SendStreamingMessage" => ("SendStreamingMessage", false),
        "GetTask" => ("GetTask", false),
        "CancelTask" => ("CancelTask", false),
        "ListTasks" => ("ListTasks", false),
        "SubscribeToTask" => ("SubscribeToTask", false),
        "GetExtendedAgentCard" => ("GetExtendedAgentCard", false),
        "CreateTaskPushNotificationConfig"
        | "GetTaskPushNotificationConfig"
        | "ListTaskPushNotificationConfigs"
        | "DeleteTaskPushNotificationConfig" => ("PushNotificationConfig", false),
        "message/send" => ("SendMessage", true),
        "message/stream" => ("SendStreamingMessage", true),
        "tasks/get" => ("GetTask", true),
        "tasks/cancel" => ("CancelTask", true),
        "tasks/list" => ("ListTasks", true),
        "tasks/resubscribe" => ("SubscribeToTask", true),
        "agent/getAuthenticatedExtendedCard" => ("GetExtendedAgentCard", true),
        "tasks/pushNotificationConfig/set"
        | "tasks/pushNotificationConfig/get"
        | "tasks/pushNotificationConfig/list"
        | "tasks/pushNotificationConfig/delete" => ("PushNotificationConfig", true),
        _ => return None,
    })
}

/// The agent card of the first agent, served at `<base>/.well-known/agent-card.json`.
/// Every field the 1.0 spec requires is present (`defaultInputModes`,
/// `defaultOutputModes`, skills with `id`/`description`/`tags`); `url` and
/// `preferredTransport` are kept for 0.3 clients.
pub fn card(cfg: &A2aConfig, base_url: &str) -> Value {
    let empty = Map::new();
    let def = cfg.agents.first().map(|a| &a.def).unwrap_or(&empty);
    let s = |k: &str, d: &str| def.get(k).and_then(Value::as_str).unwrap_or(d).to_string();
    let skills: Vec<Value> = def
        .get("skills")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|sk| {
            let mut sk = sk.clone();
            let name = sk
                .get("name")
                .or_else(|| sk.get("id"))
                .cloned()
                .unwrap_or_else(|| json!("skill"));
            sk.entry("id").or_insert_with(|| name.clone());
            sk.entry("name").or_insert(name);
            sk.entry("description").or_insert_with(|| json!(""));
            sk.entry("tags").or_insert_with(|| json!([]));
            Value::Object(sk)
        })
        .collect();
    let mut c = json!({
        "name": s("name", "a2a-mock"),
        "description": s("description", "A2A mock agent"),
        "version": s("version", "1.0.0"),
        "supportedInterfaces": [{"url": base_url, "protocolBinding": "JSONRPC", "protocolVersion": VERSION}],
        "capabilities": def.get("capabilities").cloned().unwrap_or_else(|| json!({"streaming": true, "pushNotifications": false})),
        "defaultInputModes": def.get("defaultInputModes").cloned().unwrap_or_else(|| json!(["text/plain"])),
        "defaultOutputModes": def.get("defaultOutputModes").cloned().unwrap_or_else(|| json!(["text/plain"])),
        "skills": skills,
        "url": base_url,
        "preferredTransport": "JSONRPC",
    });
    for k in ["provider", "documentationUrl", "iconUrl"] {
        if let Some(v) = def.get(k) {
            c[k] = v.clone();
        }
    }
    c
}

/// The text of a message: its text parts joined with spaces (1.0 `{text}` and 0.3
/// `{kind: "text", text}` alike).
pub fn text_of(message: &Value) -> String {
    message
        .get("parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A part in its 1.0 form: 0.3's `kind` dropped, `file` parts become `url`/`raw`.
pub fn part_v1(p: &Value) -> Value {
    let Value::Object(m) = p else {
        return p.clone();
    };
    let mut m = m.clone();
    m.remove("kind");
    if let Some(Value::Object(f)) = m.remove("file") {
        if let Some(u) = f.get("uri") {
            m.insert("url".into(), u.clone());
        }
        if let Some(b) = f.get("bytes") {
            m.insert("raw".into(), b.clone());
        }
        if let Some(t) = f.get("mimeType") {
            m.insert("mediaType".into(), t.clone());
        }
        if let Some(n) = f.get("name") {
            m.insert("filename".into(), n.clone());
        }
    }
    if let Some(t) = m.remove("mimeType") {
        m.entry("mediaType").or_insert(t);
    }
    Value::Object(m)
}

fn parts_v1(parts: &[Value]) -> Vec<Value> {
    parts.iter().map(part_v1).collect()
}

fn artifact_v1(a: &Value) -> Value {
    let mut out = Map::new();
    out.insert(
        "artifactId".into(),
        a.get("artifactId")
            .cloned()
            .unwrap_or_else(|| Value::String(wire::fresh_id("artifact"))),
    );
    for k in ["name", "description", "metadata"] {
        if let Some(v) = a.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    let parts = a
        .get("parts")
        .and_then(Value::as_array)
        .map(|p| parts_v1(p))
        .unwrap_or_default();
    out.insert("parts".into(), Value::Array(parts));
    Value::Object(out)
}

fn status(state: &str) -> Value {
    json!({"state": state, "timestamp": wire::now_rfc3339()})
}

/// The user's message as kept in a task's history (1.0 form, ids filled in).
pub fn user_message(msg: &Value, task_id: &str, context_id: &str) -> Value {
    let mut m = msg.as_object().cloned().unwrap_or_default();
    m.remove("kind");
    m.entry("messageId")
        .or_insert_with(|| Value::String(wire::fresh_id("msg")));
    m.insert("role".into(), json!("ROLE_USER"));
    m.insert("taskId".into(), json!(task_id));
    m.insert("contextId".into(), json!(context_id));
    let parts = m
        .get("parts")
        .and_then(Value::as_array)
        .map(|p| parts_v1(p))
        .unwrap_or_default();
    m.insert("parts".into(), Value::Array(parts));
    Value::Object(m)
}

/// What a matched pattern produced for one call.
pub struct Built {
    /// The task, when the answer is one (as stored, in its final state).
    pub task: Option<Value>,
    /// The message, when the answer is one.
    pub message: Option<Value>,
    /// The stream items (`StreamResponse`s) a streaming call sends, in order.
    pub stream: Vec<Value>,
}

/// Build the answer to a message. `context_id` is the caller's or a fresh one.
pub fn build(answer: &Answer, user: &Value) -> Built {
    let context_id = user
        .get("contextId")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| wire::fresh_id("ctx"));
    match answer {
        Answer::Message(parts) => {
            let m = json!({"messageId": wire::fresh_id("msg"), "contextId": context_id,
                           "role": "ROLE_AGENT", "parts": parts_v1(parts)});
            Built {
                task: None,
                stream: vec![json!({ "message": m })],
                message: Some(m),
            }
        }
        Answer::Task { artifacts, state } => {
            let id = wire::fresh_id("task");
            let artifacts: Vec<Value> = artifacts.iter().map(artifact_v1).collect();
            let task = json!({"id": id, "contextId": context_id, "status": status(state),
                              "artifacts": artifacts, "history": [user_message(user, &id, &context_id)]});
            // The stream: the task as it starts, its artifacts, then its final status.
            let mut stream = vec![json!({"task": {"id": id, "contextId": context_id,
                "status": status("TASK_STATE_WORKING"), "history": task["history"]}})];
            for a in &artifacts {
                stream.push(
                    json!({"artifactUpdate": {"taskId": id, "contextId": context_id,
                    "artifact": a, "append": false, "lastChunk": true}}),
                );
            }
            stream.push(json!({"statusUpdate": {"taskId": id, "contextId": context_id, "status": task["status"]}}));
            Built {
                task: Some(task),
                message: None,
                stream,
            }
        }
        Answer::Stream { events, .. } => {
            let id = wire::fresh_id("task");
            let history = json!([user_message(user, &id, &context_id)]);
            let mut stream = vec![json!({"task": {"id": id, "contextId": context_id,
                "status": status("TASK_STATE_WORKING"), "history": history}})];
            let mut artifacts: Vec<Value> = Vec::new();
            let mut state = "TASK_STATE_WORKING".to_string();
            let mut names: Map<String, Value> = Map::new();
            for e in events {
                if e.get("type").and_then(Value::as_str) == Some("status") {
                    state = e
                        .get("state")
                        .and_then(Value::as_str)
                        .unwrap_or("TASK_STATE_WORKING")
                        .to_string();
                    stream.push(json!({"statusUpdate": {"taskId": id, "contextId": context_id, "status": status(&state)}}));
                    continue;
                }
                // Chunks of one artifact share its id: by `artifactId`, else by name.
                let key = e
                    .get("artifactId")
                    .or_else(|| e.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let aid = names
                    .entry(key)
                    .or_insert_with(|| {
                        e.get("artifactId")
                            .cloned()
                            .unwrap_or_else(|| Value::String(wire::fresh_id("artifact")))
                    })
                    .clone();
                let mut a = artifact_v1(e);
                a["artifactId"] = aid.clone();
                if let Some(m) = a.as_object_mut() {
                    m.remove("type");
                }
                let append = e.get("append").and_then(Value::as_bool).unwrap_or(false);
                let last = e.get("lastChunk").and_then(Value::as_bool).unwrap_or(true);
                match artifacts.iter_mut().find(|x| x["artifactId"] == aid) {
                    Some(x) if append => {
                        if let (Some(p), Some(more)) =
                            (x["parts"].as_array_mut(), a["parts"].as_array())
                        {
                            p.extend(more.iter().cloned());
                        }
                    }
                    Some(x) => *x = a.clone(),
                    None => artifacts.push(a.clone()),
                }
                stream.push(
                    json!({"artifactUpdate": {"taskId": id, "contextId": context_id,
                    "artifact": a, "append": append, "lastChunk": last}}),
                );
            }
            if !TERMINAL.contains(&state.as_str()) && state != "TASK_STATE_INPUT_REQUIRED" {
                state = "TASK_STATE_COMPLETED".into();
                stream.push(json!({"statusUpdate": {"taskId": id, "contextId": context_id, "status": status(&state)}}));
            }
            let task = json!({"id": id, "contextId": context_id, "status": status(&state),
                              "artifacts": artifacts, "history": history});
            Built {
                task: Some(task),
                message: None,
                stream,
            }
        }
    }
}

/// A 1.0 state as 0.3 spells it (`TASK_STATE_INPUT_REQUIRED` → `input-required`).
pub fn state_v03(s: &str) -> String {
    s.strip_prefix("TASK_STATE_")
        .unwrap_or(s)
        .to_ascii_lowercase()
        .replace('_', "-")
}

fn part_v03(p: &Value) -> Value {
    let Value::Object(m) = p else {
        return p.clone();
    };
    if let Some(t) = m.get("text") {
        return json!({"kind": "text", "text": t});
    }
    if let Some(d) = m.get("data") {
        return json!({"kind": "data", "data": d});
    }
    let mut file = Map::new();
    if let Some(u) = m.get("url") {
        file.insert("uri".into(), u.clone());
    }
    if let Some(b) = m.get("raw") {
        file.insert("bytes".into(), b.clone());
    }
    if let Some(t) = m.get("mediaType") {
        file.insert("mimeType".into(), t.clone());
    }
    if let Some(n) = m.get("filename") {
        file.insert("name".into(), n.clone());
    }
    json!({"kind": "file", "file": file})
}

fn parts_v03(v: &Value) -> Value {
    Value::Array(v.as_array().into_iter().flatten().map(part_v03).collect())
}

fn status_v03(s: &Value) -> Value {
    let mut out =
        json!({"state": state_v03(s["state"].as_str().unwrap_or("")), "timestamp": s["timestamp"]});
    if let Some(m) = s.get("message") {
        out["message"] = message_v03(m);
    }
    out
}

/// A 1.0 message in 0.3 form.
pub fn message_v03(m: &Value) -> Value {
    let mut out = m.as_object().cloned().unwrap_or_default();
    out.insert("kind".into(), json!("message"));
    let role = match m["role"].as_str() {
        Some("ROLE_USER") => "user",
        _ => "agent",
    };
    out.insert("role".into(), json!(role));
    out.insert("parts".into(), parts_v03(&m["parts"]));
    Value::Object(out)
}

fn artifact_v03(a: &Value) -> Value {
    let mut out = a.as_object().cloned().unwrap_or_default();
    out.insert("parts".into(), parts_v03(&a["parts"]));
    Value::Object(out)
}

/// A 1.0 task in 0.3 form.
pub fn task_v03(t: &Value) -> Value {
    let mut out = json!({"kind": "task", "id": t["id"], "contextId": t["contextId"], "status": status_v03(&t["status"])});
    if let Some(a) = t.get("artifacts").and_then(Value::as_array) {
        out["artifacts"] = Value::Array(a.iter().map(artifact_v03).collect());
    }
    if let Some(h) = t.get("history").and_then(Value::as_array) {
        out["history"] = Value::Array(h.iter().map(message_v03).collect());
    }
    out
}

/// A 1.0 stream item (`StreamResponse`) in 0.3 form (the event itself, with `kind`).
pub fn stream_item_v03(item: &Value) -> Value {
    if let Some(t) = item.get("task") {
        return task_v03(t);
    }
    if let Some(m) = item.get("message") {
        return message_v03(m);
    }
    if let Some(s) = item.get("statusUpdate") {
        let state = s["status"]["state"].as_str().unwrap_or("");
        return json!({"kind": "status-update", "taskId": s["taskId"], "contextId": s["contextId"],
                      "status": status_v03(&s["status"]),
                      "final": TERMINAL.contains(&state) || state == "TASK_STATE_INPUT_REQUIRED"});
    }
    if let Some(a) = item.get("artifactUpdate") {
        return json!({"kind": "artifact-update", "taskId": a["taskId"], "contextId": a["contextId"],
                      "artifact": artifact_v03(&a["artifact"]), "append": a["append"], "lastChunk": a["lastChunk"]});
    }
    item.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_task_starts_with_the_task_and_ends_with_a_terminal_status() {
        let ans = Answer::Stream {
            events: vec![
                json!({"type": "status", "state": "TASK_STATE_WORKING"}),
                json!({"type": "artifact", "name": "out", "parts": [{"text": "a"}], "lastChunk": false}),
                json!({"type": "artifact", "name": "out", "parts": [{"text": "b"}], "append": true}),
            ],
            delay_ms: None,
        };
        let b = build(&ans, &json!({"parts": [{"text": "go"}], "contextId": "c1"}));
        assert!(b.stream[0].get("task").is_some());
        let last = b.stream.last().unwrap();
        assert_eq!(
            last["statusUpdate"]["status"]["state"],
            "TASK_STATE_COMPLETED"
        );
        let a1 = &b.stream[2]["artifactUpdate"]["artifact"]["artifactId"];
        let a2 = &b.stream[3]["artifactUpdate"]["artifact"]["artifactId"];
        assert_eq!(a1, a2);
        let task = b.task.unwrap();
        assert_eq!(task["contextId"], "c1");
        assert_eq!(
            task["artifacts"][0]["parts"],
            json!([{"text": "a"}, {"text": "b"}])
        );
    }

    #[test]
    fn v03_forms_have_kinds_lowercase_states_and_file_parts() {
        assert_eq!(state_v03("TASK_STATE_INPUT_REQUIRED"), "input-required");
        let t = task_v03(
            &json!({"id": "t", "contextId": "c", "status": {"state": "TASK_STATE_COMPLETED"},
            "artifacts": [{"artifactId": "a", "parts": [{"url": "http://x/y.png", "mediaType": "image/png"}]}]}),
        );
        assert_eq!(t["kind"], "task");
        assert_eq!(t["status"]["state"], "completed");
        assert_eq!(
            t["artifacts"][0]["parts"][0],
            json!({"kind": "file", "file": {"uri": "http://x/y.png", "mimeType": "image/png"}})
        );
        assert_eq!(
            part_v1(&json!({"kind": "text", "text": "x"})),
            json!({"text": "x"})
        );
    }
}

//! The shape of a reply, and how two shapes differ: pure functions, no I/O.
//!
//! A shape is the set of key paths a reply holds, each with the JSON types seen there
//! (array elements merged under `[]`), plus, for a stream, the order its event types
//! first appear in; a stream's paths are kept per event type (`event[type].path`).
//! Values are not compared, except the text a model writes (`content`, `text`,
//! `arguments`, ...), whose change is only worth an `info`: a live model answers
//! differently every time.
//!
//! Levels: a path or event our render has and the live reply lacks, a type that
//! differs, an event order that differs, or another status class is `critical` (our
//! mock promises something the provider no longer sends); a path or event the live
//! reply has and our render lacks is a `warning` (the provider added something).
//!
//! Not here: sending the requests, reading cassettes, printing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::codec::sse::SseDecoder;

/// How bad a difference is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Content changed: expected of a live model.
    Info,
    /// The provider sends something new our render does not.
    Warning,
    /// Our render differs in shape from what the provider sends now.
    Critical,
}

impl Level {
    /// The word the report uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }
}

/// One difference, at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// How bad it is.
    pub level: Level,
    /// Where: a key path (`choices[].message.content`), `event[type]`, or `status`.
    pub path: String,
    /// What differs, in a sentence.
    pub message: String,
}

/// Keys whose string values are the model's own words.
const TEXT_KEYS: &[&str] = &[
    "content",
    "text",
    "arguments",
    "partial_json",
    "thinking",
    "delta",
    "response",
    "refusal",
    "output_text",
];

/// What a reply looks like.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    /// The HTTP status.
    pub status: u16,
    /// Whether the body was a stream (SSE or NDJSON).
    pub stream: bool,
    /// Key path to the JSON types seen there.
    pub paths: BTreeMap<String, BTreeSet<&'static str>>,
    /// Event types in the order they first appear (streams only).
    pub events: Vec<String>,
    /// Key path to the text the model wrote there, concatenated.
    pub texts: BTreeMap<String, String>,
    /// A body that is none of JSON, SSE or NDJSON (binary audio, EventStream frames):
    /// only its status and length are known.
    pub opaque: bool,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Shape {
    /// The shape of a reply with this status, content type and body.
    pub fn of(status: u16, content_type: &str, body: &[u8]) -> Shape {
        let mut s = Shape {
            status,
            ..Shape::default()
        };
        let ct = content_type.to_ascii_lowercase();
        if ct.contains("event-stream") {
            s.stream = true;
            let events = crate::codec::decode_all(&mut SseDecoder::new(), body).unwrap_or_default();
            for ev in events {
                let data: Option<Value> = serde_json::from_str(&ev.data).ok();
                let kind = match (&ev.event, &data) {
                    (Some(e), _) if !e.is_empty() => e.clone(),
                    (_, Some(Value::Object(o))) => o
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("chunk")
                        .to_string(),
                    _ if ev.data.trim() == "[DONE]" => "[DONE]".into(),
                    _ => "chunk".into(),
                };
                s.event(&kind, data.as_ref());
            }
        } else if ct.contains("ndjson") || (ct.contains("json") && is_ndjson(body)) {
            s.stream = true;
            for line in body.split(|b| *b == b'\n') {
                if let Ok(v) = serde_json::from_slice::<Value>(line) {
                    let kind = match v.get("done").and_then(Value::as_bool) {
                        Some(true) => "done",
                        _ => "chunk",
                    };
                    s.event(kind, Some(&v));
                }
            }
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(v) => s.walk(&v, String::new(), ""),
                Err(_) => s.opaque = true,
            }
        }
        s
    }

    fn event(&mut self, kind: &str, data: Option<&Value>) {
        if !self.events.iter().any(|e| e == kind) {
            self.events.push(kind.to_string());
        }
        let prefix = format!("event[{kind}]");
        self.paths.entry(prefix.clone()).or_default();
        if let Some(v) = data {
            self.walk(v, prefix, "");
        }
    }

    fn walk(&mut self, v: &Value, path: String, key: &str) {
        if !path.is_empty() {
            self.paths
                .entry(path.clone())
                .or_default()
                .insert(type_name(v));
        }
        match v {
            Value::Object(o) => {
                for (k, x) in o {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    self.walk(x, p, k);
                }
            }
            Value::Array(a) => {
                for x in a {
                    self.walk(x, format!("{path}[]"), key);
                }
            }
            Value::String(t) if TEXT_KEYS.contains(&key) => {
                self.texts.entry(path).or_default().push_str(t);
            }
            _ => {}
        }
    }
}

/// A body of several JSON lines (Ollama streams as `application/x-ndjson`, but some
/// servers label it plain JSON).
fn is_ndjson(body: &[u8]) -> bool {
    let lines: Vec<&[u8]> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect();
    lines.len() > 1
        && lines
            .iter()
            .all(|l| serde_json::from_slice::<Value>(l).is_ok())
}

/// How `live` (what the provider sends now) differs from `render` (what aimock sends
/// for the same request), worst first, then by path.
pub fn compare(live: &Shape, render: &Shape) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut push = |level, path: &str, message: String| {
        out.push(Difference {
            level,
            path: path.to_string(),
            message,
        })
    };
    let class = |s: u16| s / 100;
    if class(live.status) != class(render.status) {
        push(
            Level::Critical,
            "status",
            format!(
                "the live reply is {}, our render {}",
                live.status, render.status
            ),
        );
    }
    if live.stream != render.stream {
        let word = |s: bool| if s { "a stream" } else { "one body" };
        push(
            Level::Critical,
            "body",
            format!(
                "the live reply is {}, our render {}",
                word(live.stream),
                word(render.stream)
            ),
        );
    }
    if live.opaque || render.opaque {
        // Nothing to compare key by key.
        return sorted(out);
    }
    for e in &render.events {
        if !live.events.contains(e) {
            push(
                Level::Critical,
                &format!("event[{e}]"),
                "our render sends this event; the live stream does not (renamed or dropped)".into(),
            );
        }
    }
    for e in &live.events {
        if !render.events.contains(e) {
            push(
                Level::Warning,
                &format!("event[{e}]"),
                "the live stream sends this event; our render does not".into(),
            );
        }
    }
    let common_live: Vec<&String> = live
        .events
        .iter()
        .filter(|e| render.events.contains(e))
        .collect();
    let common_render: Vec<&String> = render
        .events
        .iter()
        .filter(|e| live.events.contains(e))
        .collect();
    if common_live != common_render {
        push(
            Level::Critical,
            "events",
            format!(
                "the events come in another order: live {}, our render {}",
                join(&common_live),
                join(&common_render)
            ),
        );
    }
    // Only the outermost missing or added path is reported: its children go with it.
    // The paths of an event only one side sends go with that event.
    let under = |p: &str, set: &[String]| {
        set.iter()
            .any(|q| p.starts_with(q.as_str()) && p[q.len()..].starts_with(['.', '[']))
    };
    let mut dropped: Vec<String> = render
        .events
        .iter()
        .filter(|e| !live.events.contains(e))
        .map(|e| format!("event[{e}]"))
        .collect();
    for (p, types) in &render.paths {
        match live.paths.get(p) {
            None => {
                if under(p, &dropped) || is_event_root(p) {
                    continue;
                }
                dropped.push(p.clone());
                push(
                    Level::Critical,
                    p,
                    format!(
                        "our render has it ({}); the live reply does not",
                        types_text(types)
                    ),
                );
            }
            Some(lt) => {
                let a: BTreeSet<_> = lt.iter().filter(|t| **t != "null").collect();
                let b: BTreeSet<_> = types.iter().filter(|t| **t != "null").collect();
                if !a.is_empty() && !b.is_empty() && a.is_disjoint(&b) {
                    push(
                        Level::Critical,
                        p,
                        format!(
                            "the live reply has {}, our render {}",
                            types_text(lt),
                            types_text(types)
                        ),
                    );
                }
            }
        }
    }
    let mut added: Vec<String> = live
        .events
        .iter()
        .filter(|e| !render.events.contains(e))
        .map(|e| format!("event[{e}]"))
        .collect();
    for (p, types) in &live.paths {
        if render.paths.contains_key(p) || under(p, &added) || is_event_root(p) {
            continue;
        }
        added.push(p.clone());
        push(
            Level::Warning,
            p,
            format!(
                "the live reply has it ({}); our render does not",
                types_text(types)
            ),
        );
    }
    for (p, text) in &live.texts {
        if let Some(ours) = render.texts.get(p) {
            if ours != text {
                push(
                    Level::Info,
                    p,
                    "the content changed (expected of a live model)".into(),
                );
            }
        }
    }
    sorted(out)
}

/// `event[type]` itself (its presence is reported as an event, not a path).
fn is_event_root(p: &str) -> bool {
    p.starts_with("event[") && p.ends_with(']') && !p[6..p.len() - 1].contains(['[', ']'])
}

fn join(v: &[&String]) -> String {
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" → ")
}

fn types_text(t: &BTreeSet<&'static str>) -> String {
    t.iter().copied().collect::<Vec<_>>().join(" or ")
}

fn sorted(mut v: Vec<Difference>) -> Vec<Difference> {
    v.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| a.path.cmp(&b.path)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(v: Value) -> Shape {
        Shape::of(200, "application/json", v.to_string().as_bytes())
    }

    fn levels(d: &[Difference]) -> Vec<(Level, &str)> {
        d.iter().map(|d| (d.level, d.path.as_str())).collect()
    }

    #[test]
    fn an_added_field_warns_a_dropped_one_is_critical_and_new_text_is_info() {
        let render = json(
            serde_json::json!({"choices": [{"message": {"content": "hi", "refusal": null}}], "usage": {"total_tokens": 3}}),
        );
        let live = json(
            serde_json::json!({"choices": [{"message": {"content": "hello", "annotations": []}}], "usage": {"total_tokens": 9}}),
        );
        let d = compare(&live, &render);
        assert_eq!(
            levels(&d),
            [
                (Level::Critical, "choices[].message.refusal"),
                (Level::Warning, "choices[].message.annotations"),
                (Level::Info, "choices[].message.content"),
            ],
            "{d:?}"
        );
        // The same reply again: nothing.
        assert!(compare(&render, &render).is_empty());
    }

    #[test]
    fn a_changed_type_is_critical_and_null_is_compatible_with_anything() {
        let render = json(serde_json::json!({"created": 1, "x": null, "obj": {"a": 1}}));
        let live =
            json(serde_json::json!({"created": "1", "x": "s", "obj": {"a": 1, "b": {"c": [1]}}}));
        let d = compare(&live, &render);
        assert_eq!(
            levels(&d),
            [(Level::Critical, "created"), (Level::Warning, "obj.b")],
            "only the outermost added path: {d:?}"
        );
    }

    #[test]
    fn streams_compare_event_by_event_by_type() {
        let sse = |evs: &[(&str, &str)]| {
            let mut s = String::new();
            for (e, d) in evs {
                s.push_str(&format!("event: {e}\ndata: {d}\n\n"));
            }
            Shape::of(200, "text/event-stream", s.as_bytes())
        };
        let render = sse(&[
            ("message_start", r#"{"message":{"id":"m"}}"#),
            ("content_block_delta", r#"{"delta":{"text":"a"}}"#),
            ("content_block_delta", r#"{"delta":{"text":"b"}}"#),
            ("message_stop", "{}"),
        ]);
        assert_eq!(
            render.events,
            ["message_start", "content_block_delta", "message_stop"]
        );
        let renamed = sse(&[
            ("message_start", r#"{"message":{"id":"m"}}"#),
            ("content_block_delta", r#"{"delta":{"text":"ab"}}"#),
            ("message_end", "{}"),
        ]);
        let d = compare(&renamed, &render);
        assert_eq!(
            levels(&d),
            [
                (Level::Critical, "event[message_stop]"),
                (Level::Warning, "event[message_end]"),
            ],
            "{d:?}"
        );
        let reordered = sse(&[
            ("content_block_delta", r#"{"delta":{"text":"ab"}}"#),
            ("message_start", r#"{"message":{"id":"m"}}"#),
            ("message_stop", "{}"),
        ]);
        assert_eq!(
            levels(&compare(&reordered, &render)),
            [(Level::Critical, "events")]
        );
        // OpenAI chat chunks carry no type: `chunk`, then `[DONE]`.
        let chat = Shape::of(
            200,
            "text/event-stream",
            b"data: {\"choices\":[]}\n\ndata: [DONE]\n\n",
        );
        assert_eq!(chat.events, ["chunk", "[DONE]"]);
    }

    #[test]
    fn status_class_and_body_kind_differences_are_critical() {
        let ok = json(serde_json::json!({"a": 1}));
        let mut err = json(serde_json::json!({"error": {"message": "x"}}));
        err.status = 400;
        let d = compare(&err, &ok);
        assert!(
            d.iter()
                .any(|x| x.path == "status" && x.level == Level::Critical),
            "{d:?}"
        );
        let bin = Shape::of(200, "audio/mpeg", b"\xff\xfb\x90");
        assert!(bin.opaque);
        let ndjson = Shape::of(
            200,
            "application/x-ndjson",
            b"{\"done\":false}\n{\"done\":true}\n",
        );
        assert_eq!(ndjson.events, ["chunk", "done"]);
        let d = compare(&ndjson, &ok);
        assert!(
            d.iter()
                .any(|x| x.path == "body" && x.level == Level::Critical),
            "{d:?}"
        );
    }
}

//! What an official SDK ends up with from a reply body: the view the golden-captures
//! test compares between a real capture and its strict replay.
//!
//! A stream is assembled the way the provider's SDK assembles it (text deltas
//! concatenated, tool-call argument fragments joined per call, content blocks built
//! from their start/delta/stop events), so a replay that re-chunks the text gives the
//! same view; a JSON body is its JSON value. Then the fields a replay legitimately
//! regenerates, and the framing no SDK exposes (Bedrock's `p` padding), are removed
//! from the view: [`REGENERATED`] lists them per provider. Null members are dropped
//! (an SDK model reads an absent optional field and a null one alike).
//!
//! Per protocol (picked from the request path and the body's framing):
//! - OpenAI chat SSE (OpenAI, Azure, OpenRouter, Groq, Mistral, DeepSeek, ...): the
//!   chunks folded like the `openai` SDK's `ChatCompletionStreamState`: envelope fields
//!   merged (last non-null wins, so `usage`, `x_groq`, `provider`, `cost` all land),
//!   `choices` by `index`, each `delta` accumulated into a `message` (content, refusal,
//!   reasoning text and `tool_calls` by `index` with `arguments` fragments joined),
//!   `logprobs.content` entries appended, `finish_reason` kept; an in-band `error`
//!   chunk is kept as it came.
//! - OpenAI Responses SSE: the final response object (`response.completed`,
//!   `.incomplete` or `.failed`), the `output_item.done` items in order, and any
//!   `error` event.
//! - Anthropic Messages SSE (also inside Bedrock invoke chunks): the message built
//!   like the `anthropic` SDK's accumulator: `message_start`, blocks from
//!   `content_block_start`, `text_delta`/`thinking_delta` joined, `signature_delta`,
//!   `citations_delta` appended, `input_json_delta` joined and parsed at the block's
//!   stop, `message_delta`'s delta and usage laid over the message; `event: error`
//!   payloads kept.
//! - Gemini SSE or JSON array: the chunks' candidates merged by index, adjacent text
//!   parts of the same kind (thought or not) joined, every other part kept in order,
//!   candidate and envelope fields last non-null wins.
//! - Bedrock ConverseStream: content blocks by `contentBlockIndex` (start and deltas
//!   accumulated), `messageStop` and `metadata` laid over the top.
//! - Bedrock InvokeModelWithResponseStream: each chunk's `bytes` decoded; an
//!   Anthropic stream is assembled as above, any other family folds its events per
//!   generation `index` with the delta fields joined.
//! - Cohere v2 SSE: the message (content by index, `tool_plan` joined, tool calls by
//!   index with arguments joined, citations in order) plus `message-end`'s
//!   `finish_reason`, `usage` and error.
//! - Ollama NDJSON: the lines folded with `content`, `thinking`, `response` joined
//!   and `tool_calls` appended, the `done` fields of the last line.
//!
//! Not here: the SDKs' typed models (the e2e suite drives the real SDKs) and byte
//! comparisons (the golden test checks the relay byte for byte itself).
//!
//! Rejected: comparing replayed stream bytes (a replay re-chunks the text from the
//! fixture, which no SDK user can observe), and comparing only the set of keys (it
//! misses changed values).

use aimock::codec::decode_all;
use aimock::codec::eventstream::EventStreamDecoder;
use aimock::codec::ndjson::LineDecoder;
use aimock::codec::sse::SseDecoder;
use base64::Engine;
use serde_json::{json, Map, Value};

/// Fields a replay regenerates, as `(provider, a substring of the request path,
/// paths into the view)` (`*` is any array element or object key). Only these are
/// ignored; everything else must survive, recorded ids and timestamps included (the
/// collapse pins the response id and creation time in the fixture).
///
/// - Bedrock: `latencyMs` and the invocation latencies are timings of the call that
///   served the replay, not of the recorded one; `p` is EventStream padding that no
///   SDK parses.
/// - Ollama: `created_at` and the `*_duration` timings are measured per call.
/// - Vertex: `createTime` is the time of the call (the fixture format has no place to
///   pin an RFC 3339 timestamp).
/// - Cohere embed (direct or through Bedrock): the response `id`; an embedding fixture
///   holds vectors, not an envelope.
/// - OpenAI chat streams (any provider): `obfuscation`, the per-chunk random padding
///   OpenAI adds against length side channels; it belongs to the chunking, which a
///   replay redoes.
/// - Responses (any provider): the `id` of each output item (`msg_…`, `rs_…`,
///   `fc_…`): fixture items have no place for an item id yet; the response id, call
///   ids (`call_id`) and everything else are kept.
pub const REGENERATED: &[(&str, &str, &[&str])] = &[
    (
        "bedrock",
        "",
        &[
            "metrics/latencyMs",
            "p",
            "*/p",
            "events/*/amazon-bedrock-invocationMetrics/invocationLatency",
            "events/*/amazon-bedrock-invocationMetrics/firstByteLatency",
            "amazon-bedrock-invocationMetrics/invocationLatency",
            "amazon-bedrock-invocationMetrics/firstByteLatency",
            "message/amazon-bedrock-invocationMetrics/invocationLatency",
            "message/amazon-bedrock-invocationMetrics/firstByteLatency",
        ],
    ),
    ("bedrock", "cohere.embed", &["id"]),
    ("cohere", "/embed", &["id"]),
    (
        "ollama",
        "/api/",
        &[
            "created_at",
            "total_duration",
            "load_duration",
            "prompt_eval_duration",
            "eval_duration",
        ],
    ),
    ("vertex", "", &["createTime"]),
    ("*", "/chat/completions", &["obfuscation"]),
    (
        "*",
        "/responses",
        &["response/output/*/id", "output/*/id", "items/*/id"],
    ),
];

/// The view of `body` (a reply to `path`, framed as `ext`) for `provider`'s SDK.
pub fn view(provider: &str, path: &str, ext: &str, body: &[u8]) -> Value {
    let mut v = match ext {
        "sse" => {
            let events = sse_events(body);
            if path.contains("/responses") {
                responses(&events)
            } else if path.contains("/messages") {
                anthropic(&events)
            } else if path.contains("streamGenerateContent") {
                gemini(events.into_iter().map(|(_, v)| v))
            } else if path.contains("/v2/chat") {
                cohere(&events)
            } else {
                openai_chat(events.into_iter().map(|(_, v)| v))
            }
        }
        "ndjson" => ollama(
            decode_all(&mut LineDecoder::new(), body)
                .unwrap_or_default()
                .iter()
                .filter_map(|l| serde_json::from_slice(l).ok()),
        ),
        "eventstream" => bedrock_stream(path, body),
        _ => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            match v {
                Value::Array(a) if path.contains("streamGenerateContent") => gemini(a),
                v => v,
            }
        }
    };
    drop_nulls(&mut v);
    for (p, under, fields) in REGENERATED {
        if (*p == provider || *p == "*") && path.contains(under) {
            for f in *fields {
                strip(&mut v, &f.split('/').collect::<Vec<_>>());
            }
        }
    }
    v
}

/// Remove every null member of an object: an SDK model reads an absent optional field
/// and a null one alike (`None`).
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Remove the value at `path` (with `*` wildcards) from `v`.
fn strip(v: &mut Value, path: &[&str]) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    let last = rest.is_empty();
    match v {
        Value::Object(m) if *head == "*" => m.values_mut().for_each(|x| strip(x, rest)),
        Value::Object(m) => {
            if last {
                m.remove(*head);
            } else if let Some(x) = m.get_mut(*head) {
                strip(x, rest);
            }
        }
        Value::Array(a) if *head == "*" => a.iter_mut().for_each(|x| strip(x, rest)),
        _ => {}
    }
}

/// An SSE body's events as (event name, JSON data); `[DONE]` and non-JSON data dropped.
fn sse_events(body: &[u8]) -> Vec<(Option<String>, Value)> {
    decode_all(&mut SseDecoder::new(), body)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| {
            let v = serde_json::from_str::<Value>(&e.data).ok()?;
            Some((e.event.clone(), v))
        })
        .collect()
}

/// Keys whose string values arrive in pieces and are joined; every other string is
/// replaced by its latest value (a role, a name, an id arrive whole).
const JOINED: &[&str] = &[
    "content",
    "text",
    "thinking",
    "reasoning",
    "reasoning_content",
    "refusal",
    "arguments",
    "partial_json",
    "outputText",
    "generation",
    "completion",
    "response",
    "input",
    "tool_plan",
    "redactedContent",
];

/// Fold `delta` into `acc`: joined strings concatenated, objects merged recursively,
/// lists of objects with an `index` merged by it, other lists appended, anything else
/// (and a null accumulator) replaced, a null delta ignored.
fn accumulate(acc: &mut Value, delta: &Value) {
    match (acc, delta) {
        (_, Value::Null) => {}
        (Value::Object(a), Value::Object(d)) => {
            for (k, dv) in d {
                match a.get_mut(k) {
                    None | Some(Value::Null) => {
                        a.insert(k.clone(), dv.clone());
                    }
                    Some(Value::String(s)) if JOINED.contains(&k.as_str()) => {
                        if let Value::String(ds) = dv {
                            s.push_str(ds);
                        } else if !dv.is_null() {
                            a.insert(k.clone(), dv.clone());
                        }
                    }
                    Some(av) => accumulate(av, dv),
                }
            }
        }
        (Value::Array(a), Value::Array(d)) => {
            for de in d {
                match de.get("index").and_then(Value::as_u64) {
                    Some(i) => match a
                        .iter_mut()
                        .find(|x| x.get("index").and_then(Value::as_u64) == Some(i))
                    {
                        Some(x) => accumulate(x, de),
                        None => a.push(de.clone()),
                    },
                    None => a.push(de.clone()),
                }
            }
        }
        (a, d) => *a = d.clone(),
    }
}

/// `m[key]` as an array, created when absent.
fn arr<'a>(m: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let slot = m.entry(key.to_string()).or_insert_with(|| json!([]));
    if !slot.is_array() {
        *slot = json!([]);
    }
    slot.as_array_mut().unwrap()
}

/// Slot `i` of `a`, padded with nulls.
fn slot(a: &mut Vec<Value>, i: usize) -> &mut Value {
    if a.len() <= i {
        a.resize(i + 1, Value::Null);
    }
    &mut a[i]
}

fn openai_chat(chunks: impl IntoIterator<Item = Value>) -> Value {
    let mut top = Map::new();
    let mut errors = Vec::new();
    for c in chunks {
        let Value::Object(c) = c else { continue };
        if c.contains_key("error") && !c.contains_key("choices") {
            errors.push(Value::Object(c));
            continue;
        }
        for (k, v) in &c {
            if k == "choices" {
                continue;
            }
            match (top.get_mut(k), v) {
                (_, Value::Null) => {}
                (_, Value::String(s)) if s.is_empty() => {}
                (Some(a), _) => accumulate_replace(a, v),
                (None, _) => {
                    top.insert(k.clone(), v.clone());
                }
            }
        }
        for ch in c
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let i = ch["index"].as_u64().unwrap_or(0) as usize;
            let choices = arr(&mut top, "choices");
            let s = slot(choices, i);
            if s.is_null() {
                *s = json!({"index": i, "message": {}});
            }
            let so = s.as_object_mut().unwrap();
            for (k, v) in ch.as_object().into_iter().flatten() {
                match k.as_str() {
                    "delta" => accumulate(so.get_mut("message").unwrap(), v),
                    "logprobs" if !v.is_null() => {
                        let lp = so.entry("logprobs").or_insert_with(|| json!({}));
                        if lp.is_null() {
                            *lp = json!({});
                        }
                        for (lk, lv) in v.as_object().into_iter().flatten() {
                            let lpo = lp.as_object_mut().unwrap();
                            match (lpo.get_mut(lk), lv) {
                                (Some(Value::Array(a)), Value::Array(d)) => a.extend(d.clone()),
                                (_, Value::Null) => {}
                                _ => {
                                    lpo.insert(lk.clone(), lv.clone());
                                }
                            }
                        }
                    }
                    _ if v.is_null() => {}
                    _ => {
                        so.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        top.insert("errors".into(), Value::Array(errors));
    }
    Value::Object(top)
}

/// Merge `d` into `a`: objects key by key, anything else replaced (last wins).
fn accumulate_replace(a: &mut Value, d: &Value) {
    match (a, d) {
        (_, Value::Null) => {}
        (Value::Object(a), Value::Object(d)) => {
            for (k, v) in d {
                match a.get_mut(k) {
                    Some(x) => accumulate_replace(x, v),
                    None => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (a, d) => *a = d.clone(),
    }
}

fn responses(events: &[(Option<String>, Value)]) -> Value {
    let mut fin = Value::Null;
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for (_, e) in events {
        match e["type"].as_str().unwrap_or("") {
            "response.completed" | "response.incomplete" | "response.failed" => {
                fin = e["response"].clone()
            }
            "response.output_item.done" => items.push(e["item"].clone()),
            "error" => errors.push(e.clone()),
            _ => {}
        }
    }
    json!({"response": fin, "items": items, "errors": errors})
}

fn anthropic<'a>(events: impl IntoIterator<Item = &'a (Option<String>, Value)>) -> Value {
    let mut msg = Value::Null;
    let mut content: Vec<Value> = Vec::new();
    let mut json_buf: Vec<Option<String>> = Vec::new();
    let mut errors = Vec::new();
    for (_, e) in events {
        match e["type"].as_str().unwrap_or("") {
            "message_start" => msg = e["message"].clone(),
            "content_block_start" => {
                let i = e["index"].as_u64().unwrap_or(0) as usize;
                *slot(&mut content, i) = e["content_block"].clone();
            }
            "content_block_delta" => {
                let i = e["index"].as_u64().unwrap_or(0) as usize;
                let b = slot(&mut content, i);
                let d = &e["delta"];
                let push = |b: &mut Value, k: &str, s: &str| {
                    if let Some(o) = b.as_object_mut() {
                        let cur = o.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                        o.insert(k.into(), Value::String(cur + s));
                    }
                };
                match d["type"].as_str().unwrap_or("") {
                    "text_delta" => push(b, "text", d["text"].as_str().unwrap_or("")),
                    "thinking_delta" => push(b, "thinking", d["thinking"].as_str().unwrap_or("")),
                    "signature_delta" => {
                        push(b, "signature", d["signature"].as_str().unwrap_or(""))
                    }
                    "citations_delta" => {
                        if let Some(o) = b.as_object_mut() {
                            arr(o, "citations").push(d["citation"].clone());
                        }
                    }
                    "input_json_delta" => {
                        if json_buf.len() <= i {
                            json_buf.resize(i + 1, None);
                        }
                        json_buf[i]
                            .get_or_insert_with(String::new)
                            .push_str(d["partial_json"].as_str().unwrap_or(""));
                    }
                    _ => {
                        if let Some(o) = b.as_object_mut() {
                            arr(o, "unknown_deltas").push(d.clone());
                        }
                    }
                }
            }
            "content_block_stop" => {
                let i = e["index"].as_u64().unwrap_or(0) as usize;
                if let Some(Some(buf)) = json_buf.get_mut(i).map(Option::take) {
                    let input = if buf.is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&buf).unwrap_or(Value::String(buf))
                    };
                    if let Some(o) = slot(&mut content, i).as_object_mut() {
                        o.insert("input".into(), input);
                    }
                }
            }
            "message_delta" => {
                if let Some(o) = msg.as_object_mut() {
                    for (k, v) in e["delta"].as_object().into_iter().flatten() {
                        o.insert(k.clone(), v.clone());
                    }
                    if let Some(u) = e.get("usage") {
                        let usage = o.entry("usage").or_insert_with(|| json!({}));
                        accumulate_replace(usage, u);
                    }
                }
            }
            "error" => errors.push(e.clone()),
            _ => {}
        }
    }
    if let Some(o) = msg.as_object_mut() {
        o.insert("content".into(), Value::Array(content));
    }
    json!({"message": msg, "errors": errors})
}

fn gemini(chunks: impl IntoIterator<Item = Value>) -> Value {
    let mut top = Map::new();
    for c in chunks {
        let Value::Object(c) = c else { continue };
        if c.contains_key("error") {
            arr(&mut top, "errors").push(Value::Object(c));
            continue;
        }
        for (k, v) in &c {
            if k != "candidates" {
                match top.get_mut(k) {
                    Some(a) => accumulate_replace(a, v),
                    None => {
                        top.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        for (n, cand) in c
            .get("candidates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let i = cand["index"].as_u64().unwrap_or(n as u64) as usize;
            let s = slot(arr(&mut top, "candidates"), i);
            if s.is_null() {
                *s = json!({"content": {"parts": []}});
            }
            let so = s.as_object_mut().unwrap();
            for (k, v) in cand.as_object().into_iter().flatten() {
                if k == "content" {
                    let content = so.get_mut("content").unwrap().as_object_mut().unwrap();
                    for (ck, cv) in v.as_object().into_iter().flatten() {
                        if ck != "parts" {
                            content.insert(ck.clone(), cv.clone());
                        }
                    }
                    let parts = arr(content, "parts");
                    for p in v["parts"].as_array().into_iter().flatten() {
                        let joins = |prev: &Value| {
                            prev.get("text").is_some()
                                && p.get("text").is_some()
                                && prev.get("thought") == p.get("thought")
                        };
                        match parts.last_mut() {
                            Some(prev) if joins(prev) => {
                                let t = prev["text"].as_str().unwrap_or("").to_string()
                                    + p["text"].as_str().unwrap_or("");
                                accumulate_replace(prev, p);
                                prev["text"] = Value::String(t);
                            }
                            _ => parts.push(p.clone()),
                        }
                    }
                } else {
                    match so.get_mut(k) {
                        Some(a) => accumulate_replace(a, v),
                        None => {
                            so.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
        }
    }
    Value::Object(top)
}

fn cohere(events: &[(Option<String>, Value)]) -> Value {
    let mut top = json!({"message": {}});
    let mut content: Vec<Value> = Vec::new();
    let mut calls: Vec<Value> = Vec::new();
    let mut citations: Vec<Value> = Vec::new();
    for (_, e) in events {
        let m = &e["delta"]["message"];
        let i = e["index"].as_u64().unwrap_or(0) as usize;
        match e["type"].as_str().unwrap_or("") {
            "message-start" => {
                top["id"] = e["id"].clone();
                let mut m = m.clone();
                if let Some(o) = m.as_object_mut() {
                    for k in ["content", "tool_calls", "citations"] {
                        o.remove(k);
                    }
                }
                accumulate(&mut top["message"], &m);
            }
            "content-start" | "content-delta" => accumulate(slot(&mut content, i), &m["content"]),
            "tool-plan-delta" => accumulate(&mut top["message"], m),
            "tool-call-start" | "tool-call-delta" => {
                accumulate(slot(&mut calls, i), &m["tool_calls"])
            }
            "citation-start" => citations.push(m["citations"].clone()),
            "message-end" => accumulate_replace(&mut top, &e["delta"]),
            _ => {}
        }
    }
    let msg = top["message"].as_object_mut().unwrap();
    for (k, v) in [
        ("content", content),
        ("tool_calls", calls),
        ("citations", citations),
    ] {
        if !v.is_empty() {
            msg.insert(k.into(), Value::Array(v));
        }
    }
    top
}

fn ollama(lines: impl IntoIterator<Item = Value>) -> Value {
    let mut acc = json!({});
    for l in lines {
        accumulate(&mut acc, &l);
    }
    acc
}

fn bedrock_stream(path: &str, body: &[u8]) -> Value {
    let msgs = decode_all(&mut EventStreamDecoder::new(), body).unwrap_or_default();
    let mut events: Vec<(String, Value)> = Vec::new();
    for m in &msgs {
        let t = m
            .header_str(":event-type")
            .or_else(|| m.header_str(":exception-type"))
            .unwrap_or("")
            .to_string();
        let mut v: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
        if let Some(inner) = v["bytes"].as_str() {
            if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(inner) {
                v = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            }
        }
        events.push((t, v));
    }
    if path.contains("converse-stream") {
        let mut top = json!({});
        let mut blocks: Vec<Value> = Vec::new();
        for (t, v) in &events {
            let i = v["contentBlockIndex"].as_u64().unwrap_or(0) as usize;
            match t.as_str() {
                "contentBlockStart" => accumulate(slot(&mut blocks, i), &v["start"]),
                "contentBlockDelta" => accumulate(slot(&mut blocks, i), &v["delta"]),
                "contentBlockStop" => {}
                "messageStart" | "messageStop" | "metadata" => accumulate_replace(&mut top, v),
                other => {
                    let o = top.as_object_mut().unwrap();
                    arr(o, "exceptions").push(json!({other: v}));
                }
            }
        }
        top["content"] = Value::Array(blocks);
        return top;
    }
    let chunks: Vec<(Option<String>, Value)> = events
        .iter()
        .filter(|(t, _)| t == "chunk")
        .map(|(_, v)| (None, v.clone()))
        .collect();
    let mut out = if chunks.iter().any(|(_, v)| v["type"] == "message_start") {
        let mut v = anthropic(&chunks);
        // The invocation metrics ride on the last event (message_stop).
        for (_, c) in &chunks {
            if let Some(m) = c.get("amazon-bedrock-invocationMetrics") {
                v["message"]["amazon-bedrock-invocationMetrics"] = m.clone();
            }
        }
        v
    } else {
        let mut gens: Vec<Value> = Vec::new();
        for (_, c) in &chunks {
            let i = c["index"].as_u64().unwrap_or(0) as usize;
            let s = slot(&mut gens, i);
            if s.is_null() {
                *s = json!({});
            }
            accumulate(s, c);
        }
        json!({"events": gens})
    };
    let exceptions: Vec<Value> = events
        .iter()
        .filter(|(t, _)| t != "chunk")
        .map(|(t, v)| json!({t.as_str(): v}))
        .collect();
    out["exceptions"] = Value::Array(exceptions);
    out
}

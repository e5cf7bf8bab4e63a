//! OpenAI Responses' native layer (see `cassette::native`): output items beyond
//! messages, function calls and single-summary reasoning — `web_search_call`,
//! `file_search_call`, `code_interpreter_call`, `mcp_list_tools`, `mcp_call`, refusals,
//! reasoning with several summary parts — and the `annotations` and `logprobs` of
//! output text, kept in order and replayed as the API sends them.
//!
//! Collapse: the terminal event of a stream (`response.completed`, `.incomplete`,
//! `.failed`) carries the whole response object, so both recordings are read from that
//! object by [`native_of`]. Render: the plain response with the items as `output` and
//! the recorded fields over it ([`response`]); a stream derived from it ([`events`]):
//! each item announced in progress, its own progress events (text and argument deltas,
//! annotations, summary parts, a tool's `in_progress` … `completed`), then done, then
//! the terminal event with the whole response, which is what the SDK's accumulator
//! returns.

use serde_json::{json, Map, Value};

use crate::cassette::model::ChatReply;
use crate::cassette::native::{overlay, Item, Native};
use crate::providers::common::native::{
    call_item, merged, reasoning_item, rest, slices, text_item, verbatim_item, NativeOut,
};
use crate::providers::common::RenderContext;
use crate::request::ChatRequest;

/// The name of this wire format in `native.provider`.
pub const PROVIDER: &str = "openai.responses";

/// Response keys kept as recorded when a reply has a native layer.
const FIELDS: &[&str] = &[
    "model",
    "usage",
    "service_tier",
    "status",
    "incomplete_details",
];

/// Envelope keys not kept as recorded fields: the id and creation time are pinned in
/// the fixture itself, `output` is the items, `object` is constant, `output_text` is
/// the SDK's own convenience.
const NOT_FIELDS: &[&str] = &["id", "object", "created_at", "output", "output_text"];

/// True when the envelope carries keys beyond the plain render's [`FIELDS`] (request
/// echoes such as `prompt_cache_key`, `text.verbosity`, `billing`, `tools`' options).
fn rich_envelope(response: &Value) -> bool {
    response.as_object().is_some_and(|r| {
        r.iter().any(|(k, v)| {
            !v.is_null() && !NOT_FIELDS.contains(&k.as_str()) && !FIELDS.contains(&k.as_str())
        })
    })
}

fn is_plain_text_part(p: &Value) -> bool {
    p["type"] == "output_text"
        && p["annotations"].as_array().is_none_or(Vec::is_empty)
        && p["logprobs"].as_array().is_none_or(Vec::is_empty)
}

fn is_rich(output: &[Value]) -> bool {
    output.iter().any(|item| match item["type"].as_str() {
        Some("message") => !item["content"]
            .as_array()
            .is_some_and(|c| c.iter().all(is_plain_text_part)),
        Some("function_call") => false,
        Some("reasoning") => item["summary"].as_array().is_some_and(|s| s.len() > 1),
        _ => true,
    })
}

/// The native layer of a response object, when its output holds anything the
/// neutral fields cannot.
pub fn native_of(response: &Value) -> Option<NativeOut> {
    let output = response["output"].as_array()?;
    let items = is_rich(output);
    if !items && !rich_envelope(response) {
        return None;
    }
    let mut out = NativeOut::new(PROVIDER);
    for item in output {
        let Some(o) = item.as_object() else { continue };
        let s = |k: &str| o.get(k).and_then(Value::as_str);
        match s("type") {
            Some("message")
                if o.get("content")
                    .and_then(Value::as_array)
                    .is_some_and(|c| c.iter().all(|p| p["type"] == "output_text")) =>
            {
                // Each text part its own text item; its annotations and logprobs kept.
                for p in o["content"].as_array().into_iter().flatten() {
                    let po = p.as_object().cloned().unwrap_or_default();
                    let mut extra = rest(&po, &["type", "text"]);
                    extra.retain(|_, v| !v.as_array().is_some_and(Vec::is_empty));
                    out.items
                        .push(text_item(p["text"].as_str().unwrap_or(""), extra));
                }
            }
            Some("function_call") => out.items.push(call_item(
                s("call_id"),
                s("name").unwrap_or(""),
                s("arguments").unwrap_or(""),
                rest(o, &["type", "id", "status", "call_id", "name", "arguments"]),
            )),
            Some("reasoning") => {
                let parts = o.get("summary").and_then(Value::as_array);
                let text: String = parts
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["text"].as_str())
                    .collect();
                let mut extra = rest(o, &["type", "id", "summary", "encrypted_content"]);
                if parts.is_some_and(|p| p.len() > 1) {
                    extra.insert("summary".into(), o["summary"].clone());
                }
                out.items
                    .push(reasoning_item(&text, s("encrypted_content"), extra));
            }
            _ => out.items.push(verbatim_item(item)),
        }
    }
    if !items {
        // Only the envelope says more: the output stays in the neutral fields.
        out.items.clear();
    }
    if let Some(r) = response.as_object() {
        for (k, v) in r {
            if !v.is_null() && !NOT_FIELDS.contains(&k.as_str()) {
                out.fields.insert(k.clone(), v.clone());
            }
        }
    }
    Some(out)
}

fn output_item(item: &Item, i: usize, calls: &mut usize, ctx: &RenderContext) -> Value {
    match item {
        Item::Text { text, extra } => {
            let part = merged(
                json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text}),
                extra,
            );
            json!({"id": ctx.id("msg_", &format!("msg{i}"), 48), "type": "message", "status": "completed",
                   "content": [part], "role": "assistant"})
        }
        Item::ToolCall { call, extra } => {
            let call_id = crate::providers::openai::chat::call_id(call, *calls, ctx);
            *calls += 1;
            merged(
                json!({"id": ctx.id("fc_", &format!("fc{i}"), 48), "type": "function_call", "status": "completed",
                       "arguments": call.arguments, "call_id": call_id, "name": call.name}),
                extra,
            )
        }
        Item::Reasoning {
            text,
            signature,
            extra,
        } => {
            let mut m = Map::new();
            m.insert("id".into(), ctx.id("rs_", &format!("rs{i}"), 48).into());
            m.insert("type".into(), "reasoning".into());
            if let Some(s) = signature {
                m.insert("encrypted_content".into(), s.clone().into());
            }
            let summary = if text.is_empty() {
                json!([])
            } else {
                json!([{"type": "summary_text", "text": text}])
            };
            m.insert("summary".into(), summary);
            merged(Value::Object(m), extra)
        }
        Item::Verbatim(v) => v.clone(),
    }
}

/// The response object for a reply with a native layer.
pub fn response(reply: &ChatReply, n: &Native, req: &ChatRequest, ctx: &RenderContext) -> Value {
    let mut r = super::reply::response_body(reply, req, ctx);
    if !n.items.is_empty() {
        let mut calls = 0;
        r["output"] = n
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| output_item(item, i, &mut calls, ctx))
            .collect();
    }
    overlay(&mut r, &Value::Object(n.fields.clone()));
    r
}

/// The progress events of tool items, between `added` and `done`, by item type.
fn tool_progress(kind: &str) -> &'static [&'static str] {
    match kind {
        "web_search_call" => &[
            "response.web_search_call.in_progress",
            "response.web_search_call.searching",
            "response.web_search_call.completed",
        ],
        "file_search_call" => &[
            "response.file_search_call.in_progress",
            "response.file_search_call.searching",
            "response.file_search_call.completed",
        ],
        "code_interpreter_call" => &[
            "response.code_interpreter_call.in_progress",
            "response.code_interpreter_call.interpreting",
            "response.code_interpreter_call.completed",
        ],
        "mcp_list_tools" => &[
            "response.mcp_list_tools.in_progress",
            "response.mcp_list_tools.completed",
        ],
        "mcp_call" => &[
            "response.mcp_call.in_progress",
            "response.mcp_call.completed",
        ],
        _ => &[],
    }
}

/// The stream of the response object `r`, each event with its `sequence_number`.
pub fn events(r: &Value, chunk: usize) -> Vec<Value> {
    let mut list: Vec<Value> = Vec::new();
    let mut push = |kind: &str, fields: Value| {
        let mut m = Map::new();
        m.insert("type".into(), kind.into());
        m.insert("sequence_number".into(), list.len().into());
        if let Value::Object(f) = fields {
            m.extend(f);
        }
        list.push(Value::Object(m));
    };
    let mut start = r.clone();
    start["status"] = "in_progress".into();
    start["output"] = json!([]);
    start["usage"] = Value::Null;
    start["incomplete_details"] = Value::Null;
    for kind in ["response.created", "response.in_progress"] {
        push(kind, json!({"response": start}));
    }
    for (output_index, item) in r["output"].as_array().into_iter().flatten().enumerate() {
        let id = item["id"].clone();
        let kind = item["type"].as_str().unwrap_or("");
        let mut added = item.clone();
        if added.get("status").is_some() {
            added["status"] = "in_progress".into();
        }
        let at = json!({"output_index": output_index, "item_id": id});
        let with = |extra: Value| {
            let mut m = at.as_object().cloned().unwrap_or_default();
            if let Value::Object(e) = extra {
                m.extend(e);
            }
            Value::Object(m)
        };
        match kind {
            "message" => {
                added["content"] = json!([]);
                push(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": added}),
                );
                for (ci, part) in item["content"].as_array().into_iter().flatten().enumerate() {
                    let at_part = |extra: Value| {
                        let mut v = with(json!({"content_index": ci}));
                        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
                            m.extend(e);
                        }
                        v
                    };
                    let mut empty = part.clone();
                    for (k, blank) in [
                        ("text", json!("")),
                        ("refusal", json!("")),
                        ("annotations", json!([])),
                        ("logprobs", json!([])),
                    ] {
                        if empty.get(k).is_some() {
                            empty[k] = blank;
                        }
                    }
                    push(
                        "response.content_part.added",
                        at_part(json!({"part": empty})),
                    );
                    if part["type"] == "output_text" {
                        let text = part["text"].as_str().unwrap_or("");
                        let pieces = slices(text, chunk);
                        let n = pieces.len();
                        for (pi, d) in pieces.into_iter().enumerate() {
                            // The token logprobs ride on the first delta, whole.
                            let lp = if pi == 0 {
                                part["logprobs"].clone()
                            } else {
                                json!([])
                            };
                            let _ = n;
                            push(
                                "response.output_text.delta",
                                at_part(
                                    json!({"delta": d, "logprobs": if lp.is_null() { json!([]) } else { lp }}),
                                ),
                            );
                        }
                        for (ai, a) in part["annotations"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .enumerate()
                        {
                            push(
                                "response.output_text.annotation.added",
                                at_part(json!({"annotation_index": ai, "annotation": a})),
                            );
                        }
                        push(
                            "response.output_text.done",
                            at_part(json!({"text": text, "logprobs": part["logprobs"]})),
                        );
                    } else if part["type"] == "refusal" {
                        let text = part["refusal"].as_str().unwrap_or("");
                        for d in slices(text, chunk) {
                            push("response.refusal.delta", at_part(json!({"delta": d})));
                        }
                        push("response.refusal.done", at_part(json!({"refusal": text})));
                    }
                    push("response.content_part.done", at_part(json!({"part": part})));
                }
            }
            "function_call" => {
                added["arguments"] = "".into();
                push(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": added}),
                );
                let args = item["arguments"].as_str().unwrap_or("");
                for d in slices(args, chunk) {
                    push(
                        "response.function_call_arguments.delta",
                        with(json!({"delta": d})),
                    );
                }
                push(
                    "response.function_call_arguments.done",
                    with(json!({"arguments": args})),
                );
            }
            "reasoning" => {
                added["summary"] = json!([]);
                push(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": added}),
                );
                for (si, p) in item["summary"].as_array().into_iter().flatten().enumerate() {
                    let text = p["text"].as_str().unwrap_or("");
                    let at_s = |extra: Value| {
                        let mut v = with(json!({"summary_index": si}));
                        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
                            m.extend(e);
                        }
                        v
                    };
                    push(
                        "response.reasoning_summary_part.added",
                        at_s(json!({"part": {"type": "summary_text", "text": ""}})),
                    );
                    for d in slices(text, chunk) {
                        push(
                            "response.reasoning_summary_text.delta",
                            at_s(json!({"delta": d})),
                        );
                    }
                    push(
                        "response.reasoning_summary_text.done",
                        at_s(json!({"text": text})),
                    );
                    push(
                        "response.reasoning_summary_part.done",
                        at_s(json!({"part": p})),
                    );
                }
            }
            other => {
                push(
                    "response.output_item.added",
                    json!({"output_index": output_index, "item": added}),
                );
                let steps = tool_progress(other);
                for (si, step) in steps.iter().enumerate() {
                    if si + 1 == steps.len() {
                        // Code and arguments stream just before the tool completes.
                        if let Some(code) = item["code"]
                            .as_str()
                            .filter(|_| other == "code_interpreter_call")
                        {
                            push(
                                "response.code_interpreter_call_code.delta",
                                with(json!({"delta": code})),
                            );
                            push(
                                "response.code_interpreter_call_code.done",
                                with(json!({"code": code})),
                            );
                        }
                        if let Some(args) =
                            item["arguments"].as_str().filter(|_| other == "mcp_call")
                        {
                            push(
                                "response.mcp_call_arguments.delta",
                                with(json!({"delta": args})),
                            );
                            push(
                                "response.mcp_call_arguments.done",
                                with(json!({"arguments": args})),
                            );
                        }
                    }
                    push(step, with(json!({})));
                }
            }
        }
        push(
            "response.output_item.done",
            json!({"output_index": output_index, "item": item}),
        );
    }
    let terminal = match r["status"].as_str() {
        Some("incomplete") => "response.incomplete",
        Some("failed") => "response.failed",
        _ => "response.completed",
    };
    push(terminal, json!({"response": r}));
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{content_capture, plan_bytes, record_and_replay, sse_events};

    const PATH: &str = "/v1/responses";

    fn request(stream: bool) -> String {
        json!({"model": "gpt-4.1", "input": "hi", "stream": stream}).to_string()
    }

    /// The response object the SDK ends with: the body, or the terminal event's.
    fn final_response(bytes: &[u8], stream: bool) -> Value {
        if !stream {
            return serde_json::from_slice(bytes).unwrap();
        }
        let events = sse_events(bytes);
        let (_, last) = events.last().unwrap();
        last["response"].clone()
    }

    /// The output items with the ids of generated message, call and reasoning items
    /// left out (tool items keep theirs: they are recorded verbatim).
    fn output(r: &Value) -> Value {
        let mut out = r["output"].clone();
        for item in out.as_array_mut().unwrap() {
            if ["message", "function_call", "reasoning"].contains(&item["type"].as_str().unwrap()) {
                item.as_object_mut().unwrap().remove("id");
            }
        }
        out
    }

    #[test]
    fn tool_items_annotations_logprobs_and_summaries_replay_in_order() {
        for (name, stream) in [
            ("openai/responses-json-tools-annotations.json", false),
            ("openai/responses-stream-web-search-annotations.sse", true),
        ] {
            let capture = content_capture(name);
            let ct = if stream {
                "text/event-stream"
            } else {
                "application/json"
            };
            let recorded = final_response(&capture, stream);
            for ask_stream in [false, true] {
                let (response, plan) = record_and_replay(PATH, ct, &capture, &request(ask_stream));
                assert_eq!(response["native"]["provider"], PROVIDER, "{name}");
                let got = final_response(&plan_bytes(&plan), ask_stream);
                assert_eq!(
                    output(&got),
                    output(&recorded),
                    "{name} stream={ask_stream}"
                );
                assert_eq!(got["usage"], recorded["usage"], "{name}");
                if ask_stream {
                    // Every item announced and finished in order, with its progress.
                    let events = sse_events(&plan_bytes(&plan));
                    let added = events
                        .iter()
                        .filter(|(k, _)| k == "response.output_item.added")
                        .count();
                    assert_eq!(added, recorded["output"].as_array().unwrap().len());
                }
            }
        }
    }

    #[test]
    fn the_text_items_degrade_to_plain_text_elsewhere() {
        let capture = content_capture("openai/responses-json-tools-annotations.json");
        let c = crate::testing::surface_at(PATH).collapse(200, "application/json", &capture);
        let (response, _) = c.to_response();
        let fx = crate::testing::fixture(json!({"match": {}, "response": response}));
        let crate::cassette::Reply::Chat(chat) = &fx.reply else {
            panic!()
        };
        assert!(chat.text().unwrap().contains("Paris"));
        assert!(chat.reasoning.is_some());
    }
}

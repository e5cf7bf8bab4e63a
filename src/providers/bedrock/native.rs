//! Bedrock Converse's native layer (see `cassette::native`): content blocks beyond
//! text, client tool use and signed reasoning — server tool use (`toolUse` with
//! `type: "server_tool_use"`) and its `toolResult`, `citationsContent`, redacted
//! reasoning in its place among the others — with `stopReason`, usage and
//! `additionalModelResponseFields` as recorded.
//!
//! Collapse: a `converse-stream` is first assembled into the Converse body the blocks
//! make ([`assemble`]), so both recordings are read by [`native_of`]. Render: the
//! plain body with the items as content and the fields over it ([`body`]); a stream
//! derived from that body ([`events`]) as Bedrock streams each block kind. Not here:
//! `invoke` (its own model families).

use serde_json::{json, Value};

use crate::cassette::model::ChatReply;
use crate::cassette::native::{overlay, Item, Native};
use crate::providers::common::native::{
    call_item, reasoning_item, slices, text_item, verbatim_item, NativeOut,
};
use crate::providers::common::RenderContext;

/// The name of this wire format in `native.provider`.
pub const PROVIDER: &str = "bedrock.converse";

/// The Converse body a stream's events build.
pub fn assemble(events: &[(String, Value)]) -> Value {
    let mut blocks: Vec<Value> = Vec::new();
    let mut body = json!({});
    let mut role = Value::from("assistant");
    let slot = |blocks: &mut Vec<Value>, i: usize| -> usize {
        while blocks.len() <= i {
            blocks.push(Value::Null);
        }
        i
    };
    for (kind, v) in events {
        let i = v["contentBlockIndex"].as_u64().unwrap_or(0).min(1024) as usize;
        match kind.as_str() {
            "messageStart" => role = v["role"].clone(),
            "contentBlockStart" => {
                let i = slot(&mut blocks, i);
                if let Some(tu) = v.pointer("/start/toolUse") {
                    let mut b = tu.clone();
                    b["input"] = "".into();
                    blocks[i] = json!({"toolUse": b});
                } else if let Some(tr) = v.pointer("/start/toolResult") {
                    let mut b = tr.clone();
                    b["content"] = json!([]);
                    blocks[i] = json!({"toolResult": b});
                }
            }
            "contentBlockDelta" => {
                let i = slot(&mut blocks, i);
                let d = &v["delta"];
                let b = &mut blocks[i];
                if let Some(t) = d["text"].as_str() {
                    let cur = b["text"].as_str().unwrap_or("").to_string();
                    *b = json!({"text": cur + t});
                } else if let Some(s) = d.pointer("/toolUse/input").and_then(Value::as_str) {
                    let cur = b
                        .pointer("/toolUse/input")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    b["toolUse"]["input"] = (cur + s).into();
                } else if let Some(parts) = d["toolResult"].as_array() {
                    if let Some(list) = b
                        .pointer_mut("/toolResult/content")
                        .and_then(Value::as_array_mut)
                    {
                        list.extend(parts.iter().cloned());
                    }
                } else if let Some(r) = d.get("reasoningContent") {
                    if let Some(data) = r.get("redactedContent") {
                        *b = json!({"reasoningContent": {"redactedContent": data}});
                    } else {
                        if b.pointer("/reasoningContent/reasoningText").is_none() {
                            *b = json!({"reasoningContent": {"reasoningText": {"text": ""}}});
                        }
                        let rt = &mut b["reasoningContent"]["reasoningText"];
                        if let Some(t) = r["text"].as_str() {
                            let cur = rt["text"].as_str().unwrap_or("").to_string();
                            rt["text"] = (cur + t).into();
                        }
                        if let Some(s) = r.get("signature") {
                            rt["signature"] = s.clone();
                        }
                    }
                } else if let Some(c) = d.get("citation") {
                    if !b["citationsContent"].is_object() {
                        *b = json!({"citationsContent": {"citations": [], "content": []}});
                    }
                    if let Some(list) = b
                        .pointer_mut("/citationsContent/citations")
                        .and_then(Value::as_array_mut)
                    {
                        list.push(c.clone());
                    }
                }
            }
            "contentBlockStop" => {
                if let Some(b) = blocks.get_mut(i) {
                    // Tool input arrives as JSON text; the body holds it parsed.
                    if let Some(s) = b.pointer("/toolUse/input").and_then(Value::as_str) {
                        let input = serde_json::from_str::<Value>(s).unwrap_or_else(|_| json!({}));
                        b["toolUse"]["input"] = input;
                    }
                }
            }
            "messageStop" => {
                for (k, x) in v.as_object().into_iter().flatten() {
                    body[k.as_str()] = x.clone();
                }
            }
            "metadata" => {
                for (k, x) in v.as_object().into_iter().flatten() {
                    body[k.as_str()] = x.clone();
                }
            }
            _ => {}
        }
    }
    blocks.retain(|b| !b.is_null());
    body["output"] = json!({"message": {"content": blocks, "role": role}});
    body
}

fn is_rich(blocks: &[Value]) -> bool {
    blocks.iter().any(|b| {
        let known = b.get("text").is_some()
            || b.pointer("/reasoningContent/reasoningText").is_some()
            || b.pointer("/reasoningContent/redactedContent").is_some();
        let client_tool = b.get("toolUse").is_some_and(|t| t.get("type").is_none());
        !(known || client_tool)
    })
}

/// The native layer of a Converse body, when its content holds anything the neutral
/// fields cannot.
pub fn native_of(v: &Value) -> Option<NativeOut> {
    let blocks = v.pointer("/output/message/content")?.as_array()?;
    if !is_rich(blocks) {
        return None;
    }
    let mut out = NativeOut::new(PROVIDER);
    for b in blocks {
        if let Some(t) = b.get("text").and_then(Value::as_str) {
            out.items.push(text_item(t, Default::default()));
        } else if let Some(tu) = b.get("toolUse").filter(|t| t.get("type").is_none()) {
            out.items.push(call_item(
                tu["toolUseId"].as_str(),
                tu["name"].as_str().unwrap_or(""),
                &tu["input"].to_string(),
                Default::default(),
            ));
        } else if let Some(rt) = b.pointer("/reasoningContent/reasoningText") {
            out.items.push(reasoning_item(
                rt["text"].as_str().unwrap_or(""),
                rt["signature"].as_str(),
                Default::default(),
            ));
        } else {
            out.items.push(verbatim_item(b));
        }
    }
    for (k, x) in v.as_object().into_iter().flatten() {
        if k != "output" && k != "metrics" {
            out.fields.insert(k.clone(), x.clone());
        }
    }
    Some(out)
}

/// The Converse body for a reply with a native layer.
pub fn body(plain: Value, reply: &ChatReply, n: &Native, ctx: &RenderContext) -> Value {
    let _ = reply;
    let mut v = plain;
    if !n.items.is_empty() {
        let mut calls = 0usize;
        let content: Vec<Value> = n
            .items
            .iter()
            .map(|item| match item {
                Item::Text { text, .. } => json!({"text": text}),
                Item::ToolCall { call, .. } => {
                    let id = call
                        .id
                        .clone()
                        .unwrap_or_else(|| ctx.id("tooluse_", &format!("tool{calls}"), 22));
                    calls += 1;
                    json!({"toolUse": {"input": super::parsed_args(&call.arguments), "name": call.name, "toolUseId": id}})
                }
                Item::Reasoning { text, signature, .. } => {
                    let mut rt = json!({"text": text});
                    if let Some(s) = signature {
                        rt["signature"] = s.clone().into();
                    }
                    json!({"reasoningContent": {"reasoningText": rt}})
                }
                Item::Verbatim(b) => b.clone(),
            })
            .collect();
        v["output"]["message"]["content"] = Value::Array(content);
    }
    overlay(&mut v, &Value::Object(n.fields.clone()));
    v
}

/// The `converse-stream` events of body `v`, as (`:event-type`, payload, paced).
pub fn events(v: &Value, chunk: usize) -> Vec<(&'static str, Value, bool)> {
    let mut out: Vec<(&'static str, Value, bool)> = Vec::new();
    let role = v
        .pointer("/output/message/role")
        .cloned()
        .unwrap_or_else(|| "assistant".into());
    out.push(("messageStart", json!({"role": role}), true));
    let delta = |i: usize, d: Value| {
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": i, "delta": d}),
            true,
        )
    };
    let blocks = v
        .pointer("/output/message/content")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, b) in blocks.iter().enumerate() {
        if let Some(t) = b["text"].as_str() {
            let pieces = slices(t, chunk);
            for s in if pieces.is_empty() { vec![""] } else { pieces } {
                out.push(delta(i, json!({"text": s})));
            }
        } else if let Some(tu) = b.get("toolUse") {
            let mut start = json!({"name": tu["name"], "toolUseId": tu["toolUseId"]});
            if let Some(t) = tu.get("type") {
                start["type"] = t.clone();
            }
            out.push((
                "contentBlockStart",
                json!({"contentBlockIndex": i, "start": {"toolUse": start}}),
                true,
            ));
            let input = tu["input"].to_string();
            for s in slices(&input, chunk) {
                out.push(delta(i, json!({"toolUse": {"input": s}})));
            }
        } else if let Some(tr) = b.get("toolResult") {
            let mut start = json!({"toolUseId": tr["toolUseId"]});
            for k in ["type", "status"] {
                if let Some(x) = tr.get(k) {
                    start[k] = x.clone();
                }
            }
            out.push((
                "contentBlockStart",
                json!({"contentBlockIndex": i, "start": {"toolResult": start}}),
                true,
            ));
            if let Some(parts) = tr["content"].as_array() {
                out.push(delta(i, json!({"toolResult": parts})));
            }
        } else if let Some(rt) = b.pointer("/reasoningContent/reasoningText") {
            for s in slices(rt["text"].as_str().unwrap_or(""), chunk) {
                out.push(delta(i, json!({"reasoningContent": {"text": s}})));
            }
            if let Some(sig) = rt.get("signature") {
                out.push(delta(i, json!({"reasoningContent": {"signature": sig}})));
            }
        } else if let Some(data) = b.pointer("/reasoningContent/redactedContent") {
            out.push(delta(
                i,
                json!({"reasoningContent": {"redactedContent": data}}),
            ));
        } else if let Some(cc) = b.get("citationsContent") {
            let text: String = cc["content"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["text"].as_str())
                .collect();
            for s in slices(&text, chunk) {
                out.push(delta(i, json!({"text": s})));
            }
            for c in cc["citations"].as_array().into_iter().flatten() {
                out.push(delta(i, json!({"citation": c})));
            }
        }
        out.push(("contentBlockStop", json!({"contentBlockIndex": i}), true));
    }
    let mut stop = json!({"stopReason": v["stopReason"]});
    if let Some(a) = v.get("additionalModelResponseFields") {
        stop["additionalModelResponseFields"] = a.clone();
    }
    out.push(("messageStop", stop, false));
    let mut meta = json!({"metrics": v.get("metrics").cloned().unwrap_or_else(|| json!({"latencyMs": 0})), "usage": v["usage"]});
    if let Some(t) = v.get("trace") {
        meta["trace"] = t.clone();
    }
    out.push(("metadata", meta, false));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{content_capture, plan_bytes, record_and_replay};

    const PATH: &str = "/model/us.anthropic.claude-sonnet-4-5-v1%3A0/converse";
    const STREAM_PATH: &str = "/model/us.anthropic.claude-sonnet-4-5-v1%3A0/converse-stream";

    fn request() -> String {
        json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}).to_string()
    }

    /// The events of an EventStream body, as (`:event-type`, payload).
    fn stream_of(bytes: &[u8]) -> Vec<(String, Value)> {
        let (messages, _) = crate::providers::common::collapse::decode_prefix(
            crate::codec::eventstream::EventStreamDecoder::new(),
            bytes,
        );
        messages
            .iter()
            .map(|m| {
                (
                    m.header_str(":event-type").unwrap_or("").to_string(),
                    serde_json::from_slice(&m.payload).unwrap_or(Value::Null),
                )
            })
            .collect()
    }

    #[test]
    fn server_tool_use_results_and_reasoning_replay_in_order_whole_and_streamed() {
        let capture = content_capture("bedrock/converse-json-server-tool-reasoning.json");
        let recorded: Value = serde_json::from_slice(&capture).unwrap();
        let want = &recorded["output"]["message"]["content"];
        let (response, plan) = record_and_replay(PATH, "application/json", &capture, &request());
        assert_eq!(response["native"]["provider"], PROVIDER);
        let got: Value = serde_json::from_slice(&plan_bytes(&plan)).unwrap();
        assert_eq!(&got["output"]["message"]["content"], want);
        assert_eq!(got["usage"], recorded["usage"]);
        assert_eq!(got["stopReason"], recorded["stopReason"]);
        let (_, plan) = record_and_replay(STREAM_PATH, "application/json", &capture, &request());
        let streamed = assemble(&stream_of(&plan_bytes(&plan)));
        assert_eq!(&streamed["output"]["message"]["content"], want);
        assert_eq!(streamed["usage"], recorded["usage"]);
        // And a recording of that stream collapses to the same items.
        let (again, _) = record_and_replay(
            STREAM_PATH,
            "application/vnd.amazon.eventstream",
            &plan_bytes(&plan),
            &request(),
        );
        assert_eq!(again["items"], response["items"]);
    }
}

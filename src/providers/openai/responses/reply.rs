//! A fixture's chat reply as an OpenAI Responses object, or as the list of typed stream
//! events from `response.created` to `response.completed` (or `.incomplete`).
//!
//! Scope: output items, ids, status, usage, the echoed request fields, and the event
//! sequence with `sequence_number` 0..n. Not here: SSE framing and errors (`super`).
//!
//! Field order and the always-present nulls follow the newer real captures
//! (`tests/data/golden/openai/responses-stream-incomplete.sse` and friends), because
//! the SDK's stream accumulator and strict clients read them as they are.

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::cassette::model::{Block, ChatReply};
use crate::providers::common::usage::{output_chars, Counts};
use crate::providers::common::{chunk_text, estimate_tokens, RenderContext};
use crate::providers::openai::chat::call_id;
use crate::request::ChatRequest;

/// Length of the random part of generated ids (real ones carry 48–50 hex digits).
const ID_LEN: usize = 48;

/// One output item, in wire order.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Reasoning {
        id: String,
        summary: String,
        encrypted: Option<String>,
    },
    Message {
        id: String,
        role: String,
        text: String,
    },
    Call {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
    },
}

impl Item {
    fn id(&self) -> &str {
        match self {
            Item::Reasoning { id, .. } | Item::Message { id, .. } | Item::Call { id, .. } => id,
        }
    }

    /// The finished item, as `output` and `output_item.done` carry it.
    fn full(&self, message_status: &str) -> Value {
        match self {
            Item::Reasoning {
                id,
                summary,
                encrypted,
            } => {
                let mut m = Map::new();
                m.insert("id".into(), id.clone().into());
                m.insert("type".into(), "reasoning".into());
                if let Some(e) = encrypted {
                    m.insert("encrypted_content".into(), e.clone().into());
                }
                let parts = if summary.is_empty() {
                    json!([])
                } else {
                    json!([{"type": "summary_text", "text": summary}])
                };
                m.insert("summary".into(), parts);
                Value::Object(m)
            }
            Item::Message { id, role, text } => json!({
                "id": id, "type": "message", "status": message_status,
                "content": [output_text(text)], "role": role,
            }),
            Item::Call {
                id,
                call_id,
                name,
                arguments,
            } => json!({
                "id": id, "type": "function_call", "status": "completed",
                "arguments": arguments, "call_id": call_id, "name": name,
            }),
        }
    }

    /// The item as `output_item.added` announces it, before any delta.
    fn added(&self) -> Value {
        match self {
            Item::Reasoning { .. } => {
                let mut v = self.full("");
                v["summary"] = json!([]);
                v
            }
            Item::Message { id, role, .. } => json!({
                "id": id, "type": "message", "status": "in_progress", "content": [], "role": role,
            }),
            Item::Call {
                id, call_id, name, ..
            } => json!({
                "id": id, "type": "function_call", "status": "in_progress",
                "arguments": "", "call_id": call_id, "name": name,
            }),
        }
    }
}

fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "annotations": [], "logprobs": [], "text": text})
}

fn items(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> Vec<Item> {
    let mut out = Vec::new();
    if let Some(r) = &reply.reasoning {
        let id = ctx.id("rs_", "rs0", ID_LEN);
        let encrypted = req.hints.encrypted_reasoning.then(|| {
            reply.reasoning_signature.clone().unwrap_or_else(|| {
                base64::engine::general_purpose::STANDARD
                    .encode(format!("aimock-encrypted-reasoning:{id}"))
            })
        });
        out.push(Item::Reasoning {
            id,
            summary: r.clone(),
            encrypted,
        });
    }
    let blocks = reply.ordered_blocks();
    // An empty text next to other output would be an empty message item: skip it.
    let lone = blocks.len() == 1 && out.is_empty();
    let role = reply
        .overrides
        .role
        .clone()
        .unwrap_or_else(|| "assistant".into());
    let (mut texts, mut calls) = (0usize, 0usize);
    for b in blocks {
        match b {
            Block::Text(t) if t.is_empty() && !lone => {}
            Block::Text(text) => {
                out.push(Item::Message {
                    id: ctx.id("msg_", &format!("msg{texts}"), ID_LEN),
                    role: role.clone(),
                    text,
                });
                texts += 1;
            }
            Block::ToolCall(c) => {
                out.push(Item::Call {
                    id: ctx.id("fc_", &format!("fc{calls}"), ID_LEN),
                    call_id: call_id(&c, calls, ctx),
                    name: c.name.clone(),
                    arguments: c.arguments.clone(),
                });
                calls += 1;
            }
        }
    }
    out
}

/// Response status, `incomplete_details` and the stream's final event, from the
/// fixture's finish reason (reference §4.10; `content_filter` as the real API reports it).
struct Outcome {
    status: String,
    incomplete_details: Value,
    terminal_event: &'static str,
}

fn outcome(reply: &ChatReply) -> Outcome {
    let incomplete = |reason: &str| Outcome {
        status: "incomplete".into(),
        incomplete_details: json!({"reason": reason}),
        terminal_event: "response.incomplete",
    };
    match reply.overrides.finish_reason.as_deref() {
        None | Some("stop") | Some("tool_calls") | Some("completed") => Outcome {
            status: "completed".into(),
            incomplete_details: Value::Null,
            terminal_event: "response.completed",
        },
        Some("length") => incomplete("max_output_tokens"),
        Some("content_filter") => incomplete("content_filter"),
        Some(other) => Outcome {
            status: other.into(),
            incomplete_details: Value::Null,
            terminal_event: if other == "failed" {
                "response.failed"
            } else {
                "response.completed"
            },
        },
    }
}

fn usage(reply: &ChatReply, req: &ChatRequest) -> Value {
    let o = reply.overrides.usage.as_deref();
    let reasoning = match reply.reasoning.as_deref() {
        Some(r) if !r.is_empty() => estimate_tokens(r.chars().count()),
        _ => 0,
    };
    // Output tokens include reasoning tokens, as the real API counts them.
    let Counts {
        input,
        output,
        total,
    } = Counts::of(o, req, || {
        estimate_tokens(output_chars(reply, false)) + reasoning
    });
    let mut m = Map::new();
    m.insert("input_tokens".into(), input.into());
    m.insert("input_tokens_details".into(), json!({"cached_tokens": 0}));
    m.insert("output_tokens".into(), output.into());
    m.insert(
        "output_tokens_details".into(),
        json!({"reasoning_tokens": reasoning}),
    );
    m.insert("total_tokens".into(), total.into());
    if let Some(u) = o {
        for (k, v) in &u.extra {
            m.insert(k.clone(), v.clone());
        }
    }
    Value::Object(m)
}

/// Everything of the response object except its status-dependent parts.
struct Envelope {
    id: String,
    created_at: i64,
    model: String,
    echo: Map<String, Value>,
}

fn envelope(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> Envelope {
    let o = &reply.overrides;
    Envelope {
        id: o
            .id
            .clone()
            .unwrap_or_else(|| ctx.id("resp_", "id", ID_LEN)),
        created_at: o.created.unwrap_or_else(|| ctx.created()),
        model: o
            .model
            .clone()
            .or_else(|| req.model.clone())
            .unwrap_or_else(|| "gpt-4o".into()),
        echo: req.hints.echo.clone(),
    }
}

/// The state-dependent parts of one snapshot of the response object.
struct Snapshot<'a> {
    status: &'a str,
    incomplete_details: Value,
    error: Value,
    output: Vec<Value>,
    usage: Value,
    service_tier: &'a str,
}

impl Envelope {
    fn echoed(&self, key: &str, default: Value) -> Value {
        self.echo.get(key).cloned().unwrap_or(default)
    }

    fn object(&self, s: Snapshot) -> Value {
        let reasoning = self.echo.get("reasoning");
        let pick = |k: &str| {
            reasoning
                .and_then(|r| r.get(k))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let mut m = Map::new();
        m.insert("id".into(), self.id.clone().into());
        m.insert("object".into(), "response".into());
        m.insert("created_at".into(), self.created_at.into());
        m.insert("status".into(), s.status.into());
        m.insert("background".into(), self.echoed("background", json!(false)));
        m.insert("error".into(), s.error);
        m.insert("incomplete_details".into(), s.incomplete_details);
        m.insert(
            "instructions".into(),
            self.echoed("instructions", Value::Null),
        );
        for k in ["max_output_tokens", "max_tool_calls"] {
            m.insert(k.into(), self.echoed(k, Value::Null));
        }
        m.insert("model".into(), self.model.clone().into());
        m.insert("output".into(), Value::Array(s.output));
        m.insert(
            "parallel_tool_calls".into(),
            self.echoed("parallel_tool_calls", json!(true)),
        );
        m.insert(
            "previous_response_id".into(),
            self.echoed("previous_response_id", Value::Null),
        );
        m.insert(
            "reasoning".into(),
            json!({"effort": pick("effort"), "summary": pick("summary")}),
        );
        m.insert("service_tier".into(), s.service_tier.into());
        m.insert("store".into(), self.echoed("store", json!(true)));
        m.insert("temperature".into(), self.echoed("temperature", json!(1.0)));
        m.insert(
            "text".into(),
            self.echoed("text", json!({"format": {"type": "text"}})),
        );
        m.insert(
            "tool_choice".into(),
            self.echoed("tool_choice", json!("auto")),
        );
        m.insert("tools".into(), self.echoed("tools", json!([])));
        m.insert("top_logprobs".into(), self.echoed("top_logprobs", json!(0)));
        m.insert("top_p".into(), self.echoed("top_p", json!(1.0)));
        m.insert(
            "truncation".into(),
            self.echoed("truncation", json!("disabled")),
        );
        m.insert("usage".into(), s.usage);
        m.insert("user".into(), self.echoed("user", Value::Null));
        m.insert("metadata".into(), self.echoed("metadata", json!({})));
        Value::Object(m)
    }
}

fn message_status(o: &Outcome) -> &'static str {
    if o.status == "incomplete" {
        "incomplete"
    } else {
        "completed"
    }
}

fn error_for(o: &Outcome) -> Value {
    if o.status == "failed" {
        json!({"code": "server_error", "message": "The fixture's finishReason is \"failed\"."})
    } else {
        Value::Null
    }
}

/// The finished response object (the non-streamed body).
pub fn response_body(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> Value {
    let env = envelope(reply, req, ctx);
    let o = outcome(reply);
    let status = message_status(&o);
    env.object(Snapshot {
        status: &o.status,
        incomplete_details: o.incomplete_details.clone(),
        error: error_for(&o),
        output: items(reply, req, ctx)
            .iter()
            .map(|i| i.full(status))
            .collect(),
        usage: usage(reply, req),
        service_tier: "default",
    })
}

/// Builds events with consecutive `sequence_number`s, placed right after `type`.
struct Events {
    list: Vec<Value>,
}

impl Events {
    fn push(&mut self, kind: &str, fields: Value) {
        let mut m = Map::new();
        m.insert("type".into(), kind.into());
        m.insert("sequence_number".into(), self.list.len().into());
        if let Value::Object(f) = fields {
            m.extend(f);
        }
        self.list.push(Value::Object(m));
    }
}

/// Every stream event in order, each a JSON object whose `type` is its SSE event name.
pub fn stream_events(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> Vec<Value> {
    let env = envelope(reply, req, ctx);
    let o = outcome(reply);
    let status = message_status(&o);
    let items = items(reply, req, ctx);
    let mut ev = Events { list: Vec::new() };
    for kind in ["response.created", "response.in_progress"] {
        let response = env.object(Snapshot {
            status: "in_progress",
            incomplete_details: Value::Null,
            error: Value::Null,
            output: Vec::new(),
            usage: Value::Null,
            service_tier: "auto",
        });
        ev.push(kind, json!({"response": response}));
    }
    for (output_index, item) in items.iter().enumerate() {
        let item_id = item.id();
        ev.push(
            "response.output_item.added",
            json!({"output_index": output_index, "item": item.added()}),
        );
        match item {
            Item::Reasoning { summary, .. } if !summary.is_empty() => {
                let at =
                    json!({"item_id": item_id, "output_index": output_index, "summary_index": 0});
                let with = |extra: Value| merge(&at, extra);
                ev.push(
                    "response.reasoning_summary_part.added",
                    with(json!({"part": {"type": "summary_text", "text": ""}})),
                );
                for d in chunk_text(summary, ctx.chunk_size) {
                    ev.push(
                        "response.reasoning_summary_text.delta",
                        with(json!({"delta": d})),
                    );
                }
                ev.push(
                    "response.reasoning_summary_text.done",
                    with(json!({"text": summary})),
                );
                ev.push(
                    "response.reasoning_summary_part.done",
                    with(json!({"part": {"type": "summary_text", "text": summary}})),
                );
            }
            Item::Reasoning { .. } => {}
            Item::Message { text, .. } => {
                let at =
                    json!({"item_id": item_id, "output_index": output_index, "content_index": 0});
                let with = |extra: Value| merge(&at, extra);
                ev.push(
                    "response.content_part.added",
                    with(json!({"part": output_text("")})),
                );
                for d in chunk_text(text, ctx.chunk_size) {
                    ev.push(
                        "response.output_text.delta",
                        with(json!({"delta": d, "logprobs": []})),
                    );
                }
                ev.push(
                    "response.output_text.done",
                    with(json!({"text": text, "logprobs": []})),
                );
                ev.push(
                    "response.content_part.done",
                    with(json!({"part": output_text(text)})),
                );
            }
            Item::Call { arguments, .. } => {
                let at = json!({"item_id": item_id, "output_index": output_index});
                for d in chunk_text(arguments, ctx.chunk_size) {
                    ev.push(
                        "response.function_call_arguments.delta",
                        merge(&at, json!({"delta": d})),
                    );
                }
                ev.push(
                    "response.function_call_arguments.done",
                    merge(&at, json!({"arguments": arguments})),
                );
            }
        }
        ev.push(
            "response.output_item.done",
            json!({"output_index": output_index, "item": item.full(status)}),
        );
    }
    let response = env.object(Snapshot {
        status: &o.status,
        incomplete_details: o.incomplete_details.clone(),
        error: error_for(&o),
        output: items.iter().map(|i| i.full(status)).collect(),
        usage: usage(reply, req),
        service_tier: "default",
    });
    ev.push(o.terminal_event, json!({"response": response}));
    ev.list
}

/// `base` with `extra`'s keys appended (both objects).
fn merge(base: &Value, extra: Value) -> Value {
    let mut m = base.as_object().cloned().unwrap_or_default();
    if let Value::Object(e) = extra {
        m.extend(e);
    }
    Value::Object(m)
}

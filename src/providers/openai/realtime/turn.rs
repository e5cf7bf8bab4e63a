//! One Realtime turn: the conversation items into the neutral request, and what the
//! server found into the `response.*` events, from `response.created` to
//! `response.done`.
//!
//! Items map onto messages through the Responses parser (the item shapes are the
//! same: `message` parts by role, `function_call` joining the assistant turn,
//! `function_call_output` a tool result), after audio parts are given their text: an
//! `input_audio` part is its transcript when it has one, else `"[audio input]"` (what
//! fixtures match, as with the reference); an `output_audio` part is its transcript.
//!
//! A text reply is sent as `response.output_text.*` when the response's output
//! modality is text, and as `response.output_audio_transcript.*` (with an
//! `output_audio` content part) when it is audio; no audio bytes are sent, there being
//! none in a fixture. Tool calls are `function_call` items with
//! `response.function_call_arguments.delta/done`. Not here: the session, other events.

use serde_json::{json, Map, Value};

use crate::cassette::model::{Block, ChatReply};
use crate::cassette::{Fixture, Reply};
use crate::providers::common::socket::{Emit, Ids};
use crate::providers::common::usage::{estimate_tokens, output_chars, Counts};
use crate::providers::common::{chunk_text, RenderContext};
use crate::providers::openai::chat::{call_id, tool_names};
use crate::providers::openai::responses::request::parse_items;
use crate::request::{ChatRequest, Endpoint, Message, Role};

/// A server event: `type`, `event_id`, then the body's fields.
pub(super) fn event(ids: &mut Ids, kind: &str, body: Value) -> Value {
    let mut o = Map::new();
    o.insert("type".into(), kind.into());
    o.insert("event_id".into(), ids.next("event_").into());
    if let Value::Object(b) = body {
        o.extend(b);
    }
    Value::Object(o)
}

/// The request for a turn over `items`, with `instructions` as the system message.
pub(super) fn request(
    endpoint: Endpoint,
    model: &str,
    instructions: &str,
    items: &[Value],
    tools: &[Value],
) -> ChatRequest {
    let items: Vec<Value> = items.iter().map(with_audio_text).collect();
    // The digest seeds generated ids; the conversation is what this turn was asked.
    let body = serde_json::to_vec(&json!([model, instructions, items])).unwrap_or_default();
    let mut req = ChatRequest::new(endpoint, &body);
    req.model = Some(model.to_string());
    if !instructions.is_empty() {
        req.messages.push(Message::text(Role::System, instructions));
    }
    req.messages.extend(parse_items(&items));
    let mut t = Map::new();
    t.insert("tools".into(), Value::Array(tools.to_vec()));
    req.tools = tool_names(&t);
    req.stream = true;
    req
}

/// An item whose audio parts carry text for matching.
fn with_audio_text(item: &Value) -> Value {
    let mut item = item.clone();
    if let Some(parts) = item.get_mut("content").and_then(|c| c.as_array_mut()) {
        for p in parts.iter_mut() {
            let Some(o) = p.as_object_mut() else { continue };
            let transcript = o
                .get("transcript")
                .and_then(|t| t.as_str())
                .map(String::from);
            match o.get("type").and_then(|t| t.as_str()) {
                Some("input_audio") => {
                    let text = transcript.unwrap_or_else(|| "[audio input]".into());
                    o.insert("text".into(), text.into());
                }
                Some("output_audio") => {
                    o.insert("text".into(), transcript.unwrap_or_default().into());
                }
                _ => {}
            }
        }
    }
    item
}

/// What a turn's response is sent as, besides its items.
pub(super) struct Head {
    /// `resp_…`.
    pub id: String,
    /// `["audio"]` or `["text"]`.
    pub modalities: Value,
    /// The session's `audio.output`, echoed in the response object.
    pub audio_output: Value,
    /// The item the response's first item follows.
    pub previous_item_id: Option<String>,
}

impl Head {
    fn audio(&self) -> bool {
        self.modalities
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m == "audio"))
    }

    /// The response object with `status`, its output, and usage.
    pub(super) fn response(
        &self,
        status: &str,
        details: Value,
        output: Vec<Value>,
        usage: Value,
    ) -> Value {
        json!({
            "object": "realtime.response",
            "id": self.id,
            "status": status,
            "status_details": details,
            "output": output,
            "conversation_id": "conv_aimock",
            "output_modalities": self.modalities,
            "max_output_tokens": "inf",
            "audio": {"output": self.audio_output},
            "usage": usage,
            "metadata": null,
        })
    }
}

/// A turn as sent: its events, and the items it completed with the index of the event
/// that completed each (for a cancel part way).
pub(super) struct Rendered {
    pub events: Vec<Emit>,
    /// (index in `events` of the item's `response.output_item.done`, the item).
    pub items: Vec<(usize, Value)>,
}

fn usage(counts: Option<Counts>) -> Value {
    let c = counts.unwrap_or(Counts {
        input: 0,
        output: 0,
        total: 0,
    });
    json!({
        "total_tokens": c.total, "input_tokens": c.input, "output_tokens": c.output,
        "input_token_details": {"cached_tokens": 0, "text_tokens": c.input, "audio_tokens": 0, "image_tokens": 0},
        "output_token_details": {"text_tokens": c.output, "audio_tokens": 0},
    })
}

/// The events of a failed response: `response.created` then `response.done` with
/// status `failed` and the error.
pub(super) fn failed(
    ids: &mut Ids,
    head: &Head,
    kind: &str,
    code: Option<&Value>,
    message: &str,
) -> Rendered {
    let created = head.response("in_progress", Value::Null, vec![], Value::Null);
    let details =
        json!({"type": "failed", "error": {"type": kind, "code": code, "message": message}});
    let done = head.response("failed", details, vec![], usage(None));
    Rendered {
        events: vec![
            Emit::now(event(ids, "response.created", json!({"response": created}))),
            Emit::now(event(ids, "response.done", json!({"response": done}))),
        ],
        items: Vec::new(),
    }
}

/// The events answering a turn with `fx` (a chat reply, or an error fixture); `None`
/// when the fixture holds a reply of another kind.
pub(super) fn answer(
    ids: &mut Ids,
    head: &Head,
    fx: &Fixture,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> Rendered {
    match &fx.reply {
        Reply::Chat(reply) => completed(ids, head, reply, req, ctx),
        Reply::Error(e) => {
            let kind = e.kind.as_deref().unwrap_or(if e.status >= 500 {
                "server_error"
            } else {
                "invalid_request_error"
            });
            failed(ids, head, kind, e.code.as_ref(), &e.message)
        }
        other => failed(
            ids,
            head,
            "server_error",
            None,
            &format!(
                "Fixture response of kind {} cannot answer a Realtime response ({})",
                other.kind_name(),
                fx.origin
            ),
        ),
    }
}

fn completed(
    ids: &mut Ids,
    head: &Head,
    reply: &ChatReply,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> Rendered {
    let rid = head.id.clone();
    let mut events = vec![Emit::now(event(
        ids,
        "response.created",
        json!({"response": head.response("in_progress", Value::Null, vec![], Value::Null)}),
    ))];
    let mut items: Vec<(usize, Value)> = Vec::new();
    let mut previous = head.previous_item_id.clone();
    let (text_kind, part_kind, content_kind) = if head.audio() {
        ("response.output_audio_transcript", "audio", "output_audio")
    } else {
        ("response.output_text", "text", "output_text")
    };
    let text_field = if head.audio() { "transcript" } else { "text" };
    let mut calls = 0usize;
    for (index, block) in reply.ordered_blocks().into_iter().enumerate() {
        let item_id = ids.next("item_");
        let done = match block {
            Block::Text(text) => {
                let added = json!({"id": item_id, "type": "message", "status": "in_progress",
                    "role": "assistant", "content": [], "object": "realtime.item"});
                let mut part = Map::new();
                part.insert("type".into(), content_kind.into());
                part.insert(text_field.into(), text.clone().into());
                let done = json!({"id": item_id, "type": "message", "status": "completed",
                    "role": "assistant", "content": [part], "object": "realtime.item"});
                let at = json!({"response_id": rid, "item_id": item_id, "output_index": index, "content_index": 0});
                let with = |extra: Value| {
                    let mut o = at.as_object().cloned().unwrap_or_default();
                    if let Value::Object(e) = extra {
                        o.extend(e);
                    }
                    Value::Object(o)
                };
                announce(&mut events, ids, &rid, index, &previous, added);
                let mut empty = Map::new();
                empty.insert("type".into(), part_kind.into());
                empty.insert(text_field.into(), "".into());
                events.push(Emit::now(event(
                    ids,
                    "response.content_part.added",
                    with(json!({"part": empty})),
                )));
                for slice in chunk_text(&text, ctx.chunk_size) {
                    events.push(Emit::paced(event(
                        ids,
                        &format!("{text_kind}.delta"),
                        with(json!({"delta": slice})),
                    )));
                }
                if head.audio() {
                    events.push(Emit::now(event(
                        ids,
                        "response.output_audio.done",
                        with(json!({})),
                    )));
                }
                let mut full = Map::new();
                full.insert(text_field.into(), text.clone().into());
                events.push(Emit::now(event(
                    ids,
                    &format!("{text_kind}.done"),
                    with(Value::Object(full.clone())),
                )));
                let mut part_done = full;
                part_done.insert("type".into(), part_kind.into());
                events.push(Emit::now(event(
                    ids,
                    "response.content_part.done",
                    with(json!({"part": part_done})),
                )));
                done
            }
            Block::ToolCall(call) => {
                let cid = call_id(&call, calls, ctx);
                calls += 1;
                let added = json!({"id": item_id, "type": "function_call", "status": "in_progress",
                    "name": call.name, "call_id": cid, "arguments": "", "object": "realtime.item"});
                let done = json!({"id": item_id, "type": "function_call", "status": "completed",
                    "name": call.name, "call_id": cid, "arguments": call.arguments, "object": "realtime.item"});
                announce(&mut events, ids, &rid, index, &previous, added);
                for slice in chunk_text(&call.arguments, ctx.chunk_size) {
                    events.push(Emit::paced(event(
                        ids,
                        "response.function_call_arguments.delta",
                        json!({"response_id": rid, "item_id": item_id, "output_index": index,
                               "call_id": cid, "delta": slice}),
                    )));
                }
                events.push(Emit::now(event(
                    ids,
                    "response.function_call_arguments.done",
                    json!({"response_id": rid, "item_id": item_id, "output_index": index,
                           "call_id": cid, "name": call.name, "arguments": call.arguments}),
                )));
                done
            }
        };
        events.push(Emit::now(event(
            ids,
            "response.output_item.done",
            json!({"response_id": rid, "output_index": index, "item": done}),
        )));
        items.push((events.len() - 1, done.clone()));
        events.push(Emit::now(event(
            ids,
            "conversation.item.done",
            json!({"previous_item_id": previous, "item": done}),
        )));
        previous = Some(item_id);
    }
    let counts = Counts::of(reply.overrides.usage.as_deref(), req, || {
        estimate_tokens(output_chars(reply, false))
    });
    let output = items.iter().map(|(_, v)| v.clone()).collect();
    events.push(Emit::now(event(
        ids,
        "response.done",
        json!({
            "response": head.response("completed", Value::Null, output, usage(Some(counts)))
        }),
    )));
    Rendered { events, items }
}

/// An output item's arrival, told twice as the real API does: once to the response
/// (`response.output_item.added`) and once to the conversation (`conversation.item.added`).
fn announce(
    events: &mut Vec<Emit>,
    ids: &mut Ids,
    rid: &str,
    index: usize,
    previous: &Option<String>,
    added: Value,
) {
    events.push(Emit::now(event(
        ids,
        "response.output_item.added",
        json!({"response_id": rid, "output_index": index, "item": added}),
    )));
    events.push(Emit::now(event(
        ids,
        "conversation.item.added",
        json!({"previous_item_id": previous, "item": added}),
    )));
}

/// A transcription turn for the committed audio item `item_id`: deltas then
/// `…completed`, or `…failed`.
pub(super) fn transcription(
    ids: &mut Ids,
    item_id: &str,
    model: &str,
    fx: Option<(&Fixture, &RenderContext)>,
    miss: &str,
) -> Vec<Emit> {
    let failed = |ids: &mut Ids, kind: &str, code: Option<&Value>, message: &str| {
        vec![Emit::now(event(
            ids,
            "conversation.item.input_audio_transcription.failed",
            json!({
                "item_id": item_id, "content_index": 0,
                "error": {"type": kind, "code": code, "message": message, "param": null},
            }),
        ))]
    };
    let Some((fx, ctx)) = fx else {
        return failed(
            ids,
            "invalid_request_error",
            Some(&json!("no_fixture_match")),
            miss,
        );
    };
    let text = match &fx.reply {
        Reply::Media(crate::cassette::model::MediaKind::Transcription, v) => v
            .pointer("/transcription/text")
            .and_then(|t| t.as_str())
            .map(String::from),
        Reply::Chat(c) => c.text(),
        Reply::Error(e) => {
            let kind = e.kind.as_deref().unwrap_or("server_error");
            return failed(ids, kind, e.code.as_ref(), &e.message);
        }
        _ => None,
    };
    let Some(text) = text else {
        let message = format!(
            "Fixture response of kind {} cannot answer a Realtime transcription ({})",
            fx.reply.kind_name(),
            fx.origin
        );
        return failed(ids, "server_error", None, &message);
    };
    let mut out: Vec<Emit> = chunk_text(&text, ctx.chunk_size)
        .map(|slice| {
            Emit::paced(event(
                ids,
                "conversation.item.input_audio_transcription.delta",
                json!({"item_id": item_id, "content_index": 0, "delta": slice}),
            ))
        })
        .collect();
    // Whisper and the live-transcription models bill by duration; the 4o transcribers
    // by tokens.
    let usage = if model.starts_with("gpt-4o") {
        let out_tokens = estimate_tokens(text.chars().count());
        json!({"type": "tokens", "total_tokens": out_tokens, "input_tokens": 0,
               "input_token_details": {"text_tokens": 0, "audio_tokens": 0}, "output_tokens": out_tokens})
    } else {
        json!({"type": "duration", "seconds": 0})
    };
    out.push(Emit::now(event(
        ids,
        "conversation.item.input_audio_transcription.completed",
        json!({
            "item_id": item_id, "content_index": 0, "transcript": text, "usage": usage,
        }),
    )));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_parts_get_text_and_function_items_link_to_their_calls() {
        let items = vec![
            json!({"type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": null}]}),
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_audio", "transcript": "ok"}]}),
            json!({"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}),
            json!({"type": "function_call_output", "call_id": "c1", "output": "42"}),
        ];
        let tools = vec![json!({"type": "function", "name": "f"})];
        let r = request(Endpoint::Realtime, "m", "sys", &items, &tools);
        assert_eq!(r.system_text(), "sys");
        assert_eq!(r.last_user_text(), Some("[audio input]"));
        assert_eq!(r.assistant_count(), 1);
        assert!(r.has_tool_result());
        assert_eq!(
            r.trailing_tool_message().unwrap().tool_call_id.as_deref(),
            Some("c1")
        );
        assert_eq!(r.tools, ["f"]);
        assert_eq!(r.endpoint, Endpoint::Realtime);
    }
}

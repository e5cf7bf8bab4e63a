//! A fixture's chat reply as an Anthropic message: the JSON body, or the stream events
//! (`message_start` … `message_stop`), each a typed [`Event`] that serialises to one
//! JSON object.
//!
//! Scope: content blocks, ids, stop reason, usage. Not here: SSE framing (see `super`)
//! and errors. Events are handed out as data rather than bytes so a surface that wraps
//! Anthropic events differently can reuse them unchanged.
//!
//! Field order follows real captures (`id, type, role, model, content, stop_reason,
//! stop_sequence, usage`); generated ids look like real ones (`msg_01…`, `toolu_01…`)
//! and derive from the render seed, so a replay is byte-for-byte repeatable.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::cassette::model::{Block, ChatReply, ToolCall};
use crate::providers::common::usage::{output_chars, Counts};
use crate::providers::common::{chunk_text, estimate_tokens, FrameWriter, RenderContext};
use crate::request::ChatRequest;

/// The model echoed when neither the fixture nor the request names one.
const DEFAULT_MODEL: &str = "claude-3-5-sonnet-20241022";

/// Signature sent on a thinking block when the fixture pins none: plainly not real.
pub const PLACEHOLDER_SIGNATURE: &str = "aimock-placeholder-signature";

/// One content block of the reply, in wire order, borrowing from the fixture.
#[derive(Debug, Clone, PartialEq)]
enum OutBlock<'a> {
    Redacted(&'a str),
    Thinking {
        text: &'a str,
        signature: &'a str,
    },
    Text(&'a str),
    ToolUse {
        id: String,
        name: &'a str,
        json: String,
    },
}

impl<'a> OutBlock<'a> {
    /// The block as it appears in a non-streamed `content` array.
    fn full(&self) -> Value {
        match self {
            OutBlock::Redacted(data) => json!({"type": "redacted_thinking", "data": data}),
            OutBlock::Thinking { text, signature } => {
                json!({"type": "thinking", "thinking": text, "signature": signature})
            }
            OutBlock::Text(t) => json!({"type": "text", "text": t}),
            OutBlock::ToolUse { id, name, json } => {
                let input: Value = serde_json::from_str(json).unwrap_or_else(|_| json!({}));
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
        }
    }

    /// The block as `content_block_start` announces it (empty where deltas follow).
    fn start(&self) -> BlockStart<'_> {
        match self {
            OutBlock::Redacted(data) => BlockStart::RedactedThinking { data },
            OutBlock::Thinking { .. } => BlockStart::Thinking {
                thinking: "",
                signature: "",
            },
            OutBlock::Text(_) => BlockStart::Text { text: "" },
            OutBlock::ToolUse { id, name, .. } => BlockStart::ToolUse {
                id,
                name,
                input: EmptyObject {},
            },
        }
    }

    /// The deltas that fill the block in, sliced by `chunk_size` characters, in order.
    fn for_each_delta<'s>(&'s self, chunk_size: usize, mut emit: impl FnMut(Delta<'s>)) {
        match self {
            OutBlock::Redacted(_) => {}
            OutBlock::Thinking { text, signature } => {
                chunk_text(text, chunk_size)
                    .for_each(|thinking| emit(Delta::ThinkingDelta { thinking }));
                emit(Delta::SignatureDelta { signature });
            }
            OutBlock::Text(t) => {
                chunk_text(t, chunk_size).for_each(|text| emit(Delta::TextDelta { text }))
            }
            OutBlock::ToolUse { json, .. } => {
                // The API opens every tool input with an empty fragment; an argument-less
                // call gets nothing else.
                emit(Delta::InputJsonDelta { partial_json: "" });
                if *json != "{}" {
                    chunk_text(json, chunk_size)
                        .for_each(|partial_json| emit(Delta::InputJsonDelta { partial_json }));
                }
            }
        }
    }
}

/// The `content_block` of a `content_block_start` event (`type` first).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockStart<'a> {
    /// An opaque thinking blob, sent whole.
    RedactedThinking {
        /// The blob.
        data: &'a str,
    },
    /// A thinking block, filled by deltas.
    Thinking {
        /// Always empty here.
        thinking: &'a str,
        /// Always empty here.
        signature: &'a str,
    },
    /// A text block, filled by deltas.
    Text {
        /// Always empty here.
        text: &'a str,
    },
    /// A tool call, its input filled by deltas.
    ToolUse {
        /// The call id.
        id: &'a str,
        /// The tool name.
        name: &'a str,
        /// Always `{}` here.
        input: EmptyObject,
    },
}

/// `{}`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EmptyObject {}

/// The `delta` of a `content_block_delta` event (`type` first, as the API sends it).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Delta<'a> {
    /// A slice of text.
    TextDelta {
        /// The slice.
        text: &'a str,
    },
    /// A slice of thinking.
    ThinkingDelta {
        /// The slice.
        thinking: &'a str,
    },
    /// The thinking block's signature.
    SignatureDelta {
        /// The signature.
        signature: &'a str,
    },
    /// A slice of a tool input's JSON text.
    InputJsonDelta {
        /// The slice.
        partial_json: &'a str,
    },
}

/// One stream event, `type` first: the SSE event name and the first JSON field.
///
/// # Design
/// A stream is a dozen or more events, mostly deltas. Building each as a `Value` (an
/// ordered map per object) and serialising it was most of the time an Anthropic
/// stream took to serve, so events are typed and serialise without maps, usage (with a
/// fixture's free-form extras) included. The JSON text is the same either way, field
/// for field and in the same order.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event<'a> {
    /// Opens the stream with the message envelope.
    MessageStart {
        /// The envelope, with empty content.
        message: MessageStart<'a>,
    },
    /// A keep-alive the API sends after `message_start`.
    Ping,
    /// Opens content block `index`.
    ContentBlockStart {
        /// Block position.
        index: usize,
        /// The block, empty where deltas follow.
        content_block: BlockStart<'a>,
    },
    /// A slice of content block `index`.
    ContentBlockDelta {
        /// Block position.
        index: usize,
        /// The slice.
        delta: Delta<'a>,
    },
    /// Closes content block `index`.
    ContentBlockStop {
        /// Block position.
        index: usize,
    },
    /// The stop reason and the final usage.
    MessageDelta {
        /// `stop_reason` and `stop_sequence`.
        delta: StopDelta<'a>,
        /// Final token counts.
        usage: Usage<'a>,
    },
    /// Ends the stream.
    MessageStop,
}

/// The message envelope `message_start` carries.
#[derive(Debug, Clone, Serialize)]
pub struct MessageStart<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'a str,
    model: &'a str,
    content: [Value; 0],
    stop_reason: Option<&'a str>,
    stop_sequence: Option<&'a str>,
    usage: Usage<'a>,
}

/// The `delta` of `message_delta`.
#[derive(Debug, Clone, Serialize)]
pub struct StopDelta<'a> {
    stop_reason: &'a str,
    stop_sequence: Option<&'a str>,
}

impl Event<'_> {
    /// The SSE lines before the event's JSON: `event: <type>\ndata: `, one constant per
    /// type (one copy per event rather than three).
    pub fn sse_head(&self) -> &'static [u8] {
        match self {
            Event::MessageStart { .. } => b"event: message_start\ndata: ",
            Event::Ping => b"event: ping\ndata: ",
            Event::ContentBlockStart { .. } => b"event: content_block_start\ndata: ",
            Event::ContentBlockDelta { .. } => b"event: content_block_delta\ndata: ",
            Event::ContentBlockStop { .. } => b"event: content_block_stop\ndata: ",
            Event::MessageDelta { .. } => b"event: message_delta\ndata: ",
            Event::MessageStop => b"event: message_stop\ndata: ",
        }
    }

    /// Append the event as compact JSON to `w`: the bytes the derived serialisation
    /// writes (see the tests), written by hand for the events every stream has.
    /// Through `serde_json` every key is escaped like any other string, which was most
    /// of the time an Anthropic stream took to render.
    pub fn write(&self, w: &mut FrameWriter) {
        let put = |w: &mut FrameWriter, b: &[u8]| w.buf().extend_from_slice(b);
        match self {
            Event::MessageStart { message: m } => {
                put(w, br#"{"type":"message_start","message":{"id":"#);
                w.str(m.id);
                put(w, br#","type":"#);
                w.str(m.kind);
                put(w, br#","role":"#);
                w.str(m.role);
                put(w, br#","model":"#);
                w.str(m.model);
                put(w, br#","content":[],"stop_reason":"#);
                w.json(&m.stop_reason);
                put(w, br#","stop_sequence":"#);
                w.json(&m.stop_sequence);
                put(w, br#","usage":"#);
                m.usage.write(w);
                put(w, b"}}");
            }
            Event::Ping => put(w, br#"{"type":"ping"}"#),
            Event::ContentBlockStart {
                index,
                content_block: BlockStart::Text { text },
            } => {
                put(w, br#"{"type":"content_block_start","index":"#);
                w.json(index);
                put(w, br#","content_block":{"type":"text","text":"#);
                w.str(text);
                put(w, b"}}");
            }
            Event::ContentBlockDelta {
                index,
                delta: Delta::TextDelta { text },
            } => {
                put(w, br#"{"type":"content_block_delta","index":"#);
                w.json(index);
                put(w, br#","delta":{"type":"text_delta","text":"#);
                w.str(text);
                put(w, b"}}");
            }
            Event::ContentBlockStop { index } => {
                put(w, br#"{"type":"content_block_stop","index":"#);
                w.json(index);
                put(w, b"}");
            }
            Event::MessageDelta { delta, usage } => {
                put(w, br#"{"type":"message_delta","delta":{"stop_reason":"#);
                w.str(delta.stop_reason);
                put(w, br#","stop_sequence":"#);
                w.json(&delta.stop_sequence);
                put(w, br#"},"usage":"#);
                usage.write(w);
                put(w, b"}");
            }
            Event::MessageStop => put(w, br#"{"type":"message_stop"}"#),
            other => w.json(other),
        }
    }

    /// The event as a value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Compact JSON text of a tool input: re-serialised, and `{}` unless it is an object
/// (Anthropic inputs are always objects).
fn input_json(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v.to_string(),
        _ => "{}".to_string(),
    }
}

fn out_blocks<'a>(reply: &'a ChatReply, ctx: &RenderContext) -> Vec<OutBlock<'a>> {
    let mut out: Vec<OutBlock> = reply
        .redacted_thinking
        .iter()
        .map(|d| OutBlock::Redacted(d))
        .collect();
    if let Some(r) = &reply.reasoning {
        out.push(OutBlock::Thinking {
            text: r,
            signature: reply
                .reasoning_signature
                .as_deref()
                .unwrap_or(PLACEHOLDER_SIGNATURE),
        });
    }
    // `ChatReply::ordered_blocks`, borrowed: `blocks`, or text first then tool calls.
    let pieces = if reply.blocks.is_empty() {
        usize::from(reply.content.is_some()) + reply.tool_calls.len()
    } else {
        reply.blocks.len()
    };
    // An empty text block next to other output is noise the API never sends.
    let lone = pieces == 1 && out.is_empty();
    let mut tool_index = 0usize;
    let mut place = |b: Piece<'a>| match b {
        Piece::Text(t) if t.is_empty() && !lone => {}
        Piece::Text(t) => out.push(OutBlock::Text(t)),
        Piece::Call(c) => {
            let id =
                c.id.clone()
                    .unwrap_or_else(|| ctx.id("toolu_01", &format!("call{tool_index}"), 22));
            tool_index += 1;
            out.push(OutBlock::ToolUse {
                id,
                name: &c.name,
                json: input_json(&c.arguments),
            });
        }
    };
    if reply.blocks.is_empty() {
        reply
            .content
            .as_deref()
            .map(Piece::Text)
            .into_iter()
            .for_each(&mut place);
        reply
            .tool_calls
            .iter()
            .map(Piece::Call)
            .for_each(&mut place);
    } else {
        reply
            .blocks
            .iter()
            .map(|b| match b {
                Block::Text(t) => Piece::Text(t),
                Block::ToolCall(c) => Piece::Call(c),
            })
            .for_each(&mut place);
    }
    out
}

/// A text or a tool call of the reply, in order.
enum Piece<'a> {
    Text(&'a str),
    Call(&'a ToolCall),
}

/// Anthropic `stop_reason` for a fixture (reference §4.10).
pub fn stop_reason(reply: &ChatReply) -> &str {
    match reply.overrides.finish_reason.as_deref() {
        Some("stop") => "end_turn",
        Some("tool_calls") => "tool_use",
        Some("length") => "max_tokens",
        Some(other) => other,
        None if reply.calls().is_empty() => "end_turn",
        None => "tool_use",
    }
}

/// Input and output token counts: pinned by the fixture, else estimated, never zero.
fn token_counts(reply: &ChatReply, req: &ChatRequest) -> (u64, u64) {
    let counts = Counts::of(reply.overrides.usage.as_deref(), req, || {
        estimate_tokens(output_chars(reply, true))
    });
    (counts.input, counts.output)
}

/// `usage`: input, the two cache counts, output, then a fixture's other extra keys. An
/// extra cache count takes its default's place (as inserting it into the map would).
#[derive(Debug, Clone, Copy)]
pub struct Usage<'a> {
    input: u64,
    output: u64,
    extra: Option<&'a Map<String, Value>>,
}

const CACHE_KEYS: [&str; 2] = ["cache_creation_input_tokens", "cache_read_input_tokens"];

impl Serialize for Usage<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let extra = self.extra.into_iter().flatten();
        let zero = Value::from(0);
        let cache = |k: &str| self.extra.and_then(|m| m.get(k)).unwrap_or(&zero);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("input_tokens", &self.input)?;
        for k in CACHE_KEYS {
            m.serialize_entry(k, cache(k))?;
        }
        m.serialize_entry("output_tokens", &self.output)?;
        for (k, v) in extra.filter(|(k, _)| !CACHE_KEYS.contains(&k.as_str())) {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Usage<'_> {
    /// Append as compact JSON to `w`: by hand when there are no extra keys (the bytes
    /// the serialisation above writes), else through it.
    fn write(&self, w: &mut FrameWriter) {
        if self.extra.is_some_and(|m| !m.is_empty()) {
            return w.json(self);
        }
        w.buf().extend_from_slice(br#"{"input_tokens":"#);
        w.json(&self.input);
        w.buf().extend_from_slice(
            br#","cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":"#,
        );
        w.json(&self.output);
        w.buf().push(b'}');
    }
}

fn usage(reply: &ChatReply, input: u64, output: u64) -> Usage<'_> {
    Usage {
        input,
        output,
        extra: reply.overrides.usage.as_deref().map(|u| &u.extra),
    }
}

/// The message envelope; only a generated id is made, the rest is borrowed.
struct Envelope<'a> {
    id: std::borrow::Cow<'a, str>,
    role: &'a str,
    model: &'a str,
}

fn envelope<'a>(reply: &'a ChatReply, req: &'a ChatRequest, ctx: &RenderContext) -> Envelope<'a> {
    let o = &reply.overrides;
    Envelope {
        id: match &o.id {
            Some(id) => id.as_str().into(),
            None => ctx.id("msg_01", "id", 22).into(),
        },
        role: o.role.as_deref().unwrap_or("assistant"),
        model: o
            .model
            .as_deref()
            .or(req.model.as_deref())
            .unwrap_or(DEFAULT_MODEL),
    }
}

/// The non-streamed message.
pub fn message_body(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> Value {
    let env = envelope(reply, req, ctx);
    let (input, output) = token_counts(reply, req);
    let content: Vec<Value> = out_blocks(reply, ctx).iter().map(OutBlock::full).collect();
    json!({
        "id": env.id,
        "type": "message",
        "role": env.role,
        "model": env.model,
        "content": content,
        "stop_reason": stop_reason(reply),
        "stop_sequence": null,
        "usage": serde_json::to_value(usage(reply, input, output)).unwrap_or(Value::Null),
    })
}

/// Every stream event in order, each a JSON object whose `type` is its SSE event name.
pub fn stream_events(reply: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> Vec<Value> {
    let mut events = Vec::new();
    for_each_stream_event(reply, req, ctx, |e| events.push(e.to_value()));
    events
}

/// Hand every stream event, in order, to `emit`.
pub fn for_each_stream_event(
    reply: &ChatReply,
    req: &ChatRequest,
    ctx: &RenderContext,
    mut emit: impl FnMut(Event<'_>),
) {
    let env = envelope(reply, req, ctx);
    let (input, output) = token_counts(reply, req);
    // The API reports a token or so of output at the start; message_delta has the total.
    emit(Event::MessageStart {
        message: MessageStart {
            id: &env.id,
            kind: "message",
            role: env.role,
            model: env.model,
            content: [],
            stop_reason: None,
            stop_sequence: None,
            usage: usage(reply, input, output.min(1)),
        },
    });
    emit(Event::Ping);
    for (index, block) in out_blocks(reply, ctx).iter().enumerate() {
        emit(Event::ContentBlockStart {
            index,
            content_block: block.start(),
        });
        block.for_each_delta(ctx.chunk_size, |delta| {
            emit(Event::ContentBlockDelta { index, delta })
        });
        emit(Event::ContentBlockStop { index });
    }
    emit(Event::MessageDelta {
        delta: StopDelta {
            stop_reason: stop_reason(reply),
            stop_sequence: None,
        },
        usage: usage(reply, input, output),
    });
    emit(Event::MessageStop);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cassette::model::parse_entry;
    use crate::cassette::{Fixture, Reply};
    use std::sync::Arc;

    fn reply(v: Value) -> (Fixture, ChatReply) {
        let mut f = Vec::new();
        let fx = parse_entry(
            &json!({"match": {}, "response": v}),
            &Arc::from("t.json"),
            0,
            &mut f,
        )
        .unwrap();
        let Reply::Chat(c) = fx.reply.clone() else {
            panic!("not a chat reply")
        };
        (fx, *c)
    }

    fn request() -> ChatRequest {
        super::super::request::parse_request(
            br#"{"model":"claude-test","messages":[{"role":"user","content":"hello there"}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_message_lists_thinking_then_text_then_tool_use_with_parsed_input() {
        let (fx, r) = reply(json!({
            "content": "Let me look.",
            "reasoning": "thinking hard",
            "reasoningSignature": "sig==",
            "redactedThinking": ["blob"],
            "toolCalls": [{"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}],
        }));
        let req = request();
        let ctx = RenderContext::new(&fx, &req, 20);
        let body = message_body(&r, &req, &ctx);
        let types: Vec<&str> = body["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["redacted_thinking", "thinking", "text", "tool_use"]);
        assert_eq!(body["content"][1]["signature"], "sig==");
        assert_eq!(body["content"][3]["input"], json!({"city": "Paris"}));
        assert!(body["content"][3]["id"]
            .as_str()
            .unwrap()
            .starts_with("toolu_01"));
        assert_eq!(body["stop_reason"], "tool_use");
        assert_eq!(body["model"], "claude-test");
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "id",
                "type",
                "role",
                "model",
                "content",
                "stop_reason",
                "stop_sequence",
                "usage"
            ]
        );
        assert!(body["usage"]["input_tokens"].as_u64().unwrap() > 0);
        assert!(body["usage"]["output_tokens"].as_u64().unwrap() > 0);
    }

    #[test]
    fn events_written_by_hand_match_their_derived_serialisation() {
        let empty = Map::new();
        let mut extra = Map::new();
        extra.insert("cache_read_input_tokens".into(), json!(3));
        extra.insert("service_tier".into(), json!("standard"));
        let usages = [
            Usage {
                input: 7,
                output: 1,
                extra: None,
            },
            Usage {
                input: 7,
                output: 9,
                extra: Some(&empty),
            },
            Usage {
                input: 0,
                output: 2,
                extra: Some(&extra),
            },
        ];
        let mut events = vec![
            Event::Ping,
            Event::MessageStop,
            Event::ContentBlockStop { index: 12 },
            Event::ContentBlockStart {
                index: 0,
                content_block: BlockStart::Text { text: "" },
            },
            Event::ContentBlockStart {
                index: 1,
                content_block: BlockStart::ToolUse {
                    id: "toolu_1",
                    name: "f",
                    input: EmptyObject {},
                },
            },
            Event::ContentBlockDelta {
                index: 3,
                delta: Delta::TextDelta { text: "plain" },
            },
            Event::ContentBlockDelta {
                index: 0,
                delta: Delta::TextDelta {
                    text: "esc \" \\ \n é 🎉",
                },
            },
            Event::ContentBlockDelta {
                index: 1,
                delta: Delta::InputJsonDelta {
                    partial_json: "{\"a",
                },
            },
        ];
        for usage in usages {
            events.push(Event::MessageStart {
                message: MessageStart {
                    id: "msg_01\"x",
                    kind: "message",
                    role: "assistant",
                    model: "claude-é",
                    content: [],
                    stop_reason: None,
                    stop_sequence: None,
                    usage,
                },
            });
            events.push(Event::MessageDelta {
                delta: StopDelta {
                    stop_reason: "end_turn",
                    stop_sequence: Some("\n"),
                },
                usage,
            });
        }
        for e in events {
            let mut w = FrameWriter::default();
            e.write(&mut w);
            w.cut(true);
            let frames = w.into_frames();
            assert_eq!(frames[0].bytes, serde_json::to_vec(&e).unwrap(), "{e:?}");
            // The SSE event name is the JSON `type`.
            let kind = serde_json::to_value(&e).unwrap()["type"].clone();
            let head = format!("event: {}\ndata: ", kind.as_str().unwrap());
            assert_eq!(e.sse_head(), head.as_bytes(), "{e:?}");
        }
    }

    #[test]
    fn finish_reasons_translate_to_stop_reasons() {
        for (fixture, wire) in [
            (json!({"content": "x"}), "end_turn"),
            (
                json!({"content": "x", "finishReason": "length"}),
                "max_tokens",
            ),
            (json!({"content": "x", "finishReason": "stop"}), "end_turn"),
            (
                json!({"content": "x", "finishReason": "tool_calls"}),
                "tool_use",
            ),
            (
                json!({"content": "x", "finishReason": "refusal"}),
                "refusal",
            ),
            (json!({"toolCalls": [{"name": "f"}]}), "tool_use"),
        ] {
            assert_eq!(stop_reason(&reply(fixture).1), wire);
        }
    }

    #[test]
    fn tool_input_streams_as_compact_json_slices_after_an_empty_fragment() {
        let (fx, r) =
            reply(json!({"toolCalls": [{"name": "f", "arguments": "{\"a\": 1, \"b\": [2, 3]}"}]}));
        let req = request();
        let ctx = RenderContext {
            chunk_size: 4,
            ..RenderContext::new(&fx, &req, 4)
        };
        let events = stream_events(&r, &req, &ctx);
        let parts: Vec<&str> = events
            .iter()
            .filter_map(|e| e["delta"]["partial_json"].as_str())
            .collect();
        assert_eq!(parts[0], "");
        assert_eq!(parts.concat(), r#"{"a":1,"b":[2,3]}"#);
        assert!(parts[1..].iter().all(|p| p.chars().count() <= 4));
    }

    #[test]
    fn usage_pins_win_and_extras_pass_through() {
        let (fx, r) = reply(json!({"content": "x",
            "usage": {"input_tokens": 7, "output_tokens": 9, "cache_read_input_tokens": 3}}));
        let req = request();
        let body = message_body(&r, &req, &RenderContext::new(&fx, &req, 20));
        assert_eq!(
            body["usage"],
            json!({"input_tokens": 7, "cache_creation_input_tokens": 0,
                   "cache_read_input_tokens": 3, "output_tokens": 9})
        );
    }

    #[test]
    fn an_empty_text_block_beside_a_tool_call_is_dropped() {
        let (fx, r) = reply(json!({"content": "", "toolCalls": [{"name": "f"}]}));
        let req = request();
        let body = message_body(&r, &req, &RenderContext::new(&fx, &req, 20));
        assert_eq!(body["content"].as_array().unwrap().len(), 1);
        let (fx, r) = reply(json!({"content": ""}));
        let body = message_body(&r, &req, &RenderContext::new(&fx, &req, 20));
        assert_eq!(body["content"], json!([{"type": "text", "text": ""}]));
    }
}

//! OpenAI Responses over WebSocket, `GET /v1/responses` upgraded: the pure state machine
//! of one connection. Each `{"type":"response.create", …}` message is a Responses create
//! body at the top level, answered with exactly the events of the HTTP stream
//! (`reply::stream_events`), one event per text frame, with no `event:` line and no
//! `[DONE]`.
//!
//! State kept per connection, as the real API keeps it: the conversation each response
//! ended (its input items and its output), by response id, so a follow-up that sends
//! only new items and `previous_response_id` is matched on the whole conversation
//! (`turnIndex`, `hasToolResult` and `toolCallId` see what they would over HTTP with the
//! full history). The last [`KEPT`] responses are kept; an unknown id gets the real
//! `previous_response_not_found` error. A `stream_id` is echoed on every event.
//!
//! Errors are the WebSocket error event, `{"type":"error","status":N,"error":{type,
//! code, message, param}}`; the connection stays open. Not here: `response.steer`
//! (answered with an `invalid_request_error`), `generate: false` warm-ups (answered as a
//! normal turn), the I/O (`server::realtime`).

use std::collections::VecDeque;

use serde_json::{json, Map, Value};

use crate::cassette::{Fixture, Reply};
use crate::providers::common::answer;
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::socket::{event_type, Answer, Emit, Logged, Mark, Protocol, Step};
use crate::providers::common::RenderContext;
use crate::providers::openai::responses::{reply, request};
use crate::request::ChatRequest;

/// How many finished responses a connection remembers for `previous_response_id`.
pub(crate) const KEPT: usize = 32;

/// One Responses WebSocket connection.
#[derive(Default)]
pub(crate) struct ResponsesSocket {
    /// (response id, the conversation it ended as items: input and output; the
    /// instructions are not part of it, as the real API does not carry them over).
    history: VecDeque<(String, Vec<Value>)>,
    /// The turn being answered: its conversation so far and its `stream_id`.
    pending: Option<(Vec<Value>, Option<Value>)>,
}

impl ResponsesSocket {
    /// A new connection.
    pub(crate) fn new() -> ResponsesSocket {
        ResponsesSocket::default()
    }

    fn conversation(&self, id: &str) -> Option<&Vec<Value>> {
        self.history.iter().find(|(r, _)| r == id).map(|(_, m)| m)
    }

    fn remember(&mut self, id: String, messages: Vec<Value>) {
        self.history.retain(|(r, _)| *r != id);
        if self.history.len() == KEPT {
            self.history.pop_front();
        }
        self.history.push_back((id, messages));
    }
}

/// The WebSocket error event.
fn error(
    status: u16,
    kind: &str,
    code: Option<&Value>,
    message: &str,
    param: Option<&str>,
) -> Value {
    tracing::debug!(status, kind, message, "responses websocket: error event");
    json!({"type": "error", "status": status,
           "error": {"type": kind, "code": code, "message": message, "param": param}})
}

fn with_stream_id(mut v: Value, stream_id: &Option<Value>) -> Value {
    if let (Some(id), Some(o)) = (stream_id, v.as_object_mut()) {
        o.insert("stream_id".into(), id.clone());
    }
    v
}

impl Protocol for ResponsesSocket {
    fn provider(&self) -> &'static str {
        "openai"
    }

    fn route(&self) -> &'static str {
        "/v1/responses"
    }

    fn on_text(&mut self, text: &str) -> Step {
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let message = format!("Malformed JSON: {e}");
                tracing::warn!(%message, "responses websocket: bad client message");
                return Step::one(error(
                    400,
                    "invalid_request_error",
                    Some(&json!("invalid_json")),
                    &message,
                    None,
                ));
            }
        };
        match event_type(&v) {
            Some("response.create") => {}
            other => {
                let message = format!(
                    "Invalid value: '{}'. Supported values are: 'response.create'.",
                    other.unwrap_or_default()
                );
                tracing::warn!(%message, "responses websocket: bad client message");
                return Step::one(error(
                    400,
                    "invalid_request_error",
                    Some(&json!("invalid_value")),
                    &message,
                    Some("type"),
                ));
            }
        }
        let Some(o) = v.as_object() else {
            return Step::default();
        };
        let stream_id = o.get("stream_id").cloned();
        let previous = o.get("previous_response_id").and_then(|p| p.as_str());
        let prior = match previous {
            None => Vec::new(),
            Some(id) => match self.conversation(id) {
                Some(m) => m.clone(),
                None => {
                    let message = format!("Previous response with id '{id}' not found.");
                    let e = error(
                        400,
                        "invalid_request_error",
                        Some(&json!("previous_response_not_found")),
                        &message,
                        Some("previous_response_id"),
                    );
                    return Step::one(with_stream_id(e, &stream_id));
                }
            },
        };
        // The create body is the message without the WebSocket-only fields, its input
        // the conversation so far followed by the new items, parsed as one list (so a
        // tool output finds the call it answers in an earlier response).
        let mut body: Map<String, Value> = o.clone();
        for k in ["type", "stream_id", "generate"] {
            body.remove(k);
        }
        let new: Vec<Value> = match body.get("input") {
            Some(Value::String(s)) => {
                vec![json!({"type": "message", "role": "user", "content": s})]
            }
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        let mut conversation = prior;
        conversation.extend(new);
        body.insert("input".into(), Value::Array(conversation.clone()));
        let bytes = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
        let mut req = match request::parse_request(&bytes) {
            Ok(r) => r,
            Err(e) => {
                let err = error(
                    e.status,
                    "invalid_request_error",
                    Some(&json!(e.code)),
                    &e.message,
                    None,
                );
                return Step::one(with_stream_id(err, &stream_id));
            }
        };
        req.stream = true;
        self.pending = Some((conversation, stream_id));
        Step {
            events: Vec::new(),
            turn: Some(Box::new(req)),
            close: None,
        }
    }

    fn answer(&mut self, turn: &ChatRequest, found: Answer<'_>) -> Vec<Emit> {
        let (conversation, stream_id) = self.pending.take().unwrap_or_default();
        let one = |v: Value| vec![Emit::now(with_stream_id(v, &stream_id))];
        let (fx, ctx) = match found {
            Answer::Miss(message) => {
                return one(error(
                    404,
                    "invalid_request_error",
                    Some(&json!("no_fixture_match")),
                    message,
                    None,
                ));
            }
            Answer::Fixture(fx, ctx) => (fx, ctx),
        };
        if let Reply::Error(e) = &fx.reply {
            let kind = e.kind.as_deref().unwrap_or(if e.status >= 500 {
                "server_error"
            } else {
                "invalid_request_error"
            });
            let param = e.param.as_ref().and_then(|p| p.as_str());
            return one(error(e.status, kind, e.code.as_ref(), &e.message, param));
        }
        let chat = match answer::chat(fx, "a Responses request") {
            Ok(c) => c,
            Err(message) => return one(error(500, "server_error", None, &message, None)),
        };
        let events = reply::stream_events(chat, turn, ctx);
        // The conversation this response ends, for a later `previous_response_id`.
        if let Some(done) = events.last().and_then(|e| e.get("response")) {
            let id = done
                .get("id")
                .and_then(|i| i.as_str())
                .unwrap_or_default()
                .to_string();
            let mut items = conversation;
            if let Some(output) = done.get("output").and_then(|o| o.as_array()) {
                items.extend(output.iter().cloned());
            }
            self.remember(id, items);
        }
        events
            .into_iter()
            .map(|e| {
                let paced = matches!(
                    event_type(&e),
                    Some(t) if t.ends_with(".delta")
                );
                Emit {
                    value: with_stream_id(e, &stream_id),
                    paced,
                }
            })
            .collect()
    }

    fn error_event(&mut self, status: u16, code: &str, message: &str) -> Option<Value> {
        let kind = if status >= 500 {
            "server_error"
        } else {
            "invalid_request_error"
        };
        Some(error(status, kind, Some(&json!(code)), message, None))
    }

    fn mark(&self, v: &Value) -> Mark {
        match event_type(v).unwrap_or_default() {
            "response.created" => Mark::Start,
            "response.completed" | "response.failed" | "response.incomplete" => Mark::End,
            // A create the API refuses is answered by this event alone.
            "error" => Mark::Error { ends_turn: true },
            t if t.ends_with(".delta") => Mark::Slice,
            t if t.starts_with("response.") => Mark::Event,
            _ => Mark::Session,
        }
    }

    fn collapse_turn(&self, events: &[Value]) -> Collapsed {
        crate::providers::openai::responses::collapse::collapse_events(events)
    }

    /// The missed create alone, made whole: its input the conversation so far (what
    /// aimock answered included) and no `previous_response_id`, which names a
    /// response the upstream never made. Earlier creates are not sent again.
    fn bridge_opening(&self, log: &[Logged]) -> Vec<Logged> {
        let Some((last, _)) = log.last() else {
            return Vec::new();
        };
        let mut v: Value = serde_json::from_str(last).unwrap_or(Value::Null);
        if let (Some(o), Some((conversation, _))) = (v.as_object_mut(), &self.pending) {
            o.remove("previous_response_id");
            o.insert("input".into(), Value::Array(conversation.clone()));
        }
        vec![(v.to_string(), true)]
    }

    /// The response is remembered under the upstream's id: the client continues with
    /// the id it was sent.
    fn recorded(&mut self, turn: &ChatRequest, fx: &Fixture, ctx: &RenderContext, up: &[Value]) {
        let _ = self.answer(turn, Answer::Fixture(fx, ctx));
        let upstream_id = up
            .iter()
            .find_map(|e| e.pointer("/response/id").and_then(Value::as_str));
        if let (Some(id), Some(last)) = (upstream_id, self.history.back_mut()) {
            last.0 = id.to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::common::RenderContext;
    use crate::request::Role;
    use crate::testing::fixture;

    fn turn(m: &mut ResponsesSocket, text: &str) -> ChatRequest {
        let step = m.on_text(text);
        assert!(step.events.is_empty(), "{:?}", step.events);
        *step.turn.expect("a turn")
    }

    fn answer(
        m: &mut ResponsesSocket,
        req: &ChatRequest,
        fx: &crate::cassette::Fixture,
    ) -> Vec<Value> {
        let ctx = RenderContext::new(fx, req, 4);
        m.answer(req, Answer::Fixture(fx, &ctx))
            .into_iter()
            .map(|e| e.value)
            .collect()
    }

    #[test]
    fn a_create_is_answered_with_the_http_stream_events_one_per_frame() {
        let mut m = ResponsesSocket::new();
        let req = turn(
            &mut m,
            r#"{"type":"response.create","model":"gpt-4.1","input":"hi","stream_id":"s1"}"#,
        );
        assert_eq!(req.last_user_text(), Some("hi"));
        let fx = fixture(json!({"match": {}, "response": {"content": "Hello there"}}));
        let events = answer(&mut m, &req, &fx);
        let names: Vec<&str> = events.iter().filter_map(event_type).collect();
        assert_eq!(names.first(), Some(&"response.created"));
        assert_eq!(names.last(), Some(&"response.completed"));
        assert!(
            names
                .iter()
                .filter(|n| **n == "response.output_text.delta")
                .count()
                >= 2
        );
        assert!(events.iter().all(|e| e["stream_id"] == "s1"));
    }

    #[test]
    fn previous_response_id_continues_the_conversation() {
        let mut m = ResponsesSocket::new();
        let req = turn(
            &mut m,
            r#"{"type":"response.create","input":"weather?","tools":[{"type":"function","name":"get_weather"}]}"#,
        );
        let fx = fixture(
            json!({"match": {}, "response": {"toolCalls": [{"name": "get_weather", "arguments": "{}", "id": "call_1"}]}}),
        );
        let events = answer(&mut m, &req, &fx);
        let id = events.last().unwrap()["response"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let follow = format!(
            r#"{{"type":"response.create","previous_response_id":"{id}","instructions":"sys","input":[{{"type":"function_call_output","call_id":"call_1","output":"sunny"}}]}}"#
        );
        let req = turn(&mut m, &follow);
        assert_eq!(req.system_text(), "sys");
        assert_eq!(req.last_user_text(), Some("weather?"));
        assert_eq!(req.assistant_count(), 1);
        assert!(req.has_tool_result());
        assert_eq!(
            req.trailing_tool_message().unwrap().tool_call_id.as_deref(),
            Some("call_1")
        );
        assert_eq!(req.messages[0].role, Role::System);
    }

    #[test]
    fn bad_messages_get_error_events_and_the_connection_goes_on() {
        let mut m = ResponsesSocket::new();
        let e = &m.on_text("{not json").events[0].value;
        assert_eq!(e["type"], "error");
        assert_eq!(e["error"]["code"], "invalid_json");
        let e = &m.on_text(r#"{"type":"response.steer"}"#).events[0].value;
        assert_eq!(e["error"]["param"], "type");
        let e = &m
            .on_text(r#"{"type":"response.create","previous_response_id":"resp_nope","input":"x"}"#)
            .events[0]
            .value;
        assert_eq!(e["error"]["code"], "previous_response_not_found");
        assert_eq!(e["status"], 400);
        let req = turn(&mut m, r#"{"type":"response.create","input":"x"}"#);
        let e = &m.answer(&req, Answer::Miss("No fixture matched"))[0].value;
        assert_eq!(e["error"]["code"], "no_fixture_match");
        let req = turn(&mut m, r#"{"type":"response.create","input":"x"}"#);
        let fx = fixture(
            json!({"match": {}, "response": {"error": {"message": "slow down", "type": "rate_limit_error"}, "status": 429}}),
        );
        let e = &answer(&mut m, &req, &fx)[0];
        assert_eq!(e["status"], 429);
        assert_eq!(e["error"]["type"], "rate_limit_error");
    }
}

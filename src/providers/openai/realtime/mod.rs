//! OpenAI Realtime (GA) over WebSocket, `GET /v1/realtime?model=…`: the pure state
//! machine of one connection. Client events in, server events out; a `response.create`
//! (or, in a transcription session, a commit) hands the server a turn to match.
//!
//! - `session`: the session object, `session.update`'s rules.
//! - `turn`: the conversation into the neutral request, an answer into `response.*`
//!   events (text, audio transcript, function calls, failures), transcription events.
//! - here: the conversation (items in order), the input audio buffer, and the
//!   dispatch of every client event.
//!
//! Client events served: `session.update` (and `transcription_session.update` on a
//! transcription session), `conversation.item.create|retrieve|delete|truncate`,
//! `input_audio_buffer.append|commit|clear`, `response.create`, `response.cancel`. An
//! unknown type, a missing field or a bad value gets an `error` event in the real
//! shape (`error.type`, `code`, `message`, `param`, and the client's `event_id`); the
//! connection stays open. An upgrade that asks for the beta shape (`OpenAI-Beta:
//! realtime=v1`) is refused with the real error and close code 4000.
//!
//! Where the real API differs and aimock cannot follow: no audio is decoded or
//! produced (an audio turn's text arrives as its transcript, with no
//! `response.output_audio.delta`), there is no voice activity detection (turn detection
//! is off: the client commits and asks for a response), and a conversation session does
//! not transcribe its input audio.

mod collapse;
mod session;
mod turn;

use serde_json::{json, Map, Value};

use crate::providers::common::collapse::Collapsed;
use crate::providers::common::socket::{event_type, Answer, Emit, Ids, Mark, Protocol, Step};
use crate::request::{ChatRequest, Endpoint, Message, Role};
use session::{Kind, Session};
use turn::{event, Head};

/// The turn the machine is waiting on or sending.
enum Pending {
    /// A `response.create`.
    Response {
        head: Head,
        /// Output items join the conversation (`conversation: "auto"`).
        keep: bool,
    },
    /// A committed audio item to transcribe.
    Transcription { item_id: String, model: String },
}

/// The last response sent, for a cancel that arrives while it is on the wire.
struct Sent {
    head: Head,
    items: Vec<(usize, Value)>,
    kept: bool,
}

/// One Realtime connection.
pub(crate) struct Realtime {
    ids: Ids,
    session: Session,
    items: Vec<Value>,
    /// Bytes appended to the input audio buffer since the last commit or clear.
    audio_bytes: usize,
    pending: Option<Pending>,
    sent: Option<Sent>,
    /// The upgrade asked for the beta shape.
    beta: bool,
}

/// The client events served, as the `invalid_value` error lists them.
const SUPPORTED: &[&str] = &[
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
];

impl Realtime {
    /// A connection opened with `query` (`model=`, `intent=transcription`) at `now`
    /// (unix seconds); `beta` when the upgrade sent `OpenAI-Beta: realtime=v1`.
    pub(crate) fn new(query: Option<&str>, beta: bool, mut ids: Ids, now: i64) -> Realtime {
        let param = |name: &str| crate::providers::common::socket::query_param(query, name);
        let kind = match param("intent").as_deref() {
            Some("transcription") => Kind::Transcription,
            _ => Kind::Conversation,
        };
        let model = param("model")
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| session::DEFAULT_MODEL.to_string());
        let id = ids.next("sess_");
        Realtime {
            session: Session::new(kind, model, id, now),
            ids,
            items: Vec::new(),
            audio_bytes: 0,
            pending: None,
            sent: None,
            beta,
        }
    }

    fn event(&mut self, kind: &str, body: Value) -> Value {
        event(&mut self.ids, kind, body)
    }

    /// An `error` event: `invalid_request_error` with `code`, `message`, `param`, and
    /// the id of the client event it answers.
    fn error(
        &mut self,
        code: &str,
        message: &str,
        param: Option<&str>,
        client: Option<&str>,
    ) -> Step {
        tracing::warn!(code, message, "realtime: refusing a client event");
        let e = self.event(
            "error",
            json!({"error": {"type": "invalid_request_error", "code": code, "message": message,
                             "param": param, "event_id": client}}),
        );
        Step::one(e)
    }

    fn last_item_id(&self) -> Option<String> {
        self.items
            .last()
            .and_then(|i| i.get("id"))
            .and_then(|i| i.as_str())
            .map(String::from)
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.items
            .iter()
            .position(|i| i.get("id").and_then(|v| v.as_str()) == Some(id))
    }

    fn dispatch(&mut self, kind: &str, o: &Map<String, Value>, client: Option<&str>) -> Step {
        match kind {
            "session.update" | "transcription_session.update" => self.update(kind, o, client),
            "conversation.item.create" => self.create_item(o, client),
            "conversation.item.retrieve"
            | "conversation.item.delete"
            | "conversation.item.truncate" => self.item_op(kind, o, client),
            "input_audio_buffer.append" => self.append(o, client),
            "input_audio_buffer.commit" => self.commit(client),
            "input_audio_buffer.clear" => {
                self.audio_bytes = 0;
                Step::one(self.event("input_audio_buffer.cleared", json!({})))
            }
            "response.create" => self.response(o, client),
            "response.cancel" => self.error(
                "response_cancel_not_active",
                "Cancellation failed: no active response found",
                None,
                client,
            ),
            other => {
                let list: Vec<String> = SUPPORTED.iter().map(|s| format!("'{s}'")).collect();
                let message = format!(
                    "Invalid value: '{other}'. Supported values are: {}.",
                    list.join(", ")
                );
                self.error("invalid_value", &message, Some("type"), client)
            }
        }
    }

    fn update(&mut self, kind: &str, o: &Map<String, Value>, client: Option<&str>) -> Step {
        let transcription_event = kind == "transcription_session.update";
        if transcription_event && self.session.kind != Kind::Transcription {
            return self.error(
                "invalid_session_config",
                "transcription_session.update needs a transcription session (connect with ?intent=transcription)",
                Some("type"),
                client,
            );
        }
        let Some(s) = o.get("session").and_then(|s| s.as_object()) else {
            return self.error(
                "missing_required_parameter",
                "Missing required parameter: 'session'.",
                Some("session"),
                client,
            );
        };
        if let Err((message, param)) = self.session.update(s) {
            return self.error("invalid_value", &message, Some(&param), client);
        }
        let reply = if transcription_event {
            "transcription_session.updated"
        } else {
            "session.updated"
        };
        let session = self.session.object();
        Step::one(self.event(reply, json!({"session": session})))
    }

    fn create_item(&mut self, o: &Map<String, Value>, client: Option<&str>) -> Step {
        let Some(item) = o.get("item").and_then(|i| i.as_object()) else {
            return self.error(
                "missing_required_parameter",
                "Missing required parameter: 'item'.",
                Some("item"),
                client,
            );
        };
        let kind = item
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("message");
        if !matches!(kind, "message" | "function_call" | "function_call_output") {
            let message = format!(
                "Invalid value: '{kind}'. Supported values are: 'message', 'function_call', and 'function_call_output'."
            );
            return self.error("invalid_value", &message, Some("item.type"), client);
        }
        if kind == "message"
            && !matches!(
                item.get("role").and_then(|r| r.as_str()),
                Some("user" | "assistant" | "system")
            )
        {
            return self.error(
                "invalid_value",
                "Invalid 'item.role': expected one of 'user', 'assistant', 'system'.",
                Some("item.role"),
                client,
            );
        }
        let at = match o.get("previous_item_id").and_then(|p| p.as_str()) {
            None => self.items.len(),
            Some("root") => 0,
            Some(id) => match self.position(id) {
                Some(i) => i + 1,
                None => {
                    let message = format!("Previous item with id '{id}' not found.");
                    return self.error("invalid_value", &message, Some("previous_item_id"), client);
                }
            },
        };
        let mut item = item.clone();
        if !item.get("id").is_some_and(|i| i.is_string()) {
            item.insert("id".into(), self.ids.next("item_").into());
        }
        item.insert("type".into(), kind.into());
        item.insert("object".into(), "realtime.item".into());
        item.entry("status").or_insert_with(|| "completed".into());
        let item = Value::Object(item);
        let previous = at
            .checked_sub(1)
            .and_then(|i| self.items[i].get("id").cloned())
            .unwrap_or(Value::Null);
        self.items.insert(at, item.clone());
        let added = self.event(
            "conversation.item.added",
            json!({"previous_item_id": previous, "item": item}),
        );
        let done = self.event(
            "conversation.item.done",
            json!({"previous_item_id": previous, "item": item}),
        );
        Step::send(vec![Emit::now(added), Emit::now(done)])
    }

    fn item_op(&mut self, kind: &str, o: &Map<String, Value>, client: Option<&str>) -> Step {
        let Some(id) = o.get("item_id").and_then(|i| i.as_str()).map(String::from) else {
            return self.error(
                "missing_required_parameter",
                "Missing required parameter: 'item_id'.",
                Some("item_id"),
                client,
            );
        };
        let Some(at) = self.position(&id) else {
            let message = format!("Item with item_id not found: {id}");
            return self.error("item_not_found", &message, Some("item_id"), client);
        };
        let reply = match kind {
            "conversation.item.retrieve" => {
                let item = self.items[at].clone();
                self.event("conversation.item.retrieved", json!({"item": item}))
            }
            "conversation.item.delete" => {
                self.items.remove(at);
                self.event("conversation.item.deleted", json!({"item_id": id}))
            }
            _ => {
                let content_index = o.get("content_index").cloned().unwrap_or(json!(0));
                let audio_end_ms = o.get("audio_end_ms").cloned().unwrap_or(json!(0));
                self.event(
                    "conversation.item.truncated",
                    json!({"item_id": id, "content_index": content_index, "audio_end_ms": audio_end_ms}),
                )
            }
        };
        Step::one(reply)
    }

    fn append(&mut self, o: &Map<String, Value>, client: Option<&str>) -> Step {
        use base64::Engine;
        let Some(audio) = o.get("audio").and_then(|a| a.as_str()) else {
            return self.error(
                "missing_required_parameter",
                "Missing required parameter: 'audio'.",
                Some("audio"),
                client,
            );
        };
        match base64::engine::general_purpose::STANDARD.decode(audio) {
            Ok(bytes) => {
                self.audio_bytes += bytes.len();
                Step::default()
            }
            Err(_) => self.error(
                "invalid_value",
                "Invalid 'audio': expected base64-encoded audio bytes.",
                Some("audio"),
                client,
            ),
        }
    }

    fn commit(&mut self, client: Option<&str>) -> Step {
        if self.audio_bytes == 0 {
            return self.error(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has 0.00ms of audio.",
                None,
                client,
            );
        }
        self.audio_bytes = 0;
        let previous = self.last_item_id();
        let item_id = self.ids.next("item_");
        let item = json!({"id": item_id, "type": "message", "object": "realtime.item",
            "status": "completed", "role": "user",
            "content": [{"type": "input_audio", "transcript": null}]});
        self.items.push(item.clone());
        let events = vec![
            Emit::now(self.event(
                "input_audio_buffer.committed",
                json!({"previous_item_id": previous, "item_id": item_id}),
            )),
            Emit::now(self.event(
                "conversation.item.added",
                json!({"previous_item_id": previous, "item": item}),
            )),
            Emit::now(self.event(
                "conversation.item.done",
                json!({"previous_item_id": previous, "item": item}),
            )),
        ];
        if self.session.kind != Kind::Transcription {
            return Step::send(events);
        }
        let model = self.session.transcription_model();
        let mut req = ChatRequest::new(Endpoint::RealtimeTranscription, item_id.as_bytes());
        req.model = Some(model.clone());
        req.messages
            .push(Message::text(Role::User, "[audio input]"));
        self.pending = Some(Pending::Transcription { item_id, model });
        Step {
            events,
            turn: Some(Box::new(req)),
            close: None,
        }
    }

    fn response(&mut self, o: &Map<String, Value>, client: Option<&str>) -> Step {
        if self.session.kind == Kind::Transcription {
            return self.error(
                "invalid_request_error",
                "Responses cannot be created in a transcription session.",
                Some("type"),
                client,
            );
        }
        let params = o.get("response").and_then(|r| r.as_object());
        let get = |k: &str| params.and_then(|p| p.get(k));
        let instructions = get("instructions")
            .and_then(|i| i.as_str())
            .unwrap_or(self.session.instructions())
            .to_string();
        let tools: Vec<Value> = get("tools")
            .and_then(|t| t.as_array())
            .cloned()
            .unwrap_or_else(|| self.session.tools().to_vec());
        let modalities = get("output_modalities")
            .or_else(|| get("modalities"))
            .cloned()
            .unwrap_or_else(|| self.session.modalities());
        let keep = get("conversation").and_then(|c| c.as_str()) != Some("none");
        // `input` is a context of its own (item references resolved); else the
        // conversation.
        let context: Vec<Value> = match get("input").and_then(|i| i.as_array()) {
            Some(input) => input
                .iter()
                .filter_map(|i| match i.get("type").and_then(|t| t.as_str()) {
                    Some("item_reference") => i
                        .get("id")
                        .and_then(|id| id.as_str())
                        .and_then(|id| self.position(id))
                        .map(|at| self.items[at].clone()),
                    _ => Some(i.clone()),
                })
                .collect(),
            None if keep => self.items.clone(),
            None => Vec::new(),
        };
        let audio_output = self
            .session
            .object()
            .pointer("/audio/output")
            .cloned()
            .unwrap_or(Value::Null);
        let head = Head {
            id: self.ids.next("resp_"),
            modalities,
            audio_output,
            previous_item_id: if keep { self.last_item_id() } else { None },
        };
        let req = turn::request(
            Endpoint::Realtime,
            &self.session.model,
            &instructions,
            &context,
            &tools,
        );
        self.pending = Some(Pending::Response { head, keep });
        Step {
            events: Vec::new(),
            turn: Some(Box::new(req)),
            close: None,
        }
    }
}

impl Protocol for Realtime {
    fn provider(&self) -> &'static str {
        "openai"
    }

    fn route(&self) -> &'static str {
        "/v1/realtime"
    }

    fn open(&mut self) -> Step {
        if self.beta {
            let e = self.event("error", json!({"error": {
                "type": "invalid_request_error", "code": "beta_api_shape_disabled",
                "message": "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
                "param": null, "event_id": null}}));
            return Step {
                events: vec![Emit::now(e)],
                turn: None,
                close: Some((4000, "invalid_request_error.beta_api_shape_disabled".into())),
            };
        }
        let session = self.session.object();
        Step::one(self.event("session.created", json!({"session": session})))
    }

    fn on_text(&mut self, text: &str) -> Step {
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let message = format!("Malformed JSON: {e}");
                return self.error("invalid_json", &message, None, None);
            }
        };
        let Some(o) = v.as_object() else {
            return self.error(
                "invalid_value",
                "A client event must be a JSON object.",
                None,
                None,
            );
        };
        let client = o.get("event_id").and_then(|e| e.as_str()).map(String::from);
        let Some(kind) = event_type(&v) else {
            return self.error(
                "missing_required_parameter",
                "Missing required parameter: 'type'.",
                Some("type"),
                client.as_deref(),
            );
        };
        let kind = kind.to_string();
        self.dispatch(&kind, o, client.as_deref())
    }

    fn answer(&mut self, turn: &ChatRequest, answer: Answer<'_>) -> Vec<Emit> {
        match self.pending.take() {
            Some(Pending::Response { head, keep }) => {
                let rendered = match answer {
                    Answer::Fixture(fx, ctx) => turn::answer(&mut self.ids, &head, fx, turn, ctx),
                    Answer::Miss(message) => turn::failed(
                        &mut self.ids,
                        &head,
                        "invalid_request_error",
                        Some(&json!("no_fixture_match")),
                        message,
                    ),
                };
                if keep {
                    self.items
                        .extend(rendered.items.iter().map(|(_, item)| item.clone()));
                }
                self.sent = Some(Sent {
                    head,
                    items: rendered.items,
                    kept: keep,
                });
                rendered.events
            }
            Some(Pending::Transcription { item_id, model }) => match answer {
                Answer::Fixture(fx, ctx) => {
                    turn::transcription(&mut self.ids, &item_id, &model, Some((fx, ctx)), "")
                }
                Answer::Miss(message) => {
                    turn::transcription(&mut self.ids, &item_id, &model, None, message)
                }
            },
            None => Vec::new(),
        }
    }

    fn is_cancel(&self, text: &str) -> bool {
        text.contains("response.cancel")
            && serde_json::from_str::<Value>(text)
                .ok()
                .as_ref()
                .and_then(event_type)
                == Some("response.cancel")
    }

    fn cancel(&mut self, sent: usize) -> Vec<Emit> {
        let Some(last) = self.sent.take() else {
            return Vec::new();
        };
        let (done, dropped): (Vec<_>, Vec<_>) =
            last.items.into_iter().partition(|(at, _)| *at < sent);
        if last.kept {
            let dropped: Vec<&str> = dropped
                .iter()
                .filter_map(|(_, i)| i.get("id").and_then(|v| v.as_str()))
                .collect();
            self.items.retain(|i| {
                !i.get("id")
                    .and_then(|v| v.as_str())
                    .is_some_and(|id| dropped.contains(&id))
            });
        }
        let output = done.into_iter().map(|(_, i)| i).collect();
        let details = json!({"type": "cancelled", "reason": "client_cancelled"});
        let usage = json!({"total_tokens": 0, "input_tokens": 0, "output_tokens": 0});
        let response = last.head.response("cancelled", details, output, usage);
        vec![Emit::now(
            self.event("response.done", json!({"response": response})),
        )]
    }

    fn error_event(&mut self, status: u16, code: &str, message: &str) -> Option<Value> {
        let kind = if status >= 500 {
            "server_error"
        } else {
            "invalid_request_error"
        };
        Some(self.event(
            "error",
            json!({"error": {"type": kind, "code": code, "message": message, "param": null, "event_id": null}}),
        ))
    }

    fn mark(&self, event: &Value) -> Mark {
        collapse::mark(event)
    }

    fn collapse_turn(&self, events: &[Value]) -> Collapsed {
        collapse::collapse(events)
    }
}

#[cfg(test)]
mod tests;

//! Gemini Live, `BidiGenerateContent` over WebSocket (the `v1beta` and `v1alpha`
//! `/ws/google.ai.generativelanguage.*.GenerativeService.BidiGenerateContent` paths):
//! the pure state machine of one connection.
//!
//! - `setup` (or its alias `config`) → `{"setupComplete":{}}`: the model (its
//!   `models/` prefix dropped, so the fixtures that answer `generateContent` answer
//!   here), the function declarations, the system instruction, the response modality.
//! - `clientContent` adds its turns (the `generateContent` contents mapping, shared
//!   with `request`); the model answers when `turnComplete` is true, as the real API
//!   does.
//! - `realtimeInput`: `text` is a user turn answered at once; audio or video chunks
//!   make a user turn `"[audio input]"`, answered on `audioStreamEnd` or
//!   `activityEnd` (aimock hears nothing, so there is no voice activity detection).
//! - `toolResponse` adds tool results for the calls (by `id`, else by name) and
//!   continues the turn.
//!
//! Replies: text as `serverContent.modelTurn.parts[{text}]` slices (or, with the
//! `AUDIO` modality, as `serverContent.outputTranscription` slices: there is no audio
//! in a text fixture), an audio fixture as one `inlineData` part, tool calls as one
//! `toolCall` message per run of calls (the turn then waits for the `toolResponse`, as
//! the real API and google-genai's `receive()` expect: no `turnComplete`), then
//! `serverContent.generationComplete`, and `serverContent.turnComplete` with
//! `usageMetadata`. The history keeps every answered turn.
//!
//! Errors (a message before `setup`, a bad message, a lenient miss, an error fixture)
//! are a frame in Google's error envelope with the HTTP code also at the top level,
//! `{"error":{"code","message","status"},"code":N}`, which google-genai's `receive()`
//! raises as `ClientError` / `ServerError`; the connection stays open.

use serde_json::{json, Map, Value};

use super::request::{parse_contents, system_text, tool_names};
use crate::cassette::model::{Block, MediaKind, ToolCall};
use crate::cassette::{Fixture, Reply};
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::socket::{Answer, Emit, Mark, Protocol, Step};
use crate::providers::common::usage::{estimate_tokens, output_chars, Counts};
use crate::providers::common::{chunk_text, RenderContext};
use crate::request::{ChatRequest, Endpoint, Message, Role};

/// The model a `setup` without one gets.
const DEFAULT_MODEL: &str = "gemini-2.0-flash";

/// What `setup` fixed.
struct Setup {
    model: String,
    tools: Vec<String>,
    system: Option<String>,
    /// `responseModalities` holds `AUDIO`.
    audio: bool,
}

/// One Gemini Live connection.
pub(crate) struct Live {
    route: &'static str,
    setup: Option<Setup>,
    /// Every answered turn, oldest first.
    history: Vec<Message>,
    /// Messages of the turn being built (client content not yet complete, audio).
    incoming: Vec<Message>,
    /// Audio or video arrived since the last turn.
    heard: bool,
    /// The turn being answered: its new messages.
    pending: Option<Vec<Message>>,
}

/// `{"error":{code,message,status},"code":code}`.
fn error(status: u16, name: &str, message: &str) -> Value {
    tracing::debug!(status, name, message, "gemini live: error frame");
    json!({"error": {"code": status, "message": message, "status": name}, "code": status})
}

fn grpc_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        501 => "NOT_IMPLEMENTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    }
}

fn field<'a>(o: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    o.get(camel).or_else(|| o.get(snake))
}

impl Live {
    /// A connection on `route` (the path, for metrics).
    pub(crate) fn new(route: &'static str) -> Live {
        Live {
            route,
            setup: None,
            history: Vec::new(),
            incoming: Vec::new(),
            heard: false,
            pending: None,
        }
    }

    fn on_setup(&mut self, s: &Map<String, Value>) -> Step {
        let model = s
            .get("model")
            .and_then(|m| m.as_str())
            .map(|m| m.strip_prefix("models/").unwrap_or(m).to_string())
            .unwrap_or_else(|| DEFAULT_MODEL.to_string());
        let audio = field(s, "generationConfig", "generation_config")
            .and_then(|g| g.as_object())
            .and_then(|g| field(g, "responseModalities", "response_modalities"))
            .and_then(|m| m.as_array())
            .is_some_and(|m| {
                m.iter()
                    .any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case("audio")))
            });
        let system = field(s, "systemInstruction", "system_instruction").and_then(system_text);
        self.setup = Some(Setup {
            model,
            tools: tool_names(s),
            system,
            audio,
        });
        Step::one(json!({"setupComplete": {}}))
    }

    /// The turn over the history and what came in.
    fn turn(&mut self) -> Step {
        let Some(setup) = &self.setup else {
            return Step::default();
        };
        let new = std::mem::take(&mut self.incoming);
        self.heard = false;
        let body = serde_json::to_vec(&json!([
            setup.model,
            self.history
                .iter()
                .chain(&new)
                .map(|m| format!("{:?}", m))
                .collect::<Vec<_>>()
        ]))
        .unwrap_or_default();
        let mut req = ChatRequest::new(Endpoint::Chat, &body);
        req.model = Some(setup.model.clone());
        req.tools = setup.tools.clone();
        req.stream = true;
        if let Some(s) = &setup.system {
            req.messages.push(Message::text(Role::System, s.clone()));
        }
        req.messages.extend(self.history.iter().cloned());
        req.messages.extend(new.iter().cloned());
        self.pending = Some(new);
        Step {
            events: Vec::new(),
            turn: Some(Box::new(req)),
            close: None,
        }
    }

    fn client_content(&mut self, c: &Map<String, Value>) -> Step {
        let complete = field(c, "turnComplete", "turn_complete")
            .and_then(|t| t.as_bool())
            .unwrap_or(false);
        match c.get("turns") {
            Some(Value::Array(turns)) => self.incoming.extend(parse_contents(turns)),
            None if complete => {}
            _ => {
                return Step::one(error(
                    400,
                    "INVALID_ARGUMENT",
                    "Missing 'turns' in clientContent",
                ))
            }
        }
        if complete {
            self.turn()
        } else {
            Step::default()
        }
    }

    fn realtime_input(&mut self, r: &Map<String, Value>) -> Step {
        if let Some(t) = r.get("text").and_then(|t| t.as_str()) {
            self.incoming.push(Message::text(Role::User, t));
            return self.turn();
        }
        let media = ["audio", "video", "mediaChunks", "media_chunks"]
            .iter()
            .any(|k| r.contains_key(*k));
        if media && !self.heard {
            self.heard = true;
            self.incoming
                .push(Message::text(Role::User, "[audio input]"));
        }
        let end = field(r, "audioStreamEnd", "audio_stream_end").and_then(|v| v.as_bool())
            == Some(true)
            || field(r, "activityEnd", "activity_end").is_some();
        if end && self.heard {
            return self.turn();
        }
        if !media && !end && field(r, "activityStart", "activity_start").is_none() {
            return Step::one(error(
                400,
                "INVALID_ARGUMENT",
                "realtimeInput needs one of text, audio, video, mediaChunks, activityStart, activityEnd or audioStreamEnd",
            ));
        }
        Step::default()
    }

    fn tool_response(&mut self, t: &Map<String, Value>) -> Step {
        let Some(responses) =
            field(t, "functionResponses", "function_responses").and_then(|f| f.as_array())
        else {
            return Step::one(error(
                400,
                "INVALID_ARGUMENT",
                "Missing 'functionResponses' in toolResponse",
            ));
        };
        for fr in responses {
            let name = fr.get("name").and_then(|n| n.as_str()).unwrap_or_default();
            let id = match fr.get("id").and_then(|i| i.as_str()) {
                Some(id) => id.to_string(),
                None => self
                    .open_call(name)
                    .unwrap_or_else(|| format!("call_gemini_{name}_0")),
            };
            let text = match fr.get("response") {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            };
            self.incoming.push(Message::tool_result(id, text));
        }
        self.turn()
    }

    /// The latest unanswered call named `name`.
    fn open_call(&self, name: &str) -> Option<String> {
        let all: Vec<&Message> = self.history.iter().chain(&self.incoming).collect();
        let answered: Vec<&str> = all
            .iter()
            .filter_map(|m| m.tool_call_id.as_deref())
            .collect();
        all.iter()
            .rev()
            .filter(|m| m.role == Role::Assistant)
            .flat_map(|m| m.tool_calls.iter())
            .find(|c| c.name == name && !answered.contains(&c.id.as_str()))
            .map(|c| c.id.clone())
    }

    fn render(
        &mut self,
        fx: &Fixture,
        req: &ChatRequest,
        ctx: &RenderContext,
    ) -> (Vec<Emit>, Option<Message>) {
        let audio_out = self.setup.as_ref().is_some_and(|s| s.audio);
        let reply = match &fx.reply {
            Reply::Chat(c) => c,
            Reply::Error(e) => {
                let name = e
                    .kind
                    .clone()
                    .filter(|k| {
                        !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    })
                    .unwrap_or_else(|| grpc_name(e.status).to_string());
                return (vec![Emit::now(error(e.status, &name, &e.message))], None);
            }
            Reply::Media(MediaKind::Audio, v) => {
                let (data, mime) = match v.get("audio") {
                    Some(Value::String(s)) => (s.clone(), None),
                    Some(Value::Object(a)) => (
                        a.get("b64Json")
                            .and_then(|d| d.as_str())
                            .unwrap_or_default()
                            .to_string(),
                        a.get("contentType")
                            .and_then(|d| d.as_str())
                            .map(String::from),
                    ),
                    _ => (String::new(), None),
                };
                let mime = mime.unwrap_or_else(|| "audio/pcm;rate=24000".to_string());
                let mut parts = vec![json!({"inlineData": {"mimeType": mime, "data": data}})];
                if let Some(t) = v.get("content").and_then(|c| c.as_str()) {
                    parts.push(json!({"text": t}));
                }
                let events = vec![
                    Emit::now(json!({"serverContent": {"modelTurn": {"parts": parts}}})),
                    Emit::now(json!({"serverContent": {"generationComplete": true}})),
                    Emit::now(
                        json!({"serverContent": {"turnComplete": true}, "usageMetadata": usage(req, 1)}),
                    ),
                ];
                let said = v
                    .get("content")
                    .and_then(|c| c.as_str())
                    .unwrap_or("[audio output]");
                return (events, Some(Message::text(Role::Assistant, said)));
            }
            other => {
                let message = format!(
                    "Fixture response of kind {} cannot answer a Gemini Live turn ({})",
                    other.kind_name(),
                    fx.origin
                );
                return (vec![Emit::now(error(500, "INTERNAL", &message))], None);
            }
        };
        let mut events = Vec::new();
        let mut said = Message {
            role: Role::Assistant,
            text: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
        };
        let mut run: Vec<Value> = Vec::new();
        let flush = |run: &mut Vec<Value>, events: &mut Vec<Emit>| {
            if !run.is_empty() {
                events.push(Emit::now(
                    json!({"toolCall": {"functionCalls": std::mem::take(run)}}),
                ));
            }
        };
        for block in reply.ordered_blocks() {
            match block {
                Block::Text(text) => {
                    flush(&mut run, &mut events);
                    let slices: Vec<&str> = if text.is_empty() {
                        vec![""]
                    } else {
                        chunk_text(&text, ctx.chunk_size).collect()
                    };
                    for s in slices {
                        let content = if audio_out {
                            json!({"serverContent": {"outputTranscription": {"text": s}}})
                        } else {
                            json!({"serverContent": {"modelTurn": {"parts": [{"text": s}]}}})
                        };
                        events.push(Emit::paced(content));
                    }
                    said.text.get_or_insert_with(String::new).push_str(&text);
                }
                Block::ToolCall(call) => {
                    let id = live_call_id(&call, said.tool_calls.len(), ctx);
                    let args = serde_json::from_str::<Value>(&call.arguments)
                        .ok()
                        .filter(Value::is_object)
                        .unwrap_or_else(|| json!({}));
                    run.push(json!({"id": id, "name": call.name, "args": args}));
                    said.tool_calls.push(crate::request::ToolCallRef {
                        id,
                        name: call.name.clone(),
                        arguments: call.arguments.clone(),
                    });
                }
            }
        }
        flush(&mut run, &mut events);
        if said.tool_calls.is_empty() {
            let out = Counts::of(reply.overrides.usage.as_deref(), req, || {
                estimate_tokens(output_chars(reply, false))
            });
            events.push(Emit::now(
                json!({"serverContent": {"generationComplete": true}}),
            ));
            events.push(Emit::now(json!({
                "serverContent": {"turnComplete": true},
                "usageMetadata": usage_of(out),
            })));
        }
        (events, Some(said))
    }
}

/// The id a Live tool call is sent with: pinned, or derived from the seed.
fn live_call_id(call: &ToolCall, i: usize, ctx: &RenderContext) -> String {
    call.id
        .clone()
        .unwrap_or_else(|| ctx.id("function-call-", &format!("live{i}"), 20))
}

fn usage(req: &ChatRequest, output: u64) -> Value {
    usage_of(Counts::of(None, req, || output))
}

fn usage_of(c: Counts) -> Value {
    json!({
        "promptTokenCount": c.input, "responseTokenCount": c.output, "totalTokenCount": c.total,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": c.input}],
        "responseTokensDetails": [{"modality": "TEXT", "tokenCount": c.output}],
    })
}

impl Protocol for Live {
    fn provider(&self) -> &'static str {
        "gemini"
    }

    fn route(&self) -> &'static str {
        self.route
    }

    fn on_text(&mut self, text: &str) -> Step {
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "gemini live: a message is not JSON");
                return Step::one(error(
                    400,
                    "INVALID_ARGUMENT",
                    &format!("Invalid JSON payload received. {e}"),
                ));
            }
        };
        let Some(o) = v.as_object() else {
            return Step::one(error(
                400,
                "INVALID_ARGUMENT",
                "A message must be a JSON object",
            ));
        };
        if let Some(s) = o
            .get("setup")
            .or_else(|| o.get("config"))
            .and_then(|s| s.as_object())
        {
            return self.on_setup(s);
        }
        if self.setup.is_none() {
            tracing::warn!("gemini live: a message before setup");
            return Step::one(error(
                400,
                "FAILED_PRECONDITION",
                "Setup required: the first message must be setup",
            ));
        }
        if let Some(c) = field(o, "clientContent", "client_content").and_then(|c| c.as_object()) {
            return self.client_content(c);
        }
        if let Some(r) = field(o, "realtimeInput", "realtime_input").and_then(|r| r.as_object()) {
            return self.realtime_input(r);
        }
        if let Some(t) = field(o, "toolResponse", "tool_response").and_then(|t| t.as_object()) {
            return self.tool_response(t);
        }
        tracing::warn!("gemini live: an unknown message");
        Step::one(error(
            400,
            "INVALID_ARGUMENT",
            "Expected one of setup, clientContent, realtimeInput or toolResponse",
        ))
    }

    fn answer(&mut self, req: &ChatRequest, answer: Answer<'_>) -> Vec<Emit> {
        let new = self.pending.take().unwrap_or_default();
        match answer {
            Answer::Miss(message) => {
                // The turn did not happen: the client may send it again.
                vec![Emit::now(error(404, "NOT_FOUND", message))]
            }
            Answer::Fixture(fx, ctx) => {
                let (events, said) = self.render(fx, req, ctx);
                if let Some(said) = said {
                    self.history.extend(new);
                    self.history.push(said);
                }
                events
            }
        }
    }

    /// The real API reports errors as a close code and reason, which google-genai
    /// raises as `APIError(code)`: nothing is sent before the close.
    fn mark(&self, event: &Value) -> Mark {
        super::live_collapse::mark(event)
    }

    fn collapse_turn(&self, events: &[Value]) -> Collapsed {
        super::live_collapse::collapse(events)
    }

    fn error_event(&mut self, _status: u16, _code: &str, _message: &str) -> Option<Value> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::fixture;

    const ROUTE: &str =
        "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";

    fn values(events: Vec<Emit>) -> Vec<Value> {
        events.into_iter().map(|e| e.value).collect()
    }

    fn answer(m: &mut Live, step: Step, fx: &Fixture) -> Vec<Value> {
        let req = step.turn.expect("a turn");
        let ctx = RenderContext::new(fx, &req, 5);
        values(m.answer(&req, Answer::Fixture(fx, &ctx)))
    }

    fn setup(m: &mut Live) {
        let s = m.on_text(r#"{"setup":{"model":"models/gemini-live-2.5","tools":[{"functionDeclarations":[{"name":"get_weather"}]}],
            "systemInstruction":{"parts":[{"text":"be brief"}]}}}"#);
        assert_eq!(s.events[0].value, json!({"setupComplete": {}}));
    }

    #[test]
    fn messages_before_setup_are_refused_and_setup_completes() {
        let mut m = Live::new(ROUTE);
        let s = m.on_text(r#"{"clientContent":{"turns":[],"turnComplete":true}}"#);
        assert_eq!(s.events[0].value["error"]["status"], "FAILED_PRECONDITION");
        assert_eq!(s.events[0].value["code"], 400);
        setup(&mut m);
        assert_eq!(m.on_text("nope").events[0].value["code"], 400);
    }

    #[test]
    fn a_complete_client_turn_is_answered_in_slices_then_generation_and_turn_complete() {
        let mut m = Live::new(ROUTE);
        setup(&mut m);
        // Not complete yet: nothing to answer.
        let s =
            m.on_text(r#"{"clientContent":{"turns":[{"role":"user","parts":[{"text":"hel"}]}]}}"#);
        assert!(s.turn.is_none() && s.events.is_empty());
        let s = m.on_text(r#"{"clientContent":{"turns":[{"role":"user","parts":[{"text":"lo"}]}],"turnComplete":true}}"#);
        let req = s.turn.as_ref().unwrap();
        assert_eq!(req.model.as_deref(), Some("gemini-live-2.5"));
        assert_eq!(req.system_text(), "be brief");
        assert_eq!(req.tools, ["get_weather"]);
        let fx = fixture(json!({"match": {}, "response": {"content": "Hello world"}}));
        let v = answer(&mut m, s, &fx);
        assert_eq!(
            v[0]["serverContent"]["modelTurn"]["parts"][0]["text"],
            "Hello"
        );
        let text: String = v
            .iter()
            .filter_map(|e| {
                e.pointer("/serverContent/modelTurn/parts/0/text")
                    .and_then(|t| t.as_str())
            })
            .collect();
        assert_eq!(text, "Hello world");
        let n = v.len();
        assert_eq!(
            v[n - 2],
            json!({"serverContent": {"generationComplete": true}})
        );
        assert_eq!(v[n - 1]["serverContent"]["turnComplete"], true);
        assert!(
            v[n - 1]["usageMetadata"]["totalTokenCount"]
                .as_u64()
                .unwrap()
                > 0
        );
    }

    #[test]
    fn a_tool_call_waits_for_the_tool_response_which_continues_the_turn() {
        let mut m = Live::new(ROUTE);
        setup(&mut m);
        let s = m.on_text(r#"{"realtimeInput":{"text":"weather in Paris?"}}"#);
        let fx = fixture(
            json!({"match": {}, "response": {"toolCalls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]}}),
        );
        let v = answer(&mut m, s, &fx);
        assert_eq!(v.len(), 1, "{v:?}");
        let call = &v[0]["toolCall"]["functionCalls"][0];
        assert_eq!(call["args"]["city"], "Paris");
        let id = call["id"].as_str().unwrap().to_string();
        // The response names the call by id; without one it is found by name.
        let s = m.on_text(r#"{"toolResponse":{"functionResponses":[{"name":"get_weather","response":{"temp":21}}]}}"#);
        let req = s.turn.as_ref().unwrap();
        assert!(req.has_tool_result());
        assert_eq!(req.assistant_count(), 1);
        assert_eq!(
            req.trailing_tool_message().unwrap().tool_call_id.as_deref(),
            Some(id.as_str())
        );
        assert_eq!(req.last_user_text(), Some("weather in Paris?"));
    }

    #[test]
    fn audio_input_is_a_turn_at_stream_end_and_a_miss_is_an_error_frame() {
        let mut m = Live::new(ROUTE);
        setup(&mut m);
        let s = m.on_text(
            r#"{"realtimeInput":{"audio":{"data":"AAAA","mimeType":"audio/pcm;rate=16000"}}}"#,
        );
        assert!(s.turn.is_none());
        let s = m.on_text(r#"{"realtimeInput":{"audioStreamEnd":true}}"#);
        let req = s.turn.expect("a turn");
        assert_eq!(req.last_user_text(), Some("[audio input]"));
        let e = values(m.answer(&req, Answer::Miss("No fixture matched")));
        assert_eq!(e[0]["error"]["status"], "NOT_FOUND");
        assert_eq!(e[0]["code"], 404);
        // The missed turn did not join the history.
        assert!(m.history.is_empty());
    }
}

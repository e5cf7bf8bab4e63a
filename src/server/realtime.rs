//! The WebSocket I/O of the realtime surfaces, written once for every protocol: read
//! frames, hand text to the connection's state machine ([`Protocol`]), answer its turns
//! from the cassettes, send the events it returns, one JSON event per text frame.
//!
//! Mounted always (by `app::run_with`) on:
//! - `/v1/realtime`: OpenAI Realtime (GA), `providers::openai::realtime`;
//! - `/v1/responses`: OpenAI Responses over WebSocket, `providers::openai::responses::socket`;
//! - `/ws/google.ai.generativelanguage.{v1beta,v1alpha,v1}.GenerativeService.BidiGenerateContent`:
//!   Gemini Live, `providers::gemini::live`.
//!
//! A turn runs the HTTP pipeline's steps on the request the protocol built: the scope
//! read from the upgrade request (`X-Test-Id` or `?testId=`, `X-AIMock-Context`,
//! `X-AIMock-Strict`, the chaos headers), a queued one-shot error, matching through the
//! store (sequence counts, `turnIndex`, `hasToolResult`, `toolCallId`), chaos, then the
//! answer: a fixture's events paced as its HTTP stream would be (`latency`,
//! `streamingProfile`, `recordedTimings`, `replaySpeed`), or a miss. A lenient miss is
//! the protocol's error event and the connection stays open; a strict miss is the error
//! event, then close 1008 with the miss message as the reason. Every turn is journaled
//! (method `WS`, the upgrade path) with its fixture or miss and counted in the metrics.
//!
//! Misbehaving clients: a binary frame closes with 1003 (these protocols are JSON
//! text), an oversized message 1009, bad UTF-8 1007, a protocol violation 1002, each
//! logged; bad JSON is the protocol's error event. While a paced turn is on the wire
//! the socket is still read: OpenAI's `response.cancel` stops it, other messages wait
//! their turn (messages are handled in order). Shutdown sends what is left of a turn
//! at once and closes with 1001.
//!
//! Record mode (`aimock record --provider-openai URL` / `--provider-gemini URL`): while
//! an upstream is configured for the connection's provider, the client's messages are
//! logged, and a turn the cassettes cannot answer (lenient) bridges the session to the
//! upstream WebSocket for the rest of its life, relaying both ways and saving each turn
//! as a fixture (`bridge`). Not here: what the protocols say (the providers).

mod bridge;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use http::Method;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use super::known::KnownHeaders;
use super::pipeline::{miss_message, strict_override};
use super::websocket::{close_for, Socket, SocketHandler, Sockets, Upgrade};
use super::AppState;
use crate::cassette::model::{Criteria, ErrorReply, Origin};
use crate::cassette::{Fixture, MatchMode, Outcome, Reply};
use crate::chaos::{self, Action};
use crate::journal::{Draft, Entry, Source};
use crate::providers::common::socket::{Answer, Emit, Ids, Protocol, Step};
use crate::providers::common::RenderContext;
use crate::providers::gemini::live::Live;
use crate::providers::openai::realtime::Realtime;
use crate::providers::openai::responses::socket::ResponsesSocket;
use crate::request::{scope_value, ChatRequest, DEFAULT_TEST_ID};
use crate::respond::pacing::Pacing;

/// OpenAI Realtime.
pub const REALTIME_PATH: &str = "/v1/realtime";
/// OpenAI Responses over WebSocket.
pub const RESPONSES_PATH: &str = "/v1/responses";
/// Gemini Live, v1beta.
pub const GEMINI_LIVE_PATH: &str =
    "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";
/// Gemini Live, v1 (what google-genai asks for when `api_version` is `v1`).
pub const GEMINI_LIVE_V1_PATH: &str =
    "/ws/google.ai.generativelanguage.v1.GenerativeService.BidiGenerateContent";
/// Gemini Live, v1alpha.
pub const GEMINI_LIVE_ALPHA_PATH: &str =
    "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContent";

/// The longest close reason RFC 6455 allows (a control frame's payload is 125 bytes,
/// two of them the code).
const MAX_CLOSE_REASON: usize = 123;

/// Mount every realtime surface on `sockets`, except where a handler is already
/// mounted on its path (a caller's own wins).
pub fn mount_realtime(sockets: &mut Sockets) {
    let mounts: [(&'static str, SocketHandler); 5] = [
        (
            REALTIME_PATH,
            handler(|up| {
                let beta = up
                    .headers
                    .get_all("openai-beta")
                    .iter()
                    .any(|v| v.to_str().is_ok_and(|v| v.contains("realtime=v1")));
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0);
                Box::new(Realtime::new(up.query.as_deref(), beta, Ids::fresh(), now))
            }),
        ),
        (
            RESPONSES_PATH,
            handler(|_| Box::new(ResponsesSocket::new())),
        ),
        (
            GEMINI_LIVE_PATH,
            handler(|_| Box::new(Live::new(GEMINI_LIVE_PATH))),
        ),
        (
            GEMINI_LIVE_ALPHA_PATH,
            handler(|_| Box::new(Live::new(GEMINI_LIVE_ALPHA_PATH))),
        ),
        (
            GEMINI_LIVE_V1_PATH,
            handler(|_| Box::new(Live::new(GEMINI_LIVE_V1_PATH))),
        ),
    ];
    for (path, h) in mounts {
        if !sockets.is_mounted(path) {
            sockets.mount(path, h);
        }
    }
}

/// A handler running a connection with the protocol `make` builds for its upgrade.
fn handler(make: fn(&Upgrade) -> Box<dyn Protocol>) -> SocketHandler {
    Arc::new(move |socket: Socket, up: Upgrade, state: Arc<AppState>| {
        let protocol = make(&up);
        Box::pin(async move {
            let mut c = Connection::new(socket, up, state, protocol);
            c.run().await;
        })
    })
}

/// The scope every turn of a connection gets, read once from the upgrade request.
struct Scope {
    test_id: Option<String>,
    context: Option<String>,
    strict: Option<bool>,
}

/// Why a connection stops.
enum End {
    /// Keep going.
    No,
    /// Stop; a close frame (if any) was sent.
    Closed,
}

struct Connection {
    socket: Socket,
    up: Upgrade,
    state: Arc<AppState>,
    protocol: Box<dyn Protocol>,
    scope: Scope,
    /// Messages that arrived while a turn was being sent, handled after it.
    queued: VecDeque<String>,
    /// The client's messages so far, while a miss could still bridge the session
    /// upstream (record mode with an upstream for this provider); else `None`.
    log: Option<bridge::Log>,
}

impl Connection {
    fn new(
        socket: Socket,
        up: Upgrade,
        state: Arc<AppState>,
        protocol: Box<dyn Protocol>,
    ) -> Connection {
        let known = KnownHeaders::scan(&up.headers);
        let header = |v: Option<&http::HeaderValue>| v.and_then(|v| scope_value(v.as_bytes()));
        let test_id = header(known.test_id).or_else(|| {
            crate::providers::common::socket::query_param(up.query.as_deref(), "testId")
                .filter(|s| !s.is_empty())
        });
        let scope = Scope {
            test_id,
            context: header(known.context),
            strict: strict_override(known.strict),
        };
        let log = bridge::Log::for_session(&state, protocol.provider());
        Connection {
            socket,
            up,
            state,
            protocol,
            scope,
            queued: VecDeque::new(),
            log,
        }
    }

    /// One client message: logged (record mode), handed to the protocol, its step
    /// applied.
    async fn on_client_text(&mut self, text: String) -> End {
        if let Some(log) = &mut self.log {
            log.push(&text);
        }
        let step = self.protocol.on_text(&text);
        if step.turn.is_some() {
            if let Some(log) = &mut self.log {
                log.mark_turn();
            }
        }
        self.apply(step).await
    }

    async fn run(&mut self) {
        tracing::debug!(path = %self.up.path, "realtime connection opened");
        let open = self.protocol.open();
        if let End::Closed = self.apply(open).await {
            return;
        }
        let shutdown = self.state.shutdown.clone();
        loop {
            if let Some(text) = self.queued.pop_front() {
                if let End::Closed = self.on_client_text(text).await {
                    return;
                }
                continue;
            }
            let msg = tokio::select! {
                biased;
                () = shutdown.wait() => {
                    self.close(CloseCode::Away, "server shutting down").await;
                    return;
                }
                msg = self.socket.next() => msg,
            };
            match self.read(msg) {
                Read::Text(text) => {
                    if let End::Closed = self.on_client_text(text).await {
                        return;
                    }
                }
                Read::Nothing => {}
                Read::Close(frame) => {
                    if let Some(f) = frame {
                        let _ = self.socket.send(f).await;
                    }
                    return;
                }
            }
        }
    }

    /// What a read brought.
    fn read(&self, msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) -> Read {
        match msg {
            None | Some(Ok(Message::Close(_))) => Read::Close(None),
            Some(Ok(Message::Text(t))) => Read::Text(t.as_str().to_string()),
            Some(Ok(Message::Binary(b))) => {
                tracing::warn!(path = %self.up.path, bytes = b.len(), "realtime: a binary frame where JSON text is expected; closing with 1003");
                Read::Close(Some(close_frame(
                    CloseCode::Unsupported,
                    "binary frames are not accepted: send JSON text",
                )))
            }
            Some(Ok(_)) => Read::Nothing,
            Some(Err(e)) => Read::Close(close_for(&e, &self.up.path)),
        }
    }

    async fn close(&mut self, code: CloseCode, reason: &str) {
        let _ = self.socket.send(close_frame(code, reason)).await;
    }

    async fn send(&mut self, v: &serde_json::Value) -> bool {
        let text = crate::providers::common::json_text(v);
        self.socket.send(Message::text(text)).await.is_ok()
    }

    /// Send a step's events, then close it asks for, or run its turn.
    async fn apply(&mut self, step: Step) -> End {
        for e in &step.events {
            if !self.send(&e.value).await {
                return End::Closed;
            }
        }
        if let Some((code, reason)) = step.close {
            self.close(CloseCode::from(code), &reason).await;
            return End::Closed;
        }
        match step.turn {
            Some(req) => self.turn(*req).await,
            None => End::No,
        }
    }

    /// A turn's request given the connection's scope, its journal draft, and whether
    /// it is strict.
    fn scoped(&self, req: &mut ChatRequest) -> (Draft, bool) {
        req.test_id = match &self.scope.test_id {
            Some(t) => t.clone().into(),
            None => DEFAULT_TEST_ID.into(),
        };
        req.context = self.scope.context.clone();
        let mut draft = Draft::new(self.state.journal.request_id(None));
        draft.provider = Some(self.protocol.provider());
        let strict = self.scope.strict.unwrap_or(self.state.config.strict);
        if strict != self.state.config.strict {
            draft.strict_override = Some(strict);
        }
        (draft, strict)
    }

    /// One turn: match, chaos, answer, journal, count.
    async fn turn(&mut self, mut req: ChatRequest) -> End {
        let arrived = SystemTime::now();
        let started = Instant::now();
        let state = self.state.clone();
        let (mut draft, strict) = self.scoped(&mut req);
        let known = KnownHeaders::scan(&self.up.headers);
        let chaos_headers = known.chaos;

        let (status, end) = if let Some(e) = state.control.one_shot().take() {
            tracing::info!(status = e.status, path = %self.up.path, "answering a realtime turn with the queued one-shot error");
            draft.source = Source::Injected;
            let fx = error_fixture("<one-shot>", e);
            let ctx = RenderContext::new(&fx, &req, state.config.chunk_size);
            let status = status_of(&fx);
            let events = self.protocol.answer(&req, Answer::Fixture(&fx, &ctx));
            (status, self.send_turn(events, None, None).await)
        } else {
            let mode = MatchMode {
                hard_turn_index: state.config.hard_turn_index || state.recorder.is_some(),
            };
            let found = state.store.find(&req, mode);
            let hit = found.fixture().cloned();
            let fault = state.chaos.roll(
                chaos_headers,
                hit.as_ref().and_then(|f| f.chaos.as_deref()),
                &req.test_id,
            );
            if let Some(d) = fault {
                tracing::info!(provider = self.protocol.provider(), action = d.action.as_str(), level = d.level.as_str(), test_id = %req.test_id, "chaos");
                draft.chaos = Some(d);
            }
            draft.source = Source::Fixture;
            match hit {
                Some(fx) => {
                    draft.fixture = Some(fx.origin.clone());
                    tracing::debug!(provider = self.protocol.provider(), fixture = %fx.origin, "realtime turn matched");
                    let fx = match fault.map(|d| d.action) {
                        Some(Action::Drop) => {
                            Arc::new(error_fixture("<chaos>", chaos::drop_reply()))
                        }
                        _ => fx,
                    };
                    let ctx = RenderContext::new(&fx, &req, state.config.chunk_size);
                    let status = status_of(&fx);
                    let mut events = self.protocol.answer(&req, Answer::Fixture(&fx, &ctx));
                    let pacing = pacing(&fx, &state, &ctx);
                    match fault.map(|d| d.action) {
                        Some(Action::Malformed) => {
                            let at = events.len() / 2;
                            let sent = self.send_turn(events, Some(pacing), Some(at)).await;
                            self.account(arrived, started, status, req, draft);
                            return sent;
                        }
                        Some(Action::Disconnect) => {
                            // Half the turn, then the connection is gone: no close frame.
                            let at = events.len() / 2;
                            events.truncate(at.max(1));
                            let _ = self.send_turn(events, Some(pacing), None).await;
                            let _ = draft.interruption().set("chaos");
                            self.account(arrived, started, 0, req, draft);
                            return End::Closed;
                        }
                        _ => {}
                    }
                    (status, self.send_turn(events, Some(pacing), None).await)
                }
                None => {
                    let skipped = match found.outcome {
                        Outcome::Miss { skipped_by_state } => skipped_by_state,
                        Outcome::Hit(_) => 0,
                    };
                    let message = miss_message(
                        &state,
                        self.protocol.provider(),
                        &req,
                        &found.set,
                        mode,
                        strict,
                        skipped,
                    );
                    draft.miss = Some(message.clone());
                    tracing::debug!(test_id = %req.test_id, strict, "realtime turn: no fixture matched");
                    if strict {
                        if let Some(e) =
                            self.protocol
                                .error_event(503, "strict_no_fixture_match", &message)
                        {
                            let _ = self.send(&e).await;
                        }
                        self.close(CloseCode::Policy, &message).await;
                        self.account(arrived, started, 503, req, draft);
                        return End::Closed;
                    }
                    if self.bridgeable(&req) {
                        let turn = bridge::Turn::new(req, draft, arrived, started);
                        return Box::pin(self.bridge(turn, message)).await;
                    }
                    let events = self.protocol.answer(&req, Answer::Miss(&message));
                    (404, self.send_turn(events, None, None).await)
                }
            }
        };
        self.account(arrived, started, status, req, draft);
        end
    }

    /// Send a turn's events, waiting before each paced one as `pacing` says; the
    /// socket is read meanwhile (a cancel ends the turn, other messages wait).
    /// `broken`: the event sent as broken JSON instead (chaos `malformed`).
    async fn send_turn(
        &mut self,
        events: Vec<Emit>,
        pacing: Option<Pacing>,
        broken: Option<usize>,
    ) -> End {
        let shutdown = self.state.shutdown.clone();
        let mut paced = 0usize;
        let limit = pacing.as_ref().and_then(|p| p.truncate_after_chunks);
        let cut_at = pacing
            .as_ref()
            .and_then(|p| p.disconnect_after)
            .map(|d| tokio::time::Instant::now() + d);
        for (i, e) in events.iter().enumerate() {
            if e.paced {
                if limit.is_some_and(|n| paced >= n as usize) {
                    tracing::info!(path = %self.up.path, "realtime turn truncated by truncateAfterChunks");
                    return End::Closed;
                }
                let delay = pacing
                    .as_ref()
                    .map_or(std::time::Duration::ZERO, |p| p.delay(paced));
                paced += 1;
                if !delay.is_zero() && !shutdown.is_triggered() {
                    let until = tokio::time::Instant::now() + delay;
                    if cut_at.is_some_and(|c| c <= until) {
                        tokio::time::sleep_until(cut_at.unwrap_or(until)).await;
                        tracing::info!(path = %self.up.path, "realtime turn cut by disconnectAfterMs");
                        return End::Closed;
                    }
                    match self.wait_reading(until).await {
                        Wait::Elapsed => {}
                        Wait::Closed => return End::Closed,
                        Wait::Cancel => {
                            let done = self.protocol.cancel(i);
                            for d in &done {
                                if !self.send(&d.value).await {
                                    return End::Closed;
                                }
                            }
                            return End::No;
                        }
                    }
                }
            }
            let sent = if broken == Some(i) {
                self.socket.send(Message::text(MALFORMED)).await.is_ok()
            } else {
                self.send(&e.value).await
            };
            if !sent {
                return End::Closed;
            }
        }
        End::No
    }

    /// Wait until `until`, reading the socket meanwhile.
    async fn wait_reading(&mut self, until: tokio::time::Instant) -> Wait {
        let shutdown = self.state.shutdown.clone();
        loop {
            let msg = tokio::select! {
                biased;
                () = shutdown.wait() => return Wait::Elapsed,
                () = tokio::time::sleep_until(until) => return Wait::Elapsed,
                msg = self.socket.next() => msg,
            };
            match self.read(msg) {
                Read::Text(text) if self.protocol.is_cancel(&text) => return Wait::Cancel,
                Read::Text(text) => self.queued.push_back(text),
                Read::Nothing => {}
                Read::Close(frame) => {
                    if let Some(f) = frame {
                        let _ = self.socket.send(f).await;
                    }
                    return Wait::Closed;
                }
            }
        }
    }

    /// Journal the turn and count it.
    fn account(
        &self,
        arrived: SystemTime,
        started: Instant,
        status: u16,
        req: ChatRequest,
        mut draft: Draft,
    ) {
        let took = started.elapsed();
        let state = &self.state;
        if let Some(m) = &state.metrics {
            m.socket_turn(
                self.protocol.provider(),
                self.protocol.route(),
                status,
                took,
            );
            match draft.source {
                Source::Fixture if draft.fixture.is_some() => m.matched(),
                Source::Fixture => m.missed(),
                _ => {}
            }
            if let Some(d) = draft.chaos {
                m.chaos(d.action, false);
            }
        }
        draft.keep(req, None);
        let target = match &self.up.query {
            Some(q) => format!("{}?{q}", self.up.path),
            None => self.up.path.clone(),
        };
        let uri: http::Uri = target
            .parse()
            .unwrap_or_else(|_| http::Uri::from_static("/"));
        let method = Method::from_bytes(b"WS").unwrap_or(Method::GET);
        state.journal.push(Entry::new(
            arrived,
            &method,
            &uri,
            &self.up.headers,
            status,
            took,
            draft,
        ));
    }
}

/// What one read of the socket brought.
enum Read {
    /// A text message.
    Text(String),
    /// A ping, a pong, a raw frame: nothing to answer (tungstenite answers pings).
    Nothing,
    /// The connection ends, with the close frame to send if any.
    Close(Option<Message>),
}

/// How a wait between paced events ended.
enum Wait {
    Elapsed,
    Cancel,
    Closed,
}

/// A close frame; the reason cut to what a close frame holds, on a character boundary.
fn close_frame(code: CloseCode, reason: &str) -> Message {
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].to_string().into(),
    }))
}

/// A fixture answering with `e` (a queued one-shot error, a chaos drop).
fn error_fixture(origin: &str, e: ErrorReply) -> Fixture {
    Fixture {
        origin: Origin {
            file: origin.into(),
            index: 0,
        },
        criteria: Criteria::default(),
        reply: Reply::Error(Box::new(e)),
        options: Arc::default(),
        chaos: None,
        listing: "{}".into(),
        digest: [0; 32],
        group: [0; 16],
    }
}

/// The status a turn answered by `fx` is journaled with.
fn status_of(fx: &Fixture) -> u16 {
    match &fx.reply {
        Reply::Error(e) => e.status,
        _ => 200,
    }
}

/// The fixture's streaming physics, as the HTTP replay computes them.
fn pacing(fx: &Fixture, state: &AppState, ctx: &RenderContext) -> Pacing {
    Pacing::of_fixture(
        &fx.options,
        state.config.latency_ms,
        state.config.replay_speed,
        ctx.seed,
    )
}

/// What chaos `malformed` sends in place of the middle event of a turn.
const MALFORMED: &str = "{\"malformed\": tru";

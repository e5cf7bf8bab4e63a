//! Recording a realtime session: the bridge from a connection the cassettes cannot
//! answer to the real upstream WebSocket.
//!
//! While an upstream is configured for the connection's provider (record mode, not
//! strict), the client's text messages are logged ([`Log`]). The first turn that misses
//! opens the upstream socket: the upgrade's path and query (aimock's `testId` dropped)
//! on the provider's base URL (`http` → `ws`, `https` → `wss` through rustls with the
//! recorder's client configuration), with the upgrade's headers (credentials such as
//! `Authorization` or `api-key`, and the offered subprotocols, among them
//! `openai-insecure-api-key.<key>`) minus the hop-by-hop and aimock's own. The logged
//! messages are sent again (the protocol decides: Responses sends the missed create
//! alone, made whole), the upstream's answers to earlier turns are waited out and
//! everything the client already had is dropped, up to the missed turn's first event.
//! From then on the session is the upstream's: every client message goes up, every
//! upstream event comes down as it arrives, and the protocol machine still reads the
//! client's messages to know each turn's neutral request.
//!
//! Each upstream turn (bounded by [`Mark`]s: `response.created` … `response.done` /
//! `response.completed`, Live content … `turnComplete` or `toolCall`) is collapsed by
//! the protocol like its HTTP twin and saved through the recorder (match from the
//! turn's request, `recordedTimings` from its slices, every value through the secret
//! detector), unless a fixture already answers it or the recorder is proxy-only. The
//! machine then takes the recorded fixture as the turn's answer, so the next turn's
//! request is what strict replay of the cassette will build. Credentials are forwarded
//! and never saved: the match and response hold no header, the log is never written.
//!
//! A connect failure answers the turn as a lenient miss does, naming the upstream, and
//! the session stays local (a later miss tries again). An upstream that closes or fails
//! closes the client (its own close frame, else 1011). Rejected alternative: bridging
//! every recording session from its first message: a session the cassettes answer
//! would reach the upstream for nothing, and record mode's rule is "misses only".
//!
//! Not here: transcription sessions (`intent=transcription`: their turns are answered
//! from the cassettes, a miss is a miss), and item ids a client takes from upstream
//! events and sends back (`previous_item_id`): the machine knows its own ids only.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use http::Uri;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{close_frame, AppState, Connection, End, Read};
use crate::cassette::Fixture;
use crate::journal::{Draft, Source};
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::socket::{Answer, Logged, Mark};
use crate::providers::common::RenderContext;
use crate::record::Recorder;
use crate::request::{ChatRequest, Endpoint};
use crate::server::websocket::{Upgrade, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};

/// The most client bytes a session's log keeps; a session past it (hours of appended
/// audio) is answered from the cassettes only.
const MAX_LOG_BYTES: usize = 32 << 20;

/// The client's messages of a session that may still be bridged.
pub(super) struct Log {
    entries: Vec<Logged>,
    bytes: usize,
}

impl Log {
    /// A log for a new connection of `provider`, when a miss could bridge it.
    pub(super) fn for_session(state: &AppState, provider: &str) -> Option<Log> {
        state.recorder.current()?.socket_upstream(provider)?;
        Some(Log {
            entries: Vec::new(),
            bytes: 0,
        })
    }

    /// Log one client message.
    pub(super) fn push(&mut self, text: &str) {
        if self.bytes.saturating_add(text.len()) > MAX_LOG_BYTES {
            if !self.entries.is_empty() {
                tracing::warn!(
                    bytes = self.bytes,
                    "record: a realtime session's log is full; it can no longer be bridged upstream"
                );
                self.entries = Vec::new();
            }
            self.bytes = usize::MAX;
            return;
        }
        self.bytes += text.len();
        self.entries.push((text.to_string(), false));
    }

    /// The last message logged made a turn.
    pub(super) fn mark_turn(&mut self) {
        if let Some(last) = self.entries.last_mut() {
            last.1 = true;
        }
    }

    fn usable(&self) -> bool {
        self.bytes != usize::MAX && self.entries.last().is_some_and(|e| e.1)
    }
}

/// A turn waiting for (or getting) its upstream answer.
pub(super) struct Turn {
    req: ChatRequest,
    draft: Draft,
    arrived: SystemTime,
    started: Instant,
    /// Save it (no fixture answered it).
    save: bool,
}

impl Turn {
    /// The turn that missed.
    pub(super) fn new(
        req: ChatRequest,
        draft: Draft,
        arrived: SystemTime,
        started: Instant,
    ) -> Turn {
        Turn {
            req,
            draft,
            arrived,
            started,
            save: true,
        }
    }
}

/// Anything a WebSocket runs over: TCP, or TLS over it.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Upstream = WebSocketStream<Box<dyn Io>>;

/// The relayed session's turn bookkeeping.
struct Relay {
    up: Upstream,
    /// Client turns in the order they went up; the upstream answers them in order.
    pending: VecDeque<Turn>,
    /// Dropping upstream events until the missed turn's first.
    awaiting: bool,
    in_turn: bool,
    /// The open turn's events, and its slices' arrival since it was sent up.
    events: Vec<Value>,
    slices: Vec<Duration>,
    /// When the oldest pending turn was sent up.
    sent: Instant,
    saved: usize,
}

impl Connection {
    /// A miss of `req` may bridge the session: record mode, lenient, an upstream for
    /// this provider, a usable log.
    pub(super) fn bridgeable(&self, req: &ChatRequest) -> bool {
        req.endpoint != Endpoint::RealtimeTranscription
            && self.log.as_ref().is_some_and(Log::usable)
    }

    /// Bridge the session upstream from the turn that missed (`miss` says why), and
    /// relay it until either side closes.
    pub(super) async fn bridge(&mut self, mut turn: Turn, miss: String) -> End {
        let state = self.state.clone();
        let Some(rec) = state.recorder.current() else {
            return End::No;
        };
        let provider = self.protocol.provider();
        let Some(base) = rec.socket_upstream(provider).cloned() else {
            return End::No;
        };
        let connected = tokio::time::timeout(
            rec.connect_timeout(),
            connect(&base, &self.up, rec.socket_tls()),
        )
        .await
        .unwrap_or_else(|_| {
            Err((
                shown(&base, &self.up.path),
                format!("no handshake within {:?}", rec.connect_timeout()),
            ))
        });
        let (up, upstream) = match connected {
            Ok(c) => c,
            Err((upstream, error)) => {
                tracing::warn!(provider, %upstream, %error, "record: cannot open the upstream WebSocket; answering the turn as a miss");
                let message =
                    format!("{miss} (the upstream {upstream} could not be reached: {error})");
                turn.draft.miss = Some(message.clone());
                let events = self.protocol.answer(&turn.req, Answer::Miss(&message));
                let end = self.send_turn(events, None, None).await;
                self.account(turn.arrived, turn.started, 502, turn.req, turn.draft);
                return end;
            }
        };
        tracing::info!(provider, %upstream, test_id = %turn.req.test_id, "record: bridging a realtime session upstream");
        let log = self.log.take().map(|l| l.entries).unwrap_or_default();
        let opening = self.protocol.bridge_opening(&log);
        drop(log);
        turn.draft.miss = None;
        let mut relay = Relay {
            up,
            pending: VecDeque::new(),
            awaiting: true,
            in_turn: false,
            events: Vec::new(),
            slices: Vec::new(),
            sent: Instant::now(),
            saved: 0,
        };
        let last = opening.len().saturating_sub(1);
        for (i, (text, made_turn)) in opening.into_iter().enumerate() {
            if relay.up.send(Message::text(text)).await.is_err() {
                return self
                    .upstream_lost(
                        &upstream,
                        "the upstream closed while the session was replayed",
                    )
                    .await;
            }
            if made_turn && i < last && !self.wait_out_turn(&mut relay.up, rec.idle_timeout()).await
            {
                return self
                    .upstream_lost(&upstream, "the upstream did not answer a replayed turn")
                    .await;
            }
        }
        relay.sent = Instant::now();
        relay.pending.push_back(turn);
        let end = self.relay(&mut relay, &upstream).await;
        tracing::info!(provider, %upstream, turns_saved = relay.saved, "record: bridged realtime session over");
        end
    }

    /// Drop the upstream's events until it ends a turn; false when it goes quiet for
    /// `idle` or away.
    async fn wait_out_turn(&mut self, up: &mut Upstream, idle: Duration) -> bool {
        loop {
            let msg = match tokio::time::timeout(idle, up.next()).await {
                Ok(Some(Ok(m))) => m,
                _ => return false,
            };
            let Some(v) = event_of(&msg) else { continue };
            if matches!(
                self.protocol.mark(&v),
                Mark::End | Mark::Error { ends_turn: true }
            ) {
                return true;
            }
        }
    }

    /// Close the client after the upstream failed.
    async fn upstream_lost(&mut self, upstream: &str, why: &str) -> End {
        tracing::warn!(provider = self.protocol.provider(), %upstream, why, "record: the upstream WebSocket failed; closing the client with 1011");
        let _ = self.socket.send(close_frame(CloseCode::Error, why)).await;
        End::Closed
    }

    async fn relay(&mut self, relay: &mut Relay, upstream: &str) -> End {
        let shutdown = self.state.shutdown.clone();
        loop {
            tokio::select! {
                biased;
                () = shutdown.wait() => {
                    let _ = relay.up.close(None).await;
                    let _ = self.socket.send(close_frame(CloseCode::Away, "server shutting down")).await;
                    return End::Closed;
                }
                msg = self.socket.next() => match self.read(msg) {
                    Read::Text(text) => {
                        if relay.up.send(Message::text(text.clone())).await.is_err() {
                            return self.upstream_lost(upstream, "upstream connection lost").await;
                        }
                        let step = self.protocol.on_text(&text);
                        if let Some(mut req) = step.turn.map(|r| *r) {
                            let arrived = SystemTime::now();
                            let (draft, _) = self.scoped(&mut req);
                            let mode = crate::cassette::MatchMode { hard_turn_index: true };
                            let save = self.state.store.find(&req, mode).fixture().is_none();
                            if relay.pending.is_empty() {
                                relay.sent = Instant::now();
                            }
                            relay.pending.push_back(Turn { req, draft, arrived, started: Instant::now(), save });
                        }
                    }
                    Read::Nothing => {}
                    Read::Close(frame) => {
                        if let Some(f) = frame {
                            let _ = self.socket.send(f).await;
                        }
                        let _ = relay.up.close(None).await;
                        return End::Closed;
                    }
                },
                msg = relay.up.next() => match msg {
                    Some(Ok(Message::Close(frame))) => {
                        if !relay.pending.is_empty() {
                            tracing::warn!(%upstream, turns = relay.pending.len(), "record: the upstream closed with turns unanswered; they are not saved");
                        }
                        let (code, reason) = frame
                            .map(|f| (f.code, f.reason.to_string()))
                            .unwrap_or((CloseCode::Normal, String::new()));
                        let _ = self.socket.send(close_frame(code, &reason)).await;
                        return End::Closed;
                    }
                    Some(Ok(m)) => {
                        if !self.upstream_event(relay, m).await {
                            return End::Closed;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::debug!(%upstream, error = %e, "record: upstream read failed");
                        return self.upstream_lost(upstream, "upstream connection lost").await;
                    }
                    None => return self.upstream_lost(upstream, "upstream connection lost").await,
                },
            }
        }
    }

    /// One upstream message: dropped, or relayed (and kept for its turn). False when
    /// the client is gone.
    async fn upstream_event(&mut self, relay: &mut Relay, msg: Message) -> bool {
        let Some(v) = event_of(&msg) else {
            if let Message::Text(t) = &msg {
                tracing::debug!(
                    bytes = t.len(),
                    "record: an upstream text frame is not JSON; relayed, not recorded"
                );
                if !relay.awaiting {
                    return self.socket.send(msg).await.is_ok();
                }
            }
            return true;
        };
        let mark = self.protocol.mark(&v);
        match mark {
            Mark::Session if relay.awaiting => return true,
            Mark::Session | Mark::Error { ends_turn: false } => {}
            _ => {
                relay.awaiting = false;
                if !relay.in_turn {
                    relay.in_turn = true;
                    relay.events.clear();
                    relay.slices.clear();
                }
            }
        }
        // Relayed as text whatever the frame was (Gemini sends JSON in binary frames;
        // the client's SDK reads text as well).
        let text = match msg {
            Message::Text(t) => t,
            _ => crate::providers::common::json_text(&v).into(),
        };
        if self.socket.send(Message::Text(text)).await.is_err() {
            return false;
        }
        if relay.in_turn {
            if mark == Mark::Slice {
                relay.slices.push(relay.sent.elapsed());
            }
            relay.events.push(v);
        }
        if matches!(mark, Mark::End | Mark::Error { ends_turn: true }) {
            relay.in_turn = false;
            self.finish_turn(relay);
        }
        true
    }

    /// An upstream turn ended: save it, let the machine take it as the answer, journal.
    fn finish_turn(&mut self, relay: &mut Relay) {
        let events = std::mem::take(&mut relay.events);
        let slices = std::mem::take(&mut relay.slices);
        let Some(mut turn) = relay.pending.pop_front() else {
            tracing::info!(provider = self.protocol.provider(), "record: an upstream turn no client message asked for (server-side turn detection?); relayed, not saved");
            return;
        };
        relay.sent = Instant::now();
        let state = self.state.clone();
        let Some(rec) = state.recorder.current() else {
            return;
        };
        let provider = self.protocol.provider();
        let collapsed = self.protocol.collapse_turn(&events);
        let status = collapsed.error.as_ref().map_or(200, |e| e.status);
        let saved = if turn.save && !rec.proxy_only() {
            rec.save_socket_turn(provider, &turn.req, &collapsed, &slices)
        } else {
            None
        };
        if saved.is_some() {
            relay.saved += 1;
            tracing::info!(provider, test_id = %turn.req.test_id, events = events.len(), "record: saved a realtime turn");
        } else if !turn.save {
            tracing::debug!(
                provider,
                "record: a bridged turn a fixture already answers; relayed, not saved again"
            );
        }
        if let Some(fx) = saved.or_else(|| unsaved_fixture(&collapsed)) {
            let ctx = RenderContext::new(&fx, &turn.req, state.config.chunk_size);
            self.protocol.recorded(&turn.req, &fx, &ctx, &events);
        }
        turn.draft.source = Source::Proxy;
        self.account(turn.arrived, turn.started, status, turn.req, turn.draft);
    }
}

/// A fixture of `collapsed` that is not saved (proxy-only, or a turn a fixture already
/// answers): what the machine takes as the turn's answer all the same.
fn unsaved_fixture(collapsed: &Collapsed) -> Option<Arc<Fixture>> {
    let (response, _) = collapsed.to_response();
    let entry = serde_json::json!({"match": {"userMessage": "(bridged)"}, "response": response});
    let label: Arc<str> = Arc::from("<bridged turn>");
    crate::cassette::model::parse_entry(&entry, &label, 0, &mut Vec::new()).map(Arc::new)
}

/// The JSON of an upstream text or binary frame.
fn event_of(msg: &Message) -> Option<Value> {
    let bytes: &[u8] = match msg {
        Message::Text(t) => t.as_bytes(),
        Message::Binary(b) => b,
        _ => return None,
    };
    serde_json::from_slice(bytes).ok()
}

/// The upstream as logs name it: scheme, authority and path, never the query (a
/// `?key=` is a credential).
fn shown(base: &Uri, path: &str) -> String {
    let secure = matches!(base.scheme_str(), Some("https" | "wss"));
    let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    let prefix = base.path().trim_end_matches('/');
    format!(
        "{}://{authority}{prefix}{path}",
        if secure { "wss" } else { "ws" }
    )
}

/// The upgrade's query without aimock's own `testId`.
fn forwarded_query(query: Option<&str>) -> Option<String> {
    let kept: Vec<&str> = query?
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("testId"))
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// Open the upstream socket for the upgrade `up`; or the upstream as shown and why not.
async fn connect(
    base: &Uri,
    up: &Upgrade,
    tls: Arc<rustls::ClientConfig>,
) -> Result<(Upstream, String), (String, String)> {
    let upstream = shown(base, &up.path);
    let fail = |e: String| (upstream.clone(), e);
    let pq = match forwarded_query(up.query.as_deref()) {
        Some(q) => format!("{}?{q}", up.path),
        None => up.path.clone(),
    };
    let uri =
        Recorder::upstream_uri(base, &pq).ok_or_else(|| fail("an invalid upstream URL".into()))?;
    let secure = matches!(uri.scheme_str(), Some("https" | "wss"));
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_string();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!(
        "{}://{authority}{target}",
        if secure { "wss" } else { "ws" }
    );
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| fail(format!("cannot build the upgrade request: {e}")))?;
    for (name, value) in &up.headers {
        let n = name.as_str();
        // The handshake's own headers are the client library's; the offered
        // subprotocols (one may carry the key) go up as the client sent them.
        if crate::record::is_stripped_request_header(n)
            || (n.starts_with("sec-websocket-") && n != "sec-websocket-protocol")
        {
            continue;
        }
        request.headers_mut().append(name.clone(), value.clone());
    }
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| fail(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = if secure {
        let name = rustls_pki_types::ServerName::try_from(host.clone())
            .map_err(|e| fail(format!("bad server name: {e}")))?;
        let tls = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| fail(format!("TLS: {e}")))?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES));
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(|e| fail(format!("handshake: {e}")))?;
    Ok((ws, upstream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forwarded_query_drops_the_test_id_and_keeps_the_rest() {
        assert_eq!(
            forwarded_query(Some("model=gpt-realtime&testId=t1&key=k")).as_deref(),
            Some("model=gpt-realtime&key=k")
        );
        assert_eq!(forwarded_query(Some("testId=t1")), None);
        assert_eq!(forwarded_query(None), None);
    }

    #[test]
    fn the_upstream_is_shown_as_a_websocket_url_without_its_query() {
        let base: Uri = "https://api.example/llm/".parse().unwrap();
        assert_eq!(
            shown(&base, "/v1/realtime"),
            "wss://api.example/llm/v1/realtime"
        );
        let base: Uri = "http://127.0.0.1:9".parse().unwrap();
        assert_eq!(
            shown(&base, "/v1/responses"),
            "ws://127.0.0.1:9/v1/responses"
        );
    }

    #[test]
    fn the_log_marks_turns_and_stops_when_full() {
        let mut log = Log {
            entries: Vec::new(),
            bytes: 0,
        };
        log.push("{}");
        assert!(!log.usable());
        log.mark_turn();
        assert!(log.usable());
        log.push(&"x".repeat(MAX_LOG_BYTES));
        assert!(!log.usable());
        log.push("{}");
        assert!(!log.usable() && log.entries.is_empty());
    }
}

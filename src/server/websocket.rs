//! The WebSocket upgrade point: a `GET` that asks to become a WebSocket on a path with a
//! handler is answered `101 Switching Protocols` here, and the upgraded connection is
//! handed to that handler as a framed [`Socket`].
//!
//! This module owns the handshake (RFC 6455 §4.2: the version, the key, the accept
//! hash, the first subprotocol the client offers echoed back), the frame and message
//! size limits, and the close code a misbehaving connection gets ([`close_for`]). The
//! framing itself is tokio-tungstenite's. What each realtime protocol says over the
//! socket (OpenAI Realtime, Gemini Live, ...) is a provider surface with a pure state
//! machine of its own; its handler is mounted here by path ([`Sockets::mount`]).
//!
//! A handler gets the socket, the upgrade request ([`Upgrade`]) and the shared
//! [`AppState`] (fixtures, configuration, journal, metrics, the shutdown flag); the
//! realtime surfaces are mounted on their paths at start-up (`server::realtime`). Open
//! connections are counted ([`Sockets::open`]) so shutdown can wait for them to close
//! within the grace period: an upgraded connection has left hyper, whose graceful
//! shutdown no longer sees it.
//!
//! A request that asks to upgrade on a path with no handler is not touched: it goes
//! the way of any other request.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::AppState;
use crate::respond::body::Body;
use crate::respond::{respond, Failure};

/// An accepted WebSocket connection.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Largest message a client may send (a realtime audio append is base64 of at most a
/// few seconds of audio; 16 MiB leaves room for any real one).
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;
/// Largest single frame.
pub const MAX_FRAME_BYTES: usize = 16 << 20;
/// Bytes read from a connection at a time (and held by every open connection).
const READ_BUFFER_BYTES: usize = 8 << 10;

/// What the upgrade request said, for the handler: the path and query (`?model=...`,
/// `?testId=...`), the headers (`X-Test-Id`, `X-AIMock-Strict`, `X-AIMock-Context`, the
/// credentials a protocol checks), and the subprotocol agreed on.
#[derive(Debug, Clone)]
pub struct Upgrade {
    /// The request path.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The subprotocol echoed to the client (the first it offered), if any.
    pub protocol: Option<String>,
}

/// What a handler's task returns.
pub type Session = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs one connection: called with the socket once the upgrade completes, with the
/// upgrade request and the server's state. It should end soon after
/// `state.shutdown` is raised (closing with 1001).
pub type SocketHandler = Arc<dyn Fn(Socket, Upgrade, Arc<AppState>) -> Session + Send + Sync>;

/// One mounted handler and its message size limit.
#[derive(Clone)]
pub(crate) struct Mounted {
    handler: SocketHandler,
    max_message_bytes: usize,
}

/// Handlers by exact path, fixed at start-up, and the count of open connections.
#[derive(Default, Clone)]
pub struct Sockets {
    routes: Vec<(String, Mounted)>,
    open: Arc<OpenSockets>,
}

/// How many upgraded connections are running, and a wake-up when none is.
#[derive(Default)]
pub struct OpenSockets {
    count: AtomicUsize,
    idle: tokio::sync::Notify,
}

impl OpenSockets {
    /// Connections still running.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Resolves once no connection is running.
    pub async fn idle(&self) {
        loop {
            let woken = self.idle.notified();
            if self.count() == 0 {
                return;
            }
            woken.await;
        }
    }
}

/// Held by a running connection's task.
struct OpenGuard(Arc<OpenSockets>);

impl OpenGuard {
    fn new(open: &Arc<OpenSockets>) -> OpenGuard {
        open.count.fetch_add(1, Ordering::AcqRel);
        OpenGuard(open.clone())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Sockets {
    /// Serve WebSocket upgrades on `path` with `handler`, messages and frames up to
    /// [`MAX_MESSAGE_BYTES`].
    pub fn mount(&mut self, path: &str, handler: SocketHandler) {
        self.mount_limited(path, MAX_MESSAGE_BYTES, handler);
    }

    /// [`Sockets::mount`] with a smaller (or larger) message size limit.
    pub fn mount_limited(&mut self, path: &str, max_message_bytes: usize, handler: SocketHandler) {
        self.routes.retain(|(p, _)| p != path);
        self.routes.push((
            path.to_string(),
            Mounted {
                handler,
                max_message_bytes,
            },
        ));
    }

    /// No handler is mounted: the pipeline skips the upgrade check (one length check).
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The handler for `path`, if one is mounted.
    pub(crate) fn find(&self, path: &str) -> Option<&Mounted> {
        self.routes.iter().find(|(p, _)| p == path).map(|(_, h)| h)
    }

    /// Whether a handler is mounted on `path`.
    pub fn is_mounted(&self, path: &str) -> bool {
        self.find(path).is_some()
    }

    /// The open connections' count.
    pub fn open(&self) -> &Arc<OpenSockets> {
        &self.open
    }
}

/// The request asks for a WebSocket (`Upgrade: websocket`, in any case).
pub(crate) fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::UPGRADE)
        .iter()
        .any(|v| has_token(v, "websocket"))
}

/// `v` is a comma-separated list holding `token` (any case).
fn has_token(v: &HeaderValue, token: &str) -> bool {
    v.to_str()
        .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Complete the handshake for `req` and spawn `handler` on the upgraded connection; or
/// answer why not (400, or 426 for a version other than 13, as RFC 6455 §4.4 asks).
pub(crate) fn accept<B>(
    req: &mut Request<B>,
    mounted: Mounted,
    state: Arc<AppState>,
) -> Response<Body> {
    let Mounted {
        handler,
        max_message_bytes,
    } = mounted;
    let path = req.uri().path().to_string();
    let refuse = |status: u16, code: &'static str, message: &str| {
        respond(&Failure::client(status, code, message), None, &path)
    };
    if req.method() != Method::GET {
        return respond(
            &Failure::route(
                false,
                format!("A WebSocket upgrade on {path} must be a GET"),
            ),
            None,
            &path,
        );
    }
    let headers = req.headers();
    if !headers
        .get_all(http::header::CONNECTION)
        .iter()
        .any(|v| has_token(v, "upgrade"))
    {
        return refuse(
            400,
            "bad_upgrade",
            "A WebSocket upgrade needs `Connection: Upgrade`",
        );
    }
    if headers
        .get(http::header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        let mut resp = refuse(
            426,
            "unsupported_websocket_version",
            "Only WebSocket version 13 is supported (Sec-WebSocket-Version: 13)",
        );
        resp.headers_mut().insert(
            http::header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return resp;
    }
    // The key is 16 random bytes in base64: 24 characters ending in "==".
    let Some(key) = headers
        .get(http::header::SEC_WEBSOCKET_KEY)
        .filter(|k| k.len() == 24 && k.as_bytes().ends_with(b"=="))
    else {
        return refuse(
            400,
            "bad_upgrade",
            "A WebSocket upgrade needs a Sec-WebSocket-Key of 16 bytes in base64",
        );
    };
    let accept = derive_accept_key(key.as_bytes());
    let protocol = headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|p| !p.is_empty())
        .map(str::to_string);
    let upgrade = Upgrade {
        path: path.clone(),
        query: req.uri().query().map(str::to_string),
        headers: headers.clone(),
        protocol: protocol.clone(),
    };
    // The connection's place under the cap stays taken while the session runs.
    let slot = req.extensions_mut().remove::<super::ConnectionSlot>();
    let on_upgrade = hyper::upgrade::on(req);
    let guard = OpenGuard::new(state.mounts.sockets.open());
    tokio::spawn(async move {
        let _guard = guard;
        let _slot = slot;
        match on_upgrade.await {
            Ok(upgraded) => {
                // The read buffer is allocated whole for every connection: at the
                // crate's 128 KiB default, 1,000 idle realtime sessions held 129 MiB
                // (scripts/bench.sh --only surfaces --surface Realtime). Larger
                // messages still arrive whole, over more reads.
                let config = WebSocketConfig::default()
                    .read_buffer_size(READ_BUFFER_BYTES)
                    .max_message_size(Some(max_message_bytes))
                    .max_frame_size(Some(max_message_bytes.min(MAX_FRAME_BYTES)));
                let socket = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(config),
                )
                .await;
                handler(socket, upgrade, state).await;
            }
            Err(e) => tracing::warn!(path = %upgrade.path, error = %e, "WebSocket upgrade failed"),
        }
    });
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(http::header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(
        http::header::CONNECTION,
        HeaderValue::from_static("Upgrade"),
    );
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(http::header::SEC_WEBSOCKET_ACCEPT, v);
    }
    if let Some(v) = protocol.and_then(|p| HeaderValue::from_str(&p).ok()) {
        h.insert(http::header::SEC_WEBSOCKET_PROTOCOL, v);
    }
    resp
}

/// The close frame for a connection whose read failed with `e`: 1009 for a message or
/// frame over the limits, 1007 for text that is not UTF-8, 1002 for any other protocol
/// violation; `None` when the connection is already gone. Logged with the path.
pub fn close_for(e: &WsError, path: &str) -> Option<Message> {
    let (code, reason) = match e {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            (CloseCode::Size, "message too large")
        }
        WsError::Capacity(_) => (CloseCode::Size, "frame too large"),
        WsError::Utf8(_) => (CloseCode::Invalid, "text is not UTF-8"),
        WsError::Protocol(_) => (CloseCode::Protocol, "protocol error"),
        _ => return None,
    };
    tracing::warn!(path, error = %e, code = u16::from(code), "closing a WebSocket");
    Some(Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_rfc_6455s() {
        // RFC 6455 §1.3's example.
        assert_eq!(
            derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn upgrade_and_connection_tokens_are_read_in_any_case_from_lists() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::UPGRADE,
            HeaderValue::from_static("h2c, WebSocket"),
        );
        assert!(wants_upgrade(&h));
        h.insert(http::header::UPGRADE, HeaderValue::from_static("h2c"));
        assert!(!wants_upgrade(&h));
        assert!(has_token(
            &HeaderValue::from_static("keep-alive, Upgrade"),
            "upgrade"
        ));
    }
}

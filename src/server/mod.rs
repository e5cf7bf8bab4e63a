//! The HTTP server: accept loop, per-connection hyper service, graceful shutdown.
//!
//! - `router`: pure (method, path) to a route.
//! - `access`: inbound API keys and the control API's guard (a shared gateway).
//! - `pipeline`: the request lifecycle in one function.
//! - `head_deadline`: slow-client protection on a coarse clock.
//! - `known`: the request headers the pipeline reads, in one pass.
//! - `control`: the `/__aimock/*` control API (fixtures, journal, reset, one-shot errors).
//! - `catalogue`: models lists and Ollama's tags.
//! - `tls`: TLS beside plain HTTP on the one port (the first byte decides).
//! - `test_path`: the `/__test/{id}/` prefix that carries a test id in a base URL.
//! - `websocket`: the upgrade point realtime surfaces mount their handlers on.
//! - `jobs`: the video jobs replayed creates started, advanced by their polls.
//! - `realtime`: the WebSocket I/O of the realtime surfaces (OpenAI Realtime, Responses
//!   over WebSocket, Gemini Live): frames in, the protocol's state machine, turns
//!   matched, journaled and counted as HTTP requests are, events out.
//!
//! Responses are built below the server, in [`crate::respond`] (the body type, pacing,
//! plans into responses, the one error path), which the recorder and chaos use too.
//!
//! Shutdown: stop accepting, raise [`AppState::shutdown`] so paced replay streams send
//! their remaining frames at once, then wait for open connections up to
//! `--shutdown-timeout-ms`; `app::run` flushes pending recordings afterwards.
//!
//! Connections: at most `--max-connections` are served at once. The accept loop takes
//! a slot before it accepts, so past the cap new connections wait in the kernel's listen
//! backlog (handshake done, nothing read) and are served as others close; rejected
//! alternative: accepting and closing them at once, which turns a burst into errors the
//! clients must retry. A WebSocket session keeps its connection's slot. Each connection
//! also has the head deadline (`head_deadline`), the body limit and, once upgraded, the
//! WebSocket message limits.
//!
//! [`serve`] takes a bound listener and a shutdown future, so tests and the binary run
//! the same code: tests bind 127.0.0.1:0, the binary binds the configured address.

pub mod access;
pub mod catalogue;
pub mod control;
pub mod head_deadline;
pub mod jobs;
pub mod known;
pub mod pipeline;
pub mod realtime;
pub mod router;
pub mod test_path;
pub mod tls;
pub mod websocket;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::cassette::FixtureStore;
use crate::config::Config;

pub use crate::respond::body::Body;

/// What is mounted on the server besides the provider routes, fixed at start-up: the
/// WebSocket handlers and the non-LLM services. Empty unless a caller mounts something.
#[derive(Default, Clone)]
pub struct Mounts {
    /// WebSocket handlers by path.
    pub sockets: websocket::Sockets,
    /// Mounted services by path prefix.
    pub services: crate::services::Services,
}

/// Everything a request handler can reach. Shared by `Arc`.
pub struct AppState {
    /// Resolved configuration.
    pub config: Config,
    /// The live fixture set and sequence counts.
    pub store: FixtureStore,
    /// Record mode: forwards misses upstream and saves them; switched at run time
    /// by the control API.
    pub recorder: crate::record::switch::RecorderSwitch,
    /// The request journal (its own short lock per push or read).
    pub journal: crate::journal::Journal,
    /// The seeded chaos decisions (lock-free).
    pub chaos: crate::chaos::Chaos,
    /// Prometheus metrics, when `--metrics` is on.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// Control-API state: the queued one-shot error.
    pub control: control::Control,
    /// Raised when shutdown begins; paced streams watch it to finish early.
    pub shutdown: crate::shutdown::Shutdown,
    /// WebSocket handlers and mounted services.
    pub mounts: Mounts,
    /// Video jobs started by replayed creates.
    pub jobs: jobs::Jobs,
    /// TLS served beside plain HTTP on the listening port (`--tls-cert`).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Inbound API keys and the control API's rule, fixed at start-up.
    pub access: access::Access,
}

impl AppState {
    /// The state for `config`, serving `store`, with a fresh journal, chaos stream and
    /// (when configured) metrics.
    pub fn new(
        config: Config,
        store: FixtureStore,
        recorder: Option<crate::record::Recorder>,
        metrics: Option<Arc<crate::metrics::Metrics>>,
    ) -> AppState {
        let seed = config
            .chaos_seed
            .unwrap_or_else(crate::chaos::Chaos::random_seed);
        AppState {
            journal: crate::journal::Journal::new(config.journal_max),
            chaos: crate::chaos::Chaos::new(seed, config.chaos),
            metrics,
            control: control::Control::default(),
            shutdown: crate::shutdown::Shutdown::new(),
            mounts: Mounts::default(),
            jobs: jobs::Jobs::default(),
            tls: None,
            access: access::Access::new(&config),
            config,
            store,
            recorder: crate::record::switch::RecorderSwitch::new(recorder),
        }
    }
}

/// Serve connections from `listener` until `shutdown` completes, then stop accepting,
/// raise `state.shutdown` (paced streams then finish without their delays) and give
/// open connections `config.shutdown_timeout` to finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .header_read_timeout(state.config.header_read_timeout);
    // The deadline's clock: ticks while the server runs (see `head_deadline`).
    let sweeper = head_deadline::Sweeper::new();
    let sweeping = AbortOnDrop(tokio::spawn(sweeper.clone().run()));
    let cap = state.config.max_connections.max(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(cap));
    // Logged once when the cap is reached, again only after the load has eased.
    let mut saturated = false;
    tokio::pin!(shutdown);
    loop {
        // A slot before `accept`: past the cap, new connections wait in the kernel's
        // listen backlog (completed handshakes, no bytes read) until one closes.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if !saturated {
                    saturated = true;
                    tracing::warn!(
                        max_connections = cap,
                        "connection cap reached; new connections wait in the listen backlog until one closes"
                    );
                }
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    _ = &mut shutdown => break,
                }
            }
        };
        if saturated && slots.available_permits() >= cap / 10 {
            saturated = false;
            tracing::info!(max_connections = cap, "connections are below the cap again");
        }
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off briefly instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let tls = state.tls.clone();
                let within = state.config.header_read_timeout;
                let state = state.clone();
                // Held by the connection's service (dropped when hyper drops it) and
                // by any WebSocket session upgraded from it, which outlives hyper's
                // part of the connection.
                let slot = Arc::new(slot);
                let svc = service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    if req.headers().contains_key(http::header::UPGRADE) {
                        req.extensions_mut().insert(ConnectionSlot(slot.clone()));
                    }
                    async move {
                        let resp = CatchPanic {
                            inner: pipeline::handle(state, req),
                        }
                        .await;
                        Ok::<_, Infallible>(resp)
                    }
                });
                // A builder per connection: the timer is the connection's own slot.
                let mut per_conn = builder.clone();
                per_conn.http1().timer(sweeper.connection());
                match tls {
                    None => {
                        let conn = per_conn.serve_connection_with_upgrades(TokioIo::new(stream), svc);
                        let conn = graceful.watch(conn.into_owned());
                        tokio::spawn(async move {
                            if let Err(e) = conn.await {
                                tracing::trace!(%peer, error = %e, "connection ended with an error");
                            }
                        });
                    }
                    Some(acceptor) => {
                        // TLS and plain HTTP on one port: the first byte decides.
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            let result = match tls::accept(&acceptor, stream, within).await {
                                Some(tls::Accepted::Tls(s)) => {
                                    let conn = per_conn.serve_connection_with_upgrades(TokioIo::new(s), svc);
                                    watcher.watch(conn.into_owned()).await
                                }
                                Some(tls::Accepted::Plain(s)) => {
                                    let conn = per_conn.serve_connection_with_upgrades(TokioIo::new(s), svc);
                                    watcher.watch(conn.into_owned()).await
                                }
                                None => return,
                            };
                            if let Err(e) = result {
                                tracing::trace!(%peer, error = %e, "connection ended with an error");
                            }
                        });
                    }
                }
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    state.shutdown.trigger();
    let grace = state.config.shutdown_timeout;
    // Upgraded WebSocket connections have left hyper: their handlers see the flag, close
    // with 1001, and are waited for here alongside the HTTP connections.
    let sockets = state.mounts.sockets.open().clone();
    let all_closed = async {
        tokio::join!(graceful.shutdown(), sockets.idle());
    };
    if tokio::time::timeout(grace, all_closed).await.is_err() {
        tracing::warn!(
            websockets = sockets.count(),
            "connections still open after the {grace:?} grace period; closing them"
        );
    }
    drop(sweeping);
    Ok(())
}

/// A connection's place under `--max-connections`, handed to a WebSocket session
/// through the upgrade request's extensions so the session keeps it while it runs.
#[derive(Clone)]
pub(crate) struct ConnectionSlot(#[allow(dead_code)] Arc<tokio::sync::OwnedSemaphorePermit>);

/// Aborts the task when dropped, so the sweeper stops with `serve` however it returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pin_project_lite::pin_project! {
    /// A last line of defence: a bug that panics inside the pipeline becomes a logged
    /// 500 for that one request instead of a dropped connection. Nothing from outside
    /// should reach a panic (parsers return errors); this only keeps an unknown bug
    /// contained. The pipeline's future is held inline, not boxed: hyper keeps one slot
    /// per connection for it, so a request costs no allocation for its future.
    struct CatchPanic<F> {
        #[pin]
        inner: F,
    }
}

impl<F> Future for CatchPanic<F>
where
    F: Future<Output = http::Response<crate::respond::body::Body>>,
{
    type Output = http::Response<crate::respond::body::Body>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let fut = self.project().inner;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(p) => p,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %what, "internal error while handling a request");
                // No path or provider: the request is not kept for this (a copy per
                // request for a bug's sake), so the body is aimock's own shape.
                let failure = crate::respond::Failure::internal("aimock internal error");
                std::task::Poll::Ready(crate::respond::respond(&failure, None, ""))
            }
        }
    }
}

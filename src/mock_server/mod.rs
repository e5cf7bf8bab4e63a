//! The Rust test API: an aimock started inside a test, on 127.0.0.1 and a free port,
//! loaded from cassettes or from fixtures built in code, inspected through its journal
//! and stopped when dropped, in the manner of wiremock's `MockServer`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use aimock::{Fixture, MockServer};
//!
//! let server = MockServer::start().await;
//! server.mount(Fixture::on_message("hello").reply("Hi"));
//! // Point the client under test at `server.uri()` (OpenAI's base URL is `{uri}/v1`).
//! # let reply = aimock::mock_server::post_json(
//! #     &server.uri(), "/v1/chat/completions",
//! #     r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}"#).await;
//! # assert!(reply.contains("\"Hi\""), "{reply}");
//! let requests = server.received_requests();
//! assert_eq!(requests.len(), 1);
//! assert_eq!(requests[0].path, "/v1/chat/completions");
//! # }
//! ```
//!
//! # Design
//! The server is the binary's own start-up (`app::run_seeded`) and live fixture store,
//! not a second implementation: fixtures built in code ([`Fixture`]) are written as the
//! JSON a cassette entry takes and parsed by the one loader, so they match as the same
//! entry in a file would; what the control API can do over HTTP, this API does by
//! calling the same functions in process. Rejected alternative: spawning the binary,
//! which would need it built and found, and would hide panics and logs from the test.
//!
//! [`MockServer::start`] serves on the caller's tokio runtime; [`MockServerBuilder::start_blocking`]
//! gives a synchronous test a runtime of the server's own on a thread. Dropping the
//! server starts a graceful shutdown (open connections finish within the shutdown
//! deadline); [`MockServer::stop`] waits for it and reports what the run returned.
//!
//! Not here: the HTTP control API (`server::control`), cassette loading
//! (`cassette::load`).

mod fixture;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

pub use fixture::Fixture;

use crate::cassette::model::Finding;
use crate::config::record::{parse_base, RecordConfig, PROVIDERS};
use crate::config::Config;
use crate::server::control::{parse_batch, reset_all, CODE_ORIGIN};
use crate::server::AppState;

/// Fixtures built in code that the loader refused, with its findings.
#[derive(Debug, Clone)]
pub struct FixtureError {
    /// What the loader found, each naming the fixture by its place in the batch.
    pub findings: Vec<Finding>,
}

impl std::fmt::Display for FixtureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the fixture does not load:")?;
        for x in &self.findings {
            write!(f, " {x};")?;
        }
        Ok(())
    }
}

impl std::error::Error for FixtureError {}

/// How a [`MockServer`] runs: on a task of the caller's runtime, or on a thread with a
/// runtime of its own.
enum Task {
    Spawned(tokio::task::JoinHandle<anyhow::Result<()>>),
    Thread(std::thread::JoinHandle<anyhow::Result<()>>),
}

/// An aimock serving on 127.0.0.1 and a free port, for one test. Stops when dropped.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<Task>,
    /// The next index of a fixture mounted in code (`<code>` #n).
    mounted: AtomicUsize,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`MockServer`] before it starts: [`MockServer::builder`].
pub struct MockServerBuilder {
    config: Config,
    fixtures: Vec<Fixture>,
    record: Option<(BTreeMap<String, String>, PathBuf)>,
}

impl MockServer {
    /// Start a server with no fixtures on the caller's runtime. Panics when it cannot
    /// (no free port); [`MockServerBuilder::try_start`] returns the error instead.
    pub async fn start() -> MockServer {
        MockServer::builder().start().await
    }

    /// Settings for a server: cassettes, strict mode, fixtures, record mode.
    ///
    /// ```no_run
    /// # async fn f() {
    /// use aimock::{Fixture, MockServer};
    ///
    /// let server = MockServer::builder()
    ///     .cassette("tests/cassettes")
    ///     .strict(true)
    ///     .fixture(Fixture::on_message("ping").reply("pong"))
    ///     .start()
    ///     .await;
    /// # }
    /// ```
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder {
            config: Config::for_tests(Vec::new()),
            fixtures: Vec::new(),
            record: None,
        }
    }

    /// The base URI, `http://127.0.0.1:PORT`, without a trailing slash. OpenAI's
    /// clients take `{uri}/v1`, Anthropic's `{uri}`, Gemini's `{uri}`, Ollama's `{uri}`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// The server's shared state, for what this API does not cover.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Add a fixture after every other (lowest priority), as `POST /__aimock/fixtures`
    /// does. Panics when the loader refuses it; [`MockServer::try_mount`] returns why.
    pub fn mount(&self, fixture: Fixture) {
        if let Err(e) = self.try_mount(fixture) {
            panic!("{e}");
        }
    }

    /// [`MockServer::mount`], returning the loader's findings instead of panicking.
    pub fn try_mount(&self, fixture: Fixture) -> Result<(), FixtureError> {
        self.add(vec![fixture], false)
    }

    /// Add a fixture ahead of every other (highest priority), as
    /// `POST /__aimock/fixtures/prepend` does. Panics when the loader refuses it.
    pub fn prepend(&self, fixture: Fixture) {
        if let Err(e) = self.add(vec![fixture], true) {
            panic!("{e}");
        }
    }

    fn add(&self, fixtures: Vec<Fixture>, front: bool) -> Result<(), FixtureError> {
        let list: Vec<Value> = fixtures.iter().map(Fixture::to_json).collect();
        let base = self.mounted.load(Ordering::Relaxed);
        let batch =
            parse_batch(&list, CODE_ORIGIN, base).map_err(|findings| FixtureError { findings })?;
        self.mounted
            .fetch_add(batch.fixtures.len(), Ordering::Relaxed);
        if front {
            self.state.store.prepend_runtime(batch.fixtures);
        } else {
            self.state.store.add_runtime(batch.fixtures);
        }
        Ok(())
    }

    /// Every request the journal holds, oldest first (at most the journal's size,
    /// 1,000 by default), as `GET /__aimock/journal` shows them.
    pub fn received_requests(&self) -> Vec<ReceivedRequest> {
        self.state
            .journal
            .entries()
            .iter()
            .map(|e| ReceivedRequest::from_json(e.to_json_with(&self.state.config.secrets)))
            .collect()
    }

    /// The full reset `POST /__aimock/reset` makes: fixtures (cassettes' too),
    /// journal, sequence counts, queued error, run-time chaos, jobs.
    pub fn reset(&self) {
        reset_all(&self.state);
    }

    /// Forget the sequence counts only (every test id's), so `sequenceIndex` fixtures
    /// answer from their first again; fixtures and journal stay.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use aimock::{Fixture, MockServer};
    ///
    /// let server = MockServer::builder()
    ///     .fixture(Fixture::on_message("step").sequence(0).reply("first"))
    ///     .fixture(Fixture::on_message("step").sequence(1).reply("second"))
    ///     .start()
    ///     .await;
    /// let uri = server.uri();
    /// let ask = || aimock::mock_server::post_json(&uri, "/v1/chat/completions",
    ///     r#"{"model":"gpt-4o","messages":[{"role":"user","content":"step"}]}"#);
    /// assert!(ask().await.contains("first"));
    /// assert!(ask().await.contains("second"));
    /// server.reset_match_counts();
    /// assert!(ask().await.contains("first"));
    /// assert_eq!(server.received_requests().len(), 3);
    /// # }
    /// ```
    pub fn reset_match_counts(&self) {
        self.state.store.reset_counts();
    }

    /// Stop and wait for the graceful shutdown; what the run returned (with
    /// `fail_on_unused`, an error when a cassette fixture never matched).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.task.take() {
            Some(Task::Spawned(t)) => t.await?,
            Some(Task::Thread(t)) => tokio::task::spawn_blocking(move || t.join())
                .await?
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the server's thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for MockServer {
    /// Start the graceful shutdown. A server on its own runtime is waited for (its
    /// thread joined); one on the caller's runtime finishes in the background.
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(Task::Thread(t)) = self.task.take() {
            let _ = t.join();
        }
    }
}

impl MockServerBuilder {
    /// Load a cassette file or directory (in call order, before fixtures built in
    /// code).
    pub fn cassette(mut self, path: impl AsRef<Path>) -> MockServerBuilder {
        self.config.cassettes.push(path.as_ref().to_path_buf());
        self
    }

    /// Misses answer 503 instead of 404, and the server refuses to start with no
    /// fixture at all.
    pub fn strict(mut self, strict: bool) -> MockServerBuilder {
        self.config.strict = strict;
        self
    }

    /// Serve this fixture from the start (after the cassettes').
    pub fn fixture(mut self, fixture: Fixture) -> MockServerBuilder {
        self.fixtures.push(fixture);
        self
    }

    /// Record mode: a miss for `provider` (`openai`, `anthropic`, `gemini`,
    /// `vertexai`, `bedrock`, `azure`, `ollama`, `cohere`) is forwarded to
    /// `upstream` and saved under `dir`. Call once per provider; the last `dir` wins.
    pub fn record(
        mut self,
        provider: &str,
        upstream: impl Into<String>,
        dir: impl AsRef<Path>,
    ) -> MockServerBuilder {
        let (providers, d) = self
            .record
            .get_or_insert_with(|| (BTreeMap::new(), PathBuf::new()));
        providers.insert(provider.to_string(), upstream.into());
        *d = dir.as_ref().to_path_buf();
        self
    }

    /// Change any other setting of the configuration the server starts with (the
    /// address stays 127.0.0.1 unless changed here).
    pub fn configure(mut self, f: impl FnOnce(&mut Config)) -> MockServerBuilder {
        f(&mut self.config);
        self
    }

    /// Start on the caller's runtime; panics when the server cannot start.
    pub async fn start(self) -> MockServer {
        match self.try_start().await {
            Ok(s) => s,
            Err(e) => panic!("aimock MockServer did not start: {e:#}"),
        }
    }

    /// Start on the caller's runtime.
    pub async fn try_start(self) -> anyhow::Result<MockServer> {
        let (config, seed) = self.resolve()?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(crate::app::run_seeded(
            config,
            crate::server::Mounts::default(),
            seed.fixtures,
            async move {
                let _ = stop_rx.await;
            },
            move |r| {
                let _ = ready_tx.send((r.addr, r.state.clone()));
            },
        ));
        match ready_rx.await {
            Ok((addr, state)) => Ok(MockServer::running(
                addr,
                state,
                stop_tx,
                Task::Spawned(task),
                seed.count,
            )),
            Err(_) => Err(task
                .await?
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("the server stopped before it was ready"))),
        }
    }

    /// Start on a thread with a tokio runtime of the server's own, for a test that
    /// has none; dropping the server joins the thread.
    pub fn start_blocking(self) -> anyhow::Result<MockServer> {
        let (config, seed) = self.resolve()?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let count = seed.count;
        let thread = std::thread::Builder::new()
            .name("aimock-mock-server".into())
            .spawn(move || -> anyhow::Result<()> {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                rt.block_on(crate::app::run_seeded(
                    config,
                    crate::server::Mounts::default(),
                    seed.fixtures,
                    async move {
                        let _ = stop_rx.await;
                    },
                    move |r| {
                        let _ = ready_tx.send((r.addr, r.state.clone()));
                    },
                ))
            })?;
        match ready_rx.recv_timeout(Duration::from_secs(60)) {
            Ok((addr, state)) => Ok(MockServer::running(
                addr,
                state,
                stop_tx,
                Task::Thread(thread),
                count,
            )),
            Err(_) => Err(thread
                .join()
                .map_err(|_| anyhow::anyhow!("the server's thread panicked"))?
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("the server did not become ready"))),
        }
    }

    /// The configuration and the parsed fixtures.
    fn resolve(self) -> anyhow::Result<(Config, Seed)> {
        let mut config = self.config;
        if let Some((providers, dir)) = self.record {
            let mut upstreams = BTreeMap::new();
            for (name, url) in &providers {
                if !PROVIDERS.contains(&name.as_str()) {
                    anyhow::bail!(
                        "record: unknown provider {name:?} (one of {})",
                        PROVIDERS.join(", ")
                    );
                }
                upstreams.insert(name.clone(), parse_base(name, url)?);
            }
            config.record = Some(RecordConfig {
                upstreams,
                proxy_only: false,
                head_timeout: Duration::from_secs(30),
                idle_timeout: Duration::from_secs(30),
                max_capture_bytes: 64 * 1024 * 1024,
                record_dir: dir,
                full_model_version: false,
            });
        }
        let list: Vec<Value> = self.fixtures.iter().map(Fixture::to_json).collect();
        let batch =
            parse_batch(&list, CODE_ORIGIN, 0).map_err(|findings| FixtureError { findings })?;
        Ok((
            config,
            Seed {
                count: batch.fixtures.len(),
                fixtures: batch.fixtures,
            },
        ))
    }
}

struct Seed {
    fixtures: Vec<Arc<crate::cassette::Fixture>>,
    count: usize,
}

impl MockServer {
    fn running(
        addr: SocketAddr,
        state: Arc<AppState>,
        stop: oneshot::Sender<()>,
        task: Task,
        mounted: usize,
    ) -> MockServer {
        MockServer {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
            mounted: AtomicUsize::new(mounted),
        }
    }
}

/// A request the server handled, as its journal entry shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedRequest {
    /// The journal id (the caller's `X-Request-Id` when it sent a usable one).
    pub id: String,
    /// `POST`, `GET`, ...
    pub method: String,
    /// Path and query (query credentials masked).
    pub path: String,
    /// The provider whose surface answered (`openai`, `anthropic`, ...), if any.
    pub provider: Option<String>,
    /// The mounted service that answered (`mcp`, `vector`, ...), if any.
    pub service: Option<String>,
    /// The request's test id, when it had one.
    pub test_id: Option<String>,
    /// The status answered (0: the connection was cut by chaos).
    pub status: u16,
    /// What answered: `fixture`, `proxy`, `injected`, ...
    pub source: String,
    /// The fixture that answered: its file (or `<code>`, `<runtime>`) and index.
    pub fixture: Option<(String, usize)>,
    /// Why nothing matched, on a miss.
    pub miss: Option<String>,
    /// The chaos fault injected (`drop`, `malformed`, `disconnect`), if any.
    pub chaos: Option<String>,
    /// The request headers (credentials masked).
    pub headers: BTreeMap<String, String>,
    /// The request as matching saw it (OpenAI-chat-like: `model`, `messages`, ...).
    pub body: Value,
    /// The whole entry as `GET /__aimock/journal` shows it.
    pub entry: Value,
}

impl ReceivedRequest {
    fn from_json(v: Value) -> ReceivedRequest {
        let s = |x: &Value| x.as_str().map(str::to_string);
        let r = &v["response"];
        ReceivedRequest {
            id: s(&v["id"]).unwrap_or_default(),
            method: s(&v["method"]).unwrap_or_default(),
            path: s(&v["path"]).unwrap_or_default(),
            provider: s(&v["provider"]),
            service: s(&v["service"]),
            test_id: s(&v["testId"]),
            status: r["status"]
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .unwrap_or(0),
            source: s(&r["source"]).unwrap_or_default(),
            fixture: r["fixture"]["file"].as_str().map(|f| {
                (
                    f.to_string(),
                    r["fixture"]["index"].as_u64().unwrap_or(0) as usize,
                )
            }),
            miss: s(&r["miss"]),
            chaos: s(&r["chaosAction"]),
            headers: v["headers"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
            body: v["body"].clone(),
            entry: v,
        }
    }

    /// The text of the last user message, if the request had one.
    pub fn last_user_message(&self) -> Option<&str> {
        self.body["messages"]
            .as_array()?
            .iter()
            .rev()
            .find(|m| m["role"] == "user")?["content"]
            .as_str()
    }
}

/// POST `body` (JSON) to `uri` + `path` over a plain HTTP/1.1 connection and return
/// the response body as text; for doctests and examples that have no HTTP client.
#[doc(hidden)]
pub async fn post_json(uri: &str, path: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = uri.trim_start_matches("http://");
    let Ok(mut stream) = tokio::net::TcpStream::connect(host).await else {
        return String::new();
    };
    let req = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(req.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(text)
}

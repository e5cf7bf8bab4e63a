//! Record mode: forward a request no cassette answers to the real provider, relay the
//! reply to the client as it streams, and save it as a fixture.
//!
//! - `proxy` (in this file): upstream selection, the forwarded request, the relayed
//!   response head. Upstream TLS is rustls with the ring provider.
//! - `tee`: the relayed body and its bounded copy.
//! - `capture`: frame timing and terminal-event detection on the copy.
//! - `matchkey`: the new fixture's `match`, built like replay matches.
//! - `jobs`: video jobs being recorded (create, polls, content), written when over.
//! - `socket`: the realtime WebSocket turns a bridged session records (the bridge
//!   itself is `server::realtime::bridge`).
//! - `writer`: file layout, slugs, atomic appends.
//! - `redact`: credentials never reach the disk.
//! - `stored`: the request a recording was made from (`recordedRequest`).
//! - `switch`: the recorder in force, replaced or switched off at run time.
//!
//! Collapsing a captured reply into a fixture `response` is each provider's job
//! (`providers::Surface::collapse`).

pub(crate) mod capture;
pub(crate) mod deferred;
pub(crate) mod encoding;
pub(crate) mod jobs;
pub(crate) mod matchkey;
pub(crate) mod raw;
pub(crate) mod redact;
pub(crate) mod socket;
pub mod stored;
pub mod switch;
pub(crate) mod tee;
pub mod writer;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::cassette::model::parse_entry;
use crate::cassette::raw::RawKey;
use crate::cassette::{FixtureStore, Promised};
use crate::config::record::RecordConfig;
use crate::providers::Surface;
use crate::request::ChatRequest;
use crate::respond::body::Body;
use crate::respond::{respond, Failure};

use tee::{Capture, TeeBody};

/// Request headers never forwarded: hop-by-hop, recomputed, or aimock's own.
pub(crate) fn is_stripped_request_header(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "proxy-authorization"
            | "proxy-authenticate"
            | "proxy-connection"
            | "host"
            | "content-length"
            | "cookie"
            | "accept-encoding"
            | "x-test-id"
    ) || name.starts_with("x-aimock-")
}

/// Response headers not relayed (hop-by-hop, or recomputed by our server).
pub(crate) fn is_stripped_response_header(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "content-length"
            | "date"
    )
}

pub(crate) type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The upstream HTTP client every recorder forwards with: hyper over rustls (ring,
/// the web PKI roots), HTTP/1 and HTTP/2, plain `http://` allowed (fake upstreams on
/// loopback), idle connections kept 30 s. The agent-stack services' recorders use it too.
pub(crate) fn https_client() -> anyhow::Result<HttpsClient> {
    let tls = tls_config()?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(https))
}

/// The upstream TLS client configuration: rustls with the ring provider and the web
/// PKI roots, plus the certificates of the PEM file `SSL_CERT_FILE` names, if set (a
/// corporate gateway's CA, a test upstream's); no ALPN (the HTTP client adds its own,
/// `h2` and `http/1.1`; a WebSocket speaks HTTP/1.1).
pub(crate) fn tls_config() -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        use rustls_pki_types::pem::PemObject;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(&file)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>());
        match certs {
            Ok(certs) => {
                let (added, ignored) = roots.add_parsable_certificates(certs);
                tracing::info!(file = %std::path::Path::new(&file).display(), added, ignored, "trusting upstream CAs from SSL_CERT_FILE");
            }
            Err(e) => {
                tracing::warn!(file = %std::path::Path::new(&file).display(), error = %e, "cannot read SSL_CERT_FILE; using the built-in roots only");
            }
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// The recorder: the upstream client and where recordings go.
pub struct Recorder {
    config: RecordConfig,
    client: HttpsClient,
    /// The TLS configuration `wss://` upstreams are reached with.
    socket_tls: Arc<rustls::ClientConfig>,
    store: FixtureStore,
    /// Recordings built after their reply was written, before the next match.
    deferred: Arc<deferred::Deferred>,
    /// What every recorded value is scanned with before it is kept.
    secrets: Arc<crate::secrets::Detector>,
    recorded: Arc<AtomicUsize>,
    writes: Arc<Writes>,
    /// Video jobs whose polls and content are still being recorded.
    jobs: Arc<jobs::RecordingJobs>,
}

/// Recordings being written off the request path, so shutdown can wait for them; the
/// metric a finished write bumps; and the writer that writes them.
#[derive(Default)]
pub struct Writes {
    pending: AtomicUsize,
    idle: tokio::sync::Notify,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    writer: writer::Writer,
}

impl Writes {
    fn start(&self) {
        self.pending.fetch_add(1, Ordering::AcqRel);
    }

    fn done(&self, ok: bool) {
        if ok {
            if let Some(m) = &self.metrics {
                m.recorded();
            }
        }
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Recordings not yet on disk.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }
}

impl Recorder {
    /// A recorder registering recordings in `store`.
    pub fn new(config: RecordConfig, store: FixtureStore) -> anyhow::Result<Recorder> {
        let client = https_client()?;
        Ok(Recorder {
            config,
            client,
            socket_tls: Arc::new(tls_config()?),
            deferred: {
                let d = Arc::new(deferred::Deferred::default());
                store.wait_for(d.clone());
                d
            },
            store,
            secrets: crate::secrets::Detector::shared_builtin(),
            recorded: Arc::new(AtomicUsize::new(0)),
            writes: Arc::default(),
            jobs: Arc::default(),
        })
    }

    /// A recorder with another configuration sharing this one's client, writer,
    /// deferred additions, counters and video jobs (a run-time `POST /__aimock/record`,
    /// `switch`).
    pub fn reconfigured(&self, config: RecordConfig) -> Recorder {
        Recorder {
            config,
            client: self.client.clone(),
            socket_tls: self.socket_tls.clone(),
            store: self.store.clone(),
            deferred: self.deferred.clone(),
            secrets: self.secrets.clone(),
            recorded: self.recorded.clone(),
            writes: self.writes.clone(),
            jobs: self.jobs.clone(),
        }
    }

    /// The settings this recorder runs with.
    pub fn config(&self) -> &RecordConfig {
        &self.config
    }

    /// Scan recordings with `secrets` (the configured detector) instead of the
    /// built-in one.
    pub fn with_secrets(mut self, secrets: Arc<crate::secrets::Detector>) -> Recorder {
        self.secrets = secrets;
        self
    }

    /// Count every recording written in `metrics`.
    pub fn with_metrics(mut self, metrics: Option<Arc<crate::metrics::Metrics>>) -> Recorder {
        self.writes = Arc::new(Writes {
            metrics,
            ..Writes::default()
        });
        self
    }

    /// What a save needs, borrowed from the recorder (a deferred capture builds its own
    /// from clones it owns).
    fn save_context(&self) -> SaveContext<'_> {
        SaveContext {
            config: &self.config,
            secrets: &self.secrets,
            store: &self.store,
            counter: &self.recorded,
            writes: &self.writes,
            jobs: &self.jobs,
        }
    }

    /// Wait until every recording handed to the writer is on disk (shutdown calls this
    /// after the last connection closed, under its own deadline).
    pub async fn flush(&self) {
        // Captures still waiting for their turn count as pending writes already.
        self.deferred.settle();
        // Video jobs still being recorded are written as they stand.
        for job in self.jobs.drain() {
            tracing::warn!("a video job was still being recorded at shutdown; writing what it has");
            self.writes.start();
            persist_job(&job, &self.save_context());
        }
        loop {
            let idle = self.writes.idle.notified();
            tokio::pin!(idle);
            // Register before checking, so a write finishing in between still wakes us.
            idle.as_mut().enable();
            if self.writes.pending() == 0 {
                return;
            }
            idle.await;
        }
    }

    /// The log of the recorder's own cassette writes, for the watcher.
    pub fn own_writes(&self) -> Arc<writer::WriteLog> {
        self.writes.writer.own_writes()
    }

    /// Make the cassette writes that follow fail as `fault` says (tests of disk faults).
    #[doc(hidden)]
    pub fn inject_write_fault(&self, fault: Option<writer::WriteFault>) {
        self.writes.writer.inject_fault(fault);
    }

    /// Stop the writer's thread (after [`Recorder::flush`]: nothing is left for it).
    pub fn close(&self) {
        self.writes.writer.close();
    }

    /// Recordings not yet on disk.
    pub fn pending_writes(&self) -> usize {
        self.writes.pending()
    }

    /// Whether an upstream is configured for this surface's provider.
    pub fn handles(&self, surface: &Surface) -> bool {
        self.upstream(surface.provider()).is_some()
    }

    /// The upstream of `provider`: its own, else the one of the API it speaks (an
    /// OpenRouter miss goes to `--provider-openai`, a Foundry one to
    /// `--provider-anthropic`, the path kept, as before they had their own flags).
    fn upstream(&self, provider: &str) -> Option<&Uri> {
        let speaks = match provider {
            "openrouter" => "openai",
            "foundry" => "anthropic",
            other => other,
        };
        self.config
            .upstreams
            .get(provider)
            .or_else(|| self.config.upstreams.get(speaks))
    }

    /// The upstream URL for a request: base (path prefix kept) + original path + query.
    pub fn upstream_uri(base: &Uri, path_and_query: &str) -> Option<Uri> {
        let s = base.to_string();
        let base = s.trim_end_matches('/');
        format!("{base}{path_and_query}").parse().ok()
    }

    /// Forward a missed request and relay the reply; record it when it completes.
    pub async fn forward(
        &self,
        surface: &Surface,
        parts: &http::request::Parts,
        body: Bytes,
        req: ChatRequest,
    ) -> Response<Body> {
        self.relay(surface, parts, body, Save::Fixture(Box::new(req)))
            .await
    }

    /// Forward a request that did not parse into the neutral form (`reason` says why),
    /// relay the reply, and save the exchange raw (`cassette::raw`).
    pub async fn forward_raw(
        &self,
        surface: &Surface,
        parts: &http::request::Parts,
        body: Bytes,
        reason: String,
    ) -> Response<Body> {
        self.relay(surface, parts, body, Save::Raw(reason)).await
    }

    async fn relay(
        &self,
        surface: &Surface,
        parts: &http::request::Parts,
        body: Bytes,
        what: Save,
    ) -> Response<Body> {
        // Computed before the body is handed on; a recording made raw (now or because
        // its reply turns out unreadable) matches on it.
        let raw_key = (!self.config.proxy_only).then(|| raw::key_for(parts, &body));
        let stored = (!self.config.proxy_only).then(|| stored::Source::new(parts, body.clone()));
        let provider = surface.provider();
        let Some(base) = self.upstream(provider) else {
            return respond(
                &Failure::upstream(format!("No upstream configured for {provider}")),
                Some(surface),
                parts.uri.path(),
            );
        };
        let pq = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let Some(uri) = Self::upstream_uri(base, pq) else {
            return respond(
                &Failure::upstream(format!("Invalid upstream URL: {base}")),
                Some(surface),
                parts.uri.path(),
            );
        };
        let mut builder = http::Request::builder()
            .method(parts.method.clone())
            .uri(uri.clone());
        for (name, value) in &parts.headers {
            if !is_stripped_request_header(name.as_str()) {
                builder = builder.header(name, value);
            }
        }
        let upstream_req = match builder.body(Full::new(body)) {
            Ok(r) => r,
            Err(e) => {
                return respond(
                    &Failure::upstream(format!("Cannot build upstream request: {e}")),
                    Some(surface),
                    parts.uri.path(),
                )
            }
        };
        let sent_at = Instant::now();
        let shown = format!(
            "{}://{}{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority().map(|a| a.as_str()).unwrap_or(""),
            uri.path()
        );
        let resp = match tokio::time::timeout(
            self.config.head_timeout,
            self.client.request(upstream_req),
        )
        .await
        {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                let cause = std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                tracing::debug!(provider, upstream = %shown, error = %e, %cause, "upstream request failed");
                let message = format!("Proxy to upstream failed: {e} {cause}");
                return respond(
                    &Failure::upstream(message.trim_end()),
                    Some(surface),
                    parts.uri.path(),
                );
            }
            Err(_) => {
                tracing::debug!(provider, upstream = %shown, timeout = ?self.config.head_timeout, "upstream did not answer in time");
                return respond(
                    &Failure::upstream_timeout(format!(
                        "Proxy to upstream failed: no response within {:?}",
                        self.config.head_timeout
                    )),
                    Some(surface),
                    parts.uri.path(),
                );
            }
        };
        let (head, upstream_body) = resp.into_parts();
        let status = head.status;
        let content_type = head
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_string();
        tracing::info!(provider, upstream = %shown, status = status.as_u16(), "proxied a miss upstream");

        let on_complete: Option<tee::OnComplete> = if self.config.proxy_only {
            None
        } else {
            let surface = surface.clone();
            let store = self.store.clone();
            let deferred = self.deferred.clone();
            let secrets = self.secrets.clone();
            let config = self.config.clone();
            let counter = self.recorded.clone();
            let writes = self.writes.clone();
            let jobs = self.jobs.clone();
            let ct = content_type.clone();
            let headers = head.headers.clone();
            let raw_key = raw_key.unwrap_or_else(|| raw::key_for(parts, b""));
            Some(Box::new(move |cap: Capture| {
                // Counted before it is deferred, so `flush` waits for it from now on.
                writes.start();
                deferred.defer(Box::new(move || {
                    let saved = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let Some((cap, headers)) =
                            decoded(&surface, &ct, cap, headers, config.max_capture_bytes)
                        else {
                            writes.done(false);
                            return;
                        };
                        // Built here, deferred: the body's JSON parse is off the request path.
                        let stored = stored.map(|s| s.to_json()).unwrap_or(Value::Null);
                        let reply = Reply {
                            status: status.as_u16(),
                            content_type: &ct,
                            headers: &headers,
                            cap,
                        };
                        let ctx = SaveContext {
                            config: &config,
                            secrets: &secrets,
                            store: &store,
                            counter: &counter,
                            writes: &writes,
                            jobs: &jobs,
                        };
                        match what {
                            Save::Fixture(req) => {
                                save(&surface, &req, raw_key, stored, reply, &ctx)
                            }
                            Save::Raw(reason) => {
                                save_raw(&surface, raw_key, stored, reply, reason, &ctx)
                            }
                        }
                    }));
                    if saved.is_err() {
                        // Nothing will reach the writer: uncount it, or `flush` would
                        // wait for it until its deadline.
                        tracing::error!("building a recorded fixture panicked; not saved");
                        writes.done(false);
                    }
                }));
                // The capture completes inside the poll that hands hyper the reply's
                // last bytes; the fixture is built once this connection's task has
                // yielded (after writing them), or by the next match if that is sooner.
                match tokio::runtime::Handle::try_current() {
                    Ok(rt) => {
                        rt.spawn(async move { deferred.settle() });
                    }
                    Err(_) => deferred.settle(),
                }
            }))
        };
        // Compressed frames cannot be told apart as they pass: the watcher sees a
        // whole body, and the recording has no timings (see `encoding`).
        let encoded = !encoding::codings(&head.headers).is_empty();
        let tee = TeeBody::new(
            upstream_body,
            capture::StreamWatch::new(surface, if encoded { "" } else { &content_type }),
            sent_at,
            self.config.idle_timeout,
            self.config.max_capture_bytes,
            on_complete,
            provider,
        );
        let mut out = Response::new(Body::Boxed(tee.boxed_unsync()));
        *out.status_mut() = status;
        copy_response_headers(&head.headers, out.headers_mut());
        out
    }

    /// How many recordings were written.
    pub fn recorded(&self) -> usize {
        self.recorded.load(Ordering::Relaxed)
    }
}

fn copy_response_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if !is_stripped_response_header(name.as_str()) {
            to.append(name.clone(), value.clone());
        }
    }
    if from
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("event-stream"))
    {
        to.insert("x-accel-buffering", HeaderValue::from_static("no"));
    }
}

/// The capture with its `Content-Encoding` undone, and the headers without it (see
/// [`encoding`]); `None`, logged, when it cannot be, and nothing is recorded.
fn decoded(
    surface: &Surface,
    content_type: &str,
    cap: Capture,
    mut headers: HeaderMap,
    limit: usize,
) -> Option<(Capture, HeaderMap)> {
    let codings = encoding::codings(&headers);
    if codings.is_empty() {
        return Some((cap, headers));
    }
    match encoding::decode(&codings, &cap.body, limit) {
        Ok(body) => {
            headers.remove(http::header::CONTENT_ENCODING);
            let last = cap.chunks.last().map(|c| c.1).unwrap_or_default();
            let stream = capture::StreamWatch::new(surface, content_type).is_stream();
            let cap = Capture {
                chunks: vec![(body.len(), last)],
                body: body.into(),
                frame_times: Vec::new(),
                stream,
            };
            Some((cap, headers))
        }
        Err(reason) => {
            tracing::error!(provider = surface.provider(), encoding = ?codings, %reason, "relayed an encoded reply but did not record it");
            None
        }
    }
}

/// What a forwarded request is saved as.
enum Save {
    /// An editable fixture, matched like the request (raw when the reply is unreadable).
    Fixture(Box<ChatRequest>),
    /// A raw exchange, for a request that did not parse; why it did not.
    Raw(String),
}

/// One completed upstream reply.
struct Reply<'a> {
    status: u16,
    content_type: &'a str,
    headers: &'a HeaderMap,
    cap: Capture,
}

/// Where a recording goes and what it passes through.
struct SaveContext<'a> {
    config: &'a RecordConfig,
    secrets: &'a crate::secrets::Detector,
    store: &'a FixtureStore,
    counter: &'a AtomicUsize,
    writes: &'a Arc<Writes>,
    jobs: &'a jobs::RecordingJobs,
}

/// Write a video job's recording as it stands: when the job is over, or at shutdown.
fn persist_job(job: &jobs::Pending, ctx: &SaveContext<'_>) {
    persist(
        job.surface.provider(),
        &job.req,
        job.stored.clone(),
        job.response(),
        Vec::new(),
        None,
        ctx,
    );
}

/// Collapse, register and persist one completed capture. Runs deferred (see
/// [`deferred`]); the caller has already counted its write as started. A reply the
/// provider's collapse finds nothing in is saved raw instead.
fn save(
    surface: &Surface,
    req: &ChatRequest,
    key: RawKey,
    stored: Value,
    reply: Reply<'_>,
    ctx: &SaveContext<'_>,
) {
    let status = reply.status;
    let collapsed = surface.collapse(status, reply.content_type, &reply.cap.body);
    if let Some(step) = surface.job_step(req) {
        // A job's replies join its recording, written when the job is over; a failed
        // poll or download is relayed but not kept.
        if status < 400 || step != crate::providers::JobStep::Start {
            let over = if status < 400 {
                ctx.jobs
                    .take(surface, req, &stored, step, collapsed.media.as_ref())
            } else {
                tracing::warn!(status, "a job poll failed upstream; not recorded");
                None
            };
            match over {
                Some(job) => {
                    persist_job(&job, ctx);
                }
                None => ctx.writes.done(false),
            }
            return;
        }
    }
    if status < 400 && collapsed.is_empty() && !reply.cap.body.is_empty() {
        let reason = format!(
            "the {} reply (content type {}) is in no shape aimock reads into an editable fixture",
            surface.provider(),
            reply.content_type
        );
        return save_raw(surface, key, stored, reply, reason, ctx);
    }
    let (mut response, warnings) = collapsed.to_response();
    // A speech stream says nothing of its audio's format: the request asked for it.
    if response.get("audio").is_some() && response.get("format").is_none() {
        if let Some(f) = req
            .hints
            .media
            .as_deref()
            .and_then(|h| h.format.as_deref())
            .filter(|f| *f != "mp3")
        {
            response["format"] = f.into();
        }
    }
    let timings = if reply.cap.stream && status < 400 {
        capture::recorded_timings(&reply.cap.frame_times)
    } else {
        None
    };
    persist(
        surface.provider(),
        req,
        stored,
        response,
        warnings,
        timings,
        ctx,
    );
}

/// Register and persist one fixture `response` recorded for `req` from `provider`,
/// with `stored`, the request as sent (`Value::Null`: none to keep); the caller has
/// already counted its write as started. Returns the fixture as served.
#[allow(clippy::too_many_arguments)]
fn persist(
    provider: &str,
    req: &ChatRequest,
    stored: Value,
    response: Value,
    mut warnings: Vec<String>,
    timings: Option<Value>,
    ctx: &SaveContext<'_>,
) -> Option<Arc<crate::cassette::Fixture>> {
    // Derived from the request as matching sees it: recorded matches are written in
    // normalised form (`crate::normalize`), so they match the same request tomorrow.
    let req = &*ctx.store.normalized(req);
    let built = fixture_entry(
        req,
        stored,
        response,
        timings,
        ctx.secrets,
        ctx.config.full_model_version,
    );
    warnings.extend(built.warnings);
    let path = writer::recording_path(&ctx.config.record_dir, provider, &req.test_id);
    register_and_write(built.entry, path, !built.empty, warnings, ctx)
}

/// A recorded entry, built but not yet registered or written.
#[derive(Debug, Clone)]
pub struct BuiltEntry {
    /// The cassette entry (`match`, `response`, ...).
    pub entry: Value,
    /// Its match tells no requests apart (written, never served).
    pub empty: bool,
    /// What the cassette file's `_warnings` should say about it.
    pub warnings: Vec<String>,
}

/// The editable entry for `req` answered with `response` (a collapsed reply), every
/// part passed through the credential detector: what `record` saves and what
/// `aimock import` writes for one recorded call of another tool. `req` is already
/// normalised.
pub(crate) fn fixture_entry(
    req: &ChatRequest,
    mut stored: Value,
    mut response: Value,
    timings: Option<Value>,
    secrets: &crate::secrets::Detector,
    full_model_version: bool,
) -> BuiltEntry {
    let (mut matcher, empty) = matchkey::match_for(req, full_model_version);
    let mut entry = Map::new();
    let mut changed = Vec::new();
    let mut warnings = Vec::new();
    secrets.redact_json(&mut matcher, "match", &mut changed);
    secrets.redact_json(&mut response, "response", &mut changed);
    secrets.redact_json(&mut stored, stored::FIELD, &mut changed);
    if !changed.is_empty() {
        tracing::warn!(fields = ?changed, "credential-shaped values redacted from a recording");
        warnings.push(format!(
            "credential-shaped values redacted at {}",
            changed.join(", ")
        ));
    }
    entry.insert("match".into(), matcher);
    entry.insert("response".into(), response);
    if let Some(t) = timings {
        entry.insert("recordedTimings".into(), t);
    }
    if !stored.is_null() {
        entry.insert(stored::FIELD.into(), stored);
    }
    if empty {
        warnings.push("Empty match criteria — this fixture will not match any request".into());
    }
    BuiltEntry {
        entry: Value::Object(entry),
        empty,
        warnings,
    }
}

/// The raw entry for one exchange (its key, its reply as captured, why it is raw),
/// every part passed through the credential detector: what `record` saves for a
/// request or reply it cannot read, and what `aimock import` writes for the same.
pub(crate) fn raw_entry(
    key: &RawKey,
    mut stored: Value,
    raw: crate::cassette::raw::RawReply,
    mut changed: Vec<String>,
    reason: &str,
    secrets: &crate::secrets::Detector,
) -> BuiltEntry {
    secrets.redact_json(&mut stored, stored::FIELD, &mut changed);
    let mut warnings = Vec::new();
    if !changed.is_empty() {
        tracing::warn!(fields = ?changed, "credential-shaped values redacted from a raw recording");
        warnings.push(format!(
            "credential-shaped values redacted at {}",
            changed.join(", ")
        ));
    }
    let mut matcher = Map::new();
    matcher.insert("method".into(), key.method.clone().into());
    let (p, n) = secrets.redact(&key.path);
    if n > 0 {
        warnings.push("credential-shaped values redacted at match.path".into());
    }
    matcher.insert("path".into(), p.into_owned().into());
    matcher.insert("bodyDigest".into(), key.digest.clone().into());
    let mut entry = Map::new();
    entry.insert("match".into(), Value::Object(matcher));
    entry.insert("response".into(), raw.to_json());
    entry.insert("_raw".into(), reason.into());
    if !stored.is_null() {
        entry.insert(stored::FIELD.into(), stored);
    }
    BuiltEntry {
        entry: Value::Object(entry),
        empty: false,
        warnings,
    }
}

/// Save one exchange raw: its key, its reply as captured (credentials redacted), and
/// why it is raw.
fn save_raw(
    surface: &Surface,
    key: RawKey,
    stored: Value,
    reply: Reply<'_>,
    reason: String,
    ctx: &SaveContext<'_>,
) {
    let mut changed = Vec::new();
    let raw = raw::reply(
        reply.status,
        reply.headers,
        &reply.cap.body,
        &reply.cap.chunks,
        reply.cap.stream,
        ctx.secrets,
        &mut changed,
    );
    let built = raw_entry(&key, stored, raw, changed, &reason, ctx.secrets);
    // Raw recordings of one provider share a file beside its editable ones.
    let path = writer::recording_path(
        &ctx.config.record_dir,
        &format!("{}-raw", surface.provider()),
        crate::request::DEFAULT_TEST_ID,
    );
    tracing::info!(provider = surface.provider(), method = %key.method, path = %key.path, %reason, "saving the exchange raw (not editable)");
    register_and_write(built.entry, path, true, built.warnings, ctx);
}

/// Serve a recorded entry at once (unless `serve` is false) and append it to its
/// cassette off the request path. Returns the fixture served, if it is.
fn register_and_write(
    entry: Value,
    path: std::path::PathBuf,
    serve: bool,
    warnings: Vec<String>,
    ctx: &SaveContext<'_>,
) -> Option<Arc<crate::cassette::Fixture>> {
    let n = ctx.counter.fetch_add(1, Ordering::Relaxed);
    let mut served = None;
    if serve {
        // Serve it at once: the next identical request must not go upstream again.
        let mut findings = Vec::new();
        let label: Arc<str> = Arc::from(format!("{} (recorded)", path.display()));
        match parse_entry(&entry, &label, n, &mut findings) {
            Some(fx) => {
                let fx = Arc::new(fx);
                ctx.store.add_runtime(vec![fx.clone()]);
                served = Some(fx);
            }
            None => tracing::warn!(
                ?findings,
                "recorded fixture does not validate; written but not served"
            ),
        }
    }
    for w in &warnings {
        tracing::warn!(file = %path.display(), "{w}");
    }
    // Off the request path: reading and rewriting the cassette can take milliseconds.
    let background = ctx.writes.clone();
    let writes = ctx.writes.clone();
    let write = move || {
        let ok = match writes.writer.append_fixture(&path, entry, &warnings) {
            Ok(i) => {
                tracing::info!(file = %path.display(), index = i, "recorded a fixture");
                true
            }
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "cannot write recording");
                false
            }
        };
        writes.done(ok);
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        background.writer.in_background(Box::new(write));
    } else {
        write();
    }
    served
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_path_prefix_and_query_are_kept() {
        let base: Uri = "https://gw.example/llm".parse().unwrap();
        assert_eq!(
            Recorder::upstream_uri(&base, "/v1/chat/completions?x=1")
                .unwrap()
                .to_string(),
            "https://gw.example/llm/v1/chat/completions?x=1"
        );
        let base: Uri = "http://127.0.0.1:9/".parse().unwrap();
        assert_eq!(
            Recorder::upstream_uri(&base, "/v1/messages")
                .unwrap()
                .to_string(),
            "http://127.0.0.1:9/v1/messages"
        );
    }

    #[test]
    fn control_and_hop_by_hop_headers_are_not_forwarded_but_credentials_are() {
        for h in [
            "host",
            "content-length",
            "cookie",
            "x-test-id",
            "x-aimock-strict",
            "x-aimock-chaos-drop",
            "connection",
        ] {
            assert!(is_stripped_request_header(h), "{h}");
        }
        for h in [
            "authorization",
            "x-api-key",
            "anthropic-version",
            "x-goog-api-key",
        ] {
            assert!(!is_stripped_request_header(h), "{h}");
        }
    }
}

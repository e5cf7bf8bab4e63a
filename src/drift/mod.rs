//! `aimock drift`: is what aimock serves still what the provider sends?
//!
//! For every fixture with a stored request (`recordedRequest`, see `record::stored`),
//! the request is sent twice: to the real upstream (the `--provider-*` URL, with the
//! credentials of the environment or `--header`), and to an aimock serving the same
//! cassettes in process (strict, on 127.0.0.1, port 0), which renders the fixture as a
//! client would get it. The two replies' shapes are compared (`shape`): key paths and
//! JSON types, streams event by event by type. Nothing is written.
//!
//! Requests go out with bounded concurrency (`--concurrency`), an optional rate limit
//! (`--rate` per second) and a deadline per request (`--upstream-timeout-ms`). An
//! upstream that is down, times out or answers an error, and a stored request that does
//! not read, are reported for that fixture and never stop the run.
//!
//! Nothing is written, unless `--rerecord` asks for stale recordings to be replaced
//! (`rerecord`).
//!
//! Rejected: rendering the fixture by calling the provider's renderer directly. Going
//! through a real aimock exercises exactly what a client gets (routing, matching,
//! normalisation, streaming), and needs no second path to keep in step.

pub mod rerecord;
pub mod shape;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

use crate::record::stored::{StoredRequest, FIELD};
use crate::secrets::REDACTED;
use shape::{Difference, Level, Shape};

/// What to check and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Cassette files or directories, in load order.
    pub sources: Vec<PathBuf>,
    /// Provider name to upstream base URL.
    pub upstreams: BTreeMap<String, Uri>,
    /// Only fixtures whose label (`file #i METHOD path`) or `match.userMessage` this
    /// matches.
    pub only: Option<regex::Regex>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests started per second, at most.
    pub rate: Option<f64>,
    /// Deadline per request (head and body).
    pub timeout: Duration,
    /// Headers added to every upstream request (credentials), after the environment's.
    pub headers: Vec<(String, String)>,
    /// The normalisation rules the cassettes were recorded with.
    pub normalize: Arc<crate::normalize::Normalizer>,
    /// Replace stale recordings with fresh ones (`rerecord`).
    pub rerecord: bool,
    /// What fresh recordings are scanned with (the config file's `secrets` too).
    pub secrets: Arc<crate::secrets::Detector>,
}

/// What became of one fixture.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Both replies came back and were compared.
    Compared(Vec<Difference>),
    /// It could not be compared (the upstream failed, the stored request is bad, ...).
    Error(String),
    /// Not resent, and why.
    Skipped(String),
}

/// One fixture's result.
#[derive(Debug, Clone, PartialEq)]
pub struct FixtureReport {
    /// The cassette file.
    pub file: PathBuf,
    /// Index in its `fixtures` array.
    pub index: usize,
    /// The stored request's method and path (empty when it did not read).
    pub method: String,
    /// See `method`.
    pub path: String,
    /// What happened.
    pub outcome: Outcome,
    /// Replaced by a fresh recording (`--rerecord`).
    pub rerecorded: bool,
}

/// The whole run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Every fixture with a stored request that `--only` picked, in load order.
    pub fixtures: Vec<FixtureReport>,
    /// Fixtures without a stored request (written by hand): never resent.
    pub without_request: usize,
    /// Problems re-recording (a file that could not be rewritten, ...).
    pub rerecord_problems: Vec<String>,
}

impl Report {
    fn count(&self, level: Level) -> usize {
        self.fixtures
            .iter()
            .map(|f| match &f.outcome {
                Outcome::Compared(d) => d.iter().filter(|d| d.level == level).count(),
                _ => 0,
            })
            .sum()
    }

    fn outcomes(&self, pick: fn(&Outcome) -> bool) -> usize {
        self.fixtures.iter().filter(|f| pick(&f.outcome)).count()
    }

    /// Critical differences in all.
    pub fn critical(&self) -> usize {
        self.count(Level::Critical)
    }

    /// Fixtures that could not be compared.
    pub fn errors(&self) -> usize {
        self.outcomes(|o| matches!(o, Outcome::Error(_)))
    }

    /// 1 when anything is critical or could not be checked, else 0.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.critical() > 0 || self.errors() > 0)
    }

    /// The readable report.
    pub fn write_text(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        for f in &self.fixtures {
            let head = format!("{} #{} {} {}", f.file.display(), f.index, f.method, f.path);
            let head = if f.rerecorded {
                format!("{head} (re-recorded)")
            } else {
                head
            };
            match &f.outcome {
                Outcome::Compared(d) if d.is_empty() => writeln!(out, "{head}: same shape")?,
                Outcome::Compared(d) => {
                    writeln!(out, "{head}:")?;
                    for x in d {
                        writeln!(out, "  {:<8}  {}: {}", x.level.as_str(), x.path, x.message)?;
                    }
                }
                Outcome::Error(e) => writeln!(out, "{head}: error: {e}")?,
                Outcome::Skipped(why) => writeln!(out, "{head}: skipped: {why}")?,
            }
        }
        for p in &self.rerecord_problems {
            writeln!(out, "rerecord: {p}")?;
        }
        let rerecorded = self.fixtures.iter().filter(|f| f.rerecorded).count();
        if rerecorded > 0 {
            writeln!(out, "drift: {rerecorded} stale recording(s) replaced")?;
        }
        writeln!(
            out,
            "drift: {} fixture(s) compared: {} critical, {} warning(s), {} info; {} error(s), {} skipped, {} without a stored request",
            self.outcomes(|o| matches!(o, Outcome::Compared(_))),
            self.critical(),
            self.count(Level::Warning),
            self.count(Level::Info),
            self.errors(),
            self.outcomes(|o| matches!(o, Outcome::Skipped(_))),
            self.without_request
        )
    }

    /// The report for machines.
    pub fn to_json(&self) -> Value {
        let fixtures: Vec<Value> = self
            .fixtures
            .iter()
            .map(|f| {
                let mut o = json!({
                    "file": f.file.display().to_string(),
                    "index": f.index,
                    "method": f.method,
                    "path": f.path,
                    "rerecorded": f.rerecorded,
                });
                match &f.outcome {
                    Outcome::Compared(d) => {
                        o["outcome"] = "compared".into();
                        o["findings"] = d
                            .iter()
                            .map(|x| json!({"level": x.level.as_str(), "path": x.path, "message": x.message}))
                            .collect();
                    }
                    Outcome::Error(e) => {
                        o["outcome"] = "error".into();
                        o["error"] = e.clone().into();
                    }
                    Outcome::Skipped(s) => {
                        o["outcome"] = "skipped".into();
                        o["reason"] = s.clone().into();
                    }
                }
                o
            })
            .collect();
        json!({
            "fixtures": fixtures,
            "summary": {
                "compared": self.outcomes(|o| matches!(o, Outcome::Compared(_))),
                "critical": self.critical(),
                "warning": self.count(Level::Warning),
                "info": self.count(Level::Info),
                "errors": self.errors(),
                "skipped": self.outcomes(|o| matches!(o, Outcome::Skipped(_))),
                "withoutRequest": self.without_request,
                "rerecorded": self.fixtures.iter().filter(|f| f.rerecorded).count(),
                "rerecordProblems": self.rerecord_problems,
            }
        })
    }
}

/// One fixture to resend.
struct Job {
    file: PathBuf,
    index: usize,
    stored: Result<StoredRequest, String>,
    /// The fixture's own `response.status`, when it is an error fixture.
    fixture_status: Option<u64>,
    /// A raw exchange (`_raw`): compared, never re-recorded.
    raw: bool,
}

/// Every fixture of `sources` with a stored request that `only` picks, and how many
/// have none.
fn jobs(sources: &[PathBuf], only: Option<&regex::Regex>) -> (Vec<Job>, usize, Vec<String>) {
    let mut out = Vec::new();
    let mut without = 0;
    let mut problems = Vec::new();
    for src in sources {
        for path in crate::cassette::load::list_files(src) {
            let doc = match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()))
            {
                Ok(d) => d,
                Err(e) => {
                    problems.push(format!("{}: cannot read: {e}", path.display()));
                    continue;
                }
            };
            let Some(list) = doc.get("fixtures").and_then(Value::as_array) else {
                continue;
            };
            for (index, entry) in list.iter().enumerate() {
                let Some(stored) = entry.get(FIELD) else {
                    without += 1;
                    continue;
                };
                let stored = StoredRequest::from_json(stored).map_err(|e| format!("{FIELD}: {e}"));
                if let Some(re) = only {
                    let (m, p) = stored
                        .as_ref()
                        .map(|s| (s.method.as_str(), s.path.as_str()))
                        .unwrap_or(("", ""));
                    let label = format!("{} #{index} {m} {p}", path.display());
                    let user = entry
                        .pointer("/match/userMessage")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if !re.is_match(&label) && !re.is_match(user) {
                        continue;
                    }
                }
                out.push(Job {
                    file: path.clone(),
                    index,
                    stored,
                    fixture_status: entry.pointer("/response/status").and_then(Value::as_u64),
                    raw: entry.get("_raw").is_some(),
                });
            }
        }
    }
    (out, without, problems)
}

/// The credentials the environment holds for `provider`, as the provider's header.
fn env_credentials(provider: &str) -> Vec<(String, String)> {
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
    };
    let (header, value) = match provider {
        "openai" => (
            "authorization",
            var(&["OPENAI_API_KEY"]).map(|k| format!("Bearer {k}")),
        ),
        "azure" => ("api-key", var(&["AZURE_OPENAI_API_KEY"])),
        "anthropic" => ("x-api-key", var(&["ANTHROPIC_API_KEY"])),
        "gemini" => ("x-goog-api-key", var(&["GEMINI_API_KEY", "GOOGLE_API_KEY"])),
        "cohere" => (
            "authorization",
            var(&["CO_API_KEY", "COHERE_API_KEY"]).map(|k| format!("Bearer {k}")),
        ),
        "tavily" => (
            "authorization",
            var(&["TAVILY_API_KEY"]).map(|k| format!("Bearer {k}")),
        ),
        _ => ("", None),
    };
    value
        .map(|v| vec![(header.to_string(), v)])
        .unwrap_or_default()
}

/// The stored path without the query parameters the recorder masked (their real
/// values were credentials, which come from the environment or `--header` instead).
fn resend_path(p: &str) -> String {
    let Some((path, q)) = p.split_once('?') else {
        return p.to_string();
    };
    let kept: Vec<&str> = q
        .split('&')
        .filter(|kv| kv.split_once('=').map(|(_, v)| v) != Some(REDACTED))
        .filter(|kv| !kv.is_empty())
        .collect();
    if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// The largest reply read from either side.
const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;

/// The most requests in flight, whatever `--concurrency` says.
pub const MAX_CONCURRENCY: usize = 256;

/// A reply as read: status, content type, body.
struct Got {
    status: u16,
    content_type: String,
    body: Bytes,
}

async fn send(
    client: &crate::record::HttpsClient,
    uri: Uri,
    req: &StoredRequest,
    extra: &[(String, String)],
    timeout: Duration,
) -> Result<Got, String> {
    let mut b = http::Request::builder()
        .method(req.method.as_str())
        .uri(uri);
    let mut has_ct = false;
    for (k, v) in req.headers.iter().chain(extra) {
        has_ct |= k == "content-type";
        b = b.header(k.as_str(), v.as_str());
    }
    let body = match &req.body {
        Some(v) => {
            if !has_ct {
                b = b.header("content-type", "application/json");
            }
            Bytes::from(serde_json::to_vec(v).map_err(|e| e.to_string())?)
        }
        None => Bytes::new(),
    };
    let request = b.body(Full::new(body)).map_err(|e| e.to_string())?;
    let work = async {
        let resp = client.request(request).await.map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            format!("the request failed: {e}{cause}")
        })?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        // Bounded: a runaway reply must not take the run's memory with it.
        let body = http_body_util::Limited::new(resp.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .map_err(|e| format!("the reply broke off or passed {MAX_REPLY_BYTES} bytes: {e}"))?
            .to_bytes();
        Ok(Got {
            status,
            content_type,
            body,
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("no complete reply within {timeout:?}"))?
}

fn snippet(b: &[u8]) -> String {
    crate::request::truncate(String::from_utf8_lossy(b).trim(), 160)
}

/// Waits so that requests start no faster than the rate allows.
struct Pace {
    every: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Pace {
    async fn wait(&self) {
        let mut next = self.next.lock().await;
        let now = tokio::time::Instant::now();
        if *next > now {
            tokio::time::sleep_until(*next).await;
        }
        *next = (*next).max(now) + self.every;
    }
}

/// Check every picked fixture. Errors only when the in-process aimock cannot start.
pub async fn run(opts: Options) -> anyhow::Result<Report> {
    let (jobs, without_request, problems) = jobs(&opts.sources, opts.only.as_ref());
    let mut report = Report {
        without_request,
        ..Report::default()
    };
    for p in problems {
        report.fixtures.push(FixtureReport {
            file: PathBuf::from(p.split(": ").next().unwrap_or("")),
            index: 0,
            method: String::new(),
            path: String::new(),
            outcome: Outcome::Error(p),
            rerecorded: false,
        });
    }
    if jobs.is_empty() {
        return Ok(report);
    }
    // The aimock that renders the fixtures: the same cassettes, strict, in process.
    let mut config = crate::config::Config::for_tests(opts.sources.clone());
    config.strict = true;
    config.normalize = opts.normalize.clone();
    config.secrets = opts.secrets.clone();
    let render = Local::start(config, "the aimock that renders the fixtures").await?;
    let addr = render.addr;
    // With --rerecord, the aimock that records the live replies, over an empty directory.
    let rec_dir = std::env::temp_dir().join(format!(
        "aimock-drift-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let recorder = if opts.rerecord {
        std::fs::create_dir_all(&rec_dir)?;
        Some(
            Local::start(
                rerecord::config(&rec_dir, &opts),
                "the aimock that re-records",
            )
            .await?,
        )
    } else {
        None
    };
    let rec_addr = recorder.as_ref().map(|r| r.addr);
    let client = crate::record::https_client()?;
    let pace = opts.rate.filter(|r| *r > 0.0).map(|r| {
        Arc::new(Pace {
            every: Duration::from_secs_f64(1.0 / r),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        })
    });
    let permits = Arc::new(tokio::sync::Semaphore::new(
        opts.concurrency.clamp(1, MAX_CONCURRENCY),
    ));
    let opts = Arc::new(opts);
    let mut set = tokio::task::JoinSet::new();
    for (n, job) in jobs.into_iter().enumerate() {
        let (client, permits, pace, opts) =
            (client.clone(), permits.clone(), pace.clone(), opts.clone());
        set.spawn(async move {
            let _permit = permits.acquire_owned().await.ok();
            let raw = job.raw;
            let (fr, provider) =
                check_one(n, job, &client, (addr, rec_addr), pace.as_deref(), &opts).await;
            (n, fr, provider, raw)
        });
    }
    let mut done = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(x) => done.push(x),
            Err(e) => tracing::error!(error = %e, "a drift check panicked"),
        }
    }
    done.sort_by_key(|(n, ..)| *n);
    render.stop().await;
    if let Some(r) = recorder {
        // Stopping flushes every recording to the temporary directory.
        r.stop().await;
        let mut fresh = BTreeMap::new();
        let mut stale = Vec::new();
        for (n, f, provider, raw) in &done {
            let Outcome::Compared(d) = &f.outcome else {
                continue;
            };
            if *raw || !d.iter().any(|d| d.level >= Level::Warning) {
                continue;
            }
            match provider.and_then(|p| rerecord::fresh_entry(&rec_dir, p, *n)) {
                Some(e) => {
                    fresh.insert((f.file.clone(), f.index), e);
                    stale.push((f.file.clone(), f.index));
                }
                None => report.rerecord_problems.push(format!(
                    "{} #{}: no fresh recording was made",
                    f.file.display(),
                    f.index
                )),
            }
        }
        let written = rerecord::write_back(fresh, &mut report.rerecord_problems);
        if written > 0 {
            for (_, f, ..) in &mut done {
                let key = (f.file.clone(), f.index);
                // A file that could not be rewritten is named in the problems.
                f.rerecorded = stale.contains(&key)
                    && !report
                        .rerecord_problems
                        .iter()
                        .any(|p| p.starts_with(&f.file.display().to_string()));
            }
        }
        let _ = std::fs::remove_dir_all(&rec_dir);
    }
    report.fixtures.extend(done.into_iter().map(|(_, f, ..)| f));
    Ok(report)
}

/// An aimock run in process for the drift run: its address, and how to stop it.
struct Local {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Local {
    async fn start(config: crate::config::Config, what: &'static str) -> anyhow::Result<Local> {
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(crate::app::run_with(
            config,
            crate::server::Mounts::default(),
            async move {
                let _ = stop_rx.await;
            },
            move |r| {
                let _ = ready_tx.send(r.addr);
            },
        ));
        match ready_rx.await {
            Ok(addr) => Ok(Local { addr, stop, task }),
            Err(_) => Err(match task.await {
                Ok(Err(e)) => e.context(format!("cannot start {what}")),
                _ => anyhow::anyhow!("cannot start {what}"),
            }),
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn check_one(
    n: usize,
    job: Job,
    client: &crate::record::HttpsClient,
    addrs: (std::net::SocketAddr, Option<std::net::SocketAddr>),
    pace: Option<&Pace>,
    opts: &Options,
) -> (FixtureReport, Option<&'static str>) {
    let mut fr = FixtureReport {
        file: job.file,
        index: job.index,
        method: String::new(),
        path: String::new(),
        outcome: Outcome::Skipped(String::new()),
        rerecorded: false,
    };
    let stored = match job.stored {
        Ok(s) => s,
        Err(e) => {
            fr.outcome = Outcome::Error(e);
            return (fr, None);
        }
    };
    fr.method = stored.method.clone();
    fr.path = stored.path.clone();
    let (outcome, provider) =
        compare_one(n, &stored, job.fixture_status, client, addrs, pace, opts).await;
    fr.outcome = outcome;
    (fr, provider)
}

async fn compare_one(
    n: usize,
    stored: &StoredRequest,
    fixture_status: Option<u64>,
    client: &crate::record::HttpsClient,
    (addr, rec_addr): (std::net::SocketAddr, Option<std::net::SocketAddr>),
    pace: Option<&Pace>,
    opts: &Options,
) -> (Outcome, Option<&'static str>) {
    let provider = match provider_of(stored) {
        Ok(p) => p,
        Err(o) => return (o, None),
    };
    let outcome = compare_with(
        n,
        stored,
        fixture_status,
        provider,
        client,
        (addr, rec_addr),
        pace,
        opts,
    )
    .await;
    (outcome, Some(provider))
}

/// The provider aimock serves the stored request's path as.
fn provider_of(stored: &StoredRequest) -> Result<&'static str, Outcome> {
    let method = http::Method::from_bytes(stored.method.as_bytes()).unwrap_or(http::Method::POST);
    let bare = stored.path.split('?').next().unwrap_or("");
    match crate::server::router::route(&method, bare) {
        crate::server::router::Route::Provider(s) => Ok(s.provider()),
        _ => Err(Outcome::Error(format!(
            "aimock serves no provider at {method} {bare}"
        ))),
    }
}

#[allow(clippy::too_many_arguments)]
async fn compare_with(
    n: usize,
    stored: &StoredRequest,
    fixture_status: Option<u64>,
    provider: &'static str,
    client: &crate::record::HttpsClient,
    (addr, rec_addr): (std::net::SocketAddr, Option<std::net::SocketAddr>),
    pace: Option<&Pace>,
    opts: &Options,
) -> Outcome {
    let method = http::Method::from_bytes(stored.method.as_bytes()).unwrap_or(http::Method::POST);
    if provider == "bedrock" {
        return Outcome::Skipped(
            "Bedrock requests need AWS SigV4 signing, which drift does not do".into(),
        );
    }
    let Some(base) = opts.upstreams.get(provider) else {
        return Outcome::Skipped(format!(
            "no upstream for {provider} (--provider-{provider} URL)"
        ));
    };
    if stored.body.is_none() && method == http::Method::POST {
        return Outcome::Skipped(
            "the stored request has no JSON body (an upload?): it cannot be resent".into(),
        );
    }
    let path = resend_path(&stored.path);
    // With --rerecord the live request goes through the recording aimock, which
    // forwards it upstream and relays the reply byte for byte.
    let live_uri = match rec_addr {
        Some(a) => format!("http://{a}{path}").parse::<Uri>().ok(),
        None => crate::record::Recorder::upstream_uri(base, &path),
    };
    let Some(live_uri) = live_uri else {
        return Outcome::Error(format!(
            "cannot build the upstream URL from {base} and {path}"
        ));
    };
    let Ok(render_uri) = format!("http://{addr}{path}").parse::<Uri>() else {
        return Outcome::Error(format!("cannot build a URL from {path}"));
    };
    // Our render first: it is local and tells whether the fixture answers at all.
    let scope = vec![("x-test-id".to_string(), format!("aimock-drift-{n}"))];
    let ours = match send(client, render_uri, stored, &scope, opts.timeout).await {
        Ok(g) => g,
        Err(e) => return Outcome::Error(format!("aimock's own render failed: {e}")),
    };
    let miss = ours.status == 503
        && fixture_status != Some(503)
        && String::from_utf8_lossy(&ours.body).contains("No fixture matched");
    if miss {
        return Outcome::Error(
            "aimock has no answer for the stored request (did it record with other --normalize rules, or is it shadowed?)".into(),
        );
    }
    if let Some(p) = pace {
        p.wait().await;
    }
    let mut extra = env_credentials(provider);
    extra.extend(opts.headers.iter().cloned());
    if rec_addr.is_some() {
        extra.push(("x-test-id".into(), rerecord::test_id(n)));
    }
    let live = match send(client, live_uri, stored, &extra, opts.timeout).await {
        Ok(g) => g,
        Err(e) => return Outcome::Error(format!("upstream {provider}: {e}")),
    };
    if live.status >= 400 && ours.status < 400 {
        return Outcome::Error(format!(
            "upstream {provider} answered {}: {}",
            live.status,
            snippet(&live.body)
        ));
    }
    let live_shape = Shape::of(live.status, &live.content_type, &live.body);
    let our_shape = Shape::of(ours.status, &ours.content_type, &ours.body);
    Outcome::Compared(shape::compare(&live_shape, &our_shape))
}

/// `PATHS` as given, or the default cassette directory.
pub fn sources_or_default(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![Path::new(crate::config::DEFAULT_CASSETTES).to_path_buf()]
    } else {
        paths.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts are spaced by the rate, measured on the paused clock.
    #[tokio::test(start_paused = true)]
    async fn the_pace_spaces_request_starts_by_the_rate() {
        let pace = Pace {
            every: Duration::from_millis(100),
            next: tokio::sync::Mutex::new(tokio::time::Instant::now()),
        };
        let start = tokio::time::Instant::now();
        for _ in 0..4 {
            pace.wait().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(300));
    }

    #[test]
    fn masked_query_parameters_are_left_out_of_a_resend() {
        assert_eq!(
            resend_path("/v1beta/models/m:streamGenerateContent?alt=sse&key=[REDACTED]"),
            "/v1beta/models/m:streamGenerateContent?alt=sse"
        );
        assert_eq!(resend_path("/v1/x?key=[REDACTED]"), "/v1/x");
        assert_eq!(resend_path("/v1/x"), "/v1/x");
    }
}

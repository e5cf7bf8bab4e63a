//! Test harness: an in-process aimock on 127.0.0.1:0 and a tiny HTTP client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aimock::cassette::{FixtureStore, MatchMode};
use aimock::config::Config;
use aimock::request::{ChatRequest, Endpoint, Message, Role};
use aimock::server::AppState;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::oneshot;

/// A running server; shuts down when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    #[allow(dead_code)]
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start(config: Config) -> TestServer {
        Self::try_start(config).await.expect("server starts")
    }

    pub async fn try_start(config: Config) -> anyhow::Result<TestServer> {
        Self::try_start_with(config, aimock::server::Mounts::default()).await
    }

    /// A server with WebSocket handlers or services mounted.
    #[allow(dead_code)]
    pub async fn start_with(config: Config, mounts: aimock::server::Mounts) -> TestServer {
        Self::try_start_with(config, mounts)
            .await
            .expect("server starts")
    }

    pub async fn try_start_with(
        config: Config,
        mounts: aimock::server::Mounts,
    ) -> anyhow::Result<TestServer> {
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(aimock::app::run_with(
            config,
            mounts,
            async move {
                let _ = stop_rx.await;
            },
            move |r| {
                let _ = ready_tx.send((r.addr, r.state.clone()));
            },
        ));
        match ready_rx.await {
            Ok((addr, state)) => Ok(TestServer {
                addr,
                state,
                stop: Some(stop_tx),
                task: Some(task),
            }),
            Err(_) => Err(task
                .await
                .expect("task joins")
                .expect_err("run failed before ready")),
        }
    }

    pub async fn with_fixtures(dir: &Path) -> TestServer {
        Self::start(Config::for_tests(vec![dir.to_path_buf()])).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
        request("POST", &self.url(path), body.as_bytes().to_vec(), headers).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        request("GET", &self.url(path), Vec::new(), &[]).await
    }

    /// Stop and hand back what `app::run` returned (the unused report's verdict).
    #[allow(dead_code)]
    pub async fn finish(mut self) -> anyhow::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.task.take() {
            Some(t) => t.await.expect("joins"),
            None => Ok(()),
        }
    }

    /// POST a JSON body and return the response with its body unread, to read a stream
    /// frame by frame.
    #[allow(dead_code)]
    pub async fn post_streaming(&self, path: &str, body: &str) -> http::Response<Incoming> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let req = http::Request::post(path)
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("request");
        sender.send_request(req).await.expect("response head")
    }

    /// The text an OpenAI chat call with one user message gets, or `None` on an
    /// error status.
    #[allow(dead_code)]
    pub async fn answer(&self, user: &str) -> Option<String> {
        let body =
            serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": user}]});
        let r = self
            .post("/v1/chat/completions", &body.to_string(), &[])
            .await;
        (r.status == 200).then(|| {
            r.json()["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
    }

    #[allow(dead_code)]
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("joins").expect("clean shutdown");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// What came back: status, headers, and the body (or the error that cut it).
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Result<Bytes, String>,
}

impl Reply {
    pub fn bytes(&self) -> &Bytes {
        self.body.as_ref().expect("body read completely")
    }
    pub fn text(&self) -> String {
        String::from_utf8(self.bytes().to_vec()).expect("utf-8 body")
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(self.bytes()).expect("json body")
    }
}

pub async fn request(method: &str, url: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut b = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    if !body.is_empty() {
        b = b.header("content-type", "application/json");
    }
    let resp = client
        .request(b.body(Full::new(Bytes::from(body))).expect("request"))
        .await
        .expect("response head");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| format!("{e:?}"));
    Reply {
        status,
        headers,
        body,
    }
}

/// A temporary cassette directory.
pub struct FixtureDir {
    pub dir: tempfile::TempDir,
}

impl FixtureDir {
    pub fn new() -> FixtureDir {
        FixtureDir {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn with(name: &str, fixtures: serde_json::Value) -> FixtureDir {
        let d = FixtureDir::new();
        d.write(name, fixtures);
        d
    }

    pub fn write(&self, name: &str, fixtures: serde_json::Value) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).expect("mkdir");
        }
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(&serde_json::json!({ "fixtures": fixtures })).expect("json"),
        )
        .expect("write");
        path
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Decode an SSE body into its `data:` payloads.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|ev| {
            ev.lines()
                .find_map(|l| l.strip_prefix("data: "))
                .map(String::from)
        })
        .collect()
}

/// How long a test waits for something that should happen within milliseconds.
#[allow(dead_code)]
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// Poll `cond` every 5 ms until it holds, failing the test after [`DEADLINE`]. For
/// waiting on a reload: never a fixed sleep.
#[allow(dead_code)]
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting until {what}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// The text `store` would answer a chat request with one user message with, now.
#[allow(dead_code)]
pub fn store_answer(store: &FixtureStore, text: &str) -> Option<String> {
    let mut r = ChatRequest::new(Endpoint::Chat, b"");
    r.messages.push(Message::text(Role::User, text));
    let found = store.find(&r, MatchMode::default());
    match &found.fixture()?.reply {
        aimock::cassette::Reply::Chat(c) => c.text(),
        _ => None,
    }
}

/// Every chat text in `store`'s current set, in load order.
#[allow(dead_code)]
pub fn texts(store: &FixtureStore) -> Vec<String> {
    store
        .snapshot()
        .fixtures()
        .iter()
        .filter_map(|f| match &f.reply {
            aimock::cassette::Reply::Chat(c) => c.text(),
            _ => None,
        })
        .collect()
}

/// Cassette JSON with one fixture per `(userMessage, content)` pair, pretty-printed.
#[allow(dead_code)]
pub fn cassette(pairs: &[(&str, &str)]) -> String {
    let list: Vec<serde_json::Value> = pairs
        .iter()
        .map(|(u, c)| serde_json::json!({"match": {"userMessage": u}, "response": {"content": c}}))
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "fixtures": list })).expect("json")
}

/// Write `text` to `dir/name`, creating parent directories.
#[allow(dead_code)]
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&p, text).expect("write");
    p
}

/// A record-mode configuration: cassettes read from `dir`, recordings written under
/// `dir/recorded`, each of `providers` forwarded to the upstream at `base`, 5 s upstream
/// timeouts and a 1 MiB capture limit. Tests that need another value set it on the result.
pub fn recording(dir: &Path, providers: &[&str], base: &str) -> Config {
    let mut c = Config::for_tests(vec![dir.to_path_buf()]);
    let upstreams = providers
        .iter()
        .map(|p| {
            let upstream = aimock::config::record::parse_base(p, base)
                .unwrap_or_else(|e| panic!("upstream {base} for {p}: {e}"));
            (p.to_string(), upstream)
        })
        .collect();
    c.record = Some(aimock::config::record::RecordConfig {
        upstreams,
        proxy_only: false,
        head_timeout: std::time::Duration::from_secs(5),
        idle_timeout: std::time::Duration::from_secs(5),
        max_capture_bytes: 1 << 20,
        record_dir: dir.join("recorded"),
        full_model_version: false,
    });
    c
}

/// Wait (bounded, 10 s) until the cassette at `path` holds one fixture and return it;
/// recordings are written off the request path.
pub async fn recorded_fixture(path: &Path) -> serde_json::Value {
    for _ in 0..500 {
        if let Ok(bytes) = std::fs::read(path) {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                if v["fixtures"].as_array().map(Vec::len) == Some(1) {
                    return v["fixtures"][0].clone();
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{} never held a fixture", path.display());
}

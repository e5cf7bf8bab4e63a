//! Test harness: an in-process server on 127.0.0.1:0, a tiny HTTP client, cassette
//! directories, and polling with a generous deadline (never a fixed sleep).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use aimock::config::Config;
use aimock::fixtures::{FixtureStore, MatchMode, Reply};
use aimock::request::{ChatRequest, Endpoint, Message, Role};

/// How long a test waits for something that should happen within milliseconds.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A server started with `aimock::app::run`, stopped by [`TestServer::stop`].
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its live fixture store.
    pub store: FixtureStore,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    /// Start on 127.0.0.1:0 with `config` (its port is ignored).
    pub async fn start(mut config: Config) -> TestServer {
        config.port = 0;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(aimock::app::run(
            config,
            async {
                let _ = stop_rx.await;
            },
            move |r| {
                let _ = ready_tx.send((r.addr, r.state.store.clone()));
            },
        ));
        let (addr, store) = ready_rx.await.expect("server started");
        TestServer {
            addr,
            store,
            stop: Some(stop_tx),
            task,
        }
    }

    /// Stop and return what `run` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        (&mut self.task).await.expect("server task did not panic")
    }

    /// POST a JSON body and return the response with its body unread.
    pub async fn post(&self, path: &str, body: &str) -> http::Response<Incoming> {
        let stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = http::Request::post(path)
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        sender.send_request(req).await.unwrap()
    }

    /// A non-streaming OpenAI chat call with one user message: (status, body JSON).
    pub async fn chat(&self, user: &str) -> (u16, serde_json::Value) {
        let body =
            serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": user}]});
        let resp = self.post("/v1/chat/completions", &body.to_string()).await;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// The text the server answers `user` with, or `None` on any error status.
    pub async fn answer(&self, user: &str) -> Option<String> {
        let (status, v) = self.chat(user).await;
        (status == 200).then(|| {
            v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
    }
}

/// Poll `cond` every 5 ms until it holds, failing the test after [`DEADLINE`].
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A chat request with one user message.
pub fn user(text: &str) -> ChatRequest {
    let mut r = ChatRequest::new(Endpoint::Chat, b"");
    r.messages.push(Message::text(Role::User, text));
    r
}

/// The text the store would answer `text` with right now.
pub fn answer(store: &FixtureStore, text: &str) -> Option<String> {
    let found = store.find(&user(text), MatchMode::default());
    match &found.fixture()?.reply {
        Reply::Chat(c) => c.text(),
        _ => None,
    }
}

/// Every chat text in the current set, in load order.
pub fn texts(store: &FixtureStore) -> Vec<String> {
    store
        .snapshot()
        .fixtures
        .iter()
        .filter_map(|f| match &f.reply {
            Reply::Chat(c) => c.text(),
            _ => None,
        })
        .collect()
}

/// Cassette JSON with one fixture per `(userMessage, content)` pair.
pub fn cassette(pairs: &[(&str, &str)]) -> String {
    let list: Vec<serde_json::Value> = pairs
        .iter()
        .map(|(u, c)| serde_json::json!({"match": {"userMessage": u}, "response": {"content": c}}))
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "fixtures": list })).unwrap()
}

/// Write `text` to `dir/name`, creating parent directories.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

//! A scripted fake provider on 127.0.0.1:0 for record-mode tests: serves canned bodies
//! (golden captures), in chunks with delays, or breaks on purpose.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// How the fake answers one path.
#[derive(Clone)]
pub struct Script {
    pub status: u16,
    pub content_type: &'static str,
    pub chunks: Vec<Bytes>,
    pub delay: Duration,
    /// After the chunks, cut the connection instead of ending the body.
    pub reset: bool,
    /// Extra response headers.
    pub headers: Vec<(&'static str, &'static str)>,
    /// How long to wait before sending the response head.
    pub head_delay: Duration,
}

impl Script {
    pub fn body(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Script {
        Script {
            status,
            content_type,
            chunks: vec![body.into()],
            delay: Duration::ZERO,
            reset: false,
            headers: vec![],
            head_delay: Duration::ZERO,
        }
    }

    /// Send the response head only after `delay`.
    pub fn head_after(mut self, delay: Duration) -> Script {
        self.head_delay = delay;
        self
    }

    /// Split into chunks of `n` bytes, `delay` apart.
    pub fn chunked(mut self, n: usize, delay: Duration) -> Script {
        let all: Vec<u8> = self.chunks.iter().flat_map(|c| c.to_vec()).collect();
        self.chunks = all.chunks(n.max(1)).map(Bytes::copy_from_slice).collect();
        self.delay = delay;
        self
    }
}

/// What the fake saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

pub struct FakeUpstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    scripts: Arc<Mutex<HashMap<String, Script>>>,
}

impl FakeUpstream {
    pub async fn start() -> FakeUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let scripts: Arc<Mutex<HashMap<String, Script>>> = Arc::default();
        let (seen2, scripts2) = (seen.clone(), scripts.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                // A reply's head and body go out as separate writes: without this,
                // Nagle holds the body back for the client's delayed ACK (~40 ms).
                let _ = stream.set_nodelay(true);
                let (seen, scripts) = (seen2.clone(), scripts2.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (seen, scripts) = (seen.clone(), scripts.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            let pq = parts
                                .uri
                                .path_and_query()
                                .map(|p| p.to_string())
                                .unwrap_or_default();
                            seen.lock().unwrap().push(Seen {
                                method: parts.method.to_string(),
                                path_and_query: pq.clone(),
                                headers: parts.headers.clone(),
                                body,
                            });
                            let script = scripts.lock().unwrap().get(parts.uri.path()).cloned();
                            let script = script.unwrap_or_else(|| {
                                Script::body(
                                    404,
                                    "application/json",
                                    r#"{"error":{"message":"fake has no script"}}"#,
                                )
                            });
                            if !script.head_delay.is_zero() {
                                tokio::time::sleep(script.head_delay).await;
                            }
                            Ok::<_, Infallible>(respond(script))
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        FakeUpstream {
            addr,
            seen,
            scripts,
        }
    }

    pub fn script(&self, path: &str, s: Script) {
        self.scripts.lock().unwrap().insert(path.to_string(), s);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

type Chunk = Result<hyper::body::Frame<Bytes>, std::io::Error>;

fn respond(
    s: Script,
) -> http::Response<http_body_util::combinators::BoxBody<Bytes, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    let chunks = s.chunks.clone();
    let (delay, reset) = (s.delay, s.reset);
    tokio::spawn(async move {
        for c in chunks {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if tx.send(Ok(hyper::body::Frame::data(c))).await.is_err() {
                return;
            }
        }
        if reset {
            let _ = tx.send(Err(std::io::Error::other("scripted reset"))).await;
        }
    });
    let mut b = http::Response::builder()
        .status(s.status)
        .header("content-type", s.content_type);
    for (k, v) in &s.headers {
        b = b.header(*k, *v);
    }
    b.body(BodyExt::boxed(ChannelBody(rx))).unwrap()
}

/// A body fed from a channel: each message is one frame, an `Err` cuts the connection.
struct ChannelBody(tokio::sync::mpsc::Receiver<Chunk>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Chunk>> {
        self.0.poll_recv(cx)
    }
}

//! A fake provider for the record-mode benchmark: answers OpenAI chat completions from
//! two captured bodies, so the time aimock adds in front of an upstream can be measured
//! on loopback without any network.
//!
//! A request whose body holds `"stream":true` gets the SSE capture, one event per body
//! frame with a short gap after each (so "time to the first event" differs from "time
//! to the last byte", as with a real model); any other request gets the JSON capture.
//!
//! Not a mock of OpenAI: it never looks at the request beyond that one flag.
//!
//! Usage: `fake_upstream JSON_FILE SSE_FILE [GAP_MS]`; binds 127.0.0.1:0 and prints
//! `listening on http://ADDR` once ready.

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::time::Sleep;

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

struct Replies {
    json: Bytes,
    events: Vec<Bytes>,
    gap: Duration,
}

async fn answer(replies: Arc<Replies>, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let body = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let streaming = memchr::memmem::find(&compact, b"\"stream\":true").is_some();
    if !streaming {
        return Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(replies.json.clone()).boxed())
            .expect("static parts form a valid response");
    }
    let events = Events {
        replies,
        next: 0,
        gap: None,
    };
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(events.boxed())
        .expect("static parts form a valid response")
}

/// The SSE reply: one event per frame, then a pause before the next.
struct Events {
    replies: Arc<Replies>,
    next: usize,
    gap: Option<Pin<Box<Sleep>>>,
}

impl http_body::Body for Events {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        if let Some(sleep) = this.gap.as_mut() {
            ready!(sleep.as_mut().poll(cx));
            this.gap = None;
        }
        let Some(ev) = this.replies.events.get(this.next) else {
            return Poll::Ready(None);
        };
        this.next += 1;
        this.gap = Some(Box::pin(tokio::time::sleep(this.replies.gap)));
        Poll::Ready(Some(Ok(Frame::data(ev.clone()))))
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(json), Some(sse)) = (args.next(), args.next()) else {
        eprintln!("usage: fake_upstream JSON_FILE SSE_FILE [GAP_MS]");
        std::process::exit(2);
    };
    let gap_ms: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let sse = std::fs::read(sse)?;
    let mut events = Vec::new();
    let mut start = 0;
    while let Some(k) = memchr::memmem::find(&sse[start..], b"\n\n") {
        events.push(Bytes::copy_from_slice(&sse[start..start + k + 2]));
        start += k + 2;
    }
    if start < sse.len() {
        events.push(Bytes::copy_from_slice(&sse[start..]));
    }
    let replies = Arc::new(Replies {
        json: Bytes::from(std::fs::read(json)?),
        events,
        gap: Duration::from_millis(gap_ms),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let replies = replies.clone();
        let svc = service_fn(move |req| {
            let replies = replies.clone();
            async move { Ok::<_, Infallible>(answer(replies, req).await) }
        });
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

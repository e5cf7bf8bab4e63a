//! The benchmark's ceiling: the least an HTTP/1.1 server on hyper can do per request.
//!
//! It reads the request body and answers every request with one fixed body, on the same
//! hyper, hyper-util and tokio set-up as aimock (multi-threaded runtime, auto connection
//! builder, `TCP_NODELAY`). `scripts/bench` runs the same load against it and against
//! aimock; the ratio says how much of hyper's speed aimock's own work leaves.
//!
//! Not a fixture server: no routing, no parsing, no matching.
//!
//! Usage: `ceiling BODY_FILE CONTENT_TYPE`; binds 127.0.0.1:0 and prints
//! `listening on http://ADDR` once ready.

use std::convert::Infallible;
use std::io::Write;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(content_type)) = (args.next(), args.next()) else {
        eprintln!("usage: ceiling BODY_FILE CONTENT_TYPE");
        std::process::exit(2);
    };
    let body = Bytes::from(std::fs::read(path)?);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (body, content_type) = (body.clone(), content_type.clone());
        let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
            let (body, content_type) = (body.clone(), content_type.clone());
            async move {
                // Read the request like a real server must, then answer.
                let _ = req.into_body().collect().await;
                let resp = Response::builder()
                    .header("content-type", content_type)
                    .body(Full::new(body))
                    .expect("static parts form a valid response");
                Ok::<_, Infallible>(resp)
            }
        });
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

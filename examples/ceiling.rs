//! The benchmark's ceiling: the least an HTTP/1.1 server on hyper can do per request.
//!
//! It reads the request body and answers every request with one fixed response, on the
//! same hyper, hyper-util and tokio set-up as aimock (multi-threaded runtime, auto
//! connection builder, `TCP_NODELAY`). `scripts/bench` runs the same load against it and
//! against aimock; the ratio says how much of hyper's speed aimock's own work leaves.
//!
//! Not a fixture server: no routing, no parsing, no matching, no journal.
//!
//! Usage: `ceiling BODY_FILE CONTENT_TYPE [HEADERS_FILE]`; binds 127.0.0.1:0 and prints
//! `listening on http://ADDR` once ready. HEADERS_FILE holds `name: value` lines sent
//! with every reply besides the content type: the bench passes the headers aimock sent
//! for the same request, so both servers put the same bytes on the wire and the ratio
//! counts only aimock's own work per request (hyper adds `date` and `content-length`
//! to both).

use std::convert::Infallible;
use std::io::Write;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

fn invalid(e: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(content_type)) = (args.next(), args.next()) else {
        eprintln!("usage: ceiling BODY_FILE CONTENT_TYPE [HEADERS_FILE]");
        std::process::exit(2);
    };
    let body = Bytes::from(std::fs::read(path)?);
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&content_type).map_err(invalid)?,
    );
    if let Some(extra) = args.next() {
        for line in std::fs::read_to_string(extra)?.lines() {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(invalid)?;
            headers.append(name, HeaderValue::from_str(value.trim()).map_err(invalid)?);
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (body, headers) = (body.clone(), headers.clone());
        let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
            let (body, headers) = (body.clone(), headers.clone());
            async move {
                // Read the request like a real server must, then answer.
                let _ = req.into_body().collect().await;
                let mut resp = Response::new(Full::new(body));
                *resp.headers_mut() = headers;
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

//! Forwarding for the agent-stack services and the vector databases in `aimock
//! record`: the real server a service's misses go to (`--upstream-mcp URL`,
//! `--upstream-vector URL`, ...), with the recorder's HTTP client
//! (`record::https_client`) and its timeouts and capture limit.
//!
//! Two ways back: [`Upstream::exchange`] reads a small reply whole (MCP, A2A
//! `SendMessage`), [`relay`] hands a stream to the client as it arrives and gives the
//! service the copy when it ends (A2A `SendStreamingMessage`, AG-UI runs). A service
//! that mirrors a whole REST API sends the path below its mount to
//! [`Upstream::below`] the endpoint (`exchange_to`; the vector databases).
//!
//! Not here: what a recording looks like (each service's `record`), writing it
//! (`services::source`).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use crate::record::HttpsClient;
use crate::respond::body::Body;

/// Where one service's misses go.
pub struct Upstream {
    /// The endpoint, as given.
    pub url: Uri,
    client: HttpsClient,
    head_timeout: Duration,
    idle_timeout: Duration,
    /// Largest reply kept for recording.
    pub max_capture: usize,
    /// Forward only; save nothing (`--proxy-only`).
    pub proxy_only: bool,
}

impl Upstream {
    /// The upstream of section `name`, when `aimock record` was given one.
    pub fn from_config(
        config: &crate::config::Config,
        name: &str,
    ) -> anyhow::Result<Option<Upstream>> {
        let Some(rc) = &config.record else {
            return Ok(None);
        };
        let Some(url) = rc.upstreams.get(name) else {
            return Ok(None);
        };
        tracing::info!(service = name, upstream = %url, "recording misses");
        Ok(Some(Upstream {
            url: url.clone(),
            client: crate::record::https_client()?,
            head_timeout: rc.head_timeout,
            idle_timeout: rc.idle_timeout,
            max_capture: rc.max_capture_bytes,
            proxy_only: rc.proxy_only,
        }))
    }

    /// Send a request to the endpoint: the client's headers less hop-by-hop ones and
    /// those `replace` names, plus `replace`. Returns the reply head and streaming body.
    pub async fn send(
        &self,
        method: Method,
        client_headers: &HeaderMap,
        replace: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<Response<Incoming>, String> {
        self.send_to(self.url.clone(), method, client_headers, replace, body)
            .await
    }

    /// The endpoint's URL with `sub` appended to its path and `query` as its query
    /// string: where a service that mirrors a whole REST API (the vector databases)
    /// sends the path below its mount.
    pub fn below(&self, sub: &str, query: Option<&str>) -> Result<Uri, String> {
        let base = self.url.path().trim_end_matches('/');
        let mut pq = format!("{base}{sub}");
        if pq.is_empty() {
            pq.push('/');
        }
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            pq.push('?');
            pq.push_str(q);
        }
        let mut parts = self.url.clone().into_parts();
        parts.path_and_query = Some(
            pq.parse()
                .map_err(|e| format!("bad upstream path {pq:?}: {e}"))?,
        );
        Uri::from_parts(parts).map_err(|e| format!("bad upstream URL: {e}"))
    }

    /// [`Upstream::send`] to `uri` (see [`Upstream::below`]) instead of the endpoint.
    pub async fn send_to(
        &self,
        uri: Uri,
        method: Method,
        client_headers: &HeaderMap,
        replace: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<Response<Incoming>, String> {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (name, value) in client_headers {
            let n = name.as_str();
            if crate::record::is_stripped_request_header(n)
                || replace.iter().any(|(r, _)| r.eq_ignore_ascii_case(n))
                || n == "accept"
                || n == "content-type"
            {
                continue;
            }
            b = b.header(name, value);
        }
        for (name, value) in replace {
            let v = HeaderValue::from_str(value).map_err(|e| format!("bad header {name}: {e}"))?;
            b = b.header(*name, v);
        }
        let req = b
            .body(Full::new(body))
            .map_err(|e| format!("cannot build the upstream request: {e}"))?;
        match tokio::time::timeout(self.head_timeout, self.client.request(req)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                let cause = std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                Err(format!("{e} {cause}").trim_end().to_string())
            }
            Err(_) => Err(format!("no response within {:?}", self.head_timeout)),
        }
    }

    /// [`Upstream::send`], then read the whole reply (bounded by the capture limit).
    pub async fn exchange(
        &self,
        method: Method,
        client_headers: &HeaderMap,
        replace: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<(http::response::Parts, Bytes), String> {
        self.exchange_to(self.url.clone(), method, client_headers, replace, body)
            .await
    }

    /// [`Upstream::exchange`] with `uri` (see [`Upstream::below`]).
    pub async fn exchange_to(
        &self,
        uri: Uri,
        method: Method,
        client_headers: &HeaderMap,
        replace: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<(http::response::Parts, Bytes), String> {
        let resp = self
            .send_to(uri, method, client_headers, replace, body)
            .await?;
        let (head, mut body) = resp.into_parts();
        let mut buf = BytesMut::new();
        loop {
            match tokio::time::timeout(self.idle_timeout, body.frame()).await {
                Err(_) => return Err(format!("upstream went silent for {:?}", self.idle_timeout)),
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(format!("upstream body failed: {e}")),
                Ok(Some(Ok(f))) => {
                    if let Ok(d) = f.into_data() {
                        if buf.len() + d.len() > self.max_capture {
                            return Err(format!(
                                "upstream reply is larger than {} bytes",
                                self.max_capture
                            ));
                        }
                        buf.extend_from_slice(&d);
                    }
                }
            }
        }
        Ok((head, buf.freeze()))
    }

    /// Relay a streaming reply to the client as it arrives; when it has ended
    /// cleanly, `done` gets a copy of everything (none when it broke or outgrew the
    /// capture limit).
    pub fn relay(
        &self,
        resp: Response<Incoming>,
        done: impl FnOnce(Bytes) + Send + 'static,
    ) -> Response<Body> {
        let (head, mut body) = resp.into_parts();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(32);
        let idle = self.idle_timeout;
        let max = self.max_capture;
        tokio::spawn(async move {
            let mut copy = Some(BytesMut::new());
            loop {
                match tokio::time::timeout(idle, body.frame()).await {
                    Err(_) => {
                        let _ = tx
                            .send(Err(std::io::Error::other("upstream went silent")))
                            .await;
                        return;
                    }
                    Ok(None) => break,
                    Ok(Some(Err(e))) => {
                        let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                        return;
                    }
                    Ok(Some(Ok(f))) => {
                        let Ok(d) = f.into_data() else { continue };
                        if let Some(c) = &mut copy {
                            if c.len() + d.len() > max {
                                tracing::warn!(max, "upstream stream outgrew the capture limit; relayed, not recorded");
                                copy = None;
                            } else {
                                c.extend_from_slice(&d);
                            }
                        }
                        // The client went away: keep reading so the recording completes.
                        let _ = tx.send(Ok(d)).await;
                    }
                }
            }
            drop(tx);
            if let Some(c) = copy {
                done(c.freeze());
            }
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|item| (item.map(http_body::Frame::data), rx))
        });
        let mut out = Response::new(Body::Boxed(http_body_util::BodyExt::boxed_unsync(
            http_body_util::StreamBody::new(stream),
        )));
        *out.status_mut() = head.status;
        for (name, value) in &head.headers {
            if !crate::record::is_stripped_response_header(name.as_str()) {
                out.headers_mut().append(name, value.clone());
            }
        }
        out
    }
}

/// Every `data:` payload of an SSE capture, in order (a capture that does not frame
/// as SSE yields what framed before the fault).
pub fn sse_payloads(bytes: &[u8]) -> Vec<String> {
    let mut dec = crate::codec::sse::SseDecoder::new();
    let events = match crate::codec::decode_all(&mut dec, bytes) {
        Ok(e) => e,
        Err(e) => {
            tracing::debug!("captured stream does not frame as SSE: {e}");
            Vec::new()
        }
    };
    events
        .into_iter()
        .filter(|e| !e.data.is_empty())
        .map(|e| e.data)
        .collect()
}

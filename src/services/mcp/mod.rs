//! The MCP mock: a tool server over Streamable HTTP, as the current spec (2025-11-25)
//! and the official SDKs speak it, answering from the `mcp` config section.
//!
//! Routes, all on the mount root (`/mcp` or `/mcp/`):
//! - `POST`: JSON-RPC (a single message or a batch). `initialize` opens a session
//!   (`Mcp-Session-Id` header) with the client's protocol version when supported; every
//!   other message needs a live session (missing header 400, unknown session 404, so the
//!   client initializes again). Notifications and responses get 202 with no body.
//!   Replies are JSON, or an SSE stream when the client accepts only that (or the
//!   section says `responseMode: "sse"` and the client accepts it).
//! - `GET`: 405 (no server-initiated stream is offered; the spec's answer).
//! - `DELETE`: ends the session.
//!
//! Layout: `config` (the section), `protocol` (the method table), `session` (session
//! state), `record` (forwarding misses to a real MCP server and saving what it said).
//!
//! Not here: the JSON-RPC envelope (`codec::jsonrpc`), server-to-client requests
//! (sampling, elicitation), subscriptions, resumable streams (`Last-Event-ID`).
//!
//! # Design
//! Rejected: the reference's fixed `protocolVersion` and JSON-only replies; clients newer
//! than 2025-03-26 negotiate down to it, and SSE-only clients get nothing they can read.

pub mod config;
pub mod protocol;
pub mod record;
pub mod session;

use std::sync::{Arc, RwLock};

use bytes::BytesMut;
use http::{HeaderValue, Method, Response};
use serde_json::{json, Value};

use crate::codec::jsonrpc::{self, Entry, Incoming, RpcError, INVALID_REQUEST};
use crate::respond::body::Body;
use crate::services::source::SourceFile;
use crate::services::wire;
use crate::services::{Reply, Service, ServiceRequest};
use config::{McpConfig, ResponseMode};
use protocol::Outcome;
use session::Sessions;

/// The session header.
pub const SESSION_HEADER: &str = "mcp-session-id";
/// The protocol-version header later requests carry (2025-06-18 on).
pub const VERSION_HEADER: &str = "mcp-protocol-version";

/// The mounted MCP server.
pub struct McpService {
    prefix: String,
    /// The config in force: swapped whole on reload or after a recording.
    config: Arc<RwLock<Arc<McpConfig>>>,
    sessions: Sessions,
    /// Forwarding of misses, in `aimock record --upstream-mcp`.
    recorder: Option<record::McpRecorder>,
    /// The file the section came from (`--mcp FILE`), if any.
    _source: Option<Arc<SourceFile>>,
}

/// Build the MCP service from its config section (`FromSection`).
pub fn from_section(
    section: &Value,
    config: &crate::config::Config,
) -> anyhow::Result<Vec<Arc<dyn Service>>> {
    let prefix = wire::mount_path(section, "/mcp")?;
    let parsed = McpConfig::parse(section)?;
    let shared = Arc::new(RwLock::new(Arc::new(parsed)));
    let source = crate::services::source::for_section(config, "mcp");
    let recorder = record::McpRecorder::from_config(config, shared.clone(), source.clone())?;
    if let Some(src) = &source {
        src.watch_into(config, shared.clone(), McpConfig::parse);
    }
    Ok(vec![Arc::new(McpService {
        prefix,
        config: shared,
        sessions: Sessions::default(),
        recorder,
        _source: source,
    })])
}

impl McpService {
    /// A service at `prefix` answering from `config` (tests and embedding).
    pub fn new(prefix: &str, config: McpConfig) -> McpService {
        McpService {
            prefix: prefix.to_string(),
            config: Arc::new(RwLock::new(Arc::new(config))),
            sessions: Sessions::default(),
            recorder: None,
            _source: None,
        }
    }

    fn snapshot(&self) -> Arc<McpConfig> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn post(&self, req: &ServiceRequest) -> Response<Body> {
        let json_ok = wire::accepts(&req.headers, "application/json");
        let sse_ok = wire::accepts(&req.headers, "text/event-stream");
        if !json_ok && !sse_ok {
            tracing::debug!("MCP request accepts neither JSON nor SSE");
            return wire::json(
                406,
                &jsonrpc::error(
                    Value::Null,
                    INVALID_REQUEST,
                    "Not Acceptable: Accept must allow application/json or text/event-stream",
                ),
            );
        }
        let incoming = match jsonrpc::parse(&req.body) {
            Ok(i) => i,
            Err(reply) => {
                tracing::debug!(error = %reply["error"]["message"], "MCP request body is not JSON-RPC");
                return wire::json(400, &reply);
            }
        };
        if let Some(v) = header(req, VERSION_HEADER) {
            if !protocol::VERSIONS.contains(&v) {
                tracing::debug!(
                    version = v,
                    "MCP request names an unsupported protocol version"
                );
                return wire::json(
                    400,
                    &jsonrpc::error(
                        Value::Null,
                        INVALID_REQUEST,
                        format!(
                            "Bad Request: Unsupported protocol version: {v} (supported: {})",
                            protocol::VERSIONS.join(", ")
                        ),
                    ),
                );
            }
        }
        let cfg = self.snapshot();
        let mode = Format::pick(json_ok, sse_ok, cfg.response_mode);
        if let Incoming::Single(Entry::Call(c)) = &incoming {
            if c.method == "initialize" {
                return self.initialize(&cfg, c, mode);
            }
        }
        let Some(sid) = header(req, SESSION_HEADER) else {
            tracing::debug!("MCP request without a session id");
            return wire::json(
                400,
                &jsonrpc::error(
                    Value::Null,
                    -32000,
                    "Bad Request: Mcp-Session-Id header is required",
                ),
            );
        };
        if self.sessions.get(sid).is_none() {
            tracing::debug!(session = sid, "MCP request for an unknown session");
            return wire::json(
                404,
                &jsonrpc::error(Value::Null, -32001, "Session not found"),
            );
        }
        let (entries, batch) = match incoming {
            Incoming::Single(e) => (vec![e], false),
            Incoming::Batch(es) => (es, true),
        };
        let mut replies = Vec::new();
        for e in entries {
            let call = match e {
                Entry::Invalid(reply) => {
                    replies.push(reply);
                    continue;
                }
                Entry::Response(_) => continue,
                Entry::Call(c) => c,
            };
            if call.is_notification() {
                if call.method == "notifications/initialized" {
                    self.sessions.initialized(sid);
                }
                continue;
            }
            if call.method == "initialize" {
                replies.push(
                    RpcError::new(INVALID_REQUEST, "initialize must be sent on its own")
                        .reply(call.reply_id()),
                );
                continue;
            }
            let reply = match protocol::dispatch(&cfg, &call.method, call.params_object()) {
                Outcome::Answer(v) => jsonrpc::result(call.reply_id(), v),
                Outcome::Error(e) => e.reply(call.reply_id()),
                Outcome::Miss(e) => match &self.recorder {
                    Some(r) => r.forward(&call, &req.headers).await.unwrap_or_else(|why| {
                        tracing::warn!(method = %call.method, "MCP upstream failed: {why}");
                        jsonrpc::error(
                            call.reply_id(),
                            jsonrpc::INTERNAL_ERROR,
                            format!("Proxy to upstream MCP server failed: {why}"),
                        )
                    }),
                    None => {
                        tracing::debug!(method = %call.method, "MCP call the config cannot answer: {}", e.message);
                        e.reply(call.reply_id())
                    }
                },
            };
            replies.push(reply);
        }
        if replies.is_empty() {
            return wire::status(202);
        }
        let body = if batch {
            Value::Array(replies)
        } else {
            replies.pop().expect("one entry, and it was answered")
        };
        mode.reply(&body)
    }

    fn initialize(&self, cfg: &McpConfig, call: &jsonrpc::Call, mode: Format) -> Response<Body> {
        let Some(params) = call.params_object() else {
            return mode.reply(
                &RpcError::invalid_params("params must be an object").reply(call.reply_id()),
            );
        };
        let asked = params.get("protocolVersion").and_then(Value::as_str);
        let version = protocol::negotiate(asked);
        let id = self.sessions.open(version);
        tracing::debug!(session = %id, asked, version, "MCP session opened");
        let result = protocol::initialize_result(cfg, version);
        let mut r = mode.reply(&jsonrpc::result(call.reply_id(), result));
        if let Ok(v) = HeaderValue::from_str(&id) {
            r.headers_mut().insert(SESSION_HEADER, v);
        }
        r.headers_mut().insert(
            http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Mcp-Session-Id"),
        );
        r
    }

    fn delete(&self, req: &ServiceRequest) -> Response<Body> {
        let Some(sid) = header(req, SESSION_HEADER) else {
            return wire::json(
                400,
                &jsonrpc::error(
                    Value::Null,
                    -32000,
                    "Bad Request: Mcp-Session-Id header is required",
                ),
            );
        };
        if self.sessions.close(sid) {
            tracing::debug!(session = sid, "MCP session ended");
            wire::status(200)
        } else {
            wire::json(
                404,
                &jsonrpc::error(Value::Null, -32001, "Session not found"),
            )
        }
    }
}

fn header<'a>(req: &'a ServiceRequest, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// How one POST's replies travel.
#[derive(Clone, Copy)]
enum Format {
    Json,
    Sse,
}

impl Format {
    fn pick(json_ok: bool, sse_ok: bool, mode: ResponseMode) -> Format {
        match (json_ok, sse_ok, mode) {
            (false, true, _) | (true, true, ResponseMode::Sse) => Format::Sse,
            _ => Format::Json,
        }
    }

    fn reply(self, body: &Value) -> Response<Body> {
        match self {
            Format::Json => wire::json(200, body),
            Format::Sse => {
                let mut b = BytesMut::new();
                let items = match body {
                    Value::Array(a) => a.iter().collect::<Vec<_>>(),
                    one => vec![one],
                };
                for item in items {
                    crate::codec::sse::encode_event("message", &item.to_string(), &mut b);
                }
                let mut r = Response::new(Body::full(b.freeze()));
                wire::sse_headers(r.headers_mut());
                r
            }
        }
    }
}

impl Service for McpService {
    fn name(&self) -> &str {
        "mcp"
    }

    fn prefix(&self) -> &str {
        &self.prefix
    }

    fn handle(&self, req: ServiceRequest) -> Reply<'_> {
        Box::pin(async move {
            if let Some(not_found) = wire::only_the_root(&req.path, &self.prefix) {
                return not_found;
            }
            match req.method {
                Method::POST => self.post(&req).await,
                Method::DELETE => self.delete(&req),
                _ => {
                    // No server-initiated SSE stream is offered: the spec's 405.
                    let mut r = wire::json(
                        405,
                        &jsonrpc::error(Value::Null, -32000, "Method not allowed"),
                    );
                    r.headers_mut().insert(
                        http::header::ALLOW,
                        HeaderValue::from_static("POST, DELETE"),
                    );
                    r
                }
            }
        })
    }

    fn health(&self) -> Value {
        let c = self.snapshot();
        json!({
            "status": "ok",
            "tools": c.tools.len(),
            "resources": c.resources.len(),
            "prompts": c.prompts.len(),
            "sessions": self.sessions.len(),
        })
    }

    fn reset(&self) {
        self.sessions.clear();
    }
}

//! The A2A mock: an agent speaking A2A 1.0 over its JSON-RPC binding, answering from
//! the `a2a` config section, as the official SDKs (`a2a-sdk` 1.x) read it.
//!
//! Routes under the mount (`/a2a`):
//! - `GET /.well-known/agent-card.json` (and the 0.3 `/.well-known/agent.json`): the
//!   first agent's card, its interface URL built from the request's `Host`.
//! - `POST /`: JSON-RPC. `SendMessage` (a message or a task), `SendStreamingMessage`
//!   (an SSE stream of spec `StreamResponse` items: the task first, `artifactUpdate`s
//!   with `artifactId`, a terminal `statusUpdate` last), `GetTask` and `CancelTask` (the
//!   bare Task), `ListTasks` (`{tasks, nextPageToken, pageSize, totalSize}`),
//!   `SubscribeToTask`; push-notification methods answer "not supported". The 0.3 names
//!   (`message/send`, `message/stream`, `tasks/get`, `tasks/cancel`, ...) are aliases
//!   that answer in 0.3 shapes (`kind`, lowercase states), as their callers expect.
//!
//! Every reply carries `A2A-Version: 1.0`. Tasks are kept per test id (`tasks`).
//!
//! Layout: `config` (the section), `protocol` (shapes and conversions), `tasks` (task
//! state), `record` (forwarding misses to a real agent and saving what it said).
//!
//! Not here: push notifications, the gRPC and REST bindings, authentication.
//!
//! # Design
//! Rejected: the reference's `{"task": …}` wrappers from `GetTask`/`CancelTask` and its
//! `{task, artifact}` stream frames; a2a-sdk 1.x parses results strictly into the
//! protobuf messages and fails on both.

pub mod config;
pub mod protocol;
pub mod record;
pub mod tasks;

use std::sync::{Arc, RwLock};

use http::{HeaderValue, Method, Response};
use serde_json::{json, Map, Value};

use crate::codec::jsonrpc::{self, Call, Entry, Incoming, RpcError};
use crate::respond::body::Body;
use crate::services::source::SourceFile;
use crate::services::wire;
use crate::services::{Reply, Service, ServiceRequest};
use config::{A2aConfig, Answer, TERMINAL};
use tasks::Tasks;

/// Task not found.
pub const TASK_NOT_FOUND: i64 = -32001;
/// Task not cancelable.
pub const TASK_NOT_CANCELABLE: i64 = -32002;
/// Push notifications not supported.
pub const PUSH_NOT_SUPPORTED: i64 = -32003;
/// Unsupported operation.
pub const UNSUPPORTED: i64 = -32004;
/// Extended agent card not configured.
pub const NO_EXTENDED_CARD: i64 = -32007;
/// No pattern matched (the reference's code; the spec has none for it).
pub const NO_MATCH: i64 = -32000;

/// The mounted A2A agent.
pub struct A2aService {
    prefix: String,
    config: Arc<RwLock<Arc<A2aConfig>>>,
    tasks: Tasks,
    recorder: Option<record::A2aRecorder>,
    _source: Option<Arc<SourceFile>>,
}

/// Build the A2A service from its config section (`FromSection`).
pub fn from_section(
    section: &Value,
    config: &crate::config::Config,
) -> anyhow::Result<Vec<Arc<dyn Service>>> {
    let prefix = wire::mount_path(section, "/a2a")?;
    let shared = Arc::new(RwLock::new(Arc::new(A2aConfig::parse(section)?)));
    let source = crate::services::source::for_section(config, "a2a");
    let recorder = record::A2aRecorder::from_config(config, shared.clone(), source.clone())?;
    if let Some(src) = &source {
        src.watch_into(config, shared.clone(), A2aConfig::parse);
    }
    Ok(vec![Arc::new(A2aService {
        prefix,
        config: shared,
        tasks: Tasks::default(),
        recorder,
        _source: source,
    })])
}

fn versioned(mut r: Response<Body>) -> Response<Body> {
    r.headers_mut()
        .insert("a2a-version", HeaderValue::from_static(protocol::VERSION));
    r
}

/// What one call answers: a JSON-RPC reply, or a stream of results.
enum Answered {
    Json(Value),
    Stream(Vec<Value>, std::time::Duration),
    Forwarded(Response<Body>),
}

impl A2aService {
    /// A service at `prefix` answering from `config` (tests and embedding).
    pub fn new(prefix: &str, config: A2aConfig) -> A2aService {
        A2aService {
            prefix: prefix.to_string(),
            config: Arc::new(RwLock::new(Arc::new(config))),
            tasks: Tasks::default(),
            recorder: None,
            _source: None,
        }
    }

    fn snapshot(&self) -> Arc<A2aConfig> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn card(&self, req: &ServiceRequest) -> Response<Body> {
        let host = req
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("127.0.0.1");
        let base = format!("http://{host}{}", self.prefix);
        versioned(wire::json(200, &protocol::card(&self.snapshot(), &base)))
    }

    async fn post(&self, req: &ServiceRequest) -> Response<Body> {
        let incoming = match jsonrpc::parse(&req.body) {
            Ok(i) => i,
            Err(reply) => {
                tracing::debug!(error = %reply["error"]["message"], "A2A request body is not JSON-RPC");
                return versioned(wire::json(200, &reply));
            }
        };
        let test_id = req
            .headers
            .get("x-test-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        match incoming {
            Incoming::Single(Entry::Call(c)) => {
                if c.is_notification() {
                    return versioned(wire::status(202));
                }
                match self.call(&c, &test_id, req).await {
                    Answered::Json(v) => versioned(wire::json(200, &v)),
                    Answered::Stream(items, delay) => {
                        let events: Vec<Value> = items
                            .into_iter()
                            .map(|i| jsonrpc::result(c.reply_id(), i))
                            .collect();
                        versioned(wire::sse(&events, delay))
                    }
                    Answered::Forwarded(r) => versioned(r),
                }
            }
            Incoming::Single(Entry::Invalid(v)) => versioned(wire::json(200, &v)),
            Incoming::Single(Entry::Response(_)) => versioned(wire::status(202)),
            Incoming::Batch(entries) => {
                // Streams cannot share a batch's one JSON reply: they are refused there.
                let mut out = Vec::new();
                for e in entries {
                    match e {
                        Entry::Invalid(v) => out.push(v),
                        Entry::Response(_) => {}
                        Entry::Call(c) if c.is_notification() => {}
                        Entry::Call(c) => match self.call(&c, &test_id, req).await {
                            Answered::Json(v) => out.push(v),
                            _ => out.push(
                                RpcError::new(
                                    jsonrpc::INVALID_REQUEST,
                                    "streaming methods cannot be batched",
                                )
                                .reply(c.reply_id()),
                            ),
                        },
                    }
                }
                if out.is_empty() {
                    versioned(wire::status(202))
                } else {
                    versioned(wire::json(200, &Value::Array(out)))
                }
            }
        }
    }

    async fn call(&self, c: &Call, test_id: &str, req: &ServiceRequest) -> Answered {
        let id = c.reply_id();
        let Some((method, legacy)) = protocol::canonical(&c.method) else {
            tracing::debug!(method = %c.method, "A2A method not found");
            return Answered::Json(RpcError::method_not_found(&c.method).reply(id));
        };
        let Some(params) = c.params_object() else {
            return Answered::Json(RpcError::invalid_params("params must be an object").reply(id));
        };
        let task_shape = |t: Value| if legacy { protocol::task_v03(&t) } else { t };
        match method {
            "SendMessage" | "SendStreamingMessage" => {
                let streaming = method == "SendStreamingMessage";
                let Some(message) = params.get("message").filter(|m| m.is_object()) else {
                    return Answered::Json(
                        RpcError::invalid_params("params.message must be an object").reply(id),
                    );
                };
                let text = protocol::text_of(message);
                let cfg = self.snapshot();
                let Some(pattern) = cfg.find(&text, streaming) else {
                    if let Some(r) = &self.recorder {
                        return Answered::Forwarded(r.forward(c, &text, streaming, req).await);
                    }
                    tracing::debug!(text = %text, "no A2A pattern matched");
                    return Answered::Json(
                        RpcError::new(NO_MATCH, "No matching pattern for message").reply(id),
                    );
                };
                let built = protocol::build(&pattern.answer, message);
                if let Some(t) = &built.task {
                    self.tasks.insert(test_id, t.clone());
                }
                if streaming {
                    let delay = match &pattern.answer {
                        Answer::Stream { delay_ms, .. } => wire::delay_ms(delay_ms.as_ref()),
                        _ => std::time::Duration::ZERO,
                    };
                    let items = if legacy {
                        built.stream.iter().map(protocol::stream_item_v03).collect()
                    } else {
                        built.stream
                    };
                    return Answered::Stream(items, delay);
                }
                let result = match (built.task, built.message, legacy) {
                    (Some(t), _, false) => json!({ "task": t }),
                    (Some(t), _, true) => protocol::task_v03(&t),
                    (None, Some(m), false) => json!({ "message": m }),
                    (None, Some(m), true) => protocol::message_v03(&m),
                    (None, None, _) => json!({}),
                };
                Answered::Json(jsonrpc::result(id, result))
            }
            "GetTask" => {
                let Some(tid) = params.get("id").and_then(Value::as_str) else {
                    return Answered::Json(
                        RpcError::invalid_params("params.id must be a string").reply(id),
                    );
                };
                match self.tasks.get(test_id, tid) {
                    Some(mut t) => {
                        if let Some(n) = params.get("historyLength").and_then(Value::as_u64) {
                            trim_history(&mut t, n as usize);
                        }
                        Answered::Json(jsonrpc::result(id, task_shape(t)))
                    }
                    None => Answered::Json(task_not_found(id, tid)),
                }
            }
            "CancelTask" => {
                let Some(tid) = params.get("id").and_then(Value::as_str) else {
                    return Answered::Json(
                        RpcError::invalid_params("params.id must be a string").reply(id),
                    );
                };
                let outcome = self.tasks.update(test_id, tid, |t| {
                    let state = t["status"]["state"].as_str().unwrap_or("").to_string();
                    if TERMINAL.contains(&state.as_str()) {
                        return Err(state);
                    }
                    t["status"] =
                        json!({"state": "TASK_STATE_CANCELED", "timestamp": wire::now_rfc3339()});
                    Ok(t.clone())
                });
                match outcome {
                    None => Answered::Json(task_not_found(id, tid)),
                    Some(Err(state)) => Answered::Json(
                        RpcError::new(
                            TASK_NOT_CANCELABLE,
                            format!("Task cannot be canceled: it is {state}"),
                        )
                        .reply(id),
                    ),
                    Some(Ok(t)) => Answered::Json(jsonrpc::result(id, task_shape(t))),
                }
            }
            "ListTasks" => Answered::Json(match self.list(test_id, params, legacy) {
                Ok(v) => jsonrpc::result(id, v),
                Err(e) => e.reply(id),
            }),
            "SubscribeToTask" => {
                let Some(tid) = params.get("id").and_then(Value::as_str) else {
                    return Answered::Json(
                        RpcError::invalid_params("params.id must be a string").reply(id),
                    );
                };
                match self.tasks.get(test_id, tid) {
                    None => Answered::Json(task_not_found(id, tid)),
                    Some(t) if TERMINAL.contains(&t["status"]["state"].as_str().unwrap_or("")) => {
                        Answered::Json(
                            RpcError::new(UNSUPPORTED, "Task is in a terminal state").reply(id),
                        )
                    }
                    Some(t) => {
                        let item = json!({ "task": t });
                        let item = if legacy {
                            protocol::stream_item_v03(&item)
                        } else {
                            item
                        };
                        Answered::Stream(vec![item], std::time::Duration::ZERO)
                    }
                }
            }
            "GetExtendedAgentCard" => Answered::Json(
                RpcError::new(NO_EXTENDED_CARD, "Extended agent card is not configured").reply(id),
            ),
            _ => Answered::Json(
                RpcError::new(PUSH_NOT_SUPPORTED, "Push notifications are not supported").reply(id),
            ),
        }
    }

    fn list(
        &self,
        test_id: &str,
        params: &Map<String, Value>,
        legacy: bool,
    ) -> Result<Value, RpcError> {
        let mut all = self.tasks.list(test_id);
        all.reverse(); // newest first
        if let Some(ctx) = params.get("contextId").and_then(Value::as_str) {
            all.retain(|t| t["contextId"] == ctx);
        }
        if let Some(st) = params.get("status").and_then(Value::as_str) {
            all.retain(|t| t["status"]["state"] == st);
        }
        let total = all.len();
        let size = match params.get("pageSize") {
            None | Some(Value::Null) => 50,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=100).contains(&n) => n as usize,
                _ => {
                    return Err(RpcError::invalid_params(
                        "pageSize must be between 1 and 100",
                    ))
                }
            },
        };
        let start = match params.get("pageToken").and_then(Value::as_str) {
            None | Some("") => 0,
            Some(tok) => tok
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= total)
                .ok_or_else(|| RpcError::invalid_params(format!("Invalid pageToken: {tok}")))?,
        };
        let end = (start + size).min(total);
        let with_artifacts = params
            .get("includeArtifacts")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let history = params.get("historyLength").and_then(Value::as_u64);
        let tasks: Vec<Value> = all[start..end]
            .iter()
            .cloned()
            .map(|mut t| {
                if !with_artifacts {
                    if let Some(m) = t.as_object_mut() {
                        m.remove("artifacts");
                    }
                }
                if let Some(n) = history {
                    trim_history(&mut t, n as usize);
                }
                if legacy {
                    protocol::task_v03(&t)
                } else {
                    t
                }
            })
            .collect();
        let next = if end < total {
            end.to_string()
        } else {
            String::new()
        };
        Ok(json!({"tasks": tasks, "nextPageToken": next, "pageSize": size, "totalSize": total}))
    }
}

fn trim_history(t: &mut Value, n: usize) {
    if let Some(h) = t.get_mut("history").and_then(Value::as_array_mut) {
        let drop = h.len().saturating_sub(n);
        h.drain(..drop);
    }
}

fn task_not_found(id: Value, tid: &str) -> Value {
    tracing::debug!(task = tid, "A2A task not found");
    RpcError::new(TASK_NOT_FOUND, format!("Task not found: {tid}")).reply(id)
}

impl Service for A2aService {
    fn name(&self) -> &str {
        "a2a"
    }

    fn prefix(&self) -> &str {
        &self.prefix
    }

    fn handle(&self, req: ServiceRequest) -> Reply<'_> {
        Box::pin(async move {
            let rest = req.path.strip_prefix(self.prefix.as_str()).unwrap_or("");
            let rest = if rest.is_empty() { "/" } else { rest };
            match (&req.method, rest) {
                (&Method::GET, "/.well-known/agent-card.json" | "/.well-known/agent.json") => {
                    self.card(&req)
                }
                (&Method::POST, "/") => self.post(&req).await,
                (_, "/") => {
                    let mut r = versioned(wire::json(
                        405,
                        &json!({"error": format!("Method {} not allowed", req.method)}),
                    ));
                    r.headers_mut()
                        .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
                    r
                }
                _ => versioned(wire::json(
                    404,
                    &json!({"error": format!("Not found: {} {}", req.method, req.path)}),
                )),
            }
        })
    }

    fn health(&self) -> Value {
        json!({"status": "ok", "agents": self.snapshot().agents.len(), "tasks": self.tasks.len()})
    }

    fn reset(&self) {
        self.tasks.clear();
    }
}

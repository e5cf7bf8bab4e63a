//! Recording an A2A agent (`aimock record --upstream-a2a URL --a2a FILE`): a message
//! no pattern matches is sent to the real agent as the client sent it, the reply is
//! relayed (a stream as it arrives), and what the agent said is saved into the first
//! agent of the section file, the message's text as the `pattern`:
//!
//! - a message reply → a `messages` entry `{pattern, parts}`;
//! - a task reply → a `tasks` entry `{pattern, artifacts, state}`;
//! - a stream → a `streamingTasks` entry `{pattern, events}` (`status` and `artifact`
//!   events; a stream holding only a message is saved as a `messages` entry).
//!
//! Both 1.0 and 0.3 reply shapes are read. Errors are relayed, not saved.

use std::sync::{Arc, RwLock};

use http::Method;
use serde_json::{json, Map, Value};

use super::config::A2aConfig;
use super::protocol::part_v1;
use crate::codec::jsonrpc::{self, Call};
use crate::respond::body::Body;
use crate::services::source::SourceFile;
use crate::services::upstream::{sse_payloads, Upstream};
use crate::services::wire;
use crate::services::ServiceRequest;

/// Forwards A2A misses and saves what came back.
pub struct A2aRecorder {
    up: Upstream,
    save: Arc<Saver>,
}

struct Saver {
    config: Arc<RwLock<Arc<A2aConfig>>>,
    source: Arc<SourceFile>,
}

impl A2aRecorder {
    /// The recorder, when `aimock record --upstream-a2a` was given.
    pub fn from_config(
        config: &crate::config::Config,
        shared: Arc<RwLock<Arc<A2aConfig>>>,
        source: Option<Arc<SourceFile>>,
    ) -> anyhow::Result<Option<A2aRecorder>> {
        let Some(up) = Upstream::from_config(config, "a2a")? else {
            return Ok(None);
        };
        let source = source.ok_or_else(|| anyhow::anyhow!("--upstream-a2a needs --a2a FILE"))?;
        Ok(Some(A2aRecorder {
            up,
            save: Arc::new(Saver {
                config: shared,
                source,
            }),
        }))
    }

    /// Forward the call that missed and relay its reply.
    pub async fn forward(
        &self,
        call: &Call,
        text: &str,
        streaming: bool,
        req: &ServiceRequest,
    ) -> http::Response<Body> {
        let accept = if streaming {
            "text/event-stream"
        } else {
            "application/json"
        };
        let replace = [
            ("content-type", "application/json".to_string()),
            ("accept", accept.to_string()),
        ];
        let failed = |why: String| {
            tracing::warn!(upstream = %self.up.url, "A2A upstream failed: {why}");
            wire::json(
                502,
                &jsonrpc::error(
                    call.reply_id(),
                    jsonrpc::INTERNAL_ERROR,
                    format!("Proxy to upstream A2A agent failed: {why}"),
                ),
            )
        };
        if !streaming {
            let (head, body) = match self
                .up
                .exchange(Method::POST, &req.headers, &replace, req.body.clone())
                .await
            {
                Ok(r) => r,
                Err(e) => return failed(e),
            };
            tracing::info!(upstream = %self.up.url, status = head.status.as_u16(), "proxied an A2A miss upstream");
            if !self.up.proxy_only && head.status.is_success() {
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    if let Some(r) = v.get("result") {
                        self.save.result(text, r);
                    }
                }
            }
            let mut out = http::Response::new(Body::full(body));
            *out.status_mut() = head.status;
            out.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            return out;
        }
        let resp = match self
            .up
            .send(Method::POST, &req.headers, &replace, req.body.clone())
            .await
        {
            Ok(r) => r,
            Err(e) => return failed(e),
        };
        tracing::info!(upstream = %self.up.url, status = resp.status().as_u16(), "relaying an A2A stream from upstream");
        let ok = resp.status().is_success();
        let save = (!self.up.proxy_only && ok).then(|| self.save.clone());
        let text = text.to_string();
        self.up.relay(resp, move |bytes| {
            if let Some(s) = save {
                s.stream(&text, &bytes);
            }
        })
    }
}

fn state_v1(s: &str) -> String {
    if s.starts_with("TASK_STATE_") {
        s.to_string()
    } else {
        format!("TASK_STATE_{}", s.to_ascii_uppercase().replace('-', "_"))
    }
}

fn parts(v: &Value) -> Value {
    Value::Array(v.as_array().into_iter().flatten().map(part_v1).collect())
}

fn artifact(a: &Value) -> Value {
    let mut out = Map::new();
    for k in ["artifactId", "name", "description"] {
        if let Some(x) = a.get(k) {
            out.insert(k.into(), x.clone());
        }
    }
    out.insert("parts".into(), parts(&a["parts"]));
    Value::Object(out)
}

impl Saver {
    /// Save a `SendMessage` result (1.0 `{message}`/`{task}`, or a 0.3 object with `kind`).
    fn result(&self, text: &str, r: &Value) {
        let (msg, task) = match r.get("kind").and_then(Value::as_str) {
            Some("message") => (Some(r), None),
            Some("task") => (None, Some(r)),
            _ => (r.get("message"), r.get("task")),
        };
        if let Some(m) = msg {
            self.append(
                "messages",
                json!({"pattern": text, "parts": parts(&m["parts"])}),
            );
        } else if let Some(t) = task {
            let artifacts: Vec<Value> = t["artifacts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(artifact)
                .collect();
            let state = state_v1(
                t["status"]["state"]
                    .as_str()
                    .unwrap_or("TASK_STATE_COMPLETED"),
            );
            self.append(
                "tasks",
                json!({"pattern": text, "artifacts": artifacts, "state": state}),
            );
        }
    }

    /// Save a captured stream.
    fn stream(&self, text: &str, bytes: &[u8]) {
        let mut events = Vec::new();
        let mut only_message = None;
        for data in sse_payloads(bytes) {
            let Ok(v) = serde_json::from_str::<Value>(&data) else {
                continue;
            };
            let Some(r) = v.get("result") else { continue };
            let kind = r.get("kind").and_then(Value::as_str);
            if let Some(s) = r.get("statusUpdate").or(if kind == Some("status-update") {
                Some(r)
            } else {
                None
            }) {
                let state = state_v1(
                    s["status"]["state"]
                        .as_str()
                        .unwrap_or("TASK_STATE_WORKING"),
                );
                events.push(json!({"type": "status", "state": state}));
            } else if let Some(a) = r
                .get("artifactUpdate")
                .or(if kind == Some("artifact-update") {
                    Some(r)
                } else {
                    None
                })
            {
                let mut e = json!({"type": "artifact"});
                if let Value::Object(m) = artifact(&a["artifact"]) {
                    for (k, x) in m {
                        e[k] = x;
                    }
                }
                for k in ["append", "lastChunk"] {
                    if let Some(x) = a.get(k).filter(|x| !x.is_null()) {
                        e[k] = x.clone();
                    }
                }
                events.push(e);
            } else if let Some(m) = r.get("message").or(if kind == Some("message") {
                Some(r)
            } else {
                None
            }) {
                only_message = Some(m.clone());
            }
        }
        if events.is_empty() {
            if let Some(m) = only_message {
                self.append(
                    "messages",
                    json!({"pattern": text, "parts": parts(&m["parts"])}),
                );
            }
            return;
        }
        self.append("streamingTasks", json!({"pattern": text, "events": events}));
    }

    fn append(&self, key: &str, entry: Value) {
        let saved = self.source.update(|section| {
            let agents = section
                .entry("agents")
                .or_insert_with(|| json!([{"name": "recorded-agent"}]));
            if agents.as_array().is_none_or(|a| a.is_empty()) {
                *agents = json!([{"name": "recorded-agent"}]);
            }
            let first = &mut agents[0];
            if !first[key].is_array() {
                first[key] = json!([]);
            }
            if let Some(a) = first[key].as_array_mut() {
                a.push(entry);
            }
        });
        let reloaded = saved.and_then(|()| {
            let fresh = A2aConfig::parse(&self.source.load()?)?;
            *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
            Ok(())
        });
        match reloaded {
            Ok(()) => {
                tracing::info!(file = %self.source.path().display(), key, "recorded an A2A answer")
            }
            Err(e) => tracing::warn!("A2A recording not saved: {e:#}"),
        }
    }
}

//! The AG-UI mock: an agent endpoint a front end runs (`POST` a `RunAgentInput`,
//! read the run's events as SSE), answering from the `agui` config section.
//!
//! Route: `POST` on the mount root (`/agui` or `/agui/`). The first fixture whose
//! criteria all hold (last user message, tool result id, offered tool, state key)
//! answers with `text/event-stream`, one `data:` event per AG-UI event, `delayMs`
//! apart. A miss is 404 `{"error": "No matching AG-UI fixture"}` (or, recording, the
//! real agent's run). Bad bodies are 400 with the reason.
//!
//! Layout: `config` (the section), `protocol` (input, matching, events), `record`
//! (forwarding misses to a real agent and saving its events).
//!
//! Not here: the AG-UI event vocabulary's validation (events in the config are sent
//! as written; the e2e suite validates ours with `ag_ui.core`), WebSocket transports.
//!
//! # Design
//! Rejected: the reference's expansion of `text` once at load, which sends the same
//! `threadId`, `runId` and message ids to every caller; a client correlating runs
//! by id sees every run as the same one.

pub mod config;
pub mod protocol;
pub mod record;

use std::sync::{Arc, RwLock};

use http::{HeaderValue, Method};
use serde_json::{json, Value};

use crate::services::source::SourceFile;
use crate::services::wire;
use crate::services::{Reply, Service, ServiceRequest};
use config::AguiConfig;

/// The mounted AG-UI agent.
pub struct AguiService {
    prefix: String,
    config: Arc<RwLock<Arc<AguiConfig>>>,
    recorder: Option<record::AguiRecorder>,
    _source: Option<Arc<SourceFile>>,
}

/// Build the AG-UI service from its config section (`FromSection`).
pub fn from_section(
    section: &Value,
    config: &crate::config::Config,
) -> anyhow::Result<Vec<Arc<dyn Service>>> {
    let prefix = wire::mount_path(section, "/agui")?;
    let shared = Arc::new(RwLock::new(Arc::new(AguiConfig::parse(section)?)));
    let source = crate::services::source::for_section(config, "agui");
    let recorder = record::AguiRecorder::from_config(config, shared.clone(), source.clone())?;
    if let Some(src) = &source {
        src.watch_into(config, shared.clone(), AguiConfig::parse);
    }
    Ok(vec![Arc::new(AguiService {
        prefix,
        config: shared,
        recorder,
        _source: source,
    })])
}

impl AguiService {
    /// A service at `prefix` answering from `config` (tests and embedding).
    pub fn new(prefix: &str, config: AguiConfig) -> AguiService {
        AguiService {
            prefix: prefix.to_string(),
            config: Arc::new(RwLock::new(Arc::new(config))),
            recorder: None,
            _source: None,
        }
    }

    fn snapshot(&self) -> Arc<AguiConfig> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    async fn run(&self, req: &ServiceRequest) -> http::Response<crate::respond::body::Body> {
        let input = match protocol::read(&req.body) {
            Ok(i) => i,
            Err(why) => {
                tracing::debug!("AG-UI request refused: {why}");
                return wire::json(400, &json!({ "error": why }));
            }
        };
        let cfg = self.snapshot();
        match protocol::find(&cfg, &input) {
            Some(f) => wire::sse(&protocol::events(f, &input), f.delay),
            None => match &self.recorder {
                Some(r) => r.forward(req, input).await,
                None => {
                    tracing::debug!(message = ?input.last_user_text, tool_call = ?input.last_tool_call_id, "no AG-UI fixture matched");
                    wire::json(404, &json!({"error": "No matching AG-UI fixture"}))
                }
            },
        }
    }
}

impl Service for AguiService {
    fn name(&self) -> &str {
        "agui"
    }

    fn prefix(&self) -> &str {
        &self.prefix
    }

    fn handle(&self, req: ServiceRequest) -> Reply<'_> {
        Box::pin(async move {
            if let Some(not_found) = wire::only_the_root(&req.path, &self.prefix) {
                return not_found;
            }
            if req.method != Method::POST {
                let mut r = wire::json(
                    405,
                    &json!({"error": format!("Method {} not allowed", req.method)}),
                );
                r.headers_mut()
                    .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
                return r;
            }
            self.run(&req).await
        })
    }

    fn health(&self) -> Value {
        json!({"status": "ok", "fixtures": self.snapshot().fixtures.len()})
    }

    fn reset(&self) {}
}

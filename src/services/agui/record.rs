//! Recording an AG-UI agent (`aimock record --upstream-agui URL --agui FILE`): a run
//! no fixture answers is sent to the real agent with the caller's headers and body
//! (`Accept: text/event-stream`), its events are relayed as they arrive, and when the
//! run ends cleanly with a 2xx event stream they are saved as a fixture
//! `{match, events}`: matched on the tool call it answers when the last message is a
//! tool result, else on the last user message (a run with neither is relayed, not
//! saved). The recorded run's `threadId`/`runId` are kept as placeholders, so a replay
//! echoes the caller's. A non-2xx upstream reply is 502, as the reference.

use std::sync::{Arc, RwLock};

use http::Method;
use serde_json::{json, Value};

use super::config::AguiConfig;
use super::protocol::{self, RunInput};
use crate::respond::body::Body;
use crate::services::source::SourceFile;
use crate::services::upstream::{sse_payloads, Upstream};
use crate::services::wire;
use crate::services::ServiceRequest;

/// Forwards AG-UI misses and saves their events.
pub struct AguiRecorder {
    up: Upstream,
    config: Arc<RwLock<Arc<AguiConfig>>>,
    source: Arc<SourceFile>,
}

impl AguiRecorder {
    /// The recorder, when `aimock record --upstream-agui` was given.
    pub fn from_config(
        config: &crate::config::Config,
        shared: Arc<RwLock<Arc<AguiConfig>>>,
        source: Option<Arc<SourceFile>>,
    ) -> anyhow::Result<Option<AguiRecorder>> {
        let Some(up) = Upstream::from_config(config, "agui")? else {
            return Ok(None);
        };
        let source = source.ok_or_else(|| anyhow::anyhow!("--upstream-agui needs --agui FILE"))?;
        Ok(Some(AguiRecorder {
            up,
            config: shared,
            source,
        }))
    }

    /// Forward a run that missed and relay its events.
    pub async fn forward(&self, req: &ServiceRequest, input: RunInput) -> http::Response<Body> {
        let replace = [
            ("content-type", "application/json".to_string()),
            ("accept", "text/event-stream".to_string()),
        ];
        let resp = match self
            .up
            .send(Method::POST, &req.headers, &replace, req.body.clone())
            .await
        {
            Ok(r) => r,
            Err(why) => {
                tracing::warn!(upstream = %self.up.url, "AG-UI upstream failed: {why}");
                return wire::json(
                    502,
                    &json!({"error": format!("Proxy to upstream AG-UI agent failed: {why}")}),
                );
            }
        };
        let status = resp.status();
        tracing::info!(upstream = %self.up.url, status = status.as_u16(), "relaying an AG-UI run from upstream");
        if !status.is_success() {
            return wire::json(
                502,
                &json!({"error": format!("Upstream AG-UI agent answered {status}")}),
            );
        }
        let is_sse = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        let matched = protocol::recorded_match(&input);
        let save = (!self.up.proxy_only && is_sse)
            .then_some(())
            .and(matched)
            .map(|m| (self.config.clone(), self.source.clone(), m));
        if save.is_none() && !self.up.proxy_only {
            tracing::warn!("AG-UI run relayed but not recorded: no user message or tool result to match it on, or not an event stream");
        }
        self.up.relay(resp, move |bytes| {
            let Some((config, source, m)) = save else {
                return;
            };
            let events: Vec<Value> = sse_payloads(&bytes)
                .iter()
                .filter_map(|d| serde_json::from_str::<Value>(d).ok())
                .map(|e| protocol::keep(&e, &input))
                .collect();
            if events.is_empty() {
                return;
            }
            let saved = source.update(|section| {
                let list = section.entry("fixtures").or_insert_with(|| json!([]));
                if !list.is_array() {
                    *list = json!([]);
                }
                if let Some(a) = list.as_array_mut() {
                    a.push(json!({"match": m, "events": events}));
                }
            });
            let reloaded = saved.and_then(|()| {
                let fresh = AguiConfig::parse(&source.load()?)?;
                *config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
                Ok(())
            });
            match reloaded {
                Ok(()) => tracing::info!(file = %source.path().display(), "recorded an AG-UI run"),
                Err(e) => tracing::warn!("AG-UI recording not saved: {e:#}"),
            }
        })
    }
}

//! Recording an MCP server (`aimock record --upstream-mcp URL --mcp FILE`): a call the
//! config cannot answer (an unknown tool, resource or prompt) is sent to the real
//! server on aimock's own upstream session, its reply goes back to the client, and
//! what it said is saved into the section file in the shapes the config uses:
//!
//! - `tools/call` → a `tools` entry `{name, description?, inputSchema?, result}`
//!   (`result` the whole `CallToolResult`; description and schema from the upstream's
//!   `tools/list`, asked once);
//! - `resources/read` → a `resources` entry `{uri, name, mimeType?, contents}`;
//! - `prompts/get` → a `prompts` entry `{name, description?, arguments?, result}`.
//!
//! The saved file is loaded back at once, so the next identical call is a replay.
//! Upstream protocol errors are relayed and not saved.
//!
//! Not here: the HTTP client and limits (`services::upstream`), the file
//! (`services::source`).

use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::{json, Map, Value};

use super::config::McpConfig;
use super::protocol;
use crate::codec::jsonrpc::Call;
use crate::services::source::SourceFile;
use crate::services::upstream::{sse_payloads, Upstream};

/// Forwards MCP misses and saves what came back.
pub struct McpRecorder {
    up: Upstream,
    config: Arc<RwLock<Arc<McpConfig>>>,
    source: Arc<SourceFile>,
    /// aimock's session with the upstream, opened on the first miss.
    session: tokio::sync::Mutex<Option<String>>,
    /// The upstream's tool definitions, read once.
    tool_defs: tokio::sync::OnceCell<Vec<Value>>,
}

impl McpRecorder {
    /// The recorder, when `aimock record --upstream-mcp` was given.
    pub fn from_config(
        config: &crate::config::Config,
        shared: Arc<RwLock<Arc<McpConfig>>>,
        source: Option<Arc<SourceFile>>,
    ) -> anyhow::Result<Option<McpRecorder>> {
        let Some(up) = Upstream::from_config(config, "mcp")? else {
            return Ok(None);
        };
        let source = source.ok_or_else(|| anyhow::anyhow!("--upstream-mcp needs --mcp FILE"))?;
        Ok(Some(McpRecorder {
            up,
            config: shared,
            source,
            session: tokio::sync::Mutex::new(None),
            tool_defs: tokio::sync::OnceCell::new(),
        }))
    }

    /// Send one JSON-RPC message upstream on aimock's session; the reply to a request
    /// (`None` for a notification).
    async fn rpc(
        &self,
        headers: &HeaderMap,
        session: Option<&str>,
        message: &Value,
    ) -> Result<(Option<String>, u16, Option<Value>), String> {
        let mut replace = vec![
            ("accept", "application/json, text/event-stream".to_string()),
            ("content-type", "application/json".to_string()),
        ];
        if let Some(s) = session {
            replace.push(("mcp-session-id", s.to_string()));
        }
        let (head, body) = self
            .up
            .exchange(
                Method::POST,
                headers,
                &replace,
                Bytes::from(message.to_string()),
            )
            .await?;
        let sid = head
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let status = head.status.as_u16();
        if status == 202 || body.is_empty() {
            return Ok((sid, status, None));
        }
        let is_sse = head
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("text/event-stream"));
        let reply = if is_sse {
            // The reply is the stream's response message (requests and notifications
            // the server sends first are not answered by a mock and are skipped).
            sse_payloads(&body)
                .into_iter()
                .filter_map(|d| serde_json::from_str::<Value>(&d).ok())
                .find(|v| v.get("result").is_some() || v.get("error").is_some())
        } else {
            serde_json::from_slice(&body).ok()
        };
        Ok((sid, status, reply))
    }

    async fn open_session(&self, headers: &HeaderMap) -> Result<Option<String>, String> {
        let init = json!({"jsonrpc": "2.0", "id": "aimock-init", "method": "initialize", "params": {
            "protocolVersion": protocol::LATEST,
            "capabilities": {},
            "clientInfo": {"name": "aimock", "version": env!("CARGO_PKG_VERSION")}}});
        let (sid, status, reply) = self.rpc(headers, None, &init).await?;
        if !(200..300).contains(&status) || reply.as_ref().and_then(|r| r.get("result")).is_none() {
            return Err(format!(
                "upstream initialize failed with status {status}: {reply:?}"
            ));
        }
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        self.rpc(headers, sid.as_deref(), &note).await?;
        tracing::info!(upstream = %self.up.url, session = ?sid, "opened an upstream MCP session");
        Ok(sid)
    }

    /// Forward `call` (a miss) upstream and answer the client with its reply, saving it
    /// when it is a result.
    pub async fn forward(&self, call: &Call, headers: &HeaderMap) -> Result<Value, String> {
        let message = json!({"jsonrpc": "2.0", "id": call.reply_id(), "method": call.method,
                             "params": call.params.clone().unwrap_or_else(|| json!({}))});
        let mut reply = None;
        for attempt in 0..2 {
            let mut guard = self.session.lock().await;
            if guard.is_none() || attempt > 0 {
                *guard = self.open_session(headers).await?;
            }
            let sid = guard.clone();
            drop(guard);
            let (_, status, r) = self.rpc(headers, sid.as_deref(), &message).await?;
            if status == 404 && attempt == 0 {
                // The upstream forgot our session: open a new one, once.
                continue;
            }
            reply = r;
            break;
        }
        let mut reply = reply.ok_or("upstream sent no JSON-RPC reply")?;
        reply["id"] = call.reply_id();
        if let Some(result) = reply.get("result").cloned() {
            if self.up.proxy_only {
                return Ok(reply);
            }
            let entry = self.entry_for(call, &result, headers).await;
            if let Some((key, entry)) = entry {
                if let Err(e) = self.save(key, entry) {
                    tracing::warn!("MCP recording not saved: {e:#}");
                }
            }
        }
        Ok(reply)
    }

    async fn upstream_tools(&self, headers: &HeaderMap) -> &Vec<Value> {
        self.tool_defs
            .get_or_init(|| async {
                let sid = self.session.lock().await.clone();
                let list = json!({"jsonrpc": "2.0", "id": "aimock-tools", "method": "tools/list", "params": {}});
                match self.rpc(headers, sid.as_deref(), &list).await {
                    Ok((_, _, Some(r))) => r["result"]["tools"].as_array().cloned().unwrap_or_default(),
                    _ => Vec::new(),
                }
            })
            .await
    }

    async fn entry_for(
        &self,
        call: &Call,
        result: &Value,
        headers: &HeaderMap,
    ) -> Option<(&'static str, Map<String, Value>)> {
        let params = call.params_object()?;
        let mut e = Map::new();
        match call.method.as_str() {
            "tools/call" => {
                let name = params.get("name")?.as_str()?.to_string();
                let def = self
                    .upstream_tools(headers)
                    .await
                    .iter()
                    .find(|t| t.get("name").and_then(Value::as_str) == Some(&name))
                    .cloned();
                e.insert("name".into(), Value::String(name));
                for k in [
                    "title",
                    "description",
                    "inputSchema",
                    "outputSchema",
                    "annotations",
                ] {
                    if let Some(v) = def.as_ref().and_then(|d| d.get(k)) {
                        e.insert(k.into(), v.clone());
                    }
                }
                e.insert("result".into(), result.clone());
                Some(("tools", e))
            }
            "resources/read" => {
                let uri = params.get("uri")?.as_str()?.to_string();
                e.insert("uri".into(), Value::String(uri.clone()));
                e.insert("name".into(), Value::String(uri));
                if let Some(m) = result["contents"][0].get("mimeType") {
                    e.insert("mimeType".into(), m.clone());
                }
                e.insert(
                    "contents".into(),
                    result.get("contents").cloned().unwrap_or(json!([])),
                );
                Some(("resources", e))
            }
            "prompts/get" => {
                let name = params.get("name")?.as_str()?.to_string();
                e.insert("name".into(), Value::String(name));
                if let Some(d) = result.get("description") {
                    e.insert("description".into(), d.clone());
                }
                e.insert("result".into(), result.clone());
                Some(("prompts", e))
            }
            _ => None,
        }
    }

    fn save(&self, key: &str, entry: Map<String, Value>) -> anyhow::Result<()> {
        self.source.update(|section| {
            let list = section
                .entry(key.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !list.is_array() {
                *list = Value::Array(Vec::new());
            }
            if let Value::Array(a) = list {
                a.push(Value::Object(entry));
            }
        })?;
        let fresh = McpConfig::parse(&self.source.load()?)?;
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        tracing::info!(file = %self.source.path().display(), key, "recorded an MCP answer");
        Ok(())
    }
}

//! The `mcp` config section, read as the reference writes it, plus what aimock adds.
//!
//! ```json
//! { "path": "/mcp", "serverInfo": {"name": "mcp-mock", "version": "1.0.0"},
//!   "instructions": "...", "pageSize": 50, "responseMode": "json",
//!   "tools": [{"name", "description"?, "inputSchema"?, "outputSchema"?, "result"?, "isError"?}],
//!   "resources": [{"uri", "name", "mimeType"?, "description"?, "text"?, "blob"?}],
//!   "resourceTemplates": [{"uriTemplate", "name", "mimeType"?, "description"?}],
//!   "prompts": [{"name", "description"?, "arguments"?, "result"?: {"messages": [...]}}] }
//! ```
//!
//! Additions over the reference: `instructions`, `pageSize` (list pagination),
//! `responseMode` (`json`, the default, or `sse`: answer in an SSE stream when the
//! client accepts one), `resourceTemplates`, a tool `result` that is a whole
//! `CallToolResult` object, and a tool's `isError`.
//!
//! Entries are kept as the JSON they were written in (validated here): the protocol
//! module reads them, and the recorder appends entries in the same shape.

use anyhow::{bail, Context};
use serde_json::{Map, Value};

/// How a request's reply travels when the client accepts both JSON and SSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseMode {
    /// `application/json` (the default).
    #[default]
    Json,
    /// A `text/event-stream` holding the one reply.
    Sse,
}

/// The resolved `mcp` section.
#[derive(Debug, Clone, Default)]
pub struct McpConfig {
    /// `serverInfo` as the initialize result carries it.
    pub server_info: Value,
    /// `instructions`, if any.
    pub instructions: Option<String>,
    /// Items per list page (`None`: every item in one page).
    pub page_size: Option<usize>,
    /// JSON or SSE when the client accepts both.
    pub response_mode: ResponseMode,
    /// Tool entries as written (each has a string `name`).
    pub tools: Vec<Map<String, Value>>,
    /// Resource entries (each has a string `uri`).
    pub resources: Vec<Map<String, Value>>,
    /// Resource-template entries (each has a string `uriTemplate`).
    pub templates: Vec<Map<String, Value>>,
    /// Prompt entries (each has a string `name`).
    pub prompts: Vec<Map<String, Value>>,
}

fn entries(
    section: &Map<String, Value>,
    key: &str,
    id: &str,
) -> anyhow::Result<Vec<Map<String, Value>>> {
    let Some(v) = section.get(key) else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = v else {
        bail!("`{key}` must be an array");
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::Object(m) = item else {
                bail!("`{key}[{i}]` must be an object");
            };
            match m.get(id) {
                Some(Value::String(s)) if !s.is_empty() => Ok(m.clone()),
                _ => bail!("`{key}[{i}].{id}` must be a non-empty string"),
            }
        })
        .collect()
}

impl McpConfig {
    /// Read a section.
    pub fn parse(section: &Value) -> anyhow::Result<McpConfig> {
        let Value::Object(s) = section else {
            bail!("must be an object");
        };
        let server_info = match s.get("serverInfo") {
            None => serde_json::json!({"name": "mcp-mock", "version": "1.0.0"}),
            Some(Value::Object(m)) => {
                let mut m = m.clone();
                m.entry("name").or_insert_with(|| "mcp-mock".into());
                m.entry("version").or_insert_with(|| "1.0.0".into());
                Value::Object(m)
            }
            Some(_) => bail!("`serverInfo` must be an object"),
        };
        let instructions = match s.get("instructions") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(_) => bail!("`instructions` must be a string"),
        };
        let page_size = match s.get("pageSize") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                _ => bail!("`pageSize` must be a positive integer"),
            },
        };
        let response_mode = match s.get("responseMode").and_then(Value::as_str) {
            None => ResponseMode::Json,
            Some("json") => ResponseMode::Json,
            Some("sse") => ResponseMode::Sse,
            Some(other) => bail!("`responseMode` must be \"json\" or \"sse\", not {other:?}"),
        };
        let cfg = McpConfig {
            server_info,
            instructions,
            page_size,
            response_mode,
            tools: entries(s, "tools", "name")?,
            resources: entries(s, "resources", "uri")?,
            templates: entries(s, "resourceTemplates", "uriTemplate")?,
            prompts: entries(s, "prompts", "name")?,
        };
        for (i, t) in cfg.tools.iter().enumerate() {
            if let Some(schema) = t.get("inputSchema") {
                if !schema.is_object() {
                    bail!("`tools[{i}].inputSchema` must be an object");
                }
            }
        }
        for (i, p) in cfg.prompts.iter().enumerate() {
            if let Some(args) = p.get("arguments") {
                let ok = args.as_array().is_some_and(|a| {
                    a.iter()
                        .all(|x| x.get("name").is_some_and(Value::is_string))
                });
                if !ok {
                    bail!("`prompts[{i}].arguments` must be an array of objects with a `name`");
                }
            }
        }
        Ok(cfg)
    }

    /// Read a section, naming where it came from in the error.
    pub fn parse_from(section: &Value, origin: &str) -> anyhow::Result<McpConfig> {
        Self::parse(section).with_context(|| format!("MCP config from {origin}"))
    }

    /// The tool named `name`.
    pub fn tool(&self, name: &str) -> Option<&Map<String, Value>> {
        self.tools
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
    }

    /// The resource at `uri`.
    pub fn resource(&self, uri: &str) -> Option<&Map<String, Value>> {
        self.resources
            .iter()
            .find(|t| t.get("uri").and_then(Value::as_str) == Some(uri))
    }

    /// The prompt named `name`.
    pub fn prompt(&self, name: &str) -> Option<&Map<String, Value>> {
        self.prompts
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_reference_section_loads_with_defaults() {
        let c = McpConfig::parse(&json!({
            "tools": [{"name": "search", "result": "found"}],
            "resources": [{"uri": "file:///a", "name": "a", "text": "A"}],
            "prompts": [{"name": "p"}]
        }))
        .unwrap();
        assert_eq!(c.server_info["name"], "mcp-mock");
        assert!(c.tool("search").is_some() && c.tool("nope").is_none());
        assert!(c.resource("file:///a").is_some());
        assert_eq!(c.response_mode, ResponseMode::Json);
    }

    #[test]
    fn wrong_types_are_errors_that_name_the_key() {
        for (section, key) in [
            (json!({"tools": {}}), "tools"),
            (json!({"tools": [{"description": "x"}]}), "tools[0].name"),
            (
                json!({"tools": [{"name": "t", "inputSchema": 3}]}),
                "inputSchema",
            ),
            (json!({"resources": [{"uri": 1}]}), "resources[0].uri"),
            (json!({"pageSize": 0}), "pageSize"),
            (json!({"responseMode": "xml"}), "responseMode"),
            (
                json!({"prompts": [{"name": "p", "arguments": [1]}]}),
                "arguments",
            ),
            (json!([]), "object"),
        ] {
            let e = McpConfig::parse(&section).unwrap_err().to_string();
            assert!(e.contains(key), "{e} should name {key}");
        }
    }
}

//! MCP methods: what each JSON-RPC call answers from the config, as the current spec
//! (2025-11-25) and the official SDKs read it.
//!
//! Scope: the method table, version negotiation, pagination, tool results, prompt
//! argument substitution. Not here: sessions and HTTP (`mod.rs`, `session`), upstream
//! forwarding (`record`).

use serde_json::{json, Map, Value};

use super::config::McpConfig;
use crate::codec::jsonrpc::{RpcError, INVALID_PARAMS};

/// The protocol revisions the initialize handshake negotiates, oldest first.
pub const VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The newest revision served: the answer when the client asks for one we do not know.
pub const LATEST: &str = "2025-11-25";

/// Resource not found (the spec's code).
pub const RESOURCE_NOT_FOUND: i64 = -32002;

/// The version the server answers `initialize` with: the client's when supported (the
/// spec's rule), else the newest we speak (the client then decides whether to go on).
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| VERSIONS.iter().copied().find(|v| *v == r))
        .unwrap_or(LATEST)
}

/// The `initialize` result for `version`.
pub fn initialize_result(cfg: &McpConfig, version: &str) -> Value {
    let mut r = json!({
        "protocolVersion": version,
        "capabilities": {
            "tools": {"listChanged": false},
            "resources": {"subscribe": false, "listChanged": false},
            "prompts": {"listChanged": false},
        },
        "serverInfo": cfg.server_info,
    });
    if let Some(i) = &cfg.instructions {
        r["instructions"] = Value::String(i.clone());
    }
    r
}

/// How a method was answered: from the config, or not answerable from it (a miss the
/// recorder may forward).
pub enum Outcome {
    /// The result.
    Answer(Value),
    /// A protocol error.
    Error(RpcError),
    /// The config holds nothing for this call (an unknown tool, resource or prompt).
    Miss(RpcError),
}

impl From<Result<Value, RpcError>> for Outcome {
    fn from(r: Result<Value, RpcError>) -> Self {
        match r {
            Ok(v) => Outcome::Answer(v),
            Err(e) => Outcome::Error(e),
        }
    }
}

/// Answer one call (not `initialize`, which the transport handles with its session).
pub fn dispatch(cfg: &McpConfig, method: &str, params: Option<&Map<String, Value>>) -> Outcome {
    let Some(params) = params else {
        return Outcome::Error(RpcError::invalid_params("params must be an object"));
    };
    match method {
        "ping" => Outcome::Answer(json!({})),
        "tools/list" => page(cfg, params, &cfg.tools, "tools", tool_def).into(),
        "tools/call" => call_tool(cfg, params),
        "resources/list" => page(cfg, params, &cfg.resources, "resources", resource_def).into(),
        "resources/templates/list" => page(
            cfg,
            params,
            &cfg.templates,
            "resourceTemplates",
            template_def,
        )
        .into(),
        "resources/read" => read_resource(cfg, params),
        "prompts/list" => page(cfg, params, &cfg.prompts, "prompts", prompt_def).into(),
        "prompts/get" => get_prompt(cfg, params),
        // Accepted so clients that set a level do not fail; the mock logs nothing to them.
        "logging/setLevel" => Outcome::Answer(json!({})),
        other => Outcome::Error(RpcError::method_not_found(other)),
    }
}

/// One page of a list: `pageSize` items from the cursor on, with `nextCursor` when
/// more remain. Cursors are opaque to clients; ours is the next offset.
fn page(
    cfg: &McpConfig,
    params: &Map<String, Value>,
    items: &[Map<String, Value>],
    key: &str,
    def: fn(&Map<String, Value>) -> Value,
) -> Result<Value, RpcError> {
    let start = match params.get("cursor") {
        None | Some(Value::Null) => 0,
        Some(Value::String(c)) => c
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= items.len())
            .ok_or_else(|| RpcError::invalid_params(format!("Invalid cursor: {c}")))?,
        Some(_) => return Err(RpcError::invalid_params("cursor must be a string")),
    };
    let size = cfg.page_size.unwrap_or(usize::MAX);
    let end = start.saturating_add(size).min(items.len());
    let mut r = Map::new();
    r.insert(
        key.to_string(),
        Value::Array(items[start..end].iter().map(def).collect()),
    );
    if end < items.len() {
        r.insert("nextCursor".into(), Value::String(end.to_string()));
    }
    Ok(Value::Object(r))
}

fn pick(m: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|k| m.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

/// A tool as `tools/list` shows it: `inputSchema` is required by the spec (and the
/// Python SDK's model), so a tool configured without one gets the empty object schema.
fn tool_def(t: &Map<String, Value>) -> Value {
    let mut d = pick(
        t,
        &[
            "name",
            "title",
            "description",
            "inputSchema",
            "outputSchema",
            "annotations",
            "_meta",
        ],
    );
    d.entry("inputSchema")
        .or_insert_with(|| json!({"type": "object"}));
    Value::Object(d)
}

fn resource_def(r: &Map<String, Value>) -> Value {
    Value::Object(pick(
        r,
        &[
            "uri",
            "name",
            "title",
            "description",
            "mimeType",
            "size",
            "annotations",
        ],
    ))
}

fn template_def(r: &Map<String, Value>) -> Value {
    Value::Object(pick(
        r,
        &[
            "uriTemplate",
            "name",
            "title",
            "description",
            "mimeType",
            "annotations",
        ],
    ))
}

fn prompt_def(p: &Map<String, Value>) -> Value {
    Value::Object(pick(p, &["name", "title", "description", "arguments"]))
}

fn string_param<'a>(
    params: &'a Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<&'a str, RpcError> {
    match params.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(RpcError::invalid_params(format!("Missing {what}"))),
    }
}

fn call_tool(cfg: &McpConfig, params: &Map<String, Value>) -> Outcome {
    let name = match string_param(params, "name", "tool name") {
        Ok(n) => n,
        Err(e) => return Outcome::Error(e),
    };
    if !matches!(
        params.get("arguments"),
        None | Some(Value::Null | Value::Object(_))
    ) {
        return Outcome::Error(RpcError::invalid_params("arguments must be an object"));
    }
    let Some(tool) = cfg.tool(name) else {
        return Outcome::Miss(RpcError::invalid_params(format!("Unknown tool: {name}")));
    };
    Outcome::Answer(tool_result(tool))
}

/// A configured tool's `CallToolResult`. `result` may be a string (one text item), an
/// array (the content as is), an object holding `content` (a whole result), or another
/// object (structured content, with its JSON text as the content, as the spec asks
/// for compatibility). No `result`: empty content, as the reference.
pub fn tool_result(tool: &Map<String, Value>) -> Value {
    let is_error = tool
        .get("isError")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut r = match tool.get("result") {
        None | Some(Value::Null) => json!({"content": []}),
        Some(Value::String(s)) => json!({"content": [{"type": "text", "text": s}]}),
        Some(Value::Array(a)) => json!({ "content": a }),
        Some(Value::Object(m)) if m.contains_key("content") => Value::Object(m.clone()),
        Some(v @ Value::Object(_)) => {
            json!({"content": [{"type": "text", "text": v.to_string()}], "structuredContent": v})
        }
        Some(other) => json!({"content": [{"type": "text", "text": other.to_string()}]}),
    };
    if let Value::Object(m) = &mut r {
        if is_error || !m.contains_key("isError") {
            m.insert("isError".into(), Value::Bool(is_error));
        }
    }
    r
}

fn read_resource(cfg: &McpConfig, params: &Map<String, Value>) -> Outcome {
    let uri = match string_param(params, "uri", "resource URI") {
        Ok(u) => u,
        Err(e) => return Outcome::Error(e),
    };
    let Some(res) = cfg.resource(uri) else {
        return Outcome::Miss(RpcError::new(
            RESOURCE_NOT_FOUND,
            format!("Resource not found: {uri}"),
        ));
    };
    if let Some(contents) = res.get("contents").filter(|c| c.is_array()) {
        // A recorded read keeps the upstream's whole `contents`.
        return Outcome::Answer(json!({ "contents": contents }));
    }
    let mut item = Map::new();
    item.insert("uri".into(), Value::String(uri.to_string()));
    if let Some(m) = res.get("mimeType") {
        item.insert("mimeType".into(), m.clone());
    }
    match res.get("blob") {
        Some(b @ Value::String(_)) => {
            item.insert("blob".into(), b.clone());
        }
        _ => {
            let text = res.get("text").and_then(Value::as_str).unwrap_or("");
            item.insert("text".into(), Value::String(text.to_string()));
        }
    }
    Outcome::Answer(json!({"contents": [Value::Object(item)]}))
}

fn get_prompt(cfg: &McpConfig, params: &Map<String, Value>) -> Outcome {
    let name = match string_param(params, "name", "prompt name") {
        Ok(n) => n,
        Err(e) => return Outcome::Error(e),
    };
    let Some(prompt) = cfg.prompt(name) else {
        return Outcome::Miss(RpcError::invalid_params(format!("Unknown prompt: {name}")));
    };
    let args = match params.get("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Outcome::Error(RpcError::invalid_params("arguments must be an object")),
    };
    for a in prompt
        .get("arguments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let required = a.get("required").and_then(Value::as_bool).unwrap_or(false);
        let arg = a.get("name").and_then(Value::as_str).unwrap_or("");
        if required && !args.contains_key(arg) {
            return Outcome::Error(RpcError::new(
                INVALID_PARAMS,
                format!("Missing required argument: {arg}"),
            ));
        }
    }
    let mut result = match prompt.get("result") {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        _ => json!({"messages": []}),
    };
    if !result.get("messages").is_some_and(Value::is_array) {
        result["messages"] = json!([]);
    }
    if let (Some(d), None) = (prompt.get("description"), result.get("description")) {
        result["description"] = d.clone();
    }
    substitute(&mut result, &args);
    Outcome::Answer(result)
}

/// Replace `{{name}}` in every string of `v` by argument `name` (strings as they are,
/// other values as JSON). Unknown names are left as written.
fn substitute(v: &mut Value, args: &Map<String, Value>) {
    match v {
        Value::String(s) if s.contains("{{") => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(open) = rest.find("{{") {
                out.push_str(&rest[..open]);
                let after = &rest[open + 2..];
                match after.find("}}") {
                    Some(close) => {
                        let key = after[..close].trim();
                        match args.get(key) {
                            Some(Value::String(a)) => out.push_str(a),
                            Some(a) => out.push_str(&a.to_string()),
                            None => out.push_str(&rest[open..open + 2 + close + 2]),
                        }
                        rest = &after[close + 2..];
                    }
                    None => {
                        out.push_str(&rest[open..]);
                        rest = "";
                    }
                }
            }
            out.push_str(rest);
            *s = out;
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, args)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute(x, args)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: Value) -> McpConfig {
        McpConfig::parse(&v).unwrap()
    }

    fn answer(o: Outcome) -> Value {
        match o {
            Outcome::Answer(v) => v,
            Outcome::Error(e) | Outcome::Miss(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn the_clients_version_is_echoed_when_supported_and_the_latest_otherwise() {
        assert_eq!(negotiate(Some("2025-03-26")), "2025-03-26");
        assert_eq!(negotiate(Some("2099-01-01")), LATEST);
        assert_eq!(negotiate(None), LATEST);
    }

    #[test]
    fn tools_without_a_schema_list_with_the_empty_object_schema() {
        let c = cfg(
            json!({"tools": [{"name": "a"}, {"name": "b", "inputSchema": {"type": "object", "required": ["q"]}}]}),
        );
        let r = answer(dispatch(&c, "tools/list", Some(&Map::new())));
        assert_eq!(r["tools"][0]["inputSchema"], json!({"type": "object"}));
        assert_eq!(r["tools"][1]["inputSchema"]["required"], json!(["q"]));
    }

    #[test]
    fn lists_page_by_page_size_with_opaque_cursors() {
        let c = cfg(json!({"pageSize": 2, "tools": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}));
        let p1 = answer(dispatch(&c, "tools/list", Some(&Map::new())));
        assert_eq!(p1["tools"].as_array().unwrap().len(), 2);
        let cursor = p1["nextCursor"].as_str().unwrap().to_string();
        let mut params = Map::new();
        params.insert("cursor".into(), Value::String(cursor));
        let p2 = answer(dispatch(&c, "tools/list", Some(&params)));
        assert_eq!(p2["tools"][0]["name"], "c");
        assert!(p2.get("nextCursor").is_none());
        params.insert("cursor".into(), json!("bogus"));
        assert!(
            matches!(dispatch(&c, "tools/list", Some(&params)), Outcome::Error(e) if e.code == INVALID_PARAMS)
        );
    }

    #[test]
    fn tool_results_take_text_arrays_whole_results_and_structured_content() {
        let t = |v: Value| tool_result(v.as_object().unwrap());
        assert_eq!(
            t(json!({"name": "x", "result": "hi"})),
            json!({"content": [{"type": "text", "text": "hi"}], "isError": false})
        );
        assert_eq!(
            t(
                json!({"name": "x", "result": [{"type": "image", "data": "AA==", "mimeType": "image/png"}]})
            )["content"][0]["type"],
            "image"
        );
        assert_eq!(
            t(json!({"name": "x", "result": {"content": [], "isError": true}}))["isError"],
            true
        );
        let s = t(json!({"name": "x", "result": {"temp": 21}}));
        assert_eq!(s["structuredContent"], json!({"temp": 21}));
        assert_eq!(s["content"][0]["text"], r#"{"temp":21}"#);
        assert_eq!(
            t(json!({"name": "x", "result": "boom", "isError": true}))["isError"],
            true
        );
    }

    #[test]
    fn prompt_arguments_are_substituted_and_required_ones_enforced() {
        let c = cfg(
            json!({"prompts": [{"name": "greet", "arguments": [{"name": "who", "required": true}],
            "result": {"messages": [{"role": "user", "content": {"type": "text", "text": "Hello {{who}}, {{ other }}"}}]}}]}),
        );
        let mut params = Map::new();
        params.insert("name".into(), json!("greet"));
        assert!(
            matches!(dispatch(&c, "prompts/get", Some(&params)), Outcome::Error(e) if e.code == INVALID_PARAMS)
        );
        params.insert("arguments".into(), json!({"who": "Ada"}));
        let r = answer(dispatch(&c, "prompts/get", Some(&params)));
        assert_eq!(
            r["messages"][0]["content"]["text"],
            "Hello Ada, {{ other }}"
        );
    }

    #[test]
    fn unknown_tools_resources_and_prompts_are_misses_and_unknown_methods_errors() {
        let c = cfg(json!({}));
        let mut p = Map::new();
        p.insert("name".into(), json!("nope"));
        assert!(matches!(
            dispatch(&c, "tools/call", Some(&p)),
            Outcome::Miss(_)
        ));
        assert!(matches!(
            dispatch(&c, "prompts/get", Some(&p)),
            Outcome::Miss(_)
        ));
        p.insert("uri".into(), json!("file:///nope"));
        assert!(
            matches!(dispatch(&c, "resources/read", Some(&p)), Outcome::Miss(e) if e.code == RESOURCE_NOT_FOUND)
        );
        assert!(
            matches!(dispatch(&c, "sampling/whatever", Some(&p)), Outcome::Error(e) if e.code == -32601)
        );
        assert!(
            matches!(dispatch(&c, "tools/call", None), Outcome::Error(e) if e.code == INVALID_PARAMS)
        );
    }
}

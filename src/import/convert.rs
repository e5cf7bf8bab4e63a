//! The two sources the reference's `aimock convert` reads, imported here through the
//! same collapse as recordings, so a template's tool calls or usage come along:
//!
//! - **VidaiMock** response templates: one file per answer (`.tera`, `.json`, `.txt`,
//!   `.html`, `.jinja`, `.jinja2`, `.j2`), usually an OpenAI chat completion body with
//!   Tera expressions in it. Comments and `{% %}` blocks are dropped, `{{ name }}`
//!   becomes the text `[name]`; a body that is then JSON is the reply as it stands,
//!   any other text is the reply's content. The file's name (without a leading
//!   `NNN-` and with `-`/`_` as spaces) is the user message it answers, as in the
//!   reference.
//! - **mock-llm** YAML configs, in both shapes seen: the reference's
//!   `routes: [{method, path, match: {body}, response}]` (each response an OpenAI
//!   body, matched on the last user message of `match.body.messages`; `mcp.tools`
//!   becomes an `mcp` section file for `--mcp FILE`), and dwmkerr/mock-llm's own
//!   `rules: [{path, method, match, response: {status, content}}]`, whose `content` is
//!   the body as JSON text with `{{...}}` templates and whose `match` is a JMESPath
//!   expression: a `contains(...content, 'X')` or `... == 'X'` test on the messages
//!   gives the user message `X`; any other expression (`@` matches everything) has
//!   no aimock equivalent and the rule is skipped, saying so.
//!
//! Their matches keep only the user message (and model where the source names one):
//! these mocks never said which turn a reply belongs to.
//!
//! Not here: templating at replay time (a Tera expression is fixed text once imported).

use std::path::Path;

use anyhow::Context;
use regex::Regex;
use serde_json::{json, Value};

use super::Exchange;

/// The extensions the reference reads as VidaiMock templates.
pub(crate) fn is_template(ext: &str) -> bool {
    matches!(
        ext,
        "tera" | "json" | "txt" | "html" | "jinja" | "jinja2" | "j2"
    )
}

/// The user message a template answers, from its file name.
fn message_from_name(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let lead = Regex::new(r"^\d+[-_]").expect("valid regex");
    let stem = lead.replace(stem, "");
    let seps = Regex::new(r"[-_]+").expect("valid regex");
    seps.replace_all(&stem, " ").trim().to_string()
}

/// A template with its Tera syntax made plain text.
fn detemplate(raw: &str) -> String {
    let comment = Regex::new(r"(?s)\{#.*?#\}").expect("valid regex");
    let block = Regex::new(r"(?s)\{%.*?%\}").expect("valid regex");
    // Tera's `{{ name }}` and mock-llm's `{{jmes request body.x[-1]}}` alike.
    let expr = Regex::new(r"\{\{\s*([^{}]*?)\s*\}\}").expect("valid regex");
    let t = comment.replace_all(raw, "");
    let t = block.replace_all(&t, "");
    expr.replace_all(&t, "[$1]").trim().to_string()
}

/// An OpenAI chat completion body answering with `content`.
fn completion(content: &str) -> Value {
    json!({"object": "chat.completion", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]})
}

/// One VidaiMock template as a made-up chat call.
pub fn read_vidaimock(path: &Path) -> anyhow::Result<(Vec<Exchange>, Option<Value>)> {
    let raw =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = detemplate(&raw);
    if text.is_empty() {
        anyhow::bail!("the template is empty once its Tera syntax is removed");
    }
    // An expression inside a JSON string left `[name]`; one standing for a whole value
    // left a bare `[name]`, which is JSON too (an array of... nothing readable), so only
    // an object counts as a body.
    let reply = match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) if v.get("choices").is_some() => v,
        _ => completion(&text),
    };
    let user = message_from_name(path);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    Ok((
        vec![chat_call(
            name.to_string(),
            "POST",
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": user}]}),
            200,
            &reply,
        )],
        None,
    ))
}

fn chat_call(
    origin: String,
    method: &str,
    path: &str,
    body: Value,
    status: u16,
    reply: &Value,
) -> Exchange {
    Exchange {
        origin,
        method: method.to_string(),
        url: path.to_string(),
        request_headers: vec![("content-type".into(), "application/json".into())],
        request_body: serde_json::to_vec(&body).unwrap_or_default(),
        status,
        response_headers: vec![("content-type".into(), "application/json".into())],
        response_body: serde_json::to_vec(reply).unwrap_or_default(),
        synthetic: true,
        skip: None,
    }
}

/// One mock-llm config: its routes as made-up calls, and its MCP tools as an `mcp`
/// section.
pub fn read_mockllm(path: &Path) -> anyhow::Result<(Vec<Exchange>, Option<Value>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let yaml: serde_norway::Value = serde_norway::from_str(&text).context("not YAML")?;
    let doc: Value = serde_json::to_value(&yaml).context("YAML that has no JSON form")?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    let routes = doc.get("routes").and_then(Value::as_array);
    let rules = doc.get("rules").and_then(Value::as_array);
    let tools = doc.pointer("/mcp/tools").and_then(Value::as_array);
    if routes.is_none() && rules.is_none() && tools.is_none() {
        anyhow::bail!("no `routes`, `rules` or `mcp.tools`: not a mock-llm config");
    }
    let mut out = Vec::new();
    for (i, r) in rules.into_iter().flatten().enumerate() {
        out.push(rule_call(format!("{name} rules[{i}]"), r));
    }
    for (i, r) in routes.into_iter().flatten().enumerate() {
        let origin = format!("{name} routes[{i}]");
        let method = r["method"].as_str().unwrap_or("POST");
        let path = r["path"].as_str().unwrap_or("/v1/chat/completions");
        let body = match r.pointer("/match/body") {
            Some(b @ Value::Object(_)) => b.clone(),
            _ => json!({"messages": []}),
        };
        let status = r["status"].as_u64().unwrap_or(200) as u16;
        let reply = match &r["response"] {
            Value::String(s) => completion(s),
            v => v.clone(),
        };
        out.push(chat_call(origin, method, path, body, status, &reply));
    }
    let section = tools.filter(|t| !t.is_empty()).map(|tools| {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                let mut o = serde_json::Map::new();
                o.insert("name".into(), t["name"].clone());
                if let Some(d) = t.get("description") {
                    o.insert("description".into(), d.clone());
                }
                if let Some(p) = t.get("parameters").or_else(|| t.get("inputSchema")) {
                    o.insert("inputSchema".into(), p.clone());
                }
                if let Some(r) = t.get("response").or_else(|| t.get("result")) {
                    o.insert("result".into(), r.clone());
                }
                Value::Object(o)
            })
            .collect();
        json!({"mcp": {"tools": tools}})
    });
    Ok((out, section))
}

/// The user message a mock-llm JMESPath `match` tests for, if it is that simple.
fn jmes_user_message(expr: &str) -> Option<String> {
    let contains = Regex::new(r"^\s*contains\(\s*[\w.\[\]\-]*content\s*,\s*'([^']*)'\s*\)\s*$")
        .expect("valid regex");
    let equals = Regex::new(r"^\s*[\w.\[\]\-]*content\s*==\s*'([^']*)'\s*$").expect("valid regex");
    contains
        .captures(expr)
        .or_else(|| equals.captures(expr))
        .map(|c| c[1].to_string())
}

/// One dwmkerr/mock-llm rule as a made-up call; one whose match cannot be said as a
/// user message carries why it is skipped.
fn rule_call(origin: String, r: &Value) -> Exchange {
    let method = r["method"].as_str().unwrap_or("POST");
    let path = r["path"].as_str().unwrap_or("/v1/chat/completions");
    let status = r
        .pointer("/response/status")
        .and_then(Value::as_u64)
        .unwrap_or(200) as u16;
    let content = r
        .pointer("/response/content")
        .and_then(Value::as_str)
        .unwrap_or("");
    let text = detemplate(content);
    let reply = serde_json::from_str::<Value>(&text).unwrap_or_else(|_| completion(&text));
    let expr = r["match"].as_str().unwrap_or("@");
    let Some(user) = jmes_user_message(expr) else {
        let mut x = chat_call(origin, method, path, json!({}), status, &reply);
        x.skip = Some(format!(
            "its match `{expr}` names no user message (aimock has no catch-all fixture)"
        ));
        return x;
    };
    chat_call(
        origin,
        method,
        path,
        json!({"messages": [{"role": "user", "content": user}]}),
        status,
        &reply,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_names_become_user_messages() {
        assert_eq!(
            message_from_name(Path::new("d/003-tell_me-a_joke.tera")),
            "tell me a joke"
        );
        assert_eq!(message_from_name(Path::new("greeting.json")), "greeting");
    }

    #[test]
    fn simple_jmespath_tests_give_the_user_message() {
        assert_eq!(
            jmes_user_message("contains(body.messages[-1].content, 'hello')").as_deref(),
            Some("hello")
        );
        assert_eq!(
            jmes_user_message("body.messages[-1].content == 'error-401'").as_deref(),
            Some("error-401")
        );
        assert_eq!(jmes_user_message("@"), None);
        assert_eq!(jmes_user_message("length(body.messages) > `2`"), None);
    }

    #[test]
    fn tera_syntax_becomes_plain_text() {
        let t = "{# note #}{% if x %}{\"choices\":[{\"message\":{\"content\":\"Hi {{ user.name }}\"}}]}{% endif %}";
        assert_eq!(
            detemplate(t),
            "{\"choices\":[{\"message\":{\"content\":\"Hi [user.name]\"}}]}"
        );
    }
}

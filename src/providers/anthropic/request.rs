//! Anthropic Messages requests into the neutral [`ChatRequest`].
//!
//! Scope: `system`, `messages` (string or block content), `tools[].name`, `model`,
//! `stream`. Not here: extended-thinking invariant checks (they need strict mode, which
//! the pipeline decides after parsing) and anything about rendering.
//!
//! The rules that matter for matching:
//! - a user message that carries `tool_result` blocks becomes its text FIRST (when it
//!   has any) and then one tool message per result, so the current turn ends in a tool
//!   result and `hasToolResult` / `toolCallId` see it;
//! - `thinking` / `redacted_thinking` blocks never take part in matching;
//! - a message with no text block at all (an image-only turn) has no text, exactly like
//!   an attachment-only OpenAI message, so "the last user message" skips it.

use serde_json::{Map, Value};

use crate::providers::common::{json_body, ParseError};
use crate::request::{ChatRequest, Endpoint, Message, Role, ToolCallRef};

/// Parse a `POST /v1/messages` body: skimmed when it has a common shape, else read
/// through a `Value` (see `providers::skim`).
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, ParseError> {
    match super::skim::parse(body) {
        Some(req) => Ok(req),
        None => parse_by_value(body),
    }
}

/// Parse a `POST /v1/messages` body through a `Value`: every shape, every error.
pub(super) fn parse_by_value(body: &[u8]) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let mut req = ChatRequest::new(Endpoint::Chat, body);
    parse_into(&o, &mut req)?;
    Ok(req)
}

/// Fill `req` from an Anthropic-shaped body. Public so surfaces that carry the same
/// body (Bedrock invoke) parse it identically.
pub fn parse_into(o: &Map<String, Value>, req: &mut ChatRequest) -> Result<(), ParseError> {
    let Some(messages) = o.get("messages").and_then(|m| m.as_array()) else {
        return Err(ParseError::bad(
            "missing_required_parameter",
            "messages: Field required",
        ));
    };
    if let Some(system) = o.get("system").and_then(|s| block_text(Some(s))) {
        req.messages.push(Message::text(Role::System, system));
    }
    req.messages.extend(parse_messages(messages));
    if let Some(m) = o.get("model").and_then(|m| m.as_str()) {
        req.model = Some(m.to_string());
    }
    req.tools = o
        .get("tools")
        .and_then(|t| t.as_array())
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t.get("name").and_then(|n| n.as_str()).map(String::from))
                .collect()
        })
        .unwrap_or_default();
    req.stream = o.get("stream").and_then(|s| s.as_bool()).unwrap_or(false);
    Ok(())
}

/// Text of a string, or of the `text` blocks of an array joined with "". `None` when
/// there is no text at all.
fn block_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Array(blocks) => {
            let texts: Vec<&str> = blocks
                .iter()
                .filter(|b| b.get("type").and_then(|t| t.as_str()) == Some("text"))
                .filter_map(|b| b.get("text").and_then(|t| t.as_str()))
                .collect();
            (!texts.is_empty()).then(|| texts.concat())
        }
        _ => None,
    }
}

/// The conversation, oldest first. Null and non-object entries are skipped.
pub fn parse_messages(list: &[Value]) -> Vec<Message> {
    let mut out = Vec::with_capacity(list.len());
    for m in list {
        let Some(o) = m.as_object() else { continue };
        let content = o.get("content");
        let blocks: &[Value] = match content {
            Some(Value::Array(a)) => a,
            _ => &[],
        };
        match o.get("role").and_then(|r| r.as_str()) {
            Some("assistant") => out.push(Message {
                role: Role::Assistant,
                text: block_text(content),
                tool_calls: blocks.iter().filter_map(tool_use).collect(),
                tool_call_id: None,
            }),
            _ => {
                let results: Vec<Message> = blocks.iter().filter_map(tool_result).collect();
                let text = block_text(content);
                // With tool results, the user's own words go first so the turn ends in a
                // tool result; without any, the message is kept even when it has no text.
                if results.is_empty() || text.is_some() {
                    out.push(Message {
                        role: Role::User,
                        text,
                        tool_calls: Vec::new(),
                        tool_call_id: None,
                    });
                }
                out.extend(results);
            }
        }
    }
    out
}

fn tool_use(b: &Value) -> Option<ToolCallRef> {
    if b.get("type").and_then(|t| t.as_str()) != Some("tool_use") {
        return None;
    }
    let s = |k: &str| {
        b.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    Some(ToolCallRef {
        id: s("id"),
        name: s("name"),
        arguments: match b.get("input") {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "{}".to_string(),
        },
    })
}

fn tool_result(b: &Value) -> Option<Message> {
    if b.get("type").and_then(|t| t.as_str()) != Some("tool_result") {
        return None;
    }
    let id = b
        .get("tool_use_id")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    // A result without content (or with only images) still answers the call.
    let text = block_text(b.get("content")).unwrap_or_default();
    Some(Message::tool_result(id, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> ChatRequest {
        parse_request(body.as_bytes()).unwrap()
    }

    #[test]
    fn system_blocks_and_string_content_become_system_and_user_messages() {
        let r = parse(
            r#"{"model":"claude-x","system":[{"type":"text","text":"be "},{"type":"text","text":"brief"}],
                "messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":{}}],"stream":true}"#,
        );
        assert_eq!(r.system_text(), "be brief");
        assert_eq!(r.last_user_text(), Some("hi"));
        assert_eq!(r.model.as_deref(), Some("claude-x"));
        assert_eq!(r.tools, vec!["f".to_string()]);
        assert!(r.stream);
    }

    #[test]
    fn tool_results_come_after_the_user_text_of_the_same_message() {
        let r = parse(
            r#"{"messages":[
                {"role":"user","content":"weather?"},
                {"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},
                    {"type":"text","text":"checking"},
                    {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
                {"role":"user","content":[
                    {"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"sunny"}]},
                    {"type":"text","text":"and tomorrow?"}]}]}"#,
        );
        let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            vec![Role::User, Role::Assistant, Role::User, Role::Tool]
        );
        assert!(r.has_tool_result());
        assert_eq!(r.last_user_text(), Some("and tomorrow?"));
        let tool = r.trailing_tool_message().unwrap();
        assert_eq!(tool.tool_call_id.as_deref(), Some("toolu_1"));
        assert_eq!(tool.text.as_deref(), Some("sunny"));
        let a = &r.messages[1];
        assert_eq!(a.text.as_deref(), Some("checking"));
        assert_eq!(a.tool_calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!(r.assistant_count(), 1);
    }

    #[test]
    fn a_message_of_only_tool_results_adds_no_empty_user_message() {
        let r = parse(
            r#"{"messages":[{"role":"user","content":"q"},
                {"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":"r1"},
                                          {"type":"tool_result","tool_use_id":"b"}]}]}"#,
        );
        assert_eq!(r.messages.len(), 4);
        assert_eq!(r.messages[3].tool_call_id.as_deref(), Some("b"));
        assert_eq!(r.messages[3].text.as_deref(), Some(""));
        assert_eq!(r.last_user_text(), Some("q"));
        assert!(r.has_tool_result());
    }

    #[test]
    fn image_only_messages_have_no_text_and_junk_entries_are_skipped() {
        let r = parse(
            r#"{"messages":[{"role":"user","content":"describe"}, null, 3,
                {"role":"user","content":[{"type":"image","source":{"type":"base64","data":"x"}}]}]}"#,
        );
        assert_eq!(r.messages.len(), 2);
        assert_eq!(r.messages[1].text, None);
        assert_eq!(r.last_user_text(), Some("describe"));
    }

    #[test]
    fn a_body_without_messages_or_json_is_a_400() {
        assert_eq!(parse_request(br#"{"model":"m"}"#).unwrap_err().status, 400);
        assert_eq!(parse_request(b"{oops").unwrap_err().status, 400);
        assert_eq!(parse_request(b"[]").unwrap_err().status, 400);
    }
}

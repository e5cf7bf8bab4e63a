//! OpenAI Responses requests into the neutral [`ChatRequest`].
//!
//! Scope: `instructions`, `input` (a string or an item list), flat function `tools`,
//! `text.format.type` (JSON mode), `stream`, `include`, and the fields the reply echoes.
//! Not here: rendering, and resolving `previous_response_id` (we keep no server state;
//! a request that leans on it matches on what it carries).
//!
//! Items map onto chat messages the way a chat-completions client would have sent the
//! same conversation, so one fixture answers both surfaces:
//! - `message` items (or bare `{role, content}`) by role, text parts joined with "";
//! - `function_call` items join the assistant message right before them (a turn with
//!   text and calls is one assistant message, as in chat), else start one;
//! - `function_call_output` items are tool messages for `call_id`; when no assistant
//!   message carries that call (the client sent only the output and a
//!   `previous_response_id`), one is supplied so turn counts stay right;
//! - `item_reference` is an assistant placeholder; reasoning and other items are ignored.

use serde_json::{Map, Value};

use crate::providers::common::{json_body, ParseError};
use crate::providers::openai::chat::{content_text, tool_names};
use crate::request::{ChatRequest, Endpoint, Message, Role, ToolCallRef};

/// Request fields the real API echoes back in the response object.
const ECHOED: &[&str] = &[
    "background",
    "instructions",
    "max_output_tokens",
    "max_tool_calls",
    "metadata",
    "parallel_tool_calls",
    "previous_response_id",
    "reasoning",
    "store",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "truncation",
    "user",
];

/// Parse a `POST /v1/responses` body.
pub fn parse_request(body: &[u8]) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let mut req = ChatRequest::new(Endpoint::Chat, body);
    if let Some(i) = o.get("instructions").and_then(|v| v.as_str()) {
        req.messages.push(Message::text(Role::System, i));
    }
    match o.get("input") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => req.messages.push(Message::text(Role::User, s.clone())),
        Some(Value::Array(items)) => req.messages.extend(parse_items(items)),
        Some(_) => {
            return Err(ParseError::bad(
                "invalid_type",
                "Invalid type for 'input': expected a string or an array of input items.",
            ))
        }
    }
    req.model = o.get("model").and_then(|m| m.as_str()).map(String::from);
    req.tools = tool_names(&o);
    req.response_format = o
        .get("text")
        .and_then(|t| t.get("format"))
        .or_else(|| o.get("response_format"))
        .and_then(|f| f.get("type"))
        .and_then(|t| t.as_str())
        .map(String::from);
    req.stream = o.get("stream").and_then(|s| s.as_bool()).unwrap_or(false);
    // The real API returns encrypted reasoning only when asked with `include`.
    req.hints.encrypted_reasoning = o
        .get("include")
        .and_then(|i| i.as_array())
        .is_some_and(|a| {
            a.iter()
                .any(|v| v.as_str() == Some("reasoning.encrypted_content"))
        });
    req.hints.echo = echo_fields(&o);
    Ok(req)
}

fn echo_fields(o: &Map<String, Value>) -> Map<String, Value> {
    ECHOED
        .iter()
        .filter_map(|k| o.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

fn str_field(o: &Map<String, Value>, key: &str) -> String {
    o.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// The conversation an `input` item list describes.
pub fn parse_items(items: &[Value]) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::with_capacity(items.len());
    // Indices of `item_reference` placeholders: assistant turns we only know by id.
    let mut placeholders: Vec<usize> = Vec::new();
    for item in items {
        let Some(o) = item.as_object() else { continue };
        match o.get("type").and_then(|t| t.as_str()) {
            Some("function_call") => {
                let call = ToolCallRef {
                    id: str_field(o, "call_id"),
                    name: str_field(o, "name"),
                    arguments: match o.get("arguments") {
                        Some(Value::String(s)) => s.clone(),
                        Some(v) => v.to_string(),
                        None => "{}".to_string(),
                    },
                };
                match out.last_mut() {
                    Some(m) if m.role == Role::Assistant => m.tool_calls.push(call),
                    _ => out.push(assistant_with(call)),
                }
            }
            Some("function_call_output") => {
                let id = str_field(o, "call_id");
                let answered = out
                    .iter()
                    .any(|m| m.role == Role::Assistant && m.tool_calls.iter().any(|c| c.id == id));
                if !answered {
                    supply_call(&mut out, &placeholders, &id);
                }
                let text = content_text(o.get("output")).unwrap_or_default();
                out.push(Message::tool_result(id, text));
            }
            Some("item_reference") => {
                placeholders.push(out.len());
                out.push(Message::text(Role::Assistant, ""));
            }
            Some("message") | None => {
                let role = match o.get("role").and_then(|r| r.as_str()) {
                    Some("system") | Some("developer") => Role::System,
                    Some("assistant") => Role::Assistant,
                    _ => Role::User,
                };
                out.push(Message {
                    role,
                    text: content_text(o.get("content")),
                    tool_calls: Vec::new(),
                    tool_call_id: None,
                });
            }
            // reasoning, web_search_call, computer_call, ...: nothing to match on.
            Some(_) => {}
        }
    }
    out
}

fn assistant_with(call: ToolCallRef) -> Message {
    Message {
        role: Role::Assistant,
        text: None,
        tool_calls: vec![call],
        tool_call_id: None,
    }
}

/// Attach an unknown call id to the current turn: to the latest placeholder or
/// assistant-with-calls after the last user message, else to a new assistant message.
fn supply_call(out: &mut Vec<Message>, placeholders: &[usize], id: &str) {
    let start = out
        .iter()
        .rposition(|m| m.role == Role::User)
        .map_or(0, |i| i + 1);
    let call = ToolCallRef {
        id: id.to_string(),
        ..ToolCallRef::default()
    };
    let target = (start..out.len()).rev().find(|&i| {
        out[i].role == Role::Assistant
            && (placeholders.contains(&i) || !out[i].tool_calls.is_empty())
    });
    match target {
        Some(i) => out[i].tool_calls.push(call),
        None => out.push(assistant_with(call)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> ChatRequest {
        parse_request(body.as_bytes()).unwrap()
    }

    #[test]
    fn instructions_and_string_input_become_system_and_user_messages() {
        let r =
            parse(r#"{"model":"gpt-4o","instructions":"be brief","input":"hello","stream":true}"#);
        assert_eq!(r.system_text(), "be brief");
        assert_eq!(r.last_user_text(), Some("hello"));
        assert!(r.stream);
        assert_eq!(r.hints.echo["instructions"], "be brief");
    }

    #[test]
    fn item_lists_map_roles_parts_calls_and_outputs() {
        let r = parse(
            r#"{"input":[
                {"role":"developer","content":"rules"},
                {"type":"message","role":"user","content":[{"type":"input_text","text":"weather "},{"type":"input_text","text":"in Paris?"}]},
                {"type":"reasoning","id":"rs_1","summary":[]},
                {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Checking."}]},
                {"type":"function_call","call_id":"call_a","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
                {"type":"function_call","call_id":"call_b","name":"get_time","arguments":"{}"},
                {"type":"function_call_output","call_id":"call_a","output":"sunny"},
                {"type":"function_call_output","call_id":"call_b","output":"noon"}],
              "tools":[{"type":"function","name":"get_weather","parameters":{}}],
              "text":{"format":{"type":"json_object"}}}"#,
        );
        let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::System,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::Tool
            ]
        );
        assert_eq!(r.last_user_text(), Some("weather in Paris?"));
        assert_eq!(r.messages[2].text.as_deref(), Some("Checking."));
        assert_eq!(r.messages[2].tool_calls.len(), 2);
        assert_eq!(r.assistant_count(), 1);
        assert!(r.has_tool_result());
        assert_eq!(
            r.trailing_tool_message().unwrap().tool_call_id.as_deref(),
            Some("call_b")
        );
        assert_eq!(r.tools, ["get_weather"]);
        assert_eq!(r.response_format.as_deref(), Some("json_object"));
    }

    #[test]
    fn an_output_for_an_unknown_call_gets_an_assistant_turn() {
        let r = parse(
            r#"{"previous_response_id":"resp_1","input":[
                {"type":"function_call_output","call_id":"call_x","output":"42"}]}"#,
        );
        assert_eq!(r.assistant_count(), 1);
        assert_eq!(r.messages[0].tool_calls[0].id, "call_x");
        assert!(r.has_tool_result());
        // An item_reference placeholder is upgraded instead of adding a second turn.
        let r = parse(
            r#"{"input":[{"role":"user","content":"q"},{"type":"item_reference","id":"fc_1"},
                {"type":"function_call_output","call_id":"c1","output":"a"},
                {"type":"function_call_output","call_id":"c2","output":"b"}]}"#,
        );
        assert_eq!(r.assistant_count(), 1);
        assert_eq!(r.messages[1].tool_calls.len(), 2);
    }

    #[test]
    fn encrypted_reasoning_is_requested_only_through_include() {
        assert!(
            parse(r#"{"input":"x","include":["reasoning.encrypted_content"]}"#)
                .hints
                .encrypted_reasoning
        );
        assert!(
            !parse(r#"{"input":"x","store":false}"#)
                .hints
                .encrypted_reasoning
        );
    }

    #[test]
    fn bad_bodies_are_400s() {
        assert_eq!(parse_request(b"{nope").unwrap_err().status, 400);
        assert_eq!(parse_request(br#"{"input":5}"#).unwrap_err().status, 400);
    }
}

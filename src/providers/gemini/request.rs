//! Gemini/Vertex request bodies to [`ChatRequest`]: `systemInstruction`, `contents`
//! (text, `functionCall`, `functionResponse`; `thought` parts ignored), tools,
//! JSON mode, and the embedding inputs of `:embedContent` / `:batchEmbedContents`.
//!
//! Function calls carry no id on the wire unless the client sets one, so ids are derived
//! the same way on every request: a model-turn call without an `id` becomes
//! `call_gemini_<name>_<i>` (i = its position among that turn's calls), and a
//! `functionResponse` without an `id` takes the id of the first same-name call of the
//! latest model turn that no earlier response used. A fixture's `toolCallId` can
//! therefore name either the id it pinned (sent back by the SDK) or the derived one.

use serde_json::{Map, Value};

use crate::providers::common::{json_body, ParseError, RequestParts};
use crate::request::{ChatRequest, Endpoint, Message, Role, ToolCallRef};

/// Parse a `generateContent` / `streamGenerateContent` body.
pub(super) fn parse_generate(
    parts: &RequestParts,
    body: &[u8],
    model: &str,
    stream: bool,
) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let Some(contents) = o.get("contents").and_then(|c| c.as_array()) else {
        return Err(ParseError::bad(
            "invalid_argument",
            "* GenerateContentRequest.contents: contents is not specified",
        ));
    };
    let mut req = ChatRequest::new(Endpoint::Chat, body);
    req.model = Some(model.to_string());
    req.stream = stream;
    req.hints.alt_sse = parts.query_param("alt").as_deref() == Some("sse");
    if let Some(sys) = field(&o, "systemInstruction", "system_instruction") {
        if let Some(text) = system_text(sys) {
            req.messages.push(Message::text(Role::System, text));
        }
    }
    req.messages.extend(parse_contents(contents));
    req.tools = tool_names(&o);
    req.response_format = response_format(&o);
    Ok(req)
}

/// Parse an `embedContent` (one input) or `batchEmbedContents` (one per request) body.
pub(super) fn parse_embed(
    body: &[u8],
    model: &str,
    batch: bool,
) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let mut req = ChatRequest::new(Endpoint::Embedding, body);
    req.model = Some(model.to_string());
    let inputs: Vec<String> = if batch {
        let Some(requests) = o.get("requests").and_then(|r| r.as_array()) else {
            return Err(ParseError::bad(
                "invalid_argument",
                "* BatchEmbedContentsRequest.requests: requests is not specified",
            ));
        };
        if let Some(first) = requests.first().and_then(|r| r.as_object()) {
            req.hints.dimensions = dimensions(first);
        }
        requests
            .iter()
            .map(|r| r.get("content").map(content_text).unwrap_or_default())
            .collect()
    } else {
        let Some(content) = o.get("content") else {
            return Err(ParseError::bad(
                "invalid_argument",
                "* EmbedContentRequest.content: content is not specified",
            ));
        };
        req.hints.dimensions = dimensions(&o);
        vec![content_text(content)]
    };
    req.hints.embedding_count = inputs.len();
    req.embedding_inputs = Some(inputs);
    Ok(req)
}

/// `outputDimensionality` at the top level (Gemini) or under `embedContentConfig` (Vertex).
fn dimensions(o: &Map<String, Value>) -> Option<usize> {
    let direct = field(o, "outputDimensionality", "output_dimensionality");
    let nested = field(o, "embedContentConfig", "embed_content_config")
        .and_then(|c| c.as_object())
        .and_then(|c| field(c, "outputDimensionality", "output_dimensionality"));
    direct
        .or(nested)
        .and_then(|d| d.as_u64())
        .map(|d| d.clamp(1, 65_536) as usize)
}

/// The REST API is camelCase, but Google's parsers accept snake_case too.
fn field<'a>(o: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    o.get(camel).or_else(|| o.get(snake))
}

fn is_thought(part: &Value) -> bool {
    part.get("thought").and_then(|t| t.as_bool()) == Some(true)
}

/// Text of a `Content` (non-thought text parts joined with ""), or a bare string.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        other => other
            .get("parts")
            .and_then(|p| p.as_array())
            .map(|parts| {
                parts
                    .iter()
                    .filter(|p| !is_thought(p))
                    .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
                    .collect::<String>()
            })
            .unwrap_or_default(),
    }
}

pub(super) fn system_text(sys: &Value) -> Option<String> {
    match sys {
        Value::String(s) => Some(s.clone()),
        Value::Object(_) => {
            let has_text = sys
                .get("parts")
                .and_then(|p| p.as_array())
                .is_some_and(|p| p.iter().any(|x| x.get("text").is_some()));
            has_text.then(|| content_text(sys))
        }
        _ => None,
    }
}

/// The conversation, oldest first, with tool results linked to their calls.
pub(super) fn parse_contents(list: &[Value]) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::with_capacity(list.len());
    // Ids already answered by a functionResponse, so two same-name calls get one each.
    let mut answered: Vec<String> = Vec::new();
    let mut unmatched = 0usize;
    for content in list {
        let Some(o) = content.as_object() else {
            continue;
        };
        let parts: &[Value] = o
            .get("parts")
            .and_then(|p| p.as_array())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        match o.get("role").and_then(|r| r.as_str()).unwrap_or("user") {
            "model" => out.push(model_turn(parts)),
            role @ ("user" | "function" | "tool") => {
                let mut texts: Vec<&str> = Vec::new();
                let mut other = false;
                for p in parts.iter().filter(|p| !is_thought(p)) {
                    if let Some(fr) = p.get("functionResponse") {
                        let name = fr.get("name").and_then(|n| n.as_str()).unwrap_or_default();
                        let id = match fr.get("id").and_then(|i| i.as_str()) {
                            Some(id) => id.to_string(),
                            None => match open_call(&out, name, &answered) {
                                Some(id) => id,
                                None => {
                                    unmatched += 1;
                                    format!("call_gemini_{name}_{}", unmatched - 1)
                                }
                            },
                        };
                        answered.push(id.clone());
                        let text = match fr.get("response") {
                            Some(Value::String(s)) => s.clone(),
                            Some(v) => v.to_string(),
                            None => String::new(),
                        };
                        out.push(Message::tool_result(id, text));
                    } else if let Some(t) = p.get("text").and_then(|t| t.as_str()) {
                        texts.push(t);
                    } else {
                        other = true;
                    }
                }
                if !texts.is_empty() {
                    out.push(Message::text(Role::User, texts.concat()));
                } else if other && role == "user" {
                    // An attachment-only turn: a user message with no text at all.
                    let mut m = Message::text(Role::User, "");
                    m.text = None;
                    out.push(m);
                }
            }
            _ => {}
        }
    }
    out
}

fn model_turn(parts: &[Value]) -> Message {
    let mut texts: Vec<&str> = Vec::new();
    let mut calls: Vec<ToolCallRef> = Vec::new();
    for p in parts.iter().filter(|p| !is_thought(p)) {
        if let Some(fc) = p.get("functionCall") {
            let name = fc
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or_default()
                .to_string();
            let id = fc
                .get("id")
                .and_then(|i| i.as_str())
                .map(String::from)
                .unwrap_or_else(|| format!("call_gemini_{name}_{}", calls.len()));
            let arguments = fc
                .get("args")
                .map(|a| a.to_string())
                .unwrap_or_else(|| "{}".to_string());
            calls.push(ToolCallRef {
                id,
                name,
                arguments,
            });
        } else if let Some(t) = p.get("text").and_then(|t| t.as_str()) {
            texts.push(t);
        }
    }
    Message {
        role: Role::Assistant,
        text: (!texts.is_empty()).then(|| texts.concat()),
        tool_calls: calls,
        tool_call_id: None,
    }
}

/// The first call named `name` in the latest model turn that is not answered yet.
fn open_call(out: &[Message], name: &str, answered: &[String]) -> Option<String> {
    let last = out.iter().rev().find(|m| m.role == Role::Assistant)?;
    last.tool_calls
        .iter()
        .find(|c| c.name == name && !answered.contains(&c.id))
        .map(|c| c.id.clone())
}

pub(super) fn tool_names(o: &Map<String, Value>) -> Vec<String> {
    let mut names = Vec::new();
    for tool in o
        .get("tools")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
    {
        let Some(t) = tool.as_object() else { continue };
        let decls = field(t, "functionDeclarations", "function_declarations")
            .and_then(|d| d.as_array())
            .into_iter()
            .flatten();
        names
            .extend(decls.filter_map(|d| d.get("name").and_then(|n| n.as_str()).map(String::from)));
    }
    names
}

/// JSON mode: `responseMimeType: application/json` is `json_object`, or `json_schema`
/// when a schema comes with it (the OpenAI vocabulary fixtures use).
fn response_format(o: &Map<String, Value>) -> Option<String> {
    let config = field(o, "generationConfig", "generation_config")?.as_object()?;
    let mime = field(config, "responseMimeType", "response_mime_type")?.as_str()?;
    if mime != "application/json" {
        return None;
    }
    let schema = [
        "responseSchema",
        "response_schema",
        "responseJsonSchema",
        "response_json_schema",
    ]
    .iter()
    .any(|k| config.get(*k).is_some_and(|v| !v.is_null()));
    Some(if schema { "json_schema" } else { "json_object" }.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str, query: Option<&str>) -> ChatRequest {
        let headers = http::HeaderMap::new();
        let parts = RequestParts {
            path: "/v1beta/models/gemini-2.0-flash:generateContent",
            query,
            headers: &headers,
        };
        parse_generate(&parts, body.as_bytes(), "gemini-2.0-flash", false).unwrap()
    }

    #[test]
    fn system_instruction_contents_and_tools_are_normalised() {
        let r = parse(
            r#"{"systemInstruction":{"parts":[{"text":"Be "},{"text":"brief"}]},
                "contents":[{"parts":[{"text":"hi"},{"text":" there"}]},
                            {"role":"model","parts":[{"text":"hidden","thought":true},{"text":"hello"}]},
                            {"role":"user","parts":[{"text":"again"}]}],
                "tools":[{"functionDeclarations":[{"name":"a"},{"name":"b"}]}]}"#,
            Some("alt=sse"),
        );
        assert_eq!(r.system_text(), "Be brief");
        assert_eq!(r.messages[1], Message::text(Role::User, "hi there"));
        assert_eq!(r.messages[2].text.as_deref(), Some("hello"));
        assert_eq!(r.last_user_text(), Some("again"));
        assert_eq!(r.tools, vec!["a", "b"]);
        assert_eq!(r.model.as_deref(), Some("gemini-2.0-flash"));
        assert!(r.hints.alt_sse);
    }

    #[test]
    fn function_responses_take_the_id_of_the_matching_earlier_call() {
        let r = parse(
            r#"{"contents":[
                {"role":"user","parts":[{"text":"weather in Paris and Rome"}]},
                {"role":"model","parts":[
                    {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},
                    {"functionCall":{"name":"get_weather","args":{"city":"Rome"},"id":"pinned"}}]},
                {"role":"user","parts":[
                    {"functionResponse":{"name":"get_weather","response":{"t":20}}},
                    {"functionResponse":{"name":"get_weather","response":{"t":25}}}]}]}"#,
            None,
        );
        let calls = &r.messages[1].tool_calls;
        assert_eq!(calls[0].id, "call_gemini_get_weather_0");
        assert_eq!(calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!(calls[1].id, "pinned");
        assert_eq!(
            r.messages[2].tool_call_id.as_deref(),
            Some("call_gemini_get_weather_0")
        );
        assert_eq!(r.messages[3].tool_call_id.as_deref(), Some("pinned"));
        assert_eq!(r.messages[3].text.as_deref(), Some(r#"{"t":25}"#));
        assert!(r.has_tool_result());
        assert_eq!(r.assistant_count(), 1);
        assert!(!r.hints.alt_sse);
    }

    #[test]
    fn a_response_with_no_matching_call_gets_a_derived_id() {
        let r = parse(
            r#"{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}]}"#,
            None,
        );
        assert_eq!(
            r.messages[0].tool_call_id.as_deref(),
            Some("call_gemini_f_0")
        );
    }

    #[test]
    fn json_mode_maps_to_json_object_or_json_schema() {
        let r = parse(
            r#"{"contents":[],"generationConfig":{"responseMimeType":"application/json"}}"#,
            None,
        );
        assert_eq!(r.response_format.as_deref(), Some("json_object"));
        let r = parse(
            r#"{"contents":[],"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT"}}}"#,
            None,
        );
        assert_eq!(r.response_format.as_deref(), Some("json_schema"));
        let r = parse(r#"{"contents":[]}"#, None);
        assert_eq!(r.response_format, None);
    }

    #[test]
    fn missing_contents_and_bad_json_are_rejected() {
        let headers = http::HeaderMap::new();
        let parts = RequestParts {
            path: "/",
            query: None,
            headers: &headers,
        };
        assert_eq!(
            parse_generate(&parts, b"{}", "m", false)
                .unwrap_err()
                .status,
            400
        );
        assert!(parse_generate(&parts, b"[", "m", false).is_err());
        assert!(parse_embed(b"{}", "m", true).is_err());
        assert!(parse_embed(b"{}", "m", false).is_err());
    }

    #[test]
    fn embed_inputs_and_dimensions_come_from_either_api_shape() {
        let r = parse_embed(
            br#"{"requests":[{"model":"models/e","content":{"parts":[{"text":"a"}]},"outputDimensionality":8},
                             {"content":{"parts":[{"text":"b"},{"text":"c"}]}}]}"#,
            "e",
            true,
        )
        .unwrap();
        assert_eq!(r.embedding_inputs, Some(vec!["a".into(), "bc".into()]));
        assert_eq!(r.hints.embedding_count, 2);
        assert_eq!(r.hints.dimensions, Some(8));
        let r = parse_embed(
            br#"{"content":{"parts":[{"text":"x"}]},"embedContentConfig":{"outputDimensionality":4}}"#,
            "e",
            false,
        )
        .unwrap();
        assert_eq!(r.embedding_inputs, Some(vec!["x".into()]));
        assert_eq!(r.hints.dimensions, Some(4));
        assert_eq!(r.endpoint, Endpoint::Embedding);
    }
}

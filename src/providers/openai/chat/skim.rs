//! The skim of a chat completions body (see `providers::skim` for the contract): model,
//! messages with string or text-part content, `stream`, `stream_options`,
//! `response_format`. It gives up on tool calls in the history, on `tools` and
//! `functions` lists, and when `messages` is not an array; the `Value` path in
//! `super::parse_request` reads those.

use std::borrow::Cow;

use serde::de::{Deserialize, MapAccess, SeqAccess};

use crate::providers::common::skim::{self, AnyBool, AnyStr, Key, Shape, Shaped, Skip};
use crate::request::{ChatRequest, Endpoint, Message, Role};

/// What the skim reads of the body.
#[derive(Default)]
struct Body<'de> {
    model: Option<Cow<'de, str>>,
    messages: Option<Vec<Message>>,
    stream: Option<bool>,
    include_usage: Option<bool>,
    response_format: Option<Cow<'de, str>>,
}

impl<'de> Shape<'de> for Option<Body<'de>> {
    fn other() -> Self {
        None
    }
    fn map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut b = Body::default();
        while let Some(Key(k)) = map.next_key()? {
            match &*k {
                "model" => b.model = map.next_value::<AnyStr>()?.0,
                "messages" => b.messages = map.next_value::<Shaped<Messages>>()?.0 .0,
                "stream" => b.stream = map.next_value::<AnyBool>()?.0,
                "stream_options" => {
                    b.include_usage = map.next_value::<Shaped<StreamOptions>>()?.0 .0
                }
                "response_format" => {
                    b.response_format = map.next_value::<Shaped<ResponseFormat>>()?.0 .0
                }
                "tools" | "functions" => {
                    map.next_value::<Shaped<NotAnArray>>()?;
                }
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(Some(b))
    }
}

/// Skim a chat completions body; `None`: take the `Value` path.
pub(super) fn parse(body: &[u8], azure_deployment: Option<&str>) -> Option<ChatRequest> {
    let b = skim::run(body, |de| Shaped::<Option<Body>>::deserialize(de))?.0?;
    let mut req = ChatRequest::new(Endpoint::Chat, body);
    // A missing `messages` array is a 400, which the `Value` path words.
    req.messages = b.messages?;
    req.model = b
        .model
        .map(Cow::into_owned)
        .or_else(|| azure_deployment.map(String::from));
    req.response_format = b.response_format.map(Cow::into_owned);
    req.stream = b.stream.unwrap_or(false);
    req.hints.include_usage = b.include_usage.unwrap_or(false);
    Some(req)
}

/// `messages`: `Some` when it is an array.
struct Messages(Option<Vec<Message>>);

impl<'de> Shape<'de> for Messages {
    fn other() -> Self {
        Messages(None)
    }
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(Shaped(Entry(m))) = seq.next_element::<Shaped<Entry>>()? {
            // Entries that are not objects are skipped, as `parse_messages` does.
            out.extend(m);
        }
        Ok(Messages(Some(out)))
    }
}

/// One `messages` entry: `None` when it is not an object.
struct Entry(Option<Message>);

impl<'de> Shape<'de> for Entry {
    fn other() -> Self {
        Entry(None)
    }
    fn map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut role = None;
        let mut text = None;
        let mut tool_call_id = None;
        while let Some(Key(k)) = map.next_key()? {
            match &*k {
                "role" => role = map.next_value::<AnyStr>()?.0,
                "content" => text = map.next_value::<Shaped<Content>>()?.0 .0,
                "tool_call_id" => tool_call_id = map.next_value::<AnyStr>()?.0,
                "tool_calls" => {
                    map.next_value::<Shaped<NotAnArray>>()?;
                }
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        let role = match role.as_deref() {
            Some("system") => Role::System,
            Some("developer") => Role::Developer,
            Some("assistant") => Role::Assistant,
            Some("tool") | Some("function") => Role::Tool,
            _ => Role::User,
        };
        Ok(Entry(Some(Message {
            role,
            text,
            tool_calls: Vec::new(),
            tool_call_id: tool_call_id.map(Cow::into_owned),
        })))
    }
}

/// `content`, read as `super::content_text` reads it: a string, or the text parts of an
/// array joined with ""; `None` for anything else or an array without text.
struct Content(Option<String>);

impl<'de> Shape<'de> for Content {
    fn other() -> Self {
        Content(None)
    }
    fn str(s: Cow<'de, str>) -> Self {
        Content(Some(s.into_owned()))
    }
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut text: Option<String> = None;
        while let Some(Shaped(part)) = seq.next_element::<Shaped<Part>>()? {
            if let Some(p) = part.0 {
                text.get_or_insert_with(String::new).push_str(&p);
            }
        }
        Ok(Content(text))
    }
}

/// One content part: a string, or an object's `text` when that is a string.
struct Part<'de>(Option<Cow<'de, str>>);

impl<'de> Shape<'de> for Part<'de> {
    fn other() -> Self {
        Part(None)
    }
    fn str(s: Cow<'de, str>) -> Self {
        Part(Some(s))
    }
    fn map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut text = None;
        while let Some(Key(k)) = map.next_key()? {
            if k == "text" {
                text = map.next_value::<AnyStr>()?.0;
            } else {
                map.next_value::<Skip>()?;
            }
        }
        Ok(Part(text))
    }
}

/// `stream_options.include_usage` when it is a boolean.
struct StreamOptions(Option<bool>);

impl<'de> Shape<'de> for StreamOptions {
    fn other() -> Self {
        StreamOptions(None)
    }
    fn map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut include_usage = None;
        while let Some(Key(k)) = map.next_key()? {
            if k == "include_usage" {
                include_usage = map.next_value::<AnyBool>()?.0;
            } else {
                map.next_value::<Skip>()?;
            }
        }
        Ok(StreamOptions(include_usage))
    }
}

/// `response_format.type` when it is a string.
struct ResponseFormat<'de>(Option<Cow<'de, str>>);

impl<'de> Shape<'de> for ResponseFormat<'de> {
    fn other() -> Self {
        ResponseFormat(None)
    }
    fn map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut kind = None;
        while let Some(Key(k)) = map.next_key()? {
            if k == "type" {
                kind = map.next_value::<AnyStr>()?.0;
            } else {
                map.next_value::<Skip>()?;
            }
        }
        Ok(ResponseFormat(kind))
    }
}

/// A value that is read only when it is an array (`tools`, `tool_calls`): the skim
/// gives up on an array and leaves it to the `Value` path; anything else is ignored, as
/// the `Value` path ignores it.
struct NotAnArray;

impl<'de> Shape<'de> for NotAnArray {
    fn other() -> Self {
        NotAnArray
    }
    fn seq<A: SeqAccess<'de>>(_: A) -> Result<Self, A::Error> {
        Err(skim::give_up())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::common::RequestParts;

    fn by_value(body: &str) -> Result<ChatRequest, crate::providers::common::ParseError> {
        let headers = http::HeaderMap::new();
        let parts = RequestParts {
            path: "/v1/chat/completions",
            query: None,
            headers: &headers,
        };
        super::super::parse_by_value(&parts, body.as_bytes(), Some("deploy"))
    }

    #[test]
    fn the_skim_reads_what_the_value_path_reads_or_gives_up() {
        let bodies = [
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#,
            r#"{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"s"},{"role":"developer","content":"d"},{"role":"user","content":"q \"quoted\" \u00e9"}]}"#,
            r#"{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},"b",{"text":5},{"text":"c","text":"d"}]}],"model":null}"#,
            r#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]},{"role":"user","content":null},{"role":"user"},{"role":7,"content":3}]}"#,
            r#"{"messages":[1,null,"x",{"role":"assistant","content":"a","tool_calls":null},{"role":"tool","tool_call_id":"call_1","content":"r"},{"role":"function","content":{"x":1}}]}"#,
            r#"{"messages":[{"role":"user","content":"a"}],"stream":"yes","stream_options":{"include_usage":1},"response_format":{"type":"json_object","x":[1]}}"#,
            r#"{"messages":[{"role":"user","content":"first"}],"messages":[{"role":"user","content":"last"}],"model":"a","model":"b","stream":true,"stream":false}"#,
            r#"{"messages":[],"temperature":0.2,"max_tokens":10,"metadata":{"k":["v",{"n":null}]},"response_format":"json"}"#,
            r#"{"messages":[{"role":"user","content":"x"}],"tools":null,"functions":{}}"#,
            r#"{"messages":[{"role":"user","content":"x","name":"bob","extra":[1,{"a":2}]}],"stream_options":[]}"#,
            // Given up: the Value path reads these.
            r#"{"messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{}"}}]}]}"#,
            r#"{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}"#,
            r#"{"model":"m"}"#,
            r#"{"messages":"no"}"#,
            // Not JSON, or rejected by the Value path.
            r#"{"messages":[{"role":"user","content":"x"}],"bad":"\ud800"}"#,
            r#"{"messages":[{"role":"user","content":"x"}],"n":1e999}"#,
            r#"{"messages":[]} x"#,
            "[1]",
            "",
        ];
        for body in bodies {
            let want = by_value(body);
            match parse(body.as_bytes(), Some("deploy")) {
                Some(got) => assert_eq!(Ok(got), want, "{body}"),
                None => {
                    let expect_skim = want.is_ok()
                        && !body.contains("tool_calls\":[")
                        && !body.contains("tools\":[");
                    assert!(!expect_skim, "the skim gave up on {body}");
                }
            }
        }
    }

    #[test]
    fn invalid_utf8_is_left_to_the_value_path() {
        let mut body = br#"{"messages":[{"role":"user","content":"x"}],"a":""#.to_vec();
        body.extend_from_slice(&[0xff, b'"', b'}']);
        assert!(parse(&body, None).is_none());
    }
}

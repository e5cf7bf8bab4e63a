//! The skim of a Messages body (see `providers::skim` for the contract): model,
//! `system`, messages whose content is a string or text (and other non-tool) blocks,
//! `stream`. It gives up on `tool_use` and `tool_result` blocks, on a `tools` list and
//! when `messages` is not an array; `super::request` reads those through a `Value`.

use std::borrow::Cow;

use serde::de::{Deserialize, MapAccess, SeqAccess};

use crate::providers::common::skim::{self, AnyBool, AnyStr, Key, Shape, Shaped, Skip};
use crate::request::{ChatRequest, Endpoint, Message, Role};

/// What the skim reads of the body.
#[derive(Default)]
struct Body<'de> {
    model: Option<Cow<'de, str>>,
    system: Option<String>,
    messages: Option<Vec<Message>>,
    stream: Option<bool>,
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
                "system" => b.system = map.next_value::<Shaped<BlockText>>()?.0 .0,
                "messages" => b.messages = map.next_value::<Shaped<Messages>>()?.0 .0,
                "stream" => b.stream = map.next_value::<AnyBool>()?.0,
                "tools" => {
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

/// Skim a Messages body; `None`: take the `Value` path.
pub(super) fn parse(body: &[u8]) -> Option<ChatRequest> {
    let b = skim::run(body, |de| Shaped::<Option<Body>>::deserialize(de))?.0?;
    // A missing `messages` array is a 400, which the `Value` path words.
    let mut messages = b.messages?;
    let mut req = ChatRequest::new(Endpoint::Chat, body);
    if let Some(system) = b.system {
        messages.insert(0, Message::text(Role::System, system));
    }
    // The skimmed list becomes the request's: no second list.
    req.messages = messages;
    req.model = b.model.map(Cow::into_owned);
    req.stream = b.stream.unwrap_or(false);
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
        while let Some(Key(k)) = map.next_key()? {
            match &*k {
                "role" => role = map.next_value::<AnyStr>()?.0,
                "content" => text = map.next_value::<Shaped<BlockText>>()?.0 .0,
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        // Without tool blocks, an assistant message is its text and a user message (any
        // other role) is kept even when it has no text.
        let role = match role.as_deref() {
            Some("assistant") => Role::Assistant,
            _ => Role::User,
        };
        Ok(Entry(Some(Message {
            role,
            text,
            tool_calls: Vec::new(),
            tool_call_id: None,
        })))
    }
}

/// Content or `system`, read as `request::block_text` reads it: a string, or the `text`
/// of the `text` blocks of an array joined with ""; `None` for anything else or an
/// array without text blocks.
struct BlockText(Option<String>);

impl<'de> Shape<'de> for BlockText {
    fn other() -> Self {
        BlockText(None)
    }
    fn str(s: Cow<'de, str>) -> Self {
        BlockText(Some(s.into_owned()))
    }
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut text: Option<String> = None;
        while let Some(Shaped(block)) = seq.next_element::<Shaped<Block>>()? {
            if let Some(t) = block.0 {
                text.get_or_insert_with(String::new).push_str(&t);
            }
        }
        Ok(BlockText(text))
    }
}

/// A content block: its text when it is a `text` block with string text.
struct Block<'de>(Option<Cow<'de, str>>);

impl<'de> Shape<'de> for Block<'de> {
    fn other() -> Self {
        Block(None)
    }
    fn map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut kind = None;
        let mut text = None;
        while let Some(Key(k)) = map.next_key()? {
            match &*k {
                "type" => kind = map.next_value::<AnyStr>()?.0,
                "text" => text = map.next_value::<AnyStr>()?.0,
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        match kind.as_deref() {
            // Tool blocks split and reorder messages: the `Value` path's job.
            Some("tool_use") | Some("tool_result") => Err(skim::give_up()),
            Some("text") => Ok(Block(text)),
            _ => Ok(Block(None)),
        }
    }
}

/// `tools`: the skim gives up on an array (the `Value` path reads the names); anything
/// else is ignored, as the `Value` path ignores it.
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

    #[test]
    fn the_skim_reads_what_the_value_path_reads_or_gives_up() {
        let bodies = [
            r#"{"model":"claude-sonnet-4-20250514","max_tokens":256,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
            r#"{"system":[{"type":"text","text":"be "},{"text":"brief","type":"text"},{"type":"image"},{"type":"text","text":3},"s"],"messages":[{"role":"user","content":"q \u00e9"}],"model":null}"#,
            r#"{"system":"sys","messages":[{"role":"user","content":"describe"},null,3,{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"x"}}]}]}"#,
            r#"{"system":{"a":1},"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"system","content":5},{"content":"no role"}]}"#,
            r#"{"messages":[{"role":"user","content":"first"}],"messages":[{"role":"user","content":"last"}],"stream":"yes","tools":null,"metadata":{"user_id":"u"}}"#,
            r#"{"messages":[{"role":"user","content":[{"type":"tool_use","text":"x","type":"text"}]}]}"#,
            r#"{"messages":[]}"#,
            // Given up: the Value path reads these.
            r#"{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":"r"}]}]}"#,
            r#"{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]}]}"#,
            r#"{"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f"}]}"#,
            r#"{"model":"m"}"#,
            // Not JSON, or rejected by the Value path.
            r#"{"messages":[],"x":"\udc00"}"#,
            r#"{"messages":[]}]"#,
            "[]",
        ];
        for body in bodies {
            let want = super::super::request::parse_by_value(body.as_bytes());
            match parse(body.as_bytes()) {
                Some(got) => assert_eq!(Ok(got), want, "{body}"),
                None => {
                    let tools = ["tool_use\"", "tool_result\"", "tools\":["];
                    let expect_skim = want.is_ok() && !tools.iter().any(|t| body.contains(t));
                    assert!(!expect_skim, "the skim gave up on {body}");
                }
            }
        }
    }
}

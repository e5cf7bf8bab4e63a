//! The `match` block of a new recording, built from the request the same way replay
//! matches it, so a recording always answers the request that made it. A media
//! request's match is its endpoint, prompt, model, context, and for an upload the
//! file's digest (a transcription's also its response format); no turn state.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::request::{ChatRequest, Endpoint};

/// Strip a trailing date (`-20240307`, optionally with `-v1:0`, or `-2024-08-06`) so a
/// recording of `gpt-4o-2024-08-06` also matches later dated versions of `gpt-4o`.
pub(crate) fn normalise_model(model: &str) -> String {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"(?:-\d{8}(?:-v\d+(?:[:.]\d+)*)?|-\d{4}-\d{2}-\d{2})$").expect("valid regex")
    });
    re.replace(model, "").into_owned()
}

/// The `match` object for a recording of `req`. Returns it and whether it is empty
/// (nothing that tells requests apart: such a recording is written but not served).
pub(crate) fn match_for(req: &ChatRequest, full_model_version: bool) -> (Value, bool) {
    let mut m = Map::new();
    if req.endpoint == Endpoint::Embedding {
        if let Some(t) = req.embedding_text() {
            m.insert("inputText".into(), t.into());
        }
        m.insert("endpoint".into(), "embedding".into());
        let empty = !m.contains_key("inputText");
        return (Value::Object(m), empty);
    }
    let media = matches!(
        req.endpoint,
        Endpoint::Image
            | Endpoint::Speech
            | Endpoint::Transcription
            | Endpoint::Translation
            | Endpoint::Video
            | Endpoint::Search
            | Endpoint::Rerank
            | Endpoint::Moderation
    );
    if let Some(u) = req.last_user_text().filter(|u| !u.is_empty()) {
        m.insert("userMessage".into(), u.into());
    }
    if let Some(model) = &req.model {
        let model = if full_model_version {
            model.clone()
        } else {
            normalise_model(model)
        };
        m.insert("model".into(), model.into());
    }
    if req.endpoint != Endpoint::Chat {
        m.insert("endpoint".into(), req.endpoint.as_str().into());
    }
    if media {
        // A media request has no turns: what tells two apart is the upload and, for a
        // transcription, the format its reply was recorded in.
        if let Some(d) = &req.file_digest {
            m.insert("fileDigest".into(), d.clone().into());
        }
        if matches!(
            req.endpoint,
            Endpoint::Transcription | Endpoint::Translation
        ) {
            if let Some(f) = &req.response_format {
                m.insert("responseFormat".into(), f.clone().into());
            }
        }
        if let Some(c) = &req.context {
            m.insert("context".into(), c.clone().into());
        }
        return (Value::Object(m), false);
    }
    m.insert("turnIndex".into(), req.assistant_count().into());
    m.insert("hasToolResult".into(), req.has_tool_result().into());
    if let Some(c) = &req.context {
        m.insert("context".into(), c.clone().into());
    }
    let empty =
        !m.contains_key("userMessage") && !m.contains_key("endpoint") && !req.has_tool_result();
    (Value::Object(m), empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Message, Role};

    #[test]
    fn a_media_match_names_the_endpoint_upload_and_format_but_no_turns() {
        let mut r = ChatRequest::new(Endpoint::Transcription, b"");
        r.model = Some("whisper-1".into());
        r.file_digest = Some("ab".repeat(32));
        r.response_format = Some("srt".into());
        let (m, empty) = match_for(&r, false);
        assert!(!empty);
        assert_eq!(
            m,
            serde_json::json!({"model":"whisper-1","endpoint":"transcription","fileDigest":"ab".repeat(32),"responseFormat":"srt"})
        );
    }

    #[test]
    fn dates_are_stripped_from_models() {
        assert_eq!(normalise_model("gpt-4o-2024-08-06"), "gpt-4o");
        assert_eq!(normalise_model("claude-opus-4-20250514"), "claude-opus-4");
        assert_eq!(
            normalise_model("anthropic.claude-3-haiku-20240307-v1:0"),
            "anthropic.claude-3-haiku"
        );
        assert_eq!(normalise_model("llama3.1"), "llama3.1");
        assert_eq!(
            normalise_model("gemini-2.5-flash-preview-05-20"),
            "gemini-2.5-flash-preview-05-20"
        );
    }

    #[test]
    fn a_chat_match_has_the_user_message_model_turn_and_tool_state() {
        let mut r = ChatRequest::new(Endpoint::Chat, b"");
        r.model = Some("gpt-4o-2024-08-06".into());
        r.messages = vec![
            Message::text(Role::User, "weather?"),
            Message::text(Role::Assistant, ""),
            Message::tool_result("c1", "sunny"),
        ];
        let (m, empty) = match_for(&r, false);
        assert!(!empty);
        assert_eq!(
            m,
            serde_json::json!({"userMessage":"weather?","model":"gpt-4o","turnIndex":1,"hasToolResult":true})
        );
    }
}

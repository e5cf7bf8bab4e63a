//! The provider-neutral request snapshot that matching, recording and rendering share.
//!
//! Every provider parser turns its wire body into one [`ChatRequest`], built once per
//! request. Matching is a pure function over it (see `cassette::matching`), and the
//! recorder derives a new fixture's `match` from the same value, so record and replay can
//! never disagree about what "the last user message" or "has a tool result" means.
//!
//! Not here: anything about HTTP bodies or sockets; parsers live in `providers::*`.

use std::borrow::Cow;

/// Who said a message, in the OpenAI-chat vocabulary every provider is mapped onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// System instructions (OpenAI chat `system`; every other provider's system prompt,
    /// and the Responses API's `developer` items, which the reference maps to system).
    System,
    /// OpenAI chat `developer` instructions: kept apart from [`Role::System`] because
    /// the reference's `systemMessage` reads only `system` messages of a chat request.
    Developer,
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// A tool result sent back to the model.
    Tool,
}

/// A tool call the assistant made earlier in the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolCallRef {
    /// The provider's call id (OpenAI `call_…`, Anthropic `toolu_…`, ...).
    pub id: String,
    /// The function name.
    pub name: String,
    /// Arguments as JSON text.
    pub arguments: String,
}

/// One message of the normalised conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who sent it.
    pub role: Role,
    /// The message's text, parts joined with "". `None` means the message carried no
    /// text at all (an attachment-only turn); `Some("")` is still text.
    pub text: Option<String>,
    /// Tool calls on an assistant message.
    pub tool_calls: Vec<ToolCallRef>,
    /// For a tool message, the call it answers.
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A message with text and nothing else.
    pub fn text(role: Role, text: impl Into<String>) -> Message {
        Message {
            role,
            text: Some(text.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A tool-result message.
    pub fn tool_result(call_id: impl Into<String>, text: impl Into<String>) -> Message {
        Message {
            role: Role::Tool,
            text: Some(text.into()),
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.into()),
        }
    }
}

/// The kind of endpoint a request arrived on; fixtures may pin one with `match.endpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// Chat-style generation (every chat surface).
    Chat,
    /// Embeddings.
    Embedding,
    /// Image generation.
    Image,
    /// Text to speech.
    Speech,
    /// Speech to text.
    Transcription,
    /// Speech translation.
    Translation,
    /// Video generation.
    Video,
    /// ElevenLabs sound or music.
    AudioGen,
    /// ElevenLabs TTS.
    ElevenlabsTts,
    /// fal audio queue.
    FalAudio,
    /// Generic fal.
    Fal,
    /// Realtime sessions.
    Realtime,
    /// Realtime transcription.
    RealtimeTranscription,
    /// Realtime translation.
    RealtimeTranslation,
    /// Web search (Tavily `POST /search`).
    Search,
    /// Reranking (Cohere `POST /v2/rerank`).
    Rerank,
    /// Moderation (OpenAI `POST /v1/moderations`).
    Moderation,
}

impl Endpoint {
    /// Every endpoint with the spelling fixtures use.
    pub const ALL: [(Endpoint, &'static str); 17] = [
        (Endpoint::Chat, "chat"),
        (Endpoint::Embedding, "embedding"),
        (Endpoint::Image, "image"),
        (Endpoint::Speech, "speech"),
        (Endpoint::Transcription, "transcription"),
        (Endpoint::Translation, "translation"),
        (Endpoint::Video, "video"),
        (Endpoint::AudioGen, "audio-gen"),
        (Endpoint::ElevenlabsTts, "elevenlabs-tts"),
        (Endpoint::FalAudio, "fal-audio"),
        (Endpoint::Fal, "fal"),
        (Endpoint::Realtime, "realtime"),
        (Endpoint::RealtimeTranscription, "realtime-transcription"),
        (Endpoint::RealtimeTranslation, "realtime-translation"),
        (Endpoint::Search, "search"),
        (Endpoint::Rerank, "rerank"),
        (Endpoint::Moderation, "moderation"),
    ];

    /// Parse the fixture spelling.
    pub fn parse(s: &str) -> Option<Endpoint> {
        Self::ALL.iter().find(|(_, n)| *n == s).map(|(e, _)| *e)
    }

    /// The fixture spelling.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(e, _)| *e == self)
            .map(|(_, n)| *n)
            .unwrap_or("chat")
    }
}

/// Provider-specific wishes that change how a reply is rendered but never what matches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderHints {
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
    /// OpenAI embeddings `encoding_format: "base64"`.
    pub embedding_base64: bool,
    /// Requested embedding dimensions (OpenAI `dimensions`, Gemini `outputDimensionality`).
    pub dimensions: Option<usize>,
    /// Responses `include: ["reasoning.encrypted_content"]` (the real API sends encrypted
    /// reasoning only when asked this way; `store: false` alone does not).
    pub encrypted_reasoning: bool,
    /// How many embedding vectors the reply must hold (one per input).
    pub embedding_count: usize,
    /// Gemini `streamGenerateContent?alt=sse`: SSE framing instead of a streamed JSON array.
    pub alt_sse: bool,
    /// Cohere `embedding_types` (`float`, `int8`, ...): one `embeddings` key per type.
    pub embedding_types: Vec<String>,
    /// Request fields a provider echoes back verbatim in its reply (Responses:
    /// `instructions`, `tools`, `text`, `temperature`, ...). Never used for matching.
    pub echo: serde_json::Map<String, serde_json::Value>,
    /// What a media request asks of its reply (boxed: only media requests have one).
    pub media: Option<Box<MediaHints>>,
}

/// What a media request (images, speech, transcription, video) asks of its reply.
/// Never used for matching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaHints {
    /// `response_format`: speech `mp3|opus|aac|flac|wav|pcm`; transcription
    /// `json|verbose_json|text|srt|vtt|diarized_json`; images `url|b64_json`.
    pub format: Option<String>,
    /// Speech `stream_format: "sse"`.
    pub sse: bool,
    /// Images `n`.
    pub n: Option<u32>,
    /// Images and video `size`.
    pub size: Option<String>,
    /// Video `seconds`.
    pub seconds: Option<String>,
    /// Images `quality`, echoed by gpt-image replies.
    pub quality: Option<String>,
    /// Images `output_format`, echoed by gpt-image replies.
    pub output_format: Option<String>,
    /// Images `background`, echoed by gpt-image replies.
    pub background: Option<String>,
    /// The prompt, for replies that echo it (video objects).
    pub prompt: Option<String>,
    /// A job poll that names its job in the body (Vertex `fetchPredictOperation`): the
    /// job id; a Vertex Veo start: its model's resource name.
    pub job_id: Option<String>,
}

/// The normalised request every surface is turned into before matching.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    /// The endpoint type.
    pub endpoint: Endpoint,
    /// The model as the client named it (Bedrock ids already percent-decoded).
    pub model: Option<String>,
    /// The conversation, oldest first.
    pub messages: Vec<Message>,
    /// Names of the tools offered to the model.
    pub tools: Vec<String>,
    /// `response_format.type` (or Responses `text.format.type`).
    pub response_format: Option<String>,
    /// Whether the client asked for a streamed reply.
    pub stream: bool,
    /// Embedding inputs, one per vector; `None` for non-embedding requests.
    pub embedding_inputs: Option<Vec<String>>,
    /// Value of `X-AIMock-Context`.
    pub context: Option<String>,
    /// The sequence-count scope: `X-Test-Id`, else `?testId=`, else `__default__`
    /// (borrowed: most requests name none, and it would be an allocation each).
    pub test_id: Cow<'static, str>,
    /// Rendering wishes.
    pub hints: RenderHints,
    /// XXH3-128 of the raw request body: with the fixture's own digest it seeds every
    /// generated id, so replies are deterministic per (fixture, request). Not SHA-256:
    /// nothing here needs collision resistance against an adversary, only the same
    /// bytes for the same body, and hashing every request body with SHA-256 was the
    /// largest single cost of a replay (two of the six SHA-256 blocks a chat request
    /// paid; the seed below it now fits in one block too).
    pub body_digest: [u8; 16],
    /// SHA-256 (lower-case hex) of the main uploaded file of a multipart request (the
    /// audio `file`, the first `image` of an edit, a video's `input_reference`):
    /// `match.fileDigest` compares it, so two uploads with the same fields are told
    /// apart.
    pub file_digest: Option<String>,
}

/// The scope used when a request names no test id.
pub const DEFAULT_TEST_ID: &str = "__default__";

/// A scope header's value (`X-Test-Id`, `X-AIMock-Context`): decoded as UTF-8, since
/// test names often hold non-ASCII (`Suite › case`), trimmed; none when empty.
pub fn scope_value(v: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(v);
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

impl ChatRequest {
    /// An empty chat request; parsers fill it in.
    pub fn new(endpoint: Endpoint, body: &[u8]) -> ChatRequest {
        ChatRequest {
            endpoint,
            model: None,
            messages: Vec::new(),
            tools: Vec::new(),
            response_format: None,
            stream: false,
            embedding_inputs: None,
            context: None,
            test_id: Cow::Borrowed(DEFAULT_TEST_ID),
            hints: RenderHints::default(),
            body_digest: xxhash_rust::xxh3::xxh3_128(body).to_le_bytes(),
            file_digest: None,
        }
    }

    /// The text of the last user message that has any text (an attachment-only trailing
    /// message is skipped; `""` still counts as text).
    pub fn last_user_text(&self) -> Option<&str> {
        self.messages
            .iter()
            .rev()
            .filter(|m| m.role == Role::User)
            .find_map(|m| m.text.as_deref())
    }

    /// The literal last user message's text, as the recorder uses it.
    pub fn literal_last_user_text(&self) -> Option<&str> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .and_then(|m| m.text.as_deref())
    }

    /// Every system message's text joined with "\n".
    pub fn system_text(&self) -> String {
        let parts: Vec<&str> = self
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .filter_map(|m| m.text.as_deref())
            .collect();
        parts.join("\n")
    }

    /// Whether the current turn (messages after the last user message, or all of them
    /// when there is none) holds a tool result. Record and replay share this one rule.
    pub fn has_tool_result(&self) -> bool {
        let start = self
            .messages
            .iter()
            .rposition(|m| m.role == Role::User)
            .map(|i| i + 1)
            .unwrap_or(0);
        self.messages[start..].iter().any(|m| m.role == Role::Tool)
    }

    /// Number of assistant messages: the request's turn index.
    pub fn assistant_count(&self) -> u32 {
        self.messages
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .count() as u32
    }

    /// The overall last message, if it is a tool result.
    pub fn trailing_tool_message(&self) -> Option<&Message> {
        self.messages.last().filter(|m| m.role == Role::Tool)
    }

    /// All embedding inputs joined with " ", as `inputText` compares against.
    pub fn embedding_text(&self) -> Option<String> {
        self.embedding_inputs.as_ref().map(|v| v.join(" "))
    }

    /// A short human description of what was asked, for miss messages and logs.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if let Some(m) = &self.model {
            out.push_str(&format!("model {m:?}"));
        }
        if let Some(t) = self.embedding_text() {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(&format!("input {:?}", truncate(&t, 120)));
        } else if let Some(u) = self.last_user_text() {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(&format!("user message {:?}", truncate(u, 120)));
        }
        if self.has_tool_result() {
            out.push_str(", with a tool result");
        }
        if out.is_empty() {
            out.push_str("an empty request");
        }
        out
    }
}

/// Shorten a string to at most `max` characters (on a char boundary) with an ellipsis.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(msgs: Vec<Message>) -> ChatRequest {
        let mut r = ChatRequest::new(Endpoint::Chat, b"{}");
        r.messages = msgs;
        r
    }

    #[test]
    fn last_user_text_skips_attachment_only_messages_but_keeps_empty_text() {
        let mut att = Message::text(Role::User, "");
        att.text = None;
        let r = req(vec![
            Message::text(Role::User, "describe this"),
            att.clone(),
        ]);
        assert_eq!(r.last_user_text(), Some("describe this"));
        assert_eq!(r.literal_last_user_text(), None);
        let r = req(vec![
            Message::text(Role::User, "a"),
            Message::text(Role::User, ""),
        ]);
        assert_eq!(r.last_user_text(), Some(""));
    }

    #[test]
    fn system_text_reads_system_messages_only_not_developer_ones() {
        let r = req(vec![
            Message::text(Role::System, "a"),
            Message::text(Role::Developer, "d"),
            Message::text(Role::System, "b"),
            Message::text(Role::User, "q"),
        ]);
        assert_eq!(r.system_text(), "a\nb");
    }

    #[test]
    fn has_tool_result_is_scoped_to_the_current_turn() {
        let r = req(vec![
            Message::text(Role::User, "q1"),
            Message::tool_result("c1", "r"),
            Message::text(Role::User, "q2"),
        ]);
        assert!(!r.has_tool_result());
        let r = req(vec![
            Message::text(Role::User, "q"),
            Message::text(Role::Assistant, ""),
            Message::tool_result("c1", "r"),
        ]);
        assert!(r.has_tool_result());
        assert_eq!(r.assistant_count(), 1);
    }

    #[test]
    fn truncate_never_splits_a_character() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hi", 5), "hi");
    }
}

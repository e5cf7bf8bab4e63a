//! Provider wire formats: turning each provider's request into a [`ChatRequest`] and a
//! fixture into that provider's exact reply bytes.
//!
//! Every surface speaks the same verbs, in a file of its own:
//! - `parse_request(&RequestParts, body) -> Result<ChatRequest, ParseError>`
//! - `render(&Fixture, &ChatRequest, &RenderContext) -> RenderPlan`
//! - an error body in the provider's own shape (see [`Surface::error_plan`]).
//!
//! Providers never touch sockets, files or clocks: a [`RenderPlan`] is plain data (a
//! status, headers, and either one body or a list of frames), and the server's pacing
//! layer turns frames into a timed stream. Determinism lives in [`RenderContext`]: every
//! generated id and timestamp derives from a SHA-256 of the fixture and the request.

pub mod anthropic;
pub mod bedrock;
pub mod cohere;
pub mod collapse;
pub mod embeddings;
pub mod gemini;
pub mod ollama;
pub mod openai_chat;
pub mod responses;
pub mod skim;

use std::borrow::Cow;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::cassette::Fixture;
use crate::request::ChatRequest;

/// The request line and headers a parser may look at.
#[derive(Debug)]
pub struct RequestParts<'a> {
    /// The path, without the query.
    pub path: &'a str,
    /// The raw query string, if any.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
}

impl RequestParts<'_> {
    /// The first value of a query parameter (percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query?;
        q.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| {
                percent_encoding::percent_decode_str(&v.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    }
}

/// Every API surface we answer, with the parameters its path carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Surface {
    /// `POST /v1/chat/completions`, or Azure's deployment path.
    OpenAiChat {
        /// The Azure deployment id, when the request came in on an Azure path.
        azure_deployment: Option<String>,
    },
    /// `POST /v1/embeddings`, or Azure's deployment path.
    OpenAiEmbeddings {
        /// The Azure deployment id, when the request came in on an Azure path.
        azure_deployment: Option<String>,
    },
    /// `POST /v1/responses`.
    OpenAiResponses,
    /// `POST /v1/messages`.
    AnthropicMessages,
    /// Gemini or Vertex `models/{model}:generateContent` / `:streamGenerateContent`.
    GeminiGenerate {
        /// The model from the path.
        model: String,
        /// `streamGenerateContent`.
        stream: bool,
        /// Came in on a Vertex AI path.
        vertex: bool,
    },
    /// Gemini `:embedContent` / `:batchEmbedContents`.
    GeminiEmbed {
        /// The model from the path.
        model: String,
        /// `batchEmbedContents`.
        batch: bool,
        /// Came in on a Vertex AI path.
        vertex: bool,
    },
    /// Bedrock `/model/{id}/invoke` and `/invoke-with-response-stream`.
    BedrockInvoke {
        /// The model id, percent-decoded.
        model: String,
        /// `invoke-with-response-stream`.
        stream: bool,
    },
    /// Bedrock `/model/{id}/converse` and `/converse-stream`.
    BedrockConverse {
        /// The model id, percent-decoded.
        model: String,
        /// `converse-stream`.
        stream: bool,
    },
    /// Cohere `POST /v2/chat`.
    CohereChat,
    /// Cohere `POST /v2/embed`.
    CohereEmbed,
    /// Ollama `POST /api/chat`.
    OllamaChat,
    /// Ollama `POST /api/generate`.
    OllamaGenerate,
    /// Ollama `POST /api/embed` (`legacy: false`) or `/api/embeddings` (`legacy: true`).
    OllamaEmbed {
        /// The older single-vector `/api/embeddings`.
        legacy: bool,
    },
}

impl Surface {
    /// The provider key used for recording files and upstream lookup.
    pub fn provider(&self) -> &'static str {
        match self {
            Surface::OpenAiChat { azure_deployment }
            | Surface::OpenAiEmbeddings { azure_deployment } => {
                if azure_deployment.is_some() {
                    "azure"
                } else {
                    "openai"
                }
            }
            Surface::OpenAiResponses => "openai",
            Surface::AnthropicMessages => "anthropic",
            Surface::GeminiGenerate { vertex, .. } | Surface::GeminiEmbed { vertex, .. } => {
                if *vertex {
                    "vertexai"
                } else {
                    "gemini"
                }
            }
            Surface::BedrockInvoke { .. } | Surface::BedrockConverse { .. } => "bedrock",
            Surface::CohereChat | Surface::CohereEmbed => "cohere",
            Surface::OllamaChat | Surface::OllamaGenerate | Surface::OllamaEmbed { .. } => "ollama",
        }
    }

    /// Whether this surface is an embeddings endpoint.
    pub fn is_embedding(&self) -> bool {
        matches!(
            self,
            Surface::OpenAiEmbeddings { .. }
                | Surface::GeminiEmbed { .. }
                | Surface::CohereEmbed
                | Surface::OllamaEmbed { .. }
        )
    }

    /// Parse the provider request into the neutral form.
    pub fn parse_request(
        &self,
        parts: &RequestParts,
        body: &[u8],
    ) -> Result<ChatRequest, ParseError> {
        match self {
            Surface::OpenAiChat { azure_deployment } => {
                openai_chat::parse_request(parts, body, azure_deployment.as_deref())
            }
            Surface::OpenAiEmbeddings { azure_deployment } => {
                embeddings::parse_openai(parts, body, azure_deployment.as_deref())
            }
            Surface::OpenAiResponses => responses::parse_request(self, parts, body),
            Surface::AnthropicMessages => anthropic::parse_request(self, parts, body),
            Surface::GeminiGenerate { .. } | Surface::GeminiEmbed { .. } => {
                gemini::parse_request(self, parts, body)
            }
            Surface::BedrockInvoke { .. } | Surface::BedrockConverse { .. } => {
                bedrock::parse_request(self, parts, body)
            }
            Surface::CohereChat | Surface::CohereEmbed => cohere::parse_request(self, parts, body),
            Surface::OllamaChat | Surface::OllamaGenerate | Surface::OllamaEmbed { .. } => {
                ollama::parse_request(self, parts, body)
            }
        }
    }

    /// Render a matched fixture (error fixtures included).
    pub fn render(&self, fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
        if let crate::cassette::Reply::Error(e) = &fx.reply {
            return self.error_plan(e.status, &e.message, ErrorKind::Fixture(e));
        }
        match self {
            Surface::OpenAiChat { .. } => openai_chat::render(fx, req, ctx),
            Surface::OpenAiEmbeddings { .. } => embeddings::render_openai(fx, req, ctx),
            Surface::OpenAiResponses => responses::render(self, fx, req, ctx),
            Surface::AnthropicMessages => anthropic::render(self, fx, req, ctx),
            Surface::GeminiGenerate { .. } | Surface::GeminiEmbed { .. } => {
                gemini::render(self, fx, req, ctx)
            }
            Surface::BedrockInvoke { .. } | Surface::BedrockConverse { .. } => {
                bedrock::render(self, fx, req, ctx)
            }
            Surface::CohereChat | Surface::CohereEmbed => cohere::render(self, fx, req, ctx),
            Surface::OllamaChat | Surface::OllamaGenerate | Surface::OllamaEmbed { .. } => {
                ollama::render(self, fx, req, ctx)
            }
        }
    }

    /// The deterministic embedding answer for an unmatched embedding request.
    pub fn fallback_embedding(&self, req: &ChatRequest, ctx: &RenderContext) -> Option<RenderPlan> {
        match self {
            Surface::OpenAiEmbeddings { .. } => Some(embeddings::render_openai_fallback(req, ctx)),
            Surface::GeminiEmbed { .. } => gemini::fallback_embedding(self, req, ctx),
            Surface::CohereEmbed => cohere::fallback_embedding(self, req, ctx),
            Surface::OllamaEmbed { .. } => ollama::fallback_embedding(self, req, ctx),
            _ => None,
        }
    }

    /// Read a recorded upstream reply into a [`collapse::Collapsed`]. Non-2xx statuses
    /// become error fixtures with the real status, whatever the surface.
    pub fn collapse(&self, status: u16, content_type: &str, body: &[u8]) -> collapse::Collapsed {
        if status >= 400 {
            let mut c = collapse::Collapsed::default();
            c.error = Some(collapse::error_from_body(status, body));
            return c;
        }
        match self {
            Surface::OpenAiChat { .. } => openai_chat::collapse(content_type, body),
            Surface::OpenAiEmbeddings { .. } => embeddings::collapse_openai(body),
            Surface::OpenAiResponses => responses::collapse::collapse(content_type, body),
            Surface::AnthropicMessages => anthropic::collapse::collapse(content_type, body),
            Surface::BedrockInvoke { .. } | Surface::BedrockConverse { .. } => {
                bedrock::collapse::collapse(content_type, body)
            }
            Surface::GeminiGenerate { .. } | Surface::GeminiEmbed { .. } => {
                gemini::collapse(self, content_type, body)
            }
            Surface::CohereChat | Surface::CohereEmbed => {
                cohere::collapse(self, content_type, body)
            }
            Surface::OllamaChat | Surface::OllamaGenerate | Surface::OllamaEmbed { .. } => {
                ollama::collapse(self, content_type, body)
            }
        }
    }

    /// An error reply in this provider's shape, so its SDK raises its typed error.
    pub fn error_plan(&self, status: u16, message: &str, kind: ErrorKind) -> RenderPlan {
        match self {
            Surface::OpenAiChat { .. }
            | Surface::OpenAiEmbeddings { .. }
            | Surface::OpenAiResponses => {
                let mut plan = RenderPlan::json(status, &openai_error_body(status, message, &kind));
                if status == 429 {
                    let retry = match kind {
                        ErrorKind::Fixture(e) => e.retry_after.unwrap_or(1),
                        _ => 1,
                    };
                    plan.headers.push(("retry-after", retry.to_string().into()));
                    plan.headers.extend(rate_limit_headers());
                }
                plan
            }
            Surface::AnthropicMessages => anthropic::error_plan(self, status, message, &kind),
            Surface::GeminiGenerate { .. } | Surface::GeminiEmbed { .. } => {
                gemini::error_plan(self, status, message, &kind)
            }
            Surface::BedrockInvoke { .. } | Surface::BedrockConverse { .. } => {
                bedrock::error_plan(self, status, message, &kind)
            }
            Surface::CohereChat | Surface::CohereEmbed => {
                cohere::error_plan(self, status, message, &kind)
            }
            Surface::OllamaChat | Surface::OllamaGenerate | Surface::OllamaEmbed { .. } => {
                ollama::error_plan(self, status, message, &kind)
            }
        }
    }
}

/// Why an error reply is being sent; decides the `type`/`code` fields.
#[derive(Debug, Clone, Copy)]
pub enum ErrorKind<'a> {
    /// No fixture matched (404, or 503 in strict mode).
    NoMatch,
    /// The client's request was malformed.
    InvalidRequest {
        /// A machine-readable code such as `invalid_json`.
        code: &'static str,
    },
    /// An error fixture.
    Fixture(&'a crate::cassette::model::ErrorReply),
    /// Something on our side (a fixture that cannot be served here, ...).
    Internal,
}

/// OpenAI's error envelope: `{"error":{"message","type","param","code"}}`.
pub fn openai_error_body(status: u16, message: &str, kind: &ErrorKind) -> Value {
    match kind {
        ErrorKind::NoMatch => {
            json!({"error":{"message":message,"type":"invalid_request_error","param":null,"code":"no_fixture_match"}})
        }
        ErrorKind::InvalidRequest { code } => {
            json!({"error":{"message":message,"type":"invalid_request_error","param":null,"code":code}})
        }
        ErrorKind::Fixture(e) => {
            let default_type = match status {
                400 | 404 | 409 | 413 | 422 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                429 => "rate_limit_error",
                _ => "server_error",
            };
            json!({"error":{
                "message": message,
                "type": e.kind.clone().unwrap_or_else(|| default_type.to_string()),
                "param": e.param.clone().unwrap_or(Value::Null),
                "code": e.code.clone().unwrap_or(Value::Null),
            }})
        }
        ErrorKind::Internal => {
            json!({"error":{"message":message,"type":"server_error","param":null,"code":null}})
        }
    }
}

/// The rate-limit headers OpenAI sends with a 429, so clients' backoff code has data.
pub fn rate_limit_headers() -> Vec<(&'static str, Cow<'static, str>)> {
    vec![
        ("x-ratelimit-limit-requests", "60".into()),
        ("x-ratelimit-limit-tokens", "150000".into()),
        ("x-ratelimit-remaining-requests", "0".into()),
        ("x-ratelimit-remaining-tokens", "0".into()),
        ("x-ratelimit-reset-requests", "1s".into()),
        ("x-ratelimit-reset-tokens", "6m0s".into()),
    ]
}

/// A request the provider would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// HTTP status to answer with (400 unless the provider says otherwise).
    pub status: u16,
    /// Machine-readable code, e.g. `invalid_json`.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

impl ParseError {
    /// A 400 with a code.
    pub fn bad(code: &'static str, message: impl Into<String>) -> ParseError {
        ParseError {
            status: 400,
            code,
            message: message.into(),
        }
    }

    /// Body is not JSON (or not UTF-8).
    pub fn from_json(e: serde_json::Error) -> ParseError {
        ParseError::bad(
            "invalid_json",
            format!("Request body is not valid JSON: {e}"),
        )
    }
}

/// Parse a request body as a JSON object, with the errors every provider shares.
pub fn json_body(body: &[u8]) -> Result<serde_json::Map<String, Value>, ParseError> {
    if std::str::from_utf8(body).is_err() {
        return Err(ParseError::bad(
            "invalid_json",
            "Request body is not valid UTF-8",
        ));
    }
    match serde_json::from_slice::<Value>(body).map_err(ParseError::from_json)? {
        Value::Object(m) => Ok(m),
        _ => Err(ParseError::bad(
            "invalid_json",
            "Request body must be a JSON object",
        )),
    }
}

/// Compact JSON text of `v`, as every reply is sent. Same bytes as `v.to_string()`,
/// but written straight into a buffer: `Display` goes through the `fmt` machinery,
/// which cost about twice as much on the reply path.
pub fn json_text(v: &Value) -> String {
    // A `Value` only has string keys, and writing to a `String` cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| v.to_string())
}

/// One unit of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The exact bytes to write.
    pub bytes: Bytes,
    /// Whether pacing applies before it (OpenAI's usage chunk and `[DONE]` go out at once).
    pub paced: bool,
}

/// Frames written back to back into one buffer, then cut apart without copying: one
/// allocation per stream instead of one per frame, and serialisation into a plain
/// `Vec`, which `serde_json` writes to several times faster than into a `BytesMut`.
#[derive(Debug, Default)]
pub struct FrameWriter {
    /// Every frame's bytes so far.
    buf: Vec<u8>,
    /// Where each finished frame ends, and whether pacing applies before it.
    cuts: Vec<(usize, bool)>,
    /// The frames expected: `cuts` is sized on the first cut, since a whole writer
    /// never makes one.
    frames_hint: usize,
    /// Hand everything over as one frame (see [`FrameWriter::whole`]).
    whole: bool,
}

impl FrameWriter {
    /// A writer expecting about `bytes` bytes in `frames` frames.
    pub fn with_capacity(bytes: usize, frames: usize) -> FrameWriter {
        FrameWriter {
            buf: Vec::with_capacity(bytes),
            cuts: Vec::new(),
            frames_hint: frames,
            whole: false,
        }
    }

    /// With `whole` (a [`RenderContext::whole`] stream), frames are not cut apart: the
    /// writer hands over one frame holding all of them, which the server sends as it
    /// is instead of copying the frames into one body.
    pub fn whole(mut self, whole: bool) -> FrameWriter {
        self.whole = whole;
        self
    }

    /// The buffer the current frame is being written to.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Append `v` as compact JSON. Writing to memory cannot fail, and every value a
    /// reply holds has string keys, the one thing `serde_json` refuses.
    pub fn json(&mut self, v: &impl serde::Serialize) {
        json_value(&mut self.buf, v)
    }

    /// Append `s` as a JSON string, the bytes `serde_json` writes for it. Most slices of
    /// text need no escaping and are copied whole; the rest go through `serde_json`.
    pub fn str(&mut self, s: &str) {
        json_str(&mut self.buf, s)
    }

    /// End the current frame.
    pub fn cut(&mut self, paced: bool) {
        if !self.whole {
            if self.cuts.capacity() == 0 {
                self.cuts.reserve(self.frames_hint);
            }
            self.cuts.push((self.buf.len(), paced));
        }
    }

    /// The frames, each a slice of one shared buffer (or the one frame of a whole
    /// writer).
    pub fn into_frames(self) -> Vec<Frame> {
        let all = Bytes::from(self.buf);
        if self.whole {
            return vec![Frame {
                bytes: all,
                paced: true,
            }];
        }
        let mut start = 0;
        self.cuts
            .into_iter()
            .map(|(end, paced)| {
                let bytes = all.slice(start..end);
                start = end;
                Frame { bytes, paced }
            })
            .collect()
    }
}

/// The body of a rendered reply.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanBody {
    /// One body.
    Full(Bytes),
    /// A stream of frames.
    Stream(Vec<Frame>),
}

/// A reply as data: what to send, not when.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderPlan {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers: names in lower case; a value is borrowed when it is a constant,
    /// so sending it copies nothing.
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    /// The body.
    pub body: PlanBody,
}

impl RenderPlan {
    /// A JSON body.
    pub fn json(status: u16, v: &Value) -> RenderPlan {
        RenderPlan {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: PlanBody::Full(Bytes::from(json_text(v))),
        }
    }

    /// A server-sent-events stream.
    pub fn sse(frames: Vec<Frame>) -> RenderPlan {
        RenderPlan {
            status: 200,
            content_type: "text/event-stream",
            headers: vec![("cache-control", "no-cache".into())],
            body: PlanBody::Stream(frames),
        }
    }
}

/// Deterministic inputs to rendering: the seed for ids, and the chunk size.
#[derive(Debug, Clone)]
pub struct RenderContext {
    /// SHA-256 of (fixture digest, request body digest).
    pub seed: [u8; 32],
    /// Characters per streamed text or argument slice.
    pub chunk_size: usize,
    /// The frames of a stream will be sent together, with no delay or fault between
    /// them: a renderer may hand them over as one frame (see [`FrameWriter::whole`]).
    pub whole: bool,
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl RenderContext {
    /// The context for serving `fx` to `req`.
    pub fn new(fx: &Fixture, req: &ChatRequest, default_chunk_size: usize) -> RenderContext {
        let mut h = Sha256::new();
        h.update(fx.digest);
        h.update(req.body_digest);
        RenderContext {
            seed: h.finalize().into(),
            chunk_size: fx.options.chunk_size.unwrap_or(default_chunk_size).max(1),
            whole: false,
        }
    }

    /// A context for replies that no fixture backs (fallback embeddings).
    pub fn for_request(req: &ChatRequest) -> RenderContext {
        RenderContext {
            seed: req.body_digest,
            chunk_size: 20,
            whole: false,
        }
    }

    /// A deterministic id: `prefix` followed by `len` alphanumerics derived from the
    /// seed and `label` (so two ids in one reply differ).
    pub fn id(&self, prefix: &str, label: &str, len: usize) -> String {
        let mut out = Vec::with_capacity(prefix.len() + len);
        out.extend_from_slice(prefix.as_bytes());
        let mut counter = 0u32;
        while out.len() < prefix.len() + len {
            let mut h = Sha256::new();
            h.update(self.seed);
            h.update(label.as_bytes());
            h.update(counter.to_le_bytes());
            let take = (prefix.len() + len - out.len()).min(32);
            // Bytes, not chars: the alphabet is ASCII, and `String::push` encodes each.
            out.extend(
                h.finalize()[..take]
                    .iter()
                    .map(|&b| ID_ALPHABET[usize::from(b) % ID_ALPHABET.len()]),
            );
            counter += 1;
        }
        // A `str` prefix followed by ASCII: always UTF-8.
        String::from_utf8(out).unwrap_or_default()
    }

    /// A deterministic, plausible unix timestamp (between 2023-11 and 2027-01).
    pub fn created(&self) -> i64 {
        let n = u32::from_le_bytes([self.seed[0], self.seed[1], self.seed[2], self.seed[3]]);
        1_700_000_000 + i64::from(n % 100_000_000)
    }

    /// A deterministic value in [0, 1) for label (used for jitter).
    pub fn unit(&self, label: &str) -> f64 {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(label.as_bytes());
        let d = h.finalize();
        let n = u64::from_le_bytes(d[..8].try_into().expect("sha256 is 32 bytes"));
        (n >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Append `s` to `buf` as a JSON string: the bytes `serde_json` writes for it. Most
/// strings in a reply need no escaping and are copied whole; `serde_json` looks at every
/// byte through a table, which made string-heavy replies slow to render.
pub fn json_str(buf: &mut Vec<u8>, s: &str) {
    // `serde_json` escapes exactly these: control characters, `"` and `\`. (A fold
    // without an early exit, so the compiler checks many bytes at a time; a word-at-a-time
    // check was tried and counted more instructions.)
    let escaped = s
        .bytes()
        .fold(false, |e, b| e | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if !escaped {
        buf.reserve(s.len() + 2);
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    } else {
        json_value(buf, &s);
    }
}

/// Append `v` to `buf` as compact JSON. Writing to memory cannot fail, and every value
/// a reply holds has string keys, the one thing `serde_json` refuses.
pub fn json_value(buf: &mut Vec<u8>, v: &impl serde::Serialize) {
    serde_json::to_writer(buf, v).expect("JSON with string keys always serialises to a Vec");
}

/// Split `s` into slices of at most `size` characters, never inside a character. An
/// iterator, not a list: every streamed reply slices its texts, and a list would be an
/// allocation per text for nothing.
pub fn chunk_text(s: &str, size: usize) -> TextChunks<'_> {
    TextChunks {
        rest: s,
        size: size.max(1),
        ascii: s.is_ascii(),
    }
}

/// The slices of [`chunk_text`].
#[derive(Debug, Clone)]
pub struct TextChunks<'a> {
    rest: &'a str,
    size: usize,
    /// One byte per character: cut every `size` bytes without walking characters.
    ascii: bool,
}

impl<'a> Iterator for TextChunks<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let cut = if self.ascii {
            self.size.min(self.rest.len())
        } else {
            self.rest
                .char_indices()
                .nth(self.size)
                .map_or(self.rest.len(), |(i, _)| i)
        };
        let (slice, rest) = self.rest.split_at(cut);
        self.rest = rest;
        Some(slice)
    }
}

/// The reference's token estimate: `max(1, ceil(chars / 4))`.
pub fn estimate_tokens(chars: usize) -> u64 {
    (chars.div_ceil(4)).max(1) as u64
}

/// Characters of prompt text in a request (every message's text and tool calls).
pub fn prompt_chars(req: &ChatRequest) -> usize {
    req.messages
        .iter()
        .map(|m| {
            m.text.as_deref().map_or(0, |t| t.chars().count())
                + m.tool_calls
                    .iter()
                    .map(|c| c.name.len() + c.arguments.len())
                    .sum::<usize>()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_character_boundaries() {
        assert_eq!(
            chunk_text("hello world", 3).collect::<Vec<_>>(),
            vec!["hel", "lo ", "wor", "ld"]
        );
        assert_eq!(chunk_text("abc", 3).collect::<Vec<_>>(), vec!["abc"]);
        assert_eq!(
            chunk_text("héllo wörld", 3).collect::<Vec<_>>(),
            vec!["hél", "lo ", "wör", "ld"]
        );
        assert_eq!(chunk_text("", 3).collect::<Vec<_>>(), Vec::<&str>::new());
        assert_eq!(chunk_text("ab", 0).collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(chunk_text("é", 5).collect::<Vec<_>>(), vec!["é"]);
        assert_eq!(
            chunk_text("aé🎉b", 1).collect::<Vec<_>>(),
            vec!["a", "é", "🎉", "b"]
        );
    }

    #[test]
    fn ids_are_deterministic_and_differ_by_label() {
        let ctx = RenderContext {
            seed: [7; 32],
            chunk_size: 20,
            whole: false,
        };
        assert_eq!(ctx.id("chatcmpl-", "c", 24), ctx.id("chatcmpl-", "c", 24));
        assert_ne!(ctx.id("call_", "0", 24), ctx.id("call_", "1", 24));
        assert_eq!(ctx.id("x", "y", 40).len(), 41);
    }

    #[test]
    fn ids_are_the_alphabet_of_sha256_of_seed_label_and_counter() {
        // The derivation users' snapshots depend on, spelled out: 32 characters per
        // digest of (seed, label, little-endian counter), each byte modulo 62.
        let ctx = RenderContext {
            seed: [7; 32],
            chunk_size: 20,
            whole: false,
        };
        let spelled = |prefix: &str, label: &str, len: usize| {
            let mut out = prefix.to_string();
            let mut counter = 0u32;
            while out.len() < prefix.len() + len {
                let mut h = Sha256::new();
                h.update(ctx.seed);
                h.update(label.as_bytes());
                h.update(counter.to_le_bytes());
                for b in h.finalize() {
                    if out.len() < prefix.len() + len {
                        out.push(ID_ALPHABET[b as usize % 62] as char);
                    }
                }
                counter += 1;
            }
            out
        };
        for len in [0, 1, 22, 24, 31, 32, 33, 64, 65, 70] {
            for (prefix, label) in [("msg_01", "id"), ("", "request-id"), ("call_", "0")] {
                assert_eq!(ctx.id(prefix, label, len), spelled(prefix, label, len));
            }
        }
        assert_eq!(ctx.id("req_", "request-id", 24).len(), 28);
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let samples = [
            "",
            "plain text, émoji 🎉 and </script>",
            "quote \" backslash \\ slash /",
            "controls \u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} and del \u{7f}",
            "\u{2028}\u{2029}",
        ];
        for s in samples {
            let mut w = FrameWriter::default();
            w.str(s);
            assert_eq!(w.buf, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn every_byte_that_needs_escaping_is_found_at_every_position() {
        // Each ASCII byte, at each offset of strings from 1 to 24 bytes long (whole
        // words, a tail, both), among bytes that need nothing; and non-ASCII text.
        for len in 1..=24 {
            for at in 0..len {
                for b in 0u8..0x80 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    let s = std::str::from_utf8(&bytes).unwrap();
                    let mut got = Vec::new();
                    json_str(&mut got, s);
                    assert_eq!(got, serde_json::to_vec(s).unwrap(), "{s:?}");
                }
            }
        }
        for s in ["é🎉ü", "ÿ\u{80}\u{7ff}", "a\u{2028}b", "\u{10ffff}\"x"] {
            let mut got = Vec::new();
            json_str(&mut got, s);
            assert_eq!(got, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn token_estimate_is_at_least_one() {
        assert_eq!(estimate_tokens(0), 1);
        assert_eq!(estimate_tokens(9), 3);
    }
}

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
pub mod common;
pub mod embeddings;
pub mod gemini;
pub mod ollama;
pub mod openai_chat;
pub mod responses;

// Transitional: the toolbox's names where callers still look for them.
pub use common::{
    chunk_text, estimate_tokens, json_body, json_str, json_text, json_value, prompt_chars,
    ErrorKind, Frame, FrameWriter, ParseError, PlanBody, RenderContext, RenderPlan, RequestParts,
    TextChunks,
};
pub use common::{collapse, skim};

use std::borrow::Cow;

use serde_json::{json, Value};

use crate::cassette::Fixture;
use crate::request::ChatRequest;

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

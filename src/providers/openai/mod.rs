//! OpenAI and Azure OpenAI: chat completions ([`chat`]), embeddings ([`embeddings`])
//! and responses ([`responses`], also over WebSocket: `responses::socket`), one error
//! envelope for all three ([`mod@error`]); and the Realtime API's WebSocket protocol
//! (`realtime`).
//!
//! Here: [`Op`], and the verbs every provider module offers with the same signatures
//! (`parse_request`, `render`, `error`, `rate_limit_headers`, `collapse`, `stream_end`,
//! `fallback_embedding`), each matching only OpenAI's own operations.
//!
//! Not here: routing (`server::router` builds the [`Op`]), what every provider shares
//! (`providers::common`).

pub mod chat;
pub mod embeddings;
pub mod error;
pub(crate) mod realtime;
pub mod responses;

use crate::cassette::Fixture;
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::stream_end::{sse_type, Signal, StreamFrame};
use crate::providers::common::{
    answer, ErrorKind, ParseError, RenderContext, RenderPlan, RequestParts,
};
use crate::request::ChatRequest;

/// An OpenAI operation, with the parameters its path carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `POST /v1/chat/completions`, or Azure's deployment path.
    Chat {
        /// The Azure deployment id, when the request came in on an Azure path.
        azure_deployment: Option<String>,
    },
    /// `POST /v1/embeddings`, or Azure's deployment path.
    Embeddings {
        /// The Azure deployment id, when the request came in on an Azure path.
        azure_deployment: Option<String>,
    },
    /// `POST /v1/responses`.
    Responses,
}

impl Op {
    /// `azure` on an Azure deployment path, else `openai`.
    pub fn provider(&self) -> &'static str {
        match self {
            Op::Chat { azure_deployment } | Op::Embeddings { azure_deployment }
                if azure_deployment.is_some() =>
            {
                "azure"
            }
            _ => "openai",
        }
    }
}

/// Parse a request.
pub fn parse_request(
    op: &Op,
    parts: &RequestParts,
    body: &[u8],
) -> Result<ChatRequest, ParseError> {
    match op {
        Op::Chat { azure_deployment } => {
            chat::parse_request(parts, body, azure_deployment.as_deref())
        }
        Op::Embeddings { azure_deployment } => {
            embeddings::parse_request(parts, body, azure_deployment.as_deref())
        }
        Op::Responses => responses::request::parse_request(body),
    }
}

/// Render a matched (non-error) fixture.
pub fn render(op: &Op, fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let refused = |message: String| error(op, 500, &message, &ErrorKind::Internal);
    match op {
        Op::Chat { .. } => match answer::chat(fx, "a chat completion") {
            Ok(reply) => chat::render(reply, req, ctx),
            Err(message) => refused(message),
        },
        Op::Embeddings { .. } => match answer::embedding(fx, "an embeddings request") {
            Ok(vector) => embeddings::render(vector, req),
            Err(message) => refused(message),
        },
        Op::Responses => match answer::chat(fx, "a Responses request") {
            Ok(reply) => responses::render(reply, req, ctx),
            Err(message) => refused(message),
        },
    }
}

/// OpenAI's error envelope (see [`error::body`]).
pub fn error(_op: &Op, status: u16, message: &str, kind: &ErrorKind) -> RenderPlan {
    RenderPlan::json(status, &error::body(status, message, kind))
}

/// The headers OpenAI's 429 carries besides `Retry-After`.
pub fn rate_limit_headers(_op: &Op) -> &'static [(&'static str, &'static str)] {
    error::RATE_LIMIT_HEADERS
}

/// Read a recorded reply back into a [`Collapsed`].
pub fn collapse(op: &Op, content_type: &str, body: &[u8]) -> Collapsed {
    match op {
        Op::Chat { .. } => chat::collapse(content_type, body),
        Op::Embeddings { .. } => embeddings::collapse(body),
        Op::Responses => responses::collapse::collapse(content_type, body),
    }
}

/// Chat streams end with `data: [DONE]`; Responses streams with
/// `response.completed` (or `.incomplete`, `.failed`); an `error` event ends either.
pub fn stream_end(op: &Op, frame: &StreamFrame) -> Signal {
    let StreamFrame::Sse { event, data } = *frame else {
        return Signal::None;
    };
    let data = data.trim();
    if data == "[DONE]" {
        return Signal::Final;
    }
    let kind = sse_type(event, data);
    match (op, kind.as_deref()) {
        (_, Some("error")) => Signal::Final,
        (Op::Responses, Some("response.completed" | "response.incomplete" | "response.failed")) => {
            Signal::Final
        }
        _ => Signal::None,
    }
}

/// The deterministic vector answer to an unmatched embeddings request.
pub fn fallback_embedding(op: &Op, req: &ChatRequest, _ctx: &RenderContext) -> Option<RenderPlan> {
    match op {
        Op::Embeddings { .. } => Some(embeddings::fallback(req)),
        _ => None,
    }
}

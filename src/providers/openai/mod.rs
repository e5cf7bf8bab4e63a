//! OpenAI and Azure OpenAI: chat completions ([`chat`]), embeddings ([`embeddings`]),
//! responses ([`responses`], also over WebSocket: `responses::socket`), the media
//! surfaces: images ([`images`]), speech and transcription ([`audio`]), video jobs
//! ([`video`]); moderations ([`moderations`]); one error envelope for all of them ([`mod@error`]); and the Realtime
//! API's WebSocket protocol (`realtime`).
//!
//! Here: [`Op`], and the verbs every provider module offers with the same signatures
//! (`parse_request`, `render`, `error`, `rate_limit_headers`, `collapse`, `stream_end`,
//! `fallback_embedding`), each matching only OpenAI's own operations.
//!
//! Not here: routing (`server::router` builds the [`Op`]), what every provider shares
//! (`providers::common`).

pub mod audio;
pub mod chat;
pub mod embeddings;
pub mod error;
pub mod images;
pub mod moderations;
pub(crate) mod realtime;
pub mod responses;
pub mod video;

use crate::cassette::model::MediaKind;
use crate::cassette::{Fixture, Reply};
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
    /// `POST /api/v1/chat/completions` (OpenRouter): the chat completions body and
    /// reply, OpenRouter's error envelope, its own upstream.
    OpenRouterChat,
    /// `POST /v1/responses`.
    Responses,
    /// `POST /v1/images/generations` (JSON) or `/v1/images/edits` (multipart), or
    /// Azure's deployment paths.
    Images {
        /// `images/edits`.
        edit: bool,
        /// The Azure deployment id, when the request came in on an Azure path.
        azure_deployment: Option<String>,
    },
    /// `POST /v1/audio/speech`, or Azure's deployment path.
    Speech {
        /// The Azure deployment id, when the request came in on an Azure path.
        azure_deployment: Option<String>,
    },
    /// `POST /v1/audio/transcriptions` or `/v1/audio/translations` (multipart), or
    /// Azure's deployment paths.
    Transcribe {
        /// `audio/translations`.
        translate: bool,
        /// The Azure deployment id, when the request came in on an Azure path.
        azure_deployment: Option<String>,
    },
    /// The video job routes.
    Video(video::VideoOp),
    /// `POST /v1/moderations`.
    Moderations,
}

impl Op {
    /// `azure` on an Azure deployment path, else `openai`.
    pub fn provider(&self) -> &'static str {
        match self {
            Op::Chat { azure_deployment }
            | Op::Embeddings { azure_deployment }
            | Op::Images {
                azure_deployment, ..
            }
            | Op::Speech { azure_deployment }
            | Op::Transcribe {
                azure_deployment, ..
            } if azure_deployment.is_some() => "azure",
            Op::OpenRouterChat => "openrouter",
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
        Op::OpenRouterChat => chat::parse_request(parts, body, None),
        Op::Embeddings { azure_deployment } => {
            embeddings::parse_request(parts, body, azure_deployment.as_deref())
        }
        Op::Responses => responses::request::parse_request(body),
        Op::Images {
            edit,
            azure_deployment,
        } => images::parse_request(parts, body, *edit, azure_deployment.as_deref()),
        Op::Speech { azure_deployment } => {
            audio::speech::parse_request(body, azure_deployment.as_deref())
        }
        Op::Transcribe {
            translate,
            azure_deployment,
        } => audio::transcribe::parse_request(parts, body, *translate, azure_deployment.as_deref()),
        Op::Video(v) => video::parse_request(v, parts, body),
        Op::Moderations => moderations::parse_request(body, None),
    }
}

/// Render a matched (non-error) fixture.
pub fn render(op: &Op, fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let refused = |message: String| error(op, 500, &message, &ErrorKind::Internal);
    match op {
        Op::Chat { .. } | Op::OpenRouterChat => match answer::chat(fx, "a chat completion") {
            Ok(reply) => chat::render(reply, req, ctx),
            Err(message) => refused(message),
        },
        Op::Embeddings { .. } => match answer::embedding(fx, "an embeddings request") {
            Ok(vector) => crate::providers::common::native::overlay_plan(
                embeddings::render(vector, req),
                answer::embedding_native(fx, "openai"),
            ),
            Err(message) => refused(message),
        },
        Op::Responses => match answer::chat(fx, "a Responses request") {
            Ok(reply) => responses::render(reply, req, ctx),
            Err(message) => refused(message),
        },
        Op::Images { .. } => match answer::media(fx, MediaKind::Image, "an image request") {
            Ok(v) => images::render(v, req, ctx).unwrap_or_else(refused),
            Err(message) => refused(message),
        },
        Op::Speech { .. } => match answer::media(fx, MediaKind::Audio, "a speech request") {
            Ok(v) => audio::speech::render(v, req).unwrap_or_else(refused),
            Err(message) => refused(message),
        },
        Op::Transcribe { translate, .. } => {
            match answer::media(fx, MediaKind::Transcription, "a transcription request") {
                Ok(v) => audio::transcribe::render(v, req, ctx, *translate),
                Err(message) => refused(message),
            }
        }
        Op::Video(_) => match answer::media(fx, MediaKind::Video, "a video request") {
            Ok(v) => video::render_job(v, req, ctx, 0),
            Err(message) => refused(message),
        },
        Op::Moderations => moderations::render(fx, req, ctx).unwrap_or_else(refused),
    }
}

/// The id of the job a matched create starts (video creates), for the server's job
/// table; `None` for every other operation.
pub fn job_id(op: &Op, fx: &Fixture, _req: &ChatRequest, ctx: &RenderContext) -> Option<String> {
    match (op, &fx.reply) {
        (Op::Video(video::VideoOp::Create), Reply::Media(MediaKind::Video, v)) => {
            Some(video::job_id(v, ctx))
        }
        _ => None,
    }
}

/// A started job as seen on its `polls`-th status poll: the reply to `poll` (a status
/// poll or a content download), `start` being the request that started the job.
pub fn render_job(
    op: &Op,
    fx: &Fixture,
    start: &ChatRequest,
    poll: &ChatRequest,
    ctx: &RenderContext,
    polls: u32,
) -> RenderPlan {
    let Reply::Media(MediaKind::Video, v) = &fx.reply else {
        return error(
            op,
            500,
            "the job's fixture holds no video",
            &ErrorKind::Internal,
        );
    };
    match op {
        Op::Video(video::VideoOp::Content { .. }) => {
            let variant = poll
                .hints
                .media
                .as_deref()
                .and_then(|h| h.format.as_deref());
            video::render_content(v, start, ctx, polls, variant).unwrap_or_else(
                |(status, code, m)| error(op, status, &m, &ErrorKind::InvalidRequest { code }),
            )
        }
        _ => video::render_job(v, start, ctx, polls),
    }
}

/// OpenAI's error envelope (see [`error::body`]).
pub fn error(op: &Op, status: u16, message: &str, kind: &ErrorKind) -> RenderPlan {
    if *op == Op::OpenRouterChat {
        return RenderPlan::json(status, &error::openrouter_body(status, message));
    }
    RenderPlan::json(status, &error::body(status, message, kind))
}

/// The headers OpenAI's 429 carries besides `Retry-After`.
pub fn rate_limit_headers(_op: &Op) -> &'static [(&'static str, &'static str)] {
    error::RATE_LIMIT_HEADERS
}

/// Read a recorded reply back into a [`Collapsed`].
pub fn collapse(op: &Op, content_type: &str, body: &[u8]) -> Collapsed {
    match op {
        Op::Chat { .. } | Op::OpenRouterChat => chat::collapse(content_type, body),
        Op::Embeddings { .. } => embeddings::collapse(body),
        Op::Responses => responses::collapse::collapse(content_type, body),
        Op::Images { .. } => images::collapse(body),
        Op::Speech { .. } => audio::speech::collapse(content_type, body),
        Op::Transcribe { .. } => audio::transcribe::collapse(content_type, body),
        Op::Video(v) => video::collapse(v, content_type, body),
        Op::Moderations => moderations::collapse(body),
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
        (Op::Speech { .. }, Some("speech.audio.done")) => Signal::Final,
        // `[DONE]` may follow (it is the final signal above).
        (Op::Transcribe { .. }, Some("transcript.text.done")) => Signal::Terminal,
        _ => Signal::None,
    }
}

/// The answer to an unmatched moderation: nothing flagged.
pub fn default_answer(op: &Op, req: &ChatRequest, ctx: &RenderContext) -> Option<RenderPlan> {
    match op {
        Op::Moderations => Some(moderations::default_answer(req, ctx)),
        _ => None,
    }
}

/// The deterministic vector answer to an unmatched embeddings request.
pub fn fallback_embedding(op: &Op, req: &ChatRequest, _ctx: &RenderContext) -> Option<RenderPlan> {
    match op {
        Op::Embeddings { .. } => Some(embeddings::fallback(req)),
        _ => None,
    }
}

//! Provider wire formats: the dispatch from a [`Surface`] to the provider that owns it.
//!
//! Every provider module speaks the same verbs with the same signatures, each taking
//! only its own operation enum (`Op`):
//! - `parse_request(op, &RequestParts, body) -> Result<ChatRequest, ParseError>`
//! - `render(op, &Fixture, &ChatRequest, &RenderContext) -> RenderPlan`
//! - `error(op, status, message, &ErrorKind) -> RenderPlan`, the provider's envelope,
//!   and `rate_limit_headers(op)`, what it adds to a 429
//! - `collapse(op, content_type, body) -> Collapsed`
//! - `stream_end(op, &StreamFrame) -> Signal`
//! - `fallback_embedding(op, &ChatRequest, &RenderContext) -> Option<RenderPlan>`
//!
//! This file matches a [`Surface`] once and hands the provider its `Op`; what every
//! provider shares (error fixtures, `Retry-After`) happens here, once. The toolbox the
//! providers use lives below them, in [`common`] (the reply-kind check, usage counts,
//! the render plan, stream-end frames, ...).
//!
//! Every provider folder is laid out the same way: `mod.rs` with `Op` and the verbs;
//! `error.rs`, its error envelope; `collapse.rs`, reading a recording back; then one
//! file (or folder) per operation or per half of one (`request.rs`/`reply.rs` for
//! Anthropic's single operation, `chat.rs`/`embed.rs` for Cohere and Ollama, `chat/`,
//! `responses/`, `embeddings.rs` for OpenAI); and `skim.rs` where a request has a fast
//! path, held equal to the general parser by a test.
//!
//! Providers never touch sockets, files or clocks: a [`RenderPlan`] is plain data (a
//! status, headers, and either one body or a list of frames), and the server's pacing
//! layer turns frames into a timed stream. Determinism lives in [`RenderContext`]: every
//! generated id and timestamp derives from a SHA-256 of the fixture and the request.

pub mod anthropic;
pub mod bedrock;
pub mod cohere;
pub(crate) mod common;
pub mod gemini;
pub mod ollama;
pub mod openai;
pub mod tavily;

use std::borrow::Cow;

use crate::cassette::{Fixture, Reply};
use crate::request::ChatRequest;
use common::collapse::Collapsed;
use common::stream_end::{Signal, StreamFrame};
use common::{ErrorKind, ParseError, RenderContext, RenderPlan, RequestParts};

/// Every API surface we answer: the provider family, and that provider's operation
/// with the parameters its path carries. The router builds these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Surface {
    /// OpenAI and Azure OpenAI: chat completions, embeddings, responses, images, audio,
    /// video.
    OpenAi(openai::Op),
    /// Anthropic Messages.
    Anthropic(anthropic::Op),
    /// Gemini API and Vertex AI.
    Gemini(gemini::Op),
    /// AWS Bedrock runtime.
    Bedrock(bedrock::Op),
    /// Cohere v2.
    Cohere(cohere::Op),
    /// Ollama's native API.
    Ollama(ollama::Op),
    /// Tavily web search.
    Tavily(tavily::Op),
}

/// Where a request stands in the life of a job (a video generation): the create that
/// starts one, a status poll, a content download. The server's job table reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStep<'a> {
    /// Starts a job when it matches a fixture.
    Start,
    /// Polls the job with this id.
    Poll(&'a str),
    /// Downloads the content of the job with this id.
    Content(&'a str),
}

/// Call `$verb` of the provider owning the surface, with its own `Op` first.
macro_rules! dispatch {
    ($surface:expr, $verb:ident($($arg:expr),*)) => {
        match $surface {
            Surface::OpenAi(op) => openai::$verb(op $(, $arg)*),
            Surface::Anthropic(op) => anthropic::$verb(op $(, $arg)*),
            Surface::Gemini(op) => gemini::$verb(op $(, $arg)*),
            Surface::Bedrock(op) => bedrock::$verb(op $(, $arg)*),
            Surface::Cohere(op) => cohere::$verb(op $(, $arg)*),
            Surface::Ollama(op) => ollama::$verb(op $(, $arg)*),
            Surface::Tavily(op) => tavily::$verb(op $(, $arg)*),
        }
    };
}

impl Surface {
    /// The provider key used for recording files and upstream lookup.
    pub fn provider(&self) -> &'static str {
        match self {
            Surface::OpenAi(op) => op.provider(),
            Surface::Anthropic(anthropic::Op::Foundry) => "foundry",
            Surface::Anthropic(_) => "anthropic",
            Surface::Gemini(op) => op.provider(),
            Surface::Bedrock(_) => "bedrock",
            Surface::Cohere(_) => "cohere",
            Surface::Ollama(_) => "ollama",
            Surface::Tavily(_) => "tavily",
        }
    }

    /// Whether this surface is an embeddings endpoint.
    pub fn is_embedding(&self) -> bool {
        matches!(
            self,
            Surface::OpenAi(openai::Op::Embeddings { .. })
                | Surface::Gemini(gemini::Op::Embed { .. })
                | Surface::Cohere(cohere::Op::Embed)
                | Surface::Ollama(ollama::Op::Embed { .. })
        ) || matches!(self, Surface::Bedrock(bedrock::Op::Invoke { model, .. })
            if bedrock::family::is_embedding_model(model))
    }

    /// The job step this surface is, for the job routes (video creates, polls and
    /// downloads); `None` for every other surface.
    pub fn job_step<'a>(&'a self, req: &'a ChatRequest) -> Option<JobStep<'a>> {
        use openai::video::VideoOp;
        match self {
            Surface::Gemini(gemini::Op::FetchOperation { .. }) => Some(JobStep::Poll(
                req.hints
                    .media
                    .as_deref()
                    .and_then(|h| h.job_id.as_deref())
                    .unwrap_or(""),
            )),
            Surface::OpenAi(openai::Op::Video(VideoOp::Create))
            | Surface::Gemini(gemini::Op::PredictLongRunning { .. }) => Some(JobStep::Start),
            Surface::OpenAi(openai::Op::Video(VideoOp::Retrieve { id }))
            | Surface::Gemini(gemini::Op::Operation { id }) => Some(JobStep::Poll(id)),
            Surface::OpenAi(openai::Op::Video(VideoOp::Content { id })) => {
                Some(JobStep::Content(id))
            }
            _ => None,
        }
    }

    /// The id of the job a matched start hands out (see [`JobStep::Start`]).
    pub fn job_id(&self, fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> Option<String> {
        match self {
            Surface::OpenAi(op) => openai::job_id(op, fx, req, ctx),
            Surface::Gemini(op) => gemini::job_id(op, fx, req, ctx),
            _ => None,
        }
    }

    /// A started job's reply to `poll` after `polls` status polls (`start` is the
    /// request that started it, `fx` the fixture it matched).
    pub fn render_job(
        &self,
        fx: &Fixture,
        start: &ChatRequest,
        poll: &ChatRequest,
        ctx: &RenderContext,
        polls: u32,
    ) -> RenderPlan {
        if let Reply::Error(e) = &fx.reply {
            return self.error(e.status, &e.message, ErrorKind::Fixture(e));
        }
        match self {
            Surface::OpenAi(op) => openai::render_job(op, fx, start, poll, ctx, polls),
            Surface::Gemini(op) => gemini::render_job(op, fx, start, poll, ctx, polls),
            _ => self.error(500, "this surface has no jobs", ErrorKind::Internal),
        }
    }

    /// Whether the body alone parses again as it did (the journal re-parses kept bodies
    /// without their headers): not for multipart uploads, whose boundary is a header.
    pub fn body_alone_parses(&self) -> bool {
        !matches!(
            self,
            Surface::OpenAi(
                openai::Op::Images { .. }
                    | openai::Op::Transcribe { .. }
                    | openai::Op::Video(openai::video::VideoOp::Create)
            )
        )
    }

    /// Parse the provider request into the neutral form.
    pub fn parse_request(
        &self,
        parts: &RequestParts,
        body: &[u8],
    ) -> Result<ChatRequest, ParseError> {
        dispatch!(self, parse_request(parts, body))
    }

    /// Render a matched fixture: an error fixture in the provider's error shape,
    /// anything else by the provider (which refuses a reply of the wrong kind through
    /// [`common::answer`]).
    pub fn render(&self, fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
        if let Reply::Error(e) = &fx.reply {
            return self.error(e.status, &e.message, ErrorKind::Fixture(e));
        }
        dispatch!(self, render(fx, req, ctx))
    }

    /// The answer to a search, rerank or moderation request no fixture matched
    /// (unless strict): no results, documents ranked by similarity, nothing flagged.
    pub fn default_answer(&self, req: &ChatRequest, ctx: &RenderContext) -> Option<RenderPlan> {
        match self {
            Surface::Tavily(op) => Some(tavily::default_answer(op, req, ctx)),
            Surface::Cohere(op) => cohere::default_answer(op, req, ctx),
            Surface::OpenAi(op) => openai::default_answer(op, req, ctx),
            _ => None,
        }
    }

    /// The deterministic embedding answer for an unmatched embedding request.
    pub fn fallback_embedding(&self, req: &ChatRequest, ctx: &RenderContext) -> Option<RenderPlan> {
        dispatch!(self, fallback_embedding(req, ctx))
    }

    /// Read a recorded upstream reply into a [`Collapsed`]. Non-2xx statuses
    /// become error fixtures with the real status, whatever the surface.
    pub fn collapse(&self, status: u16, content_type: &str, body: &[u8]) -> Collapsed {
        if status >= 400 {
            let mut c = Collapsed::default();
            c.error = Some(common::collapse::error_from_body(status, body));
            return c;
        }
        dispatch!(self, collapse(content_type, body))
    }

    /// What one frame of this surface's upstream stream says about its end.
    pub fn stream_end(&self, frame: &StreamFrame) -> Signal {
        dispatch!(self, stream_end(frame))
    }

    /// An error reply in this provider's shape, so its SDK raises its typed error. A
    /// 429 carries `Retry-After` (the fixture's `retryAfter`, default 1) on every
    /// provider, then the provider's own rate-limit headers.
    pub fn error(&self, status: u16, message: &str, kind: ErrorKind) -> RenderPlan {
        let mut plan = dispatch!(self, error(status, message, &kind));
        if status == 429 {
            let retry = match kind {
                ErrorKind::Fixture(e) => e.retry_after.unwrap_or(1),
                _ => 1,
            };
            plan.headers.push(("retry-after", retry.to_string().into()));
            let extra = dispatch!(self, rate_limit_headers());
            plan.headers
                .extend(extra.iter().map(|&(k, v)| (k, Cow::Borrowed(v))));
        }
        plan
    }
}

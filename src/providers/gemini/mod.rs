//! Gemini API and Vertex AI: `models/{m}:generateContent`, `:streamGenerateContent`,
//! `:embedContent` and `:batchEmbedContents`, on both the Gemini paths
//! (`/v1beta/models/...`, `/v1/models/...`) and the Vertex publisher paths
//! (`/v1|/v1beta1/projects/{p}/locations/{l}/publishers/google/models/...`).
//!
//! Layout: `request` turns the wire body into a [`ChatRequest`], `generate` renders
//! chat replies (JSON, `alt=sse` SSE, or the streamed JSON array Google sends without
//! `alt=sse`), `embed` renders embeddings, [`collapse`] reads recorded replies back.
//! Errors use Google's `{"error":{"code","message","status"}}` envelope so google-genai
//! raises `ClientError`/`ServerError` with the message and code.
//!
//! Byte shapes follow real captures (tests/data/golden/{gemini,vertex}): non-stream
//! bodies and streamed array elements are pretty-printed with two-space indents; SSE
//! events are `data: <json>\r\n\r\n` with a space after `:` but none after `,`; Vertex
//! puts `role` before `parts` and adds `createTime`.
//!
//! Media: Imagen `:predict` on both paths ([`imagen`]), Veo `:predictLongRunning` and
//! its `operations/{id}` polls on the Gemini paths ([`veo`]).
//!
//! Not here: Vertex `:predict` for the older embedding models, Vertex's
//! `:fetchPredictOperation`, and the Interactions API.

mod collapse;
mod embed;
pub mod error;
mod generate;
mod imagen;
pub(crate) mod live;
mod live_collapse;
pub mod native;
mod request;
mod veo;

use std::io;

use serde::Serialize;
use serde_json::Value;

use crate::cassette::model::MediaKind;
use crate::cassette::{Fixture, Reply};
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::stream_end::{Signal, StreamFrame};
use crate::providers::common::{
    answer, ErrorKind, ParseError, RenderContext, RenderPlan, RequestParts,
};
use crate::request::ChatRequest;

/// Google's JSON content type, as the API sends it.
const JSON_CONTENT_TYPE: &str = "application/json; charset=UTF-8";

/// A Gemini or Vertex operation, with the model from the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `models/{model}:generateContent` / `:streamGenerateContent`.
    Generate {
        /// The model from the path.
        model: String,
        /// `streamGenerateContent`.
        stream: bool,
        /// Came in on a Vertex AI path.
        vertex: bool,
    },
    /// `:embedContent` / `:batchEmbedContents`.
    Embed {
        /// The model from the path.
        model: String,
        /// `batchEmbedContents`.
        batch: bool,
        /// Came in on a Vertex AI path.
        vertex: bool,
    },
    /// Imagen `:predict`.
    Predict {
        /// The model from the path.
        model: String,
        /// Came in on a Vertex AI path.
        vertex: bool,
    },
    /// Veo `:predictLongRunning`, on the Gemini API or Vertex.
    PredictLongRunning {
        /// The model from the path.
        model: String,
        /// On Vertex, the model's resource name
        /// (`projects/{p}/locations/{l}/publishers/google/models/{m}`), which the
        /// operation's name extends.
        resource: Option<String>,
    },
    /// Vertex's `models/{m}:fetchPredictOperation`: a Veo poll naming its operation in
    /// the body.
    FetchOperation {
        /// The model from the path.
        model: String,
    },
    /// `GET /v1beta/models/{m}/operations/{id}` or `/v1beta/operations/{id}`.
    Operation {
        /// The operation id (the last segment of its name).
        id: String,
    },
}

impl Op {
    /// `vertexai` on a Vertex path, else `gemini`.
    pub fn provider(&self) -> &'static str {
        match self {
            Op::Generate { vertex: true, .. }
            | Op::Embed { vertex: true, .. }
            | Op::Predict { vertex: true, .. }
            | Op::PredictLongRunning {
                resource: Some(_), ..
            }
            | Op::FetchOperation { .. } => "vertexai",
            _ => "gemini",
        }
    }
}

/// Parse a Gemini or Vertex request.
pub fn parse_request(
    op: &Op,
    parts: &RequestParts,
    body: &[u8],
) -> Result<ChatRequest, ParseError> {
    match op {
        Op::Generate { model, stream, .. } => request::parse_generate(parts, body, model, *stream),
        Op::Embed { model, batch, .. } => request::parse_embed(body, model, *batch),
        Op::Predict { model, .. } => imagen::parse_request(body, model),
        Op::PredictLongRunning { model, resource } => {
            veo::parse_request(body, model, resource.as_deref())
        }
        Op::Operation { .. } => Ok(ChatRequest::new(crate::request::Endpoint::Video, body)),
        Op::FetchOperation { .. } => veo::parse_fetch(body),
    }
}

/// Render a matched (non-error) fixture.
pub fn render(op: &Op, fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let refused = |message: String| error(op, 500, &message, &ErrorKind::Internal);
    match op {
        Op::Generate { model, vertex, .. } => match answer::chat(fx, "a generateContent request") {
            Ok(reply) => generate::render(reply, req, ctx, model, *vertex),
            Err(message) => refused(message),
        },
        Op::Embed { batch, vertex, .. } => match answer::embedding(fx, "an embedding request") {
            Ok(vector) => crate::providers::common::native::overlay_plan(
                embed::render(vector, req, *batch, *vertex),
                answer::embedding_native(fx, native::PROVIDER),
            ),
            Err(message) => refused(message),
        },
        Op::Predict { .. } => match answer::media(fx, MediaKind::Image, "a :predict request") {
            Ok(v) => imagen::render(v, req).unwrap_or_else(refused),
            Err(message) => refused(message),
        },
        Op::PredictLongRunning { .. } | Op::Operation { .. } | Op::FetchOperation { .. } => {
            match answer::media(fx, MediaKind::Video, "a :predictLongRunning request") {
                Ok(v) => veo::render_job(v, req, ctx, 0),
                Err(message) => refused(message),
            }
        }
    }
}

/// The id of the job a matched `:predictLongRunning` starts; `None` for the rest.
pub fn job_id(op: &Op, fx: &Fixture, _req: &ChatRequest, ctx: &RenderContext) -> Option<String> {
    match (op, &fx.reply) {
        (Op::PredictLongRunning { .. }, Reply::Media(MediaKind::Video, v)) => {
            Some(veo::job_id(v, ctx))
        }
        _ => None,
    }
}

/// A started Veo job on its `polls`-th poll (`start` is the request that started it).
pub fn render_job(
    op: &Op,
    fx: &Fixture,
    start: &ChatRequest,
    _poll: &ChatRequest,
    ctx: &RenderContext,
    polls: u32,
) -> RenderPlan {
    match &fx.reply {
        Reply::Media(MediaKind::Video, v) => veo::render_job(v, start, ctx, polls),
        _ => error(
            op,
            500,
            "the job's fixture holds no video",
            &ErrorKind::Internal,
        ),
    }
}

/// The deterministic vector for an unmatched embedding request.
pub fn fallback_embedding(op: &Op, req: &ChatRequest, _ctx: &RenderContext) -> Option<RenderPlan> {
    match op {
        Op::Embed { batch, vertex, .. } => Some(embed::fallback(req, *batch, *vertex)),
        _ => None,
    }
}

/// An error in Google's shape (see [`error::plan`]).
pub fn error(_op: &Op, status: u16, message: &str, kind: &ErrorKind) -> RenderPlan {
    error::plan(status, message, kind)
}

/// Google's 429 carries nothing besides `Retry-After`.
pub fn rate_limit_headers(_op: &Op) -> &'static [(&'static str, &'static str)] {
    &[]
}

/// Read a recorded reply back into a [`Collapsed`].
pub fn collapse(op: &Op, content_type: &str, body: &[u8]) -> Collapsed {
    match op {
        Op::Predict { .. } => imagen::collapse(body),
        Op::PredictLongRunning { .. } | Op::Operation { .. } | Op::FetchOperation { .. } => {
            veo::collapse(body)
        }
        Op::Generate { .. } | Op::Embed { .. } => collapse::collapse(op, content_type, body),
    }
}

/// An `alt=sse` stream's answer is complete at the chunk carrying `finishReason`; the
/// streamed JSON array has no frames and ends at EOF.
pub fn stream_end(_op: &Op, frame: &StreamFrame) -> Signal {
    match *frame {
        StreamFrame::Sse { data, .. } if data.trim() == "[DONE]" => Signal::Final,
        StreamFrame::Sse { data, .. } if data.contains("\"finishReason\"") => Signal::Terminal,
        _ => Signal::None,
    }
}

/// A JSON body pretty-printed as Google sends it (two-space indent, `"key": value`,
/// a trailing newline).
fn pretty_plan(status: u16, v: &Value) -> RenderPlan {
    let mut plan = RenderPlan::json(status, v);
    plan.content_type = JSON_CONTENT_TYPE;
    let mut text = pretty(v);
    text.push('\n');
    plan.body = crate::providers::common::PlanBody::Full(text.into());
    plan
}

/// `serde_json`'s pretty printer already matches Google's layout byte for byte.
fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// Google's SSE payload layout: compact, but with a space after every `:`.
struct ColonSpace;

impl serde_json::ser::Formatter for ColonSpace {
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}

fn colon_spaced(v: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, ColonSpace);
    if v.serialize(&mut ser).is_err() {
        return v.to_string();
    }
    String::from_utf8(out).unwrap_or_else(|_| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::common::PlanBody;
    use crate::providers::Surface;
    use serde_json::json;

    fn body(plan: &RenderPlan) -> String {
        match &plan.body {
            PlanBody::Full(b) => String::from_utf8(b.to_vec()).unwrap(),
            PlanBody::Stream(_) => panic!("not a full body"),
        }
    }

    #[test]
    fn errors_carry_code_message_and_the_canonical_status_name() {
        let s = Surface::Gemini(Op::Generate {
            model: "m".into(),
            stream: false,
            vertex: false,
        });
        for (status, name) in [
            (404, "NOT_FOUND"),
            (429, "RESOURCE_EXHAUSTED"),
            (400, "INVALID_ARGUMENT"),
            (503, "UNAVAILABLE"),
            (500, "INTERNAL"),
        ] {
            let plan = s.error(status, "boom", ErrorKind::NoMatch);
            assert_eq!(plan.status, status);
            let v: Value = serde_json::from_str(&body(&plan)).unwrap();
            assert_eq!(
                v,
                json!({"error": {"code": status, "message": "boom", "status": name}})
            );
        }
    }

    #[test]
    fn sse_payloads_put_a_space_after_colons_but_not_after_commas() {
        let v = json!({"a": [{"b": 1}, 2], "c": "x:y,z"});
        assert_eq!(colon_spaced(&v), r#"{"a": [{"b": 1},2],"c": "x:y,z"}"#);
    }
}

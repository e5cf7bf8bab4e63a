//! OpenAI video jobs (Sora): `POST /v1/videos` (multipart, as the SDK sends it, or
//! JSON), `GET /v1/videos/{id}` and `GET /v1/videos/{id}/content`.
//!
//! A create that matches a `video` fixture starts a job (the server's job table keeps
//! it, keyed by test id and video id); each status poll advances it, as the real API's
//! jobs do:
//! - the create answers `queued` (`progress` 0);
//! - the first poll answers `in_progress` (`progress` 50);
//! - the second poll and later answer the fixture's terminal status, `completed`
//!   (`progress` 100) or `failed` (with its `error`); any other fixture status
//!   (the reference's `processing`) stays `in_progress`.
//!
//! A recorded job replays what the upstream said instead: `video.polls` holds the
//! create reply and every poll reply in order, and the k-th poll answers `polls[k]`
//! (the last one from then on). The content download answers `video.b64` decoded, as
//! `video.contentType` (`video/mp4` by default), once the job is completed;
//! `?variant=thumbnail|spritesheet` answers `video.variants.{name}.{b64,contentType}`.
//!
//! Every Video object carries the real API's fields: `id`, `object: "video"`,
//! `created_at`, `status`, `completed_at`, `error`, `expires_at`, `model`, `progress`,
//! `prompt`, `remixed_from_video_id`, `seconds`, `size`. Timestamps are deterministic
//! (from the fixture and request, as every generated value is): `completed_at` is 30 s
//! after `created_at`, `expires_at` a day after completion, unless the fixture pins them.
//!
//! Not here: the job table (`server::jobs`), list, delete and remix.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::providers::common::collapse::Collapsed;
use crate::providers::common::media::{b64_decode, b64_encode, known_content_type};
use crate::providers::common::upload::{self, missing};
use crate::providers::common::{
    json_body, ParseError, PlanBody, RenderContext, RenderPlan, RequestParts,
};
use crate::request::{ChatRequest, Endpoint, MediaHints, Message, Role};

/// The model a request that names none is matched as.
const DEFAULT_MODEL: &str = "sora-2";

/// A video route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoOp {
    /// `POST /v1/videos`.
    Create,
    /// `GET /v1/videos/{id}`.
    Retrieve {
        /// The video id from the path.
        id: String,
    },
    /// `GET /v1/videos/{id}/content`.
    Content {
        /// The video id from the path.
        id: String,
    },
}

/// Parse a create (a form or JSON); a poll or download carries only its query.
pub fn parse_request(
    op: &VideoOp,
    parts: &RequestParts,
    body: &[u8],
) -> Result<ChatRequest, ParseError> {
    let mut req = ChatRequest::new(Endpoint::Video, body);
    if !matches!(op, VideoOp::Create) {
        req.hints.media = Some(Box::new(MediaHints {
            format: parts.query_param("variant"),
            ..MediaHints::default()
        }));
        return Ok(req);
    }
    let mut hints = MediaHints::default();
    let (prompt, model) = if upload::is_multipart(parts) {
        let form = upload::form(parts, body)?;
        let text = |k: &str| form.text(k).map(String::from);
        hints.seconds = text("seconds");
        hints.size = text("size");
        req.file_digest = form.get("input_reference").and_then(|p| p.sha256_hex());
        (text("prompt"), text("model"))
    } else {
        let o = json_body(body)?;
        let text = |k: &str| match o.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        hints.seconds = text("seconds");
        hints.size = text("size");
        (text("prompt"), text("model"))
    };
    let Some(prompt) = prompt.filter(|p| !p.is_empty()) else {
        return Err(missing("prompt"));
    };
    req.model = Some(model.unwrap_or_else(|| DEFAULT_MODEL.into()));
    req.messages.push(Message::text(Role::User, prompt.clone()));
    hints.prompt = Some(prompt);
    req.hints.media = Some(Box::new(hints));
    Ok(req)
}

fn video_of(v: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    v.get("video")
        .and_then(Value::as_object)
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// The id of the job a create starts: the fixture's (so a recorded job replays under
/// its real id), else one derived from the fixture and request.
pub fn job_id(v: &Value, ctx: &RenderContext) -> String {
    video_of(v)
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .unwrap_or_else(|| ctx.id("video_", "video", 40))
}

fn recorded_polls(video: &Map<String, Value>) -> Option<&Vec<Value>> {
    video
        .get("polls")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
}

/// The Video object after `polls` status polls (0: the create's reply).
fn object_at(v: &Value, req: &ChatRequest, ctx: &RenderContext, polls: u32) -> Value {
    let video = video_of(v);
    if let Some(p) = recorded_polls(video) {
        return p[(polls as usize).min(p.len() - 1)].clone();
    }
    let text = |k: &str| match video.get(k) {
        Some(Value::String(s)) => Some(Value::String(s.clone())),
        Some(Value::Number(n)) => Some(Value::String(n.to_string())),
        _ => None,
    };
    let hints = req.hints.media.as_deref().cloned().unwrap_or_default();
    let created = video
        .get("created_at")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| ctx.created());
    let terminal = match video.get("status").and_then(Value::as_str) {
        Some(s @ ("completed" | "failed")) => Some(s),
        _ => None,
    };
    let (status, progress) = match (polls, terminal) {
        (0, _) => ("queued", 0),
        (1, _) | (_, None) => ("in_progress", 50),
        (_, Some("failed")) => ("failed", 0),
        (_, Some(_)) => ("completed", 100),
    };
    let completed_at = video
        .get("completed_at")
        .and_then(Value::as_i64)
        .unwrap_or(created + 30);
    let done = status == "completed" || status == "failed";
    let error = match (status, video.get("error")) {
        ("failed", Some(Value::String(m))) => {
            json!({"code": "video_generation_failed", "message": m})
        }
        ("failed", Some(e @ Value::Object(_))) => e.clone(),
        ("failed", _) => {
            json!({"code": "video_generation_failed", "message": "Video generation failed"})
        }
        _ => Value::Null,
    };
    let mut o = Map::new();
    o.insert("id".into(), job_id(v, ctx).into());
    o.insert("object".into(), "video".into());
    o.insert("created_at".into(), created.into());
    o.insert("status".into(), status.into());
    o.insert(
        "completed_at".into(),
        if done {
            completed_at.into()
        } else {
            Value::Null
        },
    );
    o.insert("error".into(), error);
    o.insert(
        "expires_at".into(),
        match (status, video.get("expires_at").and_then(Value::as_i64)) {
            ("completed", Some(e)) => e.into(),
            ("completed", None) => (completed_at + 86_400).into(),
            _ => Value::Null,
        },
    );
    o.insert(
        "model".into(),
        text("model")
            .or_else(|| req.model.clone().map(Value::String))
            .unwrap_or_else(|| DEFAULT_MODEL.into()),
    );
    o.insert("progress".into(), progress.into());
    o.insert(
        "prompt".into(),
        text("prompt")
            .or_else(|| hints.prompt.map(Value::String))
            .unwrap_or(Value::Null),
    );
    o.insert(
        "remixed_from_video_id".into(),
        video
            .get("remixed_from_video_id")
            .cloned()
            .unwrap_or(Value::Null),
    );
    o.insert(
        "seconds".into(),
        text("seconds")
            .or_else(|| hints.seconds.map(Value::String))
            .unwrap_or_else(|| "4".into()),
    );
    o.insert(
        "size".into(),
        text("size")
            .or_else(|| hints.size.map(Value::String))
            .unwrap_or_else(|| "720x1280".into()),
    );
    Value::Object(o)
}

/// The job's Video object after `polls` status polls (0 for the create's own reply).
pub fn render_job(v: &Value, req: &ChatRequest, ctx: &RenderContext, polls: u32) -> RenderPlan {
    RenderPlan::json(200, &object_at(v, req, ctx, polls))
}

/// The job's content after `polls` status polls: its bytes once the job is completed.
/// An error is a status, a code and a message.
pub fn render_content(
    v: &Value,
    req: &ChatRequest,
    ctx: &RenderContext,
    polls: u32,
    variant: Option<&str>,
) -> Result<RenderPlan, (u16, &'static str, String)> {
    let obj = object_at(v, req, ctx, polls);
    let id = obj.get("id").and_then(Value::as_str).unwrap_or("");
    if obj.get("status").and_then(Value::as_str) != Some("completed") {
        return Err((
            400,
            "video_not_ready",
            format!("Video {id} is not completed yet; poll GET /v1/videos/{id} until its status is completed"),
        ));
    }
    let video = video_of(v);
    let source = match variant {
        None | Some("video") => Some(video),
        Some(name) => video
            .get("variants")
            .and_then(|x| x.get(name))
            .and_then(Value::as_object),
    };
    let b64 = source.and_then(|s| s.get("b64")).and_then(Value::as_str);
    let Some(b64) = b64 else {
        return Err((
            404,
            "not_found",
            format!(
                "The fixture for video {id} holds no {} content (video.{})",
                variant.unwrap_or("video"),
                match variant {
                    None | Some("video") => "b64".to_string(),
                    Some(n) => format!("variants.{n}.b64"),
                }
            ),
        ));
    };
    let Some(bytes) = b64_decode(b64) else {
        return Err((
            500,
            "invalid_fixture",
            format!("The fixture for video {id} holds content that is not base64"),
        ));
    };
    let default = match variant {
        None | Some("video") => "video/mp4",
        Some(_) => "image/webp",
    };
    let ct = source
        .and_then(|s| s.get("contentType"))
        .and_then(Value::as_str)
        .and_then(known_content_type)
        .unwrap_or(default);
    Ok(RenderPlan {
        status: 200,
        content_type: ct,
        headers: Vec::new(),
        body: PlanBody::Full(Bytes::from(bytes)),
    })
}

/// Read a recorded reply of a video route: a Video object (create or poll) or the
/// content bytes. The recorder's job log joins them into one fixture.
pub fn collapse(op: &VideoOp, content_type: &str, body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    match op {
        VideoOp::Content { .. } => {
            let ct = content_type.split(';').next().unwrap_or("").trim();
            c.media = Some(json!({"video": {"b64": b64_encode(body), "contentType": ct}}));
        }
        _ => match serde_json::from_slice::<Value>(body) {
            Ok(v @ Value::Object(_)) if v.get("id").is_some_and(Value::is_string) => {
                c.media = Some(json!({ "video": v }));
            }
            _ => c
                .warnings
                .push("upstream video reply is not a Video object; not recorded".into()),
        },
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> RenderContext {
        RenderContext {
            seed: [3; 32],
            chunk_size: 20,
            whole: false,
        }
    }

    fn create(body: &str) -> ChatRequest {
        let h = http::HeaderMap::new();
        let parts = RequestParts {
            path: "/v1/videos",
            query: None,
            headers: &h,
        };
        parse_request(&VideoOp::Create, &parts, body.as_bytes()).unwrap()
    }

    #[test]
    fn a_job_goes_queued_in_progress_completed_with_the_real_fields() {
        let v = json!({"video": {"id": "video_1", "status": "completed", "b64": "AAEC"}});
        let req = create(r#"{"prompt":"a cat","seconds":8}"#);
        let at = |k| object_at(&v, &req, &ctx(), k);
        assert_eq!(
            (at(0)["status"].clone(), at(0)["progress"].clone()),
            (json!("queued"), json!(0))
        );
        assert_eq!(at(1)["status"], "in_progress");
        assert_eq!(at(2)["status"], "completed");
        assert_eq!(at(2)["progress"], 100);
        assert_eq!(at(9)["status"], "completed");
        let o = at(2);
        for k in [
            "id",
            "object",
            "created_at",
            "completed_at",
            "expires_at",
            "model",
            "prompt",
            "seconds",
            "size",
        ] {
            assert!(!o[k].is_null(), "{k}");
        }
        assert_eq!(o["seconds"], "8");
        assert_eq!(o["model"], "sora-2");
        assert!(render_content(&v, &req, &ctx(), 1, None).is_err());
        let plan = render_content(&v, &req, &ctx(), 2, None).unwrap();
        assert_eq!(plan.content_type, "video/mp4");
        assert_eq!(plan.body, PlanBody::Full(Bytes::from_static(&[0, 1, 2])));
    }

    #[test]
    fn recorded_polls_replay_in_order_and_processing_never_completes() {
        let v = json!({"video": {"id": "v", "status": "completed", "polls": [{"status": "queued"}, {"status": "in_progress", "progress": 12}, {"status": "completed"}]}});
        let req = create(r#"{"prompt":"p"}"#);
        assert_eq!(object_at(&v, &req, &ctx(), 1)["progress"], 12);
        assert_eq!(object_at(&v, &req, &ctx(), 7)["status"], "completed");
        let v = json!({"video": {"id": "v", "status": "processing"}});
        assert_eq!(object_at(&v, &req, &ctx(), 5)["status"], "in_progress");
    }

    #[test]
    fn a_create_needs_a_prompt() {
        let h = http::HeaderMap::new();
        let parts = RequestParts {
            path: "/v1/videos",
            query: None,
            headers: &h,
        };
        let e = parse_request(&VideoOp::Create, &parts, br#"{"model":"sora-2"}"#).unwrap_err();
        assert_eq!(e.message, "Missing required parameter: 'prompt'.");
    }
}

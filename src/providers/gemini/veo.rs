//! Veo on the Gemini API: `models/{m}:predictLongRunning` starts a job answered
//! `{"name":"models/{m}/operations/{id}"}`; `GET .../operations/{id}` (under the model,
//! or the reference's `/v1beta/operations/{id}`) polls it.
//!
//! Replayed from a `video` fixture as the reference does: the first poll is done,
//! `{"name","done":true,"response":{"@type",...,"generateVideoResponse":
//! {"generatedSamples":[{"video":{"uri"}}]}}}`, or, when the fixture's status is
//! `failed`, `{"name","done":true,"error":{"code":3,"message"}}`. A recorded job
//! replays what the upstream said: `video.polls` holds the start reply and each poll
//! reply in order, and the k-th poll answers `polls[k]` (the last one from then on).
//!
//! On Vertex (the only place google-genai 3.x sends `generate_videos`), the start is
//! `.../publishers/google/models/{m}:predictLongRunning`, the operation is named
//! `projects/{p}/locations/{l}/publishers/google/models/{m}/operations/{id}`, a poll is
//! `POST .../models/{m}:fetchPredictOperation` with `{"operationName"}`, and the done
//! reply is `{"response":{"@type",...,"videos":[{"gcsUri","mimeType"}]}}`.

use serde_json::{json, Map, Value};

use crate::providers::common::collapse::Collapsed;
use crate::providers::common::{json_body, ParseError, RenderContext, RenderPlan};
use crate::request::{ChatRequest, Endpoint, MediaHints, Message, Role};

const VERTEX_RESPONSE_TYPE: &str =
    "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse";

const RESPONSE_TYPE: &str =
    "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse";

/// Parse a `:predictLongRunning` request (`resource`: the Vertex model's resource name).
pub(super) fn parse_request(
    body: &[u8],
    model: &str,
    resource: Option<&str>,
) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let prompt = super::imagen::prompt_of(&o)?;
    let mut req = ChatRequest::new(Endpoint::Video, body);
    req.model = Some(model.to_string());
    req.messages.push(Message::text(Role::User, prompt.clone()));
    req.hints.media = Some(Box::new(MediaHints {
        prompt: Some(prompt),
        job_id: resource.map(String::from),
        ..MediaHints::default()
    }));
    Ok(req)
}

/// Parse Vertex's `:fetchPredictOperation`: `{"operationName": ".../operations/{id}"}`.
pub(super) fn parse_fetch(body: &[u8]) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let Some(name) = o.get("operationName").and_then(Value::as_str) else {
        return Err(ParseError::bad(
            "invalid_argument",
            "* FetchPredictOperationRequest.operation_name: required field is missing",
        ));
    };
    let mut req = ChatRequest::new(Endpoint::Video, body);
    req.hints.media = Some(Box::new(MediaHints {
        job_id: Some(name.rsplit('/').next().unwrap_or(name).to_string()),
        ..MediaHints::default()
    }));
    Ok(req)
}

fn video_of(v: &Value) -> Map<String, Value> {
    v.get("video")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The operation id a start hands out: the fixture's, else one derived from the
/// fixture and request.
pub(super) fn job_id(v: &Value, ctx: &RenderContext) -> String {
    let video = video_of(v);
    if let Some(name) = video.get("name").and_then(Value::as_str) {
        if let Some((_, id)) = name.rsplit_once("/operations/") {
            return id.to_string();
        }
    }
    video
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
        .unwrap_or_else(|| ctx.id("", "operation", 12).to_ascii_lowercase())
}

/// The operation after `polls` polls (0: the start's own reply).
pub(super) fn render_job(
    v: &Value,
    req: &ChatRequest,
    ctx: &RenderContext,
    polls: u32,
) -> RenderPlan {
    let video = video_of(v);
    if let Some(p) = video
        .get("polls")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    {
        return super::pretty_plan(200, &p[(polls as usize).min(p.len() - 1)]);
    }
    let model = req.model.as_deref().unwrap_or("veo");
    // On Vertex the start's request carries its model's resource name.
    let resource = req.hints.media.as_deref().and_then(|h| h.job_id.as_deref());
    let name = match resource {
        Some(r) => format!("{r}/operations/{}", job_id(v, ctx)),
        None => format!("models/{model}/operations/{}", job_id(v, ctx)),
    };
    let body = if polls == 0 {
        json!({ "name": name })
    } else if video.get("status").and_then(Value::as_str) == Some("failed") {
        let message = match video.get("error") {
            Some(Value::String(m)) => m.clone(),
            Some(e) => e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("Video generation failed")
                .to_string(),
            None => "Video generation failed".into(),
        };
        json!({"name": name, "done": true, "error": {"code": 3, "message": message}})
    } else if resource.is_some() {
        let mut sample = Map::new();
        if let Some(uri) = video.get("url").and_then(Value::as_str) {
            sample.insert("gcsUri".into(), uri.into());
        }
        if let Some(b) = video.get("b64").and_then(Value::as_str) {
            sample.insert("bytesBase64Encoded".into(), b.into());
        }
        sample.insert("mimeType".into(), "video/mp4".into());
        json!({"name": name, "done": true, "response": {
            "@type": VERTEX_RESPONSE_TYPE,
            "videos": [sample],
        }})
    } else {
        let uri = video.get("url").and_then(Value::as_str).unwrap_or("");
        json!({"name": name, "done": true, "response": {
            "@type": RESPONSE_TYPE,
            "generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}]}
        }})
    };
    super::pretty_plan(200, &body)
}

/// Read a recorded start or poll reply: the operation as Google sent it (the
/// recorder's job log joins them into one fixture).
pub(super) fn collapse(body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) if v.get("name").is_some_and(Value::is_string) => {
            let mut video = Map::new();
            video.insert("name".into(), v["name"].clone());
            let done = v.get("done").and_then(Value::as_bool).unwrap_or(false);
            let status = if !done {
                "processing"
            } else if v.get("error").is_some() {
                "failed"
            } else {
                "completed"
            };
            video.insert("status".into(), status.into());
            if let Some(uri) = v
                .pointer("/response/generateVideoResponse/generatedSamples/0/video/uri")
                .or_else(|| v.pointer("/response/videos/0/gcsUri"))
                .and_then(Value::as_str)
            {
                video.insert("url".into(), uri.into());
            }
            video.insert("polls".into(), json!([v]));
            c.media = Some(json!({ "video": video }));
        }
        _ => c
            .warnings
            .push("upstream Veo reply is not an operation; not recorded".into()),
    }
    c
}

//! Jobs being recorded: a video create forwarded upstream is not written at once; its
//! status polls and content download, forwarded too, are added to it, and the job is
//! written as one fixture when it is over, so the whole job replays offline.
//!
//! A job is over at its content download (OpenAI), at a `failed` status (OpenAI), at
//! `done` (Veo, whose content lives at its URI), or at shutdown (whatever it has by
//! then). The fixture is the create's match and a `video` holding the last status the
//! upstream sent, every status in order as `polls` (the create's reply first), and the
//! content as `b64` + `contentType`.
//!
//! Not here: replayed jobs (`server::jobs`), forwarding, the cassette writer.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::providers::{JobStep, Surface};
use crate::request::ChatRequest;

/// A job whose recording is not written yet.
pub(crate) struct Pending {
    /// The create's surface (whose provider names the cassette file).
    pub surface: Surface,
    /// The create's request: the fixture's match.
    pub req: ChatRequest,
    /// The create's request as sent (`record::stored`), or `Null`.
    pub stored: Value,
    /// Every status the upstream sent, the create's reply first.
    polls: Vec<Value>,
    /// The content download's `b64` and `contentType`, or a variant's.
    content: Map<String, Value>,
    /// A Veo operation (`{"name","done",...}`) rather than an OpenAI Video object.
    veo: bool,
}

impl Pending {
    /// The fixture `response` for everything recorded so far.
    pub(crate) fn response(&self) -> Value {
        let last = self.polls.last().cloned().unwrap_or(Value::Null);
        let mut video = Map::new();
        if self.veo {
            video.insert("name".into(), last.get("name").cloned().unwrap_or_default());
            let status = match (last.get("done").and_then(Value::as_bool), last.get("error")) {
                (Some(true), Some(_)) => "failed",
                (Some(true), None) => "completed",
                _ => "processing",
            };
            video.insert("status".into(), status.into());
            if let Some(uri) = last
                .pointer("/response/generateVideoResponse/generatedSamples/0/video/uri")
                .or_else(|| last.pointer("/response/videos/0/gcsUri"))
            {
                video.insert("url".into(), uri.clone());
            }
        } else if let Value::Object(o) = &last {
            video.extend(o.clone());
        }
        video.insert("polls".into(), Value::Array(self.polls.clone()));
        video.extend(self.content.clone());
        let mut r = Map::new();
        r.insert("video".into(), Value::Object(video));
        Value::Object(r)
    }
}

/// The jobs being recorded, by job id.
#[derive(Default)]
pub(crate) struct RecordingJobs {
    pending: Mutex<HashMap<String, Pending>>,
}

/// The id and the status object a recorded `video` reply carries, and whether it is a
/// Veo operation.
fn status_of(media: &Value) -> Option<(String, Value, bool)> {
    let video = media.get("video")?;
    if let Some(op) = video.get("polls").and_then(|p| p.get(0)) {
        // A Veo operation, as `veo::collapse` wraps it.
        let name = op.get("name")?.as_str()?;
        let id = name.rsplit('/').next().unwrap_or(name).to_string();
        return Some((id, op.clone(), true));
    }
    let id = video.get("id")?.as_str()?.to_string();
    Some((id, video.clone(), false))
}

impl RecordingJobs {
    /// Take in a recorded reply of a job route; return a job that is over, to be
    /// written. `media` is the collapsed reply (`{"video": ...}`).
    pub(crate) fn take(
        &self,
        surface: &Surface,
        req: &ChatRequest,
        stored: &Value,
        step: JobStep<'_>,
        media: Option<&Value>,
    ) -> Option<Pending> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match step {
            JobStep::Start => {
                let (id, status, veo) = status_of(media?)?;
                tracing::info!(job = %id, "recording a video job: its polls and content follow");
                pending.insert(
                    id,
                    Pending {
                        surface: surface.clone(),
                        req: req.clone(),
                        stored: stored.clone(),
                        polls: vec![status],
                        content: Map::new(),
                        veo,
                    },
                );
                None
            }
            JobStep::Poll(id) => {
                let job = pending.get_mut(id)?;
                let (_, status, _) = status_of(media?)?;
                let over = if job.veo {
                    status.get("done").and_then(Value::as_bool) == Some(true)
                } else {
                    status.get("status").and_then(Value::as_str) == Some("failed")
                };
                job.polls.push(status);
                if over {
                    pending.remove(id)
                } else {
                    None
                }
            }
            JobStep::Content(id) => {
                let job = pending.get_mut(id)?;
                let content = media?.get("video")?.as_object()?;
                let variant = req
                    .hints
                    .media
                    .as_deref()
                    .and_then(|h| h.format.as_deref())
                    .filter(|v| *v != "video");
                match variant {
                    None => job.content.extend(content.clone()),
                    Some(v) => {
                        let variants = job
                            .content
                            .entry("variants")
                            .or_insert_with(|| Value::Object(Map::new()));
                        if let Value::Object(m) = variants {
                            m.insert(v.to_string(), Value::Object(content.clone()));
                        }
                        return None;
                    }
                }
                pending.remove(id)
            }
        }
    }

    /// Every job still being recorded (shutdown writes them as they stand).
    pub(crate) fn drain(&self) -> Vec<Pending> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.drain().map(|(_, p)| p).collect()
    }
}

//! `POST /v1/audio/transcriptions` and `/v1/audio/translations` (multipart): the form
//! (`file`, `model`, `response_format`, `stream`), the reply in every response format
//! the real API has, and a recorded reply of any of them read back.
//!
//! Replies, from a `transcription` fixture `t`:
//! - `json`: `{"text", "logprobs"?, "usage"?}` (`languages` too, when `t` has them);
//! - `verbose_json`: `{"task","language","duration","text","words"?,"segments","usage"?}`,
//!   segments filled out to the real API's fields (one spanning the whole text when
//!   `t` has none);
//! - `text`, `srt`, `vtt`: `text/plain`, the subtitles cut from the segments (or a
//!   recording's own `srt`/`vtt` text, verbatim);
//! - `stream=true` on a transcription with a model other than `whisper-1`:
//!   `transcript.text.delta` events of `chunkSize` characters, `transcript.text.done`,
//!   then `[DONE]`, as the reference sends.
//!
//! Matching: no user message (the reference's rule); the model (`whisper-1` when the
//! form names none); `responseFormat` against the form's `response_format`; and
//! `fileDigest` against the SHA-256 of the uploaded `file`.

use serde_json::{json, Map, Value};

use crate::codec::sse;
use crate::providers::common::collapse::{decode_prefix, Collapsed};
use crate::providers::common::upload::{self, invalid_value, missing};
use crate::providers::common::{
    chunk_text, FrameWriter, ParseError, PlanBody, RenderContext, RenderPlan, RequestParts,
};
use crate::request::{ChatRequest, Endpoint, MediaHints};

/// The model a request that names none is matched as.
const DEFAULT_MODEL: &str = "whisper-1";

/// Every `response_format` the real API accepts.
const FORMATS: [&str; 6] = [
    "json",
    "text",
    "srt",
    "verbose_json",
    "vtt",
    "diarized_json",
];

/// `text/plain`, as the real API labels `text`, `srt` and `vtt` replies.
const PLAIN: &str = "text/plain; charset=utf-8";

/// Parse a transcription or translation form.
pub fn parse_request(
    parts: &RequestParts,
    body: &[u8],
    translate: bool,
    azure_deployment: Option<&str>,
) -> Result<ChatRequest, ParseError> {
    let form = upload::form(parts, body)?;
    let endpoint = if translate {
        Endpoint::Translation
    } else {
        Endpoint::Transcription
    };
    let mut req = ChatRequest::new(endpoint, body);
    let Some(file) = form.get("file").filter(|p| p.sha256.is_some()) else {
        return Err(missing("file"));
    };
    req.file_digest = file.sha256_hex();
    req.model = Some(
        form.text("model")
            .map(String::from)
            .or_else(|| azure_deployment.map(String::from))
            .unwrap_or_else(|| DEFAULT_MODEL.into()),
    );
    let format = form.text("response_format").unwrap_or("json").to_string();
    if !FORMATS.contains(&format.as_str()) || (translate && format == "diarized_json") {
        return Err(invalid_value("response_format", &format, &FORMATS[..5]));
    }
    req.stream = !translate && form.text("stream").is_some_and(|s| s.trim() == "true");
    req.response_format = Some(format.clone());
    req.hints.media = Some(Box::new(MediaHints {
        format: Some(format),
        ..MediaHints::default()
    }));
    Ok(req)
}

/// Render a `transcription` fixture in the request's format.
pub fn render(v: &Value, req: &ChatRequest, ctx: &RenderContext, translate: bool) -> RenderPlan {
    let empty = Map::new();
    let t = v
        .get("transcription")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let text = t.get("text").and_then(Value::as_str).unwrap_or("");
    let format = req.response_format.as_deref().unwrap_or("json");
    if req.stream && req.model.as_deref() != Some(DEFAULT_MODEL) {
        return stream(t, text, ctx);
    }
    match format {
        "text" => plain(format!("{text}\n")),
        "srt" => plain(match t.get("srt").and_then(Value::as_str) {
            Some(s) => s.to_string(),
            None => subtitles(&segments(t, text), false),
        }),
        "vtt" => plain(match t.get("vtt").and_then(Value::as_str) {
            Some(s) => s.to_string(),
            None => subtitles(&segments(t, text), true),
        }),
        "verbose_json" => RenderPlan::json(200, &verbose(t, text, translate)),
        "diarized_json" => RenderPlan::json(200, &diarized(t, text)),
        _ => {
            let mut o = Map::new();
            o.insert("text".into(), text.into());
            for k in ["languages", "logprobs", "usage"] {
                if let Some(x) = t.get(k) {
                    o.insert(k.into(), x.clone());
                }
            }
            RenderPlan::json(200, &Value::Object(o))
        }
    }
}

fn plain(body: String) -> RenderPlan {
    RenderPlan {
        status: 200,
        content_type: PLAIN,
        headers: Vec::new(),
        body: PlanBody::Full(body.into()),
    }
}

fn duration(t: &Map<String, Value>) -> f64 {
    t.get("duration").and_then(Value::as_f64).unwrap_or(0.0)
}

/// The fixture's segments filled out to every field the real API sends, or one segment
/// spanning the whole text.
fn segments(t: &Map<String, Value>, text: &str) -> Vec<Map<String, Value>> {
    let given: Vec<Map<String, Value>> = t
        .get("segments")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|s| s.as_object().cloned()).collect())
        .unwrap_or_default();
    let given = if given.is_empty() {
        let mut one = Map::new();
        one.insert("text".into(), text.into());
        one.insert("start".into(), json!(0.0));
        one.insert("end".into(), json!(duration(t)));
        vec![one]
    } else {
        given
    };
    given
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let mut o = Map::new();
            let mut put = |k: &str, default: Value| {
                o.insert(k.into(), s.get(k).cloned().unwrap_or(default));
            };
            put("id", json!(i));
            put("seek", json!(0));
            put("start", json!(0.0));
            put("end", json!(0.0));
            put("text", json!(""));
            put("tokens", json!([]));
            put("temperature", json!(0.0));
            put("avg_logprob", json!(0.0));
            put("compression_ratio", json!(1.0));
            put("no_speech_prob", json!(0.0));
            for (k, v) in &s {
                if !o.contains_key(k) {
                    o.insert(k.clone(), v.clone());
                }
            }
            o
        })
        .collect()
}

fn verbose(t: &Map<String, Value>, text: &str, translate: bool) -> Value {
    let mut o = Map::new();
    o.insert(
        "task".into(),
        if translate { "translate" } else { "transcribe" }.into(),
    );
    o.insert(
        "language".into(),
        t.get("language")
            .cloned()
            .unwrap_or_else(|| "english".into()),
    );
    o.insert("duration".into(), json!(duration(t)));
    o.insert("text".into(), text.into());
    if let Some(w) = t
        .get("words")
        .filter(|w| w.as_array().is_some_and(|a| !a.is_empty()))
    {
        o.insert("words".into(), w.clone());
    }
    o.insert(
        "segments".into(),
        Value::Array(segments(t, text).into_iter().map(Value::Object).collect()),
    );
    if !translate {
        let usage = t
            .get("usage")
            .cloned()
            .unwrap_or_else(|| json!({"type": "duration", "seconds": duration(t).ceil() as u64}));
        o.insert("usage".into(), usage);
    }
    Value::Object(o)
}

fn diarized(t: &Map<String, Value>, text: &str) -> Value {
    let segs: Vec<Value> = segments(t, text)
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "type": "transcript.text.segment",
                "id": s.get("id").and_then(Value::as_str).map(String::from).unwrap_or_else(|| format!("seg_{i}")),
                "start": s.get("start").cloned().unwrap_or(json!(0.0)),
                "end": s.get("end").cloned().unwrap_or(json!(0.0)),
                "text": s.get("text").cloned().unwrap_or(json!("")),
                "speaker": s.get("speaker").cloned().unwrap_or(json!("A")),
            })
        })
        .collect();
    let mut o = Map::new();
    o.insert("task".into(), "transcribe".into());
    o.insert("duration".into(), json!(duration(t)));
    o.insert("text".into(), text.into());
    o.insert("segments".into(), Value::Array(segs));
    if let Some(u) = t.get("usage") {
        o.insert("usage".into(), u.clone());
    }
    Value::Object(o)
}

/// `hh:mm:ss,mmm` (SRT) or `hh:mm:ss.mmm` (WebVTT).
fn timestamp(seconds: f64, vtt: bool) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let sep = if vtt { '.' } else { ',' };
    format!("{h:02}:{m:02}:{s:02}{sep}{ms:03}")
}

fn subtitles(segs: &[Map<String, Value>], vtt: bool) -> String {
    let mut out = String::new();
    if vtt {
        out.push_str("WEBVTT\n\n");
    }
    for (i, s) in segs.iter().enumerate() {
        let f = |k: &str| s.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        if !vtt {
            out.push_str(&format!("{}\n", i + 1));
        }
        out.push_str(&format!(
            "{} --> {}\n{}\n\n",
            timestamp(f("start"), vtt),
            timestamp(f("end"), vtt),
            s.get("text").and_then(Value::as_str).unwrap_or("").trim()
        ));
    }
    out
}

fn stream(t: &Map<String, Value>, text: &str, ctx: &RenderContext) -> RenderPlan {
    let slices: Vec<&str> = chunk_text(text, ctx.chunk_size).collect();
    let mut w = FrameWriter::with_capacity(text.len() * 2 + 256, slices.len() + 2).whole(ctx.whole);
    for s in &slices {
        w.buf()
            .extend_from_slice(b"data: {\"type\":\"transcript.text.delta\",\"delta\":");
        w.str(s);
        w.buf().extend_from_slice(b"}\n\n");
        w.cut(true);
    }
    let mut done = Map::new();
    done.insert("type".into(), "transcript.text.done".into());
    done.insert("text".into(), text.into());
    for k in ["languages", "logprobs", "usage"] {
        if let Some(x) = t.get(k) {
            done.insert(k.into(), x.clone());
        }
    }
    w.buf().extend_from_slice(b"data: ");
    w.json(&Value::Object(done));
    w.buf().extend_from_slice(b"\n\n");
    w.cut(true);
    w.buf().extend_from_slice(b"data: [DONE]\n\n");
    w.cut(false);
    RenderPlan::sse(w.into_frames())
}

/// Read a recorded transcription reply: JSON in any of its shapes, plain text, SRT or
/// WebVTT (kept verbatim beside the text they hold), or the SSE stream.
pub fn collapse(content_type: &str, body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    let ct = content_type.to_ascii_lowercase();
    let mut t = Map::new();
    if ct.contains("event-stream") {
        let (events, err) = decode_prefix(sse::SseDecoder::new(), body);
        let mut joined = String::new();
        let mut done = false;
        for e in &events {
            if e.data.trim() == "[DONE]" {
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(&e.data) else {
                c.dropped += 1;
                continue;
            };
            match v.get("type").and_then(Value::as_str) {
                Some("transcript.text.delta") => {
                    joined.push_str(v.get("delta").and_then(Value::as_str).unwrap_or(""))
                }
                Some("transcript.text.done") => {
                    done = true;
                    if let Some(o) = v.as_object() {
                        for (k, x) in o {
                            if k != "type" {
                                t.insert(k.clone(), x.clone());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        c.truncated = err.is_some() || !done;
        if !t.contains_key("text") {
            t.insert("text".into(), joined.into());
        }
    } else if ct.contains("json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(o)) if o.get("text").is_some_and(Value::is_string) => {
                for (k, x) in o {
                    if k != "task" {
                        t.insert(k, x);
                    }
                }
            }
            _ => {
                c.warnings
                    .push("upstream transcription reply is JSON without a text; not recorded as a transcription".into());
                return c;
            }
        }
    } else {
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim_start_matches('\u{feff}');
        let kind = if trimmed.starts_with("WEBVTT") {
            Some("vtt")
        } else if looks_like_srt(trimmed) {
            Some("srt")
        } else {
            None
        };
        match kind {
            Some(k) => {
                t.insert("text".into(), cue_text(trimmed).into());
                t.insert(k.into(), trimmed.into());
            }
            None => {
                let one = trimmed.strip_suffix('\n').unwrap_or(trimmed);
                t.insert("text".into(), one.into());
            }
        }
    }
    c.media = Some(json!({ "transcription": Value::Object(t) }));
    c
}

fn looks_like_srt(text: &str) -> bool {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("");
    let second = lines.next().unwrap_or("");
    first.trim().chars().all(|c| c.is_ascii_digit())
        && !first.trim().is_empty()
        && second.contains("-->")
}

/// The text of a subtitle file's cues, joined with spaces.
fn cue_text(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for l in text.lines() {
        let l = l.trim();
        if l.is_empty()
            || l.starts_with("WEBVTT")
            || l.contains("-->")
            || l.chars().all(|c| c.is_ascii_digit())
        {
            continue;
        }
        out.push(l);
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form_req(fields: &[(&str, &str)], translate: bool) -> Result<ChatRequest, ParseError> {
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!("--b\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF\x00\xff\r\n--b--\r\n");
        let mut h = http::HeaderMap::new();
        h.insert(
            "content-type",
            "multipart/form-data; boundary=b".parse().unwrap(),
        );
        let parts = RequestParts {
            path: "/v1/audio/transcriptions",
            query: None,
            headers: &h,
        };
        parse_request(&parts, &body, translate, None)
    }

    fn body(plan: &RenderPlan) -> String {
        match &plan.body {
            PlanBody::Full(b) => String::from_utf8(b.to_vec()).unwrap(),
            PlanBody::Stream(f) => f
                .iter()
                .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
                .collect(),
        }
    }

    fn ctx() -> RenderContext {
        RenderContext {
            seed: [0; 32],
            chunk_size: 5,
            whole: false,
        }
    }

    #[test]
    fn the_form_gives_model_format_stream_and_the_files_digest() {
        let r = form_req(
            &[
                ("model", "gpt-4o-transcribe"),
                ("stream", "true"),
                ("response_format", "text"),
            ],
            false,
        )
        .unwrap();
        assert!(r.stream);
        assert_eq!(r.response_format.as_deref(), Some("text"));
        assert_eq!(r.file_digest.as_deref().map(str::len), Some(64));
        assert!(form_req(&[("response_format", "xml")], false).is_err());
        assert!(!form_req(&[("stream", "true")], true).unwrap().stream);
    }

    #[test]
    fn each_format_has_the_real_apis_shape() {
        let v = json!({"transcription": {"text": "Hello there.", "duration": 2.5, "segments": [{"id": 0, "start": 0.0, "end": 2.5, "text": " Hello there."}]}});
        let r = |f: &str| form_req(&[("response_format", f)], false).unwrap();
        let plan = render(&v, &r("text"), &ctx(), false);
        assert_eq!(plan.content_type, PLAIN);
        assert_eq!(body(&plan), "Hello there.\n");
        assert_eq!(
            body(&render(&v, &r("srt"), &ctx(), false)),
            "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n"
        );
        assert_eq!(
            body(&render(&v, &r("vtt"), &ctx(), false)),
            "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n"
        );
        let verbose: Value =
            serde_json::from_str(&body(&render(&v, &r("verbose_json"), &ctx(), false))).unwrap();
        assert_eq!(verbose["task"], "transcribe");
        assert_eq!(verbose["segments"][0]["seek"], 0);
        assert_eq!(verbose["usage"], json!({"type": "duration", "seconds": 3}));
        let j: Value = serde_json::from_str(&body(&render(&v, &r("json"), &ctx(), false))).unwrap();
        assert_eq!(j, json!({"text": "Hello there."}));
    }

    #[test]
    fn a_stream_is_deltas_then_done_and_a_recording_reads_each_format_back() {
        let v = json!({"transcription": {"text": "Hello there."}});
        let r = form_req(&[("model", "gpt-4o-transcribe"), ("stream", "true")], false).unwrap();
        let s = body(&render(&v, &r, &ctx(), false));
        assert!(s.starts_with("data: {\"type\":\"transcript.text.delta\",\"delta\":\"Hello\"}\n\n"));
        assert!(s.ends_with("data: {\"type\":\"transcript.text.done\",\"text\":\"Hello there.\"}\n\ndata: [DONE]\n\n"));
        let c = collapse("text/event-stream", s.as_bytes());
        assert_eq!(c.media.unwrap()["transcription"]["text"], "Hello there.");
        let srt = "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n";
        let c = collapse("text/plain; charset=utf-8", srt.as_bytes());
        assert_eq!(
            c.media.unwrap(),
            json!({"transcription": {"text": "Hello there.", "srt": srt}})
        );
        let c = collapse("text/plain", b"Hello there.\n");
        assert_eq!(
            c.media.unwrap(),
            json!({"transcription": {"text": "Hello there."}})
        );
        let c = collapse(
            "application/json",
            br#"{"task":"transcribe","text":"x","language":"en","duration":1.0}"#,
        );
        assert_eq!(
            c.media.unwrap(),
            json!({"transcription": {"text": "x", "language": "en", "duration": 1.0}})
        );
    }
}

//! The control API under `/__aimock/`, on the reference's paths, for tests to drive the
//! server at run time:
//!
//! | method and path | effect | answer |
//! | --- | --- | --- |
//! | `GET /__aimock/journal` | read the journal, filtered (`limit`, `offset`, `path`, `method`, `status`, `service`/`provider`, `testId`, `requestId`) | entries, `X-Total-Count` |
//! | `GET /__aimock/fixtures` | count (and with `?include=fixtures`, list) fixtures | `{"count":N}` |
//! | `POST /__aimock/fixtures` | add `{"fixtures":[..]}`, validated like cassette files | `{"added":N}` or 400 |
//! | `DELETE /__aimock/fixtures` | remove every fixture (journal and counts stay) | `{"cleared":true}` |
//! | `POST /__aimock/reset` | fixtures, journal, sequence counts, queued error, video jobs | `{"reset":true}` |
//! | `POST /__aimock/reset/journal` | journal only | `{"reset":true}` |
//! | `POST /__aimock/reset/fixtures` | deprecated alias of the full reset | `{"reset":true,"deprecated":true,..}` |
//! | `POST /__aimock/error` | answer the next provider request with this error, once | `{"queued":true}` |
//! | `GET`/`DELETE /v1/_requests` | the last `?limit=N` entries / clear them | entries / 204 |
//!
//! Added fixtures are appended (lowest priority) as run-time fixtures, which survive hot
//! reloads of the cassette files. Control requests are not journaled.
//!
//! Not here: routing (`server::router` calls [`route`]), the one-shot error's place in
//! the request lifecycle (`server::pipeline`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderValue, Method, Response};
use http_body_util::{BodyExt, Limited};
use serde_json::{json, Value};

use crate::cassette::model::{parse_entry, ErrorReply, Severity};
use crate::journal::Entry;
use crate::providers::common::RenderPlan;
use crate::respond::body::Body;
use crate::respond::plan::plan_response;
use crate::server::AppState;

/// A control endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET /__aimock/journal`.
    Journal,
    /// `GET /__aimock/fixtures`.
    ListFixtures,
    /// `POST /__aimock/fixtures`.
    AddFixtures,
    /// `DELETE /__aimock/fixtures`.
    ClearFixtures,
    /// `POST /__aimock/reset`.
    Reset,
    /// `POST /__aimock/reset/journal`.
    ResetJournal,
    /// `POST /__aimock/reset/fixtures` (deprecated alias of `Reset`).
    ResetDeprecated,
    /// `POST /__aimock/error`.
    QueueError,
    /// `GET /v1/_requests`.
    RecentRequests,
    /// `DELETE /v1/_requests`.
    ClearRequests,
    /// Any other `/__aimock/` path.
    Unknown,
}

/// Route a control path: `None` when `path` is not one, `Some(Err(()))` for a known
/// path with the wrong method.
pub fn route(method: &Method, path: &str) -> Option<Result<Op, ()>> {
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let delete = method == Method::DELETE;
    let one = |ok: bool, op: Op| Some(if ok { Ok(op) } else { Err(()) });
    match path {
        "/__aimock/journal" => one(get, Op::Journal),
        "/__aimock/fixtures" if get => Some(Ok(Op::ListFixtures)),
        "/__aimock/fixtures" if post => Some(Ok(Op::AddFixtures)),
        "/__aimock/fixtures" => one(delete, Op::ClearFixtures),
        "/__aimock/reset" => one(post, Op::Reset),
        "/__aimock/reset/journal" => one(post, Op::ResetJournal),
        "/__aimock/reset/fixtures" => one(post, Op::ResetDeprecated),
        "/__aimock/error" => one(post, Op::QueueError),
        "/v1/_requests" if get => Some(Ok(Op::RecentRequests)),
        "/v1/_requests" => one(delete, Op::ClearRequests),
        p if p == "/__aimock" || p.starts_with("/__aimock/") => Some(Ok(Op::Unknown)),
        _ => None,
    }
}

/// Control-API state that is not the fixture store's or the journal's.
#[derive(Debug, Default)]
pub struct Control {
    one_shot: OneShot,
    /// Run-time fixtures added so far: the next one's index in `<runtime>`.
    added: AtomicUsize,
}

impl Control {
    /// The queued one-shot error.
    pub fn one_shot(&self) -> &OneShot {
        &self.one_shot
    }
}

/// An error queued for the next provider request, handed out exactly once.
///
/// `take` is a swap under a mutex, so of many concurrent requests exactly one gets it.
/// The `armed` flag lets every other request skip the lock with one atomic load.
#[derive(Debug, Default)]
pub struct OneShot {
    armed: AtomicBool,
    slot: Mutex<Option<ErrorReply>>,
}

impl OneShot {
    /// Queue `e`, replacing any error still queued.
    pub fn queue(&self, e: ErrorReply) {
        let mut s = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        *s = Some(e);
        self.armed.store(true, Ordering::Release);
    }

    /// Take the queued error, if any; later calls get `None` until the next `queue`.
    pub fn take(&self) -> Option<ErrorReply> {
        if !self.armed.load(Ordering::Acquire) {
            return None;
        }
        let mut s = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let e = s.take();
        self.armed.store(false, Ordering::Release);
        e
    }

    /// Drop a queued error.
    pub fn clear(&self) {
        let _ = self.take();
    }
}

/// Serve a control request.
pub async fn handle<B>(
    state: &AppState,
    op: Op,
    parts: &http::request::Parts,
    body: B,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match op {
        Op::Journal => journal(state, parts.uri.query()),
        Op::RecentRequests => recent(state, parts.uri.query()),
        Op::ClearRequests => {
            state.journal.clear();
            let mut r = Response::new(Body::empty());
            *r.status_mut() = http::StatusCode::NO_CONTENT;
            r
        }
        Op::ListFixtures => list_fixtures(state, parts.uri.query()),
        Op::AddFixtures => match read(state, body).await {
            Ok(b) => add_fixtures(state, &b),
            Err(resp) => resp,
        },
        Op::ClearFixtures => {
            state.store.clear();
            state.control.one_shot.clear();
            state.control.added.store(0, Ordering::Relaxed);
            tracing::info!("control API: fixtures cleared");
            json(200, &json!({"cleared": true}))
        }
        Op::Reset => {
            reset(state);
            json(200, &json!({"reset": true}))
        }
        Op::ResetDeprecated => {
            reset(state);
            let mut r = json(
                200,
                &json!({"reset": true, "deprecated": true,
                        "deprecation": "POST /__aimock/reset/fixtures is deprecated: use POST /__aimock/reset"}),
            );
            r.headers_mut()
                .insert("deprecation", HeaderValue::from_static("true"));
            r
        }
        Op::ResetJournal => {
            state.journal.clear();
            json(200, &json!({"reset": true}))
        }
        Op::QueueError => match read(state, body).await {
            Ok(b) => queue_error(state, &b),
            Err(resp) => resp,
        },
        Op::Unknown => json(
            404,
            &json!({"error": {"message": format!("Unknown control endpoint: {}", parts.uri.path()), "type": "not_found"}}),
        ),
    }
}

fn reset(state: &AppState) {
    state.store.clear();
    state.store.reset_counts();
    state.journal.clear();
    state.control.one_shot.clear();
    state.control.added.store(0, Ordering::Relaxed);
    state.mounts.services.reset();
    state.jobs.clear();
    tracing::info!("control API: full reset (fixtures, journal, sequence counts, services, jobs)");
}

fn json(status: u16, v: &Value) -> Response<Body> {
    plan_response(RenderPlan::json(status, v), None)
}

fn bad(message: impl Into<String>) -> Response<Body> {
    json(
        400,
        &json!({"error": {"message": message.into(), "type": "invalid_request_error"}}),
    )
}

async fn read<B>(state: &AppState, body: B) -> Result<Bytes, Response<Body>>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Limited::new(body, state.config.max_body_bytes)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                json(413, &json!({"error": "Request body is too large"}))
            } else {
                bad(format!("Could not read request body: {e}"))
            }
        })
}

/// `POST /__aimock/fixtures`: all or nothing. One invalid entry rejects the batch, so a
/// test never runs against half of what it meant to load.
fn add_fixtures(state: &AppState, body: &[u8]) -> Response<Body> {
    let doc: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return json(400, &json!({"error": format!("Invalid JSON: {e}")})),
    };
    let Some(list) = doc.get("fixtures").and_then(Value::as_array) else {
        return json(
            400,
            &json!({"error": "Missing or invalid \"fixtures\" array"}),
        );
    };
    let label: Arc<str> = Arc::from("<runtime>");
    let base = state.control.added.load(Ordering::Relaxed);
    let mut findings = Vec::new();
    let mut parsed = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let before = findings.len();
        let fx = parse_entry(entry, &label, base + i, &mut findings);
        // Findings name the entry by its place in this request, not in `<runtime>`.
        for f in &mut findings[before..] {
            f.index = Some(i);
        }
        parsed.push(fx);
    }
    let details: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "severity": if f.severity == Severity::Error || f.refused_by_validation { "error" } else { "warning" },
                "fixtureIndex": f.index,
                "field": f.field,
                "message": f.message,
            })
        })
        .collect();
    // The reference validates every entry added here; what it refuses, we refuse.
    if findings
        .iter()
        .any(|f| f.severity == Severity::Error || f.refused_by_validation)
    {
        return json(
            400,
            &json!({"error": "Validation failed", "details": details}),
        );
    }
    let fixtures: Vec<_> = parsed.into_iter().flatten().map(Arc::new).collect();
    let n = fixtures.len();
    state.control.added.fetch_add(n, Ordering::Relaxed);
    state.store.add_runtime(fixtures);
    tracing::info!(added = n, "control API: fixtures added");
    let mut out = json!({"added": n});
    if !details.is_empty() {
        out["warnings"] = Value::Array(details);
    }
    json(200, &out)
}

fn list_fixtures(state: &AppState, query: Option<&str>) -> Response<Body> {
    let set = state.store.snapshot();
    let include = query_pairs(query).any(|(k, v)| k == "include" && v == "fixtures");
    let mut out = json!({"count": set.len()});
    if include {
        let list: Vec<Value> = set
            .fixtures()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let raw = f.listing();
                let mut m = raw.get("match").cloned().unwrap_or(Value::Null);
                state
                    .config
                    .secrets
                    .redact_json(&mut m, "match", &mut Vec::new());
                let mut o = json!({
                    "index": i,
                    "file": &*f.origin.file,
                    "fileIndex": f.origin.index,
                    "match": m,
                    "responseKind": f.reply.kind_name(),
                });
                for k in ["latency", "chaos", "recordedRequest"] {
                    if let Some(v) = raw.get(k) {
                        let mut v = v.clone();
                        state.config.secrets.redact_json(&mut v, k, &mut Vec::new());
                        o[k] = v;
                    }
                }
                o
            })
            .collect();
        out["fixtures"] = Value::Array(list);
    }
    json(200, &out)
}

/// `POST /__aimock/error {"status"?:500,"body"?:{"message"?,"type"?,"code"?}}`.
fn queue_error(state: &AppState, body: &[u8]) -> Response<Body> {
    let doc: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return json(400, &json!({"error": format!("Invalid JSON: {e}")})),
        }
    };
    let Some(o) = doc.as_object() else {
        return bad("The body must be a JSON object");
    };
    let status = match o.get("status") {
        None | Some(Value::Null) => 500,
        Some(v) => match v.as_u64().filter(|s| (400..=599).contains(s)) {
            Some(s) => s as u16,
            None => return bad("`status` must be an integer from 400 to 599"),
        },
    };
    let b = match o.get("body") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(b)) => b.clone(),
        Some(_) => return bad("`body` must be an object"),
    };
    let message = match b.get("message") {
        None | Some(Value::Null) => "Injected error".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return bad("`body.message` must be a string"),
    };
    let kind = match b.get("type") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return bad("`body.type` must be a string"),
    };
    let code = match b.get("code") {
        None | Some(Value::Null) => None,
        Some(v @ (Value::String(_) | Value::Number(_))) => Some(v.clone()),
        Some(_) => return bad("`body.code` must be a string or a number"),
    };
    state.control.one_shot.queue(ErrorReply {
        status,
        message,
        kind,
        param: None,
        code,
        retry_after: None,
    });
    tracing::info!(status, "control API: one-shot error queued");
    json(200, &json!({"queued": true}))
}

fn query_pairs(query: Option<&str>) -> impl Iterator<Item = (String, String)> + '_ {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
}

/// Journal filters, all AND-ed.
#[derive(Debug, Default)]
struct Filter {
    limit: Option<usize>,
    offset: usize,
    path: Option<String>,
    method: Option<String>,
    status: Option<u16>,
    provider: Option<String>,
    test_id: Option<String>,
    request_id: Option<String>,
}

impl Filter {
    fn parse(query: Option<&str>) -> Result<Filter, String> {
        let mut f = Filter::default();
        let int = |k: &str, v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("Invalid {k} parameter: {v:?}"))
        };
        for (k, v) in query_pairs(query) {
            match k.as_str() {
                "limit" => f.limit = Some(int(&k, &v)?),
                "offset" => f.offset = int(&k, &v)?,
                "path" => f.path = Some(v),
                "method" => f.method = Some(v.to_ascii_uppercase()),
                "status" => {
                    f.status = Some(
                        v.parse::<u16>()
                            .map_err(|_| format!("Invalid status parameter: {v:?}"))?,
                    )
                }
                "service" | "provider" => f.provider = Some(v),
                "testId" => f.test_id = Some(v),
                "requestId" => f.request_id = Some(v),
                other => return Err(format!("Unknown journal filter: {other:?}")),
            }
        }
        Ok(f)
    }

    fn keeps(&self, e: &Entry) -> bool {
        self.path
            .as_ref()
            .is_none_or(|p| e.path().contains(p.as_str()))
            && self.method.as_ref().is_none_or(|m| e.method.as_str() == m)
            && self.status.is_none_or(|s| e.status == s)
            && self.provider.as_ref().is_none_or(|p| {
                e.draft.provider == Some(p.as_str()) || e.draft.service.as_deref() == Some(p)
            })
            && self
                .test_id
                .as_ref()
                .is_none_or(|t| e.draft.test_id.as_deref() == Some(t.as_str()))
            && self
                .request_id
                .as_ref()
                .is_none_or(|r| e.draft.id.as_str() == r)
    }
}

fn journal(state: &AppState, query: Option<&str>) -> Response<Body> {
    let f = match Filter::parse(query) {
        Ok(f) => f,
        Err(m) => return bad(m),
    };
    let kept: Vec<_> = state
        .journal
        .entries()
        .into_iter()
        .filter(|e| f.keeps(e))
        .collect();
    let total = kept.len();
    let page: Vec<Value> = kept
        .iter()
        .skip(f.offset)
        .take(f.limit.unwrap_or(usize::MAX))
        .map(|e| e.to_json_with(&state.config.secrets))
        .collect();
    let mut r = json(200, &Value::Array(page));
    r.headers_mut().insert("x-total-count", total.into());
    r
}

/// `GET /v1/_requests?limit=N`: the last N entries, oldest first.
fn recent(state: &AppState, query: Option<&str>) -> Response<Body> {
    let mut limit = None;
    for (k, v) in query_pairs(query) {
        if k == "limit" {
            match v.parse::<usize>() {
                Ok(n) => limit = Some(n),
                Err(_) => return bad(format!("Invalid limit parameter: {v:?}")),
            }
        }
    }
    let all = state.journal.entries();
    let skip = limit.map_or(0, |n| all.len().saturating_sub(n));
    let list: Vec<Value> = all
        .iter()
        .skip(skip)
        .map(|e| e.to_json_with(&state.config.secrets))
        .collect();
    json(200, &Value::Array(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_paths_route_by_method_and_unknown_ones_are_still_control() {
        assert_eq!(
            route(&Method::POST, "/__aimock/fixtures"),
            Some(Ok(Op::AddFixtures))
        );
        assert_eq!(
            route(&Method::DELETE, "/__aimock/fixtures"),
            Some(Ok(Op::ClearFixtures))
        );
        assert_eq!(route(&Method::GET, "/__aimock/reset"), Some(Err(())));
        assert_eq!(route(&Method::GET, "/__aimock/nope"), Some(Ok(Op::Unknown)));
        assert_eq!(route(&Method::POST, "/v1/chat/completions"), None);
    }

    #[test]
    fn a_one_shot_error_is_taken_once() {
        let s = OneShot::default();
        assert!(s.take().is_none());
        s.queue(ErrorReply {
            status: 429,
            message: "slow down".into(),
            kind: None,
            param: None,
            code: None,
            retry_after: None,
        });
        assert_eq!(s.take().map(|e| e.status), Some(429));
        assert!(s.take().is_none());
    }

    #[test]
    fn journal_filters_reject_unknown_parameters_and_bad_numbers() {
        assert!(Filter::parse(Some("testId=a&status=200&limit=5")).is_ok());
        assert_eq!(
            Filter::parse(Some("colour=red")).unwrap_err(),
            "Unknown journal filter: \"colour\""
        );
        assert!(Filter::parse(Some("limit=x")).is_err());
    }
}

//! The control API under `/__aimock/`, for tests to drive the server at run time, on the
//! reference's paths where it has an HTTP form and on our own where it has only a
//! programmatic one (`prependFixture`, `resetMatchCounts`, `enableRecording`):
//!
//! | method and path | effect | answer |
//! | --- | --- | --- |
//! | `GET /__aimock/journal` | read the journal, filtered (`limit`, `offset`, `path`, `method`, `status`, `service`/`provider`, `testId`, `requestId`) | entries, `X-Total-Count` |
//! | `GET /__aimock/fixtures` | count (and with `?include=fixtures`, list, each with its `source`) fixtures | `{"count":N}` |
//! | `POST /__aimock/fixtures` | append `{"fixtures":[..]}` (lowest priority), validated like cassette files | `{"added":N}` or 400 |
//! | `POST /__aimock/fixtures/prepend` | the same, ahead of every other fixture (highest priority) | `{"added":N}` or 400 |
//! | `DELETE /__aimock/fixtures` | remove every fixture (journal and counts stay) | `{"cleared":true}` |
//! | `POST /__aimock/reset` | fixtures, journal, sequence counts, queued error, run-time chaos, video jobs | `{"reset":true}` |
//! | `POST /__aimock/reset/journal` | journal only | `{"reset":true}` |
//! | `POST /__aimock/reset/match-counts` | sequence counts only: of the `X-Test-Id` (or `?testId=`) given, else all | `{"reset":true,"testId":..}` |
//! | `POST /__aimock/reset/fixtures` | deprecated alias of the full reset | `{"reset":true,"deprecated":true,..}` |
//! | `POST /__aimock/error` | answer the next provider request with this error, once | `{"queued":true}` |
//! | `GET`/`POST`/`DELETE /__aimock/record` | read, start (or replace), stop recording misses: `{"providers":{..},"fixturePath"?,..}` | `{"recording":bool,..}` |
//! | `GET`/`POST`/`DELETE /__aimock/chaos` | read, replace, clear the server-level chaos rates of the `X-Test-Id` (or `?testId=`) scope, or the server's without one | `{"chaos":{..}}` |
//! | `GET /__aimock/openapi.json` | this API as an OpenAPI 3.1 document | the document |
//! | `GET`/`DELETE /v1/_requests` | the last `?limit=N` entries / clear them | entries / 204 |
//!
//! ([`ROUTES`] is the table the router reads; `GET /__aimock/health` is the router's
//! own health route.) Added fixtures are run-time fixtures, which survive hot reloads
//! of the cassette files. Control requests are not journaled. Errors are aimock's own
//! `{"error":{"message","type"}}`, except where the reference's string `{"error":".."}`
//! is what existing clients read (the fixtures routes, a one-shot error body not JSON).
//!
//! - `journal`: reading the journal and its filters.
//! - `runtime`: recording and chaos switched at run time.
//! - `openapi.json`: the document `GET /__aimock/openapi.json` serves; a test walks it
//!   against these handlers (`tests/it/openapi.rs`).
//!
//! Not here: routing (`server::router` calls [`route`]), the one-shot error's place in
//! the request lifecycle (`server::pipeline`), the control API's guard
//! (`server::access`).

mod journal;
mod runtime;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderValue, Method, Response};
use http_body_util::{BodyExt, Limited};
use serde_json::{json, Value};

use crate::cassette::model::{parse_entry, ErrorReply, Finding, Severity};
use crate::providers::common::RenderPlan;
use crate::respond::body::Body;
use crate::respond::plan::plan_response;
use crate::server::AppState;

/// The OpenAPI 3.1 document of the control API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// A control endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET /__aimock/journal`.
    Journal,
    /// `GET /__aimock/fixtures`.
    ListFixtures,
    /// `POST /__aimock/fixtures`.
    AddFixtures,
    /// `POST /__aimock/fixtures/prepend`.
    PrependFixtures,
    /// `DELETE /__aimock/fixtures`.
    ClearFixtures,
    /// `POST /__aimock/reset`.
    Reset,
    /// `POST /__aimock/reset/journal`.
    ResetJournal,
    /// `POST /__aimock/reset/match-counts`.
    ResetMatchCounts,
    /// `POST /__aimock/reset/fixtures` (deprecated alias of `Reset`).
    ResetDeprecated,
    /// `POST /__aimock/error`.
    QueueError,
    /// `GET /__aimock/record`.
    RecordStatus,
    /// `POST /__aimock/record`.
    StartRecording,
    /// `DELETE /__aimock/record`.
    StopRecording,
    /// `GET /__aimock/chaos`.
    GetChaos,
    /// `POST /__aimock/chaos`.
    SetChaos,
    /// `DELETE /__aimock/chaos`.
    ClearChaos,
    /// `GET /__aimock/openapi.json`.
    OpenApi,
    /// `GET /v1/_requests`.
    RecentRequests,
    /// `DELETE /v1/_requests`.
    ClearRequests,
    /// Any other `/__aimock/` path.
    Unknown,
}

/// Every control route: method, path, endpoint. [`route`] reads this table and the
/// OpenAPI test walks it, so no route is served without being documented.
pub const ROUTES: &[(&str, &str, Op)] = &[
    ("GET", "/__aimock/journal", Op::Journal),
    ("GET", "/__aimock/fixtures", Op::ListFixtures),
    ("POST", "/__aimock/fixtures", Op::AddFixtures),
    ("DELETE", "/__aimock/fixtures", Op::ClearFixtures),
    ("POST", "/__aimock/fixtures/prepend", Op::PrependFixtures),
    ("POST", "/__aimock/reset", Op::Reset),
    ("POST", "/__aimock/reset/journal", Op::ResetJournal),
    ("POST", "/__aimock/reset/match-counts", Op::ResetMatchCounts),
    ("POST", "/__aimock/reset/fixtures", Op::ResetDeprecated),
    ("POST", "/__aimock/error", Op::QueueError),
    ("GET", "/__aimock/record", Op::RecordStatus),
    ("POST", "/__aimock/record", Op::StartRecording),
    ("DELETE", "/__aimock/record", Op::StopRecording),
    ("GET", "/__aimock/chaos", Op::GetChaos),
    ("POST", "/__aimock/chaos", Op::SetChaos),
    ("DELETE", "/__aimock/chaos", Op::ClearChaos),
    ("GET", "/__aimock/openapi.json", Op::OpenApi),
    ("GET", "/v1/_requests", Op::RecentRequests),
    ("DELETE", "/v1/_requests", Op::ClearRequests),
];

/// Route a control path: `None` when `path` is not one, `Some(Err(()))` for a known
/// path with the wrong method.
pub fn route(method: &Method, path: &str) -> Option<Result<Op, ()>> {
    // Gemini paths reach here too: one prefix test keeps them off the table.
    if !path.starts_with("/__aimock") && path != "/v1/_requests" {
        return None;
    }
    let m = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    let mut known = false;
    for (rm, rp, op) in ROUTES {
        if *rp == path {
            if *rm == m {
                return Some(Ok(*op));
            }
            known = true;
        }
    }
    if known {
        Some(Err(()))
    } else if path == "/__aimock" || path.starts_with("/__aimock/") {
        Some(Ok(Op::Unknown))
    } else {
        None
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
    let query = parts.uri.query();
    match op {
        Op::Journal => journal::journal(state, query),
        Op::RecentRequests => journal::recent(state, query),
        Op::ClearRequests => {
            state.journal.clear();
            let mut r = Response::new(Body::empty());
            *r.status_mut() = http::StatusCode::NO_CONTENT;
            r
        }
        Op::ListFixtures => list_fixtures(state, query),
        Op::AddFixtures | Op::PrependFixtures => match read(state, body).await {
            Ok(b) => add_fixtures(state, &b, op == Op::PrependFixtures),
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
        Op::ResetMatchCounts => match test_scope(parts) {
            Err(m) => bad(m),
            Ok(None) => {
                state.store.reset_counts();
                tracing::info!("control API: every sequence count reset");
                json(200, &json!({"reset": true, "testId": null}))
            }
            Ok(Some(t)) => {
                let had = state.store.reset_counts_of(&t);
                tracing::info!(test_id = %t, had, "control API: sequence counts of one test id reset");
                json(200, &json!({"reset": true, "testId": t}))
            }
        },
        Op::QueueError => match read(state, body).await {
            Ok(b) => queue_error(state, &b),
            Err(resp) => resp,
        },
        Op::RecordStatus => runtime::record_status(state),
        Op::StartRecording => match read(state, body).await {
            Ok(b) => runtime::start_recording(state, &b).await,
            Err(resp) => resp,
        },
        Op::StopRecording => runtime::stop_recording(state),
        Op::GetChaos | Op::ClearChaos => match test_scope(parts) {
            Err(m) => bad(m),
            Ok(t) => runtime::chaos(state, t.as_deref(), op == Op::ClearChaos),
        },
        Op::SetChaos => match test_scope(parts) {
            Err(m) => bad(m),
            Ok(t) => match read(state, body).await {
                Ok(b) => runtime::set_chaos(state, t.as_deref(), &b),
                Err(resp) => resp,
            },
        },
        Op::OpenApi => {
            let mut r = Response::new(Body::full(Bytes::from_static(OPENAPI.as_bytes())));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Op::Unknown => json(
            404,
            &json!({"error": {"message": format!("Unknown control endpoint: {}", parts.uri.path()), "type": "not_found"}}),
        ),
    }
}

/// The test id a scoped control call names: `X-Test-Id`, else `?testId=`; `None` for
/// neither (or the default id), meaning the whole server. A present but blank
/// `X-Test-Id` is a 400, as the reference's: taken as "no test id" it would change
/// every other test's scope.
fn test_scope(parts: &http::request::Parts) -> Result<Option<String>, String> {
    let header = match parts.headers.get("x-test-id") {
        None => None,
        Some(v) => match v.to_str().map(str::trim) {
            Ok("") => return Err("Invalid 'X-Test-Id': header is present but empty".into()),
            Ok(t) => Some(t.to_string()),
            Err(_) => return Err("Invalid 'X-Test-Id': not visible ASCII".into()),
        },
    };
    let id = header.or_else(|| {
        query_pairs(parts.uri.query())
            .find(|(k, v)| k == "testId" && !v.is_empty())
            .map(|(_, v)| v)
    });
    Ok(id.filter(|t| t != crate::request::DEFAULT_TEST_ID))
}

/// The full reset `POST /__aimock/reset` makes (the Rust test API's `reset` too).
pub fn reset_all(state: &AppState) {
    reset(state)
}

fn reset(state: &AppState) {
    state.store.clear();
    state.store.reset_counts();
    state.journal.clear();
    state.control.one_shot.clear();
    state.control.added.store(0, Ordering::Relaxed);
    state.chaos.overrides().clear_all();
    state.mounts.services.reset();
    state.jobs.clear();
    tracing::info!(
        "control API: full reset (fixtures, journal, sequence counts, run-time chaos, services, jobs)"
    );
}

fn json(status: u16, v: &Value) -> Response<Body> {
    plan_response(RenderPlan::json(status, v), None)
}

/// A 400 in aimock's own error shape, logged once.
fn bad(message: impl Into<String>) -> Response<Body> {
    let message = message.into();
    tracing::info!(%message, "control API: request refused");
    json(
        400,
        &json!({"error": {"message": message, "type": "invalid_request_error"}}),
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
                tracing::info!(
                    limit = state.config.max_body_bytes,
                    "control API: request body over the limit"
                );
                json(
                    413,
                    &json!({"error": {"message": format!("Request body is larger than the {}-byte limit", state.config.max_body_bytes), "type": "request_too_large"}}),
                )
            } else {
                bad(format!("Could not read request body: {e}"))
            }
        })
}

/// The origin label of fixtures added through the control API (and the Rust test API).
pub const RUNTIME_ORIGIN: &str = "<runtime>";

/// The origin label of fixtures built in code with the Rust test API.
pub const CODE_ORIGIN: &str = "<code>";

/// Fixtures added by [`admit_fixtures`].
#[derive(Debug)]
pub struct Admitted {
    /// How many were added.
    pub added: usize,
    /// Warnings about them (they loaded regardless).
    pub warnings: Vec<Finding>,
}

/// Cassette entries parsed as one batch by [`parse_batch`].
#[derive(Debug)]
pub struct Batch {
    /// The fixtures, in the entries' order.
    pub fixtures: Vec<Arc<crate::cassette::Fixture>>,
    /// Warnings about them (they loaded regardless).
    pub warnings: Vec<Finding>,
}

/// Parse cassette entries as the control API validates them, all or nothing: one
/// entry refused (an error, or a warning the reference's validation refuses) refuses
/// the batch, so a test never runs against half of what it meant to load. Fixtures are
/// labelled `origin` and numbered from `base`; findings name each entry by its place in
/// `list`.
pub fn parse_batch(list: &[Value], origin: &str, base: usize) -> Result<Batch, Vec<Finding>> {
    let label: Arc<str> = Arc::from(origin);
    let mut findings = Vec::new();
    let mut parsed = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let before = findings.len();
        let fx = parse_entry(entry, &label, base + i, &mut findings);
        for f in &mut findings[before..] {
            f.index = Some(i);
        }
        parsed.push(fx);
    }
    if findings
        .iter()
        .any(|f| f.severity == Severity::Error || f.refused_by_validation)
    {
        return Err(findings);
    }
    Ok(Batch {
        fixtures: parsed.into_iter().flatten().map(Arc::new).collect(),
        warnings: findings,
    })
}

/// Validate cassette entries as `POST /__aimock/fixtures` does ([`parse_batch`]) and
/// add them as `<runtime>` fixtures: `front`, ahead of every other fixture, else after.
pub fn admit_fixtures(
    state: &AppState,
    list: &[Value],
    front: bool,
) -> Result<Admitted, Vec<Finding>> {
    let base = state.control.added.load(Ordering::Relaxed);
    let batch = parse_batch(list, RUNTIME_ORIGIN, base)?;
    let n = batch.fixtures.len();
    state.control.added.fetch_add(n, Ordering::Relaxed);
    if front {
        state.store.prepend_runtime(batch.fixtures);
    } else {
        state.store.add_runtime(batch.fixtures);
    }
    tracing::info!(added = n, front, "control API: fixtures added");
    Ok(Admitted {
        added: n,
        warnings: batch.warnings,
    })
}

fn finding_json(f: &Finding) -> Value {
    json!({
        "severity": if f.severity == Severity::Error || f.refused_by_validation { "error" } else { "warning" },
        "fixtureIndex": f.index,
        "field": f.field,
        "message": f.message,
    })
}

/// `POST /__aimock/fixtures` and `/__aimock/fixtures/prepend`.
fn add_fixtures(state: &AppState, body: &[u8], front: bool) -> Response<Body> {
    let doc: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            tracing::info!(error = %e, "control API: fixtures body is not JSON");
            return json(400, &json!({"error": format!("Invalid JSON: {e}")}));
        }
    };
    let Some(list) = doc.get("fixtures").and_then(Value::as_array) else {
        tracing::info!("control API: fixtures body has no \"fixtures\" array");
        return json(
            400,
            &json!({"error": "Missing or invalid \"fixtures\" array"}),
        );
    };
    match admit_fixtures(state, list, front) {
        Err(findings) => {
            tracing::info!(
                findings = findings.len(),
                "control API: fixtures refused by validation"
            );
            let details: Vec<Value> = findings.iter().map(finding_json).collect();
            json(
                400,
                &json!({"error": "Validation failed", "details": details}),
            )
        }
        Ok(a) => {
            let mut out = json!({"added": a.added});
            if !a.warnings.is_empty() {
                out["warnings"] = a.warnings.iter().map(finding_json).collect();
            }
            json(200, &out)
        }
    }
}

/// Where a fixture came from, by its origin label: a cassette `file`, the `control`
/// API, `code` (the Rust test API), a `recorded` miss, the config file's `config`
/// services.
pub fn source_of(origin_file: &str) -> &'static str {
    if origin_file == RUNTIME_ORIGIN {
        "control"
    } else if origin_file == CODE_ORIGIN {
        "code"
    } else if origin_file.ends_with(" (recorded)") {
        "recorded"
    } else if origin_file == crate::services::web::ORIGIN {
        "config"
    } else if origin_file.starts_with('<') {
        "internal"
    } else {
        "file"
    }
}

fn list_fixtures(state: &AppState, query: Option<&str>) -> Response<Body> {
    let mut include = false;
    for (k, v) in query_pairs(query) {
        match (k.as_str(), v.as_str()) {
            ("include", "fixtures") => include = true,
            ("include", _) => {
                return json(
                    400,
                    &json!({"error": "Invalid 'include': expected 'fixtures'"}),
                )
            }
            _ => {
                return json(
                    400,
                    &json!({"error": format!("Unknown query parameter: '{k}'. Supported: include")}),
                )
            }
        }
    }
    let set = state.store.snapshot();
    let mut out = json!({"count": set.len()});
    if include {
        let front = state.store.prepended();
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
                    "source": source_of(&f.origin.file),
                    "file": &*f.origin.file,
                    "fileIndex": f.origin.index,
                    "match": m,
                    "responseKind": f.reply.kind_name(),
                });
                if i < front {
                    o["prepended"] = json!(true);
                }
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
        assert_eq!(
            route(&Method::HEAD, "/__aimock/record"),
            Some(Ok(Op::RecordStatus))
        );
        assert_eq!(route(&Method::PUT, "/__aimock/chaos"), Some(Err(())));
        assert_eq!(route(&Method::GET, "/v1/_requestsX"), None);
    }

    #[test]
    fn every_route_in_the_table_routes_to_its_own_endpoint() {
        for (m, p, op) in ROUTES {
            let method = Method::from_bytes(m.as_bytes()).unwrap();
            assert_eq!(route(&method, p), Some(Ok(*op)), "{m} {p}");
        }
    }

    #[test]
    fn sources_are_named_by_origin() {
        assert_eq!(source_of("<runtime>"), "control");
        assert_eq!(source_of("cassettes/a.json"), "file");
        assert_eq!(
            source_of("cassettes/recorded/x.json (recorded)"),
            "recorded"
        );
        assert_eq!(source_of(crate::services::web::ORIGIN), "config");
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
}

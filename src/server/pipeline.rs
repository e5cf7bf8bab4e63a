//! The request lifecycle, top to bottom, in one place:
//!
//! 1. **route**: a pure match of method and path (`router`);
//! 2. **read**: the body, bounded by `--max-body-bytes` (413 past it);
//! 3. **parse**: the provider's wire request into a [`ChatRequest`] (400 in the
//!    provider's error shape when malformed);
//! 4. **scope**: test id, context and strict override from the request headers;
//! 5. **match**: against the fixture set taken at the start of the request;
//! 6. **answer**: render the fixture and pace it; or, on a miss, a 503 (strict), a
//!    deterministic embedding, or a 404, each naming the closest fixtures.
//!
//! Every failure becomes an HTTP response in the caller's provider shape here; nothing
//! returns an error to hyper, so a bad request can never take a connection down.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use serde_json::json;

use super::body::Body;
use super::pacing::{PacedBody, Pacing};
use super::router::{route, Route};
use super::AppState;
use crate::fixtures::{MatchMode, Outcome};
use crate::providers::{ErrorKind, PlanBody, RenderContext, RenderPlan, RequestParts, Surface};
use crate::request::{ChatRequest, DEFAULT_TEST_ID};

/// Handle one request. Never fails: every error is a response.
pub async fn handle<B>(state: Arc<AppState>, req: Request<B>) -> Response<Body>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = req.into_parts();
    let route = route(&parts.method, parts.uri.path());
    let mut resp = match route {
        Route::Preflight => status_only(StatusCode::NO_CONTENT),
        Route::Health => json_response(
            200,
            &json!({"status": "ok", "fixtures": state.store.snapshot().len()}),
        ),
        Route::Ready => json_response(200, &json!({"status": "ready"})),
        Route::Models => models(&state),
        Route::OllamaTags => ollama_tags(&state),
        Route::MethodNotAllowed => json_response(
            405,
            &json!({"error": {"message": format!("Method {} not allowed on {}", parts.method, parts.uri.path()), "type": "invalid_request_error"}}),
        ),
        Route::NotFound => {
            tracing::debug!(method = %parts.method, path = parts.uri.path(), "no route");
            json_response(
                404,
                &json!({"error": {"message": format!("Not found: {} {}", parts.method, parts.uri.path()), "type": "not_found"}}),
            )
        }
        Route::Provider(surface) => serve_provider(&state, surface, &parts, body).await,
    };
    if parts.method == Method::HEAD {
        *resp.body_mut() = Body::empty();
    }
    add_cors(resp.headers_mut());
    resp
}

async fn serve_provider<B>(
    state: &AppState,
    surface: Surface,
    parts: &http::request::Parts,
    body: B,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let max = state.config.max_body_bytes;
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return too_large(&surface, max);
    }
    let bytes = match Limited::new(body, max).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return too_large(&surface, max);
            }
            tracing::warn!(path = parts.uri.path(), error = %e, "could not read request body");
            return plan_response(
                surface.error_plan(
                    400,
                    &format!("Could not read request body: {e}"),
                    ErrorKind::InvalidRequest {
                        code: "invalid_body",
                    },
                ),
                None,
            );
        }
    };
    let rp = RequestParts {
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
    };
    let mut req = match surface.parse_request(&rp, &bytes) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(provider = surface.provider(), path = parts.uri.path(), error = %e.message, "malformed request");
            return plan_response(
                surface.error_plan(
                    e.status,
                    &e.message,
                    ErrorKind::InvalidRequest { code: e.code },
                ),
                None,
            );
        }
    };
    scope(&mut req, &rp);
    let strict = strict_override(&parts.headers).unwrap_or(state.config.strict);
    // While recording, turnIndex is a hard gate: an earlier turn's capture must not
    // shadow a later turn that still needs recording.
    let mode = MatchMode {
        hard_turn_index: state.config.hard_turn_index || state.recorder.is_some(),
    };

    let found = state.store.find(&req, mode);
    match (&found.outcome, found.fixture()) {
        (Outcome::Hit(_), Some(fx)) => {
            let ctx = RenderContext::new(fx, &req, state.config.chunk_size);
            tracing::debug!(provider = surface.provider(), fixture = %fx.origin, "matched");
            let plan = surface.render(fx, &req, &ctx);
            let pacing = Pacing {
                latency_ms: fx.options.latency_ms.unwrap_or(state.config.latency_ms),
                profile: fx.options.streaming_profile,
                recorded: fx.options.recorded_timings.clone(),
                replay_speed: fx.options.replay_speed.unwrap_or(state.config.replay_speed),
                truncate_after_chunks: fx.options.truncate_after_chunks,
                disconnect_after: fx
                    .options
                    .disconnect_after_ms
                    .map(|ms| std::time::Duration::from_secs_f64(ms.min(86_400_000.0) / 1000.0)),
                jitter_seed: ctx.seed,
            };
            let mut resp = plan_response(plan, Some(pacing));
            set_request_id(&mut resp, &ctx.id("req_", "request-id", 24));
            resp
        }
        _ => {
            let skipped = match found.outcome {
                Outcome::Miss { skipped_by_state } => skipped_by_state,
                Outcome::Hit(_) => 0,
            };
            if !strict {
                if let Some(rec) = state.recorder.as_ref().filter(|r| r.handles(&surface)) {
                    return rec.forward(&surface, parts, bytes, req).await;
                }
            }
            miss(state, &surface, &req, &found.set, mode, strict, skipped)
        }
    }
}

/// Fill in the request's scope from headers and query.
fn scope(req: &mut ChatRequest, rp: &RequestParts) {
    // Header values are bytes: test names often hold non-ASCII (`Suite › case`), so
    // decode them as UTF-8 rather than rejecting anything outside visible ASCII.
    let header = |name: &str| {
        rp.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    req.test_id = header("x-test-id")
        .or_else(|| rp.query_param("testId").filter(|s| !s.is_empty()))
        .unwrap_or_else(|| DEFAULT_TEST_ID.to_string());
    req.context = header("x-aimock-context");
}

/// `X-AIMock-Strict`: true/1 or false/0 (trimmed, any case); anything else: no override.
pub fn strict_override(headers: &HeaderMap) -> Option<bool> {
    let v = headers
        .get("x-aimock-strict")?
        .to_str()
        .ok()?
        .trim()
        .to_ascii_lowercase();
    match v.as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn miss(
    state: &AppState,
    surface: &Surface,
    req: &ChatRequest,
    set: &crate::fixtures::FixtureSet,
    mode: MatchMode,
    strict: bool,
    skipped: usize,
) -> Response<Body> {
    if !strict && surface.is_embedding() {
        if let Some(plan) = surface.fallback_embedding(req, &RenderContext::for_request(req)) {
            tracing::debug!(
                provider = surface.provider(),
                "no embedding fixture; deterministic vector"
            );
            return plan_response(plan, None);
        }
    }
    let near = state.store.explain(req, set, mode, 3);
    let mut message = if strict {
        if skipped > 0 {
            format!("Strict mode: {skipped} candidate fixture(s) skipped by sequence/turn state")
        } else {
            "Strict mode: no fixture matched".to_string()
        }
    } else {
        "No fixture matched".to_string()
    };
    message.push_str(&format!(
        " for {} request ({})",
        surface.provider(),
        req.describe()
    ));
    if !near.is_empty() {
        let closest: Vec<String> = near.iter().map(|n| n.summary()).collect();
        message.push_str(&format!(". Closest: {}", closest.join("; ")));
    } else if set.is_empty() {
        message.push_str(". No fixtures are loaded");
    }
    tracing::warn!(provider = surface.provider(), strict, test_id = %req.test_id, "{message}");
    let status = if strict { 503 } else { 404 };
    plan_response(
        surface.error_plan(status, &message, ErrorKind::NoMatch),
        None,
    )
}

fn too_large(surface: &Surface, max: usize) -> Response<Body> {
    plan_response(
        surface.error_plan(
            413,
            &format!("Request body is larger than the {max}-byte limit"),
            ErrorKind::InvalidRequest {
                code: "request_too_large",
            },
        ),
        None,
    )
}

/// Turn a plan into a response, pacing streams when the fixture asks for it.
pub fn plan_response(plan: RenderPlan, pacing: Option<Pacing>) -> Response<Body> {
    let body = match plan.body {
        PlanBody::Full(b) => Body::full(b),
        PlanBody::Stream(frames) => match pacing {
            Some(p) if !p.is_instant() => Body::Paced(Box::new(PacedBody::new(frames, p))),
            // Nothing to wait for: one write is faster and the bytes are the same.
            _ => {
                let total: usize = frames.iter().map(|f| f.bytes.len()).sum();
                let mut buf = bytes::BytesMut::with_capacity(total);
                for f in frames {
                    buf.extend_from_slice(&f.bytes);
                }
                Body::full(buf.freeze())
            }
        },
    };
    let mut resp = Response::new(body);
    *resp.status_mut() =
        StatusCode::from_u16(plan.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(plan.content_type),
    );
    for (k, v) in plan.headers {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.append(k, v);
        }
    }
    resp
}

fn set_request_id(resp: &mut Response<Body>, id: &str) {
    if let Ok(v) = HeaderValue::from_str(id) {
        resp.headers_mut().insert("x-request-id", v);
    }
}

fn json_response(status: u16, v: &serde_json::Value) -> Response<Body> {
    plan_response(RenderPlan::json(status, v), None)
}

fn status_only(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

fn model_ids(state: &AppState) -> Vec<String> {
    let set = state.store.snapshot();
    let mut ids: Vec<String> = Vec::new();
    for f in &set.fixtures {
        if let Some(m) = &f.criteria.model {
            if !ids.contains(m) {
                ids.push(m.clone());
            }
        }
    }
    if ids.is_empty() {
        ids = [
            "gpt-4",
            "gpt-4o",
            "claude-3-5-sonnet-20241022",
            "gemini-2.0-flash",
            "text-embedding-3-small",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
    }
    ids
}

fn models(state: &AppState) -> Response<Body> {
    let ids = model_ids(state);
    let data: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1686935002, "owned_by": "aimock"}))
        .collect();
    json_response(200, &json!({"object": "list", "data": data}))
}

fn ollama_tags(state: &AppState) -> Response<Body> {
    let models: Vec<serde_json::Value> = model_ids(state)
        .iter()
        .map(|id| {
            json!({"name": id, "model": id, "modified_at": "2024-01-01T00:00:00Z", "size": 0,
                   "digest": hex_digest(id), "details": {"format": "gguf", "family": "aimock"}})
        })
        .collect();
    json_response(200, &json!({"models": models}))
}

fn hex_digest(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn add_cors(h: &mut HeaderMap) {
    // The `http` constants: a `&str` name would be parsed and checked on every response.
    use http::header::{
        ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
        ACCESS_CONTROL_EXPOSE_HEADERS,
    };
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    h.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
    h.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("X-Request-Id"),
    );
}

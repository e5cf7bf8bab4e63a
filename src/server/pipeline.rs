//! The request lifecycle, top to bottom, in one place:
//!
//! 0. **test-id prefix**: `/__test/{id}/...` is served as `...` with `X-Test-Id: {id}`
//!    (`test_path`); then **access**: while API keys are set, a request without one
//!    gets a 401 here (`access`; the probes, preflights and the control API, guarded
//!    by its own token rule, pass);
//! 1. **route**: a pure match of method and path (`router`); probes, `/metrics` and
//!    the control API (`control`) are answered at once;
//! 2. **read**: the body, bounded by `--max-body-bytes` (413 past it);
//! 3. **parse**: the provider's wire request into a [`ChatRequest`] (400 in the
//!    provider's error shape when malformed);
//! 4. **scope**: test id, context and strict override from the request headers;
//! 5. **one-shot error**: an error queued with `POST /__aimock/error` answers this
//!    request, before matching, as the reference's front-of-list error fixture does (so
//!    no sequence slot is used up);
//! 6. **match**: against the fixture set taken at the start of the request (sequence
//!    counts advance here);
//! 7. **chaos**: drop, malformed or disconnect, rolled after matching and before the
//!    strict and 404 decisions (`chaos`);
//!    (A job's status poll or content download skips matching: the job table that a
//!    replayed create filled answers it, or, while recording, the upstream does.)
//! 8. **answer**: render the fixture and pace it; or, on a miss, forward it (record
//!    mode), a 503 (strict), a deterministic embedding, or a 404, each naming the
//!    closest fixtures;
//! 9. **account**: metrics and the journal entry (`journal`, `metrics`).
//!
//! Every failure becomes an HTTP response in the caller's provider shape, through the
//! one error path (`respond`: status by source, shape by provider, logged once); nothing
//! returns an error to hyper, so a bad request can never take a connection down.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tracing::Instrument;

use super::catalogue;
use super::known::KnownHeaders;
use super::router::{route, Route};
use super::websocket;
use super::AppState;
use crate::cassette::{Fixture, MatchMode, Outcome};
use crate::chaos::{self, Action, Decision};
use crate::journal::{Draft, Entry, Source};
use crate::providers::common::{ErrorKind, PlanBody, RenderContext, RequestParts};
use crate::providers::{JobStep, Surface};
use crate::request::{scope_value, ChatRequest, DEFAULT_TEST_ID};
use crate::respond::body::Body;
use crate::respond::pacing::Pacing;
use crate::respond::plan::{header_value, json_response, plan_response, status_only};
use crate::respond::{respond, Failure};
use crate::services::{Service, ServiceRequest};

// Header names the pipeline reads or writes on every request, parsed once: a `&str`
// name is parsed and checked on every lookup.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");

/// Handle one request. Never fails: every error is a response.
pub async fn handle<B>(state: Arc<AppState>, mut req: Request<B>) -> Response<Body>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = Instant::now();
    // A test id in the path (`/__test/{id}/...`, `test_path`) is taken off before any
    // step looks at the request; a plain request pays one prefix comparison.
    if super::test_path::has_prefix(req.uri().path()) {
        if let Err(super::test_path::Refusal::BadId(id)) = super::test_path::strip(&mut req) {
            let bad = Failure::client(
                400,
                "invalid_test_id",
                format!("The test id in the path is not usable as a header value: {id:?}"),
            );
            tracing::warn!(test_id = ?id, "refused a test-id path prefix");
            let mut resp = respond(&bad, None, req.uri().path());
            add_cors(resp.headers_mut());
            return resp;
        }
    }
    // Step 0, only while API keys are set: no key, no service (`access`).
    if state.access.guards() {
        if let Some(mut refused) = super::access::admit(&state, &mut req, started) {
            add_cors(refused.headers_mut());
            return refused;
        }
    }
    // Mounted WebSocket handlers (the realtime surfaces, always) and services come
    // first: one `Upgrade` header lookup, and a length check while no service is mounted.
    if !state.mounts.sockets.is_empty() && websocket::wants_upgrade(req.headers()) {
        if let Some(h) = state.mounts.sockets.find(req.uri().path()).cloned() {
            return websocket::accept(&mut req, h, state.clone());
        }
    }
    if !state.mounts.services.is_empty() {
        if let Some(svc) = state.mounts.services.find(req.uri().path()).cloned() {
            let mut resp = serve_service(&state, svc, req, started).await;
            // A service may expose headers of its own (MCP's `Mcp-Session-Id`): kept
            // beside the ones every reply exposes.
            let own = resp
                .headers_mut()
                .remove(http::header::ACCESS_CONTROL_EXPOSE_HEADERS);
            add_cors(resp.headers_mut());
            if let Some(v) = own.and_then(|v| {
                HeaderValue::from_str(&format!(
                    "X-Total-Count, X-Request-Id, {}",
                    v.to_str().ok()?
                ))
                .ok()
            }) {
                resp.headers_mut()
                    .insert(http::header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
            }
            return resp;
        }
    }
    let (parts, body) = req.into_parts();
    let route = route(&parts.method, parts.uri.path());
    let mut resp = match route {
        Route::Preflight => status_only(StatusCode::NO_CONTENT),
        Route::Health => health(&state),
        Route::Ready => json_response(200, &json!({"status": "ready"})),
        Route::Metrics => metrics(&state),
        Route::Models => catalogue::models(&state),
        Route::Model(id) => catalogue::model(&id),
        Route::OllamaTags => catalogue::ollama_tags(&state),
        Route::OpenRouterModels => catalogue::openrouter_models(&state),
        // Boxed, as the recorder's call in `decide`: the future of `handle` is as large
        // as its largest await, and every request's is moved into a slot of that size.
        Route::Control(op) => {
            match super::access::control(&state, &parts.headers, parts.uri.path()) {
                Some(refused) => refused,
                None => Box::pin(super::control::handle(&state, op, &parts, body)).await,
            }
        }
        Route::MethodNotAllowed(surface) => respond(
            &Failure::route(
                false,
                format!(
                    "Method {} not allowed on {}",
                    parts.method,
                    parts.uri.path()
                ),
            ),
            surface.as_ref(),
            parts.uri.path(),
        ),
        Route::NotFound(surface) => respond(
            &Failure::route(
                true,
                format!("Not found: {} {}", parts.method, parts.uri.path()),
            ),
            surface.as_ref(),
            parts.uri.path(),
        ),
        Route::Provider(surface) => {
            let arrived = SystemTime::now();
            let known = KnownHeaders::scan(&parts.headers);
            let mut draft = Draft::new(state.journal.request_id(known.request_id));
            draft.provider = Some(surface.provider());
            // One span per request: every line logged while serving it carries the
            // request id, the provider and (once the request is parsed) the test id.
            // A debug span: enabled at the default level (info) it costs about 7,800
            // instructions per request, +13 to 15% (scripts/bench/instructions.py
            // --log-level info, with and without it); at debug it is there.
            let span = tracing::debug_span!(
                "request",
                id = draft.id.as_str(),
                provider = surface.provider(),
                test_id = tracing::field::Empty,
            );
            let mut resp = serve_provider(&state, &surface, &parts, &known, body, &mut draft)
                .instrument(span)
                .await;
            account(
                &state, &surface, &parts, &known, arrived, started, &mut resp, draft,
            );
            resp
        }
    };
    if parts.method == Method::HEAD {
        *resp.body_mut() = Body::empty();
    }
    add_cors(resp.headers_mut());
    resp
}

async fn serve_provider<B>(
    state: &AppState,
    surface: &Surface,
    parts: &http::request::Parts,
    known: &KnownHeaders<'_>,
    body: B,
    draft: &mut Draft,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let max = state.config.max_body_bytes;
    let declared = known
        .content_length
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return too_large(surface, parts, max);
    }
    let bytes = match read_body(body, max).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(surface, parts, max),
        Err(BodyError::Read(e)) => {
            return respond(
                &Failure::client(
                    400,
                    "invalid_body",
                    format!("Could not read request body: {e}"),
                ),
                Some(surface),
                parts.uri.path(),
            );
        }
    };
    match decide(state, surface, parts, known, bytes, draft) {
        Decided::Answer(resp) => resp,
        Decided::Proxy(upstream) => upstream.await,
    }
}

/// What [`decide`] settled on.
enum Decided<'a> {
    /// The reply.
    Answer(Response<Body>),
    /// The upstream's reply, still to come.
    Proxy(Pin<Box<dyn Future<Output = Response<Body>> + Send + 'a>>),
}

/// Everything between reading a body and answering: parse, scope, match, then replay,
/// miss, or hand over to the recorder. Not async on purpose: the future of every
/// request holds whatever is alive across an await, and only the upstream call awaits,
/// so it is returned boxed with all it needs instead of being awaited here.
fn decide<'a>(
    state: &'a AppState,
    surface: &'a Surface,
    parts: &'a http::request::Parts,
    known: &KnownHeaders<'_>,
    bytes: Bytes,
    draft: &'a mut Draft,
) -> Decided<'a> {
    let rp = RequestParts {
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
    };
    let mut req = match surface.parse_request(&rp, &bytes) {
        Ok(r) => r,
        Err(e) => return unparsed(state, surface, parts, known, bytes, e, draft),
    };
    scope(&mut req, &rp, known);
    tracing::Span::current().record("test_id", req.test_id.as_ref());
    let strict = strict_override(known.strict).unwrap_or(state.config.strict);
    if strict != state.config.strict {
        draft.strict_override = Some(strict);
    }

    if let Some(e) = state.control.one_shot().take() {
        tracing::info!(
            provider = surface.provider(),
            status = e.status,
            "answering with the queued one-shot error"
        );
        draft.source = Source::Injected;
        draft.keep(req, raw(surface, &bytes));
        return Decided::Answer(plan_response(
            surface.error(e.status, &e.message, ErrorKind::Fixture(&e)),
            None,
        ));
    }

    // A job's polls and downloads answer from the job table, not from matching.
    let poll = match surface.job_step(&req) {
        Some(JobStep::Poll(id)) => Some((id.to_string(), true)),
        Some(JobStep::Content(id)) => Some((id.to_string(), false)),
        _ => None,
    };
    if let Some((id, advance)) = poll {
        return job_poll(
            state,
            surface,
            parts,
            bytes,
            req,
            (&id, advance),
            strict,
            draft,
        );
    }

    // While recording, turnIndex is a hard gate: an earlier turn's capture must not
    // shadow a later turn that still needs recording.
    let mode = MatchMode {
        hard_turn_index: state.config.hard_turn_index || state.recorder.is_some(),
    };
    let found = state.store.find(&req, mode);
    let hit = found.fixture().cloned();
    let recorder = if strict || hit.is_some() {
        None
    } else {
        state.recorder.current().filter(|r| r.handles(surface))
    };

    let fault = state.chaos.roll(
        known.chaos,
        hit.as_ref().and_then(|f| f.chaos.as_deref()),
        &req.test_id,
    );
    if let Some(d) = fault {
        tracing::info!(provider = surface.provider(), action = d.action.as_str(), level = d.level.as_str(), test_id = %req.test_id, "chaos");
        draft.chaos = Some(d);
    }

    // No editable fixture: a raw exchange recorded for exactly this request answers.
    let raw_hit = match hit {
        None if found.set.has_raw() => {
            let digest = crate::cassette::raw::body_digest(&bytes);
            found
                .set
                .find_raw(parts.method.as_str(), parts.uri.path(), &digest)
                .cloned()
        }
        _ => None,
    };
    let resp = if let Some(fx) = hit {
        draft.source = Source::Fixture;
        draft.fixture = Some(fx.origin.clone());
        tracing::debug!(provider = surface.provider(), fixture = %fx.origin, "matched");
        replay(state, surface, &fx, &req, fault, draft)
    } else if let Some(fx) = raw_hit {
        replay_raw(state, &fx, draft)
    } else if let Some(rec) = recorder {
        // Boxed, and handed all it needs: an upstream call's future is large, and the
        // future of every request must not make room for it, nor for anything held
        // across it.
        return Decided::Proxy(Box::pin(proxy(
            rec, surface, parts, bytes, req, fault, draft,
        )));
    } else {
        draft.source = Source::Fixture;
        let skipped = match found.outcome {
            Outcome::Miss { skipped_by_state } => skipped_by_state,
            Outcome::Hit(_) => 0,
        };
        match fault.map(|d| d.action) {
            Some(a) => chaos_whole(surface, parts.uri.path(), a),
            None => miss(
                state,
                surface,
                parts.uri.path(),
                &req,
                &found.set,
                mode,
                strict,
                skipped,
                draft,
            ),
        }
    };
    draft.keep(req, raw(surface, &bytes));
    Decided::Answer(resp)
}

/// A request whose body does not parse into the neutral form: a raw exchange fixture
/// recorded for exactly it answers; else record mode forwards it and saves the exchange
/// raw (unless strict); else the provider's 400.
fn unparsed<'a>(
    state: &'a AppState,
    surface: &'a Surface,
    parts: &'a http::request::Parts,
    known: &KnownHeaders<'_>,
    bytes: Bytes,
    e: crate::providers::common::ParseError,
    draft: &'a mut Draft,
) -> Decided<'a> {
    let set = state.store.snapshot();
    if set.has_raw() {
        let digest = crate::cassette::raw::body_digest(&bytes);
        if let Some(fx) = set.find_raw(parts.method.as_str(), parts.uri.path(), &digest) {
            draft.keep_unparsed(&bytes);
            return Decided::Answer(replay_raw(state, fx, draft));
        }
    }
    let strict = strict_override(known.strict).unwrap_or(state.config.strict);
    if let Some(rec) = state.recorder.current().filter(|r| r.handles(surface)) {
        if !strict {
            tracing::info!(
                provider = surface.provider(),
                path = parts.uri.path(),
                reason = %e.message,
                "the request does not parse; forwarding it and saving the exchange raw"
            );
            draft.source = Source::Proxy;
            draft.keep_unparsed(&bytes);
            let reason = format!("the request does not parse: {}", e.message);
            return Decided::Proxy(Box::pin(async move {
                rec.forward_raw(surface, parts, bytes, reason).await
            }));
        }
    }
    draft.keep_unparsed(&bytes);
    Decided::Answer(respond(
        &Failure::client(e.status, e.code, e.message),
        Some(surface),
        parts.uri.path(),
    ))
}

/// A status poll or content download of a job: from the job table when a replayed
/// create started it; else forwarded upstream while recording (the recorder adds it to
/// the job it is recording); else the provider's 404.
#[allow(clippy::too_many_arguments)]
fn job_poll<'a>(
    state: &'a AppState,
    surface: &'a Surface,
    parts: &'a http::request::Parts,
    bytes: Bytes,
    req: ChatRequest,
    (id, advance): (&str, bool),
    strict: bool,
    draft: &'a mut Draft,
) -> Decided<'a> {
    if let Some(job) = state.jobs.poll(&req.test_id, id, advance) {
        draft.source = Source::Fixture;
        draft.fixture = Some(job.fixture.origin.clone());
        let ctx = RenderContext::new(&job.fixture, &job.start, state.config.chunk_size);
        let plan = surface.render_job(&job.fixture, &job.start, &req, &ctx, job.polls);
        tracing::debug!(
            provider = surface.provider(),
            job = id,
            polls = job.polls,
            "job poll"
        );
        draft.keep(req, raw(surface, &bytes));
        return Decided::Answer(plan_response(plan, None));
    }
    if !strict {
        if let Some(rec) = state.recorder.current().filter(|r| r.handles(surface)) {
            return Decided::Proxy(Box::pin(proxy(
                rec, surface, parts, bytes, req, None, draft,
            )));
        }
    }
    draft.source = Source::Fixture;
    let message = format!(
        "No job {id} for test id {}: a replayed create starts one",
        req.test_id
    );
    draft.miss = Some(message.clone());
    draft.keep(req, raw(surface, &bytes));
    Decided::Answer(respond(
        &Failure::client(404, "not_found", message),
        Some(surface),
        parts.uri.path(),
    ))
}

/// Answer with a raw exchange fixture: its status, headers and bytes; a stream's
/// frames paced as they were recorded (divided by the replay speed).
fn replay_raw(state: &AppState, fx: &Fixture, draft: &mut Draft) -> Response<Body> {
    draft.source = Source::Fixture;
    draft.fixture = Some(fx.origin.clone());
    let crate::cassette::model::Reply::Raw(raw) = &fx.reply else {
        // A raw key is only ever loaded with a raw reply (`cassette::parse`).
        return respond(
            &Failure::internal("a raw fixture without a raw reply".to_string()),
            None,
            "",
        );
    };
    tracing::debug!(fixture = %fx.origin, "answered from a raw exchange fixture");
    let body = if raw.stream {
        let frames: Vec<crate::providers::common::Frame> = raw
            .frames
            .iter()
            .map(|f| crate::providers::common::Frame {
                bytes: f.bytes.clone(),
                paced: true,
            })
            .collect();
        let first = raw.frames.first().map_or(0.0, |f| f.at_ms);
        let gaps = raw
            .frames
            .windows(2)
            .map(|w| (w[1].at_ms - w[0].at_ms).max(0.0))
            .collect();
        let pacing = Pacing {
            recorded: Some(crate::cassette::model::RecordedTimings {
                ttft_ms: first,
                inter_chunk_delays_ms: gaps,
                total_duration_ms: raw.frames.last().map_or(0.0, |f| f.at_ms),
            }),
            replay_speed: fx.options.replay_speed.unwrap_or(state.config.replay_speed),
            ..Pacing::default()
        };
        let mut p = crate::respond::pacing::PacedBody::new(frames, pacing);
        p.stop_on(state.shutdown.wait());
        Body::Paced(Box::new(p))
    } else {
        Body::full(raw.body())
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(raw.status).unwrap_or(StatusCode::OK);
    for (k, v) in &raw.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().append(k, v);
        }
    }
    resp
}

/// The raw body for the journal when the body alone parses again (not a multipart
/// upload, whose boundary is in a header the journal does not re-read).
fn raw<'b>(surface: &'b Surface, bytes: &'b Bytes) -> Option<(&'b Surface, &'b Bytes)> {
    surface.body_alone_parses().then_some((surface, bytes))
}

/// Answer from the upstream through the recorder (record or proxy-only mode).
async fn proxy(
    rec: Arc<crate::record::Recorder>,
    surface: &Surface,
    parts: &http::request::Parts,
    bytes: Bytes,
    req: ChatRequest,
    fault: Option<Decision>,
    draft: &mut Draft,
) -> Response<Body> {
    draft.source = Source::Proxy;
    // Drop and disconnect stop the upstream call; malformed lets it (and the recording)
    // happen, then breaks the reply.
    let resp = match fault.map(|d| d.action) {
        Some(a @ (Action::Drop | Action::Disconnect)) => {
            draft.keep(req, raw(surface, &bytes));
            return chaos_whole(surface, parts.uri.path(), a);
        }
        Some(Action::Malformed) => {
            let resp = rec.forward(surface, parts, bytes, req.clone()).await;
            malformed_after_proxy(resp, draft).await
        }
        None => rec.forward(surface, parts, bytes, req.clone()).await,
    };
    draft.keep(req, None);
    resp
}

/// Why a request body could not be read.
enum BodyError {
    /// Over the size limit.
    TooLarge,
    /// The connection failed while the body was read.
    Read(Box<dyn std::error::Error + Send + Sync>),
}

/// Read a request body of at most `max` bytes; trailers are ignored. A body that
/// arrives as one frame (a JSON request usually does) is that frame. Written out rather
/// than `Limited` + `collect` because those queue every frame in a list allocated per
/// request, for the one frame nearly every request has.
async fn read_body<B>(body: B, max: usize) -> Result<Bytes, BodyError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut joined = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.into()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let len = first.as_ref().map_or(0, Bytes::len) + joined.len() + data.len();
        if len > max {
            return Err(BodyError::TooLarge);
        }
        if data.is_empty() {
            continue;
        }
        match first.take() {
            None if joined.is_empty() => first = Some(data),
            Some(f) => {
                joined.reserve(len);
                joined.extend_from_slice(&f);
                joined.extend_from_slice(&data);
            }
            None => joined.extend_from_slice(&data),
        }
    }
    Ok(first.unwrap_or_else(|| joined.freeze()))
}

/// Answer from a matched fixture: render, apply any chaos, pace.
fn replay(
    state: &AppState,
    surface: &Surface,
    fx: &Arc<Fixture>,
    req: &ChatRequest,
    fault: Option<Decision>,
    draft: &mut Draft,
) -> Response<Body> {
    let mut ctx = RenderContext::new(fx, req, state.config.chunk_size);
    let mut pacing = Pacing::of_fixture(
        &fx.options,
        state.config.latency_ms,
        state.config.replay_speed,
        ctx.seed,
    );
    // Nothing between the frames: they may come as one (no copy into one body later).
    ctx.whole = fault.is_none() && pacing.is_instant();
    let mut plan = surface.render(fx, req, &ctx);
    if plan.status == 200 && surface.job_step(req) == Some(JobStep::Start) {
        if let Some(id) = surface.job_id(fx, req, &ctx) {
            tracing::debug!(provider = surface.provider(), job = %id, "job started");
            state.jobs.start(&req.test_id, id, fx.clone(), req.clone());
        }
    }
    let action = fault.map(|d| d.action);
    match (action, &mut plan.body) {
        (None, _) => {}
        // A stream long enough to be cut part way is cut part way; anything else is
        // answered as a whole reply would be.
        (Some(Action::Malformed), PlanBody::Stream(frames)) => {
            chaos::corrupt_stream(frames, plan.content_type)
        }
        (Some(Action::Disconnect), PlanBody::Stream(frames)) if frames.len() >= 2 => {
            let at = chaos::disconnect_point(frames.len());
            pacing.truncate_after_chunks =
                Some(pacing.truncate_after_chunks.map_or(at, |n| n.min(at)));
        }
        (Some(a), _) => return chaos_whole(surface, "", a),
    }
    let chaos_cut = action == Some(Action::Disconnect);
    let mut resp = plan_response(plan, Some(pacing));
    // A provider that sends its own `request-id` (Anthropic) derives it as below, so
    // both headers agree: share its value rather than hashing again.
    let request_id = match resp.headers().get(REQUEST_ID) {
        Some(v) => v.clone(),
        None => header_value(ctx.id("req_", "request-id", 24).into()),
    };
    resp.headers_mut().insert(X_REQUEST_ID, request_id);
    if let Body::Paced(p) = resp.body_mut() {
        let flag = draft.interruption();
        p.set_on_cut(move |reason| {
            let _ = flag.set(if chaos_cut { "chaos" } else { reason });
        });
        p.stop_on(state.shutdown.wait());
    }
    resp
}

/// A fault that replaces the whole reply.
fn chaos_whole(surface: &Surface, path: &str, action: Action) -> Response<Body> {
    match action {
        Action::Drop => {
            let e = chaos::drop_reply();
            respond(&Failure::fixture(&e), Some(surface), path)
        }
        Action::Malformed => plan_response(chaos::malformed_plan(), None),
        Action::Disconnect => chaos::disconnect_response(),
    }
}

/// A malformed fault on the proxy path: the upstream call and the recording go ahead
/// (the body is read to its end, which completes the capture), then the client gets a
/// broken body. A streamed upstream reply is relayed untouched instead: rewriting it
/// would mean buffering a stream the client is waiting on.
async fn malformed_after_proxy(resp: Response<Body>, draft: &mut Draft) -> Response<Body> {
    let streamed = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.contains("event-stream") || ct.contains("ndjson") || ct.contains("eventstream")
        });
    if streamed {
        tracing::info!("chaos malformed bypassed: the upstream reply is a stream");
        draft.chaos = None;
        return resp;
    }
    if let Err(e) = resp.into_body().collect().await {
        tracing::debug!(error = %e, "upstream body failed under chaos malformed");
    }
    plan_response(chaos::malformed_plan(), None)
}

/// Count the request and journal it.
#[allow(clippy::too_many_arguments)]
fn account(
    state: &AppState,
    surface: &Surface,
    parts: &http::request::Parts,
    known: &KnownHeaders<'_>,
    arrived: SystemTime,
    started: Instant,
    resp: &mut Response<Body>,
    mut draft: Draft,
) {
    let took = started.elapsed();
    // A connection destroyed before its head has no status; the reference journals it
    // as 0. (A stream cut part way keeps its 200 and is marked interrupted when cut.)
    let disconnected = draft.chaos.is_some_and(|d| d.action == Action::Disconnect)
        && !matches!(resp.body(), Body::Paced(_));
    let status = if disconnected {
        let _ = draft.interruption().set("chaos");
        0
    } else {
        resp.status().as_u16()
    };
    if let Some(m) = &state.metrics {
        m.request(surface, status, took);
        match draft.source {
            Source::Fixture | Source::Proxy if draft.fixture.is_some() => m.matched(),
            Source::Fixture | Source::Proxy => m.missed(),
            Source::Injected | Source::Internal | Source::Service => {}
        }
        if let Some(d) = draft.chaos {
            m.chaos(d.action, draft.source == Source::Proxy);
        }
    }
    // The caller's own X-Request-Id is echoed; otherwise a reply without one gets the
    // journal id (a replayed reply keeps its provider-shaped `req_…`).
    let echoed = known
        .request_id
        .is_some_and(|v| v.as_bytes() == draft.id.as_bytes());
    if echoed || !resp.headers().contains_key(X_REQUEST_ID) {
        if let Ok(v) = HeaderValue::from_str(&draft.id) {
            resp.headers_mut().insert(X_REQUEST_ID, v);
        }
    }
    state.journal.push(Entry::new(
        arrived,
        &parts.method,
        &parts.uri,
        &parts.headers,
        status,
        took,
        draft,
    ));
}

/// Fill in the request's scope from headers and query.
fn scope(req: &mut ChatRequest, rp: &RequestParts, known: &KnownHeaders) {
    let header = |v: Option<&HeaderValue>| v.and_then(|v| scope_value(v.as_bytes()));
    req.test_id = match header(known.test_id)
        .or_else(|| rp.query_param("testId").filter(|s| !s.is_empty()))
    {
        Some(t) => Cow::Owned(t),
        None => Cow::Borrowed(DEFAULT_TEST_ID),
    };
    req.context = header(known.context);
}

/// `X-AIMock-Strict`: true/1 or false/0 (trimmed, any case); anything else: no override.
pub fn strict_override(value: Option<&HeaderValue>) -> Option<bool> {
    let v = value?.to_str().ok()?.trim().to_ascii_lowercase();
    match v.as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn miss(
    state: &AppState,
    surface: &Surface,
    path: &str,
    req: &ChatRequest,
    set: &crate::cassette::FixtureSet,
    mode: MatchMode,
    strict: bool,
    skipped: usize,
    draft: &mut Draft,
) -> Response<Body> {
    if !strict && surface.is_embedding() {
        if let Some(plan) = surface.fallback_embedding(req, &RenderContext::for_request(req)) {
            tracing::debug!(
                provider = surface.provider(),
                "no embedding fixture; deterministic vector"
            );
            draft.miss = Some("No fixture matched; answered with a deterministic embedding".into());
            return plan_response(plan, None);
        }
    }
    if !strict {
        if let Some(plan) = surface.default_answer(req, &RenderContext::for_request(req)) {
            tracing::debug!(
                provider = surface.provider(),
                "no fixture; the surface's default answer"
            );
            draft.miss = Some("No fixture matched; answered with the default reply".into());
            return plan_response(plan, None);
        }
    }
    let message = miss_message(state, surface.provider(), req, set, mode, strict, skipped);
    let failure = Failure::miss(strict, message);
    tracing::debug!(test_id = %req.test_id, strict, "no fixture matched");
    let resp = respond(&failure, Some(surface), path);
    draft.miss = Some(failure.message);
    resp
}

/// What a miss says: strict or not, what was asked, the closest fixtures. Shared with
/// the realtime WebSocket turns (`server::realtime`).
pub(crate) fn miss_message(
    state: &AppState,
    provider: &str,
    req: &ChatRequest,
    set: &crate::cassette::FixtureSet,
    mode: MatchMode,
    strict: bool,
    skipped: usize,
) -> String {
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
    message.push_str(&format!(" for {provider} request ({})", req.describe()));
    if !near.is_empty() {
        let closest: Vec<String> = near.iter().map(|n| n.summary()).collect();
        message.push_str(&format!(". Closest: {}", closest.join("; ")));
    } else if set.is_empty() {
        message.push_str(". No fixtures are loaded");
    }
    message
}

fn too_large(surface: &Surface, parts: &http::request::Parts, max: usize) -> Response<Body> {
    respond(
        &Failure::client(
            413,
            "request_too_large",
            format!("Request body is larger than the {max}-byte limit"),
        ),
        Some(surface),
        parts.uri.path(),
    )
}

/// `GET /health`: the fixture count, and each mounted service's report when any is
/// mounted (the body is unchanged when none is).
fn health(state: &AppState) -> Response<Body> {
    let mut v = json!({"status": "ok", "fixtures": state.store.snapshot().len()});
    if !state.mounts.services.is_empty() {
        v["services"] = Value::Object(state.mounts.services.health());
    }
    json_response(200, &v)
}

/// A request under a mounted service's prefix: read its body (bounded as any other),
/// let the service answer, and journal it with the service's name.
async fn serve_service<B>(
    state: &AppState,
    svc: Arc<dyn Service>,
    req: Request<B>,
    started: Instant,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let arrived = SystemTime::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let known = KnownHeaders::scan(&parts.headers);
    let mut draft = Draft::new(state.journal.request_id(known.request_id));
    draft.service = Some(Arc::from(svc.name()));
    draft.source = Source::Service;
    // The test id a service request was sent under, for the journal's `testId` (and its
    // filter), read as a provider request's is.
    draft.test_id = known
        .test_id
        .and_then(|v| scope_value(v.as_bytes()))
        .or_else(|| {
            RequestParts {
                path: &path,
                query: parts.uri.query(),
                headers: &parts.headers,
            }
            .query_param("testId")
            .filter(|s| !s.is_empty())
        })
        .map(Cow::Owned);
    let resp = match read_body(body, state.config.max_body_bytes).await {
        Ok(bytes) => {
            svc.handle(ServiceRequest {
                method: parts.method.clone(),
                path,
                query: parts.uri.query().map(str::to_string),
                headers: parts.headers.clone(),
                body: bytes,
            })
            .await
        }
        Err(BodyError::TooLarge) => respond(
            &Failure::client(413, "request_too_large", "Request body is too large"),
            None,
            &path,
        ),
        Err(BodyError::Read(e)) => respond(
            &Failure::client(
                400,
                "unreadable_body",
                format!("Could not read request body: {e}"),
            ),
            None,
            &path,
        ),
    };
    if let Some(m) = &state.metrics {
        m.service_request(svc.name(), resp.status().as_u16(), started.elapsed());
    }
    state.journal.push(Entry::new(
        arrived,
        &parts.method,
        &parts.uri,
        &parts.headers,
        resp.status().as_u16(),
        started.elapsed(),
        draft,
    ));
    resp
}

/// `GET /metrics`: the exposition when `--metrics` is on, else 404 (as the reference).
fn metrics(state: &AppState) -> Response<Body> {
    let Some(m) = &state.metrics else {
        let off = Failure::route(true, "Metrics are off: start aimock with --metrics");
        return respond(&off, None, "/metrics");
    };
    let mut r = Response::new(Body::full(m.render(state.store.snapshot().len())));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    r
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
        HeaderValue::from_static("X-Total-Count, X-Request-Id"),
    );
}

//! Tavily web search: `POST /search` as `tavily-python`
//! (`TavilyClient(api_key=..., api_base_url="http://127.0.0.1:P")`) sends it, answered
//! from a fixture with `match.endpoint: "search"` (the query is the user message) or,
//! with none, an empty result list (503 under strict).
//!
//! Reply: `{"query","follow_up_questions","answer","images","results","response_time",
//! "request_id"}`; `results` are the fixture's (`{title,url,content,score?,...}` as
//! written) cut to `max_results` when it is positive. Errors are Tavily's
//! `{"detail": {"error": "…"}}`, from which the client raises `BadRequestError`
//! (400), `InvalidAPIKeyError` (401), `UsageLimitExceededError` (429).
//!
//! Not here: `/extract`, `/crawl`, `/map`, `/research` (404).

use serde_json::{json, Map, Value};

use crate::cassette::model::MediaKind;
use crate::cassette::Fixture;
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::service::{texts, uuid};
use crate::providers::common::stream_end::{Signal, StreamFrame};
use crate::providers::common::{
    answer, json_body, ErrorKind, ParseError, RenderContext, RenderPlan, RequestParts,
};
use crate::request::{ChatRequest, Endpoint, Message, Role};

/// A Tavily operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `POST /search`.
    Search,
}

/// Parse a search: `query` (a string, or a list of strings joined with spaces) is the
/// user message; `max_results`, `include_answer`, `include_images` shape the reply.
pub fn parse_request(
    _op: &Op,
    _parts: &RequestParts,
    body: &[u8],
) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let query = o.get("query").ok_or_else(|| {
        ParseError::bad("missing_query", "Invalid parameter: 'query' is required")
    })?;
    let text = texts(query).map(|t| t.join(" ")).ok_or_else(|| {
        ParseError::bad(
            "invalid_query",
            "Invalid parameter: 'query' must be a string or an array of strings",
        )
    })?;
    let mut req = ChatRequest::new(Endpoint::Search, body);
    req.messages.push(Message::text(Role::User, text));
    let echo = &mut req.hints.echo;
    echo.insert("query".into(), query.clone());
    if let Some(n) = o.get("max_results").and_then(Value::as_u64) {
        echo.insert("max_results".into(), n.into());
    }
    Ok(req)
}

/// Render a search fixture.
pub fn render(op: &Op, fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    match answer::media(fx, MediaKind::Service, "a search request") {
        Ok(v) => RenderPlan::json(200, &reply(v, req, ctx)),
        Err(m) => error(op, 500, &m, &ErrorKind::Internal),
    }
}

fn reply(v: &Value, req: &ChatRequest, ctx: &RenderContext) -> Value {
    let mut results = v
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(n) = req.hints.echo.get("max_results").and_then(Value::as_u64) {
        if n > 0 {
            results.truncate(n as usize);
        }
    }
    let pick =
        |k: &str, wire: &str, default: Value| v.get(k).or(v.get(wire)).cloned().unwrap_or(default);
    json!({
        "query": req.hints.echo.get("query").cloned().unwrap_or(Value::Null),
        "follow_up_questions": pick("followUpQuestions", "follow_up_questions", Value::Null),
        "answer": pick("answer", "answer", Value::Null),
        "images": pick("images", "images", json!([])),
        "results": results,
        "response_time": 0.0,
        "request_id": uuid(ctx, "request_id"),
    })
}

/// The reply to a search no fixture matched: no results.
pub fn default_answer(_op: &Op, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    RenderPlan::json(200, &reply(&json!({}), req, ctx))
}

/// Tavily's `{"detail": {"error": "…"}}`.
pub fn error(_op: &Op, status: u16, message: &str, _kind: &ErrorKind) -> RenderPlan {
    RenderPlan::json(status, &json!({"detail": {"error": message}}))
}

/// Tavily's 429 carries nothing besides `Retry-After`.
pub fn rate_limit_headers(_op: &Op) -> &'static [(&'static str, &'static str)] {
    &[]
}

/// A recorded search reply: its results, answer, images and follow-up questions.
pub fn collapse(_op: &Op, _content_type: &str, body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) else {
        return c;
    };
    let mut m = Map::new();
    m.insert(
        "results".into(),
        o.get("results").cloned().unwrap_or_else(|| json!([])),
    );
    for (wire, key) in [
        ("answer", "answer"),
        ("images", "images"),
        ("follow_up_questions", "followUpQuestions"),
    ] {
        if let Some(v) = o.get(wire).filter(|v| !v.is_null()) {
            m.insert(key.into(), v.clone());
        }
    }
    c.media = Some(Value::Object(m));
    c
}

/// Search replies are never streamed.
pub fn stream_end(_op: &Op, _frame: &StreamFrame) -> Signal {
    Signal::None
}

/// Not an embeddings surface.
pub fn fallback_embedding(
    _op: &Op,
    _req: &ChatRequest,
    _ctx: &RenderContext,
) -> Option<RenderPlan> {
    None
}

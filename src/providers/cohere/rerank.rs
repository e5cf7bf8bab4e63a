//! Cohere v2 rerank: `POST /v2/rerank` as `cohere.ClientV2(...).rerank(model, query,
//! documents, top_n)` sends it. The query is the user message a fixture
//! (`match.endpoint: "rerank"`) matches; its `results` (`[{index, relevance_score}]`)
//! are sent as written, cut to `top_n`. With no fixture, every document is scored by
//! a stable word-overlap similarity to the query (`common::service::similarity`) and
//! ranked, highest first, equal scores by index.
//!
//! Reply: `{"id","results":[{index,relevance_score,document?}],"meta":{"api_version":
//! {"version":"2"},"billed_units":{"search_units":1}}}`; `document` (`{"text"}`) only
//! with `return_documents: true`.

use serde_json::{json, Value};

use crate::cassette::model::MediaKind;
use crate::cassette::Fixture;
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::service::{similarity, texts, uuid};
use crate::providers::common::{answer, json_body, ParseError, RenderContext, RenderPlan};
use crate::request::{ChatRequest, Endpoint, Message, Role};

/// Parse a rerank request.
pub(super) fn parse(body: &[u8]) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let query = match o.get("query") {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(ParseError::bad("invalid_request", "query must be a string")),
        None => return Err(ParseError::bad("invalid_request", "query is required")),
    };
    let docs = match o.get("documents") {
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|d| match d {
                Value::String(s) => Some(s.clone()),
                // Older clients send `{"text": ...}` objects.
                Value::Object(m) => m.get("text").and_then(Value::as_str).map(String::from),
                _ => None,
            })
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| {
                ParseError::bad("invalid_request", "documents must be a list of strings")
            })?,
        Some(Value::Array(_)) => {
            return Err(ParseError::bad(
                "invalid_request",
                "documents must not be empty",
            ))
        }
        _ => return Err(ParseError::bad("invalid_request", "documents is required")),
    };
    let top_n = match o.get("top_n") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
            ParseError::bad("invalid_request", "top_n must be a positive integer")
        })?),
    };
    let mut req = ChatRequest::new(Endpoint::Rerank, body);
    req.model = o.get("model").and_then(Value::as_str).map(String::from);
    req.messages.push(Message::text(Role::User, query));
    let echo = &mut req.hints.echo;
    echo.insert("documents".into(), json!(docs));
    if let Some(n) = top_n {
        echo.insert("top_n".into(), n.into());
    }
    if o.get("return_documents").and_then(Value::as_bool) == Some(true) {
        echo.insert("return_documents".into(), true.into());
    }
    Ok(req)
}

fn documents(req: &ChatRequest) -> Vec<String> {
    req.hints
        .echo
        .get("documents")
        .and_then(texts)
        .unwrap_or_default()
}

fn envelope(mut results: Vec<Value>, req: &ChatRequest, ctx: &RenderContext) -> Value {
    if let Some(n) = req.hints.echo.get("top_n").and_then(Value::as_u64) {
        results.truncate(n as usize);
    }
    if req.hints.echo.contains_key("return_documents") {
        let docs = documents(req);
        for r in &mut results {
            let doc = r
                .get("index")
                .and_then(Value::as_u64)
                .and_then(|i| docs.get(i as usize));
            if let (Some(d), Some(o)) = (doc, r.as_object_mut()) {
                o.entry("document").or_insert_with(|| json!({"text": d}));
            }
        }
    }
    json!({
        "id": uuid(ctx, "rerank"),
        "results": results,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
    })
}

/// Render a rerank fixture.
pub(super) fn render(
    fx: &Fixture,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> Result<RenderPlan, String> {
    let v = answer::media(fx, MediaKind::Service, "a rerank request")?;
    let results = v
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| format!("Fixture rerank reply holds no results list ({})", fx.origin))?;
    Ok(RenderPlan::json(200, &envelope(results, req, ctx)))
}

/// Rank by the stable similarity, when no fixture matched.
pub(super) fn default_answer(req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let query = req.last_user_text().unwrap_or("");
    let mut scored: Vec<(usize, f64)> = documents(req)
        .iter()
        .enumerate()
        .map(|(i, d)| (i, similarity(query, d)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let results = scored
        .into_iter()
        .map(|(index, score)| json!({"index": index, "relevance_score": (score * 1e6).round() / 1e6}))
        .collect();
    RenderPlan::json(200, &envelope(results, req, ctx))
}

/// A recorded rerank reply: its `results`, without the documents (the request holds
/// them).
pub(super) fn collapse(body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(a) = v.get("results").and_then(Value::as_array) {
            let results: Vec<Value> = a
                .iter()
                .map(|r| json!({"index": r.get("index"), "relevance_score": r.get("relevance_score")}))
                .collect();
            c.media = Some(json!({"results": results}));
        }
    }
    c
}

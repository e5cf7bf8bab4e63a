//! OpenAI moderations: `POST /v1/moderations` as `client.moderations.create(model,
//! input)` sends it. The inputs, joined with spaces, are the user message a fixture
//! (`match.endpoint: "moderation"`) matches.
//!
//! A fixture's `results` are sent as written; a single result (`{"flagged": true,
//! "categories": {"violence": true}, "categoryScores"?: {...}}`, the reference's
//! shape) is completed with every category the API returns and repeated once per
//! input. With no fixture, every input is not flagged, every category `false`, every
//! score 0. Reply: `{"id":"modr-…","model","results":[{flagged,categories,
//! category_scores,category_applied_input_types}]}`.

use serde_json::{json, Map, Value};

use crate::cassette::model::MediaKind;
use crate::cassette::Fixture;
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::service::texts;
use crate::providers::common::{answer, json_body, ParseError, RenderContext, RenderPlan};
use crate::request::{ChatRequest, Endpoint, Message, Role};

/// The model a request that names none is answered as.
const DEFAULT_MODEL: &str = "omni-moderation-latest";

/// Every category of the current moderation models, in the API's order, with the input
/// types each applies to (images count for the self-harm, sexual and violence ones).
const CATEGORIES: [(&str, bool); 13] = [
    ("harassment", false),
    ("harassment/threatening", false),
    ("hate", false),
    ("hate/threatening", false),
    ("illicit", false),
    ("illicit/violent", false),
    ("self-harm", true),
    ("self-harm/instructions", true),
    ("self-harm/intent", true),
    ("sexual", true),
    ("sexual/minors", false),
    ("violence", true),
    ("violence/graphic", true),
];

/// Parse a moderation request.
pub fn parse_request(
    body: &[u8],
    azure_deployment: Option<&str>,
) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let input = o.get("input").ok_or_else(|| {
        ParseError::bad(
            "missing_required_parameter",
            "Missing required parameter: 'input'.",
        )
    })?;
    let inputs = texts(input).ok_or_else(|| {
        ParseError::bad(
            "invalid_value",
            "Invalid parameter: 'input' must be a string, an array of strings, or an array of multimodal parts",
        )
    })?;
    let has_image = input.as_array().is_some_and(|a| {
        a.iter()
            .any(|p| p.get("type").and_then(Value::as_str) == Some("image_url"))
    });
    let mut req = ChatRequest::new(Endpoint::Moderation, body);
    req.model = Some(
        o.get("model")
            .and_then(Value::as_str)
            .map(String::from)
            .or_else(|| azure_deployment.map(String::from))
            .unwrap_or_else(|| DEFAULT_MODEL.into()),
    );
    req.messages
        .push(Message::text(Role::User, inputs.join(" ")));
    // Multimodal parts are one input together; a list of strings is one input each.
    let count = if input.is_string()
        || has_image
        || input
            .as_array()
            .is_some_and(|a| a.iter().any(Value::is_object))
    {
        1
    } else {
        inputs.len().max(1)
    };
    req.hints.echo.insert("inputs".into(), count.into());
    if has_image {
        req.hints.echo.insert("image".into(), true.into());
    }
    Ok(req)
}

/// One complete result from a (possibly partial) fixture result.
fn complete(partial: &Map<String, Value>, image: bool) -> Value {
    let cats = partial.get("categories").and_then(Value::as_object);
    let scores = partial
        .get("categoryScores")
        .or_else(|| partial.get("category_scores"))
        .and_then(Value::as_object);
    let mut categories = Map::new();
    let mut category_scores = Map::new();
    let mut applied = Map::new();
    for (name, images) in CATEGORIES {
        let on = cats
            .and_then(|c| c.get(name))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        categories.insert(name.into(), on.into());
        let score = scores
            .and_then(|s| s.get(name))
            .and_then(Value::as_f64)
            .unwrap_or(if on { 0.9 } else { 0.0 });
        category_scores.insert(name.into(), json!(score));
        let types = if image && images {
            json!(["text", "image"])
        } else {
            json!(["text"])
        };
        applied.insert(name.into(), types);
    }
    let flagged = partial
        .get("flagged")
        .and_then(Value::as_bool)
        .unwrap_or_else(|| categories.values().any(|v| v == &Value::Bool(true)));
    json!({
        "flagged": flagged,
        "categories": categories,
        "category_scores": category_scores,
        "category_applied_input_types": applied,
    })
}

fn envelope(results: Vec<Value>, req: &ChatRequest, ctx: &RenderContext) -> Value {
    json!({
        "id": ctx.id("modr-", "id", 29),
        "model": req.model.as_deref().unwrap_or(DEFAULT_MODEL),
        "results": results,
    })
}

fn inputs(req: &ChatRequest) -> (usize, bool) {
    (
        req.hints
            .echo
            .get("inputs")
            .and_then(Value::as_u64)
            .unwrap_or(1) as usize,
        req.hints.echo.contains_key("image"),
    )
}

/// Render a moderation fixture.
pub fn render(fx: &Fixture, req: &ChatRequest, ctx: &RenderContext) -> Result<RenderPlan, String> {
    let v = answer::media(fx, MediaKind::Service, "a moderation request")?;
    let (n, image) = inputs(req);
    let results = match v.get("results").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .map(|r| r.as_object().map_or(r.clone(), |o| complete(o, image)))
            .collect(),
        None => {
            let one = v
                .as_object()
                .map(|o| complete(o, image))
                .unwrap_or(Value::Null);
            vec![one; n]
        }
    };
    Ok(RenderPlan::json(200, &envelope(results, req, ctx)))
}

/// Not flagged, one result per input, when no fixture matched.
pub fn default_answer(req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    let (n, image) = inputs(req);
    let results = vec![complete(&Map::new(), image); n];
    RenderPlan::json(200, &envelope(results, req, ctx))
}

/// A recorded moderation reply: its `results`.
pub fn collapse(body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(r) = v.get("results").filter(|r| r.is_array()) {
            c.media = Some(json!({"results": r}));
        }
    }
    c
}

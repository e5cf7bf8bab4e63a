//! Imagen on the Gemini API and Vertex AI: `models/{m}:predict` with
//! `{"instances":[{"prompt"}],"parameters":{"sampleCount",...}}`, answered
//! `{"predictions":[{"bytesBase64Encoded","mimeType"}]}`, and a recorded reply read back.
//!
//! The prompt is the user message, the model comes from the path. Each fixture image
//! answers one prediction (repeated to `sampleCount`); an image holding only a `url`
//! answers an empty `bytesBase64Encoded`, as the reference does. `mimeType` is the
//! fixture's (a recording keeps Google's), else `image/png`.

use serde_json::{json, Map, Value};

use crate::providers::common::collapse::Collapsed;
use crate::providers::common::media::{image_items, take_n};
use crate::providers::common::{json_body, ParseError, RenderPlan};
use crate::request::{ChatRequest, Endpoint, MediaHints, Message, Role};

/// The first instance's prompt, or the 400 Google sends without one.
pub(super) fn prompt_of(o: &Map<String, Value>) -> Result<String, ParseError> {
    o.get("instances")
        .and_then(|i| i.get(0))
        .and_then(|i| i.get("prompt"))
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(String::from)
        .ok_or_else(|| {
            ParseError::bad(
                "invalid_argument",
                "* PredictRequest.instances[0].prompt: required field is missing",
            )
        })
}

/// Parse a `:predict` request.
pub(super) fn parse_request(body: &[u8], model: &str) -> Result<ChatRequest, ParseError> {
    let o = json_body(body)?;
    let prompt = prompt_of(&o)?;
    let mut req = ChatRequest::new(Endpoint::Image, body);
    req.model = Some(model.to_string());
    req.messages.push(Message::text(Role::User, prompt.clone()));
    let n = o
        .get("parameters")
        .and_then(|p| p.get("sampleCount"))
        .and_then(Value::as_u64)
        .map(|n| n.clamp(1, 8) as u32);
    req.hints.media = Some(Box::new(MediaHints {
        n,
        prompt: Some(prompt),
        ..MediaHints::default()
    }));
    Ok(req)
}

/// Render an `image`/`images` fixture as predictions.
pub(super) fn render(v: &Value, req: &ChatRequest) -> Result<RenderPlan, String> {
    let n = req.hints.media.as_deref().and_then(|h| h.n);
    let items = take_n(image_items(v), n);
    if items.is_empty() {
        return Err("Fixture image reply holds no image".into());
    }
    let predictions: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({
                "bytesBase64Encoded": i.b64.clone().unwrap_or_default(),
                "mimeType": i.mime_type.clone().unwrap_or_else(|| "image/png".into()),
            })
        })
        .collect();
    Ok(super::pretty_plan(
        200,
        &json!({ "predictions": predictions }),
    ))
}

/// Read a recorded `:predict` reply: every prediction's bytes and MIME type.
pub(super) fn collapse(body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let items: Vec<Value> = v
        .get("predictions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let b = p.get("bytesBase64Encoded")?.as_str()?;
                    let mut o = Map::new();
                    o.insert("b64Json".into(), b.into());
                    if let Some(m) = p.get("mimeType").and_then(Value::as_str) {
                        o.insert("mimeType".into(), m.into());
                    }
                    Some(Value::Object(o))
                })
                .collect()
        })
        .unwrap_or_default();
    match items.len() {
        0 => c.warnings.push(
            "upstream :predict reply holds no predictions with bytes; not recorded as images"
                .into(),
        ),
        1 => c.media = Some(json!({"image": items[0]})),
        _ => c.media = Some(json!({ "images": items })),
    }
    c
}

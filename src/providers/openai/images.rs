//! OpenAI (and Azure) images: `POST /v1/images/generations` (JSON) and
//! `/v1/images/edits` (multipart with `image` / `image[]` and `mask` files, or JSON),
//! the `{"created","data":[...]}` reply, and a recorded reply read back.
//!
//! Matching sees the prompt as the user message, the model (`gpt-image-1` when the
//! request names none, as the reference assumes) and, for an edit, the SHA-256 of the
//! first image as `fileDigest`.
//!
//! Not here: `/v1/images/variations` (the router answers it 404, as the reference does:
//! OpenAI removed it), streamed partial images (`stream: true` is answered whole).

use serde_json::{Map, Value};

use crate::codec::multipart::Form;
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::media::{image_items, take_n, ImageItem};
use crate::providers::common::upload::{self, invalid_value, missing};
use crate::providers::common::{json_body, ParseError, RenderContext, RenderPlan, RequestParts};
use crate::request::{ChatRequest, Endpoint, MediaHints, Message, Role};

/// The model a request that names none is matched as.
const DEFAULT_MODEL: &str = "gpt-image-1";

/// Fixture keys echoed at the top of a reply, with their wire names (gpt-image replies
/// carry them; a recording keeps them).
const ECHOED: [(&str, &str); 4] = [
    ("background", "background"),
    ("outputFormat", "output_format"),
    ("quality", "quality"),
    ("size", "size"),
];

/// Parse a generation (JSON) or an edit (multipart, or JSON).
pub fn parse_request(
    parts: &RequestParts,
    body: &[u8],
    edit: bool,
    azure_deployment: Option<&str>,
) -> Result<ChatRequest, ParseError> {
    let mut req = ChatRequest::new(Endpoint::Image, body);
    let mut hints = MediaHints::default();
    let (prompt, model) = if edit && upload::is_multipart(parts) {
        let form = upload::form(parts, body)?;
        read_form(&form, &mut hints, &mut req)?
    } else {
        let o = json_body(body)?;
        read_json(&o, &mut hints)?
    };
    let Some(prompt) = prompt.filter(|p| !p.is_empty()) else {
        return Err(missing("prompt"));
    };
    if let Some(f) = &hints.format {
        if f != "url" && f != "b64_json" {
            return Err(invalid_value("response_format", f, &["url", "b64_json"]));
        }
    }
    req.model = Some(
        model
            .or_else(|| azure_deployment.map(String::from))
            .unwrap_or_else(|| DEFAULT_MODEL.into()),
    );
    req.messages.push(Message::text(Role::User, prompt.clone()));
    hints.prompt = Some(prompt);
    req.hints.media = Some(Box::new(hints));
    Ok(req)
}

fn read_json(
    o: &Map<String, Value>,
    hints: &mut MediaHints,
) -> Result<(Option<String>, Option<String>), ParseError> {
    let text = |k: &str| o.get(k).and_then(Value::as_str).map(String::from);
    hints.format = text("response_format");
    hints.size = text("size");
    hints.quality = text("quality");
    hints.output_format = text("output_format");
    hints.background = text("background");
    hints.n = match o.get("n") {
        None | Some(Value::Null) => None,
        Some(v) => Some(count(v.as_u64(), &v.to_string())?),
    };
    Ok((text("prompt"), text("model")))
}

fn read_form(
    form: &Form,
    hints: &mut MediaHints,
    req: &mut ChatRequest,
) -> Result<(Option<String>, Option<String>), ParseError> {
    let text = |k: &str| form.text(k).map(String::from);
    hints.format = text("response_format");
    hints.size = text("size");
    hints.quality = text("quality");
    hints.output_format = text("output_format");
    hints.background = text("background");
    hints.n = match form.text("n") {
        None => None,
        Some(n) => Some(count(n.trim().parse().ok(), n)?),
    };
    let image = form
        .parts
        .iter()
        .find(|p| (p.name == "image" || p.name == "image[]") && p.sha256.is_some());
    match image {
        Some(p) => req.file_digest = p.sha256_hex(),
        None => return Err(missing("image")),
    }
    Ok((text("prompt"), text("model")))
}

fn count(n: Option<u64>, shown: &str) -> Result<u32, ParseError> {
    match n {
        Some(n @ 1..=10) => Ok(n as u32),
        _ => Err(ParseError::bad(
            "invalid_value",
            format!("Invalid 'n': {shown}. Expected an integer from 1 to 10."),
        )),
    }
}

/// Render an `image`/`images` fixture as `{"created","data":[...]}`, one entry per
/// fixture image (repeated to the request's `n`), each with the keys it has, narrowed
/// to the one the request's `response_format` asks for when the image has it.
pub fn render(v: &Value, req: &ChatRequest, ctx: &RenderContext) -> Result<RenderPlan, String> {
    let hints = req.hints.media.as_deref().cloned().unwrap_or_default();
    let items = take_n(image_items(v), hints.n);
    if items.is_empty() {
        return Err("Fixture image reply holds no image with a url or b64Json".into());
    }
    let data: Vec<Value> = items
        .iter()
        .map(|i| item_json(i, hints.format.as_deref()))
        .collect();
    let mut out = Map::new();
    let created = v
        .get("created")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| ctx.created());
    out.insert("created".into(), created.into());
    for (key, wire) in ECHOED {
        if wire == "background" {
            if let Some(b) = v.get(key) {
                out.insert(wire.into(), b.clone());
            }
        }
    }
    out.insert("data".into(), Value::Array(data));
    for (key, wire) in ECHOED {
        if wire != "background" {
            if let Some(b) = v.get(key) {
                out.insert(wire.into(), b.clone());
            }
        }
    }
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        out.insert("usage".into(), u.clone());
    }
    Ok(RenderPlan::json(200, &Value::Object(out)))
}

fn item_json(i: &ImageItem, format: Option<&str>) -> Value {
    let (want_url, want_b64) = match format {
        Some("url") if i.url.is_some() => (true, false),
        Some("b64_json") if i.b64.is_some() => (false, true),
        _ => (true, true),
    };
    let mut o = Map::new();
    if want_url {
        if let Some(u) = &i.url {
            o.insert("url".into(), u.clone().into());
        }
    }
    if want_b64 {
        if let Some(b) = &i.b64 {
            o.insert("b64_json".into(), b.clone().into());
        }
    }
    if let Some(r) = &i.revised_prompt {
        o.insert("revised_prompt".into(), r.clone().into());
    }
    Value::Object(o)
}

/// Read a recorded images reply: `data[]` items with `url` / `b64_json`, and what a
/// gpt-image reply echoes beside them.
pub fn collapse(body: &[u8]) -> Collapsed {
    let mut c = Collapsed::default();
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let Some(data) = v.get("data").and_then(Value::as_array) else {
        c.warnings
            .push("upstream images reply has no data[]; not recorded as images".into());
        return c;
    };
    let mut items = Vec::new();
    for (i, d) in data.iter().enumerate() {
        let mut o = Map::new();
        for (wire, key) in [
            ("url", "url"),
            ("b64_json", "b64Json"),
            ("revised_prompt", "revisedPrompt"),
        ] {
            if let Some(s) = d.get(wire).and_then(Value::as_str) {
                o.insert(key.into(), s.into());
            }
        }
        if o.contains_key("url") || o.contains_key("b64Json") {
            items.push(Value::Object(o));
        } else {
            c.warnings.push(format!(
                "upstream image data[{i}] has neither url nor b64_json; dropped"
            ));
        }
    }
    let mut r = Map::new();
    match items.len() {
        0 => {
            c.warnings
                .push("upstream images reply holds no image".into());
            return c;
        }
        1 => {
            r.insert("image".into(), items.remove(0));
        }
        _ => {
            r.insert("images".into(), Value::Array(items));
        }
    }
    if let Some(t) = v.get("created").filter(|t| t.is_i64()) {
        r.insert("created".into(), t.clone());
    }
    for (key, wire) in ECHOED {
        if let Some(x) = v.get(wire) {
            r.insert(key.into(), x.clone());
        }
    }
    if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
        r.insert("usage".into(), u.clone());
    }
    c.media = Some(Value::Object(r));
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts(headers: &http::HeaderMap) -> RequestParts<'_> {
        RequestParts {
            path: "/v1/images/generations",
            query: None,
            headers,
        }
    }

    #[test]
    fn a_generation_needs_a_prompt_and_a_known_response_format() {
        let h = http::HeaderMap::new();
        let e = parse_request(&parts(&h), br#"{"model":"dall-e-3"}"#, false, None).unwrap_err();
        assert_eq!(e.message, "Missing required parameter: 'prompt'.");
        let e = parse_request(
            &parts(&h),
            br#"{"prompt":"x","response_format":"gif"}"#,
            false,
            None,
        )
        .unwrap_err();
        assert!(e.message.contains("response_format"), "{}", e.message);
        let r = parse_request(&parts(&h), br#"{"prompt":"a cat","n":2}"#, false, None).unwrap();
        assert_eq!(r.last_user_text(), Some("a cat"));
        assert_eq!(r.model.as_deref(), Some("gpt-image-1"));
        assert_eq!(r.hints.media.unwrap().n, Some(2));
    }

    #[test]
    fn a_reply_narrows_to_the_asked_format_and_repeats_to_n() {
        let h = http::HeaderMap::new();
        let req = parse_request(
            &parts(&h),
            br#"{"prompt":"p","n":3,"response_format":"b64_json"}"#,
            false,
            None,
        )
        .unwrap();
        let fx = json!({"image": {"url": "https://x/y.png", "b64Json": "AAAA", "revisedPrompt": "rp"}, "size": "1024x1024"});
        let ctx = RenderContext {
            seed: [1; 32],
            chunk_size: 20,
            whole: false,
        };
        let plan = render(&fx, &req, &ctx).unwrap();
        let crate::providers::common::PlanBody::Full(b) = plan.body else {
            panic!()
        };
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["data"].as_array().unwrap().len(), 3);
        assert_eq!(
            v["data"][0],
            json!({"b64_json": "AAAA", "revised_prompt": "rp"})
        );
        assert_eq!(v["size"], "1024x1024");
    }

    #[test]
    fn a_recording_keeps_urls_b64_and_echoes() {
        let c = collapse(br#"{"created":1,"data":[{"b64_json":"QQ=="}],"quality":"low","usage":{"total_tokens":3}}"#);
        assert_eq!(
            c.media.unwrap(),
            json!({"image":{"b64Json":"QQ=="},"created":1,"quality":"low","usage":{"total_tokens":3}})
        );
    }
}

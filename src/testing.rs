//! Helpers shared by the unit tests: fixtures from JSON, the golden captures and
//! collapse round trips. One copy here instead of one per provider's tests.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::cassette::model::parse_entry;
use crate::cassette::Fixture;
use crate::providers::common::collapse::Collapsed;
use crate::providers::Surface;

/// The bytes of a golden capture under `tests/data/golden/`.
pub(crate) fn golden(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Collapse a golden capture as `surface` would record it, and check the resulting
/// fixture loads: returns the collapse and the fixture `response`.
pub(crate) fn collapsed_fixture(
    surface: &Surface,
    content_type: &str,
    name: &str,
) -> (Collapsed, Value) {
    let c = surface.collapse(200, content_type, &golden(name));
    let (response, _) = c.to_response();
    let mut findings = Vec::new();
    let entry = json!({"match": {"userMessage": "x"}, "response": response});
    assert!(
        parse_entry(&entry, &Arc::from("t.json"), 0, &mut findings).is_some(),
        "{name}: {findings:?}"
    );
    (c, response)
}

/// A fixture from one cassette entry (`{"match":...,"response":...}`), as if read from
/// `t.json`; panics when the entry does not load.
pub(crate) fn fixture(entry: Value) -> Fixture {
    let mut findings = Vec::new();
    parse_entry(&entry, &Arc::from("t.json"), 0, &mut findings)
        .unwrap_or_else(|| panic!("test fixture does not load: {findings:?}"))
}

/// [`fixture`], shared and labelled as a run-time addition (`<runtime>`).
pub(crate) fn runtime_fixture(entry: Value) -> Arc<Fixture> {
    let mut findings = Vec::new();
    Arc::new(
        parse_entry(&entry, &Arc::from("<runtime>"), 0, &mut findings)
            .unwrap_or_else(|| panic!("test fixture does not load: {findings:?}")),
    )
}

/// The fixture `response` a collapse gives, checked to load in an entry.
pub(crate) fn loadable_response(c: &Collapsed) -> Value {
    let (response, _) = c.to_response();
    let entry = json!({"match": {"userMessage": "x"}, "response": response});
    let mut findings = Vec::new();
    assert!(
        parse_entry(&entry, &Arc::from("t.json"), 0, &mut findings).is_some(),
        "{findings:?}"
    );
    response
}

/// The bytes of a real-shaped capture under `tests/data/content/`.
pub(crate) fn content_capture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/content/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The surface `POST path` routes to.
pub(crate) fn surface_at(path: &str) -> Surface {
    match crate::server::router::route(&http::Method::POST, path) {
        crate::server::router::Route::Provider(s) => s,
        other => panic!("{path} routes to {other:?}"),
    }
}

/// A recording's way through aimock: `body` (sent with `content_type`) collapsed as
/// the surface at `path` records it, loaded as a fixture, and rendered for
/// `request` through that surface. Returns the fixture `response` and the render.
pub(crate) fn record_and_replay(
    path: &str,
    content_type: &str,
    body: &[u8],
    request: &str,
) -> (Value, crate::providers::common::RenderPlan) {
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let surface = surface_at(path);
    let c = surface.collapse(200, content_type, body);
    let (response, _) = c.to_response();
    let fx = fixture(json!({"match": {}, "response": response}));
    let headers = http::HeaderMap::new();
    let parts = crate::providers::common::RequestParts {
        path,
        query,
        headers: &headers,
    };
    let req = surface
        .parse_request(&parts, request.as_bytes())
        .expect("test request parses");
    let ctx = crate::providers::common::RenderContext::new(&fx, &req, 20);
    (response, surface.render(&fx, &req, &ctx))
}

/// The bytes a render sends: the body, or every frame back to back.
pub(crate) fn plan_bytes(plan: &crate::providers::common::RenderPlan) -> Vec<u8> {
    match &plan.body {
        crate::providers::common::PlanBody::Full(b) => b.to_vec(),
        crate::providers::common::PlanBody::Stream(frames) => {
            frames.iter().flat_map(|f| f.bytes.to_vec()).collect()
        }
    }
}

/// The SSE events of `bytes` as (event name, JSON data), `[DONE]` and non-JSON data
/// skipped.
pub(crate) fn sse_events(bytes: &[u8]) -> Vec<(String, Value)> {
    let (events, _) = crate::providers::common::collapse::decode_prefix(
        crate::codec::sse::SseDecoder::new(),
        bytes,
    );
    events
        .into_iter()
        .filter_map(|e| {
            let v: Value = serde_json::from_str(e.data.trim()).ok()?;
            let name = e
                .event
                .filter(|n| !n.is_empty())
                .or_else(|| v.get("type").and_then(Value::as_str).map(String::from))
                .unwrap_or_default();
            Some((name, v))
        })
        .collect()
}

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

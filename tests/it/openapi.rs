//! The control API's OpenAPI document against the real handlers: every documented
//! operation is called with its example request (and with bad bodies, a blank test id
//! and an oversized body), and each answer's status must be documented and its body
//! valid against the documented schema. Every route the router knows must be
//! documented, and nothing documented may be unrouted, so the two cannot drift.
//!
//! The schema check is a small one for the subset the document uses (`type`,
//! `properties`, `required`, `additionalProperties`, `items`, `enum`, `const`, `oneOf`,
//! `minimum`, `maximum`, `$ref`); rejected alternative: the `jsonschema` crate, whose
//! dependency tree would be the largest part of a test build on two cores.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::support::{request, FixtureDir, Reply, TestServer};
use crate::upstream::FakeUpstream;

fn document() -> Value {
    serde_json::from_str(aimock::server::control::OPENAPI).expect("the document is JSON")
}

/// Why `v` does not satisfy `schema`, if it does not.
fn check(doc: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        assert!(!target.is_null(), "dangling $ref {r}");
        return check(doc, target, v, at);
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            return Err(format!("{at}: {v} is not {c}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            return Err(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type in schema at {at}"),
        };
        let is = |t: &str| match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            "number" => v.is_number(),
            "integer" => v.is_i64() || v.is_u64(),
            other => panic!("unsupported type {other}"),
        };
        if !types.iter().any(|t| is(t)) {
            return Err(format!("{at}: {v} is not {types:?}"));
        }
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if n < min {
                return Err(format!("{at}: {n} < {min}"));
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            if n > max {
                return Err(format!("{at}: {n} > {max}"));
            }
        }
    }
    if let Some(o) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let k = r.as_str().unwrap();
            if !o.contains_key(k) {
                return Err(format!("{at}: missing required {k}"));
            }
        }
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(doc, s, x, &format!("{at}.{k}"))?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return Err(format!("{at}: undocumented property {k}"))
                    }
                    Some(s @ Value::Object(_)) => check(doc, s, x, &format!("{at}.{k}"))?,
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(a)) = (schema.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            check(doc, items, x, &format!("{at}[{i}]"))?;
        }
    }
    if let Some(alts) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = alts.iter().filter(|s| check(doc, s, v, at).is_ok()).count();
        if ok != 1 {
            return Err(format!("{at}: {v} matches {ok} of oneOf"));
        }
    }
    Ok(())
}

/// The documented answers of an operation: status to body schema (`None`: no body).
fn verify(doc: &Value, op: &Value, what: &str, r: &Reply) {
    let status = r.status.to_string();
    let Some(documented) = op["responses"].get(&status) else {
        panic!(
            "{what}: status {status} is not documented (body {:?})",
            r.body
        );
    };
    match documented["content"]["application/json"].get("schema") {
        Some(schema) => {
            let v: Value = serde_json::from_slice(r.bytes())
                .unwrap_or_else(|e| panic!("{what}: body is not JSON: {e}"));
            if let Err(e) = check(doc, schema, &v, "$") {
                panic!("{what}: answer {status} does not fit its schema: {e}\n{v}");
            }
        }
        None => assert!(
            r.bytes().is_empty(),
            "{what}: a body where none is documented"
        ),
    }
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.to_ascii_uppercase(), path.clone(), op.clone()));
        }
    }
    out
}

#[tokio::test]
async fn every_documented_operation_answers_its_example_and_bad_input_as_documented() {
    let doc = document();
    let up = FakeUpstream::start().await;
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {"userMessage": "hello"}, "response": {"content": "Hi"}}]),
    );
    let mut config = aimock::config::Config::for_tests(vec![dir.path().to_path_buf()]);
    config.max_body_bytes = 16 * 1024;
    let s = TestServer::start(config).await;
    let chat = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]});
    let served = s.get("/__aimock/openapi.json").await;
    assert_eq!(served.json(), doc, "the served document is the file");

    let recorded = dir.path().join("recorded-here");
    for (method, path, op) in operations(&doc) {
        let what = format!("{method} {path}");
        let example = &op["requestBody"]["content"]["application/json"]["example"];
        let body = if example.is_null() {
            Vec::new()
        } else {
            let mut e = example.clone();
            // No real upstream and no file outside the test's directory.
            if e.get("fixturePath").is_some() {
                e["fixturePath"] = json!(recorded);
                e["providers"] = json!({"openai": up.url()});
            }
            e.to_string().into_bytes()
        };
        if method == "GET" && (path == "/__aimock/journal" || path == "/v1/_requests") {
            // Something in the journal for its schema to be checked against.
            s.post("/v1/chat/completions", &chat.to_string(), &[]).await;
        }
        let r = request(&method, &s.url(&path), body, &[]).await;
        assert!(
            (200..300).contains(&r.status),
            "{what}: the example gets {} {:?}",
            r.status,
            r.body
        );
        verify(&doc, &op, &what, &r);
        if method == "GET" && (path == "/__aimock/journal" || path == "/v1/_requests") {
            assert!(
                !r.json().as_array().unwrap().is_empty(),
                "{what}: the journal's schema was checked against no entry"
            );
        }

        if !example.is_null() {
            let big = vec![b' '; 20 * 1024];
            for (bad, label) in [
                (b"{".to_vec(), "bad JSON"),
                (b"[1, 2]".to_vec(), "wrong type"),
                (
                    b"{\"fixtures\": 5, \"providers\": 5, \"status\": \"x\", \"dropRate\": \"x\"}"
                        .to_vec(),
                    "wrong field types",
                ),
                (big, "huge body"),
            ] {
                let r = request(&method, &s.url(&path), bad, &[]).await;
                assert!(
                    (400..500).contains(&r.status),
                    "{what} with {label}: {}",
                    r.status
                );
                verify(&doc, &op, &format!("{what} with {label}"), &r);
            }
        }
        let scoped = op["parameters"]
            .as_array()
            .is_some_and(|p| p.iter().any(|x| x["name"] == "X-Test-Id"));
        if scoped {
            let r = request(&method, &s.url(&path), Vec::new(), &[("x-test-id", " ")]).await;
            assert_eq!(r.status, 400, "{what} with a blank X-Test-Id");
            verify(&doc, &op, &format!("{what} with a blank X-Test-Id"), &r);
        }
    }
    // Back to a quiet server: the record example left recording on.
    let r = request("DELETE", &s.url("/__aimock/record"), Vec::new(), &[]).await;
    assert_eq!(r.json(), json!({"recording": false}));
}

#[test]
fn every_control_route_is_documented_and_every_documented_route_is_served() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let mut routed: BTreeSet<(String, String)> = aimock::server::control::ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    // The one control path the router answers itself.
    assert!(matches!(
        aimock::server::router::route(&http::Method::GET, "/__aimock/health"),
        aimock::server::router::Route::Health
    ));
    routed.insert(("GET".into(), "/__aimock/health".into()));
    assert_eq!(
        routed.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "routed but not documented"
    );
    assert_eq!(
        documented.difference(&routed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not routed"
    );
    for (_, op) in doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(_, i)| i.as_object().unwrap().iter())
    {
        assert!(op["operationId"].is_string() && op["summary"].is_string());
    }
    assert_eq!(doc["openapi"], "3.1.0");
}

#[test]
fn the_schema_check_rejects_what_it_should() {
    let doc = document();
    let reply = json!({"$ref": "#/components/schemas/ChaosReply"});
    assert!(check(&doc, &reply, &json!({"chaos": {"dropRate": 0.5}}), "$").is_ok());
    assert!(check(&doc, &reply, &json!({"chaos": {"dropRate": 2}}), "$").is_err());
    assert!(check(&doc, &reply, &json!({"chaos": {"colour": 1}}), "$").is_err());
    assert!(check(&doc, &reply, &json!({}), "$").is_err());
    let rec = json!({"$ref": "#/components/schemas/Recording"});
    assert!(check(&doc, &rec, &json!({"recording": false}), "$").is_ok());
    assert!(check(&doc, &rec, &json!({"recording": true}), "$").is_err());
}

//! The one error path: statuses by source, the caller's provider shape on route misses,
//! `Retry-After` on every provider's 429.

use std::time::Duration;

use serde_json::json;

use crate::support::{FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

fn record_config(dir: &std::path::Path, provider: &str, base: &str) -> aimock::config::Config {
    let mut c = crate::support::recording(dir, &[provider], base);
    // Short, so the head-timeout case fails fast.
    if let Some(r) = c.record.as_mut() {
        r.head_timeout = Duration::from_millis(100);
    }
    c
}

const ANTHROPIC_BODY: &str =
    r#"{"model":"claude-sonnet-4","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;

#[tokio::test]
async fn an_upstream_that_sends_its_head_too_late_is_a_504_in_the_callers_shape() {
    let up = FakeUpstream::start().await;
    // The head comes long after the 100 ms deadline; the test never waits for it.
    up.script(
        "/v1/messages",
        Script::body(200, "application/json", "{}").head_after(Duration::from_secs(30)),
    );
    let dir = FixtureDir::new();
    let s = TestServer::start(record_config(dir.path(), "anthropic", &up.url())).await;
    let r = s.post("/v1/messages", ANTHROPIC_BODY, &[]).await;
    assert_eq!(r.status, 504);
    let v = r.json();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "timeout_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no response within"));
}

#[tokio::test]
async fn a_wrong_method_on_a_provider_path_is_a_405_in_that_providers_shape() {
    let dir = FixtureDir::new();
    let s = TestServer::with_fixtures(dir.path()).await;
    let r = s.get("/v1/messages").await;
    assert_eq!(r.status, 405);
    let v = r.json();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(
        v["error"]["message"],
        "Method GET not allowed on /v1/messages"
    );
}

#[tokio::test]
async fn an_unknown_gemini_action_is_a_404_in_googles_shape() {
    let dir = FixtureDir::new();
    let s = TestServer::with_fixtures(dir.path()).await;
    let r = s
        .post("/v1beta/models/gemini-2.0-flash:foo", "{}", &[])
        .await;
    assert_eq!(r.status, 404);
    let v = r.json();
    assert_eq!(v["error"]["code"], 404);
    assert_eq!(v["error"]["status"], "NOT_FOUND");
    assert_eq!(
        v["error"]["message"],
        "Not found: POST /v1beta/models/gemini-2.0-flash:foo"
    );
}

#[tokio::test]
async fn a_route_miss_on_a_path_naming_no_provider_keeps_aimocks_own_shape() {
    let dir = FixtureDir::new();
    let s = TestServer::with_fixtures(dir.path()).await;
    let r = s.get("/nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        r#"{"error":{"message":"Not found: GET /nope","type":"not_found"}}"#
    );
}

fn rate_limited(retry_after: Option<u64>) -> FixtureDir {
    let mut response = json!({"error": {"message": "slow down"}, "status": 429});
    if let Some(n) = retry_after {
        response["retryAfter"] = json!(n);
    }
    FixtureDir::with(
        "limits.json",
        json!([{"match": {"userMessage": "limit"}, "response": response}]),
    )
}

#[tokio::test]
async fn a_cohere_429_carries_retry_after() {
    let dir = rate_limited(Some(3));
    let s = TestServer::with_fixtures(dir.path()).await;
    let body = r#"{"model":"command-r","messages":[{"role":"user","content":"limit"}]}"#;
    let r = s.post("/v2/chat", body, &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "3");
    assert_eq!(r.json(), json!({"message": "slow down"}));
}

#[tokio::test]
async fn an_ollama_429_carries_retry_after_defaulting_to_one_second() {
    let dir = rate_limited(None);
    let s = TestServer::with_fixtures(dir.path()).await;
    let body =
        r#"{"model":"llama3","stream":false,"messages":[{"role":"user","content":"limit"}]}"#;
    let r = s.post("/api/chat", body, &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(r.json(), json!({"error": "slow down"}));
}

#[tokio::test]
async fn an_openai_429_keeps_retry_after_then_its_rate_limit_headers() {
    let dir = rate_limited(Some(2));
    let s = TestServer::with_fixtures(dir.path()).await;
    let body = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"limit"}]}"#;
    let r = s.post("/v1/chat/completions", body, &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "2");
    assert_eq!(r.headers["x-ratelimit-remaining-requests"], "0");
    assert_eq!(r.headers["x-ratelimit-reset-tokens"], "6m0s");
    let names: Vec<&str> = r
        .headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| *k == "retry-after" || k.starts_with("x-ratelimit-"))
        .collect();
    assert_eq!(names[0], "retry-after");
    assert_eq!(names.len(), 7);
}

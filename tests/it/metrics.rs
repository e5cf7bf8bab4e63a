//! `GET /metrics`: what a Prometheus scrape sees after some traffic.

use std::time::Duration;

use aimock::config::Config;
use serde_json::json;

use crate::support::{FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

const CHAT: &str = "/v1/chat/completions";

fn chat(user: &str) -> String {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": user}]}).to_string()
}

fn line_value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn a_scrape_counts_requests_matches_misses_and_chaos() {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {"userMessage": "hello"}, "response": {"content": "hi"}}]),
    );
    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    c.metrics = true;
    let s = TestServer::start(c).await;
    for _ in 0..3 {
        assert_eq!(s.post(CHAT, &chat("hello"), &[]).await.status, 200);
    }
    assert_eq!(s.post(CHAT, &chat("nope"), &[]).await.status, 404);
    let dropped = s
        .post(CHAT, &chat("hello"), &[("x-aimock-chaos-drop", "1")])
        .await;
    assert_eq!(dropped.status, 500);
    let anthropic = s
        .post(
            "/v1/messages",
            &json!({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hello"}]}).to_string(),
            &[],
        )
        .await;
    assert_eq!(anthropic.status, 200);

    let r = s.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = r.text();
    let v = |p: &str| line_value(&text, p).unwrap_or_else(|| panic!("no {p} in\n{text}"));
    assert_eq!(
        v(r#"aimock_requests_total{provider="openai",route="/v1/chat/completions",status="200"}"#),
        3.0
    );
    assert_eq!(
        v(r#"aimock_requests_total{provider="openai",route="/v1/chat/completions",status="404"}"#),
        1.0
    );
    assert_eq!(
        v(r#"aimock_requests_total{provider="openai",route="/v1/chat/completions",status="500"}"#),
        1.0
    );
    assert_eq!(
        v(r#"aimock_requests_total{provider="anthropic",route="/v1/messages",status="200"}"#),
        1.0
    );
    // The dropped request matched before chaos was rolled.
    assert_eq!(v("aimock_fixture_matches_total"), 5.0);
    assert_eq!(v("aimock_fixture_misses_total"), 1.0);
    assert_eq!(
        v(r#"aimock_chaos_total{action="drop",source="fixture"}"#),
        1.0
    );
    assert_eq!(
        v(r#"aimock_request_duration_seconds_count{provider="openai"}"#),
        5.0
    );
    assert_eq!(v("aimock_fixtures_loaded"), 1.0);
    assert_eq!(v("aimock_recordings_total"), 0.0);
}

#[tokio::test]
async fn metrics_are_a_404_unless_turned_on() {
    let dir = FixtureDir::new();
    let s = TestServer::with_fixtures(dir.path()).await;
    assert_eq!(s.get("/metrics").await.status, 404);
}

#[tokio::test]
async fn a_written_recording_is_counted() {
    let up = FakeUpstream::start().await;
    let body = std::fs::read(format!(
        "{}/tests/data/golden/openai/chat-json-text.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    up.script(CHAT, Script::body(200, "application/json", body));
    let dir = FixtureDir::new();
    let mut c = crate::support::recording(dir.path(), &["openai"], &up.url());
    c.metrics = true;
    let s = TestServer::start(c).await;
    let r = s.post(CHAT, &chat("record me"), &[]).await;
    assert_eq!(r.status, 200);

    let mut last = String::new();
    for _ in 0..500 {
        last = s.get("/metrics").await.text();
        if line_value(&last, "aimock_recordings_total") == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        line_value(&last, "aimock_recordings_total"),
        Some(1.0),
        "{last}"
    );
    assert_eq!(line_value(&last, "aimock_fixture_misses_total"), Some(1.0));

    let j = s.get("/__aimock/journal").await.json();
    assert_eq!(j[0]["response"]["source"], "proxy");
    assert_eq!(j[0]["response"]["status"], 200);
}

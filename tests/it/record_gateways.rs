//! The gateways in front of known APIs: OpenRouter (`/api/v1/chat/completions`, its
//! model list and error envelope, `--provider-openrouter`), Anthropic models through
//! Azure AI Foundry (`/anthropic/v1/messages`, `--provider-foundry`), and any
//! OpenAI-compatible base URL (`/openai/v1`, `/proxy/xyz/v1`): each recorded through a
//! fake upstream that gets the very path the client used, and replayed strictly.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

const COMPLETION: &str = r#"{"id":"gen-1733-abc","provider":"OpenAI","model":"openai/gpt-4o","object":"chat.completion","created":1733000000,"choices":[{"index":0,"message":{"role":"assistant","content":"Routed hello."},"finish_reason":"stop","native_finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#;
const CHUNKS: &str = "data: {\"id\":\"gen-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Routed\"},\"finish_reason\":null}]}\n\ndata: {\"id\":\"gen-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" hello.\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
const MESSAGE: &str = r#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Foundry hello."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":3}}"#;

async fn one_fixture(path: &Path) -> Value {
    for _ in 0..500 {
        if let Ok(bytes) = std::fs::read(path) {
            if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                if v["fixtures"].as_array().map(Vec::len) == Some(1) {
                    return v["fixtures"][0].clone();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} never held a fixture", path.display());
}

fn chat(user: &str, stream: bool) -> String {
    json!({"model": "openai/gpt-4o", "stream": stream, "messages": [{"role": "user", "content": user}]})
        .to_string()
}

fn strict(dir: &Path) -> aimock::config::Config {
    let mut c = aimock::config::Config::for_tests(vec![dir.to_path_buf()]);
    c.strict = true;
    c
}

/// Record `path` (JSON and SSE) under `provider`'s upstream, check the upstream got
/// the same path and the fixture went to `<provider>.json`, then replay strictly.
async fn records_and_replays(providers: &[&str], path: &str, file: &str) {
    let up = FakeUpstream::start().await;
    let dir = FixtureDir::new();
    let rec = TestServer::start(crate::support::recording(dir.path(), providers, &up.url())).await;
    let mut asked = Vec::new();
    for stream in [false, true] {
        let script = if stream {
            Script::body(200, "text/event-stream", CHUNKS).chunked(50, Duration::ZERO)
        } else {
            Script::body(200, "application/json", COMPLETION)
        };
        up.script(path, script);
        let user = format!("hello via {path} stream={stream}");
        let id = format!("t-{stream}");
        let r = rec
            .post(
                path,
                &chat(&user, stream),
                &[
                    ("x-test-id", &id),
                    ("authorization", "Bearer sk-test-not-a-real-key"),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(
            r.text(),
            if stream { CHUNKS } else { COMPLETION },
            "{path}: relayed as sent"
        );
        let fx = one_fixture(&dir.path().join(format!("recorded/{id}/{file}"))).await;
        assert_eq!(fx["response"]["content"], "Routed hello.", "{path}: {fx}");
        asked.push((user, stream));
    }
    let seen = up.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| s.path_and_query == path), "{seen:?}");
    rec.stop().await;

    let srv = TestServer::start(strict(dir.path())).await;
    for (user, stream) in asked {
        let r = srv.post(path, &chat(&user, stream), &[]).await;
        assert_eq!(r.status, 200, "{path}");
        if stream {
            let text: String = crate::support::sse_data(&r.text())
                .iter()
                .filter(|d| *d != "[DONE]")
                .filter_map(|d| serde_json::from_str::<Value>(d).ok())
                .filter_map(|v| {
                    v["choices"][0]["delta"]["content"]
                        .as_str()
                        .map(String::from)
                })
                .collect();
            assert_eq!(text, "Routed hello.");
        } else {
            assert_eq!(
                r.json()["choices"][0]["message"]["content"],
                "Routed hello."
            );
        }
    }
    srv.stop().await;
}

#[tokio::test]
async fn openrouter_records_to_its_own_upstream_and_file_and_replays() {
    records_and_replays(
        &["openrouter"],
        "/api/v1/chat/completions",
        "openrouter.json",
    )
    .await;
}

#[tokio::test]
async fn openrouter_without_its_own_upstream_goes_to_the_openai_one() {
    records_and_replays(&["openai"], "/api/v1/chat/completions", "openrouter.json").await;
}

#[tokio::test]
async fn openai_compatible_prefixes_are_recorded_with_the_prefix_kept() {
    for path in [
        "/openai/v1/chat/completions",
        "/proxy/xyz/v1/chat/completions",
    ] {
        records_and_replays(&["openai"], path, "openai.json").await;
    }
}

#[tokio::test]
async fn openrouter_errors_and_models_have_openrouters_shape() {
    let dir = FixtureDir::with(
        "f.json",
        json!([{"match": {"userMessage": "limit"}, "response": {"error": {"message": "Rate limit exceeded"}, "status": 429}},
               {"match": {"userMessage": "hi", "model": "anthropic/claude-sonnet-4.5"}, "response": {"content": "hey"}}]),
    );
    let srv = TestServer::start(strict(dir.path())).await;
    let r = srv
        .post("/api/v1/chat/completions", &chat("limit", false), &[])
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(
        r.json(),
        json!({"error": {"code": 429, "message": "Rate limit exceeded"}})
    );
    let miss = srv
        .post("/api/v1/chat/completions", &chat("nothing", false), &[])
        .await;
    let code = miss.json()["error"]["code"].as_u64().unwrap();
    assert_eq!(code, u64::from(miss.status));
    assert!(miss.json()["error"]["message"].as_str().unwrap().len() > 5);
    let models = srv.get("/api/v1/models").await.json();
    let m = &models["data"][0];
    assert_eq!(m["id"], "anthropic/claude-sonnet-4.5");
    assert_eq!(m["pricing"]["prompt"], "0");
    assert!(m["context_length"].as_u64().unwrap() > 0);
    // The plain OpenAI list is unchanged.
    assert_eq!(srv.get("/v1/models").await.json()["object"], "list");
    srv.stop().await;
}

#[tokio::test]
async fn anthropic_through_foundry_records_with_its_path_and_without_its_key() {
    let path = "/anthropic/v1/messages";
    let up = FakeUpstream::start().await;
    up.script(path, Script::body(200, "application/json", MESSAGE));
    let dir = FixtureDir::new();
    let rec = TestServer::start(crate::support::recording(
        dir.path(),
        &["foundry"],
        &up.url(),
    ))
    .await;
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 50,
        "messages": [{"role": "user", "content": "hello foundry"}]})
    .to_string();
    let key = "sk-test-not-a-real-key";
    let r = rec
        .post(
            path,
            &body,
            &[
                ("x-test-id", "f"),
                ("api-key", key),
                ("x-api-key", key),
                ("anthropic-version", "2023-06-01"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), MESSAGE);
    let seen = up.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.path_and_query, path);
    assert_eq!(seen.headers["api-key"], key, "the credential is forwarded");
    let file = dir.path().join("recorded/f/foundry.json");
    let fx = one_fixture(&file).await;
    assert_eq!(fx["response"]["content"], "Foundry hello.");
    assert!(!std::fs::read_to_string(&file).unwrap().contains(key));
    rec.stop().await;

    let srv = TestServer::start(strict(dir.path())).await;
    let r = srv.post(path, &body, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["content"][0]["text"], "Foundry hello.");
    assert_eq!(r.json()["type"], "message");
    // A miss answers in Anthropic's error shape.
    let miss = srv
        .post(path, &body.replace("hello foundry", "unknown"), &[])
        .await;
    assert_eq!(miss.json()["type"], "error");
    srv.stop().await;
}

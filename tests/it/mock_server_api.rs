//! The Rust test API (`aimock::MockServer`), used as a test suite would: fixtures built
//! in code, cassettes, strict mode, the typed journal, resets, record mode against a
//! fake upstream, and the shutdown on drop.

use std::path::Path;
use std::time::Duration;

use aimock::{Fixture, MockServer};
use serde_json::{json, Value};

use crate::support::{request, FixtureDir, Reply};
use crate::upstream::{FakeUpstream, Script};

const CHAT: &str = "/v1/chat/completions";

async fn chat(server: &MockServer, user: &str, headers: &[(&str, &str)]) -> Reply {
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": user}]});
    request(
        "POST",
        &format!("{}{CHAT}", server.uri()),
        body.to_string().into_bytes(),
        headers,
    )
    .await
}

fn text(r: &Reply) -> Value {
    r.json()["choices"][0]["message"]["content"].clone()
}

#[tokio::test]
async fn fixtures_built_in_code_answer_text_tool_calls_errors_and_sequences() {
    let server = MockServer::builder()
        .fixture(Fixture::on_message("hello").reply("Hi"))
        .fixture(
            Fixture::on_message("weather")
                .tool_name("get_weather")
                .reply_tool_call("get_weather", json!({"city": "Paris"})),
        )
        .fixture(
            Fixture::on_message("busy")
                .reply_error(429, "rate limited")
                .error_type("rate_limit_error"),
        )
        .fixture(Fixture::on_message("step").sequence(0).reply("one"))
        .fixture(Fixture::on_message("step").sequence(1).reply("two"))
        .start()
        .await;
    assert!(server.uri().starts_with("http://127.0.0.1:"));

    let r = chat(&server, "hello there", &[]).await;
    assert_eq!((r.status, text(&r)), (200, json!("Hi")));

    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "weather?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]});
    let r = request(
        "POST",
        &format!("{}{CHAT}", server.uri()),
        body.to_string().into_bytes(),
        &[],
    )
    .await;
    let call = &r.json()["choices"][0]["message"]["tool_calls"][0]["function"];
    assert_eq!(call["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(call["arguments"].as_str().unwrap()).unwrap(),
        json!({"city": "Paris"})
    );

    let r = chat(&server, "busy", &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");

    assert_eq!(text(&chat(&server, "step", &[]).await), "one");
    assert_eq!(text(&chat(&server, "step", &[]).await), "two");
    server.reset_match_counts();
    assert_eq!(text(&chat(&server, "step", &[]).await), "one");

    let seen = server.received_requests();
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, CHAT);
    assert_eq!(seen[0].provider.as_deref(), Some("openai"));
    assert_eq!(seen[0].status, 200);
    assert_eq!(seen[0].fixture, Some(("<code>".to_string(), 0)));
    assert_eq!(seen[0].last_user_message(), Some("hello there"));
    assert_eq!(seen[2].status, 429);
}

#[tokio::test]
async fn a_mounted_fixture_answers_after_cassettes_and_a_prepended_one_before_them() {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {"userMessage": "hi"}, "response": {"content": "from the cassette"}}]),
    );
    let server = MockServer::builder()
        .cassette(dir.path())
        .strict(true)
        .start()
        .await;
    let r = chat(&server, "unknown", &[]).await;
    assert_eq!(r.status, 503, "strict: a miss is a 503");
    server.mount(Fixture::on_message("hi").reply("mounted"));
    server.mount(Fixture::on_message("other").reply("mounted other"));
    assert_eq!(text(&chat(&server, "hi", &[]).await), "from the cassette");
    assert_eq!(text(&chat(&server, "other", &[]).await), "mounted other");
    server.prepend(Fixture::on_message("hi").reply("prepended"));
    assert_eq!(text(&chat(&server, "hi", &[]).await), "prepended");

    let list = request(
        "GET",
        &format!("{}/__aimock/fixtures?include=fixtures", server.uri()),
        Vec::new(),
        &[],
    )
    .await
    .json();
    let sources: Vec<&str> = list["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["code", "file", "code", "code"]);
    assert_eq!(list["fixtures"][0]["prepended"], true);

    server.reset();
    assert!(server.received_requests().is_empty());
    assert_eq!(chat(&server, "hi", &[]).await.status, 503);
}

#[tokio::test]
async fn a_fixture_the_loader_refuses_is_an_error_naming_its_field() {
    let server = MockServer::start().await;
    let bad = Fixture::on_message("x").option("chaos", json!({"dropRate": 7}));
    let err = server.try_mount(bad.clone()).unwrap_err();
    assert!(err.to_string().contains("chaos.dropRate"), "{err}");
    let refused = MockServer::builder().fixture(bad).try_start().await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn record_mode_forwards_a_miss_saves_it_and_replays_it_without_the_upstream() {
    let up = FakeUpstream::start().await;
    let body = std::fs::read(format!(
        "{}/tests/data/golden/openai/chat-json-text.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    up.script(
        "/v1/chat/completions",
        Script::body(200, "application/json", body.clone()),
    );
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::builder()
        .record("openai", up.url(), dir.path())
        .start()
        .await;
    let auth = [("authorization", "Bearer sk-test-not-a-real-key")];
    let first = chat(&server, "record me", &auth).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.bytes().as_ref(), &body[..]);
    let second = chat(&server, "record me", &auth).await;
    assert_eq!(second.status, 200);
    assert_eq!(up.hits(), 1, "the second answer is the recording");
    let seen = server.received_requests();
    assert_eq!(seen[0].source, "proxy");
    assert_eq!(seen[1].source, "fixture");
    server.stop().await.unwrap();
    assert!(
        json_files(dir.path()) >= 1,
        "the recording is on disk after stop"
    );
}

fn json_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            n += json_files(&p);
        } else if p.extension().is_some_and(|x| x == "json") {
            n += 1;
        }
    }
    n
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let server = MockServer::start().await;
    let addr = server.address();
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    drop(server);
    let mut refused = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "the listener closes after drop");
}

#[test]
fn a_synchronous_test_gets_a_server_on_its_own_runtime() {
    let server = MockServer::builder()
        .fixture(Fixture::on_message("sync").reply("works"))
        .start_blocking()
        .unwrap();
    let addr = server.address();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(chat(&server, "sync", &[]));
    assert_eq!(text(&r), "works");
    drop(server);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "drop joined the server's thread: nothing listens"
    );
}

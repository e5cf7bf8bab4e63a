//! Replay through a real socket: matching, rendering, errors and streaming physics.

use serde_json::{json, Value};

use crate::support::{request, sse_data, FixtureDir, TestServer};

const CHAT: &str = "/v1/chat/completions";

fn chat_body(user: &str, stream: bool) -> String {
    json!({"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": user}]})
        .to_string()
}

#[tokio::test]
async fn the_same_cassette_and_request_give_the_same_bytes_on_two_servers() {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {"userMessage": "hi"}, "response": {"content": "Hello!", "toolCalls": [{"name": "f", "arguments": {"x": 1}}]}}]),
    );
    let a = TestServer::with_fixtures(dir.path()).await;
    let b = TestServer::with_fixtures(dir.path()).await;
    for stream in [false, true] {
        let ra = a.post(CHAT, &chat_body("hi", stream), &[]).await;
        let rb = b.post(CHAT, &chat_body("hi", stream), &[]).await;
        assert_eq!(ra.status, 200);
        assert_eq!(ra.bytes(), rb.bytes());
        assert_eq!(ra.headers["x-request-id"], rb.headers["x-request-id"]);
    }
}

#[tokio::test]
async fn strict_miss_is_503_and_lenient_miss_is_404_both_in_openai_shape() {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {"userMessage": "hello world"}, "response": {"content": "x"}}]),
    );
    let mut config = aimock::config::Config::for_tests(vec![dir.path().to_path_buf()]);
    let lenient = TestServer::start(config.clone()).await;
    config.strict = true;
    let strict = TestServer::start(config).await;

    let r = lenient
        .post(CHAT, &chat_body("hello wrld", false), &[])
        .await;
    assert_eq!(r.status, 404);
    let err = &r.json()["error"];
    assert_eq!(err["code"], "no_fixture_match");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("userMessage: request \"hello wrld\""), "{msg}");
    assert!(msg.contains("wants \"hello world\""), "{msg}");

    let r = strict
        .post(CHAT, &chat_body("hello wrld", false), &[])
        .await;
    assert_eq!(r.status, 503);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Strict mode: no fixture matched"));
}

#[tokio::test]
async fn strict_with_no_cassettes_refuses_to_start_with_a_clear_message() {
    let dir = FixtureDir::new();
    let mut config = aimock::config::Config::for_tests(vec![dir.path().to_path_buf()]);
    config.strict = true;
    let err = TestServer::try_start(config)
        .await
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("no fixtures loaded"), "{err}");
}

#[tokio::test]
async fn a_broken_file_and_a_broken_entry_do_not_stop_the_rest_loading() {
    let dir = FixtureDir::with(
        "b.json",
        json!([{"response": {"content": "no match block"}}, {"match": {"userMessage": "ok"}, "response": {"content": "fine"}}]),
    );
    std::fs::write(dir.path().join("a.json"), "{ not json").unwrap();
    let s = TestServer::with_fixtures(dir.path()).await;
    let r = s.post(CHAT, &chat_body("ok", false), &[]).await;
    assert_eq!(r.json()["choices"][0]["message"]["content"], "fine");
}

#[tokio::test]
async fn concurrent_requests_in_one_test_id_each_get_a_distinct_sequence_slot() {
    let fixtures: Vec<Value> = (0..16)
        .map(|i| json!({"match": {"userMessage": "n", "sequenceIndex": i}, "response": {"content": format!("{i}")}}))
        .collect();
    let dir = FixtureDir::with("seq.json", Value::Array(fixtures));
    let s = std::sync::Arc::new(TestServer::with_fixtures(dir.path()).await);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let r = s
                .post(CHAT, &chat_body("n", false), &[("x-test-id", "t1")])
                .await;
            r.json()["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        }));
    }
    let mut got: Vec<u32> = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap().parse().unwrap());
    }
    got.sort();
    assert_eq!(got, (0..16).collect::<Vec<_>>());
    // Another test id starts again at 0, through the query parameter.
    let r = s
        .post(&format!("{CHAT}?testId=t2"), &chat_body("n", false), &[])
        .await;
    assert_eq!(r.json()["choices"][0]["message"]["content"], "0");
}

#[tokio::test]
async fn truncate_after_chunks_cuts_the_connection_instead_of_ending_cleanly() {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {}, "response": {"content": "abcdefghijklmnopqrstuvwxyz"}, "chunkSize": 2, "truncateAfterChunks": 3}]),
    );
    let s = TestServer::with_fixtures(dir.path()).await;
    // Read the raw socket: the client must get the first three frames, then a cut
    // with no terminating chunk.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let body = chat_body("x", true);
    let req = format!("POST {CHAT} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    sock.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let _ = sock.read_to_end(&mut got).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(text.matches("data: {").count(), 3, "{text}");
    assert!(!text.contains("[DONE]"));
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "a truncated stream must not end with the last chunk"
    );
}

#[tokio::test]
async fn chunk_size_slices_the_streamed_text() {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {}, "response": {"content": "abcdefg"}, "chunkSize": 3}]),
    );
    let s = TestServer::with_fixtures(dir.path()).await;
    let r = s.post(CHAT, &chat_body("x", true), &[]).await;
    assert_eq!(r.headers["content-type"], "text/event-stream");
    let deltas: Vec<String> = sse_data(&r.text())
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(deltas, vec!["abc", "def", "g"]);
    assert!(r.text().ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn a_declared_oversized_body_gets_413_before_it_is_read() {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {}, "response": {"content": "x"}}]),
    );
    let mut config = aimock::config::Config::for_tests(vec![dir.path().to_path_buf()]);
    config.max_body_bytes = 100;
    let s = TestServer::start(config).await;
    let r = request("POST", &s.url(CHAT), vec![b' '; 500], &[]).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["code"], "request_too_large");
}

#[tokio::test]
async fn health_ready_and_models_answer() {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {"model": "gpt-4o-mini"}, "response": {"content": "x"}}]),
    );
    let s = TestServer::with_fixtures(dir.path()).await;
    assert_eq!(s.get("/health").await.json()["status"], "ok");
    assert_eq!(s.get("/ready").await.json()["status"], "ready");
    assert_eq!(
        s.get("/v1/models").await.json()["data"][0]["id"],
        "gpt-4o-mini"
    );
    let r = s.get("/nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["type"], "not_found");
}

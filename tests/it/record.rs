//! Record mode against a scripted fake upstream replaying real provider captures.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{request, FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

const CHAT: &str = "/v1/chat/completions";
const KEY: &str = "Bearer sk-test-not-a-real-key-0123456789";

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/golden/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub(crate) fn config(dir: &Path, provider: &str, base: &str) -> aimock::config::Config {
    crate::support::recording(dir, &[provider], base)
}

fn chat(user: &str, stream: bool) -> String {
    json!({"model": "gpt-4o-2024-08-06", "stream": stream, "messages": [{"role": "user", "content": user}]}).to_string()
}

/// Wait (bounded) until `path` holds `n` fixtures; recordings are written off the request path.
pub(crate) async fn fixtures_in(path: &Path, n: usize) -> Value {
    for _ in 0..500 {
        if let Ok(bytes) = std::fs::read(path) {
            if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                if v["fixtures"].as_array().map(|a| a.len()) == Some(n) {
                    return v;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} never held {n} fixtures", path.display());
}

#[tokio::test]
async fn a_miss_is_relayed_byte_for_byte_saved_without_credentials_and_replays_strictly() {
    let up = FakeUpstream::start().await;
    let body = golden("openai/chat-json-text.json");
    up.script(
        "/llm/v1/chat/completions",
        Script::body(200, "application/json", body.clone()),
    );
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &format!("{}/llm", up.url()))).await;

    let r = s
        .post(
            &format!("{CHAT}?trace=1"),
            &chat("what's up?", false),
            &[
                ("authorization", KEY),
                ("x-test-id", "My Suite › does thing"),
                ("cookie", "a=b"),
                ("x-custom", "kept"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.bytes().as_ref(),
        &body[..],
        "the client gets the upstream's exact bytes"
    );

    let seen = up.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path_and_query, "/llm/v1/chat/completions?trace=1");
    assert_eq!(seen.headers["authorization"], KEY);
    assert_eq!(seen.headers["x-custom"], "kept");
    assert!(seen.headers.get("x-test-id").is_none() && seen.headers.get("cookie").is_none());
    assert_eq!(
        seen.body.as_ref(),
        chat("what's up?", false).as_bytes(),
        "raw body forwarded"
    );

    let file = dir.path().join("recorded/my-suite--does-thing/openai.json");
    let doc = fixtures_in(&file, 1).await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("sk-test-not-a-real-key"),
        "no credential on disk"
    );
    let fx = &doc["fixtures"][0];
    assert_eq!(fx["match"]["userMessage"], "what's up?");
    assert_eq!(fx["match"]["model"], "gpt-4o");
    assert_eq!(fx["match"]["turnIndex"], 0);
    assert!(fx["response"]["content"]
        .as_str()
        .unwrap()
        .starts_with("Not much"));

    // The same request again is served from memory, not the upstream.
    let again = s
        .post(
            CHAT,
            &chat("what's up?", false),
            &[("x-test-id", "My Suite › does thing")],
        )
        .await;
    assert_eq!(
        again.json()["choices"][0]["message"]["content"],
        fx["response"]["content"]
    );
    assert_eq!(up.hits(), 1);
    drop(s);

    // A strict replay with no upstream answers the same request.
    let mut rc = aimock::config::Config::for_tests(vec![dir.path().to_path_buf()]);
    rc.strict = true;
    let replay = TestServer::start(rc).await;
    let r = replay.post(CHAT, &chat("what's up?", false), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        fx["response"]["content"]
    );
}

#[tokio::test]
async fn a_streamed_miss_is_relayed_as_it_arrives_and_collapsed_with_timings() {
    let up = FakeUpstream::start().await;
    let body = golden("openai/chat-stream-tool-call-args-split.sse");
    up.script(
        CHAT,
        Script::body(200, "text/event-stream", body.clone()).chunked(97, Duration::from_millis(2)),
    );
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &up.url())).await;
    let r = s.post(CHAT, &chat("weather in Boston?", true), &[]).await;
    assert_eq!(r.bytes().as_ref(), &body[..]);
    assert_eq!(r.headers["content-type"], "text/event-stream");
    let doc = fixtures_in(&dir.path().join("recorded/openai.json"), 1).await;
    let fx = &doc["fixtures"][0];
    let args: Value = serde_json::from_str(
        fx["response"]["toolCalls"][0]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(args.is_object());
    assert!(
        fx["recordedTimings"]["interChunkDelaysMs"]
            .as_array()
            .unwrap()
            .len()
            > 2
    );
}

#[tokio::test]
async fn an_upstream_429_reaches_the_client_as_429_and_is_saved_as_an_error_fixture() {
    let up = FakeUpstream::start().await;
    let mut script = Script::body(
        429,
        "application/json",
        r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#,
    );
    script.headers.push(("retry-after", "7"));
    up.script(CHAT, script);
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &up.url())).await;
    let r = s.post(CHAT, &chat("busy?", false), &[]).await;
    assert_eq!(
        r.status, 429,
        "the app's retry logic must see the real status"
    );
    assert_eq!(r.headers["retry-after"], "7");
    let doc = fixtures_in(&dir.path().join("recorded/openai.json"), 1).await;
    assert_eq!(doc["fixtures"][0]["response"]["status"], 429);
    assert_eq!(
        doc["fixtures"][0]["response"]["error"]["message"],
        "Rate limit reached"
    );
}

#[tokio::test]
async fn a_refused_upstream_is_a_502_in_the_provider_shape() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &url)).await;
    let r = s.post(CHAT, &chat("x", false), &[]).await;
    assert_eq!(r.status, 502);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Proxy to upstream failed"));
}

#[tokio::test]
async fn an_upstream_reset_mid_stream_cuts_the_client_and_saves_nothing() {
    let up = FakeUpstream::start().await;
    let body = golden("openai/chat-stream-text-include-usage.sse");
    let mut script = Script::body(200, "text/event-stream", body[..body.len() / 2].to_vec())
        .chunked(50, Duration::ZERO);
    script.reset = true;
    up.script(CHAT, script);
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &up.url())).await;
    let r = s.post(CHAT, &chat("x", true), &[]).await;
    assert!(r.body.is_err(), "the client connection must be cut");
    // Shutdown waits for the request in flight and flushes every recording: past it,
    // whatever was going to be written is on disk.
    s.stop().await;
    assert!(!dir.path().join("recorded/openai.json").exists());
}

#[tokio::test]
async fn a_client_that_hangs_up_after_the_terminal_event_still_gets_recorded() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let up = FakeUpstream::start().await;
    let body = golden("anthropic/messages-stream-text.sse");
    // Everything up to and including message_stop, then the upstream lingers.
    up.script(
        "/v1/chat/completions",
        Script::body(
            200,
            "text/event-stream",
            golden("openai/chat-stream-text-include-usage.sse"),
        )
        .chunked(64, Duration::from_millis(1)),
    );
    let _ = body;
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &up.url())).await;
    let mut sock = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let b = chat("hang up", true);
    sock.write_all(format!("POST {CHAT} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{b}", b.len()).as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("[DONE]") {
        let n = sock.read(&mut buf).await.unwrap();
        assert!(n > 0, "stream ended before [DONE]");
        got.extend_from_slice(&buf[..n]);
    }
    drop(sock);
    let doc = fixtures_in(&dir.path().join("recorded/openai.json"), 1).await;
    assert!(doc["fixtures"][0]["response"]["content"]
        .as_str()
        .unwrap()
        .starts_with("Not much"));
}

#[tokio::test]
async fn a_client_that_hangs_up_before_the_terminal_event_aborts_and_saves_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let up = FakeUpstream::start().await;
    up.script(
        CHAT,
        Script::body(
            200,
            "text/event-stream",
            golden("openai/chat-stream-text-include-usage.sse"),
        )
        .chunked(64, Duration::from_millis(20)),
    );
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &up.url())).await;
    let mut sock = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let b = chat("leave early", true);
    sock.write_all(format!("POST {CHAT} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{b}", b.len()).as_bytes()).await.unwrap();
    let mut buf = [0u8; 256];
    let _ = sock.read(&mut buf).await.unwrap();
    drop(sock);
    // Shutdown waits for the request in flight and flushes every recording: past it,
    // whatever was going to be written is on disk.
    s.stop().await;
    assert!(!dir.path().join("recorded/openai.json").exists());
}

#[tokio::test]
async fn concurrent_recordings_to_one_test_id_all_land_in_one_file() {
    let up = FakeUpstream::start().await;
    up.script(
        CHAT,
        Script::body(
            200,
            "application/json",
            golden("openai/chat-json-text.json"),
        ),
    );
    let dir = FixtureDir::new();
    let s = std::sync::Arc::new(TestServer::start(config(dir.path(), "openai", &up.url())).await);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.post(
                CHAT,
                &chat(&format!("q{i}"), false),
                &[("x-test-id", "../../escape")],
            )
            .await
            .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let doc = fixtures_in(&dir.path().join("recorded/escape/openai.json"), 8).await;
    let mut users: Vec<String> = doc["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["match"]["userMessage"].as_str().unwrap().to_string())
        .collect();
    users.sort();
    assert_eq!(users, (0..8).map(|i| format!("q{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn credential_shaped_strings_in_a_reply_are_redacted_on_disk() {
    let up = FakeUpstream::start().await;
    let reply = json!({"id":"x","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"your key is sk-proj-test-not-a-real-key-0123456789"},"finish_reason":"stop"}]});
    up.script(
        CHAT,
        Script::body(200, "application/json", reply.to_string()),
    );
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &up.url())).await;
    let r = s.post(CHAT, &chat("leak?", false), &[]).await;
    assert!(
        r.text().contains("sk-proj-"),
        "the client still gets the real bytes"
    );
    let doc = fixtures_in(&dir.path().join("recorded/openai.json"), 1).await;
    assert_eq!(
        doc["fixtures"][0]["response"]["content"],
        "your key is [REDACTED]"
    );
    assert!(doc["_warnings"][0].as_str().unwrap().contains("redacted"));
}

#[tokio::test]
async fn a_reply_over_the_capture_cap_is_relayed_in_full_but_not_recorded() {
    let up = FakeUpstream::start().await;
    let body = golden("openai/embeddings-float.json");
    up.script(
        "/v1/embeddings",
        Script::body(200, "application/json", body.clone()).chunked(1000, Duration::ZERO),
    );
    let dir = FixtureDir::new();
    let mut c = config(dir.path(), "openai", &up.url());
    c.record.as_mut().unwrap().max_capture_bytes = 4096;
    let s = TestServer::start(c).await;
    let r = s
        .post(
            "/v1/embeddings",
            &json!({"model":"m","input":"x"}).to_string(),
            &[],
        )
        .await;
    assert_eq!(r.bytes().len(), body.len());
    // Shutdown waits for the request in flight and flushes every recording: past it,
    // whatever was going to be written is on disk.
    s.stop().await;
    assert!(!dir.path().join("recorded/openai.json").exists());
}

#[tokio::test]
async fn base64_embeddings_are_recorded_as_floats() {
    let up = FakeUpstream::start().await;
    up.script("/v1/embeddings", Script::body(200, "application/json", r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AAAAPwAAgL4AAIA/"}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}"#));
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &up.url())).await;
    let r = request(
        "POST",
        &s.url("/v1/embeddings"),
        json!({"model":"m","input":"fox","encoding_format":"base64"})
            .to_string()
            .into_bytes(),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    let doc = fixtures_in(&dir.path().join("recorded/openai.json"), 1).await;
    assert_eq!(
        doc["fixtures"][0]["response"]["embedding"],
        json!([0.5, -0.25, 1.0])
    );
    assert_eq!(doc["fixtures"][0]["match"]["inputText"], "fox");
}

#[tokio::test]
async fn an_upstream_that_never_answers_gets_a_504_after_the_head_timeout() {
    // Accepts connections and reads, but never writes a response head.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let dir = FixtureDir::new();
    let mut c = config(dir.path(), "openai", &url);
    c.record.as_mut().unwrap().head_timeout = Duration::from_millis(200);
    let s = TestServer::start(c).await;
    let r = s.post(CHAT, &chat("x", false), &[]).await;
    assert_eq!(r.status, 504);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no response within"));
}

#[tokio::test]
async fn an_upstream_that_stalls_mid_body_cuts_the_client_after_the_idle_timeout() {
    let up = FakeUpstream::start().await;
    let body = golden("openai/chat-stream-text-include-usage.sse");
    up.script(
        CHAT,
        Script::body(200, "text/event-stream", body).chunked(200, Duration::from_secs(30)),
    );
    let dir = FixtureDir::new();
    let mut c = config(dir.path(), "openai", &up.url());
    c.record.as_mut().unwrap().idle_timeout = Duration::from_millis(200);
    let s = TestServer::start(c).await;
    let r = s.post(CHAT, &chat("x", true), &[]).await;
    assert_eq!(r.status, 200, "the head was relayed before the stall");
    assert!(
        r.body.is_err(),
        "a stalled body must cut the client, not end cleanly"
    );
    assert!(!dir.path().join("recorded/openai.json").exists());
}

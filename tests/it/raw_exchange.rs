//! Proxy first, understand second: in record mode a request the gateway cannot parse
//! into its neutral form (a Bedrock model family it does not read, a body in no shape a
//! provider parser knows) is still forwarded and relayed, and saved as a raw exchange
//! fixture; so is a reply no collapse reads. Strict replay then gives the client the
//! same status, headers and bytes, for a body equal up to key order and whitespace.

use std::path::Path;
use std::time::Duration;

use aimock::secrets::fakes::credentials;
use serde_json::{json, Value};

use crate::support::{request, FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

fn record_config(dir: &Path, base: &str) -> aimock::config::Config {
    crate::support::recording(dir, &["openai", "bedrock", "anthropic"], base)
}

fn strict_replay(dir: &Path) -> aimock::config::Config {
    let mut c = aimock::config::Config::for_tests(vec![dir.join("recorded")]);
    c.strict = true;
    c
}

/// The fixtures of `path` once it holds `n` (recordings are written off the request
/// path).
async fn fixtures(path: &Path, n: usize) -> Vec<Value> {
    for _ in 0..500 {
        if let Ok(bytes) = std::fs::read(path) {
            if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                if let Some(a) = v["fixtures"].as_array().filter(|a| a.len() >= n) {
                    return a.clone();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} never held {n} fixture(s)", path.display());
}

/// A model family aimock does not read (AI21 Jurassic): its exchanges are saved raw.
const UNREAD_PATH: &str = "/model/ai21.j2-ultra-v1/invoke";
const UNREAD_REPLY: &str = "{\"id\":1234,\"completions\":[{\"data\":{\"text\":\"\\nParis is the capital.\"},\"finishReason\":{\"reason\":\"endoftext\"}}]}";

#[tokio::test]
async fn an_unparsed_request_is_forwarded_relayed_saved_raw_and_replayed_byte_for_byte() {
    let up = FakeUpstream::start().await;
    let mut script = Script::body(200, "application/json", UNREAD_REPLY);
    script.headers = vec![
        ("x-amzn-bedrock-input-token-count", "5"),
        ("x-amzn-requestid", "0b7c-changes-every-call"),
    ];
    up.script(UNREAD_PATH, script);
    let dir = FixtureDir::new();
    let srv = TestServer::start(record_config(dir.path(), &up.url())).await;
    let body = r#"{"inputText":"What is the capital of France?","textGenerationConfig":{"maxTokenCount":50,"temperature":0}}"#;
    let live = request("POST", &srv.url(UNREAD_PATH), body.as_bytes().to_vec(), &[]).await;
    assert_eq!(live.status, 200);
    assert_eq!(live.bytes().as_ref(), UNREAD_REPLY.as_bytes());
    // Forwarded exactly as it came.
    let seen = up.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body.as_ref(), body.as_bytes());
    let saved = fixtures(&dir.path().join("recorded/bedrock-raw.json"), 1).await;
    let fx = &saved[0];
    assert_eq!(fx["match"]["method"], "POST");
    assert_eq!(fx["match"]["path"], UNREAD_PATH);
    assert!(fx["match"]["bodyDigest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(
        fx["_raw"].as_str().unwrap().contains("does not parse"),
        "{fx}"
    );
    assert_eq!(fx["response"]["raw"]["body"], UNREAD_REPLY);
    let headers = &fx["response"]["raw"]["headers"];
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-amzn-bedrock-input-token-count"], "5");
    assert!(headers.get("x-amzn-requestid").is_none(), "{headers}");
    srv.stop().await;

    // Strict replay, offline: the same bytes, for the same body in another key order.
    let srv = TestServer::start(strict_replay(dir.path())).await;
    let reordered = r#"{ "textGenerationConfig": {"temperature": 0, "maxTokenCount": 50},
                         "inputText": "What is the capital of France?" }"#;
    let again = request(
        "POST",
        &srv.url(UNREAD_PATH),
        reordered.as_bytes().to_vec(),
        &[],
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.bytes(), live.bytes());
    assert_eq!(again.headers["content-type"], "application/json");
    assert_eq!(again.headers["x-amzn-bedrock-input-token-count"], "5");
    // Another value is another request: not answered by it.
    let other = body.replace("France", "Spain");
    let miss = request("POST", &srv.url(UNREAD_PATH), other.into_bytes(), &[]).await;
    assert_eq!(miss.status, 400, "{:?}", miss.body);
    assert_eq!(up.hits(), 1, "replay never goes upstream");
    let journal = srv.get("/__aimock/journal").await.json();
    let last = &journal.as_array().unwrap()[0];
    assert_eq!(last["response"]["source"], "fixture", "{last}");
    assert_eq!(
        last["body"]["inputText"], "What is the capital of France?",
        "{last}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_raw_stream_keeps_its_binary_frames_and_their_order() {
    // Two AWS EventStream-like binary frames (not UTF-8), sent 30 ms apart.
    let frame_a: Vec<u8> = [0u8, 0, 0, 30, 0xff, 0xfe]
        .iter()
        .copied()
        .chain(b"chunk-one".iter().copied())
        .collect();
    let frame_b: Vec<u8> = [0u8, 0, 0, 31, 0xc3, 0x28]
        .iter()
        .copied()
        .chain(b"chunk-two".iter().copied())
        .collect();
    let all: Vec<u8> = frame_a.iter().chain(frame_b.iter()).copied().collect();
    let path = "/model/cohere.command-text-v14/invoke-with-response-stream";
    let up = FakeUpstream::start().await;
    up.script(
        path,
        Script::body(200, "application/vnd.amazon.eventstream", all.clone())
            .chunked(frame_a.len(), Duration::from_millis(30)),
    );
    let dir = FixtureDir::new();
    let srv = TestServer::start(record_config(dir.path(), &up.url())).await;
    let body = r#"{"prompt":"Hi","max_tokens":20,"stream":true}"#;
    let live = request("POST", &srv.url(path), body.as_bytes().to_vec(), &[]).await;
    assert_eq!(live.status, 200);
    assert_eq!(live.bytes().as_ref(), all.as_slice());
    let saved = fixtures(&dir.path().join("recorded/bedrock-raw.json"), 1).await;
    let frames = saved[0]["response"]["raw"]["frames"]
        .as_array()
        .unwrap()
        .clone();
    assert!(frames.len() >= 2, "{frames:?}");
    assert!(
        frames.iter().all(|f| f.get("base64").is_some()),
        "{frames:?}"
    );
    srv.stop().await;

    let srv = TestServer::start(strict_replay(dir.path())).await;
    let again = request("POST", &srv.url(path), body.as_bytes().to_vec(), &[]).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.bytes().as_ref(), all.as_slice());
    assert_eq!(
        again.headers["content-type"],
        "application/vnd.amazon.eventstream"
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_reply_no_collapse_reads_is_saved_raw_for_a_parsed_request() {
    let up = FakeUpstream::start().await;
    let page = "<html><body>502 Bad Gateway from a corporate proxy</body></html>";
    up.script("/v1/chat/completions", Script::body(200, "text/html", page));
    let dir = FixtureDir::new();
    let srv = TestServer::start(record_config(dir.path(), &up.url())).await;
    let body =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}).to_string();
    let live = request(
        "POST",
        &srv.url("/v1/chat/completions"),
        body.clone().into_bytes(),
        &[],
    )
    .await;
    assert_eq!(live.text(), page);
    let saved = fixtures(&dir.path().join("recorded/openai-raw.json"), 1).await;
    assert!(
        saved[0]["_raw"].as_str().unwrap().contains("no shape"),
        "{}",
        saved[0]
    );
    srv.stop().await;

    let srv = TestServer::start(strict_replay(dir.path())).await;
    let again = request(
        "POST",
        &srv.url("/v1/chat/completions"),
        body.into_bytes(),
        &[],
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.text(), page);
    assert_eq!(again.headers["content-type"], "text/html");
    srv.stop().await;
}

#[tokio::test]
async fn a_raw_fixture_never_holds_a_credential() {
    let fakes = credentials();
    let key = fakes
        .iter()
        .find(|f| f.kind == "OpenAI project")
        .unwrap()
        .text
        .clone();
    let aws = fakes
        .iter()
        .find(|f| f.kind.starts_with("AWS secret"))
        .unwrap()
        .text
        .clone();
    let reply = format!(
        "{{\"completions\":[{{\"data\":{{\"text\":\"use {key} to call it\"}}}}],\"config\":{{\"aws_secret_access_key\":\"{aws}\"}}}}"
    );
    let up = FakeUpstream::start().await;
    up.script(
        UNREAD_PATH,
        Script::body(200, "application/json", reply.clone()),
    );
    let dir = FixtureDir::new();
    let srv = TestServer::start(record_config(dir.path(), &up.url())).await;
    let body = format!("{{\"inputText\":\"my key is {key}\"}}");
    let auth = format!("Bearer {key}");
    let live = request(
        "POST",
        &srv.url(&format!("{UNREAD_PATH}?key={key}")),
        body.into_bytes(),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(
        live.text(),
        reply,
        "the client sees the live reply unchanged"
    );
    let file = dir.path().join("recorded/bedrock-raw.json");
    fixtures(&file, 1).await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(&key), "{text}");
    assert!(!text.contains(&aws), "{text}");
    assert!(text.contains("[REDACTED]"), "{text}");
    // What the upstream got still carried the credentials (they are forwarded).
    assert!(up.seen.lock().unwrap()[0].path_and_query.contains(&key));
    let journal = srv.get("/__aimock/journal").await.text();
    assert!(!journal.contains(&key), "{journal}");
    srv.stop().await;
}

#[tokio::test]
async fn check_lists_raw_fixtures_and_hand_written_ones_load() {
    let dir = FixtureDir::new();
    let digest = aimock::cassette::raw::body_digest(br#"{"inputText":"hi"}"#);
    let path = dir.write(
        "raw.json",
        json!([
            {"match": {"method": "POST", "path": UNREAD_PATH, "bodyDigest": digest},
             "response": {"raw": {"status": 429, "headers": {"content-type": "application/json",
                                  "x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"},
                                  "body": "{\"message\":\"Too many requests, please wait before trying again.\"}"}}},
            {"match": {"method": "POST", "path": UNREAD_PATH}, "response": {"raw": {"body": "x"}}},
            {"match": {"userMessage": "hi"}, "response": {"raw": {"body": "x"}}}
        ]),
    );
    let mut out = Vec::new();
    let summary = aimock::check::run(&[path], &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(summary.raw, 1, "{text}");
    assert_eq!(summary.errors, 2, "{text}");
    assert!(
        text.contains(&format!("raw: fixture #0: POST {UNREAD_PATH}")),
        "{text}"
    );
    assert!(
        text.contains("fixture #1: match.bodyDigest: missing"),
        "{text}"
    );
    assert!(
        text.contains("fixture #2: match: a raw response needs"),
        "{text}"
    );
    assert!(text.contains("1 raw (not editable)"), "{text}");

    // The hand-written one answers, throttling and all, through the Bedrock route.
    let srv = TestServer::with_fixtures(dir.path()).await;
    let r = request(
        "POST",
        &srv.url(UNREAD_PATH),
        br#"{ "inputText" : "hi" }"#.to_vec(),
        &[],
    )
    .await;
    assert_eq!(r.status, 429);
    assert!(r.headers["x-amzn-errortype"]
        .to_str()
        .unwrap()
        .starts_with("ThrottlingException"));
    srv.stop().await;
}

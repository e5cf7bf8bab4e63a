//! `aimock drift` against a fake upstream whose reply shape changes: each change is
//! reported at its level with the path named, failures are reported per fixture, and
//! nothing is written.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aimock::drift::{Options, Outcome, Report};
use serde_json::{json, Value};

use crate::support::{FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

const CHAT: &str = "/v1/chat/completions";
const MESSAGES: &str = "/v1/messages";

fn chat_request() -> Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "weather?"}]})
}

fn messages_request() -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
           "messages": [{"role": "user", "content": "hello claude"}]})
}

/// A cassette with two recordings that kept their request, one hand-written fixture
/// and one whose stored request is malformed.
fn cassette() -> FixtureDir {
    FixtureDir::with(
        "recorded/mixed.json",
        json!([
            {"match": {"userMessage": "weather?"}, "response": {"content": "Sunny."},
             "recordedRequest": {"method": "POST", "path": CHAT, "body": chat_request()}},
            {"match": {"userMessage": "hello claude"}, "response": {"content": "Hi there."},
             "recordedRequest": {"method": "POST", "path": MESSAGES,
                                 "headers": {"anthropic-version": "2023-06-01"}, "body": messages_request()}},
            {"match": {"userMessage": "by hand"}, "response": {"content": "no request"}},
            {"match": {"userMessage": "broken"}, "response": {"content": "x"},
             "recordedRequest": {"path": CHAT}}
        ]),
    )
}

/// What aimock itself answers the two stored requests with (the fake starts from it).
async fn renders(dir: &Path) -> (Value, String) {
    let s = TestServer::with_fixtures(dir).await;
    let chat = s.post(CHAT, &chat_request().to_string(), &[]).await.json();
    let stream = s
        .post(
            MESSAGES,
            &messages_request().to_string(),
            &[("anthropic-version", "2023-06-01")],
        )
        .await
        .text();
    (chat, stream)
}

fn options(dir: &Path, base: &str) -> Options {
    let mut upstreams = BTreeMap::new();
    for p in ["openai", "anthropic"] {
        upstreams.insert(
            p.to_string(),
            aimock::config::record::parse_base(p, base).unwrap(),
        );
    }
    Options {
        sources: vec![dir.to_path_buf()],
        upstreams,
        only: None,
        concurrency: 2,
        rate: None,
        timeout: Duration::from_secs(10),
        headers: vec![(
            "authorization".into(),
            "Bearer sk-test-not-a-real-key".into(),
        )],
        normalize: aimock::normalize::Normalizer::none(),
        rerecord: false,
        secrets: aimock::secrets::Detector::shared_builtin(),
    }
}

/// `(level, path)` of every finding for the fixture at `index`.
fn findings(r: &Report, index: usize) -> Vec<(String, String)> {
    let f = r
        .fixtures
        .iter()
        .find(|f| f.index == index)
        .expect("reported");
    match &f.outcome {
        Outcome::Compared(d) => d
            .iter()
            .map(|d| (d.level.as_str().to_string(), d.path.clone()))
            .collect(),
        other => panic!("fixture #{index} not compared: {other:?}"),
    }
}

fn pair(level: &str, path: &str) -> (String, String) {
    (level.to_string(), path.to_string())
}

#[tokio::test]
async fn each_shape_change_is_reported_at_its_level_with_its_path() {
    let dir = cassette();
    let (chat, stream) = renders(dir.path()).await;
    let up = FakeUpstream::start().await;
    let before = std::fs::read(dir.path().join("recorded/mixed.json")).unwrap();

    // The provider sends exactly what we render: nothing to say.
    up.script(
        CHAT,
        Script::body(200, "application/json", chat.to_string()),
    );
    up.script(
        MESSAGES,
        Script::body(200, "text/event-stream", stream.clone()),
    );
    let r = aimock::drift::run(options(dir.path(), &up.url()))
        .await
        .unwrap();
    assert!(findings(&r, 0).is_empty(), "{:?}", r.fixtures[0]);
    assert!(findings(&r, 1).is_empty(), "{:?}", r.fixtures[1]);
    assert_eq!(
        r.without_request, 1,
        "the hand-written fixture is not resent"
    );
    let broken = r.fixtures.iter().find(|f| f.index == 3).unwrap();
    match &broken.outcome {
        Outcome::Error(e) => assert!(e.contains("recordedRequest") && e.contains("method"), "{e}"),
        o => panic!("{o:?}"),
    }
    assert!(broken.file.ends_with("recorded/mixed.json"));
    // The upstream got the stored body and the credential given for it.
    let seen = up.seen.lock().unwrap().clone();
    let sent = seen.iter().find(|s| s.path_and_query == CHAT).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&sent.body).unwrap(),
        chat_request()
    );
    assert_eq!(
        sent.headers["authorization"],
        "Bearer sk-test-not-a-real-key"
    );
    let sent = seen.iter().find(|s| s.path_and_query == MESSAGES).unwrap();
    assert_eq!(sent.headers["anthropic-version"], "2023-06-01");

    // Added field: warning. Dropped field our render has: critical. New text: info.
    let mut changed = chat.clone();
    changed["choices"][0]["message"]["provenance"] = json!({"source": "web"});
    changed.as_object_mut().unwrap().remove("usage");
    changed["choices"][0]["message"]["content"] = "Rain later.".into();
    up.script(
        CHAT,
        Script::body(200, "application/json", changed.to_string()),
    );
    // A renamed stream event: critical for ours, warning for theirs.
    let renamed = stream.replace("event: message_stop", "event: message_end");
    up.script(MESSAGES, Script::body(200, "text/event-stream", renamed));
    let r = aimock::drift::run(options(dir.path(), &up.url()))
        .await
        .unwrap();
    assert_eq!(
        findings(&r, 0),
        [
            pair("critical", "usage"),
            pair("warning", "choices[].message.provenance"),
            pair("info", "choices[].message.content"),
        ]
    );
    let f1 = findings(&r, 1);
    assert!(
        f1.contains(&pair("critical", "event[message_stop]")),
        "{f1:?}"
    );
    assert!(
        f1.contains(&pair("warning", "event[message_end]")),
        "{f1:?}"
    );
    assert_eq!(r.exit_code(), 1);
    let text = {
        let mut out = Vec::new();
        r.write_text(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    assert!(
        text.contains("critical  usage: our render has it"),
        "{text}"
    );
    assert!(text.contains("mixed.json #1 POST /v1/messages:"), "{text}");
    let j = r.to_json();
    assert_eq!(j["summary"]["critical"], 2, "{j:#}");
    assert_eq!(j["summary"]["withoutRequest"], 1);

    // A changed type is critical too.
    let mut typed = chat.clone();
    typed["created"] = "yesterday".into();
    up.script(
        CHAT,
        Script::body(200, "application/json", typed.to_string()),
    );
    let mut only = options(dir.path(), &up.url());
    only.only = Some(regex::Regex::new("weather").unwrap());
    let r = aimock::drift::run(only).await.unwrap();
    assert_eq!(r.fixtures.len(), 1, "--only picks the one fixture");
    assert_eq!(findings(&r, 0), [pair("critical", "created")]);

    // Nothing was written.
    assert_eq!(
        std::fs::read(dir.path().join("recorded/mixed.json")).unwrap(),
        before
    );
}

#[tokio::test]
async fn an_upstream_that_fails_or_is_down_is_reported_per_fixture() {
    let dir = cassette();
    let (chat, _) = renders(dir.path()).await;
    let up = FakeUpstream::start().await;
    up.script(
        CHAT,
        Script::body(200, "application/json", chat.to_string()),
    );
    up.script(
        MESSAGES,
        Script::body(
            529,
            "application/json",
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        ),
    );
    let r = aimock::drift::run(options(dir.path(), &up.url()))
        .await
        .unwrap();
    assert!(findings(&r, 0).is_empty());
    match &r.fixtures.iter().find(|f| f.index == 1).unwrap().outcome {
        Outcome::Error(e) => assert!(e.contains("529") && e.contains("Overloaded"), "{e}"),
        o => panic!("{o:?}"),
    }
    // A head that never comes: the deadline, per fixture.
    up.script(
        CHAT,
        Script::body(200, "application/json", chat.to_string()).head_after(Duration::from_secs(30)),
    );
    let mut o = options(dir.path(), &up.url());
    o.timeout = Duration::from_millis(300);
    o.only = Some(regex::Regex::new("weather").unwrap());
    let r = aimock::drift::run(o).await.unwrap();
    match &r.fixtures[0].outcome {
        Outcome::Error(e) => assert!(e.contains("no complete reply within"), "{e}"),
        o => panic!("{o:?}"),
    }
    // Nobody listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let r = aimock::drift::run(options(dir.path(), &closed))
        .await
        .unwrap();
    let errors = r
        .fixtures
        .iter()
        .filter(|f| matches!(&f.outcome, Outcome::Error(e) if e.contains("request failed")))
        .count();
    assert_eq!(errors, 2, "{:?}", r.fixtures);
    assert_eq!(r.exit_code(), 1);
}

#[tokio::test]
async fn the_binary_prints_json_and_exits_1_on_a_critical_difference() {
    let dir = cassette();
    let (chat, stream) = renders(dir.path()).await;
    let up = FakeUpstream::start().await;
    up.script(MESSAGES, Script::body(200, "text/event-stream", stream));
    let mut dropped = chat.clone();
    dropped.as_object_mut().unwrap().remove("choices");
    up.script(
        CHAT,
        Script::body(200, "application/json", dropped.to_string()),
    );
    let url = up.url();
    let out = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || {
            Command::new(env!("CARGO_BIN_EXE_aimock"))
                .args([
                    "drift",
                    "--json",
                    "--only",
                    "^.*#[01] ",
                    "--provider-openai",
                    &url,
                    "--provider-anthropic",
                    &url,
                ])
                .arg(&dir)
                .env("OPENAI_API_KEY", "sk-test-not-a-real-key")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let j: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(out.status.code(), Some(1), "{j:#}");
    assert_eq!(j["summary"]["compared"], 2, "{j:#}");
    let f0 = &j["fixtures"][0];
    assert_eq!(f0["findings"][0]["level"], "critical", "{j:#}");
    assert_eq!(f0["findings"][0]["path"], "choices");
    // The environment's key went upstream.
    let seen = up.seen.lock().unwrap().clone();
    let chat_seen = seen.iter().find(|s| s.path_and_query == CHAT).unwrap();
    assert_eq!(
        chat_seen.headers["authorization"],
        "Bearer sk-test-not-a-real-key"
    );

    // No upstream: a clear error, exit 2.
    let out = Command::new(env!("CARGO_BIN_EXE_aimock"))
        .args(["drift"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs at least one upstream"));
}

#[tokio::test]
async fn rerecord_replaces_exactly_the_stale_recordings_in_place() {
    let dir = cassette();
    let (_, stream) = renders(dir.path()).await;
    // The provider now answers the weather question with a tool call.
    let tool_dir = FixtureDir::with(
        "t.json",
        json!([{"match": {"userMessage": "weather?"},
                "response": {"toolCalls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]}}]),
    );
    let tool_reply = {
        let s = TestServer::with_fixtures(tool_dir.path()).await;
        s.post(CHAT, &chat_request().to_string(), &[]).await.json()
    };
    let up = FakeUpstream::start().await;
    up.script(
        CHAT,
        Script::body(200, "application/json", tool_reply.to_string()),
    );
    up.script(MESSAGES, Script::body(200, "text/event-stream", stream));
    let file = dir.path().join("recorded/mixed.json");
    let before: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();

    let mut o = options(dir.path(), &up.url());
    o.rerecord = true;
    let r = aimock::drift::run(o).await.unwrap();
    assert!(r.rerecord_problems.is_empty(), "{:?}", r.rerecord_problems);
    let f0 = r.fixtures.iter().find(|f| f.index == 0).unwrap();
    assert!(f0.rerecorded, "{f0:?}");
    assert!(
        findings(&r, 0).contains(&pair("warning", "choices[].message.tool_calls")),
        "{:?}",
        findings(&r, 0)
    );
    assert!(
        !r.fixtures.iter().find(|f| f.index == 1).unwrap().rerecorded,
        "same shape: kept"
    );

    let after: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let fx = &after["fixtures"];
    assert_eq!(fx.as_array().unwrap().len(), 4);
    assert_eq!(
        fx[0]["response"]["toolCalls"][0]["name"], "get_weather",
        "{fx:#}"
    );
    assert_eq!(fx[0]["match"]["userMessage"], "weather?");
    assert_eq!(fx[0]["recordedRequest"]["body"], chat_request());
    assert!(
        !std::fs::read_to_string(&file)
            .unwrap()
            .contains("sk-test-not-a-real-key"),
        "the credential used upstream is not recorded"
    );
    for i in 1..4 {
        assert_eq!(fx[i], before["fixtures"][i], "fixture #{i} untouched");
    }
    let mut text = Vec::new();
    r.write_text(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("#0 POST /v1/chat/completions (re-recorded):"),
        "{text}"
    );
    assert!(text.contains("1 stale recording(s) replaced"), "{text}");

    // Compared again, the fresh recording has the provider's shape.
    let r = aimock::drift::run(options(dir.path(), &up.url()))
        .await
        .unwrap();
    let left: Vec<_> = findings(&r, 0)
        .into_iter()
        .filter(|(l, _)| l != "info")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

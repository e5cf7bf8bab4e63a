//! Recordings keep their request (`recordedRequest`): method, path and JSON body, with
//! every credential removed, in a field replay ignores and the listing names.

use std::path::Path;

use aimock::secrets::fakes::credentials;
use serde_json::{json, Value};

use crate::record::fixtures_in;
use crate::support::{request, FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

const CHAT: &str = "/v1/chat/completions";
const REPLY: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Noted."},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"#;

fn fake_key() -> String {
    credentials()
        .iter()
        .find(|f| f.kind == "OpenAI project")
        .expect("a fake OpenAI key")
        .text
        .clone()
}

fn check(dir: &Path) -> (aimock::check::Summary, String) {
    let mut out = Vec::new();
    let s = aimock::check::run(&[dir.to_path_buf()], &mut out).unwrap();
    (s, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn a_recording_stores_its_request_without_the_credentials_it_carried() {
    let key = fake_key();
    let up = FakeUpstream::start().await;
    up.script(CHAT, Script::body(200, "application/json", REPLY));
    let dir = FixtureDir::new();
    let srv = TestServer::start(crate::support::recording(
        dir.path(),
        &["openai"],
        &up.url(),
    ))
    .await;
    let body = json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": format!("remember my key {key} please")}
        ]
    })
    .to_string();
    let auth = format!("Bearer {key}");
    let live = srv
        .post(
            &format!("{CHAT}?trace=1&api_key={key}"),
            &body,
            &[("authorization", &auth), ("openai-beta", "assistants=v2")],
        )
        .await;
    assert_eq!(live.text(), REPLY);
    // The upstream got the credential (it is forwarded); the disk does not.
    assert_eq!(up.seen.lock().unwrap()[0].headers["authorization"], auth);

    let file = dir.path().join("recorded/openai.json");
    let doc = fixtures_in(&file, 1).await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(&key), "{text}");
    let stored = &doc["fixtures"][0]["recordedRequest"];
    assert_eq!(stored["method"], "POST");
    assert_eq!(
        stored["path"],
        "/v1/chat/completions?trace=1&api_key=[REDACTED]"
    );
    assert_eq!(stored["headers"]["openai-beta"], "assistants=v2");
    assert_eq!(stored["headers"]["content-type"], "application/json");
    assert!(stored["headers"].get("authorization").is_none(), "{stored}");
    assert_eq!(stored["body"]["model"], "gpt-4o");
    assert_eq!(stored["body"]["messages"][0]["content"], "be brief");
    assert_eq!(
        stored["body"]["messages"][1]["content"],
        "remember my key [REDACTED] please"
    );
    // The match is built from the same redacted text.
    assert_eq!(
        doc["fixtures"][0]["match"]["userMessage"],
        "remember my key [REDACTED] please"
    );

    // The listing names the stored request (method and path; the body stays on disk).
    let list = srv.get("/__aimock/fixtures?include=fixtures").await.json();
    let listed = &list["fixtures"][0];
    assert_eq!(
        listed["recordedRequest"],
        json!({"method": "POST", "path": "/v1/chat/completions?trace=1&api_key=[REDACTED]"}),
        "{list}"
    );
    srv.stop().await;

    // `aimock check` has nothing to say about the field.
    let (summary, out) = check(&dir.path().join("recorded"));
    assert_eq!((summary.errors, summary.warnings), (0, 0), "{out}");
    assert_eq!(summary.fixtures, 1);

    // A strict replay answers from it and never reads the stored request.
    let mut rc = aimock::config::Config::for_tests(vec![dir.path().join("recorded")]);
    rc.strict = true;
    let srv = TestServer::start(rc).await;
    let again = srv.post(CHAT, &body.replace(&key, "[REDACTED]"), &[]).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.json()["choices"][0]["message"]["content"], "Noted.");
    srv.stop().await;
}

#[tokio::test]
async fn a_raw_exchange_stores_its_request_too() {
    // A family aimock does not read (AI21 Jurassic), so the exchange is saved raw.
    const UNREAD: &str = "/model/ai21.j2-ultra-v1/invoke";
    let key = fake_key();
    let up = FakeUpstream::start().await;
    up.script(
        UNREAD,
        Script::body(
            200,
            "application/json",
            r#"{"results":[{"outputText":"hi"}]}"#,
        ),
    );
    let dir = FixtureDir::new();
    let srv = TestServer::start(crate::support::recording(
        dir.path(),
        &["bedrock"],
        &up.url(),
    ))
    .await;
    let body =
        format!(r#"{{"inputText":"key {key}","textGenerationConfig":{{"maxTokenCount":5}}}}"#);
    let r = request("POST", &srv.url(UNREAD), body.into_bytes(), &[]).await;
    assert_eq!(r.status, 200);
    let doc = fixtures_in(&dir.path().join("recorded/bedrock-raw.json"), 1).await;
    let fx = &doc["fixtures"][0];
    assert!(fx.get("_raw").is_some(), "{fx}");
    assert_eq!(fx["recordedRequest"]["path"], UNREAD);
    assert_eq!(fx["recordedRequest"]["body"]["inputText"], "key [REDACTED]");
    assert_eq!(
        fx["recordedRequest"]["body"]["textGenerationConfig"],
        json!({"maxTokenCount": 5})
    );
    srv.stop().await;
}

#[tokio::test]
async fn cassettes_without_a_stored_request_and_odd_ones_load_unchanged() {
    let dir = FixtureDir::with(
        "c.json",
        json!([
            {"match": {"userMessage": "a"}, "response": {"content": "A"}},
            {"match": {"userMessage": "b"}, "response": {"content": "B"},
             "recordedRequest": {"method": "POST", "path": "/v1/chat/completions", "body": {"messages": []}}}
        ]),
    );
    let (summary, out) = check(dir.path());
    assert_eq!(
        (summary.errors, summary.warnings, summary.fixtures),
        (0, 0, 2),
        "{out}"
    );
    let srv = TestServer::with_fixtures(dir.path()).await;
    assert_eq!(srv.answer("a").await.as_deref(), Some("A"));
    assert_eq!(srv.answer("b").await.as_deref(), Some("B"));
    let list: Value = srv.get("/__aimock/fixtures?include=fixtures").await.json();
    assert!(
        list["fixtures"][0].get("recordedRequest").is_none(),
        "{list}"
    );
    assert_eq!(list["fixtures"][1]["recordedRequest"]["method"], "POST");
}

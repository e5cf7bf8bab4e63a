//! No credential reaches the disk or the journal: a recording whose request (messages,
//! tool arguments, headers, query string) and upstream reply carry a credential of every
//! shape the detector knows, checked in the cassette written and the journal read back.

use serde_json::json;

use aimock::secrets::fakes::credentials;

use crate::record::{config, fixtures_in};
use crate::support::{FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

#[tokio::test]
async fn credentials_of_every_shape_are_kept_out_of_the_cassette_and_the_journal() {
    let fakes = credentials();
    let all: Vec<String> = fakes.iter().map(|f| f.text.clone()).collect();
    let joined = all.join("\n");

    let reply = json!({
        "id": "chatcmpl-secrets", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": format!("Echo:\n{joined}")}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    });
    let up = FakeUpstream::start().await;
    up.script(
        "/v1/chat/completions",
        Script::body(200, "application/json", reply.to_string()),
    );
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &up.url())).await;

    let body = json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": format!("Config:\n{joined}")},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "deploy", "arguments": json!({"env": all}).to_string()}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": joined.clone()},
            {"role": "user", "content": format!("Here are my keys: {joined}")},
        ],
    });
    let bearer = format!("Bearer {}", fakes[0].text);
    let query_key = fakes.iter().find(|f| f.kind == "Google API").unwrap();
    let r = s
        .post(
            &format!("/v1/chat/completions?key={}&trace=1", query_key.text),
            &body.to_string(),
            &[
                ("authorization", bearer.as_str()),
                ("x-custom-token", fakes[5].text.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let cassette = fixtures_in(&dir.path().join("recorded/openai.json"), 1).await;
    let on_disk = cassette.to_string();
    let journal = s.get("/__aimock/journal").await.text();
    assert!(on_disk.contains("[REDACTED]") && journal.contains("[REDACTED]"));
    let mut leaks = Vec::new();
    for f in &fakes {
        // JSON text escapes newlines; compare against the escaped tail too.
        let tail = f.tail();
        let escaped = serde_json::to_string(tail).unwrap();
        let escaped = escaped.trim_matches('"');
        for (place, text) in [("cassette", &on_disk), ("journal", &journal)] {
            if text.contains(tail) || text.contains(escaped) {
                leaks.push(format!("{} in the {place}", f.kind));
            }
        }
    }
    assert!(leaks.is_empty(), "leaked: {leaks:#?}");
}

#[tokio::test]
async fn credentials_a_request_carries_never_reach_the_log() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {"userMessage": "hello"}, "response": {"content": "hi"}}]),
    );
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aimock"))
        .args([
            "replay",
            "--no-watch",
            "-p",
            "0",
            "--log-level",
            "debug",
            "-f",
        ])
        .arg(dir.path().join("a.json"))
        .env_remove("AIMOCK_LOG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("aimock listening on ")
        .unwrap()
        .to_string();

    let fakes = credentials();
    for f in &fakes {
        // A miss: the log line names what was asked.
        let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": format!("key {}", f.text)}]});
        let r = crate::support::request(
            "POST",
            &format!("{base}/v1/chat/completions"),
            body.to_string().into_bytes(),
            &[("content-type", "application/json")],
        )
        .await;
        assert_eq!(r.status, 404);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("[REDACTED]"),
        "the misses were logged: {text}"
    );
    let leaks: Vec<_> = fakes
        .iter()
        .filter(|f| text.contains(f.tail()))
        .map(|f| f.kind)
        .collect();
    assert!(leaks.is_empty(), "in the log: {leaks:?}");
}

#[tokio::test]
async fn configured_patterns_and_allowlist_apply_to_recordings_and_the_journal() {
    let reply = json!({
        "id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "badge corp-654321 issued"}}]
    });
    let up = FakeUpstream::start().await;
    up.script(
        "/v1/chat/completions",
        Script::body(200, "application/json", reply.to_string()),
    );
    let dir = FixtureDir::new();
    let mut c = config(dir.path(), "openai", &up.url());
    let allowed = format!("ghp_{}", "0".repeat(36));
    c.secrets = std::sync::Arc::new(
        aimock::secrets::Detector::new(
            &["corp-[0-9]{6}".to_string()],
            std::slice::from_ref(&allowed),
        )
        .unwrap(),
    );
    let s = TestServer::start(c).await;
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user",
        "content": format!("my badge corp-123456 and the fixture token {allowed}")}]});
    let r = s.post("/v1/chat/completions", &body.to_string(), &[]).await;
    assert_eq!(r.status, 200);
    let on_disk = fixtures_in(&dir.path().join("recorded/openai.json"), 1)
        .await
        .to_string();
    let journal = s.get("/__aimock/journal").await.text();
    for text in [&on_disk, &journal] {
        assert!(!text.contains("corp-123456"), "{text}");
        assert!(
            text.contains(&allowed),
            "the allowlisted value stays: {text}"
        );
    }
    assert!(!on_disk.contains("corp-654321"), "{on_disk}");
}

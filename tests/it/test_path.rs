//! The test-id path prefix (`/__test/{id}/...`) through every kind of route: each
//! provider surface keeps its sequence counts per prefixed id and journals the id with
//! the stripped path; record mode forwards the stripped path upstream and files the
//! recording under the id; a realtime WebSocket upgrade and a mounted service take the
//! id from the prefix too.

use std::sync::Arc;

use aimock::config::Config;
use aimock::server::{Body, Mounts};
use aimock::services::{Reply, Service, ServiceRequest};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{recording, FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

fn sequences() -> FixtureDir {
    FixtureDir::with(
        "seq.json",
        json!([
            {"match": {"userMessage": "seq", "sequenceIndex": 0}, "response": {"content": "first-reply"}},
            {"match": {"userMessage": "seq", "sequenceIndex": 1}, "response": {"content": "second-reply"}},
            {"match": {"inputText": "seqemb", "sequenceIndex": 0}, "response": {"embedding": [0.125, 0.5]}},
            {"match": {"inputText": "seqemb", "sequenceIndex": 1}, "response": {"embedding": [0.375, 0.5]}},
            {"match": {"userMessage": "seqimg", "sequenceIndex": 0}, "response": {"image": {"url": "https://img.invalid/first.png"}}},
            {"match": {"userMessage": "seqimg", "sequenceIndex": 1}, "response": {"image": {"url": "https://img.invalid/second.png"}}}
        ]),
    )
}

/// Every provider surface with a request asking the sequence fixtures, and what the
/// first and the second reply contain.
fn surfaces() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    let chat = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "seq"}]});
    let anthropic = json!({"model": "claude-sonnet-4-5", "max_tokens": 50,
        "messages": [{"role": "user", "content": "seq"}]});
    let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "seq"}]}]});
    let (first, second) = ("first-reply", "second-reply");
    vec![
        ("/v1/chat/completions", chat.clone(), first, second),
        (
            "/v1/responses",
            json!({"model": "gpt-4.1", "input": "seq"}),
            first,
            second,
        ),
        (
            "/openai/deployments/dep-1/chat/completions?api-version=2024-10-21",
            chat.clone(),
            first,
            second,
        ),
        ("/v1/messages", anthropic.clone(), first, second),
        (
            "/v1beta/models/gemini-2.5-flash:generateContent",
            gemini.clone(),
            first,
            second,
        ),
        (
            "/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
            gemini,
            first,
            second,
        ),
        (
            "/model/anthropic.claude-3-haiku/invoke",
            json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "seq"}]}]}),
            first,
            second,
        ),
        (
            "/model/amazon.nova-lite-v1/converse",
            json!({"messages": [{"role": "user", "content": [{"text": "seq"}]}]}),
            first,
            second,
        ),
        (
            "/v2/chat",
            json!({"model": "command-r", "messages": [{"role": "user", "content": "seq"}]}),
            first,
            second,
        ),
        (
            "/api/chat",
            json!({"model": "llama3", "stream": false, "messages": [{"role": "user", "content": "seq"}]}),
            first,
            second,
        ),
        (
            "/v1/embeddings",
            json!({"model": "text-embedding-3-small", "input": "seqemb"}),
            "0.125",
            "0.375",
        ),
        (
            "/api/embed",
            json!({"model": "nomic-embed-text", "input": "seqemb"}),
            "0.125",
            "0.375",
        ),
        (
            "/v1/images/generations",
            json!({"model": "gpt-image-1", "prompt": "seqimg"}),
            "first.png",
            "second.png",
        ),
    ]
}

#[tokio::test]
async fn every_provider_route_keeps_sequences_per_prefixed_test_id_and_journals_the_stripped_path()
{
    let dir = sequences();
    let s = TestServer::with_fixtures(dir.path()).await;
    for (i, (path, body, first, second)) in surfaces().into_iter().enumerate() {
        let (a, b) = (format!("suite-a-{i}"), format!("suite-b-{i}"));
        let body = body.to_string();
        let mut got = Vec::new();
        for id in [&a, &a, &b] {
            let r = s.post(&format!("/__test/{id}{path}"), &body, &[]).await;
            assert_eq!(r.status, 200, "{path} under {id}: {}", r.text());
            got.push(r.text());
        }
        assert!(got[0].contains(first), "{path}: {}", got[0]);
        assert!(got[1].contains(second), "{path}: {}", got[1]);
        assert!(
            got[2].contains(first),
            "{path}: another test id starts its own sequence: {}",
            got[2]
        );

        let journal = s.get(&format!("/__aimock/journal?testId={a}")).await.json();
        let entries = journal.as_array().unwrap();
        assert_eq!(entries.len(), 2, "{path}: {journal}");
        for e in entries {
            assert_eq!(e["testId"], a.as_str(), "{path}");
            assert_eq!(e["path"], path, "the journal has the stripped path");
            assert_eq!(e["headers"]["x-test-id"], a.as_str(), "{path}");
        }
    }
}

#[tokio::test]
async fn the_prefix_wins_over_a_header_is_percent_decoded_and_a_plain_request_is_unchanged() {
    let dir = sequences();
    let s = TestServer::with_fixtures(dir.path()).await;
    let body =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "seq"}]}).to_string();
    let r = s
        .post(
            "/__test/tests%2Ftest_x.py%3A%3Atest_a/v1/chat/completions",
            &body,
            &[("x-test-id", "from-header")],
        )
        .await;
    assert!(r.text().contains("first-reply"), "{}", r.text());
    // The header's own scope has not been used yet.
    let r = s
        .post(
            "/v1/chat/completions",
            &body,
            &[("x-test-id", "from-header")],
        )
        .await;
    assert!(r.text().contains("first-reply"), "{}", r.text());
    let journal = s.get("/__aimock/journal").await.json();
    let ids: Vec<&str> = journal
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["testId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["tests/test_x.py::test_a", "from-header"]);

    // A decoded id that cannot be a header value is refused, in a JSON error.
    let r = s
        .post("/__test/bad%0Aid/v1/chat/completions", &body, &[])
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("test id"), "{}", r.text());
    // Probes and the control API answer under the prefix as well.
    assert_eq!(s.get("/__test/t/health").await.status, 200);
    assert!(s.get("/__test/t/__aimock/journal").await.json().is_array());
}

#[tokio::test]
async fn record_mode_forwards_the_stripped_path_and_files_the_recording_under_the_test_id() {
    let up = FakeUpstream::start().await;
    let reply = json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "recorded answer"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}});
    up.script(
        "/v1/chat/completions",
        Script::body(200, "application/json", reply.to_string()),
    );
    let dir = FixtureDir::new();
    let s = TestServer::start(recording(dir.path(), &["openai"], &up.url())).await;
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "record me"}]})
        .to_string();
    let r = s
        .post(
            "/__test/rec-suite/v1/chat/completions",
            &body,
            &[("authorization", "Bearer sk-test-not-a-real-key")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("recorded answer"));

    let seen = up.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path_and_query, "/v1/chat/completions");
    assert!(
        seen[0].headers.get("x-test-id").is_none(),
        "aimock's own scope header is not forwarded"
    );

    let file = dir.path().join("recorded/rec-suite/openai.json");
    crate::support::eventually("the recording is written", || file.exists()).await;
    let journal = s.get("/__aimock/journal").await.json();
    assert_eq!(journal[0]["testId"], "rec-suite");
    assert_eq!(journal[0]["path"], "/v1/chat/completions");
}

#[tokio::test]
async fn a_realtime_upgrade_takes_its_test_id_from_the_prefix() {
    let dir = sequences();
    let s = TestServer::with_fixtures(dir.path()).await;
    let mut transcripts = Vec::new();
    for id in ["ws-a", "ws-a", "ws-b"] {
        let url = format!("ws://{}/__test/{id}/v1/realtime?model=m", s.addr);
        let (mut ws, resp) = tokio_tungstenite::connect_async(url).await.unwrap();
        assert_eq!(resp.status(), 101);
        let item = json!({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "seq"}]}});
        ws.send(Message::text(item.to_string())).await.unwrap();
        ws.send(Message::text(r#"{"type":"response.create"}"#))
            .await
            .unwrap();
        let done = loop {
            let m = tokio::time::timeout(crate::support::DEADLINE, ws.next())
                .await
                .expect("an event in time")
                .expect("open")
                .expect("a frame");
            if let Message::Text(t) = m {
                let e: Value = serde_json::from_str(t.as_str()).unwrap();
                if e["type"] == "response.done" {
                    break e;
                }
            }
        };
        transcripts.push(
            done["response"]["output"][0]["content"][0]["transcript"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert_eq!(transcripts, ["first-reply", "second-reply", "first-reply"]);
    let ws: Vec<Value> = s
        .state
        .journal
        .entries()
        .iter()
        .map(|e| e.to_json())
        .filter(|e| e["method"] == "WS")
        .collect();
    assert_eq!(ws.len(), 3);
    assert_eq!(ws[0]["testId"], "ws-a");
    assert_eq!(ws[2]["testId"], "ws-b");
    assert_eq!(ws[0]["path"], "/v1/realtime?model=m");
}

/// Echoes the path and test id it was handed.
struct Echo;

impl Service for Echo {
    fn name(&self) -> &str {
        "echo"
    }
    fn prefix(&self) -> &str {
        "/echo-svc"
    }
    fn handle(&self, req: ServiceRequest) -> Reply<'_> {
        Box::pin(async move {
            let id = req
                .headers
                .get("x-test-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = json!({"path": req.path, "testId": id});
            http::Response::new(Body::full(body.to_string()))
        })
    }
    fn health(&self) -> Value {
        json!({"status": "ok"})
    }
    fn reset(&self) {}
}

#[tokio::test]
async fn a_mounted_service_sees_the_stripped_path_and_the_test_id_which_the_journal_keeps() {
    let dir = FixtureDir::new();
    let mut mounts = Mounts::default();
    mounts.services.mount(Arc::new(Echo)).unwrap();
    let s = TestServer::start_with(Config::for_tests(vec![dir.path().to_path_buf()]), mounts).await;
    let r = s.post("/__test/svc-1/echo-svc/rpc", "{}", &[]).await;
    assert_eq!(
        r.json(),
        json!({"path": "/echo-svc/rpc", "testId": "svc-1"})
    );
    let journal = s.get("/__aimock/journal?testId=svc-1").await.json();
    assert_eq!(journal.as_array().unwrap().len(), 1, "{journal}");
    assert_eq!(journal[0]["service"], "echo");
    assert_eq!(journal[0]["path"], "/echo-svc/rpc");
}

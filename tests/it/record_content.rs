//! Every content type survives the collapse (issue 19 item 3): each real-shaped capture
//! under `tests/data/content/` (server tool blocks, citations, annotations, logprobs,
//! refusals, code execution, grounding, signed and redacted reasoning, in-band stream
//! errors, ...) is served by a fake upstream, recorded through aimock (relayed byte for
//! byte, saved without the credential), and replayed strictly. The replay, read back by
//! the same collapser, must give the very fixture that was recorded, native items and
//! fields included: the SDK gets the same items in the same order.

use crate::support::recorded_fixture;
use std::time::Duration;

use aimock::providers::Surface;
use aimock::server::router::{route, Route};
use serde_json::{json, Value};

use crate::support::{FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

const CONTENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/content");

struct Capture {
    name: String,
    body: Vec<u8>,
    content_type: &'static str,
    /// The request path, query included (`?alt=sse`).
    path: String,
    stream: bool,
}

fn captures() -> Vec<Capture> {
    let mut out = Vec::new();
    for dir in [
        "anthropic",
        "openai",
        "gemini",
        "bedrock",
        "cohere",
        "ollama",
    ] {
        let mut names: Vec<String> = std::fs::read_dir(format!("{CONTENT}/{dir}"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".meta.json"))
            .collect();
        names.sort();
        for n in names {
            let meta: Value = serde_json::from_slice(
                &std::fs::read(format!("{CONTENT}/{dir}/{n}.meta.json")).unwrap(),
            )
            .unwrap();
            let ct = meta["response"]["content_type"].as_str().unwrap();
            let content_type = if ct.contains("event-stream") {
                "text/event-stream; charset=utf-8"
            } else if ct.contains("ndjson") {
                "application/x-ndjson"
            } else {
                "application/json"
            };
            out.push(Capture {
                name: format!("{dir}/{n}"),
                body: std::fs::read(format!("{CONTENT}/{dir}/{n}")).unwrap(),
                content_type,
                path: meta["request"]["path"].as_str().unwrap().to_string(),
                stream: meta["stream"].as_bool().unwrap(),
            });
        }
    }
    out
}

fn surface_of(path: &str) -> Surface {
    let path = path.split('?').next().unwrap();
    match route(&http::Method::POST, path) {
        Route::Provider(s) => s,
        other => panic!("{path} routes to {other:?}"),
    }
}

/// A request the surface accepts, asking `user`, streamed as the capture was.
fn request_body(path: &str, user: &str, stream: bool) -> String {
    let chat = json!({"role": "user", "content": user});
    if path.starts_with("/v1/embeddings") {
        json!({"model": "text-embedding-3-small", "input": [user, "second"], "encoding_format": "base64"})
    } else if path.starts_with("/v2/embed") {
        json!({"model": "embed-v4.0", "texts": [user, "second"], "input_type": "search_document",
               "embedding_types": ["float", "int8", "uint8", "binary", "ubinary", "base64"]})
    } else if path.ends_with(":batchEmbedContents") {
        json!({"requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": user}]}},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "second"}]}}]})
    } else if path.starts_with("/api/embed") {
        json!({"model": "nomic-embed-text", "input": [user, "second"]})
    } else if path.starts_with("/v1/chat/completions") {
        json!({"model": "gpt-4o", "stream": stream, "stream_options": {"include_usage": true}, "messages": [chat]})
    } else if path.starts_with("/v1/responses") {
        json!({"model": "gpt-4.1", "input": user, "stream": stream})
    } else if path.starts_with("/v1/messages") {
        json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": stream, "messages": [chat]})
    } else if path.starts_with("/v2/chat") {
        json!({"model": "command-a-03-2025", "stream": stream, "messages": [chat]})
    } else if path.starts_with("/api/chat") {
        json!({"model": "qwen3:8b", "stream": stream, "messages": [chat]})
    } else if path.contains("/converse") {
        json!({"messages": [{"role": "user", "content": [{"text": user}]}]})
    } else {
        json!({"contents": [{"role": "user", "parts": [{"text": user}]}]})
    }
    .to_string()
}

/// Tool arguments compared as JSON values: replays re-serialise them compactly.
fn normalised(mut response: Value) -> Value {
    for list in ["toolCalls", "items"] {
        if let Some(calls) = response.get_mut(list).and_then(Value::as_array_mut) {
            for c in calls {
                if let Some(a) = c.get("arguments").and_then(Value::as_str) {
                    c["arguments"] = serde_json::from_str(a).unwrap_or(json!(a));
                }
            }
        }
    }
    response
}

#[tokio::test]
async fn every_content_capture_records_relays_and_replays_with_the_same_items() {
    let all = captures();
    assert!(all.len() >= 15, "{} captures", all.len());
    let up = FakeUpstream::start().await;
    let fixtures = FixtureDir::new();
    let providers = [
        "openai",
        "anthropic",
        "bedrock",
        "gemini",
        "cohere",
        "ollama",
    ];
    let rec = TestServer::start(crate::support::recording(
        fixtures.path(),
        &providers,
        &up.url(),
    ))
    .await;
    let mut recorded = Vec::new();
    for (i, cap) in all.iter().enumerate() {
        let surface = surface_of(&cap.path);
        let mut script = Script::body(200, cap.content_type, cap.body.clone());
        if cap.stream {
            script = script.chunked(61, Duration::ZERO);
        }
        up.script(cap.path.split('?').next().unwrap(), script);
        let user = format!("content capture {i}: {}", cap.name);
        let body = request_body(&cap.path, &user, cap.stream);
        let test_id = format!("content-{i}");
        let r = rec
            .post(
                &cap.path,
                &body,
                &[
                    ("authorization", "Bearer sk-test-not-a-real-key"),
                    ("x-api-key", "sk-ant-api03-test-not-a-real-key-0123456789"),
                    ("x-goog-api-key", "AIzaSy-test-not-a-real-key-000000000"),
                    ("x-test-id", &test_id),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", cap.name);
        assert_eq!(
            r.bytes().as_ref(),
            &cap.body[..],
            "{}: relayed as sent",
            cap.name
        );
        let file = fixtures
            .path()
            .join(format!("recorded/{test_id}/{}.json", surface.provider()));
        let fx = recorded_fixture(&file).await;
        let on_disk = std::fs::read_to_string(&file).unwrap();
        assert!(
            !on_disk.contains("not-a-real-key"),
            "{}: credential on disk",
            cap.name
        );
        if !cap.name.starts_with("ollama/api-chat") {
            assert!(
                fx["response"]["native"]["provider"].is_string(),
                "{}: {}",
                cap.name,
                fx["response"]
            );
        }
        recorded.push((cap, surface, body, fx));
    }
    assert_eq!(up.hits(), all.len());
    rec.stop().await;

    let mut strict = aimock::config::Config::for_tests(vec![fixtures.path().to_path_buf()]);
    strict.strict = true;
    let replay = TestServer::start(strict).await;
    for (cap, surface, body, fx) in recorded {
        let response = &fx["response"];
        let r = replay.post(&cap.path, &body, &[]).await;
        assert_eq!(r.status, 200, "{}: replay status", cap.name);
        let ct = r.headers["content-type"].to_str().unwrap().to_string();
        let (again, _) = surface.collapse(r.status, &ct, r.bytes()).to_response();
        assert_eq!(
            normalised(again),
            normalised(response.clone()),
            "{}: the replay reads back as the recorded fixture",
            cap.name
        );
    }
}

#[tokio::test]
async fn a_recording_with_server_tool_blocks_replays_as_text_through_another_provider() {
    let fixtures = FixtureDir::new();
    let capture = std::fs::read(format!(
        "{CONTENT}/anthropic/messages-stream-web-search-citations.sse"
    ))
    .unwrap();
    let c = surface_of("/v1/messages").collapse(200, "text/event-stream", &capture);
    let (response, _) = c.to_response();
    std::fs::write(
        fixtures.path().join("f.json"),
        json!({"fixtures": [{"match": {"userMessage": "weather"}, "response": response}]})
            .to_string(),
    )
    .unwrap();
    let mut strict = aimock::config::Config::for_tests(vec![fixtures.path().to_path_buf()]);
    strict.strict = true;
    let server = TestServer::start(strict).await;
    let r = server
        .post(
            "/v1/chat/completions",
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"weather?"}]}"#,
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(r.bytes()).unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "I'll search for that.It is cloudy and 30°F in New York."
    );
    assert!(v["choices"][0]["message"].get("tool_calls").is_none());
    assert!(!String::from_utf8_lossy(r.bytes()).contains("srvtoolu"));
}

//! Record mode for OpenAI Responses, Anthropic Messages and Bedrock (invoke, converse,
//! both streamed and not): every golden capture of those surfaces is served by the fake
//! upstream, recorded through aimock, and replayed strictly. The replayed reply, read
//! back by the same collapser, must give the very fixture that was recorded.

use crate::support::recorded_fixture;
use std::path::Path;
use std::time::Duration;

use aimock::providers::Surface;
use aimock::server::router::{route, Route};
use serde_json::{json, Value};

use crate::support::{FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden");

/// One capture and what its `.meta.json` says about it.
struct Capture {
    name: String,
    body: Vec<u8>,
    status: u16,
    content_type: &'static str,
    /// The request path, percent-encoding kept (Bedrock model ids carry `%3A`).
    path: String,
    stream: bool,
}

fn captures(dir: &str, prefix: &str) -> Vec<Capture> {
    let mut out = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(format!("{GOLDEN}/{dir}"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && !n.ends_with(".meta.json"))
        .collect();
    names.sort();
    for n in names {
        let meta: Value = serde_json::from_slice(
            &std::fs::read(format!("{GOLDEN}/{dir}/{n}.meta.json")).unwrap(),
        )
        .unwrap();
        // The captures added for issue 19 (server tools, other Bedrock families, ...)
        // are held by `golden_captures`, which lists the ones that do not round-trip yet.
        if meta["added_for"].is_string() {
            continue;
        }
        let ct = meta["response"]["content_type"].as_str().unwrap();
        // The fake answers with a static content type: pick the one the capture had.
        let content_type = if ct.contains("amazon.eventstream") {
            "application/vnd.amazon.eventstream"
        } else if ct.contains("event-stream") {
            "text/event-stream; charset=utf-8"
        } else {
            "application/json"
        };
        out.push(Capture {
            name: format!("{dir}/{n}"),
            body: std::fs::read(format!("{GOLDEN}/{dir}/{n}")).unwrap(),
            status: meta["response"]["status"].as_u64().unwrap() as u16,
            content_type,
            path: meta["request"]["path"].as_str().unwrap().to_string(),
            stream: meta["stream"].as_bool().unwrap(),
        });
    }
    assert!(!out.is_empty(), "no captures under {dir}/{prefix}");
    out
}

/// A request this surface accepts, asking `user`, streamed as the capture was.
fn request_body(surface: &Surface, user: &str, stream: bool) -> String {
    match surface {
        Surface::OpenAi(aimock::providers::openai::Op::Responses) => json!({"model": "gpt-4.1", "input": user, "stream": stream}),
        Surface::Anthropic(aimock::providers::anthropic::Op::Messages) => json!({"model": "claude-sonnet-4-5", "max_tokens": 100,
            "stream": stream, "messages": [{"role": "user", "content": user}]}),
        Surface::Bedrock(aimock::providers::bedrock::Op::Invoke { .. }) => json!({"anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100, "messages": [{"role": "user", "content": [{"type": "text", "text": user}]}]}),
        Surface::Bedrock(aimock::providers::bedrock::Op::Converse { .. }) => {
            json!({"messages": [{"role": "user", "content": [{"text": user}]}]})
        }
        other => panic!("{other:?} is not under test here"),
    }
    .to_string()
}

fn record_config(dir: &Path, base: &str) -> aimock::config::Config {
    crate::support::recording(dir, &["openai", "anthropic", "bedrock"], base)
}

/// Tool arguments compared as JSON values: replays may re-serialise them compactly.
fn normalised(mut response: Value) -> Value {
    for list in ["toolCalls", "blocks"] {
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

fn surface_of(path: &str) -> Surface {
    match route(&http::Method::POST, path) {
        Route::Provider(s) => s,
        other => panic!("{path} routes to {other:?}"),
    }
}

/// Record every capture under `dir/prefix`, then replay each strictly and check that
/// the replay collapses back into the recorded fixture.
async fn round_trip_every_capture(dir: &str, prefix: &str) {
    // Titan embeddings are asked with `inputText`, not a chat body: the invoke
    // families are recorded in `record_bedrock_families.rs`.
    let all: Vec<Capture> = captures(dir, prefix)
        .into_iter()
        .filter(|c| !c.name.contains("titan-embeddings"))
        .collect();
    let up = FakeUpstream::start().await;
    let fixtures = FixtureDir::new();
    let rec = TestServer::start(record_config(fixtures.path(), &up.url())).await;
    let mut recorded = Vec::new();
    for (i, cap) in all.iter().enumerate() {
        let surface = surface_of(&cap.path);
        let mut script = Script::body(cap.status, cap.content_type, cap.body.clone());
        if cap.stream {
            script = script.chunked(61, Duration::ZERO);
        }
        up.script(&cap.path, script);
        let user = format!("golden capture {i}: {}", cap.name);
        let body = request_body(&surface, &user, cap.stream);
        let test_id = format!("capture-{i}");
        let r = rec
            .post(
                &cap.path,
                &body,
                &[
                    ("x-api-key", "sk-ant-api03-test-not-a-real-key-0123456789"),
                    ("x-test-id", &test_id),
                ],
            )
            .await;
        assert_eq!(r.status, cap.status, "{}", cap.name);
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
        assert_eq!(fx["match"]["userMessage"], user.as_str(), "{}", cap.name);
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
        let expected_status = response["status"].as_u64().unwrap_or(200) as u16;
        assert_eq!(r.status, expected_status, "{}: replay status", cap.name);
        let ct = r.headers["content-type"].to_str().unwrap().to_string();
        let (mut again, _) = surface.collapse(r.status, &ct, r.bytes()).to_response();
        // The envelope keys the render writes by default (`top_logprobs`, ...) read
        // back as recorded fields; only the recorded ones must come back the same.
        if let (Some(f), Some(want)) = (
            again
                .pointer_mut("/native/fields")
                .and_then(Value::as_object_mut),
            response
                .pointer("/native/fields")
                .and_then(Value::as_object),
        ) {
            f.retain(|k, _| want.contains_key(k));
        }
        assert_eq!(
            normalised(again),
            normalised(response.clone()),
            "{}: the replay reads back as the recorded fixture",
            cap.name
        );
    }
}

#[tokio::test]
async fn every_anthropic_capture_records_and_replays_as_the_same_fixture() {
    round_trip_every_capture("anthropic", "messages-").await;
}

#[tokio::test]
async fn every_responses_capture_records_and_replays_as_the_same_fixture() {
    round_trip_every_capture("openai", "responses-").await;
}

#[tokio::test]
async fn every_bedrock_capture_records_and_replays_as_the_same_fixture() {
    round_trip_every_capture("bedrock", "").await;
}

#[tokio::test]
async fn recorded_fixtures_hold_the_whole_answer() {
    let up = FakeUpstream::start().await;
    let fixtures = FixtureDir::new();
    let rec = TestServer::start(record_config(fixtures.path(), &up.url())).await;
    let path = "/model/anthropic.claude-3-sonnet-20240229-v1%3A0/converse-stream";
    let golden = std::fs::read(format!(
        "{GOLDEN}/bedrock/converse-stream-tool-use.eventstream"
    ))
    .unwrap();
    up.script(
        path,
        Script::body(200, "application/vnd.amazon.eventstream", golden)
            .chunked(33, Duration::from_millis(1)),
    );
    let surface = surface_of(path);
    rec.post(
        path,
        &request_body(&surface, "weather in Barcelona?", true),
        &[],
    )
    .await;
    let fx = recorded_fixture(&fixtures.path().join("recorded/bedrock.json")).await;
    let r = &fx["response"];
    assert_eq!(
        r["content"],
        "Okay, let me check the weather for Barcelona using the available tool:"
    );
    assert_eq!(r["toolCalls"][0]["id"], "tooluse_yypYDr71TwCwByoyao4-Vg");
    assert_eq!(r["toolCalls"][0]["name"], "get_weather");
    assert_eq!(
        r["toolCalls"][0]["arguments"],
        "{\"location\": \"Barcelona\"}"
    );
    assert_eq!(
        r["usage"],
        json!({"prompt_tokens": 236, "completion_tokens": 58, "total_tokens": 294})
    );
    assert_eq!(fx["match"]["model"], "anthropic.claude-3-sonnet");
    assert!(fx["recordedTimings"]["interChunkDelaysMs"].is_array());
}

#[tokio::test]
async fn an_exception_inside_a_converse_stream_replays_as_that_modelled_error() {
    use aimock::codec::eventstream::{encode_to_bytes, Message};
    let up = FakeUpstream::start().await;
    let fixtures = FixtureDir::new();
    let rec = TestServer::start(record_config(fixtures.path(), &up.url())).await;
    let path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream";
    let mut body = Vec::new();
    for m in [
        Message::event("messageStart", r#"{"role":"assistant"}"#),
        Message::event(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"Hel"}}"#,
        ),
        Message::exception("throttlingException", r#"{"message":"Too many tokens"}"#),
    ] {
        body.extend_from_slice(&encode_to_bytes(&m).unwrap());
    }
    up.script(
        path,
        Script::body(200, "application/vnd.amazon.eventstream", body.clone()),
    );
    let req = request_body(&surface_of(path), "too fast?", true);
    let r = rec.post(path, &req, &[]).await;
    assert_eq!((r.status, r.bytes().as_ref()), (200, &body[..]));
    let fx = recorded_fixture(&fixtures.path().join("recorded/bedrock.json")).await;
    assert_eq!(
        fx["response"],
        json!({"error": {"message": "Too many tokens", "type": "throttlingException"}, "status": 429})
    );
    rec.stop().await;

    let mut strict = aimock::config::Config::for_tests(vec![fixtures.path().to_path_buf()]);
    strict.strict = true;
    let replay = TestServer::start(strict).await;
    let r = replay.post(path, &req, &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["x-amzn-errortype"], "throttlingException");
    assert_eq!(r.json()["message"], "Too many tokens");
}

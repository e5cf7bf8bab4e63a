//! Record mode for Gemini/Vertex, Cohere v2 and Ollama: a fake upstream serves real
//! captures, the client gets them byte for byte, the cassette holds the whole answer and
//! no credential, and a strict replay with no upstream gives the same answer.

use std::path::Path;
use std::time::Duration;

use aimock::codec::decode_all;
use aimock::codec::ndjson::LineDecoder;
use aimock::codec::sse::SseDecoder;
use serde_json::{json, Value};

use crate::support::{FixtureDir, Reply, TestServer};
use crate::upstream::{FakeUpstream, Script};

const GOOGLE_KEY: &str = "AIzaSy-test-not-a-real-key-0123456789";

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/golden/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn config(dir: &Path, provider: &str, base: &str) -> aimock::config::Config {
    crate::support::recording(dir, &[provider], base)
}

/// Wait (bounded) until `path` holds `n` fixtures; recordings are written off the request path.
async fn fixtures_in(path: &Path, n: usize) -> Value {
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

/// One recording: what the upstream serves and the request that misses.
struct Case<'a> {
    provider: &'a str,
    path: &'a str,
    query: &'a str,
    body: Value,
    golden: &'a str,
    content_type: &'static str,
    headers: &'a [(&'a str, &'a str)],
}

/// Record `case` (the upstream sends it in small delayed chunks), check the relay was
/// byte-exact, and return the saved fixture, the cassette text and a strict replay of
/// the same request.
async fn record_and_replay(case: Case<'_>) -> (Value, String, Reply) {
    let up = FakeUpstream::start().await;
    let bytes = golden(case.golden);
    up.script(
        case.path,
        Script::body(200, case.content_type, bytes.clone()).chunked(61, Duration::from_millis(1)),
    );
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), case.provider, &up.url())).await;
    let target = format!("{}{}", case.path, case.query);
    let body = case.body.to_string();
    let r = s.post(&target, &body, case.headers).await;
    assert_eq!(r.status, 200, "{}", case.golden);
    assert_eq!(
        r.bytes().as_ref(),
        &bytes[..],
        "{}: the client gets the upstream's exact bytes",
        case.golden
    );
    let seen = up.seen.lock().unwrap()[0].clone();
    assert_eq!(
        seen.path_and_query, target,
        "the query goes upstream as sent"
    );
    let file = dir.path().join(format!("recorded/{}.json", case.provider));
    let doc = fixtures_in(&file, 1).await;
    let text = std::fs::read_to_string(&file).unwrap();
    drop(s);

    let mut rc = aimock::config::Config::for_tests(vec![dir.path().to_path_buf()]);
    rc.strict = true;
    let replay = TestServer::start(rc).await;
    let again = replay.post(&target, &body, &[]).await;
    assert_eq!(again.status, 200, "{}: {:?}", case.golden, again.body);
    (doc["fixtures"][0].clone(), text, again)
}

/// Text, thoughts and function calls of Gemini responses.
fn gemini_parts(items: &[Value]) -> (String, String, Vec<Value>) {
    let (mut text, mut thought, mut calls) = (String::new(), String::new(), Vec::new());
    for v in items {
        for p in v["candidates"][0]["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(fc) = p.get("functionCall") {
                calls.push(json!({"name": fc["name"], "args": fc["args"]}));
            } else if let Some(t) = p["text"].as_str() {
                if p["thought"] == true {
                    thought.push_str(t);
                } else {
                    text.push_str(t);
                }
            }
        }
    }
    (text, thought, calls)
}

fn sse_json(body: &[u8]) -> Vec<(Option<String>, Value)> {
    decode_all(&mut SseDecoder::new(), body)
        .unwrap()
        .into_iter()
        .filter(|e| e.data != "[DONE]")
        .map(|e| (e.event, serde_json::from_str(&e.data).unwrap()))
        .collect()
}

fn gemini_request(user: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": user}]}]})
}

#[tokio::test]
async fn a_gemini_sse_stream_is_recorded_without_the_api_key_and_replays_its_text_and_thoughts() {
    let model_path = "/v1beta/models/gemini-2.5-pro:streamGenerateContent";
    let (fx, text, again) = record_and_replay(Case {
        provider: "gemini",
        path: model_path,
        query: &format!("?alt=sse&key={GOOGLE_KEY}"),
        body: gemini_request("How do I cross the street?"),
        golden: "gemini/stream-generate-content-sse-thoughts.sse",
        content_type: "text/event-stream",
        headers: &[("x-goog-api-key", GOOGLE_KEY)],
    })
    .await;
    assert!(!text.contains("not-a-real-key"), "no credential on disk");
    let recorded: Vec<Value> = sse_json(&golden("gemini/stream-generate-content-sse-thoughts.sse"))
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let (want_text, want_thought, _) = gemini_parts(&recorded);
    assert_eq!(fx["response"]["content"], want_text);
    assert_eq!(fx["response"]["reasoning"], want_thought);
    assert_eq!(fx["match"]["model"], "gemini-2.5-pro");
    assert!(fx["recordedTimings"]["interChunkDelaysMs"].is_array());
    let replayed: Vec<Value> = sse_json(again.bytes())
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let (text, thought, _) = gemini_parts(&replayed);
    assert_eq!((text, thought), (want_text, want_thought));
    let last = replayed.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        last["usageMetadata"]["promptTokenCount"],
        recorded.last().unwrap()["usageMetadata"]["promptTokenCount"]
    );
}

#[tokio::test]
async fn a_gemini_json_array_stream_of_a_function_call_replays_the_same_call() {
    let name = "gemini/stream-generate-content-json-array-function-call.json";
    let (fx, _, again) = record_and_replay(Case {
        provider: "gemini",
        path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        query: "",
        body: gemini_request("Two names for a pet pelican"),
        golden: name,
        content_type: "application/json; charset=UTF-8",
        headers: &[],
    })
    .await;
    assert_eq!(
        fx["response"]["toolCalls"],
        json!([{"name": "pelican_name_generator", "arguments": "{}"}])
    );
    assert_eq!(
        again.headers["content-type"],
        "application/json; charset=UTF-8"
    );
    let items: Vec<Value> = serde_json::from_slice(again.bytes()).unwrap();
    let want: Vec<Value> = serde_json::from_slice(&golden(name)).unwrap();
    let (_, want_thought, want_calls) = gemini_parts(&want);
    let (_, thought, calls) = gemini_parts(&items);
    assert_eq!(calls, want_calls);
    assert_eq!(thought, want_thought);
}

#[tokio::test]
async fn a_gemini_generate_content_function_call_replays_with_its_arguments() {
    let name = "gemini/generate-content-json-function-call.json";
    let (fx, _, again) = record_and_replay(Case {
        provider: "gemini",
        path: "/v1beta/models/gemini-2.5-pro:generateContent",
        query: "",
        body: gemini_request("Can you search for information about recurring revenue?"),
        golden: name,
        content_type: "application/json; charset=UTF-8",
        headers: &[("x-goog-api-key", GOOGLE_KEY)],
    })
    .await;
    assert_eq!(fx["response"]["usage"]["prompt_tokens"], 170);
    let v = again.json();
    let want: Value = serde_json::from_slice(&golden(name)).unwrap();
    assert_eq!(
        gemini_parts(std::slice::from_ref(&v)).2,
        gemini_parts(&[want]).2
    );
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");
    assert_eq!(v["usageMetadata"]["promptTokenCount"], 170);
}

#[tokio::test]
async fn a_vertex_sse_stream_records_under_vertexai_and_replays() {
    let (fx, _, again) = record_and_replay(Case {
        provider: "vertexai",
        path: "/v1beta1/projects/p/locations/global/publishers/google/models/gemini-3-flash-preview:streamGenerateContent",
        query: "?alt=sse",
        body: gemini_request("Say OK"),
        golden: "vertex/stream-generate-content-sse.sse",
        content_type: "text/event-stream",
        headers: &[("authorization", "Bearer ya29.test-not-a-real-token")],
    })
    .await;
    assert_eq!(fx["response"]["content"], "OK");
    assert_eq!(fx["response"]["usage"]["prompt_tokens"], 5);
    let replayed: Vec<Value> = sse_json(again.bytes())
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(gemini_parts(&replayed).0, "OK");
    assert!(replayed[0]["createTime"].is_string(), "rendered as Vertex");
}

#[tokio::test]
async fn gemini_batch_embeddings_record_the_first_vector_and_replay_it() {
    let name = "gemini/batch-embed-contents.json";
    let (fx, _, again) = record_and_replay(Case {
        provider: "gemini",
        path: "/v1beta/models/gemini-embedding-001:batchEmbedContents",
        query: "",
        body: json!({"requests": [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "hello world"}]}}]}),
        golden: name,
        content_type: "application/json; charset=UTF-8",
        headers: &[("x-goog-api-key", GOOGLE_KEY)],
    })
    .await;
    let want: Value = serde_json::from_slice(&golden(name)).unwrap();
    assert_eq!(fx["response"]["embedding"], want["embeddings"][0]["values"]);
    assert_eq!(fx["match"]["inputText"], "hello world");
    assert_eq!(
        again.json()["embeddings"][0]["values"],
        want["embeddings"][0]["values"]
    );
}

#[tokio::test]
async fn a_gemini_404_is_relayed_and_saved_as_an_error_fixture_that_replays_as_404() {
    let up = FakeUpstream::start().await;
    let path = "/v1beta/models/gemini-3.6-flahs:generateContent";
    up.script(
        path,
        Script::body(
            404,
            "application/json; charset=UTF-8",
            golden("gemini/error-404-model-not-found.json"),
        ),
    );
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "gemini", &up.url())).await;
    let body = gemini_request("hello").to_string();
    assert_eq!(s.post(path, &body, &[]).await.status, 404);
    let doc = fixtures_in(&dir.path().join("recorded/gemini.json"), 1).await;
    assert_eq!(doc["fixtures"][0]["response"]["status"], 404);
    drop(s);
    let mut rc = aimock::config::Config::for_tests(vec![dir.path().to_path_buf()]);
    rc.strict = true;
    let replay = TestServer::start(rc).await;
    let r = replay.post(path, &body, &[]).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["status"], "NOT_FOUND");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("models/gemini-3.6-flahs is not found"));
}

fn cohere_chat(user: &str, stream: bool) -> Value {
    json!({"model": "command-r-plus-08-2024", "stream": stream, "messages": [{"role": "user", "content": user}],
           "tools": [{"type": "function", "function": {"name": "Person", "parameters": {"type": "object"}}}]})
}

/// Tool plan, text, and each call's id, name and joined arguments, from a Cohere v2 stream.
fn cohere_stream(body: &[u8]) -> (String, String, Vec<(String, String)>) {
    let (mut plan, mut text, mut calls) = (String::new(), String::new(), Vec::new());
    for (event, v) in sse_json(body) {
        let m = &v["delta"]["message"];
        match event.as_deref() {
            Some("tool-plan-delta") => plan.push_str(m["tool_plan"].as_str().unwrap()),
            Some("content-delta") => text.push_str(m["content"]["text"].as_str().unwrap_or("")),
            Some("tool-call-start") => calls.push((
                m["tool_calls"]["function"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                String::new(),
            )),
            Some("tool-call-delta") => calls
                .last_mut()
                .unwrap()
                .1
                .push_str(m["tool_calls"]["function"]["arguments"].as_str().unwrap()),
            _ => {}
        }
    }
    (plan, text, calls)
}

#[tokio::test]
async fn a_cohere_tool_call_stream_replays_the_same_plan_and_arguments() {
    let name = "cohere/chat-v2-stream-tool-call.sse";
    let (fx, text, again) = record_and_replay(Case {
        provider: "cohere",
        path: "/v2/chat",
        query: "",
        body: cohere_chat("Create a person named Erick, 27", true),
        golden: name,
        content_type: "text/event-stream",
        headers: &[("authorization", "Bearer co-test-not-a-real-key")],
    })
    .await;
    assert!(!text.contains("not-a-real-key"));
    assert_eq!(fx["response"]["toolCalls"][0]["id"], "Person_2fnrphbsnr66");
    let (want_plan, _, want_calls) = cohere_stream(&golden(name));
    let (plan, _, calls) = cohere_stream(again.bytes());
    assert_eq!(plan, want_plan);
    assert_eq!(calls, want_calls);
    let end = sse_json(again.bytes())
        .into_iter()
        .find(|(e, _)| e.as_deref() == Some("message-end"))
        .unwrap()
        .1;
    assert_eq!(end["delta"]["finish_reason"], "TOOL_CALL");
    assert_eq!(end["delta"]["usage"]["tokens"]["input_tokens"], 906);
}

#[tokio::test]
async fn a_cohere_json_reply_with_thinking_replays_the_same_message() {
    let name = "cohere/chat-v2-json-reasoning-tool-call.json";
    let (_, _, again) = record_and_replay(Case {
        provider: "cohere",
        path: "/v2/chat",
        query: "",
        body: cohere_chat(
            "weather in the second largest city of the land of the rising sun",
            false,
        ),
        golden: name,
        content_type: "application/json",
        headers: &[],
    })
    .await;
    let want: Value = serde_json::from_slice(&golden(name)).unwrap();
    let got = again.json();
    assert_eq!(got["message"]["content"], want["message"]["content"]);
    assert_eq!(got["message"]["tool_calls"], want["message"]["tool_calls"]);
    assert_eq!(got["finish_reason"], "TOOL_CALL");
}

#[tokio::test]
async fn cohere_embeddings_record_the_first_float_vector() {
    let name = "cohere/embed-v2.json";
    let (fx, _, again) = record_and_replay(Case {
        provider: "cohere",
        path: "/v2/embed",
        query: "",
        body: json!({"model": "embed-english-v3.0", "texts": ["Carson City is the capital"], "input_type": "search_document", "embedding_types": ["float"]}),
        golden: name,
        content_type: "application/json",
        headers: &[],
    })
    .await;
    let want: Value = serde_json::from_slice(&golden(name)).unwrap();
    assert_eq!(fx["response"]["embedding"], want["embeddings"]["float"][0]);
    assert_eq!(
        again.json()["embeddings"]["float"][0],
        want["embeddings"]["float"][0]
    );
}

/// The joined `message.content` (chat) or `response` (generate) of NDJSON lines.
fn ollama_text(body: &[u8]) -> String {
    decode_all(&mut LineDecoder::new(), body)
        .unwrap()
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_slice(l).unwrap();
            v.pointer("/message/content")
                .or_else(|| v.get("response"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn an_ollama_chat_stream_records_its_text_and_usage_and_replays_as_ndjson() {
    let name = "ollama/api-chat-stream.ndjson";
    let (fx, _, again) = record_and_replay(Case {
        provider: "ollama",
        path: "/api/chat",
        query: "",
        body: json!({"model": "llama3", "messages": [{"role": "user", "content": "Tell me a joke about OpenTelemetry"}]}),
        golden: name,
        content_type: "application/x-ndjson",
        headers: &[],
    })
    .await;
    let want = ollama_text(&golden(name));
    assert_eq!(fx["response"]["content"], want);
    assert_eq!(
        fx["response"]["usage"],
        json!({"prompt_tokens": 17, "completion_tokens": 50, "total_tokens": 67})
    );
    assert_eq!(again.headers["content-type"], "application/x-ndjson");
    assert_eq!(ollama_text(again.bytes()), want);
}

#[tokio::test]
async fn an_ollama_generate_json_reply_and_an_embed_reply_replay() {
    let name = "ollama/api-generate-json.json";
    let (_, _, again) = record_and_replay(Case {
        provider: "ollama",
        path: "/api/generate",
        query: "",
        body: json!({"model": "llama3", "prompt": "Tell me a joke about OpenTelemetry", "stream": false}),
        golden: name,
        content_type: "application/json; charset=utf-8",
        headers: &[],
    })
    .await;
    let want: Value = serde_json::from_slice(&golden(name)).unwrap();
    assert_eq!(again.json()["response"], want["response"]);
    assert_eq!(again.json()["eval_count"], want["eval_count"]);

    let name = "ollama/api-embeddings.json";
    let (_, _, again) = record_and_replay(Case {
        provider: "ollama",
        path: "/api/embeddings",
        query: "",
        body: json!({"model": "llama3", "prompt": "Tell me a joke about OpenTelemetry"}),
        golden: name,
        content_type: "application/json; charset=utf-8",
        headers: &[],
    })
    .await;
    let want: Value = serde_json::from_slice(&golden(name)).unwrap();
    assert_eq!(again.json()["embedding"], want["embedding"]);
}

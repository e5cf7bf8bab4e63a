//! Bedrock's invoke model families through record mode: each family's reply (JSON and
//! EventStream of base64 chunks, as the service sends them) is relayed byte for byte,
//! collapsed into an editable fixture (not a raw one), and replayed under `--strict`
//! in the family's own shape: the replay reads back into the very fixture that was
//! recorded, and two replays are the same bytes.

use crate::support::recorded_fixture;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use aimock::codec::eventstream::{encode_to_bytes, Message};
use aimock::providers::Surface;

use crate::support::{FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

fn metrics(i: u64, o: u64) -> Value {
    json!({"inputTokenCount": i, "outputTokenCount": o, "invocationLatency": 512, "firstByteLatency": 301})
}

/// Model events framed as `invoke-with-response-stream` sends them.
fn eventstream(events: &[Value]) -> Vec<u8> {
    events
        .iter()
        .flat_map(|e| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(e.to_string());
            encode_to_bytes(&Message::event(
                "chunk",
                json!({ "bytes": b64 }).to_string(),
            ))
            .unwrap()
            .to_vec()
        })
        .collect()
}

struct Case {
    name: &'static str,
    /// The model id as it appears in the path (`:` encoded, as boto3 sends it).
    model: &'static str,
    /// The request body; `{user}` is replaced with the case's user text.
    body: Value,
    /// The upstream's non-streamed reply.
    reply: Value,
    /// The upstream's stream events, for families that stream.
    events: Vec<Value>,
    /// What the recorded fixture must say (`content`, or the first vector value).
    expect: &'static str,
}

fn cases() -> Vec<Case> {
    let text = "Paris is the capital.";
    vec![
        Case {
            name: "titan-text",
            model: "amazon.titan-text-express-v1",
            body: json!({"inputText": "{user}", "textGenerationConfig": {"maxTokenCount": 50}}),
            reply: json!({"inputTextTokenCount": 9, "results": [{"tokenCount": 6,
                "outputText": text, "completionReason": "FINISH"}]}),
            events: vec![
                json!({"outputText": "Paris", "index": 0, "totalOutputTextTokenCount": null,
                    "completionReason": null, "inputTextTokenCount": 9}),
                json!({"outputText": " is the capital.", "index": 0, "totalOutputTextTokenCount": 6,
                    "completionReason": "FINISH", "inputTextTokenCount": null,
                    "amazon-bedrock-invocationMetrics": metrics(9, 6)}),
            ],
            expect: text,
        },
        Case {
            name: "llama",
            model: "meta.llama3-8b-instruct-v1%3A0",
            body: json!({"prompt": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                "max_gen_len": 64, "temperature": 0.1}),
            reply: json!({"generation": text, "prompt_token_count": 12, "generation_token_count": 6, "stop_reason": "stop"}),
            events: vec![
                json!({"generation": "Paris", "prompt_token_count": 12, "generation_token_count": 1, "stop_reason": null}),
                json!({"generation": " is the capital.", "prompt_token_count": null, "generation_token_count": 6,
                    "stop_reason": "stop", "amazon-bedrock-invocationMetrics": metrics(12, 6)}),
            ],
            expect: text,
        },
        Case {
            name: "mistral-text",
            model: "mistral.mistral-7b-instruct-v0%3A2",
            body: json!({"prompt": "<s>[INST] {user} [/INST]", "max_tokens": 64}),
            reply: json!({"outputs": [{"text": text, "stop_reason": "stop"}]}),
            events: vec![
                json!({"outputs": [{"text": "Paris", "stop_reason": null}]}),
                json!({"outputs": [{"text": " is the capital.", "stop_reason": "stop"}],
                    "amazon-bedrock-invocationMetrics": metrics(10, 6)}),
            ],
            expect: text,
        },
        Case {
            name: "mistral-chat",
            model: "mistral.mistral-large-2407-v1%3A0",
            body: json!({"messages": [{"role": "user", "content": "{user}"}], "max_tokens": 64,
                "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]}),
            reply: json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text,
                "tool_calls": [{"id": "Xyz123abc", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                "stop_reason": "tool_calls"}]}),
            events: vec![
                json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris"}, "stop_reason": null}]}),
                json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": " is the capital."},
                    "stop_reason": "stop"}], "amazon-bedrock-invocationMetrics": metrics(10, 6)}),
            ],
            expect: text,
        },
        Case {
            name: "cohere-command",
            model: "cohere.command-r-v1%3A0",
            body: json!({"message": "{user}", "chat_history": [], "max_tokens": 64}),
            reply: json!({"response_id": "r-1", "text": text, "generation_id": "g-1",
                "chat_history": [{"role": "USER", "message": "q"}, {"role": "CHATBOT", "message": text}],
                "finish_reason": "COMPLETE",
                "meta": {"api_version": {"version": "1"}, "billed_units": {"input_tokens": 10, "output_tokens": 6}}}),
            events: vec![
                json!({"is_finished": false, "event_type": "stream-start", "generation_id": "g-1"}),
                json!({"is_finished": false, "event_type": "text-generation", "text": "Paris"}),
                json!({"is_finished": false, "event_type": "text-generation", "text": " is the capital."}),
                json!({"is_finished": true, "event_type": "stream-end", "finish_reason": "COMPLETE",
                    "response": {"response_id": "r-1", "text": text, "generation_id": "g-1", "finish_reason": "COMPLETE",
                        "meta": {"billed_units": {"input_tokens": 10, "output_tokens": 6}}},
                    "amazon-bedrock-invocationMetrics": metrics(10, 6)}),
            ],
            expect: text,
        },
        Case {
            name: "deepseek",
            model: "us.deepseek.r1-v1%3A0",
            body: json!({"prompt": "<｜begin▁of▁sentence｜><｜User｜>{user}<｜Assistant｜>", "max_tokens": 64}),
            reply: json!({"choices": [{"text": text, "stop_reason": "stop"}]}),
            events: vec![
                json!({"choices": [{"text": "Paris", "stop_reason": null}]}),
                json!({"choices": [{"text": " is the capital.", "stop_reason": "stop"}],
                    "amazon-bedrock-invocationMetrics": metrics(8, 6)}),
            ],
            expect: text,
        },
        Case {
            name: "gpt-oss",
            model: "openai.gpt-oss-20b-1%3A0",
            body: json!({"messages": [{"role": "user", "content": "{user}"}], "max_completion_tokens": 64}),
            reply: json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1754000000,
                "model": "openai.gpt-oss-20b-1:0", "choices": [{"index": 0, "message": {"role": "assistant",
                "content": "<reasoning>The user asks about France.</reasoning>Paris is the capital."}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}}),
            events: vec![
                json!({"id": "c-1", "object": "chat.completion.chunk", "created": 1754000000, "model": "openai.gpt-oss-20b-1:0",
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Paris"}, "finish_reason": null}]}),
                json!({"id": "c-1", "object": "chat.completion.chunk", "created": 1754000000, "model": "openai.gpt-oss-20b-1:0",
                    "choices": [{"index": 0, "delta": {"content": " is the capital."}, "finish_reason": "stop"}],
                    "amazon-bedrock-invocationMetrics": metrics(20, 10)}),
            ],
            expect: text,
        },
        Case {
            name: "nova",
            model: "us.amazon.nova-lite-v1%3A0",
            body: json!({"schemaVersion": "messages-v1", "messages": [{"role": "user", "content": [{"text": "{user}"}]}],
                "inferenceConfig": {"maxTokens": 64}}),
            reply: json!({"output": {"message": {"content": [{"text": text}], "role": "assistant"}},
                "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 6, "totalTokens": 11}}),
            events: Vec::new(),
            expect: text,
        },
        Case {
            name: "titan-embed",
            model: "amazon.titan-embed-text-v2%3A0",
            body: json!({"inputText": "{user}", "dimensions": 256, "normalize": true}),
            reply: json!({"embedding": [0.125, -0.25, 0.5], "embeddingsByType": {"float": [0.125, -0.25, 0.5]},
                "inputTextTokenCount": 4}),
            events: Vec::new(),
            expect: "0.125",
        },
        Case {
            name: "cohere-embed",
            model: "cohere.embed-english-v3",
            body: json!({"texts": ["{user}"], "input_type": "search_document"}),
            reply: json!({"embeddings": [[0.125, -0.25, 0.5]], "id": "e-1", "response_type": "embeddings_floats",
                "texts": ["x"]}),
            events: Vec::new(),
            expect: "0.125",
        },
    ]
}

fn normalised(mut response: Value) -> Value {
    if let Some(calls) = response.get_mut("toolCalls").and_then(Value::as_array_mut) {
        for c in calls {
            if let Some(a) = c.get("arguments").and_then(Value::as_str) {
                c["arguments"] = serde_json::from_str(a).unwrap_or(json!(a));
            }
        }
    }
    response
}

#[tokio::test]
async fn every_invoke_family_records_an_editable_fixture_and_replays_it_strictly() {
    let up = FakeUpstream::start().await;
    let fixtures = FixtureDir::new();
    let rec = TestServer::start(crate::support::recording(
        fixtures.path(),
        &["bedrock"],
        &up.url(),
    ))
    .await;
    // (case, path, request body, recorded fixture, test id)
    let mut recorded = Vec::new();
    for c in cases() {
        let modes: &[bool] = if c.events.is_empty() {
            &[false]
        } else {
            &[false, true]
        };
        for &stream in modes {
            let op = if stream {
                "invoke-with-response-stream"
            } else {
                "invoke"
            };
            let path = format!("/model/{}/{op}", c.model);
            let (upstream, ct): (Vec<u8>, &'static str) = if stream {
                (eventstream(&c.events), "application/vnd.amazon.eventstream")
            } else {
                (c.reply.to_string().into_bytes(), "application/json")
            };
            let mut script = Script::body(200, ct, upstream.clone());
            if stream {
                script = script.chunked(40, Duration::ZERO);
            }
            up.script(&path, script);
            let user = format!("capital of France? ({} {op})", c.name);
            let body = c.body.to_string().replace("{user}", &user);
            let test_id = format!("{}-{op}", c.name);
            let r = rec
                .post(
                    &path,
                    &body,
                    &[
                        ("x-test-id", &test_id),
                        ("authorization", "Bearer sk-test-not-a-real-key"),
                    ],
                )
                .await;
            assert_eq!(r.status, 200, "{test_id}: {}", r.text());
            assert_eq!(
                r.bytes().as_ref(),
                &upstream[..],
                "{test_id}: relayed as sent"
            );
            let file = fixtures
                .path()
                .join(format!("recorded/{test_id}/bedrock.json"));
            let fx = recorded_fixture(&file).await;
            let on_disk = std::fs::read_to_string(&file).unwrap();
            assert!(
                !on_disk.contains("not-a-real-key"),
                "{test_id}: credential on disk"
            );
            assert!(
                fx["response"].get("raw").is_none(),
                "{test_id}: editable, not raw: {fx}"
            );
            assert!(
                fx["response"].to_string().contains(c.expect),
                "{test_id}: {fx}"
            );
            assert!(fx.get("_warnings").is_none(), "{test_id}: {fx}");
            if c.name.contains("embed") {
                assert_eq!(fx["match"]["inputText"], user.as_str(), "{test_id}");
            } else {
                assert_eq!(fx["match"]["userMessage"], user.as_str(), "{test_id}");
            }
            recorded.push((path, body, fx, test_id, stream));
        }
    }
    rec.stop().await;
    // gpt-oss's reasoning came out of its `<reasoning>` tags.
    let oss = recorded.iter().find(|r| r.3 == "gpt-oss-invoke").unwrap();
    assert_eq!(
        oss.2["response"]["reasoning"],
        "The user asks about France."
    );
    assert_eq!(oss.2["response"]["content"], "Paris is the capital.");
    let mistral = recorded
        .iter()
        .find(|r| r.3 == "mistral-chat-invoke")
        .unwrap();
    assert_eq!(mistral.2["response"]["toolCalls"][0]["id"], "Xyz123abc");

    let mut strict = aimock::config::Config::for_tests(vec![fixtures.path().to_path_buf()]);
    strict.strict = true;
    let replay = TestServer::start(strict).await;
    for (path, body, fx, test_id, stream) in recorded {
        let surface = match aimock::server::router::route(&http::Method::POST, &path) {
            aimock::server::router::Route::Provider(s @ Surface::Bedrock(_)) => s,
            other => panic!("{path}: {other:?}"),
        };
        let first = replay.post(&path, &body, &[]).await;
        let second = replay.post(&path, &body, &[]).await;
        assert_eq!(first.status, 200, "{test_id}: {}", first.text());
        assert_eq!(
            first.bytes(),
            second.bytes(),
            "{test_id}: replays are the same bytes"
        );
        let ct = first.headers["content-type"].to_str().unwrap().to_string();
        assert_eq!(ct.contains("eventstream"), stream, "{test_id}");
        let (again, warnings) = surface.collapse(200, &ct, first.bytes()).to_response();
        assert!(warnings.is_empty(), "{test_id}: {warnings:?}");
        assert_eq!(
            normalised(again),
            normalised(fx["response"].clone()),
            "{test_id}: the replay reads back as the recorded fixture"
        );
    }
    replay.stop().await;
}

#[tokio::test]
async fn hand_written_fixtures_answer_each_family_in_its_own_format() {
    let dir = FixtureDir::with(
        "f.json",
        json!([
            {"match": {"userMessage": "weather"}, "response": {"content": "Sunny.",
                "toolCalls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]}},
            {"match": {"userMessage": "hello"}, "response": {"content": "Hi there!"}},
            {"match": {"inputText": "vector me"}, "response": {"embedding": [0.5, -0.5]}}
        ]),
    );
    let mut c = aimock::config::Config::for_tests(vec![dir.path().to_path_buf()]);
    c.strict = true;
    let s = TestServer::start(c).await;
    let titan = s
        .post(
            "/model/amazon.titan-text-lite-v1/invoke",
            r#"{"inputText":"User: hello\nBot:"}"#,
            &[],
        )
        .await
        .json();
    assert_eq!(titan["results"][0]["outputText"], "Hi there!");
    let llama = s
        .post(
            "/model/meta.llama3-1-8b-instruct-v1%3A0/invoke",
            r#"{"prompt":"hello","max_gen_len":9}"#,
            &[],
        )
        .await
        .json();
    assert_eq!(llama["generation"], "Hi there!");
    let cohere = s
        .post(
            "/model/cohere.command-r-plus-v1%3A0/invoke",
            r#"{"message":"weather?","tools":[{"name":"get_weather"}]}"#,
            &[],
        )
        .await
        .json();
    assert_eq!(
        cohere["tool_calls"][0]["parameters"],
        json!({"city": "Paris"})
    );
    let cohere_embed = s
        .post(
            "/model/cohere.embed-multilingual-v3/invoke",
            r#"{"texts":["vector me"],"input_type":"search_query","embedding_types":["float"]}"#,
            &[],
        )
        .await
        .json();
    assert_eq!(cohere_embed["embeddings"]["float"], json!([[0.5, -0.5]]));
    let titan_embed = s
        .post(
            "/model/amazon.titan-embed-text-v1/invoke",
            r#"{"inputText":"vector me"}"#,
            &[],
        )
        .await
        .json();
    assert_eq!(titan_embed["embedding"], json!([0.5, -0.5]));
    // A strict miss on an embedding family is the AWS error, not a made-up vector.
    let miss = s
        .post(
            "/model/amazon.titan-embed-text-v1/invoke",
            r#"{"inputText":"nothing matches"}"#,
            &[],
        )
        .await;
    assert_eq!(miss.status, 503, "a strict miss");
    assert!(miss.headers.contains_key("x-amzn-errortype"));
    s.stop().await;
}

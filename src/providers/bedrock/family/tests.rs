//! Every family: the request parses into the neutral form, a fixture renders in the
//! family's JSON and stream shapes, and both collapse back into the fixture.

use base64::Engine;
use serde_json::{json, Value};

use super::*;
use crate::providers::bedrock::tests::{ctx, decode_stream, fixture};
use crate::providers::common::PlanBody;
use crate::providers::Surface;
use crate::testing::loadable_response;

const ES: &str = "application/vnd.amazon.eventstream";

/// (model id, request body) per chat family, each asking "hello there".
fn chat_cases() -> Vec<(&'static str, Value, Dialect)> {
    vec![
        (
            "us.amazon.nova-lite-v1:0",
            json!({"schemaVersion": "messages-v1",
            "messages": [{"role": "user", "content": [{"text": "hello there"}]}],
            "inferenceConfig": {"maxTokens": 100}}),
            Dialect::Nova,
        ),
        (
            "amazon.titan-text-express-v1",
            json!({"inputText": "User: hello there\nBot:",
            "textGenerationConfig": {"maxTokenCount": 100}}),
            Dialect::TitanText,
        ),
        (
            "meta.llama3-70b-instruct-v1:0",
            json!({"prompt":
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhello there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            "max_gen_len": 128, "temperature": 0.1, "top_p": 0.9}),
            Dialect::Llama,
        ),
        (
            "mistral.mistral-7b-instruct-v0:2",
            json!({"prompt": "<s>[INST] hello there [/INST]",
            "max_tokens": 100}),
            Dialect::MistralText,
        ),
        (
            "mistral.mistral-large-2407-v1:0",
            json!({"messages": [{"role": "user", "content": "hello there"}],
            "max_tokens": 100}),
            Dialect::MistralChat,
        ),
        (
            "cohere.command-r-plus-v1:0",
            json!({"message": "hello there",
            "chat_history": [{"role": "USER", "message": "earlier"}, {"role": "CHATBOT", "message": "ok"}]}),
            Dialect::CohereCommand,
        ),
        (
            "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.deepseek.r1-v1:0",
            json!({"prompt": "<｜begin▁of▁sentence｜><｜User｜>hello there<｜Assistant｜>", "max_tokens": 100}),
            Dialect::DeepSeek,
        ),
        (
            "openai.gpt-oss-20b-1:0",
            json!({"messages": [{"role": "developer", "content": "be kind"},
            {"role": "user", "content": "hello there"}], "max_completion_tokens": 100}),
            Dialect::OpenAiChat,
        ),
    ]
}

fn parse(model: &str, body: &Value, stream: bool) -> ChatRequest {
    parse_request(model, stream, body.to_string().as_bytes()).unwrap()
}

fn plan_for(model: &str, body: &Value, stream: bool, response: Value) -> RenderPlan {
    let req = parse(model, body, stream);
    let fx = fixture(json!({"match": {}, "response": response}));
    render(&fx, &req, &ctx()).unwrap()
}

fn json_of(plan: &RenderPlan) -> Value {
    let PlanBody::Full(b) = &plan.body else {
        panic!("not JSON: {plan:?}")
    };
    serde_json::from_slice(b).unwrap()
}

/// The model events inside a rendered invoke stream.
fn events(plan: &RenderPlan) -> Vec<Value> {
    decode_stream(plan)
        .into_iter()
        .map(|(name, payload)| {
            assert_eq!(name, "chunk");
            let raw = base64::engine::general_purpose::STANDARD
                .decode(payload["bytes"].as_str().unwrap())
                .unwrap();
            serde_json::from_slice(&raw).unwrap()
        })
        .collect()
}

fn collapse(model: &str, stream: bool, plan: &RenderPlan) -> Value {
    let surface = Surface::Bedrock(crate::providers::bedrock::Op::Invoke {
        model: model.into(),
        stream,
    });
    let PlanBody::Full(b) = &plan.body else {
        let all: Vec<u8> = match &plan.body {
            PlanBody::Stream(frames) => frames.iter().flat_map(|f| f.bytes.to_vec()).collect(),
            _ => unreachable!(),
        };
        let c = surface.collapse(200, ES, &all);
        assert!(!c.truncated && c.dropped == 0, "{model}: {c:?}");
        return loadable_response(&c);
    };
    let c = surface.collapse(200, "application/json", b);
    assert!(c.warnings.is_empty(), "{model}: {:?}", c.warnings);
    loadable_response(&c)
}

#[test]
fn model_ids_name_their_family_through_arns_and_inference_profiles() {
    assert_eq!(
        family_of("anthropic.claude-3-haiku-20240307-v1:0"),
        Some(Dialect::Anthropic)
    );
    assert_eq!(
        family_of("global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        Some(Dialect::Anthropic)
    );
    assert_eq!(family_of("eu.amazon.nova-pro-v1:0"), Some(Dialect::Nova));
    assert_eq!(
        family_of("amazon.titan-embed-text-v2:0"),
        Some(Dialect::TitanEmbed)
    );
    assert_eq!(
        family_of("amazon.titan-tg1-large"),
        Some(Dialect::TitanText)
    );
    assert_eq!(
        family_of("arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-8b-instruct-v1:0"),
        Some(Dialect::Llama)
    );
    assert_eq!(
        family_of("apac.cohere.embed-multilingual-v3"),
        Some(Dialect::CohereEmbed)
    );
    assert_eq!(family_of("cohere.command-text-v14"), None);
    assert_eq!(
        family_of("arn:aws:bedrock:us-east-1:1:application-inference-profile/abc"),
        None
    );
    assert!(is_embedding_model("cohere.embed-english-v3"));
    assert!(!is_embedding_model("amazon.titan-text-lite-v1"));
}

#[test]
fn an_opaque_id_is_read_by_the_body_only_when_the_body_is_unambiguous() {
    let opaque = "arn:aws:bedrock:us-east-1:1:provisioned-model/xyz";
    let d = |b: Value| {
        parse_request(opaque, false, b.to_string().as_bytes())
            .ok()
            .map(|r| Dialect::of_request(&r))
    };
    assert_eq!(
        d(json!({"inputText": "hi", "textGenerationConfig": {}})),
        Some(Dialect::TitanText)
    );
    assert_eq!(
        d(json!({"prompt": "hi", "max_gen_len": 5})),
        Some(Dialect::Llama)
    );
    assert_eq!(
        d(json!({"messages": [{"role": "user", "content": "hi"}]})),
        Some(Dialect::Anthropic)
    );
    // A bare prompt could be Llama, Mistral or DeepSeek: not guessed (recorded raw).
    assert_eq!(d(json!({"prompt": "hi"})), None);
    let e = parse_request(
        "meta.llama3-8b-instruct-v1:0",
        false,
        br#"{"inputText":"x"}"#,
    )
    .unwrap_err();
    assert_eq!(e.status, 400);
}

#[test]
fn every_chat_family_reads_the_user_text_out_of_its_body() {
    for (model, body, dialect) in chat_cases() {
        let r = parse(model, &body, false);
        assert_eq!(Dialect::of_request(&r), dialect, "{model}");
        assert_eq!(r.last_user_text(), Some("hello there"), "{model}");
        assert_eq!(r.model.as_deref(), Some(model));
    }
    let r = parse("openai.gpt-oss-20b-1:0", &chat_cases()[7].1, false);
    assert_eq!(r.messages[0].text.as_deref(), Some("be kind"));
    let r = parse("cohere.command-r-v1:0", &chat_cases()[5].1, false);
    assert_eq!(r.assistant_count(), 1);
}

#[test]
fn every_chat_family_answers_in_its_own_json_shape() {
    let reply = json!({"content": "Hello world!"});
    let shapes: Vec<(&str, &str)> = vec![
        ("us.amazon.nova-lite-v1:0", "/output/message/content/0/text"),
        ("amazon.titan-text-express-v1", "/results/0/outputText"),
        ("meta.llama3-70b-instruct-v1:0", "/generation"),
        ("mistral.mistral-7b-instruct-v0:2", "/outputs/0/text"),
        (
            "mistral.mistral-large-2407-v1:0",
            "/choices/0/message/content",
        ),
        ("cohere.command-r-plus-v1:0", "/text"),
        (
            "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.deepseek.r1-v1:0",
            "/choices/0/text",
        ),
        ("openai.gpt-oss-20b-1:0", "/choices/0/message/content"),
    ];
    for ((model, body, _), (m2, pointer)) in chat_cases().iter().zip(shapes) {
        assert_eq!(*model, m2);
        let plan = plan_for(model, body, false, reply.clone());
        assert!(plan
            .headers
            .iter()
            .any(|(k, _)| *k == "x-amzn-bedrock-input-token-count"));
        let v = json_of(&plan);
        assert_eq!(
            v.pointer(pointer),
            Some(&json!("Hello world!")),
            "{model}: {v}"
        );
        assert_eq!(
            collapse(model, false, &plan)["content"],
            "Hello world!",
            "{model}"
        );
    }
    let v = json_of(&plan_for(
        chat_cases()[1].0,
        &chat_cases()[1].1,
        false,
        reply.clone(),
    ));
    assert_eq!(v["results"][0]["completionReason"], "FINISH");
    assert!(v["inputTextTokenCount"].as_u64().unwrap() > 0);
    let v = json_of(&plan_for(
        chat_cases()[2].0,
        &chat_cases()[2].1,
        false,
        reply.clone(),
    ));
    assert_eq!(v["stop_reason"], "stop");
    assert!(v["generation_token_count"].as_u64().unwrap() > 0);
    let v = json_of(&plan_for(
        chat_cases()[5].0,
        &chat_cases()[5].1,
        false,
        reply.clone(),
    ));
    assert_eq!(v["finish_reason"], "COMPLETE");
    assert_eq!(v["chat_history"].as_array().unwrap().len(), 4);
    let v = json_of(&plan_for(
        chat_cases()[7].0,
        &chat_cases()[7].1,
        false,
        reply,
    ));
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "openai.gpt-oss-20b-1:0");
    assert!(v.get("metrics").is_none());
}

#[test]
fn every_chat_family_streams_base64_chunks_that_end_in_invocation_metrics() {
    let reply = json!({"content": "Hello world, and more!", "usage": {"prompt_tokens": 7, "completion_tokens": 5}});
    for (model, body, dialect) in chat_cases() {
        let plan = plan_for(model, &body, true, reply.clone());
        let evs = events(&plan);
        assert!(evs.len() > 2, "{model}: sliced");
        let last = evs.last().unwrap();
        let m = &last["amazon-bedrock-invocationMetrics"];
        assert_eq!(m["inputTokenCount"], 7, "{model}");
        assert_eq!(m["outputTokenCount"], 5, "{model}");
        let back = collapse(model, true, &plan);
        assert_eq!(back["content"], "Hello world, and more!", "{model}: {back}");
        assert_eq!(back["usage"]["prompt_tokens"], 7, "{model}: {back}");
        assert_eq!(back["usage"]["completion_tokens"], 5, "{model}: {back}");
        match dialect {
            Dialect::TitanText => {
                assert_eq!(evs[0]["inputTextTokenCount"], 7);
                assert_eq!(last["completionReason"], "FINISH");
                assert_eq!(last["totalOutputTextTokenCount"], 5);
            }
            Dialect::Llama => {
                assert_eq!(evs[0]["prompt_token_count"], 7);
                assert!(evs[1]["prompt_token_count"].is_null());
                assert_eq!(last["stop_reason"], "stop");
            }
            Dialect::Nova => {
                assert!(evs[0].get("messageStart").is_some());
                assert!(last.get("metadata").is_some());
            }
            Dialect::CohereCommand => {
                assert_eq!(evs[0]["event_type"], "stream-start");
                assert_eq!(last["event_type"], "stream-end");
                assert_eq!(last["is_finished"], true);
            }
            Dialect::OpenAiChat => {
                assert_eq!(evs[0]["object"], "chat.completion.chunk");
                assert_eq!(last["choices"][0]["finish_reason"], "stop");
            }
            _ => assert_eq!(
                last.pointer("/outputs/0/stop_reason")
                    .or(last.pointer("/choices/0/stop_reason")),
                Some(&json!("stop")),
                "{model}"
            ),
        }
    }
}

#[test]
fn counts_a_recorder_wrote_as_floats_are_still_read() {
    let chunk = json!({"outputText": "hi", "index": 0.0, "inputTextTokenCount": 28.0,
        "totalOutputTextTokenCount": 3.0, "completionReason": "FINISH",
        "amazon-bedrock-invocationMetrics": {"inputTokenCount": 28, "outputTokenCount": 3}});
    let mut c = crate::providers::common::collapse::Collapsed::default();
    let mut r = collapse::StreamReader::default();
    assert!(r.read(&chunk, &mut c));
    r.finish(&mut c);
    assert_eq!(c.usage, Some((28, 3)));
    assert!(r.done);
}

#[test]
fn stop_reasons_round_trip_in_each_familys_words() {
    let titan = &chat_cases()[1];
    let plan = plan_for(
        titan.0,
        &titan.1,
        false,
        json!({"content": "cut", "finishReason": "length"}),
    );
    assert_eq!(json_of(&plan)["results"][0]["completionReason"], "LENGTH");
    assert_eq!(collapse(titan.0, false, &plan)["finishReason"], "length");
    let cohere = &chat_cases()[5];
    let plan = plan_for(
        cohere.0,
        &cohere.1,
        true,
        json!({"content": "cut", "finishReason": "length"}),
    );
    assert_eq!(events(&plan).last().unwrap()["finish_reason"], "MAX_TOKENS");
    assert_eq!(collapse(cohere.0, true, &plan)["finishReason"], "length");
}

#[test]
fn tool_calls_are_answered_where_the_family_has_them() {
    let reply = json!({"content": "checking", "toolCalls": [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_1"}]});
    for i in [0usize, 4, 5, 7] {
        let (model, body, _) = &chat_cases()[i];
        for stream in [false, true] {
            let plan = plan_for(model, body, stream, reply.clone());
            let back = collapse(model, stream, &plan);
            let call = &back["toolCalls"][0];
            assert_eq!(call["name"], "get_weather", "{model} {stream}: {back}");
            let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
            assert_eq!(args, json!({"city": "Paris"}), "{model}");
            assert_eq!(back["content"], "checking", "{model} {stream}");
        }
    }
    let (model, body, _) = &chat_cases()[4];
    let v = json_of(&plan_for(model, body, false, reply.clone()));
    assert_eq!(v["choices"][0]["stop_reason"], "tool_calls");
    assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["id"], "call_1");
    let (model, body, _) = &chat_cases()[5];
    let v = json_of(&plan_for(model, body, false, reply));
    assert_eq!(
        v["tool_calls"][0],
        json!({"name": "get_weather", "parameters": {"city": "Paris"}})
    );
}

#[test]
fn gpt_oss_reasoning_travels_in_reasoning_tags_and_comes_back_apart() {
    let (model, body, _) = &chat_cases()[7];
    for stream in [false, true] {
        let plan = plan_for(
            model,
            body,
            stream,
            json!({"content": "Hi!", "reasoning": "be nice"}),
        );
        if !stream {
            assert_eq!(
                json_of(&plan)["choices"][0]["message"]["content"],
                "<reasoning>be nice</reasoning>Hi!"
            );
        }
        let back = collapse(model, stream, &plan);
        assert_eq!(back["content"], "Hi!");
        assert_eq!(back["reasoning"], "be nice");
    }
}

#[test]
fn embedding_families_answer_vectors_in_their_shapes() {
    let vector = json!({"embedding": [0.5, -0.25, 0.125]});
    // Titan v1: `embedding` and the token count only.
    let v1 = json!({"inputText": "hello there"});
    let r = parse("amazon.titan-embed-text-v1", &v1, false);
    assert_eq!(r.endpoint, crate::request::Endpoint::Embedding);
    assert_eq!(r.embedding_text().as_deref(), Some("hello there"));
    let plan = plan_for("amazon.titan-embed-text-v1", &v1, false, vector.clone());
    let v = json_of(&plan);
    assert_eq!(v["embedding"], json!([0.5, -0.25, 0.125]));
    assert!(v.get("embeddingsByType").is_none());
    assert!(v["inputTextTokenCount"].as_u64().unwrap() > 0);
    assert_eq!(collapse("amazon.titan-embed-text-v1", false, &plan), vector);
    // Titan v2 with both types.
    let v2 = json!({"inputText": "hello there", "dimensions": 256, "normalize": true,
        "embeddingTypes": ["float", "binary"]});
    let v = json_of(&plan_for(
        "amazon.titan-embed-text-v2:0",
        &v2,
        false,
        vector.clone(),
    ));
    assert_eq!(v["embeddingsByType"]["binary"], json!([1, 0, 1]));
    assert_eq!(v["embeddingsByType"]["float"], v["embedding"]);
    // Cohere: a list of vectors, or one list per type.
    let cohere = json!({"texts": ["a", "b"], "input_type": "search_document"});
    let plan = plan_for("cohere.embed-english-v3", &cohere, false, vector.clone());
    let v = json_of(&plan);
    assert_eq!(v["response_type"], "embeddings_floats");
    assert_eq!(v["embeddings"].as_array().unwrap().len(), 2);
    assert_eq!(v["texts"], json!(["a", "b"]));
    // Two inputs: the recorded body is kept whole, so each input replays its own vector.
    let r = collapse("cohere.embed-english-v3", false, &plan);
    assert_eq!(r["embedding"], vector["embedding"]);
    assert_eq!(r["native"]["fields"]["embeddings"], v["embeddings"]);
    let typed =
        json!({"texts": ["a"], "input_type": "search_query", "embedding_types": ["float", "int8"]});
    let plan = plan_for("cohere.embed-english-v3", &typed, false, vector.clone());
    let v = json_of(&plan);
    assert_eq!(v["response_type"], "embeddings_by_type");
    assert_eq!(v["embeddings"]["int8"][0].as_array().unwrap().len(), 3);
    // Typed vectors: the recorded body is kept whole (the integers as quantised).
    let r = collapse("cohere.embed-english-v3", false, &plan);
    assert_eq!(r["embedding"], vector["embedding"]);
    assert_eq!(r["native"]["fields"]["embeddings"], v["embeddings"]);
    // Embed v4 answers by type even when none is asked for (as the real service does).
    let v = json_of(&plan_for(
        "cohere.embed-v4:0",
        &cohere,
        false,
        vector.clone(),
    ));
    assert_eq!(v["response_type"], "embeddings_by_type");
    assert_eq!(v["embeddings"]["float"].as_array().unwrap().len(), 2);
    // Unmatched outside strict mode: deterministic vectors of the model's size.
    let r = parse("amazon.titan-embed-text-v1", &v1, false);
    let v = json_of(&fallback_embedding(&r, &ctx()).unwrap());
    assert_eq!(v["embedding"].as_array().unwrap().len(), 1536);
    assert!(
        fallback_embedding(&parse(chat_cases()[1].0, &chat_cases()[1].1, false), &ctx()).is_none()
    );
}

#[test]
fn a_chat_fixture_cannot_answer_an_embedding_family_and_says_so() {
    let fx = fixture(json!({"match": {}, "response": {"content": "text"}}));
    let r = parse(
        "amazon.titan-embed-text-v1",
        &json!({"inputText": "x"}),
        false,
    );
    assert!(render(&fx, &r, &ctx())
        .unwrap_err()
        .contains("cannot answer"));
}

#[test]
fn the_golden_titan_embedding_capture_collapses_to_its_vector() {
    let surface = Surface::Bedrock(crate::providers::bedrock::Op::Invoke {
        model: "amazon.titan-embed-text-v1".into(),
        stream: false,
    });
    let c = surface.collapse(
        200,
        "application/json",
        &crate::testing::golden("bedrock/invoke-titan-embeddings.json"),
    );
    assert!(c.embedding.as_ref().unwrap().len() > 100);
}

//! OpenAI Responses (`POST /v1/responses`): a response object as JSON, or typed SSE
//! events (`event: response.output_text.delta` …) ending in `response.completed`, or
//! `response.incomplete` for a `length` finish. There is no `[DONE]`.
//!
//! - `request`: the wire body into a [`ChatRequest`] (items, instructions, JSON mode).
//! - `reply`: a fixture into the response object or the list of stream events.
//! - `collapse`: a recorded reply (SSE or JSON) back into a fixture response.
//! - `socket`: Responses over WebSocket, the same events one per frame.
//! - here: the render verb's Responses half, and SSE framing.
//!
//! Errors use the OpenAI envelope, `openai::error`, shared by every OpenAI surface.
//! The official `openai` SDK is the judge: `responses.create`, `responses.stream` (whose
//! accumulator insists on `response.created` first, matching item ids between
//! `output_item.added` and `.done`, and a final `response.completed`) and
//! `responses.parse` (which parses the message text into the caller's model).

pub mod collapse;
pub mod native;
pub mod reply;
pub mod request;
pub(crate) mod socket;

use bytes::{Bytes, BytesMut};
use serde_json::Value;

use crate::cassette::model::ChatReply;
use crate::codec::sse;
use crate::providers::common::{json_text, Frame, RenderContext, RenderPlan};
use crate::request::ChatRequest;

/// Render a chat reply as a response (JSON or SSE).
pub fn render(chat: &ChatReply, req: &ChatRequest, ctx: &RenderContext) -> RenderPlan {
    if let Some(n) = chat.native_for(native::PROVIDER) {
        let r = native::response(chat, n, req, ctx);
        if !req.stream {
            return RenderPlan::json(200, &r);
        }
        let frames = native::events(&r, ctx.chunk_size)
            .iter()
            .map(|e| Frame {
                bytes: sse_event(e),
                paced: true,
            })
            .collect();
        return RenderPlan::sse(frames);
    }
    if req.stream {
        let frames = reply::stream_events(chat, req, ctx)
            .iter()
            .map(|e| Frame {
                bytes: sse_event(e),
                paced: true,
            })
            .collect();
        RenderPlan::sse(frames)
    } else {
        RenderPlan::json(200, &reply::response_body(chat, req, ctx))
    }
}

/// `event: <type>\ndata: <json>\n\n`, the event name taken from the value's `type`.
fn sse_event(v: &Value) -> Bytes {
    let name = v.get("type").and_then(|t| t.as_str()).unwrap_or("message");
    let mut buf = BytesMut::new();
    sse::encode_event(name, &json_text(v), &mut buf);
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::super::Op;
    use super::*;

    use crate::cassette::Fixture;
    use crate::providers::common::PlanBody;
    use crate::providers::common::RequestParts;
    use serde_json::json;

    use crate::testing::fixture;

    fn request(body: &str) -> ChatRequest {
        let headers = http::HeaderMap::new();
        let parts = RequestParts {
            path: "/v1/responses",
            query: None,
            headers: &headers,
        };
        crate::providers::openai::parse_request(&Op::Responses, &parts, body.as_bytes()).unwrap()
    }

    fn plan(fx: &Fixture, body: &str) -> RenderPlan {
        let req = request(body);
        crate::providers::openai::render(
            &Op::Responses,
            fx,
            &req,
            &RenderContext::new(fx, &req, 20),
        )
    }

    fn json_of(plan: &RenderPlan) -> Value {
        let PlanBody::Full(b) = &plan.body else {
            panic!("not JSON")
        };
        serde_json::from_slice(b).unwrap()
    }

    /// Decode a streamed plan with the SSE codec into (event name, data) pairs,
    /// checking that every frame is exactly one event named after its `type`.
    fn decode(plan: &RenderPlan) -> Vec<(String, Value)> {
        let PlanBody::Stream(frames) = &plan.body else {
            panic!("not a stream")
        };
        frames
            .iter()
            .map(|f| {
                let mut events =
                    crate::codec::decode_all(&mut sse::SseDecoder::new(), &f.bytes).unwrap();
                assert_eq!(events.len(), 1, "one event per frame");
                let e = events.remove(0);
                let name = e.event.expect("every event is named");
                let data: Value = serde_json::from_str(&e.data).unwrap();
                assert_eq!(data["type"], name.as_str());
                (name, data)
            })
            .collect()
    }

    const REQ: &str = r#"{"model":"gpt-4.1","input":"hi","max_output_tokens":50}"#;
    const STREAM_REQ: &str = r#"{"model":"gpt-4.1","input":"hi","stream":true}"#;

    #[test]
    fn the_json_body_has_the_real_field_order_and_items() {
        let fx = fixture(json!({"match": {}, "response": {
            "content": "Hello!", "reasoning": "think",
            "toolCalls": [{"name": "f", "arguments": {"a": 1}, "id": "call_pinned"}]}}));
        let body = json_of(&plan(&fx, REQ));
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "object",
                "created_at",
                "status",
                "background",
                "error",
                "incomplete_details",
                "instructions",
                "max_output_tokens",
                "max_tool_calls",
                "model",
                "output",
                "parallel_tool_calls",
                "previous_response_id",
                "reasoning",
                "service_tier",
                "store",
                "temperature",
                "text",
                "tool_choice",
                "tools",
                "top_logprobs",
                "top_p",
                "truncation",
                "usage",
                "user",
                "metadata"
            ]
        );
        assert!(body["id"].as_str().unwrap().starts_with("resp_"));
        assert_eq!(body["status"], "completed");
        assert_eq!(body["max_output_tokens"], 50);
        let types: Vec<&str> = body["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["reasoning", "message", "function_call"]);
        assert_eq!(body["output"][0]["summary"][0]["text"], "think");
        assert_eq!(body["output"][1]["content"][0]["text"], "Hello!");
        let call = &body["output"][2];
        assert!(call["id"].as_str().unwrap().starts_with("fc_"));
        assert_eq!(call["call_id"], "call_pinned");
        assert_eq!(call["arguments"], r#"{"a":1}"#);
        let u = &body["usage"];
        assert_eq!(
            u["total_tokens"].as_u64().unwrap(),
            u["input_tokens"].as_u64().unwrap() + u["output_tokens"].as_u64().unwrap()
        );
        assert!(
            u["output_tokens_details"]["reasoning_tokens"]
                .as_u64()
                .unwrap()
                > 0
        );
    }

    #[test]
    fn a_text_stream_has_the_full_event_sequence_with_sequence_numbers() {
        let fx =
            fixture(json!({"match": {}, "chunkSize": 4, "response": {"content": "Hello world"}}));
        let events = decode(&plan(&fx, STREAM_REQ));
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        for (i, (_, d)) in events.iter().enumerate() {
            assert_eq!(d["sequence_number"], i);
        }
        let text: String = events
            .iter()
            .filter_map(|(_, d)| d["delta"].as_str())
            .collect();
        assert_eq!(text, "Hello world");
        assert_eq!(events[0].1["response"]["status"], "in_progress");
        assert_eq!(events[0].1["response"]["usage"], Value::Null);
        let done = &events[10].1["response"];
        assert_eq!(done["output"][0]["id"], events[2].1["item"]["id"]);
        assert_eq!(done["output"][0]["content"][0]["text"], "Hello world");
    }

    #[test]
    fn an_incomplete_text_stream_matches_the_golden_events_key_for_key() {
        let golden =
            include_bytes!("../../../../tests/data/golden/openai/responses-stream-incomplete.sse");
        let golden: Vec<(String, Value)> =
            crate::codec::decode_all(&mut sse::SseDecoder::new(), golden)
                .unwrap()
                .into_iter()
                .map(|e| (e.event.unwrap(), serde_json::from_str(&e.data).unwrap()))
                .collect();
        let fx = fixture(
            json!({"match": {}, "response": {"content": "In the bustling city", "finishReason": "length"}}),
        );
        let ours = decode(&plan(&fx, STREAM_REQ));
        let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
        let mut names: Vec<&str> = ours.iter().map(|(n, _)| n.as_str()).collect();
        names.dedup();
        let mut golden_names: Vec<&str> = golden.iter().map(|(n, _)| n.as_str()).collect();
        golden_names.dedup();
        assert_eq!(names, golden_names);
        for (name, data) in &ours {
            let (_, g) = golden.iter().find(|(n, _)| n == name).unwrap();
            assert_eq!(keys(data), keys(g), "{name}");
            for inner in ["item", "part", "response"] {
                if data[inner].is_object() {
                    assert_eq!(keys(&data[inner]), keys(&g[inner]), "{name}.{inner}");
                }
            }
        }
    }

    #[test]
    fn reasoning_and_function_calls_stream_their_own_events() {
        let fx = fixture(json!({"match": {}, "response": {
            "reasoning": "plan", "toolCalls": [{"name": "f", "arguments": "{\"x\":1}"}]}}));
        let req = STREAM_REQ.replace(
            "\"stream\":true",
            "\"stream\":true,\"include\":[\"reasoning.encrypted_content\"]",
        );
        let events = decode(&plan(&fx, &req));
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names[2..],
            [
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        assert!(events[2].1["item"]["encrypted_content"].is_string());
        assert_eq!(events[8].1["output_index"], 1);
        assert_eq!(events[8].1["item"]["status"], "in_progress");
        assert!(events[8].1["item"]["call_id"]
            .as_str()
            .unwrap()
            .starts_with("call_"));
        assert_eq!(events[10].1["arguments"], r#"{"x":1}"#);
    }

    #[test]
    fn a_length_finish_is_incomplete_with_max_output_tokens() {
        let fx =
            fixture(json!({"match": {}, "response": {"content": "cut", "finishReason": "length"}}));
        let body = json_of(&plan(&fx, REQ));
        assert_eq!(body["status"], "incomplete");
        assert_eq!(
            body["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
        assert_eq!(body["output"][0]["status"], "incomplete");
        let events = decode(&plan(&fx, STREAM_REQ));
        let (last, data) = events.last().unwrap();
        assert_eq!(last, "response.incomplete");
        assert_eq!(data["response"]["status"], "incomplete");
    }

    #[test]
    fn json_mode_and_request_fields_are_echoed() {
        let fx = fixture(json!({"match": {}, "response": {"content": "{}"}}));
        let body = json_of(&plan(
            &fx,
            r#"{"model":"m","input":"x","instructions":"sys","text":{"format":{"type":"json_object"}},
                "tools":[{"type":"function","name":"f","parameters":{}}],"temperature":0.2}"#,
        ));
        assert_eq!(body["instructions"], "sys");
        assert_eq!(body["text"]["format"]["type"], "json_object");
        assert_eq!(body["tools"][0]["name"], "f");
        assert_eq!(body["temperature"], 0.2);
    }

    #[test]
    fn same_fixture_and_request_render_identical_bytes() {
        let fx = fixture(
            json!({"match": {}, "response": {"content": "a", "toolCalls": [{"name": "f"}]}}),
        );
        assert_eq!(plan(&fx, STREAM_REQ), plan(&fx, STREAM_REQ));
        assert_eq!(plan(&fx, REQ), plan(&fx, REQ));
        assert_ne!(plan(&fx, REQ), plan(&fx, &REQ.replace("hi", "hey")));
    }

    #[test]
    fn a_non_chat_fixture_is_a_500_in_openai_shape() {
        let fx = fixture(json!({"match": {}, "response": {"embedding": [1.0]}}));
        let p = plan(&fx, REQ);
        assert_eq!(p.status, 500);
        assert_eq!(json_of(&p)["error"]["type"], "server_error");
    }
}

//! The Realtime state machine driven event by event, without sockets.

use serde_json::{json, Value};

use super::*;
use crate::providers::common::RenderContext;
use crate::testing::fixture;

fn machine(query: &str) -> Realtime {
    Realtime::new(Some(query), false, Ids::new([3; 32]), 1_000)
}

fn values(events: &[Emit]) -> Vec<Value> {
    events.iter().map(|e| e.value.clone()).collect()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(event_type).collect()
}

fn send(m: &mut Realtime, v: Value) -> Step {
    m.on_text(&v.to_string())
}

/// Run a `response.create` against `fx`; the events and the request matched.
fn respond(
    m: &mut Realtime,
    create: Value,
    fx: &crate::cassette::Fixture,
) -> (Vec<Value>, ChatRequest) {
    let step = send(m, create);
    let req = *step.turn.expect("response.create runs a turn");
    let ctx = RenderContext::new(fx, &req, 4);
    (values(&m.answer(&req, Answer::Fixture(fx, &ctx))), req)
}

#[test]
fn the_session_is_announced_on_connect_with_the_model_and_every_event_has_an_id() {
    let mut m = machine("model=gpt-realtime-mini");
    let open = values(&m.open().events);
    assert_eq!(open[0]["type"], "session.created");
    assert!(open[0]["event_id"].as_str().unwrap().starts_with("event_"));
    let keys: Vec<&String> = open[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["type", "event_id", "session"]);
    assert_eq!(open[0]["session"]["model"], "gpt-realtime-mini");
    assert!(open[0]["session"]["id"]
        .as_str()
        .unwrap()
        .starts_with("sess_"));
    let up = values(&send(&mut m, json!({"type": "session.update", "session": {"type": "realtime", "instructions": "hi"}})).events);
    assert_eq!(up[0]["type"], "session.updated");
    assert_eq!(up[0]["session"]["instructions"], "hi");
}

#[test]
fn the_beta_shape_is_refused_with_close_4000() {
    let mut m = Realtime::new(None, true, Ids::new([1; 32]), 0);
    let step = m.open();
    assert_eq!(
        step.events[0].value["error"]["code"],
        "beta_api_shape_disabled"
    );
    assert_eq!(step.close.unwrap().0, 4000);
}

#[test]
fn items_are_added_and_done_and_feed_the_turn() {
    let mut m = machine("model=m");
    let added = values(&send(&mut m, json!({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather?"}]}})).events);
    assert_eq!(
        types(&added),
        ["conversation.item.added", "conversation.item.done"]
    );
    assert_eq!(added[0]["previous_item_id"], Value::Null);
    let first = added[0]["item"]["id"].as_str().unwrap().to_string();
    assert!(first.starts_with("item_"));
    assert_eq!(added[1]["item"]["object"], "realtime.item");
    let added = values(&send(&mut m, json!({"type": "conversation.item.create", "item": {
        "id": "call_item", "type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"}})).events);
    assert_eq!(added[0]["previous_item_id"], first.as_str());
    send(
        &mut m,
        json!({"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": "c1", "output": "sunny"}}),
    );
    let step = send(
        &mut m,
        json!({"type": "response.create", "response": {"instructions": "be brief"}}),
    );
    let req = step.turn.unwrap();
    assert_eq!(req.endpoint, Endpoint::Realtime);
    assert_eq!(req.system_text(), "be brief");
    assert_eq!(req.last_user_text(), Some("weather?"));
    assert!(req.has_tool_result());
    assert_eq!(req.assistant_count(), 1);
}

#[test]
fn a_text_turn_streams_output_text_events_and_joins_the_conversation() {
    let mut m = machine("model=m");
    send(
        &mut m,
        json!({"type": "session.update", "session": {"output_modalities": ["text"]}}),
    );
    let fx = fixture(json!({"match": {}, "response": {"content": "Hello world"}}));
    let (events, _) = respond(&mut m, json!({"type": "response.create"}), &fx);
    assert_eq!(
        types(&events),
        [
            "response.created",
            "response.output_item.added",
            "conversation.item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "conversation.item.done",
            "response.done",
        ]
    );
    let rid = events[0]["response"]["id"].as_str().unwrap();
    assert!(rid.starts_with("resp_"));
    assert!(events[1..11]
        .iter()
        .all(|e| e.get("response_id").is_none_or(|r| r == rid)));
    assert_eq!(events[7]["text"], "Hello world");
    let done = &events[11]["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["output"][0]["content"][0],
        json!({"type": "output_text", "text": "Hello world"})
    );
    assert!(done["usage"]["total_tokens"].as_u64().unwrap() > 0);
    // The next turn sees the assistant's answer.
    let step = send(&mut m, json!({"type": "response.create"}));
    assert_eq!(step.turn.unwrap().assistant_count(), 1);
}

#[test]
fn an_audio_session_gets_transcript_events_and_tool_calls_their_own_items() {
    let mut m = machine("model=m");
    let fx = fixture(
        json!({"match": {}, "response": {"content": "Sure", "toolCalls": [
        {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}", "id": "call_pinned"}]}}),
    );
    let (events, _) = respond(&mut m, json!({"type": "response.create"}), &fx);
    let t = types(&events);
    assert!(
        t.contains(&"response.output_audio_transcript.delta"),
        "{t:?}"
    );
    assert!(t.contains(&"response.output_audio_transcript.done"));
    assert!(!t.contains(&"response.output_text.delta"));
    let args: String = events
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(args, "{\"city\":\"Paris\"}");
    let done = &events.last().unwrap()["response"];
    assert_eq!(done["output"][0]["content"][0]["type"], "output_audio");
    assert_eq!(done["output"][0]["content"][0]["transcript"], "Sure");
    assert_eq!(done["output"][1]["type"], "function_call");
    assert_eq!(done["output"][1]["call_id"], "call_pinned");
    let adone = events
        .iter()
        .find(|e| e["type"] == "response.function_call_arguments.done")
        .unwrap();
    assert_eq!(adone["output_index"], 1);
    assert_eq!(adone["name"], "get_weather");
}

#[test]
fn a_miss_or_error_fixture_is_a_failed_response() {
    let mut m = machine("model=m");
    let step = send(&mut m, json!({"type": "response.create"}));
    let req = step.turn.unwrap();
    let e = values(&m.answer(&req, Answer::Miss("No fixture matched for openai request")));
    assert_eq!(types(&e), ["response.created", "response.done"]);
    assert_eq!(e[1]["response"]["status"], "failed");
    assert_eq!(
        e[1]["response"]["status_details"]["error"]["code"],
        "no_fixture_match"
    );
    let fx = fixture(
        json!({"match": {}, "response": {"error": {"message": "nope", "type": "server_error"}, "status": 500}}),
    );
    let (e, _) = respond(&mut m, json!({"type": "response.create"}), &fx);
    assert_eq!(
        e[1]["response"]["status_details"]["error"]["message"],
        "nope"
    );
}

#[test]
fn the_audio_buffer_is_acknowledged_and_an_empty_commit_refused() {
    let mut m = machine("model=m");
    let e = values(
        &send(
            &mut m,
            json!({"type": "input_audio_buffer.commit", "event_id": "c1"}),
        )
        .events,
    );
    assert_eq!(e[0]["error"]["code"], "input_audio_buffer_commit_empty");
    assert_eq!(e[0]["error"]["event_id"], "c1");
    assert!(send(
        &mut m,
        json!({"type": "input_audio_buffer.append", "audio": "AAAAAA=="})
    )
    .events
    .is_empty());
    let e = values(&send(&mut m, json!({"type": "input_audio_buffer.commit"})).events);
    assert_eq!(
        types(&e),
        [
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done"
        ]
    );
    assert_eq!(e[0]["item_id"], e[1]["item"]["id"]);
    assert_eq!(e[1]["item"]["content"][0]["type"], "input_audio");
    let e = values(&send(&mut m, json!({"type": "input_audio_buffer.clear"})).events);
    assert_eq!(types(&e), ["input_audio_buffer.cleared"]);
    let req = send(&mut m, json!({"type": "response.create"}))
        .turn
        .unwrap();
    assert_eq!(req.last_user_text(), Some("[audio input]"));
}

#[test]
fn bad_events_get_error_events_in_the_real_shape() {
    let mut m = machine("model=m");
    let e = &m.on_text("{oops").events[0].value;
    assert_eq!(e["error"]["code"], "invalid_json");
    let e = values(&send(&mut m, json!({"type": "bogus.event", "event_id": "x1"})).events);
    assert_eq!(e[0]["error"]["type"], "invalid_request_error");
    assert_eq!(e[0]["error"]["code"], "invalid_value");
    assert_eq!(e[0]["error"]["param"], "type");
    assert_eq!(e[0]["error"]["event_id"], "x1");
    let e = values(&send(&mut m, json!({"type": "conversation.item.create"})).events);
    assert_eq!(e[0]["error"]["code"], "missing_required_parameter");
    let e = values(&send(&mut m, json!({"type": "response.cancel"})).events);
    assert_eq!(e[0]["error"]["code"], "response_cancel_not_active");
    let e = values(
        &send(
            &mut m,
            json!({"type": "conversation.item.delete", "item_id": "nope"}),
        )
        .events,
    );
    assert_eq!(e[0]["error"]["code"], "item_not_found");
}

#[test]
fn a_cancel_part_way_ends_the_response_cancelled_with_what_was_sent() {
    let mut m = machine("model=m");
    send(
        &mut m,
        json!({"type": "session.update", "session": {"output_modalities": ["text"]}}),
    );
    let fx = fixture(json!({"match": {}, "response": {"content": "Hello world, a long answer"}}));
    let (events, _) = respond(&mut m, json!({"type": "response.create"}), &fx);
    assert!(m.is_cancel(r#"{"type":"response.cancel"}"#));
    assert!(!m.is_cancel(r#"{"type":"session.update","x":"response.cancel"}"#));
    let done = values(&m.cancel(5));
    assert_eq!(done[0]["type"], "response.done");
    assert_eq!(done[0]["response"]["status"], "cancelled");
    assert_eq!(
        done[0]["response"]["status_details"]["reason"],
        "client_cancelled"
    );
    assert_eq!(done[0]["response"]["output"], json!([]));
    assert_eq!(done[0]["response"]["id"], events[0]["response"]["id"]);
    // The unfinished item did not join the conversation.
    let req = send(&mut m, json!({"type": "response.create"}))
        .turn
        .unwrap();
    assert_eq!(req.assistant_count(), 0);
}

#[test]
fn a_transcription_session_transcribes_each_commit() {
    let mut m = machine("intent=transcription");
    let open = values(&m.open().events);
    assert_eq!(open[0]["session"]["type"], "transcription");
    send(
        &mut m,
        json!({"type": "input_audio_buffer.append", "audio": "AAAA"}),
    );
    let step = send(&mut m, json!({"type": "input_audio_buffer.commit"}));
    let item = step.events[0].value["item_id"]
        .as_str()
        .unwrap()
        .to_string();
    let req = step.turn.unwrap();
    assert_eq!(req.endpoint, Endpoint::RealtimeTranscription);
    let fx = fixture(json!({"match": {}, "response": {"transcription": {"text": "hello there"}}}));
    let ctx = RenderContext::new(&fx, &req, 5);
    let e = values(&m.answer(&req, Answer::Fixture(&fx, &ctx)));
    let t = types(&e);
    assert_eq!(
        t.last(),
        Some(&"conversation.item.input_audio_transcription.completed")
    );
    assert_eq!(e.last().unwrap()["transcript"], "hello there");
    assert_eq!(e.last().unwrap()["item_id"], item.as_str());
    assert_eq!(e.last().unwrap()["usage"]["type"], "tokens");
    let e = values(&send(&mut m, json!({"type": "response.create"})).events);
    assert_eq!(e[0]["type"], "error");
}

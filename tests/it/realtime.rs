//! The realtime WebSocket surfaces at the socket level, with tokio-tungstenite's client:
//! hostile input (binary frames, bad JSON, oversized messages), strict misses closing
//! 1008, the journal and metrics of each turn, chaos, the scope read from the upgrade,
//! and shutdown closing open sessions with 1001.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use aimock::config::Config;

use crate::support::{FixtureDir, TestServer};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const LIVE: &str = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";

fn fixtures() -> FixtureDir {
    FixtureDir::with(
        "rt.json",
        json!([
            {"match": {"userMessage": "hello"}, "response": {"content": "Hi!"}},
            {"match": {"userMessage": "scoped", "context": "ctx-1"}, "response": {"content": "in context"}},
            {"match": {"userMessage": "seq", "sequenceIndex": 0}, "response": {"content": "first"}},
            {"match": {"userMessage": "seq", "sequenceIndex": 1}, "response": {"content": "second"}},
            {"match": {"userMessage": "cut"}, "response": {"content": "a long answer cut in two"}, "chunkSize": 2,
             "chaos": {"disconnectRate": 1.0}}
        ]),
    )
}

async fn server(strict: bool) -> (TestServer, FixtureDir) {
    let dir = fixtures();
    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    c.strict = strict;
    c.metrics = true;
    (TestServer::start(c).await, dir)
}

async fn connect(s: &TestServer, path: &str, headers: &[(&'static str, &str)]) -> Ws {
    let mut req = format!("ws://{}{}", s.addr, path)
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(*k, v.parse().unwrap());
    }
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.status(), 101);
    ws
}

/// The next JSON event (bounded).
async fn next(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an event within 10 s")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).expect("every event is JSON");
        }
    }
}

/// Events up to and including the first of type `kind`.
async fn until(ws: &mut Ws, kind: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let e = next(ws).await;
        let done = e["type"] == kind;
        out.push(e);
        if done {
            return out;
        }
    }
}

/// The close frame's code, reading past any events first.
async fn closed_with(ws: &mut Ws) -> (Option<CloseCode>, String) {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("closes within 10 s")
        {
            Some(Ok(Message::Close(Some(f)))) => return (Some(f.code), f.reason.to_string()),
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return (None, String::new()),
            Some(Ok(_)) => {}
        }
    }
}

async fn say(ws: &mut Ws, text: &str) {
    let item = json!({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": text}]}});
    ws.send(Message::text(item.to_string())).await.unwrap();
    next(ws).await;
    next(ws).await;
    ws.send(Message::text(r#"{"type":"response.create"}"#))
        .await
        .unwrap();
}

fn ws_entries(s: &TestServer) -> Vec<Value> {
    s.state
        .journal
        .entries()
        .iter()
        .map(|e| e.to_json())
        .filter(|e| e["method"] == "WS")
        .collect()
}

#[tokio::test]
async fn a_binary_frame_closes_1003_and_bad_json_is_an_error_event_on_every_surface() {
    let (s, _d) = server(false).await;
    for path in ["/v1/realtime?model=m", "/v1/responses", LIVE] {
        let mut ws = connect(&s, path, &[]).await;
        if path.starts_with("/v1/realtime") {
            assert_eq!(next(&mut ws).await["type"], "session.created");
        }
        ws.send(Message::text("{not json")).await.unwrap();
        let e = next(&mut ws).await;
        assert!(e.get("error").is_some(), "{path}: {e}");
        // Still open after bad JSON; a binary frame ends it.
        ws.send(Message::binary(vec![0u8, 1, 2])).await.unwrap();
        let (code, _) = closed_with(&mut ws).await;
        assert_eq!(code, Some(CloseCode::Unsupported), "{path}");
    }
    // The server is fine for the next client.
    let mut ws = connect(&s, "/v1/realtime", &[]).await;
    assert_eq!(next(&mut ws).await["session"]["model"], "gpt-realtime");
}

#[tokio::test]
async fn an_oversized_message_closes_1009() {
    let (s, _d) = server(false).await;
    let mut ws = connect(&s, "/v1/responses", &[]).await;
    let big = format!(
        r#"{{"type":"response.create","input":"{}"}}"#,
        "x".repeat(17 << 20)
    );
    // The server may close before the whole message is written.
    let _ = ws.send(Message::text(big)).await;
    let (code, _) = closed_with(&mut ws).await;
    assert_eq!(code, Some(CloseCode::Size));
}

#[tokio::test]
async fn turns_are_journaled_with_their_fixture_and_counted_and_the_scope_comes_from_the_upgrade() {
    let (s, _d) = server(false).await;
    let mut ws = connect(
        &s,
        "/v1/realtime?model=m&testId=suite-a",
        &[("x-aimock-context", "ctx-1")],
    )
    .await;
    next(&mut ws).await;
    say(&mut ws, "scoped").await;
    let done = until(&mut ws, "response.done").await;
    assert_eq!(
        done.last().unwrap()["response"]["output"][0]["content"][0]["transcript"],
        "in context"
    );
    // Sequence counts are per test id: this connection's and another's are apart.
    say(&mut ws, "seq").await;
    let first = until(&mut ws, "response.done").await;
    assert_eq!(
        first.last().unwrap()["response"]["output"][0]["content"][0]["transcript"],
        "first"
    );
    say(&mut ws, "seq").await;
    let second = until(&mut ws, "response.done").await;
    assert_eq!(
        second.last().unwrap()["response"]["output"][0]["content"][0]["transcript"],
        "second"
    );
    let mut other = connect(&s, "/v1/realtime?model=m", &[("x-test-id", "suite-b")]).await;
    next(&mut other).await;
    say(&mut other, "seq").await;
    let again = until(&mut other, "response.done").await;
    assert_eq!(
        again.last().unwrap()["response"]["output"][0]["content"][0]["transcript"],
        "first"
    );

    let entries = ws_entries(&s);
    assert_eq!(entries.len(), 4, "{entries:?}");
    assert!(entries
        .iter()
        .all(|e| e["response"]["status"] == 200 && e["response"]["fixture"]["file"].is_string()));
    assert_eq!(entries[0]["testId"], "suite-a");
    assert_eq!(entries[3]["testId"], "suite-b");
    assert_eq!(entries[0]["path"], "/v1/realtime?model=m&testId=suite-a");
    let metrics = s.get("/metrics").await.text();
    assert!(
        metrics.contains(r#"route="/v1/realtime",status="200"} 4"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_strict_miss_sends_the_error_then_closes_1008_and_a_lenient_one_keeps_the_socket() {
    let (s, _d) = server(true).await;
    let mut ws = connect(&s, "/v1/responses", &[]).await;
    ws.send(Message::text(
        r#"{"type":"response.create","input":"nothing matches"}"#,
    ))
    .await
    .unwrap();
    let e = next(&mut ws).await;
    assert_eq!(e["type"], "error");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Strict mode: no fixture matched"));
    let (code, reason) = closed_with(&mut ws).await;
    assert_eq!(code, Some(CloseCode::Policy));
    assert!(
        reason.starts_with("Strict mode") && reason.len() <= 123,
        "{reason}"
    );
    assert_eq!(ws_entries(&s)[0]["response"]["status"], 503);

    // X-AIMock-Strict: false on the upgrade makes this connection lenient.
    let mut ws = connect(&s, LIVE, &[("x-aimock-strict", "false")]).await;
    ws.send(Message::text(
        r#"{"setup":{"model":"models/gemini-2.0-flash"}}"#,
    ))
    .await
    .unwrap();
    assert_eq!(next(&mut ws).await, json!({"setupComplete": {}}));
    ws.send(Message::text(
        r#"{"realtimeInput":{"text":"nothing matches"}}"#,
    ))
    .await
    .unwrap();
    let e = next(&mut ws).await;
    assert_eq!(e["error"]["status"], "NOT_FOUND");
    ws.send(Message::text(r#"{"realtimeInput":{"text":"hello"}}"#))
        .await
        .unwrap();
    let e = next(&mut ws).await;
    assert_eq!(e["serverContent"]["modelTurn"]["parts"][0]["text"], "Hi!");
    let entries = ws_entries(&s);
    assert_eq!(entries[1]["response"]["status"], 404);
    assert_eq!(entries[1]["response"]["strictOverride"], false);
}

#[tokio::test]
async fn chaos_disconnect_cuts_a_turn_part_way_without_a_close_frame() {
    let (s, _d) = server(false).await;
    let mut ws = connect(&s, "/v1/realtime?model=m", &[]).await;
    next(&mut ws).await;
    say(&mut ws, "cut").await;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Text(t))) => {
                seen.push(serde_json::from_str::<Value>(t.as_str()).unwrap())
            }
            Some(Ok(Message::Close(_))) => panic!("a disconnect sends no close frame"),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => break,
        }
    }
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|e| e["type"] != "response.done"),
        "{seen:?}"
    );
    let e = &ws_entries(&s)[0];
    assert_eq!(e["response"]["chaosAction"], "disconnect");
    assert_eq!(e["response"]["interrupted"], true);
}

#[tokio::test]
async fn shutdown_closes_open_sessions_with_1001() {
    let (s, _d) = server(false).await;
    let mut ws = connect(&s, "/v1/realtime?model=m", &[]).await;
    next(&mut ws).await;
    let stopping = tokio::spawn(s.stop());
    let (code, _) = closed_with(&mut ws).await;
    assert_eq!(code, Some(CloseCode::Away));
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn the_beta_realtime_shape_is_refused_with_4000() {
    let (s, _d) = server(false).await;
    let mut ws = connect(
        &s,
        "/v1/realtime?model=m",
        &[("openai-beta", "realtime=v1")],
    )
    .await;
    let e = next(&mut ws).await;
    assert_eq!(e["error"]["code"], "beta_api_shape_disabled");
    let (code, reason) = closed_with(&mut ws).await;
    assert_eq!(code, Some(CloseCode::from(4000)));
    assert_eq!(reason, "invalid_request_error.beta_api_shape_disabled");
}

//! Recording the realtime WebSocket surfaces against a fake upstream WebSocket server on
//! loopback, for each of OpenAI Realtime, Responses over WebSocket and Gemini Live: a
//! session the cassettes cannot answer is bridged (the client sees the upstream's events
//! live), its credentials reach the upstream and never the cassette, each turn is saved,
//! and a fresh strict server answers the same turns from the file.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

use aimock::config::Config;

use crate::support::{recording, TestServer};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const KEY: &str = "sk-test-not-a-real-key";
const LIVE: &str = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";

/// What the fake upstream saw of each upgrade: the request target and its
/// `Authorization` header.
#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Vec<Upgraded>>>);

/// An upgrade's request target and `Authorization` header.
type Upgraded = (String, Option<String>);

/// The fake's answer to one client message: the frames to send back.
type Script = fn(&Value, usize) -> Vec<Message>;

/// A fake upstream WebSocket server answering each text message with `script`
/// (given the message and how many turns it answered), sending `hello` on connect.
async fn fake_upstream(hello: Option<Value>, script: Script) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Seen::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let log = log.clone();
            let hello = hello.clone();
            tokio::spawn(async move {
                #[allow(clippy::result_large_err)] // tungstenite's callback signature
                let cb = |req: &Request, mut resp: Response| {
                    let auth = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .map(String::from);
                    log.0.lock().unwrap().push((req.uri().to_string(), auth));
                    if let Some(p) = req.headers().get("sec-websocket-protocol") {
                        let first = p.to_str().unwrap().split(',').next().unwrap().trim();
                        resp.headers_mut()
                            .insert("sec-websocket-protocol", first.parse().unwrap());
                    }
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await else {
                    return;
                };
                if let Some(h) = hello {
                    let _ = ws.send(Message::text(h.to_string())).await;
                }
                let mut turns = 0;
                while let Some(Ok(m)) = ws.next().await {
                    let Message::Text(t) = m else { continue };
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    let out = script(&v, turns);
                    if out.len() > 1 {
                        turns += 1;
                    }
                    for o in out {
                        if ws.send(o).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (base, seen)
}

fn text(v: Value) -> Message {
    Message::text(v.to_string())
}

/// The fake Realtime upstream: acks items, answers each `response.create` with text.
fn realtime_script(v: &Value, turns: usize) -> Vec<Message> {
    match v["type"].as_str() {
        Some("conversation.item.create") => vec![text(
            json!({"type": "conversation.item.added", "item": v["item"]}),
        )],
        Some("response.create") => {
            let id = format!("resp_up{turns}");
            let words = ["Upstream ", "answer ", &turns.to_string()];
            let mut out = vec![
                text(
                    json!({"type": "response.created", "response": {"id": id, "status": "in_progress"}}),
                ),
                text(
                    json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "role": "assistant"}}),
                ),
            ];
            for w in words {
                out.push(text(
                    json!({"type": "response.output_text.delta", "output_index": 0, "delta": w}),
                ));
            }
            out.push(text(
                json!({"type": "response.done", "response": {"id": id, "status": "completed",
                "usage": {"input_tokens": 5, "output_tokens": 3}}}),
            ));
            out
        }
        _ => vec![],
    }
}

/// The fake Responses upstream: each create answered with text; a follow-up must name
/// the response it continues.
fn responses_script(v: &Value, turns: usize) -> Vec<Message> {
    if v["type"] != "response.create" {
        return vec![];
    }
    let id = format!("resp_up{turns}");
    if turns > 0 && v["previous_response_id"] != format!("resp_up{}", turns - 1) {
        return vec![text(
            json!({"type": "error", "status": 400, "error": {"message": "unknown previous"}}),
        )];
    }
    let said = format!("Upstream answer {turns}");
    vec![
        text(
            json!({"type": "response.created", "response": {"id": id, "status": "in_progress", "output": []}}),
        ),
        text(
            json!({"type": "response.output_text.delta", "output_index": 0, "delta": "Upstream "}),
        ),
        text(
            json!({"type": "response.output_text.delta", "output_index": 0, "delta": format!("answer {turns}")}),
        ),
        text(
            json!({"type": "response.completed", "response": {"id": id, "status": "completed",
            "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": said}]}],
            "usage": {"input_tokens": 5, "output_tokens": 3}}}),
        ),
    ]
}

/// The fake Gemini Live upstream: JSON in binary frames, as Google sends it.
fn live_script(v: &Value, turns: usize) -> Vec<Message> {
    let bin = |v: Value| Message::binary(v.to_string().into_bytes());
    if v.get("setup").is_some() {
        return vec![bin(json!({"setupComplete": {}}))];
    }
    if v.get("clientContent").is_none() {
        return vec![];
    }
    vec![
        bin(json!({"serverContent": {"modelTurn": {"parts": [{"text": "Upstream "}]}}})),
        bin(
            json!({"serverContent": {"modelTurn": {"parts": [{"text": format!("answer {turns}")}]}}}),
        ),
        bin(json!({"serverContent": {"generationComplete": true}})),
        bin(json!({"serverContent": {"turnComplete": true},
                   "usageMetadata": {"promptTokenCount": 5, "responseTokenCount": 3}})),
    ]
}

async fn connect(addr: std::net::SocketAddr, target: &str, headers: &[(&str, String)]) -> Ws {
    let mut req = format!("ws://{addr}{target}")
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.status(), 101);
    ws
}

async fn next(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an event within 10 s")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).expect("JSON");
        }
    }
}

/// Events up to and including the first for which `last` holds.
async fn until(ws: &mut Ws, last: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let e = next(ws).await;
        let done = last(&e);
        out.push(e);
        if done {
            return out;
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The text of a turn's events: Realtime / Responses deltas, or Live parts.
fn said(events: &[Value]) -> String {
    events
        .iter()
        .filter_map(|e| {
            if e["type"] == "response.output_text.delta"
                || e["type"] == "response.output_audio_transcript.delta"
            {
                e["delta"].as_str()
            } else {
                e.pointer("/serverContent/modelTurn/parts/0/text")
                    .and_then(Value::as_str)
            }
        })
        .collect()
}

/// Every recorded cassette's text under `dir`.
fn recorded(dir: &Path) -> String {
    fn walk(p: &Path, out: &mut String) {
        for e in std::fs::read_dir(p).expect("a recorded dir") {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push_str(&std::fs::read_to_string(p).unwrap());
            }
        }
    }
    let mut out = String::new();
    walk(&dir.join("recorded"), &mut out);
    out
}

async fn recorder_server(dir: &Path, provider: &str, base: &str) -> TestServer {
    TestServer::start(recording(dir, &[provider], base)).await
}

async fn strict_server(dir: &Path) -> TestServer {
    let mut c = Config::for_tests(vec![dir.join("recorded")]);
    c.strict = true;
    TestServer::start(c).await
}

/// Turn `n` of a Realtime conversation: a user item, then a response.
async fn realtime_turn(ws: &mut Ws, user: &str) -> Vec<Value> {
    send(
        ws,
        json!({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": user}]}}),
    )
    .await;
    send(ws, json!({"type": "response.create"})).await;
    let events = until(ws, |e| e["type"] == "response.done").await;
    events
        .into_iter()
        .skip_while(|e| e["type"] != "response.created")
        .collect()
}

#[tokio::test]
async fn a_realtime_session_that_misses_is_bridged_recorded_without_its_key_and_replays_strictly() {
    let (base, seen) = fake_upstream(
        Some(json!({"type": "session.created", "session": {"id": "sess_up"}})),
        realtime_script,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let s = recorder_server(dir.path(), "openai", &base).await;
    let target = "/v1/realtime?model=gpt-realtime&testId=rt";
    let headers = [
        ("authorization", format!("Bearer {KEY}")),
        (
            "sec-websocket-protocol",
            format!("realtime, openai-insecure-api-key.{KEY}"),
        ),
    ];
    let mut ws = connect(s.addr, target, &headers).await;
    assert_eq!(next(&mut ws).await["type"], "session.created");
    let first = realtime_turn(&mut ws, "hello upstream").await;
    assert_eq!(
        first[0]["response"]["id"], "resp_up0",
        "the upstream's events, live"
    );
    assert_eq!(said(&first), "Upstream answer 0");
    let second = realtime_turn(&mut ws, "and again").await;
    assert_eq!(
        said(&second),
        "Upstream answer 1",
        "the session stays bridged"
    );
    drop(ws);
    s.state.recorder.current().unwrap().flush().await;

    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one upstream session");
    assert_eq!(
        seen[0].0, "/v1/realtime?model=gpt-realtime",
        "the query without testId"
    );
    assert_eq!(seen[0].1.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    let file = recorded(dir.path());
    assert!(!file.contains(KEY), "no credential in {file}");
    assert!(file.contains("Upstream answer 0") && file.contains("Upstream answer 1"));
    assert!(file.contains("hello upstream") && file.contains("recordedTimings"));

    let replay = strict_server(dir.path()).await;
    let mut ws = connect(replay.addr, target, &[]).await;
    assert_eq!(next(&mut ws).await["type"], "session.created");
    assert_eq!(
        said(&realtime_turn(&mut ws, "hello upstream").await),
        "Upstream answer 0"
    );
    assert_eq!(
        said(&realtime_turn(&mut ws, "and again").await),
        "Upstream answer 1"
    );
}

#[tokio::test]
async fn a_responses_socket_session_is_bridged_continues_with_upstream_ids_and_replays_strictly() {
    let (base, seen) = fake_upstream(None, responses_script).await;
    let dir = tempfile::tempdir().unwrap();
    let s = recorder_server(dir.path(), "openai", &base).await;
    let headers = [("authorization", format!("Bearer {KEY}"))];
    let mut ws = connect(s.addr, "/v1/responses", &headers).await;
    let done = |e: &Value| e["type"] == "response.completed" || e["type"] == "error";
    let create = |input: &str, previous: Option<&str>| {
        let mut v = json!({"type": "response.create", "model": "gpt-4o", "input": input});
        if let Some(p) = previous {
            v["previous_response_id"] = p.into();
        }
        v
    };
    send(&mut ws, create("ws hello", None)).await;
    let first = until(&mut ws, done).await;
    assert_eq!(said(&first), "Upstream answer 0");
    let id = first[0]["response"]["id"].as_str().unwrap().to_string();
    assert_eq!(id, "resp_up0");
    send(&mut ws, create("ws follow-up", Some(&id))).await;
    let second = until(&mut ws, done).await;
    assert_eq!(said(&second), "Upstream answer 1", "{second:?}");
    drop(ws);
    s.state.recorder.current().unwrap().flush().await;

    assert_eq!(
        seen.0.lock().unwrap()[0].1.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    let file = recorded(dir.path());
    assert!(!file.contains(KEY));
    assert!(file.contains("ws follow-up") && file.contains("Upstream answer 1"));

    let replay = strict_server(dir.path()).await;
    let mut ws = connect(replay.addr, "/v1/responses", &[]).await;
    send(&mut ws, create("ws hello", None)).await;
    let first = until(&mut ws, done).await;
    assert_eq!(said(&first), "Upstream answer 0");
    let id = first[0]["response"]["id"].as_str().unwrap().to_string();
    send(&mut ws, create("ws follow-up", Some(&id))).await;
    assert_eq!(said(&until(&mut ws, done).await), "Upstream answer 1");
}

#[tokio::test]
async fn a_gemini_live_session_is_bridged_with_its_key_and_replays_strictly() {
    let (base, seen) = fake_upstream(None, live_script).await;
    let dir = tempfile::tempdir().unwrap();
    let s = recorder_server(dir.path(), "gemini", &base).await;
    let target = format!("{LIVE}?key={KEY}");
    let headers = [("authorization", format!("Bearer {KEY}"))];
    let turn = |text: &str| json!({"clientContent": {"turns": [{"role": "user", "parts": [{"text": text}]}], "turnComplete": true}});
    let complete = |e: &Value| e.pointer("/serverContent/turnComplete") == Some(&json!(true));
    let mut ws = connect(s.addr, &target, &headers).await;
    send(
        &mut ws,
        json!({"setup": {"model": "models/gemini-2.0-flash-live"}}),
    )
    .await;
    assert_eq!(next(&mut ws).await, json!({"setupComplete": {}}));
    send(&mut ws, turn("live hello")).await;
    assert_eq!(said(&until(&mut ws, complete).await), "Upstream answer 0");
    send(&mut ws, turn("live again")).await;
    assert_eq!(said(&until(&mut ws, complete).await), "Upstream answer 1");
    drop(ws);
    s.state.recorder.current().unwrap().flush().await;

    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen[0].0, target, "the key goes up in the query");
    assert_eq!(seen[0].1.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    let file = recorded(dir.path());
    assert!(!file.contains(KEY));
    assert!(file.contains("live again") && file.contains("Upstream answer 1"));

    let replay = strict_server(dir.path()).await;
    let mut ws = connect(replay.addr, LIVE, &[]).await;
    send(
        &mut ws,
        json!({"setup": {"model": "models/gemini-2.0-flash-live"}}),
    )
    .await;
    assert_eq!(next(&mut ws).await, json!({"setupComplete": {}}));
    send(&mut ws, turn("live hello")).await;
    assert_eq!(said(&until(&mut ws, complete).await), "Upstream answer 0");
    send(&mut ws, turn("live again")).await;
    assert_eq!(said(&until(&mut ws, complete).await), "Upstream answer 1");
}

#[tokio::test]
async fn an_upstream_that_cannot_be_reached_is_a_lenient_miss_naming_it() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let s = recorder_server(dir.path(), "openai", &base).await;
    let mut ws = connect(s.addr, "/v1/realtime?model=gpt-realtime", &[]).await;
    next(&mut ws).await;
    let events = realtime_turn(&mut ws, "nobody home").await;
    let done = events.last().unwrap();
    assert_eq!(done["response"]["status"], "failed");
    let message = done["response"]["status_details"]["error"]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains(&base.replace("http", "ws")), "{message}");
    // The session is still served.
    send(
        &mut ws,
        json!({"type": "session.update", "session": {"instructions": "x"}}),
    )
    .await;
    assert_eq!(next(&mut ws).await["type"], "session.updated");
}

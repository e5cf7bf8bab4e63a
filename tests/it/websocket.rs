//! The WebSocket upgrade point, driven by tokio-tungstenite's client over loopback with
//! a test-only echo handler mounted: the handshake, the subprotocol echoed, messages
//! both ways, the size limit closing with 1009, a bad upgrade refused, and a path with
//! no handler answering as it does without the upgrade headers.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use aimock::config::Config;
use aimock::server::websocket::{close_for, Socket, SocketHandler, Upgrade};
use aimock::server::{AppState, Mounts};

use crate::support::{request, FixtureDir, TestServer};

/// Echo every text message back, prefixed with the path and the test id the upgrade
/// request carried; close with the right code when the client misbehaves.
fn echo() -> SocketHandler {
    Arc::new(|mut socket: Socket, up: Upgrade, _state: Arc<AppState>| {
        Box::pin(async move {
            let test_id = up
                .headers
                .get("x-test-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string();
            while let Some(msg) = socket.next().await {
                match msg {
                    Ok(Message::Text(t)) => {
                        let reply = format!("{} {} {}", up.path, test_id, t.as_str());
                        if socket.send(Message::text(reply)).await.is_err() {
                            break;
                        }
                    }
                    Ok(Message::Close(_)) => break,
                    Ok(_) => {}
                    Err(e) => {
                        if let Some(close) = close_for(&e, &up.path) {
                            let _ = socket.send(close).await;
                        }
                        break;
                    }
                }
            }
        })
    })
}

async fn server() -> (TestServer, FixtureDir) {
    let dir = FixtureDir::with(
        "a.json",
        serde_json::json!([{"match": {"userMessage": "hi"}, "response": {"content": "hello"}}]),
    );
    let mut mounts = Mounts::default();
    mounts.sockets.mount("/test/echo", echo());
    mounts.sockets.mount_limited("/test/small", 1024, echo());
    let s = TestServer::start_with(Config::for_tests(vec![dir.path().to_path_buf()]), mounts).await;
    (s, dir)
}

#[tokio::test]
async fn a_mounted_handler_gets_the_socket_and_the_first_offered_subprotocol_is_echoed() {
    let (s, _d) = server().await;
    let mut req = format!("ws://{}/test/echo?model=m", s.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "realtime, openai-beta.v1".parse().unwrap(),
    );
    req.headers_mut()
        .insert("x-test-id", "suite-1".parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.status(), 101);
    assert_eq!(resp.headers()["sec-websocket-protocol"], "realtime");
    ws.send(Message::text("ping one")).await.unwrap();
    let got = ws.next().await.unwrap().unwrap();
    assert_eq!(
        got.into_text().unwrap().as_str(),
        "/test/echo suite-1 ping one"
    );
    // A fragmented message is reassembled before the handler sees it: tungstenite's
    // client sends large messages whole, so send one well over a frame's usual size.
    let big = "x".repeat(200_000);
    ws.send(Message::text(big.clone())).await.unwrap();
    let got = ws.next().await.unwrap().unwrap().into_text().unwrap();
    assert!(got.as_str().ends_with(&big));
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn a_message_over_the_limit_closes_the_connection_with_1009() {
    let (s, _d) = server().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/test/small", s.addr))
        .await
        .unwrap();
    ws.send(Message::text("fits")).await.unwrap();
    assert!(ws.next().await.unwrap().unwrap().is_text());
    ws.send(Message::text("y".repeat(2000))).await.unwrap();
    let mut code = None;
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Close(Some(f)) = m {
            code = Some(f.code);
            break;
        }
    }
    assert_eq!(code, Some(CloseCode::Size));
    // The server is still up for everyone else.
    let r = s
        .post(
            "/v1/chat/completions",
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn a_malformed_upgrade_is_refused_and_a_path_without_a_handler_answers_as_before() {
    let (s, _d) = server().await;
    let upgrade = [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    // Version 8: 426 naming the version the server speaks.
    let mut h = upgrade.to_vec();
    h.push(("sec-websocket-version", "8"));
    let r = request("GET", &s.url("/test/echo"), Vec::new(), &h).await;
    assert_eq!(r.status, 426);
    assert_eq!(r.headers["sec-websocket-version"], "13");
    // No key: 400.
    let r = request(
        "GET",
        &s.url("/test/echo"),
        Vec::new(),
        &[
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "13"),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    // A path with no handler answers as it does without the upgrade headers.
    let mut h = upgrade.to_vec();
    h.push(("sec-websocket-version", "13"));
    let with = request("GET", &s.url("/v1/models"), Vec::new(), &h).await;
    let without = request("GET", &s.url("/v1/models"), Vec::new(), &[]).await;
    assert_eq!(with.status, 200);
    assert_eq!(with.status, without.status);
    assert_eq!(with.text(), without.text());
}

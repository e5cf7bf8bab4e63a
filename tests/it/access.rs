//! Access control for a shared gateway: inbound API keys on provider routes, mounted
//! services and WebSocket upgrades (every header form, the query key, the Realtime
//! subprotocol), the 401 in each provider's shape, the probes left open, record mode
//! checking before it forwards, and the control API's rule on a non-loopback address.

use std::net::SocketAddr;
use std::sync::Arc;

use aimock::config::access::{AccessConfig, Secret};
use aimock::config::Config;
use aimock::server::{Body, Mounts};
use aimock::services::{Reply, Service, ServiceRequest};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{request, FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

const KEY: &str = "sk-test-not-a-real-key";
const OTHER_KEY: &str = "pc-test-not-a-real-key";
const WRONG: &str = "sk-test-not-a-real-key-wrong";
const CHAT: &str = "/v1/chat/completions";

fn chat_body() -> String {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

fn keyed(mut c: Config, token: Option<&str>) -> Config {
    c.access = AccessConfig {
        api_keys: vec![Secret::new(KEY), Secret::new(OTHER_KEY)],
        control_token: token.map(Secret::new),
    };
    c.metrics = true;
    c
}

/// A mounted service that answers 200 to anything.
struct Ok200;

impl Service for Ok200 {
    fn name(&self) -> &str {
        "ok200"
    }
    fn prefix(&self) -> &str {
        "/test-svc"
    }
    fn handle(&self, _req: ServiceRequest) -> Reply<'_> {
        Box::pin(async { http::Response::new(Body::full("{}")) })
    }
    fn health(&self) -> Value {
        json!({"status": "ok"})
    }
    fn reset(&self) {}
}

async fn server() -> (TestServer, FixtureDir) {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {"userMessage": "hi"}, "response": {"content": "hello"}}]),
    );
    let mut mounts = Mounts::default();
    mounts.services.mount(Arc::new(Ok200)).unwrap();
    let c = keyed(Config::for_tests(vec![dir.path().to_path_buf()]), None);
    (TestServer::start_with(c, mounts).await, dir)
}

#[tokio::test]
async fn every_header_form_admits_a_right_key_and_refuses_a_wrong_one() {
    let (s, _dir) = server().await;
    let forms: [(&str, String); 8] = [
        ("authorization", format!("Bearer {KEY}")),
        ("authorization", format!("bearer {OTHER_KEY}")),
        ("authorization", format!("Key {KEY}")),
        ("x-api-key", KEY.into()),
        ("x-goog-api-key", KEY.into()),
        ("api-key", OTHER_KEY.into()),
        ("xi-api-key", KEY.into()),
        ("authorization", format!("Bearer  {KEY} ")),
    ];
    for (name, value) in &forms {
        let r = s.post(CHAT, &chat_body(), &[(name, value)]).await;
        assert_eq!(r.status, 200, "{name}: {value}: {}", r.text());
        let wrong = value.replace(KEY, WRONG).replace(OTHER_KEY, WRONG);
        let r = s.post(CHAT, &chat_body(), &[(name, &wrong)]).await;
        assert_eq!(r.status, 401, "{name}: {wrong}");
        assert_eq!(r.headers["www-authenticate"], r#"Bearer realm="aimock""#);
        assert!(
            !r.text().contains(WRONG),
            "the refusal never echoes the key"
        );
    }
    // None at all, and a scheme that is not read.
    for headers in [vec![], vec![("authorization", "Basic c2stdGVzdA==")]] {
        let r = s.post(CHAT, &chat_body(), &headers).await;
        assert_eq!(r.status, 401);
        assert!(r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Missing API key"));
    }
    // The mounted service and the models list are guarded too.
    assert_eq!(s.post("/test-svc/x", "{}", &[]).await.status, 401);
    assert_eq!(
        s.post("/test-svc/x", "{}", &[("x-api-key", KEY)])
            .await
            .status,
        200
    );
    assert_eq!(s.get("/v1/models").await.status, 401);

    // Journaled without the key, and counted.
    let journal = request("GET", &s.url("/__aimock/journal"), vec![], &[])
        .await
        .text();
    assert!(
        journal.contains("\"status\":401") || journal.contains("\"status\": 401"),
        "{journal}"
    );
    assert!(
        !journal.contains(WRONG) && !journal.contains(KEY),
        "{journal}"
    );
    let metrics = s.get("/metrics").await.text();
    assert!(
        metrics.contains(r#"aimock_access_refusals_total{guard="api_key"} 12"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_401_takes_each_providers_own_error_shape() {
    let (s, _dir) = server().await;
    let openai = s.post(CHAT, &chat_body(), &[]).await.json();
    assert_eq!(openai["error"]["type"], "authentication_error");
    assert_eq!(openai["error"]["code"], "invalid_api_key");

    let anthropic = s
        .post(
            "/v1/messages",
            r#"{"model":"claude","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#,
            &[("x-api-key", WRONG)],
        )
        .await;
    assert_eq!(anthropic.status, 401);
    let a = anthropic.json();
    assert_eq!(a["type"], "error");
    assert_eq!(a["error"]["type"], "authentication_error");
    assert_eq!(a["error"]["message"], "Invalid API key");

    let gemini = s
        .post(
            "/v1beta/models/gemini-2.0-flash:generateContent?key=nope",
            r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
            &[],
        )
        .await;
    assert_eq!(gemini.status, 401);
    assert_eq!(gemini.json()["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(gemini.json()["error"]["code"], 401);

    let bedrock = s.post("/model/anthropic.claude-v2/invoke", "{}", &[]).await;
    assert_eq!(bedrock.status, 401);
    let kind = bedrock
        .headers
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_string());
    assert!(
        kind.as_deref()
            .unwrap_or("")
            .starts_with("UnrecognizedClientException"),
        "{kind:?} {}",
        bedrock.text()
    );

    // Not a provider's path: aimock's own (the reference's) shape.
    let svc = s.post("/test-svc/x", "{}", &[]).await.json();
    assert_eq!(
        svc["error"],
        json!({"message": svc["error"]["message"], "type": "authentication_error", "code": "invalid_api_key"})
    );
}

#[tokio::test]
async fn gemini_clients_key_in_the_query_is_read() {
    let (s, _dir) = server().await;
    let path = "/v1beta/models/gemini-2.0-flash:generateContent";
    let body = r#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#;
    let ok = s.post(&format!("{path}?key={KEY}"), body, &[]).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        s.post(&format!("{path}?alt=sse&key={WRONG}"), body, &[])
            .await
            .status,
        401
    );
}

async fn upgrade(addr: SocketAddr, path: &str, protocol: Option<&str>) -> Result<u16, u16> {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("sec-websocket-protocol", p.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((_ws, resp)) => Ok(resp.status().as_u16()),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn websocket_upgrades_need_a_key_in_the_subprotocol_a_header_or_the_query() {
    let (s, _dir) = server().await;
    let realtime = "/v1/realtime?model=gpt-realtime";
    assert_eq!(upgrade(s.addr, realtime, None).await, Err(401));
    assert_eq!(
        upgrade(
            s.addr,
            realtime,
            Some(&format!("realtime, openai-insecure-api-key.{WRONG}"))
        )
        .await,
        Err(401)
    );
    assert_eq!(
        upgrade(
            s.addr,
            realtime,
            Some(&format!(
                "realtime, openai-insecure-api-key.{KEY}, openai-beta.realtime-v1"
            ))
        )
        .await,
        Ok(101)
    );
    let live = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent";
    assert_eq!(upgrade(s.addr, live, None).await, Err(401));
    assert_eq!(
        upgrade(s.addr, &format!("{live}?key={KEY}"), None).await,
        Ok(101)
    );
}

#[tokio::test]
async fn probes_metrics_and_real_preflights_stay_open() {
    let (s, _dir) = server().await;
    assert_eq!(s.get("/health").await.status, 200);
    assert_eq!(s.get("/ready").await.status, 200);
    assert_eq!(s.get("/metrics").await.status, 200);
    let preflight = request(
        "OPTIONS",
        &s.url(CHAT),
        vec![],
        &[
            ("origin", "http://localhost:3000"),
            ("access-control-request-method", "POST"),
        ],
    )
    .await;
    assert_eq!(preflight.status, 204);
    // An OPTIONS that is not a preflight is an ordinary request.
    assert_eq!(
        request("OPTIONS", &s.url(CHAT), vec![], &[]).await.status,
        401
    );
}

#[tokio::test]
async fn record_mode_checks_before_forwarding_and_forwards_the_clients_own_credential() {
    let up = FakeUpstream::start().await;
    up.script(
        CHAT,
        Script::body(
            200,
            "application/json",
            r#"{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hey"},"finish_reason":"stop"}]}"#,
        ),
    );
    let dir = FixtureDir::new();
    let c = keyed(
        crate::support::recording(dir.path(), &["openai"], &up.url()),
        None,
    );
    let s = TestServer::start(c).await;
    let provider = "Bearer sk-test-not-a-real-key-upstream";
    let r = s
        .post(CHAT, &chat_body(), &[("authorization", provider)])
        .await;
    assert_eq!(r.status, 401, "the client's provider key is not aimock's");
    assert_eq!(up.hits(), 0, "nothing is forwarded before the check");

    let r = s
        .post(
            CHAT,
            &chat_body(),
            &[("authorization", provider), ("x-api-key", KEY)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = up.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.headers["authorization"], provider);
    assert!(
        seen.headers.get("x-api-key").is_none(),
        "aimock's key never reaches the upstream"
    );
}

/// A server on 0.0.0.0 port 0 (reached through 127.0.0.1).
async fn wildcard(token: Option<&str>) -> (TestServer, String, FixtureDir) {
    let dir = FixtureDir::new();
    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    c.host = [0, 0, 0, 0].into();
    c.access.control_token = token.map(Secret::new);
    let s = TestServer::start(c).await;
    let base = format!("http://127.0.0.1:{}", s.addr.port());
    (s, base, dir)
}

#[tokio::test]
async fn on_a_non_loopback_address_the_control_api_is_off_without_a_token() {
    let (s, base, _dir) = wildcard(None).await;
    let r = request("GET", &format!("{base}/__aimock/journal"), vec![], &[]).await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("--control-token"), "{}", r.text());
    let r = request("POST", &format!("{base}/__aimock/reset"), vec![], &[]).await;
    assert_eq!(r.status, 403);
    // The probes and (with no API keys) the provider routes are still served.
    assert_eq!(
        request("GET", &format!("{base}/health"), vec![], &[])
            .await
            .status,
        200
    );
    assert_eq!(
        request(
            "POST",
            &format!("{base}{CHAT}"),
            chat_body().into_bytes(),
            &[]
        )
        .await
        .status,
        404
    );
    drop(s);
}

#[tokio::test]
async fn on_a_non_loopback_address_the_control_api_needs_its_token() {
    let token = "ctl-test-not-a-real-token";
    let (s, base, _dir) = wildcard(Some(token)).await;
    let url = format!("{base}/__aimock/journal");
    let r = request("GET", &url, vec![], &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.headers["www-authenticate"], r#"Bearer realm="aimock""#);
    let wrong = format!("Bearer {token}x");
    assert_eq!(
        request("GET", &url, vec![], &[("authorization", &wrong)])
            .await
            .status,
        401
    );
    let right = format!("Bearer {token}");
    assert_eq!(
        request("GET", &url, vec![], &[("authorization", &right)])
            .await
            .status,
        200
    );
    drop(s);
}

#[tokio::test]
async fn on_loopback_the_control_api_is_open_unless_a_token_is_set() {
    let dir = FixtureDir::new();
    let open = TestServer::start(Config::for_tests(vec![dir.path().to_path_buf()])).await;
    assert_eq!(open.get("/__aimock/journal").await.status, 200);
    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    c.access.control_token = Some(Secret::new("ctl-test-not-a-real-token"));
    let guarded = TestServer::start(c).await;
    assert_eq!(guarded.get("/__aimock/journal").await.status, 401);
    assert_eq!(
        request(
            "GET",
            &guarded.url("/__aimock/journal"),
            vec![],
            &[("authorization", "Bearer ctl-test-not-a-real-token")]
        )
        .await
        .status,
        200
    );
}

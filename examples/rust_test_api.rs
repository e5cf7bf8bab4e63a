//! The Rust test API in a test's shape: start an aimock on a free loopback port, give
//! it fixtures built in code, call it as an OpenAI-compatible client would (here with
//! hyper-util's client; in a real test, the client under test pointed at
//! `server.uri()`), then read what it received.
//!
//! Run: `cargo run --example rust_test_api`. Prints each answer and the journal.

use aimock::{Fixture, MockServer};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

/// POST a chat completion with one user message to `base`; the status and the body.
async fn chat(base: &str, user: &str) -> anyhow::Result<(u16, Value)> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": user}]});
    let req = http::Request::post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-test-not-a-real-key")
        .body(Full::new(Bytes::from(body.to_string())))?;
    let resp = client.request(req).await?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&bytes)?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = MockServer::builder()
        .fixture(Fixture::on_message("hello").reply("Hi! How can I help?"))
        .fixture(
            Fixture::on_message("weather")
                .reply_tool_call("get_weather", json!({"city": "Paris", "unit": "celsius"})),
        )
        .fixture(Fixture::on_message("limit").reply_error(429, "rate limited"))
        .start()
        .await;
    println!("aimock listening on {}", server.uri());

    let (status, body) = chat(&server.uri(), "hello").await?;
    println!(
        "hello   -> {status} {}",
        body["choices"][0]["message"]["content"]
    );
    let (status, body) = chat(&server.uri(), "weather in Paris?").await?;
    println!(
        "weather -> {status} {}",
        body["choices"][0]["message"]["tool_calls"][0]["function"]
    );
    let (status, body) = chat(&server.uri(), "limit").await?;
    println!("limit   -> {status} {}", body["error"]["message"]);

    // Fixtures added later: `mount` after every other, `prepend` ahead of all.
    server.prepend(Fixture::on_message("hello").reply("Hello from a prepended fixture"));
    let (_, body) = chat(&server.uri(), "hello").await?;
    println!("hello   -> {}", body["choices"][0]["message"]["content"]);

    for r in server.received_requests() {
        println!(
            "journal: {} {} -> {} ({:?}, {:?})",
            r.method,
            r.path,
            r.status,
            r.last_user_message(),
            r.fixture
        );
    }
    server.stop().await
}

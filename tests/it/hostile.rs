//! Hostile input: every route gets malformed, mistyped and oversized bodies, and must
//! answer each with an HTTP response (never a dropped connection, which is what a panic
//! in a handler looks like from outside).

use serde_json::json;

use crate::support::{request, FixtureDir, TestServer};

const ROUTES: &[&str] = &[
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/embeddings",
    "/v1/messages",
    "/openai/deployments/d/chat/completions?api-version=2024-10-21",
    "/openai/deployments/d/embeddings",
    "/v1beta/models/gemini-2.0-flash:generateContent",
    "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
    "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
    "/v1beta/models/text-embedding-004:embedContent",
    "/v1beta/models/text-embedding-004:batchEmbedContents",
    "/v1/projects/p/locations/l/publishers/google/models/gemini-2.0-flash:generateContent",
    "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
    "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream",
    "/model/m/converse",
    "/model/m/converse-stream",
    "/v2/chat",
    "/v2/embed",
    "/api/chat",
    "/api/generate",
    "/api/embed",
    "/api/embeddings",
];

fn bodies() -> Vec<Vec<u8>> {
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let mut out: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"str\"".to_vec(),
        b"{".to_vec(),
        vec![0xff, 0xfe, 0x00],
        deep.into_bytes(),
    ];
    for v in [
        json!({}),
        json!({"model": 1, "messages": "x", "input": 3, "contents": "x", "prompt": []}),
        json!({"model": "m", "messages": [1, null, "x", {"role": 5, "content": {"a": 1}}]}),
        json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 7}, null, {"type": "tool_result", "content": [1]}]}]}),
        json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": {"a": 1}}}, 3]}, {"role": "tool"}]}),
        json!({"model": "m", "input": [{"type": "function_call_output"}, {"role": "user", "content": [null]}], "text": {"format": 3}}),
        json!({"contents": [{"role": "model", "parts": [{"functionCall": {"name": 3, "args": "x"}}, {"functionResponse": null}]}], "systemInstruction": "x"}),
        json!({"messages": [{"role": "user", "content": [{"toolResult": {"content": [{"json": 1}]}}, {"toolUse": {}}]}], "system": [1], "toolConfig": {"tools": [1]}}),
        json!({"model": "m", "texts": [1, 2], "inputs": "x", "embedding_types": [3], "requests": [{}], "output_dimension": -1}),
        json!({"model": "m", "stream": "yes", "stream_options": {"include_usage": "no"}, "tools": [{"function": 1}], "dimensions": 1e300}),
        json!({"model": "m", "input": "x", "dimensions": 0, "encoding_format": "base64"}),
        json!({"anthropic_version": "bedrock-2023-05-31", "messages": [{"role": "user", "content": "hi"}], "max_tokens": -5}),
        json!({"model": "m", "prompt": "hi", "stream": false, "options": {"num_ctx": "x"}}),
    ] {
        out.push(v.to_string().into_bytes());
    }
    out
}

#[tokio::test]
async fn every_route_answers_every_hostile_body_with_a_response() {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {}, "response": {"content": "ok", "toolCalls": [{"name": "f", "arguments": {"x": 1}}], "reasoning": "r"}},
               {"match": {"endpoint": "embedding"}, "response": {"embedding": [0.1, 0.2]}}]),
    );
    let s = TestServer::with_fixtures(dir.path()).await;
    for route in ROUTES {
        for body in bodies() {
            let r = request("POST", &s.url(route), body.clone(), &[]).await;
            assert!(
                (200..600).contains(&r.status),
                "{route} with {:?}: {}",
                String::from_utf8_lossy(&body[..body.len().min(60)]),
                r.status
            );
            if r.status >= 400 {
                assert!(r.body.is_ok(), "{route}: error bodies arrive whole");
            }
        }
    }
    // And the server still serves normally afterwards.
    let r = s
        .post(
            "/v1/chat/completions",
            &json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).to_string(),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn hostile_headers_and_paths_get_answers() {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {}, "response": {"content": "ok"}}]),
    );
    let s = TestServer::with_fixtures(dir.path()).await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
        .into_bytes();
    for (k, v) in [
        ("x-test-id", "../../../../etc/passwd"),
        ("x-aimock-strict", "maybe"),
        ("content-length", "abc"),
        ("content-type", "text/plain"),
    ] {
        let r = request(
            "POST",
            &s.url("/v1/chat/completions"),
            body.clone(),
            &[(k, v)],
        )
        .await;
        assert!((200..600).contains(&r.status), "{k}: {v}");
    }
    // Raw bytes a client library would refuse to send: obs-text in a header value.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut sock = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let mut req = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nx-test-id: ",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(&[0xe2, 0x80, 0xba, 0xff, b'\r', b'\n', b'\r', b'\n']);
        req.extend_from_slice(&body);
        sock.write_all(&req).await.unwrap();
        let mut head = [0u8; 12];
        sock.read_exact(&mut head).await.unwrap();
        assert!(
            head.starts_with(b"HTTP/1.1 "),
            "{:?}",
            String::from_utf8_lossy(&head)
        );
    }
    for path in [
        "/model//invoke",
        "/model/%ZZ/converse",
        "/v1beta/models/:generateContent",
        "/v1/projects/p/locations/l/publishers/google/models/x",
        "/openai/deployments//chat/completions",
        "/%2e%2e/%2e%2e",
    ] {
        let r = request("POST", &s.url(path), body.clone(), &[]).await;
        assert!((200..600).contains(&r.status), "{path}");
    }
}

/// A server whose clients get `ms` to send a request head.
async fn with_head_deadline(ms: u64) -> (TestServer, FixtureDir) {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {"userMessage": "hi"}, "response": {"content": "hello"}}]),
    );
    let mut config = aimock::config::Config::for_tests(vec![dir.dir.path().to_path_buf()]);
    config.header_read_timeout = std::time::Duration::from_millis(ms);
    (TestServer::start(config).await, dir)
}

/// Read until the server closes the connection; what it sent before closing. Fails the
/// test when the connection is still open after 20 s (the deadlines are far shorter).
async fn read_to_close(s: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the connection is still open");
    got
}

const CHAT: &str = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;

fn chat_request() -> String {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{CHAT}",
        CHAT.len()
    )
}

#[tokio::test]
async fn a_client_that_never_finishes_its_head_is_disconnected() {
    use tokio::io::AsyncWriteExt;
    let (server, _dir) = with_head_deadline(300).await;
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let got = read_to_close(&mut slow).await;
    assert!(
        !got.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    // Everyone else is still served.
    assert_eq!(server.answer("hi").await.as_deref(), Some("hello"));
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_deadline() {
    use tokio::io::AsyncWriteExt;
    let (server, _dir) = with_head_deadline(300).await;
    let mut conn = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(chat_request().as_bytes()).await.unwrap();
    // The answer arrives, then the connection idles past its deadline and is closed.
    let got = read_to_close(&mut conn).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("hello"), "{text}");
}

#[tokio::test]
async fn a_head_sent_in_pieces_within_the_deadline_is_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (server, _dir) = with_head_deadline(10_000).await;
    let mut conn = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = chat_request();
    let (first, rest) = request.split_at(20);
    conn.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    conn.write_all(rest.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("hello") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), conn.read(&mut buf))
            .await
            .expect("an answer within 10 s")
            .unwrap();
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200"));
}

//! Chaos over HTTP: rates under a fixed seed, reproducibility, level precedence, and
//! what each fault looks like on the wire (seen through a raw socket).

use std::net::SocketAddr;

use aimock::cassette::model::ChaosRates;
use aimock::config::Config;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{FixtureDir, TestServer};

/// One HTTP/1.1 exchange read straight off the socket, so a destroyed connection is
/// visible as exactly that.
#[derive(Debug)]
pub struct Raw {
    /// The status, when a status line arrived.
    pub status: Option<u16>,
    /// Response headers, lower-cased names.
    pub headers: Vec<(String, String)>,
    /// The body as received (de-chunked when chunked).
    pub body: Vec<u8>,
    /// Whether the body ended properly (all of Content-Length, or the last chunk).
    pub complete: bool,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Send one request with `Connection: close` and read until the server closes.
pub async fn raw(addr: SocketAddr, path: &str, body: &str, headers: &[(&str, &str)]) -> Raw {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.expect("write");
    let mut got = Vec::new();
    // A reset connection ends the read with an error: that is an answer too.
    let _ = s.read_to_end(&mut got).await;
    parse(&got)
}

/// Parse what a raw read received.
pub fn parse(got: &[u8]) -> Raw {
    let Some(split) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Raw {
            status: None,
            headers: vec![],
            body: got.to_vec(),
            complete: false,
        };
    };
    let head = String::from_utf8_lossy(&got[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &got[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let (body, complete) = if chunked {
        dechunk(rest)
    } else {
        let len = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok());
        (rest.to_vec(), len.is_none_or(|n| n == rest.len()))
    };
    Raw {
        status,
        headers,
        body,
        complete,
    }
}

fn dechunk(mut b: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return (out, false);
        };
        let Ok(n) = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16) else {
            return (out, false);
        };
        b = &b[eol + 2..];
        if n == 0 {
            return (out, b.starts_with(b"\r\n"));
        }
        if b.len() < n + 2 {
            out.extend_from_slice(&b[..n.min(b.len())]);
            return (out, false);
        }
        out.extend_from_slice(&b[..n]);
        b = &b[n + 2..];
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Ok,
    Drop,
    Malformed,
    Disconnect,
}

fn classify(r: &Raw) -> Seen {
    match r.status {
        None => Seen::Disconnect,
        Some(_) if !r.complete => Seen::Disconnect,
        Some(500) if r.text().contains("chaos_drop") => Seen::Drop,
        Some(200) if serde_json::from_slice::<Value>(&r.body).is_err() => Seen::Malformed,
        Some(200) => Seen::Ok,
        Some(s) => panic!("unexpected status {s}: {}", r.text()),
    }
}

const CHAT: &str = "/v1/chat/completions";

fn chat(user: &str, stream: bool) -> String {
    json!({"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": user}]})
        .to_string()
}

fn hello_dir() -> FixtureDir {
    FixtureDir::with(
        "a.json",
        json!([
            {"match": {"userMessage": "hello"}, "response": {"content": "Hello there, how are you today?"}, "chunkSize": 4},
            {"match": {"userMessage": "calm"}, "response": {"content": "calm"}, "chaos": {"dropRate": 0}},
            {"match": {"userMessage": "broken"}, "response": {"content": "x"}, "chaos": {"malformedRate": 1}},
        ]),
    )
}

async fn run_with_seed(dir: &FixtureDir, seed: u64, n: usize) -> Vec<Seen> {
    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    c.chaos = ChaosRates {
        drop: Some(0.1),
        malformed: Some(0.1),
        disconnect: Some(0.1),
    };
    c.chaos_seed = Some(seed);
    let s = TestServer::start(c).await;
    let mut seen = Vec::with_capacity(n);
    for _ in 0..n {
        seen.push(classify(
            &raw(s.addr, CHAT, &chat("hello", false), &[]).await,
        ));
    }
    s.stop().await;
    seen
}

#[tokio::test]
async fn fault_rates_hold_under_a_fixed_seed_and_the_same_seed_repeats_the_run() {
    let dir = hello_dir();
    let first = run_with_seed(&dir, 7, 1000).await;
    let count = |x| first.iter().filter(|s| **s == x).count();
    // Expected: drop 100, malformed 90, disconnect 81, ok 729 (of 1000).
    let (d, m, x, ok) = (
        count(Seen::Drop),
        count(Seen::Malformed),
        count(Seen::Disconnect),
        count(Seen::Ok),
    );
    assert!((60..=140).contains(&d), "drops: {d}");
    assert!((50..=130).contains(&m), "malformed: {m}");
    assert!((45..=120).contains(&x), "disconnects: {x}");
    assert!((650..=800).contains(&ok), "ok: {ok}");

    let second = run_with_seed(&dir, 7, 1000).await;
    assert_eq!(first, second, "the same seed must give the same faults");
    let other = run_with_seed(&dir, 8, 200).await;
    assert_ne!(&first[..200], &other[..], "another seed, other faults");
}

#[tokio::test]
async fn a_header_beats_the_fixture_which_beats_the_server() {
    let dir = hello_dir();
    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    c.chaos.drop = Some(1.0);
    let s = TestServer::start(c).await;

    let server_level = raw(s.addr, CHAT, &chat("hello", false), &[]).await;
    assert_eq!(classify(&server_level), Seen::Drop);
    let header = raw(
        s.addr,
        CHAT,
        &chat("hello", false),
        &[("x-aimock-chaos-drop", "0")],
    )
    .await;
    assert_eq!(classify(&header), Seen::Ok);
    let fixture = raw(s.addr, CHAT, &chat("calm", false), &[]).await;
    assert_eq!(classify(&fixture), Seen::Ok, "{}", fixture.text());
    // The fixture's own malformed rate applies; its drop rate is unset, so the
    // server's 1.0 still comes first.
    let both = raw(
        s.addr,
        CHAT,
        &chat("broken", false),
        &[("x-aimock-chaos-drop", "0")],
    )
    .await;
    assert_eq!(classify(&both), Seen::Malformed);
    assert_eq!(both.text(), "{malformed json: <<<chaos>>>");
}

#[tokio::test]
async fn a_drop_is_a_500_in_the_callers_provider_shape() {
    let dir = hello_dir();
    let s = TestServer::with_fixtures(dir.path()).await;
    let r = s
        .post(
            "/v1/messages",
            &json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hello"}]}).to_string(),
            &[("x-aimock-chaos-drop", "1")],
        )
        .await;
    assert_eq!(r.status, 500);
    let v = r.json();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["message"], "Chaos: request dropped");
}

#[tokio::test]
async fn a_malformed_stream_breaks_one_frame_and_keeps_the_rest() {
    let dir = hello_dir();
    let s = TestServer::with_fixtures(dir.path()).await;
    let r = raw(
        s.addr,
        CHAT,
        &chat("hello", true),
        &[("x-aimock-chaos-malformed", "1")],
    )
    .await;
    assert_eq!(r.status, Some(200));
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(r.complete, "the stream itself ends properly");
    let data = crate::support::sse_data(&r.text());
    let broken: Vec<&String> = data
        .iter()
        .filter(|d| d.as_str() != "[DONE]" && serde_json::from_str::<Value>(d).is_err())
        .collect();
    assert_eq!(broken, ["{malformed json: <<<chaos>>>"]);
    assert!(serde_json::from_str::<Value>(&data[0]).is_ok());
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
}

#[tokio::test]
async fn a_disconnect_destroys_the_connection_as_a_raw_socket_sees_it() {
    let dir = hello_dir();
    let s = TestServer::with_fixtures(dir.path()).await;

    // A JSON reply: nothing complete arrives.
    let json_reply = raw(
        s.addr,
        CHAT,
        &chat("hello", false),
        &[("x-aimock-chaos-disconnect", "1")],
    )
    .await;
    assert!(
        json_reply.status.is_none() || !json_reply.complete,
        "{json_reply:?}"
    );

    // A stream: it starts, then stops without its last chunk.
    let stream = raw(
        s.addr,
        CHAT,
        &chat("hello", true),
        &[("x-aimock-chaos-disconnect", "1")],
    )
    .await;
    assert_eq!(stream.status, Some(200));
    assert!(!stream.complete, "no terminating chunk");
    let text = stream.text();
    assert!(text.starts_with("data: {"), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");

    // Both are journaled as chaos, the stream as interrupted.
    let j = s.get("/__aimock/journal").await.json();
    let entries = j.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["response"]["status"], 0);
    for e in entries {
        assert_eq!(e["response"]["chaosAction"], "disconnect");
        assert_eq!(e["response"]["chaosLevel"], "header");
        assert_eq!(e["response"]["interrupted"], true);
    }
    assert_eq!(entries[1]["response"]["status"], 200);
}

#[tokio::test]
async fn chaos_rolls_on_a_miss_before_the_strict_decision() {
    let dir = hello_dir();
    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    c.strict = true;
    let s = TestServer::start(c).await;
    let r = raw(
        s.addr,
        CHAT,
        &chat("nothing matches this", false),
        &[("x-aimock-chaos-malformed", "1")],
    )
    .await;
    assert_eq!(classify(&r), Seen::Malformed);
    let plain = raw(s.addr, CHAT, &chat("nothing matches this", false), &[]).await;
    assert_eq!(plain.status, Some(503));
}

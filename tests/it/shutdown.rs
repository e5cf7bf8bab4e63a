//! Graceful shutdown of the real binary: SIGTERM ends a slow stream cleanly within the
//! deadline, a stuck connection cannot hold the process past `--shutdown-timeout-ms`,
//! and recordings in flight reach the disk before `run` returns.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::chaos::parse;
use crate::support::{write, FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

/// Start the binary and return it with its address.
fn start(args: &[&str], cassettes: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aimock"))
        .args(["replay", "--no-watch", "-p", "0", "-f"])
        .arg(cassettes)
        .args(args)
        .env_remove("AIMOCK_LOG")
        .env_remove("AIMOCK_PORT")
        .env_remove("AIMOCK_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("aimock listening on http://")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    (child, addr)
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Wait for the process to exit, failing past `limit`.
fn exit_within(child: &mut Child, limit: Duration) -> (Option<i32>, Duration) {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return (s.code(), start.elapsed());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("still running {limit:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_finishes_a_slow_stream_cleanly_and_the_process_exits_in_time() {
    let d = tempfile::tempdir().unwrap();
    // Ten chunks, two seconds apart: twenty seconds if nobody hurries it.
    write(
        d.path(),
        "slow.json",
        &json!({"fixtures": [{"match": {"userMessage": "slow"},
                               "response": {"content": "one two three four five six seven eight nine ten "},
                               "chunkSize": 5, "latency": 2000}]})
        .to_string(),
    );
    let (mut child, addr) = start(&[], d.path());
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = json!({"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "slow"}]}).to_string();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // The head arrives at once; the first chunk is two seconds away.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the head");
        got.extend_from_slice(&buf[..n]);
    }

    let asked = Instant::now();
    sigterm(&child);
    let _ = s.read_to_end(&mut got);
    let took = asked.elapsed();

    let r = parse(&got);
    assert_eq!(r.status, Some(200));
    assert!(r.complete, "ended with its last chunk, not cut");
    let text = r.text();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let content: String = crate::support::sse_data(&text)
        .iter()
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(content, "one two three four five six seven eight nine ten ");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let (code, _) = exit_within(&mut child, Duration::from_secs(10));
    assert_eq!(code, Some(0));
}

#[test]
fn a_request_that_never_finishes_cannot_hold_the_process_past_the_deadline() {
    let d = tempfile::tempdir().unwrap();
    let (mut child, addr) = start(&["--shutdown-timeout-ms", "400"], d.path());
    // A head that promises a body which never comes: the request stays in flight.
    // `Expect: 100-continue` makes the server say when it starts reading the body, so
    // the signal is sent only once the request is certainly being handled.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nexpect: 100-continue\r\ncontent-length: 100\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 100 Continue"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    s.write_all(b"{\"model\"").unwrap();

    sigterm(&child);
    let (code, took) = exit_within(&mut child, Duration::from_secs(8));
    assert_eq!(code, Some(0));
    assert!(
        took < Duration::from_secs(5),
        "the 10 s default would have been used: {took:?}"
    );
    drop(s);
}

#[tokio::test]
async fn recordings_in_flight_are_on_disk_when_the_server_stops() {
    let up = FakeUpstream::start().await;
    let body = std::fs::read(format!(
        "{}/tests/data/golden/openai/chat-json-text.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    up.script(
        "/v1/chat/completions",
        Script::body(200, "application/json", body),
    );
    let dir = FixtureDir::new();
    let c = crate::support::recording(dir.path(), &["openai"], &up.url());
    let s = TestServer::start(c).await;
    for i in 0..5 {
        let req =
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": format!("q{i}")}]});
        let r = s.post("/v1/chat/completions", &req.to_string(), &[]).await;
        assert_eq!(r.status, 200);
    }

    s.finish().await.unwrap();

    // No polling: stopping waited for the writes.
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("recorded/openai.json")).unwrap())
            .unwrap();
    assert_eq!(saved["fixtures"].as_array().unwrap().len(), 5);
}

//! Connection limits: a thousand slowloris connections (each trickling a request head)
//! leave a well-behaved client served promptly, and `--max-connections` holds: past
//! it, a new connection waits in the listen backlog until another closes.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use aimock::config::Config;

use crate::support::{FixtureDir, TestServer};

const SLOW_HEAD: &[u8] = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
const HEAD_END: &[u8] = b"\r\nConnection: close\r\n\r\n";

/// Read until the status line has arrived; its status code.
async fn status_of(s: &mut TcpStream) -> u16 {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(2).any(|w| w == b"\r\n") {
        let n = s.read(&mut buf).await.expect("read");
        assert!(
            n > 0,
            "closed before a status line: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&got);
    line.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slowloris_connections_leave_a_good_client_served() {
    let dir = FixtureDir::with(
        "a.json",
        serde_json::json!([{"match": {"userMessage": "hi"}, "response": {"content": "hello"}}]),
    );
    let s = TestServer::start(Config::for_tests(vec![dir.path().to_path_buf()])).await;
    let mut slow = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let mut c = TcpStream::connect(s.addr).await.expect("connect");
        c.write_all(SLOW_HEAD).await.expect("write");
        slow.push(c);
    }
    // A byte on every slow connection each 50 ms while the good client works.
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let trickle = tokio::spawn(async move {
        loop {
            for c in slow.iter_mut() {
                c.write_all(b"a").await.expect("trickle");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = &mut stopped => return slow,
            }
        }
    });
    for i in 0..20 {
        let answered = tokio::time::timeout(Duration::from_secs(10), s.answer("hi"))
            .await
            .unwrap_or_else(|_| panic!("request {i} not answered within 10 s"));
        assert_eq!(answered.as_deref(), Some("hello"));
    }
    let _ = stop.send(());
    let mut slow = trickle.await.expect("trickle task");
    // Every slow connection was accepted and is being read: finished, each is answered.
    for c in slow.iter_mut() {
        c.write_all(HEAD_END).await.expect("finish head");
    }
    for c in slow.iter_mut() {
        let status = tokio::time::timeout(Duration::from_secs(30), status_of(c))
            .await
            .expect("a finished slow head is answered");
        assert_eq!(status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_a_new_connection_waits_until_one_closes() {
    let dir = FixtureDir::new();
    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    c.max_connections = 3;
    let s = TestServer::start(c).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = TcpStream::connect(s.addr).await.expect("connect");
        c.write_all(SLOW_HEAD).await.expect("write");
        held.push(c);
    }
    // Served: the three are taken (a full request on one of them is answered at once).
    let mut extra = TcpStream::connect(s.addr)
        .await
        .expect("the kernel completes the handshake");
    extra
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), status_of(&mut extra))
            .await
            .is_err(),
        "a fourth connection is not served while three are open"
    );
    // One of the three finishes and closes: the fourth is served.
    let mut first = held.remove(0);
    first.write_all(HEAD_END).await.expect("finish");
    assert_eq!(status_of(&mut first).await, 200);
    let status = tokio::time::timeout(Duration::from_secs(10), status_of(&mut extra))
        .await
        .expect("served once a place is free");
    assert_eq!(status, 200);
}

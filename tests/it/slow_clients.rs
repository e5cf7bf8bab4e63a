//! Idle and slow clients at scale: two thousand connections that send nothing or trickle
//! a request head one byte at a time leave a well-behaved client served promptly, and
//! the head deadline (`--header-read-timeout-ms`) closes a head that never finishes,
//! however steadily its bytes trickle. (`connections.rs` holds the connection cap.)

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use aimock::config::Config;

use crate::support::{FixtureDir, TestServer};

const SLOW_HEAD: &[u8] = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

fn hello() -> FixtureDir {
    FixtureDir::with(
        "a.json",
        serde_json::json!([{"match": {"userMessage": "hi"}, "response": {"content": "hello"}}]),
    )
}

/// Trickle one byte to each of `conns` every `every` until told to stop; the
/// connections come back (those the server closed are dropped from the list).
fn trickle(
    mut conns: Vec<TcpStream>,
    every: Duration,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Vec<TcpStream>>,
) {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        loop {
            let mut open = Vec::with_capacity(conns.len());
            for mut c in conns.drain(..) {
                if c.write_all(b"a").await.is_ok() {
                    open.push(c);
                }
            }
            conns = open;
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = &mut stopped => return conns,
            }
        }
    });
    (stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_and_slowloris_connections_leave_a_good_client_served_promptly() {
    let dir = hello();
    let s = TestServer::start(Config::for_tests(vec![dir.path().to_path_buf()])).await;
    let mut idle = Vec::with_capacity(1000);
    let mut slow = Vec::with_capacity(1000);
    for i in 0..2000 {
        let mut c = TcpStream::connect(s.addr).await.expect("connect");
        if i % 2 == 0 {
            c.write_all(SLOW_HEAD).await.expect("write");
            slow.push(c);
        } else {
            idle.push(c);
        }
    }
    let (stop, task) = trickle(slow, Duration::from_millis(100));
    let mut worst = Duration::ZERO;
    for i in 0..50 {
        let t = Instant::now();
        let answered = tokio::time::timeout(Duration::from_secs(10), s.answer("hi"))
            .await
            .unwrap_or_else(|_| panic!("request {i} not answered within 10 s"));
        assert_eq!(answered.as_deref(), Some("hello"));
        worst = worst.max(t.elapsed());
    }
    let _ = stop.send(());
    let slow = task.await.expect("trickle task");
    // Generous for a debug build on a loaded 2-core machine; a server stalled by the
    // slow connections takes seconds, or never answers.
    assert!(
        worst < Duration::from_secs(2),
        "slowest answer took {worst:?}"
    );
    // Every connection was still open and being read (the default deadline is 30 s).
    assert_eq!(slow.len(), 1000);
    assert_eq!(idle.len(), 1000);
}

/// Whether the server closed `c` (EOF, a reset, or a 408 then EOF) within `within`.
async fn closed_within(c: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, c.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_trickled_past_the_deadline_is_closed_and_the_server_stays_open() {
    let dir = hello();
    let mut config = Config::for_tests(vec![dir.path().to_path_buf()]);
    config.header_read_timeout = Duration::from_millis(1000);
    let s = TestServer::start(config).await;
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut c = TcpStream::connect(s.addr).await.expect("connect");
        c.write_all(SLOW_HEAD).await.expect("write");
        slow.push(c);
    }
    let started = Instant::now();
    let (stop, task) = trickle(slow, Duration::from_millis(50));
    // The trickle keeps going; the deadline is for the whole head, not between bytes.
    // 1 s plus the sweeper's 1 s tick, with a wide margin.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = stop.send(());
    let mut slow = task.await.expect("trickle task");
    for c in slow.iter_mut() {
        assert!(
            closed_within(c, Duration::from_secs(15)).await,
            "a slow head was still open after {:?}",
            started.elapsed()
        );
    }
    assert_eq!(s.answer("hi").await.as_deref(), Some("hello"));
}

//! A WebSocket load generator for the realtime benchmark rows: wrk speaks only HTTP.
//!
//! Each of C connections runs turns back to back for the given time: send the turn's
//! messages, read until a text message holds the terminal marker (`response.done`,
//! `turnComplete`), and time that (the open and its greeting are not timed; they do
//! count against the run's duration, so throughput includes them). With
//! `--turns-per-connection K` a connection is closed and opened again after K turns, so
//! a conversation that grows with every turn stays short.
//!
//! `--hold N` instead opens N sessions (greeting read), prints `HOLDING N`, and keeps
//! them idle until its standard input closes: the benchmark reads the server's memory
//! meanwhile.
//!
//! Prints one line like wrk's script in scripts/bench: `BENCH {"requests":N,
//! "duration_us":..,"p50_us":..,"p99_us":..,"errors":..,"non2xx":0}`.
//!
//! Usage: `ws_load URL --turn FILE --until MARKER [--open FILE] [--greeting N]
//! [-c C] [-d SECONDS] [--turns-per-connection K] [--hold N]`, where FILE holds one JSON message
//! per line. Not a WebSocket test client: it checks nothing beyond the marker.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

struct Plan {
    url: String,
    open: Vec<String>,
    greeting: usize,
    turn: Vec<String>,
    until: String,
    conns: usize,
    seconds: u64,
    per_conn: usize,
    hold: usize,
}

fn lines(path: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn parse() -> Plan {
    let mut a = std::env::args().skip(1);
    let mut p = Plan {
        url: String::new(),
        open: vec![],
        greeting: 0,
        turn: vec![],
        until: String::new(),
        conns: 1,
        seconds: 2,
        per_conn: 0,
        hold: 0,
    };
    while let Some(x) = a.next() {
        let mut val = || a.next().unwrap_or_else(|| panic!("{x} needs a value"));
        match x.as_str() {
            "--open" => p.open = lines(&val()),
            "--greeting" => p.greeting = val().parse().expect("--greeting N"),
            "--turn" => p.turn = lines(&val()),
            "--until" => p.until = val(),
            "-c" => p.conns = val().parse().expect("-c N"),
            "-d" => p.seconds = val().parse().expect("-d SECONDS"),
            "--turns-per-connection" => p.per_conn = val().parse().expect("K"),
            "--hold" => p.hold = val().parse().expect("--hold N"),
            url if p.url.is_empty() => p.url = url.to_string(),
            other => panic!("unexpected argument {other}"),
        }
    }
    assert!(
        !p.url.is_empty() && (p.hold > 0 || (!p.turn.is_empty() && !p.until.is_empty())),
        "usage: ws_load URL --turn FILE --until MARKER [options]"
    );
    p
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(p: &Plan) -> anyhow::Result<Socket> {
    let (mut ws, _) = tokio_tungstenite::connect_async(p.url.as_str()).await?;
    for m in &p.open {
        ws.send(Message::text(m.clone())).await?;
    }
    let mut seen = 0;
    while seen < p.greeting {
        match ws.next().await {
            Some(Ok(Message::Text(_))) => seen += 1,
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => anyhow::bail!("closed during the greeting"),
        }
    }
    Ok(ws)
}

async fn turn(ws: &mut Socket, p: &Plan) -> anyhow::Result<()> {
    for m in &p.turn {
        ws.send(Message::text(m.clone())).await?;
    }
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.as_str().contains(p.until.as_str()) => return Ok(()),
            Some(Ok(Message::Binary(b))) if memchr_str(&b, p.until.as_bytes()) => return Ok(()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => anyhow::bail!("closed mid-turn"),
        }
    }
}

fn memchr_str(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

async fn connection(p: std::sync::Arc<Plan>, deadline: Instant) -> (Vec<u64>, u64) {
    let mut times = Vec::new();
    let mut errors = 0;
    while Instant::now() < deadline {
        let mut ws = match open(&p).await {
            Ok(ws) => ws,
            Err(_) => {
                errors += 1;
                continue;
            }
        };
        let mut done = 0;
        let mut from = Instant::now();
        while Instant::now() < deadline && (p.per_conn == 0 || done < p.per_conn) {
            match turn(&mut ws, &p).await {
                Ok(()) => times.push(from.elapsed().as_micros() as u64),
                Err(_) => {
                    errors += 1;
                    break;
                }
            }
            done += 1;
            from = Instant::now();
        }
        let _ = ws.close(None).await;
    }
    (times, errors)
}

/// Open `p.hold` idle sessions, say so, and keep them until stdin closes.
async fn hold(p: &Plan) {
    let mut open_ones = Vec::with_capacity(p.hold);
    for i in 0..p.hold {
        match open(p).await {
            Ok(ws) => open_ones.push(ws),
            Err(e) => panic!("session {i} of {}: {e}", p.hold),
        }
    }
    println!("HOLDING {}", open_ones.len());
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink)
    })
    .await;
    drop(open_ones);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let p = std::sync::Arc::new(parse());
    if p.hold > 0 {
        hold(&p).await;
        return;
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(p.seconds);
    let tasks: Vec<_> = (0..p.conns)
        .map(|_| tokio::spawn(connection(p.clone(), deadline)))
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (times, e) = t.await.expect("a connection task panicked");
        all.extend(times);
        errors += e;
    }
    let duration = started.elapsed().as_micros() as u64;
    all.sort_unstable();
    let pct = |q: f64| {
        if all.is_empty() {
            0
        } else {
            all[((all.len() - 1) as f64 * q).round() as usize]
        }
    };
    println!(
        "BENCH {{\"requests\":{},\"duration_us\":{},\"p50_us\":{},\"p99_us\":{},\"errors\":{},\"non2xx\":0}}",
        all.len(),
        duration,
        pct(0.5),
        pct(0.99),
        errors
    );
}

//! Many replicas, one truth: several aimock processes serving the same cassettes give
//! byte-identical answers (status, headers but `Date`, body) to the same requests, so
//! a load balancer may send any request to any replica.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::json;

use crate::support::{request, FixtureDir, Reply};

struct Replica {
    child: Child,
    base: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &std::path::Path, extra: &[&str]) -> Replica {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aimock"))
        .args(["replay", "--no-watch", "--port", "0", "--host", "127.0.0.1"])
        .args(extra)
        .arg("--cassettes")
        .arg(dir)
        .env_remove("AIMOCK_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn aimock");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let base = line
        .trim()
        .strip_prefix("aimock listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Replica { child, base }
}

/// What a client can observe of a reply, minus the one clock-dependent header.
fn observed(r: &Reply) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_string()))
        .collect();
    headers.sort();
    (r.status, headers, r.bytes().to_vec())
}

#[tokio::test]
async fn three_replicas_answer_every_request_byte_for_byte_alike() {
    let dir = FixtureDir::with(
        "shared.json",
        json!([
            {"match": {"userMessage": "capital of France"}, "response": {"content": "Paris is the capital of France."}},
            {"match": {"userMessage": "weather"}, "response": {"toolCalls": [{"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}]}},
            {"match": {"inputText": "embed me"}, "response": {"embedding": [0.1, 0.2, 0.3]}},
            {"match": {"userMessage": "fail"}, "response": {"error": {"message": "Rate limited", "type": "rate_limit_error"}, "status": 429}},
        ]),
    );
    let replicas: Vec<Replica> = (0..3).map(|_| spawn(dir.path(), &["--strict"])).collect();
    let chat = |text: &str, stream: bool| {
        json!({"model": "gpt-4o", "stream": stream,
               "messages": [{"role": "user", "content": text}]})
        .to_string()
    };
    let anthropic = json!({"model": "claude-3-5-sonnet", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "capital of France"}]})
    .to_string();
    let gemini =
        json!({"contents": [{"role": "user", "parts": [{"text": "weather"}]}]}).to_string();
    let cases: Vec<(&str, String, String)> = vec![
        (
            "chat JSON",
            "/v1/chat/completions".into(),
            chat("capital of France", false),
        ),
        (
            "chat SSE",
            "/v1/chat/completions".into(),
            chat("capital of France", true),
        ),
        (
            "tool call SSE",
            "/v1/chat/completions".into(),
            chat("weather", true),
        ),
        ("anthropic SSE", "/v1/messages".into(), anthropic),
        (
            "gemini",
            "/v1beta/models/gemini-2.0-flash:generateContent".into(),
            gemini,
        ),
        (
            "embeddings",
            "/v1/embeddings".into(),
            json!({"model": "text-embedding-3-small", "input": "embed me"}).to_string(),
        ),
        (
            "fixture error",
            "/v1/chat/completions".into(),
            chat("fail", false),
        ),
        (
            "strict miss",
            "/v1/chat/completions".into(),
            chat("nothing matches this", false),
        ),
        (
            "responses API",
            "/v1/responses".into(),
            json!({"model": "gpt-4o", "input": "capital of France"}).to_string(),
        ),
    ];
    for (what, path, body) in &cases {
        let mut seen = Vec::new();
        for r in &replicas {
            let reply = request(
                "POST",
                &format!("{}{path}", r.base),
                body.clone().into_bytes(),
                &[],
            )
            .await;
            let mut o = observed(&reply);
            if *what == "strict miss" {
                // The one field that differs: a miss has no fixture to derive its
                // x-request-id from, so it carries the replica's own journal id...
                let id =
                    o.1.iter()
                        .position(|(k, _)| k == "x-request-id")
                        .expect("an id");
                assert!(o.1[id].1.starts_with("req-"), "{:?}", o.1[id]);
                o.1.remove(id);
                // ...unless the client sends one, which every replica echoes.
                let pinned = request(
                    "POST",
                    &format!("{}{path}", r.base),
                    body.clone().into_bytes(),
                    &[("x-request-id", "ci-run-42-call-7")],
                )
                .await;
                assert_eq!(
                    pinned
                        .headers
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok()),
                    Some("ci-run-42-call-7")
                );
            }
            seen.push(o);
        }
        assert!(seen[0].2.len() > 2, "{what}: empty body");
        for (i, s) in seen.iter().enumerate().skip(1) {
            assert_eq!(s.0, seen[0].0, "{what}: replica {i} status differs");
            assert_eq!(s.1, seen[0].1, "{what}: replica {i} headers differ");
            assert_eq!(
                String::from_utf8_lossy(&s.2),
                String::from_utf8_lossy(&seen[0].2),
                "{what}: replica {i} body differs"
            );
        }
    }
    // A fixture miss outside strict mode answers embeddings with a vector derived from
    // the input: the same on every replica too.
    let lax: Vec<Replica> = (0..2).map(|_| spawn(dir.path(), &[])).collect();
    let body = json!({"model": "text-embedding-3-small", "input": "never recorded"}).to_string();
    let a = request(
        "POST",
        &format!("{}/v1/embeddings", lax[0].base),
        body.clone().into_bytes(),
        &[],
    )
    .await;
    let b = request(
        "POST",
        &format!("{}/v1/embeddings", lax[1].base),
        body.into_bytes(),
        &[],
    )
    .await;
    assert_eq!(a.status, 200);
    // Like any miss, it carries the replica's journal id; everything else is the same.
    let unpinned = |r: &Reply| {
        let mut o = observed(r);
        o.1.retain(|(k, _)| k != "x-request-id");
        o
    };
    assert!(
        unpinned(&a) == unpinned(&b),
        "the fallback vector differs across replicas"
    );
}

/// `aimock health` (the image's HEALTHCHECK): 0 while the server answers /health, 1
/// for another path's 404 and once nothing listens.
#[test]
fn the_health_subcommand_exits_zero_only_on_a_200() {
    let dir = FixtureDir::new();
    let r = spawn(dir.path(), &[]);
    let port = r.base.rsplit(':').next().unwrap().to_string();
    let health = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_aimock"))
            .args(["health", "--port", &port, "--timeout-ms", "5000"])
            .args(extra)
            .env_remove("AIMOCK_PORT")
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(health(&[]), Some(0));
    assert_eq!(health(&["--path", "/ready"]), Some(0));
    assert_eq!(health(&["--path", "/no-such-path"]), Some(1));
    drop(r);
    assert_eq!(health(&[]), Some(1));
}

//! Real aimock fixture trees, matched as their authors expect (issue 18): the
//! reference's rules for `turnIndex`, sequence counts per context, `systemMessage`,
//! loosely typed fields and structured replies, through a real socket.

use serde_json::{json, Value};

use crate::support::{FixtureDir, TestServer};

const CHAT: &str = "/v1/chat/completions";

/// What an OpenAI chat call with these messages gets: the reply text, or `miss <status>`.
async fn answer(server: &TestServer, messages: Value, headers: &[(&str, &str)]) -> String {
    let body = json!({"model": "gpt-4o", "messages": messages}).to_string();
    let r = server.post(CHAT, &body, headers).await;
    if r.status != 200 {
        return format!("miss {}", r.status);
    }
    r.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn a_turn_index_behind_the_count_beats_an_earlier_plain_fixture() {
    let dir = FixtureDir::with(
        "t.json",
        json!([
            {"match": {"userMessage": "x"}, "response": {"content": "plain"}},
            {"match": {"userMessage": "x", "turnIndex": 0}, "response": {"content": "t0"}},
        ]),
    );
    let server = TestServer::with_fixtures(dir.path()).await;
    let first = json!([{"role": "user", "content": "x"}]);
    let second = json!([
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "x"},
    ]);
    // Turn 0: t0 is exactly at the turn, and the plain fixture comes earlier.
    assert_eq!(answer(&server, first, &[]).await, "plain");
    // Turn 1: t0 is the highest turnIndex behind the count.
    assert_eq!(answer(&server, second, &[]).await, "t0");
}

#[tokio::test]
async fn a_developer_message_is_no_system_text_for_system_message() {
    let dir = FixtureDir::with(
        "s.json",
        json!([
            {"match": {"systemMessage": "rules"}, "response": {"content": "by system"}},
        ]),
    );
    let server = TestServer::with_fixtures(dir.path()).await;
    let developer = json!([
        {"role": "developer", "content": "rules"},
        {"role": "user", "content": "q"},
    ]);
    let system = json!([
        {"role": "system", "content": "rules"},
        {"role": "user", "content": "q"},
    ]);
    assert_eq!(answer(&server, developer, &[]).await, "miss 404");
    assert_eq!(answer(&server, system, &[]).await, "by system");
}

#[tokio::test]
async fn sequences_under_two_contexts_count_apart_within_one_test_id() {
    let dir = FixtureDir::with(
        "c.json",
        json!([
            {"match": {"userMessage": "q", "context": "a", "sequenceIndex": 0}, "response": {"content": "a0"}},
            {"match": {"userMessage": "q", "context": "a", "sequenceIndex": 1}, "response": {"content": "a1"}},
            {"match": {"userMessage": "q", "context": "b", "sequenceIndex": 0}, "response": {"content": "b0"}},
            {"match": {"userMessage": "q", "context": "b", "sequenceIndex": 1}, "response": {"content": "b1"}},
        ]),
    );
    let server = TestServer::with_fixtures(dir.path()).await;
    let q = || json!([{"role": "user", "content": "q"}]);
    let mut got = Vec::new();
    for ctx in ["a", "b", "b", "a"] {
        let headers = [("x-aimock-context", ctx), ("x-test-id", "one")];
        got.push(answer(&server, q(), &headers).await);
    }
    assert_eq!(got, ["a0", "b0", "b1", "a1"]);
}

/// Outside `--strict`, starting with nothing to serve is allowed, and said at warn level.
#[test]
fn starting_with_no_fixtures_warns_that_every_request_will_miss() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let d = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aimock"))
        .args([
            "replay",
            "--no-watch",
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--cassettes",
        ])
        .arg(d.path())
        .env_remove("AIMOCK_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("aimock listening on "), "{line}");
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let warn = log
        .lines()
        .find(|l| l.contains("no fixtures loaded"))
        .unwrap_or_else(|| panic!("no warning in {log}"));
    assert!(warn.contains("WARN"), "{warn}");
    assert!(warn.contains("every request will miss"), "{warn}");
}

#[tokio::test]
async fn tool_call_arguments_that_are_not_json_are_served_as_written() {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {"userMessage": "q"}, "response": {"toolCalls": [{"name": "f", "arguments": "{not json"}]}}]),
    );
    let server = TestServer::with_fixtures(dir.path()).await;
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "q"}]});
    let r = server.post(CHAT, &body.to_string(), &[]).await;
    assert_eq!(r.status, 200);
    let call = &r.json()["choices"][0]["message"]["tool_calls"][0]["function"];
    assert_eq!(call["arguments"], "{not json");
    // The other wires fall back to an empty object where they need one.
    let body = json!({"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "q"}]});
    let r = server.post("/v1/messages", &body.to_string(), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn structured_replies_carry_javascript_number_text() {
    let dir = FixtureDir::new();
    // Written as text: `json!` would not keep `1.0` apart from `1`.
    crate::support::write(
        dir.path(),
        "n.json",
        r#"{"fixtures": [{"match": {"userMessage": "q"}, "response": {
            "content": {"score": 1.0, "big": 1e21, "small": 0.0000015, "tiny": 1.5e-7},
            "toolCalls": [{"name": "f", "arguments": {"n": 129.0, "neg": -0.0}}]}}]}"#,
    );
    let server = TestServer::with_fixtures(dir.path()).await;
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "q"}]});
    let r = server.post(CHAT, &body.to_string(), &[]).await;
    let msg = &r.json()["choices"][0]["message"];
    assert_eq!(
        msg["content"],
        r#"{"score":1,"big":1e+21,"small":0.0000015,"tiny":1.5e-7}"#
    );
    assert_eq!(
        msg["tool_calls"][0]["function"]["arguments"],
        r#"{"n":129,"neg":0}"#
    );
}

const LOOSE: &str = r#"{"fixtures": [
  {"match": {"userMessage": "busy"}, "response": {"error": {"message": "slow down"}, "status": "429"}},
  {"match": {"userMessage": "seq", "sequenceIndex": "0"}, "response": {"content": "never"}},
  {"match": {"userMessage": "seq"}, "response": {"content": "after seq"}},
  {"match": {"userMessage": "tool", "hasToolResult": "false"}, "response": {"content": "never"}},
  {"match": {"userMessage": "turn", "turnIndex": "0"}, "response": {"content": "turn text"}, "latency": "1"}
]}
"#;

#[tokio::test]
async fn loosely_typed_fields_load_and_answer_as_the_reference_answers() {
    let dir = FixtureDir::new();
    crate::support::write(dir.path(), "loose.json", LOOSE);
    let server = TestServer::with_fixtures(dir.path()).await;
    let one = |t: &str| json!([{"role": "user", "content": t}]);
    assert_eq!(answer(&server, one("busy"), &[]).await, "miss 429");
    // Unlike the reference (whose check is `=== 429`), a string 429 still says when.
    let body = json!({"model": "gpt-4o", "messages": one("busy")}).to_string();
    let r = server.post(CHAT, &body, &[]).await;
    assert_eq!(r.headers["retry-after"], "1");
    // A string sequenceIndex never equals the count; the next fixture answers.
    assert_eq!(answer(&server, one("seq"), &[]).await, "after seq");
    assert_eq!(answer(&server, one("tool"), &[]).await, "miss 404");
    assert_eq!(answer(&server, one("turn"), &[]).await, "turn text");
}

#[test]
fn aimock_check_warns_about_each_loosely_typed_field() {
    let d = tempfile::tempdir().unwrap();
    crate::support::write(d.path(), "loose.json", LOOSE);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aimock"))
        .args(["check", "loose.json"])
        .current_dir(d.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for field in [
        "fixture #0: response.status: is the string \"429\"",
        "fixture #1: match.sequenceIndex: is the string \"0\"",
        "fixture #3: match.hasToolResult: is \"false\", not true or false",
        "fixture #4: match.turnIndex: is the string \"0\"",
        "fixture #4: latency: is the string \"1\"",
    ] {
        assert!(text.contains(field), "{field} not in:\n{text}");
    }
    assert!(
        text.contains("5 fixture(s): 0 error(s), 5 warning(s)"),
        "{text}"
    );
}

/// The reference validates every entry added at run time, and refuses there what a
/// cassette file may hold: arguments that are not JSON, loosely typed criteria.
#[tokio::test]
async fn the_control_api_refuses_what_the_references_validation_refuses() {
    let server = TestServer::with_fixtures(FixtureDir::new().path()).await;
    for refused in [
        json!({"match": {"userMessage": "a"}, "response": {"toolCalls": [{"name": "f", "arguments": "{x"}]}}),
        json!({"match": {"turnIndex": "1"}, "response": {"content": "x"}}),
        json!({"match": {"sequenceIndex": "0"}, "response": {"content": "x"}}),
        json!({"match": {"hasToolResult": "true"}, "response": {"content": "x"}}),
        json!({"match": {}, "response": {"error": {"message": "m"}, "status": "429"}}),
    ] {
        let body = json!({"fixtures": [refused]}).to_string();
        let r = server.post("/__aimock/fixtures", &body, &[]).await;
        assert_eq!(r.status, 400, "{refused} was added: {}", r.text());
    }
    // What its validation lets through loads, with the warning attached.
    let body = json!({"fixtures": [{"match": {"userMessage": "a"}, "response": {"content": "x"}, "latency": "5"}]});
    let r = server
        .post("/__aimock/fixtures", &body.to_string(), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["warnings"][0]["field"], "latency");
}

/// While recording, `turnIndex` is a hard gate: the turn-0 capture answers turn 0 but
/// does not shadow turn 1, which goes upstream to be recorded.
#[tokio::test]
async fn while_recording_a_turn_index_behind_the_count_does_not_answer() {
    use crate::upstream::{FakeUpstream, Script};
    let up = FakeUpstream::start().await;
    let upstream_reply = json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "from upstream"}, "finish_reason": "stop"}]});
    up.script(
        "/v1/chat/completions",
        Script::body(
            200,
            "application/json",
            upstream_reply.to_string().into_bytes(),
        ),
    );
    let dir = FixtureDir::with(
        "t.json",
        json!([{"match": {"userMessage": "x", "turnIndex": 0}, "response": {"content": "t0"}}]),
    );
    let config = crate::support::recording(dir.path(), &["openai"], &up.url());
    let server = TestServer::start(config).await;
    let auth = [("authorization", "Bearer sk-test-not-a-real-key")];
    let first = json!([{"role": "user", "content": "x"}]);
    assert_eq!(answer(&server, first, &auth).await, "t0");
    let second = json!([
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": "a"},
        {"role": "user", "content": "x"},
    ]);
    assert_eq!(answer(&server, second, &auth).await, "from upstream");
    assert_eq!(up.hits(), 1);
}

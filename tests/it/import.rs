//! `aimock import`: real public cassettes of each format (tests/data/import, with
//! their provenance in each folder's `.meta.json`) become fixtures that replay what
//! was recorded, and what cannot be imported is named with why.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::support::{sse_data, TestServer};

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/import")
        .join(p)
}

/// Run `aimock import`, returning stdout and the written cassettes by file name.
fn import(format: &str, paths: &[PathBuf], extra: &[&str]) -> (String, tempfile::TempDir, i32) {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_aimock"))
        .arg("import")
        .arg(format)
        .args(paths)
        .arg("--out")
        .arg(out.path())
        .args(extra)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        out,
        o.status.code().unwrap_or(-1),
    )
}

fn cassette(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn vcrpy_cassettes_import_and_replay_what_was_recorded() {
    let (summary, out, code) = import("vcrpy", &[data("vcrpy")], &[]);
    assert_eq!(code, 0, "{summary}");
    assert!(
        summary.contains("imported 6 (6 editable, 0 raw), skipped 0"),
        "{summary}"
    );
    // The `!!binary` gzip body decoded and collapsed.
    let c = cassette(out.path(), "anthropic_completion.json");
    assert_eq!(
        c["fixtures"][0]["response"]["content"],
        "When Nietzsche famously declared \"God is dead\" in his"
    );
    // An error reply stays an error fixture.
    let e = cassette(out.path(), "chat_completion_error.json");
    assert_eq!(e["fixtures"][0]["response"]["status"], 401, "{e:#}");
    let server = TestServer::with_fixtures(out.path()).await;
    let r = server
        .post(
            "/v1/messages",
            &json!({"model": "claude-3-opus-20240229", "max_tokens": 15,
                    "messages": [{"role": "user", "content": "What does Nietzsche mean by 'God is dead'?"}]})
            .to_string(),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["content"][0]["text"],
        "When Nietzsche famously declared \"God is dead\" in his"
    );
    // The httpx stub kept a tool-call stream under application/json: imported as the
    // stream it was, and replayed as one.
    let body = json!({"model": "gpt-3.5-turbo", "stream": true,
        "messages": [{"role": "user", "content": "Who won the world series in 2020?"}]});
    let r = server
        .post("/v1/chat/completions", &body.to_string(), &[])
        .await;
    let args: String = sse_data(&r.text())
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(String::from)
        })
        .collect();
    let parsed: Value = serde_json::from_str(&args).unwrap_or_else(|e| panic!("{args}: {e}"));
    assert_eq!(parsed["name"], "David Nguyen");
    server.stop().await;
}

#[tokio::test]
async fn polly_har_recordings_import_base64_gzip_and_streams() {
    let (summary, out, code) = import("har", &[data("har")], &[]);
    assert_eq!(code, 0, "{summary}");
    assert!(
        summary.contains("imported 4 (4 editable, 0 raw)"),
        "{summary}"
    );
    let chat = cassette(out.path(), "openai-chat.json");
    let content = chat["fixtures"][0]["response"]["content"]
        .as_str()
        .unwrap_or("");
    assert!(
        !content.is_empty(),
        "base64 gzip chunks not decoded: {chat:#}"
    );
    let server = TestServer::with_fixtures(out.path()).await;
    let body = json!({"model": "gpt-3.5-turbo", "stream": true,
        "messages": [{"role": "user", "content": "Tell me a joke about OpenTelemetry"}]});
    let r = server
        .post("/v1/chat/completions", &body.to_string(), &[])
        .await;
    let text: String = sse_data(&r.text())
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert!(
        text.starts_with("Why did the OpenTelemetry developer"),
        "{text}"
    );
    server.stop().await;
}

#[test]
fn mock_llm_and_vidaimock_sources_import_like_the_references_convert() {
    let (summary, out, code) = import("mock-llm", &[data("mock-llm")], &[]);
    assert_eq!(code, 0, "{summary}");
    let c = cassette(out.path(), "mock-llm.json");
    let f = &c["fixtures"];
    assert_eq!(
        f[0]["match"],
        json!({"userMessage": "what is the capital of france?"})
    );
    assert_eq!(
        f[0]["response"]["content"],
        "The capital of France is Paris."
    );
    assert!(summary.contains("skipped"), "{summary}");
    let mcp = cassette(out.path(), "mock-llm.mcp.json");
    assert_eq!(mcp["mcp"]["tools"][0]["name"], "get_weather");
    let (summary, out, code) = import("vidaimock", &[data("vidaimock")], &[]);
    assert_eq!(code, 0, "{summary}");
    let j = cassette(out.path(), "001-tell_me_a_joke.json");
    assert_eq!(
        j["fixtures"][0]["match"],
        json!({"userMessage": "tell me a joke"})
    );
    assert_eq!(
        j["fixtures"][0]["response"]["content"],
        "Why did the [model] cross the road?"
    );
    let g = cassette(out.path(), "greeting.json");
    assert_eq!(g["fixtures"][0]["response"]["content"], "Hello [name]!");
}

#[test]
fn credentials_in_a_cassette_never_reach_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD";
    let yaml = format!(
        "interactions:\n- request:\n    body: '{{\"model\":\"gpt-4o\",\"messages\":[{{\"role\":\"user\",\"content\":\"my key is {key}\"}}]}}'\n    headers:\n      Authorization:\n      - Bearer {key}\n    method: POST\n    uri: https://api.openai.com/v1/chat/completions\n  response:\n    body:\n      string: '{{\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"noted {key}\"}},\"finish_reason\":\"stop\"}}]}}'\n    headers:\n      Content-Type:\n      - application/json\n    status:\n      code: 200\n      message: OK\n- request:\n    body: null\n    headers: {{}}\n    method: GET\n    uri: https://example.com/\n  response:\n    body:\n      string: hi\n    headers: {{}}\n    status:\n      code: 200\n      message: OK\nversion: 1\n"
    );
    std::fs::write(dir.path().join("leaky.yaml"), yaml).unwrap();
    let (summary, out, code) = import("vcrpy", &[dir.path().to_path_buf()], &[]);
    assert_eq!(code, 0, "{summary}");
    assert!(
        summary.contains("example.com is not a model provider's host"),
        "{summary}"
    );
    let text = std::fs::read_to_string(out.path().join("leaky.json")).unwrap();
    assert!(!text.contains(key), "{text}");
    assert!(
        text.contains("[REDACTED]") || text.contains("REDACTED"),
        "{text}"
    );
}

#[test]
fn an_unreadable_file_is_reported_and_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.har"), "{not json").unwrap();
    let (summary, _out, code) = import("har", &[dir.path().join("bad.har")], &[]);
    assert_eq!(code, 1);
    assert!(summary.contains("not read: not JSON"), "{summary}");
}

/// dwmkerr/mock-llm's own `rules:` format (its README's configs): a `contains(...)`
/// match becomes the user message, the templated JSON text the reply (an error status
/// an error fixture), and a rule that matches everything or a path aimock answers
/// itself is skipped with why.
#[test]
fn mock_llm_rules_import_and_say_what_they_skip() {
    let (summary, out, code) = import(
        "mock-llm",
        &[
            data("mock-llm/dwmkerr-customising.yaml"),
            data("mock-llm/dwmkerr-default.yaml"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{summary}");
    let c = cassette(out.path(), "dwmkerr-customising.json");
    let f = c["fixtures"].as_array().unwrap();
    assert_eq!(f.len(), 2, "{c:#}");
    assert_eq!(f[0]["match"], json!({"userMessage": "hello"}));
    assert_eq!(
        f[0]["response"]["content"],
        "Hi there! How can I help you today?"
    );
    assert_eq!(f[1]["match"], json!({"userMessage": "error-401"}));
    assert_eq!(f[1]["response"]["status"], 401, "{c:#}");
    assert!(
        summary.contains("GET /v1/models is not a provider call"),
        "{summary}"
    );
    assert!(
        summary.contains("its match `@` names no user message"),
        "{summary}"
    );
    // The default config has nothing importable: no cassette, both rules named.
    assert!(!out.path().join("dwmkerr-default.json").exists());
    assert!(
        summary.contains("dwmkerr-default.yaml: nothing imported, 2 skipped"),
        "{summary}"
    );
}

/// Hostile YAML (a self-referencing alias, an alias bomb) is a file not read, said
/// plainly, never a hang or a crash.
#[test]
fn hostile_yaml_is_refused_not_expanded() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("loop.yaml"), "interactions:\n- &a [*a]\n").unwrap();
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for c in 'b'..='i' {
        let refs = vec![format!("*{prev}"); 9].join(",");
        bomb.push_str(&format!("{c}: &{c} [{refs}]\n"));
        prev = c;
    }
    bomb.push_str("interactions: [*i]\n");
    std::fs::write(dir.path().join("bomb.yaml"), bomb).unwrap();
    for fmt in ["vcrpy", "mock-llm"] {
        let (summary, _out, code) = import(fmt, &[dir.path().to_path_buf()], &[]);
        assert_eq!(code, 1, "{summary}");
        assert!(
            summary.contains("bomb.yaml: not read: not YAML"),
            "{summary}"
        );
        assert!(
            summary.contains("loop.yaml: not read: not YAML"),
            "{summary}"
        );
    }
}

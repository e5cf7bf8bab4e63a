//! The agent stack (MCP, A2A, AG-UI) mounted from config sections: hostile bodies and
//! wrong methods at every service get the protocol's own errors (never a dropped
//! connection), oversized bodies get 413, the services show in `/health` and the
//! metrics, reset clears sessions and tasks, and a section's own file reloads.

use serde_json::{json, Value};

use crate::support::{request, FixtureDir, TestServer};
use aimock::config::Config;

fn sections() -> Vec<(&'static str, Value)> {
    vec![
        ("mcp", json!({"tools": [{"name": "t", "result": "ok"}]})),
        (
            "a2a",
            json!({"agents": [{"name": "a", "tasks": [{"pattern": "go", "artifacts": [], "state": "TASK_STATE_WORKING"}]}]}),
        ),
        (
            "agui",
            json!({"fixtures": [{"match": {"message": "hi"}, "text": "hello"}]}),
        ),
    ]
}

async fn server(dir: &FixtureDir, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    for (k, v) in sections() {
        c.sections.insert(k.into(), v);
    }
    c.metrics = true;
    tweak(&mut c);
    TestServer::start(c).await
}

fn hostile_bodies() -> Vec<Vec<u8>> {
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let mut out: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"[1, 2, 3]".to_vec(),
        b"\"str\"".to_vec(),
        b"{".to_vec(),
        vec![0xff, 0xfe, 0x00],
        deep.into_bytes(),
    ];
    for v in [
        json!({}),
        json!({"jsonrpc": "2.0"}),
        json!({"jsonrpc": "1.0", "id": 1, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"}),
        json!({"jsonrpc": "2.0", "id": 1, "method": 7}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": "x"}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 5}}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 5, "arguments": "x"}}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {"parts": "x"}}}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "SendStreamingMessage", "params": {"message": {"parts": [null, 1, {"text": 3}]}}}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": 5}}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {"pageSize": -1, "pageToken": "zz"}}),
        json!([{"jsonrpc": "2.0", "id": 1, "method": "initialize"}, 5, null]),
        json!({"threadId": 1, "runId": [], "messages": "x"}),
        json!({"messages": [null, 1, {"role": "user", "content": {"a": 1}}, {"role": "tool"}], "tools": [1], "state": []}),
    ] {
        out.push(v.to_string().into_bytes());
    }
    out
}

#[tokio::test]
async fn hostile_bodies_and_methods_get_protocol_errors_from_every_service() {
    let dir = FixtureDir::new();
    let s = server(&dir, |_| {}).await;
    // An MCP session, so the bodies reach the dispatcher too.
    let init = s
        .post(
            "/mcp",
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}"#,
            &[("accept", "application/json, text/event-stream")],
        )
        .await;
    let sid = init.headers["mcp-session-id"].to_str().unwrap().to_string();
    for path in [
        "/mcp",
        "/a2a",
        "/a2a/",
        "/agui",
        "/mcp/deeper",
        "/a2a/.well-known/agent-card.json",
    ] {
        for body in hostile_bodies() {
            for method in ["POST", "PUT", "GET", "DELETE", "PATCH"] {
                let r = request(
                    method,
                    &s.url(path),
                    body.clone(),
                    &[
                        ("mcp-session-id", sid.as_str()),
                        ("accept", "application/json, text/event-stream"),
                    ],
                )
                .await;
                assert!(r.body.is_ok(), "{method} {path}: the connection broke");
                assert!(
                    (200..500).contains(&r.status),
                    "{method} {path} {:?}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(60)]),
                    r.status
                );
            }
        }
    }
    // JSON-RPC errors are JSON-RPC shaped.
    let r = s.post("/a2a", "{", &[]).await;
    assert_eq!(r.json()["error"]["code"], -32700);
    let r = s.post("/mcp", "{", &[("mcp-session-id", &sid)]).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_i64()),
        (400, Some(-32700))
    );
    // The server still answers normally afterwards.
    assert_eq!(s.get("/health").await.status, 200);
}

#[tokio::test]
async fn a_body_past_the_limit_is_refused_with_413_before_any_service_reads_it() {
    let dir = FixtureDir::new();
    let s = server(&dir, |c| c.max_body_bytes = 1024).await;
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","pad":"{}"}}"#,
        "x".repeat(4096)
    );
    for path in ["/mcp", "/a2a", "/agui"] {
        assert_eq!(s.post(path, &big, &[]).await.status, 413, "{path}");
    }
}

#[tokio::test]
async fn health_metrics_and_reset_cover_the_agent_stack() {
    let dir = FixtureDir::new();
    let s = server(&dir, |_| {}).await;
    let init = s
        .post(
            "/mcp",
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#,
            &[],
        )
        .await;
    let sid = init.headers["mcp-session-id"].to_str().unwrap().to_string();
    let send = s
        .post(
            "/a2a",
            r#"{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"messageId":"m","role":"ROLE_USER","parts":[{"text":"go"}]}}}"#,
            &[],
        )
        .await;
    let tid = send.json()["result"]["task"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let h = s.get("/health").await.json();
    assert_eq!(h["services"]["mcp"]["sessions"], 1);
    assert_eq!(
        h["services"]["a2a"],
        json!({"status": "ok", "agents": 1, "tasks": 1})
    );
    assert_eq!(
        h["services"]["agui"],
        json!({"status": "ok", "fixtures": 1})
    );
    let m = s.get("/metrics").await.text();
    assert!(
        m.contains(r#"aimock_service_requests_total{service="mcp",status="200"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"aimock_service_requests_total{service="a2a",status="200"} 1"#),
        "{m}"
    );

    assert_eq!(s.post("/__aimock/reset", "", &[]).await.status, 200);
    let ping = s
        .post(
            "/mcp",
            r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#,
            &[("mcp-session-id", &sid)],
        )
        .await;
    assert_eq!(ping.status, 404);
    let get = s
        .post(
            "/a2a",
            &format!(r#"{{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{{"id":"{tid}"}}}}"#),
            &[],
        )
        .await;
    assert_eq!(get.json()["error"]["code"], -32001);
}

#[tokio::test]
async fn a_section_file_is_laid_over_the_config_and_reloads_when_edited() {
    let dir = FixtureDir::new();
    let file = dir.path().join("agui.json");
    std::fs::write(
        &file,
        r#"{"fixtures": [{"match": {"message": "bye"}, "text": "see you"}]}"#,
    )
    .unwrap();
    let mut c = Config::for_tests(vec![dir.path().join("none")]);
    c.watch = true;
    let sf = aimock::config::sections::SectionFile {
        path: file.clone(),
        base: json!({"fixtures": [{"match": {"message": "hi"}, "text": "hello"}]}),
    };
    c.sections
        .insert("agui".into(), sf.load("agui", false).unwrap());
    c.section_files.insert("agui".into(), sf);
    let s = TestServer::start(c).await;
    let run = |text: &str| {
        format!(
            r#"{{"threadId":"t","runId":"r","messages":[{{"id":"1","role":"user","content":"{text}"}}]}}"#
        )
    };
    assert_eq!(s.post("/agui", &run("hi"), &[]).await.status, 200);
    assert!(s
        .post("/agui", &run("bye"), &[])
        .await
        .text()
        .contains("see you"));
    assert_eq!(s.post("/agui", &run("later"), &[]).await.status, 404);

    std::fs::write(
        &file,
        r#"{"fixtures": [{"match": {"message": "later"}, "text": "in a while"}]}"#,
    )
    .unwrap();
    let url = s.url("/agui");
    let mut seen = false;
    for _ in 0..2000 {
        let r = request("POST", &url, run("later").into_bytes(), &[]).await;
        if r.status == 200 {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(seen, "the edited section file was not reloaded");
    // A broken edit keeps the previous section (given a few polls to be read).
    std::fs::write(&file, "{ not json").unwrap();
    tokio::time::sleep(aimock::services::source::POLL * 4).await;
    assert_eq!(s.post("/agui", &run("later"), &[]).await.status, 200);
    assert_eq!(
        s.get("/health").await.json()["services"]["agui"]["fixtures"],
        2
    );
}

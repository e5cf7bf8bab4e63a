//! The control API's run-time switches over HTTP: prepended fixtures, match counts
//! reset alone, recording switched on and off, chaos per server and per test id, the
//! fixtures' sources, and bad input to each.

use serde_json::{json, Value};

use crate::support::{request, FixtureDir, Reply, TestServer};
use crate::upstream::{FakeUpstream, Script};

const CHAT: &str = "/v1/chat/completions";

fn chat(user: &str) -> String {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": user}]}).to_string()
}

async fn call(s: &TestServer, method: &str, path: &str, body: &str, h: &[(&str, &str)]) -> Reply {
    request(method, &s.url(path), body.as_bytes().to_vec(), h).await
}

async fn ask(s: &TestServer, user: &str, h: &[(&str, &str)]) -> Reply {
    call(s, "POST", CHAT, &chat(user), h).await
}

fn content(r: &Reply) -> Value {
    r.json()["choices"][0]["message"]["content"].clone()
}

fn server_with(fixtures: Value) -> (FixtureDir, aimock::config::Config) {
    let dir = FixtureDir::with("a.json", fixtures);
    let config = aimock::config::Config::for_tests(vec![dir.path().to_path_buf()]);
    (dir, config)
}

#[tokio::test]
async fn a_prepended_fixture_answers_before_the_cassettes_and_is_listed_first_with_its_source() {
    let (_dir, config) =
        server_with(json!([{"match": {"userMessage": "hi"}, "response": {"content": "file"}}]));
    let s = TestServer::start(config).await;
    let add = |text: &str| {
        json!({"fixtures": [{"match": {"userMessage": "hi"}, "response": {"content": text}}]})
            .to_string()
    };
    let r = call(&s, "POST", "/__aimock/fixtures", &add("appended"), &[]).await;
    assert_eq!(r.json(), json!({"added": 1}));
    assert_eq!(content(&ask(&s, "hi", &[]).await), "file");
    let r = call(
        &s,
        "POST",
        "/__aimock/fixtures/prepend",
        &add("prepended"),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"added": 1}));
    assert_eq!(content(&ask(&s, "hi", &[]).await), "prepended");

    let list = call(&s, "GET", "/__aimock/fixtures?include=fixtures", "", &[])
        .await
        .json();
    let f = list["fixtures"].as_array().unwrap();
    let summary: Vec<(Value, Value)> = f
        .iter()
        .map(|x| (x["source"].clone(), x["prepended"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (json!("control"), json!(true)),
            (json!("file"), Value::Null),
            (json!("control"), Value::Null)
        ]
    );
    assert!(f[1]["file"].as_str().unwrap().ends_with("a.json"));

    let r = call(&s, "GET", "/__aimock/fixtures?colour=red", "", &[]).await;
    assert_eq!(r.status, 400);
    let r = call(&s, "POST", "/__aimock/fixtures/prepend", "{not json", &[]).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .starts_with("Invalid JSON"));
    let r = call(
        &s,
        "POST",
        "/__aimock/fixtures/prepend",
        r#"{"fixtures": [{"match": {"turnIndex": "1"}, "response": {"content": "x"}}]}"#,
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "Validation failed");
    assert_eq!(
        content(&ask(&s, "hi", &[]).await),
        "prepended",
        "nothing half-added"
    );
}

#[tokio::test]
async fn match_counts_reset_alone_for_one_test_id_or_all_and_keep_fixtures_and_journal() {
    let (_dir, config) = server_with(json!([
        {"match": {"userMessage": "s", "sequenceIndex": 0}, "response": {"content": "s0"}},
        {"match": {"userMessage": "s", "sequenceIndex": 1}, "response": {"content": "s1"}}
    ]));
    let s = TestServer::start(config).await;
    let a = [("x-test-id", "a")];
    let b = [("x-test-id", "b")];
    assert_eq!(content(&ask(&s, "s", &a).await), "s0");
    assert_eq!(content(&ask(&s, "s", &b).await), "s0");
    let r = call(&s, "POST", "/__aimock/reset/match-counts", "", &a).await;
    assert_eq!(r.json(), json!({"reset": true, "testId": "a"}));
    assert_eq!(content(&ask(&s, "s", &a).await), "s0");
    assert_eq!(content(&ask(&s, "s", &b).await), "s1");
    let r = call(&s, "POST", "/__aimock/reset/match-counts", "", &[]).await;
    assert_eq!(r.json(), json!({"reset": true, "testId": null}));
    assert_eq!(content(&ask(&s, "s", &b).await), "s0");
    let j = call(&s, "GET", "/__aimock/journal", "", &[]).await.json();
    assert_eq!(j.as_array().unwrap().len(), 5, "the journal stays");
    let r = call(
        &s,
        "POST",
        "/__aimock/reset/match-counts",
        "",
        &[("x-test-id", "  ")],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn recording_switched_on_at_run_time_records_a_miss_and_switched_off_misses_again() {
    let up = FakeUpstream::start().await;
    let body = std::fs::read(format!(
        "{}/tests/data/golden/openai/chat-json-text.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    up.script(CHAT, Script::body(200, "application/json", body.clone()));
    let dir = FixtureDir::new();
    let s = TestServer::with_fixtures(dir.path()).await;
    assert_eq!(
        call(&s, "GET", "/__aimock/record", "", &[]).await.json(),
        json!({"recording": false})
    );
    assert_eq!(ask(&s, "new", &[]).await.status, 404);

    let rec = dir.path().join("rec");
    let req = json!({"providers": {"openai": up.url()}, "fixturePath": rec}).to_string();
    let r = call(&s, "POST", "/__aimock/record", &req, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["recording"], true);
    assert_eq!(
        r.json()["providers"]["openai"]
            .as_str()
            .unwrap()
            .trim_end_matches('/'),
        up.url()
    );
    assert_eq!(
        call(&s, "GET", "/__aimock/record", "", &[]).await.json()["recording"],
        true
    );

    let auth = [("authorization", "Bearer sk-test-not-a-real-key")];
    let r = ask(&s, "new", &auth).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.bytes().as_ref(), &body[..]);
    assert_eq!(up.hits(), 1);
    assert_eq!(ask(&s, "new", &auth).await.status, 200);
    assert_eq!(up.hits(), 1, "the recording answers");

    let r = call(&s, "DELETE", "/__aimock/record", "", &[]).await;
    assert_eq!(r.json(), json!({"recording": false}));
    assert_eq!(
        ask(&s, "another", &auth).await.status,
        404,
        "misses are misses again"
    );
    assert_eq!(up.hits(), 1);
    crate::support::eventually("the recording reaches the disk", || {
        std::fs::read_dir(&rec)
            .map(|d| d.count() > 0)
            .unwrap_or(false)
    })
    .await;

    for (bad, why) in [
        ("{", "Invalid JSON"),
        ("[]", "expected a JSON object"),
        (r#"{"providers": {}}"#, "names no provider"),
        (
            r#"{"providers": {"nope": "http://127.0.0.1:9"}}"#,
            "Unknown provider",
        ),
        (r#"{"providers": {"openai": 5}}"#, "must be a URL string"),
        (
            r#"{"providers": {"openai": "ftp://x"}}"#,
            "providers.openai",
        ),
        (
            r#"{"providers": {"openai": "http://127.0.0.1:9"}, "proxyOnly": "yes"}"#,
            "proxyOnly",
        ),
        (
            r#"{"providers": {"openai": "http://127.0.0.1:9"}, "upstreamTimeoutMs": -1}"#,
            "upstreamTimeoutMs",
        ),
        (
            r#"{"providers": {"openai": "http://127.0.0.1:9"}, "providerKeys": {}}"#,
            "Unknown recording field",
        ),
    ] {
        let r = call(&s, "POST", "/__aimock/record", bad, &[]).await;
        assert_eq!(r.status, 400, "{bad}");
        let m = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(m.contains(why), "{bad}: {m}");
    }
    assert_eq!(
        call(&s, "GET", "/__aimock/record", "", &[]).await.json(),
        json!({"recording": false})
    );
}

#[tokio::test]
async fn chaos_set_at_run_time_holds_per_test_id_over_the_server_baseline_and_clears() {
    let (_dir, config) =
        server_with(json!([{"match": {"userMessage": "c"}, "response": {"content": "ok"}}]));
    let s = TestServer::start(config).await;
    let t1 = [("x-test-id", "t1")];
    let r = call(&s, "POST", "/__aimock/chaos", r#"{"dropRate": 1}"#, &t1).await;
    assert_eq!(r.json(), json!({"chaos": {"dropRate": 1.0}}));
    assert_eq!(ask(&s, "c", &t1).await.status, 500, "t1 drops");
    assert_eq!(ask(&s, "c", &[]).await.status, 200, "others do not");

    let r = call(
        &s,
        "POST",
        "/__aimock/chaos",
        r#"{"malformedRate": 1}"#,
        &[],
    )
    .await;
    assert_eq!(r.json(), json!({"chaos": {"malformedRate": 1.0}}));
    let r = ask(&s, "c", &[("x-test-id", "t2")]).await;
    assert_eq!(
        r.text(),
        "{malformed json: <<<chaos>>>",
        "the baseline holds t2"
    );
    assert_eq!(
        ask(&s, "c", &t1).await.status,
        500,
        "t1's own rates replace the baseline"
    );
    let got = call(&s, "GET", "/__aimock/chaos?testId=t1", "", &[]).await;
    assert_eq!(got.json(), json!({"chaos": {"dropRate": 1.0}}));

    let r = call(&s, "DELETE", "/__aimock/chaos", "", &t1).await;
    assert_eq!(
        r.json(),
        json!({"chaos": {"malformedRate": 1.0}}),
        "t1 falls back to the baseline"
    );
    let r = call(&s, "DELETE", "/__aimock/chaos", "", &[]).await;
    assert_eq!(r.json(), json!({"chaos": {}}));
    assert_eq!(ask(&s, "c", &t1).await.status, 200);

    let j = call(&s, "GET", "/__aimock/journal?testId=t1", "", &[])
        .await
        .json();
    assert_eq!(j[0]["response"]["chaosAction"], "drop");

    for (bad, why) in [
        ("{", "Invalid JSON"),
        ("7", "expected a JSON object"),
        (r#"{"dropRate": 2}"#, "between 0 and 1"),
        (r#"{"dropRate": "half"}"#, "between 0 and 1"),
        (r#"{"colour": 1}"#, "Unknown chaos field"),
        (r#"{"latencyMs": 10}"#, "not supported"),
    ] {
        let r = call(&s, "POST", "/__aimock/chaos", bad, &[]).await;
        assert_eq!(r.status, 400, "{bad}");
        let m = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(m.contains(why), "{bad}: {m}");
    }
    let r = call(&s, "GET", "/__aimock/chaos", "", &[("x-test-id", "")]).await;
    assert_eq!(r.status, 400);

    call(&s, "POST", "/__aimock/chaos", r#"{"dropRate": 1}"#, &[]).await;
    call(&s, "POST", "/__aimock/reset", "", &[]).await;
    assert_eq!(
        call(&s, "GET", "/__aimock/chaos", "", &[]).await.json(),
        json!({"chaos": {}}),
        "a full reset clears run-time chaos"
    );
}

#[tokio::test]
async fn a_control_body_over_the_limit_is_a_413_in_aimocks_shape() {
    let dir = FixtureDir::new();
    let mut config = aimock::config::Config::for_tests(vec![dir.path().to_path_buf()]);
    config.max_body_bytes = 1024;
    let s = TestServer::start(config).await;
    let huge = format!(r#"{{"dropRate": 0, "pad": "{}"}}"#, "x".repeat(4096));
    for path in [
        "/__aimock/chaos",
        "/__aimock/record",
        "/__aimock/fixtures/prepend",
    ] {
        let r = call(&s, "POST", path, &huge, &[]).await;
        assert_eq!(r.status, 413, "{path}");
        assert_eq!(r.json()["error"]["type"], "request_too_large", "{path}");
    }
}

//! The control API and the journal, driven over HTTP as a test suite would.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::support::{request, FixtureDir, TestServer};

const CHAT: &str = "/v1/chat/completions";

fn chat(user: &str) -> String {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": user}]}).to_string()
}

async fn control(s: &TestServer, method: &str, path: &str, body: Value) -> crate::support::Reply {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    request(method, &s.url(path), bytes, &[]).await
}

async fn empty_server() -> (FixtureDir, TestServer) {
    let dir = FixtureDir::new();
    let s = TestServer::with_fixtures(dir.path()).await;
    (dir, s)
}

#[tokio::test]
async fn a_fixture_added_at_run_time_answers_the_next_chat_call() {
    let (_dir, s) = empty_server().await;
    assert_eq!(s.answer("hi").await, None, "nothing loaded yet");

    let r = control(
        &s,
        "POST",
        "/__aimock/fixtures",
        json!({"fixtures": [{"match": {"userMessage": "hi"}, "response": {"content": "added at run time"}}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"added": 1}));

    assert_eq!(s.answer("hi").await.as_deref(), Some("added at run time"));
    let list = s.get("/__aimock/fixtures?include=fixtures").await.json();
    assert_eq!(list["count"], 1);
    assert_eq!(list["fixtures"][0]["responseKind"], "text");
    assert_eq!(list["fixtures"][0]["match"], json!({"userMessage": "hi"}));
    assert_eq!(
        s.get("/__aimock/fixtures").await.json(),
        json!({"count": 1})
    );
}

#[tokio::test]
async fn a_bad_fixture_is_rejected_with_400_naming_its_field_and_nothing_is_added() {
    let (_dir, s) = empty_server().await;
    let r = control(
        &s,
        "POST",
        "/__aimock/fixtures",
        json!({"fixtures": [
            {"match": {"userMessage": "ok"}, "response": {"content": "fine"}},
            {"match": {"userMessage": 3}, "response": {"content": "x"}},
        ]}),
    )
    .await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["error"], "Validation failed");
    let d = &v["details"][0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["fixtureIndex"], 1);
    assert_eq!(d["field"], "match.userMessage");
    assert_eq!(
        s.get("/__aimock/fixtures").await.json()["count"],
        0,
        "all or nothing"
    );

    let r = request(
        "POST",
        &s.url("/__aimock/fixtures"),
        b"{not json".to_vec(),
        &[],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .starts_with("Invalid JSON"));
    let r = control(&s, "POST", "/__aimock/fixtures", json!({"fixture": []})).await;
    assert_eq!(
        r.json(),
        json!({"error": "Missing or invalid \"fixtures\" array"})
    );
}

#[tokio::test]
async fn a_queued_error_answers_exactly_one_of_fifty_concurrent_requests() {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {}, "response": {"content": "fine"}}]),
    );
    let s = Arc::new(TestServer::with_fixtures(dir.path()).await);
    let r = control(
        &s,
        "POST",
        "/__aimock/error",
        json!({"status": 429, "body": {"message": "slow down", "type": "rate_limit_error"}}),
    )
    .await;
    assert_eq!(r.json(), json!({"queued": true}));

    let calls = (0..50).map(|_| {
        let s = s.clone();
        tokio::spawn(async move { s.post(CHAT, &chat("go"), &[]).await })
    });
    let mut limited = Vec::new();
    let mut fine = 0;
    for c in calls {
        let r = c.await.unwrap();
        match r.status {
            200 => fine += 1,
            429 => limited.push(r.json()),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(limited.len(), 1, "used exactly once");
    assert_eq!(fine, 49);
    assert_eq!(limited[0]["error"]["message"], "slow down");
    assert_eq!(limited[0]["error"]["type"], "rate_limit_error");
    assert_eq!(s.answer("again").await.as_deref(), Some("fine"));

    let bad = control(&s, "POST", "/__aimock/error", json!({"status": 200})).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn reset_forgets_fixtures_journal_and_sequence_counts_while_delete_forgets_only_fixtures() {
    let (_dir, s) = empty_server().await;
    let seq = json!({"fixtures": [
        {"match": {"userMessage": "next", "sequenceIndex": 0}, "response": {"content": "first"}},
        {"match": {"userMessage": "next", "sequenceIndex": 1}, "response": {"content": "second"}},
    ]});
    control(&s, "POST", "/__aimock/fixtures", seq.clone()).await;
    assert_eq!(s.answer("next").await.as_deref(), Some("first"));
    assert_eq!(s.answer("next").await.as_deref(), Some("second"));

    let r = control(&s, "DELETE", "/__aimock/fixtures", Value::Null).await;
    assert_eq!(r.json(), json!({"cleared": true}));
    assert_eq!(s.get("/__aimock/fixtures").await.json()["count"], 0);
    assert_eq!(
        s.get("/__aimock/journal")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2,
        "the journal stays"
    );
    control(&s, "POST", "/__aimock/fixtures", seq.clone()).await;
    assert_eq!(
        s.answer("next").await,
        None,
        "the counts stay too: both slots were used"
    );

    let r = control(&s, "POST", "/__aimock/reset", Value::Null).await;
    assert_eq!(r.json(), json!({"reset": true}));
    assert_eq!(s.get("/__aimock/fixtures").await.json()["count"], 0);
    assert_eq!(s.get("/__aimock/journal").await.json(), json!([]));
    control(&s, "POST", "/__aimock/fixtures", seq).await;
    assert_eq!(s.answer("next").await.as_deref(), Some("first"));

    let r = control(&s, "POST", "/__aimock/reset/journal", Value::Null).await;
    assert_eq!(r.json(), json!({"reset": true}));
    assert_eq!(s.get("/__aimock/journal").await.json(), json!([]));
    assert_eq!(s.answer("next").await.as_deref(), Some("second"));
}

#[tokio::test]
async fn the_journal_records_each_request_and_filters_by_test_id_status_path_and_id() {
    let dir = FixtureDir::with(
        "a.json",
        json!([
            {"match": {"userMessage": "hello"}, "response": {"content": "hi"}},
            {"match": {"userMessage": "scoped", "context": "tenant-a"}, "response": {"content": "for a"}},
        ]),
    );
    let s = TestServer::with_fixtures(dir.path()).await;
    let hit = s
        .post(
            CHAT,
            &chat("hello"),
            &[("x-test-id", "suite-a"), ("x-request-id", "my-call-1")],
        )
        .await;
    assert_eq!(hit.status, 200);
    assert_eq!(hit.headers["x-request-id"], "my-call-1", "echoed");
    let missed = s
        .post(CHAT, &chat("unknown"), &[("x-test-id", "suite-b")])
        .await;
    assert_eq!(missed.status, 404);
    let strict = s
        .post(
            &format!("{CHAT}?testId=suite-c"),
            &chat("unknown"),
            &[("x-aimock-strict", "1")],
        )
        .await;
    assert_eq!(strict.status, 503);
    let scoped = s
        .post(CHAT, &chat("scoped"), &[("x-aimock-context", "tenant-a")])
        .await;
    assert_eq!(scoped.status, 200);

    let all = s.get("/__aimock/journal").await;
    assert_eq!(all.headers["x-total-count"], "4");

    let a = s.get("/__aimock/journal?testId=suite-a").await.json();
    assert_eq!(a.as_array().unwrap().len(), 1);
    let e = &a[0];
    assert_eq!(e["id"], "my-call-1");
    assert_eq!(e["method"], "POST");
    assert_eq!(e["path"], CHAT);
    assert_eq!(e["provider"], "openai");
    assert_eq!(e["body"]["messages"][0]["content"], "hello");
    assert_eq!(e["body"]["_endpointType"], "chat");
    assert_eq!(e["response"]["status"], 200);
    assert_eq!(e["response"]["source"], "fixture");
    assert_eq!(e["response"]["fixture"]["index"], 0);
    assert!(e["response"]["fixture"]["file"]
        .as_str()
        .unwrap()
        .ends_with("a.json"));
    assert!(e["durationMs"].as_f64().unwrap() >= 0.0);

    let misses = s.get("/__aimock/journal?status=404").await.json();
    let m = &misses[0];
    assert_eq!(m["testId"], "suite-b");
    assert_eq!(m["response"]["fixture"], Value::Null);
    assert_eq!(
        m["response"]["miss"],
        missed.json()["error"]["message"],
        "the miss reason is what the client was told"
    );

    let c = s.get("/__aimock/journal?testId=suite-c").await.json();
    assert_eq!(c[0]["response"]["status"], 503);
    assert_eq!(c[0]["response"]["strictOverride"], true);
    assert_eq!(c[0]["path"], format!("{CHAT}?testId=suite-c"));

    let ctx = s.get("/__aimock/journal?offset=3&limit=5").await;
    assert_eq!(ctx.headers["x-total-count"], "4");
    assert_eq!(ctx.json()[0]["body"]["_context"], "tenant-a");

    let by_id = s.get("/__aimock/journal?requestId=my-call-1").await.json();
    assert_eq!(by_id.as_array().unwrap().len(), 1);
    let by_path = s
        .get("/__aimock/journal?path=suite-c&method=post")
        .await
        .json();
    assert_eq!(by_path.as_array().unwrap().len(), 1);

    let bad = s.get("/__aimock/journal?colour=red").await;
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("colour"));

    let recent = s.get("/v1/_requests?limit=1").await.json();
    assert_eq!(recent[0]["body"]["_context"], "tenant-a");
}

#[tokio::test]
async fn credentials_never_reach_the_journal() {
    let dir = FixtureDir::with(
        "a.json",
        json!([{"match": {}, "response": {"content": "ok"}}]),
    );
    let s = TestServer::with_fixtures(dir.path()).await;
    let bearer = "Bearer sk-test-not-a-real-key-0123456789";
    let google = "AIzaTESTnotARealKey000000000000000000000";
    s.post(
        CHAT,
        &chat("my key is sk-test-not-a-real-key-0123456789, keep it"),
        &[
            ("authorization", bearer),
            ("x-api-key", "sk-test-not-a-real-key"),
        ],
    )
    .await;
    s.post(
        &format!("/v1beta/models/gemini-2.0-flash:generateContent?key={google}"),
        &json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).to_string(),
        &[
            ("x-goog-api-key", google),
            ("x-amz-security-token", "FwoGZXIvYXdzEXAMPLE"),
        ],
    )
    .await;

    let text = s.get("/__aimock/journal").await.text();
    for secret in ["sk-test-not-a-real-key", google, "FwoGZXIvYXdzEXAMPLE"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let j: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(j[0]["headers"]["authorization"], "[REDACTED]");
    assert_eq!(j[0]["headers"]["x-api-key"], "[REDACTED]");
    assert_eq!(
        j[0]["body"]["messages"][0]["content"],
        "my key is [REDACTED], keep it"
    );
    assert_eq!(
        j[1]["path"],
        "/v1beta/models/gemini-2.0-flash:generateContent?key=[REDACTED]"
    );
    assert_eq!(j[1]["headers"]["x-goog-api-key"], "[REDACTED]");
    assert_eq!(j[1]["headers"]["x-amz-security-token"], "[REDACTED]");
}

#[tokio::test]
async fn an_unknown_control_path_is_a_404_that_names_it() {
    let (_dir, s) = empty_server().await;
    let r = s.get("/__aimock/nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["error"]["message"],
        "Unknown control endpoint: /__aimock/nope"
    );
    let r = s.get("/__aimock/reset").await;
    assert_eq!(r.status, 405);
}

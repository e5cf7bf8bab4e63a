//! Request normalisation: rules that rewrite ids, dates and timestamps in request text
//! before matching and before recording, and the same rules applied to a cassette's
//! `match` strings at load.

use std::process::Command;
use std::sync::Arc;

use aimock::cli::{Cli, Command as Sub};
use aimock::config::Config;
use aimock::normalize::{Normalizer, RuleSpec};
use serde_json::json;

use crate::record::fixtures_in;
use crate::support::{write, FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

const CHAT: &str = "/v1/chat/completions";

fn rules(names: &str, regexes: &[&str]) -> Arc<Normalizer> {
    let regexes: Vec<String> = regexes.iter().map(|s| s.to_string()).collect();
    Arc::new(
        Normalizer::build(&RuleSpec::from_flags(&[names.to_string()], &regexes).unwrap()).unwrap(),
    )
}

fn resolve(args: &[&str]) -> anyhow::Result<Config> {
    let cli = <Cli as clap::Parser>::try_parse_from(args).unwrap();
    match cli.command {
        Some(Sub::Replay(a)) => Config::resolve(&a),
        _ => unreachable!("a replay command line"),
    }
}

#[tokio::test]
async fn a_fixture_written_with_concrete_values_matches_a_request_with_other_ones() {
    let dir = FixtureDir::with(
        "c.json",
        json!([
            {"match": {"userMessage": "order 123e4567-e89b-12d3-a456-426614174000 placed 2025-01-31"},
             "response": {"content": "found it"}},
            {"match": {"systemMessage": "ticket-42", "userMessage": "status"},
             "response": {"content": "ticket status"}}
        ]),
    );
    let ask = "order 9f8e7d6c-0000-4aaa-8bbb-112233445566 placed 2026-07-04";
    // Without rules, another id is another request.
    let plain = TestServer::with_fixtures(dir.path()).await;
    assert_eq!(plain.answer(ask).await, None);
    drop(plain);

    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    c.normalize = rules("uuid,isoDate", &[r"ticket-\d+=>ticket-N"]);
    let s = TestServer::start(c).await;
    assert_eq!(s.answer(ask).await.as_deref(), Some("found it"));
    // System prompts are normalised on both sides too.
    let body = json!({"model": "gpt-4o", "messages": [
        {"role": "system", "content": "you handle ticket-977"},
        {"role": "user", "content": "status"}]});
    let r = s.post(CHAT, &body.to_string(), &[]).await;
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "ticket status"
    );
    // The journal keeps the request as it was sent.
    let journal = s.get("/__aimock/journal").await.text();
    assert!(
        journal.contains("9f8e7d6c-0000-4aaa-8bbb-112233445566"),
        "{journal}"
    );
}

#[tokio::test]
async fn a_recording_is_matched_and_written_in_normalised_form() {
    let up = FakeUpstream::start().await;
    up.script(
        CHAT,
        Script::body(
            200,
            "application/json",
            r#"{"id":"c","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Booked."},"finish_reason":"stop"}]}"#,
        ),
    );
    let dir = FixtureDir::new();
    let mut c = crate::support::recording(dir.path(), &["openai"], &up.url());
    c.normalize = rules("uuid,isoDateTime,isoDate", &[]);
    let s = TestServer::start(c).await;
    let first = "book 0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3 for 2026-02-03 at 2026-02-03T09:00:00Z";
    assert_eq!(s.answer(first).await.as_deref(), Some("Booked."));
    let doc = fixtures_in(&dir.path().join("recorded/openai.json"), 1).await;
    let fx = &doc["fixtures"][0];
    assert_eq!(
        fx["match"]["userMessage"],
        "book <uuid> for <date> at <datetime>"
    );
    // The upstream and the stored request got the real text.
    assert_eq!(
        fx["recordedRequest"]["body"]["messages"][0]["content"],
        first
    );
    let seen = up.seen.lock().unwrap()[0].body.clone();
    assert!(String::from_utf8_lossy(&seen).contains("0b1c2d3e"));
    // Another id and date: answered by the recording, not the upstream.
    let second =
        "book aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee for 2027-12-31 at 2027-12-31T23:59:59+01:00";
    assert_eq!(s.answer(second).await.as_deref(), Some("Booked."));
    assert_eq!(up.hits(), 1);
}

#[test]
fn check_notes_what_the_rules_change_in_a_cassette() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "c.json",
        &json!({"fixtures": [
            {"match": {"userMessage": "at 2025-01-31 id 123e4567-e89b-12d3-a456-426614174000"}, "response": {"content": "a"}},
            {"match": {"inputText": "on 2025-02-01"}, "response": {"embedding": [0.1]}},
            {"match": {"userMessage": "plain"}, "response": {"content": "b"}}
        ]})
        .to_string(),
    );
    let cfg = write(
        d.path(),
        "aimock.json",
        r#"{"normalize": ["uuid", "isoDate"]}"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_aimock"))
        .current_dir(d.path())
        .args(["check", "c.json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("c.json: note: 2 match value(s) change under the normalisation rules"),
        "{text}"
    );
    assert!(
        text.contains(r#"fixture #0: match.userMessage: "at 2025-01-31 id 123e4567-e89b-12d3-a456-426614174000" is matched as "at <date> id <uuid>""#),
        "{text}"
    );
    assert!(text.contains("fixture #1: match.inputText"), "{text}");
    assert!(!text.contains("fixture #2"), "{text}");
    assert!(
        text.contains("0 warning(s), 2 match value(s) change"),
        "{text}"
    );
    // Without rules, nothing to note.
    let out = Command::new(env!("CARGO_BIN_EXE_aimock"))
        .current_dir(d.path())
        .args(["check", "c.json"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("note:"));
}

#[test]
fn rules_come_from_the_file_or_the_flags_and_a_bad_one_names_where_it_was_given() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "aimock.json",
        &json!({"normalize": ["unixTimestamp", {"pattern": "run-[0-9]+", "replace": "run-N"}]})
            .to_string(),
    );
    let c = resolve(&["aimock", "replay", "--config", f.to_str().unwrap()]).unwrap();
    assert_eq!(
        c.normalize.text("run-17 at 1767225600"),
        "run-N at <timestamp>"
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    // The command line's rules replace the file's.
    let c = resolve(&[
        "aimock",
        "replay",
        "--config",
        f.to_str().unwrap(),
        "--normalize",
        "uuid",
    ])
    .unwrap();
    assert_eq!(c.normalize.names(), ["uuid"]);
    let c = resolve(&[
        "aimock",
        "replay",
        "--normalize-regex",
        "a+=>A",
        "--normalize-regex",
        "b=>B",
    ])
    .unwrap();
    assert_eq!(c.normalize.text("aab"), "AB");

    let bad = write(
        d.path(),
        "bad.json",
        r#"{"normalize": ["uuid", {"pattern": "(open"}]}"#,
    );
    let e = resolve(&["aimock", "replay", "--config", bad.to_str().unwrap()]).unwrap_err();
    assert!(format!("{e:#}").contains("normalize[1]"), "{e:#}");
    let e = resolve(&["aimock", "replay", "--normalize", "uuid,dates"]).unwrap_err();
    assert!(
        format!("{e:#}").contains("--normalize") && format!("{e:#}").contains("dates"),
        "{e:#}"
    );
    // The binary refuses to start on a bad rule, naming the flag.
    let out = Command::new(env!("CARGO_BIN_EXE_aimock"))
        .args(["replay", "--port", "0", "--normalize-regex", "[=>x"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--normalize-regex") && err.contains("not a valid regular expression"),
        "{err}"
    );
}

#[tokio::test]
async fn fixtures_added_by_a_reload_or_the_control_api_are_normalised_too() {
    let dir = FixtureDir::new();
    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    c.normalize = rules("uuid", &[]);
    c.watch = true;
    let s = TestServer::start(c).await;
    let ask = "job 9f8e7d6c-0000-4aaa-8bbb-112233445566";
    write(
        dir.path(),
        "later.json",
        &crate::support::cassette(&[("job 123e4567-e89b-12d3-a456-426614174000", "from the file")]),
    );
    let store = s.state.store.clone();
    crate::support::eventually("the new file is served", || {
        crate::support::store_answer(&store, ask).as_deref() == Some("from the file")
    })
    .await;
    assert_eq!(s.answer(ask).await.as_deref(), Some("from the file"));

    let r = s
        .post(
            "/__aimock/fixtures",
            &json!({"fixtures": [{"match": {"userMessage": "run 00000000-1111-4222-8333-444444444444"},
                                   "response": {"content": "added"}}]})
            .to_string(),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        s.answer("run aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")
            .await
            .as_deref(),
        Some("added")
    );
}

//! Hot reload: every way an editor saves, broken then repaired files, what survives a
//! reload, and a stream in flight across one. Reloads are awaited by polling the store.

use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::BodyExt;

use aimock::cassette::load::load_sources;
use aimock::cassette::model::parse_entry;
use aimock::cassette::watch::Watcher;
use aimock::cassette::FixtureStore;
use aimock::cli::{Cli, Command};
use aimock::config::Config;

use crate::support::{cassette, eventually, store_answer as answer, texts, write, TestServer};

/// A store loaded from `sources` and a watcher keeping it in step.
fn watched(sources: &[PathBuf]) -> (FixtureStore, Watcher) {
    watched_recording(sources, None)
}

/// [`watched`], with the recorder's write log telling its own writes apart.
fn watched_recording(
    sources: &[PathBuf],
    own: Option<Arc<aimock::record::writer::WriteLog>>,
) -> (FixtureStore, Watcher) {
    let store = FixtureStore::new(load_sources(sources, true));
    let own = own.map(|o| o as Arc<dyn aimock::cassette::watch::OwnWrites>);
    let w = Watcher::start(store.clone(), sources, own).expect("watcher starts");
    (store, w)
}

#[tokio::test]
async fn a_file_written_in_place_is_reloaded() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "a.json", &cassette(&[("hi", "one")]));
    let (store, _w) = watched(&[d.path().to_path_buf()]);
    assert_eq!(answer(&store, "hi").as_deref(), Some("one"));

    std::fs::write(&p, cassette(&[("hi", "two")])).unwrap();

    eventually("the new content serves", || {
        answer(&store, "hi").as_deref() == Some("two")
    })
    .await;
}

#[tokio::test]
async fn a_temporary_file_renamed_over_the_original_is_seen() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "a.json", &cassette(&[("hi", "one")]));
    let (store, _w) = watched(&[d.path().to_path_buf()]);

    let tmp = write(d.path(), ".a.json.tmp.123", &cassette(&[("hi", "renamed")]));
    std::fs::rename(&tmp, &p).unwrap();

    eventually("the renamed content serves", || {
        answer(&store, "hi").as_deref() == Some("renamed")
    })
    .await;
    assert_eq!(
        store.file_paths(),
        vec![p],
        "the temporary name never loads"
    );
}

#[tokio::test]
async fn a_single_file_source_sees_a_rename_over_it() {
    // A file source is watched through its directory: the rename replaces the inode.
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "only.json", &cassette(&[("hi", "one")]));
    write(d.path(), "other.json", &cassette(&[("hi", "not watched")]));
    let (store, _w) = watched(std::slice::from_ref(&p));

    let tmp = write(d.path(), "only.json~", &cassette(&[("hi", "two")]));
    std::fs::rename(&tmp, &p).unwrap();
    std::fs::write(d.path().join("other.json"), cassette(&[("x", "y")])).unwrap();

    eventually("the renamed content serves", || {
        answer(&store, "hi").as_deref() == Some("two")
    })
    .await;
    assert_eq!(store.file_paths(), vec![p]);
}

#[tokio::test]
async fn a_file_deleted_and_created_again_serves_its_new_content() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "a.json", &cassette(&[("hi", "one")]));
    let (store, _w) = watched(&[d.path().to_path_buf()]);

    std::fs::remove_file(&p).unwrap();
    std::fs::write(&p, cassette(&[("hi", "recreated")])).unwrap();

    eventually("the recreated content serves", || {
        answer(&store, "hi").as_deref() == Some("recreated")
    })
    .await;
}

#[tokio::test]
async fn a_deleted_file_takes_its_fixtures_with_it() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "a.json", &cassette(&[("hi", "one")]));
    write(d.path(), "b.json", &cassette(&[("yo", "two")]));
    let (store, _w) = watched(&[d.path().to_path_buf()]);

    std::fs::remove_file(&p).unwrap();

    eventually("a.json's fixture leaves", || texts(&store) == ["two"]).await;
}

#[tokio::test]
async fn files_copied_in_take_their_place_in_load_order() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "a.json", &cassette(&[("x", "from a")]));
    let c = write(d.path(), "c.json", &cassette(&[("hello", "from c")]));
    let (store, _w) = watched(&[d.path().to_path_buf()]);
    assert_eq!(answer(&store, "hello").as_deref(), Some("from c"));

    // Made elsewhere, then copied in: b sorts before c, and a subdirectory after both.
    let elsewhere = tempfile::tempdir().unwrap();
    let b_src = write(
        elsewhere.path(),
        "b.json",
        &cassette(&[("hello", "from b")]),
    );
    let s_src = write(
        elsewhere.path(),
        "z.json",
        &cassette(&[("hello", "from sub")]),
    );
    std::fs::create_dir(d.path().join("sub")).unwrap();
    std::fs::copy(&s_src, d.path().join("sub/z.json")).unwrap();
    std::fs::copy(&b_src, d.path().join("b.json")).unwrap();

    let b = d.path().join("b.json");
    let sub = d.path().join("sub/z.json");
    eventually("both new files load", || store.file_paths().len() == 4).await;
    assert_eq!(store.file_paths(), vec![a, b, c, sub]);
    assert_eq!(answer(&store, "hello").as_deref(), Some("from b"));
}

#[tokio::test]
async fn a_broken_save_keeps_the_previous_fixtures_until_it_is_repaired() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "a.json", &cassette(&[("hi", "good")]));
    let z = write(d.path(), "z.json", &cassette(&[("marker", "0")]));
    let (store, _w) = watched(&[d.path().to_path_buf()]);

    // Broken JSON, then a change to another file: once that one has loaded, the broken
    // save (earlier, and first in path order) has been looked at and refused.
    std::fs::write(&a, "{\"fixtures\": [ {\"match\": {}, ").unwrap();
    std::fs::write(&z, cassette(&[("marker", "1")])).unwrap();
    eventually("the other file reloads", || {
        answer(&store, "marker").as_deref() == Some("1")
    })
    .await;
    assert_eq!(answer(&store, "hi").as_deref(), Some("good"));

    // An entry that does not validate is refused the same way.
    std::fs::write(
        &a,
        r#"{"fixtures":[{"match":{"userMessage":"hi"},"response":{"content":"half"}},{"response":{}}]}"#,
    )
    .unwrap();
    std::fs::write(&z, cassette(&[("marker", "2")])).unwrap();
    eventually("the other file reloads again", || {
        answer(&store, "marker").as_deref() == Some("2")
    })
    .await;
    assert_eq!(answer(&store, "hi").as_deref(), Some("good"));

    std::fs::write(&a, cassette(&[("hi", "repaired")])).unwrap();
    eventually("the repaired file serves", || {
        answer(&store, "hi").as_deref() == Some("repaired")
    })
    .await;
}

#[tokio::test]
async fn a_file_broken_at_start_up_loads_in_its_place_once_repaired() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.json", &cassette(&[("x", "a")]));
    let b = write(d.path(), "b.json", "{ not json");
    write(d.path(), "c.json", &cassette(&[("hello", "from c")]));
    let (store, _w) = watched(&[d.path().to_path_buf()]);
    assert_eq!(texts(&store), ["a", "from c"]);

    std::fs::write(&b, cassette(&[("hello", "from b")])).unwrap();

    eventually("b loads", || texts(&store).len() == 3).await;
    assert_eq!(texts(&store), ["a", "from b", "from c"]);
}

#[tokio::test]
async fn run_time_fixtures_and_sequence_counts_survive_a_reload() {
    let d = tempfile::tempdir().unwrap();
    let seq = r#"{"fixtures":[
        {"match":{"userMessage":"step","sequenceIndex":0},"response":{"content":"first"}},
        {"match":{"userMessage":"step","sequenceIndex":1},"response":{"content":"second"}}]}"#;
    let a = write(d.path(), "a.json", seq);
    let (store, _w) = watched(&[d.path().to_path_buf()]);
    let file: Arc<str> = Arc::from("<runtime>");
    let entry = serde_json::json!({"match":{"userMessage":"rt"},"response":{"content":"runtime"}});
    let rt = parse_entry(&entry, &file, 0, &mut Vec::new()).unwrap();
    store.add_runtime(vec![Arc::new(rt)]);
    assert_eq!(answer(&store, "step").as_deref(), Some("first"));

    // Same sequence, one more fixture in front: a real reload of the file.
    let more = seq.replace(
        "[\n",
        "[{\"match\":{\"userMessage\":\"new\"},\"response\":{\"content\":\"added\"}},\n",
    );
    std::fs::write(&a, more).unwrap();
    eventually("the file reloads", || texts(&store).len() == 4).await;

    assert_eq!(answer(&store, "step").as_deref(), Some("second"));
    assert_eq!(answer(&store, "rt").as_deref(), Some("runtime"));
    assert_eq!(answer(&store, "new").as_deref(), Some("added"));
}

#[tokio::test]
async fn appends_by_the_recorders_writer_are_not_loaded_again_and_a_later_edit_is() {
    let d = tempfile::tempdir().unwrap();
    let z = write(d.path(), "z.json", &cassette(&[("marker", "0")]));
    let writer = aimock::record::writer::Writer::new();
    let (store, _w) = watched_recording(&[d.path().to_path_buf()], Some(writer.own_writes()));

    // What the recorder does for each recording: register the fixture, then append it
    // to the cassette (the writer notes its write, stamp and all, before the rename).
    let rec = d.path().join("recorded/openai.json");
    let file: Arc<str> = Arc::from(rec.to_string_lossy().as_ref());
    for i in 0..5 {
        let entry = serde_json::json!({"match":{"userMessage":format!("rq{i}")},"response":{"content":format!("ra{i}")}});
        let fx = parse_entry(&entry, &file, i, &mut Vec::new()).unwrap();
        store.add_runtime(vec![Arc::new(fx)]);
        writer.append_fixture(&rec, entry, &[]).unwrap();
    }
    std::fs::write(&z, cassette(&[("marker", "1")])).unwrap();
    eventually("the marker reloads", || {
        answer(&store, "marker").as_deref() == Some("1")
    })
    .await;
    assert_eq!(
        texts(&store),
        ["1", "ra0", "ra1", "ra2", "ra3", "ra4"],
        "each served once, from run time"
    );

    // Edited in place by a person (same file, new content): loads, and the file now
    // serves the recordings it holds.
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&rec).unwrap()).unwrap();
    doc["fixtures"].as_array_mut().unwrap().push(
        serde_json::json!({"match":{"userMessage":"extra"},"response":{"content":"by hand"}}),
    );
    std::fs::write(&rec, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    eventually("the edited recording loads", || texts(&store).len() == 7).await;
    assert_eq!(
        texts(&store),
        ["1", "ra0", "ra1", "ra2", "ra3", "ra4", "by hand"]
    );
}

#[tokio::test]
async fn the_recorders_own_writes_are_not_loaded_a_second_time() {
    let d = tempfile::tempdir().unwrap();
    let z = write(d.path(), "z.json", &cassette(&[("marker", "0")]));
    let log = Arc::new(aimock::record::writer::WriteLog::default());
    let (store, _w) = watched_recording(&[d.path().to_path_buf()], Some(log.clone()));

    // What the recorder does: register the fixture, note the bytes, write atomically.
    let rec = d.path().join("recorded/openai-1.json");
    let text = cassette(&[("recorded q", "recorded a")]);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let file: Arc<str> = Arc::from(rec.to_string_lossy().as_ref());
    let fx = parse_entry(&doc["fixtures"][0], &file, 0, &mut Vec::new()).unwrap();
    store.add_runtime(vec![Arc::new(fx)]);
    log.note(&rec, text.as_bytes(), None);
    let tmp = write(d.path(), "recorded/openai-1.json.tmp.42", &text);
    std::fs::rename(&tmp, &rec).unwrap();
    std::fs::write(&z, cassette(&[("marker", "1")])).unwrap();
    eventually("the marker reloads", || {
        answer(&store, "marker").as_deref() == Some("1")
    })
    .await;
    assert_eq!(
        texts(&store),
        ["1", "recorded a"],
        "served once, from run time"
    );

    // A person edits the recording: the file now serves it, the run-time copy goes.
    let edited = cassette(&[("recorded q", "recorded a"), ("extra", "by hand")]);
    std::fs::write(&rec, edited).unwrap();
    eventually("the edited recording loads", || texts(&store).len() == 3).await;
    assert_eq!(texts(&store), ["1", "recorded a", "by hand"]);
}

#[tokio::test]
async fn a_stream_in_flight_finishes_on_the_set_it_started_with() {
    let d = tempfile::tempdir().unwrap();
    let slow = r#"{"fixtures":[{"match":{"userMessage":"tell"},
        "response":{"content":"the old answer, streamed slowly"},"chunkSize":3,"latency":60}]}"#;
    let a = write(d.path(), "a.json", slow);
    let mut config = Config::for_tests(vec![d.path().to_path_buf()]);
    config.watch = true;
    let server = TestServer::start(config).await;

    let body = r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"tell"}]}"#;
    let mut resp = server
        .post_streaming("/v1/chat/completions", body)
        .await
        .into_body();
    let mut received = Vec::new();
    let first = resp.frame().await.unwrap().unwrap();
    received.extend_from_slice(first.data_ref().unwrap());

    std::fs::write(&a, cassette(&[("tell", "the new answer")])).unwrap();
    let store = server.state.store.clone();
    eventually("the new set is live", || {
        answer(&store, "tell").as_deref() == Some("the new answer")
    })
    .await;
    let mut frames_after_reload = 0;
    while let Some(f) = resp.frame().await {
        if let Some(data) = f.unwrap().data_ref() {
            frames_after_reload += 1;
            received.extend_from_slice(data);
        }
    }

    assert!(
        frames_after_reload > 0,
        "the stream was still going at the reload"
    );
    let text = String::from_utf8(received).unwrap();
    let deltas: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|l| *l != "[DONE]")
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(deltas, "the old answer, streamed slowly");
    assert_eq!(
        server.answer("tell").await.as_deref(),
        Some("the new answer")
    );
    server.finish().await.unwrap();
}

#[tokio::test]
async fn a_miss_names_the_closest_fixture_and_the_field_that_differed() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "greet.json", &cassette(&[("hello world", "hi")]));
    let server = TestServer::start(Config::for_tests(vec![d.path().to_path_buf()])).await;

    let req = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hello wrld"}]}"#;
    let reply = server.post("/v1/chat/completions", req, &[]).await;

    assert_eq!(reply.status, 404);
    let body = reply.json();
    let msg = body["error"]["message"].as_str().unwrap();
    let want = format!(
        "userMessage: request \"hello wrld\", fixture #0 ({}) wants \"hello world\"",
        p.display()
    );
    assert!(msg.contains(&want), "{msg}");
    server.finish().await.unwrap();
}

#[test]
fn watching_is_on_by_default_and_no_watch_turns_it_off() {
    let resolve = |args: &[&str]| {
        let cli = <Cli as clap::Parser>::try_parse_from(args).unwrap();
        let Some(Command::Replay(a)) = cli.command else {
            panic!("replay")
        };
        Config::resolve(&a).unwrap().watch
    };
    assert!(resolve(&["aimock", "replay"]));
    assert!(resolve(&["aimock", "replay", "--watch"]));
    assert!(!resolve(&["aimock", "replay", "--no-watch"]));
    assert!(
        resolve(&["aimock", "replay", "--no-watch", "-w"]),
        "the last flag wins"
    );
}

/// Save-to-served latency, the figure behind the 100 ms target. A benchmark, not a
/// timed test: it prints the distribution and asserts only that every save served.
/// `cargo test --test it reload_latency -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run by hand"]
async fn reload_latency_from_save_to_served_answer() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "a.json", &cassette(&[("q", "v0")]));
    for k in 0..20 {
        write(
            d.path(),
            &format!("other{k:02}.json"),
            &cassette(&[("x", "y")]),
        );
    }
    let mut config = Config::for_tests(vec![d.path().to_path_buf()]);
    config.watch = true;
    let server = TestServer::start(config).await;
    let mut ms = Vec::new();
    for i in 1..=40 {
        let want = format!("v{i}");
        let text = cassette(&[("q", &want)]);
        let start = std::time::Instant::now();
        if i % 2 == 0 {
            std::fs::write(&a, text).unwrap();
        } else {
            let tmp = write(d.path(), ".a.json.swp", &text);
            std::fs::rename(&tmp, &a).unwrap();
        }
        loop {
            if server.answer("q").await.as_deref() == Some(want.as_str()) {
                break;
            }
            assert!(
                start.elapsed() < crate::support::DEADLINE,
                "save {i} never served"
            );
        }
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() - 1) as f64 * p) as usize];
    println!(
        "save -> served over {} saves: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        ms.len(),
        pct(0.5),
        pct(0.95),
        ms[ms.len() - 1]
    );
    server.finish().await.unwrap();
}

#[tokio::test]
async fn recordings_under_a_watched_directory_are_served_once() {
    use crate::upstream::{FakeUpstream, Script};
    let up = FakeUpstream::start().await;
    let golden = format!(
        "{}/tests/data/golden/openai/chat-json-text.json",
        env!("CARGO_MANIFEST_DIR")
    );
    up.script(
        "/v1/chat/completions",
        Script::body(200, "application/json", std::fs::read(golden).unwrap()),
    );
    let d = tempfile::tempdir().unwrap();
    let z = write(d.path(), "z.json", &cassette(&[("marker", "0")]));
    let mut config = crate::support::recording(d.path(), &["openai"], &up.url());
    config.watch = true;
    let server = TestServer::start(config).await;
    let store = server.state.store.clone();

    for q in ["first question", "second question"] {
        let body =
            format!(r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":"{q}"}}]}}"#);
        let r = server.post("/v1/chat/completions", &body, &[]).await;
        assert_eq!(r.status, 200);
    }
    let rec = d.path().join("recorded/openai.json");
    eventually("both recordings are on disk", || {
        std::fs::read(&rec)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["fixtures"].as_array().map(|a| a.len()))
            == Some(2)
    })
    .await;
    // The watcher has seen the recordings once the later marker change is live.
    std::fs::write(&z, cassette(&[("marker", "1")])).unwrap();
    eventually("the marker reloads", || {
        answer(&store, "marker").as_deref() == Some("1")
    })
    .await;

    assert_eq!(
        store.snapshot().len(),
        3,
        "the marker and two recordings, once each"
    );
    assert_eq!(store.file_paths(), vec![z]);
    assert_eq!(up.hits(), 2);
    server.finish().await.unwrap();
}

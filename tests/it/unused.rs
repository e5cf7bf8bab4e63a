//! The unused-fixture report at shutdown, and `--fail-on-unused`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use aimock::cassette::{Pos, Unused};
use aimock::config::Config;

use crate::support::{cassette, eventually, texts, write, TestServer};

#[tokio::test]
async fn fixtures_never_matched_are_reported_by_file_index_and_line() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "a.json", &cassette(&[("hi", "a"), ("bye", "b")]));
    let server = TestServer::start(Config::for_tests(vec![d.path().to_path_buf()])).await;
    assert_eq!(server.answer("hi").await.as_deref(), Some("a"));
    let store = server.state.store.clone();

    server.finish().await.unwrap();

    let report = store.usage_report();
    assert_eq!(report.total, 2);
    let want = Unused {
        file: p.clone(),
        index: 1,
        pos: Some(Pos { line: 11, col: 5 }),
    };
    assert_eq!(report.unused, vec![want.clone()]);
    assert_eq!(
        want.to_string(),
        format!("{}:11:5: fixture #1", p.display())
    );
}

#[tokio::test]
async fn fail_on_unused_makes_the_run_fail_and_a_reloaded_file_counts_as_fresh() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "a.json", &cassette(&[("hi", "a")]));
    let mut config = Config::for_tests(vec![d.path().to_path_buf()]);
    config.fail_on_unused = true;
    config.watch = true;
    let server = TestServer::start(config).await;
    assert_eq!(server.answer("hi").await.as_deref(), Some("a"));

    std::fs::write(&p, cassette(&[("hi", "changed")])).unwrap();
    let store = server.state.store.clone();
    eventually("the file reloads", || texts(&store) == ["changed"]).await;

    let err = server.finish().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 of 1 cassette fixture(s) never matched a request (--fail-on-unused)"
    );
}

#[tokio::test]
async fn fail_on_unused_passes_when_every_fixture_matched() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.json", &cassette(&[("hi", "a")]));
    let mut config = Config::for_tests(vec![d.path().to_path_buf()]);
    config.fail_on_unused = true;
    let server = TestServer::start(config).await;
    assert_eq!(server.answer("hi").await.as_deref(), Some("a"));

    server.finish().await.unwrap();
}

#[test]
fn the_binary_prints_the_report_and_exits_1_with_fail_on_unused() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "a.json", &cassette(&[("hi", "a"), ("bye", "b")]));
    let mut child = Command::new(env!("CARGO_BIN_EXE_aimock"))
        .args(["replay", "--no-watch", "--fail-on-unused", "-p", "0", "-f"])
        .arg(d.path())
        .env_remove("AIMOCK_LOG")
        .env_remove("AIMOCK_PORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("aimock listening on http://127.0.0.1:"),
        "{line}"
    );

    // SIGTERM starts the graceful shutdown that ends with the report.
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = child.wait_with_output().unwrap();

    assert_eq!(out.status.code(), Some(1));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("2 of 2 cassette fixture(s) never matched a request:"),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "unused in {}: #0 (line 3), #1 (line 11)",
            p.display()
        )),
        "{log}"
    );
}

//! `--config aimock.json`: the reference's shape, command line over file over defaults,
//! and warnings that name what is ignored.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use aimock::cli::{Cli, Command as Sub};
use aimock::config::Config;
use serde_json::json;

use crate::support::{request, write};

fn resolve(args: &[&str]) -> anyhow::Result<Config> {
    let cli = <Cli as clap::Parser>::try_parse_from(args).unwrap();
    match cli.command {
        Some(Sub::Replay(a)) => Config::resolve(&a),
        Some(Sub::Record(r)) => Config::resolve_record(&r.serve, &r.record),
        Some(Sub::Check(_) | Sub::Drift(_) | Sub::Import(_) | Sub::Health(_)) | None => {
            unreachable!("a replay or record command line")
        }
    }
}

#[test]
fn the_command_line_beats_the_file_which_beats_the_defaults() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "aimock.json",
        &json!({
            "port": 4555, "host": "127.0.0.1", "strict": true, "metrics": true,
            "llm": {"fixtures": "./from-file", "chunkSize": 7, "latency": 3,
                    "logLevel": "debug", "chaos": {"dropRate": 0.5, "malformedRate": 0.25}}
        })
        .to_string(),
    );
    let f = f.to_str().unwrap();

    let c = resolve(&[
        "aimock",
        "replay",
        "--config",
        f,
        "--chunk-size",
        "9",
        "--chaos-drop",
        "0.1",
    ])
    .unwrap();
    assert_eq!(c.chunk_size, 9, "flag over file");
    assert_eq!(c.chaos.drop, Some(0.1), "flag over file");
    assert_eq!(c.chaos.malformed, Some(0.25), "file where no flag");
    assert_eq!(c.chaos.disconnect, None);
    assert_eq!(c.latency_ms, 3.0);
    assert_eq!(c.port, 4555);
    assert!(c.strict);
    assert!(c.metrics);
    assert_eq!(c.log_level, "debug");
    assert_eq!(c.cassettes, vec![PathBuf::from("./from-file")]);

    let c = resolve(&["aimock", "replay", "--config", f, "-f", "elsewhere"]).unwrap();
    assert_eq!(c.cassettes, vec![PathBuf::from("elsewhere")]);

    let c = resolve(&["aimock", "replay"]).unwrap();
    assert_eq!(
        (c.port, c.chunk_size, c.latency_ms, c.strict, c.metrics),
        (4010, 20, 0.0, false, false),
        "defaults without a file"
    );
    assert_eq!(c.cassettes, vec![PathBuf::from("./cassettes")]);
    assert_eq!(c.journal_max, 1000);
    assert_eq!(c.shutdown_timeout, std::time::Duration::from_secs(10));
}

#[test]
fn record_upstreams_come_from_the_file_and_the_flags_win_per_provider() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "aimock.json",
        &json!({"llm": {"record": {
            "providers": {"openai": "http://127.0.0.1:1/file", "anthropic": "http://127.0.0.1:2"},
            "proxyOnly": true, "upstreamTimeoutMs": 1234, "fixturePath": "/tmp/rec"
        }}})
        .to_string(),
    );
    let c = resolve(&[
        "aimock",
        "record",
        "--config",
        f.to_str().unwrap(),
        "--provider-openai",
        "http://127.0.0.1:3/flag",
    ])
    .unwrap();
    let r = c.record.unwrap();
    assert_eq!(r.upstreams["openai"].to_string(), "http://127.0.0.1:3/flag");
    assert_eq!(r.upstreams["anthropic"].to_string(), "http://127.0.0.1:2/");
    assert!(r.proxy_only);
    assert_eq!(r.head_timeout, std::time::Duration::from_millis(1234));
    assert_eq!(r.record_dir, PathBuf::from("/tmp/rec"));

    let replay = resolve(&["aimock", "replay", "--config", f.to_str().unwrap()]).unwrap();
    assert!(replay.record.is_none(), "replay never forwards");
    assert!(replay.warnings[0].contains("`llm.record`"));
}

#[tokio::test]
async fn the_binary_serves_the_file_config_and_warns_about_an_unknown_section_by_name() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "cassettes/a.json",
        &json!({"fixtures": [{"match": {"userMessage": "hi"}, "response": {"content": "from file config"}}]})
            .to_string(),
    );
    let cfg = write(
        d.path(),
        "aimock.json",
        &json!({
            "port": 0, "metrics": true,
            "llm": {"fixtures": d.path().join("cassettes")},
            "mcp": {"tools": []},
            "auth": {"apiKeys": []},
            "telemetry": {}
        })
        .to_string(),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_aimock"))
        .args(["replay", "--no-watch", "--config"])
        .arg(&cfg)
        .env_remove("AIMOCK_LOG")
        .env_remove("AIMOCK_PORT")
        .env_remove("AIMOCK_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("aimock listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();

    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    let r = request(
        "POST",
        &format!("{base}/v1/chat/completions"),
        body.to_string().into_bytes(),
        &[],
    )
    .await;
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "from file config"
    );
    let m = request("GET", &format!("{base}/metrics"), Vec::new(), &[]).await;
    assert_eq!(m.status, 200, "metrics on from the file");

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("unknown config section `telemetry` (ignored)"),
        "{log}"
    );
    // Served sections: `mcp` by its service, `auth` by access control.
    assert!(!log.contains("section `mcp` is not served"), "{log}");
    assert!(!log.contains("`auth`"), "{log}");
}

#[test]
fn a_config_value_of_the_wrong_type_stops_the_start_and_names_the_key() {
    let d = tempfile::tempdir().unwrap();
    let cfg = write(d.path(), "aimock.json", r#"{"llm": {"chunkSize": "big"}}"#);
    let out = Command::new(env!("CARGO_BIN_EXE_aimock"))
        .args(["replay", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`llm.chunkSize` must be an integer of at least 1"),
        "{err}"
    );
    assert!(err.contains("aimock.json"), "{err}");
}

#[test]
fn the_head_deadline_flag_sets_the_timeout_within_a_day() {
    use std::time::Duration;
    let c = resolve(&["aimock", "replay"]).unwrap();
    assert_eq!(c.header_read_timeout, Duration::from_secs(30));
    let c = resolve(&["aimock", "replay", "--header-read-timeout-ms", "1500"]).unwrap();
    assert_eq!(c.header_read_timeout, Duration::from_millis(1500));
    for bad in ["0", "86400001", "-1", "soon"] {
        let args = ["aimock", "replay", "--header-read-timeout-ms", bad];
        assert!(
            <Cli as clap::Parser>::try_parse_from(args).is_err(),
            "{bad} is refused"
        );
    }
}

#[test]
fn the_secrets_section_adds_patterns_and_an_allowlist_and_a_bad_pattern_stops_the_start() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "aimock.json",
        &json!({"secrets": {"patterns": ["corp-[0-9]{6}"], "allow": ["ghp_0{36}"]}}).to_string(),
    );
    let c = resolve(&["aimock", "replay", "--config", f.to_str().unwrap()]).unwrap();
    assert_eq!(c.secrets.redact("id corp-123456").0, "id [REDACTED]");
    let allowed = format!("ghp_{}", "0".repeat(36));
    assert_eq!(c.secrets.redact(&allowed).1, 0, "allowlisted");
    assert!(
        c.warnings.iter().all(|w| !w.contains("secrets")),
        "{:?}",
        c.warnings
    );

    let bad = write(
        d.path(),
        "bad.json",
        &json!({"secrets": {"patterns": ["(unclosed"]}}).to_string(),
    );
    let e = resolve(&["aimock", "replay", "--config", bad.to_str().unwrap()]).unwrap_err();
    assert!(format!("{e:#}").contains("secrets"), "{e:#}");
}

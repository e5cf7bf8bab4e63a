//! The `aimock` binary: parse arguments, start logging, run, map the result to an exit code.
#![deny(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use aimock::cli::{CheckArgs, Cli, Command};
use aimock::config::{Config, DEFAULT_CASSETTES};

fn init_tracing(level: &str, secrets: std::sync::Arc<aimock::secrets::Detector>) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Every line passes the credential detector: a request's text can be quoted.
        .with_writer(aimock::secrets::log::RedactingStderr(secrets))
        // Colour codes only for a terminal: CI logs and captured stderr stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

/// `aimock check`: 0 when clean (warnings allowed), 1 on any error, 2 when the report
/// cannot even be written.
fn check(args: &CheckArgs) -> ExitCode {
    let paths = if args.paths.is_empty() {
        vec![std::path::PathBuf::from(DEFAULT_CASSETTES)]
    } else {
        args.paths.clone()
    };
    let rules = match check_rules(args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result =
        aimock::check::run_with(&paths, &rules, &mut out).and_then(|s| out.flush().map(|()| s));
    match result {
        Ok(s) if s.errors == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: cannot write the report: {e}");
            ExitCode::from(2)
        }
    }
}

/// `aimock drift`: 0 when nothing is critical and every fixture was checked, 1
/// otherwise, 2 on bad arguments.
fn drift(args: &aimock::cli::DriftArgs) -> ExitCode {
    let opts = match aimock::config::drift::resolve(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let report = match runtime.block_on(aimock::drift::run(opts)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = if args.json {
        writeln!(out, "{:#}", report.to_json())
    } else {
        report.write_text(&mut out)
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        eprintln!("error: cannot write the report: {e}");
        return ExitCode::from(2);
    }
    ExitCode::from(report.exit_code())
}

/// `aimock import`: 0 when every file was read (skipped calls are not errors), 1 when
/// some file could not be, 2 on bad arguments or when the output cannot be written.
fn import(args: &aimock::cli::ImportArgs) -> ExitCode {
    init_tracing("warn", aimock::secrets::Detector::shared_builtin());
    let opts = aimock::import::Options {
        any_host: args.any_host,
        full_model_version: args.record_full_model_version,
    };
    let secrets = aimock::secrets::Detector::builtin();
    let summary = match aimock::import::run(args.format, &args.paths, &args.out, secrets, &opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if let Err(e) = summary.write_text(&mut out).and_then(|()| out.flush()) {
        eprintln!("error: cannot write the summary: {e}");
        return ExitCode::from(2);
    }
    if summary.has_errors() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The normalisation rules `aimock check` notes: its flags', else its config file's.
fn check_rules(args: &CheckArgs) -> anyhow::Result<std::sync::Arc<aimock::normalize::Normalizer>> {
    let file = match &args.config {
        Some(p) => aimock::config::file::load(p)?.normalize,
        None => None,
    };
    aimock::config::normalize_rules(&args.normalize, &args.normalize_regex, file.as_ref())
}

/// The reference's command line as `replay` or `record` options: whether to record
/// (`--record`, or a config file whose `llm.record` names providers, as the
/// reference's `aimock --config` does), `--agui-upstream` as `--upstream-agui`,
/// `--log-level silent` as `off`, and a warning for each flag aimock has no use for.
fn reference_command_line(
    a: &aimock::cli::ReferenceArgs,
) -> (
    aimock::cli::ServeArgs,
    aimock::cli::RecordArgs,
    bool,
    Vec<String>,
) {
    let mut serve = a.serve.clone();
    let mut record = a.record.clone();
    if serve.log_level.as_deref() == Some("silent") {
        serve.log_level = Some("off".into());
    }
    if record.upstream_agui.is_none() {
        record.upstream_agui = a.agui_upstream.clone();
    }
    let recording = a.record_mode || config_records(serve.config.as_deref());
    let mut warnings = a.unused();
    if !recording && (a.agui_upstream.is_some() || has_upstream(&record)) {
        warnings.push("--provider-*/--upstream-* without --record: replaying only".into());
    }
    (serve, record, recording, warnings)
}

/// Some upstream is named on the command line.
fn has_upstream(r: &aimock::cli::RecordArgs) -> bool {
    r.providers().iter().any(|(_, u)| u.is_some())
        || [
            &r.upstream_mcp,
            &r.upstream_a2a,
            &r.upstream_agui,
            &r.upstream_vector,
        ]
        .iter()
        .any(|u| u.is_some())
}

/// The config file at `path` has an `llm.record` object naming providers. A file that
/// does not read or parse says no here; resolving it reports why.
fn config_records(path: Option<&std::path::Path>) -> bool {
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.pointer("/llm/record/providers").cloned())
        .is_some_and(|p| p.as_object().is_some_and(|o| !o.is_empty()))
}

/// The async runtime `drift` and the server run on, or the exit code when it cannot
/// start (said on stderr: logging may not be set up yet).
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut early_warnings = Vec::new();
    let resolved = match &cli.command {
        Some(Command::Check(a)) => return check(a),
        Some(Command::Drift(a)) => return drift(a),
        Some(Command::Import(a)) => return import(a),
        Some(Command::Health(a)) => return ExitCode::from(aimock::probe::health(a)),
        Some(Command::Replay(a)) => Config::resolve(a),
        Some(Command::Record(r)) => Config::resolve_record(&r.serve, &r.record),
        None => {
            let (serve, record, recording, warnings) = reference_command_line(&cli.reference);
            early_warnings = warnings;
            if recording {
                Config::resolve_record(&serve, &record)
            } else {
                Config::resolve(&serve)
            }
        }
    };
    let config = match resolved {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    // After resolving: the config file may set the log level.
    init_tracing(&config.log_level, config.secrets.clone());
    for w in early_warnings {
        tracing::warn!("{w}");
    }
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let result = runtime.block_on(aimock::app::run(config, aimock::shutdown::signal(), |r| {
        // The one line a harness reads to learn the port; flushed at once.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "aimock listening on http://{}", r.addr);
        let _ = out.flush();
    }));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

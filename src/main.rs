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
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = aimock::check::run(&paths, &mut out).and_then(|s| out.flush().map(|()| s));
    match result {
        Ok(s) if s.errors == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: cannot write the report: {e}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let resolved = match &cli.command {
        Command::Check(a) => return check(a),
        Command::Replay(a) => Config::resolve(a),
        Command::Record(r) => Config::resolve_record(&r.serve, &r.record),
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
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

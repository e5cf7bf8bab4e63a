//! The `aimock` binary: parse arguments, start logging, run, map the result to an exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use aimock::cli::{Cli, Command};
use aimock::config::Config;

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (args, resolved) = match &cli.command {
        Command::Replay(a) => (a.clone(), Config::resolve(a)),
        Command::Record(r) => (r.serve.clone(), Config::resolve_record(&r.serve, &r.record)),
    };
    init_tracing(&args.log_level);
    let config = match resolved {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
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

//! The command line, as clap sees it: raw values only. `config.rs` turns these into a
//! validated [`crate::config::Config`]; nothing else reads clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Record and replay AI provider APIs, byte for byte.
#[derive(Debug, Parser)]
#[command(name = "aimock", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve answers from cassettes.
    Replay(ServeArgs),
    /// Serve from cassettes, and forward every miss to the real provider and save it.
    Record(ServeArgs),
}

/// Options shared by `replay` and `record`.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// A cassette file or directory (repeatable; directories are walked recursively).
    #[arg(
        long = "cassettes",
        short = 'f',
        visible_alias = "fixtures",
        value_name = "DIR|FILE"
    )]
    pub cassettes: Vec<PathBuf>,

    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "AIMOCK_HOST")]
    pub host: String,

    /// Port to listen on; 0 picks a free one.
    #[arg(long, short = 'p', default_value_t = 4010, env = "AIMOCK_PORT")]
    pub port: u16,

    /// Answer a request no cassette matches with 503 instead of 404.
    #[arg(long)]
    pub strict: bool,

    /// Log level or tracing filter (error, warn, info, debug, trace).
    #[arg(long, default_value = "info", env = "AIMOCK_LOG")]
    pub log_level: String,

    /// Characters per streamed chunk when a fixture sets no chunkSize.
    #[arg(long, short = 'c', default_value_t = 20)]
    pub chunk_size: usize,

    /// Milliseconds before each streamed chunk when a fixture sets no latency.
    #[arg(long, short = 'l', default_value_t = 0.0)]
    pub latency: f64,

    /// Divide every streaming delay by this factor.
    #[arg(long, default_value_t = 1.0)]
    pub replay_speed: f64,

    /// Largest request body accepted, in bytes (larger gets 413).
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,
}

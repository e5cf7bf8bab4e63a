//! The command line, as clap sees it: raw values only. `config.rs` turns these into a
//! validated [`crate::config::Config`]; nothing else reads clap types.
//!
//! Options a config file can also set are `Option`s with no clap default, so
//! `config.rs` can tell "not given" from "given the default" (command line > file >
//! default); their defaults are stated in the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Record and replay AI provider APIs, byte for byte.
///
/// With no subcommand, the reference's command lines work unchanged: its `llmock`
/// flags (`aimock -f DIR -p 4010 [--record --provider-openai URL] [--strict]`) and its
/// `aimock --config FILE [-p N] [--host H]`; a config whose `llm.record` names
/// providers records, as there.
#[derive(Debug, Parser)]
#[command(
    name = "aimock",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true,
    after_help = "Without a subcommand: `aimock [SERVE OPTIONS] [--record] [--provider-* URL]...` \
                  (the reference's llmock and `aimock --config FILE` command lines)"
)]
pub struct Cli {
    /// What to do (none: the reference's command line, see below).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The options when no subcommand is given.
    #[command(flatten)]
    pub reference: ReferenceArgs,
}

/// The reference's command line (no subcommand): `replay`'s options, `record`'s
/// upstreams, `--record`, and the reference's flags aimock has no use for, accepted
/// (with a warning) so its scripts run unchanged.
#[derive(Debug, Args, Clone)]
pub struct ReferenceArgs {
    /// Record mode: forward unmatched requests to the --provider-* upstreams and save them.
    #[arg(long = "record")]
    pub record_mode: bool,
    /// Serving options (as for `replay`).
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Upstreams and recording options (as for `record`).
    #[command(flatten)]
    pub record: RecordArgs,
    /// Accepted for the reference's scripts: fixtures are always validated at load.
    #[arg(long, hide = true)]
    pub validate_on_load: bool,
    /// Accepted for the reference's scripts (aimock keeps every test id's counts).
    #[arg(long, value_name = "N", hide = true)]
    pub fixture_counts_max: Option<u64>,
    /// Accepted for the reference's scripts (aimock keeps no per-frame proxy state).
    #[arg(long, value_name = "N", hide = true)]
    pub max_proxy_buffer_frames: Option<u64>,
    /// Not served by aimock (accepted and warned about).
    #[arg(long, value_name = "URL", hide = true)]
    pub provider_byteplus: Option<String>,
    /// Not served by aimock: use `--chaos-drop` with a 429 fixture (warned about).
    #[arg(long, value_name = "RATE", hide = true)]
    pub chaos_ratelimit: Option<f64>,
    /// Not served by aimock: use a fixture's `latency` (warned about).
    #[arg(long, value_name = "MS", hide = true)]
    pub chaos_latency: Option<f64>,
    /// The reference's AG-UI recording: use `--agui FILE` with `--upstream-agui URL`.
    #[arg(long, hide = true)]
    pub agui_record: bool,
    /// The reference's AG-UI upstream: taken as `--upstream-agui`.
    #[arg(long, value_name = "URL", hide = true)]
    pub agui_upstream: Option<String>,
    /// The reference's AG-UI proxy mode (warned about: use `record --proxy-only`).
    #[arg(long, hide = true)]
    pub agui_proxy_only: bool,
}

impl ReferenceArgs {
    /// What aimock makes of the reference's flags it has no use for: one warning each.
    pub fn unused(&self) -> Vec<String> {
        let mut w = Vec::new();
        let mut say = |flag: &str, why: &str| w.push(format!("{flag}: {why}"));
        if self.provider_byteplus.is_some() {
            say("--provider-byteplus", "BytePlus is not served; ignored");
        }
        if self.chaos_ratelimit.is_some() {
            say("--chaos-ratelimit", "not supported (a 429 fixture with --chaos-drop, or X-AIMock-Chaos-Drop, does it); ignored");
        }
        if self.chaos_latency.is_some() {
            say(
                "--chaos-latency",
                "not supported (set a fixture's `latency`, or --latency); ignored",
            );
        }
        if self.agui_record || self.agui_proxy_only {
            say(
                "--agui-record/--agui-proxy-only",
                "AG-UI records with `--agui FILE --upstream-agui URL`; ignored",
            );
        }
        w
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve answers from cassettes.
    Replay(Box<ServeArgs>),
    /// Serve from cassettes, and forward every miss to the real provider and save it.
    Record(Box<RecordCmd>),
    /// Validate cassettes without serving them (exit 1 when any has an error).
    Check(CheckArgs),
    /// Resend every recording's stored request to the real provider and report where
    /// what aimock serves differs in shape from what the provider sends now (exit 1 on
    /// any critical difference or any fixture that could not be checked).
    Drift(Box<DriftArgs>),
    // A shared gateway and other tools' recordings (`import`, `probe`).
    /// Turn other tools' recordings into aimock cassettes: vcrpy / pytest-recording
    /// YAML, Polly.js HAR, VidaiMock templates, mock-llm YAML (prints what was
    /// imported and what was skipped, and why; exit 1 when a file cannot be read).
    Import(ImportArgs),
    /// GET /health of a running aimock on this machine and exit 0 when it answers 200,
    /// 1 otherwise: a container HEALTHCHECK without curl.
    Health(HealthArgs),
}

/// Options of `aimock import`.
#[derive(Debug, Args, Clone)]
pub struct ImportArgs {
    /// The recordings' format.
    #[arg(value_enum, value_name = "FORMAT")]
    pub format: ImportFormat,
    /// Files or directories (walked for the format's file extensions).
    #[arg(value_name = "PATHS", required = true)]
    pub paths: Vec<PathBuf>,
    /// Where the cassettes are written (one per input file).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Import calls to any host whose path aimock serves (OpenAI-compatible gateways),
    /// not only the providers' own hosts and loopback.
    #[arg(long)]
    pub any_host: bool,
    /// Keep date suffixes in model names (`gpt-4o-2024-08-06`).
    #[arg(long)]
    pub record_full_model_version: bool,
}

/// Options of `aimock health`.
#[derive(Debug, Args, Clone)]
pub struct HealthArgs {
    /// The port aimock listens on [default: 4010].
    #[arg(long, short = 'p', env = "AIMOCK_PORT", default_value_t = 4010)]
    pub port: u16,
    /// The path to ask.
    #[arg(long, default_value = "/health")]
    pub path: String,
    /// Milliseconds to wait for the answer.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub timeout_ms: u64,
}

/// Options of `aimock drift`.
#[derive(Debug, Args, Clone)]
pub struct DriftArgs {
    /// Cassette files or directories, in load order (default: ./cassettes).
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// The upstreams, as for `record` (only --provider-* and --upstream-timeout-ms
    /// are used). Credentials come from OPENAI_API_KEY, ANTHROPIC_API_KEY,
    /// GEMINI_API_KEY, CO_API_KEY, AZURE_OPENAI_API_KEY, TAVILY_API_KEY, or --header.
    #[command(flatten)]
    pub record: RecordArgs,
    /// Only fixtures whose `FILE #INDEX METHOD PATH` or userMessage this regular
    /// expression matches.
    #[arg(long, value_name = "PATTERN")]
    pub only: Option<String>,
    /// Requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub concurrency: usize,
    /// At most this many upstream requests started per second.
    #[arg(long, value_name = "PER_SECOND")]
    pub rate: Option<f64>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Replace stale recordings (any critical difference or warning) with fresh ones,
    /// in place; hand-written fixtures, raw exchanges and new text alone are left as
    /// they are.
    #[arg(long)]
    pub rerecord: bool,
    /// A header added to every upstream request, `NAME: VALUE` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The normalisation rules the cassettes were recorded with (as for `replay`).
    #[arg(long, value_name = "RULES")]
    pub normalize: Vec<String>,
    /// A user normalisation rule, `PATTERN=>REPLACEMENT` (as for `replay`).
    #[arg(long, value_name = "PATTERN=>REPLACEMENT")]
    pub normalize_regex: Vec<String>,
    /// A config file: its `llm.record.providers` and `normalize` (flags win).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Options of `aimock check`.
#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// Cassette files or directories to check, in load order (default: ./cassettes).
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// Note what these normalisation rules change in the cassettes (as for `replay`).
    #[arg(long, value_name = "RULES")]
    pub normalize: Vec<String>,
    /// A user normalisation rule, `PATTERN=>REPLACEMENT` (as for `replay`).
    #[arg(long, value_name = "PATTERN=>REPLACEMENT")]
    pub normalize_regex: Vec<String>,
    /// Read the normalisation rules from this config file's `normalize` (the flags win).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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

    /// Address to listen on [default: 127.0.0.1].
    #[arg(long, env = "AIMOCK_HOST")]
    pub host: Option<String>,

    /// Port to listen on; 0 picks a free one [default: 4010].
    #[arg(long, short = 'p', env = "AIMOCK_PORT")]
    pub port: Option<u16>,

    /// Answer a request no cassette matches with 503 instead of 404.
    #[arg(long)]
    pub strict: bool,

    /// Log level or tracing filter (error, warn, info, debug, trace) [default: info].
    #[arg(long, env = "AIMOCK_LOG")]
    pub log_level: Option<String>,

    /// Characters per streamed chunk when a fixture sets no chunkSize [default: 20].
    #[arg(long, short = 'c')]
    pub chunk_size: Option<usize>,

    /// Milliseconds before each streamed chunk when a fixture sets no latency [default: 0].
    #[arg(long, short = 'l')]
    pub latency: Option<f64>,

    /// Divide every streaming delay by this factor [default: 1].
    #[arg(long)]
    pub replay_speed: Option<f64>,

    /// Largest request body accepted, in bytes (larger gets 413).
    #[arg(long, default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Reload cassettes when they change (the default; accepted for compatibility).
    #[arg(long, short = 'w', overrides_with = "no_watch")]
    pub watch: bool,

    /// Do not watch cassettes for changes.
    #[arg(long, overrides_with = "watch")]
    pub no_watch: bool,

    /// At shutdown, exit non-zero when some cassette fixture never matched a request.
    #[arg(long)]
    pub fail_on_unused: bool,

    /// A JSON config file in the reference's shape (`port`, `host`, `strict`, `metrics`,
    /// `llm.fixtures`, `llm.chaos`, `llm.record`, ...); command-line flags win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Probability (0..1) of answering a request with a provider-shaped 500.
    #[arg(long, value_name = "RATE")]
    pub chaos_drop: Option<f64>,

    /// Probability (0..1) of answering with a body that does not parse.
    #[arg(long, value_name = "RATE")]
    pub chaos_malformed: Option<f64>,

    /// Probability (0..1) of destroying the connection mid-response.
    #[arg(long, value_name = "RATE")]
    pub chaos_disconnect: Option<f64>,

    /// Seed of the chaos decisions, to reproduce a run (default: random, logged at start).
    #[arg(long, value_name = "N")]
    pub chaos_seed: Option<u64>,

    /// Requests kept in the journal; 0 keeps all [default: 1000].
    #[arg(long, value_name = "N")]
    pub journal_max: Option<usize>,

    /// Serve Prometheus metrics at GET /metrics.
    #[arg(long)]
    pub metrics: bool,

    /// Milliseconds in-flight requests get to finish after SIGTERM [default: 10000].
    #[arg(long, value_name = "MS")]
    pub shutdown_timeout_ms: Option<u64>,

    /// Milliseconds a client gets to send a request head; an idle kept-alive connection
    /// is closed after this long too [default: 30000; at most a day].
    // Bounded: the deadline is added to the clock, and a sum past its range would panic.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub header_read_timeout_ms: Option<u64>,

    /// Serve TLS as well, on the same port, with this PEM certificate chain (with
    /// --tls-key): a connection whose first byte is a TLS handshake gets TLS, any other
    /// plain HTTP. For clients that insist on https:// or wss:// (google-genai Live).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// The PEM private key for --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,

    // Access control and connection limits for a shared gateway (`server::access`,
    // `server::serve`).
    /// An inbound API key (repeatable; or `AIMOCK_API_KEYS=a,b`; or the config file's
    /// `auth.apiKeys`): when any is set, every provider route, mounted service and
    /// WebSocket upgrade needs one; /health, /ready, /metrics and CORS preflights stay
    /// open.
    #[arg(
        long = "api-key",
        value_name = "KEY",
        env = "AIMOCK_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,
    /// The control API's token: `/__aimock/*` then needs `Authorization: Bearer TOKEN`.
    /// Without one, the control API is open on a loopback address and off on any other.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "AIMOCK_CONTROL_TOKEN",
        hide_env_values = true
    )]
    pub control_token: Option<String>,
    /// Connections served at once; past it, new connections wait in the kernel's listen
    /// backlog until one closes [default: 10000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: Option<u64>,

    // The agent stack's sections from their own files (laid over the config file's
    // section of the same name; watched like cassettes; where `record` saves).
    /// The `mcp` section from its own JSON file (the section, or a config holding it).
    #[arg(long, value_name = "FILE")]
    pub mcp: Option<PathBuf>,
    /// The `a2a` section from its own JSON file.
    #[arg(long, value_name = "FILE")]
    pub a2a: Option<PathBuf>,
    /// The `agui` section from its own JSON file.
    #[arg(long, value_name = "FILE")]
    pub agui: Option<PathBuf>,
    /// The `vector` section from its own JSON file (where `record --upstream-vector`
    /// saves the vector databases' answers).
    #[arg(long, value_name = "FILE")]
    pub vector: Option<PathBuf>,

    // Request normalisation (see `normalize`): replaces the config file's `normalize`.
    /// Built-in normalisation rules applied to request text before matching and
    /// recording: uuid, isoDate, isoDateTime, unixTimestamp (comma list; repeatable).
    #[arg(long, value_name = "RULES")]
    pub normalize: Vec<String>,
    /// A user normalisation rule, `PATTERN=>REPLACEMENT` (a regular expression; `$1`
    /// refers to a group; repeatable, applied in order after the built-ins).
    #[arg(long, value_name = "PATTERN=>REPLACEMENT")]
    pub normalize_regex: Vec<String>,
}

/// `aimock record`: the serve options plus the upstreams.
#[derive(Debug, Args, Clone)]
pub struct RecordCmd {
    /// Serving options (as for `replay`).
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Upstreams and recording options.
    #[command(flatten)]
    pub record: RecordArgs,
}

/// Where misses go, and how recordings are taken.
#[derive(Debug, Args, Clone, Default)]
pub struct RecordArgs {
    /// OpenAI base URL (e.g. `https://api.openai.com`); a path prefix is kept.
    #[arg(long, value_name = "URL")]
    pub provider_openai: Option<String>,
    /// Anthropic base URL (e.g. `https://api.anthropic.com`).
    #[arg(long, value_name = "URL")]
    pub provider_anthropic: Option<String>,
    /// Gemini base URL (e.g. `https://generativelanguage.googleapis.com`).
    #[arg(long, value_name = "URL")]
    pub provider_gemini: Option<String>,
    /// Vertex AI base URL (e.g. `https://us-central1-aiplatform.googleapis.com`).
    #[arg(long, value_name = "URL")]
    pub provider_vertexai: Option<String>,
    /// Bedrock runtime base URL (e.g. `https://bedrock-runtime.us-east-1.amazonaws.com`).
    #[arg(long, value_name = "URL")]
    pub provider_bedrock: Option<String>,
    /// Azure OpenAI base URL (e.g. `https://NAME.openai.azure.com`).
    #[arg(long, value_name = "URL")]
    pub provider_azure: Option<String>,
    /// Ollama base URL (e.g. `http://127.0.0.1:11434`).
    #[arg(long, value_name = "URL")]
    pub provider_ollama: Option<String>,
    /// Cohere base URL (e.g. `https://api.cohere.com`).
    #[arg(long, value_name = "URL")]
    pub provider_cohere: Option<String>,
    /// Tavily search base URL (e.g. `https://api.tavily.com`): `POST /search` misses.
    /// Rerank misses go to `--provider-cohere`, moderation misses to `--provider-openai`.
    #[arg(long, value_name = "URL")]
    pub provider_tavily: Option<String>,
    /// OpenRouter base URL (e.g. `https://openrouter.ai`): `/api/v1/chat/completions`
    /// misses. Other OpenAI-compatible prefixes (`/openai/v1`, `/proxy/x/v1`) go to
    /// `--provider-openai`, the path kept.
    #[arg(long, value_name = "URL")]
    pub provider_openrouter: Option<String>,
    /// Azure AI Foundry resource URL for Anthropic models (e.g.
    /// `https://NAME.services.ai.azure.com`): `/anthropic/v1/messages` misses.
    #[arg(long, value_name = "URL")]
    pub provider_foundry: Option<String>,
    /// Forward misses without saving anything.
    #[arg(long)]
    pub proxy_only: bool,
    /// Milliseconds to wait for the upstream's response head [default: 30000].
    #[arg(long)]
    pub upstream_timeout_ms: Option<u64>,
    /// Milliseconds of upstream silence tolerated between body chunks [default: 30000].
    #[arg(long)]
    pub body_timeout_ms: Option<u64>,
    /// Largest upstream reply copied for recording, in bytes (larger replies are relayed
    /// in full but not recorded) [default: 67108864].
    #[arg(long, alias = "max-proxy-buffer-bytes")]
    pub max_capture_bytes: Option<usize>,
    /// Keep date suffixes in recorded model names (`gpt-4o-2024-08-06`).
    #[arg(long)]
    pub record_full_model_version: bool,

    // The agent stack's upstreams: a call the service's config cannot answer goes
    // there, and the answer is saved into the service's file (--mcp/--a2a/--agui).
    /// A real MCP server's Streamable HTTP endpoint (e.g. `https://host/mcp`).
    #[arg(long, value_name = "URL")]
    pub upstream_mcp: Option<String>,
    /// A real A2A agent's JSON-RPC endpoint (e.g. `https://host/a2a`).
    #[arg(long, value_name = "URL")]
    pub upstream_a2a: Option<String>,
    /// A real AG-UI agent's endpoint (e.g. `https://host/agent`).
    #[arg(long, value_name = "URL")]
    pub upstream_agui: Option<String>,
    /// A real vector database's base URL (a Pinecone index host, a Qdrant or Chroma
    /// server): the path below the vector mount is appended (needs --vector FILE).
    #[arg(long, value_name = "URL")]
    pub upstream_vector: Option<String>,
}

impl RecordArgs {
    /// The model providers' upstreams by name (`--provider-*`), given or not: the one
    /// list `record`, `drift` and the reference's command line read.
    pub fn providers(&self) -> [(&'static str, &Option<String>); 11] {
        [
            ("openai", &self.provider_openai),
            ("anthropic", &self.provider_anthropic),
            ("gemini", &self.provider_gemini),
            ("vertexai", &self.provider_vertexai),
            ("bedrock", &self.provider_bedrock),
            ("azure", &self.provider_azure),
            ("ollama", &self.provider_ollama),
            ("cohere", &self.provider_cohere),
            ("tavily", &self.provider_tavily),
            ("openrouter", &self.provider_openrouter),
            ("foundry", &self.provider_foundry),
        ]
    }
}

/// The formats `aimock import` reads (`import::Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    /// vcrpy / pytest-recording YAML cassettes (`interactions:`).
    Vcrpy,
    /// Polly.js recordings and other HAR 1.2 files (`log.entries`).
    Har,
    /// VidaiMock response templates (a directory of `.tera`, `.json`, `.txt`, ...).
    Vidaimock,
    /// mock-llm YAML configs (the reference's `routes:` and `mcp.tools`, or dwmkerr/mock-llm's `rules:`).
    MockLlm,
}

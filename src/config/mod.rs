//! The resolved configuration: defaults applied, values validated. Built once from the
//! command line and, with `--config`, a JSON file; the rest of the program reads only
//! this. Precedence, value by value: command line (or its environment variable), then
//! the file, then the default.
//!
//! - `file`: the reference's JSON config file shape, read as it is written;
//! - `record`: record-mode settings (upstreams, timeouts, where recordings go);
//! - `drift`: `aimock drift`'s options.

pub mod access;
pub mod drift;
pub mod file;
pub mod record;
pub mod sections;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::cassette::model::ChaosRates;
use crate::cli::{RecordArgs, ServeArgs};
use file::FileConfig;
use record::RecordConfig;

/// What the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub host: IpAddr,
    /// Listen port (0: any free port).
    pub port: u16,
    /// Cassette sources in load order.
    pub cassettes: Vec<PathBuf>,
    /// Misses get 503 instead of 404.
    pub strict: bool,
    /// Default characters per streamed chunk.
    pub chunk_size: usize,
    /// Default ms before each streamed chunk.
    pub latency_ms: f64,
    /// Divides every streaming delay.
    pub replay_speed: f64,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// `turnIndex` is a hard gate on replay too (`AIMOCK_STRICT_TURN_INDEX`).
    pub hard_turn_index: bool,
    /// Reload cassettes when they change.
    pub watch: bool,
    /// Fail at shutdown when some cassette fixture never matched.
    pub fail_on_unused: bool,
    /// Record mode, when on.
    pub record: Option<RecordConfig>,
    /// The tracing filter.
    pub log_level: String,
    /// Server-level chaos rates.
    pub chaos: ChaosRates,
    /// Seed of the chaos decisions (`None`: a random one, logged at start).
    pub chaos_seed: Option<u64>,
    /// Journal entries kept (0: all).
    pub journal_max: usize,
    /// Serve `GET /metrics`.
    pub metrics: bool,
    /// The credential detector every written value passes through: the built-in
    /// shapes plus the config file's `secrets.patterns`, less `secrets.allow`.
    pub secrets: std::sync::Arc<crate::secrets::Detector>,
    /// How long in-flight requests get after shutdown starts.
    pub shutdown_timeout: Duration,
    /// How long a client gets to send a request head (and an idle connection lives).
    pub header_read_timeout: Duration,
    /// The config file's sections for mounted services, as written
    /// ([`file::SERVICE_SECTIONS`]); each service reads its own at start-up.
    pub sections: std::collections::BTreeMap<String, serde_json::Value>,
    /// The config file's directory, which relative paths in `sections` resolve against.
    pub config_dir: Option<PathBuf>,
    /// Sections that come from their own files (`--mcp FILE`, ...), by section name;
    /// `sections` holds them already merged.
    pub section_files: std::collections::BTreeMap<String, sections::SectionFile>,
    /// What the config file said that aimock ignores; logged at start.
    pub warnings: Vec<String>,
    /// Serve TLS too, on the same port (`--tls-cert`, `--tls-key`).
    pub tls: Option<TlsFiles>,
    /// Inbound API keys and the control API's token (`server::access` checks them).
    pub access: access::AccessConfig,
    /// Connections served at once; past it, new ones wait in the listen backlog.
    pub max_connections: usize,
    /// Request normalisation rules (`--normalize`, `--normalize-regex`, the file's
    /// `normalize`; see [`normalize_rules`]).
    pub normalize: std::sync::Arc<crate::normalize::Normalizer>,
}

/// The request normalisation rules: the command line's when it gives any, else the
/// config file's (`normalize`), compiled. A bad rule is an error naming its flag or key.
pub fn normalize_rules(
    names: &[String],
    regexes: &[String],
    file: Option<&crate::normalize::RuleSpec>,
) -> anyhow::Result<std::sync::Arc<crate::normalize::Normalizer>> {
    let flags = crate::normalize::RuleSpec::from_flags(names, regexes)?;
    let spec = match file {
        Some(f) if flags.is_empty() => f,
        _ => &flags,
    };
    Ok(std::sync::Arc::new(crate::normalize::Normalizer::build(
        spec,
    )?))
}

/// The PEM files TLS is served with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The directory `aimock replay` serves when no `--cassettes` is given.
pub const DEFAULT_CASSETTES: &str = "./cassettes";
/// The port when neither flag nor file names one.
pub const DEFAULT_PORT: u16 = 4010;
/// The shutdown deadline when neither flag nor file names one.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Default for [`Config::max_connections`]: far above what a test suite opens, low
/// enough that a flood leaves descriptors for the cassettes and the recorder.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Default for [`Config::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

fn read_file(args: &ServeArgs) -> anyhow::Result<FileConfig> {
    match &args.config {
        Some(p) => file::load(p),
        None => Ok(FileConfig::default()),
    }
}

fn rate(flag: &str, v: Option<f64>) -> anyhow::Result<Option<f64>> {
    match v {
        Some(r) if !(0.0..=1.0).contains(&r) => bail!("--{flag} must be between 0 and 1"),
        v => Ok(v),
    }
}

impl Config {
    /// Resolve the `replay` arguments (and the config file they name).
    pub fn resolve(args: &ServeArgs) -> anyhow::Result<Config> {
        let mut file = read_file(args)?;
        if file.record.take().is_some() {
            file.warnings.push(
                "config key `llm.record` is only used by `aimock record`; `aimock replay` \
                 never forwards (ignored)"
                    .into(),
            );
        }
        Self::resolve_with(args, file, false)
    }

    fn resolve_with(
        args: &ServeArgs,
        mut file: FileConfig,
        recording: bool,
    ) -> anyhow::Result<Config> {
        let mut section_files = std::collections::BTreeMap::new();
        for (name, path) in [
            ("mcp", &args.mcp),
            ("a2a", &args.a2a),
            ("agui", &args.agui),
            ("vector", &args.vector),
        ] {
            let Some(path) = path else { continue };
            let sf = sections::SectionFile {
                path: path.clone(),
                base: file
                    .sections
                    .remove(name)
                    .unwrap_or_else(|| serde_json::json!({})),
            };
            // Record mode creates the file with its first recording.
            file.sections
                .insert(name.to_string(), sf.load(name, recording)?);
            section_files.insert(name.to_string(), sf);
        }
        let host = args
            .host
            .clone()
            .or(file.host)
            .unwrap_or_else(|| "127.0.0.1".into());
        let host: IpAddr = if host == "localhost" {
            IpAddr::from([127, 0, 0, 1])
        } else {
            host.parse()
                .with_context(|| format!("--host {host:?} is not an IP address"))?
        };
        let replay_speed = args.replay_speed.or(file.replay_speed).unwrap_or(1.0);
        if !replay_speed.is_finite() || replay_speed <= 0.0 {
            bail!("--replay-speed must be a positive number");
        }
        let latency = args.latency.or(file.latency).unwrap_or(0.0);
        if !latency.is_finite() || latency < 0.0 {
            bail!("--latency must be zero or more milliseconds");
        }
        let cassettes = if !args.cassettes.is_empty() {
            args.cassettes.clone()
        } else if !file.fixtures.is_empty() {
            file.fixtures
        } else {
            vec![PathBuf::from(DEFAULT_CASSETTES)]
        };
        let normalize = normalize_rules(
            &args.normalize,
            &args.normalize_regex,
            file.normalize.as_ref(),
        )?;
        let hard_turn_index = std::env::var("AIMOCK_STRICT_TURN_INDEX")
            .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        let file_chaos = file.chaos.unwrap_or_default();
        let chaos = ChaosRates {
            drop: rate("chaos-drop", args.chaos_drop)?.or(file_chaos.drop),
            malformed: rate("chaos-malformed", args.chaos_malformed)?.or(file_chaos.malformed),
            disconnect: rate("chaos-disconnect", args.chaos_disconnect)?.or(file_chaos.disconnect),
        };
        Ok(Config {
            host,
            port: args.port.or(file.port).unwrap_or(DEFAULT_PORT),
            cassettes,
            strict: args.strict || file.strict.unwrap_or(false),
            chunk_size: args.chunk_size.or(file.chunk_size).unwrap_or(20).max(1),
            latency_ms: latency,
            replay_speed,
            max_body_bytes: args.max_body_bytes,
            hard_turn_index,
            // `--watch` only exists for the reference's users: watching is the default.
            watch: !args.no_watch,
            fail_on_unused: args.fail_on_unused,
            record: None,
            log_level: args
                .log_level
                .clone()
                .or(file.log_level)
                .unwrap_or_else(|| "info".into()),
            chaos,
            chaos_seed: args.chaos_seed,
            journal_max: args.journal_max.unwrap_or(crate::journal::DEFAULT_MAX),
            metrics: args.metrics || file.metrics.unwrap_or(false),
            secrets: if file.secret_patterns.is_empty() && file.secret_allow.is_empty() {
                crate::secrets::Detector::shared_builtin()
            } else {
                std::sync::Arc::new(
                    crate::secrets::Detector::new(&file.secret_patterns, &file.secret_allow)
                        .context("config key `secrets`: not a valid regular expression")?,
                )
            },
            shutdown_timeout: args
                .shutdown_timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
            header_read_timeout: args
                .header_read_timeout_ms
                .map(Duration::from_millis)
                .unwrap_or(DEFAULT_HEADER_READ_TIMEOUT),
            sections: file.sections,
            config_dir: file.dir,
            section_files,
            warnings: file.warnings,
            tls: match (&args.tls_cert, &args.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                (None, None) => None,
                _ => anyhow::bail!("--tls-cert and --tls-key go together: give both or neither"),
            },
            access: access::AccessConfig::resolve(
                &args.api_keys,
                &file.api_keys,
                args.control_token.as_deref(),
            ),
            max_connections: args
                .max_connections
                .map_or(DEFAULT_MAX_CONNECTIONS, |n| n as usize),
            normalize,
        })
    }

    /// Resolve `aimock record`: the serve options plus at least one upstream. Upstreams
    /// from the command line and from the file's `llm.record.providers` are merged, the
    /// command line winning for a provider named in both.
    pub fn resolve_record(args: &ServeArgs, rec: &RecordArgs) -> anyhow::Result<Config> {
        let mut file = read_file(args)?;
        let frec = file.record.take().unwrap_or_default();
        let mut config = Self::resolve_with(args, file, true)?;
        let mut upstreams = std::collections::BTreeMap::new();
        for (name, url) in &frec.providers {
            upstreams.insert(name.clone(), record::parse_base(name, url)?);
        }
        for (name, value) in rec.providers() {
            if let Some(v) = value {
                upstreams.insert(name.to_string(), record::parse_base(name, v)?);
            }
        }
        // The agent stack's upstreams sit beside the providers', under the section name.
        for (name, value) in [
            ("mcp", &rec.upstream_mcp),
            ("a2a", &rec.upstream_a2a),
            ("agui", &rec.upstream_agui),
            ("vector", &rec.upstream_vector),
        ] {
            if let Some(v) = value {
                if !config.section_files.contains_key(name) {
                    bail!(
                        "--upstream-{name} needs --{name} FILE: the file its recordings are \
                         saved into (created if missing)"
                    );
                }
                let uri = record::parse_base(name, v).map_err(|e| {
                    anyhow::anyhow!("{}", e.to_string().replace("--provider-", "--upstream-"))
                })?;
                upstreams.insert(name.to_string(), uri);
                config
                    .sections
                    .entry(name.to_string())
                    .or_insert_with(|| serde_json::json!({}));
            }
        }
        if upstreams.is_empty() {
            bail!(
                "`aimock record` needs at least one upstream: pass --provider-openai URL, \
                 --provider-anthropic URL, ..., --upstream-mcp URL (see `aimock record --help`)"
            );
        }
        let head = rec
            .upstream_timeout_ms
            .or(frec.upstream_timeout_ms)
            .unwrap_or(30_000);
        let idle = rec
            .body_timeout_ms
            .or(frec.body_timeout_ms)
            .unwrap_or(30_000);
        if head == 0 || idle == 0 {
            bail!("--upstream-timeout-ms and --body-timeout-ms must be positive");
        }
        let first = &config.cassettes[0];
        let base = if first.extension().is_some_and(|e| e == "json") {
            first.parent().map(|p| p.to_path_buf()).unwrap_or_default()
        } else {
            first.clone()
        };
        config.record = Some(RecordConfig {
            upstreams,
            proxy_only: rec.proxy_only || frec.proxy_only.unwrap_or(false),
            head_timeout: Duration::from_millis(head),
            idle_timeout: Duration::from_millis(idle),
            max_capture_bytes: rec
                .max_capture_bytes
                .or(frec.max_proxy_buffer_bytes)
                .unwrap_or(64 * 1024 * 1024),
            record_dir: frec.fixture_path.unwrap_or_else(|| base.join("recorded")),
            full_model_version: rec.record_full_model_version
                || frec.record_full_model_version.unwrap_or(false),
        });
        Ok(config)
    }

    /// A configuration for tests and embedding: defaults, given sources, port 0, and
    /// no file watching (tests that want it turn it on).
    pub fn for_tests(cassettes: Vec<PathBuf>) -> Config {
        Config {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            cassettes,
            strict: false,
            chunk_size: 20,
            latency_ms: 0.0,
            replay_speed: 1.0,
            max_body_bytes: 32 * 1024 * 1024,
            hard_turn_index: false,
            watch: false,
            fail_on_unused: false,
            record: None,
            log_level: "info".into(),
            chaos: ChaosRates::default(),
            chaos_seed: None,
            journal_max: crate::journal::DEFAULT_MAX,
            metrics: false,
            secrets: crate::secrets::Detector::shared_builtin(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            sections: Default::default(),
            config_dir: None,
            section_files: Default::default(),
            warnings: Vec::new(),
            tls: None,
            access: access::AccessConfig::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            normalize: crate::normalize::Normalizer::none(),
        }
    }
}

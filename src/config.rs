//! The resolved configuration: defaults applied, values validated. Built once from the
//! command line; the rest of the program reads only this.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::cli::{RecordArgs, ServeArgs};
use crate::record::RecordConfig;

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
}

/// The directory `aimock replay` serves when no `--cassettes` is given.
pub const DEFAULT_CASSETTES: &str = "./cassettes";

impl Config {
    /// Resolve the `replay`/`record` arguments.
    pub fn resolve(args: &ServeArgs) -> anyhow::Result<Config> {
        let host: IpAddr = if args.host == "localhost" {
            IpAddr::from([127, 0, 0, 1])
        } else {
            args.host
                .parse()
                .with_context(|| format!("--host {:?} is not an IP address", args.host))?
        };
        if !args.replay_speed.is_finite() || args.replay_speed <= 0.0 {
            bail!("--replay-speed must be a positive number");
        }
        if !args.latency.is_finite() || args.latency < 0.0 {
            bail!("--latency must be zero or more milliseconds");
        }
        let cassettes = if args.cassettes.is_empty() {
            vec![PathBuf::from(DEFAULT_CASSETTES)]
        } else {
            args.cassettes.clone()
        };
        let hard_turn_index = std::env::var("AIMOCK_STRICT_TURN_INDEX")
            .is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        Ok(Config {
            host,
            port: args.port,
            cassettes,
            strict: args.strict,
            chunk_size: args.chunk_size.max(1),
            latency_ms: args.latency,
            replay_speed: args.replay_speed,
            max_body_bytes: args.max_body_bytes,
            hard_turn_index,
            // `--watch` only exists for the reference's users: watching is the default.
            watch: !args.no_watch,
            fail_on_unused: args.fail_on_unused,
            record: None,
        })
    }

    /// Resolve `aimock record`: the serve options plus at least one upstream.
    pub fn resolve_record(args: &ServeArgs, rec: &RecordArgs) -> anyhow::Result<Config> {
        let mut config = Config::resolve(args)?;
        let mut upstreams = std::collections::BTreeMap::new();
        for (name, value) in [
            ("openai", &rec.provider_openai),
            ("anthropic", &rec.provider_anthropic),
            ("gemini", &rec.provider_gemini),
            ("vertexai", &rec.provider_vertexai),
            ("bedrock", &rec.provider_bedrock),
            ("azure", &rec.provider_azure),
            ("ollama", &rec.provider_ollama),
            ("cohere", &rec.provider_cohere),
        ] {
            if let Some(v) = value {
                upstreams.insert(name.to_string(), crate::record::parse_base(name, v)?);
            }
        }
        if upstreams.is_empty() {
            bail!(
                "`aimock record` needs at least one upstream: pass --provider-openai URL, \
                 --provider-anthropic URL, ... (see `aimock record --help`)"
            );
        }
        if rec.upstream_timeout_ms == 0 || rec.body_timeout_ms == 0 {
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
            proxy_only: rec.proxy_only,
            head_timeout: std::time::Duration::from_millis(rec.upstream_timeout_ms),
            idle_timeout: std::time::Duration::from_millis(rec.body_timeout_ms),
            max_capture_bytes: rec.max_capture_bytes,
            record_dir: base.join("recorded"),
            full_model_version: rec.record_full_model_version,
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
        }
    }
}

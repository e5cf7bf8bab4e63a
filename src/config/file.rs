//! The JSON config file (`--config aimock.json`), in the reference's shape, for the
//! parts aimock serves:
//!
//! ```json
//! {
//!   "port": 4010, "host": "127.0.0.1", "strict": false, "metrics": true,
//!   "llm": {
//!     "fixtures": "./cassettes", "latency": 0, "chunkSize": 20, "replaySpeed": 1,
//!     "logLevel": "info",
//!     "chaos": {"dropRate": 0, "malformedRate": 0, "disconnectRate": 0},
//!     "record": {"providers": {"openai": "https://api.openai.com"}, "proxyOnly": false,
//!                "fixturePath": "./cassettes/recorded", "recordFullModelVersion": false,
//!                "upstreamTimeoutMs": 30000, "bodyTimeoutMs": 30000,
//!                "maxProxyBufferBytes": 67108864}
//!   }
//! }
//! ```
//!
//! This module only reads the file into a [`FileConfig`] of optional values and
//! warnings; `config.rs` decides precedence (command line over file over defaults).
//! A value of the wrong type is an error naming its key; a section or key aimock does
//! not serve (`mcp`, `a2a`, `llm.misbehavior`, ...) is a warning naming it, so a
//! reference config loads and says what it ignores.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::{Map, Value};

use crate::cassette::model::ChaosRates;

/// `llm.record`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileRecord {
    /// Provider key to base URL.
    pub providers: BTreeMap<String, String>,
    /// Where recordings go.
    pub fixture_path: Option<PathBuf>,
    /// Forward without saving.
    pub proxy_only: Option<bool>,
    /// Keep date suffixes in recorded model names.
    pub record_full_model_version: Option<bool>,
    /// Head timeout, ms.
    pub upstream_timeout_ms: Option<u64>,
    /// Body idle timeout, ms.
    pub body_timeout_ms: Option<u64>,
    /// Largest reply copied for recording.
    pub max_proxy_buffer_bytes: Option<usize>,
}

/// What the file says; `None` where it says nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileConfig {
    /// `port`.
    pub port: Option<u16>,
    /// `host`.
    pub host: Option<String>,
    /// `strict`.
    pub strict: Option<bool>,
    /// `metrics`.
    pub metrics: Option<bool>,
    /// `llm.fixtures` (a path, or a list of paths).
    pub fixtures: Vec<PathBuf>,
    /// `llm.latency`, ms.
    pub latency: Option<f64>,
    /// `llm.chunkSize`.
    pub chunk_size: Option<usize>,
    /// `llm.replaySpeed` (a non-positive value is dropped with a warning).
    pub replay_speed: Option<f64>,
    /// `llm.logLevel`, as a tracing filter.
    pub log_level: Option<String>,
    /// `llm.chaos`.
    pub chaos: Option<ChaosRates>,
    /// `llm.record`.
    pub record: Option<FileRecord>,
    /// `secrets.patterns`: extra credential shapes (regular expressions).
    pub secret_patterns: Vec<String>,
    /// `secrets.allow`: values never to redact (regular expressions, matched whole).
    pub secret_allow: Vec<String>,
    /// `auth.apiKeys`: inbound API keys (the environment and command line win).
    pub api_keys: Vec<String>,
    /// `normalize` (aimock's own): the request normalisation rules as written.
    pub normalize: Option<crate::normalize::RuleSpec>,
    /// The sections mounted services read (`mcp`, `a2a`, `agui`, `vector`,
    /// `services`: [`SERVICE_SECTIONS`]), kept as written; each service validates its
    /// own section when it is mounted.
    pub sections: BTreeMap<String, Value>,
    /// The directory the config file is in: relative paths inside sections resolve
    /// against it.
    pub dir: Option<PathBuf>,
    /// Everything ignored, one sentence each, naming the key.
    pub warnings: Vec<String>,
}

/// The reference's config sections that mounted services read (`services::CONFIGURED`
/// claims each; a test there holds the lists together). Named here, not taken from
/// `services`, so configuration does not depend on what it configures.
pub const SERVICE_SECTIONS: &[&str] = &["mcp", "a2a", "agui", "vector", "services"];

const LLM_KEYS: &[&str] = &[
    "fixtures",
    "latency",
    "chunkSize",
    "replaySpeed",
    "logLevel",
    "chaos",
    "record",
];
const RECORD_KEYS: &[&str] = &[
    "providers",
    "fixturePath",
    "proxyOnly",
    "recordFullModelVersion",
    "upstreamTimeoutMs",
    "bodyTimeoutMs",
    "maxProxyBufferBytes",
];

/// The `secrets` section (aimock's own, not the reference's): `patterns` and `allow`,
/// each a list of regular expressions.
fn secrets(v: &Value, out: &mut FileConfig) -> anyhow::Result<()> {
    let Value::Object(m) = v else {
        bail!("`secrets` must be an object");
    };
    for (k, v) in m {
        let list = |key: &str| -> anyhow::Result<Vec<String>> {
            let Value::Array(a) = v else {
                bail!("`secrets.{key}` must be a list of regular expressions");
            };
            a.iter()
                .map(|x| {
                    x.as_str().map(str::to_string).with_context(|| {
                        format!("`secrets.{key}` must be a list of regular expressions")
                    })
                })
                .collect()
        };
        match k.as_str() {
            "patterns" => out.secret_patterns = list("patterns")?,
            "allow" => out.secret_allow = list("allow")?,
            k => out
                .warnings
                .push(format!("unknown config key `secrets.{k}` (ignored)")),
        }
    }
    Ok(())
}

/// The `auth` section (the reference's): `apiKeys`, a list of inbound API keys.
fn auth(v: &Value, out: &mut FileConfig) -> anyhow::Result<()> {
    for (k, v) in object(v, "auth")? {
        match k.as_str() {
            "apiKeys" => {
                let Value::Array(a) = v else {
                    bail!("`auth.apiKeys` must be a list of strings");
                };
                out.api_keys = a
                    .iter()
                    .map(|x| string(x, "auth.apiKeys[]"))
                    .collect::<anyhow::Result<_>>()?;
            }
            k => out
                .warnings
                .push(format!("unknown config key `auth.{k}` (ignored)")),
        }
    }
    Ok(())
}

/// Read and parse a config file.
pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    let mut file = parse(&bytes).with_context(|| format!("config file {}", path.display()))?;
    file.dir = path.parent().map(Path::to_path_buf);
    Ok(file)
}

/// Parse config file bytes.
pub fn parse(bytes: &[u8]) -> anyhow::Result<FileConfig> {
    let doc: Value = serde_json::from_slice(bytes).context("not valid JSON")?;
    let Value::Object(top) = doc else {
        bail!("must be a JSON object");
    };
    let mut out = FileConfig::default();
    for (k, v) in &top {
        match k.as_str() {
            "port" => {
                out.port = Some(
                    v.as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                        .context("`port` must be an integer from 0 to 65535")?,
                )
            }
            "host" => out.host = Some(string(v, "host")?),
            "strict" => out.strict = Some(boolean(v, "strict")?),
            "metrics" => out.metrics = Some(boolean(v, "metrics")?),
            "llm" => llm(v, &mut out)?,
            "secrets" => secrets(v, &mut out)?,
            "auth" => auth(v, &mut out)?,
            "normalize" => out.normalize = Some(crate::normalize::RuleSpec::from_json(v)?),
            // The sections mounted services read: kept as written for the service that
            // claims it.
            k if SERVICE_SECTIONS.contains(&k) => {
                out.sections.insert(k.to_string(), v.clone());
            }
            k => out
                .warnings
                .push(format!("unknown config section `{k}` (ignored)")),
        }
    }
    Ok(out)
}

fn llm(v: &Value, out: &mut FileConfig) -> anyhow::Result<()> {
    let o = object(v, "llm")?;
    for (k, v) in o {
        match k.as_str() {
            "fixtures" => {
                out.fixtures = match v {
                    Value::String(s) => vec![PathBuf::from(s)],
                    Value::Array(a) => a
                        .iter()
                        .map(|x| string(x, "llm.fixtures[]").map(PathBuf::from))
                        .collect::<anyhow::Result<_>>()?,
                    _ => bail!("`llm.fixtures` must be a path or a list of paths"),
                }
            }
            "latency" => {
                let l = number(v, "llm.latency")?;
                if l < 0.0 {
                    bail!("`llm.latency` must be zero or more milliseconds");
                }
                out.latency = Some(l);
            }
            "chunkSize" => {
                out.chunk_size = Some(
                    v.as_u64()
                        .filter(|n| *n >= 1)
                        .and_then(|n| usize::try_from(n).ok())
                        .context("`llm.chunkSize` must be an integer of at least 1")?,
                )
            }
            "replaySpeed" => {
                let s = number(v, "llm.replaySpeed")?;
                if s > 0.0 {
                    out.replay_speed = Some(s);
                } else {
                    out.warnings.push(format!(
                        "`llm.replaySpeed` must be a positive number, got {s} (ignored)"
                    ));
                }
            }
            "logLevel" => {
                let l = string(v, "llm.logLevel")?;
                out.log_level = Some(if l == "silent" { "off".into() } else { l });
            }
            "chaos" => out.chaos = Some(chaos(v)?),
            "record" => out.record = Some(record(v, &mut out.warnings)?),
            k => {
                debug_assert!(!LLM_KEYS.contains(&k));
                out.warnings.push(format!(
                    "config key `llm.{k}` is not served by aimock (ignored)"
                ));
            }
        }
    }
    Ok(())
}

fn chaos(v: &Value) -> anyhow::Result<ChaosRates> {
    let o = object(v, "llm.chaos")?;
    let rate = |k: &str| -> anyhow::Result<Option<f64>> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => {
                let r = number(x, &format!("llm.chaos.{k}"))?;
                if !(0.0..=1.0).contains(&r) {
                    bail!("`llm.chaos.{k}` must be between 0 and 1");
                }
                Ok(Some(r))
            }
        }
    };
    Ok(ChaosRates {
        drop: rate("dropRate")?,
        malformed: rate("malformedRate")?,
        disconnect: rate("disconnectRate")?,
    })
}

fn record(v: &Value, warnings: &mut Vec<String>) -> anyhow::Result<FileRecord> {
    let o = object(v, "llm.record")?;
    let mut r = FileRecord::default();
    for (k, v) in o {
        match k.as_str() {
            "providers" => {
                for (name, url) in object(v, "llm.record.providers")? {
                    if super::record::PROVIDERS.contains(&name.as_str()) {
                        let url = string(url, &format!("llm.record.providers.{name}"))?;
                        r.providers.insert(name.clone(), url);
                    } else {
                        warnings.push(format!(
                            "config key `llm.record.providers.{name}`: aimock has no such provider (ignored)"
                        ));
                    }
                }
            }
            "fixturePath" => r.fixture_path = Some(string(v, "llm.record.fixturePath")?.into()),
            "proxyOnly" => r.proxy_only = Some(boolean(v, "llm.record.proxyOnly")?),
            "recordFullModelVersion" => {
                r.record_full_model_version = Some(boolean(v, "llm.record.recordFullModelVersion")?)
            }
            "upstreamTimeoutMs" => {
                r.upstream_timeout_ms = Some(positive(v, "llm.record.upstreamTimeoutMs")?)
            }
            "bodyTimeoutMs" => r.body_timeout_ms = Some(positive(v, "llm.record.bodyTimeoutMs")?),
            "maxProxyBufferBytes" => {
                r.max_proxy_buffer_bytes = Some(
                    usize::try_from(positive(v, "llm.record.maxProxyBufferBytes")?)
                        .unwrap_or(usize::MAX),
                )
            }
            k => {
                debug_assert!(!RECORD_KEYS.contains(&k));
                warnings.push(format!(
                    "config key `llm.record.{k}` is not served by aimock (ignored)"
                ));
            }
        }
    }
    Ok(r)
}

fn object<'a>(v: &'a Value, key: &str) -> anyhow::Result<&'a Map<String, Value>> {
    v.as_object()
        .with_context(|| format!("`{key}` must be an object"))
}

fn string(v: &Value, key: &str) -> anyhow::Result<String> {
    v.as_str()
        .map(str::to_string)
        .with_context(|| format!("`{key}` must be a string"))
}

fn boolean(v: &Value, key: &str) -> anyhow::Result<bool> {
    v.as_bool()
        .with_context(|| format!("`{key}` must be true or false"))
}

fn number(v: &Value, key: &str) -> anyhow::Result<f64> {
    v.as_f64()
        .filter(|x| x.is_finite())
        .with_context(|| format!("`{key}` must be a number"))
}

fn positive(v: &Value, key: &str) -> anyhow::Result<u64> {
    v.as_u64()
        .filter(|n| *n > 0)
        .with_context(|| format!("`{key}` must be a positive integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_parts_are_read() {
        let c = parse(
            br#"{"port": 0, "host": "127.0.0.1", "strict": true, "metrics": true,
                 "llm": {"fixtures": "./fx", "chunkSize": 5, "logLevel": "silent",
                         "chaos": {"dropRate": 0.5},
                         "record": {"providers": {"openai": "http://127.0.0.1:9"}, "proxyOnly": true}}}"#,
        )
        .unwrap();
        assert_eq!(c.port, Some(0));
        assert_eq!(c.strict, Some(true));
        assert_eq!(c.fixtures, vec![PathBuf::from("./fx")]);
        assert_eq!(c.chunk_size, Some(5));
        assert_eq!(c.log_level.as_deref(), Some("off"));
        assert_eq!(c.chaos.unwrap().drop, Some(0.5));
        let r = c.record.unwrap();
        assert_eq!(r.providers["openai"], "http://127.0.0.1:9");
        assert_eq!(r.proxy_only, Some(true));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn unserved_sections_and_keys_are_warnings_that_name_them() {
        let c = parse(
            br#"{"auth": {"apiKeys": ["k"], "realm": 1}, "mcp": {}, "telemetry": 1, "llm": {"misbehavior": "x",
                 "record": {"providers": {"elevenlabs": "http://x"}, "fal": {}}}}"#,
        )
        .unwrap();
        let w = c.warnings.join("\n");
        // `mcp` is served (kept for its service, no warning); `auth` is read here.
        assert!(
            !w.contains("`mcp`") && c.sections.contains_key("mcp"),
            "{w}"
        );
        assert!(!w.contains("`auth`"), "{w}");
        assert_eq!(c.api_keys, vec!["k".to_string()]);
        for key in [
            "`auth.realm`",
            "`telemetry`",
            "`llm.misbehavior`",
            "`llm.record.providers.elevenlabs`",
            "`llm.record.fal`",
        ] {
            assert!(w.contains(key), "{key} in {w}");
        }
    }

    #[test]
    fn a_wrong_type_is_an_error_naming_the_key() {
        let e = parse(br#"{"llm": {"chaos": {"dropRate": 2}}}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`llm.chaos.dropRate` must be between 0 and 1"
        );
        let e = parse(br#"{"port": "80"}"#).unwrap_err();
        assert!(e.to_string().contains("`port`"), "{e}");
    }
}

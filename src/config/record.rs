//! Record-mode settings: which providers have an upstream and where, and the limits a
//! recording works within. Resolved here with the rest of the configuration; the
//! recorder (`record`) only reads them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use http::Uri;

/// Every provider key that can have an upstream.
pub const PROVIDERS: &[&str] = &[
    "openai",
    "anthropic",
    "gemini",
    "vertexai",
    "bedrock",
    "azure",
    "ollama",
    "cohere",
    "openrouter",
    "foundry",
];

/// Resolved record-mode settings.
#[derive(Debug, Clone)]
pub struct RecordConfig {
    /// Provider key to upstream base URL (path prefix kept).
    pub upstreams: BTreeMap<String, Uri>,
    /// Forward without saving.
    pub proxy_only: bool,
    /// Longest wait for the upstream's response head.
    pub head_timeout: Duration,
    /// Longest silence between upstream body chunks.
    pub idle_timeout: Duration,
    /// Largest reply copied for recording.
    pub max_capture_bytes: usize,
    /// Where recordings go (`<first cassette dir>/recorded`).
    pub record_dir: PathBuf,
    /// Keep date suffixes in recorded models.
    pub full_model_version: bool,
}

/// Parse a provider base URL flag.
pub fn parse_base(flag: &str, value: &str) -> anyhow::Result<Uri> {
    let uri: Uri = value
        .parse()
        .map_err(|e| anyhow::anyhow!("--provider-{flag} {value:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => anyhow::bail!("--provider-{flag} {value:?} must start with http:// or https://"),
    }
    if uri.authority().is_none() {
        anyhow::bail!("--provider-{flag} {value:?} has no host");
    }
    if uri.query().is_some() {
        anyhow::bail!("--provider-{flag} {value:?} must not carry a query string");
    }
    Ok(uri)
}

//! `aimock drift`'s options, resolved from its command line (the `--provider-*` flags
//! as for `record`, and the config file's `llm.record.providers` beside them).

use std::time::Duration;

use anyhow::Context;

use crate::cli::DriftArgs;
use crate::drift::Options;

/// Resolve `aimock drift`'s arguments. At least one upstream is needed.
pub fn resolve(args: &DriftArgs) -> anyhow::Result<Options> {
    let file = match &args.config {
        Some(p) => Some(super::file::load(p)?),
        None => None,
    };
    let mut upstreams = std::collections::BTreeMap::new();
    if let Some(r) = file.as_ref().and_then(|f| f.record.as_ref()) {
        for (name, url) in &r.providers {
            upstreams.insert(name.clone(), super::record::parse_base(name, url)?);
        }
    }
    let rec = &args.record;
    for (name, value) in rec.providers() {
        if let Some(v) = value {
            upstreams.insert(name.to_string(), super::record::parse_base(name, v)?);
        }
    }
    if upstreams.is_empty() {
        anyhow::bail!(
            "`aimock drift` needs at least one upstream to compare with: pass --provider-openai URL, \
             --provider-anthropic URL, ... (as for `aimock record`)"
        );
    }
    let only = args
        .only
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .context("--only is not a valid regular expression")?;
    if let Some(r) = args.rate {
        if !r.is_finite() || !(0.001..=10_000.0).contains(&r) {
            anyhow::bail!("--rate must be between 0.001 and 10000 requests per second");
        }
    }
    let mut headers = Vec::new();
    for h in &args.headers {
        let (k, v) = h
            .split_once(':')
            .with_context(|| format!("--header {h:?}: expected `NAME: VALUE`"))?;
        let k = k.trim().to_ascii_lowercase();
        http::HeaderName::from_bytes(k.as_bytes())
            .with_context(|| format!("--header {h:?}: not a header name"))?;
        headers.push((k, v.trim().to_string()));
    }
    let timeout = rec.upstream_timeout_ms.unwrap_or(60_000);
    if timeout == 0 {
        anyhow::bail!("--upstream-timeout-ms must be positive");
    }
    Ok(Options {
        sources: crate::drift::sources_or_default(&args.paths),
        upstreams,
        only,
        concurrency: args.concurrency.clamp(1, crate::drift::MAX_CONCURRENCY),
        rate: args.rate,
        timeout: Duration::from_millis(timeout),
        headers,
        rerecord: args.rerecord,
        secrets: match file.as_ref() {
            Some(f) if !f.secret_patterns.is_empty() || !f.secret_allow.is_empty() => {
                std::sync::Arc::new(
                    crate::secrets::Detector::new(&f.secret_patterns, &f.secret_allow)
                        .context("config key `secrets`: not a valid regular expression")?,
                )
            }
            _ => crate::secrets::Detector::shared_builtin(),
        },
        normalize: super::normalize_rules(
            &args.normalize,
            &args.normalize_regex,
            file.as_ref().and_then(|f| f.normalize.as_ref()),
        )?,
    })
}

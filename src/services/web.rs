//! The config file's `services` section: search, rerank and moderation fixtures given
//! in the config rather than in a cassette.
//!
//! ```json
//! "services": {
//!   "search":   [{"match": "weather", "results": [{"title","url","content","score"}], "answer": "…"}],
//!   "rerank":   [{"match": "capital", "results": [{"index": 1, "relevance_score": 0.9}]}],
//!   "moderate": [{"match": "attack", "flagged": true, "categories": {"violence": true}}],
//!   "fixtures": [ <cassette entries, with match.endpoint "search" | "rerank" | "moderation"> ]
//! }
//! ```
//!
//! The reference's booleans (`"search": true`, ...) are accepted and change nothing:
//! the three routes are always served, with their defaults when nothing matches. Each
//! list entry becomes a cassette entry `{"match": {"endpoint", "userMessage": match},
//! "response": <the rest>}`, so matching, strict mode, the journal and `/__aimock/
//! fixtures` treat them as any fixture. `match` is a substring of the query or input,
//! case-sensitive as every `userMessage` (the reference's patterns ignore case).
//!
//! The routes themselves are provider surfaces (`providers::tavily`,
//! `providers::cohere` rerank, `providers::openai` moderations), not a mounted service:
//! they sit beside `/v2/chat` and `/v1/chat/completions` and share the pipeline's
//! matching, strict mode, recording and journal with them.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::bail;
use serde_json::{json, Map, Value};

use crate::cassette::load::LoadedFile;
use crate::cassette::model::parse_entry;
use crate::services::Service;

/// The name the section's fixtures are listed under.
pub const ORIGIN: &str = "<config services>";

/// The `CONFIGURED` table's entry: validate the section (nothing is mounted; its
/// fixtures join the cassettes through [`config_fixtures`]).
pub fn from_section(
    v: &Value,
    _config: &crate::config::Config,
) -> anyhow::Result<Vec<Arc<dyn Service>>> {
    entries(v)?;
    Ok(Vec::new())
}

/// The section's entries as cassette entries.
pub fn entries(v: &Value) -> anyhow::Result<Vec<Value>> {
    let Value::Object(m) = v else {
        bail!("must be an object (`search`, `rerank`, `moderate`, `fixtures`)");
    };
    let mut out = Vec::new();
    for (key, val) in m {
        let endpoint = match key.as_str() {
            "search" => "search",
            "rerank" => "rerank",
            "moderate" | "moderation" => "moderation",
            "fixtures" => {
                let Value::Array(list) = val else {
                    bail!("`services.fixtures` must be a list of cassette entries");
                };
                out.extend(list.iter().cloned());
                continue;
            }
            other => {
                tracing::warn!("config key `services.{other}` is not read (ignored)");
                continue;
            }
        };
        match val {
            Value::Bool(_) | Value::Null => {}
            Value::Array(list) => {
                for (i, e) in list.iter().enumerate() {
                    let Value::Object(e) = e else {
                        bail!("`services.{key}[{i}]` must be an object");
                    };
                    let mut response: Map<String, Value> = e.clone();
                    let pattern = match response.remove("match") {
                        Some(Value::String(s)) => Some(s),
                        None | Some(Value::Null) => None,
                        Some(_) => bail!("`services.{key}[{i}].match` must be a string"),
                    };
                    if endpoint != "moderation" && !response.contains_key("results") {
                        bail!("`services.{key}[{i}]` needs `results`");
                    }
                    let mut criteria = json!({"endpoint": endpoint});
                    if let Some(p) = pattern {
                        criteria["userMessage"] = p.into();
                    }
                    out.push(json!({"match": criteria, "response": response}));
                }
            }
            _ => bail!("`services.{key}` must be true or a list of fixtures"),
        }
    }
    Ok(out)
}

/// The section's fixtures as one loaded "file" placed after every cassette (lowest
/// priority), or `None` when the config has no such section. Problems are findings,
/// logged like a cassette's.
pub fn config_fixtures(config: &crate::config::Config) -> Option<LoadedFile> {
    let v = config.sections.get("services")?;
    let list = entries(v).ok()?;
    let mut lf = LoadedFile::new(&PathBuf::from(ORIGIN), (usize::MAX, Vec::new()));
    let file: Arc<str> = Arc::from(ORIGIN);
    for (i, e) in list.iter().enumerate() {
        if let Some(fx) = parse_entry(e, &file, i, &mut lf.findings) {
            lf.fixtures.push(Arc::new(fx));
        }
    }
    Some(lf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_become_endpoint_fixtures_and_booleans_nothing() {
        let v = json!({"search": [{"match": "rust", "results": []}], "rerank": true,
                       "moderate": [{"match": "bad", "flagged": true}]});
        let e = entries(&v).unwrap();
        assert_eq!(
            e,
            vec![
                json!({"match": {"endpoint": "search", "userMessage": "rust"}, "response": {"results": []}}),
                json!({"match": {"endpoint": "moderation", "userMessage": "bad"}, "response": {"flagged": true}}),
            ]
        );
        assert!(entries(&json!({"search": 3})).is_err());
        assert!(entries(&json!({"rerank": [{"match": "x"}]})).is_err());
    }
}

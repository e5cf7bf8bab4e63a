//! vcrpy (and pytest-recording, which writes vcrpy's files) YAML cassettes:
//! `interactions: [{request: {method, uri, headers, body}, response: {...}}]`.
//!
//! Two response shapes occur: vcrpy's own `{status: {code, message}, headers, body:
//! {string}}` and the httpx stubs' `{status_code, headers, content}`. Headers map a
//! name to a list of values (or one value). A body is text, `!!binary` base64 (bytes
//! that were not UTF-8: often gzip, kept compressed), or null.
//!
//! Not here: what becomes of an interaction (`super::entry_for`).

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use serde_json::Value;
use serde_norway::Value as Yaml;

use super::{gunzip_if_gzip, Exchange};

/// The tag vcrpy's `!!binary` is rewritten to before parsing: the YAML reader resolves
/// `!!binary` to the plain base64 text, which could not then be told from a text body
/// that happens to be base64, while a local tag is kept as a tag.
const BINARY_TAG: &str = "!aimock-binary";

/// The interactions of one cassette.
pub fn read(path: &Path) -> anyhow::Result<(Vec<Exchange>, Option<Value>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = text
        .replace(": !!binary", &format!(": {BINARY_TAG}"))
        .replace("- !!binary", &format!("- {BINARY_TAG}"));
    let doc: Yaml = serde_norway::from_str(&text).context("not YAML")?;
    let list = doc
        .get("interactions")
        .and_then(Yaml::as_sequence)
        .context("no `interactions` list: not a vcrpy cassette")?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    let mut out = Vec::new();
    for (i, it) in list.iter().enumerate() {
        let origin = format!("{name} #{i}");
        let (Some(req), Some(resp)) = (it.get("request"), it.get("response")) else {
            out.push(Exchange {
                origin,
                skip: Some("no `request` and `response` in this interaction".into()),
                ..Default::default()
            });
            continue;
        };
        let request_headers = headers(req.get("headers"));
        let response_headers = headers(resp.get("headers"));
        let status = resp
            .get("status")
            .and_then(|s| s.get("code"))
            .or_else(|| resp.get("status_code"))
            .and_then(Yaml::as_u64)
            .unwrap_or(200) as u16;
        let body = resp
            .get("body")
            .map(|b| b.get("string").unwrap_or(b))
            .or_else(|| resp.get("content"));
        out.push(Exchange {
            origin,
            method: scalar(req.get("method")).unwrap_or_else(|| "GET".into()),
            url: scalar(req.get("uri")).unwrap_or_default(),
            request_body: gunzip_if_gzip(bytes(
                req.get("body").map(|b| b.get("string").unwrap_or(b)),
            )),
            request_headers,
            status,
            response_headers,
            response_body: gunzip_if_gzip(bytes(body)),
            synthetic: false,
            skip: None,
        });
    }
    Ok((out, None))
}

fn scalar(v: Option<&Yaml>) -> Option<String> {
    match v? {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A body as bytes: text as it is, `!!binary` decoded, null as nothing.
fn bytes(v: Option<&Yaml>) -> Vec<u8> {
    match v {
        Some(Yaml::String(s)) => s.clone().into_bytes(),
        Some(Yaml::Tagged(t)) if t.tag == BINARY_TAG.trim_start_matches('!') => match &t.value {
            Yaml::String(s) => {
                let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .unwrap_or_else(|_| s.clone().into_bytes())
            }
            _ => Vec::new(),
        },
        Some(Yaml::Tagged(t)) => bytes(Some(&t.value)),
        _ => Vec::new(),
    }
}

/// `{Name: [v, ...]}` or `{Name: v}` as pairs.
fn headers(v: Option<&Yaml>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(Yaml::Mapping(m)) = v else {
        return out;
    };
    for (k, v) in m {
        let Some(k) = scalar(Some(k)) else { continue };
        match v {
            Yaml::Sequence(vs) => {
                for v in vs {
                    if let Some(v) = scalar(Some(v)) {
                        out.push((k.clone(), v));
                    }
                }
            }
            other => {
                if let Some(v) = scalar(Some(other)) {
                    out.push((k, v));
                }
            }
        }
    }
    out
}

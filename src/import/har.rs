//! HAR 1.2 files, as Polly.js writes them (`log.entries[].request/response`), and any
//! other HAR of API calls. A body is `postData.text` / `content.text`; with
//! `encoding: "base64"` it is base64, and Polly writes a binary reply as a JSON array
//! of base64 chunks in that field (the node-http adapter's chunks, often a gzip
//! stream), which are decoded and joined.
//!
//! Not here: what becomes of an entry (`super::entry_for`).

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use serde_json::Value;

use super::{gunzip_if_gzip, Exchange};

/// The entries of one HAR file.
pub fn read(path: &Path) -> anyhow::Result<(Vec<Exchange>, Option<Value>)> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: Value = serde_json::from_slice(&text).context("not JSON")?;
    let entries = doc
        .pointer("/log/entries")
        .and_then(Value::as_array)
        .context("no `log.entries`: not a HAR file")?;
    let name = path
        .parent()
        .and_then(|p| p.file_name())
        .filter(|_| path.file_stem().is_some_and(|s| s == "recording"))
        .or_else(|| path.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("?");
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let req = &e["request"];
        let resp = &e["response"];
        out.push(Exchange {
            origin: format!("{name} #{i}"),
            method: req["method"].as_str().unwrap_or("GET").to_string(),
            url: req["url"].as_str().unwrap_or_default().to_string(),
            request_headers: headers(&req["headers"]),
            request_body: gunzip_if_gzip(body(&req["postData"])),
            status: resp["status"].as_u64().unwrap_or(200) as u16,
            response_headers: headers(&resp["headers"]),
            response_body: gunzip_if_gzip(body(&resp["content"])),
            synthetic: false,
            skip: None,
        });
    }
    Ok((out, None))
}

fn headers(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| {
                    Some((
                        h["name"].as_str()?.to_string(),
                        h["value"].as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A `postData` or `content` object's body as bytes.
fn body(v: &Value) -> Vec<u8> {
    let Some(text) = v["text"].as_str() else {
        return Vec::new();
    };
    if v["encoding"].as_str() != Some("base64") {
        return text.as_bytes().to_vec();
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let chunks: Vec<String> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(a)) => a
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect(),
        _ => vec![text.to_string()],
    };
    let mut out = Vec::new();
    for c in chunks {
        match b64.decode(c.trim()) {
            Ok(b) => out.extend(b),
            Err(e) => {
                tracing::warn!(error = %e, "a base64 HAR body does not decode; kept as text");
                return text.as_bytes().to_vec();
            }
        }
    }
    out
}

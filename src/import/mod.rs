//! `aimock import FORMAT PATH... --out DIR`: other tools' recordings as aimock
//! cassettes. Each format's reader (`vcr`, `har`, `convert`) turns its files into
//! [`Exchange`]s, one recorded HTTP call each; [`entry_for`] turns an exchange into a
//! fixture exactly as `record` turns a live capture into one: the request parsed by
//! the provider the path routes to, the reply collapsed by that provider
//! (`Surface::collapse`), the match built like a recording's, every part through the
//! credential detector, and a raw exchange fixture where the request or the reply is
//! in no shape aimock reads. One cassette file is written per input file.
//!
//! Not here: serving, normalisation rules (an imported match is the request as it was
//! recorded), video jobs (a job is several calls that only make sense together), and
//! anything not sent to a model provider.
//!
//! Rejected alternative: importing each tool's body verbatim as a raw fixture. That
//! would replay the same bytes, but a raw fixture matches on a digest of the exact
//! request body, so a test that changes one parameter misses, and nothing in it can be
//! edited; collapsing gives the same editable fixtures `record` writes.

pub mod convert;
pub mod har;
pub mod vcr;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};

use crate::cassette::raw::body_digest;
use crate::cassette::raw::RawKey;
use crate::providers::common::RequestParts;
use crate::providers::Surface;
use crate::record::{fixture_entry, raw_entry, stored, BuiltEntry};
use crate::secrets::Detector;
use crate::server::router::{route, Route};

/// The formats `aimock import` reads: the command line's own enum (declared with the
/// other arguments, so `cli` does not depend on the importer it configures).
pub use crate::cli::ImportFormat as Format;

/// One recorded HTTP call, decoded (bodies as the client saw them).
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    /// Where it is in its file, for the summary (`file.yaml #2`).
    pub origin: String,
    /// HTTP method.
    pub method: String,
    /// The URL as recorded (absolute, or a path).
    pub url: String,
    /// Request headers, in order.
    pub request_headers: Vec<(String, String)>,
    /// The request body.
    pub request_body: Vec<u8>,
    /// Response status.
    pub status: u16,
    /// Response headers, in order.
    pub response_headers: Vec<(String, String)>,
    /// The response body (decompressed).
    pub response_body: Vec<u8>,
    /// Made up from a mock's config rather than recorded: its match keeps only what
    /// the source said (the user message), not the turn state of a made-up request.
    pub synthetic: bool,
    /// Already known not to be importable, and why (a reader's own finding).
    pub skip: Option<String>,
}

/// What became of one exchange.
#[derive(Debug)]
pub enum Outcome {
    /// An editable fixture.
    Fixture(BuiltEntry),
    /// A raw exchange fixture, and why it is raw.
    Raw(BuiltEntry, String),
    /// Not imported, and why.
    Skipped(String),
}

/// Options of one import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Import calls to any host whose path aimock serves (OpenAI-compatible gateways),
    /// not only the providers' own hosts and loopback.
    pub any_host: bool,
    /// Keep date suffixes in model names (as `record --record-full-model-version`).
    pub full_model_version: bool,
}

/// Hosts whose calls are imported without `--any-host`: the providers aimock serves.
fn provider_host(host: &str) -> bool {
    const EXACT: &[&str] = &[
        "api.openai.com",
        "api.anthropic.com",
        "generativelanguage.googleapis.com",
        "api.cohere.com",
        "api.cohere.ai",
        "api.tavily.com",
        "localhost",
        "127.0.0.1",
        "[::1]",
    ];
    const SUFFIX: &[&str] = &[
        ".openai.azure.com",
        "aiplatform.googleapis.com",
        ".amazonaws.com",
    ];
    EXACT.contains(&host) || SUFFIX.iter().any(|s| host.ends_with(s))
}

/// Split a recorded URL into host (lower case, no port) and path-and-query.
fn split_url(url: &str) -> (Option<String>, String) {
    let Some((_, rest)) = url.split_once("://") else {
        return (None, url.to_string());
    };
    let (authority, pq) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if authority.starts_with('[') {
        authority.split(']').next().map(|h| format!("{h}]"))
    } else {
        authority.split(':').next().map(str::to_string)
    };
    (host.map(|h| h.to_ascii_lowercase()), pq.to_string())
}

/// The fixture for one exchange, built as `record` builds one for a live call.
pub fn entry_for(x: &Exchange, secrets: &Detector, opts: &Options) -> Outcome {
    let (host, pq) = split_url(&x.url);
    if let Some(h) = &host {
        if !opts.any_host && !provider_host(h) {
            return Outcome::Skipped(format!(
                "{h} is not a model provider's host (--any-host imports it anyway)"
            ));
        }
    }
    let (path, query) = match pq.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (pq.clone(), None),
    };
    let method = match http::Method::from_bytes(x.method.to_ascii_uppercase().as_bytes()) {
        Ok(m) => m,
        Err(_) => return Outcome::Skipped(format!("unreadable method {:?}", x.method)),
    };
    let surface = match route(&method, &path) {
        Route::Provider(s) => s,
        _ => {
            return Outcome::Skipped(format!(
                "{method} {path} is not a provider call aimock serves"
            ))
        }
    };
    // A reader's own finding comes after the path's: "not served" is the plainer why.
    if let Some(why) = &x.skip {
        return Outcome::Skipped(why.clone());
    }
    let mut headers = HeaderMap::new();
    for (k, v) in &x.request_headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.append(k, v);
        }
    }
    let uri = match pq.parse::<http::Uri>() {
        Ok(u) => u,
        Err(e) => return Outcome::Skipped(format!("unreadable URL {:?}: {e}", x.url)),
    };
    let mut builder = http::Request::builder().method(method.clone()).uri(uri);
    if let Some(h) = builder.headers_mut() {
        *h = headers.clone();
    }
    let Ok(req) = builder.body(()) else {
        return Outcome::Skipped(format!("unreadable request {:?}", x.url));
    };
    let (parts, ()) = req.into_parts();
    let body = Bytes::from(x.request_body.clone());
    let source = stored::Source::new(&parts, body.clone());
    let key = RawKey {
        method: method.as_str().to_string(),
        path: path.clone(),
        digest: body_digest(&body),
    };
    let rp = RequestParts {
        path: &path,
        query: query.as_deref(),
        headers: &headers,
    };
    let content_type = reply_type(x);
    let req = match surface.parse_request(&rp, &body) {
        Ok(r) => r,
        Err(e) => {
            let reason = format!("the request does not parse: {}", e.message);
            return raw_outcome(x, &surface, &key, source.to_json(), secrets, reason);
        }
    };
    if surface.job_step(&req).is_some() {
        return Outcome::Skipped(
            "a video job's call (jobs are several calls; record them with `aimock record`)".into(),
        );
    }
    let collapsed = surface.collapse(x.status, &content_type, &x.response_body);
    if x.status < 400 && collapsed.is_empty() && !x.response_body.is_empty() {
        let reason = format!(
            "the {} reply (content type {content_type}) is in no shape aimock reads into an editable fixture",
            surface.provider()
        );
        return raw_outcome(x, &surface, &key, source.to_json(), secrets, reason);
    }
    let (response, warnings) = collapsed.to_response();
    // A made-up request keeps no stored copy: there was no such request to resend.
    let stored = if x.synthetic {
        Value::Null
    } else {
        source.to_json()
    };
    let mut built = fixture_entry(
        &req,
        stored,
        response,
        None,
        secrets,
        opts.full_model_version,
    );
    if x.synthetic {
        if let Some(m) = built.entry.get_mut("match").and_then(Value::as_object_mut) {
            m.remove("turnIndex");
            m.remove("hasToolResult");
        }
    }
    built.warnings.extend(warnings);
    if built.empty {
        return Outcome::Skipped("nothing in the request to match on".into());
    }
    Outcome::Fixture(built)
}

/// The raw fixture for an exchange: the body split into its SSE events when it is a
/// stream, so a strict replay sends the same frames.
fn raw_outcome(
    x: &Exchange,
    surface: &Surface,
    key: &RawKey,
    stored: Value,
    secrets: &Detector,
    reason: String,
) -> Outcome {
    let mut headers = HeaderMap::new();
    for (k, v) in &x.response_headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.append(k, v);
        }
    }
    let body = Bytes::from(x.response_body.clone());
    let stream = reply_type(x).contains("event-stream");
    let chunks: Vec<(usize, std::time::Duration)> = if stream {
        event_ends(&body)
            .into_iter()
            .map(|e| (e, std::time::Duration::ZERO))
            .collect()
    } else {
        Vec::new()
    };
    let mut changed = Vec::new();
    let raw = crate::record::raw::reply(
        x.status,
        &headers,
        &body,
        &chunks,
        stream,
        secrets,
        &mut changed,
    );
    tracing::debug!(provider = surface.provider(), %reason, "imported raw");
    Outcome::Raw(
        raw_entry(key, stored, raw, changed, &reason, secrets),
        reason,
    )
}

/// The end offsets of each SSE event (after its blank line), the last one at the end.
fn event_ends(body: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut i = 0;
    while i + 1 < body.len() {
        if body[i] == b'\n' && body[i + 1] == b'\n' {
            ends.push(i + 2);
            i += 2;
        } else if body[i..].starts_with(b"\r\n\r\n") {
            ends.push(i + 4);
            i += 4;
        } else {
            i += 1;
        }
    }
    if ends.last() != Some(&body.len()) && !body.is_empty() {
        ends.push(body.len());
    }
    ends
}

/// The reply's content type: as recorded, except that a body that is plainly an SSE
/// stream is one whatever the header says (vcrpy's httpx stubs have kept a stream
/// under `application/json`).
fn reply_type(x: &Exchange) -> String {
    let recorded = header(&x.response_headers, "content-type").unwrap_or("application/json");
    let start = x
        .response_body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |i| &x.response_body[i..]);
    if !recorded.contains("event-stream")
        && (start.starts_with(b"data:") || start.starts_with(b"event:"))
    {
        return "text/event-stream".into();
    }
    recorded.to_string()
}

/// The first value of header `name` (any case).
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `body` decompressed when it is gzip (by its magic bytes, not the header: vcrpy's
/// httpx stubs keep the header but store the decoded body).
pub(crate) fn gunzip_if_gzip(body: Vec<u8>) -> Vec<u8> {
    if body.len() < 2 || body[0] != 0x1f || body[1] != 0x8b {
        return body;
    }
    let mut out = Vec::new();
    match flate2::read::MultiGzDecoder::new(&body[..]).read_to_end(&mut out) {
        Ok(_) => out,
        Err(e) => {
            tracing::warn!(error = %e, "a gzip body does not decompress; kept as recorded");
            body
        }
    }
}

/// One input file's result.
#[derive(Debug, Default)]
pub struct FileReport {
    /// The input file.
    pub input: PathBuf,
    /// The cassette written, if anything was imported.
    pub output: Option<PathBuf>,
    /// Editable fixtures written.
    pub fixtures: usize,
    /// Raw fixtures written, each with why it is raw.
    pub raw: Vec<(String, String)>,
    /// Exchanges not imported, each with why.
    pub skipped: Vec<(String, String)>,
    /// Set when the file could not be read at all.
    pub error: Option<String>,
}

/// The whole import's result.
#[derive(Debug, Default)]
pub struct Summary {
    /// Per input file.
    pub files: Vec<FileReport>,
}

impl Summary {
    /// Fixtures (editable and raw) written in all.
    pub fn imported(&self) -> usize {
        self.files.iter().map(|f| f.fixtures + f.raw.len()).sum()
    }

    /// Whether any file could not be read.
    pub fn has_errors(&self) -> bool {
        self.files.iter().any(|f| f.error.is_some())
    }

    /// The summary printed after an import.
    pub fn write_text(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut why: BTreeMap<String, usize> = BTreeMap::new();
        for f in &self.files {
            match (&f.error, &f.output) {
                (Some(e), _) => writeln!(out, "{}: not read: {e}", f.input.display())?,
                (None, Some(o)) => writeln!(
                    out,
                    "{}: {} fixture(s), {} raw, {} skipped -> {}",
                    f.input.display(),
                    f.fixtures,
                    f.raw.len(),
                    f.skipped.len(),
                    o.display()
                )?,
                (None, None) => writeln!(
                    out,
                    "{}: nothing imported, {} skipped",
                    f.input.display(),
                    f.skipped.len()
                )?,
            }
            for (at, reason) in &f.raw {
                writeln!(out, "  raw {at}: {reason}")?;
            }
            for (at, reason) in &f.skipped {
                writeln!(out, "  skipped {at}: {reason}")?;
                *why.entry(reason.clone()).or_default() += 1;
            }
        }
        let raw: usize = self.files.iter().map(|f| f.raw.len()).sum();
        let skipped: usize = self.files.iter().map(|f| f.skipped.len()).sum();
        writeln!(
            out,
            "imported {} ({} editable, {raw} raw), skipped {skipped}, from {} file(s)",
            self.imported(),
            self.imported() - raw,
            self.files.len()
        )
    }
}

/// The input files under `paths` for `format` (directories walked, sorted).
fn inputs(format: Format, paths: &[PathBuf]) -> Vec<PathBuf> {
    let wanted = |p: &Path| {
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        match format {
            Format::Vcrpy | Format::MockLlm => matches!(ext.as_str(), "yaml" | "yml"),
            Format::Har => matches!(ext.as_str(), "har" | "json"),
            Format::Vidaimock => convert::is_template(&ext),
        }
    };
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found);
            found.retain(|f| wanted(f));
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        // Hidden files are notes beside the recordings (provenance, editor files).
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The cassette name for an input: its stem, or its folder's name for a file named
/// like every other of its tool (Polly's `recording.har`), made unique in `taken`.
fn output_name(input: &Path, taken: &mut Vec<String>) -> String {
    let stem = input
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("imported");
    let base = if stem == "recording" {
        input
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
            .unwrap_or(stem)
    } else {
        stem
    };
    let base: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    taken.push(name.clone());
    name
}

/// Import every file under `paths` in `format`, writing one cassette per input file
/// into `out`.
pub fn run(
    format: Format,
    paths: &[PathBuf],
    out: &Path,
    secrets: &Detector,
    opts: &Options,
) -> anyhow::Result<Summary> {
    std::fs::create_dir_all(out)?;
    let mut summary = Summary::default();
    let mut taken = Vec::new();
    for input in inputs(format, paths) {
        let mut report = FileReport {
            input: input.clone(),
            ..Default::default()
        };
        let read = match format {
            Format::Vcrpy => vcr::read(&input),
            Format::Har => har::read(&input),
            Format::Vidaimock => convert::read_vidaimock(&input),
            Format::MockLlm => convert::read_mockllm(&input),
        };
        let (exchanges, extra) = match read {
            Ok(r) => r,
            Err(e) => {
                report.error = Some(format!("{e:#}"));
                summary.files.push(report);
                continue;
            }
        };
        let mut fixtures = Vec::new();
        let mut warnings: Vec<String> = Vec::new();
        for x in &exchanges {
            let mut keep = |b: BuiltEntry, w: &mut Vec<String>| {
                for s in b.warnings {
                    if !w.contains(&s) {
                        w.push(s);
                    }
                }
                fixtures.push(b.entry);
            };
            match entry_for(x, secrets, opts) {
                Outcome::Fixture(b) => {
                    report.fixtures += 1;
                    keep(b, &mut warnings);
                }
                Outcome::Raw(b, why) => {
                    report.raw.push((x.origin.clone(), why));
                    keep(b, &mut warnings);
                }
                Outcome::Skipped(why) => report.skipped.push((x.origin.clone(), why)),
            }
        }
        let name = output_name(&input, &mut taken);
        if !fixtures.is_empty() {
            let mut doc = serde_json::Map::new();
            doc.insert("fixtures".into(), Value::Array(fixtures));
            if !warnings.is_empty() {
                doc.insert("_warnings".into(), json!(warnings));
            }
            doc.insert(
                "_imported".into(),
                json!({"format": format_name(format), "from": input.display().to_string()}),
            );
            let path = out.join(format!("{name}.json"));
            write_json(&path, &Value::Object(doc))?;
            report.output = Some(path);
        }
        if let Some(section) = extra {
            // mock-llm's MCP tools: an `mcp` section file for `--mcp FILE`.
            let path = out.join(format!("{name}.mcp.json"));
            write_json(&path, &section)?;
        }
        summary.files.push(report);
    }
    Ok(summary)
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Vcrpy => "vcrpy",
        Format::Har => "har",
        Format::Vidaimock => "vidaimock",
        Format::MockLlm => "mock-llm",
    }
}

fn write_json(path: &Path, v: &Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(v)?;
    text.push('\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_and_path() {
        assert_eq!(
            split_url("https://api.openai.com/v1/chat/completions?x=1"),
            (
                Some("api.openai.com".into()),
                "/v1/chat/completions?x=1".into()
            )
        );
        assert_eq!(
            split_url("http://LOCALHOST:11434/api/chat"),
            (Some("localhost".into()), "/api/chat".into())
        );
        assert_eq!(split_url("/v1/messages"), (None, "/v1/messages".into()));
        assert_eq!(
            split_url("http://[::1]:8080"),
            (Some("[::1]".into()), "/".into())
        );
    }

    #[test]
    fn sse_events_end_after_their_blank_line() {
        assert_eq!(event_ends(b"data: a\n\ndata: b\n\n"), vec![9, 18]);
        assert_eq!(event_ends(b"data: a\n\ndata: b"), vec![9, 16]);
        assert!(event_ends(b"").is_empty());
    }

    #[test]
    fn a_non_provider_host_and_an_unserved_path_are_skipped_with_why() {
        let x = Exchange {
            method: "GET".into(),
            url: "https://example.com/v1/chat/completions".into(),
            status: 200,
            ..Default::default()
        };
        let d = Detector::builtin();
        match entry_for(&x, d, &Options::default()) {
            Outcome::Skipped(w) => assert!(w.contains("example.com"), "{w}"),
            o => panic!("{o:?}"),
        }
        let x = Exchange {
            method: "GET".into(),
            url: "https://api.openai.com/v1/files".into(),
            status: 200,
            ..Default::default()
        };
        match entry_for(&x, d, &Options::default()) {
            Outcome::Skipped(w) => assert!(w.contains("/v1/files"), "{w}"),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn gzip_bodies_are_decompressed_and_others_kept() {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b"{\"a\":1}").unwrap();
        let gz = e.finish().unwrap();
        assert_eq!(gunzip_if_gzip(gz), b"{\"a\":1}");
        assert_eq!(gunzip_if_gzip(b"plain".to_vec()), b"plain");
        // Truncated gzip: kept as it was rather than lost.
        assert_eq!(gunzip_if_gzip(vec![0x1f, 0x8b, 8]), vec![0x1f, 0x8b, 8]);
    }
}

//! Every real capture in `tests/data/golden/` that has a `.meta.json`, through record
//! mode and back: the fake upstream serves the capture's bytes, aimock records the
//! request its meta describes, and the test holds three things for each:
//!
//! - the client got the upstream's status and body byte for byte (relay is lossless);
//! - the recording on disk holds none of the credentials the client sent and nothing a
//!   secret scanner would take for a key;
//! - a strict replay of that recording alone answers the same request with the same
//!   status and what the SDK ends up with is the same: the SDK view of
//!   [`golden_view`] (a stream assembled as the provider's SDK assembles it, a JSON
//!   body as its value, null members read as absent), with only the fields listed in
//!   [`golden_view::REGENERATED`] left out. Recorded ids, creation times and models
//!   must survive (the collapse pins them).
//!
//! Where today's collapse does not keep everything, the capture is listed in
//! [`KNOWN_LOSSY`] with what the replay loses and why it is left; a capture that
//! loses content and is not listed fails the test, so a regression cannot hide.
//! Entries that have become lossless are printed, so the list can shrink.
//! `GOLDEN_PRINT=1` prints every lossy capture with the difference found.
//!
//! Not here: per-provider assertions about what a collapsed fixture holds (the
//! `record*.rs` suites), official-SDK replays (`tests/e2e`).
//!
//! One record server serves every capture in turn (its run-time fixtures are cleared
//! between captures, and each capture's recordings are moved to their own directory);
//! each replay runs on its own strict server so two captures with the same request
//! cannot answer for each other. The rejected alternative, one replay server over every
//! recording, makes such pairs (there is one) ambiguous.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aimock::secrets::fakes::credentials;
use aimock::secrets::Detector;
use serde_json::Value;

use crate::golden_view;
use crate::support::{request, TestServer};
use crate::upstream::{FakeUpstream, Script};

/// Captures of surfaces aimock does not serve: nothing routes them, so they are not
/// recorded. Each says why.
const NOT_SERVED: &[(&str, &str)] = &[
    (
        "cohere/chat-v1-stream-json-lines.ndjson",
        "Cohere v1 /v1/chat is not served (only v2)",
    ),
    (
        "cohere/embed-v1-int8.json",
        "Cohere v1 /v1/embed is not served (only v2)",
    ),
];

/// Captures whose path has a prefix aimock does not route: the client calls the path
/// without it and the upstream base carries it (an OpenAI-compatible base URL).
const UPSTREAM_PREFIX: &[(&str, &str)] = &[("openrouter/responses-stream-reasoning.sse", "/api")];

/// Captures whose strict replay does not yet give the SDK what the provider sent:
/// what is lost, and why it is left.
const KNOWN_LOSSY: &[(&str, &str)] = &[
    ("anthropic/messages-json-text.json",
     "usage.cache_creation_input_tokens/cache_read_input_tokens are null in this older capture; the replay writes 0 (the SDK reads None vs 0). Left: a recorded null does not survive into the render (not traced yet)"),
    ("anthropic/messages-stream-text.sse",
     "message_start usage.cache_*_input_tokens null in the capture, 0 in the replay (as messages-json-text.json)"),
    ("anthropic/messages-stream-tool-use.sse",
     "message_start usage.cache_*_input_tokens null in the capture, 0 in the replay (as messages-json-text.json)"),
    ("azure-openai/chat-stream-content-filter.sse",
     "Azure's deltas carry no role; the replay's first delta says role 'assistant' (the plain chat stream render always writes it)"),
    ("bedrock/converse-json-guardrail-intervened.json",
     "trace.guardrail (the guardrail assessment) is lost: the Converse collapse has no place for trace"),
    ("bedrock/converse-json-reasoning-redacted.json",
     "usage cacheRead/WriteInputTokens (and their *Count twins) are lost: the Converse native layer keeps content blocks, not usage details"),
    ("bedrock/converse-stream-text.eventstream",
     "metadata.usage.serverToolUsage is lost (as converse-json-reasoning-redacted.json)"),
    ("bedrock/converse-stream-tool-use.eventstream",
     "metadata.usage.serverToolUsage is lost (as converse-json-reasoning-redacted.json)"),
    ("bedrock/invoke-nova-lite.json",
     "amazon-bedrock-guardrailAction and amazon-bedrock-trace (guardrail assessment) are lost: the invoke family collapse has no place for them"),
    ("bedrock/invoke-stream-anthropic-messages.eventstream",
     "the message id is regenerated: the invoke family collapse does not pin it (direct Anthropic does)"),
    ("bedrock/invoke-stream-anthropic-thinking.eventstream",
     "usage cache_creation breakdown and cache counts are lost: the invoke family collapse reads the Anthropic events itself, without the Anthropic native layer"),
    ("bedrock/invoke-stream-nova.eventstream",
     "amazon-bedrock-trace / guardrailAction and the usage cache counts are lost (as invoke-nova-lite.json)"),
    ("bedrock/invoke-stream-titan-text.eventstream",
     "amazon-bedrock-trace / guardrailAction are lost (as invoke-nova-lite.json)"),
    ("cohere/embed-v2-float-documents.json",
     "meta.billed_units.image_tokens is lost: an embedding fixture keeps vectors, not meta"),
    ("cohere/embed-v2.json",
     "meta.billed_units.input_tokens is re-estimated (as embed-v2-float-documents.json)"),
    ("gemini/generate-content-json.json",
     "usageMetadata.thoughtsTokenCount is lost: the Gemini native layer is made for rich parts only, not usage details"),
    ("gemini/stream-generate-content-sse-text.sse",
     "usageMetadata.candidatesTokensDetails is lost (as generate-content-json.json)"),
    ("groq/chat-stream-compound-web-search.sse",
     "delta.reasoning replays as reasoning_content (the chat render has one name for reasoning text); the compound model's reasoning is therefore under another key"),
    ("mistral/chat-json-text.json",
     "the plain chat render writes message.annotations [] (as OpenAI does); Mistral sends none (the SDK reads None vs [])"),
    ("mistral/chat-stream-magistral-thinking.sse",
     "usage is lost: Mistral sends it in the last chunk unasked; the replay writes usage only when the request asks stream_options.include_usage"),
    ("mistral/chat-stream-text.sse",
     "usage is lost (as chat-stream-magistral-thinking.sse)"),
    ("ollama/api-generate-json.json",
     "context (the conversation's token ids) is re-estimated: the fixture has no place for it"),
    ("ollama/api-generate-stream.ndjson",
     "context on the last line is re-estimated (as api-generate-json.json)"),
    ("ollama/v1-chat-json-reasoning-tool-call.json",
     "message.reasoning replays as reasoning_content, and the empty content string is dropped"),
    ("ollama/v1-chat-json-text.json",
     "the plain chat render writes message.annotations [] (as OpenAI does); Ollama's /v1 sends none"),
    ("openai/embeddings-base64.json",
     "model: the recorded 'text-embedding-ada-002-v2' replays as the requested model (an embedding fixture has no envelope)"),
    ("openai/embeddings-float.json",
     "model: as embeddings-base64.json"),
    ("openai/responses-error-400-model-not-found.json",
     "error.param is lost: an error fixture keeps message, type and code"),
    ("openai/responses-json-function-call.json",
     "the render writes top_logprobs 0; this older capture has no top_logprobs"),
    ("openai/responses-json-reasoning.json",
     "a reasoning item with an empty summary (and no encrypted_content) is dropped: the neutral reasoning is empty, so nothing is written"),
    ("openai/responses-json-text.json",
     "the render writes output_text.logprobs []; this older capture has none"),
    ("openai/responses-stream-code-interpreter.sse",
     "the reasoning item's encrypted_content in output_item.done differs from the recorded one. Left: not traced yet (the final response object matches)"),
    ("openai/responses-stream-function-call.sse",
     "the render writes background false; this older capture has no background"),
    ("openai/responses-stream-mcp.sse",
     "the reasoning item's encrypted_content in output_item.done differs (as responses-stream-code-interpreter.sse)"),
    ("openai/responses-stream-reasoning-then-function-call.sse",
     "the reasoning item with an empty summary is dropped with its encrypted_content (as responses-json-reasoning.json)"),
    ("openai/responses-stream-text.sse",
     "the render writes output_text.logprobs []; this older capture has none"),
    ("openai/responses-stream-web-search.sse",
     "the reasoning item's encrypted_content in output_item.done differs (as responses-stream-code-interpreter.sse)"),
    ("openrouter/chat-error-429-provider.json",
     "error.metadata (provider_name, raw, user_id) is lost: an error fixture keeps message, type and code"),
    ("openrouter/chat-json-byok.json",
     "the plain chat render writes message.annotations [] (as OpenAI does); this OpenRouter reply has none"),
    ("openrouter/chat-json-whitespace-keepalive.json",
     "message.reasoning replays as reasoning_content (the chat render has one name for reasoning text)"),
    ("openrouter/chat-stream-in-band-error.sse",
     "the in-band error replays in band now (a 200 stream, the error chunk before [DONE]); delta.reasoning replays as reasoning_content (as chat-stream-reasoning-details.sse)"),
    ("openrouter/chat-stream-reasoning-details.sse",
     "delta.reasoning replays as reasoning_content (reasoning_details are kept; the plain reasoning text is under another key)"),
    ("openrouter/chat-stream-web-search-annotations.sse",
     "choices[].native_finish_reason is regenerated from the finish reason ('stop' recorded, another replayed)"),
    ("openrouter/responses-stream-reasoning.sse",
     "the reasoning item's reasoning_text content parts are lost (only summaries are kept), and with them the SDK-visible output_text"),
    ("together/chat-json-text.json",
     "the capture's message.tool_calls is an empty list; the replay omits it (the SDK reads [] vs None)"),
    ("vertex/generate-content-json.json",
     "candidate avgLogprobs is lost (the Gemini native layer is made for rich parts only)"),
];

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden");

/// The pattern the repository's pre-stop hook rejects.
const HOOK_KEY: &str = r"sk-(proj-|ant-)?[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}";

struct Capture {
    /// `<provider>/<file>` under the golden directory.
    name: String,
    meta: Value,
    body: Vec<u8>,
}

impl Capture {
    fn ext(&self) -> &str {
        Path::new(&self.name)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
    }
    fn provider(&self) -> &str {
        self.name.split('/').next().unwrap_or("")
    }
    fn status(&self) -> u16 {
        self.meta["response"]["status"].as_u64().unwrap_or(200) as u16
    }
    fn prefix(&self) -> &'static str {
        UPSTREAM_PREFIX
            .iter()
            .find(|(n, _)| *n == self.name)
            .map_or("", |(_, p)| p)
    }
    /// The path and query the client calls.
    fn client_path(&self) -> String {
        let path = self.meta["request"]["path"].as_str().expect("request.path");
        let path = path.strip_prefix(self.prefix()).unwrap_or(path);
        match self.meta["request"]["query"].as_str() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        }
    }
    /// The path the upstream sees (what the fake is scripted on).
    fn upstream_path(&self) -> String {
        self.meta["request"]["path"]
            .as_str()
            .expect("request.path")
            .to_string()
    }
    /// The request body: the one the cassette stored, or (when it stored none) a
    /// minimal request of the same provider that asks for a stream.
    fn request_body(&self) -> Vec<u8> {
        match &self.meta["request"]["body"] {
            Value::Null if self.provider() == "anthropic" => {
                serde_json::to_vec(&serde_json::json!({
                    "model": "claude-sonnet-4-5",
                    "max_tokens": 64,
                    "stream": true,
                    "messages": [{"role": "user", "content": "hello"}],
                }))
                .unwrap()
            }
            Value::Null => b"{}".to_vec(),
            v => serde_json::to_vec(v).unwrap(),
        }
    }
    fn script(&self) -> Script {
        let ct = self.meta["response"]["content_type"]
            .as_str()
            .unwrap_or("application/json");
        let ct: &'static str = Box::leak(ct.to_string().into_boxed_str());
        let mut s = Script::body(self.status(), ct, self.body.clone());
        if self.ext() != "json" {
            // A stream arrives in pieces; the relay must not depend on frame boundaries.
            s = s.chunked(1500, Duration::ZERO);
        }
        if let Some(t) = self.meta["response"]["recorded_headers"]["x-amzn-errortype"].as_str() {
            let t: &'static str = Box::leak(t.to_string().into_boxed_str());
            s.headers.push(("x-amzn-errortype", t));
        }
        s
    }
}

fn captures() -> Vec<Capture> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(GOLDEN).expect("golden dir") {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let Some(fname) = f.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(body_name) = fname.strip_suffix(".meta.json") else {
                continue;
            };
            let meta: Value = serde_json::from_slice(&std::fs::read(&f).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let provider = dir.file_name().unwrap().to_str().unwrap();
            let body = std::fs::read(dir.join(body_name)).expect("capture body");
            out.push(Capture {
                name: format!("{provider}/{body_name}"),
                meta,
                body,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The credentials the client sends, by the provider's own header: none may reach the
/// recording.
struct Creds {
    openai: String,
    anthropic: String,
    google: String,
    google_oauth: String,
    aws_key_id: String,
    cohere: String,
}

impl Creds {
    fn new() -> Creds {
        let f = credentials();
        let get = |kind: &str| {
            f.iter()
                .find(|c| c.kind == kind)
                .unwrap_or_else(|| panic!("no fake {kind}"))
                .secret
                .clone()
        };
        Creds {
            openai: get("OpenAI project"),
            anthropic: get("Anthropic"),
            google: get("Google API"),
            google_oauth: get("Google OAuth"),
            aws_key_id: get("AWS access key id"),
            cohere: get("Cohere"),
        }
    }
    fn all(&self) -> [&str; 6] {
        [
            &self.openai,
            &self.anthropic,
            &self.google,
            &self.google_oauth,
            &self.aws_key_id,
            &self.cohere,
        ]
    }
    fn headers(&self, provider: &str) -> Vec<(String, String)> {
        let bearer = |k: &str| ("authorization".to_string(), format!("Bearer {k}"));
        match provider {
            "anthropic" => vec![
                ("x-api-key".into(), self.anthropic.clone()),
                ("anthropic-version".into(), "2023-06-01".into()),
            ],
            "gemini" => vec![("x-goog-api-key".into(), self.google.clone())],
            "vertex" => vec![bearer(&self.google_oauth)],
            "bedrock" => vec![(
                "authorization".into(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={}/20250101/us-east-1/bedrock/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature={}",
                    self.aws_key_id,
                    "0123456789abcdef".repeat(4)
                ),
            )],
            "cohere" => vec![bearer(&self.cohere)],
            "azure-openai" => vec![("api-key".into(), self.openai.clone())],
            _ => vec![bearer(&self.openai)],
        }
    }
}

/// Every file under `dir`, as text.
fn files_text(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_text(&p));
        } else {
            out.push((p.clone(), std::fs::read_to_string(&p).unwrap_or_default()));
        }
    }
    out
}

/// Call `f` on every string in `v`, keys included.
fn for_each_string(v: &Value, f: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|x| for_each_string(x, f)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            f(k);
            for_each_string(x, f)
        }),
        _ => {}
    }
}

/// Object keys and `type` values anywhere in a JSON value: what a replay can be seen
/// to have lost without caring about ids, timestamps or chunking.
fn kinds(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.insert(k.clone());
                if k == "type" {
                    if let Some(t) = x.as_str() {
                        out.insert(format!("type={t}"));
                    }
                }
                kinds(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| kinds(x, out)),
        _ => {}
    }
}

/// The capture's and the replay's SDK views (see [`golden_view`]).
fn views(cap: &Capture, got: &[u8]) -> (Value, Value) {
    let path = cap.upstream_path();
    (
        golden_view::view(cap.provider(), &path, cap.ext(), &cap.body),
        golden_view::view(cap.provider(), &path, cap.ext(), got),
    )
}

/// Why a replay is not the capture: the status, or what the capture's SDK view has
/// that the replay's lacks, or (nothing lacking) where the two views part.
fn lossy_reason(cap: &Capture, status: u16, got: &[u8]) -> String {
    if status != cap.status() {
        let head = String::from_utf8_lossy(&got[..got.len().min(160)]).into_owned();
        return format!("replay status {status}, not {}: {head}", cap.status());
    }
    let (want_view, have_view) = views(cap, got);
    let mut want = BTreeSet::new();
    let mut have = BTreeSet::new();
    kinds(&want_view, &mut want);
    kinds(&have_view, &mut have);
    // Content types first: they say what a collapse dropped.
    let mut lost: Vec<_> = want.difference(&have).cloned().collect();
    lost.sort_by_key(|k| !k.starts_with("type="));
    if !lost.is_empty() {
        let more = lost.len().saturating_sub(10);
        lost.truncate(10);
        let more = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        return format!("lacks {}{more}", lost.join(", "));
    }
    match first_difference(&want_view, &have_view, String::new()) {
        Some((at, a, b)) => {
            let cut = |v: &Value| {
                let s = v.to_string();
                s.chars().take(60).collect::<String>()
            };
            format!(
                "differs at {at}: the capture has {}, the replay {}",
                cut(&a),
                kind(&b)
            )
        }
        None => "the same view".into(),
    }
}

/// What a replayed value is, without the value itself (a generated id would make the
/// reason change from run to run).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::String(_) => "another string",
        Value::Number(_) => "another number",
        Value::Bool(_) => "the other boolean",
        Value::Array(_) => "another array",
        Value::Object(_) => "another object",
    }
}

/// The first place (a JSON pointer) where `a` and `b` differ, with both values.
fn first_difference(a: &Value, b: &Value, at: String) -> Option<(String, Value, Value)> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let here = format!("{at}/{k}");
                match y.get(k) {
                    Some(w) => {
                        if let Some(d) = first_difference(v, w, here) {
                            return Some(d);
                        }
                    }
                    None => return Some((here, v.clone(), Value::Null)),
                }
            }
            y.iter()
                .find(|(k, _)| !x.contains_key(*k))
                .map(|(k, w)| (format!("{at}/{k}"), Value::Null, w.clone()))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, format!("{at}/{i}"))),
        _ if a == b => None,
        _ => Some((
            if at.is_empty() { "/".into() } else { at },
            a.clone(),
            b.clone(),
        )),
    }
}

/// Whether the replay gives the client what the capture did: the same SDK view
/// (a stream assembled, a JSON body as its value, regenerated fields aside).
fn same(cap: &Capture, status: u16, got: &[u8]) -> bool {
    if status != cap.status() {
        return false;
    }
    let (want, have) = views(cap, got);
    want == have
}

fn record_config(dir: &Path, base: &str) -> aimock::config::Config {
    let mut c = crate::support::recording(
        dir,
        &[
            "openai",
            "azure",
            "anthropic",
            "gemini",
            "vertexai",
            "bedrock",
            "cohere",
            "ollama",
        ],
        base,
    );
    if let Some(r) = c.record.as_mut() {
        r.max_capture_bytes = 4 << 20;
    }
    c
}

enum Outcome {
    Same,
    Lossy(String),
    Failed(String),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_golden_capture_is_relayed_byte_for_byte_recorded_without_credentials_and_replayed() {
    let caps = captures();
    assert!(caps.len() >= 99, "only {} captures found", caps.len());
    let creds = Creds::new();
    let hook = regex::Regex::new(HOOK_KEY).unwrap();
    let up = FakeUpstream::start().await;
    let work = tempfile::tempdir().unwrap();
    let mut servers: Vec<(&'static str, PathBuf, TestServer)> = Vec::new();
    let mut outcomes: Vec<(String, Outcome)> = Vec::new();
    for (i, cap) in caps.iter().enumerate() {
        if NOT_SERVED.iter().any(|(n, _)| *n == cap.name) {
            continue;
        }
        // One record server per upstream base.
        let prefix = cap.prefix();
        if !servers.iter().any(|(p, ..)| *p == prefix) {
            let dir = work.path().join(format!("rec{}", servers.len()));
            std::fs::create_dir_all(&dir).unwrap();
            let cfg = record_config(&dir, &format!("{}{prefix}", up.url()));
            servers.push((prefix, dir, TestServer::start(cfg).await));
        }
        let (_, dir, srv) = servers.iter().find(|(p, ..)| *p == prefix).unwrap();
        let recorder = srv.state.recorder.current().expect("record mode");
        srv.state.store.clear();
        up.script(&cap.upstream_path(), cap.script());
        let hits = up.hits();
        let method = cap.meta["request"]["method"].as_str().unwrap_or("POST");
        let headers = creds.headers(cap.provider());
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body = cap.request_body();
        let live = request(method, &srv.url(&cap.client_path()), body.clone(), &headers).await;
        recorder.flush().await;
        let fail = |why: String| (cap.name.clone(), Outcome::Failed(why));
        if up.hits() != hits + 1 {
            outcomes.push(fail(format!(
                "not forwarded once ({} upstream calls; status {})",
                up.hits() - hits,
                live.status
            )));
            continue;
        }
        if live.status != cap.status() {
            outcomes.push(fail(format!("relayed status {}", live.status)));
            continue;
        }
        match &live.body {
            Ok(b) if b.as_ref() == cap.body.as_slice() => {}
            Ok(b) => {
                outcomes.push(fail(format!(
                    "relayed {} bytes, not the upstream's {}",
                    b.len(),
                    cap.body.len()
                )));
                continue;
            }
            Err(e) => {
                outcomes.push(fail(format!("relay cut: {e}")));
                continue;
            }
        }
        // This capture's recordings, on their own.
        let mine = work.path().join(format!("cap{i}"));
        if std::fs::rename(dir.join("recorded"), &mine).is_err() {
            outcomes.push(fail("nothing recorded".into()));
            continue;
        }
        let recorded = files_text(&mine);
        let mut leaks = Vec::new();
        for (path, text) in &recorded {
            for c in creds.all() {
                if text.contains(&c[c.len() - 12..]) {
                    leaks.push(format!("{}: a sent credential", path.display()));
                }
            }
            if let Some(m) = hook.find(text) {
                leaks.push(format!("{}: key-shaped {:?}", path.display(), m.as_str()));
            }
            // Value by value: what the recorder redacts, and much faster than the
            // whole file at once.
            let doc: Value = serde_json::from_str(text).unwrap_or(Value::String(text.clone()));
            for_each_string(&doc, &mut |v| {
                for f in Detector::builtin().find(v) {
                    leaks.push(format!("{}: {} {:?}", path.display(), f.name, &v[f.range]));
                }
            });
        }
        if !leaks.is_empty() {
            outcomes.push(fail(format!("credential in the recording: {leaks:?}")));
            continue;
        }
        // Strict replay of this recording alone.
        let mut cfg = aimock::config::Config::for_tests(vec![mine.clone()]);
        cfg.strict = true;
        let replay = match TestServer::try_start(cfg).await {
            Ok(s) => s,
            Err(e) => {
                outcomes.push(fail(format!("recording does not load: {e}")));
                continue;
            }
        };
        let again = request(method, &replay.url(&cap.client_path()), body, &headers).await;
        let got = again.body.clone().unwrap_or_default();
        let outcome = if same(cap, again.status, &got) {
            Outcome::Same
        } else {
            Outcome::Lossy(lossy_reason(cap, again.status, &got))
        };
        outcomes.push((cap.name.clone(), outcome));
        replay.stop().await;
    }

    let mut failed = Vec::new();
    let mut unexpected = Vec::new();
    let mut now_same = Vec::new();
    for (name, o) in &outcomes {
        let listed = KNOWN_LOSSY.iter().any(|(n, _)| n == name);
        match o {
            Outcome::Failed(why) => failed.push(format!("{name}: {why}")),
            Outcome::Lossy(why) if !listed => {
                unexpected.push(format!("    (\"{name}\", \"{}\"),", why.replace('"', "'")))
            }
            Outcome::Same if listed => now_same.push(name.as_str()),
            _ => {}
        }
    }
    if std::env::var_os("GOLDEN_PRINT").is_some() {
        for (name, o) in &outcomes {
            if let Outcome::Lossy(why) = o {
                eprintln!("LOSSY    (\"{name}\", \"{}\"),", why.replace('"', "'"));
            }
        }
    }
    for name in &now_same {
        eprintln!("golden: {name} now replays losslessly; drop it from KNOWN_LOSSY");
    }
    let same_count = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Same))
        .count();
    eprintln!(
        "golden: {} captures recorded, {same_count} replay losslessly, {} not served",
        outcomes.len(),
        NOT_SERVED.len()
    );
    assert!(
        failed.is_empty(),
        "captures that failed:\n{}",
        failed.join("\n")
    );
    assert!(
        unexpected.is_empty(),
        "captures whose replay loses content and that KNOWN_LOSSY does not list:\n{}",
        unexpected.join("\n")
    );
    assert_eq!(
        outcomes.len() + NOT_SERVED.len(),
        caps.len(),
        "every capture is either recorded or listed as not served"
    );
}

//! Every real capture in `tests/data/golden/` that has a `.meta.json`, through record
//! mode and back: the fake upstream serves the capture's bytes, aimock records the
//! request its meta describes, and the test holds three things for each:
//!
//! - the client got the upstream's status and body byte for byte (relay is lossless);
//! - the recording on disk holds none of the credentials the client sent and nothing a
//!   secret scanner would take for a key;
//! - a strict replay of that recording alone answers the same request with the same
//!   bytes (a stream) or the same JSON value (a `.json` body).
//!
//! Where today's collapse does not keep everything, the capture is listed in
//! [`KNOWN_LOSSY`] with what the replay lacks; a capture that loses content and is not
//! listed fails the test, so a regression cannot hide. Entries that have become
//! lossless are printed, so the list can shrink as content types gain a lossless home.
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

/// Captures whose strict replay does not yet give the client what the provider sent,
/// and what is lost (the lossless-content-types work shrinks this list).
const KNOWN_LOSSY: &[(&str, &str)] = &[
    ("anthropic/messages-json-text.json", "differs at /usage/cache_creation_input_tokens: the capture has null, the replay another number"),
    ("anthropic/messages-json-tool-use.json", "lacks type=direct, cache_creation, caller, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, inference_geo, service_tier"),
    ("anthropic/messages-stream-error-overloaded.sse", "replay status 529, not 200: {'type':'error','error':{'type':'overloaded_error','message':'Overloaded'}}"),
    ("anthropic/messages-stream-redacted-thinking.sse", "lacks cache_creation, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, service_tier"),
    ("anthropic/messages-stream-text-2026.sse", "lacks cache_creation, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, inference_geo, service_tier"),
    ("anthropic/messages-stream-text.sse", "differs at /message/usage/cache_creation_input_tokens: the capture has null, the replay another number"),
    ("anthropic/messages-stream-thinking-signature-padded.sse", "lacks cache_creation, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, inference_geo, service_tier"),
    ("anthropic/messages-stream-thinking-then-tool-use.sse", "lacks type=direct, cache_creation, caller, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens, inference_geo, output_tokens_details, service_tier, thinking_tokens"),
    ("anthropic/messages-stream-tool-use.sse", "differs at /message/usage/cache_creation_input_tokens: the capture has null, the replay another number"),
    ("azure-openai/chat-stream-content-filter.sse", "differs at /choices/0/message/role: the capture has null, the replay another string"),
    ("bedrock/converse-json-guardrail-intervened.json", "lacks type=ADDRESS, type=GROUNDING, type=RELEVANCE, action, contentPolicyUnits, contextualGroundingPolicy, contextualGroundingPolicyUnits, filters, guarded, guardrail (+23 more)"),
    ("bedrock/converse-json-reasoning-redacted.json", "lacks cacheReadInputTokenCount, cacheReadInputTokens, cacheWriteInputTokenCount, cacheWriteInputTokens"),
    ("bedrock/converse-stream-text.eventstream", "lacks serverToolUsage"),
    ("bedrock/converse-stream-tool-use.eventstream", "lacks serverToolUsage"),
    ("bedrock/invoke-nova-lite.json", "lacks action, amazon-bedrock-guardrailAction, amazon-bedrock-trace, contentPolicyUnits, contextualGroundingPolicyUnits, guarded, guardrail, guardrailCoverage, guardrailProcessingLatency, input (+15 more)"),
    ("bedrock/invoke-stream-anthropic-messages.eventstream", "differs at /message/id: the capture has 'msg_013MVoqeRpeko9EhHVcBdJvk', the replay another string"),
    ("bedrock/invoke-stream-anthropic-thinking.eventstream", "lacks cache_creation, cache_creation_input_tokens, cache_read_input_tokens, ephemeral_1h_input_tokens, ephemeral_5m_input_tokens"),
    ("bedrock/invoke-stream-nova.eventstream", "lacks action, amazon-bedrock-guardrailAction, amazon-bedrock-trace, cacheReadInputTokenCount, cacheWriteInputTokenCount, contentPolicyUnits, contextualGroundingPolicyUnits, guarded, guardrail, guardrailCoverage (+17 more)"),
    ("bedrock/invoke-stream-titan-text.eventstream", "lacks 5zwrmdlsra2e, action, amazon-bedrock-guardrailAction, amazon-bedrock-trace, contentPolicyUnits, contextualGroundingPolicyUnits, guarded, guardrail, guardrailCoverage, guardrailProcessingLatency (+16 more)"),
    ("cohere/embed-v2-float-documents.json", "lacks image_tokens"),
    ("cohere/embed-v2.json", "differs at /meta/billed_units/input_tokens: the capture has 208, the replay another number"),
    ("gemini/generate-content-json.json", "lacks thoughtsTokenCount"),
    ("gemini/stream-generate-content-sse-text.sse", "lacks candidatesTokensDetails"),
    ("groq/chat-stream-compound-web-search.sse", "lacks reasoning"),
    ("mistral/chat-json-text.json", "differs at /choices/0/message/annotations: the capture has null, the replay another array"),
    ("mistral/chat-stream-magistral-thinking.sse", "lacks completion_tokens, prompt_tokens, total_tokens, usage"),
    ("mistral/chat-stream-text.sse", "lacks completion_tokens, prompt_tokens, total_tokens, usage"),
    ("ollama/api-generate-json.json", "differs at /context/0: the capture has 128006, the replay another number"),
    ("ollama/api-generate-stream.ndjson", "differs at /context/0: the capture has 128006, the replay another number"),
    ("ollama/v1-chat-json-reasoning-tool-call.json", "lacks content, reasoning"),
    ("ollama/v1-chat-json-text.json", "differs at /choices/0/message/annotations: the capture has null, the replay another array"),
    ("openai/chat-stream-logprobs.sse", "lacks obfuscation"),
    ("openai/chat-stream-parallel-tool-calls-obfuscation.sse", "lacks obfuscation"),
    ("openai/chat-stream-refusal.sse", "lacks obfuscation"),
    ("openai/embeddings-base64.json", "differs at /model: the capture has 'text-embedding-ada-002-v2', the replay another string"),
    ("openai/embeddings-float.json", "differs at /model: the capture has 'text-embedding-ada-002-v2', the replay another string"),
    ("openai/responses-error-400-model-not-found.json", "lacks param"),
    ("openai/responses-json-code-interpreter.json", "lacks billing, payer, verbosity"),
    ("openai/responses-json-file-search-results.json", "lacks billing, max_num_results, payer, ranker, ranking_options, score_threshold, verbosity"),
    ("openai/responses-json-function-call.json", "lacks strict"),
    ("openai/responses-json-mcp.json", "lacks billing, effort, payer, verbosity"),
    ("openai/responses-json-reasoning.json", "lacks type=reasoning, billing, effort, payer, summary, verbosity"),
    ("openai/responses-json-refusal.json", "lacks billing, payer, verbosity"),
    ("openai/responses-json-text.json", "differs at /output/0/id: the capture has 'msg_681e3a2cf37c8191b62127f5cf9c6cd00fdfbc1e418dcde2', the replay another string"),
    ("openai/responses-json-web-search.json", "lacks type=approximate, country, effort, user_location, verbosity"),
    ("openai/responses-stream-code-interpreter.sse", "lacks verbosity"),
    ("openai/responses-stream-file-search.sse", "lacks max_num_results, ranker, ranking_options, score_threshold, verbosity"),
    ("openai/responses-stream-function-call.sse", "lacks strict"),
    ("openai/responses-stream-incomplete.sse", "differs at /response/output/0/id: the capture has 'msg_6866d2df1c0c819c885ca369ba853e7f0847a84b87aad89c', the replay another string"),
    ("openai/responses-stream-logprobs.sse", "lacks completed_at, frequency_penalty, presence_penalty, verbosity"),
    ("openai/responses-stream-mcp.sse", "lacks effort, verbosity"),
    ("openai/responses-stream-reasoning-summary.sse", "differs at /response/output/0/id: the capture has 'rs_6877c00e9a24819d81db1f21b0dc3b8c014f759afd995257', the replay another string"),
    ("openai/responses-stream-reasoning-then-function-call.sse", "lacks type=reasoning, encrypted_content, summary, verbosity"),
    ("openai/responses-stream-refusal.sse", "lacks verbosity"),
    ("openai/responses-stream-text.sse", "differs at /response/output/0/id: the capture has 'msg_681e3e15a8608191aea93e9864c0dce8047f076151f76bcc', the replay another string"),
    ("openai/responses-stream-web-search-2026.sse", "lacks type=approximate, completed_at, country, frequency_penalty, presence_penalty, prompt_cache_retention, return_token_budget, search_context_size, user_location, verbosity"),
    ("openai/responses-stream-web-search.sse", "lacks type=approximate, country, effort, user_location, verbosity"),
    ("openrouter/chat-error-429-provider.json", "lacks metadata, provider_name, raw, user_id"),
    ("openrouter/chat-json-byok.json", "differs at /choices/0/message/annotations: the capture has null, the replay another array"),
    ("openrouter/chat-json-whitespace-keepalive.json", "lacks reasoning"),
    ("openrouter/chat-stream-in-band-error.sse", "replay status 500, not 200: {'error':{'code':500,'message':'Token limit reached'}}"),
    ("openrouter/chat-stream-reasoning-details.sse", "lacks reasoning"),
    ("openrouter/chat-stream-web-search-annotations.sse", "differs at /choices/0/native_finish_reason: the capture has 'stop', the replay another string"),
    ("openrouter/responses-stream-reasoning.sse", "lacks type=reasoning_text, cost, cost_details, is_byok, output_text, upstream_inference_input_cost, upstream_inference_output_cost"),
    ("together/chat-json-text.json", "lacks tool_calls"),
    ("vertex/generate-content-json.json", "lacks avgLogprobs"),
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

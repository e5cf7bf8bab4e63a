//! The request journal: a bounded ring buffer of the provider requests the server
//! handled, for tests to inspect through the control API.
//!
//! An entry holds the request line (query credentials masked), the headers (credential
//! headers masked), the normalised request, what answered it (a fixture's file and
//! index, the proxy, an injected error) or why nothing did (the miss message the client
//! got), the status, any chaos, the time to the response head, and whether a stream
//! was cut.
//!
//! # Design
//! Recording must stay cheap on the hot path, so the JSON view of an entry is built only
//! when the journal is read; credential-shaped strings in bodies are redacted at that
//! point too. What an entry keeps of the request is its raw body and its surface, and
//! reading the journal parses that body again, which gives the same [`ChatRequest`] the
//! pipeline matched (parsing is a pure function of surface, path and body; only the
//! scope comes from headers, and the entry has those). Keeping the parsed request
//! instead would cost nothing to store but a lot to evict: a full journal drops its
//! oldest entry on every request, and freeing a request tree (messages, texts, model)
//! long gone cold from the cache showed up as several percent of the server's CPU under
//! load. For the same reason the path, the headers and the body are copied into one
//! block (`RequestCopy`), and a minted id is kept inline ([`JournalId`]). A body over
//! [`BODY_CAP`] (an image, say, that normalises to little) keeps the parsed request as
//! before. Credential header values are masked before they are stored, so a secret never
//! sits in the journal. The headers are copied rather than kept as a cloned `HeaderMap`:
//! hyper's header values are slices of the connection's read buffer, so a journal holding
//! them would pin one read buffer (8 KiB or more) per entry, megabytes for a full
//! journal, and would make hyper allocate a fresh read buffer for every request. A
//! request whose normalised text is over [`BODY_CAP`] is not kept at all: the entry holds
//! a size marker instead, so a thousand 30 MB prompts cannot pin 30 GB.
//!
//! Not here: filtering syntax and HTTP (`control`), deciding what to journal
//! (`server::pipeline`).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::{json, Map, Value};

use crate::cassette::model::Origin;
use crate::chaos::Decision;
use crate::providers::common::RequestParts;
use crate::providers::Surface;
use crate::record::redact;
use crate::request::{ChatRequest, Role};

/// Largest normalised body kept, in bytes of JSON (the reference's 64 KB).
pub const BODY_CAP: usize = 64 * 1024;

/// The default number of entries kept.
pub const DEFAULT_MAX: usize = 1000;

/// What answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A fixture, or a miss answered from the fixture path (404/503, fallback vector).
    Fixture,
    /// The upstream, in record or proxy-only mode.
    Proxy,
    /// An error queued through `POST /__aimock/error`.
    Injected,
    /// aimock itself, before any fixture was consulted (bad request, too large).
    Internal,
    /// A mounted service (see [`Draft::service`]).
    Service,
}

impl Source {
    /// The journal spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Fixture => "fixture",
            Source::Proxy => "proxy",
            Source::Injected => "injected",
            Source::Internal => "internal",
            Source::Service => "service",
        }
    }
}

/// Set once when a stream is cut after its head was sent (truncation, a disconnect
/// fault, shutdown). Shared between the entry and the response body.
pub type Interruption = Arc<OnceLock<&'static str>>;

/// The normalised request as kept.
#[derive(Debug)]
pub enum Kept {
    /// The request never parsed.
    None,
    /// The raw body, parsed again by this surface when read. The body is the draft's
    /// [`Draft::body`] until the entry copies it into its block ([`Entry::body`]).
    Raw {
        /// The surface the request came in on.
        surface: Surface,
    },
    /// The parsed request (its raw body was too large to keep, or was handed on).
    Request(Box<ChatRequest>),
    /// A request that did not parse (answered or recorded raw): its body as it came,
    /// shown as JSON when it is JSON, else as text.
    Unparsed,
    /// Too large to keep; its estimated size in bytes.
    Elided(usize),
}

/// A journal entry's id: the caller's `X-Request-Id`, or `req-` and 16 hex digits
/// minted here. A minted id is kept as its bytes, inline: every request without an id
/// of its own gets one, and a heap string would be one more block to allocate, and to
/// free long gone cold when the entry is evicted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalId {
    /// Minted by the journal: ASCII.
    Minted([u8; 20]),
    /// The caller's own.
    Caller(Box<str>),
}

impl JournalId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        match self {
            JournalId::Minted(b) => std::str::from_utf8(b).unwrap_or_default(),
            JournalId::Caller(s) => s,
        }
    }
}

impl std::ops::Deref for JournalId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for JournalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for JournalId {
    fn from(s: &str) -> JournalId {
        JournalId::Caller(s.into())
    }
}

impl PartialEq<str> for JournalId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for JournalId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What the pipeline learns about a request while handling it.
#[derive(Debug)]
pub struct Draft {
    /// The journal id (`X-Request-Id` when the caller sent a valid one).
    pub id: JournalId,
    /// Provider key (`openai`, `anthropic`, ...).
    pub provider: Option<&'static str>,
    /// The mounted service that answered, for a request under a service's prefix.
    pub service: Option<Arc<str>>,
    /// The sequence scope.
    pub test_id: Option<Cow<'static, str>>,
    /// The normalised request.
    pub request: Kept,
    /// The raw body of a [`Kept::Raw`] request, as the server received it (no copy);
    /// [`Entry::new`] copies it into the entry's block.
    pub body: Bytes,
    /// The fixture that answered.
    pub fixture: Option<Origin>,
    /// Why nothing matched: the message the client got.
    pub miss: Option<String>,
    /// What answered.
    pub source: Source,
    /// A chaos fault injected into this request.
    pub chaos: Option<Decision>,
    /// `X-AIMock-Strict`, when it changed the server's setting.
    pub strict_override: Option<bool>,
    /// Set by the response body when a stream is cut; made only for a reply that can
    /// be cut (see [`Draft::interruption`]).
    pub interrupted: Option<Interruption>,
}

impl Draft {
    /// A draft for a request with this id.
    pub fn new(id: JournalId) -> Draft {
        Draft {
            id,
            provider: None,
            service: None,
            test_id: None,
            request: Kept::None,
            body: Bytes::new(),
            fixture: None,
            miss: None,
            source: Source::Internal,
            chaos: None,
            strict_override: None,
            interrupted: None,
        }
    }

    /// The flag a reply sets when it is cut, made on first use.
    pub fn interruption(&mut self) -> Interruption {
        self.interrupted.get_or_insert_with(Arc::default).clone()
    }

    /// Keep a request that did not parse: its body (or a size marker when too large).
    pub fn keep_unparsed(&mut self, body: &Bytes) {
        self.request = if body.len() > BODY_CAP {
            Kept::Elided(body.len())
        } else {
            self.body = body.clone();
            Kept::Unparsed
        };
    }

    /// Keep the request (or a size marker when it is too large). `raw` is the surface
    /// and the body `req` was parsed from, when the caller still has the body.
    pub fn keep(&mut self, mut req: ChatRequest, raw: Option<(&Surface, &Bytes)>) {
        // Moved, not copied: the journal's view of the request never shows it.
        self.test_id = Some(std::mem::take(&mut req.test_id));
        let size = approx_size(&req);
        self.request = match raw {
            _ if size > BODY_CAP => Kept::Elided(size),
            Some((surface, body)) if body.len() <= BODY_CAP => {
                self.body = body.clone();
                Kept::Raw {
                    surface: surface.clone(),
                }
            }
            _ => Kept::Request(Box::new(req)),
        };
    }
}

/// One handled request.
#[derive(Debug)]
pub struct Entry {
    /// Milliseconds since the Unix epoch when the request arrived.
    pub timestamp_ms: u64,
    /// HTTP method.
    pub method: Method,
    /// Path and query, headers and kept body.
    copy: RequestCopy,
    /// Response status; 0 when the connection was destroyed instead.
    pub status: u16,
    /// Time to the response head.
    pub duration: Duration,
    /// Everything else the pipeline learned.
    pub draft: Draft,
}

impl Entry {
    /// Build an entry; masks credential headers and query parameters.
    pub fn new(
        started: SystemTime,
        method: &Method,
        uri: &http::Uri,
        headers: &HeaderMap,
        status: u16,
        duration: Duration,
        mut draft: Draft,
    ) -> Entry {
        let body = std::mem::take(&mut draft.body);
        Entry {
            timestamp_ms: started
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            method: method.clone(),
            copy: RequestCopy::new(uri, headers, &body),
            status,
            duration,
            draft,
        }
    }

    /// Path plus query, credentials in the query masked.
    pub fn path(&self) -> &str {
        self.copy.path()
    }

    /// Request headers, names in lower case, in the request's order; credential values
    /// masked.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.copy.headers()
    }

    /// The raw body of a [`Kept::Raw`] request (empty for the others).
    pub fn body(&self) -> &[u8] {
        self.copy.body()
    }

    /// The request as the pipeline parsed it, from the kept body. The scope is not part
    /// of a parse: the test id is kept in the draft, the context is read from the
    /// headers as the pipeline read it.
    fn reparse(&self, surface: &Surface, body: &[u8]) -> Option<ChatRequest> {
        let (path, query) = match self.path().split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (self.path(), None),
        };
        let parts = RequestParts {
            path,
            query,
            headers: &HeaderMap::new(),
        };
        let mut req = match surface.parse_request(&parts, body) {
            Ok(r) => r,
            Err(e) => {
                // It parsed when it arrived; a parse is a pure function of its inputs.
                tracing::warn!(id = %self.draft.id, error = %e.message, "journal: a kept request no longer parses");
                return None;
            }
        };
        req.context = self
            .headers()
            .find(|(n, _)| *n == "x-aimock-context")
            .and_then(|(_, v)| crate::request::scope_value(v));
        Some(req)
    }

    /// The entry as the control API shows it, credentials redacted by the built-in
    /// detector (see [`Entry::to_json_with`]).
    pub fn to_json(&self) -> Value {
        self.to_json_with(crate::secrets::Detector::builtin())
    }

    /// The entry as the control API shows it. Credentials anywhere in it are redacted
    /// here, by `secrets` (the configured detector).
    pub fn to_json_with(&self, secrets: &crate::secrets::Detector) -> Value {
        let mut headers = Map::new();
        for (k, v) in self.headers() {
            let v = String::from_utf8_lossy(v);
            // A repeated name keeps its first position and its last value.
            headers.insert(k.to_string(), Value::String(v.into_owned()));
        }
        let capped = |r: &ChatRequest| {
            let v = request_view(r);
            let n = v.to_string().len();
            if n > BODY_CAP {
                elided(n)
            } else {
                v
            }
        };
        let body = match &self.draft.request {
            Kept::None => Value::Null,
            Kept::Raw { surface } => match self.reparse(surface, self.body()) {
                Some(r) => capped(&r),
                None => Value::Null,
            },
            Kept::Request(r) => capped(r),
            Kept::Unparsed => serde_json::from_slice(self.body()).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(self.body()).into_owned())
            }),
            Kept::Elided(n) => elided(*n),
        };
        let d = &self.draft;
        let mut response = Map::new();
        response.insert("status".into(), json!(self.status));
        response.insert(
            "fixture".into(),
            match &d.fixture {
                Some(o) => json!({"file": &*o.file, "index": o.index}),
                None => Value::Null,
            },
        );
        response.insert("source".into(), json!(d.source.as_str()));
        if let Some(m) = &d.miss {
            response.insert("miss".into(), json!(m));
        }
        if let Some(c) = d.chaos {
            response.insert("chaosAction".into(), json!(c.action.as_str()));
            response.insert("chaosLevel".into(), json!(c.level.as_str()));
        }
        if let Some(s) = d.strict_override {
            response.insert("strictOverride".into(), json!(s));
        }
        if let Some(reason) = d.interrupted.as_ref().and_then(|i| i.get()) {
            response.insert("interrupted".into(), json!(true));
            response.insert("interruptReason".into(), json!(reason));
        }
        let mut v = json!({
            "id": d.id.as_str(),
            "timestamp": self.timestamp_ms,
            "method": self.method.as_str(),
            "path": self.path(),
            "provider": d.provider,
            "testId": d.test_id,
            "headers": headers,
            "body": body,
            "response": response,
            "durationMs": (self.duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        });
        if let Some(service) = &d.service {
            v["service"] = json!(&**service);
        }
        let mut changed = Vec::new();
        secrets.redact_json(&mut v, "entry", &mut changed);
        v
    }
}

/// What an entry keeps of the request's bytes, in one block: the path and query
/// (credentials in the query masked), every header name and value in the order a
/// `HeaderMap` iterates them (credential values masked), then the raw body of a
/// [`Kept::Raw`] request.
///
/// Each header is stored as its name's length (2 bytes), its value's length (4 bytes),
/// then the name and the value. One allocation per entry, freed in one go when the
/// entry is evicted: by then it is cold in the cache, and every block freed costs a miss
/// (path, headers and body were three blocks).
#[derive(Debug)]
struct RequestCopy {
    bytes: Box<[u8]>,
    /// Where the path ends and the headers start.
    path_end: usize,
    /// Where the headers end and the body starts.
    body_start: usize,
}

impl RequestCopy {
    /// Copy `uri`'s path and query, `map` and `body`, masking credentials (every value
    /// of a repeated credential header, not just the first).
    fn new(uri: &http::Uri, map: &HeaderMap, body: &[u8]) -> RequestCopy {
        let query = uri.query().map(redact::redact_query);
        let masked = |n: &http::HeaderName| is_credential(n.as_str());
        let mut len = uri.path().len() + query.as_ref().map_or(0, |q| 1 + q.len()) + body.len();
        for (n, v) in map {
            let value = if masked(n) {
                redact::REDACTED.len()
            } else {
                v.len()
            };
            len += 6 + n.as_str().len() + value;
        }
        let mut bytes = Vec::with_capacity(len);
        bytes.extend_from_slice(uri.path().as_bytes());
        if let Some(q) = &query {
            bytes.push(b'?');
            bytes.extend_from_slice(q.as_bytes());
        }
        let path_end = bytes.len();
        for (n, v) in map {
            let value = if masked(n) {
                redact::REDACTED.as_bytes()
            } else {
                v.as_bytes()
            };
            // hyper refuses header names and values anywhere near these sizes; a header
            // that did not fit would be left out rather than garble the others.
            let (Ok(name_len), Ok(value_len)) =
                (u16::try_from(n.as_str().len()), u32::try_from(value.len()))
            else {
                continue;
            };
            bytes.extend_from_slice(&name_len.to_le_bytes());
            bytes.extend_from_slice(&value_len.to_le_bytes());
            bytes.extend_from_slice(n.as_str().as_bytes());
            bytes.extend_from_slice(value);
        }
        let body_start = bytes.len();
        bytes.extend_from_slice(body);
        RequestCopy {
            bytes: bytes.into_boxed_slice(),
            path_end,
            body_start,
        }
    }

    fn path(&self) -> &str {
        // A `Uri`'s path and query are ASCII, and so is the masking.
        std::str::from_utf8(&self.bytes[..self.path_end]).unwrap_or_default()
    }

    fn body(&self) -> &[u8] {
        &self.bytes[self.body_start..]
    }

    /// Every (name, value) pair, names in lower case, in the copied map's order.
    fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        let mut rest: &[u8] = &self.bytes[self.path_end..self.body_start];
        std::iter::from_fn(move || {
            let (head, tail) = rest.split_at_checked(6)?;
            let name_len = usize::from(u16::from_le_bytes([head[0], head[1]]));
            let value_len = u32::from_le_bytes([head[2], head[3], head[4], head[5]]) as usize;
            let (name, tail) = tail.split_at_checked(name_len)?;
            let (value, tail) = tail.split_at_checked(value_len)?;
            rest = tail;
            // Names came from `HeaderName::as_str`, so they are ASCII.
            Some((std::str::from_utf8(name).unwrap_or(""), value))
        })
    }
}

/// Whether a header's value is a credential ([`redact::CREDENTIAL_HEADERS`], or an
/// AWS security header), for a name already in lower case (as `HeaderMap`
/// keeps them), without allocating.
fn is_credential(name: &str) -> bool {
    redact::CREDENTIAL_HEADERS.contains(&name)
        || (name.starts_with("x-amz-") && name.contains("security"))
}

fn elided(n: usize) -> Value {
    json!({"__aimock_truncated": true, "originalByteSize": n,
           "note": "body truncated by aimock journal cap (64 KB limit)"})
}

/// A rough byte count of the request's JSON view: its strings plus a little per item.
fn approx_size(r: &ChatRequest) -> usize {
    let msgs: usize = r
        .messages
        .iter()
        .map(|m| {
            32 + m.text.as_deref().map_or(0, str::len)
                + m.tool_call_id.as_deref().map_or(0, str::len)
                + m.tool_calls
                    .iter()
                    .map(|c| 48 + c.id.len() + c.name.len() + c.arguments.len())
                    .sum::<usize>()
        })
        .sum();
    let tools: usize = r.tools.iter().map(|t| t.len() + 4).sum();
    let inputs: usize = r
        .embedding_inputs
        .as_ref()
        .map_or(0, |v| v.iter().map(|s| s.len() + 4).sum());
    128 + msgs + tools + inputs
}

/// The normalised request as JSON, in the OpenAI-chat-like vocabulary the reference's
/// journal uses (`_endpointType`, `_context` carry the scope).
pub fn request_view(r: &ChatRequest) -> Value {
    let messages: Vec<Value> = r
        .messages
        .iter()
        .map(|m| {
            let mut o = Map::new();
            let role = match m.role {
                Role::System => "system",
                Role::Developer => "developer",
                Role::User => "user",
                Role::Assistant => "assistant",
                Role::Tool => "tool",
            };
            o.insert("role".into(), json!(role));
            o.insert("content".into(), json!(m.text));
            if !m.tool_calls.is_empty() {
                let calls: Vec<Value> = m
                    .tool_calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                    .collect();
                o.insert("tool_calls".into(), Value::Array(calls));
            }
            if let Some(id) = &m.tool_call_id {
                o.insert("tool_call_id".into(), json!(id));
            }
            Value::Object(o)
        })
        .collect();
    let mut o = Map::new();
    o.insert("model".into(), json!(r.model));
    o.insert("messages".into(), Value::Array(messages));
    if !r.tools.is_empty() {
        o.insert("tools".into(), json!(r.tools));
    }
    if let Some(f) = &r.response_format {
        o.insert("response_format".into(), json!({"type": f}));
    }
    o.insert("stream".into(), json!(r.stream));
    if let Some(inputs) = &r.embedding_inputs {
        o.insert("embeddingInput".into(), json!(inputs));
    }
    o.insert("_endpointType".into(), json!(r.endpoint.as_str()));
    o.insert("_context".into(), json!(r.context));
    Value::Object(o)
}

/// The journal. Cheap to share by `Arc`; every method takes a short lock.
#[derive(Debug)]
pub struct Journal {
    /// Most entries kept; 0 keeps every entry.
    max: usize,
    /// Oldest first.
    entries: Mutex<VecDeque<Arc<Entry>>>,
    /// Source of minted ids.
    minted: AtomicU64,
}

impl Journal {
    /// A journal keeping at most `max` entries (0: unbounded).
    pub fn new(max: usize) -> Journal {
        // Ids differ between runs, so ids in logs of two runs are never confused.
        let start = (crate::chaos::Chaos::random_seed() >> 24) << 20;
        Journal {
            max,
            entries: Mutex::new(VecDeque::new()),
            minted: AtomicU64::new(start),
        }
    }

    /// The id for a request: the caller's `X-Request-Id` (its value, if it sent one) when
    /// it is a plausible id (`[A-Za-z0-9._:-]{1,128}`), else a fresh `req-…`.
    pub fn request_id(&self, caller: Option<&http::HeaderValue>) -> JournalId {
        if let Some(v) = caller.and_then(|v| v.to_str().ok()) {
            if !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            {
                return JournalId::Caller(v.into());
            }
        }
        // `format!("req-{:016x}")` without the formatting machinery or a heap string.
        let n = self.minted.fetch_add(1, Ordering::Relaxed);
        let mut id = *b"req-0000000000000000";
        for (i, digit) in id[4..].iter_mut().enumerate() {
            *digit = b"0123456789abcdef"[((n >> ((15 - i) * 4)) & 0xf) as usize];
        }
        JournalId::Minted(id)
    }

    /// Append an entry, evicting the oldest past the cap.
    pub fn push(&self, entry: Entry) {
        let entry = Arc::new(entry);
        let evicted = {
            let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            let old = (self.max > 0 && e.len() >= self.max)
                .then(|| e.pop_front())
                .flatten();
            e.push_back(entry);
            old
        };
        // Freed after the lock is released: an entry can hold a large request.
        drop(evicted);
    }

    /// Every entry, oldest first (a snapshot: the lock is released at once).
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.iter().cloned().collect()
    }

    /// Forget every entry (sequence counts are not the journal's, and stay).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Endpoint, Message};

    fn header_map(headers: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn entry(j: &Journal, headers: &[(&str, &str)], uri: &str) -> Entry {
        let h = header_map(headers);
        entry_with(
            headers,
            uri,
            Draft::new(j.request_id(h.get("x-request-id"))),
        )
    }

    fn entry_with(headers: &[(&str, &str)], uri: &str, draft: Draft) -> Entry {
        let h = header_map(headers);
        let uri: http::Uri = uri.parse().unwrap();
        Entry::new(
            SystemTime::now(),
            &Method::POST,
            &uri,
            &h,
            200,
            Duration::from_millis(1),
            draft,
        )
    }

    #[test]
    fn the_oldest_entry_is_evicted_past_the_cap() {
        let j = Journal::new(2);
        for p in ["/a", "/b", "/c"] {
            j.push(entry(&j, &[], p));
        }
        let paths: Vec<String> = j.entries().iter().map(|e| e.path().to_string()).collect();
        assert_eq!(paths, ["/b", "/c"]);
    }

    #[test]
    fn credential_headers_and_query_keys_are_masked() {
        let j = Journal::new(10);
        let e = entry(
            &j,
            &[
                ("authorization", "Bearer sk-test-not-a-real-key-000000"),
                ("x-goog-api-key", "AIzaSyFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE0"),
                ("x-amz-security-token", "FQoGZXIvYXdzEFAKE"),
                ("x-test-id", "t1"),
            ],
            "/v1beta/models/g:generateContent?key=AIzaSecret&alt=sse",
        );
        let v = e.to_json();
        assert_eq!(v["headers"]["authorization"], "[REDACTED]");
        assert_eq!(v["headers"]["x-goog-api-key"], "[REDACTED]");
        assert_eq!(v["headers"]["x-amz-security-token"], "[REDACTED]");
        assert_eq!(v["headers"]["x-test-id"], "t1");
        assert_eq!(
            v["path"],
            "/v1beta/models/g:generateContent?key=[REDACTED]&alt=sse"
        );
    }

    #[test]
    fn every_value_of_a_repeated_credential_header_is_masked_and_order_is_kept() {
        let j = Journal::new(10);
        let e = entry(
            &j,
            &[
                ("x-test-id", "t1"),
                ("x-api-key", "sk-test-not-a-real-key-1"),
                ("accept", "a"),
                ("x-api-key", "sk-test-not-a-real-key-2"),
                ("accept", "b"),
            ],
            "/v1/messages",
        );
        let kept: Vec<(&str, &[u8])> = e.headers().collect();
        assert_eq!(
            kept,
            [
                ("x-test-id", &b"t1"[..]),
                ("x-api-key", b"[REDACTED]"),
                ("x-api-key", b"[REDACTED]"),
                ("accept", b"a"),
                ("accept", b"b"),
            ]
        );
        let v = e.to_json();
        assert_eq!(v["headers"]["x-api-key"], "[REDACTED]");
        assert_eq!(
            v["headers"]["accept"], "b",
            "the last value of a name is shown"
        );
        let names: Vec<&String> = v["headers"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["x-test-id", "x-api-key", "accept"]);
    }

    #[test]
    fn an_entry_does_not_keep_the_buffer_the_headers_were_read_from() {
        // hyper's header values are slices of the connection's read buffer.
        let read_buffer = bytes::Bytes::from(b"t1sk-test-not-a-real-key".to_vec());
        let mut h = HeaderMap::new();
        let value = |r: std::ops::Range<usize>| {
            http::HeaderValue::from_maybe_shared(read_buffer.slice(r)).unwrap()
        };
        h.insert("x-test-id", value(0..2));
        h.insert("authorization", value(2..24));
        let j = Journal::new(10);
        let uri: http::Uri = "/v1/chat/completions".parse().unwrap();
        j.push(Entry::new(
            SystemTime::now(),
            &Method::POST,
            &uri,
            &h,
            200,
            Duration::from_millis(1),
            Draft::new(j.request_id(h.get("x-request-id"))),
        ));
        drop(h);
        assert!(read_buffer.is_unique(), "the journal holds no slice of it");
        assert_eq!(j.entries()[0].to_json()["headers"]["x-test-id"], "t1");
    }

    #[test]
    fn a_huge_request_is_kept_as_a_size_marker() {
        let mut r = ChatRequest::new(Endpoint::Chat, b"{}");
        r.messages
            .push(Message::text(Role::User, "x".repeat(100_000)));
        let mut d = Draft::new("req-1".into());
        d.keep(r, None);
        assert!(matches!(d.request, Kept::Elided(n) if n > 100_000));
    }

    /// Parse `body` as the pipeline does, keep it with its raw body, and give the view
    /// the journal shows next to the view of the request that was matched.
    fn kept_and_matched(
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (Value, Value) {
        let j = Journal::new(10);
        let h = header_map(headers);
        let mut draft = Draft::new(j.request_id(h.get("x-request-id")));
        let uri: http::Uri = path_and_query.parse().unwrap();
        let crate::server::router::Route::Provider(surface) =
            crate::server::router::route(&Method::POST, uri.path())
        else {
            panic!("{path_and_query} is not a provider route")
        };
        let h = header_map(headers);
        let parts = RequestParts {
            path: uri.path(),
            query: uri.query(),
            headers: &h,
        };
        let mut req = surface.parse_request(&parts, body.as_bytes()).unwrap();
        req.context = h
            .get("x-aimock-context")
            .and_then(|v| crate::request::scope_value(v.as_bytes()));
        let matched = request_view(&req);
        draft.keep(req, Some((&surface, &Bytes::from(body.to_string()))));
        let e = entry_with(headers, path_and_query, draft);
        assert!(matches!(e.draft.request, Kept::Raw { .. }));
        assert_eq!(
            e.body(),
            body.as_bytes(),
            "the body is the entry's own copy"
        );
        assert!(e.draft.body.is_empty(), "and the draft keeps no other");
        (e.to_json()["body"].clone(), matched)
    }

    #[test]
    fn a_kept_body_reads_back_as_the_request_that_was_matched() {
        /// Path and query, headers, body.
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: [Case; 4] = [
            (
                "/v1/messages",
                &[("x-aimock-context", "  suite › case  ")],
                r#"{"model":"claude-x","system":"be brief","max_tokens":9,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":[{"type":"tool_use","id":"tu_1","name":"f","input":{"a":1}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu_1","content":"42"}]}],"tools":[{"name":"f","input_schema":{}}]}"#,
            ),
            (
                "/v1/chat/completions",
                &[],
                r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hello"}],"response_format":{"type":"json_object"}}"#,
            ),
            (
                "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse&key=AIzaFake",
                &[],
                r#"{"contents":[{"role":"user","parts":[{"text":"from the path"}]}]}"#,
            ),
            (
                "/openai/deployments/my-dep/embeddings?api-version=2024-02-01",
                &[],
                r#"{"input":["a","b"]}"#,
            ),
        ];
        for (path, headers, body) in cases {
            let (kept, matched) = kept_and_matched(path, headers, body);
            assert_eq!(kept, matched, "{path}");
            assert_ne!(kept, Value::Null, "{path}");
        }
        let (kept, _) = kept_and_matched(
            "/v1/messages",
            &[("x-aimock-context", " c1 ")],
            r#"{"model":"m","messages":[{"role":"user","content":"q"}]}"#,
        );
        assert_eq!(kept["_context"], "c1");
        assert_eq!(kept["model"], "m");
    }

    #[test]
    fn a_large_raw_body_that_normalises_small_keeps_the_parsed_request() {
        // An image prompt: megabytes on the wire, a few bytes of text once parsed.
        let body = format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":[{{"type":"text","text":"what is it"}},{{"type":"image","source":{{"type":"base64","media_type":"image/png","data":"{}"}}}}]}}]}}"#,
            "A".repeat(BODY_CAP * 2)
        );
        let (kept, matched) = {
            let j = Journal::new(1);
            let mut e = entry(&j, &[], "/v1/messages");
            let req = crate::providers::anthropic::request::parse_request(body.as_bytes()).unwrap();
            let matched = request_view(&req);
            e.draft.keep(
                req,
                Some((
                    &Surface::Anthropic(crate::providers::anthropic::Op::Messages),
                    &Bytes::from(body.clone()),
                )),
            );
            assert!(matches!(e.draft.request, Kept::Request(_)));
            (e.to_json()["body"].clone(), matched)
        };
        assert_eq!(kept, matched);
    }

    #[test]
    fn credential_shaped_strings_in_bodies_are_redacted_when_read() {
        let j = Journal::new(10);
        let mut e = entry(&j, &[], "/v1/chat/completions");
        let mut r = ChatRequest::new(Endpoint::Chat, b"{}");
        r.messages.push(Message::text(
            Role::User,
            "my key is sk-proj-test-not-a-real-key-abcdefghijkl",
        ));
        e.draft.keep(r, None);
        let v = e.to_json();
        assert_eq!(v["body"]["messages"][0]["content"], "my key is [REDACTED]");
    }

    #[test]
    fn a_plausible_caller_request_id_is_kept_and_a_bad_one_replaced() {
        let j = Journal::new(1);
        let mut h = HeaderMap::new();
        h.insert("x-request-id", "abc-123".parse().unwrap());
        assert_eq!(j.request_id(h.get("x-request-id")), "abc-123");
        h.insert("x-request-id", "has space".parse().unwrap());
        assert!(j.request_id(h.get("x-request-id")).starts_with("req-"));
    }

    #[test]
    fn minted_ids_are_sixteen_lower_case_hex_digits() {
        let j = Journal::new(1);
        j.minted.store(0x00ab_cdef_0123_4567, Ordering::Relaxed);
        let h = HeaderMap::new();
        assert_eq!(j.request_id(h.get("x-request-id")), "req-00abcdef01234567");
        assert_eq!(j.request_id(h.get("x-request-id")), "req-00abcdef01234568");
    }
}

//! Access control for a shared gateway: inbound API keys on everything a client calls,
//! and the rule that guards the control API.
//!
//! **API keys** (`--api-key`, `AIMOCK_API_KEYS`, `auth.apiKeys`). While any is set,
//! every request needs one, except the probes (`GET /health`, `/ready`, `/metrics`),
//! real CORS preflights (`OPTIONS` with `Access-Control-Request-Method`, which browsers
//! send without credentials) and the control API, which has its own rule below. A key
//! is read from each place an official client puts its credential: `Authorization:
//! Bearer KEY` or `Key KEY`, `x-api-key` (Anthropic), `x-goog-api-key` (Gemini),
//! `api-key` (Azure), `xi-api-key` (ElevenLabs), the `key` query parameter (Gemini's
//! REST and Live clients) and the `openai-insecure-api-key.KEY` WebSocket subprotocol
//! (browser Realtime clients, which cannot set headers). One matching key admits the
//! request. A refusal is a 401 in the provider's own error shape through the one error
//! path, so each SDK raises its typed authentication error; it carries
//! `WWW-Authenticate: Bearer realm="aimock"`, is logged (never with the key),
//! journaled and counted.
//!
//! In record mode the check comes before anything is forwarded, and the places that
//! held an aimock key are removed from the request, so the upstream gets the client's
//! own provider credential (sent in another of those places) and never aimock's key.
//!
//! **Control API** (`/__aimock/*`, `/v1/_requests`). With `--control-token` (or
//! `AIMOCK_CONTROL_TOKEN`) it needs `Authorization: Bearer TOKEN`. Without one it is
//! open on a loopback address (a developer's machine, the default) and off on any
//! other: a shared gateway must not let any caller rewrite the fixtures or read the
//! journal. The API keys do not open it: a key handed to every client is not a
//! licence to change what every client is answered.
//!
//! Keys are compared as SHA-256 digests in constant time (`subtle`), every key against
//! every presented value, so neither the time taken nor an early exit says how much of
//! a guess was right or which key it was near. Rejected alternative: comparing the
//! strings with `==`, which returns at the first differing byte.
//!
//! Not here: where keys come from (`config::access`), what the 401 body says per
//! provider (`respond`, the providers' error shapes).

use std::net::IpAddr;
use std::time::{Instant, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::router::{route, Route};
use super::AppState;
use crate::config::Config;
use crate::journal::{Draft, Entry, Source};
use crate::respond::body::Body;
use crate::respond::{respond, Failure};

/// The header-borne credentials, besides `Authorization`, in the order they are read.
const KEY_HEADERS: [HeaderName; 4] = [
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("x-goog-api-key"),
    HeaderName::from_static("api-key"),
    HeaderName::from_static("xi-api-key"),
];

/// The WebSocket subprotocol prefix browser Realtime clients carry their key in.
const SUBPROTOCOL_PREFIX: &str = "openai-insecure-api-key.";

/// What a 401 says in `WWW-Authenticate` (RFC 9110 §11.6.1).
const CHALLENGE: &str = r#"Bearer realm="aimock""#;

/// The access rules of one server, fixed at start-up.
#[derive(Debug)]
pub struct Access {
    /// SHA-256 of every inbound API key; empty: no key needed.
    keys: Vec<[u8; 32]>,
    /// How the control API is guarded.
    control: ControlRule,
}

/// How the control API is guarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ControlRule {
    /// No token, loopback address: open (the default on a developer's machine).
    Open,
    /// `Authorization: Bearer TOKEN`, compared as this digest.
    Token([u8; 32]),
    /// No token, a non-loopback address: off.
    Off(IpAddr),
}

/// The places a credential was found in; the ones holding an aimock key are removed
/// before a request is forwarded upstream.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Carriers {
    authorization: bool,
    headers: [bool; 4],
    query: bool,
    subprotocol: bool,
}

/// The outcome of the key check.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// A key matched; where aimock keys were found.
    Admitted(Carriers),
    /// No credential at all.
    Missing,
    /// Credentials, none of them a key.
    Wrong,
}

fn digest(v: &[u8]) -> [u8; 32] {
    Sha256::digest(v).into()
}

impl Access {
    /// The rules `config` asks for.
    pub fn new(config: &Config) -> Access {
        let a = &config.access;
        let control = match &a.control_token {
            Some(t) => ControlRule::Token(digest(t.expose().as_bytes())),
            None if config.host.is_loopback() => ControlRule::Open,
            None => ControlRule::Off(config.host),
        };
        Access {
            keys: a
                .api_keys
                .iter()
                .map(|k| digest(k.expose().as_bytes()))
                .collect(),
            control,
        }
    }

    /// API keys are checked: the pipeline calls [`admit`] only when this holds.
    pub fn guards(&self) -> bool {
        !self.keys.is_empty()
    }

    /// What a start-up line should say about the rules, if anything.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.keys.is_empty() {
            out.push(format!(
                "access control: {} API key(s) required on provider routes, services and WebSocket upgrades",
                self.keys.len()
            ));
        }
        match self.control {
            ControlRule::Open => {}
            ControlRule::Token(_) => {
                out.push("access control: the control API needs its bearer token".into())
            }
            ControlRule::Off(host) => out.push(format!(
                "access control: the control API (/__aimock/*) is off because aimock listens \
                 on {host}, a non-loopback address; set --control-token TOKEN to use it"
            )),
        }
        out
    }

    /// `presented` is one of the keys. Every key is compared, in constant time.
    fn is_key(&self, presented: &[u8]) -> bool {
        let d = digest(presented);
        let mut hit = Choice::from(0);
        for k in &self.keys {
            hit |= k.ct_eq(&d);
        }
        hit.into()
    }

    /// Look for a key in every place a client may put one.
    fn check(&self, headers: &HeaderMap, query: Option<&str>) -> Verdict {
        let mut found = Carriers::default();
        let mut presented = false;
        for v in headers.get_all(http::header::AUTHORIZATION) {
            if let Some(cred) = bearer_or_key(v) {
                presented = true;
                found.authorization |= self.is_key(cred);
            }
        }
        for (i, name) in KEY_HEADERS.iter().enumerate() {
            for v in headers.get_all(name) {
                let cred = trim(v.as_bytes());
                if !cred.is_empty() {
                    presented = true;
                    found.headers[i] |= self.is_key(cred);
                }
            }
        }
        if let Some(q) = query {
            for (k, v) in form_pairs(q) {
                if k == "key" && !v.is_empty() {
                    presented = true;
                    found.query |= self.is_key(v.as_bytes());
                }
            }
        }
        for p in subprotocols(headers) {
            if let Some(cred) = p.strip_prefix(SUBPROTOCOL_PREFIX) {
                presented = true;
                found.subprotocol |= self.is_key(cred.as_bytes());
            }
        }
        if found != Carriers::default() {
            Verdict::Admitted(found)
        } else if presented {
            Verdict::Wrong
        } else {
            Verdict::Missing
        }
    }
}

/// The credential of an `Authorization: Bearer X` or `Key X` header (scheme in any case).
fn bearer_or_key(v: &HeaderValue) -> Option<&[u8]> {
    let v = trim(v.as_bytes());
    let sp = v.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = v.split_at(sp);
    let cred = trim(rest);
    (scheme.eq_ignore_ascii_case(b"bearer") || scheme.eq_ignore_ascii_case(b"key"))
        .then_some(cred)
        .filter(|c| !c.is_empty())
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// `k=v` pairs of a query string, percent-decoded (`+` is a space, as in forms).
fn form_pairs(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    q.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        let dec = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        (dec(k), dec(v))
    })
}

/// The offered WebSocket subprotocols, trimmed.
fn subprotocols(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// Requests the keys never guard: the probes, real CORS preflights, and the control API
/// (its own rule applies in [`control`]).
fn is_open(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    match route(method, path) {
        Route::Health | Route::Ready | Route::Metrics | Route::Control(_) => true,
        Route::Preflight => headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD),
        _ => false,
    }
}

/// Step 0 of the lifecycle, while API keys are set: `None` admits the request (with the
/// aimock keys taken out of it in record mode); `Some` is the 401 to send, already
/// logged, journaled and counted.
pub(crate) fn admit<B>(
    state: &AppState,
    req: &mut Request<B>,
    started: Instant,
) -> Option<Response<Body>> {
    if is_open(req.method(), req.uri().path(), req.headers()) {
        return None;
    }
    let (reason, message) = match state.access.check(req.headers(), req.uri().query()) {
        Verdict::Admitted(found) => {
            if state.recorder.is_some() {
                strip(req, found);
            }
            return None;
        }
        Verdict::Missing => (
            "missing",
            "Missing API key: this aimock needs one of its API keys, as `Authorization: \
             Bearer KEY` (or x-api-key, x-goog-api-key, api-key, xi-api-key, ?key=)",
        ),
        Verdict::Wrong => ("wrong", "Invalid API key"),
    };
    let path = req.uri().path();
    let service = state.mounts.services.find(path).cloned();
    let surface = match (&service, route(req.method(), path)) {
        (Some(_), _) => None,
        (
            None,
            Route::Provider(s) | Route::MethodNotAllowed(Some(s)) | Route::NotFound(Some(s)),
        ) => Some(s),
        _ => None,
    };
    tracing::debug!(reason, path, "API key check failed");
    let mut resp = respond(&Failure::unauthorized(message), surface.as_ref(), path);
    resp.headers_mut().insert(
        http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static(CHALLENGE),
    );
    let took = started.elapsed();
    if let Some(m) = &state.metrics {
        m.refused("api_key");
        match (&surface, &service) {
            (Some(s), _) => m.request(s, 401, took),
            (None, Some(svc)) => m.service_request(svc.name(), 401, took),
            _ => {}
        }
    }
    let request_id = req.headers().get("x-request-id");
    let mut draft = Draft::new(state.journal.request_id(request_id));
    draft.provider = surface.as_ref().map(|s| s.provider());
    draft.service = service.map(|s| std::sync::Arc::from(s.name()));
    draft.source = Source::Internal;
    draft.miss = Some(message.to_string());
    state.journal.push(Entry::new(
        SystemTime::now() - took,
        req.method(),
        req.uri(),
        req.headers(),
        401,
        took,
        draft,
    ));
    Some(resp)
}

/// Take the places that held an aimock key out of a request that will be forwarded.
fn strip<B>(req: &mut Request<B>, found: Carriers) {
    if found.query {
        let uri = req.uri();
        let kept: Vec<&str> = uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty() && p.split_once('=').map_or(*p, |(k, _)| k) != "key")
            .collect();
        let pq = if kept.is_empty() {
            uri.path().to_string()
        } else {
            format!("{}?{}", uri.path(), kept.join("&"))
        };
        let mut parts = uri.clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(u) = http::Uri::from_parts(parts) {
                *req.uri_mut() = u;
            }
        }
    }
    let headers = req.headers_mut();
    if found.authorization {
        headers.remove(http::header::AUTHORIZATION);
    }
    for (i, name) in KEY_HEADERS.iter().enumerate() {
        if found.headers[i] {
            headers.remove(name);
        }
    }
    if found.subprotocol {
        let kept: Vec<String> = subprotocols(headers)
            .filter(|p| !p.is_empty() && !p.starts_with(SUBPROTOCOL_PREFIX))
            .map(str::to_string)
            .collect();
        headers.remove(http::header::SEC_WEBSOCKET_PROTOCOL);
        if let Ok(v) = HeaderValue::from_str(&kept.join(", ")) {
            if !kept.is_empty() {
                headers.insert(http::header::SEC_WEBSOCKET_PROTOCOL, v);
            }
        }
    }
}

/// The control API's rule: `None` lets the call through; `Some` is the refusal (401
/// for a missing or wrong token, 403 while the API is off), logged and counted.
pub(crate) fn control(state: &AppState, headers: &HeaderMap, path: &str) -> Option<Response<Body>> {
    let failure = match state.access.control {
        ControlRule::Open => return None,
        ControlRule::Token(want) => {
            let ok = headers
                .get_all(http::header::AUTHORIZATION)
                .iter()
                .filter_map(|v| {
                    let v = trim(v.as_bytes());
                    let sp = v.iter().position(|b| *b == b' ')?;
                    let (scheme, rest) = v.split_at(sp);
                    scheme.eq_ignore_ascii_case(b"bearer").then(|| trim(rest))
                })
                .fold(Choice::from(0), |acc, t| acc | digest(t).ct_eq(&want));
            if bool::from(ok) {
                return None;
            }
            Failure::unauthorized(
                "The control API needs its token: send `Authorization: Bearer TOKEN` \
                 (the --control-token this aimock was started with)",
            )
        }
        ControlRule::Off(host) => Failure::client(
            403,
            "control_api_disabled",
            format!(
                "The control API is off: aimock listens on {host}, a non-loopback address. \
                 Start it with --control-token TOKEN (or AIMOCK_CONTROL_TOKEN) and send \
                 `Authorization: Bearer TOKEN`"
            ),
        ),
    };
    if let Some(m) = &state.metrics {
        m.refused("control");
    }
    let mut resp = respond(&failure, None, path);
    if failure.status() == 401 {
        resp.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static(CHALLENGE),
        );
    }
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::access::{AccessConfig, Secret};

    fn access(keys: &[&str]) -> Access {
        let mut c = Config::for_tests(vec![]);
        c.access = AccessConfig {
            api_keys: keys.iter().map(|k| Secret::new(*k)).collect(),
            control_token: None,
        };
        Access::new(&c)
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn every_carrier_is_read_and_one_key_admits() {
        let a = access(&["k1", "k2"]);
        for (name, value) in [
            ("authorization", "Bearer k1"),
            ("authorization", "bearer  k2 "),
            ("authorization", "Key k1"),
            ("x-api-key", "k2"),
            ("x-goog-api-key", "k1"),
            ("api-key", "k1"),
            ("xi-api-key", "k2"),
            (
                "sec-websocket-protocol",
                "realtime, openai-insecure-api-key.k1",
            ),
        ] {
            let v = a.check(&headers(&[(name, value)]), None);
            assert!(matches!(v, Verdict::Admitted(_)), "{name}: {value}: {v:?}");
        }
        assert!(matches!(
            a.check(&HeaderMap::new(), Some("alt=sse&key=k2")),
            Verdict::Admitted(Carriers { query: true, .. })
        ));
        // The client's own provider key beside aimock's: admitted, and only aimock's
        // carrier is marked for removal.
        let v = a.check(
            &headers(&[
                ("authorization", "Bearer sk-test-not-a-real-key"),
                ("x-api-key", "k1"),
            ]),
            None,
        );
        let Verdict::Admitted(c) = v else {
            panic!("{v:?}")
        };
        assert!(!c.authorization && c.headers[0]);
    }

    #[test]
    fn a_wrong_key_and_no_key_are_told_apart() {
        let a = access(&["k1"]);
        assert_eq!(
            a.check(&headers(&[("authorization", "Bearer k1x")]), Some("key=k")),
            Verdict::Wrong
        );
        assert_eq!(
            a.check(&headers(&[("authorization", "Basic k1")]), None),
            Verdict::Missing
        );
        assert_eq!(
            a.check(&headers(&[("x-api-key", " ")]), None),
            Verdict::Missing
        );
        assert_eq!(
            a.check(&HeaderMap::new(), Some("alt=sse")),
            Verdict::Missing
        );
    }

    #[test]
    fn the_control_rule_follows_the_address_and_the_token() {
        let mut c = Config::for_tests(vec![]);
        assert_eq!(Access::new(&c).control, ControlRule::Open);
        c.host = IpAddr::from([0, 0, 0, 0]);
        assert!(matches!(Access::new(&c).control, ControlRule::Off(_)));
        c.access.control_token = Some(Secret::new("t"));
        assert!(matches!(Access::new(&c).control, ControlRule::Token(_)));
    }
}

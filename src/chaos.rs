//! Chaos: deliberate faults, decided by a seeded random stream so a failing CI run can
//! be replayed exactly.
//!
//! Three faults, tried in this order for each request, the first that fires wins:
//! - **drop**: a 500 in the caller's provider error shape (`chaos_drop`);
//! - **malformed**: a 200 whose body is not JSON, or, for a replayed stream, one frame
//!   replaced by a broken one;
//! - **disconnect**: the connection is destroyed (before any body byte for a JSON reply,
//!   half way through a stream).
//!
//! Each rate resolves on its own, from the most specific level that sets it: the
//! `X-AIMock-Chaos-Drop|Malformed|Disconnect` request headers (clamped to [0, 1]), then
//! the matched fixture's `chaos`, then the server level: the rates `POST /__aimock/chaos`
//! set for the request's test id, else the run-time baseline it set without one, else
//! the server's `--chaos-*` flags. A run-time level replaces the one below it whole (a
//! rate it leaves out is off, not inherited), as the reference's scoped chaos does.
//!
//! # Design
//! The random stream is splitmix64 over a shared atomic counter: a request that needs a
//! decision takes the next three positions with one `fetch_add`, so there is no lock and
//! the n-th chaos decision depends only on the seed and n. With `--chaos-seed` the same
//! request order gets the same faults. Requests with every rate at zero take no position
//! at all (and cost three header look-ups). While no run-time rates are set, the
//! server level costs one atomic load ([`Overrides`]).
//!
//! Not here: where in the lifecycle chaos is rolled (`server::pipeline`), counting and
//! journaling the outcome (`metrics`, `journal`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;

use bytes::Bytes;
use http::HeaderValue;
use http_body_util::combinators::UnsyncBoxBody;
use serde_json::json;

use crate::cassette::model::{ChaosRates, ErrorReply};
use crate::providers::common::{Frame, PlanBody, RenderPlan};
use crate::respond::body::Body;

/// A fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A provider-shaped 500.
    Drop,
    /// A body that does not parse.
    Malformed,
    /// A destroyed connection.
    Disconnect,
}

impl Action {
    /// The name used in the journal, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Drop => "drop",
            Action::Malformed => "malformed",
            Action::Disconnect => "disconnect",
        }
    }
}

/// Which level supplied the rate that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// An `X-AIMock-Chaos-*` request header.
    Header,
    /// The matched fixture's `chaos`.
    Fixture,
    /// The server's `--chaos-*` flags or config.
    Server,
}

impl Level {
    /// The name used in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Header => "header",
            Level::Fixture => "fixture",
            Level::Server => "server",
        }
    }
}

/// The effective rate of each fault for one request, with where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Resolved {
    /// Drop, malformed, disconnect, in evaluation order.
    pub rates: [(f64, Level); 3],
}

impl Resolved {
    /// True when no fault can fire.
    pub(crate) fn is_off(&self) -> bool {
        self.rates.iter().all(|(r, _)| *r <= 0.0)
    }
}

/// A fault to inject into one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Which level's rate fired.
    pub level: Level,
}

const ACTIONS: [Action; 3] = [Action::Drop, Action::Malformed, Action::Disconnect];

/// Resolve each rate: header, else fixture, else server. `headers` are the values of
/// `X-AIMock-Chaos-Drop`, `-Malformed` and `-Disconnect`, as the pipeline finds them in
/// its one pass over the request headers (`server::known`).
pub(crate) fn resolve(
    headers: [Option<&HeaderValue>; 3],
    fixture: Option<&ChaosRates>,
    server: &ChaosRates,
) -> Resolved {
    let pick = |c: &ChaosRates, i: usize| match i {
        0 => c.drop,
        1 => c.malformed,
        _ => c.disconnect,
    };
    let mut rates = [(0.0, Level::Server); 3];
    for (i, slot) in rates.iter_mut().enumerate() {
        let header = headers[i]
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| !v.is_nan())
            .map(|v| v.clamp(0.0, 1.0));
        *slot = if let Some(r) = header {
            (r, Level::Header)
        } else if let Some(r) = fixture.and_then(|f| pick(f, i)) {
            (r, Level::Fixture)
        } else {
            (pick(server, i).unwrap_or(0.0), Level::Server)
        };
    }
    Resolved { rates }
}

/// The seeded decision stream. Shared by every request of a server.
#[derive(Debug)]
pub struct Chaos {
    seed: u64,
    /// Next unused position of the stream.
    next: AtomicU64,
    /// Server-level rates.
    server: ChaosRates,
    /// Server-level rates set at run time (`POST /__aimock/chaos`).
    overrides: Overrides,
}

/// Server-level chaos set at run time: a baseline that replaces the flags' rates, and
/// rates per test id that replace the baseline for that test's requests.
///
/// # Design
/// `armed` is raised while anything is set, so a request on a server nobody set chaos
/// on at run time pays one atomic load, not a lock; rejected alternative: one
/// `RwLock` read per request, which the perf guard's replay path would feel.
#[derive(Debug, Default)]
pub struct Overrides {
    armed: AtomicBool,
    scopes: RwLock<Scopes>,
}

#[derive(Debug, Default)]
struct Scopes {
    base: Option<ChaosRates>,
    by_test: HashMap<String, ChaosRates>,
}

/// The scope a run-time chaos setting applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every request without a setting of its own test id.
    Server,
    /// The requests of this test id.
    Test(&'a str),
}

impl Overrides {
    /// The rates requests of `test_id` are held to at the server level, when any
    /// were set at run time.
    fn rates_for(&self, test_id: &str) -> Option<ChaosRates> {
        let s = self.scopes.read().unwrap_or_else(|p| p.into_inner());
        s.by_test.get(test_id).copied().or(s.base)
    }

    /// Replace the rates of `scope`.
    pub fn set(&self, scope: Scope<'_>, rates: ChaosRates) {
        let mut s = self.scopes.write().unwrap_or_else(|p| p.into_inner());
        match scope {
            Scope::Server => s.base = Some(rates),
            Scope::Test(t) => {
                s.by_test.insert(t.to_string(), rates);
            }
        }
        self.armed.store(true, Ordering::Release);
    }

    /// Remove the rates of `scope` (a test id then falls back to the baseline, the
    /// baseline to the flags).
    pub fn clear(&self, scope: Scope<'_>) {
        let mut s = self.scopes.write().unwrap_or_else(|p| p.into_inner());
        match scope {
            Scope::Server => s.base = None,
            Scope::Test(t) => {
                s.by_test.remove(t);
            }
        }
        self.armed
            .store(s.base.is_some() || !s.by_test.is_empty(), Ordering::Release);
    }

    /// Remove every run-time rate.
    pub fn clear_all(&self) {
        let mut s = self.scopes.write().unwrap_or_else(|p| p.into_inner());
        *s = Scopes::default();
        self.armed.store(false, Ordering::Release);
    }

    /// The run-time rates of `scope` itself, if set (no fallback).
    pub fn get(&self, scope: Scope<'_>) -> Option<ChaosRates> {
        let s = self.scopes.read().unwrap_or_else(|p| p.into_inner());
        match scope {
            Scope::Server => s.base,
            Scope::Test(t) => s.by_test.get(t).copied(),
        }
    }

    /// How many test ids have rates of their own.
    pub fn scoped_tests(&self) -> usize {
        let s = self.scopes.read().unwrap_or_else(|p| p.into_inner());
        s.by_test.len()
    }
}

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Chaos {
    /// A stream with this seed and these server-level rates.
    pub fn new(seed: u64, server: ChaosRates) -> Chaos {
        Chaos {
            seed,
            next: AtomicU64::new(0),
            server,
            overrides: Overrides::default(),
        }
    }

    /// The server-level rates set at run time.
    pub fn overrides(&self) -> &Overrides {
        &self.overrides
    }

    /// The server-level rates requests of `test_id` are held to: a run-time setting
    /// for the test id, else the run-time baseline, else the flags'.
    pub fn effective(&self, test_id: &str) -> ChaosRates {
        if self.overrides.armed.load(Ordering::Acquire) {
            if let Some(r) = self.overrides.rates_for(test_id) {
                return r;
            }
        }
        self.server
    }

    /// A seed for runs that did not pass `--chaos-seed`: different every run, and
    /// logged so the run can still be reproduced.
    pub fn random_seed() -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.finish()
    }

    /// The seed in use.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The server-level rates.
    pub fn server_rates(&self) -> &ChaosRates {
        &self.server
    }

    /// Resolve this request's rates and decide. `None`: no fault. `headers`: the three
    /// chaos header values, as for [`resolve`]; `test_id`: the request's, for the rates
    /// set at run time.
    pub fn roll(
        &self,
        headers: [Option<&HeaderValue>; 3],
        fixture: Option<&ChaosRates>,
        test_id: &str,
    ) -> Option<Decision> {
        let scoped;
        let server = if self.overrides.armed.load(Ordering::Acquire) {
            scoped = self.effective(test_id);
            &scoped
        } else {
            &self.server
        };
        let resolved = resolve(headers, fixture, server);
        if resolved.is_off() {
            return None;
        }
        let pos = self.next.fetch_add(3, Ordering::Relaxed);
        decide(&resolved, |k| self.unit(pos + k))
    }

    /// Uniform in [0, 1) at position `pos` of the stream.
    fn unit(&self, pos: u64) -> f64 {
        let x = mix(self
            .seed
            .wrapping_add(pos.wrapping_add(1).wrapping_mul(GAMMA)));
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Drop, then malformed, then disconnect: each fires when its draw falls under its rate.
pub(crate) fn decide(r: &Resolved, mut draw: impl FnMut(u64) -> f64) -> Option<Decision> {
    for (k, ((rate, level), action)) in r.rates.iter().zip(ACTIONS).enumerate() {
        if *rate > 0.0 && draw(k as u64) < *rate {
            return Some(Decision {
                action,
                level: *level,
            });
        }
    }
    None
}

/// The body a malformed reply carries.
pub(crate) const MALFORMED_BODY: &str = "{malformed json: <<<chaos>>>";

/// A drop: a 500 `chaos_drop`, which `respond` turns into the caller's
/// provider error shape.
pub(crate) fn drop_reply() -> ErrorReply {
    ErrorReply {
        status: 500,
        message: "Chaos: request dropped".into(),
        kind: Some("server_error".into()),
        param: None,
        code: Some(json!("chaos_drop")),
        retry_after: None,
    }
}

/// A malformed JSON reply: status 200, a body no JSON parser accepts.
pub(crate) fn malformed_plan() -> RenderPlan {
    RenderPlan {
        status: 200,
        content_type: "application/json",
        headers: Vec::new(),
        body: PlanBody::Full(Bytes::from_static(MALFORMED_BODY.as_bytes())),
    }
}

/// Replace one frame in the middle of a stream with a broken one in the stream's own
/// framing, so the client's parser fails part way through rather than at once.
pub(crate) fn corrupt_stream(frames: &mut [Frame], content_type: &str) {
    if frames.is_empty() {
        return;
    }
    let i = frames.len() / 2;
    let broken = if content_type.contains("event-stream") {
        Bytes::from(format!("data: {MALFORMED_BODY}\n\n"))
    } else if content_type.contains("amazon.eventstream") {
        // A prelude whose lengths and CRC cannot be right: the decoder rejects it.
        let mut b = frames[i].bytes.to_vec();
        for x in b.iter_mut().take(12) {
            *x ^= 0xA5;
        }
        Bytes::from(b)
    } else if content_type.contains("ndjson") {
        Bytes::from(format!("{MALFORMED_BODY}\n"))
    } else {
        Bytes::from_static(MALFORMED_BODY.as_bytes())
    };
    frames[i].bytes = broken;
}

/// A disconnect before any byte of the reply: the body fails at once, so hyper drops
/// the connection instead of finishing the response.
pub(crate) fn disconnect_response() -> http::Response<Body> {
    http::Response::new(Body::Boxed(UnsyncBoxBody::new(Aborted)))
}

/// A body whose first poll fails.
struct Aborted;

impl http_body::Body for Aborted {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "chaos disconnect",
        ))))
    }
}

/// Where a replayed stream is cut by a disconnect: after half its frames (at least one,
/// so the client has seen the stream start).
pub(crate) fn disconnect_point(frames: usize) -> u32 {
    u32::try_from((frames / 2).max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::known::KnownHeaders;
    use http::HeaderMap;

    fn rates(d: f64, m: f64, x: f64) -> ChaosRates {
        ChaosRates {
            drop: Some(d),
            malformed: Some(m),
            disconnect: Some(x),
        }
    }

    #[test]
    fn headers_beat_the_fixture_which_beats_the_server_rate_by_rate() {
        let mut h = HeaderMap::new();
        h.insert("x-aimock-chaos-drop", "7".parse().unwrap());
        let fixture = ChaosRates {
            malformed: Some(0.25),
            ..Default::default()
        };
        let r = resolve(
            KnownHeaders::scan(&h).chaos,
            Some(&fixture),
            &rates(0.1, 0.2, 0.3),
        );
        assert_eq!(
            r.rates,
            [
                (1.0, Level::Header),
                (0.25, Level::Fixture),
                (0.3, Level::Server)
            ]
        );
        h.insert("x-aimock-chaos-drop", "nonsense".parse().unwrap());
        let r = resolve(KnownHeaders::scan(&h).chaos, None, &ChaosRates::default());
        assert!(r.is_off(), "an unparsable header falls back, not to 1");
    }

    #[test]
    fn the_first_fault_whose_draw_is_under_its_rate_wins() {
        let r = Resolved {
            rates: [
                (0.5, Level::Server),
                (0.5, Level::Server),
                (0.5, Level::Server),
            ],
        };
        let draws = [0.9, 0.1, 0.0];
        let d = decide(&r, |k| draws[k as usize]).unwrap();
        assert_eq!(d.action, Action::Malformed);
        assert_eq!(decide(&r, |_| 0.99), None);
    }

    #[test]
    fn the_same_seed_gives_the_same_decisions_and_rates_hold() {
        let run = |seed| {
            let c = Chaos::new(seed, rates(0.1, 0.1, 0.1));
            (0..10_000)
                .map(|_| c.roll([None; 3], None, "t").map(|d| d.action))
                .collect::<Vec<_>>()
        };
        let a = run(42);
        assert_eq!(a, run(42));
        assert_ne!(a, run(43));
        let count = |x| a.iter().filter(|d| **d == Some(x)).count();
        // Expected 1000, 900, 810 of 10 000.
        assert!(
            (850..1150).contains(&count(Action::Drop)),
            "{}",
            count(Action::Drop)
        );
        assert!((750..1050).contains(&count(Action::Malformed)));
        assert!((660..960).contains(&count(Action::Disconnect)));
    }

    #[test]
    fn run_time_rates_replace_the_level_below_them_whole_per_test_id() {
        let c = Chaos::new(1, rates(0.5, 0.0, 0.0));
        assert_eq!(c.effective("a"), rates(0.5, 0.0, 0.0));
        let only_malformed = ChaosRates {
            malformed: Some(1.0),
            ..Default::default()
        };
        c.overrides().set(Scope::Test("a"), only_malformed);
        assert_eq!(c.effective("a"), only_malformed, "no drop inherited");
        assert_eq!(c.effective("b"), rates(0.5, 0.0, 0.0));
        assert_eq!(
            c.roll([None; 3], None, "a").map(|d| d.action),
            Some(Action::Malformed)
        );
        c.overrides().set(Scope::Server, ChaosRates::default());
        assert_eq!(c.effective("b"), ChaosRates::default());
        assert_eq!(c.roll([None; 3], None, "b"), None);
        c.overrides().clear(Scope::Test("a"));
        assert_eq!(c.effective("a"), ChaosRates::default());
        c.overrides().clear(Scope::Server);
        assert_eq!(c.effective("a"), rates(0.5, 0.0, 0.0));
        assert!(!c.overrides().armed.load(Ordering::Relaxed));
    }

    #[test]
    fn a_corrupted_sse_stream_keeps_its_first_and_last_frames() {
        let mut frames: Vec<Frame> = (0..4)
            .map(|i| Frame {
                bytes: Bytes::from(format!("data: {{\"i\":{i}}}\n\n")),
                paced: true,
            })
            .collect();
        corrupt_stream(&mut frames, "text/event-stream");
        assert_eq!(frames[0].bytes, "data: {\"i\":0}\n\n");
        assert_eq!(frames[2].bytes, "data: {malformed json: <<<chaos>>>\n\n");
        assert_eq!(frames[3].bytes, "data: {\"i\":3}\n\n");
    }
}

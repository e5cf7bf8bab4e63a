//! What the realtime WebSocket protocols share: the [`Protocol`] every pure state
//! machine implements (a client message in, server events out), the [`Answer`] the
//! server hands back for a turn, and the per-connection id generator.
//!
//! A protocol never touches a socket, the fixture store or a clock: a message that needs
//! an answer from the cassettes returns a [`Step`] holding the provider-neutral
//! [`ChatRequest`] for it; the server (`server::realtime`) matches it exactly as it
//! matches an HTTP request and calls [`Protocol::answer`] with what it found. So the
//! machines are unit-tested without sockets, and the I/O is written once.
//!
//! Not here: the protocols themselves (`openai::realtime`, `openai::responses::socket`,
//! `gemini::live`), and framing (tokio-tungstenite, `server::websocket`).

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::cassette::Fixture;
use crate::providers::common::collapse::Collapsed;
use crate::providers::common::RenderContext;
use crate::request::ChatRequest;

/// One server event: a JSON value sent as one text frame.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Emit {
    /// The event.
    pub value: Value,
    /// A streamed slice (a text or arguments delta): waited for as the fixture's timing
    /// asks, as a paced frame of an HTTP stream is.
    pub paced: bool,
}

impl Emit {
    /// An event sent at once.
    pub(crate) fn now(value: Value) -> Emit {
        Emit {
            value,
            paced: false,
        }
    }

    /// A streamed slice.
    pub(crate) fn paced(value: Value) -> Emit {
        Emit { value, paced: true }
    }
}

/// What a client message leads to.
#[derive(Debug, Default)]
pub(crate) struct Step {
    /// Events to send first, in order.
    pub events: Vec<Emit>,
    /// A turn to answer from the cassettes, after the events.
    pub turn: Option<Box<ChatRequest>>,
    /// Close the connection after the events (code, reason).
    pub close: Option<(u16, String)>,
}

impl Step {
    /// Send these events, nothing more.
    pub(crate) fn send(events: Vec<Emit>) -> Step {
        Step {
            events,
            ..Step::default()
        }
    }

    /// Send one event.
    pub(crate) fn one(event: Value) -> Step {
        Step::send(vec![Emit::now(event)])
    }
}

/// What the server found for a turn.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer<'a> {
    /// A fixture matched (an error fixture too), with the render context the server
    /// made for it (deterministic seed, chunk size).
    Fixture(&'a Fixture, &'a RenderContext),
    /// Nothing matched and the server is lenient: the message names the closest
    /// fixtures. (A strict miss never reaches the protocol: the server closes 1008.)
    Miss(&'a str),
}

/// What an upstream server event is to a turn, for the record bridge
/// (`server::realtime::bridge`), which relays a bridged session and saves its turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// Of the session, not of a turn (`session.created`, `setupComplete`, item acks).
    Session,
    /// Opens a turn (`response.created`).
    Start,
    /// Inside a turn.
    Event,
    /// A streamed slice inside a turn (text, arguments): its arrival is timed for
    /// `recordedTimings`, as replay paces these.
    Slice,
    /// Ends a turn (`response.done`, `turnComplete`, a Live `toolCall`).
    End,
    /// An error event; it is the turn's answer (and ends it) when `ends_turn`.
    Error {
        /// The protocol answers a failed turn with this event alone.
        ends_turn: bool,
    },
}

/// A client message of a session, as the record bridge logs it: its text, and whether
/// it made a turn.
pub(crate) type Logged = (String, bool);

/// A realtime protocol's state machine, one per connection.
pub(crate) trait Protocol: Send {
    /// The provider key for the journal and metrics (`openai`, `gemini`).
    fn provider(&self) -> &'static str;

    /// The route template for metrics (bounded cardinality).
    fn route(&self) -> &'static str;

    /// The events sent unprompted when the connection opens.
    fn open(&mut self) -> Step {
        Step::default()
    }

    /// One text message from the client.
    fn on_text(&mut self, text: &str) -> Step;

    /// The events for a turn's answer. `turn` is the request the step carried (with
    /// the scope the server filled in).
    fn answer(&mut self, turn: &ChatRequest, answer: Answer<'_>) -> Vec<Emit>;

    /// Whether `text` asks to cancel the turn being sent (OpenAI Realtime's
    /// `response.cancel`); read while a paced turn is on the wire.
    fn is_cancel(&self, _text: &str) -> bool {
        false
    }

    /// The events that end a turn cancelled after `sent` of its events went out.
    fn cancel(&mut self, _sent: usize) -> Vec<Emit> {
        Vec::new()
    }

    /// The protocol's error event, sent before a close the server decides on (a
    /// strict miss): the full message, which a close reason (123 bytes) cannot hold.
    /// `None` where the protocol's errors are close reasons alone (Gemini Live).
    fn error_event(&mut self, status: u16, code: &str, message: &str) -> Option<Value>;

    /// What an upstream event is to a turn (record mode). By default, nothing: a
    /// protocol that does not say is relayed but never recorded.
    fn mark(&self, _event: &Value) -> Mark {
        Mark::Session
    }

    /// One upstream turn's events (from its first to its last, as [`Protocol::mark`]
    /// bounds them) read like their HTTP twin's stream.
    fn collapse_turn(&self, _events: &[Value]) -> Collapsed {
        Collapsed::default()
    }

    /// What to send a newly opened upstream so it stands where the session does, given
    /// the client's messages so far (the last made the turn that missed). By default
    /// all of them, in order (the bridge waits out the upstream's answer to each earlier
    /// turn and drops what the client already had).
    fn bridge_opening(&self, log: &[Logged]) -> Vec<Logged> {
        log.to_vec()
    }

    /// A bridged turn was recorded as `fx`: take it as the turn's answer, as replay will
    /// (the events are not sent: the client had the upstream's). `upstream` are the
    /// turn's upstream events, for ids the client will use from now on.
    fn recorded(
        &mut self,
        turn: &ChatRequest,
        fx: &Fixture,
        ctx: &RenderContext,
        _upstream: &[Value],
    ) {
        let _ = self.answer(turn, Answer::Fixture(fx, ctx));
    }
}

/// Alphanumerics for generated ids.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Ids for one connection (`event_…`, `item_…`, `resp_…`): distinct within it, derived
/// from a seed and a counter, so a test that fixes the seed sees fixed ids.
#[derive(Debug, Clone)]
pub(crate) struct Ids {
    seed: [u8; 32],
    next: u64,
}

impl Ids {
    /// Ids derived from `seed`.
    pub(crate) fn new(seed: [u8; 32]) -> Ids {
        Ids { seed, next: 0 }
    }

    /// Ids for a new connection: seeded from the clock and a process-wide counter.
    pub(crate) fn fresh() -> Ids {
        use std::sync::atomic::{AtomicU64, Ordering};
        static CONNECTIONS: AtomicU64 = AtomicU64::new(0);
        let n = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut h = Sha256::new();
        h.update(n.to_le_bytes());
        h.update(now.to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        Ids::new(h.finalize().into())
    }

    /// `prefix` and 21 alphanumerics (the length real realtime ids have).
    pub(crate) fn next(&mut self, prefix: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.seed);
        h.update(self.next.to_le_bytes());
        self.next += 1;
        let digest = h.finalize();
        let mut out = String::with_capacity(prefix.len() + 21);
        out.push_str(prefix);
        out.extend(
            digest[..21]
                .iter()
                .map(|&b| ALPHABET[usize::from(b) % ALPHABET.len()] as char),
        );
        out
    }
}

/// A parameter of an upgrade request's query string, percent-decoded.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            let v = v.replace('+', " ");
            percent_encoding::percent_decode_str(&v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// The `type` of a client event, if it has one.
pub(crate) fn event_type(v: &Value) -> Option<&str> {
    v.get("type").and_then(|t| t.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_fixed_by_the_seed() {
        let mut a = Ids::new([1; 32]);
        let mut b = Ids::new([1; 32]);
        let x = a.next("event_");
        assert_eq!(x, b.next("event_"));
        assert_eq!(x.len(), "event_".len() + 21);
        assert_ne!(x, a.next("event_"));
        assert_ne!(Ids::fresh().next("e"), Ids::fresh().next("e"));
    }
}

//! Recording the turns of a realtime WebSocket session bridged upstream: what the bridge
//! (`server::realtime::bridge`) asks of the recorder. The upstream base URL and TLS
//! configuration a provider's socket is opened with, and one finished turn saved as a
//! fixture: its match from the turn's neutral request (`matchkey`, as an HTTP
//! recording's), its `response` from the events the protocol collapsed, its
//! `recordedTimings` from the arrival of the turn's streamed slices, every value through
//! the secret detector, served at once and appended to the provider's cassette.
//!
//! Not here: the socket I/O and the events' meaning (each protocol's `collapse_turn`).
//! A raw fallback, as HTTP has for replies it cannot read, is not kept for sockets: a
//! turn is already in the neutral form, and a turn that collapses to nothing is saved
//! with the recorder's usual warning, so the cassette says what happened.

use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use serde_json::Value;

use super::{capture, persist, Recorder};
use crate::cassette::Fixture;
use crate::providers::common::collapse::Collapsed;
use crate::request::ChatRequest;

impl Recorder {
    /// The upstream base URL configured for `provider`'s sockets, if any.
    pub(crate) fn socket_upstream(&self, provider: &str) -> Option<&Uri> {
        self.config.upstreams.get(provider)
    }

    /// The TLS client configuration for `wss://` upstreams.
    pub(crate) fn socket_tls(&self) -> Arc<rustls::ClientConfig> {
        self.socket_tls.clone()
    }

    /// Longest wait for an upstream's handshake (the HTTP head timeout).
    pub(crate) fn connect_timeout(&self) -> Duration {
        self.config.head_timeout
    }

    /// Longest silence from an upstream while a turn is expected (the idle timeout).
    pub(crate) fn idle_timeout(&self) -> Duration {
        self.config.idle_timeout
    }

    /// Relay only (`--proxy-only`): nothing is saved.
    pub(crate) fn proxy_only(&self) -> bool {
        self.config.proxy_only
    }

    /// Save one bridged turn of `provider` asked as `req` and answered as `collapsed`,
    /// its streamed slices having arrived at `slice_times` (from when the turn was sent
    /// upstream). Returns the fixture as served: the bridge answers its protocol
    /// machine with it, so the session's state is what replay will build.
    pub(crate) fn save_socket_turn(
        &self,
        provider: &str,
        req: &ChatRequest,
        collapsed: &Collapsed,
        slice_times: &[Duration],
    ) -> Option<Arc<Fixture>> {
        let (response, warnings) = collapsed.to_response();
        let timings = if collapsed.error.is_none() {
            capture::recorded_timings(slice_times)
        } else {
            None
        };
        self.writes.start();
        let ctx = self.save_context();
        // No `recordedRequest`: a turn is a frame inside a WebSocket session, not a
        // request that could be sent again on its own.
        persist(
            provider,
            req,
            Value::Null,
            response,
            warnings,
            timings,
            &ctx,
        )
    }
}

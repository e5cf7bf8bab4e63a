//! aimock: a record/replay gateway for AI provider APIs.
//!
//! # Layout
//! A request flows down through these modules, and dependencies point the same way
//! (no module imports one that imports it back; `farm-studio look` shows no circle):
//!
//! ```text
//! main -> app -> server (router -> pipeline; control, catalogue)
//!                  |-> record   (forward, tee, deferred additions, writer)
//!                  |-> chaos, journal, metrics
//!                  v
//!                respond  (the one error path; body, pacing, plans into responses)
//!                  v
//!                providers (Surface + dispatch -> openai, anthropic, ... -> common)
//!                  v
//!                cassette (format, load, match, live store, watch) -> request, codec
//! ```
//! `config` (resolved settings, the config file, record settings) and `secrets` (the
//! credential detector) sit below whatever reads them.
//!
//! - [`request`]: the provider-neutral request every surface is parsed into.
//! - [`cassette`]: the cassette format, loading, matching, the live store, hot reload.
//! - [`codec`]: pure SSE, NDJSON and AWS EventStream framing.
//! - [`providers`]: each provider's wire format, one folder per provider family, each
//!   speaking the same verbs over its own `Op` (parse requests, render replies and
//!   errors, collapse recordings, recognise the end of its stream); `Surface` and the
//!   dispatch in `providers/mod.rs`, the shared toolbox below them in `common`.
//! - `respond`: the answer side shared by everything that answers: failures classified
//!   by source into a status and the caller's provider shape, logged once; the body
//!   type; streaming physics; render plans into hyper responses.
//! - [`server`]: the accept loop and shared state, routing, the request lifecycle, the
//!   `/__aimock/*` control API, the models lists, the WebSocket upgrade point and the
//!   realtime surfaces' WebSocket I/O (their protocols are pure state machines under
//!   `providers`), TLS beside plain HTTP.
//! - [`record`]: record mode, with the recorder's own state (deferred additions, the
//!   cassette writer and the log of its writes), created at start-up, closed at
//!   shutdown.
//! - [`config`] / [`cli`]: raw arguments, the resolved configuration, the JSON config
//!   file (`config::file`), record settings (`config::record`).
//! - [`journal`]: the bounded log of handled requests.
//! - [`secrets`]: the credential detector every written value passes through.
//! - `chaos`: seeded fault injection (drop, malformed, disconnect).
//! - `metrics`: Prometheus counters and histograms.
//! - [`services`]: the mounted non-LLM services (MCP, A2A, AG-UI, vector databases),
//!   each a prefix, a handler, a health report and a reset.
//! - [`mock_server`]: the Rust test API (`MockServer`, fixtures built in code).
//! - [`import`]: `aimock import`, other tools' cassettes turned into fixtures through
//!   the recorder's own collapse.
//! - [`drift`]: `aimock drift`, stored requests resent to compare reply shapes.
//! - [`app`]: wiring and start-up.
//! - [`mock_server`]: the Rust test API ([`MockServer`], [`Fixture`]), on the same
//!   start-up and fixture store.
//! - [`check`]: `aimock check`, cassette validation without serving.
#![warn(missing_docs)]
// Items nothing outside the crate needs are `pub(crate)`, so dead code is reported.
#![warn(unreachable_pub)]
// Two calls are allowed, marked where they are (`record::writer`, the writer thread's
// priority; `services::vector::search`, the AVX2 copy of the first-pass dot product).
#![deny(unsafe_code)]
// The library exists for the binary and its tests: its docs are read with private items
// (`cargo doc --document-private-items`), where these links resolve.
#![allow(rustdoc::private_intra_doc_links)]

pub mod app;
pub mod cassette;
pub(crate) mod chaos;
pub mod check;
pub mod cli;
pub mod codec;
pub mod config;
pub mod drift;
#[doc(hidden)]
pub mod fuzzing;
pub mod import;
pub mod journal;
pub(crate) mod metrics;
pub mod mock_server;
pub mod normalize;
pub mod probe;
pub mod providers;
pub mod record;
pub mod request;
pub(crate) mod respond;
pub mod secrets;
pub mod server;
pub mod services;
pub mod shutdown;
#[cfg(test)]
mod testing;

pub use mock_server::{Fixture, MockServer, ReceivedRequest};

//! aimock: a record/replay gateway for AI provider APIs.
//!
//! # Layout
//! A request flows down through these modules, and dependencies point the same way:
//!
//! ```text
//! main -> app -> server (router -> pipeline -> pacing/body)
//!                   |-> providers (parse wire request, render reply)   -> codec
//!                   |     dispatch (mod.rs) -> openai, anthropic, ... -> common
//!                   |-> cassette  (load, match, live store)            -> request
//! ```
//!
//! - [`request`]: the provider-neutral request every surface is parsed into.
//! - [`cassette`]: the cassette format, loading, matching and the live store.
//! - [`codec`]: pure SSE, NDJSON and AWS EventStream framing.
//! - [`providers`]: each provider's wire format, one folder per provider family, each
//!   speaking the same verbs over its own `Op` (parse requests, render replies and
//!   errors, collapse recordings, recognise the end of its stream); `Surface` and the
//!   dispatch in `providers/mod.rs`, the shared toolbox below them in
//!   `providers::common`.
//! - [`server`]: hyper service, lifecycle pipeline, the one error path
//!   (`server::respond`), streaming physics.
//! - [`config`] / [`cli`]: raw arguments, the JSON config file (`config::file`), record
//!   settings (`config::record`), and
//!   the resolved configuration.
//! - [`journal`]: the bounded log of handled requests.
//! - [`secrets`]: the credential detector every written value passes through.
//! - [`chaos`]: seeded fault injection (drop, malformed, disconnect).
//! - [`metrics`]: Prometheus counters and histograms.
//! - [`app`]: wiring and start-up.
//! - [`check`]: `aimock check`, cassette validation without serving.
#![warn(missing_docs)]
// Items nothing outside the crate needs are `pub(crate)`, so dead code is reported.
#![warn(unreachable_pub)]
// One call is allowed, marked where it is (`record::writer`, the writer thread's priority).
#![deny(unsafe_code)]

pub mod app;
pub mod cassette;
pub(crate) mod chaos;
pub mod check;
pub mod cli;
pub mod codec;
pub mod config;
pub mod journal;
pub(crate) mod metrics;
pub mod providers;
pub mod record;
pub mod request;
pub(crate) mod respond;
pub mod secrets;
pub mod server;
pub mod shutdown;
#[cfg(test)]
mod testing;

//! The toolbox under the providers: what every provider's verbs use and no provider
//! owns. Each file is one topic:
//!
//! - [`parse`]: [`RequestParts`], [`ParseError`], the JSON-object body.
//! - [`plan`]: [`RenderPlan`], [`Frame`], [`FrameWriter`]: a reply as data.
//! - [`context`]: [`RenderContext`], deterministic ids and timestamps.
//! - [`json`]: compact JSON text as replies send it.
//! - [`chunk`]: slicing streamed text.
//! - [`embedding`]: input lists, deterministic vectors, float32 base64.
//! - [`usage`]: token counts, pinned or estimated, one rule for every provider.
//! - [`error`]: [`ErrorKind`], why an error reply is sent.
//! - [`answer`]: the reply-kind check every renderer makes.
//! - [`stream_end`]: [`Signal`](stream_end::Signal), what a stream's frame says about its end.
//! - [`collapse`]: [`Collapsed`](collapse::Collapsed), a recorded reply read back.
//! - [`native`]: what the providers' native layers (`items`, `native`) share.
//! - [`timestamp`]: RFC 3339 timestamps as providers print them.
//! - [`skim`]: building blocks for request fast paths.
//! - [`upload`]: multipart forms as parsers read them, and media requests' 400s.
//! - [`media`]: base64 and content types of media replies.
//! - [`service`]: text inputs and similarity for search, rerank and moderation.
//! - [`socket`]: what the realtime WebSocket protocols share (the state-machine trait).
//!
//! Not here: anything that names one provider, and the dispatch (`providers/mod.rs`).
//! Dependencies point down only: providers use this module; it uses none of them.

pub(crate) mod answer;
pub(crate) mod chunk;
pub(crate) mod collapse;
pub(crate) mod context;
pub(crate) mod embedding;
pub(crate) mod error;
pub(crate) mod json;
pub(crate) mod media;
pub(crate) mod native;
pub(crate) mod parse;
pub(crate) mod plan;
pub(crate) mod service;
pub(crate) mod skim;
pub(crate) mod socket;
pub(crate) mod stream_end;
pub(crate) mod timestamp;
pub(crate) mod upload;
pub(crate) mod usage;

pub(crate) use chunk::chunk_text;
pub(crate) use context::RenderContext;
pub(crate) use error::ErrorKind;
pub(crate) use json::{json_str, json_text, json_value};
pub(crate) use parse::{json_body, ParseError, RequestParts};
pub(crate) use plan::{Frame, FrameWriter, PlanBody, RenderPlan};
pub(crate) use usage::estimate_tokens;

//! The end of an upstream stream: one decoded frame as a provider's `stream_end` sees
//! it ([`StreamFrame`]), and what it says ([`Signal`]).
//!
//! Not here: the framing (the recorder's `record::capture` decodes SSE, NDJSON and
//! EventStream and hands each frame over), and each provider's terminal words (its
//! `stream_end`).

use std::borrow::Cow;

use serde_json::Value;

/// One decoded frame of an upstream stream.
#[derive(Debug, Clone, Copy)]
pub enum StreamFrame<'a> {
    /// A server-sent event: its `event:` name, if any, and its data.
    Sse {
        /// The `event:` line.
        event: Option<&'a str>,
        /// The joined `data:` lines.
        data: &'a str,
    },
    /// One NDJSON line.
    Line(&'a [u8]),
    /// One AWS EventStream message.
    Event {
        /// The `:message-type` header.
        message_type: Option<&'a str>,
        /// The `:event-type` header.
        event_type: Option<&'a str>,
        /// The payload.
        payload: &'a [u8],
    },
}

/// What a frame told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Nothing special.
    None,
    /// The provider's terminal event: the answer is complete, more may follow
    /// (Converse `messageStop` before `metadata`).
    Terminal,
    /// The very last event: collapse now.
    Final,
}

/// The type of a server-sent event: its `event:` name, else its data's `type` field.
pub(crate) fn sse_type<'a>(event: Option<&'a str>, data: &str) -> Option<Cow<'a, str>> {
    event.map(Cow::Borrowed).or_else(|| {
        serde_json::from_str::<Value>(data)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(String::from))
            .map(Cow::Owned)
    })
}

//! Watching a relayed upstream stream: frame boundaries and their arrival times (for
//! `recordedTimings`), and the provider's terminal event (after which a client may hang
//! up without costing the recording).

use std::time::Duration;

use base64::Engine;
use bytes::BytesMut;
use serde_json::Value;

use crate::codec::eventstream::EventStreamDecoder;
use crate::codec::ndjson::LineDecoder;
use crate::codec::sse::SseDecoder;
use crate::codec::Decoder;

enum Framing {
    Sse(SseDecoder),
    Ndjson(LineDecoder),
    EventStream(EventStreamDecoder),
    /// A body with no frames (JSON): it ends at EOF.
    Whole,
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

/// Incremental frame watcher for one upstream body.
pub struct StreamWatch {
    framing: Framing,
    buf: BytesMut,
    /// Arrival time of each complete frame, from the moment the request was sent.
    pub frame_times: Vec<Duration>,
    /// The terminal event has been seen.
    pub terminal: bool,
    /// The final event has been seen.
    pub final_seen: bool,
    /// The framing broke (bad CRC, oversized frame): timings and terminal detection stop.
    pub broken: bool,
}

impl StreamWatch {
    /// A watcher for a body of `content_type`.
    pub fn new(content_type: &str) -> StreamWatch {
        let ct = content_type.to_ascii_lowercase();
        let framing = if ct.contains("event-stream") && !ct.contains("amazon") {
            Framing::Sse(SseDecoder::new())
        } else if ct.contains("vnd.amazon.eventstream") {
            Framing::EventStream(EventStreamDecoder::new())
        } else if ct.contains("ndjson") || ct.contains("stream+json") {
            Framing::Ndjson(LineDecoder::new())
        } else {
            Framing::Whole
        };
        StreamWatch {
            framing,
            buf: BytesMut::new(),
            frame_times: Vec::new(),
            terminal: false,
            final_seen: false,
            broken: false,
        }
    }

    /// True for framed (streaming) bodies.
    pub fn is_stream(&self) -> bool {
        !matches!(self.framing, Framing::Whole)
    }

    /// Feed a chunk that arrived at `at`.
    pub fn push(&mut self, chunk: &[u8], at: Duration) {
        if self.broken || matches!(self.framing, Framing::Whole) {
            return;
        }
        self.buf.extend_from_slice(chunk);
        loop {
            let signal = match &mut self.framing {
                Framing::Sse(d) => match d.decode(&mut self.buf) {
                    Ok(Some(ev)) => sse_signal(ev.event.as_deref(), &ev.data),
                    Ok(None) => break,
                    Err(_) => {
                        self.broken = true;
                        break;
                    }
                },
                Framing::Ndjson(d) => match d.decode(&mut self.buf) {
                    Ok(Some(line)) => ndjson_signal(&line),
                    Ok(None) => break,
                    Err(_) => {
                        self.broken = true;
                        break;
                    }
                },
                Framing::EventStream(d) => match d.decode(&mut self.buf) {
                    Ok(Some(msg)) => eventstream_signal(
                        msg.header_str(":message-type"),
                        msg.header_str(":event-type"),
                        &msg.payload,
                    ),
                    Ok(None) => break,
                    Err(_) => {
                        self.broken = true;
                        break;
                    }
                },
                Framing::Whole => break,
            };
            self.frame_times.push(at);
            match signal {
                Signal::None => {}
                Signal::Terminal => self.terminal = true,
                Signal::Final => {
                    self.terminal = true;
                    self.final_seen = true;
                }
            }
        }
        if self.broken {
            self.buf.clear();
        }
    }
}

fn sse_signal(event: Option<&str>, data: &str) -> Signal {
    let data = data.trim();
    if data == "[DONE]" {
        return Signal::Final;
    }
    let kind = event.map(String::from).or_else(|| {
        serde_json::from_str::<Value>(data)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(String::from))
    });
    match kind.as_deref() {
        // Anthropic; Responses; an error event ends either.
        Some(
            "message_stop"
            | "response.completed"
            | "response.incomplete"
            | "response.failed"
            | "error",
        ) => Signal::Final,
        // Cohere v2 sends a bare `[DONE]` after message-end.
        Some("message-end") => Signal::Terminal,
        _ if data.contains("\"finishReason\"") => Signal::Terminal,
        _ => Signal::None,
    }
}

fn ndjson_signal(line: &[u8]) -> Signal {
    match serde_json::from_slice::<Value>(line) {
        Ok(v) if v.get("done").and_then(|d| d.as_bool()) == Some(true) => Signal::Final,
        Ok(v) if v.get("is_finished").and_then(|d| d.as_bool()) == Some(true) => Signal::Final,
        _ => Signal::None,
    }
}

fn eventstream_signal(
    message_type: Option<&str>,
    event_type: Option<&str>,
    payload: &[u8],
) -> Signal {
    if matches!(message_type, Some("exception" | "error")) {
        return Signal::Final;
    }
    match event_type {
        Some("messageStop") => Signal::Terminal,
        Some("metadata") => Signal::Final,
        Some("chunk") => {
            // The model's event is base64 in `bytes` (AWS), or the payload itself
            // (older aimock recordings).
            let outer = serde_json::from_slice::<Value>(payload).ok();
            let inner = match outer
                .as_ref()
                .and_then(|v| v.get("bytes").and_then(|b| b.as_str()))
            {
                Some(b) => base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .ok()
                    .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok()),
                None => outer,
            };
            let Some(inner) = inner else {
                return Signal::None;
            };
            match inner.get("type").and_then(|t| t.as_str()) {
                Some("message_stop") => Signal::Final,
                // Nova wraps Converse-shaped events: `{"messageStop": {...}}`.
                _ if inner.get("messageStop").is_some() => Signal::Terminal,
                _ if inner.get("metadata").is_some() => Signal::Final,
                _ => Signal::None,
            }
        }
        _ => Signal::None,
    }
}

/// `recordedTimings` for the frame times, when there are at least two frames.
pub fn recorded_timings(times: &[Duration]) -> Option<Value> {
    if times.len() < 2 {
        return None;
    }
    let ms = |d: Duration| (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
    let gaps: Vec<f64> = times
        .windows(2)
        .map(|w| ms(w[1].saturating_sub(w[0])))
        .collect();
    Some(serde_json::json!({
        "ttftMs": ms(times[0]),
        "interChunkDelaysMs": gaps,
        "totalDurationMs": ms(*times.last().expect("len >= 2")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::golden;

    fn watch(ct: &str, bytes: &[u8], step: usize) -> StreamWatch {
        let mut w = StreamWatch::new(ct);
        for (i, c) in bytes.chunks(step).enumerate() {
            w.push(c, Duration::from_millis(i as u64));
        }
        w
    }

    #[test]
    fn every_providers_terminal_event_is_seen_in_golden_streams() {
        for (ct, name) in [
            (
                "text/event-stream",
                "openai/chat-stream-text-include-usage.sse",
            ),
            ("text/event-stream", "openai/responses-stream-text.sse"),
            ("text/event-stream", "anthropic/messages-stream-text.sse"),
            ("text/event-stream", "cohere/chat-v2-stream-text.sse"),
            ("application/x-ndjson", "ollama/api-chat-stream.ndjson"),
            (
                "application/vnd.amazon.eventstream",
                "bedrock/converse-stream-text.eventstream",
            ),
            (
                "application/vnd.amazon.eventstream",
                "bedrock/invoke-stream-anthropic-messages.eventstream",
            ),
            (
                "application/vnd.amazon.eventstream",
                "bedrock/invoke-stream-nova.eventstream",
            ),
        ] {
            let path = format!("{}/tests/data/golden/{name}", env!("CARGO_MANIFEST_DIR"));
            if !std::path::Path::new(&path).exists() {
                panic!("missing golden {name}");
            }
            for step in [1, 7, 4096] {
                let w = watch(ct, &golden(name), step);
                assert!(w.terminal && !w.broken, "{name} step {step}");
                assert!(w.frame_times.len() >= 2, "{name}");
            }
        }
    }

    #[test]
    fn a_stream_cut_before_its_end_has_no_terminal_event() {
        let bytes = golden("anthropic/messages-stream-text.sse");
        let w = watch("text/event-stream", &bytes[..bytes.len() / 2], 5);
        assert!(!w.terminal);
    }

    #[test]
    fn timings_are_relative_to_the_request() {
        let t = recorded_timings(&[
            Duration::from_millis(100),
            Duration::from_millis(150),
            Duration::from_millis(160),
        ])
        .unwrap();
        assert_eq!(t["ttftMs"], 100.0);
        assert_eq!(t["interChunkDelaysMs"], serde_json::json!([50.0, 10.0]));
        assert_eq!(t["totalDurationMs"], 160.0);
    }
}

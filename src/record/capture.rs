//! Watching a relayed upstream stream: frame boundaries and their arrival times (for
//! `recordedTimings`), and the provider's terminal event (after which a client may hang
//! up without costing the recording).
//!
//! Only the framing is here (SSE, NDJSON, EventStream by content type); which frame ends
//! a stream is the provider's knowledge, asked through [`Surface::stream_end`].

use std::time::Duration;

use bytes::BytesMut;
use serde_json::Value;

use crate::codec::eventstream::EventStreamDecoder;
use crate::codec::ndjson::LineDecoder;
use crate::codec::sse::SseDecoder;
use crate::codec::Decoder;
pub(crate) use crate::providers::common::stream_end::Signal;
use crate::providers::common::stream_end::StreamFrame;
use crate::providers::Surface;

enum Framing {
    Sse(SseDecoder),
    Ndjson(LineDecoder),
    EventStream(EventStreamDecoder),
    /// A body with no frames (JSON): it ends at EOF.
    Whole,
}

/// Incremental frame watcher for one upstream body.
pub(crate) struct StreamWatch {
    /// Whose stream it is: the provider recognises its terminal events.
    surface: Surface,
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
    /// A watcher for a body of `content_type` answering `surface`.
    pub(crate) fn new(surface: &Surface, content_type: &str) -> StreamWatch {
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
            surface: surface.clone(),
            framing,
            buf: BytesMut::new(),
            frame_times: Vec::new(),
            terminal: false,
            final_seen: false,
            broken: false,
        }
    }

    /// True for framed (streaming) bodies.
    pub(crate) fn is_stream(&self) -> bool {
        !matches!(self.framing, Framing::Whole)
    }

    /// Feed a chunk that arrived at `at`.
    pub(crate) fn push(&mut self, chunk: &[u8], at: Duration) {
        if self.broken || matches!(self.framing, Framing::Whole) {
            return;
        }
        self.buf.extend_from_slice(chunk);
        loop {
            let signal = match &mut self.framing {
                Framing::Sse(d) => match d.decode(&mut self.buf) {
                    Ok(Some(ev)) => self.surface.stream_end(&StreamFrame::Sse {
                        event: ev.event.as_deref(),
                        data: &ev.data,
                    }),
                    Ok(None) => break,
                    Err(_) => {
                        self.broken = true;
                        break;
                    }
                },
                Framing::Ndjson(d) => match d.decode(&mut self.buf) {
                    Ok(Some(line)) => self.surface.stream_end(&StreamFrame::Line(&line)),
                    Ok(None) => break,
                    Err(_) => {
                        self.broken = true;
                        break;
                    }
                },
                Framing::EventStream(d) => match d.decode(&mut self.buf) {
                    Ok(Some(msg)) => self.surface.stream_end(&StreamFrame::Event {
                        message_type: msg.header_str(":message-type"),
                        event_type: msg.header_str(":event-type"),
                        payload: &msg.payload,
                    }),
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

/// `recordedTimings` for the frame times, when there are at least two frames.
pub(crate) fn recorded_timings(times: &[Duration]) -> Option<Value> {
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

    fn watch(surface: &Surface, ct: &str, bytes: &[u8], step: usize) -> StreamWatch {
        let mut w = StreamWatch::new(surface, ct);
        for (i, c) in bytes.chunks(step).enumerate() {
            w.push(c, Duration::from_millis(i as u64));
        }
        w
    }

    #[test]
    fn every_providers_terminal_event_is_seen_in_golden_streams() {
        use crate::providers::{anthropic, bedrock, cohere, ollama, openai};
        let chat = Surface::OpenAi(openai::Op::Chat {
            azure_deployment: None,
        });
        let converse = Surface::Bedrock(bedrock::Op::Converse {
            model: "m".into(),
            stream: true,
        });
        let invoke = Surface::Bedrock(bedrock::Op::Invoke {
            model: "m".into(),
            stream: true,
        });
        for (surface, ct, name) in [
            (
                &chat,
                "text/event-stream",
                "openai/chat-stream-text-include-usage.sse",
            ),
            (
                &Surface::OpenAi(openai::Op::Responses),
                "text/event-stream",
                "openai/responses-stream-text.sse",
            ),
            (
                &Surface::Anthropic(anthropic::Op::Messages),
                "text/event-stream",
                "anthropic/messages-stream-text.sse",
            ),
            (
                &Surface::Cohere(cohere::Op::Chat),
                "text/event-stream",
                "cohere/chat-v2-stream-text.sse",
            ),
            (
                &Surface::Ollama(ollama::Op::Chat),
                "application/x-ndjson",
                "ollama/api-chat-stream.ndjson",
            ),
            (
                &converse,
                "application/vnd.amazon.eventstream",
                "bedrock/converse-stream-text.eventstream",
            ),
            (
                &invoke,
                "application/vnd.amazon.eventstream",
                "bedrock/invoke-stream-anthropic-messages.eventstream",
            ),
            (
                &invoke,
                "application/vnd.amazon.eventstream",
                "bedrock/invoke-stream-nova.eventstream",
            ),
        ] {
            let path = format!("{}/tests/data/golden/{name}", env!("CARGO_MANIFEST_DIR"));
            if !std::path::Path::new(&path).exists() {
                panic!("missing golden {name}");
            }
            for step in [1, 7, 4096] {
                let w = watch(surface, ct, &golden(name), step);
                assert!(w.terminal && !w.broken, "{name} step {step}");
                assert!(w.frame_times.len() >= 2, "{name}");
            }
        }
    }

    #[test]
    fn a_stream_cut_before_its_end_has_no_terminal_event() {
        let bytes = golden("anthropic/messages-stream-text.sse");
        let surface = Surface::Anthropic(crate::providers::anthropic::Op::Messages);
        let w = watch(&surface, "text/event-stream", &bytes[..bytes.len() / 2], 5);
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

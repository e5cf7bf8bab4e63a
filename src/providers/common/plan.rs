//! A reply as data: [`RenderPlan`] (status, headers, one body or a list of
//! [`Frame`]s) and the [`FrameWriter`] every streaming renderer writes its frames into.
//!
//! Not here: when frames are sent (the server's pacing), what they say (each provider).

use std::borrow::Cow;

use bytes::Bytes;
use serde_json::Value;

use super::json::{json_str, json_text, json_value};

/// One unit of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The exact bytes to write.
    pub bytes: Bytes,
    /// Whether pacing applies before it (OpenAI's usage chunk and `[DONE]` go out at once).
    pub paced: bool,
}

/// Frames written back to back into one buffer, then cut apart without copying: one
/// allocation per stream instead of one per frame, and serialisation into a plain
/// `Vec`, which `serde_json` writes to several times faster than into a `BytesMut`.
#[derive(Debug, Default)]
pub struct FrameWriter {
    /// Every frame's bytes so far.
    buf: Vec<u8>,
    /// Where each finished frame ends, and whether pacing applies before it.
    cuts: Vec<(usize, bool)>,
    /// The frames expected: `cuts` is sized on the first cut, since a whole writer
    /// never makes one.
    frames_hint: usize,
    /// Hand everything over as one frame (see [`FrameWriter::whole`]).
    whole: bool,
}

impl FrameWriter {
    /// A writer expecting about `bytes` bytes in `frames` frames.
    pub fn with_capacity(bytes: usize, frames: usize) -> FrameWriter {
        FrameWriter {
            buf: Vec::with_capacity(bytes),
            cuts: Vec::new(),
            frames_hint: frames,
            whole: false,
        }
    }

    /// With `whole` (a [`RenderContext::whole`](super::RenderContext::whole) stream),
    /// frames are not cut apart: the
    /// writer hands over one frame holding all of them, which the server sends as it
    /// is instead of copying the frames into one body.
    pub fn whole(mut self, whole: bool) -> FrameWriter {
        self.whole = whole;
        self
    }

    /// The buffer the current frame is being written to.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Append `v` as compact JSON. Writing to memory cannot fail, and every value a
    /// reply holds has string keys, the one thing `serde_json` refuses.
    pub fn json(&mut self, v: &impl serde::Serialize) {
        json_value(&mut self.buf, v)
    }

    /// Append `s` as a JSON string, the bytes `serde_json` writes for it. Most slices of
    /// text need no escaping and are copied whole; the rest go through `serde_json`.
    pub fn str(&mut self, s: &str) {
        json_str(&mut self.buf, s)
    }

    /// End the current frame.
    pub fn cut(&mut self, paced: bool) {
        if !self.whole {
            if self.cuts.capacity() == 0 {
                self.cuts.reserve(self.frames_hint);
            }
            self.cuts.push((self.buf.len(), paced));
        }
    }

    /// The frames, each a slice of one shared buffer (or the one frame of a whole
    /// writer).
    pub fn into_frames(self) -> Vec<Frame> {
        let all = Bytes::from(self.buf);
        if self.whole {
            return vec![Frame {
                bytes: all,
                paced: true,
            }];
        }
        let mut start = 0;
        self.cuts
            .into_iter()
            .map(|(end, paced)| {
                let bytes = all.slice(start..end);
                start = end;
                Frame { bytes, paced }
            })
            .collect()
    }
}

/// The body of a rendered reply.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanBody {
    /// One body.
    Full(Bytes),
    /// A stream of frames.
    Stream(Vec<Frame>),
}

/// A reply as data: what to send, not when.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderPlan {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers: names in lower case; a value is borrowed when it is a constant,
    /// so sending it copies nothing.
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    /// The body.
    pub body: PlanBody,
}

impl RenderPlan {
    /// A JSON body.
    pub fn json(status: u16, v: &Value) -> RenderPlan {
        RenderPlan {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: PlanBody::Full(Bytes::from(json_text(v))),
        }
    }

    /// A server-sent-events stream.
    pub fn sse(frames: Vec<Frame>) -> RenderPlan {
        RenderPlan {
            status: 200,
            content_type: "text/event-stream",
            headers: vec![("cache-control", "no-cache".into())],
            body: PlanBody::Stream(frames),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let samples = [
            "",
            "plain text, émoji 🎉 and </script>",
            "quote \" backslash \\ slash /",
            "controls \u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} and del \u{7f}",
            "\u{2028}\u{2029}",
        ];
        for s in samples {
            let mut w = FrameWriter::default();
            w.str(s);
            assert_eq!(w.buf, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }
}

//! Streaming physics: the only timed code on the replay path.
//!
//! A [`PacedBody`] yields a rendered stream's frames one by one, waiting before each
//! paced frame as the fixture asks (`streamingProfile` first, then `recordedTimings`,
//! then `latency`, all divided by `replaySpeed`), and cuts the connection when
//! `truncateAfterChunks` or `disconnectAfterMs` fires. Jitter is drawn from the render
//! seed, so even the timing of a replay is reproducible.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{sleep, Sleep};

use crate::cassette::model::{RecordedTimings, StreamOptions, StreamingProfile};
use crate::providers::common::Frame;

/// How a stream is paced and when it is cut.
#[derive(Debug, Clone, Default)]
pub struct Pacing {
    /// Fallback delay before each paced frame, ms.
    pub latency_ms: f64,
    /// `streamingProfile`.
    pub profile: Option<StreamingProfile>,
    /// `recordedTimings`.
    pub recorded: Option<RecordedTimings>,
    /// Divides every delay (ignored when not positive).
    pub replay_speed: f64,
    /// Cut after this many frames.
    pub truncate_after_chunks: Option<u32>,
    /// Cut this long after the response starts.
    pub disconnect_after: Option<Duration>,
    /// Jitter draws, one per paced frame index (deterministic).
    pub jitter_seed: [u8; 32],
}

impl Pacing {
    /// A fixture's streaming physics: its own options, falling back to the server's
    /// `latency_ms` and `replay_speed`, with jitter drawn from `seed`. HTTP replay and
    /// the realtime sockets pace the same fixture the same way through this.
    pub fn of_fixture(
        options: &StreamOptions,
        latency_ms: f64,
        replay_speed: f64,
        seed: [u8; 32],
    ) -> Pacing {
        Pacing {
            latency_ms: options.latency_ms.unwrap_or(latency_ms),
            profile: options.streaming_profile,
            recorded: options.recorded_timings.clone(),
            replay_speed: options.replay_speed.unwrap_or(replay_speed),
            truncate_after_chunks: options.truncate_after_chunks,
            // Capped at a day: a hand-written huge value must not overflow the timer.
            disconnect_after: options
                .disconnect_after_ms
                .map(|ms| Duration::from_secs_f64(ms.min(86_400_000.0) / 1000.0)),
            jitter_seed: seed,
        }
    }

    /// True when the stream can be sent without any timer.
    pub fn is_instant(&self) -> bool {
        self.latency_ms <= 0.0
            && self.profile.is_none()
            && self.recorded.is_none()
            && self.truncate_after_chunks.is_none()
            && self.disconnect_after.is_none()
    }

    fn jitter_unit(&self, i: usize) -> f64 {
        // A cheap deterministic hash of (seed, i) into [-1, 1).
        let mut x = u64::from_le_bytes(self.jitter_seed[..8].try_into().expect("32-byte seed"))
            ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }

    /// The delay before paced frame `i`.
    pub fn delay(&self, i: usize) -> Duration {
        let mut ms = self.latency_ms;
        if let Some(p) = &self.profile {
            let from_profile = if i == 0 && p.ttft.is_some() {
                p.ttft
            } else {
                p.tps.filter(|t| *t > 0.0).map(|t| 1000.0 / t)
            };
            if let Some(d) = from_profile {
                ms = (d * (1.0 + self.jitter_unit(i) * p.jitter)).max(0.0);
            }
        } else if let Some(r) = &self.recorded {
            ms = if i == 0 {
                r.ttft_ms
            } else if let Some(d) = r.inter_chunk_delays_ms.get(i - 1) {
                *d
            } else if r.inter_chunk_delays_ms.is_empty() {
                0.0
            } else {
                r.inter_chunk_delays_ms.iter().sum::<f64>() / r.inter_chunk_delays_ms.len() as f64
            };
        }
        let mut ms = ms.max(0.0);
        if self.replay_speed > 0.0 {
            ms /= self.replay_speed;
        }
        if !ms.is_finite() {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(ms.min(86_400_000.0) / 1000.0)
    }
}

/// A replay stream that honours [`Pacing`].
pub struct PacedBody {
    frames: VecDeque<Frame>,
    pacing: Pacing,
    paced_index: usize,
    written: u32,
    waiting: Option<Pin<Box<Sleep>>>,
    waited_for_front: bool,
    deadline: Option<Pin<Box<Sleep>>>,
    /// Set once the truncation point is reached: we yield once so hyper flushes the
    /// frames already written, then cut. Without it the client could see nothing.
    yielded_before_cut: bool,
    /// Called once when the stream is cut on purpose (for the journal).
    on_cut: Option<Box<dyn FnOnce(&'static str) + Send + Sync>>,
    /// Resolves when the server starts shutting down (see [`PacedBody::stop_on`]).
    stop: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Shutdown has begun: the remaining frames go out without delays.
    hurry: bool,
}

impl PacedBody {
    /// A paced stream over `frames`.
    pub fn new(frames: Vec<Frame>, pacing: Pacing) -> PacedBody {
        let deadline = pacing.disconnect_after.map(|d| Box::pin(sleep(d)));
        PacedBody {
            frames: frames.into(),
            pacing,
            paced_index: 0,
            written: 0,
            waiting: None,
            waited_for_front: false,
            deadline,
            yielded_before_cut: false,
            on_cut: None,
            stop: None,
            hurry: false,
        }
    }

    /// Register a callback for a deliberate cut, on a body already built.
    pub fn set_on_cut(&mut self, f: impl FnOnce(&'static str) + Send + Sync + 'static) {
        self.on_cut = Some(Box::new(f));
    }

    /// End the stream promptly once `stop` resolves (server shutdown): the remaining
    /// frames are sent without their delays, terminal frame included, so the client
    /// gets a complete reply instead of a connection cut at the grace deadline. A
    /// deliberate `truncateAfterChunks` cut still happens; `disconnectAfterMs` no longer
    /// waits.
    pub fn stop_on(&mut self, stop: impl Future<Output = ()> + Send + 'static) {
        self.stop = Some(Box::pin(stop));
    }

    /// Register a callback for a deliberate cut (`truncateAfterChunks`/`disconnectAfterMs`).
    pub fn on_cut(mut self, f: impl FnOnce(&'static str) + Send + Sync + 'static) -> Self {
        self.on_cut = Some(Box::new(f));
        self
    }

    fn cut(
        &mut self,
        reason: &'static str,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        self.frames.clear();
        if let Some(f) = self.on_cut.take() {
            f(reason);
        }
        tracing::debug!(reason, "stream cut on purpose");
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            reason,
        ))))
    }

    /// Poll the next frame.
    pub fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        if let Some(s) = this.stop.as_mut() {
            if s.as_mut().poll(cx).is_ready() {
                this.stop = None;
                this.hurry = true;
                this.waiting = None;
                this.deadline = None;
                tracing::debug!("shutting down: flushing a paced stream");
            }
        }
        if let Some(d) = this.deadline.as_mut() {
            if d.as_mut().poll(cx).is_ready() {
                this.deadline = None;
                return this.cut("disconnectAfterMs");
            }
        }
        if this
            .pacing
            .truncate_after_chunks
            .is_some_and(|n| this.written >= n)
            && !this.frames.is_empty()
        {
            if !this.yielded_before_cut {
                this.yielded_before_cut = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            return this.cut("truncateAfterChunks");
        }
        let Some(front) = this.frames.front() else {
            return Poll::Ready(None);
        };
        if front.paced && !this.waited_for_front && !this.hurry {
            if this.waiting.is_none() {
                let d = this.pacing.delay(this.paced_index);
                if !d.is_zero() {
                    this.waiting = Some(Box::pin(sleep(d)));
                }
            }
            if let Some(w) = this.waiting.as_mut() {
                if w.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.waiting = None;
            }
            this.waited_for_front = true;
        }
        let frame = this.frames.pop_front().expect("front was Some");
        if frame.paced {
            this.paced_index += 1;
        }
        this.waited_for_front = false;
        this.written += 1;
        Poll::Ready(Some(Ok(http_body::Frame::data(frame.bytes))))
    }
}

use std::future::Future;

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn frames(n: usize) -> Vec<Frame> {
        (0..n)
            .map(|i| Frame {
                bytes: Bytes::from(format!("f{i}")),
                paced: true,
            })
            .collect()
    }

    #[test]
    fn profile_beats_recorded_timings_which_beat_latency_and_speed_divides() {
        let mut p = Pacing {
            latency_ms: 10.0,
            replay_speed: 1.0,
            ..Default::default()
        };
        assert_eq!(p.delay(3), Duration::from_millis(10));
        p.recorded = Some(RecordedTimings {
            ttft_ms: 100.0,
            inter_chunk_delays_ms: vec![20.0, 40.0],
            total_duration_ms: 160.0,
        });
        assert_eq!(p.delay(0), Duration::from_millis(100));
        assert_eq!(p.delay(2), Duration::from_millis(40));
        assert_eq!(
            p.delay(9),
            Duration::from_millis(30),
            "past the end uses the mean"
        );
        p.profile = Some(StreamingProfile {
            ttft: Some(500.0),
            tps: Some(50.0),
            jitter: 0.0,
        });
        assert_eq!(p.delay(0), Duration::from_millis(500));
        assert_eq!(p.delay(1), Duration::from_millis(20));
        p.replay_speed = 2.0;
        assert_eq!(p.delay(1), Duration::from_millis(10));
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let p = Pacing {
            profile: Some(StreamingProfile {
                ttft: None,
                tps: Some(10.0),
                jitter: 0.5,
            }),
            replay_speed: 1.0,
            jitter_seed: [3; 32],
            ..Default::default()
        };
        for i in 0..200 {
            let d = p.delay(i).as_secs_f64() * 1000.0;
            assert!((50.0..=150.0).contains(&d), "{d}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn latency_applies_before_each_paced_frame() {
        let pacing = Pacing {
            latency_ms: 100.0,
            replay_speed: 1.0,
            ..Default::default()
        };
        let mut body = PacedBody::new(frames(3), pacing);
        let start = tokio::time::Instant::now();
        let mut got = Vec::new();
        while let Some(f) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            got.push(f.unwrap().into_data().unwrap());
        }
        assert_eq!(got.len(), 3);
        assert_eq!(start.elapsed(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn truncate_after_chunks_ends_with_an_error_not_a_clean_end() {
        let pacing = Pacing {
            truncate_after_chunks: Some(2),
            replay_speed: 1.0,
            ..Default::default()
        };
        let body = crate::respond::body::Body::Paced(Box::new(PacedBody::new(frames(5), pacing)));
        let err = match body.collect().await {
            Ok(_) => panic!("stream must fail"),
            Err(e) => e,
        };
        assert_eq!(err.to_string(), "truncateAfterChunks");
    }

    #[tokio::test(start_paused = true)]
    async fn disconnect_after_ms_fires_during_a_wait() {
        let pacing = Pacing {
            latency_ms: 1000.0,
            disconnect_after: Some(Duration::from_millis(1500)),
            replay_speed: 1.0,
            ..Default::default()
        };
        let mut body = PacedBody::new(frames(5), pacing);
        let start = tokio::time::Instant::now();
        let mut ok = 0;
        loop {
            match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                Some(Ok(_)) => ok += 1,
                Some(Err(e)) => {
                    assert_eq!(e.to_string(), "disconnectAfterMs");
                    break;
                }
                None => panic!("must not end cleanly"),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(start.elapsed(), Duration::from_millis(1500));
    }
}

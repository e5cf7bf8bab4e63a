//! Tee an upstream body: forward every chunk to the client unchanged, the moment it
//! arrives, and keep a bounded copy for the recorder.
//!
//! Invariants:
//! - the client is never delayed or truncated by the copy: when the copy passes its cap
//!   it is dropped (and the recording skipped), never the chunk;
//! - the recording is finished exactly once: at the provider's final event, at the end
//!   of the body, or (when the client hung up after the terminal event) after draining
//!   the rest of the upstream in the background;
//! - an upstream error or an idle timeout ends the client's body with an error, so its
//!   connection is cut rather than ended cleanly, and nothing is recorded;
//! - a client that hangs up before the terminal event aborts the upstream request and
//!   nothing is recorded.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body::Body as _;
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::capture::StreamWatch;

/// What the recorder gets when a relayed body is complete.
pub(crate) struct Capture {
    /// The whole upstream body.
    pub body: Bytes,
    /// Frame arrival times, relative to when the request was sent.
    pub frame_times: Vec<Duration>,
    /// Whether the body was a framed stream.
    pub stream: bool,
    /// Where each chunk the upstream sent ends in `body`, and when it arrived: a raw
    /// recording keeps the stream's frames as they came.
    pub chunks: Vec<(usize, Duration)>,
}

/// Called once with the complete capture.
pub(crate) type OnComplete = Box<dyn FnOnce(Capture) + Send>;

struct Inner {
    upstream: Incoming,
    copy: Option<BytesMut>,
    cap: usize,
    watch: StreamWatch,
    chunks: Vec<(usize, Duration)>,
    sent_at: Instant,
    idle: Duration,
    on_complete: Option<OnComplete>,
}

/// The relayed body.
pub(crate) struct TeeBody {
    inner: Option<Inner>,
    idle_timer: Pin<Box<Sleep>>,
    label: &'static str,
    /// The upstream failed: the error the client gets on the next poll. Held back one
    /// poll so hyper first flushes the bytes already relayed (it drops its write buffer
    /// when a body fails), and the client has everything the upstream sent before it.
    failed: Option<io::Error>,
}

impl TeeBody {
    /// Relay `upstream`, framed by `watch`, keeping at most `cap` bytes. `on_complete` is `None` in
    /// proxy-only mode (nothing is copied then).
    pub(crate) fn new(
        upstream: Incoming,
        watch: StreamWatch,
        sent_at: Instant,
        idle: Duration,
        cap: usize,
        on_complete: Option<OnComplete>,
        label: &'static str,
    ) -> TeeBody {
        let copying = on_complete.is_some();
        TeeBody {
            inner: Some(Inner {
                upstream,
                copy: copying.then(BytesMut::new),
                cap,
                watch,
                chunks: Vec::new(),
                sent_at,
                idle,
                on_complete,
            }),
            idle_timer: Box::pin(tokio::time::sleep(idle)),
            label,
            failed: None,
        }
    }
}

impl Inner {
    fn take_chunk(&mut self, data: &Bytes) {
        if let Some(copy) = &mut self.copy {
            if copy.len() + data.len() > self.cap {
                tracing::warn!(
                    cap = self.cap,
                    "upstream reply is larger than the capture cap; relaying it in full but not recording it"
                );
                self.copy = None;
                self.on_complete = None;
                return;
            }
            copy.extend_from_slice(data);
            let at = self.sent_at.elapsed();
            self.chunks.push((copy.len(), at));
            self.watch.push(data, at);
        }
    }

    fn finish(&mut self) {
        if let (Some(f), Some(copy)) = (self.on_complete.take(), self.copy.take()) {
            f(Capture {
                body: copy.freeze(),
                frame_times: std::mem::take(&mut self.watch.frame_times),
                stream: self.watch.is_stream(),
                chunks: std::mem::take(&mut self.chunks),
            });
        }
    }
}

impl http_body::Body for TeeBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        if let Some(e) = this.failed.take() {
            return Poll::Ready(Some(Err(e)));
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(&mut inner.upstream).poll_frame(cx) {
            Poll::Pending => {
                if this.idle_timer.as_mut().poll(cx).is_ready() {
                    tracing::warn!(upstream = this.label, idle = ?inner.idle, "upstream went quiet mid-body; cutting the client connection, nothing recorded");
                    this.inner = None;
                    return this.fail(
                        cx,
                        io::Error::new(io::ErrorKind::TimedOut, "upstream idle timeout"),
                    );
                }
                Poll::Pending
            }
            Poll::Ready(Some(Ok(frame))) => {
                let deadline = Instant::now() + inner.idle;
                this.idle_timer.as_mut().reset(deadline);
                if let Some(data) = frame.data_ref() {
                    inner.take_chunk(data);
                }
                // hyper stops polling once a body says it has ended (a known
                // content-length was reached), so finish here rather than on `None`.
                // Trailers are a body's last frame: hyper may not poll again after them.
                if inner.watch.final_seen || inner.upstream.is_end_stream() || frame.is_trailers() {
                    inner.finish();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                tracing::warn!(upstream = this.label, error = %e, "upstream body failed mid-stream; cutting the client connection, nothing recorded");
                this.inner = None;
                this.fail(
                    cx,
                    io::Error::new(io::ErrorKind::ConnectionReset, e.to_string()),
                )
            }
            Poll::Ready(None) => {
                if let Some(mut inner) = this.inner.take() {
                    inner.finish();
                }
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed.is_none()
            && self
                .inner
                .as_ref()
                .is_none_or(|i| i.upstream.is_end_stream())
    }
}

impl TeeBody {
    /// Fail the client with `e` on the next poll (see [`TeeBody::failed`]).
    fn fail(
        &mut self,
        cx: &mut Context<'_>,
        e: io::Error,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        self.failed = Some(e);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Drop for TeeBody {
    fn drop(&mut self) {
        let Some(mut inner) = self.inner.take() else {
            return;
        };
        if inner.on_complete.is_none() {
            return;
        }
        if inner.upstream.is_end_stream() {
            inner.finish();
            return;
        }
        if !inner.watch.terminal {
            tracing::warn!(
                upstream = self.label,
                "client hung up before the stream finished; upstream aborted, nothing recorded"
            );
            return;
        }
        // The answer is complete: finish reading the upstream in the background so the
        // recording keeps everything (usage, metadata) that follows the terminal event.
        let label = self.label;
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    loop {
                        let next = tokio::time::timeout(
                            inner.idle,
                            std::future::poll_fn(|cx| Pin::new(&mut inner.upstream).poll_frame(cx)),
                        )
                        .await;
                        match next {
                            Ok(Some(Ok(frame))) => {
                                if let Some(d) = frame.data_ref() {
                                    inner.take_chunk(d);
                                }
                            }
                            Ok(None) => break,
                            Ok(Some(Err(_))) | Err(_) => {
                                tracing::debug!(upstream = label, "upstream ended badly after the terminal event; saving what arrived");
                                break;
                            }
                        }
                    }
                    inner.finish();
                });
            }
            Err(_) => inner.finish(),
        }
    }
}

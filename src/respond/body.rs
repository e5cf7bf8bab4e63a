//! The one response body type: a fixed body, a paced replay stream, or any boxed stream
//! (the recorder's relayed upstream body).
//!
//! A body that ends with an `Err` makes hyper abort the connection without the
//! terminating chunk. That is how a truncated or disconnected stream looks to a client:
//! an incomplete read, never a clean end.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;

use super::pacing::PacedBody;

/// Every response body the server sends.
pub enum Body {
    /// A complete body (or nothing).
    Full(Option<Bytes>),
    /// A replayed stream with delays, truncation and disconnects.
    Paced(Box<PacedBody>),
    /// Anything else that streams.
    Boxed(UnsyncBoxBody<Bytes, io::Error>),
}

impl Body {
    /// An empty body.
    pub fn empty() -> Body {
        Body::Full(None)
    }

    /// A complete body.
    pub fn full(b: impl Into<Bytes>) -> Body {
        let b = b.into();
        if b.is_empty() {
            Body::Full(None)
        } else {
            Body::Full(Some(b))
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Paced(p) => Pin::new(p.as_mut()).poll_frame(cx),
            Body::Boxed(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(b) => b.is_none(),
            Body::Paced(_) => false,
            Body::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Paced(_) => SizeHint::default(),
            Body::Boxed(b) => b.size_hint(),
        }
    }
}

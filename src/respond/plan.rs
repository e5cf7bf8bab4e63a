//! A [`RenderPlan`] (what a provider rendered: status, headers, a body or frames)
//! turned into the hyper response the server sends, and the few plain JSON and
//! status-only replies built the same way.
//!
//! Below every part of the server that answers (the pipeline, the one error path, the
//! recorder, the control API, the catalogue), so none of them needs another to reply.
//! Not here: choosing a status for a failure (`respond`), or timing streamed frames
//! (`pacing`, which this hands the frames to).

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};

use super::body::Body;
use super::pacing::{PacedBody, Pacing};
use crate::providers::common::{PlanBody, RenderPlan};

/// Headers a reply usually carries: content type, a few from the plan, the request id
/// and the four CORS headers. Sized up front so the map is allocated once.
const USUAL_HEADERS: usize = 12;

/// Turn a plan into a response, pacing streams when the fixture asks for it.
pub(crate) fn plan_response(plan: RenderPlan, pacing: Option<Pacing>) -> Response<Body> {
    let body = match plan.body {
        PlanBody::Full(b) => Body::full(b),
        PlanBody::Stream(frames) => match pacing {
            Some(p) if !p.is_instant() => Body::Paced(Box::new(PacedBody::new(frames, p))),
            // Nothing to wait for: one write is faster and the bytes are the same.
            _ if frames.len() == 1 => Body::full(
                frames
                    .into_iter()
                    .next()
                    .map(|f| f.bytes)
                    .unwrap_or_default(),
            ),
            _ => {
                let total: usize = frames.iter().map(|f| f.bytes.len()).sum();
                let mut buf = bytes::BytesMut::with_capacity(total);
                for f in frames {
                    buf.extend_from_slice(&f.bytes);
                }
                Body::full(buf.freeze())
            }
        },
    };
    let mut resp = Response::new(body);
    *resp.status_mut() =
        StatusCode::from_u16(plan.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.reserve(USUAL_HEADERS);
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(plan.content_type),
    );
    for (k, v) in plan.headers {
        if let (Some(k), Some(v)) = (header_name(k), header_value_checked(v)) {
            h.append(k, v);
        }
    }
    resp
}

/// A header name from a renderer: a lower-case constant, taken as it is (a name that
/// `http` does not know would otherwise be copied into a new buffer every time).
fn header_name(name: &'static str) -> Option<HeaderName> {
    let canonical = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if canonical && !name.is_empty() {
        Some(HeaderName::from_static(name))
    } else {
        HeaderName::from_bytes(name.as_bytes()).ok()
    }
}

/// A header value from a renderer, without a copy: a constant is referenced, an owned
/// string's buffer becomes the value's. `None` (checked as `http` checks any value)
/// for text a header cannot carry.
fn header_value_checked(v: Cow<'static, str>) -> Option<HeaderValue> {
    let bytes = match v {
        Cow::Borrowed(s) => Bytes::from_static(s.as_bytes()),
        Cow::Owned(s) => Bytes::from(s),
    };
    HeaderValue::from_maybe_shared(bytes).ok()
}

/// [`header_value_checked`] for values we generate ourselves (ids): never empty.
pub(crate) fn header_value(v: Cow<'static, str>) -> HeaderValue {
    header_value_checked(v).unwrap_or_else(|| HeaderValue::from_static("invalid"))
}

pub(crate) fn json_response(status: u16, v: &serde_json::Value) -> Response<Body> {
    plan_response(RenderPlan::json(status, v), None)
}

pub(crate) fn status_only(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

//! The one error path: every failure of a request becomes a response here.
//!
//! A raise site builds a [`Failure`] naming its [`Source`] and a message; [`respond`]
//! picks the status from the source (client 400/413/..., miss 404 or 503 when strict,
//! upstream 502 or 504 for a late response head, fixture and internal 500), gives the
//! body the caller's provider shape (the [`Surface`] the path names, when it names one;
//! a path naming no provider gets aimock's own `{"error":{"message","type"}}`), and logs
//! it once with structured fields (`source`, `status`, `provider`, `path`, `message`).
//!
//! Not here: error *fixtures* and one-shot errors (replies the user asked for, rendered
//! by the provider like any reply), `Retry-After` and rate-limit headers (added to every
//! provider's 429 by `providers::Surface::error`), the pipeline's success path.
//!
//! # Design
//! The status belongs to the class, not to the raise site: a site can only say *what*
//! failed, so a head timeout cannot answer 502 in one place and 504 in another.
//!
//! # Layout
//! The answer side of the house, below everything that answers (the server's pipeline,
//! control API and catalogue, the recorder, chaos), so none of them imports another to
//! reply:
//! - `body`: the one response body type (full, paced, relayed);
//! - `pacing`: streaming physics for replayed streams (the only timed code of a reply);
//! - `plan`: a provider's [`RenderPlan`] into a hyper response;
//! - here: the one error path.

pub(crate) mod body;
pub(crate) mod pacing;
pub(crate) mod plan;

use std::fmt;

use serde_json::json;

use crate::cassette::model::ErrorReply;
use crate::providers::common::{ErrorKind, RenderPlan};
use crate::providers::Surface;
use body::Body;
use plan::plan_response;

/// Who was at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The client's request: malformed, too large, an unknown path or method.
    Client,
    /// No fixture matched (404, or 503 in strict mode).
    Miss,
    /// The upstream, while recording or proxying.
    Upstream,
    /// A fixture that asks for a failure (chaos drop) or cannot be served.
    Fixture,
    /// A bug of ours (a panic caught at the service boundary).
    Internal,
}

impl Source {
    /// The name logged in the `source` field.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Source::Client => "client",
            Source::Miss => "miss",
            Source::Upstream => "upstream",
            Source::Fixture => "fixture",
            Source::Internal => "internal",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong, beyond its source: decides the status and the error `type`/`code`.
#[derive(Debug, Clone)]
enum What<'a> {
    /// A client error with its status (400, 413, ...) and machine-readable code.
    Client { status: u16, code: &'static str },
    /// No route for the path (404) or the method (405).
    Route { status: u16 },
    /// No fixture matched.
    Miss { strict: bool },
    /// The upstream could not be reached or answered nothing usable (502).
    Unreachable,
    /// The upstream sent no response head in time (504).
    HeadTimeout,
    /// An error reply built from fixture data (chaos drop).
    Fixture(&'a ErrorReply),
    /// No valid credential for this gateway (401, `server::access`).
    Unauthorized,
    /// Our own fault (500).
    Internal,
}

/// A failure of one request, classified by [`Source`]. Building one has no side
/// effects; [`respond`] logs it.
#[derive(Debug, Clone)]
pub(crate) struct Failure<'a> {
    what: What<'a>,
    /// What the client reads.
    pub message: String,
}

impl<'a> Failure<'a> {
    /// A malformed or refused request: `status` is the provider's (400, 413, ...).
    pub(crate) fn client(
        status: u16,
        code: &'static str,
        message: impl Into<String>,
    ) -> Failure<'a> {
        Failure {
            what: What::Client { status, code },
            message: message.into(),
        }
    }

    /// No route: 404 for an unknown path, 405 for a known path with the wrong method.
    pub(crate) fn route(method_allowed: bool, message: impl Into<String>) -> Failure<'a> {
        Failure {
            what: What::Route {
                status: if method_allowed { 404 } else { 405 },
            },
            message: message.into(),
        }
    }

    /// No fixture matched: 404, or 503 in strict mode.
    pub(crate) fn miss(strict: bool, message: impl Into<String>) -> Failure<'a> {
        Failure {
            what: What::Miss { strict },
            message: message.into(),
        }
    }

    /// The upstream is not configured, unreachable, or refused the request: 502.
    pub(crate) fn upstream(message: impl Into<String>) -> Failure<'a> {
        Failure {
            what: What::Unreachable,
            message: message.into(),
        }
    }

    /// The upstream sent no response head within the deadline: 504.
    pub(crate) fn upstream_timeout(message: impl Into<String>) -> Failure<'a> {
        Failure {
            what: What::HeadTimeout,
            message: message.into(),
        }
    }

    /// A failure the fixture data describes (status, type and code), such as a chaos
    /// drop.
    pub(crate) fn fixture(e: &'a ErrorReply) -> Failure<'a> {
        Failure {
            what: What::Fixture(e),
            message: e.message.clone(),
        }
    }

    /// The caller sent no valid API key or control token: 401, an authentication error
    /// in the provider's shape.
    pub(crate) fn unauthorized(message: impl Into<String>) -> Failure<'a> {
        Failure {
            what: What::Unauthorized,
            message: message.into(),
        }
    }

    /// A bug of ours: 500.
    pub(crate) fn internal(message: impl Into<String>) -> Failure<'a> {
        Failure {
            what: What::Internal,
            message: message.into(),
        }
    }

    /// Who was at fault.
    pub(crate) fn source(&self) -> Source {
        match self.what {
            What::Client { .. } | What::Route { .. } | What::Unauthorized => Source::Client,
            What::Miss { .. } => Source::Miss,
            What::Unreachable | What::HeadTimeout => Source::Upstream,
            What::Fixture(_) => Source::Fixture,
            What::Internal => Source::Internal,
        }
    }

    /// The status the class maps to.
    pub(crate) fn status(&self) -> u16 {
        match self.what {
            What::Client { status, .. } | What::Route { status } => status,
            What::Miss { strict: true } => 503,
            What::Miss { strict: false } => 404,
            What::Unreachable => 502,
            What::HeadTimeout => 504,
            What::Fixture(e) => e.status,
            What::Unauthorized => 401,
            What::Internal => 500,
        }
    }

    fn kind(&self) -> ErrorKind<'a> {
        match self.what {
            What::Client { code, .. } => ErrorKind::InvalidRequest { code },
            What::Route { status: 405 } => ErrorKind::InvalidRequest {
                code: "method_not_allowed",
            },
            What::Route { .. } | What::Miss { .. } => ErrorKind::NoMatch,
            What::Fixture(e) => ErrorKind::Fixture(e),
            // Each provider renders a 401 fixture error in its own shape
            // (`authentication_error`, `UNAUTHENTICATED`, `UnrecognizedClientException`).
            What::Unauthorized => ErrorKind::Fixture(unauthorized_reply()),
            What::Unreachable | What::HeadTimeout | What::Internal => ErrorKind::Internal,
        }
    }

    /// The reply as data, in `surface`'s shape, or aimock's own when there is none.
    pub(crate) fn plan(&self, surface: Option<&Surface>) -> RenderPlan {
        let status = self.status();
        match surface {
            Some(s) => s.error(status, &self.message, self.kind()),
            None if matches!(self.what, What::Unauthorized) => RenderPlan::json(
                status,
                &json!({"error": {"message": self.message, "type": "authentication_error", "code": "invalid_api_key"}}),
            ),
            None => {
                let kind = match self.what {
                    What::Route { status: 404 } => "not_found",
                    What::Route { .. } | What::Client { .. } | What::Miss { .. } => {
                        "invalid_request_error"
                    }
                    _ => "server_error",
                };
                RenderPlan::json(
                    status,
                    &json!({"error": {"message": self.message, "type": kind}}),
                )
            }
        }
    }

    /// Log the failure once, with its fields: 5xx of ours as errors, the rest as
    /// warnings, and route misses (a client probing paths) at debug.
    fn log(&self, surface: Option<&Surface>, path: &str) {
        let source = self.source().as_str();
        let status = self.status();
        let provider = surface.map_or("", Surface::provider);
        let message = self.message.as_str();
        match (&self.what, self.source()) {
            (What::Route { .. }, _) => {
                tracing::debug!(source, status, provider, path, message, "no route")
            }
            (_, Source::Internal) => {
                tracing::error!(source, status, provider, path, message, "request failed")
            }
            _ => tracing::warn!(source, status, provider, path, message, "request failed"),
        }
    }
}

/// The error a 401 is rendered from, as an error fixture would be: the reference's
/// `authentication_error` / `invalid_api_key`.
fn unauthorized_reply() -> &'static ErrorReply {
    static REPLY: std::sync::OnceLock<ErrorReply> = std::sync::OnceLock::new();
    REPLY.get_or_init(|| ErrorReply {
        status: 401,
        message: String::new(),
        kind: Some("authentication_error".into()),
        param: None,
        code: Some(json!("invalid_api_key")),
        retry_after: None,
    })
}

/// Turn `failure` into the response the caller sees, in `surface`'s error shape, and
/// log it once.
pub(crate) fn respond(
    failure: &Failure,
    surface: Option<&Surface>,
    path: &str,
) -> http::Response<Body> {
    failure.log(surface, path);
    plan_response(failure.plan(surface), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_maps_to_its_status() {
        assert_eq!(Failure::client(413, "request_too_large", "m").status(), 413);
        assert_eq!(Failure::route(true, "m").status(), 404);
        assert_eq!(Failure::route(false, "m").status(), 405);
        assert_eq!(Failure::miss(false, "m").status(), 404);
        assert_eq!(Failure::miss(true, "m").status(), 503);
        assert_eq!(Failure::upstream("m").status(), 502);
        assert_eq!(Failure::upstream_timeout("m").status(), 504);
        assert_eq!(Failure::internal("m").status(), 500);
        assert_eq!(Failure::upstream_timeout("m").source(), Source::Upstream);
        assert_eq!(Failure::miss(true, "m").source(), Source::Miss);
    }

    #[test]
    fn a_route_miss_on_no_provider_keeps_aimocks_own_shape() {
        let plan = Failure::route(true, "Not found: GET /nope").plan(None);
        let crate::providers::common::PlanBody::Full(b) = &plan.body else {
            panic!("not JSON")
        };
        assert_eq!(
            &b[..],
            br#"{"error":{"message":"Not found: GET /nope","type":"not_found"}}"#
        );
        let plan = Failure::route(false, "Method POST not allowed on /health").plan(None);
        let crate::providers::common::PlanBody::Full(b) = &plan.body else {
            panic!("not JSON")
        };
        assert_eq!(
            &b[..],
            br#"{"error":{"message":"Method POST not allowed on /health","type":"invalid_request_error"}}"#
        );
    }
}

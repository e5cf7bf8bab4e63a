//! The test-id path prefix: `/__test/{id}/<path>` is served as `<path>` under the test
//! id `{id}`, for clients that can only be pointed at a base URL.
//!
//! An SDK configured from the environment (`OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL`,
//! boto3's endpoint URL, ...) cannot add an `X-Test-Id` header, but every one of them
//! keeps the path of its base URL. So a test framework gives each test the base URL
//! `http://HOST:PORT/__test/{id}` (plus whatever the SDK appends to it, such as `/v1`),
//! and aimock takes the prefix off before anything else looks at the request: routing,
//! the API-key gate, provider parsing, WebSocket upgrades, mounted services, the control
//! API, the recorder (which forwards the stripped path upstream) and the journal (which
//! records the stripped path) all see the request as if it had been sent to `<path>`
//! with `X-Test-Id: {id}`. The header is set from the prefix, replacing one the client
//! sent: the URL is the more specific of the two.
//!
//! `{id}` is one path segment, percent-decoded (`a%2Fb` is the id `a/b`); an empty one
//! (`/__test//v1/...`) leaves the request unscoped. An id that cannot be a header value
//! once decoded (a control character) gets a 400.
//!
//! Scope: the prefix only. Not here: what a test id scopes (sequence counts, chaos,
//! recording layout: `server::pipeline`, `record::writer`).
//!
//! Cost: a request without the prefix pays one comparison of its path's first bytes
//! ([`has_prefix`]); only a prefixed request is rebuilt. Rejected alternative: a route
//! in the router for every provider path under the prefix, which would double the
//! routing table and miss the WebSocket and service mounts that run before it.

use http::uri::{PathAndQuery, Uri};
use http::{HeaderName, HeaderValue, Request};

/// The prefix, with both slashes.
pub const PREFIX: &str = "/__test/";

const X_TEST_ID: HeaderName = HeaderName::from_static("x-test-id");

/// Whether `path` starts with the test-id prefix: the only cost a plain request pays.
#[inline]
pub fn has_prefix(path: &str) -> bool {
    path.as_bytes().starts_with(PREFIX.as_bytes())
}

/// Why a prefixed request could not be rewritten.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The decoded id is not a valid header value.
    BadId(String),
}

/// Split `/__test/{id}/rest` into the decoded id and `/rest` (`/` when nothing follows).
/// `None` when `path` does not carry the prefix.
pub fn split(path: &str) -> Option<(String, &str)> {
    let after = path.strip_prefix(PREFIX)?;
    let (raw, rest) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, "/"),
    };
    let id = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned();
    Some((id, rest))
}

/// Take the prefix off `req`'s path and carry its id as `X-Test-Id`. A request without
/// the prefix is left alone.
pub fn strip<B>(req: &mut Request<B>) -> Result<(), Refusal> {
    let Some((id, rest)) = split(req.uri().path()) else {
        return Ok(());
    };
    let id = id.trim().to_string();
    let value = if id.is_empty() {
        None
    } else {
        Some(HeaderValue::from_str(&id).map_err(|_| Refusal::BadId(id.clone()))?)
    };
    let pq = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let mut parts = req.uri().clone().into_parts();
    // `rest` came from a valid path and the query is unchanged: both parse again.
    parts.path_and_query =
        Some(PathAndQuery::try_from(pq.as_str()).map_err(|_| Refusal::BadId(id.clone()))?);
    *req.uri_mut() = Uri::from_parts(parts).map_err(|_| Refusal::BadId(id.clone()))?;
    match value {
        Some(v) => {
            req.headers_mut().insert(X_TEST_ID, v);
        }
        None => {
            req.headers_mut().remove(X_TEST_ID);
        }
    }
    tracing::debug!(test_id = %id, path = req.uri().path(), "test id taken from the path prefix");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(uri: &str, header: Option<&str>) -> (String, Option<String>) {
        let mut b = Request::builder().uri(uri);
        if let Some(h) = header {
            b = b.header("x-test-id", h);
        }
        let mut req = b.body(()).unwrap();
        strip(&mut req).unwrap();
        (
            req.uri().to_string(),
            req.headers()
                .get("x-test-id")
                .map(|v| v.to_str().unwrap().to_string()),
        )
    }

    #[test]
    fn the_prefix_becomes_the_test_id_and_the_rest_the_path() {
        assert_eq!(
            stripped("/__test/t1/v1/chat/completions", None),
            ("/v1/chat/completions".into(), Some("t1".into()))
        );
        assert_eq!(
            stripped("/__test/t1/v1beta/models/g:generateContent?alt=sse", None),
            (
                "/v1beta/models/g:generateContent?alt=sse".into(),
                Some("t1".into())
            )
        );
    }

    #[test]
    fn a_request_without_the_prefix_is_untouched() {
        assert_eq!(
            stripped("/v1/chat/completions?testId=q", Some("h")),
            ("/v1/chat/completions?testId=q".into(), Some("h".into()))
        );
        assert_eq!(stripped("/__tests/x/v1", None).0, "/__tests/x/v1");
        assert!(!has_prefix("/__test"));
        assert!(has_prefix("/__test/"));
    }

    #[test]
    fn the_prefix_wins_over_a_header_and_is_percent_decoded() {
        assert_eq!(
            stripped("/__test/a%2Fb%20c/v1/messages", Some("other")),
            ("/v1/messages".into(), Some("a/b c".into()))
        );
    }

    #[test]
    fn an_empty_id_leaves_the_request_unscoped_and_a_bare_prefix_is_the_root() {
        assert_eq!(
            stripped("/__test//v1/messages", Some("h")),
            ("/v1/messages".into(), None)
        );
        assert_eq!(stripped("/__test/t", None), ("/".into(), Some("t".into())));
    }

    #[test]
    fn an_id_that_cannot_be_a_header_is_refused() {
        let mut req = Request::builder()
            .uri("/__test/a%0Ab/v1/messages")
            .body(())
            .unwrap();
        assert!(matches!(strip(&mut req), Err(Refusal::BadId(_))));
    }

    #[test]
    fn an_absolute_uri_keeps_its_authority() {
        let mut req = Request::builder()
            .uri("http://127.0.0.1:1/__test/x/api/chat")
            .body(())
            .unwrap();
        strip(&mut req).unwrap();
        assert_eq!(req.uri().to_string(), "http://127.0.0.1:1/api/chat");
    }
}

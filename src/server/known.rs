//! The request headers the pipeline reads, found in one pass over the header map.
//!
//! A provider request is read for eight headers (its length, the caller's request id,
//! the test id, the context, the strict override and the three chaos rates), and most
//! requests carry none of the aimock ones. A lookup by name hashes the name and probes
//! the map; one walk over the few headers a request has, comparing names, costs less
//! than the eight lookups, whatever the request carries.

use http::{HeaderMap, HeaderValue};

/// The first value of each header the pipeline reads, as `HeaderMap::get` gives it.
#[derive(Debug, Default, Clone, Copy)]
pub struct KnownHeaders<'a> {
    /// `Content-Length`.
    pub content_length: Option<&'a HeaderValue>,
    /// `X-Request-Id`: the caller's id for the journal entry.
    pub request_id: Option<&'a HeaderValue>,
    /// `X-Test-Id`: the sequence scope.
    pub test_id: Option<&'a HeaderValue>,
    /// `X-AIMock-Context`: matched by a fixture's `context`.
    pub context: Option<&'a HeaderValue>,
    /// `X-AIMock-Strict`: a per-request strict setting.
    pub strict: Option<&'a HeaderValue>,
    /// `X-AIMock-Chaos-Drop`, `-Malformed`, `-Disconnect`, in that order.
    pub chaos: [Option<&'a HeaderValue>; 3],
}

impl<'a> KnownHeaders<'a> {
    /// Walk `headers` once. A repeated header keeps its first value, as `get` would.
    pub fn scan(headers: &'a HeaderMap) -> KnownHeaders<'a> {
        let mut k = KnownHeaders::default();
        for (name, value) in headers {
            // Names in a `HeaderMap` are lower case.
            let slot = match name.as_str() {
                "content-length" => &mut k.content_length,
                "x-request-id" => &mut k.request_id,
                "x-test-id" => &mut k.test_id,
                "x-aimock-context" => &mut k.context,
                "x-aimock-strict" => &mut k.strict,
                "x-aimock-chaos-drop" => &mut k.chaos[0],
                "x-aimock-chaos-malformed" => &mut k.chaos[1],
                "x-aimock-chaos-disconnect" => &mut k.chaos[2],
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;

    #[test]
    fn the_scan_finds_what_get_finds() {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("content-length", HeaderValue::from_static("12"));
        h.insert("X-Test-Id", HeaderValue::from_static("t1"));
        h.append("x-test-id", HeaderValue::from_static("t2"));
        h.insert("x-aimock-context", HeaderValue::from_static("ctx"));
        h.insert("x-aimock-strict", HeaderValue::from_static("true"));
        h.insert("x-aimock-chaos-malformed", HeaderValue::from_static("1"));
        h.insert("x-aimock-chaos-disconnect", HeaderValue::from_static("0.5"));
        h.insert("x-request-id", HeaderValue::from_static("abc"));
        h.insert(
            "x-aimock-chaos",
            HeaderValue::from_static("not one of ours"),
        );
        let k = KnownHeaders::scan(&h);
        let get = |n: &str| h.get(HeaderName::from_bytes(n.as_bytes()).unwrap());
        assert_eq!(k.content_length, get("content-length"));
        assert_eq!(k.request_id, get("x-request-id"));
        assert_eq!(k.test_id.unwrap(), "t1", "the first of a repeated header");
        assert_eq!(k.test_id, get("x-test-id"));
        assert_eq!(k.context, get("x-aimock-context"));
        assert_eq!(k.strict, get("x-aimock-strict"));
        assert_eq!(k.chaos[0], None);
        assert_eq!(k.chaos[1], get("x-aimock-chaos-malformed"));
        assert_eq!(k.chaos[2], get("x-aimock-chaos-disconnect"));
    }

    #[test]
    fn a_request_without_them_finds_nothing() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("127.0.0.1"));
        h.insert(
            "x-api-key",
            HeaderValue::from_static("sk-test-not-a-real-key"),
        );
        let k = KnownHeaders::scan(&h);
        assert!(k.content_length.is_none() && k.request_id.is_none() && k.test_id.is_none());
        assert!(k.context.is_none() && k.strict.is_none() && k.chaos.iter().all(Option::is_none));
    }
}

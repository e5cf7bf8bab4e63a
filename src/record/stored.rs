//! The request a recording was made from, kept beside the fixture as
//! `recordedRequest`, so the same request can be sent again later (`aimock drift`) and
//! a reader can see what produced a reply.
//!
//! What is kept: the method, the path with its query (credential parameters masked),
//! the protocol headers a provider needs to read the body the same way
//! (`anthropic-version`, `anthropic-beta`, `openai-beta`, and the content type without
//! any multipart boundary), and the body when it is JSON. Never kept: credential
//! headers, cookies, aimock's own headers, a body that is not JSON (multipart uploads,
//! binary audio): such a request is stored without `body` and drift says it cannot
//! resend it. Every kept value goes through the configured secrets detector before it
//! reaches the disk (`record::persist` and `record::save_raw` do that, with the rest of
//! the fixture).
//!
//! The field name is ours: the reference has no such field (its entry keys are
//! `match`, `response`, stream options, `recordedTimings`, `chaos`, `metadata`), so
//! `recordedRequest` cannot collide with one, and replay never reads it.
//!
//! Rejected: keeping the raw body bytes (base64) for byte-exact resends. A JSON value
//! is readable and diffable in a cassette and can be redacted field by field; a
//! provider reads the same request from either.

use serde_json::{Map, Value};

use super::redact::redact_query;

/// The entry key the stored request is written under.
pub const FIELD: &str = "recordedRequest";

/// Request headers kept with a stored request: what changes how the provider reads the
/// body or which API version answers, never a credential.
const KEPT_HEADERS: &[&str] = &["anthropic-version", "anthropic-beta", "openai-beta"];

/// What a stored request is built from, taken from the request head before it is
/// forwarded; the body (a cheap `Bytes` clone) is read only when the recording is saved,
/// off the request path, so forwarding never waits for a JSON parse of it.
pub(crate) struct Source {
    method: String,
    /// Path and masked query.
    path: String,
    headers: Map<String, Value>,
    body: bytes::Bytes,
}

impl Source {
    /// The parts of `parts` a stored request keeps, and the body.
    pub(crate) fn new(parts: &http::request::Parts, body: bytes::Bytes) -> Source {
        let mut path = parts.uri.path().to_string();
        if let Some(q) = parts.uri.query().filter(|q| !q.is_empty()) {
            path.push('?');
            path.push_str(&redact_query(q));
        }
        let mut headers = Map::new();
        if let Some(ct) = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        {
            // A multipart boundary is random per request and says nothing.
            let ct = ct.split(';').next().unwrap_or(ct).trim();
            if !ct.is_empty() {
                headers.insert("content-type".into(), ct.into());
            }
        }
        for name in KEPT_HEADERS {
            if let Some(v) = parts.headers.get(*name).and_then(|v| v.to_str().ok()) {
                headers.insert((*name).into(), v.into());
            }
        }
        Source {
            method: parts.method.as_str().to_string(),
            path,
            headers,
            body,
        }
    }

    /// The stored form (not yet redacted by the detector; the query already has its
    /// credential parameters masked).
    pub(crate) fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("method".into(), self.method.clone().into());
        out.insert("path".into(), self.path.clone().into());
        if !self.headers.is_empty() {
            out.insert("headers".into(), Value::Object(self.headers.clone()));
        }
        if !self.body.is_empty() {
            if let Ok(v) = serde_json::from_slice::<Value>(&self.body) {
                out.insert("body".into(), v);
            }
        }
        Value::Object(out)
    }
}

/// The stored form of a forwarded request (see [`Source::to_json`]).
#[cfg(test)]
fn stored_request(parts: &http::request::Parts, body: &[u8]) -> Value {
    Source::new(parts, bytes::Bytes::copy_from_slice(body)).to_json()
}

/// A stored request as `aimock drift` resends it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRequest {
    /// `POST`, usually.
    pub method: String,
    /// Path and query as recorded (masked query parameters still in it).
    pub path: String,
    /// The protocol headers kept at record time.
    pub headers: Vec<(String, String)>,
    /// The JSON body; `None` when the request had none that was JSON.
    pub body: Option<Value>,
}

impl StoredRequest {
    /// Read a `recordedRequest` value; the error names what is wrong.
    pub fn from_json(v: &Value) -> Result<StoredRequest, String> {
        let o = v.as_object().ok_or("is not an object")?;
        let method = o
            .get("method")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic()))
            .ok_or("method is missing or not an HTTP method")?
            .to_string();
        let path = o
            .get("path")
            .and_then(Value::as_str)
            .filter(|p| p.starts_with('/'))
            .ok_or("path is missing or does not start with /")?
            .to_string();
        let mut headers = Vec::new();
        match o.get("headers") {
            None => {}
            Some(Value::Object(h)) => {
                for (k, v) in h {
                    let v = v
                        .as_str()
                        .ok_or_else(|| format!("headers.{k} is not a string"))?;
                    headers.push((k.to_ascii_lowercase(), v.to_string()));
                }
            }
            Some(_) => return Err("headers is not an object".into()),
        }
        Ok(StoredRequest {
            method,
            path,
            headers,
            body: o.get("body").cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::post(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn a_stored_request_keeps_protocol_headers_and_the_json_body_but_no_credentials() {
        let p = parts(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=AIzaNotReal",
            &[
                ("content-type", "application/json; charset=utf-8"),
                ("x-goog-api-key", "AIzaNotReal"),
                ("anthropic-version", "2023-06-01"),
                ("x-test-id", "t"),
            ],
        );
        let v = stored_request(&p, br#"{"contents":[{"parts":[{"text":"hi"}]}]}"#);
        assert_eq!(
            v,
            serde_json::json!({
                "method": "POST",
                "path": "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=[REDACTED]",
                "headers": {"content-type": "application/json", "anthropic-version": "2023-06-01"},
                "body": {"contents":[{"parts":[{"text":"hi"}]}]}
            })
        );
        let back = StoredRequest::from_json(&v).unwrap();
        assert_eq!(back.method, "POST");
        assert_eq!(back.headers.len(), 2);
    }

    #[test]
    fn a_body_that_is_not_json_is_not_kept() {
        let p = parts(
            "/v1/audio/transcriptions",
            &[("content-type", "multipart/form-data; boundary=xyz")],
        );
        let v = stored_request(&p, b"--xyz\r\nbinary");
        assert!(v.get("body").is_none());
        assert_eq!(v["headers"]["content-type"], "multipart/form-data");
    }

    #[test]
    fn malformed_stored_requests_say_what_is_wrong() {
        for (v, want) in [
            (serde_json::json!([]), "not an object"),
            (serde_json::json!({"path": "/x"}), "method"),
            (serde_json::json!({"method": "POST", "path": "x"}), "path"),
            (
                serde_json::json!({"method": "POST", "path": "/x", "headers": {"a": 1}}),
                "headers.a",
            ),
        ] {
            let e = StoredRequest::from_json(&v).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }
}

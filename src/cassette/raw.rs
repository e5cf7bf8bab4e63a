//! Raw exchange fixtures: what record mode saves when it cannot turn an exchange into an
//! editable fixture (a request body no provider parser reads, a reply no collapse
//! understands), so that strict replay still gives the client the same bytes.
//!
//! ```json
//! {"match": {"method": "POST", "path": "/model/amazon.titan-text-express-v1/invoke",
//!            "bodyDigest": "sha256:9f2c..."},
//!  "response": {"raw": {"status": 200,
//!                       "headers": {"content-type": "application/json"},
//!                       "body": "{\"results\":[...]}"}},
//!  "_raw": "the Bedrock request body is not in a shape aimock reads: ..."}
//! ```
//!
//! A streamed reply keeps its frames as they arrived, each with the milliseconds since
//! the request was sent: `"frames": [{"at": 212.5, "text": "data: ...\n\n"}, ...]`.
//! Bytes that are not UTF-8 are written as `"base64"` instead of `"text"` (also
//! `"bodyBase64"` for a whole body).
//!
//! A raw fixture matches on the method, the path (without the query string, which may
//! carry a key) and [`body_digest`]: SHA-256 of the body's canonical JSON (object keys
//! sorted, no whitespace), or of its bytes when it is not JSON. So re-indenting or
//! reordering a request's keys still matches; any change of value does not. Raw
//! fixtures take no part in ordinary matching: they answer only a request that no
//! editable fixture answers.
//!
//! Not here: deciding when to save raw (the recorder), replaying (the pipeline).

use std::fmt::Write as _;

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What a raw fixture matches: method, path and body digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawKey {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// `sha256:<hex>` of the canonical body ([`body_digest`]).
    pub digest: String,
}

/// One frame of a raw stream.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFrame {
    /// The bytes, exactly as they arrived.
    pub bytes: Bytes,
    /// When it arrived, ms after the request was sent.
    pub at_ms: f64,
}

/// A raw reply: status, the headers that matter, and the body or its frames.
#[derive(Debug, Clone, PartialEq)]
pub struct RawReply {
    /// HTTP status.
    pub status: u16,
    /// Headers, lower-case names, in order.
    pub headers: Vec<(String, String)>,
    /// The body as frames (one frame for a whole body).
    pub frames: Vec<RawFrame>,
    /// Whether it was a stream (frames kept apart, with their timing).
    pub stream: bool,
}

impl RawReply {
    /// The `content-type` header, if recorded.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.as_str())
    }

    /// The whole body.
    pub fn body(&self) -> Bytes {
        match self.frames.as_slice() {
            [] => Bytes::new(),
            [one] => one.bytes.clone(),
            many => {
                let mut v = Vec::with_capacity(many.iter().map(|f| f.bytes.len()).sum());
                for f in many {
                    v.extend_from_slice(&f.bytes);
                }
                v.into()
            }
        }
    }

    /// The fixture `response` object for this reply.
    pub fn to_json(&self) -> Value {
        let mut raw = Map::new();
        raw.insert("status".into(), self.status.into());
        let headers: Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        raw.insert("headers".into(), Value::Object(headers));
        if self.stream {
            let frames = self
                .frames
                .iter()
                .map(|f| {
                    let mut m = Map::new();
                    m.insert("at".into(), round_ms(f.at_ms));
                    put_bytes(&mut m, "text", "base64", &f.bytes);
                    Value::Object(m)
                })
                .collect();
            raw.insert("frames".into(), Value::Array(frames));
        } else {
            put_bytes(&mut raw, "body", "bodyBase64", &self.body());
        }
        let mut resp = Map::new();
        resp.insert("raw".into(), Value::Object(raw));
        Value::Object(resp)
    }
}

fn round_ms(ms: f64) -> Value {
    let r = (ms * 10.0).round() / 10.0;
    serde_json::Number::from_f64(r).map_or(Value::from(0), Value::Number)
}

fn put_bytes(m: &mut Map<String, Value>, text_key: &str, b64_key: &str, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => m.insert(text_key.into(), Value::String(s.to_string())),
        Err(_) => m.insert(b64_key.into(), Value::String(B64.encode(b))),
    };
}

/// `sha256:<hex>` of `body`'s canonical form: JSON with object keys sorted and no
/// whitespace (numbers as `serde_json` writes them), or the bytes themselves when the
/// body is not JSON.
pub fn body_digest(body: &[u8]) -> String {
    let mut h = Sha256::new();
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let mut out = Vec::with_capacity(body.len());
            canonical(&v, &mut out);
            h.update(&out);
        }
        Err(_) => h.update(body),
    }
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in h.finalize() {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Writing a string into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                canonical(&m[k], out);
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(x, out);
            }
            out.push(b']');
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

/// Read `response.raw`. Problems are `(field, message)` pairs for the loader's report.
pub(crate) fn parse_reply(v: &Value) -> Result<RawReply, (String, String)> {
    let err = |f: &str, m: &str| Err((format!("response.raw{f}"), m.to_string()));
    let Value::Object(o) = v else {
        return err("", "must be an object");
    };
    let status = match o.get("status") {
        None => 200,
        Some(s) => match s.as_u64() {
            Some(n @ 100..=999) => n as u16,
            _ => return err(".status", "must be an HTTP status"),
        },
    };
    let mut headers = Vec::new();
    match o.get("headers") {
        None => {}
        Some(Value::Object(h)) => {
            for (k, v) in h {
                let Some(s) = v.as_str() else {
                    return err(&format!(".headers.{k}"), "must be a string");
                };
                if http::HeaderName::from_bytes(k.as_bytes()).is_err()
                    || http::HeaderValue::from_str(s).is_err()
                {
                    return err(&format!(".headers.{k}"), "is not a valid HTTP header");
                }
                headers.push((k.to_ascii_lowercase(), s.to_string()));
            }
        }
        Some(_) => return err(".headers", "must be an object of strings"),
    }
    let bytes_of = |m: &Map<String, Value>, text: &str, b64: &str, field: &str| match (
        m.get(text),
        m.get(b64),
    ) {
        (Some(Value::String(s)), None) => Ok(Bytes::from(s.clone().into_bytes())),
        (None, Some(Value::String(s))) => B64
            .decode(s)
            .map(Bytes::from)
            .map_err(|_| (format!("response.raw{field}.{b64}"), "is not base64".into())),
        (None, None) => Ok(Bytes::new()),
        _ => Err((
            format!("response.raw{field}"),
            format!("needs one string `{text}` or `{b64}`"),
        )),
    };
    let (frames, stream) = match o.get("frames") {
        Some(Value::Array(a)) => {
            let mut frames = Vec::with_capacity(a.len());
            for (i, f) in a.iter().enumerate() {
                let field = format!(".frames[{i}]");
                let Value::Object(m) = f else {
                    return err(&field, "must be an object");
                };
                let at_ms = match m.get("at") {
                    None => 0.0,
                    Some(x) => match x.as_f64() {
                        Some(t) if t.is_finite() && t >= 0.0 => t,
                        _ => return err(&format!("{field}.at"), "must be milliseconds >= 0"),
                    },
                };
                let bytes = bytes_of(m, "text", "base64", &field)?;
                frames.push(RawFrame { bytes, at_ms });
            }
            (frames, true)
        }
        Some(_) => return err(".frames", "must be an array"),
        None => {
            let b = bytes_of(o, "body", "bodyBase64", "")?;
            (
                vec![RawFrame {
                    bytes: b,
                    at_ms: 0.0,
                }],
                false,
            )
        }
    };
    Ok(RawReply {
        status,
        headers,
        frames,
        stream,
    })
}

/// Read the raw key from a `match` block: `None` when it has none of `method`, `path`,
/// `bodyDigest`; an error when it has some but not all, or a bad value.
pub(crate) fn parse_key(m: &Map<String, Value>) -> Result<Option<RawKey>, (String, String)> {
    let get = |k: &'static str| m.get(k).map(|v| v.as_str().ok_or(k));
    let (method, path, digest) = (get("method"), get("path"), get("bodyDigest"));
    if method.is_none() && path.is_none() && digest.is_none() {
        return Ok(None);
    }
    let need = |v: Option<Result<&str, &'static str>>, k: &str| match v {
        Some(Ok(s)) if !s.is_empty() => Ok(s.to_string()),
        Some(_) => Err((
            format!("match.{k}"),
            "must be a non-empty string".to_string(),
        )),
        None => Err((
            format!("match.{k}"),
            "missing: a raw fixture matches on method, path and bodyDigest together".to_string(),
        )),
    };
    let method = need(method, "method")?.to_ascii_uppercase();
    let path = need(path, "path")?;
    let digest = need(digest, "bodyDigest")?;
    let hex = digest.strip_prefix("sha256:").unwrap_or("");
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err((
            "match.bodyDigest".into(),
            "must be sha256:<64 hex digits>".into(),
        ));
    }
    Ok(Some(RawKey {
        method,
        path,
        digest: digest.to_ascii_lowercase(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_digest_ignores_key_order_and_whitespace_but_not_values() {
        let a = body_digest(br#"{"b":1,"a":{"y":[1,2],"x":"s"}}"#);
        let b = body_digest(b"{ \"a\" : {\"x\":\"s\", \"y\":[1, 2]},\n \"b\":1 }");
        assert_eq!(a, b);
        assert_ne!(a, body_digest(br#"{"b":2,"a":{"y":[1,2],"x":"s"}}"#));
        assert_ne!(a, body_digest(br#"{"b":1,"a":{"y":[2,1],"x":"s"}}"#));
        assert!(a.starts_with("sha256:") && a.len() == 71);
        // Not JSON: the bytes themselves.
        assert_ne!(body_digest(b"a=1&b=2"), body_digest(b"b=2&a=1"));
    }

    #[test]
    fn a_reply_round_trips_through_its_fixture_form() {
        let streamed = RawReply {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            frames: vec![
                RawFrame {
                    bytes: Bytes::from_static(b"data: {\"a\":1}\n\n"),
                    at_ms: 12.3,
                },
                RawFrame {
                    bytes: Bytes::from_static(&[0xff, 0x00, 0x01]),
                    at_ms: 40.0,
                },
            ],
            stream: true,
        };
        let whole = RawReply {
            status: 400,
            headers: vec![("x-amzn-errortype".into(), "ValidationException".into())],
            frames: vec![RawFrame {
                bytes: Bytes::from_static(b"{\"message\":\"bad\"}"),
                at_ms: 0.0,
            }],
            stream: false,
        };
        for r in [streamed, whole] {
            let v = r.to_json();
            let back = parse_reply(&v["raw"]).unwrap();
            assert_eq!(back, r, "{v}");
        }
    }

    #[test]
    fn bad_raw_replies_and_keys_name_their_field() {
        for (v, field) in [
            (json!({"status": 42}), "response.raw.status"),
            (json!({"headers": {"a b": "x"}}), "response.raw.headers.a b"),
            (
                json!({"frames": [{"at": -1, "text": "x"}]}),
                "response.raw.frames[0].at",
            ),
            (json!({"bodyBase64": "***"}), "response.raw.bodyBase64"),
            (json!({"body": "x", "bodyBase64": "eA=="}), "response.raw"),
        ] {
            assert_eq!(parse_reply(&v).unwrap_err().0, field, "{v}");
        }
        let m = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(parse_key(&m(json!({"userMessage": "x"}))).unwrap(), None);
        assert_eq!(
            parse_key(&m(json!({"method": "POST", "path": "/x"})))
                .unwrap_err()
                .0,
            "match.bodyDigest"
        );
        assert_eq!(
            parse_key(&m(
                json!({"method": "POST", "path": "/x", "bodyDigest": "md5:1"})
            ))
            .unwrap_err()
            .0,
            "match.bodyDigest"
        );
        let d = body_digest(b"{}");
        let k = parse_key(&m(json!({"method": "post", "path": "/x", "bodyDigest": d})))
            .unwrap()
            .unwrap();
        assert_eq!(k.method, "POST");
    }
}

//! Recorded exchanges: the `vector` section's `recorded` list, what `aimock record
//! --upstream-vector` saves and what every later run answers from, before the store.
//!
//! ```json
//! "vector": { "recorded": [
//!   { "method": "POST", "path": "/query",
//!     "match": {"body": {"namespace": "docs", "topK": 2, "vector": [0.1, 0.2]}},
//!     "status": 200,
//!     "response": {"matches": [{"id": "a", "score": 0.9}], "namespace": "docs"} } ] }
//! ```
//!
//! - `method` (default `POST`) and `path`, the path below the mount (`/query`,
//!   `/collections/docs/points/query`, `/api/v2/tenants/t/databases/d/collections/x`);
//! - `match.body`: the request's JSON body, compared as JSON (key order and whitespace
//!   ignored; a body that is not JSON is saved and compared as a string); absent,
//!   any body matches;
//! - `match.query`: the raw query string (`ids=a&namespace=docs`), compared exactly;
//!   absent, any query string matches;
//! - `status` (default 200) and `response`, the JSON replied.
//!
//! The first entry that matches answers. Entries are editable by hand like any other
//! part of the section.
//!
//! Not here: deciding what is a miss and forwarding it (`record`).

use anyhow::{bail, Context};
use http::Method;
use serde_json::{Map, Value};

/// One recorded exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The request method.
    pub method: Method,
    /// The path below the mount.
    pub path: String,
    /// The request body, when the entry names one.
    pub body: Option<Value>,
    /// The raw query string, when the entry names one.
    pub query: Option<String>,
    /// The reply status.
    pub status: u16,
    /// The reply.
    pub response: Value,
}

impl Recorded {
    /// Does a request with this method, sub-path, query string and body match?
    pub fn matches(&self, method: &Method, sub: &str, query: Option<&str>, body: &Value) -> bool {
        self.method == method
            && self.path == sub
            && self
                .query
                .as_deref()
                .is_none_or(|q| q == query.unwrap_or(""))
            && self.body.as_ref().is_none_or(|b| b == body)
    }

    /// The entry as the section holds it (keys sorted in `match.body`, so files diff
    /// cleanly whatever order the client sent).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("method".into(), self.method.as_str().into());
        m.insert("path".into(), self.path.clone().into());
        let mut mat = Map::new();
        if let Some(q) = &self.query {
            mat.insert("query".into(), q.clone().into());
        }
        if let Some(b) = &self.body {
            mat.insert("body".into(), canonical(b));
        }
        if !mat.is_empty() {
            m.insert("match".into(), Value::Object(mat));
        }
        m.insert("status".into(), self.status.into());
        m.insert("response".into(), self.response.clone());
        Value::Object(m)
    }
}

/// A request body as entries compare it: its JSON, or the text when it is not JSON;
/// an empty body is `null`.
pub fn body_value(body: &[u8]) -> Value {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// `v` with every object's keys sorted.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Read the section's `recorded` list.
pub fn parse(v: Option<&Value>) -> anyhow::Result<Vec<Recorded>> {
    let list = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => bail!("`vector.recorded` must be a list"),
    };
    list.iter()
        .enumerate()
        .map(|(i, e)| entry(e).with_context(|| format!("`vector.recorded[{i}]`")))
        .collect()
}

fn entry(v: &Value) -> anyhow::Result<Recorded> {
    let Value::Object(m) = v else {
        bail!("must be an object with `path` and `response`");
    };
    for k in m.keys() {
        if !matches!(
            k.as_str(),
            "method" | "path" | "match" | "status" | "response"
        ) {
            tracing::warn!(key = %k, "key `{k}` of a recorded vector exchange is not read (ignored)");
        }
    }
    let method = match m.get("method") {
        None | Some(Value::Null) => Method::POST,
        Some(Value::String(s)) => Method::from_bytes(s.to_ascii_uppercase().as_bytes())
            .with_context(|| format!("`method` {s:?} is not an HTTP method"))?,
        Some(_) => bail!("`method` must be a string"),
    };
    let path = match m.get("path") {
        Some(Value::String(s)) if s.starts_with('/') => s.clone(),
        _ => bail!("`path` must be a path starting with / (the path below the mount)"),
    };
    let (mut body, mut query) = (None, None);
    match m.get("match") {
        None | Some(Value::Null) => {}
        Some(Value::Object(mat)) => {
            body = mat.get("body").cloned();
            query = match mat.get("query") {
                None | Some(Value::Null) => None,
                Some(Value::String(q)) => Some(q.trim_start_matches('?').to_string()),
                Some(_) => bail!("`match.query` must be a string"),
            };
        }
        Some(_) => bail!("`match` must be an object"),
    }
    let status = match m.get("status") {
        None | Some(Value::Null) => 200,
        Some(s) => match s.as_u64() {
            Some(n @ 200..=599) => n as u16,
            _ => bail!("`status` must be an HTTP status from 200 to 599"),
        },
    };
    let response = m
        .get("response")
        .cloned()
        .context("`response` is missing (the JSON to reply)")?;
    Ok(Recorded {
        method,
        path,
        body,
        query,
        status,
        response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_body_matches_whatever_its_key_order_and_spacing() {
        let r = parse(Some(&json!([{"path": "/query",
            "match": {"body": {"topK": 2, "namespace": "docs", "vector": [0.5, 1]}},
            "response": {"matches": []}}])))
        .unwrap();
        let e = &r[0];
        assert_eq!((e.method.clone(), e.status), (Method::POST, 200));
        let sent = body_value(br#" { "vector" : [0.5, 1], "namespace": "docs", "topK": 2 } "#);
        assert!(e.matches(&Method::POST, "/query", None, &sent));
        let other = body_value(br#"{"vector": [0.5, 1], "namespace": "docs", "topK": 3}"#);
        assert!(!e.matches(&Method::POST, "/query", None, &other));
        assert!(!e.matches(&Method::GET, "/query", None, &sent));
        assert!(!e.matches(&Method::POST, "/query/x", None, &sent));
    }

    #[test]
    fn absent_criteria_match_anything_and_a_query_string_matches_exactly() {
        let r = parse(Some(&json!([{"method": "get", "path": "/vectors/fetch",
            "match": {"query": "ids=a"}, "status": 200, "response": {}}])))
        .unwrap();
        let e = &r[0];
        assert!(e.matches(&Method::GET, "/vectors/fetch", Some("ids=a"), &Value::Null));
        assert!(!e.matches(&Method::GET, "/vectors/fetch", Some("ids=b"), &Value::Null));
        assert!(!e.matches(&Method::GET, "/vectors/fetch", None, &Value::Null));
    }

    #[test]
    fn saved_entries_read_back_the_same_with_sorted_keys() {
        let e = Recorded {
            method: Method::POST,
            path: "/collections/docs/points/query".into(),
            body: Some(json!({"z": 1, "a": {"y": 2, "b": 3}})),
            query: None,
            status: 404,
            response: json!({"status": {"error": "Not found"}}),
        };
        let v = e.to_json();
        assert_eq!(
            serde_json::to_string(&v["match"]["body"]).unwrap(),
            r#"{"a":{"b":3,"y":2},"z":1}"#
        );
        assert_eq!(parse(Some(&json!([v]))).unwrap(), vec![e]);
    }

    #[test]
    fn bad_entries_name_the_key() {
        for (v, key) in [
            (json!({}), "vector.recorded"),
            (json!([{"response": {}}]), "path"),
            (json!([{"path": "/q"}]), "response"),
            (
                json!([{"path": "/q", "response": {}, "status": 99}]),
                "status",
            ),
            (
                json!([{"path": "/q", "response": {}, "match": []}]),
                "match",
            ),
            (
                json!([{"path": "/q", "response": {}, "method": "a b"}]),
                "method",
            ),
        ] {
            let e = format!("{:#}", parse(Some(&v)).unwrap_err());
            assert!(e.contains(key), "{e}");
        }
    }
}

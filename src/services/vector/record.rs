//! Recording a vector database (`aimock record --upstream-vector URL --vector FILE`):
//! a read the store cannot answer is forwarded to URL plus the path below the mount
//! (query string kept; the client's `Api-Key`, `api-key` and `Authorization` headers go
//! along and are never saved), the reply is relayed to the client as it came, and the
//! exchange is appended to the section file's `recorded` list (`recorded`), which
//! answers the same request on every later run.
//!
//! What is a miss ([`miss`]): a read naming a collection the store does not have (a
//! Pinecone namespace, a Qdrant collection, a Chroma collection by name or id), a query
//! against a collection with no stored vectors and no canned results, and any route
//! the dialects do not serve (the caller's test). Writes — upserts, deletes,
//! collection creation — are never forwarded: they change the local store, as in
//! replay, so a record run that upserts and then queries answers from what it upserted.
//!
//! Saved: replies that are JSON with a 2xx or 4xx status, except 401, 403, 407, 408
//! and 429 (about the credential or the moment, not the data); the rest are relayed
//! only. `--proxy-only` saves nothing. The file is written through `services::source`,
//! so every saved value passes the credential detector (a key in the upstream's reply
//! is redacted).
//!
//! Not here: the HTTP client and its limits (`services::upstream`), the entries' shape
//! and matching (`recorded`).
//!
//! # Design
//! A miss is decided before the dialect runs, from the route and the store, rather
//! than read back from the dialect's reply: a Pinecone query for an unknown namespace
//! answers 200 with no matches (as Pinecone does), which no status check could tell
//! from a real empty answer. Rejected: forwarding every read (a record run would then
//! ignore the collections the config does hold).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Response};
use serde_json::{json, Value};

use super::recorded::{body_value, Recorded};
use super::store::Store;
use super::{json_reply, pinecone, Call, Dialect};
use crate::respond::body::Body;
use crate::services::source::SourceFile;
use crate::services::upstream::Upstream;

/// Forwards the vector mock's misses and saves what came back.
pub struct VectorRecorder {
    up: Upstream,
    source: Arc<SourceFile>,
}

/// What forwarding gave: the reply for the client, and whether the file changed.
pub struct Forwarded {
    /// The reply, relayed.
    pub reply: Response<Body>,
    /// A recording was written to the section file.
    pub saved: bool,
}

impl VectorRecorder {
    /// The recorder, when `aimock record --upstream-vector` was given.
    pub fn from_config(
        config: &crate::config::Config,
        source: Option<Arc<SourceFile>>,
    ) -> anyhow::Result<Option<VectorRecorder>> {
        let Some(up) = Upstream::from_config(config, "vector")? else {
            return Ok(None);
        };
        let source =
            source.ok_or_else(|| anyhow::anyhow!("--upstream-vector needs --vector FILE"))?;
        Ok(Some(VectorRecorder { up, source }))
    }

    /// Forward a miss (`why` says what the store lacked) and relay the reply, saving it
    /// when it is worth replaying.
    pub async fn forward(&self, call: &Call<'_>, headers: &HeaderMap, why: &str) -> Forwarded {
        let dialect = Dialect::of(call.sub);
        let failed = |e: String| {
            tracing::warn!(sub = call.sub, upstream = %self.up.url, "vector upstream failed: {e}");
            Forwarded {
                reply: upstream_error(dialect, &format!("Proxy to upstream failed: {e}")),
                saved: false,
            }
        };
        let uri = match self.up.below(call.sub, call.query) {
            Ok(u) => u,
            Err(e) => return failed(e),
        };
        tracing::info!(method = %call.method, sub = call.sub, upstream = %uri, reason = why, "forwarding a vector miss");
        let header = |name: http::header::HeaderName, default: &str| {
            headers
                .get(&name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(default)
                .to_string()
        };
        let mut replace = vec![("accept", header(http::header::ACCEPT, "application/json"))];
        if !call.body.is_empty() {
            replace.push((
                "content-type",
                header(http::header::CONTENT_TYPE, "application/json"),
            ));
        }
        let sent = self
            .up
            .exchange_to(
                uri,
                call.method.clone(),
                headers,
                &replace,
                Bytes::copy_from_slice(call.body),
            )
            .await;
        let (head, bytes) = match sent {
            Ok(r) => r,
            Err(e) => return failed(e),
        };
        let status = head.status.as_u16();
        let mut reply = Response::new(Body::full(bytes.clone()));
        *reply.status_mut() = head.status;
        if let Some(ct) = head.headers.get(http::header::CONTENT_TYPE) {
            reply
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, ct.clone());
        }
        let saved = match self.entry(call, status, &bytes) {
            Some(entry) => match self.save(&entry) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!("vector recording not saved: {e:#}");
                    false
                }
            },
            None => false,
        };
        Forwarded { reply, saved }
    }

    /// The exchange to save, or `None` (with the reason logged).
    fn entry(&self, call: &Call, status: u16, reply: &[u8]) -> Option<Recorded> {
        if self.up.proxy_only {
            return None;
        }
        let keep = (200..300).contains(&status)
            || ((400..500).contains(&status) && !matches!(status, 401 | 403 | 407 | 408 | 429));
        if !keep {
            tracing::info!(
                status,
                sub = call.sub,
                "vector upstream reply relayed, not recorded (status)"
            );
            return None;
        }
        let Ok(response) = serde_json::from_slice::<Value>(reply) else {
            tracing::info!(
                status,
                sub = call.sub,
                "vector upstream reply relayed, not recorded (not JSON)"
            );
            return None;
        };
        let body = body_value(call.body);
        Some(Recorded {
            method: call.method.clone(),
            path: call.sub.to_string(),
            body: (!body.is_null()).then_some(body),
            query: call.query.filter(|q| !q.is_empty()).map(str::to_string),
            status,
            response,
        })
    }

    fn save(&self, entry: &Recorded) -> anyhow::Result<()> {
        self.source.update(|section| {
            let list = section
                .entry("recorded".to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !list.is_array() {
                *list = Value::Array(Vec::new());
            }
            if let Value::Array(a) = list {
                a.push(entry.to_json());
            }
        })?;
        tracing::info!(file = %self.source.path().display(), method = %entry.method, path = %entry.path, "recorded a vector exchange");
        Ok(())
    }
}

/// A failed forward in the dialect's own error shape (502).
fn upstream_error(dialect: Dialect, message: &str) -> Response<Body> {
    let body = match dialect {
        Dialect::Pinecone => json!({"code": 14, "message": message, "details": []}),
        Dialect::Qdrant => json!({"status": {"error": message}, "time": 0.0}),
        Dialect::Chroma => json!({"error": "ProxyError", "message": message}),
    };
    json_reply(502, &body)
}

/// Why the store cannot answer `call`, when it is a read it cannot answer (see the
/// module doc); `None` when the dialects should answer (including with their own
/// errors for malformed requests).
pub fn miss(store: &Store, call: &Call) -> Option<String> {
    let queryable = |name: &str| match store.get(name) {
        Err(_) => Some(format!("collection `{name}` is not in the store")),
        Ok(c) if c.is_empty() && c.canned.is_none() => Some(format!(
            "collection `{name}` has no stored vectors and no canned results"
        )),
        Ok(_) => None,
    };
    let known = |name: &str| {
        store
            .get(name)
            .is_err()
            .then(|| format!("collection `{name}` is not in the store"))
    };
    let m = call.method.as_str();
    match Dialect::of(call.sub) {
        Dialect::Pinecone => match (m, call.sub) {
            ("POST", "/query") => {
                let ns = pinecone::namespace(&call.json().ok()?).ok()?;
                queryable(&ns)
            }
            ("GET", "/vectors/fetch") => known(&pinecone::fetch_namespace(call)),
            _ => None,
        },
        Dialect::Qdrant => {
            let rest = call.sub.strip_prefix("/collections/")?;
            let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
            let name = decode(name);
            match (m, tail) {
                ("POST", "points/query" | "points/search") => queryable(&name),
                ("GET", "" | "exists") | ("POST", "points" | "points/scroll" | "points/count") => {
                    known(&name)
                }
                ("GET", t) if t.starts_with("points/") => known(&name),
                _ => None,
            }
        }
        Dialect::Chroma => {
            if let Some(rest) = call.sub.strip_prefix("/api/v1/collections/") {
                let (name, op) = rest.split_once('/').unwrap_or((rest, ""));
                return (m == "POST" && op == "query")
                    .then(|| queryable(&decode(name)))
                    .flatten();
            }
            let parts: Vec<String> = call
                .sub
                .strip_prefix("/api/v2/")?
                .split('/')
                .filter(|s| !s.is_empty())
                .map(decode)
                .collect();
            let p: Vec<&str> = parts.iter().map(String::as_str).collect();
            let by_id = |id: &str, query: bool| match store.by_id(id) {
                Err(_) => Some(format!("collection `{id}` is not in the store")),
                Ok(c) if query => queryable(&c.name),
                Ok(_) => None,
            };
            match (m, p.as_slice()) {
                ("GET", ["tenants", _, "databases", _, "collections", "by-id", id])
                | ("GET", ["tenants", _, "databases", _, "collections", id, "count"])
                | ("POST", ["tenants", _, "databases", _, "collections", id, "get"]) => {
                    by_id(id, false)
                }
                ("POST", ["tenants", _, "databases", _, "collections", id, "query"]) => {
                    by_id(id, true)
                }
                ("GET", ["tenants", _, "databases", _, "collections", name]) => known(name),
                _ => None,
            }
        }
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn call<'a>(method: &'a Method, sub: &'a str, body: &'a [u8]) -> Call<'a> {
        Call {
            method,
            sub,
            query: None,
            body,
        }
    }

    #[test]
    fn reads_of_unknown_or_empty_collections_are_misses_and_writes_never_are() {
        let store = super::super::config::parse(&json!({"collections": [
            {"name": "full", "dimension": 2, "vectors": [{"id": "a", "values": [1, 0]}]},
            {"name": "canned", "queryResults": [{"id": "x", "score": 0.5}]},
            {"name": "empty", "dimension": 2}]}))
        .unwrap()
        .store;
        let (get, post, put) = (Method::GET, Method::POST, Method::PUT);
        let pc = |ns: &str| {
            format!(r#"{{"namespace": "{ns}", "topK": 1, "vector": [1, 0]}}"#).into_bytes()
        };
        for ns in ["full", "canned"] {
            assert_eq!(miss(&store, &call(&post, "/query", &pc(ns))), None, "{ns}");
        }
        for ns in ["empty", "nowhere"] {
            assert!(
                miss(&store, &call(&post, "/query", &pc(ns))).is_some(),
                "{ns}"
            );
        }
        assert_eq!(miss(&store, &call(&post, "/query", b"not json")), None);
        assert_eq!(
            miss(&store, &call(&post, "/vectors/upsert", &pc("nowhere"))),
            None
        );
        assert!(miss(
            &store,
            &call(&post, "/collections/empty/points/query", b"{}")
        )
        .is_some());
        assert!(miss(
            &store,
            &call(&post, "/collections/no%20such/points/scroll", b"{}")
        )
        .is_some());
        assert_eq!(
            miss(
                &store,
                &call(&post, "/collections/empty/points/scroll", b"{}")
            ),
            None
        );
        assert_eq!(
            miss(&store, &call(&put, "/collections/nowhere/points", b"{}")),
            None
        );
        assert_eq!(
            miss(&store, &call(&put, "/collections/nowhere", b"{}")),
            None
        );
        let chroma =
            |id: &str, op: &str| format!("/api/v2/tenants/t/databases/d/collections/{id}/{op}");
        let full_id = store.get("full").unwrap().id.clone();
        assert_eq!(
            miss(&store, &call(&post, &chroma(&full_id, "query"), b"{}")),
            None
        );
        assert!(miss(&store, &call(&post, &chroma("nowhere", "query"), b"{}")).is_some());
        assert!(miss(&store, &call(&post, &chroma("empty", "query"), b"{}")).is_some());
        assert_eq!(
            miss(&store, &call(&post, &chroma("nowhere", "add"), b"{}")),
            None
        );
        assert!(miss(
            &store,
            &call(
                &get,
                "/api/v2/tenants/t/databases/d/collections/nowhere",
                b""
            )
        )
        .is_some());
        assert!(miss(
            &store,
            &call(&post, "/api/v1/collections/nowhere/query", b"{}")
        )
        .is_some());
        assert_eq!(
            miss(&store, &call(&get, "/describe_index_stats", b"")),
            None
        );
    }
}

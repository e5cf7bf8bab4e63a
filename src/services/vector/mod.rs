//! The vector database mock: the config file's `vector` section, mounted at its `path`
//! (default `/vector`), answering three wire dialects over one store of collections.
//!
//! - [`pinecone`]: the data plane the `pinecone` client calls (`Index(host=".../vector")`):
//!   `/query`, `/vectors/upsert|delete|fetch`, `/describe_index_stats`, and the
//!   reference's `GET /describe-index-stats`. A namespace names a collection (the
//!   reference's rule; no namespace is the collection `default`).
//! - [`qdrant`]: Qdrant's REST API as `qdrant-client` calls it
//!   (`QdrantClient(url=..., prefix="vector")`), in the `{"result","status","time"}`
//!   envelope: collections, `points/query`, `points/search`, upsert, delete, retrieve,
//!   scroll, count.
//! - [`chroma`]: Chroma's v2 API as `chromadb.HttpClient(host="http://.../vector")`
//!   calls it (identity, tenants, databases, collections by id, add, upsert, update,
//!   query, get, delete, count, heartbeat), and the reference's `/api/v1` routes.
//!
//! A query against a collection with canned `queryResults` answers with them; any
//! other is an exact nearest-neighbour search over the stored vectors (`search`,
//! `store`), filtered by metadata (`filter`). Upserts change the store at run time;
//! `POST /__aimock/reset` restores the configured collections.
//!
//! Not here: recording (vector traffic is answered from the store, never forwarded),
//! sparse vectors, named vectors, Pinecone's control plane and integrated inference.
//!
//! # Design
//! One store behind one `RwLock`, not a lock per collection: queries take the read lock
//! for the length of one scan (well under a millisecond), and writes are rare in tests.
//! The lock is never held across an await: handlers are synchronous.

pub mod chroma;
pub mod config;
pub mod filter;
pub mod pinecone;
pub mod qdrant;
pub mod search;
pub mod store;

use std::sync::{Arc, RwLock};

use http::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::respond::body::Body;
use crate::services::{Reply, Service, ServiceRequest};
use store::Store;

/// The mounted vector service.
pub struct VectorService {
    prefix: String,
    /// The live store. Locking: see the module's design note.
    store: RwLock<Store>,
    /// What the configuration holds, restored by a reset.
    configured: Store,
}

/// Build the service the `vector` section asks for (the `CONFIGURED` table's entry).
pub fn from_section(
    v: &Value,
    _config: &crate::config::Config,
) -> anyhow::Result<Vec<Arc<dyn Service>>> {
    let c = config::parse(v)?;
    tracing::info!(
        path = %c.path,
        collections = c.store.collections.len(),
        vectors = c.store.total(),
        "vector mock mounted"
    );
    Ok(vec![Arc::new(VectorService::new(c.path, c.store))])
}

impl VectorService {
    /// A service at `prefix` serving `store` (and restoring it on reset).
    pub fn new(prefix: String, store: Store) -> VectorService {
        VectorService {
            prefix,
            store: RwLock::new(store.clone()),
            configured: store,
        }
    }

    /// Restore the configured collections (`POST /__aimock/reset`, Chroma's `reset`).
    pub fn reset_store(&self) {
        *self.write() = self.configured.clone();
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Answer one request (synchronously: nothing here waits).
    pub fn answer(&self, req: &ServiceRequest) -> Response<Body> {
        let sub = req
            .path
            .strip_prefix(self.prefix.as_str())
            .unwrap_or(&req.path);
        let sub = if sub.is_empty() { "/" } else { sub };
        let call = Call {
            method: &req.method,
            sub,
            query: req.query.as_deref(),
            body: &req.body,
        };
        let answered = if sub.starts_with("/api/") {
            chroma::handle(self, &call)
        } else if sub == "/" || sub.starts_with("/collections") {
            qdrant::handle(self, &call)
        } else {
            pinecone::handle(self, &call)
        };
        answered.unwrap_or_else(|| {
            tracing::info!(method = %req.method, path = %req.path, "no vector route here");
            json_reply(
                404,
                &json!({"error": {"message": format!("Not found: {} {}", req.method, req.path),
                                  "type": "invalid_request_error", "code": "not_found"}}),
            )
        })
    }
}

impl Service for VectorService {
    fn name(&self) -> &str {
        "vector"
    }

    fn prefix(&self) -> &str {
        &self.prefix
    }

    fn handle(&self, req: ServiceRequest) -> Reply<'_> {
        let resp = self.answer(&req);
        Box::pin(async move { resp })
    }

    fn health(&self) -> Value {
        let s = self.read();
        json!({"status": "ok", "collections": s.collections.len(), "vectors": s.total()})
    }

    fn reset(&self) {
        self.reset_store();
    }
}

/// One request as the dialects see it: the path below the mount.
pub struct Call<'a> {
    /// The method.
    pub method: &'a Method,
    /// The path below the mount (`/query`, `/collections/x/points`), `/` for the root.
    pub sub: &'a str,
    /// The raw query string.
    pub query: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

impl Call<'_> {
    /// The body as a JSON object, or what is wrong with it. An empty body is `{}`.
    pub fn json(&self) -> Result<serde_json::Map<String, Value>, String> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Map::new());
        }
        match serde_json::from_slice::<Value>(self.body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err("Request body must be a JSON object".into()),
            Err(e) => Err(format!("Malformed JSON body: {e}")),
        }
    }

    /// Every value of query parameter `name`, percent-decoded (`ids=a&ids=b`).
    pub fn query_all(&self, name: &str) -> Vec<String> {
        let Some(q) = self.query else {
            return Vec::new();
        };
        q.split('&')
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (k == name).then(|| {
                    percent_encoding::percent_decode_str(&v.replace('+', " "))
                        .decode_utf8_lossy()
                        .into_owned()
                })
            })
            .collect()
    }
}

/// A JSON reply with a status.
pub fn json_reply(status: u16, v: &Value) -> Response<Body> {
    let mut r = Response::new(Body::full(v.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

/// Log a refused request once, with what was wrong, and pass the reply through.
pub fn refused(dialect: &str, status: u16, message: &str, resp: Response<Body>) -> Response<Body> {
    tracing::info!(dialect, status, reason = message, "vector request refused");
    resp
}

/// Read `limit`-style counts: absent is `default`, anything but a whole number is an
/// error naming the field; capped so a hostile value cannot ask for a huge allocation.
pub fn count_field(
    m: &serde_json::Map<String, Value>,
    key: &str,
    default: usize,
) -> Result<usize, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .map(|n| n.min(1_000_000) as usize)
            .ok_or_else(|| format!("`{key}` must be a non-negative integer")),
    }
}

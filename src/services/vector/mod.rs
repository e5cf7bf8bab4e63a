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
//! A `recorded` exchange (`recorded`) answers before any of that: the same method,
//! sub-path and JSON body as an entry gets the entry's reply. In `aimock record
//! --upstream-vector URL --vector FILE`, a read the store cannot answer (an unknown
//! collection, a query against an empty collection without canned results, a route no
//! dialect serves) is forwarded, relayed and saved there (`record`); writes stay local.
//! The section file (`--vector FILE`) is watched: an edit to `recorded` takes effect
//! at once, an edit to `collections` replaces the configured store and resets the
//! live one.
//!
//! Not here: sparse vectors, named vectors, Pinecone's control plane and integrated
//! inference (in record mode their routes are forwarded like any unserved route).
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
pub mod record;
pub mod recorded;
pub mod search;
pub mod store;

use std::sync::{Arc, Mutex, RwLock};

use http::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::respond::body::Body;
use crate::services::source::SourceFile;
use crate::services::{Reply, Service, ServiceRequest};
use recorded::Recorded;
use store::Store;

/// The mounted vector service.
pub struct VectorService {
    prefix: String,
    /// The live store. Locking: see the module's design note.
    store: RwLock<Store>,
    /// What the configuration holds, restored by a reset.
    configured: RwLock<Store>,
    /// The recorded exchanges in force: swapped whole on reload or after a recording.
    recorded: RwLock<Arc<Vec<Recorded>>>,
    /// The `collections` the configured store was read from: a reload that leaves
    /// them alone (a recording was appended) keeps the run-time store.
    collections_seen: Mutex<Value>,
    /// Forwarding of misses, in `aimock record --upstream-vector`.
    recorder: Option<record::VectorRecorder>,
    /// The file the section came from (`--vector FILE`), if any.
    source: Option<Arc<SourceFile>>,
}

/// Build the service the `vector` section asks for (the `CONFIGURED` table's entry).
pub fn from_section(
    v: &Value,
    config: &crate::config::Config,
) -> anyhow::Result<Vec<Arc<dyn Service>>> {
    let c = config::parse(v)?;
    tracing::info!(
        path = %c.path,
        collections = c.store.collections.len(),
        vectors = c.store.total(),
        recorded = c.recorded.len(),
        "vector mock mounted"
    );
    let source = crate::services::source::for_section(config, "vector");
    let recorder = record::VectorRecorder::from_config(config, source.clone())?;
    let mut svc = VectorService::new(c.path, c.store);
    *svc.recorded.get_mut().unwrap_or_else(|p| p.into_inner()) = Arc::new(c.recorded);
    *svc.collections_seen
        .get_mut()
        .unwrap_or_else(|p| p.into_inner()) = v.get("collections").cloned().unwrap_or(Value::Null);
    svc.recorder = recorder;
    svc.source = source.clone();
    let svc = Arc::new(svc);
    if let Some(src) = &source {
        let me = Arc::downgrade(&svc);
        src.watch(config, move |v| match me.upgrade() {
            Some(s) => s.apply(v),
            None => Ok(()),
        });
    }
    Ok(vec![svc])
}

/// Which wire dialect a path below the mount speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Pinecone's data plane (every path not claimed by the other two).
    Pinecone,
    /// Qdrant's REST API (`/`, `/collections...`).
    Qdrant,
    /// Chroma's HTTP API (`/api/...`).
    Chroma,
}

impl Dialect {
    /// The dialect of `sub`, the path below the mount.
    pub fn of(sub: &str) -> Dialect {
        if sub.starts_with("/api/") {
            Dialect::Chroma
        } else if sub == "/" || sub.starts_with("/collections") {
            Dialect::Qdrant
        } else {
            Dialect::Pinecone
        }
    }
}

impl VectorService {
    /// A service at `prefix` serving `store` (and restoring it on reset).
    pub fn new(prefix: String, store: Store) -> VectorService {
        VectorService {
            prefix,
            store: RwLock::new(store.clone()),
            configured: RwLock::new(store),
            recorded: RwLock::new(Arc::new(Vec::new())),
            collections_seen: Mutex::new(Value::Null),
            recorder: None,
            source: None,
        }
    }

    /// Restore the configured collections (`POST /__aimock/reset`, Chroma's `reset`).
    pub fn reset_store(&self) {
        let configured = self
            .configured
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        *self.write() = configured;
    }

    /// Take the section as it now stands (the file was edited, or a recording was
    /// saved): the recorded exchanges are swapped; changed `collections` replace the
    /// configured store and reset the live one; a changed `path` needs a restart.
    fn apply(&self, v: &Value) -> anyhow::Result<()> {
        let c = config::parse(v)?;
        if c.path != self.prefix {
            tracing::warn!(
                path = %c.path,
                mounted = %self.prefix,
                "`vector.path` changed in the file; the mount stays until restart"
            );
        }
        *self.recorded.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(c.recorded);
        let collections = v.get("collections").cloned().unwrap_or(Value::Null);
        let mut seen = self
            .collections_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *seen != collections {
            *seen = collections;
            *self.configured.write().unwrap_or_else(|p| p.into_inner()) = c.store;
            self.reset_store();
        }
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|p| p.into_inner())
    }

    fn sub<'a>(&self, path: &'a str) -> &'a str {
        let sub = path.strip_prefix(self.prefix.as_str()).unwrap_or(path);
        if sub.is_empty() {
            "/"
        } else {
            sub
        }
    }

    /// The recorded exchange answering `call`, if one does.
    fn replayed(&self, call: &Call) -> Option<Response<Body>> {
        let recorded = self
            .recorded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if recorded.is_empty() {
            return None;
        }
        let body = recorded::body_value(call.body);
        let e = recorded
            .iter()
            .find(|e| e.matches(call.method, call.sub, call.query, &body))?;
        tracing::debug!(method = %call.method, sub = call.sub, "answered from a recorded exchange");
        Some(json_reply(e.status, &e.response))
    }

    /// Answer one request from the configuration (synchronously: nothing here waits):
    /// a recorded exchange, else the dialect over the store.
    pub fn answer(&self, req: &ServiceRequest) -> Response<Body> {
        let call = Call {
            method: &req.method,
            sub: self.sub(&req.path),
            query: req.query.as_deref(),
            body: &req.body,
        };
        if let Some(r) = self.replayed(&call) {
            return r;
        }
        self.dispatch(&call).unwrap_or_else(|| {
            tracing::info!(method = %req.method, path = %req.path, "no vector route here");
            json_reply(
                404,
                &json!({"error": {"message": format!("Not found: {} {}", req.method, req.path),
                                  "type": "invalid_request_error", "code": "not_found"}}),
            )
        })
    }

    /// The dialect's answer, or `None` when no dialect serves the route.
    fn dispatch(&self, call: &Call) -> Option<Response<Body>> {
        match Dialect::of(call.sub) {
            Dialect::Chroma => chroma::handle(self, call),
            Dialect::Qdrant => qdrant::handle(self, call),
            Dialect::Pinecone => pinecone::handle(self, call),
        }
    }

    /// Answer in `aimock record`: what the configuration can answer is answered; a
    /// miss (`record::miss`, or a route no dialect serves) goes upstream.
    async fn answer_recording(
        &self,
        recorder: &record::VectorRecorder,
        req: &ServiceRequest,
    ) -> Response<Body> {
        let call = Call {
            method: &req.method,
            sub: self.sub(&req.path),
            query: req.query.as_deref(),
            body: &req.body,
        };
        if let Some(r) = self.replayed(&call) {
            return r;
        }
        let why = record::miss(&self.read(), &call);
        let why = match why {
            Some(w) => w,
            None => match self.dispatch(&call) {
                Some(r) => return r,
                None => "no vector route here".to_string(),
            },
        };
        let out = recorder.forward(&call, &req.headers, &why).await;
        if out.saved {
            if let Some(src) = &self.source {
                if let Err(e) = src.load().and_then(|v| self.apply(&v)) {
                    tracing::warn!("vector recording saved but not loaded back: {e:#}");
                }
            }
        }
        out.reply
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
        match &self.recorder {
            Some(rec) => Box::pin(async move { self.answer_recording(rec, &req).await }),
            None => {
                let resp = self.answer(&req);
                Box::pin(async move { resp })
            }
        }
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

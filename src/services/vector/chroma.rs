//! Chroma's HTTP API: v2 as `chromadb.HttpClient(host="http://127.0.0.1:P/vector")`
//! (chromadb / chromadb-client 1.x) calls it, and the reference's v1 routes.
//!
//! v2, under `/api/v2`: `heartbeat`, `version`, `pre-flight-checks`, `auth/identity`
//! (what the client reads at construction, with `tenants/{t}` and
//! `tenants/{t}/databases/{d}`), `tenants`, `databases`, and per database
//! `collections` (list, create with `get_or_create`), `collections_count`,
//! `collections/{name}` (get, delete), `collections/by-id/{id}`, `collections/{id}`
//! (modify), and per collection id `add`, `upsert`, `update`, `query`, `get`,
//! `delete`, `count`. Tenants and databases are accepted by any name and share one set
//! of collections (the mount is one database).
//!
//! Distances are Chroma's (lower is closer): `l2` the squared Euclidean distance,
//! `cosine` `1 - cos`, `ip` `1 - dot`. A collection's space comes from
//! `configuration.hnsw.space` or the `hnsw:space` metadata (default `l2`, as Chroma);
//! configured collections keep the `metric` of the config. Errors are Chroma's
//! `{"error": "<ErrorType>", "message"}` (`NotFoundError` 404, `InvalidArgumentError`
//! 400, `UniqueConstraintError` 409), from which the client raises its typed error.
//!
//! v1 (the reference's): `GET /api/v1/collections`, `POST /api/v1/collections/{name}/query`
//! and `/add`, `DELETE /api/v1/collections/{name}`, in the reference's shapes.
//!
//! Not here: `where_document` (refused), embedding functions (the server never embeds:
//! send embeddings), base64 embeddings (`pre-flight-checks` says they are not supported,
//! so the client sends lists).

use http::{Method, Response};
use serde_json::{json, Map, Value};

use super::config::floats;
use super::filter::{parse_operators, Filter};
use super::search::Metric;
use super::store::{uuid_for, Collection, Hit, Point, PointId, Store, StoreError};
use super::{count_field, json_reply, refused, Call, VectorService};
use crate::respond::body::Body;

/// What `GET /api/v2/version` reports: the client release the e2e suite pins.
const VERSION: &str = "1.5.9";

/// Answer a Chroma route, or `None` when `call` is not one.
pub fn handle(svc: &VectorService, call: &Call) -> Option<Response<Body>> {
    if let Some(rest) = call.sub.strip_prefix("/api/v1") {
        return v1(svc, call, rest);
    }
    let rest = call.sub.strip_prefix("/api/v2")?;
    let m = call.method.as_str();
    let parts: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let p: Vec<&str> = parts.iter().map(String::as_str).collect();
    let body = || call.json().map_err(Error::invalid);
    let reply = |r: Result<Value, Error>| match r {
        Ok(v) => json_reply(200, &v),
        Err(e) => e.reply(),
    };
    Some(match (m, p.as_slice()) {
        ("GET", ["heartbeat"]) => json_reply(200, &json!({"nanosecond heartbeat": 0})),
        ("GET", ["version"]) => json_reply(200, &json!(VERSION)),
        ("GET", ["pre-flight-checks"]) => json_reply(
            200,
            &json!({"max_batch_size": 1000, "supports_base64_encoding": false}),
        ),
        ("GET", ["auth", "identity"]) => json_reply(
            200,
            &json!({"user_id": "", "tenant": "default_tenant", "databases": ["default_database"]}),
        ),
        ("POST", ["reset"]) => {
            svc.reset_store();
            json_reply(200, &json!(true))
        }
        ("POST", ["tenants"]) => reply(body().map(|_| json!({}))),
        ("GET", ["tenants", t]) => json_reply(200, &json!({"name": t})),
        ("GET", ["tenants", t, "databases"]) => {
            json_reply(200, &json!([database(t, "default_database")]))
        }
        ("POST", ["tenants", _, "databases"]) => reply(body().map(|_| json!({}))),
        ("GET", ["tenants", t, "databases", d]) => json_reply(200, &database(t, d)),
        ("DELETE", ["tenants", _, "databases", _]) => json_reply(200, &json!({})),
        ("GET", ["tenants", t, "databases", d, "collections"]) => {
            let (limit, offset) = (
                call.query_all("limit").pop().and_then(|v| v.parse().ok()),
                call.query_all("offset")
                    .pop()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            );
            let store = svc.read();
            let list: Vec<Value> = store
                .collections
                .values()
                .skip(offset)
                .take(limit.unwrap_or(usize::MAX))
                .map(|c| collection_json(c, t, d))
                .collect();
            json_reply(200, &Value::Array(list))
        }
        ("POST", ["tenants", t, "databases", d, "collections"]) => {
            reply(body().and_then(|b| create(svc, t, d, &b)))
        }
        ("GET", ["tenants", _, "databases", _, "collections_count"]) => {
            json_reply(200, &json!(svc.read().collections.len()))
        }
        ("GET", ["tenants", t, "databases", d, "collections", "by-id", id]) => {
            let store = svc.read();
            reply(
                store
                    .by_id(id)
                    .map(|c| collection_json(c, t, d))
                    .map_err(Error::from),
            )
        }
        ("GET", ["tenants", t, "databases", d, "collections", name]) => {
            let store = svc.read();
            reply(
                store
                    .get(name)
                    .map(|c| collection_json(c, t, d))
                    .map_err(Error::from),
            )
        }
        ("DELETE", ["tenants", _, "databases", _, "collections", name]) => {
            let mut store = svc.write();
            let name = store.name_of(name).unwrap_or_else(|_| name.to_string());
            if store.remove(&name) {
                json_reply(200, &json!({}))
            } else {
                Error::from(StoreError::NotFound(name)).reply()
            }
        }
        ("PUT", ["tenants", _, "databases", _, "collections", id]) => {
            reply(body().and_then(|b| modify(svc, id, &b)))
        }
        ("GET", ["tenants", _, "databases", _, "collections", id, "count"]) => {
            let store = svc.read();
            reply(store.by_id(id).map(|c| json!(c.len())).map_err(Error::from))
        }
        ("POST", ["tenants", _, "databases", _, "collections", id, op]) => {
            let b = match body() {
                Ok(b) => b,
                Err(e) => return Some(e.reply()),
            };
            reply(match *op {
                "add" => write(svc, id, &b, Write::Add),
                "upsert" => write(svc, id, &b, Write::Upsert),
                "update" => write(svc, id, &b, Write::Update),
                "query" => query(&svc.read(), id, &b),
                "get" => get(&svc.read(), id, &b),
                "delete" => delete(svc, id, &b),
                _ => return None,
            })
        }
        _ => return None,
    })
}

/// A Chroma error: status, type name, message.
struct Error(u16, &'static str, String);

impl Error {
    fn invalid(m: impl Into<String>) -> Error {
        Error(400, "InvalidArgumentError", m.into())
    }
    fn reply(self) -> Response<Body> {
        refused(
            "chroma",
            self.0,
            &self.2,
            json_reply(self.0, &json!({"error": self.1, "message": self.2})),
        )
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            StoreError::NotFound(n) => Error(
                404,
                "NotFoundError",
                format!("Collection [{n}] does not exist"),
            ),
            StoreError::Exists(n) => Error(
                409,
                "UniqueConstraintError",
                format!("Collection [{n}] already exists"),
            ),
            StoreError::Dimension { got, want } => Error::invalid(format!(
                "Collection expecting embedding with dimension of {want}, got {got}"
            )),
        }
    }
}

fn database(tenant: &str, name: &str) -> Value {
    json!({"id": uuid_for(&format!("{tenant}/{name}")), "name": name, "tenant": tenant})
}

fn space(m: Metric) -> &'static str {
    match m {
        Metric::Cosine => "cosine",
        Metric::Dot => "ip",
        Metric::Euclidean => "l2",
    }
}

fn collection_json(c: &Collection, tenant: &str, db: &str) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "configuration_json": {"hnsw": {"space": space(c.metric)}},
        "schema": null,
        "metadata": c.metadata,
        "dimension": c.dimension(),
        "tenant": tenant,
        "database": db,
        "version": 0,
        "log_position": 0,
    })
}

fn create(svc: &VectorService, t: &str, d: &str, b: &Map<String, Value>) -> Result<Value, Error> {
    let name = match b.get("name") {
        Some(Value::String(s)) if (3..=512).contains(&s.len()) => s.clone(),
        Some(Value::String(s)) => {
            return Err(Error::invalid(format!(
                "Expected a name containing 3-512 characters, got {s:?}"
            )))
        }
        _ => return Err(Error::invalid("missing field `name`")),
    };
    let metadata = b.get("metadata").and_then(Value::as_object).cloned();
    let named_space = b
        .get("configuration")
        .and_then(|c| c.get("hnsw"))
        .and_then(|h| h.get("space"))
        .or_else(|| metadata.as_ref().and_then(|m| m.get("hnsw:space")))
        .and_then(Value::as_str);
    let metric = match named_space {
        None => Metric::Euclidean,
        Some(s) => Metric::parse(s)
            .ok_or_else(|| Error::invalid(format!("unknown space {s:?}: use l2, cosine or ip")))?,
    };
    let get_or_create = b
        .get("get_or_create")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut store = svc.write();
    if get_or_create {
        if let Ok(c) = store.get(&name) {
            return Ok(collection_json(c, t, d));
        }
    }
    let mut c = Collection::new(&name, None, metric);
    c.metadata = metadata;
    let c = store.create(c)?;
    Ok(collection_json(c, t, d))
}

fn modify(svc: &VectorService, id: &str, b: &Map<String, Value>) -> Result<Value, Error> {
    let mut store = svc.write();
    let name = store.name_of(id)?;
    if let Some(meta) = b.get("new_metadata").and_then(Value::as_object) {
        store.get_mut(&name)?.metadata = Some(meta.clone());
    }
    if let Some(new) = b.get("new_name").and_then(Value::as_str) {
        if new != name {
            if store.get(new).is_ok() {
                return Err(StoreError::Exists(new.to_string()).into());
            }
            if let Some(mut c) = store.collections.remove(&name) {
                c.name = new.to_string();
                store.collections.insert(new.to_string(), c);
            }
        }
    }
    Ok(json!({}))
}

#[derive(PartialEq)]
enum Write {
    Add,
    Upsert,
    Update,
}

fn strings(b: &Map<String, Value>, key: &str) -> Result<Option<Vec<Option<String>>>, Error> {
    match b.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(
            a.iter().map(|v| v.as_str().map(String::from)).collect(),
        )),
        Some(_) => Err(Error::invalid(format!("`{key}` must be a list"))),
    }
}

fn ids(b: &Map<String, Value>) -> Result<Option<Vec<PointId>>, Error> {
    match b.get("ids") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(PointId::Str(s.clone())),
                _ => Err(Error::invalid("`ids` must be a list of strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(Error::invalid("`ids` must be a list of strings")),
    }
}

fn write(
    svc: &VectorService,
    id: &str,
    b: &Map<String, Value>,
    how: Write,
) -> Result<Value, Error> {
    let ids = ids(b)?.ok_or_else(|| Error::invalid("missing field `ids`"))?;
    let n = ids.len();
    let embeddings: Option<Vec<Vec<f32>>> = match b.get("embeddings") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|v| floats(Some(v)))
                .collect::<Option<_>>()
                .ok_or_else(|| Error::invalid("`embeddings` must be lists of numbers"))?,
        ),
        Some(_) => return Err(Error::invalid("`embeddings` must be a list")),
    };
    let metadatas: Option<Vec<Option<Map<String, Value>>>> = match b.get("metadatas") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.iter().map(|v| v.as_object().cloned()).collect()),
        Some(_) => return Err(Error::invalid("`metadatas` must be a list")),
    };
    let documents = strings(b, "documents")?;
    let lens = [
        embeddings.as_ref().map(Vec::len),
        metadatas.as_ref().map(Vec::len),
        documents.as_ref().map(Vec::len),
    ];
    if lens.iter().flatten().any(|&l| l != n) {
        return Err(Error::invalid(format!(
            "Unequal lengths for fields: ids: {n}, embeddings: {:?}, metadatas: {:?}, documents: {:?}",
            lens[0], lens[1], lens[2]
        )));
    }
    let mut store = svc.write();
    let name = store.name_of(id)?;
    let c = store.get_mut(&name)?;
    match embeddings {
        Some(vs) => {
            let existing: Vec<bool> = ids.iter().map(|i| c.get(i).is_some()).collect();
            let points: Vec<Point> = ids
                .into_iter()
                .zip(vs)
                .enumerate()
                .filter(|(i, _)| match how {
                    // Add keeps existing ids as they are; update touches only them.
                    Write::Add => !existing[*i],
                    Write::Update => existing[*i],
                    Write::Upsert => true,
                })
                .map(|(i, (id, values))| Point {
                    id,
                    values,
                    metadata: metadatas.as_ref().and_then(|m| m[i].clone()),
                    document: documents.as_ref().and_then(|d| d[i].clone()),
                })
                .collect();
            c.upsert(points)?;
        }
        None if how == Write::Update => {
            for (i, id) in ids.iter().enumerate() {
                c.update_fields(
                    id,
                    metadatas.as_ref().and_then(|m| m[i].clone()),
                    documents.as_ref().and_then(|d| d[i].clone()),
                );
            }
        }
        None => {
            return Err(Error::invalid(
                "embeddings are required: aimock does not embed documents (send embeddings)",
            ))
        }
    }
    Ok(json!({}))
}

fn where_filter(b: &Map<String, Value>) -> Result<Option<Filter>, Error> {
    if b.get("where_document")
        .is_some_and(|v| !v.is_null() && v != &json!({}))
    {
        return Err(Error::invalid("where_document is not served by aimock"));
    }
    match b.get("where") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) if m.is_empty() => Ok(None),
        Some(w) => parse_operators(w)
            .map(Some)
            .map_err(|e| Error::invalid(format!("Invalid where clause: {e}"))),
    }
}

/// What a get or query returns: `include` as sent, else the client's defaults.
fn include(b: &Map<String, Value>, default: &[&str]) -> Vec<String> {
    match b.get("include").and_then(Value::as_array) {
        Some(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        None => default.iter().map(|s| s.to_string()).collect(),
    }
}

fn distance(c: &Collection, key: f32) -> f32 {
    if c.canned.is_some() {
        return key;
    }
    match c.metric {
        Metric::Euclidean => -key,
        Metric::Cosine | Metric::Dot => 1.0 - key,
    }
}

/// One column of hits: ids, or a field per `include` entry.
fn columns(
    c: &Collection,
    hits: &[Hit],
    inc: &[String],
    with_distances: bool,
) -> Map<String, Value> {
    let has = |k: &str| inc.iter().any(|i| i == k);
    let mut m = Map::new();
    m.insert(
        "ids".into(),
        hits.iter().map(|h| Value::from(h.id.to_string())).collect(),
    );
    let col = |f: &dyn Fn(&Hit) -> Value| -> Value { hits.iter().map(f).collect() };
    m.insert(
        "embeddings".into(),
        if has("embeddings") {
            col(&|h| json!(h.values))
        } else {
            Value::Null
        },
    );
    m.insert(
        "metadatas".into(),
        if has("metadatas") {
            col(&|h| h.metadata.map_or(Value::Null, |x| Value::Object(x.clone())))
        } else {
            Value::Null
        },
    );
    m.insert(
        "documents".into(),
        if has("documents") {
            col(&|h| json!(h.document))
        } else {
            Value::Null
        },
    );
    m.insert(
        "uris".into(),
        if has("uris") {
            col(&|_| Value::Null)
        } else {
            Value::Null
        },
    );
    if with_distances {
        m.insert(
            "distances".into(),
            if has("distances") {
                col(&|h| json!(distance(c, h.key)))
            } else {
                Value::Null
            },
        );
    }
    m
}

fn query(store: &Store, id: &str, b: &Map<String, Value>) -> Result<Value, Error> {
    let c = store.by_id(id)?;
    let n = count_field(b, "n_results", 10).map_err(Error::invalid)?;
    let flt = where_filter(b)?;
    let inc = include(b, &["metadatas", "documents", "distances"]);
    let queries: Vec<Vec<f32>> = match b.get("query_embeddings") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| floats(Some(v)))
            .collect::<Option<_>>()
            .ok_or_else(|| Error::invalid("`query_embeddings` must be lists of numbers"))?,
        _ => {
            return Err(Error::invalid(
                "query_embeddings are required: aimock does not embed query texts",
            ))
        }
    };
    let only = ids(b)?;
    let restrict = match (&flt, &only) {
        (None, None) => None,
        _ => Some(Filter::All(
            flt.into_iter()
                .chain(only.map(|ids| Filter::HasId(ids.iter().map(|i| i.to_string()).collect())))
                .collect(),
        )),
    };
    let mut out: Map<String, Value> = Map::new();
    let mut cols: Vec<Map<String, Value>> = Vec::new();
    for q in &queries {
        let hits = c.query(q, n, restrict.as_ref())?;
        cols.push(columns(c, &hits, &inc, true));
    }
    for key in [
        "ids",
        "embeddings",
        "metadatas",
        "documents",
        "uris",
        "distances",
    ] {
        let column: Vec<Value> = cols
            .iter_mut()
            .map(|m| m.remove(key).unwrap_or(Value::Null))
            .collect();
        let all_null = key != "ids" && column.iter().all(Value::is_null);
        out.insert(
            key.into(),
            if all_null {
                Value::Null
            } else {
                Value::Array(column)
            },
        );
    }
    out.insert("include".into(), json!(inc));
    Ok(Value::Object(out))
}

fn get(store: &Store, id: &str, b: &Map<String, Value>) -> Result<Value, Error> {
    let c = store.by_id(id)?;
    let flt = where_filter(b)?;
    let limit = count_field(b, "limit", usize::MAX).map_err(Error::invalid)?;
    let offset = count_field(b, "offset", 0).map_err(Error::invalid)?;
    let inc = include(b, &["metadatas", "documents"]);
    let hits: Vec<Hit> = match ids(b)? {
        Some(ids) => ids
            .iter()
            .filter_map(|i| c.get(i))
            .filter(|h| {
                flt.as_ref()
                    .is_none_or(|f| f.accepts(&h.id.to_string(), h.metadata))
            })
            .skip(offset)
            .take(limit)
            .collect(),
        None => c.list(flt.as_ref(), offset, limit),
    };
    let mut m = columns(c, &hits, &inc, false);
    m.insert("include".into(), json!(inc));
    Ok(Value::Object(m))
}

fn delete(svc: &VectorService, id: &str, b: &Map<String, Value>) -> Result<Value, Error> {
    let flt = where_filter(b)?;
    let only = ids(b)?;
    let mut store = svc.write();
    let name = store.name_of(id)?;
    let c = store.get_mut(&name)?;
    let deleted = match (only, flt) {
        (Some(ids), None) => c.delete_ids(&ids),
        (Some(ids), Some(f)) => {
            let doomed: Vec<PointId> = ids
                .into_iter()
                .filter(|i| {
                    c.get(i)
                        .is_some_and(|h| f.accepts(&i.to_string(), h.metadata))
                })
                .collect();
            c.delete_ids(&doomed)
        }
        (None, Some(f)) => c.delete_where(Some(&f)),
        (None, None) => 0,
    };
    Ok(json!({"deleted": deleted}))
}

/// The reference's v1 routes, in its shapes.
fn v1(svc: &VectorService, call: &Call, rest: &str) -> Option<Response<Body>> {
    let rest = rest.strip_prefix("/collections")?;
    let not_found = |name: &str| {
        refused(
            "chroma-v1",
            404,
            "unknown collection",
            json_reply(
                404,
                &json!({"error": format!("Collection '{name}' not found")}),
            ),
        )
    };
    let bad = |e: String| refused("chroma-v1", 400, &e, json_reply(400, &json!({"error": e})));
    if rest.is_empty() || rest == "/" {
        if call.method != Method::GET {
            return None;
        }
        let list: Vec<Value> = svc
            .read()
            .collections
            .keys()
            .map(|n| json!({"id": n, "name": n, "metadata": null}))
            .collect();
        return Some(json_reply(200, &Value::Array(list)));
    }
    let rest = rest.strip_prefix('/')?;
    let (name, op) = rest.split_once('/').unwrap_or((rest, ""));
    let name = percent_encoding::percent_decode_str(name)
        .decode_utf8_lossy()
        .into_owned();
    Some(match (call.method.as_str(), op) {
        ("DELETE", "") => {
            if svc.write().remove(&name) {
                json_reply(200, &json!({"status": "ok"}))
            } else {
                not_found(&name)
            }
        }
        ("POST", "query") => {
            let b = match call.json() {
                Ok(b) => b,
                Err(e) => return Some(bad(e)),
            };
            let store = svc.read();
            if store.get(&name).is_err() {
                return Some(not_found(&name));
            }
            match query(&store, &name, &b) {
                Ok(v) => json_reply(200, &v),
                Err(e) => bad(e.2),
            }
        }
        ("POST", "add") => {
            let b = match call.json() {
                Ok(b) => b,
                Err(e) => return Some(bad(e)),
            };
            svc.write().get_or_create(&name);
            match write(svc, &name, &b, Write::Upsert) {
                Ok(_) => json_reply(200, &json!(true)),
                Err(e) => bad(e.2),
            }
        }
        _ => return None,
    })
}

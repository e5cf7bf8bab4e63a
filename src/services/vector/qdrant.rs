//! Qdrant's REST API, as `qdrant-client` (1.x, `QdrantClient(url=..., prefix="vector")`)
//! calls it. Every reply is Qdrant's envelope `{"result": .., "status": "ok", "time": 0.0}`;
//! every error `{"status": {"error": ".."}, "time": 0.0}` with Qdrant's status (404 for
//! an unknown collection, 400 for a malformed body or a wrong dimension, 409 for a
//! collection that exists).
//!
//! | route | what |
//! |---|---|
//! | `GET /` | server info (`version`, read by the client's compatibility check) |
//! | `GET /collections`, `GET/PUT/DELETE /collections/{c}`, `GET /collections/{c}/exists` | collections |
//! | `PUT /collections/{c}/points` | upsert (`points` list or `batch` columns) |
//! | `POST /collections/{c}/points` | retrieve by `ids`; `GET .../points/{id}` one point |
//! | `POST .../points/delete` | by `points` ids or by `filter` |
//! | `POST .../points/query` | `query` (a vector, `{"nearest": ..}`, or a point id), `limit`, `offset`, `filter`, `score_threshold`, `with_payload`, `with_vector` → `{"points": [..]}` |
//! | `POST .../points/search` | the legacy search (`vector`, ...) → `[..]`; the reference's route |
//! | `POST .../points/scroll`, `POST .../points/count` | listing and counting |
//!
//! Scored points carry `id`, `version` (always 0: there is no write-ahead log), `score`
//! (cosine similarity, dot product, or Euclidean distance) and the payload and vector
//! when asked. The reference's `PUT .../points` reply (`{"status":"ok"}`) is replaced by
//! Qdrant's `{"result":{"operation_id","status":"completed"},"status":"ok"}`.

use http::{Method, Response};
use serde_json::{json, Map, Value};

use super::config::floats;
use super::filter::{parse_qdrant, Filter};
use super::search::Metric;
use super::store::{Collection, Hit, Point, PointId, Store, StoreError};
use super::{count_field, json_reply, refused, Call, VectorService};
use crate::respond::body::Body;

/// The server version `GET /` reports: the client warns when its minor version is
/// more than one away, so this follows the client the e2e suite pins.
const VERSION: &str = "1.20.0";

/// Answer a Qdrant route, or `None` when `call` is not one.
pub fn handle(svc: &VectorService, call: &Call) -> Option<Response<Body>> {
    let m = call.method;
    if call.sub == "/" {
        return (m == Method::GET).then(|| {
            json_reply(
                200,
                &json!({"title": "qdrant - vector search engine", "version": VERSION,
                        "commit": null}),
            )
        });
    }
    let rest = call.sub.strip_prefix("/collections")?;
    if rest.is_empty() || rest == "/" {
        return (m == Method::GET).then(|| list(svc));
    }
    let rest = rest.strip_prefix('/')?;
    let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let name = percent_encoding::percent_decode_str(name)
        .decode_utf8_lossy()
        .into_owned();
    let answer = |f: &Handler| match call.json().map_err(Error::bad).and_then(|b| f(&b)) {
        Ok(v) => ok(v),
        Err(e) => e.reply(),
    };
    Some(match (m.as_str(), tail) {
        ("GET", "") => answer(&|_| info(&svc.read(), &name)),
        ("PUT", "") => answer(&|b| create(svc, &name, b)),
        ("DELETE", "") => ok(Value::Bool(svc.write().remove(&name))),
        ("GET", "exists") => ok(json!({"exists": svc.read().get(&name).is_ok()})),
        ("PUT", "points") => answer(&|b| upsert(svc, &name, b)),
        ("POST", "points") => answer(&|b| retrieve(&svc.read(), &name, b)),
        ("POST", "points/delete") => answer(&|b| delete(svc, &name, b)),
        ("POST", "points/query") => answer(&|b| search(&svc.read(), &name, b, true)),
        ("POST", "points/search") => answer(&|b| search(&svc.read(), &name, b, false)),
        ("POST", "points/scroll") => answer(&|b| scroll(&svc.read(), &name, b)),
        ("POST", "points/count") => answer(&|b| count(&svc.read(), &name, b)),
        ("GET", t) if t.starts_with("points/") => {
            let id = &t["points/".len()..];
            let id = match id.parse::<u64>() {
                Ok(n) => PointId::Num(n),
                Err(_) => PointId::Str(id.to_string()),
            };
            answer(&|_| {
                let store = svc.read();
                let c = store.get(&name).map_err(Error::from)?;
                c.get(&id)
                    .map(|h| record(&h, &Shape::ALL))
                    .ok_or_else(|| Error::not_found(format!("No point with id {id} found")))
            })
        }
        _ => return None,
    })
}

/// What answers one route from the request body.
type Handler<'a> = dyn Fn(&Map<String, Value>) -> Result<Value, Error> + 'a;

/// A Qdrant error: its status and message.
struct Error(u16, String);

impl Error {
    fn bad(m: impl Into<String>) -> Error {
        Error(400, format!("Format error in JSON body: {}", m.into()))
    }
    fn input(m: impl Into<String>) -> Error {
        Error(400, format!("Wrong input: {}", m.into()))
    }
    fn not_found(m: impl Into<String>) -> Error {
        Error(404, format!("Not found: {}", m.into()))
    }
    fn reply(self) -> Response<Body> {
        refused(
            "qdrant",
            self.0,
            &self.1,
            json_reply(self.0, &json!({"status": {"error": self.1}, "time": 0.0})),
        )
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        match e {
            StoreError::NotFound(n) => Error::not_found(format!("Collection `{n}` doesn't exist!")),
            StoreError::Exists(n) => Error(
                409,
                format!("Wrong input: Collection `{n}` already exists!"),
            ),
            StoreError::Dimension { got, want } => Error::input(format!(
                "Vector dimension error: expected dim: {want}, got {got}"
            )),
        }
    }
}

fn ok(result: Value) -> Response<Body> {
    json_reply(200, &json!({"result": result, "status": "ok", "time": 0.0}))
}

fn list(svc: &VectorService) -> Response<Body> {
    let names: Vec<Value> = svc
        .read()
        .collections
        .keys()
        .map(|n| json!({"name": n}))
        .collect();
    ok(json!({"collections": names}))
}

fn distance_name(m: Metric) -> &'static str {
    match m {
        Metric::Cosine => "Cosine",
        Metric::Dot => "Dot",
        Metric::Euclidean => "Euclid",
    }
}

fn info(store: &Store, name: &str) -> Result<Value, Error> {
    let c = store.get(name)?;
    Ok(json!({
        "status": "green",
        "optimizer_status": "ok",
        "indexed_vectors_count": 0,
        "points_count": c.len(),
        "segments_count": 1,
        "config": {
            "params": {
                "vectors": {"size": c.dimension().unwrap_or(0), "distance": distance_name(c.metric)},
                "shard_number": 1, "replication_factor": 1, "write_consistency_factor": 1,
                "on_disk_payload": true
            },
            "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000,
                            "max_indexing_threads": 0, "on_disk": false},
            "optimizer_config": {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000,
                                 "default_segment_number": 0, "max_segment_size": null,
                                 "memmap_threshold": null, "indexing_threshold": 20000,
                                 "flush_interval_sec": 5, "max_optimization_threads": null},
            "wal_config": {"wal_capacity_mb": 32, "wal_segments_ahead": 0},
            "quantization_config": null
        },
        "payload_schema": {}
    }))
}

fn create(svc: &VectorService, name: &str, b: &Map<String, Value>) -> Result<Value, Error> {
    let params = match b.get("vectors") {
        Some(Value::Object(p)) if p.contains_key("size") => p.clone(),
        // Named vectors: one name is served as the collection's vector.
        Some(Value::Object(named)) if named.len() == 1 => match named.values().next() {
            Some(Value::Object(p)) => p.clone(),
            _ => return Err(Error::bad("vectors must hold size and distance")),
        },
        Some(Value::Object(_)) => {
            return Err(Error::input("more than one named vector is not served"))
        }
        _ => return Err(Error::bad("missing field `vectors`")),
    };
    let size = params
        .get("size")
        .and_then(Value::as_u64)
        .filter(|n| (1..=65_536).contains(n))
        .ok_or_else(|| Error::bad("vectors.size must be a whole number from 1 to 65536"))?;
    let metric = match params.get("distance").and_then(Value::as_str) {
        Some("Cosine") => Metric::Cosine,
        Some("Dot") => Metric::Dot,
        Some("Euclid") => Metric::Euclidean,
        Some(other) => {
            return Err(Error::bad(format!(
                "unknown variant `{other}`, expected one of `Cosine`, `Euclid`, `Dot`"
            )))
        }
        None => return Err(Error::bad("missing field `distance`")),
    };
    svc.write()
        .create(Collection::new(name, Some(size as usize), metric))?;
    Ok(Value::Bool(true))
}

fn point_id(v: &Value) -> Result<PointId, Error> {
    PointId::from_json(v).ok_or_else(|| {
        Error::bad(format!(
            "{v} is not a valid point id (an unsigned integer or a UUID)"
        ))
    })
}

/// A vector as written in a point or a query: a list, or the one entry of a named map.
fn vector(v: Option<&Value>) -> Option<Vec<f32>> {
    match v? {
        Value::Object(named) if named.len() == 1 => floats(named.values().next()),
        v => floats(Some(v)),
    }
}

fn upsert(svc: &VectorService, name: &str, b: &Map<String, Value>) -> Result<Value, Error> {
    let mut points = Vec::new();
    if let Some(list) = b.get("points") {
        let list = list
            .as_array()
            .ok_or_else(|| Error::bad("points must be a list"))?;
        for (i, p) in list.iter().enumerate() {
            let id = point_id(p.get("id").unwrap_or(&Value::Null))?;
            let values = vector(p.get("vector")).ok_or_else(|| {
                Error::bad(format!("points[{i}].vector must be a list of numbers"))
            })?;
            points.push(Point {
                id,
                values,
                metadata: p.get("payload").and_then(Value::as_object).cloned(),
                document: None,
            });
        }
    } else if let Some(Value::Object(batch)) = b.get("batch") {
        let ids = batch
            .get("ids")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::bad("batch.ids must be a list"))?;
        let vectors = batch
            .get("vectors")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::bad("batch.vectors must be a list"))?;
        if vectors.len() != ids.len() {
            return Err(Error::input("batch.ids and batch.vectors differ in length"));
        }
        let payloads = batch.get("payloads").and_then(Value::as_array);
        for (i, id) in ids.iter().enumerate() {
            points.push(Point {
                id: point_id(id)?,
                values: floats(vectors.get(i))
                    .ok_or_else(|| Error::bad(format!("batch.vectors[{i}] must be numbers")))?,
                metadata: payloads
                    .and_then(|p| p.get(i))
                    .and_then(Value::as_object)
                    .cloned(),
                document: None,
            });
        }
    } else {
        return Err(Error::bad("missing field `points`"));
    }
    let mut store = svc.write();
    store.get_mut(name)?.upsert(points)?;
    Ok(json!({"operation_id": 0, "status": "completed"}))
}

/// Which parts of a point a reply carries.
struct Shape {
    payload: Payload,
    vector: bool,
}

enum Payload {
    None,
    All,
    Only(Vec<String>),
    Except(Vec<String>),
}

impl Shape {
    const ALL: Shape = Shape {
        payload: Payload::All,
        vector: true,
    };

    fn read(b: &Map<String, Value>, payload_default: bool) -> Shape {
        let keys = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        let payload = match b.get("with_payload") {
            None | Some(Value::Null) if payload_default => Payload::All,
            None | Some(Value::Null) | Some(Value::Bool(false)) => Payload::None,
            Some(Value::Bool(true)) => Payload::All,
            Some(a @ Value::Array(_)) => Payload::Only(keys(Some(a))),
            Some(Value::Object(o)) if o.contains_key("include") => {
                Payload::Only(keys(o.get("include")))
            }
            Some(Value::Object(o)) => Payload::Except(keys(o.get("exclude"))),
            Some(_) => Payload::All,
        };
        let vector = match b.get("with_vector").or_else(|| b.get("with_vectors")) {
            Some(Value::Bool(v)) => *v,
            Some(Value::Array(_)) => true,
            _ => false,
        };
        Shape { payload, vector }
    }

    fn payload(&self, meta: Option<&Map<String, Value>>) -> Option<Value> {
        let meta = meta.cloned().unwrap_or_default();
        let pick = match &self.payload {
            Payload::None => return None,
            Payload::All => meta,
            Payload::Only(keys) => meta.into_iter().filter(|(k, _)| keys.contains(k)).collect(),
            Payload::Except(keys) => meta
                .into_iter()
                .filter(|(k, _)| !keys.contains(k))
                .collect(),
        };
        Some(Value::Object(pick))
    }
}

fn record(h: &Hit, shape: &Shape) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), h.id.to_json());
    if let Some(p) = shape.payload(h.metadata) {
        m.insert("payload".into(), p);
    }
    if shape.vector {
        m.insert("vector".into(), json!(h.values));
    }
    Value::Object(m)
}

fn filter(b: &Map<String, Value>) -> Result<Option<Filter>, Error> {
    match b.get("filter") {
        None | Some(Value::Null) => Ok(None),
        Some(f) => parse_qdrant(f).map(Some).map_err(Error::bad),
    }
}

fn retrieve(store: &Store, name: &str, b: &Map<String, Value>) -> Result<Value, Error> {
    let c = store.get(name)?;
    let ids = b
        .get("ids")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::bad("missing field `ids`"))?;
    let shape = Shape::read(b, true);
    let mut out = Vec::new();
    for id in ids {
        if let Some(h) = c.get(&point_id(id)?) {
            out.push(record(&h, &shape));
        }
    }
    Ok(Value::Array(out))
}

fn delete(svc: &VectorService, name: &str, b: &Map<String, Value>) -> Result<Value, Error> {
    let mut store = svc.write();
    let c = store.get_mut(name)?;
    match b.get("points") {
        Some(Value::Array(ids)) => {
            let ids = ids.iter().map(point_id).collect::<Result<Vec<_>, _>>()?;
            c.delete_ids(&ids);
        }
        _ => match filter(b)? {
            Some(f) => {
                c.delete_where(Some(&f));
            }
            None => return Err(Error::bad("delete needs `points` (ids) or a `filter`")),
        },
    }
    Ok(json!({"operation_id": 0, "status": "completed"}))
}

/// `points/query` (`query_api`: `{"points": [..]}`) or the legacy `points/search`.
fn search(
    store: &Store,
    name: &str,
    b: &Map<String, Value>,
    query_api: bool,
) -> Result<Value, Error> {
    let c = store.get(name)?;
    let limit = count_field(b, "limit", 10).map_err(Error::bad)?;
    let offset = count_field(b, "offset", 0).map_err(Error::bad)?;
    let flt = filter(b)?;
    let shape = Shape::read(b, false);
    let threshold = b.get("score_threshold").and_then(Value::as_f64);
    let raw = if query_api {
        b.get("query")
    } else {
        b.get("vector")
    };
    let q = match raw {
        None | Some(Value::Null) if query_api => None,
        None | Some(Value::Null) => return Err(Error::bad("missing field `vector`")),
        Some(Value::Object(o)) if o.contains_key("nearest") => o.get("nearest"),
        Some(Value::Object(o)) if o.contains_key("vector") => o.get("vector"),
        Some(v) => Some(v),
    };
    let vector = match q {
        // No query: the first points in id order (Qdrant scrolls).
        None => {
            let points: Vec<Value> = c
                .list(flt.as_ref(), offset, limit)
                .iter()
                .map(|h| scored(c, h, &shape, 0.0))
                .collect();
            return Ok(json!({"points": points}));
        }
        Some(id @ (Value::String(_) | Value::Number(_))) => c
            .vector_of(&point_id(id)?)
            .ok_or_else(|| Error::not_found(format!("No point with id {id} found")))?,
        Some(v) => vector(Some(v)).ok_or_else(|| {
            Error::bad("query must be a list of numbers, {\"nearest\": [..]} or a point id")
        })?,
    };
    let hits = c.query(&vector, offset.saturating_add(limit), flt.as_ref())?;
    let points: Vec<Value> = hits
        .iter()
        .skip(offset)
        .filter(|h| {
            threshold.is_none_or(|t| match c.metric {
                Metric::Euclidean => wire_score(c, h.key) as f64 <= t,
                _ => h.key as f64 >= t,
            })
        })
        .map(|h| scored(c, h, &shape, wire_score(c, h.key)))
        .collect();
    Ok(if query_api {
        json!({"points": points})
    } else {
        Value::Array(points)
    })
}

fn wire_score(c: &Collection, key: f32) -> f32 {
    match (c.metric, c.canned.is_some()) {
        (_, true) => key,
        (Metric::Euclidean, false) => (-key).sqrt(),
        _ => key,
    }
}

fn scored(_c: &Collection, h: &Hit, shape: &Shape, score: f32) -> Value {
    let mut v = record(h, shape);
    v["version"] = 0.into();
    v["score"] = json!(score);
    v
}

fn scroll(store: &Store, name: &str, b: &Map<String, Value>) -> Result<Value, Error> {
    let c = store.get(name)?;
    let limit = count_field(b, "limit", 10).map_err(Error::bad)?;
    let flt = filter(b)?;
    let shape = Shape::read(b, true);
    // The offset is a point id: start at it, in id order.
    let start = match b.get("offset") {
        None | Some(Value::Null) => None,
        Some(v) => Some(point_id(v)?),
    };
    let all = c.list(flt.as_ref(), 0, usize::MAX);
    let from = start.map_or(0, |s| {
        all.iter().position(|h| *h.id >= s).unwrap_or(all.len())
    });
    let page: Vec<Value> = all[from..]
        .iter()
        .take(limit)
        .map(|h| record(h, &shape))
        .collect();
    let next = all.get(from + limit).map(|h| h.id.to_json());
    Ok(json!({"points": page, "next_page_offset": next}))
}

fn count(store: &Store, name: &str, b: &Map<String, Value>) -> Result<Value, Error> {
    let c = store.get(name)?;
    let flt = filter(b)?;
    Ok(json!({"count": c.count(flt.as_ref())}))
}

//! Pinecone's data plane, as the `pinecone` client (10.x) calls an index host:
//!
//! | route | request | reply |
//! |---|---|---|
//! | `POST /query` | `topK`, `vector` or `id`, `namespace`, `filter`, `includeValues`, `includeMetadata` | `{"results":[],"matches":[{id,score,values,metadata?}],"namespace","usage":{"readUnits"}}` |
//! | `POST /vectors/upsert` | `vectors[{id,values,metadata?}]`, `namespace` | `{"upsertedCount"}` |
//! | `POST /vectors/delete` | `ids` or `deleteAll` or `filter`, `namespace` | `{}` |
//! | `GET /vectors/fetch` | `?ids=a&ids=b&namespace=` | `{"vectors":{id:{id,values,metadata}},"namespace","usage"}` |
//! | `POST`/`GET /describe_index_stats`, `GET /describe-index-stats` (the reference's) | `filter` | `{"namespaces":{ns:{"vectorCount"}},"dimension","indexFullness","totalVectorCount","metric","vectorType"}` |
//!
//! A namespace names a collection, as in the reference; no namespace (the client sends
//! none for `""`) is the collection `default`. Querying a namespace that does not exist
//! answers no matches, as Pinecone does. Scores: cosine similarity, dot product, or the
//! squared Euclidean distance (Pinecone's `euclidean` score; lower is closer).
//!
//! Errors are Pinecone's `{"code": <gRPC code>, "message", "details": []}`: 400 with
//! code 3 (`INVALID_ARGUMENT`) for a malformed body, a missing vector, a wrong
//! dimension or a bad filter.

use http::{Method, Response};
use serde_json::{json, Map, Value};

use super::config::floats;
use super::filter::{parse_operators, Filter};
use super::search::Metric;
use super::store::{Collection, Hit, Point, PointId, StoreError};
use super::{count_field, json_reply, refused, Call, VectorService};
use crate::respond::body::Body;

/// The collection a request without a namespace reads and writes.
const DEFAULT_NAMESPACE: &str = "default";

/// Answer a Pinecone route, or `None` when `call` is not one.
pub fn handle(svc: &VectorService, call: &Call) -> Option<Response<Body>> {
    let get = call.method == Method::GET;
    let post = call.method == Method::POST;
    Some(match call.sub {
        "/query" if post => with_body(call, |b| query(svc, b)),
        "/vectors/upsert" if post => with_body(call, |b| upsert(svc, b)),
        "/vectors/delete" if post => with_body(call, |b| delete(svc, b)),
        "/vectors/fetch" if get => fetch(svc, call),
        "/describe_index_stats" if post => with_body(call, |b| stats(svc, b)),
        "/describe_index_stats" | "/describe-index-stats" if get => {
            with_body(&Call { body: b"", ..*call }, |b| stats(svc, b))
        }
        _ => return None,
    })
}

fn error(status: u16, message: &str) -> Response<Body> {
    let code = match status {
        404 => 5,
        409 => 6,
        _ => 3,
    };
    refused(
        "pinecone",
        status,
        message,
        json_reply(
            status,
            &json!({"code": code, "message": message, "details": []}),
        ),
    )
}

fn with_body(
    call: &Call,
    f: impl FnOnce(&Map<String, Value>) -> Result<Value, String>,
) -> Response<Body> {
    match call.json().and_then(|b| f(&b)) {
        Ok(v) => json_reply(200, &v),
        Err(e) => error(400, &e),
    }
}

/// The collection a request body's `namespace` names (the recorder asks too).
pub(super) fn namespace(b: &Map<String, Value>) -> Result<String, String> {
    match b.get("namespace") {
        None | Some(Value::Null) => Ok(DEFAULT_NAMESPACE.into()),
        Some(Value::String(s)) if s.is_empty() => Ok(DEFAULT_NAMESPACE.into()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err("namespace must be a string".into()),
    }
}

fn filter(b: &Map<String, Value>) -> Result<Option<Filter>, String> {
    match b.get("filter") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) if m.is_empty() => Ok(None),
        Some(f) => parse_operators(f)
            .map(Some)
            .map_err(|e| format!("Invalid filter: {e}")),
    }
}

fn flag(b: &Map<String, Value>, key: &str) -> bool {
    b.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The wire score of a ranking key.
fn score(metric: Metric, key: f32) -> f32 {
    match metric {
        Metric::Euclidean => -key,
        _ => key,
    }
}

fn query(svc: &VectorService, b: &Map<String, Value>) -> Result<Value, String> {
    let ns = namespace(b)?;
    let top_k = count_field(b, "topK", 10)?;
    if top_k == 0 || top_k > 10_000 {
        return Err("topK must be between 1 and 10000".into());
    }
    let flt = filter(b)?;
    let (with_values, with_meta) = (flag(b, "includeValues"), flag(b, "includeMetadata"));
    let store = svc.read();
    let Ok(c) = store.get(&ns) else {
        return Ok(
            json!({"results": [], "matches": [], "namespace": ns, "usage": {"readUnits": 1}}),
        );
    };
    let vector = match (b.get("vector"), b.get("id")) {
        (Some(v), _) if !v.is_null() => {
            floats(Some(v)).ok_or("vector must be a list of finite numbers")?
        }
        (_, Some(Value::String(id))) => match c.vector_of(&PointId::Str(id.clone())) {
            Some(v) => v,
            None => {
                return Ok(json!({"results": [], "matches": [], "namespace": ns,
                                 "usage": {"readUnits": 1}}))
            }
        },
        (_, Some(_)) => return Err("id must be a string".into()),
        _ => return Err("No query provided: send a vector or an id".into()),
    };
    let hits = c.query(&vector, top_k, flt.as_ref()).map_err(dimension)?;
    let matches: Vec<Value> = hits
        .iter()
        .map(|h| scored(c, h, with_values, with_meta))
        .collect();
    Ok(json!({"results": [], "matches": matches, "namespace": ns, "usage": {"readUnits": 5}}))
}

fn dimension(e: StoreError) -> String {
    match e {
        StoreError::Dimension { got, want } => {
            format!("Vector dimension {got} does not match the dimension of the index {want}")
        }
        e => e.to_string(),
    }
}

fn scored(c: &Collection, h: &Hit, with_values: bool, with_meta: bool) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), h.id.to_string().into());
    m.insert("score".into(), json!(score(c.metric, h.key)));
    m.insert(
        "values".into(),
        if with_values {
            json!(h.values)
        } else {
            json!([])
        },
    );
    if with_meta {
        if let Some(meta) = h.metadata {
            m.insert("metadata".into(), Value::Object(meta.clone()));
        }
    }
    Value::Object(m)
}

fn upsert(svc: &VectorService, b: &Map<String, Value>) -> Result<Value, String> {
    let ns = namespace(b)?;
    let Some(Value::Array(vs)) = b.get("vectors") else {
        return Err("vectors must be a list".into());
    };
    let mut points = Vec::with_capacity(vs.len());
    for (i, v) in vs.iter().enumerate() {
        let Value::Object(p) = v else {
            return Err(format!("vectors[{i}] must be an object"));
        };
        let id = match p.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(format!("vectors[{i}].id must be a non-empty string")),
        };
        let values = floats(p.get("values"))
            .ok_or_else(|| format!("vectors[{i}].values must be a list of finite numbers"))?;
        if values.is_empty() {
            return Err(format!(
                "vectors[{i}]: dense vectors must have at least one value"
            ));
        }
        points.push(Point {
            id: PointId::Str(id),
            values,
            metadata: p.get("metadata").and_then(Value::as_object).cloned(),
            document: None,
        });
    }
    let mut store = svc.write();
    let n = store.get_or_create(&ns).upsert(points).map_err(dimension)?;
    Ok(json!({"upsertedCount": n}))
}

fn delete(svc: &VectorService, b: &Map<String, Value>) -> Result<Value, String> {
    let ns = namespace(b)?;
    let flt = filter(b)?;
    let ids: Option<Vec<PointId>> = match b.get("ids") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|i| i.as_str().map(|s| PointId::Str(s.into())))
                .collect::<Option<_>>()
                .ok_or("ids must be a list of strings")?,
        ),
        Some(_) => return Err("ids must be a list of strings".into()),
    };
    let all = flag(b, "deleteAll");
    if ids.is_none() && !all && flt.is_none() {
        return Err("Delete needs ids, deleteAll or a filter".into());
    }
    let mut store = svc.write();
    if let Ok(c) = store.get_mut(&ns) {
        match ids {
            Some(ids) => {
                c.delete_ids(&ids);
            }
            None => {
                c.delete_where(flt.as_ref());
            }
        }
    }
    Ok(json!({}))
}

/// The collection `GET /vectors/fetch?namespace=` reads.
pub(super) fn fetch_namespace(call: &Call) -> String {
    call.query_all("namespace")
        .pop()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.into())
}

fn fetch(svc: &VectorService, call: &Call) -> Response<Body> {
    let ns = fetch_namespace(call);
    let ids = call.query_all("ids");
    if ids.is_empty() {
        return error(400, "fetch needs at least one id (?ids=...)");
    }
    let store = svc.read();
    let mut out = Map::new();
    if let Ok(c) = store.get(&ns) {
        for id in ids {
            if let Some(h) = c.get(&PointId::Str(id.clone())) {
                let mut v = json!({"id": id, "values": h.values});
                if let Some(m) = h.metadata {
                    v["metadata"] = Value::Object(m.clone());
                }
                out.insert(id, v);
            }
        }
    }
    json_reply(
        200,
        &json!({"vectors": out, "namespace": ns, "usage": {"readUnits": 1}}),
    )
}

fn stats(svc: &VectorService, b: &Map<String, Value>) -> Result<Value, String> {
    let flt = filter(b)?;
    let store = svc.read();
    let mut namespaces = Map::new();
    let mut total = 0;
    for c in store.collections.values() {
        let n = c.count(flt.as_ref());
        total += n;
        namespaces.insert(c.name.clone(), json!({"vectorCount": n}));
    }
    // The index's dimension and metric: the default collection's, else the first's.
    let main = store
        .get(DEFAULT_NAMESPACE)
        .ok()
        .or_else(|| store.collections.values().next());
    let metric = main.map(|c| match c.metric {
        Metric::Cosine => "cosine",
        Metric::Dot => "dotproduct",
        Metric::Euclidean => "euclidean",
    });
    Ok(json!({
        "namespaces": namespaces,
        "dimension": main.and_then(Collection::dimension),
        "indexFullness": 0.0,
        "totalVectorCount": total,
        "metric": metric,
        "vectorType": "dense",
    }))
}

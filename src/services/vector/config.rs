//! The config file's `vector` section, as the reference writes it, read into a
//! mount path and a [`Store`]:
//!
//! ```json
//! "vector": { "path": "/vector", "collections": [
//!   { "name": "docs", "dimension": 3, "metric": "cosine",
//!     "vectors": [{"id": "a", "values": [0.1, 0.2, 0.3], "metadata": {"k": 1},
//!                  "document": "text"}],
//!     "queryResults": [{"id": "a", "score": 0.9, "metadata": {"k": 1}}] } ] }
//! ```
//!
//! `metric` (ours; the reference has none) is `cosine` (default), `dot`/`dotproduct`
//! or `euclidean`; `document` is ours too (Chroma returns documents). A wrong type is an
//! error naming its key; an unknown key is a warning. `recorded` (ours) holds the
//! exchanges `aimock record --upstream-vector` saved (`recorded`).

use anyhow::{bail, Context};
use serde_json::{Map, Value};

use super::recorded::Recorded;
use super::search::Metric;
use super::store::{Canned, Collection, Point, PointId, Store};

/// The mount path when the section names none.
pub const DEFAULT_PATH: &str = "/vector";

/// What the section says.
#[derive(Debug, Clone)]
pub struct VectorConfig {
    /// The mount path (`/vector`).
    pub path: String,
    /// The configured collections: the state `POST /__aimock/reset` restores.
    pub store: Store,
    /// Exchanges recorded from an upstream (`recorded`), answered before the store.
    pub recorded: Vec<Recorded>,
}

/// Read the section.
pub fn parse(v: &Value) -> anyhow::Result<VectorConfig> {
    let Value::Object(m) = v else {
        bail!("must be an object with `path` and `collections`");
    };
    for k in m.keys() {
        if !matches!(k.as_str(), "path" | "collections" | "recorded") {
            tracing::warn!(key = %k, "config key `vector.{k}` is not read (ignored)");
        }
    }
    let path = match m.get("path") {
        None | Some(Value::Null) => DEFAULT_PATH.to_string(),
        Some(Value::String(s)) if s.starts_with('/') => s.trim_end_matches('/').to_string(),
        Some(_) => bail!("`vector.path` must be a path starting with /"),
    };
    if path.is_empty() {
        bail!("`vector.path` must not be /: the vector routes would shadow every provider");
    }
    let mut store = Store::default();
    match m.get("collections") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, c) in list.iter().enumerate() {
                let c = collection(c).with_context(|| format!("`vector.collections[{i}]`"))?;
                if store.collections.contains_key(&c.name) {
                    bail!(
                        "`vector.collections[{i}]`: a second collection named {:?}",
                        c.name
                    );
                }
                store.collections.insert(c.name.clone(), c);
            }
        }
        Some(_) => bail!("`vector.collections` must be a list"),
    }
    let recorded = super::recorded::parse(m.get("recorded"))?;
    Ok(VectorConfig {
        path,
        store,
        recorded,
    })
}

fn collection(v: &Value) -> anyhow::Result<Collection> {
    let Value::Object(m) = v else {
        bail!("must be an object with `name` and `dimension`");
    };
    let name = match m.get("name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => bail!("`name` must be a non-empty string"),
    };
    let dimension = match m.get("dimension") {
        None | Some(Value::Null) => None,
        Some(d) => match d.as_u64() {
            Some(n @ 1..=65_536) => Some(n as usize),
            _ => bail!("`dimension` must be a whole number from 1 to 65536"),
        },
    };
    let metric = match m.get("metric") {
        None | Some(Value::Null) => Metric::Cosine,
        Some(Value::String(s)) => Metric::parse(s)
            .with_context(|| format!("`metric` {s:?} is none of cosine, dot, euclidean"))?,
        Some(_) => bail!("`metric` must be a string"),
    };
    let mut c = Collection::new(&name, dimension, metric);
    if let Some(meta) = m.get("metadata").and_then(Value::as_object) {
        c.metadata = Some(meta.clone());
    }
    match m.get("vectors") {
        None | Some(Value::Null) => {}
        Some(Value::Array(vs)) => {
            let mut points = Vec::with_capacity(vs.len());
            for (i, p) in vs.iter().enumerate() {
                points.push(point(p).with_context(|| format!("`vectors[{i}]`"))?);
            }
            c.upsert(points)
                .map_err(|e| anyhow::anyhow!("`vectors`: {e}"))?;
        }
        Some(_) => bail!("`vectors` must be a list"),
    }
    match m.get("queryResults") {
        None | Some(Value::Null) => {}
        Some(Value::Array(rs)) => {
            let mut canned = Vec::with_capacity(rs.len());
            for (i, r) in rs.iter().enumerate() {
                canned.push(canned_result(r).with_context(|| format!("`queryResults[{i}]`"))?);
            }
            c.canned = Some(canned);
        }
        Some(_) => bail!("`queryResults` must be a list"),
    }
    Ok(c)
}

fn id(m: &Map<String, Value>) -> anyhow::Result<PointId> {
    m.get("id")
        .and_then(PointId::from_json)
        .context("`id` must be a string or an unsigned integer")
}

fn point(v: &Value) -> anyhow::Result<Point> {
    let Value::Object(m) = v else {
        bail!("must be an object with `id` and `values`");
    };
    let values = floats(m.get("values")).context("`values` must be a list of numbers")?;
    Ok(Point {
        id: id(m)?,
        values,
        metadata: m.get("metadata").and_then(Value::as_object).cloned(),
        document: m.get("document").and_then(Value::as_str).map(String::from),
    })
}

fn canned_result(v: &Value) -> anyhow::Result<Canned> {
    let Value::Object(m) = v else {
        bail!("must be an object with `id` and `score`");
    };
    let score = m
        .get("score")
        .and_then(Value::as_f64)
        .context("`score` must be a number")?;
    Ok(Canned {
        id: id(m)?,
        score: score as f32,
        metadata: m.get("metadata").and_then(Value::as_object).cloned(),
    })
}

/// A JSON list of finite numbers as `f32`s.
pub fn floats(v: Option<&Value>) -> Option<Vec<f32>> {
    let a = v?.as_array()?;
    let mut out = Vec::with_capacity(a.len());
    for x in a {
        let f = x.as_f64()? as f32;
        if !f.is_finite() {
            return None;
        }
        out.push(f);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_reference_section_loads_with_defaults() {
        let c = parse(&json!({"collections": [{"name": "docs", "dimension": 2,
            "vectors": [{"id": "a", "values": [1, 0]}],
            "queryResults": [{"id": "x", "score": 0.5}]}]}))
        .unwrap();
        assert_eq!(c.path, "/vector");
        let docs = c.store.get("docs").unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs.canned.as_ref().unwrap().len(), 1);
        assert_eq!(docs.metric, Metric::Cosine);
    }

    #[test]
    fn bad_sections_name_the_key() {
        for (v, key) in [
            (json!({"path": 3}), "vector.path"),
            (json!({"collections": {}}), "vector.collections"),
            (json!({"collections": [{"dimension": 2}]}), "name"),
            (
                json!({"collections": [{"name": "a", "dimension": 2, "vectors": [{"id": "x", "values": [1]}]}]}),
                "vectors",
            ),
            (
                json!({"collections": [{"name": "a", "metric": "manhattan"}]}),
                "metric",
            ),
        ] {
            let e = format!("{:#}", parse(&v).unwrap_err());
            assert!(e.contains(key), "{e}");
        }
    }
}

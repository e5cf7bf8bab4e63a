//! The collections a vector mount serves: each a name, a dimension, a metric, its
//! points (vectors in one [`Matrix`], with ids, metadata and documents beside them),
//! and optionally canned query results that answer instead of a search.
//!
//! Every dialect (`pinecone`, `qdrant`, `chroma`, the reference's routes) reads and
//! writes through these methods, so a point upserted through one is queried through
//! another. Errors are [`StoreError`]s the dialect puts into its own envelope.
//!
//! Not here: wire shapes, HTTP statuses (the dialects), config parsing (`config`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::filter::Filter;
use super::search::{top_k, Matrix, Metric};

/// A point id: Qdrant's unsigned integers or strings (UUIDs), everyone else's strings.
/// Ordered numbers first, then strings: the tie order of equal scores.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PointId {
    /// An unsigned integer id.
    Num(u64),
    /// A string id.
    Str(String),
}

impl PointId {
    /// The id as JSON: a number stays a number.
    pub fn to_json(&self) -> Value {
        match self {
            PointId::Num(n) => Value::from(*n),
            PointId::Str(s) => Value::from(s.clone()),
        }
    }

    /// Read an id written as a string or an unsigned integer.
    pub fn from_json(v: &Value) -> Option<PointId> {
        match v {
            Value::String(s) => Some(PointId::Str(s.clone())),
            Value::Number(n) => n.as_u64().map(PointId::Num),
            _ => None,
        }
    }
}

impl std::fmt::Display for PointId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PointId::Num(n) => write!(f, "{n}"),
            PointId::Str(s) => f.write_str(s),
        }
    }
}

/// One point to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Its id.
    pub id: PointId,
    /// Its vector.
    pub values: Vec<f32>,
    /// Its metadata (payload).
    pub metadata: Option<Map<String, Value>>,
    /// Its document text (Chroma).
    pub document: Option<String>,
}

/// A point as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    /// Its id.
    pub id: &'a PointId,
    /// The ranking key (higher is closer; see `search`), or a canned score.
    pub key: f32,
    /// Its vector (empty for a canned result).
    pub values: &'a [f32],
    /// Its metadata.
    pub metadata: Option<&'a Map<String, Value>>,
    /// Its document.
    pub document: Option<&'a str>,
}

/// A canned query result from the config (`queryResults`).
#[derive(Debug, Clone, PartialEq)]
pub struct Canned {
    /// The id.
    pub id: PointId,
    /// The score, as configured.
    pub score: f32,
    /// Metadata, as configured.
    pub metadata: Option<Map<String, Value>>,
}

/// Why a store operation failed: the dialect picks the status and envelope.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// No such collection.
    #[error("Collection '{0}' not found")]
    NotFound(String),
    /// A collection of that name exists already.
    #[error("Collection '{0}' already exists")]
    Exists(String),
    /// A vector of the wrong length.
    #[error("Vector dimension {got} does not match the dimension of the collection {want}")]
    Dimension {
        /// Its length.
        got: usize,
        /// The collection's dimension.
        want: usize,
    },
}

/// One collection.
#[derive(Debug, Clone)]
pub struct Collection {
    /// Its name.
    pub name: String,
    /// A UUID derived from the name (Chroma addresses collections by id).
    pub id: String,
    /// Its metric.
    pub metric: Metric,
    /// Canned results answering every query, when configured.
    pub canned: Option<Vec<Canned>>,
    /// Collection metadata (Chroma).
    pub metadata: Option<Map<String, Value>>,
    matrix: Matrix,
    ids: Vec<PointId>,
    metadatas: Vec<Option<Map<String, Value>>>,
    documents: Vec<Option<String>>,
    index: HashMap<PointId, usize>,
    /// The dimension, once known (a collection created by an upsert learns it from
    /// its first vector).
    dimension: Option<usize>,
}

impl Collection {
    /// An empty collection.
    pub fn new(name: &str, dimension: Option<usize>, metric: Metric) -> Collection {
        Collection {
            name: name.to_string(),
            id: uuid_for(name),
            metric,
            canned: None,
            metadata: None,
            matrix: Matrix::new(dimension.unwrap_or(0)),
            ids: Vec::new(),
            metadatas: Vec::new(),
            documents: Vec::new(),
            index: HashMap::new(),
            dimension,
        }
    }

    /// The dimension, once known.
    pub fn dimension(&self) -> Option<usize> {
        self.dimension
    }

    /// Number of stored points.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// No stored points.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Check a vector's length against the dimension (learning it if unknown).
    pub fn check(&self, values: &[f32]) -> Result<(), StoreError> {
        match self.dimension {
            Some(want) if want != values.len() => Err(StoreError::Dimension {
                got: values.len(),
                want,
            }),
            _ => Ok(()),
        }
    }

    /// Insert or replace points; all are checked before any is written.
    pub fn upsert(&mut self, points: Vec<Point>) -> Result<usize, StoreError> {
        let want = self
            .dimension
            .or_else(|| points.first().map(|p| p.values.len()));
        for p in &points {
            if let Some(w) = want.filter(|w| *w != p.values.len()) {
                return Err(StoreError::Dimension {
                    got: p.values.len(),
                    want: w,
                });
            }
        }
        if self.dimension.is_none() {
            if let Some(w) = want {
                self.dimension = Some(w);
                self.matrix = Matrix::new(w);
            }
        }
        let n = points.len();
        for p in points {
            match self.index.get(&p.id) {
                Some(&i) => {
                    self.matrix.set(i, &p.values);
                    self.metadatas[i] = p.metadata;
                    self.documents[i] = p.document;
                }
                None => {
                    let i = self.matrix.push(&p.values);
                    self.index.insert(p.id.clone(), i);
                    self.ids.push(p.id);
                    self.metadatas.push(p.metadata);
                    self.documents.push(p.document);
                }
            }
        }
        Ok(n)
    }

    /// Update metadata or document of existing points only (Chroma `update` without
    /// embeddings, Qdrant `set_payload`); unknown ids are skipped.
    pub fn update_fields(
        &mut self,
        id: &PointId,
        metadata: Option<Map<String, Value>>,
        document: Option<String>,
    ) {
        if let Some(&i) = self.index.get(id) {
            if metadata.is_some() {
                self.metadatas[i] = metadata;
            }
            if document.is_some() {
                self.documents[i] = document;
            }
        }
    }

    /// Remove the points with these ids; returns how many existed.
    pub fn delete_ids(&mut self, ids: &[PointId]) -> usize {
        let mut n = 0;
        for id in ids {
            if let Some(i) = self.index.remove(id) {
                self.remove_at(i);
                n += 1;
            }
        }
        n
    }

    /// Remove every point `filter` accepts (every point when `None`).
    pub fn delete_where(&mut self, filter: Option<&Filter>) -> usize {
        let doomed: Vec<PointId> = (0..self.len())
            .filter(|&i| self.accepts(filter, i))
            .map(|i| self.ids[i].clone())
            .collect();
        self.delete_ids(&doomed)
    }

    fn remove_at(&mut self, i: usize) {
        let last = self.ids.len() - 1;
        self.matrix.swap_remove(i);
        self.ids.swap_remove(i);
        self.metadatas.swap_remove(i);
        self.documents.swap_remove(i);
        if i != last {
            self.index.insert(self.ids[i].clone(), i);
        }
    }

    fn accepts(&self, filter: Option<&Filter>, i: usize) -> bool {
        filter.is_none_or(|f| f.accepts(&self.ids[i].to_string(), self.metadatas[i].as_ref()))
    }

    fn hit(&self, i: usize, key: f32) -> Hit<'_> {
        Hit {
            id: &self.ids[i],
            key,
            values: self.matrix.row(i),
            metadata: self.metadatas[i].as_ref(),
            document: self.documents[i].as_deref(),
        }
    }

    /// The stored point with this id.
    pub fn get(&self, id: &PointId) -> Option<Hit<'_>> {
        self.index.get(id).map(|&i| self.hit(i, 0.0))
    }

    /// The stored vector of `id` (a query by id).
    pub fn vector_of(&self, id: &PointId) -> Option<Vec<f32>> {
        self.index.get(id).map(|&i| self.matrix.row(i).to_vec())
    }

    /// Stored points `filter` accepts, in id order, skipping `offset`, at most
    /// `limit` (Chroma `get`, Qdrant `scroll`).
    pub fn list(&self, filter: Option<&Filter>, offset: usize, limit: usize) -> Vec<Hit<'_>> {
        let mut rows: Vec<usize> = (0..self.len())
            .filter(|&i| self.accepts(filter, i))
            .collect();
        rows.sort_by(|&a, &b| self.ids[a].cmp(&self.ids[b]));
        rows.into_iter()
            .skip(offset)
            .take(limit)
            .map(|i| self.hit(i, 0.0))
            .collect()
    }

    /// Count of stored points `filter` accepts.
    pub fn count(&self, filter: Option<&Filter>) -> usize {
        (0..self.len()).filter(|&i| self.accepts(filter, i)).count()
    }

    /// The `k` closest points to `query` that pass `filter`, closest first (equal keys
    /// in id order); or, for a collection with canned results, the first `k` of them.
    pub fn query(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Hit<'_>>, StoreError> {
        if let Some(canned) = &self.canned {
            return Ok(canned
                .iter()
                .take(k)
                .map(|c| Hit {
                    id: &c.id,
                    key: c.score,
                    values: &[],
                    metadata: c.metadata.as_ref(),
                    document: None,
                })
                .collect());
        }
        self.check(query)?;
        let allow = |i: usize| self.accepts(filter, i);
        let tie = |a: usize, b: usize| -> Ordering { self.ids[a].cmp(&self.ids[b]) };
        Ok(top_k(&self.matrix, self.metric, query, k, &allow, &tie)
            .into_iter()
            .map(|(i, key)| self.hit(i, key))
            .collect())
    }
}

/// A UUID-shaped id derived from a name (version 4 layout, deterministic).
pub fn uuid_for(name: &str) -> String {
    let d = Sha256::digest(name.as_bytes());
    let h: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// Every collection of a mount, by name.
#[derive(Debug, Clone, Default)]
pub struct Store {
    /// Collections by name (sorted: listings are deterministic).
    pub collections: BTreeMap<String, Collection>,
}

impl Store {
    /// The collection named `name`.
    pub fn get(&self, name: &str) -> Result<&Collection, StoreError> {
        self.collections
            .get(name)
            .ok_or_else(|| StoreError::NotFound(name.to_string()))
    }

    /// The collection named `name`, to change.
    pub fn get_mut(&mut self, name: &str) -> Result<&mut Collection, StoreError> {
        self.collections
            .get_mut(name)
            .ok_or_else(|| StoreError::NotFound(name.to_string()))
    }

    /// The collection with this (Chroma) id, or, failing that, this name.
    pub fn by_id(&self, id: &str) -> Result<&Collection, StoreError> {
        self.collections
            .values()
            .find(|c| c.id == id)
            .or_else(|| self.collections.get(id))
            .ok_or_else(|| StoreError::NotFound(id.to_string()))
    }

    /// The name of the collection with this id (or name).
    pub fn name_of(&self, id: &str) -> Result<String, StoreError> {
        self.by_id(id).map(|c| c.name.clone())
    }

    /// The collection named `name`, created empty (dimension learnt from its first
    /// vector, cosine) when missing: upserts create collections, as the reference does.
    pub fn get_or_create(&mut self, name: &str) -> &mut Collection {
        self.collections
            .entry(name.to_string())
            .or_insert_with(|| Collection::new(name, None, Metric::Cosine))
    }

    /// Add a new collection; refused when the name is taken.
    pub fn create(&mut self, c: Collection) -> Result<&Collection, StoreError> {
        if self.collections.contains_key(&c.name) {
            return Err(StoreError::Exists(c.name));
        }
        let name = c.name.clone();
        Ok(self.collections.entry(name).or_insert(c))
    }

    /// Drop a collection; whether it existed.
    pub fn remove(&mut self, name: &str) -> bool {
        self.collections.remove(name).is_some()
    }

    /// Points in every collection.
    pub fn total(&self) -> usize {
        self.collections.values().map(Collection::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn point(id: &str, v: &[f32], meta: Value) -> Point {
        Point {
            id: PointId::Str(id.into()),
            values: v.to_vec(),
            metadata: meta.as_object().cloned(),
            document: None,
        }
    }

    #[test]
    fn upsert_replaces_by_id_and_delete_keeps_the_rest_queryable() {
        let mut c = Collection::new("docs", Some(2), Metric::Cosine);
        c.upsert(vec![
            point("a", &[1.0, 0.0], json!({"k": 1})),
            point("b", &[0.0, 1.0], json!({"k": 2})),
            point("c", &[0.7, 0.7], json!({"k": 3})),
        ])
        .unwrap();
        c.upsert(vec![point("a", &[0.0, 1.0], json!({"k": 9}))])
            .unwrap();
        assert_eq!(c.len(), 3);
        let got: Vec<String> = c
            .query(&[0.0, 1.0], 3, None)
            .unwrap()
            .iter()
            .map(|h| h.id.to_string())
            .collect();
        // a and b are equal: id order.
        assert_eq!(got, ["a", "b", "c"]);
        assert_eq!(c.delete_ids(&[PointId::Str("a".into())]), 1);
        let got: Vec<String> = c
            .query(&[0.0, 1.0], 3, None)
            .unwrap()
            .iter()
            .map(|h| h.id.to_string())
            .collect();
        assert_eq!(got, ["b", "c"]);
        assert_eq!(
            c.get(&PointId::Str("c".into())).unwrap().metadata,
            json!({"k": 3}).as_object()
        );
    }

    #[test]
    fn a_wrong_dimension_is_refused_before_anything_is_written() {
        let mut c = Collection::new("docs", Some(2), Metric::Dot);
        let e = c
            .upsert(vec![
                point("a", &[1.0, 0.0], Value::Null),
                point("b", &[1.0], Value::Null),
            ])
            .unwrap_err();
        assert_eq!(e, StoreError::Dimension { got: 1, want: 2 });
        assert!(c.is_empty());
        assert!(c.query(&[1.0, 2.0, 3.0], 1, None).is_err());
    }

    #[test]
    fn a_collection_created_by_upsert_learns_its_dimension() {
        let mut s = Store::default();
        s.get_or_create("x")
            .upsert(vec![point("a", &[1.0, 2.0, 3.0], Value::Null)])
            .unwrap();
        assert_eq!(s.get("x").unwrap().dimension(), Some(3));
        assert!(s.get("y").is_err());
    }

    /// Build a 10,000 x 1,536 collection and time queries. Run with
    /// `cargo test --release -- --ignored query_timing --nocapture`, or compile
    /// `search.rs` alone with `rustc -O` (the README shows how).
    #[test]
    #[ignore]
    fn query_timing_over_ten_thousand_1536_dimension_vectors() {
        let (n, dim) = (10_000, 1536);
        let mut c = Collection::new("bench", Some(dim), Metric::Cosine);
        let mut x: u64 = 42;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 11) as f64 / (1u64 << 53) as f64) as f32 - 0.5
        };
        let points = (0..n)
            .map(|i| Point {
                id: PointId::Str(format!("v{i}")),
                values: (0..dim).map(|_| next()).collect(),
                metadata: None,
                document: None,
            })
            .collect();
        c.upsert(points).unwrap();
        let q: Vec<f32> = (0..dim).map(|_| next()).collect();
        let runs = 50;
        let t = std::time::Instant::now();
        for _ in 0..runs {
            std::hint::black_box(c.query(&q, 10, None).unwrap());
        }
        println!(
            "query over {n} x {dim}: {:?} per query",
            t.elapsed() / runs as u32
        );
    }
}

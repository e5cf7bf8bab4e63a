//! Metadata filters: one small tree ([`Filter`]) that the three dialects parse into,
//! and its evaluation over one point's metadata.
//!
//! - Pinecone and Chroma `where` share the operator syntax: `{"field": value}` (equal),
//!   `{"field": {"$eq"|"$ne"|"$gt"|"$gte"|"$lt"|"$lte"|"$in"|"$nin"|"$exists": ..}}`,
//!   `{"$and": [..]}`, `{"$or": [..]}`; several keys in one object are AND-ed.
//! - Qdrant: `{"must": [..], "should": [..], "must_not": [..], "min_should"?}` with
//!   conditions `{"key", "match": {"value"|"any"|"except"}}`, `{"key", "range":
//!   {"gt","gte","lt","lte"}}`, `{"key", "is_empty"|"is_null"}`, `{"has_id": [..]}` and
//!   nested filters; keys may be dotted paths (`a.b`).
//!
//! A condition on a field holding an array holds when any element satisfies it (both
//! Pinecone and Qdrant treat list metadata this way); `$ne`/`$nin`/`except` hold when no
//! element is excluded. Numbers compare as numbers (`1` equals `1.0`).
//!
//! Not here: `where_document` full-text filters (refused by the caller as unsupported).

use serde_json::{Map, Value};

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every sub-filter holds (an empty list holds).
    All(Vec<Filter>),
    /// At least `min` sub-filters hold (1 for `$or`/`should`).
    Any(Vec<Filter>, usize),
    /// The sub-filter does not hold.
    Not(Box<Filter>),
    /// A condition on one metadata field (a dotted path for Qdrant).
    Field(String, Cond),
    /// The point's id is one of these (Qdrant `has_id`), as text.
    HasId(Vec<String>),
}

/// A condition on one field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// Equal to.
    Eq(Value),
    /// Not equal to (also holds when the field is absent).
    Ne(Value),
    /// Equal to one of.
    In(Vec<Value>),
    /// Equal to none of (also holds when absent).
    Nin(Vec<Value>),
    /// A numeric range; each bound optional.
    Range {
        /// `>`.
        gt: Option<f64>,
        /// `>=`.
        gte: Option<f64>,
        /// `<`.
        lt: Option<f64>,
        /// `<=`.
        lte: Option<f64>,
    },
    /// The field is present (true) or absent (false).
    Exists(bool),
    /// Qdrant `is_empty`: absent, null or `[]`.
    Empty,
    /// Qdrant `is_null`: present and null.
    Null,
}

impl Filter {
    /// Whether the point with `id` and `metadata` passes.
    pub fn accepts(&self, id: &str, metadata: Option<&Map<String, Value>>) -> bool {
        match self {
            Filter::All(v) => v.iter().all(|f| f.accepts(id, metadata)),
            Filter::Any(v, min) => v.iter().filter(|f| f.accepts(id, metadata)).count() >= *min,
            Filter::Not(f) => !f.accepts(id, metadata),
            Filter::HasId(ids) => ids.iter().any(|i| i == id),
            Filter::Field(key, cond) => cond.holds(lookup(metadata, key)),
        }
    }
}

fn lookup<'a>(metadata: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Value> {
    let m = metadata?;
    if let Some(v) = m.get(key) {
        return Some(v);
    }
    // A dotted path (Qdrant's nested keys), when no key has the dots literally.
    let mut parts = key.split('.');
    let mut cur = m.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

impl Cond {
    fn holds(&self, v: Option<&Value>) -> bool {
        match self {
            Cond::Exists(want) => v.is_some_and(|v| !v.is_null()) == *want,
            Cond::Empty => match v {
                None | Some(Value::Null) => true,
                Some(Value::Array(a)) => a.is_empty(),
                _ => false,
            },
            Cond::Null => matches!(v, Some(Value::Null)),
            Cond::Ne(x) => !v.is_some_and(|v| each(v).any(|e| same(e, x))),
            Cond::Nin(xs) => !v.is_some_and(|v| each(v).any(|e| xs.iter().any(|x| same(e, x)))),
            Cond::Eq(x) => v.is_some_and(|v| same(v, x) || each(v).any(|e| same(e, x))),
            Cond::In(xs) => v.is_some_and(|v| each(v).any(|e| xs.iter().any(|x| same(e, x)))),
            Cond::Range { gt, gte, lt, lte } => v.is_some_and(|v| {
                each(v).any(|e| {
                    let Some(n) = e.as_f64() else { return false };
                    gt.is_none_or(|b| n > b)
                        && gte.is_none_or(|b| n >= b)
                        && lt.is_none_or(|b| n < b)
                        && lte.is_none_or(|b| n <= b)
                })
            }),
        }
    }
}

/// The value itself, or each element of an array.
fn each(v: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match v {
        Value::Array(a) => Box::new(a.iter()),
        v => Box::new(std::iter::once(v)),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

/// Parse the Pinecone / Chroma operator syntax. `Err` names what is wrong.
pub fn parse_operators(v: &Value) -> Result<Filter, String> {
    let Value::Object(m) = v else {
        return Err("a filter must be an object".into());
    };
    let mut all = Vec::new();
    for (k, v) in m {
        match k.as_str() {
            "$and" | "$or" => {
                let Value::Array(items) = v else {
                    return Err(format!("{k} must be a list of filters"));
                };
                let subs = items
                    .iter()
                    .map(parse_operators)
                    .collect::<Result<Vec<_>, _>>()?;
                all.push(if k == "$and" {
                    Filter::All(subs)
                } else {
                    Filter::Any(subs, 1)
                });
            }
            op if op.starts_with('$') => return Err(format!("unknown top-level operator {op}")),
            field => all.push(field_condition(field, v)?),
        }
    }
    Ok(if all.len() == 1 {
        all.pop().expect("one element")
    } else {
        Filter::All(all)
    })
}

fn field_condition(field: &str, v: &Value) -> Result<Filter, String> {
    let Value::Object(ops) = v else {
        return Ok(Filter::Field(field.into(), Cond::Eq(v.clone())));
    };
    let mut conds = Vec::new();
    for (op, x) in ops {
        let num = || {
            x.as_f64()
                .ok_or_else(|| format!("{op} on {field:?} needs a number"))
        };
        let list = || match x {
            Value::Array(a) => Ok(a.clone()),
            _ => Err(format!("{op} on {field:?} needs a list")),
        };
        let c = match op.as_str() {
            "$eq" => Cond::Eq(x.clone()),
            "$ne" => Cond::Ne(x.clone()),
            "$in" => Cond::In(list()?),
            "$nin" => Cond::Nin(list()?),
            "$gt" => range(Some(num()?), None, None, None),
            "$gte" => range(None, Some(num()?), None, None),
            "$lt" => range(None, None, Some(num()?), None),
            "$lte" => range(None, None, None, Some(num()?)),
            "$exists" => Cond::Exists(
                x.as_bool()
                    .ok_or_else(|| format!("$exists on {field:?} needs true or false"))?,
            ),
            other => return Err(format!("unknown operator {other} on {field:?}")),
        };
        conds.push(Filter::Field(field.into(), c));
    }
    Ok(if conds.len() == 1 {
        conds.pop().expect("one element")
    } else {
        Filter::All(conds)
    })
}

fn range(gt: Option<f64>, gte: Option<f64>, lt: Option<f64>, lte: Option<f64>) -> Cond {
    Cond::Range { gt, gte, lt, lte }
}

/// Parse a Qdrant filter (`must` / `should` / `must_not`).
pub fn parse_qdrant(v: &Value) -> Result<Filter, String> {
    let Value::Object(m) = v else {
        return Err("filter must be an object".into());
    };
    let mut all = Vec::new();
    let conds = |key: &str| -> Result<Vec<Filter>, String> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a.iter().map(qdrant_condition).collect(),
            Some(one @ Value::Object(_)) => Ok(vec![qdrant_condition(one)?]),
            Some(_) => Err(format!("filter.{key} must be a list of conditions")),
        }
    };
    all.extend(conds("must")?);
    let should = conds("should")?;
    if !should.is_empty() {
        all.push(Filter::Any(should, 1));
    }
    if let Some(ms) = m.get("min_should").filter(|v| !v.is_null()) {
        let list = ms
            .get("conditions")
            .and_then(Value::as_array)
            .ok_or("filter.min_should.conditions must be a list")?;
        let subs = list
            .iter()
            .map(qdrant_condition)
            .collect::<Result<Vec<_>, _>>()?;
        let min = ms
            .get("min_count")
            .and_then(Value::as_u64)
            .ok_or("filter.min_should.min_count must be a number")?;
        all.push(Filter::Any(subs, min as usize));
    }
    for c in conds("must_not")? {
        all.push(Filter::Not(Box::new(c)));
    }
    Ok(Filter::All(all))
}

fn qdrant_condition(v: &Value) -> Result<Filter, String> {
    let Value::Object(m) = v else {
        return Err("a condition must be an object".into());
    };
    if m.contains_key("must") || m.contains_key("should") || m.contains_key("must_not") {
        return parse_qdrant(v);
    }
    if let Some(ids) = m.get("has_id") {
        let ids = ids.as_array().ok_or("has_id must be a list of ids")?;
        return Ok(Filter::HasId(
            ids.iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
        ));
    }
    if let Some(Value::Object(e)) = m.get("is_empty") {
        let key = e.get("key").and_then(Value::as_str).ok_or("is_empty.key")?;
        return Ok(Filter::Field(key.into(), Cond::Empty));
    }
    if let Some(Value::Object(e)) = m.get("is_null") {
        let key = e.get("key").and_then(Value::as_str).ok_or("is_null.key")?;
        return Ok(Filter::Field(key.into(), Cond::Null));
    }
    let key = m
        .get("key")
        .and_then(Value::as_str)
        .ok_or("a field condition needs a key")?
        .to_string();
    if let Some(Value::Object(mt)) = m.get("match") {
        if let Some(x) = mt.get("value") {
            return Ok(Filter::Field(key, Cond::Eq(x.clone())));
        }
        if let Some(Value::Array(a)) = mt.get("any") {
            return Ok(Filter::Field(key, Cond::In(a.clone())));
        }
        if let Some(Value::Array(a)) = mt.get("except") {
            return Ok(Filter::Field(key, Cond::Nin(a.clone())));
        }
        return Err(format!(
            "match on {key:?} needs value, any or except (text match is not served)"
        ));
    }
    if let Some(Value::Object(r)) = m.get("range") {
        let b = |k: &str| r.get(k).and_then(Value::as_f64);
        return Ok(Filter::Field(
            key,
            range(b("gt"), b("gte"), b("lt"), b("lte")),
        ));
    }
    Err(format!(
        "condition on {key:?} needs match or range (geo and values_count are not served)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn operator_filters_cover_eq_in_ranges_and_boolean_combinations() {
        let m = meta(json!({"genre": "drama", "year": 2020, "tags": ["a", "b"]}));
        let yes = [
            json!({"genre": "drama"}),
            json!({"genre": {"$eq": "drama"}}),
            json!({"year": {"$gt": 2019, "$lte": 2020}}),
            json!({"genre": {"$in": ["comedy", "drama"]}}),
            json!({"genre": {"$nin": ["comedy"]}}),
            json!({"tags": "b"}),
            json!({"$or": [{"genre": "x"}, {"year": 2020.0}]}),
            json!({"$and": [{"genre": "drama"}, {"missing": {"$exists": false}}]}),
            json!({"missing": {"$ne": 1}}),
        ];
        for f in yes {
            assert!(parse_operators(&f).unwrap().accepts("1", Some(&m)), "{f}");
        }
        let no = [
            json!({"genre": "comedy"}),
            json!({"year": {"$lt": 2020}}),
            json!({"tags": {"$nin": ["a"]}}),
            json!({"$and": [{"genre": "drama"}, {"year": 1}]}),
        ];
        for f in no {
            assert!(!parse_operators(&f).unwrap().accepts("1", Some(&m)), "{f}");
        }
        assert!(parse_operators(&json!({"x": {"$regex": "a"}})).is_err());
        assert!(parse_operators(&json!([1])).is_err());
    }

    #[test]
    fn qdrant_filters_cover_must_should_must_not_ranges_and_ids() {
        let m = meta(json!({"city": "London", "n": 5, "addr": {"zip": "E1"}}));
        let f = json!({
            "must": [{"key": "city", "match": {"value": "London"}}],
            "should": [{"key": "n", "range": {"gte": 5}}, {"key": "n", "match": {"value": 9}}],
            "must_not": [{"key": "addr.zip", "match": {"any": ["W1"]}}]
        });
        assert!(parse_qdrant(&f).unwrap().accepts("7", Some(&m)));
        let f = json!({"must": [{"has_id": [1, 2]}]});
        assert!(!parse_qdrant(&f).unwrap().accepts("7", Some(&m)));
        assert!(parse_qdrant(&f).unwrap().accepts("2", Some(&m)));
        let f = json!({"must": [{"is_empty": {"key": "tags"}}]});
        assert!(parse_qdrant(&f).unwrap().accepts("7", Some(&m)));
        assert!(parse_qdrant(&json!({"must": [{"key": "x"}]})).is_err());
    }
}

//! Reading the journal over the control API: `GET /__aimock/journal` with its filters,
//! and the reference's older `GET /v1/_requests`.
//!
//! Not here: the journal itself (`crate::journal`), routing (`super::route`).

use http::Response;
use serde_json::Value;

use super::{bad, json, query_pairs};
use crate::journal::Entry;
use crate::respond::body::Body;
use crate::server::AppState;

/// Journal filters, all AND-ed.
#[derive(Debug, Default)]
struct Filter {
    limit: Option<usize>,
    offset: usize,
    path: Option<String>,
    method: Option<String>,
    status: Option<u16>,
    provider: Option<String>,
    test_id: Option<String>,
    request_id: Option<String>,
}

impl Filter {
    fn parse(query: Option<&str>) -> Result<Filter, String> {
        let mut f = Filter::default();
        let int = |k: &str, v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("Invalid {k} parameter: {v:?}"))
        };
        for (k, v) in query_pairs(query) {
            match k.as_str() {
                "limit" => f.limit = Some(int(&k, &v)?),
                "offset" => f.offset = int(&k, &v)?,
                "path" => f.path = Some(v),
                "method" => f.method = Some(v.to_ascii_uppercase()),
                "status" => {
                    f.status = Some(
                        v.parse::<u16>()
                            .map_err(|_| format!("Invalid status parameter: {v:?}"))?,
                    )
                }
                "service" | "provider" => f.provider = Some(v),
                "testId" => f.test_id = Some(v),
                "requestId" => f.request_id = Some(v),
                other => return Err(format!("Unknown journal filter: {other:?}")),
            }
        }
        Ok(f)
    }

    fn keeps(&self, e: &Entry) -> bool {
        self.path
            .as_ref()
            .is_none_or(|p| e.path().contains(p.as_str()))
            && self.method.as_ref().is_none_or(|m| e.method.as_str() == m)
            && self.status.is_none_or(|s| e.status == s)
            && self.provider.as_ref().is_none_or(|p| {
                e.draft.provider == Some(p.as_str()) || e.draft.service.as_deref() == Some(p)
            })
            && self
                .test_id
                .as_ref()
                .is_none_or(|t| e.draft.test_id.as_deref() == Some(t.as_str()))
            && self
                .request_id
                .as_ref()
                .is_none_or(|r| e.draft.id.as_str() == r)
    }
}

pub(super) fn journal(state: &AppState, query: Option<&str>) -> Response<Body> {
    let f = match Filter::parse(query) {
        Ok(f) => f,
        Err(m) => return bad(m),
    };
    let kept: Vec<_> = state
        .journal
        .entries()
        .into_iter()
        .filter(|e| f.keeps(e))
        .collect();
    let total = kept.len();
    let page: Vec<Value> = kept
        .iter()
        .skip(f.offset)
        .take(f.limit.unwrap_or(usize::MAX))
        .map(|e| e.to_json_with(&state.config.secrets))
        .collect();
    let mut r = json(200, &Value::Array(page));
    r.headers_mut().insert("x-total-count", total.into());
    r
}

/// `GET /v1/_requests?limit=N`: the last N entries, oldest first.
pub(super) fn recent(state: &AppState, query: Option<&str>) -> Response<Body> {
    let mut limit = None;
    for (k, v) in query_pairs(query) {
        if k == "limit" {
            match v.parse::<usize>() {
                Ok(n) => limit = Some(n),
                Err(_) => return bad(format!("Invalid limit parameter: {v:?}")),
            }
        }
    }
    let all = state.journal.entries();
    let skip = limit.map_or(0, |n| all.len().saturating_sub(n));
    let list: Vec<Value> = all
        .iter()
        .skip(skip)
        .map(|e| e.to_json_with(&state.config.secrets))
        .collect();
    json(200, &Value::Array(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_filters_reject_unknown_parameters_and_bad_numbers() {
        assert!(Filter::parse(Some("testId=a&status=200&limit=5")).is_ok());
        assert_eq!(
            Filter::parse(Some("colour=red")).unwrap_err(),
            "Unknown journal filter: \"colour\""
        );
        assert!(Filter::parse(Some("limit=x")).is_err());
    }
}

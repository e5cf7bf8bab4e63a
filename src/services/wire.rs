//! What the agent-stack services (MCP, A2A, AG-UI) build their replies from: JSON and
//! SSE responses, streams paced per event, fresh ids and timestamps.
//!
//! Not here: the JSON-RPC envelope (`codec::jsonrpc`), the SSE byte framing
//! (`codec::sse`), what any event means (each service's `protocol`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Response, StatusCode};
use serde_json::Value;

use crate::providers::common::Frame;
use crate::respond::body::Body;
use crate::respond::pacing::{PacedBody, Pacing};

/// A JSON reply.
pub fn json(status: u16, v: &Value) -> Response<Body> {
    let mut r = Response::new(Body::full(serde_json::to_vec(v).unwrap_or_default()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The 404 for a path below a mount that serves its root alone (`/mcp` and `/mcp/`
/// are the endpoint; `/mcp/x` is not), or `None` for the root itself.
pub fn only_the_root(path: &str, prefix: &str) -> Option<Response<Body>> {
    let rest = path.strip_prefix(prefix).unwrap_or("");
    (!(rest.is_empty() || rest == "/")).then(|| {
        json(
            404,
            &serde_json::json!({"error": format!("Not found: {path}")}),
        )
    })
}

/// A reply with a status and no body.
pub fn status(status: u16) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

/// One SSE `data:` event holding `v`.
pub fn sse_frame(v: &Value) -> Bytes {
    let mut b = BytesMut::new();
    crate::codec::sse::encode_data(&v.to_string(), &mut b);
    b.freeze()
}

/// An SSE reply of `events` (each one `data:` event), `delay` apart: the first goes out
/// at once, each later one after `delay` (a fixture's `delayMs`).
pub fn sse(events: &[Value], delay: Duration) -> Response<Body> {
    let frames: Vec<Frame> = events
        .iter()
        .enumerate()
        .map(|(i, v)| Frame {
            bytes: sse_frame(v),
            paced: i > 0 && !delay.is_zero(),
        })
        .collect();
    sse_frames(frames, delay)
}

/// An SSE reply of already framed events.
pub fn sse_frames(frames: Vec<Frame>, delay: Duration) -> Response<Body> {
    let body = if delay.is_zero() {
        let mut all = BytesMut::new();
        for f in frames {
            all.extend_from_slice(&f.bytes);
        }
        Body::full(all.freeze())
    } else {
        let pacing = Pacing {
            latency_ms: delay.as_secs_f64() * 1000.0,
            replay_speed: 1.0,
            ..Pacing::default()
        };
        Body::Paced(Box::new(PacedBody::new(frames, pacing)))
    };
    let mut r = Response::new(body);
    sse_headers(r.headers_mut());
    r
}

/// The headers of an SSE reply.
pub fn sse_headers(h: &mut http::HeaderMap) {
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
}

/// Milliseconds as a delay, clamped to a day (a fixture's `delayMs` may be anything).
pub fn delay_ms(v: Option<&Value>) -> Duration {
    let ms = v.and_then(Value::as_f64).unwrap_or(0.0);
    if !ms.is_finite() || ms <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(ms.min(86_400_000.0) / 1000.0)
}

/// The request's `Accept` allows `mime` (`*/*` and `type/*` count; no header allows
/// everything).
pub fn accepts(headers: &http::HeaderMap, mime: &str) -> bool {
    let Some(accept) = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let major = mime.split('/').next().unwrap_or("");
    accept.split(',').any(|part| {
        let m = part.split(';').next().unwrap_or("").trim();
        m == mime || m == "*/*" || m.strip_suffix("/*") == Some(major)
    })
}

/// `Accept` names `mime` itself (not through a wildcard).
pub fn names(headers: &http::HeaderMap, mime: &str) -> bool {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|a| {
            a.split(',')
                .any(|p| p.split(';').next().unwrap_or("").trim() == mime)
        })
}

/// 64 unpredictable bits: a process-random hasher over a counter and the clock. Ids
/// need to be fresh and hard to guess across runs, not cryptographic.
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static STATE: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = STATE
        .get_or_init(std::collections::hash_map::RandomState::new)
        .build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// A UUID v4 string.
pub fn uuid() -> String {
    let (a, b) = (random_u64(), random_u64());
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A fresh id with a prefix: `task-3f2a...` (16 hex digits).
pub fn fresh_id(prefix: &str) -> String {
    format!("{prefix}-{:016x}", random_u64())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Now as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    crate::providers::common::timestamp::rfc3339(micros)
}

/// A section's `path`, or the default; it must start with `/`.
pub fn mount_path(section: &Value, default: &str) -> anyhow::Result<String> {
    match section.get("path") {
        None | Some(Value::Null) => Ok(default.to_string()),
        Some(Value::String(p)) if p.starts_with('/') => {
            let p = p.trim_end_matches('/');
            Ok(if p.is_empty() { "/".into() } else { p.into() })
        }
        Some(other) => anyhow::bail!("`path` must be a string starting with `/`, not {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_have_the_v4_shape_and_differ() {
        let a = uuid();
        let b = uuid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }

    #[test]
    fn accept_allows_named_types_and_wildcards() {
        let mut h = http::HeaderMap::new();
        assert!(accepts(&h, "text/event-stream"));
        h.insert("accept", "application/json".parse().unwrap());
        assert!(!accepts(&h, "text/event-stream"));
        h.insert(
            "accept",
            "application/json, text/event-stream".parse().unwrap(),
        );
        assert!(accepts(&h, "text/event-stream") && names(&h, "text/event-stream"));
        h.insert("accept", "text/*;q=0.5".parse().unwrap());
        assert!(accepts(&h, "text/event-stream") && !names(&h, "text/event-stream"));
    }

    #[test]
    fn mount_paths_default_and_lose_a_trailing_slash() {
        assert_eq!(mount_path(&serde_json::json!({}), "/mcp").unwrap(), "/mcp");
        assert_eq!(
            mount_path(&serde_json::json!({"path": "/tools/"}), "/mcp").unwrap(),
            "/tools"
        );
        assert!(mount_path(&serde_json::json!({"path": "tools"}), "/mcp").is_err());
        assert!(mount_path(&serde_json::json!({"path": 3}), "/mcp").is_err());
    }
}

//! Recording and chaos switched while the server runs: `GET`/`POST`/`DELETE
//! /__aimock/record` (the reference's programmatic `enableRecording` and
//! `disableRecording`, which it has no route for) and `/__aimock/chaos` (the
//! reference's route, scoped by test id as its is).
//!
//! Bodies are checked field by field: an unknown field, a wrong type or an out-of-range
//! value is a 400 naming the field, never a half-applied setting. Rejected alternative:
//! serde structs with `deny_unknown_fields`, whose messages name serde's view of the
//! body (`invalid type: string, expected u64 at line 1 column 30`) rather than the
//! field and what it takes.
//!
//! Not here: what a recorder does (`record`, `record::switch`), how rates resolve per
//! request (`chaos`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use http::Response;
use serde_json::{json, Map, Value};

use super::{bad, json as reply};
use crate::cassette::model::ChaosRates;
use crate::chaos::Scope;
use crate::config::record::{parse_base, RecordConfig, PROVIDERS};
use crate::respond::body::Body;
use crate::server::AppState;

/// The fields `POST /__aimock/record` takes.
const RECORD_FIELDS: &[&str] = &[
    "providers",
    "fixturePath",
    "proxyOnly",
    "recordFullModelVersion",
    "upstreamTimeoutMs",
    "bodyTimeoutMs",
    "maxCaptureBytes",
];

/// The body as a JSON object (an empty body is `{}`), or why not.
fn object(body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err("Invalid body: expected a JSON object".into()),
        Err(e) => Err(format!("Invalid JSON: {e}")),
    }
}

fn record_view(rc: &RecordConfig) -> Value {
    let providers: Map<String, Value> = rc
        .upstreams
        .iter()
        .map(|(k, v)| (k.clone(), json!(v.to_string())))
        .collect();
    json!({
        "recording": true,
        "providers": providers,
        "fixturePath": rc.record_dir.display().to_string(),
        "proxyOnly": rc.proxy_only,
    })
}

/// `GET /__aimock/record`.
pub(super) fn record_status(state: &AppState) -> Response<Body> {
    match state.recorder.current() {
        Some(r) => reply(200, &record_view(r.config())),
        None => reply(200, &json!({"recording": false})),
    }
}

/// `DELETE /__aimock/record`: misses are answered as misses again; recordings under
/// way finish and are saved.
pub(super) fn stop_recording(state: &AppState) -> Response<Body> {
    let was = state.recorder.disable();
    tracing::info!(was_recording = was, "control API: recording off");
    reply(200, &json!({"recording": false}))
}

/// `POST /__aimock/record`: record misses of the given providers from now on,
/// replacing any recording settings in force.
pub(super) async fn start_recording(state: &AppState, body: &[u8]) -> Response<Body> {
    let o = match object(body) {
        Ok(o) => o,
        Err(m) => return bad(m),
    };
    let rc = match record_config(state, &o) {
        Ok(rc) => rc,
        Err(m) => return bad(m),
    };
    if !rc.proxy_only {
        if let Err(e) = tokio::fs::create_dir_all(&rc.record_dir).await {
            return bad(format!(
                "Cannot create the recording directory {}: {e}",
                rc.record_dir.display()
            ));
        }
    }
    let view = record_view(&rc);
    match state.recorder.install(
        rc,
        &state.store,
        state.config.secrets.clone(),
        state.metrics.clone(),
    ) {
        Ok(r) => {
            for (p, u) in &r.config().upstreams {
                tracing::info!(provider = %p, upstream = %u, "control API: recording misses");
            }
            reply(200, &view)
        }
        Err(e) => {
            tracing::error!(error = %e, "control API: cannot start recording");
            reply(
                500,
                &json!({"error": {"message": format!("Cannot start recording: {e}"), "type": "server_error"}}),
            )
        }
    }
}

fn positive_ms(o: &Map<String, Value>, k: &str) -> Result<Option<Duration>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64().filter(|n| *n > 0) {
            Some(n) => Ok(Some(Duration::from_millis(n))),
            None => Err(format!(
                "Invalid '{k}': must be a whole number of ms above 0"
            )),
        },
    }
}

fn flag(o: &Map<String, Value>, k: &str) -> Result<Option<bool>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(format!("Invalid '{k}': must be a boolean")),
    }
}

/// The settings a `POST /__aimock/record` body asks for; what it leaves out comes from
/// the start-up recording settings, else the defaults `aimock record` has.
fn record_config(state: &AppState, o: &Map<String, Value>) -> Result<RecordConfig, String> {
    for k in o.keys() {
        if !RECORD_FIELDS.contains(&k.as_str()) {
            return Err(format!(
                "Unknown recording field: '{k}'. Supported: {}",
                RECORD_FIELDS.join(", ")
            ));
        }
    }
    let Some(Value::Object(given)) = o.get("providers") else {
        return Err("Missing or invalid 'providers': an object of provider name to upstream URL, such as {\"openai\": \"https://api.openai.com\"}".into());
    };
    let mut upstreams = BTreeMap::new();
    for (name, url) in given {
        if !PROVIDERS.contains(&name.as_str()) {
            return Err(format!(
                "Unknown provider '{name}' in 'providers'. Supported: {}",
                PROVIDERS.join(", ")
            ));
        }
        let Some(url) = url.as_str() else {
            return Err(format!("Invalid 'providers.{name}': must be a URL string"));
        };
        let uri = parse_base(name, url).map_err(|e| {
            format!(
                "Invalid 'providers.{name}': {}",
                e.to_string().replace(&format!("--provider-{name} "), "")
            )
        })?;
        upstreams.insert(name.clone(), uri);
    }
    if upstreams.is_empty() {
        return Err("'providers' names no provider: give at least one upstream".into());
    }
    let startup = state.recorder.for_shutdown();
    let before = startup.as_ref().map(|r| r.config());
    let record_dir = match o.get("fixturePath") {
        Some(Value::String(p)) if !p.is_empty() => PathBuf::from(p),
        None | Some(Value::Null) => match before.map(|b| b.record_dir.clone()) {
            Some(d) => d,
            None => match default_record_dir(state) {
                Some(d) => d,
                None => return Err(
                    "Missing 'fixturePath': this server has no cassette directory to record into"
                        .into(),
                ),
            },
        },
        Some(_) => return Err("Invalid 'fixturePath': must be a non-empty string".into()),
    };
    let max_capture_bytes = match o.get("maxCaptureBytes") {
        None | Some(Value::Null) => before.map_or(64 * 1024 * 1024, |b| b.max_capture_bytes),
        Some(v) => match v.as_u64().filter(|n| *n > 0) {
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            None => return Err("Invalid 'maxCaptureBytes': must be a whole number above 0".into()),
        },
    };
    Ok(RecordConfig {
        upstreams,
        proxy_only: flag(o, "proxyOnly")?.unwrap_or(false),
        head_timeout: positive_ms(o, "upstreamTimeoutMs")?
            .or(before.map(|b| b.head_timeout))
            .unwrap_or(Duration::from_secs(30)),
        idle_timeout: positive_ms(o, "bodyTimeoutMs")?
            .or(before.map(|b| b.idle_timeout))
            .unwrap_or(Duration::from_secs(30)),
        max_capture_bytes,
        record_dir,
        full_model_version: flag(o, "recordFullModelVersion")?
            .or(before.map(|b| b.full_model_version))
            .unwrap_or(false),
    })
}

/// `<first cassette directory>/recorded`, as `aimock record` defaults to.
fn default_record_dir(state: &AppState) -> Option<PathBuf> {
    let first = state.config.cassettes.first()?;
    let base = if first.extension().is_some_and(|e| e == "json") {
        first.parent().map(|p| p.to_path_buf()).unwrap_or_default()
    } else {
        first.clone()
    };
    Some(base.join("recorded"))
}

/// The chaos fields the reference takes, and whether aimock serves them.
const CHAOS_FIELDS: &[(&str, bool)] = &[
    ("dropRate", true),
    ("malformedRate", true),
    ("disconnectRate", true),
    ("rateLimitRate", false),
    ("latencyMs", false),
];

fn rates_json(r: &ChaosRates) -> Value {
    let mut o = Map::new();
    for (k, v) in [
        ("dropRate", r.drop),
        ("malformedRate", r.malformed),
        ("disconnectRate", r.disconnect),
    ] {
        if let Some(v) = v {
            o.insert(k.into(), json!(v));
        }
    }
    Value::Object(o)
}

fn scope(test_id: Option<&str>) -> Scope<'_> {
    test_id.map_or(Scope::Server, Scope::Test)
}

/// The server-level rates a scope's requests are held to.
fn effective(state: &AppState, test_id: Option<&str>) -> ChaosRates {
    let o = state.chaos.overrides();
    test_id
        .and_then(|t| o.get(Scope::Test(t)))
        .or_else(|| o.get(Scope::Server))
        .unwrap_or(*state.chaos.server_rates())
}

/// `GET /__aimock/chaos`, and with `clear` `DELETE`: the scope's rates (after removing
/// its run-time setting).
pub(super) fn chaos(state: &AppState, test_id: Option<&str>, clear: bool) -> Response<Body> {
    if clear {
        state.chaos.overrides().clear(scope(test_id));
        tracing::info!(
            test_id = test_id.unwrap_or("(server)"),
            "control API: run-time chaos cleared"
        );
    }
    reply(
        200,
        &json!({"chaos": rates_json(&effective(state, test_id))}),
    )
}

/// `POST /__aimock/chaos`: replace the scope's rates whole (a rate left out is off for
/// the scope, not inherited), as the reference's does.
pub(super) fn set_chaos(state: &AppState, test_id: Option<&str>, body: &[u8]) -> Response<Body> {
    let o = match object(body) {
        Ok(o) => o,
        Err(m) => return bad(m),
    };
    let mut rates = ChaosRates::default();
    for (k, v) in &o {
        match CHAOS_FIELDS.iter().find(|(name, _)| name == k) {
            None => return bad(format!("Unknown chaos field: '{k}'")),
            Some((_, false)) => {
                return bad(format!(
                    "Chaos field '{k}' is not supported by aimock: use dropRate, malformedRate or disconnectRate"
                ))
            }
            Some(_) => {}
        }
        if v.is_null() {
            continue;
        }
        let Some(x) = v.as_f64().filter(|x| (0.0..=1.0).contains(x)) else {
            return bad(format!("Invalid '{k}': must be a number between 0 and 1"));
        };
        match k.as_str() {
            "dropRate" => rates.drop = Some(x),
            "malformedRate" => rates.malformed = Some(x),
            _ => rates.disconnect = Some(x),
        }
    }
    state.chaos.overrides().set(scope(test_id), rates);
    tracing::info!(
        test_id = test_id.unwrap_or("(server)"),
        drop = rates.drop.unwrap_or(0.0),
        malformed = rates.malformed.unwrap_or(0.0),
        disconnect = rates.disconnect.unwrap_or(0.0),
        "control API: run-time chaos set"
    );
    reply(
        200,
        &json!({"chaos": rates_json(&effective(state, test_id))}),
    )
}

//! Ollama's native API: `/api/chat`, `/api/generate` (`chat`) and `/api/embed`,
//! `/api/embeddings` (`embed`). (`GET /api/tags` is answered by the pipeline.)
//! [`collapse`] reads recorded replies of all four back into fixtures.
//!
//! Streaming is the default (`stream` absent or true): NDJSON under
//! `application/x-ndjson`, one JSON object per line, the last one `done: true` with
//! `done_reason`, durations and counts; `stream: false` gives that final object whole.
//! Field order follows the captures in tests/data/golden/ollama. Errors are
//! `{"error": "<message>"}`, which the ollama SDK raises as `ResponseError` with the
//! message and status code.
//!
//! Timestamps and durations are invented but deterministic: derived from the render
//! seed, so the same fixture and request always give the same bytes.

mod chat;
mod collapse;
mod embed;

pub use collapse::collapse;

use serde_json::json;

use super::{ErrorKind, ParseError, RenderContext, RenderPlan, RequestParts, Surface};
use crate::cassette::Fixture;
use crate::request::ChatRequest;

/// Ollama's content type for whole JSON bodies.
const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Parse a request.
pub fn parse_request(
    surface: &Surface,
    _parts: &RequestParts,
    body: &[u8],
) -> Result<ChatRequest, ParseError> {
    match surface {
        Surface::OllamaChat => chat::parse_chat(body),
        Surface::OllamaGenerate => chat::parse_generate(body),
        Surface::OllamaEmbed { legacy } => embed::parse(body, *legacy),
        other => Err(ParseError::bad(
            "unsupported_surface",
            format!("{other:?} is not an Ollama surface"),
        )),
    }
}

/// Render a matched (non-error) fixture.
pub fn render(
    surface: &Surface,
    fx: &Fixture,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> RenderPlan {
    match surface {
        Surface::OllamaChat => chat::render(surface, fx, req, ctx, false),
        Surface::OllamaGenerate => chat::render(surface, fx, req, ctx, true),
        Surface::OllamaEmbed { legacy } => embed::render(surface, fx, req, ctx, *legacy),
        _ => error_plan(
            surface,
            500,
            "Ollama renderer called for another surface",
            &ErrorKind::Internal,
        ),
    }
}

/// `{"error": "<message>"}` with the status.
pub fn error_plan(_surface: &Surface, status: u16, message: &str, _kind: &ErrorKind) -> RenderPlan {
    let mut plan = RenderPlan::json(status, &json!({ "error": message }));
    plan.content_type = JSON_CONTENT_TYPE;
    plan
}

/// The deterministic vector for an unmatched embedding request.
pub fn fallback_embedding(
    surface: &Surface,
    req: &ChatRequest,
    ctx: &RenderContext,
) -> Option<RenderPlan> {
    match surface {
        Surface::OllamaEmbed { legacy } => Some(embed::fallback(req, ctx, *legacy)),
        _ => None,
    }
}

/// An RFC 3339 UTC timestamp from microseconds since the Unix epoch, with the fraction
/// trimmed of trailing zeros as Go prints it (`2024-05-24T20:26:46.39151Z`). Also used
/// for Vertex's `createTime`.
pub fn rfc3339(unix_micros: i64) -> String {
    let secs = unix_micros.div_euclid(1_000_000);
    let micros = unix_micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if micros != 0 {
        let frac = format!("{micros:06}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`), so we need no date crate for one timestamp format.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_with_go_style_fractions() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_716_582_406_391_510), "2024-05-24T20:26:46.39151Z");
        assert_eq!(rfc3339(951_782_400_000_001), "2000-02-29T00:00:00.000001Z");
        assert_eq!(rfc3339(4_107_542_400_500_000), "2100-03-01T00:00:00.5Z");
    }

    #[test]
    fn errors_are_a_bare_error_string() {
        let plan = error_plan(&Surface::OllamaChat, 404, "nope", &ErrorKind::NoMatch);
        assert_eq!(plan.status, 404);
        let crate::providers::PlanBody::Full(b) = &plan.body else {
            panic!()
        };
        assert_eq!(&b[..], br#"{"error":"nope"}"#);
    }
}

//! Multipart uploads as a provider parser reads them: the form of a request
//! ([`form`]), with the refusal a client gets when its body is not one, and the
//! fields every media request shares.
//!
//! Not here: the framing itself (`codec::multipart`), what a field means to a provider.

use crate::codec::multipart::{Form, FormError};

use super::{ParseError, RequestParts};

/// The multipart form of a request, or the 400 a malformed one gets.
pub(crate) fn form(parts: &RequestParts, body: &[u8]) -> Result<Form, ParseError> {
    let ct = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Form::parse(ct, body).map_err(|e| {
        let message = match &e {
            FormError::NotMultipart => format!(
                "Invalid Content-Type header ({}), expected multipart/form-data",
                if ct.is_empty() { "none" } else { ct }
            ),
            FormError::NoBoundary => {
                "Invalid multipart/form-data request: the Content-Type header has no boundary"
                    .to_string()
            }
            FormError::Malformed(m) => format!("Invalid multipart/form-data request: {m}"),
        };
        tracing::warn!(path = parts.path, error = %e, "multipart body refused");
        ParseError::bad("invalid_multipart", message)
    })
}

/// Whether a request's `Content-Type` is a multipart form.
pub(crate) fn is_multipart(parts: &RequestParts) -> bool {
    parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        })
}

/// The 400 for a missing required parameter, in OpenAI's words.
pub(crate) fn missing(name: &str) -> ParseError {
    ParseError::bad(
        "missing_required_parameter",
        format!("Missing required parameter: '{name}'."),
    )
}

/// The 400 for a parameter value outside the allowed set, in OpenAI's words.
pub(crate) fn invalid_value(name: &str, got: &str, allowed: &[&str]) -> ParseError {
    ParseError::bad(
        "invalid_value",
        format!(
            "Invalid value for '{name}': '{got}'. Supported values are: {}.",
            allowed
                .iter()
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

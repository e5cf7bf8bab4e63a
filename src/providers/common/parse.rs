//! What a provider parser reads and how it refuses: the request line and headers
//! ([`RequestParts`]), the shared rejection ([`ParseError`]) and the JSON-object body
//! every JSON provider starts from ([`json_body`]).
//!
//! Not here: any provider's fields (each provider's `request.rs`), matching.

use http::HeaderMap;
use serde_json::Value;

/// The request line and headers a parser may look at.
#[derive(Debug)]
pub struct RequestParts<'a> {
    /// The path, without the query.
    pub path: &'a str,
    /// The raw query string, if any.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
}

impl RequestParts<'_> {
    /// The first value of a query parameter (percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query?;
        q.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| {
                percent_encoding::percent_decode_str(&v.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    }
}

/// A request the provider would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// HTTP status to answer with (400 unless the provider says otherwise).
    pub status: u16,
    /// Machine-readable code, e.g. `invalid_json`.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

impl ParseError {
    /// A 400 with a code.
    pub fn bad(code: &'static str, message: impl Into<String>) -> ParseError {
        ParseError {
            status: 400,
            code,
            message: message.into(),
        }
    }

    /// Body is not JSON (or not UTF-8).
    pub fn from_json(e: serde_json::Error) -> ParseError {
        ParseError::bad(
            "invalid_json",
            format!("Request body is not valid JSON: {e}"),
        )
    }
}

/// Parse a request body as a JSON object, with the errors every provider shares.
pub(crate) fn json_body(body: &[u8]) -> Result<serde_json::Map<String, Value>, ParseError> {
    if std::str::from_utf8(body).is_err() {
        return Err(ParseError::bad(
            "invalid_json",
            "Request body is not valid UTF-8",
        ));
    }
    match serde_json::from_slice::<Value>(body).map_err(ParseError::from_json)? {
        Value::Object(m) => Ok(m),
        _ => Err(ParseError::bad(
            "invalid_json",
            "Request body must be a JSON object",
        )),
    }
}

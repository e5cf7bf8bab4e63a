//! Why an error reply is being sent ([`ErrorKind`]), which every provider's `error`
//! verb reads to choose its `type`/`code` fields.
//!
//! Not here: any provider's error envelope (each provider's `error.rs`), the status of
//! a failure (`respond`).

/// Why an error reply is being sent; decides the `type`/`code` fields.
#[derive(Debug, Clone, Copy)]
pub enum ErrorKind<'a> {
    /// No fixture matched (404, or 503 in strict mode).
    NoMatch,
    /// The client's request was malformed.
    InvalidRequest {
        /// A machine-readable code such as `invalid_json`.
        code: &'static str,
    },
    /// An error fixture.
    Fixture(&'a crate::cassette::model::ErrorReply),
    /// Something on our side (a fixture that cannot be served here, ...).
    Internal,
}

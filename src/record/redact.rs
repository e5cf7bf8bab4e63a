//! Keeping credentials off the disk and out of logs.
//!
//! Two layers: request headers and query parameters that carry credentials are never
//! written at all (fixtures hold no headers or URLs; the journal masks them), and every
//! string that is written is scanned for credential-shaped values, which are replaced by
//! `[REDACTED]` with a warning. The scan is [`crate::secrets`]'s: shapes anchored on
//! vendor prefixes, fixed structures or credential-like names, so opaque provider blobs
//! such as thinking signatures are not mangled.

use crate::secrets::Detector;
pub(crate) use crate::secrets::REDACTED;

/// Headers whose values are credentials.
pub(crate) const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "xi-api-key",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "x-amz-date",
    "cookie",
    "set-cookie",
];

/// Replace credential-shaped substrings of `s` (see [`crate::secrets`]). Returns the
/// cleaned string and how many values were replaced.
pub(crate) fn redact_str(s: &str) -> (String, usize) {
    let (clean, n) = Detector::builtin().redact(s);
    (clean.into_owned(), n)
}

/// Mask credential query parameters (`key=`, `api_key=`, signatures) in a query string.
pub(crate) fn redact_query(q: &str) -> String {
    q.split('&')
        .map(|pair| {
            let (k, _) = pair.split_once('=').unwrap_or((pair, ""));
            let kl = k.to_ascii_lowercase();
            if matches!(
                kl.as_str(),
                "key"
                    | "api_key"
                    | "api-key"
                    | "apikey"
                    | "access_token"
                    | "token"
                    | "auth"
                    | "sig"
                    | "signature"
                    | "password"
                    | "secret"
                    | "client_secret"
                    | "code"
                    | "x-amz-signature"
                    | "x-amz-credential"
                    | "x-amz-security-token"
            ) || crate::secrets::field_rule(k).is_some()
            {
                format!("{k}={REDACTED}")
            } else {
                redact_str(pair).0
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vendor_keys_jwts_and_bearer_tokens_are_redacted() {
        for s in [
            "sk-proj-test-not-a-real-key-abcdefghijkl",
            "sk-ant-api03-test-not-a-real-key-abcdefg",
            "AKIAIOSFODNN7EXAMPLE",
            "AIzaSyTESTnotArealKEY000000000000000000",
            "Bearer abcdefghijklmnopqrstuvwxyz",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop",
        ] {
            let (clean, n) = redact_str(&format!("my key is {s} ok"));
            assert_eq!(n, 1, "{s}");
            // A bearer token keeps its scheme word; the token itself goes.
            let want = if s.starts_with("Bearer ") {
                "my key is Bearer [REDACTED] ok"
            } else {
                "my key is [REDACTED] ok"
            };
            assert_eq!(clean, want);
        }
    }

    #[test]
    fn ordinary_text_and_signature_blobs_are_left_alone() {
        let sig =
            "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/Q3r8y+Qz0Y6k2y0pNl7R4T5qg==";
        for s in [
            "the sky is blue",
            "risk-free-return",
            sig,
            "call_HuRWIamjJM7bLsbCamjSgf8e",
        ] {
            assert_eq!(redact_str(s).1, 0, "{s}");
        }
    }

    #[test]
    fn nested_values_report_their_paths() {
        let mut v = json!({"a": ["x", {"b": "token sk-test-not-a-real-key-abcdefghij"}]});
        let mut changed = Vec::new();
        Detector::builtin().redact_json(&mut v, "response", &mut changed);
        assert_eq!(changed, vec!["response.a[1].b"]);
        assert_eq!(v["a"][1]["b"], "token [REDACTED]");
    }

    #[test]
    fn query_credentials_are_masked() {
        assert_eq!(
            redact_query("alt=sse&key=AIzaSecret"),
            "alt=sse&key=[REDACTED]"
        );
    }
}

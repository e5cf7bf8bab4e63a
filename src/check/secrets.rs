//! Credential-shaped strings in a cassette entry, so a real key is caught before it is
//! committed.
//!
//! Two kinds of evidence, chosen to keep false alarms rare in ordinary fixture text:
//! - the credential shapes of [`crate::secrets`] anywhere (over fifty: every AI
//!   provider's key format, cloud keys, source-host and CI tokens, payment and messaging
//!   keys, private keys, JWTs, credential URLs), and its field-name rule;
//! - any long token-like value (no spaces, 20+ characters of the base64/hex alphabet)
//!   under a header-like field name (`authorization`, `x-api-key`, `...token`,
//!   `...secret`, `password`).
//!
//! Findings name the field and show only the first few characters of the value: the
//! check's own output must not spread the secret further.
//!
//! Not here: redacting recordings (the recorder's job).

use serde_json::Value;

use crate::secrets::Detector;

/// One credential-shaped value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    /// Field path inside the entry, e.g. `response.content`.
    pub field: String,
    /// What it looks like, and a masked preview.
    pub message: String,
}

/// Field names that hold credentials in headers and configs.
fn header_like(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "authorization",
        "api-key",
        "api_key",
        "apikey",
        "token",
        "secret",
        "password",
    ]
    .iter()
    .any(|w| k.contains(w))
        && !k.contains("tokens") // usage counters: prompt_tokens, max_tokens
}

fn token_like(v: &str) -> bool {
    let v = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("Basic "))
        .unwrap_or(v);
    v.len() >= 20
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b))
}

fn preview(s: &str) -> String {
    let head: String = s.chars().take(6).collect();
    format!("{head}…")
}

fn check_string(field: &str, key: &str, v: &str, out: &mut Vec<Hit>) {
    let detector = Detector::builtin();
    if let Some(found) = detector.find(v).into_iter().next() {
        out.push(Hit {
            field: field.to_string(),
            message: format!(
                "looks like {} ({}); use a plainly fake value",
                found.name,
                preview(&v[found.range])
            ),
        });
        return;
    }
    if (header_like(key) && token_like(v)) || detector.field_secret(key, v) {
        out.push(Hit {
            field: field.to_string(),
            message: format!(
                "a credential-like value under a header-like name ({}); use a plainly fake value",
                preview(v)
            ),
        });
    }
}

fn walk(v: &Value, field: &mut String, key: &str, out: &mut Vec<Hit>) {
    match v {
        Value::String(s) => check_string(field, key, s, out),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let len = field.len();
                field.push_str(&format!("[{i}]"));
                walk(x, field, key, out);
                field.truncate(len);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                let len = field.len();
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(k);
                walk(x, field, k, out);
                field.truncate(len);
            }
        }
        _ => {}
    }
}

/// Every credential-shaped string in one cassette entry.
pub(crate) fn scan_entry(entry: &Value) -> Vec<Hit> {
    let mut out = Vec::new();
    walk(entry, &mut String::new(), "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_shapes_are_found_with_their_field_and_a_masked_preview() {
        let hits = scan_entry(&json!({
            "match": {"userMessage": "use sk-ant-api03-test-not-a-real-key-0000 please"},
            "response": {"content": "ok", "toolCalls": [{"name": "f", "arguments": {"k": "AKIATESTNOTAREALKEY0"}}]}
        }));
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert_eq!(hits[0].field, "match.userMessage");
        assert!(hits[0].message.contains("Anthropic API key (sk-ant…)"));
        assert!(!hits[0].message.contains("not-a-real-key"));
        assert_eq!(hits[1].field, "response.toolCalls[0].arguments.k");
    }

    #[test]
    fn prose_and_usage_counters_are_not_credentials() {
        let hits = scan_entry(&json!({
            "match": {"userMessage": "plan the task-management-system-design and ask for a Bearer token"},
            "response": {"content": "AKIA is a prefix; eyJ starts JSON", "usage": {"prompt_tokens": 12},
                         "id": "chatcmpl-0123456789abcdef0123456789"},
            "metadata": {"toolsHash": "0123abcd"}
        }));
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn long_tokens_under_header_like_names_are_flagged() {
        let hits = scan_entry(&json!({"metadata": {"headers": {
            "x-api-key": "0123456789abcdef0123456789abcdef",
            "x-request-id": "0123456789abcdef0123456789abcdef"
        }}}));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].field, "metadata.headers.x-api-key");
    }
}

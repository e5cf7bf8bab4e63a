//! Access-control settings for a shared gateway: the inbound API keys and the control
//! API's token, resolved from the command line, the environment and the config file's
//! `auth` section (`{"auth": {"apiKeys": ["k1", "k2"]}}`, the reference's shape).
//!
//! Only the settings live here; the checks are `server::access`'s. Keys are held as
//! [`Secret`]s, whose `Debug` prints no key, so a `Config` logged whole leaks nothing.

use std::fmt;

/// A credential aimock checks callers against. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the constant-time comparison that needs its bytes.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Who may use the gateway.
#[derive(Debug, Clone, Default)]
pub struct AccessConfig {
    /// Inbound API keys; empty: provider routes are open (the default).
    pub api_keys: Vec<Secret>,
    /// The control API's token (`--control-token`, `AIMOCK_CONTROL_TOKEN`).
    pub control_token: Option<Secret>,
}

impl AccessConfig {
    /// Keys from the command line (or `AIMOCK_API_KEYS`, which clap reads for the same
    /// flag) win over the file's `auth.apiKeys`, as the reference's environment does;
    /// blank keys are dropped (an empty `AIMOCK_API_KEYS=` sets none).
    pub fn resolve(
        cli_keys: &[String],
        file_keys: &[String],
        control_token: Option<&str>,
    ) -> AccessConfig {
        let chosen = if cli_keys.iter().any(|k| !k.trim().is_empty()) {
            cli_keys
        } else {
            file_keys
        };
        let mut api_keys: Vec<Secret> = Vec::new();
        for k in chosen.iter().map(|k| k.trim()).filter(|k| !k.is_empty()) {
            let k = Secret::new(k);
            if !api_keys.contains(&k) {
                api_keys.push(k);
            }
        }
        AccessConfig {
            api_keys,
            control_token: control_token
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(Secret::new),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_wins_over_the_file_and_blanks_are_dropped() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = AccessConfig::resolve(&s(&["a", " ", "a", "b"]), &s(&["f"]), Some(" "));
        assert_eq!(a.api_keys, vec![Secret::new("a"), Secret::new("b")]);
        assert!(a.control_token.is_none());
        let a = AccessConfig::resolve(&s(&[""]), &s(&["f"]), Some("t"));
        assert_eq!(a.api_keys, vec![Secret::new("f")]);
        assert_eq!(a.control_token, Some(Secret::new("t")));
    }

    #[test]
    fn debug_output_holds_no_key() {
        let a = AccessConfig::resolve(&["sk-test-not-a-real-key".into()], &[], Some("tok-x"));
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("sk-test") && !shown.contains("tok-x"),
            "{shown}"
        );
    }
}

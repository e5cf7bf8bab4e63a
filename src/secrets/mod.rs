//! Finding credentials in text and JSON, so none reaches a cassette, the journal or a
//! log line.
//!
//! One [`Detector`] serves every place that writes something a user did not author:
//! the recorder (before a fixture is built), the journal (when it is read), the control
//! API's fixture listing, every log line ([`log`]), and `aimock check` (which reports
//! instead of redacting). Two
//! kinds of evidence:
//! - a value's **shape** anywhere in a string ([`shapes::SHAPES`]: vendor prefixes,
//!   fixed structures, vendor names before prefix-less keys);
//! - a JSON value under a **credential-like field name** (`password`, `client_secret`,
//!   `api_key`, `aws_secret_access_key`, ...; see [`field_rule`]), whatever it looks like.
//!
//! Users add their own shapes and an allowlist through the config file
//! (`secrets.patterns`, `secrets.allow`); [`Detector::builtin`] is the detector with
//! neither, for code that runs before or without a configuration.
//!
//! Not here: which headers are never written at all (`record::redact`), and the
//! journal's masking of header values.

#[doc(hidden)]
pub mod fakes;
pub mod log;
pub(crate) mod shapes;

use std::borrow::Cow;
use std::ops::Range;
use std::sync::{Arc, LazyLock};

use regex::{Regex, RegexSet};
use serde_json::Value;

use shapes::{Check, SHAPES};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// One credential found in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Byte range of the secret part in the string searched.
    pub range: Range<usize>,
    /// What it looks like ("an OpenAI API key").
    pub name: Arc<str>,
}

/// One compiled shape.
#[derive(Debug)]
struct Compiled {
    re: Regex,
    name: Arc<str>,
    check: Check,
    /// The index of the `secret` group, when the shape has one.
    secret: Option<usize>,
}

/// The credential detector: built-in shapes, a user's extra shapes and allowlist.
#[derive(Debug)]
pub struct Detector {
    /// Every shape at once: one pass tells which shapes can match a string, and most
    /// strings match none.
    set: RegexSet,
    each: Vec<Compiled>,
    /// A found value that one of these matches in full is left alone.
    allow: Vec<Regex>,
}

static BUILTIN: LazyLock<Arc<Detector>> = LazyLock::new(|| {
    Arc::new(
        Detector::new(&[], &[])
            .expect("the built-in credential shapes are valid regular expressions"),
    )
});

impl Detector {
    /// The built-in shapes, with no user additions.
    pub fn builtin() -> &'static Detector {
        &BUILTIN
    }

    /// [`Detector::builtin`], shared: what a configuration without `secrets` holds.
    pub fn shared_builtin() -> Arc<Detector> {
        BUILTIN.clone()
    }

    /// The built-in shapes plus `extra` patterns (each redacting its whole match, or its
    /// `secret` group), and an `allow` list of patterns for values never to redact.
    pub fn new(extra: &[String], allow: &[String]) -> Result<Detector, regex::Error> {
        let mut each = Vec::with_capacity(SHAPES.len() + extra.len());
        for s in SHAPES {
            each.push(compile(s.pattern, Arc::from(s.name), s.check)?);
        }
        for p in extra {
            each.push(compile(
                p,
                Arc::from("a configured secret pattern"),
                Check::Any,
            )?);
        }
        let set = RegexSet::new(each.iter().map(|c| c.re.as_str()))?;
        let allow = allow
            .iter()
            .map(|p| Regex::new(&format!("^(?:{p})$")))
            .collect::<Result<_, _>>()?;
        Ok(Detector { set, each, allow })
    }

    /// Every credential in `s`, in order, overlapping finds merged (the first shape's
    /// name kept).
    pub fn find(&self, s: &str) -> Vec<Found> {
        let mut found: Vec<Found> = Vec::new();
        let hits = self.set.matches(s);
        if !hits.matched_any() {
            return found;
        }
        for i in hits.iter() {
            let c = &self.each[i];
            for caps in c.re.captures_iter(s) {
                let Some(m) = c.secret.and_then(|g| caps.get(g)).or_else(|| caps.get(0)) else {
                    continue;
                };
                if m.is_empty() || !passes(c.check, m.as_str()) || self.allowed(m.as_str()) {
                    continue;
                }
                found.push(Found {
                    range: m.range(),
                    name: c.name.clone(),
                });
            }
        }
        // Sort by start, stable so that the earlier shape wins a tie; then merge.
        found.sort_by_key(|f| f.range.start);
        let mut merged: Vec<Found> = Vec::with_capacity(found.len());
        for f in found {
            match merged.last_mut() {
                Some(last) if f.range.start < last.range.end => {
                    last.range.end = last.range.end.max(f.range.end);
                }
                _ => merged.push(f),
            }
        }
        merged
    }

    /// True when `s` holds a credential.
    pub fn is_secret(&self, s: &str) -> bool {
        !self.find(s).is_empty()
    }

    /// `s` with every credential replaced by [`REDACTED`], and how many were replaced.
    pub fn redact<'a>(&self, s: &'a str) -> (Cow<'a, str>, usize) {
        let found = self.find(s);
        if found.is_empty() {
            return (Cow::Borrowed(s), 0);
        }
        let mut out = String::with_capacity(s.len());
        let mut at = 0;
        for f in &found {
            out.push_str(&s[at..f.range.start]);
            out.push_str(REDACTED);
            at = f.range.end;
        }
        out.push_str(&s[at..]);
        (Cow::Owned(out), found.len())
    }

    /// Whether the value of the JSON field `key` is a credential, by the field's name.
    pub fn field_secret(&self, key: &str, value: &str) -> bool {
        match field_rule(key) {
            Some(check) => value != REDACTED && passes(check, value) && !self.allowed(value),
            None => false,
        }
    }

    /// Redact every string and object key inside `v` in place, by shape and by field
    /// name. The JSON paths changed are pushed to `changed` (for the warning).
    pub fn redact_json(&self, v: &mut Value, path: &str, changed: &mut Vec<String>) {
        self.walk(v, path, "", changed);
    }

    fn walk(&self, v: &mut Value, path: &str, key: &str, changed: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if self.field_secret(key, s) {
                    *s = REDACTED.to_string();
                    changed.push(path.to_string());
                    return;
                }
                let (clean, n) = self.redact(s);
                if n > 0 {
                    *s = clean.into_owned();
                    changed.push(path.to_string());
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter_mut().enumerate() {
                    self.walk(x, &format!("{path}[{i}]"), key, changed);
                }
            }
            Value::Object(o) => {
                // Keys are rarely secrets; only rebuild the map when one is.
                if o.keys().any(|k| self.is_secret(k)) {
                    let old = std::mem::take(o);
                    for (k, x) in old {
                        let (clean, n) = self.redact(&k);
                        if n > 0 {
                            changed.push(format!("{path}.{{key}}"));
                        }
                        o.insert(clean.into_owned(), x);
                    }
                }
                for (k, x) in o.iter_mut() {
                    self.walk(x, &format!("{path}.{k}"), k, changed);
                }
            }
            _ => {}
        }
    }

    fn allowed(&self, value: &str) -> bool {
        self.allow.iter().any(|a| a.is_match(value))
    }
}

fn compile(pattern: &str, name: Arc<str>, check: Check) -> Result<Compiled, regex::Error> {
    let re = Regex::new(pattern)?;
    let secret = re.capture_names().position(|n| n == Some("secret"));
    Ok(Compiled {
        re,
        name,
        check,
        secret,
    })
}

/// Whether a field of this name holds a credential, and what its value must look like.
/// Names are compared without case, `-` and `_` (`X-Api-Key`, `api_key`, `apiKey`).
pub fn field_rule(key: &str) -> Option<Check> {
    if key.is_empty() || key.len() > 64 {
        return None;
    }
    let k: String = key
        .chars()
        .filter(|c| *c != '-' && *c != '_' && *c != ' ')
        .flat_map(char::to_lowercase)
        .collect();
    // Usage counters and tokenizer settings, not credentials.
    if k.contains("tokens")
        || k.contains("tokenizer")
        || k.contains("tokentype")
        || k.contains("tokencount")
    {
        return None;
    }
    const ANY_VALUE: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "clientsecret",
        "secretkey",
        "secretaccesskey",
        "privatekey",
        "connectionstring",
        "accountkey",
        "sharedaccesskey",
        "webhooksecret",
        "signingsecret",
    ];
    if ANY_VALUE.iter().any(|w| k.contains(w)) || k == "pwd" || k == "secret" {
        return Some(Check::Password);
    }
    const KEY_LIKE: &[&str] = &[
        "apikey",
        "accesskey",
        "authtoken",
        "accesstoken",
        "refreshtoken",
        "sessiontoken",
        "securitytoken",
        "idtoken",
        "bearer",
        "authorization",
        "credential",
        "secret",
        "privatekeyid",
        "subscriptionkey",
        "licensekey",
        "dsn",
    ];
    if KEY_LIKE.iter().any(|w| k.contains(w)) || k == "token" || k == "auth" {
        return Some(Check::TokenLike);
    }
    None
}

/// The value checks of [`Check`].
fn passes(check: Check, v: &str) -> bool {
    match check {
        Check::Any => true,
        Check::TokenLike => token_like(v),
        Check::Password => password_like(v),
        Check::PasswordText => {
            password_like(v)
                && (v.len() >= 10 || v.chars().any(|c| !c.is_alphabetic()))
                && !dotted_identifier(v)
        }
    }
}

/// A key rather than a word: 12+ characters of the token alphabet, letters and digits
/// mixed (or 24+ characters with both cases), and not a repetitive run.
fn token_like(v: &str) -> bool {
    let v = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("Basic "))
        .unwrap_or(v);
    if v.len() < 12 || v.contains(REDACTED) {
        return false;
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._~+/=-:".contains(&b))
    {
        return false;
    }
    let digits = v.bytes().any(|b| b.is_ascii_digit());
    let letters = v.bytes().any(|b| b.is_ascii_alphabetic());
    let upper = v.bytes().any(|b| b.is_ascii_uppercase());
    let lower = v.bytes().any(|b| b.is_ascii_lowercase());
    ((digits && letters) || (v.len() >= 24 && upper && lower)) && entropy(v) >= 3.0
}

/// A password: not empty, not a placeholder, not a reference to one.
fn password_like(v: &str) -> bool {
    let t = v.trim();
    if t.is_empty() || t.contains(REDACTED) {
        return false;
    }
    let lower = t.to_ascii_lowercase();
    const PLACEHOLDERS: &[&str] = &[
        "null",
        "none",
        "true",
        "false",
        "undefined",
        "nil",
        "''",
        "\"\"",
    ];
    if PLACEHOLDERS.contains(&lower.as_str())
        || t.starts_with('$')
        || t.starts_with("{{")
        || t.starts_with('<')
        || t.starts_with('%')
        || t.chars()
            .all(|c| c == '*' || c == 'x' || c == 'X' || c == '.')
    {
        return false;
    }
    true
}

/// `config.password`, `getpass.getpass`: code naming a password, not one.
fn dotted_identifier(v: &str) -> bool {
    let ident = |p: &str| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    v.contains('.') && v.split('.').all(ident)
}

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod corpus;

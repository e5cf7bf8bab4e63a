//! Request normalisation: rules that rewrite the dynamic parts of request text (ids,
//! dates, timestamps, anything a user pattern names) into fixed placeholders, so a
//! request made today matches a recording made last week.
//!
//! The same rules rewrite both sides of a match: the request (its message text of every
//! role, system prompts, tool-call arguments and embedding input) before matching and
//! before its recording's `match` is derived, and a cassette's `match` strings
//! (`userMessage`, `systemMessage`, `inputText`, `toolResultContains`) when it loads. A
//! fixture written by hand with a concrete UUID therefore still matches, and recorded
//! matches are written in normalised form. The request forwarded upstream, the stored
//! `recordedRequest`, the journal and every reply keep the real text.
//!
//! Rules come from the config file's top-level `normalize` list or the command line
//! (`--normalize uuid,isoDate`, `--normalize-regex 'PATTERN=>REPLACEMENT'`); see
//! [`Normalizer::build`]. Built-ins run first, in a fixed order (an ISO date-time before
//! an ISO date, so the date rule never eats the date out of a date-time), then user
//! patterns in the order written. A rule should be idempotent (its replacement must not
//! match it again): cassettes are normalised at every load.
//!
//! Matching semantics stay as they are (substring for `userMessage`): the reference's
//! `requestTransform` makes string criteria exact, but it is an arbitrary function of
//! its JavaScript API; rules that only replace substrings keep substring matching
//! meaningful, and hand-written fixtures keep meaning what they meant.
//!
//! Rejected: normalising inside each comparison. A set of 10,000 fixtures is indexed by
//! its criteria strings, so the strings must be normalised before the index is built;
//! doing it once at load also keeps the per-request cost to one pass over the request.

use std::borrow::Cow;
use std::sync::Arc;

use regex::Regex;
use serde_json::Value;

use crate::cassette::model::{Criteria, Fixture, SystemMatch};
use crate::request::ChatRequest;

/// The built-in rules: name, pattern, placeholder. Applied in this order.
const BUILTINS: &[(&str, &str, &str)] = &[
    (
        "isoDateTime",
        r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?",
        "<datetime>",
    ),
    ("isoDate", r"\b\d{4}-\d{2}-\d{2}\b", "<date>"),
    (
        "uuid",
        r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        "<uuid>",
    ),
    // Seconds or milliseconds since the epoch, from 2001-09 to 2033-05: ten digits
    // starting with 1 (thirteen for milliseconds). Narrower than "any ten digits" so
    // phone numbers and order ids are left alone.
    ("unixTimestamp", r"\b1\d{9}(?:\d{3})?\b", "<timestamp>"),
];

/// The names [`Normalizer::build`] accepts as built-ins.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(n, _, _)| *n).collect()
}

/// One rule: what it matches, what it writes instead, and what it is called in notes.
#[derive(Debug)]
struct Rule {
    name: String,
    re: Regex,
    replace: String,
}

/// A user rule as written: the pattern, its replacement, and where it was given (the
/// flag or config key errors name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternRule {
    /// The regular expression (Rust `regex` syntax).
    pub pattern: String,
    /// The replacement text (`$1`, `${name}` refer to groups).
    pub replace: String,
    /// `--normalize-regex` or `normalize[2]`.
    pub origin: String,
}

/// The rules as given, before they are compiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSpec {
    /// Built-in names with where each was given.
    pub builtins: Vec<(String, String)>,
    /// User patterns.
    pub patterns: Vec<PatternRule>,
}

impl RuleSpec {
    /// No rule at all.
    pub fn is_empty(&self) -> bool {
        self.builtins.is_empty() && self.patterns.is_empty()
    }

    /// The command line's rules: `--normalize` names (comma lists allowed) and
    /// `--normalize-regex PATTERN=>REPLACEMENT` values.
    pub fn from_flags(names: &[String], regexes: &[String]) -> anyhow::Result<RuleSpec> {
        let mut spec = RuleSpec::default();
        for n in names.iter().flat_map(|n| n.split(',')) {
            let n = n.trim();
            if !n.is_empty() {
                spec.builtins.push((n.to_string(), "--normalize".into()));
            }
        }
        for r in regexes {
            let Some((pattern, replace)) = r.split_once("=>") else {
                anyhow::bail!(
                    "--normalize-regex {r:?}: expected PATTERN=>REPLACEMENT (e.g. 'order-\\d+=>order-N')"
                );
            };
            spec.patterns.push(PatternRule {
                pattern: pattern.to_string(),
                replace: replace.to_string(),
                origin: "--normalize-regex".into(),
            });
        }
        Ok(spec)
    }

    /// The config file's `normalize` list: each item a built-in's name or
    /// `{"pattern": REGEX, "replace": TEXT}`. Errors name the item's key.
    pub fn from_json(v: &Value) -> anyhow::Result<RuleSpec> {
        let Value::Array(items) = v else {
            anyhow::bail!(
                "`normalize` must be a list of rules (\"uuid\", \"isoDate\", \"isoDateTime\", \"unixTimestamp\" or {{\"pattern\": REGEX, \"replace\": TEXT}})"
            );
        };
        let mut spec = RuleSpec::default();
        for (i, item) in items.iter().enumerate() {
            let key = format!("normalize[{i}]");
            match item {
                Value::String(name) => spec.builtins.push((name.clone(), key)),
                Value::Object(o) => {
                    for k in o.keys() {
                        if k != "pattern" && k != "replace" {
                            anyhow::bail!("`{key}.{k}`: unknown key (a rule has `pattern` and `replace`)");
                        }
                    }
                    let pattern = o
                        .get("pattern")
                        .and_then(Value::as_str)
                        .ok_or_else(|| anyhow::anyhow!("`{key}.pattern` must be a string"))?;
                    let replace = match o.get("replace") {
                        None => "",
                        Some(Value::String(s)) => s,
                        Some(_) => anyhow::bail!("`{key}.replace` must be a string"),
                    };
                    spec.patterns.push(PatternRule {
                        pattern: pattern.to_string(),
                        replace: replace.to_string(),
                        origin: key,
                    });
                }
                _ => anyhow::bail!(
                    "`{key}` must be a built-in rule's name or {{\"pattern\": REGEX, \"replace\": TEXT}}"
                ),
            }
        }
        Ok(spec)
    }
}

/// The compiled rules. Empty by default: nothing is rewritten and nothing is cloned.
#[derive(Debug, Default)]
pub struct Normalizer {
    rules: Vec<Rule>,
}

impl Normalizer {
    /// No rules.
    pub fn none() -> Arc<Normalizer> {
        Arc::new(Normalizer::default())
    }

    /// Compile `spec`: an unknown built-in or a pattern that is not a valid regular
    /// expression is an error naming the flag or key it came from.
    pub fn build(spec: &RuleSpec) -> anyhow::Result<Normalizer> {
        let mut rules = Vec::new();
        for (name, origin) in &spec.builtins {
            if !BUILTINS.iter().any(|(n, _, _)| n == name) {
                anyhow::bail!(
                    "{origin}: unknown normalisation rule {name:?} (built-ins: {})",
                    builtin_names().join(", ")
                );
            }
        }
        // Built-ins in their own order, each once, whatever order they were named in.
        for (name, pattern, replace) in BUILTINS {
            if spec.builtins.iter().any(|(n, _)| n == name) {
                rules.push(Rule {
                    name: (*name).to_string(),
                    re: Regex::new(pattern).expect("built-in patterns are valid"),
                    replace: (*replace).to_string(),
                });
            }
        }
        for p in &spec.patterns {
            if p.pattern.is_empty() {
                anyhow::bail!("{}: the pattern is empty", p.origin);
            }
            let re = regex::RegexBuilder::new(&p.pattern)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{}: {:?} is not a valid regular expression: {e}",
                        p.origin,
                        p.pattern
                    )
                })?;
            rules.push(Rule {
                name: format!("{} ({})", p.pattern, p.origin),
                re,
                replace: p.replace.clone(),
            });
        }
        Ok(Normalizer { rules })
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules' names, in the order they apply.
    pub fn names(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.name.as_str()).collect()
    }

    /// `s` with every rule applied in turn; borrowed when nothing changed.
    pub fn text<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(s);
        for r in &self.rules {
            if let Cow::Owned(o) = r.re.replace_all(&out, r.replace.as_str()) {
                out = Cow::Owned(o);
            }
        }
        out
    }

    fn rewrite(&self, s: &mut String) -> bool {
        match self.text(s) {
            Cow::Borrowed(_) => false,
            Cow::Owned(o) => {
                *s = o;
                true
            }
        }
    }

    /// `req` as matching and recording see it: every message's text, every tool call's
    /// arguments and every embedding input normalised. Borrowed when there are no rules.
    pub fn request<'a>(&self, req: &'a ChatRequest) -> Cow<'a, ChatRequest> {
        if self.is_empty() {
            return Cow::Borrowed(req);
        }
        let mut r = req.clone();
        for m in &mut r.messages {
            if let Some(t) = &mut m.text {
                self.rewrite(t);
            }
            for c in &mut m.tool_calls {
                self.rewrite(&mut c.arguments);
            }
        }
        if let Some(inputs) = &mut r.embedding_inputs {
            for i in inputs {
                self.rewrite(i);
            }
        }
        Cow::Owned(r)
    }

    /// The criteria strings the rules change, as `(field, before, after)`, and the
    /// criteria rewritten (`None` when nothing changed).
    pub fn criteria(
        &self,
        c: &Criteria,
    ) -> (Vec<(&'static str, String, String)>, Option<Criteria>) {
        let mut changes = Vec::new();
        if self.is_empty() {
            return (changes, None);
        }
        let mut out = c.clone();
        let mut one = |field: &'static str, s: &mut Option<String>| {
            if let Some(v) = s {
                let before = v.clone();
                if self.rewrite(v) {
                    changes.push((field, before, v.clone()));
                }
            }
        };
        one("userMessage", &mut out.user_message);
        let mut more = out.more().clone();
        one("inputText", &mut more.input_text);
        one("toolResultContains", &mut more.tool_result_contains);
        match &mut more.system_message {
            Some(SystemMatch::One(s)) => {
                let before = s.clone();
                if self.rewrite(s) {
                    changes.push(("systemMessage", before, s.clone()));
                }
            }
            Some(SystemMatch::All(v)) => {
                for s in v {
                    let before = s.clone();
                    if self.rewrite(s) {
                        changes.push(("systemMessage", before, s.clone()));
                    }
                }
            }
            None => {}
        }
        if changes.is_empty() {
            return (changes, None);
        }
        out.set_more(more);
        (changes, Some(out))
    }

    /// `fx` with its criteria normalised (the same `Arc` when nothing changed). Its
    /// listing and digest stay those of the entry as written.
    pub fn fixture(&self, fx: &Arc<Fixture>) -> Arc<Fixture> {
        match self.criteria(&fx.criteria).1 {
            None => fx.clone(),
            Some(criteria) => {
                let mut f = Fixture::clone(fx);
                f.group = criteria.counted_group();
                f.criteria = criteria;
                Arc::new(f)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Endpoint, Message, Role, ToolCallRef};

    fn all() -> Normalizer {
        Normalizer::build(
            &RuleSpec::from_flags(
                &["uuid,isoDate".into(), "isoDateTime,unixTimestamp".into()],
                &[],
            )
            .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn built_ins_replace_ids_dates_times_and_timestamps() {
        let n = all();
        assert_eq!(
            n.text("order 123e4567-E89B-12d3-a456-426614174000 on 2026-03-01 at 2026-03-01T10:20:30.5Z, ts 1767225600123 ok"),
            "order <uuid> on <date> at <datetime>, ts <timestamp> ok"
        );
        assert_eq!(n.text("2026-03-01 10:20"), "<datetime>");
        assert_eq!(
            n.text("+44 7700 900123, id 9876543210"),
            "+44 7700 900123, id 9876543210"
        );
        assert!(matches!(n.text("nothing dynamic"), Cow::Borrowed(_)));
        // Idempotent: a normalised text stays as it is.
        let once = n.text("at 2026-03-01T10:20:30+02:00").into_owned();
        assert_eq!(n.text(&once), once);
    }

    #[test]
    fn the_date_rule_never_eats_the_date_out_of_a_date_time_whatever_the_order() {
        let n =
            Normalizer::build(&RuleSpec::from_flags(&["isoDate,isoDateTime".into()], &[]).unwrap())
                .unwrap();
        assert_eq!(n.text("2026-01-02T03:04:05Z"), "<datetime>");
        assert_eq!(n.names(), ["isoDateTime", "isoDate"]);
    }

    #[test]
    fn user_patterns_apply_after_built_ins_with_group_references() {
        let spec = RuleSpec::from_flags(
            &["uuid".into()],
            &[
                r"ticket-(\d+)=>ticket-N".into(),
                r"(\w+)@example\.com=>${1}@EMAIL".into(),
            ],
        )
        .unwrap();
        let n = Normalizer::build(&spec).unwrap();
        assert_eq!(
            n.text("ticket-991 for bob@example.com"),
            "ticket-N for bob@EMAIL"
        );
    }

    #[test]
    fn bad_rules_name_their_flag_or_key() {
        let e = Normalizer::build(&RuleSpec::from_flags(&["uuid,isodate".into()], &[]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("--normalize") && e.contains("isodate"), "{e}");
        let e = Normalizer::build(&RuleSpec::from_flags(&[], &["a(=>b".into()]).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--normalize-regex") && e.contains("not a valid"),
            "{e}"
        );
        assert!(RuleSpec::from_flags(&[], &["no-arrow".into()]).is_err());
        let spec =
            RuleSpec::from_json(&serde_json::json!(["uuid", {"pattern": "[", "replace": "x"}]))
                .unwrap();
        let e = Normalizer::build(&spec).unwrap_err().to_string();
        assert!(e.starts_with("normalize[1]:"), "{e}");
        for bad in [
            serde_json::json!({"uuid": true}),
            serde_json::json!([1]),
            serde_json::json!([{"pattern": 1}]),
            serde_json::json!([{"pattern": "a", "replace": 2}]),
            serde_json::json!([{"pattern": "a", "with": "b"}]),
        ] {
            let e = RuleSpec::from_json(&bad).unwrap_err().to_string();
            assert!(e.contains("normalize"), "{e}");
        }
    }

    #[test]
    fn a_request_is_normalised_in_every_text_it_is_matched_on() {
        let n = all();
        let mut r = ChatRequest::new(Endpoint::Chat, b"");
        r.messages = vec![
            Message::text(Role::System, "today is 2026-05-01"),
            Message::text(Role::User, "id 123e4567-e89b-12d3-a456-426614174000"),
            Message {
                role: Role::Assistant,
                text: None,
                tool_calls: vec![ToolCallRef {
                    id: "c1".into(),
                    name: "f".into(),
                    arguments: r#"{"at":"2026-05-01T00:00:00Z"}"#.into(),
                }],
                tool_call_id: None,
            },
            Message::tool_result("c1", "done at 1767225600"),
        ];
        r.embedding_inputs = Some(vec!["on 2026-05-01".into()]);
        let out = n.request(&r);
        assert_eq!(out.system_text(), "today is <date>");
        assert_eq!(out.messages[1].text.as_deref(), Some("id <uuid>"));
        assert_eq!(
            out.messages[2].tool_calls[0].arguments,
            r#"{"at":"<datetime>"}"#
        );
        assert_eq!(out.messages[3].text.as_deref(), Some("done at <timestamp>"));
        assert_eq!(out.embedding_text().as_deref(), Some("on <date>"));
        assert!(matches!(
            Normalizer::default().request(&r),
            Cow::Borrowed(_)
        ));
    }
}

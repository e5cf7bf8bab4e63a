//! The matcher against an executable model of the reference's matching rules.
//!
//! Random fixture lists and conversations, from a seeded generator (a failure names its
//! seed and reproduces), each request answered twice: by the real store (index,
//! `plain`/general readers, group counters, the early-exit `choose`) and by
//! [`Reference`], a deliberately plain transcription of the reference's
//! `matchFixtureDiagnostic`, `selectByTurnIndex` and `incrementFixtureMatchCount`:
//! one loop over every fixture in file order, fields read from the entry's JSON as
//! written, JavaScript's comparison rules (`===`, `<=` between a string and a number,
//! ...) spelled out in [`Js`], counts per (test id, fixture) with sequence siblings
//! bumped. It is slow and obviously correct, not fast.
//!
//! Every answer is also held against `aimock check`'s shadowing: a fixture it calls
//! shadowed must never answer.
//!
//! Criteria covered: userMessage, systemMessage (string and array), model, toolName,
//! hasToolResult, turnIndex, sequenceIndex (counters across repeated requests and two
//! test ids), context, endpoint; replay and record (hard turnIndex) modes; loosely typed
//! turnIndex / sequenceIndex / hasToolResult.
//!
//! Known departures the model states instead of hiding (each also in the README):
//! - a content reply never answers an embedding request unless the fixture names
//!   `endpoint: "embedding"` (ours; the reference lets it through);
//! - two turnIndex values that are both strings compare as text in JavaScript
//!   (`"10" < "9"`); ours compares them as numbers, so the generator writes string
//!   turnIndex values of one digit only, where the two agree.

use std::collections::HashMap;
use std::sync::Arc;

use aimock::cassette::model::parse_entry;
use aimock::cassette::{FixtureStore, MatchMode, Outcome};
use aimock::request::{ChatRequest, Endpoint, Message, Role};
use serde_json::{json, Map, Value};

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const USER_NEEDLES: &[&str] = &["hello", "hello world", "world", "x", ""];
const USER_TEXTS: &[&str] = &["hello", "hello world", "say x", "world", ""];
const SYSTEM_NEEDLES: &[&str] = &["sys", "sys A", "B"];
const SYSTEM_TEXTS: &[&str] = &["sys A", "sys B", "other"];
const FIXTURE_MODELS: &[&str] = &["gpt-4o", "gpt-4", "gpt-4o-mini", "claude-3"];
const REQUEST_MODELS: &[&str] = &[
    "gpt-4o",
    "gpt-4o-2024",
    "gpt-4-0613",
    "gpt-4o-mini",
    "claude-3-5",
];
const TOOLS: &[&str] = &["search", "lookup"];
const CONTEXTS: &[&str] = &["a", "b"];
const TEST_IDS: &[&str] = &["__default__", "t2"];

fn random_entry(r: &mut Rng, i: usize) -> Value {
    let mut m = Map::new();
    if r.chance(70) {
        m.insert("userMessage".into(), json!(r.pick(USER_NEEDLES)));
    }
    if r.chance(15) {
        let v = if r.chance(30) {
            json!(["sys", r.pick(&["A", "B"])])
        } else {
            json!(r.pick(SYSTEM_NEEDLES))
        };
        m.insert("systemMessage".into(), v);
    }
    if r.chance(25) {
        m.insert("model".into(), json!(r.pick(FIXTURE_MODELS)));
    }
    if r.chance(15) {
        m.insert("toolName".into(), json!(r.pick(TOOLS)));
    }
    if r.chance(20) {
        let v = if r.chance(10) {
            json!(r.pick(&["true", "false"]))
        } else {
            json!(r.chance(50))
        };
        m.insert("hasToolResult".into(), v);
    }
    if r.chance(45) {
        let t = r.below(4);
        // One digit: JavaScript compares two strings as text (see the module docs).
        let v = if r.chance(10) {
            json!(t.to_string())
        } else {
            json!(t)
        };
        m.insert("turnIndex".into(), v);
    }
    if r.chance(25) {
        let k = r.below(3);
        let v = if r.chance(20) {
            json!(k.to_string())
        } else {
            json!(k)
        };
        m.insert("sequenceIndex".into(), v);
    }
    if r.chance(15) {
        m.insert("context".into(), json!(r.pick(CONTEXTS)));
    }
    if r.chance(8) {
        m.insert("endpoint".into(), json!(r.pick(&["chat", "embedding"])));
    }
    json!({"match": Value::Object(m), "response": {"content": format!("f{i}")}})
}

/// An earlier entry's criteria with one state or scope field changed: sequence
/// siblings, the same message under several contexts or turns, plain and turn-indexed
/// twins, which random entries alone rarely make.
fn variant(r: &mut Rng, earlier: &[Value], i: usize) -> Value {
    let mut m = earlier[r.below(earlier.len())]["match"].clone();
    let o = m.as_object_mut().unwrap();
    match r.below(5) {
        0 => {
            o.insert("context".into(), json!(r.pick(CONTEXTS)));
        }
        1 => {
            o.insert("sequenceIndex".into(), json!(r.below(3)));
        }
        2 => {
            let t = r.below(4);
            let v = if r.chance(30) {
                json!(t.to_string())
            } else {
                json!(t)
            };
            o.insert("turnIndex".into(), v);
        }
        3 => {
            o.remove("turnIndex");
        }
        _ => {
            o.remove("context");
        }
    }
    json!({"match": m, "response": {"content": format!("f{i}")}})
}

/// A request as the model reads it: roles as the reference's internal request has them.
#[derive(Debug, Clone)]
struct Req {
    embedding: bool,
    model: Option<&'static str>,
    /// (role, text); `None` text is an attachment-only message.
    messages: Vec<(&'static str, Option<&'static str>)>,
    tools: Vec<&'static str>,
    context: Option<&'static str>,
    test_id: &'static str,
}

fn random_request(r: &mut Rng) -> Req {
    let mut messages = Vec::new();
    if r.chance(35) {
        messages.push((
            r.pick(&["system", "system", "developer"]),
            Some(r.pick(SYSTEM_TEXTS)),
        ));
    }
    for _ in 0..1 + r.below(3) {
        messages.push(("user", Some(r.pick(USER_TEXTS))));
        if r.chance(10) {
            messages.push(("user", None));
        }
        for _ in 0..r.below(3) {
            messages.push(("assistant", Some("ok")));
            if r.chance(35) {
                messages.push(("tool", Some("result")));
            }
        }
    }
    if r.chance(8) {
        messages.push(("system", Some(r.pick(SYSTEM_TEXTS))));
    }
    Req {
        embedding: r.chance(8),
        model: r.chance(85).then(|| r.pick(REQUEST_MODELS)),
        messages,
        tools: TOOLS.iter().copied().filter(|_| r.chance(35)).collect(),
        context: r.chance(40).then(|| r.pick(CONTEXTS)),
        test_id: r.pick(TEST_IDS),
    }
}

fn to_chat_request(q: &Req) -> ChatRequest {
    let endpoint = if q.embedding {
        Endpoint::Embedding
    } else {
        Endpoint::Chat
    };
    let mut req = ChatRequest::new(endpoint, b"{}");
    if q.embedding {
        req.embedding_inputs = Some(vec!["hello".into()]);
    } else {
        for (role, text) in &q.messages {
            let role = match *role {
                "system" => Role::System,
                "developer" => Role::Developer,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                _ => Role::Tool,
            };
            let mut m = match role {
                Role::Tool => Message::tool_result("call_1", text.unwrap_or_default()),
                _ => Message::text(role, text.unwrap_or_default()),
            };
            m.text = text.map(String::from);
            req.messages.push(m);
        }
    }
    req.model = q.model.map(String::from);
    req.tools = q.tools.iter().map(|t| t.to_string()).collect();
    req.context = q.context.map(String::from);
    req.test_id = q.test_id.to_string().into();
    req
}

/// A JavaScript value as the reference holds a match field: a number, a string, a
/// boolean, or `undefined`.
#[derive(Debug, Clone, PartialEq)]
enum Js {
    Undefined,
    Num(f64),
    Str(String),
    Bool(bool),
}

impl Js {
    fn of(v: Option<&Value>) -> Js {
        match v {
            None => Js::Undefined,
            Some(Value::Number(n)) => Js::Num(n.as_f64().unwrap()),
            Some(Value::String(s)) => Js::Str(s.clone()),
            Some(Value::Bool(b)) => Js::Bool(*b),
            Some(other) => panic!("the generator writes no {other}"),
        }
    }
    /// `===`.
    fn strict_eq(&self, other: &Js) -> bool {
        match (self, other) {
            (Js::Num(a), Js::Num(b)) => a == b,
            (a, b) => a == b,
        }
    }
    /// ToNumber, for the values the generator writes.
    fn number(&self) -> f64 {
        match self {
            Js::Num(x) => *x,
            Js::Str(s) => s.trim().parse().unwrap_or(f64::NAN),
            Js::Bool(b) => f64::from(u8::from(*b)),
            Js::Undefined => f64::NAN,
        }
    }
    /// `self < other` (the abstract relational comparison: text when both are strings).
    fn lt(&self, other: &Js) -> bool {
        match (self, other) {
            (Js::Str(a), Js::Str(b)) => a < b,
            _ => self.number() < other.number(),
        }
    }
    /// `self <= other`.
    fn le(&self, other: &Js) -> bool {
        match (self, other) {
            (Js::Str(a), Js::Str(b)) => a <= b,
            _ => self.number() <= other.number(),
        }
    }
}

/// The reference's matcher and counters, looping over every fixture in order.
struct Reference<'a> {
    fixtures: &'a [Value],
    /// (test id, fixture position) -> count.
    counts: HashMap<(&'static str, usize), u32>,
}

impl Reference<'_> {
    fn field(&self, i: usize, key: &str) -> Js {
        Js::of(self.fixtures[i]["match"].get(key))
    }

    fn last_user_text(q: &Req) -> Option<&'static str> {
        q.messages
            .iter()
            .rev()
            .filter(|(role, _)| *role == "user")
            .find_map(|(_, t)| *t)
    }

    fn system_text(q: &Req) -> String {
        let parts: Vec<&str> = q
            .messages
            .iter()
            .filter(|(role, _)| *role == "system")
            .filter_map(|(_, t)| *t)
            .collect();
        parts.join("\n")
    }

    fn current_turn_has_tool_result(q: &Req) -> bool {
        let start = q
            .messages
            .iter()
            .rposition(|(role, _)| *role == "user")
            .map_or(0, |i| i + 1);
        q.messages[start..].iter().any(|(role, _)| *role == "tool")
    }

    /// Every gate of `matchFixtureDiagnostic`'s loop; `Err(())` when only a state gate
    /// (sequence, or turn while recording) failed.
    fn passes(&self, i: usize, q: &Req, hard: bool) -> Result<bool, ()> {
        let m = &self.fixtures[i]["match"];
        let endpoint = if q.embedding { "embedding" } else { "chat" };
        // endpoint
        match m.get("endpoint").and_then(Value::as_str) {
            Some(e) if e != endpoint => return Ok(false),
            Some(_) => {}
            // Our departure: a content reply never answers an embedding request.
            None if q.embedding => return Ok(false),
            None => {}
        }
        let messages: &[(&str, Option<&str>)] = if q.embedding { &[] } else { &q.messages };
        let q = &Req {
            messages: messages.to_vec(),
            ..q.clone()
        };
        // context
        if let Some(c) = m.get("context").and_then(Value::as_str) {
            if q.context != Some(c) {
                return Ok(false);
            }
        }
        // userMessage
        if let Some(want) = m.get("userMessage").and_then(Value::as_str) {
            match Self::last_user_text(q) {
                Some(text) if text.contains(want) => {}
                _ => return Ok(false),
            }
        }
        // systemMessage
        if let Some(sm) = m.get("systemMessage") {
            let empty_array = sm.as_array().is_some_and(|a| a.is_empty());
            if !empty_array {
                let text = Self::system_text(q);
                if text.is_empty() {
                    return Ok(false);
                }
                let ok = match sm {
                    Value::Array(a) => a.iter().all(|n| text.contains(n.as_str().unwrap())),
                    s => text.contains(s.as_str().unwrap()),
                };
                if !ok {
                    return Ok(false);
                }
            }
        }
        // toolName
        if let Some(t) = m.get("toolName").and_then(Value::as_str) {
            if !q.tools.contains(&t) {
                return Ok(false);
            }
        }
        // model
        if let Some(want) = m.get("model").and_then(Value::as_str) {
            let Some(got) = q.model else {
                return Ok(false);
            };
            if got != want {
                let Some(rest) = got.strip_prefix(want) else {
                    return Ok(false);
                };
                let b = rest.as_bytes();
                if !(b.len() >= 2 && b[0] == b'-' && b[1].is_ascii_digit()) {
                    return Ok(false);
                }
            }
        }
        // hasToolResult: `currentTurnHasToolResult(...) !== match.hasToolResult`
        let htr = self.field(i, "hasToolResult");
        if htr != Js::Undefined && !Js::Bool(Self::current_turn_has_tool_result(q)).strict_eq(&htr)
        {
            return Ok(false);
        }
        // sequenceIndex: `count !== match.sequenceIndex`
        let seq = self.field(i, "sequenceIndex");
        if seq != Js::Undefined {
            let count = self.counts.get(&(q.test_id, i)).copied().unwrap_or(0);
            if !Js::Num(f64::from(count)).strict_eq(&seq) {
                return Err(());
            }
        }
        // turnIndex, a hard gate only while recording: `assistantCount !== turnIndex`
        let turn = self.field(i, "turnIndex");
        if hard && turn != Js::Undefined {
            let n = q.messages.iter().filter(|(r, _)| *r == "assistant").count();
            if !Js::Num(n as f64).strict_eq(&turn) {
                return Err(());
            }
        }
        Ok(true)
    }

    /// `selectByTurnIndex`, over positions into the fixture list.
    fn select(&self, candidates: &[usize], n: usize) -> usize {
        let ti = |i: usize| self.field(i, "turnIndex");
        let n = Js::Num(n as f64);
        let fallback = candidates.iter().position(|&c| ti(c) == Js::Undefined);
        let mut best: Option<usize> = None;
        let mut best_turn = Js::Num(f64::NEG_INFINITY);
        for (k, &c) in candidates.iter().enumerate() {
            let t = ti(c);
            if t == Js::Undefined {
                continue;
            }
            if t.le(&n) && best_turn.lt(&t) {
                best = Some(k);
                best_turn = t;
            }
        }
        if let Some(b) = best {
            if best_turn.strict_eq(&n) && fallback.is_some_and(|f| f < b) {
                return candidates[fallback.unwrap()];
            }
            return candidates[b];
        }
        if let Some(f) = fallback {
            return candidates[f];
        }
        let mut lowest = candidates[0];
        for &c in candidates {
            if ti(c).lt(&ti(lowest)) {
                lowest = c;
            }
        }
        lowest
    }

    /// `matchCriteriaEqual` (1.43: with `context`).
    fn siblings(&self, a: usize, b: usize) -> bool {
        [
            "userMessage",
            "systemMessage",
            "model",
            "toolName",
            "endpoint",
            "turnIndex",
            "hasToolResult",
            "context",
        ]
        .iter()
        .all(|k| {
            let (x, y) = (
                self.fixtures[a]["match"].get(*k),
                self.fixtures[b]["match"].get(*k),
            );
            match (x, y) {
                (Some(Value::Array(p)), Some(Value::Array(q))) => p == q,
                (Some(Value::Array(_)), _) | (_, Some(Value::Array(_))) => false,
                _ => Js::of(x).strict_eq(&Js::of(y)),
            }
        })
    }

    /// Answer `q` and count the answer, as the reference does.
    fn answer(&mut self, q: &Req, hard: bool) -> Outcome {
        let mut contents = Vec::new();
        let mut skipped = 0;
        for i in 0..self.fixtures.len() {
            match self.passes(i, q, hard) {
                Ok(true) => contents.push(i),
                Ok(false) => {}
                Err(()) => skipped += 1,
            }
        }
        if contents.is_empty() {
            return Outcome::Miss {
                skipped_by_state: skipped,
            };
        }
        let n = if q.embedding {
            0
        } else {
            q.messages.iter().filter(|(r, _)| *r == "assistant").count()
        };
        let chosen = self.select(&contents, n);
        *self.counts.entry((q.test_id, chosen)).or_insert(0) += 1;
        if self.field(chosen, "sequenceIndex") != Js::Undefined {
            for s in 0..self.fixtures.len() {
                if s != chosen
                    && self.field(s, "sequenceIndex") != Js::Undefined
                    && self.siblings(chosen, s)
                {
                    *self.counts.entry((q.test_id, s)).or_insert(0) += 1;
                }
            }
        }
        Outcome::Hit(chosen)
    }
}

/// The store's answer, as a position in the entry list.
fn ours(store: &FixtureStore, q: &Req, hard: bool) -> Outcome {
    let found = store.find(
        &to_chat_request(q),
        MatchMode {
            hard_turn_index: hard,
        },
    );
    match found.outcome {
        Outcome::Hit(_) => Outcome::Hit(found.fixture().unwrap().origin.index),
        miss => miss,
    }
}

fn store_of(entries: &[Value], via_file: bool, dir: &std::path::Path) -> FixtureStore {
    if via_file {
        // The file loader: the plain reader for the common shape, the general for the rest.
        let path = dir.join("fixtures.json");
        let text = serde_json::to_string_pretty(&json!({"fixtures": entries})).unwrap();
        std::fs::write(&path, text).unwrap();
        let files = aimock::cassette::load::load_sources(&[path], false);
        return FixtureStore::new(files);
    }
    let file: Arc<str> = Arc::from("<runtime>");
    let fixtures = entries
        .iter()
        .enumerate()
        .map(|(i, e)| Arc::new(parse_entry(e, &file, i, &mut Vec::new()).expect("loads")))
        .collect();
    let store = FixtureStore::new(Vec::new());
    store.add_runtime(fixtures);
    store
}

#[test]
fn the_matcher_chooses_what_the_reference_model_chooses() {
    let dir = tempfile::tempdir().unwrap();
    let (mut hits, mut misses, mut turn_decided) = (0, 0, 0);
    for case in 0..400u64 {
        let seed = 0x5EED_0000 + case;
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let n = 1 + r.below(12);
        let mut entries: Vec<Value> = Vec::new();
        for i in 0..n {
            let e = if i > 0 && r.chance(50) {
                variant(&mut r, &entries, i)
            } else {
                random_entry(&mut r, i)
            };
            entries.push(e);
        }
        let hard = r.chance(20);
        // What `aimock check` says can never answer must never answer.
        let parsed: Vec<aimock::cassette::Fixture> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| parse_entry(e, &Arc::from("t.json"), i, &mut Vec::new()).unwrap())
            .collect();
        let shadowed: Vec<usize> = aimock::check::shadow::find(&parsed.iter().collect::<Vec<_>>())
            .into_iter()
            .map(|(j, _)| j)
            .collect();
        let store = store_of(&entries, case % 2 == 0, dir.path());
        let mut model = Reference {
            fixtures: &entries,
            counts: HashMap::new(),
        };
        let mut requests: Vec<Req> = (0..4).map(|_| random_request(&mut r)).collect();
        // Repeats, so that sequence counters advance.
        for _ in 0..8 {
            let again = requests[r.below(requests.len())].clone();
            requests.push(again);
        }
        for (k, q) in requests.iter().enumerate() {
            let want = model.answer(q, hard);
            let got = ours(&store, q, hard);
            assert_eq!(
                got, want,
                "seed {seed:#x}, request {k} (hard turnIndex: {hard})\nfixtures: {entries:#?}\nrequests: {requests:#?}"
            );
            match want {
                Outcome::Hit(i) => {
                    hits += 1;
                    assert!(
                        !shadowed.contains(&i),
                        "seed {seed:#x}: fixture {i} answered, but check calls it shadowed\n{entries:#?}"
                    );
                    let plain_first = model
                        .fixtures
                        .iter()
                        .position(|e| e["match"].get("turnIndex").is_none());
                    turn_decided += usize::from(
                        entries[i]["match"].get("turnIndex").is_some()
                            && plain_first.is_some_and(|p| p < i),
                    );
                }
                Outcome::Miss { .. } => misses += 1,
            }
        }
    }
    // The cases must exercise hits, misses and the turnIndex rule, or agreeing means little.
    assert!(hits > 1000 && misses > 500, "{hits} hits, {misses} misses");
    assert!(
        turn_decided > 50,
        "only {turn_decided} turn-decided answers"
    );
}

//! Fixtures that can never match: an earlier fixture catches every request they would.
//!
//! Fixture `i` shadows a later fixture `j` when every request that passes `j`'s gates
//! also passes `i`'s, and `i` has no state gate that could let it pass a request by:
//! `i` has no `sequenceIndex`, and `turnIndex` is unset on both or equal: a plain
//! fixture does not shadow a later turn-indexed one (one behind the request's count
//! wins over it), nor the other way round (a plain one answers while every turn is
//! ahead), while equal turns go to file order. A fixture that never matches (a
//! non-boolean `hasToolResult`) shadows nothing. Per criterion, `i`'s value must be unset or:
//! - equal to `j`'s for the exact fields (`toolCallId`, `toolName`, `responseFormat`,
//!   `hasToolResult`, `context`);
//! - a substring of `j`'s for the substring fields (`userMessage`, `inputText`,
//!   `toolResultContains`; each `systemMessage` string a substring of one of `j`'s);
//! - a model that matches `j`'s model by the model rule;
//! - and every endpoint `j` can answer must be one `i` can answer.
//!
//! The test is sound (no false warnings) but not complete: a shadow that follows only
//! from how criteria combine (a `toolCallId` implying a tool result, say) is not found.
//!
//! # Design
//! Comparing every pair is quadratic: 50 million substring tests for 10,000 fixtures.
//! Instead each earlier fixture is found through one of its own values: its
//! `userMessage` or `inputText` through an Aho-Corasick automaton run over the later
//! fixture's value (every earlier value that is a substring of it); its `toolCallId`,
//! `model` (by the prefixes the model rule accepts) or `toolName` through a hash map.
//! Only fixtures with none of these are compared with every later one, and those are
//! few in real cassettes (catch-alls, system-prompt-only fixtures).

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::cassette::matching::{model_matches, reply_suits};
use crate::cassette::model::{Criteria, Fixture, SystemMatch};
use crate::request::Endpoint;

/// Which optional criteria a fixture sets, one bit each: a quick subset test.
fn mask(c: &Criteria) -> u16 {
    let mut m = 0u16;
    let mut bit = |set: bool, b: u16| {
        if set {
            m |= 1 << b;
        }
    };
    bit(c.user_message.is_some(), 0);
    bit(
        matches!(&c.more().system_message, Some(SystemMatch::One(_)))
            || matches!(&c.more().system_message, Some(SystemMatch::All(v)) if !v.is_empty()),
        1,
    );
    bit(c.more().input_text.is_some(), 2);
    bit(c.more().tool_call_id.is_some(), 3);
    bit(c.more().tool_result_contains.is_some(), 4);
    bit(c.more().tool_name.is_some(), 5);
    bit(c.model.is_some(), 6);
    bit(c.more().response_format.is_some(), 7);
    bit(c.has_tool_result.is_some(), 8);
    bit(c.more().context.is_some(), 9);
    m
}

/// The endpoints a fixture can answer, one bit per [`Endpoint::ALL`] entry.
fn endpoints(fx: &Fixture) -> u32 {
    // A bit per endpoint: room for 32 (there are 17).
    const _: () = assert!(Endpoint::ALL.len() <= 32);
    let mut m = 0u32;
    for (k, (e, _)) in Endpoint::ALL.iter().enumerate() {
        let ok = match fx.criteria.endpoint {
            Some(want) => want == *e,
            None => reply_suits(&fx.reply, *e),
        };
        if ok {
            m |= 1 << k;
        }
    }
    m
}

struct Facts<'a> {
    fx: &'a Fixture,
    mask: u16,
    endpoints: u32,
}

fn exact<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
    a.is_none() || a == b
}

fn within(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (None, _) => true,
        (Some(a), Some(b)) => b.contains(a.as_str()),
        (Some(_), None) => false,
    }
}

fn system_within(a: &Option<SystemMatch>, b: &Option<SystemMatch>) -> bool {
    let wants: &[String] = match a {
        None => return true,
        Some(SystemMatch::One(s)) => std::slice::from_ref(s),
        Some(SystemMatch::All(v)) => v,
    };
    if wants.is_empty() {
        return true;
    }
    let has: &[String] = match b {
        None => return false,
        Some(SystemMatch::One(s)) => std::slice::from_ref(s),
        Some(SystemMatch::All(v)) => v,
    };
    wants
        .iter()
        .all(|w| has.iter().any(|h| h.contains(w.as_str())))
}

/// Does earlier fixture `i` catch every request later fixture `j` would?
fn covers(i: &Facts, j: &Facts) -> bool {
    let (a, b) = (&i.fx.criteria, &j.fx.criteria);
    i.mask & !j.mask == 0
        && j.endpoints & !i.endpoints == 0
        // A fixture that never matches (a non-boolean `hasToolResult`) shadows nothing.
        && !a.more().loose.has_tool_result_never
        && a.sequence_index.is_none()
        && a.turn_index == b.turn_index
        && exact(&a.more().context, &b.more().context)
        && exact(&a.more().tool_call_id, &b.more().tool_call_id)
        && exact(&a.more().tool_name, &b.more().tool_name)
        && exact(&a.more().response_format, &b.more().response_format)
        && exact(&a.has_tool_result, &b.has_tool_result)
        && within(&a.user_message, &b.user_message)
        && within(&a.more().input_text, &b.more().input_text)
        && within(
            &a.more().tool_result_contains,
            &b.more().tool_result_contains,
        )
        && system_within(&a.more().system_message, &b.more().system_message)
        && match (&a.model, &b.model) {
            (None, _) => true,
            (Some(want), Some(got)) => model_matches(want, got),
            (Some(_), None) => false,
        }
}

/// Earlier fixtures found through one text criterion.
struct TextIndex {
    automaton: Option<AhoCorasick>,
    /// Fixture positions per pattern, ascending.
    owners: Vec<Vec<usize>>,
    /// `seen[p] == j + 1` when pattern `p` was already handled for fixture `j`.
    seen: Vec<usize>,
}

impl TextIndex {
    fn build(entries: &[(usize, &str)]) -> TextIndex {
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut patterns: Vec<&str> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        for &(pos, text) in entries {
            let id = *ids.entry(text).or_insert_with(|| {
                patterns.push(text);
                owners.push(Vec::new());
                patterns.len() - 1
            });
            owners[id].push(pos);
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .ok()
        };
        let seen = vec![0; patterns.len()];
        TextIndex {
            automaton,
            owners,
            seen,
        }
    }

    /// Every indexed fixture before `j` whose text occurs in `hay`.
    fn candidates(&mut self, j: usize, hay: &str, out: &mut Vec<usize>) {
        let Some(ac) = &self.automaton else { return };
        for m in ac.find_overlapping_iter(hay) {
            let p = m.pattern().as_usize();
            if self.seen[p] == j + 1 {
                continue;
            }
            self.seen[p] = j + 1;
            out.extend(self.owners[p].iter().copied().take_while(|&i| i < j));
        }
    }
}

/// Every model value that [`model_matches`] accepts for a request model of `got`:
/// `got` itself and each prefix of it followed by `-<digit>`.
fn model_ancestors(got: &str) -> impl Iterator<Item = &str> {
    let b = got.as_bytes();
    let cuts =
        (1..b.len()).filter(move |&k| b[k] == b'-' && b.get(k + 1).is_some_and(u8::is_ascii_digit));
    std::iter::once(got).chain(cuts.map(move |k| &got[..k]))
}

/// For each fixture that can never match, `(its position, the position of the earliest
/// fixture that catches its requests)`, positions being indices into `fixtures`, which
/// is the whole set in load order.
pub fn find(fixtures: &[&Fixture]) -> Vec<(usize, usize)> {
    let facts: Vec<Facts> = fixtures
        .iter()
        .map(|fx| Facts {
            fx,
            mask: mask(&fx.criteria),
            endpoints: endpoints(fx),
        })
        .collect();
    let mut by_user = Vec::new();
    let mut by_input = Vec::new();
    let mut by_call: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_model: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_tool: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut loose = Vec::new();
    for (i, f) in facts.iter().enumerate() {
        let c = &f.fx.criteria;
        if c.sequence_index.is_some() {
            continue; // never shadows anything
        }
        // Empty strings match everywhere, which an automaton would report at every byte.
        match (
            &c.user_message,
            &c.more().input_text,
            &c.more().tool_call_id,
        ) {
            (Some(u), _, _) if !u.is_empty() => by_user.push((i, u.as_str())),
            (_, Some(t), _) if !t.is_empty() => by_input.push((i, t.as_str())),
            (_, _, Some(id)) => by_call.entry(id.as_str()).or_default().push(i),
            _ => match (&c.model, &c.more().tool_name) {
                (Some(m), _) => by_model.entry(m.as_str()).or_default().push(i),
                (_, Some(t)) => by_tool.entry(t.as_str()).or_default().push(i),
                _ => loose.push(i),
            },
        }
    }
    let mut users = TextIndex::build(&by_user);
    let mut inputs = TextIndex::build(&by_input);
    let mut out = Vec::new();
    let mut cands = Vec::new();
    for (j, fj) in facts.iter().enumerate() {
        cands.clear();
        let c = &fj.fx.criteria;
        if let Some(u) = &c.user_message {
            users.candidates(j, u, &mut cands);
        }
        if let Some(t) = &c.more().input_text {
            inputs.candidates(j, t, &mut cands);
        }
        let mut take = |map: &HashMap<&str, Vec<usize>>, key: &str| {
            if let Some(list) = map.get(key) {
                cands.extend(list.iter().copied().take_while(|&i| i < j));
            }
        };
        if let Some(id) = &c.more().tool_call_id {
            take(&by_call, id);
        }
        if let Some(m) = &c.model {
            for want in model_ancestors(m) {
                take(&by_model, want);
            }
        }
        if let Some(t) = &c.more().tool_name {
            take(&by_tool, t);
        }
        cands.extend(loose.iter().copied().take_while(|&i| i < j));
        let first = cands
            .iter()
            .copied()
            .filter(|&i| covers(&facts[i], fj))
            .min();
        if let Some(i) = first {
            out.push((j, i));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cassette::model::parse_entry;
    use serde_json::json;
    use std::sync::Arc;

    fn shadows(list: serde_json::Value) -> Vec<(usize, usize)> {
        let file: Arc<str> = Arc::from("t.json");
        let mut f = Vec::new();
        let fx: Vec<Fixture> = list
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, e)| parse_entry(e, &file, i, &mut f).unwrap())
            .collect();
        let refs: Vec<&Fixture> = fx.iter().collect();
        find(&refs)
    }

    #[test]
    fn a_shorter_user_message_earlier_shadows_a_longer_one_later() {
        let got = shadows(json!([
            {"match":{"userMessage":"hello"},"response":{"content":"a"}},
            {"match":{"userMessage":"hello world","model":"gpt-4o"},"response":{"content":"b"}},
            {"match":{"userMessage":"hi"},"response":{"content":"c"}},
        ]));
        assert_eq!(got, vec![(1, 0)]);
    }

    #[test]
    fn a_catch_all_shadows_later_chat_fixtures_but_not_embeddings() {
        let got = shadows(json!([
            {"match":{},"response":{"content":"a"}},
            {"match":{"userMessage":"x"},"response":{"content":"b"}},
            {"match":{"inputText":"x"},"response":{"embedding":[0.1]}},
        ]));
        assert_eq!(got, vec![(1, 0)]);
    }

    #[test]
    fn state_gates_and_narrower_earlier_fixtures_do_not_shadow() {
        let got = shadows(json!([
            {"match":{"userMessage":"x","sequenceIndex":0},"response":{"content":"a"}},
            {"match":{"userMessage":"x","sequenceIndex":1},"response":{"content":"b"}},
            {"match":{"userMessage":"y","model":"gpt-4o"},"response":{"content":"c"}},
            {"match":{"userMessage":"y"},"response":{"content":"d"}},
            {"match":{"userMessage":"z"},"response":{"content":"e"}},
            {"match":{"userMessage":"z","turnIndex":1},"response":{"content":"f"}},
        ]));
        assert!(got.is_empty(), "{got:?}");
    }

    /// The reference's turn rule: a turn-indexed fixture behind the count beats an
    /// earlier plain one, and a plain one answers when every turn is ahead, so neither
    /// shadows the other; equal turns go to file order, so the earlier one shadows.
    #[test]
    fn plain_and_turn_indexed_fixtures_do_not_shadow_each_other_but_equal_turns_do() {
        let got = shadows(json!([
            {"match":{"userMessage":"x"},"response":{"content":"plain"}},
            {"match":{"userMessage":"x","turnIndex":0},"response":{"content":"t0"}},
            {"match":{"userMessage":"x!","turnIndex":0},"response":{"content":"t0 again"}},
            {"match":{"userMessage":"x!","turnIndex":"0"},"response":{"content":"t0 as text"}},
            {"match":{"userMessage":"x!"},"response":{"content":"plain again"}},
            {"match":{"userMessage":"y","hasToolResult":"true"},"response":{"content":"never"}},
            {"match":{"userMessage":"y"},"response":{"content":"y"}},
        ]));
        assert_eq!(got, vec![(2, 1), (3, 1), (4, 0)]);
    }

    #[test]
    fn model_ancestors_are_the_prefixes_the_model_rule_accepts() {
        let got: Vec<&str> = model_ancestors("gpt-4-0613-2").collect();
        assert_eq!(got, ["gpt-4-0613-2", "gpt", "gpt-4", "gpt-4-0613"]);
        assert_eq!(model_ancestors("o1-mini").count(), 1);
    }

    #[test]
    fn model_prefixes_tool_names_tool_call_ids_and_equal_turns_shadow() {
        let got = shadows(json!([
            {"match":{"model":"gpt-4"},"response":{"content":"a"}},
            {"match":{"model":"gpt-4-0613"},"response":{"content":"b"}},
            {"match":{"toolCallId":"call_1"},"response":{"content":"c"}},
            {"match":{"toolCallId":"call_1","toolName":"f"},"response":{"content":"d"}},
            {"match":{"userMessage":"q","turnIndex":2},"response":{"content":"e"}},
            {"match":{"userMessage":"q?","turnIndex":2,"model":"o1"},"response":{"content":"f"}},
            {"match":{"toolName":"g"},"response":{"content":"g"}},
            {"match":{"toolName":"g","responseFormat":"json_object"},"response":{"content":"h"}},
        ]));
        assert_eq!(got, vec![(1, 0), (3, 2), (5, 4), (7, 6)]);
    }
}

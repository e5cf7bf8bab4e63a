//! What the search, rerank and moderation surfaces share: reading their text inputs
//! the reference's way (a string, or a list of strings and `{"type":"text","text"}`
//! parts, joined with spaces), and the stable text similarity a rerank without a
//! fixture ranks by.
//!
//! Not here: any one API's fields (`tavily`, `cohere::rerank`, `openai::moderations`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::RenderContext;

/// A deterministic UUID-shaped id (Tavily request ids, Cohere rerank ids), derived
/// from the render context's seed and `label`.
pub(crate) fn uuid(ctx: &RenderContext, label: &str) -> String {
    let hex: String = (0..4)
        .map(|i| {
            format!(
                "{:08x}",
                (ctx.unit(&format!("{label}{i}")) * 4_294_967_296.0) as u64
            )
        })
        .collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// The texts of a `query` / `input` value, one per element (a string is one element);
/// `None` for any other type. An object that is not a text part counts as `""`.
pub(crate) fn texts(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => Some(
            a.iter()
                .map(|e| match e {
                    Value::String(s) => s.clone(),
                    Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("text") => o
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    _ => String::new(),
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Lower-case word counts (letters and digits; everything else separates words).
fn words(s: &str) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    for w in s
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *m.entry(w.to_lowercase()).or_insert(0.0) += 1.0;
    }
    m
}

/// How alike two texts are, in [0, 1]: the cosine of their word-count vectors. Pure
/// and deterministic, so an unmatched rerank always ranks the same way (documents that
/// share words with the query first).
pub(crate) fn similarity(a: &str, b: &str) -> f64 {
    let (wa, wb) = (words(a), words(b));
    let dot: f64 = wa
        .iter()
        .filter_map(|(w, x)| wb.get(w).map(|y| x * y))
        .sum();
    let na: f64 = wa.values().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = wb.values().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        (dot / (na * nb)).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn texts_read_strings_lists_and_text_parts() {
        assert_eq!(texts(&json!("a")), Some(vec!["a".into()]));
        assert_eq!(
            texts(&json!(["a", {"type": "text", "text": "b"}, {"type": "image_url"}])),
            Some(vec!["a".into(), "b".into(), "".into()])
        );
        assert_eq!(texts(&json!(3)), None);
    }

    #[test]
    fn similarity_prefers_shared_words_and_is_symmetric() {
        let q = "capital of France";
        assert!(similarity(q, "Paris is the capital of France") > similarity(q, "bananas"));
        assert_eq!(similarity(q, "x y"), 0.0);
        assert_eq!(similarity("a b", "b a"), similarity("b a", "a b"));
        assert!((similarity("Same words", "same WORDS") - 1.0).abs() < 1e-12);
    }
}

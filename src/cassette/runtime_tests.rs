//! The run-time lists of the store: fixtures prepended ahead of the files and appended
//! after them, and sequence counts reset for one test id.

use std::path::Path;

use serde_json::json;

use super::*;
use crate::request::{Endpoint, Message, Role};
use crate::testing::runtime_fixture as fixture;

fn answer(store: &FixtureStore, text: &str) -> Option<String> {
    let mut r = ChatRequest::new(Endpoint::Chat, b"");
    r.messages.push(Message::text(Role::User, text));
    match &store.find(&r, MatchMode::default()).fixture()?.reply {
        Reply::Chat(c) => c.text(),
        _ => None,
    }
}

#[test]
fn prepended_fixtures_answer_before_files_and_appended_ones_and_survive_reloads() {
    let mut lf = LoadedFile::new(Path::new("f.json"), OrderKey::default());
    lf.fixtures = vec![fixture(
        json!({"match":{"userMessage":"hi"},"response":{"content":"file"}}),
    )];
    let store = FixtureStore::new(vec![lf]);
    store.add_runtime(vec![fixture(
        json!({"match":{"userMessage":"hi"},"response":{"content":"appended"}}),
    )]);
    assert_eq!(answer(&store, "hi").as_deref(), Some("file"));
    store.prepend_runtime(vec![fixture(
        json!({"match":{"userMessage":"hi"},"response":{"content":"first"}}),
    )]);
    assert_eq!(answer(&store, "hi").as_deref(), Some("first"));
    store.prepend_runtime(vec![fixture(
        json!({"match":{"userMessage":"hi"},"response":{"content":"latest"}}),
    )]);
    assert_eq!(answer(&store, "hi").as_deref(), Some("latest"));
    store.replace_file(Path::new("f.json"), OrderKey::default(), Vec::new());
    assert_eq!(answer(&store, "hi").as_deref(), Some("latest"));
    assert_eq!(store.prepended(), 2);
    store.clear();
    assert_eq!(answer(&store, "hi"), None);
}

#[test]
fn match_counts_reset_for_one_test_id_leave_the_others() {
    let store = FixtureStore::new(Vec::new());
    store.add_runtime(vec![
        fixture(json!({"match":{"userMessage":"s","sequenceIndex":0},"response":{"content":"s0"}})),
        fixture(json!({"match":{"userMessage":"s","sequenceIndex":1},"response":{"content":"s1"}})),
    ]);
    let ask = |t: &'static str| {
        let mut r = ChatRequest::new(Endpoint::Chat, b"");
        r.messages.push(Message::text(Role::User, "s"));
        r.test_id = std::borrow::Cow::Borrowed(t);
        match &store.find(&r, MatchMode::default()).fixture()?.reply {
            Reply::Chat(c) => c.text(),
            _ => None,
        }
    };
    assert_eq!(ask("a").as_deref(), Some("s0"));
    assert_eq!(ask("b").as_deref(), Some("s0"));
    assert!(store.reset_counts_of("a"));
    assert!(!store.reset_counts_of("nobody"));
    assert_eq!(ask("a").as_deref(), Some("s0"));
    assert_eq!(ask("b").as_deref(), Some("s1"));
}

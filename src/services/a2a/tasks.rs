//! The tasks A2A calls create, kept per test id (`X-Test-Id`, `""` without one) so
//! parallel tests never see each other's tasks. Tasks are stored in their 1.0 JSON form.
//!
//! Bounded: past [`MAX_TASKS`] the oldest task is forgotten, so a client sending in a
//! loop cannot grow the server without limit. One short lock per call, never held
//! across an await.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::Value;

/// Tasks kept at most (all test ids together).
pub const MAX_TASKS: usize = 10_000;

struct Stored {
    test_id: String,
    task: Value,
}

/// The task store.
#[derive(Default)]
pub struct Tasks {
    inner: Mutex<VecDeque<Stored>>,
}

impl Tasks {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Stored>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keep `task` for `test_id`.
    pub fn insert(&self, test_id: &str, task: Value) {
        let mut g = self.lock();
        if g.len() >= MAX_TASKS {
            g.pop_front();
        }
        g.push_back(Stored {
            test_id: test_id.to_string(),
            task,
        });
    }

    /// The task `id` of `test_id`.
    pub fn get(&self, test_id: &str, id: &str) -> Option<Value> {
        self.lock()
            .iter()
            .find(|s| s.test_id == test_id && s.task["id"] == id)
            .map(|s| s.task.clone())
    }

    /// Change task `id` of `test_id` with `f`; the task after, or `None` when unknown.
    pub fn update<T>(&self, test_id: &str, id: &str, f: impl FnOnce(&mut Value) -> T) -> Option<T> {
        let mut g = self.lock();
        g.iter_mut()
            .find(|s| s.test_id == test_id && s.task["id"] == id)
            .map(|s| f(&mut s.task))
    }

    /// Every task of `test_id`, oldest first.
    pub fn list(&self, test_id: &str) -> Vec<Value> {
        self.lock()
            .iter()
            .filter(|s| s.test_id == test_id)
            .map(|s| s.task.clone())
            .collect()
    }

    /// Tasks kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// No task is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forget every task.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tasks_are_seen_only_by_their_test_id() {
        let t = Tasks::default();
        t.insert("a", json!({"id": "1"}));
        t.insert("b", json!({"id": "2"}));
        assert!(t.get("a", "1").is_some());
        assert!(t.get("b", "1").is_none());
        assert_eq!(t.list("a").len(), 1);
        assert_eq!(t.update("a", "1", |v| v["x"] = json!(1)), Some(()));
        assert_eq!(t.get("a", "1").unwrap()["x"], 1);
        t.clear();
        assert!(t.is_empty());
    }
}

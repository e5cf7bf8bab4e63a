//! The recorder's deferred additions: a recorded fixture is built (collapse, redaction,
//! validation) once the reply's last bytes have been written to the client, not inside
//! the poll that yields them; yet every match that comes after the reply must see it.
//!
//! [`Deferred`] queues the work and, registered with the store at start-up
//! ([`FixtureStore::wait_for`]), is asked to settle by any snapshot taken while work is
//! outstanding. The recorder also spawns a settle right after queueing, so the work runs
//! soon when no request comes, and [`super::Recorder::flush`] settles at shutdown.
//!
//! Not here: what the work does (`super::save`), the store's own consistency.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[cfg(doc)]
use crate::cassette::FixtureStore;
use crate::cassette::Promised;

/// One deferred addition: it adds fixtures with `FixtureStore::add_runtime` and must
/// not take a snapshot itself.
pub(crate) type DeferredWork = Box<dyn FnOnce() + Send>;

/// Work that adds fixtures, queued so it runs after the reply that caused it has been
/// written, yet before any later match.
#[derive(Default)]
pub(crate) struct Deferred {
    /// Queued plus running: a match that sees non-zero settles first.
    outstanding: AtomicUsize,
    queue: Mutex<VecDeque<DeferredWork>>,
    /// Held while the queue is being run, so a second settler waits for the first
    /// one's additions instead of finding the queue empty and matching without them.
    running: Mutex<()>,
}

impl Deferred {
    /// Queue `work` and return at once. Every snapshot of the store this is registered
    /// with, taken after this call, runs the queue first: what is deferred here is never
    /// missed by a request that comes after.
    pub(crate) fn defer(&self, work: DeferredWork) {
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(work);
    }
}

impl Promised for Deferred {
    fn outstanding(&self) -> bool {
        self.outstanding.load(Ordering::Acquire) != 0
    }

    /// Run every deferred addition now, in the order they were deferred. Returns when
    /// the queue is empty and none is running elsewhere.
    fn settle(&self) {
        let _running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let next = self
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front();
            let Some(work) = next else { break };
            // A panic in one addition must not leave `outstanding` raised for ever
            // (every later match would settle) nor take the caller's request down.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            self.outstanding.fetch_sub(1, Ordering::AcqRel);
            if result.is_err() {
                tracing::error!("a deferred fixture addition panicked; it is dropped");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    use crate::cassette::{FixtureStore, Outcome};
    use crate::request::{ChatRequest, Endpoint, Message, Role};

    fn store_with_queue() -> (FixtureStore, Arc<Deferred>) {
        let store = FixtureStore::new(Vec::new());
        let deferred = Arc::new(Deferred::default());
        store.wait_for(deferred.clone());
        (store, deferred)
    }

    use crate::testing::runtime_fixture as fixture;

    fn answer(store: &FixtureStore, text: &str) -> Option<String> {
        let mut req = ChatRequest::new(Endpoint::Chat, b"{}");
        req.messages.push(Message::text(Role::User, text));
        let found = store.find(&req, Default::default());
        match found.outcome {
            Outcome::Hit(_) => found.fixture().and_then(|f| match &f.reply {
                crate::cassette::Reply::Chat(c) => c.content.clone(),
                _ => None,
            }),
            Outcome::Miss { .. } => None,
        }
    }

    /// What the recorder defers is in the next match without anyone settling it, in
    /// the order it was deferred (the earlier of two same-key recordings wins).
    #[test]
    fn deferred_additions_are_in_the_next_match_in_order() {
        let (store, deferred) = store_with_queue();
        for content in ["first", "second"] {
            let s = store.clone();
            deferred.defer(Box::new(move || {
                s.add_runtime(vec![fixture(
                    json!({"match":{"userMessage":"q"},"response":{"content":content}}),
                )])
            }));
        }
        assert_eq!(store.current().len(), 0, "deferred work ran early");
        assert_eq!(answer(&store, "q").as_deref(), Some("first"));
        let set = store.snapshot();
        assert_eq!(set.len(), 2);
        // Both are in the unindexed tail, each with its own hit counter.
        assert_eq!(set.indexed_len(), 0);
        assert_eq!((set.hits(0), set.hits(1)), (1, 0));
    }

    /// A panicking addition is dropped; the ones after it still run, and matching stops
    /// settling once the queue is empty.
    #[test]
    fn a_panicking_deferred_addition_does_not_stop_the_rest() {
        let (store, deferred) = store_with_queue();
        deferred.defer(Box::new(|| panic!("broken capture")));
        let s = store.clone();
        deferred.defer(Box::new(move || {
            s.add_runtime(vec![fixture(
                json!({"match":{"userMessage":"q"},"response":{"content":"kept"}}),
            )])
        }));
        assert_eq!(answer(&store, "q").as_deref(), Some("kept"));
        assert_eq!(deferred.outstanding.load(Ordering::Acquire), 0);
    }

    /// A match that arrives while another thread is running the queue waits for that
    /// run instead of seeing an empty queue and matching without the addition.
    #[test]
    fn a_match_during_a_settle_waits_for_its_additions() {
        use std::sync::mpsc;
        let (store, deferred) = store_with_queue();
        let (started_tx, started_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let s = store.clone();
        deferred.defer(Box::new(move || {
            started_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            s.add_runtime(vec![fixture(
                json!({"match":{"userMessage":"q"},"response":{"content":"late"}}),
            )])
        }));
        let settler = {
            let d = deferred.clone();
            std::thread::spawn(move || d.settle())
        };
        started_rx.recv().unwrap();
        let matcher = {
            let s = store.clone();
            std::thread::spawn(move || answer(&s, "q"))
        };
        go_tx.send(()).unwrap();
        settler.join().unwrap();
        assert_eq!(matcher.join().unwrap().as_deref(), Some("late"));
    }
}

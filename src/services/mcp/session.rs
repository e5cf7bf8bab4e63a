//! MCP sessions: the ids `initialize` hands out (`Mcp-Session-Id`), the version each
//! negotiated, and whether the client sent `notifications/initialized`.
//!
//! Bounded: past [`MAX_SESSIONS`] the oldest is forgotten (its client gets 404 and, as
//! the spec says, initializes again), so a client that initializes in a loop cannot
//! grow the server without limit. One short lock per request, never held across an
//! await.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Sessions kept at most.
pub const MAX_SESSIONS: usize = 10_000;

/// One session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The negotiated protocol version.
    pub version: &'static str,
    /// `notifications/initialized` arrived.
    pub initialized: bool,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<String, Session>,
    order: VecDeque<String>,
}

/// The live sessions.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Start a session; returns its id.
    pub fn open(&self, version: &'static str) -> String {
        let id = crate::services::wire::uuid();
        let mut g = self.lock();
        if g.by_id.len() >= MAX_SESSIONS {
            if let Some(old) = g.order.pop_front() {
                g.by_id.remove(&old);
            }
        }
        g.by_id.insert(
            id.clone(),
            Session {
                version,
                initialized: false,
            },
        );
        g.order.push_back(id.clone());
        id
    }

    /// The session `id`, if live.
    pub fn get(&self, id: &str) -> Option<Session> {
        self.lock().by_id.get(id).cloned()
    }

    /// Mark `id` initialized.
    pub fn initialized(&self, id: &str) {
        if let Some(s) = self.lock().by_id.get_mut(id) {
            s.initialized = true;
        }
    }

    /// End `id`; false when it was not live.
    pub fn close(&self, id: &str) -> bool {
        let mut g = self.lock();
        let found = g.by_id.remove(id).is_some();
        if found {
            g.order.retain(|x| x != id);
        }
        found
    }

    /// Live sessions.
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// No session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forget every session.
    pub fn clear(&self) {
        let mut g = self.lock();
        g.by_id.clear();
        g.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_open_mark_close_and_clear() {
        let s = Sessions::default();
        let id = s.open("2025-11-25");
        assert!(!s.get(&id).unwrap().initialized);
        s.initialized(&id);
        assert!(s.get(&id).unwrap().initialized);
        assert!(s.close(&id));
        assert!(!s.close(&id));
        s.open("2025-11-25");
        s.clear();
        assert!(s.is_empty());
    }
}

//! The job table: video generations started by a replayed create (OpenAI `POST
//! /v1/videos`, Veo `:predictLongRunning`), kept so their status polls and content
//! downloads can be answered, and advanced one step per status poll.
//!
//! A job is keyed by (test id, job id): two tests replaying the same fixture poll apart.
//! It holds the fixture that matched the create, the create's request (what its Video
//! objects echo), and the number of status polls so far; what a poll answers at each
//! count is the provider's (`Surface::render_job`). The table holds at most
//! [`MAX_JOBS`]; past that the oldest job is forgotten (its polls then answer 404, as
//! an expired job's would). `POST /__aimock/reset` empties it.
//!
//! Not here: jobs being recorded (the recorder's own log, `record::jobs`), rendering.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::cassette::Fixture;
use crate::request::ChatRequest;

/// How many jobs the table keeps.
pub const MAX_JOBS: usize = 10_000;

struct Job {
    fixture: Arc<Fixture>,
    start: Arc<ChatRequest>,
    polls: u32,
    born: u64,
}

/// A job as a poll sees it.
#[derive(Clone)]
pub struct JobView {
    /// The fixture the create matched.
    pub fixture: Arc<Fixture>,
    /// The create's request.
    pub start: Arc<ChatRequest>,
    /// Status polls so far, this one included when it is one.
    pub polls: u32,
}

#[derive(Default)]
struct Table {
    jobs: HashMap<(String, String), Job>,
    next: u64,
}

/// The server's job table (see the module docs).
#[derive(Default)]
pub struct Jobs {
    table: Mutex<Table>,
}

impl Jobs {
    /// Remember a job started by a create that matched `fixture` (a second create
    /// handing out the same id starts it over).
    pub fn start(&self, test_id: &str, id: String, fixture: Arc<Fixture>, start: ChatRequest) {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if t.jobs.len() >= MAX_JOBS && !t.jobs.contains_key(&(test_id.to_string(), id.clone())) {
            if let Some(oldest) = t
                .jobs
                .iter()
                .min_by_key(|(_, j)| j.born)
                .map(|(k, _)| k.clone())
            {
                t.jobs.remove(&oldest);
            }
        }
        let born = t.next;
        t.next += 1;
        t.jobs.insert(
            (test_id.to_string(), id),
            Job {
                fixture,
                start: Arc::new(start),
                polls: 0,
                born,
            },
        );
    }

    /// The job `id` of `test_id`, one poll further along when `advance` (a status
    /// poll; a download does not advance it).
    pub fn poll(&self, test_id: &str, id: &str, advance: bool) -> Option<JobView> {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let job = t.jobs.get_mut(&(test_id.to_string(), id.to_string()))?;
        if advance {
            job.polls = job.polls.saturating_add(1);
        }
        Some(JobView {
            fixture: job.fixture.clone(),
            start: job.start.clone(),
            polls: job.polls,
        })
    }

    /// How many jobs are kept.
    pub fn len(&self) -> usize {
        self.table.lock().map(|t| t.jobs.len()).unwrap_or(0)
    }

    /// Whether no job is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forget every job.
    pub fn clear(&self) {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.jobs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Endpoint;

    fn fixture() -> Arc<Fixture> {
        let entry = serde_json::json!({"match": {"endpoint": "video"}, "response": {"video": {"id": "v", "status": "completed"}}});
        let mut findings = Vec::new();
        Arc::new(
            crate::cassette::model::parse_entry(&entry, &Arc::from("t"), 0, &mut findings)
                .expect("a valid entry"),
        )
    }

    #[test]
    fn polls_advance_per_test_id_and_downloads_do_not() {
        let jobs = Jobs::default();
        jobs.start(
            "a",
            "v".into(),
            fixture(),
            ChatRequest::new(Endpoint::Video, b""),
        );
        jobs.start(
            "b",
            "v".into(),
            fixture(),
            ChatRequest::new(Endpoint::Video, b""),
        );
        assert_eq!(jobs.poll("a", "v", true).unwrap().polls, 1);
        assert_eq!(jobs.poll("a", "v", true).unwrap().polls, 2);
        assert_eq!(jobs.poll("a", "v", false).unwrap().polls, 2);
        assert_eq!(jobs.poll("b", "v", true).unwrap().polls, 1);
        assert!(jobs.poll("c", "v", true).is_none());
        jobs.clear();
        assert!(jobs.is_empty());
    }
}

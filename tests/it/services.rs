//! The home of mounted services, with a test-only counting service: requests under its
//! prefix reach it (and nothing else does), `/health` reports it, the journal records
//! it with a `service` field, `POST /__aimock/reset` resets it, and without services
//! `/health` is unchanged.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aimock::config::Config;
use aimock::server::{Body, Mounts};
use aimock::services::{Reply, Service, ServiceRequest};
use serde_json::{json, Value};

use crate::support::{FixtureDir, TestServer};

/// Answers every request with how many it has answered since its last reset.
#[derive(Default)]
struct Counter {
    seen: AtomicUsize,
}

impl Service for Counter {
    fn name(&self) -> &str {
        "counter"
    }
    fn prefix(&self) -> &str {
        "/test-svc"
    }
    fn handle(&self, req: ServiceRequest) -> Reply<'_> {
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move {
            let body = json!({"n": n, "path": req.path, "method": req.method.as_str(),
                              "body": String::from_utf8_lossy(&req.body)});
            let mut r = http::Response::new(Body::full(body.to_string()));
            r.headers_mut()
                .insert("content-type", "application/json".parse().unwrap());
            r
        })
    }
    fn health(&self) -> Value {
        json!({"status": "ok", "seen": self.seen.load(Ordering::SeqCst)})
    }
    fn reset(&self) {
        self.seen.store(0, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_mounted_service_answers_under_its_prefix_reports_health_is_journaled_and_resets() {
    let dir = FixtureDir::new();
    let mut mounts = Mounts::default();
    mounts.services.mount(Arc::new(Counter::default())).unwrap();
    let s = TestServer::start_with(Config::for_tests(vec![dir.path().to_path_buf()]), mounts).await;

    let r = s
        .post(
            "/test-svc/rpc",
            r#"{"jsonrpc":"2.0"}"#,
            &[("x-test-id", "t1")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["n"], 1);
    assert_eq!(r.json()["path"], "/test-svc/rpc");
    assert_eq!(r.json()["body"], r#"{"jsonrpc":"2.0"}"#);
    assert_eq!(s.post("/test-svc", "", &[]).await.json()["n"], 2);
    // Not under the prefix: not the service's.
    assert_eq!(s.post("/test-svcx", "{}", &[]).await.status, 404);

    let health = s.get("/health").await.json();
    assert_eq!(health["status"], "ok");
    assert_eq!(
        health["services"]["counter"],
        json!({"status": "ok", "seen": 2})
    );

    let journal = s.get("/__aimock/journal?service=counter").await.json();
    let entries = journal.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{journal}");
    assert_eq!(entries[0]["service"], "counter");
    assert_eq!(entries[0]["response"]["source"], "service");

    assert_eq!(s.post("/__aimock/reset", "", &[]).await.status, 200);
    assert_eq!(
        s.get("/health").await.json()["services"]["counter"]["seen"],
        0
    );
    assert_eq!(s.post("/test-svc/rpc", "{}", &[]).await.json()["n"], 1);
}

#[tokio::test]
async fn without_services_health_is_the_body_it_always_was() {
    let dir = FixtureDir::new();
    let s = TestServer::start(Config::for_tests(vec![dir.path().to_path_buf()])).await;
    assert_eq!(
        s.get("/health").await.text(),
        r#"{"status":"ok","fixtures":0}"#
    );
}

//! The RAG mocks in process: hostile bodies at every vector route and at search,
//! rerank and moderation get each API's own 4xx (never a panic, never a dropped
//! connection); a Pinecone upsert is visible to Qdrant and Chroma queries; a reset
//! restores the configured collections; and the services section answers.

use aimock::config::Config;
use serde_json::{json, Value};

use crate::support::{request, FixtureDir, TestServer};

fn config(dir: &FixtureDir) -> Config {
    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    c.sections.insert(
        "vector".into(),
        json!({"collections": [
            {"name": "docs", "dimension": 3, "vectors": [
                {"id": "a", "values": [1, 0, 0], "metadata": {"k": 1}},
                {"id": "b", "values": [0, 1, 0], "metadata": {"k": 2}}]},
            {"name": "qd", "dimension": 3, "metric": "euclidean", "vectors": [
                {"id": 1, "values": [0, 0, 0]}, {"id": 2, "values": [3, 4, 0]}]}
        ]}),
    );
    c.sections.insert(
        "services".into(),
        json!({"moderate": [{"match": "attack", "flagged": true, "categories": {"violence": true}}]}),
    );
    c
}

/// Routes with the method each takes.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/vector/query"),
    ("POST", "/vector/vectors/upsert"),
    ("POST", "/vector/vectors/delete"),
    ("GET", "/vector/vectors/fetch"),
    ("POST", "/vector/describe_index_stats"),
    ("PUT", "/vector/collections/new"),
    ("PUT", "/vector/collections/qd/points"),
    ("POST", "/vector/collections/qd/points"),
    ("POST", "/vector/collections/qd/points/query"),
    ("POST", "/vector/collections/qd/points/search"),
    ("POST", "/vector/collections/qd/points/scroll"),
    ("POST", "/vector/collections/qd/points/delete"),
    ("POST", "/vector/collections/qd/points/count"),
    ("POST", "/vector/api/v2/tenants/t/databases/d/collections"),
    (
        "POST",
        "/vector/api/v2/tenants/t/databases/d/collections/docs/add",
    ),
    (
        "POST",
        "/vector/api/v2/tenants/t/databases/d/collections/docs/query",
    ),
    (
        "POST",
        "/vector/api/v2/tenants/t/databases/d/collections/docs/get",
    ),
    (
        "POST",
        "/vector/api/v2/tenants/t/databases/d/collections/docs/delete",
    ),
    ("POST", "/vector/api/v1/collections/docs/query"),
    ("POST", "/vector/api/v1/collections/docs/add"),
    ("POST", "/search"),
    ("POST", "/v2/rerank"),
    ("POST", "/v1/moderations"),
];

fn hostile_bodies() -> Vec<Vec<u8>> {
    let deep = "[".repeat(10_000);
    let huge_top = json!({"topK": u64::MAX, "limit": u64::MAX, "n_results": u64::MAX,
                          "vector": [1, 0, 0], "query": [1, 0, 0], "query_embeddings": [[1, 0, 0]]});
    vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"\xff\xfe".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"\"text\"".to_vec(),
        deep.into_bytes(),
        json!({"vector": "x", "vectors": 3, "points": {"a": 1}, "ids": [null], "query": {"nearest": "x"},
               "filter": {"$and": 3}, "where": {"$bogus": 1}, "documents": [1], "input": 3})
        .to_string()
        .into_bytes(),
        json!({"vector": [1e300, -1e300], "vectors": [{"id": "z", "values": [1, 2]}],
               "points": [{"id": -1, "vector": [1, 2, 3]}], "embeddings": [[1, 2]], "ids": ["z"],
               "query_embeddings": [[1, 2]], "query": [1, 2], "filter": {"must": [{"key": 1}]}})
        .to_string()
        .into_bytes(),
        huge_top.to_string().into_bytes(),
    ]
}

#[tokio::test]
async fn hostile_bodies_at_every_rag_route_get_a_4xx_or_an_answer_and_never_break_the_server() {
    let dir = FixtureDir::new();
    let s = TestServer::start(config(&dir)).await;
    for (method, path) in ROUTES {
        for body in hostile_bodies() {
            let r = request(method, &s.url(path), body.clone(), &[]).await;
            let shown = String::from_utf8_lossy(&body)
                .chars()
                .take(60)
                .collect::<String>();
            assert!(r.body.is_ok(), "{method} {path} {shown}: body cut");
            assert!(
                r.status < 500,
                "{method} {path} {shown}: {} {}",
                r.status,
                r.text()
            );
            if r.status >= 400 {
                // Always JSON, in some API's envelope.
                let v: Value = serde_json::from_slice(r.bytes()).expect("json error body");
                assert!(v.is_object(), "{method} {path}: {v}");
            }
        }
    }
    // Still serving, and the store is intact.
    let r = s
        .post(
            "/vector/query",
            r#"{"namespace":"docs","vector":[1,0,0],"topK":1}"#,
            &[],
        )
        .await;
    assert_eq!(r.json()["matches"][0]["id"], "a");
}

#[tokio::test]
async fn one_store_serves_every_dialect_and_a_reset_restores_the_configuration() {
    let dir = FixtureDir::new();
    let s = TestServer::start(config(&dir)).await;
    let up = s
        .post(
            "/vector/vectors/upsert",
            r#"{"namespace":"docs","vectors":[{"id":"c","values":[0,0,1],"metadata":{"k":3}}]}"#,
            &[],
        )
        .await;
    assert_eq!(up.json(), json!({"upsertedCount": 1}));
    let q = s
        .post(
            "/vector/collections/docs/points/query",
            r#"{"query":[0,0.1,1],"limit":1,"with_payload":true}"#,
            &[],
        )
        .await;
    assert_eq!(q.json()["result"]["points"][0]["id"], "c");
    assert_eq!(q.json()["result"]["points"][0]["payload"], json!({"k": 3}));
    let id = aimock::services::vector::store::uuid_for("docs");
    let c = s
        .post(
            &format!("/vector/api/v2/tenants/default_tenant/databases/default_database/collections/{id}/query"),
            r#"{"query_embeddings":[[0,0,1]],"n_results":2,"where":{"k":{"$gte":2}}}"#,
            &[],
        )
        .await;
    assert_eq!(c.json()["ids"], json!([["c", "b"]]));

    // Qdrant's Euclid score is the distance; Pinecone's euclidean the squared one.
    let q = s
        .post(
            "/vector/collections/qd/points/search",
            r#"{"vector":[3,4,0],"limit":2}"#,
            &[],
        )
        .await;
    assert_eq!(q.json()["result"][1]["score"], json!(5.0));
    let p = s
        .post(
            "/vector/query",
            r#"{"namespace":"qd","vector":[3,4,0],"topK":2}"#,
            &[],
        )
        .await;
    assert_eq!(p.json()["matches"][1]["score"], json!(25.0));

    assert_eq!(s.post("/__aimock/reset", "", &[]).await.status, 200);
    let stats = s.get("/vector/describe-index-stats").await.json();
    assert_eq!(stats["namespaces"]["docs"]["vectorCount"], 2);
    assert_eq!(
        s.get("/health").await.json()["services"]["vector"]["vectors"],
        4
    );
}

#[tokio::test]
async fn the_services_section_answers_moderation_and_the_default_is_clean() {
    let dir = FixtureDir::new();
    let s = TestServer::start(config(&dir)).await;
    let r = s
        .post("/v1/moderations", r#"{"input":["an attack","hello"]}"#, &[])
        .await;
    let v = r.json();
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
    assert_eq!(v["results"][0]["flagged"], true);
    assert_eq!(v["results"][0]["categories"]["violence"], true);
    let r = s.post("/v1/moderations", r#"{"input":"hello"}"#, &[]).await;
    assert_eq!(r.json()["results"][0]["flagged"], false);
    assert_eq!(r.json()["model"], "omni-moderation-latest");
}

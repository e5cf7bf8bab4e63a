//! Recording the vector databases (`aimock record --upstream-vector URL --vector FILE`):
//! a Pinecone query and a Qdrant `points/query` against collections the store lacks go
//! to a fake upstream (below its base path, query string kept, the client's key
//! along), are relayed, and are saved into the section file without the key or the
//! credential the upstream's reply carried; reads the store can answer and writes stay
//! local; and a fresh strict replay server answers the same requests from the file.

use aimock::config::sections::SectionFile;
use aimock::config::Config;
use serde_json::{json, Value};

use crate::support::{recording, request, FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};

const KEY: &str = "pc-test-not-a-real-key";
const LEAK: &str = "sk-proj-test-not-a-real-key-abcdefghijkl";

fn with_vector_file(mut c: Config, file: &std::path::Path, missing_ok: bool) -> Config {
    let sf = SectionFile {
        path: file.to_path_buf(),
        // The config file's own section: one local collection.
        base: json!({"collections": [{"name": "local", "dimension": 2,
            "vectors": [{"id": "l1", "values": [1, 0]}]}]}),
    };
    c.sections
        .insert("vector".into(), sf.load("vector", missing_ok).unwrap());
    c.section_files.insert("vector".into(), sf);
    c
}

fn pinecone_query() -> Value {
    json!({"namespace": "remote", "topK": 2, "vector": [0.5, 0.5], "includeMetadata": true})
}

fn qdrant_query() -> Value {
    json!({"query": [0.5, 0.5], "limit": 1, "with_payload": true})
}

async fn post(s: &TestServer, path: &str, body: &Value) -> crate::support::Reply {
    request(
        "POST",
        &s.url(path),
        body.to_string().into_bytes(),
        &[("api-key", KEY)],
    )
    .await
}

#[tokio::test]
async fn misses_are_forwarded_relayed_and_saved_then_replayed_strictly() {
    let dir = FixtureDir::new();
    let file = dir.path().join("vector.json");
    let fake = FakeUpstream::start().await;
    let pc_reply = json!({"results": [], "matches": [
        {"id": "r1", "score": 0.91, "values": [], "metadata": {"note": format!("key {LEAK}")}}],
        "namespace": "remote", "usage": {"readUnits": 5}});
    let qd_reply = json!({"result": {"points": [{"id": 7, "version": 3, "score": 0.8,
        "payload": {"title": "Dune"}}]}, "status": "ok", "time": 0.002});
    fake.script(
        "/idx/query",
        Script::body(200, "application/json", pc_reply.to_string()),
    );
    fake.script(
        "/idx/collections/remote/points/query",
        Script::body(200, "application/json", qd_reply.to_string()),
    );
    let base = format!("{}/idx", fake.url());
    let s = TestServer::start(with_vector_file(
        recording(dir.path(), &["vector"], &base),
        &file,
        true,
    ))
    .await;

    // An unknown Pinecone namespace: forwarded and relayed as the upstream said it.
    let r = post(&s, "/vector/query", &pinecone_query()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), pc_reply);
    // An unknown Qdrant collection, with a query string.
    let r = post(
        &s,
        "/vector/collections/remote/points/query?consistency=all",
        &qdrant_query(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), qd_reply);
    {
        let seen = fake.seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(
            (seen[0].method.as_str(), seen[0].path_and_query.as_str()),
            ("POST", "/idx/query")
        );
        assert_eq!(
            seen[1].path_and_query,
            "/idx/collections/remote/points/query?consistency=all"
        );
        for x in seen.iter() {
            assert_eq!(x.headers["api-key"], KEY, "the client's key goes upstream");
            assert_eq!(x.headers["content-type"], "application/json");
        }
        let sent: Value = serde_json::from_slice(&seen[0].body).unwrap();
        assert_eq!(sent, pinecone_query());
    }

    // What the store can answer, and every write, stays local.
    let local = json!({"namespace": "local", "topK": 1, "vector": [1, 0]});
    let r = post(&s, "/vector/query", &local).await;
    assert_eq!(r.json()["matches"][0]["id"], "l1");
    let up = json!({"namespace": "fresh", "vectors": [{"id": "f", "values": [0, 1]}]});
    assert_eq!(
        post(&s, "/vector/vectors/upsert", &up).await.json()["upsertedCount"],
        1
    );
    let fresh = json!({"namespace": "fresh", "topK": 1, "vector": [0, 1]});
    assert_eq!(
        post(&s, "/vector/query", &fresh).await.json()["matches"][0]["id"],
        "f"
    );
    // The same miss again is answered from the recording.
    assert_eq!(
        post(&s, "/vector/query", &pinecone_query()).await.status,
        200
    );
    assert_eq!(fake.hits(), 2, "nothing else went upstream");
    s.stop().await;

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(KEY), "the client's key was saved: {text}");
    assert!(
        !text.contains(LEAK),
        "the upstream's credential was saved: {text}"
    );
    let doc: Value = serde_json::from_str(&text).unwrap();
    let rec = doc["recorded"].as_array().expect("a recorded list");
    assert_eq!(rec.len(), 2, "{text}");
    assert_eq!(
        (&rec[0]["method"], &rec[0]["path"], &rec[0]["status"]),
        (&json!("POST"), &json!("/query"), &json!(200))
    );
    assert_eq!(rec[0]["match"]["body"], pinecone_query());
    assert_eq!(rec[0]["response"]["matches"][0]["id"], "r1");
    assert_eq!(rec[1]["path"], "/collections/remote/points/query");
    assert_eq!(rec[1]["match"]["query"], "consistency=all");
    assert!(
        doc.get("collections").is_none(),
        "only recordings go to the file"
    );

    // A fresh strict replay server, no upstream: the same requests (keys reordered,
    // spacing changed) get the recorded replies.
    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    c.strict = true;
    let s = TestServer::start(with_vector_file(c, &file, false)).await;
    let reordered =
        br#"{ "includeMetadata": true, "vector": [0.5, 0.5], "topK": 2, "namespace": "remote" }"#;
    let r = request(
        "POST",
        &s.url("/vector/query"),
        reordered.to_vec(),
        &[("api-key", KEY)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["matches"][0]["id"], "r1");
    assert_eq!(r.json()["matches"][0]["score"], 0.91);
    let r = post(
        &s,
        "/vector/collections/remote/points/query?consistency=all",
        &qdrant_query(),
    )
    .await;
    assert_eq!(r.json(), qd_reply);
    // A different query for the unknown namespace is the store's answer: no matches.
    let other = json!({"namespace": "remote", "topK": 3, "vector": [0.5, 0.5]});
    assert_eq!(
        post(&s, "/vector/query", &other).await.json()["matches"],
        json!([])
    );
    assert_eq!(fake.hits(), 2);
    s.stop().await;
}

#[tokio::test]
async fn an_unserved_route_is_forwarded_and_a_failing_upstream_gets_the_dialects_error() {
    let dir = FixtureDir::new();
    let file = dir.path().join("vector.json");
    let fake = FakeUpstream::start().await;
    fake.script(
        "/collections/remote/index",
        Script::body(
            200,
            "application/json",
            r#"{"result": true, "status": "ok"}"#,
        ),
    );
    fake.script(
        "/collections/gone/points/scroll",
        Script::body(503, "application/json", r#"{"status": {"error": "busy"}}"#),
    );
    let s = TestServer::start(with_vector_file(
        recording(dir.path(), &["vector"], &fake.url()),
        &file,
        true,
    ))
    .await;
    let r = request(
        "PUT",
        &s.url("/vector/collections/remote/index"),
        b"{}".to_vec(),
        &[],
    )
    .await;
    assert_eq!(r.json()["result"], true);
    // A 503 is relayed, not saved.
    let r = post(&s, "/vector/collections/gone/points/scroll", &json!({})).await;
    assert_eq!(r.status, 503);
    s.stop().await;
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let rec = doc["recorded"].as_array().unwrap();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0]["method"], "PUT");

    // The upstream gone: a miss gets the dialect's own error shape; the recording
    // still answers.
    let url = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let s = TestServer::start(with_vector_file(
        recording(dir.path(), &["vector"], &url),
        &file,
        false,
    ))
    .await;
    let r = post(&s, "/vector/collections/x/points/query", &qdrant_query()).await;
    assert_eq!(r.status, 502);
    assert!(r.json()["status"]["error"]
        .as_str()
        .unwrap()
        .contains("upstream"));
    let r = post(&s, "/vector/query", &pinecone_query()).await;
    assert_eq!((r.status, r.json()["code"].as_u64()), (502, Some(14)));
    let r = request(
        "PUT",
        &s.url("/vector/collections/remote/index"),
        b" { } ".to_vec(),
        &[],
    )
    .await;
    assert_eq!(r.json()["result"], true, "the recording answers");
    assert_eq!(fake.hits(), 2);
    s.stop().await;
}

#[tokio::test]
async fn an_edit_to_the_vector_file_takes_effect_and_keeps_upserts_unless_collections_change() {
    let dir = FixtureDir::new();
    let file = dir.path().join("vector.json");
    std::fs::write(&file, "{}").unwrap();
    let mut c = Config::for_tests(vec![dir.path().to_path_buf()]);
    c.watch = true;
    let s = TestServer::start(with_vector_file(c, &file, false)).await;
    let up = json!({"namespace": "mine", "vectors": [{"id": "m", "values": [0, 1]}]});
    post(&s, "/vector/vectors/upsert", &up).await;
    let q = json!({"namespace": "elsewhere", "topK": 1, "vector": [1, 0]});
    assert_eq!(
        post(&s, "/vector/query", &q).await.json()["matches"],
        json!([])
    );

    // Hand-written entry: keys in another order than the request's.
    std::fs::write(
        &file,
        json!({"recorded": [{"path": "/query",
            "match": {"body": {"vector": [1, 0], "topK": 1, "namespace": "elsewhere"}},
            "response": {"matches": [{"id": "edited", "score": 1.0}], "namespace": "elsewhere"}}]})
        .to_string(),
    )
    .unwrap();
    let mut answered = false;
    for _ in 0..2000 {
        if post(&s, "/vector/query", &q).await.json()["matches"][0]["id"] == "edited" {
            answered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(answered, "the edited vector file was not reloaded");
    let mine = json!({"namespace": "mine", "topK": 1, "vector": [0, 1]});
    assert_eq!(
        post(&s, "/vector/query", &mine).await.json()["matches"][0]["id"],
        "m",
        "a recording-only edit keeps the run-time store"
    );
    // A broken edit keeps the previous section.
    std::fs::write(&file, "{ not json").unwrap();
    tokio::time::sleep(aimock::services::source::POLL * 4).await;
    assert_eq!(
        post(&s, "/vector/query", &q).await.json()["matches"][0]["id"],
        "edited"
    );
    // Changed collections replace the configured store and reset the live one.
    std::fs::write(
        &file,
        json!({"collections": [{"name": "filed", "dimension": 2,
            "vectors": [{"id": "f", "values": [1, 0]}]}]})
        .to_string(),
    )
    .unwrap();
    let filed = json!({"namespace": "filed", "topK": 1, "vector": [1, 0]});
    let mut reloaded = false;
    for _ in 0..2000 {
        if post(&s, "/vector/query", &filed).await.json()["matches"][0]["id"] == "f" {
            reloaded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(reloaded, "the file's collections were not loaded");
    assert_eq!(
        post(&s, "/vector/query", &mine).await.json()["matches"],
        json!([]),
        "the run-time upsert is gone"
    );
    s.stop().await;
}

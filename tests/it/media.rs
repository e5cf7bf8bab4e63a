//! The media surfaces against hostile input: malformed JSON and multipart bodies on
//! every media route get an answer in the provider's error shape (never a dropped
//! connection), oversized uploads a 413; and the reference's media fixture shapes load
//! and answer only their own kind.

use serde_json::json;

use crate::support::{request, FixtureDir, TestServer};

const JSON_ROUTES: &[&str] = &[
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/audio/speech",
    "/v1/videos",
    "/openai/deployments/d/images/generations",
    "/openai/deployments/d/audio/speech",
    "/v1beta/models/imagen-3.0-generate-002:predict",
    "/v1/projects/p/locations/l/publishers/google/models/imagen-3.0-generate-002:predict",
    "/v1beta/models/veo-2.0-generate-001:predictLongRunning",
    "/v1beta1/projects/p/locations/l/publishers/google/models/veo-2.0-generate-001:predictLongRunning",
    "/v1beta1/projects/p/locations/l/publishers/google/models/veo-2.0-generate-001:fetchPredictOperation",
];

const MULTIPART_ROUTES: &[&str] = &[
    "/v1/images/edits",
    "/v1/audio/transcriptions",
    "/v1/audio/translations",
    "/v1/videos",
    "/openai/deployments/d/audio/transcriptions",
];

fn fixtures() -> serde_json::Value {
    json!([
        {"match": {}, "response": {"content": "a chat catch-all"}},
        {"match": {}, "response": {"image": {"url": "https://x/y.png"}}},
        {"match": {}, "response": {"audio": "SUQz"}},
        {"match": {}, "response": {"transcription": {"text": "t"}}},
        {"match": {}, "response": {"video": {"id": "video_x", "status": "completed"}}},
    ])
}

fn json_bodies() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{".to_vec(),
        vec![0xff, 0xfe, 0x00],
        format!("{}{}", "[".repeat(3000), "]".repeat(3000)).into_bytes(),
    ];
    for v in [
        json!({}),
        json!({"prompt": 3, "input": [], "model": {}, "n": "x", "instances": "x"}),
        json!({"prompt": "", "input": ""}),
        json!({"prompt": "p", "n": 0, "response_format": 7, "size": []}),
        json!({"input": "x", "response_format": "ogg", "stream_format": "ws"}),
        json!({"instances": [{"prompt": null}], "parameters": {"sampleCount": -1}}),
        json!({"instances": [{}]}),
        json!({"operationName": 5}),
    ] {
        out.push(v.to_string().into_bytes());
    }
    out
}

/// Multipart bodies that break the framing, each with the `Content-Type` it is sent with.
fn multipart_bodies() -> Vec<(String, Vec<u8>)> {
    let ct = "multipart/form-data; boundary=zz".to_string();
    let part = |name: &str, file: bool, data: &[u8]| {
        let mut p = format!("--zz\r\nContent-Disposition: form-data; name=\"{name}\"").into_bytes();
        if file {
            p.extend_from_slice(b"; filename=\"f.bin\"");
        }
        p.extend_from_slice(b"\r\n\r\n");
        p.extend_from_slice(data);
        p.extend_from_slice(b"\r\n");
        p
    };
    let mut whole = part("prompt", false, b"p");
    whole.extend(part("model", false, b"m"));
    whole.extend(part("file", true, &[0xff, 0x00, 0xfe]));
    whole.extend(part("image", true, &[0x89, b'P']));
    whole.extend_from_slice(b"--zz--\r\n");
    let mut out = vec![
        ("multipart/form-data".to_string(), whole.clone()),
        ("multipart/form-data; boundary=".to_string(), whole.clone()),
        (
            "multipart/form-data; boundary=\"unterminated".to_string(),
            whole.clone(),
        ),
        ("multipart/mixed; boundary=zz".to_string(), whole.clone()),
        (ct.clone(), b"".to_vec()),
        (ct.clone(), b"--zz--\r\n".to_vec()),
        (ct.clone(), b"no boundary anywhere".to_vec()),
        (ct.clone(), b"--zz\r\nno headers end".to_vec()),
        (
            ct.clone(),
            b"--zz\r\nContent-Disposition: form-data\r\n\r\nnameless\r\n--zz--\r\n".to_vec(),
        ),
        (
            ct.clone(),
            b"--zz\r\n\x00\xff: \xfe\r\n\r\nx\r\n--zz--\r\n".to_vec(),
        ),
        (ct.clone(), part("file", true, &[0; 100])),
    ];
    for cut in [5, whole.len() / 3, whole.len() / 2, whole.len() - 3] {
        out.push((ct.clone(), whole[..cut].to_vec()));
    }
    // Many tiny parts.
    let mut many = Vec::new();
    for i in 0..2000 {
        many.extend(part(&format!("f{i}"), false, b"x"));
    }
    many.extend_from_slice(b"--zz--\r\n");
    out.push((ct, many));
    out
}

#[tokio::test]
async fn every_media_route_answers_every_hostile_json_body() {
    let dir = FixtureDir::with("a.json", fixtures());
    let s = TestServer::with_fixtures(dir.path()).await;
    for route in JSON_ROUTES {
        for body in json_bodies() {
            let r = request("POST", &s.url(route), body.clone(), &[]).await;
            assert!(
                (200..600).contains(&r.status),
                "{route} with {:?}: {}",
                String::from_utf8_lossy(&body[..body.len().min(60)]),
                r.status
            );
            if r.status >= 400 {
                let v = r.json();
                assert!(v["error"]["message"].is_string(), "{route}: {v}");
            }
        }
    }
}

#[tokio::test]
async fn broken_multipart_bodies_are_400s_in_openais_shape() {
    let dir = FixtureDir::with("a.json", fixtures());
    let s = TestServer::with_fixtures(dir.path()).await;
    for route in MULTIPART_ROUTES {
        for (ct, body) in multipart_bodies() {
            let r = request(
                "POST",
                &s.url(route),
                body.clone(),
                &[("content-type", &ct)],
            )
            .await;
            let shown = String::from_utf8_lossy(&body[..body.len().min(50)]).into_owned();
            assert!(
                (200..600).contains(&r.status),
                "{route} {ct} {shown:?}: {}",
                r.status
            );
            if r.status != 200 {
                assert_eq!(r.status, 400, "{route} {ct} {shown:?}");
                let v = r.json();
                assert_eq!(v["error"]["type"], "invalid_request_error", "{route}: {v}");
            }
        }
    }
    // The server still serves afterwards.
    let r = s
        .post("/v1/images/generations", r#"{"prompt":"x"}"#, &[])
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn an_upload_past_the_body_limit_is_a_413_and_one_under_it_parses() {
    let dir = FixtureDir::with("a.json", fixtures());
    let mut config = aimock::config::Config::for_tests(vec![dir.path().to_path_buf()]);
    config.max_body_bytes = 4 * 1024 * 1024;
    let s = TestServer::start(config).await;
    let upload = |n: usize| {
        let mut b =
            b"--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n"
                .to_vec();
        b.extend((0..n).map(|i| (i % 251) as u8));
        b.extend_from_slice(b"\r\n--zz--\r\n");
        b
    };
    let ct = [("content-type", "multipart/form-data; boundary=zz")];
    let r = request(
        "POST",
        &s.url("/v1/audio/transcriptions"),
        upload(5 * 1024 * 1024),
        &ct,
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    let r = request(
        "POST",
        &s.url("/v1/audio/transcriptions"),
        upload(3 * 1024 * 1024),
        &ct,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"text": "t"}));
}

#[tokio::test]
async fn each_media_fixture_answers_its_own_kind_only() {
    let dir = FixtureDir::with(
        "a.json",
        json!([
            {"match": {"userMessage": "x"}, "response": {"image": {"b64Json": "AAAA"}}},
            {"match": {"userMessage": "x"}, "response": {"content": "chat"}},
        ]),
    );
    let s = TestServer::with_fixtures(dir.path()).await;
    let chat = s
        .post(
            "/v1/chat/completions",
            &json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}).to_string(),
            &[],
        )
        .await;
    assert_eq!(chat.json()["choices"][0]["message"]["content"], "chat");
    let img = s
        .post("/v1/images/generations", r#"{"prompt":"x"}"#, &[])
        .await;
    assert_eq!(img.json()["data"][0]["b64_json"], "AAAA");
    // No audio fixture: speech misses (a chat or image fixture never answers it).
    let speech = s.post("/v1/audio/speech", r#"{"input":"x"}"#, &[]).await;
    assert_eq!(speech.status, 404);
}

#[tokio::test]
async fn the_reference_media_shapes_load_and_a_bad_file_digest_is_refused() {
    let dir = FixtureDir::with(
        "a.json",
        json!([
            {"match": {"endpoint": "image"}, "response": {"images": [{"url": "u"}, {"b64Json": "AA=="}]}},
            {"match": {"endpoint": "speech"}, "response": {"audio": {"b64Json": "SUQz", "contentType": "audio/ogg"}}},
            {"match": {"endpoint": "transcription"}, "response": {"transcription": {"text": "t", "words": [{"word": "t", "start": 0, "end": 1}], "segments": [{"id": 0, "text": "t", "start": 0, "end": 1}]}}},
            {"match": {"endpoint": "video"}, "response": {"video": {"id": "v", "status": "processing"}}},
            {"match": {"endpoint": "speech", "fileDigest": "xyz"}, "response": {"audio": "SUQz"}},
        ]),
    );
    let s = TestServer::with_fixtures(dir.path()).await;
    assert_eq!(s.state.store.snapshot().len(), 4);
    let speech = s.post("/v1/audio/speech", r#"{"input":"hi"}"#, &[]).await;
    assert_eq!(speech.headers["content-type"], "audio/ogg");
    assert_eq!(&speech.bytes()[..], b"ID3");
    let v = s.post("/v1/videos", r#"{"prompt":"p"}"#, &[]).await.json();
    assert_eq!(v["status"], "queued");
    for _ in 0..3 {
        let polled = s.get("/v1/videos/v").await.json();
        // `processing` is not a real status: such a job stays in progress.
        assert_eq!(polled["status"], "in_progress");
    }
}

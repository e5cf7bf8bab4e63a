//! Faults while recording: the disk (read-only, full), what an upstream sends (gzip and
//! brotli bodies, chunked bodies with trailers, wrong lengths, a close mid-frame), and
//! two recorders sharing one cassette directory. In every case the client gets what the
//! upstream sent, the previous cassette stays whole, and nothing half-written is left.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::record::{config, fixtures_in};
use crate::support::{FixtureDir, TestServer};
use crate::upstream::{FakeUpstream, Script};
use aimock::record::writer::{WriteFault, Writer};

const CHAT: &str = "/v1/chat/completions";
const CONVERSE: &str = "/model/amazon.nova-lite-v1%3A0/converse-stream";

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/golden/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn chat(user: &str, stream: bool) -> String {
    json!({"model": "gpt-4o-2024-08-06", "stream": stream, "messages": [{"role": "user", "content": user}]}).to_string()
}

/// The names in `dir` (recursively) that are not cassettes or the directory lock:
/// leftovers of a write that did not finish.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(leftovers(&p));
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json") && name != aimock::record::writer::DIR_LOCK {
            out.push(p.display().to_string());
        }
    }
    out
}

/// Every cassette under `dir` parses as JSON.
fn all_cassettes_parse(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            all_cassettes_parse(&p);
        } else if p.extension().is_some_and(|x| x == "json") {
            let bytes = std::fs::read(&p).unwrap();
            serde_json::from_slice::<Value>(&bytes)
                .unwrap_or_else(|e| panic!("{} is not whole: {e}", p.display()));
        }
    }
}

async fn disk_fault_keeps_the_cassette(fault: WriteFault) {
    let up = FakeUpstream::start().await;
    let reply = golden("openai/chat-json-text.json");
    up.script(CHAT, Script::body(200, "application/json", reply.clone()));
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &up.url())).await;
    let file = dir.path().join("recorded/openai.json");
    assert_eq!(s.post(CHAT, &chat("first", false), &[]).await.status, 200);
    let before = fixtures_in(&file, 1).await;
    let before_bytes = std::fs::read(&file).unwrap();

    s.state
        .recorder
        .current()
        .expect("record mode")
        .inject_write_fault(Some(fault));
    let r = s.post(CHAT, &chat("second", false), &[]).await;
    assert_eq!(r.status, 200, "the client still gets its reply");
    assert_eq!(
        r.bytes().as_ref(),
        reply.as_slice(),
        "relayed byte for byte"
    );
    // Shutdown flushes every recording: past it, the failed write has run.
    s.stop().await;
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before_bytes,
        "the previous cassette is intact"
    );
    assert_eq!(before["fixtures"].as_array().unwrap().len(), 1);
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn a_read_only_cassette_directory_mid_run_keeps_the_cassette_and_the_reply() {
    disk_fault_keeps_the_cassette(WriteFault::ReadOnly).await;
}

#[tokio::test]
async fn a_full_disk_mid_write_keeps_the_cassette_and_the_reply() {
    disk_fault_keeps_the_cassette(WriteFault::DiskFull).await;
}

#[test]
fn a_failed_write_names_the_file_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recorded/openai.json");
    let w = Writer::new();
    w.append_fixture(
        &path,
        json!({"match": {"userMessage": "a"}, "response": {"content": "x"}}),
        &[],
    )
    .unwrap();
    let before = std::fs::read(&path).unwrap();
    for (fault, cause) in [
        (WriteFault::ReadOnly, "Read-only file system"),
        (WriteFault::DiskFull, "No space left on device"),
    ] {
        w.inject_fault(Some(fault));
        let e = w
            .append_fixture(
                &path,
                json!({"match": {"userMessage": "b"}, "response": {"content": "y"}}),
                &[],
            )
            .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains(cause), "{msg}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }
    w.inject_fault(None);
    assert_eq!(
        w.append_fixture(
            &path,
            json!({"match": {"userMessage": "c"}, "response": {"content": "z"}}),
            &[]
        )
        .unwrap(),
        1
    );
}

/// The text of an OpenAI chat reply.
fn content(v: &Value) -> &str {
    v["choices"][0]["message"]["content"].as_str().unwrap_or("")
}

/// Record `body` sent with `content-encoding: <coding>`, check the client got it as
/// sent, then that the replay is the decoded reply and claims no encoding.
async fn encoded_reply_round_trip(coding: &'static str, body: Vec<u8>, decoded: &[u8]) {
    let up = FakeUpstream::start().await;
    let mut script = Script::body(200, "application/json", body.clone());
    script.headers.push(("content-encoding", coding));
    up.script(CHAT, script);
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &up.url())).await;
    let r = s.post(CHAT, &chat("zipped", false), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-encoding"], coding, "relayed as sent");
    assert_eq!(r.bytes().as_ref(), body.as_slice());
    let file = dir.path().join("recorded/openai.json");
    let doc = fixtures_in(&file, 1).await;
    let expect: Value = serde_json::from_slice(decoded).unwrap();
    assert_eq!(doc["fixtures"][0]["response"]["content"], content(&expect));
    let again = s.post(CHAT, &chat("zipped", false), &[]).await;
    assert_eq!(again.status, 200);
    assert!(again.headers.get("content-encoding").is_none());
    assert_eq!(content(&again.json()), content(&expect));
    assert_eq!(up.hits(), 1, "the replay came from the recording");
}

#[tokio::test]
async fn a_gzip_reply_is_relayed_compressed_and_recorded_decoded() {
    let plain = golden("openai/chat-json-text.json");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&plain).unwrap();
    encoded_reply_round_trip("gzip", e.finish().unwrap(), &plain).await;
}

/// A brotli stream of uncompressed meta-blocks (RFC 7932 §9.2): no encoder needed.
fn brotli_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for block in data.chunks(65536) {
        // Bits, LSB first: WBITS=16 ('0', first block only), ISLAST=0, MNIBBLES=4
        // ('00'), MLEN-1 in 16 bits, ISUNCOMPRESSED=1; then pad to a byte.
        let first = out.is_empty();
        let mut bits: u64 = 0;
        let mut n = 0;
        let mut put = |v: u64, w: u32| {
            bits |= v << n;
            n += w;
        };
        if first {
            put(0, 1);
        }
        put(0, 1);
        put(0, 2);
        put(block.len() as u64 - 1, 16);
        put(1, 1);
        out.extend_from_slice(&bits.to_le_bytes()[..n.div_ceil(8) as usize]);
        out.extend_from_slice(block);
    }
    // The last, empty meta-block: ISLAST=1, ISLASTEMPTY=1.
    out.push(0b11);
    out
}

#[tokio::test]
async fn a_brotli_reply_is_relayed_compressed_and_recorded_decoded() {
    let plain = golden("openai/chat-json-text.json");
    let mut want = Vec::new();
    let packed = brotli_stored(&plain);
    std::io::Read::read_to_end(
        &mut brotli_decompressor::Decompressor::new(packed.as_slice(), 4096),
        &mut want,
    )
    .unwrap();
    assert_eq!(want, plain, "the test's brotli stream is valid");
    encoded_reply_round_trip("br", packed, &plain).await;
}

#[tokio::test]
async fn a_reply_in_an_unknown_encoding_is_relayed_but_not_recorded() {
    let up = FakeUpstream::start().await;
    let mut script = Script::body(200, "application/json", &b"\x28\xb5\x2f\xfd garbage"[..]);
    script.headers.push(("content-encoding", "zstd"));
    up.script(CHAT, script);
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &up.url())).await;
    let r = s.post(CHAT, &chat("z", false), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.bytes().as_ref(), b"\x28\xb5\x2f\xfd garbage");
    s.stop().await;
    assert!(!dir.path().join("recorded/openai.json").exists());
    assert!(!dir.path().join("recorded/openai-raw.json").exists());
}

/// An upstream on loopback that answers every request with `reply`, bytes as given,
/// then closes the connection.
async fn raw_upstream(reply: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reply = Arc::new(reply);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                // Read the head and as much body as its content-length says.
                loop {
                    let Ok(n) = sock.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = sock.write_all(&reply).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

fn head(extra: &str) -> String {
    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n{extra}\r\n")
}

#[tokio::test]
async fn a_chunked_reply_with_trailers_is_relayed_and_recorded() {
    let plain = golden("openai/chat-json-text.json");
    let mut wire = head("transfer-encoding: chunked\r\ntrailer: x-checksum\r\n").into_bytes();
    for piece in plain.chunks(100) {
        wire.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        wire.extend_from_slice(piece);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\nx-checksum: abc123\r\n\r\n");
    let base = raw_upstream(wire).await;
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &base)).await;
    let r = s.post(CHAT, &chat("chunks", false), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.bytes().as_ref(), plain.as_slice());
    let doc = fixtures_in(&dir.path().join("recorded/openai.json"), 1).await;
    let expect: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(doc["fixtures"][0]["response"]["content"], content(&expect));
}

#[tokio::test]
async fn a_body_longer_than_its_content_length_is_cut_at_the_length_for_client_and_cassette() {
    let plain = golden("openai/chat-json-text.json");
    // Declares the real length, then sends trailing junk past it: the junk is not
    // part of the message, for the client or the recording.
    let mut wire = head(&format!("content-length: {}\r\n", plain.len())).into_bytes();
    wire.extend_from_slice(&plain);
    wire.extend_from_slice(b"{\"junk\": true} trailing bytes past the length");
    let base = raw_upstream(wire).await;
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &base)).await;
    let r = s.post(CHAT, &chat("long", false), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.bytes().as_ref(), plain.as_slice());
    let doc = fixtures_in(&dir.path().join("recorded/openai.json"), 1).await;
    let expect: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(doc["fixtures"][0]["response"]["content"], content(&expect));
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_cuts_the_client_and_saves_nothing() {
    let plain = golden("openai/chat-json-text.json");
    let mut wire = head(&format!("content-length: {}\r\n", plain.len() + 500)).into_bytes();
    wire.extend_from_slice(&plain);
    let base = raw_upstream(wire).await;
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), "openai", &base)).await;
    let resp = s.post_streaming(CHAT, &chat("short", false)).await;
    assert_eq!(resp.status(), 200);
    let (got, err) = read_until_error(resp).await;
    assert!(err.is_some(), "the client sees the reply end early");
    assert_eq!(got, plain, "with every byte the upstream sent first");
    s.stop().await;
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    assert!(!dir.path().join("recorded/openai.json").exists());
    assert!(!dir.path().join("recorded/openai-raw.json").exists());
}

/// Read a body to its end or its first error: the bytes that came, and the error.
async fn read_until_error(
    resp: http::Response<hyper::body::Incoming>,
) -> (Vec<u8>, Option<String>) {
    let mut body = resp.into_body();
    let mut got = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("the body ends or fails within 10 s")
        {
            Some(Ok(f)) => {
                if let Some(d) = f.data_ref() {
                    got.extend_from_slice(d);
                }
            }
            Some(Err(e)) => return (got, Some(e.to_string())),
            None => return (got, None),
        }
    }
}

/// The upstream sends `body[..cut]` of a stream as one chunk, then closes without
/// ending the body: the client gets exactly those bytes and then an error, and no
/// recording is saved. (A raw socket, so the bytes really leave before the close.)
async fn cut_mid_frame(path: &str, provider: &str, ct: &str, body: Vec<u8>, cut: usize) {
    let mut wire = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {ct}\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n",
        cut
    )
    .into_bytes();
    wire.extend_from_slice(&body[..cut]);
    wire.extend_from_slice(b"\r\n");
    let base = raw_upstream(wire).await;
    let dir = FixtureDir::new();
    let s = TestServer::start(config(dir.path(), provider, &base)).await;
    let req = if provider == "bedrock" {
        json!({"messages": [{"role": "user", "content": [{"text": "cut"}]}]}).to_string()
    } else {
        chat("cut", true)
    };
    let resp = s.post_streaming(path, &req).await;
    assert_eq!(resp.status(), 200);
    let (got, err) = read_until_error(resp).await;
    assert!(err.is_some(), "a clean error after the bytes sent");
    assert_eq!(got, body[..cut].to_vec());
    s.stop().await;
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    let saved: Vec<_> = std::fs::read_dir(dir.path().join("recorded"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(saved.is_empty(), "nothing is saved, but {saved:?} is");
}

#[tokio::test]
async fn an_upstream_closing_mid_sse_event_saves_nothing() {
    let body = golden("openai/chat-stream-text-include-usage.sse");
    // Inside the third event: past two blank-line separators, short of the next one.
    let text = String::from_utf8_lossy(&body);
    let third = text.match_indices("\n\n").nth(1).unwrap().0 + 2;
    cut_mid_frame(
        CHAT,
        "openai",
        "text/event-stream",
        body.clone(),
        third + 10,
    )
    .await;
}

#[tokio::test]
async fn an_upstream_closing_mid_eventstream_frame_saves_nothing() {
    let body = golden("bedrock/converse-stream-text.eventstream");
    // The first frame's length is its first 4 bytes (big-endian): cut 7 bytes into
    // the second frame.
    let first = u32::from_be_bytes(body[..4].try_into().unwrap()) as usize;
    cut_mid_frame(
        CONVERSE,
        "bedrock",
        "application/vnd.amazon.eventstream",
        body.clone(),
        first + 7,
    )
    .await;
}

#[tokio::test]
async fn two_recorders_sharing_a_cassette_directory_keep_each_others_recordings() {
    let up = FakeUpstream::start().await;
    up.script(
        CHAT,
        Script::body(
            200,
            "application/json",
            golden("openai/chat-json-text.json"),
        ),
    );
    let dir = FixtureDir::new();
    let a = Arc::new(TestServer::start(config(dir.path(), "openai", &up.url())).await);
    let b = Arc::new(TestServer::start(config(dir.path(), "openai", &up.url())).await);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            s.post(CHAT, &chat(&format!("q{i}"), false), &[])
                .await
                .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let (a, b) = (Arc::into_inner(a).unwrap(), Arc::into_inner(b).unwrap());
    a.stop().await;
    b.stop().await;
    let file = dir.path().join("recorded/openai.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let mut users: Vec<String> = doc["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["match"]["userMessage"].as_str().unwrap().to_string())
        .collect();
    users.sort();
    let mut want: Vec<String> = (0..24).map(|i| format!("q{i}")).collect();
    want.sort();
    assert_eq!(users, want, "both processes' recordings are in the file");
    assert!(dir
        .path()
        .join("recorded")
        .join(aimock::record::writer::DIR_LOCK)
        .exists());
    all_cassettes_parse(dir.path());
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

//! An HTTP/2 upstream: the recorder negotiates `h2` by ALPN over TLS, relays the reply
//! and records it. Runs the real binary (`aimock record`) so the test CA reaches it
//! through `SSL_CERT_FILE` without touching this process's environment.

use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use crate::record::fixtures_in;
use crate::support::{request, FixtureDir};

fn tls_file(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tls")
        .join(name)
}

/// A TLS upstream offering only `h2`, answering with `body`; the HTTP versions it saw.
async fn h2_upstream(body: Vec<u8>) -> (u16, Arc<Mutex<Vec<http::Version>>>) {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(tls_file("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_file("server.key")).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<http::Version>>> = Arc::default();
    let (seen2, body) = (seen.clone(), Bytes::from(body));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, seen, body) = (acceptor.clone(), seen2.clone(), body.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    seen.lock().unwrap().push(req.version());
                    let body = body.clone();
                    async move {
                        Ok::<_, Infallible>(
                            http::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(body))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (port, seen)
}

/// Kills the spawned server when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn an_http2_upstream_over_tls_is_relayed_and_recorded() {
    let reply = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden/openai/chat-json-text.json"),
    )
    .unwrap();
    let (up_port, seen) = h2_upstream(reply.clone()).await;
    let dir = FixtureDir::new();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let _child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_aimock"))
            .args(["record", "-f"])
            .arg(dir.path())
            .args(["-p", &port.to_string(), "--log-level", "warn"])
            .arg("--provider-openai")
            .arg(format!("https://127.0.0.1:{up_port}"))
            .env("SSL_CERT_FILE", tls_file("ca.pem"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("aimock starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "aimock listens within 15 s");
    let body = serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "over h2"}]});
    let r = request(
        "POST",
        &format!("{base}/v1/chat/completions"),
        body.to_string().into_bytes(),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.bytes().as_ref(), reply.as_slice());
    assert_eq!(*seen.lock().unwrap(), vec![http::Version::HTTP_2]);
    let doc = fixtures_in(&dir.path().join("recorded/openai.json"), 1).await;
    assert_eq!(doc["fixtures"][0]["match"]["userMessage"], "over h2");
}

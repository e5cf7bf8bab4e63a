//! TLS on the listening port, beside plain HTTP: a connection whose first byte is a TLS
//! handshake record (0x16) is served over rustls (ring provider), any other as plain
//! HTTP, so `http://`, `https://`, `ws://` and `wss://` clients share one port. For
//! clients that insist on TLS (google-genai's Live client sends an SSL context even for
//! a `ws://` URL when it has an API key).
//!
//! The certificate and key are PEM files (`--tls-cert`, `--tls-key`), read at start-up;
//! a file that does not load stops the start with its path named. ALPN offers `h2` and
//! `http/1.1` (hyper's auto builder serves either). Not here: client certificates, and
//! reloading the certificate.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

/// The first byte of a TLS record carrying a handshake.
const HANDSHAKE: u8 = 0x16;

/// The acceptor for `files`, or why not (naming the file).
pub fn acceptor(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .with_context(|| format!("cannot read the TLS certificate {}", files.cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!(
                "the TLS certificate {} is not valid PEM",
                files.cert.display()
            )
        })?;
    if certs.is_empty() {
        anyhow::bail!(
            "the TLS certificate {} holds no certificate",
            files.cert.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("cannot read a private key from {}", files.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| {
            format!(
                "the TLS key {} does not suit the certificate {}",
                files.key.display(),
                files.cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// What a new connection turned out to be.
pub(crate) enum Accepted {
    /// A TLS connection, handshake done.
    Tls(Box<TlsStream<TcpStream>>),
    /// Plain HTTP.
    Plain(TcpStream),
}

/// Look at the first byte (waiting at most `within`) and complete a TLS handshake when
/// it is one; `None` when the client sent nothing in time, closed, or failed the
/// handshake (logged at debug: a scanner or a client that does not trust the
/// certificate).
pub(crate) async fn accept(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
    within: Duration,
) -> Option<Accepted> {
    let mut first = [0u8; 1];
    match tokio::time::timeout(within, stream.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        Ok(Ok(_)) | Ok(Err(_)) | Err(_) => return None,
    }
    if first[0] != HANDSHAKE {
        return Some(Accepted::Plain(stream));
    }
    match tokio::time::timeout(within, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Some(Accepted::Tls(Box::new(s))),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_or_key_that_does_not_load_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let files = TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        };
        let e = format!("{:#}", acceptor(&files).err().expect("refused"));
        assert!(e.contains("cert.pem"), "{e}");
        std::fs::write(&cert, "not pem at all\n").unwrap();
        let e = format!("{:#}", acceptor(&files).err().expect("refused"));
        assert!(e.contains("holds no certificate"), "{e}");
    }
}

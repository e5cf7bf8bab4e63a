//! `aimock health`: ask a running aimock on this machine for `/health` and exit 0 on a
//! 200, 1 on anything else, so a container's HEALTHCHECK needs no curl or shell in
//! the image. Blocking std I/O on purpose: one request, no runtime to start.
//!
//! Not here: the server's `/health` answer (`server::pipeline`). Rejected: shipping
//! curl or busybox in the image for this (megabytes, and a shell to attack).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::cli::HealthArgs;

/// The exit code for `aimock health`.
pub fn health(args: &HealthArgs) -> u8 {
    match ask(args) {
        Ok(200) => 0,
        Ok(status) => {
            eprintln!("aimock health: {} answered {status}", args.path);
            1
        }
        Err(e) => {
            eprintln!("aimock health: {e}");
            1
        }
    }
}

/// The status of `GET path` on loopback.
fn ask(args: &HealthArgs) -> std::io::Result<u16> {
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let path = if args.path.starts_with('/') {
        args.path.clone()
    } else {
        format!("/{}", args.path)
    };
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
        args.port
    )?;
    let mut head = [0u8; 64];
    let mut n = 0;
    // The status line is all that is needed: read until it is in.
    while n < head.len() {
        let k = s.read(&mut head[n..])?;
        if k == 0 || head[..n + k].contains(&b'\n') {
            n += k;
            break;
        }
        n += k;
    }
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {line:?}")))
}

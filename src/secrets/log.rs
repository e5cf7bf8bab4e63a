//! Log lines pass through the detector on their way to standard error, so a credential
//! a request carried (a miss message quotes the user's text, an error quotes a URL)
//! never reaches a CI log file.
//!
//! The fmt layer of `tracing_subscriber` formats each event into one buffer and writes it
//! with a single `write_all`, so every write seen here is one whole line: redacting
//! write by write never cuts a credential in two.

use std::io::{self, Write};
use std::sync::Arc;

use super::Detector;

/// A `MakeWriter` for standard error that redacts each line with its detector (the
/// configured one).
#[derive(Debug, Clone)]
pub struct RedactingStderr(pub Arc<Detector>);

impl Default for RedactingStderr {
    fn default() -> RedactingStderr {
        RedactingStderr(Detector::shared_builtin())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactingStderr {
    type Writer = Redacting<'a, io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        Redacting(io::stderr(), &self.0)
    }
}

/// A writer that redacts what passes through it (one whole log line per write).
#[derive(Debug)]
pub struct Redacting<'a, W>(pub W, pub &'a Detector);

impl<W: Write> Write for Redacting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => {
                let (clean, n) = self.1.redact(text);
                if n == 0 {
                    self.0.write_all(buf)?;
                } else {
                    self.0.write_all(clean.as_bytes())?;
                }
            }
            // The formatter writes UTF-8; anything else is passed on as it is.
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::fakes::credentials;

    #[test]
    fn a_log_line_holding_a_credential_is_written_redacted() {
        for f in credentials() {
            let mut w = Redacting(Vec::new(), Detector::builtin());
            let line = format!("WARN no fixture matched: request \"{}\"\n", f.text);
            w.write_all(line.as_bytes()).unwrap();
            let out = String::from_utf8(w.0).unwrap();
            assert!(!out.contains(f.tail()), "{}: {out}", f.kind);
            assert!(out.starts_with("WARN no fixture matched") && out.ends_with('\n'));
        }
        let mut w = Redacting(Vec::new(), Detector::builtin());
        w.write_all(b"INFO recorded a fixture\n").unwrap();
        assert_eq!(w.0, b"INFO recorded a fixture\n");
    }
}

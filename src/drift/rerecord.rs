//! `aimock drift --rerecord`: replace stale recordings with fresh ones.
//!
//! With `--rerecord`, the live side of each comparison goes through an aimock in record
//! mode (in process, on loopback, over an empty temporary cassette directory): the
//! stored request is forwarded to the real upstream exactly as `aimock record` would
//! forward it, the reply comes back byte for byte for the comparison, and the recording
//! lands in the temporary directory under a test id of its own. A fixture whose
//! comparison found anything critical or a warning is stale; its entry in its cassette
//! is then replaced, in place (same file, same index), by the fresh recording. Fixtures
//! without a stored request (hand-written), fixtures whose only difference is new text
//! (`info`), raw exchanges and fixtures that could not be compared are left as they are.
//! Each cassette is rewritten once, atomically (a temporary file renamed over it).
//!
//! Rejected: collapsing the live reply here. The recorder already turns a reply into a
//! fixture (collapse, redaction, timings); going through it keeps one definition.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::request::DEFAULT_TEST_ID;

/// The test id the recording of job `n` is made under.
pub(super) fn test_id(n: usize) -> String {
    format!("aimock-rerecord-{n}")
}

/// The record-mode configuration of the recording aimock.
pub(super) fn config(dir: &Path, opts: &super::Options) -> crate::config::Config {
    let mut c = crate::config::Config::for_tests(vec![dir.to_path_buf()]);
    c.normalize = opts.normalize.clone();
    c.secrets = opts.secrets.clone();
    c.record = Some(crate::config::record::RecordConfig {
        upstreams: opts.upstreams.clone(),
        proxy_only: false,
        head_timeout: opts.timeout,
        idle_timeout: opts.timeout,
        max_capture_bytes: 64 * 1024 * 1024,
        record_dir: dir.join("recorded"),
        full_model_version: false,
    });
    c
}

/// The fresh entry recorded for job `n` of `provider`, once the recording aimock has
/// stopped (and so flushed every write).
pub(super) fn fresh_entry(dir: &Path, provider: &str, n: usize) -> Option<Value> {
    let tid = test_id(n);
    debug_assert_ne!(tid, DEFAULT_TEST_ID);
    let path = crate::record::writer::recording_path(&dir.join("recorded"), provider, &tid);
    let doc: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    doc.get("fixtures")?.as_array()?.first().cloned()
}

/// Replace the given entries, file by file: `(file, index) -> entry`. Returns how many
/// were replaced; a file that changed shape meanwhile (its entry no longer there) is
/// reported and left alone.
pub(super) fn write_back(
    fresh: BTreeMap<(PathBuf, usize), Value>,
    problems: &mut Vec<String>,
) -> usize {
    let mut by_file: BTreeMap<PathBuf, Vec<(usize, Value)>> = BTreeMap::new();
    for ((file, index), entry) in fresh {
        by_file.entry(file).or_default().push((index, entry));
    }
    let mut replaced = 0;
    for (file, entries) in by_file {
        let doc = std::fs::read(&file)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()));
        let mut doc = match doc {
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("{}: not rewritten: {e}", file.display()));
                continue;
            }
        };
        let Some(list) = doc.get_mut("fixtures").and_then(Value::as_array_mut) else {
            problems.push(format!(
                "{}: not rewritten: no fixtures array",
                file.display()
            ));
            continue;
        };
        let mut n = 0;
        for (index, entry) in entries {
            match list.get_mut(index) {
                Some(slot) if slot.get(super::FIELD).is_some() => {
                    *slot = entry;
                    n += 1;
                }
                _ => problems.push(format!(
                    "{}: fixture #{index} changed since it was read; not replaced",
                    file.display()
                )),
            }
        }
        if n == 0 {
            continue;
        }
        match write_atomic(&file, &doc) {
            Ok(()) => replaced += n,
            Err(e) => problems.push(format!("{}: cannot write: {e}", file.display())),
        }
    }
    replaced
}

fn write_atomic(path: &Path, doc: &Value) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(doc).map_err(std::io::Error::other)?;
    text.push('\n');
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A dot-prefixed `.tmp` name is ignored by the loader and the watcher.
    let tmp = path.with_file_name(format!(".{name}.tmp-drift-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

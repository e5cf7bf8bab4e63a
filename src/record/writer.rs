//! Writing recordings: where they go, and how they are written so that a crash or a
//! concurrent recording never leaves a corrupt cassette.
//!
//! Layout: `<dir>/recorded/<slug>/<provider>.json` when the request named a test id,
//! else `<dir>/recorded/<provider>.json`. New entries are appended to the file's
//! `fixtures` array. Every write is a temporary file in the same directory, renamed
//! over the target (atomic, see [`write_atomic`]); writes are serialised by one lock, so
//! two recordings to one file are both kept.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::request::DEFAULT_TEST_ID;

/// Longest slug used as a directory name; longer ids are hashed.
pub const MAX_SLUG_LEN: usize = 100;

/// The reference's test-id slug, made safe: lower case, every character outside
/// `[a-z0-9_-]` becomes `-`, runs of three or more dashes become `--`, dashes are trimmed.
/// A leading test-file name (`foo.spec.ts › ...`) is dropped first, as the reference does.
/// An id that slugs to nothing or to more than [`MAX_SLUG_LEN`] becomes a short SHA-256.
pub fn slugify_test_id(id: &str) -> String {
    let mut s = id.trim();
    // Drop `path/to/foo.spec.ts ›` style prefixes.
    let lowered = s.to_ascii_lowercase();
    for ext in [".spec.", ".test.", ".e2e."] {
        if let Some(pos) = lowered.find(ext) {
            let rest = &s[pos + ext.len()..];
            let ext_len = rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            let lang = &rest[..ext_len].to_ascii_lowercase();
            if ["ts", "tsx", "js", "jsx", "mjs", "cjs"].contains(&lang.as_str()) {
                let after = rest[ext_len..].trim_start();
                if after.is_empty() || after.starts_with('›') || after.starts_with('>') {
                    s = after.trim_start_matches(['›', '>']).trim_start();
                    break;
                }
            }
        }
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c.to_ascii_lowercase());
        } else {
            out.push('-');
        }
    }
    // Runs of three or more dashes become two.
    let mut collapsed = String::with_capacity(out.len());
    let mut run = 0;
    for c in out.chars() {
        if c == '-' {
            run += 1;
            continue;
        }
        if run > 0 {
            collapsed.push_str(if run >= 3 { "--" } else { &"--"[..run] });
            run = 0;
        }
        collapsed.push(c);
    }
    let slug = collapsed.trim_matches('-').to_string();
    if slug.is_empty() || slug.len() > MAX_SLUG_LEN {
        let d = Sha256::digest(id.as_bytes());
        return format!(
            "id-{}",
            d[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
    }
    slug
}

/// Where a recording for `provider` and `test_id` goes, under `record_dir`.
pub fn recording_path(record_dir: &Path, provider: &str, test_id: &str) -> PathBuf {
    let provider = slugify_test_id(provider);
    if test_id == DEFAULT_TEST_ID {
        record_dir.join(format!("{provider}.json"))
    } else {
        record_dir
            .join(slugify_test_id(test_id))
            .join(format!("{provider}.json"))
    }
}

/// Serialises every cassette write in the process.
static WRITE_LOCK: Mutex<()> = Mutex::new(());

/// Append `entry` to the cassette at `path` (created if missing), atomically.
/// A corrupt existing file is kept aside as `<name>.corrupt-<n>` rather than lost.
/// Returns the index the entry got in the file.
pub fn append_fixture(path: &Path, entry: Value, warnings: &[String]) -> std::io::Result<usize> {
    append_fixture_noting(path, entry, warnings, &|_| {})
}

/// [`append_fixture`], calling `note` with the file's new bytes just before they
/// appear under `path`: the hot-reload contract (see `fixtures::watch`), so the watcher
/// knows this write is ours and does not load the fixture a second time.
pub fn append_fixture_noting(
    path: &Path,
    entry: Value,
    warnings: &[String],
    note: &dyn Fn(&[u8]),
) -> std::io::Result<usize> {
    let _guard = WRITE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut doc = match std::fs::read(path) {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => m,
            _ => {
                let aside = path.with_extension(format!("json.corrupt-{}", std::process::id()));
                tracing::warn!(
                    "{} is not a cassette object; moved it to {} and starting a new file",
                    path.display(),
                    aside.display()
                );
                std::fs::rename(path, &aside)?;
                Map::new()
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(e),
    };
    let list = doc
        .entry("fixtures")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        tracing::warn!(
            "{}: \"fixtures\" was not an array; starting it afresh",
            path.display()
        );
        *list = Value::Array(Vec::new());
    }
    let arr = list.as_array_mut().expect("just ensured an array");
    arr.push(entry);
    let index = arr.len() - 1;
    if !warnings.is_empty() {
        let mut all: Vec<String> = doc
            .get("_warnings")
            .and_then(|w| w.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        for w in warnings {
            if !all.contains(w) {
                all.push(w.clone());
            }
        }
        doc.insert("_warnings".into(), Value::from(all));
    }
    let mut text =
        serde_json::to_string_pretty(&Value::Object(doc)).map_err(std::io::Error::other)?;
    text.push('\n');
    note(text.as_bytes());
    write_atomic(path, text.as_bytes())?;
    Ok(index)
}

/// Write `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A dot-prefixed `.tmp` name is ignored by the loader and the watcher.
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        // No fsync: the rename below is atomic, so a reader (or a crash of this
        // process) sees the old cassette or the new one, never a torn one. fsync only
        // adds durability against a power cut or a kernel crash, where losing the last
        // recording is acceptable, and it cost a disk flush per recording on the core
        // that serves requests.
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slugs_follow_the_reference_rule() {
        assert_eq!(slugify_test_id("my test/case 1"), "my-test-case-1");
        assert_eq!(
            slugify_test_id("My Suite › does thing"),
            "my-suite--does-thing"
        );
        assert_eq!(slugify_test_id("checkout.spec.ts › pays"), "pays");
        assert_eq!(slugify_test_id("--A__b--"), "a__b");
    }

    #[test]
    fn hostile_ids_never_escape_the_directory() {
        for id in [
            "../../etc/passwd",
            "..",
            "/",
            "a/../../b",
            "\\..\\x",
            "\0",
            "....//",
        ] {
            let s = slugify_test_id(id);
            assert!(!s.contains(".."), "{id} -> {s}");
            assert!(!s.contains('/') && !s.contains('\\'), "{id} -> {s}");
            assert!(!s.is_empty());
        }
        assert!(slugify_test_id("..").starts_with("id-"));
        let long = "x".repeat(500);
        assert!(slugify_test_id(&long).starts_with("id-"));
        let p = recording_path(Path::new("/r"), "openai", "../../x");
        assert!(p.starts_with("/r"));
        assert_eq!(p, Path::new("/r/x/openai.json"));
    }

    #[test]
    fn appends_keep_existing_entries_and_concurrent_writes_all_land() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("rec").join("openai.json");
        std::thread::scope(|s| {
            for i in 0..16 {
                let p = p.clone();
                s.spawn(move || append_fixture(&p, json!({"match":{"userMessage": format!("m{i}")},"response":{"content":"x"}}), &[]).unwrap());
            }
        });
        let doc: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(doc["fixtures"].as_array().unwrap().len(), 16);
        let leftovers: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name() != "openai.json")
            .collect();
        assert!(leftovers.is_empty(), "no temp files left behind");
    }
}

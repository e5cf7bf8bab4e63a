//! A service section's own file (`--mcp FILE`, ...): watched for edits (the service
//! swaps in the new section; a bad edit is logged and the previous one kept) and
//! appended to by the recorder, credentials stripped, written atomically.
//!
//! Not here: reading and merging the file at start-up (`config::sections`).
//!
//! # Design
//! Watching polls the file's length and modification time every
//! [`POLL`] instead of using `notify` as the cassette watcher does: one file per service,
//! a stat every quarter second, and no debounce or rename handling to get right for
//! editors that replace the file. Rejected: re-reading on every request (a stat on the
//! hot path).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::config::sections::SectionFile;

/// How often a watched section file is checked.
pub const POLL: Duration = Duration::from_millis(250);

/// A section's file, shared by its service, its watcher and its recorder.
pub struct SourceFile {
    /// The section's name (`mcp`).
    pub name: String,
    file: SectionFile,
    /// Serialises the recorder's read-modify-write cycles.
    writing: Mutex<()>,
    secrets: Arc<crate::secrets::Detector>,
}

/// The file section `name` comes from, when it came from one.
pub fn for_section(config: &crate::config::Config, name: &str) -> Option<Arc<SourceFile>> {
    config.section_files.get(name).map(|f| {
        Arc::new(SourceFile {
            name: name.to_string(),
            file: f.clone(),
            writing: Mutex::new(()),
            secrets: config.secrets.clone(),
        })
    })
}

fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

impl SourceFile {
    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// Re-read the section (base plus file).
    pub fn load(&self) -> anyhow::Result<Value> {
        self.file.load(&self.name, true)
    }

    /// [`SourceFile::watch`] for a section held as a swappable parsed value: each
    /// good edit is parsed with `parse` and replaces what `target` holds (MCP, A2A and
    /// AG-UI keep their section this way).
    pub fn watch_into<T: Send + Sync + 'static>(
        self: &Arc<Self>,
        config: &crate::config::Config,
        target: Arc<std::sync::RwLock<Arc<T>>>,
        parse: fn(&Value) -> anyhow::Result<T>,
    ) {
        self.watch(config, move |v| {
            let parsed = parse(v)?;
            *target.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(parsed);
            Ok(())
        });
    }

    /// Watch the file (when the config watches at all): on a change, `apply` gets the
    /// section as it now stands. Needs a Tokio runtime; without one nothing is watched.
    pub fn watch(
        self: &Arc<Self>,
        config: &crate::config::Config,
        apply: impl Fn(&Value) -> anyhow::Result<()> + Send + Sync + 'static,
    ) {
        if !config.watch {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let me = Arc::downgrade(self);
        let mut last = stamp(self.path());
        rt.spawn(async move {
            loop {
                tokio::time::sleep(POLL).await;
                let Some(me) = me.upgrade() else { return };
                let now = stamp(me.path());
                if now == last {
                    continue;
                }
                last = now;
                match me.load().and_then(|v| apply(&v)) {
                    Ok(()) => tracing::info!(
                        section = %me.name,
                        file = %me.path().display(),
                        "reloaded the section file"
                    ),
                    Err(e) => tracing::warn!(
                        section = %me.name,
                        file = %me.path().display(),
                        "section file not reloaded, keeping the previous one: {e:#}"
                    ),
                }
            }
        });
    }

    /// Change the file's section with `edit`, strip credentials from the result, and
    /// write it atomically (a temporary file renamed over it). The file is created when
    /// missing; a file holding a whole config keeps its other keys.
    pub fn update(&self, edit: impl FnOnce(&mut Map<String, Value>)) -> anyhow::Result<()> {
        let _guard = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.path();
        let mut doc = match std::fs::read_to_string(path) {
            Ok(t) if !t.trim().is_empty() => serde_json::from_str::<Value>(&t)?,
            Ok(_) => Value::Object(Map::new()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Object(Map::new()),
            Err(e) => return Err(e.into()),
        };
        let Value::Object(root) = &mut doc else {
            anyhow::bail!("{} does not hold a JSON object", path.display());
        };
        let section = if root.get(&self.name).is_some_and(Value::is_object) {
            root.get_mut(&self.name)
                .and_then(Value::as_object_mut)
                .expect("checked: an object")
        } else {
            root
        };
        edit(section);
        let mut changed = Vec::new();
        self.secrets.redact_json(&mut doc, "$", &mut changed);
        if !changed.is_empty() {
            tracing::warn!(file = %path.display(), paths = ?changed, "credentials removed from a recording");
        }
        let mut text = serde_json::to_string_pretty(&doc)?;
        text.push('\n');
        write_atomic(path, text.as_bytes())?;
        Ok(())
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(d) = dir {
        std::fs::create_dir_all(d)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "section.json".into());
    let tmp: PathBuf = dir
        .unwrap_or(Path::new("."))
        .join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn updates_keep_other_keys_strip_credentials_and_create_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/mcp.json");
        let mut config = crate::config::Config::for_tests(vec![]);
        config.section_files.insert(
            "mcp".into(),
            SectionFile {
                path: path.clone(),
                base: json!({}),
            },
        );
        let src = for_section(&config, "mcp").unwrap();
        src.update(|s| {
            s.insert(
                "tools".into(),
                json!([{"name": "t", "result": "key sk-proj-test-not-a-real-key-abcdefghijkl"}]),
            );
        })
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("sk-proj-test"), "{text}");
        assert_eq!(src.load().unwrap()["tools"][0]["name"], "t");
        std::fs::write(&path, r#"{"port": 1, "mcp": {"tools": []}}"#).unwrap();
        src.update(|s| {
            s.insert("prompts".into(), json!([]));
        })
        .unwrap();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc, json!({"port": 1, "mcp": {"tools": [], "prompts": []}}));
    }
}

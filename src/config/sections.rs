//! Service sections from their own files (`--mcp FILE`, `--a2a FILE`, `--agui FILE`,
//! `--vector FILE`).
//!
//! A section file holds the section itself (`{"tools": [...]}`) or a whole config file
//! with that section (`{"mcp": {"tools": [...]}}`). It is laid over the config file's
//! section of the same name: its scalar keys win, and its lists (`tools`, `agents`,
//! `fixtures`, ...) are appended after the config file's, so a base config and a file
//! of recordings combine. The file is where `aimock record` saves what a service's
//! upstream said, and what hot reload watches.
//!
//! Not here: what a section means (each service's `config`), watching and writing the
//! file (`services::source`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::{Map, Value};

/// A section that comes (in part) from its own file.
#[derive(Debug, Clone)]
pub struct SectionFile {
    /// The file.
    pub path: PathBuf,
    /// The config file's section it is laid over (`{}` when there was none).
    pub base: Value,
}

impl SectionFile {
    /// The section as it stands: the base with the file laid over it. A missing file
    /// reads as empty when `missing_ok` (record mode creates it).
    pub fn load(&self, name: &str, missing_ok: bool) -> anyhow::Result<Value> {
        let file = read(&self.path, name, missing_ok)?;
        Ok(merge(&self.base, &file))
    }
}

/// Read section `name` from `path`.
pub fn read(path: &Path, name: &str, missing_ok: bool) -> anyhow::Result<Value> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Value::Object(Map::new()))
        }
        Err(e) => {
            return Err(e).with_context(|| format!("--{name} {}: cannot read it", path.display()))
        }
    };
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let v: Value = serde_json::from_str(&text)
        .with_context(|| format!("--{name} {}: not valid JSON", path.display()))?;
    match v {
        Value::Object(mut m) => match m.remove(name) {
            Some(inner @ Value::Object(_)) if m.is_empty() => Ok(inner),
            Some(_) if m.is_empty() => {
                bail!("--{name} {}: `{name}` must be an object", path.display())
            }
            Some(inner) => {
                // A whole config file: take its section, ignore the rest.
                if inner.is_object() {
                    Ok(inner)
                } else {
                    bail!("--{name} {}: `{name}` must be an object", path.display())
                }
            }
            None => Ok(Value::Object(m)),
        },
        _ => bail!("--{name} {}: must hold a JSON object", path.display()),
    }
}

/// `over` laid on `base`: arrays appended, everything else replaced.
pub fn merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match (out.get(k), v) {
                    (Some(Value::Array(a)), Value::Array(extra)) => {
                        let mut all = a.clone();
                        all.extend(extra.iter().cloned());
                        Value::Array(all)
                    }
                    _ => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (_, o) => o.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_file_appends_lists_and_replaces_scalars() {
        let base = json!({"path": "/tools", "tools": [{"name": "a"}], "serverInfo": {"name": "x"}});
        let over = json!({"tools": [{"name": "b"}], "serverInfo": {"name": "y"}});
        assert_eq!(
            merge(&base, &over),
            json!({"path": "/tools", "tools": [{"name": "a"}, {"name": "b"}], "serverInfo": {"name": "y"}})
        );
    }

    #[test]
    fn a_file_may_hold_the_section_or_a_config_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        std::fs::write(&p, r#"{"mcp": {"tools": []}}"#).unwrap();
        assert_eq!(read(&p, "mcp", false).unwrap(), json!({"tools": []}));
        std::fs::write(&p, r#"{"tools": [], "path": "/m"}"#).unwrap();
        assert_eq!(read(&p, "mcp", false).unwrap()["path"], "/m");
        std::fs::write(&p, "[1]").unwrap();
        assert!(read(&p, "mcp", false).is_err());
        let missing = dir.path().join("none.json");
        assert!(read(&missing, "mcp", false).is_err());
        assert_eq!(read(&missing, "mcp", true).unwrap(), json!({}));
    }
}

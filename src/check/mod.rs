//! `aimock check`: validate cassettes without serving them.
//!
//! Loads the given sources exactly as the server would (same walk, same order, same
//! validation), then adds what only a whole-set look can see or what a server should
//! not spend time on at start-up:
//! - fixtures that can never match because an earlier one catches every request they
//!   would (`shadow`);
//! - credential-shaped strings (`secrets`);
//! - with normalisation rules ([`run_with`]), which `match` values they rewrite: one
//!   `note:` line per file with the count, then one per value (a note is neither an
//!   error nor a warning). The shadow check then sees the criteria as the server would.
//!
//! Unknown fields, empty content and tool-call arguments that are not JSON are reported
//! by the loader itself (`cassette::model`), with the same wording the server logs.
//! Every problem is one line, `path:line:col: error|warning: fixture #i: field: message`
//! (without `line:col` when there is no position), in load order; a summary line ends
//! the output. Errors make the exit code 1; warnings alone do not.
//!
//! Not here: argument parsing (`cli`) or the exit code itself (`main`).

pub(crate) mod secrets;
pub mod shadow;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cassette::load::{self, LoadedFile};
use crate::cassette::model::{Finding, Fixture, Severity};
use crate::normalize::Normalizer;

/// Totals for one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Cassette files read.
    pub files: usize,
    /// Fixtures that loaded.
    pub fixtures: usize,
    /// Error lines printed.
    pub errors: usize,
    /// Warning lines printed.
    pub warnings: usize,
    /// Raw exchange fixtures (replayed byte for byte, not editable), each listed.
    pub raw: usize,
    /// `match` values the normalisation rules rewrite.
    pub normalized: usize,
}

/// One file, with its bytes kept for positions.
struct Checked {
    lf: LoadedFile,
    bytes: Vec<u8>,
    /// Findings from this index on were added by the check and still need positions.
    added_from: usize,
    /// What the normalisation rules rewrite: fixture index, field, before, after.
    normalized: Vec<(usize, &'static str, String, String)>,
}

/// Check `sources` (files or directories, in load order) and write every problem and a
/// summary line to `out`.
pub fn run(sources: &[PathBuf], out: &mut dyn Write) -> std::io::Result<Summary> {
    run_with(sources, &Normalizer::default(), out)
}

/// [`run`], with the request normalisation rules the server would run with: the
/// report notes every `match` value they rewrite.
pub fn run_with(
    sources: &[PathBuf],
    rules: &Normalizer,
    out: &mut dyn Write,
) -> std::io::Result<Summary> {
    let mut summary = Summary::default();
    let mut files: Vec<Checked> = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        if !src.exists() {
            writeln!(out, "{}: error: does not exist", src.display())?;
            summary.errors += 1;
            continue;
        }
        let list = load::list_files(src);
        if list.is_empty() {
            writeln!(
                out,
                "{}: warning: no cassette files (*.json)",
                src.display()
            )?;
            summary.warnings += 1;
        }
        let root = if src.is_dir() {
            src.clone()
        } else {
            src.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        for path in list {
            files.push(read(&path, load::order_key(i, &root, &path)));
        }
    }
    for f in &mut files {
        normalize(f, rules);
    }
    add_shadow_warnings(&mut files);
    for f in &mut files {
        add_secret_warnings(f);
        // One pass over the text places every added finding.
        load::locate_findings(&f.bytes, &mut f.lf, f.added_from);
    }
    for f in &files {
        summary.files += 1;
        summary.fixtures += f.lf.fixtures.len();
        print_file(&f.lf, out, &mut summary)?;
        list_raw(&f.lf, out, &mut summary)?;
        print_normalized(f, out, &mut summary)?;
    }
    let raw = if summary.raw > 0 {
        format!(", {} raw (not editable)", summary.raw)
    } else {
        String::new()
    };
    let normalized = if summary.normalized > 0 {
        format!(
            ", {} match value(s) change under the normalisation rules",
            summary.normalized
        )
    } else {
        String::new()
    };
    writeln!(
        out,
        "checked {} file(s), {} fixture(s): {} error(s), {} warning(s){raw}{normalized}",
        summary.files, summary.fixtures, summary.errors, summary.warnings
    )?;
    Ok(summary)
}

fn read(path: &Path, order: load::OrderKey) -> Checked {
    match std::fs::read(path) {
        Ok(bytes) => {
            let mut lf = LoadedFile::new(path, order);
            load::parse_file(&bytes, &mut lf);
            let added_from = lf.findings.len();
            Checked {
                lf,
                bytes,
                added_from,
                normalized: Vec::new(),
            }
        }
        // load_file reports the read error the way the server does.
        Err(_) => {
            let lf = load::load_file(path, order, false);
            let added_from = lf.findings.len();
            Checked {
                lf,
                bytes: Vec::new(),
                added_from,
                normalized: Vec::new(),
            }
        }
    }
}

/// Rewrite the file's fixtures as the server would, noting what changed.
fn normalize(f: &mut Checked, rules: &Normalizer) {
    if rules.is_empty() {
        return;
    }
    for fx in &mut f.lf.fixtures {
        let (changes, _) = rules.criteria(&fx.criteria);
        let index = fx.origin.index;
        f.normalized
            .extend(changes.into_iter().map(|(k, a, b)| (index, k, a, b)));
        *fx = rules.fixture(fx);
    }
}

/// The notes for what the rules rewrote in one file: a count, then each value.
fn print_normalized(
    f: &Checked,
    out: &mut dyn Write,
    summary: &mut Summary,
) -> std::io::Result<()> {
    if f.normalized.is_empty() {
        return Ok(());
    }
    let path = f.lf.path.display();
    summary.normalized += f.normalized.len();
    writeln!(
        out,
        "{path}: note: {} match value(s) change under the normalisation rules",
        f.normalized.len()
    )?;
    for (i, field, before, after) in &f.normalized {
        writeln!(
            out,
            "{path}: note: fixture #{i}: match.{field}: {:?} is matched as {:?}",
            crate::request::truncate(before, 80),
            crate::request::truncate(after, 80)
        )?;
    }
    Ok(())
}

fn add_shadow_warnings(files: &mut [Checked]) {
    let mut all: Vec<(usize, &Fixture)> = Vec::new();
    for (k, f) in files.iter().enumerate() {
        all.extend(f.lf.fixtures.iter().map(|fx| (k, fx.as_ref())));
    }
    let refs: Vec<&Fixture> = all.iter().map(|(_, fx)| *fx).collect();
    let found: Vec<(usize, usize, String)> = shadow::find(&refs)
        .into_iter()
        .map(|(later, earlier)| {
            let (k, fx) = all[later];
            let by = all[earlier].1;
            let by = if all[earlier].0 == k {
                format!("fixture #{}", by.origin.index)
            } else {
                by.origin.to_string()
            };
            (
                k,
                fx.origin.index,
                format!(
                    "can never match: {by} comes first and matches every request this one would"
                ),
            )
        })
        .collect();
    for (k, index, message) in found {
        let f = &mut files[k];
        push(f, index, "match", message);
    }
}

fn add_secret_warnings(f: &mut Checked) {
    let mut hits: Vec<(usize, secrets::Hit)> = Vec::new();
    // Read the document again rather than the loaded fixtures: entries that did not
    // load are scanned too, and the server keeps no parsed copy of each entry.
    if let Ok(doc) = serde_json::from_slice::<Value>(&f.bytes) {
        if let Some(list) = doc.get("fixtures").and_then(Value::as_array) {
            for (i, e) in list.iter().enumerate() {
                hits.extend(secrets::scan_entry(e).into_iter().map(|h| (i, h)));
            }
        }
    }
    for (i, h) in hits {
        push(f, i, &h.field, h.message);
    }
}

fn push(f: &mut Checked, index: usize, field: &str, message: String) {
    f.lf.findings.push(Finding {
        severity: Severity::Warning,
        index: Some(index),
        field: Some(field.to_string()),
        message,
        refused_by_validation: false,
    });
}

/// One line per raw exchange fixture: what a user cannot edit, and what it answers.
fn list_raw(lf: &LoadedFile, out: &mut dyn Write, summary: &mut Summary) -> std::io::Result<()> {
    for fx in &lf.fixtures {
        if let Some(k) = fx.criteria.raw.as_deref() {
            summary.raw += 1;
            writeln!(
                out,
                "{}: raw: fixture #{}: {} {} ({}): a recorded exchange replayed byte for byte, not editable",
                lf.path.display(),
                fx.origin.index,
                k.method,
                k.path,
                k.digest
            )?;
        }
    }
    Ok(())
}

fn print_file(lf: &LoadedFile, out: &mut dyn Write, summary: &mut Summary) -> std::io::Result<()> {
    // File-level problems first, then by fixture index; the loader's order within one.
    let mut order: Vec<usize> = (0..lf.findings.len()).collect();
    order.sort_by_key(|&k| lf.findings[k].index.map_or(0, |i| i + 1));
    for k in order {
        match lf.findings[k].severity {
            Severity::Error => summary.errors += 1,
            Severity::Warning => summary.warnings += 1,
        }
        writeln!(out, "{}", lf.diagnostic(k))?;
    }
    Ok(())
}

//! Writing recordings: where they go, and how they are written so that a crash or a
//! concurrent recording never leaves a corrupt cassette.
//!
//! Layout: `<dir>/recorded/<slug>/<provider>.json` when the request named a test id,
//! else `<dir>/recorded/<provider>.json`. New entries are appended to the file's
//! `fixtures` array. Every write is a temporary file in the same directory, renamed
//! over the target (atomic: see `write_atomic`); writes are serialised by the recorder's one [`Writer`],
//! so two recordings to one file are both kept.
//!
//! Two processes recording into one directory: each read-append-rename holds an
//! exclusive advisory lock on `.aimock.lock` in the cassette's directory
//! ([`DIR_LOCK`]), so one process's append always starts from the other's last write
//! (the file's stamp then differs from the one this process wrote, so it is read
//! again). Both processes' recordings are kept; a write that has to wait says so once
//! in the log. Rejected: one lock for the whole run, which would make the second
//! `aimock record` unusable rather than merely serialised.
//!
//! A write that fails (a read-only directory, a full disk) leaves the previous
//! cassette as it was and no temporary file behind; the error names the file.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::cassette::watch::OwnWrites;
use crate::cassette::FileStamp;
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

/// The recorder's cassette writer: one thread that takes recordings in order, and what
/// it knows of the files it wrote. Created by the recorder at start-up (the thread on
/// the first recording), closed at shutdown ([`Writer::close`], after the recorder's
/// flush), owned by nobody else: no process-wide state.
pub struct Writer {
    /// The log of this writer's last write per file, which the watcher consults.
    own: Arc<WriteLog>,
    /// The thread's queue, once started; `None` again after [`Writer::close`].
    queue: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
    /// The thread, to be joined at shutdown.
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Serialises every cassette write of this writer, and guards what it knows of the
    /// files it wrote (see [`Written`]).
    written: Mutex<HashMap<PathBuf, Written>>,
    /// A failure to inject into the next writes (tests of disk faults).
    fault: Mutex<Option<WriteFault>>,
}

/// The advisory lock file every cassette write in a directory holds (see the module
/// docs). Dot-prefixed and not `.json`: the loader and the watcher ignore it.
pub const DIR_LOCK: &str = ".aimock.lock";

/// A disk fault to simulate, for tests: running as root (as CI may), permission bits
/// cannot make a directory read-only, and a full disk cannot be had without mounting.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFault {
    /// Creating the temporary file fails with `EROFS`.
    ReadOnly,
    /// Writing the temporary file fails with `ENOSPC` after half of it is written.
    DiskFull,
}

type Job = (Instant, Box<dyn FnOnce() + Send>);

impl Default for Writer {
    fn default() -> Writer {
        Writer::new()
    }
}

impl Writer {
    /// A writer with no thread yet.
    pub fn new() -> Writer {
        Writer {
            own: Arc::default(),
            queue: Mutex::new(None),
            thread: Mutex::new(None),
            written: Mutex::new(HashMap::new()),
            fault: Mutex::new(None),
        }
    }

    /// Make every following write fail as `fault` says (`None`: write normally again).
    #[doc(hidden)]
    pub fn inject_fault(&self, fault: Option<WriteFault>) {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }

    /// Run `job` on the recorder's writer thread: one thread, taking jobs in order, each
    /// no sooner than [`WRITE_DELAY`] after it was handed over, at the lowest scheduling
    /// priority. Runs `job` here when the thread cannot start.
    ///
    /// # Design
    /// A recording is complete just as its client reads the reply, which is when a client
    /// that makes one call after another sends its next request. Writing then, even at the
    /// lowest priority on another thread, slows that request: the write's system calls
    /// (copying the cassette, renaming it over the old one, the file events it raises)
    /// take the serving core at the wrong moment. Measured before the delay: a request sent
    /// right after a recording got its first SSE event about 0.4 ms later with the watcher
    /// on than with it off, and 0.6 ms later at normal priority than 5 ms afterwards. The
    /// new fixture is served from memory at once, so nothing waits for the file; shutdown
    /// waits for it ([`super::Recorder::flush`]).
    pub fn in_background(&self, job: Box<dyn FnOnce() + Send>) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if queue.is_none() {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let started = std::thread::Builder::new()
                .name("aimock-writer".into())
                .spawn(move || {
                    lower_priority();
                    for (handed, job) in rx {
                        let wait = (handed + WRITE_DELAY).saturating_duration_since(Instant::now());
                        if !wait.is_zero() {
                            std::thread::sleep(wait);
                        }
                        job();
                    }
                });
            if let Ok(handle) = started {
                *queue = Some(tx);
                *self.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
            }
        }
        let job = match queue.as_ref() {
            Some(tx) => match tx.send((Instant::now(), job)) {
                Ok(()) => return,
                Err(e) => e.0 .1,
            },
            None => job,
        };
        drop(queue);
        job();
    }

    /// The log of this writer's own writes, for the watcher.
    pub fn own_writes(&self) -> Arc<WriteLog> {
        self.own.clone()
    }

    /// Stop the thread once every job handed to it has run, and wait for it. A job
    /// handed over afterwards runs on the caller's thread.
    pub fn close(&self) {
        // Dropping the sender ends the thread's loop after the queued jobs.
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            if h.join().is_err() {
                tracing::error!("the cassette writer thread panicked");
            }
        }
    }
}
/// The writer's last write to each file (absolute path), by stamp or digest, so the
/// watcher can tell the recorder's writes from the user's (the hot-reload contract of
/// `cassette::watch`). Only the last write per path is remembered: a later user edit
/// differs and loads.
#[derive(Default)]
pub struct WriteLog {
    last: Mutex<HashMap<PathBuf, OwnWrite>>,
}

/// One file's last write: known by its stamp when the writer had one, else by its
/// content's digest.
enum OwnWrite {
    Stamp(FileStamp),
    Digest([u8; 32]),
}

impl WriteLog {
    /// Note a write of `bytes` to `path`, before the file appears under that name (the
    /// rename of an atomic write). With the file's `stamp` (taken from the temporary
    /// file, which the rename keeps) the watcher tells the write by metadata alone and
    /// `bytes` are not hashed: a cassette that grows with every recording would cost a
    /// digest of milliseconds per recording. Should the stamp not match after all, the
    /// file is simply reloaded, and the recorded fixtures it holds are served from it
    /// instead of twice (`FixtureStore::install`).
    pub fn note(&self, path: &Path, bytes: &[u8], stamp: Option<FileStamp>) {
        let write = match stamp {
            Some(stamp) => OwnWrite::Stamp(stamp),
            None => OwnWrite::Digest(Sha256::digest(bytes).into()),
        };
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(absolute(path), write);
    }
}

impl OwnWrites for WriteLog {
    fn is_own_stamp(&self, path: &Path, stamp: &FileStamp) -> bool {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&absolute(path))
            .is_some_and(|w| matches!(w, OwnWrite::Stamp(s) if s == stamp))
    }

    fn is_own_digest(&self, path: &Path, digest: &[u8; 32]) -> bool {
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&absolute(path))
            .is_some_and(|w| matches!(w, OwnWrite::Digest(d) if d == digest))
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// How long a recording waits before it is written (see [`Writer::in_background`]): past the
/// client's next request, well within anything a person or a test would notice.
pub const WRITE_DELAY: Duration = Duration::from_millis(10);

/// The calling thread yields to every other (nice 19). Best effort.
// The crate's one unsafe block: libc has no safe wrapper for setpriority.
#[allow(unsafe_code)]
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority takes plain integers and touches no memory of ours; on Linux,
    // `who` 0 with PRIO_PROCESS names the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

/// What this process last wrote to a cassette holding only a `fixtures` array.
///
/// # Design
/// Appending by parsing the whole cassette and serialising it again costs time in
/// proportion to everything recorded into it so far (tens of milliseconds of CPU per
/// recording once it holds a few hundred, on the core that serves requests). When the
/// file is still the one written last (same inode, length and modification time, so
/// nothing replaced or changed it since), its layout is known, serde_json's pretty form
/// of `{"fixtures": [...]}`, and the new entry's pretty text goes in before the closing
/// bracket: the same bytes, without reading any entry back. Any other file (edited
/// meanwhile, other keys, warnings to add) takes the full path.
struct Written {
    stamp: FileStamp,
    entries: usize,
}

/// The end of serde_json's pretty form of `{"fixtures": [..at least one..]}`, and the
/// newline written after it.
const PLAIN_TAIL: &str = "\n  ]\n}\n";
/// The start of the same form.
const PLAIN_HEAD: &str = "{\n  \"fixtures\": [\n";

/// `entry` as it appears inside a written `fixtures` array (indented, no separator).
fn entry_text(entry: &Value) -> std::io::Result<String> {
    let text = serde_json::to_string_pretty(&serde_json::json!({ "fixtures": [entry] }))
        .map_err(std::io::Error::other)?;
    let inner = text
        .strip_prefix(PLAIN_HEAD)
        .and_then(|t| t.strip_suffix(&PLAIN_TAIL[..PLAIN_TAIL.len() - 1]))
        .ok_or_else(|| std::io::Error::other("unexpected pretty JSON layout"))?;
    Ok(inner.to_string())
}

/// The new text of a file that holds `existing`, the text written last (see
/// [`Written`]), with `entry` appended to its `fixtures` array.
fn spliced(existing: &[u8], entry: &Value) -> Option<String> {
    let body = std::str::from_utf8(existing)
        .ok()?
        .strip_suffix(PLAIN_TAIL)?;
    // The last entry (an object) ends there; anything else is not a list to extend.
    if !body.ends_with('}') {
        return None;
    }
    let item = entry_text(entry).ok()?;
    let mut text = String::with_capacity(body.len() + item.len() + PLAIN_TAIL.len() + 2);
    text.push_str(body);
    text.push_str(",\n");
    text.push_str(&item);
    text.push_str(PLAIN_TAIL);
    Some(text)
}

impl Writer {
    /// Append `entry` to the cassette at `path` (created if missing), atomically.
    /// A corrupt existing file is kept aside as `<name>.corrupt-<n>` rather than lost.
    /// Returns the index the entry got in the file.
    ///
    /// The write is noted in the writer's [`WriteLog`] with the file's stamp just before
    /// the file appears under `path`: the hot-reload contract (see `cassette::watch`), so
    /// the watcher knows this write is ours and does not load the fixture a second time.
    ///
    /// An error names the file (`<path>: <cause>`); the file is then as it was before.
    pub fn append_fixture(
        &self,
        path: &Path,
        entry: Value,
        warnings: &[String],
    ) -> std::io::Result<usize> {
        self.append_locked(path, entry, warnings)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    }

    fn append_locked(
        &self,
        path: &Path,
        entry: Value,
        warnings: &[String],
    ) -> std::io::Result<usize> {
        let fault = *self.fault.lock().unwrap_or_else(|p| p.into_inner());
        let note = |_: &[u8], stamp: &FileStamp| self.own.note(path, &[], Some(stamp.clone()));
        let note: &dyn Fn(&[u8], &FileStamp) = &note;
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let _lock = lock_dir(path)?;
        let existing = match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let unchanged = |k: &Written| {
            k.entries > 0 && std::fs::metadata(path).is_ok_and(|m| FileStamp::of(&m) == k.stamp)
        };
        if let (true, Some(bytes), Some(k)) = (warnings.is_empty(), &existing, written.get(path)) {
            let index = k.entries;
            if let Some(text) = unchanged(k).then(|| spliced(bytes, &entry)).flatten() {
                let stamp = write_atomic(path, text.as_bytes(), note, fault)?;
                written.insert(
                    path.to_path_buf(),
                    Written {
                        stamp,
                        entries: index + 1,
                    },
                );
                return Ok(index);
            }
        }
        let mut doc = match existing {
            Some(bytes) => match serde_json::from_slice::<Value>(&bytes) {
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
            None => Map::new(),
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
        let plain = doc.len() == 1;
        let mut text =
            serde_json::to_string_pretty(&Value::Object(doc)).map_err(std::io::Error::other)?;
        text.push('\n');
        let stamp = write_atomic(path, text.as_bytes(), note, fault)?;
        if plain {
            written.insert(
                path.to_path_buf(),
                Written {
                    stamp,
                    entries: index + 1,
                },
            );
        } else {
            written.remove(path);
        }
        Ok(index)
    }
}

/// Hold the directory lock of `path`'s directory ([`DIR_LOCK`]) until the returned file
/// is dropped, waiting for another process's write if one holds it.
fn lock_dir(path: &Path) -> std::io::Result<std::fs::File> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let lock = dir.join(DIR_LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::info!(
                lock = %lock.display(),
                "another process is writing to this cassette directory; waiting for it"
            );
            file.lock()?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    Ok(file)
}

/// Write `bytes` to `path` through a temporary file in the same directory and a rename.
/// Returns the written file's [`FileStamp`] (taken before the rename, which keeps it).
/// `before_rename` is called with the bytes and that stamp just before the file takes
/// its name.
fn write_atomic(
    path: &Path,
    bytes: &[u8],
    before_rename: &dyn Fn(&[u8], &FileStamp),
    fault: Option<WriteFault>,
) -> std::io::Result<FileStamp> {
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
        if fault == Some(WriteFault::ReadOnly) {
            return Err(std::io::Error::from_raw_os_error(libc::EROFS));
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        if fault == Some(WriteFault::DiskFull) {
            f.write_all(&bytes[..bytes.len() / 2])?;
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        f.write_all(bytes)?;
        let stamp = FileStamp::of(&f.metadata()?);
        before_rename(bytes, &stamp);
        // No fsync: the rename below is atomic, so a reader (or a crash of this
        // process) sees the old cassette or the new one, never a torn one. fsync only
        // adds durability against a power cut or a kernel crash, where losing the last
        // recording is acceptable, and it cost a disk flush per recording on the core
        // that serves requests.
        std::fs::rename(&tmp, path)?;
        Ok(stamp)
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
        let w = Writer::new();
        std::thread::scope(|s| {
            for i in 0..16 {
                let (p, w) = (p.clone(), &w);
                s.spawn(move || w.append_fixture(&p, json!({"match":{"userMessage": format!("m{i}")},"response":{"content":"x"}}), &[]).unwrap());
            }
        });
        let doc: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(doc["fixtures"].as_array().unwrap().len(), 16);
        let leftovers: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name() != "openai.json" && e.file_name() != DIR_LOCK)
            .collect();
        assert!(leftovers.is_empty(), "no temp files left behind");
    }

    /// The whole document as the full path writes it.
    fn full_text(entries: &[Value]) -> String {
        let mut t = serde_json::to_string_pretty(&json!({ "fixtures": entries })).unwrap();
        t.push('\n');
        t
    }

    fn varied(i: usize) -> Value {
        json!({
            "match": {"userMessage": format!("q{i} \"quoted\" é 🙂\n\t"), "turnIndex": i},
            "response": {"content": "", "toolCalls": [{"name": "f", "arguments": "{\"a\":[1,2]}"}],
                         "usage": {"prompt_tokens": i, "nested": {"empty": {}, "list": []}}},
            "recordedTimings": {"ttftMs": 0.1 * i as f64, "interChunkDelaysMs": [1.5, 1e-7, 123456.789], "totalDurationMs": 3}
        })
    }

    #[test]
    fn an_entry_spliced_into_the_text_gives_the_bytes_of_a_full_write() {
        let mut entries = vec![varied(0)];
        for i in 1..6 {
            let text = full_text(&entries);
            let got = spliced(text.as_bytes(), &varied(i)).expect("splices");
            entries.push(varied(i));
            assert_eq!(got, full_text(&entries));
        }
        // Not serde_json's pretty form of a lone array: never spliced.
        let compact = serde_json::to_string(&json!({ "fixtures": entries })).unwrap();
        assert!(spliced(compact.as_bytes(), &varied(9)).is_none());
        let emptied = "{\n  \"fixtures\": [\n  ]\n}\n";
        assert!(spliced(emptied.as_bytes(), &varied(9)).is_none());
    }

    #[test]
    fn appends_write_what_a_full_write_would_whatever_happened_to_the_file_meanwhile() {
        let w = Writer::new();
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("openai.json");
        let read = || std::fs::read_to_string(&p).unwrap();
        let mut entries = Vec::new();
        for i in 0..4 {
            assert_eq!(w.append_fixture(&p, varied(i), &[]).unwrap(), i);
            entries.push(varied(i));
            assert_eq!(read(), full_text(&entries));
        }
        let known = |p: &Path| w.written.lock().unwrap().get(p).map(|k| k.entries);
        assert_eq!(known(&p), Some(4), "appends keep the file's state");

        // Edited by hand between recordings (compact, one entry dropped): read again.
        entries.remove(0);
        std::fs::write(
            &p,
            serde_json::to_string(&json!({ "fixtures": entries })).unwrap(),
        )
        .unwrap();
        assert_eq!(w.append_fixture(&p, varied(7), &[]).unwrap(), 3);
        entries.push(varied(7));
        assert_eq!(read(), full_text(&entries));

        // Warnings add a key: the document is no longer the plain form.
        w.append_fixture(&p, varied(8), &["odd reply".to_string()])
            .unwrap();
        assert_eq!(known(&p), None);
        w.append_fixture(&p, varied(9), &[]).unwrap();
        entries.extend([varied(8), varied(9)]);
        let doc = json!({ "fixtures": entries, "_warnings": ["odd reply"] });
        let mut want = serde_json::to_string_pretty(&doc).unwrap();
        want.push('\n');
        assert_eq!(read(), want);
    }
}

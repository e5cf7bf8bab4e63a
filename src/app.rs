//! Assembling the program: configuration to fixture store to a listening server, with
//! the cassette watcher beside it; and, at shutdown, the unused-fixture report.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{bail, Context};
use tokio::net::TcpListener;

use crate::cassette::load::{load_sources, log_findings};
use crate::cassette::watch::Watcher;
use crate::cassette::{FixtureStore, UsageReport};
use crate::config::Config;
use crate::server::{serve, AppState, Mounts};

/// Load the cassettes named by `config`, logging every finding.
pub fn load_store(config: &Config) -> anyhow::Result<FixtureStore> {
    load_store_seeded(config, Vec::new())
}

/// [`load_store`], with fixtures already parsed (the Rust test API's, built in code)
/// added after every cassette as run-time fixtures; they count towards what a strict
/// server needs to start.
pub fn load_store_seeded(
    config: &Config,
    seed: Vec<Arc<crate::cassette::Fixture>>,
) -> anyhow::Result<FixtureStore> {
    for src in &config.cassettes {
        if !src.exists() {
            if config.strict {
                bail!(
                    "cassette source {} does not exist (strict mode needs cassettes to serve)",
                    src.display()
                );
            }
            tracing::warn!(
                "cassette source {} does not exist; serving nothing from it",
                src.display()
            );
        }
    }
    // Only a watcher compares file digests.
    let mut files = load_sources(&config.cassettes, config.watch);
    // The config's `services` fixtures, after every cassette.
    files.extend(crate::services::web::config_fixtures(config));
    for f in &files {
        log_findings(f);
    }
    let count: usize = files.iter().map(|f| f.fixtures.len()).sum::<usize>() + seed.len();
    // A mounted service (vector, MCP, ...) answers from its own section, so a strict
    // server with no fixtures still serves something.
    let mounted = config
        .sections
        .keys()
        .any(|k| k != "services" && crate::services::serves_section(k));
    if count == 0 && config.strict && !mounted {
        bail!(
            "no fixtures loaded from {} and --strict is set: every request would fail. \
             Point --cassettes at a directory or file holding {{\"fixtures\": [...]}}",
            config
                .cassettes
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if count == 0 {
        // The reference warns too: a typo in --cassettes otherwise shows only as misses.
        tracing::warn!(
            sources = %config
                .cassettes
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            "no fixtures loaded: every request will miss (404{}) until a cassette is added",
            if config.record.is_some() { ", or recorded" } else { "" }
        );
    }
    tracing::info!(fixtures = count, files = files.len(), "cassettes loaded");
    if !config.normalize.is_empty() {
        tracing::info!(rules = ?config.normalize.names(), "normalising request text before matching and recording");
    }
    let store = FixtureStore::with_normalizer(files, config.normalize.clone());
    if !seed.is_empty() {
        store.add_runtime(seed);
    }
    Ok(store)
}

/// A running server: its address and the state it serves.
pub struct Running {
    /// The bound address (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Shared state (for tests that inspect or mutate fixtures).
    pub state: Arc<AppState>,
}

/// Bind, then serve until `shutdown` resolves. `on_ready` is called once the socket is
/// bound and the cassettes are watched, before the first request is accepted.
///
/// After the server stops, the unused-fixture report is logged; with
/// `config.fail_on_unused` an unused fixture makes this return an error.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(&Running),
) -> anyhow::Result<()> {
    run_with(config, Mounts::default(), shutdown, on_ready).await
}

/// [`run`], with WebSocket handlers and services mounted beside the provider routes
/// (the realtime WebSocket surfaces are mounted either way).
pub async fn run_with(
    config: Config,
    mounts: Mounts,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(&Running),
) -> anyhow::Result<()> {
    run_seeded(config, mounts, Vec::new(), shutdown, on_ready).await
}

/// [`run_with`], serving `seed` (fixtures built in code, see [`load_store_seeded`])
/// beside the cassettes: how [`crate::MockServer`] starts.
pub async fn run_seeded(
    config: Config,
    mut mounts: Mounts,
    seed: Vec<Arc<crate::cassette::Fixture>>,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(&Running),
) -> anyhow::Result<()> {
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    // What the config file's sections ask for, beside what the caller mounted.
    crate::services::mount_configured(&config, &mut mounts.services)?;
    // The realtime WebSocket surfaces, on their paths (a caller's own handler wins).
    crate::server::realtime::mount_realtime(&mut mounts.sockets);
    let tls = match &config.tls {
        Some(files) => Some(crate::server::tls::acceptor(files)?),
        None => None,
    };
    let store = load_store_seeded(&config, seed)?;
    let addr = SocketAddr::new(config.host, config.port);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let metrics = config
        .metrics
        .then(|| Arc::new(crate::metrics::Metrics::new()));
    let recorder = match &config.record {
        Some(rc) => {
            std::fs::create_dir_all(&rc.record_dir).with_context(|| {
                format!(
                    "cannot create the recording directory {}",
                    rc.record_dir.display()
                )
            })?;
            for (p, u) in &rc.upstreams {
                tracing::info!(provider = %p, upstream = %u, "recording misses");
            }
            Some(
                crate::record::Recorder::new(rc.clone(), store.clone())?
                    .with_metrics(metrics.clone())
                    .with_secrets(config.secrets.clone()),
            )
        }
        None => None,
    };
    let watcher = if config.watch {
        // The recorder's write log: its own appends to watched cassettes are not
        // loaded a second time.
        let own = recorder.as_ref().map(|r| {
            let log: Arc<dyn crate::cassette::watch::OwnWrites> = r.own_writes();
            log
        });
        match Watcher::start(store.clone(), &config.cassettes, own) {
            Ok(w) => Some(w),
            Err(e) => {
                // Serving without reload beats not serving: say so and go on.
                tracing::warn!(error = %e, "cannot watch cassettes; hot reload is off");
                None
            }
        }
    } else {
        None
    };
    let fail_on_unused = config.fail_on_unused;
    let mut state = AppState::new(config, store, recorder, metrics);
    state.mounts = mounts;
    state.tls = tls;
    let state = Arc::new(state);
    for line in state.access.describe() {
        tracing::info!("{line}");
    }
    // Always logged: fixture or header chaos needs the seed to be repeatable too.
    let c = &state.config.chaos;
    tracing::info!(
        seed = state.chaos.seed(),
        drop = c.drop.unwrap_or(0.0),
        malformed = c.malformed.unwrap_or(0.0),
        disconnect = c.disconnect.unwrap_or(0.0),
        "chaos: pass --chaos-seed {} to repeat this run's faults",
        state.chaos.seed()
    );
    // Poll the shutdown future once before announcing readiness: signal handlers are
    // installed on first poll, and a harness that reads the ready line and then sends
    // SIGTERM must get a graceful shutdown (with the unused report), not a killed process.
    let mut shutdown = std::pin::pin!(shutdown);
    let stop_at_once = tokio::select! {
        biased;
        () = &mut shutdown => true,
        () = std::future::ready(()) => false,
    };
    on_ready(&Running {
        addr,
        state: state.clone(),
    });
    let served = if stop_at_once {
        serve(listener, state.clone(), std::future::ready(())).await
    } else {
        serve(listener, state.clone(), shutdown).await
    };
    if let Some(rec) = state.recorder.for_shutdown() {
        let pending = rec.pending_writes();
        if pending > 0 {
            tracing::info!(pending, "waiting for recordings to reach the disk");
        }
        if tokio::time::timeout(state.config.shutdown_timeout, rec.flush())
            .await
            .is_err()
        {
            tracing::warn!(
                pending = rec.pending_writes(),
                "recordings still being written at the shutdown deadline"
            );
        } else {
            // Every recording is on disk: the writer's thread ends at once.
            let _ = tokio::task::spawn_blocking(move || rec.close()).await;
        }
    }
    if let Some(w) = watcher {
        // Joining waits at most for one file's reload; keep it off the async workers.
        let _ = tokio::task::spawn_blocking(move || w.stop()).await;
    }
    served?;
    let report = state.store.usage_report();
    log_usage(&report);
    if fail_on_unused && !report.unused.is_empty() {
        bail!(
            "{} of {} cassette fixture(s) never matched a request (--fail-on-unused)",
            report.unused.len(),
            report.total
        );
    }
    Ok(())
}

/// Log the unused-fixture report: one line per file, naming each unused fixture's
/// index and, when known, its line.
pub fn log_usage(report: &UsageReport) {
    if report.unused.is_empty() {
        if report.total > 0 {
            tracing::info!(
                "all {} cassette fixtures matched at least once",
                report.total
            );
        }
        return;
    }
    tracing::warn!(
        "{} of {} cassette fixture(s) never matched a request:",
        report.unused.len(),
        report.total
    );
    for line in unused_lines(report) {
        tracing::warn!("  {line}");
    }
}

/// The report's per-file lines: `unused in PATH: #i (line L), ...`.
fn unused_lines(report: &UsageReport) -> Vec<String> {
    let mut by_file: Vec<(&std::path::Path, Vec<String>)> = Vec::new();
    for u in &report.unused {
        let item = match u.pos {
            Some(p) => format!("#{} (line {})", u.index, p.line),
            None => format!("#{}", u.index),
        };
        match by_file.last_mut() {
            Some((f, items)) if *f == u.file.as_path() => items.push(item),
            _ => by_file.push((u.file.as_path(), vec![item])),
        }
    }
    by_file
        .into_iter()
        .map(|(file, mut items)| {
            // A whole suite's cassettes can be unused (a filtered test run): a line
            // naming ten thousand fixtures helps nobody; the first few say where to look.
            if items.len() > UNUSED_LISTED_PER_FILE {
                let more = items.len() - UNUSED_LISTED_PER_FILE;
                items.truncate(UNUSED_LISTED_PER_FILE);
                items.push(format!("and {more} more"));
            }
            format!("unused in {}: {}", file.display(), items.join(", "))
        })
        .collect()
}

/// How many unused fixtures of one file the shutdown report names.
const UNUSED_LISTED_PER_FILE: usize = 50;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cassette::Unused;

    #[test]
    fn the_unused_report_names_at_most_fifty_fixtures_per_file() {
        fn unused(file: &'static str, n: usize) -> impl Iterator<Item = Unused> {
            (0..n).map(move |index| Unused {
                file: file.into(),
                index,
                pos: None,
            })
        }
        let report = UsageReport {
            total: 10_003,
            unused: unused("big.json", 10_000)
                .chain(unused("small.json", 3))
                .collect(),
        };
        let lines = unused_lines(&report);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("unused in big.json: #0, #1, "),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with(", #49, and 9950 more"), "{}", lines[0]);
        assert_eq!(lines[1], "unused in small.json: #0, #1, #2");
    }
}
